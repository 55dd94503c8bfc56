import dataclasses
import errno
import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale.frequencies import power_law
from toyscale.io import atomic_write
from toyscale import sweep
from toyscale.sweep import FolderInUseError, chunk_layout, load_sweep, model_key, plan_chunks
from toyscale.train import TrainConfig, superposition_grid, sweep_superposition

CFG = TrainConfig(n=40, batch=32, steps=60, warmup=6, test_batches=2, log_every=10)
POINTS = superposition_grid(widths=[3, 6], gammas=[-1.0, 0.2, 1.0], frequencies=[power_law(1.1)], lr_w=2e-2, lr_b=1e-2)


def assert_same(a, b):
    # Bit for bit: on a CPU each device trains one model at a time, whatever the chunk size
    # or device count, so nothing may differ.
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.model_id == rb.model_id and ra.point == rb.point and ra.diverged == rb.diverged
        assert ra.outputs.keys() == rb.outputs.keys()
        for k in ra.outputs:
            np.testing.assert_array_equal(ra[k], rb[k], err_msg=f"model {ra.model_id}, {k}")


@pytest.mark.parametrize("sampler", ["dense", "sparse"])
@pytest.mark.compiled_as_users_do
def test_results_do_not_depend_on_chunk_size(sampler):
    cfg = dataclasses.replace(CFG, sampler=sampler)
    a = sweep_superposition(cfg, POINTS, chunk_size=1, devices=jax.devices()[:1], progress=False)
    b = sweep_superposition(cfg, POINTS, chunk_size=3, devices=jax.devices()[:1], progress=False)
    assert_same(a, b)


@pytest.mark.parametrize("sampler", ["dense", "sparse"])
@pytest.mark.compiled_as_users_do
def test_results_are_identical_on_one_and_four_devices_with_an_uneven_count(sampler):
    cfg = dataclasses.replace(CFG, sampler=sampler)
    points = POINTS[:5]  # 3 models of width 3 and 2 of width 6 over 4 devices: padding needed
    one = sweep_superposition(cfg, points, devices=jax.devices()[:1], progress=False)
    four = sweep_superposition(cfg, points, devices=jax.devices()[:4], progress=False)
    assert len(jax.devices()) >= 4
    assert_same(one, four)


def test_disk_format_round_trips_and_records_the_config(tmp_path):
    res = sweep_superposition(CFG, POINTS, seed=3, out=tmp_path, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format"] == "toyscale-sweep/2"
    assert manifest["task_config"]["n"] == 40 and manifest["seed"] == 3
    assert manifest["points"] == POINTS
    assert {"jax", "toyscale", "optax"} <= set(manifest["versions"])
    assert_same(res, load_sweep(tmp_path))
    assert not [f for f in os.listdir(tmp_path / "chunks") if not f.startswith("chunk_")]
    # A temp file left by a killed writer is ignored by readers and cleared on resume once it
    # is an hour old; a fresh one may be another run's write in progress and is left alone.
    stale, fresh = (tmp_path / "chunks" / f".tmp-{'0' * 16}-partial.npz",
                    tmp_path / "chunks" / f".tmp-{'1' * 16}-writing.npz")
    stale.write_bytes(b"half a chunk")
    fresh.write_bytes(b"a chunk being written")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert_same(res, load_sweep(tmp_path))
    again = sweep_superposition(CFG, POINTS, seed=3, out=tmp_path, progress=False)
    assert again.stats["chunks"] == 0
    assert_same(res, again)
    assert not stale.exists() and fresh.exists()


def test_a_folder_holding_another_sweep_is_refused(tmp_path):
    # neither holds the other's points: refused (a grid holding all of them extends the folder)
    sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="different sweep"):
        sweep_superposition(CFG, POINTS[1:3], out=tmp_path, progress=False)
    for other in (dict(seed=1), dict(config=dataclasses.replace(CFG, steps=CFG.steps + 2))):
        with pytest.raises(ValueError, match="different sweep"):  # a superset, but another seed or config
            sweep_superposition(other.get("config", CFG), POINTS[:3], seed=other.get("seed", 0), out=tmp_path,
                                progress=False)


@pytest.mark.compiled_as_users_do
def test_vmapped_batches_give_the_same_bits_for_any_chunk_size_and_device_count():
    # vector_width=4, as an accelerator would batch: shares of 5 (one device) or 3 (two) are
    # padded to whole batches of 4, never a smaller remainder batch.
    cfg = dataclasses.replace(CFG, steps=30)
    points = superposition_grid(widths=[3], gammas=[-1.0, -0.5, 0.0, 0.5, 1.0], frequencies=[power_law(1.1)],
                                lr_w=2e-2, lr_b=1e-2)
    runs = {(cs, nd): sweep_superposition(cfg, points, chunk_size=cs, vector_width=4, devices=jax.devices()[:nd],
                                          progress=False)
            for cs, nd in [(4, 1), (5, 1), (6, 2)]}
    assert {k: r.stats["chunk_sizes"]["3"] for k, r in runs.items()} == {(4, 1): 4, (5, 1): 8, (6, 2): 8}
    assert all(r.stats["vector_widths"] == {"3": 4} for r in runs.values())
    for r in runs.values():
        assert_same(r, runs[4, 1])


def test_chunk_layout_pads_each_share_to_whole_batches():
    cpu = jax.devices()[:4]
    assert chunk_layout(10, 1, memory_budget=10**9, devices=cpu[:1], chunk_size=5, vector_width=4) == (8, 4)
    assert chunk_layout(10, 1, memory_budget=10**9, devices=cpu[:2], chunk_size=6, vector_width=2) == (8, 2)
    assert chunk_layout(10, 1, memory_budget=10**9, devices=cpu[:2], chunk_size=6, vector_width=8) == (16, 8)
    assert chunk_layout(8, 1, memory_budget=10**9, devices=cpu[:1]) == (8, 1)  # CPU: one at a time
    assert chunk_layout(10, 1, memory_budget=4, devices=cpu[:4], vector_width=3) == (12, 3)


