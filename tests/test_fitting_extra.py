"""Tests of the held-out extrapolation error, the broken power law and Chinchilla approaches 1 and 2."""

import json

import numpy as np
import pytest

from toyscale import fitting as F
from toyscale.fitting import (
    CHINCHILLA_PUBLISHED,
    NotIdentifiableError,
    chinchilla_extrapolation_error,
    chinchilla_grid,
    compute_optimal,
    extrapolation_error,
    fit_chinchilla,
    fit_broken_power_law,
    fit_frontier,
    fit_isoflop,
    fit_power_law,
)


# ---------------------------------------------------------------- held-out extrapolation


def test_extrapolation_of_exact_power_law_is_exact():
    x = np.logspace(1, 5, 40)
    ex = extrapolation_error(x, 3.0 * x**-0.4, cut=1e4)
    assert ex.n_train == int((x <= 1e4).sum()) and ex.n_train + ex.n_test == 40
    assert ex.fit.x_range[1] <= 1e4 and ex.fit.exponent == pytest.approx(0.4, rel=1e-12)
    assert ex.max_rel_error < 1e-12 and ex.max_log_error < 1e-12
    np.testing.assert_array_equal(ex.observed, 3.0 * x[x > 1e4] ** -0.4)
    assert "predict x > 1e+04" in str(ex)


def test_extrapolation_without_offset_misses_curvature():
    rng = np.random.default_rng(0)
    x = np.logspace(1, 5, 40)
    y = (3.0 * x**-0.4 + 0.5) * np.exp(0.002 * rng.standard_normal(40))
    pure = extrapolation_error(x, y, cut=1e3)
    off = extrapolation_error(x, y, cut=1e3, offset=True)
    assert off.fit.offset == pytest.approx(0.5, rel=0.05)
    assert off.mean_rel_error < 0.01 and off.rmse_log < 0.01
    assert pure.mean_rel_error > 0.15 and pure.max_rel_error > 0.3
    assert pure.mean_rel_error > 20 * off.mean_rel_error
    # a pure power law through offset data over-predicts the decay: predictions fall below the data
    assert np.all(pure.rel_error < 0)


@pytest.mark.parametrize("on", ["C", "N"])
def test_chinchilla_extrapolation_of_exact_data(on):
    rng = np.random.default_rng(1)
    N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), 60))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), 60))
    L = CHINCHILLA_PUBLISHED.loss(N, D)
    v = 6 * N * D if on == "C" else N
    cut = np.sort(v)[44]  # 45 runs below the cut either way: one compiled program serves both cases
    ex = chinchilla_extrapolation_error(N, D, L, cut=cut, on=on, starts=chinchilla_grid(thin=90))
    assert ex.on == on and ex.n_train == 45 and ex.n_test == 15 and ex.fit.n_points == 45
    np.testing.assert_array_equal(ex.observed, L[v > cut])
    assert ex.max_rel_error < 1e-4
    assert ex.fit.alpha == pytest.approx(CHINCHILLA_PUBLISHED.alpha, rel=1e-3)


def test_extrapolation_bad_input():
    x = np.logspace(1, 3, 10)
    with pytest.raises(ValueError, match=r"cut=1e\+06 leaves 10 point\(s\) with x <= cut and 0 above"):
        extrapolation_error(x, x**-0.5, cut=1e6)
    with pytest.raises(ValueError, match="need.* at least 4 below"):
        extrapolation_error(x, x**-0.5, cut=15, offset=True)
    with pytest.raises(ValueError, match="cut=-1"):
        extrapolation_error(x, x**-0.5, cut=-1)
    with pytest.raises(ValueError, match="on='D'; allowed: 'N', 'C'"):
        chinchilla_extrapolation_error(x, x, x**-0.5, cut=100, on="D")
    # C = 6 N D past float64's range, each factor finite: named (an SVD had failed on the inf)
    big = np.repeat([1e150, 1e155, 1e159], 3)
    for call in (lambda: chinchilla_extrapolation_error(big, big, np.linspace(3, 2, 9), cut=1e300, on="C"),
                 lambda: fit_frontier(big, np.linspace(3, 2, 9), D=big),
                 lambda: fit_isoflop(big, np.linspace(3, 2, 9), D=big)):
        with pytest.raises(ValueError, match=r"C = 6 N D overflows float64 at N=1e\+155, D=1e\+155; give N and D in"):
            call()
    # a choice given as an array: named, not numpy's "truth value of an array is ambiguous"
    names = np.array(["N", "C"])
    for call, name in ((lambda: chinchilla_extrapolation_error(x, x, x**-0.5, cut=100, on=names), "on"),
                       (lambda: extrapolation_error(x, x**-0.5, cut=100, loss=names), "loss"),
                       (lambda: fit_chinchilla(x, x, x**-0.5, method=names), "method"),
                       (lambda: fit_chinchilla(x, x, x**-0.5, solver=names), "solver")):
        with pytest.raises(TypeError, match=rf"{name}=array\(\['N', 'C'\].*; {name} must be a single string, one of"):
            call()
    # "(not a list)" only where one was given
    with pytest.raises(TypeError) as none:
        chinchilla_extrapolation_error(x, x, x**-0.5, cut=100, on=None)
    assert str(none.value) == "on=None; on must be a single string, one of 'N', 'C'"
    with pytest.raises(TypeError, match=r"on=\['N'\]; on must be a single string, one of 'N', 'C' \(not a list\)$"):
        chinchilla_extrapolation_error(x, x, x**-0.5, cut=100, on=["N"])
    with pytest.raises(ValueError, match="mismatched lengths"):
        extrapolation_error(x, x[:-1], cut=100)


# ---------------------------------------------------------------- broken power law

BPL_TRUTH = dict(b=5.0, c0=0.3, c1=0.5, d=1e3, f=0.2)


def _bpl(x, b, c0, c1, d, f):
    return b * x**-c0 * (1 + (x / d) ** (1 / f)) ** (-c1 * f)


@pytest.fixture(scope="module")
def bpl_fit(optimizations_on):
    rng = np.random.default_rng(0)
    x = np.logspace(1, 5, 60)
    y = _bpl(x, **BPL_TRUTH) * np.exp(0.005 * rng.standard_normal(60))
    # 99% intervals: six quantities at 95% would leave one truth outside about a quarter of the time
    with optimizations_on():  # (a long fit: as a test marked runs_long)
        return fit_broken_power_law(x, y, bootstrap=200, seed=0, level=0.99), x


