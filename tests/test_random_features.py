import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale import random_features as rf
from toyscale import theory
from toyscale.random_features import (RandomFeatureTask, RFConfig, check_point, random_feature_grid,
                                      sweep_random_features, train_random_features)
from toyscale.sweep import common_key, model_key

CFG = RFConfig(M=256, test_samples=4000, log_every=50)


def _design(key, T, N):
    kx, ky = jax.random.split(key)
    phi = jax.random.normal(kx, (T, N)) * (jnp.arange(1, N + 1) ** -0.75)
    return phi, jax.random.normal(ky, (T,))


@pytest.mark.parametrize("T,N", [(40, 12), (12, 40), (20, 20)])
@pytest.mark.parametrize("ridge", [0.0, 0.3])
def test_ridge_solution_equals_a_direct_least_squares_solve(T, N, ridge):
    with jax.enable_x64(True):
        phi, y = _design(jax.random.PRNGKey(T * N), T, N)
        phi, y = phi.astype(jnp.float64), y.astype(jnp.float64)
        got = np.asarray(jax.jit(rf.ridge_solution)(phi, y, ridge))
    P, Y = np.asarray(phi), np.asarray(y)
    if ridge > 0:  # ridge = least squares on the augmented system [phi; sqrt(ridge) I]
        A = np.vstack([P, np.sqrt(ridge) * np.eye(N)])
        want = np.linalg.lstsq(A, np.concatenate([Y, np.zeros(N)]), rcond=None)[0]
    else:  # ridgeless = minimum-norm least squares
        want = np.linalg.lstsq(P, Y, rcond=None)[0]
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_float32_ridge_solution_interpolates_at_the_peak_as_float64_does():
    # the float32 Gram's eigenvalue cut-off had dropped real directions at N = T: a ridgeless fit with
    # train loss 2e-2 and test loss 1.08 where float64 gives 9.99 (the double-descent peak gone)
    key, M = jax.random.PRNGKey(0), 256
    lam, w = rf.spectrum(M, 0.5, M), rf.sample_teacher(jax.random.fold_in(key, 1), M)
    U = rf.sample_projection(jax.random.fold_in(key, 2), 128, M)
    x, y = rf.sample_data(jax.random.fold_in(key, 3), 128, lam, w, 0.0)
    phi = rf.features(U, x)
    theta = rf.ridge_solution(phi, y, 0.0)
    assert theta.dtype == jnp.float32 and float(jnp.mean((phi @ theta - y) ** 2)) < 1e-8
    with jax.enable_x64(True):
        f64 = [jnp.asarray(np.asarray(a, np.float64)) for a in (phi, y, U, lam, w)]
        want = float(rf.exact_test_loss(rf.ridge_solution(f64[0], f64[1], 0.0), *f64[2:], 0.0))
    assert want > 5 and float(rf.exact_test_loss(theta, U, lam, w, 0.0)) == pytest.approx(want, rel=1e-3)


def test_a_ridge_below_the_cut_off_acts_as_ridgeless_not_as_a_divisor_of_rounding_noise():
    # min(N, T) > M: ridge 1e-30 had kept the null directions and divided their rounding by itself
    # (a test loss of 2e25 for 0.0127, not flagged as diverged)
    cfg = RFConfig(M=8)
    point = {"N": 16, "T": 32, "alpha": 1.0, "noise": 0.1}
    ridgeless = rf.train_random_features(cfg, {**point, "ridge": 0.0}, key=jax.random.PRNGKey(0))["test_loss"]
    for ridge in (1e-30, 1e-20, 1e-14):
        got = rf.train_random_features(cfg, {**point, "ridge": ridge}, key=jax.random.PRNGKey(0))["test_loss"]
        np.testing.assert_allclose(got, ridgeless, rtol=1e-6)
    # a ridge above the cut-off is the ridge solution, as before (np.linalg.solve)
    with jax.enable_x64(True):
        phi, y = (a.astype(jnp.float64) for a in _design(jax.random.PRNGKey(1), 24, 8))
        got = np.asarray(rf.ridge_solution(phi, y, 1e-3))
    P, Y = np.asarray(phi), np.asarray(y)
    np.testing.assert_allclose(got, np.linalg.solve(P.T @ P + 1e-3 * np.eye(8), P.T @ Y), rtol=1e-9)


@pytest.mark.parametrize("call, match", [
    (lambda phi, y: rf.ridge_solution(phi, y, [-1.0] * 4), r"ridge has shape \(4,\); ridge must be one real number"),
    (lambda phi, y: rf.gd_solution(phi, y, 0.0, [0.1] * 4, steps=2, batch=8, log_every=1,
                                   evaluate=jnp.sum, key=jax.random.PRNGKey(0)), r"lr has shape \(4,\)"),
    (lambda phi, y: rf.spectrum(4, alpha=-3.0), r"alpha=-3.0"),
    (lambda phi, y: rf.spectrum(4, alpha=1.0, scale=-1.0), r"scale=-1.0"),
    (lambda phi, y: rf.spectrum64(4, alpha=-3.0), r"alpha=-3.0"),
    (lambda phi, y: rf.spectrum64(0, alpha=1.0), r"M=0"),
    (lambda phi, y: rf.spectrum64(3, alpha=float("nan")), r"alpha=nan"),
    (lambda phi, y: rf.spectrum64(4, alpha=1.0, scale=-2.0), r"scale=-2.0"),
    (lambda phi, y: rf.regime_grid(alpha=0.5, sizes=[8, 16], rows=[8], columns=[8], ridges=[0.0, 0.1],
                                   ridge_column=16), r"ridges=\[0.0, 0.1\] holds 0; the grid has the ridgeless"),
])
def test_array_ridges_negative_spectra_and_a_zero_in_ridges_are_refused(call, match):
    # a list ridge had been broadcast against the eigenvalues (a negative one too), alpha=-3 gave an
    # increasing spectrum, scale=-1 NaN labels, ridges=[0.0, ...] each ridgeless point twice
    phi, y = _design(jax.random.PRNGKey(0), 8, 4)
    with pytest.raises((ValueError, TypeError), match=match):
        call(phi, y)


def test_ridge_solution_vmaps_over_ridges_like_single_calls():
    phi, y = _design(jax.random.PRNGKey(0), 30, 10)
    ridges = jnp.array([0.0, 0.01, 1.0])
    batched = jax.jit(jax.vmap(rf.ridge_solution, in_axes=(None, None, 0)))(phi, y, ridges)
    for i, r in enumerate(ridges):
        np.testing.assert_allclose(batched[i], rf.ridge_solution(phi, y, r), rtol=1e-5, atol=1e-6)


def test_gradient_descent_converges_to_the_ridge_solution():
    with jax.enable_x64(True):
        phi, y = _design(jax.random.PRNGKey(3), 48, 8)
        phi, y = phi.astype(jnp.float64), y.astype(jnp.float64)
        ridge = 2.0
        lr = 1.0 / float(jnp.linalg.eigvalsh(phi.T @ phi + ridge * jnp.eye(8))[-1] / 48)
        gd = jax.jit(lambda p, t, k: rf.gd_solution(p, t, ridge, lr, steps=3000, batch=48, log_every=100,
                                                   evaluate=lambda th: jnp.sum((th - rf.ridge_solution(p, t, ridge)) ** 2),
                                                   key=k))
        theta, curve = (np.asarray(a) for a in gd(phi, y, jax.random.PRNGKey(0)))
        exact = np.asarray(rf.ridge_solution(phi, y, ridge))
    np.testing.assert_allclose(theta, exact, rtol=1e-6, atol=1e-8)
    assert curve.shape == (30,) and curve[-1] < 1e-3 * curve[0]  # distance falls along the way


def test_gd_in_a_sweep_reaches_the_ridge_solution_of_the_same_model():
    # Full-batch gradient descent converges to the ridge solution of the same features and
    # data (the model's key); minibatch SGD at a constant rate hovers near it (its excess over
    # 8 sweep seeds: -1 % to +13 %).
    base = {"N": 16, "T": 64, "alpha": 1.0, "ridge": 0.5}
    pts = [check_point(base), check_point({**base, "method": "gd", "steps": 4000, "lr": 0.5, "batch": 0}),
           check_point({**base, "method": "gd", "steps": 4000, "lr": 0.5, "batch": 16})]
    cfg = RFConfig(M=128, log_every=20)
    res = sweep_random_features(cfg, pts, seed=1, progress=False)
    full, sgd = res[1], res[2]
    task = RandomFeatureTask(cfg)
    full_ridge, sgd_ridge = (train_random_features(cfg, pts[0], key=model_key(1, p, task))["test_loss"]
                             for p in pts[1:])
    assert full["loss_curve"].shape == sgd["loss_curve"].shape == (200,)
    assert full["test_loss"] == pytest.approx(full_ridge, rel=1e-4)
    assert sgd["loss_curve"][-1] < sgd["loss_curve"][0]
    assert abs(sgd["test_loss"] / sgd_ridge - 1) < 0.2


def test_gd_sharpness_is_the_top_eigenvalue_of_the_objectives_hessian_from_either_gram_matrix():
    rng = np.random.default_rng(3)
    for T, N in ((40, 6), (6, 40)):  # (N <= T: phi^T phi; T < N: phi phi^T, the same nonzero eigenvalues)
        phi = rng.normal(size=(T, N)) * np.linspace(0.2, 3.0, N)
        want = np.linalg.eigvalsh((phi.T @ phi + 0.7 * np.eye(N)) / T)[-1]
        with jax.enable_x64(True):
            got = float(rf.gd_sharpness(jnp.asarray(phi), 0.7))
        assert got == pytest.approx(want, rel=1e-12), (T, N)
    with pytest.raises(ValueError, match=r"phi has shape \(5,\); gd_sharpness needs a 2-d phi"):
        rf.gd_sharpness(jnp.ones(5), 0.0)
    with pytest.raises(ValueError, match="ridge"):
        rf.gd_sharpness(jnp.ones((5, 2)), -1.0)
    with pytest.raises(ValueError, match=r"phi has shape \(0, 3\); gd_sharpness needs a 2-d phi of shape \(T, N\), "
                                         r"T, N >= 1"):
        rf.gd_sharpness(jnp.ones((0, 3)), 0.0)
    with pytest.raises(TypeError, match="phi has dtype complex64; gd_sharpness needs real numbers"):
        rf.gd_sharpness(jnp.ones((3, 2), jnp.complex64), 0.0)
    # integers (and lists) are read as floats: an int32 phi had rounded the ridge 0.7 to 0
    assert float(rf.gd_sharpness(jnp.ones((4, 2), jnp.int32), 0.7)) == pytest.approx(2 + 0.7 / 4, rel=1e-6)
    assert float(rf.gd_sharpness([[1.0, 0.0], [0.0, 3.0]], 0.0)) == pytest.approx(4.5, rel=1e-6)


def test_full_batch_gd_diverges_where_lr_times_its_sharpness_passes_2():
    # a narrow model's sharpness varies from draw to draw (here 0.2 to 2.9 at N = 8), so a step
    # that most draws take safely throws a few past the edge: the output says which
    cfg = RFConfig(M=256, log_every=50)
    pts = [{"N": N, "T": 512, "alpha": 1.0, "method": "gd", "steps": 2000, "lr": lr, "seed": s}
           for N in (8, 64) for lr in (0.5, 1.0, 1.5, 2.0) for s in range(4)]
    res = sweep_random_features(cfg, pts, seed=0, progress=False)
    edge = np.array([r.point["lr"] * float(r["sharpness"]) for r in res])
    diverged = np.array([r.diverged for r in res])
    assert 4 <= diverged.sum() <= len(res) - 4  # (both kinds, or the test tells nothing)
    assert np.all(diverged == (edge > 2)), np.round(edge, 3)
    assert np.ptp([float(r["sharpness"]) for r in res if r.point["N"] == 8]) > 1.0
    ridge = sweep_random_features(cfg, [{"N": 8, "T": 512, "alpha": 1.0}], seed=0, progress=False)[0]
    assert "sharpness" not in ridge.outputs  # (gradient descent's alone)
    alone = train_random_features(cfg, check_point(pts[5]), key=model_key(0, pts[5], RandomFeatureTask(cfg)))
    assert float(alone["sharpness"]) == float(res[5]["sharpness"])


def test_infinite_time_is_the_ridge_solution_of_the_same_draw_and_leaves_the_key_alone():
    # the flag adds the loss where gradient descent converges on the model's own features and
    # data (experiments/compute_optimal.py's long-time limit), without changing the model
    base = {"N": 16, "T": 64, "alpha": 1.0, "ridge": 0.5, "method": "gd", "steps": 4000, "lr": 0.5}
    cfg = RFConfig(M=128, log_every=20)
    plain, flagged = (sweep_random_features(cfg, [dict(base, infinite_time=f)], seed=1, progress=False)[0]
                      for f in (False, True))
    assert "loss_infinite_time" not in plain.outputs
    assert flagged["test_loss"] == plain["test_loss"]  # (the same key: a measurement flag)
    assert flagged["loss_infinite_time"] == pytest.approx(plain["test_loss"], rel=1e-4)  # converged there
    ridge = {k: base[k] for k in ("N", "T", "alpha", "ridge")}
    alone = train_random_features(cfg, ridge, key=model_key(1, base, RandomFeatureTask(cfg)))
    assert flagged["loss_infinite_time"] == pytest.approx(float(alone["test_loss"]), rel=1e-9)


