"""Activation density: strong-superposition loss vs width as more features are active per sample.

Liu, Liu & Gore (2025), activation-density study: p_i ∝ i^-1 normalised to sum 1, then
rescaled as p <- p (1 + s (1/p_1 - 1)) for s from 0 to 1 without renormalising, so the
activation density E = sum_i p_i runs from 1 to 1/p_1 (7.49 at n = 1000, where feature 1 is
always active). The loss grows in proportion to E while the width exponent stays about 1.1
(published: 1.1 ± 0.2, 1.1 ± 0.1, 1.1 ± 0.1, 1.12 ± 0.08, 1.12 ± 0.06).

Decided here, where the reference is silent: the published script swept ten weight decays gamma
at each density, and the reference does not say which the exponents above come from. Every
preset trains the strong regime, gamma = -1 (an exponent about 1 is strong superposition's);
``--set gamma=G`` trains another.

    python experiments/activation_density.py --preset quick --out runs/density
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from toyscale import plots
from toyscale.frequencies import power_law
from toyscale.runner import check_axis, experiment_args, finish, run_experiment_sweep, superposition_points
from toyscale.scaling import (fit_width_curve, holm_family_text, redrawn_seeds_text, script_lack_of_fit, seed_interval,
                              seed_redraw, seed_widen_text, width_curve)
from toyscale.train import TrainConfig, sweep_superposition

# At s = 1 feature 1 is active in every sample (p_1 = 1), which the sparse sampler's Poisson
# events cannot draw; every s < 1 has a Poisson rate Lambda <= 8.33 at n = 1000 (s = 0.875). So
# sampler="auto" with max_rate=10: the dense sampler at s = 1 only, the sparse one (the same law,
# about 3x faster per step here on a 2-core CPU) at every other density.
SAMPLER = dict(sampler="auto", max_rate=10.0)
# seed_widen: how the intervals over redrawn seeds widen, "sqrt" or "t" (toyscale.runner.check_seed_widen).
PRESETS = {
    # The paper's small-model n and lr on a 2-core CPU in minutes: five of its nine densities,
    # widths 10..63, batch 256 and 4,000 steps (paper: 2048 and 20,000).
    "quick": dict(train=dict(n=1000, batch=256, steps=4000, warmup=400, test_batches=20, log_every=100, **SAMPLER),
                  widths=[10, 15, 25, 39, 63], s=[0.0, 0.25, 0.5, 0.75, 1.0], alpha=1.0, gamma=-1.0, lr=1e-2,
                  seed_widen="sqrt", seeds=1),
    # Seconds: only checks that the script runs end to end (used by the tests).
    "smoke": dict(train=dict(n=48, batch=32, steps=40, warmup=4, test_batches=2, log_every=10, **SAMPLER),
                  widths=[3, 4, 6], s=[0.0, 1.0], alpha=1.0, gamma=-1.0, lr=1e-2, seed_widen="sqrt", seeds=1),
    # The published small-model settings (Sec. 3) with the study's nine densities.
    "paper": dict(train=dict(n=1000, batch=2048, steps=20_000, warmup=2_000, test_batches=100, log_every=100,
                             **SAMPLER),
                  widths=[10, 15, 25, 39, 63, 100], s=np.linspace(0, 1, 9).tolist(), alpha=1.0, gamma=-1.0,
                  lr=1e-2, seed_widen="sqrt", seeds=1),
}
PUBLISHED = ((1.1, 0.2), (1.1, 0.1), (1.1, 0.1), (1.12, 0.08), (1.12, 0.06))


def density(alpha: float, s: float, n: int) -> float:
    """E = 1 + s (1/p_1 - 1) for p_i ∝ i^-alpha, the paper's rescaling (at s = 1, p_1 = 1: the
    largest E whose p_1 does not round above 1)."""
    E = 1.0 + s * (1.0 / float(power_law(alpha).probs(n).max()) - 1.0)
    for _ in range(8):  # 1/p_1 can land an ulp or two above what p_1 <= 1 allows
        try:
            power_law(alpha, E=E).probs(n)
            return E
        except ValueError:
            E = math.nextafter(E, 0.0)
    raise ValueError(f"alpha={alpha!r}, s={s!r}: no density near {E} keeps p_1 <= 1")


def prepare(s: dict) -> tuple:
    """The config, frequency specs and grid of a preset, checked before anything runs."""
    config = TrainConfig.from_dict(s["train"])
    scales = check_axis("s", s["s"])
    bad = [v for v in scales if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0]
    if bad:
        raise ValueError(f"s={s['s']!r}; each rescaling s must be a number in [0, 1], got {bad[0]!r}")
    if not isinstance(s["alpha"], (int, float)) or isinstance(s["alpha"], bool) or not math.isfinite(s["alpha"]):
        raise ValueError(f"alpha={s['alpha']!r}; alpha must be a finite real number")
    specs = [power_law(s["alpha"], E=density(s["alpha"], float(v), config.n)) for v in scales]
    return config, specs, superposition_points(config, s, gammas=[s["gamma"]], frequencies=specs)


def main(argv=None) -> dict:
    args = experiment_args("activation_density", __doc__.splitlines()[0], PRESETS, argv, prepare=prepare,
                           configs={"train": TrainConfig})
    s = args.settings
    config, specs, points = args.plan
    result = run_experiment_sweep(args, sweep_superposition, config, points)

    rows, loss_panel, scaled_panel = [], {}, {}
    for scale, spec in zip(s["s"], specs):
        E = spec.E
        curve = width_curve(result, gamma=s["gamma"], frequencies=spec.describe())
        # loss per unit density: constant across densities if L ∝ E
        per_E = width_curve(result, measure=lambda r, E=E: float(r["test_loss"]) / E, gamma=s["gamma"],
                            frequencies=spec.describe())
        row = dict(s=float(scale), E=E, m=curve.widths.tolist(), loss=curve.loss.tolist(),
                   loss_over_E=per_E.loss.tolist(), exponent=None, exponent_stderr=None, exponent_t_interval=None,
                   exponent_seed_interval=None, exponent_notes=[], lack_of_fit=None,
                   r2=None, diverged=curve.n_diverged)
        rows.append(row)
        # with replicate seeds, also the interval over redrawn seeds
        fit, why = fit_width_curve(curve, **seed_redraw(curve, config, s["seed_widen"]))
        if fit is None:  # (e.g. the other models diverged)
            print(f"s = {float(scale):5.3f}  E = {E:6.3f}  alpha_m not fitted: {why}")
            continue
        lo, hi = fit.t_interval()
        seeds = seed_interval(fit)
        test = script_lack_of_fit(curve, fit, config)  # (None: one seed, untestable)
        row.update(exponent=fit.exponent, exponent_stderr=fit.stderr["exponent"], exponent_t_interval=[lo, hi],
                   exponent_seed_interval=seeds, exponent_notes=list(fit.notes),
                   lack_of_fit=dataclasses.asdict(test) if test else None,
                   r2=fit.r2)
        label = f"s={float(scale):g}, E={E:.2f}"
        loss_panel[label] = (curve, fit)
        scaled_panel[label] = (per_E, fit_width_curve(per_E)[0])
        # (through 2 widths the line is exact: no stderr or t interval, where it had printed "± nan")
        error = (f"(no stderr or t interval through {fit.n_points} widths)" if fit.exact else
                 f"± {fit.stderr['exponent']:.3f}  95% t [{lo:.3f}, {hi:.3f}]")
        print(f"s = {float(scale):5.3f}  E = {E:6.3f}  alpha_m = {fit.exponent:.3f} {error}"
              + redrawn_seeds_text(fit)
              + f"  R^2 = {fit.r2:.3f}  ({curve.widths.size} widths, "
              f"{curve.n_diverged} diverged)"
              + (f"  {test.brief()}" if test else ""))
    if family := holm_family_text({f"s={r['s']:g}, E={r['E']:.3g}": r["lack_of_fit"] for r in rows},
                                  ("density", "densities")):
        print(family)
    if widened := seed_widen_text(s["seed_widen"], config, [r["exponent_seed_interval"] for r in rows]):
        print(widened)
    widths = sorted(set().union(*(r["m"] for r in rows)))
    print("loss / E (rows: s, columns: m)")
    print("      s " + " ".join(f"{m:>7}" for m in widths))
    for r in rows:
        at = dict(zip(r["m"], r["loss_over_E"]))
        print(f"  {r['s']:5.3f} " + " ".join(f"{at[m]:7.4f}" if m in at else f"{'nan':>7}" for m in widths))
    spread = {}
    for m in widths:
        vals = [dict(zip(r["m"], r["loss_over_E"]))[m] for r in rows if m in r["m"]]
        spread[m] = max(vals) / min(vals) if len(vals) > 1 else float("nan")
    print("max / min of loss / E over the densities, per width: "
          + ", ".join(f"m={m}: {v:.2f}" for m, v in spread.items()))
    print("published alpha_m at five of the densities (which ones, the reference does not say): "
          + ", ".join(f"{v:g} ± {e:g}" for v, e in PUBLISHED))

    figure = args.figure
    if loss_panel:
        plots.save(plots.loss_vs_width({"test loss": loss_panel, "test loss / E": scaled_panel}), figure,
                   os.path.join(args.out, "activation_density.png"))
    else:
        print("no figure: no density's exponent could be fitted")
        figure = None
    return finish(args, "activation_density", {
        "alpha": s["alpha"], "gamma": s["gamma"], "densities": rows,
        "loss_over_E_spread": {str(m): v for m, v in spread.items()},
        "published": [list(p) for p in PUBLISHED], "config": config.to_dict(), "sweep_stats": result.stats,
    }, figure)


if __name__ == "__main__":
    main()
