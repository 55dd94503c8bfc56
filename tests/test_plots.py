import dataclasses

import numpy as np
import pytest

from toyscale import plots
from toyscale import random_features as rf
from toyscale.fitting import fit_power_law
from toyscale.scaling import WidthCurve


def _curve(loss=None):
    widths = np.array([4.0, 8.0, 16.0])
    loss = widths**-1.0 if loss is None else np.asarray(loss, dtype=float)
    return WidthCurve(widths=widths, loss=loss, loss_std=np.zeros(3), n_models=np.ones(3, int), n_diverged=0)


@pytest.mark.parametrize("panels, match", [
    ({}, r"panels=\{\}; panels must be"),
    ({"pl": (1, 2)}, r"panels\['pl'\]=\(1, 2\); panels must be"),  # one level of dict missing
    ({"s": {"pl": "curve"}}, r"panels\['s'\]\['pl'\] is a str"),
    ({"s": {"pl": _curve()}}, r"panels\['s'\]\['pl'\] is a WidthCurve; .*width_exponent\(curve\)"),  # no fit
])
def test_loss_vs_width_names_a_panel_of_the_wrong_shape(panels, match):
    with pytest.raises(TypeError, match=match):
        plots.loss_vs_width(panels)


def test_loss_vs_width_draws_one_axis_per_panel_and_one_curve_per_label():
    curve = _curve()
    fit = fit_power_law(curve.widths, curve.loss)
    fig = plots.loss_vs_width({"a": {"x": (curve, fit), "y": [curve, fit]}, "b": {"x": (curve, fit)}})
    assert len(fig.axes) == 2
    assert [len(ax.get_legend().get_texts()) for ax in fig.axes] == [2, 1]


def test_the_legend_shows_a_fits_bootstrap_interval_where_it_has_one():
    # the legend had shown ± the standard error even beside a seed-bootstrap interval several
    # times wider, the figure looking more precise than the numbers its script printed
    curve = _curve()
    plain = fit_power_law(curve.widths, curve.loss)
    boot = dataclasses.replace(plain, intervals={"exponent": (0.5, 1.25)})
    fig = plots.loss_vs_width({"a": {"plain": (curve, plain), "boot": (curve, boot)}})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[0] == f"plain: $\\alpha_m$={plain.exponent:.2f}±{plain.stderr['exponent']:.2f}"
    assert texts[1] == f"boot: $\\alpha_m$={plain.exponent:.2f} [0.50, 1.25]"
    plots.save(fig)
    # a nan interval (too few resamples kept; a width with one model under the seed bootstrap)
    # had been drawn as "[nan, nan]": the standard error instead
    empty = dataclasses.replace(plain, intervals={"exponent": (float("nan"), float("nan"))})
    fig = plots.loss_vs_width({"a": {"nan": (curve, empty)}})
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == (
        f"nan: $\\alpha_m$={plain.exponent:.2f}±{plain.stderr['exponent']:.2f}")
    plots.save(fig)
    # through 2 widths the line is exact, with no stderr: it had shown "±nan"
    two = fit_power_law(curve.widths[:2], curve.loss[:2])
    fig = plots.loss_vs_width({"a": {"two": (curve, two)}})
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == f"two: $\\alpha_m$={two.exponent:.2f} (2 widths)"
    plots.save(fig)


def test_phase_diagram_refuses_axes_and_phi_half_it_would_draw_in_part():
    # a repeated gamma had drawn its row at zero height; a longer phi list had lost its extra values
    with pytest.raises(ValueError, match=r"gammas=\[0.1, 0.1, 1.0\] holds 0.1 twice"):
        plots.phase_diagram([0.1, 0.1, 1.0], [0.5, 1.0], np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"alphas=\[0.5, nan\]; the axis values must be finite"):
        plots.phase_diagram([0.1, 1.0], [0.5, float("nan")], np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"phi_half\['a'\] has gammas of shape \(2,\) and phi_half values of shape "
                                         r"\(3,\); they must be two flat lists of one length"):
        plots.phase_diagram([0.1, 1.0], [0.5, 1.0], np.ones((2, 2)), phi_half={"a": ([0.1, 1.0], [0.5, 0.6, 0.9])})