def test_vmapped_sweep_equals_single_runs():
    points = random_feature_grid(N=[8, 24], T=[16], alpha=[0.5, 1.5], ridge=[0.0, 0.1], noise=[0.2],
                                 infinite_data=True, kernel_limit=True)
    res = sweep_random_features(CFG, points, seed=5, progress=False, chunk_size=3)
    for i in (0, 3, 6):
        alone = train_random_features(CFG, points[i], key=model_key(5, points[i], RandomFeatureTask(CFG)))
        for name in ("test_loss", "test_loss_sampled", "loss_infinite_data", "loss_kernel_limit", "train_loss"):
            np.testing.assert_allclose(res[i][name], alone[name], rtol=1e-6, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("method, common", [("ridge", ()), ("gd", ()), ("gd", ("ridge",))])
@pytest.mark.compiled_as_users_do
def test_a_model_has_the_same_bits_on_one_device_and_on_four(method, common):
    # the spectrum I^-(1+alpha), formed in the compiled program, had rounded differently in a device's share of
    # one model (4 models on 4 devices) and in a share of 4: outputs ~2e-7 apart at M = 32 (it is formed on the
    # host now, rf._inputs); and with common draws (a pair of keys, rows drawn one by one)
    cfg = RFConfig(M=32, log_every=10, common_across=common)
    extra = {"steps": 30, "lr": 0.5} if method == "gd" else {}
    points = random_feature_grid(N=[8], T=[16], alpha=[0.5, 1.3], ridge=[1e-3, 0.0], method=method, **extra)
    one, four = (sweep_random_features(cfg, points, progress=False, devices=jax.devices()[:k]) for k in (1, 4))
    assert four.stats["chunk_sizes"] == {str(RandomFeatureTask(cfg).static_of(points[0])): 4}
    for a, b in zip(one, four):
        assert a.outputs.keys() == b.outputs.keys()
        for name in a.outputs:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    lam = rf._inputs(cfg, points[1])["spectrum"]  # (alpha = 1.3: I^-2.3 rounded once from float64)
    np.testing.assert_array_equal(lam, (32.0 * np.arange(1, 33, dtype=np.float64) ** -2.3).astype(np.float32))


@pytest.mark.parametrize("nonlinearity", ["linear", "relu"])
def test_exact_test_loss_matches_fresh_samples(nonlinearity):
    pts = random_feature_grid(N=[20], T=[60], alpha=[0.7], ridge=[0.05], noise=[0.3], seeds=4,
                              nonlinearity=nonlinearity, infinite_data=True)
    res = sweep_random_features(CFG, pts, progress=False)
    exact, sampled = res.column("test_loss"), res.column("test_loss_sampled")
    # 4000 fresh Gaussian samples: relative standard error ~ sqrt(2/4000) ~ 2%.
    np.testing.assert_allclose(sampled, exact, rtol=0.08)
    # Infinite data is the best these features can do, and never worse than finite data.
    assert np.all(res.column("loss_infinite_data") <= exact * (1 + 1e-9))


def test_relu_moments_match_monte_carlo():
    with jax.enable_x64(True):
        k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
        lam = rf.spectrum(64, 0.5, 64.0, jnp.float64)
        U = rf.sample_projection(k1, 5, 64, dtype=jnp.float64)
        w = rf.sample_teacher(k2, 64, dtype=jnp.float64)
        C, c = jax.jit(rf.relu_moments)(U, lam, w)
        x, y = rf.sample_data(k3, 200_000, lam, w, 0.0)
        phi = rf.features(U, x, "relu")
        C_mc, c_mc = (np.asarray(a) for a in (phi.T @ phi / x.shape[0], phi.T @ y / x.shape[0]))
        C, c = np.asarray(C), np.asarray(c)
    np.testing.assert_allclose(C, C_mc, rtol=0.03, atol=3e-3 * C.max())
    np.testing.assert_allclose(c, c_mc, rtol=0.05, atol=3e-3 * np.abs(c).max())


def test_kernel_limit_difference_has_the_mean_of_the_distance():
    # E_U[L_RF - L_kernel] = E_U |f_RF - f_kernel|^2 for ridgeless linear features. The
    # difference is heavy-tailed (a zero-mean cross term), hence many models.
    pts = random_feature_grid(N=[64], T=[12], alpha=[0.5], seeds=400, kernel_limit=True)
    res = sweep_random_features(RFConfig(M=128), pts, progress=False)
    diff = res.column("test_loss") - res.column("loss_kernel_limit")
    dist = res.column("distance_kernel_limit")
    sem = np.std(diff - dist, ddof=1) / np.sqrt(len(diff))
    assert abs(np.mean(diff) - np.mean(dist)) < 4 * sem
    # the point of using it: about half the spread (0.49-0.58 of it over 8 sweep seeds)
    assert np.all(dist >= 0) and np.std(dist) < 0.7 * np.std(diff)
    # |f_RF - f_kernel|^2 in the data's covariance (lambda-weighted), whose mean the theory gives
    from toyscale.theory import expected_test_loss

    cfg = RFConfig(M=128)
    want = np.diff(expected_test_loss(cfg, [{"N": np.inf, "T": 12, "alpha": 0.5}, {"N": 64, "T": 12, "alpha": 0.5}]))[0]
    assert abs(np.mean(dist) - want) < 3 * np.std(dist, ddof=1) / np.sqrt(len(dist)) + 0.05 * want


def test_model_pieces_under_jit_and_vmap():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    lam = jax.jit(rf.spectrum, static_argnums=0)(32, 1.0)
    assert lam.shape == (32,) and np.all(np.diff(np.asarray(lam)) < 0)
    U = jax.vmap(lambda k: rf.sample_projection(k, 6, 32))(keys)
    assert U.shape == (3, 6, 32)
    x, y = jax.jit(rf.sample_data, static_argnums=1)(keys[0], 10, lam, jnp.ones(32), 0.0)
    phi = jax.vmap(rf.features, in_axes=(0, None))(U, x)
    assert phi.shape == (3, 10, 6)
    th = jax.vmap(rf.ridge_solution, in_axes=(0, None, None))(phi, y, 0.0)
    losses = jax.jit(jax.vmap(rf.exact_test_loss, in_axes=(0, 0, None, None, None)))(th, U, lam, jnp.ones(32), 0.0)
    assert losses.shape == (3,) and np.all(np.isfinite(losses))


@pytest.mark.parametrize("field,value,match", [
    ("N", 0, "N=0"), ("T", 0, "T=0"), ("ridge", -1e-3, "ridge=-0.001"), ("alpha", 0.0, "alpha=0.0"),
    ("alpha", -1.0, "alpha=-1.0"), ("nonlinearity", "tanh", "nonlinearity='tanh'"), ("method", "adam", "method='adam'"),
    ("noise", -0.1, "noise=-0.1"), ("Nn", 3, "unknown field"),
])
def test_bad_points_raise_before_compiling(field, value, match):
    point = {"N": 4, "T": 4, "alpha": 1.0, field: value}
    with pytest.raises(ValueError, match=match):
        sweep_random_features(CFG, [point], progress=False)


def test_bad_config_and_gd_settings_raise():
    with pytest.raises(ValueError, match="M=1"):
        RFConfig(M=1)
    with pytest.raises(ValueError, match="lr=0"):
        check_point({"N": 4, "T": 4, "alpha": 1.0, "method": "gd", "steps": 10, "lr": 0.0})
    with pytest.raises(ValueError, match="batch=9"):
        check_point({"N": 4, "T": 8, "alpha": 1.0, "method": "gd", "steps": 10, "lr": 0.1, "batch": 9})
    with pytest.raises(ValueError, match="alpha"):
        check_point({"N": 4, "T": 8})


def test_a_positive_ridge_that_float32_rounds_to_zero_is_refused():
    # the model receives its ridge in float32: 1e-46 became 0 and trained ridgeless, while the
    # theory took it as ridged (2.55e14 against inf at N = T)
    from toyscale import theory

    tiny = 2.0**-126  # float32's smallest normal number (a subnormal is 0 to XLA on a CPU)
    for ridge in (1e-46, 1e-45, 2.0**-149, 1e-40, tiny / 1.5):
        point = {"N": 16, "T": 16, "alpha": 1.0, "ridge": ridge}
        match = rf"ridge={ridge!r}; a positive ridge must be at least 1.175e-38 \(2\*\*-126, the smallest normal"
        with pytest.raises(ValueError, match=match):
            check_point(point)
        with pytest.raises(ValueError, match=match):
            theory.expected_test_loss(CFG, [point])
        with pytest.raises(ValueError, match=match):
            random_feature_grid(N=[16], T=[16], alpha=[1.0], ridge=[ridge])
    assert check_point({"N": 4, "T": 4, "alpha": 1.0, "ridge": tiny})["ridge"] == tiny
    positive = jax.jit(lambda r: r > 0)
    assert bool(positive(np.float32(tiny))) and not bool(positive(np.float32(2.0**-149)))  # (flushed)
    assert check_point({"N": 4, "T": 4, "alpha": 1.0, "ridge": 0.0})["ridge"] == 0.0


def test_a_point_of_numpy_numbers_is_filled_with_plain_ones():
    # kills: check_int and check_real handing back the numpy integer or float they were given (a point goes into the
    # sweep's JSON manifest, where np.int64 and np.float32 are no JSON values; mutation check of _checks.py)
    given = check_point({"N": np.int64(4), "T": np.uint8(8), "alpha": np.float32(1.5), "ridge": np.int64(0),
                         "seed": np.int32(2)})
    plain = check_point({"N": 4, "T": 8, "alpha": 1.5, "ridge": 0.0, "seed": 2})
    assert json.loads(json.dumps(given)) == given == plain
    assert [type(given[k]) for k in ("N", "T", "alpha", "ridge", "seed")] == [int, int, float, float, int]


def test_sweep_leaves_the_global_x64_flag_alone():
    before = jax.config.jax_enable_x64
    sweep_random_features(RFConfig(M=32), [{"N": 2, "T": 3, "alpha": 1.0}], progress=False)
    assert jax.config.jax_enable_x64 == before


@pytest.mark.parametrize("call, match", [
    # gd settings on a ridge point (method left out) would be silently dropped
    (lambda: rf.check_point({"N": 4, "T": 4, "alpha": 1.0, "lr": 0.1, "steps": 5}), "steps=5, lr=0.1: only method='gd'"),
    (lambda: rf.regime_fit_settings(rows=[8, 64], columns=[8, 64], ratio=0), "ratio=0"),
    # (at ratio 1/2 the variance-limited fit in N took N < T, where the kernel-limit distance is not its mean)
    (lambda: rf.regime_fit_settings(rows=[8, 64], columns=[8, 64], ratio=0.5), r"ratio=0.5; ratio must be > 1"),
    (lambda: rf.regime_labels(N_max=64, T_max=64, N_small=8, T_small=8, ratio=1), r"ratio=1; ratio must be > 1"),
    (lambda: rf.regime_fit_settings(rows=[], columns=[8], ratio=2), r"rows=\[\] is empty"),
    (lambda: rf.regime_grid(alpha=0.5, sizes=[8, 16], rows=[8], columns=[]), r"columns=\[\] is empty"),
    (lambda: rf.regime_grid(alpha=0.5, sizes=[8], rows=[8], columns=[8], ridges=[0.1]), "need ridge_column"),
    # (regime_exponents failed after the sweep with KeyError 'loss_infinite_data')
    (lambda: rf.regime_fit_settings(rows=[64, 512], columns=[8, 64]), r"rows=\[64, 512\].*limit_size=32"),
    (lambda: rf.regime_fit_settings(rows=[8, 64], columns=[64, 512], limit_size=16), r"columns=.*limit_size=16"),
])
def test_settings_that_would_fail_only_after_the_sweep_are_refused_first(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("setting, error, match", [
    # replicates=-5 was clipped up to min_replicates and ran; 1e400 gave a traceback from round()
    ({"replicates": -5}, ValueError, "replicates=-5; must be an integer >= 1"),
    ({"replicates": float("inf")}, TypeError, "replicates=inf; replicates must be an integer"),
    ({"replicates": True}, TypeError, "replicates=True"),
    ({"max_replicates": 0}, ValueError, "max_replicates=0; must be an integer >= 1"),
])
def test_regime_grid_checks_its_replicate_counts(setting, error, match):
    with pytest.raises(error, match=re.escape(match)):
        rf.regime_grid(alpha=0.5, sizes=[2, 4], rows=[2], columns=[2], **setting)


def test_regime_grid_takes_iterators_as_lists():
    lists = rf.regime_grid(alpha=0.5, sizes=[8, 16], rows=[8], columns=[16], replicates=4)
    assert rf.regime_grid(alpha=0.5, sizes=iter([8, 16]), rows=iter([8]), columns=(c for c in [16]),
                          replicates=4) == lists and lists


def test_regime_fit_settings_are_the_grid_corners():
    assert rf.regime_fit_settings(rows=[64, 8], columns=[16, 128], ratio=4) == {
        "N_max": 64, "T_max": 128, "N_small": 8, "T_small": 16, "ratio": 4.0}


def test_solvers_name_bad_arguments_instead_of_returning_numbers():
    U, lam, w = jnp.ones((3, 4)), jnp.ones(4), jnp.ones(4)
    phi, y = jnp.eye(4)[:, :3], jnp.ones(4)
    for call, match in [  # (tanh and 'Linear' were computed as ReLU; a negative ridge or batch 0 gave numbers or NaN)
        (lambda: rf.exact_test_loss(jnp.ones(3), U, lam, w, 0.0, "tanh"), "nonlinearity='tanh'"),
        (lambda: rf.infinite_data_solution(U, lam, w, "Linear"), "nonlinearity='Linear'"),
        (lambda: rf.ridge_solution(phi, y, -0.05), "ridge=-0.05"),
        (lambda: rf.gd_solution(phi, y, 0.0, 0.1, steps=5, batch=0, log_every=1, evaluate=jnp.sum,
                                key=jax.random.PRNGKey(0)), "batch=0"),
        # (gradient ascent ran; a negative rcond gave [nan nan nan]; an empty loss curve came back)
        (lambda: rf.gd_solution(phi, y, 0.0, -0.1, steps=5, batch=4, log_every=1, evaluate=jnp.sum,
                                key=jax.random.PRNGKey(0)), "lr=-0.1"),
        (lambda: rf.ridge_solution(phi, y, 0.0, rcond=-1.0), "rcond=-1.0"),
        (lambda: train_random_features(RFConfig(M=8), {"N": 2, "T": 4, "alpha": 1.0, "method": "gd", "steps": 50,
                                                       "lr": 0.1}, key=jax.random.PRNGKey(0)), "steps=50"),
        (lambda: sweep_random_features(RFConfig(M=8, log_every=20), [{"N": 2, "T": 4, "alpha": 1.0, "method": "gd",
                                                                      "steps": 10, "lr": 0.1}]), "log_every=20"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.compiled_as_users_do
def test_a_point_keys_the_same_model_with_or_without_its_measurement_flags():
    # infinite_data / kernel_limit only add outputs: turning them on (say, by raising
    # limit_size) must not redraw the model; a raw point and its filled-in copy key alike.
    # (The two are separate programs, the same bits as users compile them: with the suite's
    # setting, they differed by 5e-9 relative.)
    raw = {"N": 8, "T": 16, "alpha": 0.5}
    flagged = check_point({**raw, "infinite_data": True, "kernel_limit": True})
    task = RandomFeatureTask(CFG)
    assert np.array_equal(model_key(3, raw, task), model_key(3, flagged, task))
    with pytest.warns(RuntimeWarning, match="same model"):
        res = sweep_random_features(CFG, [raw, flagged], seed=3, progress=False)
    assert res[0]["test_loss"] == res[1]["test_loss"] and "loss_kernel_limit" in res[1].outputs
    alone = train_random_features(CFG, raw, key=model_key(3, raw, task))
    np.testing.assert_allclose(alone["test_loss"], res[0]["test_loss"], rtol=1e-6)


def test_regime_grid_adds_the_ridgeless_reference_at_the_ridge_column():
    # The ridge panel compares each ridge with ridge 0 at T = ridge_column; a column outside
    # `columns` used to have no ridgeless points there, and the figure failed after the sweep.
    pts = rf.regime_grid(alpha=0.5, sizes=[8, 16, 32], rows=[8], columns=[8], ridges=[0.1], ridge_column=16,
                         replicates=4, max_replicates=1)
    at = {(p["N"], p["ridge"]) for p in pts if p["T"] == 16}
    assert at == {(n, r) for n in (8, 16, 32) for r in (0.0, 0.1)}
    assert len(pts) == len({(p["N"], p["T"], p["ridge"], p["seed"]) for p in pts})  # no point twice
    # with no ridges the panel still shows the ridgeless peak (the figure failed after the sweep)
    bare = rf.regime_grid(alpha=0.5, sizes=[8, 16, 32], rows=[8], columns=[8], ridge_column=12, replicates=4,
                          max_replicates=1)
    assert {(p["N"], p["ridge"]) for p in bare if p["T"] == 12} == {(n, 0.0) for n in (8, 16, 32)}
    # an empty array is no ridges too (the check for a 0 in ridges had refused it as an empty axis)
    assert rf.regime_grid(alpha=0.5, sizes=[8, 16, 32], rows=[8], columns=[8], ridge_column=12, replicates=4,
                          max_replicates=1, ridges=np.array([])) == bare

    grid = rf.regime_grid(alpha=0.5, sizes=[2, 4, 8, 16, 32, 64], rows=[2, 64], columns=[2, 64], replicates=4,
                          max_replicates=1)
    settings = rf.regime_fit_settings(rows=[2, 64], columns=[2, 64], ratio=2)
    rf.check_regime_fits(grid, **settings)  # 5 sizes in each fit
    with pytest.raises(ValueError, match=r"the resolution_N fit \(along N at T = 64\) would get 2 size\(s\) \[2, 4\]"):
        rf.check_regime_fits(grid, **{**settings, "ratio": 16})


def test_train_random_features_names_a_key_that_is_not_a_prng_key():
    with pytest.raises(TypeError, match="key=0; key must be a PRNG key"):
        train_random_features(RFConfig(M=8), {"N": 2, "T": 4, "alpha": 1.0}, key=0)


def test_gradient_descent_that_blows_up_is_flagged_though_its_loss_is_finite():
    # lr = 5 is far past 2 / lambda_max: the loss grew to ~1e293 without overflowing and
    # was counted as a trained model, whose loss then dominated its group's mean.
    cfg = RFConfig(M=64, log_every=10)
    base = {"N": 16, "T": 32, "alpha": 0.5, "method": "gd", "steps": 200}
    points = [{**base, "lr": 5.0, "seed": s} for s in range(3)] + [{**base, "lr": 0.5, "seed": s} for s in range(3)]
    res = sweep_random_features(cfg, points, progress=False)
    assert [r.diverged for r in res] == [True] * 3 + [False] * 3
    points, mean, sem = rf.replicate_means(res)
    assert np.isfinite(mean[1]) and mean[1] < 2.0 and points[1]["lr"] == 0.5
    # the point whose every model diverged is kept, NaN (it had been dropped, so theory_agreement could not count it)
    assert points[0]["lr"] == 5.0 and np.isnan(mean[0]) and np.isnan(sem[0]) and mean.shape == (2,)
    agreement = rf.theory_agreement(points, mean, sem, np.array([1.0, 1.0]))
    assert agreement.sim_nonfinite.tolist() == [True, False]
    # a mistyped measure is a ValueError naming it, as loss_curve's is (it was a KeyError)
    with pytest.raises(ValueError, match=r"measure='test_los' is not an output of these records; scalar outputs: "
                                         r"\[.*'test_loss'"):
        rf.replicate_means(res, "test_los")


def test_ridge_sweep_grid_holds_both_directions_and_the_shared_shape_once():
    grid = rf.ridge_sweep_grid(alpha=0.5, sizes=[4, 8, 16], fixed=8, ridges=[1e-3, 1.0], noise=0.5, trials=2)
    shapes = sorted({(p["N"], p["T"]) for p in grid})
    assert shapes == [(4, 8), (8, 4), (8, 8), (8, 16), (16, 8)]
    assert len(grid) == 5 * 2 * 2
    assert {(p["ridge"], p["seed"]) for p in grid if (p["N"], p["T"]) == (8, 8)} == {(1e-3, 0), (1e-3, 1), (1.0, 0), (1.0, 1)}
    assert all(p["noise"] == 0.5 and p["alpha"] == 0.5 for p in grid)
    with pytest.raises(ValueError, match="ridges=-1.0; ridges must be finite >= 0"):
        rf.ridge_sweep_grid(alpha=0.5, sizes=[4, 8], fixed=8, ridges=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"ridges=\[1.0, 1.0\] holds 1.0 twice"):
        rf.ridge_sweep_grid(alpha=0.5, sizes=[4, 8], fixed=8, ridges=[1.0, 1.0])
    with pytest.raises(TypeError, match="trials=1.5"):
        rf.ridge_sweep_grid(alpha=0.5, sizes=[4, 8], fixed=8, ridges=[1.0], trials=1.5)


def test_ridge_tuned_takes_the_lowest_finite_loss_at_each_size():
    points = [{"N": n, "T": 8, "alpha": 0.5, "ridge": r} for n in (16, 4) for r in (0.1, 1.0, 10.0)]
    loss = np.array([3.0, 2.0, np.nan, 1.0, 5.0, 0.5])
    best = rf.ridge_tuned(points, loss, "N")
    np.testing.assert_array_equal(best.x, [4, 16])
    np.testing.assert_array_equal(best.loss, [0.5, 2.0])  # (the NaN at N = 16 skipped)
    np.testing.assert_array_equal(best.ridge, [10.0, 1.0])
    np.testing.assert_array_equal(best.index, [5, 1])
    with pytest.raises(ValueError, match=r"loss has shape \(5,\); expected one loss per point \(6,\)"):
        rf.ridge_tuned(points, loss[:5], "N")
    with pytest.raises(ValueError, match="along='D'; not a field of every point"):
        rf.ridge_tuned(points, loss, "D")
    with pytest.raises(ValueError, match="the points differ in more than 'N' and 'ridge'"):
        rf.ridge_tuned(points + [{"N": 4, "T": 16, "alpha": 0.5, "ridge": 0.1}], np.append(loss, 1.0), "N")
    with pytest.raises(ValueError, match="N=16: every loss is NaN or infinite"):
        rf.ridge_tuned(points, np.where(np.arange(6) < 3, np.inf, loss), "N")


@pytest.mark.parametrize("point", [dict(N=96, T=96), dict(N=96, T=24, infinite_data=True),
                                   dict(N=24, T=96, kernel_limit=True, nonlinearity="relu"),
                                   dict(N=64, T=64, method="gd", steps=20, lr=0.1),
                                   # (both had been under XLA's: N M counted twice, ReLU's N x N moments not at all)
                                   dict(N=2048, T=32), dict(N=2048, T=32, nonlinearity="relu")])
@pytest.mark.compiled_as_users_do
def test_the_memory_prediction_bounds_what_xla_allocates(point):
    # (the sweep chunks models by bytes_per_model: an estimate below XLA's own would overfill a device)
    _assert_memory_bound(RandomFeatureTask(RFConfig(M=512, test_samples=100, log_every=10)), point)


def _assert_memory_bound(task, point):
    """What XLA allocates for one model of ``point`` (with alpha = 1) <= the task's prediction <= 4x it."""
    p = check_point(dict(point, alpha=1.0))
    with jax.enable_x64(True):  # as inside a sweep
        inputs = {k: jnp.asarray(v) for k, v in task.inputs_of(p).items()}
        fn = jax.jit(lambda i, k: task.model_fn(task.static_of(p), i, k))
        ma = fn.lower(inputs, jax.random.PRNGKey(0)).compile().memory_analysis()
    used = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
    assert used <= task.bytes_per_model(task.static_of(p)) <= 4 * used


def test_random_feature_grid_refuses_seed_and_lists_for_its_fixed_fields():
    # seed=3 (for seeds=3) had been overwritten by each point's seed: one replicate, seed 0
    with pytest.raises(TypeError, match=r"seed=3; random_feature_grid takes seeds= \(a count: seeds=3 is \[0, 1, 2\]"):
        random_feature_grid(N=[4], T=[8], alpha=[0.5], seed=3)
    assert [p["seed"] for p in random_feature_grid(N=[4], T=[8], alpha=[0.5], seeds=3)] == [0, 1, 2]
    # a fixed field given as a list had read "method=['gd']; allowed: 'ridge', 'gd'"
    for field, value, example in (("method", ["gd"], "method='gd'"), ("nonlinearity", ["relu"], "nonlinearity='relu'"),
                                  ("steps", [100], "steps=100"), ("lr", (0.1, 0.2), "lr=0.1")):
        with pytest.raises(TypeError, match=rf"{field}=.*gives every point the same {field}: pass a single value, "
                                            rf"e.g. {example}, not a list"):
            random_feature_grid(N=[4], T=[8], alpha=[0.5], **{field: value})
    with pytest.raises(TypeError, match="batch=array.*pass a single value, not a list"):
        random_feature_grid(N=[4], T=[8], alpha=[0.5], batch=np.array([4, 8]))
    with pytest.raises(TypeError, match="seeds=True; seeds must be a count"):
        random_feature_grid(N=[4], T=[8], alpha=[0.5], seeds=True)
    # check_point says the same of a point's own list
    with pytest.raises(TypeError, match=r"method=\['gd'\]; method must be a single string, one of 'ridge', 'gd' "
                                        r"\(not a list\)"):
        check_point({"N": 4, "T": 8, "alpha": 0.5, "method": ["gd"]})
    # single values still go to every point
    pts = random_feature_grid(N=[4], T=[8], alpha=[0.5], seeds=2, method="gd", steps=10, lr=0.1, label="a")
    assert [(p["method"], p["steps"], p["label"], p["seed"]) for p in pts] == [("gd", 10, "a", 0), ("gd", 10, "a", 1)]


def test_relative_error_leaves_out_a_theory_of_zero_or_infinity():
    rel, compared = rf.relative_error([1.1, 1e-14, 50.0, 0.5], [1.0, 0.0, np.inf, 1.0])
    np.testing.assert_array_equal(compared, [True, False, False, True])
    np.testing.assert_allclose(rel[compared], [0.1, 0.5])
    assert np.all(np.isnan(rel[~compared]))
    with pytest.raises(ValueError, match=r"simulated has shape \(2,\) and predicted \(3,\)"):
        rf.relative_error([1.0, 2.0], [1.0, 2.0, 3.0])


def _experiment(name):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_random_features_script_with_M_below_the_sizes_prints_no_infinite_error(tmp_path, capsys, monkeypatch):
    # rf.M=4: min(N, T) >= M at most points, where the noise-free ridgeless theory is exactly 0;
    # sim/theory had been x/0 ("divide by zero", "median |sim/theory - 1| = inf% ... (max inf%)")
    # and the exponents, fitted through those points, had been printed as results
    import json
    import warnings

    from toyscale import plots

    labels, save = [], plots.save
    monkeypatch.setattr(plots, "save", lambda fig, *a, **k: labels.extend(
        label for ax in fig.axes for label in ax.get_legend_handles_labels()[1]) or save(fig, *a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        summary = _experiment("random_features").main(
            ["--preset", "smoke", "--set", "rf.M=4", "--set", "replicates=4", "--out", str(tmp_path / "out"),
             "--figures", str(tmp_path / "fig"), "--no-progress"])
    printed = capsys.readouterr().out
    assert "inf%" not in printed and "nan" not in printed
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["theory_points_zero"] > 0 and on_disk["theory_points"] > 0
    assert on_disk["theory_points_sim_nonfinite"] == 0
    line = next(row for row in printed.splitlines() if row.startswith("median |sim/theory - 1| = "))
    assert (f"{100 * on_disk['theory_rel_error_median']:.1f}% (max {100 * on_disk['theory_rel_error_max']:.0f}%) "
            f"over the {on_disk['theory_points']} points with max(N, T) >= 2 min(N, T)") in line, line
    zero = re.search(r"; (\d+) point\(s\) left out where the theory's loss is 0 \(noise-free and ridgeless with "
                     r"min\(N, T\) >= M = 4: the student is exact\)", line)
    assert zero and int(zero.group(1)) == on_disk["theory_points_zero"], line
    infinite = re.search(r"; (\d+) point\(s\) left out where the theory's loss is infinite", line)
    assert (int(infinite.group(1)) if infinite else 0) == on_disk["theory_points_infinite"], line
    assert on_disk["theory_points_finite_size_peak"] == 0 and "beside the peak" not in line  # (sizes 8, 16, ...)
    assert np.isfinite(on_disk["theory_rel_error_max"])
    for name in ("resolution_N", "resolution_T", "variance_N", "variance_T"):
        assert on_disk["zero_theory_sizes"][name] and on_disk["exponents"][name] is None
        assert summary["exponent_t_interval"][name] is None
    assert sum("n/a: the theory's loss is 0 at" in row for row in printed.splitlines()) == 4
    # and the figure draws no line, and no exponent, for them
    assert not any(label.startswith("fit ") for label in labels), labels
    assert sorted(label for label in labels if label.startswith("variance_")) == [
        "variance_N: not fitted", "variance_T: not fitted"]


def _agreement_case():
    # far from the peak: 8 x 16 and 64 x 16 compared (20%, 10%), 4 x 16 a theory of 0; near it:
    # 16 x 24 compared (20%), 16 x 16 a theory of inf, 16 x 20 a theory of 0 with an infinite
    # mean (the theory's reason first); 32 x 16 a NaN mean (every replicate gone)
    points = [{"N": n, "T": t, "ridge": r} for n, t, r in ((4, 16, 0.0), (8, 16, 0.1), (16, 16, 0.0), (64, 16, 0.1),
                                                           (16, 24, 0.1), (32, 16, 1.0), (16, 20, 0.0))]
    mean = np.array([1e-13, 0.2, 40.0, 0.11, 0.36, np.nan, np.inf])
    sem = np.array([1e-14, 0.01, 5.0, 0.01, 0.02, 0.0, 0.0])
    theory = np.array([0.0, 0.25, np.inf, 0.1, 0.3, 0.5, 0.0])
    return points, mean, sem, theory


def test_theory_agreement_counts_the_points_it_leaves_out_by_reason():
    points, mean, sem, theory = _agreement_case()
    a = rf.theory_agreement(points, mean, sem, theory)
    where = lambda mask: np.flatnonzero(mask).tolist()  # noqa: E731
    assert where(a.far) == [1, 3] and where(a.near) == [4] and where(a.compared) == [1, 3, 4]
    assert where(a.zero) == [0, 6] and where(a.infinite) == [2] and where(a.sim_nonfinite) == [5]
    # every point in exactly one group
    groups = np.stack([a.compared, a.zero, a.infinite, a.sim_nonfinite])
    np.testing.assert_array_equal(groups.sum(axis=0), 1)
    assert a.median_far == pytest.approx(0.15) and a.max_far == pytest.approx(0.2)
    assert a.median_near == pytest.approx(0.2) and a.max_near == pytest.approx(0.2)
    assert a.median == pytest.approx(0.2) and a.max == pytest.approx(0.2)
    assert a.worst == 1 and a.worst_point == points[1] and a.worst_sem == pytest.approx(0.04)
    assert a.zero_sim_max == 1e-13 and a.infinite_sim_min == 40.0  # (the infinite mean at a zero theory left out)
    with pytest.raises(ValueError, match="read-only"):
        a.zero[0] = False
    line = a.describe(4)
    assert line.startswith("median |sim/theory - 1| = 15.0% (max 20.0% at N = 8, T = 16, ridge 0.1, where the "
                           "simulated mean's standard error is 4.0% of the theory) over the 2 points with "
                           "max(N, T) >= 2 min(N, T); 20.0% (max 20.0%) over the 1 nearer the N = T peak"), line
    assert ("; 2 point(s) left out where the theory's loss is 0 (noise-free and ridgeless with min(N, T) >= M = 4: "
            "the student is exact), the simulated loss there at most 1e-13") in line
    assert ("; 1 point(s) left out where the theory's loss is infinite (the ridgeless N = T peak), the simulated "
            "loss there at least 40") in line
    assert line.endswith("; 1 point(s) left out where the simulated mean is NaN or infinite"), line
    assert "inf%" not in line and "nan" not in line
    short = a.describe(4, name_worst=False)
    assert short.startswith("median |sim/theory - 1| = 15.0% (max 20%) over the 2 points with max(N, T) >= 2 "
                            "min(N, T); "), short
    # a larger factor moves 8 x 16 nearer the peak; factor 1 puts every point far from it
    wide = rf.theory_agreement(points, mean, None, theory, off_peak=3)
    assert where(wide.far) == [3] and wide.worst == 3 and wide.worst_sem is None
    assert "standard error" not in wide.describe(4) and "with max(N, T) >= 3 min(N, T)" in wide.describe(4)
    assert rf.theory_agreement(points, mean, sem, theory, off_peak=1).median_near is None


def test_theory_agreement_is_none_where_no_point_is_compared():
    points, mean, sem, theory = _agreement_case()
    a = rf.theory_agreement(points[:1], mean[:1], sem[:1], theory[:1])
    assert a.median is a.max is a.median_far is a.max_far is a.median_near is a.max_near is a.worst is None
    assert a.describe(4).startswith("median |sim/theory - 1| = (no point with max(N, T) >= 2 min(N, T) to compare); "
                                    "1 point(s) left out where the theory's loss is 0")
    assert "nearer the N = T peak" not in a.describe(4)
    with pytest.raises(ValueError, match=r"M=0; must be an integer >= 1"):
        a.describe(0)
    empty = rf.theory_agreement([], [], [], [])
    assert empty.median is None and empty.describe(4) == ("median |sim/theory - 1| = (no point with max(N, T) >= 2 "
                                                          "min(N, T) to compare)")


def test_theory_agreement_leaves_out_the_ridgeless_points_beside_the_peak():
    # ridgeless at |N - T| = 1 the theory is finite but the finite-size expected loss is not (a
    # simulated mean there never settles: 9.8 and 332 over two halves of the draws); with a
    # ridge the same sizes are compared
    points = [{"N": 33, "T": 32, "ridge": 0.0}, {"N": 33, "T": 32, "ridge": 0.1}, {"N": 32, "T": 33},
              {"N": 32, "T": 32, "ridge": 0.0}, {"N": 8, "T": 32, "ridge": 0.0}, {"N": 65, "T": 64, "ridge": 0.0},
              {"N": float("inf"), "T": 32, "ridge": 0.0}]
    mean = np.array([171.0, 0.15, 90.0, 400.0, 0.55, 1e-14, 0.33])
    theory = np.array([2.2, 0.137, 2.2, np.inf, 0.5, 0.0, 0.3])
    a = rf.theory_agreement(points, mean, None, theory)
    where = lambda mask: np.flatnonzero(mask).tolist()  # noqa: E731
    assert where(a.finite_size_peak) == [0, 2] and where(a.infinite) == [0, 2, 3]
    assert where(a.compared) == [1, 4, 6] and where(a.zero) == [5] and not a.sim_nonfinite.any()
    np.testing.assert_array_equal(np.stack([a.compared, a.zero, a.infinite, a.sim_nonfinite]).sum(axis=0), 1)
    assert np.isnan(a.rel[[0, 2, 3]]).all() and a.rel[1] == pytest.approx(0.15 / 0.137 - 1)
    assert a.max == pytest.approx(0.1) and a.infinite_sim_min == 400.0 and a.finite_size_peak_sim_min == 90.0
    line = a.describe(64)
    assert ("; 1 point(s) left out where the theory's loss is infinite (the ridgeless N = T peak), the simulated "
            "loss there at least 400") in line, line
    assert ("; 2 point(s) left out beside the peak, ridgeless with |N - T| <= 1, where the theory's loss is finite "
            "(it is asymptotic) but the finite-size expected loss is infinite (Gaussian features), the simulated "
            "loss there at least 90") in line, line
    # without the N = T point only the new clause is printed
    alone = rf.theory_agreement(points[:3], mean[:3], None, theory[:3]).describe(64)
    assert "the ridgeless N = T peak" not in alone and "; 2 point(s) left out beside the peak" in alone, alone


@pytest.mark.parametrize("change, error, match", [
    (dict(mean=[1.0]), ValueError, r"mean has shape \(1,\); expected one value per point, \(7,\)"),
    (dict(points=[{"N": 4, "T": 16, "ridge": -0.1}] * 7), ValueError,
     r"points\[0\]\['ridge'\]=-0.1; .* must be finite >= 0"),
    (dict(points=[{"N": 4, "T": 16, "ridge": "0.1"}] * 7), TypeError,
     r"points\[0\]\['ridge'\]='0.1'; .* must be a real number"),
    (dict(sem=np.zeros((7, 1))), ValueError, r"sem has shape \(7, 1\); expected one value per point"),
    (dict(off_peak=0.5), ValueError, r"off_peak=0.5; off_peak must be finite >= 1"),
    (dict(off_peak="2"), TypeError, r"off_peak='2'; off_peak must be a real number"),
    (dict(points={"N": 4, "T": 16}), TypeError, r"points must be a list of grid points"),
    (dict(points=[{"N": 4}] * 7), ValueError, r"points\[0\]=\{'N': 4\} has no 'T'; every point needs N and T"),
    (dict(points=[{"N": 0, "T": 4}] * 7), ValueError, r"points\[0\]\['N'\]=0; .* must be finite or inf > 0"),
    (dict(theory=[0.1, np.nan, 0.1, 0.1, 0.1, 0.1, 0.1]), ValueError,
     r"theory\[1\]=nan \(at \{'N': 8, 'T': 16, 'ridge': 0.1\}\); the theory's loss must be >= 0 or inf"),
    (dict(theory=[-0.1] * 7), ValueError, r"theory\[0\]=-0.1 .*must be >= 0 or inf"),
])
def test_theory_agreement_refuses_bad_input(change, error, match):
    points, mean, sem, theory = _agreement_case()
    args = dict(points=points, mean=mean, sem=sem, theory=theory, off_peak=2.0) | change
    with pytest.raises(error, match=match):
        rf.theory_agreement(args["points"], args["mean"], args["sem"], args["theory"], off_peak=args["off_peak"])


def test_regime_zero_theory_sizes_are_where_min_n_t_reaches_m():
    settings = rf.regime_fit_settings(rows=[8, 64], columns=[8, 64], ratio=2)  # the smoke preset's fits
    assert rf.regime_axes(**settings) == {"resolution_N": "N", "resolution_T": "T", "variance_T": "T",
                                          "variance_N": "N"}
    sizes = {"resolution_N": [8, 16, 32], "resolution_T": [8, 16, 32], "variance_T": [16, 32, 64],
             "variance_N": [16, 32, 64]}
    fits = {name: (np.array(xs, dtype=np.float64), None, None) for name, xs in sizes.items()}
    # M = 16: the resolution fits hold the other size at 64, so min(N, T) >= 16 from 16 on; the
    # variance fits hold it at 8 < M
    zero = rf.regime_zero_theory_sizes(RFConfig(M=16), 0.5, fits, **settings)
    assert zero == {"resolution_N": [16, 32], "resolution_T": [16, 32], "variance_T": [], "variance_N": []}
    assert all(type(x) is int for xs in zero.values() for x in xs)
    assert rf.regime_zero_theory_sizes(RFConfig(M=256), 0.5, fits, **settings) == {name: [] for name in sizes}
    with pytest.raises(ValueError, match=r"it lacks \['variance_N'\]: pass regime_exponents' fits of every regime"):
        rf.regime_zero_theory_sizes(RFConfig(M=16), 0.5, {k: v for k, v in fits.items() if k != "variance_N"},
                                    **settings)
    with pytest.raises(ValueError, match=r"fits\['resolution_N'\] has sizes \[8.5\]; a fit's sizes"):
        rf.regime_zero_theory_sizes(RFConfig(M=16), 0.5, fits | {"resolution_N": ([8.5], None, None)}, **settings)
    with pytest.raises(TypeError, match=r"config=\{'M': 16\}; expected a toyscale.random_features.RFConfig"):
        rf.regime_zero_theory_sizes({"M": 16}, 0.5, fits, **settings)


def test_alpha_enters_only_the_spectrum_formed_in_float64():
    # alpha had been sent to the model in float32, so 1e-45 and 1e39 were refused; only the spectrum is now
    for alpha in (1e-45, 1e39):
        out = train_random_features(RFConfig(M=16), {"N": 4, "T": 8, "alpha": alpha}, key=jax.random.PRNGKey(0))
        assert np.isfinite(out["test_loss"]) and not out["diverged"]
    np.testing.assert_array_equal(rf.spectrum64(4, 1e39, 2.0), [2.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(rf.spectrum64(3, 1e-45, 6.0), [6.0, 3.0, 2.0], rtol=1e-15)


def test_a_teacher_exponent_scales_the_teachers_weights_and_an_isotropic_sweep_is_what_it_was():
    cfg = RFConfig(M=16, teacher_exponent=1.5)
    point = check_point({"N": 4, "T": 8, "alpha": 0.5})
    np.testing.assert_array_equal(rf._inputs(cfg, point)["teacher_scale"],
                                  (np.arange(1, 17, dtype=np.float64) ** -0.75).astype(np.float32))
    # at 0 (the default) neither the model's inputs nor the sweep's fingerprint hold it, so an isotropic
    # sweep's folder resumes and its models are the same bits as before the field existed
    assert "teacher_scale" not in rf._inputs(RFConfig(M=16), point)
    assert "teacher_exponent" not in RandomFeatureTask(RFConfig(M=16)).config()
    assert RandomFeatureTask(cfg).config()["teacher_exponent"] == 1.5
    key = jax.random.PRNGKey(0)
    iso, steep = (train_random_features(c, {**point, "ridge": 0.1}, key=key) for c in (RFConfig(M=16), cfg))
    assert steep["test_loss"] < iso["test_loss"]  # (the same draws, less power in the modes the features miss)


@pytest.mark.parametrize("make, message", [
    (lambda: RFConfig(teacher_exponent=float("nan")), "teacher_exponent=nan; teacher_exponent must be finite"),
    (lambda: RFConfig(M=4096, teacher_exponent=-200.0), "M^(-teacher_exponent / 2)=inf"),
    # the scale is a float32 input on its own: a small sigma_w had let an infinite one through (NaN losses)
    (lambda: RFConfig(M=16, sigma_w=1e-30, teacher_exponent=-75.0), "M^(-teacher_exponent / 2)=1.427"),
    # a flushed spectrum mode carries target power that grows with I (55 of 64 modes, 17 % of it, had been dropped)
    (lambda: sweep_random_features(RFConfig(M=64, teacher_exponent=-39.5), [{"N": 4, "T": 8, "alpha": 40.0}],
                                   progress=False), "the spectrum's last mode, 5.66e-73, is below float32's"),
    (lambda: sweep_random_features(RFConfig(M=16, teacher_exponent=-1.0), [{"N": 4, "T": 8, "alpha": 0.5}],
                                   progress=False), "alpha=0.5 with RFConfig.teacher_exponent=-1.0; the target power"),
    (lambda: theory.expected_test_loss(RFConfig(M=16, teacher_exponent=-1.0), [{"N": 4, "T": 8, "alpha": 0.5}]),
     "alpha=0.5 with RFConfig.teacher_exponent=-1.0"),
])
def test_a_teacher_exponent_without_a_finite_target_is_refused(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()
    with pytest.raises(TypeError, match=re.escape("config={'M': 4}; expected a toyscale.random_features.RFConfig")):
        rf.check_trainable({"M": 4}, {"N": 4, "T": 8, "alpha": 0.5})


@pytest.mark.parametrize("field, value", [("lr", 1e-40), ("lr", 1e39), ("noise", 1e-42), ("noise", 1e39),
                                          ("ridge", 1e39)])
def test_a_value_float32_cannot_hold_is_refused(field, value):
    # the model receives ridge, noise and lr in float32: lr = 1e-40 is a subnormal that XLA
    # on a CPU flushes to 0 (gradient descent would not move), 1e39 is inf
    point = {"N": 4, "T": 8, "alpha": 1.0, "method": "gd", "steps": 10, "lr": 0.1, field: value}
    assert not float(np.finfo(np.float32).tiny) <= value <= float(np.finfo(np.float32).max)
    match = re.escape(f"{field}={value!r}; a positive {field} must lie in [1.175e-38, 3.403e+38]")
    with pytest.raises(ValueError, match=match):
        check_point(point)
    for ok in (2.0**-126, 1e38):
        assert check_point({**point, field: ok})[field] == ok


def _small_model(M=16, N=4, T=32):
    k = jax.random.PRNGKey(0)
    lam, w = rf.spectrum(M, 1.0, M), rf.sample_teacher(k, M)
    U = rf.sample_projection(jax.random.fold_in(k, 1), N, M)
    x, y = rf.sample_data(jax.random.fold_in(k, 2), T, lam, w, 0.0)
    return k, lam, w, U, x, y


def test_column_vectors_are_refused_instead_of_broadcast():
    # theta [N, 1] had given an exact loss of 81.93 for 0.193, predictions [n, 1] a sampled loss of
    # 7.56 for 0.194, and targets [T, 1] an (N, N) "theta": each broadcast against a [n] vector
    k, lam, w, U, x, y = _small_model()
    phi = rf.features(U, x)
    theta = rf.ridge_solution(phi, y, 0.0)
    assert theta.shape == (4,)
    exact = float(rf.exact_test_loss(theta, U, lam, w, 0.0))
    assert float(rf.sampled_test_loss(lambda xt: rf.features(U, xt) @ theta, k, 20000, lam, w, 0.0)) == pytest.approx(
        exact, rel=0.05)
    col = re.escape("theta has shape (4, 1); exact_test_loss needs theta of shape (N,) = (4,), one weight per feature")
    for nl in rf.NONLINEARITIES:
        with pytest.raises(ValueError, match=col):
            rf.exact_test_loss(theta[:, None], U, lam, w, 0.0, nl)
    with pytest.raises(ValueError, match=col):  # (under jit too: shapes are static)
        jax.jit(rf.exact_test_loss)(theta[:, None], U, lam, w, 0.0)
    with pytest.raises(ValueError, match=re.escape("predict(x) has shape (200, 1); sampled_test_loss needs predict "
                                                   "to return shape (n,) = (200,)")):
        rf.sampled_test_loss(lambda xt: rf.features(U, xt) @ theta[:, None], k, 200, lam, w, 0.0)
    with pytest.raises(ValueError, match=re.escape("n=0; must be an integer >= 1")):
        rf.sampled_test_loss(lambda xt: rf.features(U, xt) @ theta, k, 0, lam, w, 0.0)
    ev = lambda th: jnp.sum(th)  # noqa: E731
    wide = rf.features(rf.sample_projection(k, 40, 16), x)  # N = 40 > T = 32: the dual branch
    for call, match in [
        (lambda: rf.ridge_solution(phi, y[:, None], 0.0), "y has shape (32, 1); ridge_solution needs y of shape "
                                                           "(T,) = (32,), one target per row of phi"),
        (lambda: rf.ridge_solution(wide, y[:, None], 0.1), "y has shape (32, 1); ridge_solution"),
        (lambda: rf.ridge_solution(phi, y[:8], 0.0), "y has shape (8,); ridge_solution needs y of shape (T,) = (32,)"),
        (lambda: rf.ridge_solution(phi[:, 0], y, 0.0), "phi has shape (32,); ridge_solution needs a 2-d phi of "
                                                       "shape (T, N)"),
        (lambda: rf.gd_solution(phi, y[:, None], 0.0, 0.1, steps=4, batch=32, log_every=2, evaluate=ev, key=k),
         "y has shape (32, 1); gd_solution needs y of shape (T,) = (32,)"),
        (lambda: rf.exact_test_loss(theta, U, lam[:8], w, 0.0), "lam has shape (8,); exact_test_loss needs lam of "
                                                                "shape (M,) = (16,)"),
        (lambda: rf.exact_test_loss(theta, U[0], lam, w, 0.0), "U has shape (16,); exact_test_loss needs a 2-d U"),
        (lambda: rf.infinite_data_solution(U, lam, w[:, None]), "w has shape (16, 1); infinite_data_solution needs w "
                                                                "of shape (M,) = (16,)"),
        (lambda: rf.kernel_limit_weights(x, y[:, None], 0.0, sigma_u=1.0), "y has shape (32, 1); "
                                                                          "kernel_limit_weights needs y"),
        (lambda: rf.kernel_limit_loss(x, y[:, None], 0.0, lam, w, 0.0, nonlinearity="relu", sigma_u=1.0, key=k,
                                      test_samples=10), "y has shape (32, 1); kernel_limit_loss needs y"),
        (lambda: rf.kernel_limit_loss(x, y, 0.0, lam[:8], w, 0.0, nonlinearity="linear", sigma_u=1.0, key=k,
                                      test_samples=0), "lam has shape (8,); kernel_limit_loss needs lam of shape (M,)"),
    ]:
        with pytest.raises(ValueError, match=re.escape(match)):
            call()


@pytest.mark.parametrize("settings, match", [
    # float32 made lambda_plus = 1e-46 a test loss of 0, sigma_w = 1e39 NaN, and sigma_u = 1e-40 a
    # flushed scale, 2x off the theory
    ({"lambda_plus": 1e-46}, "lambda_plus=1e-46; a positive lambda_plus must lie in [1.175e-38, 3.403e+38]"),
    ({"lambda_plus": 1e39}, "lambda_plus=1e+39; a positive lambda_plus must lie in"),
    ({"sigma_w": 1e39}, "sigma_w=1e+39; a positive sigma_w must lie in [1.175e-38, 3.403e+38]"),
    ({"sigma_u": 1e-40}, "sigma_u=1e-40; a positive sigma_u must lie in"),
    # sampling multiplies float32 draws by sigma / sqrt(M), which is what float32 must hold
    ({"sigma_u": 1e-37, "M": 4096}, "sigma_u=1e-37 with M=4096: sigma_u / sqrt(M)=1.5625e-39; a positive "
                                    "sigma_u / sqrt(M) must lie in [1.175e-38, 3.403e+38]"),
    ({"sigma_w": 3e-37, "M": 1024}, "sigma_w=3e-37 with M=1024: sigma_w / sqrt(M)=9.375e-39"),
])
def test_config_scales_float32_cannot_hold_are_refused(settings, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        RFConfig(**{"M": 16, **settings})


def test_config_scales_at_the_float32_limits_are_kept():
    tiny = 2.0**-126
    assert RFConfig(M=16, lambda_plus=tiny, sigma_u=4 * tiny, sigma_w=1e38).sigma_u == 4 * tiny
    assert RFConfig(M=4096, sigma_u=64 * tiny).sigma_u == 64 * tiny


def test_limits_refuse_the_rcond_and_ridge_the_solvers_refuse():
    # infinite_data_solution(rcond=-1.0) had returned NaN (N > M), kernel_limit_loss(relu, ridge=-1.0)
    # a number, where ridge_solution and the linear kernel limit refuse them
    k, lam, w, U, x, y = _small_model(M=16, N=32, T=8)
    rcond = re.escape("rcond=-1.0; rcond must be finite > 0")
    with pytest.raises(ValueError, match=rcond):
        rf.ridge_solution(rf.features(U, x), y, 0.0, rcond=-1.0)
    with pytest.raises(ValueError, match=rcond):
        rf.infinite_data_solution(U, lam, w, rcond=-1.0)
    with pytest.raises(ValueError, match=rcond):
        rf.infinite_data_solution(U, lam, w, "relu", rcond=-1.0)
    for nl in rf.NONLINEARITIES:
        kw = {"nonlinearity": nl, "sigma_u": 1.0, "key": k}
        with pytest.raises(ValueError, match=re.escape("ridge=-1.0; ridge must be finite >= 0")):
            rf.kernel_limit_loss(x, y, -1.0, lam, w, 0.0, test_samples=100, **kw)
        with pytest.raises(ValueError, match=rcond):
            rf.kernel_limit_loss(x, y, 0.0, lam, w, 0.0, test_samples=100, rcond=-1.0, **kw)
        with pytest.raises(ValueError, match=re.escape("test_samples=-1; must be an integer >= 0")):
            rf.kernel_limit_loss(x, y, 0.0, lam, w, 0.0, test_samples=-1, **kw)
        with pytest.raises(TypeError, match=re.escape("test_samples=10.0; test_samples must be an integer")):
            rf.kernel_limit_loss(x, y, 0.0, lam, w, 0.0, test_samples=10.0, **kw)
        with pytest.raises(ValueError, match=re.escape("sigma_u=0.0; sigma_u must be finite > 0")):
            rf.kernel_limit_loss(x, y, 0.0, lam, w, 0.0, test_samples=10, **{**kw, "sigma_u": 0.0})
        assert np.isfinite(float(rf.kernel_limit_loss(x, y, 0.1, lam, w, 0.0, test_samples=100, **kw)))
    assert np.all(np.isfinite(np.asarray(rf.infinite_data_solution(U, lam, w, rcond=1e-6))))
    # a traced ridge (one per model in a sweep) is still taken
    traced = jax.jit(lambda r: rf.kernel_limit_loss(x, y, r, lam, w, 0.0, nonlinearity="relu", sigma_u=1.0, key=k,
                                                    test_samples=100))
    assert np.isfinite(float(traced(0.1)))


def test_sgd_without_a_key_and_empty_draws_are_named():
    # key=None had failed inside jax.random ("unexpected PRNG key type"), M=0 with a ZeroDivisionError
    k, lam, w, U, x, y = _small_model(T=8)
    phi = rf.features(U, x)
    ev = lambda th: jnp.sum(th)  # noqa: E731
    sgd = dict(steps=4, log_every=2, evaluate=ev)
    with pytest.raises(TypeError, match=re.escape("key=None; key must be a PRNG key")):
        rf.gd_solution(phi, y, 0.0, 0.1, batch=2, key=None, **sgd)
    with pytest.raises(TypeError, match=re.escape("key is a uint32 array of shape (3,)")):
        rf.gd_solution(phi, y, 0.0, 0.1, batch=2, key=jnp.zeros(3, jnp.uint32), **sgd)
    assert rf.gd_solution(phi, y, 0.0, 0.1, batch=8, key=None, **sgd)[1].shape == (2,)  # full batch draws nothing
    traced = jax.jit(lambda kk: rf.gd_solution(phi, y, 0.0, 0.1, batch=2, key=kk, **sgd))
    for key in (k, jax.random.key(0)):
        assert traced(key)[0].shape == (4,)
    for call, match in [(lambda: rf.sample_teacher(k, 0), "M=0; must be an integer >= 1"),
                        (lambda: rf.sample_projection(k, 4, 0), "M=0; must be an integer >= 1"),
                        (lambda: rf.sample_projection(k, 0, 8), "N=0; must be an integer >= 1")]:
        with pytest.raises(ValueError, match=re.escape(match)):
            call()


def test_check_point_refuses_a_point_that_is_not_a_mapping():
    # a list of pairs had read "point {'N': 4, 'T': 8, 'alpha': 1.0} lacks 'N'"
    with pytest.raises(TypeError, match=re.escape("point=[('N', 4), ('T', 8), ('alpha', 1.0)]; a point must be a "
                                                  "mapping")):
        check_point([("N", 4), ("T", 8), ("alpha", 1.0)])
    from types import MappingProxyType
    assert check_point(MappingProxyType({"N": 4, "T": 8, "alpha": 1.0}))["T"] == 8
    with pytest.raises(ValueError, match=re.escape("point {'N': 4, 'T': 8} lacks 'alpha'")):
        check_point({"N": 4, "T": 8})


def test_sample_data_and_spectrum_refuse_shapes_that_broadcast_or_vanish():
    # a teacher w of shape [M, 1] had made y a [T, T] matrix; M = 0 an empty spectrum
    k = jax.random.PRNGKey(0)
    lam, w = rf.spectrum(8, 1.0), rf.sample_teacher(k, 8)
    x, y = rf.sample_data(k, 5, lam, w, 0.1)
    assert x.shape == (5, 8) and y.shape == (5,)
    with pytest.raises(ValueError, match=re.escape("lam has shape (8,) and w (8, 1); sample_data needs both of "
                                                   "shape (M,)")):
        rf.sample_data(k, 5, lam, w[:, None], 0.1)
    with pytest.raises(ValueError, match=re.escape("T=0; must be an integer >= 1")):
        rf.sample_data(k, 0, lam, w, 0.1)
    with pytest.raises(ValueError, match=re.escape("M=0; must be an integer >= 1")):
        rf.spectrum(0, 1.0)


def test_the_memory_prediction_counts_a_long_loss_curve():
    # (gd's curve was left out: 100000 steps logged every step needed 0.9 MB, 6 kB predicted, so
    # an accelerator's batch of such models could overfill its memory budget many times)
    _assert_memory_bound(RandomFeatureTask(RFConfig(M=16, log_every=1)),
                         dict(N=4, T=8, method="gd", steps=100_000, lr=0.1))


# ----------------------------------------------------------------------------- values no test had pinned
# (a hand mutation run, 2026-12-05: each test below fails on the mutant it names)


def _teacher_problem(key, M, T, noise, sigma_u, alpha=0.7):
    k_w, k_x = jax.random.split(key)
    lam = rf.spectrum(M, alpha, float(M), jnp.float64)
    w = rf.sample_teacher(k_w, M, dtype=jnp.float64)
    x, y = rf.sample_data(k_x, T, lam, w, noise)
    return lam, w, x, y


# (mutation check) kills: R16 (kernel_limit_weights / kernel_limit_loss: scale sigma_u**2/M -> sigma_u/M).
# The kernel limit must be the N -> inf limit of the same random features with the same ridge;
# every existing kernel-limit check is ridgeless (scale-free) or at sigma_u = 1 (sigma_u = sigma_u**2).
def test_linear_kernel_limit_is_the_wide_random_feature_limit_at_a_non_unit_sigma_u():
    with jax.enable_x64(True):
        M, T, N, sigma_u, ridge, noise = 32, 20, 20000, 2.0, 0.5, 0.3
        k1, k2 = jax.random.split(jax.random.PRNGKey(0))
        lam, w, x, y = _teacher_problem(k1, M, T, noise, sigma_u)
        U = rf.sample_projection(k2, N, M, sigma_u, dtype=jnp.float64)
        theta = rf.ridge_solution(rf.features(U, x), y, ridge)
        wide = float(rf.exact_test_loss(theta, U, lam, w, noise))
        limit = float(rf.kernel_limit_loss(x, y, ridge, lam, w, noise, nonlinearity="linear", sigma_u=sigma_u,
                                           key=jax.random.PRNGKey(1), test_samples=0))
    assert limit == pytest.approx(wide, rel=0.02)


# (mutation check) kills: R10 (_relu_kernel / (2 pi) -> / pi), R11 (_relu_kernel drops the sin t term),
# R23 (kernel_limit_loss ReLU: ridge -> ridge * T), R16's ReLU twin (scale sigma_u -> sigma_u**2 ...).
# No existing test checks a value of the ReLU kernel limit. Same data, same fresh test samples
# (same key), so only the predictor differs: N = 20000 ReLU features vs the arc-cosine kernel.
def test_relu_kernel_limit_is_the_wide_random_feature_limit():
    with jax.enable_x64(True):
        M, T, N, sigma_u, ridge, noise = 32, 30, 20000, 2.0, 1.0, 0.3
        k1, k2, kt = jax.random.split(jax.random.PRNGKey(2), 3)
        lam, w, x, y = _teacher_problem(k1, M, T, noise, sigma_u)
        U = rf.sample_projection(k2, N, M, sigma_u, dtype=jnp.float64)
        theta = rf.ridge_solution(rf.features(U, x, "relu"), y, ridge)
        wide = float(rf.sampled_test_loss(lambda xt: rf.features(U, xt, "relu") @ theta, kt, 2000, lam, w, noise))
        limit = float(rf.kernel_limit_loss(x, y, ridge, lam, w, noise, nonlinearity="relu", sigma_u=sigma_u,
                                           key=kt, test_samples=2000))
    assert limit == pytest.approx(wide, rel=0.02)


# (mutation check) kills: R19 (train_loss = mean squared residual / 2). No test checks train_loss's value.
# Teacher switched off (sigma_w tiny), labels pure noise: ridgeless least squares with N < T leaves
# the noise outside an N-dimensional column space, E[train_loss] = noise^2 (T - N) / T = 0.75.
def test_train_loss_is_the_mean_squared_training_residual():
    cfg = RFConfig(M=64, sigma_w=1e-6)
    pts = random_feature_grid(N=[10], T=[40], alpha=[1.0], noise=[1.0], seeds=64)
    train = sweep_random_features(cfg, pts, seed=0, progress=False).column("train_loss")
    assert abs(np.mean(train) - 0.75) < 4 * np.std(train, ddof=1) / np.sqrt(train.size) + 0.01


# (mutation check) kills: R22 (SGD minibatch gradient divided by T instead of the batch size). SGD's minibatch
# gradient must be an unbiased estimate of the full gradient: averaged over keys, one SGD step
# from theta = 0 equals one full-batch GD step. (The sweep test allows SGD 20 % off the ridge
# solution after 4000 steps, which a 4x smaller effective step still meets.)
def test_one_sgd_step_is_the_full_gradient_step_on_average():
    with jax.enable_x64(True):
        kp, ky = jax.random.split(jax.random.PRNGKey(4))
        T, N, lr, ridge = 32, 6, 0.3, 0.2
        phi = jax.random.normal(kp, (T, N), jnp.float64)
        y = jax.random.normal(ky, (T,), jnp.float64)
        step = lambda batch, key: rf.gd_solution(phi, y, ridge, lr, steps=1, batch=batch, log_every=1,  # noqa: E731
                                                 evaluate=lambda th: jnp.sum(th), key=key)[0]
        full = np.asarray(step(T, jax.random.PRNGKey(0)))
        keys = jax.random.split(jax.random.PRNGKey(5), 4000)
        sgd = np.asarray(jax.vmap(lambda k: step(4, k))(keys))
        one_gd_step = np.asarray(lr * (phi.T @ y) / T)
    np.testing.assert_allclose(full, one_gd_step, rtol=1e-9)
    np.testing.assert_allclose(sgd.mean(0), full, atol=5 * sgd.std(0).max() / np.sqrt(len(keys)))


def _regime_records(variance_T: dict | None = None) -> list:
    """The synthetic records of the two regime_exponents tests below (see the first one's comment);
    ``variance_T`` ({T: value}) replaces variance_T's difference (test_loss - loss_infinite_data
    at N = 8) at those T."""
    from toyscale.sweep import Record

    Ns, Ts = [8, 16, 32, 64], [8, 16, 32, 64, 128]
    recs = []
    for i, (n, t) in enumerate((n, t) for n in Ns for t in Ts):
        r = 1.0 if n == 8 else 1.7
        s = 1.0 if t == 8 else 1.6
        # resolution rows: a pure N^-0.5 at T = T_max, a pure T^-0.5 at N = N_max (below T_max)
        test = float(n) ** -0.5 if t == 128 else float(t) ** -0.5 if n == 64 else float(n) ** -0.9 * float(t) ** -0.8
        difference = (variance_T or {}).get(t, float(t) ** -r) if n == 8 else float(t) ** -r
        recs.append(Record(i, {"N": n, "T": t, "ridge": 0.0, "seed": 0}, False,
                           {"test_loss": np.float64(test), "loss_infinite_data": np.float64(test - difference),
                            "distance_kernel_limit": np.float64(float(n) ** -s)}))
    return recs


# (mutation check) kills: G1 (_regime_specs: rN/rT swapped, i.e. min/max caps of the resolution fits exchanged),
# G2 (variance_T fitted at N_max instead of N_small), G3 (resolution_N fitted at T_small instead of
# T_max), G4 (variance_T fits the raw test loss, not test_loss - loss_infinite_data).
# The only existing checks of regime_exponents look at labels and finiteness, not which data a fit
# reads. Synthetic records: each regime is an exact power law only in the row/column/measure the
# regime must use (exponents 0.5, 0.5, 1, 1); anywhere else the exponent is different.
def test_regime_exponents_fit_the_right_row_column_and_measure():
    fits = rf.regime_exponents(_regime_records(), N_max=64, T_max=128, N_small=8, T_small=8, ratio=2.0)
    want = {"resolution_N": ([8, 16, 32, 64], 0.5), "resolution_T": ([8, 16, 32], 0.5),
            "variance_T": ([16, 32, 64, 128], 1.0), "variance_N": ([16, 32, 64], 1.0)}
    for name, (xs, exponent) in want.items():
        x, _, fit = fits[name]
        assert list(x) == xs, name
        assert fit.exponent == pytest.approx(exponent, abs=1e-6), name


# mutant: regime_exponents passed every mean to fit_power_law, whose ValueError on a rounding-level -4e-17 (the
# sign the compiled code gives an exact student's loss; seen with XLA's optimisations off) stopped the
# random-features script after its sweep
@pytest.mark.parametrize("value", [-4e-17, 0.0, np.nan])
def test_a_regime_whose_mean_is_not_positive_has_no_fit_and_the_script_says_where(capsys, value):
    settings = dict(N_max=64, T_max=128, N_small=8, T_small=8, ratio=2.0)
    fits = rf.regime_exponents(_regime_records({32: value}), **settings)
    x, y, fit = fits["variance_T"]
    assert fit is None and list(x) == [16, 32, 64, 128] and not y[1] > 0
    assert fits["variance_N"][2].exponent == pytest.approx(1.0, abs=1e-6)  # (the others as before)
    _experiment("random_features").print_table(fits, settings, 0.5, {k: [] for k in fits}, 4)
    rows = [row for row in capsys.readouterr().out.splitlines() if "n/a" in row]
    assert len(rows) == 1 and rows[0].endswith("n/a: the mean loss is not > 0 at T = 32, so no power law fits; "
                                               "predicted 1"), rows


def _replicated_regime_records(seeds: int = 8, level: float = 0.2, eps: float = 0.005) -> list:
    """``_regime_records`` at ``seeds`` seeds, each seed's values scaled by a level of its own
    (shared across the sizes, as models that share their draws across N and T are) and a little
    noise of each model's own."""
    from toyscale.sweep import Record

    rng = np.random.default_rng(0)
    shift = rng.normal(0.0, level, seeds)
    recs = []
    for r in _regime_records():
        for k in range(seeds):
            scale = np.exp(shift[k] + rng.normal(0.0, eps, 3))
            out = r.outputs
            difference = out["test_loss"] - out["loss_infinite_data"]
            test = out["test_loss"] * scale[0]
            recs.append(Record(len(recs), dict(r.point, seed=k), False, {
                "test_loss": test, "loss_infinite_data": test - difference * scale[1],
                "distance_kernel_limit": out["distance_kernel_limit"] * scale[2]}))
    order = rng.permutation(len(recs))  # (each size's seeds in an order of its own: pairing goes by seed)
    return [recs[i] for i in order]


# mutants: seed_bootstrap ignored; common_across ignored (every fit redrawn unpaired); widen not passed on
def test_regime_exponents_redraw_the_seeds_and_pair_them_along_the_sizes_that_share_draws():
    from toyscale.fitting import fit_power_law

    settings = dict(N_max=64, T_max=128, N_small=8, T_small=8, ratio=2.0)
    records = _replicated_regime_records()
    plain = rf.regime_exponents(records, **settings)
    redrawn = rf.regime_exponents(records, **settings, seed_bootstrap=400)
    paired = rf.regime_exponents(records, **settings, seed_bootstrap=400, common_across=("N",))
    for name, (x, y, fit) in plain.items():
        # the fit itself is fit_power_law's on the means, with or without the redraws
        assert fit.exponent == pytest.approx(fit_power_law(x, y).exponent, rel=1e-12)
        assert fit.resampled != "seeds"  # (no redraws asked for)
        for fits in (redrawn, paired):
            assert fits[name][2].exponent == fit.exponent and fits[name][2].resampled == "seeds"
            lo, hi = fits[name][2].intervals["exponent"]
            assert lo < fit.exponent < hi, name

    def width(fits, name):
        lo, hi = fits[name][2].intervals["exponent"]
        return hi - lo

    # along N (listed), the seeds' shared level cancels in the exponent: the paired interval is many times
    # narrower; along T (not listed) both redraw each size's seeds on their own, identically
    for name in ("resolution_N", "variance_N"):
        assert width(paired, name) < 0.2 * width(redrawn, name), name
        assert "redraw the seeds together at every size (8 seeds, 400 times)" in paired[name][2].notes[-1]
    for name in ("resolution_T", "variance_T"):
        assert width(paired, name) == width(redrawn, name), name
    with pytest.raises(ValueError, match="seed_bootstrap=-1"):
        rf.regime_exponents(records, **settings, seed_bootstrap=-1)
    with pytest.raises(ValueError, match="Q"):
        rf.regime_exponents(records, **settings, seed_bootstrap=400, common_across=("Q",))
    # widen="t" reaches every fit: each interval the redrawn one, wider, its note giving its degrees of freedom
    # (paired: the 8 seeds', 7)
    wide = rf.regime_exponents(records, **settings, seed_bootstrap=400, common_across=("N",), widen="t")
    for name in plain:
        assert width(wide, name) > width(paired, name) and "degrees of freedom" in wide[name][2].notes[-1], name
    assert "on 7 degrees of freedom (8 seeds redrawn together" in wide["resolution_N"][2].notes[-1]
    with pytest.raises(ValueError, match="widen='t' without seed_bootstrap"):
        rf.regime_exponents(records, **settings, widen="t")
    with pytest.raises(ValueError, match="widen='T'"):
        rf.regime_exponents(records, **settings, seed_bootstrap=400, widen="T")


# mutants: a size with one model redrawn, or left without intervals (the script's summary failed on them), or named
# "m =" (the regime fits pass their axis to width_exponent); too few sizes passed to the fit
def test_regime_exponents_leave_out_what_diverged_models_cannot_give_and_the_script_says_why(capsys):
    import dataclasses

    from toyscale.scaling import redrawn_seeds_text

    settings = dict(N_max=64, T_max=128, N_small=8, T_small=8, ratio=2.0)

    def diverged(r):  # variance_N (T = 8): all but seed 0 at N = 32; variance_T (N = 8): everything at T >= 32
        p = r.point
        return (p["T"] == 8 and p["N"] == 32 and p["seed"] != 0) or (p["N"] == 8 and p["T"] >= 32)

    records = [dataclasses.replace(r, diverged=True) if diverged(r) else r for r in _replicated_regime_records()]
    fits = rf.regime_exponents(records, **settings, seed_bootstrap=400)
    x, _, fit = fits["variance_N"]
    assert list(x) == [16, 32, 64] and np.isfinite(fit.exponent) and np.isnan(fit.intervals["exponent"]).all()
    assert redrawn_seeds_text(fit) == (", no interval over redrawn seeds (N = 32 has one model (the others "
                                       "diverged or were not swept), whose seed noise redrawing cannot see; the fit "
                                       "and fit.t_interval() still hold, or a fit over the replicated sizes only "
                                       "has an interval)")
    paired = rf.regime_exponents(records, **settings, seed_bootstrap=400, common_across=["N"])["variance_N"][2]
    assert redrawn_seeds_text(paired) == redrawn_seeds_text(fit)  # (paired too: the same reason, not "0 seed(s) ...")
    assert paired.notes[-1].startswith("no paired") and fit.notes[-1].startswith("no seed-bootstrap")
    x, y, fit = fits["variance_T"]
    assert list(x) == [16] and fit is None
    assert fits["resolution_N"][2].resampled == "seeds"  # (the others redrawn as before)
    _experiment("random_features").print_table(fits, settings, 0.5, {k: [] for k in fits}, 4)
    rows = [row for row in capsys.readouterr().out.splitlines() if "n/a" in row]
    assert len(rows) == 1 and rows[0].endswith("n/a: 1 size(s) with a finished model (the other sizes' models "
                                               "diverged), and a line needs 2, so no power law fits; predicted 1"), rows


# (mutation check) kills: R2 (spectrum index I = 2..M+1 instead of 1..M: the top mode dropped) and its theory twin
# T2 directly. The theory-vs-simulation test (4 % + 3 s.e.) did NOT catch R2; only
# test_relu_moments_match_monte_carlo failed, by accident of its tolerance. Also pins simulation
# and theory to one spectrum: kernel_eigenvalues = sigma_u^2 lambda_I / M.
def test_spectrum_is_scale_times_I_to_the_minus_1_plus_alpha_from_I_equal_1():
    from toyscale import theory

    lam = np.asarray(rf.spectrum(5, 1.0, 3.0, jnp.float32))
    np.testing.assert_allclose(lam, 3.0 * np.arange(1, 6) ** -2.0, rtol=1e-6)
    cfg = RFConfig(M=16, sigma_u=2.0, lambda_plus=5.0)
    np.testing.assert_allclose(theory.kernel_eigenvalues(cfg, 0.5),
                               4.0 * np.asarray(rf.spectrum(16, 0.5, 5.0, jnp.float32)) / 16, rtol=1e-6)


# (mutation check) kills: R24 (_svd_solve, the float32 path of ridge_solution: ridge -> 2 * ridge). The existing
# test_ridge_solution_equals_a_direct_least_squares_solve runs in float64 only, which takes the eigh path;
# every float32 caller (ridge_solution on a float32 phi) gets a different ridge than asked.
@pytest.mark.parametrize("T,N", [(40, 12), (12, 40)])
def test_float32_ridge_solution_is_the_ridge_solution(T, N):
    kx, ky = jax.random.split(jax.random.PRNGKey(6))
    phi = jax.random.normal(kx, (T, N), jnp.float32)
    y = jax.random.normal(ky, (T,), jnp.float32)
    ridge = 0.3
    p, t = np.asarray(phi, np.float64), np.asarray(y, np.float64)
    want = np.linalg.solve(p.T @ p + ridge * np.eye(N), p.T @ t)
    np.testing.assert_allclose(np.asarray(rf.ridge_solution(phi, y, ridge)), want, rtol=1e-3, atol=1e-5)


# ----------------------------------------------------------------------------- analysis helpers no test had pinned
# (a second hand mutation run, 2026-12-05, over loss_curve .. ridge_tuned and the scripts' helpers: each test
# below fails on the mutants it names; benchmarks/RESULTS.md, twenty-fifth session, counts the run)


# (mutation check) kills: A1 (diverged records averaged in), A2 (sem with ddof=0), A3 (means in first-seen order
# beside sorted x), A4 (median for mean). The one loss_curve value check (test_selection) has two seeds per x,
# x given in order and nothing diverged.
def test_loss_curve_is_the_mean_and_standard_error_of_the_surviving_replicates_sorted_by_x():
    from toyscale.sweep import Record

    losses = {32: [1.0, 2.0, 6.0], 8: [4.0, 5.0, 9.0], 64: [0.5]}  # (the larger N first)
    recs = [Record(0, {"N": 8, "T": 16, "ridge": 0.0, "seed": 9}, True, {"test_loss": np.float64(1e30)})]
    for n, ys in losses.items():
        recs += [Record(len(recs), {"N": n, "T": 16, "ridge": 0.0, "seed": s}, False, {"test_loss": np.float64(y)})
                 for s, y in enumerate(ys)]
    x, mean, sem = rf.loss_curve(recs, "N", T=16)
    assert x.tolist() == [8.0, 32.0, 64.0]
    np.testing.assert_allclose(mean, [6.0, 3.0, 0.5])
    # sample standard deviation over sqrt(replicates): [4, 5, 9] and [1, 2, 6] both have variance 7; one replicate 0
    np.testing.assert_allclose(sem, [np.sqrt(7 / 3), np.sqrt(7 / 3), 0.0])


# (mutation check) kills: C1 (replicates / (N T) for / sqrt(N T)), C2 (infinite_data only for N < limit_size),
# C4 (max_min_size kept only min(N, T) < it); also C3 (kernel_limit keyed on N), which only the smoke fixture's
# failure caught. The existing grid tests run with max_replicates=1 and never look at the limit flags.
def test_regime_grid_replicates_each_shape_by_its_size_and_flags_the_cheap_limits():
    from collections import Counter

    pts = rf.regime_grid(alpha=0.5, sizes=[4, 16, 64], rows=[4, 64], columns=[4, 64], replicates=64, min_replicates=2,
                         max_replicates=8, limit_size=4, max_min_size=16)
    # 64 / sqrt(N T), clipped to [2, 8]; N = T = 64 left out (both above max_min_size), N = 64, T = 16 kept
    want = {(4, 4): 8, (4, 16): 8, (16, 4): 8, (4, 64): 4, (64, 4): 4, (16, 64): 2, (64, 16): 2}
    assert Counter((p["N"], p["T"]) for p in pts) == want
    for p in pts:
        assert p["seed"] < want[p["N"], p["T"]] and p["ridge"] == 0.0
        assert p["infinite_data"] == (p["N"] <= 4) and p["kernel_limit"] == (p["T"] <= 4), p


# (mutation check) kills: D1 (a smallest row equal to limit_size refused), E1 (resolution_N's label names
# N_max / ratio), E2 (variance_N's label names N_small as its T), E3 (variance_N keeps N >= ratio N_small).
# The labels were only seen through the smoke preset, where N_max = T_max and N_small = T_small.
def test_regime_labels_name_each_fits_own_fixed_size_and_bound():
    settings = rf.regime_fit_settings(rows=[64, 8], columns=[128, 4], ratio=2, limit_size=8)  # (8: the smallest row)
    assert rf.regime_labels(**settings) == {
        "resolution_N": "resolution-limited in N (T = 128, N ≤ 64)",
        "resolution_T": "resolution-limited in T (N = 64, T ≤ 32)",
        "variance_T": "variance-limited in T (N = 8, T ≥ 16)",
        "variance_N": "variance-limited in N (T = 4, N ≥ 8)"}
    # and the fits keep what the labels say: variance_N from N = ratio T_small = 8 on
    recs = rf.regime_grid(alpha=0.5, sizes=[4, 8, 16, 32, 64, 128], rows=[8, 64], columns=[4, 128], replicates=1,
                          min_replicates=1, max_replicates=1)
    rf.check_regime_fits(recs, **settings)
    from toyscale.sweep import Record

    records = [Record(i, p, False, {"test_loss": np.float64(p["N"] ** -0.5 + p["T"] ** -0.5),
                                    "loss_infinite_data": np.float64(p["N"] ** -0.5),
                                    "distance_kernel_limit": np.float64(p["N"] ** -1.0)}) for i, p in enumerate(recs)]
    fits = rf.regime_exponents(records, **settings)
    assert fits["variance_N"][0].tolist() == [8, 16, 32, 64, 128]
    assert fits["variance_N"][2].exponent == pytest.approx(1.0, abs=1e-9)


# (mutation check) kills: G1 (ridged points counted as sizes of a fit, which is ridgeless); also G2 (exactly
# min_sizes sizes refused) and G3 (default min_sizes 2, not the documented 3) directly, which before only the
# smoke fixture's failure and the ratio-16 refusal caught.
def test_check_regime_fits_counts_ridgeless_sizes_and_needs_three():
    settings = rf.regime_fit_settings(rows=[8, 64], columns=[8, 64], ratio=2)
    three = rf.regime_grid(alpha=0.5, sizes=[8, 16, 32, 64], rows=[8, 64], columns=[8, 64], replicates=1,
                           min_replicates=1, max_replicates=1)
    rf.check_regime_fits(three, **settings)  # 3 sizes in each fit: enough
    two = [p for p in three if 32 not in (p["N"], p["T"])]
    with pytest.raises(ValueError, match=r"the resolution_N fit \(along N at T = 64\) would get 2 size\(s\) "
                                         r"\[8, 16\]; it needs at least 3"):
        rf.check_regime_fits(two, **settings)
    ridged = [{**p, "ridge": 0.1} if (p["N"], p["T"]) == (16, 64) else p for p in three]
    with pytest.raises(ValueError, match=r"the resolution_N fit .* would get 2 size\(s\) \[8, 32\]"):
        rf.check_regime_fits(ridged, **settings)


# (mutation check) kills: I1 (a size 0 let through to the theory). The docstring: sizes must be integers >= 1.
def test_regime_zero_theory_sizes_refuses_a_size_below_1():
    settings = rf.regime_fit_settings(rows=[8, 64], columns=[8, 64], ratio=2)
    fits = {name: (np.array([8.0, 16.0]), None, None) for name in rf.regime_labels(**settings)}
    with pytest.raises(ValueError, match=r"fits\['resolution_N'\] has sizes \[0.0, 16.0\]; a fit's sizes .* >= 1"):
        rf.regime_zero_theory_sizes(RFConfig(M=16), 0.5, fits | {"resolution_N": (np.array([0.0, 16.0]), None, None)},
                                    **settings)


def _agreement_many():
    # three compared points near the peak (10%, 50%, 20%) and one far (60%); two of theory 0, three of an
    # infinite theory (one with a NaN mean: still "infinite", the theory's reason first) and one ridgeless
    # point beside the peak
    points = [{"N": n, "T": t, "ridge": r} for n, t, r in (
        (16, 24, 0.1), (16, 20, 0.1), (20, 16, 0.1), (8, 32, 0.1), (64, 16, 0.0), (128, 16, 0.0), (16, 16, 0.0),
        (32, 32, 0.0), (24, 24, 0.0), (33, 32, 0.0))]
    mean = np.array([0.33, 0.45, 0.36, 0.32, 1e-12, 3e-12, 50.0, 80.0, np.nan, 171.0])
    theory = np.array([0.3, 0.3, 0.3, 0.2, 0.0, 0.0, np.inf, np.inf, np.inf, 2.2])
    return points, mean, theory


# (mutation check) kills: L1 (left_out's "infinite" counts the finite-size peak too), L2 / L3 (the _all
# median / max over the far points only), L4 (median_near a mean), L5 (max_near a min), L6 (the near
# clause prints the max over every point), M5 (zero_sim_max a min), M6 (infinite_sim_min a max), M7 (a
# NaN mean at an infinite theory also counted as sim_nonfinite). The existing cases have one near point,
# one finite mean at a theory of 0 and one at an infinite theory.
def test_theory_agreement_summary_and_line_over_several_points_of_each_kind():
    points, mean, theory = _agreement_many()
    a = rf.theory_agreement(points, mean, None, theory)
    where = lambda mask: np.flatnonzero(mask).tolist()  # noqa: E731
    np.testing.assert_array_equal(np.stack([a.compared, a.zero, a.infinite, a.sim_nonfinite]).sum(axis=0), 1)
    assert where(a.near) == [0, 1, 2] and where(a.far) == [3] and where(a.sim_nonfinite) == []
    rel = np.abs(mean[:4] / theory[:4] - 1)  # 0.1, 0.5, 0.2, 0.6
    assert a.median_near == pytest.approx(np.median(rel[:3])) == pytest.approx(0.2)
    assert a.max_near == pytest.approx(0.5)
    assert a.summary() == pytest.approx({
        "theory_rel_error_median": 0.6, "theory_rel_error_max": 0.6, "theory_points": 1,
        "theory_rel_error_median_all": np.median(rel), "theory_rel_error_max_all": 0.6, "theory_points_all": 4,
        "theory_points_zero": 2, "theory_points_infinite": 3, "theory_points_finite_size_peak": 1,
        "theory_points_sim_nonfinite": 0})
    assert a.zero_sim_max == 3e-12 and a.infinite_sim_min == 50.0 and a.finite_size_peak_sim_min == 171.0
    line = a.describe(16)
    assert "; 20.0% (max 50.0%) over the 3 nearer the N = T peak" in line, line
    assert "the simulated loss there at most 3e-12" in line and "the simulated loss there at least 50;" in line, line
    assert "; 3 point(s) left out where the theory's loss is infinite" in line and "NaN or infinite" not in line
    # a factor 5 puts 8 x 32 nearer the peak too: nothing is far, the _all values are every compared point's
    near = rf.theory_agreement(points, mean, None, theory, off_peak=5).summary()
    assert near["theory_rel_error_max"] is None and near["theory_points"] == 0
    assert near["theory_rel_error_max_all"] == pytest.approx(0.6) and near["theory_points_all"] == 4


# ----------------------------------------------------------------------------- model core, a third review
# (a hand mutation run over the argument checks, the model's pieces, _model and the sweep task: each test below
# fails on a small change to the code it names and passes on this one)


def test_lambda_plus_defaults_to_M_so_the_kernel_eigenvalues_and_target_power_start_at_1():
    # the module's convention: with lambda_plus None the spectrum is M I^-(1+alpha), so sigma_u^2 lambda_I / M and
    # sigma_w^2 lambda_I / M are I^-(1+alpha) at any M; theory reads the same scale, so only a direct check sees it
    from toyscale import theory

    for M in (8, 64):
        cfg = RFConfig(M=M)
        assert cfg.scale == float(M) and RFConfig(M=M, lambda_plus=3.0).scale == 3.0
        np.testing.assert_allclose(theory.kernel_eigenvalues(cfg, 0.5), np.arange(1, M + 1) ** -1.5, rtol=1e-6)
        np.testing.assert_allclose(theory.target_power(cfg, 0.5), np.arange(1, M + 1) ** -1.5, rtol=1e-6)


def test_teacher_features_and_data_have_the_documented_laws():
    # w ~ Normal(0, sigma_w^2 / M), U ~ Normal(0, sigma_u^2 / M) (M, not N), x ~ Normal(0, diag(lam)) and label noise
    # of standard deviation noise drawn apart from x; every other check runs at sigma = 1, where sigma^2 = sigma,
    # or scale-free (a ridgeless fit does not see U's scale). Tolerances are 5 standard errors of the estimates.
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(7), 3)
    M = 2048
    w = np.asarray(rf.sample_teacher(k1, M, sigma_w=3.0), np.float64)
    assert abs(np.sum(w**2) - 9.0) < 5 * 9.0 * np.sqrt(2 / M)  # sum of M chi^2_1 terms, each 9 / M
    U = np.asarray(rf.sample_projection(k2, 64, 256, sigma_u=2.0), np.float64)
    assert U.shape == (64, 256) and abs(np.mean(U**2) * 256 / 4.0 - 1) < 5 * np.sqrt(2 / U.size)
    T, lam, w8 = 20000, rf.spectrum(8, 1.0, 8.0), rf.sample_teacher(k1, 8)
    x, y = (np.asarray(a, np.float64) for a in rf.sample_data(k3, T, lam, w8, 3.0))
    np.testing.assert_allclose(np.var(x, axis=0) / np.asarray(lam), 1.0, atol=5 * np.sqrt(2 / T))
    eps = (y - x @ np.asarray(w8, np.float64)) / 3.0
    assert abs(np.var(eps) - 1) < 5 * np.sqrt(2 / T)
    z = (x / np.sqrt(np.asarray(lam, np.float64))).ravel()[:T]  # the data's own standard normal draws, in order
    assert abs(np.corrcoef(eps, z)[0, 1]) < 5 / np.sqrt(T)


@pytest.mark.parametrize("call, error, match", [
    (lambda: RFConfig(M=8, log_every=0), ValueError, "log_every=0; must be an integer >= 1"),
    (lambda: rf.spectrum(8, 0.0), ValueError, "alpha=0.0; alpha must be finite > 0"),
    (lambda: rf.features(jnp.ones((3, 4)), jnp.ones((2, 4)), "tanh"), ValueError, "nonlinearity='tanh'; allowed"),
    (lambda: rf.gd_solution(jnp.eye(4)[:, :3], jnp.ones(4), 0.0, 0.0, steps=2, batch=4, log_every=1,
                            evaluate=jnp.sum, key=None), ValueError, "lr=0.0; lr must be finite > 0"),
    (lambda: check_point({"N": 4, "T": 8, "alpha": 1.0, "kernel_limit": 1}), ValueError,
     "kernel_limit=1; kernel_limit must be True or False"),
    (lambda: check_point({"N": 4, "T": 8, "alpha": 1.0, "seed": -1}), ValueError, "seed=-1; must be an integer >= 0"),
    (lambda: random_feature_grid(N=[4], T=[8], alpha=[0.5], seeds=0), ValueError,
     "seeds=0; a grid needs at least one seed"),
])
def test_arguments_the_model_cannot_use_are_named_before_anything_runs(call, error, match):
    # log_every = 0 had reached divmod (ZeroDivisionError), alpha = 0 a flat spectrum the docs exclude, 'tanh' linear
    # features, lr = 0 a run that never moves, an int flag a non-bool in the model's key
    with pytest.raises(error, match=re.escape(match)):
        call()


def test_a_relu_kernel_limit_without_test_samples_is_nan():
    # as its docstring says (sampled_test_loss refuses n = 0)
    loss = rf.kernel_limit_loss(jnp.ones((4, 8)), jnp.ones(4), 0.1, jnp.ones(8), jnp.ones(8), 0.0, nonlinearity="relu",
                                sigma_u=1.0, key=jax.random.PRNGKey(0), test_samples=0)
    assert np.isnan(float(loss))


def test_gd_steps_equal_to_log_every_are_enough():
    # the loss curve needs steps >= log_every: exactly log_every steps log one point
    cfg = RFConfig(M=8, log_every=10)
    out = train_random_features(cfg, {"N": 2, "T": 4, "alpha": 1.0, "method": "gd", "steps": 10, "lr": 0.1},
                                key=jax.random.PRNGKey(0))
    assert out["loss_curve"].shape == (1,)


def _sgd_problem(T=32, N=6):
    kp, ky = jax.random.split(jax.random.PRNGKey(4))
    return jax.random.normal(kp, (T, N), jnp.float64), jax.random.normal(ky, (T,), jnp.float64)


def test_two_sgd_steps_are_two_full_gradient_steps_on_average_with_the_ridge_as_in_the_full_objective():
    # E[theta_2] of SGD from 0 (minibatches drawn with replacement, fresh each step) is two full-batch steps on
    # (|phi theta - y|^2 + ridge |theta|^2) / 2T: the ridge term is ridge theta / T whatever the batch, each step
    # draws from all T samples and draws anew. (One step from theta = 0 cannot see the ridge: ridge * 0.)
    with jax.enable_x64(True):
        phi, y = _sgd_problem()
        T, lr, ridge = phi.shape[0], 0.3, 8.0
        run = lambda batch, key: rf.gd_solution(phi, y, ridge, lr, steps=2, batch=batch, log_every=1,  # noqa: E731
                                                evaluate=jnp.sum, key=key)[0]
        full = np.asarray(run(T, None))
        sgd = np.asarray(jax.jit(jax.vmap(lambda k: run(4, k)))(jax.random.split(jax.random.PRNGKey(5), 4000)))
        P, Y = np.asarray(phi), np.asarray(y)
        theta = np.zeros(P.shape[1])
        for _ in range(2):
            theta = theta - lr * (P.T @ (P @ theta - Y) + ridge * theta) / T
    np.testing.assert_allclose(full, theta, rtol=1e-9)
    np.testing.assert_allclose(sgd.mean(0), full, atol=5 * sgd.std(0).max() / np.sqrt(len(sgd)))


def test_the_sgd_trajectory_and_its_loss_curve_do_not_depend_on_log_every():
    # step t draws its minibatch from fold_in(key, t) with t counted over the whole run (across blocks and the
    # remainder after the last block), every step is taken, and the curve records the loss at the end of each block
    with jax.enable_x64(True):
        phi, y = _sgd_problem()
        key = jax.random.PRNGKey(9)
        loss = lambda th: jnp.sum((phi @ th - y) ** 2)  # noqa: E731
        run = lambda steps, log_every: rf.gd_solution(phi, y, 0.1, 0.05, steps=steps, batch=4,  # noqa: E731
                                                      log_every=log_every, evaluate=loss, key=key)
        each, curve_each = run(7, 1)
        theta, curve = run(7, 2)  # three blocks of two and a remainder of one
        np.testing.assert_allclose(theta, each, rtol=1e-12)
        np.testing.assert_allclose(curve, curve_each[1:6:2], rtol=1e-12)
        np.testing.assert_allclose(curve_each[-1], loss(each), rtol=1e-12)


@pytest.mark.compiled_as_users_do
def test_the_sampled_test_loss_is_on_fresh_samples_not_the_training_set():
    # an interpolating model (N > T, ridgeless, noisy labels) has train loss 0 and test loss ~1: test samples drawn
    # from the training data's key would repeat the training set (draws of one key share their first rows) and
    # read ~0. Unbiased on fresh samples: the mean difference lies within 4 standard errors of 0.
    res = sweep_random_features(RFConfig(M=32, test_samples=16), random_feature_grid(
        N=[64], T=[16], alpha=[0.5], noise=[0.5], seeds=8), progress=False)
    diff = res.column("test_loss_sampled") - res.column("test_loss")
    assert np.all(res.column("train_loss") < 1e-20)
    assert abs(np.mean(diff)) < 4 * np.std(diff, ddof=1) / np.sqrt(diff.size)


def test_float32_ridgeless_solution_of_a_rank_deficient_design_is_the_minimum_norm_one():
    # N = 16 features of M = 8 latent coordinates have rank 8: the float32 SVD solve must drop the 8 singular values
    # at rounding level (its cut-off is relative to the largest), as float64 lstsq does
    k, lam, w, U, x, y = _small_model(M=8, N=16, T=32)
    phi = rf.features(U, x)
    theta = np.asarray(rf.ridge_solution(phi, y, 0.0), np.float64)
    want = np.linalg.lstsq(np.asarray(phi, np.float64), np.asarray(y, np.float64), rcond=1e-5)[0]
    np.testing.assert_allclose(theta, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_the_linear_kernel_limit_loss_carries_the_label_noise():
    # a test loss is E[(f(x) - y)^2] with noisy y: never below noise^2. With T = 64 >> M = 8 the kernel limit's
    # excess over that floor is ~noise^2 M / T, so a kernel-limit loss without the noise term would read ~0.1 (the
    # N = 4 < M = 8 student's test loss adds the teacher power its 4 features miss, under 0.5 here)
    res = sweep_random_features(RFConfig(M=8), random_feature_grid(N=[4], T=[64], alpha=[1.0], noise=[1.0], seeds=2,
                                                                   kernel_limit=True), progress=False)
    for loss in (res.column("loss_kernel_limit"), res.column("test_loss")):
        assert np.all((loss >= 1.0) & (loss < 1.5)), loss


@pytest.mark.parametrize("point", [dict(N=512, T=8, infinite_data=True),
                                   dict(N=512, T=8, infinite_data=True, nonlinearity="relu"),
                                   dict(N=8, T=256, kernel_limit=True, nonlinearity="relu")])
def test_the_memory_prediction_counts_the_limits_square_matrices(point):
    # infinite data eigendecomposes an N x N population moment (ReLU; linear, least squares on the [M, N] factor,
    # min(N, M)^2), the ReLU kernel limit (with test samples) a T x T
    # kernel: at N (or T) well above M and the other size, these dominate what XLA holds (the checks beside them
    # have N, T <= 96 there)
    _assert_memory_bound(RandomFeatureTask(RFConfig(M=32, test_samples=100, log_every=10)), point)


@pytest.mark.parametrize("test_samples, point", [(100, dict(N=32, T=1024, kernel_limit=True)),
                                                 (0, dict(N=32, T=1024, kernel_limit=True, nonlinearity="relu"))])
def test_the_memory_prediction_charges_each_kernel_limit_only_what_it_computes(test_samples, point):
    # the ReLU limit's T x T kernel had been charged to the linear limit (a ridge solve on x [T, M]: 15x what XLA
    # holds here) and to a ReLU limit without test samples (NaN, nothing computed: 26x), so chunks came out smaller
    _assert_memory_bound(RandomFeatureTask(RFConfig(M=64, test_samples=test_samples, log_every=10)), point)


# ----------------------------------------------------------------------------- common random numbers (common_across)


# mutants: rows drawn from the key itself (not fold_in of the row); nested ignored for the labels' noise
def test_nested_draws_extend_a_smaller_draw_row_by_row():
    key = jax.random.PRNGKey(4)
    U4, U9 = (rf.sample_projection(key, n, 16, 2.0, nested=True) for n in (4, 9))
    np.testing.assert_array_equal(U9[:4], U4)
    assert not np.array_equal(rf.sample_projection(key, 9, 16, 2.0)[:4], U4)  # (the plain draw is another)
    lam, w = rf.spectrum(16, 0.5, 16.0), rf.sample_teacher(jax.random.PRNGKey(1), 16)
    (x3, y3), (x8, y8) = (rf.sample_data(key, t, lam, w, 0.3, nested=True) for t in (3, 8))
    np.testing.assert_array_equal(x8[:3], x3)
    np.testing.assert_allclose(y8[:3], y3, rtol=1e-6)
    # each row is still a Normal(0, sigma_u^2 / M) draw: 4000 x 16 entries
    big = np.asarray(rf.sample_projection(key, 4000, 16, 2.0, nested=True))
    assert abs(big.std() - 2.0 / 4.0) < 0.005 and abs(big.mean()) < 0.005


# mutants: the model drawing from its own key (common key ignored); U or x not nested; the config's field left out
# of the sweep fingerprint
@pytest.mark.compiled_as_users_do
def test_common_across_width_shares_the_teacher_and_data_and_nests_the_features():
    cfg = RFConfig(M=64, common_across=("N",))
    points = random_feature_grid(N=[4, 64], T=[32], alpha=[1.0], seeds=2, kernel_limit=True, infinite_data=True)
    res = sweep_random_features(cfg, points, seed=3, progress=False)
    by_seed = {s: [r for r in res if r["seed"] == s] for s in (0, 1)}
    for s, rs in by_seed.items():
        # the kernel limit (N -> inf on the same data) is one number per seed: one teacher and data set for all N
        assert len({float(r["loss_kernel_limit"]) for r in rs}) == 1
    assert float(by_seed[0][0]["loss_kernel_limit"]) != float(by_seed[1][0]["loss_kernel_limit"])
    # nested features: the N = 4 model's infinite-data loss is that of the N = 64 model's first 4 features
    key = common_key(3, points[0], RandomFeatureTask(cfg))
    with jax.enable_x64(True):
        lam = jnp.asarray(rf._inputs(cfg, points[0])["spectrum"]).astype(jnp.float64)
        w = rf.sample_teacher(jax.random.fold_in(key, 0), 64).astype(jnp.float64)
        U = rf.sample_projection(jax.random.fold_in(key, 1), 64, 64, nested=True)[:4].astype(jnp.float64)
        loss = rf.exact_test_loss(rf.infinite_data_solution(U, lam, w), U, lam, w, 0.0)
    np.testing.assert_allclose(res[0]["loss_infinite_data"], loss, rtol=1e-9)
    alone = train_random_features(cfg, points[3], key=model_key(3, points[3], RandomFeatureTask(cfg)),
                                  common_key=common_key(3, points[3], RandomFeatureTask(cfg)))
    for name in ("test_loss", "loss_kernel_limit", "loss_infinite_data"):
        np.testing.assert_allclose(res[3][name], alone[name], rtol=1e-6, err_msg=name)
    assert RandomFeatureTask(cfg).config()["common_across"] == ["N"]
    assert "common_across" not in RandomFeatureTask(RFConfig(M=64)).config()  # (old folders' fingerprint)


# mutant: the training samples not nested in the model (a T = 8 model's data not the first 8 of a T = 16 model's)
def test_common_across_sample_count_trains_on_the_first_samples_of_a_larger_set():
    cfg = RFConfig(M=16, common_across=("T",))
    points = random_feature_grid(N=[4], T=[8, 16], alpha=[1.0], ridge=[0.1], kernel_limit=True)
    res = sweep_random_features(cfg, points, seed=2, progress=False)
    key = common_key(2, points[0], RandomFeatureTask(cfg))
    assert np.array_equal(key, common_key(2, points[1], RandomFeatureTask(cfg)))
    with jax.enable_x64(True):
        lam32 = jnp.asarray(rf._inputs(cfg, points[0])["spectrum"])
        w32 = rf.sample_teacher(jax.random.fold_in(key, 0), 16)
        x, y = (a[:8].astype(jnp.float64) for a in rf.sample_data(jax.random.fold_in(key, 2), 16, lam32, w32, 0.0,
                                                                   nested=True))
        beta = rf.kernel_limit_weights(x, y, 0.1, sigma_u=1.0)
        lam, w = lam32.astype(jnp.float64), w32.astype(jnp.float64)
        loss = jnp.sum(lam * (w - beta) ** 2)
    np.testing.assert_allclose(res[0]["loss_kernel_limit"], loss, rtol=1e-6)  # (y = x @ w in float32)
    assert not np.isclose(res[1]["loss_kernel_limit"], loss, rtol=1e-3)  # (16 samples fit otherwise)


# mutants: the ReLU kernel limit's test draws or SGD's minibatches from the model's own key under common_across
@pytest.mark.compiled_as_users_do
def test_common_draws_reach_the_relu_kernel_limit_and_the_minibatches():
    cfg = RFConfig(M=16, test_samples=64, common_across=("N",))
    pts = random_feature_grid(N=[4, 8], T=[8], alpha=[1.0], ridge=[0.1], nonlinearity="relu", kernel_limit=True)
    res = sweep_random_features(cfg, pts, progress=False)
    assert res[0]["loss_kernel_limit"] == res[1]["loss_kernel_limit"]
    assert res[0]["test_loss_sampled"] != res[1]["test_loss_sampled"]  # (the features differ)
    cfg = RFConfig(M=16, log_every=5, common_across=("steps",))
    pts = [p for steps in (10, 20)
           for p in random_feature_grid(N=[4], T=[8], alpha=[1.0], method="gd", steps=steps, lr=0.5, batch=4)]
    short, long = sweep_random_features(cfg, pts, progress=False)
    np.testing.assert_array_equal(long["loss_curve"][:2], short["loss_curve"])  # the same 10 first minibatches


# mutants: the label kept in the common identity; full-batch gd spelled batch = T there
def test_labels_and_full_batch_at_another_sample_count_share_the_common_key():
    task = RandomFeatureTask(RFConfig(M=8, common_across=("N", "T")))
    base = {"N": 4, "T": 8, "alpha": 1.0, "method": "gd", "steps": 3, "lr": 0.1}
    key = common_key(0, base, task)
    for other in ({**base, "label": "narrow"}, {**base, "N": 8, "T": 16, "label": "wide"}, {**base, "batch": 8}):
        np.testing.assert_array_equal(common_key(0, other, task), key, err_msg=str(other))
    assert not np.array_equal(common_key(0, {**base, "T": 16, "batch": 8}, task), key)  # (minibatches of 8 of 16)
    assert not np.array_equal(common_key(0, {**base, "lr": 0.2}, task), key)


def test_common_across_is_checked_and_reads_back_from_json():
    assert RFConfig(M=8, common_across="N").common_across == ("N",)
    cfg = RFConfig(M=8, common_across=["ridge", "N"])
    assert cfg.common_across == ("N", "ridge") and hash(cfg)  # (a static argument of the compiled model)
    assert cfg == RFConfig(M=8, common_across=("N", "ridge"))  # (one order: one sweep fingerprint)
    assert RFConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    for bad, error, match in [(("seed",), ValueError, r"'seed' is not one \(seed sets the replicate"),
                              (("kernel_limit",), ValueError, "a flag that only adds measurements never keys"),
                              (("steps", "method"), ValueError, r"=\('steps', 'method'\) lists 'method' without"),
                              (("N", "N"), ValueError, "a name is repeated"),
                              (("width",), ValueError, r"from N, T, alpha, .*: 'width' is not one"),
                              ((1,), TypeError, r"common_across=\(1,\); common_across must be a tuple")]:
        with pytest.raises(error, match=match):
            RFConfig(M=8, common_across=bad)
    p = {"N": 4, "T": 8, "alpha": 1.0}
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match=r"common_key=None; config.common_across=\('N',\)"):
        train_random_features(RFConfig(M=8, common_across=("N",)), p, key=key)
    with pytest.raises(ValueError, match="common_key is given but config.common_across is empty"):
        train_random_features(RFConfig(M=8), p, key=key, common_key=key)
    task = RandomFeatureTask(RFConfig(M=8, common_across=("N",)))
    with pytest.raises(TypeError, match=r"key=.*; with RFConfig.common_across=\('N',\) a model takes the pair"):
        task.model_fn(task.static_of(p), task.inputs_of(p), key)


def _graded_design(T, N, smallest, seed=0):
    """A [T, N] float64 design whose singular values fall geometrically from 1 to ``smallest``."""
    rng = np.random.default_rng(seed)
    q1, _ = np.linalg.qr(rng.standard_normal((T, min(T, N))))
    q2, _ = np.linalg.qr(rng.standard_normal((N, min(T, N))))
    return (q1 * np.geomspace(1.0, smallest, min(T, N))) @ q2.T, rng.standard_normal(T)


@pytest.mark.parametrize("T, N", [(64, 32), (32, 64)])
def test_a_float64_solve_keeps_the_small_singular_values_its_gram_matrix_cannot_see(T, N):
    # the Gram's rounding (eps x its largest eigenvalue) hides singular values below ~sqrt(eps N): a steep
    # spectrum's real modes had been dropped, a sweep's test loss 28-31x the theory's at alpha = 4
    phi, y = _graded_design(T, N, 1e-11)
    want = np.linalg.lstsq(phi, y, rcond=None)[0]
    with jax.enable_x64(True):
        got = np.asarray(rf.ridge_solution(jnp.asarray(phi), jnp.asarray(y), 0.0))
        mild = _graded_design(T, N, 1e-3)  # (kept by the Gram: no second solve, the same answer)
        np.testing.assert_allclose(np.asarray(rf.ridge_solution(jnp.asarray(mild[0]), jnp.asarray(mild[1]), 0.0)),
                                   np.linalg.lstsq(*mild, rcond=None)[0], rtol=1e-7)
        cut = np.asarray(rf.ridge_solution(jnp.asarray(phi), jnp.asarray(y), 0.0, rcond=1e-12))  # (the caller's cut)
    assert np.linalg.norm(got - want) <= 1e-6 * np.linalg.norm(want)
    assert np.linalg.norm(cut - want) > 0.5 * np.linalg.norm(want)  # (a cut-off of 1e-12 drops the small modes)


def test_a_numpy_float64_design_with_64_bit_types_off_is_solved_as_float32():
    # chosen by numpy's dtype, the float64 route had run in float32 with float64's cut-off: 0.088 for 0.161
    rng = np.random.default_rng(1)
    x, U = rng.standard_normal((256, 512)), rng.standard_normal((250, 512))
    phi, y = x @ U.T / np.sqrt(250), rng.standard_normal(256)
    want = np.linalg.lstsq(phi, y, rcond=None)[0]
    with jax.enable_x64(False):
        got = rf.ridge_solution(phi, y, 0.0)
        assert got.dtype == jnp.float32
        as32 = rf.ridge_solution(jnp.asarray(phi, jnp.float32), jnp.asarray(y, jnp.float32), 0.0)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(as32))  # (the float32 route, bit for bit)
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=2e-3 * np.abs(want).max())
    with pytest.raises(TypeError, match="phi has dtype int32; ridge_solution needs a floating-point phi"):
        rf.ridge_solution(np.ones((4, 3), np.int32), np.ones(4, np.float32), 0.0)
    for bad in (1.0, 5.0):
        with pytest.raises(ValueError, match=rf"rcond={bad}; rcond must be in \(0, 1\)"):
            rf.ridge_solution(phi, y, 0.0, rcond=bad)


@pytest.mark.parametrize("x64", [False, True])
def test_the_infinite_data_student_is_least_squares_on_the_moments_factor(x64):
    # eigh of C = U diag(lam) U^T / N had dropped real directions: float32 20x off at alpha = 2, N = 256; float64
    # 29x at alpha = 4, N = 1024
    M, N, alpha = 256, 128, 6.0 if x64 else 2.0
    rng = np.random.default_rng(2)
    U, w = rng.standard_normal((N, M)), rng.standard_normal(M)
    lam = np.arange(1, M + 1, dtype=np.float64) ** -(1 + alpha)
    B_t = (U * np.sqrt(lam)).T / np.sqrt(N)
    theta = np.linalg.lstsq(B_t, np.sqrt(lam) * w, rcond=None)[0]
    want = float(np.sum(lam * (w - U.T @ theta / np.sqrt(N)) ** 2))
    with jax.enable_x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        args = [jnp.asarray(a, dt) for a in (U, lam, w)]
        got = float(rf.exact_test_loss(rf.infinite_data_solution(*args), *args, 0.0))
    assert got == pytest.approx(want, rel=0.05 if not x64 else 1e-6)


def test_the_kernel_limit_distance_is_given_only_where_it_is_the_mean_difference():
    # E_U[beta_RF | x] = beta_kernel needs ridgeless features that interpolate (N > T) or span every linear
    # function (N >= M): at N = 4 < T = 16 the distance's mean was 0.19 for a mean difference of 0.007
    cfg, key = RFConfig(M=32), jax.random.PRNGKey(0)
    got = {(N, T, r): float(rf.train_random_features(cfg, {"N": N, "T": T, "alpha": 0.5, "ridge": r,
                                                           "kernel_limit": True}, key=key)["distance_kernel_limit"])
           for N, T, r in ((4, 16, 0.0), (16, 16, 0.0), (64, 16, 0.0), (32, 64, 0.0), (64, 16, 0.1))}
    assert np.isnan(got[4, 16, 0.0]) and np.isnan(got[16, 16, 0.0]) and np.isnan(got[64, 16, 0.1])
    assert got[64, 16, 0.0] > 1e-3 and got[32, 64, 0.0] == pytest.approx(0.0, abs=1e-8)  # (N = M: both least squares)


def test_regime_grid_leaves_out_the_ridge_panels_shapes_above_max_min_size_too():
    # they had been kept, and a shape filtered from the rows had come back ridgeless as "missing" (the N = T peak)
    pts = rf.regime_grid(alpha=0.5, sizes=[4, 64, 128], rows=[4], columns=[128], ridges=[0.1], ridge_column=128,
                         max_min_size=32, replicates=4)
    shapes = {(p["N"], p["T"], p["ridge"]) for p in pts}
    assert not {s for s in shapes if min(s[:2]) > 32}
    assert (4, 128, 0.1) in shapes and (4, 128, 0.0) in shapes
    at = rf.regime_grid(alpha=0.5, sizes=[4, 32, 64], rows=[4], columns=[32], ridges=[0.1], ridge_column=32,
                        max_min_size=32, replicates=4)  # (at max_min_size: kept)
    assert {(32, 32, 0.1), (64, 32, 0.1), (32, 32, 0.0)} <= {(p["N"], p["T"], p["ridge"]) for p in at}


def test_a_relu_kernel_limit_without_test_samples_is_refused_before_it_runs():
    # it had recorded loss_kernel_limit = NaN, not flagged
    point = {"N": 8, "T": 8, "alpha": 0.5, "nonlinearity": "relu", "kernel_limit": True}
    for run in (lambda: rf.train_random_features(RFConfig(M=16), point, key=jax.random.PRNGKey(0)),
                lambda: sweep_random_features(RFConfig(M=16), [point], progress=False)):
        with pytest.raises(ValueError, match=r"kernel_limit=True with nonlinearity='relu' and RFConfig.test_samples=0"):
            run()
    out = rf.train_random_features(RFConfig(M=16, test_samples=64), point, key=jax.random.PRNGKey(0))
    assert np.isfinite(out["loss_kernel_limit"])


@pytest.mark.parametrize("call, error, match", [
    # (each had run: a (2,)-shaped "loss", a loss of -13.07, c of shape (N, 1), full-batch GD for an SGD batch)
    (lambda U, lam, w: rf.exact_test_loss(jnp.zeros(4), U, lam, w, jnp.ones(2)), ValueError,
     r"noise has shape \(2,\); exact_test_loss needs one noise standard deviation"),
    (lambda U, lam, w: rf.exact_test_loss(jnp.zeros(4), U, -lam, w, 0.0), ValueError,
     r"lam holds -1; exact_test_loss needs a spectrum lam of finite variances >= 0"),
    (lambda U, lam, w: rf.relu_moments(U, lam[:1], w), ValueError, r"lam has shape \(1,\); relu_moments needs lam"),
    (lambda U, lam, w: rf.relu_moments(U, lam, w[:, None]), ValueError, r"w has shape \(8, 1\); relu_moments"),
    (lambda U, lam, w: rf.sample_data(jax.random.PRNGKey(0), 4, lam, w, np.ones(3)), ValueError,
     r"noise has shape \(3,\); sample_data needs one"),
    (lambda U, lam, w: rf.sample_data(jax.random.PRNGKey(0), 4, lam, w, -1.0), ValueError, r"noise=-1.0; noise must"),
    (lambda U, lam, w: rf.gd_solution(jnp.ones((4, 3)), jnp.ones(4), 0.0, 0.1, steps=10, batch=40, log_every=5,
                                      evaluate=lambda th: 0.0, key=jax.random.PRNGKey(0)), ValueError,
     r"batch=40 with T=4 samples; batch must be at most T"),
    (lambda U, lam, w: rf.gd_solution(jnp.ones((4, 3)), jnp.ones(4), 0.0, 0.1, steps=10, batch=5, log_every=5,
                                      evaluate=lambda th: 0.0, key=jax.random.PRNGKey(0)), ValueError,
     r"batch=5 with T=4 samples"),
    (lambda U, lam, w: rf.exact_test_loss(jnp.zeros(4), U, lam.at[0].set(jnp.nan), w, 0.0), ValueError,
     r"lam holds nan; exact_test_loss needs a spectrum lam of finite variances"),
    (lambda U, lam, w: rf.relu_moments(U, lam.at[3].set(jnp.inf), w), ValueError, r"lam holds inf; relu_moments"),
    (lambda U, lam, w: rf.sample_teacher(jax.random.PRNGKey(0), 8, float("nan")), ValueError, r"sigma_w=nan"),
    (lambda U, lam, w: rf.sample_projection(jax.random.PRNGKey(0), 4, 8, -1.0), ValueError, r"sigma_u=-1.0"),
])
def test_the_model_pieces_refuse_arrays_and_values_they_would_have_broadcast_or_used(call, error, match):
    U, lam, w = jnp.ones((4, 8)), jnp.ones(8), jnp.ones(8)
    with pytest.raises(error, match=match):
        call(U, lam, w)


def test_vmapped_solves_take_the_svd_only_for_the_models_that_need_it():
    # vmapped, a per-model cond became a select that ran every model's SVD (5-7x the solve's time, none needing it):
    # one branch on whether any does, the others' Gram solutions kept
    designs = [_graded_design(64, 32, s, seed=i) for i, s in enumerate((1e-3, 1e-11, 1e-3))]
    want = [np.linalg.lstsq(p, y, rcond=None)[0] for p, y in designs]
    with jax.enable_x64(True):
        phis, ys = (jnp.asarray(np.stack(a)) for a in zip(*designs))
        solve = jax.jit(jax.vmap(lambda p, y: rf.ridge_solution(p, y, 0.0)))
        got = np.asarray(solve(phis, ys))
        mild = np.asarray(solve(phis[::2], ys[::2]))  # (none needs it: the Gram's solutions)
        gram = [np.asarray(rf._eig_solve(p.T @ p, p.T @ y, jnp.zeros(()), None)[0]) for p, y in zip(phis, ys)]
    for g, w in zip(got, want):
        assert np.linalg.norm(g - w) <= 1e-6 * np.linalg.norm(w)
    np.testing.assert_allclose(mild, np.stack(gram[::2]), rtol=1e-9)
    np.testing.assert_allclose(got[::2], mild, rtol=1e-9)
