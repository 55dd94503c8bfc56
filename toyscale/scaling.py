"""From sweep records to scaling curves: loss vs width and the width exponent alpha_m.

Liu, Liu & Gore (2025) fit L = C m^-alpha_m over a range of widths (Fig. 1, Fig. 4b).
These helpers gather the matching records of a sweep, average replicate seeds (diverged
models excluded and counted), and fit with :func:`toyscale.fitting.fit_power_law`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from toyscale._checks import _scalar_of, check_int, check_seed, short_repr, shorten, value_order
from toyscale.fitting import (NotIdentifiableError, PowerLawFit, _check_bootstrap, _float64, _ols,
                               _percentile_intervals, _too_few_resamples, fit_power_law, t_quantile)
from toyscale.superposition import no_better_than_empty
from toyscale.sweep import Record, _canonical, matching

__all__ = ["WidthCurve", "width_curve", "width_exponent", "fit_width_curve", "CurveNotFittedError", "SEED_RESAMPLES",
           "seed_redraw", "seed_interval", "redrawn_seeds_text", "without_seed_intervals", "redraw_table",
           "RedrawnTable", "WIDENINGS", "welch_dof", "check_widen", "seed_widen_text", "lack_of_fit", "LackOfFit",
           "NotTestableError", "script_lack_of_fit", "holm_adjusted", "holm_family_text"]

# seed_bootstrap resamples the experiment scripts draw for a replicated curve (percentile
# intervals; benchmarks/fit_calibration.py's study 3 uses 400)
SEED_RESAMPLES = 1000
# how an interval over redrawn seeds is widened: "sqrt" by sqrt(k / (k - 1)) only, "t" also by Student's t over
# the normal quantile on the Welch-Satterthwaite degrees of freedom of the redrawn spread
WIDENINGS = ("sqrt", "t")
# how width_exponent's note on nan seed-bootstrap intervals starts (unpaired, paired), up to ": why"
_NO_SEED_INTERVALS = ("no seed-bootstrap intervals (nan): ", "no paired seed-bootstrap intervals (nan): ")


@dataclasses.dataclass(frozen=True)
class WidthCurve:
    """Mean test loss at each width for one setting of the other swept values.

    Attributes:
      widths: sorted distinct widths m with at least one finite model.
      loss: mean test loss over the finite replicate models at each width.
      loss_std: sample standard deviation over replicates (ddof 1, so that two seeds are not
        read as half as noisy as they are; 0 with a single seed).
      n_models: finite models averaged at each width.
      n_diverged: diverged models left out, over all widths.
      n_undefined: models that trained but whose measure is not finite, left out: an
        overlap moment with fewer than two represented rows, say. Never counted as diverged.
      values: each width's replicate values, in seed order (what ``loss`` averages), for
        :func:`width_exponent`'s ``seed_bootstrap``.
      empty: how many of the averaged models at each width ended no better than the empty
        model (:func:`toyscale.superposition.no_better_than_empty`): they do no better than
        outputting 0, and :func:`width_exponent` notes them when they fall inside its fit.
      seeds: each width's replicate seeds, matching ``values`` (what a paired seed bootstrap
        aligns across widths).
    """

    widths: np.ndarray
    loss: np.ndarray
    loss_std: np.ndarray
    n_models: np.ndarray
    n_diverged: int
    n_undefined: int = 0
    values: tuple[np.ndarray, ...] = dataclasses.field(default=(), repr=False, compare=False)
    empty: np.ndarray | None = dataclasses.field(default=None, compare=False)
    seeds: tuple[np.ndarray, ...] = dataclasses.field(default=(), repr=False, compare=False)

    @property
    def replicated(self) -> bool:
        """Whether every width has more than one model: what ``width_exponent``'s
        ``seed_bootstrap`` needs to see each width's seed noise (a width left with one model,
        its others diverged, would count as noiseless)."""
        return bool(self.values) and all(v.size > 1 for v in self.values)

    @classmethod
    def from_values(cls, widths: Sequence[float], values: Sequence[Sequence[float]], *,
                    seeds: Sequence[Sequence[Any]] | None = None, n_diverged: int = 0,
                    n_undefined: int = 0) -> WidthCurve:
        """A curve from each width's replicate values (your own runs, say, or a simulation's):
        their means, sds (ddof 1; 0 for one value) and counts, with the values (and ``seeds``,
        one per value, for a paired seed bootstrap) kept for :func:`width_exponent`.

        Raises:
          TypeError, ValueError: widths not increasing positive numbers, or not one non-empty
            list of finite values per width (``seeds``: one per value).
        """
        try:
            given = np.asarray(widths)
        except (TypeError, ValueError):
            given = np.asarray(None)
        if given.dtype.kind not in "iuf" or any(isinstance(x, (bool, np.bool_)) for x in np.ravel(np.asarray(
                widths, dtype=object))):  # (a True among ints reads as 1)
            raise TypeError(f"widths={short_repr(widths, 80)}; widths must be a list of real numbers")
        w = given.astype(float)
        if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w) & (w > 0)) or np.any(np.diff(w) <= 0):
            raise ValueError(f"widths={short_repr(widths, 80)}; widths must be a non-empty list of positive numbers "
                             f"in increasing order")
        if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__") or len(values) != w.size:
            raise ValueError(f"values={short_repr(values, 80)}; values must be a list holding one list of replicate "
                             f"values per width ({w.size})")
        vals = []
        for i, v in enumerate(values):
            try:
                a = np.asarray(v)
            except (TypeError, ValueError):
                a = np.asarray(None)
            if a.dtype.kind not in "iuf":
                raise TypeError(f"values[{i}]={short_repr(v, 80)}; each width's values must be real numbers")
            a = a.astype(float)
            if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
                raise ValueError(f"values[{i}]={short_repr(v, 80)}; each width's values must be a non-empty list of "
                                 f"finite numbers (leave a diverged model out and count it in n_diverged)")
            vals.append(a)
        if seeds is not None:
            given_seeds = seeds
            try:
                seeds = tuple(np.asarray(s) for s in seeds)
            except (TypeError, ValueError):
                seeds = ()
            wrong = ([i for i, (s, v) in enumerate(zip(seeds, vals)) if len(s) != v.size]
                     if len(seeds) == w.size else None)
            if wrong is None or wrong:
                where = (f"one list per width ({w.size})" if wrong is None else
                         f"at width {_size_text(w[wrong[0]])}, {len(seeds[wrong[0]])} seed(s) for "
                         f"{vals[wrong[0]].size} value(s)")
                raise ValueError(f"seeds={short_repr(given_seeds, 80)}; seeds must hold one seed per value at each "
                                 f"width: {where}")
        return cls(widths=given.astype(np.int64) if given.dtype.kind in "iu" else w,
                   loss=np.array([v.mean() for v in vals]),
                   loss_std=np.array([v.std(ddof=1) if v.size > 1 else 0.0 for v in vals]),
                   n_models=np.array([v.size for v in vals], dtype=np.int64),
                   n_diverged=check_int("n_diverged", n_diverged, 0),
                   n_undefined=check_int("n_undefined", n_undefined, 0),
                   values=tuple(vals), seeds=seeds if seeds is not None else ())

    def to_dict(self) -> dict:
        return {"m": self.widths.tolist(), "loss": self.loss.tolist(), "loss_std": self.loss_std.tolist(),
                "n_models": self.n_models.tolist(), "n_diverged": self.n_diverged,
                "n_undefined": self.n_undefined,
                "n_empty": [] if self.empty is None else self.empty.tolist()}


def _listing(seen: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{k}: {', '.join(shorten(x, 80) for x in v[:8])}{' ...' if len(v) > 8 else ''}" for k, v in seen.items())


def _spec_hint(records: Sequence[Record], conditions: Mapping[str, Any]) -> str:
    """Where a frequency condition names a kind the records have only with other parameters:
    a kind name or partial dict means that kind's defaults, so say which specs there are."""
    want = conditions.get("frequencies")
    if not isinstance(want, Mapping):
        return ""
    same_kind = {json.dumps(r.point["frequencies"], sort_keys=True): r.point["frequencies"] for r in records
                 if isinstance(r.point.get("frequencies"), Mapping) and r.point["frequencies"].get("kind") == want.get("kind")}
    if not same_kind:
        return ""
    first = next(iter(same_kind.values()))
    return (f". frequencies={shorten(json.dumps(want, sort_keys=True), 80)} is what a kind name or partial dict means "
            f"(that kind's defaults filled in); these records' {want.get('kind')} spec(s): "
            + ", ".join(shorten(k, 80) for k in list(same_kind)[:4]) + f"; give one whole, e.g. frequencies={short_repr(first, 80)}"
            " or the spec object the sweep was given")


