"""Phase diagram: the width exponent alpha_m over weight decay gamma x data exponent alpha.

Liu, Liu & Gore (2025), Fig. 4b (alpha_m over gamma x alpha) and Fig. 3b (phi_1/2 vs gamma).
Weak superposition (gamma > 0): alpha_m small, tracking alpha - 1 for alpha > 1. Strong
superposition (gamma < 0): alpha_m ≈ 1 for flat frequencies, rising toward 2(alpha - 1)
for strongly skewed ones.

    python experiments/phase_diagram.py --preset quick --out runs/phase
"""

from __future__ import annotations

import os

import numpy as np

from toyscale import plots
from toyscale.frequencies import power_law
from toyscale.optim import decay_regime
from toyscale.runner import check_axis, experiment_args, finish, run_experiment_sweep, superposition_points
from toyscale.scaling import (fit_width_curve, holm_adjusted, redrawn_seeds_text, script_lack_of_fit, seed_redraw,
                              seed_widen_text, width_curve)
from toyscale.train import TrainConfig, sweep_superposition

# seed_widen: how the intervals over redrawn seeds widen, "sqrt" or "t" (toyscale.runner.check_seed_widen).
PRESETS = {
    # A 5 x 5 corner-to-corner grid of the paper's plane at n = 256 that runs on a 2-core CPU.
    # Two seeds averaged: with one, the alpha >= 1.5 cells moved by up to 0.57 from one draw
    # of the keys to the next (alpha <= 1: 0.14); with two, by up to 0.32 (alpha <= 1: 0.12).
    # benchmarks/RESULTS.md, 2026-12-03 (fifth session).
    "quick": dict(train=dict(n=256, batch=256, steps=2000, warmup=200, test_batches=20, log_every=100),
                  widths=[6, 8, 11, 16, 23], gammas=np.linspace(-1, 1, 5).tolist(), alphas=np.linspace(0, 2, 5).tolist(), lr=1e-2,
                  seed_widen="sqrt", seeds=2),
    # Seconds: only checks that the script runs end to end (used by the tests).
    "smoke": dict(train=dict(n=32, batch=32, steps=40, warmup=4, test_batches=2, log_every=10),
                  widths=[3, 4, 6], gammas=[-1.0, 1.0], alphas=[0.5, 1.5], lr=1e-2, seed_widen="sqrt", seeds=1),
    # The published small-model grid: 10 gammas x 17 alphas x 6 widths = 1,020 models.
    "paper": dict(train=dict(n=1000, batch=2048, steps=20_000, warmup=2_000, test_batches=100, log_every=100),
                  widths=[10, 15, 25, 39, 63, 100], gammas=np.linspace(-1, 1, 10).tolist(), alphas=np.linspace(0, 2, 17).tolist(),
                  lr=1e-2, seed_widen="sqrt", seeds=1),
}
MIN_WIDTHS = 3  # per alpha_m fit: a power law's two parameters and their standard errors


def prepare(s: dict) -> tuple:
    """The config, frequency specs and grid of a preset, checked before anything runs."""
    config = TrainConfig.from_dict(s["train"])
    specs = [power_law(a) for a in check_axis("alphas", s["alphas"])]
    return config, specs, superposition_points(config, s, gammas=s["gammas"], frequencies=specs,
                                               min_widths=MIN_WIDTHS,
                                               why=" (a power law's two parameters and their errors)")


