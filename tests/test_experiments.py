"""Each experiment script runs end to end on its smoke preset and writes the documented summary."""

import contextlib
import functools
import importlib.util
import io
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import types

import numpy as np
import pytest

from toyscale.fitting import bracketed_frontier
from toyscale.scaling import width_curve, width_exponent
from toyscale.sweep import Record, SweepResult, load_sweep

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name, tmp_path, *extra):
    summary = load(name).main(["--preset", "smoke", "--out", str(tmp_path / "out"),
                               "--figures", str(tmp_path / "fig"), "--no-progress", *extra])
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["preset"] == "smoke" and on_disk["experiment"] == name
    assert list((tmp_path / "fig").glob("*.png"))
    return summary, on_disk


@pytest.fixture(scope="module")
def random_features_smoke(tmp_path_factory):
    """One smoke run of random_features.py: (its --out folder, what it printed)."""
    tmp = tmp_path_factory.mktemp("rf-smoke")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        load("random_features").main(["--preset", "smoke", "--out", str(tmp / "out"), "--figures", str(tmp / "fig"),
                                      "--no-progress"])
    return tmp / "out", printed.getvalue()


def test_superposition_scaling_summary(tmp_path, capsys):
    summary, on_disk = run("superposition_scaling", tmp_path, "--set", "seeds=2")
    printed = capsys.readouterr().out
    for regime in ("strong", "weak"):
        assert set(on_disk["exponents"][regime]) == {"exponential", "power", "linear"}
        for name in ("exponential", "power", "linear"):
            assert np.isfinite(on_disk["exponents"][regime][name])
            assert on_disk["loss"][regime][name]["m"] == [3, 4, 6]
            assert on_disk["loss"][regime][name]["n_models"] == [2, 2, 2]
            # two seeds: the exponent's interval over redrawn seeds, printed as stored
            lo, hi = on_disk["exponent_seed_interval"][regime][name]
            assert lo < hi
            # and the Student-t interval of the fit (three widths: 1 dof, t = 12.71)
            tlo, thi = on_disk["exponent_t_interval"][regime][name]
            exponent, se = on_disk["exponents"][regime][name], on_disk["exponent_stderr"][regime][name]
            assert (tlo, thi) == pytest.approx((exponent - 12.7062 * se, exponent + 12.7062 * se), rel=1e-4, abs=1e-9)
            assert (f"alpha_m = {exponent:.3f} ± {se:.3f}  95%: t [{tlo:.3f}, {thi:.3f}], "
                    f"redrawn seeds [{lo:.3f}, {hi:.3f}]") in printed
    assert on_disk["published_strong"] == {"exponential": [1.01, 0.05], "power": [1.0, 0.1], "linear": [0.89, 0.05]}


def test_the_regimes_figure_keeps_large_losses_in_view(random_features_smoke):
    # With sigma_w = 10 every loss is 100x larger; a fixed upper limit of 30 put all of them
    # outside panels 1, 2 and 4 (and inverted the axes).
    from toyscale import plots
    from toyscale import random_features as rf
    from toyscale.sweep import Record

    out, _ = random_features_smoke
    pre = load("random_features").PRESETS["smoke"]
    scaled = [Record(r.model_id, r.point, r.diverged, {k: 100 * v if "loss" in k else v for k, v in r.outputs.items()})
              for r in load_sweep(out / "sweep")]
    settings = rf.regime_fit_settings(rows=pre["rows"], columns=pre["columns"], ratio=pre["ratio"],
                                      limit_size=pre["limit_size"])
    fig = plots.random_feature_regimes(
        scaled, rf.RFConfig(M=pre["rf"]["M"], sigma_w=10.0), alpha=pre["alpha"], sizes=pre["sizes"], rows=pre["rows"],
        columns=pre["columns"], ridges=pre["ridges"], ridge_column=pre["ridge_column"],
        fits=rf.regime_exponents(scaled, **settings), title="x100")
    for k in (0, 1, 3):
        lo, hi = fig.axes[k].get_ylim()
        y = np.concatenate([line.get_ydata() for line in fig.axes[k].lines if line.get_marker() == "o"])
        assert lo < np.median(y) < hi, (k, lo, hi, np.median(y))
    plots.save(fig)  # closes it


def test_phase_diagram_summary(tmp_path, capsys):
    # widths given out of order: each phi_1/2 must still land in its own width's column
    summary, on_disk = run("phase_diagram", tmp_path, "--set", "widths=[4,3,6]", "--set", "seeds=2")
    errors = np.asarray(on_disk["alpha_m_stderr"], dtype=float)
    printed = capsys.readouterr().out
    assert f"standard errors of the fits: {np.nanmin(errors):.2f} to {np.nanmax(errors):.2f}" in printed
    assert on_disk["gamma"] == [-1.0, 1.0] and on_disk["alpha"] == [0.5, 1.5] and on_disk["m"] == [4, 3, 6]
    alpha_m = np.asarray(on_disk["alpha_m"], dtype=float)
    assert alpha_m.shape == (2, 2)
    phi = np.asarray(on_disk["phi_half"], dtype=float)
    assert phi.shape == (2, 2, 3)
    records = load_sweep(tmp_path / "out" / "sweep")
    for i, gamma in enumerate(on_disk["gamma"]):  # rows gamma, columns alpha: not transposed
        for j, alpha in enumerate(on_disk["alpha"]):
            curve = width_curve(records, gamma=gamma, frequencies={"kind": "power_law", "alpha": alpha})
            fit = width_exponent(curve, seed_bootstrap=1000)
            assert alpha_m[i, j] == pytest.approx(fit.exponent), (gamma, alpha)
            # each cell's t-interval (3 widths: 1 dof) and its interval over redrawn seeds, in its own cell
            assert on_disk["alpha_m_t_interval"][i][j] == pytest.approx(list(fit.t_interval())), (gamma, alpha)
            assert on_disk["alpha_m_seed_interval"][i][j] == pytest.approx(list(fit.intervals["exponent"]))
    assert alpha_m[0, 1] != pytest.approx(alpha_m[1, 0])  # so a transposed table would fail
    # the weak row (gamma = 1) at alpha = 1.5 against the paper's alpha - 1
    assert (f"weak side (gamma > 0) against alpha_m ≈ alpha - 1 (alpha > 1), measured / law: "
            f"gamma=1.00: {alpha_m[1, 1]:.2f} / 0.50 at alpha=1.5\n") in printed
    for key, what in (("alpha_m_t_interval", "t"), ("alpha_m_seed_interval", "over redrawn seeds")):
        iv = np.asarray(on_disk[key], dtype=float)
        half = (iv[..., 1] - iv[..., 0]) / 2
        assert np.all(half > 0)
        assert f"95% intervals {what}: half-width median {np.median(half):.2f}, widest ±{half.max():.2f}" in printed
    for i, gamma in enumerate(on_disk["gamma"]):
        for j, alpha in enumerate(on_disk["alpha"]):
            for k, m in enumerate(on_disk["m"]):
                want = [r["phi_half"] for r in records
                        if r.point["m"] == m and r.point["gamma"] == gamma and r.point["frequencies"]["alpha"] == alpha]
                assert phi[i, j, k] == pytest.approx(np.mean(want)), (gamma, alpha, m)


def test_random_features_summary(random_features_smoke):
    out, _ = random_features_smoke
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["preset"] == "smoke" and on_disk["experiment"] == "random_features"
    assert [f.name for f in (out.parent / "fig").glob("*.png")] == ["random_features_smoke.png"]  # per preset
    assert set(on_disk["exponents"]) == {"resolution_N", "resolution_T", "variance_N", "variance_T"}
    assert all(np.isfinite(v) for v in on_disk["exponents"].values())
    assert np.isfinite(on_disk["theory_rel_error_median"])


# mutant: the smoke preset without max_min_size (--set max_min_size=... refused as not a setting of it)
def test_every_preset_of_random_features_takes_max_min_size():
    from toyscale.runner import experiment_args

    module = load("random_features")
    args = experiment_args("random_features", "", module.PRESETS, ["--preset", "smoke", "--set", "max_min_size=32"],
                           prepare=module.prepare)
    assert len(args.plan[1]) == 78 and all(min(p["N"], p["T"]) <= 32 for p in args.plan[1])  # (82 without it)


def test_unknown_preset_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        load("phase_diagram").main(["--preset", "huge", "--out", str(tmp_path)])


@pytest.mark.parametrize("env, expect", [
    ({}, "xdg"),                                     # default: $XDG_CACHE_HOME/toyscale/jax
    ({"TOYSCALE_COMPILATION_CACHE": "off"}, None),   # opted out
    ({"TOYSCALE_COMPILATION_CACHE": "mine"}, "mine"),
    ({"JAX_COMPILATION_CACHE_DIR": "theirs"}, "theirs"),  # the user's own JAX setting wins
    ({"TOYSCALE_COMPILATION_CACHE": "~/tilde"}, "tilde"),  # ~ expanded (it had made a folder named ~ in the cwd)
])
def test_entry_points_use_a_persistent_compilation_cache(tmp_path, env, expect):
    # in a subprocess: the setting is process-global, and only entry points turn it on
    import subprocess
    import sys

    full = {k: v for k, v in os.environ.items()
            if k not in ("TOYSCALE_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_DIR", "XDG_CACHE_HOME")}
    full["XDG_CACHE_HOME"] = str(tmp_path / "xdg-home")
    full.update({k: str(tmp_path / v) if v != "off" and not v.startswith("~") else v for k, v in env.items()})
    full["HOME"] = str(tmp_path)
    code = ("import jax, jax.numpy as jnp\n"
            "from toyscale.runner import use_compilation_cache\n"
            "print(use_compilation_cache())\n"
            "jax.jit(lambda x: jnp.sin(x) * 3)(jnp.ones(7)).block_until_ready()\n")
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    folder = out.stdout.strip().splitlines()[-1]
    assert not (tmp_path / "~").exists()
    if expect is None:
        assert folder == "None" and not (tmp_path / "xdg-home").exists()
        return
    want = tmp_path / ("xdg-home/toyscale/jax" if expect == "xdg" else expect)
    assert folder == str(want)
    if expect != "theirs":  # (the user's own JAX settings keep JAX's 1 s minimum compile time)
        assert any(want.iterdir())  # the compiled program was written there


def test_the_compilation_cache_can_be_turned_on_after_jax_has_compiled(tmp_path):
    # (README: a notebook may call use_compilation_cache() once it has run JAX code)
    import subprocess
    import sys

    full = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "XDG_CACHE_HOME")}
    full["TOYSCALE_COMPILATION_CACHE"] = str(tmp_path / "cache")
    code = ("import jax, jax.numpy as jnp\n"
            "jax.jit(lambda x: jnp.cos(x) + 2)(jnp.ones(5)).block_until_ready()\n"
            "from toyscale.runner import use_compilation_cache\n"
            "use_compilation_cache()\n"
            "jax.jit(lambda x: jnp.sin(x) * 3)(jnp.ones(7)).block_until_ready()\n")
    subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True)
    assert len(list((tmp_path / "cache").iterdir())) >= 1


@pytest.mark.parametrize("env, before, expect", [
    ({}, False, "cores"),                                 # default: one CPU device per core
    ({"TOYSCALE_CPU_DEVICES": "3"}, False, 3),
    ({"TOYSCALE_CPU_DEVICES": "off"}, False, None),       # opted out: JAX's one device
    ({"JAX_NUM_CPU_DEVICES": "1"}, False, None),          # the user's own JAX setting wins
    ({"XLA_FLAGS": "--xla_force_host_platform_device_count=5"}, False, None),
    ({}, True, None),                                     # backends already started: too late
])
def test_entry_points_give_jax_one_cpu_device_per_core(env, before, expect):
    # in a subprocess: the device count is fixed when JAX's backend starts
    import subprocess
    import sys

    from toyscale.runner import available_cores

    full = {k: v for k, v in os.environ.items() if k not in ("TOYSCALE_CPU_DEVICES", "JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    full.update(env)
    code = ("import jax, jax.numpy as jnp\n"
            + ("jnp.ones(3).block_until_ready()\n" if before else "")
            + "from toyscale.runner import use_cpu_devices\n"
            "print(use_cpu_devices(), len(jax.devices('cpu')))\n")
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True)
    returned, count = out.stdout.split()
    want = available_cores() if expect == "cores" else expect
    assert returned == str(want)
    default = {"JAX_NUM_CPU_DEVICES": 1, "XLA_FLAGS": 5}
    assert int(count) == (want if want is not None else next((v for k, v in default.items() if k in env), 1))


def test_importing_the_package_and_scripts_leaves_jax_unstarted():
    # use_cpu_devices can only act before JAX's backends start, so nothing an entry point
    # imports may run a JAX operation at import time
    import subprocess
    import sys

    full = {k: v for k, v in os.environ.items() if k not in ("TOYSCALE_CPU_DEVICES", "JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    code = ("import importlib, importlib.util, pathlib, pkgutil, jax, toyscale\n"
            "for m in pkgutil.iter_modules(toyscale.__path__):\n"
            "    if m.name != '__main__':\n"
            "        importlib.import_module('toyscale.' + m.name)\n"
            f"for f in sorted(pathlib.Path({str(ROOT / 'experiments')!r}).glob('*.py')):\n"
            "    spec = importlib.util.spec_from_file_location(f.stem, f)\n"
            "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            "from toyscale.runner import use_cpu_devices\n"
            "print(use_cpu_devices(3), len(jax.devices('cpu')))\n")
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["3", "3"]


@pytest.mark.parametrize("env, item, message", [
    ({"TOYSCALE_CPU_DEVICES": "two"}, "seeds=1", "TOYSCALE_CPU_DEVICES='two'; expected a positive int or 'off'"),
    ({"TOYSCALE_CPU_DEVICES": "3"}, "widths=[0]", "preset 'smoke' with --set widths=[0]: m=0"),
])
def test_a_script_reports_a_bad_environment_or_setting_as_a_usage_error(env, item, message, tmp_path):
    import subprocess
    import sys

    full = {k: v for k, v in os.environ.items() if k not in ("TOYSCALE_CPU_DEVICES", "JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    out = subprocess.run([sys.executable, str(ROOT / "experiments" / "superposition_scaling.py"), "--preset", "smoke",
                          "--set", item, "--out", str(tmp_path / "out")], env={**full, **env, "TOYSCALE_COMPILATION_CACHE": "off"},
                         capture_output=True, text=True)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "out").exists()


def test_a_count_given_after_jax_started_warns_that_it_does_nothing():
    # (a notebook's use_cpu_devices(2) after its first JAX operation had returned None silently)
    import subprocess
    import sys

    unset = ("TOYSCALE_CPU_DEVICES", "JAX_NUM_CPU_DEVICES", "XLA_FLAGS")
    full = {k: v for k, v in os.environ.items() if k not in unset}
    code = ("import warnings, jax\n"
            "jax.numpy.ones(3).block_until_ready()\n"
            "from toyscale.runner import use_cpu_devices\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    print(use_cpu_devices(2), use_cpu_devices(), len(jax.devices('cpu')))\n"
            "print([str(w.message) for w in caught if w.category is RuntimeWarning])\n")
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True)
    first, second = out.stdout.splitlines()
    assert first.split() == ["None", "None", "1"]
    assert second.count("does nothing") == 1
    assert "use_cpu_devices(2) does nothing: JAX's backends have started" in second


def test_cpu_device_count_is_checked():
    from toyscale.runner import use_cpu_devices

    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="count="):
            use_cpu_devices(bad)


@pytest.mark.parametrize("name, models", [("superposition_scaling", 48), ("phase_diagram", 1020), ("geometry", 18),
                                          ("activation_density", 54)])
def test_paper_presets_pass_validation(name, models, tmp_path, monkeypatch):
    # The paper presets take GPU hours: make sure one would not be refused after the wait
    # (e.g. a distribution whose Poisson rate exceeds the sparse sampler's max_rate). Every
    # check runs before the sweep engine is reached; the engine is replaced by a sentinel.
    from toyscale import train

    class Reached(Exception):
        pass

    def engine(task, points, **kw):
        raise Reached(len(points), task.config()["n"])

    monkeypatch.setattr(train, "run_sweep", engine)
    with pytest.raises(Reached) as hit:
        load(name).main(["--preset", "paper", "--out", str(tmp_path), "--no-progress"])
    assert hit.value.args[0] == models


def test_a_script_removes_the_temp_files_a_killed_run_left_in_its_folders(tmp_path):
    # a SIGKILL while the summary or the figure was written left a hidden .tmp-* file there for good
    from toyscale.runner import experiment_args

    out, figures = tmp_path / "out", tmp_path / "fig"
    out.mkdir(), figures.mkdir()
    old = time.time() - 7200
    a, b = "a" * 16, "b" * 16  # (_write_temp's names: .tmp-<16 hex digits>-<name>)
    files = {name: folder / name for folder in (out, figures)
             for name in (f".tmp-{a}-{folder.name}.json", f".tmp-{b}-{folder.name}.png", f"kept-{folder.name}.json",
                          f".tmp-notes-{folder.name}.txt")}
    for path in files.values():
        path.write_text("x")
    for path in files.values():  # all old but the .tmp-bbbb-* ones
        if b not in path.name:
            os.utime(path, (old, old))
    (out / f".tmp-{a}-dir").mkdir()  # (not a file: left, not a crash)
    os.utime(out / f".tmp-{a}-dir", (old, old))
    experiment_args("demo", "", {"quick": {"widths": [3, 4]}}, ["--out", str(out), "--figures", str(figures)])
    # (a fresh one may be written now; another program's .tmp-notes-* file is not ours)
    assert sorted(p.name for p in files.values() if p.exists()) == sorted([
        f".tmp-{b}-fig.png", f".tmp-{b}-out.png", "kept-fig.json", "kept-out.json", ".tmp-notes-fig.txt",
        ".tmp-notes-out.txt"])
    assert (out / f".tmp-{a}-dir").is_dir()


def test_set_reads_a_whole_float_as_the_int_the_preset_holds_in_a_list_too():
    from toyscale.runner import experiment_args

    presets = {"quick": {"train": {"n": 8}, "widths": [3, 4], "gammas": [-1.0, 0.5]}}
    args = experiment_args("demo", "", presets, ["--set", "widths=[3,4,6.0]", "--set", "train.n=64.0",
                                                 "--set", "gammas=[-1,2]"])
    assert args.settings["widths"] == [3, 4, 6] and all(type(v) is int for v in args.settings["widths"])
    assert args.settings["train"]["n"] == 64 and type(args.settings["train"]["n"]) is int
    assert args.settings["gammas"] == [-1.0, 2.0] and all(type(v) is float for v in args.settings["gammas"])
    assert experiment_args("demo", "", presets, ["--set", "widths=[3,4.5]"]).settings["widths"] == [3, 4.5]
    # and an int as the float the preset holds: one spelling, one folder (lr=1 and lr=1.0 had two)
    presets = {"quick": {"lr": 0.5, "gammas": [-1.0, 0.5]}}
    outs = {experiment_args("demo", "", presets, ["--set", f"lr={lr}", "--set", f"gammas={g}"]).out
            for lr in ("1", "1.0") for g in ("[-1,2]", "[-1.0,2.0]")}
    assert outs == {os.path.join("runs", "demo-quick-gammas=_-1.0__2.0_-lr=1.0")}, outs


def test_set_changes_one_setting_of_a_copy_of_the_preset(tmp_path):
    from toyscale.runner import experiment_args

    presets = {"quick": {"train": {"n": 8, "steps": 10}, "seeds": 2}}
    args = experiment_args("demo", "", presets, ["--set", "train.matmul_precision=bfloat16", "--set", "seeds=3",
                                                 "--set", "train.steps=20"])
    assert args.settings == {"train": {"n": 8, "steps": 20, "matmul_precision": "bfloat16"}, "seeds": 3}
    assert presets["quick"] == {"train": {"n": 8, "steps": 10}, "seeds": 2}  # the preset itself is untouched
    # an overridden run never lands in the preset's folder or in figures/
    assert args.out == os.path.join("runs", "demo-quick-seeds=3-train.matmul_precision=bfloat16-train.steps=20")
    assert args.figures == args.out
    # long values still give a short, file-name-safe folder; the order of --set does not matter
    long = experiment_args("demo", "", presets, ["--set", f"seeds={list(range(100))}"])
    assert len(os.path.basename(long.out)) < 120 and "[" not in long.out and " " not in long.out
    swapped = experiment_args("demo", "", presets, ["--set", "train.steps=20", "--set", "seeds=3",
                                                    "--set", "train.matmul_precision=bfloat16"])
    assert swapped.out == args.out
    plain = experiment_args("demo", "", presets, [])
    assert plain.out == os.path.join("runs", "demo-quick") and plain.figures == "figures"


def test_a_field_set_to_its_configs_default_keeps_the_presets_folder():
    from toyscale.runner import experiment_args
    from toyscale.train import TrainConfig

    presets = {"quick": {"train": {"n": 8, "steps": 10}, "seeds": 2}}
    configs = {"train": TrainConfig}
    for item in ("train.loss_scale=1", "train.loss_scale=1.0", 'train={"matmul_precision": "float32"}'):
        args = experiment_args("demo", "", presets, ["--set", item], configs=configs)
        assert args.out == os.path.join("runs", "demo-quick") and args.figures == "figures", item
    # read like the default (an int as the float it stands for), in the settings too
    args = experiment_args("demo", "", presets, ["--set", 'train={"loss_scale": 2}'], configs=configs)
    assert args.settings["train"]["loss_scale"] == 2.0 and type(args.settings["train"]["loss_scale"]) is float
    assert args.out == experiment_args("demo", "", presets, ["--set", "train.loss_scale=2.0"], configs=configs).out
    assert args.out == os.path.join("runs", "demo-quick-train.loss_scale=2.0")
    with pytest.raises(TypeError, match="'rf' is not a group of settings"):
        experiment_args("demo", "", presets, [], configs={"rf": TrainConfig})
    # a tuple default as JSON gives it (RFConfig.common_across = (): [] had named a folder of its own)
    from toyscale.random_features import RFConfig
    rf_presets = {"quick": {"rf": {"M": 16}, "seeds": 2}}
    args = experiment_args("demo", "", rf_presets, ["--set", "rf.common_across=[]"], configs={"rf": RFConfig})
    assert args.out == os.path.join("runs", "demo-quick")
    # and a changed value as the config spells it: two spellings of one sweep, one folder
    for spellings in (("rf.common_across=N", 'rf.common_across=["N"]', 'rf={"common_across": "N"}'),
                      ('rf.common_across=["T","N"]', 'rf.common_across=["N","T"]')):
        runs = [experiment_args("demo", "", rf_presets, ["--set", s], configs={"rf": RFConfig}) for s in spellings]
        assert len({a.out for a in runs}) == 1 and runs[0].settings == runs[-1].settings, spellings
    assert runs[0].out == os.path.join("runs", "demo-quick-rf.common_across=__N____T__")
    # (a value the config refuses is left as given, for the script's prepare() to report)
    args = experiment_args("demo", "", rf_presets, ["--set", "rf.common_across=seed"], configs={"rf": RFConfig})
    assert args.settings["rf"]["common_across"] == "seed"


@pytest.mark.parametrize("item, message", [
    ("width=3", "'width' is not a setting of this preset"),
    ("seeds.x=1", "'seeds' is not a group of settings"),
    ("seeds", "expected KEY=VALUE"),
    ("train.=1", "has an empty part"),
    ("train=5", "'train' is a group of settings"),
    # (text that is not JSON where the preset holds a number had gone on, refused later with no word of why)
    ("seeds=.5", "'.5' is not a number as JSON writes one, and seeds holds one (the preset has 2): VALUE is read as "
                 "JSON, so write 0.01 for .01 and 1.0 for 1."),
    ("train.n=abc", "'abc' is not a number as JSON writes one, and train.n holds one (the preset has 8)"),
])
def test_set_refuses_what_the_preset_does_not_have(item, message, capsys):
    from toyscale.runner import experiment_args

    with pytest.raises(SystemExit):
        experiment_args("demo", "", {"quick": {"train": {"n": 8}, "seeds": 2}}, ["--set", item])
    assert message in capsys.readouterr().err


def test_set_of_a_whole_group_names_its_configs_other_settings_too(capsys):
    from toyscale.runner import experiment_args
    from toyscale.train import TrainConfig

    with pytest.raises(SystemExit):
        experiment_args("demo", "", {"quick": {"train": {"n": 8, "steps": 3}, "seeds": 2}}, ["--set", "train=5"],
                        configs={"train": TrainConfig})
    err = capsys.readouterr().err
    assert "'train' is a group of settings; set one of ['n', 'steps'] instead (or of the ones it leaves at their " \
           "defaults: ['batch', " in err and "'loss_scale'" in err and err.rstrip().endswith(", as train.n=...")
    assert "'n'" not in err.split("defaults:")[1]
    # a field without a default (n, left out of this preset) is not offered as one left at its default
    with pytest.raises(SystemExit):
        experiment_args("demo", "", {"quick": {"train": {"steps": 3}, "seeds": 2}}, ["--set", "train=5"],
                        configs={"train": TrainConfig})
    assert "'n'" not in capsys.readouterr().err.split("defaults:")[1]


def test_a_script_trains_in_bfloat16_when_told(tmp_path):
    summary = load("superposition_scaling").main([
        "--preset", "smoke", "--set", "train.matmul_precision=bfloat16", "--out", str(tmp_path / "out"),
        "--no-progress"])
    assert summary["config"]["matmul_precision"] == "bfloat16"
    # drawn into the run's folder, named for its override
    assert list((tmp_path / "out").glob("superposition_scaling_smoke-train.matmul_precision=bfloat16.png"))
    assert all(np.isfinite(v) for r in summary["exponents"].values() for v in r.values())
    # one seed: nothing to redraw
    assert all(v is None for r in summary["exponent_seed_interval"].values() for v in r.values())


