import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale import theory
from toyscale.random_features import RFConfig, random_feature_grid, replicate_means, sweep_random_features

CFG = RFConfig(M=256)
INF = float("inf")


def spectrum(M=2048, alpha=0.5):
    with jax.enable_x64(True):
        return jnp.asarray(theory.kernel_eigenvalues(RFConfig(M=M), alpha))


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_deterministic_equivalent_agrees_with_simulation():
    # Both sides of the peak, ridge and noise; 48 models per point.
    pts = (random_feature_grid(N=[16, 64], T=[48], alpha=[0.5], ridge=[0.0, 0.05], noise=[0.0], seeds=48)
           + random_feature_grid(N=[96], T=[24], alpha=[1.0], ridge=[0.01], noise=[0.5], seeds=48)
           + random_feature_grid(N=[8], T=[24], alpha=[0.5], seeds=48, infinite_data=True, kernel_limit=True)
           # the kernel limit on the same noisy training set, scored on fresh noisy labels
           + random_feature_grid(N=[8], T=[24], alpha=[0.5], noise=[0.5], seeds=48, kernel_limit=True))
    res = sweep_random_features(CFG, pts, seed=3, progress=False)
    points, mean, sem = replicate_means(res)
    want = theory.expected_test_loss(CFG, points)
    # The equivalent is asymptotic in N, T: allow 4% for finite size on top of 3 standard errors.
    np.testing.assert_array_less(np.abs(mean - want), 3 * sem + 0.04 * want)
    # The limits of the same models against their theory (T = inf, N = inf), with and without noise.
    clean = next(p for p in points if p["N"] == 8 and p["noise"] == 0.0)
    noisy = next(p for p in points if p["N"] == 8 and p["noise"] == 0.5)
    want_inf = theory.expected_test_loss(CFG, [dict(clean, T=INF), dict(clean, N=INF), dict(noisy, N=INF)])
    for (name, noise), w in zip((("loss_infinite_data", 0.0), ("loss_kernel_limit", 0.0), ("loss_kernel_limit", 0.5)),
                                want_inf):
        _, m, s = replicate_means(res.select(N=8, noise=noise), name)
        assert abs(m[0] - w) < 3 * s[0] + 0.04 * w, (name, noise)


@pytest.mark.parametrize("cfg", [RFConfig(M=64, lambda_plus=10.0, sigma_u=2.0, sigma_w=1.5),
                                 RFConfig(M=64, lambda_plus=200.0, sigma_u=0.3),
                                 RFConfig(M=64, teacher_exponent=1.5), RFConfig(M=64, teacher_exponent=-0.4)])
def test_the_theory_follows_the_spectrums_scale_and_the_feature_weights(cfg):
    # every other theory-vs-simulation point has the default lambda_plus (= M) and sigma_u = 1: a theory that
    # ignored either would pass them (here 1.73 for 0.31 with the default scale); and an isotropic teacher, where
    # a model or a theory that ignored teacher_exponent would pass
    pts = random_feature_grid(N=[16, 96], T=[48], alpha=[0.5], ridge=[0.05], noise=[0.2], seeds=48)
    points, mean, sem = replicate_means(sweep_random_features(cfg, pts, seed=5, progress=False))
    want = theory.expected_test_loss(cfg, points)
    np.testing.assert_array_less(np.abs(mean - want), 3 * sem + 0.04 * want)


def test_kernel_limit_is_reached_as_N_grows(x64):
    lam = spectrum()
    krr = theory.krr_risk(lam, lam, 0.1, 128, 0.01)
    gaps = [abs(float(theory.rf_risk(lam, lam, 0.1, 128, k, 0.01)) / float(krr) - 1) for k in (256, 1024, 8192, 1e6)]
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    assert gaps[-1] < 1e-3
    np.testing.assert_allclose(theory.rf_risk(lam, lam, 0.1, 128, INF, 0.01), krr, rtol=1e-9)


def test_variance_limited_terms_fall_as_one_over_size(x64):
    # Ridgeless: L(N, T) - L(N, inf) = (B(N) + s2) N / (T - N) for T > N, and
    # L(N, T) - L(inf, T) = (B(T) + s2) T / (N - T) for N > T (derived from rf_risk at delta = 0).
    lam, s2 = spectrum(), 0.25
    for n, k in ((4096, 64), (64, 4096)):
        limit = theory.rf_risk(lam, lam, s2, INF, k, 0.0) if n > k else theory.krr_risk(lam, lam, s2, n, 0.0)
        small = min(n, k)
        want = (theory.approximation_error(lam, lam, small) + s2) * small / (max(n, k) - small)
        np.testing.assert_allclose(theory.rf_risk(lam, lam, s2, n, k, 0.0) - limit, want, rtol=1e-6)


@pytest.mark.parametrize("n,k", [(32, 512), (512, 32), (100, 130), (130, 100)])
def test_ridgeless_closed_form_is_the_ridgeless_deterministic_equivalent(n, k, x64):
    lam = spectrum()
    de = theory.rf_risk(lam, lam, 0.0, n, k, 0.0)
    closed = theory.ridgeless_rf_risk(lam, lam, n, k)
    np.testing.assert_allclose(de, closed, rtol=1e-6)
    np.testing.assert_allclose(de, theory.rf_risk(lam, lam, 0.0, k, n, 0.0), rtol=1e-6)  # duality
    # ...and that is B(min) / (1 - min/max), written out here from approximation_error
    small, large = min(n, k), max(n, k)
    np.testing.assert_allclose(closed, theory.approximation_error(lam, lam, small) / (1 - small / large), rtol=1e-6)
    # For a target not proportional to lam the form B(min)/(1 - min/max) fails for n < k; the
    # function follows the deterministic equivalent instead (it had returned the isotropic form)
    v2 = lam ** 0.6
    de = float(theory.rf_risk(lam, v2, 0.0, n, k, 0.0))
    assert float(theory.ridgeless_rf_risk(lam, v2, n, k)) == pytest.approx(de, rel=1e-6)
    isotropic_form = float(theory.approximation_error(lam, v2, small)) / (1 - small / large)
    assert (abs(isotropic_form / de - 1) > 0.01) == (n < k)


def test_approximation_error_is_the_ridgeless_kernel_risk_and_scales_as_k_to_minus_alpha(x64):
    lam = spectrum(M=2**15, alpha=0.5)
    for k in (16, 200):
        np.testing.assert_allclose(theory.approximation_error(lam, lam, k), theory.krr_risk(lam, lam, 0.0, k, 0.0),
                                   rtol=1e-6)
    ks = np.array([64, 128, 256, 512])
    B = jax.vmap(lambda k: theory.approximation_error(lam, lam, k))(jnp.asarray(ks, jnp.float64))
    slope = -np.polyfit(np.log(ks), np.log(np.asarray(B)), 1)[0]
    assert abs(slope - 0.5) < 0.05


def test_a_ridge_tames_the_double_descent_peak(x64):
    lam = spectrum()
    ridgeless, small, large = (float(theory.rf_risk(lam, lam, 0.0, 128, 129, r)) for r in (0.0, 1e-2, 1e-1))
    far = float(theory.rf_risk(lam, lam, 0.0, 128, 1024, 0.0))
    assert ridgeless > 10 * small and small > large and large < 2 * far


