"""Do one phase-diagram run's 95 % intervals hold another run's alpha_m?

Two runs of ``experiments/phase_diagram.py`` with the same preset and different ``--seed``
give two independent estimates of every cell's alpha_m. For each cell this prints how far they
differ, and, each way round, in how many cells one run's Student-t interval and its interval
over redrawn seeds hold the other run's value. For two independent estimates with Gaussian
errors of one size, a calibrated 95 % interval about one holds the other with probability
2 Phi(1.96 / sqrt 2) - 1 = 83.4 %.

    python experiments/phase_diagram.py --preset quick --out runs/phase
    python experiments/phase_diagram.py --preset quick --seed 1 --out runs/phase-seed1
    python benchmarks/phase_interval_check.py runs/phase runs/phase-seed1
"""

import argparse
import math
import os
import sys

import numpy as np

from toyscale.runner import read_summary


def load(folder: str) -> dict:
    summary = read_summary(folder, "experiments/phase_diagram.py")
    if summary.get("experiment") != "phase_diagram" or "alpha_m_t_interval" not in summary:
        sys.exit(f"{os.path.join(folder, 'summary.json')}: not a phase_diagram summary with intervals (rerun it "
                 f"with today's script)")
    return summary


def held(summary: dict, key: str, other: np.ndarray) -> tuple[int, int]:
    """(cells where summary's interval ``key`` holds ``other``, cells with both defined)."""
    iv = np.asarray(summary[key], dtype=float)
    ok = np.isfinite(iv).all(-1) & np.isfinite(other)
    return int(((iv[..., 0] <= other) & (other <= iv[..., 1]) & ok).sum()), int(ok.sum())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="output folder of one run")
    parser.add_argument("second", help="output folder of a run with another --seed")
    args = parser.parse_args(argv)
    a, b = load(args.first), load(args.second)
    for key in ("gamma", "alpha", "m", "preset"):
        if a[key] != b[key]:
            sys.exit(f"the runs differ in {key}: {a[key]!r} against {b[key]!r}")
    if a["seed"] == b["seed"]:
        sys.exit(f"both runs have seed {a['seed']}: their estimates are not independent")
    xa, xb = np.asarray(a["alpha_m"], dtype=float), np.asarray(b["alpha_m"], dtype=float)
    diff = np.abs(xa - xb)
    steep = np.asarray(a["alpha"], dtype=float) >= 1.5
    print(f"{args.first} (seed {a['seed']}) against {args.second} (seed {b['seed']}), "
          f"{diff.size} cells, preset {a['preset']}")
    print(f"|alpha_m difference|: max {np.nanmax(diff):.2f} (alpha >= 1.5: "
          f"{np.nanmax(diff[:, steep]) if steep.any() else math.nan:.2f}, alpha < 1.5: "
          f"{np.nanmax(diff[:, ~steep]) if (~steep).any() else math.nan:.2f})")
    out = {"max_difference": float(np.nanmax(diff))}
    for key, what in (("alpha_m_t_interval", "t-interval"), ("alpha_m_seed_interval", "interval over redrawn seeds")):
        (ab, na), (ba, nb) = held(a, key, xb), held(b, key, xa)
        print(f"{what}: the first run's holds the second's alpha_m in {ab} of {na} cells, "
              f"the second's the first's in {ba} of {nb}")
        out[key] = [ab, na, ba, nb]
    reference = math.erf(1.96 / 2)  # 2 Phi(1.96 / sqrt 2) - 1
    print(f"(calibrated 95 % intervals about independent Gaussian estimates: {reference:.1%})")
    return out


if __name__ == "__main__":
    main()
