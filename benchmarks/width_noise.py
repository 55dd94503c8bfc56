"""Why a width exponent's standard error can fall short: the seed noise at each width, across runs.

A width exponent fitted by least squares through each width's mean loss (log against log, as
``experiments/compute_optimal.py``'s ``L ~ N^-x at t -> oo``) has a standard error from the
residuals, pooled as if every width's mean were as noisy as any other. Where the noise is larger
at the widths the slope leans on most (the ends), the slope varies more than that standard error
says. Runs of one script that differ only in ``--seed`` show it: for each width this prints the
sd over runs of the log of a run's mean over its seeds, against the root mean square of the
standard error each run's own seeds give it (delta method: the seeds' sd over sqrt(k) x their
mean). Then, for the slope of log mean against log width: its sd over the runs; the sd those
per-width sds predict for it (independent widths: sqrt(sum a_i^2 v_i), a_i the least-squares
weights; each width's share of it is printed); what the pooled-residual standard error comes to
under them (sqrt(sum (1 - h_ii) v_i / (n - 2) / Sxx), h_ii the leverages); and the root mean
square of the runs' own standard errors. Root mean squares as in benchmarks/seed_spread.py. The
two formulas take the widths' noise as independent (as without ``common_across``) and the mean
curve as a power law; the predicted sd is computed from the same runs' per-width sds, so it
differs from the slopes' own sd only by their cross-width covariances.

It also prints how to spend the runs' compute better: a width's variance of its log mean falls as
1/k with its k models, so with s_i = sd_i sqrt(k_i) (one model's sd, k_i the runs' models there: a
harmonic mean over runs) new counts proportional to |a_i| s_i / sqrt(c_i), c_i a model's cost
(``--cost-power p``: c_i = width^p; 1, the default, as a random-features or superposition model's
steps cost), give the least slope variance at the runs' own cost (Lagrange; the column "seeds at
this cost"; the runs' cost counts every model they ran at the widths kept, diverged ones too).
Then the slope's sd those sds predict with ``--seeds`` (one count per width; default that optimum
rounded, at least 2 a width, so that each width has a standard error), and what that costs
against the runs'.

    python benchmarks/width_noise.py runs/co-seed0 runs/co-seed1 ... [--output loss_infinite_time] [--axis N]
        [--seeds 8,8,2,2,2,2] [--cost-power 1] [--keep-diverged]
        [--where gamma=-1 --where frequencies=power_law]

Each folder is a script's ``--out`` (its summary.json and its sweep/). A diverged model is left
out and counted, unless ``--keep-diverged``: compute_optimal's long-time mean keeps one, a solve
on its draws that gradient descent does not touch, and with the flag this reads the same values.
A non-finite value is left out either way; a width where some run has fewer than 2
values left is left out, and named.
"""

import argparse
import dataclasses
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # (seed_spread.py, beside this file)
from seed_spread import check_same_settings, rms  # noqa: E402
from seed_spread import load as load_summary  # noqa: E402