def test_phase_diagram_puts_each_value_in_its_cell_for_unsorted_axes():
    gammas, alphas = [1.0, -1.0, 0.0], [0.5, 0.0]
    alpha_m = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    fig = plots.phase_diagram(gammas, alphas, alpha_m)
    mesh = fig.axes[0].collections[0]
    expected = alpha_m[np.ix_(np.argsort(gammas), np.argsort(alphas))]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(3, 2), expected)
    plots.save(fig)


def test_loss_vs_width_draws_seed_error_bars():
    curve = dataclasses.replace(_curve(), loss_std=np.full(3, 0.01))  # two seeds' spread
    fig = plots.loss_vs_width({"a": {"x": (curve, fit_power_law(curve.widths, curve.loss))}})
    assert fig.axes[0].containers[0].has_yerr
    plots.save(fig)


def test_superposition_geometry_draws_each_regime_in_every_panel_and_names_missing_curves(tmp_path):
    c = _curve()
    regimes = {"strong": {"phi_half": c, "overlap_mean": c, "test_loss": c},
               "weak": {"phi_half": c, "overlap_mean": c, "test_loss": c}}
    fig = plots.superposition_geometry(64, regimes, weak_theory={"weak": {"own": (c.widths, c.loss * 2), "top": (c.widths, c.loss * 3)}},
                                       row_norms={"strong": np.linspace(0, 1.5, 64)}, norms_width=8)
    ax_phi, ax_ov, ax_loss, ax_norm = fig.axes
    # two regimes' points plus the reference line (m / n, 1 / m); the loss panel adds the theory line
    assert len(ax_phi.get_lines()) >= 3 and len(ax_ov.get_lines()) >= 3
    assert [line.get_linestyle() for line in ax_loss.get_lines()][-2:] == ["--", ":"]
    assert [t.get_text() for t in ax_loss.get_legend().get_texts()][:2] == ["weak: own", "weak: top"]
    assert ax_norm.get_title() == "row norms at m = 8" and len(ax_norm.patches) == 40
    np.testing.assert_allclose(ax_ov.get_lines()[-1].get_ydata() * ax_ov.get_lines()[-1].get_xdata(), 1.0)
    plots.save(fig)
    # a diverged model's rows: the finite norms are drawn and the others counted in the legend
    fig = plots.superposition_geometry(64, regimes, row_norms={"weak": np.r_[np.linspace(0, 1.5, 62), np.inf, np.nan]})
    assert fig.axes[3].get_legend().get_texts()[0].get_text() == "weak (2 not finite, not shown)"
    assert sum(p.get_height() for p in fig.axes[3].patches) == 62
    plots.save(fig)
    with pytest.raises(TypeError, match=r"regimes\['weak'\] must map each of \('phi_half', 'overlap_mean', 'test_loss'\)"):
        plots.superposition_geometry(64, {"weak": {"phi_half": c}})
    with pytest.raises(TypeError, match="regimes={}"):
        plots.superposition_geometry(64, {})
    for n in (0, 48.5, "48", True):
        with pytest.raises(TypeError, match=f"n={n!r}; n must be the number of features"):
            plots.superposition_geometry(n, regimes)
    with pytest.raises(ValueError, match=r"row_norms has \['wek'\], which are not regimes; the regimes are \['strong', 'weak'\]"):
        plots.superposition_geometry(64, regimes, row_norms={"wek": np.ones(64)})
    # every model diverged: empty curves, no norms; the figure is still drawn (linear loss axis)
    empty = WidthCurve(widths=np.zeros(0, int), loss=np.zeros(0), loss_std=np.zeros(0), n_models=np.zeros(0, int),
                       n_diverged=3)
    fig = plots.superposition_geometry(64, {"weak": {"phi_half": empty, "overlap_mean": empty, "test_loss": empty}})
    assert fig.axes[2].get_yscale() == "linear" and fig.axes[0].get_yscale() == "log"
    plots.save(fig, tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 0


def test_compute_frontier_draws_a_curve_per_width_and_refuses_mismatched_shapes():
    from types import SimpleNamespace

    t = np.arange(1.0, 11.0)
    curves = np.stack([2.0 / N + t**-0.5 for N in (4, 8)])
    frontier = SimpleNamespace(C=np.array([8.0, 40.0]), L_opt=np.array([0.9, 0.5]), a=0.3)
    fig = plots.compute_frontier(t, [4, 8], curves, [0.5, 0.25], frontier, time_fit=fit_power_law(t, curves[1]),
                                 loss_fit=fit_power_law(frontier.C, frontier.L_opt))
    left, right = fig.axes
    assert [line.get_label() for line in left.get_lines()][:2] == ["N = 4", "_child1"]  # (the dashed limit unlabelled)
    assert sum(line.get_xdata()[0] == 4 * t[0] for line in right.get_lines()) == 1  # C = N t for N = 4
    assert any("N* ~ C^0.30" in line.get_label() for line in right.get_lines())
    plots.save(fig)
    with pytest.raises(ValueError, match=r"curves has shape \(2, 10\), limits 1 entries; they need \(2, 10\) and 2"):
        plots.compute_frontier(t, [4, 8], curves, [0.5], frontier)


# mutants: the fit's dashed line not drawn; a loss of 0 drawn on the log axis; the empty panel's title
# not saying so (the shared log y axis of the empty panel is asserted too; sharey makes that mutant equivalent)
def test_loss_vs_width_draws_the_fit_leaves_out_zero_losses_and_names_an_empty_panel():
    curve = _curve([0.5, 0.0, 0.1])
    fit = fit_power_law([4.0, 8.0, 16.0], [0.5, 0.25, 0.125])
    empty = _curve([np.nan, np.nan, np.nan])
    fig = plots.loss_vs_width({"a": {"x": (curve, fit)}, "b": {"y": (empty, None)}})
    ax, ax_empty = fig.axes
    points = ax.containers[0].lines[0]
    np.testing.assert_array_equal(points.get_xdata(), [4.0, 16.0])
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1
    np.testing.assert_allclose(dashed[0].get_ydata(), fit.predict(dashed[0].get_xdata()), rtol=1e-12)
    assert dashed[0].get_xdata()[0] == 4.0 and dashed[0].get_xdata()[-1] == 16.0
    assert ax.get_title() == "a" and ax_empty.get_title() == "b: no positive finite loss"
    assert ax_empty.get_yscale() == "log" and ax_empty.get_xscale() == "linear"
    plots.save(fig)


# mutant: an interval with one NaN end shown as "[x, nan]" (np.any(isfinite) for np.all)
def test_the_legend_shows_the_standard_error_for_an_interval_with_a_nan_end():
    import dataclasses

    curve = _curve()
    plain = fit_power_law(curve.widths, curve.loss)
    half = dataclasses.replace(plain, intervals={"exponent": (0.5, float("nan"))})
    fig = plots.loss_vs_width({"a": {"h": (curve, half)}})
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == (
        f"h: $\\alpha_m$={plain.exponent:.2f}±{plain.stderr['exponent']:.2f}")
    plots.save(fig)


# mutants: phi_half lines drawn in the given order, not by gamma; its axis linear; the cells' edges not centred
# on the axis values
def test_phase_diagram_centres_its_cells_and_draws_phi_half_by_gamma_on_a_log_axis():
    gammas, alphas = [1.0, -1.0, 0.0], [0.5, 0.0]
    fig = plots.phase_diagram(gammas, alphas, np.arange(6.0).reshape(3, 2),
                              phi_half={"s": ([1.0, -1.0, 0.0], [0.9, 0.1, 0.5])})
    mesh = fig.axes[0].collections[0]
    corners = mesh.get_coordinates()  # [rows + 1, columns + 1, (x, y)]
    np.testing.assert_allclose(corners[0, :, 0], [-0.25, 0.25, 0.75])
    np.testing.assert_allclose(corners[:, 0, 1], [-1.5, -0.5, 0.5, 1.5])
    ax2 = [ax for ax in fig.axes if ax.get_title() == "represented features"][0]
    line = ax2.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(line.get_ydata(), [0.1, 0.5, 0.9])
    assert ax2.get_yscale() == "log"
    plots.save(fig)


# mutants: ticks left at round numbers between the cells; a cell with no fit blank and unmarked; an inf cell left
# out of the note
def test_phase_diagram_ticks_the_values_swept_and_marks_the_cells_not_fitted():
    alpha_m = np.arange(6.0).reshape(3, 2)
    alpha_m[1, 0] = np.nan
    fig = plots.phase_diagram([1.0, -1.0, 0.0], [0.5, 0.0], alpha_m)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.get_xticks(), [0.0, 0.5])
    np.testing.assert_array_equal(ax.get_yticks(), [-1.0, 0.0, 1.0])
    assert ax.get_title().endswith("(gray: not fitted)") and ax.get_facecolor()[:3] == (0.8, 0.8, 0.8)
    # many values: matplotlib's own ticks; all fitted: no gray in the title
    many = np.linspace(0, 2, plots.MAX_TICKED_VALUES + 1)
    ax = plots.phase_diagram([-1.0, 1.0], many, np.ones((2, many.size))).axes[0]
    assert len(ax.get_xticks()) < many.size and "gray" not in ax.get_title()
    plots.save(fig), plots.save(ax.figure)
    # an infinite exponent is not drawn either, gray: the note covers it too (it had been np.isnan's alone)
    alpha_m[1, 0] = np.inf
    ax = plots.phase_diagram([1.0, -1.0, 0.0], [0.5, 0.0], alpha_m).axes[0]
    assert ax.get_title() == "width exponent $\\alpha_m$ (gray: not fitted)"
    assert np.ma.getmaskarray(ax.collections[0].get_array()).sum() == 1
    plots.save(ax.figure)


