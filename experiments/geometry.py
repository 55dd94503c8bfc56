"""Geometry of superposition: represented features, overlaps and the weak-regime loss vs width.

Liu, Liu & Gore (2025), Figs. 3, 5 and 6 on the small models (n = 1000, m = 10..100,
p_i ∝ i^-1): in weak superposition (gamma > 0) a feature is either represented (row norm
~1) or ignored (~0), phi_1/2 ≈ m / n, and the loss is what the ignored features carry,
L ≈ <v^2> sum_{i > phi_1/2 n} p_i; in strong superposition (gamma < 0) every feature is
represented (phi_1/2 ≈ 1), phi_1 ≈ min(1, m^2 / 2n), and the rows overlap like random unit
vectors, mean squared overlap ≈ 1 / m. The paper adds that the rows longer than 1 look like an
equiangular tight frame (variance below random vectors'); the script measures their mean
squared overlap against the Welch bound and their variance against random vectors'.

    python experiments/geometry.py --preset quick --out runs/geometry
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from toyscale import plots
from toyscale.frequencies import power_law
from toyscale.measure import random_overlap_moments, welch_bound
from toyscale.optim import decay_regime
from toyscale.runner import check_axis, experiment_args, finish, run_experiment_sweep, superposition_points
from toyscale.scaling import (fit_width_curve, holm_family_text, redrawn_seeds_text, script_lack_of_fit,
                              seed_interval, seed_redraw, seed_widen_text, width_curve)
from toyscale.theory import weak_superposition_loss
from toyscale.train import TrainConfig, sweep_superposition

# seed_widen: how the intervals over redrawn seeds widen, "sqrt" or "t" (toyscale.runner.check_seed_widen).
PRESETS = {
    # The paper's small-model n and widths on a 2-core CPU in minutes: batch and steps cut
    # 8x and 3.3x. gamma = -1 and 0.1 are the headline script's regimes, gamma = 1 the phase
    # diagram's weak edge.
    "quick": dict(train=dict(n=1000, batch=256, steps=6000, warmup=600, test_batches=20, log_every=100),
                  widths=[10, 15, 25, 39, 63, 100], gammas=[-1.0, 0.1, 1.0], alpha=1.0, lr=1e-2, seed_widen="sqrt",
                  seeds=1),
    # Seconds: only checks that the script runs end to end (used by the tests).
    "smoke": dict(train=dict(n=48, batch=32, steps=40, warmup=4, test_batches=2, log_every=10),
                  widths=[3, 4, 6], gammas=[-1.0, 1.0], alpha=1.0, lr=1e-2, seed_widen="sqrt", seeds=1),
    # The published small-model training settings (Sec. 3, Figs. 4-6: batch 2048, 20k steps) at
    # p_i ∝ i^-1 and the three gammas above: 18 of those models' kind, not the phase diagram's
    # 10 x 17 grid (phase_diagram.py trains that; gamma = 0.1 is the large-model weak value).
    "paper": dict(train=dict(n=1000, batch=2048, steps=20_000, warmup=2_000, test_batches=100, log_every=100),
                  widths=[10, 15, 25, 39, 63, 100], gammas=[-1.0, 0.1, 1.0], alpha=1.0, lr=1e-2, seed_widen="sqrt",
                  seeds=1),
}
MEASURES = ("test_loss", "phi_half", "phi_one", "overlap_mean", "overlap_var")
MIN_ROWS = 10  # overlap moments of a model with fewer represented rows (45 pairs) are left out


def enough_rows(name: str):
    """The measure ``name`` of a model with at least MIN_ROWS represented rows, else NaN (left out)."""
    return lambda r: float(r[name]) if int(r["n_represented"]) >= MIN_ROWS else float("nan")


def long_row_measures(n: int) -> dict:
    """Per-model measures of the rows longer than 1 (nu = phi_1 n of them) against an
    equiangular tight frame of nu vectors in R^m: nu; their mean squared overlap over the Welch
    bound (1 for a tight frame); random unit vectors' mean 1/m over the bound (what the first
    would be for random rows: near 1 too once nu >> m, where only the variance tells them
    apart); their variance over random vectors' (0 for an ETF). NaN below MIN_ROWS such rows,
    and the Welch bound and its ratios also when nu <= m (the bound is 0: orthogonal rows fit);
    NaN throughout for a model trained before toyscale kept these overlaps."""
    def nu(r):
        return int(round(float(r["phi_one"]) * n)) if "overlap_mean_one" in r.outputs else 0

    def welch(r):
        m, k = int(r["m"]), nu(r)
        return welch_bound(k, m) if k >= MIN_ROWS and k > m else float("nan")

    def var(r):
        m = int(r["m"])
        return float(r["overlap_var_one"]) / random_overlap_moments(m)[1] if nu(r) >= MIN_ROWS else float("nan")

    return {"nu": lambda r: float(nu(r)) if nu(r) >= MIN_ROWS else float("nan"),
            "welch_bound": welch,
            "over_welch": lambda r: float(r["overlap_mean_one"]) / welch(r) if welch(r) > 0 else float("nan"),
            "random_over_welch": lambda r: 1.0 / (int(r["m"]) * welch(r)),
            "var_over_random": var}


def prepare(s: dict) -> tuple:
    """The config, frequency spec and grid of a preset, checked before anything runs."""
    config = TrainConfig.from_dict(s["train"])
    spec = power_law(s["alpha"])
    gammas = check_axis("gammas", s["gammas"])
    labels = [f"{g:g}" for g in gammas]  # (the summary's keys and the figure's panels: one had overwritten another)
    if len(set(labels)) < len(labels):
        same = next(lab for lab in labels if labels.count(lab) > 1)
        raise ValueError(f"gammas={s['gammas']!r}: {[g for g, lab in zip(gammas, labels) if lab == same]} all read "
                         f"{same} to 6 significant digits, which key the regimes; give gammas that differ there")
    if config.represented_threshold != 0.5:  # (the overlaps had used it, phi_1/2 and the captions 1/2)
        raise ValueError(f"train.represented_threshold={config.represented_threshold!r}; this script counts a row "
                         f"as represented when its norm is above 1/2 (phi_1/2, the weak theory, the captions), so "
                         f"its overlaps must too: leave it at 0.5")
    return config, spec, superposition_points(config, s, gammas=gammas, frequencies=[spec])


def regime_label(gamma: float) -> str:
    return f"{decay_regime(gamma)} ($\\gamma$={gamma:g})"


def _t_text(fit) -> str:
    """A fitted exponent's 95 % t interval, or why it has none (through 2 widths the line is
    exact: it had printed "95% t [nan, nan]")."""
    if fit.exact:
        return f"no t interval through {fit.n_points} widths"
    lo, hi = fit.t_interval()
    return f"95% t [{lo:.3f}, {hi:.3f}]"


def main(argv=None) -> dict:
    args = experiment_args("geometry", __doc__.splitlines()[0], PRESETS, argv, prepare=prepare,
                           configs={"train": TrainConfig})
    s = args.settings
    config, spec, points = args.plan
    n = config.n
    result = run_experiment_sweep(args, sweep_superposition, config, points)
    p = spec.probs(n)

    per_regime, panels, theory_lines, norms = {}, {}, {}, {}
    old = sum("overlap_mean_one" not in r.outputs for r in result)
    if old:
        print(f"note: {old} model(s) of this sweep were trained before toyscale kept the overlaps of the rows longer "
              f"than 1 (overlap_mean_one); their long-row measures are left out (train into a new --out for them)")
    norms_width = sorted(s["widths"])[len(s["widths"]) // 2]
    for gamma in s["gammas"]:
        curves = {k: width_curve(result, measure=enough_rows(k) if k.startswith("overlap") else k, gamma=gamma,
                                 frequencies=spec.describe()) for k in MEASURES}
        loss = curves["test_loss"]
        # The weak-superposition loss (what the unrepresented features carry) of each model,
        # averaged per width over the models the loss curve averages: "own" with the features
        # it represents (row norm > 1/2), "top" with as many of the most frequent ones (the
        # paper's form); also with m of them.
        own, top = ({int(m): float(v) for m, v in zip(c.widths, c.loss)} for c in (
            width_curve(result, measure=lambda r: weak_superposition_loss(p, mask=np.asarray(r["row_norms"]) > 0.5),
                        gamma=gamma, frequencies=spec.describe()),
            width_curve(result, measure=lambda r: weak_superposition_loss(p, int(round(float(r["phi_half"]) * n))),
                        gamma=gamma, frequencies=spec.describe())))
        ratio_own, ratio_top = ([float(v / th[int(m)]) if th[int(m)] > 0 else float("nan")
                                 for m, v in zip(loss.widths, loss.loss)] for th in (own, top))
        # (None, e.g. fewer than 2 widths: the rest diverged); with replicate seeds, also the interval over
        # redrawn seeds
        loss_fit, loss_why = fit_width_curve(loss, **seed_redraw(loss, config, s["seed_widen"]))
        long = {k: width_curve(result, measure=f, gamma=gamma, frequencies=spec.describe())
                for k, f in long_row_measures(n).items()}
        # do the loss means bend away from the line beyond their seed noise? (None: one seed, untestable)
        bend = script_lack_of_fit(loss, loss_fit, config) if loss_fit else None
        overlap = curves["overlap_mean"]
        overlap_fit = fit_width_curve(overlap)[0]
        random_var = [random_overlap_moments(int(m))[1] for m in curves["overlap_var"].widths]
        per_regime[gamma] = {
            "m": loss.widths.tolist(), "loss": loss.loss.tolist(),
            "phi_half": dict(m=curves["phi_half"].widths.tolist(), value=curves["phi_half"].loss.tolist()),
            "phi_one": dict(m=curves["phi_one"].widths.tolist(), value=curves["phi_one"].loss.tolist()),
            "overlap_mean": dict(m=overlap.widths.tolist(), value=overlap.loss.tolist()),
            "overlap_var": dict(m=curves["overlap_var"].widths.tolist(), value=curves["overlap_var"].loss.tolist(),
                                random=random_var),
            "long_rows": {k: dict(m=c.widths.tolist(), value=c.loss.tolist()) for k, c in long.items()},
            "weak_theory_own": [own[int(m)] for m in loss.widths], "loss_over_weak_theory_own": ratio_own,
            "weak_theory_top": [top[int(m)] for m in loss.widths], "loss_over_weak_theory_top": ratio_top,
            "weak_theory_m_most_frequent": weak_superposition_loss(p, np.minimum(loss.widths, n).astype(int)).tolist(),
            "loss_exponent": loss_fit.exponent if loss_fit else None,
            "loss_exponent_stderr": loss_fit.stderr["exponent"] if loss_fit else None,
            "loss_exponent_t_interval": list(loss_fit.t_interval()) if loss_fit else None,
            "loss_exponent_seed_interval": seed_interval(loss_fit) if loss_fit else None,
            "loss_exponent_notes": list(loss_fit.notes) if loss_fit else [],
            "loss_lack_of_fit": dataclasses.asdict(bend) if bend else None,
            "overlap_exponent": overlap_fit.exponent if overlap_fit else None,
            "overlap_exponent_t_interval": list(overlap_fit.t_interval()) if overlap_fit else None,
            "diverged": loss.n_diverged, "overlap_undefined": overlap.n_undefined,
        }
        label = regime_label(gamma)
        panels[label] = {k: curves[k] for k in ("phi_half", "overlap_mean", "test_loss")}
        if gamma >= 0:
            theory_lines[label] = {"weak theory, its own represented features": (loss.widths, [own[int(m)] for m in loss.widths]),
                                   "weak theory, as many most frequent": (loss.widths, [top[int(m)] for m in loss.widths])}
        first = next((r for r in result if r.point["gamma"] == gamma and r.point["m"] == norms_width
                      and not r.diverged), None)
        if first is not None:
            norms[label] = np.asarray(first["row_norms"])

        print(f"gamma = {gamma:g} ({decay_regime(gamma)}{' superposition' if gamma else ''}), n = {n}, "
              f"{loss.n_diverged} diverged")
        print(f"  {'m':>5} {'loss':>8} {'L/own':>6} {'L/top':>6} {'phi_1/2':>8} {'m/n':>6} {'phi_1':>6} "
              f"{'m^2/2n':>7} {'overlap*m':>9} {'var/random':>10}")
        at = {k: dict(zip(c.widths.tolist(), c.loss.tolist())) for k, c in (*curves.items(), *long.items())}
        rv = dict(zip(curves["overlap_var"].widths.tolist(), random_var))
        for m, v, r_own, r_top in zip(loss.widths.tolist(), loss.loss.tolist(), ratio_own, ratio_top):
            ov, var = at["overlap_mean"].get(m, np.nan), at["overlap_var"].get(m, np.nan)
            print(f"  {m:>5} {v:>8.4f} {r_own:>6.2f} {r_top:>6.2f} {at['phi_half'].get(m, np.nan):>8.3f} "
                  f"{m / n:>6.3f} {at['phi_one'].get(m, np.nan):>6.3f} {min(1.0, m * m / (2 * n)):>7.3f} "
                  f"{ov * m:>9.3f} {var / rv[m] if m in rv else np.nan:>10.3f}")
        if long["nu"].widths.size:
            print("  rows longer than 1 against an equiangular tight frame of as many:")
            print(f"  {'m':>5} {'nu':>6} {'Welch k^2':>10} {'mean/Welch':>10} {'random/Welch':>12} {'var/random':>10}")
            for m in long["nu"].widths.tolist():
                print(f"  {m:>5} {at['nu'][m]:>6.0f} {at['welch_bound'].get(m, np.nan):>10.5f} "
                      f"{at['over_welch'].get(m, np.nan):>10.3f} "
                      f"{at['random_over_welch'].get(m, np.nan):>12.3f} {at['var_over_random'].get(m, np.nan):>10.3f}")
        if loss_fit:
            line = f"  L = C m^-a: a = {loss_fit.exponent:.3f} ({_t_text(loss_fit)}{redrawn_seeds_text(loss_fit)})"
            if bend:
                line += f"; {bend.brief()}"
        else:
            line = f"  L = C m^-a: not fitted, {loss_why}"
        if overlap_fit:
            line += (f"; mean squared overlap = C m^-a: a = {overlap_fit.exponent:.3f} ({_t_text(overlap_fit)}; "
                     f"random unit vectors: 1)")
        print(line)
    print(f"(L/own, L/top: loss over the weak-superposition loss <v^2> sum p_i of the features each model leaves "
          f"unrepresented (row norm <= 1/2), and of all but its phi_1/2 n most frequent, averaged per width; "
          f"overlaps: mean squared overlap of represented rows times m, and its variance over that of random unit "
          f"vectors, nan below {MIN_ROWS} represented rows; rows longer than 1: nu = phi_1 n of them (models with "
          f"at least {MIN_ROWS}), their mean squared overlap over the Welch bound (nu - m) / (m (nu - 1)), 1 for a "
          f"tight frame, random unit vectors' 1/m over it, and their variance over random vectors', 0 for an "
          f"equiangular tight frame; nan where nu <= m)")

    if family := holm_family_text({f"gamma={g:g}": r["loss_lack_of_fit"] for g, r in per_regime.items()},
                                  ("regime", "regimes")):
        print(family)
    if widened := seed_widen_text(s["seed_widen"], config,
                                  [r["loss_exponent_seed_interval"] for r in per_regime.values()]):
        print(widened)
    figure = args.figure
    plots.save(plots.superposition_geometry(n, panels, weak_theory=theory_lines, row_norms=norms,
                                            norms_width=norms_width),
               figure, os.path.join(args.out, "geometry.png"))
    return finish(args, "geometry", {
        "gamma": s["gammas"], "alpha": s["alpha"], "n": n,
        "regimes": {f"{g:g}": v for g, v in per_regime.items()},
        "norms_width": norms_width, "config": config.to_dict(), "sweep_stats": result.stats,
    }, figure)


if __name__ == "__main__":
    main()
