"""Command line: ``python -m toyscale <command> ...``.

Each command group lives in a ``register(subparsers)`` function that adds its parser and
sets ``func`` (a callable taking the parsed namespace and returning an exit code); other
modules add commands by appending their ``register`` to `REGISTRY`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import json
import math
import os
import re
import signal
import sys
import traceback
from typing import Any, Callable, Sequence

import numpy as np

from toyscale._checks import value_order
# (at import: the SIGINT handler uses it, and a handler should import nothing)
from toyscale.io import exit_interrupted


class CliError(Exception):
    """A user error with a message meant for the terminal."""


def read_csv_columns(path: str, columns: Sequence[str], where: Sequence[tuple[str, str]] = (), *,
                     positive: bool = False, labels: Sequence[str] = (), texts: Sequence[str] = (),
                     ranges: dict[str, tuple[float, float]] | None = None,
                     left_out_texts: list[dict[str, str]] | None = None,
                     kept_cells: dict | None = None) -> dict[str, np.ndarray]:
    """Read named numeric columns of a CSV file with a header row, from the rows whose
    ``where`` columns match their values (``(column, value)`` pairs, as ``--where`` gives) and
    whose ``ranges`` columns (among ``columns``: ``{column: (low, high)}``, as ``--x-min`` and
    ``--x-max`` give) lie in [low, high]. With ``positive``, every numeric value read must be a
    finite number > 0 (what the fits take); a row left out by ``where`` or ``ranges`` is not
    checked. The ``labels`` among ``columns`` are read as their cells' text (a seed column:
    labels, compared as written), and must not be empty; the ``texts`` too, empty or not (the
    columns ``--by`` groups the rows by), as written. ``left_out_texts``, a list, gets the
    ``texts`` cells of each row the ``ranges`` left out (whose groups then have no row).
    ``kept_cells``, a dict, gets the file's ``"header"`` and, as ``"rows"``, every cell of each
    row kept (``{column: text}``, one per value returned, in order; a short row lacks its last
    columns), for what the named columns do not tell (:func:`_check_one_curve`).

    Raises:
      CliError naming the file, the column and the row on any problem.
    """
    source = 0 if path == "-" else path  # ("-": standard input, as export's "-" is standard output)
    if path == "-":
        path = "standard input"
    try:
        # (-sig: Excel's "CSV UTF-8" starts with a BOM)
        with open(source, newline="", encoding="utf-8-sig", closefd=source != 0) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            while header == []:  # blank lines before the header (a blank line is no row, as below)
                header = next(reader, None)
            if not header:
                raise CliError(f"{path}: empty file or no header row")
            missing = [c for c in [*columns, *(k for k, _ in where)] if c not in header]
            if missing:
                raise CliError(f"{path}: unknown column(s) {', '.join(map(repr, missing))}; "
                               f"available: {', '.join(map(repr, header))}")
            given_twice = sorted({c for c in columns if columns.count(c) > 1})
            if given_twice:  # (--x m --y m: each row's value read twice)
                raise CliError(f"column(s) {', '.join(map(repr, given_twice))} given for two of the fit's inputs; "
                               f"each input needs its own column")
            twice = [c for c in dict.fromkeys([*columns, *(k for k, _ in where)]) if header.count(c) > 1]
            if twice:  # a row would silently keep the last one
                raise CliError(f"{path}: the header names column(s) {', '.join(map(repr, twice))} more than once")
            out: dict[str, list[float]] = {c: [] for c in columns}
            if kept_cells is not None:
                kept_cells.update(header=header, rows=[])
            lines: list[int] = []
            seen_rows = 0
            ranges = dict(ranges or {})
            spans = {c: [math.inf, -math.inf] for c in ranges}  # the range columns' values left out
            left_out = 0
            hit = [False] * len(where)
            values: dict[str, set[str]] = {k: set() for k, _ in where}
            last = None  # (line, fields, named columns it lacks) of the last row
            for cells in reader:
                if not cells:  # a blank line
                    continue
                line = reader.line_num  # the file's line, blank lines and quoted newlines counted
                if len(cells) > len(header) and not any(cells[len(header):]):
                    cells = cells[:len(header)]  # only empty cells past the header: each row's trailing comma
                if len(cells) > len(header):  # more cells than the header: "1,024" split into two, say
                    raise CliError(f"{path}: line {line} has {len(cells)} fields, the header {len(header)}; "
                                   f"quote a cell that contains a comma")
                row = dict(zip(header, cells))  # (a short row lacks its last columns)
                # (the named columns it lacks: an unnamed one, a header's trailing comma, is no loss)
                last = (line, len(cells), [c for c in header[len(cells):] if c])
                seen_rows += 1
                for i, (k, v) in enumerate(where):  # (for the message if nothing matches: each filter's hits)
                    if k in row:
                        hit[i] = hit[i] or _matches(row[k], v)
                        if len(values[k]) <= 20:
                            values[k].add(row[k])
                if not all(k in row and _matches(row[k], v) for k, v in where):
                    continue  # (a row without a filter's column does not match it: a trailer line, say)
                # the range's columns first: a row outside the range is left out before its other cells are read
                # (a diverged model's NaN there, an empty cell); a NaN in a range's column is not outside it, and is
                # refused below as any non-finite value is
                parsed = {}
                first = [*ranges, *(c for c in texts if c not in ranges)]  # (texts: cannot fail to parse)
                for group in (first, [c for c in columns if c not in first]):
                    lacking = [c for c in group if c not in row]
                    if lacking:  # only a column the fit reads matters here (optional last columns left off)
                        raise CliError(_short_row(path, line, len(cells), len(header), lacking[0]))
                    for c in group:
                        parsed[c] = _parse_cell(path, line, c, row[c], "label" if c in labels else
                                                "text" if c in texts else "number")
                    if any(parsed[c] < lo or parsed[c] > hi for c, (lo, hi) in ranges.items() if c in group):
                        break  # (outside the fit's range)
                else:
                    for c in columns:
                        out[c].append(parsed[c])
                    lines.append(line)
                    if kept_cells is not None:
                        kept_cells["rows"].append(row)
                    continue
                left_out += 1
                if left_out_texts is not None:
                    left_out_texts.append({c: parsed[c] for c in texts})
                for c in ranges:  # (for the message if no row is left: the values seen)
                    spans[c] = [min(spans[c][0], parsed[c]), max(spans[c][1], parsed[c])]
            if last is not None and last[2] and not _ends_a_line(fh):
                # a short last row with no line end: a file still being written, cut mid-row (its last
                # cell maybe cut too: 64,0.09 of 64,0.0931,-1), had been fitted or, under --where, left out
                raise CliError(_short_row(path, last[0], last[1], len(header), last[2][0], cut=True))
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except OSError as err:  # a folder, no permission, ...
        raise CliError(f"{path}: cannot be read ({err.strerror or err})") from None
    except (csv.Error, UnicodeDecodeError) as err:
        raise CliError(f"{path}: not a readable CSV file ({err})") from None
    if not seen_rows:
        raise CliError(f"{path}: header but no data rows")
    if not out[columns[0]] and left_out:
        seen = [f"{c} runs from {lo:g} to {hi:g}" for c, (lo, hi) in spans.items() if lo <= hi]  # (not all NaN)
        raise CliError(f"{path}: none of the {left_out} rows" + (" that --where keeps" if where else "") + " has "
                       + " and ".join(f"{c} in [{lo:g}, {hi:g}]" for c, (lo, hi) in ranges.items())
                       + (f"; their {', '.join(seen)}" if seen else ""))
    if not out[columns[0]]:
        missed = list(dict.fromkeys(k for (k, _), h in zip(where, hit) if not h))
        hint = ("; " + "; ".join(f"{k} is one of {_listing(values[k])}" for k in missed) if missed
                else " (each filter matches some rows, but no row all of them)")
        raise CliError(f"{path}: none of its {seen_rows} rows has " + " and ".join(f"{k}={v}" for k, v in where)
                       + hint)
    data = {c: np.asarray(v, dtype=object if c in labels or c in texts else np.float64) for c, v in out.items()}
    if positive:
        for c, v in data.items():
            if c not in labels and c not in texts:
                _check_positive_column(path, c, v, lines, header, where)
    return data


def _parse_cell(path: str, line: int, column: str, cell: str, kind: str) -> float | str:
    """A CSV cell of a column the fit reads, as its ``kind`` says: a "number", a "label" (its
    text, not empty) or a "text" (empty or not)."""
    if kind == "text":  # (as written, as --where compares it)
        return cell
    if kind == "label":
        if not cell.strip():
            raise CliError(f"{path}: line {line}, column {column!r}: an empty cell; each row needs its label")
        return cell.strip()
    try:
        return float(cell)
    except ValueError:
        raise CliError(f"{path}: line {line}, column {column!r}: cannot parse {cell!r} as a number") from None


def _short_row(path: str, line: int, fields: int, header: int, column: str, cut: bool = False) -> str:
    """The message on a row with fewer fields than the header, ``column`` the first it lacks."""
    return (f"{path}: line {line} has {fields} field{'s' * (fields != 1)}, the header {header}, so no {column!r}; "
            f"is a cell missing? (an empty cell still takes its comma: 1,,3)"
            + ("; or is the file truncated (still being written: its last line has no line end)?" if cut else ""))


def _ends_a_line(fh) -> bool:
    """Whether the open file ``fh`` (read to its end) ends with a line end; True for a pipe, which
    cannot be asked (and which, read to its end, was not cut by a writer still at work)."""
    if not fh.buffer.seekable():  # (its seek had failed: "cannot be read (File or stream is not seekable.)")
        return True
    fh.buffer.seek(0, os.SEEK_END)
    if fh.buffer.tell() == 0:
        return True
    fh.buffer.seek(-1, os.SEEK_END)
    return fh.buffer.read(1) in (b"\n", b"\r")


def _check_positive_column(path: str, column: str, values: np.ndarray, lines: list[int], header: list[str],
                           where: Sequence[tuple[str, str]]) -> None:
    """A CliError naming the CSV lines unless every value of ``column`` is finite and > 0 (a
    fit's own message would give an index among the rows kept, under the fit's argument name)."""
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fix = ("leave those rows out (--where COLUMN=VALUE keeps the rows that match; the power-law fits' --x-min "
               "and --x-max, a range of x) or fix them")
        if "diverged" in header and "diverged" not in (k for k, _ in where):
            fix = ("a diverged model has a NaN loss: add --where diverged=0 to keep the others (or export "
                   "with --drop-diverged)")
        raise CliError(f"{path}: column {column!r} has {int(bad.sum())} non-finite value(s) (first on line "
                       f"{lines[i]}: {values[i]}); a fit needs finite numbers: {fix}")
    bad = values <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        hint = ""
        if "diverged" in header and "diverged" not in (k for k, _ in where):  # (n_represented of one is 0)
            hint = "; if those are diverged models (whose counts are 0), add --where diverged=0 to keep the others"
        raise CliError(f"{path}: column {column!r} has {int(bad.sum())} non-positive value(s) (first on line "
                       f"{lines[i]}: {values[i]:g}); all values must be > 0 because the fit works in log space"
                       + hint)


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

    _check_bootstrap_option(args)
    cols = [args.N, args.loss] + ([args.D] if args.D else [args.C])
    # (positive: checked as read, so that --drop-top cannot take a NaN loss for the highest and drop it quietly,
    # and a bad C is blamed on its column, not on D derived from it)
    data = read_csv_columns(args.file, cols, args.where, positive=True)
    N, L = data[args.N], data[args.loss]
    D = data[args.D] if args.D else data[args.C] / (6.0 * N)
    notes = []
    if args.drop_top:
        if args.drop_top >= len(L):
            raise CliError(f"--drop-top {args.drop_top}: only {len(L)} rows")
        keep = np.argsort(L, kind="stable")[: len(L) - args.drop_top]
        keep.sort()
        notes.append(f"dropped the {args.drop_top} highest-loss row(s) (--drop-top)")
        N, D, L = N[keep], D[keep], L[keep]
    scale = fitting.grid_loss_scale(L)  # (losses far from order 1: the published grid shifted to their unit)
    starts = fitting.chinchilla_grid(thin=args.grid_stride, loss_scale=scale)
    if scale != 1.0:
        notes.append(fitting._grid_shift_note(scale))
    fit = fitting.fit_chinchilla(N, D, L, method=args.method, delta=args.delta, bootstrap=args.bootstrap,
                                 seed=args.seed, starts=starts)
    allocation = None
    if fit.identifiable and fit.alpha > 0 and fit.beta > 0:
        try:  # (the budgets: had been 1e21, 1e23 and 1e25 whatever the data, 12 decades past a toy sweep)
            if args.budgets:
                budgets = np.asarray(args.budgets)
            else:  # (where C = 6 N D overflows, an inf budget had reached compute_optimal as a "C" never given)
                C = fitting._flops(N, D)
                budgets = np.geomspace(C.min(), C.max(), 3)
            allocation = fit.compute_optimal(budgets)
            if args.budgets:
                notes.extend(_budget_notes(budgets, N, D))
        except ValueError as e:  # (past float64's range: the fit is still shown, its allocation left out)
            notes.append(f"no compute-optimal allocation: {e}")
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


def _budget_notes(budgets: np.ndarray, N: np.ndarray, D: np.ndarray) -> list[str]:
    """A note for each --budgets value more than a decade outside the fitted rows' C = 6 N D
    (an allocation read off the fit far past its data: an extrapolation, which had passed
    silently), saying how many decades."""
    with np.errstate(over="ignore"):
        C = 6.0 * N * D
    C = C[np.isfinite(C)]
    if not C.size:  # (every 6 N D overflows: no range to compare with)
        return []
    lo, hi = float(C.min()), float(C.max())
    notes = []
    for b in budgets:
        if b > 10 * hi or b < lo / 10:
            above = b > hi
            notes.append(f"budget C = {b:g} is {abs(math.log10(b / (hi if above else lo))):.1f} decades "
                         f"{'above the largest' if above else 'below the smallest'} C = 6ND of the fitted rows "
                         f"({hi if above else lo:g}; they span {lo:g} to {hi:g}): its N_opt and D_opt extrapolate "
                         f"the fit that far")
    return notes


def _read_rows(args, left_out: list | None = None, kept_cells: dict | None = None) -> dict:
    """The --x and --y columns (and the --paired-by labels and --by cells, where given) of the
    rows --where and --x-min/--x-max keep (``left_out`` gets the --by cells of those the range
    leaves out; ``kept_cells``, the header and every cell of the rows kept)."""
    paired = getattr(args, "paired_by", None) is not None
    for column in args.by:
        if args.by.count(column) > 1:
            raise CliError(f"--by {column} given twice; give each column once")
        if column in (args.x, args.y) or (paired and column == args.paired_by):
            raise CliError(f"--by {column} is also --x, --y or --paired-by; --by names a column that tells the "
                           f"curves apart (gamma, frequencies.kind, ...)")
    cols = [args.x, args.y] + ([args.paired_by] if paired else []) + list(args.by)
    return read_csv_columns(args.file, cols, args.where, positive=True, labels=[args.paired_by] if paired else [],
                            texts=args.by, ranges=_x_range(args), left_out_texts=left_out, kept_cells=kept_cells)


def _seed_column(args, header: Sequence[str]) -> str | None:
    """The column of the runs' seeds: --paired-by's, else in a toyscale export (its header
    starts model_id, diverged) the point's ``seed``, else None (a CSV of one's own may have a
    column named seed that is not the replicate: a constant one beside a "run" column)."""
    if getattr(args, "paired_by", None) is not None:
        return args.paired_by
    export = list(header[:2]) == ["model_id", "diverged"]
    return "seed" if export and "seed" in header and "seed" not in (args.x, args.y) else None


def _repeated_label(x: np.ndarray, labels: np.ndarray) -> tuple[float, str, np.ndarray] | None:
    """The first x (ascending) at which one label (a seed; None: unknown, never repeated) is in
    more than one row: (that x, the label most repeated there, the mask of its rows); None where
    every x holds each label once."""
    xs, which = np.unique(x, return_inverse=True)
    known = np.array([v is not None for v in labels], dtype=bool)
    for i, value in enumerate(xs):
        at = (which == i) & known
        seen, counts = np.unique(labels[at].astype(str), return_counts=True)
        if counts.size and counts.max() > 1:
            label = seen[int(np.argmax(counts))]
            return float(value), str(label), at & (labels.astype(str) == label)
    return None


def _point_columns(header: Sequence[str], seed: str) -> list[str]:
    """The columns of ``header`` that may be the runs' point fields (gamma, frequencies.kind,
    ...) rather than their outputs. Export writes model_id, diverged, the point's fields (the
    seed among them), then its scalar outputs, sorted: of such a header, the columns before the
    sorted run that ends it, past the seed column (a field that sorts into the outputs is left
    out, as they cannot be told apart); of any other header, every column."""
    header = list(header)
    if header[:2] != ["model_id", "diverged"] or seed not in header:
        return header
    first, end = header.index(seed) + 1, len(header) - 1  # (the last column is an output's)
    while end > first and header[end - 1] < header[end]:
        end -= 1
    return header[2:end]


def _check_one_curve(args, x: np.ndarray, cells: dict, group: str = "") -> None:
    """A CliError where the seed column (:func:`_seed_column`) repeats a seed at one --x among
    these rows (``cells``: :func:`read_csv_columns`'s ``kept_cells``, the rows of ``x``, of one
    --by group, headed ``group``): they are then several curves (an export of a sweep's every
    gamma, say), which a fit would pool as one curve's seeds. It names the point fields
    (:func:`_point_columns`) that vary among those rows, for --by or --where."""
    seed = _seed_column(args, cells["header"])
    if seed is None:
        return
    labels = np.empty(len(cells["rows"]), dtype=object)
    labels[:] = [(row.get(seed) or "").strip() or None for row in cells["rows"]]  # (an empty cell: unknown)
    found = _repeated_label(x, labels)
    if found is None:
        return
    value, label, mask = found
    k = int(mask.sum())
    rows = [row for row, m in zip(cells["rows"], mask) if m]
    skip = {args.x, args.y, seed, "model_id", "diverged", *args.by}
    vary = [c for c in _point_columns(cells["header"], seed) if c and c not in skip
            and len({_group_key(row.get(c, "")) for row in rows}) > 1]
    where = ("standard input" if args.file == "-" else args.file) + (f": {group}" if group else "")
    paired = f"--paired-by {seed}: " if getattr(args, "paired_by", None) is not None else ""
    head = (f"{where}: {paired}{args.x} = {value:g} has {seed} {label} in {k} rows, so the rows mix {k} curves (the "
            f"same seed repeated), which the fit would pool as if they were one curve's seeds")
    if vary:
        raise CliError(f"{head}; those rows vary in {', '.join(vary)}: fit one curve at a time, with --by COLUMN "
                       f"(repeatable: one fit per combination of the columns that tell the curves apart) or "
                       f"--where COLUMN=VALUE")
    later = [c for c in cells["header"] if c and c not in skip and c not in vary
             and len({_group_key(row.get(c, "")) for row in rows}) > 1]
    if later:  # (a field that sorts after the seed, "steps" say, cannot be told from an output by the header)
        raise CliError(f"{head}; no point field before the outputs tells those rows apart, but they vary in "
                       f"{', '.join(later)} (a point field among them, sorted after the seed, is one to pass to "
                       f"--by COLUMN or --where COLUMN=VALUE)")
    raise CliError(f"{head}; no column but the outputs tells those rows apart (two sweeps' rows pooled, or one "
                   f"written twice?): keep one sweep's rows with --where COLUMN=VALUE")


def _means_by_x(args, data: dict) -> dict:
    """``data``'s rows as one row per distinct --x (sorted) holding the arithmetic mean of its --y."""
    xs, where = np.unique(data[args.x], return_inverse=True)
    return {args.x: xs, args.y: np.bincount(where, data[args.y]) / np.bincount(where)}