def test_default_chunks_hold_a_few_batches_so_results_are_saved_often():
    # The budget would allow the whole group in one chunk, written only when all had finished;
    # a share is capped at MAX_BATCHES_PER_CHUNK batches, in balanced chunks.
    cpu = jax.devices()[:4]
    cap = sweep.MAX_BATCHES_PER_CHUNK
    assert chunk_layout(10 * cap, 1, memory_budget=10**9, devices=cpu[:1]) == (cap, 1)
    assert chunk_layout(cap + 2, 1, memory_budget=10**9, devices=cpu[:1]) == ((cap + 2) // 2, 1)
    assert chunk_layout(100 * cap, 1, memory_budget=10**9, devices=cpu[:2], vector_width=4) == (2 * 4 * cap, 4)
    assert chunk_layout(100 * cap, 1, memory_budget=10**9, devices=cpu[:1], chunk_size=10**4) == (100 * cap, 1)
    assert chunk_layout(10 * cap, 1, memory_budget=3, devices=cpu[:1]) == (3, 1)  # the budget still rules


class _Accelerator:
    """A stand-in for a GPU: what the engine asks of a device (no GPU reaches CI)."""

    platform = "gpu"

    def __init__(self, stats):
        self.stats = stats

    def memory_stats(self):
        if isinstance(self.stats, Exception):
            raise self.stats
        return self.stats


def test_an_accelerator_gets_half_its_memory_and_trains_its_whole_share_in_one_batch(monkeypatch):
    # The paths only an accelerator takes: the default budget is half the limit JAX reports (2 GiB
    # without one), and a share is one vmapped batch unless vector_width says otherwise.
    gpu = _Accelerator({"bytes_limit": 80 * 1024**3, "bytes_in_use": 5})
    monkeypatch.setattr(jax, "local_devices", lambda *args, **kwargs: [gpu])
    assert sweep.default_memory_budget() == 40 * 1024**3
    for stats in ({}, None, {"bytes_limit": 0}, RuntimeError("not implemented")):
        gpu.stats = stats
        assert sweep.default_memory_budget() == 2 * 1024**3
    monkeypatch.setattr(sweep, "_checked_devices", list)  # (it admits only real jax.Device objects)
    other = _Accelerator({})
    assert chunk_layout(10, 1, memory_budget=10**9, devices=[gpu]) == (10, 10)
    assert chunk_layout(10, 1, memory_budget=10**9, devices=[gpu, other]) == (10, 5)
    assert chunk_layout(11, 1, memory_budget=10**9, devices=[gpu, other]) == (12, 6)
    assert chunk_layout(10, 1, memory_budget=3, devices=[gpu]) == (3, 3)  # the budget still rules
    assert chunk_layout(100, 1, memory_budget=10**9, devices=[gpu]) == (100, 100)  # (no cap of batches)
    assert chunk_layout(10, 1, memory_budget=10**9, devices=[gpu], vector_width=4) == (12, 4)
    cap = sweep.MAX_BATCHES_PER_CHUNK
    assert chunk_layout(100 * cap, 1, memory_budget=10**9, devices=[gpu], vector_width=4) == (4 * cap, 4)


def test_plan_chunks_respects_budget_and_devices():
    assert plan_chunks(100, 10, memory_budget=45, n_devices=1) == 4
    assert plan_chunks(100, 10, memory_budget=45, n_devices=4) == 16
    assert plan_chunks(3, 10, memory_budget=10**9, n_devices=4) == 4
    assert plan_chunks(100, 10**9, memory_budget=1, n_devices=2) == 2
    assert plan_chunks(100, 10, memory_budget=10, n_devices=4, chunk_size=5) == 8
    assert plan_chunks(32, 1, memory_budget=31, n_devices=1) == 16  # balanced, not 31 + 1
    assert plan_chunks(10, 1, memory_budget=4, n_devices=1) == 4  # 3 chunks either way


SCRIPT = textwrap.dedent(
    """
    import sys, jax
    from toyscale.frequencies import power_law
    from toyscale.train import TrainConfig, superposition_grid, sweep_superposition
    cfg = TrainConfig(n=60, batch=64, steps=600, warmup=10, test_batches=2, log_every=100)
    points = superposition_grid(widths=[4], gammas=[-1.0, -0.5, 0.0, 0.25, 0.5, 1.0],
                                frequencies=[power_law(1.1)], lr_w=2e-2, lr_b=1e-2)
    sweep_superposition(cfg, points, out=sys.argv[1], chunk_size=1, progress=False)
    """
)


def test_a_sweep_killed_midway_resumes_to_identical_results(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.Popen([sys.executable, str(script), str(killed)], env=env)
    chunks = killed / "chunks"
    deadline = time.time() + 120
    while time.time() < deadline and not (chunks.exists() and any(f.startswith("chunk_") for f in os.listdir(chunks))):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = len([f for f in os.listdir(chunks) if f.startswith("chunk_")])
    assert 1 <= n_before < 6, "the kill should land mid-sweep"

    subprocess.run([sys.executable, str(script), str(killed)], env=env, check=True)
    subprocess.run([sys.executable, str(script), str(clean)], env=env, check=True)
    resumed, reference = load_sweep(killed), load_sweep(clean)
    assert len(resumed) == 6
    assert_same(resumed, reference)


SHARE_SCRIPT = textwrap.dedent(
    """
    import sys
    from toyscale.frequencies import power_law
    from toyscale.train import TrainConfig, superposition_grid, sweep_superposition
    cfg = TrainConfig(n=40, batch=32, steps=60, warmup=6, test_batches=2, log_every=10)
    points = superposition_grid(widths=[3, 6], gammas=[-1.0, 0.2, 1.0], frequencies=[power_law(1.1)],
                                lr_w=2e-2, lr_b=1e-2)
    res = sweep_superposition(cfg, points, out=sys.argv[1], chunk_size=1, progress=False,
                              process_index=int(sys.argv[2]), process_count=int(sys.argv[3]))
    print("trained", res.stats["chunks"])
    """
)


@pytest.mark.compiled_as_users_do
def test_processes_sharing_a_grid_merge_into_the_single_process_result(tmp_path):
    # a multi-host run without a cluster: 3 processes at once, each told its index (as
    # jax.distributed would), write into one folder; what they wrote is one result set
    script = tmp_path / "share.py"
    script.write_text(SHARE_SCRIPT)
    out = tmp_path / "shared"
    env = dict(os.environ, JAX_PLATFORMS="cpu", TOYSCALE_COMPILATION_CACHE="off")
    procs = [subprocess.Popen([sys.executable, str(script), str(out), str(p), "3"], env=env,
                              stdout=subprocess.PIPE, text=True) for p in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert [o.strip().splitlines()[-1] for o in outputs] == ["trained 2"] * 3  # ids p, p + 3
    merged = load_sweep(out)
    reference = sweep_superposition(CFG, POINTS, chunk_size=1, devices=jax.devices()[:1], progress=False)
    assert len(merged) == len(POINTS) == 6
    assert_same(merged, reference)
    # a rerun of one share finds its models on disk and trains nothing
    again = subprocess.run([sys.executable, str(script), str(out), "1", "3"], env=env,
                           capture_output=True, text=True, check=True)
    assert again.stdout.strip().splitlines()[-1] == "trained 0"


DISTRIBUTED_SCRIPT = textwrap.dedent(
    """
    import sys
    import jax
    jax.config.update("jax_num_cpu_devices", 2)
    jax.distributed.initialize(coordinator_address=sys.argv[2], num_processes=2, process_id=int(sys.argv[3]))
    from toyscale.frequencies import power_law
    from toyscale.train import TrainConfig, superposition_grid, sweep_superposition
    cfg = TrainConfig(n=40, batch=32, steps=60, warmup=6, test_batches=2, log_every=10)
    points = superposition_grid(widths=[3, 6], gammas=[-1.0, 0.2, 1.0], frequencies=[power_law(1.1)],
                                lr_w=2e-2, lr_b=1e-2)
    res = sweep_superposition(cfg, points, out=sys.argv[1], chunk_size=2, progress=False)
    print(jax.process_index(), jax.process_count(), len(jax.devices()), len(jax.local_devices()),
          res.stats["chunks"])
    """
)


@pytest.mark.compiled_as_users_do
def test_a_jax_distributed_run_splits_the_grid_by_process_and_merges(tmp_path):
    # the README's cluster recipe, on one machine: two processes joined by
    # jax.distributed.initialize, two CPU devices each, no share given by hand; each takes
    # the ids of its process index (mod 2) over its own local devices, and what they wrote
    # is the single-process result
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    script = tmp_path / "dist.py"
    script.write_text(DISTRIBUTED_SCRIPT)
    out = tmp_path / "cluster"
    env = dict(os.environ, JAX_PLATFORMS="cpu", TOYSCALE_COMPILATION_CACHE="off")
    procs = [subprocess.Popen([sys.executable, str(script), str(out), f"localhost:{port}", str(p)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]
    # process p: index p of 2, 4 devices in all, 2 local; its three models (ids p, p + 2,
    # p + 4: two of one width, one of the other) make one chunk per width
    assert [o[0].split() for o in outputs] == [["0", "2", "4", "2", "2"], ["1", "2", "4", "2", "2"]]
    merged = load_sweep(out)
    reference = sweep_superposition(CFG, POINTS, chunk_size=1, devices=jax.devices()[:1], progress=False)
    assert len(merged) == len(POINTS) == 6
    assert_same(merged, reference)


def test_one_compiled_program_per_width_however_many_chunks(xla_compilations):
    with xla_compilations() as compiled:
        res = sweep_superposition(CFG, POINTS, chunk_size=1, devices=jax.devices()[:1], progress=False)
    assert res.stats["chunks"] == 6 and res.stats["programs"] == 2
    assert compiled.count("jit(local)") == 2, compiled  # widths 3 and 6, three chunks each


# ----------------------------------------------------------------------------- precision


def _dots(task, points, x64=False):
    """(precision, lhs type, rhs type) of every dot_general in the chunk program's StableHLO."""
    from toyscale import sweep

    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:1]), ("models",))
    with jax.enable_x64(x64):
        inputs = sweep._stack_inputs(task, points)
        keys = jax.numpy.stack([sweep.model_key(0, p) for p in points])
        static = task.static_of(points[0])
        text = sweep._compiled_group_fn(task, static, mesh, 1).lower(inputs, keys).as_text()
    found = []
    for line in text.splitlines():
        if "dot_general" in line:
            precision = re.search(r"precision = \[(\w+), (\w+)\]", line)
            types = re.search(r": \((tensor<[^>]*>), (tensor<[^>]*>)\)", line)
            found.append((precision.group(1) if precision else "DEFAULT", types.group(1), types.group(2)))
    return found


def _tasks():
    from toyscale.random_features import RandomFeatureTask, RFConfig, check_point
    from toyscale.train import SuperpositionTask

    rf_point = {"N": 8, "T": 16, "alpha": 1.0, "ridge": 0.1, "infinite_data": True, "kernel_limit": True}
    return {
        "superposition dense": (SuperpositionTask(dataclasses.replace(CFG, sampler="dense")), POINTS[:2], False),
        "superposition sparse": (SuperpositionTask(CFG), POINTS[:2], False),
        "random features ridge": (RandomFeatureTask(RFConfig(M=32)), [check_point(rf_point)], True),
        "random features gd relu": (RandomFeatureTask(RFConfig(M=32, log_every=5)), [check_point(
            {**rf_point, "method": "gd", "steps": 10, "lr": 0.1, "nonlinearity": "relu"})], True),
    }


@pytest.mark.parametrize("name", ["superposition dense", "superposition sparse", "random features ridge",
                                  "random features gd relu"])
def test_every_float32_product_is_computed_in_float32(name):
    # JAX's default precision lets a GPU round float32 operands to TF32 (a TPU to bf16):
    # the engine must ask for float32 explicitly, or a GPU sweep gives other numbers.
    task, points, x64 = _tasks()[name]
    dots = _dots(task, points, x64)
    f32 = [d for d in dots if "xf32>" in d[1] or "xf32>" in d[2]]
    assert len(f32) >= 2, dots  # the products are there to be checked
    assert all(precision == "HIGHEST" for precision, _, _ in f32), f32


def test_the_precision_check_sees_a_default_precision_product():
    # The check above is not vacuous: a model function without the engine's wrapper lowers
    # its products at DEFAULT precision.
    from toyscale import train

    task, points, _ = _tasks()["superposition sparse"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train, "_train", train._train.__wrapped__)
        dots = _dots(task, points)
    assert dots and any(precision == "DEFAULT" for precision, _, _ in dots), dots


def test_bfloat16_training_rounds_exactly_the_three_dense_products():
    from toyscale.train import SuperpositionTask

    cfg = dataclasses.replace(CFG, matmul_precision="bfloat16")
    dots = _dots(SuperpositionTask(cfg), POINTS[:2])
    bf16 = [d for d in dots if "xbf16>" in d[1]]
    # decoder forward [32, 3] x [3, 40], q W [32, 40] x [40, 3], [h | 1]^T q contracted over
    # the batch from [32, 4] x [32, 40] (the CPU's form at this width)
    assert sorted((a, b) for _, a, b in bf16) == sorted([
        ("tensor<32x3xbf16>", "tensor<3x40xbf16>"), ("tensor<32x40xbf16>", "tensor<40x3xbf16>"),
        ("tensor<32x4xbf16>", "tensor<32x40xbf16>")]), dots
    # everything else -- the test loss and the measurements -- is float32, computed as such
    rest = [d for d in dots if d not in bf16]
    assert rest and all(p == "HIGHEST" and "xf32>" in a for p, a, _ in rest), rest


def test_tensorfloat32_training_rounds_the_operands_of_the_three_dense_products_and_nothing_else():
    from toyscale.train import SuperpositionTask

    text_dots = _dots(SuperpositionTask(dataclasses.replace(CFG, matmul_precision="tensorfloat32")), POINTS[:2])
    tf32 = [d for d in text_dots if d[0] == "HIGH"]
    # the same three products as in bfloat16, on float32 operands at precision HIGH (a GPU's
    # TF32 units), which the program has already rounded to TF32
    assert sorted((a, b) for _, a, b in tf32) == sorted([
        ("tensor<32x3xf32>", "tensor<3x40xf32>"), ("tensor<32x40xf32>", "tensor<40x3xf32>"),
        ("tensor<32x4xf32>", "tensor<32x40xf32>")]), text_dots
    rest = [d for d in text_dots if d not in tf32]
    assert rest and all(p == "HIGHEST" for p, _, _ in rest), rest


def test_float32_sweeps_keep_the_manifest_they_had_before_matmul_precision(tmp_path):
    # Folders saved before the field existed (all float32) must keep resuming: at its default
    # the field is not part of the recorded config, so neither of the fingerprint.
    out = str(tmp_path / "s")
    first = sweep_superposition(CFG, POINTS[:2], out=out, progress=False)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert set(manifest["task_config"]) == {f.name for f in dataclasses.fields(TrainConfig)} - {"matmul_precision",
                                                                                              "common_across"}
    again = sweep_superposition(CFG, POINTS[:2], out=out, progress=False)
    assert_same(again, first)
    with pytest.raises(ValueError, match="different sweep"):
        sweep_superposition(dataclasses.replace(CFG, matmul_precision="bfloat16"), POINTS[:2], out=out, progress=False)


@pytest.mark.compiled_as_users_do
def test_a_resumed_sweep_trains_the_remaining_models_in_the_chunks_it_planned_at_first(tmp_path):
    # 10 models of one width in chunks of at most 4: 4 + 4 + 2. Resuming after the first chunk
    # must not re-plan the other six as 3 + 3, whose smaller vmapped batches would change the
    # last bits on an accelerator. (vector_width 1: at 4, padding to it gave chunks of 4 for 6
    # models as for 10, so a re-planning mutant had passed.)
    points = superposition_grid(widths=[3], gammas=[-1.0, -0.5, 0.0, 0.5, 1.0], frequencies=[power_law(1.1)],
                                lr_w=2e-2, lr_b=1e-2, seeds=2)
    kw = dict(chunk_size=4, vector_width=1, devices=jax.devices()[:1], progress=False)
    clean = sweep_superposition(CFG, points, out=tmp_path / "clean", **kw)
    chunks = tmp_path / "part" / "chunks"
    sweep_superposition(CFG, points, out=tmp_path / "part", **kw)
    for f in sorted(os.listdir(chunks))[1:]:  # as if killed after the first chunk
        os.unlink(chunks / f)
    resumed = sweep_superposition(CFG, points, out=tmp_path / "part", **kw)
    assert resumed.stats["chunks"] == 2 and resumed.stats["chunk_sizes"] == clean.stats["chunk_sizes"] == {"3": 4}
    assert sorted(os.listdir(chunks)) == sorted(os.listdir(tmp_path / "clean" / "chunks"))
    assert_same(load_sweep(tmp_path / "part"), clean)  # (bit for bit; NaN where both are NaN)


def test_engine_arguments_are_checked_before_anything_runs(tmp_path, xla_compilations):
    d0 = jax.devices()[0]
    bad = [
        (dict(seed=2**32), ValueError, r"seed=4294967296; must be an integer in \[0, 4294967295\]"),
        (dict(seed=-1), ValueError, "seed=-1"),
        (dict(seed=1.0), TypeError, "seed=1.0"),
        (dict(process_count=2), ValueError, "give both or neither"),
        (dict(process_index=0.5, process_count=2), TypeError, "process_index=0.5"),
        (dict(process_index=0, process_count=True), TypeError, "process_count=True"),
        (dict(process_index=0, process_count=2.5), TypeError, "process_count=2.5"),
        (dict(devices=[]), ValueError, r"devices=\[\]"),
        (dict(devices=[d0, d0]), ValueError, "distinct"),
        (dict(memory_budget="1e9"), TypeError, "memory_budget='1e9'"),
        # 0.5 passed the check, became 0 bytes, and was refused as memory_budget=0 once the folder was claimed
        (dict(memory_budget=0.5), ValueError, "memory_budget=0.5; memory_budget must be a number of bytes >= 1"),
        (dict(devices=["cpu:0"]), TypeError, r"devices=\['cpu:0'\]; devices must be a list of jax.Device"),
        (dict(chunk_size=True), TypeError, "chunk_size=True"),
        (dict(vector_width=0), ValueError, "vector_width=0"),
        (dict(progress="no"), TypeError, "progress='no'; progress must be True or False"),
        (dict(out=""), ValueError, r"out=''; out must be a folder path \(not empty\) or None"),
    ]
    with xla_compilations() as names:
        for kw, error, match in bad:
            with pytest.raises(error, match=match):
                sweep_superposition(CFG, POINTS, **{"out": tmp_path / "never", "progress": False, **kw})
    assert names == [] and not (tmp_path / "never").exists()


def test_the_fingerprint_sees_every_value_of_a_long_array_and_not_its_numpy_type():
    from toyscale.sweep import _fingerprint

    a = np.linspace(0.0, 1.0, 2001)
    b = a.copy()
    b[1000] += 1e-9  # str() of a would elide the middle and round to 8 digits
    assert _fingerprint({}, 0, [{"values": a}]) != _fingerprint({}, 0, [{"values": b}])
    # a grid rebuilt from a manifest (plain numbers) is the same sweep as the numpy one
    assert _fingerprint({}, 0, [{"m": np.int64(3), "values": a}]) == _fingerprint({}, 0, [{"m": 3, "values": a.tolist()}])


def test_atomic_files_follow_the_umask_and_only_one_creator_wins(tmp_path):
    from toyscale.io import atomic_create_json, atomic_write_json

    mask = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        # mkstemp would give 0o600: unreadable to the other users of a shared results folder
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(mask)
    assert atomic_create_json(tmp_path / "m.json", {"first": True})
    assert not atomic_create_json(tmp_path / "m.json", {"first": False})
    assert json.loads((tmp_path / "m.json").read_text()) == {"first": True}
    assert sorted(os.listdir(tmp_path)) == ["a.json", "m.json"]  # no temp file left behind


RACE_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from toyscale.frequencies import power_law
    from toyscale.train import TrainConfig, superposition_grid, sweep_superposition
    cfg = TrainConfig(n=40, batch=32, steps=int(sys.argv[2]), warmup=6, test_batches=2, log_every=10)
    points = superposition_grid(widths=[3], gammas=[-1.0, 1.0], frequencies=[power_law(1.1)], lr_w=2e-2, lr_b=1e-2)
    open(sys.argv[1] + f".ready{sys.argv[4]}", "w").close()  # both start at the same moment
    while not all(os.path.exists(sys.argv[1] + f".ready{p}") for p in (0, 1)):
        time.sleep(0.001)
    try:
        sweep_superposition(cfg, points, out=sys.argv[1], progress=False, process_index=int(sys.argv[4]),
                            process_count=2)
        print("trained")
    except ValueError as e:
        print("refused", e)
    """
)


def test_processes_starting_together_with_different_grids_cannot_share_a_folder(tmp_path):
    script = tmp_path / "race.py"
    script.write_text(RACE_SCRIPT)
    env = dict(os.environ, JAX_PLATFORMS="cpu", TOYSCALE_COMPILATION_CACHE="off")
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "out"), str(steps), "", str(p)],
                              env=env, stdout=subprocess.PIPE, text=True) for p, steps in enumerate((20, 40))]
    outs = sorted(p.communicate(timeout=300)[0].strip().splitlines()[-1].split()[0] for p in procs)
    assert outs == ["refused", "trained"]


def test_a_damaged_chunk_or_a_lost_manifest_is_named_not_trained_over(tmp_path):
    sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    chunk = sorted((tmp_path / "chunks").iterdir())[0]
    data = chunk.read_bytes()
    chunk.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"chunk file '{chunk}' cannot be read"):
        load_sweep(tmp_path)
    # resuming into it is a refusal of the folder, which the scripts report as a usage error
    with pytest.raises(FolderInUseError, match=f"chunk file '{chunk}' cannot be read"):
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    # and so is extending the folder's grid or running part of it (both rewrite old chunk files)
    chunk.write_bytes(data)
    _strip_digests(tmp_path)
    chunk.write_bytes(data[: len(data) // 2])
    for grid in (POINTS[:3], POINTS[:1]):
        with pytest.raises(FolderInUseError, match=f"chunk file '{chunk}' cannot be read"):
            sweep_superposition(CFG, grid, out=tmp_path, progress=False)
    chunk.write_bytes(data)
    manifest = tmp_path / "manifest.json"
    text = manifest.read_text()
    for damaged in ("", "[1, 2]"):
        manifest.write_text(damaged)
        with pytest.raises(FolderInUseError, match=f"'{manifest}' cannot be read"):
            sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    manifest.write_text(text)
    assert sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False).stats["chunks"] == 0
    manifest.unlink()
    with pytest.raises(FolderInUseError, match="holds chunk files but no manifest.json"):
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="holds chunk files but no manifest.json"):  # ("holds no sweep")
        load_sweep(tmp_path)
    manifest.write_text(text)
    chunk.write_text("not an archive")  # (numpy's advice, to load it "unsafely" with allow_pickle, not passed on)
    with pytest.raises(ValueError, match=r"cannot be read \(not a chunk file: no .npz archive\); delete it") as hit:
        load_sweep(tmp_path)
    assert "pickle" not in str(hit.value)
    chunk.write_bytes(data)
    manifest.unlink()
    manifest.mkdir()  # (had been a raw IsADirectoryError from run_sweep)
    with pytest.raises(FolderInUseError, match=f"'{manifest}' is a folder, not a sweep's manifest file"):
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    with pytest.raises(ValueError, match=f"'{manifest}' is a folder"):
        load_sweep(tmp_path)


def test_a_config_resumes_however_its_numbers_were_typed(tmp_path):
    sweep_superposition(dataclasses.replace(CFG, max_rate=2), POINTS[:1], out=tmp_path, progress=False)
    again = sweep_superposition(dataclasses.replace(CFG, max_rate=2.0, n=np.int64(40)), POINTS[:1], out=tmp_path,
                                progress=False)
    assert again.stats["chunks"] == 0


def test_a_folder_of_another_format_or_task_is_not_resumed(tmp_path):
    # Format /1 keyed models by grid position: such a folder still loads, but resuming it
    # would mix two key schemes. Another task's folder with the same points is refused too.
    first = sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    path = tmp_path / "manifest.json"
    manifest = json.loads(path.read_text())
    for field, value, error in (("format", "toyscale-sweep/1", "format 'toyscale-sweep/1'"),
                                ("format", "toyscale-sweep/999", "different sweep"),
                                ("task", "random_features", "different sweep")):
        path.write_text(json.dumps({**manifest, field: value}))
        with pytest.raises(ValueError, match=error):
            sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    path.write_text(json.dumps({**manifest, "format": "toyscale-sweep/1"}))
    assert_same(load_sweep(tmp_path), first)


def test_resuming_under_other_versions_warns(tmp_path):
    sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["versions"]["jax"] = "0.0.1"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*empty model", category=RuntimeWarning)  # (60 steps)
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)  # nothing left to train: silent
    sorted((tmp_path / "chunks").iterdir())[-1].unlink()
    with pytest.warns(RuntimeWarning, match=r"started with jax 0\.0\.1; resuming with jax "):
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    # so does a resume under a JAX setting that changes dtypes or random bits
    manifest["versions"] = {**json.loads((tmp_path / "manifest.json").read_text())["versions"], "jax": jax.__version__,
                            "jax_enable_x64": True}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    sorted((tmp_path / "chunks").iterdir())[-1].unlink()
    with pytest.warns(RuntimeWarning, match=r"started with jax_enable_x64=True; resuming with jax_enable_x64=False: "
                                            r".* or more \(jax_enable_x64 changes dtypes\) \(the manifest"):
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)


# mutants: the optimization setting or XLA_FLAGS not recorded (or not compared); the device count kept in XLA_FLAGS
def test_resuming_with_other_xla_settings_warns_but_not_on_another_device_count(tmp_path, monkeypatch):
    sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    path = tmp_path / "manifest.json"
    manifest = json.loads(path.read_text())
    here = manifest["versions"]
    assert here["jax_disable_most_optimizations"] == jax.config.values["jax_disable_most_optimizations"]
    assert here["XLA_FLAGS"] == " ".join(sorted(os.environ.get("XLA_FLAGS", "").split()))
    assert "jax_default_matmul_precision" not in here  # (float32_products sets the built-in tasks' precision)
    flip = not here["jax_disable_most_optimizations"]
    for versions, message in (
            ({"jax_disable_most_optimizations": flip}, f"started with jax_disable_most_optimizations={flip}; resuming "
             f"with jax_disable_most_optimizations={not flip}: the models trained now may differ from an "
             "uninterrupted run's, in the last bits (the manifest"),
            ({"XLA_FLAGS": "--xla_cpu_enable_fast_math=true"},
             "started with XLA_FLAGS='--xla_cpu_enable_fast_math=true'; resuming with "
             f"XLA_FLAGS={here['XLA_FLAGS']!r}: the models trained now may differ from an uninterrupted "
             "run's, in the last bits or more (XLA_FLAGS changes what XLA computes, for a flag such as fast math)")):
        path.write_text(json.dumps({**manifest, "versions": {**here, **versions}}))
        sorted((tmp_path / "chunks").iterdir())[-1].unlink()
        with pytest.warns(RuntimeWarning, match=re.escape(message)):
            sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    # XLA_FLAGS in one spelling: each flag once (the last of a repeated one, which XLA keeps), sorted, without those
    # the numbers do not depend on (a simulated device count, a dump folder), so the same flags resume silently
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false --xla_dump_to=/tmp/x --xla_b=1 "
                       "--xla_force_host_platform_device_count=3 --xla_cpu_enable_fast_math=true")
    assert sweep._xla_flags() == "--xla_b=1 --xla_cpu_enable_fast_math=true"
    path.write_text(json.dumps({**manifest, "versions": {**here, "XLA_FLAGS": "--xla_b=1 "
                                                                         "--xla_cpu_enable_fast_math=true"}}))
    sorted((tmp_path / "chunks").iterdir())[-1].unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*empty model", category=RuntimeWarning)  # (60 steps)
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
        # a folder that recorded a bare boolean flag (before it became "=true") resumes silently too
        path.write_text(json.dumps({**manifest, "versions": {**here, "XLA_FLAGS": "--xla_b=1 "
                                                                             "--xla_cpu_enable_fast_math"}}))
        sorted((tmp_path / "chunks").iterdir())[-1].unlink()
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
        # and a recorded value with a space (its quotes gone) is not split again (it had warned on every resume)
        monkeypatch.setenv("XLA_FLAGS", '--xla_b=1 --xla_gpu_cuda_data_dir="/opt/my cuda"')
        path.write_text(json.dumps({**manifest, "versions": {**here, "XLA_FLAGS": sweep._xla_flags()}}))
        assert sweep._xla_flags() == "--xla_b=1 --xla_gpu_cuda_data_dir=/opt/my cuda"
        sorted((tmp_path / "chunks").iterdir())[-1].unlink()
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    # several settings changed: each named with what it changes
    path.write_text(json.dumps({**manifest, "versions": {**here, "XLA_FLAGS": "", "jax_enable_x64": True,
                                                         "jax_disable_most_optimizations": flip}}))
    sorted((tmp_path / "chunks").iterdir())[-1].unlink()
    with pytest.warns(RuntimeWarning, match=re.escape("or more (jax_enable_x64 changes dtypes; XLA_FLAGS changes what "
                                                      "XLA computes, for a flag such as fast math) (the manifest")):
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    # split as a shell splits (XLA takes quoted values); a value not starting with "-" names a file of flags
    monkeypatch.setenv("XLA_FLAGS", '--xla_dump_hlo_pass_re="a b" --xla_x=1')
    assert sweep._xla_flags() == "--xla_x=1"
    # a bare boolean flag is its "=true" (one spelling, so no warning on a resume that spells it the other way)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math --xla_x=1")
    assert sweep._xla_flags() == "--xla_cpu_enable_fast_math=true --xla_x=1"
    flagfile = tmp_path / "flags"
    flagfile.write_text("--xla_y=2\n--xla_x=1\n")
    monkeypatch.setenv("XLA_FLAGS", str(flagfile))
    assert sweep._xla_flags() == "--xla_x=1 --xla_y=2"
    monkeypatch.setenv("XLA_FLAGS", str(tmp_path / "missing"))
    assert sweep._xla_flags() == f"(a file of flags that could not be read: {tmp_path / 'missing'})"


# ----------------------------------------------------------------------------- model keys


def test_a_models_numbers_follow_its_point_not_its_place_in_the_grid():
    # A grid reversed and cut short reproduces the models it shares with the full one, bit for
    # bit: a model's key comes from its point, not its index.
    one = jax.devices()[:1]
    full = sweep_superposition(CFG, POINTS[:4], devices=one, progress=False)
    part = sweep_superposition(CFG, POINTS[3:0:-1], devices=one, progress=False)
    for j, r in enumerate(part):
        twin = full[3 - j]
        assert r.point == twin.point
        for k in r.outputs:
            np.testing.assert_array_equal(r[k], twin[k], err_msg=k)


def test_model_keys_come_from_the_point_fields_and_the_sweep_seed():
    p = POINTS[0]
    key = np.asarray(model_key(0, p))
    spellings = [{**p, "gamma": int(p["gamma"])}, {**p, "m": np.int64(p["m"])}, {**p, "label": "a tag"},
                 dict(reversed(list(p.items())))]
    for q in spellings:
        np.testing.assert_array_equal(model_key(0, q), key, err_msg=str(q))
    others = [model_key(1, p), model_key(0, {**p, "seed": 7}), model_key(0, {**p, "gamma": p["gamma"] + 1e-9}),
              model_key(0, POINTS[1])]
    assert len({tuple(np.asarray(k).tolist()) for k in [key, *others]}) == 5


def test_identical_points_warn_and_train_identical_models():
    with pytest.warns(RuntimeWarning, match=r"points\[0\] and points\[2\] are the same model"):
        res = sweep_superposition(CFG, [POINTS[0], POINTS[1], {**POINTS[0], "label": "again"}],
                                  devices=jax.devices()[:1], progress=False)
    np.testing.assert_array_equal(res[0]["loss_curve"], res[2]["loss_curve"])
    assert not np.array_equal(res[0]["loss_curve"], res[1]["loss_curve"])


def test_points_out_and_chunk_sizes_are_checked_before_anything_runs(xla_compilations):
    from toyscale.sweep import run_sweep
    from toyscale.train import SuperpositionTask

    task = SuperpositionTask(CFG)
    cpu = jax.devices()
    bad = [
        (lambda: sweep_superposition(CFG, POINTS[0], progress=False), TypeError, "must be a list of mappings"),
        (lambda: run_sweep(task, [POINTS[0], 3], progress=False), TypeError, r"points\[1\]=3"),
        (lambda: run_sweep(task, [{**POINTS[0], "label": {1, 2}}], progress=False), TypeError, r"points\[0\]=.*set"),
        (lambda: sweep_superposition(CFG, [{**POINTS[0], "seed": "x"}], progress=False), TypeError, "seed='x'"),
        (lambda: run_sweep(task, [{**POINTS[0], "label": [1.0, float("nan")]}], progress=False), ValueError,
         r"points\[0\] holds label\[1\]=nan"),
        (lambda: sweep_superposition(CFG, POINTS, out=3, progress=False), TypeError, "out=3"),
        (lambda: sweep_superposition(CFG, POINTS, devices=cpu[0], progress=False), TypeError, "devices="),
        (lambda: sweep_superposition(CFG, POINTS, process_index=0, process_count=2, progress=False), ValueError,
         "out=None with process_count=2"),
        (lambda: plan_chunks(0, 1, memory_budget=1, n_devices=1), ValueError, "n_models=0"),
        (lambda: plan_chunks(5, 1, memory_budget=1, n_devices=1, chunk_size=0), ValueError, "chunk_size=0"),
        (lambda: plan_chunks(5, 1, memory_budget=0, n_devices=1), ValueError, "memory_budget=0"),
        (lambda: chunk_layout(5, 1, memory_budget=1, devices=cpu[:1], vector_width=-2), ValueError, "vector_width=-2"),
        (lambda: chunk_layout(5, 1, memory_budget=1, devices=[]), ValueError, r"devices=\[\]"),
        (lambda: chunk_layout(5, 1, memory_budget=1, devices=cpu[0]), TypeError, "list of jax.Device"),
    ]
    with xla_compilations() as names:
        for call, error, match in bad:
            with pytest.raises(error, match=match):
                call()
    assert names == []


def test_records_trained_now_and_loaded_later_are_alike(tmp_path):
    point = {**POINTS[0], "label": ("run", 1)}
    live = sweep_superposition(CFG, [point], out=tmp_path, progress=False)
    loaded = load_sweep(tmp_path)
    assert live[0].point == loaded[0].point and live[0].point["label"] == ["run", 1]
    assert len(live.select(label=["run", 1])) == len(loaded.select(label=["run", 1])) == 1
    assert live[0]["row_norms"].flags.writeable and loaded[0]["row_norms"].flags.writeable


def test_a_frequency_spec_keys_the_same_model_however_it_is_spelled():
    from toyscale.train import SuperpositionTask

    spec = power_law(1.1)
    spellings = [{**POINTS[0], "frequencies": f} for f in (spec, spec.describe(), {"kind": "power_law", "alpha": 1.1})]
    task = SuperpositionTask(CFG)
    keys = {tuple(np.asarray(model_key(0, p, task)).tolist()) for p in spellings}
    assert len(keys) == 1
    with pytest.warns(RuntimeWarning, match="same model"):
        res = sweep_superposition(CFG, spellings[1:], devices=jax.devices()[:1], progress=False)
    assert res[0].point == res[1].point == POINTS[0]  # stored in one spelling too


# (what a mutation review of the engine found unguarded: a non-atomic write, a multi-process run
# returning only its own models, fresh temp files of another run deleted, padding copies on
# disk, and a task's own divergence verdict ignored)
SMALL = TrainConfig(n=40, batch=32, steps=20, warmup=2, test_batches=1, log_every=10)
THREE = POINTS[:3]  # one width, three gammas
ONE = jax.devices()[:1]


def test_atomic_write_leaves_the_old_file_whole_when_the_writer_fails(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old contents")

    def failing(f):
        f.write(b"partial")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(path, failing)
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_atomic_write_keeps_permissions_and_symlinks_and_takes_long_names(tmp_path, monkeypatch):
    from toyscale import io

    # a rewritten 0o600 file became 0o644 (the temp file's umask mode)
    private = tmp_path / "private.json"
    private.write_text("{}")
    private.chmod(0o600)
    io.atomic_write_json(private, {"x": 1})
    assert private.stat().st_mode & 0o777 == 0o600 and json.loads(private.read_text()) == {"x": 1}
    # a symbolic link was replaced by a plain file, its target left with the old contents
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text('{"old": 1}')
    link.symlink_to(real)
    io.atomic_write_json(link, {"new": 1})
    assert link.is_symlink() and json.loads(real.read_text()) == {"new": 1}
    # a 244-character name (the file system takes 255) failed: the temp name added 22 to it
    long = tmp_path / ("r" * 239 + ".json")
    io.atomic_write_json(long, {"y": 2})
    assert json.loads(long.read_text()) == {"y": 2}
    wide = tmp_path / ("日" * 80 + ".json")  # 245 bytes in 85 characters: 100 characters had still been too many
    io.atomic_write_json(wide, {"z": 3})
    assert json.loads(wide.read_text()) == {"z": 3}
    assert sorted(os.listdir(tmp_path)) == sorted(["private.json", "real.json", "link.json", long.name, wide.name])
    # a temp file that cannot be opened (not just taken) is not kept as live
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(io.os, "open", refuse)
        with pytest.raises(PermissionError):
            io.atomic_write_json(tmp_path / "denied.json", {})
    assert not any("denied" in t for t in io._LIVE_TEMPS)


def test_each_process_of_a_multi_process_run_returns_every_record_on_disk(tmp_path, monkeypatch):
    kw = dict(out=tmp_path, devices=ONE, chunk_size=1, progress=False, process_count=2)
    p1 = sweep_superposition(SMALL, THREE, process_index=1, **kw)
    [name] = os.listdir(tmp_path / "chunks")
    assert name.startswith("chunk_0000001_1_")  # process p trains ids p mod 2
    assert p1.stats["chunks"] == 1
    saved = (tmp_path / "chunks" / name).read_bytes()
    (tmp_path / "chunks" / name).unlink()
    write = sweep._write_chunk

    def write_and_let_process_1_finish(folder, ids, *rest):
        write(folder, ids, *rest)
        (tmp_path / "chunks" / name).write_bytes(saved)  # written meanwhile by process 1

    monkeypatch.setattr(sweep, "_write_chunk", write_and_let_process_1_finish)
    p0 = sweep_superposition(SMALL, THREE, process_index=0, **kw)
    assert p0.stats["chunks"] == 2  # ids 0 and 2
    assert [r.model_id for r in p0] == [0, 1, 2]  # its own models and those process 1 finished meanwhile


def test_resuming_removes_only_stale_temp_files(tmp_path):
    sweep_superposition(SMALL, THREE[:1], out=tmp_path, devices=ONE, progress=False)
    chunks = tmp_path / "chunks"
    fresh, stale = chunks / f".tmp-{'a' * 16}-chunk_x.npz", chunks / f".tmp-{'b' * 16}-chunk_y.npz"
    fresh.write_bytes(b"another run is writing me")
    stale.write_bytes(b"left by a killed run")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    sweep_superposition(SMALL, THREE[:1], out=tmp_path, devices=ONE, progress=False)
    assert fresh.exists() and not stale.exists()
    stale.write_bytes(b"left by a killed process of a two-process run")  # (had been cleared by one-process runs only)
    os.utime(stale, (old, old))
    sweep_superposition(SMALL, THREE[:1], out=tmp_path, devices=ONE, progress=False, process_index=1, process_count=2)
    assert fresh.exists() and not stale.exists()


def test_padding_models_are_not_written_to_chunk_files(tmp_path):
    # 3 models in chunks of 2: the second chunk holds model 2 plus one padding copy
    sweep_superposition(SMALL, THREE, out=tmp_path, devices=ONE, chunk_size=2, progress=False)
    seen = []
    for name in sorted(os.listdir(tmp_path / "chunks")):
        with np.load(tmp_path / "chunks" / name) as z:
            ids = z["model_id"].tolist()
            assert len(set(ids)) == len(ids) and z["diverged"].shape == (len(ids),)
            assert all(z[k].shape[0] == len(ids) for k in z.files)
        assert re.fullmatch(f"chunk_{ids[0]:07d}_{len(ids)}_[0-9a-f]{{8}}.npz", name)
        seen += ids
    assert sorted(seen) == [0, 1, 2]


def test_a_resume_trains_only_the_missing_models_of_a_partly_done_group(tmp_path):
    kw = dict(out=tmp_path, devices=ONE, chunk_size=1, progress=False)
    sweep_superposition(SMALL, THREE, **kw)
    [second] = (tmp_path / "chunks").glob("chunk_0000001_1_*.npz")
    second.unlink()
    again = sweep_superposition(SMALL, THREE, **kw)
    assert again.stats["chunks"] == 1 and len(again) == 3


class _FlagTask:
    """A toy task whose own verdict flags a model whose outputs are all finite."""
    name = "flag_task"

    def config(self):
        return {}

    def static_of(self, point):
        return 0

    def inputs_of(self, point):
        return {"flag": np.asarray(point["flag"], dtype=bool)}

    def model_fn(self, static, inputs, key):
        return {"x": jax.numpy.ones(()), "diverged": inputs["flag"]}

    def bytes_per_model(self, static):
        return 1

    def steps(self, static):
        return 1


@pytest.mark.parametrize("name", ["model_id", "point_digest", "file", "allow_pickle"])
def test_an_output_named_like_the_engines_own_columns_is_refused(name, tmp_path):
    # (np.savez(file, allow_pickle=..., **outputs): "allow_pickle" was dropped from the file,
    # "file" failed with a TypeError after training)
    class Clash(_FlagTask):
        def model_fn(self, static, inputs, key):
            return {name: jax.numpy.zeros((2,), jax.numpy.uint32), "x": jax.numpy.ones(())}

    with pytest.raises(ValueError, match=f"task 'flag_task' returns output\\(s\\) named \\['{name}'\\]"):
        sweep.run_sweep(Clash(), [{"flag": False}], out=tmp_path, devices=ONE, progress=False)
    assert not (tmp_path / "chunks").exists()


def test_an_output_numpy_cannot_store_is_kept_as_float32_or_int32(tmp_path):
    # np.savez wrote a bfloat16 output as raw bytes and np.load read back void ('|V2'), so a
    # loaded sweep's table and CSV held b'u>' where the trained one held 0.2393
    class Narrow(_FlagTask):
        def model_fn(self, static, inputs, key):
            x = jax.random.uniform(key, (3,))
            return {"half": x.astype(jax.numpy.bfloat16), "tiny": x.astype(jax.numpy.float8_e4m3fn),
                    "nibble": jax.numpy.arange(3).astype(jax.numpy.int4), "wide": x}

    points = [{"flag": False, "seed": s} for s in range(3)]
    trained = sweep.run_sweep(Narrow(), points, out=tmp_path, devices=ONE, progress=False)
    loaded = sweep.load_sweep(tmp_path)
    for got in (trained, loaded):
        for r in got:
            out = r.outputs
            assert out["half"].dtype == out["tiny"].dtype == np.float32 and out["nibble"].dtype == np.int32
            np.testing.assert_array_equal(out["half"], out["wide"].astype(jax.numpy.bfloat16).astype(np.float32))
            np.testing.assert_array_equal(out["nibble"], [0, 1, 2])
    for a, b in zip(trained, loaded):
        assert all(np.array_equal(a.outputs[k], b.outputs[k]) for k in a.outputs)


def test_a_run_of_one_of_two_points_apart_only_in_label_leaves_the_folders_grid_whole(tmp_path):
    # the grids were compared as sets of point digests (label left out), so this part of the
    # folder's grid counted as an extension and rewrote the manifest with 2 of its 3 points
    a, b = {"flag": False, "seed": 0}, {"flag": False, "seed": 1}
    whole = [{**a, "label": "x"}, {**a, "label": "y"}, b]
    with pytest.warns(RuntimeWarning, match="same model"):
        sweep.run_sweep(_FlagTask(), whole, out=tmp_path, devices=ONE, progress=False)
    part = sweep.run_sweep(_FlagTask(), [{**a, "label": "x"}, b], out=tmp_path, devices=ONE, progress=False)
    assert len(part) == 2 and part.stats["chunks"] == 0  # (both read from the folder)
    loaded = sweep.load_sweep(tmp_path)
    assert [r.point.get("label") for r in loaded] == ["x", "y", None] and "extends" not in loaded.manifest


def test_resuming_into_a_hand_edited_manifest_names_its_damaged_field(tmp_path):
    # versions as a string or extends as a number had ended in a bare AttributeError/TypeError
    # when a run resumed or extended the folder; versions or extends as null count as absent
    a, b = {"flag": False, "seed": 0}, {"flag": False, "seed": 1}
    for key, value, message in (("versions", "0.1", "'versions' is '0.1', not an object"),
                                ("extends", 3, "'extends' is 3, not a list")):
        folder = tmp_path / key
        sweep.run_sweep(_FlagTask(), [a], out=folder, devices=ONE, progress=False)
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**manifest, key: value}))
        for points in ([a], [a, b]):  # resumed, extended
            with pytest.raises(sweep.FolderInUseError, match=f"{message}; the manifest is damaged"):
                sweep.run_sweep(_FlagTask(), points, out=folder, devices=ONE, progress=False)
    folder = tmp_path / "null"
    sweep.run_sweep(_FlagTask(), [a], out=folder, devices=ONE, progress=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "versions": None, "extends": None}))
    assert len(sweep.run_sweep(_FlagTask(), [a], out=folder, devices=ONE, progress=False)) == 1
    grown = sweep.run_sweep(_FlagTask(), [a, b], out=folder, devices=ONE, progress=False)
    assert len(grown) == 2 and len(sweep.load_sweep(folder).manifest["extends"]) == 1


def test_a_task_config_with_an_infinity_can_be_extended(tmp_path):
    # the folder's config read back with null where this run's had inf, so a bigger grid was
    # refused as "its task config differs in clip (null there, Infinity now)"
    class Clipped(_FlagTask):
        def config(self):
            return {"clip": float("inf")}

    a, b = {"flag": False, "seed": 0}, {"flag": False, "seed": 1}
    first = sweep.run_sweep(Clipped(), [a], out=tmp_path, devices=ONE, progress=False)
    grown = sweep.run_sweep(Clipped(), [a, b], out=tmp_path, devices=ONE, progress=False)
    assert len(grown) == 2 and len(sweep.load_sweep(tmp_path)) == 2
    assert first.manifest["task_config"] == sweep.load_sweep(tmp_path).manifest["task_config"] == {"clip": None}

    class Unclipped(_FlagTask):  # (stored as null too, yet another sweep)
        def config(self):
            return {"clip": float("-inf")}

    with pytest.raises(sweep.FolderInUseError, match="already holds a different sweep"):
        sweep.run_sweep(Unclipped(), [a, b, {"flag": True, "seed": 2}], out=tmp_path, devices=ONE, progress=False)
    with pytest.raises(sweep.FolderInUseError, match="differ in a value that JSON stores as null"):
        sweep.run_sweep(Unclipped(), [a], out=tmp_path, devices=ONE, progress=False)


def test_a_diverged_verdict_that_is_not_one_bool_per_model_is_refused_before_anything_is_saved(tmp_path):
    # per-element flags had failed only after the chunk was written, leaving a folder that neither a
    # resume nor load_sweep could read ("The truth value of an array ... is ambiguous")
    class PerElement(_FlagTask):
        def model_fn(self, static, inputs, key):
            return {"x": jax.numpy.ones(()), "diverged": jax.numpy.stack([inputs["flag"], inputs["flag"]])}

    with pytest.raises(ValueError, match=r"returns 'diverged' of shape \(2,\); it must be one bool per model"):
        sweep.run_sweep(PerElement(), [{"flag": False}], out=tmp_path, devices=ONE, progress=False)
    assert not list(tmp_path.rglob("chunk_*"))


def test_a_point_field_named_like_an_engine_column_does_not_overwrite_it_in_the_table():
    # {"diverged": "no"} in the points had replaced the engine's verdict in table()/to_csv()
    points = [{"flag": False, "seed": 0, "diverged": "no", "model_id": 7}, {"flag": True, "seed": 1, "diverged": "no"}]
    res = sweep.run_sweep(_FlagTask(), points, devices=ONE, progress=False)
    columns, rows = res.table()
    table = [dict(zip(columns, row)) for row in rows]
    assert [t["diverged"] for t in table] == [0, 1] and [t["model_id"] for t in table] == [0, 1]
    assert [t["point.diverged"] for t in table] == ["no", "no"] and [t["point.model_id"] for t in table] == [7, None]


def test_a_task_may_return_plain_python_numbers(tmp_path):
    # (the dtype widening had read .dtype of a plain float or bool: an AttributeError)
    class Plain(_FlagTask):
        def model_fn(self, static, inputs, key):
            return {"x": jax.numpy.ones(()), "c": 1.0, "diverged": False}

    res = sweep.run_sweep(Plain(), [{"flag": False}], out=tmp_path, devices=ONE, progress=False)
    assert [(r.diverged, float(r.outputs["c"])) for r in res] == [(False, 1.0)]


def test_only_a_stored_null_reads_as_an_infinity_or_nan_in_a_config():
    # (a substring test had taken the text "nullable" for one)
    assert sweep._holds_null({"clip": None}) and sweep._holds_null({"a": [1, {"b": None}]})
    assert not sweep._holds_null({"mode": "nullable", "a": [1, "null"]}) and not sweep._holds_null({})


def test_the_tasks_own_diverged_verdict_is_used_for_finite_outputs():
    res = sweep.run_sweep(_FlagTask(), [{"flag": False, "seed": 0}, {"flag": True, "seed": 0}, {"flag": False, "seed": 1}],
                          devices=ONE, progress=False)
    assert [r.diverged for r in res] == [False, True, False]
    assert all("diverged" not in r.outputs for r in res)


def _strip_digests(folder):
    """The folder's chunk files as a version that did not record point digests wrote them."""
    for path in (folder / "chunks").glob("chunk_*.npz"):
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files if k != "point_digest"}
        np.savez(path, **arrays)


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.compiled_as_users_do
def test_a_grid_holding_the_folders_points_extends_it_and_reuses_its_models(tmp_path, legacy):
    # More widths and seeds into the folder of a smaller grid: the finished models are reused
    # where their points now sit (their ids change), the new ones trained; the result is the
    # fresh run's, bit for bit. It had been refused as "a different sweep".
    small = superposition_grid(widths=[3], gammas=[-1.0, 1.0], frequencies=[power_law(1.1)], lr_w=2e-2, lr_b=1e-2,
                               seeds=[0])
    big = superposition_grid(widths=[3, 4], gammas=[-1.0, 1.0], frequencies=[power_law(1.1)], lr_w=2e-2, lr_b=1e-2,
                             seeds=[0, 1])
    assert big.index(small[1]) != 1  # a reused model's id changes
    folder = tmp_path / "sweep"
    first = sweep_superposition(CFG, small, out=folder, progress=False)
    if legacy:
        _strip_digests(folder)
    grown = sweep_superposition(CFG, big, out=folder, chunk_size=2, progress=False)
    fresh = sweep_superposition(CFG, big, chunk_size=2, progress=False)
    assert_same(grown, fresh)
    assert grown.stats["model_steps"] == 6 * CFG.steps  # the 6 new models trained; the 2 old ones reused
    for r in first:
        np.testing.assert_array_equal(grown.records[big.index(r.point)]["test_loss"], r["test_loss"])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["points"] == big and len(manifest["extends"]) == 1
    assert_same(load_sweep(folder), fresh)
    with np.load(next((folder / "chunks").glob("chunk_*.npz"))) as z:
        assert "point_digest" in z.files  # (a legacy file gets its digests before the ids change)
    # the smaller grid again: part of the folder's, read from it, nothing trained; the folder
    # keeps the whole grid
    again = sweep_superposition(CFG, small, out=folder, progress=False)
    assert again.stats["chunks"] == 0
    assert_same(again, first)
    assert json.loads((folder / "manifest.json").read_text())["points"] == big


def test_a_legacy_chunk_with_an_id_outside_the_grid_is_refused_by_name_when_the_grid_grows(tmp_path):
    # A digest-less chunk file whose model id the folder's grid does not hold (a hand-edited or
    # foreign file): extending the grid raised a bare IndexError; now a FolderInUseError naming
    # the file and the id, with nothing changed on disk.
    small = superposition_grid(widths=[3], gammas=[-1.0], frequencies=[power_law(1.1)], lr_w=2e-2, lr_b=1e-2)
    big = superposition_grid(widths=[3, 4], gammas=[-1.0], frequencies=[power_law(1.1)], lr_w=2e-2, lr_b=1e-2)
    folder = tmp_path / "sweep"
    sweep_superposition(CFG, small, out=folder, progress=False)
    _strip_digests(folder)
    (path,) = (folder / "chunks").glob("chunk_*.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["model_id"] = np.asarray([7], np.int64)
    np.savez(path, **arrays)
    before = (folder / "manifest.json").read_text()
    with pytest.raises(FolderInUseError, match=r"chunk_.*model id 7, outside this folder's 1 points"):
        sweep_superposition(CFG, big, out=folder, progress=False)
    assert (folder / "manifest.json").read_text() == before


def test_two_runs_extending_one_folder_at_once_cannot_drop_either(tmp_path):
    # Both had read the folder's grid and each written its own grown grid over the other's: the
    # first one's models dropped out of the folder. Under the manifest lock the second, waiting,
    # reads the first's grid, and is refused (neither grid holds the other).
    import shutil
    import threading

    points = superposition_grid(widths=[3], gammas=[-1.0, 0.2, 1.0], frequencies=[power_law(1.1)], lr_w=2e-2,
                                lr_b=1e-2)
    first, second = points[:2], [points[0], points[2]]
    folder, elsewhere = tmp_path / "sweep", tmp_path / "copy"
    sweep_superposition(CFG, points[:1], out=folder, progress=False)
    shutil.copytree(folder, elsewhere)
    sweep_superposition(CFG, first, out=elsewhere, progress=False)  # the first extension, made elsewhere
    outcome = []

    def extend():
        try:
            sweep_superposition(CFG, second, out=folder, progress=False)
            outcome.append("trained")
        except FolderInUseError as e:
            outcome.append(str(e))

    with sweep._manifest_lock(str(folder)):  # as the first run holds it while it extends the grid
        run = threading.Thread(target=extend)
        run.start()
        run.join(3.0)
        assert run.is_alive()  # waiting for the lock (it reads a manifest in well under a second)
        for chunk in (elsewhere / "chunks").iterdir():
            shutil.copy(chunk, folder / "chunks" / chunk.name)
        atomic_write(str(folder / "manifest.json"), lambda f: f.write((elsewhere / "manifest.json").read_bytes()))
    run.join(120)
    assert len(outcome) == 1 and "already holds a different sweep" in outcome[0], outcome
    assert json.loads((folder / "manifest.json").read_text())["points"] == first
    assert [r.point for r in load_sweep(folder)] == first


def test_the_manifest_lock_gives_way_where_no_lock_can_be_had(tmp_path, monkeypatch):
    # a finished sweep in a folder this run cannot write had failed to resume (the lock file
    # could not be created); a file system without flock runs unlocked, and says so
    import builtins
    import fcntl

    sweep_superposition(CFG, POINTS[:1], out=tmp_path, progress=False)
    (tmp_path / ".manifest.lock").unlink(missing_ok=True)  # (a new folder has none yet)

    def read_only(path, mode="r", *args, **kwargs):
        if str(path).endswith(".manifest.lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return builtins.open(path, mode, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(sweep, "open", read_only, raising=False)
        assert sweep_superposition(CFG, POINTS[:1], out=tmp_path, progress=False).stats["chunks"] == 0

    def no_flock(f, op):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    with pytest.warns(RuntimeWarning, match=r"its file system does not lock files \(\[Errno 37\] No locks available"):
        assert sweep_superposition(CFG, POINTS[:1], out=tmp_path, progress=False).stats["chunks"] == 0


@pytest.mark.compiled_as_users_do
def test_a_part_of_the_folders_grid_trains_into_it_what_is_missing(tmp_path):
    big = superposition_grid(widths=[3, 4], gammas=[-1.0, 1.0], frequencies=[power_law(1.1)], lr_w=2e-2, lr_b=1e-2)
    part = [big[3], big[0]]  # out of order
    folder = tmp_path / "sweep"
    sweep_superposition(CFG, big[:1], out=folder, progress=False)
    sweep_superposition(CFG, big, out=folder, progress=False, chunk_size=1)  # extend: 3 trained
    _strip_digests(folder)  # (as an older version left them, under the manifest of `big`)
    got = sweep_superposition(CFG, part, out=folder, progress=False)
    assert got.stats["chunks"] == 0 and [r.point for r in got] == part
    assert_same(got, sweep_superposition(CFG, part, progress=False))


# mutants: the chunk written before the Ctrl-C (its file renamed into place) not counted, or one not written counted;
# the last chunk written counted again when the Ctrl-C comes later (while the next one trains)
def test_ctrl_c_says_what_is_saved_and_how_to_resume(tmp_path, monkeypatch, capsys):
    write, stack = sweep._write_chunk, sweep._stack_inputs
    for when, saved in (("before writing", 2), ("after writing", 3), ("training the next", 2)):
        calls, folder = [], tmp_path / when.replace(" ", "_")

        def write_then_interrupt(*args):
            calls.append(1)
            if len(calls) == 3 and when == "before writing":
                raise KeyboardInterrupt
            write(*args)
            if len(calls) == 3 and when == "after writing":  # (the file renamed into place, not yet counted)
                raise KeyboardInterrupt

        def stack_then_interrupt(*args):
            if len(calls) == 2 and when == "training the next":  # (two chunks on disk and counted)
                raise KeyboardInterrupt
            return stack(*args)

        monkeypatch.setattr(sweep, "_write_chunk", write_then_interrupt)
        monkeypatch.setattr(sweep, "_stack_inputs", stack_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            sweep_superposition(CFG, POINTS, out=folder, chunk_size=1, devices=jax.devices()[:1], progress=False)
        assert (f"interrupted: {saved} of this process's 6 models are saved in {folder}; run the same sweep into it "
                "again to resume") in capsys.readouterr().err, when
        assert len(load_sweep(folder)) == saved, when


def test_a_wrong_path_or_column_name_is_named(tmp_path):
    res = sweep_superposition(CFG, POINTS[:1], out=tmp_path / "s", progress=False)
    with pytest.raises(ValueError, match=r"name='test_los' is neither an output nor a point field.*'test_loss'"):
        res.column("test_los")
    assert res.column("m").tolist() == [3] and res.column("test_loss").shape == (1,)
    (tmp_path / "file.csv").write_text("x")
    with pytest.raises(ValueError, match="out=.*file.csv' is a file; out must be a folder"):
        sweep_superposition(CFG, POINTS[:1], out=tmp_path / "file.csv", progress=False)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_sweep(tmp_path / "file.csv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_sweep(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="has no manifest.json"):
        load_sweep(tmp_path)
    with pytest.raises(TypeError, match="folder=3"):
        load_sweep(3)


def test_extending_a_folder_under_other_versions_warns_and_keeps_the_first_runs(tmp_path):
    sweep_superposition(CFG, POINTS[:1], out=tmp_path, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["versions"]["jax"] = "0.0.1"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(RuntimeWarning, match="was started with jax 0.0.1"):
        sweep_superposition(CFG, POINTS[:2], out=tmp_path, progress=False)
    grown = json.loads((tmp_path / "manifest.json").read_text())
    assert grown["versions"]["jax"] == "0.0.1" and grown["created"] == manifest["created"]


def test_the_default_budget_is_asked_of_the_devices_the_sweep_trains_on(monkeypatch):
    assert sweep.default_memory_budget(jax.devices("cpu")[0]) == 2 * 1024**3
    with pytest.raises(TypeError, match="device='gpu'; device must be a jax.Device or None"):
        sweep.default_memory_budget("gpu")
    asked = []
    real = sweep.default_memory_budget
    monkeypatch.setattr(sweep, "default_memory_budget", lambda device=None: asked.append(device) or real(device))
    devices = jax.devices()[-1:]
    sweep.run_sweep(_FlagTask(), [{"flag": False}], devices=devices, progress=False)
    assert asked == devices


def test_a_config_string_or_class_where_the_task_goes_is_refused_before_anything_runs(tmp_path, xla_compilations):
    # run_sweep(TrainConfig(...), points) failed with "AttributeError: 'TrainConfig' object has no
    # attribute 'config'"; model_key(seed, point, config) silently keyed the point as given, not
    # as the sweep reads it (the key of another model)
    from toyscale.random_features import RFConfig
    from toyscale.train import SuperpositionTask

    p = POINTS[0]
    with xla_compilations() as names:
        for task in (CFG, RFConfig(), "superposition", SuperpositionTask):
            with pytest.raises(TypeError, match=re.escape(f"task={sweep.short_repr(task)}; task must be a")
                               + ".*e.g. SuperpositionTask\\(config\\)"):
                sweep.run_sweep(task, POINTS, out=tmp_path / "never", progress=False)
            with pytest.raises(TypeError, match=re.escape(f"task={sweep.short_repr(task)}; task must be None")):
                model_key(0, p, task)
    assert names == [] and not (tmp_path / "never").exists()
    with pytest.raises(TypeError, match=r"it lacks name, config, .*sweep_superposition\(config, points\)"):
        sweep.run_sweep(CFG, POINTS, progress=False)
    with pytest.raises(TypeError, match="it is a class, not an instance"):
        model_key(0, p, SuperpositionTask)
    # a task without identity_of keys the point as given, as the sweep does
    np.testing.assert_array_equal(model_key(0, {"flag": False}, _FlagTask()), model_key(0, {"flag": False}))
    np.testing.assert_array_equal(model_key(0, p, None), model_key(0, p))


def test_chunk_layout_checks_its_devices_as_run_sweep_does():
    # devices=['cpu'] passed the non-empty check and failed with "AttributeError: 'str' object
    # has no attribute 'platform'"
    d0 = jax.devices()[0]
    for call in (lambda devices: chunk_layout(5, 1, memory_budget=1, devices=devices),
                 lambda devices: sweep.run_sweep(_FlagTask(), [{"flag": False}], devices=devices, progress=False)):
        with pytest.raises(TypeError, match=r"devices=\['cpu'\]; devices must be a list of jax.Device objects"):
            call(["cpu"])
        with pytest.raises(ValueError, match="non-empty list of distinct jax.Device objects"):
            call([d0, d0])
    assert chunk_layout(5, 1, memory_budget=10**9, devices=(d0,)) == (5, 1)  # any sequence of devices
    # a Mesh's devices, a numpy array, had been refused with the advice to wrap it in a list (refused too)
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:2]), ("models",))
    assert chunk_layout(5, 1, memory_budget=10**9, devices=mesh.devices) == (6, 1)


def test_an_out_path_that_is_a_file_is_a_folder_in_use_and_a_scripts_usage_error(tmp_path, capsys):
    # a plain ValueError, which an experiment script showed as a traceback, not a usage error
    from toyscale.runner import experiment_args, run_experiment_sweep

    (tmp_path / "sweep").write_text("x")
    with pytest.raises(FolderInUseError, match="out=.*sweep' is a file; out must be a folder"):
        sweep_superposition(CFG, POINTS[:1], out=tmp_path / "sweep", progress=False)
    args = experiment_args("demo", "", {"quick": {"seeds": 2}}, ["--out", str(tmp_path), "--no-progress"])
    with pytest.raises(SystemExit) as exit_:
        run_experiment_sweep(args, sweep_superposition, CFG, POINTS[:1])
    assert exit_.value.code == 2
    assert f"--out {tmp_path}: out='{tmp_path / 'sweep'}' is a file" in capsys.readouterr().err
    assert (tmp_path / "sweep").read_text() == "x"


@pytest.mark.compiled_as_users_do
def test_the_predicted_peak_holds_a_cpu_shares_stacked_outputs():
    # A CPU device trains its share one model at a time, but lax.map keeps every model's
    # outputs until the chunk ends: with keep_weights at n = 2048, m = 128 (1 MB of W each) a
    # share of 8 had been predicted at one model's bytes, below what XLA allocates.
    import jax.numpy as jnp
    from toyscale.train import SuperpositionTask

    cfg = TrainConfig(n=2048, batch=8, steps=4, warmup=1, test_batches=1, log_every=2, keep_weights=True)
    points = superposition_grid(widths=[128], gammas=[-1.0, 1.0], frequencies=[power_law(1.2)], lr_w=1e-2,
                                lr_b=1e-2, seeds=4)
    devices = jax.devices()[:1]
    res = sweep_superposition(cfg, points, devices=devices, chunk_size=8, progress=False)
    task = SuperpositionTask(cfg)
    static = task.static_of(points[0])
    assert res.stats["chunk_sizes"][str(static)] == 8 and res.stats["vector_widths"][str(static)] == 1
    mesh = jax.sharding.Mesh(np.asarray(devices), ("models",))
    inputs = sweep._stack_inputs(task, points)
    keys = jnp.stack([model_key(0, p, task) for p in points])
    ma = sweep._compiled_group_fn(task, static, mesh, 1).lower(inputs, keys).compile().memory_analysis()
    used = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes - ma.alias_size_in_bytes
    predicted = res.stats["predicted_peak_bytes_per_device"][str(static)]
    assert used <= predicted <= 2 * used
    assert predicted >= task.bytes_per_model(static) + 7 * 2048 * 128 * 4  # the seven others' W beside it


def test_a_point_the_task_cannot_read_is_named_before_the_folder_is_claimed(tmp_path):
    # (a point without "m" raised a bare KeyError 'm' after manifest.json was written, so the
    # corrected grid was then refused as a different sweep)
    from toyscale.train import SuperpositionTask

    task = SuperpositionTask(CFG)
    good = POINTS[0]
    no_m = {k: v for k, v in good.items() if k != "m"}
    with pytest.raises(ValueError, match=r"points\[1\]=\{.*\} has no field 'm', which task 'superposition' needs"):
        sweep.run_sweep(task, [good, no_m], out=tmp_path / "s", progress=False)
    no_gamma = {k: v for k, v in good.items() if k != "gamma"}  # (static_of reads only m)
    with pytest.raises(ValueError, match=r"points\[0\]=.* has no field 'gamma'.*its inputs_of asked"):
        sweep.run_sweep(task, [no_gamma], out=tmp_path / "s", progress=False)
    assert not (tmp_path / "s" / "manifest.json").exists()
    # another process's point too: process 1 of 2 had claimed the folder with process 0's bad point in it
    with pytest.raises(ValueError, match=r"points\[0\]=.* has no field 'gamma'"):
        sweep.run_sweep(task, [no_gamma, good], out=tmp_path / "s", process_index=1, process_count=2, progress=False)
    no_frequencies = {k: v for k, v in good.items() if k != "frequencies"}  # (read first, by identity_of)
    with pytest.raises(ValueError, match=r"points\[0\]=.* has no field 'frequencies'.*its identity_of asked"):
        sweep.run_sweep(task, [no_frequencies], out=tmp_path / "s", progress=False)
    assert not (tmp_path / "s" / "manifest.json").exists()
    res = sweep.run_sweep(task, [good], out=tmp_path / "s", progress=False)
    assert len(res.records) == 1 and not res.records[0].diverged


def test_a_tasks_own_error_keeps_its_type_with_a_note_naming_the_point():
    # a KeyError of the task's own table is not a missing field of the point, and an error type
    # with other constructor arguments (json's JSONDecodeError) had become "TypeError: __init__() missing..."
    class Lookup(_FlagTask):
        def static_of(self, point):
            return {}[point["flag"]]

    class Decoding(_FlagTask):
        def inputs_of(self, point):
            return json.loads("{")

    with pytest.raises(KeyError) as hit:
        sweep.run_sweep(Lookup(), [{"flag": False}], progress=False)
    assert hit.value.__notes__ == ["(raised by task 'flag_task''s static_of for points[0]={'flag': False})"]
    with pytest.raises(json.JSONDecodeError) as hit:
        sweep.run_sweep(Decoding(), [{"flag": False}], progress=False)
    assert "inputs_of for points[0]" in hit.value.__notes__[0]


def test_a_split_whose_shares_miss_models_says_which_are_unfinished(tmp_path):
    # process 0 of 2 and process 1 of 3 leave ids 3 and 5 to nobody; load_sweep had returned 4 of 6
    # records with nothing to say the grid was incomplete
    one = dict(devices=jax.devices()[:1], progress=False, out=tmp_path)
    cfg = dataclasses.replace(CFG, steps=20, warmup=2)
    points = [p for p in POINTS if p["m"] == 3] * 2  # (one width: one compile a call)
    points = [dict(p, seed=i) for i, p in enumerate(points)]
    first = sweep_superposition(cfg, points, process_index=0, process_count=2, **one)
    assert first.stats["unfinished"] == [1, 3, 5]  # (the other process's, not on disk yet)
    last = sweep_superposition(cfg, points, process_index=1, process_count=3, **one)
    assert [r.model_id for r in last] == [0, 1, 2, 4] and last.stats["unfinished"] == [3, 5]
    loaded = load_sweep(tmp_path)
    assert len(loaded) == 4 and loaded.stats["unfinished"] == [3, 5]
    done = sweep_superposition(cfg, points, **one)  # one process finishes the rest
    assert len(done) == 6 and done.stats["unfinished"] == [] and load_sweep(tmp_path).stats["unfinished"] == []


# ----------------------------------------------------------------------------- mutation review (sweep.py, io.py)
# Behaviours a hand mutation run over toyscale/sweep.py and toyscale/io.py found unguarded.


class _KeyTask(_FlagTask):
    """A toy task whose output is a draw from its model's key: it shows which key each model got."""
    name = "key_task"

    def inputs_of(self, point):
        return {"v": np.asarray(point.get("v", 0.0), np.float32)}

    def model_fn(self, static, inputs, key):
        return {"u": jax.random.uniform(key, (2,)), "v": inputs["v"]}


class _MeasuringKeyTask(_KeyTask):
    """A _KeyTask whose 'measure' flag only asks for extra measurements: it is not part of a model's identity."""

    def identity_of(self, point):
        return {k: v for k, v in point.items() if k != "measure"}


def _key_points(n, **extra):
    return [{"v": float(i), "seed": i, **extra} for i in range(n)]


# mutants: sweep seed ignored (PRNGKey(0) as root); keys from the point digest instead of the task's identity_of;
# identity_of ignored when keying
def test_each_model_of_a_sweep_gets_the_key_model_key_gives_it():
    points = _key_points(3)
    for seed in (0, 5):
        res = sweep.run_sweep(_KeyTask(), points, seed=seed, devices=ONE, chunk_size=2, progress=False)
        for r, p in zip(res, points):
            np.testing.assert_array_equal(r["u"], jax.random.uniform(model_key(seed, p), (2,)), err_msg=str(p))
    task = _MeasuringKeyTask()
    measured = [dict(p, measure=True) for p in points]
    res = sweep.run_sweep(task, measured, seed=5, devices=ONE, progress=False)
    for r, p, q in zip(res, points, measured):
        np.testing.assert_array_equal(r["u"], jax.random.uniform(model_key(5, p), (2,)))
        np.testing.assert_array_equal(model_key(5, q, task), model_key(5, p))


# mutants: one of the two digest words ignored when folding; the digest's words read big-endian (a refactor that
# silently redraws every model, so a resumed folder mixes two draws of a grid)
def test_model_key_folds_the_first_two_little_endian_words_of_the_points_sha256():
    point = {"m": 3, "gamma": -1.0, "label": "a tag", "seed": 2}
    digest = hashlib.sha256(json.dumps({"gamma": -1, "m": 3, "seed": 2}, sort_keys=True).encode()).digest()
    words = int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little")
    expected = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(7), jnp.uint32(words[0])), jnp.uint32(words[1]))
    np.testing.assert_array_equal(model_key(7, point), expected)


# mutant: a group whose models are all on disk still planned and counted as a compiled program
def test_resuming_a_finished_folder_plans_no_program(tmp_path):
    points = _key_points(2)
    sweep.run_sweep(_KeyTask(), points, out=tmp_path, devices=ONE, progress=False)
    again = sweep.run_sweep(_KeyTask(), points, out=tmp_path, devices=ONE, progress=False)
    assert again.stats["chunks"] == again.stats["programs"] == 0 and again.stats["chunk_sizes"] == {}
    assert len(again) == 2


# mutants: progress total = every point of the grid; initial ignoring the models on disk; padding counted
def test_the_progress_bar_counts_this_processs_models_without_padding(tmp_path, monkeypatch):
    bars = []

    class Recorder(sweep._Progress):
        def __init__(self, total, initial, enabled, desc):
            super().__init__(total, initial, False, desc)
            bars.append([total, initial, 0])

        def update(self, models, model_steps):
            super().update(models, model_steps)
            bars[-1][2] += models

    monkeypatch.setattr(sweep, "_Progress", Recorder)
    points = [{"flag": False, "seed": s} for s in range(5)]
    kw = dict(out=tmp_path, devices=ONE, chunk_size=2, progress=False)
    sweep.run_sweep(_FlagTask(), points, process_index=0, process_count=2, **kw)  # ids 0, 2, 4: chunks of 2
    assert bars[-1] == [3, 0, 3]
    for f in (tmp_path / "chunks").glob("chunk_0000004_*.npz"):
        f.unlink()
    sweep.run_sweep(_FlagTask(), points, **kw)  # 0 and 2 on disk: 1, 3 and 4 trained, each in a padded chunk
    assert bars[-1] == [5, 2, 3]


# mutants: the Ctrl-C message counting every point of the grid, or other processes' models on disk, as this one's
def test_ctrl_c_in_a_share_of_the_grid_counts_only_that_shares_models(tmp_path, monkeypatch, capsys):
    points = [{"flag": False, "seed": s} for s in range(4)]
    kw = dict(out=tmp_path, devices=ONE, chunk_size=1, progress=False, process_count=2)
    sweep.run_sweep(_FlagTask(), points, process_index=0, **kw)  # ids 0 and 2 on disk

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "_write_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(_FlagTask(), points, process_index=1, **kw)
    assert f"interrupted: 0 of this process's 2 models are saved in {tmp_path}" in capsys.readouterr().err


# mutants: stale-file clean-up deleting any file untouched for an hour (chunks, the manifest); only chunks/ cleaned
def test_a_resume_keeps_old_results_and_clears_old_temp_files_in_both_folders(tmp_path):
    points = [{"flag": False, "seed": s} for s in range(2)]
    sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, progress=False)
    (tmp_path / ".tmp-0123456789abcdef-manifest.json").write_text("{")  # a killed run's manifest rewrite
    old = time.time() - 2 * 3600
    for path in [*tmp_path.iterdir(), *(tmp_path / "chunks").iterdir()]:
        os.utime(path, (old, old))
    again = sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, progress=False)
    assert again.stats["chunks"] == 0 and len(load_sweep(tmp_path)) == 2
    assert not (tmp_path / ".tmp-0123456789abcdef-manifest.json").exists() and (tmp_path / "manifest.json").exists()


