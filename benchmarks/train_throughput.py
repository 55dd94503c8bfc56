"""Training throughput of the superposition sweep engine against the paper's PyTorch loop.

Run from the repository root::

    python benchmarks/train_throughput.py            # full bench sweep (~5-10 min on 2 cores)
    python benchmarks/train_throughput.py --quick    # 3 widths, few steps (~1-2 min)
    python benchmarks/train_throughput.py --json bench.json
    python benchmarks/train_throughput.py --sampler dense sparse --rng threefry hash   # 4 engines, one run

The bench sweep: n = 1000 features, widths m in {10, 15, 25, 39, 63, 100}, batch 2048,
gamma in {-1, +1} x alpha in {1.0, 1.5} (4 models per width, 24 in all), trained through
the public API (``sweep_superposition``), one call per width so each width has its own
row. What is measured, all in the same process:

* **matmul peak**: a jitted fp32 square product, 2048x2048 @ 2048x2048 on a CPU and 8192 on an
  accelerator (``--matmul-size``; best of several, measured before
  and after the engines; the higher counts) -- the machine's own matrix-multiply rate,
  against which ``floor_fraction`` is defined -- and the bench-relevant
  (2048 x 1000) @ (1000 x m) products.
* **JAX engine**: wall time of each width's sweep *with compile* and in *steady state*
  (wall time minus the compile time JAX itself reports through ``jax.monitoring``:
  tracing + lowering + backend compile). model-steps/s = models x steps / seconds.
* **engines**: ``--sampler`` and ``--rng`` each take one or more values; every combination
  (sampler x bit generator) trains the bench sweep in the same process, interleaved width by
  width (all engines at m = 10, then all at m = 15, ...) so that a change in machine load
  hits them alike; ``--repeats R`` trains each (width, engine) R times and keeps the fastest,
  and times the torch baseline R times per width likewise (its fastest counts).
  The first combination listed gives the top-level ``speedup_vs_torch`` and
  ``floor_fraction``; each has its own under ``engines``.
* **dense floor**: 6 x batch x n x m FLOPs per model-step (decoder forward and its two
  backward products; the encoder product with the sparse x is not counted).
  ``floor_fraction`` = dense-floor FLOP rate (steady state) / measured square matmul rate.
  With the dense sampler the engine runs 10 x batch x n x m dense FLOPs per step (the
  encoder x @ W and its gradient x^T dh are dense products too); that rate is reported as
  ``dense_flops`` where every width trained dense (the sparse sampler's encoder is a gather,
  its gradient a scatter-add: it runs the 6 of the floor; under ``sampler="auto"`` a width's
  models may go either way, and its row says which programs it compiled).
* **peak memory**: on CPU the process max RSS (``getrusage``; monotone, so each width's
  row shows the peak so far), on GPU the device's ``peak_bytes_in_use``; compared with the
  engine's prediction ``bytes_per_model(m) x models in flight`` (models in flight per
  device = vector width) plus the stacked outputs of the device's share of a chunk, and,
  where the engine's compiled chunk function can be lowered here, XLA's own
  ``memory_analysis()`` of one chunk.
* **PyTorch baseline** (optional ``bench`` extra; skipped with a message if torch is
  missing): the paper's way -- one model at a time, a Python loop over steps, fresh
  ``torch.rand`` data each step (:mod:`torch_baseline`) -- timed over a few steps per width
  and extrapolated to the sweep. Timed with ``torch.set_num_threads(cores)`` and with one
  thread; the paper ran one single-threaded process per core, so ``cores x`` the one-thread
  rate is also reported (an ideal that assumes the processes do not slow each other), and
  that layout measured: ``cores`` one-thread processes timed at once, each beside the others'
  training (``threads_1_x_K_processes_measured``, ``speedup_vs_torch_processes_measured``).
  Cores are those this process may run on (its affinity mask), as for the JAX devices.
  ``speedup_vs_torch`` is against the *best* of these (conservative);
  ``speedup_vs_torch_all_threads`` against the all-cores single process.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time


def _early_cpu_devices(argv) -> int | None:
    """``--cpu-devices K`` must act before JAX starts its backend (a K that is not a positive
    integer is left to the argument parser, which names it)."""
    for i, a in enumerate(argv):
        value = argv[i + 1] if a == "--cpu-devices" and i + 1 < len(argv) else (
            a.split("=", 1)[1] if a.startswith("--cpu-devices=") else None)
        if value is not None:
            return int(value) if value.isdigit() and int(value) > 0 else None
    return None


import jax  # noqa: E402
import jax.monitoring  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # run from a checkout without installing

from toyscale.runner import available_cores, use_cpu_devices  # noqa: E402

if __name__ == "__main__":
    # What every toyscale entry point does (one CPU device per core unless the user chose);
    # --cpu-devices K sets K instead.
    use_cpu_devices(_early_cpu_devices(sys.argv[1:]))

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from toyscale.cli import int_in  # noqa: E402
from toyscale.frequencies import power_law  # noqa: E402
from toyscale.train import SuperpositionTask, TrainConfig, superposition_grid, sweep_superposition  # noqa: E402

BENCH_WIDTHS = (10, 15, 25, 39, 63, 100)
QUICK_WIDTHS = (10, 39, 100)
GAMMAS = (-1.0, 1.0)
ALPHAS = (1.0, 1.5)
N, BATCH = 1000, 2048

# ----------------------------------------------------------------------------- helpers

_compile_seconds = [0.0]


def _on_duration(name: str, seconds: float, **_: object) -> None:
    if name.startswith("/jax/core/compile/"):
        _compile_seconds[0] += seconds


jax.monitoring.register_event_duration_secs_listener(_on_duration)


def max_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r) if sys.platform == "darwin" else int(r) * 1024


def current_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def device_peak_bytes() -> int | None:
    dev = jax.local_devices()[0]
    if dev.platform == "cpu":
        return None
    try:
        return int((dev.memory_stats() or {}).get("peak_bytes_in_use"))
    except Exception:
        return None


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    import optax

    info = {
        "cpu": cpu,
        "cores": available_cores(),
        "load_average_at_start": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": _jaxlib_version(),
        "optax": optax.__version__,
        "numpy": np.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.local_devices()],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return info


def _jaxlib_version() -> str:
    import jaxlib

    return jaxlib.__version__


def _best_time(fn, *args, reps: int) -> float:
    jax.block_until_ready(fn(*args))
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


# ----------------------------------------------------------------------------- matmul peak


def square_matmul_rates(size: int, reps: int) -> dict:
    """FLOP/s of a jitted square float32 product: at full fp32 (``precision="highest"``, as the
    engine computes; a GPU's default would be TF32), at JAX's default precision, and from
    bfloat16 operands accumulated in float32 (the peak ``matmul_precision="bfloat16"`` engines
    are also compared with)."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(k1, (size, size), jnp.float32)
    b = jax.random.normal(k2, (size, size), jnp.float32)
    flops = 2 * size**3
    rates = {}
    for name, prec in (("fp32", "highest"), ("default", None)):
        f = jax.jit(lambda a, b, prec=prec: jnp.matmul(a, b, precision=prec))
        rates[name] = flops / _best_time(f, a, b, reps=reps)
    f16 = jax.jit(lambda a, b: jnp.matmul(a, b, preferred_element_type=jnp.float32))
    rates["bf16"] = flops / _best_time(f16, a.astype(jnp.bfloat16), b.astype(jnp.bfloat16), reps=reps)
    return rates


def matmul_peak(widths, reps: int, size: int | None = None) -> dict:
    """fp32 matmul FLOP/s: a square ``size``^3 product (default 2048 on a CPU, 8192 on an
    accelerator, where one 2048^2 product per call, ~0.3 ms on an H100, is launch-bound, as in
    paper_sweep.py) and the bench's decoder-sized products."""
    size = size or (2048 if jax.default_backend() == "cpu" else 8192)
    square = square_matmul_rates(size, reps)
    out = {"square": square["fp32"], "square_bf16": square["bf16"], "square_default_precision": square["default"],
           "square_size": size}
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.uniform(k1, (BATCH, N), jnp.float32)
    for m in widths:
        w = jax.random.normal(k2, (N, m), jnp.float32)
        # Ten products per call so that dispatch overhead does not dominate small m.
        f = jax.jit(lambda x, w: sum(jnp.matmul(x * (1 + i * 1e-3), w, precision="highest") for i in range(10)))
        out[f"2048x1000@1000x{m}"] = 10 * 2 * BATCH * N * m / _best_time(f, x, w, reps=reps)
    return out


# ----------------------------------------------------------------------------- JAX engine


def bench_points(m: int) -> list[dict]:
    return superposition_grid(widths=[m], gammas=list(GAMMAS), frequencies=[power_law(a) for a in ALPHAS],
                              lr_w=1e-2, lr_b=1e-2)


def bench_config(steps: int, rng: str | None = None, sampler: str | None = None,
                 matmul_precision: str | None = None) -> TrainConfig:
    extra = {} if rng is None else {"rng": rng}  # the engine's defaults unless asked
    if sampler is not None:
        extra["sampler"] = sampler
    if matmul_precision is not None:
        extra["matmul_precision"] = matmul_precision
    return TrainConfig(n=N, batch=BATCH, steps=steps, warmup=max(1, steps // 10), test_batches=1,
                       log_every=max(1, steps // 4), **extra)


def xla_memory_of_chunk(cfg: TrainConfig, m: int, vector_width, memory_budget, chunk_size) -> dict | None:
    """XLA's memory analysis of the engine's compiled program for one chunk of width m.

    Uses the engine's private chunk-function builder, mirroring ``run_sweep``; returns None
    (and the reason) if the engine's internals have changed.
    """
    try:
        from toyscale import sweep as sw

        task = SuperpositionTask(cfg)
        devices = jax.local_devices()
        points = bench_points(m)
        budget = sw.default_memory_budget() if memory_budget is None else int(memory_budget)
        static = task.static_of(points[0])  # (m, or (m, sampler) under sampler="auto")
        size, width = sw.chunk_layout(len(points), task.bytes_per_model(static), memory_budget=budget,
                                      devices=devices, chunk_size=chunk_size, vector_width=vector_width)
        mesh = jax.sharding.Mesh(np.asarray(devices), ("models",))
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("models"))
        padded = (points * size)[:size]
        inputs = jax.device_put(sw._stack_inputs(task, padded), sharding)
        keys = jax.device_put(jnp.stack([sw.model_key(0, p) for p in padded]), sharding)
        compiled = sw._compiled_group_fn(task, static, mesh, width).lower(inputs, keys).compile()
        ma = compiled.memory_analysis()
        fields = ("temp_size_in_bytes", "argument_size_in_bytes", "output_size_in_bytes",
                  "generated_code_size_in_bytes", "alias_size_in_bytes")
        res = {f: int(getattr(ma, f)) for f in fields if hasattr(ma, f)}
        res["total_bytes"] = (res.get("temp_size_in_bytes", 0) + res.get("argument_size_in_bytes", 0)
                              + res.get("output_size_in_bytes", 0) - res.get("alias_size_in_bytes", 0))
        res["chunk"] = size
        return res
    except Exception as e:  # noqa: BLE001 -- a benchmark reports and goes on
        return {"error": f"{type(e).__name__}: {e}"}


def bench_jax(widths, steps: int, *, vector_width, memory_budget, chunk_size, xla_memory: str,
              rng: str | None = None, sampler: str | None = None,
              matmul_precision: str | None = None) -> list[dict]:
    cfg = bench_config(steps, rng, sampler, matmul_precision)
    task = SuperpositionTask(cfg)
    rows = []
    for m in widths:
        points = bench_points(m)
        rss_before = current_rss_bytes()
        c0 = _compile_seconds[0]
        t0 = time.perf_counter()
        res = sweep_superposition(cfg, points, progress=False, vector_width=vector_width,
                                  memory_budget=memory_budget, chunk_size=chunk_size)
        wall = time.perf_counter() - t0
        compile_s = _compile_seconds[0] - c0
        n_models = len(points)
        if any(r.diverged for r in res):
            raise RuntimeError(f"a bench model diverged at m={m}")
        # the width's programs: str(m), or str((m, sampler)) for each sampler under sampler="auto"
        statics = list(res.stats["chunk_sizes"])
        chunk = max(int(res.stats["chunk_sizes"][k]) for k in statics)
        in_flight = max(res.stats["vector_widths"][k] for k in statics)
        predicted = max((res.stats.get("predicted_peak_bytes_per_device", {}).get(k) or 0 for k in statics),
                        default=0) or None  # newer engines record it
        all_dense = cfg.sampler == "dense" or all("'dense'" in k for k in statics)
        steady = max(1e-9, wall - compile_s)
        row = {
            "m": m,
            "models": n_models,
            "steps": steps,
            "model_steps": int(res.stats["model_steps"]),
            "chunk": chunk,
            "programs": statics,
            "chunks": int(res.stats["chunks"]),
            "models_in_flight_per_device": int(in_flight),
            "wall_s": wall,
            "compile_s": compile_s,
            "steady_s": steady,
            "model_steps_per_s_with_compile": n_models * steps / wall,
            "model_steps_per_s": n_models * steps / steady,
            "floor_flops": 6 * BATCH * N * m * n_models * steps / steady,
            "dense_flops": 10 * BATCH * N * m * n_models * steps / steady if all_dense else None,
            "predicted_bytes": int(predicted if predicted is not None
                                   else task.bytes_per_model(task.static_of(points[0])) * in_flight),
            "rss_before_bytes": rss_before,
            "peak_rss_bytes": max_rss_bytes(),
            "device_peak_bytes": device_peak_bytes(),
        }
        if xla_memory == "all" or (xla_memory == "largest" and m == max(widths)):
            row["xla_memory"] = xla_memory_of_chunk(cfg, m, vector_width, memory_budget, chunk_size)
        rows.append(row)
        row["truncated_batches"] = int(sum(int(r["truncated_batches"]) for r in res))
        print(f"  jax {engine_name(cfg)} m={m:4d}: {row['wall_s']:6.1f} s wall ({compile_s:5.1f} s compile), "
              f"{row['model_steps_per_s']:8.1f} model-steps/s steady", flush=True)
    return rows


# ----------------------------------------------------------------------------- torch


def bench_torch(widths, steps: int, threads_list, repeats: int = 1, processes: int = 1) -> dict | None:
    """Seconds per step of one torch model at each width and thread count: the fastest of
    ``repeats`` timings (as the JAX engines keep their fastest of as many); with ``processes``
    > 1 and one thread timed, also ``processes`` single-threaded processes timed together
    (:func:`bench_torch_processes`)."""
    try:
        sys.path.insert(0, HERE)
        import torch  # noqa: F401

        import torch_baseline as tb
    except ImportError as e:
        print(f"  torch baseline skipped: {e} (pip install -e '.[bench]', e.g. torch==2.13.0 CPU)", flush=True)
        return None
    import torch

    out = {"torch": torch.__version__, "steps_timed_per_width": steps, "repeats": repeats, "configs": {}}
    for threads in threads_list:
        torch.set_num_threads(threads)
        per_step, tries = {}, {}
        for m in widths:
            tries[m] = [tb.time_torch_steps(N, m, batch=BATCH, steps=steps) for _ in range(repeats)]
            per_step[m] = min(tries[m])
            print(f"  torch threads={threads} m={m:4d}: {1e3 * per_step[m]:7.1f} ms/step"
                  + (f" (fastest of {', '.join(f'{1e3 * t:.1f}' for t in tries[m])})" if repeats > 1 else ""),
                  flush=True)
        out["configs"][str(threads)] = {"threads": threads,
                                        "seconds_per_step": {str(k): v for k, v in per_step.items()},
                                        "repeats_seconds_per_step": {str(k): v for k, v in tries.items()}}
    out["matmul_square_2048_flops"] = tb.torch_matmul_flops()
    torch.set_num_threads(max(threads_list))
    if processes > 1 and 1 in threads_list:
        out["processes"] = bench_torch_processes(widths, steps, processes, repeats)
    return out


def bench_torch_processes(widths, steps: int, processes: int, repeats: int) -> dict | None:
    """The paper's layout measured rather than assumed: ``processes`` single-threaded torch
    processes at once (one per core), each timing every width while the others train
    (``torch_baseline.concurrent_worker``). Seconds per step at each width: the mean over the
    processes of each one's fastest of ``repeats``. None (with the reason) if a worker failed."""
    with tempfile.TemporaryDirectory() as folder:
        args = [str(a) for a in (processes, N, BATCH, steps, repeats, *widths)]
        logs = [(open(os.path.join(folder, f"out{i}"), "w+"), open(os.path.join(folder, f"err{i}"), "w+"))
                for i in range(processes)]
        procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "torch_baseline.py"), folder, str(i), *args],
                                  stdout=out, stderr=err, text=True) for i, (out, err) in enumerate(logs)]
        # A worker that fails would leave the others waiting for it (they start and stop together):
        # then they are stopped too.
        while any(p.poll() is None for p in procs):
            if any(p.poll() for p in procs):
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            time.sleep(0.05)
        texts = []
        for out, err in logs:
            out.seek(0), err.seek(0)
            texts.append((out.read(), err.read()))
            out.close(), err.close()
    if any(p.returncode for p in procs):
        err = next((e for p, (_, e) in zip(procs, texts) if p.returncode and e.strip()), "killed")
        print(f"  torch processes measured together: a worker failed ({err.strip()[-300:]})", flush=True)
        return None
    each = [json.loads(o.strip().splitlines()[-1]) for o, _ in texts]
    per_step = {str(m): sum(e["seconds_per_step"][str(m)] for e in each) / processes for m in widths}
    for m in widths:
        print(f"  torch {processes} one-thread processes together m={m:4d}: "
              + ", ".join(f"{1e3 * e['seconds_per_step'][str(m)]:.1f}" for e in each) + " ms/step", flush=True)
    return {"count": processes, "seconds_per_step": per_step, "per_process": each}