def _x_range(args) -> dict[str, tuple[float, float]]:
    """``{--x: (--x-min, --x-max)}`` for :func:`read_csv_columns` (an end not given: no bound;
    {} for neither), refused before the file is read where the ends cross."""
    if args.x_min is None and args.x_max is None:
        return {}
    lo, hi = (-math.inf if args.x_min is None else args.x_min), (math.inf if args.x_max is None else args.x_max)
    if lo > hi:
        raise CliError(f"--x-min {lo:g} is above --x-max {hi:g}; the fit keeps the rows with {lo:g} <= {args.x} <= "
                       f"{hi:g}: give --x-min <= --x-max")
    return {args.x: (lo, hi)}


def _cmd_fit_power_law(args) -> int:
    if args.cut is not None and args.bootstrap:
        raise CliError("--cut and --bootstrap cannot be combined (the held-out fit has no bootstrap)")
    delta = _huber_delta_option(args)
    _check_bootstrap_option(args)
    redraw = _check_seed_options(args)
    return _fit_each_group(args, lambda rows: _power_law_of_rows(args, rows, delta, redraw))


def _power_law_of_rows(args, rows: dict, delta: dict, redraw: bool) -> tuple[Any, dict, str]:
    """``fit power-law`` of these rows: (the fit, its JSON dict, its text)."""
    from toyscale import fitting
    from toyscale.scaling import NotTestableError, lack_of_fit, width_exponent

    curve = _runs_by_x(args, rows) if redraw or args.lack_of_fit else None  # (each x's runs: its seeds)
    paired = args.paired_by is not None
    ex = None
    if redraw:
        # (a check's ValueError, too few x say, is reported by main(); any other keeps its traceback)
        fit = _in_flag_terms(args, rows, lambda: width_exponent(
            curve, seed_bootstrap=args.seed_bootstrap, seed=args.seed, paired=paired, widen=args.widen, axis=args.x))
    else:
        data = _means_by_x(args, rows) if args.mean else rows
        if args.cut is not None:
            ex = _in_flag_terms(args, data, lambda: fitting.extrapolation_error(
                data[args.x], data[args.y], cut=args.cut, offset=args.offset, loss=args.loss_fn, **delta))
            fit = ex.fit
        else:
            fit = _in_flag_terms(args, data, lambda: fitting.fit_power_law(
                data[args.x], data[args.y], offset=args.offset, loss=args.loss_fn, bootstrap=args.bootstrap,
                seed=args.seed, **delta))
    test = None
    if args.lack_of_fit:  # (before anything is printed: an untestable file is an error, not half an answer)
        try:
            test = lack_of_fit(curve, fit, paired=paired, axis=args.x)
        except NotTestableError as err:
            raise CliError(f"--lack-of-fit{f' --paired-by {args.paired_by}' if paired else ''}: {err}") from None
    d = fit.to_dict()
    names = ("exponent", "prefactor") + (("offset",) if fit.fit_offset else ())
    d["t_interval"] = {name: list(fit.t_interval(name)) for name in names}  # (nan -> null)
    if ex is not None:
        d["extrapolation"] = {k: getattr(ex, k) for k in (
            "cut", "n_train", "n_test", "mean_rel_error", "max_rel_error", "mean_log_error", "max_log_error",
            "rmse_log")}
    if redraw:
        d["n_runs"] = [int(np.size(v)) for v in curve.values]
    if test is not None:
        d["lack_of_fit"] = dataclasses.asdict(test)
    return fit, d, str(fit if ex is None else ex) + (f"\n  {test}" if test is not None else "")