# mutants: a fraction represented of 0 dropped unseen on the log axis (or its line run down off the panel to it)
def test_a_phi_half_of_zero_is_marked_at_the_foot_of_its_log_axis():
    fig = plots.phase_diagram([-1.0, 0.0, 1.0], [0.5], np.ones((3, 1)), phi_half={"s": ([-1.0, 0.0, 1.0],
                                                                                        [1.0, 0.3, 0.0])})
    ax2 = [ax for ax in fig.axes if ax.get_title() == "represented features"][0]
    lines = {line.get_marker(): line for line in ax2.get_lines() if len(line.get_xdata())}
    np.testing.assert_array_equal(lines["o"].get_ydata(), [1.0, 0.3, np.nan])  # (a gap, not a dive)
    np.testing.assert_array_equal(lines["v"].get_xdata(), [1.0])
    assert "0 (at the foot of the log axis)" in [t.get_text() for t in ax2.get_legend().get_texts()]
    plots.save(fig)
    c = WidthCurve(widths=np.array([4.0, 16.0, 64.0]), loss=np.array([0.0, 0.3, 0.6]), loss_std=np.zeros(3),
                   n_models=np.ones(3, int), n_diverged=0)
    fig = plots.superposition_geometry(16, {"weak": {"phi_half": c, "overlap_mean": c, "test_loss": c}})
    ax_phi = fig.axes[0]
    feet = [line for line in ax_phi.get_lines() if line.get_marker() == "v" and len(line.get_xdata())]
    assert [list(line.get_xdata()) for line in feet] == [[4.0]]
    assert "0 (at the foot of the log axis)" in [t.get_text() for t in ax_phi.get_legend().get_texts()]
    plots.save(fig)



