"""Budget groups of Chinchilla approaches 1 and 2 when C scatters by rounding, and argument checks of the fits."""

import re

import jax
import numpy as np
import pytest

from toyscale.fitting import (
    CHINCHILLA_PUBLISHED,
    NotIdentifiableError,
    _Groups,
    _bootstrap_weights,
    _budget_groups,
    _isoflop_residual_losses,
    _local_quadratic,
    compute_optimal,
    extrapolation_error,
    fit_broken_power_law,
    fit_chinchilla,
    fit_frontier,
    fit_isoflop,
    fit_power_law,
)

A_TRUE = CHINCHILLA_PUBLISHED.a


def _integer_runs(budgets=np.logspace(15, 18, 7)):
    """7 budgets x 9 runs with integer N and integer D = round(C / 6N): C = 6 N D scatters by ~2e-8 relative
    (by up to 4.9e-4 at budgets of 1e7..1e10 FLOPs, where D goes down to 413 tokens)."""
    n_opt = compute_optimal(CHINCHILLA_PUBLISHED, budgets).N_opt
    N = np.round((n_opt[:, None] * np.exp(np.linspace(-1.5, 1.5, 9))[None, :]).ravel())
    D = np.round(np.repeat(budgets, 9) / (6 * N))
    return N, D, CHINCHILLA_PUBLISHED.loss(N, D)


@pytest.mark.parametrize("bins", [None, 7])
@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_budgets_from_integer_tokens_are_one_budget_each(fit_fn, bins):
    # before: bins=7 made every IsoFLOP group singular (budget terms fitted to a 2e-8 scatter; NotIdentifiableError)
    # and noted the frontier's groups as having too few runs; bins=None split each budget by its rounding
    # scatter (frontier: 39 "budgets" of single runs, a = 0.5726 without a note; IsoFLOP: 6 budgets, a = 0.4691)
    N, D, L = _integer_runs()
    fit = fit_fn(N, L, D=D, bins=bins)
    assert len(fit.C) == 7 and np.all(fit.n_runs == 9) and fit.notes == ()
    assert fit.a == pytest.approx(A_TRUE, abs=1e-4)


@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_toy_scale_budgets_with_a_few_hundred_tokens_stay_one_budget_each(fit_fn):
    # C scatters by up to 4.9e-4 here; grouping within 1e-4 of the previous run had split the budgets
    # (frontier: 8 budgets, a = 0.427; IsoFLOP: 6 budgets dropped)
    N, D, L = _integer_runs(np.logspace(7, 10, 7))
    fit = fit_fn(N, L, D=D)
    assert len(fit.C) == 7 and np.all(fit.n_runs == 9) and fit.notes == ()
    assert fit.a == pytest.approx(A_TRUE, abs=1e-3)


def test_budget_groups_do_not_chain_densely_spread_compute():
    # 200 runs 0.9e-4 apart in log C (1.8 % in all) had become one budget through their neighbours
    C = np.exp(np.log(1e18) + 0.9e-4 * np.arange(200))
    groups = _budget_groups(C, None, np.ones((1, C.size)))
    span = [np.ptp(np.log(C[groups.g[0] == k])) for k in range(groups.G)]
    assert groups.G == 2 and max(span) <= 1e-2


@pytest.mark.parametrize("fit_fn", [fit_frontier])  # (fit_isoflop resamples residuals: tested below)
def test_bootstrap_with_rounded_budgets_equals_refits_of_resampled_runs(fit_fn):
    N, D, L = _integer_runs()
    L = L * np.exp(0.003 * np.random.default_rng(1).standard_normal(L.size))
    fit = fit_fn(N, L, D=D, bootstrap=40, seed=5)  # (the fewest a 95 % interval takes)
    assert len(fit.C) == 7
    with jax.enable_x64(True):
        w = np.asarray(_bootstrap_weights(5, 40, len(N))).astype(int)
    for r in (0, 5):
        idx = np.repeat(np.arange(len(N)), w[r])
        one = fit_fn(N[idx], L[idx], D=D[idx])
        assert len(one.C) == 7
        np.testing.assert_allclose(fit.boot_log_params[r], [np.log(one.prefactor), one.a], rtol=1e-9, atol=1e-12)


