"""Power-law random features under one-pass SGD: the compute-optimal frontier (Paquette et al. 2024).

Paquette, Paquette, Xiao & Pennington, "4+3 phases of compute-optimal neural scaling laws":
data x_j = j^-alpha z_j in R^v, a fixed embedding W (v x d, Normal(0, 1/d)), target b_j = j^-beta,
one-pass SGD of batch 1 from theta = 0, compute f = d x r for r steps (model: toyscale.plrf).
Our reference says d* ~ f^(1/2) across a large part of the (alpha, beta) plane, and checks that
at alpha = 0.7 on the boundary of phases II and III (beta = alpha in the derived phases) the loss
along the frontier falls as f^-0.643 (measured 0.648 in the paper). The exponents printed beside the fits are
``toyscale.theory.plrf_exponents`` (derived from the loss terms, not read in the paper's table):
d* ~ f^(1/2), P* ~ f^-((4 alpha - 1) / (4 alpha)) there, and each width's floor (the least
loss of its d features) ~ d^-(2 alpha - max(0, 1 - 2 beta)). That floor exponent is d -> inf's: the
script also prints the slope of the floors' deterministic equivalent at its own widths
(``toyscale.theory.plrf_floor``), which approaches it slowly (at alpha = beta = 0.7: 1.284 over
d = 16..512, 1.387 over 4096..16384).

Every width trains for ``compute / d`` steps (rounded down to a multiple of ``plrf.log_every``),
so all widths reach about the same largest budget; the
exact loss is logged every ``plrf.log_every`` steps, averaged over seeds per width, and the
frontier is the lowest mean loss per log-spaced budget, kept where a smaller and a larger width
bracket it (``toyscale.fitting.bracketed_frontier``).

    python experiments/plrf_frontier.py --preset quick --out runs/plrf_frontier

Writes DIR/summary.json, DIR/plrf_frontier.png and figures/plrf_frontier_<preset>.png (see
``--figures``); the sweep itself goes to DIR/sweep (rerunning resumes it).
"""

from __future__ import annotations

import os

import numpy as np

from toyscale import plots
from toyscale import plrf
from toyscale._checks import check_int
from toyscale.runner import (check_axis, check_seed_resamples, check_seed_widen, experiment_args, finish,
                             frontier_fits, frontier_summary, print_exponents, print_frontier, redraw_exponents,
                             run_experiment_sweep, width_fit)
from toyscale.fitting import fit_power_law
from toyscale.theory import plrf_exponents, plrf_floor

# ``plrf`` holds PLRFConfig fields; ``compute`` is the largest budget f = d r (each width runs
# compute / d steps, rounded down to a multiple of log_every); ``bins`` the number of
# log-spaced budgets of the frontier; ``seed_resamples`` the redraws of the seeds that every
# exponent's interval over redrawn seeds refits the whole table on (scaling.redraw_table; 0: none);
# ``seed_widen`` how those intervals are widened for few seeds (redraw_table's ``widen``: "sqrt", or
# "t", also by Student's t on the Welch-Satterthwaite degrees of freedom).
PRESETS = {
    # Not run here (no GPU): the reference gives alpha = 0.7 on the II/III boundary (beta = alpha in the derived
    # phases), not the paper's widths, steps or lr; these are ours.
    "paper": dict(plrf=dict(v_ratio=4, log_every=100), alpha=0.7, beta=0.7,
                  widths=[100, 200, 400, 800, 1600, 3200], compute=20_000_000, lr=0.1, seeds=8, bins=16,
                  seed_resamples=1000, seed_widen="sqrt"),
    # a 2-core CPU in about a minute; 400 seed redraws (each reruns the frontier, ~35 ms here: 1,000 had
    # added 33-37 s to the 47 s run)
    "quick": dict(plrf=dict(v_ratio=4, log_every=10), alpha=0.7, beta=0.7, widths=[16, 32, 64, 128, 256, 512],
                  compute=1_000_000, lr=0.1, seeds=8, bins=14, seed_resamples=400, seed_widen="sqrt"),
    # seconds: only checks that the script runs end to end (used by the tests)
    "smoke": dict(plrf=dict(v_ratio=4, log_every=10), alpha=0.7, beta=0.7, widths=[4, 8, 16, 32, 64],
                  compute=40_000, lr=0.1, seeds=2, bins=8, seed_resamples=100, seed_widen="sqrt"),
}
LEAST_LOGGED = 3  # logged losses of the widest width, at least