# ----------------------------------------------------------------------------- report


def engine_name(cfg: TrainConfig) -> str:
    """sampler/rng, plus /bfloat16 for reduced-precision products."""
    name = f"{cfg.sampler}/{cfg.rng}"
    return name if cfg.matmul_precision == "float32" else f"{name}/{cfg.matmul_precision}"


def summarise(jax_rows, torch_res, peak, cores, matmul_precision: str = "float32") -> dict:
    models = sum(r["models"] for r in jax_rows)
    steps = jax_rows[0]["steps"]
    total_steady = sum(r["steady_s"] for r in jax_rows)
    total_wall = sum(r["wall_s"] for r in jax_rows)
    floor = sum(6 * BATCH * N * r["m"] * r["models"] * steps for r in jax_rows)
    s = {
        "models": models,
        "steps": steps,
        "jax_model_steps_per_s": models * steps / total_steady,
        "jax_model_steps_per_s_with_compile": models * steps / total_wall,
        "jax_wall_s": total_wall,
        "jax_compile_s": sum(r["compile_s"] for r in jax_rows),
        "floor_flops": floor / total_steady,
        "dense_flops": floor / 6 * 10 / total_steady if all(r["dense_flops"] is not None for r in jax_rows) else None,
        "matmul_peak_flops": peak["square"],
        "floor_fraction": floor / total_steady / peak["square"],
        "floor_fraction_definition": "dense-floor FLOP rate (6*batch*n*m per model-step, steady state) "
                                     f"/ jitted fp32 {peak['square_size']}^2 @ {peak['square_size']}^2 rate, same run",
    }
    if matmul_precision == "bfloat16":
        # Against the float32 peak the number flatters a bfloat16 engine; against its own it does not.
        s["floor_fraction_vs_bf16_matmul"] = floor / total_steady / peak["square_bf16"]
    if matmul_precision == "tensorfloat32":  # likewise, against JAX's default precision (TF32 on a GPU)
        s["floor_fraction_vs_default_precision_matmul"] = floor / total_steady / peak["square_default_precision"]
    if torch_res:
        rates = {}
        for key, c in torch_res["configs"].items():
            t = sum(c["seconds_per_step"][str(r["m"])] * r["models"] * steps for r in jax_rows)
            rates[f"threads_{key}"] = models * steps / t
            c["sweep_model_steps_per_s"] = models * steps / t
        if "1" in torch_res["configs"] and cores > 1:
            rates[f"threads_1_x_{cores}_processes_ideal"] = cores * rates["threads_1"]
        together = torch_res.get("processes")
        if together:  # (each process trains 1 / count of the models, at its measured rate beside the others)
            t = sum(together["seconds_per_step"][str(r["m"])] * r["models"] * steps for r in jax_rows)
            rates[f"threads_1_x_{together['count']}_processes_measured"] = together["count"] * models * steps / t
        best_key = max(rates, key=rates.get)
        all_key = f"threads_{cores}" if f"threads_{cores}" in rates else best_key
        s.update({
            "torch_model_steps_per_s": rates,
            "torch_best_config": best_key,
            "speedup_vs_torch": s["jax_model_steps_per_s"] / rates[best_key],
            "speedup_vs_torch_all_threads": s["jax_model_steps_per_s"] / rates[all_key],
            "speedup_vs_torch_with_compile": s["jax_model_steps_per_s_with_compile"] / rates[best_key],
        })
        if together:
            s["speedup_vs_torch_processes_measured"] = (
                s["jax_model_steps_per_s"] / rates[f"threads_1_x_{together['count']}_processes_measured"])
    return s


