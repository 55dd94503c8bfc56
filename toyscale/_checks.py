"""Argument checks shared by the public functions: each names the argument, its value and
what is allowed, and runs on static Python values before anything is traced or compiled."""

from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _scalar_of(value: Any, kinds: str) -> Any:
    """A concrete 0-d numpy or JAX array of a dtype of ``kinds`` (numpy kind letters, "f" taking
    bfloat16 too) as a Python number; anything else as it is. For values that are stored, such as
    a grid's axes (``jnp.linspace(-1, 1, 10)``'s entries had been refused as "not a real number",
    while numpy's were taken), not in the checks themselves: a caller that checks a value and
    keeps the original would keep the array."""
    if isinstance(value, np.generic) and "f" in kinds and jnp.issubdtype(value.dtype, jnp.floating):
        return float(value)  # (a numpy bfloat16 scalar is not an np.floating)
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0:
        try:
            array = np.asarray(value)
        except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
            return value  # traced: not a concrete number
        if array.dtype.kind in kinds or ("f" in kinds and jnp.issubdtype(array.dtype, jnp.floating)):
            return array.item() if array.dtype.kind in "biuf" else float(array)
    return value


def check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int: a TypeError if it is not an integer (a bool is not; a concrete 0-d
    integer array is not: callers use the value as given), a ValueError if it lies outside [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r}; {name} must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name}={value!r}; must be an integer {allowed}")
    return int(value)


FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # 2**-126 ~ 1.175e-38, float32's smallest normal number
FLOAT32_MAX = float(np.finfo(np.float32).max)  # ~3.403e38


def check_float32(name: str, value: float) -> float:
    """``value`` (a real number) as a float, unless float32, in which a model receives it, would
    not hold it: nonzero with |value| below the smallest normal number (0 or a subnormal, which
    XLA on a CPU flushes to 0: a jitted 2**-149 > 0 is False) or above the largest (inf). A
    ValueError naming the range then."""
    value = float(value)
    if 0.0 < abs(value) < FLOAT32_TINY or abs(value) > FLOAT32_MAX:
        what = f"a positive {name}" if value > 0 else f"a negative {name}'s magnitude"
        raise ValueError(f"{name}={value!r}; {what} must lie in [{FLOAT32_TINY:.4g}, {FLOAT32_MAX:.4g}] "
                         f"(float32's normal numbers, from the smallest normal float32 up: the model receives it in "
                         f"float32, where a smaller one is 0 or a subnormal that XLA flushes to 0, and a larger one "
                         f"is inf)")
    return value


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """``value`` if it is one of the strings ``allowed``: a TypeError for anything but a string (an
    array's ``in`` had raised numpy's "truth value ... is ambiguous", a list read as a bad name),
    else a ValueError naming the argument, the value and what is allowed."""
    if not isinstance(value, str):
        listed = isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) > 0
        raise TypeError(f"{name}={short_repr(value)}; {name} must be a single string, one of "
                        f"{', '.join(map(repr, allowed))}" + (" (not a list)" if listed else ""))
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; allowed: {', '.join(map(repr, allowed))}")
    return value


def value_order(v: Any) -> tuple:
    """Sort key for values of mixed kinds, equal for equal values: numbers by value (a Python or
    numpy int or float, not a bool), then NaN (which compares with nothing), then the rest as
    text, None last. The command line orders a column's cells by it, and
    :func:`toyscale.scaling.width_curve` its seed labels."""
    if v is None:
        return (3, 0.0, "")
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
        return (1, 0.0, "") if math.isnan(v) else (0, float(v), "")
    return (2, 0.0, str(v))


def check_seed(seed: Any) -> int:
    """A seed in [0, 2**32 - 1]: outside 64-bit mode ``PRNGKey`` keeps 32 bits, so 2**32 would
    silently be seed 0."""
    return check_int("seed", seed, 0, 2**32 - 1)