def test_effective_ridges_solve_their_equations_under_jit_and_vmap(x64):
    lam = spectrum(M=512)
    n = jnp.array([50.0, 300.0, 80.0])
    k = jnp.array([200.0, 40.0, 80.5])
    d = jnp.array([0.1, 1.0, 0.0])
    kappa, gamma = jax.jit(jax.vmap(theory.effective_ridges, in_axes=(None, 0, 0, 0)))(lam, n, k, d)
    z = jax.vmap(theory.degrees_of_freedom, in_axes=(None, 0))(lam, gamma)
    np.testing.assert_allclose(k, z + k * kappa / gamma, rtol=1e-9)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(n[:2], (z + d / kappa)[:2], rtol=1e-9)
    np.testing.assert_allclose(z[2], 80.0, rtol=1e-9)  # ridgeless: df = min(n, k)
    risks = jax.jit(jax.vmap(theory.rf_risk, in_axes=(None, None, None, 0, 0, 0)))(lam, lam, 0.0, n, k, d)
    assert np.all(np.isfinite(risks)) and np.all(np.asarray(risks) > 0)


def test_expected_test_loss_uses_float64_without_touching_the_global_flag():
    before = jax.config.jax_enable_x64
    out = theory.expected_test_loss(CFG, [{"N": 10, "T": 40, "alpha": 0.5}, {"N": INF, "T": 40, "alpha": 0.5}])
    assert out.dtype == np.float64 and out[0] > out[1] > 0
    assert jax.config.jax_enable_x64 == before


def test_rf_risk_stays_accurate_near_full_rank():
    # 4096 modes, ridgeless, n = 4095 samples, k = 5000 features: mpmath's 5.2680345818e-05 (50
    # digits, the ridgeless form E_krr(n) + B(n) n/(k - n)). The bias took 1 - L by subtraction,
    # which rounds to 0 for the large modes once gamma is tiny, and its two terms cancel near full
    # rank: float32 gave 1.70e-05 (68 % low; negative at alpha = 1) and even float64 went wrong at
    # steeper spectra (below). Written as gamma / (lam + gamma), both precisions hold.
    want = 5.2680345818e-05
    lam = np.arange(1, 4097, dtype=np.float64) ** -1.5
    np.testing.assert_allclose(theory.kernel_eigenvalues(RFConfig(M=4096), 0.5), lam, rtol=1e-12)
    with jax.enable_x64(True):
        got64 = float(theory.rf_risk(jnp.asarray(lam), jnp.asarray(lam), 0.0, 4095, 5000, 0.0))
    assert got64 == pytest.approx(want, rel=1e-6)
    assert theory.expected_test_loss(RFConfig(M=4096), [{"N": 5000, "T": 4095, "alpha": 0.5}])[0] == pytest.approx(
        want, rel=1e-6)
    lam32 = jnp.asarray(lam, jnp.float32)
    assert float(theory.rf_risk(lam32, lam32, 0.0, 4095, 5000, 0.0)) == pytest.approx(want, rel=1e-3)
    # alpha = 3 (lambda_i = i^-4), N = 8192, T = 4095: mpmath (40 digits) 3.55122e-14 both ways
    # round; float64 had given 4.52e-15 at (8192, 4095) and the right value swapped
    out = theory.expected_test_loss(RFConfig(M=4096), [{"N": 8192, "T": 4095, "alpha": 3.0},
                                                       {"N": 4095, "T": 8192, "alpha": 3.0}])
    np.testing.assert_allclose(out, [3.55122e-14] * 2, rtol=1e-5)