def test_broken_power_law_recovers_break_and_slopes(bpl_fit):
    fit, x = bpl_fit
    assert fit.converged and fit.grad_norm < 1e-6 and fit.r2 > 0.9999
    assert len(fit.breaks) == 1 and fit.offset == 0.0
    assert fit.breaks[0] == pytest.approx(BPL_TRUTH["d"], rel=0.05)
    assert fit.slopes[0] == pytest.approx(0.3, abs=0.01)
    assert fit.slopes[1] == pytest.approx(0.8, abs=0.01)
    assert fit.smoothness[0] == pytest.approx(0.2, rel=0.25)
    np.testing.assert_allclose(fit.predict(x), _bpl(x, **BPL_TRUTH), rtol=0.01)
    assert fit.notes == () and "slopes: 0.29" in str(fit)


def test_broken_power_law_recovery_inside_intervals(bpl_fit):
    fit, _ = bpl_fit
    truth = {"prefactor": 5.0, "exponent": 0.3, "break1": 1e3, "change1": 0.5, "smoothness1": 0.2, "slope1": 0.8}
    assert set(fit.stderr) == set(fit.intervals) == set(truth) and fit.identifiable and fit.n_bootstrap == 200
    est = fit.params()
    for k, v in truth.items():
        lo, hi = fit.intervals[k]
        assert lo < v < hi, (k, lo, v, hi)
        assert abs(est[k] - v) < 3 * fit.stderr[k], (k, est[k], v, fit.stderr[k])
        # the sandwich standard error and the bootstrap spread agree (normal 99% width = 5.15 se)
        assert 0.5 < (hi - lo) / (5.15 * fit.stderr[k]) < 2.0, k
    # tight: 0.5% noise on 60 points pins the slopes to ~1e-3 and the break to ~1%
    assert fit.stderr["exponent"] < 2e-3 and fit.stderr["break1"] / 1e3 < 0.02
    assert est["slope1"] == fit.slopes[1]
    text = str(fit)
    assert "d1 (break1)" in text and "bootstrap=200" in text and "interval (99% bootstrap)" in text
    assert "f1 (smoothness1)" in text and "\n  slope1 " in text  # (a symbol with the key stderr/intervals take)
    d = fit.to_dict()
    assert json.loads(json.dumps(d))["stderr"]["break1"] == fit.stderr["break1"] and d["n_points"] == 60


def test_broken_power_law_objective_matches_residuals(bpl_fit):
    fit, x = bpl_fit
    rng = np.random.default_rng(0)
    y = _bpl(x, **BPL_TRUTH) * np.exp(0.005 * rng.standard_normal(60))
    r = np.log(fit.predict(x)) - np.log(y)
    assert fit.objective == pytest.approx(0.5 * np.sum(r**2), rel=1e-9)
    # the fit beats the truth on its own objective (it is the least-squares optimum)
    r_true = np.log(_bpl(x, **BPL_TRUTH)) - np.log(y)
    assert fit.objective <= 0.5 * np.sum(r_true**2)


@pytest.mark.runs_long
def test_broken_power_law_without_a_break_is_not_identifiable(bpl_fit):
    _, x = bpl_fit  # same shapes as the fixture, compiled optimized too: loaded from the persistent cache
    rng = np.random.default_rng(1)
    fit = fit_broken_power_law(x, 3.0 * x**-0.4 * np.exp(0.01 * rng.standard_normal(x.size)))
    # a pure power law: the fit can park a tiny, sharp break anywhere, so nothing pins d, c, f down
    assert not fit.identifiable and "NOT IDENTIFIABLE" in str(fit)
    assert fit.slopes[0] == pytest.approx(0.4, abs=0.01)


@pytest.mark.runs_long
def test_broken_power_law_bootstrap_leaves_a_collapsed_offset():
    # no true offset: the fit puts it at ~1e-15; resamples started only from that fit all stayed
    # there, and the offset's 95 % interval was [1.67e-15, 1.67e-15]
    x = np.logspace(1, 4, 20)
    y = _bpl(x, b=3.0, c0=0.3, c1=0.4, d=300.0, f=0.3) * np.exp(0.04 * np.random.default_rng(1).standard_normal(20))
    fit = fit_broken_power_law(x, y, offset=True, bootstrap=40, seed=1)
    assert fit.offset < 1e-10 and not fit.identifiable
    lo, hi = fit.intervals["offset"]
    assert hi > 1e-3 and hi > 1e6 * lo


def test_broken_power_law_bad_input():
    x = np.logspace(1, 3, 10)
    with pytest.raises(ValueError, match="breaks=0; must be an integer >= 1"):
        fit_broken_power_law(x, x**-0.5, breaks=0)
    with pytest.raises(ValueError, match="breaks=4; allowed: 1, 2 or 3"):
        fit_broken_power_law(x, x**-0.5, breaks=4)
    with pytest.raises(TypeError, match="breaks must be an integer"):
        fit_broken_power_law(x, x**-0.5, breaks=1.5)
    with pytest.raises(ValueError, match="only 5 point"):
        fit_broken_power_law(x[:5], x[:5] ** -0.5)
    # the count of parameters was one too many (6 for 1 break's 5, 7 with an offset)
    with pytest.raises(ValueError, match=r"1 break\(s\) has 5 parameters but only 4 point\(s\) were given; "
                                         r"need at least 6$"):
        fit_broken_power_law(x[:4], x[:4] ** -0.5)
    with pytest.raises(ValueError, match=r"and offset has 6 parameters but only 4 point\(s\) were given; "
                                         r"need at least 7$"):
        fit_broken_power_law(x[:4], x[:4] ** -0.5, offset=True)
    with pytest.raises(ValueError, match="non-positive"):
        fit_broken_power_law(-x, x**-0.5)
    # x near 1e200: b = exp(921) overflowed to inf, reported as NOT IDENTIFIABLE with no hint
    with pytest.raises(ValueError, match=r"prefactor b = exp\(921\.0\) is beyond float64 .* rescale x"):
        fit_broken_power_law(np.logspace(200, 300, 8), np.logspace(0, -200, 8))
    with pytest.raises(ValueError, match="loss='l1'"):
        fit_broken_power_law(x, x**-0.5, loss="l1")
    with pytest.raises(NotIdentifiableError, match="one distinct value"):
        fit_broken_power_law(np.full(10, 5.0), x)


# ---------------------------------------------------------------- approaches 1 and 2

BUDGETS = np.logspace(18, 22, 9)
A_TRUE = CHINCHILLA_PUBLISHED.a


def _isoflop_runs(width=1.5, k=15, shift=0.0):
    """Runs on IsoFLOP slices of the published law, N grid centred on N_opt(C) (times e^shift)."""
    n_opt = compute_optimal(CHINCHILLA_PUBLISHED, BUDGETS).N_opt
    N = (n_opt[:, None] * np.exp(np.linspace(-width, width, k) + shift)[None, :]).ravel()
    C = np.repeat(BUDGETS, k)
    return N, C, CHINCHILLA_PUBLISHED.loss(N, C / (6 * N))