def _mb(b) -> str:
    return "-" if b is None else f"{b / 2**20:,.0f}"


def print_table(info, peak, jax_rows, torch_res, s) -> None:
    print()
    print(f"machine: {info['cpu']}, {info['cores']} cores, backend {info['backend']}, "
          f"load average at start {info['load_average_at_start']}")
    print(f"versions: python {info['python']}, jax {info['jax']}, jaxlib {info['jaxlib']}, "
          f"torch {torch_res['torch'] if torch_res else 'missing'}")
    side = f"{peak['square_size']}^2 @ {peak['square_size']}^2"
    print(f"matmul fp32 (JAX, best of reps): {side} {peak['square'] / 1e9:.1f} GFLOP/s "
          + ", ".join(f"{k.split('@')[1]} {v / 1e9:.1f}" for k, v in peak.items() if "@" in k)
          + " GFLOP/s for (2048x1000)@(1000xm)")
    print(f"matmul bf16 operands, fp32 accumulation (JAX): {side} {peak['square_bf16'] / 1e9:.1f} GFLOP/s")
    if torch_res:
        print(f"matmul fp32 (torch): 2048^2 @ 2048^2 {torch_res['matmul_square_2048_flops'] / 1e9:.1f} GFLOP/s")
    print()
    tcols = list(torch_res["configs"]) if torch_res else []
    hdr = (f"{'m':>4} {'models':>6} {'steps':>5} {'chunk':>5} {'wall s':>7} {'compile':>7} "
           f"{'steps/s':>8} {'w/ comp':>8} {'floor GF/s':>10} {'floor %':>7} "
           + "".join(f"{'torch t=' + k:>10}" for k in tcols)
           + f" {'peak RSS MB':>11} {'pred MB':>7} {'XLA MB':>7}")
    print(hdr)
    print("-" * len(hdr))
    for r in jax_rows:
        xm = r.get("xla_memory") or {}
        tv = "".join(f"{1 / torch_res['configs'][k]['seconds_per_step'][str(r['m'])]:>10.1f}" for k in tcols)
        peak_mem = r["device_peak_bytes"] if r["device_peak_bytes"] is not None else r["peak_rss_bytes"]
        print(f"{r['m']:>4} {r['models']:>6} {r['steps']:>5} {r['chunk']:>5} {r['wall_s']:>7.1f} {r['compile_s']:>7.1f} "
              f"{r['model_steps_per_s']:>8.1f} {r['model_steps_per_s_with_compile']:>8.1f} "
              f"{r['floor_flops'] / 1e9:>10.2f} {100 * r['floor_flops'] / peak['square']:>6.1f}% {tv}"
              f" {_mb(peak_mem):>11} {_mb(r['predicted_bytes']):>7} {_mb(xm.get('total_bytes')):>7}")
    print("-" * len(hdr))
    print(f"sweep: {s['models']} models x {s['steps']} steps; JAX {s['jax_model_steps_per_s']:.1f} model-steps/s "
          f"steady state ({s['jax_model_steps_per_s_with_compile']:.1f} with {s['jax_compile_s']:.0f} s of compile)")
    print(f"dense floor {s['floor_flops'] / 1e9:.2f} GFLOP/s = floor_fraction {s['floor_fraction']:.3f} of the "
          f"{peak['square_size']}^2 matmul rate"
          + (f" ({s['dense_flops'] / 1e9:.2f} GFLOP/s counting the dense encoder too)"
                                   if s["dense_flops"] is not None else ""))
    if "floor_fraction_vs_bf16_matmul" in s:
        print(f"bfloat16 products: floor_fraction {s['floor_fraction_vs_bf16_matmul']:.3f} of the bf16 "
              f"{peak['square_size']}^2 matmul rate")
    if "floor_fraction_vs_default_precision_matmul" in s:
        print(f"tensorfloat32 products: floor_fraction {s['floor_fraction_vs_default_precision_matmul']:.3f} of the "
              f"default-precision (TF32 on a GPU) {peak['square_size']}^2 matmul rate")
    if torch_res:
        rates = ", ".join(f"{k} {v:.2f}" for k, v in s["torch_model_steps_per_s"].items())
        print(f"torch (one model at a time, Python loop) model-steps/s: {rates}")
        print(f"speedup_vs_torch {s['speedup_vs_torch']:.2f}x (vs best: {s['torch_best_config']}); "
              f"vs one all-cores process {s['speedup_vs_torch_all_threads']:.2f}x; "
              f"with compile {s['speedup_vs_torch_with_compile']:.2f}x"
              + (f"; vs one-thread processes measured together {s['speedup_vs_torch_processes_measured']:.2f}x"
                 if "speedup_vs_torch_processes_measured" in s else ""))
    else:
        print("torch baseline not run (--no-torch, or torch not installed): no speedup_vs_torch")
    print("columns: steps/s = model-steps/s in steady state (wall minus JAX-reported compile); "
          "torch t=k = one torch model's steps/s with k threads;")
    print("  peak RSS = process max RSS so far (CPU; device peak_bytes_in_use on GPU); "
          "pred = bytes_per_model(m) x models in flight + the share's stacked outputs;")
    print("  XLA = memory_analysis() of one chunk (temp + arguments + outputs)")
    if info.get("device_peak_bytes_after_matmul"):
        print(f"  (the device's peak was {_mb(info['device_peak_bytes_after_matmul'])} MB after the matmul "
              f"measurement, before any chunk: a row at that value shows the measurement, not its chunk)")


