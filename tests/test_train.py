import dataclasses
import json
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale import measure, train
from toyscale.frequencies import power_law
from toyscale.random_features import RFConfig, train_random_features
from toyscale.train import SuperpositionTask, TrainConfig, superposition_grid, sweep_superposition, train_model
from toyscale.sweep import common_key, model_key

SMALL = TrainConfig(n=48, batch=64, steps=120, warmup=12, test_batches=3, log_every=20)


def grid(**kw):
    args = dict(widths=[4], gammas=[-1.0, 0.5], frequencies=[power_law(1.2)], lr_w=2e-2, lr_b=2e-2)
    args.update(kw)
    return superposition_grid(**args)


@pytest.mark.parametrize("sampler", ["dense", "sparse"])
def test_model_in_a_vmapped_sweep_equals_the_model_trained_alone(sampler):
    cfg = dataclasses.replace(SMALL, sampler=sampler)
    points = grid(gammas=[-1.0, 0.0, 0.5], frequencies=[power_law(0.5), power_law(1.5)])
    res = sweep_superposition(cfg, points, seed=7, progress=False)
    for i in (0, 3, 5):
        p = points[i]
        alone = train_model(cfg, p["m"], gamma=p["gamma"], lr_w=p["lr_w"], lr_b=p["lr_b"],
                            frequencies=p["frequencies"], key=model_key(7, p, SuperpositionTask(cfg)))
        for name in ("test_loss", "loss_curve", "row_norms", "overlap_mean"):
            np.testing.assert_allclose(res[i][name], alone[name], rtol=2e-5, atol=1e-6, err_msg=name)


def test_train_model_reads_jax_scalars_as_the_numbers_they_hold():
    # jnp.asarray(0.1) for gamma had been refused as "not a real number" (superposition_grid took it)
    kw = dict(frequencies=power_law(1.2), key=jax.random.PRNGKey(3))
    plain = train_model(SMALL, 4, gamma=-0.5, lr_w=2e-2, lr_b=2e-2, **kw)
    arrays = train_model(SMALL, jnp.asarray(4), gamma=jnp.asarray(-0.5), lr_w=np.float32(2e-2),
                         lr_b=jnp.asarray(2e-2), **kw)
    np.testing.assert_array_equal(arrays["test_loss"], plain["test_loss"])
    with pytest.raises(TypeError, match="m="):
        train_model(SMALL, jnp.asarray(4.0), gamma=-0.5, lr_w=2e-2, lr_b=2e-2, **kw)  # (a width is an integer)


def test_outputs_have_documented_shapes_and_sane_values():
    cfg = dataclasses.replace(SMALL, steps=130, keep_weights=True)  # 130 = 6 logged blocks + 10 steps
    res = sweep_superposition(cfg, grid(), progress=False)
    r = res[0]
    assert r["loss_curve"].shape == (6,)
    assert r["row_norms"].shape == (48,)
    assert r["W"].shape == (48, 4) and r["b"].shape == (48,)
    assert 0 <= r["phi_one"] <= r["phi_half"] <= 1
    assert r["test_loss"] > 0 and not r.diverged
    assert r["truncated_batches"] == 0
    np.testing.assert_allclose(r["row_norms"], np.linalg.norm(r["W"], axis=1), rtol=1e-5)
    # phi_half and phi_one are the fractions of rows longer than 1/2 and 1, from the weights themselves (a
    # mutant threshold of 0.45 had passed the range check alone)
    for r in res:
        norms = np.linalg.norm(np.asarray(r["W"], np.float64), axis=1)
        assert not np.any(np.abs(norms - 0.5) < 1e-6) and not np.any(np.abs(norms - 1.0) < 1e-6)
        assert float(r["phi_half"]) == pytest.approx(np.mean(norms > 0.5)), r.point
        assert float(r["phi_one"]) == pytest.approx(np.mean(norms > 1.0)), r.point
    assert len({round(float(r["phi_half"]), 6) for r in res}) > 1  # (rows on both sides of 1/2 somewhere)
    # the overlaps of the rows longer than 1, as measure.overlap_stats gives them (NaN below two)
    for r in res:
        want = measure.overlap_stats(r["W"], threshold=1.0)
        assert int(want["n_represented"]) == round(float(r["phi_one"]) * 48)
        np.testing.assert_allclose([r["overlap_mean_one"], r["overlap_var_one"]],
                                   [want["overlap_mean"], want["overlap_var"]], rtol=1e-5, atol=1e-9)
    assert any(np.isfinite(r["overlap_mean_one"]) for r in res)


def test_the_overlaps_count_the_rows_past_the_configs_represented_threshold():
    # (a mutant measuring at 0.5 whatever represented_threshold said had passed: no test set another)
    cfg = dataclasses.replace(SMALL, keep_weights=True, represented_threshold=0.8)
    res = sweep_superposition(cfg, grid(), progress=False)
    for r in res:
        want = measure.overlap_stats(r["W"], threshold=0.8)
        longer = int(np.sum(np.linalg.norm(r["W"], axis=1) > 0.8))
        assert int(r["n_represented"]) == int(want["n_represented"]) == longer
        np.testing.assert_allclose([r["overlap_mean"], r["overlap_var"]], [want["overlap_mean"], want["overlap_var"]],
                                   rtol=1e-5, atol=1e-9)
    assert any(int(r["n_represented"]) != int(measure.overlap_stats(r["W"], threshold=0.5)["n_represented"])
               for r in res)  # (the threshold matters for these weights)


