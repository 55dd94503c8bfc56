"""Random-feature scaling: the four regimes, duality, and the deterministic-equivalent overlay.

    python experiments/random_features.py --preset quick --out runs/random_features

Writes DIR/summary.json, DIR/random_features.png and figures/random_features_<preset>.png
(see ``--figures``); the sweep itself goes to DIR/sweep (rerunning resumes it).
"""

from __future__ import annotations

import os

import numpy as np

from toyscale import plots
from toyscale import random_features as rf
from toyscale.runner import experiment_args, finish, run_experiment_sweep
from toyscale.scaling import SEED_RESAMPLES, check_widen, redrawn_seeds_text, seed_interval
from toyscale.theory import expected_test_loss

# ``rf`` holds RFConfig fields (--set rf.test_samples=...); the rest are regime_grid's
# arguments plus the fit's ``ratio`` and ``seed_widen``, how each fit's interval over redrawn seeds is
# widened for few seeds (regime_exponents' ``widen``: "sqrt", or "t", also by Student's t on the
# Welch-Satterthwaite degrees of freedom). The papers give no single grid to copy for this figure:
# the sizes span the four regimes at spectrum exponent 0.5 with the latent dimension M well
# above the largest N and T, and "paper" is the larger of our two grids (M = 2^13, in the
# 2^13..2^15 range of Maloney et al.), not a published configuration.
PRESETS = {
    "smoke": dict(rf=dict(M=256), alpha=0.5, sizes=[8, 16, 32, 64], rows=[8, 64], columns=[8, 64], ridges=[0.1],
                  ridge_column=16, replicates=64, max_min_size=None, limit_size=32, ratio=2, seed_widen="sqrt"),
    "quick": dict(rf=dict(M=4096), alpha=0.5, sizes=[2**i for i in range(3, 12)], rows=[16, 128, 2048],
                  columns=[16, 128, 2048], ridges=[1e-2, 1e-1], ridge_column=128, replicates=2048,
                  max_min_size=256, limit_size=32, ratio=8, seed_widen="sqrt"),
    "paper": dict(rf=dict(M=8192), alpha=0.5, sizes=[2**i for i in range(3, 13)], rows=[16, 128, 4096],
                  columns=[16, 128, 4096], ridges=[1e-3, 1e-2, 1e-1], ridge_column=128, replicates=8192,
                  max_min_size=1024, limit_size=32, ratio=8, seed_widen="sqrt"),
}


def prepare(pre: dict) -> tuple:
    """The config, grid and fit settings of a preset, checked before anything runs."""
    cfg = rf.check_isotropic(rf.RFConfig.from_dict(pre["rf"]), "random_features.py")
    check_widen(pre["seed_widen"], "seed_widen")
    grid = rf.regime_grid(**{k: v for k, v in pre.items() if k not in ("rf", "ratio", "seed_widen")})
    fit_settings = rf.regime_fit_settings(rows=pre["rows"], columns=pre["columns"], ratio=pre["ratio"],
                                          limit_size=pre["limit_size"])
    rf.check_regime_fits(grid, **fit_settings)
    return cfg, grid, fit_settings


def print_table(fits: dict, fit_settings: dict, alpha: float, floor: dict[str, list[int]], M: int) -> None:
    """Prints the fitted exponents against their predictions (or why a fit means nothing)."""
    labels, axes = rf.regime_labels(**fit_settings), rf.regime_axes(**fit_settings)
    width = max(len(v) for v in labels.values())
    print(f"{'regime':<{width}}  fitted           95% t-interval    predicted  (fit; 95% interval over redrawn seeds)")
    for name in ("resolution_N", "resolution_T", "variance_N", "variance_T"):
        x, y, fit = fits[name]
        want = f"alpha = {alpha:g}" if name.startswith("resolution") else "1"
        if floor[name]:
            print(f"{labels[name]:<{width}}  n/a: the theory's loss is 0 at {axes[name]} = "
                  f"{', '.join(map(str, floor[name]))} (min(N, T) >= M = {M}: the student is exact), so the "
                  f"{len(x)}-size fit would be of rounding; predicted {want}")
            continue
        if fit is None:
            bad = [f"{v:g}" for v, keep in zip(x, np.isfinite(y) & (y > 0)) if not keep]
            why = (f"the mean loss is not > 0 at {axes[name]} = {', '.join(bad)}" if bad else
                   f"{len(x)} size(s) with a finished model (the other sizes' models diverged), and a line needs 2"
                   if len(x) else "every model at its sizes diverged")
            print(f"{labels[name]:<{width}}  n/a: {why}, so no power law fits; predicted {want}")
            continue
        lo, hi = fit.t_interval()
        print(f"{labels[name]:<{width}}  {fit.exponent:.3f} ± {fit.stderr['exponent']:.3f}  [{lo:.3f}, {hi:.3f}]  "
              f"{want:<10} (R^2 = {fit.r2:.3f}, fit over {fit.x_range[0]:g}..{fit.x_range[1]:g}, {fit.n_points} sizes"
              f"{redrawn_seeds_text(fit)})")