# mutant: the model axis placed on the first device only (the engine still pads chunks for all of them)
def test_a_chunk_is_shared_out_over_every_device():
    class WhereTask(_FlagTask):
        def model_fn(self, static, inputs, key):
            return {"device": jax.lax.axis_index("models")}

    points = [{"flag": False, "seed": s} for s in range(4)]
    res = sweep.run_sweep(WhereTask(), points, devices=jax.devices()[:4], chunk_size=4, progress=False)
    assert [int(r["device"]) for r in res] == [0, 1, 2, 3]


# mutant: process_index == process_count accepted (a process that trains nothing)
def test_a_process_index_out_of_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"process_index=2; must be in \[0, process_count=2\)"):
        sweep.run_sweep(_FlagTask(), [{"flag": False}], out=tmp_path, process_index=2, process_count=2,
                        progress=False)


# mutant: each model of a chunk read back with the diverged flag of the chunk's first model
def test_each_models_own_diverged_flag_is_read_back_from_a_chunk(tmp_path):
    points = [{"flag": f, "seed": s} for s, f in enumerate([False, True, False, True])]
    sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, chunk_size=4, progress=False)
    assert len(os.listdir(tmp_path / "chunks")) == 1
    assert [r.diverged for r in load_sweep(tmp_path)] == [False, True, False, True]