def check_axis(name: str, values: Any) -> list:
    """A swept axis as a non-empty list of distinct values; a lone value (a number, a string, a
    spec) is refused."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise TypeError(f"{name}={values!r}; {name} must be a list of values, e.g. {_listed(values)}")
    values = list(values)
    if not values:
        raise ValueError(f"{name}=[] is empty; every axis of the grid needs at least one value")
    for i, v in enumerate(values):
        # a value given twice is the same models trained twice, and averaged as if they were
        # seeds (phase_diagram's widths=[3,3,4,6] had been)
        if any(_same(u, v) for u in values[:i]):
            raise ValueError(f"{name}={values!r} holds {v!r} twice; each value of an axis must be distinct "
                             f"(repeats of one configuration are its seeds)")
    return values


def shorten(text: str, limit: int = 160) -> str:
    """``text`` for a message, cut to about ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit - 20]} ... ({len(text)} characters)"


def short_repr(value: Any, limit: int = 160) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters (a grid of points passed
    where a config goes would otherwise fill the screen)."""
    return shorten(repr(value), limit)


def _listed(value: Any) -> str:
    """How ``value``, refused as an axis, reads as a list: text that is a list (JSON or a
    Python literal, "[8, 16]" or "('a', 'b')") is that list, a finite number that number in
    brackets ("2" -> [2]), and "16,32" is a list typed without its brackets (--set widths=16,32)."""
    if isinstance(value, str):
        if "," in value and not value.strip().startswith(("[", "(")):
            return f"[{value}]"
        try:
            parsed = json.loads(value)
        except ValueError:
            try:
                parsed = ast.literal_eval(value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                parsed = None
        if isinstance(parsed, (list, tuple)):
            return f"{list(parsed)!r} (the list itself, not its text)"
        if isinstance(parsed, (int, float)) and not isinstance(parsed, bool) and math.isfinite(parsed):
            return f"[{parsed!r}]"
    return f"[{value!r}]"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # (arrays, say: not comparable as one truth value)
        return False


def prng_key(name: str, key: Any) -> Any:
    """``key`` if it is one PRNG key: a typed key (``jax.random.key``, shape ()) or a raw uint32
    vector of the default implementation's length (``jax.random.PRNGKey``: 2 words for threefry,
    4 for rbg); a TypeError otherwise (a batch of keys, a raw key of another length)."""
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if shape != ():
            raise TypeError(f"{name} is a typed key array of shape {shape}; {name} must be a PRNG key: one key "
                            f"(shape ()), not a batch of keys")
        return key
    if dtype is not None and dtype == np.uint32 and len(shape) >= 1:
        words = jax.eval_shape(jax.random.PRNGKey, 0).shape  # (2,) for threefry, (4,) for rbg
        if shape != words:  # (a batch of raw keys had been shown as its whole array, its shape unnamed)
            raise TypeError(f"{name} is a uint32 array of shape {shape}; {name} must be a PRNG key: a raw key "
                            f"(jax.random.PRNGKey) of the default implementation has shape {words}"
                            + (", and one key is wanted, not a batch of keys" if len(shape) > 1 else ""))
        return key
    raise TypeError(f"{name}={key!r}; {name} must be a PRNG key, e.g. jax.random.PRNGKey(0) or jax.random.key(0)")


def check_real(name: str, value: Any, *, low: float | None = None, strict: bool = False,
               allow_inf: bool = False) -> float:
    """``value`` as a float: a TypeError if it is not a real number (a bool is not; a concrete
    0-d array is not: callers use the value as given), a ValueError unless it is finite (or
    +inf where ``allow_inf``) and above ``low`` (strictly where ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}={value!r}; {name} must be a real number")
    # (an int is finite: np.isfinite had raised a bare TypeError on one beyond int64, 10**40)
    ok = isinstance(value, (int, np.integer)) or np.isfinite(value) or (allow_inf and value == np.inf)
    if ok and low is not None:
        ok = value > low if strict else value >= low
    if not ok:
        bound = "" if low is None else f" {'>' if strict else '>='} {low:g}"
        raise ValueError(f"{name}={value!r}; {name} must be {'finite or inf' if allow_inf else 'finite'}{bound}")
    return float(value)