def test_budget_terms_are_solved_for_at_any_scatter():
    # the v columns are scaled by the group's largest |v|: with v ~ 1e-7 the unscaled normal equations had
    # cond ~ 1e20 and every group came back NaN (singular)
    rng = np.random.default_rng(0)
    u = np.tile(np.linspace(-1.5, 1.5, 9), 2)
    v = 1e-7 * rng.standard_normal(u.size)
    lN, lC = 20.0 + u, 40.0 + v
    g = np.repeat([0, 1], 9)[None]
    grp = _Groups(np.ones((1, u.size)), g, 2)
    mu = np.array([[lN[:9].mean(), lN[9:].mean()]])
    nu = np.array([[lC[:9].mean(), lC[9:].mean()]])
    uc, vc = lN - mu[0, g[0]], lC - nu[0, g[0]]
    L = 3.0 + 0.2 * uc + 0.05 * uc**2 - 0.3 * vc + 0.02 * uc * vc
    coef = _local_quadratic(lN, lC, L, grp, mu, nu, np.array([[True, False]]))
    np.testing.assert_allclose(coef[0, 0], [3.0, 0.2, 0.05, -0.3, 0.02], rtol=1e-5, atol=1e-9)
    assert np.all(np.isfinite(coef[0, 1])) and np.all(coef[0, 1, 3:] == 0.0)


def test_frontier_drops_groups_with_a_single_n():
    N, D, L = _integer_runs()
    base = fit_frontier(N, L, D=D)
    # one extra run at a budget of its own: its lowest-loss run is itself, no frontier point
    N1, D1 = np.append(N, 3e7), np.append(D, 4e9)
    fit = fit_frontier(N1, CHINCHILLA_PUBLISHED.loss(N1, D1), D=D1)
    assert len(fit.C) == 7 and fit.a == base.a
    assert any(n.startswith("1 budget group(s) with runs of a single N dropped") for n in fit.notes), fit.notes
    # every run at a budget of its own (C 37 % apart, without bins): no frontier at all, and the error says why
    Nr, Dr = np.logspace(6, 8, 30), np.logspace(8, 10, 30)
    with pytest.raises(NotIdentifiableError, match=r"0 distinct budget.*30 budget group\(s\) with runs of a single N"):
        fit_frontier(Nr, CHINCHILLA_PUBLISHED.loss(Nr, Dr), D=Dr)


_X = np.logspace(1, 3, 10)
_Y = 2 * _X**-0.5


@pytest.mark.parametrize("call, error, match", [
    (lambda: extrapolation_error([], [], cut=1.0), ValueError, r"x and y are empty \(0 points\)"),
    (lambda: fit_frontier([], [], C=[]), ValueError, r"N, C and loss are empty \(0 points\)"),
    (lambda: fit_isoflop([], [], D=[]), ValueError, r"N, D and loss are empty \(0 points\)"),
    (lambda: fit_chinchilla(_X, _X[::-1], _Y, starts="abc"), TypeError, r"starts='abc'; starts must be a finite"),
    (lambda: fit_chinchilla(_X, _X[::-1], _Y, starts=[[1, 2, 3, 4, "a"]]), TypeError, r"starts must be a finite"),
    (lambda: fit_chinchilla(_X, _X[::-1], _Y, max_iter=2**31), ValueError,
     r"max_iter=2147483648; must be an integer in \[1, 2147483647\]"),
    (lambda: fit_power_law(_X, _Y, offset=True, max_iter=2**31), ValueError, r"max_iter=2147483648; must be"),
    (lambda: fit_broken_power_law(_X, _Y, max_iter=2**31), ValueError, r"max_iter=2147483648; must be"),
    (lambda: fit_power_law(_X, _Y, offset="no"), TypeError, r"offset='no'; offset must be True or False"),
    (lambda: extrapolation_error(_X, _Y, cut=100.0, offset="no"), TypeError, r"offset='no'; offset must be True"),
    (lambda: fit_broken_power_law(_X, _Y, offset=1), TypeError, r"offset=1; offset must be True or False"),
    (lambda: fit_power_law(_X, _Y, loss="huber", huber_delta=True), TypeError, r"huber_delta=True; huber_delta must"),
    (lambda: extrapolation_error(_X, _Y, cut="100"), TypeError, r"cut='100'; cut must be a number"),
], ids=["extrapolation-empty", "frontier-empty", "isoflop-empty", "starts-str", "starts-nonnumeric",
        "chinchilla-max_iter", "power-law-max_iter", "bpl-max_iter", "power-law-offset", "extrapolation-offset",
        "bpl-offset", "huber-delta-bool", "cut-str"])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _fixed_grid_runs():
    """11 budgets 1e17..1e22 over one N grid (1e8..1e9): the published optimum lies inside the grid at the 4
    budgets 10^18.5..10^20 and below or above it at the other 7."""
    budgets = np.logspace(17, 22, 11)
    N = np.tile(np.logspace(8, 9, 9), budgets.size)
    C = np.repeat(budgets, 9)
    return N, C, CHINCHILLA_PUBLISHED.loss(N, C / (6 * N)), budgets