def test_a_seed_gets_its_own_folder_and_figures_stay_the_presets(capsys):
    from toyscale.runner import experiment_args

    presets = {"quick": {"train": {"n": 8, "steps": 10}, "seeds": 2}}
    args = experiment_args("demo", "", presets, ["--seed", "1"])
    assert args.out == os.path.join("runs", "demo-quick-seed1") and args.figures == args.out
    assert args.figure == os.path.join(args.out, "demo_quick-seed1.png")
    both = experiment_args("demo", "", presets, ["--seed", "2", "--set", "seeds=3"])
    assert both.out == os.path.join("runs", "demo-quick-seeds=3-seed2")
    # the preset as published draws into figures/; runs with other settings into one --figures
    # folder get figures of their own names instead of overwriting one another's
    assert experiment_args("demo", "", presets, []).figure == os.path.join("figures", "demo_quick.png")
    shared = [experiment_args("demo", "", presets, ["--figures", "fig", *extra]).figure
              for extra in ([], ["--set", "seeds=3"], ["--seed", "1"])]
    assert shared == [os.path.join("fig", name) for name in ("demo_quick.png", "demo_quick-seeds=3.png",
                                                              "demo_quick-seed1.png")]
    with pytest.raises(SystemExit):
        experiment_args("demo", "", presets, ["--seed", "-1"])
    assert "--seed -1: must be in [0, 2**32 - 1]" in capsys.readouterr().err


def test_set_merges_a_group_and_reads_a_whole_float_as_the_presets_int():
    from toyscale.runner import experiment_args

    presets = {"quick": {"train": {"n": 8, "steps": 10}, "seeds": 2, "lr": 0.5}}
    args = experiment_args("demo", "", presets, ["--set", 'train={"steps": 2e1, "warmup": 2}', "--set", "seeds=4e0",
                                                 "--set", "lr=1"])
    assert args.settings == {"train": {"n": 8, "steps": 20, "warmup": 2}, "seeds": 4, "lr": 1.0}
    assert type(args.settings["seeds"]) is int and type(args.settings["train"]["steps"]) is int
    # the folder follows the settings, not how they were written
    same = experiment_args("demo", "", presets, ["--set", "train.warmup=2", "--set", "train.steps=20", "--set",
                                                 "seeds=4", "--set", "lr=1"])
    assert same.out == args.out == os.path.join("runs", "demo-quick-lr=1.0-seeds=4-train.steps=20-train.warmup=2")
    unchanged = experiment_args("demo", "", presets, ["--set", "train.n=8"])  # the preset's own value
    assert unchanged.out == os.path.join("runs", "demo-quick") and unchanged.figures == "figures"


@pytest.mark.parametrize("name, item, message", [
    ("superposition_scaling", 'train.steps="abc"', "steps='abc'; steps must be an integer"),
    # a misspelled key inside a group: named with the closest setting and the list of them
    ("superposition_scaling", "train.stepz=5", "'stepz' is not a setting of TrainConfig (did you mean 'steps'?); "
                                               "its settings are ['n', 'batch', 'steps'"),
    ("phase_diagram", "train.zzz=5", "'zzz' is not a setting of TrainConfig; its settings are ['n', 'batch'"),
    ("random_features", "rf.sigma=2", "'sigma' is not a setting of RFConfig (did you mean 'sigma_w'?)"),
    ("superposition_scaling", "widths=5", "widths=5; widths must be a list"),
    ("phase_diagram", "alphas=0.5", "alphas=0.5; alphas must be a list"),
    ("random_features", "rf.M=0", "M=0"),
    ("random_features", "limit_size=4", "limit_size=4"),
    ("random_features", "ratio=1000", "the resolution_N fit (along N at T = 64) would get 0 size(s)"),
    ("more_is_better", "ridges=[0.1,-1]", "ridges=-1.0; ridges must be finite >= 0"),
    ("compute_optimal", "T=256", "T=256; T must be at least 16 x the largest width (32), so that the data do not"),
    ("compute_optimal", "time_fit=[5,100]", "time_fit=[5, 100]; time_fit must be [t_min, t_max] with log_every=10 "
                                            "<= t_min < t_max <= steps=400"),
    ("compute_optimal", "time_fit=[20,50,100]", "time_fit=[20, 50, 100]; time_fit must be a list of two numbers"),
    # (these two passed and crashed after the sweep: too few logged steps in the window, too many bins)
    ("compute_optimal", "time_fit=[11,25]", "time_fit=[11, 25] holds 1 logged step(s) (every log_every=10); the "
                                            "time fit needs at least 3"),
    ("compute_optimal", "bins=1000", "bins=1000; bins must be an integer from 3 to the 40 logged steps"),
    ("compute_optimal", "widths=[4,8]", "widths=[4, 8]; the width and frontier fits need at least 3 widths"),
    ("compute_optimal", "bins=2", "bins=2; bins must be an integer from 3 to the 40 logged steps"),
    ("compute_optimal", "seeds=[2,2]", "seeds=[2, 2]; a list of seeds gives one count per width: 4 for "
                                       "widths=[4, 8, 16, 32], got 2"),
    ("compute_optimal", "seeds=[2,0,2,2]", "seeds[1]=0; must be an integer >= 1"),
    ("compute_optimal", "seeds=[2,2.5,2,2]", "seeds[1]=2.5; seeds[1] must be an integer"),
    ("compute_optimal", "seeds=2.5", "seeds=2.5; seeds must be an integer (every width's) or a list of integers, "
                                     "one per width in the order of widths"),
    ("compute_optimal", "seeds=0", "seeds=0; must be an integer >= 1"),
    ("more_is_better", "sizes=[8]", "sizes=[8]; the sweep needs at least two sizes"),
    ("more_is_better", "fixed=0", "fixed=0; must be an integer >= 1"),
    # (these ran, then crashed after the sweep or chose the best of one ridge; a width exponent of 17.9 at M = 16)
    ("more_is_better", "ridges=[0]", "ridges=[0.0]; the best-ridge comparison needs at least two ridges"),
    ("compute_optimal", "rf.M=64", "widths=[4, 8, 16, 32]; the largest width must be at most M/4 = 16 (rf.M=64)"),
    # one trial has no standard error: every rise would count as significant
    ("more_is_better", "trials=1", "trials=1; the comparisons need a standard error over trials: trials must be >= 2"),
    # (these trained every model, then printed an all-nan table or raised)
    ("phase_diagram", "widths=[3,4]", "widths=[3, 4]; each alpha_m fit needs at least 3 distinct widths"),
    # a width given twice had trained its models twice and averaged them as seeds
    ("phase_diagram", "widths=[3,3,4,6]", "widths=[3, 3, 4, 6] holds 3 twice; each value of an axis must be distinct"),
    ("phase_diagram", "alphas=[0.5,0.5]", "alphas=[0.5, 0.5] holds 0.5 twice"),
    ("superposition_scaling", "widths=[4]", "widths=[4]; each alpha_m fit needs at least 2 distinct widths"),
    ("superposition_scaling", "widths=[4,4]", "widths=[4, 4] holds 4 twice"),
    ("geometry", "gammas=[1,1]", "gammas=[1.0, 1.0] holds 1.0 twice"),
    ("geometry", "widths=[4]", "widths=[4]; each alpha_m fit needs at least 2 distinct widths, got 1 [4]"),
    ("geometry", 'alpha="abc"', "alpha='abc'; alpha must be a real number"),
    ("geometry", "gammas=[-1,-0.9999999]", "gammas=[-1.0, -0.9999999]: [-1.0, -0.9999999] all read -1 to 6 "),
    ("geometry", "train.represented_threshold=2", "train.represented_threshold=2.0; this script counts a row as"),
    # (a list was swept, then the fits' averaging of the seeds raised after every model had trained)
    ("geometry", "lr=[0.01,0.02]", "lr=[0.01, 0.02]; lr must be one number, the peak learning rate of W and b"),
    ("phase_diagram", "lr=[0.01,0.02]", "lr=[0.01, 0.02]; lr must be one number"),
    ("activation_density", "lr=[0.01,0.02]", "lr=[0.01, 0.02]; lr must be one number"),
    ("phase_diagram", "lr=NaN", "lr=nan; lr must be finite > 0"),  # (named as set: it had said lr_w=nan)
    ("activation_density", "s=[0,1.5]", "s=[0.0, 1.5]; each rescaling s must be a number in [0, 1], got 1.5"),
    ("activation_density", "s=[0,0]", "s=[0.0, 0.0] holds 0.0 twice"),
    ("activation_density", "widths=[5]", "widths=[5]; each alpha_m fit needs at least 2 distinct widths"),
    # the regimes' predictions are for an isotropic teacher; the other two scripts need a target of finite power
    ("random_features", "rf.teacher_exponent=1",
     "rf.teacher_exponent=1.0; random_features.py predicts the four regimes"),
    ("compute_optimal", "rf.teacher_exponent=-2", "alpha=1.0 with RFConfig.teacher_exponent=-2.0; the target power"),
    ("more_is_better", "rf.teacher_exponent=-0.5", "alpha=0.5 with RFConfig.teacher_exponent=-0.5; the target power"),
    # at s = 1 feature 1 is always active: no max_rate helps the sparse sampler, and the message says so
    ("activation_density", "train.sampler=sparse", "have p_i = 1 (feature 1 is active in every sample), which the "
                                                   "sparse sampler's Poisson events cannot draw; use sampler='dense'"),
])
def test_a_bad_setting_is_a_usage_error_before_anything_runs(name, item, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        load(name).main(["--preset", "smoke", "--set", item, "--out", str(tmp_path / "out"), "--no-progress"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"preset 'smoke' with --set {item}: " in err and message in err, err
    assert not (tmp_path / "out").exists()


def test_a_superposition_scripts_lr_may_be_any_real_number_but_not_a_list():
    # (only Python's int and float had been taken: a numpy float32 lr was refused as "not one number")
    from toyscale.runner import superposition_points
    from toyscale.train import TrainConfig

    config = TrainConfig(n=16, batch=8, steps=10, warmup=1, test_batches=1, log_every=5)
    settings = {"widths": [2, 3], "seeds": 1}
    for lr in (0.01, np.float32(0.01), 1):
        points = superposition_points(config, {**settings, "lr": lr}, gammas=[-1.0], frequencies=["linear"])
        assert len(points) == 2 and points[0]["lr_w"] == points[0]["lr_b"] == pytest.approx(0.01 if lr != 1 else 1)
    for lr in ([0.01, 0.02], True, "0.01"):
        with pytest.raises(TypeError, match="lr must be one number"):
            superposition_points(config, {**settings, "lr": lr}, gammas=[-1.0], frequencies=["linear"])


def test_geometry_labels_gamma_0_as_no_decay_not_weak():
    # (gamma = 0 had been printed and drawn as weak superposition; phase_diagram's weak side leaves it out)
    geometry = load("geometry")
    assert [geometry.regime_label(g) for g in (-1.0, 0.0, 0.5)] == [
        "strong ($\\gamma$=-1)", "no decay ($\\gamma$=0)", "weak ($\\gamma$=0.5)"]


@pytest.mark.parametrize("name", ["superposition_scaling", "phase_diagram", "random_features", "geometry",
                                  "activation_density", "more_is_better", "compute_optimal", "plrf_frontier"])
def test_the_help_examples_of_each_script_are_accepted(name):
    from toyscale.runner import _examples, experiment_args

    module = load(name)
    examples = _examples(module.PRESETS).split(" or ")
    assert examples and all(e.startswith("--set ") for e in examples)
    argv = [part for e in examples for part in e.split(" ", 1)]
    args = experiment_args(name, "", module.PRESETS, argv, prepare=module.prepare)
    assert args.plan is not None


def test_the_phase_diagram_figure_does_not_depend_on_the_order_of_its_axes():
    from toyscale import plots

    gammas, alphas = np.array([-1.0, 0.0, 1.0]), np.array([0.0, 0.5, 1.0, 1.5])
    alpha_m = np.arange(12.0).reshape(3, 4)
    phi = {"a": (gammas, np.array([1.0, 0.5, 0.1]))}
    g, a = [2, 0, 1], [3, 1, 0, 2]
    meshes = []
    for args in ((gammas, alphas, alpha_m, phi),
                 (gammas[g], alphas[a], alpha_m[np.ix_(g, a)], {"a": (gammas[g], phi["a"][1][g])})):
        fig = plots.phase_diagram(*args[:3], phi_half=args[3])
        mesh = fig.axes[0].collections[0]
        line = next(ax for ax in fig.axes if ax.lines).lines[0]  # the phi_1/2 panel
        meshes.append((np.asarray(mesh.get_array()), np.asarray(mesh.get_coordinates()), line.get_xdata(),
                       line.get_ydata()))
        plots.plt.close(fig)
    for x, y in zip(*meshes):
        np.testing.assert_array_equal(x, y)


def test_random_features_prints_its_fits_and_the_theory_error(random_features_smoke):
    out, printed = random_features_smoke
    summary = json.loads((out / "summary.json").read_text())
    lines = printed.splitlines()
    labels = {"resolution_N": "resolution-limited in N (T = 64, N ≤ 32)",
              "resolution_T": "resolution-limited in T (N = 64, T ≤ 32)",
              "variance_N": "variance-limited in N (T = 8, N ≥ 16)",
              "variance_T": "variance-limited in T (N = 8, T ≥ 16)"}
    for name, label in labels.items():
        row = next(line for line in lines if line.startswith(label))
        lo, hi = summary["exponent_t_interval"][name]
        assert lo < summary["exponents"][name] < hi
        fitted = f"{summary['exponents'][name]:.3f} ± {summary['exponent_stderr'][name]:.3f}  [{lo:.3f}, {hi:.3f}]"
        assert fitted in row and ("alpha = 0.5" if name.startswith("resolution") else "  1  ") in row, row
        # and the interval over redrawn seeds (4-32 replicates a size), as stored
        slo, shi = summary["exponent_seed_interval"][name]
        assert slo < summary["exponents"][name] < shi and row.endswith(f" sizes, redrawn seeds [{slo:.3f}, {shi:.3f}])")
    error = next(line for line in lines if line.startswith("median |sim/theory - 1| = "))
    assert f"{100 * summary['theory_rel_error_median']:.1f}%" in error
    assert f"over the {summary['theory_points']} points" in error
    assert f"(max {100 * summary['theory_rel_error_max']:.0f}%)" in error
    shapes = {(r.point["N"], r.point["T"]) for r in load_sweep(out / "sweep")}
    assert f"{summary['models']} models in {len(shapes)} compiled shapes" in lines


# mutants: the script's regime fits not told the config's common_across (or not redrawn at all)
def test_random_features_redraws_the_seeds_together_along_the_sizes_its_config_shares(random_features_smoke,
                                                                                       tmp_path, monkeypatch, capsys):
    from toyscale import random_features as rf

    out, _ = random_features_smoke
    script, fit = load("random_features"), rf.regime_exponents
    given = []

    def regime_exponents(result, **kw):
        given.append(kw)
        return fit(result, **kw)

    # the smoke run's models stand in for a sweep with shared draws: only the fits' arguments are checked
    monkeypatch.setattr(script, "run_experiment_sweep", lambda *a, **k: load_sweep(out / "sweep"))
    monkeypatch.setattr(rf, "regime_exponents", regime_exponents)
    summary = script.main(["--preset", "smoke", "--set", 'rf.common_across=["N"]', "--out", str(tmp_path / "out"),
                           "--figures", str(tmp_path / "fig"), "--no-progress"])
    assert [(kw["seed_bootstrap"], kw["common_across"]) for kw in given] == [(1000, ("N",))]
    printed = capsys.readouterr().out
    for name in ("resolution_N", "resolution_T", "variance_N", "variance_T"):
        lo, hi = summary["exponent_seed_interval"][name]
        assert lo < summary["exponents"][name] < hi and f"redrawn seeds [{lo:.3f}, {hi:.3f}])" in printed
    assert "note: the models share their draws across N (common_across)" in printed
    # seed_widen=t reaches every fit, widening each interval about the same fit; a bad value is refused up front
    given.clear()
    wide = script.main(["--preset", "smoke", "--set", 'rf.common_across=["N"]', "--set", "seed_widen=t", "--out",
                        str(tmp_path / "out"), "--figures", str(tmp_path / "fig"), "--no-progress"])
    assert [kw["widen"] for kw in given] == ["t"]
    for name in ("resolution_N", "resolution_T", "variance_N", "variance_T"):
        (lo, hi), (wlo, whi) = summary["exponent_seed_interval"][name], wide["exponent_seed_interval"][name]
        assert wide["exponents"][name] == summary["exponents"][name] and wlo < lo < hi < whi, name
    with pytest.raises(ValueError, match="seed_widen='z'; seed_widen must be 'sqrt'"):
        script.prepare({**script.PRESETS["smoke"], "seed_widen": "z"})


# mutants: the summary read a missing seed interval (KeyError) or the range of no sizes (ValueError), after the sweep
def test_random_features_finishes_when_diverged_models_leave_a_regime_thin_or_empty(random_features_smoke, tmp_path,
                                                                                    monkeypatch, capsys):
    import dataclasses

    from toyscale import plots

    out, _ = random_features_smoke
    records = load_sweep(out / "sweep")
    # resolution in T (N = 64, T <= 32): one model left at T = 32; variance in T (N = 8, T >= 16): none left, nor
    # anywhere in the ridgeless N = 8 row the figure draws (its loss_curve had stopped the script, before this too)
    thin = [r.model_id for r in records if r.point["N"] == 64 and r.point["T"] == 32 and r.point["ridge"] == 0][1:]
    gone = [r.model_id for r in records if r.point["N"] == 8 and r.point["ridge"] == 0]
    assert thin and gone
    bad = set(thin + gone)
    records = SweepResult([dataclasses.replace(r, diverged=r.model_id in bad) for r in records], records.manifest,
                          records.stats)
    script, save, labels = load("random_features"), plots.save, []

    def keep_labels(fig, *args, **kw):
        labels.extend(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
        return save(fig, *args, **kw)

    monkeypatch.setattr(script, "run_experiment_sweep", lambda *a, **k: records)
    monkeypatch.setattr(plots, "save", keep_labels)
    summary = script.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                           "--no-progress"])
    printed = capsys.readouterr().out
    assert "N=8: every model diverged" in labels and "N=64" in labels and "ridge=0.1" in labels, labels
    assert "no interval over redrawn seeds (T = 32 has one model (the others diverged or were not swept)" in printed
    assert np.isnan(summary["exponent_seed_interval"]["resolution_T"]).all()
    assert np.isfinite(summary["exponents"]["resolution_T"])
    assert summary["exponents"]["variance_T"] is None and summary["fit_ranges"]["variance_T"] is None
    assert "n/a: every model at its sizes diverged, so no power law fits; predicted 1" in printed
    assert (tmp_path / "fig" / "random_features_smoke.png").exists()


@pytest.mark.parametrize("change", [["--seed", "1"], ["--set", "alpha=0.75"]])
def test_rerunning_into_an_out_folder_with_other_settings_is_a_usage_error(random_features_smoke, change):
    # as a script: exit status 2 and the engine's message, no traceback; nothing overwritten
    # (more replicates would extend the folder's grid: tests/test_sweep.py)
    out, _ = random_features_smoke
    before = (out / "summary.json").read_text()
    env = {**os.environ, "TOYSCALE_COMPILATION_CACHE": "off", "TOYSCALE_CPU_DEVICES": "off"}
    run = subprocess.run([sys.executable, str(ROOT / "experiments" / "random_features.py"), "--preset", "smoke",
                          "--out", str(out), "--no-progress", *change], env=env, capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert f"random_features: error: --out {out}: out='{out / 'sweep'}' already holds a different sweep" in run.stderr
    assert (out / "summary.json").read_text() == before


@pytest.mark.parametrize("name", ["superposition_scaling", "phase_diagram", "random_features", "geometry",
                                  "activation_density", "more_is_better", "compute_optimal", "plrf_frontier"])
def test_each_script_refuses_a_sweep_folder_holding_another_sweep_as_a_usage_error(name, tmp_path, capsys):
    from toyscale.sweep import FORMAT

    (tmp_path / "out" / "sweep").mkdir(parents=True)
    (tmp_path / "out" / "sweep" / "manifest.json").write_text(json.dumps(
        {"format": FORMAT, "task": "other", "task_config": {}, "seed": 0, "points": [], "fingerprint": "0"}))
    with pytest.raises(SystemExit) as exit_:
        load(name).main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--no-progress"])
    assert exit_.value.code == 2
    assert "already holds a different sweep" in capsys.readouterr().err
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize("flag", ["--out", "--figures"])
def test_an_output_path_that_is_a_file_is_a_usage_error(flag, tmp_path, capsys):
    # (NotADirectoryError traceback once the sweep had started)
    taken = tmp_path / "taken"
    taken.write_text("")
    argv = ["--preset", "smoke", "--out", str(tmp_path / "out"), "--no-progress", flag, str(taken)]
    with pytest.raises(SystemExit) as exit_:
        load("superposition_scaling").main(argv)
    assert exit_.value.code == 2
    assert f"{flag} {taken}: exists and is not a folder" in capsys.readouterr().err
    # a folder that cannot be made under that file: refused before the sweep too (the figure's had been found after
    # it, the summary lost)
    argv[-1] = str(taken / "sub")
    with pytest.raises(SystemExit) as exit_:
        load("superposition_scaling").main(argv)
    assert exit_.value.code == 2 and not (tmp_path / "out" / "sweep").exists()
    assert f"{flag} {taken / 'sub'}: cannot be written there ({taken} is a file)" in capsys.readouterr().err


# mutant: a sweep folder itself accepted as --out (a new sweep trained into <it>/sweep, the summary written beside
# the first sweep's chunks)
def test_a_sweep_folder_given_as_out_is_a_usage_error(tmp_path, capsys):
    from toyscale.runner import experiment_args

    (tmp_path / "run" / "sweep").mkdir(parents=True)
    (tmp_path / "run" / "sweep" / "manifest.json").write_text("{}")
    with pytest.raises(SystemExit) as exit_:
        experiment_args("demo", "", {"quick": {"widths": [3, 4]}}, ["--out", str(tmp_path / "run" / "sweep")])
    assert exit_.value.code == 2
    assert (f"--out {tmp_path / 'run' / 'sweep'}: holds a sweep itself (its manifest.json); give the folder above it"
            in capsys.readouterr().err)
    experiment_args("demo", "", {"quick": {"widths": [3, 4]}}, ["--out", str(tmp_path / "run")])  # (its parent: fine)


def test_ctrl_c_in_a_script_is_exit_130_with_how_to_resume(tmp_path, monkeypatch, capsys):
    from toyscale import train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "sweep_superposition", interrupted)
    script = load("superposition_scaling")  # (it imports the name: patch the script's own)
    monkeypatch.setattr(script, "sweep_superposition", interrupted)
    with pytest.raises(SystemExit) as exit_:
        script.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--no-progress"])
    assert exit_.value.code == 130
    assert "interrupted; rerun the same command to resume" in capsys.readouterr().err


def test_ctrl_c_of_a_script_mid_chunk_exits_130_at_once(tmp_path):
    # SystemExit(130) went through the interpreter's shutdown, which waited for the chunk JAX
    # was computing (130 s in a review) and now and then crashed (exit status 139)
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "experiments" / "superposition_scaling.py"), "--preset", "smoke",
           "--set", "train.steps=2000000", "--set", "train.log_every=1000000", "--out", str(out), "--no-progress"]
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (out / "sweep" / "manifest.json").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # (compiled and training its first chunk of 2,000,000 steps: minutes)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert err.rstrip().endswith("interrupted; rerun the same command to resume") and took < 20, (took, err[-2000:])