def steps_of(compute: int, d: int, log_every: int) -> int:
    """The steps a width of ``d`` trains for: ``compute / d``, rounded down to a multiple of ``log_every``."""
    return compute // d // log_every * log_every


def prepare(pre: dict) -> tuple:
    """The config, widths, steps per width, predictions and grid of a preset, checked before anything runs."""
    cfg = plrf.PLRFConfig.from_dict(pre["plrf"])
    widths = sorted(check_int("widths", d) for d in check_axis("widths", pre["widths"]))
    if len(widths) < 3:
        raise ValueError(f"widths={pre['widths']!r}; the frontier and floor fits need at least 3 widths")
    want = plrf_exponents(pre["alpha"], pre["beta"])
    compute = pre["compute"]
    if isinstance(compute, bool) or not isinstance(compute, int) or \
            steps_of(compute, widths[-1], cfg.log_every) < LEAST_LOGGED * cfg.log_every:
        raise ValueError(f"compute={compute!r}; compute must be an integer of at least {LEAST_LOGGED} x log_every x "
                         f"the largest width = {LEAST_LOGGED * cfg.log_every * widths[-1]}, so that every width "
                         f"logs {LEAST_LOGGED} losses or more")
    if isinstance(pre["bins"], bool) or not isinstance(pre["bins"], int) or pre["bins"] < 3:
        raise ValueError(f"bins={pre['bins']!r}; bins must be an integer >= 3 (compute budgets of the frontier)")
    check_seed_resamples(pre["seed_resamples"])
    check_seed_widen(pre["seed_widen"], pre["seed_resamples"])
    steps = {d: steps_of(compute, d, cfg.log_every) for d in widths}
    grid = [p for d in widths for p in plrf.plrf_grid(d=[d], alpha=[pre["alpha"]], beta=[pre["beta"]],
                                                      lr=pre["lr"], steps=steps[d], seeds=pre["seeds"])]
    return cfg, widths, steps, want, grid