def _replicates(records: list[Record], along: str, conditions: Mapping[str, Any], *, measure: Any,
                where: str, call: str) -> tuple[list[Record], dict[str, Any]]:
    """The records whose point matches ``conditions``, checked to be replicates at each value of
    ``along``: at one value they may differ only in ``seed`` and ``label``.

    Shared by :func:`width_curve` and :func:`toyscale.random_features.loss_curve`.

    Args:
      records: the records to choose from.
      along: the field on the x axis (it may change from one value to the next).
      conditions: point fields to match.
      measure: the output to average (a string is checked to be a scalar output of every
        chosen record; a callable is not checked).
      where: how a message names one value of ``along`` (``"width"``).
      call: the start of the suggested call, up to its conditions (``"width_curve(records, "``).

    Returns:
      ``(chosen records, conditions as stored)``.

    Raises:
      ValueError: on a field no point has, when nothing matches, when the matching records of
        one value of ``along`` differ in another field, or on a measure that is not a scalar output.
    """
    if not records:
        raise ValueError(f"no records given; nothing to average along {along!r}")
    fields = set().union(*(r.point for r in records))
    if along not in fields:
        raise ValueError(f"along={along!r}; no point has the field {along!r}; the points' fields are "
                         f"{sorted(fields)}")
    chosen, conditions = matching(records, conditions, fields=fields)
    if not chosen:
        # which conditions match nothing even on their own (a gamma the sweep never had, a
        # number given as a string), else that only their combination is missing
        alone = [k for k in conditions if not matching(records, {k: conditions[k]}, fields=fields)[0]]
        culprit = (", ".join(f"{k}={short_repr(conditions[k], 80)}" for k in alone) + " matches no record on its own"
                   if alone else "each condition matches some records, but no record matches them all")
        seen = {k: sorted({repr(r.point.get(k)) for r in records}) for k in conditions}
        raise ValueError(f"no record matches {short_repr(conditions, 240)}: {culprit}; values in the "
                         f"{len(records)} records: " + _listing(seen)
                         + (_spec_hint(records, conditions) if "frequencies" in alone else ""))
    lacking = [r for r in chosen if along not in r.point]  # (a bare KeyError had come out)
    if lacking:
        raise ValueError(f"{len(lacking)} of the {len(chosen)} records matching {short_repr(conditions, 120)} have no "
                         f"{along!r} (model {lacking[0].model_id}'s fields: {sorted(lacking[0].point)}); give a "
                         f"condition that leaves them out")
    # (A model given twice is averaged twice, as a seed redrawn with replacement must be: redraw_table hands
    # its table such draws, so a repeated record is not refused here.)
    # Only replicates may be averaged: records of one x that differ in another swept field
    # (a gamma or a ridge left out of the conditions) would blend two curves. A field that
    # changes with x alone (a per-width learning rate) is not a blend.
    replicate_fields = {along, "seed", "label"}
    per_x: dict[str, dict[str, set[str]]] = {}
    for r in chosen:
        vals = per_x.setdefault(json.dumps(r.point.get(along), sort_keys=True, default=repr), {})
        for k, v in r.point.items():
            if k not in replicate_fields:
                vals.setdefault(k, set()).add(json.dumps(v, sort_keys=True, default=repr))
    mixed = sorted({k for vals in per_x.values() for k, v in vals.items() if len(v) > 1})
    if mixed:
        seen = {k: sorted(set().union(*(vals.get(k, set()) for vals in per_x.values()))) for k in mixed}
        raise ValueError(f"the records matching {conditions} differ in {mixed} at one {where} (" + _listing(seen)
                         + "); only seeds are averaged, so give each of these as a condition, e.g. "
                         + call + ", ".join(f"{k}=..." for k in mixed) + ")")
    if not callable(measure):
        for r in chosen:
            if measure not in r.outputs and measure not in r.point:
                raise ValueError(f"measure={measure!r} is not an output of these records; scalar outputs: "
                                 f"{_scalar_outputs(r)}")
            value = r[measure]
            if np.ndim(value) != 0 or not isinstance(np.asarray(value).item(), (int, float)):
                raise ValueError(f"measure={measure!r} is {'an output' if measure in r.outputs else 'a field'} of "
                                 f"shape {np.shape(value)}, not a number; the measure must be a scalar output: "
                                 f"{_scalar_outputs(r)}")
    return chosen, conditions


def _scalar_outputs(record: Record) -> list[str]:
    return sorted(k for k, v in record.outputs.items() if np.ndim(v) == 0)


def _number(value: Any, measure: Callable, record: Record) -> float:
    """A measure function's value for one record as a float, or a TypeError naming the function."""
    if np.ndim(value) == 0:
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"measure={getattr(measure, '__name__', measure)!r} returned {short_repr(value, 80)} for model "
                    f"{record.model_id} (point {short_repr(record.point, 80)}); a measure function must return one "
                    f"number per record (NaN: undefined)")


def width_curve(records: Iterable[Record], *, measure: str | Callable[[Record], float] = "test_loss",
                axis: str = "m", **conditions: Any) -> WidthCurve:
    """Mean of ``measure`` vs width over the records whose point matches ``conditions``.

    Args:
      records: sweep records (e.g. a :class:`toyscale.sweep.SweepResult`).
      measure: the scalar output to average, or a function of a :class:`~toyscale.sweep.Record`
        giving a number (a derived measure; NaN or inf leaves that model out as undefined, and
        the curve's ``loss`` then holds the measure's means; it is not called on a diverged
        model, which is counted in ``n_diverged``), e.g.
        ``lambda r: r["overlap_mean"] if r["n_represented"] >= 10 else float("nan")``.
      **conditions: point fields to match, e.g. ``gamma=-1.0, frequencies=spec.describe()``
        (a frequency spec may also be given as the object, a partial dict or a kind name,
        as the sweep accepted it; a kind name means its defaults, "power_law" alpha = 1.2 and
        "exponential" tau = 400).
      axis: the point field that is the width: "m" (a superposition model's), or another
        size, e.g. "N" for random features (then fit with ``width_exponent(curve, axis="N")``).

    Returns:
      A :class:`WidthCurve`.

    Raises:
      ValueError: if no record matches, the matching records of one width differ in a
        field other than ``seed`` and ``label`` (only replicates are averaged), or
        ``measure`` is not a scalar output.
    """
    if not (isinstance(measure, str) or callable(measure)):
        raise TypeError(f"measure={measure!r}; measure must be an output's name (a str) or a function of a record")
    if not isinstance(axis, str):
        raise TypeError(f"axis={short_repr(axis, 80)}; axis must be a string, the point field that is the width")
    records = list(records)
    for r in records:  # (before the replicates are checked: a field that is no width, e.g. a method, groups them)
        if axis in r.point and (not _real_number(r.point[axis]) or not r.point[axis] > 0):
            raise ValueError(f"axis={axis!r}; a point has {axis}={short_repr(r.point[axis], 80)} (its fields: "
                             f"{sorted(r.point)}): the width must be a positive number")
    chosen, conditions = _replicates(records, axis, conditions, measure=measure, where="width",
                                     call="width_curve(records, ")
    by_m: dict[float, list[float]] = {}
    seeds_of: dict[float, list[Any]] = {}
    empty: dict[float, int] = {}
    diverged = undefined = 0
    # (value_order: a label "a" beside the numbers, or None, had failed the sort with a bare TypeError)
    for r in sorted(chosen, key=lambda r: (value_order(r.point.get("seed", 0)), r.model_id)):
        # a flagged model, or one whose loss itself is not finite (unflagged), diverged whatever the measure: not
        # measured (its NaN phi_half had failed a measure's int(); a NaN-loss model's phi_half had been averaged in)
        if r.diverged or not np.isfinite(float(r.outputs.get("test_loss", 0.0))):
            diverged += 1
            continue
        value = _number(measure(r), measure, r) if callable(measure) else float(r[measure])
        if not np.isfinite(value):  # (a finite model can still have an undefined measure)
            undefined += 1
            continue
        w = r.point[axis]
        w = int(w) if float(w).is_integer() else float(w)  # (one key for 32 and 32.0)
        by_m.setdefault(w, []).append(value)
        seeds_of.setdefault(w, []).append(r.point.get("seed", 0))  # (as given: a label)
        empty[w] = empty.get(w, 0) + no_better_than_empty(r.diverged, r.outputs)
    widths = np.array(sorted(by_m), dtype=np.int64 if all(isinstance(w, int) for w in by_m) else float)
    if not widths.size:  # (every model diverged or undefined: an empty curve, which width_exponent reports)
        return WidthCurve(widths=widths, loss=np.zeros(0), loss_std=np.zeros(0), n_models=np.zeros(0, np.int64),
                          n_diverged=diverged, n_undefined=undefined, empty=np.zeros(0, np.int64))
    curve = WidthCurve.from_values(widths, [by_m[m] for m in widths], seeds=[seeds_of[m] for m in widths],
                                   n_diverged=diverged, n_undefined=undefined)
    return dataclasses.replace(curve, empty=np.array([empty[m] for m in widths], dtype=np.int64))


class CurveNotFittedError(ValueError):
    """A width curve's values cannot give a power law: fewer than two widths with a finite
    value, or a value <= 0 (no logarithm). Raised by :func:`width_exponent`; the data's
    fault, not the call's (:func:`fit_width_curve` reports it and goes on)."""