def test_ctrl_c_of_a_script_outside_its_sweep_is_one_line_and_130():
    # (fitting or drawing: nothing to save; it had been a KeyboardInterrupt traceback)
    code = textwrap.dedent("""
        import os, signal, time
        from toyscale import runner
        assert runner.use_reliable_interrupt(exit_outside_sweep=True)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
        print("not interrupted")
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "-c: interrupted\n")


def test_an_exit_on_ctrl_c_leaves_no_temp_file_and_only_a_script_itself_exits_so():
    # os._exit skipped the writers' clean-up: a Ctrl-C while writing the figure left
    # .tmp-<hex>-figure.png behind; and a driver or REPL calling a script's main() had armed the
    # exit for the rest of its life, its own `except KeyboardInterrupt` never reached
    code = textwrap.dedent("""
        import os, signal, sys
        from toyscale import io, runner
        folder = sys.argv[1]
        if sys.argv[2] == "driver":
            sys.argv = ["demo.py"]
            args = runner.experiment_args("demo", "", {"quick": {"a": 1}})
            print("as_script", args.as_script)
        else:
            runner.use_reliable_interrupt(exit_outside_sweep=True)
        def write(f):
            f.write(b"partial")
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10**7):
                pass
        try:
            io.atomic_write(os.path.join(folder, "figure.png"), write)
        except KeyboardInterrupt:
            print("caught")
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    for how, (rc, out) in (("script", (130, "")), ("driver", (0, "as_script False\ncaught\n"))):
        folder = ROOT / ".pytest_cache" / f"tmp-exit-{how}-{os.getpid()}"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run([sys.executable, "-c", code, str(folder), how], capture_output=True, text=True,
                                  timeout=60, env=env, cwd=folder)
            assert (done.returncode, done.stdout) == (rc, out), done.stderr[-2000:]
            assert list(folder.iterdir()) == []
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def test_common_draws_check_fits_each_models_slope_above_its_floor_and_refuses_unknown_checks(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("common_draws_check", ROOT / "benchmarks" / "common_draws_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    t = 50.0 * np.arange(1, 201)
    floors = np.array([0.01, 0.2])
    curves = np.stack([f + 3.0 * t**-e for f, e in zip(floors, (0.5, 0.8))])
    above, raw = check._slopes(curves, floors)
    np.testing.assert_allclose(above, [0.5, 0.8], rtol=1e-9)
    assert np.all(raw < above)  # (a floor flattens the raw curve)
    from toyscale.sweep import Record
    kept, note = check._kept([Record(0, {}, True, {}), Record(1, {}, False, {})])
    assert kept.tolist() == [False, True] and note == " (1 diverged, left out)"
    assert check._kept([Record(0, {}, False, {})])[1] == ""
    for argv, message in ((["--checks", "ridge,bogus"], "'bogus' is not one; name one or more of ridge, gd, time512"),
                          (["--checks", ""], "name one or more of"),
                          (["--checks", "time512", "--seeds", "1"], "--seeds 1: at least 2"),
                          (["--checks", "regimes", "--sweeps", "1"], "--sweeps 1: at least 2")):
        with pytest.raises(SystemExit):
            check.main(argv)
        assert message in capsys.readouterr().err
    # the regimes check: the quick preset at each sweep seed, each way, tabulated from the runs' summaries
    given = []

    def main(argv):
        given.append(argv)
        seed, shared = int(argv[argv.index("--seed") + 1]), "--set" in argv
        names = ("resolution_N", "resolution_T", "variance_N", "variance_T")
        # (variance_T's standard errors 0.04, 0.08, 0.12: mean 0.080, rms 0.086; each name its own scale)
        return {"exponents": {k: 0.5 + 0.1 * i + 0.01 * seed + 0.1 * shared for i, k in enumerate(names)},
                "exponent_stderr": {k: 0.01 * (seed + 1) * (i + 1) for i, k in enumerate(names)},
                "exponent_seed_interval": {k: [0.0, 3.92 * (0.03 if shared else 0.01) * (1 + 3 * (seed == 2)) * (i + 1)]
                                           for i, k in enumerate(names)}}

    monkeypatch.setattr(check, "_random_features_script", lambda: types.SimpleNamespace(main=main))
    check.main(["--checks", "regimes", "--sweeps", "3"])
    printed = capsys.readouterr().out
    assert [a[a.index("--seed") + 1] for a in given] == ["0", "1", "2"] * 2
    assert all(a[:2] == ["--preset", "quick"] for a in given)
    assert [a[-2:] for a in given[3:]] == [["--set", 'rf.common_across=["N", "T"]']] * 3 and "--set" not in given[0]
    row = next(line for line in printed.splitlines() if line.strip().startswith("variance_T"))
    # (root mean squares: an sd to set against the seeds' sd; a plain mean of sds falls short of it)
    assert ("[]: 0.8100 ± 0.0058 (sd 0.010, fit se rms 0.086, seed redraw rms 0.098)  ['N', 'T']: 0.9100 ± 0.0058 "
            "(sd 0.010, fit se rms 0.086, seed redraw rms 0.294)") in row, row


def test_superposition_common_draws_tabulates_the_headline_runs_with_root_mean_squares(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("superposition_common_draws",
                                                  ROOT / "benchmarks" / "superposition_common_draws.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    given = []

    def main(argv):
        given.append(argv)
        seed, shared = int(argv[argv.index("--seed") + 1]), "--set" in argv

        def each(value):  # (each regime and distribution its own scale: 1 to 6)
            names = ("exponential", "power", "linear")
            return {regime: {name: value((j + 1) * (i + 1)) for i, name in enumerate(names)}
                    for j, regime in enumerate(("weak", "strong"))}

        # (strong power's standard errors 0.04, 0.08, 0.12: mean 0.080, rms 0.086)
        return {"exponents": each(lambda s: 0.25 * s + 0.01 * seed + 0.1 * shared),
                "exponent_stderr": each(lambda s: 0.01 * (seed + 1) * s), "r2": each(lambda s: 1 - 0.01 * s),
                "exponent_seed_interval": each(lambda s: [0.0, 3.92 * 0.01 * (1 + 3 * (seed == 2)) * s])}

    script = types.SimpleNamespace(main=main, REGIMES={"weak": 1.0, "strong": -1.0})
    monkeypatch.setattr(check, "_script", lambda: script)
    check.main(["--checks", "headline", "--seeds", "3"])
    printed = capsys.readouterr().out
    assert [a[a.index("--seed") + 1] for a in given] == ["0", "1", "2"] * 2
    shared = ["--set", 'train.common_across=["m", "lr_w", "lr_b"]']
    assert all("--set" not in a for a in given[:3]) and all(a[-2:] == shared for a in given[3:])
    row = next(line for line in printed.splitlines() if line.strip().startswith("strong power"))
    assert ("independent: 1.0100 ± 0.0058 (sd 0.010, fit se rms 0.086, seed redraw rms 0.098, R^2 0.960)  "
            "shared: 1.1100 ± 0.0058 (sd 0.010, fit se rms 0.086, seed redraw rms 0.098, R^2 0.960)") in row, row


def test_precision_check_does_not_pass_a_change_it_cannot_weigh(monkeypatch, capsys):
    # float32's standard error NaN (too few widths): a change of 0.5 had passed the rule
    spec = importlib.util.spec_from_file_location("precision_check", ROOT / "benchmarks" / "precision_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)

    def run(name, precision, out, seed, preset="quick", overrides=()):
        a = {"float32": 1.0, "bfloat16": 1.5, "tensorfloat32": 1.0}[precision]
        se = float("nan") if precision == "float32" else 0.01
        return {"alpha_m": [[a]], "alpha_m_stderr": [[se]], "gamma": [-1.0], "alpha": [1.0]}, 0.0

    monkeypatch.setattr(check, "run", run)
    res = check.main(["--experiments", "phase_diagram"])
    against = res["phase_diagram"]["against"]
    assert (against["bfloat16"]["within"], against["bfloat16"]["unweighed"]) == (False, 1)
    assert (against["tensorfloat32"]["within"], against["tensorfloat32"]["unweighed"]) == (True, 0)  # (no change)
    assert not check.passed(res) and "bfloat16 NO, tensorfloat32 yes" in capsys.readouterr().out
    assert not check.passed({"x": {"against": {"bfloat16": {"within": False}}}})
    with pytest.raises(SystemExit):
        check.main(["--precisions", "float16"])


def test_precision_check_saves_each_run_before_the_next(monkeypatch, tmp_path):
    # a time limit ending the third run had lost the first two (the JSON was written at the end)
    spec = importlib.util.spec_from_file_location("precision_check", ROOT / "benchmarks" / "precision_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)

    def run(name, precision, out, seed, preset="quick", overrides=()):
        if precision == "tensorfloat32":
            raise KeyboardInterrupt  # (the time limit)
        return {"alpha_m": [[1.25]], "alpha_m_stderr": [[0.5]], "gamma": [-1.0], "alpha": [1.0]}, 2.0

    monkeypatch.setattr(check, "run", run)
    with pytest.raises(KeyboardInterrupt):
        check.main(["--experiments", "phase_diagram", "--json", str(tmp_path / "c.json")])
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["complete"] is False
    assert saved["experiments"]["phase_diagram"]["exponents"] == {
        p: {"gamma=-1.00 alpha=1.00": [1.25, 0.5]} for p in ("float32", "bfloat16")}
    assert saved["experiments"]["phase_diagram"]["seconds"] == {"float32": 2.0, "bfloat16": 2.0}


def test_a_huge_int_for_a_float_setting_is_a_usage_error(capsys):
    from toyscale.runner import experiment_args

    with pytest.raises(SystemExit) as exit_:
        experiment_args("demo", "", {"quick": {"lr": 0.5}}, ["--set", "lr=" + "1" * 400])
    assert exit_.value.code == 2 and "--set lr=111" in capsys.readouterr().err


# what a mutation review of runner.py and the scripts found unguarded
def test_seed_2_to_the_32_is_a_usage_error(capsys):
    from toyscale.runner import experiment_args

    presets = {"quick": {"seeds": 2}}
    assert experiment_args("demo", "", presets, ["--seed", str(2**32 - 1)]).seed == 2**32 - 1
    with pytest.raises(SystemExit) as exit_:
        experiment_args("demo", "", presets, ["--seed", str(2**32)])
    assert exit_.value.code == 2
    assert f"--seed {2**32}: must be in [0, 2**32 - 1]" in capsys.readouterr().err


def test_a_setting_too_large_to_use_is_a_usage_error(capsys):
    # seeds=1e20 reached range() as an int: an OverflowError traceback, not a usage error
    with pytest.raises(SystemExit) as exit_:
        load("phase_diagram").main(["--preset", "smoke", "--set", "seeds=1e20", "--out", "unused"])
    assert exit_.value.code == 2
    assert "preset 'smoke' with --set seeds=1e20: " in capsys.readouterr().err


def test_a_bool_setting_given_as_a_number_is_a_change():
    # 1 == True in Python, but --set flag=1 is not the preset's flag=true: it must not land in
    # the preset's folder (nor in figures/)
    from toyscale.runner import experiment_args

    presets = {"quick": {"train": {"n": 8}, "flag": True, "count": 1}}
    args = experiment_args("demo", "", presets, ["--set", "flag=1", "--set", "count=true"])
    assert args.settings["flag"] == 1 and args.settings["count"] is True
    assert args.out == os.path.join("runs", "demo-quick-count=true-flag=1") and args.figures == args.out


def test_long_overrides_that_share_a_prefix_get_different_folders():
    from toyscale.runner import experiment_args

    presets = {"quick": {"seeds": 2}}
    a = experiment_args("demo", "", presets, ["--set", f"seeds={list(range(100))}"])
    b = experiment_args("demo", "", presets, ["--set", f"seeds={list(range(99)) + [1000]}"])
    assert a.out != b.out
    assert len(os.path.basename(a.out)) < 120 and len(os.path.basename(b.out)) < 120
    # the name such a run has always had (the digest of the file-name-safe text), so it resumes
    import hashlib
    import re

    safe = re.sub(r"[^A-Za-z0-9._=+-]", "_", f"seeds={list(range(100))}")
    assert a.out == os.path.join("runs", f"demo-quick-{safe[:80]}-{hashlib.sha256(safe.encode()).hexdigest()[:12]}")


def test_values_that_differ_only_in_unsafe_characters_get_different_folders():
    # both become "tag=a_b" once made file-name safe; the digest of the full text tells them apart
    from toyscale.runner import experiment_args

    presets = {"quick": {"tag": "x", "seeds": 2}}
    folders = [experiment_args("demo", "", presets, ["--set", f"tag={v}"]).out for v in ("a b", "a/b", "a_b")]
    assert len(set(folders)) == 3
    assert all(f.startswith(os.path.join("runs", "demo-quick-tag=a_b")) and " " not in f for f in folders)
    assert folders[2] == os.path.join("runs", "demo-quick-tag=a_b")  # a safe value keeps its plain name
    # ... and so does a list or an object, written as JSON (one spelling per value): as before
    listed = experiment_args("demo", "", presets, ["--set", "seeds=[4,8]"]).out
    assert listed == os.path.join("runs", "demo-quick-seeds=_4__8_")
    assert experiment_args("demo", "", presets, ["--set", 'tag=["a b"]']).out != \
        experiment_args("demo", "", presets, ["--set", 'tag=["a/b"]']).out


def test_a_fractional_value_for_an_int_setting_is_not_truncated():
    # --set train.n=8.5 must reach the config (which refuses it), not become the preset's 8
    from toyscale.runner import experiment_args

    presets = {"quick": {"train": {"n": 8}, "seeds": 2}}
    args = experiment_args("demo", "", presets, ["--set", "train.n=8.5"])
    assert args.settings["train"]["n"] == 8.5 and args.out != os.path.join("runs", "demo-quick")


def test_the_sweep_gets_the_seed_folder_and_progress_setting(tmp_path):
    from toyscale.runner import experiment_args, run_experiment_sweep

    calls = []

    def sweep(*a, **kw):
        calls.append((a, kw))
        return "done"

    for argv, progress in ((["--no-progress"], False), ([], True)):
        args = experiment_args("demo", "", {"quick": {"seeds": 2}}, ["--seed", "7", "--out", str(tmp_path), *argv])
        assert run_experiment_sweep(args, sweep, "cfg", memory_budget=5) == "done"
        assert calls[-1] == (("cfg",), {"seed": 7, "out": os.path.join(str(tmp_path), "sweep"), "progress": progress,
                                       "memory_budget": 5})


def test_finish_writes_strict_json_atomically(tmp_path, capsys):
    import json

    import numpy as np

    from toyscale.runner import experiment_args, finish

    args = experiment_args("demo", "", {"quick": {"seeds": 2}}, ["--out", str(tmp_path)])
    summary = finish(args, "demo", {"alpha_m": [[np.nan, 1.5]], "r2": np.float32(0.5)})
    text = (tmp_path / "summary.json").read_text()
    on_disk = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert on_disk["alpha_m"] == [[None, 1.5]] and on_disk["r2"] == 0.5
    assert on_disk["experiment"] == "demo" and on_disk["preset"] == "quick" and on_disk["seed"] == 0
    assert on_disk["settings"] == {"seeds": 2} and on_disk["wall_seconds"] == summary["wall_seconds"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]  # no temp file left behind
    assert f"wrote {tmp_path / 'summary.json'}" in capsys.readouterr().out


def test_prepare_gets_a_copy_of_the_settings():
    # what prepare() does to its dict must not change the settings the summary records
    from toyscale.runner import experiment_args

    def prepare(s):
        s["train"]["n"] = 999
        s.pop("seeds")
        return "plan"

    args = experiment_args("demo", "", {"quick": {"train": {"n": 8}, "seeds": 2}}, [], prepare=prepare)
    assert args.plan == "plan" and args.settings == {"train": {"n": 8}, "seeds": 2}


def test_superposition_scaling_reports_the_exponents_of_its_curves(tmp_path, monkeypatch):
    # the sweep replaced by exact power laws L = C m^-a: the summary must give back each
    # (regime, distribution)'s a, and strong_below_weak must compare the two regimes' losses
    module = load("superposition_scaling")
    slope = {("strong", "exponential"): 1.0, ("strong", "power"): 1.25, ("strong", "linear"): 0.75,
             ("weak", "exponential"): 0.5, ("weak", "power"): 0.25, ("weak", "linear"): 1.5}
    regime_of = {g: r for r, g in module.REGIMES.items()}

    def fake_sweep(config, points, *, seed, out, progress):
        kind = {"exponential": "exponential", "power_law": "power", "linear": "linear"}
        records = []
        for i, p in enumerate(json.loads(json.dumps(points))):
            a = slope[regime_of[p["gamma"]], kind[p["frequencies"]["kind"]]]
            c = 2.5 if regime_of[p["gamma"]] == "weak" else 1.0
            records.append(Record(i, p, False, {"test_loss": np.float64(c * p["m"] ** -a)}))
        return SweepResult(records=records, manifest={"points": points}, stats={})

    monkeypatch.setattr(module, "sweep_superposition", fake_sweep)
    summary = module.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                           "--no-progress"])
    for (regime, name), a in slope.items():
        assert summary["exponents"][regime][name] == pytest.approx(a, abs=1e-6), (regime, name)
        assert summary["fit_range"][regime][name] == [3, 6]
    # strong is 1 * m^-a, weak 2.5 * m^-a': below at every width for the exponential and power
    # law; the linear's is below at m = 3 (0.44 < 0.48) but not at m = 6 (0.26 > 0.17)
    assert summary["strong_below_weak"] == {"exponential": True, "power": True, "linear": False}


def test_paper_presets_are_the_published_settings():
    # /work/shared/reference/superposition.md, "Sweeps in the paper"
    pd = load("phase_diagram").PRESETS["paper"]
    geometry = load("geometry").PRESETS["paper"]  # the same small models (Figs. 4-6)
    assert geometry["train"] == pd["train"] and geometry["widths"] == pd["widths"] and geometry["lr"] == pd["lr"]
    ad = load("activation_density")  # and the activation-density study: alpha = 1, s in linspace(0, 1, 9)
    train = dict(ad.PRESETS["paper"]["train"])
    assert (train.pop("sampler"), train.pop("max_rate")) == ("auto", 10.0) and train == pd["train"]
    np.testing.assert_allclose(ad.PRESETS["paper"]["s"], np.linspace(0, 1, 9))
    assert ad.PRESETS["paper"]["alpha"] == 1.0 and ad.PRESETS["paper"]["widths"] == pd["widths"]
    # E runs from 1 to 1/p_1 = H_1000 = 7.485 ("about 7.5 at n = 1000"), p_1 = 1 at s = 1
    config, specs, points = ad.prepare(ad.PRESETS["paper"])
    # the sparse sampler draws every density but s = 1's (p_1 = 1), one program per width and sampler
    from toyscale.train import SuperpositionTask

    drawn = {(p["m"], p["frequencies"]["E"]): SuperpositionTask(config).static_of(p)[1] for p in points}
    assert drawn == {(m, f.E): "dense" if f is specs[-1] else "sparse" for m in pd["widths"] for f in specs}
    harmonic = np.sum(1.0 / np.arange(1, 1001))
    np.testing.assert_allclose([f.E for f in specs], 1 + np.linspace(0, 1, 9) * (harmonic - 1), rtol=1e-12)
    assert specs[-1].probs(1000).max() == pytest.approx(1.0, abs=1e-15)
    assert pd["train"] == {"n": 1000, "batch": 2048, "steps": 20_000, "warmup": 2_000, "test_batches": 100,
                                "log_every": 100}
    assert pd["widths"] == [int(v) for v in np.floor(np.exp(np.linspace(np.log(10), np.log(100), 6)))] \
        == [10, 15, 25, 39, 63, 100]
    np.testing.assert_allclose(pd["gammas"], np.linspace(-1, 1, 10))
    np.testing.assert_allclose(pd["alphas"], np.linspace(0, 2, 17))
    assert pd["lr"] == 1e-2
    ss = load("superposition_scaling")
    pre = ss.PRESETS["paper"]
    train = pre["train"]
    assert (train["n"], train["batch"], train["steps"]) == (10240, 2048, 20_000)
    assert train["warmup"] == 0.05 * train["steps"]
    assert pre["widths"] == [2**k for k in range(3, 11)] and pre["tau"] == 400.0
    assert ss.REGIMES == {"strong": -1.0, "weak": 0.1}
    for m in pre["widths"]:
        assert ss.lr_w(m) == pytest.approx(0.02 * (8 / m) ** 0.25) and ss.lr_b(m) == pytest.approx(2.0 / m)
    _, distributions, _ = ss.prepare(pre)
    assert {k: v.describe() for k, v in distributions.items()} == {
        "exponential": {"kind": "exponential", "E": 1.0, "tau": 400.0},
        "power": {"kind": "power_law", "E": 1.0, "alpha": 1.2},
        "linear": {"kind": "linear", "E": 1.0}}


def test_the_headline_study_reports_a_curve_it_cannot_fit_and_fits_the_others(tmp_path, monkeypatch, capsys):
    # made-up records: every strong/linear model diverged, and a weak/power model's loss is
    # exactly 0 (a tiny test batch can give that); both curves are reported, not raised, and the
    # summary and figure still written
    module = load("superposition_scaling")

    def fake_sweep(config, points, *, seed, out, progress):
        records = []
        for i, p in enumerate(json.loads(json.dumps(points))):
            kind = p["frequencies"]["kind"]
            bad = p["gamma"] < 0 and kind == "linear"
            loss = np.nan if bad else 0.0 if (p["gamma"] > 0 and kind == "power_law" and p["m"] == 4) else p["m"] ** -1.1
            records.append(Record(i, p, bad, {"test_loss": np.float64(loss), "empty_loss": np.float64(9.0)}))
        return SweepResult(records=records, manifest={"points": points}, stats={})

    monkeypatch.setattr(module, "sweep_superposition", fake_sweep)
    summary = module.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                           "--no-progress"])
    printed = capsys.readouterr().out
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["exponents"]["strong"]["linear"] is None and on_disk["exponents"]["weak"]["power"] is None
    assert re.search(r"strong linear +alpha_m not fitted: 0 width\(s\) with a finite loss", printed)
    assert re.search(r"weak power +alpha_m not fitted: the mean is 0 \(<= 0\) at m = 4; L = C m\^-a is fitted", printed)
    fitted = [(r, d) for r in ("strong", "weak") for d in ("exponential", "power", "linear")
              if (r, d) not in (("strong", "linear"), ("weak", "power"))]
    assert all(summary["exponents"][r][d] == pytest.approx(1.1) for r, d in fitted)
    assert on_disk["strong_below_weak"]["linear"] is None  # (no width has both)
    assert list((tmp_path / "fig").glob("*.png"))


def test_phase_diagram_leaves_a_cell_with_too_few_finite_widths_unfitted(tmp_path, monkeypatch, capsys):
    # the sweep replaced by made-up records: in the (gamma=1, alpha=1.5) cell the m = 6 model
    # diverged, leaving 2 widths: too few for a fit with errors (nan, counted in the printout)
    module = load("phase_diagram")

    def fake_sweep(config, points, *, seed, out, progress):
        records = []
        for i, p in enumerate(json.loads(json.dumps(points))):
            a = 1.0 + p["frequencies"]["alpha"] - 0.25 * p["gamma"]
            bad = p["gamma"] == 1.0 and p["frequencies"]["alpha"] == 1.5 and p["m"] == 6
            loss = np.nan if bad else p["m"] ** -a * (1.0 + 0.05 * (p["m"] == 4))  # not an exact power law
            records.append(Record(i, p, bad, {"test_loss": np.float64(loss), "phi_half": np.float64(p["m"] / 32)}))
        return SweepResult(records=records, manifest={"points": points}, stats={})

    monkeypatch.setattr(module, "sweep_superposition", fake_sweep)
    summary = module.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                           "--no-progress"])
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["alpha_m"][1][1] is None and on_disk["r2"][1][1] is None
    assert "nan: 1 cell(s) had fewer than 3 widths with a finite loss" in capsys.readouterr().out
    for i, gamma in enumerate((-1.0, 1.0)):
        for j, alpha in enumerate((0.5, 1.5)):
            if (i, j) != (1, 1):
                assert 0.99 < summary["r2"][i][j] < 1.0  # the fit's R^2, not another of its numbers
                assert summary["alpha_m"][i][j] == pytest.approx(1.0 + alpha - 0.25 * gamma, abs=0.1)
    assert on_disk["phi_half"][1][1] == [3 / 32, 4 / 32, None]  # the diverged model's phi left out


def test_random_features_theory_error_is_relative_to_the_theory_off_the_peak(random_features_smoke):
    # recomputed from the sweep on disk: |mean over seeds / theory - 1| at the points whose N
    # and T differ by a factor 2 or more (the docstring's "at least a factor 2 from the peak")
    from toyscale import random_features as rf
    from toyscale.theory import expected_test_loss

    out, _ = random_features_smoke
    summary = json.loads((out / "summary.json").read_text())
    groups = {}
    for r in load_sweep(out / "sweep"):
        if not r.diverged:
            p = {k: v for k, v in r.point.items() if k != "seed"}
            groups.setdefault(json.dumps(p, sort_keys=True), (p, []))[1].append(float(r["test_loss"]))
    points = [p for p, _ in groups.values() if max(p["N"], p["T"]) >= 2 * min(p["N"], p["T"])]
    assert any(max(p["N"], p["T"]) == 2 * min(p["N"], p["T"]) for p in points)  # the boundary is in the grid
    mean = np.array([np.mean(groups[json.dumps(p, sort_keys=True)][1]) for p in points])
    cfg = rf.RFConfig(**load("random_features").PRESETS["smoke"]["rf"])
    rel = np.abs(mean / expected_test_loss(cfg, points) - 1)
    assert summary["theory_points"] == len(points)
    assert summary["theory_rel_error_median"] == pytest.approx(np.median(rel), rel=1e-9)
    assert summary["theory_rel_error_max"] == pytest.approx(np.max(rel), rel=1e-9)


def test_phase_interval_check_counts_cells_each_way_round(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("phase_interval_check", ROOT / "benchmarks" / "phase_interval_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    base = dict(experiment="phase_diagram", preset="quick", gamma=[-1.0, 1.0], alpha=[1.0, 2.0], m=[3, 4, 6])
    runs = {
        "a": dict(base, seed=0, alpha_m=[[1.0, 2.0], [0.1, 0.5]],
                  alpha_m_t_interval=[[[0.5, 1.5], [1.0, 3.0]], [[0.0, 0.2], [0.45, 0.55]]],
                  alpha_m_seed_interval=[[[0.9, 1.1], [1.9, 2.1]], [[0.0, 0.3], [float("nan")] * 2]]),
        "b": dict(base, seed=1, alpha_m=[[1.2, 2.5], [0.25, 0.9]],
                  alpha_m_t_interval=[[[1.1, 1.3], [2.4, 2.6]], [[0.0, 0.5], [0.0, 1.0]]],
                  alpha_m_seed_interval=[[[0.0, 2.0], [2.0, 3.0]], [[0.2, 0.3], [0.8, 1.0]]]),
    }
    for name, summary in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    out = check.main([str(tmp_path / "a"), str(tmp_path / "b")])
    # a's t-intervals hold b's values in cells (0,0) and (0,1); b's hold a's in (1,0) and (1,1)
    assert out["alpha_m_t_interval"] == [2, 4, 2, 4]
    # a's seed intervals hold b's in (1,0) only, and (1,1) is undefined; b's hold a's in (0,0) and (0,1)
    assert out["alpha_m_seed_interval"] == [1, 3, 2, 4]
    assert out["max_difference"] == pytest.approx(0.5)
    printed = capsys.readouterr().out
    assert "max 0.50 (alpha >= 1.5: 0.50, alpha < 1.5: 0.20)" in printed
    (tmp_path / "b" / "summary.json").write_text(json.dumps(dict(runs["b"], seed=0)))
    with pytest.raises(SystemExit, match="both runs have seed 0"):
        check.main([str(tmp_path / "a"), str(tmp_path / "b")])


# mutants: sd with ddof=0; the t multiplier of the normal (1.96); an interval holding the mean counted outside;
def test_fit_calibration_study_7_redraws_uneven_counts_as_width_exponent_does():
    # its uneven rows: redraw_table's intervals about as wide as width_exponent's, which widens each width by its
    # own count (1.00-1.09 here; drawn each width's own count, the 8- and 32-seed widths had made them 1.11-1.21 x)
    spec = importlib.util.spec_from_file_location("fit_calibration", ROOT / "benchmarks" / "fit_calibration.py")
    calibration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calibration)
    rows = calibration.redraw_table_study(20, 100, 0)
    assert [r["seeds"] for r in rows] == [2, 4, 8] * 2 + [[8, 8, 2, 2, 2], [2, 2, 2, 8, 8], [32, 11, 2, 2, 2]]
    assert all(r["widths"] == [8, 16, 32, 64, 128] for r in rows[3:])
    ratios = [r["median_half_width"] / r["width_exponent_median_half_width"] for r in rows[6:]]
    assert all(0.9 < x < 1.1 for x in ratios), ratios
    # widen="t": the regression on the draws finds the degrees of freedom width_exponent's closed form does, so
    # the two stretch alike (0.91-1.08 here), wider than the plain intervals on every row
    ratios = [r["median_half_width_welch"] / r["width_exponent_median_half_width_welch"] for r in rows]
    assert all(0.85 < x < 1.15 for x in ratios), ratios
    assert all(0.8 < r["dof_ratio"][1] < 1.25 for r in rows), [r["dof_ratio"] for r in rows]
    assert all(r["median_half_width_welch"] > r["median_half_width"] for r in rows)


# mutants: study 8's bend left out of the curves (or of the paired ones), or its rejections counted at p > 0.05
def test_fit_calibration_study_8_rejects_straight_curves_rarely_and_bent_ones_as_the_seeds_allow():
    spec = importlib.util.spec_from_file_location("fit_calibration", ROOT / "benchmarks" / "fit_calibration.py")
    calibration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calibration)
    rows = calibration.lack_of_fit_study(40, 0)
    assert [(len(r["widths"]), r["seeds"], r["bend"], r.get("paired", False)) for r in rows] == [
        (n, k, b, False) for n in (3, 5) for k in (2, 4, 8) for b in (0.0, 0.1, 0.3)] + [
        (5, k, b, True) for k in (2, 4, 8) for b in (0.0, 0.1)]
    straight = [r["rejected"] for r in rows if r["bend"] == 0.0]
    assert max(straight) <= 0.15, straight  # (5 % expected; 0-6 % at 400 curves a row)
    for strongest in (rows[17], rows[-1]):  # five widths, eight seeds, bent 0.3 (0.1 where paired): beyond the noise
        assert strongest["rejected"] == 1.0 and strongest["median_ratio"] > 10