def mean_curves(result, widths: list[int], steps: dict[int, int], log_every: int):
    """Per width, the mean over seeds of the logged losses of the runs that did not diverge, as a
    [widths, longest curve] array padded with NaN (NaN rows where none is left); the mean of its
    runs' finite floors, diverged ones too (the least loss of the width's features on that draw,
    whatever SGD did: a diverged run's had been dropped); and the number of diverged runs."""
    length = max(steps.values()) // log_every
    curves, floors, diverged = np.full((len(widths), length), np.nan), np.full(len(widths), np.nan), 0
    for i, d in enumerate(widths):
        runs = [r for r in result if r.point["d"] == d]
        diverged += sum(r.diverged for r in runs)
        kept = [r for r in runs if not r.diverged]
        if kept:
            curves[i, :steps[d] // log_every] = np.mean([np.asarray(r["loss_curve"], float) for r in kept], axis=0)
        ends = [float(r["loss_floor"]) for r in runs if "loss_floor" in r.outputs and np.isfinite(r["loss_floor"])]
        if ends:
            floors[i] = np.mean(ends)
    return curves, floors, diverged


SIGNS = {"floor": 1.0, "d_opt": -1.0, "loss_opt": 1.0}  # as printed


def fit_table(result, widths: list[int], steps: dict[int, int], cfg: plrf.PLRFConfig, bins: int) -> dict:
    """Every fit of the exponent table from a sweep's records: the mean curves and floors, the
    floor fit and the frontier's fits, with ``why`` for those that could not be fitted (rerun
    on redrawn seeds by ``redraw_table``)."""
    curves, floors, diverged = mean_curves(result, widths, steps, cfg.log_every)
    r = cfg.log_every * np.arange(1, curves.shape[1] + 1, dtype=float)
    fits, why = {}, {}
    width_fit(fits, why, "floor", widths, floors, "a floor", "" if cfg.floor else "; plrf.floor=true computes them")
    frontier, budgets = frontier_fits(fits, why, ("d_opt", "loss_opt"), widths, r, curves, bins)
    return dict(curves=curves, floors=floors, diverged=diverged, r=r, fits=fits, why=why, frontier=frontier,
                budgets=budgets)


def main(argv=None) -> dict:
    args = experiment_args("plrf_frontier", __doc__.splitlines()[0], PRESETS, argv, prepare=prepare,
                           configs={"plrf": plrf.PLRFConfig})
    s = args.settings
    cfg, widths, steps, want, points = args.plan
    result = run_experiment_sweep(args, plrf.sweep_plrf, cfg, points)
    table = fit_table(result, widths, steps, cfg, s["bins"])
    curves, floors, diverged, r, fits, why, frontier, budgets = (
        table[k] for k in ("curves", "floors", "diverged", "r", "fits", "why", "frontier", "budgets"))
    # each exponent's spread over redrawn seeds: the whole table refitted on each redraw (the fits' own
    # intervals see one set of runs)
    redrawn = redraw_exponents(result, lambda records: fit_table(records, widths, steps, cfg, s["bins"])["fits"],
                               SIGNS, s["seed_resamples"], widen=s["seed_widen"])

    per_width = len(s["seeds"]) if isinstance(s["seeds"], (list, tuple)) else s["seeds"]  # (labels: a count)
    print(f"{len(result)} models ({len(widths)} widths x {per_width} seeds), alpha = {s['alpha']:g}, "
          f"beta = {s['beta']:g} (phase {want['phase']}), v = {cfg.v_ratio} d, lr = {s['lr']:g}, batch 1, "
          f"{s['compute']:g} / d steps; {diverged} diverged (their loss curves left out of the means; their "
          f"floors, which SGD does not change, kept)")
    rows = print_exponents({
        "floor": ("floor min P ~ d^-x (gradient flow)", SIGNS["floor"]),
        "d_opt": ("d* ~ f^x, f = d r" + (f" ({frontier.C.size} budgets)" if frontier is not None else ""),
                  SIGNS["d_opt"]),
        "loss_opt": ("P* ~ f^-x along the frontier", SIGNS["loss_opt"]),
    }, fits, why, want, redrawn)
    # the floors' deterministic equivalent at these widths (those of the floor fit, where it has 3): its slope
    # approaches the asymptotic prediction slowly, so the fitted floor exponent is to be read against it too
    floor_theory = plrf_floor(widths, s["alpha"], s["beta"], cfg.v_ratio)
    fitted = np.isfinite(floors) if np.isfinite(floors).sum() >= 3 else np.ones(len(widths), bool)
    over = np.asarray(widths, float)[fitted]
    floor_theory_exponent = fit_power_law(over, floor_theory[fitted]).exponent
    wider = np.array([8, 16, 32]) * max(widths)
    floor_wider_exponent = fit_power_law(wider, plrf_floor(wider, s["alpha"], s["beta"], cfg.v_ratio)).exponent
    print(f"floor, theory: the floors' deterministic equivalent (theory.plrf_floor) falls as "
          f"d^-{floor_theory_exponent:.3f} over " + (f"these widths, d = {min(widths)}..{max(widths)}" if fitted.all()
                                                     else "the widths of the floor fit, d = "
                                                     + ", ".join(f"{w:g}" for w in over))
          + f", and as d^-{floor_wider_exponent:.3f} over d = {wider[0]}..{wider[-1]}; the prediction "
          f"{want['floor']:.3g} is its d -> inf limit")
    if frontier is not None:
        print_frontier(frontier, budgets, "d* and P*", "; the predictions are asymptotic in d",
                       redrawn=redrawn is not None and not {"d_opt", "loss_opt"} & set(redrawn.why))

    figure = args.figure
    plots.save(plots.compute_frontier(r, widths, curves, floors, frontier, loss_fit=fits.get("loss_opt"),
                                      size="d", time="r", loss="P", limit_label="each width's floor, min P",
                                      title=f"power-law random features, one-pass SGD, alpha = {s['alpha']:g}, "
                                            f"beta = {s['beta']:g}, v = {cfg.v_ratio} d"),
               figure, os.path.join(args.out, "plrf_frontier.png"), dpi=110)
    return finish(args, "plrf_frontier", {
        "alpha": s["alpha"], "beta": s["beta"], "phase": want["phase"], "widths": widths,
        "steps": [steps[d] for d in widths], "r": r.tolist(), "loss_curves": curves.tolist(),
        "floors": floors.tolist(), "floors_theory": floor_theory.tolist(),
        "floor_theory_exponent": floor_theory_exponent,
        "floor_theory_exponent_wider": {"widths": wider.tolist(), "exponent": floor_wider_exponent},
        "exponents": rows,
        "frontier": frontier_summary(frontier, budgets, ("d_opt", "loss_opt")),
        "seed_redraw": redrawn.note if redrawn is not None else None,
        "models": len(result), "diverged": diverged, "config": cfg.to_dict(),
    }, figure)


if __name__ == "__main__":
    main()
