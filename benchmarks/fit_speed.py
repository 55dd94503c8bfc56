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
"""

import argparse
import json
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
    ap.add_argument("--points", type=int, default=250)
    ap.add_argument("--scipy-every", type=int_in(1), default=1,
                    help="run scipy on every K-th start (time scaled up by K)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    n = args.points
    N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = CHINCHILLA_PUBLISHED.loss(N, D) * np.exp(0.01 * rng.standard_normal(n))
    grid = chinchilla_grid()
    load0 = os.getloadavg()

    t = time.perf_counter(); fit_chinchilla(N, D, L); t_cold = time.perf_counter() - t
    t = time.perf_counter(); fit = fit_chinchilla(N, D, L); t_jax = time.perf_counter() - t
    fit_chinchilla(N, D, L, solver="zoom")  # compile
    t = time.perf_counter(); fit_zoom = fit_chinchilla(N, D, L, solver="zoom"); t_zoom = time.perf_counter() - t

    lN, lD, lL = np.log(N), np.log(D), np.log(L)
    sub = grid[:: args.scipy_every]
    t = time.perf_counter()
    res = [minimize(scipy_objective, s, args=(lN, lD, lL), jac=True, method="L-BFGS-B") for s in sub]
    t_scipy = (time.perf_counter() - t) * args.scipy_every
    f_scipy = min(r.fun for r in res)
    rel = abs(fit.objective - f_scipy) / abs(f_scipy)
    rel_zoom = abs(fit_zoom.objective - f_scipy) / abs(f_scipy)

    fit_chinchilla(N, D, L, starts=grid[:1], bootstrap=args.bootstrap)  # compile
    t = time.perf_counter(); fb = fit_chinchilla(N, D, L, starts=grid[:1], bootstrap=args.bootstrap); t_boot = time.perf_counter() - t

    out = dict(
        load_average_before=load0, load_average_after=os.getloadavg(),
        machine=f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        versions=dict(jax=jax.__version__, optax=optax.__version__, scipy=scipy.__version__, numpy=np.__version__),
        points=n, starts=len(grid), scipy_starts_run=len(sub),
        jax_seconds_warm=t_jax, jax_seconds_cold=t_cold, scipy_loop_seconds=t_scipy,
        speedup_warm=t_scipy / t_jax, speedup_cold=t_scipy / t_cold,
        zoom_seconds_warm=t_zoom, speedup_zoom_warm=t_scipy / t_zoom,
        objective_jax=fit.objective, objective_scipy=f_scipy, relative_difference=rel,
        objective_zoom=fit_zoom.objective, relative_difference_zoom=rel_zoom,
        jax_converged_starts=fit.n_converged, zoom_converged_starts=fit_zoom.n_converged, scipy_converged_starts=int(sum(r.success for r in res)),
        bootstrap_resamples=args.bootstrap, bootstrap_seconds=t_boot,
        bootstrap_failed=int(np.isnan(fb.boot_log_params[:, 0]).sum()),
    )
    print(f"{'':28}{'jax ladder':>20}{'jax zoom pool':>20}{'scipy loop':>20}")
    print(f"{'time, 4500 starts [s]':28}{t_jax:>20.2f}{t_zoom:>20.2f}{t_scipy:>20.2f}   ratio {t_scipy / t_jax:.1f}x "
          f"(zoom {t_scipy / t_zoom:.1f}x; ladder cold incl. compile {t_cold:.1f} s: {t_scipy / t_cold:.1f}x)")
    print(f"{'best objective':28}{fit.objective:>20.12g}{fit_zoom.objective:>20.12g}{f_scipy:>20.12g}   "
          f"rel. diff {rel:.2e} (zoom {rel_zoom:.2e})")
    print(f"{'converged starts':28}{fit.n_converged:>20}{fit_zoom.n_converged:>20}{out['scipy_converged_starts']:>20}")
    print(f"bootstrap: {args.bootstrap} refits in {t_boot:.1f} s ({out['bootstrap_failed']} failed)")
    print(out["machine"], out["versions"], f"load average {load0[0]:.2f} -> {out['load_average_after'][0]:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
