"""Command line: ``python -m toyscale <command> ...``.

Each command group lives in a ``register(subparsers)`` function that adds its parser and
sets ``func`` (a callable taking the parsed namespace and returning an exit code); other
modules add commands by appending their ``register`` to `REGISTRY`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from typing import Callable, Sequence

import numpy as np


class CliError(Exception):
    """A user error with a message meant for the terminal."""


def read_csv_columns(path: str, columns: Sequence[str],
                     where: Sequence[tuple[str, str]] = ()) -> dict[str, np.ndarray]:
    """Read named numeric columns of a CSV file with a header row, from the rows whose
    ``where`` columns match their values (``(column, value)`` pairs, as ``--where`` gives).

    Raises:
      CliError naming the file, the column and the row on any problem.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: Excel's "CSV UTF-8" starts with a BOM
            reader = csv.DictReader(fh)
            header = reader.fieldnames
            if not header:
                raise CliError(f"{path}: empty file or no header row")
            missing = [c for c in [*columns, *(k for k, _ in where)] if c not in header]
            if missing:
                raise CliError(f"{path}: unknown column(s) {', '.join(map(repr, missing))}; "
                               f"available: {', '.join(map(repr, header))}")
            twice = [c for c in columns if header.count(c) > 1]
            if twice:  # DictReader would silently keep the last one
                raise CliError(f"{path}: the header names column(s) {', '.join(map(repr, twice))} more than once")
            out: dict[str, list[float]] = {c: [] for c in columns}
            seen_rows = 0
            for row in reader:
                line = reader.line_num  # the file's line, blank lines and quoted newlines counted
                if None in row:  # more cells than the header: "1,024" split into two, say
                    raise CliError(f"{path}: line {line} has {len(header) + len(row[None])} fields, the header "
                                   f"{len(header)}; quote a cell that contains a comma")
                seen_rows += 1
                if not all(_matches(row.get(k), v, text=True) for k, v in where):
                    continue
                for c in columns:
                    cell = row.get(c)
                    try:
                        out[c].append(float(cell))
                    except (TypeError, ValueError):
                        raise CliError(f"{path}: line {line}, column {c!r}: cannot parse {cell!r} as a number") from None
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except OSError as err:  # a folder, no permission, ...
        raise CliError(f"{path}: cannot be read ({err.strerror or err})") from None
    except (csv.Error, UnicodeDecodeError) as err:
        raise CliError(f"{path}: not a readable CSV file ({err})") from None
    if not seen_rows:
        raise CliError(f"{path}: header but no data rows")
    if not out[columns[0]]:
        raise CliError(f"{path}: none of its {seen_rows} rows has " + " and ".join(f"{k}={v}" for k, v in where))
    return {c: np.asarray(v, dtype=np.float64) for c, v in out.items()}


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _cmd_fit_chinchilla(args) -> int:
    from toyscale import fitting

    cols = [args.N, args.loss] + ([args.D] if args.D else [args.C])
    data = read_csv_columns(args.file, cols, args.where)
    N, L = data[args.N], data[args.loss]
    D = data[args.D] if args.D else data[args.C] / (6.0 * N)
    notes = []
    if args.drop_top:
        # checked first: argsort would take a NaN loss for the highest and drop it quietly
        # (the budget column as read: D derived from a bad C would be blamed on C's name)
        budget = (args.D, D) if args.D else (args.C, data[args.C])
        for name, v in ((args.N, N), budget, (args.loss, L)):
            fitting._as_1d(name, v)
        if args.drop_top >= len(L):
            raise CliError(f"--drop-top {args.drop_top}: only {len(L)} rows")
        keep = np.argsort(L, kind="stable")[: len(L) - args.drop_top]
        keep.sort()
        notes.append(f"dropped the {args.drop_top} highest-loss row(s) (--drop-top)")
        N, D, L = N[keep], D[keep], L[keep]
    if args.grid_stride < 1:
        raise CliError("--grid-stride must be >= 1")
    starts = fitting.chinchilla_grid(thin=args.grid_stride)
    fit = fitting.fit_chinchilla(N, D, L, method=args.method, bootstrap=args.bootstrap, seed=args.seed, starts=starts)
    budgets = np.array([1e21, 1e23, 1e25])
    allocation = fit.compute_optimal(budgets) if fit.identifiable and fit.alpha > 0 and fit.beta > 0 else None
    if args.json:
        d = fit.to_dict()
        d["notes"] = notes + d["notes"]
        if allocation is not None:
            d["compute_optimal"] = {
                "C": allocation.C, "N_opt": allocation.N_opt, "D_opt": allocation.D_opt,
                "N_opt_stderr": allocation.N_opt_stderr, "D_opt_stderr": allocation.D_opt_stderr,
                "N_opt_interval": None if allocation.N_opt_interval is None else np.stack(allocation.N_opt_interval, 1),
                "D_opt_interval": None if allocation.D_opt_interval is None else np.stack(allocation.D_opt_interval, 1),
            }
        print(json.dumps(_jsonable(d), indent=2))
    else:
        print(fit)
        for n in notes:
            print(f"  note: {n}")
        if allocation is not None:
            print(allocation)
    return _fit_status(fit.identifiable)