def test_budgets_from_tokens_are_six_n_d():
    N, C, L = _isoflop_runs()
    for fit_fn in (fit_isoflop, fit_frontier):
        by_tokens, by_compute = fit_fn(N, L, D=C / (6 * N)), fit_fn(N, L, C=C)
        np.testing.assert_allclose(by_tokens.C, BUDGETS, rtol=1e-9)
        assert by_tokens.prefactor == pytest.approx(by_compute.prefactor, rel=1e-9)


def test_isoflop_recovers_exponent_on_centred_grid():
    N, C, L = _isoflop_runs()
    fit = fit_isoflop(N, L, C=C)
    assert fit.method == "isoflop" and len(fit.C) == 9 and np.all(fit.n_runs == 15)
    # the loss along a slice has the same shape in log(N / N_opt) at every budget, so the parabola's
    # bias in log N_opt is one constant and the exponent is exact
    assert fit.a == pytest.approx(A_TRUE, abs=1e-9)
    n_opt = compute_optimal(CHINCHILLA_PUBLISHED, fit.C).N_opt
    np.testing.assert_allclose(fit.N_opt / n_opt, 1.0, atol=0.05)
    np.testing.assert_allclose(fit.L_opt, CHINCHILLA_PUBLISHED.loss(n_opt, fit.C / (6 * n_opt)), rtol=1e-3)
    assert np.all(fit.curvature > 0) and fit.b == pytest.approx(1 - A_TRUE)
    np.testing.assert_allclose(fit.predict(fit.C), fit.N_opt, rtol=1e-9)
    # tokens instead of FLOPs: C = 6 N D recomputed with rounding still groups by budget
    rng = np.random.default_rng(0)
    noisy = fit_isoflop(N, L * np.exp(0.002 * rng.standard_normal(L.size)), D=C / (6 * N))
    assert len(noisy.C) == 9 and noisy.a == pytest.approx(A_TRUE, abs=0.01)
    assert "IsoFLOP" in str(noisy)


def test_isoflop_off_centre_grid_is_flagged():
    N, C, L = _isoflop_runs(width=0.5, k=7, shift=2.0)
    fit = fit_isoflop(N, L, C=C)
    assert any("outside their N range" in n for n in fit.notes)


def test_frontier_recovers_exponent():
    n_grid = np.logspace(7, 12, 81)  # one common grid of model sizes, as in a real sweep
    N, C = np.tile(n_grid, len(BUDGETS)), np.repeat(BUDGETS, len(n_grid))
    L = CHINCHILLA_PUBLISHED.loss(N, C / (6 * N))
    fit = fit_frontier(N, L, C=C)
    assert fit.method == "frontier" and len(fit.C) == 9 and np.all(fit.n_runs == 81)
    assert fit.a == pytest.approx(A_TRUE, abs=0.01)
    n_opt = compute_optimal(CHINCHILLA_PUBLISHED, BUDGETS).N_opt
    spacing = np.log(n_grid[1] / n_grid[0])
    assert np.all(np.abs(np.log(fit.N_opt / n_opt)) <= spacing / 2 + 1e-9)
    # the kept run is the lowest-loss one of its budget
    for c, n, l in zip(fit.C, fit.N_opt, fit.L_opt):
        assert l == L[C == c].min() and n == N[C == c][np.argmin(L[C == c])]
    # budgets given as bins (runs' C jittered around the budgets)
    rng = np.random.default_rng(0)
    Cj = C * np.exp(0.01 * rng.standard_normal(C.size))
    edges = np.sqrt(BUDGETS[1:] * BUDGETS[:-1])
    edges = np.concatenate([[BUDGETS[0] / 2], edges, [BUDGETS[-1] * 2]])
    binned = fit_frontier(N, CHINCHILLA_PUBLISHED.loss(N, Cj / (6 * N)), C=Cj, bins=edges)
    assert len(binned.C) == 9 and binned.a == pytest.approx(A_TRUE, abs=0.002)
    assert len(fit_frontier(N, L, C=C, bins=9).C) == 9


@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_binned_budgets_compared_at_a_common_budget(fit_fn):
    # IsoFLOP grids centred on the optimum, each run's C scattered by 10% around its budget. Comparing
    # runs of a bin as they stand credits compute to N: the kept N followed the scatter
    # (benchmarks/fit_calibration.py, 20 seeds: sd of a 0.049 for the frontier, 0.0041 for
    # IsoFLOP as they stand; 0.0011 and 0.00019 with these edges)
    N, C, _ = _isoflop_runs()
    rng = np.random.default_rng(0)
    Cj = C * np.exp(0.1 * rng.standard_normal(C.size))
    edges = np.concatenate([[BUDGETS[0] / 2], np.sqrt(BUDGETS[1:] * BUDGETS[:-1]), [BUDGETS[-1] * 2]])
    fit = fit_fn(N, CHINCHILLA_PUBLISHED.loss(N, Cj / (6 * N)), C=Cj, bins=edges)
    assert len(fit.C) == 9 and fit.a == pytest.approx(A_TRUE, abs=0.002)
    # the frontier point's budget is its group's geometric-mean C, and its loss the loss moved there
    centre = np.exp([np.log(Cj[(Cj >= lo) & (Cj < hi)]).mean() for lo, hi in zip(edges[:-1], edges[1:])])
    np.testing.assert_allclose(fit.C, centre, rtol=1e-12)
    n_opt = compute_optimal(CHINCHILLA_PUBLISHED, fit.C).N_opt
    np.testing.assert_allclose(fit.L_opt, CHINCHILLA_PUBLISHED.loss(n_opt, fit.C / (6 * n_opt)), rtol=2e-3)