@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_bracketed_keeps_only_budgets_whose_optimum_lies_inside_their_runs(fit_fn):
    N, C, L, budgets = _fixed_grid_runs()
    plain = fit_fn(N, L, C=C)
    # the edge budgets pull a down (frontier 0.255, IsoFLOP 0.391 against 0.457), with a note saying so
    assert len(plain.C) == 11 and plain.a < A_TRUE - 0.06
    assert any(n.startswith("7 budget(s)") and "bracketed=True drops them" in n for n in plain.notes)
    fit = fit_fn(N, L, C=C, bracketed=True)
    np.testing.assert_allclose(fit.C, budgets[3:7], rtol=1e-9)
    assert fit.a == pytest.approx(A_TRUE, abs=0.035)
    assert any(n.startswith("7 budget(s)") and n.endswith("dropped (bracketed=True)") for n in fit.notes)


def test_bracketed_applies_within_each_bootstrap_resample():
    N, C, L, _ = _fixed_grid_runs()
    # every resample refits on its own bracketed budgets: the interval holds the bracketed fit's a (0.4475),
    # far above the plain fit's interval (0.39). (Noise-free: the residuals are the parabola's misfit, and
    # the interval [0.443, 0.452] does not reach the published 0.4565, a bias of approach 2 that no
    # resampling of this design shows; the case bootstrap's had, being 4-6x too wide.)
    bracketed = fit_isoflop(N, L, C=C, bracketed=True, bootstrap=40)
    lo, hi = bracketed.intervals["a"]
    assert lo < bracketed.a < hi and bracketed.a == pytest.approx(0.4475, abs=1e-3)
    plain_lo, plain_hi = fit_isoflop(N, L, C=C, bootstrap=40).intervals["a"]
    assert plain_hi < lo and plain_hi < A_TRUE


@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_bracketed_must_be_a_bool(fit_fn):
    N, C, L, _ = _fixed_grid_runs()
    with pytest.raises(TypeError, match="bracketed='yes'; bracketed must be True or False"):
        fit_fn(N, L, C=C, bracketed="yes")


def test_bracketed_notes_count_only_the_budgets_kept():
    # an N x time grid (C = N t) in 12 bins: the 2 budgets compared as they stand are both edge budgets;
    # with bracketed=True the note had still counted them among the fit's budgets
    widths, t = np.array([4, 8, 16, 32, 64.0]), np.geomspace(10, 1e4, 30)
    N, T = np.repeat(widths, t.size), np.tile(t, widths.size)
    L = 1.0 / N**0.5 + 5.0 / T**0.5
    edges = np.geomspace((N * T).min(), (N * T).max(), 13)
    edges[0], edges[-1] = edges[0] * 0.999, edges[-1] * 1.001
    plain = fit_frontier(N, L, C=N * T, bins=edges)
    assert any(n.startswith("2 budget group(s) with scattered C but too few runs") for n in plain.notes)
    fit = fit_frontier(N, L, C=N * T, bins=edges, bracketed=True)
    assert not any("compared as they stand" in n for n in fit.notes)
    assert any(n.startswith("7 budget(s)") and n.endswith("dropped (bracketed=True)") for n in fit.notes)


