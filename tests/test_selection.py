"""Choosing records: loss_curve, width_curve and SweepResult.select refuse what they cannot
answer (a blend of curves, a field no point has, an array measure) and match a spec however it
was spelled; a folder holding another sweep says what differs."""

import json

import jax
import numpy as np
import pytest

from toyscale import random_features as rf
from toyscale.frequencies import exponential, power_law
from toyscale.scaling import width_curve
from toyscale.sweep import FolderInUseError, Record, SweepResult
from toyscale.train import TrainConfig, check_superposition_points, superposition_grid

TINY = TrainConfig(n=16, batch=8, steps=4, warmup=1, test_batches=1, log_every=2)


def rf_records():
    """Records of a random-feature grid (2 N x 2 T x 2 ridges x 2 seeds), made up, no training."""
    pts = rf.random_feature_grid(N=[2, 4], T=[4, 8], alpha=[0.5], ridge=[0.0, 1e-2], seeds=2)
    return [Record(model_id=i, point=p, diverged=False,
                   outputs={"test_loss": np.float64(p["N"] ** -0.5 + p["T"] ** -1.0 + p["ridge"] + 0.01 * p["seed"])})
            for i, p in enumerate(json.loads(json.dumps(pts)))]  # as the manifest reads back


def sp_result():
    """Records of a superposition grid (2 widths x 2 gammas x 2 spectra x 2 seeds) as the sweep
    stores their points, with a scalar and an array output; no training."""
    pts = superposition_grid(widths=[4, 8], gammas=[-1.0, 1.0], frequencies=[power_law(1.0), "exponential"],
                             lr_w=1e-2, lr_b=1e-2, seeds=2)
    pts = json.loads(json.dumps(check_superposition_points(TINY, pts)))
    records = [Record(model_id=i, point=p, diverged=False,
                      outputs={"test_loss": np.float32(p["m"] ** -1.0), "loss_curve": np.ones(2, np.float32)})
               for i, p in enumerate(pts)]
    return SweepResult(records=records, manifest={"points": pts}, stats={})


def test_loss_curve_refuses_to_pool_records_that_differ_in_more_than_seed():
    with pytest.raises(ValueError, match=r"differ in \['T', 'ridge'\] at one value of N \(T: 4, 8; ridge: 0.0, 0.01\)"
                                         r".*loss_curve\(result, 'N', T=\.\.\., ridge=\.\.\.\)"):
        rf.loss_curve(rf_records(), "N")
    x, mean, sem = rf.loss_curve(rf_records(), "N", T=8, ridge=0.0)
    assert x.tolist() == [2.0, 4.0] and np.all(sem > 0)
    np.testing.assert_allclose(mean, [n ** -0.5 + 1 / 8 + 0.005 for n in (2, 4)])


@pytest.mark.parametrize("call, match", [
    (lambda: rf.loss_curve(rf_records(), "n"), r"along='n'; no point has the field 'n'.*'N', 'T'"),
    (lambda: rf.loss_curve(rf_records(), "N", t=8), r"no point has the field\(s\) \['t'\].*'N', 'T'"),
])
def test_loss_curve_names_a_field_no_point_has(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_width_curve_needs_a_scalar_measure():
    with pytest.raises(ValueError, match=r"measure='loss_curve'.*shape \(2,\).*scalar output.*\['test_loss'\]"):
        width_curve(sp_result(), gamma=-1.0, frequencies=power_law(1.0), measure="loss_curve")


@pytest.mark.parametrize("spelling", [{"kind": "power_law", "alpha": 1.0}, "exponential",
                                      {"kind": "exponential", "tau": 400}])
def test_width_curve_matches_a_frequency_spec_however_the_sweep_accepted_it(spelling):
    assert width_curve(sp_result(), gamma=1.0, frequencies=spelling).n_models.tolist() == [2, 2]


def test_width_curve_names_a_frequency_spec_the_sweep_would_refuse():
    with pytest.raises(ValueError, match=r"frequencies='powerlaw' is not a frequency spec.*'power_law'"):
        width_curve(sp_result(), gamma=1.0, frequencies="powerlaw")


def test_select_compares_a_spec_object_through_its_description_and_refuses_an_unknown_field():
    res = sp_result()
    assert len(res.select(frequencies=exponential())) == len(res.select(frequencies=exponential().describe())) == 8
    assert len(res.select(gamma=-1.0, m=4)) == 4
    # the spellings the sweep accepted, as width_curve takes them (they had matched nothing)
    assert len(res.select(frequencies="exponential")) == 8
    assert res.select(frequencies={"kind": "exponential", "tau": 400.0}) == res.select(frequencies=exponential())
    with pytest.raises(ValueError, match=r"gama=-1.0; no point has the field\(s\) \['gama'\].*'gamma'"):
        res.select(gama=-1.0)


def test_a_folder_holding_another_sweep_says_what_differs(tmp_path):
    pts = rf.random_feature_grid(N=[2], T=[4], alpha=[0.5], seeds=2)
    cfg = rf.RFConfig(M=16)
    rf.sweep_random_features(cfg, pts, out=tmp_path, devices=jax.devices()[:1], progress=False)
    for args, kwargs, says in [
        ((rf.RFConfig(M=32), pts), {}, r"task config differs in M \(16 there, 32 now\)"),
        ((cfg, pts), {"seed": 3}, r"seed=0, this sweep with seed=3"),
        ((cfg, [pts[0], {**pts[1], "alpha": 0.25}]), {}, r"this sweep's point 1 is not among its 2 points \(the "
         r"nearest differs in alpha \(0.5 there, 0.25 now\)\), and 1 of its points are not in this sweep. To extend "
         r"the folder, keep every point it has \(in any order\)"),
        # (a grid that keeps them all and adds one is an extension, accepted; one that drops
        # one and adds another is neither, and the nearest old point is named whatever the order)
        ((cfg, [{**pts[1], "N": 4}, pts[0]]), {}, r"point 0 is not among its 2 points \(the nearest differs in "
         r"N \(2 there, 4 now\)\)"),
    ]:
        # a ValueError of its own type, which the scripts report as a usage error
        with pytest.raises(FolderInUseError, match=r"already holds a different sweep \(task 'random_features', 2 points\): .*"
                                                   + says):
            rf.sweep_random_features(*args, out=tmp_path, progress=False, **kwargs)