def test_overflowing_batches_are_counted(monkeypatch):
    # 4 event slots for a batch of 64 with Lambda ~ 1: every batch overflows, and says so.
    cfg = dataclasses.replace(SMALL, sampler="sparse")
    points = grid(gammas=[-1.0])
    with warnings.catch_warnings():  # the real capacity: no overflow, no warning
        warnings.simplefilter("error", RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*empty model", category=RuntimeWarning)  # (120 steps)
        assert sweep_superposition(cfg, points, progress=False)[0]["truncated_batches"] == 0
    monkeypatch.setattr(train.data, "event_capacity", lambda batch, rate: 4)
    # ... and the sweep says so, rather than leaving it in an output array
    with pytest.warns(RuntimeWarning, match=r"1 model\(s\) \(ids \[0\]\) had batches whose events overflowed "
                                            r"the sparse sampler's 4 slots .* raise TrainConfig.max_rate"):
        res = sweep_superposition(cfg, points, progress=False)
    assert res[0]["truncated_batches"] == cfg.steps + cfg.test_batches
    assert res.stats["truncated_models"] == [0]


def test_strong_decay_represents_every_feature_and_weak_decay_about_m_of_them():
    cfg = TrainConfig(n=100, batch=256, steps=1000, warmup=100, test_batches=4, log_every=100)
    points = superposition_grid(widths=[10], gammas=[-1.0, 1.0], frequencies=[power_law(1.0)],
                                lr_w=2e-2, lr_b=2e-2, seeds=[0, 1])
    res = sweep_superposition(cfg, points, progress=False)
    strong = res.select(gamma=-1.0)
    weak = res.select(gamma=1.0)
    assert all(r["phi_half"] >= 0.97 for r in strong)
    assert all(abs(r["phi_half"] - 10 / 100) <= 0.05 for r in weak)
    # Strong superposition fits more features into the same width: lower loss.
    assert max(r["test_loss"] for r in strong) < min(r["test_loss"] for r in weak)


class CountingTask(SuperpositionTask):
    traces: list = []

    def model_fn(self, static, inputs, key):
        CountingTask.traces.append(static)
        return super().model_fn(static, inputs, key)


def test_exactly_one_compilation_per_width():
    CountingTask.traces = []
    points = grid(widths=[3, 5], gammas=[-1.0, 0.0, 0.3, 1.0, 0.7])
    from toyscale.sweep import run_sweep

    res = run_sweep(CountingTask(SMALL), points, chunk_size=4, progress=False)  # 5 per width -> 2 chunks each
    assert res.stats["chunks"] == 4
    assert sorted(CountingTask.traces) == [3, 5]


@pytest.mark.compiled_as_users_do
def test_the_auto_sampler_draws_each_model_as_its_own_sampler_would():
    # Lambda(power_law(1.2)) ~ 0.9 <= max_rate: sparse; p_1 = 1 and Lambda ~ 2.9 > 2: dense. Model keys
    # come from the points alone, so each model must equal, bit for bit, its twin in a one-sampler sweep.
    always = {"kind": "custom", "values": [1.0] + [0.0625] * 47, "E": 3.9375}  # p_1 = 1 exactly
    specs = [power_law(1.2), always, power_law(1.0, E=2.5)]
    points = grid(widths=[3, 5], gammas=[-1.0], frequencies=specs)
    CountingTask.traces = []
    from toyscale.sweep import run_sweep

    auto = run_sweep(CountingTask(dataclasses.replace(SMALL, sampler="auto")), points, seed=3, progress=False)
    assert sorted(CountingTask.traces) == [(3, "dense"), (3, "sparse"), (5, "dense"), (5, "sparse")]
    assert sorted(auto.stats["chunk_sizes"]) == ["(3, 'dense')", "(3, 'sparse')", "(5, 'dense')", "(5, 'sparse')"]
    sparse_ids = [i for i, p in enumerate(points) if p["frequencies"] == power_law(1.2).describe()]
    assert sparse_ids == [0, 3]
    for sampler, ids in (("sparse", sparse_ids), ("dense", [1, 2, 4, 5])):
        alone = sweep_superposition(dataclasses.replace(SMALL, sampler=sampler), [points[i] for i in ids], seed=3,
                                    progress=False)
        for i, r in zip(ids, alone):
            for k in r.outputs:
                np.testing.assert_array_equal(auto[i][k], r[k], err_msg=f"model {i} ({sampler}), {k}")
    # (the dense sampler's models, here with one feature always active, differ from a sparse twin's)
    assert auto[1]["test_loss"] != auto[0]["test_loss"]


def test_the_auto_sampler_refuses_a_reduced_precision_model_it_would_draw_densely(monkeypatch):
    monkeypatch.setattr(train, "run_sweep", lambda *a, **k: pytest.fail("compiled before validating"))
    cfg = dataclasses.replace(SMALL, sampler="auto", matmul_precision="bfloat16")
    with pytest.raises(ValueError, match=r"Lambda=2.87.* > max_rate=2.0, so sampler='auto' draws them densely.*"
                                         r"matmul_precision='bfloat16' needs every model sparse"):
        sweep_superposition(cfg, grid(frequencies=[power_law(1.2), power_law(1.0, E=2.5)]))
    monkeypatch.undo()
    sweep_superposition(dataclasses.replace(cfg, steps=20, warmup=2, log_every=10), grid(widths=[3], gammas=[-1.0]),
                        progress=False)  # every model sparse: allowed


def test_a_diverging_model_is_flagged_and_does_not_poison_its_neighbours():
    points = grid(gammas=[-1.0, 0.5])
    points.insert(1, dict(points[0], lr_w=1e30))
    res = sweep_superposition(SMALL, points, chunk_size=3, progress=False)
    assert [r.diverged for r in res] == [False, True, False]
    # its W went NaN: no fraction represented (0.0 had read as a measurement)
    assert np.isnan(res[1]["phi_half"]) and np.isnan(res[1]["phi_one"]) and np.isfinite(res[0]["phi_half"])
    clean = sweep_superposition(SMALL, [points[0], points[2]], progress=False)
    # Model ids differ between the two sweeps, so compare qualities, not bits.
    assert np.isfinite(res[0]["test_loss"]) and np.isfinite(res[2]["test_loss"])
    assert abs(res[2]["test_loss"] - clean[1]["test_loss"]) < 0.5


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: TrainConfig(n=0), "n=0"),
        (lambda: TrainConfig(n=10, batch=-1), "batch=-1"),
        (lambda: TrainConfig(n=10, steps=-5, log_every=1), "steps=-5"),
        (lambda: TrainConfig(n=10, steps=10, warmup=20, log_every=5), "warmup=20"),
        (lambda: TrainConfig(n=10, rng="mt"), "rng='mt'"),
        (lambda: TrainConfig(n=10, sampler="poisson"), "sampler='poisson'"),
        # a choice given as an array is named (numpy's "truth value ... is ambiguous" had come out)
        (lambda: TrainConfig(n=10, sampler=np.array(["dense", "sparse"])), r"sampler=array\(.*must be a single string"),
        (lambda: TrainConfig(n=10, rng=np.array(["hash"])), r"rng=array\(.*must be a single string, one of 'threefry'"),
        (lambda: TrainConfig(n=10, matmul_precision=np.array(["a", "b"])), r"matmul_precision=array\(.*single string"),
        (lambda: grid(frequencies=[{"kind": np.array(["linear", "linear"])}]), r"kind=array\(.*single string"),
        (lambda: TrainConfig(n=10, sampler="sparse", max_rate=0.0), "max_rate=0.0"),
        (lambda: TrainConfig(n=2**20, batch=2**13, sampler="sparse"), "batch=8192 with n=1048576"),
        (lambda: sweep_superposition(dataclasses.replace(SMALL, sampler="sparse"), grid(frequencies=[power_law(1.0, E=2.5)])),
         "Lambda=2.87.*max_rate=2.0"),
        (lambda: sweep_superposition(dataclasses.replace(SMALL, sampler="sparse"),
                                     grid(frequencies=[{"kind": "custom", "values": [1.0] + [0.0] * 47}])),
         r"have p_i = 1 \(feature 1 is active in every sample\).*use sampler='dense'"),
        (lambda: train_model(dataclasses.replace(SMALL, sampler="sparse", max_rate=0.5), 3, gamma=0.0, lr_w=1e-2,
                             lr_b=1e-2, frequencies="linear", key=jax.random.PRNGKey(0)), "Lambda=1.0.*max_rate=0.5"),
        (lambda: TrainConfig(n=10, steps=50, warmup=5, log_every=100), "log_every=100"),
        (lambda: grid(widths=[0]), "m=0"),
        (lambda: grid(widths=[-3]), "m=-3"),
        (lambda: grid(frequencies=[power_law(float("nan"))]), "alpha=nan"),
        (lambda: grid(frequencies=["zipf"]), "kind='zipf'"),
        # one spec spelled two ways: check_axis had seen two values, and the grid trained one model twice
        (lambda: grid(frequencies=["power_law", power_law(1.2), {"kind": "power_law", "alpha": 1.2, "E": 1}]),
         r"holds \{'kind': 'power_law', 'E': 1.0, 'alpha': 1.2\} twice \(as 'power_law' and Frequencies\(kind="),
        (lambda: grid(frequencies=[power_law(2.0, E=4.0)], n=1000), "E=4.0"),
        (lambda: grid(gammas=[float("inf")]), "gamma=inf"),
        (lambda: grid(lr_w=-1.0), "lr_w=-1.0"),
        (lambda: grid(frequencies=[{"kind": "custom", "values": [1.0, 2.0]}], n=48), "length 2 but n=48"),
        (lambda: sweep_superposition(SMALL, [dict(grid()[0], m=0)]), "m=0"),
        (lambda: sweep_superposition(SMALL, [dict(grid()[0], frequencies={"kind": "power_law", "alpha": 1.0, "E": 40.0})]), "E=40.0"),
        (lambda: sweep_superposition(SMALL, [{"m": 3}]), "lacks"),
        (lambda: train_model(SMALL, 0, gamma=0.0, lr_w=1e-2, lr_b=1e-2, frequencies="linear", key=jax.random.PRNGKey(0)), "m=0"),
        # an empty axis is named; so is a learning-rate rule that gives a bad value at some width
        (lambda: grid(lr_w=[]), "lr_w=\\[\\] is empty"),
        (lambda: grid(gammas=[]), "gammas=\\[\\] is empty"),
        (lambda: grid(lr_b=lambda m: -1.0), "lr_b\\(4\\)=-1.0"),
        # values the model cannot train with in float32: refused, not flagged as diverged or run at lr 0
        (lambda: grid(gammas=[1e39]), "gamma=1e\\+39.*float32"),
        (lambda: sweep_superposition(SMALL, [dict(grid()[0], lr_w=1e39)]), "lr_w=1e\\+39.*float32"),
        (lambda: sweep_superposition(SMALL, [dict(grid()[0], lr_b=1e-50)]), "lr_b=1e-50.*smallest normal float32"),
        (lambda: sweep_superposition(SMALL, [dict(grid()[0], lr_w=1e-40)]), "lr_w=1e-40.*smallest normal float32"),
        # a setting put in a point instead of the config is not silently ignored
        (lambda: sweep_superposition(SMALL, [dict(grid()[0], batch=64)]), "unknown field.*'batch'"),
    ],
)
def test_bad_input_raises_before_compiling(call, match, monkeypatch):
    def no_compile(*a, **k):
        raise AssertionError("compiled before validating")

    monkeypatch.setattr(train, "run_sweep", no_compile)
    monkeypatch.setattr(train, "_train", no_compile)
    with pytest.raises(TypeError if "single string" in match else ValueError, match=match):
        call()


