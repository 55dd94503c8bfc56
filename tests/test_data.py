import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale import data, superposition
from toyscale.frequencies import custom, power_law

N, BATCH = 20, 200_000


def sparse_sampler(rng="threefry", max_rate=None):
    """The sparse sampler with the dense samplers' signature (tables built from p on the host)."""

    def sample(key, p, batch):
        p = np.asarray(p, np.float64)
        tables = data.sparse_tables(p, batch, None if max_rate is None else data.event_capacity(batch, max_rate))
        return data.sample_features_sparse(key, tables, batch, p.size, rng)[0].dense

    return sample


SAMPLERS = {
    "one-uniform threefry": data.sample_features,
    "one-uniform hash": lambda k, p, b: data.sample_features(k, p, b, "hash"),
    "plain": data.sample_features_plain,
    "sparse threefry": sparse_sampler(),
    "sparse hash": sparse_sampler("hash"),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_sampler_statistics_match_the_model(name, strict_promotion):
    sampler = SAMPLERS[name]
    p = power_law(1.0, E=2.0).probs(N)
    arg = p if name.startswith("sparse") else jnp.asarray(p, jnp.float32)  # its tables are host-built
    x = np.asarray(sampler(jax.random.PRNGKey(1), arg, BATCH))
    active = x > 0
    freq = active.mean(0)
    # Binomial standard error; 5 sigma.
    np.testing.assert_array_less(np.abs(freq - p), 5 * np.sqrt(p * (1 - p) / BATCH))
    v = x[active]
    assert v.min() >= 0 and v.max() <= 2
    se = np.sqrt(1 / 3 / v.size)
    assert abs(v.mean() - 1.0) < 5 * se
    assert abs((v**2).mean() - data.V_SECOND_MOMENT) < 5 * np.sqrt(64 / 45 / v.size)
    # v is independent of which feature fired: per-feature means agree with 1.
    per_feature = np.array([x[active[:, i], i].mean() for i in range(N)])
    counts = active.sum(0)
    np.testing.assert_array_less(np.abs(per_feature - 1.0), 5 * np.sqrt(1 / 3 / counts))


@pytest.mark.parametrize("rng", data.RNGS)
def test_fast_and_plain_samplers_agree_in_distribution(rng):
    p = jnp.asarray(power_law(1.2).probs(N), jnp.float32)
    fast = np.asarray(data.sample_features(jax.random.PRNGKey(2), p, BATCH, rng))
    plain = np.asarray(data.sample_features_plain(jax.random.PRNGKey(3), p, BATCH))
    # Two-sample comparison of the value histogram of active entries.
    bins = np.linspace(0, 2, 11)
    hf, _ = np.histogram(fast[fast > 0], bins)
    hp, _ = np.histogram(plain[plain > 0], bins)
    pf, pp = hf / hf.sum(), hp / hp.sum()
    se = np.sqrt(pf * (1 - pf) / hf.sum() + pp * (1 - pp) / hp.sum())
    np.testing.assert_array_less(np.abs(pf - pp), 5 * se)


def test_zero_probability_features_never_fire_and_vmap_works(strict_promotion):
    p = jnp.asarray([0.5, 0.0, 1.0], jnp.float32)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.jit(jax.vmap(lambda k: data.sample_features(k, p, 1000)))(keys)
    assert x.shape == (3, 1000, 3)
    assert np.all(np.asarray(x[..., 1]) == 0)
    assert np.all(np.asarray(x[..., 2]) > 0)
    assert np.all(np.isfinite(np.asarray(x)))


@pytest.mark.parametrize("rng", data.RNGS)
def test_uniforms_are_uncorrelated_across_neighbours_steps_and_models(rng):
    shape = (512, 64)
    draw = jax.jit(lambda k: data.unit_uniform(k, shape, rng))
    base = jax.random.PRNGKey(0)
    a = np.asarray(draw(jax.random.fold_in(base, 0))).ravel()
    b = np.asarray(draw(jax.random.fold_in(base, 1))).ravel()
    c = np.asarray(draw(jax.random.fold_in(jax.random.fold_in(base, 7), 0))).ravel()
    se = 1 / np.sqrt(a.size)
    assert abs(a.mean() - 0.5) < 5 * np.sqrt(1 / 12) * se
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 5 * se  # neighbouring features
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 * se  # next step
    assert abs(np.corrcoef(a, c)[0, 1]) < 5 * se  # another model
    assert a.min() >= 0 and a.max() < 1
    # Chi-square on 64 bins, 5-sigma bound (mean 63, sd ~11).
    counts, _ = np.histogram(a, 64, (0, 1))
    chi2 = ((counts - a.size / 64) ** 2 / (a.size / 64)).sum()
    assert chi2 < 63 + 5 * np.sqrt(2 * 63)


def test_unit_uniform_keeps_resolution_near_zero():
    # jax.random.uniform lives on a 2^-23 grid; all 32 bits give much finer values near 0.
    u = np.asarray(data.unit_uniform(jax.random.PRNGKey(5), (1 << 20,)))
    small = u[u < 2.0**-12]
    assert small.size > 100
    assert np.any(np.mod(small, 2.0**-23) != 0)


def test_unknown_rng_is_refused():
    with pytest.raises(ValueError, match="rng='mt19937'"):
        data.unit_uniform(jax.random.PRNGKey(0), (2,), "mt19937")


def _triple32_reference(x):
    """C. Wellons' triple32 (hash-prospector's published constants), on uint64 words kept to 32 bits."""
    x = np.asarray(x, np.uint64)
    for shift, factor in ((17, 0xED5AD4BB), (11, 0xAC4C1B51), (15, 0x31848BAB)):
        x = ((x ^ (x >> np.uint64(shift))) * np.uint64(factor)) & np.uint64(0xFFFFFFFF)
    return x ^ (x >> np.uint64(14))


def test_hash_bits_are_triple32_of_the_counter_and_both_key_words():
    # the documented stream, triple32(triple32(i xor k0) + k1): what a recorded rng='hash' run drew. Keys that
    # differ in one word alone draw other streams (PRNGKey(s) differ only in the second word; mutation run: a
    # shift, the last xorshift, or either key word could go and every statistical test still passed)
    shape = (3, 700)
    i = np.arange(3 * 700, dtype=np.uint64).reshape(shape)
    keys = [jax.random.PRNGKey(0), jax.random.PRNGKey(1), jnp.asarray([5, 1], jnp.uint32),
            jax.random.fold_in(jax.random.PRNGKey(0), 9), jax.random.key(2)]
    draws = []
    for key in keys:
        words = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
        k0, k1 = np.asarray(words, np.uint64)
        expect = _triple32_reference((_triple32_reference(i ^ k0) + k1) & np.uint64(0xFFFFFFFF))
        draws.append(np.asarray(data.random_bits(key, shape, "hash")))
        np.testing.assert_array_equal(draws[-1], expect)
    assert all(np.mean(a == b) < 0.01 for a, b in itertools.combinations(draws, 2))


# ----------------------------------------------------------------------------- sparse sampler


def test_alias_table_realises_the_rates_to_2_pow_minus_32():
    # A steep power law: the rarest p ~ 6e-7, where a float32 cumulative sum would fail.
    p = power_law(2.0).probs(1000)
    rates = -np.log1p(-p)
    accept, alias = data.alias_table(rates)
    assert accept.dtype == np.uint32 and alias.dtype == np.int32 and accept.size == 1024
    q = data.alias_probabilities(accept, alias)
    target = np.zeros(1024)
    target[:1000] = rates / rates.sum()
    # Rounding each column's threshold to 2^-32 moves at most 2^-33 / 1024 between a column and
    # its alias; an entry collects that from its own column and from every column aliased to it.
    into = np.bincount(alias, minlength=1024)
    bound = (1 + into) * 2.0**-33 / 1024 + 1e-15
    np.testing.assert_array_less(np.abs(q - target), bound)
    assert np.all(q[1000:] == 0)  # padding columns are never drawn
    assert np.max(np.abs(q[:1000] / target[:1000] - 1)) < 1e-5  # even the rarest feature
    # A zero-weight feature is never drawn.
    a0, al0 = data.alias_table([0.5, 0.0, 0.25])
    assert data.alias_probabilities(a0, al0)[1] == 0


def test_an_alias_column_whose_acceptance_rounds_up_to_one_keeps_itself():
    # Vose leaves column 0 at 1 - 2^-40, which rounds to 2^32 / 2^32: it must become "always itself" (accept
    # 0xFFFFFFFF, alias 0); a 2^32 cast to uint32 wraps to 0 and would hand all its mass to its alias (mutation run)
    accept, alias = data.alias_table([1 - 2.0**-40, 1 + 2.0**-40])
    np.testing.assert_allclose(data.alias_probabilities(accept, alias), [0.5, 0.5], rtol=0, atol=2.0**-32)
    assert list(accept) == [0xFFFFFFFF, 0xFFFFFFFF] and list(alias) == [0, 1]


def test_poisson_count_table_and_capacity():
    from scipy import stats

    # the tail pinned (2^-40, as README and RESULTS quote it; the capacity, and so the random stream, follow it): a
    # check against the constant itself had let a changed constant pass
    assert data.SPARSE_TAIL == 2.0**-40
    for (batch, rate), want in zip(((2048, 1.0), (256, 2.0), (1, 0.3)), (2375, 679, 10)):
        c = data.event_capacity(batch, rate)
        assert c == want
        sf = stats.poisson.sf(np.arange(c + 1), batch * rate)
        assert sf[c] <= data.SPARSE_TAIL < sf[c - 1]
        p = np.full(10, -np.expm1(-rate / 10))  # sum of -log(1 - p) = rate
        t = data.sparse_tables(p, batch, c)
        hi, lo = t["count_hi"].astype(np.float64), t["count_lo"].astype(np.float64)
        table = (hi + lo * 2.0**-32) * 2.0**-32
        np.testing.assert_allclose(table, sf, rtol=1e-9, atol=2.0**-60)


@pytest.mark.parametrize("mu", [0.3, 7.5, 2048 * 2.0, 2048 * 64.0])
def test_poisson_survival_is_exact_to_float64(mu):
    # the law of the batch total T: P(T > j) against scipy's regularised incomplete gamma,
    # to ~1e-15 absolute everywhere (a pmf from exp(log pmf) was off by up to 7e-11 at mu = 1.3e5,
    # and gave an all-zero batch a probability of 1e-11 where it is e^-mu = 0)
    from scipy import special

    upto = data.event_capacity(1, mu)
    s = data._poisson_survival(mu, upto)
    np.testing.assert_allclose(s, special.pdtrc(np.arange(upto + 1), mu), rtol=0, atol=2e-15)
    assert np.all(np.diff(s) <= 0)
    assert s[0] == (1.0 if mu > 100 else pytest.approx(-np.expm1(-mu), rel=1e-15))


@pytest.mark.parametrize("rng", data.RNGS)
def test_sparse_batches_of_one_and_three_samples_have_the_exact_joint_law(rng):
    # Small batches expose the batch-level construction (total T, then slots): with B = 3 the
    # samples of a batch must still be independent, each entry Bernoulli(p_i), and an empty
    # batch must have probability exactly prod (1 - p_i)^B = exp(-B Lambda).
    p = np.array([0.0, 1e-8, 0.1, 0.5, 0.9])
    batches = 40_000
    keys = jax.random.split(jax.random.PRNGKey(11), batches)
    for B in (1, 3):
        tables = data.sparse_tables(p, B)
        draw = jax.jit(jax.vmap(lambda k: data.sample_features_sparse(k, tables, B, 5, rng)[0].dense))
        u = np.asarray(draw(keys)) > 0  # (batches, B, 5)
        f = u.reshape(-1, 5).mean(0)
        n_entries = batches * B
        assert f[0] == 0
        np.testing.assert_array_less(np.abs(f - p), 5 * np.sqrt(p * (1 - p) / n_entries) + 1e-6)
        empty = (~u.any(axis=(1, 2))).mean()
        p_empty = np.prod(1 - p) ** B
        assert abs(empty - p_empty) < 5 * np.sqrt(p_empty * (1 - p_empty) / batches) + 1e-6
        # the number of samples of a batch in which feature 4 (p = 0.9) is active: Binomial(B, 0.9)
        k = u[:, :, 4].sum(1)
        pmf = np.array([math.comb(B, j) * 0.9**j * 0.1 ** (B - j) for j in range(B + 1)])
        freq = np.bincount(k, minlength=B + 1) / batches
        np.testing.assert_array_less(np.abs(freq - pmf), 5 * np.sqrt(pmf * (1 - pmf) / batches) + 1e-6)
        if B == 3:
            # across samples of one batch: features 3 and 4 in different samples co-occur at p3 p4
            both = (u[:, 0, 3] & u[:, 1, 4]).mean()
            assert abs(both - 0.45) < 5 * np.sqrt(0.45 * 0.55 / batches)
            one_of_three = (u[:, :, 2].sum(1) == 1).mean()  # P(exactly one sample has feature 2)
            assert abs(one_of_three - 3 * 0.1 * 0.81) < 5 * np.sqrt(0.243 * 0.757 / batches)


@pytest.mark.parametrize("rng", data.RNGS)
def test_sparse_counts_per_sample_follow_the_poisson_binomial(rng):
    # Number of active features per sample: sum of independent Bernoulli(p_i), so its law is the
    # Poisson-binomial; the events' Poisson total would show up here if repeats were not merged.
    p = power_law(1.0, E=2.5).probs(N)  # p_1 ~ 0.7: many repeated events of feature 1
    x = np.asarray(sparse_sampler(rng)(jax.random.PRNGKey(4), p, BATCH))
    k = (x > 0).sum(1)
    pmf = np.array([1.0])
    for pi in p:
        pmf = np.convolve(pmf, [1 - pi, pi])
    assert abs(k.mean() - p.sum()) < 5 * np.sqrt((p * (1 - p)).sum() / BATCH)
    var = (p * (1 - p)).sum()
    assert abs(k.var() - var) < 5 * np.sqrt((np.sum(pmf * (np.arange(pmf.size) - p.sum()) ** 4) - var**2) / BATCH)
    freq = np.bincount(k, minlength=pmf.size)[: pmf.size] / BATCH
    big = pmf > 1e-4
    np.testing.assert_array_less(np.abs(freq - pmf)[big], 5 * np.sqrt(pmf * (1 - pmf) / BATCH)[big])


def test_sparse_rates_of_rare_features_by_decade():
    # n = 1000, alpha = 2: p from 0.61 down to 6e-7. Features are pooled by decade of p so that
    # every pool has a testable count; each pool's count is Poisson-binomial around N sum p.
    p = power_law(2.0).probs(1000)
    sample = jax.jit(jax.vmap(lambda key, t: data.sample_features_sparse(key, t, 2048, 1000, "hash")[0].dense > 0,
                              in_axes=(0, None)))
    tables = data.sparse_tables(p, 2048, data.event_capacity(2048, 1.4))
    counts = np.zeros(1000)
    batches = 0
    for i in range(4):
        counts += np.asarray(sample(jax.random.split(jax.random.PRNGKey(i), 16), tables)).sum((0, 1))
        batches += 16 * 2048
    decade = np.floor(np.log10(p)).astype(int)
    for d in np.unique(decade):
        sel = decade == d
        mean = batches * p[sel].sum()
        sd = np.sqrt(batches * (p[sel] * (1 - p[sel])).sum())
        assert abs(counts[sel].sum() - mean) < 5 * sd + 1, (d, counts[sel].sum(), mean)
    # The most frequent features, one by one.
    np.testing.assert_array_less(np.abs(counts[:20] / batches - p[:20]), 5 * np.sqrt(p[:20] * (1 - p[:20]) / batches))


def test_two_words_below_a_fixed_point_probability_compare_as_one_64_bit_number():
    # (w1, w2) < (hi, lo) exactly, against Python integers: the count table's zeros (hi = lo = 0) must never fire
    # and ties in the high word go to the low word (mutation run: "<=" in either word passed every sampler test,
    # being off by 2^-32 or 2^-64)
    edges = [0, 1, 2**31, 0xFFFFFFFE, 0xFFFFFFFF]
    w1, w2, hi, lo = (np.asarray(c, np.uint32) for c in zip(*itertools.product(edges, repeat=4)))
    expect = [(int(a) << 32 | int(b)) < (int(c) << 32 | int(d)) for a, b, c, d in zip(w1, w2, hi, lo)]
    np.testing.assert_array_equal(np.asarray(data._below(*(jnp.asarray(a) for a in (w1, w2, hi, lo)))), expect)


def test_empty_slots_carry_the_last_sample_feature_0_and_no_value():
    # (the SparseFeatures contract; mutation run: empty slots could carry feature 7, one the batch does not have)
    batch, n, capacity = 4, 5, 8
    tables = dict(data.sparse_tables(np.full(n, 0.2), batch, capacity))
    above = np.where(np.arange(capacity + 1) < 3, 0xFFFFFFFF, 0).astype(np.uint32)  # T = 3 exactly
    tables["count_hi"], tables["count_lo"] = above, above.copy()
    sample = jax.jit(data.sample_features_sparse, static_argnums=(2, 3))
    x, truncated = sample(jax.random.PRNGKey(0), tables, batch, n)
    rows, cols, values = (np.asarray(a) for a in (x.rows, x.cols, x.values))
    assert not bool(truncated) and np.all(values[:3] > 0) and np.all(cols[:3] < n)
    assert list(rows[3:]) == [batch - 1] * 5 and list(cols[3:]) == [0] * 5 and list(values[3:]) == [0] * 5


def test_repeated_events_keep_one_uniform_value_and_the_encoder_matches_the_product(strict_promotion):
    # lambda_1 = -log(0.1) = 2.3: most samples draw feature 1 two or more times.
    p = np.array([0.9, 0.5, 0.05])
    tables = data.sparse_tables(p, 4096)
    xs, truncated = jax.jit(data.sample_features_sparse, static_argnums=(2, 3))(jax.random.PRNGKey(6), tables, 4096, 3)
    assert not bool(truncated)
    rows, cols, vals = (np.asarray(a) for a in (xs.rows, xs.cols, xs.values))
    kept = vals > 0
    pairs = rows[kept] * 3 + cols[kept]
    assert np.unique(pairs).size == pairs.size  # each active entry once
    assert np.all(np.diff(rows) >= 0)  # sorted by sample (the encoder relies on it)
    x = np.asarray(xs.dense)
    v = x[:, 0][x[:, 0] > 0]
    # A sum over repeats would push values above 2; a max or min would skew the mean.
    assert v.max() <= 2 and abs(v.mean() - 1) < 5 * np.sqrt(1 / 3 / v.size)
    assert abs(v.var() - 1 / 3) < 5 * np.sqrt((16 / 5 - 16 / 9) / v.size) + 0.01
    assert abs((x[:, 0] > 0).mean() - 0.9) < 5 * np.sqrt(0.09 / 4096)
    W = jax.random.normal(jax.random.PRNGKey(7), (3, 5))
    np.testing.assert_allclose(superposition.encode(W, xs), xs.dense @ W, rtol=1e-5, atol=1e-5)


def test_overflow_is_reported_and_keeps_at_most_capacity_events():
    p = power_law(1.0).probs(50)  # Lambda ~ 1: about 64 events in a batch of 64
    small = data.sparse_tables(p, 64, 8)
    xs, truncated = jax.jit(data.sample_features_sparse, static_argnums=(2, 3))(jax.random.PRNGKey(0), small, 64, 50)
    assert bool(truncated) and int(np.sum(np.asarray(xs.values) > 0)) <= 8
    fits = data.sparse_tables(p, 64, data.event_capacity(64, 1.1))
    keys = jax.random.split(jax.random.PRNGKey(1), 64)
    flags = jax.jit(jax.vmap(lambda k: data.sample_features_sparse(k, fits, 64, 50)[1]))(keys)
    assert not np.any(np.asarray(flags))


def test_sparse_tables_refuse_certain_features():
    with pytest.raises(ValueError, match="equal to 1"):
        data.sparse_tables(custom([1.0, 0.0, 0.0]).probs(3), 8, 20)
    assert data.poisson_rate([1.0, 0.2]) == np.inf


@pytest.mark.parametrize("call, match", [
    (lambda: data.sparse_tables([0.1, -0.2], 8, 20), r"p\[1\]=-0.2; every p_i must be a probability in \[0, 1\)"),
    (lambda: data.sparse_tables([0.1, np.nan], 8, 20), r"p\[1\]=nan"),
    (lambda: data.sparse_tables([0.1, 1.5], 8, 20), r"p\[1\]=1.5"),
    (lambda: data.sparse_tables([[0.1]], 8, 20), r"p must be a non-empty 1-D array"),
    (lambda: data.sparse_tables([0.1], 8, -1), r"capacity=-1; must be an integer >= 0"),
    (lambda: data.sparse_tables([0.1], 0, 5), r"batch=0; must be an integer >= 1"),
    # the dense samplers check a concrete p too (was: p_i = 1.5 always on, with v in [0, 1.33))
    (lambda: data.sample_features(jax.random.PRNGKey(0), [1.5, 0.1], 4), r"p\[0\]=1.5; .* in \[0, 1\]"),
    (lambda: data.sample_features(jax.random.PRNGKey(0), [0.1, np.nan], 4), r"p\[1\]=nan"),
    (lambda: data.sample_features_plain(jax.random.PRNGKey(0), [0.1, -0.2], 4), r"p\[1\]=-0.2"),
    (lambda: data.sample_features_plain(jax.random.PRNGKey(0), [[0.1]], 4), r"non-empty 1-D array"),
    (lambda: data.event_capacity(8, float("inf")), r"max_rate=inf; must be a finite number > 0"),
    (lambda: data.event_capacity(0, 1.0), r"batch=0; must be an integer >= 1"),
    # (mutation run) a rate of 0 gave capacity 0; an empty p a [batch, 0] sample; the first bad entry is named
    # and all of them counted; an all-zero p reached the alias table and its message; negative weights a table
    (lambda: data.event_capacity(8, 0.0), r"max_rate=0.0; must be a finite number > 0"),
    (lambda: data.sample_features(jax.random.PRNGKey(0), [], 4), r"non-empty 1-D array .* shape \(0,\)"),
    (lambda: data.sparse_tables([0.1, -0.2, 2.0, np.nan], 8, 20), r"p\[1\]=-0.2; .* \(3 are not\)"),
    (lambda: data.sparse_tables([0.0, 0.0], 8, 20), r"p is all zero; the sparse sampler needs at least one p_i > 0"),
    (lambda: data.alias_table([0.5, -0.1]), r"weights must be a 1-D array of finite non-negative numbers"),
])
def test_sparse_table_builders_name_the_bad_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_public_sampler_pieces_name_bad_arguments():
    key = jax.random.PRNGKey(0)
    # (a negative size had failed in MLIR, True been read as a rate of 1, p_i = 2 given a NaN rate, a
    # negative p_i a negative one)
    for call, error, match in (
            (lambda: data.unit_uniform(key, (-1,)), TypeError,
             r"shape=\(-1,\); shape must be a tuple of integers >= 0"),
            (lambda: data.random_bits(key, 2.5, "hash"), TypeError, r"shape=2.5; shape must be a tuple"),
            (lambda: data.random_bits(key, (2,), "mt"), ValueError, r"rng='mt'; allowed: 'threefry', 'hash'"),
            (lambda: data.event_capacity(10, True), ValueError, r"max_rate=True; must be a finite number > 0"),
            (lambda: data.poisson_rate([0.5, 2.0]), ValueError, r"p\[1\]=2.0; every p_i must be a probability"),
            (lambda: data.poisson_rate([-0.1]), ValueError, r"p\[0\]=-0.1")):
        with pytest.raises(error, match=match):
            call()
    assert data.poisson_rate([0.5, 0.5]) == pytest.approx(2 * np.log(2)) and data.poisson_rate([1.0]) == np.inf
    # the shapes jax.random takes stay taken: an int, integer arrays, 0-d integer arrays as sizes
    for shape, want in ((5, (5,)), (np.array([3, 2]), (3, 2)), ((np.array(3),), (3,)), ((jnp.int32(3), 2), (3, 2)),
                        ([np.int64(3)], (3,))):
        for rng in data.RNGS:
            assert data.random_bits(key, shape, rng).shape == want, (shape, rng)
    for shape in ((True,), (2.0,), "ab"):
        with pytest.raises(TypeError, match="shape must be a tuple of integers >= 0"):
            data.unit_uniform(key, shape)


def test_sparse_sampler_checks_its_static_sizes_against_the_tables():
    tables = data.sparse_tables(np.full(5, 0.1), 8, 20)  # 5 features: 8 alias columns
    key = jax.random.PRNGKey(0)
    data.sample_features_sparse(key, tables, 8, 5)  # matches
    with pytest.raises(ValueError, match=r"n=9 does not match the tables \(8 alias columns"):
        data.sample_features_sparse(key, tables, 8, 9)
    with pytest.raises(ValueError, match=r"n=3 does not match"):
        data.sample_features_sparse(key, tables, 8, 3)
    with pytest.raises(ValueError, match=r"batch=536870912 with n=5; sampler='sparse' needs batch x next_pow2\(n\) < 2\^32"):
        # (shapes only: a check that let it through would otherwise try a 10 GB batch, mutation run)
        big = dict(tables, batch_size=np.zeros((2**29, 0)))
        jax.eval_shape(lambda k: data.sample_features_sparse(k, big, 2**29, 5), key)
    # the count table holds the law of T for 8 x Lambda: a batch of 64 had drawn 1/8 of its events, silently
    with pytest.raises(ValueError, match=r"batch=64 does not match the tables, built for batch 8; build them with "
                                         r"sparse_tables\(p, batch\)"):
        data.sample_features_sparse(key, tables, 64, 5)


def test_a_frequency_spec_given_as_p_is_named():
    from toyscale.frequencies import power_law

    for sampler in (data.sample_features, data.sample_features_plain):
        with pytest.raises(TypeError, match=r"is a frequency spec; pass its feature probabilities, p.probs\(n\)"):
            sampler(jax.random.PRNGKey(0), power_law(1.0), 8)


def test_the_top_bits_give_a_uniform_below_one_so_p_one_always_fires(monkeypatch):
    # 2**32 - 1 rounds to 1.0f without the clamp: a feature with p = 1 would then miss
    assert float(data._unit_from_bits(jnp.uint32(0xFFFFFFFF))) == np.nextafter(np.float32(1), np.float32(0))
    monkeypatch.setattr(data, "random_bits", lambda key, shape, rng="threefry": jnp.full(shape, 0xFFFFFFFF, jnp.uint32))
    x = np.asarray(data.sample_features(jax.random.PRNGKey(0), jnp.asarray([1.0, 0.5], jnp.float32), 8))
    assert np.all(x[:, 0] > 0)


def test_alias_columns_are_the_next_power_of_two():
    assert [data.alias_columns(n) for n in (1, 2, 3, 1024, 1025)] == [2, 2, 4, 1024, 2048]


@pytest.mark.parametrize("keys", [jax.random.split(jax.random.PRNGKey(0), 3),
                                  jax.random.split(jax.random.key(0), 3)])
def test_the_hash_generator_refuses_a_batch_of_keys_as_threefry_does(keys):
    # a (3, 2) batch had been flattened and only its first and last words read: the middle key ignored
    with pytest.raises(ValueError, match=r"key has shape \(3,( 2)?\); rng='hash' takes one key"):
        data.random_bits(keys, (4,), "hash")
    with pytest.raises(ValueError, match=r"rng='hash' takes one key"):
        data.sample_features(keys, np.full(3, 0.5), 2, rng="hash")
    assert data.random_bits(keys[0], (4,), "hash").shape == (4,)


def test_the_hash_generator_refuses_a_draw_its_32_bit_counter_cannot_number():
    # the element counter is a uint32 iota: at 2**32 + 1 words it would wrap and repeat the draw
    from toyscale.train import TrainConfig

    with pytest.raises(ValueError, match=r"rng='hash' draws at most 2\*\*32 words at once.*needs 4295032832"):
        jax.eval_shape(lambda k: data.random_bits(k, (2**16, 2**16 + 1), "hash"), jax.random.PRNGKey(0))
    largest = jax.eval_shape(lambda k: data.random_bits(k, (2**16, 2**16), "hash"), jax.random.PRNGKey(0))
    assert largest.shape == (2**16, 2**16)
    with pytest.raises(ValueError, match=r"rng='hash' with batch=65537, n=65536 and sampler='dense'"):
        TrainConfig(n=2**16, batch=2**16 + 1, steps=10, warmup=1, log_every=1, rng="hash", sampler="dense")
    TrainConfig(n=2**16, batch=2**16 + 1, steps=10, warmup=1, log_every=1, sampler="dense")  # (threefry: no limit)


def test_sparse_sampler_refuses_an_n_within_the_tables_alias_columns_but_not_theirs():
    # 10 features: 16 alias columns, so n = 9 and n = 12 passed the column check; n = 9 put 18 of 198
    # events on a feature the batch does not have (dropped from dense, clamped rows of W in encode)
    tables = data.sparse_tables(np.full(10, 0.3), 64)
    key = jax.random.PRNGKey(0)
    data.sample_features_sparse(key, tables, 64, 10)
    for n in (9, 12):
        with pytest.raises(ValueError, match=rf"n={n} does not match the tables, built for 10 features"):
            data.sample_features_sparse(key, tables, 64, n)
    with pytest.raises(TypeError, match=r"n=10.0; n must be an integer"):
        data.sample_features_sparse(key, tables, 64, 10.0)


def test_event_capacity_checks_its_tail_and_reaches_tiny_ones():
    from scipy import stats

    # a tail below the first search's reach gave capacity 0 (argmax of all False): every batch empty
    for tail in (1e-45, 1e-60, 1e-250):  # (1e-250 needs the first guess doubled twice; mutation run)
        c = data.event_capacity(64, 1.0, tail=tail)
        sf = stats.poisson.sf([c - 1, c], 64.0)
        assert sf[1] <= tail < sf[0]
    for tail, match in ((0.0, r"tail=0.0; tail must be finite > 0"), (-1.0, r"tail=-1.0"),
                        (1.0, r"tail=1.0; tail must be a probability in \(0, 1\)")):
        with pytest.raises(ValueError, match=match):
            data.event_capacity(64, 1.0, tail=tail)


@pytest.mark.runs_long
def test_plain_sampler_does_not_round_rare_rates_up_to_2_pow_minus_23():
    # jax.random.bernoulli compares with a 23-bit uniform: p = 1e-12 fired at 2^-23, 8 expected in these 2^26
    # draws (7 seen at p = 1e-9 in 5e7); a 32-bit uniform fires with probability 2^-32 or less (6.7e-5 expected)
    fired = sum(int(np.count_nonzero(data.sample_features_plain(jax.random.PRNGKey(s), np.full(4096, 1e-12), 4096)))
                for s in range(4))
    assert fired == 0


@pytest.mark.parametrize("rng", ["threefry", "hash"])
def test_the_samplers_name_a_key_that_is_not_one(rng):
    # (an int key had failed inside JAX, or on key.dtype, naming no argument)
    for draw in (lambda: data.sample_features(0, np.full(3, 0.5), 2, rng=rng),
                 lambda: data.random_bits(None, (4,), rng),
                 lambda: data.sample_features_plain(0, np.full(3, 0.5), 2)):
        with pytest.raises(TypeError, match="key=(0|None); key must be a PRNG key"):
            draw()


def _events_with_the_count_forced(beyond_capacity: bool) -> tuple[int, bool]:
    """(events kept, truncated) of a sparse batch whose count table says T = C, or T > C."""
    n, batch, capacity = 1024, 4096, 8
    tables = dict(data.sparse_tables(np.full(n, 1e-4), batch, capacity))
    above = np.full(capacity + 1, 0xFFFFFFFF, np.uint32)  # P(T > j) = 1 for every j < C ...
    if not beyond_capacity:
        above[capacity] = 0  # ... and 0 at j = C: exactly C events
    tables["count_hi"], tables["count_lo"] = above, above.copy()
    x, truncated = data.sample_features_sparse(jax.random.PRNGKey(0), tables, batch, n)
    return int(np.sum(np.asarray(x.values) > 0)), bool(truncated)


def test_exactly_capacity_events_are_all_kept_and_not_flagged():
    # (no test told T = C from T > C: a flag at T = C, or a batch keeping C - 1 events unflagged,
    # passed every sampler test; mutation check)
    assert _events_with_the_count_forced(False) == (8, False)
    assert _events_with_the_count_forced(True) == (8, True)
