"""Superposition models with shared draws (``TrainConfig.common_across``) against independent ones.

Shared draws change only which numbers a model gets, not their law. Two checks, each run both
ways with the same sweep seeds:

* ``law``: ``--models`` replicate seeds of the headline quick preset's strong-regime power-law
  points at m = 16 and 32 (n = 1024, batch 256, 3,000 steps, the paper's learning-rate
  rules): the mean test loss ± its standard error at each width, independent against shared
  (``common_across=("m", "lr_w", "lr_b")``); they must agree within their errors. Also the
  mean and spread of the difference L(16) - L(32) within a seed, which shared draws should
  measure with less noise;
* ``tiny``: the law check at n = 64, m = 4 and 8, 300 steps (``TINY``), where ``--models
  2000`` take seconds, with ``--rng``'s bit generator; it also prints the test batches' mean
  squared input (the empty model's loss) at m = 4 against its exact 4/3 sum p_i;
* ``headline``: ``experiments/superposition_scaling.py --preset quick`` at sweep seeds
  0..``--seeds``-1, each way: per regime and distribution, the mean ± standard error of
  alpha_m over the sweep seeds, their standard deviation, the root mean squares of the fits'
  own standard errors and of their seed-redraw intervals' widths / 3.92 (paired where the
  draws are shared), and the mean R^2.

    python benchmarks/superposition_common_draws.py [--checks law,headline,tiny] [--models 32] [--seeds 5]
        [--sweep-seed 7] [--rng hash]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import pathlib
import sys
import tempfile
import time
import warnings

import numpy as np

from toyscale.frequencies import power_law
from toyscale.train import TrainConfig, superposition_grid, sweep_superposition

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # (seed_spread.py, beside this file)
from seed_spread import rms  # noqa: E402

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


# the tiny check's settings: many models in seconds (n = 64, widths 4 and 8, 300 steps)
TINY = dict(n=64, batch=32, steps=300, warmup=30, test_batches=8, log_every=50, loss_scale=100.0)


def check_law(models: int, sweep_seed: int, tiny: str | None = None) -> None:
    """Both ways at two widths; ``tiny``: at :data:`TINY` with that bit generator, and the test
    batches' empty loss (mean squared input) against its exact value, E<v^2> sum p_i = 4/3 sum p_i."""
    script = _script()
    train = dict(TINY, rng=tiny) if tiny else dict(script.PRESETS["quick"]["train"])
    widths = (4, 8) if tiny else (16, 32)
    points = superposition_grid(widths=list(widths), gammas=[script.REGIMES["strong"]], frequencies=[power_law(1.2)],
                                lr_w=script.lr_w, lr_b=script.lr_b, seeds=models)
    exact = 4 / 3 * float(np.sum(power_law(1.2).probs(train["n"])))
    print(f"{'tiny' if tiny else 'law'}: {models} seeds of m = {widths[0]} and {widths[1]}, strong regime, power law "
          f"1.2, {'n = 64, rng=' + tiny if tiny else 'quick settings'}, sweep seed {sweep_seed}")
    a, b = widths
    for common in ((), SHARED):
        t0 = time.perf_counter()
        with warnings.catch_warnings():  # (tiny models: most end no better than the empty model, and say so)
            warnings.filterwarnings("ignore", ".*no better than outputting 0", RuntimeWarning)
            res = sweep_superposition(TrainConfig(**train, common_across=common), points, seed=sweep_seed,
                                      progress=False)
        loss = {(r["m"], r["seed"]): float(r["test_loss"]) for r in res if not r.diverged}
        diverged = len(res) - len(loss)
        by_m = {m: [loss[m, s] for s in range(models) if (m, s) in loss] for m in widths}
        gaps = [loss[a, s] - loss[b, s] for s in range(models) if (a, s) in loss and (b, s) in loss]
        empty = ""
        if tiny:
            e = np.array([float(r["empty_loss"]) for r in res if r["m"] == a])
            z = (e.mean() - exact) / (e.std(ddof=1) / np.sqrt(e.size))
            empty = f"  empty loss at m = {a} {_mean(e)} (z {z:+.2f})"
        print(f"  common_across={common!s:22} L({a}) {_mean(by_m[a])}  L({b}) {_mean(by_m[b])}  "
              f"L({a}) - L({b}) {_mean(gaps)} (sd {np.std(gaps, ddof=1):.4f}){empty}  "
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
                # the seed-redraw interval's width / 3.92 (paired under shared draws): an sd to set against the seeds'
                redraw = [np.diff(r["exponent_seed_interval"][regime][name])[0] / 3.92 for r in runs
                          if r["exponent_seed_interval"][regime][name] is not None]
                print(f"  {'shared' if common else 'independent'}: {_mean(alphas)} (sd {np.std(alphas, ddof=1):.3f}, "
                      f"fit se rms {rms(np.asarray(errors, float)):.3f}, "
                      f"seed redraw rms {rms(np.asarray(redraw, float)):.3f}, R^2 {np.mean(r2):.3f})",
                      end="")
            print()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", default="law,headline")
    parser.add_argument("--models", type=int, default=32, help="replicate seeds in the law check")
    parser.add_argument("--seeds", type=int, default=5, help="sweep seeds in the headline check")
    parser.add_argument("--sweep-seed", type=int, default=7, help="the law and tiny checks' sweep seed")
    parser.add_argument("--rng", default="hash", choices=("hash", "threefry"), help="the tiny check's bit generator")
    args = parser.parse_args(argv)
    checks = {"law": lambda: check_law(args.models, args.sweep_seed), "headline": lambda: check_headline(args.seeds),
              "tiny": lambda: check_law(args.models, args.sweep_seed, tiny=args.rng)}
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
