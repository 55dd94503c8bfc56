"""The sweep engine: a grid of models becomes one compiled, vmapped program per static shape.

A *task* describes one family of models (the superposition toy model, random-feature
regression, ...). It splits each grid point into

* a **static** part (shapes: width, number of features, batch, steps) -- one compilation
  per distinct static value;
* **inputs**: per-model arrays (learning rates, weight decay, a frequency vector, ...)
  stacked along a leading model axis and ``vmap``-ed over;
* a per-model PRNG key, :func:`model_key`: ``PRNGKey(seed)`` folded with a 64-bit digest
  of the model's identity -- its point (the task may spell it one way and leave out flags
  that only add measurements, ``Task.identity_of``), without ``label``, a tag of the
  caller's own (a task with common random numbers, ``Task.common_of``, gives each model a
  second key, :func:`common_key`, shared by the points its ``common_of`` does not tell
  apart). A model's numbers
  therefore depend only on its point and the sweep seed -- not on its position in the grid,
  on chunk size, on which chunk or device ran it, or on how many devices there were. So a
  grid extended by more widths or seeds reproduces the models it already had, and repeats
  of one configuration differ only through a field such as ``seed``.

The engine groups points by static value, cuts each group into equal chunks sized to a
memory budget (the last chunk is padded by repeating a model, so every chunk of a group
has the same shape and the group compiles once), shards the model axis of each chunk
over all local devices, and writes each finished chunk to disk atomically. Rerunning the
same sweep into the same folder skips every model already on disk.

On-disk format (``out/``), version ``toyscale-sweep/2`` (``/1`` keyed models by their
position in the grid; such folders still load but do not resume):

* ``manifest.json``: ``{"format", "task", "task_config", "seed", "points", "versions",
  "created"}`` -- the full config of every model, so a folder is self-describing;
* ``chunks/chunk_<first model id>_<count>_<tag>.npz``: one file per finished chunk, holding
  ``model_id`` (int64, [k]), ``diverged`` (bool, [k]), ``point_digest`` (uint32, [k, 2]: two
  words of the SHA-256 of each model's point, ``label`` left out) and every output of the
  task with a leading axis of length k. Chunks written by different processes (multi-host)
  or with different chunk sizes merge: results are keyed by their point, so a grid extended
  by more points (more widths, seeds, ...) finds its finished models wherever they now sit
  (files written before the digests were recorded are read by model id, and get their
  digests when the grid is first extended). ``manifest.json`` then lists the grid's earlier
  fingerprints as ``extends``;
* ``.manifest.lock``: an empty file a run holds ``flock``-ed while it reads and perhaps
  rewrites the manifest (:func:`_manifest_lock`).
"""

from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import datetime
import functools
import hashlib
import io
import json
import math
import os
import platform
import shlex
import sys
import time
import warnings
import zipfile
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from toyscale._checks import check_int, check_seed, short_repr
from toyscale.frequencies import KINDS, as_frequencies
from toyscale.io import (atomic_create_json, atomic_write, atomic_write_json, probe_writable, remove_stale_temp_files,
                         to_plain)

FORMAT = "toyscale-sweep/2"
_READABLE_FORMATS = ("toyscale-sweep/1", FORMAT)  # /1: same files, models keyed by grid position

__all__ = [
    "Task",
    "Record",
    "SweepResult",
    "run_sweep",
    "load_sweep",
    "model_key",
    "common_key",
    "stored_condition",
    "matching",
    "FolderInUseError",
    "chunk_layout",
    "plan_chunks",
    "default_memory_budget",
    "float32_products",
]


def float32_products(fn: Callable) -> Callable:
    """``fn`` with every float32 matrix product computed in float32, on every backend.

    JAX's default lets a GPU round float32 operands to TensorFloat32 (10 mantissa bits) and
    a TPU to bfloat16 (docs.jax.dev, "Matmul precision"), so the same program would give
    different numbers on a CPU and a GPU. The tasks' model functions are wrapped in this
    (``jax.default_matmul_precision("float32")`` while they are traced); a product that
    rounds its operands on purpose (``TrainConfig(matmul_precision="bfloat16")`` or
    ``"tensorfloat32"``) rounds them itself and names its own precision. Costs nothing on a
    CPU, which has no faster float32 mode.
    """

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with jax.default_matmul_precision("float32"):
            return fn(*args, **kwargs)

    return wrapped


