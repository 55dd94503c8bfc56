"""Calibration of the fits: Chinchilla standard-error coverage, and budget bins for approaches 1 and 2.

Study 1, standard-error coverage of `fit_chinchilla` (approach 3).  Each data set is 60 runs of
the published law (`CHINCHILLA_PUBLISHED`, L = E + A/N^alpha + B/D^beta) on a fixed log grid,
6 model sizes N in 1e7..1e10 times 10 token counts D in 1e9..1e12 (``--design random``: 60 runs
log-uniform on the same box, redrawn per data set), with 1 % log-normal noise on L.  Each is
fitted with the default method (sum of Huber losses, published delta = 1e-3) and with
``method="mle"`` (Huber likelihood with a fitted scale, its default delta = 1 on standardised
residuals), from three starts (the truth and the truth shifted by +-(0.5, 0.5, 0.1, 0.05, 0.05)
in (log A, log B, log E, alpha, beta)), so the study measures the standard errors, not the
search; ``--check-search K`` refits the first K data sets from the published 4,500-start grid
and prints how far those optima lie from the three-start ones.  Per method it prints, for
alpha, beta, E and a = beta/(alpha+beta) (the fit's ``a`` and ``stderr["a"]``, delta method):
the median standard error, the coverage (share of data sets with |estimate - truth| <= 1.96
stderr; its binomial standard error is printed beside it) and the Monte-Carlo sd of the
estimates, and the mean number of residuals inside the Huber delta against the number the
noise alone puts there.  Data set i is the same for both methods (the mle sets are the first
``--mle-datasets`` of the Huber ones).

Study 2, budget bins and the frontier exponent (approaches 1 and 2).  IsoFLOP designs from the
published law: 9 budgets C = 1e18..1e22 (log-spaced), 15 N per budget on exp(linspace(-1.5,
1.5)) times that budget's N_opt, D = C/(6N) (the design of tests/test_fitting_extra.py).  Each
run's C is then scattered log-normally (sd 0.1 in log C, i.e. ~10 %) and its loss computed at
its own compute (noise-free unless ``--loss-noise``), over ``--seeds`` seeds.  `fit_frontier`
and `fit_isoflop` are run four ways: ``C`` as scattered without bins (groups of C within 1 %);
``bins=9`` (9 log-spaced bins over the scattered range of C); ``bins=edges`` (10 edges at the
geometric midpoints between the budgets, budget/2 and budget*2 at the ends: each run in its own
budget's bin); and the nominal budget passed as C (runs of a budget compared as they stand, with
no account of their different compute: the comparison that bins replaced).  Prints the mean and
seed-to-seed sd of the fitted a against the true a, and the notes the fits gave.

Study 3, the seed bootstrap of `width_exponent`.  Width curves L = 2 m^-0.5 with each model's
loss scattered log-normally (sd 0.1) around it, k seeds per width, on 3 widths (4, 8, 16) and on
5 (8..128); ``--width-sets`` curves each.  Prints the Monte-Carlo sd of the fitted exponent, the
median of the fit's own (OLS) stderr and the coverage of +-1.96 of it and of the fit's 95 %
Student-t interval (`PowerLawFit.t_interval`, n_widths - 2 dof), and the mean exponent sd of
the seed bootstrap (400 resamples) and the coverage of its 95 % interval; then the median
half-width of that interval, and the median half-width and coverage of the same resamples'
interval with ``widen="t"`` (stretched by Student's t over the normal quantile on the
Welch-Satterthwaite degrees of freedom of the redrawn spread).

Study 4, the points bootstrap of `fit_power_law`.  Curves L = 2 m^-0.5 + E, each width's loss the
mean of 2 seeds scattered log-normally (sd 0.05); ``--offset-sets`` curves per row.  Without the
offset (E = 0, 3, 4, 5 and 8 widths from 8, doubling, 400 resamples): coverage of the 95 % and
68 % percentile intervals and of the t-interval.  With the offset (E = 0.1 or 0, 5 or 8 widths,
200 resamples): how many fits are not identifiable (the offset collapsed onto ~0), and the
coverage of the t-interval (undefined there, so not covering) and of the bootstrap interval,
over all fits and over the collapsed ones.

Study 6, the bootstrap of `fit_isoflop` (``--studies 6``).  9 budgets 1e18..1e22 x 9 N at
N_opt x 10^linspace(-0.4, 0.4) (centred on each budget's optimum), losses with log-normal noise
(sd ``--grid-noise``) over ``--iso-seeds`` seeds, two laws: exactly a parabola in log N
(N_opt = 0.1 C^0.5, a = 0.5) and the published one.  Prints the mean and sd of a over seeds, the
median stderr, the median half-width of the 95 % interval (``--iso-resamples`` residual resamples)
and its ratio to 1.96 sd, the share of seeds whose interval holds the true a, and with
``--case-resamples R`` the same half-width when the runs themselves are resampled and each
resample refitted (the bootstrap fit_isoflop used before).

Study 5, budgets whose optimum the runs do not bracket.  One N grid (9 N, 1e8..1e9) under each of
11 budgets 1e17..1e22, D = C/(6N), losses of the published law with log-normal noise (sd
``--grid-noise``, 0.1 %) over ``--seeds`` seeds: the published optimum lies inside the grid at 4
budgets and beyond it at 7.  `fit_frontier` and `fit_isoflop` on every budget and with
``bracketed=True`` (only budgets whose lowest-loss run, or parabola minimum, lies inside their N
range); prints the mean and sd of a as in study 2.

Study 7, `toyscale.scaling.redraw_table` (``--studies 7``), the seed redraw of a whole analysis that
compute_optimal.py and plrf_frontier.py use: study 3's curves as sweep records, the analysis the
mean per width and a power law through the means, ``--redraw-resamples`` redraws, ``--redraw-sets``
curves per row. Prints the Monte-Carlo sd of the exponent, the median half-width of the 95 %
interval, its ratio to 1.96 sd and its coverage, beside width_exponent's seed bootstrap of the
same curves (the same kind of redraws, its own draws, widened through the replicates' spread
instead). Three more rows give the widths different numbers of seeds (8,8,2,2,2; 2,2,2,8,8;
32,11,2,2,2), where redraw_table draws more of a width of more models. A second table gives both
with ``widen="t"`` (redraw_table's degrees of freedom from its reruns' regression on the draws,
width_exponent's from the closed-form fit's weights), and the ratio of the two degrees of freedom
on each curve (median and range).

Study 8, `toyscale.scaling.lack_of_fit` (``--studies 8``): ``--lof-sets`` curves per row of three
(4, 8, 16) or five (8 … 128) widths with 2, 4 or 8 seeds, log-normal seed noise of sd 0.1 times
a factor of exp(U(-0.7, 0.7)) of each width's own (noise that differs from width to width), about
L = 2 m^-0.5 and about the same law bent by ``bend`` (log L + bend (log m - mean log m)^2, bend 0.1
and 0.3). Prints how often p < 0.05 (the test's size on the straight law, its power on the bent
ones) and the median ratio. Six more rows test ``paired=True`` on five widths whose models share
their draws: a seed's level of sd 0.1 at every width, each model's own noise of sd 0.03.

    python benchmarks/fit_calibration.py [--studies 1,2,3,4,5,6,7,8] [--datasets 200] [--mle-datasets 100]
        [--design grid] [--check-search 3] [--seeds 20] [--scatter 0.1] [--loss-noise 0] [--width-sets 200]
        [--offset-sets 100] [--grid-noise 0.001] [--iso-seeds 10] [--iso-resamples 400] [--case-resamples 0]
        [--redraw-sets 100] [--redraw-resamples 400] [--lof-sets 400] [--seed 0] [--json out.json]
"""

