"""Random features under gradient descent: loss against time and width, and the compute-optimal frontier.

Bordelon, Atanasov & Pehlevan (2024), a dynamical model of neural scaling laws (marked "check"
in our reference): with a spectrum lambda_k ~ k^-b and a target power lambda_k w_k^2 ~ k^-a,
gradient descent gives L ~ t^-((a-1)/b) at large width, L ~ N^-(a-1) at long times, and at
compute C = N t the best width N* ~ C^(1/(1+b)) with loss L* ~ C^(-(a-1)/(1+b)). Here the
data spectrum is lambda_I ∝ I^-(1+alpha) and the teacher is isotropic, so a = b = 1 + alpha:
at alpha = 1, time exponent 1/2, width exponent 1, N* ~ C^(1/3) and L* ~ C^(-1/3).

N linear random features of M latent modes, fitted on T >> N samples (so that the data do
not limit the loss) by full-batch gradient descent from 0 at a constant step; the exact test
loss is logged every ``rf.log_every`` steps. Each model also reports the loss of the ridgeless
(minimum-norm) solution on its own features and data, where its gradient descent converges
(``infinite_time``): the long-time loss, for the width exponent.

    python experiments/compute_optimal.py --preset quick --out runs/compute_optimal

Writes DIR/summary.json, DIR/compute_optimal.png and figures/compute_optimal_<preset>.png
(see ``--figures``); the sweep itself goes to DIR/sweep (rerunning resumes it).
"""

from __future__ import annotations

import os

import numpy as np

from toyscale import plots
from toyscale import random_features as rf
from toyscale.fitting import fit_frontier, fit_power_law
from toyscale.runner import check_axis, experiment_args, finish, run_experiment_sweep

# ``rf`` holds RFConfig fields; ``time_fit`` is the (t_min, t_max) of the time exponent's fit at
# the largest width; ``bins`` the number of log-spaced compute budgets of the frontier.
PRESETS = {
    # Not a published configuration (the paper's figures use other models): the largest grid we
    # would run, for a GPU.
    "paper": dict(rf=dict(M=16384, log_every=100), alpha=1.0, widths=[16, 32, 64, 128, 256, 512, 1024, 2048],
                  T=32768, steps=40_000, lr=1.0, seeds=4, time_fit=[100, 10_000], bins=12),
    # a 2-core CPU in about a minute and a half
    "quick": dict(rf=dict(M=4096, log_every=50), alpha=1.0, widths=[16, 32, 64, 128, 256, 512], T=8192,
                  steps=10_000, lr=1.0, seeds=2, time_fit=[100, 2000], bins=10),
    # seconds: only checks that the script runs end to end (used by the tests)
    "smoke": dict(rf=dict(M=128, log_every=10), alpha=1.0, widths=[4, 8, 16], T=256, steps=200, lr=1.0, seeds=2,
                  time_fit=[20, 100], bins=5),
}
DATA_RICH = 4  # T must be at least this many times the largest width


def predictions(alpha: float) -> dict[str, float]:
    """The exponents of Bordelon et al. at a = b = 1 + alpha."""
    a = b = 1.0 + alpha
    return {"time": (a - 1) / b, "width": a - 1, "N_opt": 1 / (1 + b), "L_opt": (a - 1) / (1 + b)}


def prepare(pre: dict) -> tuple:
    """The config and grid of a preset, checked before anything runs."""
    cfg = rf.RFConfig.from_dict(pre["rf"])
    widths = sorted(check_axis("widths", pre["widths"]))
    if len(widths) < 3:
        raise ValueError(f"widths={pre['widths']!r}; the width and frontier fits need at least 3 widths")
    if not pre["T"] >= DATA_RICH * widths[-1]:
        raise ValueError(f"T={pre['T']!r}; T must be at least {DATA_RICH} x the largest width ({widths[-1]}), "
                         f"so that the data do not limit the loss")
    window = pre["time_fit"]
    if not (isinstance(window, list) and len(window) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in window)):
        raise ValueError(f"time_fit={window!r}; time_fit must be a list of two numbers [t_min, t_max]")
    lo, hi = window
    if not cfg.log_every <= lo < hi <= pre["steps"]:
        raise ValueError(f"time_fit={pre['time_fit']!r}; time_fit must be [t_min, t_max] with "
                         f"log_every={cfg.log_every} <= t_min < t_max <= steps={pre['steps']}")
    if isinstance(pre["bins"], bool) or not isinstance(pre["bins"], int) or pre["bins"] < 3:
        raise ValueError(f"bins={pre['bins']!r}; bins must be an integer >= 3 (compute budgets of the frontier)")
    grid = rf.random_feature_grid(N=widths, T=[pre["T"]], alpha=[pre["alpha"]], seeds=pre["seeds"], method="gd",
                                  steps=pre["steps"], lr=pre["lr"], infinite_time=True)
    return cfg, widths, grid