def width_exponent(curve: WidthCurve, *, fit_range: tuple[float, float] | None = None, seed_bootstrap: int = 0,
                   seed: int = 0, paired: bool = False, axis: str = "m", widen: str = "sqrt",
                   **fit_options: Any) -> PowerLawFit:
    """Fits L = C m^-alpha_m to a width curve, optionally over ``fit_range`` = (m_min, m_max) only.

    The fit is to the curve's means, one point per width, and its standard errors are the
    fit's own (ordinary least squares by default): they see the seed-to-seed noise only
    through the scatter of the means about the line, which with a few widths can be far
    smaller than that noise (three means on a line gave +-0.001 where redrawing the seeds
    moved the exponent by 0.06). ``seed_bootstrap=R`` measures that noise directly: it
    redraws each width's replicate models with replacement R times (their spread about the
    width's mean widened by sqrt(k / (k - 1)) for k replicates, so a redrawn mean varies as
    much as the mean itself: the plain bootstrap halves the variance at two seeds), refits
    each resampled curve, and puts the percentile intervals of those fits in ``intervals``; a
    note compares their spread with the standard error. ``fit.t_interval()`` is the fit's own
    Student-t interval on its n_widths - 2 residual degrees of freedom (multiplier 12.71 at
    three widths, 3.18 at five, where +-1.96 stderr would cover far less than 95 %).

    Args:
      curve: a :class:`WidthCurve`.
      fit_range: (m_min, m_max), either may be None or infinite (no bound); None fits every width.
      seed_bootstrap: resamples of the replicate seeds (0: none). Needs replicates at every
        width in the fit (a width with one model gives nan intervals and a note naming it; every
        width with one, a sweep of one seed, nan intervals and a note saying so) and the
        closed-form fit (no ``offset``, the squared loss); not with ``bootstrap``, which
        resamples widths. A resample whose widened mean is <= 0 at some width has no log and
        is left out (counted in a note); more than (1 - level) / 2 of them left out, one tail's,
        and the intervals are nan, with a note saying so.
      seed: seed of the resampling (``seed_bootstrap``'s, or ``bootstrap``'s of the widths).
      paired: ``seed_bootstrap`` redraws one set of seeds for every width (each width's models
        of those seeds), instead of each width's seeds on their own: the resampling for models
        that share their draws across widths (``TrainConfig.common_across`` with ``"m"``),
        whose seeds are the independent units. It uses the seeds every width in the fit has
        (a note names those left out), their deviations added to the fitted means; fewer
        than two give nan intervals and a note, and a seed twice at one width is a ValueError.
      widen: how ``seed_bootstrap``'s intervals are widened for the few seeds they come from.
        "sqrt" (the default): each width's spread by sqrt(k / (k - 1)) only, and the percentile
        intervals cover less than their level with 2-4 seeds (77-89.5 % at 95 % in simulation).
        "t": also by t / z, Student's t quantile over the normal one, on the Welch-Satterthwaite
        degrees of freedom of the exponent's variance (each width's part, the fit's weight
        squared times the variance of its redrawn log mean, estimated from its k models, k - 1
        degrees of freedom; paired: the k shared seeds', k - 1), about the resamples' median
        (the prefactor's in log space, on its own degrees of freedom). The spread is estimated
        from few models, as a t interval's is; in simulation (studies 3 and 7 of
        benchmarks/fit_calibration.py) this covered 94-98 % where every width holds 2-8 seeds
        and 91-93 % where some hold 2 and others 8-32, at the price of wider intervals where
        the spread is known from few models: median half-widths 3.4x the plain ones at three
        widths of two seeds, 2.3x at five, 1.2-1.3x at four seeds, 1.07-1.11x at eight.
      axis: the name of the curve's size in messages and notes: "m" (a width), or another
        size's, e.g. :func:`toyscale.random_features.regime_exponents`' "N" or "T" (whose notes
        then say "N = 32" and "size" where a width curve's say "m = 32" and "width").
      **fit_options: passed to :func:`toyscale.fitting.fit_power_law` (``offset``, ``loss``,
        ``bootstrap``, ``level``, ...).
    """
    if not isinstance(curve, WidthCurve):
        raise TypeError(f"curve is a {type(curve).__name__}; width_exponent fits a WidthCurve: build one with "
                        f"width_curve(records, gamma=..., frequencies=...)")
    seed_bootstrap = check_int("seed_bootstrap", seed_bootstrap, 0)
    seed = check_seed(seed)
    size = _size_word(axis)
    if not isinstance(paired, (bool, np.bool_)):
        raise TypeError(f"paired={paired!r}; paired must be True or False")
    if paired and not seed_bootstrap:
        raise ValueError("paired=True without seed_bootstrap; paired says how the seed bootstrap redraws the seeds: "
                         "give seed_bootstrap=R too")
    _check_bootstrap_widen(widen, seed_bootstrap)
    if paired and (len(curve.seeds) != curve.widths.size
                   or any(np.size(s) != np.size(v) for s, v in zip(curve.seeds, curve.values))):
        raise ValueError("paired=True needs the curve's replicate seeds (WidthCurve.seeds, one per value); this curve "
                         "has none or not one per value: make it with width_curve, or WidthCurve.from_values(..., "
                         "seeds=...)")
    m, loss, values, seeds = curve.widths, curve.loss, list(curve.values), list(curve.seeds)
    if seed_bootstrap:
        if fit_options.get("bootstrap"):
            raise ValueError(f"bootstrap={fit_options['bootstrap']!r} with seed_bootstrap={seed_bootstrap}; give one: "
                             f"bootstrap resamples the {size}s, seed_bootstrap each {size}'s seeds")
        if fit_options.get("offset") or fit_options.get("loss", "squared") != "squared":
            raise ValueError(f"seed_bootstrap={seed_bootstrap} with offset={fit_options.get('offset', False)!r}, "
                             f"loss={fit_options.get('loss', 'squared')!r}; the seed bootstrap refits the closed-form "
                             f"fit (offset=False, loss='squared') only")
        if len(values) != m.size:
            raise ValueError("seed_bootstrap needs the curve's replicate values (WidthCurve.values); this curve "
                             "has none: make it with width_curve, or WidthCurve.from_values")
    # the arguments first, so that a bad one is never reported as the data's fault
    _, _, level = _check_bootstrap(fit_options.get("bootstrap", 0), 0, fit_options.get("level", 0.95))
    why = _too_few_resamples(seed_bootstrap, level)
    if why:  # (as fit_power_law's bootstrap)
        raise ValueError(f"seed_bootstrap={seed_bootstrap}; {why}")
    where = ""
    if fit_range is not None:
        # a pair (a list, a tuple, an array), not any iterable: a dict's keys, a string's characters
        # or a bool taken for 1 had been fitted over as numbers
        pair = (np.shape(fit_range) == (2,) if hasattr(fit_range, "__array__") else  # (numpy's or JAX's)
                isinstance(fit_range, Sequence) and not isinstance(fit_range, (str, bytes)) and len(fit_range) == 2)
        if not pair or not all(v is None or _real_number(v) for v in fit_range):
            raise TypeError(f"fit_range={short_repr(fit_range, 80)}; fit_range must be a pair of numbers (m_min, "
                            f"m_max), either may be None or infinite, or fit_range=None")
        lo, hi = (float(default if v is None else v) for v, default in zip(fit_range, (-np.inf, np.inf)))
        if np.isnan(lo) or np.isnan(hi) or not lo <= hi:
            raise ValueError(f"fit_range={fit_range!r}; fit_range must be (m_min, m_max) with m_min <= m_max "
                             f"(either may be infinite)")
        keep = (m >= lo) & (m <= hi)
        m, loss = m[keep], loss[keep]
        values = [v for v, k in zip(values, keep) if k]
        seeds = [v for v, k in zip(seeds, keep) if k]
        where = f" inside fit_range={fit_range!r}"
    for w, s in zip(m, seeds if paired else ()):
        labels, counts = np.unique(s, return_counts=True)
        if np.any(counts > 1):  # (records of two sweeps pooled, or points without a seed field: all seed 0)
            raise ValueError(f"paired=True needs one model per seed at each {size}; {axis} = {_size_text(w)} has seed "
                             f"{labels[counts > 1][0].item()!r} {int(counts.max())} times: give each replicate its "
                             f"own seed, or leave paired out")
    least = 3 if fit_options.get("offset") else 2
    if m.size < least:
        # (a fit_range is the caller's choice: one that keeps too few widths of a curve that has
        # enough is an argument error; a curve with too few widths in all is the data's fault)
        error = ValueError if fit_range is not None and curve.widths.size >= least else CurveNotFittedError
        raise error(f"{m.size} {size}(s) with a finite loss{where} ({size}s {curve.widths.tolist()}, "
                    f"{curve.n_diverged} diverged model(s) and {curve.n_undefined} with an undefined "
                    f"measure left out); a power law{' with offset' if least == 3 else ''} needs at least {least}")
    if np.any(loss <= 0):
        zero = [_size_text(w) for w, v in zip(m, loss) if v <= 0]
        raise CurveNotFittedError(f"the mean is {float(np.min(loss)):.3g} (<= 0) at {axis} = "
                                  f"{', '.join(map(str, zero))}{where}; L = C {axis}^-a is fitted to log L, so every "
                                  f"mean must be > 0")
    fit = fit_power_law(m, loss, seed=seed, **fit_options)
    if curve.empty is not None:
        inside = curve.empty[np.isin(curve.widths, m)]
        if inside.sum():
            idle = [_size_text(w) for w, k in zip(curve.widths, curve.empty) if k and w in m]
            fit = dataclasses.replace(fit, notes=fit.notes + (
                f"{int(inside.sum())} model(s) in these means, at {axis} = {', '.join(map(str, idle))}, ended no "
                f"better than the empty model (test_loss >= empty_loss): they do no better than outputting 0",))
    if not seed_bootstrap:
        return fit
    single = [_size_text(w) for w, v in zip(m, values) if v.size < 2]
    if len(single) == m.size:  # (a sweep of one seed, or every other seed diverged)
        return without_seed_intervals(fit, seed_bootstrap, (
            f"every {size}{where} has one model, so there is no seed noise to redraw (sweep more seeds); the fit and "
            f"fit.t_interval() still hold"), paired=paired)
    if single:  # (a redrawn mean there takes one value: the interval would leave its noise out; paired or not)
        listed = ", ".join(map(str, single[:10])) + (", ..." if len(single) > 10 else "")
        return without_seed_intervals(fit, seed_bootstrap, (
            f"{axis} = {listed}{where} has one model (the others diverged or were not swept), whose seed noise "
            f"redrawing cannot see; the fit and fit.t_interval() still hold, or a fit over the replicated {size}s "
            f"only has an interval"), paired=paired)
    if paired:
        return _paired_seed_bootstrap(fit, m, loss, values, seeds, seed_bootstrap, seed, where, size, widen)
    return _seed_bootstrap(fit, m, values, seed_bootstrap, seed, size, widen)


def _size_text(w: float) -> str:
    """A width for a message: a whole one as an integer ("32", however large), else as given ("1.5")."""
    return str(int(w)) if float(w).is_integer() else f"{float(w):g}"


