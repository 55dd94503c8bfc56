"""What every experiment script shares: its command line and where its outputs go.

Each script in ``experiments/`` takes ``--preset NAME --out DIR`` (plus ``--set``, ``--seed`` and
``--figures``), runs, writes ``DIR/summary.json`` atomically and draws its figure into
``figures/`` (and a copy into DIR).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import hashlib
import json
import numbers
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from toyscale._checks import check_axis, check_real
from toyscale.io import atomic_write_json, exit_interrupted, probe_writable, remove_stale_temp_files

# check_axis: a script's own swept setting (phase_diagram's alphas), refused by name when a
# --set gives a lone value instead of a list, as the grids' own axes are
__all__ = ["experiment_args", "run_experiment_sweep", "finish", "use_compilation_cache", "use_cpu_devices",
           "available_cores", "check_axis", "require_widths", "superposition_points"]


def require_widths(points: Sequence[Mapping[str, Any]], widths: Any, need: int, why: str = "") -> None:
    """Refuses a grid with fewer than ``need`` distinct widths ``m``: a script's width-exponent
    fits would get too few points, after every model had trained.

    Args:
      points: the grid's points (each with its width ``m``).
      widths: the ``widths`` setting as given (named in the message).
      need: distinct widths each fit needs.
      why: an optional reason, put in the message after the need.
    """
    distinct = sorted({p["m"] for p in points})
    if len(distinct) < need:
        raise ValueError(f"widths={widths!r}; each alpha_m fit needs at least {need} distinct widths{why}, got "
                         f"{len(distinct)} {distinct}")


def superposition_points(config: Any, settings: Mapping[str, Any], *, gammas: Sequence[float],
                         frequencies: Sequence[Any], min_widths: int = 2, why: str = "",
                         lr_w: Any = None, lr_b: Any = None) -> list[dict]:
    """A superposition script's grid, checked before anything runs: ``settings``' ``widths`` x
    ``gammas`` x ``frequencies`` x its ``seeds``, with W and b at one peak learning rate,
    ``settings["lr"]`` (or at ``lr_w`` and ``lr_b`` where the script gives its own rules), at
    least ``min_widths`` distinct widths (``why`` says why, in the message), and every point
    checked under ``config`` (a :class:`~toyscale.train.TrainConfig`) as
    :func:`~toyscale.train.sweep_superposition` would.

    The scripts average a width's seeds and fit one curve per gamma and frequencies, so a list
    of learning rates (which :func:`~toyscale.train.superposition_grid` would sweep) is refused
    here, not after every model has trained.
    """
    from toyscale.train import check_superposition_points, superposition_grid

    if lr_w is None:
        lr = settings["lr"]
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):  # (a numpy float32 too)
            raise TypeError(f"lr={lr!r}; lr must be one number, the peak learning rate of W and b (this script "
                            f"averages each width's seeds at one lr: sweep several with "
                            f"toyscale.train.superposition_grid)")
        check_real("lr", lr, low=0.0, strict=True)  # (named as the preset names it: it had been "lr_w=nan")
        lr_w = lr_b = lr
    points = superposition_grid(widths=settings["widths"], gammas=gammas, frequencies=frequencies, lr_w=lr_w,
                                lr_b=lr_b, seeds=settings["seeds"], n=config.n)
    require_widths(points, settings["widths"], min_widths, why)
    if "seed_widen" in settings:  # (the scripts' presets have it: how their intervals over redrawn seeds widen)
        check_seed_widen(settings["seed_widen"], len({p["seed"] for p in points}) > 1, "seeds")
    return check_superposition_points(config, points)


def use_compilation_cache() -> str | None:
    """Turn on JAX's persistent compilation cache for this process; returns its folder.

    Called by the entry points (``python -m toyscale``, ``experiments/*.py`` run as
    scripts), never on import: a repeated run of the same command then loads its compiled
    programs from disk instead of compiling them again (a Chinchilla fit from the command
    line: 8-9 s cold, ~4 s with the cache, on a 2-core CPU). Call it yourself in a notebook or
    a script of your own (also after JAX has compiled something) for the same effect.  Folder:
    ``$TOYSCALE_COMPILATION_CACHE`` if set (``off`` disables it), else
    ``$XDG_CACHE_HOME/toyscale/jax`` (``~/.cache/toyscale/jax``).  A cache folder the user
    already gave JAX (``JAX_COMPILATION_CACHE_DIR``) is left as it is.
    """
    import jax

    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    folder = os.environ.get("TOYSCALE_COMPILATION_CACHE")
    if folder is not None and folder.strip().lower() in ("", "off", "0", "no", "false"):
        return None
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "toyscale", "jax")
    folder = os.path.abspath(os.path.expanduser(folder))  # ("~/cache" had made ./~/cache; one cache for any cwd)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return folder


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def use_cpu_devices(count: int | None = None) -> int | None:
    """Give JAX one CPU device per core for this process; returns the count set, or None.

    Called by the entry points (``python -m toyscale``, ``experiments/*.py`` run as scripts,
    the training benchmark) before JAX starts its backends, never on import. On a CPU the
    sweep engine shards a chunk's models over the local devices, so with one device per core
    each core trains its own model while the matrix products still share XLA's thread pool:
    the bench sweep on a 2-core CPU ran 302-330 model-steps/s against 249-268 with JAX's
    single CPU device (4 devices on the 2 cores: 273-287; benchmarks/RESULTS.md). Results
    do not depend on the device count (tests/test_sweep.py).

    The count is ``count`` if given, else ``$TOYSCALE_CPU_DEVICES`` (``off`` leaves JAX's
    default), else :func:`available_cores`. Nothing changes when the user already chose
    (``JAX_NUM_CPU_DEVICES`` / ``jax_num_cpu_devices``, or
    ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``), or when JAX's backends have
    already started (the setting can no longer take effect then; a RuntimeWarning says so
    when ``count`` was given). On a GPU or TPU host the
    extra CPU devices are unused: sweeps run on the default backend's devices.
    """
    import jax

    explicit = count is not None
    if count is None:
        env = os.environ.get("TOYSCALE_CPU_DEVICES")
        if env is not None and env.strip().lower() in ("", "off", "0", "no", "false"):
            return None
        if env is not None:
            try:
                count = int(env)
            except ValueError:
                count = 0
            if count < 1:
                raise ValueError(f"TOYSCALE_CPU_DEVICES={env!r}; expected a positive int or 'off'")
        else:
            count = available_cores()
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count={count!r}; the number of CPU devices must be a positive int")
    if jax.config.jax_num_cpu_devices >= 0 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # the backends have started: too late for this process
        if explicit:  # (a notebook's call after its first JAX operation had done nothing, silently)
            warnings.warn(f"use_cpu_devices({count}) does nothing: JAX's backends have started in this process "
                          f"({len(jax.devices('cpu'))} CPU device(s)); call it before the first JAX operation "
                          f"(restart the kernel)", RuntimeWarning, stacklevel=2)
        return None
    return count


_IN_SWEEP = False  # run_experiment_sweep's sweep is running (a Ctrl-C there is the engine's to report)
_EXIT_OUTSIDE_SWEEP = False  # use_reliable_interrupt(exit_outside_sweep=True): a script's Ctrl-C elsewhere exits


def _interrupt_outside_gc(signum: int, frame: Any) -> None:
    """SIGINT handler: Python's KeyboardInterrupt, except while a garbage-collection callback
    runs, where Python would print the exception as "Exception ignored" and drop it (JAX
    registers one, ``_xla_gc_callback``: 6 of 30 Ctrl-Cs of a ``toyscale fit`` were lost so);
    there the signal is sent again 10 ms later, when the callback has returned. Installed with
    ``exit_outside_sweep``, outside :func:`run_experiment_sweep`'s sweep it exits at once with
    status 130 and one line instead (importing, fitting, drawing: nothing to save)."""
    callbacks = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        if frame.f_code in callbacks:
            threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT)).start()
            return
        frame = frame.f_back
    if _EXIT_OUTSIDE_SWEEP and not _IN_SWEEP:
        exit_interrupted(f"{os.path.basename(sys.argv[0]) or 'script'}: interrupted")
    raise KeyboardInterrupt


def _is_script(name: str) -> bool:
    """Whether the program running is the script ``name`` itself (``python experiments/NAME.py``),
    not an interactive session or another program that calls its ``main()``."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return (not sys.flags.interactive and not hasattr(sys, "ps1") and isinstance(path, str)
            and os.path.splitext(os.path.basename(path))[0] == name)


def use_reliable_interrupt(exit_outside_sweep: bool = False) -> bool:
    """Makes Ctrl-C reach the program even when it lands in a garbage-collection callback
    (:func:`_interrupt_outside_gc`); a process-wide setting, for an entry point (the experiment
    scripts call it, with ``exit_outside_sweep``: a Ctrl-C outside their sweep then exits at
    once with status 130). Only replaces Python's default SIGINT handler, from the main thread;
    returns whether it did."""
    global _EXIT_OUTSIDE_SWEEP
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return signal.getsignal(signal.SIGINT) is _interrupt_outside_gc
    signal.signal(signal.SIGINT, _interrupt_outside_gc)
    _EXIT_OUTSIDE_SWEEP = bool(exit_outside_sweep)
    return True


def experiment_args(name: str, description: str, presets: Mapping[str, Any],
                    argv: Sequence[str] | None = None, *,
                    prepare: Callable[[dict], Any] | None = None,
                    configs: Mapping[str, type] | None = None) -> argparse.Namespace:
    """Parses ``--preset``, ``--set``, ``--out``, ``--seed``, ``--figures`` and ``--no-progress``.

    The namespace gets ``settings`` (the chosen preset's dict, with every ``--set KEY=VALUE``
    applied), ``out`` (default ``runs/<name>-<preset>``, plus the overrides and a non-zero
    seed when there are any), ``figures`` (default ``figures/`` for a preset as published,
    the output folder for an overridden one or another seed, so that figures/ only ever holds
    the presets' figures), ``figure`` (the figure's path in it,
    ``<name>_<preset>[-overrides][-seedN].png``, so that runs with other settings never
    overwrite each other's figure, even in one ``--figures`` folder), ``plan`` (what
    ``prepare(settings)`` returned: the script builds its configs and grid there, so a bad
    ``--set`` value is reported as a usage error, before anything runs), ``usage_error`` (reports a message as a usage error: exit status 2, no
    traceback) and ``started`` (a ``perf_counter`` timestamp, for the summary's wall time).

    ``configs`` names the dataclass that reads each group of settings (``{"train": TrainConfig}``):
    a field the preset leaves out is then compared with, and read like, the class's default, so
    that ``--set train.loss_scale=1`` (the default, 1.0) runs the preset in the preset's folder.
    """
    parser = argparse.ArgumentParser(prog=name, description=description)
    parser.add_argument("--preset", choices=sorted(presets), default="quick", help="settings to run (default quick)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"change one setting of the preset, e.g. {_examples(presets)} (a dotted path into "
                             f"the preset; VALUE is read as JSON, else as a string; a JSON object is merged "
                             f"into a group; repeatable)")
    parser.add_argument("--out", default=None,
                        help="output folder (default runs/<script>-<preset>[-overrides][-seedN])")
    parser.add_argument("--seed", type=int, default=0, help="sweep seed (default 0)")
    parser.add_argument("--figures", default=None,
                        help="folder for the figure (default figures/, or the output folder when a --set "
                             "changes a setting or --seed is not 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if not 0 <= args.seed < 2**32:
        parser.error(f"--seed {args.seed}: must be in [0, 2**32 - 1]")
    settings = copy.deepcopy(dict(presets[args.preset]))
    for item in args.overrides:
        try:
            _override(settings, item, configs or {})
        except (ValueError, OverflowError) as e:  # (OverflowError: an int too large for the preset's float)
            parser.error(f"--set {item}: {e}")
    # the settings that differ from the preset, however they were written (train.steps=40
    # and train={"steps": 40} are one run, in one folder)
    changed = _changed_leaves(_with_defaults(presets[args.preset], settings, configs or {}), settings)
    # the script itself run as a program (not a REPL, notebook or driver calling its main()):
    # only then may a Ctrl-C end the process at once
    args.as_script = argv is None and _is_script(name)
    if argv is None:  # run as a script, not called from Python (tests pass argv); before
        use_reliable_interrupt(exit_outside_sweep=args.as_script)
        use_compilation_cache()  # prepare(), so that nothing it does can start JAX first
        try:
            use_cpu_devices()
        except ValueError as e:
            parser.error(str(e))
    args.plan = None
    if prepare is not None:
        try:
            args.plan = prepare(copy.deepcopy(settings))
        except (TypeError, ValueError, OverflowError) as e:  # (OverflowError: seeds=1e20, say)
            given = " ".join(f"--set {item}" for item in args.overrides)
            parser.error(f"preset {args.preset!r}{' with ' + given if given else ''}: {e}")
    args.settings = settings
    args.usage_error = parser.error
    tag = _folder_tag(changed) + (f"-seed{args.seed}" if args.seed else "")
    args.out = args.out or os.path.join("runs", f"{name}-{args.preset}{tag}")
    args.figures = args.figures or (args.out if tag else "figures")
    args.figure = os.path.join(args.figures, f"{name}_{args.preset}{tag}.png")
    if os.path.isfile(os.path.join(args.out, "manifest.json")):  # (the script keeps its sweep in <out>/sweep)
        parser.error(f"--out {args.out}: holds a sweep itself (its manifest.json); give the folder above it, in "
                     f"whose sweep/ the script keeps its sweep")
    for flag, folder in (("--out", args.out), ("--figures", args.figures)):
        if os.path.exists(folder) and not os.path.isdir(folder):
            parser.error(f"{flag} {folder}: exists and is not a folder")
        # (before the sweep: a figure folder that cannot be written had been found after it, the summary lost)
        if (why := _unwritable(folder)) is not None:
            parser.error(f"{flag} {folder}: cannot be written there ({why})")
        remove_stale_temp_files(folder)  # (a run killed while writing its summary or figure left one)
    args.started = time.perf_counter()
    return args


def _unwritable(folder: str) -> str | None:
    """Why ``folder`` cannot be written, or None: an existing folder is probed with a temp file;
    a missing one is not made here (a script's parsing leaves no folders behind), but the
    nearest existing folder above it must be one this process can make folders in."""
    if os.path.isdir(folder):
        try:
            probe_writable(folder)
        except OSError as e:
            return e.strerror or str(e)
        return None
    above = os.path.dirname(os.path.abspath(folder))
    while not os.path.exists(above):
        above = os.path.dirname(above)
    if not os.path.isdir(above):
        return f"{above} is a file"
    return None if os.access(above, os.W_OK | os.X_OK) else f"{above} is not writable"


def _examples(presets: Mapping[str, Any]) -> str:
    """Two ``--set`` examples from a preset's own keys: one inside a group, one at the top."""
    preset = presets.get("quick") or next(iter(presets.values()))
    nested = next(((g, k, v) for g, d in preset.items() if isinstance(d, dict) for k, v in d.items()), None)
    top = next(((k, v) for k, v in reversed(list(preset.items())) if not isinstance(v, dict)), None)
    found = ([f"--set {nested[0]}.{nested[1]}={json.dumps(nested[2])}"] if nested else []) \
        + ([f"--set {top[0]}={json.dumps(top[1])}"] if top else [])
    return " or ".join(found)


def _override(settings: dict, item: str, configs: Mapping[str, type] | None = None) -> tuple[str, Any]:
    """Applies ``KEY=VALUE`` to ``settings`` in place; returns (key, parsed value).

    The first part of a dotted key must be one of the preset's settings and every part but
    the last an existing mapping; the last may be new below the top level (a ``TrainConfig``
    field the preset leaves at its default), where the config itself checks the name. A
    JSON object given for a group is merged into it (the group's other settings stay), and a
    whole float given where the preset has an int (``4e1``) is read as that int.
    """
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ValueError("expected KEY=VALUE")
    try:
        value, is_json = json.loads(text), True
    except json.JSONDecodeError:
        value, is_json = text, False
    parts = key.split(".")
    if not all(parts):
        raise ValueError(f"{key!r} has an empty part")
    if parts[0] not in settings:
        raise ValueError(f"{parts[0]!r} is not a setting of this preset; settings are {sorted(settings)}")
    node = settings
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node.get(part), dict):
            raise ValueError(f"{'.'.join(parts[:i + 1])!r} is not a group of settings")
        node = node[part]
    old = node.get(parts[-1])
    if isinstance(old, dict) and not isinstance(value, dict):
        # (the config's fields the preset leaves at their defaults can be set too: they had gone unnamed)
        more = sorted({f.name for f in dataclasses.fields(configs[key]) if f.default is not dataclasses.MISSING
                       or f.default_factory is not dataclasses.MISSING} - set(old)) if key in (configs or {}) else []
        example = f", as {key}.{min(old)}=..." if old else ""
        raise ValueError(f"{key!r} is a group of settings; set one of {sorted(old)} instead"
                         + (f" (or of the ones it leaves at their defaults: {more})" if more else "") + example)
    if not is_json and isinstance(old, (int, float)) and not isinstance(old, bool):
        # (".01" had gone on as text, refused later as "must be one number" with no word of why)
        raise ValueError(f"{text!r} is not a number as JSON writes one, and {key} holds one (the preset has "
                         f"{json.dumps(old)}): VALUE is read as JSON, so write 0.01 for .01 and 1.0 for 1.")
    value = _like(old, value)
    node[parts[-1]] = value
    return key, value


def _like(old: Any, value: Any) -> Any:
    """``value`` merged into the group ``old`` (recursively), or read as an int where ``old``
    is one and ``value`` a whole float, and as a float where ``old`` is one and ``value`` an
    int (in a list too, where ``old`` is a list of ints, or of numbers with a float:
    ``widths=[3,4,6.0]``, as ``train.n=64.0``; ``lr=1`` as ``lr=1.0``, one run in one folder)."""
    if isinstance(old, dict) and isinstance(value, dict):
        return {**old, **{k: _like(old.get(k), v) for k, v in value.items()}}
    if isinstance(old, list) and old and isinstance(value, list):
        if all(_is_int(v) for v in old):
            return [_like(old[0], v) for v in value]
        if all(_is_int(v) or isinstance(v, float) for v in old):
            return [_like(0.0, v) for v in value]
    if _is_int(old) and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(old, float) and _is_int(value):
        return float(value)
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _with_defaults(preset: Mapping[str, Any], settings: dict, configs: Mapping[str, type]) -> dict[str, Any]:
    """``preset`` with each group in ``configs`` completed by its dataclass's defaults; reads a
    value set in ``settings`` for a field the preset leaves out like its default (an int as the
    float default's float, :func:`_like`), and a changed value as its config spells it (where the
    group makes a valid config), in place."""
    filled = dict(preset)
    for group, cls in configs.items():
        if not isinstance(preset.get(group), Mapping):
            raise TypeError(f"configs: {group!r} is not a group of settings of this preset")
        defaults = {f.name: list(f.default) if isinstance(f.default, tuple) else f.default  # (as JSON gives it:
                    for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}  # [] is the default ())
        for k, v in settings[group].items():
            if k not in preset[group] and k in defaults:
                settings[group][k] = _like(defaults[k], v)
        filled[group] = {**defaults, **preset[group]}
        try:  # (one spelling per value, as the config keeps it: common_across="N" is ["N"], one folder)
            canonical = json.loads(json.dumps(cls.from_dict(settings[group]).to_dict()))
        except (TypeError, ValueError, OverflowError):  # (a bad value: prepare() reports it)
            canonical = {}
        for k, v in settings[group].items():
            if k in canonical and canonical[k] != v and filled[group].get(k) != v:
                settings[group][k] = canonical[k]
    return filled


def _changed_leaves(preset: Mapping[str, Any], settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{dotted key: value}`` of every setting whose value differs from the preset's."""
    out = {}
    for k, v in settings.items():
        old = preset.get(k) if isinstance(preset, Mapping) else None
        if isinstance(v, Mapping) and isinstance(old, Mapping):
            out.update(_changed_leaves(old, v, f"{prefix}{k}."))
        elif k not in preset or old != v or isinstance(old, bool) != isinstance(v, bool):
            out[f"{prefix}{k}"] = v
    return out


def _folder_tag(changed: Mapping[str, Any]) -> str:
    """``-key=value...`` for a run's default folder: sorted, file-name safe, at most ~100 characters.

    Characters unsafe in a file name become ``_``. Where a string value held some (two such
    strings, ``tag="a b"`` and ``tag="a/b"``, would otherwise share a folder), and where the
    text is cut short, a digest of the full text is appended. Numbers, lists and objects are
    written as JSON, one spelling per value, so their folders are told apart without one
    (and keep the names they always had).
    """
    if not changed:
        return ""
    full = "-".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(changed.items()))
    text = re.sub(_UNSAFE, "_", full)
    unsafe = any(_unsafe_text(v) for v in changed.values())
    if len(text) > 100 or unsafe:
        # (the digest of the safe text where no string needs the full one: long list overrides
        # keep the folder names they had before unsafe strings got a digest)
        text = text[:80] + "-" + hashlib.sha256((full if unsafe else text).encode()).hexdigest()[:12]
    return "-" + text


_UNSAFE = r"[^A-Za-z0-9._=+-]"


def _unsafe_text(value: Any) -> bool:
    """Whether a string in ``value`` (itself, or inside a list or an object) holds a character
    unsafe in a file name."""
    if isinstance(value, str):
        return re.search(_UNSAFE, value) is not None
    if isinstance(value, Mapping):
        return any(_unsafe_text(k) or _unsafe_text(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_unsafe_text(v) for v in value)
    return False


def run_experiment_sweep(args: argparse.Namespace, sweep: Callable[..., Any], *sweep_args: Any,
                         **options: Any) -> Any:
    """A script's sweep into ``DIR/sweep``: ``sweep(*sweep_args, seed=args.seed, out=DIR/sweep,
    progress=not args.no_progress, **options)``.

    A folder that already holds another sweep (an earlier run into the same ``--out`` with
    other settings or another ``--seed``), chunk files without a manifest, a manifest or chunk
    file that cannot be read, or a file where the folder goes, is reported as a usage error
    (exit status 2, the engine's message, no traceback): the engine raises
    :class:`toyscale.sweep.FolderInUseError` for those, before anything compiles or trains.
    Ctrl-C ends it with exit status 130 and a line saying how to resume instead of a traceback
    (the finished chunks are on disk); run as a script, at once
    (:func:`toyscale.io.exit_interrupted`), called from Python as ``SystemExit(130)``.
    Any other error propagates unchanged.
    """
    global _IN_SWEEP
    from toyscale.sweep import FolderInUseError  # (here: the runner itself imports nothing of JAX)

    _IN_SWEEP = True
    try:
        return sweep(*sweep_args, seed=args.seed, out=os.path.join(args.out, "sweep"),
                     progress=not args.no_progress, **options)
    except FolderInUseError as e:
        args.usage_error(f"--out {args.out}: {e}")
    except KeyboardInterrupt:  # (the engine has said what is saved); no traceback, exit status 130
        _IN_SWEEP = False  # (a second Ctrl-C from here on exits at once too)
        message = f"{os.path.basename(sys.argv[0]) or 'script'}: interrupted; rerun the same command to resume"
        if getattr(args, "as_script", False):
            exit_interrupted(message)
        print(message, file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        _IN_SWEEP = False


def exponent_row(name: str, fit: Any, want: float, sign: float = 1.0) -> tuple[str, dict]:
    """A printed row of an exponent table (fitted ± stderr, 95 % t-interval, predicted, R^2,
    points) and its summary entry, for the exponent ``sign x fit.exponent`` of a power-law fit."""
    value = sign * fit.exponent
    lo, hi = sorted(sign * v for v in fit.t_interval())
    line = (f"{name:<37} {value:6.3f} ± {fit.stderr['exponent']:.3f}  [{lo:6.3f}, {hi:6.3f}]  {want:.3f}  "
            f"(R^2 = {fit.r2:.3f}, {fit.n_points} points)")
    return line, {"fitted": value, "stderr": fit.stderr["exponent"], "t_interval": [lo, hi], "predicted": want,
                  "r2": fit.r2, "points": fit.n_points}


def frontier_fits(fits: dict, why: dict, names: tuple[str, str], widths: Any, t: Any, curves: Any,
                  bins: int) -> tuple[Any, int]:
    """The bracketed frontier of loss curves (:func:`toyscale.fitting.curves_frontier`) into an
    exponent table's ``fits``: ``fits[names[0]]`` the allocation's (N_opt ~ C^a), ``fits[names[1]]``
    the power law of its losses; where there is none, the reason in ``why`` under both names.
    Returns (the frontier or None, the number of budgets with an optimum)."""
    from toyscale.fitting import curves_frontier  # (here: the runner itself imports nothing of JAX)

    frontier, loss_fit, budgets, reason = curves_frontier(widths, t, curves, bins)
    if frontier is None:
        why[names[0]] = why[names[1]] = reason
    else:
        fits[names[0]], fits[names[1]] = frontier.fit, loss_fit
    return frontier, budgets


def width_fit(fits: dict, why: dict, name: str, widths: Any, losses: Any, what: str, hint: str = "") -> None:
    """A power law of ``losses`` against ``widths`` over the finite ones into ``fits[name]``; with
    fewer than 3 (through 2 points a power law has no error bar: it had printed "± nan"), the
    reason in ``why[name]``: "<count> width(s) with <what> (the fit needs 3<hint>)"."""
    import numpy as np

    from toyscale.fitting import fit_power_law  # (here: the runner itself imports nothing of JAX)

    losses = np.asarray(losses, dtype=float)
    kept = np.isfinite(losses)
    if kept.sum() >= 3:
        fits[name] = fit_power_law(np.asarray(widths, float)[kept], losses[kept])
    else:
        why[name] = f"{int(kept.sum())} width(s) with {what} (the fit needs 3{hint})"


def check_seed_resamples(value: Any) -> int:
    """A preset's ``seed_resamples`` (the redraws of :func:`toyscale.scaling.redraw_table`),
    checked before the sweep runs: 0 (none) or at least the 40 a 95 % interval needs."""
    from toyscale._checks import check_int
    from toyscale.fitting import _too_few_resamples

    value = check_int("seed_resamples", value, 0)
    why = _too_few_resamples(value, 0.95)
    if why:
        raise ValueError(f"seed_resamples={value}; {why}")
    return value


def check_seed_widen(value: Any, resamples: int | bool, redraws: str = "seed_resamples") -> str:
    """A preset's ``seed_widen`` (how :func:`toyscale.scaling.redraw_table`, or the
    superposition scripts' :func:`toyscale.scaling.width_exponent`, widens its intervals over
    redrawn seeds for few seeds: "sqrt", by sqrt(k / (k - 1)) only, or "t", also by Student's t
    on the Welch-Satterthwaite degrees of freedom; their coverage is measured in
    benchmarks/fit_calibration.py studies 3 and 7), checked before the sweep runs; "t" needs redraws
    (``resamples`` > 0), or it would be dropped without a word. ``redraws`` names the setting
    that gives them: ``"seed_resamples"``, or ``"seeds"`` where a script redraws whenever its
    preset has replicate seeds (``resamples`` then says whether it has)."""
    from toyscale.scaling import check_widen

    check_widen(value, "seed_widen")
    if value != "sqrt" and not resamples:
        given, fix = (("one seed per point", "give seeds=2 or more (or two or more seed labels), or seed_widen=sqrt")
                      if redraws == "seeds" else
                      ("seed_resamples=0", "give seed_resamples too (at least 40), or leave seed_widen out"))
        raise ValueError(f"seed_widen={value!r} with {given}; seed_widen says how the intervals over redrawn seeds "
                         f"are widened: {fix}")
    return value


def redraw_exponents(result: Any, fits_of: Callable[[Any], Mapping[str, Any]], signs: Mapping[str, float],
                     resamples: int, paired: bool = False, widen: str = "sqrt") -> Any:
    """The intervals over redrawn seeds of a script's exponent table (a
    :class:`toyscale.scaling.RedrawnTable`, for :func:`print_exponents`): ``fits_of(records)``
    refits the whole table from records, each fit's exponent signed by ``signs`` as printed, on
    ``resamples`` redraws of ``result``'s seeds (:func:`toyscale.scaling.redraw_table`, its
    intervals widened as ``widen`` says, a preset's ``seed_widen``); None for ``resamples`` 0 (a
    preset's ``seed_resamples``)."""
    if not resamples:
        return None
    from toyscale.scaling import redraw_table  # (here: the runner itself imports nothing of JAX)

    return redraw_table(result, lambda records: {k: signs[k] * f.exponent for k, f in fits_of(records).items()},
                        resamples=resamples, paired=paired, widen=widen)


def frontier_summary(frontier: Any, budgets: int, names: tuple[str, str]) -> dict | None:
    """A frontier for a summary: its budgets ``C``, their optima and losses under ``names``, the
    budgets left out (not bracketed) and the fit's notes; None for none."""
    if frontier is None:
        return None
    return {"C": frontier.C.tolist(), names[0]: frontier.N_opt.tolist(), names[1]: frontier.L_opt.tolist(),
            "budgets_left_out": budgets - frontier.C.size, "notes": list(frontier.notes)}


def print_exponents(rows: Mapping[str, tuple[str, float]], fits: Mapping[str, Any], why: Mapping[str, str],
                    want: Mapping[str, float], redrawn: Any = None) -> dict[str, dict]:
    """Prints an exponent table: a header, then per key of ``rows`` (its name and sign) the
    :func:`exponent_row` of ``fits[key]`` against ``want[key]``, or "not fitted: ``why[key]``";
    with ``redrawn`` (a :class:`toyscale.scaling.RedrawnTable` of the signed exponents), each
    fitted row's interval over redrawn seeds too, or why there is none, and how they were
    drawn under the table. Returns the summary entries by key (``seed_interval``: [lo, hi],
    nan where there is none, ``seed_interval_why`` then)."""
    out = {}
    print(f"{'exponent':<37} {'fitted':>6}          95% t-interval    predicted")
    for key, (name, sign) in rows.items():
        if key in fits:
            line, out[key] = exponent_row(name, fits[key], want[key], sign)
            if redrawn is not None and key in redrawn.intervals:
                line += redrawn.text(key)
                out[key]["seed_interval"] = list(redrawn.intervals[key])
                if key in redrawn.why:
                    out[key]["seed_interval_why"] = redrawn.why[key]
        else:
            line, out[key] = f"{name:<37} not fitted: {why[key]}", {"fitted": None, "predicted": want[key],
                                                                    "why": why[key]}
        print(line)
    if redrawn is not None and any(key in fits and key in redrawn.intervals and key not in redrawn.why
                                   for key in rows):  # (else: each row's why)
        print(f"  (redrawn seeds: {redrawn.note})")
    return out


def print_frontier(frontier: Any, budgets: int, optima: str, caveat: str = "", redrawn: bool = False) -> None:
    """The lines that say which budgets of a bracketed frontier (:func:`toyscale.fitting.bracketed_frontier`)
    were fitted, and that the ``optima``'s t-intervals (e.g. "N* and L*") are not seed-to-seed ones
    (``redrawn``: the script redrew its seeds, and its table's intervals over redrawn seeds estimate those)."""
    print(f"frontier: {frontier.C.size} budgets bracket their optimum (widths "
          + ", ".join(f"{int(n)}" for n in frontier.N_opt) + f"); {budgets - frontier.C.size} left out, their "
          f"lowest loss at the smallest or largest width they hold")
    # (the budgets' optima come from the same few runs, so the fits' intervals miss how much the exponents
    # move from one draw of the models to another: measured in README, across --seed)
    print(f"  (the {optima} t-intervals are fits' over budgets whose optima come from the same runs: not the "
          f"exponents' seed-to-seed uncertainty, which {'the intervals over redrawn seeds estimate and ' * redrawn}"
          f"reruns with other --seed values measure{caveat})")


# (benchmarks/superposition_common_draws.py: the headline quick preset, five sweep seeds each way;
# benchmarks/common_draws_check.py --checks regimes: random_features.py quick, four each way)
COMMON_DRAWS_NOTE = ("the models share their draws across {fields} (common_across), so the points of a curve are "
                     "correlated: a fit's standard error and t-interval assume independent points (measured against "
                     "reruns, the standard error understated the exponent's spread across sweep seeds 1.4-2.2x in "
                     "the superposition headline's strong regime and 4.3x in random features' variance-limited "
                     "regime in N); where a script prints an interval over redrawn seeds, it redraws one set of "
                     "seeds for every shared width (m) or size (N, T), and in those checks it too fell short in "
                     "places (by 1.2-3.1x and 2x); the spread of reruns with other --seed values is the error bar "
                     "to trust")


def read_summary(folder: str, script: str = "the script") -> dict:
    """The ``DIR/summary.json`` that :func:`finish` wrote into ``folder``, for a tool that compares
    runs (benchmarks/phase_interval_check.py, benchmarks/seed_spread.py); exits with a message
    naming the path, and ``script`` to run, where there is none."""
    path = os.path.join(folder, "summary.json")
    if not os.path.isfile(path):
        sys.exit(f"{path}: no such file (run {script} with --out {folder} first)")
    with open(path) as f:
        return json.load(f)


def finish(args: argparse.Namespace, name: str, summary: dict, figure_path: str | None = None) -> dict:
    """Adds preset, seed and wall time to ``summary``, writes DIR/summary.json, prints where.

    Where the summary's ``config`` shares draws across points (``common_across``), it first
    prints, and records as ``common_draws_note``, that the fits' standard errors assume
    independent points (:data:`COMMON_DRAWS_NOTE`).
    """
    config = summary.get("config")
    shared = config.get("common_across") if isinstance(config, Mapping) else None
    if shared:
        note = COMMON_DRAWS_NOTE.format(fields=", ".join(shared))
        print(f"note: {note}")
        summary = {**summary, "common_draws_note": note}
    summary = {"experiment": name, "preset": args.preset, "seed": args.seed, "settings": args.settings,
               **summary, "wall_seconds": round(time.perf_counter() - args.started, 1)}
    path = os.path.join(args.out, "summary.json")
    atomic_write_json(path, summary)
    print(f"wrote {path}" + (f" and {figure_path}" if figure_path else "") + f" in {summary['wall_seconds']} s")
    return summary