# mutants: a PermissionError advised as a damaged file to delete; a file lacking model_id or diverged not named
def test_an_unreadable_chunk_file_is_named_or_its_permission_error_kept(tmp_path, monkeypatch):
    sweep.run_sweep(_FlagTask(), [{"flag": False}], out=tmp_path, devices=ONE, progress=False)
    [chunk] = (tmp_path / "chunks").iterdir()
    with np.load(chunk) as z:
        arrays = {k: z[k] for k in z.files}
    for column in ("model_id", "diverged"):
        np.savez(chunk, **{k: v for k, v in arrays.items() if k != column})
        with pytest.raises(ValueError, match=f"chunk file '{chunk}' cannot be read \\(KeyError: '{column}'"):
            load_sweep(tmp_path)
    np.savez(chunk, **arrays)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(chunk))

    monkeypatch.setattr(sweep.np, "load", denied)
    with pytest.raises(PermissionError):
        load_sweep(tmp_path)


# mutant: chunk files named by their model ids only: an extension's new chunk of the same first id and count
# overwrote a finished chunk of the folder's first grid
def test_an_extensions_chunk_does_not_overwrite_one_with_the_same_first_id_and_count(tmp_path):
    old, new = _key_points(2), _key_points(4)[2:]
    sweep.run_sweep(_KeyTask(), old, out=tmp_path, devices=ONE, chunk_size=2, progress=False)
    grown = sweep.run_sweep(_KeyTask(), new + old, out=tmp_path, devices=ONE, chunk_size=2, progress=False)
    assert grown.stats["chunks"] == 1 and len(os.listdir(tmp_path / "chunks")) == 2
    loaded = load_sweep(tmp_path)
    assert loaded.stats["unfinished"] == [] and [r.point for r in loaded] == new + old