def without_seed_intervals(fit: PowerLawFit, resamples: int, why: str, *, paired: bool = False) -> PowerLawFit:
    """``fit`` marked as seed-bootstrapped with nan intervals and a note saying ``why`` there are
    none (what :func:`redrawn_seeds_text` prints): where a curve's seeds cannot be redrawn."""
    nan = (math.nan, math.nan)
    return dataclasses.replace(fit, intervals={"prefactor": nan, "exponent": nan}, n_bootstrap=resamples,
                               resampled="seeds", notes=fit.notes + (_NO_SEED_INTERVALS[paired] + why,))


def _real_number(value: Any) -> bool:
    """Whether ``value`` is one real number (a Python or numpy int or float, a 0-d numpy or JAX
    array of one), not a bool, a string or a container."""
    value = _scalar_of(value, "iuf")
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _size_word(axis: Any) -> str:
    """``axis`` (the name of a curve's size in messages: "m", "N", ...) checked; the word for
    its values: "width" for "m", else "size"."""
    if not isinstance(axis, str):
        raise TypeError(f"axis={short_repr(axis, 80)}; axis must be a string, the name of the curve's size, e.g. "
                        f"'m' or 'N'")
    if not axis.strip() or not axis.isprintable():
        raise ValueError(f"axis={axis!r}; axis must name the curve's size in one line of text, e.g. 'm' or 'N'")
    return "width" if axis == "m" else "size"


def seed_redraw(curve: WidthCurve, config: Any = None, widen: str = "sqrt") -> dict[str, Any]:
    """The seed-bootstrap options a script fits a width curve with: ``SEED_RESAMPLES`` redraws
    where a width has replicates (none where every width has one model: a sweep of one seed),
    paired across widths where ``config`` shares its models' draws across m (a ``TrainConfig``
    whose ``common_across`` has ``"m"``), widened as ``widen`` says (:func:`width_exponent`'s;
    a script's ``seed_widen``). A width left with one model (its others diverged) then gives
    nan intervals and a note naming it, which :func:`redrawn_seeds_text` prints, as
    :func:`toyscale.random_features.regime_exponents` does for a size (it had skipped the
    redraw there without a word)."""
    check_widen(widen)
    if not any(np.size(v) > 1 for v in curve.values):
        return {}
    return {"seed_bootstrap": SEED_RESAMPLES, "paired": _shares_widths(config), "widen": widen}


def _shares_widths(config: Any) -> bool:
    """Whether ``config`` (a ``TrainConfig``, or None) shares its models' draws across m."""
    return "m" in getattr(config, "common_across", ())


def seed_widen_text(widen: str, config: Any = None, intervals: Any = None) -> str:
    """What a script prints once under its exponents when ``seed_widen`` is "t": how its
    intervals over redrawn seeds were widened (:func:`seed_redraw` with the same ``config``,
    whose seeds it redraws together across widths where ``config`` shares draws across m), and
    how such intervals covered in simulation; "" for "sqrt", the default, which its
    intervals' own text already describes, and "" where ``intervals`` (the script's recorded
    intervals over redrawn seeds, each ``[lo, hi]`` or None, as :func:`seed_interval` gives)
    holds no finite one: nothing was widened."""
    if check_widen(widen, "seed_widen") == "sqrt":
        return ""
    if intervals is not None and not any(iv is not None and np.all(np.isfinite(iv)) for iv in intervals):
        return ""
    if _shares_widths(config):
        return ("intervals over redrawn seeds: each also widened about its median by t / z on the k - 1 degrees of "
                "freedom of the k seeds redrawn together across widths (seed_widen=t; how that covers under shared "
                "draws is not measured)")
    return ("intervals over redrawn seeds: each also widened about its median by t / z on the Welch-Satterthwaite "
            "degrees of freedom of its exponent's redrawn spread, each width's part from its own models (seed_widen=t; "
            "at 95 % they covered 94-98 % in simulation with 2-8 seeds at every width, 91-93 % where some widths had 2 "
            "and others 8-32: benchmarks/fit_calibration.py studies 3 and 7)")


def seed_interval(fit: PowerLawFit) -> list[float] | None:
    """The exponent's interval over redrawn seeds that a script records: ``[lo, hi]`` for a fit
    made with ``seed_bootstrap`` (nan where the seeds could not be redrawn; its note says why),
    None for one without."""
    return [float(v) for v in fit.intervals["exponent"]] if fit.resampled == "seeds" else None


def redrawn_seeds_text(fit: PowerLawFit) -> str:
    """What a script prints after an exponent it fitted with ``seed_bootstrap``: ", redrawn seeds
    [lo, hi]" (the 95 % interval over redrawn seeds), or where that interval is nan, why (it had
    printed "redrawn seeds [nan, nan]" with the reason only in ``fit.notes``); "" for a fit
    without a seed bootstrap."""
    if fit.resampled != "seeds":
        return ""
    lo, hi = fit.intervals["exponent"]
    why = None if math.isfinite(lo) and math.isfinite(hi) else next(
        (note.split(": ", 1)[1] for note in fit.notes if note.startswith(_NO_SEED_INTERVALS)),
        "too few of the redrawn curves gave a finite exponent")
    return _redrawn_text((lo, hi), why)


def _redrawn_text(interval: tuple[float, float], why: str | None) -> str:
    """", redrawn seeds [lo, hi]", or where there is none, ", no interval over redrawn seeds (why)"."""
    return f", no interval over redrawn seeds ({why})" if why else ", redrawn seeds [{:.3f}, {:.3f}]".format(*interval)


def fit_width_curve(curve: WidthCurve, **options: Any) -> tuple[PowerLawFit | None, str | None]:
    """``(width_exponent(curve, **options), None)``, or ``(None, why)`` where the curve's values
    cannot give an exponent (:class:`CurveNotFittedError`, or
    :class:`toyscale.fitting.NotIdentifiableError`: e.g. too many models diverged, or a loss
    of exactly 0), so that a study of many curves reports that one and goes on. A bad
    argument still raises (a ``fit_range`` that keeps too few of a curve's widths too; a curve
    with too few widths in all is reported, with or without a ``fit_range``)."""
    try:
        return width_exponent(curve, **options), None
    except (CurveNotFittedError, NotIdentifiableError) as e:
        return None, str(e)


@dataclasses.dataclass(frozen=True)
class RedrawnTable:
    """The intervals over redrawn seeds of every exponent of an analysis (:func:`redraw_table`).

    Attributes:
      intervals: ``{name: (lo, hi)}``, (nan, nan) where there is none (``why`` says why).
      why: ``{name: reason}`` for each name without an interval.
      note: how the seeds were redrawn (printed once under the table).
      dof: ``{name: degrees of freedom}`` of each interval's t widening (``widen="t"``; empty
        with "sqrt"): Welch-Satterthwaite's, or the fewest point's k - 1 where the note says so.
    """
    intervals: dict[str, tuple[float, float]]
    why: dict[str, str]
    note: str
    dof: dict[str, float] = dataclasses.field(default_factory=dict)

    def text(self, name: str) -> str:
        """What a script prints after ``name``'s exponent: ", redrawn seeds [lo, hi]" or ", no
        interval over redrawn seeds (why)", as :func:`redrawn_seeds_text` does for a width fit;
        "" for a name the analysis did not give on the full records."""
        return _redrawn_text(self.intervals[name], self.why.get(name)) if name in self.intervals else ""