def _in_flag_terms(args, data: dict, fit: Callable[[], Any]) -> Any:
    """``fit()`` (a power-law fit of ``data``'s --x and --y), its ValueErrors that name the
    Python API's arguments restated in the command's terms (:func:`_restated`); any other as
    raised."""
    try:
        return fit()
    except ValueError as err:
        restated = _restated(args, str(err), data[args.x], data[args.y])
        if restated is None:
            raise
        raise restated from None


def _restated(args, message: str, x: np.ndarray, y: np.ndarray) -> CliError | None:
    """A fitting message in the command's terms, or None where it needs none: ``cut=`` as
    --cut, and x as the --x column; a prefactor beyond float64 blamed on the axis far from 1
    (the fit's message names x, whose rescaling is no help where y is 1e-320 or 1e300)."""
    cut = re.fullmatch(r"cut=\S+ leaves (\d+) point\(s\) with x <= cut and (\d+) above; (.+) needs at least (\d+) "
                       r"below and 1 above \(x ranges over (\[.*\])\)", message)
    if cut:
        below, above, what, least, span = cut.groups()
        return CliError(f"--cut {args.cut:g} leaves {below} point(s) with {args.x} <= {args.cut:g} and {above} above; "
                        f"{what} needs at least {least} below and 1 above ({args.x} ranges over {span})")
    beyond = re.fullmatch(r"(the fitted prefactor .+ is beyond float64 \(.+\)): x spans .+", message)
    if beyond:
        def decades(v: np.ndarray) -> float:  # (how far from 1 the axis reaches)
            return float(np.max(np.abs(np.log10(v))))
        axis = args.y if decades(y) > decades(x) else args.x
        return CliError(f"{beyond.group(1)}: {args.x} spans [{x.min():.3g}, {x.max():.3g}] and {args.y} "
                        f"[{y.min():.3g}, {y.max():.3g}]; rescale {axis} (divide it by a typical "
                        f"{'value' if axis == args.y else 'size'}), fit again")
    return None