def main(argv=None) -> dict:
    args = experiment_args("random_features", __doc__.splitlines()[0], PRESETS, argv, prepare=prepare,
                           configs={"rf": rf.RFConfig})
    pre = args.settings
    cfg, grid, fit_settings = args.plan
    alpha, sizes = pre["alpha"], pre["sizes"]
    result = run_experiment_sweep(args, rf.sweep_random_features, cfg, grid)

    # Theory vs simulation at every distinct point, summarised at least a factor 2 from the N = T
    # peak; a theory of 0 (M at or below both sizes), an infinite expected loss (the ridgeless
    # peak, |N - T| <= 1) or a simulated mean that is not finite has no relative error, and is
    # counted apart (rf.theory_agreement).
    points, mean, sem = rf.replicate_means(result)
    agreement = rf.theory_agreement(points, mean, sem, expected_test_loss(cfg, points), off_peak=2.0)
    # each fit's stderr sees the seed noise only through the means' scatter about the line: the
    # replicates redrawn too (together across the sizes where the models share their draws)
    fits = rf.regime_exponents(result, **fit_settings, seed_bootstrap=SEED_RESAMPLES, common_across=cfg.common_across,
                               widen=pre["seed_widen"])
    floor = rf.regime_zero_theory_sizes(cfg, alpha, fits, **fit_settings)
    task = rf.RandomFeatureTask(cfg)
    print(f"{len(result)} models in {len({task.static_of(p) for p in grid})} compiled shapes")
    predicted = {"resolution_N": alpha, "resolution_T": alpha, "variance_N": 1.0, "variance_T": 1.0}
    print_table(fits, fit_settings, alpha, floor, cfg.M)
    print(agreement.describe(cfg.M, name_worst=False))
    median = agreement.median_far

    figure = args.figure
    shown = "n/a" if median is None else f"{median:.3f}"
    plots.save(plots.random_feature_regimes(
        result, cfg, alpha=alpha, sizes=sizes, rows=pre["rows"], columns=pre["columns"], ridges=pre["ridges"],
        ridge_column=pre["ridge_column"],
        fits={k: (x, y, None if floor[k] else fit) for k, (x, y, fit) in fits.items()},  # (no line for an n/a fit)
        title=f"random features, alpha={alpha}, M={cfg.M}: median |sim/theory - 1| off the peak "
              f"= {shown}"), figure, os.path.join(args.out, "random_features.png"), dpi=110)

    def fitted(k, read):  # (None for a fit through sizes where the theory's loss is 0, or no fit)
        fit = fits[k][2]
        return None if floor[k] or fit is None else read(fit)

    summary = {
        "alpha": alpha,
        "exponents": {k: fitted(k, lambda fit: fit.exponent) for k in sorted(fits)},
        "exponent_stderr": {k: fitted(k, lambda fit: fit.stderr["exponent"]) for k in sorted(fits)},
        "exponent_t_interval": {k: fitted(k, lambda fit: list(fit.t_interval())) for k in sorted(fits)},
        "exponent_seed_interval": {k: fitted(k, seed_interval) for k in sorted(fits)},
        "zero_theory_sizes": {k: floor[k] for k in sorted(fits)},
        "predicted": predicted,
        # (None: no size with a finished model)
        "fit_ranges": {k: [float(np.min(fits[k][0])), float(np.max(fits[k][0]))] if fits[k][0].size else None
                       for k in sorted(fits)},
        **agreement.summary(),  # (the printed line's: the compared points at least a factor 2 from the peak)
        "models": len(result),
        "config": cfg.to_dict(),  # (and finish() notes shared draws where it lists common_across)
    }
    return finish(args, "random_features", summary, figure)


if __name__ == "__main__":
    main()
