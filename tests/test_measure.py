import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale.measure import overlap_stats, random_overlap_moments, represented_fraction, row_norms, welch_bound


def direct(W, threshold=0.5):
    norms = np.linalg.norm(W, axis=1)
    U = W[norms > threshold] / norms[norms > threshold, None]
    G = (U @ U.T) ** 2
    off = G[~np.eye(len(U), dtype=bool)]
    return off.mean(), off.var(), len(U)


def test_overlaps_match_a_direct_computation_with_unrepresented_rows():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(70, 5)).astype(np.float32)
    W[::3] *= 0.05  # a third of the rows fall below the threshold
    got = jax.jit(lambda w: overlap_stats(w, block=16))(jnp.asarray(W))  # 70 rows: a padded last block
    mean, var, count = direct(W)
    assert int(got["n_represented"]) == count
    np.testing.assert_allclose(float(got["overlap_mean"]), mean, rtol=1e-4)
    np.testing.assert_allclose(float(got["overlap_var"]), var, rtol=1e-3)


def test_nearly_orthogonal_rows_keep_their_variance():
    # Weak superposition: m represented rows within 1e-3 of orthonormal, squared overlaps ~1e-6.
    # Subtracting the diagonal's ones from float32 sums left rounding noise (a negative variance).
    rng = np.random.default_rng(1)
    n, m = 400, 40
    Q, _ = np.linalg.qr(rng.normal(size=(m, m)))
    W = 0.01 * rng.normal(size=(n, m))
    W[:m] = Q + 1e-3 * rng.normal(size=(m, m))
    got = overlap_stats(jnp.asarray(W, jnp.float32), block=64)
    mean, var, count = direct(W)
    assert int(got["n_represented"]) == count == m and var > 0
    np.testing.assert_allclose(float(got["overlap_mean"]), mean, rtol=1e-3)
    np.testing.assert_allclose(float(got["overlap_var"]), var, rtol=1e-2)


def test_equal_overlaps_have_zero_variance():
    # m + 1 unit vectors of a regular simplex in R^m: every squared overlap is exactly 1/m^2.
    m = 6
    simplex = np.eye(m + 1) - 1.0 / (m + 1)
    U, _, _ = np.linalg.svd(simplex)
    W = simplex @ U[:, :m]  # the same points in R^m
    got = overlap_stats(jnp.asarray(W, jnp.float32))
    np.testing.assert_allclose(float(got["overlap_mean"]), 1 / m**2, rtol=1e-5)
    assert 0.0 <= float(got["overlap_var"]) < 1e-12


def test_the_welch_bound_is_reached_by_a_simplex_and_bounds_random_and_tight_frames():
    # a regular simplex (m + 1 vectors in R^m) is an equiangular tight frame: every squared
    # overlap equals the bound, 1/m^2
    for m in (2, 6, 11):
        assert welch_bound(m + 1, m) == pytest.approx(1 / m**2, rel=1e-14)
    assert welch_bound(5, 5) == welch_bound(3, 7) == 0.0  # orthogonal vectors fit
    rng = np.random.default_rng(3)
    for nu, m in ((30, 4), (200, 10), (12, 11)):
        kappa2 = welch_bound(nu, m)
        assert 0 < kappa2 < 1 / m
        mean, _, _ = direct(rng.normal(size=(nu, m)))
        assert mean >= kappa2  # any nu unit vectors: their mean squared overlap
        if m % 2 == 0:
            # a harmonic frame, rows (cos 2 pi k j / nu, sin 2 pi k j / nu) for j = 1..m/2: equal
            # norms and orthogonal columns of equal norm, a tight frame, reaches it in the mean
            k = 2 * np.pi / nu * np.arange(nu)[:, None] * np.arange(1, m // 2 + 1)[None, :]
            mean, _, _ = direct(np.concatenate([np.cos(k), np.sin(k)], axis=1))
            assert mean == pytest.approx(kappa2, rel=1e-9)


@pytest.mark.parametrize("nu, m, error, match", [
    (1, 3, ValueError, "nu=1; must be an integer >= 2"), (4, 0, ValueError, "m=0; must be an integer >= 1"),
    (4.0, 3, TypeError, "nu=4.0; nu must be an integer"), (True, 3, TypeError, "nu=True")])
def test_welch_bound_rejects_what_has_no_pair(nu, m, error, match):
    with pytest.raises(error, match=match.replace("[", r"\[")):
        welch_bound(nu, m)


def test_an_unrepresented_non_finite_row_and_a_narrow_dtype_do_not_change_the_moments():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(50, 4)).astype(np.float32)
    mean, var, count = direct(W)
    with_nan = np.concatenate([W, np.full((1, 4), np.nan, np.float32)])
    got = overlap_stats(jnp.asarray(with_nan))
    assert int(got["n_represented"]) == count
    np.testing.assert_allclose([float(got["overlap_mean"]), float(got["overlap_var"])], [mean, var], rtol=1e-4)
    # float16 weights: 50 x 49 pairs overflow float16 counts, so the moments are taken in float32
    half = overlap_stats(jnp.asarray(W, jnp.float16))
    assert half["overlap_mean"].dtype == jnp.float32
    mean16, var16, _ = direct(W.astype(np.float16).astype(np.float64))
    np.testing.assert_allclose([float(half["overlap_mean"]), float(half["overlap_var"])], [mean16, var16], rtol=1e-3)


