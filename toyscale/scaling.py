"""From sweep records to scaling curves: loss vs width and the width exponent alpha_m.

Liu, Liu & Gore (2025) fit L = C m^-alpha_m over a range of widths (Fig. 1, Fig. 4b).
These helpers gather the matching records of a sweep, average replicate seeds (diverged
models excluded and counted), and fit with :func:`toyscale.fitting.fit_power_law`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from toyscale.fitting import PowerLawFit, fit_power_law
from toyscale.sweep import Record, matching

__all__ = ["WidthCurve", "width_curve", "width_exponent"]


@dataclasses.dataclass(frozen=True)
class WidthCurve:
    """Mean test loss at each width for one setting of the other swept values.

    Attributes:
      widths: sorted distinct widths m with at least one finite model.
      loss: mean test loss over the finite replicate models at each width.
      loss_std: standard deviation over replicates (0 with a single seed).
      n_models: finite models averaged at each width.
      n_diverged: diverged models left out, over all widths.
      n_undefined: models that trained but whose measure is not finite, left out: an
        overlap moment with fewer than two represented rows, say. Never counted as diverged.
    """

    widths: np.ndarray
    loss: np.ndarray
    loss_std: np.ndarray
    n_models: np.ndarray
    n_diverged: int
    n_undefined: int = 0

    def to_dict(self) -> dict:
        return {"m": self.widths.tolist(), "loss": self.loss.tolist(), "loss_std": self.loss_std.tolist(),
                "n_models": self.n_models.tolist(), "n_diverged": self.n_diverged,
                "n_undefined": self.n_undefined}


def _listing(seen: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{k}: {', '.join(v[:8])}{' ...' if len(v) > 8 else ''}" for k, v in seen.items())


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
        seen = {k: sorted({repr(r.point.get(k)) for r in records}) for k in conditions}
        raise ValueError(f"no record matches {conditions}; values in the {len(records)} records: " + _listing(seen))
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


def width_curve(records: Iterable[Record], *, measure: str = "test_loss", **conditions: Any) -> WidthCurve:
    """Mean of ``measure`` vs width over the records whose point matches ``conditions``.

    Args:
      records: sweep records (e.g. a :class:`toyscale.sweep.SweepResult`).
      measure: the scalar output to average.
      **conditions: point fields to match, e.g. ``gamma=-1.0, frequencies=spec.describe()``
        (a frequency spec may also be given as the object, a partial dict or a kind name,
        as the sweep accepted it).

    Returns:
      A :class:`WidthCurve`.

    Raises:
      ValueError: if no record matches, the matching records of one width differ in a
        field other than ``seed`` and ``label`` (only replicates are averaged), or
        ``measure`` is not a scalar output.
    """
    records = list(records)
    chosen, conditions = _replicates(records, "m", conditions, measure=measure, where="width",
                                     call="width_curve(records, ")
    by_m: dict[int, list[float]] = {}
    diverged = undefined = 0
    for r in chosen:
        value = float(r[measure])
        if r.diverged or not np.isfinite(value):
            # a flagged model, or one whose loss itself is not finite, diverged; a finite model
            # can still have an undefined measure
            if r.diverged or not np.isfinite(float(r.outputs.get("test_loss", value))):
                diverged += 1
            else:
                undefined += 1
            continue
        by_m.setdefault(int(r.point["m"]), []).append(value)
    widths = np.array(sorted(by_m), dtype=np.int64)
    vals = [np.asarray(by_m[m]) for m in widths]
    return WidthCurve(
        widths=widths,
        loss=np.array([v.mean() for v in vals]),
        loss_std=np.array([v.std() for v in vals]),
        n_models=np.array([v.size for v in vals], dtype=np.int64),
        n_diverged=diverged,
        n_undefined=undefined,
    )


def width_exponent(curve: WidthCurve, *, fit_range: tuple[float, float] | None = None, **fit_options: Any) -> PowerLawFit:
    """Fits L = C m^-alpha_m to a width curve, optionally over ``fit_range`` = (m_min, m_max) only."""
    m, loss = curve.widths, curve.loss
    where = ""
    if fit_range is not None:
        try:
            lo, hi = (float(v) for v in fit_range)
        except (TypeError, ValueError):
            raise TypeError(f"fit_range={fit_range!r}; fit_range must be a pair (m_min, m_max) or None") from None
        if np.isnan(lo) or np.isnan(hi) or not lo <= hi:
            raise ValueError(f"fit_range={fit_range!r}; fit_range must be (m_min, m_max) with m_min <= m_max "
                             f"(either may be infinite)")
        keep = (m >= lo) & (m <= hi)
        m, loss = m[keep], loss[keep]
        where = f" inside fit_range={fit_range!r}"
    if m.size < 2:
        raise ValueError(f"{m.size} width(s) with a finite loss{where} (widths {curve.widths.tolist()}, "
                         f"{curve.n_diverged} diverged model(s) and {curve.n_undefined} with an undefined "
                         f"measure left out); a power law needs at least 2")
    return fit_power_law(m, loss, **fit_options)
