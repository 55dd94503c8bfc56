"""Test setup: several simulated CPU devices, before JAX starts, and a compilation cache.

The cache is JAX's persistent one in a temporary folder of this test session, removed at exit:
tests that train the same sweep several ways (on 1 and 4 devices, in other chunk sizes, after a
resume) build identical XLA programs inside new ``jax.jit`` objects, and the cache compiles each
of those once. A hit still logs "Finished XLA compilation", so the tests that count compiled
programs count the same. tests/test_sweep.py and tests/test_fidelity.py took 121-125 s with it
and 158-170 s without (2-core CPU). Subprocesses the tests start do not inherit it.

Strict dtype promotion is not switched on suite-wide because optax's Adam bias correction
(``decay ** count`` with an int32 count) fails under it; tests of toyscale's own pure
pieces use the ``strict_promotion`` fixture instead.
"""

import atexit
import contextlib
import logging
import shutil
import tempfile

import jax
import numpy as np
import pytest

jax.config.update("jax_num_cpu_devices", 4)

_CACHE = tempfile.mkdtemp(prefix="toyscale-tests-jax-cache-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


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
