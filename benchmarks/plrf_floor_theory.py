"""The PLRF floor's deterministic equivalent against simulated floors, and its slope at small and large d.

``toyscale.theory.plrf_floor`` gives the expected least loss of d power-law random features
(``toyscale.plrf``'s ``loss_floor``) from the deterministic equivalent of random-feature
regression. This draws W ``--draws`` times at a few widths and prints the simulated floors' mean
over it, with its standard error, then the theory's slope over the quick preset's widths and
over d = 4096..16384, against the derived d -> inf exponent 2 alpha - max(0, 1 - 2 beta).

    python benchmarks/plrf_floor_theory.py    # alpha = beta = 0.7, 4,000 draws at d = 16..128 (88 s, 2-core CPU)
"""

import argparse

import numpy as np

from toyscale import plrf
from toyscale.fitting import fit_power_law
from toyscale.theory import plrf_exponents, plrf_floor


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=0.7)
    parser.add_argument("--beta", type=float, default=0.7)
    parser.add_argument("--draws", type=int, default=4000, help="draws of W per width (default 4000)")
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64, 128])
    args = parser.parse_args(argv)
    cfg = plrf.PLRFConfig(log_every=1)
    points = plrf.plrf_grid(d=args.widths, alpha=[args.alpha], beta=[args.beta], lr=0.01, steps=1, seeds=args.draws)
    result = plrf.sweep_plrf(cfg, points, progress=False)
    print(f"alpha = {args.alpha:g}, beta = {args.beta:g}, v = {cfg.v_ratio} d, {args.draws} draws of W per width")
    print(f"{'d':>6} {'simulated mean':>15} {'theory':>11} {'ratio':>7} {'± se':>7}")
    ratios = {}
    for d, want in zip(args.widths, plrf_floor(args.widths, args.alpha, args.beta, cfg.v_ratio)):
        floors = np.array([float(r["loss_floor"]) for r in result if r.point["d"] == d])
        mean, se = floors.mean(), floors.std(ddof=1) / np.sqrt(floors.size)
        ratios[d] = (mean / want, se / want)
        print(f"{d:>6} {mean:>15.6g} {want:>11.6g} {mean / want:>7.3f} {se / want:>7.3f}")
    slopes = {}
    for name, widths in (("the quick preset's widths", [16, 32, 64, 128, 256, 512]), ("large d", [4096, 8192, 16384])):
        widths = np.asarray(widths, float)
        slopes[name] = fit_power_law(widths, plrf_floor(widths, args.alpha, args.beta, cfg.v_ratio)).exponent
        print(f"theory's slope over d = {int(widths[0])}..{int(widths[-1])} ({name}): d^-{slopes[name]:.3f}")
    print(f"derived d -> inf: d^-{plrf_exponents(args.alpha, args.beta)['floor']:.3g}")
    return {"ratios": ratios, "slopes": slopes}


if __name__ == "__main__":
    main()
