"""What the on-disk compilation cache saves: the same command run twice into an empty cache.

The command line and the experiment scripts keep JAX's compiled programs on disk
(``toyscale.runner.use_compilation_cache``). This runs, each in a fresh process and against a
fresh cache folder:

* ``python -m toyscale fit chinchilla`` on ``--points`` synthetic runs from the published law
  (1 % log-noise, the data of ``benchmarks/fit_speed.py``), twice;
* ``experiments/superposition_scaling.py --preset PRESET`` (``--preset``, default ``smoke``;
  ``quick`` is the headline run, minutes each; ``none`` leaves it out), twice, into two fresh
  ``--out`` folders so the second run trains again rather than resuming;
* a fit from Python, as in a notebook: ``use_compilation_cache()``, then ``fit_power_law`` with
  an offset and 200 bootstrap resamples on 9 points, twice;

and prints each run's wall time (process start to exit, JAX import included), the cache's
size after the first run, and the ratio. ``--json PATH`` writes the same numbers.

    python benchmarks/cache_check.py [--points 250] [--preset smoke|quick|paper|none] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


NOTEBOOK_FIT = """
from toyscale.runner import use_compilation_cache
use_compilation_cache()
import numpy as np
from toyscale.fitting import fit_power_law
x = np.geomspace(10, 1000, 9)
fit_power_law(x, 3 * x ** -0.5 + 0.1, offset=True, bootstrap=200)
"""


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def folder_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=250, help="runs in the Chinchilla fit's CSV")
    ap.add_argument("--preset", default="smoke",
                    help="preset of the headline experiment to run twice ('none': leave it out)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from toyscale.fitting import CHINCHILLA_PUBLISHED
    from toyscale.io import atomic_write_json

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)  # as in benchmarks/fit_speed.py
        N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), args.points))
        D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), args.points))
        L = CHINCHILLA_PUBLISHED.loss(N, D) * np.exp(0.01 * rng.standard_normal(args.points))
        csv = os.path.join(tmp, "runs.csv")
        np.savetxt(csv, np.column_stack([N, D, L]), delimiter=",", header="N,D,loss", comments="", fmt="%.10g")
        jobs = {
            f"fit chinchilla ({args.points} runs)":
                lambda k: [sys.executable, "-m", "toyscale", "fit", "chinchilla", csv, "--N", "N", "--D", "D",
                           "--loss", "loss"],
            f"superposition_scaling --preset {args.preset}":
                lambda k: [sys.executable, os.path.join(ROOT, "experiments", "superposition_scaling.py"),
                           "--preset", args.preset, "--no-progress", "--out", os.path.join(tmp, f"out{k}"),
                           "--figures", os.path.join(tmp, "figures")],
            "fit_power_law from Python (offset, 9 points, 200 resamples)":
                lambda k: [sys.executable, "-c", NOTEBOOK_FIT],
        }
        jobs = {name: job for name, job in jobs.items() if not name.endswith("--preset none")}
        for j, (name, command) in enumerate(jobs.items()):
            cache = os.path.join(tmp, f"cache{j}")
            env = {**os.environ, "TOYSCALE_COMPILATION_CACHE": cache}
            env.pop("JAX_COMPILATION_CACHE_DIR", None)
            cold = timed(command(0), env)
            size = folder_bytes(cache)
            warm = timed(command(1), env)
            rows.append({"command": name, "cold_s": round(cold, 2), "warm_s": round(warm, 2),
                         "cache_bytes": size, "ratio": round(cold / warm, 2)})

    width = max(len(r["command"]) for r in rows)
    print(f"{'command':<{width}}  empty cache  with cache  ratio  cache size")
    for r in rows:
        print(f"{r['command']:<{width}}  {r['cold_s']:9.1f} s  {r['warm_s']:8.1f} s  {r['ratio']:5.2f}  "
              f"{r['cache_bytes'] / 2**20:7.1f} MiB")
    result = {"rows": rows, "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    print(f"{result['cpu_count']} CPUs; load average at the end {result['load_average'][0]:.2f} (1 min)")
    if args.json:
        atomic_write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
