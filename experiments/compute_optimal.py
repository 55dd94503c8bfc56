"""Random features under gradient descent: loss against time and width, and the compute-optimal frontier.

Bordelon, Atanasov & Pehlevan (2024), a dynamical model of neural scaling laws (marked "check"
in our reference): with a spectrum lambda_k ~ k^-b and a target power lambda_k w_k^2 ~ k^-a,
gradient descent gives L ~ t^-((a-1)/b) at large width, L ~ N^-(a-1) at long times, and at
compute C = N t the best width N* ~ C^(1/(1+b)) with loss L* ~ C^(-(a-1)/(1+b)). Here the
data spectrum is lambda_I ∝ I^-(1+alpha) and the teacher is isotropic, so a = b = 1 + alpha:
at alpha = 1, time exponent 1/2, width exponent 1, N* ~ C^(1/3) and L* ~ C^(-1/3).
``--set rf.teacher_exponent=s`` gives the teacher's weights variances ∝ I^-s, so that a = 1 + alpha + s
while b stays 1 + alpha (s = 1: exponents 1, 2, 1/3 and 2/3), which tells a from b. Random features
cap the width exponent at b (``predictions``), so beyond s = 1 at alpha = 1 it stays 2.
``--set 'rf.common_across=["N"]'`` gives every width of a seed one teacher and data set, and
nested features (common random numbers, ``RFConfig.common_across``): the widths' losses then
differ only through their features. ``--set 'seeds=[8,8,2,2,2,2]'`` gives each width its own number
of seeds (one count per width, in the order of ``widths``): the small widths' long-time losses
vary most from seed to seed and cost least (``benchmarks/width_noise.py``). The width fit gains
most; the time fit uses only the largest width. Given a finished run's ``--out``, the larger
grid extends its sweep (its models are reused, the new ones trained).

N linear random features of M latent modes, fitted on T >> N samples (so that the data do
not limit the loss) by full-batch gradient descent from 0 at a constant step; the exact test
loss is logged every ``rf.log_every`` steps. Each model also reports the loss of the ridgeless
(minimum-norm) solution on its own features and data, where its gradient descent converges
(``infinite_time``): the long-time loss, for the width exponent. And its sharpness
(``rf.gd_sharpness``): a run diverges where lr x sharpness passes 2 (just past 2 the growth is
slow, and a run may end before it shows), which a narrow model's draw can do at a step the
others take safely; the script counts them per width.

    python experiments/compute_optimal.py --preset quick --out runs/compute_optimal

Writes DIR/summary.json, DIR/compute_optimal.png and figures/compute_optimal_<preset>.png
(see ``--figures``); the sweep itself goes to DIR/sweep (rerunning resumes it).
"""

from __future__ import annotations

import os

import numpy as np

from toyscale import plots
from toyscale import random_features as rf
from toyscale._checks import check_int
from toyscale.fitting import fit_power_law
from toyscale.runner import (check_axis, check_seed_resamples, check_seed_widen, experiment_args, finish,
                             frontier_fits, frontier_summary, print_exponents, print_frontier, redraw_exponents,
                             run_experiment_sweep, width_fit)

# ``rf`` holds RFConfig fields; ``seeds`` the seeds of every width, or a list of them, one count per
# width in the order of ``widths``; ``time_fit`` is the (t_min, t_max) of the time exponent's fit at
# the largest width; ``bins`` the number of log-spaced compute budgets of the frontier;
# ``seed_resamples`` the redraws of the seeds that every exponent's interval over redrawn seeds
# refits the whole table on (scaling.redraw_table; 0: none); ``seed_widen`` how those intervals are
# widened for few seeds (redraw_table's ``widen``: "sqrt", or "t", also by Student's t on the
# Welch-Satterthwaite degrees of freedom, which covers closer to 95 % with 2-4 seeds).
PRESETS = {
    # Not a published configuration (the paper's figures use other models): the largest grid we
    # would run, for a GPU.
    "paper": dict(rf=dict(M=16384, log_every=100), alpha=1.0, widths=[16, 32, 64, 128, 256, 512, 1024, 2048],
                  T=32768, steps=40_000, lr=1.0, seeds=4, time_fit=[100, 10_000], bins=12,
                  seed_resamples=1000, seed_widen="sqrt"),
    # a 2-core CPU in about three minutes
    "quick": dict(rf=dict(M=4096, log_every=50), alpha=1.0, widths=[16, 32, 64, 128, 256, 512], T=8192,
                  steps=10_000, lr=1.0, seeds=2, time_fit=[100, 2000], bins=10,
                  seed_resamples=1000, seed_widen="sqrt"),
    # seconds: only checks that the script runs end to end (used by the tests)
    "smoke": dict(rf=dict(M=128, log_every=10), alpha=1.0, widths=[4, 8, 16, 32], T=512, steps=400, lr=1.0,
                  seeds=2, time_fit=[20, 200], bins=6, seed_resamples=100, seed_widen="sqrt"),
}
DATA_RICH = 16  # T >= this x the largest width: the ridgeless loss's 1 / (1 - N/T) then inflates it <= 7 %
MODE_RICH = 4  # M >= this x the largest width (the presets have 4 and 8)


