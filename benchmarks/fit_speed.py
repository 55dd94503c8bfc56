"""Speed of the Chinchilla approach-3 fit: batched JAX L-BFGS vs a loop of scipy L-BFGS-B.

Same data (~250 synthetic runs from the published law with 1% log-noise), same objective
(sum of Huber(1e-3) on log-residuals, log-sum-exp parameterisation), same 4,500 starts.
scipy gets an analytic gradient in numpy and its default tolerances.  The JAX fit is timed with
both multi-start solvers: "ladder" (default: batched L-BFGS on 512 lanes refilled from a queue
of starts inside one compiled loop; quasi-Newton step first, a ladder of smaller steps for the
lanes that fail Armijo) and "zoom" (optax.lbfgs with its zoom line search on a refilling pool
of lanes).  Also times 1,000 bootstrap refits.  Prints a table; ``--json PATH`` writes the
numbers, including the load average before and after (scipy's time swings with load).

    python benchmarks/fit_speed.py [--points 250] [--scipy-every 1] [--bootstrap 1000] [--json out.json]
    python benchmarks/fit_speed.py --quick   # a one-minute check that it runs (150 starts)
"""

import argparse
import os
import platform
import time

import jax
import numpy as np
import optax
import scipy
from scipy.optimize import minimize

from toyscale.cli import int_in
from toyscale.fitting import CHINCHILLA_PUBLISHED, chinchilla_grid, fit_chinchilla
from toyscale.io import atomic_write_json


def scipy_objective(p, lN, lD, lL, delta=1e-3):
    a, b, e, al, be = p
    t = np.stack([a - al * lN, b - be * lD, np.full_like(lN, e)])
    m = t.max(0)
    w = np.exp(t - m)
    s = w.sum(0)
    r = m + np.log(s) - lL
    inside = np.abs(r) <= delta
    f = np.where(inside, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta)).sum()
    psi = np.where(inside, r, delta * np.sign(r))
    sm = w / s
    g = np.array([(psi * sm[0]).sum(), (psi * sm[1]).sum(), (psi * sm[2]).sum(),
                  -(psi * sm[0] * lN).sum(), -(psi * sm[1] * lD).sum()])
    return f, g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int_in(10), default=250)
    ap.add_argument("--scipy-every", type=int_in(1), default=1,
                    help="run scipy on every K-th start (time scaled up by K, and marked so)")
    ap.add_argument("--bootstrap", type=int_in(0), default=1000)
    ap.add_argument("--quick", action="store_true",
                    help="a check that the script runs (about a minute on 2 cores): every 30th start "
                         "(chinchilla_grid(thin=30)) for all three solvers, scipy on each, 50 bootstrap "
                         "refits; not the published 4,500-start comparison")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    n = args.points
    N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = CHINCHILLA_PUBLISHED.loss(N, D) * np.exp(0.01 * rng.standard_normal(n))
    grid = chinchilla_grid(thin=30) if args.quick else chinchilla_grid()
    bootstrap = 50 if args.quick else args.bootstrap
    load0 = os.getloadavg()
    # each timing printed as it is measured (the whole run takes minutes under load)
    print(f"{len(grid)} starts, {n} points{' (--quick)' if args.quick else ''}", flush=True)

    starts = dict(starts=grid) if args.quick else {}  # (else fit_chinchilla's default: the published grid)
    t = time.perf_counter(); fit_chinchilla(N, D, L, **starts); t_cold = time.perf_counter() - t
    t = time.perf_counter(); fit = fit_chinchilla(N, D, L, **starts); t_jax = time.perf_counter() - t
    print(f"jax ladder: {t_jax:.2f} s warm, {t_cold:.2f} s cold (compile included)", flush=True)
    fit_chinchilla(N, D, L, **starts, solver="zoom")  # compile
    t = time.perf_counter()
    fit_zoom = fit_chinchilla(N, D, L, **starts, solver="zoom")
    t_zoom = time.perf_counter() - t
    print(f"jax zoom pool: {t_zoom:.2f} s warm", flush=True)

    lN, lD, lL = np.log(N), np.log(D), np.log(L)
    sub = grid[:: args.scipy_every]
    t = time.perf_counter()
    res = [minimize(scipy_objective, s, args=(lN, lD, lL), jac=True, method="L-BFGS-B") for s in sub]
    t_scipy = (time.perf_counter() - t) * args.scipy_every
    scaled = f" (extrapolated: {len(sub)} starts run, x{args.scipy_every})" if args.scipy_every > 1 else ""
    print(f"scipy loop: {t_scipy:.2f} s{scaled}", flush=True)
    f_scipy = min(r.fun for r in res)
    rel = abs(fit.objective - f_scipy) / abs(f_scipy)
    rel_zoom = abs(fit_zoom.objective - f_scipy) / abs(f_scipy)

    t_boot, failed = float("nan"), 0
    if bootstrap:
        fit_chinchilla(N, D, L, starts=grid[:1], bootstrap=bootstrap)  # compile
        t = time.perf_counter(); fb = fit_chinchilla(N, D, L, starts=grid[:1], bootstrap=bootstrap)
        t_boot = time.perf_counter() - t
        failed = int(np.isnan(fb.boot_log_params[:, 0]).sum())

    out = dict(
        load_average_before=load0, load_average_after=os.getloadavg(),
        machine=f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        versions=dict(jax=jax.__version__, optax=optax.__version__, scipy=scipy.__version__, numpy=np.__version__),
        quick=args.quick, points=n, starts=len(grid), scipy_starts_run=len(sub),
        scipy_time_extrapolated_by=args.scipy_every,
        jax_seconds_warm=t_jax, jax_seconds_cold=t_cold, scipy_loop_seconds=t_scipy,
        speedup_warm=t_scipy / t_jax, speedup_cold=t_scipy / t_cold,
        zoom_seconds_warm=t_zoom, speedup_zoom_warm=t_scipy / t_zoom,
        objective_jax=fit.objective, objective_scipy=f_scipy, relative_difference=rel,
        objective_zoom=fit_zoom.objective, relative_difference_zoom=rel_zoom,
        jax_converged_starts=fit.n_converged, zoom_converged_starts=fit_zoom.n_converged,
        scipy_converged_starts=int(sum(r.success for r in res)),
        bootstrap_resamples=bootstrap, bootstrap_seconds=t_boot, bootstrap_failed=failed,
    )
    print()
    print(f"{'':28}{'jax ladder':>20}{'jax zoom pool':>20}{'scipy loop':>20}")
    print(f"{f'time, {len(grid)} starts [s]':28}{t_jax:>20.2f}{t_zoom:>20.2f}{t_scipy:>20.2f}   ratio "
          f"{t_scipy / t_jax:.1f}x (zoom {t_scipy / t_zoom:.1f}x; ladder cold incl. compile {t_cold:.1f} s: "
          f"{t_scipy / t_cold:.1f}x){scaled}")
    print(f"{'best objective':28}{fit.objective:>20.12g}{fit_zoom.objective:>20.12g}{f_scipy:>20.12g}   "
          f"rel. diff {rel:.2e} (zoom {rel_zoom:.2e})")
    print(f"{'converged starts':28}{fit.n_converged:>20}{fit_zoom.n_converged:>20}{out['scipy_converged_starts']:>20}")
    if bootstrap:
        print(f"bootstrap: {bootstrap} refits in {t_boot:.1f} s ({failed} failed)")
    print(out["machine"], out["versions"], f"load average {load0[0]:.2f} -> {out['load_average_after'][0]:.2f}")
    if args.json:
        atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()
