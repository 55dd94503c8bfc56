"""Superposition models with shared draws (``TrainConfig.common_across``) against independent ones.

Shared draws change only which numbers a model gets, not their law. Two checks, each run both
ways with the same sweep seeds:

* ``law``: ``--models`` replicate seeds of the headline quick preset's strong-regime power-law
  points at m = 16 and 32 (n = 1024, batch 256, 3,000 steps, the paper's learning-rate
  rules): the mean test loss ± its standard error at each width, independent against shared
  (``common_across=("m", "lr_w", "lr_b")``); they must agree within their errors. Also the
  mean and spread of the difference L(16) - L(32) within a seed, which shared draws should
  measure with less noise;
* ``headline``: ``experiments/superposition_scaling.py --preset quick`` at sweep seeds
  0..``--seeds``-1, each way: per regime and distribution, the mean ± standard error of
  alpha_m over the sweep seeds, their standard deviation, and the mean of the fits' own
  standard errors and R^2.

    python benchmarks/superposition_common_draws.py [--checks law,headline] [--models 32] [--seeds 5]
        [--sweep-seed 7]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import pathlib
import tempfile
import time

import numpy as np

from toyscale.frequencies import power_law
from toyscale.train import TrainConfig, superposition_grid, sweep_superposition

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ("m", "lr_w", "lr_b")


def _script():
    spec = importlib.util.spec_from_file_location("superposition_scaling", ROOT / "experiments" /
                                                  "superposition_scaling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mean(v) -> str:
    v = np.asarray(v, float)
    return f"{v.mean():.4f} ± {v.std(ddof=1) / np.sqrt(v.size):.4f}"


def check_law(models: int, sweep_seed: int) -> None:
    script = _script()
    train = dict(script.PRESETS["quick"]["train"])
    points = superposition_grid(widths=[16, 32], gammas=[script.REGIMES["strong"]], frequencies=[power_law(1.2)],
                                lr_w=script.lr_w, lr_b=script.lr_b, seeds=models)
    print(f"law: {models} seeds of m = 16 and 32, strong regime, power law 1.2, quick settings, sweep seed "
          f"{sweep_seed}")
    for common in ((), SHARED):
        t0 = time.perf_counter()
        res = sweep_superposition(TrainConfig(**train, common_across=common), points, seed=sweep_seed, progress=False)
        loss = {(r["m"], r["seed"]): float(r["test_loss"]) for r in res if not r.diverged}
        diverged = len(res) - len(loss)
        by_m = {m: [loss[m, s] for s in range(models) if (m, s) in loss] for m in (16, 32)}
        gaps = [loss[16, s] - loss[32, s] for s in range(models) if (16, s) in loss and (32, s) in loss]
        print(f"  common_across={common!s:22} L(16) {_mean(by_m[16])}  L(32) {_mean(by_m[32])}  "
              f"L(16) - L(32) {_mean(gaps)} (sd {np.std(gaps, ddof=1):.4f})  "
              f"{diverged} diverged, {time.perf_counter() - t0:.1f} s")


def check_headline(seeds: int) -> None:
    script = _script()
    print(f"headline: superposition_scaling quick at sweep seeds 0..{seeds - 1}")
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for common in ((), SHARED):
            runs = []
            for seed in range(seeds):
                out = pathlib.Path(tmp) / f"{'shared' if common else 'independent'}-{seed}"
                argv = ["--seed", str(seed), "--out", str(out), "--figures", str(out), "--no-progress"]
                if common:
                    argv += ["--set", f"train.common_across={json.dumps(list(common))}"]
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    runs.append(script.main(argv))
                print(f"  common_across={common!s:22} seed {seed}: {time.perf_counter() - t0:.1f} s")
            table[common] = runs
    for regime in script.REGIMES:
        for name in ("exponential", "power", "linear"):
            print(f"  {regime:>6} {name:<12}", end="")
            for common, runs in table.items():
                alphas = [r["exponents"][regime][name] for r in runs if r["exponents"][regime][name] is not None]
                errors = [r["exponent_stderr"][regime][name] for r in runs if r["exponent_stderr"][regime][name]]
                r2 = [r["r2"][regime][name] for r in runs if r["r2"][regime][name] is not None]
                print(f"  {'shared' if common else 'independent'}: {_mean(alphas)} (sd {np.std(alphas, ddof=1):.3f}, "
                      f"fit se {np.mean(errors):.3f}, R^2 {np.mean(r2):.3f})", end="")
            print()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", default="law,headline")
    parser.add_argument("--models", type=int, default=32, help="replicate seeds in the law check")
    parser.add_argument("--seeds", type=int, default=5, help="sweep seeds in the headline check")
    parser.add_argument("--sweep-seed", type=int, default=7, help="the law check's sweep seed")
    args = parser.parse_args(argv)
    checks = {"law": lambda: check_law(args.models, args.sweep_seed), "headline": lambda: check_headline(args.seeds)}
    names = [c for c in args.checks.split(",") if c]
    unknown = [c for c in names if c not in checks]
    if not names or unknown:
        parser.error(f"--checks {args.checks!r}: name one or more of {', '.join(checks)}")
    if args.models < 2 or args.seeds < 2:
        parser.error("--models and --seeds must be at least 2 (a standard error needs two)")
    for name in names:
        checks[name]()


if __name__ == "__main__":
    main()