# plain means of the runs' sds (short of the sd they estimate) for the root mean squares
def test_seed_spread_compares_the_seeds_spread_with_each_runs_error_bars(tmp_path, capsys):
    from scipy import stats

    spec = importlib.util.spec_from_file_location("seed_spread", ROOT / "benchmarks" / "seed_spread.py")
    spread = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(spread)
    fitted = [1.30, 1.25, 1.36, 1.22, 1.28]
    # the fourth run redrew nothing (no seed_interval), the fifth's redraw gave none (written [null, null])
    intervals = [[1.25, 1.30], [1.20, 1.29], [1.31, 1.40], None, [None, None]]
    settings = {"lr": 0.1, "widths": [16, 32]}
    for s, (x, iv) in enumerate(zip(fitted, intervals)):
        (tmp_path / f"s{s}").mkdir()
        # (the fourth run's fit gave no standard error: written null)
        exponents = {"floor": {"fitted": x, "stderr": None if s == 3 else 0.01 * (s + 1)},
                     "P": {"fitted": None if s else 0.6}}
        if iv is not None:
            exponents["floor"]["seed_interval"] = iv
        if s == 4:
            # (a row the first run lacks is still listed; a long name widens the first column)
            exponents["late_above_floor"] = {"fitted": 0.5, "stderr": 0.1}
        (tmp_path / f"s{s}" / "summary.json").write_text(json.dumps(
            {"experiment": "plrf_frontier", "preset": "quick", "settings": settings, "seed": s,
             "exponents": exponents}))
    folders = [str(tmp_path / f"s{s}") for s in range(5)]
    table = spread.main(folders)
    floor = table["floor"]
    mean, sd = np.mean(fitted), np.std(fitted, ddof=1)
    half = stats.t.ppf(0.975, 4) * sd / np.sqrt(5)
    assert floor["mean"] == pytest.approx(mean) and floor["sd"] == pytest.approx(sd)
    assert floor["se"] == pytest.approx(sd / np.sqrt(5))
    assert floor["t_interval"] == pytest.approx([mean - half, mean + half])
    rms_se, rms_redraw = np.sqrt(np.mean(np.square([0.01, 0.02, 0.03, 0.05]))), np.sqrt(
        np.mean(np.square([0.05, 0.09, 0.09]))) / 3.92
    assert floor["rms_stderr"] == pytest.approx(rms_se) and rms_se > 0.031  # (their plain mean: 0.0275)
    assert floor["stderr_range"] == pytest.approx([0.01, 0.05])
    assert floor["redraw_sd"] == pytest.approx(rms_redraw)
    assert floor["redraw_range"] == pytest.approx([0.05 / 3.92, 0.09 / 3.92])
    assert (floor["held"], floor["with_interval"]) == (2, 3)  # (the mean 1.282 inside the first two)
    assert table["P"] == {"seeds": [0], "fitted": [0.6]}
    assert table["late_above_floor"] == {"seeds": [4], "fitted": [0.5]}
    printed = capsys.readouterr().out
    assert "plrf_frontier, preset quick, 5 runs (seeds 0, 1, 2, 3, 4)" in printed
    assert (f"floor               5   1.282 ± {sd / np.sqrt(5):.3f}  [{mean - half:.3f}, {mean + half:.3f}]  {sd:.4f}"
            f"    {rms_se:.4f} (0.010-0.050)"
            f"              {rms_redraw:.4f} (0.013-0.023)        2 of 3") in printed, printed
    assert "\nlate_above_floor    1 (fewer than two runs fitted it)" in printed
    assert "\nexponent         runs       mean ± se" in printed
    assert "floor: 1.300, 1.250, 1.360, 1.220, 1.280" in printed
    # runs of another experiment, preset or settings, or a seed twice, are not estimates of one exponent
    first = json.loads((tmp_path / "s0" / "summary.json").read_text())
    for field, value in (("experiment", "compute_optimal"), ("preset", "smoke"), ("settings", {"lr": 0.2})):
        (tmp_path / "s4" / "summary.json").write_text(json.dumps(dict(first, seed=4, **{field: value})))
        with pytest.raises(SystemExit, match=f"the runs differ in {field}"):
            spread.main(folders)
    (tmp_path / "s4" / "summary.json").write_text(json.dumps(first))
    with pytest.raises(SystemExit, match=r"seeds \[0, 1, 2, 3, 0\]: a seed twice"):
        spread.main(folders)
    with pytest.raises(SystemExit, match=r"nothing/summary.json: no such file \(run experiments/compute_optimal.py"):
        spread.main([str(tmp_path / "s0"), str(tmp_path / "nothing")])


