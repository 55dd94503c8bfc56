"""Measurements of a trained superposition model's geometry.

Liu, Liu & Gore (2025), Sec. 3-5: row norms ||W_i||; the fraction of represented
features phi_{1/2} = #{i: ||W_i|| > 1/2} / n (Fig. 3b) and phi_1 = #{||W_i|| > 1} / n;
squared overlaps (W_i . W_j)^2 / (|W_i|^2 |W_j|^2), i != j, between represented rows
(Fig. 6). For random unit vectors in R^m the squared overlap is Beta(1/2, (m-1)/2):
mean 1/m, variance 2(m-1)/(m^2 (m+2)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from toyscale._checks import check_int, concrete_real

__all__ = ["row_norms", "represented_fraction", "overlap_stats", "random_overlap_moments"]


def row_norms(W: jax.Array) -> jax.Array:
    """||W_i|| for every feature i; W has shape [n, m]."""
    if jnp.ndim(W) != 2:
        raise ValueError(f"W has shape {jnp.shape(W)}; W must be [n, m] (one row per feature)")
    return jnp.linalg.norm(W, axis=-1)


def represented_fraction(W: jax.Array, threshold: float = 0.5) -> jax.Array:
    """phi_t = #{i : ||W_i|| > t} / n; t = 1/2 gives phi_{1/2}, t = 1 gives phi_1."""
    concrete_real("threshold", threshold, low=0.0)
    return jnp.mean(row_norms(W) > threshold)


def overlap_stats(W: jax.Array, threshold: float = 0.5, block: int = 512) -> dict[str, jax.Array]:
    """Mean and variance of squared overlaps between normalised represented rows.

    Both moments come from the n x n Gram matrix of unit rows, built ``block`` rows at a
    time so memory stays O(block x n) even for n = 10^4 (cost n^2 m per model, once).

    Args:
      W: [n, m] weights.
      threshold: rows with norm above it count as represented.
      block: rows of the Gram matrix computed at once.

    Returns:
      ``{"overlap_mean", "overlap_var", "n_represented"}``; the moments are NaN when fewer
      than two rows are represented.
    """
    check_int("block", block)
    concrete_real("threshold", threshold, low=0.0)
    norms = row_norms(W)
    n = W.shape[0]
    mask = (norms > threshold).astype(W.dtype)
    unit = W / jnp.where(norms > 0, norms, 1.0)[:, None] * mask[:, None]
    count = jnp.sum(mask)
    pairs = count * (count - 1)
    block = min(block, n)
    pad = (-n) % block
    unit_p = jnp.pad(unit, ((0, pad), (0, 0)))

    def moments(totals, rows):
        g2 = (rows @ unit.T) ** 2
        return (totals[0] + jnp.sum(g2), totals[1] + jnp.sum(g2 * g2)), None

    zero = jnp.zeros((), W.dtype)
    (total2, total4), _ = jax.lax.scan(moments, (zero, zero), unit_p.reshape(-1, block, unit.shape[1]))
    # The diagonal contributes exactly one per represented row to each sum.
    mean = (total2 - count) / pairs
    second = (total4 - count) / pairs
    ok = count >= 2
    nan = jnp.asarray(jnp.nan, W.dtype)
    return {
        "overlap_mean": jnp.where(ok, mean, nan),
        "overlap_var": jnp.where(ok, second - mean**2, nan),
        "n_represented": count.astype(jnp.int32),
    }


def random_overlap_moments(m: int) -> tuple[float, float]:
    """Mean 1/m and variance 2(m-1)/(m^2 (m+2)) of the squared overlap of random unit vectors in R^m."""
    m = check_int("m", m)
    return 1.0 / m, 2.0 * (m - 1) / (m**2 * (m + 2))