def test_frontier_ties_for_the_lowest_loss_do_not_depend_on_the_order_of_the_runs():
    # losses logged to 1 decimal tie; ties had gone to the first run given: a was 0.33 as given, 0.58 reversed
    budgets = np.logspace(18, 22, 5)
    n_opt = compute_optimal(CHINCHILLA_PUBLISHED, budgets).N_opt
    N = (n_opt[:, None] * np.logspace(-1, 1, 9)[None, :]).ravel()
    C = np.repeat(budgets, 9)
    L = np.round(CHINCHILLA_PUBLISHED.loss(N, C / (6 * N)), 1)
    shuffled = np.random.default_rng(0).permutation(N.size)
    for bracketed in (False, True):
        fits = [fit_frontier(N[o], L[o], C=C[o], bracketed=bracketed) for o in (slice(None), slice(None, None, -1),
                                                                                 shuffled)]
        for fit in fits[1:]:
            assert fit.a == fits[0].a and fit.notes == fits[0].notes
            np.testing.assert_array_equal(fit.N_opt, fits[0].N_opt)
            np.testing.assert_array_equal(fit.L_opt, fits[0].L_opt)
    assert any(n.startswith("4 budget(s) with runs of different N tied for the lowest loss") for n in fits[0].notes)
    # of runs tied at N = 1, 2, 4 (and one not drawn), the middle N is taken whatever their order
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 4, 0, 3, 1]):
        n, loss, w = np.array([1.0, 2, 4, 8, 0.5])[order], np.array([1.0, 1, 1, 2, 0])[order], np.array(
            [1.0, 1, 1, 1, 0])[order]
        best, has, (lowest, highest) = _Groups(w[None], np.zeros((1, 5), int), 1).argmin(loss, np.log(n))
        assert has[0, 0] and (n[best[0, 0]], n[lowest[0, 0]], n[highest[0, 0]]) == (2.0, 1.0, 4.0)


@pytest.mark.parametrize("fit_fn", [fit_frontier, fit_isoflop])
def test_runs_on_the_last_bin_edge_are_kept_and_a_scalar_bins_is_named(fit_fn):
    # the last bin is closed as numpy.histogram's: the 7 runs of the largest budget, exactly on the last edge,
    # had been dropped; a float or bool bins had been read as "bins has 1 edge(s)"
    budgets = np.logspace(18, 22, 5)
    N = (compute_optimal(CHINCHILLA_PUBLISHED, budgets).N_opt[:, None] * np.logspace(-0.8, 0.6, 7)[None, :]).ravel()
    C = np.repeat(budgets, 7)
    L = CHINCHILLA_PUBLISHED.loss(N, C / (6 * N))
    on_edge = fit_fn(N, L, C=C, bins=[1e17, 3e18, 3e19, 3e20, 3e21, 1e22])
    beyond = fit_fn(N, L, C=C, bins=[1e17, 3e18, 3e19, 3e20, 3e21, 1e23])
    assert len(on_edge.C) == 5 and on_edge.a == beyond.a and on_edge.notes == beyond.notes == ()
    # the first edge stays closed and anything above the last one is still outside
    assert not any("outside the bin edges" in n for n in fit_fn(N, L, C=C, bins=[1e18, 3e18, 3e19, 3e20,
                                                                                  3e21, 1e22]).notes)
    assert any(n.startswith("7 run(s) outside") for n in fit_fn(N, L, C=C, bins=[1e17, 3e18, 3e19, 3e20,
                                                                                 3e21, 9.9e21]).notes)
    for bins in (5.0, True, np.float64(5)):
        with pytest.raises(TypeError, match=rf"bins={re.escape(repr(bins))}; bins must be None, an int number of bins"):
            fit_fn(N, L, C=C, bins=bins)


def _exact_parabola_runs(seed, budgets=np.logspace(18, 22, 9)):
    """9 budgets x 9 N centred on N_opt = 0.1 C^0.5, loss exactly 2 + 0.3 log(N / N_opt)^2 times 0.1 % log-noise:
    the model of approach 2 is exact."""
    n_opt = 0.1 * budgets**0.5
    N = (n_opt[:, None] * np.logspace(-0.4, 0.4, 9)[None, :]).ravel()
    C = np.repeat(budgets, 9)
    noise = np.exp(0.001 * np.random.default_rng(seed).standard_normal(N.size))
    return N, C, (2 + 0.3 * np.log(N / (0.1 * C**0.5)) ** 2) * noise


