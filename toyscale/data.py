"""Sparse feature samples for the superposition toy model.

Liu, Liu & Gore (2025), Sec. 2 (after Elhage et al. 2022): x_i = u_i v_i with
u_i ~ Bernoulli(p_i) and v_i ~ Uniform(0, 2), independent across features and samples,
drawn fresh at every step. Hence <x_i> = p_i, <x_i^2> = (4/3) p_i.

Two samplers of this law (exact up to the 32-bit rounding each documents):
:func:`sample_features` draws one uniform per entry (batch x n per
batch); :func:`sample_features_sparse` draws only the active entries, as Poisson events
(about batch x E per batch), and returns them as an event list as well as densely.
"""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from toyscale._checks import check_choice, check_int, check_real, prng_key, short_repr

__all__ = [
    "sample_features", "sample_features_plain", "sample_features_sparse", "SparseFeatures", "sparse_tables",
    "alias_table", "alias_columns", "alias_probabilities", "event_capacity", "check_sparse_sizes", "poisson_rate",
    "unit_uniform", "random_bits",
    "RNGS", "SAMPLERS", "V_SECOND_MOMENT",
]

#: <v^2> for v ~ Uniform(0, 2): the loss of a feature that is never represented, per unit p.
V_SECOND_MOMENT = 4.0 / 3.0

#: Bit generators for :func:`sample_features`.
RNGS = ("threefry", "hash")

_ONE_BELOW = 1.0 - 2.0**-24  # the largest float32 below 1


def _triple32(x: jax.Array) -> jax.Array:
    """A 3-round xorshift-multiply integer hash (C. Wellons' "triple32", bias ~0.021)."""
    x = x ^ (x >> 17)
    x = x * jnp.uint32(0xED5AD4BB)
    x = x ^ (x >> 11)
    x = x * jnp.uint32(0xAC4C1B51)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x31848BAB)
    return x ^ (x >> 14)