# mutants: digests recomputed from model ids for chunk files that have them (ids of an earlier grid: another
# model's results); the extended manifest's "extends" keeping only the last fingerprint
def test_a_folder_extended_twice_keeps_every_model_where_its_point_is(tmp_path):
    points = _key_points(4)
    grids = [points[2:], points[1:], points]  # each a new point in front: every id changes each time
    for grid in grids:
        res = sweep.run_sweep(_KeyTask(), grid, out=tmp_path, devices=ONE, chunk_size=1, progress=False)
        assert res.stats["chunks"] == (2 if grid is grids[0] else 1)
    fresh = sweep.run_sweep(_KeyTask(), points, devices=ONE, progress=False)
    loaded = load_sweep(tmp_path)
    assert_same(loaded, fresh)
    assert len(loaded.manifest["extends"]) == 2


# mutant: a legacy chunk's model id equal to the number of points not refused (an IndexError)
def test_a_legacy_chunk_whose_id_is_the_number_of_points_is_refused_by_name(tmp_path):
    sweep.run_sweep(_FlagTask(), [{"flag": False}], out=tmp_path, devices=ONE, progress=False)
    _strip_digests(tmp_path)
    [path] = (tmp_path / "chunks").glob("chunk_*.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(path, **{**arrays, "model_id": np.asarray([1], np.int64)})
    with pytest.raises(FolderInUseError, match=r"model id 1, outside this folder's 1 points"):
        sweep.run_sweep(_FlagTask(), [{"flag": False}, {"flag": True}], out=tmp_path, devices=ONE, progress=False)


# mutant: a resume warning of any changed version (python, numpy), not only those that change a model's numbers
def test_resuming_under_another_python_or_numpy_is_silent(tmp_path):
    points = [{"flag": False, "seed": s} for s in range(2)]
    sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, chunk_size=1, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["versions"].update(python="2.7.18", numpy="1.0.0")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    sorted((tmp_path / "chunks").iterdir())[-1].unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, progress=False).stats["chunks"] == 1