def redraw_table(records: Iterable[Record], table: Callable[[list[Record]], Mapping[str, float]], *,
                 resamples: int = SEED_RESAMPLES, paired: bool = False, seed: int = 0,
                 level: float = 0.95, widen: str = "sqrt") -> RedrawnTable:
    """Intervals over redrawn seeds for exponents that a whole analysis fits, e.g. a
    compute-optimal frontier's, which no one width curve carries.

    ``table(records)`` runs the analysis (mean curves over seeds, frontier, fits) and gives
    ``{name: exponent}`` (nan or a missing name: no fit). It is rerun on ``resamples`` sets of
    records in which each point's finished replicates (the records that differ only in
    ``seed`` or ``label`` and did not diverge) are drawn with replacement, on their own or,
    ``paired``, one draw of seeds for every point, the seeds every point finished (models that
    share their draws across points, whose seeds are the independent units; a point whose models
    all diverged takes no part); a diverged model (and in a paired redraw, a seed some point did
    not finish) is kept as it is in every rerun: the analysis decides what to do with it, and
    where it still uses its outputs (compute_optimal.py averages every model's ridgeless loss)
    their noise is not in the intervals, which the note's count of kept models flags. The
    percentile intervals of the reruns' exponents are widened about their median by
    sqrt(k / (k - 1)), k the fewest finished replicates of a point (the seeds redrawn,
    paired): a mean of k draws with replacement varies (k - 1) / k as much as the mean itself
    (the expanded percentile interval; :func:`width_exponent`'s seed bootstrap widens each
    point's replicates' spread instead, which an analysis of whole records does not allow). A
    point of k' > k finished models draws (k' - 1) k / (k - 1) of them (rounded; the analysis
    sees more records there than models, repeats as in any redraw): its redrawn mean then
    varies (k - 1) / k as much as its own mean too, so the one widening fits every point
    (drawn k' of their own, those points had varied less than it assumes, and the intervals
    came out wider than :func:`width_exponent`'s). Where such a point also holds diverged
    models, which the analysis may average in, it draws the whole multiple j k' nearest that
    (at least k') instead and repeats each diverged model j times, so that they keep their
    share of its mean (j = 1 draws k', as before); this assumes an analysis that averages a
    point's records. A point of more models costs its analysis more records per rerun (about
    twice, at k = 2).

    ``widen="t"`` widens each interval further, by t / z: Student's t quantile over the normal
    one, on the Welch-Satterthwaite degrees of freedom of the exponent's redrawn variance. Each
    point's part of that variance is taken from a least-squares regression of the reruns'
    exponent on how often each model was drawn (the analysis's linear influence of each model),
    and is estimated from its k finished models (k - 1 degrees of freedom); paired, from the k
    seeds redrawn, k - 1. Where the finite reruns are fewer than the models redrawn plus 20,
    there are too few to regress on, and the fewest a point gives, min(k) - 1, the least
    Welch's can be (the most widening), is used instead, as the note says; it also says where
    the draws explain less than 90 % of the reruns' variance (an analysis far from linear in
    its records, whose split into parts is rough). With the default "sqrt" the intervals cover
    less than their level where points hold 2-4 seeds (77-89 % at 95 % in simulation, study 7
    of benchmarks/fit_calibration.py); with "t" they covered 91-98 % there (94-98 % where every
    point holds the same count), their median half-widths 1.03-1.23x the 1.96 sd they aim at
    with 4-8 seeds, 2.0-2.7x with 2 and 1.4-2.0x with 2 at some points and 8-32 at others (the
    plain ones: 0.75-0.98x).

    Every rerun is the analysis on the host, one at a time: ``resamples`` times its cost (a
    compute-optimal table of 6 widths took about 6 ms on a 2-core CPU, the power-law
    random-feature one about 35 ms).

    Raises:
      TypeError, ValueError: a bad argument, or ``paired`` with a seed twice at one point.

    Returns:
      A :class:`RedrawnTable`. No name gets an interval where a point has one finished model
      (its seed noise invisible to the redraw; paired: fewer than two seeds every point
      finished). A name gets none where more than (1 - level) / 2 of the reruns gave no fit
      (leaving them out could move an end; fewer are left out and counted in ``note``), or
      where the reruns gave fewer than 3 distinct values (an exponent that moves in steps, as
      a frontier's optimum that takes only the grid's widths; under 10 are counted in
      ``note``).
    """
    if not callable(table):
        raise TypeError(f"table={table!r}; table must be a function of a list of records giving {{name: exponent}}")
    resamples = check_int("resamples", resamples, 1)
    seed = check_seed(seed)
    if not isinstance(paired, (bool, np.bool_)):
        raise TypeError(f"paired={paired!r}; paired must be True or False")
    _, _, level = _check_bootstrap(0, 0, level)
    check_widen(widen)
    why = _too_few_resamples(resamples, level)
    if why:
        raise ValueError(f"resamples={resamples}; {why}")
    records = list(records)
    if not records or not all(isinstance(r, Record) for r in records):
        raise TypeError("records must be a non-empty sequence of sweep Records (e.g. a SweepResult)")
    groups: dict[str, list[Record]] = {}
    for i, r in enumerate(records):
        try:  # (one spelling of a point: a numpy scalar and a Python number, -1 and -1.0, are one point)
            key = json.dumps(_canonical({k: v for k, v in r.point.items() if k not in ("seed", "label")}),
                             sort_keys=True)
        except TypeError as e:
            raise TypeError(f"records[{i}].point={short_repr(r.point, 80)}: {e}; a point's fields must be JSON "
                            f"values") from None
        groups.setdefault(key, []).append(r)
    # each point's finished models, in seed order (so that the draws do not depend on the records' order);
    # a diverged model is kept as it is in every rerun (the analysis decides what to do with it)
    def label(r: Record) -> str:  # (a seed as the label it is, in one spelling)
        return repr(r.point.get("seed", 0))

    order = sorted(groups)
    finished = [sorted((r for r in groups[k] if not r.diverged), key=lambda r: (label(r), r.model_id)) for k in order]
    fixed = [r for k in order for r in groups[k] if r.diverged]
    names = list(table(records))
    nan = (math.nan, math.nan)

    def none(reason: str) -> RedrawnTable:
        return RedrawnTable({k: nan for k in names}, {k: reason for k in names}, "no redraw: " + reason)

    if all(len(groups[k]) < 2 for k in order):
        return none("one model per point (a sweep of one seed): no seed noise to redraw (sweep more seeds)")
    redrawn = [g for g in finished if g]  # (a point whose models all diverged has none to redraw)
    if not redrawn:
        return none("every model diverged: no finished model to redraw")
    rng = np.random.default_rng([seed, 0x5EED, 2])
    if paired:
        labels = [[label(r) for r in g] for g in redrawn]
        for k, g in zip(order, finished):
            if len({label(r) for r in g}) != len(g):
                raise ValueError(f"paired=True needs one model per seed at each point; {_point_text(groups, k)} "
                                 f"repeats a seed: give each replicate its own seed, or leave paired out")
        shared = sorted(set.intersection(*map(set, labels)))
        left = len(set().union(*map(set, labels))) - len(shared)
        dropped = f"; {left} seed(s) left out, not finished at every point" if left else ""
        if len(shared) < 2:
            return none(f"{len(shared)} seed(s) finished at every point, and a paired redraw needs two{dropped}")
        fixed += [r for g in redrawn for r in g if label(r) not in shared]
        columns = [[next(r for r in g if label(r) == s) for s in shared] for g in redrawn]
        fewest = len(shared)
        draws = rng.integers(0, fewest, size=(resamples, fewest))
        picks = [fixed + [c[i] for c in columns for i in row] for row in draws]
        what = f"one draw of the {fewest} seeds every point finished, for every point"
        drawn = counts = None  # (one set of seeds: fewest - 1 degrees of freedom)
    else:
        lone = [k for k, g in zip(order, finished) if len(g) == 1]
        if lone:
            return none(f"{_point_text(groups, lone[0])} has one finished model ({len(groups[lone[0]]) - 1} diverged), "
                        f"whose seed noise redrawing cannot see")
        fewest = min(map(len, redrawn))
        # a mean of d draws with replacement from k models varies (k - 1) / d times as much as their own mean
        # (s^2 / k): (k - 1) / k at d = k, which the widening below undoes for the fewest k. A point of more
        # finished models draws d = (k - 1) fewest / (fewest - 1) of them (to the nearest), so that every point's
        # redrawn mean varies as the fewest's does and the one widening is right for all (drawn k of their own,
        # they had varied less than it assumes, and the intervals came out wider than width_exponent's per-width
        # widening gives: benchmarks/fit_calibration.py study 7). A point that also holds diverged models, kept
        # as they are (an analysis may average them in, as compute_optimal's ridgeless losses), draws a whole
        # multiple (times) k of its finished ones and repeats its kept ones as often, so that they keep their
        # share of its mean (times = 1: k, as before, where the nearest multiple is k)
        kept = [[r for r in groups[k] if r.diverged] for k, g in zip(order, finished) if g]
        sizes, repeats = [], []
        for g, diverged in zip(redrawn, kept):
            d = len(g) if len(g) == fewest else (len(g) - 1) * fewest / (fewest - 1)
            times = max(1, round(d / len(g))) if diverged else 1
            sizes.append(times * len(g) if diverged else round(d))
            repeats += diverged * (times - 1)
        per_group = [rng.integers(0, len(g), size=(resamples, d)) for g, d in zip(redrawn, sizes)]
        picks = [fixed + repeats + [g[i] for g, d in zip(redrawn, per_group) for i in d[j]] for j in range(resamples)]
        more = "+" if max(map(len, redrawn)) > fewest else ""
        what, dropped = f"each point's {fewest}{more} finished models on their own", ""
        # for widen="t": how often each model was drawn in each rerun, [resamples, models], and each point's models
        drawn = counts = None
        if widen == "t":
            drawn = np.concatenate([(d[:, :, None] == np.arange(len(g))).sum(axis=1)
                                    for g, d in zip(redrawn, per_group)], axis=1)
            counts = np.array([len(g) for g in redrawn])
    values = np.full((resamples, len(names)), np.nan)
    for j, chosen in enumerate(picks):
        out = table(chosen)
        values[j] = [float(out.get(k, math.nan)) for k in names]
    spread = math.sqrt(fewest / (fewest - 1))
    intervals, whys, missing, coarse, dofs = {}, {}, {}, {}, {}
    for c, name in enumerate(names):
        col = values[:, c][np.isfinite(values[:, c])]
        gone, distinct = resamples - col.size, np.unique(col).size
        if gone > resamples * (1 - level) / 2:
            whys[name] = (f"{gone} of {resamples} redrawn sets of seeds gave no fit, too many to leave out of a "
                          f"{100 * level:g}% interval")
        elif _too_few_resamples(col.size, level):
            whys[name] = (f"{col.size} of {resamples} redrawn sets of seeds gave a fit, fewer than a {100 * level:g}% "
                          f"interval needs: redraw more")
        elif distinct < 3:  # (e.g. an optimum that takes only the grid's widths and never moved)
            whys[name] = (f"the redrawn sets of seeds gave {distinct} distinct value(s): the exponent moves in steps "
                          f"too coarse for an interval")
        if name in whys:
            intervals[name] = nan
            continue
        if gone:
            missing[name] = gone
        if distinct < 10:
            coarse[name] = distinct
        lo, hi = _percentile_intervals(col[:, None], ["x"], level)["x"]
        factor = spread
        if widen == "t":
            dofs[name] = (_redrawn_dof(values[:, c], drawn, counts) if not paired
                          else (float(fewest - 1), 1.0))
            factor *= _t_factor(level, dofs[name][0])
        intervals[name] = _widened(col, lo, hi, factor)
    uneven = not paired and max(map(len, redrawn)) > fewest
    note = (f"{100 * level:g}% intervals over {resamples} redraws of {what}, the analysis rerun on each, widened "
            f"by sqrt(k / (k - 1)) = {spread:.3f} for k = {fewest}"
            + (", the fewest at a point (a point of k' > k finished models draws (k' - 1) k / (k - 1) of them, "
               "rounded, so that its redrawn mean varies as much as the fewest's, relative to its own; one that also "
               "holds diverged models draws a whole multiple of k' and repeats them as often)" if uneven else "")
            + dropped)
    if dofs:
        note += ("; and by t / z on the degrees of freedom of the redrawn spread ("
                 + ("the seeds redrawn together" if paired else "Welch-Satterthwaite, each point's part from "
                    "the reruns' regression on the draws") + "): "
                 + ", ".join(f"{k} {v:.3g}" + (" (the fewest point's: too few reruns to regress on)" if r2 is None else
                                               f" (the draws explain {100 * r2:.0f} % of its reruns' variance: a "
                                               f"rough split)" if r2 < 0.9 else "")
                             for k, (v, r2) in dofs.items()))
    if fixed:
        note += (f"; {len(fixed)} model(s) kept as they are in every redraw (diverged, or a seed left out): where "
                 f"the analysis uses them, their noise is not in the intervals")
    if missing:
        note += "; redraws without a fit, left out: " + ", ".join(f"{k} {n}" for k, n in missing.items())
    if coarse:
        note += ("; few distinct values over the redraws, so a rough interval: "
                 + ", ".join(f"{k} {n}" for k, n in coarse.items()))
    if fewest <= 4:
        note += f"; with {fewest} seeds a point's redrawn mean takes few values, and the interval is a rough one"
    return RedrawnTable(intervals, whys, note, {k: v for k, (v, _) in dofs.items()})