def _cmd_fit_power_law(args) -> int:
    from toyscale import fitting

    data = read_csv_columns(args.file, [args.x, args.y], args.where)
    ex = None
    if args.cut is not None:
        if args.bootstrap:
            raise CliError("--cut and --bootstrap cannot be combined (the held-out fit has no bootstrap)")
        ex = fitting.extrapolation_error(data[args.x], data[args.y], cut=args.cut, offset=args.offset,
                                         loss=args.loss_fn)
        fit = ex.fit
    else:
        fit = fitting.fit_power_law(data[args.x], data[args.y], offset=args.offset, loss=args.loss_fn,
                                    bootstrap=args.bootstrap, seed=args.seed)
    if args.json:
        d = fit.to_dict()
        names = ("exponent", "prefactor") + (("offset",) if fit.fit_offset else ())
        d["t_interval"] = {name: list(fit.t_interval(name)) for name in names}  # (nan -> null)
        if ex is not None:
            d["extrapolation"] = {k: getattr(ex, k) for k in (
                "cut", "n_train", "n_test", "mean_rel_error", "max_rel_error", "mean_log_error", "max_log_error",
                "rmse_log")}
        print(json.dumps(_jsonable(d), indent=2))
    else:
        print(fit if ex is None else ex)
    return _fit_status(fit.identifiable)


def _cmd_fit_broken_power_law(args) -> int:
    from toyscale import fitting

    data = read_csv_columns(args.file, [args.x, args.y], args.where)
    fit = fitting.fit_broken_power_law(data[args.x], data[args.y], breaks=args.breaks, offset=args.offset,
                                       loss=args.loss_fn, bootstrap=args.bootstrap, seed=args.seed)
    print(json.dumps(_jsonable(fit.to_dict()), indent=2) if args.json else fit)
    return _fit_status(fit.identifiable)


def _cmd_fit_allocation(args) -> int:
    from toyscale import fitting

    cols = [args.N, args.loss] + ([args.D] if args.D else [args.C])
    data = read_csv_columns(args.file, cols, args.where)
    budget = dict(D=data[args.D]) if args.D else dict(C=data[args.C])
    bins = args.bins
    if bins is not None:
        bins = bins[0] if len(bins) == 1 else np.asarray(bins, dtype=np.float64)
        if isinstance(bins, float):
            if not bins.is_integer():
                raise CliError(f"--bins {bins:g}: give an integer number of bins or at least 3 bin edges")
            bins = int(bins)
    fn = fitting.fit_frontier if args.fit_kind == "frontier" else fitting.fit_isoflop
    fit = fn(data[args.N], data[args.loss], bins=bins, bootstrap=args.bootstrap, seed=args.seed, **budget)
    print(json.dumps(_jsonable(fit.to_dict()), indent=2) if args.json else fit)
    return 0  # (a least-squares line through distinct budgets: always determined)


def _fit_status(identifiable: bool) -> int:
    """Exit status of a fit command that printed its fit: 0, or 1 (with a line on standard
    error) when the data do not determine the parameters, so that a script does not take a
    printed but undetermined fit for a good one."""
    if identifiable:
        return 0
    print("toyscale: fit printed, but it is NOT IDENTIFIABLE from these data (see its notes); exit status 1",
          file=sys.stderr)
    return 1


def _nonneg_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not an integer") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{v} must be >= 0")
    return v


def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"{v} must be a finite number > 0")
    return v


def _add_where(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--where", type=_where, action="append", default=[], metavar="COLUMN=VALUE",
                   help=f"keep the {what} whose COLUMN equals VALUE (numbers compared as numbers, true/false as "
                        f"1/0; an empty VALUE matches an empty cell; repeatable)")


def _add_run_columns(p: argparse.ArgumentParser, d_help: str, c_help: str) -> None:
    """FILE, --N, --D | --C, --loss and --where: the columns of a CSV of training runs."""
    p.add_argument("file", help="CSV file with a header row")
    _add_where(p, "rows")
    p.add_argument("--N", required=True, help="column of parameter counts")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--D", help=d_help)
    g.add_argument("--C", help=c_help)
    p.add_argument("--loss", required=True, help="column of final losses")