import argparse
import collections
import math
import os
import platform
import re
import time

import jax
import numpy as np
import optax
import scipy

from toyscale.cli import int_in
from toyscale.fitting import (CHINCHILLA_PUBLISHED, compute_optimal, fit_chinchilla, fit_frontier, fit_isoflop,
                              fit_power_law)
from toyscale.io import atomic_write_json
from toyscale.scaling import WidthCurve, lack_of_fit, redraw_table, width_exponent
from toyscale.sweep import Record

P = CHINCHILLA_PUBLISHED
TRUE_LOG = np.array([math.log(P.A), math.log(P.B), math.log(P.E), P.alpha, P.beta])
PARAMS = ("alpha", "beta", "E", "a")
TRUE = np.array([P.alpha, P.beta, P.E, P.a])
STARTS = TRUE_LOG + np.array([[0.0] * 5, [0.5, 0.5, 0.1, 0.05, 0.05], [-0.5, -0.5, -0.1, -0.05, -0.05]])
RUNS, NOISE, DELTA = 60, 0.01, 1e-3
BUDGETS = np.logspace(18, 22, 9)
PER_BUDGET = 15
GRID_BUDGETS, GRID_N = np.logspace(17, 22, 11), np.logspace(8, 9, 9)  # study 5


def _pattern(note: str) -> str:
    """A note with its numbers replaced by #, to count notes by their wording."""
    return re.sub(r"(?<![A-Za-z_])\d[\d.]*(e[+-]?\d+)?", "#", note)