# mutants: the result of a first or resumed run without the manifest's versions and date
def test_a_run_returns_the_manifest_its_folder_holds(tmp_path):
    points = [{"flag": False, "seed": s} for s in range(2)]
    for _ in range(2):  # first run, then resumed
        res = sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, progress=False)
        assert res.manifest == load_sweep(tmp_path).manifest
        assert {"versions", "created", "fingerprint"} <= set(res.manifest)


# mutants: infinities not flagged by the default verdict (only NaN); complex outputs not checked
def test_the_default_verdict_flags_an_infinity_and_a_non_finite_complex_output():
    class NonFinite(_FlagTask):
        def inputs_of(self, point):
            return {"kind": np.asarray(point["kind"], np.int32)}

        def model_fn(self, static, inputs, key):
            x = jnp.where(inputs["kind"] == 1, jnp.inf, 1.0)
            z = jnp.where(inputs["kind"] == 2, jnp.nan, 1.0).astype(jnp.complex64)
            # one NaN entry of a vector output (a loss curve's last point, say) is enough (a mutant asking for
            # every entry to be non-finite had passed)
            curve = jnp.array([1.0, 2.0, 3.0]).at[-1].set(jnp.where(inputs["kind"] == 3, jnp.nan, 3.0))
            return {"x": x, "z": z, "curve": curve}

    res = sweep.run_sweep(NonFinite(), [{"kind": k} for k in range(4)], devices=ONE, progress=False)
    assert [r.diverged for r in res] == [False, True, True, True]