@pytest.mark.parametrize("axis, value, match", [
    ("widths", 4, "widths=4; widths must be a list"), ("gammas", -1.0, "gammas=-1.0; gammas must be a list"),
    ("frequencies", "power_law", "frequencies='power_law'; frequencies must be a list"),  # not swept letter by letter
    ("frequencies", power_law(1.2), "frequencies=Frequencies.*must be a list"),
    ("seeds", "0", "seeds='0'; seeds must be a list"), ("seeds", 2.5, "seeds=2.5; seeds must be a count"),
    # a list typed without brackets (--set widths=16,32): the suggestion must itself work
    ("widths", "16,32", r"widths='16,32'; widths must be a list of values, e.g. \[16,32\]"),
    # a list or a number typed as text: the suggestion is the value itself, not its text in a list
    ("widths", "[8, 16]", r"widths='\[8, 16\]'; widths must be a list of values, e.g. \[8, 16\] \(the list itself, "
                          r"not its text\)"),
    ("gammas", "-1", r"gammas='-1'; gammas must be a list of values, e.g. \[-1\]$"),
    ("widths", "(8, 16)", r"e.g. \[8, 16\] \(the list itself, not its text\)"),
    ("gammas", "NaN", r"gammas='NaN'; gammas must be a list of values, e.g. \['NaN'\]$"),
])
def test_a_lone_value_for_a_grid_axis_is_refused_naming_it(axis, value, match):
    with pytest.raises(TypeError, match=match):
        grid(**{axis: value})


def test_seeds_may_be_a_count_and_a_frequencies_object_may_sit_in_a_point(tmp_path):
    assert [p["seed"] for p in grid(seeds=3)] == [0, 1, 2] * 2
    point = dict(grid(widths=[3])[0], frequencies=power_law(1.2))  # the object, not its description
    res = sweep_superposition(dataclasses.replace(SMALL, steps=20, warmup=2, log_every=10), [point],
                              out=tmp_path, progress=False)
    assert res.manifest["points"][0]["frequencies"] == power_law(1.2).describe()
    # a tag of the user's own rides along under "label"
    labelled = sweep_superposition(dataclasses.replace(SMALL, steps=20, warmup=2, log_every=10),
                                   [dict(point, label="strong")], progress=False)
    assert labelled[0].point["label"] == "strong"



def test_matmul_precision_is_checked_by_the_config():
    with pytest.raises(ValueError, match="matmul_precision='tf32'"):
        TrainConfig(n=10, matmul_precision="tf32")
    for precision in ("bfloat16", "tensorfloat32"):
        with pytest.raises(ValueError, match="needs sampler='sparse'"):
            TrainConfig(n=10, matmul_precision=precision, sampler="dense")
        assert TrainConfig(n=10, matmul_precision=precision).matmul_precision == precision


def test_train_model_names_a_key_that_is_not_a_prng_key():
    with pytest.raises(TypeError, match="key=0; key must be a PRNG key"):
        train_model(SMALL, 3, gamma=0.0, lr_w=1e-2, lr_b=1e-2, frequencies="linear", key=0)


def test_loss_scale_is_adam_on_the_scaled_loss(monkeypatch):
    # loss_scale = c must train the model that Adam trains on c x L / n. A small c makes
    # eps (1e-8) dominate the update, so ignoring loss_scale would show.
    from toyscale import superposition

    cfg = TrainConfig(n=40, batch=32, steps=36, warmup=4, test_batches=2, log_every=12)
    kw = dict(gamma=-1.0, lr_w=2e-2, lr_b=2e-2, frequencies=power_law(1.2), key=jax.random.PRNGKey(3))
    scaled = train_model(dataclasses.replace(cfg, loss_scale=1e-5), 4, **kw)
    plain = train_model(cfg, 4, **kw)
    real = superposition.per_element_loss_and_grad

    def scaled_grad(params, x, precision="float32"):
        value, grads = real(params, x, precision)
        return value, jax.tree.map(lambda g: 1e-5 * g, grads)

    monkeypatch.setattr(superposition, "per_element_loss_and_grad", scaled_grad)
    by_hand = train_model(dataclasses.replace(cfg, log_every=9), 4, **kw)  # another config: compiled afresh
    np.testing.assert_allclose(scaled["row_norms"], by_hand["row_norms"], rtol=1e-4)
    assert scaled["test_loss"] == pytest.approx(float(by_hand["test_loss"]), rel=1e-4)
    assert np.max(np.abs(scaled["row_norms"] - plain["row_norms"])) > 1e-2


@pytest.mark.parametrize("value, error", [(0.0, ValueError), (-1.0, ValueError), (float("inf"), ValueError),
                                          (1e21, ValueError), ("100", TypeError)])
def test_loss_scale_is_checked_by_the_config(value, error):
    with pytest.raises(error, match="loss_scale"):
        TrainConfig(n=10, loss_scale=value)


@pytest.mark.parametrize("value", ["False", "no", 1, 0.0, None])
def test_keep_weights_must_be_a_bool(value):
    # `--set train.keep_weights=False` arrives as the string 'False', which is truthy
    with pytest.raises(TypeError, match=f"keep_weights={value!r}; keep_weights must be True or False"):
        TrainConfig(n=10, keep_weights=value)
    assert TrainConfig(n=10, keep_weights=np.bool_(True)).keep_weights is True


@pytest.mark.parametrize("seeds, error, match", [
    ([0.5, 1.5], TypeError, "seed=0.5"),  # int() had truncated them: 0.2 and 0.7 were one model
    ([True, False], TypeError, "seed=True"),
    ([-1], ValueError, "seed=-1"),
    (["a"], TypeError, "seed='a'"),
])
def test_grid_seeds_are_integers_checked_by_name(seeds, error, match):
    with pytest.raises(error, match=match):
        grid(seeds=seeds)