def _add_xy_columns(p: argparse.ArgumentParser, offset_help: str) -> None:
    """FILE, --x, --y, --offset, --loss-fn and --where of the power-law fits."""
    p.add_argument("file", help="CSV file with a header row")
    _add_where(p, "rows")
    p.add_argument("--x", required=True, help="column of sizes")
    p.add_argument("--y", required=True, help="column of losses")
    p.add_argument("--offset", action="store_true", help=offset_help)
    p.add_argument("--loss-fn", choices=("squared", "huber"), default="squared", help="fitting loss")


def register_fit(subparsers) -> None:
    """Add ``fit chinchilla``, ``fit power-law``, ``fit broken-power-law``, ``fit frontier`` and ``fit isoflop``."""
    fit = subparsers.add_parser("fit", help="fit scaling laws to a CSV of runs")
    sub = fit.add_subparsers(dest="fit_kind", required=True)

    ch = sub.add_parser("chinchilla", help="L(N, D) = E + A/N^alpha + B/D^beta (Chinchilla approach 3)")
    _add_run_columns(ch, "column of training tokens", "column of training FLOPs (D = C / (6 N))")
    ch.add_argument("--drop-top", type=_nonneg_int, default=0, metavar="K", help="drop the K highest-loss rows")
    ch.add_argument("--method", choices=("huber", "mle"), default="huber",
                    help="huber: the published Huber loss on log L; mle: Huber likelihood with a fitted scale, "
                         "which also reports sigma (default: huber)")
    ch.add_argument("--grid-stride", type=_nonneg_int, default=1, metavar="K",
                    help="use 1/K of the published 4,500-start grid (a fixed spread of ceil(4500/K) starts over "
                         "it; faster, less thorough)")
    _add_bootstrap_seed_json(ch, "the runs")
    ch.set_defaults(func=_cmd_fit_chinchilla)

    pl = sub.add_parser("power-law", help="y = C x^-a (+ y_inf)")
    _add_xy_columns(pl, "also fit the irreducible term y_inf")
    pl.add_argument("--cut", type=_positive_float, default=None, metavar="X",
                    help="held-out extrapolation: fit on x <= X, report the error on x > X")
    _add_bootstrap_seed_json(pl, "the points")
    pl.set_defaults(func=_cmd_fit_power_law)

    bp = sub.add_parser("broken-power-law", help="y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)")
    _add_xy_columns(bp, "also fit the constant a")
    bp.add_argument("--breaks", type=int, choices=(1, 2, 3), default=1, metavar="K", help="number of breaks (1-3)")
    _add_bootstrap_seed_json(bp, "the points")
    bp.set_defaults(func=_cmd_fit_broken_power_law)

    for kind, help_ in (("frontier", "N_opt = k C^a from the lowest-loss run per budget (Chinchilla approach 1)"),
                        ("isoflop", "N_opt = k C^a from parabola minima per budget (Chinchilla approach 2)")):
        al = sub.add_parser(kind, help=help_)
        _add_run_columns(al, "column of training tokens (C = 6 N D)", "column of training FLOPs")
        al.add_argument("--bins", type=_positive_float, nargs="+", default=None, metavar="B",
                        help="one integer: that many log-spaced budget bins; several numbers: ascending bin edges "
                             "(default: group runs of equal C, to 1 %% of a group's smallest)")
        _add_bootstrap_seed_json(al, "the runs")
        al.set_defaults(func=_cmd_fit_allocation)


def _add_bootstrap_seed_json(p, what: str) -> None:
    """The options every fit takes: bootstrap resamples of ``what``, their seed, and JSON output."""
    p.add_argument("--bootstrap", type=_nonneg_int, default=0, metavar="R",
                   help=f"resample {what} R times for percentile intervals of the fitted parameters (default: 0, none)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the bootstrap resamples (default: 0)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _where(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected COLUMN=VALUE, e.g. gamma=-1 or frequencies.kind=power_law")
    return key, value


def _as_number(text: str) -> float | None:
    """A --where value or a CSV file's cell as a number (true/false, any case, as 1/0), else None."""
    try:
        return float(text)
    except ValueError:
        return {"true": 1.0, "false": 0.0}.get(text.strip().lower())