# the finite reruns beyond one per model redrawn that redraw_table's regression on the draws needs (at
# 100 reruns of 49 models, seeds 32, 11, 2, 2, 2, its degrees of freedom were within 0.58-1.44x
# width_exponent's closed form's, median 1.00, and 0.81-1.20x at 400: benchmarks/fit_calibration.py study 7,
# benchmarks/RESULTS.md)
_SPARE_RERUNS = 20


def _redrawn_dof(values: np.ndarray, drawn: np.ndarray, counts: np.ndarray) -> tuple[float, float | None]:
    """The Welch-Satterthwaite degrees of freedom of one exponent's redrawn variance, and the
    regression's R^2 (None: too few finite reruns to regress on, and the dof min(k) - 1, the
    fewest Welch's can be, so the most widening). ``values`` [resamples] (nan: no fit),
    ``drawn`` [resamples, models] how often each model was drawn, ``counts`` each point's
    models, in ``drawn``'s column order."""
    ok = np.isfinite(values)
    if ok.sum() < drawn.shape[1] + _SPARE_RERUNS:
        return float(np.min(counts) - 1), None
    x = drawn[ok] - drawn[ok].mean(axis=0)
    y = values[ok] - values[ok].mean()
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    edges = np.cumsum(counts)[:-1]
    parts = [np.var(xp @ bp, ddof=1) for xp, bp in zip(np.split(x, edges, axis=1), np.split(beta, edges))]
    explained = 1.0 - np.var(y - x @ beta) / np.var(y) if np.var(y) > 0 else 1.0
    return welch_dof(parts, counts), float(explained)


def _point_text(groups: Mapping[str, list[Record]], key: str) -> str:
    """A point of :func:`redraw_table`'s groups (keyed by their canonical JSON) named by the
    fields in which the points differ ("N = 8, T = 64"), or "the point" where none does."""
    points = {k: json.loads(k) for k in groups}
    fields = sorted(set().union(*points.values()))
    varying = [f for f in fields if len({json.dumps(p.get(f), sort_keys=True) for p in points.values()}) > 1]
    return ", ".join(f"{f} = {points[key].get(f)!r}" for f in varying) or "the point"


# one compiled program per (resamples, widths) shape; applied op by op instead, the refit cost
# ~13 ms a call (benchmarks/fit_calibration.py study 3, 1,200 calls of 400 resamples: 24.9 s op
# by op, 9.7 s jitted)
_resampled_ols = jax.jit(jax.vmap(_ols, in_axes=(None, 0, None)))


def _spread_out(v: np.ndarray, axis: int = 0) -> np.ndarray:
    """Replicates spread about their mean by sqrt(k / (k - 1)), so that a resampled mean's
    variance is s^2 / k, not the plug-in (k - 1)/k of it (half, at 2 seeds)."""
    k = v.shape[axis]
    if k < 2:
        return v
    mean = v.mean(axis=axis, keepdims=True)
    return mean + (v - mean) * math.sqrt(k / (k - 1))


def check_widen(widen: Any, name: str = "widen") -> str:
    """``widen`` (an argument called ``name``) if it names one of :data:`WIDENINGS`, else a
    TypeError or ValueError saying what is allowed."""
    if not isinstance(widen, str):
        raise TypeError(f"{name}={short_repr(widen, 80)}; {name} must be a string, one of {list(WIDENINGS)}")
    if widen not in WIDENINGS:
        raise ValueError(f"{name}={widen!r}; {name} must be 'sqrt' (each point's spread by sqrt(k / (k - 1)) "
                         f"only) or 't' (also by Student's t over the normal quantile, on the Welch-Satterthwaite "
                         f"degrees of freedom of the redrawn spread)")
    return widen


def _check_bootstrap_widen(widen: Any, seed_bootstrap: int) -> str:
    """``widen`` checked as :func:`check_widen` does, and refused other than "sqrt" without a
    ``seed_bootstrap`` (it says how that bootstrap's intervals are widened)."""
    check_widen(widen)
    if widen != "sqrt" and not seed_bootstrap:
        raise ValueError(f"widen={widen!r} without seed_bootstrap; widen says how the seed bootstrap's intervals are "
                         f"widened: give seed_bootstrap=R too")
    return widen


def welch_dof(parts: Any, counts: Any) -> float:
    """Welch-Satterthwaite degrees of freedom of a variance that is a sum of independent parts,
    part i estimated from ``counts[i]`` replicates (``counts[i] - 1`` degrees of freedom):
    (sum V_i)^2 / sum V_i^2 / (k_i - 1). Between min(k_i) - 1, where one part dominates, and
    sum(k_i - 1), where the parts are alike; inf where every part is 0 (no spread to estimate).

    Args:
      parts: the parts V_i, finite and >= 0.
      counts: the replicates k_i behind each, integers >= 2.
    """
    try:
        v = np.asarray(parts, float).ravel()
    except (TypeError, ValueError):  # (numpy's "could not convert string to float" had named no argument)
        raise TypeError(f"parts={short_repr(parts, 80)}; parts must be numbers, the variance parts") from None
    k = np.asarray(counts).ravel()
    if v.size != k.size or not v.size:
        raise ValueError(f"parts has {v.size} values and counts {k.size}; give one count per part, at least one")
    if not np.issubdtype(k.dtype, np.integer) or np.any(k < 2):
        raise ValueError(f"counts={k.tolist()}; each part's replicates must be an integer >= 2 (one replicate "
                         f"estimates no spread)")
    if not np.all(np.isfinite(v) & (v >= 0)):
        raise ValueError(f"parts={v.tolist()}; variance parts must be finite and >= 0")
    total = v.sum()
    return float(total**2 / np.sum(v**2 / (k - 1))) if total > 0 else math.inf


@dataclasses.dataclass(frozen=True)
class LackOfFit:
    """Whether a width curve's means bend away from its fitted power law by more than their
    seed noise: :func:`lack_of_fit`'s result.

    Attributes:
      ratio: the means' squared residuals about the line over what seed noise alone would
        leave (its numerator averages that where L = C m^-a holds, so the ratio sits near 1 or,
        as F's median, below it; a bend adds to it).
      dof: (the residuals', the noise estimate's) degrees of freedom: Satterthwaite's for the
        residuals' quadratic form; Welch's for the estimate, or (k - 1) times the first where
        the seeds are paired.
      p_value: the chance of a ratio at least this large under the power law (F on ``dof``).
      n_widths: widths (sizes, for another ``axis``) tested: those of the fit, each with two or
        more models.
      axis: the name of the curve's size (``lack_of_fit``'s ``axis``): the text counts widths
        for "m", sizes for any other.
    """

    ratio: float
    dof: tuple[float, float]
    p_value: float
    n_widths: int
    axis: str = "m"

    def brief(self) -> str:
        """The short form a script prints after a fit's line: "lack of fit: p = ... (ratio ...)"."""
        return f"lack of fit: p = {self.p_value:.3f} (ratio {self.ratio:.3g})"

    def __str__(self) -> str:
        return (f"lack of fit: the means' squared residuals about the line are {self.ratio:.3g}x what their seed "
                f"noise predicts (F on {self.dof[0]:.3g} and {self.dof[1]:.3g} degrees of freedom, "
                f"p = {self.p_value:.3g}, {self.n_widths} {_size_word(self.axis)}s)")


class NotTestableError(ValueError):
    """A width curve gives :func:`lack_of_fit` nothing to test: under three widths in the fit,
    a width with one model, no seed spread at any width, or (paired) seeds not shared by every
    width. The data's fault, not the call's: a script reports it and goes on."""