def test_a_learning_rate_may_be_a_zero_dimensional_array():
    import jax.numpy as jnp

    expected = grid(lr_w=1e-2)
    assert grid(lr_w=np.array(1e-2)) == grid(lr_w=np.float64(1e-2)) == expected
    assert grid(lr_w=jnp.float32(1e-2))[0]["lr_w"] == pytest.approx(1e-2)
    # a string is refused as what it is, not as a lone value that wants brackets ("e.g. ['0.01']")
    with pytest.raises(TypeError, match=r"lr_w='0.01'; lr_w must be a number, a list of numbers or a function"):
        grid(lr_w="0.01")
    with pytest.raises(TypeError, match=r"lr_b=\{'m': 1\}; lr_b must be a number"):
        grid(lr_b={"m": 1})


def test_a_frozen_model_replays_its_loss_curve_and_test_loss_from_the_documented_streams():
    # lr ~ 0 keeps W and b at their initial values, so every logged number can be recomputed:
    # the curve is the mean paper loss L (summed over outputs) of each block of training batches,
    # the test loss L over fresh batches from their own stream
    from toyscale import data, superposition

    cfg = TrainConfig(n=16, batch=64, steps=40, warmup=4, test_batches=5, log_every=10, sampler="dense",
                      keep_weights=True)
    key = jax.random.PRNGKey(5)
    # (still at its initial b ~ N(0, 1), it is worse than outputting 0, and is told so)
    with pytest.warns(RuntimeWarning, match=r"the model ended with a test loss at or above the empty model's .* "
                                            r"usually too few steps \(steps=40, warmup=4\)"):
        out = train_model(cfg, 3, gamma=0.0, lr_w=1e-30, lr_b=1e-30, frequencies=power_law(1.0), key=key)
    k_init, k_data, k_test = (jax.random.fold_in(key, i) for i in range(3))
    params = superposition.init_params(k_init, 16, 3)
    np.testing.assert_allclose(out["W"], params["W"], rtol=1e-6, atol=1e-7)
    p = np.asarray(power_law(1.0).probs(16), np.float32)

    def loss(k):
        return float(superposition.loss(params, data.sample_features(k, p, 64)))

    curve = [np.mean([loss(jax.random.fold_in(k_data, t)) for t in range(b * 10, b * 10 + 10)]) for b in range(4)]
    np.testing.assert_allclose(out["loss_curve"], curve, rtol=1e-4)
    assert float(out["test_loss"]) == pytest.approx(np.mean([loss(jax.random.fold_in(k_test, i)) for i in range(5)]),
                                                    rel=1e-4)
    # the empty model's loss on the same test batches: <||x||^2>
    tests = [np.asarray(data.sample_features(jax.random.fold_in(k_test, i), p, 64)) for i in range(5)]
    assert float(out["empty_loss"]) == pytest.approx(np.mean([np.mean(np.sum(x ** 2, -1)) for x in tests]), rel=1e-5)
    assert float(out["test_loss"]) > float(out["empty_loss"])


def test_an_empty_loss_of_zero_still_gets_its_warning():
    # rare enough features that the test samples have none: empty_loss = 0 < test_loss, which has
    # no relative excess to give (the percentage divided by it and raised ZeroDivisionError)
    cfg = TrainConfig(n=4, batch=8, steps=2, warmup=1, test_batches=1, log_every=1)
    with pytest.warns(RuntimeWarning, match=r"'empty_loss'\), doing no better than outputting 0"):
        out = train_model(cfg, 2, gamma=0.0, lr_w=1e-2, lr_b=1e-2, frequencies=power_law(1.2, E=1e-7),
                          key=jax.random.PRNGKey(0))
    assert float(out["empty_loss"]) == 0.0 < float(out["test_loss"])


@pytest.mark.parametrize("sampler", ["dense", "sparse"])
def test_a_sweep_names_the_models_that_learned_nothing(sampler):
    # a frozen model (lr ~ 0) ends above the empty model's loss; one trained for 400 steps ends
    # well below it (0.87 against 1.45 here); only the frozen one is named
    from toyscale.data import V_SECOND_MOMENT

    cfg = TrainConfig(n=48, batch=64, steps=400, warmup=40, test_batches=20, log_every=100, sampler=sampler)
    points = grid(gammas=[-1.0], lr_w=[1e-30, 2e-2], lr_b=[2e-2])
    assert [p["lr_w"] for p in points] == [1e-30, 2e-2]
    with pytest.warns(RuntimeWarning, match=r"1 model\(s\) \(ids \[0\]\) of 2 ended with a test loss at or above "
                                            r"the empty model's") as caught:
        res = sweep_superposition(cfg, points, progress=False)
    frozen, trained = res
    # and says how far above it: one model, one number
    excess = 100 * (float(frozen["test_loss"]) / float(frozen["empty_loss"]) - 1)
    said = [re.search(r"'empty_loss'; ([0-9.]+) % above it\)", str(w.message)) for w in caught]
    assert [float(m.group(1)) for m in said if m] == [pytest.approx(excess, rel=0.05)], excess
    assert res.stats["no_better_than_empty"] == [0] and res.stats["truncated_models"] == []
    assert float(trained["test_loss"]) < 0.8 * float(trained["empty_loss"]) < float(frozen["test_loss"])
    # in expectation the empty model's loss is <v^2> sum_i p_i (1280 test samples: within 10 %)
    expected = V_SECOND_MOMENT * power_law(1.2).probs(48).sum()
    for r in res:
        assert float(r["empty_loss"]) == pytest.approx(expected, rel=0.1)


def test_a_short_run_is_told_to_set_the_paper_defaults_it_cannot_use():
    # both at once, each with a value that works
    with pytest.raises(ValueError, match=r"^log_every=100 \(the default\); warmup=2000 \(the default\): log_every and "
                                         r"warmup must not exceed steps=50; give them, e.g. log_every=5, warmup=5$"):
        TrainConfig(n=64, steps=50)
    with pytest.raises(ValueError, match=r"^warmup=2000 \(the default\): warmup must not exceed steps=500; give it, "
                                         r"e.g. warmup=50$"):
        TrainConfig(n=64, steps=500)
    with pytest.raises(ValueError, match=r"^warmup=600: warmup must not"):  # (not the default: not called one)
        TrainConfig(n=64, steps=500, warmup=600)
    assert TrainConfig(n=64, steps=50, warmup=5, log_every=5).log_every == 5


def test_the_sparse_tables_of_a_frequency_vector_are_built_once():
    # every model of a sweep with one p shares its alias and Poisson tables (built in float64
    # on the host: ~95 ms per model at n = 100k if rebuilt)
    from toyscale import train

    train._cached_sparse_tables.cache_clear()
    cfg = dataclasses.replace(SMALL, sampler="sparse", steps=20, warmup=2, log_every=10)
    sweep_superposition(cfg, grid(widths=[3, 4], gammas=[-1.0, 0.5]), progress=False)
    info = train._cached_sparse_tables.cache_info()
    assert info.misses == 1 and info.hits >= 3


@pytest.mark.parametrize("field, value", [("test_batches", 0), ("represented_threshold", 0.0)])
def test_the_config_refuses_a_zero_where_it_would_give_nan(field, value):
    with pytest.raises(ValueError, match=f"{field}={value}"):
        TrainConfig(n=10, **{field: value})


