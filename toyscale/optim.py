"""Optimiser pieces: Adam with a signed, per-row, decoupled weight decay on W.

Liu, Liu & Gore (2025), Eq. 2. With the scheduled learning rate eta_t and decay gamma:

* gamma >= 0:  W_i <- W_i - eta_t gamma W_i                       (weak superposition)
* gamma <  0:  W_i <- W_i - eta_t gamma W_i (1/(||W_i|| + eps) - 1) (strong superposition:
  every row is pulled toward unit norm)

applied decoupled (from W before the step, not through Adam's moments), on W only, next
to Adam(0.9, 0.999, eps=1e-8). The schedule is a linear warm-up then a cosine decay to
0.05 x peak. W and b have separate peak learning rates.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from toyscale._checks import _scalar_of, check_float32, check_int, check_real, concrete_real

__all__ = ["signed_row_decay", "warmup_cosine", "superposition_optimizer", "row_decay_direction", "decay_regime",
           "ADAM_EPS"]

ADAM_EPS = 1e-8  # Adam's eps in the paper's optimiser (adamw.py's default)


def row_decay_direction(W: jax.Array, gamma: ArrayLike, eps: float = 1e-8) -> jax.Array:
    """gamma * W_i for gamma >= 0; gamma * W_i (1/(||W_i|| + eps) - 1) for gamma < 0.

    Rows are the last-but-one axis: W has shape [..., n, m]. The decay step is
    ``-eta_t * row_decay_direction(W, gamma)``. A concrete ``eps`` must be > 0 (at 0 a zero row
    gave 0/0); an array of them (one per row, say) broadcasts, each checked where concrete.
    """
    if np.ndim(eps) == 0:
        _check_float32_scalar("eps", eps, low=0.0, strict=True)
    elif not isinstance(eps, jax.core.Tracer) and not np.all(np.asarray(eps, float) > 0):  # (a concrete array)
        raise ValueError(f"eps has {int(np.sum(~(np.asarray(eps, float) > 0)))} value(s) not > 0; every eps must be "
                         f"> 0")
    gamma = jnp.asarray(gamma, W.dtype)
    norms = jnp.linalg.norm(W, axis=-1, keepdims=True)
    factor = jnp.where(gamma >= 0, jnp.ones_like(norms), 1.0 / (norms + eps) - 1.0)
    return gamma * W * factor


def decay_regime(gamma: float) -> str:
    """The regime a decay ``gamma`` sets, by its sign (Eq. 2): ``"strong"`` (superposition) for
    gamma < 0, every row pulled toward unit norm; ``"weak"`` for gamma > 0, rows shrunk unless
    the loss holds them; ``"no decay"`` at 0, plain Adam, which is neither (the scripts leave it
    out of the weak side's laws)."""
    gamma = check_real("gamma", gamma)
    return "strong" if gamma < 0 else "weak" if gamma > 0 else "no decay"


def _check_float32_scalar(name: str, value: ArrayLike, **bounds) -> None:
    """:func:`toyscale._checks.concrete_real` (one real number; a traced one passes), and a
    concrete one that float32 holds (a nonzero number it flushes to 0, such as an eps of 1e-45,
    gave 0/0 in the decay and Adam, and a learning rate of 1e-45 dropped the step silently)."""
    concrete_real(name, value, scalar=True, **bounds)
    value = _scalar_of(value, "biuf")
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        check_float32(name, value)


class SignedRowDecayState(NamedTuple):
    """No state: the decay depends only on the current parameters."""


def signed_row_decay(gamma: ArrayLike, eps: float = 1e-8) -> optax.GradientTransformation:
    """Adds the signed per-row decay direction of Eq. 2 to the updates of a matrix leaf.

    Chain it after ``optax.scale_by_adam`` and before scaling by ``-eta_t``, so that the
    decay is decoupled from Adam and scaled by the scheduled learning rate, exactly like
    AdamW's decoupled weight decay. ``gamma`` may be a traced scalar (swept across models).
    Apply it only to W (e.g. with ``optax.masked``): b is not decayed, and a leaf with fewer
    than two axes (which has no rows) is refused.
    """
    _check_float32_scalar("gamma", gamma)
    _check_float32_scalar("eps", eps, low=0.0, strict=True)

    def init_fn(params):
        del params
        return SignedRowDecayState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("signed_row_decay needs params; pass them to update()")
        for leaf in jax.tree_util.tree_leaves(params):  # (a vector b had been decayed as one row)
            if jnp.ndim(leaf) < 2:
                raise ValueError(f"signed_row_decay got a leaf of shape {jnp.shape(leaf)}; it decays the rows of "
                                 f"matrices [..., n, m]: mask other leaves out (optax.masked), as b is")
        updates = jax.tree_util.tree_map(lambda u, w: u + row_decay_direction(w, gamma, eps), updates, params)
        return updates, state

    return optax.GradientTransformation(init_fn, update_fn)


def _check_schedule(steps: int, warmup: int, final_fraction: float) -> None:
    """The schedule's lengths and floor are static Python numbers: checked here, by name."""
    check_int("steps", steps, 1)
    check_int("warmup", warmup, 0)
    if warmup > steps:
        raise ValueError(f"warmup={warmup}; warmup must not exceed steps={steps}")
    if check_real("final_fraction", final_fraction, low=0.0) > 1:
        raise ValueError(f"final_fraction={final_fraction!r}; final_fraction must be a number in [0, 1]")


def warmup_cosine(steps: int, warmup: int, final_fraction: float = 0.05) -> optax.Schedule:
    """Unit-peak schedule: linear warm-up from 0 over ``warmup`` steps, then cosine to ``final_fraction``.

    Multiply by a peak learning rate to get eta_t. As in the published scripts' ``get_lr``,
    step t (0-based) counts as s = t + 1 in both phases: s / warmup while s < warmup (so the
    first update is not wasted at zero), then the cosine at progress (s - warmup) /
    (steps - warmup), which reaches the peak at s = warmup and exactly ``final_fraction``
    at the last step. With ``warmup == steps`` there is no room for both, and, as the
    published ``get_lr`` does when ``warmup_steps >= n_steps``, the warm-up is dropped: the
    cosine runs at progress s / steps from the first step (it had ramped up to the peak on the
    last step and never decayed). A ``warmup`` above ``steps`` is refused.
    """
    _check_schedule(steps, warmup, final_fraction)
    if warmup == steps:  # the published no-warm-up branch
        warmup = 0
    decay_steps = max(1, steps - warmup)

    def schedule(t):
        s = jnp.asarray(t, jnp.float32) + 1.0
        warm = s / max(1, warmup)
        progress = jnp.clip((s - warmup) / decay_steps, 0.0, 1.0)
        cosine = final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
        return jnp.where(s < warmup, warm, cosine)

    return schedule


def _scale_leaves(scales: dict) -> optax.GradientTransformation:
    """Multiplies each top-level leaf of a dict of updates by its own (traced) scalar."""

    def update_fn(updates, state, params=None):
        del params
        return {k: v * scales[k] for k, v in updates.items()}, state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def superposition_optimizer(
    *, lr_w: ArrayLike, lr_b: ArrayLike, gamma: ArrayLike, steps: int, warmup: int, final_fraction: float = 0.05,
    eps: float = ADAM_EPS,
) -> optax.GradientTransformation:
    """Adam(0.9, 0.999, eps) + decoupled signed row decay on W + warm-up/cosine schedule.

    Args:
      lr_w, lr_b: peak learning rates of W and b (may be traced: swept per model).
      gamma: the signed weight decay of Eq. 2 (may be traced).
      steps, warmup: schedule lengths (static).
      final_fraction: the cosine ends at this fraction of the peak (0.05 in the paper).
      eps: Adam's eps (1e-8 in the paper; training on c x the loss is eps / c).

    Returns:
      An optax transformation over ``{"W": ..., "b": ...}``.
    """
    _check_float32_scalar("lr_w", lr_w, low=0.0, strict=True)
    _check_float32_scalar("lr_b", lr_b, low=0.0, strict=True)
    _check_float32_scalar("gamma", gamma)
    _check_float32_scalar("eps", eps, low=0.0, strict=True)
    return optax.chain(
        optax.scale_by_adam(b1=0.9, b2=0.999, eps=eps),
        optax.masked(signed_row_decay(gamma), {"W": True, "b": False}),
        optax.scale_by_schedule(warmup_cosine(steps, warmup, final_fraction)),
        _scale_leaves({"W": -jnp.asarray(lr_w), "b": -jnp.asarray(lr_b)}),
    )
