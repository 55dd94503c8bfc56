"""Figures: loss vs width with fitted power laws, the (gamma, alpha) phase diagram, the
superposition geometry, the random-feature regimes, ridge sweeps and compute-optimal frontiers.

Functions take plain arrays (or the small result types of :mod:`toyscale.scaling`) and
return a matplotlib ``Figure``; :func:`save` writes it atomically. The non-interactive
Agg backend is used, so figures render on a headless machine.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from toyscale._checks import check_axis  # noqa: E402
from toyscale.fitting import PowerLawFit  # noqa: E402
from toyscale.io import atomic_write  # noqa: E402
from toyscale.scaling import WidthCurve  # noqa: E402

__all__ = ["compute_frontier", "loss_vs_width", "phase_diagram", "random_feature_regimes", "ridge_sweep",
           "superposition_geometry", "save"]


def loss_vs_width(
    panels: Mapping[str, Mapping[str, tuple[WidthCurve, PowerLawFit]]],
    *,
    reference_loss: float | None = None,
) -> plt.Figure:
    """One log-log panel per key of ``panels`` (e.g. regime); one curve per inner key. Error
    bars are the spread of the seeds (``WidthCurve.loss_std``, the sample sd), not the
    standard error of their mean that the random-feature figures draw.

    Args:
      panels: ``{panel title: {curve label: (curve, fit)}}``; the fit is drawn dashed over
        its x-range and its exponent shown in the legend, with the fit's bootstrap interval
        (``[lo, hi]``, e.g. the seed bootstrap's) where it has one, else ± its standard error
        (an exact fit, through as many widths as parameters: its count of widths; a fit of
        None: the points alone, labelled "not fitted"; :func:`toyscale.scaling.fit_width_curve`).
      reference_loss: a horizontal dotted line (e.g. the empty model's loss E <v^2>).
    """
    _check_panels(panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False, sharey=True)
    # a panel without one positive finite loss (every model of it diverged, say) has nothing for a log
    # axis; log-scaling it anyway raised in tight_layout, after the sweep, before the summary
    drawn = {title: _loggable(*(c.loss for c, _ in curves.values())) for title, curves in panels.items()}
    for ax, (title, curves) in zip(axes[0], panels.items()):
        for i, (label, (curve, fit)) in enumerate(curves.items()):
            color = f"C{i}"
            shown = curve.loss > 0  # (a log axis: a loss of 0 has no place on it)
            ax.errorbar(curve.widths[shown], curve.loss[shown],
                        yerr=curve.loss_std[shown] if np.any(curve.loss_std) else None, fmt="o", color=color, ms=4,
                        label=f"{label}: " + ("not fitted" if fit is None else
                                              _exponent_label(fit, "$\\alpha_m$=", 2)))
            if fit is not None:
                xs = np.geomspace(*fit.x_range, 50)
                ax.plot(xs, fit.predict(xs), "--", color=color, lw=1)
        if reference_loss is not None:
            ax.axhline(reference_loss, color="gray", ls=":", lw=1, label="empty model")
        if drawn[title]:
            ax.set_xscale("log")
        if any(drawn.values()):
            ax.set_yscale("log")  # (shared by the panels)
        ax.set_xlabel("width m")
        ax.set_title(title if drawn[title] else f"{title}: no positive finite loss")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("test loss L")
    fig.tight_layout()
    return fig


def _positive(y: Any) -> np.ndarray:
    """``y`` with its values at or below 0 as NaN: a gap in a line on a log axis (which had drawn
    a line down off the panel to such a point), marked by :func:`_zeros_at_the_foot` instead."""
    y = np.asarray(y, dtype=float)
    return np.where(y > 0, y, np.nan)


def _zeros_at_the_foot(ax: plt.Axes, x: Any, y: Any, color: Any) -> bool:
    """Marks the finite points of ``y`` at or below 0, which a log axis cannot show (a fraction
    represented of exactly 0 had been dropped unseen), as triangles at the foot of ``ax``;
    returns whether there were any (for one legend entry, :func:`_zeros_legend`)."""
    from matplotlib.transforms import blended_transform_factory

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    zero = np.isfinite(y) & (y <= 0)
    if zero.any():
        ax.plot(x[zero], np.full(int(zero.sum()), 0.02), "v", color=color, ms=6, clip_on=False,
                transform=blended_transform_factory(ax.transData, ax.transAxes))
    return bool(zero.any())


def _zeros_legend(ax: plt.Axes) -> None:
    ax.plot([], [], "v", color="gray", ms=6, label="0 (at the foot of the log axis)")


def _loggable(*values: Any) -> bool:
    """Whether any of the arrays holds a positive finite value, something a log axis can show."""
    return any(bool(np.any(np.isfinite(v) & (v > 0))) for v in (np.asarray(v, dtype=float) for v in values))


def _exponent_label(fit: PowerLawFit, prefix: str, digits: int) -> str:
    """A fit's exponent for a legend, with its bootstrap interval where the fit has one (the
    seed bootstrap's can be several times the standard error, which then understates the
    uncertainty), else ± its standard error (a fit through as many widths as parameters has none:
    the count of widths instead)."""
    interval = fit.intervals.get("exponent")
    if interval is not None and np.all(np.isfinite(interval)):  # (nan: too few resamples kept, say)
        lo, hi = interval
        return f"{prefix}{fit.exponent:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
    if fit.exact:  # (through 2 widths: no stderr, where it had shown "±nan")
        return f"{prefix}{fit.exponent:.{digits}f} ({fit.n_points} widths)"
    return f"{prefix}{fit.exponent:.{digits}f}±{fit.stderr['exponent']:.{digits}f}"


def _check_panels(panels) -> None:
    shape = "panels must be {panel title: {curve label: (WidthCurve, PowerLawFit or None)}}"
    if not isinstance(panels, Mapping) or not panels:
        raise TypeError(f"panels={panels!r}; {shape}")
    for title, curves in panels.items():
        if not isinstance(curves, Mapping) or not curves:
            raise TypeError(f"panels[{title!r}]={curves!r}; {shape}")
        for label, pair in curves.items():
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], WidthCurve)
                    and (pair[1] is None or isinstance(pair[1], PowerLawFit))):
                raise TypeError(f"panels[{title!r}][{label!r}] is a {type(pair).__name__}; {shape}, e.g. "
                                f"(curve, toyscale.width_exponent(curve))")


# an axis of at most this many values swept gets a tick at each of them
MAX_TICKED_VALUES = 12


def phase_diagram(
    gammas: Sequence[float],
    alphas: Sequence[float],
    alpha_m: np.ndarray,
    *,
    phi_half: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> plt.Figure:
    """alpha_m over (gamma, data exponent alpha) as a heat map (Liu et al. Fig. 4b).

    Args:
      gammas, alphas: axis values, in any order; ``alpha_m[i, j]`` belongs to ``gammas[i]``,
        ``alphas[j]``.
      alpha_m: fitted width exponents (NaN where no fit).
      phi_half: optional ``{label: (gammas, phi_half)}`` drawn in a second panel (Fig. 3b).
    """
    # (a repeated value had given a zero-height row of cells: its exponents silently not drawn)
    g, a = (np.asarray(check_axis(name, v), dtype=float) for name, v in (("gammas", gammas), ("alphas", alphas)))
    for name, v in (("gammas", g), ("alphas", a)):
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name}={v.tolist()}; the axis values must be finite numbers")
    alpha_m = np.asarray(alpha_m)
    if alpha_m.shape != (g.size, a.size):
        raise ValueError(f"alpha_m has shape {alpha_m.shape}; expected (len(gammas), len(alphas)) = {(g.size, a.size)}")
    rows, cols = np.argsort(g), np.argsort(a)  # cell edges need increasing axes
    ncols = 2 if phi_half else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5.4 * ncols, 4.2), squeeze=False)
    ax = axes[0][0]
    mesh = ax.pcolormesh(_edges(a[cols]), _edges(g[rows]), alpha_m[np.ix_(rows, cols)], cmap="viridis", shading="flat")
    fig.colorbar(mesh, ax=ax, label="$\\alpha_m$")
    ax.set_xlabel("data exponent $\\alpha$ ($p_i \\propto i^{-\\alpha}$)")
    ax.set_ylabel("weight decay $\\gamma$")
    ax.set_facecolor("0.8")  # (a cell with no fit, NaN, is not drawn: it had been blank white, unmarked)
    # (an infinite exponent is not drawn either, gray as well: it had been left out of the note)
    ax.set_title("width exponent $\\alpha_m$" + (" (gray: not fitted)" if (~np.isfinite(alpha_m)).any() else ""))
    for set_ticks, v in ((ax.set_xticks, a), (ax.set_yticks, g)):
        if v.size <= MAX_TICKED_VALUES:  # (ticks at the values swept, not at round numbers between the cells)
            set_ticks(np.sort(v), [f"{x:.3g}" for x in np.sort(v)])
    if phi_half:
        ax2, zeros = axes[0][1], False
        for label, (x, phi) in phi_half.items():
            x, phi = np.asarray(x, dtype=float), np.asarray(phi, dtype=float)
            if x.shape != phi.shape or x.ndim != 1:  # (extra phi values had been dropped unseen)
                raise ValueError(f"phi_half[{label!r}] has gammas of shape {x.shape} and phi_half values of shape "
                                 f"{phi.shape}; they must be two flat lists of one length")
            order = np.argsort(x)
            line, = ax2.plot(x[order], _positive(phi[order]), "o-", ms=4, label=label)
            zeros = _zeros_at_the_foot(ax2, x[order], phi[order], line.get_color()) or zeros
        if zeros:
            _zeros_legend(ax2)
        ax2.set_xlabel("weight decay $\\gamma$")
        ax2.set_ylabel("$\\phi_{1/2}$ (fraction represented)")
        ax2.set_yscale("log")
        ax2.legend(fontsize=8)
        ax2.set_title("represented features")
    fig.tight_layout()
    return fig


def superposition_geometry(
    n: int,
    regimes: Mapping[str, Mapping[str, WidthCurve]],
    *,
    weak_theory: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]] | None = None,
    row_norms: Mapping[str, np.ndarray] | None = None,
    norms_width: int | None = None,
) -> plt.Figure:
    """Four panels of a trained toy model's geometry against width (Liu et al. Figs. 3, 5, 6).

    Fraction represented phi_1/2 against m / n and 1; mean squared overlap of represented
    rows against 1 / m (random unit vectors); test loss, with any weak-superposition loss
    lines given; and a histogram of the row norms at one width. Error bars are the seeds'
    spread (``WidthCurve.loss_std``, the sample sd).

    Args:
      n: number of features.
      regimes: ``{label: {"phi_half": curve, "overlap_mean": curve, "test_loss": curve}}``, one
        :class:`~toyscale.scaling.WidthCurve` per measure (from ``width_curve(..., measure=...)``).
      weak_theory: optional ``{label: {line label: (widths, L)}}``, lines drawn dashed, then
        dotted, in the regime's colour in the loss panel (e.g.
        :func:`toyscale.theory.weak_superposition_loss` of the measured represented features).
      row_norms: optional ``{label: norms}`` of one model per regime, at width ``norms_width``; norms
        that are not finite are left out of the histogram and counted in its legend.
      norms_width: the width of ``row_norms`` (for the panel's title).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise TypeError(f"n={n!r}; n must be the number of features, an integer >= 1")
    if not isinstance(regimes, Mapping) or not regimes:
        raise TypeError(f"regimes={regimes!r}; regimes must be {{label: {{measure: WidthCurve}}}}")
    need = ("phi_half", "overlap_mean", "test_loss")
    for label, curves in regimes.items():
        if not isinstance(curves, Mapping) or any(not isinstance(curves.get(k), WidthCurve) for k in need):
            raise TypeError(f"regimes[{label!r}] must map each of {need} to a WidthCurve")
    for what, given in (("weak_theory", weak_theory), ("row_norms", row_norms)):
        unknown = sorted(set(given or {}) - set(regimes), key=str)
        if unknown:
            raise ValueError(f"{what} has {unknown!r}, which are not regimes; the regimes are {list(regimes)!r}")
    fig, axes = plt.subplots(2, 2, figsize=(10.4, 8.0))
    (ax_phi, ax_ov), (ax_loss, ax_norm) = axes
    widths = np.unique(np.concatenate([c["test_loss"].widths for c in regimes.values()]).astype(float))
    xs = np.geomspace(widths.min(), widths.max(), 50) if widths.size else np.array([1.0, 2.0])
    zeros = set()  # (the log panels with a value at or below 0, marked at their foot)
    losses = _loggable(*(c["test_loss"].loss for c in regimes.values()))  # (none: every model diverged)
    log = {ax_phi: True, ax_ov: True, ax_loss: losses}
    for i, (label, curves) in enumerate(regimes.items()):
        color = f"C{i}"
        for ax, key in ((ax_phi, "phi_half"), (ax_ov, "overlap_mean"), (ax_loss, "test_loss")):
            c = curves[key]  # (a loss of 0, every feature represented, had drawn a line down off the log panel)
            ax.errorbar(c.widths, _positive(c.loss) if log[ax] else c.loss,
                        yerr=c.loss_std if np.any(c.loss_std) else None, fmt="o-", color=color, ms=4, lw=1, label=label)
            if log[ax] and _zeros_at_the_foot(ax, c.widths, c.loss, color):
                zeros.add(key)
        for style, (line, (w, th)) in zip(itertools.cycle(("--", ":", "-.")), (weak_theory or {}).get(label, {}).items()):
            # (weak_superposition_loss is exactly 0 where every feature is represented, m = 3 in a smoke run)
            ax_loss.plot(w, _positive(th) if losses else th, style, color=color, lw=1, label=f"{label}: {line}")
            if losses and _zeros_at_the_foot(ax_loss, w, th, color):
                zeros.add("test_loss")
        if row_norms and label in row_norms:
            norms = np.asarray(row_norms[label], dtype=float).ravel()
            finite = np.isfinite(norms)  # (a diverged model's inf or NaN rows had made the histogram raise)
            bad = int(norms.size - finite.sum())
            ax_norm.hist(norms[finite], bins=40, color=color, alpha=0.5,
                         label=f"{label} ({bad} not finite, not shown)" if bad else label)
    for ax, key in ((ax_phi, "phi_half"), (ax_ov, "overlap_mean"), (ax_loss, "test_loss")):
        if key in zeros:
            _zeros_legend(ax)
    ax_phi.plot(xs, np.minimum(xs / n, 1.0), ":", color="gray", label="m / n")
    ax_phi.axhline(1.0, color="gray", lw=0.5)
    ax_phi.set_ylabel("$\\phi_{1/2}$ (fraction represented)")
    ax_phi.set_title("represented features")
    ax_ov.plot(xs, 1.0 / xs, ":", color="gray", label="1 / m (random unit vectors)")
    ax_ov.set_ylabel("mean squared overlap (represented rows)")
    ax_ov.set_title("overlaps")
    ax_loss.set_ylabel("test loss L")
    ax_loss.set_title("loss and the weak-superposition loss")
    for ax in (ax_phi, ax_ov, ax_loss):
        if log[ax]:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("width m")
        ax.legend(fontsize=7)
    ax_norm.axvline(0.5, color="gray", ls=":", lw=1)
    ax_norm.set_xlabel("row norm $\\|W_i\\|$")
    ax_norm.set_ylabel("features")
    if any(np.size(v) for v in (row_norms or {}).values()):
        ax_norm.set_yscale("log")
    ax_norm.set_title(f"row norms at m = {norms_width}" if norms_width is not None else "row norms")
    if row_norms:
        ax_norm.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _theory_curve(config, along: str, fixed: Mapping, lo: float, hi: float, *, alpha: float, ridge: float = 0.0):
    """The deterministic equivalent along N or T on a dense grid, skipping the ridgeless peak."""
    from toyscale.theory import expected_test_loss

    xs = np.unique(np.geomspace(lo, hi, 120).astype(int))
    xs = xs[xs != fixed.get("T", fixed.get("N"))]
    pts = [{"alpha": alpha, along: int(x), **fixed, "ridge": ridge} for x in xs]
    return xs, expected_test_loss(config, pts)


def random_feature_regimes(result, config, *, alpha: float, sizes: Sequence[int], rows: Sequence[int],
                           columns: Sequence[int], ridges: Sequence[float], ridge_column: int,
                           fits: Mapping, title: str) -> plt.Figure:
    """Four panels: loss vs T at several N, loss vs N at several T (simulation points over
    deterministic-equivalent lines, with the resolution-limited fits), the variance-limited
    terms with their fits, and the N = T peak tamed by a ridge.

    Args:
      result: random-feature sweep records.
      config: the :class:`toyscale.random_features.RFConfig` shared with the theory.
      alpha: spectrum exponent; sizes: the N/T range drawn.
      rows, columns: the N values of panel 1 and the T values of panel 2.
      ridges, ridge_column: ridges of panel 4, at T = ridge_column.
      fits: ``{regime: (x, y, PowerLawFit)}`` from ``random_features.regime_exponents`` (a fit
        of None: its points without a line, e.g. where the theory's loss is 0).
      title: the figure's title.

    The labels print alpha as the resolution-limited prediction, so ``config`` must have an
    isotropic teacher (:func:`toyscale.random_features.check_isotropic`).
    """
    from toyscale import random_features as rf

    rf.check_isotropic(config, "plots.random_feature_regimes")
    fig, axes = plt.subplots(1, 4, figsize=(22, 4.8))
    lows, typical = [], []
    def points(ax, i, label, along, **fixed):  # (a curve whose every model diverged: a legend entry saying so)
        try:
            x, y, e = rf.loss_curve(result, along, **fixed)
        except ValueError:
            if rf._replicate_values(result, along, "test_loss", fixed, all_diverged_ok=True)[0].size:
                raise  # (not that: another fault of the call)
            ax.plot([], [], "o", ms=4, color=f"C{i}", label=f"{label}: every model diverged")
            return
        lows.append(np.min(y))
        typical.append(np.median(y))
        ax.errorbar(x, y, yerr=e, fmt="o", ms=4, color=f"C{i}", label=label)

    for ax, along, other, fixed_values in ((axes[0], "T", "N", rows), (axes[1], "N", "T", columns)):
        for i, v in enumerate(fixed_values):
            points(ax, i, f"{other}={v}", along, ridge=0.0, **{other: v})
            xs, th = _theory_curve(config, along, {other: v}, sizes[0], sizes[-1], alpha=alpha)
            ax.plot(xs, th, "-", lw=1, color=f"C{i}")
        xs, th = _theory_curve(config, along, {other: float("inf")}, sizes[0], sizes[-1], alpha=alpha)
        ax.plot(xs, th, "k--", lw=1, label=f"{other}=inf (theory)")
        fx, _, fit = fits[f"resolution_{along}"]
        if fit is not None:
            ax.plot(fx, fit.predict(fx), "k:", lw=2,
                    label=f"fit {_exponent_label(fit, '', 3)} (pred {alpha})")
        ax.set(xscale="log", yscale="log", xlabel=along, ylabel="test loss",
               title=f"loss vs {along} (points: simulation, lines: deterministic equivalent)")
        ax.legend(fontsize=7)
    for i, name in enumerate(("variance_T", "variance_N")):
        fx, fy, fit = fits[name]
        shown = np.asarray(fy) > 0  # (a log axis)
        axes[2].plot(np.asarray(fx)[shown], np.asarray(fy)[shown], "o", color=f"C{i}", label=f"{name}: " + (
            "not fitted" if fit is None else f"{_exponent_label(fit, '', 3)} (pred 1)"))
        if fit is not None:
            axes[2].plot(fx, fit.predict(fx), "--", color=f"C{i}", lw=1)
    axes[2].set(xscale="log", yscale="log", xlabel=f"T (N={min(rows)}) or N (T={min(columns)})",
                ylabel="L - L(limit), same model", title="variance-limited terms")
    axes[2].legend(fontsize=7)
    for i, r in enumerate([0.0, *ridges]):
        points(axes[3], i, f"ridge={r:g}", "N", ridge=r, T=ridge_column)
        xs, th = _theory_curve(config, "N", {"T": ridge_column}, sizes[0], sizes[-1], alpha=alpha, ridge=r)
        axes[3].plot(xs, th, "-", lw=1, color=f"C{i}")
    axes[3].set(xscale="log", yscale="log", xlabel="N", ylabel="test loss",
                title=f"a ridge tames the N = T = {ridge_column} peak")
    axes[3].legend(fontsize=7)
    # clip the ridgeless N = T peak, but never above the data: at 10x the largest curve's median
    # (30 at the least, where every preset's losses sit far below it)
    for ax in (axes[0], axes[1], axes[3]):
        if lows:  # (none where every drawn model diverged)
            ax.set_ylim(0.5 * min(lows), max(30.0, 10 * max(typical)))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def ridge_sweep(panels: Mapping[str, Mapping[str, Any]], *, title: str) -> plt.Figure:
    """Loss against N (or T) at several ridges, simulation points over theory lines, and the
    loss at the best ridge of the grid in black (Simon et al. 2023, "more is better").

    Args:
      panels: ``{panel title: {"along": "N" or "T", "ridges": {ridge: (x, mean, sem, theory x,
        theory)}, "tuned": (x, best loss, its sem, theory x, theory's best loss)}}``, one panel
        each (from experiments/more_is_better.py).
      title: the figure's title.
    """
    if not isinstance(panels, Mapping) or not panels:
        raise TypeError(f"panels={panels!r}; panels must be {{title: {{'along', 'ridges', 'tuned'}}}}")
    for name, panel in panels.items():
        if not isinstance(panel, Mapping) or {"along", "ridges", "tuned"} - set(panel):
            raise TypeError(f"panels[{name!r}] must hold 'along', 'ridges' and 'tuned'")
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.8), squeeze=False)
    for ax, (name, panel) in zip(axes[0], panels.items()):
        ridges = sorted(panel["ridges"])
        for i, r in enumerate(ridges):  # (colours by rank: a ridge may be 0)
            x, y, e, tx, ty = panel["ridges"][r]
            color = plt.cm.viridis(0.9 * i / max(1, len(ridges) - 1))
            ax.errorbar(x, y, yerr=e, fmt="o", ms=3, color=color, label=f"ridge {r:.3g}")
            ax.plot(tx, ty, "-", lw=1, color=color)
        x, y, e, tx, ty = panel["tuned"]
        ax.errorbar(x, y, yerr=e, fmt="s", ms=4, color="k", label="best ridge of the grid")
        ax.plot(tx, ty, "k-", lw=2, label="best ridge, theory")
        ax.set(xscale="log", yscale="log", xlabel=panel["along"], ylabel="test loss", title=name)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def compute_frontier(t: Sequence[float], widths: Sequence[int], curves: np.ndarray, limits: Sequence[float],
                     frontier: Any, *, time_fit: PowerLawFit | None = None, loss_fit: PowerLawFit | None = None,
                     title: str = "", size: str = "N", time: str = "t", loss: str = "L",
                     limit_label: str | None = None) -> plt.Figure:
    """Loss against time for each width (its limit dashed: the ridgeless loss in
    experiments/compute_optimal.py, the floor in experiments/plrf_frontier.py), and against
    compute C = N t with the lowest loss per budget, the frontier.

    Args:
      t: the logged steps; widths: the widths, one row of ``curves`` ([widths, t]) each.
      limits: each width's long-time (ridgeless) loss.
      frontier: a :class:`toyscale.fitting.AllocationFit` (``C``, ``N_opt``, ``L_opt``, ``a``), or None
        (none drawn).
      time_fit, loss_fit: power-law fits drawn over the largest width's curve and the frontier.
      size, time, loss: the symbols of the width, the step count and the loss in the labels (``"d"``,
        ``"r"``, ``"P"`` for experiments/plrf_frontier.py); a row of ``curves`` may end in NaN (a width
        run for fewer steps).
      limit_label: what the dashed lines (``limits``) are, for the title (default ``"<time> -> inf"``).
    """
    t = np.asarray(t, dtype=float)
    curves = np.asarray(curves, dtype=float)
    if curves.shape != (len(widths), t.size) or len(limits) != len(widths):
        raise ValueError(f"curves has shape {curves.shape}, limits {len(limits)} entries; they need "
                         f"({len(widths)}, {t.size}) and {len(widths)}: one row and one limit per width")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.8, 4.8))
    drawn = _loggable(curves)  # (a log axis of no positive data cannot be drawn)
    zeros = False  # (a loss at or below 0 had drawn a line down off the log panel: a gap, marked at the foot)
    for i, (N, curve, limit) in enumerate(zip(widths, curves, limits)):
        color = plt.cm.viridis(0.9 * i / max(1, len(widths) - 1))
        left.plot(t, _positive(curve) if drawn else curve, "-", color=color, label=f"{size} = {N}")
        left.axhline(limit, ls="--", lw=0.8, color=color)
        right.plot(N * t, _positive(curve) if drawn else curve, "-", color=color, lw=1)
        if drawn and _zeros_at_the_foot(left, t, curve, color):
            _zeros_at_the_foot(right, N * t, curve, color)
            zeros = True
    if time_fit is not None:
        tt = np.geomspace(*time_fit.x_range, 50)
        left.plot(tt, 1.5 * time_fit.predict(tt), "k:", label=f"{time}^-{time_fit.exponent:.2f} (fit, x1.5)")
    if frontier is not None:
        right.plot(frontier.C, frontier.L_opt, "ks", ms=5,
                   label=f"lowest loss per budget: {size}* ~ C^{frontier.a:.2f}")
    if loss_fit is not None and frontier is not None:
        cc = np.geomspace(frontier.C.min(), frontier.C.max(), 50)
        right.plot(cc, loss_fit.predict(cc), "k-", lw=1.5, label=f"{loss}* ~ C^-{loss_fit.exponent:.2f}")
    scale = "log" if drawn else "linear"
    dashed = limit_label or f"{time} -> inf"
    left.set(xscale=scale, yscale=scale, xlabel=f"steps {time}", ylabel="test loss",
             title=f"loss vs time (dashed: {dashed})" if drawn else "no finite loss to draw")
    right.set(xscale=scale, yscale=scale, xlabel=f"compute C = {size} {time}", ylabel="test loss",
              title="compute-optimal frontier")
    if zeros:
        _zeros_legend(left)
        _zeros_legend(right)
    left.legend(fontsize=7)
    if frontier is not None or zeros:
        right.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _edges(values: Sequence[float]) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])


def save(fig: plt.Figure, *paths: str | os.PathLike, dpi: int = 130) -> None:
    """Writes a figure to each path atomically, then closes it; formats follow the suffixes."""
    try:
        for path in paths:
            fmt = os.path.splitext(os.fspath(path))[1].lstrip(".") or "png"
            atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi))
    finally:
        plt.close(fig)