def lack_of_fit(curve: WidthCurve, fit: PowerLawFit, paired: bool = False, axis: str = "m") -> LackOfFit:
    """Tests a width curve's power law against its replicate seeds: do the means depart from
    the fitted line (``fit``, :func:`width_exponent`'s closed-form fit of ``curve``, over its
    ``x_range``) by more than the seed noise each width's models show?

    A bent curve (an approach to a plateau, a change of slope) is counted by the fit as noise:
    its standard error and t-interval grow, and its exponent depends on the widths chosen. Here
    the residuals r of the log means about the line are set against the variance seed noise
    alone would give them: tr((I - H) V (I - H)) = sum (1 - h_i) v_i, with v_i = s_i^2 / (k_i
    L_i^2) the delta-method variance of width i's log mean (s_i the sd of its k_i models, L_i
    their mean) and h_i its leverage in the line. The residuals' part averages 1 where the power
    law holds; the ratio's median is lower (about 0.55 with three widths, 0.7-0.95 with five, in
    study 8). Its p-value is F's on Satterthwaite's degrees of freedom for the residuals'
    quadratic form and Welch's for the noise estimate (each width's part on k_i - 1):
    normal-theory approximations whose calibration with few seeds is measured in
    benchmarks/fit_calibration.py (study 8: 2.0-6.0 % of straight curves rejected at 5 %).

    ``paired``: the models share their draws across widths (``TrainConfig.common_across`` with
    "m", as :func:`width_exponent`'s ``paired``), so a seed's level is common to every width and
    the means are correlated: V is then the k seeds' covariance of each width's models relative
    to its mean, over k (the seeds every width must have), and the noise estimate's degrees of
    freedom (k - 1) times the residuals'. Treated as independent, such a curve's shared level
    (which the line's intercept absorbs) would be counted as noise, and a bend hidden.

    ``axis`` names the curve's size in messages, as :func:`width_exponent`'s does ("m": a width).

    Raises:
      TypeError: ``curve`` not a WidthCurve, or ``fit`` not a PowerLawFit.
      ValueError: ``fit`` not the closed-form line of this curve (an offset, another loss,
        another curve's widths or exponent), or non-finite values.
      NotTestableError: fewer than three widths in the fit, a width there with fewer than two
        models, no seed spread at any width, or (``paired``) seeds not shared by every width.
    """
    if not isinstance(curve, WidthCurve):
        raise TypeError(f"curve is a {type(curve).__name__}; lack_of_fit tests a WidthCurve against its fit")
    if not isinstance(fit, PowerLawFit):
        raise TypeError(f"fit is a {type(fit).__name__}; give the PowerLawFit of width_exponent(curve)")
    if not isinstance(paired, (bool, np.bool_)):
        raise TypeError(f"paired={paired!r}; paired must be True or False")
    size = _size_word(axis)
    if fit.fit_offset or fit.loss != "squared":
        raise ValueError(f"fit has offset={fit.fit_offset}, loss={fit.loss!r}; lack_of_fit tests the straight line in "
                         f"log-log that width_exponent fits by default (offset=False, loss='squared')")
    lo, hi = fit.x_range
    keep = (curve.widths >= lo) & (curve.widths <= hi)
    m, mean = curve.widths[keep].astype(float), curve.loss[keep].astype(float)
    values = [np.asarray(v, float) for v, k in zip(curve.values, keep) if k] if curve.values else []
    if m.size != fit.n_points:
        raise ValueError(f"fit has {fit.n_points} points over {_size_text(lo)}..{_size_text(hi)}, the curve {m.size} "
                         f"{size}s there; give the fit of this curve (width_exponent(curve))")
    if m.size < 3:
        raise NotTestableError(f"{m.size} {size}(s) in the fit's range {_size_text(lo)}..{_size_text(hi)}; a line "
                               f"through two points leaves no residual to test: give at least 3")
    if len(values) != m.size or any(v.size < 2 for v in values):
        few = [_size_text(w) for w, v in zip(m, values) if v.size < 2] if len(values) == m.size else []
        raise NotTestableError(f"lack_of_fit compares the means with their seed noise, so every {size} needs two or "
                               f"more models" + (f"; {axis} = {', '.join(few)} has one" if few else " (this curve "
                                                 "keeps no values: make it with width_curve, or "
                                                 "WidthCurve.from_values)"))
    if not all(np.all(np.isfinite(v)) for v in values) or np.any(mean <= 0):
        raise ValueError("the curve's values must be finite with every mean > 0 (the line is fitted to log L)")
    X = np.stack([np.ones(m.size), np.log(m)], axis=1)
    resid = np.eye(m.size) - X @ np.linalg.pinv(X)  # (I - H): the line's residual maker
    r = resid @ np.log(mean)
    slope = -float(np.linalg.lstsq(X, np.log(mean), rcond=None)[0][1])
    if not math.isclose(slope, fit.exponent, rel_tol=1e-6, abs_tol=1e-9):
        raise ValueError(f"fit's exponent {fit.exponent:.6g} is not this curve's ({slope:.6g} over the same {size}s); "
                         f"give the fit of this curve (width_exponent(curve))")
    if paired:
        cov, k = _shared_seed_covariance(curve, keep, mean, axis)
    else:
        k = np.array([v.size for v in values])
        v = np.array([np.var(x, ddof=1) for x in values]) / (k * mean**2)
        cov = np.diag(v)
    noise = resid @ cov @ resid
    expected = float(np.trace(noise))
    # (1e-24: the models equal but for rounding, (1e-12 relative)^2; 1e-12 of the trace: shared draws whose every
    # seed moves all widths alike, a spread the line's intercept takes up entirely)
    if not expected > max(1e-24, 1e-12 * float(np.trace(cov))):
        raise NotTestableError(f"no seed spread at any {size} that the line does not take up (every {size}'s models "
                               f"agree, or with shared draws move together): nothing to set the residuals against")
    ratio = float(r @ r) / expected
    d1 = expected**2 / float(np.sum(noise * noise))
    dof = (d1, (k - 1) * d1) if paired else (d1, welch_dof(np.diag(resid) * v, k))
    return LackOfFit(ratio, (float(dof[0]), float(dof[1])), _f_survival(ratio, *dof), int(m.size), axis)


def script_lack_of_fit(curve: WidthCurve, fit: PowerLawFit, config: Any = None) -> LackOfFit | None:
    """The lack-of-fit test a script prints under a fit: :func:`lack_of_fit`, paired where
    ``config`` shares its models' draws across m (as :func:`seed_redraw` pairs the seeds);
    None where the curve gives nothing to test (:class:`NotTestableError`: under three widths,
    a width of one model, no spread)."""
    try:
        return lack_of_fit(curve, fit, paired=_shares_widths(config))
    except NotTestableError:
        return None