def main(argv=None) -> dict:
    args = experiment_args("phase_diagram", __doc__.splitlines()[0], PRESETS, argv, prepare=prepare,
                           configs={"train": TrainConfig})
    s = args.settings
    config, specs, points = args.plan
    result = run_experiment_sweep(args, sweep_superposition, config, points)

    shape = (len(s["gammas"]), len(s["alphas"]))
    alpha_m, alpha_m_err, r2 = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    bend_p = np.full(shape, np.nan)  # each cell's lack-of-fit p-value against its seeds (nan: not testable)
    notes = [[[] for _ in s["alphas"]] for _ in s["gammas"]]  # each cell's fit notes (its intervals' draw, widening)
    t_interval, seed_interval = np.full(shape + (2,), np.nan), np.full(shape + (2,), np.nan)
    phi_half = np.full(shape + (len(s["widths"]),), np.nan)
    column = {m: k for k, m in enumerate(s["widths"])}  # widths in the order given, sorted or not
    unfitted, not_fitted, no_seed_interval = 0, [], []
    for i, gamma in enumerate(s["gammas"]):
        for j, spec in enumerate(specs):
            curve = width_curve(result, gamma=gamma, frequencies=spec.describe())
            phi = width_curve(result, measure="phi_half", gamma=gamma, frequencies=spec.describe())
            phi_half[i, j, [column[m] for m in phi.widths]] = phi.loss
            if curve.widths.size >= MIN_WIDTHS:  # (fewer: too many diverged models in the cell)
                # with replicate seeds, also the exponent's spread over redrawn seeds
                fit, why = fit_width_curve(curve, **seed_redraw(curve, config, s["seed_widen"]))
                if fit is None:  # (e.g. a mean loss of exactly 0)
                    not_fitted.append(f"gamma={gamma:g}, alpha={s['alphas'][j]:g}: {why}")
                    continue
                alpha_m[i, j], alpha_m_err[i, j], r2[i, j] = fit.exponent, fit.stderr["exponent"], fit.r2
                t_interval[i, j] = fit.t_interval()
                notes[i][j] = list(fit.notes)
                test = script_lack_of_fit(curve, fit, config)
                bend_p[i, j] = test.p_value if test else np.nan
                if fit.resampled == "seeds":  # (also where a width was left with one model: nan, and why)
                    seed_interval[i, j] = fit.intervals["exponent"]
                    if not np.isfinite(seed_interval[i, j]).all():  # (why, not only a nan in the table)
                        no_seed_interval.append(f"gamma={gamma:g}, alpha={s['alphas'][j]:g}: "
                                                + redrawn_seeds_text(fit).removeprefix(", "))
            else:
                unfitted += 1
    print("alpha_m (rows: gamma, columns: alpha)")
    print("gamma \\ alpha " + " ".join(f"{a:6.2f}" for a in s["alphas"]))
    for i, gamma in enumerate(s["gammas"]):
        print(f"{gamma:13.2f} " + " ".join(f"{v:6.2f}" for v in alpha_m[i]))
    if np.isfinite(alpha_m_err).any():
        print(f"standard errors of the fits: {np.nanmin(alpha_m_err):.2f} to {np.nanmax(alpha_m_err):.2f}")
    for what, iv in (("t", t_interval), ("over redrawn seeds", seed_interval)):
        half = (iv[..., 1] - iv[..., 0]) / 2
        if np.isfinite(half).any():
            i, j = np.unravel_index(np.nanargmax(half), shape)
            print(f"95% intervals {what}: half-width median {np.nanmedian(half):.2f}, widest ±{half[i, j]:.2f} "
                  f"[{iv[i, j, 0]:.2f}, {iv[i, j, 1]:.2f}] at gamma={s['gammas'][i]:.2f}, alpha={s['alphas'][j]:.2f}")
    if widened := seed_widen_text(s["seed_widen"], config, seed_interval.reshape(-1, 2)):
        print(widened)
    bend_holm = holm_adjusted(bend_p)  # (25 tests at 5 %: Holm's keeps the chance of any false alarm to 5 %)
    if np.isfinite(bend_p).any():  # (with replicate seeds: do the cells' means bend away from their lines?)
        i, j = np.unravel_index(np.nanargmin(bend_p), shape)
        tested = int(np.isfinite(bend_p).sum())
        print(f"lack of fit against the seeds: p < 0.05 in {int((bend_p < 0.05).sum())} of {tested} cells (about "
              f"{0.05 * tested:.2g} by chance where every power law holds); smallest p = {bend_p[i, j]:.3g} at "
              f"gamma={s['gammas'][i]:.2f}, alpha={s['alphas'][j]:.2f}; Holm-adjusted over the {tested} "
              f"cell{'s' * (tested > 1)}, p < 0.05 in {int((bend_holm < 0.05).sum())} (smallest {bend_holm[i, j]:.3g})")
    if unfitted:
        print(f"nan: {unfitted} cell(s) had fewer than {MIN_WIDTHS} widths with a finite loss "
              f"(their other models diverged), too few to fit")
    for line in not_fitted:
        print(f"nan: not fitted at {line}")
    for line in no_seed_interval:
        print(f"nan: at {line}")
    alphas = np.asarray(s["alphas"], dtype=float)
    weak = [i for i, g in enumerate(s["gammas"]) if decay_regime(g) == "weak"]
    if weak and (alphas > 1).any():  # the paper's weak-regime law, alpha_m ≈ alpha - 1 for alpha > 1
        print("weak side (gamma > 0) against alpha_m ≈ alpha - 1 (alpha > 1), measured / law: "
              + "; ".join(f"gamma={s['gammas'][i]:.2f}: " + ", ".join(
                  f"{alpha_m[i, j]:.2f} / {alphas[j] - 1:.2f} at alpha={alphas[j]:g}"
                  for j in np.flatnonzero(alphas > 1)) for i in weak))
    mid = len(s["widths"]) // 2
    near_1 = int(np.argmin(np.abs(np.asarray(s["alphas"], dtype=float) - 1.0)))
    print(f"phi_1/2 at m = {s['widths'][mid]} (n = {config.n}, m/n = {s['widths'][mid] / config.n:.3f}), "
          f"alpha = {s['alphas'][near_1]:g} column: "
          + ", ".join(f"gamma={g:.2f}: {phi_half[i, near_1, mid]:.3f}" for i, g in enumerate(s["gammas"])))

    phi_panel = {f"$\\alpha$={s['alphas'][j]:g}, m={s['widths'][mid]}": (s["gammas"], phi_half[:, j, mid])
                 for j in sorted({0, len(s["alphas"]) // 2, len(s["alphas"]) - 1})}
    figure = args.figure
    plots.save(plots.phase_diagram(s["gammas"], s["alphas"], alpha_m, phi_half=phi_panel), figure,
               os.path.join(args.out, "phase_diagram.png"))
    return finish(args, "phase_diagram", {
        "gamma": s["gammas"], "alpha": s["alphas"], "m": s["widths"],
        "alpha_m": alpha_m.tolist(), "alpha_m_stderr": alpha_m_err.tolist(),
        "alpha_m_t_interval": t_interval.tolist(), "alpha_m_seed_interval": seed_interval.tolist(), "r2": r2.tolist(),
        "alpha_m_notes": notes,
        "alpha_m_lack_of_fit_p": bend_p.tolist(), "alpha_m_lack_of_fit_p_holm": bend_holm.tolist(),
        "phi_half": phi_half.tolist(), "config": config.to_dict(),
        "sweep_stats": result.stats,
    }, figure)


if __name__ == "__main__":
    main()