def chinchilla_dataset(seed: int, i: int, design: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Data set i: 60 runs of the published law with 1 % log-normal noise on L."""
    rng = np.random.default_rng([seed, 1, i])
    if design == "grid":
        n, d = np.meshgrid(np.logspace(7, 10, 6), np.logspace(9, 12, 10), indexing="ij")
        N, D = n.ravel(), d.ravel()
    else:
        N = np.exp(rng.uniform(math.log(1e7), math.log(1e10), RUNS))
        D = np.exp(rng.uniform(math.log(1e9), math.log(1e12), RUNS))
    return N, D, P.loss(N, D) * np.exp(NOISE * rng.standard_normal(N.size))


def coverage_study(n_sets: int, method: str, design: str, seed: int) -> dict:
    est, se, inside, failed, notes = [], [], [], [], collections.Counter()
    t = time.perf_counter()
    for i in range(n_sets):
        N, D, L = chinchilla_dataset(seed, i, design)
        fit = fit_chinchilla(N, D, L, method=method, starts=STARTS)
        e = np.array([getattr(fit, k) for k in PARAMS])
        s = np.array([fit.stderr[k] for k in PARAMS])
        if not (fit.converged and fit.identifiable and np.all(np.isfinite(s))):
            failed.append(i)
        # residuals inside the Huber threshold on log-residuals (delta * sigma for mle)
        r = np.log(fit.predict(N, D)) - np.log(L)
        inside.append(int(np.sum(np.abs(r) <= (DELTA if method == "huber" else fit.delta * fit.sigma))))
        notes.update(map(_pattern, fit.notes))
        est.append(e)
        se.append(s)
    seconds = time.perf_counter() - t
    est, se = np.array(est), np.array(se)
    ok = np.all(np.isfinite(se), axis=1)
    covered = np.abs(est[ok] - TRUE) <= 1.96 * se[ok]
    cov = covered.mean(0)
    return dict(
        method=method, datasets=n_sets, used=int(ok.sum()), failed=failed, seconds=seconds,
        median_stderr=dict(zip(PARAMS, np.median(se[ok], 0).tolist())),
        coverage=dict(zip(PARAMS, cov.tolist())),
        coverage_stderr=dict(zip(PARAMS, np.sqrt(cov * (1 - cov) / ok.sum()).tolist())),
        mc_sd=dict(zip(PARAMS, est[ok].std(0, ddof=1).tolist())),
        mean_bias=dict(zip(PARAMS, (est[ok].mean(0) - TRUE).tolist())),
        mean_inside_delta=float(np.mean(inside)), notes=dict(notes),
        estimates=est.tolist(), stderr=se.tolist(),
    )


def search_check(k: int, design: str, seed: int) -> dict:
    """Refit the first k data sets from the published 4,500-start grid; how far are the three-start optima?"""
    out = {}
    for method in ("huber", "mle"):
        dobj, dpar = [], []
        for i in range(k):
            N, D, L = chinchilla_dataset(seed, i, design)
            few, full = fit_chinchilla(N, D, L, method=method, starts=STARTS), fit_chinchilla(N, D, L, method=method)
            dobj.append(few.objective - full.objective)
            dpar.append(float(np.max(np.abs(few.log_params - full.log_params))))
        out[method] = dict(objective_three_minus_grid=dobj, max_abs_log_param_difference=dpar)
    return out


def isoflop_design() -> tuple[np.ndarray, np.ndarray]:
    n_opt = compute_optimal(P, BUDGETS).N_opt
    N = (n_opt[:, None] * np.exp(np.linspace(-1.5, 1.5, PER_BUDGET))[None, :]).ravel()
    return N, np.repeat(BUDGETS, PER_BUDGET)


def _fit_ways(rows: dict, s: int, N: np.ndarray, L: np.ndarray, ways: dict) -> None:
    """Fit approaches 1 and 2 to one data set (seed ``s``) each way in ``ways`` (name -> keyword arguments of
    the fit), recording in ``rows`` the fitted a, the number of budgets, errors and notes per (fit, way)."""
    for fn in (fit_frontier, fit_isoflop):
        for w, kw in ways.items():
            row = rows.setdefault((fn.__name__, w), dict(a=[], budgets=[], errors=[], notes=collections.Counter()))
            try:
                fit = fn(N, L, **kw)
            except ValueError as err:  # NotIdentifiableError is a ValueError
                row["a"].append(math.nan)
                row["budgets"].append(0)
                row["errors"].append(f"seed {s}: {type(err).__name__}: {err}")
                continue
            row["a"].append(fit.a)
            row["budgets"].append(len(fit.C))
            row["notes"].update(map(_pattern, fit.notes))


def _summary_rows(rows: dict) -> list[dict]:
    """Per (fit, way) of `_fit_ways`: mean, sd and largest error of a over the seeds, budgets, failures, notes."""
    out = []
    for (fn, w), row in rows.items():
        a = np.array(row["a"])
        ok = np.isfinite(a)
        out.append(dict(
            fit=fn, way=w, mean_a=float(a[ok].mean()) if ok.any() else math.nan,
            sd_a=float(a[ok].std(ddof=1)) if ok.sum() > 1 else math.nan,
            max_abs_error=float(np.abs(a[ok] - P.a).max()) if ok.any() else math.nan,
            failed=int((~ok).sum()), budgets_min=int(min(row["budgets"])), budgets_max=int(max(row["budgets"])),
            a=row["a"], errors=row["errors"], notes=dict(row["notes"])))
    return out


def print_allocation_rows(rows: list[dict]) -> None:
    print(f"  {'fit':<14}{'runs grouped by':<28}{'mean a':>10}{'mean - true':>13}{'sd over seeds':>15}"
          f"{'max |err|':>11}{'budgets':>9}{'failed':>8}")
    for r in rows:
        nb = f"{r['budgets_min']}" if r["budgets_min"] == r["budgets_max"] else f"{r['budgets_min']}-{r['budgets_max']}"
        print(f"  {r['fit']:<14}{r['way']:<28}{r['mean_a']:>10.5f}{r['mean_a'] - P.a:>13.5f}{r['sd_a']:>15.5f}"
              f"{r['max_abs_error']:>11.5f}{nb:>9}{r['failed']:>8}")
    for r in rows:
        for note, count in r["notes"].items():
            print(f"  {r['fit']}, {r['way']}, on {count} seed(s): {note}")
        for err in r["errors"][:3]:
            print(f"  {r['fit']}, {r['way']}: {err}")


def bins_study(n_seeds: int, scatter: float, loss_noise: float, seed: int) -> dict:
    N, C0 = isoflop_design()
    edges = np.concatenate([[BUDGETS[0] / 2], np.sqrt(BUDGETS[1:] * BUDGETS[:-1]), [BUDGETS[-1] * 2]])
    ways = {"no bins": lambda C: dict(C=C), "bins=9": lambda C: dict(C=C, bins=9),
            "bins=midpoint edges": lambda C: dict(C=C, bins=edges), "nominal C, as they stand": lambda C: dict(C=C0)}
    rows = {}
    t = time.perf_counter()
    for s in range(n_seeds):
        rng = np.random.default_rng([seed, 2, s])
        C = C0 * np.exp(scatter * rng.standard_normal(C0.size))
        L = P.loss(N, C / (6 * N)) * np.exp(loss_noise * rng.standard_normal(C0.size))
        _fit_ways(rows, s, N, L, {w: kw(C) for w, kw in ways.items()})
    return dict(seeds=n_seeds, scatter=scatter, loss_noise=loss_noise, true_a=P.a, budgets=BUDGETS.tolist(),
                runs_per_budget=PER_BUDGET, seconds=time.perf_counter() - t, rows=_summary_rows(rows))


def bracketed_study(n_seeds: int, loss_noise: float, seed: int) -> dict:
    """Study 5: one N grid under every budget, so that at some budgets the optimum lies beyond the grid."""
    N, C = np.tile(GRID_N, GRID_BUDGETS.size), np.repeat(GRID_BUDGETS, GRID_N.size)
    ways = {"every budget": dict(C=C), "bracketed=True": dict(C=C, bracketed=True)}
    rows = {}
    t = time.perf_counter()
    for s in range(n_seeds):
        rng = np.random.default_rng([seed, 5, s])
        _fit_ways(rows, s, N, P.loss(N, C / (6 * N)) * np.exp(loss_noise * rng.standard_normal(C.size)), ways)
    inside = int(np.sum((compute_optimal(P, GRID_BUDGETS).N_opt > GRID_N[0]) &
                        (compute_optimal(P, GRID_BUDGETS).N_opt < GRID_N[-1])))
    return dict(seeds=n_seeds, loss_noise=loss_noise, true_a=P.a, budgets=GRID_BUDGETS.tolist(), N=GRID_N.tolist(),
                budgets_with_optimum_inside=inside, seconds=time.perf_counter() - t, rows=_summary_rows(rows))


def isoflop_bootstrap_study(n_seeds: int, resamples: int, noise: float, case_resamples: int, seed: int) -> list[dict]:
    """Study 6: fit_isoflop's bootstrap interval of a against the spread of a over seeds, on a design centred on
    the optimum (9 budgets 1e18..1e22 x 9 N on N_opt x 10^linspace(-0.4, 0.4)), with the loss exactly a
    parabola in log N (N_opt = 0.1 C^0.5, a = 0.5) and under the published law; ``case_resamples`` > 0 also
    refits that many resamples of the runs themselves one by one (the bootstrap fit_isoflop had before)."""
    from toyscale.fitting import _bootstrap_weights

    designs = {"parabola": (0.1 * BUDGETS**0.5, lambda N, C: 2 + 0.3 * np.log(N / (0.1 * C**0.5)) ** 2, 0.5),
               "Chinchilla law": (compute_optimal(P, BUDGETS).N_opt, lambda N, C: P.loss(N, C / (6 * N)), P.a)}
    rows = []
    for name, (n_opt, loss, true_a) in designs.items():
        t = time.perf_counter()
        N = (n_opt[:, None] * np.logspace(-0.4, 0.4, 9)[None, :]).ravel()
        C = np.repeat(BUDGETS, 9)
        a, se, half, cover, case_half = [], [], [], 0, []
        for s in range(n_seeds):
            L = loss(N, C) * np.exp(noise * np.random.default_rng([seed, 6, s]).standard_normal(N.size))
            fit = fit_isoflop(N, L, C=C, bootstrap=resamples, seed=s)
            lo, hi = fit.intervals["a"]
            a.append(fit.a), se.append(fit.a_stderr), half.append((hi - lo) / 2)
            cover += lo <= true_a <= hi
            if case_resamples:
                with jax.enable_x64(True):
                    w = np.asarray(_bootstrap_weights(s, case_resamples, N.size)).astype(int)
                refit = []
                for r in range(case_resamples):
                    idx = np.repeat(np.arange(N.size), w[r])
                    try:
                        refit.append(fit_isoflop(N[idx], L[idx], C=C[idx]).a)
                    except ValueError:  # (fewer than 2 usable budgets: dropped, as the batched bootstrap did)
                        pass
                case_half.append(np.diff(np.percentile(refit, [2.5, 97.5]))[0] / 2)
        sd = float(np.std(a, ddof=1))
        rows.append(dict(design=name, true_a=true_a, seeds=n_seeds, resamples=resamples, noise=noise,
                         mean_a=float(np.mean(a)), sd_a=sd, median_stderr=float(np.median(se)),
                         median_half_width=float(np.median(half)),
                         half_width_over_196sd=float(np.median(half)) / (1.96 * sd),
                         coverage=cover / n_seeds, case_resamples=case_resamples,
                         case_median_half_width=float(np.median(case_half)) if case_half else None,
                         seconds=time.perf_counter() - t))
    return rows


def seed_bootstrap_study(n_sets: int, seed: int) -> list[dict]:
    """Study 3: OLS stderr and seed-bootstrap intervals of width_exponent against the truth."""
    rows = []
    for widths in (np.array([4, 8, 16]), np.array([8, 16, 32, 64, 128])):
        for k in (2, 4, 8):
            rng = np.random.default_rng([seed, widths.size, k])
            est, se, boot_sd, cover_se, cover_t, cover_boot, cover_welch = [], [], [], 0, 0, 0, 0
            half, half_welch = [], []
            for t in range(n_sets):
                values = tuple(2.0 * m**-0.5 * np.exp(rng.normal(0.0, 0.1, k)) for m in widths)
                curve = WidthCurve.from_values(widths, values)
                fit = width_exponent(curve, seed_bootstrap=400, seed=t)
                est.append(fit.exponent)
                se.append(fit.stderr["exponent"])
                boot_sd.append(float(re.search(r"exponent sd ([0-9.e+-]+)", fit.notes[-1]).group(1)))
                cover_se += abs(fit.exponent - 0.5) <= 1.96 * fit.stderr["exponent"]
                t_lo, t_hi = fit.t_interval()
                cover_t += t_lo <= 0.5 <= t_hi
                lo, hi = fit.intervals["exponent"]
                cover_boot += lo <= 0.5 <= hi
                half.append((hi - lo) / 2)
                lo, hi = width_exponent(curve, seed_bootstrap=400, seed=t, widen="t").intervals["exponent"]
                cover_welch += lo <= 0.5 <= hi
                half_welch.append((hi - lo) / 2)
            rows.append(dict(widths=widths.tolist(), seeds=k, sets=n_sets, mc_sd=float(np.std(est, ddof=1)),
                             median_stderr=float(np.median(se)), coverage_stderr=cover_se / n_sets,
                             coverage_t=cover_t / n_sets,
                             mean_bootstrap_sd=float(np.mean(boot_sd)), coverage_bootstrap=cover_boot / n_sets,
                             median_half_width=float(np.median(half)),
                             median_half_width_welch=float(np.median(half_welch)),
                             coverage_bootstrap_welch=cover_welch / n_sets))
    return rows


def _mean_width_table(records) -> dict:
    """Study 7's analysis: the mean loss per width, then the closed-form power law through the means."""
    by_m = collections.defaultdict(list)
    for r in records:
        by_m[r.point["m"]].append(r.outputs["test_loss"])
    m = np.array(sorted(by_m), float)
    return {"exponent": -np.polyfit(np.log(m), np.log([np.mean(by_m[w]) for w in m]), 1)[0]}


def redraw_table_study(n_sets: int, resamples: int, seed: int) -> list[dict]:
    """Study 7: redraw_table's widened percentile intervals, on study 3's curves, against the truth
    and against width_exponent's seed bootstrap of the same curves; then three designs whose widths
    hold different numbers of seeds (compute_optimal's list of seeds), where redraw_table draws
    more of a width of more models."""
    wide = np.array([8, 16, 32, 64, 128])
    designs = [(widths, [k] * widths.size, [seed, 7, widths.size, k])
               for widths in (np.array([4, 8, 16]), wide) for k in (2, 4, 8)]
    designs += [(wide, counts, [seed, 7, wide.size, 100 + i])
                for i, counts in enumerate(([8, 8, 2, 2, 2], [2, 2, 2, 8, 8], [32, 11, 2, 2, 2]))]
    rows = []
    for widths, counts, stream in designs:
        rng = np.random.default_rng(stream)
        half, half_curve, cover, cover_curve, est = [], [], 0, 0, []
        half_welch, half_curve_welch, cover_welch, cover_curve_welch, dof_ratio = [], [], 0, 0, []
        for t in range(n_sets):
            values = [2.0 * m**-0.5 * np.exp(rng.normal(0.0, 0.1, k)) for m, k in zip(widths, counts)]
            points = [(int(m), s, float(v[s])) for m, v in zip(widths, values) for s in range(v.size)]
            records = [Record(i, {"m": m, "seed": s}, False, {"test_loss": loss})
                       for i, (m, s, loss) in enumerate(points)]
            redrawn = redraw_table(records, _mean_width_table, resamples=resamples, seed=t)
            lo, hi = redrawn.intervals["exponent"]
            curve = WidthCurve.from_values(widths, values)
            fit = width_exponent(curve, seed_bootstrap=resamples, seed=t)
            est.append(fit.exponent)
            half.append((hi - lo) / 2)
            half_curve.append((fit.intervals["exponent"][1] - fit.intervals["exponent"][0]) / 2)
            cover += _covers((lo, hi), 0.5)
            cover_curve += _covers(fit.intervals["exponent"], 0.5)
            redrawn = redraw_table(records, _mean_width_table, resamples=resamples, seed=t, widen="t")
            lo, hi = redrawn.intervals["exponent"]
            wide = width_exponent(curve, seed_bootstrap=resamples, seed=t, widen="t")
            welch = wide.intervals["exponent"]
            # (the regression's degrees of freedom against the closed form's, which the fit's note gives)
            dof_ratio.append(redrawn.dof["exponent"] / float(re.search(r"on ([0-9.e+]+) degrees", wide.notes[-1])[1]))
            half_welch.append((hi - lo) / 2)
            half_curve_welch.append((welch[1] - welch[0]) / 2)
            cover_welch += _covers((lo, hi), 0.5)
            cover_curve_welch += _covers(welch, 0.5)
        sd = float(np.std(est, ddof=1))
        rows.append(dict(widths=widths.tolist(), seeds=counts[0] if len(set(counts)) == 1 else list(counts),
                         sets=n_sets, mc_sd=sd, median_half_width=float(np.median(half)),
                         half_width_over_196sd=float(np.median(half)) / (1.96 * sd), coverage=cover / n_sets,
                         width_exponent_median_half_width=float(np.median(half_curve)),
                         width_exponent_coverage=cover_curve / n_sets,
                         median_half_width_welch=float(np.median(half_welch)), coverage_welch=cover_welch / n_sets,
                         width_exponent_median_half_width_welch=float(np.median(half_curve_welch)),
                         width_exponent_coverage_welch=cover_curve_welch / n_sets,
                         dof_ratio=[float(np.min(dof_ratio)), float(np.median(dof_ratio)), float(np.max(dof_ratio))]))
    return rows


def lack_of_fit_study(n_sets: int, seed: int) -> list[dict]:
    """Study 8: lack_of_fit's rejections at 5 % on straight and bent width curves."""
    rows = []
    for widths in (np.array([4, 8, 16]), np.array([8, 16, 32, 64, 128])):
        x = np.log(widths) - np.log(widths).mean()
        for k in (2, 4, 8):
            for bend in (0.0, 0.1, 0.3):
                rng = np.random.default_rng([seed, widths.size, k, int(100 * bend)])
                rejected, ratios = 0, []
                for _ in range(n_sets):
                    sd = 0.1 * np.exp(rng.uniform(-0.7, 0.7, widths.size))
                    values = tuple(2.0 * m**-0.5 * np.exp(bend * xi**2 + rng.normal(0.0, s_, k))
                                   for m, xi, s_ in zip(widths, x, sd))
                    curve = WidthCurve.from_values(widths, values)
                    test = lack_of_fit(curve, width_exponent(curve))
                    rejected += test.p_value < 0.05
                    ratios.append(test.ratio)
                rows.append(dict(widths=widths.tolist(), seeds=k, bend=bend, sets=n_sets,
                                 rejected=rejected / n_sets, median_ratio=float(np.median(ratios))))
    # shared draws: a seed's level (sd 0.1) common to every width, each model's own noise sd 0.03
    widths = np.array([8, 16, 32, 64, 128])
    x = np.log(widths) - np.log(widths).mean()
    for k in (2, 4, 8):
        for bend in (0.0, 0.1):
            rng = np.random.default_rng([seed, 99, k, int(100 * bend)])
            rejected, ratios = 0, []
            for _ in range(n_sets):
                level = rng.normal(0.0, 0.1, k)
                values = tuple(2.0 * m**-0.5 * np.exp(bend * xi**2 + level + rng.normal(0.0, 0.03, k))
                               for m, xi in zip(widths, x))
                curve = WidthCurve.from_values(widths, values, seeds=[np.arange(k)] * widths.size)
                test = lack_of_fit(curve, width_exponent(curve), paired=True)
                rejected += test.p_value < 0.05
                ratios.append(test.ratio)
            rows.append(dict(widths=widths.tolist(), seeds=k, bend=bend, sets=n_sets, paired=True,
                             rejected=rejected / n_sets, median_ratio=float(np.median(ratios))))
    return rows


def print_lack_of_fit_study(n_sets: int, seed: int) -> list[dict]:
    """Runs study 8 and prints its table; returns its rows."""
    started = time.perf_counter()
    rows = lack_of_fit_study(n_sets, seed)
    header = ("widths", "seeds", "bend", "p < 0.05", "median ratio", "paired")
    print(f"\nStudy 8: lack_of_fit (the means' squared residuals about the line over what seed noise predicts, F on "
          f"Satterthwaite's and Welch's degrees of freedom), {n_sets} curves per row "
          f"({time.perf_counter() - started:.1f} s)\n  " + "".join(f"{h:<22}" if i == 0 else f"{h:>{len(h) + 4}}"
                                                                   for i, h in enumerate(header)))
    for r in rows:
        cells = (str(r["widths"]), r["seeds"], f"{r['bend']:.1f}", f"{r['rejected']:.3f}", f"{r['median_ratio']:.3f}",
                 "yes" if r.get("paired") else "")
        print("  " + "".join(f"{c:<22}" if i == 0 else f"{c:>{len(h) + 4}}"
                             for i, (c, h) in enumerate(zip(cells, header))))
    return rows


def _covers(interval, truth: float) -> bool:
    lo, hi = interval
    return bool(lo <= truth <= hi)  # False for an undefined (NaN) interval


def points_bootstrap_study(n_sets: int, seed: int) -> list[dict]:
    """Study 4: percentile intervals of fit_power_law's points bootstrap against the truth."""
    rows = []
    designs = [(n, 0.0, False, 400) for n in (3, 4, 5, 8)] + [(5, 0.1, True, 200), (5, 0.0, True, 200),
                                                             (8, 0.1, True, 200)]
    for n_widths, offset_true, offset, resamples in designs:
        widths = 8.0 * 2.0 ** np.arange(n_widths)
        rng = np.random.default_rng([seed, 4, n_widths, int(offset_true * 1000), offset])
        t0 = time.perf_counter()
        cover = collections.Counter()
        collapsed, cover_collapsed, notes = 0, 0, collections.Counter()
        for t in range(n_sets):
            y = (2.0 * widths**-0.5 + offset_true) * np.exp(rng.normal(0.0, 0.05, (2, n_widths))).mean(axis=0)
            fit = fit_power_law(widths, y, offset=offset, bootstrap=resamples, seed=t)
            cover["boot95"] += _covers(fit.intervals["exponent"], 0.5)
            cover["t95"] += _covers(fit.t_interval(level=0.95), 0.5)
            if not offset:
                lo68 = fit_power_law(widths, y, bootstrap=resamples, seed=t, level=0.68).intervals["exponent"]
                cover["boot68"] += _covers(lo68, 0.5)
                cover["t68"] += _covers(fit.t_interval(level=0.68), 0.5)
            if not fit.identifiable:
                collapsed += 1
                cover_collapsed += _covers(fit.intervals["exponent"], 0.5)
            notes.update(_pattern(n) for n in fit.notes)
        rows.append(dict(widths=n_widths, offset_true=offset_true, offset=offset, resamples=resamples, sets=n_sets,
                         coverage={k: v / n_sets for k, v in cover.items()}, not_identifiable=collapsed,
                         coverage_boot95_not_identifiable=cover_collapsed / collapsed if collapsed else None,
                         notes=dict(notes), seconds=time.perf_counter() - t0))
    return rows


def print_coverage(res: dict) -> None:
    print(f"\n{res['method']}: {res['used']} of {res['datasets']} data sets with finite stderr used; "
          f"{len(res['failed'])} flagged (not converged, not identifiable or stderr not finite): "
          f"{res['failed'][:10]}; {res['seconds']:.1f} s")
    print(f"  {'':34}" + "".join(f"{k:>10}" for k in PARAMS))
    print(f"  {'truth':34}" + "".join(f"{v:>10.4f}" for v in TRUE))
    print(f"  {'median stderr':34}" + "".join(f"{res['median_stderr'][k]:>10.4f}" for k in PARAMS))
    print(f"  {'coverage of +-1.96 stderr':34}" + "".join(f"{res['coverage'][k]:>10.3f}" for k in PARAMS))
    print(f"  {'  (its binomial stderr)':34}" + "".join(f"{res['coverage_stderr'][k]:>10.3f}" for k in PARAMS))
    print(f"  {'MC sd of the estimates':34}" + "".join(f"{res['mc_sd'][k]:>10.4f}" for k in PARAMS))
    ratio = [res["median_stderr"][k] / res["mc_sd"][k] for k in PARAMS]
    print(f"  {'median stderr / MC sd':34}" + "".join(f"{v:>10.2f}" for v in ratio))
    print(f"  {'mean estimate - truth':34}" + "".join(f"{res['mean_bias'][k]:>10.4f}" for k in PARAMS))
    expected = RUNS * math.erf(DELTA / (NOISE * math.sqrt(2))) if res["method"] == "huber" else math.nan
    print(f"  residuals inside delta: mean {res['mean_inside_delta']:.2f} of {RUNS}"
          + (f" (noise alone: {expected:.2f})" if res["method"] == "huber" else " (delta * sigma, mle)"))
    for note, count in res["notes"].items():
        print(f"  note on {count} data set(s): {note}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", type=int, default=200, help="data sets fitted with the Huber objective")
    ap.add_argument("--mle-datasets", type=int, default=100, help="data sets fitted with method='mle'")
    ap.add_argument("--design", choices=("grid", "random"), default="grid")
    ap.add_argument("--check-search", type=int, default=3, help="data sets refitted from the 4,500-start grid")
    ap.add_argument("--seeds", type=int, default=20, help="seeds of the budget-bins study")
    ap.add_argument("--scatter", type=float, default=0.1, help="sd of log C around each run's budget")
    ap.add_argument("--loss-noise", type=float, default=0.0, help="sd of log-normal noise on L in the bins study")
    ap.add_argument("--width-sets", type=int_in(1), default=200,
                    help="width curves per row of the seed-bootstrap study")
    ap.add_argument("--offset-sets", type=int, default=100, help="curves per row of the points-bootstrap study")
    ap.add_argument("--grid-noise", type=float, default=0.001, help="sd of log-normal noise on L in study 5")
    ap.add_argument("--iso-seeds", type=int, default=10, help="seeds of the IsoFLOP-bootstrap study (6)")
    ap.add_argument("--iso-resamples", type=int, default=400, help="bootstrap resamples per seed in study 6")
    ap.add_argument("--case-resamples", type=int, default=0,
                    help="study 6: also refit this many resamples of the runs one by one (the former bootstrap)")
    ap.add_argument("--redraw-sets", type=int_in(1), default=100, help="width curves per row of study 7")
    ap.add_argument("--redraw-resamples", type=int_in(40), default=400, help="seed redraws per curve in study 7")
    ap.add_argument("--lof-sets", type=int_in(1), default=400, help="width curves per row of study 8")
    ap.add_argument("--studies", default="1,2,3,4,5",
                    help="which studies to run, e.g. 3,4 (6: IsoFLOP bootstrap, 7: redraw_table, 8: lack_of_fit)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    try:
        studies = {int(v) for v in args.studies.split(",") if v.strip()}
    except ValueError:
        studies = set()
    if not studies or not studies <= {1, 2, 3, 4, 5, 6, 7, 8}:
        ap.error(f"--studies {args.studies!r}: give numbers from 1-8 separated by commas")
    load0, t0 = os.getloadavg(), time.perf_counter()
    huber = mle = search = bins = seeds_rows = points_rows = grid = iso = redraw_rows = lof_rows = None
    if 1 in studies:
        print(f"Study 1: stderr coverage of fit_chinchilla, {RUNS} runs ({args.design} design), {NOISE:.0%} log-noise, "
              f"3 starts around the truth, seed {args.seed}")
        huber = coverage_study(args.datasets, "huber", args.design, args.seed)
        print_coverage(huber)
        mle = coverage_study(args.mle_datasets, "mle", args.design, args.seed)
        print_coverage(mle)
        search = search_check(args.check_search, args.design, args.seed) if args.check_search else {}
        for method, s in search.items():
            print(f"  search check, {method}: three starts minus the 4,500-start grid, "
                  f"first {args.check_search} data sets: "
                  f"objective {', '.join(f'{v:.2e}' for v in s['objective_three_minus_grid'])}; "
                  f"max |log-param difference| {max(s['max_abs_log_param_difference']):.2e}")

    if 2 in studies:
        bins = bins_study(args.seeds, args.scatter, args.loss_noise, args.seed)
        print(f"\nStudy 2: budget bins, {len(BUDGETS)} budgets 1e18..1e22 x {PER_BUDGET} N, each run's C scattered by "
              f"sd {args.scatter:g} in log C, loss noise {args.loss_noise:g}, {args.seeds} seeds, true a = {P.a:.5f} "
              f"({bins['seconds']:.1f} s)")
        print_allocation_rows(bins["rows"])

    if 3 in studies:
        t3 = time.perf_counter()
        seeds_rows = seed_bootstrap_study(args.width_sets, args.seed)
        print(f"\nStudy 3: width_exponent, L = 2 m^-0.5, log-normal seed noise sd 0.1, {args.width_sets} curves per row "
              f"({time.perf_counter() - t3:.1f} s)")
        print(f"  {'widths':<22}{'seeds':>10}{'MC sd':>9}{'median se':>11}{'cover +-1.96se':>16}{'cover t 95%':>13}"
              f"{'boot sd':>9}{'cover boot 95%':>16}{'half-width':>12}{'widen t: half-width':>21}{'cover 95%':>11}")
        for r in seeds_rows:
            seeds = r["seeds"] if isinstance(r["seeds"], int) else ",".join(map(str, r["seeds"]))
            print(f"  {str(r['widths']):<22}{seeds:>10}{r['mc_sd']:>9.4f}{r['median_stderr']:>11.4f}"
                  f"{r['coverage_stderr']:>16.3f}{r['coverage_t']:>13.3f}{r['mean_bootstrap_sd']:>9.4f}"
                  f"{r['coverage_bootstrap']:>16.3f}{r['median_half_width']:>12.4f}"
                  f"{r['median_half_width_welch']:>21.4f}{r['coverage_bootstrap_welch']:>11.3f}")

    if 4 in studies:
        t4 = time.perf_counter()
        points_rows = points_bootstrap_study(args.offset_sets, args.seed)
        print(f"\nStudy 4: fit_power_law's points bootstrap, L = 2 m^-0.5 + E, widths 8, 16, ..., each the mean of "
              f"2 seeds with log-normal noise sd 0.05, {args.offset_sets} curves per row "
              f"({time.perf_counter() - t4:.1f} s)")
        print(f"  {'widths':>6}{'E':>5}{'offset fit':>11}{'resamples':>10}{'cover boot 95%':>16}{'cover t 95%':>13}"
              f"{'boot 68%':>10}{'t 68%':>7}{'not identifiable':>18}{'its boot 95%':>14}")
        for r in points_rows:
            c = r["coverage"]
            nic = r["coverage_boot95_not_identifiable"]
            print(f"  {r['widths']:>6}{r['offset_true']:>5g}{str(r['offset']):>11}{r['resamples']:>10}"
                  f"{c['boot95']:>16.3f}{c['t95']:>13.3f}{c.get('boot68', math.nan):>10.3f}{c.get('t68', math.nan):>7.3f}"
                  f"{r['not_identifiable']:>18}{'-' if nic is None else f'{nic:.3f}':>14}")
        for r in points_rows:
            for note, count in r["notes"].items():
                print(f"  {r['widths']} widths, E={r['offset_true']:g}, offset={r['offset']}, on {count} curve(s): {note}")

    if 5 in studies:
        grid = bracketed_study(args.seeds, args.grid_noise, args.seed)
        print(f"\nStudy 5: budgets whose optimum the runs do not bracket, {GRID_N.size} N in 1e8..1e9 under each of "
              f"{GRID_BUDGETS.size} budgets 1e17..1e22 (the optimum inside the N range at "
              f"{grid['budgets_with_optimum_inside']}), loss noise {args.grid_noise:g}, {args.seeds} seeds, true a = "
              f"{P.a:.5f} ({grid['seconds']:.1f} s)")
        print_allocation_rows(grid["rows"])

    if 6 in studies:
        iso = isoflop_bootstrap_study(args.iso_seeds, args.iso_resamples, args.grid_noise, args.case_resamples,
                                      args.seed)
        print(f"\nStudy 6: fit_isoflop's bootstrap, 9 budgets 1e18..1e22 x 9 N centred on the optimum, loss noise "
              f"{args.grid_noise:g}, {args.iso_seeds} seeds, {args.iso_resamples} residual resamples"
              + (f", {args.case_resamples} resamples of the runs refitted one by one" if args.case_resamples else ""))
        print(f"  {'design':<16}{'true a':>8}{'mean a':>9}{'sd of a':>10}{'median se':>11}{'half-width':>12}"
              f"{'/ 1.96 sd':>10}{'covered':>9}" + (f"{'runs: half-width':>18}{'/ 1.96 sd':>10}" if args.case_resamples
                                                   else ""))
        for r in iso:
            case = r["case_median_half_width"]
            print(f"  {r['design']:<16}{r['true_a']:>8.4f}{r['mean_a']:>9.4f}{r['sd_a']:>10.5f}"
                  f"{r['median_stderr']:>11.5f}"
                  f"{r['median_half_width']:>12.5f}{r['half_width_over_196sd']:>10.2f}{r['coverage']:>9.2f}"
                  + (f"{case:>18.5f}{case / (1.96 * r['sd_a']):>10.2f}" if case is not None else ""))

    if 7 in studies:
        t7 = time.perf_counter()
        redraw_rows = redraw_table_study(args.redraw_sets, args.redraw_resamples, args.seed)
        print(f"\nStudy 7: redraw_table (the whole analysis rerun on redrawn seeds, its interval widened by "
              f"sqrt(k / (k - 1))), study 3's curves, {args.redraw_sets} curves per row, {args.redraw_resamples} "
              f"redraws ({time.perf_counter() - t7:.1f} s)")
        print(f"  {'widths':<22}{'seeds':>10}{'MC sd':>9}{'half-width':>12}{'/ 1.96 sd':>10}{'cover 95%':>11}"
              f"{'width_exponent: half-width':>28}{'cover 95%':>11}")
        for r in redraw_rows:
            seeds = r["seeds"] if isinstance(r["seeds"], int) else ",".join(map(str, r["seeds"]))
            print(f"  {str(r['widths']):<22}{seeds:>10}{r['mc_sd']:>9.4f}{r['median_half_width']:>12.4f}"
                  f"{r['half_width_over_196sd']:>10.2f}{r['coverage']:>11.3f}"
                  f"{r['width_exponent_median_half_width']:>28.4f}{r['width_exponent_coverage']:>11.3f}")
        print("  the same curves with widen='t' (also by t / z on the Welch-Satterthwaite degrees of freedom):")
        print(f"  {'widths':<22}{'seeds':>10}{'half-width':>12}{'/ 1.96 sd':>10}{'cover 95%':>11}"
              f"{'width_exponent: half-width':>28}{'cover 95%':>11}{'dof ratio: median (range)':>28}")
        for r in redraw_rows:
            seeds = r["seeds"] if isinstance(r["seeds"], int) else ",".join(map(str, r["seeds"]))
            low, mid, high = r["dof_ratio"]
            print(f"  {str(r['widths']):<22}{seeds:>10}{r['median_half_width_welch']:>12.4f}"
                  f"{r['median_half_width_welch'] / (1.96 * r['mc_sd']):>10.2f}{r['coverage_welch']:>11.3f}"
                  f"{r['width_exponent_median_half_width_welch']:>28.4f}{r['width_exponent_coverage_welch']:>11.3f}"
                  f"{f'{mid:.3f} ({low:.3f}-{high:.3f})':>28}")

    if 8 in studies:
        lof_rows = print_lack_of_fit_study(args.lof_sets, args.seed)

    out = dict(
        load_average_before=load0, load_average_after=os.getloadavg(), wall_seconds=time.perf_counter() - t0,
        machine=f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        versions=dict(jax=jax.__version__, optax=optax.__version__, scipy=scipy.__version__, numpy=np.__version__),
        args=vars(args), runs=RUNS, noise=NOISE, huber_delta=DELTA, starts=STARTS.tolist(),
        truth=dict(zip(PARAMS, TRUE.tolist())),
        coverage=dict(huber=huber, mle=mle), search_check=search, budget_bins=bins, seed_bootstrap=seeds_rows,
        points_bootstrap=points_rows, bracketed=grid, isoflop_bootstrap=iso, redraw_table=redraw_rows,
        lack_of_fit=lof_rows,
    )
    print(f"\n{out['machine']} {out['versions']} load average {load0[0]:.2f} -> {out['load_average_after'][0]:.2f}, "
          f"wall {out['wall_seconds']:.1f} s")
    if args.json:
        atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()