def holm_adjusted(p_values: Any) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values of a family of tests (a phase diagram's cells,
    a script's curves): rejecting where the adjusted p is below a level keeps the chance of any
    false rejection in the family at or below that level, whatever the tests' dependence.

    The n finite p-values, sorted p_(1) <= ... <= p_(n), become max_{j <= i} min(1,
    (n - j + 1) p_(j)); the smallest is Bonferroni's n p_(1). NaN entries (untested: see
    :func:`script_lack_of_fit`), and a masked array's masked ones, are NaN in the result and do
    not count in n.

    Args:
      p_values: array-like of p-values in [0, 1] or NaN, any shape.

    Returns:
      The adjusted p-values, float64, in ``p_values``' shape.
    """
    if np.ma.isMaskedArray(p_values):  # (a masked entry: untested)
        p_values = np.ma.asarray(p_values, dtype=float).filled(np.nan)
    try:  # (a ragged list, text, None: no array of numbers; a None inside a list, JSON's null, is NaN)
        # (booleans too: reject flags passed where p-values belong would read as p = 1 and 0)
        text = p_values is None or isinstance(p_values, (str, bytes)) or np.asarray(p_values).dtype.kind in "USVb"
        p = None if text else np.asarray(p_values, dtype=float)
    except (TypeError, ValueError):
        p = None
    if p is None or not np.all(np.isnan(p) | ((p >= 0) & (p <= 1))):
        raise ValueError(f"p_values={short_repr(p_values, 80)}; p-values must be numbers in [0, 1], or NaN for an "
                         f"untested entry")
    out = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    q = p[tested]
    order = np.argsort(q, kind="stable")
    stepped = np.empty(q.size)
    stepped[order] = np.minimum(1.0, np.maximum.accumulate((q.size - np.arange(q.size)) * q[order]))
    out[tested] = stepped
    return out


def holm_family_text(tests: dict[str, dict | None], what: tuple[str, str] = ("curve", "curves")) -> str:
    """Holm's adjustment (:func:`holm_adjusted`) over a script's lack-of-fit tests, ``{label:
    the saved test (a dict with "p_value", as ``dataclasses.asdict`` of a :class:`LackOfFit`
    gives) or None (untested)}``: each tested dict gains "p_holm", in place; returns the line
    the script prints under them (``what``: what was tested, singular and plural), naming the
    label of the smallest raw p (Holm's running maximum can tie the smallest adjusted ones), or
    "" where none was tested."""
    # (a NaN or null p: untested, as holm_adjusted has it; it had been counted, "smallest nan", or raised on None)
    tested = [label for label, test in tests.items() if test and _real_number(test.get("p_value"))
              and math.isfinite(test["p_value"])]
    for label, test in tests.items():
        if test and label not in tested:
            test["p_holm"] = math.nan
    if not tested:
        return ""
    for label, p in zip(tested, holm_adjusted([tests[label]["p_value"] for label in tested])):
        tests[label]["p_holm"] = float(p)
    least = min(tested, key=lambda label: tests[label]["p_value"])
    return (f"lack of fit, Holm-adjusted over the {len(tested)} {what[len(tested) > 1]} tested: p < 0.05 in "
            f"{sum(tests[label]['p_holm'] < 0.05 for label in tested)} (smallest {tests[least]['p_holm']:.3g}, "
            f"{least})")


def _shared_seed_covariance(curve: WidthCurve, keep: np.ndarray, mean: np.ndarray,
                            axis: str = "m") -> tuple[np.ndarray, int]:
    """(the covariance of the widths' log means, the seeds k) for models sharing their draws
    across the ``keep`` widths: each seed's values relative to their width's mean, their
    covariance over the k seeds (ddof 1), over k. Every width must hold the same seeds, each once."""
    if len(curve.seeds) != curve.widths.size:
        raise ValueError("paired=True needs the curve's replicate seeds (WidthCurve.seeds, one per value): make it "
                         "with width_curve, or WidthCurve.from_values(..., seeds=...)")
    rows = []
    for w, labels, values in ((w, s, v) for w, s, v, k in zip(curve.widths, curve.seeds, curve.values, keep) if k):
        by_seed = dict(zip(np.asarray(labels).tolist(), np.asarray(values, float)))
        if len(by_seed) != np.size(values):
            raise ValueError(f"paired=True needs one model per seed at each {_size_word(axis)}; {axis} = "
                             f"{_size_text(w)} has a seed twice")
        rows.append(by_seed)
    seeds = set(rows[0])
    if any(set(row) != seeds for row in rows):
        first, odd = curve.widths[keep][0], next(w for w, row in zip(curve.widths[keep], rows) if set(row) != seeds)
        raise NotTestableError(f"paired=True needs the same seeds at every {_size_word(axis)} of the fit; {axis} = "
                               f"{_size_text(first)} and {_size_text(odd)} hold different ones (a model diverged, or "
                               f"was not swept)")
    order = sorted(seeds, key=repr)
    Y = np.array([[row[s] for s in order] for row in rows]) / mean[:, None]
    return np.cov(Y, ddof=1) / len(order), len(order)


@_float64
def _f_survival(x: float, d1: float, d2: float) -> float:
    """P(F > x) for F on (d1, d2) degrees of freedom: I_y(d2 / 2, d1 / 2), y = d2 / (d2 + d1 x).
    (d2 is finite here: lack_of_fit refuses a noise estimate of 0, the only case Welch's is inf.)"""
    return float(jax.scipy.special.betainc(d2 / 2, d1 / 2, d2 / (d2 + d1 * x)))


def _t_factor(level: float, dof: float) -> float:
    """Student's t quantile on ``dof`` degrees of freedom over the normal one, at ``level``
    (two-sided): the widening of a normal-theory interval whose variance is estimated; 1 at
    infinite (or undefined) ``dof``."""
    if not dof < math.inf:
        return 1.0
    q = (1 + level) / 2
    return float(t_quantile(q, dof)) / statistics.NormalDist().inv_cdf(q)


def _widened(col: np.ndarray, lo: float, hi: float, factor: float) -> tuple[float, float]:
    """(lo, hi) widened about the median of the finite resamples ``col`` by ``factor``."""
    col = col[np.isfinite(col)]
    if not (math.isfinite(lo) and math.isfinite(hi)) or not col.size:
        return lo, hi
    mid = float(np.median(col))
    return mid - factor * (mid - lo), mid + factor * (hi - mid)


def _seed_bootstrap(fit: PowerLawFit, m: np.ndarray, values: list[np.ndarray], resamples: int, seed: int,
                    size: str, widen: str = "sqrt") -> PowerLawFit:
    """``fit`` with intervals from refitting curves whose widths' replicates are redrawn."""
    rng = np.random.default_rng([seed, 0x5EED])
    means = np.stack([v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
                      for v in map(_spread_out, values)], axis=1)
    reps = sorted({int(v.size) for v in values})
    count = f"{reps[0]}-{reps[-1]}" if len(reps) > 1 else f"{reps[0]}"
    what = f"intervals resample each {size}'s seeds ({count} per {size}, {resamples} times)"
    return _refit_resamples(fit, m, means, what, reps[0], size, widen=widen,
                            counts=np.array([v.size for v in values]))


def _paired_seed_bootstrap(fit: PowerLawFit, m: np.ndarray, loss: np.ndarray, values: list[np.ndarray],
                           seeds: list[np.ndarray], resamples: int, seed: int, where: str, size: str,
                           widen: str = "sqrt") -> PowerLawFit:
    """``fit`` with intervals from refitting curves whose seeds are redrawn together: one set of
    seeds, each width's models of those seeds (the seeds every width has). A redrawn curve is
    the fitted means ``loss`` plus the redrawn seeds' mean deviation from their own means, so
    that a seed missing at one width, which moves that width's mean, moves the interval too."""
    shared = sorted(set.intersection(*(set(s.tolist()) for s in seeds)), key=repr)
    left = sorted(set().union(*(set(s.tolist()) for s in seeds)) - set(shared), key=repr)
    dropped = (f"; seed(s) {left[:10]}{'...' if len(left) > 10 else ''} left out: not at every {size}{where} (diverged "
               f"or not swept)") if left else ""
    if len(shared) < 2:
        return without_seed_intervals(fit, resamples, f"{len(shared)} seed(s) at every {size}{where}, and a paired "
                                      f"redraw needs two{dropped}", paired=True)
    # [seeds, widths], each width's models in the shared seeds' order
    position = [{k: i for i, k in enumerate(s.tolist())} for s in seeds]  # (list.index had made this quadratic)
    table = np.stack([np.asarray(v)[[at[k] for k in shared]] for v, at in zip(values, position)], axis=1)
    rng = np.random.default_rng([seed, 0x5EED, 1])
    deviations = _spread_out(table) - table.mean(axis=0)
    means = loss + deviations[rng.integers(0, len(shared), size=(resamples, len(shared)))].mean(axis=1)
    what = f"intervals redraw the seeds together at every {size} ({len(shared)} seeds, {resamples} times){dropped}"
    return _refit_resamples(fit, m, means, what, len(shared), size, calibrated=False, widen=widen)


def _refit_resamples(fit: PowerLawFit, m: np.ndarray, means: np.ndarray, what: str, fewest: int, size: str,
                     calibrated: bool = True, widen: str = "sqrt", counts: np.ndarray | None = None) -> PowerLawFit:
    """``fit`` with the percentile intervals of the closed-form fits to resampled means
    [resamples, widths], and a note (``what`` it resampled, and how their spread compares);
    ``calibrated``: quote the coverage measured for independent draws. ``widen="t"`` widens
    them by t / z on the Welch-Satterthwaite degrees of freedom of each width's part of the
    variance (``counts``: each width's replicates, independent draws; None: the ``fewest``
    seeds redrawn together, fewest - 1 degrees of freedom)."""
    resamples = means.shape[0]
    with jax.enable_x64(True):  # the closed-form fit fit_power_law makes, on every resampled curve
        lx, ones = jnp.log(jnp.asarray(m, jnp.float64)), jnp.ones(m.size, jnp.float64)
        log_c, exponent = (np.asarray(v) for v in _resampled_ols(lx, jnp.log(jnp.asarray(means)), ones))
    samples = np.stack([np.exp(log_c), exponent], axis=1)
    intervals = _percentile_intervals(samples, ["prefactor", "exponent"], fit.level)
    finite = exponent[np.isfinite(exponent)]
    spread = float(np.std(finite, ddof=1)) if finite.size > 1 else math.nan
    note = f"{what}; their exponent sd {spread:.3g}"
    se = fit.stderr["exponent"]
    if np.isfinite(spread) and np.isfinite(se) and not spread <= 2 * se:
        note += f" is more than twice the fit's stderr {se:.3g}: the means lie closer to a line than their noise"
    if widen == "t":
        # log C and the exponent are linear in the log means: rows of the least-squares solve, each width's part
        # of their variance its weight squared times its redrawn log mean's variance
        ok = np.all(means > 0, axis=1)
        weights = np.linalg.pinv(np.stack([np.ones(m.size), np.log(np.asarray(m, float))], axis=1))
        log_var = np.var(np.log(means[ok]), axis=0, ddof=1) if ok.sum() > 1 else np.full(m.size, math.nan)
        # (no finite variance: fewer than two resamples with every mean > 0, whose intervals are nan anyway)
        log_var = np.where(np.isfinite(log_var), log_var, 0.0)
        dof = {name: welch_dof(row**2 * log_var, counts) if counts is not None else fewest - 1.0
               for name, row in zip(("prefactor", "exponent"), weights)}
        factor = _t_factor(fit.level, dof["exponent"])
        lo, hi = intervals["exponent"]
        intervals["exponent"] = _widened(exponent, lo, hi, factor)
        lo, hi = intervals["prefactor"]
        if lo > 0:  # (in log space, where it is linear in the log means; nan: no interval to widen)
            lo, hi = _widened(log_c, math.log(lo), math.log(hi), _t_factor(fit.level, dof["prefactor"]))
            intervals["prefactor"] = (math.exp(lo), math.exp(hi))
        note += (f"; intervals widened about their median by t / z = {factor:.3g} on "
                 f"{dof['exponent']:.3g} degrees of freedom ("
                 + (f"Welch-Satterthwaite, from each {size}'s models; the prefactor's on its own, "
                    f"{dof['prefactor']:.3g}" if counts is not None else f"{fewest} seeds redrawn together") + ")")
    if fewest <= 4 and calibrated and widen == "t":
        note += (f"; with {fewest} seeds at a {size} the widened intervals covered 91-98 % at 95 % in simulation "
                 f"(benchmarks/fit_calibration.py studies 3 and 7)")
    elif fewest <= 4 and calibrated:
        # benchmarks/fit_calibration.py, study 3: 200 simulated curves per design of 3 or 5 widths
        note += (f"; with {fewest} seeds at a {size} a redrawn mean takes few values and the percentile intervals "
                 "cover less than their level (in simulation, at 95 % with 2-4 seeds: 77-89.5 %; "
                 "fit.t_interval(): 93.5-97 %)")
    elif fewest <= 4:
        note += (f"; with {fewest} seeds a redrawn curve takes few values, and the percentile intervals cover less "
                 f"than their level (by how much under shared draws is not measured)")
    if resamples - finite.size > resamples * (1 - fit.level) / 2:  # (as redraw_table: a one-sided loss)
        # (the lost resamples are the low tail's: the interval of the rest had been reported, cut on one side)
        return without_seed_intervals(fit, resamples, (
            f"{resamples - finite.size} of {resamples} resamples had a mean <= 0 at some {size} (replicates spread "
            f"so widely that widening them by sqrt(k / (k - 1)) crossed 0), too many to leave out of a "
            f"{100 * fit.level:g}% interval"), paired=not calibrated)
    if finite.size < resamples:
        # the widening can push a replicate far below its width's mean to or under 0
        note += (f"; {resamples - finite.size} of {resamples} resamples had a mean <= 0 at some {size} (replicates "
                 f"spread so widely that widening them by sqrt(k / (k - 1)) crossed 0) and were left out")
    return dataclasses.replace(fit, intervals=intervals, n_bootstrap=resamples, notes=fit.notes + (note,),
                               resampled="seeds")