def _width_noise():
    spec = importlib.util.spec_from_file_location("width_noise", ROOT / "benchmarks" / "width_noise.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# mutants: the leverages left out of the pooled standard error (or 1/n of them); the slope's weights of an
# intercept-free fit; a plain mean of the runs' standard errors; ddof=0 over runs or over a run's models
def test_width_noise_predicts_the_slopes_spread_and_what_its_pooled_standard_error_sees():
    noise = _width_noise()
    rng = np.random.default_rng(7)
    widths = [16, 32, 64, 128, 256, 512]

    def runs(sigmas, count=3000, models=3):
        return [{w: np.exp(-np.log(w) + s * rng.standard_normal(models)) for w, s in zip(widths, sigmas)}
                for _ in range(count)]

    # Equal noise at every width: the slope's sd, the sd the widths predict and the pooled standard error agree.
    even = noise.width_noise(runs([0.1] * 6))
    assert np.mean(even["slopes"]) == pytest.approx(-1, abs=0.01)
    assert even["predicted_sd"] == pytest.approx(even["slope_sd"], rel=0.05)
    assert even["pooled_se_expected"] == pytest.approx(even["predicted_sd"], rel=0.04)
    assert even["rms_stderr"] == pytest.approx(even["pooled_se_expected"], rel=0.05)
    # Four times the noise at the two smallest widths: the slope varies as the widths' sds predict, and the pooled
    # standard error stays as short as its formula says (0.81 of the slope's sd).
    data = runs([0.4, 0.4, 0.1, 0.1, 0.1, 0.1])
    uneven = noise.width_noise(data)
    assert uneven["predicted_sd"] == pytest.approx(uneven["slope_sd"], rel=0.05)
    assert uneven["rms_stderr"] == pytest.approx(uneven["pooled_se_expected"], rel=0.05)
    assert uneven["rms_stderr"] < 0.9 * uneven["slope_sd"]
    log_means = np.log([[np.mean(r[w]) for w in widths] for r in data])
    np.testing.assert_allclose(uneven["sd_log_mean"], log_means.std(axis=0, ddof=1), rtol=1e-9)
    np.testing.assert_allclose(uneven["slopes"], np.polyfit(np.log(widths), log_means.T, 1)[0], rtol=1e-9)
    assert uneven["slope_sd"] == pytest.approx(np.std(uneven["slopes"], ddof=1), rel=1e-12)
    weights = np.polyfit(np.log(widths), np.eye(6), 1)[0]  # (the slope's weight on each width's log mean)
    share = weights**2 * log_means.var(axis=0, ddof=1)
    np.testing.assert_allclose(uneven["slope_variance_share"], share / share.sum(), rtol=1e-9)
    # the delta method's standard error of a log mean from its own models: sd / (sqrt(k) mean)
    seed_se = [np.std(r[512], ddof=1) / (np.sqrt(3) * np.mean(r[512])) for r in data]
    assert uneven["rms_seed_se"][-1] == pytest.approx(np.sqrt(np.mean(np.square(seed_se))), rel=1e-9)
    assert uneven["rms_seed_se"][-1] == pytest.approx(0.1 / np.sqrt(3), rel=0.05)
    for bad in ([], [{1: [1.0, 2.0], 2: [1.0, 2.0], 4: [1.0, 2.0]}], [{1: [1.0, 2.0], 2: [1.0, 2.0]}] * 2,
                [{1: [1.0], 2: [1.0, 2.0], 4: [1.0, 2.0]}] * 2, [{1: [1.0, -2.0], 2: [1.0, 2.0], 4: [1.0, 2.0]}] * 2):
        with pytest.raises(ValueError, match="width_noise needs"):
            noise.width_noise(bad)


# mutants: the optimum's sqrt(cost) on the wrong side (k ~ a sd sqrt(c)); a width's sd not scaled to one model's
# (sqrt(k) left out); the predicted sd at the runs' own counts; the cost ratio inverted; rounding to at least 1
def test_width_noise_finds_the_seed_counts_that_make_the_slope_vary_least_for_its_cost():
    noise = _width_noise()
    rng = np.random.default_rng(11)
    widths = [16, 32, 64, 128, 256, 512]
    sigmas = [0.5, 0.4, 0.1, 0.1, 0.1, 0.1]  # one model's sd of its log loss at each width

    def runs(counts, number=3000):
        return [{w: np.exp(-np.log(w) + s * rng.standard_normal(k)) for w, s, k in zip(widths, sigmas, counts)}
                for _ in range(number)]

    out = noise.width_noise(runs([3] * 6))
    plan = noise.reallocate(out, [3.0] * 6)
    cost = np.asarray(widths, dtype=float)
    assert np.asarray(plan["optimum"]) @ cost == pytest.approx(3 * cost.sum(), rel=1e-9)  # the runs' own cost
    assert plan["seeds"] == [max(2, round(q)) for q in plan["optimum"]] and plan["seeds"][0] > plan["seeds"][-1]
    assert plan["cost_ratio"] == pytest.approx(np.asarray(plan["seeds"]) @ cost / (3 * cost.sum()), rel=1e-9)

    def predicted(counts):
        return noise.reallocate(out, [3.0] * 6, seeds=list(counts))["predicted_sd"]

    assert predicted([3] * 6) == pytest.approx(out["predicted_sd"], rel=1e-9)
    # the optimum (unrounded) against other counts at the same cost: none varies less
    a = np.abs(out["slope_weights"])
    model_var = np.asarray(out["sd_log_mean"]) ** 2 * 3

    def variance(q):
        return float((a**2 * model_var / q).sum())

    best = variance(np.asarray(plan["optimum"]))
    for _ in range(200):
        q = rng.uniform(0.2, 5, 6) * np.asarray(plan["optimum"])
        assert variance(q * (3 * cost.sum()) / (q @ cost)) >= best * (1 - 1e-12)
    # runs with the suggested counts: the slope varies as predicted, and less than with 3 at every width
    suggested = noise.width_noise(runs(plan["seeds"]))
    assert suggested["slope_sd"] == pytest.approx(plan["predicted_sd"], rel=0.05)
    assert plan["predicted_sd"] < 0.7 * out["slope_sd"]
    # at cost ~ width^0 every model costs the same: the optimum then follows |a_i| sd_i alone
    flat = noise.reallocate(out, [3.0] * 6, cost_power=0.0)
    share = a * np.asarray(out["sd_log_mean"])
    np.testing.assert_allclose(flat["optimum"], 18 * share / share.sum(), rtol=1e-9)
    assert flat["cost_ratio"] == pytest.approx(sum(flat["seeds"]) / 18, rel=1e-9)
    # a large cost power: the costs scaled, not overflowed (the widest keeps the runs' whole cost; the rest is free)
    steep = noise.reallocate(out, [3.0] * 6, cost_power=150.0)
    assert np.all(np.isfinite(steep["optimum"])) and steep["optimum"][-1] == pytest.approx(3.0)
    assert steep["seeds"][0] > 10**100 and steep["cost_ratio"] == pytest.approx(1.0)
    assert noise.reallocate(out, [3.0] * 6, seeds=[np.int64(3)] * 6)["cost_ratio"] == pytest.approx(1.0)
    for models, kwargs in (([3.0] * 5, {}), ([3.0] * 6, {"seeds": [2] * 5}), ([3.0] * 6, {"seeds": [2, 2, 2, 2, 2, 0]}),
                           ([3.0] * 6, {"cost_power": float("nan")}), ([3.0] * 6, {"seeds": [True] * 6}),
                           ([3.0] * 6, {"ran": [2.0] * 6}), ([3.0] * 6, {"ran": [3.0] * 5})):
        with pytest.raises(ValueError):
            noise.reallocate(out, models, **kwargs)


# mutants: the finite filter dropped (a NaN kept: the width's log mean NaN); a diverged model kept (or, with
# --keep-diverged, left out); the models a run had at a width averaged plainly (not harmonically); the runs' cost
# counting only the finished models; a field given twice to --where; an empty sweep taken for a failed --where
def test_width_noise_leaves_out_a_finished_models_non_finite_value(tmp_path, monkeypatch, capsys):
    import toyscale.sweep

    noise = _width_noise()

    def records(folder):  # (folder a: a NaN at N = 4; both: a diverged model at N = 16)
        out = []
        for i, (n, seed) in enumerate((n, seed) for n in (4, 8, 16) for seed in range(3)):
            value = np.nan if (n, seed) == (4, 0) and folder.endswith("a/sweep") else 10.0 / n + seed * (1 + n / 64)
            out.append(Record(i, {"N": n, "seed": seed}, (n, seed) == (16, 2), {"loss": np.float64(value)}))
        return out

    monkeypatch.setattr(toyscale.sweep, "load_sweep", records)
    for name, seed in (("a", 0), ("b", 1)):
        (tmp_path / name / "sweep").mkdir(parents=True)
        (tmp_path / name / "summary.json").write_text(json.dumps({"experiment": "compute_optimal", "preset": "smoke",
                                                                  "settings": {}, "seed": seed, "exponents": {}}))
    loaded, diverged, ran = noise.load(str(tmp_path / "a"), "loss", "N")
    assert diverged == 1 and sorted(loaded) == [4.0, 8.0, 16.0] and ran == {4.0: 3, 8.0: 3, 16.0: 3}
    np.testing.assert_array_equal(loaded[4.0], [10 / 4 + 1 * (1 + 4 / 64), 10 / 4 + 2 * (1 + 4 / 64)])  # (no NaN)
    np.testing.assert_array_equal(loaded[16.0], [10 / 16, 10 / 16 + 1.25])  # (the diverged model left out)
    # --keep-diverged: a diverged model's finite value kept (compute_optimal's ridgeless loss, which its fit keeps)
    kept, diverged, _ = noise.load(str(tmp_path / "a"), "loss", "N", keep_diverged=True)
    assert diverged == 1 and kept[16.0].size == 3 and kept[8.0].size == 3 and kept[4.0].size == 2
    out = noise.main([str(tmp_path / "a"), str(tmp_path / "b"), "--output", "loss"])
    # N = 4 had 2 and 3 models: a log mean's variance goes as the mean of 1/k, a harmonic mean of 2.4 models
    # (an end width: the middle one of three has no weight in the slope); every width ran 3 models a run
    want = noise.reallocate(out, [2.4, 3.0, 2.0], ran=[3.0, 3.0, 3.0])
    got = out["reallocation"]
    assert got["seeds"] == want["seeds"] and got["cost_ratio"] == pytest.approx(want["cost_ratio"], rel=1e-12)
    np.testing.assert_allclose(got["optimum"], want["optimum"], rtol=1e-12)
    assert got["predicted_sd"] == pytest.approx(want["predicted_sd"], rel=1e-12)
    assert want["cost_ratio"] != pytest.approx(noise.reallocate(out, [2.4, 3.0, 2.0])["cost_ratio"])
    with pytest.raises(SystemExit):
        noise.main([str(tmp_path / "a"), str(tmp_path / "b"), "--where", "N=4", "--where", "N=8"])
    assert "--where N=8: N is given twice; a point has one value of each field" in capsys.readouterr().err
    noise.main([str(tmp_path / "a"), str(tmp_path / "b"), "--output", "loss", "--keep-diverged"])
    assert "2 runs (seeds 0, 1): the mean loss at each N; 2 diverged model(s) kept" in capsys.readouterr().out
    # a sweep with no model yet (an interrupted run): no widths, said plainly
    monkeypatch.setattr(toyscale.sweep, "load_sweep", lambda folder: [])
    assert noise.load(str(tmp_path / "a"), "loss", "N") == ({}, 0, {})
    with pytest.raises(SystemExit, match=re.escape("0 width(s) where every run has 2 or more finite loss values")):
        noise.main([str(tmp_path / "a"), str(tmp_path / "b"), "--output", "loss"])


def test_width_noise_reads_the_runs_sweeps(tmp_path, capsys):
    from toyscale.random_features import RFConfig, random_feature_grid, sweep_random_features
    from toyscale.sweep import load_sweep

    noise = _width_noise()

    def run(name, seed, widths):
        folder = tmp_path / name
        points = random_feature_grid(N=widths, T=[128], alpha=[1.0], seeds=2, method="gd", steps=20, lr=0.5,
                                     infinite_time=True)
        points += random_feature_grid(N=[8], T=[128], alpha=[1.0], method="gd", steps=20, lr=1e4, infinite_time=True)
        sweep_random_features(RFConfig(M=64, test_samples=64, log_every=10), points, seed=seed,  # (lr=1e4 diverges)
                              out=str(folder / "sweep"), progress=False)
        (folder / "summary.json").write_text(json.dumps({"experiment": "compute_optimal", "preset": "smoke",
                                                         "settings": {"T": 128}, "seed": seed, "exponents": {}}))
        return str(folder)

    # the third run lacks N = 32: that width is left out, and named
    folders = [run("s0", 0, [4, 8, 16, 32]), run("s1", 1, [4, 8, 16, 32]), run("s2", 2, [4, 8, 16])]
    records = [load_sweep(f"{f}/sweep") for f in folders]
    assert [sum(r.diverged for r in run) for run in records] == [1, 1, 1]
    # N = 8 holds two points' models (lr 0.5 and 1e4): two curves, which one --where picks
    several = "s0/sweep: the records matching {} differ in ['lr'] at one width (lr: 0.5, 10000.0); only seeds are"
    with pytest.raises(SystemExit, match=re.escape(several) + ".*; pick one curve with --where FIELD=VALUE$"):
        noise.main(folders)
    pick = ["--where", "lr=0.5"]
    for output, last in (("loss_infinite_time", lambda v: v), ("loss_curve", lambda v: v[-1])):
        out = noise.main(folders + ["--output", output] + pick)
        means = np.log([[np.mean([last(r[output]) for r in run if r.point["N"] == n and r.point["lr"] == 0.5])
                         for n in (4, 8, 16)] for run in records])
        assert out["widths"] == [4.0, 8.0, 16.0]
        np.testing.assert_allclose(out["sd_log_mean"], means.std(axis=0, ddof=1), rtol=1e-9)
        np.testing.assert_allclose(out["slopes"], np.polyfit(np.log([4, 8, 16]), means.T, 1)[0], rtol=1e-9)
        printed = capsys.readouterr().out
        assert (f"compute_optimal, preset smoke, 3 runs (seeds 0, 1, 2): the mean {output} at each N, lr = 0.5; "
                f"left out (a run with fewer than 2 values there): 32") in printed
        assert f"sd over runs {out['slope_sd']:.4f}" in printed
        plan = out["reallocation"]
        assert plan == noise.reallocate(out, [2.0, 2.0, 2.0])
        assert (f"with seeds {', '.join(map(str, plan['seeds']))} at N = 4, 8, 16 (the least-variance counts, "
                f"rounded, at least 2): the slope's sd predicted {plan['predicted_sd']:.4f} (against "
                f"{out['predicted_sd']:.4f}), at {plan['cost_ratio']:.2f}x the runs' cost") in printed
    with pytest.raises(SystemExit):
        noise.main(folders[:1])
    assert "an sd over runs needs 2 or more" in capsys.readouterr().err
    for seeds, message in (("2,x,2", "must be comma-separated integers"), ("2,0,2", "every count must be at least 1")):
        with pytest.raises(SystemExit):
            noise.main(folders + pick + ["--seeds", seeds])
        assert f"--seeds {seeds}: {message}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        noise.main(folders + pick + ["--cost-power", "nan"])
    assert "--cost-power nan: must be a finite number" in capsys.readouterr().err
    chosen = noise.main(folders + pick + ["--seeds", "4,3,2", "--cost-power", "0"])["reallocation"]
    assert chosen["seeds"] == [4, 3, 2] and chosen["cost_ratio"] == pytest.approx(9 / 6)
    assert "with seeds 4, 3, 2 at N = 4, 8, 16: the slope's sd predicted" in capsys.readouterr().out
    # the lr = 1e4 curve alone: every model diverged, at N = 8 only
    with pytest.raises(SystemExit, match=re.escape("0 width(s) where every run has 2 or more finite")):
        noise.main(folders + ["--where", "lr=1e4"])
    for argv, message in (([folders[0], run("s3", 3, [4, 8])] + pick, "2 width(s) where every run has 2 or more "
                           "finite loss_infinite_time values; left out (a run with fewer than 2 values there): "
                           "16, 32; "),
                          (folders + ["--output", "nothing"], "no output 'nothing'"),
                          (folders + pick + ["--axis", "method"], "axis='method'; a point has method='gd'"),
                          (folders + pick + ["--axis", "infinite_time"], "a point has infinite_time=True"),
                          (folders + pick + ["--seeds", "2,2"], "--seeds 2,2: 2 count(s) for the 3 widths kept"),
                          (folders + ["--where", "lr=0.3"], "s0/sweep: no record matches {'lr': 0.3}: lr=0.3 matches "
                                                            "no record on its own; values in the 9 records: lr: 0.5, "
                                                            "10000.0"),
                          (folders + ["--where", "method.kind=gd"], "no point has the field(s) ['method.kind']")):
        with pytest.raises(SystemExit, match=re.escape(message)):
            noise.main(argv)
    (tmp_path / "s2" / "summary.json").write_text(json.dumps({"experiment": "compute_optimal", "preset": "smoke",
                                                               "settings": {"T": 64}, "seed": 2, "exponents": {}}))
    with pytest.raises(SystemExit, match="the runs differ in settings"):
        noise.main(folders + ["--output", "nothing"])  # (before any sweep is read)


# mutants: the compile seconds counted from the start of the run (not of each test); the per-file table summed
# over every file; a worker's log overwriting the other's; lowering counted as compiling; only the call timed;
# cache hits not counted; a folder's earlier logs summed with the new; the children's CPU time since the start
# (not the test's); the controller's collection logged (a third log file); no collection logged
def test_suite_compile_time_logs_each_tests_compilation_in_every_worker_and_sums_them(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("suite_compile_time", ROOT / "benchmarks" / "suite_compile_time.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    # each file's test_jit writes what JAX's own compile events said about its call: (count, seconds)
    header = textwrap.dedent("""\
        import json, os, time
        import jax, jax.numpy as jnp, pytest

        seen = []
        jax.monitoring.register_event_duration_secs_listener(
            lambda event, s, **_: seen.append(s) if event == "/jax/core/compile/backend_compile_duration" else None)


        @pytest.fixture
        def slow():
            time.sleep(0.3)
            yield
            time.sleep(0.3)


        def test_child():  # (first: a subprocess that spends 0.3 s of CPU)
            import subprocess, sys
            code = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.3: pass"
            subprocess.run([sys.executable, "-c", code], check=True)


        def test_jit(slow):
            before = len(seen)
            {body}
            with open(os.path.join(os.environ["SEEN"], __name__), "w") as f:
                json.dump([len(seen) - before, sum(seen[before:])], f)


        def test_nothing():
            pass
        """)
    cache = str(tmp_path / "cache")
    one = "jax.jit(lambda x: x * 2)(jnp.ones(3)).block_until_ready()"
    (tmp_path / "test_one.py").write_text(header.format(body=one))
    (tmp_path / "test_two.py").write_text(  # (a program compiled, then loaded from the persistent cache)
        f"CACHE = {cache!r}\n" + header.format(body=(
            "jax.config.update('jax_compilation_cache_dir', CACHE); "
            "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0); "
            "jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0); "
            "[(jax.jit(lambda x: x + 1)(jnp.ones(5)).block_until_ready(), jax.clear_caches()) for _ in range(2)]")))
    (tmp_path / "seen").mkdir()
    env = dict(os.environ, SUITE_COMPILE_LOG=str(tmp_path / "log"), PYTHONPATH=str(ROOT / "benchmarks"),
               JAX_PLATFORMS="cpu", SEEN=str(tmp_path / "seen"))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "suite_compile_time", "-n", "2",
           "--dist", "loadfile", "test_one.py", "test_two.py"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(list((tmp_path / "log").glob("tests-*.jsonl"))) == 2  # (one a worker: the controller runs no test)
    s = tool.main([str(tmp_path / "log")])
    printed = capsys.readouterr().out
    tests = {r["id"]: r for r in s["by_compile"]}
    assert sorted(tests) == [f"test_{f}.py::test_{t}" for f in ("one", "two") for t in ("child", "jit", "nothing")]
    for f in ("one", "two"):
        jit, nothing = tests[f"test_{f}.py::test_jit"], tests[f"test_{f}.py::test_nothing"]
        child = tests[f"test_{f}.py::test_child"]
        assert 0.3 <= child["subprocess_cpu_s"] < 0.3 + child["wall_s"] and jit["subprocess_cpu_s"] == 0
        count, seconds = json.loads((tmp_path / "seen" / f"test_{f}").read_text())
        assert (jit["compiles"], jit["compile_s"]) == (count, pytest.approx(seconds, rel=1e-9)) and count >= 1
        assert jit["lower_s"] > 0 and jit["wall_s"] >= 0.6 + jit["compile_s"]  # (the fixture's setup and teardown)
        assert (nothing["compiles"], nothing["compile_s"]) == (0, 0)  # (it ran after test_jit, in its process)
        assert s["files"][f"test_{f}.py"]["compile_s"] == pytest.approx(jit["compile_s"])
    assert tests["test_one.py::test_jit"]["cache_hits"] == 0 and tests["test_two.py::test_jit"]["cache_hits"] >= 1
    total = s["total"]
    assert total["tests"] == 6 and total["compiles"] == sum(r["compiles"] for r in tests.values())
    assert f"6 tests in 2 process(es): {total['wall_s']:.1f} s of tests" in printed
    assert f"the subprocesses they waited for took {total['subprocess_cpu_s']:.1f} s of CPU" in printed
    assert total["subprocess_cpu_s"] == pytest.approx(sum(r["subprocess_cpu_s"] for r in tests.values()))
    # each worker's collection (imports of its test file and JAX), none for the controller
    assert len(s["collection_s"]) == 2 and all(0 < c < 60 for c in s["collection_s"])
    assert f"collection (outside the tests): {', '.join(f'{c:.1f}' for c in s['collection_s'])} s in 2" in printed
    # a folder with a run's logs, the plugin without its folder, and a folder without logs: each says what to do
    again = subprocess.run(cmd[:8] + ["test_one.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode != 0 and "already holds 2 log(s) of an earlier run" in again.stderr
    env.pop("SUITE_COMPILE_LOG")
    again = subprocess.run(cmd[:8] + ["test_one.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode != 0 and "set SUITE_COMPILE_LOG to the folder its logs go to" in again.stderr
    with pytest.raises(SystemExit, match="no tests logged"):
        tool.main([str(tmp_path)])
    # an older version's log (no subprocess times, no collection): said so, and no zeros for the untimed
    (tmp_path / "old").mkdir()
    row = {"id": "test_a.py::test_x", "wall_s": 2.0, "compile_s": 1.0, "compiles": 3, "lower_s": 0.1, "trace_s": 0.1,
           "cache_hits": 0}
    (tmp_path / "old" / "tests-1.jsonl").write_text(json.dumps(row) + "\n")
    tool.main([str(tmp_path / "old")])
    printed = capsys.readouterr().out
    assert "subprocesses not timed (a log of an older version of this plugin)" in printed
    assert "collection" not in printed and re.search(r"test_a\.py +1 +2\.0 +1\.0 +50% +3 +0 +-\n", printed), printed


def test_geometry_summary_is_the_records_measures_and_the_weak_theory_of_their_phi(tmp_path, capsys):
    from toyscale.frequencies import power_law
    from toyscale.measure import random_overlap_moments, welch_bound
    from toyscale.theory import weak_superposition_loss

    summary, on_disk = run("geometry", tmp_path, "--set", "seeds=2")
    printed = capsys.readouterr().out
    records = load_sweep(tmp_path / "out" / "sweep")
    n = on_disk["n"]
    p = power_law(on_disk["alpha"]).probs(n)
    geometry = load("geometry")
    assert on_disk["gamma"] == [-1.0, 1.0] and set(on_disk["regimes"]) == {"-1", "1"}
    assert on_disk["norms_width"] == 4  # (the middle of widths 3, 4, 6: mutation check P5)
    welch_seen = overlap_seen = 0
    for key, regime in on_disk["regimes"].items():
        gamma = float(key)
        mine = [r for r in records if r.point["gamma"] == gamma]
        for k, m in enumerate(regime["m"]):
            at = [r for r in mine if r.point["m"] == m]
            assert len(at) == 2  # two seeds averaged
            assert regime["loss"][k] == pytest.approx(np.mean([r["test_loss"] for r in at]))
            top = np.mean([weak_superposition_loss(p, int(round(float(r["phi_half"]) * n))) for r in at])
            own = np.mean([4 / 3 * p[np.asarray(r["row_norms"]) <= 0.5].sum() for r in at])
            assert regime["weak_theory_top"][k] == pytest.approx(top)
            assert regime["weak_theory_own"][k] == pytest.approx(own)
            for key, want in (("own", own), ("top", top)):
                ratio = regime[f"loss_over_weak_theory_{key}"][k]
                assert (ratio == pytest.approx(regime["loss"][k] / want)) if want > 0 else np.isnan(ratio)
            assert regime["phi_half"]["value"][regime["phi_half"]["m"].index(m)] == pytest.approx(
                np.mean([r["phi_half"] for r in at]))
            # overlaps only of models with enough represented rows
            kept = [r["overlap_mean"] for r in at if r["n_represented"] >= geometry.MIN_ROWS]
            if kept:
                ov = regime["overlap_mean"]
                assert ov["value"][ov["m"].index(m)] == pytest.approx(np.mean(kept))
            else:
                assert m not in regime["overlap_mean"]["m"]
            # rows longer than 1 (models with at least MIN_ROWS of them): their mean squared
            # overlap over the Welch bound for as many rows, random vectors' over it, their variance
            nus = [round(float(r["phi_one"]) * n) for r in at]
            long = [(r, nu) for r, nu in zip(at, nus) if nu >= geometry.MIN_ROWS]
            welch = [(r, welch_bound(nu, m)) for r, nu in long if nu > m]
            want = {"nu": [nu for _, nu in long], "welch_bound": [w for _, w in welch],
                    "over_welch": [r["overlap_mean_one"] / w for r, w in welch],
                    "random_over_welch": [1 / (m * w) for _, w in welch],
                    "var_over_random": [r["overlap_var_one"] / random_overlap_moments(m)[1] for r, _ in long]}
            for name, kept in want.items():
                got = regime["long_rows"][name]
                assert (got["value"][got["m"].index(m)] == pytest.approx(np.mean(kept))) if kept else m not in got["m"]
            kept = long
            welch_seen += bool(kept)
        assert regime["weak_theory_m_most_frequent"] == pytest.approx(
            weak_superposition_loss(p, np.array(regime["m"])).tolist())
        # models whose overlaps are undefined (too few represented rows), and (mutation check, mutant P9) the
        # overlap exponent of the overlap curve
        trained = [r for r in mine if not r.diverged]
        assert regime["overlap_undefined"] == sum(r["n_represented"] < geometry.MIN_ROWS for r in trained)
        overlap = width_curve(records, measure=geometry.enough_rows("overlap_mean"), gamma=gamma,
                              frequencies=power_law(on_disk["alpha"]))
        if regime["overlap_exponent"] is not None:
            assert regime["overlap_exponent"] == pytest.approx(width_exponent(overlap).exponent)
            overlap_seen += 1
        lo, hi = regime["loss_exponent_t_interval"]
        assert lo < regime["loss_exponent"] < hi
        # two seeds: also the interval over redrawn seeds, as width_exponent gives it
        curve = width_curve(records, gamma=gamma, frequencies=power_law(on_disk["alpha"]))
        slo, shi = width_exponent(curve, seed_bootstrap=1000).intervals["exponent"]
        assert regime["loss_exponent_seed_interval"] == pytest.approx([slo, shi])
        assert (f"  L = C m^-a: a = {regime['loss_exponent']:.3f} (95% t [{lo:.3f}, {hi:.3f}], "
                f"redrawn seeds [{slo:.3f}, {shi:.3f}])") in printed
        row = next(line for line in printed.splitlines() if line.startswith(f"  {regime['m'][0]:>5} {regime['loss'][0]:>8.4f}"))
        assert row.split()[2:4] == [f"{regime['loss_over_weak_theory_own'][0]:.2f}",
                                    f"{regime['loss_over_weak_theory_top'][0]:.2f}"]
    assert welch_seen  # (the strong side's small widths have enough rows longer than 1)
    assert overlap_seen  # (the overlap exponent's check ran)
    assert "  rows longer than 1 against an equiangular tight frame of as many:" in printed
    # at n = 48 with 40 steps the strong side already represents nearly every feature, the weak side fewer
    phi = {key: np.mean(r["phi_half"]["value"]) for key, r in on_disk["regimes"].items()}
    assert phi["-1"] > phi["1"]


def test_activation_density_summary_holds_each_densitys_curve_and_fit(tmp_path, capsys):
    summary, on_disk = run("activation_density", tmp_path)
    printed = capsys.readouterr().out
    records = load_sweep(tmp_path / "out" / "sweep")
    n = on_disk["config"]["n"]
    rows = on_disk["densities"]
    assert [r["s"] for r in rows] == [0.0, 1.0]
    harmonic = np.sum(1.0 / np.arange(1, n + 1))
    assert rows[0]["E"] == 1.0 and rows[1]["E"] == pytest.approx(harmonic, rel=1e-12)
    for r in rows:
        mine = [rec for rec in records if rec.point["frequencies"]["E"] == r["E"]]
        assert len(mine) == 3 and r["m"] == [3, 4, 6]
        assert r["loss"] == pytest.approx([float(next(x for x in mine if x.point["m"] == m)["test_loss"])
                                           for m in r["m"]])
        assert r["loss_over_E"] == pytest.approx([v / r["E"] for v in r["loss"]])
        fit = width_exponent(width_curve(records, gamma=-1.0, frequencies=mine[0].point["frequencies"]))
        assert r["exponent"] == pytest.approx(fit.exponent)
        assert r["exponent_t_interval"] == pytest.approx(list(fit.t_interval()))
        assert r["exponent_seed_interval"] is None  # (one seed: nothing to redraw)
        assert (f"s = {r['s']:5.3f}  E = {r['E']:6.3f}  alpha_m = {fit.exponent:.3f} ± "
                f"{fit.stderr['exponent']:.3f}") in printed
    for m in (3, 4, 6):
        ratio = on_disk["loss_over_E_spread"][str(m)]
        k = rows[0]["m"].index(m)
        vals = [rows[0]["loss_over_E"][k], rows[1]["loss_over_E"][k]]
        assert ratio == pytest.approx(max(vals) / min(vals))
    assert ("published alpha_m at five of the densities (which ones, the reference does not say): "
            "1.1 ± 0.2, 1.1 ± 0.1, 1.1 ± 0.1, 1.12 ± 0.08, 1.12 ± 0.06") in printed


def test_the_headline_script_writes_its_summary_when_a_regime_diverges_entirely(tmp_path, capsys, monkeypatch):
    # every strong-regime model diverges (an absurd W learning rate at gamma = -1): the figure's empty
    # panel had been log-scaled and raised in tight_layout, after the sweep, so no summary was ever written
    from toyscale import train

    module = load("superposition_scaling")
    module.lr_w = lambda m: 1e30
    monkeypatch.setattr(train, "superposition_grid", functools.partial(_strong_only_lr, train.superposition_grid))
    module.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                 "--no-progress"])
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert all(v is None for v in on_disk["exponents"]["strong"].values())
    assert all(v is not None for v in on_disk["exponents"]["weak"].values())
    assert capsys.readouterr().out.count("alpha_m not fitted: 0 width(s) with a finite loss") == 3
    assert len(list((tmp_path / "fig").glob("*.png"))) == 1


def _strong_only_lr(grid, **kwargs):
    """The script's grid with the (patched, absurd) W learning rate at gamma = -1 only."""
    points = grid(**kwargs)
    return [p if p["gamma"] == -1.0 else {**p, "lr_w": 0.02 * (8 / p["m"]) ** 0.25} for p in points]


@pytest.mark.parametrize("name", ["geometry", "activation_density"])  # (compute_optimal's: lr=5 below)
def test_a_study_whose_models_all_diverge_still_writes_its_summary(name, tmp_path, capsys):
    # (an absurd learning rate: every model's loss is inf or nan; the fits are skipped, not raised)
    load(name).main(["--preset", "smoke", "--set", "lr=1e6", "--out", str(tmp_path / "out"),
                     "--figures", str(tmp_path / "fig"), "--no-progress"])
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    printed = capsys.readouterr().out
    if name == "geometry":
        for regime in on_disk["regimes"].values():
            assert regime["diverged"] == 3 and regime["m"] == [] and regime["loss_exponent"] is None
            assert regime["overlap_undefined"] == 0  # (diverged, not undefined: mutation check P6)
        assert printed.count("L = C m^-a: not fitted, 0 width(s) with a finite loss") == 2
        assert [f.name for f in (tmp_path / "fig").glob("*.png")] == ["geometry_smoke-lr=1000000.0.png"]
    else:
        assert all(r["exponent"] is None and r["diverged"] == 3 for r in on_disk["densities"])
        assert "alpha_m not fitted: 0 width(s) with a finite loss" in printed
        assert "no figure: no density's exponent could be fitted" in printed
        assert not (tmp_path / "fig").exists() or not list((tmp_path / "fig").glob("*.png"))


def test_paper_sweep_prints_each_chunk_as_it_lands_and_keeps_the_standard_errors(tmp_path, capsys):
    # The GPU check's runs are cut by time limits: the log must already show each width's chunk
    # and the sweep's end before the fits, and the JSON must carry the exponents' errors.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("paper_sweep", ROOT / "benchmarks" / "paper_sweep.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    saves, save = [], bench._save
    bench._save = lambda path, numbers: (saves.append((json.loads(json.dumps(numbers, default=float)),
                                                       capsys.readouterr().out)), save(path, numbers))
    out = bench.main(["--preset", "smoke", "--no-progress", "--matmul-size", "64", "--out", str(tmp_path / "run"),
                      "--json", str(tmp_path / "res.json")])
    printed = "".join(text for _, text in saves) + capsys.readouterr().out
    # the JSON is first written when the sweep is done, before the fits (a time limit may cut those)
    (first, before), (last, _) = saves
    assert first["complete"] is False and last["complete"] is True and "alpha_m (rows" not in before
    assert {k: first[k] for k in ("sweep_s", "chunk_sizes", "per_width_done_s", "diverged", "models")} == \
        {k: last[k] for k in ("sweep_s", "chunk_sizes", "per_width_done_s", "diverged", "models")}
    assert 0 < first["script_s"] < last["script_s"] and last["wall_s"] < last["script_s"]
    chunk_lines = [line for line in printed.splitlines() if line.startswith("  chunk written at")]
    assert [line.split("m = ")[1] for line in chunk_lines] == ["3, 4 models", "4, 4 models", "6, 4 models"]
    assert printed.index(chunk_lines[-1]) < printed.index("sweep done at") < printed.index("alpha_m (rows")
    times = [float(line.split("at")[1].split("s:")[0]) for line in chunk_lines]
    done = out["per_width_done_s"]  # the same file times as the printed lines (printed to 0.1 s)
    assert list(done) == ["3", "4", "6"] and np.allclose(list(done.values()), times, atol=0.051)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    saved = json.loads((tmp_path / "res.json").read_text())
    assert saved["alpha_m_stderr"] == summary["alpha_m_stderr"] == out["alpha_m_stderr"]
    assert np.all(np.asarray(saved["alpha_m_stderr"], float) > 0)
    assert out["target_s"] is None  # (the smoke preset)
    # the target's sweep is the paper preset, its products' precision aside (gpu_check's default bf16 run)
    assert bench.is_target_sweep("paper", []) and bench.is_target_sweep("paper", ["train.matmul_precision=bfloat16"])
    assert not bench.is_target_sweep("paper", ["train.steps=2000"]) and not bench.is_target_sweep("quick", [])


def test_the_throughput_benchmark_refuses_a_count_below_1_before_anything_runs(capsys):
    # --steps 0 had run 100 steps, --torch-threads 0 failed after every JAX engine had run, "--cpu 1" was taken
    # as --cpu-devices by the parser but not by the early scan (JAX had started with the default)
    spec = importlib.util.spec_from_file_location("train_throughput", ROOT / "benchmarks" / "train_throughput.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for argv, message in ((["--steps", "0"], "argument --steps: 0 must be >= 1"),
                          (["--torch-threads", "0"], "argument --torch-threads: 0 must be >= 1"),
                          (["--widths", "10", "0"], "argument --widths: 0 must be >= 1"),
                          (["--cpu", "1"], "unrecognized arguments: --cpu 1")):
        with pytest.raises(SystemExit) as exit_:
            bench.main(argv)
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert bench._early_cpu_devices(["--cpu-devices", "x"]) is None
    assert bench._early_cpu_devices(["--cpu-devices=3"]) == 3


def test_the_throughput_benchmark_counts_processes_measured_together_beside_the_ideal():
    # the paper's layout (one single-threaded process per core) had only been assumed: cores x the
    # one-thread rate, as if the processes did not slow each other
    spec = importlib.util.spec_from_file_location("train_throughput", ROOT / "benchmarks" / "train_throughput.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = [{"m": 10, "models": 4, "steps": 100, "steady_s": 1.0, "wall_s": 2.0, "compile_s": 1.0, "dense_flops": None},
            {"m": 20, "models": 4, "steps": 100, "steady_s": 3.0, "wall_s": 4.0, "compile_s": 1.0, "dense_flops": None}]
    torch_res = {"configs": {"1": {"seconds_per_step": {"10": 0.02, "20": 0.04}}},
                 "processes": {"count": 2, "seconds_per_step": {"10": 0.025, "20": 0.05}}}
    s = bench.summarise(rows, torch_res, {"square": 1e11, "square_size": 2048}, cores=2)
    rates = s["torch_model_steps_per_s"]
    assert rates["threads_1"] == pytest.approx(800 / (0.02 * 400 + 0.04 * 400))
    assert rates["threads_1_x_2_processes_ideal"] == pytest.approx(2 * rates["threads_1"])
    assert rates["threads_1_x_2_processes_measured"] == pytest.approx(2 * 800 / (0.025 * 400 + 0.05 * 400))
    assert s["torch_best_config"] == "threads_1_x_2_processes_ideal"  # (the conservative one still counts)
    assert s["speedup_vs_torch_processes_measured"] == pytest.approx(200 / rates["threads_1_x_2_processes_measured"])


def test_a_failed_torch_worker_stops_the_others_instead_of_leaving_them_waiting(tmp_path, monkeypatch, capsys):
    # the workers start and stop together, so one that failed would have left the other waiting for it forever
    spec = importlib.util.spec_from_file_location("train_throughput", ROOT / "benchmarks" / "train_throughput.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    (tmp_path / "torch_baseline.py").write_text(
        "import sys, time\nif sys.argv[2] == '0':\n    sys.exit('worker 0 failed')\ntime.sleep(600)\n")
    monkeypatch.setattr(bench, "HERE", str(tmp_path))
    t0 = time.perf_counter()
    assert bench.bench_torch_processes([10], steps=1, processes=2, repeats=1) is None
    assert time.perf_counter() - t0 < 60
    assert "a worker failed (worker 0 failed)" in capsys.readouterr().out


# mutants: `import torch` left bare (--help a ModuleNotFoundError traceback); the missing-torch exit status 0; the
# module imported without torch not raising (train_throughput.bench_torch skips the baseline on that ImportError);
# the worker's numbers passed out of order
def test_the_torch_worker_without_torch_answers_help_and_says_how_to_install_it(tmp_path, monkeypatch):
    (tmp_path / "torch.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\")\n")  # (torch or not)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    script = str(ROOT / "benchmarks" / "torch_baseline.py")
    run = functools.partial(subprocess.run, capture_output=True, text=True, env=env, timeout=120)
    done = run([sys.executable, script, "--help"])
    assert done.returncode == 0 and "FOLDER INDEX COUNT N BATCH STEPS REPEATS M [M ...]" in done.stdout, done.stderr
    done = run([sys.executable, script, str(tmp_path), "0", "1", "10", "4", "1", "1", "3"])
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("torch baseline not run: No module named 'torch' "
                                   "(pip install -e '.[bench]', e.g. torch==2.13.0 CPU)")
    done = run([sys.executable, "-c", "import torch_baseline"], cwd=ROOT / "benchmarks")
    assert done.returncode == 1 and "ModuleNotFoundError: No module named 'torch'" in done.stderr
    # with torch (a stand-in here): the worker's numbers reach concurrent_worker in order
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    spec = importlib.util.spec_from_file_location("torch_baseline", ROOT / "benchmarks" / "torch_baseline.py")
    tb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tb)
    calls = []
    monkeypatch.setattr(tb, "concurrent_worker", lambda *a: calls.append(a) or {"seconds_per_step": {}})
    tb.main(["F", "1", "2", "10", "4", "5", "6", "3", "7"])
    assert calls == [("F", 1, 2, 10, 4, 5, 6, [3, 7])]


def test_gpu_check_script_runs_every_step_and_leaves_files_the_device_tool_brings_back(tmp_path):
    # The GPU check is run on scarce lent machines: a shell or argument error must show up here,
    # not there (tiny sizes through EXTRA).
    out = tmp_path / "out"
    extra = ("--set train.n=48 --set train.batch=32 --set train.steps=10 --set train.warmup=1 --set train.test_batches=2 "
             "--set train.log_every=5 --set widths=[3,4,6] --set gammas=[-1,1] --set alphas=[0.5,1.5]")
    # (the tenths' runs are the paper step's script with other settings: their arguments are checked below,
    # with a fake python, which saves a third script run here)
    env = dict(os.environ, OUT=str(out), SMOKE="0", BUDGET_S="400", MIN_COMPARE_S="30",
               PYTHON=sys.executable, EXTRA=extra, JAX_PLATFORMS="cpu", MAX_RATIO="1e9",  # (10 steps: not the verdict)
               COMPARE_OUT=str(tmp_path / "compare"))
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    names = sorted(p.name for p in out.iterdir())
    assert names == ["chunks.txt", "compare.json", "log.txt", "paper.json", "paper.png"]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", n) for n in names) and len(names) <= 8
    log = (out / "log.txt").read_text()
    for step in ("paper", "compare"):
        assert f"== {step}: exit 0" in log, log[-3000:]
    assert "== done after" in log and "--set gammas=[-1,1]" in log
    compare = json.loads((out / "compare.json").read_text())
    assert set(compare["experiments"]["phase_diagram"]["against"]) == {"bfloat16", "tensorfloat32"}
    assert compare["max_ratio"] == 1e9
    # the comparison's runs are kept where a second call resumes them
    assert sorted(p.name for p in (tmp_path / "compare").iterdir()) == [
        f"phase_diagram-{p}" for p in ("bfloat16", "float32", "tensorfloat32")]
    paper = json.loads((out / "paper.json").read_text())
    assert paper["matmul_precision"] == "bfloat16" and paper["complete"] is True and compare["complete"] is True
    # The comparison (benchmarks/precision_check.py) ran each precision at the size it was given,
    # and its changes and ratios are those of the runs' own summaries.
    precisions = ("float32", "bfloat16", "tensorfloat32")
    runs = {p: json.loads((tmp_path / "compare" / f"phase_diagram-{p}" / "summary.json").read_text())
            for p in precisions}
    assert [runs[p]["config"]["steps"] for p in precisions] == [10, 10, 10]  # (EXTRA's, after the tenth's)
    assert [runs[p]["config"]["matmul_precision"] for p in precisions] == list(precisions)
    assert set(compare["experiments"]["phase_diagram"]["exponents"]) == set(precisions)
    assert compare["experiments"]["phase_diagram"]["resumed"] == {p: False for p in precisions}
    a32 = np.asarray(runs["float32"]["alpha_m"], float).ravel()
    se = np.asarray(runs["float32"]["alpha_m_stderr"], float).ravel()
    for p in ("bfloat16", "tensorfloat32"):
        res = compare["experiments"]["phase_diagram"]["against"][p]
        a = np.asarray(runs[p]["alpha_m"], float).ravel()
        assert not np.array_equal(a, a32)  # the rounding did happen
        np.testing.assert_allclose([r["change"] for r in res["rows"]], a - a32, rtol=1e-12, atol=1e-15)
        assert res["max_change_over_stderr"] == pytest.approx(np.max(np.abs(a - a32) / se), rel=1e-9)
        assert res["within"] == (res["max_change_over_stderr"] <= 1e9)
    assert log.index("phase_diagram float32: ") < log.index("phase_diagram bfloat16: ")
    assert "paper preset --set train.steps=2000 --set train.warmup=200 --set gammas=[-1,1]" in log
    assert "tensorfloat32: largest |change|" in log and "within the error bars (every |change| / stderr <= 1e+09" in log


def test_gpu_check_script_asks_jax_for_a_gpu_and_runs_float32_when_paper_set_is_empty(tmp_path):
    # JAX falls back to the CPU with a warning when its GPU backend fails: the paper step would
    # spend its whole limit there; and PAPER_SET="" (float32, as documented) had run bfloat16
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "JAX_PLATFORMS=$JAX_PLATFORMS args: $*"\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    env.update(OUT=str(tmp_path / "out"), PYTHON=str(fake), PAPER_SET="", COMPARE_SET="", MIN_COMPARE_S="0",
               COMPARE_OUT="cmp", ENGINES="rng=hash sampler=dense", MIN_TENTH_S="0")
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-2000:]
    runs = [line for line in done.stdout.splitlines() if line.startswith("JAX_PLATFORMS=")]
    assert len(runs) == 6 and all(line.startswith("JAX_PLATFORMS=cuda args: ") for line in runs), runs
    assert not any("matmul_precision" in line or "gammas" in line for line in runs), runs  # (smoke, paper, compare)
    assert "--out cmp --json" in runs[3], runs
    # each ENGINES' tenth: the paper script at 2,000 steps with that engine, into its own file
    out = tmp_path / "out"
    assert [line.split("args: ")[1] for line in runs[4:]] == [
        f"benchmarks/paper_sweep.py --no-progress --set train.steps=2000 --set train.warmup=200 --set train.{e} "
        f"--json {out}/tenth_{e.split('=')[1]}.json" for e in ("rng=hash", "sampler=dense")], runs
    # by default, one kept folder per comparison's settings (a sweep will not resume into another's)
    folders = set()
    for compare_set in ("gammas=[-1,1]", "gammas=[-1,0]", "gammas=[-1,0]"):
        env.update(SMOKE="0", PAPER="0", COMPARE_SET=compare_set)
        env.pop("COMPARE_OUT", None)
        done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        folders.add(re.search(r"--out (runs/gpu_check_compare-\d+) ", done.stdout).group(1))
    assert len(folders) == 2, folders


@pytest.mark.parametrize("steps, last", [({"SMOKE": "1"}, "== smoke failed after"),
                                         ({"SMOKE": "0", "COMPARE": "0", "ENGINES": "rng=hash"},
                                          "failed or cut short: paper tenth_rng=hash")])
def test_gpu_check_script_exits_non_zero_when_a_step_fails(tmp_path, steps, last):
    # its exit status had been rm's (after the logged pipeline), 0 whatever failed
    env = dict(os.environ, OUT=str(tmp_path / "out"), PYTHON="false", BUDGET_S="400", **steps)
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout[-2000:]
    assert last in (tmp_path / "out" / "log.txt").read_text().splitlines()[-1]


def test_more_is_better_summary_is_the_best_ridge_of_the_replicate_means_and_of_the_theory(tmp_path, capsys,
                                                                                            monkeypatch):
    from toyscale import plots
    from toyscale import random_features as rf
    from toyscale.theory import expected_test_loss

    drawn, figure = [], plots.ridge_sweep

    def ridge_sweep(panels, **kw):
        drawn.extend(panels.values())
        return figure(panels, **kw)

    monkeypatch.setattr(plots, "ridge_sweep", ridge_sweep)
    summary, on_disk = run("more_is_better", tmp_path)
    printed = capsys.readouterr().out
    module = load("more_is_better")
    pre = module.PRESETS["smoke"]
    records = load_sweep(tmp_path / "out" / "sweep")
    cfg = rf.RFConfig.from_dict(pre["rf"])
    # N = T = fixed once: 2 x 5 sizes - 1 shapes, 3 ridges, 3 trials
    assert on_disk["models"] == len(records) == 9 * 3 * 3
    assert f"{len(records)} models in 9 compiled shapes" in printed
    fixed = pre["fixed"]
    for along, other in (("N", "T"), ("T", "N")):
        d = on_disk["directions"][along]
        assert d["x"] == pre["sizes"]
        rel = []
        for k, x in enumerate(d["x"]):
            by_ridge = {}
            for r in records:
                if r.point[along] == x and r.point[other] == fixed:
                    by_ridge.setdefault(r.point["ridge"], []).append(float(r["test_loss"]))
            assert sorted(by_ridge) == pytest.approx(pre["ridges"]) and all(len(v) == 3 for v in by_ridge.values())
            means = {ridge: np.mean(v) for ridge, v in by_ridge.items()}
            best = min(means, key=means.get)
            assert d["best_ridge"][k] == best and d["best_loss"][k] == pytest.approx(means[best])
            assert d["best_loss_sem"][k] == pytest.approx(np.std(by_ridge[best], ddof=1) / np.sqrt(3))
            pts = [{"N": fixed, "T": fixed, along: int(x), "alpha": pre["alpha"], "ridge": ridge, "noise": pre["noise"]}
                   for ridge in pre["ridges"]]
            theory = expected_test_loss(cfg, pts)
            assert d["theory_best_loss"][k] == pytest.approx(theory.min())
            assert d["theory_best_ridge"][k] == pre["ridges"][int(np.argmin(theory))]
            assert d["loss_at_theory_ridge"][k] == pytest.approx(means[d["theory_best_ridge"][k]])
            assert d["smallest_ridge_loss"][k] == pytest.approx(means[min(pre["ridges"])])
            # (mutation check, mutants R7, R10, R4, R5) the standard error at the theory's ridge, the theory at
            # the smallest ridge, and each ridge's |mean / theory - 1| (every ridge > 0: every point compared)
            assert d["loss_at_theory_ridge_sem"][k] == pytest.approx(
                np.std(by_ridge[d["theory_best_ridge"][k]], ddof=1) / np.sqrt(3))
            assert d["smallest_ridge_theory"][k] == pytest.approx(theory[int(np.argmin(pre["ridges"]))])
            rel += [abs(means[ridge] / theory[j] - 1) for j, ridge in enumerate(pre["ridges"])]
        assert d["rel_error_points"] == len(rel) == len(d["x"]) * len(pre["ridges"])
        assert d["rel_error_median"] == pytest.approx(np.median(rel)) and d["rel_error_max"] == pytest.approx(max(rel))
        # (R6) rises at the theory's ridge beyond twice the combined standard error of its own means
        at, se = np.array(d["loss_at_theory_ridge"]), np.array(d["loss_at_theory_ridge_sem"])
        assert d["loss_at_theory_ridge_rises_beyond_2_sem"] == int(np.sum(np.diff(at) > 2 * np.hypot(se[1:], se[:-1])))
        # the theory at the best ridge never rises on its 100-size grid (more is better)
        assert d["theory_best_loss_rises"] == 0 and d["theory_sizes"] > 50
        assert d["best_loss_rises"] == int(np.sum(np.diff(d["best_loss"]) > 0))
        assert (f"best-ridge loss rises at {d['best_loss_rises']} of {len(d['x']) - 1} steps "
                f"({d['best_loss_rises_beyond_2_sem']} by more than 2 standard errors;") in printed
        assert d["loss_at_theory_ridge_rises"] == int(np.sum(np.diff(d["loss_at_theory_ridge"]) > 0))
        assert (f"at the theory's ridge at {d['loss_at_theory_ridge_rises']} "
                f"({d['loss_at_theory_ridge_rises_beyond_2_sem']} by more than 2 standard errors)") in printed
        # the ridgeless-like peak at N = T: the smallest ridge is far worse there than the best
        at = d["x"].index(fixed)
        assert d["smallest_ridge_loss"][at] > 3 * d["best_loss"][at]
    assert on_disk["theory_rel_error_median"] < 0.3
    # the figure draws every ridge of a grid of no more than SHOWN_RIDGES (it had left out the largest)
    assert len(pre["ridges"]) <= module.SHOWN_RIDGES
    assert len(drawn) == 2
    for panel in drawn:
        assert sorted(panel["ridges"]) == pytest.approx(pre["ridges"])
    # the summary's keys mean what random_features.py's do: the printed line's far-from-peak points
    assert (f"median |sim/theory - 1| = {100 * on_disk['theory_rel_error_median']:.1f}% "
            f"(max {100 * on_disk['theory_rel_error_max']:.1f}% at N = ") in printed
    assert f"over the {on_disk['theory_points']} points with max(N, T) >= 2 min(N, T)" in printed
    assert on_disk["theory_points_all"] > on_disk["theory_points"] and on_disk["theory_rel_error_median_all"] > 0


def test_ridge_sweep_figure_checks_its_panels():
    from toyscale import plots

    with pytest.raises(TypeError, match="panels must be"):
        plots.ridge_sweep({}, title="t")
    with pytest.raises(TypeError, match=r"panels\['a'\] must hold 'along', 'ridges' and 'tuned'"):
        plots.ridge_sweep({"a": {"along": "N", "ridges": {}}}, title="t")


def test_more_is_better_takes_its_ridges_in_any_order_and_a_zero_ridge(tmp_path, capsys):
    # the smallest ridge had been the first one given; a ridge of 0 gave the figure NaN colours
    summary, on_disk = run("more_is_better", tmp_path, "--set", "ridges=[10.0,0.0,0.1]")
    printed = capsys.readouterr().out
    assert "3 ridges 0..10," in printed and "and the smallest ridge (0);" in printed
    records = load_sweep(tmp_path / "out" / "sweep")
    d = on_disk["directions"]["N"]
    k = d["x"].index(8)
    ridgeless = [float(r["test_loss"]) for r in records if (r.point["N"], r.point["T"], r.point["ridge"]) == (8, 16, 0.0)]
    assert d["smallest_ridge_loss"][k] == pytest.approx(np.mean(ridgeless))
    # the ridgeless N = T point: counted as printed (the summary had also counted |N - T| = 1 points there)
    infinite = re.search(r"; (\d+) point\(s\) left out where the theory's loss is infinite", printed)
    assert infinite and int(infinite.group(1)) == on_disk["theory_points_infinite"] > 0, printed
    assert on_disk["theory_points_finite_size_peak"] == 0


def test_geometry_long_row_measures_leave_out_models_trained_without_them():
    # a sweep folder trained before toyscale kept overlap_mean_one resumes; its models had
    # raised a KeyError in the long-row table
    from toyscale.measure import random_overlap_moments, welch_bound

    geometry = load("geometry")
    measures = geometry.long_row_measures(40)
    before = Record(0, {"m": 4, "gamma": -1.0}, False, {"phi_one": np.float32(0.5), "test_loss": np.float32(1.0)})
    assert all(np.isnan(f(before)) for f in measures.values())
    now = Record(1, {"m": 4, "gamma": -1.0}, False, {"phi_one": np.float32(0.5), "overlap_mean_one": np.float32(0.3),
                                                     "overlap_var_one": np.float32(0.02)})
    got = {k: f(now) for k, f in measures.items()}
    assert got["nu"] == 20 and got["welch_bound"] == welch_bound(20, 4)
    assert got["over_welch"] == pytest.approx(0.3 / welch_bound(20, 4), rel=1e-6)
    assert got["random_over_welch"] == pytest.approx(1 / (4 * welch_bound(20, 4)))
    assert got["var_over_random"] == pytest.approx(0.02 / random_overlap_moments(4)[1], rel=1e-6)
    # nu <= m: no bound to compare with; fewer than MIN_ROWS rows: nothing
    few = Record(2, {"m": 30, "gamma": -1.0}, False, dict(now.outputs))
    assert np.isnan(measures["over_welch"](few)) and np.isnan(measures["welch_bound"](few))
    assert np.isfinite(measures["var_over_random"](few))
    tiny = Record(3, {"m": 4, "gamma": -1.0}, False, {**now.outputs, "phi_one": np.float32(0.2)})  # 8 rows
    assert all(np.isnan(f(tiny)) for f in measures.values())


def test_more_is_better_presets_are_simon_et_als_grid():
    # paper: M = 10^4, 31 sizes in 10..10^4 at 256, 31 ridges in 10^[-3, 2], 45 trials, noise variance 0.5
    # (their NOISE_VAR; the sd, 0.5, had been taken for it); the quick preset's noise is the same
    module = load("more_is_better")
    pre = module.PRESETS["paper"]
    cfg, grid = module.prepare(pre)
    assert cfg.M == 10_000 and pre["fixed"] == 256 and pre["trials"] == 45
    noises = {p["noise"] for p in grid}
    assert len(noises) == 1 and noises.pop() ** 2 == pytest.approx(0.5, rel=1e-12)
    assert module.PRESETS["quick"]["noise"] == pre["noise"]
    assert len(pre["sizes"]) == 31 and pre["sizes"][0] == 10 and pre["sizes"][-1] == 10_000
    np.testing.assert_allclose(pre["ridges"], np.logspace(-3, 2, 31), rtol=1e-12)
    assert len({(p["N"], p["T"]) for p in grid}) == 2 * 31 and len(grid) == 2 * 31 * 31 * 45


def test_more_is_better_picks_the_theorys_ridge_on_the_whole_grid_whatever_diverged(tmp_path, capsys):
    # the theory's best ridge had been chosen among the points with a surviving simulation, and a
    # size where every ridge diverged had dropped out of both tables without a word
    import dataclasses

    module = load("more_is_better")
    real = module.run_experiment_sweep
    fixed = module.PRESETS["smoke"]["fixed"]

    def with_divergences(*args, **kwargs):
        result = real(*args, **kwargs)
        killed = [dataclasses.replace(r, diverged=True, outputs={**r.outputs, "test_loss": np.float32("nan")})
                  if r.point["T"] == fixed and (r.point["N"] == 4 or (r.point["N"] == 16 and r.point["ridge"] == 10.0))
                  else r for r in result]
        return SweepResult(killed, result.manifest, result.stats)

    module.run_experiment_sweep = with_divergences
    module.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                 "--no-progress"])
    printed = capsys.readouterr().out
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    d = on_disk["directions"]["N"]
    assert d["x"] == [4, 8, 16, 32, 64] and d["best_loss"][0] is None  # (NaN: every ridge diverged at N = 4)
    assert d["theory_best_ridge"][2] == 10.0 and d["loss_at_theory_ridge"][2] is None  # (its simulation died)
    assert "; 12 diverged (left out of the means)" in printed  # (3 ridges x 3 trials at N = 4, 3 trials at N = 16)
    assert on_disk["diverged"] == 12 and on_disk["models"] == 81  # (the summary's count too: mutation check R11)


def test_more_is_better_with_every_size_far_from_the_peak(tmp_path, capsys):
    # no point within a factor 2 of N = T: the near-peak summary had taken the max of nothing
    summary, on_disk = run("more_is_better", tmp_path, "--set", "sizes=[4,64]")
    printed = capsys.readouterr().out
    assert "over the 0 nearer" not in printed and "nearer the N = T peak" not in printed
    assert on_disk["theory_rel_error_max"] == pytest.approx(on_disk["theory_rel_error_max_all"])
    assert on_disk["theory_points"] == on_disk["theory_points_all"]


def test_a_scripts_ctrl_c_is_not_lost_in_a_garbage_collection_callback():
    # Python prints a KeyboardInterrupt raised in a gc callback as "Exception ignored" and drops
    # it; JAX registers one, so a Ctrl-C could be lost. The scripts' handler sends it again after
    # the callback (the default handler, below, loses it)
    code = textwrap.dedent("""
        import gc, os, signal, sys, time
        from toyscale import runner
        if sys.argv[1] == "reliable":
            assert runner.use_reliable_interrupt() and runner.use_reliable_interrupt()
        fired = []
        def callback(phase, info):
            if phase == "start" and not fired:
                fired.append(1)
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # (the signal is handled in here)
        gc.callbacks.append(callback)
        try:
            gc.collect()
            time.sleep(3)
            print("not interrupted")
        except KeyboardInterrupt:
            print("interrupted")
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for how, want in (("reliable", "interrupted"), ("default", "not interrupted")):
        done = subprocess.run([sys.executable, "-c", code, how], capture_output=True, text=True, timeout=60, env=env)
        assert done.stdout.strip() == want, (how, done.stdout, done.stderr)


def test_compute_optimal_summary_is_the_fits_of_its_own_curves(tmp_path, capsys):
    # Bordelon et al.'s four exponents from one smoke sweep: each recomputed here from the
    # sweep's records (the mean logged curve per width, the long-time losses of every model,
    # the lowest loss per compute budget where the budget's widths bracket it), the printed
    # rows and the predictions at a = b = 1 + alpha = 2.
    from toyscale.fitting import fit_frontier, fit_power_law

    summary, on_disk = run("compute_optimal", tmp_path, "--set", "widths=[32,4,16,8]")
    printed = capsys.readouterr().out
    module = load("compute_optimal")
    assert module.predictions(1.0) == {"time": 0.5, "width": 1.0, "N_opt": pytest.approx(1 / 3),
                                       "L_opt": pytest.approx(1 / 3)}
    # a teacher exponent s tells a = 1 + alpha + s from b = 1 + alpha: (a-1)/b, a-1, 1/(1+b), (a-1)/(1+b)
    assert module.predictions(1.0, 1.0) == {"time": 1.0, "width": 2.0, "N_opt": pytest.approx(1 / 3),
                                            "L_opt": pytest.approx(2 / 3)}
    # beyond a - 1 = b the width exponent stays b (the deterministic equivalent's N^-b of blurred modes)
    assert module.predictions(1.0, 1.5) == {"time": 1.25, "width": 2.0, "N_opt": pytest.approx(2.5 / 6.5),
                                            "L_opt": pytest.approx(5 / 6.5)}
    from toyscale import random_features as rf, theory
    for s, want in ((0.5, 1.5), (1.5, 2.0), (3.0, 2.0)):  # the width exponent the theory itself gives at large N, T
        L = theory.expected_test_loss(rf.RFConfig(M=16384, teacher_exponent=s),
                                      [{"N": n, "T": 10**7, "alpha": 1.0} for n in (512, 1024)])
        assert module.predictions(1.0, s)["width"] == want and abs(np.log2(L[0] / L[1]) - want) < 0.05, (s, L)
    widths = [4, 8, 16, 32]
    assert on_disk["widths"] == widths  # (sorted: the curves' rows follow it)
    records = load_sweep(tmp_path / "out" / "sweep")
    assert len(records) == 4 * 2 == on_disk["models"]
    t = np.asarray(on_disk["t"])
    assert t[0] == 10 and t[-1] == 400 and t.size == 40
    curves, floors = [], []
    for i, N in enumerate(widths):
        runs = [r for r in records if r.point["N"] == N]
        assert all(r.point["method"] == "gd" and r.point["infinite_time"] for r in runs)
        curves.append(np.mean([np.asarray(r["loss_curve"]) for r in runs if not r.diverged], axis=0))
        floors.append(np.mean([float(r["loss_infinite_time"]) for r in runs if not r.diverged]))
        # every model's long-time loss, diverged gradient descent or not (the solve is on the same draw)
        limit = np.mean([float(r["loss_infinite_time"]) for r in runs])
        assert on_disk["ridgeless_loss"][i] == pytest.approx(limit, rel=1e-6)
    curves = np.stack(curves)
    np.testing.assert_allclose(on_disk["loss_curves"], curves, rtol=1e-6)
    ex = on_disk["exponents"]
    keep = (t >= 20) & (t <= 200)
    assert ex["time"]["fitted"] == pytest.approx(fit_power_law(t[keep], curves[-1, keep]).exponent, rel=1e-6)
    # the same curve above its own runs' long-time loss (a power law fitted through that floor comes out low)
    above = fit_power_law(t[keep], curves[-1, keep] - floors[-1]).exponent
    assert ex["time_above_floor"]["fitted"] == pytest.approx(above, rel=1e-6) and above > ex["time"]["fitted"]
    assert on_disk["time_fit_end"]["over_long_time"] == pytest.approx(curves[-1, keep][-1] / floors[-1], rel=1e-6)
    np.testing.assert_allclose(on_disk["ridgeless_loss_of_curves"], floors, rtol=1e-6)
    assert ex["width"]["fitted"] == pytest.approx(
        fit_power_law(np.array(widths, float), np.asarray(on_disk["ridgeless_loss"])).exponent, rel=1e-6)
    N_all = np.repeat(np.array(widths, float), t.size)
    C_all = N_all * np.tile(t, 4)
    frontier, budgets, why = bracketed_frontier(N_all, curves.ravel(), C_all, 6)
    kept, left_out = frontier.C.size, budgets - frontier.C.size
    assert why is None and kept >= 3 and budgets <= 6 and on_disk["frontier"]["budgets_left_out"] == left_out
    assert ex["N_opt"]["fitted"] == pytest.approx(frontier.a, rel=1e-6)
    np.testing.assert_allclose(on_disk["frontier"]["N_opt"], frontier.N_opt)
    assert all(4 < n < 32 for n in frontier.N_opt)  # bracketed: never the grid's edge
    assert ex["L_opt"]["fitted"] == pytest.approx(fit_power_law(frontier.C, frontier.L_opt).exponent, rel=1e-6)
    # the bracketed budgets are those of the whole-grid frontier whose optimum is interior
    edges = np.geomspace(C_all.min(), C_all.max(), 7)
    edges[0], edges[-1] = edges[0] * 0.999, edges[-1] * 1.001
    everything = fit_frontier(N_all, curves.ravel(), C=C_all, bins=edges)
    assert everything.C.size == kept + left_out and set(frontier.C) <= set(everything.C)
    for key, want in (("time", 0.5), ("time_above_floor", 0.5), ("width", 1.0), ("N_opt", 1 / 3), ("L_opt", 1 / 3)):
        assert ex[key]["predicted"] == pytest.approx(want)
        lo, hi = ex[key]["t_interval"]
        assert lo <= ex[key]["fitted"] <= hi
    assert "L ~ t^-x at N = 32, t in [20, 200]" in printed
    assert "(the time exponent's t-interval is a fit's over one mean curve's logged points" in printed
    assert f"N* ~ C^x, C = N t ({kept} budgets)" in printed and f"{ex['N_opt']['fitted']:6.3f}" in printed
    assert f"{left_out} left out, their lowest loss at the smallest or largest width they hold" in printed
    assert "(the N* and L* t-intervals are fits' over budgets whose optima come from the same runs" in printed
    # each row's interval over redrawn seeds (the whole table refitted on each redraw), or why there is none
    assert "(redrawn seeds: 95% intervals over 100 redraws of each point's 2 finished models on their own" in printed
    for key in ("time", "width"):
        lo, hi = ex[key]["seed_interval"]
        assert lo < ex[key]["fitted"] < hi and f"redrawn seeds [{lo:.3f}, {hi:.3f}]" in printed


def test_compute_optimal_floor_is_the_mean_of_the_curves_runs_finite_long_time_losses():
    # a run kept in the curve (not diverged) with a NaN long-time loss had made the floor NaN
    module = load("compute_optimal")

    class Run:
        def __init__(self, diverged, end):
            self.point, self.diverged = {"N": 8}, diverged
            self.outputs = {"loss_curve": [3.0, 2.0, 1.5], "loss_infinite_time": end}

        def __getitem__(self, key):
            return self.outputs[key]

    runs = [Run(False, 1.0), Run(False, float("nan")), Run(True, 0.5)]
    curves, limits, floors, diverged = module.mean_curves(runs, [8], 3)
    assert floors.tolist() == [1.0] and limits.tolist() == [0.75] and diverged == 1
    np.testing.assert_allclose(curves, [[3.0, 2.0, 1.5]])


def test_plrf_frontier_floors_keep_the_diverged_runs_finite_floors():
    # a floor is the least loss of the width's features on that draw, whatever SGD did: a diverged run's had been
    # dropped, and with every run diverged the floor fit was "not fitted ... plrf.floor=true computes them"
    module = load("plrf_frontier")
    runs = [Record(0, {"d": 8}, False, {"loss_curve": np.array([3.0, 2.0]), "loss_floor": np.float32(1.0)}),
            Record(1, {"d": 8}, True, {"loss_curve": np.array([np.nan, np.nan]), "loss_floor": np.float32(0.5)}),
            Record(2, {"d": 16}, True, {"loss_curve": np.array([np.nan, np.nan]), "loss_floor": np.float32(0.25)}),
            Record(3, {"d": 16}, True, {"loss_curve": np.array([np.nan, np.nan]), "loss_floor": np.float32(np.nan)})]
    curves, floors, diverged = module.mean_curves(runs, [8, 16], {8: 2, 16: 2}, 1)
    assert floors.tolist() == [0.75, 0.25] and diverged == 3
    np.testing.assert_allclose(curves, [[3.0, 2.0], [np.nan, np.nan]])


def test_compute_optimal_stability_edge_counts_each_width_and_names_models_without_a_sharpness():
    module = load("compute_optimal")

    def run(N, sharpness, diverged, lr=1.0):
        outputs = {} if sharpness is None else {"sharpness": np.float64(sharpness)}
        return Record(0, {"N": N, "lr": lr}, diverged, outputs)

    runs = [run(8, 2.5, True), run(8, 2.1, False), run(8, 1.5, False), run(16, 0.9, True),
            run(16, 1.2, False, lr=2.0), run(32, None, False), run(16, np.nan, True)]
    edge = module.stability_edge(runs, [8, 16, 32])
    assert edge == {"largest_lr_x_sharpness": [2.5, 2.4, None], "past_edge": [2, 1, 0], "diverged_past_edge": 1,
                    "diverged_inside_edge": 1, "unrecorded": 1, "nonfinite": 1}
    assert module.stability_edge(runs[::-1], [8, 16, 32]) == edge  # (a NaN first had made the largest NaN)
    text = module.edge_text(edge, [8, 16, 32])
    assert text.endswith("largest lr x sharpness 2.50, 2.40, - at N = 8, 16, 32; 3 model(s) past 2 (2 at N = 8, "
                         "1 at N = 16), 1 of them diverged; 1 diverged inside it; no sharpness recorded for 1 models "
                         "(trained before it was); 1 models' sharpness not finite")
    old = module.stability_edge([run(8, None, False), run(16, None, True)], [8, 16])
    assert module.edge_text(old, [8, 16]) == ("stability edge: no sharpness recorded (2 models trained before it "
                                              "was; retrain in a new --out to see it)")
    assert module.edge_text(module.stability_edge([run(8, 1.0, False)], [8]), [8]).endswith("at N = 8; none past 2")


def test_compute_optimal_reports_what_it_cannot_fit_and_still_writes_its_summary(tmp_path, capsys):
    # every run diverged (lr = 5 is far past the stable step): it had crashed after the sweep
    # (max() of an empty sequence, then a log axis of nothing); one seed: a frontier whose
    # bracketed optima all sit at one width is not fitted rather than printed as -0.000
    summary, on_disk = run("compute_optimal", tmp_path, "--set", "lr=5", "--set", "seeds=1", "--set", "steps=200")
    printed = capsys.readouterr().out
    assert on_disk["diverged"] == on_disk["models"] == 4
    assert on_disk["exponents"]["time"]["fitted"] is None and "every N = 32 run diverged" in printed
    # (the ridgeless solves still give the width exponent; no NaN printed)
    assert "; 4 diverged (their loss curves left out of the means; the ridgeless solve" in printed
    assert "its long-time loss" not in printed and " nan" not in printed
    # lr = 5 is past every draw's stability edge: each model says so (rf.gd_sharpness)
    edge = on_disk["stability_edge"]
    assert edge["past_edge"] == [1, 1, 1, 1] and edge["diverged_past_edge"] == 4 and edge["diverged_inside_edge"] == 0
    assert min(edge["largest_lr_x_sharpness"]) > 2 and edge["unrecorded"] == edge["nonfinite"] == 0
    assert "4 model(s) past 2 (1 at N = 4, 1 at N = 8, 1 at N = 16, 1 at N = 32), 4 of them diverged\n" in printed
    assert on_disk["exponents"]["N_opt"]["why"] == "fewer than 3 logged losses left" and on_disk["frontier"] is None
    # the long-time losses are solves on the same draws: still there, and still fitted
    assert np.all(np.isfinite(on_disk["ridgeless_loss"])) and on_disk["exponents"]["width"]["fitted"] > 0
    N = np.repeat([2.0, 4.0, 8.0, 16.0, 32.0], 40)
    t = np.tile(np.arange(1.0, 41.0), 5)
    loss = np.where(N == 8, 1.0, 2.0)  # width 8 best at every budget
    frontier, budgets, why = bracketed_frontier(N, loss, N * t, 6)
    assert frontier is None and budgets == 6
    assert why == "the 4 budgets that bracket their optimum all have it at N = 8: too few widths for these budgets"
    # one width left (the others diverged): no frontier, said so (fit_frontier's error had propagated)
    one, steps = np.full(5, 8.0), np.arange(1.0, 6.0)
    frontier, budgets, why = bracketed_frontier(one, 1 / steps, one * steps, 3)
    assert frontier is None and budgets == 0 and why.startswith("no frontier: 0 distinct budget(s)")
    # the widest run best at every budget: no budget brackets its optimum
    frontier, budgets, why = bracketed_frontier(N, 1 / N, N * t, 6)
    assert frontier is None and budgets == 6
    assert why == ("fewer than 2 of the 6 budgets bracket their optimum; the fit needs 3 (more widths, or more "
                   "steps)")


# mutant: finish() recorded seed 0 whatever --seed said
def test_finish_records_the_runs_seed(tmp_path, capsys):
    from toyscale.runner import experiment_args, finish

    args = experiment_args("demo", "", {"quick": {"seeds": 2}}, ["--out", str(tmp_path), "--seed", "5"])
    assert finish(args, "demo", {})["seed"] == 5
    assert json.loads((tmp_path / "summary.json").read_text())["seed"] == 5


# mutant: no note where the models share draws (a fit's stderr then understated the seeds' spread)
def test_finish_notes_that_shared_draws_correlate_a_curves_points(tmp_path, capsys):
    from toyscale.runner import experiment_args, finish
    from toyscale.train import TrainConfig

    args = experiment_args("demo", "", {"quick": {"seeds": 2}}, ["--out", str(tmp_path)])
    summary = finish(args, "demo", {"config": TrainConfig(n=8, common_across=("m", "lr_w")).to_dict()})
    assert "note: the models share their draws across m, lr_w (common_across)" in capsys.readouterr().out
    assert "assume independent points" in json.loads((tmp_path / "summary.json").read_text())["common_draws_note"]
    assert "common_draws_note" in summary
    for config in (TrainConfig(n=8).to_dict(), None):
        assert "common_draws_note" not in finish(args, "demo", {"config": config})
    assert "note:" not in capsys.readouterr().out


# mutant: _unsafe_text looked only at an object's values, not its keys (two keys sharing a folder)
def test_object_values_whose_keys_differ_only_in_unsafe_characters_get_different_folders():
    from toyscale.runner import experiment_args

    presets = {"quick": {"tag": "x", "seeds": 2}}
    a = experiment_args("demo", "", presets, ["--set", 'tag={"a b": 1}']).out
    b = experiment_args("demo", "", presets, ["--set", 'tag={"a/b": 1}']).out
    assert a != b


# mutant: a list of ints and floats in the preset (old) read as ints, not floats: two folders for one setting
def test_a_mixed_number_list_setting_is_read_as_floats():
    from toyscale.runner import experiment_args

    presets = {"quick": {"gammas": [-1, 0.5]}}
    args = experiment_args("demo", "", presets, ["--set", "gammas=[1,2]"])
    assert args.settings["gammas"] == [1.0, 2.0] and all(type(v) is float for v in args.settings["gammas"])
    assert args.out == experiment_args("demo", "", presets, ["--set", "gammas=[1.0,2.0]"]).out


# mutant: only "off" turned the compilation cache off (not "", "0", "no", "false")
def test_every_spelling_of_off_turns_the_compilation_cache_off(tmp_path):
    # (one process: the "off" path never touches JAX's config, so each spelling is tried in turn)
    full = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "XDG_CACHE_HOME")}
    full.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), JAX_PLATFORMS="cpu")
    code = ("import os\nfrom toyscale.runner import use_compilation_cache\n"
            "for v in ('off', ' False ', 'no', '0', '', 'OFF'):\n"
            "    os.environ['TOYSCALE_COMPILATION_CACHE'] = v\n    print(repr(v), use_compilation_cache())\n")
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert out.stdout.splitlines()[-6:] == [f"{v!r} None" for v in ("off", " False ", "no", "0", "", "OFF")]


# ----------------------------------------------------------------------------- the scripts' helpers and summaries
# (a second hand mutation run, 2026-12-05: each test below fails on the mutants it names;
# benchmarks/RESULTS.md, twenty-fifth session, counts the run)


def _stand_in_sweep(module, outputs):
    """Replaces ``module``'s sweep by records of its own grid, no training: ``outputs(point)`` gives a record's
    outputs, or ``(outputs, True)`` for a diverged one."""
    def sweep(args, fn, config, points, **options):
        records = []
        for i, p in enumerate(points):
            out = outputs(p)
            out, diverged = out if isinstance(out, tuple) else (out, False)
            records.append(Record(i, p, diverged, out))
        return SweepResult(records, {"points": points}, {})

    module.run_experiment_sweep = sweep
    return module


# (mutation check) kills: R1 (one standard error for two), R2 (one side's error counted twice), R9 (a flat step
# counted as a rise), R3 (log_sizes keeps repeats). rises was only compared with a count it also computes.
def test_more_is_better_counts_rises_beyond_two_combined_standard_errors_and_sizes_without_repeats():
    module = load("more_is_better")
    loss = np.array([2.0, 2.3, 2.2, 2.32, 2.82, 2.82])
    sem = np.array([0.5, 0.05, 0.05, 0.05, 0.05, 0.05])
    # steps +0.3 (2 combined errors: 1.005), -0.1, +0.12 (0.141), +0.5 (0.141), 0 (flat)
    assert module.rises(loss) == 3 and module.rises(loss, sem) == 1
    sizes = module.log_sizes(4, 64, 100)  # 100 log-spaced values, 61 integers to round to
    assert sizes == sorted(set(sizes)) and sizes[0] == 4 and sizes[-1] == 64 and 50 < len(sizes) <= 61
    assert module.log_sizes(10, 1000, 3) == [10, 100, 1000]
    # the paper preset's sizes are Simon et al.'s grid: np.logspace(1, 4, 31) truncated (their utils.int_logspace),
    # not rounded (13 of the 31 had been one larger: 13 for their 12, 126 for 125)
    theirs = np.logspace(1, 4, num=31, base=10).astype(int)
    assert module.PRESETS["paper"]["sizes"] == theirs.tolist() and theirs[1] == 12 and 125 in theirs
    assert module.simon_sizes(0, 1, 31) == list(range(1, 32))  # (repeats raised one above the last, as theirs)


# mutant: the theory's floor slope over every width where the floor fit left one out
def test_plrf_frontier_fits_the_floors_theory_over_the_widths_of_the_floor_fit(tmp_path, capsys):
    from toyscale.fitting import fit_power_law
    from toyscale.theory import plrf_floor

    def outputs(p):  # (width 8's floors NaN: the floor fit has 4 widths)
        r = 10.0 * np.arange(1, p["steps"] // 10 + 1)
        return {"loss_curve": r**-0.5 + 0.5 / p["d"], "loss_floor": np.float64(np.nan if p["d"] == 8 else 0.5 / p["d"])}

    module = _stand_in_sweep(load("plrf_frontier"), outputs)
    module.main(["--preset", "smoke", "--set", "seed_resamples=0", "--out", str(tmp_path / "plrf"), "--figures",
                 str(tmp_path / "fig"), "--no-progress"])
    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "plrf" / "summary.json").read_text())
    want = fit_power_law(np.array([4.0, 16, 32, 64]), plrf_floor([4, 16, 32, 64], 0.7, 0.7)).exponent
    assert summary["floor_theory_exponent"] == pytest.approx(want, rel=1e-9)
    assert summary["exponents"]["floor"]["fitted"] == pytest.approx(1.0, rel=1e-6)
    assert f"falls as d^-{want:.3f} over the widths of the floor fit, d = 4, 16, 32, 64, and as d^-" in printed
    # every run diverged: the floors are still fitted, and the header says they are kept (it had said every mean
    # left the diverged runs out, and the floor fit was dropped, blaming plrf.floor)
    diverged = _stand_in_sweep(load("plrf_frontier"), lambda p: (outputs(p), True))
    diverged.main(["--preset", "smoke", "--set", "seed_resamples=0", "--out", str(tmp_path / "all"), "--figures",
                   str(tmp_path / "fig"), "--no-progress"])
    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "all" / "summary.json").read_text())
    assert summary["exponents"]["floor"]["fitted"] == pytest.approx(1.0, rel=1e-6)
    assert "10 diverged (their loss curves left out of the means; their floors, which SGD does not change, kept)" \
        in printed and "plrf.floor=true" not in printed


# (mutation check) kills: P1 (a model with exactly MIN_ROWS represented rows left out), P2 (nu = m given a Welch
# bound of 0 and a division by it), P3 (var_over_random NaN at exactly MIN_ROWS long rows), P4 (nu = phi_1 n
# truncated, not rounded). The existing check has 20 long rows (or 8) and m = 4 or 30: no boundary.
def test_geometry_row_counts_at_their_boundaries():
    from toyscale.measure import random_overlap_moments

    geometry = load("geometry")
    assert geometry.MIN_ROWS == 10
    at = Record(0, {"m": 4, "gamma": -1.0}, False, {"n_represented": np.int32(10), "overlap_mean": np.float32(0.2)})
    below = Record(1, {"m": 4, "gamma": -1.0}, False, {"n_represented": np.int32(9), "overlap_mean": np.float32(0.2)})
    assert geometry.enough_rows("overlap_mean")(at) == pytest.approx(0.2) and np.isnan(geometry.enough_rows(
        "overlap_mean")(below))
    measures = geometry.long_row_measures(40)
    # nu = 0.25 x 40 = 10 = MIN_ROWS long rows in m = 10 dimensions: counted, but orthogonal rows fit (no bound)
    square = Record(2, {"m": 10, "gamma": -1.0}, False, {"phi_one": np.float32(0.25), "overlap_mean_one": np.float32(
        0.01), "overlap_var_one": np.float32(0.001)})
    got = {k: f(square) for k, f in measures.items()}
    assert got["nu"] == 10 and got["var_over_random"] == pytest.approx(0.001 / random_overlap_moments(10)[1], rel=1e-6)
    assert np.isnan(got["welch_bound"]) and np.isnan(got["over_welch"]) and np.isnan(got["random_over_welch"])
    # phi_1 as float32 times n lands just below the whole number it stands for
    phi = np.float32(0.29)
    assert float(phi) * 100 < 29
    assert geometry.long_row_measures(100)["nu"](Record(3, {"m": 4}, False, {**square.outputs, "phi_one": phi})) == 29


# (mutation check) kills: Q2 (a width that only one density kept given a spread of 1), Q3 (exponent_stderr the
# prefactor's), Q4 (r2 its square root). The smoke test keeps every width of both densities.
def test_activation_density_summary_of_a_stand_in_sweep(tmp_path, capsys):
    module = _stand_in_sweep(load("activation_density"), lambda p: (
        ({"test_loss": np.float32(np.nan)}, True) if p["frequencies"]["E"] > 1 and p["m"] == 6 else
        {"test_loss": np.float32(p["frequencies"]["E"] * 2.0 * p["m"] ** -1.1 * {3: 1.0, 4: 1.06, 6: 0.97}[p["m"]])}))
    module.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                 "--no-progress"])
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    rows = on_disk["densities"]
    assert [r["m"] for r in rows] == [[3, 4, 6], [3, 4]] and [r["diverged"] for r in rows] == [0, 1]
    for r in rows:
        # ordinary least squares of log L on log m
        x, y = np.log(r["m"]), np.log(r["loss"])
        slope, icpt = np.polyfit(x, y, 1)
        res = y - (slope * x + icpt)
        assert r["exponent"] == pytest.approx(-slope, rel=1e-5)
        if len(x) > 2:
            assert r["r2"] == pytest.approx(1 - res @ res / np.sum((y - y.mean()) ** 2), rel=1e-5)
            assert r["exponent_stderr"] == pytest.approx(np.sqrt(res @ res / (len(x) - 2) / np.sum(
                (x - x.mean()) ** 2)), rel=1e-4)
    spread = on_disk["loss_over_E_spread"]
    assert spread["3"] == pytest.approx(1.0, rel=1e-5) and spread["4"] == pytest.approx(1.0, rel=1e-5)
    assert spread["6"] is None  # (one density at m = 6: no spread)
    assert "m=6: nan" in capsys.readouterr().out


# (mutation check) kills: S1 (the time fit's floor from every run of the widest width, diverged ones too, not from
# the runs its curve averages), S9 (the same in over_long_time), S4 (time_fit_end at the last logged step, not the
# window's end). The smoke test has no divergence, where the two floors agree.
def test_compute_optimal_fits_the_curve_above_the_floor_of_its_own_runs(tmp_path, capsys):
    t = 10.0 * np.arange(1, 41)

    def outputs(p):
        if p["N"] == 32 and p["seed"] == 1:  # gradient descent diverged; its ridgeless solve did not
            return {"loss_curve": np.full(40, np.nan), "loss_infinite_time": np.float64(1.0)}, True
        return {"loss_curve": t ** -0.5 + 1.0 / p["N"], "loss_infinite_time": np.float64(1.0 / p["N"])}

    module = _stand_in_sweep(load("compute_optimal"), outputs)
    module.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                 "--no-progress"])
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["ridgeless_loss"] == pytest.approx([1 / 4, 1 / 8, 1 / 16, (1 / 32 + 1.0) / 2])
    assert on_disk["ridgeless_loss_of_curves"] == pytest.approx([1 / 4, 1 / 8, 1 / 16, 1 / 32])
    above = on_disk["exponents"]["time_above_floor"]
    assert above["fitted"] == pytest.approx(0.5, rel=1e-6) and above["points"] == 19  # t = 20, 30, ..., 200
    assert on_disk["time_fit_end"] == pytest.approx({"t": 200.0, "over_long_time": (200 ** -0.5 + 1 / 32) * 32})
    assert on_disk["diverged"] == 1


def test_compute_optimal_fits_the_width_exponent_through_three_widths_or_says_why(tmp_path, capsys):
    # Two widths with a finite long-time loss had been fitted, printing "1.000 ± nan  [   nan,    nan]"
    # (a power law through 2 points has no error bar); prepare() already asks for 3 widths
    t = 10.0 * np.arange(1, 41)
    for lost, fitted in (((4, 8), False), ((4,), True)):
        module = _stand_in_sweep(load("compute_optimal"), lambda p: {
            "loss_curve": t ** -0.5 + 1.0 / p["N"],
            "loss_infinite_time": np.float64(np.nan if p["N"] in lost else 1.0 / p["N"])})
        out = tmp_path / f"out{len(lost)}"
        module.main(["--preset", "smoke", "--out", str(out), "--figures", str(tmp_path / "fig"), "--no-progress"])
        printed = capsys.readouterr().out
        row = json.loads((out / "summary.json").read_text())["exponents"]["width"]
        assert " nan" not in printed
        if fitted:
            assert row["fitted"] == pytest.approx(1.0, rel=1e-6) and row["points"] == 3 and row["stderr"] is not None
        else:
            assert row["fitted"] is None
            assert row["why"] == "2 width(s) with a finite long-time loss (the fit needs 3)"
            assert "not fitted: 2 width(s) with a finite long-time loss (the fit needs 3)" in printed


# mutants: the list of seeds read in sorted-width order (not the order of widths); every width given the first
# count; the summary's counts in the given order; the int's grid reordered (an old folder then could not resume)
def test_compute_optimal_gives_each_width_its_own_seeds(tmp_path, capsys):
    # (the small widths' long-time losses vary most from seed to seed and cost least: benchmarks/width_noise.py)
    module = load("compute_optimal")
    pre = module.PRESETS["smoke"]
    _, widths, grid = module.prepare({**pre, "widths": [32, 4, 16, 8], "seeds": [1, 3, 2, 2]})
    assert widths == [4, 8, 16, 32]
    assert [(p["N"], p["seed"]) for p in grid] == [(4, 0), (4, 1), (4, 2), (8, 0), (8, 1), (16, 0), (16, 1), (32, 0)]
    # one count for every width: the grid the script always made (N-major), whose folders a list extends
    _, _, same = module.prepare({**pre, "seeds": 2})
    from toyscale.random_features import random_feature_grid
    assert same == random_feature_grid(N=[4, 8, 16, 32], T=[pre["T"]], alpha=[pre["alpha"]], seeds=2, method="gd",
                                       steps=pre["steps"], lr=pre["lr"], infinite_time=True)
    assert module.prepare({**pre, "seeds": np.int64(2)})[2] == same  # (a caller's numpy count, as before)
    assert module.prepare({**pre, "seeds": [2.0, 2, 2, 2]})[2] == same  # (a whole float, as --set reads seeds=2.0)
    _, _, more = module.prepare({**pre, "seeds": [4, 2, 2, 2]})
    assert all(p in more for p in same) and len(more) == len(same) + 2
    t = 10.0 * np.arange(1, 41)
    module = _stand_in_sweep(module, lambda p: {"loss_curve": t ** -0.5 + 1.0 / p["N"],
                                                "loss_infinite_time": np.float64((1 + p["seed"]) / p["N"])})
    module.main(["--preset", "smoke", "--set", "widths=[32,4,16,8]", "--set", "seeds=[1,3,2,2]", "--out",
                 str(tmp_path / "out"), "--figures", str(tmp_path / "fig"), "--no-progress"])
    printed = capsys.readouterr().out
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["seeds_per_width"] == [3, 2, 2, 1] and on_disk["models"] == 8
    assert on_disk["ridgeless_loss"] == pytest.approx([2 / 4, 1.5 / 8, 1.5 / 16, 1 / 32])
    assert printed.startswith("8 models (seeds 3, 2, 2, 1 at N = 4, 8, 16, 32), M = 128"), printed
    module.main(["--preset", "smoke", "--out", str(tmp_path / "even"), "--figures", str(tmp_path / "fig"),
                 "--no-progress"])
    assert capsys.readouterr().out.startswith("8 models (4 widths x 2 seeds), M = 128")
    # widths that share a seed's draws are paired seed by seed: one count for all of them
    shared = {**pre, "rf": {**pre["rf"], "common_across": ["N"]}}
    assert len(module.prepare({**shared, "seeds": [2, 2, 2, 2]})[2]) == 8
    with pytest.raises(ValueError, match=re.escape("seeds=[3, 2, 2, 2] with rf.common_across=['N']; widths that "
                                                   "share a seed's draws are paired seed by seed")):
        module.prepare({**shared, "seeds": [3, 2, 2, 2]})


# (mutation check) kills: S2 (a frontier fitted through 2 bracketed budgets). The existing cases bracket 4 (at one
# width), 0 or fewer than 2 budgets, none exactly 2.
def test_compute_optimal_frontier_needs_three_bracketed_budgets():
    N = np.repeat([2.0, 4.0, 8.0, 16.0, 32.0], 40)
    C = N * np.tile(np.arange(1.0, 41.0), 5)
    loss = (np.log(N) - np.log(np.sqrt(C) / 2)) ** 2 + 1 / np.sqrt(C)  # lowest at N = sqrt(C) / 2
    frontier, budgets, why = bracketed_frontier(N, loss, C, 3)
    assert frontier is None and budgets == 3
    assert why == "2 of the 3 budgets bracket their optimum; the fit needs 3 (more widths, or more steps)"
    frontier, budgets, why = bracketed_frontier(N, loss, C, 6)
    assert why is None and frontier.C.size == 3 and np.all(np.diff(frontier.N_opt) >= 0)


# (mutation check) kills: P7 (the printed strong-superposition prediction phi_1 ≈ min(1, m^2 / 2n) not capped at 1).
# The smoke widths (m <= 6 at n = 48) never reach m^2 > 2n.
def test_geometry_prints_the_capped_strong_prediction_for_phi_one(tmp_path, capsys):
    def outputs(p):
        m, k = p["m"], 2 * p["m"]  # 2m represented rows, none longer than 1
        return {"test_loss": np.float32(1.0 / m), "row_norms": np.r_[np.ones(k), np.zeros(48 - k)].astype(np.float32),
                "phi_half": np.float32(k / 48), "phi_one": np.float32(0.0), "n_represented": np.int32(k),
                "overlap_mean": np.float32(1.0 / m), "overlap_var": np.float32(0.01),
                "overlap_mean_one": np.float32(0.0), "overlap_var_one": np.float32(0.0)}

    _stand_in_sweep(load("geometry"), outputs).main(
        ["--preset", "smoke", "--set", "widths=[3,4,10]", "--out", str(tmp_path / "out"), "--figures",
         str(tmp_path / "fig"), "--no-progress"])
    printed = capsys.readouterr().out
    for m in (3, 4, 10):
        rows = [line.split() for line in printed.splitlines() if line.startswith(f"  {m:>5} {1 / m:>8.4f} ")]
        assert len(rows) == 2, printed  # (one per gamma)
        for row in rows:  # m, loss, L/own, L/top, phi_1/2, m/n, phi_1, m^2/2n capped at 1, ...
            assert row[5] == f"{m / 48:.3f}" and row[7] == f"{min(1.0, m * m / 96):.3f}", row


# (mutation check) kills: S10 (time_fit with t_min = t_max let through). The documented setting is
# log_every <= t_min < t_max <= steps; only a window outside the steps and a list of the wrong shape were tested.
def test_compute_optimal_refuses_a_time_window_of_one_instant():
    module = load("compute_optimal")
    pre = module.PRESETS["smoke"]
    with pytest.raises(ValueError, match=re.escape("time_fit=[100, 100]; time_fit must be [t_min, t_max] with "
                                                   "log_every=10 <= t_min < t_max <= steps=400")):
        module.prepare({**pre, "time_fit": [100, 100]})
    assert module.prepare({**pre, "time_fit": [100, 130]})[1] == pre["widths"]  # (4 logged steps inside)


# (mutation check) kills: S8 (the interval of a sign-flipped exponent left as the fit's, around -x). The smoke
# frontier's interval is wide enough to hold both x and -x.
def test_compute_optimal_row_flips_the_interval_with_the_exponent():
    from toyscale.fitting import fit_power_law
    from toyscale.runner import exponent_row

    C = np.array([1e2, 1e3, 1e4, 1e5])
    fit = fit_power_law(C, 0.5 * C ** (1 / 3) * np.array([1.0, 1.1, 0.95, 1.02]))  # N* = k C^(1/3): exponent -1/3
    lo, hi = fit.t_interval()
    line, row = exponent_row("N* ~ C^x", fit, 1 / 3, sign=-1.0)
    assert row["fitted"] == pytest.approx(-fit.exponent) and row["t_interval"] == pytest.approx([-hi, -lo])
    assert row["t_interval"][0] < row["fitted"] < row["t_interval"][1] and row["points"] == 4
    assert f"{-fit.exponent:6.3f} ± {fit.stderr['exponent']:.3f}  [{-hi:6.3f}, {-lo:6.3f}]  0.333" in line


def _power_law_sweep(slope=1.1, noise=0.02):
    """A stand-in sweep: each point's test loss m^-slope times 1 + noise or 1 - noise, by record."""
    def fake_sweep(config, points, *, seed, out, progress):
        records = [Record(i, p, False, {"test_loss": np.float64(p["m"] ** -slope * (1 + noise * (-1) ** i)),
                                        "empty_loss": np.float64(9.0)})
                   for i, p in enumerate(json.loads(json.dumps(points)))]
        return SweepResult(records=records, manifest={"points": points}, stats={})
    return fake_sweep


@pytest.mark.parametrize("name, seeds, fits, line", [
    ("superposition_scaling", 2, 6, r"alpha_m = 1\.\d{3} \(no stderr or t interval through 2 widths\), redrawn seeds "
                                    r"\[1\.\d{3}, 1\.\d{3}\]  R\^2 = 1\.000  fit over m = 3\.\.6 "
                                    r"\(2 widths, 0 diverged\)"),
    ("activation_density", 1, 2, r"alpha_m = 1\.\d{3} \(no stderr or t interval through 2 widths\)  R\^2 = 1\.000  "
                                 r"\(2 widths, 0 diverged\)")])
def test_a_width_exponent_through_two_widths_is_printed_without_an_error_bar(name, seeds, fits, line, tmp_path,
                                                                             monkeypatch, capsys):
    # through 2 widths a power law is exact, with no stderr or t interval: these scripts (whose
    # presets may have 2 widths) had printed "± nan  95%: t [nan, nan]"
    module = load(name)
    monkeypatch.setattr(module, "sweep_superposition", _power_law_sweep())
    module.main(["--preset", "smoke", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
                 "--no-progress", "--set", "widths=[3,6]", "--set", f"seeds={seeds}"])
    printed = capsys.readouterr().out
    fitted = [row for row in printed.splitlines() if "alpha_m = " in row]
    assert len(fitted) == fits and all(re.search(line, row) for row in fitted), printed
    assert "nan" not in printed.lower()
    # and summary.json has null for them (strict JSON), beside the exponent
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    rows = ([dict(exponent=on_disk["exponents"][r][d], exponent_stderr=on_disk["exponent_stderr"][r][d],
                  exponent_t_interval=on_disk["exponent_t_interval"][r][d]) for r in on_disk["exponents"]
             for d in on_disk["exponents"][r]] if name == "superposition_scaling" else on_disk["densities"])
    assert len(rows) == fits
    for row in rows:
        assert row["exponent"] == pytest.approx(1.1, abs=0.05) and row["exponent_stderr"] is None
        assert row["exponent_t_interval"] == [None, None]


def test_geometry_prints_a_t_interval_or_why_it_has_none():
    from toyscale.fitting import fit_power_law
    geometry = load("geometry")
    m = np.array([3.0, 4, 6])
    loss = m**-1.1 * np.array([1.02, 0.98, 1.01])
    three = fit_power_law(m, loss)
    lo, hi = three.t_interval()
    assert geometry._t_text(three) == f"95% t [{lo:.3f}, {hi:.3f}]" and np.isfinite([lo, hi]).all()
    # (through 2 widths it had printed "95% t [nan, nan]")
    assert geometry._t_text(fit_power_law(m[:2], loss[:2])) == "no t interval through 2 widths"


# (mutation check over phase_diagram.py) kills: the printed alpha_m table transposed, alpha_m_stderr the prefactor's,
# the widest interval placed in the wrong cell, gamma = 0 put on the weak side and alpha = 1 under the alpha > 1 law,
# the phi_1/2 line at the middle alpha rather than the one nearest 1, and summary.json's config the preset's few
# fields. The smoke grid (gamma -1, 1 by alpha 0.5, 1.5: square, no gamma = 0 or alpha = 1) tells none of these apart.
def test_phase_diagram_summary_of_a_stand_in_sweep(tmp_path, capsys):
    from toyscale.train import TrainConfig

    gammas, alphas, widths = [-1.0, 0.0, 1.0], [0.25, 1.0, 1.5, 2.0], [3, 4, 6]

    def loss(m, g, a):  # exponent 1 + a/2 - g/10, scatter about the line largest at gamma = 1, alpha = 2
        e = 0.02 + 0.01 * a + 0.005 * (g + 1)
        return 2.0 * m ** -(1 + 0.5 * a - 0.1 * g) * {3: 1.0, 4: 1 + e, 6: 1 - e / 2}[m]

    def phi(m, g, a):
        return m / 32 * (1 + a) + g / 100

    module = _stand_in_sweep(load("phase_diagram"), lambda p: {
        "test_loss": np.float64(loss(p["m"], p["gamma"], p["frequencies"]["alpha"])),
        "phi_half": np.float64(phi(p["m"], p["gamma"], p["frequencies"]["alpha"]))})
    module.main(["--preset", "smoke", "--set", "gammas=[-1.0,0.0,1.0]", "--set", "alphas=[0.25,1.0,1.5,2.0]",
                 "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"), "--no-progress"])
    printed = capsys.readouterr().out
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    x = np.log(widths)
    exponent, stderr = np.zeros((3, 4)), np.zeros((3, 4))
    for i, g in enumerate(gammas):
        for j, a in enumerate(alphas):  # ordinary least squares of log L on log m
            y = np.log([loss(m, g, a) for m in widths])
            slope, icpt = np.polyfit(x, y, 1)
            res = y - (slope * x + icpt)
            exponent[i, j] = -slope
            stderr[i, j] = np.sqrt(res @ res / (len(x) - 2) / np.sum((x - x.mean()) ** 2))
    np.testing.assert_allclose(on_disk["alpha_m"], exponent, rtol=1e-6)
    np.testing.assert_allclose(on_disk["alpha_m_stderr"], stderr, rtol=1e-4)
    for i, g in enumerate(gammas):  # rows gamma, columns alpha, as the header says
        assert f"{g:13.2f} " + " ".join(f"{v:6.2f}" for v in exponent[i]) + "\n" in printed
    iv = np.asarray(on_disk["alpha_m_t_interval"])
    half = (iv[..., 1] - iv[..., 0]) / 2
    assert np.unravel_index(np.argmax(half), half.shape) == (2, 3)
    assert re.search(rf"95% intervals t: .*, widest ±{half[2, 3]:.2f} \[{iv[2, 3, 0]:.2f}, {iv[2, 3, 1]:.2f}\] "
                     rf"at gamma=1\.00, alpha=2\.00\n", printed)
    assert ("weak side (gamma > 0) against alpha_m ≈ alpha - 1 (alpha > 1), measured / law: gamma=1.00: "
            f"{exponent[2, 2]:.2f} / 0.50 at alpha=1.5, {exponent[2, 3]:.2f} / 1.00 at alpha=2\n") in printed
    assert ("phi_1/2 at m = 4 (n = 32, m/n = 0.125), alpha = 1 column: "
            + ", ".join(f"gamma={g:.2f}: {phi(4, g, 1.0):.3f}" for g in gammas) + "\n") in printed
    assert on_disk["config"] == TrainConfig.from_dict(module.PRESETS["smoke"]["train"]).to_dict()


# (mutation check over superposition_scaling.py) kills: a tie counted as "strong loss below weak loss", r2 stored as
# its square root, the published exponents printed to one digit too few, and --set tau ignored (the exponential's
# tau fixed at 400). The other stand-in sweeps have no tie, an R^2 of 1 and the preset's tau.
def test_superposition_scaling_summary_of_a_stand_in_sweep(tmp_path, capsys):
    scatter = {3: 1.0, 4: 1.05, 6: 0.97}
    taus = set()

    def loss(m, regime, kind):  # strong below weak, but level with it for the power law at m = 4
        tie = kind == "power_law" and m == 4
        return m ** -1.1 * (1.0 if regime == "strong" or tie else 1.5) * scatter[m]

    def outputs(p):
        if p["frequencies"]["kind"] == "exponential":
            taus.add(p["frequencies"]["tau"])
        return {"test_loss": np.float64(loss(p["m"], "strong" if p["gamma"] < 0 else "weak", p["frequencies"]["kind"]))}

    _stand_in_sweep(load("superposition_scaling"), outputs).main(
        ["--preset", "smoke", "--set", "tau=50.0", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "fig"),
         "--no-progress"])
    printed = capsys.readouterr().out
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert taus == {50.0}
    assert on_disk["strong_below_weak"] == {"exponential": True, "power": False, "linear": True}
    x = np.log([3, 4, 6])
    y = np.log([scatter[m] for m in (3, 4, 6)])  # (a constant factor leaves R^2 alone)
    res = y - np.polyval(np.polyfit(x, y, 1), x)
    y = -1.1 * x + y
    r2 = 1 - res @ res / np.sum((y - y.mean()) ** 2)
    assert on_disk["r2"]["strong"] == pytest.approx({"exponential": r2, "power": r2, "linear": r2}, rel=1e-6)
    assert on_disk["r2"]["weak"]["exponential"] == pytest.approx(r2, rel=1e-6)
    assert ("published, strong (n = 10240, m = 8..1024): exponential 1.01 ± 0.05, power 1.0 ± 0.1, "
            "linear 0.89 ± 0.05\n") in printed