def _matches(cell, value: str, *, text: bool = False) -> bool:
    """A cell against a --where value: an empty value matches an empty cell; a number
    numerically (true/false as 1/0, as the table writes bools; nan matches nan); a list by
    its JSON value. ``text``: the cell is a CSV file's text, read as a number where it is one
    (a table's own text cells, a label "007", stay text)."""
    if text and isinstance(cell, str):
        cell = None if cell == "" else (cell if _as_number(cell) is None else _as_number(cell))
    if cell is None or value == "":
        return cell is None and value == ""
    if isinstance(cell, (int, float)):
        given = _as_number(value)
        return given is not None and (float(cell) == given or (math.isnan(cell) and math.isnan(given)))
    if cell == value:
        return True
    try:  # a list cell (JSON text) against the same list spelled otherwise ([1,2] for [1, 2])
        return json.loads(cell) == json.loads(value)
    except ValueError:
        return False


def _cmd_export(args) -> int:
    from toyscale.sweep import csv_text, load_sweep, write_csv

    try:
        result = load_sweep(args.sweep)
    except OSError as err:
        raise CliError(str(err)) from None
    if not len(result):
        raise CliError(f"{args.sweep}: no finished models yet (its manifest lists {len(result.manifest['points'])})")
    columns, rows = result.table()
    for key, value in args.where:
        if key not in columns:
            raise CliError(f"--where {key}={value}: no column {key!r}; columns are {', '.join(columns)}")
        i = columns.index(key)
        kept = [row for row in rows if _matches(row[i], value)]
        if not kept:
            seen = sorted({"(empty)" if row[i] is None else str(row[i]) for row in rows})
            raise CliError(f"--where {key}={value}: no model left has it; {key} is one of {', '.join(seen[:20])}"
                           + (" ..." if len(seen) > 20 else ""))
        rows = kept
    if args.drop_diverged:
        rows = [row for row in rows if not row[columns.index("diverged")]]
    if args.out == "-":
        sys.stdout.write(csv_text(columns, rows))
        return 0
    if os.path.isdir(args.out):
        raise CliError(f"{args.out}: is a folder; give the CSV file's path (or - for standard output)")
    folder = os.path.dirname(args.out)
    if folder and not os.path.isdir(folder):  # (a mistyped path is an error, not a new folder)
        raise CliError(f"{args.out}: its folder {folder} does not exist")
    write_csv(args.out, columns, rows)
    print(f"wrote {len(rows)} of {len(result)} models ({sum(r[columns.index('diverged')] for r in rows)} diverged), "
          f"{len(columns)} columns, to {args.out}", file=sys.stderr)
    return 0


def register_export(subparsers) -> None:
    """Add ``export``: a sweep folder's finished models as one CSV table."""
    ex = subparsers.add_parser("export", help="a sweep folder's models as a CSV table (one row per model)",
                               description="Writes one row per finished model: model_id, diverged (0/1), the "
                                           "point's fields (a frequency spec as frequencies.kind, "
                                           "frequencies.alpha, ...) and every scalar output (test_loss, "
                                           "phi_half, ...). The result feeds `toyscale fit` or pandas.")
    ex.add_argument("sweep", help="the sweep folder (an experiment script's is <--out>/sweep)")
    ex.add_argument("out", help="CSV file to write, or - for standard output")
    _add_where(ex, "models")
    ex.add_argument("--drop-diverged", action="store_true", help="leave out the models marked diverged")
    ex.set_defaults(func=_cmd_export)


#: ``register(subparsers)`` functions; append yours to add a command.
REGISTRY: list[Callable] = [register_fit, register_export]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toyscale", description="Neural scaling laws by simulation.")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRY:
        register(sub)
    return parser


def console(argv: Sequence[str] | None = None) -> int:
    """The installed ``toyscale`` command and ``python -m toyscale``: the process-wide set-up
    an entry point owns (compiled programs kept on disk, ``$TOYSCALE_CPU_DEVICES``; see
    :mod:`toyscale.runner`), then :func:`main`. Returns the exit code."""
    from toyscale.runner import use_compilation_cache, use_cpu_devices

    use_compilation_cache()
    try:
        use_cpu_devices()
    except ValueError as err:  # a bad $TOYSCALE_CPU_DEVICES: a usage error, not a traceback
        print(f"toyscale: error: {err}", file=sys.stderr)
        return 2
    return main(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The commands themselves, with no process-wide set-up (for calling from Python);
    returns the exit code (0 ok, 1 a fit printed but not identifiable, 2 usage or data error)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, ValueError, TypeError) as err:
        kind = "not identifiable" if type(err).__name__ == "NotIdentifiableError" else "error"
        print(f"toyscale: {kind}: {err}", file=sys.stderr)
        return 2