def test_row_norms_of_narrow_floats_are_taken_in_float32():
    # a bfloat16 norm of 0.50098 had rounded to 0.5 (not represented), and a float16 norm of 300 overflowed
    W = np.array([[0.5, 0.03125], [1.0, 0.0625], [0.30078125, 0.0]], np.float32)  # (exact in bfloat16)
    narrow = jnp.asarray(W, jnp.bfloat16)
    np.testing.assert_allclose(row_norms(narrow), np.linalg.norm(W, axis=1), rtol=1e-6)
    assert float(represented_fraction(narrow)) == pytest.approx(2 / 3)
    assert int(overlap_stats(narrow)["n_represented"]) == 2
    half = row_norms(jnp.asarray([[300.0, 0.0], [0.7, 0.0]], jnp.float16))
    assert half.dtype == jnp.float32 and np.all(np.isfinite(half)) and float(half[0]) == 300.0


def test_random_unit_vectors_have_the_beta_moments():
    m, n = 8, 600
    W = jax.random.normal(jax.random.PRNGKey(1), (n, m))
    got = overlap_stats(W)
    mean, var = random_overlap_moments(m)
    assert abs(float(got["overlap_mean"]) - mean) < 0.05 * mean
    assert abs(float(got["overlap_var"]) - var) < 0.1 * var


def test_fewer_than_two_represented_rows_give_nan_and_fractions_count_rows(strict_promotion):
    W = jnp.asarray([[2.0, 0.0], [0.1, 0.0], [0.0, 0.7], [0.0, 0.2]])
    assert float(represented_fraction(W, 0.5)) == 0.5
    assert float(represented_fraction(W, 1.0)) == 0.25
    np.testing.assert_allclose(row_norms(W), [2.0, 0.1, 0.7, 0.2], rtol=1e-6)
    # the thresholds are strict: #{||W_i|| > t}, so norms of exactly 1/2 and 1 are not counted at them
    edges = jnp.concatenate([W, jnp.asarray([[0.5, 0.0], [0.0, 1.0]])])
    assert float(represented_fraction(edges, 0.5)) == pytest.approx(3 / 6)
    assert float(represented_fraction(edges, 1.0)) == pytest.approx(1 / 6)
    got = jax.vmap(overlap_stats)(jnp.stack([W, W.at[2].set(0.0)]))
    assert np.isfinite(float(got["overlap_mean"][0]))
    assert np.isnan(float(got["overlap_mean"][1])) and int(got["n_represented"][1]) == 1


def test_a_bad_static_argument_is_named_before_tracing():
    from toyscale.data import sample_features
    from toyscale.superposition import init_params

    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match="block=0"):  # (was a ZeroDivisionError)
        overlap_stats(jnp.ones((4, 2)), block=0)
    with pytest.raises(ValueError, match="batch=-1"):  # (was an MLIRError after compiling)
        sample_features(key, jnp.full(8, 0.1), -1)
    with pytest.raises(ValueError, match="m=-2"):
        init_params(key, 8, -2)
    # (these gave impossible numbers: negative overlap moments, phi = 1 of a vector, 1/m at m = -3)
    with pytest.raises(ValueError, match="threshold=-1.0"):
        overlap_stats(jnp.ones((4, 2)), threshold=-1.0)
    with pytest.raises(ValueError, match="threshold=nan"):
        represented_fraction(jnp.ones((4, 2)), threshold=float("nan"))
    with pytest.raises(ValueError, match=r"W has shape \(4,\)"):
        represented_fraction(jnp.ones(4))
    with pytest.raises(ValueError, match="m=-3"):
        random_overlap_moments(-3)
    with pytest.raises(TypeError, match="m=2.5"):
        random_overlap_moments(2.5)