# mutants: the script redrew each width's seeds on their own where its models share draws across m; its lack of
# fit not printed, or not saved; Holm's adjustment not over every curve tested
def test_superposition_scaling_redraws_one_set_of_seeds_for_every_width_where_m_is_shared(tmp_path, capsys):
    from toyscale.scaling import WidthCurve, holm_adjusted, lack_of_fit, width_exponent

    level = {0: -0.3, 1: 0.1, 2: 0.4, 3: -0.2}  # a seed's level, shared by its widths, as one start and batch stream

    # two curves bend: the strong power law's p about 0.028 against its seeds, the weak linear's about 0.024; Holm's
    # adjustment over the six ties them at 6 x 0.024 = 0.143
    bends = {(True, "power_law"): 5.0, (False, "linear"): 5.2}

    def outputs(p):
        bend = bends.get((p["gamma"] < 0, p["frequencies"]["kind"]), 0.0) * np.log(p["m"] / 4) ** 2
        return {"test_loss": np.float64(p["m"] ** -1.1 * np.exp(level[p["seed"]] + bend) * (1 + 0.001 * (p["m"] % 5)))}

    widths = {}
    for name, shared in (("plain", []), ("shared", ["m", "lr_w", "lr_b"])):
        _stand_in_sweep(load("superposition_scaling"), outputs).main(
            ["--preset", "smoke", "--set", "seeds=4", "--set", f"train.common_across={json.dumps(shared)}", "--out",
             str(tmp_path / name), "--figures", str(tmp_path / name), "--no-progress"])
        on_disk = json.loads((tmp_path / name / "summary.json").read_text())
        lo, hi = on_disk["exponent_seed_interval"]["strong"]["power"]
        widths[name] = hi - lo
        assert ("common_draws_note" in on_disk) == bool(shared)
        # each curve's lack of fit against its seeds, printed and saved (the smoke widths 3, 4, 6, four seeds);
        # shared, the seeds' levels move every width alike, which the line's intercept takes up: nothing to test
        out = capsys.readouterr().out
        printed = out.count("  lack of fit: p = ")
        if shared:
            assert on_disk["lack_of_fit"]["strong"]["power"] is None and printed == 0
            continue
        strong_power = dict(gamma=-1.0, frequencies=dict(kind="power_law"))
        curve = WidthCurve.from_values([3, 4, 6], [[float(outputs(dict(m=m, seed=s, **strong_power))["test_loss"])
                                                    for s in range(4)] for m in (3, 4, 6)])
        want = lack_of_fit(curve, width_exponent(curve))
        saved = on_disk["lack_of_fit"]["strong"]["power"]
        assert saved["ratio"] == pytest.approx(want.ratio, rel=1e-6) and saved["p_value"] == pytest.approx(
            want.p_value, rel=1e-5, abs=1e-12)
        assert printed == 6
        # Holm's adjustment over the six curves tested, saved beside each p and its smallest printed
        tests = [test for regime in on_disk["lack_of_fit"].values() for test in regime.values()]
        holm = holm_adjusted([test["p_value"] for test in tests])
        assert [test["p_holm"] for test in tests] == pytest.approx(holm.tolist(), rel=1e-12)
        least = min(test["p_value"] for test in tests)  # (the weak linear curve's, though tied after Holm's)
        assert want.p_value > least == on_disk["lack_of_fit"]["weak"]["linear"]["p_value"]
        assert 6 * least == pytest.approx(holm.min()) and least < want.p_value < 0.05 < holm.min()
        assert f"lack of fit, Holm-adjusted over the 6 curves tested: p < 0.05 in {int((holm < 0.05).sum())} " \
               f"(smallest {holm.min():.3g}, weak linear)" in out
    # the shared level cancels in the exponent: redrawn together, the seeds leave it (almost) fixed
    assert widths["shared"] < 0.01 < 0.1 < widths["plain"], widths

    def one_tested(p):  # every curve but the strong power law's left with one model at m = 6
        gone = p["m"] == 6 and p["seed"] > 0 and not (p["gamma"] < 0 and p["frequencies"]["kind"] == "power_law")
        return ({"test_loss": np.float64(np.nan)}, True) if gone else outputs(p)

    _stand_in_sweep(load("superposition_scaling"), one_tested).main(
        ["--preset", "smoke", "--set", "seeds=4", "--out", str(tmp_path / "one"), "--figures", str(tmp_path / "one"),
         "--no-progress"])
    tests = json.loads((tmp_path / "one" / "summary.json").read_text())["lack_of_fit"]
    assert [test for regime in tests.values() for test in regime.values() if test] == [tests["strong"]["power"]]
    assert tests["strong"]["power"]["p_holm"] == tests["strong"]["power"]["p_value"]  # (Holm's of one test: its p)
    least = tests["strong"]["power"]["p_value"]
    assert f"Holm-adjusted over the 1 curve tested: p < 0.05 in 1 (smallest {least:.3g}, strong power)" in \
        capsys.readouterr().out


