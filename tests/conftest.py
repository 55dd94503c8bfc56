"""Test setup: several simulated CPU devices, before JAX starts, and a compilation cache.

The cache is JAX's persistent one in a temporary folder of this test session, removed at exit:
tests that train the same sweep several ways (on 1 and 4 devices, in other chunk sizes, after a
resume) build identical XLA programs inside new ``jax.jit`` objects, and the cache compiles each
of those once. A hit still logs "Finished XLA compilation", so the tests that count compiled
programs count the same. tests/test_sweep.py and tests/test_fidelity.py took 121-125 s with it
and 158-170 s without (2-core CPU). pytest-xdist's workers share one folder (they inherit it from
the controller, which removes it): the fitting, multistart, README and command-line files took 232
and 201 s so, 241 and 223 s with a folder per worker (two runs each, 2-core CPU). Subprocesses the
tests start do not use it.

XLA compiles the tests' programs with most of its optimizations off
(``jax_disable_most_optimizations``, for the tests' subprocesses too): the suite is compile-bound
(62 % of its test time was XLA compiling, benchmarks/suite_compile_time.py); three small
superposition training programs compiled in 2.6 s so against 4.4 s, and a fresh clone's suite
took 680 s against 821 s (2-core CPU; benchmarks/RESULTS.md, fortieth session). With it, the CPU
backend's older fusion emitters (``xla_cpu_use_fusion_emitters`` off, see below) halved the
suite's compile time (368 s against 728 s; its tests' time 915 s against 1,401 s; forty-first
session). These change the code XLA emits, not what it computes: outputs move by float32 rounding
(losses by up to 3.2e-7 relative, a row norm of 0.0057 by 3.4e-8, tests/test_fidelity.py). The
tests that pin the program a user runs (its bits across chunk sizes, device counts, resumes and
grids, XLA's memory analysis, a float64 precision) are marked ``compiled_as_users_do`` and
compile with the optimizations on, as are those marked ``runs_long``, whose programs run long
enough that optimizing them pays: they took 2-34 s longer each with the optimizations off (the
bootstrap and broken-power-law fits, the plain engine's sweep), where the suite's other tests
took up to 17 s less (two whole-suite runs with benchmarks/suite_compile_time.py, one each way,
2-core CPU).

Strict dtype promotion is not switched on suite-wide because optax's Adam bias correction
(``decay ** count`` with an int32 count) fails under it; tests of toyscale's own pure
pieces use the ``strict_promotion`` fixture instead.
"""

import atexit
import contextlib
import functools
import logging
import os
import shutil
import signal
import tempfile

import jax
import numpy as np
import pytest
from jax._src import compiler as _compiler  # (see _with_suite_emitters)

jax.config.update("jax_num_cpu_devices", 4)
# (the flag is read at each compile; the environment variable reaches the tests' subprocesses)
os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"
jax.config.update("jax_disable_most_optimizations", True)

# A shell starts a background job (`pytest &`, or `( pytest & )` in a script) with SIGINT ignored, and
# its subprocesses inherit that: the scripts then rightly leave Ctrl-C alone, and the four tests that
# send a subprocess SIGINT failed (one after a 60 s wait). Python's own handler here is reset to the
# default in each subprocess, as from an interactive shell.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_CACHE = os.environ.get("_TOYSCALE_TESTS_JAX_CACHE")
if _CACHE is None:  # the first process of the session (pytest-xdist's controller): its workers inherit the folder
    _CACHE = os.environ["_TOYSCALE_TESTS_JAX_CACHE"] = tempfile.mkdtemp(prefix="toyscale-tests-jax-cache-")
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
    # The scripts and commands the tests run as subprocesses turn a cache on as a user's would
    # (toyscale.runner.use_compilation_cache): theirs is a folder of this session, not the user's
    # ~/.cache/toyscale/jax (33 files written there in a run). A folder of their own, as that one was: with
    # this one shared, the subprocess-heavy files took 322 and 283 s against 286 and 257 s (separate: 309 s).
    os.environ["TOYSCALE_COMPILATION_CACHE"] = tempfile.mkdtemp(prefix="toyscale-tests-subprocess-cache-")
    atexit.register(shutil.rmtree, os.environ["TOYSCALE_COMPILATION_CACHE"], ignore_errors=True)
    os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)  # (the user's own, which would win over it)
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

# With the optimizations off, XLA's CPU backend also emits its fusions the older way (its newer
# fusion emitters off): a benchmark's 14 small superposition and random-features programs compiled
# in 1.7-2.3 s in all so (eight runs) against 3.8-5.0 s (six; 2-core CPU; benchmarks/RESULTS.md,
# forty-first session). Not for users: the headline quick preset took 85.5 s so against 86.8 s.
# jax has no global setting for one compile option, so each compile's options get it here, with
# the newer emitters when the optimizations are on (a marked test); the tests' subprocesses get it
# in XLA_FLAGS (taken out again inside a marked test; the few tests that give a subprocess
# XLA_FLAGS of its own leave it out). The persistent cache keys on both.
_FUSION_EMITTERS = "xla_cpu_use_fusion_emitters"
_OLD_EMITTERS_FLAG = f"--{_FUSION_EMITTERS}=false"


