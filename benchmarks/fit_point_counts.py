"""What fitting many counts of points costs: the solver compiled per class of counts, or per count.

The fits that run L-BFGS (`fit_power_law` with an offset or a Huber loss, `fit_broken_power_law`,
`fit_chinchilla`'s multi-start ladder, polish and bootstrap) pad their points to a class
(``toyscale.fitting._point_class``: up to 8, then four classes per doubling, zero-weight copies
of the first point), so the solvers' programs compile once per class. This fits the same curves,
y = 2 x^-0.4 + 0.05 with a 1 % wiggle, at ``--counts`` (default 17..28: three classes) in two
fresh processes: one as shipped, one with the class of n set to n itself (the solvers compiled
per count, as before). Each process runs two
passes over the counts, the first compiling and the second warm, for

* ``fit_power_law(x, y, offset=True, bootstrap=--bootstrap)``,
* ``fit_broken_power_law(x, y, breaks=1, bootstrap=--bootstrap // 2)`` and
* ``fit_chinchilla(N, D, L)`` (the 4,500 published starts) on as many runs drawn from the
  published law with 1 % log-noise (N in [4e7, 1.6e10], D in [5e9, 5e11], log-uniform),

and prints one table (seconds per pass) and the ratios; ``--json PATH`` writes the same numbers.
No persistent compilation cache is used (importing toyscale turns none on).

    python benchmarks/fit_point_counts.py [--counts 17 28] [--bootstrap 100] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = """
import json, sys, time
import numpy as np
from toyscale import fitting
if sys.argv[1] == "per-count":
    fitting._point_class = lambda n: n
lo, hi, boot = map(int, sys.argv[2:5])
out = {}
for rep in ("cold", "warm"):
    for kind in ("power law, offset", "broken power law", "chinchilla"):
        t = time.perf_counter()
        for n in range(lo, hi + 1):
            x = np.logspace(1, 4, n)
            y = (2.0 * x**-0.4 + 0.05) * (1 + 0.01 * np.sin(np.arange(n)))
            if kind == "power law, offset":
                fitting.fit_power_law(x, y, offset=True, bootstrap=boot)
            elif kind == "broken power law":
                fitting.fit_broken_power_law(x, y, breaks=1, bootstrap=boot // 2)
            else:
                rng = np.random.default_rng(n)
                N, D = np.exp(rng.uniform(np.log([4e7, 5e9]), np.log([1.6e10, 5e11]), (n, 2))).T
                L = fitting.CHINCHILLA_PUBLISHED.loss(N, D) * np.exp(0.01 * rng.standard_normal(n))
                fitting.fit_chinchilla(N, D, L)
        out[kind + ", " + rep] = time.perf_counter() - t
print(json.dumps(out))
"""


def run(mode: str, lo: int, hi: int, boot: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(lo), str(hi), str(boot)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", type=int, nargs=2, default=(17, 28), metavar=("FIRST", "LAST"),
                    help="counts of points fitted, FIRST..LAST (each at least 6)")
    ap.add_argument("--bootstrap", type=int, default=100, help="resamples of the power-law fits (half for the broken)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    lo, hi = args.counts
    if not 6 <= lo <= hi:
        ap.error(f"--counts {lo} {hi}: need 6 <= FIRST <= LAST")
    if args.bootstrap < 80:
        ap.error(f"--bootstrap {args.bootstrap}: need at least 80 (40 for the broken power law's 95% interval)")
    from toyscale.fitting import _point_class

    classes = sorted({_point_class(n) for n in range(lo, hi + 1)})
    print(f"{hi - lo + 1} counts of points ({lo}..{hi}) in {len(classes)} classes {classes}; "
          f"bootstrap {args.bootstrap} (power law), {args.bootstrap // 2} (broken); seconds per pass, "
          f"load average {os.getloadavg()[0]:.2f}")
    res = {mode: run(mode, lo, hi, args.bootstrap) for mode in ("per-count", "classes")}
    print(f"{'fits':<30}{'per count':>11}{'classes':>11}{'ratio':>8}")
    for key in res["classes"]:
        a, b = res["per-count"][key], res["classes"][key]
        print(f"{key:<30}{a:>11.1f}{b:>11.1f}{a / b:>8.2f}")
    out = dict(counts=[lo, hi], classes=classes, bootstrap=args.bootstrap, seconds=res,
               load_average_after=os.getloadavg()[0])
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, args.json)
    return out


if __name__ == "__main__":
    main()