def main(argv=None) -> dict:
    # (no abbreviations: "--cpu 1" had been taken as --cpu-devices by the parser, after JAX started
    # without it)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--steps", type=int_in(1), default=None,
                    help="JAX training steps per model (default 100; quick 20)")
    ap.add_argument("--torch-steps", type=int_in(1), default=None,
                    help="timed torch steps per width (default 20; quick 5)")
    ap.add_argument("--quick", action="store_true", help="widths 10, 39, 100 only and few steps (~1-2 min)")
    ap.add_argument("--widths", type=int_in(1), nargs="+", default=None)
    ap.add_argument("--vector-width", type=int_in(1), default=None, help="engine vector_width (default: engine's)")
    ap.add_argument("--memory-budget", type=int_in(1), default=None, help="engine memory budget in bytes")
    ap.add_argument("--chunk-size", type=int_in(1), default=None)
    ap.add_argument("--cpu-devices", type=int_in(1), default=None,
                    help="run JAX on K CPU devices (jax_num_cpu_devices=K; default: one per core, as every "
                         "toyscale entry point does); the engine shards the model axis over them")
    ap.add_argument("--rng", nargs="+", default=[None],
                    help="TrainConfig.rng bit generator(s) (default: the engine's); several are run one after another")
    ap.add_argument("--sampler", nargs="+", default=[None],
                    help="TrainConfig.sampler(s): dense, sparse (default: the engine's); several are run one after another")
    ap.add_argument("--matmul-precision", nargs="+", default=[None], choices=("float32", "tensorfloat32", "bfloat16"),
                    help="TrainConfig.matmul_precision(s) (default: the engine's, float32); several are run one "
                         "after another")
    ap.add_argument("--repeats", type=int_in(1), default=1,
                    help="train each (width, engine) this many times and keep the fastest steady rate; the torch "
                         "baseline is timed as many times per width (its fastest counts)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--torch-threads", type=int_in(1), nargs="+", default=None,
                    help="thread counts to time torch with (default: cores and 1)")
    ap.add_argument("--xla-memory", choices=("all", "largest", "none"), default=None,
                    help="XLA memory_analysis of a chunk (one extra compile per width; default all, quick largest)")
    ap.add_argument("--matmul-size", type=int_in(1), default=None,
                    help="side of the square fp32 product floor_fraction is against (default 2048 on a CPU, "
                         "8192 on an accelerator)")
    ap.add_argument("--json", default=None, help="write the numbers to this path")
    args = ap.parse_args(argv)

    widths = tuple(args.widths or (QUICK_WIDTHS if args.quick else BENCH_WIDTHS))
    steps = args.steps or (20 if args.quick else 100)
    torch_steps = args.torch_steps or (5 if args.quick else 20)
    xla_memory = args.xla_memory or ("largest" if args.quick else "all")
    cores = available_cores()
    threads_list = args.torch_threads or sorted({cores, 1}, reverse=True)

    info = machine_info()
    engines = []
    for s, r, p in itertools.product(args.sampler, args.rng, args.matmul_precision):
        try:
            engines.append(bench_config(steps, r, s, p))
        except ValueError as e:  # e.g. bfloat16 products with the dense sampler
            print(f"skipping sampler={s} rng={r} matmul_precision={p}: {e}", flush=True)
    if not engines:
        ap.error("no valid engine among the --sampler/--rng/--matmul-precision combinations")
    print(f"engines (sampler/rng[/precision]): {', '.join(engine_name(c) for c in engines)}, "
          f"vector_width={args.vector_width or 'engine default'}, devices={len(jax.local_devices())}", flush=True)
    print(f"bench sweep: n={N}, batch={BATCH}, m in {list(widths)}, gamma in {list(GAMMAS)}, "
          f"alpha in {list(ALPHAS)}, {steps} JAX steps per model, {torch_steps} timed torch steps per width", flush=True)
    t_all = time.perf_counter()
    print("matmul peak ...", flush=True)
    peak = matmul_peak(widths, reps=3 if args.quick else 5, size=args.matmul_size)
    # (the device's peak is the process's: on a GPU the 8192^2 measurement's ~1 GiB stands in every
    # row until a chunk needs more, so the rows are read against it)
    info["device_peak_bytes_after_matmul"] = device_peak_bytes()
    runs = {engine_name(c): [] for c in engines}
    for m in widths:
        for c in engines:
            print(f"JAX engine m={m}, {engine_name(c)} (load average {os.getloadavg()[0]:.2f}) ...",
                  flush=True)
            tries = [bench_jax([m], steps, vector_width=args.vector_width, memory_budget=args.memory_budget,
                               chunk_size=args.chunk_size,
                               xla_memory=xla_memory if m == max(widths) or xla_memory == "all"
                               else "none", rng=c.rng, sampler=c.sampler,
                               matmul_precision=c.matmul_precision)[0] for _ in range(max(1, args.repeats))]
            best = max(tries, key=lambda r: r["model_steps_per_s"])
            best["repeats_model_steps_per_s"] = [r["model_steps_per_s"] for r in tries]
            runs[engine_name(c)].append(best)
    # Measured again after the engines: under a changing load the start alone can underrate the
    # machine (and overrate floor_fraction); the best of the two counts, both are recorded.
    print("matmul peak again ...", flush=True)
    peak_end = matmul_peak(widths, reps=3 if args.quick else 5, size=args.matmul_size)
    peak_start = dict(peak)
    peak = {k: max(peak_start[k], peak_end[k]) for k in peak_start}
    torch_res = None
    if not args.no_torch:
        print("PyTorch baseline ...", flush=True)
        torch_res = bench_torch(widths, torch_steps, threads_list, max(1, args.repeats), processes=cores)
    by_name = {engine_name(c): c for c in engines}
    summaries = {name: summarise(rows, torch_res, peak, cores, by_name[name].matmul_precision)
                 for name, rows in runs.items()}
    info["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    info["benchmark_seconds"] = time.perf_counter() - t_all
    for name, rows in runs.items():
        print(f"\n=== engine {name} ===")
        print_table(info, peak, rows, torch_res, summaries[name])
    first = next(iter(runs))
    jax_rows, s = runs[first], summaries[first]
    if len(runs) > 1:
        print("\nsame-run comparison (model-steps/s steady; floor_fraction; speedup_vs_torch):")
        for name, sm in summaries.items():
            per_w = ", ".join(f"m={r['m']} {r['model_steps_per_s']:.1f}" for r in runs[name])
            print(f"  {name:>24}: {sm['jax_model_steps_per_s']:7.1f}  floor {sm['floor_fraction']:.3f}  "
                  f"speedup {sm.get('speedup_vs_torch', float('nan')):.2f}x   ({per_w})")
    result = {"machine": info, "settings": {"n": N, "batch": BATCH, "widths": list(widths), "gammas": list(GAMMAS),
                                            "alphas": list(ALPHAS), "steps": steps, "torch_steps": torch_steps,
                                            "vector_width": args.vector_width, "memory_budget": args.memory_budget,
                                            "repeats": args.repeats,
                                            "chunk_size": args.chunk_size, "quick": args.quick,
                                            "rng": engines[0].rng, "sampler": engines[0].sampler,
                                            "matmul_precision": engines[0].matmul_precision,
                                            "devices": len(jax.local_devices())},
              "matmul_flops": peak, "matmul_flops_start": peak_start, "matmul_flops_end": peak_end,
              "jax": jax_rows, "torch_baseline": torch_res, "summary": s,
              "engines": {name: {"jax": runs[name], "summary": summaries[name]} for name in runs},
              "speedup_vs_torch": s.get("speedup_vs_torch"), "floor_fraction": s["floor_fraction"]}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=float, allow_nan=False)
        print(f"wrote {args.json}")
    print(f"benchmark took {info['benchmark_seconds']:.0f} s; load average now {info['load_average_at_end']}")
    return result


if __name__ == "__main__":
    main()