def test_allocation_bad_input():
    N, C, L = _isoflop_runs()
    with pytest.raises(ValueError, match="exactly one of D .* got both"):
        fit_frontier(N, L, C=C, D=C / (6 * N))
    with pytest.raises(ValueError, match="got neither"):
        fit_isoflop(N, L)
    with pytest.raises(ValueError, match="bins=1; .* must be >= 2"):
        fit_frontier(N, L, C=C, bins=1)
    with pytest.raises(ValueError, match="strictly ascending"):
        fit_frontier(N, L, C=C, bins=[3.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="min_runs=2"):
        fit_isoflop(N, L, C=C, min_runs=2)
    with pytest.raises(NotIdentifiableError, match="1 distinct budget"):
        fit_frontier(N[:15], L[:15], C=C[:15])
    with pytest.raises(ValueError, match="mismatched lengths"):
        fit_isoflop(N, L[:-1], C=C)


def _noisy_isoflop_runs(seed=2, noise=0.005):
    N, C, L = _isoflop_runs()
    return N, C, L * np.exp(noise * np.random.default_rng(seed).standard_normal(L.size))


@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_allocation_bootstrap_intervals(fit_fn):
    # over 40 noisy data sets (noise 0.005): sd of a 0.037 (frontier) and 0.0069 (IsoFLOP); median stderr
    # 0.032 and 0.0050; with the IsoFLOP runs resampled as cases, median interval width / 4 0.029 and 0.0082
    # and the interval held the true a 40 and 39 times; on this data set the width is 1.0x (frontier) and
    # 1.5x (IsoFLOP, residuals resampled; 2.0x as cases) of 4 stderr
    N, C, L = _noisy_isoflop_runs()
    fit = fit_fn(N, L, C=C, bootstrap=300, seed=0)
    lo, hi = fit.intervals["a"]
    assert lo < A_TRUE < hi and lo < fit.a < hi
    assert 1 / 3 < (hi - lo) / (4 * fit.a_stderr) < 3
    k_lo, k_hi = fit.intervals["prefactor"]
    assert k_lo < fit.prefactor < k_hi and fit.intervals["b"] == pytest.approx((1 - hi, 1 - lo))
    assert fit.n_bootstrap == 300 and fit.bootstrap_failed == 0 and fit.boot_log_params.shape == (300, 2)
    assert np.percentile(fit.boot_log_params[:, 1], 2.5) == pytest.approx(lo)
    # the point estimate is the fit without bootstrap; a seed gives the same resamples, another seed others
    plain = fit_fn(N, L, C=C)
    assert fit.a == plain.a and plain.intervals == {} and plain.boot_log_params is None
    np.testing.assert_array_equal(fit_fn(N, L, C=C, bootstrap=300, seed=0).boot_log_params, fit.boot_log_params)
    assert fit_fn(N, L, C=C, bootstrap=300, seed=1).intervals["a"] != (lo, hi)
    narrow = fit_fn(N, L, C=C, bootstrap=300, seed=0, level=0.5).intervals["a"]
    assert lo < narrow[0] < narrow[1] < hi
    d = fit.to_dict()
    assert d["intervals"]["a"] == [lo, hi] and d["n_bootstrap"] == 300 and d["level"] == 0.95
    assert "interval (95% bootstrap)" in str(fit) and "bootstrap=300 resamples" in str(fit)


@pytest.mark.parametrize("fit_fn, bins", [(fit_frontier, None), (fit_frontier, 9)])
def test_allocation_bootstrap_equals_refits_of_resampled_runs(fit_fn, bins):
    # the batched pass over weights is the procedure itself applied to each resample: refit a few
    # resamples one by one, the runs repeated as drawn (with bins, the runs' C scattered by 10%)
    # (fit_isoflop resamples residuals, the design fixed: its refits are in test_fitting_budgets.py)
    import jax

    from toyscale.fitting import _bootstrap_weights

    N, C, L = _noisy_isoflop_runs()
    if bins is not None:
        C = C * np.exp(0.1 * np.random.default_rng(2).standard_normal(C.size))
        L = CHINCHILLA_PUBLISHED.loss(N, C / (6 * N)) * np.exp(0.005 * np.random.default_rng(3).standard_normal(C.size))
    fit = fit_fn(N, L, C=C, bins=bins, bootstrap=40, seed=3)  # (the fewest a 95 % interval takes)
    with jax.enable_x64(True):
        w = np.asarray(_bootstrap_weights(3, 40, len(N))).astype(int)
    for r in range(0, 40, 10):
        idx = np.repeat(np.arange(len(N)), w[r])
        one = fit_fn(N[idx], L[idx], C=C[idx], bins=bins)
        np.testing.assert_allclose(fit.boot_log_params[r], [np.log(one.prefactor), one.a], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_a_bootstrap_of_the_fewest_resamples_for_its_level_is_taken(fit_fn):
    N, C, L = _noisy_isoflop_runs()
    fit = fit_fn(N, L, C=C, bootstrap=4, level=0.5, seed=0)
    lo, hi = fit.intervals["a"]
    assert fit.n_bootstrap == 4 and lo < hi
    # the fit of N_opt against C takes the level too (its t_interval had been 95 % whatever the level)
    assert fit.fit.level == 0.5 and fit.fit.t_interval() == fit_fn(N, L, C=C, level=0.5).fit.t_interval()
    assert fit.fit.t_interval() != fit_fn(N, L, C=C).fit.t_interval()


def test_frontier_with_the_same_optimum_at_every_budget_notes_it():
    # the lowest-loss run of every budget has N = 2e8: N_opt = k C^0 is the fit; it had raised
    # NotIdentifiableError saying "constant y: exponent and prefactor trade off with the offset"
    N = np.tile([1e8, 2e8, 4e8], 3)
    C = np.repeat([1e18, 1e19, 1e20], 3)
    L = np.where(N == 2e8, 2.0, 2.5) - 0.1 * np.log10(C / 1e18)
    fit = fit_frontier(N, L, C=C)
    assert fit.a == 0.0 and fit.prefactor == pytest.approx(2e8, rel=1e-12) and list(fit.N_opt) == [2e8] * 3
    assert any("every budget's optimum is the same N (2e+08): a = 0 fits it exactly" in n for n in fit.notes)
    N, C, L = _isoflop_runs()
    assert not any("same N" in n for n in fit_frontier(N, L, C=C).notes)


def test_allocation_bootstrap_failed_resamples_are_noted():
    # 3 budgets of 5 runs with 5 % noise: a residual resample whose parabola opens downward at one
    # budget leaves 2 (a case resample of 4 runs with min_runs=4 had failed unless all 4 were drawn)
    N, C, L = _isoflop_runs(k=5)
    keep = np.isin(C, BUDGETS[[0, 4, 8]])
    N, C, L = N[keep], C[keep], L[keep] * np.exp(0.05 * np.random.default_rng(0).standard_normal(keep.sum()))
    fit = fit_isoflop(N, L, C=C, bootstrap=40, seed=0)
    failed = ~np.all(np.isfinite(fit.boot_log_params), axis=1)
    assert 0 < fit.bootstrap_failed == failed.sum() < 40
    assert any(f"{fit.bootstrap_failed} of 40 bootstrap resamples" in n and "fewer than 2 usable budgets" in n
               for n in fit.notes)
    # fewer kept than a 95 % interval needs (40): nan, and said so; it had been their extreme values
    kept = 40 - fit.bootstrap_failed
    assert np.isnan(fit.intervals["a"]).all()
    assert any(f"only {kept} of 40 resamples were kept, fewer than the 40 a 95% interval needs" in n for n in fit.notes)
    more = fit_isoflop(N, L, C=C, bootstrap=400, seed=0)
    assert 400 - more.bootstrap_failed >= 40 and more.bootstrap_failed > 0 and np.isfinite(more.intervals["a"]).all()


def test_a_bootstrap_that_keeps_too_few_resamples_gives_nan_intervals():
    # 3 widths with an offset: 35 of 40 resamples draw fewer than 3 distinct x and are dropped;
    # the 5 left gave a zero-width "95 %" interval (exit 0 in the CLI)
    x = np.array([16.0, 32.0, 64.0])
    y = (2 * x**-0.6 + 0.1) * np.array([1.01, 0.99, 1.0])
    fit = fit_power_law(x, y, offset=True, bootstrap=40)
    assert all(np.isnan(v).all() for v in fit.intervals.values())
    assert any("only 5 of 40 resamples were kept, fewer than the 40 a 95% interval needs: the intervals are nan" in n
               for n in fit.notes)
    assert np.isfinite(fit.exponent)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(bootstrap=-1), ValueError, "bootstrap=-1; must be an integer >= 0"),
    (dict(bootstrap=2.5), TypeError, "bootstrap must be an integer"),
    (dict(bootstrap=10, seed=-3), ValueError, r"seed=-3; must be an integer in \[0, 4294967295\]"),
    (dict(bootstrap=10, seed=2**32), ValueError, r"seed=4294967296; must be an integer in \[0, 4294967295\]"),
    (dict(bootstrap=10, level=1.5), ValueError, "level=1.5; must be strictly between 0 and 1"),
    (dict(bootstrap=10, level=0), ValueError, "level=0; must be strictly between 0 and 1"),
    # a 95 % percentile interval of 1 resample had zero width; of < 40, its ends are the extreme resamples
    (dict(bootstrap=1), ValueError, r"bootstrap=1; a 95% percentile interval needs at least 40 resamples"),
    (dict(bootstrap=39), ValueError, r"bootstrap=39; a 95% percentile interval needs at least 40 resamples"),
    (dict(bootstrap=199, level=0.99), ValueError, r"bootstrap=199; a 99% percentile interval needs at least 200"),
])
@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_allocation_bootstrap_bad_arguments(fit_fn, kwargs, error, match):
    N, C, L = _isoflop_runs()
    with pytest.raises(error, match=match):
        fit_fn(N, L, C=C, **kwargs)