class Task(Protocol):
    """What the engine needs to know about a family of models.

    Attributes:
      name: a short identifier written into the manifest.
    """

    name: str

    def config(self) -> dict:
        """JSON-serialisable settings shared by every model of the sweep."""

    def static_of(self, point: Mapping[str, Any]) -> Hashable:
        """The part of a grid point that fixes array shapes (one compile per value)."""

    def inputs_of(self, point: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Per-model input arrays for a grid point (host numpy, fixed shapes per static).

        Form here, not in ``model_fn``, anything a model computes from its point with powers,
        logarithms or exponentials (a spectrum ``I^-(1+alpha)``, say): XLA:CPU fuses such an op
        with different neighbours in a device's share of one model than in a share of two, and
        may round it differently by a unit in the last place, so the same model would differ
        with the chunk size or device count (it did for the random-feature and PLRF spectra).
        """

    def model_fn(self, static: Hashable, inputs: dict[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
        """Trains/evaluates one model. Pure and vmappable; returns a dict of arrays.

        An output named ``"diverged"`` (a bool scalar), if present, is the task's own
        verdict; otherwise a model is diverged when any floating output is non-finite.
        ``model_id``, ``point_digest``, ``file`` and ``allow_pickle`` are taken (the chunk
        files' own columns, np.savez's arguments). An output in bfloat16, float8 or int4 is
        kept as float32 / int32, which a chunk file can store and read back. Wrap it in
        :func:`float32_products` (the built-in tasks do) so that its products' precision does
        not follow the global ``jax_default_matmul_precision``, which a sweep's manifest does
        not record: a folder resumed under another setting would mix precisions unwarned.
        """

    def bytes_per_model(self, static: Hashable) -> int:
        """Estimate of peak device memory one model of this static shape needs."""

    def steps(self, static: Hashable) -> int:
        """Training steps per model (for the model-steps/second rate; 1 if not iterative)."""

    # Optional: ``identity_of(point) -> Mapping``, the fields that decide a model's random
    # draws (see :func:`model_key`). Without it, the point itself; ``label`` never counts.
    # A task uses it to spell a point one way (defaults filled in) and to leave out fields
    # that only ask for extra measurements, so that such a flag does not redraw the model.
    #
    # Optional: ``common_of(point) -> Mapping | None``, for common random numbers: the fields
    # that decide the draws a model shares with other points (its identity without a width,
    # say). Where it gives a mapping for every point, ``model_fn``'s ``key`` is the pair
    # ``(own key, common key)``, the common key being :func:`common_key` (the same for points
    # whose ``common_of`` agree, ``label`` left out); where it gives None for every point, one
    # key as usual. A task whose models draw from a common key must say so in its ``config()``,
    # which the sweep's fingerprint holds, so that a folder of one-key models is not resumed.


@dataclasses.dataclass(frozen=True)
class Record:
    """One model of a sweep: its grid point, its id and its measurements."""

    model_id: int
    point: dict
    diverged: bool
    outputs: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> Any:
        """An output (``r["test_loss"]``), else a point field (``r["m"]``, ``r["seed"]``)."""
        if name in self.outputs:
            return self.outputs[name]
        if name in self.point:
            return self.point[name]
        raise KeyError(f"{name!r} is neither an output nor a point field of model {self.model_id}; outputs: "
                       f"{sorted(self.outputs)}, point fields: {sorted(self.point)}")


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """All records of a sweep, in model-id order, plus where they came from."""

    records: list[Record]
    manifest: dict
    stats: dict

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, i: int) -> Record:
        return self.records[i]

    def select(self, **conditions: Any) -> list[Record]:
        """Records whose grid point matches every ``name=value`` given.

        A value is compared as points are stored (:func:`stored_condition`): a spec object as
        its description, a frequency spec by kind name or partial dict as the sweep spelled
        it, a tuple as a list.

        Raises:
          ValueError: on a field no point of the sweep has (a typo would match nothing).
        """
        points = [r.point for r in self.records]
        if isinstance(self.manifest, Mapping) and isinstance(self.manifest.get("points"), list):
            points += [p for p in self.manifest["points"] if isinstance(p, Mapping)]
        return matching(self.records, conditions, fields=set().union(*points) if points else None)[0]

    def column(self, name: str, records: Sequence[Record] | None = None) -> np.ndarray:
        """One scalar output or point field across records, as a numpy array."""
        rs = self.records if records is None else records
        missing = next((r for r in rs if name not in r.outputs and name not in r.point), None)
        if missing is not None:
            raise ValueError(f"name={name!r} is neither an output nor a point field of model {missing.model_id}; its "
                             f"outputs are {sorted(missing.outputs)}, its fields {sorted(missing.point)}")
        return np.asarray([r[name] for r in rs])

    def table(self, records: Sequence[Record] | None = None) -> tuple[list[str], list[list[Any]]]:
        """The records as one flat table: ``(columns, rows)``, a row per model, in order.

        Columns: ``model_id``, ``diverged`` (0 or 1), every point field (a mapping, such as a
        frequency spec, one column per key: ``frequencies.kind``, then its other keys sorted;
        a list as its JSON text), then every scalar output, sorted (one named like a point
        field as ``output.NAME``; a point field named ``model_id`` or ``diverged`` as
        ``point.NAME``). Array outputs (``loss_curve``, ``row_norms``, ...) are left
        out; a bool is 0 or 1; a cell a record lacks is ``None``. No records, no columns.
        """
        rs = self.records if records is None else list(records)
        # (a point field named like the engine's columns had overwritten them: a diverged model read as finished)
        flat = [{"model_id": r.model_id, "diverged": int(bool(r.diverged)),
                 **{(f"point.{k}" if k in ("model_id", "diverged") else k): v
                    for k, v in _flat_fields(r.point).items()}}
                for r in rs]
        fields = _field_columns(flat)
        outs = [{(f"output.{k}" if k in fields else k): _cell(np.asarray(v).item())
                 for k, v in r.outputs.items() if np.ndim(v) == 0} for r in rs]
        columns = fields + sorted(set().union(*outs) if outs else ())
        return columns, [[{**f, **o}.get(c) for c in columns] for f, o in zip(flat, outs)]

    def to_csv(self, path: str | os.PathLike, records: Sequence[Record] | None = None) -> int:
        """Writes :meth:`table` to a CSV file (atomically; floats to full precision, a missing
        cell empty) for pandas, a spreadsheet or ``python -m toyscale fit``. Returns the rows
        written."""
        columns, rows = self.table(records)
        write_csv(path, columns, rows)
        return len(rows)


def _flat_fields(point: Mapping[str, Any], prefix: str = "", strict: bool = False) -> dict[str, Any]:
    """A point's fields as table columns, a mapping's as ``field.key``. Where two fields would
    share a column (a key "a.b" beside a mapping "a" holding "b": one had overwritten the other,
    silently), a ValueError with ``strict`` (a sweep refuses such points before it runs);
    otherwise (a folder saved before that) the later one's column is ``NAME (2)``."""
    out: dict[str, Any] = {}
    for k, v in point.items():
        part = (_flat_fields(v, f"{prefix}{k}.", strict) if isinstance(v, Mapping)
                else {f"{prefix}{k}": json.dumps(to_plain(v)) if isinstance(v, (list, tuple)) else _cell(v)})
        clash = sorted(out.keys() & part.keys())
        if clash and strict:
            raise ValueError(f"two of the point's fields give the column {clash[0]!r} (a key with a '.' beside a "
                             f"mapping of that name); rename one, so that a table or CSV keeps both")
        out.update({(f"{name} (2)" if name in out else name): value for name, value in part.items()})
    return out


def _field_columns(flat: Sequence[Mapping[str, Any]]) -> list[str]:
    """The columns of flattened points (:func:`_flat_fields`): the fields in their first-seen
    order, a mapping's keys in its place (its ``kind`` first, then the rest sorted)."""
    top = list(dict.fromkeys(k.split(".")[0] for row in flat for k in row))
    return [k for t in top for k in sorted({k for row in flat for k in row if k.split(".")[0] == t},
                                           key=lambda k: (k != f"{k.split('.')[0]}.kind", k))]


def _cell(v: Any) -> Any:
    return int(v) if isinstance(v, (bool, np.bool_)) else v


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """:func:`csv_text` written to ``path`` atomically."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"path={path!r}; path must be a CSV file's path (a non-empty str or os.PathLike)")
    atomic_write(path, lambda f: f.write(csv_text(columns, rows).encode()))


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A header and rows as CSV text: numbers as Python prints them (shortest round trip),
    ``None`` as an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return buffer.getvalue()


# ----------------------------------------------------------------------------- planning


def default_memory_budget(device: jax.Device | None = None) -> int:
    """Bytes the engine may use per device for one chunk on ``device`` (default the first
    local device; :func:`run_sweep` asks about the first of the devices it trains on).

    Half of the accelerator's memory limit when JAX reports one; 2 GiB on a CPU, where a
    bigger chunk buys little speed.
    """
    if device is not None and not isinstance(device, jax.Device):
        raise TypeError(f"device={device!r}; device must be a jax.Device or None")
    dev = jax.local_devices()[0] if device is None else device
    try:
        stats = dev.memory_stats() or {}
    except Exception:  # CPU backends may not implement memory_stats
        stats = {}
    limit = stats.get("bytes_limit")
    if dev.platform != "cpu" and limit:
        return int(limit) // 2
    return 2 * 1024**3


class FolderInUseError(ValueError):
    """:func:`run_sweep` refuses ``out``: it holds another sweep (or chunks of an unknown one,
    or a sweep of an older format), which would be mixed with this one, or a manifest or chunk
    file that cannot be read, or it is a file, not a folder. Raised before anything compiles or
    trains."""


MAX_BATCHES_PER_CHUNK = 8
"""Vmapped batches per device in one chunk when no ``chunk_size`` is given (results are saved
once per chunk, so this bounds the work an interrupted run can lose)."""


def _check_budget(memory_budget: Any) -> None:
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, (int, float, np.integer, np.floating)):
        raise TypeError(f"memory_budget={short_repr(memory_budget, 80)}; memory_budget must be a number of bytes "
                        f">= 1 (e.g. 2**30 for 1 GiB), not a {type(memory_budget).__name__}")
    if not math.isfinite(memory_budget) or not memory_budget >= 1:  # (0.5 would become 0 bytes)
        raise ValueError(f"memory_budget={memory_budget!r}; memory_budget must be a number of bytes >= 1")


def _checked_devices(devices: Any) -> list:
    """``devices`` as a list, checked: a TypeError unless it is a list (or numpy array, as
    ``Mesh.devices``) of jax.Device objects (a lone Device is refused, not iterated), a
    ValueError unless they are some and distinct.
    Shared by :func:`run_sweep` and :func:`chunk_layout`."""
    if isinstance(devices, np.ndarray) and devices.dtype == object:  # (a Mesh's .devices: refused, with the advice
        devices = list(devices.flat)  # to wrap it in a list, which was refused too)
    if isinstance(devices, jax.Device) or not isinstance(devices, Sequence):
        raise TypeError(f"devices={devices!r}; devices must be a list of jax.Device objects, e.g. [{devices!r}]")
    devices = list(devices)
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"devices={devices!r}; devices must be a list of jax.Device objects (e.g. jax.devices())")
    if not devices or len(set(devices)) != len(devices):
        raise ValueError(f"devices={devices!r}; devices must be a non-empty list of distinct jax.Device objects")
    return devices


_TASK_METHODS = ("config", "static_of", "inputs_of", "model_fn", "bytes_per_model", "steps")


def _check_task(task: Any, allowed: str = "a Task") -> None:
    """A TypeError unless ``task`` has what :func:`run_sweep` uses of a :class:`Task`: a ``name``,
    the methods ``_TASK_METHODS`` and, if it has one, a callable ``identity_of``. A config passed
    in a task's place (a TrainConfig, an RFConfig) or a task's class would otherwise fail deep in
    the engine, or, in :func:`model_key`, key another model without a word. Shared by both."""
    missing = ([] if hasattr(task, "name") else ["name"]) + [m for m in _TASK_METHODS
                                                             if not callable(getattr(task, m, None))]
    missing += [m for m in ("identity_of", "common_of")
                if getattr(task, m, None) is not None and not callable(getattr(task, m))]
    if isinstance(task, type) or missing:
        why = "it is a class, not an instance" if isinstance(task, type) else f"it lacks {', '.join(missing)}"
        raise TypeError(f"task={short_repr(task)}; task must be {allowed}: an object with a name and the methods "
                        f"{', '.join(_TASK_METHODS)} ({why}), e.g. SuperpositionTask(config) "
                        f"(toyscale.train) or RandomFeatureTask(config) (toyscale.random_features); to sweep a "
                        f"TrainConfig or an RFConfig, call sweep_superposition(config, points) or "
                        f"sweep_random_features(config, points)")


def plan_chunks(
    n_models: int,
    bytes_per_model: int,
    *,
    memory_budget: int,
    n_devices: int,
    chunk_size: int | None = None,
) -> int:
    """Models per chunk: as many as the budget allows, a multiple of the device count.

    Args:
      n_models: models in the group (the chunk never exceeds this, rounded up to devices).
      bytes_per_model: the task's estimate of one model's peak memory.
      memory_budget: bytes allowed per device.
      n_devices: devices the model axis is sharded over.
      chunk_size: an explicit cap overriding the budget (balanced and rounded up to devices too).

    Returns:
      The chunk size (>= n_devices, a multiple of n_devices): the smallest that needs no
      more chunks than the cap does.
    """
    check_int("n_models", n_models)
    check_int("bytes_per_model", bytes_per_model, 0)
    _check_budget(memory_budget)
    check_int("n_devices", n_devices)
    if chunk_size is not None:
        check_int("chunk_size", chunk_size)
    if chunk_size is None:
        per_device = max(1, memory_budget // max(1, bytes_per_model))
        chunk_size = per_device * n_devices
    chunk_size = min(chunk_size, n_models)
    # Balance: as few chunks as the cap allows, of equal size, so the padded last chunk
    # wastes little (32 models under a cap of 31 give 2 x 16, not 31 + 1 padded to 31).
    chunk_size = math.ceil(n_models / math.ceil(n_models / chunk_size))
    return max(n_devices, math.ceil(chunk_size / n_devices) * n_devices)


def chunk_layout(
    n_models: int,
    bytes_per_model: int,
    *,
    memory_budget: int,
    devices: Sequence[jax.Device],
    chunk_size: int | None = None,
    vector_width: int | None = None,
) -> tuple[int, int]:
    """The chunk size and vmapped batch width :func:`run_sweep` uses for a group of models.

    The chunk comes from :func:`plan_chunks`; each device's share of it is then trained
    ``width`` models at a time: ``vector_width`` if given, else the whole share on an
    accelerator and 1 on a CPU. Without an explicit ``chunk_size`` a share holds at most
    ``MAX_BATCHES_PER_CHUNK`` batches, so results reach the disk every few batches (on a CPU,
    where a batch is one model, a whole group would otherwise be one chunk, written only
    when every model of it had finished). The chunk is padded so every share is a whole number of
    batches: a smaller remainder batch would be a second copy of the model in the compiled
    program, and a differently shaped batch may change its models' last bits. So with a
    given ``vector_width`` (or on a CPU by default) the program a model runs in does not
    depend on the chunk size or the device count (on a CPU the bits are then identical,
    tests/test_sweep.py; on a GPU unmeasured).

    Returns:
      ``(chunk size, width)``; the chunk size is a multiple of ``width * len(devices)``.
    """
    devices = _checked_devices(devices)
    if vector_width is not None:
        check_int("vector_width", vector_width)
    n_dev = len(devices)
    size = plan_chunks(n_models, bytes_per_model, memory_budget=memory_budget, n_devices=n_dev,
                       chunk_size=chunk_size)
    share = size // n_dev
    width = vector_width or (1 if devices[0].platform == "cpu" else share)
    if chunk_size is None and share > MAX_BATCHES_PER_CHUNK * width:
        size = plan_chunks(n_models, bytes_per_model, memory_budget=memory_budget, n_devices=n_dev,
                           chunk_size=MAX_BATCHES_PER_CHUNK * width * n_dev)
        share = size // n_dev
    return math.ceil(share / width) * width * n_dev, width


# ----------------------------------------------------------------------------- disk


def _versions() -> dict:
    from toyscale import __version__

    import optax

    return {
        "toyscale": __version__,
        "jax": jax.__version__,
        "jaxlib": getattr(jax.lib, "__version__", None) or _jaxlib_version(),
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        # settings that change a model's numbers (its dtypes, its random bits) as a version would
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "jax_threefry_partitionable": bool(jax.config.jax_threefry_partitionable),
        "jax_default_prng_impl": str(jax.config.jax_default_prng_impl),
        # and settings that change the code XLA emits, so a model's last bits (or, for a flag such as
        # fast math, more). (Not jax_default_matmul_precision: the built-in tasks' models are traced
        # inside float32_products, which sets their products' precision whatever the global setting;
        # Task.model_fn asks a task of one's own to do the same.)
        "jax_disable_most_optimizations": bool(jax.config.values["jax_disable_most_optimizations"]),
        "XLA_FLAGS": _xla_flags(),
    }


# the entries of _versions() that can change a model's numbers: a resume under others warns
_NUMERIC_VERSIONS = ("toyscale", "jax", "jaxlib", "optax", "backend", "jax_enable_x64", "jax_threefry_partitionable",
                     "jax_default_prng_impl", "jax_disable_most_optimizations", "XLA_FLAGS")
# those of them that can move a model's numbers by more than its last bits, and how
_BEYOND_LAST_BITS = {"jax_enable_x64": "dtypes", "jax_threefry_partitionable": "random bits",
                     "jax_default_prng_impl": "random bits",
                     "XLA_FLAGS": "what XLA computes, for a flag such as fast math"}
# XLA flags a sweep's numbers do not depend on: the simulated CPU device count (the same bits on any number of
# devices) and where XLA dumps what it compiles
_FLAGS_NOT_NUMERIC = ("--xla_force_host_platform_device_count", "--xla_dump_")


def _xla_flags() -> str:
    """``XLA_FLAGS`` as this process has them, in one spelling: split as a shell splits (XLA
    takes quoted values), each flag once (the last of a repeated one, which XLA keeps), a bare
    boolean flag as its ``=true``, sorted, without those a sweep's numbers do not depend on
    (``_FLAGS_NOT_NUMERIC``). A value that does not start with "-" names a file of flags, as XLA
    reads it: its flags are recorded (the path where it cannot be read). Read when the sweep
    starts: XLA read it when its backend started, so a process that sets it in between records a
    flag that never took effect."""
    text = os.environ.get("XLA_FLAGS", "").strip()
    if text and not text.startswith("-"):
        try:
            with open(text, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            return f"(a file of flags that could not be read: {text})"
    return _canonical_flags(text)


def _canonical_flags(text: str) -> str:
    """Flags in :func:`_xla_flags`' one spelling."""
    try:
        tokens = shlex.split(text)
    except ValueError:  # (an unclosed quote: XLA's own parser decides; the words as they stand)
        tokens = text.split()
    flags = {}
    for flag in tokens:
        name, sep, _ = flag.partition("=")
        if not name.startswith(_FLAGS_NOT_NUMERIC):
            flags[name] = flag if sep else f"{name}=true"  # (a bare flag is a boolean's "=true", as XLA reads it)
    return " ".join(sorted(flags.values()))


def _jaxlib_version() -> str:
    import jaxlib

    return jaxlib.__version__


def stored_condition(name: str, value: Any) -> Any:
    """A condition on a point field spelled as a sweep stores it, for matching records:
    an object with a ``describe()`` method (a spec such as a ``Frequencies``) as its
    description, a superposition ``frequencies`` given by kind name or as a (partial) dict in
    the one spelling the sweep gave it (:func:`toyscale.frequencies.as_frequencies`), numpy
    values and tuples as JSON would have them. Shared by :meth:`SweepResult.select` and
    :func:`toyscale.scaling.width_curve`."""
    if name == "frequencies" and isinstance(value, (str, Mapping)):
        try:
            value = as_frequencies(value)
        except (TypeError, ValueError) as e:
            raise ValueError(f"frequencies={value!r} is not a frequency spec ({e}); give a Frequencies, its "
                             f"describe() dict or a kind name in {KINDS}") from None
    return to_plain(value.describe() if callable(getattr(value, "describe", None)) else value)


def matching(records: Sequence[Record], conditions: Mapping[str, Any], *,
             fields: set | None = None) -> tuple[list[Record], dict[str, Any]]:
    """The records whose point matches every condition, each spelled as stored
    (:func:`stored_condition`); also returns the conditions as stored. Shared by
    :meth:`SweepResult.select` and the curves of :mod:`toyscale.scaling`.

    Raises:
      ValueError: on a condition no point has as a field (``fields``: the points' fields,
        default those of ``records``; a typo would match nothing). Without points nothing is
        checked.
    """
    if fields is None:
        fields = set().union(*(r.point for r in records)) if records else set()
    unknown = sorted(set(conditions) - fields)
    if fields and unknown:
        raise ValueError(f"{unknown[0]}={short_repr(conditions[unknown[0]], 80)}; no point has the field(s) {unknown}; "
                         f"the points' fields are {sorted(fields)}")
    conditions = {k: stored_condition(k, v) for k, v in conditions.items()}
    return [r for r in records if all(r.point.get(k) == v for k, v in conditions.items())], conditions


def _extends(old: Mapping[str, Any], new: Mapping[str, Any], same_config: bool) -> bool:
    """Whether the sweep ``new`` extends ``old``: same format and task, ``same_config`` (the
    folder's task config and seed are this run's: :func:`_same_config`), and every point of
    ``old`` (label aside) among ``new``'s, as often as there (two points apart only in their
    label are two points of the grid: a grid with one of them is a part, not an extension that
    would drop the other)."""
    try:
        if (not same_config or old.get("format") != FORMAT or new.get("format") != FORMAT
                or old.get("task") != new.get("task") or not isinstance(old.get("points"), list)
                or not isinstance(new.get("points"), list) or not old.get("fingerprint")):
            return False
        return collections.Counter(_point_digests(old["points"])) <= collections.Counter(_point_digests(new["points"]))
    except (TypeError, AttributeError):  # a manifest edited by hand: not extended, refused below
        return False


def _same_config(folder_manifest: Mapping[str, Any], task_config: Any, seed: int) -> bool:
    """Whether the folder's sweep was run with this task config (as the task gives it, not as
    JSON stores it: an inf and a NaN both read back as null) and seed: its fingerprint is that
    of its own points under them."""
    try:
        return folder_manifest.get("fingerprint") == _fingerprint(task_config, seed, folder_manifest["points"])
    except (TypeError, ValueError, KeyError):  # a manifest edited by hand: refused below
        return False


def _same_sweep(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a folder's manifest ``old`` holds the sweep ``new`` describes: same format,
    task and fingerprint."""
    return (old.get("format") == new["format"] and old.get("task") == new["task"]
            and old.get("fingerprint") == new["fingerprint"])


def _sweep_difference(old: Mapping[str, Any], new: Mapping[str, Any], same_config: bool = True) -> str:
    """The first way a folder's manifest ``old`` differs from the sweep ``new`` describes, in
    words, for the refusal of :func:`run_sweep`: format, task, task config (``same_config``:
    :func:`_same_config`), seed, number of points or the first differing point (compared
    canonically, as the fingerprint is)."""

    def canon(v: Any) -> Any:
        try:
            return _canonical(v)
        except TypeError:
            return v

    def show(v: Any) -> str:
        return "absent" if v is _ABSENT else json.dumps(v, sort_keys=True, default=repr)

    for field in ("format", "task"):
        if old.get(field) != new[field]:
            return f"its {field} is {old.get(field)!r}, this sweep's {new[field]!r}"
    old_config, new_config = old.get("task_config"), new["task_config"]
    if isinstance(old_config, Mapping):
        keys = [k for k in sorted(set(old_config) | set(new_config))
                if canon(old_config.get(k, _ABSENT)) != canon(new_config.get(k, _ABSENT))]
        if keys:
            return "its task config differs in " + ", ".join(
                f"{k} ({show(old_config.get(k, _ABSENT))} there, {show(new_config.get(k, _ABSENT))} now)"
                for k in keys)
    elif canon(old_config) != canon(new_config):
        return f"its task config is {show(old_config)}, this sweep's {show(new_config)}"
    if canon(old.get("seed")) != canon(new["seed"]):
        return f"it was run with seed={old.get('seed')!r}, this sweep with seed={new['seed']!r}"
    if not same_config and old.get("fingerprint") and _holds_null(old_config):
        return ("its task config was another, though it reads back as this sweep's: they differ in a value "
                "that JSON stores as null (an infinity or NaN)")
    old_points, new_points = old.get("points") or [], new["points"]

    def differing(a: Mapping, b: Mapping) -> list[str]:
        return [k for k in sorted(set(a) | set(b)) if canon(a.get(k, _ABSENT)) != canon(b.get(k, _ABSENT))]

    def fields(a: Mapping, b: Mapping) -> str:
        return ", ".join(f"{k} ({show(a.get(k, _ABSENT))} there, {show(b.get(k, _ABSENT))} now)"
                         for k in differing(a, b))

    # neither a part nor an extension (either is accepted, in any order): name a new point the
    # folder lacks by its nearest point there, and how many of the folder's this sweep drops
    try:
        old_digests, new_digests = _point_digests(old_points), _point_digests(new_points)
    except (TypeError, AttributeError):  # (a manifest edited by hand)
        old_digests = new_digests = None
    if old_digests is not None and all(isinstance(p, Mapping) for p in old_points):
        old_set, new_set = set(old_digests), set(new_digests)
        lost = sum(d not in new_set for d in old_digests)
        added = [i for i, d in enumerate(new_digests) if d not in old_set]
        if lost and added and old_points:
            b = new_points[added[0]]
            nearest = min(old_points, key=lambda a: len(differing(a, b)))
            return (f"this sweep's point {added[0]} is not among its {len(old_points)} points (the nearest differs "
                    f"in {fields(nearest, b)}), and {lost} of its points are not in this sweep. To extend the "
                    f"folder, keep every point it has (in any order) and add the new ones; a sweep of some of its "
                    f"points reads them back")
    first = next((i for i, (a, b) in enumerate(zip(old_points, new_points)) if canon(a) != canon(b)), None)
    if first is not None:
        a, b = old_points[first], new_points[first]
        if isinstance(a, Mapping):
            return f"point {first} differs in {fields(a, b)}"
        return f"point {first} is {show(a)} there, {show(b)} now"
    if len(old_points) != len(new_points):
        return (f"it has {len(old_points)} points, this sweep {len(new_points)} "
                f"(the first {min(len(old_points), len(new_points))} agree)")
    return "their fingerprints differ"


_ABSENT = object()


def _holds_null(value: Any) -> bool:
    """Whether a value read from JSON holds a null (a NaN or an infinity, as a manifest stores them)."""
    if isinstance(value, Mapping):
        return any(_holds_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_null(v) for v in value)
    return value is None


def _fingerprint(task_config: dict, seed: int, points: list[dict]) -> str:
    # canonical: 4 and 4.0, np.int64(8) and 8, a tuple and a list are one sweep
    blob = json.dumps(_canonical([task_config, seed, points]), sort_keys=True, allow_nan=True).encode()
    return hashlib.sha256(blob).hexdigest()


_DIGEST = "point_digest"  # a chunk file's [k, 2] uint32 words of each model's point (label left out)
_RESERVED_OUTPUTS = frozenset({"model_id", _DIGEST})  # ("diverged" is read as the task's own flag)
_SAVEZ_ARGUMENTS = frozenset({"file", "allow_pickle"})  # np.savez's own keywords: outputs of these names are lost


def _storable(v: jax.Array) -> jax.Array:
    """An output in a dtype a chunk file keeps: bfloat16, float8 and int4 (ml_dtypes, which
    np.savez writes as raw bytes and np.load reads back as void) widened to float32 / int32."""
    v = jnp.asarray(v)  # (a task may return a plain Python number or bool)
    if np.dtype(v.dtype).kind != "V":
        return v
    return v.astype(jnp.float32 if jnp.issubdtype(v.dtype, jnp.floating) else jnp.int32)


def _point_digests(points: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """Each point's two words (:func:`_point_words` of the whole point): what a chunk file
    records so that its results find their point again in an extended grid."""
    return [_point_words(p, f"points[{i}]") for i, p in enumerate(points)]


def _read_chunks(folder: str, points: Sequence[Mapping[str, Any]],
                 unreadable: list[str] | None = None) -> dict[int, tuple[bool, dict[str, np.ndarray]]]:
    """All finished models on disk: model id in ``points`` (the folder's manifest) ->
    (diverged, outputs).

    A chunk file that records its models' point digests is matched by them, so models
    trained under an earlier, smaller grid of the folder (:func:`run_sweep` extends a grid)
    land at their ids in this one, and a model whose point is not in ``points`` is left out.
    A file without digests (written before they were recorded) is read by its model ids,
    which the folder's manifest has kept since (an extension first adds its digests).
    A chunk file that cannot be read is a ValueError naming it; with ``unreadable`` (a list),
    its message is appended there instead and its models count as not finished.
    """
    done: dict[int, tuple[bool, dict[str, np.ndarray]]] = {}
    chunk_dir = os.path.join(folder, "chunks")
    if not os.path.isdir(chunk_dir):
        return done
    where: dict[tuple[int, int], list[int]] | None = None
    for name in sorted(os.listdir(chunk_dir)):
        if not (name.startswith("chunk_") and name.endswith(".npz")):
            continue
        path = os.path.join(chunk_dir, name)
        try:
            arrays = _load_chunk(path)
        except ValueError as e:
            if unreadable is None:
                raise
            unreadable.append(str(e))
            continue
        ids, div, digests = arrays.pop("model_id"), arrays.pop("diverged"), arrays.pop(_DIGEST, None)
        outs = arrays
        for j, mid in enumerate(ids):
            if digests is None:
                targets = [int(mid)] if 0 <= int(mid) < len(points) else []
            else:
                if where is None:
                    where = {}
                    for i, d in enumerate(_point_digests(points)):
                        where.setdefault(d, []).append(i)
                targets = where.get((int(digests[j, 0]), int(digests[j, 1])), [])
            for target in targets:
                done[target] = (bool(div[j]), {k: v[j] for k, v in outs.items()})
    return done


def _load_chunk(path: str) -> dict[str, np.ndarray]:
    """Every array of a chunk file; a ValueError naming the file if it cannot be read."""
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        ids, diverged = arrays["model_id"], arrays["diverged"]  # (a KeyError if either is missing)
        # (shapes that disagree, a hand-edited or foreign file's, would fail later as an IndexError)
        uneven = [k for k, v in arrays.items() if np.ndim(v) == 0 or len(v) != np.size(ids)]
        if np.ndim(ids) != 1 or np.ndim(diverged) != 1 or uneven:
            raise ValueError(f"its arrays disagree in length: model_id has shape {np.shape(ids)}, "
                             + ", ".join(f"{k} {np.shape(arrays[k])}" for k in (uneven or ["diverged"])))
        return arrays
    except PermissionError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        # (numpy's advice to load a file that is no .npz "unsafely", with allow_pickle, is not passed on)
        why = "not a chunk file: no .npz archive" if "allow_pickle" in str(e) else f"{type(e).__name__}: {e}"
        raise ValueError(f"chunk file {path!r} cannot be read ({why}); delete it and "
                         f"rerun the sweep into this folder to train its models again") from e


def _add_digests(folder: str, points: Sequence[Mapping[str, Any]]) -> None:
    """Rewrites each chunk file without point digests with them, from the manifest's
    ``points`` its model ids index: before a grid is extended (its ids then change). Each
    file is replaced atomically, so a run stopped half-way leaves every file readable."""
    chunk_dir = os.path.join(folder, "chunks")
    if not os.path.isdir(chunk_dir):
        return
    digests = None
    for name in sorted(os.listdir(chunk_dir)):
        if not (name.startswith("chunk_") and name.endswith(".npz")):
            continue
        path = os.path.join(chunk_dir, name)
        arrays = _load_chunk(path)
        if _DIGEST in arrays:
            continue
        digests = _point_digests(points) if digests is None else digests
        ids = [int(i) for i in np.ravel(arrays["model_id"])]
        bad = [i for i in ids if not 0 <= i < len(points)]
        if bad:  # (a hand-edited or foreign file: its ids cannot name this folder's points)
            raise ValueError(f"chunk file {path!r} holds model id {bad[0]}, outside this folder's {len(points)} "
                             f"points (ids 0 to {len(points) - 1}); delete it and rerun the sweep into this folder "
                             f"to train its models again")
        arrays[_DIGEST] = np.asarray([digests[i] for i in ids], np.uint32).reshape(-1, 2)
        atomic_write(path, lambda f, arrays=arrays: np.savez(f, **arrays))


def _add_digests_or_refuse(folder: str, points: Sequence[Mapping[str, Any]]) -> None:
    try:
        _add_digests(folder, points)
    except ValueError as e:  # a damaged chunk file
        raise FolderInUseError(f"out={folder!r}: {e}") from e


def _remove_stale_temp_files(folder: str) -> None:
    """Deletes temp files a killed run left in the sweep's folder and its chunks (see
    :func:`toyscale.io.remove_stale_temp_files`)."""
    for sub in (folder, os.path.join(folder, "chunks")):
        remove_stale_temp_files(sub)


def _check_writable(folder: str, todo: int) -> None:
    """A :class:`FolderInUseError` unless a chunk file can be written into ``folder`` (a
    read-only one, say), where ``todo`` models remain to train: raised before anything is
    compiled or trained, not at the first chunk's save. A temp file is written and removed."""
    try:
        chunks = os.path.join(folder, "chunks")  # (not made here: a run refused later leaves no empty chunks/)
        probe_writable(chunks if os.path.isdir(chunks) else folder)
    except OSError as e:
        raise FolderInUseError(f"out={folder!r}: its chunks cannot be written ({e.strerror or e}), and {todo} "
                               f"model(s) remain to train; give a folder this process can write (a finished sweep "
                               f"still loads from a read-only one)") from None


def _chunk_path(folder: str, ids: np.ndarray, digests: np.ndarray) -> str:
    """The file a chunk of models ``ids`` (their points' ``digests``) is written to: named by
    its models' points too, since in an extended grid an id can name another point, and an
    earlier grid's chunk of the same first id and count must not be overwritten."""
    tag = hashlib.sha256(np.ascontiguousarray(digests, np.uint32).tobytes()).hexdigest()[:8]
    return os.path.join(folder, "chunks", f"chunk_{int(ids[0]):07d}_{len(ids)}_{tag}.npz")


def _write_chunk(path: str, ids: np.ndarray, diverged: np.ndarray, outputs: dict[str, np.ndarray],
                 digests: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arrays = {"model_id": ids.astype(np.int64), "diverged": diverged, _DIGEST: digests.astype(np.uint32), **outputs}
    atomic_write(path, lambda f: np.savez(f, **arrays))


@contextlib.contextmanager
def _manifest_lock(folder: str):
    """Holds ``folder``'s manifest lock (an exclusive ``flock`` of ``.manifest.lock``) while a
    run reads the manifest and perhaps rewrites it (an extended grid): two runs extending one
    folder with different grids at once would otherwise each write their grid over the
    other's, and the first one's models would drop out of the folder. With the lock the second
    reads the first's grid, and is refused if its own grid neither holds nor is part of it.

    Without a lock where one cannot be had: ``fcntl`` missing (Windows); a folder this run
    cannot write (read-only: it cannot rewrite the manifest either, and a finished sweep still
    loads); a file system without ``flock`` (some network mounts), which a RuntimeWarning names.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover (not on POSIX)
        yield
        return
    path = os.path.join(folder, ".manifest.lock")
    try:
        f = open(path, "a")
    except OSError:  # (a read-only folder: an existing lock file can still be locked for reading)
        try:
            f = open(path)
        except OSError:
            f = None
    if f is None:
        yield
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX)
            locked = True
        except OSError as e:
            locked = False
            warnings.warn(f"out={folder!r}: its file system does not lock files ({e}), so two runs extending this "
                          f"folder with different grids at the same moment are not kept apart", RuntimeWarning,
                          stacklevel=4)
        try:
            yield
        finally:
            if locked:
                fcntl.flock(f, fcntl.LOCK_UN)


def _join_folder(folder: str, manifest: dict, new: dict, task_config: Any) -> tuple[dict, dict]:
    """A run's sweep against the one ``folder``'s manifest holds: the same sweep (resumed), a
    grid holding it (extended: the manifest is rewritten), or a part of it (read or trained
    there); anything else a :class:`FolderInUseError`. Returns the manifest the run works
    under and the numeric versions that changed since the folder was started
    ``{name: (then, now)}``. ``new`` is this run's manifest with its versions and date,
    ``task_config`` its task's config as the task gives it."""
    mpath = os.path.join(folder, "manifest.json")
    with _manifest_lock(folder):  # (an extension rewrites the manifest: one run at a time reads and writes it)
        try:
            old = _read_manifest(mpath, "so which sweep the folder holds is unknown; use a new folder or "
                                        "delete it")
        except ValueError as e:
            raise FolderInUseError(f"out={folder!r}: {e}") from None
        if (problem := damaged_field(old)) is not None:  # (a file edited by hand: had ended in an AttributeError)
            raise FolderInUseError(f"out={folder!r}: {mpath!r}: {problem}; the manifest is damaged (edited by "
                                   f"hand?): restore it from a backup, or use a new folder")
        if old.get("format") != FORMAT and old.get("format") in _READABLE_FORMATS:
            raise FolderInUseError(f"out={folder!r} holds a sweep in format {old.get('format')!r}, whose models "
                                   f"were keyed by their position in the grid; this version keys them by their "
                                   f"point ({FORMAT!r}), so it cannot resume it. load_sweep still reads it; "
                                   f"train into a new folder")
        same_config = _same_config(old, task_config, manifest["seed"])
        if not _same_sweep(old, manifest) and _extends(old, manifest, same_config):
            # a grid that holds every point of the folder's (same task, config and seed):
            # its finished models are reused where their points now sit, the rest trained
            # (the manifest keeps the first run's versions and date, as a resumed one does)
            _add_digests_or_refuse(folder, old["points"])
            grown = {**new, "versions": old.get("versions") or new["versions"], "created": old.get("created"),
                     "extends": [*(old.get("extends") or []), old["fingerprint"]]}
            atomic_write_json(mpath, grown)
            old = grown  # (``new`` keeps this run's versions, for the warning below)
        part = not _same_sweep(old, manifest) and _extends(manifest, old, same_config)
        if part:
            # a part of the folder's grid (an earlier, smaller run of it): its models are
            # read from there, or trained there, and the folder keeps its whole grid
            _add_digests_or_refuse(folder, old["points"])
        elif not _same_sweep(old, manifest):
            raise FolderInUseError(
                f"out={folder!r} already holds a different sweep (task {old.get('task')!r}, "
                f"{len(old.get('points', []))} points): {_sweep_difference(old, manifest, same_config)}; "
                f"use a new folder or delete it"
            )
        changed = {k: (v, new["versions"].get(k)) for k, v in (old.get("versions") or {}).items()
                   if k in _NUMERIC_VERSIONS and v != new["versions"].get(k)}
        then, now = changed.get("XLA_FLAGS", (None, None))
        # (a folder recorded before a bare flag became =true: the same flags in today's spelling. Only where the two
        # differ: a recorded value has lost its quotes, and splitting it again had split a value with a space)
        if isinstance(then, str) and not then.startswith("(") and _canonical_flags(then) == now:
            del changed["XLA_FLAGS"]
        return ({**manifest, "versions": old.get("versions"), "created": old.get("created")} if part else old), changed


def damaged_field(manifest: Mapping[str, Any]) -> str | None:
    """What is wrong with a manifest's ``versions`` (an object) or ``extends`` (a list) where
    one has another type (a file edited by hand; null counts as absent), or None. Only
    resuming and ``toyscale status`` read them: :func:`load_sweep` does not ask."""
    for key, kind, name in (("versions", dict, "an object"), ("extends", list, "a list")):
        if manifest.get(key) is not None and not isinstance(manifest[key], kind):
            return f"{key!r} is {short_repr(manifest[key], 60)}, not {name}"
    return None


def _read_manifest(mpath: str, remedy: str) -> dict:
    """A folder's manifest.json, read; a ValueError naming the file, what is wrong with it and
    ``remedy`` (what the caller can do) if it is not a sweep's manifest."""
    try:
        with open(mpath) as f:
            manifest = json.load(f)
    except IsADirectoryError:  # (an OSError, which run_sweep would pass on raw)
        raise ValueError(f"{mpath!r} is a folder, not a sweep's manifest file; {remedy}") from None
    except UnicodeDecodeError as e:  # (a ValueError too, naming no file)
        raise ValueError(f"{mpath!r} cannot be read: damaged, not a text file ({e}); {remedy}") from None
    except ValueError as e:  # (json's decode error)
        raise ValueError(f"{mpath!r} cannot be read: damaged, not valid JSON ({e}); {remedy}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("points"), list):
        raise ValueError(f"{mpath!r} cannot be read: it holds {short_repr(manifest, 80)}, not a sweep's manifest (an "
                         f"object with its 'points'); {remedy}")
    bad = next((i for i, p in enumerate(manifest["points"]) if not isinstance(p, dict)), None)
    if bad is not None:  # (a file edited by hand: had ended in an AttributeError)
        raise ValueError(f"{mpath!r} cannot be read: its points[{bad}] is {short_repr(manifest['points'][bad], 60)}, "
                         f"not an object of a model's fields; {remedy}")
    return manifest


def load_sweep(folder: str, *, skip_unreadable: bool = False) -> SweepResult:
    """Reads a sweep folder written by :func:`run_sweep` (finished models only).

    A chunk file that cannot be read (damaged by hand: writes are atomic) is a ValueError
    naming it; with ``skip_unreadable=True`` the rest is read, its models count as
    unfinished, and ``stats["unreadable"]`` holds one message per such file.

    ``stats["unfinished"]`` lists the grid's model ids not on disk: none once the sweep is
    done; otherwise models still training, an interrupted run's, or, in a run split over
    processes, the share of a process that never ran (a grid split as process 0 of 2 and
    process 1 of 3 leaves ids 3 and 5 to nobody)."""
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder={folder!r}; folder must be a path (str or os.PathLike)")
    if not isinstance(skip_unreadable, bool):
        raise TypeError(f"skip_unreadable={skip_unreadable!r}; skip_unreadable must be True or False")
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise FileNotFoundError(f"folder={os.fspath(folder)!r} {what}; load_sweep reads the folder a sweep's out= "
                                f"wrote (an experiment script's is <--out>/sweep)")
    if not os.path.exists(os.path.join(folder, "manifest.json")):
        chunk_dir = os.path.join(folder, "chunks")
        if os.path.isdir(chunk_dir) and any(f.startswith("chunk_") for f in os.listdir(chunk_dir)):
            # (had said "it holds no sweep" of a folder full of trained models)
            raise FileNotFoundError(f"folder={os.fspath(folder)!r} holds chunk files but no manifest.json, so "
                                    f"which sweep's models they are is unknown; restore the manifest from a backup")
        raise FileNotFoundError(f"folder={os.fspath(folder)!r} has no manifest.json, so it holds no sweep "
                                f"(an experiment script's sweep is in <--out>/sweep)")
    manifest = _read_manifest(os.path.join(folder, "manifest.json"),
                              "restore it from a backup, or rerun the sweep into a new folder")
    if manifest.get("format") not in _READABLE_FORMATS:
        raise ValueError(f"folder={folder!r} holds format {manifest.get('format')!r}; expected one of "
                         f"{list(_READABLE_FORMATS)}")
    points = manifest["points"]
    unreadable: list[str] | None = [] if skip_unreadable else None
    done = _read_chunks(folder, points, unreadable)
    records = [
        Record(model_id=i, point=points[i], diverged=done[i][0], outputs=done[i][1])
        for i in sorted(done)
    ]
    stats = {"loaded": len(records), "unfinished": _unfinished(points, done)}
    if unreadable is not None:
        stats["unreadable"] = unreadable
    return SweepResult(records=records, manifest=manifest, stats=stats)


def _unfinished(points: Sequence, done: Mapping[int, Any]) -> list[int]:
    return [i for i in range(len(points)) if i not in done]


# ----------------------------------------------------------------------------- running


def check_points(points: Any) -> list[dict]:
    """``points`` as a list of dicts; a TypeError naming the value unless it is a sequence of
    mappings (a lone mapping is refused, not iterated over its keys)."""
    if isinstance(points, (Mapping, str, bytes)) or not isinstance(points, Sequence):
        raise TypeError(f"points={short_repr(points)}; points must be a list of mappings, one per model")
    bad = next((i for i, p in enumerate(points) if not isinstance(p, Mapping)), None)
    if bad is not None:
        raise TypeError(f"points[{bad}]={points[bad]!r}; every point must be a mapping of field names to values")
    return [dict(p) for p in points]


def _non_finite(obj: Any, path: str = "") -> str | None:
    """The first NaN or infinity in a plain point, as ``field=value``; None if there is none."""
    if isinstance(obj, Mapping):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in obj.items())
    elif isinstance(obj, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(obj))
    else:
        return f"{path}={obj!r}" if isinstance(obj, float) and not math.isfinite(obj) else None
    return next((found for key, value in items if (found := _non_finite(value, key))), None)


def _warn_duplicates(words: np.ndarray) -> None:
    seen: dict[tuple[int, int], int] = {}
    for i, w in enumerate(map(tuple, words.tolist())):
        if w in seen:
            warnings.warn(f"points[{seen[w]}] and points[{i}] are the same model (the same point apart from "
                          f"'label' and the task's measurement flags), so they train identically; give repeats "
                          f"distinct 'seed' fields", RuntimeWarning,
                          stacklevel=3)
            return
        seen[w] = i


def _stack_inputs(task: Task, points: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    per_model = [task.inputs_of(p) for p in points]
    return {k: np.stack([np.asarray(d[k]) for d in per_model]) for k in per_model[0]}


class _Progress:
    """A tqdm bar over models with the model-steps/second rate as a postfix."""

    def __init__(self, total: int, initial: int, enabled: bool, desc: str):
        self.bar = None
        self.t0 = time.perf_counter()
        self.model_steps = 0
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="model", dynamic_ncols=True)

    def update(self, models: int, model_steps: int) -> None:
        self.model_steps += model_steps
        if self.bar is not None:
            rate = self.model_steps / max(1e-9, time.perf_counter() - self.t0)
            self.bar.set_postfix_str(f"{rate:,.0f} model-steps/s", refresh=False)
            self.bar.update(models)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_sweep(
    task: Task,
    points: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    memory_budget: int | None = None,
    chunk_size: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    vector_width: int | None = None,
    process_index: int | None = None,
    process_count: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """Trains every model of ``points`` with one compiled, vmapped program per static shape.

    Args:
      task: the model family (see :class:`Task`).
      points: one JSON-serialisable mapping per model; the model id is the index here.
        Identical points (apart from ``label``) train identical models: give repeats
        their own ``seed`` field (a warning says when two points coincide).
      seed: the sweep seed; the model of point ``p`` gets ``model_key(seed, p, task)`` (keyed by
        the task's ``identity_of(p)`` where it has one: the point in one spelling, defaults filled
        in, measurement-only flags left out; ``model_key(seed, p)`` alone can be another key), so
        its numbers do not depend on where ``p`` sits in the grid.
      out: folder to write results to as chunks finish; rerunning into it resumes. A grid
        that holds every point of the folder's (same task, task config and seed: more widths
        or seeds, say) extends it: its finished models are reused, the new points trained.
        A grid that is part of the folder's is read from it (and trained into it where it
        is not finished); the folder keeps its whole grid. Any other grid is refused
        (:class:`FolderInUseError`), so a folder's models are never hidden or mixed.
        ``None`` keeps everything in memory (one process only).
      memory_budget: bytes per device for one chunk (default :func:`default_memory_budget`).
      chunk_size: the chunk size to aim at, overriding the memory budget and the default cap of
        ``MAX_BATCHES_PER_CHUNK`` batches per device. Each group of one static shape is cut into
        as few chunks of at most this many models as it needs, all of one balanced size (so often
        fewer: 10 models at ``chunk_size=6`` make 2 chunks of 5), which is then rounded up to a
        multiple of the vmapped width times the device count (8 on 2 devices with
        ``vector_width=2``), the last chunk padded (:func:`plan_chunks`, :func:`chunk_layout`).
        ``stats["chunk_sizes"]`` holds the size each group used.
      devices: devices to shard the model axis over (default all local devices).
      vector_width: models each device trains side by side in one vectorised (vmapped)
        step; the rest of its share of a chunk runs one batch after another inside the
        same compiled program (``lax.map``). A share is padded to a whole number of
        batches (see :func:`chunk_layout`), so with a given width the batch shape does not
        depend on the chunk size or device count. Default: the whole share on an accelerator
        (fastest, but then the batch shape, and so possibly the last bits, follow the chunk
        size and device count); 1 on a CPU, where XLA's batched matrix products are slower
        than a sequence of plain ones (measured: 1.7x, see benchmarks/RESULTS.md). Like
        ``chunk_size``, a given width overrides the memory budget: each device holds
        ``vector_width`` models at once (``stats["predicted_peak_bytes_per_device"]``: those
        models' ``bytes_per_model`` plus the share's stacked outputs).
      process_index, process_count: this process's share of the grid in a multi-host run
        (default ``jax.process_index()``/``jax.process_count()``). Process ``p`` trains the
        models whose id is ``p`` modulo ``process_count``; all write into ``out``.
      progress: show a progress bar.

    Returns:
      A :class:`SweepResult` with the records this process can see: on one process all of
      them; on several, those on disk in ``out`` when it finished (its own plus others'), and
      ``stats["unfinished"]`` the ids of the others not on disk yet (see :func:`load_sweep`).
      A record's point is the manifest's JSON copy (a tuple reads back as a list), the
      same whether the record was trained now or loaded.

    Raises:
      TypeError: on arguments of the wrong type (a point that is not a mapping of JSON values, a
        config such as a TrainConfig where the task goes).
      ValueError: on an empty grid or bad sizes; :class:`FolderInUseError` (a ValueError) on an
        ``out`` that is a file or a folder holding a different sweep.
    """
    _check_task(task)
    points = check_points(points)
    if not points:
        raise ValueError("points=[] is empty; a sweep needs at least one grid point")
    for i, p in enumerate(points):  # the label too must be JSON: the manifest keeps it
        try:
            plain = _canonical(p)
        except TypeError as e:
            raise TypeError(f"points[{i}]={p!r}: {e}; a point's fields must be JSON values") from None
        bad = _non_finite(plain)
        if bad:  # strict JSON writes them as null: a record would read back another point
            raise ValueError(f"points[{i}] holds {bad}; a point's numbers must be finite")
    words = np.asarray([_point_words(_identity(task, p, i), f"points[{i}]") for i, p in enumerate(points)],
                       dtype=np.uint32)
    _warn_duplicates(words)
    common_words = _common_words(task, points)
    # as the manifest's JSON reads back: tuples as lists, keys sorted (so a table or CSV of the
    # records has the same columns whether they were trained now or loaded)
    plain_points = _sorted_keys(to_plain(points))
    for i, plain in enumerate(plain_points):
        try:  # (before anything trains: the table and CSV had dropped one of two such fields, silently)
            _flat_fields(plain, strict=True)
        except ValueError as e:
            raise ValueError(f"points[{i}]={short_repr(points[i])}: {e}") from None
    digests = np.asarray(_point_digests(points), dtype=np.uint32).reshape(-1, 2)
    check_seed(seed)
    if chunk_size is not None:
        check_int("chunk_size", chunk_size)
    if memory_budget is not None:
        _check_budget(memory_budget)
    if out is not None and not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out={out!r}; out must be a folder path (str or os.PathLike) or None")
    if out is not None and not os.fspath(out):
        raise ValueError(f"out={out!r}; out must be a folder path (not empty) or None (results kept in memory)")
    devices = _checked_devices(devices) if devices is not None else jax.local_devices()
    if vector_width is not None:
        check_int("vector_width", vector_width)
    if not isinstance(progress, (bool, np.bool_)):  # ("no" would show the bar)
        raise TypeError(f"progress={progress!r}; progress must be True or False")
    budget = default_memory_budget(devices[0]) if memory_budget is None else int(memory_budget)
    if (process_index is None) != (process_count is None):
        raise ValueError(f"process_index={process_index!r}, process_count={process_count!r}; give both or "
                         f"neither (then jax.process_index() and jax.process_count() are used)")
    if process_count is not None:
        check_int("process_count", process_count)
        check_int("process_index", process_index, 0)
    pidx = jax.process_index() if process_index is None else int(process_index)
    pcount = jax.process_count() if process_count is None else int(process_count)
    if not 0 <= pidx < pcount:
        raise ValueError(f"process_index={pidx}; must be in [0, process_count={pcount})")
    if pcount > 1 and out is None:
        raise ValueError(f"out=None with process_count={pcount}; a sweep over several processes needs an out "
                         f"folder they all write to, where their results merge")

    # Every point through the task before the folder is claimed, the other processes' too: a
    # point the task cannot read had left a manifest for a grid that never runs, refusing the
    # corrected one as a different sweep. (inputs_of costs about 0.2 ms a point for the
    # superposition model at n = 1000, its sparse tables cached.)
    statics = [_asked(task, "static_of", i, p) for i, p in enumerate(points)]
    _check_task_answers(task, points, statics)

    task_config = task.config()
    try:
        plain_config = to_plain(task_config, strict=True)  # (as it reads back: an inf as null)
        _canonical(task_config)  # (as the fingerprint spells it: a set is no JSON value)
    except (TypeError, ValueError) as e:
        raise type(e)(f"task {task.name!r}'s config() gives {short_repr(task_config)}: {e}") from None
    manifest = {
        "format": FORMAT,
        "task": task.name,
        "task_config": plain_config,
        "seed": int(seed),
        "points": plain_points,
        "fingerprint": _fingerprint(task_config, int(seed), points),
    }

    done: dict[int, tuple[bool, dict[str, np.ndarray]]] = {}
    folder = None if out is None else os.fspath(out)
    changed: dict[str, tuple] = {}
    if folder is not None:
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise FolderInUseError(f"out={folder!r} is a file; out must be a folder (new, or one a sweep wrote)")
        os.makedirs(folder, exist_ok=True)
        mpath = os.path.join(folder, "manifest.json")
        new = {**manifest, "versions": _versions(),
               "created": datetime.datetime.now(datetime.timezone.utc).isoformat()}
        # Created only if absent, in one step: processes starting together with different
        # grids cannot both pass the check below.
        chunk_dir = os.path.join(folder, "chunks")
        if (not os.path.exists(mpath) and os.path.isdir(chunk_dir)
                and any(f.startswith("chunk_") for f in os.listdir(chunk_dir))
                and not os.path.exists(mpath)):  # (again: another process may have just made it)
            raise FolderInUseError(f"out={folder!r} holds chunk files but no manifest.json, so which sweep they "
                             f"belong to is unknown; use a new folder or delete its chunks")
        if not os.path.exists(mpath) and atomic_create_json(mpath, new):
            manifest = new
        else:
            manifest, changed = _join_folder(folder, manifest, new, task_config)
        _remove_stale_temp_files(folder)  # (an hour untouched: never a file another process is writing now)
        try:
            done = _read_chunks(folder, manifest["points"])
        except ValueError as e:  # a damaged chunk file (writes are atomic: only a hand can do that)
            raise FolderInUseError(f"out={folder!r}: {e}") from e
        # (only where this process trains: a finished share of a split grid trains nothing that could differ)
        if changed and any(i not in done for i in range(pidx, len(points), pcount)):
            def show(k, v):
                return f"{k}={v!r}" if k == "XLA_FLAGS" else f"{k}={v}" if k.startswith("jax_") else f"{k} {v}"

            beyond = [f"{k} changes {how}" for k, how in _BEYOND_LAST_BITS.items() if k in changed]  # (XLA last)
            warnings.warn(f"out={folder!r} was started with " + ", ".join(show(k, a) for k, (a, b) in changed.items())
                          + "; resuming with " + ", ".join(show(k, b) for k, (a, b) in changed.items())
                          + ": the models trained now may differ from an uninterrupted run's, in the last bits "
                          + (f"or more ({'; '.join(beyond)}) " if beyond else "")
                          + "(the manifest keeps the first run's versions)", RuntimeWarning, stacklevel=2)

    # Group this process's models by static shape, in model-id order. Chunks are laid out
    # over the whole group, finished or not, so a resumed run trains each remaining model in
    # the chunk (and vmapped batch) an uninterrupted run would have: the same bits. (Only a
    # chunk left part-done by a run with another chunk plan is packed differently.)
    groups: dict[Hashable, list[int]] = {}
    for i, static in enumerate(statics):
        if i % pcount == pidx:
            groups.setdefault(static, []).append(i)
    groups = {static: ids for static, ids in groups.items() if any(i not in done for i in ids)}
    todo = sum(1 for ids in groups.values() for i in ids if i not in done)
    if folder is not None and todo:  # (before compiling: a chunk trained into a folder it cannot write is lost)
        _check_writable(folder, todo)

    root = jax.random.PRNGKey(seed)
    mesh = jax.sharding.Mesh(np.asarray(devices), ("models",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("models"))
    mine = sum(1 for i in range(len(points)) if i % pcount == pidx)
    bar = _Progress(total=mine, initial=mine - todo, enabled=progress, desc=task.name)
    stats = {"programs": 0, "chunks": 0, "chunk_sizes": {}, "vector_widths": {},
             "predicted_peak_bytes_per_device": {}, "seconds": 0.0}
    t_start = time.perf_counter()
    results: dict[int, tuple[bool, dict[str, np.ndarray]]] = dict(done)
    writing: tuple[list[int], str] | None = None  # the last chunk sent to disk: its models, its file
    try:
        for static, ids in groups.items():
            size, width = chunk_layout(len(ids), task.bytes_per_model(static), memory_budget=budget,
                                       devices=devices, chunk_size=chunk_size, vector_width=vector_width)
            stats["chunk_sizes"][str(static)] = size
            stats["vector_widths"][str(static)] = width
            fn = _compiled_group_fn(task, static, mesh, width)
            stats["programs"] += 1
            for start in range(0, len(ids), size):
                chunk = [i for i in ids[start:start + size] if i not in done]
                if not chunk:
                    continue
                padded = chunk + [chunk[-1]] * (size - len(chunk))
                inputs = _stack_inputs(task, [points[i] for i in padded])
                keys = _model_keys(root, jnp.asarray(words[padded]))
                if common_words is not None:  # (a pytree: sharded, mapped and vmapped as one key is)
                    keys = (keys, _model_keys(root, jnp.asarray(common_words[padded])))
                inputs = jax.device_put(inputs, sharding)
                keys = jax.device_put(keys, sharding)
                if str(static) not in stats["predicted_peak_bytes_per_device"]:
                    stats["predicted_peak_bytes_per_device"][str(static)] = _predicted_peak(
                        task, static, fn, inputs, keys, width, len(devices))
                outs, diverged = fn(inputs, keys)
                outs = {k: np.asarray(v)[: len(chunk)].copy() for k, v in outs.items()}  # writable, like loaded ones
                diverged = np.asarray(diverged)[: len(chunk)]
                ids_arr = np.asarray(chunk, dtype=np.int64)
                if folder is not None:
                    writing = (chunk, _chunk_path(folder, ids_arr, digests[chunk]))
                    _write_chunk(writing[1], ids_arr, diverged, outs, digests[chunk])
                for j, mid in enumerate(chunk):
                    results[mid] = (bool(diverged[j]), {k: v[j] for k, v in outs.items()})
                stats["chunks"] += 1
                bar.update(len(chunk), len(chunk) * task.steps(static))
    except KeyboardInterrupt:
        bar.close()
        if folder is not None:  # (the chunk being trained is lost; every finished one is on disk)
            saved = sum(1 for i in range(len(points)) if i % pcount == pidx and i in results)
            if writing is not None and os.path.exists(writing[1]):  # (interrupted after its file's rename, before
                saved += sum(1 for i in writing[0] if i not in results)  # all of its models were counted)
            print(f"interrupted: {saved} of this process's {mine} models are saved in {folder}; run the same "
                  f"sweep into it again to resume", file=sys.stderr)
        raise
    finally:
        bar.close()
    stats["seconds"] = time.perf_counter() - t_start
    stats["model_steps"] = bar.model_steps
    if folder is not None and pcount > 1:
        results = _read_chunks(folder, manifest["points"])
    stats["unfinished"] = _unfinished(manifest["points"], results)  # (other processes' models not on disk yet)
    plain = manifest["points"]  # the JSON copy, as load_sweep gives it
    records = [Record(model_id=i, point=plain[i], diverged=results[i][0], outputs=results[i][1])
               for i in sorted(results)]
    return SweepResult(records=records, manifest=manifest, stats=stats)


def _sorted_keys(obj: Any) -> Any:
    """Plain JSON values with every mapping's keys in sorted order, as json_bytes writes them."""
    if isinstance(obj, dict):
        return {k: _sorted_keys(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted_keys(v) for v in obj]
    return obj


def _canonical(obj: Any) -> Any:
    """A point as plain JSON values in one spelling (:func:`toyscale.io.to_plain`, then a
    whole float as an int: ``gamma=-1`` and ``-1.0`` are one model); a set or other object
    is refused."""
    return _whole_floats(to_plain(obj))


def _whole_floats(obj: Any) -> Any:
    if isinstance(obj, float):
        return int(obj) if math.isfinite(obj) and obj == int(obj) else obj
    if isinstance(obj, Mapping):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError(f"keys {sorted(map(repr, obj))} are not all strings")
        return {k: _whole_floats(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_whole_floats(v) for v in obj]
    if obj is None or isinstance(obj, (str, int)):
        return obj
    raise TypeError(f"{obj!r} (a {type(obj).__name__}) is not a JSON value")


def _identity(task: Any, point: Mapping[str, Any], i: int | None = None) -> Mapping[str, Any]:
    """The task's ``identity_of(point)`` (the point itself for a task without one); given the
    point's index ``i``, an error names the point (:func:`_asked`)."""
    if getattr(task, "identity_of", None) is None:
        return point
    return task.identity_of(point) if i is None else _asked(task, "identity_of", i, point)


def _common_identity(task: Any, point: Mapping[str, Any], i: int | None = None) -> Mapping[str, Any] | None:
    """The task's ``common_of(point)``, None for a task without one; a mapping is marked so that
    its words differ from those of any model's identity."""
    if getattr(task, "common_of", None) is None:
        return None
    common = task.common_of(point) if i is None else _asked(task, "common_of", i, point)
    if common is None:
        return None
    if not isinstance(common, Mapping):
        where = f"points[{i}]={dict(point)!r}: " if i is not None else ""
        raise TypeError(f"{where}task {task.name!r}'s common_of returned {short_repr(common)}; it must return a "
                        f"mapping of point fields (or None: no common draws)")
    return {"common_of": {k: v for k, v in common.items() if k != "label"}}  # (a tag: as in a model's key)


def _common_words(task: Task, points: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
    """Each point's two words of its common identity (:func:`_common_identity`), or None where the
    task has no common draws; a ValueError where only some points have them."""
    commons = [_common_identity(task, p, i) for i, p in enumerate(points)]
    given = [c is not None for c in commons]
    if not any(given):
        return None
    if not all(given):
        i, j = given.index(True), given.index(False)
        raise ValueError(f"task {task.name!r}'s common_of gave points[{i}] common draws and points[{j}] none; a "
                         f"sweep's models all share draws or none do (the key's form is one per program)")
    words = np.asarray([_point_words(c, f"points[{i}]") for i, c in enumerate(commons)], dtype=np.uint32)
    if len(points) > 1 and len(np.unique(words, axis=0)) == len(points):
        warnings.warn(f"task {task.name!r}: no two of the {len(points)} points share their common draws (each "
                      f"point's common_of differs, e.g. points[0]'s is {short_repr(commons[0]['common_of'])}): the "
                      f"models are drawn as independently as without them; list every field the points differ "
                      f"in but the replicate (e.g. a learning rate that follows the width)", RuntimeWarning,
                      stacklevel=3)
    return words


def _point_words(point: Mapping[str, Any], where: str = "point") -> tuple[int, int]:
    """Two 32-bit words of the SHA-256 of the point's canonical JSON (``label`` left out)."""
    try:
        plain = _canonical({k: v for k, v in point.items() if k != "label"})
    except TypeError as e:
        raise TypeError(f"{where}={dict(point)!r}: {e}; a point's fields must be JSON values "
                        f"(numbers, strings, bools, None, lists and string-keyed mappings)") from None
    digest = hashlib.sha256(json.dumps(plain, sort_keys=True, allow_nan=True).encode()).digest()
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little")


def _fold_words(root: jax.Array, words: jax.Array) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(root, words[0]), words[1])


_model_keys = jax.jit(jax.vmap(_fold_words, in_axes=(None, 0)))


def model_key(seed: int, point: Mapping[str, Any], task: Any = None) -> jax.Array:
    """The PRNG key :func:`run_sweep` gives the model of ``point`` in a sweep of ``task``
    with ``seed``.

    ``PRNGKey(seed)`` folded with two 32-bit words of the SHA-256 of the model's identity in
    canonical JSON (sorted keys, a whole float written as an int, ``label`` left out): the
    task's ``identity_of(point)`` when it has one, else the point. Pass it to
    ``train_model`` / ``train_random_features`` to reproduce one model of a sweep; give the
    task (``SuperpositionTask(config)``, ``RandomFeatureTask(config)``) so that the point is
    read as the sweep read it.
    """
    check_seed(seed)
    if not isinstance(point, Mapping):
        raise TypeError(f"point={point!r}; point must be a mapping of field names to values")
    if task is not None:
        _check_task(task, "None (the point as given keys the model) or the sweep's Task")
    words = _point_words(_identity(task, point))
    return _fold_words(jax.random.PRNGKey(seed), jnp.asarray(words, dtype=jnp.uint32))


def common_key(seed: int, point: Mapping[str, Any], task: Task) -> jax.Array:
    """The second PRNG key :func:`run_sweep` gives the model of ``point`` in a sweep of a task
    with common draws (``task.common_of(point)`` a mapping): ``PRNGKey(seed)`` folded with the
    two SHA-256 words of ``{"common_of": that mapping without label}``, so points whose
    ``common_of`` agree share it (common random numbers, e.g. one teacher and data set for every
    width). A ValueError for a task or point without.
    """
    check_seed(seed)
    if not isinstance(point, Mapping):
        raise TypeError(f"point={point!r}; point must be a mapping of field names to values")
    _check_task(task, "the sweep's Task")
    common = _common_identity(task, point)
    if common is None:
        raise ValueError(f"task {task.name!r} draws nothing in common for point={dict(point)!r} (its common_of is "
                         f"absent or None): its models take one key, model_key(seed, point, task)")
    return _fold_words(jax.random.PRNGKey(seed), jnp.asarray(_point_words(common), dtype=jnp.uint32))


def _layout(inputs: Any) -> dict[str, tuple[tuple[int, ...], np.dtype]] | None:
    """Each input's shape and dtype as the device gets it (a float64 is float32 where 64-bit
    types are off, as the stacked chunk becomes; None: not a mapping of arrays). An empty
    mapping is one: a task may draw everything from the key."""
    if not isinstance(inputs, Mapping):
        return None
    try:
        return {k: (tuple(np.shape(v)), jax.dtypes.canonicalize_dtype(np.asarray(v).dtype))
                for k, v in inputs.items()}
    except (TypeError, ValueError):
        return None


def _check_task_answers(task: Task, points: Sequence[Mapping[str, Any]], statics: Sequence[Any]) -> None:
    """What ``task`` says of each point, checked before the folder is claimed (had failed
    mid-sweep, a chunk saved, or compiled one shape twice): each static shape hashable, its
    ``bytes_per_model`` an integer, and ``inputs_of`` a mapping of arrays whose names, shapes
    and dtypes agree across the points of one static (a chunk stacks them: an int 1 beside a
    float 0.5 had given a chunk of int inputs and another of float ones, two programs)."""
    first: dict[Hashable, tuple[int, dict]] = {}
    for i, (point, static) in enumerate(zip(points, statics)):
        try:
            hash(static)
        except TypeError:
            raise TypeError(f"points[{i}]: task {task.name!r}'s static_of gives {short_repr(static)}, a "
                            f"{type(static).__name__}; a static shape must be hashable (a tuple, not a list): "
                            f"one compiled program per value") from None
        inputs = _asked(task, "inputs_of", i, point)
        layout = _layout(inputs)
        if layout is None:
            raise TypeError(f"points[{i}]: task {task.name!r}'s inputs_of gives {short_repr(inputs)}; it must be a "
                            f"mapping of names to arrays")
        if static not in first:
            first[static] = (i, layout)
            try:
                check_int("bytes_per_model", task.bytes_per_model(static), 0)
            except (TypeError, ValueError) as e:
                raise type(e)(f"task {task.name!r}'s bytes_per_model({static!r}): {e}") from None
            continue
        j, seen = first[static]
        if layout != seen:
            name = next(k for k in sorted(seen.keys() | layout.keys(), key=str) if seen.get(k) != layout.get(k))

            def text(got):
                return "no such input" if got is None else f"shape {got[0]}, dtype {got[1]}"

            raise ValueError(f"points[{j}] and points[{i}] share the static shape {static!r} (one compiled program), "
                             f"but task {task.name!r}'s inputs_of gives input {name!r} as {text(seen.get(name))} and "
                             f"{text(layout.get(name))}; the models of one static shape need the same input names, "
                             f"shapes and dtypes (cast them in inputs_of, e.g. np.float32(value))")


def _asked(task: Task, method: str, i: int, point: Mapping[str, Any]) -> Any:
    """``task.<method>(point)``, an error it raises naming the point (a bare KeyError 'm' had
    named neither it nor its index): a field the point lacks as a ValueError; a plain
    TypeError or ValueError with the point before its message; any other error as it is,
    with a note naming the point."""
    try:
        return getattr(task, method)(point)
    except KeyError as e:
        key = e.args[0] if len(e.args) == 1 else None
        if isinstance(key, str) and key not in point:
            raise ValueError(f"points[{i}]={point!r} has no field {key!r}, which task {task.name!r} needs "
                             f"(its {method} asked for it)") from None
        e.add_note(f"(raised by task {task.name!r}'s {method} for points[{i}]={point!r})")
        raise
    except (TypeError, ValueError) as e:
        if type(e) not in (TypeError, ValueError):  # (a subclass may take other constructor arguments)
            e.add_note(f"(raised by task {task.name!r}'s {method} for points[{i}]={point!r})")
            raise
        raise type(e)(f"points[{i}]={point!r}: {e}") from e


def _predicted_peak(task: Task, static: Hashable, fn: Callable, inputs, keys, width: int, n_devices: int) -> int:
    """Bytes one device needs for a chunk: ``width`` models in flight (the task's
    ``bytes_per_model``, their outputs included) beside the stacked outputs of the rest of its
    share, which ``lax.map`` holds until the chunk ends (a CPU share of 8 models keeping their
    weights at n = 4096, m = 256 holds 34 MB of them, where one model in flight, at batch 64, needs
    40 MB by XLA's memory analysis)."""
    shapes = jax.eval_shape(fn, inputs, keys)  # (traced once: the call that follows reuses the trace)
    leaves = jax.tree_util.tree_leaves(shapes)
    per_model = sum(math.prod(s.shape) * s.dtype.itemsize for s in leaves) / leaves[0].shape[0]
    share = leaves[0].shape[0] // n_devices
    return width * task.bytes_per_model(static) + math.ceil((share - width) * per_model)


def _compiled_group_fn(task: Task, static: Hashable, mesh: jax.sharding.Mesh, vector_width: int) -> Callable:
    """One compiled program for a chunk of models of one static shape.

    The chunk's model axis is split over the mesh's devices (``shard_map``); each device
    trains its share ``vector_width`` models at a time (``lax.map``, over vmapped batches when
    ``vector_width`` > 1).
    A model is *diverged* when the task says so (an output named ``"diverged"``) or, by
    default, when any of its floating outputs is NaN or infinite. Models never mix:
    a diverged model cannot touch another.
    """

    def one(args):
        inputs, key = args
        outs = dict(task.model_fn(static, inputs, key))
        taken = sorted(set(outs) & (_RESERVED_OUTPUTS | _SAVEZ_ARGUMENTS))
        if taken:  # (traced once, before anything runs)
            raise ValueError(f"task {task.name!r} returns output(s) named {taken}; the engine stores its own columns "
                             f"under {sorted(_RESERVED_OUTPUTS)} in every chunk file, and np.savez, which writes "
                             f"it, takes {sorted(_SAVEZ_ARGUMENTS)} as its own arguments: rename them")
        for k, v in outs.items():  # (traced once, before anything runs)
            leaves = jax.tree_util.tree_leaves(v)
            if len(leaves) != 1 or leaves[0] is not v:  # (a tuple's parts had been stacked on the model axis)
                raise ValueError(f"task {task.name!r} returns output {k!r} as a {type(v).__name__} of "
                                 f"{len(leaves)} array(s); each output must be one array per model: return a "
                                 f"tuple's or mapping's parts under names of their own")
        outs = {k: _storable(v) for k, v in outs.items()}
        if "diverged" in outs:
            verdict = jnp.asarray(outs.pop("diverged"))
            if verdict.shape != ():  # (traced once, before anything runs: had failed once the chunk was saved,
                # leaving a folder neither a resume nor load_sweep could read)
                raise ValueError(f"task {task.name!r} returns 'diverged' of shape {verdict.shape}; it must be one "
                                 f"bool per model (shape ()), e.g. jnp.any(~jnp.isfinite(...))")
            return outs, verdict.astype(bool)
        bad = jnp.zeros((), dtype=bool)
        for v in jax.tree_util.tree_leaves(outs):
            if jnp.issubdtype(v.dtype, jnp.inexact):
                bad = bad | ~jnp.all(jnp.isfinite(v))
        return outs, bad

    def local(inputs, keys):
        if vector_width == 1:
            # One model at a time, unbatched: a size-1 vmap is not free on XLA:CPU (it changes
            # the layout XLA picks for the decoder's gradient product; benchmarks/RESULTS.md).
            return jax.lax.map(one, (inputs, keys))
        return jax.lax.map(one, (inputs, keys), batch_size=vector_width)

    spec = jax.sharding.PartitionSpec("models")
    # check_vma=False: models are independent, so no value needs tracking across devices.
    return jax.jit(jax.shard_map(local, mesh=mesh, in_specs=(spec, spec), out_specs=spec, check_vma=False))