def width_noise(runs: list[dict[float, np.ndarray]]) -> dict:
    """``runs``: per run, {width: the finished models' values at it} (every run the same widths,
    at least 2 models each, 3 widths or more). Returns ``widths``; per width ``sd_log_mean`` (over
    runs), ``rms_seed_se`` (the runs' delta-method standard errors of their log mean) and
    ``slope_variance_share`` (its share of ``predicted_sd`` squared); and for
    the least-squares slope of log mean against log width: ``slopes`` (one per run), ``slope_sd``,
    ``predicted_sd``, ``pooled_se_expected`` and ``rms_stderr`` (the runs' residual standard
    errors), as in the module's docstring."""
    widths = sorted(runs[0]) if runs else []
    if len(runs) < 2 or len(widths) < 3 or any(sorted(r) != widths for r in runs):
        raise ValueError(f"width_noise needs 2 or more runs over one set of 3 or more widths; got {len(runs)} run(s) "
                         f"over widths {[sorted(r) for r in runs]}")
    values = [[np.asarray(r[w], dtype=float) for w in widths] for r in runs]
    if any(v.size < 2 for run in values for v in run):
        raise ValueError("width_noise needs at least 2 models per width in every run (a seed's standard error)")
    if min(widths) <= 0 or any(not np.all(v > 0) for run in values for v in run):
        raise ValueError("width_noise needs positive widths and values (it fits logs)")
    log_mean = np.array([[math.log(v.mean()) for v in run] for run in values])  # runs x widths
    seed_se = np.array([[v.std(ddof=1) / (math.sqrt(v.size) * v.mean()) for v in run] for run in values])
    x = np.log(np.asarray(widths, dtype=float))
    design = np.stack([np.ones_like(x), x], axis=1)
    weights = np.linalg.solve(design.T @ design, design.T)[1]  # the slope = weights @ y
    slopes = log_mean @ weights
    n = len(widths)
    residuals = log_mean - (log_mean @ np.linalg.pinv(design).T) @ design.T
    sxx = float(((x - x.mean()) ** 2).sum())
    stderrs = np.sqrt((residuals**2).sum(axis=1) / (n - 2) / sxx)
    v = log_mean.var(axis=0, ddof=1)  # each width's variance of its log mean, over runs
    leverage = 1 / n + (x - x.mean()) ** 2 / sxx
    return {"widths": widths, "sd_log_mean": np.sqrt(v).tolist(),
            "slope_variance_share": (weights**2 * v / (weights**2 @ v)).tolist(),
            "rms_seed_se": [rms(seed_se[:, i]) for i in range(n)],
            "slope_weights": weights.tolist(), "slopes": slopes.tolist(), "slope_sd": float(slopes.std(ddof=1)),
            "predicted_sd": float(math.sqrt(weights**2 @ v)),
            "pooled_se_expected": float(math.sqrt(((1 - leverage) * v).sum() / (n - 2) / sxx)),
            "rms_stderr": rms(stderrs)}


def reallocate(out: dict, models: list[float], cost_power: float = 1.0, seeds: list[int] | None = None,
               ran: list[float] | None = None) -> dict:
    """What other seed counts would give, from :func:`width_noise`'s ``out`` and ``models`` (per
    width, the models a run had there, a harmonic mean over runs: the variance of a width's log
    mean taken as a model's variance over that count). Returns ``optimum`` (per width, the
    counts that minimise the slope's predicted variance at the runs' cost: ``ran`` models a run
    at each width, default ``models``, a model at width w costing w^cost_power), and for ``seeds``
    (default: the optimum rounded, at least 2) ``seeds``, their ``predicted_sd`` and their
    ``cost_ratio`` against the runs'."""
    widths = np.asarray(out["widths"], dtype=float)
    k = np.asarray(models, dtype=float)
    spent = k if ran is None else np.asarray(ran, dtype=float)
    if k.shape != widths.shape or spent.shape != widths.shape or not (np.all(k > 0) and np.all(spent >= k)):
        raise ValueError(f"models={models!r}, ran={ran!r}; one positive count per width ({len(widths)}), no more "
                         f"models than ran")
    if not math.isfinite(cost_power):
        raise ValueError(f"cost_power={cost_power!r}; must be a finite number")
    cost = (widths / widths.max()) ** cost_power  # (scaled: the optimum and the ratio do not change, nor overflow)
    model_sd = np.asarray(out["sd_log_mean"]) * np.sqrt(k)  # one model's sd of the log, in effect
    a = np.abs(np.asarray(out["slope_weights"]))
    optimum = (spent @ cost) * a * model_sd / np.sqrt(cost) / (a * model_sd * np.sqrt(cost)).sum()
    if seeds is None:
        seeds = [max(2, round(float(q))) for q in optimum]
    if len(seeds) != len(widths) or not all(isinstance(q, (int, np.integer)) and not isinstance(q, bool) and q >= 1
                                            for q in seeds):
        raise ValueError(f"seeds={seeds!r}; one count >= 1 per width ({len(widths)})")
    q = np.asarray(seeds, dtype=float)
    return {"optimum": optimum.tolist(), "seeds": list(seeds),
            "predicted_sd": float(math.sqrt((a**2 * model_sd**2 / q).sum())),
            "cost_ratio": float((q @ cost) / (spent @ cost))}