def predictions(alpha: float, teacher_exponent: float = 0.0) -> dict[str, float]:
    """The exponents of Bordelon et al. at b = 1 + alpha, a = b + teacher_exponent.

    The width exponent is min(a - 1, b): N random features leave the modes they blur as well as
    those they miss, about N^-b of loss, so the reference's a - 1 holds for a - 1 <= b (with a log
    where they meet, s = 1 here: the package's deterministic equivalent gives a slope of 1.772 over
    the quick preset's widths, and tends to b = 2). N* and L* balance t^-((a-1)/b) against N^-width
    at C = N t (our derivation; 1/(1+b) and (a-1)/(1+b) where width = a - 1)."""
    b = 1.0 + alpha
    a = b + teacher_exponent
    width = min(a - 1, b)
    return {"time": (a - 1) / b, "width": width, "N_opt": (a - 1) / (a - 1 + width * b),
            "L_opt": width * (a - 1) / (a - 1 + width * b)}


def _ab(alpha: float, teacher_exponent: float) -> str:
    """"a = b = 2", or "a = 3, b = 2" where the teacher is not isotropic."""
    b = 1 + alpha
    return f"a = b = {b:g}" if not teacher_exponent else f"a = {b + teacher_exponent:g}, b = {b:g}"


def prepare(pre: dict) -> tuple:
    """The config and grid of a preset, checked before anything runs."""
    cfg = rf.RFConfig.from_dict(pre["rf"])
    widths = sorted(check_axis("widths", pre["widths"]))
    if len(widths) < 3:
        raise ValueError(f"widths={pre['widths']!r}; the width and frontier fits need at least 3 widths")
    if not widths[-1] * MODE_RICH <= cfg.M:  # (N = 32 at M = 16 had fitted a width exponent of 17.9 +- 5.0)
        raise ValueError(f"widths={pre['widths']!r}; the largest width must be at most M/{MODE_RICH} = "
                         f"{cfg.M // MODE_RICH} (rf.M={cfg.M}): the width law holds for N << M, and at N >= M the "
                         f"features span every mode and the ridgeless loss falls to rounding")
    if not pre["T"] >= DATA_RICH * widths[-1]:
        raise ValueError(f"T={pre['T']!r}; T must be at least {DATA_RICH} x the largest width ({widths[-1]}), "
                         f"so that the data do not limit the loss")
    counts = seed_counts(pre["seeds"], pre["widths"])
    if len(set(counts.values())) > 1 and "N" in cfg.common_across:
        raise ValueError(f"seeds={pre['seeds']!r} with rf.common_across={list(cfg.common_across)!r}; widths that "
                         f"share a seed's draws are paired seed by seed (and redrawn so), so every width needs the "
                         f"same seeds: give one count")
    check_seed_resamples(pre["seed_resamples"])
    check_seed_widen(pre["seed_widen"], pre["seed_resamples"])
    window = pre["time_fit"]
    if not (isinstance(window, list) and len(window) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in window)):
        raise ValueError(f"time_fit={window!r}; time_fit must be a list of two numbers [t_min, t_max]")
    lo, hi = window
    if not cfg.log_every <= lo < hi <= pre["steps"]:
        raise ValueError(f"time_fit={pre['time_fit']!r}; time_fit must be [t_min, t_max] with "
                         f"log_every={cfg.log_every} <= t_min < t_max <= steps={pre['steps']}")
    logged = pre["steps"] // cfg.log_every
    inside = sum(lo <= cfg.log_every * k <= hi for k in range(1, logged + 1))
    if inside < 3:
        raise ValueError(f"time_fit={pre['time_fit']!r} holds {inside} logged step(s) (every log_every="
                         f"{cfg.log_every}); the time fit needs at least 3")
    if isinstance(pre["bins"], bool) or not isinstance(pre["bins"], int) or not 3 <= pre["bins"] <= logged:
        raise ValueError(f"bins={pre['bins']!r}; bins must be an integer from 3 to the {logged} logged steps "
                         f"(compute budgets of the frontier)")
    grid = [point for N in widths
            for point in rf.random_feature_grid(N=[N], T=[pre["T"]], alpha=[pre["alpha"]], seeds=counts[N],
                                                method="gd", steps=pre["steps"], lr=pre["lr"], infinite_time=True)]
    rf.check_trainable(cfg, grid[0])  # (alpha + rf.teacher_exponent > 0: the same for every point)
    return cfg, widths, grid


