"""How far a script's exponents move from one --seed to the next, against each run's own error bars.

Runs of ``experiments/compute_optimal.py`` or ``experiments/plrf_frontier.py`` that differ only
in ``--seed`` give independent estimates of the same exponents. For each exponent this prints
the seeds' fitted values, their mean with its standard error and Student-t interval, their
standard deviation against the root mean square of the runs' standard errors and of their
interval-over-redrawn-seeds widths / 3.92 (the sd that a 95 % interval of that width implies),
and in how many runs that interval held the mean of all the seeds. Root mean squares, as the sd
over seeds is one: each run's se^2 estimates the variance that the seeds' sd^2 estimates, and a
plain mean of sds falls short of the sd they estimate (Jensen). Two cautions in reading them: the
sd over k seeds is itself low by a factor c4(k) (0.94 at 5 seeds, 0.98 at 15) and known only to
about +-35 % (one standard error) at 5 seeds, +-19 % at 15; and a root mean square leans on the
widest run's value, so each column's range is printed beside it.

    for s in 0 1 2 3 4; do python experiments/plrf_frontier.py --seed $s --out runs/plrf-seed$s; done
    python benchmarks/seed_spread.py runs/plrf-seed0 runs/plrf-seed1 runs/plrf-seed2 runs/plrf-seed3 runs/plrf-seed4
"""

import argparse
import json
import math
import os
import sys

import numpy as np

from toyscale.fitting import t_quantile
from toyscale.runner import read_summary


def load(folder: str) -> dict:
    summary = read_summary(folder, "experiments/compute_optimal.py or experiments/plrf_frontier.py")
    if not isinstance(summary.get("exponents"), dict):
        sys.exit(f"{os.path.join(folder, 'summary.json')}: no exponents table (a summary of compute_optimal.py or "
                 f"plrf_frontier.py has one)")
    return summary


def rms(values: np.ndarray) -> float:
    """The root mean square of the finite values (nan where none is): of standard deviations, the
    one their mean variance gives, which their plain mean falls short of (the common-draws checks
    use it too)."""
    values = values[np.isfinite(values)]
    return float(np.sqrt(np.mean(values**2))) if values.size else math.nan


def check_same_settings(runs: list[dict]) -> None:
    """Exits naming the field where the runs' summaries differ (experiment, preset, settings), or
    the seeds where one is given twice (one estimate counted twice)."""
    for field in ("experiment", "preset", "settings"):
        if any(r.get(field) != runs[0].get(field) for r in runs):
            sys.exit(f"the runs differ in {field}: {sorted({json.dumps(r.get(field)) for r in runs})}")
    seeds = [r["seed"] for r in runs]
    if len(set(seeds)) != len(seeds):
        sys.exit(f"seeds {seeds}: a seed twice is one estimate counted twice; give runs of distinct --seed")


def spread(runs: list[dict], key: str) -> dict:
    """One exponent's numbers over the runs that fitted it (``seeds``, ``fitted``, ``mean``, ``se``,
    ``t_interval``, ``sd``, ``rms_stderr`` with its ``stderr_range``, ``redraw_sd`` (rms width / 3.92) with
    its ``redraw_range``,
    ``held``: runs whose interval over redrawn seeds holds the mean, of ``with_interval``)."""
    rows = [(r["seed"], r["exponents"][key]) for r in runs if (r["exponents"].get(key) or {}).get("fitted") is not None]
    seeds = [s for s, _ in rows]
    fitted = np.array([e["fitted"] for _, e in rows], dtype=float)
    out = {"seeds": seeds, "fitted": fitted.tolist()}
    if fitted.size < 2:
        return out
    mean, sd = float(fitted.mean()), float(fitted.std(ddof=1))
    se = sd / math.sqrt(fitted.size)
    t = float(t_quantile(0.975, fitted.size - 1))
    # (a run without a redraw has no seed_interval; one whose redraw gave none, [null, null])
    intervals = np.array([e.get("seed_interval") or [None, None] for _, e in rows], dtype=float).reshape(-1, 2)
    intervals = intervals[np.isfinite(intervals).all(axis=1)]
    widths = (intervals[:, 1] - intervals[:, 0]) / 3.92
    stderrs = np.array([e.get("stderr") for _, e in rows], dtype=float)
    stderrs = stderrs[np.isfinite(stderrs)]
    stderr_range = [float(stderrs.min()), float(stderrs.max())] if stderrs.size else None
    out.update(mean=mean, se=se, t_interval=[mean - t * se, mean + t * se], sd=sd,
               rms_stderr=rms(stderrs), stderr_range=stderr_range,
               redraw_sd=rms(widths),
               redraw_range=[float(widths.min()), float(widths.max())] if widths.size else None,
               held=int(((intervals[:, 0] <= mean) & (mean <= intervals[:, 1])).sum()), with_interval=len(intervals))
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="output folders of runs that differ only in --seed")
    args = parser.parse_args(argv)
    runs = [load(folder) for folder in args.runs]
    check_same_settings(runs)
    seeds = [r["seed"] for r in runs]
    keys = list(dict.fromkeys(key for r in runs for key in r["exponents"]))  # (every run's, in first-seen order)
    print(f"{runs[0].get('experiment')}, preset {runs[0].get('preset')}, {len(runs)} runs "
          f"(seeds {', '.join(map(str, seeds))})")
    w = max([10, *map(len, keys)])  # (compute_optimal's time_above_floor is 16 long)
    print(f"{'exponent':<{w}} {'runs':>4} {'mean ± se':>15}  {'t-interval':>17} {'sd':>7} {'se: rms (range)':>23} "
          f"{'redraw width / 3.92: rms (range)':>33} {'holding the mean':>17}")
    table = {}
    for key in keys:
        s = table[key] = spread(runs, key)
        if "mean" not in s:
            print(f"{key:<{w}} {len(s['fitted']):>4} (fewer than two runs fitted it)")
            continue
        redraw, se = ((f"{s[rms]:.4f} ({s[span][0]:.3f}-{s[span][1]:.3f})" if s[span] else "none")
                      for rms, span in (("redraw_sd", "redraw_range"), ("rms_stderr", "stderr_range")))
        print(f"{key:<{w}} {len(s['fitted']):>4} {s['mean']:>7.3f} ± {s['se']:.3f}  [{s['t_interval'][0]:.3f}, "
              f"{s['t_interval'][1]:.3f}] {s['sd']:>7.4f} {se:>23} {redraw:>33} "
              f"{s['held']:>8} of {s['with_interval']}")
    for key in keys:
        print(f"{key}: " + ", ".join(f"{v:.3f}" for v in table[key]["fitted"]))
    return table


if __name__ == "__main__":
    main()
