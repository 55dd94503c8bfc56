"""Argument checks shared by the public functions: each names the argument, its value and
what is allowed, and runs on static Python values before anything is traced or compiled."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def int_at_least(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int, if it is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r}; {name} must be an integer >= {minimum}")
    return int(value)


def prng_key(name: str, key: Any) -> Any:
    """``key`` if it is a PRNG key: a typed key (``jax.random.key``) or a raw uint32 vector
    (``jax.random.PRNGKey``: 2 words for threefry, 4 for rbg)."""
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is not None and (jnp.issubdtype(dtype, jax.dtypes.prng_key) or (dtype == np.uint32 and len(shape) == 1)):
        return key
    raise TypeError(f"{name}={key!r}; {name} must be a PRNG key, e.g. jax.random.PRNGKey(0) or jax.random.key(0)")


def concrete_real(name: str, value: Any, *, low: float | None = None, strict: bool = False,
                  allow_inf: bool = False) -> None:
    """Checks ``value`` now if it is a Python or numpy number (finite, or +inf where
    ``allow_inf``; above ``low``, strictly where ``strict``). An array or traced value (one
    per model in a sweep, say) is left to the caller."""
    if isinstance(value, bool):
        raise TypeError(f"{name}={value!r}; {name} must be a number")
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return
    ok = np.isfinite(value) or (allow_inf and value == np.inf)
    if ok and low is not None:
        ok = value > low if strict else value >= low
    if not ok:
        bound = "" if low is None else f" {'>' if strict else '>='} {low:g}"
        raise ValueError(f"{name}={value!r}; {name} must be {'finite or inf' if allow_inf else 'finite'}{bound}")