# mutants: a test loss of 0 (every feature represented) or a weak-superposition loss of 0 (as
# theory.weak_superposition_loss gives at m = 3 in a smoke run) drawn as a line down off the log panel, or not marked
def test_a_loss_of_zero_in_the_geometry_loss_panel_is_a_gap_marked_at_the_foot():
    c = _curve()
    regimes = {"r": {"phi_half": c, "overlap_mean": c, "test_loss": _curve([1.0, 0.0, 0.3])}}
    fig = plots.superposition_geometry(64, regimes, weak_theory={"r": {"own": (c.widths, [0.5, 0.0, -0.1])}})
    ax_loss = fig.axes[2]
    assert ax_loss.get_yscale() == "log"
    np.testing.assert_array_equal(ax_loss.containers[0].lines[0].get_ydata(), [1.0, np.nan, 0.3])
    theory = [line for line in ax_loss.get_lines() if line.get_label() == "r: own"][0]
    np.testing.assert_array_equal(theory.get_ydata(), [0.5, np.nan, np.nan])
    feet = [list(line.get_xdata()) for line in ax_loss.get_lines() if line.get_marker() == "v"]
    assert feet == [[8.0], [8.0, 16.0], []]  # (the measured 0, the theory's 0 and -0.1, the legend's entry)
    assert "0 (at the foot of the log axis)" in [t.get_text() for t in ax_loss.get_legend().get_texts()]
    assert ax_loss.get_ylim()[0] > 0.1  # (the axis spans the positive values, not down towards 0)
    plots.save(fig)


