"""Test setup: several simulated CPU devices, before JAX starts.

Strict dtype promotion is not switched on suite-wide because optax's Adam bias correction
(``decay ** count`` with an int32 count) fails under it; tests of toyscale's own pure
pieces use the ``strict_promotion`` fixture instead.
"""

import contextlib
import logging

import jax
import pytest

jax.config.update("jax_num_cpu_devices", 4)


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