def _hash_bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Counter-based bits: triple32(triple32(i xor k0) + k1) for element counter i.

    The key words come from the threefry key (so streams of different models and steps
    are as separate as ``fold_in`` makes them); the per-element work is 14 integer ops
    instead of threefry's 20 rounds. Opt-in via ``TrainConfig(rng="hash")``.
    """
    if not hasattr(key, "dtype"):  # (an int had failed on key.dtype; a batch of keys is refused below)
        prng_key("key", key)
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if key.ndim != (0 if typed else 1):  # (a batch of keys had been flattened, its middle keys unused)
        raise ValueError(f"key has shape {key.shape}; rng='hash' takes one key (a typed key of shape () or a raw key "
                         f"of shape (2,)), as rng='threefry' does")
    words = (jax.random.key_data(key) if typed else key).reshape(-1).astype(jnp.uint32)
    size = 1
    for s in shape:
        size *= s
    if size > 2**32:  # (the counter is 32 bits: it would wrap, and the draw repeat itself)
        raise ValueError(f"shape={shape}; rng='hash' draws at most 2**32 words at once (a 32-bit counter), this "
                         f"draw needs {size}; use rng='threefry'")
    i = lax.iota(jnp.uint32, size).reshape(shape)
    return _triple32(_triple32(i ^ words[0]) + words[-1])


def random_bits(key: jax.Array, shape: tuple[int, ...], rng: str = "threefry") -> jax.Array:
    """uint32 random bits from the bit generator ``rng`` ("threefry" or "hash")."""
    check_choice("rng", rng, RNGS)
    given = shape
    try:  # (as jax.random takes one: an int, a tuple of ints or of 0-d integer arrays, an integer array)
        parts = [shape] if np.ndim(shape) == 0 else list(shape)
        shape = None if any(isinstance(s, (bool, np.bool_)) for s in parts) else tuple(map(operator.index, parts))
    except TypeError:
        shape = None
    if shape is None or any(s < 0 for s in shape):  # (-1 had failed in MLIR, the argument unnamed)
        raise TypeError(f"shape={short_repr(given)}; shape must be a tuple of integers >= 0")
    if rng == "threefry":
        return jax.random.bits(prng_key("key", key), shape, jnp.uint32)  # (JAX's own error names no argument)
    return _hash_bits(key, shape)


def _unit_from_bits(bits: jax.Array) -> jax.Array:
    return jnp.minimum(bits.astype(jnp.float32) * jnp.float32(2.0**-32), jnp.float32(_ONE_BELOW))


def unit_uniform(key: jax.Array, shape: tuple[int, ...], rng: str = "threefry") -> jax.Array:
    """Uniform(0, 1) float32 from all 32 random bits.

    ``jax.random.uniform`` keeps 23 bits, i.e. a grid of 1.2e-7: then P(r < p) is off by up
    to 20% for the rarest features of a steep power law (p ~ 6e-7 at n = 1000, alpha = 2).
    Converting the 32-bit integer keeps float32's relative precision near 0: r takes the
    values k 2^-32 (rounded to float32 above 2^-8), so P(r < p) = p to about 2^-24 relative
    for p >= 2^-8 and to 2^-32 / p relative below (0.12 % at p = 1e-8, 16 % at 1.2e-9).
    """
    return _unit_from_bits(random_bits(key, shape, rng))


def _probabilities(p: ArrayLike, allowed: str = "[0, 1]") -> np.ndarray | None:
    """``p`` as a float64 numpy vector after checking it is a non-empty 1-D vector of
    probabilities; None, unchecked, if ``p`` is traced (one per model inside a sweep)."""
    if hasattr(p, "probs"):  # a Frequencies spec: float() would fail on it without saying why
        raise TypeError(f"p={p!r} is a frequency spec; pass its feature probabilities, p.probs(n)")
    try:
        p = np.asarray(p, np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"p must be a non-empty 1-D array of feature probabilities, got shape {p.shape}")
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"p[{i}]={float(p[i])!r}; every p_i must be a probability in {allowed} "
                         f"({int(bad.sum())} are not)")
    return p


def sample_features(key: jax.Array, p: ArrayLike, batch: int, rng: str = "threefry") -> jax.Array:
    """Draws ``batch`` samples x in R^n from one uniform per feature.

    With r ~ Uniform(0, 1): u = [r < p_i] is Bernoulli(p_i), and given u = 1, r is
    Uniform(0, p_i), so v = 2 r / p_i is Uniform(0, 2) and independent of u. This is the
    same distribution as :func:`sample_features_plain` with half the random numbers (v
    excepted at the rarest features: r < p_i takes about p_i 2^32 values there, so v does).

    Args:
      key: a PRNG key.
      p: feature probabilities, shape [n], each in [0, 1].
      batch: number of samples (static).
      rng: "threefry" (JAX's generator) or "hash" (a cheaper counter hash, see
        :func:`unit_uniform`).

    Returns:
      float32 x of shape [batch, n].
    """
    check_int("batch", batch)
    _probabilities(p)
    p = jnp.asarray(p, jnp.float32)
    r = unit_uniform(key, (batch, p.shape[-1]), rng)
    return jnp.where(r < p, (2 * r) / jnp.where(p > 0, p, 1), 0)


def sample_features_plain(key: jax.Array, p: ArrayLike, batch: int) -> jax.Array:
    """The textbook sampler: independent u ~ Bernoulli(p), v ~ Uniform(0, 2), x = u v.

    Kept as the reference for :func:`sample_features` (tests compare their statistics). u is
    [r < p_i] for a 32-bit :func:`unit_uniform` r: ``jax.random.bernoulli`` compares with a
    23-bit uniform, which gives every p_i below 2^-23 = 1.2e-7 the rate 2^-23 (and rounds
    those above it up to a multiple of 2^-23: +18 % at n = 1000, alpha = 2).
    """
    check_int("batch", batch)
    _probabilities(p)
    p = jnp.asarray(p, jnp.float32)
    ku, kv = jax.random.split(prng_key("key", key))
    u = unit_uniform(ku, (batch, p.shape[-1])) < p
    v = jax.random.uniform(kv, (batch, p.shape[-1]), jnp.float32, 0.0, 2.0)
    return jnp.where(u, v, 0)


# ----------------------------------------------------------------------------- sparse sampler
#
# Poisson superposition (exact): give every (sample, feature) pair an independent
# Poisson(lambda_i) number of events with lambda_i = -log(1 - p_i), and call feature i of a
# sample active when it got at least one event: P(active) = 1 - exp(-lambda_i) = p_i, and
# pairs are independent because Poisson counts are. All events of a batch of B samples form
# one Poisson process of rate B * Lambda, Lambda = sum_i lambda_i: draw the total
# T ~ Poisson(B Lambda), then give each event a sample uniformly and a feature from
# Categorical(lambda / Lambda) -- by Poisson splitting this is the same thing. Each active
# (sample, feature) keeps the value of one of its events, v ~ U(0, 2); the others are dropped.
# A batch costs O(B Lambda) random words instead of O(B n).

#: Samplers for :class:`toyscale.train.TrainConfig`: one uniform per entry, or events only.
SAMPLERS = ("dense", "sparse")

#: The event capacity C of a batch is chosen so that P(T > C) <= this at the largest rate.
SPARSE_TAIL = 2.0**-40

_ALL_ONES = 0xFFFFFFFF


class SparseFeatures(NamedTuple):
    """A batch of samples as a list of events (one per active entry) and densely.

    Attributes:
      rows: int32 [C], the sample of each event slot, non-decreasing (empty slots come
        last and carry the last sample).
      cols: int32 [C], the feature of each event slot (0 for an empty slot).
      values: float32 [C], v of each slot; 0 for empty slots and for repeated (sample,
        feature) pairs, so each active entry appears once. Slots are sorted by sample.
      dense: float32 [B, n], the same samples as the dense x.
    """

    rows: jax.Array
    cols: jax.Array
    values: jax.Array
    dense: jax.Array


def poisson_rate(p: ArrayLike) -> float:
    """Lambda = sum_i -log(1 - p_i), the expected events per sample (>= sum_i p_i = E).

    Computed in float64 on the host; infinite if some p_i = 1. ``p`` is checked as the samplers
    check it (a p_i of 2 had given NaN, a negative one a negative rate).
    """
    p = _probabilities(p)
    if p is None:
        raise TypeError("p is traced; poisson_rate computes on the host and needs concrete probabilities")
    with np.errstate(divide="ignore"):
        return float(np.sum(-np.log1p(-p)))


def _poisson_survival(mu: float, upto: int) -> np.ndarray:
    """P(T > j) for j = 0..upto, T ~ Poisson(mu), float64 (within 1e-15 of scipy's pdtrc, tested).

    The pmf is built outward from the mode by ratios (mu / k upward, k / mu downward) and
    normalised to sum to 1; each tail is summed from its small side.  (Evaluating exp(-mu + k log mu -
    lgamma(k + 1)) directly loses ~mu * 1e-16 relative, 1e-11 at mu = 1e5, and its sum is
    not exactly 1.)
    """
    if mu <= 0:
        return np.zeros(upto + 1)
    spread = 40 * math.sqrt(mu + 1) + 200
    mode = int(mu)
    top = int(max(upto, mode) + spread)
    start = max(0, int(mode - spread))
    k = np.arange(start, top + 1, dtype=np.float64)
    logr = np.zeros(k.size)  # log pmf(k) - log pmf(mode)
    m = mode - start
    logr[m + 1:] = np.cumsum(np.log(mu / k[m + 1:]))
    logr[:m] = np.cumsum(np.log(k[1:m + 1][::-1] / mu))[::-1]
    pmf = np.zeros(top + 1)
    pmf[start:] = np.exp(logr)
    pmf /= pmf.sum()
    above = np.cumsum(pmf[::-1])[::-1][1:upto + 2]  # P(T > j), summed from the top
    cdf = np.cumsum(pmf)[:upto + 1]  # P(T <= j), summed from the bottom
    # each tail from the side where it is small: P(T > j) = 1 exactly while P(T <= j) < 2^-53
    return np.minimum(np.where(cdf < 0.5, 1.0 - cdf, above), 1.0)


def event_capacity(batch: int, max_rate: float, tail: float = SPARSE_TAIL) -> int:
    """The smallest C with P(Poisson(batch * max_rate) > C) <= tail: event slots per batch."""
    check_int("batch", batch)
    if not (isinstance(max_rate, (int, float, np.integer, np.floating)) and not isinstance(max_rate, bool)
            and math.isfinite(max_rate) and max_rate > 0):  # (True had been read as 1)
        raise ValueError(f"max_rate={max_rate!r}; must be a finite number > 0 (expected events per sample)")
    check_real("tail", tail, low=0.0, strict=True)
    if not tail < 1:
        raise ValueError(f"tail={tail!r}; tail must be a probability in (0, 1)")
    mu = batch * float(max_rate)
    guess = int(mu + 12 * math.sqrt(mu + 1) + 40)
    survival = _poisson_survival(mu, guess)
    while survival[-1] > tail:  # (a tail below ~1e-40 needs more than the first guess; argmax had given 0)
        guess *= 2
        survival = _poisson_survival(mu, guess)
    return int(np.argmax(survival <= tail))


def alias_columns(n: int) -> int:
    """Columns of the alias table over n features: next_pow2(max(n, 2))."""
    return max(2, 1 << (int(n) - 1).bit_length())


def check_sparse_sizes(batch: int, n: int) -> None:
    """Raises ValueError unless a (sample, feature) pair of a batch fits the sparse sampler's
    32-bit sort key: batch x alias_columns(n) < 2^32 (the all-ones key marks empty slots)."""
    if batch * alias_columns(n) > _ALL_ONES:
        raise ValueError(f"batch={batch} with n={n}; sampler='sparse' needs batch x next_pow2(n) < 2^32 "
                         f"(here {batch * alias_columns(n)}; use sampler='dense')")


def _fixed_point_64(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities in [0, 1] as 64-bit fixed point (hi, lo) uint32 words: r < s <=> (w1, w2) < (hi, lo)."""
    s = np.clip(np.asarray(s, np.float64), 0.0, 1.0)
    v = s * 2.0**32
    hi = np.floor(v)
    lo = np.floor((v - hi) * 2.0**32)
    full = hi >= 2.0**32  # s = 1: compare against the largest pair (error 2^-64)
    hi = np.where(full, _ALL_ONES, hi)
    lo = np.where(full, _ALL_ONES, np.minimum(lo, _ALL_ONES))
    return hi.astype(np.uint32), lo.astype(np.uint32)


def alias_table(weights: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (Vose's construction, float64) over a power-of-two number of columns.

    Draw column j uniformly from the top bits of a word, then take j if a second word is
    below ``accept[j]`` and ``alias[j]`` otherwise. The columns are padded with zero-weight
    entries to a power of two so the column draw is exactly uniform; the acceptance
    thresholds are integers (``accept[j] / 2^32``), so the realised probabilities are the
    float64 ones rounded to 2^-32 per column (no float32 cumulative sum, which would lose
    the rarest features entirely).

    Args:
      weights: non-negative, finite, not all zero, shape [n].

    Returns:
      ``(accept, alias)``: uint32 and int32 arrays of length next_pow2(max(n, 2)).
    """
    w = np.asarray(weights, np.float64)
    if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("weights must be a 1-D array of finite non-negative numbers, not all zero")
    cols = alias_columns(w.size)
    prob = np.zeros(cols)
    prob[: w.size] = w / w.sum() * cols
    accept = np.ones(cols)
    alias = np.arange(cols)
    small = [j for j in range(cols) if prob[j] < 1.0]
    large = [j for j in range(cols) if prob[j] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        accept[s], alias[s] = prob[s], g
        prob[g] -= 1.0 - prob[s]
        (small if prob[g] < 1.0 else large).append(g)
    # Left-overs are 1 up to rounding: they keep themselves.
    threshold = np.round(accept * 2.0**32)
    keep_self = threshold >= 2.0**32
    alias = np.where(keep_self, np.arange(cols), alias)
    return np.where(keep_self, _ALL_ONES, threshold).astype(np.uint32), alias.astype(np.int32)


def alias_probabilities(accept: ArrayLike, alias: ArrayLike) -> np.ndarray:
    """The exact category probabilities an alias table realises (float64), for tests and checks."""
    a = np.asarray(accept, np.float64)
    a = np.where(a >= _ALL_ONES, 2.0**32, a) / 2.0**32
    alias = np.asarray(alias)
    probs = a.copy()
    np.add.at(probs, alias, 1.0 - a)
    return probs / a.size


def sparse_tables(p: ArrayLike, batch: int, capacity: int | None = None) -> dict[str, np.ndarray]:
    """Host-side (float64) tables of :func:`sample_features_sparse` for one frequency vector.

    Args:
      p: feature probabilities, shape [n], each in [0, 1).
      batch: samples per batch B.
      capacity: event slots per batch C (see :func:`event_capacity`); default: the capacity
        for this p's own rate, ``event_capacity(batch, poisson_rate(p))``.

    Returns:
      ``{"accept", "alias"}`` (the alias table of Categorical(lambda / Lambda)) and
      ``{"count_hi", "count_lo"}``: P(T > j), j = 0..C, as 64-bit fixed point, for
      T ~ Poisson(B Lambda); and ``"n_features"`` and ``"batch_size"``, empty [n, 0] and
      [B, 0] arrays whose shapes record n and B for the sampler to check (shapes, so also when
      the tables are traced).

    Raises:
      ValueError: if some p_i = 1 (an infinite rate) or all p_i = 0.
    """
    p = _probabilities(p, "[0, 1)")
    if np.any(p >= 1.0):
        raise ValueError(f"p has {int(np.sum(p >= 1))} entries equal to 1; the sparse sampler needs every "
                         f"p_i < 1 (use sampler='dense')")
    check_int("batch", batch)
    rates = -np.log1p(-p)
    if not np.any(rates > 0):
        raise ValueError("p is all zero; the sparse sampler needs at least one p_i > 0")
    if capacity is None:
        capacity = event_capacity(batch, float(rates.sum()))
    check_int("capacity", capacity, 0)
    accept, alias = alias_table(rates)
    hi, lo = _fixed_point_64(_poisson_survival(batch * float(rates.sum()), capacity))
    return {"accept": accept, "alias": alias, "count_hi": hi[: capacity + 1], "count_lo": lo[: capacity + 1],
            "n_features": np.zeros((p.size, 0), np.uint8), "batch_size": np.zeros((batch, 0), np.uint8)}


def _below(w1: jax.Array, w2: jax.Array, hi: jax.Array, lo: jax.Array) -> jax.Array:
    """(w1, w2) < (hi, lo) as 64-bit numbers: a uniform below a 64-bit fixed-point probability."""
    return (w1 < hi) | ((w1 == hi) & (w2 < lo))


def sample_features_sparse(
    key: jax.Array, tables: dict[str, jax.Array], batch: int, n: int, rng: str = "threefry"
) -> tuple[SparseFeatures, jax.Array]:
    """Draws ``batch`` samples exactly as :func:`sample_features` does, from their events only.

    The total number of events T ~ Poisson(B Lambda) is read off the 64-bit survival table
    with two random words; each of the C slots takes four words: its sample (uniform), its
    feature (two words, alias table), and a value v ~ U(0, 2). Slots >= T are empty. The
    (sample, feature) pairs are sorted alone, repeats of a pair are dropped, and the values
    are handed out by sorted slot: they are independent of the pairs, so every active entry
    keeps exactly one independent v. The one approximation is the capacity: if T > C
    (probability <= 2^-40 per batch at the configured rate) the batch keeps C events, and
    ``truncated`` says so.
    Rounding is at the 32-bit level: each column's acceptance is a multiple of 2^-32, so a
    feature's rate is off by at most ~Lambda 2^-33 / (cols lambda_i) relative (about 1.1e-5 x
    Lambda for p_i = 1e-8 at n = 1000: 1.50e-5 measured against 1.59e-5 from the bound for a
    power law with alpha = 2.6, whose smallest p_i is 1.2e-8; a p_i below ~Lambda 2^-32 / cols
    can round to 0), and a slot's
    sample is a word mod B (exactly uniform when B is a power of two, otherwise off by at
    most B / 2^32 relative).  The tables must be built for this ``batch`` (the count table
    holds the law of T for B Lambda): checked where they carry ``"batch_size"``, as
    :func:`sparse_tables` gives them.

    Args:
      key: a PRNG key.
      tables: the arrays of :func:`sparse_tables` (as jax arrays; may be traced).
      batch: samples B (static).
      n: features (static).
      rng: "threefry" or "hash" (see :func:`random_bits`).

    Returns:
      ``(SparseFeatures, truncated)`` with ``truncated`` a bool scalar.
    """
    accept, alias, hi, lo = (jnp.asarray(tables[k]) for k in ("accept", "alias", "count_hi", "count_lo"))
    cols_total = accept.shape[-1]
    capacity = hi.shape[-1] - 1
    shift = cols_total.bit_length() - 1
    # Static checks (shapes only, so they hold under tracing too).
    check_int("batch", batch)
    check_int("n", n)
    if cols_total != alias_columns(n):
        raise ValueError(f"n={n} does not match the tables ({cols_total} alias columns, built for "
                         f"{cols_total // 2 + 1}..{cols_total} features); build them with sparse_tables(p) for this p")
    built = tables.get("n_features")
    if built is not None and jnp.shape(built)[-2] != n:  # (a smaller n gathered clamped rows of W downstream)
        raise ValueError(f"n={n} does not match the tables, built for {jnp.shape(built)[-2]} features; build them "
                         f"with sparse_tables(p) for this p")
    built = tables.get("batch_size")
    if built is not None and jnp.shape(built)[-2] != batch:  # (the count table's law of T is for the built B)
        raise ValueError(f"batch={batch} does not match the tables, built for batch {jnp.shape(built)[-2]}; build "
                         f"them with sparse_tables(p, batch) for this batch")
    check_sparse_sizes(batch, n)
    bits = random_bits(key, (4 * capacity + 2,), rng)
    w_count = bits[-2:]
    w_row, w_col, w_acc, w_val = bits[:-2].reshape(4, capacity)
    above = _below(w_count[0], w_count[1], hi, lo)  # [C + 1]: T > j
    total = jnp.sum(above[:capacity].astype(jnp.int32))
    truncated = above[capacity]
    row = (w_row % jnp.uint32(batch)).astype(jnp.uint32)
    col = (w_col >> jnp.uint32(32 - shift)).astype(jnp.int32)
    feature = jnp.where(w_acc < accept[col], col, alias[col]).astype(jnp.uint32)
    valid = jnp.arange(capacity) < total
    pair = jnp.where(valid, (row << jnp.uint32(shift)) | feature, jnp.uint32(_ALL_ONES))
    # Sort the pairs alone (a one-operand sort: 5x faster than carrying v through it on
    # XLA:CPU) and give v by sorted slot: the value words play no part in the order, so
    # every kept event still gets its own independent U(0, 2).
    pair = lax.sort(pair)
    value = 2 * _unit_from_bits(w_val)
    valid = pair != jnp.uint32(_ALL_ONES)
    first = jnp.concatenate([jnp.ones((1,), bool), pair[1:] != pair[:-1]])
    keep = valid & first
    # Empty slots sort last; giving them the last sample keeps ``rows`` sorted (their v is 0).
    rows = jnp.where(valid, pair >> jnp.uint32(shift), batch - 1).astype(jnp.int32)
    cols = jnp.where(valid, pair & jnp.uint32(cols_total - 1), 0).astype(jnp.int32)
    values = jnp.where(keep, value, 0.0).astype(jnp.float32)
    dense = jnp.zeros((batch, n), jnp.float32).at[rows, cols].add(values)
    return SparseFeatures(rows, cols, values, dense), truncated