def load(folder: str, output: str, axis: str, where: dict | None = None, keep_diverged: bool = False
         ) -> tuple[dict[float, np.ndarray], int, dict[float, int]]:
    """{width: a run's finished models' finite ``output`` values} (of a curve, its last; with
    ``keep_diverged``, the diverged models' too), the number of diverged models (left out unless
    kept), and {width: the models run there, every one}: of the records whose point matches
    ``where`` (conditions as ``toyscale.scaling.width_curve`` takes them: a frequency spec by kind
    name, say), which must be one curve (replicates at each width, apart from ``seed`` and ``label``)."""
    from toyscale.scaling import width_curve
    from toyscale.sweep import load_sweep, matching

    sweep = os.path.join(folder, "sweep")
    if not os.path.isdir(sweep):
        sys.exit(f"{sweep}: no such folder (the run's sweep; give a script's --out folder)")
    every = load_sweep(sweep)
    if not every:  # (an interrupted run with no chunk yet)
        return {}, 0, {}
    for record in every:
        if output not in record.outputs:
            sys.exit(f"{sweep}: no output {output!r} (its outputs: {sorted(record.outputs)}); name one with --output")
    try:
        chosen, _ = matching(every, where or {})
        # (a diverged model's value kept: it is measured as a finished one, and a non-finite value still left out)
        curve = width_curve([dataclasses.replace(r, diverged=False) for r in every] if keep_diverged else every,
                            measure=lambda r: float(np.asarray(r[output]).ravel()[-1]), axis=axis, **(where or {}))
    except ValueError as e:  # (nothing matches, several curves at one width, a width that is not a number)
        sys.exit(f"{sweep}: {e}" + ("; pick one curve with --where FIELD=VALUE" if "only seeds are averaged" in str(e)
                                    else ""))
    ran: dict[float, int] = {}
    for r in chosen:
        ran[float(r.point[axis])] = ran.get(float(r.point[axis]), 0) + 1
    return ({float(w): v for w, v in zip(curve.widths, curve.values)}, sum(r.diverged for r in chosen), ran)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="output folders of runs that differ only in --seed")
    parser.add_argument("--output", default="loss_infinite_time", help="the model output whose mean per width is "
                        "fitted (default loss_infinite_time, compute_optimal's width fit; a curve's last entry)")
    parser.add_argument("--axis", default="N", help="the point field that is the width (default N)")
    parser.add_argument("--seeds", default=None, help="seed counts to predict the slope's sd for, one per width "
                        "kept, comma-separated (default: the least-variance ones at the runs' cost, rounded, at "
                        "least 2)")
    parser.add_argument("--cost-power", type=float, default=1.0, help="a model at width w costs w^p (default 1)")
    parser.add_argument("--keep-diverged", action="store_true", help="keep a diverged model's finite value (an "
                        "output training does not touch, as compute_optimal's ridgeless loss, which its fit keeps)")
    parser.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE",
                        help="only the models whose point has FIELD at VALUE (read as JSON, else as a string; a "
                             "frequencies kind name means its defaults, as width_curve reads it); repeatable: one "
                             "curve of a sweep that holds several")
    args = parser.parse_args(argv)
    where = {}
    for item in args.where:
        key, sep, text = item.partition("=")
        if not sep or not key:
            parser.error(f"--where {item}: expected FIELD=VALUE")
        if key in where:
            parser.error(f"--where {item}: {key} is given twice; a point has one value of each field")
        try:
            where[key] = json.loads(text)
        except json.JSONDecodeError:
            where[key] = text
    seeds = None
    if args.seeds is not None:
        try:
            seeds = [int(q) for q in args.seeds.split(",")]
        except ValueError:
            parser.error(f"--seeds {args.seeds}: must be comma-separated integers, one per width")
        if not all(q >= 1 for q in seeds):
            parser.error(f"--seeds {args.seeds}: every count must be at least 1")
    if not math.isfinite(args.cost_power):
        parser.error(f"--cost-power {args.cost_power}: must be a finite number")
    if len(args.runs) < 2:
        parser.error(f"{len(args.runs)} run folder(s); an sd over runs needs 2 or more")
    summaries = [load_summary(folder) for folder in args.runs]
    check_same_settings(summaries)
    loaded = [load(folder, args.output, args.axis, where, args.keep_diverged) for folder in args.runs]
    runs, diverged = [r for r, _, _ in loaded], sum(d for _, d, _ in loaded)
    widths = sorted(set().union(*runs))
    kept = [w for w in widths if all(np.asarray(r.get(w, [])).size >= 2 for r in runs)]
    left_out = ", ".join(f"{w:g}" for w in widths if w not in kept)
    dropped = f"; left out (a run with fewer than 2 values there): {left_out}" if left_out else ""
    if len(kept) < 3:
        sys.exit(f"{len(kept)} width(s) where every run has 2 or more finite {args.output} values{dropped}; "
                 f"the slope's standard error needs 3")
    out = width_noise([{w: r[w] for w in kept} for r in runs])
    if seeds is not None and len(seeds) != len(kept):
        sys.exit(f"--seeds {args.seeds}: {len(seeds)} count(s) for the {len(kept)} widths kept "
                 f"({', '.join(f'{w:g}' for w in kept)})")
    models = [len(runs) / sum(1 / len(r[w]) for r in runs) for w in kept]  # (Var(log mean) ~ mean of 1/k)
    plan = reallocate(out, models, args.cost_power, seeds,
                      ran=[float(np.mean([spent[w] for _, _, spent in loaded])) for w in kept])
    run_seeds = ", ".join(str(s["seed"]) for s in summaries)
    print(f"{summaries[0].get('experiment')}, preset {summaries[0].get('preset')}, {len(runs)} runs "
          f"(seeds {run_seeds}): "
          f"the mean {args.output} at each {args.axis}"
          + "".join(f", {k} = {json.dumps(v)}" for k, v in where.items())
          + (f"; {diverged} diverged model(s) {'kept' if args.keep_diverged else 'left out'}" if diverged else "")
          + dropped)
    print(f"{args.axis:>8} {'models a run':>12} {'sd of log mean over runs':>25} {'its se from a run: rms':>23} "
          f"{'share of the slope variance':>28} {'seeds at this cost':>19}")
    for i, w in enumerate(out["widths"]):
        fewest, most = min(len(r[w]) for r in runs), max(len(r[w]) for r in runs)
        counts = str(fewest) if fewest == most else f"{fewest}-{most}"
        print(f"{w:>8g} {counts:>12} {out['sd_log_mean'][i]:>25.4f} {out['rms_seed_se'][i]:>23.4f} "
              f"{out['slope_variance_share'][i]:>28.2f} {plan['optimum'][i]:>19.1f}")
    print(f"slope of log mean against log {args.axis} ({len(kept)} widths): sd over runs {out['slope_sd']:.4f}; "
          f"predicted by the widths' sds {out['predicted_sd']:.4f}; the pooled-residual standard error under them "
          f"{out['pooled_se_expected']:.4f}; the runs' own standard errors: rms {out['rms_stderr']:.4f}")
    which = "" if seeds is not None else " (the least-variance counts, rounded, at least 2)"
    print(f"with seeds {', '.join(map(str, plan['seeds']))} at {args.axis} = {', '.join(f'{w:g}' for w in kept)}"
          f"{which}: the slope's sd predicted {plan['predicted_sd']:.4f} (against {out['predicted_sd']:.4f}), at "
          f"{plan['cost_ratio']:.2f}x the runs' cost (a model at width w costing w^{args.cost_power:g})")
    return {**out, "reallocation": plan}


if __name__ == "__main__":
    main()
