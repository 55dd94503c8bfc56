import math

import numpy as np
import pytest

from toyscale import frequencies as fq


@pytest.mark.parametrize("spec", [fq.power_law(1.2), fq.power_law(0.0), fq.exponential(40.0), fq.linear(), fq.custom(np.arange(1, 51))])
@pytest.mark.parametrize("E", [1.0, 2.5])
def test_probs_sum_to_density_and_are_probabilities(spec, E):
    spec = fq.Frequencies(spec.kind, alpha=spec.alpha, tau=spec.tau, E=E, values=spec.values)
    p = spec.probs(50)
    assert p.shape == (50,)
    assert math.isclose(p.sum(), E, rel_tol=1e-12)
    assert np.all(p >= 0) and np.all(p <= 1)


def test_shapes_follow_the_paper():
    n = 100
    p = fq.power_law(1.2).probs(n)
    np.testing.assert_allclose(p[1:] / p[0], np.arange(2, n + 1) ** -1.2, rtol=1e-12)
    p = fq.exponential(400.0).probs(n)
    np.testing.assert_allclose(p[1:] / p[:-1], np.exp(-1 / 400), rtol=1e-12)
    p = fq.linear().probs(n)
    np.testing.assert_allclose(np.diff(p), -p[-1], rtol=1e-9)  # equal steps down to the last feature


def test_describe_round_trips():
    for spec in [fq.power_law(1.5, E=2.0), fq.exponential(10.0), fq.linear(), fq.custom([1, 2, 3])]:
        again = fq.as_frequencies(spec.describe())
        assert again == spec


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: fq.power_law(float("nan")), "alpha=nan"),
        (lambda: fq.power_law(float("inf")), "alpha=inf"),
        (lambda: fq.exponential(-1.0), "tau=-1.0"),
        (lambda: fq.Frequencies("zipfian"), "kind='zipfian'"),
        (lambda: fq.power_law(1.0, E=0.0), "E=0.0"),
        (lambda: fq.power_law(1.0).probs(0), "n=0"),
        (lambda: fq.power_law(2.0, E=5.0).probs(1000), "E=5.0"),
        (lambda: fq.custom([1.0, 2.0]).probs(3), "length 2 but n=3"),
        (lambda: fq.as_frequencies(3.0), "frequencies=3.0"),
        # a field the kind does not use would be stored in every record, which then match no plain spec
        (lambda: fq.Frequencies("power_law", alpha=1.0, tau=5.0), "tau=5.0; kind='power_law' takes no tau"),
        (lambda: fq.Frequencies("linear", values=(1.0, 2.0)), "kind='linear' takes no values"),
    ],
)
def test_bad_input_names_the_argument(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("make, error, match", [
    # custom weights are checked when the spec is made (they had failed later, in the sweep,
    # as "weights must be finite ..." without the argument or the bad entry)
    (lambda: fq.custom([0.0, 0.0]), ValueError, "values are all 0"),
    (lambda: fq.custom([1.0, float("nan"), 2.0]), ValueError, r"values\[1\]=nan"),
    (lambda: fq.custom([1.0, 2.0, -1.0]), ValueError, r"values\[2\]=-1.0.*1 of the 3"),
    (lambda: fq.custom([]), ValueError, "non-empty"),
    (lambda: fq.custom(["a"]), TypeError, "values=\\['a'\\]; values must be real numbers"),
    (lambda: fq.Frequencies("custom", values=("a",)), TypeError, "values must be real numbers"),
    # a number given as a string is a TypeError that says so, not "needs tau > 0"
    (lambda: fq.exponential("400"), TypeError, "tau='400'; tau must be a real number"),
    (lambda: fq.power_law("1.2"), TypeError, "alpha='1.2'; alpha must be a real number"),
    (lambda: fq.linear(E="1"), TypeError, "E='1'; E must be a real number"),
    (lambda: fq.power_law(True), TypeError, "alpha=True"),
])
def test_a_spec_is_checked_when_it_is_made(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_normalise_takes_a_numpy_integer_density():
    np.testing.assert_allclose(fq.normalise([1.0, 3.0], np.int64(1)), [0.25, 0.75])


def test_too_large_density_reports_the_limit():
    with pytest.raises(ValueError, match="largest E allowed"):
        fq.power_law(2.0, E=2.0).probs(1000)


def test_kind_names_take_the_factory_defaults():
    assert fq.as_frequencies("exponential") == fq.exponential()  # tau = 400, the paper's runs
    assert fq.as_frequencies("power_law") == fq.power_law(1.2)   # i^-1.2, the paper's large runs
    assert fq.as_frequencies("linear") == fq.linear()


def test_labels_name_the_parameter_value():
    assert "400" in fq.exponential(400.0, E=2.0).label
    assert "1.5" in fq.power_law(1.5).label


@pytest.mark.parametrize("spec, n", [(fq.power_law(-102.6), 1000), (fq.power_law(-300.0), 1000),
                                     (fq.custom([1e308, 1e308, 1e307]), 3),
                                     # (weights below 1e-308 had made density / total inf: "p_1=inf > 1")
                                     (fq.custom([1e-310, 1e-310, 1e-311]), 3)])
def test_weights_whose_sum_overflows_still_give_probabilities_summing_to_E(spec, n):
    # the sum of power_law(-102.6)'s weights at n = 1000 overflows (each is finite): p was all 0;
    # power_law(-300)'s largest weights overflow themselves ("weights must be finite")
    p = spec.probs(n)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(), spec.E, rtol=1e-12)
    assert np.argmax(p) == (0 if spec.kind == "custom" else n - 1)
    if spec.kind == "power_law":  # p_i / p_n = (i / n)^-alpha, as for a power law without overflow
        np.testing.assert_allclose(p[n // 2 - 1] / p[-1], 0.5 ** -spec.alpha, rtol=1e-9)


def test_too_large_a_density_names_the_most_frequent_feature():
    with pytest.raises(ValueError, match=r"E=600 makes p_1000=1.199 > 1.*largest E allowed here is 500.5"):  # (not p_1)
        fq.power_law(-1.0, E=600).probs(1000)
    with pytest.raises(ValueError, match=r"E=5 makes p_1="):
        fq.power_law(1.2, E=5).probs(1000)


def test_the_largest_E_suggested_is_rounded_down_so_it_is_accepted():
    # H_10 = 2.92897: the message said 2.929, and E=2.929 was then refused with the same message
    with pytest.raises(ValueError, match=r"largest E allowed here is 2.928$"):
        fq.power_law(1.0, E=5).probs(10)
    assert fq.power_law(1.0, E=2.928).probs(10)[0] == pytest.approx(2.928 / 2.9289682539682538)


def test_custom_refuses_a_table_of_weights():
    # a [2, 2] table had been flattened into 4 features
    with pytest.raises(ValueError, match=r"values has shape \(2, 2\); values must be one weight per feature"):
        fq.custom([[1, 2], [3, 4]])