def test_overlap_variance_includes_the_spread_between_block_means():
    # block 0: 4 identical directions (squared overlap 1 within the block), block 1: 4 orthonormal
    # directions; across blocks the overlaps are fixed numbers. Direct moments over all pairs.
    m = 4
    e = np.eye(m)
    W = np.concatenate([np.tile(np.ones(m) / 2, (4, 1)), e]).astype(np.float32)
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    G = (U @ U.T) ** 2
    off = G[~np.eye(len(U), dtype=bool)]
    got = overlap_stats(jnp.asarray(W), block=4)
    np.testing.assert_allclose(float(got["overlap_mean"]), off.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(got["overlap_var"]), off.var(), rtol=1e-4)


@pytest.mark.parametrize("shape", [(0, 3), (5, 0)])  # (rows of length 0 had raised ZeroDivisionError in a reshape)
def test_a_matrix_without_rows_has_no_overlaps(shape):
    stats = overlap_stats(np.zeros(shape, np.float32))
    assert np.isnan(stats["overlap_mean"]) and np.isnan(stats["overlap_var"]) and int(stats["n_represented"]) == 0


def test_complex_weights_are_refused_not_cast():
    # a cast to float32 had dropped the imaginary parts: norms [0, 0.6] for [5, 0.6], phi_1/2 = 0.5 for 1
    W = np.array([[3j, 4j], [0.6, 0.0]], np.complex64)
    for fn in (row_norms, represented_fraction, overlap_stats):
        with pytest.raises(TypeError, match="W has dtype complex64; W must be real"):
            fn(W)


@pytest.mark.parametrize("bad", [np.inf, np.nan, -np.inf])
def test_a_row_with_a_non_finite_norm_stays_out_of_the_overlaps(bad):
    # an infinite norm passed the threshold, and its unit row W / inf = NaN spread to both moments
    rng = np.random.default_rng(2)
    W = rng.normal(size=(20, 4)).astype(np.float32)
    broken = W.copy()
    broken[3] = [bad, 0.0, 0.0, 0.0]
    got = overlap_stats(jnp.asarray(broken), block=8)
    mean, var, count = direct(np.delete(W, 3, axis=0))
    assert int(got["n_represented"]) == count == 19
    np.testing.assert_allclose(float(got["overlap_mean"]), mean, rtol=1e-4)
    np.testing.assert_allclose(float(got["overlap_var"]), var, rtol=1e-3)


def test_threshold_must_be_one_number_and_W_may_be_a_list():
    W = [[1.0, 0.0], [0.0, 0.2], [0.6, 0.8]]
    assert float(represented_fraction(W)) == pytest.approx(2 / 3)  # (a list had failed inside jnp.linalg.norm)
    # the default threshold is the paper's 1/2: a row of norm 0.45 or 0.5 is not represented, 0.55 is (defaults of
    # 0.4 had passed: no row lay between)
    near = [[0.45, 0.0], [0.0, 0.5], [0.55, 0.0], [0.0, 0.56]]
    assert float(represented_fraction(near)) == 0.5 and int(overlap_stats(jnp.asarray(near))["n_represented"]) == 2
    for fn in (represented_fraction, overlap_stats):
        with pytest.raises(TypeError, match=r"threshold='0.5'; threshold must be a real number"):
            fn(jnp.asarray(W), "0.5")
        with pytest.raises(TypeError, match=r"threshold has shape \(2,\); threshold must be one real number"):
            fn(jnp.asarray(W), [0.5, 1.0])


def test_represented_counts_agree_at_the_threshold_itself():
    # a row of norm exactly 1/2 is not represented, in overlap_stats' count as in phi (a >= in
    # one of them had passed; mutation check)
    W = jnp.asarray([[0.5, 0.0], [0.0, 0.5], [0.6, 0.8], [0.0, 2.0], [1.0, 1.0]])
    assert int(overlap_stats(W, threshold=0.5)["n_represented"]) == round(float(represented_fraction(W, 0.5)) * 5) == 3


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_phi_leaves_out_a_row_with_a_non_finite_norm_as_the_overlaps_count_does(bad):
    # an infinite norm had counted as represented in phi (inf > 1/2) but not in overlap_stats:
    # phi_1/2 = 0.75 beside n_represented = 2 for these four rows
    W = jnp.asarray([[bad, 0.0], [1.0, 0.0], [0.0, 1.0], [0.1, 0.0]])
    assert float(represented_fraction(W, 0.5)) == 0.5
    assert int(overlap_stats(W, threshold=0.5)["n_represented"]) == 2


def test_the_overlaps_gram_product_asks_for_full_float32_on_every_backend():
    # JAX's default precision lets a GPU round float32 operands to TF32 (a CPU ignores it, so the
    # program's text is what can be checked here)
    text = jax.jit(overlap_stats).lower(jnp.ones((6, 3)) / 3).as_text()
    dots = [line for line in text.splitlines() if "dot_general" in line]
    assert dots and all("HIGHEST" in line for line in dots), dots