@pytest.mark.parametrize("P", [256, 4096])
def test_rf_risk_in_float32_matches_float64_near_full_rank(P):
    # ridgeless and small-ridge points beside full rank (n or k within a few of the P modes,
    # their 2x and inf), with and without label noise: within 0.4 % wherever the risk is above
    # 1e-10 (before 1 - L was written as gamma / (lam + gamma): 68 % off, or negative)
    combos = [(n, k, r, s) for n in (P // 2, P - 16, P - 2, P - 1, P + 1, 2 * P)
              for k in (P // 4, P - 1, P + 7, 2 * P, np.inf) for r in (0.0, 1e-8, 1e-3) for s in (0.0, 0.5) if n != k]
    n, k, r, s = (np.array(c, dtype=np.float64) for c in zip(*combos))
    for alpha in (0.25, 1.0, 3.0):
        lam = np.arange(1, P + 1, dtype=np.float64) ** -(1 + alpha)
        f32 = np.asarray(theory._rf_risk_batch(*(jnp.asarray(x, jnp.float32) for x in (lam, lam, s, n, k, r))))
        with jax.enable_x64(True):
            f64 = np.asarray(theory._rf_risk_batch(*(jnp.asarray(x) for x in (lam, lam, s, n, k, r))))
        big = np.isfinite(f64) & (f64 > 1e-10)
        assert big.sum() > len(combos) // 2
        np.testing.assert_allclose(f32[big], f64[big], rtol=4e-3, err_msg=f"alpha={alpha}")
        assert np.all(f32[np.isfinite(f64)] >= 0)


@pytest.mark.parametrize("point,match", [
    ({"N": 0, "T": 4, "alpha": 1.0}, "N=0"),
    ({"N": 4, "T": 4, "alpha": 0.0}, "alpha=0.0"),
    ({"N": 4, "T": 4, "alpha": 1.0, "ridge": -1.0}, "ridge=-1.0"),
    ({"N": 4, "T": 4, "alpha": 1.0, "nonlinearity": "relu"}, "linear features"),
    ({"N": -INF, "T": 4, "alpha": 1.0}, "N=-inf"),
])
def test_theory_rejects_bad_points(point, match):
    with pytest.raises(ValueError, match=match):
        theory.expected_test_loss(CFG, [point])


def test_expected_test_loss_names_points_that_are_not_a_list_of_dicts_and_takes_a_numpy_inf():
    for points, match in ((None, "points=None; points must be a list of grid points"),
                          ("abc", "points='abc'; points must be a list"),
                          ([1], r"points\[0\]=1; each point must be a dict")):
        with pytest.raises(TypeError, match=match):
            theory.expected_test_loss(CFG, points)
    with pytest.raises(TypeError, match="config=.*expected a toyscale.random_features.RFConfig"):
        theory.kernel_eigenvalues({"M": 16}, 0.5)  # (an AttributeError on 'sigma_u')
    point = {"N": 8, "T": 16, "alpha": 1.0}
    want = theory.expected_test_loss(CFG, [dict(point, N=INF)])
    assert theory.expected_test_loss(CFG, [dict(point, N=np.float32("inf"))]) == want  # (refused as no integer)


def test_risk_functions_and_expected_test_loss_name_bad_arguments():
    import pytest

    from toyscale import theory
    from toyscale.random_features import RFConfig

    lam = [1.0, 0.5, 0.25]  # a list works too (it raised AttributeError)
    assert np.isfinite(float(theory.rf_risk(lam, lam, 0.0, 4.0, float("inf"), 0.1)))
    for call, match in [
        (lambda: theory.rf_risk(lam, lam, 0.0, 4.0, 8.0, -1.0), "ridge=-1.0; ridge must be finite >= 0"),
        (lambda: theory.rf_risk(lam, lam, 0.0, 0, 8.0, 0.1), "n=0"),
        (lambda: theory.krr_risk(lam, lam, -0.1, 4.0, 0.1), "noise_var=-0.1"),
        (lambda: theory.expected_test_loss(RFConfig(M=16), {"N": 4, "T": 8, "alpha": 1.0}), "for one point: \\[point\\]"),
        # (these returned numbers)
        (lambda: theory.effective_ridges(jnp.asarray(lam), 4.0, 8.0, -0.1), "ridge=-0.1"),
        (lambda: theory.effective_ridges(jnp.asarray(lam), -5.0, 8.0, 0.1), "n=-5.0"),
        (lambda: theory.approximation_error(jnp.asarray(lam), jnp.asarray(lam), -3.0), "k=-3.0"),
        (lambda: theory.ridgeless_rf_risk(jnp.asarray(lam), jnp.asarray(lam), -64.0, 8.0), "n=-64.0"),
        (lambda: theory.kernel_eigenvalues(RFConfig(M=16), -2.0), "alpha=-2.0"),
        # concrete 0-d arrays are checked like numbers (they returned 0.41, -1.34, nan, ...)
        (lambda: theory.rf_risk(lam, lam, 0.0, 4.0, 8.0, np.array(-0.5)), "ridge=-0.5; ridge must be finite >= 0"),
        (lambda: theory.rf_risk(lam, lam, jnp.asarray(-1.0), 4.0, 8.0, 0.1), "noise_var=-1.0"),
        (lambda: theory.rf_risk(lam, lam, jnp.asarray(np.nan), 4.0, 8.0, 0.1), "noise_var=nan"),
        (lambda: theory.krr_risk(lam, lam, 0.0, jnp.asarray(-10.0), 0.1), "n=-10.0"),
        (lambda: theory.degrees_of_freedom(lam, jnp.asarray(-1e-3)), "gamma=-0.001"),
        (lambda: theory.approximation_error(jnp.asarray(lam), jnp.asarray(lam), jnp.asarray(0.0)), "k=0.0"),
        (lambda: theory.kernel_eigenvalues(RFConfig(M=16), np.array(-3.0)), "alpha=-3.0"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            call()


def test_ridgeless_risk_with_as_many_samples_and_features_as_modes_is_the_least_squares_limit(x64):
    # min(N, T) >= M at ridge 0: gamma -> 0 and the formulas were 0/0 (-0.015 at T = M)
    cfg = RFConfig(M=64)
    got = theory.expected_test_loss(cfg, [{"N": 128, "T": 64, "alpha": 0.5}, {"N": 64, "T": 128, "alpha": 0.5},
                                          {"N": 128, "T": 256, "alpha": 0.5, "noise": 0.3},
                                          {"N": 256, "T": 128, "alpha": 0.5, "noise": 0.3},
                                          {"N": 128, "T": 64, "alpha": 0.5, "noise": 0.3}])
    np.testing.assert_allclose(got, [0.0, 0.0, 0.09 / (1 - 64 / 256), 0.09 / (1 - 64 / 128), np.inf])
    lam = spectrum(M=64)
    # just below full rank the deterministic equivalent is small and positive, not negative
    assert 0 < float(theory.rf_risk(lam, lam, 0.0, 63.0, 128.0, 0.0)) < 0.05
    assert float(theory.krr_risk(lam, lam, 0.04, 128.0, 0.0)) == pytest.approx(0.04 / (1 - 64 / 128))
    assert float(theory.krr_risk(lam, lam, 0.04, INF, 0.0)) == pytest.approx(0.04)  # (was inf/inf = nan)
    assert float(theory.krr_risk(lam, lam, 0.04, INF, 0.1)) == pytest.approx(0.04)


def test_zero_and_rounding_negative_eigenvalues_are_modes_nothing_learns(x64):
    # The spectrum of a rank-deficient Gram matrix (eigvalsh: zeros as +-1e-16) gave the
    # bisection a floor of log(0) = -inf: rf_risk returned 2.32 instead of 0.611.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 50)) * np.arange(1, 51) ** -0.75
    full = np.linalg.eigvalsh(X.T @ X / 200)  # 50 positive modes
    padded = np.linalg.eigvalsh(X @ X.T / 200)  # the same 50 and 150 rounding zeros
    assert np.sum(np.abs(padded) < 1e-12) == 150 and padded.min() < 0
    risk = lambda ev: float(theory.rf_risk(jnp.asarray(ev), jnp.asarray(np.clip(ev, 0, None)), 0.0, 20.0, 40.0, 1e-3))  # noqa: E731
    assert risk(padded) == pytest.approx(risk(full), rel=1e-9)
    # ridgeless with rank <= n < len(padded): +1e-16 "modes" counted as learnable give 0.924
    # (rf) and 0.824 (krr) against 0.200; rank_truncate sets them to 0 (150 of them, no more)
    cut = theory.rank_truncate(padded)
    assert np.sum(cut == 0) == 150 and np.array_equal(cut[cut > 0], padded[padded > 1e-12])
    for n in (60.0, 100.0):
        ridgeless = [float(theory.rf_risk(jnp.asarray(ev), jnp.asarray(np.clip(ev, 0, None)), 0.1, n, 2 * n, 0.0))
                     for ev in (full, cut, padded)]
        assert ridgeless[1] == pytest.approx(ridgeless[0], rel=1e-9) and ridgeless[0] == pytest.approx(0.1 / (1 - 50 / n))
        assert ridgeless[2] > 1.3 * ridgeless[0]  # what the rounding modes do, uncut (0.87 vs 0.60 at n = 60)
        krr = [float(theory.krr_risk(jnp.asarray(ev), jnp.asarray(np.clip(ev, 0, None)), 0.1, n, 0.0)) for ev in (full, cut)]
        assert krr[1] == pytest.approx(krr[0], rel=1e-9)
    lam, lam0 = jnp.asarray([1.0, 0.5, 0.25]), jnp.asarray([1.0, 0.5, 0.25, 0.0])
    assert float(theory.krr_risk(lam0, lam0, 0.0, 2.0, 0.1)) == pytest.approx(float(theory.krr_risk(lam, lam, 0.0, 2.0, 0.1)))
    np.testing.assert_allclose(theory.effective_ridges(lam0, 2.0, 3.0, 0.1), theory.effective_ridges(lam, 2.0, 3.0, 0.1))
    # ridgeless past full rank: the zero mode's power is left over and acts as noise
    v2 = jnp.asarray([1.0, 0.5, 0.25, 0.3])
    assert float(theory.rf_risk(lam0, v2, 0.1, 10.0, 20.0, 0.0)) == pytest.approx((0.3 + 0.1) / (1 - 3 / 10))
    assert float(theory.rf_risk(lam0, v2, 0.1, 10.0, 20.0, 1e-9)) == pytest.approx((0.3 + 0.1) / (1 - 3 / 10), rel=1e-6)
    with pytest.raises(ValueError, match="-0.5 < 0"):
        theory.rf_risk(jnp.asarray([1.0, -0.5]), jnp.ones(2), 0.0, 2.0, 2.0, 0.1)
    with pytest.raises(ValueError, match="at least one > 0"):
        theory.krr_risk(jnp.zeros(3), jnp.ones(3), 0.0, 2.0, 0.1)


def test_ridgeless_form_at_infinite_samples_and_features_is_zero_not_nan(x64):
    lam = spectrum(M=64)
    assert float(theory.ridgeless_rf_risk(lam, lam, INF, INF)) == pytest.approx(0.0, abs=1e-12)
    assert float(theory.ridgeless_rf_risk(lam, lam, 32.0, INF)) == pytest.approx(float(theory.approximation_error(lam, lam, 32.0)))


def test_the_teacher_scale_sets_the_target_power_and_not_the_kernel():
    # E[v_I^2] = sigma_w^2 lambda_I / M; the kernel's eigenvalues carry sigma_u, not sigma_w
    base, loud = RFConfig(M=8), RFConfig(M=8, sigma_w=3.0)
    np.testing.assert_allclose(theory.target_power(loud, 0.5), 9 * theory.target_power(base, 0.5), rtol=1e-12)
    np.testing.assert_allclose(theory.kernel_eigenvalues(loud, 0.5), theory.kernel_eigenvalues(base, 0.5), rtol=1e-12)
    np.testing.assert_allclose(theory.kernel_eigenvalues(RFConfig(M=8, sigma_u=2.0), 0.5),
                               4 * theory.kernel_eigenvalues(base, 0.5), rtol=1e-12)
    # noise-free, the whole risk scales with the teacher's power
    point = [{"N": 16, "T": 32, "alpha": 0.5, "ridge": 0.01}]
    np.testing.assert_allclose(theory.expected_test_loss(RFConfig(M=64, sigma_w=10.0), point),
                               100 * theory.expected_test_loss(RFConfig(M=64), point), rtol=1e-9)


def test_an_exact_spectrum_keeps_its_small_modes():
    # A concrete spectrum's values below P x eps x max were set to 0 as if they were a Gram
    # matrix's rounding: in float32 (x64 off) 45 of 4096 modes were left at alpha = 1 and
    # krr_risk gave 0.0228 against 0.00195, rf_risk 0.0395 against 0.0319.
    cfg = RFConfig(M=4096)
    lam, v2 = theory.kernel_eigenvalues(cfg, 1.0), theory.target_power(cfg, 1.0)
    want = theory.expected_test_loss(cfg, [{"N": INF, "T": 1000, "alpha": 1.0}, {"N": 400, "T": 100, "alpha": 1.0}])
    assert float(theory.krr_risk(jnp.asarray(lam, jnp.float32), v2, 0.0, 1000, 0.0)) == pytest.approx(want[0], rel=1e-3)
    assert float(theory.rf_risk(jnp.asarray(lam, jnp.float32), v2, 0.0, 100, 400, 0.0)) == pytest.approx(want[1], rel=1e-3)
    # in float64 too, at a steep spectrum: the tail spans 14 decades, beyond M x eps (the cut had
    # left 5160 of 32768 modes and broken the n <-> k symmetry: 5.2e-8 against 2.5e-8)
    with jax.enable_x64(True):
        big = RFConfig(M=2**15)
        lam, v2 = jnp.asarray(theory.kernel_eigenvalues(big, 2.0)), jnp.asarray(theory.target_power(big, 2.0))
        pair = [float(theory.rf_risk(lam, v2, 0.0, a, b, 0.0)) for a, b in ((8000, 20000), (20000, 8000))]
        assert pair[0] == pytest.approx(pair[1], rel=1e-6)
        assert pair[0] == pytest.approx(float(theory.expected_test_loss(big, [{"N": 20000, "T": 8000, "alpha": 2.0}])[0]),
                                        rel=1e-6)


def test_the_ridgeless_peak_is_infinite_and_full_rank_is_least_squares(x64):
    # rf_risk at ridge 0, n = k below full rank had stopped just inside the branch (3.3e14);
    # ridgeless_rf_risk at n = k = M (full rank) had given inf where the student is exact
    lam = spectrum(M=256, alpha=1.0)
    for n in (10.0, 100.0):
        assert np.isinf(float(theory.rf_risk(lam, lam, 0.0, n, n, 0.0)))
        assert np.isinf(float(theory.rf_risk(lam, lam, 0.01, n, n, 0.0)))
        assert np.isfinite(float(theory.rf_risk(lam, lam, 0.0, n, n, 1e-3)))  # a ridge tames it
    assert float(theory.rf_risk(jnp.zeros(1) + lam[:1], jnp.zeros(1), 0.0, 0.5, 0.5, 0.0)) == 0.0  # nothing to learn
    cfg = RFConfig(M=256)
    assert np.isinf(theory.expected_test_loss(cfg, [{"N": 64, "T": 64, "alpha": 1.0}])[0])
    for n in (256.0, 512.0):
        assert float(theory.ridgeless_rf_risk(lam, lam, n, n)) == float(theory.rf_risk(lam, lam, 0.0, n, n, 0.0)) == 0.0
    lam0 = jnp.concatenate([lam, jnp.zeros(4)])
    v2 = jnp.concatenate([lam, jnp.full(4, 0.01)])  # power the zero modes leave as noise
    got = float(theory.ridgeless_rf_risk(lam0, v2, 512.0, 512.0))
    assert got == pytest.approx(float(theory.rf_risk(lam0, v2, 0.0, 512.0, 512.0, 0.0))) and got == pytest.approx(0.04 / (1 - 256 / 512))


def test_an_integer_or_bfloat16_spectrum_gives_the_float_answer():
    # an integer spectrum cast n, k and the ridge to its dtype (ridge 0.5 -> 0, n 2.5 -> 2); a
    # bfloat16 one was refused as "not real numbers"
    ints = np.array([4, 2, 1])
    floats = ints.astype(np.float32)
    assert float(theory.rf_risk(ints, ints, 0.0, 2, 5, 0.5)) == pytest.approx(float(
        theory.rf_risk(floats, floats, 0.0, 2, 5, 0.5)), rel=1e-6)
    assert float(theory.krr_risk(ints, ints, 0.0, 2, 0.5)) == pytest.approx(float(
        theory.krr_risk(floats, floats, 0.0, 2, 0.5)), rel=1e-6)
    np.testing.assert_allclose(theory.effective_ridges(ints, 2.5, 5, 0.0), theory.effective_ridges(floats, 2.5, 5, 0.0),
                               rtol=1e-6)
    half = jnp.asarray(floats, jnp.bfloat16)
    assert float(theory.rf_risk(half, half, 0.0, 2, 5, 0.5)) == pytest.approx(float(
        theory.rf_risk(floats, floats, 0.0, 2, 5, 0.5)), rel=0.02)


def test_rank_truncate_checks_its_input():
    np.testing.assert_array_equal(theory.rank_truncate([4, 2, 0]), [4.0, 2.0, 0.0])
    np.testing.assert_array_equal(theory.rank_truncate(np.array([1.0, 1e-3, -1e-9]), tol=1e-2), [1.0, 0.0, 0.0])
    assert theory.rank_truncate(np.array([1.0, 1e-9], np.float32)).dtype == np.float32
    for bad, match in ((np.ones((2, 2)), "1-d"), ([], "non-empty"), (["a"], "real numbers")):
        with pytest.raises(ValueError, match=match):
            theory.rank_truncate(bad)
    with pytest.raises(ValueError, match="tol=-1"):
        theory.rank_truncate([1.0], tol=-1.0)


def test_weak_superposition_loss_is_the_loss_of_a_model_that_keeps_its_top_features():
    # W_i = e_i for the k most frequent features (orthonormal: reconstructed exactly through
    # the ReLU), 0 for the rest, b = 0: the model's loss is <v^2> sum_{i > k} p_i exactly
    from toyscale import superposition
    from toyscale.data import sample_features
    from toyscale.frequencies import power_law

    n, k = 64, 16
    p = power_law(1.0).probs(n)
    order = np.random.default_rng(0).permutation(n)  # features in any order: the k largest count
    p = p[order]
    top = np.argsort(-p)[:k]
    W = np.zeros((n, k), np.float32)
    W[top, np.arange(k)] = 1.0
    params = {"W": jnp.asarray(W), "b": jnp.zeros(n)}
    x = sample_features(jax.random.key(0), p, 200_000)
    simulated = float(superposition.loss(params, x))
    predicted = float(theory.weak_superposition_loss(p, k))
    # Monte-Carlo error of the batch mean: sd of sum_{i not kept} u_i v_i^2 / sqrt(batch) ~ 0.3 %
    assert simulated == pytest.approx(predicted, rel=0.015)
    assert predicted == pytest.approx(4 / 3 * np.sort(p)[::-1][k:].sum(), rel=1e-12)
    np.testing.assert_allclose(theory.weak_superposition_loss(p, np.array([0, k, n])),
                               [4 / 3 * p.sum(), predicted, 0.0], rtol=1e-12, atol=0)
    # any k features kept (as trained models in weak superposition keep them, not the top k):
    # a mask of the kept ones gives the loss, the count would not
    kept = np.random.default_rng(1).choice(n, k, replace=False)
    W = np.zeros((n, k), np.float32)
    W[kept, np.arange(k)] = 1.0
    simulated = float(superposition.loss({"W": jnp.asarray(W), "b": jnp.zeros(n)}, x))
    mask = np.zeros(n, bool)
    mask[kept] = True
    by_mask = theory.weak_superposition_loss(p, mask=mask)
    assert simulated == pytest.approx(by_mask, rel=0.015)
    assert by_mask == pytest.approx(4 / 3 * p[~mask].sum(), rel=1e-12) and by_mask > 1.1 * predicted


@pytest.mark.parametrize("p, kwargs, error, match", [
    ([0.5, 0.2], dict(k=3), ValueError, r"k=3; each count must lie in \[0, n\] = \[0, 2\]"),
    ([0.5, 0.2], dict(k=-1), ValueError, "k=-1"),
    ([0.5, 0.2], dict(k=1.0), TypeError, "k=1.0; k must be an integer count"),
    # a mask given as the count (bool, or 0/1 integers) is refused, not read as counts
    ([0.5, 0.2], dict(k=np.array([True, False])), TypeError, "which features are represented goes in mask="),
    ([0.5, 0.2], dict(mask=np.array([1, 0])), TypeError, "mask has dtype int64; mask must be boolean"),
    ([0.5, 0.2], dict(mask=[True]), ValueError, r"mask has shape \(1,\); it needs one entry per feature"),
    ([0.5, 0.2], dict(), TypeError, "give exactly one of k"),
    ([0.5, 0.2], dict(k=1, mask=[True, False]), TypeError, "give exactly one of k"),
    ([0.5, 1.2], dict(k=1), ValueError, "frequencies in \\[0, 1\\]"),
    ([[0.5, 0.2]], dict(k=1), ValueError, "non-empty 1-d array"),
    (["a", "b"], dict(k=1), TypeError, "p must be real feature frequencies"),
])
def test_weak_superposition_loss_names_bad_arguments(p, kwargs, error, match):
    with pytest.raises(error, match=match):
        theory.weak_superposition_loss(p, **kwargs)


def test_risk_functions_check_the_target_power_and_the_spectrum():
    # a NaN in v^2 gave a NaN risk, -v^2 a negative risk (-0.588), and a length mismatch a raw
    # JAX broadcasting TypeError naming no argument
    cfg = RFConfig(M=64)
    lam, v2 = theory.kernel_eigenvalues(cfg, 0.5), theory.target_power(cfg, 0.5)
    with_nan = v2.copy()
    with_nan[5] = np.nan
    calls = {
        "rf_risk": lambda v: theory.rf_risk(lam, v, 0.0, 32, 64, 0.01),
        "krr_risk": lambda v: theory.krr_risk(lam, v, 0.0, 32, 0.01),
        "ridgeless_rf_risk": lambda v: theory.ridgeless_rf_risk(lam, v, 32, 64),
        "approximation_error": lambda v: theory.approximation_error(lam, v, 16),
    }
    for name, call in calls.items():
        assert np.isfinite(float(call(v2))) and float(call(v2)) > 0, name
        with pytest.raises(ValueError, match=r"target_power=.* holds 1 NaN or infinite value\(s\) \(the first at "
                                             r"index 5\); the target's power per mode, v_i\^2, is finite and >= 0"):
            call(with_nan)
        with pytest.raises(ValueError, match=r"target_power=.* has -1 < 0; the target's power per mode, v_i\^2, "
                                             r"is >= 0"):
            call(-v2)
        with pytest.raises(ValueError, match=r"target_power has shape \(63,\); it needs one entry per eigenvalue, "
                                             r"shape \(64,\)"):
            call(v2[:-1])
        with pytest.raises(TypeError, match="target_power has dtype <U1; target_power must be real numbers"):
            call(["a"] * 64)
    # a rounding-level negative power counts as 0, as a rounding-level negative eigenvalue does
    nudged = v2.copy()
    nudged[-1] = -1e-9
    zeroed = v2.copy()
    zeroed[-1] = 0.0
    risks = [float(theory.rf_risk(lam, v, 0.0, 32, 64, 0.01)) for v in (nudged, zeroed)]
    assert risks[0] == risks[1]
    # the spectrum's shape is checked too, and degrees_of_freedom checks its spectrum and gamma
    with pytest.raises(ValueError, match=r"eigenvalues has shape \(2, 2\); a kernel spectrum is a non-empty 1-d array"):
        theory.rf_risk(np.ones((2, 2)), np.ones(4), 0.0, 2.0, 4.0, 0.1)
    with pytest.raises(ValueError, match=r"eigenvalues=\[ 1. nan\]; a kernel spectrum is .* finite"):
        theory.degrees_of_freedom(np.array([1.0, np.nan]), 1.0)
    with pytest.raises(ValueError, match="gamma=-1.0; gamma must be finite > 0"):
        theory.degrees_of_freedom(lam, -1.0)
    assert float(theory.degrees_of_freedom(lam, 1e-3)) == pytest.approx(float(np.sum(lam / (lam + 1e-3))), rel=1e-6)


def test_traced_spectra_are_checked_for_their_shape_only(x64):
    # under jit and vmap the values are the caller's (expected_test_loss passes exact spectra);
    # the shapes are static, so a length mismatch is still named
    lam = spectrum(M=128)
    risk = jax.jit(jax.vmap(theory.rf_risk, in_axes=(None, None, None, 0, 0, 0)))
    got = risk(lam, lam, 0.0, jnp.array([16.0, 64.0]), jnp.array([64.0, 16.0]), jnp.array([0.0, 0.01]))
    want = [float(theory.rf_risk(lam, lam, 0.0, n, k, r)) for n, k, r in ((16.0, 64.0, 0.0), (64.0, 16.0, 0.01))]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    np.testing.assert_allclose(jax.jit(theory.ridgeless_rf_risk)(lam, lam, 16.0, 64.0), want[0], rtol=1e-9)
    with pytest.raises(ValueError, match=r"target_power has shape \(127,\); it needs one entry per eigenvalue"):
        jax.jit(theory.krr_risk)(lam, lam[:-1], 0.0, 16.0, 0.01)
    dof = jax.jit(jax.vmap(theory.degrees_of_freedom, in_axes=(None, 0)))(lam, jnp.array([1e-3, 1e-1]))
    np.testing.assert_allclose(dof, [np.sum(lam / (lam + g)) for g in (1e-3, 1e-1)], rtol=1e-9)


def test_rank_truncate_refuses_nan_and_inf():
    # [1, nan] had given [0, 0]: the NaN made the tolerance NaN, and every value failed it
    for bad in (np.array([1.0, np.nan]), np.array([np.inf, 1.0]), np.array([1.0, -np.inf], np.float32)):
        with pytest.raises(ValueError, match=r"holds 1 NaN or infinite value\(s\); a Gram matrix's eigenvalues are "
                                             r"finite"):
            theory.rank_truncate(bad)


# --- what a review of theory.py found in float32 (JAX's default) and at the boundary ---
def test_float32_risk_is_invariant_to_the_spectrums_scale():
    # kappa lam / (lam + gamma)^2 had overflowed (spectrum x 1e20: 0.517, x 1e30: nan) or
    # underflowed (x 1e-20: nan) in float32, where the risk is the same at every scale
    base = np.arange(1, 257, dtype=np.float64) ** -1.5
    want = float(theory.rf_risk(jnp.asarray(base, jnp.float32), jnp.asarray(base, jnp.float32), 0.01, 64., 128., 1e-2))
    for c in (1e20, 1e30, 1e-20):
        lam = jnp.asarray(base * c, jnp.float32)
        got = theory.rf_risk(lam, jnp.asarray(base, jnp.float32), 0.01, 64., 128., 1e-2 * c)
        assert float(got) == pytest.approx(want, rel=1e-4), c


def test_float32_approximation_error_keeps_the_power_on_zero_modes():
    # more features than learnable modes: B = the power on the zero modes (0.04); float32 had
    # given 1.2e-38 (v2 * gamma underflowed, and a subnormal floor for gamma was flushed to 0)
    P = 64
    v2 = jnp.asarray(np.concatenate([np.arange(1, P + 1) ** -1.5, np.full(4, 0.01)]), jnp.float32)
    for power in (1.5, 8.0):  # (smallest positive eigenvalue 2e-3 and 3.6e-15)
        lam = jnp.asarray(np.concatenate([np.arange(1, P + 1, dtype=np.float64) ** -power, np.zeros(4)]), jnp.float32)
        assert float(theory.approximation_error(lam, v2, 128)) == pytest.approx(0.04, rel=1e-4), power
        assert float(theory.rf_risk(lam, v2, 0.01, np.inf, 128, 0.1)) == pytest.approx(0.05, rel=1e-4), power


@pytest.mark.parametrize("call, name", [
    (lambda lam: theory.rf_risk(lam, lam, np.array([-1.0]), 10, 20, 0.1), "noise_var"),  # (had given -0.8)
    (lambda lam: theory.rf_risk(lam, lam, 0.0, np.array([10., 20.]), 20, 0.1), "n"),
    (lambda lam: theory.krr_risk(lam, lam, 0.0, [10.0], 0.1), "n"),
    (lambda lam: theory.degrees_of_freedom(lam, np.geomspace(1e-3, 1, 64)), "gamma"),  # (had paired gamma with modes)
])
def test_risk_arguments_are_one_number_each(call, name):
    lam = jnp.asarray(np.arange(1, 65) ** -1.5, jnp.float32)
    with pytest.raises(TypeError, match=rf"{name} has shape \(\d+,?\d*\); {name} must be one real number"):
        call(lam)


def test_fewer_than_one_sample_or_feature_still_finds_the_root():
    # the bisection's upper end had been below the root for n or k under ~e^-5: df(gamma)
    # stopped at 0.0067 for k = 1e-4, and krr_risk exceeded the whole target power
    lam = jnp.asarray(np.arange(1, 257) ** -1.5, jnp.float32)
    for small in (1e-2, 1e-4):
        _, gamma = theory.effective_ridges(lam, 10.0, small, 0.0)
        assert float(theory.degrees_of_freedom(lam, gamma)) == pytest.approx(small, rel=1e-3)
        assert float(theory.krr_risk(lam, lam, 0.0, small, 0.1)) < float(jnp.sum(lam))
        assert float(theory.krr_risk(lam, lam, 0.0, small, 0.1)) == pytest.approx(
            float(theory.rf_risk(lam, lam, 0.0, small, np.inf, 0.1)), rel=1e-4)


def test_rank_truncate_refuses_values_far_below_zero():
    # -0.5 is no rounding: it had become 0 like one, and rf_risk then took the spectrum
    with pytest.raises(ValueError, match=r"1 value\(s\) below -6.66e-16, as low as -0.5"):
        theory.rank_truncate([1.0, 0.5, -0.5])
    np.testing.assert_array_equal(theory.rank_truncate([1.0, 0.5, -1e-17]), [1.0, 0.5, 0.0])
    # tol = 0 (keep every positive value) still takes rounding's negatives as 0
    np.testing.assert_array_equal(theory.rank_truncate([1.0, 0.5, -1e-17, 1e-30], tol=0.0), [1.0, 0.5, 0.0, 1e-30])


def test_float32_gives_nan_not_a_wrong_risk_where_its_root_is_below_the_dtypes_range():
    # alpha = 9, 4096 modes: the ridgeless root at n = 4095 lies below float32's smallest normal
    # number; the bisection stopped at that floor and gave 97.5 where float64 gives 1025
    lam = theory.kernel_eigenvalues(RFConfig(M=4096), 9.0)
    f32 = jnp.asarray(lam, jnp.float32)
    assert np.isnan(float(theory.rf_risk(f32, f32, 0.25, 4095, 8192, 0.0)))
    assert np.isnan(float(theory.rf_risk(f32, f32, 0.25, 4095, INF, 0.0)))
    assert np.isnan(float(theory.krr_risk(f32, f32, 0.25, 4095, 0.0)))  # (its own bisection: 97.4 for 1025.2)
    with jax.enable_x64(True):
        f64 = jnp.asarray(lam)
        assert float(theory.rf_risk(f64, f64, 0.25, 4095, 8192, 0.0)) == pytest.approx(1025.44, rel=1e-4)
        want = [float(theory.rf_risk(f64, f64, 0.25, n, 8192, 0.0)) for n in (100, 5000)]
    # where the root is in range, or there is none (full rank), float32 still answers
    assert [float(theory.rf_risk(f32, f32, 0.25, n, 8192, 0.0)) for n in (100, 5000)] == pytest.approx(want, rel=1e-4)
    assert float(theory.approximation_error(f32, f32, 5000.0)) == 0.0


def test_a_finite_number_that_overflows_the_spectrums_dtype_is_named():
    # a ridge of 1e39 became inf in float32, and the risk NaN
    lam = jnp.asarray([1.0, 0.5, 0.25], jnp.float32)
    for call, name in ((lambda: theory.rf_risk(lam, lam, 0.0, 10, 20, 1e39), "ridge"),
                       (lambda: theory.rf_risk(lam, lam, 1e39, 10, 20, 0.1), "noise_var"),
                       (lambda: theory.krr_risk(lam, lam, 0.0, 20, 1e39), "ridge")):
        with pytest.raises(ValueError, match=f"{name}=1e\\+39 overflows the eigenvalues' dtype float32"):
            call()
    # an n or k above float32's range is its limit, inf, and gives the limit's risk
    assert float(theory.krr_risk(lam, lam, 0.1, 1e39, 0.1)) == float(theory.krr_risk(lam, lam, 0.1, INF, 0.1))
    assert float(theory.krr_risk(lam, lam, 0.1, 10**40, 0.1)) == float(theory.krr_risk(lam, lam, 0.1, INF, 0.1))
    assert float(theory.rf_risk(lam, lam, 0.1, 10, 1e39, 0.1)) == float(theory.rf_risk(lam, lam, 0.1, 10, INF, 0.1))
    with jax.enable_x64(True):
        assert np.isfinite(float(theory.rf_risk(jnp.asarray(lam, jnp.float64), lam, 0.0, 10, 20, 1e39)))


# --- pinned by a mutation review of theory.py: values against an independent solver, edge cases, checks ---
def _simon_rf_risk(lam, v2, s2, n, k, ridge):
    """Simon et al.'s random-feature eigenframework as the paper writes it, (kappa, gamma) found by
    scipy's brentq instead of the package's bisection: an independent reference, good in float64
    away from full rank; k = inf is the kernel limit."""
    from scipy.optimize import brentq

    lam, v2 = np.asarray(lam, np.float64), np.asarray(v2, np.float64)
    df = lambda g: np.sum(lam / (lam + g))  # noqa: E731
    # gamma at df = min(n, k) (the ridgeless root), then the ridge's root above it on the branch
    log_g0 = brentq(lambda t: df(np.exp(t)) - min(n, k), -200.0, 200.0, xtol=1e-15, rtol=1e-15)
    excess = lambda t: np.exp(t) * (1 - df(np.exp(t)) / n) * (1 - df(np.exp(t)) / k) - ridge / n  # noqa: E731
    log_g = log_g0 if ridge == 0 else brentq(excess, log_g0, 200.0, xtol=1e-15, rtol=1e-15)
    g = np.exp(log_g)
    L = lam / (lam + g)
    z, q = L.sum(), (L * L).sum()
    if np.isinf(k):
        ratio, bias = q / n, np.sum((1 - L) ** 2 * v2)
    else:
        kappa = g * (1 - z / k)
        ratio = (q * (k - 2 * z) + z * z) / (n * (k - q))
        bias = np.sum(((1 - L) - kappa * k * lam / ((k - q) * (lam + g) ** 2)) * v2)
    return (bias + s2) / (1 - ratio)


def test_rf_and_krr_risk_match_the_papers_formulas_solved_by_scipy(x64):
    # Most value checks compare the package with itself (rf vs krr, ridgeless forms), with a noisy
    # simulation or with a few mpmath points; here the paper's equations with another root finder,
    # to 1e-12, for a target not proportional to the spectrum, with noise (they agree to 1e-15). The
    # huge ridges put the root far above the spectrum's sum: a bisection bracket that leaves out
    # ridge / n stops short of it silently.
    lam = spectrum(M=256)
    v2, s2 = lam ** 0.7, 0.3
    points = [(40.0, 100.0, 1e-3), (100.0, 40.0, 0.1), (20.0, 80.0, 0.0), (20.0, 50.0, 1e5), (0.5, 20.0, 0.1),
              (INF, 50.0, 10.0), (20.0, INF, 1e5), (60.0, INF, 1e-2)]
    want = np.array([_simon_rf_risk(lam, v2, s2, *p) for p in points])
    n, k, ridge = (jnp.asarray(c) for c in zip(*points))
    np.testing.assert_allclose(theory._rf_risk_batch(lam, v2, jnp.full(len(points), s2), n, k, ridge), want, rtol=1e-12)
    kernel = np.isinf(k)
    krr = jax.jit(jax.vmap(theory.krr_risk, in_axes=(None, None, None, 0, 0)))(lam, v2, s2, n[kernel], ridge[kernel])
    np.testing.assert_allclose(krr, want[kernel], rtol=1e-12)


def test_float32_gives_nan_where_the_feature_sides_root_is_below_the_dtypes_range():
    # the mirror of the n = 4095 case above with fewer features than samples: the root is at
    # df = min(n, k) = k, so the check for a lost root must take min(n, k), not n (taking n
    # reads n >= P as "no root" and returns the floor's wrong risk)
    f32 = jnp.asarray(theory.kernel_eigenvalues(RFConfig(M=4096), 9.0), jnp.float32)
    assert np.isnan(float(theory.rf_risk(f32, f32, 0.25, 8192, 4095, 0.0)))
    assert np.isnan(float(theory.rf_risk(f32, f32, 0.25, INF, 4095, 0.0)))
    assert np.isnan(float(theory.approximation_error(f32, f32, 4095.0)))


def test_noise_alone_makes_the_ridgeless_peak_infinite_and_no_target_no_noise_gives_zero(x64):
    # at n = k below full rank the variance factor 1 / (1 - ratio) is infinite: label noise alone
    # (no target power) is enough to make the risk infinite, as a vanishing ridge shows
    lam = spectrum(M=256, alpha=1.0)
    none = jnp.zeros_like(lam)
    assert np.isinf(float(theory.rf_risk(lam, none, 0.1, 32.0, 32.0, 0.0)))
    tamed = [float(theory.rf_risk(lam, none, 0.1, 32.0, 32.0, r)) for r in (1e-2, 1e-4, 1e-6)]
    assert tamed[0] < tamed[1] < tamed[2] and tamed[2] > 10.0
    # ...while with neither target nor noise there is nothing to get wrong, peak or not
    assert float(theory.rf_risk(lam, none, 0.0, 32.0, 32.0, 0.0)) == 0.0
    assert float(theory.ridgeless_rf_risk(lam, none, 32.0, 32.0)) == 0.0
    assert np.isinf(float(theory.ridgeless_rf_risk(lam, lam, 32.0, 32.0)))


def test_ridgeless_form_past_full_rank_is_least_squares_on_the_samples(x64):
    # n != k, both above the P = 256 learnable modes: the zero modes' power is noise for least
    # squares on n samples, B_0 / (1 - P/n), whichever of n and k is larger
    lam = spectrum(M=256, alpha=1.0)
    lam0 = jnp.concatenate([lam, jnp.zeros(4)])
    v2 = jnp.concatenate([lam, jnp.full(4, 0.01)])
    for n, k in ((600.0, 512.0), (512.0, 600.0)):
        got = float(theory.ridgeless_rf_risk(lam0, v2, n, k))
        assert got == pytest.approx(0.04 / (1 - 256 / n), rel=1e-12), (n, k)
        assert got == pytest.approx(float(theory.rf_risk(lam0, v2, 0.0, n, k, 0.0)), rel=1e-12), (n, k)
    # with no root (full rank, ridgeless) gamma stops at its documented floor, e^-60 x the
    # smallest positive eigenvalue, zero modes or not
    _, gamma = theory.effective_ridges(jnp.asarray([1.0, 0.5, 0.25, 0.0]), 10.0, 20.0, 0.0)
    assert float(gamma) == pytest.approx(0.25 * np.exp(-60.0), rel=1e-9, abs=0)


def test_an_integer_spectrum_computes_in_float64_when_x64_is_on(x64):
    # an integer spectrum takes JAX's default float, float64 here (not float32's 7 digits)
    ints = np.array([4, 2, 1])
    got = theory.rf_risk(ints, ints, 0.0, 2, 5, 0.5)
    assert got.dtype == jnp.float64
    assert float(got) == pytest.approx(float(theory.rf_risk(ints.astype(np.float64), ints.astype(np.float64),
                                                            0.0, 2, 5, 0.5)), rel=1e-14)


def test_a_rounding_level_negative_power_counts_as_zero_in_float64(x64):
    # (in float32 -1e-9 is lost in the risk's rounding anyway; float64 would see it)
    lam = jnp.asarray([1.0, 0.5, 0.25, 0.1])
    v2 = np.array([1.0, 0.5, -1e-9, 0.0])
    assert float(theory.rf_risk(lam, v2, 0.0, 2.0, 3.0, 0.1)) == float(
        theory.rf_risk(lam, np.clip(v2, 0.0, None), 0.0, 2.0, 3.0, 0.1))


def test_negative_values_beyond_rounding_are_refused_at_the_documented_thresholds():
    # eigenvalues and target power: below -1e-6 x the largest is an error, not rounding
    lam = np.array([1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="eigenvalues=.* has -0.0001 < 0"):
        theory.rf_risk(np.array([1.0, 0.5, -1e-4]), lam, 0.0, 2.0, 4.0, 0.1)
    with pytest.raises(ValueError, match="target_power=.* has -0.0001 < 0"):
        theory.rf_risk(lam, np.array([1.0, 0.5, -1e-4]), 0.0, 2.0, 4.0, 0.1)
    # rank_truncate: below -(P x eps x max) = -6.66e-16 is refused; a value equal to tol becomes 0
    with pytest.raises(ValueError, match=r"1 value\(s\) below -6.66e-16, as low as -1e-14"):
        theory.rank_truncate([1.0, 0.5, -1e-14])
    np.testing.assert_array_equal(theory.rank_truncate([1.0, 1e-3, 2e-3], tol=1e-3), [1.0, 0.0, 2e-3])
    # the data exponent is > 0, as grid points require
    with pytest.raises(ValueError, match="alpha=0.0"):
        theory.kernel_eigenvalues(RFConfig(M=16), 0.0)


@pytest.mark.parametrize("p, match", [([0.5, -0.2], "frequencies in \\[0, 1\\]"), ([], "non-empty 1-d array")])
def test_weak_superposition_loss_refuses_negative_and_empty_frequencies(p, match):
    # (unchecked, an empty p gives a loss of 0 and a negative frequency lowers the loss)
    with pytest.raises(ValueError, match=match):
        theory.weak_superposition_loss(p, 0)


def test_the_approximation_error_of_as_many_features_as_modes_is_the_zero_modes_power():
    # rounding had given 1.3e-8 (float32) for the exact 0 at k = P, and plrf_floor 1.2e-8 for its exact 0 at v = d
    lam = theory.kernel_eigenvalues(RFConfig(M=64), 1.0)
    for x64 in (False, True):
        with jax.enable_x64(x64):
            l = jnp.asarray(lam, jnp.float64 if x64 else jnp.float32)
            assert float(theory.approximation_error(l, l, 64)) == 0.0 == float(theory.approximation_error(l, l, 100))
            assert float(theory.approximation_error(l, l, 63)) > 0
            zero = l.at[-4:].set(0.0)  # (4 modes no feature can learn: their power is left)
            assert float(theory.approximation_error(zero, l, 60)) == pytest.approx(float(jnp.sum(l[-4:])), rel=1e-6)
            assert float(theory.plrf_floor(16, 0.7, 0.7, v_ratio=1)[0]) == 0.0
            assert float(theory.approximation_error(l, l, 10**12)) == 0.0  # (a Python int beyond int32: as a size)


def test_a_half_precision_spectrum_is_solved_in_float32_and_a_ridge_per_sample_beyond_the_dtype_is_refused():
    # float16's gamma floor, its smallest normal 6e-5, had given NaN at n = 200, k = 250, ridge 1e-3
    lam = theory.kernel_eigenvalues(RFConfig(M=256), 1.0)
    want = float(theory.rf_risk(jnp.asarray(lam, jnp.float32), jnp.asarray(lam, jnp.float32), 0.0, 200, 250, 1e-3))
    half = jnp.asarray(lam, jnp.float16)
    got = theory.rf_risk(half, half, 0.0, 200, 250, 1e-3)
    assert got.dtype == jnp.float32 and float(got) == pytest.approx(want, rel=1e-3)
    l32 = jnp.asarray(lam, jnp.float32)
    for call in (lambda: theory.rf_risk(l32, l32, 0.0, 1e-3, 20, 1e37),
                 lambda: theory.effective_ridges(l32, 1e-3, 20, 1e37)):
        with pytest.raises(ValueError, match=r"ridge=1e\+37 with n=0.001: ridge / n = 1e\+40 overflows the "
                                             r"eigenvalues' dtype float32"):
            call()
    # (kernel ridge regression's own root has no ridge / n: its all-bias limit, the target's power)
    assert float(theory.krr_risk(l32, l32, 0.0, 1e-3, 1e37)) == pytest.approx(float(jnp.sum(l32)), rel=1e-5)
    assert np.isfinite(float(theory.rf_risk(l32, l32, 0.0, 1.0, 20, 1e37)))


def test_a_derivative_through_the_bisection_is_nan_and_one_in_the_noise_alone_is_exact():
    # jax.grad had followed the bisection's steps: d rf_risk / d ridge came out ~2500x too small, silently
    lam = jnp.asarray(theory.kernel_eigenvalues(RFConfig(M=256), 1.0))
    for wrt in (lambda r: theory.rf_risk(lam, lam, 0.0, 100, 150, r), lambda r: theory.krr_risk(lam, lam, 0.0, 100, r),
                lambda n: theory.rf_risk(lam, lam, 0.0, n, 150, 0.05)):
        assert np.isnan(float(jax.grad(wrt)(jnp.float32(50.0))))
    # a derivative taken and discarded traces (an error there had broken it)
    assert float(jax.grad(lambda r: r**2 + jax.lax.stop_gradient(theory.rf_risk(lam, lam, 0.1, 50, 100, r)))(
        jnp.float32(0.5))) == 1.0
    noise = jax.grad(lambda s: theory.rf_risk(lam, lam, s, 100, 150, 0.05))(jnp.float32(0.1))
    step = 1e-2
    fd = (theory.rf_risk(lam, lam, 0.1 + step, 100, 150, 0.05) - theory.rf_risk(lam, lam, 0.1 - step, 100, 150, 0.05))
    assert float(noise) == pytest.approx(float(fd) / (2 * step), rel=1e-3) and float(noise) > 1.0