# ---------------------------------------------------------------- ladder line search


def test_ladder_and_zoom_solvers_reach_the_same_optimum():
    rng = np.random.default_rng(2)
    N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), 60))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), 60))
    L = CHINCHILLA_PUBLISHED.loss(N, D) * np.exp(0.01 * rng.standard_normal(60))
    starts = chinchilla_grid(thin=90)
    fits = [fit_chinchilla(N, D, L, starts=starts, solver=s) for s in ("ladder", "zoom")]
    # the optimum is a flat valley (parameters move in the 4th digit for 1e-7 of objective), so the
    # two multi-start stages hand the polish different points: same optimum to 1e-6, not to 1e-12
    assert fits[0].objective == pytest.approx(fits[1].objective, rel=1e-6)
    np.testing.assert_allclose(fits[0].log_params, fits[1].log_params, rtol=1e-3)
    assert fits[0].converged and fits[0].n_converged >= 0.9 * len(starts)
    with pytest.raises(ValueError, match="solver='bfgs'; allowed: 'ladder', 'zoom'"):
        fit_chinchilla(N, D, L, solver="bfgs")


def test_power_law_cli_cut(tmp_path, capsys):
    from toyscale import cli

    x = np.logspace(1, 5, 40)
    p = tmp_path / "curved.csv"
    p.write_text("size,err\n" + "".join(f"{a:.17g},{3 * a ** -0.4 + 0.5:.17g}\n" for a in x))
    assert cli.main(["fit", "power-law", str(p), "--x", "size", "--y", "err", "--cut", "1000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ex = out["extrapolation"]
    assert ex["cut"] == 1000 and ex["n_train"] == int((x <= 1000).sum()) and ex["n_test"] == int((x > 1000).sum())
    assert out["n_points"] == ex["n_train"] and ex["mean_rel_error"] > 0.15
    assert cli.main(["fit", "power-law", str(p), "--x", "size", "--y", "err", "--cut", "1000"]) == 0
    assert "Extrapolation  fit on x <= 1000" in capsys.readouterr().out
    assert cli.main(["fit", "power-law", str(p), "--x", "size", "--y", "err", "--cut", "1e9"]) == 2
    assert "--cut 1e+09 leaves 40 point(s) with size <= 1e+09 and 0 above" in capsys.readouterr().err
    assert cli.main(["fit", "power-law", str(p), "--x", "size", "--y", "err", "--cut", "10", "--bootstrap", "5"]) == 2
    assert "--cut and --bootstrap" in capsys.readouterr().err


@pytest.mark.runs_long
def test_a_bootstrap_drops_the_resamples_too_few_distinct_sizes_cannot_pin_down():
    # 2 distinct widths of 5 leave an offset power law (3 parameters) a family of exact fits;
    # the refit had reported one of them as converged, and ~10 % of resamples, with exponents
    # up to 2.8, set the 95 % interval's upper end at 0.93 where the others put it at 0.49-0.68
    import jax

    from toyscale.fitting import _bootstrap_weights, _underdetermined, fit_power_law

    x = np.array([8, 16, 32, 64, 128.0])
    y = (2 * x**-0.5 + 0.1) * np.exp(0.05 / np.sqrt(2) * np.random.default_rng(0).standard_normal(5))
    fit = fit_power_law(x, y, offset=True, bootstrap=1000, seed=0)
    with jax.enable_x64(True):
        drawn = _bootstrap_weights(0, 1000, 5) > 0
    under = drawn.sum(axis=1) < 3
    assert 80 < under.sum() < 120
    assert f"{under.sum()} of 1000 bootstrap resamples drew too few distinct x (fewer than 3)" in " ".join(fit.notes)
    lo, hi = fit.intervals["exponent"]
    assert 0.35 < lo < 0.45 < 0.5 < hi < 0.75, (lo, hi)
    # distinct values, not points, count: a repeated size is one; rows of a 2-D array are one value each
    w = np.array([[1, 1, 1, 0], [2, 0, 0, 2], [0, 0, 2, 2]])
    np.testing.assert_array_equal(_underdetermined(w, (np.array([1, 1, 2, 3]), 3)), [True, True, True])
    np.testing.assert_array_equal(_underdetermined(w, (np.array([1, 2, 3, 4]), 3)), [False, True, True])
    pairs = np.array([[1, 5], [1, 6], [2, 5], [2, 6]])
    np.testing.assert_array_equal(_underdetermined(w, (pairs, 2)), [False, False, False])
    np.testing.assert_array_equal(_underdetermined(w, (pairs, 2), (pairs[:, 0], 2)), [False, False, True])


def test_an_allocation_fit_on_two_budgets_says_why_it_has_no_standard_errors():
    # the line through two optima is exact: stderr nan, which had been printed with nothing said
    N = np.tile(np.geomspace(1e7, 1e9, 5), 2)
    C = np.repeat([1e18, 1e19], 5)
    L = 1.7 + 400 / N**0.34 + 410 / (C / (6 * N)) ** 0.28
    for fit in (fit_frontier(N, L, C=C), fit_isoflop(N, L, C=C)):
        assert np.isnan(fit.a_stderr) and len(fit.C) == 2
        assert any(n.startswith("2 budgets for N_opt = k C^a's 2 parameters: the line through their optima is exact")
                   for n in fit.notes), fit.notes
    N3, C3, L3 = _isoflop_runs()
    assert not any(n.startswith("2 budgets") for n in fit_frontier(N3, L3, C=C3).notes)
    # with the same optimum at both budgets the other note no longer claims a standard error of 0
    same = fit_frontier(np.tile([1e6, 2e6, 4e6], 2), [3, 2.5, 2.9, 2.8, 2.2, 2.6], C=np.repeat([1e15, 1e16], 3))
    assert np.isnan(same.a_stderr) and not any("standard error 0" in n for n in same.notes), same.notes


# ----------------------------------------------------------------------------- values no test had pinned
# (a hand mutation run, 2026-12-05: each test below fails on the mutant it names)


# (mutation check) mutant F12 (fitting.py fit_power_law: `pred = np.log(prefactor * x ** (-p_hat[1]) + y_inf)` ->
# without `+ y_inf`): the R^2 of an offset fit was computed without its offset; r2 was only checked for fits
# without one.
def test_the_r2_of_an_offset_fit_includes_the_offset():
    x = np.logspace(1, 4, 12)
    fit = fit_power_law(x, 2.0 * x**-0.5 + 0.3, offset=True)
    assert fit.offset == pytest.approx(0.3, rel=1e-4)
    assert fit.r2 == pytest.approx(1.0, abs=1e-8)


# (mutation check) mutant F24 (fitting.py _split_at_cut: `n_tr < n_params + 1` -> `n_tr < n_params`): a cut
# leaving exactly as many training points as parameters gave an exact fit (no residual dof) instead of the
# documented refusal; the boundary itself was not tested (the test used a cut leaving 1 point).
def test_a_cut_leaving_as_many_points_as_parameters_is_refused_and_one_more_is_taken():
    x = np.arange(1.0, 11.0)
    y = 2.0 * x**-0.5
    with pytest.raises(ValueError, match="needs at least 3 below"):
        extrapolation_error(x, y, cut=2.0)  # 2 points for 2 parameters
    assert extrapolation_error(x, y, cut=3.0).n_train == 3
    with pytest.raises(ValueError, match="needs at least 4 below"):
        extrapolation_error(x, y + 0.1, cut=3.0, offset=True)
    # and no input at all is told the same counts (it had asked for one point below the cut fewer)
    with pytest.raises(ValueError, match="need at least 4 points, 3 with x <= cut and 1 above"):
        extrapolation_error([], [], cut=3.0)
    with pytest.raises(ValueError, match="need at least 5 points, 4 with x <= cut and 1 above"):
        extrapolation_error([], [], cut=3.0, offset=True)


# (mutation check) mutant F8 (fitting.py _resample_draws: `jax.random.randint(k, (n,), 0, n)` -> `randint(k, (n,),
# 0, n - 1)`): no bootstrap resample ever drew the last point (every fit's and allocation's intervals wrong); no
# test looked at the draws' distribution.
def test_bootstrap_draws_every_point_about_equally_often():
    w = F._bootstrap_weights(0, 400, 5)
    assert w.shape == (400, 5) and np.all(w.sum(axis=1) == 5)
    np.testing.assert_allclose(w.mean(axis=0), 1.0, atol=0.2)


# (mutation check) mutant G5 (fitting.py ChinchillaFit.compute_optimal: `D_opt_stderr=out.D_opt * se_log` ->
# `out.N_opt * se_log`): the delta-method stderr of D_opt was never checked (only N_opt's). D_opt = C / (6 N_opt),
# so both have the same relative standard error.
def test_d_opt_has_the_same_relative_stderr_as_n_opt():
    rng = np.random.default_rng(0)
    N = np.repeat(np.logspace(7, 9, 5), 4)
    D = np.tile(np.logspace(9, 11, 4), 5)
    L = CHINCHILLA_PUBLISHED.loss(N, D) * np.exp(0.01 * rng.standard_normal(N.size))
    fit = fit_chinchilla(N, D, L, starts=chinchilla_grid(thin=200))
    opt = fit.compute_optimal([1e20, 1e22])
    assert np.all(np.isfinite(opt.N_opt_stderr)) and np.all(opt.N_opt_stderr > 0)
    np.testing.assert_allclose(opt.D_opt_stderr / opt.D_opt, opt.N_opt_stderr / opt.N_opt, rtol=1e-10)


# (mutation check) mutant G2 (fitting.py _away_from_collapse: `starts[1:, index] = np.log(_E_FRACS * scale)` ->
# `_E_FRACS * scale`): the extra bootstrap starts of a Chinchilla fit whose E collapsed put E at exp(0.1 * min
# loss) etc. instead of at fractions of the smallest loss (for toy losses ~1e-2, E ~ 1, far above every loss). No
# test reached these starts.
def test_the_starts_away_from_a_collapsed_E_put_E_at_fractions_of_the_smallest_loss():
    p = np.array([5.0, 6.0, np.log(1e-9), 0.3, 0.3])
    starts = F._away_from_collapse(p, 2, 0.02)
    assert starts.shape == (1 + len(F._E_FRACS), 5)
    np.testing.assert_allclose(np.exp(starts[1:, 2]), F._E_FRACS * 0.02, rtol=1e-12)
    np.testing.assert_array_equal(starts[:, [0, 1, 3, 4]], np.broadcast_to(p[[0, 1, 3, 4]], (4, 4)))


# (mutation check) mutant G6 (fitting.py _refit_resamples: `np.where(sol.converged & np.isfinite(sol.value), ...)`
# -> without `sol.converged &`): bootstrap refits that stopped at max_iter were kept in the intervals instead of
# being dropped as failed. No test had unconverged resamples.
def test_unconverged_bootstrap_refits_are_dropped_not_kept():
    x = np.logspace(1, 3, 8)
    y = 2.0 * x**-0.5 + 0.1 + 0.01 * np.sin(np.arange(8.0))
    fit = fit_power_law(x, y, offset=True, bootstrap=40, max_iter=1)
    assert np.isnan(fit.intervals["exponent"]).all()
    assert any("bootstrap resamples failed" in n for n in fit.notes)


# (mutation check) mutant G7 (fitting.py fit_chinchilla: `_underdetermined(w, (N, 3), (D, 3), ...)` -> `(N, 2),
# (D, 2)`): bootstrap resamples with only 2 distinct N (or D), whose exponent is one of a family, were kept in the
# intervals. No test counted the Chinchilla bootstrap's dropped resamples.
def test_chinchilla_bootstrap_drops_resamples_with_fewer_than_three_distinct_n_or_d():
    rng = np.random.default_rng(1)
    N = np.repeat([1e7, 1e8, 1e9], 3)
    D = np.tile([1e9, 1e10, 1e11], 3)
    L = CHINCHILLA_PUBLISHED.loss(N, D) * np.exp(0.01 * rng.standard_normal(9))
    fit = fit_chinchilla(N, D, L, starts=chinchilla_grid(thin=200), bootstrap=40, seed=3)
    w = F._bootstrap_weights(3, 40, 9) > 0
    few = np.array([len(set(N[r])) < 3 or len(set(D[r])) < 3 or len(set(zip(N[r], D[r]))) < 5 for r in w])
    assert few.sum() > 0
    assert any(n.startswith(f"{few.sum()} of 40 bootstrap resamples drew too few distinct") for n in fit.notes)


# Mutants G8 (fitting.py _isoflop_optima: `u_opt = -coef[..., 1] / (2 * c2)` -> `/ c2`) and G9 (`L=coef[..., 0] -
# coef[..., 1] ** 2 / (4 * c2)` -> `/ (2 * c2)`): the IsoFLOP parabola's vertex and minimum loss. The tests' grids are
# centred on the optimum, where the linear coefficient is ~0 and both mistakes vanish; off centre they do not.
def test_isoflop_finds_the_vertex_of_an_exact_parabola_off_the_grid_centre():
    C = np.repeat([1e18, 1e19, 1e20], 7)
    n_star = 0.1 * C**0.5
    N = n_star * np.exp(0.6 + np.tile(np.linspace(-1.5, 1.5, 7), 3))  # the grid's centre is e^0.6 above the optimum
    L = 2.0 + 0.3 * np.log(N / n_star) ** 2
    fit = fit_isoflop(N, L, C=C)
    np.testing.assert_allclose(fit.N_opt, 0.1 * fit.C**0.5, rtol=1e-8)
    np.testing.assert_allclose(fit.L_opt, 2.0, rtol=1e-10)
    assert fit.a == pytest.approx(0.5, abs=1e-9)


# ----------------------------------------------------------------------------- a second hand mutation run
# (2026-12-05, fitting.py from `_away_from_collapse` to the end: each test below fails on the mutant(s) it
# describes; benchmarks/RESULTS.md, twenty-fifth session, counts the run)


# (mutation check) mutant A1 (_away_from_collapse: E counted as collapsed below 0.01 itself, not below 1 % of the
# smallest loss): the test above puts E at 1e-9, below both.
def test_a_term_counts_as_collapsed_below_1_percent_of_the_smallest_loss_whatever_its_scale():
    p = np.array([5.0, 6.0, np.log(0.015), 0.3, 0.3])
    assert len(F._away_from_collapse(p, 2, 2.0)) == 1 + len(F._E_FRACS)  # E = 0.015 < 1 % of a loss of 2
    np.testing.assert_array_equal(F._away_from_collapse(p, 2, 1.0), p[None])  # 0.015 > 1 % of a loss of 1


# (mutation checks) mutants E1 (max |log pred - log obs| without the absolute value), E2 (rmse_log as the mean |log
# error|), E3 (mean |log error| without the absolute value), E7 (the summary's held-out count given as the training
# count) and E6 (extrapolation_error not passing its loss on to the fit): the log errors had been checked only on an
# exact fit, where all are 0, and no test gave a loss.
def test_extrapolation_errors_are_those_of_the_held_out_predictions():
    rng = np.random.default_rng(0)
    x = np.logspace(1, 5, 40)
    y = (3.0 * x**-0.4 + 0.5) * np.exp(0.002 * rng.standard_normal(40))
    ex = extrapolation_error(x, y, cut=3e3)
    test = x > 3e3
    pred = ex.fit.prefactor * x[test] ** -ex.fit.exponent
    np.testing.assert_array_equal(ex.observed, y[test])
    np.testing.assert_allclose(ex.predicted, pred, rtol=1e-12)
    rel, lerr = pred / y[test] - 1, np.log(pred / y[test])
    assert lerr.max() < 0 < lerr.max() - lerr.min()  # all below the data, by different amounts
    np.testing.assert_allclose(ex.rel_error, rel, rtol=1e-9)
    assert (ex.mean_rel_error, ex.max_rel_error) == pytest.approx((np.abs(rel).mean(), np.abs(rel).max()), rel=1e-9)
    assert (ex.mean_log_error, ex.max_log_error, ex.rmse_log) == pytest.approx(
        (np.abs(lerr).mean(), np.abs(lerr).max(), np.sqrt(np.mean(lerr**2))), rel=1e-9)
    assert (ex.n_train, ex.n_test) == (25, 15)
    assert str(ex).splitlines()[0] == "Extrapolation  fit on x <= 3000 (25 points), predict x > 3000 (15 points)"
    huber = extrapolation_error(x, y, cut=3e3, loss="huber", huber_delta=0.01)
    direct = fit_power_law(x[~test], y[~test], loss="huber", huber_delta=0.01)
    assert huber.fit.loss == "huber" and huber.fit.exponent == pytest.approx(direct.exponent, rel=1e-12)


# (mutation checks) mutants E4 (chinchilla_extrapolation_error cutting on N D, not C = 6 N D) and E5 (5 runs below the
# cut accepted for the law's 5 parameters): the test above cut at one of the runs' own values, which orders the runs the
# same either way, and no test cut below 6 runs.
def test_chinchilla_extrapolation_cuts_on_six_n_d_and_needs_six_runs_below():
    N, D = np.repeat([1e8, 3e8, 1.1e9, 3e9], 3), np.tile([1e10, 3e10, 1e11], 4)
    C, L = 6 * N * D, CHINCHILLA_PUBLISHED.loss(N, D)
    truth = [[np.log(CHINCHILLA_PUBLISHED.A), np.log(CHINCHILLA_PUBLISHED.B), np.log(CHINCHILLA_PUBLISHED.E),
              CHINCHILLA_PUBLISHED.alpha, CHINCHILLA_PUBLISHED.beta]]
    cut = 2e20  # C from 6e18 to 1.8e21: 9 runs at or below it, 3 above (N D <= 2e20 for 11)
    ex = chinchilla_extrapolation_error(N, D, L, cut=cut, on="C", starts=truth)
    assert (ex.n_train, ex.n_test) == ((C <= cut).sum(), (C > cut).sum()) == (9, 3)
    np.testing.assert_array_equal(ex.observed, L[C > cut])
    assert ex.max_rel_error < 1e-6
    with pytest.raises(ValueError, match=r"leaves 5 point\(s\) with C <= cut and 7 above; the Chinchilla law needs at "
                                         r"least 6 below"):
        chinchilla_extrapolation_error(N, D, L, cut=6.3e19, on="C", starts=truth)


# (mutation checks) mutants B1 (_bpl_natural: the breaks not sorted), B2 (the slope changes not reordered with them)
# and B3 (nor the widths): with 1 break, as in every test, order is moot. The parameters come with the breaks in
# ascending order, each with its own change and width, and the slopes accumulate in that order.
def test_broken_power_law_parameters_come_in_ascending_break_order():
    import jax

    # 2 breaks optimised in descending order: d = e^8 (c = 0.2, f = e^-1), then d = e^4 (c = 0.5, f = e^-2)
    p = np.array([np.log(5.0), 0.3, 8.0, 0.2, -1.0, 4.0, 0.5, -2.0, np.log(0.1)])
    want = dict(prefactor=5.0, exponent=0.3, break1=np.exp(4.0), change1=0.5, smoothness1=np.exp(-2.0),
                break2=np.exp(8.0), change2=0.2, smoothness2=np.exp(-1.0), slope1=0.8, slope2=1.0)
    with jax.enable_x64(True):
        got = dict(zip(F._bpl_names(2, False), np.asarray(F._bpl_natural(jax.numpy.asarray(p[:-1]), 2, False))))
        with_offset = dict(zip(F._bpl_names(2, True), np.asarray(F._bpl_natural(jax.numpy.asarray(p), 2, True))))
    assert got == pytest.approx(want, rel=1e-12)
    assert with_offset == pytest.approx(dict(want, offset=0.1), rel=1e-12)


# (mutation check) mutant B6 (BrokenPowerLawFit.params: "offset" listed when none was fitted): params() is documented
# under the keys of stderr, which have no offset then; its dict and summary showed an offset of 0.
def test_broken_power_law_params_have_the_keys_of_its_stderr():
    for offset in (False, True):
        names = F._bpl_names(1, offset)
        fit = F.BrokenPowerLawFit(offset=0.1 if offset else 0.0, prefactor=5.0, exponent=0.3, breaks=(1e3,),
                                  changes=(0.5,), smoothness=(0.2,), r2=1.0, objective=0.0, grad_norm=0.0,
                                  iterations=1, converged=True, n_starts=1, n_points=60, x_range=(10.0, 1e5),
                                  fit_offset=offset, stderr=dict.fromkeys(names, 0.01))
        assert list(fit.params()) == names
        assert ("offset" in fit.to_dict(), "a (offset)" in str(fit)) == (offset, offset)


# (mutation check) mutant B4 (the note on a break outside the data range never written): no test had such a break.
def test_a_break_beyond_the_data_is_noted_as_extrapolated(bpl_fit):
    _, x = bpl_fit  # (60 points, as the fixture: its compiled programs serve)
    x = x / 100  # 0.1 .. 1000, the break at 2000
    fit = fit_broken_power_law(x, 5.0 * x**-0.3 * (1 + (x / 2e3) ** 2) ** (-0.5 * 0.5))
    assert fit.breaks[0] == pytest.approx(2e3, rel=1e-3)
    assert fit.notes == ("break 1 at d=2000 lies outside the data range [0.1, 1000]: its location and slope change "
                         "are extrapolated, not measured",)
    assert bpl_fit[0].notes == ()  # (a break inside is not noted)


# (mutation check) mutant B5 (fit_broken_power_law: resamples dropped below 4 distinct x, not below the 5 parameters of
# one break): no broken-power-law bootstrap had so few points that a resample could draw too few sizes.
def test_broken_power_law_bootstrap_drops_resamples_with_fewer_distinct_x_than_parameters():
    x = np.logspace(1, 4, 7)
    y = _bpl(x, b=5.0, c0=0.3, c1=0.5, d=300.0, f=0.2) * np.exp(0.01 * np.random.default_rng(0).standard_normal(7))
    fit = fit_broken_power_law(x, y, bootstrap=40, seed=0)
    drawn = np.asarray(F._bootstrap_weights(0, 40, 7)) > 0  # (the fit's own draws)
    few = int((drawn.sum(axis=1) < 5).sum())  # 1 break: log b, c0, d, c1, f
    assert 0 < few < 40 and (drawn.sum(axis=1) < 4).sum() < few
    assert f"{few} of 40 bootstrap resamples drew too few distinct x (fewer than 5) for a unique fit" in fit.notes[0]


# (mutation checks) mutants L1 (the summary's stderr of b printed as nan), L2 (to_dict's prefactor_stderr given a's)
# and L3 (to_dict's C_range with the smallest budget twice): the report of an allocation fit was read for a, b and the
# intervals only. b = 1 - a has a's standard error; k's is the delta method's k se(log k), both from the OLS of
# log N_opt on log C.
@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_allocation_report_gives_the_ols_standard_errors_and_the_budget_range(fit_fn):
    N, C, L = _noisy_isoflop_runs()
    fit = fit_fn(N, L, C=C)
    X, y = np.stack([np.ones(len(fit.C)), np.log(fit.C)], 1), np.log(fit.N_opt)
    coef, rss = np.linalg.lstsq(X, y, rcond=None)[:2]
    se = np.sqrt(np.diag(rss[0] / (len(y) - 2) * np.linalg.inv(X.T @ X)))
    assert (fit.a, fit.a_stderr) == pytest.approx((coef[1], se[1]), rel=1e-6)
    d = fit.to_dict()
    assert d["prefactor_stderr"] == pytest.approx(np.exp(coef[0]) * se[0], rel=1e-6)
    assert d["C_range"] == pytest.approx([1e18, 1e22], rel=1e-9) and d["n_budgets"] == 9
    rows = {row.split()[0]: row.split() for row in str(fit).splitlines()[2:5]}
    assert [float(rows[k][2]) for k in ("a", "k", "b=1-a")] == pytest.approx([se[1], d["prefactor_stderr"], se[1]],
                                                                             rel=1e-5)


# (mutation check) mutant L7b (fit_isoflop's "few" flag counting only groups of 2 or more runs): a budget of a single
# run was dropped without the note.
def test_isoflop_notes_a_budget_of_a_single_run_as_dropped():
    N, C, L = _isoflop_runs()
    fit = fit_isoflop(np.append(N, 1e9), np.append(L, 2.0), C=np.append(C, 1e23))
    assert len(fit.C) == 9 and fit.C.max() == pytest.approx(1e22, rel=1e-9)
    assert fit.notes == ("1 budget(s) with fewer than 3 distinct N dropped",)
