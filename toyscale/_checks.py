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
    """``key`` if it is a PRNG key: a typed key (``jax.random.key``) or a raw uint32[2]
    (``jax.random.PRNGKey``)."""
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is not None and (jnp.issubdtype(dtype, jax.dtypes.prng_key) or (dtype == np.uint32 and shape == (2,))):
        return key
    raise TypeError(f"{name}={key!r}; {name} must be a PRNG key, e.g. jax.random.PRNGKey(0) or jax.random.key(0)")