def _with_suite_emitters(get_compile_options):
    @functools.wraps(get_compile_options)
    def get(*args, env_options_overrides=None, **kwargs):
        overrides = dict(env_options_overrides or {})
        overrides.setdefault(_FUSION_EMITTERS, not jax.config.values["jax_disable_most_optimizations"])
        return get_compile_options(*args, env_options_overrides=overrides, **kwargs)

    return get


_compiler.get_compile_options = _with_suite_emitters(_compiler.get_compile_options)
if _OLD_EMITTERS_FLAG not in os.environ.get("XLA_FLAGS", "").split():  # (pytest-xdist's workers inherit it)
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_OLD_EMITTERS_FLAG}".strip()


def _xla_flags_without_old_emitters():
    return " ".join(f for f in os.environ["XLA_FLAGS"].split() if f != _OLD_EMITTERS_FLAG)


@contextlib.contextmanager
def _optimizations_on():
    """XLA's optimizations on inside the block, as outside the suite (and in subprocesses started
    there); the in-memory caches are cleared either side, so that no program compiled the other
    way is reused (the persistent cache keys on the setting)."""
    before = (jax.config.values["jax_disable_most_optimizations"], os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"],
              os.environ["XLA_FLAGS"])
    jax.clear_caches()
    jax.config.update("jax_disable_most_optimizations", False)
    os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "0"
    os.environ["XLA_FLAGS"] = _xla_flags_without_old_emitters()
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", before[0])
        os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = before[1]
        os.environ["XLA_FLAGS"] = before[2]
        jax.clear_caches()


@pytest.fixture(autouse=True)
def _marked_optimizations_on(request):
    """A test marked ``compiled_as_users_do`` or ``runs_long`` runs inside ``_optimizations_on``."""
    if not any(request.node.get_closest_marker(name) for name in ("compiled_as_users_do", "runs_long")):
        yield
        return
    with _optimizations_on():
        yield


@pytest.fixture(scope="session")
def optimizations_on():
    """``with optimizations_on():`` compiles as a marked test does, for a module-scoped fixture
    (set up before any one test's mark applies)."""
    return _optimizations_on


@pytest.fixture
def strict_promotion():
    with jax.numpy_dtype_promotion("strict"):
        yield


@pytest.fixture
def xla_compilations():
    """``with xla_compilations() as names:`` collects the names of the programs XLA compiles
    inside the block (e.g. ``"jit(local)"``), through ``jax.log_compiles``."""

    @contextlib.contextmanager
    def collect():
        names = []

        class Catch(logging.Handler):
            def emit(self, record):
                msg = record.getMessage()
                if msg.startswith("Finished XLA compilation of "):
                    names.append(msg[len("Finished XLA compilation of "):].split(" in ")[0])

        handler = Catch()
        logging.getLogger("jax").addHandler(handler)
        try:
            with jax.log_compiles(True):
                yield names
        finally:
            logging.getLogger("jax").removeHandler(handler)

    return collect


@pytest.fixture
def collapsed_offset_data():
    """(m, y): 5 widths x 2 seeds of y = 2 m^-0.5 + 0.1 with 5 % noise, on which
    ``fit_power_law(offset=True)`` puts the offset on ~0 (a true offset the data cannot show)."""
    m = np.repeat([8.0, 16, 32, 64, 128], 2)
    return m, (2 * m**-0.5 + 0.1) * np.exp(0.05 * np.random.default_rng([99, 2]).standard_normal(m.size))


# The slowest files first. pytest-xdist hands whole files to its two workers (--dist loadfile) in
# collection order (--no-loadscope-reorder: it would otherwise order them by their count of tests,
# which left the README's blocks, ~40 s in 4 tests, and the fidelity sweeps, ~50 s in 19, to the end,
# where one worker ran them while the other had finished). Seconds of one worker per file, from a
# run with benchmarks/suite_compile_time.py on a 2-core CPU with most of XLA's optimizations and its
# newer fusion emitters off (2026-12-07, forty-first session; a file's time moves by up to half between
# runs): experiments 186, sweep 121, random_features 93, fitting 82, fitting_extra 79, train 70,
# fidelity 54, cli_fit 34, superposition 32, theory 31, multistart 29, readme 26, data 25, plrf 21;
# the rest 12 or less.
_SLOWEST_FIRST = ("test_experiments.py", "test_sweep.py", "test_random_features.py", "test_fitting.py",
                  "test_fitting_extra.py", "test_train.py", "test_fidelity.py", "test_cli_fit.py",
                  "test_superposition.py", "test_theory.py", "test_multistart.py", "test_readme.py", "test_data.py",
                  "test_plrf.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(_SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # (stable: each file's own order kept)
