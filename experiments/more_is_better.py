"""Random features at the best ridge: more features and more data never hurt ("more is better").

Simon, Karkada, Ghosh & Belkin (2023): linear random-feature ridge regression on a power-law
task, the loss against the number of features k = N at n = T samples, and against n at k,
for a grid of ridges. At a small ridge the loss peaks at N = T (double descent); at the best
ridge of the grid it falls monotonically in both, and the deterministic equivalent
(:func:`toyscale.theory.expected_test_loss`) predicts every point.

    python experiments/more_is_better.py --preset quick --out runs/more_is_better

Writes DIR/summary.json, DIR/more_is_better.png and figures/more_is_better_<preset>.png
(see ``--figures``); the sweep itself goes to DIR/sweep (rerunning resumes it).
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np

from toyscale import plots
from toyscale import random_features as rf
from toyscale.runner import experiment_args, finish, run_experiment_sweep
from toyscale.theory import expected_test_loss


def log_sizes(lo: int, hi: int, count: int) -> list[int]:
    """``count`` sizes from ``lo`` to ``hi``, evenly spaced in log, rounded (repeats dropped)."""
    return sorted({int(round(v)) for v in np.geomspace(lo, hi, count)})


def simon_sizes(low: float, high: float, count: int) -> list[int]:
    """Simon et al.'s size grid (``int_logspace(low, high, count, base=10)`` in their
    more-is-better repository's utils.py): ``count`` sizes from 10^low to 10^high evenly spaced
    in log, truncated to integers, each one no larger than the last raised to one above it
    (simon_sizes(1, 4, 31): 10, 12, 15, 19, 25, 31, ..., 7943, 10000)."""
    sizes = [int(v) for v in np.logspace(low, high, count)]
    for i in range(1, len(sizes)):
        sizes[i] = max(sizes[i], sizes[i - 1] + 1)
    return sizes


def log_ridges(lo: float, hi: float, count: int) -> list[float]:
    return [float(v) for v in np.geomspace(lo, hi, count)]


# The spectrum exponent 1 + alpha = 1.5; the teacher is isotropic in the latent space, so the
# target's power in the kernel's eigenbasis falls as I^-1.5 too (the paper's target exponent).
# ``noise`` is the label noise's standard deviation (as everywhere in toyscale.random_features);
# ``fixed`` the n of the k sweep and the k of the n sweep.
# Simon et al.'s "noise 0.5" is a variance: their script (more-is-better, scripts/rf-gaussian.py)
# sets NOISE_VAR = 0.5 and passes it to the deterministic equivalent as sigma^2, and their own
# Gaussian sampler (theory.py) draws noise of amplitude sqrt(noise_var). (That script's
# simulation drew torch.normal(0, NOISE_VAR), sd 0.5, against its theory's variance 0.5; here
# both sides have variance 0.5, the theory's setting.) Their target, sqrt(i^-1.5) per mode and
# not normalised, is this teacher's at lambda_+ = M.
NOISE_SD = 0.5**0.5
PRESETS = {
    # Simon et al.'s Gaussian random-feature runs: M = 10^4, 31 sizes in 10..10^4 (their grid, truncated), 31 ridges
    # in 10^[-3, 2], 45 trials (86,490 models in 62 shapes: a GPU's job; n = k = 256 itself is not one of the sizes).
    "paper": dict(rf=dict(M=10_000), alpha=0.5, noise=NOISE_SD, fixed=256, sizes=simon_sizes(1, 4, 31),
                  ridges=log_ridges(1e-3, 1e2, 31), trials=45),
    # a 2-core CPU in a few minutes: M = 2048, 13 sizes, 11 ridges, 8 trials
    "quick": dict(rf=dict(M=2048), alpha=0.5, noise=NOISE_SD, fixed=128, sizes=log_sizes(8, 2048, 13),
                  ridges=log_ridges(1e-3, 1e2, 11), trials=8),
    # seconds: only checks that the script runs end to end (used by the tests)
    "smoke": dict(rf=dict(M=128), alpha=0.5, noise=NOISE_SD, fixed=16, sizes=[4, 8, 16, 32, 64],
                  ridges=[1e-3, 1e-1, 10.0], trials=3),
}
SHOWN_RIDGES = 6  # ridges drawn per panel (evenly through the grid, both ends included)
OFF_PEAK = 2.0  # sim/theory agreement is summarised over points with max(N, T) >= this x min(N, T)


def prepare(pre: dict) -> tuple:
    """The config and grid of a preset, checked before anything runs."""
    cfg = rf.RFConfig.from_dict(pre["rf"])
    grid = rf.ridge_sweep_grid(alpha=pre["alpha"], sizes=pre["sizes"], fixed=pre["fixed"], ridges=pre["ridges"],
                               noise=pre["noise"], trials=pre["trials"])
    rf.check_trainable(cfg, grid[0])  # (alpha + rf.teacher_exponent > 0: the same for every point)
    if len(pre["sizes"]) < 2:
        raise ValueError(f"sizes={pre['sizes']!r}; the sweep needs at least two sizes")
    # (an axis checked by ridge_sweep_grid; [0] had crashed after its sweep, [1e-3] had chosen the best of one)
    if len(pre["ridges"]) < 2:
        raise ValueError(f"ridges={pre['ridges']!r}; the best-ridge comparison needs at least two ridges")
    if pre["trials"] < 2:
        raise ValueError(f"trials={pre['trials']!r}; the comparisons need a standard error over trials: "
                         f"trials must be >= 2")
    return cfg, grid


def rises(loss: np.ndarray, sem: np.ndarray | None = None) -> int:
    """Steps from one size to the next at which ``loss`` goes up (by more than twice the
    combined standard error when ``sem`` is given)."""
    step = np.diff(loss)
    if sem is None:
        return int(np.sum(step > 1e-12 * np.abs(loss[:-1])))
    return int(np.sum(step > 2 * np.hypot(sem[1:], sem[:-1])))


def _stat(reduce, rel: np.ndarray, where: np.ndarray) -> float | None:
    """``reduce`` (np.median, np.max) of ``rel`` over ``where``; None where that is empty."""
    return float(reduce(rel[where])) if where.any() else None


def main(argv=None) -> dict:
    args = experiment_args("more_is_better", __doc__.splitlines()[0], PRESETS, argv, prepare=prepare,
                           configs={"rf": rf.RFConfig})
    pre = args.settings
    cfg, grid = args.plan
    alpha, noise, fixed = pre["alpha"], pre["noise"], pre["fixed"]
    ridges = sorted(float(r) for r in pre["ridges"])  # (in any order in the preset)
    result = run_experiment_sweep(args, rf.sweep_random_features, cfg, grid)
    task = rf.RandomFeatureTask(cfg)
    diverged = sum(bool(r.diverged) for r in result)
    print(f"{len(result)} models in {len({task.static_of(p) for p in grid})} compiled shapes; M = {cfg.M}, "
          + (f"spectrum exponent {1 + alpha:g}, target exponent {1 + alpha + cfg.teacher_exponent:g}"
             if cfg.teacher_exponent else f"spectrum and target exponent {1 + alpha:g}")
          + f", noise sd {noise:.4g} (variance {noise**2:.4g}), "
          f"{len(ridges)} ridges "
          f"{ridges[0]:g}..{ridges[-1]:g}, {pre['trials']} trials; {diverged} diverged (left out of the means)")

    # the theory on the whole grid, not only where some trial of the simulation survived: its best
    # ridge must not depend on which simulations diverged
    def key(p):
        return p["N"], p["T"], float(p["ridge"])

    full = list({key(p): {k: v for k, v in p.items() if k != "seed"} for p in grid}.values())
    full_theory = dict(zip(map(key, full), expected_test_loss(cfg, full)))
    points, mean, sem = rf.replicate_means(result)
    theory = np.array([full_theory[key(p)] for p in points])
    # a theory of 0 (noise-free and ridgeless with min(N, T) >= M), an infinite expected loss (the
    # ridgeless peak, |N - T| <= 1) or a simulated mean that is not finite has no relative error:
    # those points are left out of the comparison and counted (rf.theory_agreement)
    agreement = rf.theory_agreement(points, mean, sem, theory, off_peak=OFF_PEAK)
    rel, compared = agreement.rel, agreement.compared
    dense = log_sizes(min(pre["sizes"]), max(pre["sizes"]), 100)
    shown = ridges if len(ridges) <= SHOWN_RIDGES else sorted(
        {ridges[round(i * (len(ridges) - 1) / (SHOWN_RIDGES - 1))] for i in range(SHOWN_RIDGES)})

    panels, directions = {}, {}
    for along, other, words in (("N", "T", "k = N features"), ("T", "N", "n = T samples")):
        # (a point whose every model diverged has a NaN mean: left out, as a size with no surviving ridge is)
        sel = np.array([i for i, p in enumerate(points) if p[other] == fixed and np.isfinite(mean[i])], dtype=int)
        pts = [points[i] for i in sel]
        at_fixed = [p for p in full if p[other] == fixed]
        th = rf.ridge_tuned(at_fixed, np.array([full_theory[key(p)] for p in at_fixed]), along)  # (every size)
        tuned = rf.ridge_tuned(pts, mean[sel], along)  # (the sizes with a surviving simulation)
        at_x = {x: k for k, x in enumerate(tuned.x)}
        # the simulation's best ridge at each size of the grid, NaN where every trial diverged
        sim = SimpleNamespace(x=th.x, loss=np.array([tuned.loss[at_x[x]] if x in at_x else np.nan for x in th.x]),
                              ridge=np.array([tuned.ridge[at_x[x]] if x in at_x else np.nan for x in th.x]))
        sim_sem = np.array([sem[sel][tuned.index[at_x[x]]] if x in at_x else np.nan for x in th.x])
        line_pts = [{"N": fixed, "T": fixed, along: x, "alpha": alpha, "ridge": r, "noise": noise}
                    for x in dense for r in ridges]
        line = expected_test_loss(cfg, line_pts)
        tuned_line = rf.ridge_tuned(line_pts, line, along)
        # the simulation at the theory's best ridge: no winner's curse from picking the ridge by
        # the same noisy means
        where = {(p[along], p["ridge"]): i for i, p in zip(sel, pts)}
        at_theory = np.array([mean[where[x, r]] if (x, r) in where else np.nan for x, r in zip(th.x, th.ridge)])
        at_theory_sem = np.array([sem[where[x, r]] if (x, r) in where else np.nan for x, r in zip(th.x, th.ridge)])
        smallest = {p[along]: i for i, p in zip(sel, pts) if p["ridge"] == ridges[0]}
        small = np.array([mean[smallest[x]] if x in smallest else np.nan for x in sim.x])
        small_theory = np.array([full_theory.get(key({other: fixed, along: x, "ridge": ridges[0]}), np.nan)
                                 for x in sim.x])
        direction = {
            "x": sim.x.tolist(), "best_loss": sim.loss.tolist(), "best_loss_sem": sim_sem.tolist(),
            "best_ridge": sim.ridge.tolist(), "theory_best_loss": th.loss.tolist(),
            "theory_best_ridge": th.ridge.tolist(),
            "loss_at_theory_ridge": at_theory.tolist(), "loss_at_theory_ridge_sem": at_theory_sem.tolist(),
            "loss_at_theory_ridge_rises": rises(at_theory),
            "loss_at_theory_ridge_rises_beyond_2_sem": rises(at_theory, at_theory_sem),
            "smallest_ridge_loss": small.tolist(), "smallest_ridge_theory": small_theory.tolist(),
            "best_loss_rises": rises(sim.loss), "best_loss_rises_beyond_2_sem": rises(sim.loss, sim_sem),
            "theory_best_loss_rises": rises(tuned_line.loss), "theory_sizes": len(dense),
            "rel_error_median": _stat(np.median, rel[sel], compared[sel]),
            "rel_error_max": _stat(np.max, rel[sel], compared[sel]), "rel_error_points": int(compared[sel].sum()),
        }
        directions[along] = direction

        print(f"\nloss against {words} at {other} = {fixed}: the best of the {len(ridges)} ridges, and the "
              f"smallest ridge ({ridges[0]:g}); 'sim there': the simulation at the theory's best ridge")
        print(f"  {along:>6}  {'best sim':>9} {'± sem':>7} {'ridge':>8}  {'theory':>9} {'ridge':>8} {'sim there':>9}  "
              f"{'smallest: sim':>13} {'theory':>9}")
        for k, x in enumerate(sim.x):
            print(f"  {int(x):>6}  {sim.loss[k]:>9.4f} {sim_sem[k]:>7.4f} {sim.ridge[k]:>8.3g}  {th.loss[k]:>9.4f} "
                  f"{th.ridge[k]:>8.3g} {at_theory[k]:>9.4f}  {small[k]:>13.4f} {small_theory[k]:>9.4f}")
        print(f"  best-ridge loss rises at {direction['best_loss_rises']} of {sim.x.size - 1} steps "
              f"({direction['best_loss_rises_beyond_2_sem']} by more than 2 standard errors; it is picked by the "
              f"same noisy means, so biased low); at the theory's ridge at "
              f"{direction['loss_at_theory_ridge_rises']} ({direction['loss_at_theory_ridge_rises_beyond_2_sem']} "
              f"by more than 2 standard errors); the theory's at "
              f"{direction['theory_best_loss_rises']} of {len(dense) - 1} steps of a {len(dense)}-size grid"
              + (f"; at {along} = {fixed} the smallest ridge's loss is "
                 f"{small[list(sim.x).index(fixed)] / sim.loss[list(sim.x).index(fixed)]:.2f}x the best"
                 if fixed in sim.x else ""))

        curves = {}
        for r in shown:
            at = sorted((i for i, p in zip(sel, pts) if p["ridge"] == r), key=lambda i: points[i][along])
            on_line = [j for j, p in enumerate(line_pts) if p["ridge"] == r]
            curves[r] = ([points[i][along] for i in at], mean[at], sem[at], dense, line[on_line])
        panels[f"loss vs {words} ({other} = {fixed})"] = {
            "along": along, "ridges": curves, "tuned": (sim.x, sim.loss, sim_sem, tuned_line.x, tuned_line.loss)}

    print("\nsimulation / theory at every (size, ridge): " + agreement.describe(cfg.M))

    figure = args.figure
    plots.save(plots.ridge_sweep(
        panels, title=f"random features at the best ridge, M = {cfg.M}, exponent {1 + alpha:g}"
                      + (f" (target {1 + alpha + cfg.teacher_exponent:g})" if cfg.teacher_exponent else "") + ", "
                      f"noise variance {noise**2:.3g}: "
                      f"median |sim/theory - 1| = " + ("n/a" if agreement.median_far is None else
                                                       f"{agreement.median_far:.3f}")
                      + f" where max(N, T) >= {OFF_PEAK:g} min(N, T)"),
        figure, os.path.join(args.out, "more_is_better.png"), dpi=110)
    summary = {
        "alpha": alpha, "noise": noise, "fixed": fixed, "ridges": ridges, "directions": directions,
        **agreement.summary(),  # (the printed line's: the points far from the N = T peak)
        "models": len(result), "diverged": diverged, "config": cfg.to_dict(),
    }
    return finish(args, "more_is_better", summary, figure)


if __name__ == "__main__":
    main()
