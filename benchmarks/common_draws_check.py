"""Random features with shared draws (``RFConfig.common_across``) against independent ones.

Shared draws change only which numbers a model gets, not their law: each model's outputs must
have the same distribution either way. Each check trains the same points both ways (the same
sweep seed) and prints the means ± standard errors side by side:

* ``ridge``: 96 seeds of one ridgeless point (M = 512, N = 64, T = 256, alpha = 1): test,
  infinite-data, kernel-limit and train losses, and the deterministic equivalent's test loss;
* ``gd``: 32 seeds under full-batch gradient descent (M = 1024, N = 128, T = 1024, step 1,
  2000 steps): the mean loss at t = 100, 500 and 2000 and each model's slope of L - L(inf)
  over t = 100-2000 (L(inf): the ridgeless loss of its own features and data);
* ``time512``: the same slope at compute_optimal's quick N = 512 (T = 8192, M = 4096,
  10,000 steps), ``--seeds`` models each (about a minute a model on a 2-core CPU);
* ``sampling``: the time to draw U (512 x 4096) and the samples x (8192 x 4096) with their
  labels, plainly and row by row;
* ``regimes``: ``experiments/random_features.py --preset quick`` at sweep seeds
  0..``--sweeps``-1, with independent and with shared draws (``rf.common_across=["N","T"]``):
  per regime, the mean ± standard error of the exponent over the sweep seeds, their standard
  deviation, and the root mean squares of the fits' own standard errors and of their
  seed-redraw intervals' widths / 3.92 (paired under shared draws), each an sd to set against
  the seeds' (not run by default: about 100 s a sweep on a 2-core CPU).

A diverged model (none so far) is counted and left out of the means and slopes.

    python benchmarks/common_draws_check.py [--checks ridge,gd,time512,sampling,regimes] [--seeds 6]
        [--sweeps 4]
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

import jax
import numpy as np

from toyscale import random_features as rf
from toyscale import theory
from toyscale.fitting import fit_power_law

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # (seed_spread.py, beside this file)
from seed_spread import rms  # noqa: E402

_MODES = ((), ("N",))
_LOG_EVERY = 50  # (the gd checks' logging interval: t = 50, 100, ...)


def _mean(v: np.ndarray) -> str:
    return f"{np.mean(v):.5f} ± {np.std(v, ddof=1) / np.sqrt(len(v)):.5f}"


def _kept(res) -> tuple[np.ndarray, str]:
    """The finished models' mask and, where any diverged, a note saying how many."""
    diverged = np.array([r.diverged for r in res], dtype=bool)
    return ~diverged, f" ({diverged.sum()} diverged, left out)" if diverged.any() else ""


def _sweeps(cfg: dict, points: list, seed: int):
    """The sweep of ``points`` with independent, then with shared draws, and its seconds."""
    for common in _MODES:
        t0 = time.perf_counter()
        res = rf.sweep_random_features(rf.RFConfig(**cfg, common_across=common), points, seed=seed, progress=False)
        yield f"common_across={common!s:8}", res, time.perf_counter() - t0


def check_ridge() -> None:
    points = rf.random_feature_grid(N=[64], T=[256], alpha=[1.0], seeds=96, infinite_data=True, kernel_limit=True)
    print(f"ridge: theory's test loss {float(theory.expected_test_loss(rf.RFConfig(M=512), points[:1])[0]):.5f}")
    for name, res, seconds in _sweeps({"M": 512}, points, 11):
        kept, note = _kept(res)
        cols = ("test_loss", "loss_infinite_data", "loss_kernel_limit", "train_loss")
        print(f"  {name} " + "; ".join(f"{c} {_mean(res.column(c)[kept])}" for c in cols) + f" ({seconds:.0f} s)"
              + note)