def seed_counts(seeds, widths: list) -> dict:
    """{width: its number of seeds} from a preset's ``seeds``: one count (an integer >= 1) for
    every width, or a list of counts, one per width in the order of ``widths`` (checked)."""
    if isinstance(seeds, list):
        if len(seeds) != len(widths):
            raise ValueError(f"seeds={seeds!r}; a list of seeds gives one count per width: {len(widths)} for "
                             f"widths={widths!r}, got {len(seeds)}")
        whole = [int(k) if isinstance(k, float) and k.is_integer() else k for k in seeds]  # (as --set reads 2.0)
        return {N: check_int(f"seeds[{i}]", k) for i, (N, k) in enumerate(zip(widths, whole))}
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)):
        raise TypeError(f"seeds={seeds!r}; seeds must be an integer (every width's) or a list of integers, one per "
                        f"width in the order of widths")
    return dict.fromkeys(widths, check_int("seeds", seeds))


def mean_curves(result, widths: list[int], logged: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per width, the mean over seeds of the ``logged`` losses of the gradient-descent runs that
    did not diverge, of every finite long-time (ridgeless) loss of its models (a solve on the
    same draw, whatever gradient descent did with it), and of the long-time losses of the runs
    in the curve's mean (its own floor); NaN where none is left. And the number of diverged runs."""
    curves, limits = np.full((len(widths), logged), np.nan), np.full(len(widths), np.nan)
    floors, diverged = np.full(len(widths), np.nan), 0
    for i, N in enumerate(widths):
        runs = [r for r in result if r.point["N"] == N]
        diverged += sum(r.diverged for r in runs)
        kept = [r for r in runs if not r.diverged]
        if kept:
            curves[i] = np.mean([np.asarray(r["loss_curve"], dtype=float) for r in kept], axis=0)
            ends = [float(r["loss_infinite_time"]) for r in kept if np.isfinite(r["loss_infinite_time"])]
            floors[i] = np.mean(ends) if ends else np.nan
        ends = [float(r["loss_infinite_time"]) for r in runs if np.isfinite(r["loss_infinite_time"])]
        if ends:
            limits[i] = np.mean(ends)
    return curves, limits, floors, diverged


def stability_edge(result, widths: list[int]) -> dict:
    """Gradient descent's stability edge model by model: full-batch descent at step lr is stable
    while lr x sharpness < 2 (``rf.gd_sharpness``; a narrow model's sharpness varies most from
    draw to draw; just past 2 a run can end before its growth shows). Per width, the largest
    lr x sharpness and the models past 2; the diverged models past the edge and inside it; the
    models with no sharpness recorded (trained by a version that did not record it: a resumed
    folder) and those whose sharpness is not finite (counted in neither)."""
    largest, past = [], []
    diverged_past = diverged_inside = unrecorded = nonfinite = 0
    for N in widths:
        runs = [r for r in result if r.point["N"] == N]
        given = [(r.point["lr"] * float(r.outputs["sharpness"]), bool(r.diverged)) for r in runs
                 if "sharpness" in r.outputs]
        known = [(v, d) for v, d in given if np.isfinite(v)]  # (a non-finite draw's: no edge to compare with)
        unrecorded += len(runs) - len(given)
        nonfinite += len(given) - len(known)
        largest.append(max((v for v, _ in known), default=None))
        past.append(sum(v > 2 for v, _ in known))
        diverged_past += sum(d and v > 2 for v, d in known)
        diverged_inside += sum(d and not v > 2 for v, d in known)
    return {"largest_lr_x_sharpness": largest, "past_edge": past, "diverged_past_edge": diverged_past,
            "diverged_inside_edge": diverged_inside, "unrecorded": unrecorded, "nonfinite": nonfinite}


def edge_text(edge: dict, widths: list[int]) -> str:
    """:func:`stability_edge` in one printed line."""
    if edge["unrecorded"] and all(v is None for v in edge["largest_lr_x_sharpness"]):
        return (f"stability edge: no sharpness recorded ({edge['unrecorded']} models trained before it was; "
                f"retrain in a new --out to see it)")
    largest = ", ".join("-" if v is None else f"{v:.2f}" for v in edge["largest_lr_x_sharpness"])
    where = ", ".join(f"{k} at N = {N}" for N, k in zip(widths, edge["past_edge"]) if k)
    past = sum(edge["past_edge"])
    text = (f"stability edge (full-batch gradient descent is stable while lr x sharpness < 2, rf.gd_sharpness): "
            f"largest lr x sharpness {largest} at N = {', '.join(map(str, widths))}; "
            + (f"{past} model(s) past 2 ({where}), {edge['diverged_past_edge']} of them diverged" if past else
               "none past 2"))
    if edge["diverged_inside_edge"]:
        text += f"; {edge['diverged_inside_edge']} diverged inside it"
    if edge["unrecorded"]:
        text += f"; no sharpness recorded for {edge['unrecorded']} models (trained before it was)"
    if edge["nonfinite"]:
        text += f"; {edge['nonfinite']} models' sharpness not finite"
    return text


SIGNS = {"time": 1.0, "time_above_floor": 1.0, "width": 1.0, "N_opt": -1.0, "L_opt": 1.0}  # as printed


def fit_table(result, widths: list[int], s: dict, cfg: rf.RFConfig) -> dict:
    """Every fit of the exponent table from a sweep's records: the mean curves, the time fits at
    the largest width, the width fit of the long-time losses and the frontier's fits, with
    ``why`` for those that could not be fitted (rerun on redrawn seeds by ``redraw_table``)."""
    curves, limits, floors, diverged = mean_curves(result, widths, s["steps"] // cfg.log_every)
    t = cfg.log_every * np.arange(1, curves.shape[1] + 1, dtype=float)
    fits, why = {}, {}
    lo, hi = s["time_fit"]
    keep = (t >= lo) & (t <= hi)
    if np.all(np.isfinite(curves[-1, keep])):
        fits["time"] = fit_power_law(t[keep], curves[-1, keep])
        # the law is for infinite width: at N the loss has a floor, its ridgeless loss on the same draws, and a
        # power law fitted through a floor comes out low (an exact A t^-0.5 + F with L(t_max) = 3.8 F on the quick
        # preset's window gives 0.417), so the exponent is also fitted to the loss above the floor
        above = curves[-1, keep] - floors[-1]
        if not np.isfinite(floors[-1]):
            why["time_above_floor"] = f"no finite long-time loss of the N = {widths[-1]} runs"
        elif np.all(above > 0):
            fits["time_above_floor"] = fit_power_law(t[keep], above)
        else:
            why["time_above_floor"] = f"the N = {widths[-1]} loss reaches its long-time loss inside the window"
    else:
        why["time"] = why["time_above_floor"] = f"every N = {widths[-1]} run diverged"
    width_fit(fits, why, "width", widths, limits, "a finite long-time loss")
    frontier, budgets = frontier_fits(fits, why, ("N_opt", "L_opt"), widths, t, curves, s["bins"])
    return dict(curves=curves, limits=limits, floors=floors, diverged=diverged, t=t, keep=keep, fits=fits, why=why,
                frontier=frontier, budgets=budgets)


def main(argv=None) -> dict:
    args = experiment_args("compute_optimal", __doc__.splitlines()[0], PRESETS, argv, prepare=prepare,
                           configs={"rf": rf.RFConfig})
    s = args.settings
    cfg, widths, points = args.plan
    result = run_experiment_sweep(args, rf.sweep_random_features, cfg, points)
    table = fit_table(result, widths, s, cfg)
    curves, limits, floors, diverged, t, keep, fits, why, frontier, budgets = (
        table[k] for k in ("curves", "limits", "floors", "diverged", "t", "keep", "fits", "why", "frontier",
                           "budgets"))
    want = predictions(s["alpha"], cfg.teacher_exponent)
    want["time_above_floor"] = want["time"]
    lo, hi = s["time_fit"]
    # each exponent's spread over redrawn seeds: the whole table refitted on each redraw (the fits' own
    # intervals see one set of runs)
    redrawn = redraw_exponents(result, lambda records: fit_table(records, widths, s, cfg)["fits"], SIGNS,
                               s["seed_resamples"], paired="N" in cfg.common_across, widen=s["seed_widen"])

    counts = seed_counts(s["seeds"], s["widths"])  # (checked by prepare)
    per_width = (f"{len(widths)} widths x {counts[widths[0]]} seeds" if len(set(counts.values())) == 1 else
                 f"seeds {', '.join(str(counts[N]) for N in widths)} at N = {', '.join(map(str, widths))}")
    print(f"{len(result)} models ({per_width}), "
          f"M = {cfg.M}, T = {s['T']}, alpha = {s['alpha']:g} ({_ab(s['alpha'], cfg.teacher_exponent)}), "
          f"lr = {s['lr']:g}, "
          f"{s['steps']} steps; {diverged} diverged (their loss curves left out of the means; the ridgeless "
          f"solve on each model's draw is kept)")
    edge = stability_edge(result, widths)
    print(edge_text(edge, widths))
    rows = print_exponents({
        "time": (f"L ~ t^-x at N = {widths[-1]}, t in [{lo:g}, {hi:g}]", SIGNS["time"]),
        "time_above_floor": ("  L - L(inf) ~ t^-x, the same runs", SIGNS["time_above_floor"]),
        "width": ("L ~ N^-x at t -> inf (ridgeless)", SIGNS["width"]),
        "N_opt": ("N* ~ C^x, C = N t" + (f" ({frontier.C.size} budgets)" if frontier is not None else ""),
                  SIGNS["N_opt"]),
        "L_opt": ("L* ~ C^-x along the frontier", SIGNS["L_opt"]),
    }, fits, why, want, redrawn)
    if "time" in fits:  # (its points are one smooth mean curve's, not independent: the window moves x far more)
        seeds = redrawn is not None and "time" not in redrawn.why
        print("  (the time exponent's t-interval is a fit's over one mean curve's logged points, which are not "
              "independent draws: not the exponent's uncertainty" + ("; its interval over redrawn seeds shows the "
                                                                      "seeds' share of it" if seeds else "")
              + "; moving the fit's window moves it more)")
        print("  (L(inf): the ridgeless loss of the same runs, on their own features and data, which their gradient "
              "descent approaches; the law is for infinite width, where it is 0)")
    end = t[keep][-1]
    ratio = float(curves[-1, keep][-1] / floors[-1])  # (the same runs: limits[-1] holds diverged ones too)
    if np.isfinite(ratio):  # (NaN where the widest width's runs all diverged)
        print(f"at t = {end:g} (the time fit's end) the N = {widths[-1]} loss is {ratio:.2f}x its long-time loss")
    if frontier is not None:
        print_frontier(frontier, budgets, "N* and L*",
                       redrawn=redrawn is not None and not {"N_opt", "L_opt"} & set(redrawn.why))

    figure = args.figure
    plots.save(plots.compute_frontier(t, widths, curves, limits, frontier, time_fit=fits.get("time"),
                                      loss_fit=fits.get("L_opt"),
                                      title=f"random features, gradient descent, M = {cfg.M}, T = {s['T']}, "
                                            + (_ab(s["alpha"], cfg.teacher_exponent) if cfg.teacher_exponent
                                               else f"exponent {1 + s['alpha']:g}")),
               figure, os.path.join(args.out, "compute_optimal.png"), dpi=110)
    return finish(args, "compute_optimal", {
        "alpha": s["alpha"], "teacher_exponent": cfg.teacher_exponent, "widths": widths, "t": t.tolist(),
        "seeds_per_width": [counts[N] for N in widths], "loss_curves": curves.tolist(),
        "ridgeless_loss": limits.tolist(), "ridgeless_loss_of_curves": floors.tolist(), "exponents": rows,
        "time_fit_end": {"t": end, "over_long_time": ratio},
        "frontier": frontier_summary(frontier, budgets, ("N_opt", "L_opt")),
        "seed_redraw": redrawn.note if redrawn is not None else None,
        "models": len(result), "diverged": diverged, "stability_edge": edge, "config": cfg.to_dict(),
    }, figure)


if __name__ == "__main__":
    main()
