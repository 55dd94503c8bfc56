import numpy as np
import pytest

from toyscale import plots
from toyscale.fitting import fit_power_law
from toyscale.scaling import WidthCurve


def _curve():
    widths = np.array([4.0, 8.0, 16.0])
    return WidthCurve(widths=widths, loss=widths**-1.0, loss_std=np.zeros(3), n_models=np.ones(3, int), n_diverged=0)


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