def _fit_each_group(args, fit_rows: Callable[[dict], tuple[Any, dict, str]]) -> int:
    """Print ``fit_rows(rows)`` (a fit, its JSON dict, its text) of the rows :func:`_read_rows`
    keeps, or with --by one fit per distinct combination of the --by cells, each headed by its
    values. Cells are grouped as --where matches them: numbers by value ("1" and "1.0" alike),
    other text as written; the groups come numbers first, by value, then NaN, text, empty. A
    group the fit refuses (too few points, say, or none left in --x-min/--x-max) is printed as
    not fitted, with why, and the others still are. The groups' lack-of-fit tests
    (--lack-of-fit) are Holm-adjusted as a family (each gains p_holm; one line under them).
    Returns the exit status: 0, 1 where a fit is not identifiable, 2 where a group was not fitted."""
    from toyscale.scaling import holm_family_text

    left_out: list[dict[str, str]] = []
    every: dict = {}  # (the header and each kept row's every cell)
    rows = _read_rows(args, left_out, every)
    if not args.by:
        _check_one_curve(args, rows[args.x], every)
        fit, d, text = fit_rows(rows)
        print(json.dumps(_jsonable(d), indent=2) if args.json else text)
        return _fit_status(fit.identifiable)
    keys = [tuple(_group_key(v) for v in cells) for cells in zip(*(rows[c] for c in args.by))]
    spelled: dict[tuple, tuple] = {}  # each group's cells as first written
    for key, cells in zip(keys, zip(*(rows[c] for c in args.by))):
        spelled.setdefault(key, cells)
    outside: dict[tuple, int] = {}  # the groups' rows that --x-min/--x-max left out
    for cells in left_out:
        key = tuple(_group_key(cells[c]) for c in args.by)
        spelled.setdefault(key, tuple(cells[c] for c in args.by))
        outside[key] = outside.get(key, 0) + 1
    kept = {key: np.array([k == key for k in keys], dtype=bool) for key in sorted(spelled)}
    heads = {key: ", ".join(f"{c}={v if v else '(empty)'}" for c, v in zip(args.by, spelled[key])) for key in kept}
    for key, keep in kept.items():  # (before any fit: a group of several curves is the command's fault, not its data's)
        _check_one_curve(args, rows[args.x][keep], {**every, "rows": [r for r, k in zip(every["rows"], keep) if k]},
                         f"--by {heads[key]}")
    shown, status, failed, unidentified, tests = [], 0, 0, 0, {}
    for key, keep in kept.items():
        by = dict(zip(args.by, spelled[key]))
        head = heads[key]
        n = int(keep.sum())
        try:
            if not n:
                lo, hi = _x_range(args)[args.x]
                raise CliError(f"none of its {outside[key]} rows has {args.x} in [{lo:g}, {hi:g}]")
            fit, d, text = fit_rows({c: v[keep] for c, v in rows.items() if c not in args.by})
        except (CliError, ValueError, TypeError) as err:
            if not isinstance(err, CliError) and not _raised_by_a_check(err):
                raise  # (a bug's: its traceback)
            shown.append(({"by": by, "rows": n, "error": str(err)}, f"== {head} ({n} rows): not fitted: {err}"))
            status, failed = 2, failed + 1
            continue
        if not fit.identifiable:
            status, unidentified = max(status, 1), unidentified + 1
        label = head
        if label in tests:  # (a cell spelled "(empty)"): the cells as JSON strings, distinct for distinct groups
            label = ", ".join(f"{c}={json.dumps(v)}" for c, v in by.items())
        while label in tests:  # (and a cell spelled with those quotes even)
            label += f" (group {len(shown) + 1})"
        tests[label] = d.get("lack_of_fit")  # (the dict JSON prints: holm_family_text adds its p_holm)
        shown.append(({"by": by, "rows": n, **d}, f"== {head} ({n} rows)\n{text}"))
    family = holm_family_text(tests, ("group", "groups"))
    print(json.dumps(_jsonable({"groups": [d for d, _ in shown]}), indent=2) if args.json else
          "\n".join([text for _, text in shown] + ([family] if family else [])))
    problems = ([f"{failed} of {len(shown)} groups not fitted (see their lines)"] if failed else []) + (
        [f"{unidentified} NOT IDENTIFIABLE from these data (see their notes)"] if unidentified else [])
    if problems:
        print(f"toyscale: {'; '.join(problems)}; exit status {status}", file=sys.stderr)
    return status