def test_isoflop_bootstrap_interval_matches_the_spread_of_a_over_seeds():
    # the design (each run's N and C) is fixed, so the runs' losses are resampled by their residuals within each
    # budget; resampling the runs themselves changed how many runs and which N each budget got, and lopsided
    # budgets extrapolated their minima: the 95 % half-width of a was 2.4-4.9x (median 4.0x) 1.96 a_stderr on
    # these 6 seeds, now 0.9-1.45x (median 1.2x)
    ratio = []
    for seed in range(6):
        N, C, L = _exact_parabola_runs(seed)
        fit = fit_isoflop(N, L, C=C, bootstrap=200, seed=seed)
        lo, hi = fit.intervals["a"]
        assert lo < fit.a < hi and fit.bootstrap_failed == 0
        ratio.append((hi - lo) / 2 / (1.96 * fit.a_stderr))
    assert 0.5 < np.median(ratio) < 2.0


@pytest.mark.parametrize("bins", [None, 9])
def test_isoflop_bootstrap_is_reproducible_and_resample_r_does_not_depend_on_r(bins):
    N, C, L = _exact_parabola_runs(0)
    if bins is not None:  # C scattered by 10 %: groups with budget terms
        C = C * np.exp(0.1 * np.random.default_rng(1).standard_normal(C.size))
    fit = fit_isoflop(N, L, C=C, bins=bins, bootstrap=40, seed=7)
    again = fit_isoflop(N, L, C=C, bins=bins, bootstrap=40, seed=7)
    assert again.intervals == fit.intervals
    np.testing.assert_array_equal(again.boot_log_params, fit.boot_log_params)
    more = fit_isoflop(N, L, C=C, bins=bins, bootstrap=200, seed=7)  # two blocks of draws (128 rows each)
    np.testing.assert_array_equal(more.boot_log_params[:40], fit.boot_log_params)
    other = fit_isoflop(N, L, C=C, bins=bins, bootstrap=40, seed=8)
    assert other.intervals["a"] != fit.intervals["a"]


@pytest.mark.parametrize("bins", [None, 9, [1e17, 3e18, 3e19, 3e20, 3e21, 9e21]])
def test_isoflop_bootstrap_refits_the_runs_as_given_with_resampled_losses(bins):
    # resample r is the point fit's fitted losses plus residuals drawn within each group: the batched pass equals
    # fit_isoflop refitted on those losses one by one; runs outside the bin edges keep their loss
    N, C, L = _exact_parabola_runs(3)
    if bins == 9:
        C = C * np.exp(0.1 * np.random.default_rng(1).standard_normal(C.size))
    fit = fit_isoflop(N, L, C=C, bins=bins, bootstrap=40, seed=2)
    with jax.enable_x64(True):
        grp = _budget_groups(C, bins, np.ones((1, N.size)))
        Lb = _isoflop_residual_losses(N, C, L, grp, 40, 2, min_runs=3, notes=[])
    assert Lb.shape == (40, N.size) and not np.array_equal(Lb[0], L)
    out = grp.w[0] == 0
    assert out.sum() == (9 if isinstance(bins, list) else 0) and np.all(Lb[:, out] == L[out])
    for r in (0, 13, 39):
        one = fit_isoflop(N, Lb[r], C=C, bins=bins)
        np.testing.assert_allclose(fit.boot_log_params[r], [np.log(one.prefactor), one.a], rtol=1e-9, atol=1e-12)


def test_isoflop_bootstrap_of_budgets_without_spare_runs_is_not_a_zero_width_interval():
    # 3 runs for a parabola's 3 coefficients: the residuals are 0 whatever the noise, and every resample had
    # equalled the data (an interval of width 5e-16 with no note)
    N, C, L = _exact_parabola_runs(0)
    L = L * np.exp(0.02 * np.random.default_rng(4).standard_normal(L.size))
    three = np.tile(np.isin(np.arange(9), [0, 4, 8]), 9)
    fit = fit_isoflop(N[three], L[three], C=C[three], bootstrap=40)
    assert np.isnan(fit.intervals["a"]).all() and fit.bootstrap_failed == 40
    assert any(n.startswith("no budget has more runs than its local fit's coefficients") for n in fit.notes)
    assert not any("resamples" in n for n in fit.notes), fit.notes  # (more of them would not help)
    # each run listed twice: 6 rows for 3 coefficients, and still no residual (had been a zero-width interval)
    twice = np.concatenate([np.flatnonzero(three)] * 2)
    fit = fit_isoflop(N[twice], L[twice], C=C[twice], bootstrap=40)
    assert np.isnan(fit.intervals["a"]).all()
    assert any(n.startswith("no budget has more runs than its local fit's coefficients") for n in fit.notes)
    # budgets with spare runs lend their residuals to those without
    mixed = three | (C > 1e21)
    fit = fit_isoflop(N[mixed], L[mixed], C=C[mixed], bootstrap=40)
    lo, hi = fit.intervals["a"]
    assert lo < fit.a < hi and hi - lo > fit.a_stderr and fit.bootstrap_failed == 0
    assert any(n.startswith("7 budget(s) with no more runs than their local fit's coefficients") for n in fit.notes)