def mean_curves(result, widths: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per width, the mean over seeds of the logged loss and of the long-time (ridgeless) loss
    of the same models (diverged ones left out; NaN where none is left), and the diverged count."""
    curves, limits, diverged = [], [], 0
    for N in widths:
        runs = [r for r in result if r.point["N"] == N]
        diverged += sum(r.diverged for r in runs)
        kept = [r for r in runs if not r.diverged]
        curves.append(np.mean([np.asarray(r["loss_curve"], dtype=float) for r in kept], axis=0) if kept else None)
        limits.append(np.mean([float(r["loss_infinite_time"]) for r in kept]) if kept else np.nan)
    length = max(c.size for c in curves if c is not None)
    curves = [np.full(length, np.nan) if c is None else c for c in curves]
    return np.stack(curves), np.asarray(limits), diverged


def _row(name: str, fit, want: float, sign: float = 1.0) -> tuple[str, dict]:
    """A printed row and its summary entry for an exponent ``sign x fit.exponent``."""
    value = sign * fit.exponent
    lo, hi = sorted(sign * v for v in fit.t_interval())
    line = (f"{name:<37} {value:6.3f} ± {fit.stderr['exponent']:.3f}  [{lo:6.3f}, {hi:6.3f}]  {want:.3f}  "
            f"(R^2 = {fit.r2:.3f}, {fit.n_points} points)")
    return line, {"fitted": value, "stderr": fit.stderr["exponent"], "t_interval": [lo, hi], "predicted": want,
                  "r2": fit.r2, "points": fit.n_points}


def main(argv=None) -> dict:
    args = experiment_args("compute_optimal", __doc__.splitlines()[0], PRESETS, argv, prepare=prepare)
    s = args.settings
    cfg, widths, points = args.plan
    result = run_experiment_sweep(args, rf.sweep_random_features, cfg, points)
    curves, limits, diverged = mean_curves(result, widths)
    t = cfg.log_every * np.arange(1, curves.shape[1] + 1, dtype=float)
    want = predictions(s["alpha"])

    lo, hi = s["time_fit"]
    keep = (t >= lo) & (t <= hi)
    time_fit = fit_power_law(t[keep], curves[-1, keep])
    width_fit = fit_power_law(np.asarray(widths, float), limits)
    N_all = np.repeat(np.asarray(widths, float), t.size)
    C_all = N_all * np.tile(t, len(widths))
    ok = np.isfinite(curves.ravel())
    frontier = fit_frontier(N_all[ok], curves.ravel()[ok], C=C_all[ok], bins=s["bins"])
    loss_fit = fit_power_law(frontier.C, frontier.L_opt)

    print(f"{len(result)} models ({len(widths)} widths x {s['seeds']} seeds), "
          f"M = {cfg.M}, T = {s['T']}, alpha = {s['alpha']:g} (a = b = {1 + s['alpha']:g}), lr = {s['lr']:g}, "
          f"{s['steps']} steps; {diverged} diverged (left out of the means)")
    rows = {}
    print(f"{'exponent':<37} {'fitted':>6}          95% t-interval    predicted")
    for key, (name, fit, sign) in {
        "time": (f"L ~ t^-x at N = {widths[-1]}, t in [{lo:g}, {hi:g}]", time_fit, 1.0),
        "width": ("L ~ N^-x at t -> inf (ridgeless)", width_fit, 1.0),
        "N_opt": (f"N* ~ C^x, C = N t ({frontier.C.size} budgets)", frontier.fit, -1.0),
        "L_opt": ("L* ~ C^-x along the frontier", loss_fit, 1.0),
    }.items():
        line, rows[key] = _row(name, fit, want[key], sign)
        print(line)
    print(f"at t = {hi:g} the N = {widths[-1]} loss is {curves[-1, keep][-1] / limits[-1]:.2f}x its ridgeless limit "
          f"(the time fit's end); frontier widths: " + ", ".join(f"{int(n)}" for n in frontier.N_opt))

    figure = args.figure
    plots.save(plots.compute_frontier(t, widths, curves, limits, frontier, time_fit=time_fit, loss_fit=loss_fit,
                                      title=f"random features, gradient descent, M = {cfg.M}, T = {s['T']}, "
                                            f"exponent {1 + s['alpha']:g}"),
               figure, os.path.join(args.out, "compute_optimal.png"), dpi=110)
    return finish(args, "compute_optimal", {
        "alpha": s["alpha"], "widths": widths, "t": t.tolist(), "loss_curves": curves.tolist(),
        "ridgeless_loss": limits.tolist(), "exponents": rows,
        "frontier": {"C": frontier.C.tolist(), "N_opt": frontier.N_opt.tolist(), "L_opt": frontier.L_opt.tolist()},
        "models": len(result), "diverged": diverged, "config": cfg.to_dict(),
    }, figure)


if __name__ == "__main__":
    main()
