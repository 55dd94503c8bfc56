"""Measurements of a trained superposition model's geometry.

Liu, Liu & Gore (2025), Sec. 3-5: row norms ||W_i||; the fraction of represented
features phi_{1/2} = #{i: ||W_i|| > 1/2} / n (Fig. 3b) and phi_1 = #{||W_i|| > 1} / n;
squared overlaps (W_i . W_j)^2 / (|W_i|^2 |W_j|^2), i != j, between represented rows
(Fig. 6). For random unit vectors in R^m the squared overlap is Beta(1/2, (m-1)/2):
mean 1/m, variance 2(m-1)/(m^2 (m+2)). The paper finds the rows with norm above 1 look like
an equiangular tight frame; :func:`welch_bound` is the mean squared overlap such a frame of
as many rows would have, to compare them with.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from toyscale._checks import check_int, concrete_real

__all__ = ["row_norms", "represented_fraction", "overlap_stats", "random_overlap_moments", "welch_bound"]


def _weights(W: jax.Array) -> jax.Array:
    """``W`` as an array, if it is a real [n, m] matrix."""
    W = jnp.asarray(W)
    if jnp.ndim(W) != 2:
        raise ValueError(f"W has shape {jnp.shape(W)}; W must be [n, m] (one row per feature)")
    if jnp.issubdtype(W.dtype, jnp.complexfloating):  # (a float32 cast had dropped the imaginary parts)
        raise TypeError(f"W has dtype {W.dtype}; W must be real (a model's weights)")
    return W


def row_norms(W: jax.Array) -> jax.Array:
    """||W_i|| for every feature i; W has shape [n, m]."""
    W = _weights(W)
    # in at least float32, as overlap_stats: a bfloat16 norm of 0.50098 had rounded to 0.5 (not represented) and a
    # float16 row of norm 300 overflowed to inf
    if not (jnp.issubdtype(W.dtype, jnp.floating) and jnp.finfo(W.dtype).bits >= 32):
        W = W.astype(jnp.float32)
    return jnp.linalg.norm(W, axis=-1)


def represented_fraction(W: jax.Array, threshold: float = 0.5) -> jax.Array:
    """phi_t = #{i : ||W_i|| > t} / n; t = 1/2 gives phi_{1/2}, t = 1 gives phi_1.

    A row with a non-finite norm (a non-finite entry, or a float32 norm that overflows) is not
    represented, as in :func:`overlap_stats`' count."""
    concrete_real("threshold", threshold, low=0.0, scalar=True)
    norms = row_norms(W)
    return jnp.mean(jnp.isfinite(norms) & (norms > threshold))


def overlap_stats(W: jax.Array, threshold: float = 0.5, block: int = 512) -> dict[str, jax.Array]:
    """Mean and variance of squared overlaps between normalised represented rows.

    Both moments come from the n x n Gram matrix of unit rows, built ``block`` rows at a
    time so memory stays O(block x n) even for n = 10^4 (cost n^2 m per model, once). The
    diagonal is left out exactly, not subtracted afterwards, and the blocks' moments are
    combined about their own means (Chan et al.'s pairwise update): nearly orthogonal rows,
    whose squared overlaps are 1e-6 or less, keep their variance instead of float32 rounding
    noise. A row with a non-finite norm is not represented and does not reach the sums.

    Args:
      W: [n, m] weights; computed in float32 at least (float16 or integer ``W`` is upcast).
      threshold: rows with norm above it count as represented.
      block: rows of the Gram matrix computed at once.

    Returns:
      ``{"overlap_mean", "overlap_var", "n_represented"}``; the moments are NaN when fewer
      than two rows are represented.
    """
    check_int("block", block)
    concrete_real("threshold", threshold, low=0.0, scalar=True)
    W = _weights(W)
    dtype = W.dtype if jnp.issubdtype(W.dtype, jnp.floating) and jnp.finfo(W.dtype).bits >= 32 else jnp.float32
    W = W.astype(dtype)
    norms = row_norms(W)  # (in that dtype too: float16 norms would round before the threshold)
    n = W.shape[0]
    if n == 0 or W.shape[1] == 0:  # no rows, so no pair; or rows of length 0, none represented
        nan = jnp.asarray(jnp.nan, dtype)
        return {"overlap_mean": nan, "overlap_var": nan, "n_represented": jnp.zeros((), jnp.int32)}
    keep = jnp.isfinite(norms) & (norms > threshold)  # (an inf norm would make its unit row NaN)
    unit = jnp.where(keep[:, None], W / jnp.where(keep, norms, 1.0)[:, None], 0.0)
    block = min(block, n)
    pad = (-n) % block
    blocks = (jnp.pad(unit, ((0, pad), (0, 0))).reshape(-1, block, unit.shape[1]),
              jnp.pad(keep, (0, pad)).reshape(-1, block),
              jnp.arange(0, n + pad, block))
    columns = jnp.arange(n)

    def moments(totals, xs):
        rows, row_keep, first = xs
        # HIGHEST: JAX's default lets a GPU round the operands to TF32 (10 mantissa bits), whose error
        # of ~1e-3 in an overlap is as large as the overlaps of nearly orthogonal rows
        g2 = jnp.matmul(rows, unit.T, precision=jax.lax.Precision.HIGHEST) ** 2
        pair = row_keep[:, None] & keep[None, :] & ((first + jnp.arange(block))[:, None] != columns[None, :])
        size = jnp.sum(pair).astype(dtype)
        mean_b = jnp.sum(jnp.where(pair, g2, 0.0)) / jnp.maximum(size, 1.0)
        m2_b = jnp.sum(jnp.where(pair, (g2 - mean_b) ** 2, 0.0))
        count, mean, m2 = totals
        total = count + size
        delta, share = mean_b - mean, size / jnp.maximum(total, 1.0)
        return (total, mean + delta * share, m2 + m2_b + delta**2 * count * share), None

    zero = jnp.zeros((), dtype)
    (pairs, mean, m2), _ = jax.lax.scan(moments, (zero, zero, zero), blocks)
    count = jnp.sum(keep).astype(jnp.int32)
    ok = count >= 2
    nan = jnp.asarray(jnp.nan, dtype)
    return {
        "overlap_mean": jnp.where(ok, mean, nan),
        "overlap_var": jnp.where(ok, m2 / jnp.maximum(pairs, 1.0), nan),
        "n_represented": count,
    }


def random_overlap_moments(m: int) -> tuple[float, float]:
    """Mean 1/m and variance 2(m-1)/(m^2 (m+2)) of the squared overlap of random unit vectors in R^m."""
    m = check_int("m", m)
    return 1.0 / m, 2.0 * (m - 1) / (m**2 * (m + 2))


def welch_bound(nu: int, m: int) -> float:
    """The Welch bound kappa^2 = (nu - m) / (m (nu - 1)) for nu unit vectors in R^m (0 when
    nu <= m: orthogonal vectors fit).

    The mean squared overlap over the pairs i != j of any nu unit vectors in R^m is at least
    kappa^2 (the Gram matrix has trace nu and rank at most m, so the squares of its entries
    sum to at least nu^2 / m), and so is the largest squared overlap. A tight frame reaches it
    in the mean; an equiangular tight frame, whose squared overlaps all equal kappa^2, in
    every pair (variance 0).

    Raises:
      TypeError: ``nu`` or ``m`` not an integer.
      ValueError: ``nu`` < 2 (no pair) or ``m`` < 1.
    """
    nu, m = check_int("nu", nu, 2), check_int("m", m)
    return max(0.0, (nu - m) / (m * (nu - 1)))