# mutant: seed_redraw skipping a curve with a width left with one model (the scripts then printed no
# interval over redrawn seeds and no reason, where the random-features script printed both)
def test_superposition_scripts_say_why_a_width_left_with_one_model_has_no_interval_over_redrawn_seeds(tmp_path, capsys):
    def outputs(p):  # seed 1 diverged at m = 6 in the strong regime, of the power law (alpha = 1.5 in the diagram)
        loss = np.float64(p["m"] ** -1.1 * (1.0 + 0.01 * p["seed"]) * (1 + 0.001 * (p["m"] % 5)))
        gone = p["seed"] == 1 and p["m"] == 6 and p["gamma"] < 0 and p["frequencies"].get("alpha") in (1.2, 1.5)
        return ({"test_loss": np.float64(np.nan), "phi_half": np.float64(np.nan)}, True) if gone else \
            {"test_loss": loss, "phi_half": np.float64(p["m"] / 32)}

    for name, extra in (("superposition_scaling", []), ("phase_diagram", ["--set", "alphas=[0.5,1.5]"])):
        _stand_in_sweep(load(name), outputs).main(
            ["--preset", "smoke", "--set", "seeds=2", *extra, "--out", str(tmp_path / name), "--figures",
             str(tmp_path / name), "--no-progress"])
        printed = capsys.readouterr().out
        on_disk = json.loads((tmp_path / name / "summary.json").read_text())
        why = "no interval over redrawn seeds (m = 6 has one model (the others diverged or were not swept)"
        if name == "superposition_scaling":
            strong = [line for line in printed.splitlines() if line.startswith("strong power ")]
            assert len(strong) == 1 and why in strong[0], printed
            assert on_disk["exponent_seed_interval"]["strong"]["power"] == [None, None]  # (nan: strict JSON)
            weak = on_disk["exponent_seed_interval"]["weak"]["power"]  # (both seeds at every width: an interval)
            assert weak[0] < on_disk["exponents"]["weak"]["power"] < weak[1]
        else:
            assert f"nan: at gamma=-1, alpha=1.5: {why}" in printed, printed
            seeds = on_disk["alpha_m_seed_interval"]
            assert seeds[0][1] == [None, None] and all(v is not None for v in seeds[0][0] + seeds[1][0] + seeds[1][1])