# ----------------------------------------------------------------------------- a second hand mutation run
# (2026-12-05, fitting.py from `_away_from_collapse` to the end: each test below fails on the mutant(s) it
# describes; benchmarks/RESULTS.md, twenty-fifth session, counts the run)


# (mutation checks) mutants L12 (an int bins equal to the number of runs refused as "more bins than the runs") and L13
# (the first log-spaced edge left at exp(log(smallest C)), which rounds above it about as often as not): the bins
# cover every drawn run, one bin per run allowed.
def test_log_spaced_bins_cover_every_run_and_may_be_as_many_as_the_runs():
    rng = np.random.default_rng(0)
    for _ in range(20):
        C = 6.0 * rng.integers(10**6, 10**9, 12) * rng.integers(10**3, 10**6, 12)  # (integer N and D: not exp(log))
        for bins in (3, 12):
            grp = _budget_groups(C, bins, np.ones((1, C.size)))
            assert grp.G == bins and np.all(grp.w == 1) and grp.g.min() == 0 and grp.g.max() == bins - 1
    with pytest.raises(ValueError, match="bins=13; more bins than the 12 runs"):
        _budget_groups(C, 13, np.ones((1, C.size)))


# (mutation checks) mutants L20 (residuals not scaled by sqrt(m / (m - p))), L21 (p = 3 coefficients counted for a
# group fitted with its 2 budget terms too), L22 (a group's residuals looked up at the next group's offset) and L23
# (every run drawing from the pooled residuals): the tests refit what _isoflop_residual_losses returns, which passes
# whatever it draws. Each resampled loss is its fitted value plus one of its own group's residuals, scaled by
# sqrt(m / (m - p)); the fits are done here by numpy least squares.
@pytest.mark.parametrize("scattered", [False, True])
def test_isoflop_residual_resamples_draw_their_own_budgets_scaled_residuals(scattered):
    N, C, L = _exact_parabola_runs(1)
    L = L * np.exp(0.01 * np.random.default_rng(2).standard_normal(L.size))
    budgets = np.logspace(18, 22, 9)
    bins = None
    if scattered:  # 10 % around the budgets, edges between them: 9 runs per group, each with its 2 budget terms
        C = C * np.exp(0.1 * np.random.default_rng(3).standard_normal(C.size))
        bins = np.concatenate([[budgets[0] / 2], np.sqrt(budgets[1:] * budgets[:-1]), [budgets[-1] * 2]])
    with jax.enable_x64(True):
        grp = _budget_groups(C, bins, np.ones((1, N.size)))
        Lb = _isoflop_residual_losses(N, C, L, grp, 40, 0, min_runs=3, notes=[])
    for k in range(9):
        at = grp.g[0] == k
        u, v = np.log(N[at]) - np.log(N[at]).mean(), np.log(C[at]) - np.log(C[at]).mean()
        X = np.stack([np.ones_like(u), u, u**2] + ([v, u * v] if scattered else []), 1)
        fitted = X @ np.linalg.lstsq(X, L[at], rcond=None)[0]
        own = (L[at] - fitted) * np.sqrt(9 / (9 - X.shape[1]))
        drawn = Lb[:, at] - fitted  # (40, 9)
        assert np.abs(drawn[..., None] - own).min(-1).max() < 1e-9, k
        assert len(np.unique(np.round(drawn / 1e-9))) > 5  # (draws, not one residual)