def _slopes(curves: np.ndarray, floors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each model's exponent over t = 100-2000 (``fit_power_law``: least squares in log space, as the
    scripts' time fits): of L - L(inf), and of L itself."""
    t = _LOG_EVERY * np.arange(1, curves.shape[1] + 1)
    window = (t >= 100) & (t <= 2000)
    above = np.array([fit_power_law(t[window], c[window] - f).exponent for c, f in zip(curves, floors)])
    raw = np.array([fit_power_law(t[window], c[window]).exponent for c in curves])
    return above, raw


def _gd(M: int, N: int, T: int, steps: int, seeds: int, sweep_seed: int, at: tuple[int, ...]) -> None:
    points = rf.random_feature_grid(N=[N], T=[T], alpha=[1.0], seeds=seeds, method="gd", steps=steps, lr=1.0,
                                    infinite_time=True)
    print(f"gradient descent: M = {M}, N = {N}, T = {T}, {steps} steps, {seeds} models each")
    for name, res, seconds in _sweeps({"M": M, "log_every": _LOG_EVERY}, points, sweep_seed):
        kept, note = _kept(res)
        curves, floors = np.stack(res.column("loss_curve"))[kept], res.column("loss_infinite_time")[kept]
        above, raw = _slopes(curves, floors)
        losses = "; ".join(f"L({t}) {_mean(curves[:, t // _LOG_EVERY - 1])}" for t in at)
        each = f" {np.round(above, 3).tolist()}," if len(above) <= 8 else ""
        print(f"  {name} {losses}; slope above the floor{each} mean "
              f"{np.mean(above):.3f} ± {np.std(above, ddof=1) / np.sqrt(len(above)):.3f}; raw "
              f"{np.mean(raw):.3f} ± {np.std(raw, ddof=1) / np.sqrt(len(raw)):.3f} ({seconds:.0f} s){note}")


def check_sampling() -> None:
    M, N, T = 4096, 512, 8192
    lam = jax.numpy.asarray(rf.spectrum64(M, 1.0, M).astype(np.float32))
    w = rf.sample_teacher(jax.random.PRNGKey(0), M)
    for nested in (False, True):
        draw = jax.jit(lambda k, nested=nested: (
            rf.sample_projection(jax.random.fold_in(k, 1), N, M, nested=nested),
            rf.sample_data(jax.random.fold_in(k, 2), T, lam, w, 0.0, nested=nested)))
        jax.block_until_ready(draw(jax.random.PRNGKey(1)))
        times = []
        for i in range(5):
            t0 = time.perf_counter()
            jax.block_until_ready(draw(jax.random.PRNGKey(i)))
            times.append(time.perf_counter() - t0)
        print(f"sampling, {'row by row' if nested else 'plain':10}: median of 5 {np.median(times) * 1e3:.1f} ms "
              f"(U {N} x {M}, x {T} x {M})")


def _random_features_script():
    spec = importlib.util.spec_from_file_location(
        "random_features", pathlib.Path(__file__).resolve().parents[1] / "experiments" / "random_features.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def check_regimes(sweeps: int) -> None:
    script = _random_features_script()
    print(f"regimes: random_features quick at sweep seeds 0..{sweeps - 1}")
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for common in ([], ["N", "T"]):
            table[str(common)] = runs = []
            for seed in range(sweeps):
                out = pathlib.Path(tmp) / f"{len(common)}-{seed}"
                argv = ["--preset", "quick", "--seed", str(seed), "--out", str(out), "--figures", str(out),
                        "--no-progress"] + (["--set", f"rf.common_across={json.dumps(common)}"] if common else [])
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    runs.append(script.main(argv))
                print(f"  common_across={common!s:10} seed {seed}: {time.perf_counter() - t0:.1f} s")
    for name in ("resolution_N", "resolution_T", "variance_N", "variance_T"):
        print(f"  {name:<12}", end="")
        for common, runs in table.items():
            exponents = [r["exponents"][name] for r in runs if r["exponents"][name] is not None]
            se = [r["exponent_stderr"][name] for r in runs if r["exponent_stderr"][name] is not None]
            redraw = [np.diff(r["exponent_seed_interval"][name])[0] / 3.92 for r in runs
                      if r["exponent_seed_interval"][name] is not None]
            print(f"  {common}: {np.mean(exponents):.4f} ± {np.std(exponents, ddof=1) / np.sqrt(len(exponents)):.4f} "
                  f"(sd {np.std(exponents, ddof=1):.3f}, fit se rms {rms(np.asarray(se, float)):.3f}, seed redraw rms "
                  f"{rms(np.asarray(redraw, float)):.3f})", end="")
        print()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", default="ridge,gd,time512,sampling")
    parser.add_argument("--seeds", type=int, default=6, help="models of each kind in the time512 check")
    parser.add_argument("--sweeps", type=int, default=4, help="sweep seeds of each kind in the regimes check")
    args = parser.parse_args(argv)
    checks = {"ridge": check_ridge,
              "gd": lambda: _gd(1024, 128, 1024, 2000, 32, 5, (100, 500, 2000)),
              "time512": lambda: _gd(4096, 512, 8192, 10_000, args.seeds, 21, (2000,)),
              "sampling": check_sampling, "regimes": lambda: check_regimes(args.sweeps)}
    chosen = [c for c in args.checks.split(",") if c]
    unknown = [c for c in chosen if c not in checks]
    if unknown or not chosen:
        parser.error(f"--checks {args.checks!r}: {repr(unknown[0]) + ' is not one; ' if unknown else ''}"
                     f"name one or more of {', '.join(checks)}")
    if "time512" in chosen and args.seeds < 2:
        parser.error(f"--seeds {args.seeds}: at least 2 (a standard error)")
    if "regimes" in chosen and args.sweeps < 2:
        parser.error(f"--sweeps {args.sweeps}: at least 2 (a standard error)")
    for c in chosen:
        checks[c]()


if __name__ == "__main__":
    main()