def _group_key(cell: str) -> tuple:
    """A --by cell's group, and its place in their order (:func:`value_order` of the value it
    shows): a number by value, as --where matches it, then NaN, text as written, empty."""
    return value_order(_cell(cell))


def _check_seed_options(args) -> bool:
    """Whether ``fit power-law`` redraws seeds (--seed-bootstrap); before the file is read, the
    options it and --lack-of-fit cannot take, or --widen and --paired-by cannot without them,
    refused by their flags' names."""
    from toyscale.fitting import _too_few_resamples

    if args.lack_of_fit:
        if not args.mean:
            raise CliError("--lack-of-fit without --mean; it sets each x's mean against its rows' spread (its "
                           "seeds): give --mean")
        for flag, given in (("--offset", args.offset), ("--loss-fn huber", args.loss_fn != "squared"),
                            ("--cut", args.cut is not None)):
            if given:
                raise CliError(f"--lack-of-fit with {flag}; it tests the closed-form line of the means over every "
                               f"x fitted (no --offset, --loss-fn squared, no --cut; --x-min and --x-max set a range)")
    if not args.seed_bootstrap:
        if args.widen != "sqrt":
            raise CliError("--widen t without a seed bootstrap; it says how the seed bootstrap widens: give "
                           "--seed-bootstrap R too (R >= 40; 0, the default, is none)")
        if args.paired_by is not None and not args.lack_of_fit:
            raise CliError(f"--paired-by {args.paired_by} without a seed bootstrap or --lack-of-fit; it says how "
                           f"they treat the runs' seeds: give --seed-bootstrap R (R >= 40) or --lack-of-fit too")
    else:
        why = _too_few_resamples(args.seed_bootstrap, 0.95)
        if why:
            raise CliError(f"--seed-bootstrap {args.seed_bootstrap}: {why}")
        if not args.mean:
            raise CliError("--seed-bootstrap without --mean; it redraws each x's rows and refits their means: give "
                           "--mean")
        for flag, given in (("--bootstrap", args.bootstrap), ("--cut", args.cut is not None),
                            ("--offset", args.offset), ("--loss-fn huber", args.loss_fn != "squared")):
            if given:
                raise CliError(f"--seed-bootstrap with {flag}; the seed bootstrap refits the closed-form fit of the "
                               f"means (no --offset, --loss-fn squared) and is its own resampling (no --bootstrap or "
                               f"--cut)")
    if args.paired_by is not None and args.paired_by in (args.x, args.y):
        raise CliError(f"--paired-by {args.paired_by} is also --x or --y; give the column of the runs' seeds")
    if args.paired_by is not None and args.paired_by in (k for k, _ in args.where):
        raise CliError(f"--paired-by {args.paired_by} is also a --where column, which leaves one seed at each x: "
                       f"nothing to redraw or pair")
    return bool(args.seed_bootstrap)


def _runs_by_x(args, rows: dict):
    """The rows as a :class:`toyscale.scaling.WidthCurve`: each distinct --x's --y values (its
    runs), and with --paired-by their labels, each once per x."""
    from toyscale.scaling import WidthCurve

    xs, which = np.unique(rows[args.x], return_inverse=True)
    values = [rows[args.y][which == i] for i in range(xs.size)]
    # (each x holds each seed once: _fit_each_group's _check_one_curve refused the rows otherwise)
    seeds = [rows[args.paired_by][which == i].astype(str) for i in range(xs.size)] if args.paired_by else None
    return WidthCurve.from_values(xs, values, seeds=seeds)


def _cmd_fit_broken_power_law(args) -> int:
    from toyscale import fitting

    delta = _huber_delta_option(args)
    _check_bootstrap_option(args)

    def fit_rows(rows: dict) -> tuple[Any, dict, str]:
        data = _means_by_x(args, rows) if args.mean else rows
        fit = _in_flag_terms(args, data, lambda: fitting.fit_broken_power_law(
            data[args.x], data[args.y], breaks=args.breaks, offset=args.offset, loss=args.loss_fn,
            bootstrap=args.bootstrap, seed=args.seed, **delta))
        return fit, fit.to_dict(), str(fit)

    return _fit_each_group(args, fit_rows)


def _cmd_fit_allocation(args) -> int:
    from toyscale import fitting

    _check_bootstrap_option(args)
    cols = [args.N, args.loss] + ([args.D] if args.D else [args.C])
    data = read_csv_columns(args.file, cols, args.where, positive=True)
    budget = dict(D=data[args.D]) if args.D else dict(C=data[args.C])
    bins = args.bins
    if bins is not None:
        bins = bins[0] if len(bins) == 1 else np.asarray(bins, dtype=np.float64)
        if isinstance(bins, float):
            if not bins.is_integer():
                raise CliError(f"--bins {bins:g}: give an integer number of bins or at least 3 bin edges")
            bins = int(bins)
        elif bins.size < 3 or np.any(np.diff(bins) <= 0):  # (fit_frontier's message named its own argument, bins)
            given = " ".join(f"{b:g}" for b in bins)
            if bins.size < 3:
                raise CliError(f"--bins {given}: {bins.size} edges make {bins.size - 1} bin; give at least 3 bin "
                               f"edges, or one integer, a number of bins")
            i = int(np.flatnonzero(np.diff(bins) <= 0)[0])
            raise CliError(f"--bins {given}: the bin edges are not strictly ascending ({bins[i]:g} then "
                           f"{bins[i + 1]:g}); give them from the smallest budget up")
    fn = fitting.fit_frontier if args.KIND == "frontier" else fitting.fit_isoflop
    fit = fn(data[args.N], data[args.loss], bins=bins, bracketed=args.bracketed, bootstrap=args.bootstrap,
             seed=args.seed, **budget)
    print(json.dumps(_jsonable(fit.to_dict()), indent=2) if args.json else fit)
    return 0  # (a least-squares line through distinct budgets: always determined)


def _check_bootstrap_option(args) -> None:
    """Before the file is read: a --bootstrap count too small for the 95 % percentile intervals
    the fits print (1 gave a zero-width interval away from the estimate)."""
    from toyscale.fitting import _too_few_resamples

    why = _too_few_resamples(args.bootstrap, 0.95)
    if why:
        raise CliError(f"--bootstrap {args.bootstrap}: {why}")


