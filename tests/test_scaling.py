import numpy as np
import pytest

from toyscale.frequencies import power_law
from toyscale.scaling import width_curve, width_exponent
from toyscale.sweep import Record
from toyscale.scaling import WidthCurve


def records():
    out, i = [], 0
    for m in (4, 8, 16, 32):
        for gamma in (-1.0, 1.0):
            for seed in (0, 1):
                loss = (2.0 if gamma < 0 else 1.0) * m**-1.5 * (1 + 0.01 * seed)
                point = {"m": m, "gamma": gamma, "frequencies": power_law(1.2).describe(), "seed": seed}
                out.append(Record(model_id=i, point=point, diverged=(m == 32 and gamma > 0),
                                  outputs={"test_loss": np.float32(loss)}))
                i += 1
    return out


def test_width_curve_averages_seeds_drops_diverged_models_and_accepts_a_spec_object():
    curve = width_curve(records(), gamma=1.0, frequencies=power_law(1.2))  # the object, not its describe()
    assert curve.widths.tolist() == [4, 8, 16] and curve.n_diverged == 2 and curve.n_models.tolist() == [2, 2, 2]
    np.testing.assert_allclose(curve.loss, [m**-1.5 * 1.005 for m in (4, 8, 16)], rtol=1e-6)
    assert width_exponent(width_curve(records(), gamma=-1.0)).exponent == pytest.approx(1.5, abs=1e-3)
    # "from m = 8 up"
    assert width_exponent(width_curve(records(), gamma=-1.0), fit_range=(8, np.inf)).x_range == (8, 32)


def test_an_undefined_measure_of_a_finite_model_is_not_counted_as_diverged():
    # the overlap moments are NaN by definition with fewer than two represented rows
    recs = [Record(i, {"m": m, "gamma": 1.0, "seed": 0}, False,
                   {"test_loss": np.float32(1 / m), "overlap_mean": np.float32(np.nan if m == 4 else 1 / m)})
            for i, m in enumerate((4, 8, 16))]
    recs.append(Record(3, {"m": 32, "gamma": 1.0, "seed": 0}, True,
                       {"test_loss": np.float32(np.nan), "overlap_mean": np.float32(np.nan)}))
    curve = width_curve(recs, measure="overlap_mean", gamma=1.0)
    assert curve.widths.tolist() == [8, 16] and curve.n_diverged == 1 and curve.n_undefined == 1
    assert curve.to_dict()["n_undefined"] == 1
    loss = width_curve(recs, gamma=1.0)
    assert loss.widths.tolist() == [4, 8, 16] and loss.n_diverged == 1 and loss.n_undefined == 0


def test_width_curve_averages_only_replicates():
    # gamma left out: the two gammas' curves would be blended (and n_models look like seeds)
    with pytest.raises(ValueError, match=r"differ in \['gamma'\] at one width \(gamma: -1.0, 1.0\).*gamma=\.\.\."):
        width_curve(records())
    # a learning rate that changes with the width (one value per width) is not a blend
    by_width = [Record(model_id=r.model_id, point={**r.point, "lr_w": 0.1 / r.point["m"], "label": str(r.model_id)},
                       diverged=r.diverged, outputs=r.outputs) for r in records()]
    assert width_curve(by_width, gamma=-1.0).n_models.tolist() == [2, 2, 2, 2]


@pytest.mark.parametrize("call, error, match", [
    (lambda: width_curve(records(), gama=1.0), ValueError, r"no point has the field\(s\) \['gama'\].*'gamma'"),
    (lambda: width_curve(records(), gamma=0.5), ValueError, r"no record matches.*gamma: -1.0, 1.0"),
    (lambda: width_curve(records(), gamma=1.0, measure="tst_loss"), ValueError, r"measure='tst_loss'.*\['test_loss'\]"),
    (lambda: width_exponent(width_curve(records(), gamma=1.0), fit_range=(32, 4)), ValueError, "m_min <= m_max"),
    (lambda: width_exponent(width_curve(records(), gamma=1.0), fit_range=8), TypeError, "fit_range=8"),
    (lambda: width_exponent(width_curve(records(), gamma=1.0), fit_range=(20, 64)), ValueError,
     r"0 width\(s\) .*fit_range=\(20, 64\).*2 diverged"),
])
def test_a_curve_or_fit_that_finds_nothing_says_why(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_loss_std_is_the_spread_over_seeds_and_an_unflagged_nan_loss_is_diverged():
    recs = [Record(0, {"m": 4, "seed": 0}, False, {"test_loss": np.float32(1.00)}),
            Record(1, {"m": 4, "seed": 1}, False, {"test_loss": np.float32(1.02)}),
            Record(2, {"m": 8, "seed": 0}, False, {"test_loss": np.float32(0.5)}),
            Record(3, {"m": 8, "seed": 1}, False, {"test_loss": np.float32(np.nan)})]  # not flagged, still diverged
    curve = width_curve(recs)
    np.testing.assert_allclose(curve.loss_std, [0.01, 0.0], rtol=1e-5)  # population sd; 0 for one seed
    assert curve.n_models.tolist() == [2, 1] and curve.n_diverged == 1 and curve.n_undefined == 0


def _exact_curve():
    widths = np.array([4, 8, 16, 32])
    return WidthCurve(widths=widths, loss=3.0 * widths ** -1.0, loss_std=np.array([0.1, 0.1, 0.1, 0.1]),
                      n_models=np.full(4, 2), n_diverged=0)


def test_width_exponent_fits_the_mean_loss_not_its_spread():
    fit = width_exponent(_exact_curve())
    assert fit.exponent == pytest.approx(1.0, abs=1e-6)
    assert fit.prefactor == pytest.approx(3.0, rel=1e-6)


def test_fit_range_is_inclusive_at_both_ends():
    fit = width_exponent(_exact_curve(), fit_range=(8, 16))
    assert fit.x_range == (8, 16) and fit.n_points == 2
