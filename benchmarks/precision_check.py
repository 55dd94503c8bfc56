"""float32 against bfloat16 and TF32 products: how far the quick presets' exponents move.

Runs the headline experiment (experiments/superposition_scaling.py) and the phase diagram
(experiments/phase_diagram.py), quick presets, with the same seed: once as they stand
(float32 products) and once with ``--set train.matmul_precision=P`` for each P of
``--precisions`` (default bfloat16 and tensorfloat32), so the initial weights and batches are
the same and only the rounding differs (``--preset`` and ``--set KEY=VALUE`` choose another
size for all, e.g. a tenth of the paper preset on a GPU; each run's wall time is printed as
soon as it ends). Prints every exponent in float32 and in P, the change, and the change over
the float32 fit's standard error, then the largest of each (the scripts' own warnings are not
shown; a failed run's standard error is). On a CPU, tensorfloat32's rounded operands are
multiplied in float32, the same products a GPU's TF32 units make. Each run's exponents are
also printed as soon as it ends, so a run cut short by a time limit keeps them. The runs go to ``--out``
(default: a scratch folder, removed afterwards), figures included, so figures/ is not touched.

    python benchmarks/precision_check.py [--experiments superposition_scaling,phase_diagram]
        [--precisions bfloat16,tensorfloat32] [--preset quick] [--set KEY=VALUE ...] [--seed 0]
        [--max-ratio 1] [--out DIR] [--json out.json]

The acceptance rule (issue 5: a reduced precision only if the exponents stay within their
error bars): every exponent's |change| / stderr at most ``--max-ratio`` (default 1), no
exponent finite in float32 but not in the other precision, and none changed where float32's
standard error is NaN or 0 (nothing to weigh the change against). The last line says which
precisions pass; the exit status is 1 when one does not (the JSON is written either way).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout without installing (as on a lent GPU machine)

import numpy as np  # noqa: E402

from toyscale.io import atomic_write_json  # noqa: E402

EXPERIMENTS = ("superposition_scaling", "phase_diagram")
OTHERS = ("bfloat16", "tensorfloat32")  # compared with float32


def run(name: str, precision: str, out: str, seed: int, preset: str = "quick",
        overrides: tuple[str, ...] = ()) -> tuple[dict, float]:
    """One run of the experiment; returns its summary.json and the wall time of the script."""
    folder = os.path.join(out, f"{name}-{precision}")
    cmd = [sys.executable, os.path.join(ROOT, "experiments", f"{name}.py"), "--preset", preset, "--seed", str(seed),
           "--out", folder, "--figures", folder, "--no-progress"]
    cmd += [a for kv in overrides for a in ("--set", kv)]
    if precision != "float32":
        cmd += ["--set", f"train.matmul_precision={precision}"]
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed (exit status {done.returncode}):\n{done.stderr}")
    seconds = time.perf_counter() - t0
    with open(os.path.join(folder, "summary.json")) as fh:
        summary = json.load(fh)
    print(f"{name} {precision}: {seconds:.1f} s; "
          + "; ".join(f"{k} {v:.4f} +- {se:.4f}" for k, (v, se) in exponents(name, summary).items()), flush=True)
    return summary, seconds


def exponents(name: str, summary: dict) -> dict[str, tuple[float, float]]:
    """{label: (exponent, its standard error)} of one summary."""
    if name == "superposition_scaling":
        return {f"{regime} {dist}": (v, summary["exponent_stderr"][regime][dist])
                for regime, row in summary["exponents"].items() for dist, v in row.items()}
    a, se = np.asarray(summary["alpha_m"], float), np.asarray(summary["alpha_m_stderr"], float)
    return {f"gamma={g:.2f} alpha={al:.2f}": (float(a[i, j]), float(se[i, j]))
            for i, g in enumerate(summary["gamma"]) for j, al in enumerate(summary["alpha"])}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--experiments", default=",".join(EXPERIMENTS), help="comma-separated, from " + ", ".join(EXPERIMENTS))
    ap.add_argument("--preset", default="quick", help="the experiments' preset (default quick)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to every run (e.g. train.steps=2000); repeatable")
    ap.add_argument("--precisions", default=",".join(OTHERS),
                    help="comma-separated, each compared with float32 (default " + ",".join(OTHERS) + ")")
    ap.add_argument("--seed", type=int, default=0, help="sweep seed of every run (default 0)")
    ap.add_argument("--out", default=None, help="keep the runs in this folder (default: a scratch folder)")
    ap.add_argument("--json", default=None, help="also write the numbers to this file (after each run, with "
                                                 "complete false until the last: each run's exponents and time)")
    ap.add_argument("--max-ratio", type=float, default=1.0,
                    help="the acceptance rule: every |change| / stderr at most this (default 1: within the error bars)")
    args = ap.parse_args(argv)
    if not args.max_ratio > 0:
        ap.error(f"--max-ratio {args.max_ratio}: must be > 0")
    names = [v for v in args.experiments.split(",") if v]
    if not names or not set(names) <= set(EXPERIMENTS):
        ap.error(f"--experiments {args.experiments!r}: give names from {', '.join(EXPERIMENTS)}")
    others = [v for v in args.precisions.split(",") if v]
    if not others or not set(others) <= set(OTHERS):
        ap.error(f"--precisions {args.precisions!r}: give names from {', '.join(OTHERS)}")

    def save(complete: bool) -> None:
        if args.json:
            atomic_write_json(args.json, dict(seed=args.seed, preset=args.preset, overrides=args.overrides,
                                              max_ratio=args.max_ratio, complete=complete, experiments=results))

    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or scratch
        results = {}
        for name in names:
            results[name] = dict(seconds={}, exponents={}, against={})
            fitted = results[name]["exponents"]
            for p in ("float32", *others):
                # (a run found finished in --out is read, not retrained: its seconds are then no training time)
                results[name].setdefault("resumed", {})[p] = os.path.exists(
                    os.path.join(out, f"{name}-{p}", "sweep", "manifest.json"))
                summary, results[name]["seconds"][p] = run(name, p, out, args.seed, args.preset, tuple(args.overrides))
                fitted[p] = exponents(name, summary)
                save(complete=False)  # at once, each run: a time limit may end the next one
            base = fitted["float32"]
            print(f"\n{name}, {args.preset} preset{''.join(' --set ' + kv for kv in args.overrides)}, seed {args.seed}: "
                  + ", ".join(f"{p} {t:.1f} s" for p, t in results[name]["seconds"].items()))
            for prec in others:
                other = fitted[prec]
                rows = []
                print(f"  {'exponent':<26}{'float32':>10}{prec:>15}{'change':>10}{'stderr':>9}{'|change|/se':>13}")
                for label, (a32, se) in base.items():
                    a = other[label][0]
                    d = a - a32
                    ratio = abs(d) / se if se > 0 and math.isfinite(se) else math.nan
                    rows.append(dict(exponent=label, float32=a32, value=a, change=d, stderr=se, ratio=ratio))
                    print(f"  {label:<26}{a32:>10.4f}{a:>15.4f}{d:>10.4f}{se:>9.4f}{ratio:>13.3f}")
                finite = [r for r in rows if math.isfinite(r["change"])]
                worst = max(finite, key=lambda r: abs(r["change"]), default=None)
                worst_ratio = max((r["ratio"] for r in finite if math.isfinite(r["ratio"])), default=math.nan)
                # lost: finite in float32, not in this precision (NaN in both is the fit's, not the rounding's)
                lost = sum(math.isfinite(r["float32"]) and not math.isfinite(r["value"]) for r in rows)
                # a change without a standard error to weigh it (NaN or 0: too few widths) cannot pass
                unweighed = sum(r["change"] != 0 and not math.isfinite(r["ratio"]) for r in finite)
                within = lost == 0 and unweighed == 0 and all(r["ratio"] <= args.max_ratio for r in finite
                                                              if math.isfinite(r["ratio"]))
                print(f"  {prec}: largest |change| "
                      + (f"{abs(worst['change']):.4f} ({worst['exponent']})" if worst else "- (none finite)")
                      + f"; largest |change| / stderr {worst_ratio:.3f}; {len(rows) - len(finite)} exponent(s) not "
                        f"finite ({lost} finite in float32 only); {unweighed} changed without a standard error")
                results[name]["against"][prec] = dict(rows=rows, max_abs_change=abs(worst["change"]) if worst else None,
                                                      max_change_over_stderr=worst_ratio, lost=lost,
                                                      unweighed=unweighed, within=within)
            save(complete=name == names[-1])  # (this experiment's verdicts too, before the next one runs)
    verdicts = {prec: all(r["against"][prec]["within"] for r in results.values()) for prec in others}
    print(f"within the error bars (every |change| / stderr <= {args.max_ratio:g}, none lost): "
          + ", ".join(f"{prec} {'yes' if ok else 'NO'}" for prec, ok in verdicts.items()))
    return results


def passed(results: dict) -> bool:
    """Whether every precision met the acceptance rule in every experiment (``main``'s results)."""
    return all(c["within"] for r in results.values() for c in r["against"].values())


if __name__ == "__main__":
    sys.exit(0 if passed(main()) else 1)