# mutants: seed_widen not passed from a superposition script to its fits (or the line saying so left out, or
# said as Welch-Satterthwaite's where the seeds are redrawn together, or printed where no interval came out); "t"
# accepted with one seed (nothing redrawn); the fits' notes not saved; geometry's and activation_density's lack of
# fit not tested, printed or Holm-adjusted
@pytest.mark.parametrize("name", ["superposition_scaling", "phase_diagram", "geometry", "activation_density"])
def test_superposition_scripts_widen_their_intervals_over_redrawn_seeds_by_t_when_asked(name, tmp_path, capsys):
    from toyscale.scaling import holm_adjusted

    module = load(name)
    n = module.PRESETS["smoke"]["train"]["n"]

    def outputs(p):  # each seed a level of its own at each width, so that redrawing them moves the exponent
        m, k = p["m"], 2 * p["m"]
        level = (1.0 + 0.05 * (-1) ** p["seed"] * (1 + 0.5 * (m % 3))) * (1 + 0.1 * p["gamma"])
        return {"test_loss": np.float64(level * m ** -1.1), "phi_half": np.float32(k / n), "phi_one": np.float32(0.0),
                "row_norms": np.r_[np.ones(k), np.zeros(n - k)].astype(np.float32), "n_represented": np.int32(k),
                "overlap_mean": np.float32(1.0 / m), "overlap_var": np.float32(0.01),
                "overlap_mean_one": np.float32(0.0), "overlap_var_one": np.float32(0.0)}

    def fits(summary, what):  # every fit's exponent (what 0), interval over redrawn seeds (1) or notes (2)
        key = {"superposition_scaling": ("exponents", "exponent_seed_interval", "exponent_notes"),
               "phase_diagram": ("alpha_m", "alpha_m_seed_interval", "alpha_m_notes"),
               "geometry": ("loss_exponent", "loss_exponent_seed_interval", "loss_exponent_notes"),
               "activation_density": ("exponent", "exponent_seed_interval", "exponent_notes")}[name][what]
        if name == "superposition_scaling":
            return [summary[key][r][d] for r in ("strong", "weak") for d in ("power", "linear")]
        if name == "phase_diagram":
            return [cell for row in summary[key] for cell in row]
        return [r[key] for r in (summary["regimes"].values() if name == "geometry" else summary["densities"])]

    runs = {}
    for widen in ("sqrt", "t"):
        _stand_in_sweep(load(name), outputs).main(
            ["--preset", "smoke", "--set", "seeds=2", "--set", f"seed_widen={widen}", "--out", str(tmp_path / widen),
             "--figures", str(tmp_path / widen), "--no-progress"])
        printed = capsys.readouterr().out
        assert ("intervals over redrawn seeds: each also widened about its median by t / z on the "
                "Welch-Satterthwaite" in printed) == (widen == "t"), printed
        runs[widen] = json.loads((tmp_path / widen / "summary.json").read_text())
        if name in ("geometry", "activation_density"):  # each loss curve's lack of fit, Holm-adjusted over them
            rows = runs[widen]["regimes"].values() if name == "geometry" else runs[widen]["densities"]
            tests = [r["loss_lack_of_fit" if name == "geometry" else "lack_of_fit"] for r in rows]
            assert len(tests) >= 2 and all(t and 0 <= t["p_value"] <= t["p_holm"] <= 1 for t in tests), tests
            assert [t["p_holm"] for t in tests] == pytest.approx(holm_adjusted([t["p_value"] for t in tests]).tolist())
            what = "regimes" if name == "geometry" else "densities"
            assert f"lack of fit, Holm-adjusted over the {len(tests)} {what} tested: p < 0.05 in " in printed, printed
            assert printed.count("lack of fit: p = ") == len(tests), printed
    plain, wide = (fits(runs[w], 1) for w in ("sqrt", "t"))
    assert fits(runs["t"], 0) == fits(runs["sqrt"], 0) and len(plain) >= 2
    # each fit's notes saved: how its intervals were drawn and, with "t", widened (t / z on its degrees of freedom)
    for widen in ("sqrt", "t"):
        saved = fits(runs[widen], 2)
        assert len(saved) == len(plain) and all("resample each width's seeds" in " ".join(n) for n in saved), saved
        assert all(("degrees of freedom (Welch-Satterthwaite" in " ".join(n)) == (widen == "t") for n in saved), saved
    # the seeds redrawn together across widths: the line says so, not Welch-Satterthwaite
    _stand_in_sweep(load(name), outputs).main(
        ["--preset", "smoke", "--set", "seeds=2", "--set", "seed_widen=t", "--set",
         'train.common_across=["m","lr_w","lr_b"]', "--out", str(tmp_path / "shared"), "--figures",
         str(tmp_path / "shared"), "--no-progress"])
    printed = capsys.readouterr().out
    assert "t / z on the k - 1 degrees of freedom of the k seeds redrawn together" in printed, printed
    assert "Welch-Satterthwaite" not in printed
    # seed 1 diverged at m = 6 everywhere: each curve's widest width left with one model, no interval, no line
    _stand_in_sweep(load(name), lambda p: ({**outputs(p), "test_loss": np.float64(np.nan)}, True)
                    if (p["seed"], p["m"]) == (1, 6) else outputs(p)).main(
        ["--preset", "smoke", "--set", "seeds=2", "--set", "seed_widen=t", "--out", str(tmp_path / "gone"),
         "--figures", str(tmp_path / "gone"), "--no-progress"])
    printed = capsys.readouterr().out
    gone = fits(json.loads((tmp_path / "gone" / "summary.json").read_text()), 1)
    assert gone and np.isnan(np.asarray(gone, dtype=float)).all() and "each also widened" not in printed, printed
    for (lo, hi), (wlo, whi) in zip(plain, wide):  # (two seeds at three widths: t on a few degrees of freedom)
        assert wlo < lo < hi < whi and whi - wlo > 1.5 * (hi - lo), (plain, wide)
    with pytest.raises(ValueError, match="seed_widen='z'; seed_widen must be 'sqrt'"):
        module.prepare({**module.PRESETS["smoke"], "seed_widen": "z", "seeds": 2})
    with pytest.raises(ValueError, match="seed_widen='t' with one seed per point; .*: give seeds=2 or more"):
        module.prepare({**module.PRESETS["smoke"], "seed_widen": "t", "seeds": [3]})
    module.prepare({**module.PRESETS["smoke"], "seed_widen": "t", "seeds": [3, 5]})


# mutants: the phase diagram's cells not tested for lack of fit (or not saved, or not paired under shared draws, or
# not Holm-adjusted over the cells)
def test_phase_diagram_tests_each_cells_power_law_against_its_seeds(tmp_path, capsys):
    from toyscale.scaling import WidthCurve, holm_adjusted, lack_of_fit, width_exponent

    def outputs(p):  # the gamma = 1, alpha = 1.5 cell bends far beyond its seeds' noise; each seed a level of its own
        m, s = p["m"], p["seed"]
        bend = 0.5 * (np.log(m) - np.log(4)) ** 2 if p["gamma"] > 0 and p["frequencies"]["alpha"] == 1.5 else 0.0
        return {"test_loss": np.float64(m**-1.1 * np.exp(bend + 0.05 * (s - 1) + 0.01 * ((s * 7 + m) % 3))),
                "phi_half": np.float64(m / 32)}

    for name, shared in (("plain", "[]"), ("shared", '["m"]')):
        _stand_in_sweep(load("phase_diagram"), outputs).main(
            ["--preset", "smoke", "--set", "seeds=3", "--set", "widths=[3,4,6,8]", "--set",
             f"train.common_across={shared}", "--out", str(tmp_path / name), "--figures", str(tmp_path / name),
             "--no-progress"])
        printed = capsys.readouterr().out
        p = np.array(json.loads((tmp_path / name / "summary.json").read_text())["alpha_m_lack_of_fit_p"])
        cell = [[outputs(dict(m=m, seed=s, gamma=1.0, frequencies=dict(alpha=1.5)))["test_loss"] for s in range(3)]
                for m in (3, 4, 6, 8)]
        curve = WidthCurve.from_values([3, 4, 6, 8], cell, seeds=[np.arange(3)] * 4)
        want = lack_of_fit(curve, width_exponent(curve), paired=name == "shared")
        assert p.shape == (2, 2) and p[1, 1] == pytest.approx(want.p_value, rel=1e-6) and p[1, 1] < 0.05, p
        assert f"lack of fit against the seeds: p < 0.05 in {int((p < 0.05).sum())} of 4 cells" in printed
        # and Holm's adjustment over the cells tested (four of them: the smallest p times 4)
        holm = np.array(json.loads((tmp_path / name / "summary.json").read_text())["alpha_m_lack_of_fit_p_holm"])
        assert holm == pytest.approx(holm_adjusted(p), rel=1e-12) and holm.min() == pytest.approx(4 * p.min())
        assert (f"Holm-adjusted over the 4 cells, p < 0.05 in {int((holm < 0.05).sum())} (smallest "
                f"{holm.min():.3g})") in printed


# mutants: the redraw's paired flag ignored; a row's interval left unsigned (N*'s had come out negative);
# seed_widen not passed on, or accepted without redraws
def test_compute_optimal_and_plrf_frontier_redraw_the_seeds_of_their_whole_table(tmp_path, capsys):
    t = 10.0 * np.arange(1, 41)
    level = {0: -0.03, 1: 0.01, 2: 0.04, 3: -0.02}  # a seed's level, shared by its widths (one teacher and data set)

    def outputs(p):  # (and a little noise of each model's own)
        scale = np.exp(level[p["seed"]] + 0.002 * ((7 * p["N"] + 3 * p["seed"]) % 5 - 2))
        return {"loss_curve": (t ** -0.5 + 0.5 / p["N"]) * scale,
                "loss_infinite_time": np.float64(0.5 / p["N"] * scale)}

    rows = {}
    for name, shared in (("plain", "[]"), ("shared", '["N"]')):
        module = _stand_in_sweep(load("compute_optimal"), outputs)
        module.main(["--preset", "smoke", "--set", "seeds=4", "--set", f"rf.common_across={shared}", "--out",
                     str(tmp_path / name), "--figures", str(tmp_path / "fig"), "--no-progress"])
        printed = capsys.readouterr().out
        rows[name] = json.loads((tmp_path / name / "summary.json").read_text())["exponents"]
        how = ("one draw of the 4 seeds every point finished, for every point" if name == "shared" else
               "each point's 4 finished models on their own")
        assert f"(redrawn seeds: 95% intervals over 100 redraws of {how}" in printed
    for name, ex in rows.items():
        for key in ("width", "N_opt", "L_opt"):
            if name == "shared" and key == "N_opt":  # (redrawn together, the optima stayed at their grid widths)
                assert ex[key]["seed_interval"] == [None, None] and "distinct value(s)" in ex[key]["seed_interval_why"]
                continue
            lo, hi = ex[key]["seed_interval"]
            assert lo <= ex[key]["fitted"] <= hi, (name, key, ex[key])
    # the level cancels in every exponent where the seeds are redrawn together; on their own it moves the width one
    plain, shared = (rows[k]["width"]["seed_interval"] for k in ("plain", "shared"))
    assert shared[1] - shared[0] < 0.005 < 0.02 < plain[1] - plain[0], (shared, plain)
    # plrf_frontier: every point's seeds on their own (its models share no draws), its signed d* interval
    def plrf_outputs(p):
        r = 10.0 * np.arange(1, p["steps"] // 10 + 1)
        scale = np.exp(level[p["seed"]] * (1 + np.log2(p["d"]) / 10))  # (a level of its own at each width)
        return {"loss_curve": (r ** -0.5 + 0.5 / p["d"]) * scale, "loss_floor": np.float64(0.5 / p["d"] * scale)}

    module = _stand_in_sweep(load("plrf_frontier"), plrf_outputs)
    module.main(["--preset", "smoke", "--out", str(tmp_path / "plrf"), "--figures", str(tmp_path / "fig"),
                 "--no-progress"])
    printed = capsys.readouterr().out
    ex = json.loads((tmp_path / "plrf" / "summary.json").read_text())["exponents"]
    assert "(redrawn seeds: 95% intervals over 100 redraws of each point's 2 finished models on their own" in printed
    for key in ("floor", "d_opt", "loss_opt"):
        lo, hi = ex[key]["seed_interval"]
        assert 0 < lo < ex[key]["fitted"] < hi and f"redrawn seeds [{lo:.3f}, {hi:.3f}]" in printed, (key, ex[key])
    # seed_resamples=0: no redraw; too few for a 95 % interval: refused before the sweep
    module.main(["--preset", "smoke", "--set", "seed_resamples=0", "--out", str(tmp_path / "none"), "--figures",
                 str(tmp_path / "fig"), "--no-progress"])
    assert "redrawn seeds" not in capsys.readouterr().out
    assert "seed_interval" not in json.loads((tmp_path / "none" / "summary.json").read_text())["exponents"]["d_opt"]
    for name in ("compute_optimal", "plrf_frontier"):
        module = load(name)
        with pytest.raises(ValueError, match="seed_resamples=10; a 95% percentile interval needs at least 40"):
            module.prepare({**module.PRESETS["smoke"], "seed_resamples": 10})
        with pytest.raises(TypeError, match="seed_resamples=0.5; seed_resamples must be an integer"):
            module.prepare({**module.PRESETS["smoke"], "seed_resamples": 0.5})
        with pytest.raises(ValueError, match="seed_widen='z'; seed_widen must be 'sqrt'"):
            module.prepare({**module.PRESETS["smoke"], "seed_widen": "z"})
        with pytest.raises(ValueError, match="seed_widen='t' with seed_resamples=0; .* give seed_resamples too"):
            module.prepare({**module.PRESETS["smoke"], "seed_widen": "t", "seed_resamples": 0})
    # seed_widen=t: the same runs refitted, every interval widened by t / z about the same median
    module = _stand_in_sweep(load("plrf_frontier"), plrf_outputs)
    module.main(["--preset", "smoke", "--set", "seed_widen=t", "--out", str(tmp_path / "plrf"), "--figures",
                 str(tmp_path / "fig"), "--no-progress"])
    printed = capsys.readouterr().out
    wide = json.loads((tmp_path / "plrf" / "summary.json").read_text())["exponents"]
    assert "and by t / z on the degrees of freedom of the redrawn spread (Welch-Satterthwaite" in printed
    for key in ("floor", "d_opt", "loss_opt"):
        (lo, hi), (wlo, whi) = ex[key]["seed_interval"], wide[key]["seed_interval"]
        assert wide[key]["fitted"] == ex[key]["fitted"] and wlo < lo < hi < whi, key