def concrete_real(name: str, value: Any, *, low: float | None = None, strict: bool = False,
                  allow_inf: bool = False, scalar: bool = False) -> None:
    """:func:`check_real` on ``value`` now if it is a Python or numpy number, or a concrete
    0-d array of one (``np.array(-0.5)``, ``jnp.asarray(-0.5)``: these had slipped past); a
    larger array or a traced value (one per model in a sweep, say) is left to the caller.
    Anything that is neither a number nor an array (a string, None) is a TypeError, and with
    ``scalar`` so is an array or list of more than 0 dimensions (one value is wanted)."""
    value = _scalar_of(value, "biuf")  # (a concrete 0-d array or a numpy bfloat16 scalar as a number)
    if isinstance(value, (str, bytes)) or not (isinstance(value, (int, float, np.integer, np.floating, np.ndarray,
                                                                  jax.Array, list, tuple))):
        raise TypeError(f"{name}={short_repr(value)}; {name} must be a real number")
    if scalar and np.ndim(value) != 0:
        raise TypeError(f"{name} has shape {np.shape(value)}; {name} must be one real number (a scalar)")
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0:  # (left so: traced, or not a real dtype)
        try:
            np.asarray(value)
        except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
            return  # traced
        raise TypeError(f"{name}={value!r}; {name} must be a real number")
    if isinstance(value, bool) or isinstance(value, (int, float, np.integer, np.floating)):
        check_real(name, value, low=low, strict=strict, allow_inf=allow_inf)


def config_from_dict(cls: type, settings: Any) -> Any:
    """``cls(**settings)`` for a config dataclass, a key that is not one of its fields refused
    by name, with the closest field and the list of them (Python's own error names neither)."""
    name = cls.__name__
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings={settings!r}; a {name} is made from a dict of its fields")
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in settings if k not in fields]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(f"{unknown[0]!r} is not a setting of {name}{hint}; its settings are {fields}")
    return cls(**settings)


_NEVER_COMMON = {"seed": " (seed sets the replicate: models of two seeds never share draws)",
                 "label": " (a label never keys a model)"}


def check_common_fields(fields: Any, allowed: tuple[str, ...], reasons: Mapping[str, str] | None = None
                        ) -> tuple[str, ...]:
    """A config's ``common_across`` (the point fields across which models share their draws) as
    a tuple of distinct names from ``allowed``, in that order (``('T', 'N')`` is ``('N', 'T')``: one
    sweep fingerprint); a lone name is a tuple of it. ``reasons`` says why a name is not one."""
    if isinstance(fields, str):
        fields = (fields,)
    if not isinstance(fields, (tuple, list)) or not all(isinstance(f, str) for f in fields):
        raise TypeError(f"common_across={fields!r}; common_across must be a tuple of point field names "
                        f"(from {', '.join(allowed)}), e.g. ({allowed[0]!r},)")
    bad = [f for f in fields if f not in allowed]
    if bad or len(set(fields)) != len(fields):
        why = f"{bad[0]!r} is not one" + {**_NEVER_COMMON, **(reasons or {})}.get(bad[0], "") if bad \
            else "a name is repeated"
        raise ValueError(f"common_across={fields!r}; its names must be distinct point fields from "
                         f"{', '.join(allowed)}: {why}")
    return tuple(f for f in allowed if f in fields)


def common_of_pair(key: Any, config: Any) -> Any:
    """The common key of the pair (own key, common key) a sweep gives a model of a config with
    ``common_across`` (every draw comes from it); a TypeError for anything else."""
    if not isinstance(key, tuple) or len(key) != 2:
        raise TypeError(f"key={short_repr(key)}; with {type(config).__name__}.common_across="
                        f"{config.common_across!r} a model takes the pair (own key, common key), as a sweep "
                        f"gives it (sweep.common_key)")
    return key[1]


def model_keys(key: Any, common_key: Any, config: Any, task: str) -> Any:
    """The key a one-model trainer passes on: ``key`` checked, paired with ``common_key`` where
    ``config.common_across`` asks for one (required there, refused elsewhere); ``task`` spells the
    sweep's task for the message, e.g. ``"RandomFeatureTask(config)"``."""
    key = prng_key("key", key)
    if config.common_across and common_key is None:
        raise ValueError(f"common_key=None; config.common_across={config.common_across!r} draws the model from a "
                         f"common key: pass common_key=toyscale.sweep.common_key(seed, point, {task})")
    if common_key is None:
        return key
    if not config.common_across:
        raise ValueError("common_key is given but config.common_across is empty, so no draw would use it: "
                         "leave it out, or set common_across")
    return key, prng_key("common_key", common_key)