# mutants: the predicted peak counting the whole chunk, not a device's share; one in-flight model, not
# vector_width; the in-flight models' outputs counted twice
def test_the_predicted_peak_is_width_models_plus_the_rest_of_the_shares_outputs():
    class Sized(_FlagTask):
        def model_fn(self, static, inputs, key):
            return {"x": jnp.ones((10,), jnp.float32), "diverged": inputs["flag"]}

        def bytes_per_model(self, static):
            return 1000

    points = [{"flag": False, "seed": s} for s in range(8)]
    res = sweep.run_sweep(Sized(), points, devices=jax.devices()[:2], chunk_size=8, vector_width=2, progress=False)
    assert res.stats["chunk_sizes"] == {"0": 8} and res.stats["vector_widths"] == {"0": 2}
    # a device's share is 4 models: 2 in flight (1000 bytes each) beside the 2 others' outputs (40 + 1 bytes each)
    assert res.stats["predicted_peak_bytes_per_device"] == {"0": 2 * 1000 + 2 * 41}


# mutant: select() checking conditions against the finished records' fields only
def test_select_knows_the_fields_of_points_not_finished_yet(tmp_path):
    points = [{"flag": False, "seed": 0}, {"flag": False, "seed": 1, "extra": 1}]
    res = sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, process_index=0, process_count=2,
                          progress=False)
    assert [r.model_id for r in res] == [0] and res.select(extra=1) == []
    assert load_sweep(tmp_path).select(extra=1) == []


# ----------------------------------------------------------------------------- io


# mutants: no fsync of the temp file before the rename; no fsync of the folder after it
def test_atomic_write_fsyncs_the_file_before_the_rename_and_its_folder_after(tmp_path, monkeypatch):
    from toyscale import io

    log = []
    fsync, replace, link = os.fsync, os.replace, os.link

    def logged_fsync(fd):
        log.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        fsync(fd)

    monkeypatch.setattr(io.os, "fsync", logged_fsync)
    monkeypatch.setattr(io.os, "replace", lambda a, b: log.append("rename") or replace(a, b))
    monkeypatch.setattr(io.os, "link", lambda a, b: log.append("link") or link(a, b))
    io.atomic_write(tmp_path / "a.bin", lambda f: f.write(b"x"))
    assert log == ["fsync file", "rename", "fsync folder"]
    log.clear()
    assert io.atomic_create(tmp_path / "b.bin", lambda f: f.write(b"y"))
    assert log == ["fsync file", "link", "fsync folder"]


# mutant: temp files not registered while written, so an interrupted exit (remove_temp_files) leaves them behind
def test_a_temp_file_being_written_is_known_to_the_interrupt_clean_up(tmp_path):
    from toyscale import io

    live = []

    def write(f):
        live.extend(io._LIVE_TEMPS)
        f.write(b"x")

    io.atomic_write(tmp_path / "f.bin", write)
    assert len(live) == 1 and os.path.basename(live[0]).startswith(".tmp-")
    assert os.path.dirname(live[0]) == str(tmp_path) and live[0].endswith("f.bin") and not io._LIVE_TEMPS


# mutants: the no-hard-link fallback overwriting an existing file; the fallback taken for other errors (or not for
# these)
def test_atomic_create_without_hard_links_creates_once_and_other_errors_are_raised(tmp_path, monkeypatch):
    from toyscale import io

    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(io.os, "link", no_links)
    assert io.atomic_create_json(tmp_path / "m.json", {"first": True})
    assert not io.atomic_create_json(tmp_path / "m.json", {"first": False})
    assert json.loads((tmp_path / "m.json").read_text()) == {"first": True} and os.listdir(tmp_path) == ["m.json"]

    def broken(src, dst):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(io.os, "link", broken)
    with pytest.raises(OSError, match="Input/output error"):
        io.atomic_create_json(tmp_path / "n.json", {})
    assert os.listdir(tmp_path) == ["m.json"]


# mutant: /proc/self/fd/N not taken as this process's own descriptor (a TypeError)
def test_atomic_write_writes_through_this_processs_descriptors(tmp_path):
    from toyscale import io

    for name in ("/proc/self/fd/{}", "/dev/fd/{}"):
        read, write = os.pipe()
        try:
            io.atomic_write(name.format(write), lambda f: f.write(b"a,b\n"))
        finally:
            os.close(write)
        with os.fdopen(read, "rb") as r:
            assert r.read() == b"a,b\n", name


# mutant: a new file given mode 0o644 whatever the umask
def test_a_new_atomic_file_follows_a_restrictive_umask(tmp_path):
    from toyscale.io import atomic_write_json

    mask = os.umask(0o027)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(mask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640


# mutant: load_sweep reading a folder of an unknown (newer) format as if it were its own
def test_load_sweep_refuses_a_folder_of_an_unknown_format(tmp_path):
    sweep.run_sweep(_FlagTask(), [{"flag": False}], out=tmp_path, devices=ONE, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "format": "toyscale-sweep/3"}))
    with pytest.raises(ValueError, match=r"holds format 'toyscale-sweep/3'; expected one of \['toyscale-sweep/1'"):
        load_sweep(tmp_path)


