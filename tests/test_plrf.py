"""Power-law random features under one-pass SGD (toyscale.plrf), their exponents (toyscale.theory)
and the frontier script's checks."""

import importlib.util
import json
import pathlib
import re

import jax
import numpy as np
import pytest

from toyscale import plrf
from toyscale.sweep import model_key
from toyscale.theory import plrf_exponents

ROOT = pathlib.Path(__file__).resolve().parents[1]
POINT = {"d": 6, "alpha": 0.7, "beta": 0.9, "lr": 0.05, "steps": 40, "seed": 0}


def _script():
    spec = importlib.util.spec_from_file_location("plrf_frontier", ROOT / "experiments" / "plrf_frontier.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference(point, key, log_every, v_ratio=4):
    """The model as the paper writes it, in float64 numpy: x = j^-alpha z drawn whole, W and b
    explicit, one sample's gradient W^T x (<W^T x, theta> - <x, b>), the loss by its definition."""
    d, v = point["d"], v_ratio * point["d"]
    j = np.arange(1, v + 1, dtype=np.float64)
    with jax.enable_x64(False):  # the model's own draws (float32)
        W = np.asarray(jax.random.normal(jax.random.fold_in(key, 0), (v, d)), np.float64) / np.sqrt(d)
        k_sgd = jax.random.fold_in(key, 1)
        Z = np.stack([np.asarray(jax.random.normal(jax.random.fold_in(k_sgd, t), (1, v)), np.float64)[0]
                      for t in range(point["steps"])])
    b = j ** -point["beta"]
    D = j ** (-2 * point["alpha"])
    theta, curve = np.zeros(d), []
    for t in range(point["steps"]):
        x = j ** -point["alpha"] * Z[t]
        phi = W.T @ x
        theta = theta - point["lr"] * phi * (phi @ theta - x @ b)
        if (t + 1) % log_every == 0:
            curve.append(0.5 * np.sum(D * (W @ theta - b) ** 2))
    floor = 0.5 * np.sum((np.sqrt(D) * (W @ np.linalg.lstsq(np.sqrt(D)[:, None] * W, np.sqrt(D) * b,
                                                            rcond=None)[0] - b)) ** 2)
    return np.asarray(curve), 0.5 * np.sum(D * b**2), floor, W, b, theta


def test_one_model_follows_the_papers_sgd_and_loss_step_by_step():
    cfg = plrf.PLRFConfig(log_every=10)
    key = jax.random.PRNGKey(3)
    out = plrf.train_plrf(cfg, POINT, key=key)
    curve, start, floor, *_ = _reference(POINT, key, 10)
    np.testing.assert_allclose(out["loss_curve"], curve, rtol=2e-4)
    np.testing.assert_allclose(out["loss_start"], start, rtol=1e-6)
    np.testing.assert_allclose(out["loss_floor"], floor, rtol=1e-6)  # (A and c are formed in float32)
    assert out["loss"] == out["loss_curve"][-1] and not out["diverged"]
    assert out["loss_floor"] < out["loss"] < out["loss_start"]


def test_the_exact_loss_is_the_mean_squared_error_over_fresh_samples_halved():
    _, _, _, W, b, theta = _reference(POINT, jax.random.PRNGKey(1), 10)
    v = W.shape[0]
    x = np.random.default_rng(0).standard_normal((400_000, v)) * np.arange(1, v + 1) ** -POINT["alpha"]
    sampled = 0.5 * np.mean((x @ W @ theta - x @ b) ** 2)
    exact = 0.5 * np.sum(np.arange(1, v + 1) ** (-2 * POINT["alpha"]) * (W @ theta - b) ** 2)
    assert abs(sampled / exact - 1) < 0.01
    out = plrf.train_plrf(plrf.PLRFConfig(log_every=10), POINT, key=jax.random.PRNGKey(1))
    np.testing.assert_allclose(out["loss"], exact, rtol=2e-4)


@pytest.mark.compiled_as_users_do
def test_a_sweep_matches_single_models_in_any_chunk_size_and_flags_a_diverging_one():
    cfg = plrf.PLRFConfig(log_every=10)
    points = plrf.plrf_grid(d=[4, 8], alpha=[0.7], beta=[0.7, 1.2], lr=0.05, steps=30, seeds=2)
    points.append({**points[0], "lr": 50.0, "label": "unstable"})
    whole = plrf.sweep_plrf(cfg, points, progress=False)
    small = plrf.sweep_plrf(cfg, points, progress=False, chunk_size=1)
    assert [r.diverged for r in whole] == [False] * 8 + [True]
    for a, b in zip(whole, small):
        # bit for bit (j^-alpha formed in the compiled program had differed by an ulp in a device's share of
        # one model, and the curves by up to ~2e-7 relative)
        np.testing.assert_array_equal(a["loss_curve"], b["loss_curve"])
    task = plrf.PLRFTask(cfg)
    for record in list(whole)[:8:3]:
        alone = plrf.train_plrf(cfg, record.point, key=model_key(0, record.point, task))
        np.testing.assert_array_equal(record["loss_curve"], alone["loss_curve"])
    # the diverging model's neighbours in its chunk are the same as without it, on 1 device instead of 4
    alone = plrf.sweep_plrf(cfg, points[:2], progress=False, devices=jax.devices()[:1])
    np.testing.assert_array_equal(whole[0]["loss_curve"], alone[0]["loss_curve"])


def test_one_program_per_width(xla_compilations):
    cfg = plrf.PLRFConfig(log_every=5, floor=False)
    points = plrf.plrf_grid(d=[3, 5], alpha=[0.6, 0.8], beta=[0.7, 1.1], lr=0.05, steps=10, seeds=2)
    with xla_compilations() as names:
        res = plrf.sweep_plrf(cfg, points, progress=False, chunk_size=4, devices=jax.devices()[:1])
    assert res.stats["chunks"] == 4 and res.stats["programs"] == 2
    assert names.count("jit(local)") == 2, names  # widths 3 and 5, two chunks each


def test_the_floor_falls_as_d_to_the_minus_2_alpha():
    # F_0 ~ d^-2alpha (1.4) for 2 beta > 1, approached from below at small d (1.19 at d = 16-128;
    # the quick preset's 16-512 fit 1.335): a check of the spectrum and the floor's solve
    cfg = plrf.PLRFConfig(log_every=1)
    points = plrf.plrf_grid(d=[16, 32, 64, 128], alpha=[0.7], beta=[0.9], lr=0.01, steps=1, seeds=2)
    result = plrf.sweep_plrf(cfg, points, progress=False)
    d = np.array([r.point["d"] for r in result], float)
    floor = np.array([float(r["loss_floor"]) for r in result])
    slope = np.polyfit(np.log(d), np.log(floor), 1)[0]
    assert -1.6 < slope < -1.05, slope


# mutants: the spectrum or the target's power off by an exponent; v not v_ratio d; the floor not halved
def test_the_floors_deterministic_equivalent_is_the_simulations_mean_and_tends_to_the_derived_exponent():
    from toyscale.fitting import fit_power_law
    from toyscale.theory import approximation_error, plrf_floor

    # each width on its own v = v_ratio d modes (one program for all: the others' modes set to 0)
    by_hand = [0.5 * float(approximation_error(j**-1.6, j**-2.8, float(d))) for d in (8, 32)
               for j in [np.arange(1.0, 3 * d + 1)]]
    assert plrf_floor([8, 32], 0.8, 0.6, v_ratio=3) == pytest.approx(by_hand, rel=1e-6)
    # the mean floor of 64 draws of W at d = 64 (4,000 draws, benchmarks/plrf_floor_theory.py: 1.020 +- 0.004 times it)
    cfg = plrf.PLRFConfig(log_every=1)
    result = plrf.sweep_plrf(cfg, plrf.plrf_grid(d=[64], alpha=[0.7], beta=[0.7], lr=0.01, steps=1, seeds=64),
                             progress=False)
    mean = np.mean([float(r["loss_floor"]) for r in result])
    assert 0.9 < mean / plrf_floor(64, 0.7, 0.7)[0] < 1.15, mean / plrf_floor(64, 0.7, 0.7)[0]
    # its slope reaches the derived 2 alpha - max(0, 1 - 2 beta) = 1.4 only at d in the thousands: 1.284 over the
    # quick preset's widths (whose fifteen seeds' mean fit is 1.282 +- 0.009), 1.387 over 4096..16384
    small, large = np.array([16.0, 32, 64, 128, 256, 512]), np.array([4096.0, 8192, 16384])
    assert fit_power_law(small, plrf_floor(small, 0.7, 0.7)).exponent == pytest.approx(1.284, abs=2e-3)
    assert fit_power_law(large, plrf_floor(large, 0.7, 0.7)).exponent == pytest.approx(1.387, abs=2e-3)
    for bad, error, message in (
            ({"d": 0}, ValueError, "d=0; d must be one or more whole numbers of features, each >= 1"),
            ({"d": [16, 2.5]}, ValueError, "d=[16, 2.5]; d must be one or more whole"),
            ({"d": []}, ValueError, "d=[]; d must be one or more"),
            ({"d": True}, TypeError, "d=True; d must be a width"),
            ({"d": 2**23}, ValueError, "v = v_ratio d = 4 x 8.38861e+06 modes is above the 16,777,216"),
            ({"alpha": np.nan}, ValueError, "alpha=nan"),
            ({"beta": 0.0}, ValueError, "beta=0.0; beta must be finite > 0"),
            ({"alpha": 0.2, "beta": 0.2}, ValueError, "needs 2 alpha + 2 beta > 1"),
            ({"v_ratio": 0}, ValueError, "v_ratio=0"), ({"v_ratio": 2.0}, TypeError, "v_ratio=2.0")):
        with pytest.raises(error, match=re.escape(message)):
            plrf_floor(**{"d": 16, "alpha": 0.7, "beta": 0.7, **bad})


@pytest.mark.parametrize("change, error, message", [
    ({"d": 0}, ValueError, "d=0; must be an integer >= 1"),
    ({"steps": 2.5}, TypeError, "steps=2.5; steps must be an integer"),
    ({"alpha": -0.1}, ValueError, "alpha=-0.1; alpha must be finite > 0"),
    ({"alpha": 0.2, "beta": 0.2}, ValueError, "needs 2 alpha + 2 beta > 1"),
    ({"lr": 0.0}, ValueError, "lr=0.0; lr must be finite > 0"),
    ({"lr": 1e-40}, ValueError, "lr=1e-40; a positive lr must lie in [1.175e-38"),
    ({"batch": 0}, ValueError, "batch=0; must be an integer >= 1"),
    ({"width": 3}, ValueError, "point has unknown field(s) ['width']"),
])
def test_a_bad_point_is_refused_by_name(change, error, message):
    with pytest.raises(error) as e:
        plrf.check_point({**POINT, **change})
    assert message in str(e.value)
    # alpha and beta enter only the spectrum and target, formed in float64 (no longer refused outside float32)
    assert plrf.check_point({**POINT, "alpha": 1e-45, "beta": 1e39})["beta"] == 1e39


def test_bad_settings_are_refused_before_anything_compiles():
    with pytest.raises(ValueError, match=r"lacks \['lr'\]"):
        plrf.check_point({k: v for k, v in POINT.items() if k != "lr"})
    with pytest.raises(ValueError, match="steps=40; steps must be a multiple of PLRFConfig.log_every=30"):
        plrf.sweep_plrf(plrf.PLRFConfig(log_every=30), [POINT], progress=False)
    with pytest.raises(TypeError, match="expected a toyscale.plrf.PLRFConfig"):
        plrf.sweep_plrf({"log_every": 10}, [POINT])
    with pytest.raises(ValueError, match="v_ratio=0; must be an integer >= 1"):
        plrf.PLRFConfig(v_ratio=0)
    with pytest.raises(TypeError, match="floor=1; floor must be True or False"):
        plrf.PLRFConfig(floor=1)


@pytest.mark.parametrize("floor", [False, True])
@pytest.mark.compiled_as_users_do
def test_the_chunk_memory_estimate_covers_what_xla_uses(floor):
    # (without the floor it had counted half of XLA's own; with it, LAPACK's dgesdd work space of
    # 4 d^2 float64s, which XLA does not count, had eaten all of its margin at d = 1024)
    task = plrf.PLRFTask(plrf.PLRFConfig(log_every=10, floor=floor))
    p = plrf.check_point({**POINT, "d": 256, "steps": 1000})
    static = task.static_of(p)
    with jax.enable_x64(True):
        inputs = {k: jax.numpy.asarray(v) for k, v in task.inputs_of(p).items()}
        ma = jax.jit(lambda i, k: task.model_fn(static, i, k)).lower(inputs, jax.random.PRNGKey(0)).compile() \
            .memory_analysis()
    used = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
    used += 8 * 4 * 256**2 if floor else 0
    assert used <= task.bytes_per_model(static) <= 4 * used


def test_a_run_that_blows_up_and_comes_back_down_is_flagged():
    # lr = 0.45 at d = 32 is past the stable step for this draw: the loss peaks at 18 (P(0) = 0.62)
    # and ends at 0.14, below P(0); a rule on the final loss alone had passed it
    out = plrf.train_plrf(plrf.PLRFConfig(log_every=10, floor=False),
                          {"d": 32, "alpha": 0.7, "beta": 0.7, "lr": 0.45, "steps": 200}, key=jax.random.PRNGKey(0))
    assert out["loss_curve"].max() > 10 * out["loss_start"] > out["loss"]
    assert out["diverged"]


def test_a_stable_run_that_noise_lifts_above_its_start_is_kept_and_one_that_ends_above_it_is_flagged():
    # at d = 4 the floor is near P(0), and SGD's noise lifts a stable run's exact loss above P(0) now and then:
    # "any logged loss above P(0)" had flagged 9 of 30 such runs (the draws of high floors), biasing the mean low
    cfg = plrf.PLRFConfig(log_every=10, floor=False)
    point = {"d": 4, "alpha": 0.7, "beta": 0.7, "lr": 0.1, "steps": 2000}
    out = plrf.train_plrf(cfg, point, key=jax.random.PRNGKey(3))
    assert 1.5 * out["loss_start"] < out["loss_curve"].max() < 2 * out["loss_start"] and not out["diverged"]
    # past the stable step: the last quarter's mean above P(0), its peak below 10 P(0)
    out = plrf.train_plrf(cfg, {**point, "lr": 0.4, "steps": 100}, key=jax.random.PRNGKey(1))
    late = out["loss_curve"][-2:].mean()
    assert out["loss_curve"].max() < 10 * out["loss_start"] < 10 * late and out["diverged"]


def test_the_divergence_rule_on_made_up_curves():
    # mutants: the last value alone, or the last half, in place of the last quarter's mean; no guard for a short curve
    cases = [([0.5] * 6 + [1.6, 0.8], True),   # last quarter's mean 1.2 > 1, though the last value is 0.8
             ([0.2] * 4 + [0.5, 0.5, 1.2, 1.2], True),  # last quarter 1.2, last half 0.85
             ([0.2] * 4 + [1.9, 1.9, 0.9, 0.9], False),  # risen on the way, ends below the start
             ([0.5, 9.9, 0.5, 0.5], False), ([0.5, 10.1, 0.5, 0.5], True),  # the peak's limit, 10 x the start
             ([1.2], True), ([0.9, 1.1], True), ([1.1, 0.9], False), ([0.5, np.nan, 0.5, 0.5], True)]
    for curve, want in cases:
        assert bool(plrf._diverged(jax.numpy.asarray(curve, np.float32), np.float32(1.0))) is want, curve


def test_the_floor_keeps_its_digits_when_it_is_tiny():
    # |c|^2 - |Q^T c|^2 had given 8.9e-16 for 6.3e-18: the residual is formed directly now
    point = {"d": 256, "alpha": 3.5, "beta": 3.5, "lr": 0.01, "steps": 10}
    key = jax.random.PRNGKey(0)
    out = plrf.train_plrf(plrf.PLRFConfig(log_every=10), point, key=key)
    with jax.enable_x64(False):
        inputs = plrf._inputs(plrf.PLRFConfig(), point)
        A, c = (np.asarray(a, np.float64) for a in plrf._problem(plrf.Static(256, 1024, 10, 1), inputs,
                                                                  jax.random.fold_in(key, 0)))
    theta = np.linalg.lstsq(A, c, rcond=None)[0]
    np.testing.assert_allclose(out["loss_floor"], 0.5 * np.sum((A @ theta - c) ** 2), rtol=1e-3)


def test_the_exponents_at_the_reference_check_and_across_the_phase_boundaries():
    at = plrf_exponents(0.7, 0.7)
    assert at["phase"] == "II/III" and at["d_opt"] == 0.5 and abs(at["loss_opt"] - 0.643) < 5e-4
    assert at["floor"] == pytest.approx(1.4)
    for a, b in [(0.7, 0.7), (1.0, 1.0), (0.8, 0.5)]:  # continuous where the phases meet
        below, above = plrf_exponents(a, b - 1e-9), plrf_exponents(a, b + 1e-9)
        for name in ("d_opt", "loss_opt", "floor", "time"):
            assert below[name] == pytest.approx(above[name], abs=1e-6), (a, b, name)
    assert plrf_exponents(0.7, 0.3)["phase"] == "Ia" and plrf_exponents(0.7, 0.6)["phase"] == "II"
    # inside the phases: Ia d* ~ f^(1/(2a+1)); II d* ~ f^(b/(a+b)), P* ~ f^-((2a+2b-1)/(2(a+b)));
    # III P* ~ f^-((4a-1)/(4a))
    ia, ii, iii = plrf_exponents(0.7, 0.3), plrf_exponents(0.8, 0.6), plrf_exponents(0.6, 1.0)
    assert (ia["d_opt"], ia["loss_opt"]) == pytest.approx((1 / 2.4, 1 / 2.4))
    assert (ii["d_opt"], ii["loss_opt"], ii["time"]) == pytest.approx((0.6 / 1.4, 1.8 / 2.8, 1.8 / 1.6))
    assert (iii["d_opt"], iii["loss_opt"], iii["time"]) == pytest.approx((0.5, 1.4 / 2.4, 1.4 / 1.2))
    assert plrf_exponents(0.7, 1.0)["phase"] == "III" and plrf_exponents(0.7, 0.3)["floor"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="alpha=0.4; plrf_exponents covers alpha > 1/2"):
        plrf_exponents(0.4, 0.7)


def test_the_frontier_script_prints_its_fits_against_the_predictions(tmp_path, capsys):
    module = _script()
    summary = module.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                           "--no-progress"])
    printed = capsys.readouterr().out
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["experiment"] == "plrf_frontier" and on_disk["phase"] == "II/III"
    assert [f.name for f in (tmp_path / "fig").glob("*.png")] == ["plrf_frontier_smoke.png"]
    pre = module.PRESETS["smoke"]
    assert summary["steps"] == [pre["compute"] // d // 10 * 10 for d in pre["widths"]]
    for key, label in [("floor", "floor min P ~ d^-x (gradient flow)"), ("d_opt", "d* ~ f^x, f = d r"),
                       ("loss_opt", "P* ~ f^-x along the frontier")]:
        row = summary["exponents"][key]
        assert row["fitted"] is not None, row
        line = next(line for line in printed.splitlines() if line.startswith(label))
        assert f"{row['fitted']:6.3f} ± {row['stderr']:.3f}" in line and f"{row['predicted']:.3f}" in line
    assert summary["exponents"]["d_opt"]["predicted"] == 0.5
    assert 0 < summary["exponents"]["d_opt"]["fitted"] < 1 and 0 < summary["exponents"]["loss_opt"]["fitted"] < 1
    assert 1.0 < summary["exponents"]["floor"]["fitted"] < 1.6
    # beside it the floors' deterministic equivalent at these widths, and at 8-32 times the widest
    from toyscale.fitting import fit_power_law
    from toyscale.theory import plrf_floor

    want = plrf_floor(pre["widths"], 0.7, 0.7, module.PRESETS["smoke"]["plrf"]["v_ratio"])
    assert summary["floors_theory"] == pytest.approx(want.tolist(), rel=1e-12)
    exponent = fit_power_law(np.asarray(pre["widths"], float), want).exponent
    assert summary["floor_theory_exponent"] == pytest.approx(exponent, rel=1e-12)
    wider = summary["floor_theory_exponent_wider"]
    assert wider["widths"] == [8 * 64, 16 * 64, 32 * 64] and exponent < wider["exponent"] < 1.4
    assert (f"floor, theory: the floors' deterministic equivalent (theory.plrf_floor) falls as d^-{exponent:.3f} over "
            f"these widths, d = 4..64, and as d^-{wider['exponent']:.3f} over d = 512..2048; the prediction 1.4 is "
            f"its d -> inf limit") in printed
    # each width's curve is as long as its own steps, NaN after
    curves = np.asarray(summary["loss_curves"], float)
    assert np.isfinite(curves[-1, : summary["steps"][-1] // 10]).all() and np.isnan(curves[-1, -1])


def test_the_frontier_figure_names_its_axes_and_dashed_lines():
    # (the dashed lines' label had been shadowed by the loop over widths: the title read "dashed: 0.000475...")
    from toyscale import plots

    from types import SimpleNamespace

    from toyscale.fitting import fit_power_law

    r = np.arange(1.0, 6.0)
    frontier = SimpleNamespace(C=np.array([8.0, 40.0]), L_opt=np.array([0.9, 0.5]), a=0.3)
    fig = plots.compute_frontier(r, [4, 8], np.vstack([1 / r, 0.5 / r]), [0.1, 0.05], frontier, size="d", time="r",
                                 loss="P", loss_fit=fit_power_law(frontier.C, frontier.L_opt),
                                 limit_label="each width's floor")
    left, right = fig.axes
    assert left.get_title() == "loss vs time (dashed: each width's floor)" and left.get_xlabel() == "steps r"
    assert right.get_xlabel() == "compute C = d r"
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["d = 4", "d = 8"]
    assert [t.get_text()[:8] for t in right.get_legend().get_texts()] == ["lowest l", "P* ~ C^-"]  # (had read L*)
    plots.plt.close(fig)


@pytest.mark.parametrize("item, message", [
    ("alpha=0.4", "alpha=0.4; plrf_exponents covers alpha > 1/2"),
    ("compute=100", "compute=100; compute must be an integer of at least 3 x log_every x the largest width = 1920"),
    ("widths=[4,8]", "widths=[4, 8]; the frontier and floor fits need at least 3 widths"),
    ("widths=[0,4,8]", "widths=0; must be an integer >= 1"),  # (had raised ZeroDivisionError)
    ("bins=2", "bins=2; bins must be an integer >= 3"),
])
def test_the_frontier_script_refuses_bad_settings_as_usage_errors(item, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        _script().main(["--preset", "smoke", "--set", item, "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