# mutants: a loss at or below 0 drawn as a line down off either log panel of compute_frontier, or not marked
def test_compute_frontier_leaves_a_gap_at_a_loss_at_or_below_zero_and_marks_it_at_the_foot():
    t = np.array([1.0, 10.0, 100.0])
    fig = plots.compute_frontier(t, [4, 8], [[1.0, -0.5, 0.3], [1.0, 0.4, 0.2]], [0.2, 0.1], None)
    left, right = fig.axes
    assert [ax.get_yscale() for ax in fig.axes] == ["log", "log"]
    drawn = {ax: [line for line in ax.get_lines() if line.get_marker() in ("None", "")
                  and len(line.get_xdata()) == 3] for ax in (left, right)}
    np.testing.assert_array_equal(drawn[left][0].get_ydata(), [1.0, np.nan, 0.3])
    np.testing.assert_array_equal(drawn[right][0].get_xdata(), 4 * t)
    np.testing.assert_array_equal(drawn[right][0].get_ydata(), [1.0, np.nan, 0.3])
    for ax, x in ((left, 10.0), (right, 40.0)):
        feet = [list(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "v" and len(line.get_xdata())]
        assert feet == [[x]]
        assert "0 (at the foot of the log axis)" in [t.get_text() for t in ax.get_legend().get_texts()]
        assert ax.get_ylim()[0] > 0.05
    plots.save(fig)


# mutants: the m / n reference line not capped at 1; the norms panel's threshold line not at 1/2
def test_superposition_geometry_caps_m_over_n_at_one_and_marks_the_threshold_one_half():
    c = WidthCurve(widths=np.array([4.0, 16.0, 64.0]), loss=np.array([0.5, 0.3, 0.1]), loss_std=np.zeros(3),
                   n_models=np.ones(3, int), n_diverged=0)
    regimes = {"r": {"phi_half": c, "overlap_mean": c, "test_loss": c}}
    fig = plots.superposition_geometry(16, regimes, row_norms={"r": np.linspace(0, 1.5, 16)}, norms_width=16)
    ax_phi, _, _, ax_norm = fig.axes
    ref = [line for line in ax_phi.get_lines() if line.get_label() == "m / n"][0]
    np.testing.assert_allclose(ref.get_ydata(), np.minimum(ref.get_xdata() / 16, 1.0))
    assert ref.get_ydata().max() == 1.0
    assert [tuple(line.get_xdata()) for line in ax_norm.get_lines()] == [(0.5, 0.5)]
    plots.save(fig)


# mutants: the width's limit line not at its limit; the time fit not drawn at 1.5x as labelled; a log axis for
# curves with no finite loss
def test_compute_frontier_draws_each_limit_and_the_scaled_time_fit_and_no_log_axis_for_nan_curves():
    t = np.arange(1.0, 11.0)
    curves = np.stack([2.0 / N + t**-0.5 for N in (4, 8)])
    time_fit = fit_power_law(t, curves[1])
    fig = plots.compute_frontier(t, [4, 8], curves, [0.5, 0.25], None, time_fit=time_fit)
    left = fig.axes[0]
    flat = [line.get_ydata()[0] for line in left.get_lines() if line.get_linestyle() == "--"]
    assert flat == [0.5, 0.25]
    fitted = [line for line in left.get_lines() if "(fit, x1.5)" in line.get_label()][0]
    np.testing.assert_allclose(fitted.get_ydata(), 1.5 * time_fit.predict(fitted.get_xdata()), rtol=1e-12)
    plots.save(fig)
    fig = plots.compute_frontier(t, [4], np.full((1, 10), np.nan), [0.5], None)
    assert [ax.get_yscale() for ax in fig.axes] == ["linear", "linear"]
    assert fig.axes[0].get_title() == "no finite loss to draw"
    plots.save(fig)


# mutant: save() wrote PNG whatever the suffix (format="png")
def test_save_writes_the_format_its_suffix_names(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    plots.save(fig, tmp_path / "a.svg", tmp_path / "a.pdf", tmp_path / "a.png")
    assert b"<svg" in (tmp_path / "a.svg").read_bytes()[:400]
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "a.png").read_bytes().startswith(b"\x89PNG")


# mutant: the regimes figure drawn for an anisotropic teacher, its "(pred alpha)" labels then wrong
def test_random_feature_regimes_refuses_an_anisotropic_teacher():
    with pytest.raises(ValueError, match=r"rf.teacher_exponent=0.5; plots.random_feature_regimes predicts"):
        plots.random_feature_regimes(None, rf.RFConfig(M=64, teacher_exponent=0.5), alpha=0.5, sizes=[8, 64],
                                     rows=[8], columns=[8], ridges=[0.1], ridge_column=16, fits={}, title="t")
    with pytest.raises(TypeError, match=r"config=None; expected a toyscale.random_features.RFConfig"):
        plots.random_feature_regimes(None, None, alpha=0.5, sizes=[8, 64], rows=[8], columns=[8], ridges=[0.1],
                                     ridge_column=16, fits={}, title="t")


# mutant: the resolution-limited fit's line (and its exponent) not drawn in the loss panels
def test_random_feature_regimes_draws_each_resolution_fit_with_its_exponent(monkeypatch):
    x = np.array([8.0, 16.0, 32.0, 64.0])
    monkeypatch.setattr("toyscale.random_features.loss_curve",
                        lambda result, along, ridge=0.0, **fixed: (x, 2 * x**-0.5, 0.01 * x**-0.5))
    monkeypatch.setattr("toyscale.theory.expected_test_loss", lambda config, points: np.ones(len(points)))
    fit = fit_power_law(x, 2 * x**-0.5)
    fits = {"resolution_T": (x, 2 * x**-0.5, fit), "resolution_N": (x, 2 * x**-0.5, None),
            "variance_T": (x, x**-1.0, fit_power_law(x, x**-1.0)), "variance_N": (x, x**-1.0, None)}
    fig = plots.random_feature_regimes(None, rf.RFConfig(M=64), alpha=0.5, sizes=[8, 64], rows=[8], columns=[8],
                                       ridges=[0.1], ridge_column=16, fits=fits, title="t")
    drawn = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("fit ")]
    assert len(drawn) == 1 and drawn[0].get_label().endswith(" (pred 0.5)")
    assert f"{fit.exponent:.3f}" in drawn[0].get_label()  # the fitted exponent beside the theory's
    np.testing.assert_allclose(drawn[0].get_ydata(), fit.predict(x), rtol=1e-12)
    assert not any(line.get_label().startswith("fit ") for line in fig.axes[1].get_lines())
    plots.save(fig)