def _huber_delta_option(args) -> dict:
    """``huber_delta`` for the power-law fits: {} unless --huber-delta was given, which needs --loss-fn huber."""
    if args.huber_delta is None:
        return {}
    if args.loss_fn != "huber":
        raise CliError(f"--huber-delta {args.huber_delta:g} applies to --loss-fn huber only (the fit's loss is "
                       f"{args.loss_fn})")
    return {"huber_delta": args.huber_delta}


def _fit_status(identifiable: bool) -> int:
    """Exit status of a fit command that printed its fit: 0, or 1 (with a line on standard
    error) when the data do not determine the parameters, so that a script does not take a
    printed but undetermined fit for a good one."""
    if identifiable:
        return 0
    print("toyscale: fit printed, but it is NOT IDENTIFIABLE from these data (see its notes); exit status 1",
          file=sys.stderr)
    return 1


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high] (argparse's message then names the flag);
    the benchmarks' scripts take their counts with it too."""
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not an integer") from None
        if v < low or (high is not None and v > high):
            raise argparse.ArgumentTypeError(f"{v} must be >= {low}" if high is None else
                                             f"{v} must be an integer in [{low}, {high}]")
        return v
    return parse


_nonneg_int = int_in(0)


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
    p.add_argument("file", help="CSV file with a header row (- for standard input)")
    _add_where(p, "rows")
    p.add_argument("--N", required=True, help="column of parameter counts")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--D", help=d_help)
    g.add_argument("--C", help=c_help)
    p.add_argument("--loss", required=True, help="column of final losses")


def _add_xy_columns(p: argparse.ArgumentParser, offset_help: str) -> None:
    """FILE, --x, --y, --offset, --loss-fn and --where of the power-law fits."""
    p.add_argument("file", help="CSV file with a header row (- for standard input)")
    _add_where(p, "rows")
    p.add_argument("--x", required=True, help="column of sizes")
    p.add_argument("--y", required=True, help="column of losses")
    p.add_argument("--offset", action="store_true", help=offset_help)
    p.add_argument("--loss-fn", choices=("squared", "huber"), default="squared", help="fitting loss")
    p.add_argument("--mean", action="store_true",
                   help="fit the mean y of each distinct x (a width's seeds, say) instead of every row, as the "
                        "experiment scripts do: rows that share an x share its departure from the line")
    p.add_argument("--by", action="append", default=[], metavar="COLUMN",
                   help="one fit per distinct value of this column (gamma, frequencies.kind, ...: one export, every "
                        "curve); repeatable, for one fit per combination")
    p.add_argument("--x-min", type=_positive_float, default=None, metavar="X",
                   help="fit only the rows with x >= X (the experiment scripts' fit range; default: no bound)")
    p.add_argument("--x-max", type=_positive_float, default=None, metavar="X",
                   help="fit only the rows with x <= X (default: no bound)")
    p.add_argument("--huber-delta", type=_positive_float, default=None, metavar="DELTA",
                   help="threshold of the Huber loss on log-residuals, with --loss-fn huber (default: 1e-3, as "
                        "Hoffmann et al. 2022; a larger one puts more residuals on its quadratic branch)")


def register_fit(subparsers) -> None:
    """Add ``fit chinchilla``, ``fit power-law``, ``fit broken-power-law``, ``fit frontier`` and ``fit isoflop``."""
    fit = subparsers.add_parser("fit", help="fit scaling laws to a CSV of runs")
    # (dest KIND: the error names it, and the usage line still lists the kinds; it had named "fit_kind")
    sub = fit.add_subparsers(dest="KIND", required=True)

    ch = sub.add_parser("chinchilla", help="L(N, D) = E + A/N^alpha + B/D^beta (Chinchilla approach 3)")
    _add_run_columns(ch, "column of training tokens", "column of training FLOPs (D = C / (6 N))")
    ch.add_argument("--drop-top", type=_nonneg_int, default=0, metavar="K", help="drop the K highest-loss rows")
    ch.add_argument("--method", choices=("huber", "mle"), default="huber",
                    help="huber: the published Huber loss on log L; mle: Huber likelihood with a fitted scale, "
                         "which also reports sigma (default: huber)")
    ch.add_argument("--delta", type=_positive_float, default=None, metavar="DELTA",
                    help="Huber threshold (default: 1e-3 on log-residuals for --method huber, as published; 1.0 "
                         "on standardised residuals for --method mle)")
    ch.add_argument("--grid-stride", type=int_in(1), default=1, metavar="K",
                    help="use 1/K of the published 4,500-start grid (a fixed spread of ceil(4500/K) starts over "
                         "it; faster, less thorough)")
    ch.add_argument("--budgets", type=_positive_float, nargs="+", default=None, metavar="C",
                    help="compute budgets (FLOPs, C = 6 N D) at which to print the compute-optimal N and D "
                         "(default: the smallest, geometric middle and largest C of the fitted rows)")
    _add_bootstrap_seed_json(ch, "the runs")
    ch.set_defaults(func=_cmd_fit_chinchilla)

    pl = sub.add_parser("power-law", help="y = C x^-a (+ y_inf)")
    _add_xy_columns(pl, "also fit the irreducible term y_inf")
    pl.add_argument("--cut", type=_positive_float, default=None, metavar="X",
                    help="held-out extrapolation: fit on x <= X, report the error on x > X")
    pl.add_argument("--seed-bootstrap", type=_nonneg_int, default=0, metavar="R",
                    help="with --mean: redraw each x's rows (its seeds) R times and refit, for 95%% intervals over "
                         "redrawn seeds, as the experiment scripts print (toyscale.scaling.width_exponent's "
                         "seed_bootstrap; at least 40, 1000 as the scripts)")
    pl.add_argument("--widen", choices=("sqrt", "t"), default="sqrt",
                    help="with --seed-bootstrap: widen each x's redrawn spread by sqrt(k / (k - 1)) only (sqrt, the "
                         "default), or also by Student's t on the Welch-Satterthwaite degrees of freedom (t; with "
                         "--paired-by, on the k shared seeds' k - 1; width_exponent's widen)")
    pl.add_argument("--paired-by", default=None, metavar="COLUMN",
                    help="with --seed-bootstrap: redraw one set of this column's labels (seeds, compared as "
                         "written) for every x, where the runs share their draws across x (width_exponent's paired); "
                         "with --lack-of-fit: take the noise from these seeds' covariance across x (lack_of_fit's "
                         "paired)")
    pl.add_argument("--lack-of-fit", action="store_true",
                    help="with --mean: also test whether the means bend away from the fitted line by more than "
                         "each x's rows (its seeds) spread (toyscale.scaling.lack_of_fit: the residuals over "
                         "their seed noise, an F test's p-value; each x needs two or more rows, and three x)")
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
        al.add_argument("--bracketed", action="store_true",
                        help="drop budgets whose optimum is not bracketed by their runs' N " + (
                            "(lowest-loss run at the smallest or largest N)" if kind == "frontier" else
                            "(parabola minimum outside the N range)"))
        _add_bootstrap_seed_json(al, "the runs" if kind == "frontier" else
                                 "the losses by their residuals within each budget (the runs fixed)")
        al.set_defaults(func=_cmd_fit_allocation)


def _add_bootstrap_seed_json(p, what: str) -> None:
    """The options every fit takes: bootstrap resamples of ``what``, their seed, and JSON output."""
    p.add_argument("--bootstrap", type=_nonneg_int, default=0, metavar="R",
                   help=f"resample {what} R times for 95%% percentile intervals of the fitted parameters (default: "
                        f"0, none; else at least 40, and 1000 or more for stable ends)")
    p.add_argument("--seed", type=int_in(0, 2**32 - 1), default=0, help="seed of the bootstrap resamples (default: 0)")
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


def _cell(text: str):
    """A CSV cell as the value it shows: a number where :func:`_as_number` reads one, else the
    text, or None where empty."""
    if text == "":
        return None
    number = _as_number(text)
    return text if number is None else number


def _matches(cell, value: str) -> bool:
    """A cell against a --where value: an empty value matches an empty cell; a number
    numerically (true/false as 1/0, as the table writes bools; nan matches nan); a list by
    its JSON value. A text cell is read as its CSV file's cell is, as a number where it is
    one (a label "007" matches 7), so that ``export --where`` keeps the rows ``fit --where``
    keeps of the exported file."""
    if isinstance(cell, str):
        cell = _cell(cell)
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


def _load_sweep(folder: str, **options):
    """:func:`toyscale.sweep.load_sweep`, a missing or unreadable folder as a CliError."""
    from toyscale.sweep import load_sweep

    if not os.path.exists(folder):  # (in the command's terms: load_sweep's message names its own argument)
        raise CliError(f"{folder}: no such folder; give a sweep folder (an experiment script's is <--out>/sweep)")
    inner = os.path.join(folder, "sweep")
    if (os.path.isdir(folder) and not os.path.exists(os.path.join(folder, "manifest.json"))
            and os.path.isfile(os.path.join(inner, "manifest.json"))):  # (an experiment script's --out given)
        raise CliError(f"{folder}: no manifest.json, so no sweep; {inner} is a sweep folder (an experiment "
                       f"script's --out holds its sweep there): give {inner}")
    try:
        return load_sweep(folder, **options)
    except OSError as err:
        raise CliError(str(err)) from None


def _cmd_export(args) -> int:
    from toyscale.sweep import csv_text, write_csv

    if not args.out:  # (before the sweep is read; write_csv's message named its own argument, path='')
        raise CliError("the CSV file's path is empty; give one, or - for standard output")
    result = _load_sweep(args.sweep)
    if not len(result):
        raise CliError(f"{args.sweep}: no finished models yet (its manifest lists {len(result.manifest['points'])})")
    columns, rows = result.table()
    for key, value in args.where:
        if key not in columns:
            raise CliError(f"--where {key}={value}: no column {key!r}; columns are {', '.join(columns)}")
        i = columns.index(key)
        kept = [row for row in rows if _matches(row[i], value)]
        if not kept:
            seen = {repr(row[i]): row[i] for row in rows}.values()  # (distinct; a list cell is unhashable)
            raise CliError(f"--where {key}={value}: no model left has it; {key} is one of {_listing(seen)}")
        rows = kept
    if args.drop_diverged:
        kept = [row for row in rows if not row[columns.index("diverged")]]
        if not kept:  # (as a --where that leaves nothing: not a header-only file and exit status 0)
            raise CliError(f"--drop-diverged: no model left; all {len(rows)} model(s)"
                           + (" that --where keeps" if args.where else "") + " diverged")
        rows = kept
    grid = len(result.manifest["points"])
    # (a sweep still training, or stopped: a fit of its export would see part of the grid)
    partial = (f"; the sweep is not finished: {len(result)} of its grid's {grid} models are, {grid - len(result)} "
               f"to train (toyscale status {args.sweep})" if len(result) < grid else "")
    if args.out == "-":
        if sys.stdout is None:  # (started with it closed, `>&-`: an AttributeError traceback)
            raise CliError("standard output is closed; give a file to write the CSV to")
        sys.stdout.write(csv_text(columns, rows))
        if partial:
            print(f"toyscale: exported {len(rows)} models{partial}", file=sys.stderr)
        return 0
    if os.path.isdir(args.out):
        raise CliError(f"{args.out}: is a folder; give the CSV file's path (or - for standard output)")
    folder = os.path.dirname(args.out)
    if folder and not os.path.isdir(folder):  # (a mistyped path is an error, not a new folder)
        raise CliError(f"{args.out}: its folder {folder} does not exist")
    try:
        write_csv(args.out, columns, rows)
    except OSError as e:  # (a read-only folder, a full disk, a long name: a traceback naming a temp file had said so)
        raise CliError(f"{args.out}: cannot be written ({e.strerror or e})") from None
    print(f"wrote {len(rows)} of {len(result)} models ({sum(r[columns.index('diverged')] for r in rows)} diverged), "
          f"{len(columns)} columns, to {args.out}{partial}", file=sys.stderr)
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


def _listing(values) -> str:
    """Up to 20 distinct CSV cells or table values: numbers by value, then text, empty last; each
    as written (a cell's text, a value's str: 0.30000000000000004 stays so), empty as "(empty)"."""
    shown = sorted(values, key=lambda v: value_order(_cell(v) if isinstance(v, str) else v))
    return (", ".join("(empty)" if v is None or v == "" else str(v) for v in shown[:20])
            + (" ..." if len(shown) > 20 else ""))


def _show(v) -> str:
    """A value as status prints it: short where that is exact, else in full, so that it can be
    pasted into --where (which matches by value: -0.777778 had matched nothing)."""
    if v is None:
        return "(empty)"
    return f"{v:g}" if isinstance(v, float) and float(f"{v:g}") == v else str(v)


def _cmd_status(args) -> int:
    from toyscale.sweep import _field_columns, _flat_fields

    result = _load_sweep(args.sweep, skip_unreadable=True)  # (named below; the rest still counted)
    manifest = result.manifest
    _check_manifest_fields(args.sweep, manifest)
    points = [_flat_fields(p) for p in manifest["points"]]
    fields = _field_columns(points)  # (label too: the tag export writes, and --where and --by can pick)
    for key in args.by:
        if key not in fields:
            raise CliError(f"--by {key}: the points have no field {key!r}; they have {', '.join(fields)}")
    done = {r.model_id: bool(r.diverged) for r in result}
    versions = manifest.get("versions") or {}
    started = manifest.get("created")
    try:  # ISO 8601 with microseconds and offset, as run_sweep writes it: shown to the second, in UTC
        started = datetime.datetime.fromisoformat(started).astimezone(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError):  # (absent, or edited by hand: shown as it is)
        pass
    print(f"{args.sweep}: task {manifest.get('task')!r}, format {manifest.get('format')!r}, seed {manifest.get('seed')}"
          + (f", started {started}" if started else "")
          + (f" (toyscale {versions.get('toyscale')}, jax {versions.get('jax')}, {versions.get('backend')})"
             if versions else ""))
    if manifest.get("extends"):
        print(f"  its grid extends {len(manifest['extends'])} earlier grid(s) of this folder")
    varying = [(k, len({repr(p.get(k)) for p in points})) for k in fields]
    varying = [f"{k} ({n} values)" for k, n in varying if n > 1]
    if varying:
        print("  the points vary in " + ", ".join(varying))
    total, finished = len(points), len(done)
    print(f"  {total} models: {finished} finished ({sum(done.values())} diverged), {total - finished} to train")
    if args.by:
        groups: dict[tuple, list[int]] = {}
        for i, p in enumerate(points):
            groups.setdefault(tuple(p.get(k) for k in args.by), []).append(i)
        head = [*args.by, "models", "finished", "diverged", "to train"]
        rows = [[*(_show(v) for v in key), str(len(ids)), str(sum(i in done for i in ids)),
                 str(sum(done.get(i, False) for i in ids)), str(sum(i not in done for i in ids))]
                for key, ids in sorted(groups.items(), key=lambda kv: [value_order(v) for v in kv[0]])]
        widths = [max(len(c), *(len(r[j]) for r in rows)) for j, c in enumerate(head)]
        for row in [head, *rows]:
            print("  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
    unreadable = result.stats.get("unreadable", [])
    if unreadable:  # (counted above as to train; exit status 1, as the folder needs a hand)
        print(f"  {len(unreadable)} chunk file(s) cannot be read; their models are counted as to train:")
        for message in unreadable:
            print(f"    {message}")
        return 1
    return 0


def _check_manifest_fields(folder: str, manifest: dict) -> None:
    """A CliError naming the folder's manifest.json where a field only ``status`` reads has the
    wrong type (a file edited by hand): ``versions`` an object, ``extends`` a list."""
    from toyscale.sweep import damaged_field

    if (problem := damaged_field(manifest)) is not None:
        raise CliError(f"{os.path.join(folder, 'manifest.json')}: {problem}; the manifest is damaged (edited by "
                       f"hand?): restore it from a backup")


def register_status(subparsers) -> None:
    """Add ``status``: how far a sweep folder is (finished, diverged, to train), by field."""
    st = subparsers.add_parser("status", help="how far a sweep folder is: models finished, diverged, to train",
                               description="Reads a sweep folder (finished chunks only; safe while a run is "
                                           "writing into it) and prints its task, seed and start, the fields its "
                                           "points vary in, and how many models are finished, diverged and still "
                                           "to train, in all and (--by) per value of a field; a chunk file "
                                           "that cannot be read is named, its models counted as to train "
                                           "(exit status 1).")
    st.add_argument("sweep", help="the sweep folder (an experiment script's is <--out>/sweep)")
    st.add_argument("--by", action="append", default=[], metavar="FIELD",
                    help="count per value of this point field (a column name as `export` writes it: m, gamma, "
                         "frequencies.alpha, N, ...); repeatable, for one row per combination")
    st.set_defaults(func=_cmd_status)


#: ``register(subparsers)`` functions; append yours to add a command.
REGISTRY: list[Callable] = [register_fit, register_export, register_status]


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
    stdout = sys.stdout
    if stdout is not None:  # (None when the command started with it closed, >&-)
        sys.stdout = _GuardedStdout(stdout)
    try:
        return main(argv)
    except KeyboardInterrupt:  # Ctrl-C: exit status 130 and one line, as the experiment scripts do
        print("toyscale: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`toyscale status DIR | head -3`): no traceback
        _drop_output()
        return 1
    except _StdoutError as err:  # a full disk under `export DIR - > out.csv`, say: one line, no traceback
        _report_stdout_error(err.error)
        _drop_output()  # (what is left in its buffer would fail again at exit)
        return 1
    finally:
        if isinstance(sys.stdout, _GuardedStdout):
            sys.stdout = stdout


class _StdoutError(OSError):
    """An OSError writing standard output (``error``), other than a closed pipe: told apart from
    the OSErrors of the command's own files, which are bugs where they get this far. Still an
    OSError, so that what catches a failed flush (a Ctrl-C's exit, `exit_interrupted`) catches it."""

    def __init__(self, error: OSError):
        super().__init__(error)
        self.error = error


class _GuardedStdout:
    """Standard output while a command runs: its writes and flushes raise an OSError other
    than BrokenPipeError (ENOSPC: a full disk, EIO) as :class:`_StdoutError`; the rest is the
    stream's own."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as err:
            raise _StdoutError(err) from err

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        try:
            return self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as err:
            raise _StdoutError(err) from err

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _report_stdout_error(err: OSError) -> None:
    """One line on standard error: ``toyscale: error: standard output: No space left on device``."""
    print(f"toyscale: error: standard output: {err.strerror or err}", file=sys.stderr)


def _drop_output() -> None:
    """Points standard output at /dev/null (Python's recipe for a closed pipe: what is left to
    flush goes nowhere, so the exit does not fail a second time); nothing where it is not a
    file (a StringIO, a notebook's stream)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # (io.UnsupportedOperation is both of the last two)
        return
    os.dup2(os.open(os.devnull, os.O_WRONLY), fd)


def _flush_stdout() -> bool:
    """Flushes standard output; False if its reader has gone away (a closed pipe) or it cannot
    be written (a full disk: said on standard error)."""
    try:
        if sys.stdout is not None:  # (None when the command started with it closed, >&-)
            sys.stdout.flush()
    except BrokenPipeError:
        return False
    except OSError as err:  # (a fit's few lines are still buffered: the full disk shows here)
        _report_stdout_error(err)
        return False
    except ValueError:  # (a closed stream)
        pass
    return True


def _exit_on_interrupt(signum, frame) -> None:
    """The command's SIGINT handler: one line, then exit status 130 at once
    (:func:`toyscale.io.exit_interrupted`)."""
    exit_interrupted("toyscale: interrupted")


def entry() -> None:
    """``toyscale`` and ``python -m toyscale``: :func:`console`, then exit with its code.

    Ctrl-C ends the command at once with exit status 130 and one line (``_exit_on_interrupt``,
    without the interpreter's shutdown). Python's own KeyboardInterrupt was lost when the
    signal arrived while JAX's garbage-collection callback ran ("Exception ignored in
    _xla_gc_callback"; the fit then finished with status 0: 6 of 30 Ctrl-Cs of a fit), and
    tearing JAX down after an interrupted computation occasionally crashed (a segmentation
    fault after the message)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # (not where the shell ignores it: cmd &)
        signal.signal(signal.SIGINT, _exit_on_interrupt)
    code = console()
    if not _flush_stdout():  # (here, not at exit: a reader gone away or a full disk is then one more exit code)
        _drop_output()
        code = code or 1
    if code == 130:
        if sys.stderr is not None:
            sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _raised_by_a_check(err: BaseException) -> bool:
    """Whether ``err`` came from one of toyscale's own ``raise`` statements (a check of what
    the command was given: it names the argument and what is allowed), rather than from inside
    numpy or JAX, or from a call in toyscale that went wrong (``f(1, 2)`` for ``f(x)``): those
    are bugs, whose traceback says where."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    return (os.path.dirname(os.path.abspath(last.filename)) == _PACKAGE
            and (last.line or "").lstrip().startswith("raise "))


def main(argv: Sequence[str] | None = None) -> int:
    """The commands themselves, with no process-wide set-up (for calling from Python);
    returns the exit code (0 ok, 1 a fit printed but not identifiable, 2 usage or data error)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, ValueError, TypeError) as err:
        if not isinstance(err, CliError) and not _raised_by_a_check(err):
            raise  # a bug (a wrong call, a library's own failure): its traceback, not a usage line
        kind = "not identifiable" if type(err).__name__ == "NotIdentifiableError" else "error"
        print(f"toyscale: {kind}: {err}", file=sys.stderr)
        return 2