# mutant: a legacy (digest-less) chunk's model id outside the grid taken as a model of it (an IndexError)
def test_a_legacy_chunk_with_an_id_outside_the_grid_is_left_out_when_loading(tmp_path):
    points = [{"flag": False, "seed": s} for s in range(2)]
    sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, chunk_size=1, progress=False)
    _strip_digests(tmp_path)
    [path] = (tmp_path / "chunks").glob("chunk_0000000_*.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(path, **{**arrays, "model_id": np.asarray([7], np.int64)})
    loaded = load_sweep(tmp_path)
    assert [r.model_id for r in loaded] == [1] and loaded.stats["unfinished"] == [0]


# mutants: JSON written with its keys in insertion order (the records of a run and of its folder then tabulate
# apart: _sorted_keys mirrors the sorted file); a file in a folder not there yet failing
def test_atomic_json_sorts_its_keys_and_makes_the_folder_it_goes_in(tmp_path):
    from toyscale.io import atomic_write_json

    path = tmp_path / "new" / "sub" / "a.json"
    atomic_write_json(path, {"b": 1, "a": {"d": 2, "c": 3}})
    text = path.read_text()
    assert text.index('"a"') < text.index('"b"') and text.index('"c"') < text.index('"d"')
    assert json.loads(text) == {"a": {"c": 3, "d": 2}, "b": 1}


def test_the_other_versions_warning_comes_only_from_a_process_with_models_to_train(tmp_path):
    # a process whose share of a split grid was finished had warned that the models trained now may
    # differ, while it trained none
    points = [{"flag": False, "seed": s} for s in range(4)]
    sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, chunk_size=1, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["versions"]["jax"] = "0.0.1"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    for f in (tmp_path / "chunks").iterdir():  # process 1's share (ids 1 and 3) to train again
        if set(np.load(f)["model_id"].tolist()) & {1, 3}:
            f.unlink()
    split = dict(out=tmp_path, devices=ONE, chunk_size=1, progress=False, process_count=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sweep.run_sweep(_FlagTask(), points, process_index=0, **split).stats["chunks"] == 0
    with pytest.warns(RuntimeWarning, match=r"started with jax 0\.0\.1; resuming with jax "):
        assert sweep.run_sweep(_FlagTask(), points, process_index=1, **split).stats["chunks"] == 2




def test_load_sweep_can_read_past_a_damaged_chunk_and_name_it(tmp_path):
    # (for `toyscale status`: a damaged chunk had hidden how far the rest of the folder was)
    points = [{"flag": False, "seed": s} for s in range(4)]
    sweep.run_sweep(_FlagTask(), points, out=tmp_path, devices=ONE, chunk_size=2, progress=False)
    chunk = sorted((tmp_path / "chunks").iterdir())[0]
    with np.load(chunk) as z:
        lost = sorted(int(i) for i in z["model_id"])
    chunk.write_text("not an archive")
    with pytest.raises(ValueError, match="cannot be read"):
        load_sweep(tmp_path)
    res = load_sweep(tmp_path, skip_unreadable=True)
    assert sorted(r.model_id for r in res) == sorted(set(range(4)) - set(lost)) and res.stats["unfinished"] == lost
    [message] = res.stats["unreadable"]
    assert message.startswith(f"chunk file '{chunk}' cannot be read (not a chunk file")
    for where in (tmp_path, tmp_path / "missing"):  # (checked before the folder is)
        with pytest.raises(TypeError, match="skip_unreadable=1; skip_unreadable must be True or False"):
            load_sweep(where, skip_unreadable=1)


# ----------------------------------------------------------------------------- common random numbers (Task.common_of)


class _CommonKeyTask(_KeyTask):
    """A _KeyTask whose models share a second key across 'v' (its common_of leaves v out)."""
    name = "common_key_task"

    def common_of(self, point):
        return {k: v for k, v in point.items() if k != "v"}

    def model_fn(self, static, inputs, key):
        own, common = key
        return {"u": jax.random.uniform(own, (2,)), "c": jax.random.uniform(common, (2,)), "v": inputs["v"]}


# mutants: the common key folded from the model's own identity (or without the sweep seed); the pair's halves
# swapped; common words computed on the unmarked common_of (a common identity keying another model's key)
def test_points_whose_common_of_agree_share_the_common_key_on_any_chunking():
    points = [{"v": float(v), "seed": s} for s in (0, 1) for v in (0.0, 1.0, 2.0)]
    task = _CommonKeyTask()
    runs = [sweep.run_sweep(task, points, seed=seed, devices=jax.devices()[:k], chunk_size=size, progress=False)
            for seed, k, size in ((3, 1, 1), (3, 4, None), (3, 1, 4), (4, 1, None))]
    for a in runs[1:3]:
        assert_same(runs[0], a)
    for seed, res in ((3, runs[0]), (4, runs[3])):
        for r, p in zip(res, points):
            np.testing.assert_array_equal(r["u"], jax.random.uniform(model_key(seed, p, task), (2,)))
            np.testing.assert_array_equal(r["c"], jax.random.uniform(sweep.common_key(seed, p, task), (2,)))
    c = np.stack([r["c"] for r in runs[0]])
    assert all(np.array_equal(c[i], c[j]) for i in range(3) for j in range(3))  # seed 0: one draw for every v
    assert not np.array_equal(c[0], c[3]) and not np.array_equal(c[0], np.stack([r["c"] for r in runs[3]])[0])
    u = np.stack([r["u"] for r in runs[0]])
    assert len({tuple(x) for x in u}) == 6 and not any(np.array_equal(x, c[0]) for x in u)
    # the common identity's words are not those of a model whose point is that identity
    assert not np.array_equal(sweep.common_key(3, points[0], task), model_key(3, {"seed": 0}))


def test_a_task_whose_common_of_is_given_for_some_points_only_or_is_not_a_mapping_is_refused(xla_compilations):
    class Some(_CommonKeyTask):
        model_fn = _KeyTask.model_fn  # (one key, where every point's common_of is None)

        def common_of(self, point):
            return None if point["v"] else {}

    class Odd(_CommonKeyTask):
        def common_of(self, point):
            return ["seed"]

    with xla_compilations() as names:
        with pytest.raises(ValueError, match=r"common_of gave points\[0\] common draws and points\[1\] none"):
            sweep.run_sweep(Some(), _key_points(2), devices=ONE, progress=False)
        with pytest.raises(TypeError, match=r"points\[0\]=.*common_of returned \['seed'\]; it must return a mapping"):
            sweep.run_sweep(Odd(), _key_points(2), devices=ONE, progress=False)
        with pytest.raises(ValueError, match=r"task 'key_task' draws nothing in common for point="):
            sweep.common_key(0, {"v": 1.0}, _KeyTask())
        with pytest.raises(TypeError, match=r"task=.*must be the sweep's Task"):
            sweep.common_key(0, {"v": 1.0}, None)
    assert names == []
    # a task whose common_of gives None for every point takes one key, as one without
    res = sweep.run_sweep(Some(), [{"v": 1.0}], devices=ONE, progress=False)
    np.testing.assert_array_equal(res[0]["u"], jax.random.uniform(model_key(0, {"v": 1.0}), (2,)))


# mutants: the folder's writability not checked before training (the first chunk's work lost at its save); checked
# where nothing remains to train (a finished sweep must still load from a read-only folder)
def test_a_folder_that_cannot_be_written_is_refused_before_anything_trains(tmp_path, monkeypatch):
    from toyscale.io import probe_writable

    probe_writable(str(tmp_path / "new"))  # (made, written, and left empty)
    assert os.listdir(tmp_path / "new") == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        probe_writable(str(tmp_path / "file"))

    def read_only(folder):
        raise OSError(errno.EROFS, "Read-only file system")

    def never(*args, **kwargs):
        raise AssertionError("compiled before the folder was checked")

    monkeypatch.setattr(sweep, "probe_writable", read_only)
    with monkeypatch.context() as m:
        m.setattr(sweep, "_compiled_group_fn", never)
        with pytest.raises(FolderInUseError, match=f"out='{tmp_path / 'out'}': its chunks cannot be written "
                                                   f"\\(Read-only file system\\), and 2 model\\(s\\) remain to train"):
            sweep_superposition(CFG, POINTS[:2], out=str(tmp_path / "out"), progress=False)
    monkeypatch.undo()
    sweep_superposition(CFG, POINTS[:2], out=str(tmp_path / "out"), progress=False)
    monkeypatch.setattr(sweep, "probe_writable", read_only)  # finished: nothing to write, so no check
    assert sweep_superposition(CFG, POINTS[:2], out=str(tmp_path / "out"), progress=False).stats["chunks"] == 0


# mutant: a memory budget given as text ("1GB") taken for a bad number (a ValueError) rather than the wrong type
def test_a_memory_budget_of_the_wrong_type_is_a_type_error_and_a_bad_number_a_value_error():
    cpu = jax.devices("cpu")
    for bad in ("1GB", True, None, [2**30]):
        with pytest.raises(TypeError, match="memory_budget=.*; memory_budget must be a number of bytes >= 1 \\(e.g."):
            chunk_layout(10, 1, memory_budget=bad, devices=cpu[:1])
    for bad in (0.5, 0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="memory_budget must be a number of bytes >= 1"):
            chunk_layout(10, 1, memory_budget=bad, devices=cpu[:1])


def test_a_tuple_output_is_refused_before_anything_is_saved(tmp_path):
    # np.asarray((a, b))[:chunk] had sliced the tuple axis: chunk_size=2 saved [v1*10, v2*10] for model 0
    # and [v1*100, v2*100] for model 1; chunk_size=3 failed after training with an IndexError
    class Pair(_FlagTask):
        def model_fn(self, static, inputs, key):
            return {"x": jax.numpy.ones(()), "pair": (jax.numpy.ones(()), jax.numpy.zeros(()))}

    points = [{"flag": False, "seed": s} for s in range(2)]
    with pytest.raises(ValueError, match=r"returns output 'pair' as a tuple of 2 array\(s\); each output must be "
                                         r"one array per model"):
        sweep.run_sweep(Pair(), points, out=tmp_path, chunk_size=2, devices=ONE, progress=False)
    assert not list(tmp_path.rglob("chunk_*"))
    for value, kind in (((jax.numpy.ones(()),), "tuple"), ({"a": jax.numpy.ones(())}, "dict")):  # (one leaf each)
        class One(_FlagTask):
            def model_fn(self, static, inputs, key, value=value):
                return {"x": jax.numpy.ones(()), "one": value}

        with pytest.raises(ValueError, match=rf"returns output 'one' as a {kind} of 1 array\(s\)"):
            sweep.run_sweep(One(), points, devices=ONE, progress=False)


def test_what_a_task_says_of_its_points_is_checked_before_the_folder_is_claimed(tmp_path, xla_compilations):
    # each had failed mid-sweep (a chunk of another static saved first), or as a bare numpy/hash error;
    # an int input beside a float one had compiled one static shape twice, by chunk
    class Bytes(_FlagTask):
        def static_of(self, point):
            return point["seed"]

        def bytes_per_model(self, static):
            return 1 if static == 0 else 1.5e3

    class ListStatic(_FlagTask):
        def static_of(self, point):
            return [0]

    class Ragged(_FlagTask):
        def inputs_of(self, point):
            return {"flag": np.zeros(point["seed"] + 1, bool)}

    class Mixed(_FlagTask):
        def inputs_of(self, point):
            return {"flag": np.asarray(point["flag"]), "v": np.asarray(point["v"])}

    class Renamed(_FlagTask):
        def inputs_of(self, point):
            return {("flag" if point["seed"] == 0 else "flag2"): np.asarray(point["flag"], bool)}

    class NotAMapping(_FlagTask):
        def inputs_of(self, point):
            return [np.asarray(point["flag"], bool)]

    class Empty(_FlagTask):
        def inputs_of(self, point):
            return {}

    class SetConfig(_FlagTask):
        def config(self):
            return {"s": {1, 2}}

    two = [{"flag": False, "seed": 0}, {"flag": False, "seed": 1}]
    cases = [
        (Bytes(), two, TypeError, r"task 'flag_task''s bytes_per_model\(1\): bytes_per_model=1500.0; bytes_per_model "
                                  r"must be an integer"),
        (ListStatic(), two, TypeError, r"points\[0\]: task 'flag_task''s static_of gives \[0\], a list; a static "
                                       r"shape must be hashable"),
        (Ragged(), two, ValueError, r"points\[0\] and points\[1\] share the static shape 0 .* input 'flag' as shape "
                                    r"\(1,\), dtype bool and shape \(2,\), dtype bool"),
        (Mixed(), [{**two[0], "v": 1}, {**two[1], "v": 0.5}], ValueError,
         r"input 'v' as shape \(\), dtype int32 and shape \(\), dtype float32; .* \(cast them in inputs_of"),
        (Renamed(), two, ValueError, r"input 'flag' as shape \(\), dtype bool and no such input"),
        (NotAMapping(), two, TypeError, r"points\[0\]: task 'flag_task''s inputs_of gives \[array\(False\)\]; it "
                                        r"must be a mapping of names to arrays"),
        (SetConfig(), two, TypeError, r"task 'flag_task''s config\(\) gives \{'s': \{1, 2\}\}: \{1, 2\} \(a set\) is "
                                      r"not a JSON value"),
    ]
    with xla_compilations() as compiled:
        for i, (task, points, error, message) in enumerate(cases):
            with pytest.raises(error, match=message):
                sweep.run_sweep(task, points, out=tmp_path / str(i), chunk_size=1, devices=ONE, progress=False)
            assert not (tmp_path / str(i)).exists()
    assert not [name for name in compiled if "local" in name]


def test_inputs_the_device_gets_alike_an_empty_mapping_and_no_memory_are_a_tasks_own_to_give():
    # the review of the up-front checks: a Python float beside a float32 (both float32 on the device), inputs_of
    # giving {} (every draw from the key) and bytes_per_model 0 had run before them, and run now
    class Mixed(_FlagTask):
        def inputs_of(self, point):
            return {"flag": np.asarray(point["flag"]), "v": point["v"]}

        def model_fn(self, static, inputs, key):
            return {"x": inputs["v"] * 2, "diverged": inputs["flag"]}

    class Empty(_FlagTask):
        def inputs_of(self, point):
            return {}

        def model_fn(self, static, inputs, key):
            return {"x": jax.random.normal(key, ())}

        def bytes_per_model(self, static):
            return 0

    with jax.enable_x64(False):
        r = sweep.run_sweep(Mixed(), [{"flag": False, "v": 0.5}, {"flag": False, "v": np.float32(1.5)}],
                            devices=ONE, progress=False)
    assert [float(x["x"]) for x in r] == [1.0, 3.0] and r.stats["programs"] == 1
    r = sweep.run_sweep(Empty(), [{"seed": 0}, {"seed": 1}], devices=ONE, progress=False)
    assert len(r) == 2 and r[0]["x"] != r[1]["x"]


def test_two_point_fields_that_would_share_a_table_column_are_refused():
    # {"a.b": 1, "a": {"b": 2}} both flattened to the column a.b: the table and CSV kept one value, silently
    with pytest.raises(ValueError, match=r"points\[1\]=.*: two of the point's fields give the column 'a.b' \(a key "
                                         r"with a '.' beside a mapping of that name\)"):
        sweep.run_sweep(_FlagTask(), [{"flag": False}, {"flag": False, "a.b": 1, "a": {"b": 2}}], devices=ONE,
                        progress=False)
    r = sweep.run_sweep(_FlagTask(), [{"flag": False, "a.c": 1, "a": {"b": 2}}], devices=ONE, progress=False)
    columns, rows = r.table()
    assert sorted(columns) == ["a.b", "a.c", "diverged", "flag", "model_id", "x"]
    assert (rows[0][columns.index("a.b")], rows[0][columns.index("a.c")]) == (2, 1)
    # a folder saved before the refusal still tables: the later field's column is "a.b (2)"
    old = sweep.Record(0, {"a.b": 1, "a": {"b": 2}, "flag": False}, False, {"x": np.float32(1.0)})
    columns, rows = r.table([old])
    assert {"a.b", "a.b (2)"} <= set(columns) and {rows[0][columns.index("a.b")], rows[0][columns.index("a.b (2)")]} \
        == {1, 2}