def test_a_model_whose_bias_goes_infinite_is_flagged(monkeypatch):
    # -inf in b leaves the loss and W finite: only the check on b can flag it
    from toyscale import superposition

    real = superposition.init_params

    def init(key, n, m, dtype=jax.numpy.float32, **options):
        params = real(key, n, m, dtype, **options)
        return {"W": params["W"], "b": params["b"].at[0].set(-jax.numpy.inf)}

    monkeypatch.setattr(superposition, "init_params", init)
    cfg = TrainConfig(n=16, batch=64, steps=40, warmup=4, test_batches=4, log_every=10, sampler="dense",
                      keep_weights=True)  # a config of its own: traced afresh with the patched init
    out = train_model(cfg, 3, gamma=0.0, lr_w=1e-2, lr_b=1e-2, frequencies=power_law(1.0), key=jax.random.PRNGKey(0))
    assert np.isfinite(out["test_loss"]) and np.all(np.isfinite(out["W"]))
    assert bool(out["diverged"])


def test_a_config_round_trips_through_its_dict_and_refuses_an_unknown_key():
    config = TrainConfig(n=16, batch=8, steps=4, warmup=1, log_every=2, rng="hash")
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert RFConfig.from_dict(RFConfig(M=8, sigma_w=2.0).to_dict()) == RFConfig(M=8, sigma_w=2.0)
    with pytest.raises(TypeError, match=r"'warmpu' is not a setting of TrainConfig \(did you mean 'warmup'\?\)"):
        TrainConfig.from_dict({"n": 16, "warmpu": 1})
    with pytest.raises(TypeError, match="a TrainConfig is made from a dict"):
        TrainConfig.from_dict([("n", 16)])
    with pytest.raises(ValueError, match="n=0"):  # the fields' own checks still run
        TrainConfig.from_dict({"n": 0})


# what a mutation review of _checks.py found unguarded
def test_a_single_spec_or_a_mapping_is_not_an_axis():
    # one frequency spec where a list of them is expected: say so, not "'kind' is not a kind"
    with pytest.raises(TypeError, match=r"frequencies=\{'kind': 'power_law', 'alpha': 1.2\}; frequencies must be a list"):
        superposition_grid(widths=[4], gammas=[1.0], frequencies={"kind": "power_law", "alpha": 1.2}, lr_w=1e-2,
                           lr_b=1e-2)
    with pytest.raises(TypeError, match="widths=.*widths must be a list"):  # not silently its keys
        superposition_grid(widths={4: "a", 8: "b"}, gammas=[1.0], frequencies=["linear"], lr_w=1e-2, lr_b=1e-2)


def test_a_batch_of_keys_is_not_a_prng_key():
    # jax.random.split(key, 3) is a (3, 2) uint32 array: three keys, not one
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        train_model(SMALL, 3, gamma=0.0, lr_w=1e-2, lr_b=1e-2, frequencies="linear", key=keys)
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        train_random_features(RFConfig(M=8), {"N": 2, "T": 4, "alpha": 1.0}, key=keys)
    # a batch of typed keys and a raw key of the wrong length had failed inside tracing, in
    # JAX's words ("fold_in accepts a single key", "expected key_data.shape to end with (2,)")
    for bad, match in ((jax.random.split(jax.random.key(0), 3), r"typed key array of shape \(3,\)"),
                       (np.zeros(5, np.uint32), r"uint32 array of shape \(5,\).*has shape \(2,\)"),
                       (np.zeros(0, np.uint32), r"uint32 array of shape \(0,\)"),
                       # a batch of raw keys: its shape named (its whole array had been shown)
                       (keys, r"uint32 array of shape \(3, 2\).*one key is wanted, not a batch of keys")):
        with pytest.raises(TypeError, match=match):
            train_model(SMALL, 3, gamma=0.0, lr_w=1e-2, lr_b=1e-2, frequencies="linear", key=bad)
        with pytest.raises(TypeError, match=match):
            train_random_features(RFConfig(M=8), {"N": 2, "T": 4, "alpha": 1.0}, key=bad)


def test_an_axis_value_given_twice_is_refused():
    # widths=[3, 3, 4, 6] had trained width 3 twice and averaged the copies as if they were seeds
    for axes, match in ((dict(widths=[3, 3, 4]), "widths=\\[3, 3, 4\\] holds 3 twice"),
                        (dict(gammas=[1.0, 1]), "gammas=\\[1.0, 1\\] holds 1 twice"),
                        (dict(seeds=[0, 0]), "seeds=\\[0, 0\\] holds 0 twice"),
                        (dict(frequencies=[power_law(1.2), power_law(1.2)]), "twice")):
        grid = dict(widths=[3], gammas=[1.0], frequencies=["linear"], seeds=[0]) | axes
        with pytest.raises(ValueError, match=match):
            superposition_grid(**grid, lr_w=1e-2, lr_b=1e-2)
    from toyscale.random_features import random_feature_grid

    with pytest.raises(ValueError, match="N=\\[2, 2\\] holds 2 twice"):
        random_feature_grid(N=[2, 2], T=[4], alpha=[0.5])


def test_a_grid_passed_where_the_config_goes_is_named_briefly():
    points = grid(widths=[4, 8, 16, 32], gammas=[-1.0, 0.5, 1.0])
    with pytest.raises(TypeError, match=r"config=\[\{'m': 4, .* characters\); expected a toyscale.TrainConfig") as hit:
        sweep_superposition(points, SMALL)
    assert len(str(hit.value)) < 250


# what a second mutation review of _checks.py found unguarded
def test_the_ends_of_a_checked_range_are_taken():
    # kills: check_int's maximum excluded (seed 2**32 - 1 refused, where the message says [0, 4294967295]) and float32's
    # largest number refused (its smallest normal one is taken: tests/test_random_features.py)
    from toyscale._checks import check_float32, check_seed

    assert check_seed(2**32 - 1) == 2**32 - 1
    with pytest.raises(ValueError, match=r"seed=4294967296; must be an integer in \[0, 4294967295\]"):
        check_seed(2**32)
    largest = float(np.finfo(np.float32).max)
    assert check_float32("gamma", -largest) == -largest
    with pytest.raises(ValueError, match=r"gamma=-3.5e\+38; a negative gamma's magnitude must lie in"):
        check_float32("gamma", -3.5e38)


def test_a_long_text_is_cut_to_about_its_limit_and_one_that_fits_is_kept():
    # kills: a text of exactly the limit cut, and a cut text that keeps the limit's worth of characters and then adds
    # "... (n characters)" (about 20 over)
    from toyscale._checks import shorten

    assert shorten("x" * 160) == "x" * 160
    cut = shorten("y" * 1000)
    assert cut.startswith("y" * 100) and cut.endswith(" ... (1000 characters)") and abs(len(cut) - 160) <= 5


def test_bytes_are_no_axis_and_true_is_suggested_as_the_text_it_is():
    # kills: bytes taken as an axis of their byte values, and "true" (a bool to JSON, not a number) suggested as [True]
    from toyscale._checks import check_axis

    with pytest.raises(TypeError, match=r"widths=b'\\x03\\x04'; widths must be a list of values"):
        check_axis("widths", b"\x03\x04")
    with pytest.raises(TypeError, match=r"gammas='true'; gammas must be a list of values, e.g. \['true'\]$"):
        check_axis("gammas", "true")


def test_two_specs_that_cannot_be_compared_are_not_one_given_twice():
    # kills: values whose == is no single truth value (custom specs holding numpy arrays) refused as a repeat
    specs = [{"kind": "custom", "values": np.ones(3)}, {"kind": "custom", "values": np.arange(1.0, 4.0)}]
    points = superposition_grid(widths=[2], gammas=[1.0], frequencies=specs, lr_w=1e-2, lr_b=1e-2)
    assert [p["frequencies"]["values"] for p in points] == [[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]


def test_a_raw_key_of_the_wrong_length_is_not_called_a_batch():
    # kills: "one key is wanted, not a batch of keys" said of one raw key of the wrong length
    from toyscale._checks import prng_key

    words = jax.random.PRNGKey(0).shape
    with pytest.raises(TypeError, match=re.escape(f"key is a uint32 array of shape (5,); key must be a PRNG key: a raw "
                                                  f"key (jax.random.PRNGKey) of the default implementation has shape "
                                                  f"{words}") + "$"):
        prng_key("key", np.zeros(5, np.uint32))


@pytest.mark.parametrize("n, batch, m, sampler", [(4000, 64, 4, "sparse"), (1000, 256, 16, "sparse"),
                                                  (1000, 256, 16, "dense"), (2000, 32, 2, "dense"),
                                                  (10000, 8, 2, "sparse"),  # (42.1 MB predicted for 45.8)
                                                  (500, 8, 2, "sparse"), (100, 4, 2, "dense")])  # (one [n, n] block)
@pytest.mark.compiled_as_users_do
def test_the_memory_prediction_bounds_what_xla_allocates_for_one_model(n, batch, m, sampler):
    # (chunks are sized by bytes_per_model; at n = 4000, batch 64 it had predicted 17.0 MB where
    # XLA's memory analysis of one model gave 18.8 MB: the overlap's Gram block was counted once)
    cfg = TrainConfig(n=n, batch=batch, steps=20, warmup=2, test_batches=2, log_every=10, sampler=sampler)
    task = SuperpositionTask(cfg)
    p = {"m": m, "gamma": -1.0, "lr_w": 1e-2, "lr_b": 1e-2, "frequencies": power_law(1.2).describe()}
    static = task.static_of(p)
    inputs = {k: jnp.asarray(v) for k, v in task.inputs_of(p).items()}
    fn = jax.jit(lambda i, k: task.model_fn(static, i, k))
    ma = fn.lower(inputs, jax.random.PRNGKey(0)).compile().memory_analysis()
    used = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
    assert used <= task.bytes_per_model(static) <= 4 * used


@pytest.mark.compiled_as_users_do
def test_the_memory_prediction_counts_a_long_loss_curve_twice():
    # (XLA holds the curve twice: n = 16, batch 4, 10^5 steps logged every step needed 0.81 MB, 0.41 predicted)
    cfg = TrainConfig(n=16, batch=4, steps=100_000, warmup=2, test_batches=2, log_every=1, sampler="dense")
    task = SuperpositionTask(cfg)
    p = {"m": 2, "gamma": 0.0, "lr_w": 1e-2, "lr_b": 1e-2, "frequencies": power_law(1.1).describe()}
    inputs = {k: jnp.asarray(v) for k, v in task.inputs_of(p).items()}
    fn = jax.jit(lambda i, k: task.model_fn(2, i, k))
    ma = fn.lower(inputs, jax.random.PRNGKey(0)).compile().memory_analysis()
    used = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
    assert used <= task.bytes_per_model(2) <= 4 * used


def test_a_grid_given_as_jax_arrays_is_the_grid_given_as_numbers():
    # jnp.linspace's gammas and jnp widths had been refused as "not a real number" / "not an integer"
    from toyscale._checks import check_int

    kw = dict(frequencies=["exponential"], lr_b=0.01)
    as_jax = superposition_grid(widths=jnp.array([4, 6]), gammas=jnp.linspace(-1, 1, 3), lr_w=jnp.float32(0.5), **kw)
    assert as_jax == superposition_grid(widths=[4, 6], gammas=[-1.0, 0.0, 1.0], lr_w=0.5, **kw)
    assert json.loads(json.dumps(as_jax)) == as_jax  # plain numbers in the points
    assert superposition_grid(widths=[4], gammas=[0.1], lr_w=lambda m: jnp.float32(0.5), seeds=np.array(2), **kw) \
        == superposition_grid(widths=[4], gammas=[0.1], lr_w=0.5, seeds=2, **kw)
    # the checks themselves still refuse arrays: a caller that keeps the value it checked would keep an array
    # (RFConfig(M=np.array(16)) then failed as a non-hashable static argument, a sweep as "not a JSON value")
    with pytest.raises(TypeError, match="m=Array\\(3, dtype=int32.*; m must be an integer"):
        check_int("m", jnp.int32(3))
    with pytest.raises(TypeError, match="M=array\\(16\\); M must be an integer"):
        RFConfig(M=np.array(16))


def test_a_bad_field_is_named_with_its_point_and_sizes_out_of_reach_are_refused():
    from toyscale.train import check_superposition_points

    points = superposition_grid(widths=[3, 4], gammas=[0.1], frequencies=["exponential"], lr_w=0.01, lr_b=0.01)
    points[1]["gamma"] = float("nan")  # (the message had said only "gamma=nan; gamma must be finite")
    with pytest.raises(ValueError, match=r"^point 1 \{'m': 4, 'gamma': nan.*\}: gamma=nan"):
        check_superposition_points(TrainConfig(n=16, batch=8, steps=10, warmup=1, log_every=5), points)
    # 1e10 seeds ran out of memory building the list; a loss scale of 1e-50 made Adam's eps inf (no updates)
    with pytest.raises(ValueError, match=r"seeds=10000000000; must be an integer in \[1, 1048576\]"):
        superposition_grid(widths=[3], gammas=[0.1], frequencies=["exponential"], lr_w=0.01, lr_b=0.01,
                           seeds=10**10)
    with pytest.raises(ValueError, match=r"loss_scale=1e-50; loss_scale must be in \[1e-20, 1e20\]"):
        TrainConfig(n=16, batch=8, steps=10, warmup=1, log_every=5, loss_scale=1e-50)


def test_log_every_does_not_change_the_trained_model():
    # 25 steps logged every 10 are 2 blocks and 5 remainder steps; a remainder that reused the
    # first steps' data and schedule, or was never run, had passed every test (mutation check)
    base = TrainConfig(n=16, batch=32, steps=25, warmup=3, test_batches=2, log_every=5, keep_weights=True)
    kw = dict(gamma=-0.5, lr_w=2e-2, lr_b=2e-2, frequencies=power_law(1.0), key=jax.random.PRNGKey(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (25 steps do no better than the empty model)
        every5 = train_model(base, 3, **kw)
        every10 = train_model(dataclasses.replace(base, log_every=10), 3, **kw)
    np.testing.assert_allclose(every10["W"], every5["W"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(every10["b"], every5["b"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(every10["loss_curve"], every5["loss_curve"][:4].reshape(2, 2).mean(1), rtol=1e-5)


# what a mutation review of train.py's config checks and helpers found unguarded
def test_warmup_zero_and_warmup_steps_are_accepted_and_are_the_same_run():
    # kills: warmup required to be >= 1, and "must not exceed steps" read as "must be below steps"
    # (warmup = steps or log_every = steps refused); the docstring calls both warmups one run
    cfg = TrainConfig(n=8, batch=16, steps=6, warmup=6, test_batches=2, log_every=6, sampler="dense")
    runs = [train_model(dataclasses.replace(cfg, warmup=w), 2, gamma=0.0, lr_w=1e-2, lr_b=1e-2, frequencies="linear",
                        key=jax.random.PRNGKey(0)) for w in (0, 6)]
    np.testing.assert_array_equal(runs[0]["loss_curve"], runs[1]["loss_curve"])
    assert runs[0]["loss_curve"].shape == (1,) and float(runs[0]["test_loss"]) == float(runs[1]["test_loss"])


def test_the_values_a_short_run_is_told_to_give_work():
    # kills: the suggested log_every of a run under ten steps computed as steps // 10 (0, itself refused)
    for steps in (1, 5, 9):
        with pytest.raises(ValueError) as caught:
            TrainConfig(n=8, steps=steps)
        suggested = dict(re.findall(r"(\w+)=(\d+)", str(caught.value).split("e.g. ")[-1]))
        assert set(suggested) == {"log_every", "warmup"}
        TrainConfig(n=8, steps=steps, **{k: int(v) for k, v in suggested.items()})


def test_the_config_accepts_the_ends_of_its_documented_ranges():
    # kills: final_lr_fraction in (0, 1] (a cosine to 0 refused), max_rate in (0, 64) (64 refused) and loss_scale in
    # (1e-20, 1e20] (1e-20 refused), where the messages say [0, 1], (0, 64] and [1e-20, 1e20]
    base = dict(n=8, batch=8, steps=10, warmup=1, log_every=5)
    assert TrainConfig(**base, final_lr_fraction=0.0).final_lr_fraction == 0.0
    assert TrainConfig(**base, final_lr_fraction=1.0).final_lr_fraction == 1.0
    assert TrainConfig(**base, max_rate=64.0).max_rate == 64.0
    assert TrainConfig(**base, loss_scale=1e-20).loss_scale == 1e-20
    assert TrainConfig(**base, loss_scale=1e20).loss_scale == 1e20
    for field, value in [("final_lr_fraction", -1e-9), ("max_rate", 64.5), ("loss_scale", 1e-21)]:
        with pytest.raises(ValueError, match=f"{field}={value}"):
            TrainConfig(**base, **{field: value})


def test_the_32_bit_limits_apply_wherever_a_model_may_be_drawn_that_way():
    # kills: the sparse sampler's 32-bit key checked under sampler="sparse" only (under "auto" a model may be
    # drawn sparse too), and the hash's 2**32-word counter refusing a dense batch of exactly 2**32 words
    with pytest.raises(ValueError, match=r"batch=4096 with n=1048576; sampler='sparse' needs"):
        TrainConfig(n=2**20, batch=2**12, sampler="auto")
    assert TrainConfig(n=2**20, batch=2**12, sampler="dense").event_capacity == 0
    assert TrainConfig(n=2**16, batch=2**16, rng="hash", sampler="dense").batch == 2**16
    with pytest.raises(ValueError, match=r"batch x n = 4295032832 words, more than"):
        TrainConfig(n=2**16, batch=2**16 + 1, rng="hash", sampler="dense")


def test_a_poisson_rate_of_exactly_max_rate_is_drawn_sparse():
    # kills: Lambda <= max_rate read as Lambda < max_rate, in sampler_for under "auto" and in the refusal under
    # "sparse" (the docstrings and the error say "Lambda <= max_rate")
    from toyscale import data

    p = power_law(1.2).probs(16)
    rate = float(data.poisson_rate(p))
    auto = TrainConfig(n=16, batch=8, steps=10, warmup=1, log_every=5, sampler="auto", max_rate=rate)
    assert auto.sampler_for(p) == "sparse"
    assert dataclasses.replace(auto, max_rate=rate * (1 - 1e-9)).sampler_for(p) == "dense"
    sparse = dataclasses.replace(auto, sampler="sparse")
    sparse.check_frequencies(p)
    with pytest.raises(ValueError, match="needs Lambda <= max_rate"):
        dataclasses.replace(sparse, max_rate=rate * (1 - 1e-9)).check_frequencies(p)


def test_the_learned_nothing_warning_gives_its_range_and_the_run_lengths():
    # kills: the range of excesses printed high-low, and the message giving steps where it says warmup
    cfg = TrainConfig(n=8, batch=8, steps=30, warmup=3, log_every=5)
    outputs = [{"test_loss": 1.5, "empty_loss": 1.0}, {"test_loss": 1.02, "empty_loss": 1.0},
               {"test_loss": 3.0, "empty_loss": 0.0}]  # (no relative excess: left out of the range)
    message = train._no_better_than_empty_message("3 model(s)", cfg, outputs)
    assert "'empty_loss'; 2-50 % above it)" in message and "(steps=30, warmup=3)" in message
    assert "'empty_loss'; 50 % above it)" in train._no_better_than_empty_message("it", cfg, outputs[:1])


def test_model_ids_are_listed_up_to_ten_then_cut_short():
    # kills: nine ids listed instead of ten, and "..." after exactly ten ids
    assert train._some(list(range(10))) == "10 model(s) (ids [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"
    assert train._some(list(range(11))) == "11 model(s) (ids [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]...)"


def test_no_better_than_empty_is_at_or_above_and_never_for_a_diverged_model():
    # kills: "at or above" read as "above" (a tie with the empty model's loss not flagged), and a diverged model
    # flagged too
    from toyscale import superposition

    tie = {"test_loss": np.float32(1.25), "empty_loss": np.float32(1.25)}
    assert superposition.no_better_than_empty(False, tie)
    assert not superposition.no_better_than_empty(True, tie)
    assert not superposition.no_better_than_empty(np.bool_(True), {"test_loss": 2.0, "empty_loss": 1.0})
    assert not superposition.no_better_than_empty(False, {"test_loss": 0.5, "empty_loss": 1.0})
    assert not superposition.no_better_than_empty(False, {"test_loss": 2.0})  # (saved before empty_loss existed)


def test_a_zero_learning_rate_and_a_gamma_beyond_float32_in_a_point_are_refused():
    # kills: a peak learning rate of 0 let through (it must be > 0), and a point's gamma checked only as a real
    # number, not as one float32 holds (the grid checks its gammas; a hand-made point must be checked too)
    from toyscale.train import check_superposition_points

    with pytest.raises(ValueError, match=r"lr_w=0.0; a peak learning rate must be > 0"):
        grid(lr_w=0.0)
    with pytest.raises(ValueError, match=r"^point 0 .*: gamma=1e\+39.*float32"):
        check_superposition_points(SMALL, [dict(grid()[0], gamma=1e39)])


def test_the_task_keys_a_dense_or_sparse_sweep_by_width_alone_and_passes_each_learning_rate_as_itself():
    # kills: static_of giving (m, sampler) under "dense" (documented: the width m; a pair under "auto" only), and
    # inputs_of passing lr_b as lr_w and lr_w as lr_b
    point = dict(grid()[0], lr_w=0.01, lr_b=0.03)
    for sampler in ("dense", "sparse"):
        task = SuperpositionTask(dataclasses.replace(SMALL, sampler=sampler))
        assert task.static_of(point) == 4
        inputs = task.inputs_of(point)
        assert (inputs["lr_w"], inputs["lr_b"], inputs["gamma"]) == (np.float32(0.01), np.float32(0.03), np.float32(-1))
    assert SuperpositionTask(dataclasses.replace(SMALL, sampler="auto")).static_of(point) == (4, "sparse")


def test_a_point_without_gamma_is_named_with_what_it_lacks():
    # kills: gamma left out of the fields a point must hold (a raw KeyError instead of the point and what it lacks)
    from toyscale.train import check_superposition_points

    no_gamma = {k: v for k, v in grid()[0].items() if k != "gamma"}
    with pytest.raises(ValueError, match=r"lacks \['gamma'\]"):
        check_superposition_points(SMALL, [no_gamma])


def test_a_configs_numbers_are_recorded_in_one_spelling():
    # kills: a float field typed as an int (max_rate=2) kept as the int, so that its dict, and the manifest written
    # from it, depended on how the number was typed
    floats = ("final_lr_fraction", "represented_threshold", "max_rate", "loss_scale")
    typed = TrainConfig(n=np.int64(8), batch=8, steps=10, warmup=1, log_every=5, **dict(zip(floats, (0, 1, 2, 1))))
    plain = TrainConfig(n=8, batch=8, steps=10, warmup=1, log_every=5, **dict(zip(floats, (0.0, 1.0, 2.0, 1.0))))
    assert json.dumps(typed.to_dict()) == json.dumps(plain.to_dict())
    assert [type(typed.to_dict()[k]) for k in ("n", *floats)] == [int] + [float] * 4


# ----------------------------------------------------------------------------- common random numbers (common_across)


# mutants: the columns drawn from the key itself (not fold_in of the column); nested ignored
def test_nested_init_extends_a_narrower_w_column_by_column():
    from toyscale.superposition import init_params

    key = jax.random.PRNGKey(5)
    narrow, wide = (init_params(key, 16, m, nested=True) for m in (3, 7))
    np.testing.assert_allclose(np.asarray(wide["W"][:, :3]) * np.sqrt(7), np.asarray(narrow["W"]) * np.sqrt(3),
                               rtol=1e-6)
    np.testing.assert_array_equal(wide["b"], narrow["b"])
    assert not np.allclose(init_params(key, 16, 7)["W"][:, :3] * np.sqrt(7), narrow["W"] * np.sqrt(3))
    # each entry still Normal(0, 1/m), and independent: 2000 x 50 of them, their columns uncorrelated
    W = np.asarray(init_params(key, 2000, 50, nested=True)["W"]) * np.sqrt(50)
    assert abs(W.std() - 1.0) < 0.01 and abs(W.mean()) < 0.01
    assert np.max(np.abs(W.T @ W / 2000 - np.eye(50))) < 0.15
    with pytest.raises(TypeError, match="nested=1; nested must be True or False"):
        init_params(key, 4, 2, nested=1)


# mutants: the model drawing from its own key (common key ignored); W not nested; the batches (training or test)
# from the model's own key
@pytest.mark.compiled_as_users_do
def test_common_across_shares_the_initial_weights_and_every_batch():
    cfg = TrainConfig(n=24, batch=16, steps=20, warmup=2, test_batches=3, log_every=5, keep_weights=True,
                      sampler="dense", common_across=("m", "gamma"))
    # a learning rate of 1e-30 leaves W and b at their start (to float32 rounding): the loss curve is then
    # that of one model on the training batches
    points = superposition_grid(widths=[3, 5], gammas=[0.1, -1.0], frequencies=[power_law(1.2)], lr_w=1e-30,
                                lr_b=1e-30, seeds=2)
    res = sweep_superposition(cfg, points, seed=4, progress=False)
    by = {(r["m"], r["gamma"], r["seed"]): r for r in res}
    for s in (0, 1):
        np.testing.assert_allclose(by[5, 0.1, s]["W"][:, :3] * np.sqrt(5), by[3, 0.1, s]["W"] * np.sqrt(3), rtol=1e-6)
        np.testing.assert_array_equal(by[3, 0.1, s]["loss_curve"], by[3, -1.0, s]["loss_curve"])  # (one batch stream)
        assert len({float(r["empty_loss"]) for r in res if r["seed"] == s}) == 1  # (one set of test batches)
    assert float(by[3, 0.1, 0]["empty_loss"]) != float(by[3, 0.1, 1]["empty_loss"])
    p = next(p for p in points if p["m"] == 5 and p["seed"] == 1)
    task = SuperpositionTask(cfg)
    alone = train_model(cfg, p["m"], gamma=p["gamma"], lr_w=p["lr_w"], lr_b=p["lr_b"], frequencies=p["frequencies"],
                        key=model_key(4, p, task), common_key=common_key(4, p, task))
    np.testing.assert_array_equal(alone["test_loss"], by[5, p["gamma"], 1]["test_loss"])
    assert task.config()["common_across"] == ["m", "gamma"]
    assert "common_across" not in SuperpositionTask(TrainConfig(n=24)).config()  # (old folders' fingerprint)


def test_superposition_common_across_is_checked_and_reads_back_from_json():
    assert TrainConfig(n=8, common_across="m").common_across == ("m",)
    cfg = TrainConfig(n=8, common_across=["lr_b", "m", "lr_w"])
    assert cfg.common_across == ("m", "lr_w", "lr_b") and hash(cfg)  # (a static argument of the compiled model)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    for bad, error, match in [(("seed",), ValueError, r"'seed' is not one \(seed sets the replicate"),
                              (("label",), ValueError, r"'label' is not one \(a label never keys a model\)"),
                              (("m", "m"), ValueError, "a name is repeated"),
                              (("N",), ValueError, r"from m, gamma, lr_w, lr_b, frequencies: 'N' is not one"),
                              ((1,), TypeError, r"common_across=\(1,\); common_across must be a tuple .* \('m',\)")]:
        with pytest.raises(error, match=match):
            TrainConfig(n=8, common_across=bad)
    task = SuperpositionTask(TrainConfig(n=8, common_across=("m",)))
    base = {"m": 3, "gamma": 0.1, "lr_w": 0.01, "lr_b": 0.01, "frequencies": "power_law", "seed": 1}
    assert np.array_equal(common_key(0, base, task), common_key(0, {**base, "m": 6, "label": "wide"}, task))
    for other in ({**base, "seed": 2}, {**base, "gamma": -1.0}, {**base, "frequencies": "linear"}):
        assert not np.array_equal(common_key(0, base, task), common_key(0, other, task)), other
    assert SuperpositionTask(TrainConfig(n=8)).common_of(base) is None
    key = jax.random.PRNGKey(0)
    args = dict(gamma=0.1, lr_w=0.01, lr_b=0.01, frequencies="power_law", key=key)
    with pytest.raises(ValueError, match=r"common_key=None; config.common_across=\('m',\) .*SuperpositionTask"):
        train_model(TrainConfig(n=8, common_across=("m",)), 3, **args)
    with pytest.raises(ValueError, match="common_key is given but config.common_across is empty"):
        train_model(TrainConfig(n=8), 3, common_key=key, **args)
    p = task.identity_of(base)
    with pytest.raises(TypeError, match=r"key=.*; with TrainConfig.common_across=\('m',\) a model takes the pair"):
        task.model_fn(task.static_of(p), task.inputs_of(p), key)
    # a learning rate that follows the width, not listed: nothing is shared, and a warning says so
    cfg = TrainConfig(n=8, batch=4, steps=4, warmup=1, test_batches=1, log_every=2, common_across=("m",))
    points = superposition_grid(widths=[2, 3], gammas=[0.1], frequencies=["linear"], lr_w=lambda m: 0.01 / m,
                                lr_b=0.01)
    with pytest.warns(RuntimeWarning, match=r"no two of the 2 points share their common draws .*'lr_w': 0.005"):
        sweep_superposition(cfg, points, progress=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*share their common draws", RuntimeWarning)
        sweep_superposition(dataclasses.replace(cfg, common_across=("m", "lr_w")), points, progress=False)


def test_the_sparse_sampler_gets_the_tables_sizes_to_check():
    # train had passed the sampler only its four tables, so their recorded n and batch were never checked there
    small = train.TrainConfig(n=16, batch=8, steps=10, warmup=1, log_every=1)
    inputs = train._model_inputs(small, np.full(16, 0.05), 0.0, 1e-2, 1e-2)
    train._sampler(small, inputs)(jax.random.PRNGKey(0))
    for other, match in ((dataclasses.replace(small, batch=64), "batch=64 does not match the tables, built for "
                                                                 "batch 8"),
                         (dataclasses.replace(small, n=15), "n=15 does not match the tables, built for 16 features")):
        with pytest.raises(ValueError, match=match):
            train._sampler(other, inputs)(jax.random.PRNGKey(0))
