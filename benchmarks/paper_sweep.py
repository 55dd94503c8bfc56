"""End-to-end time of the phase-diagram sweep (issue 5's GPU target), against the machine's
own measured matrix-multiply rate.

Runs ``experiments/phase_diagram.py`` exactly as a user would (sweep, fits, figure), by
default with the ``paper`` preset: 10 gammas x 17 alphas x 6 widths = 1,020 models, 20,000
steps, batch 2048, n = 1000. The target: under 10 minutes end to end on one H100. Run from
the repository root::

    python benchmarks/paper_sweep.py                             # the paper preset
    python benchmarks/paper_sweep.py --set train.steps=2000 --set train.warmup=200   # a tenth
    python benchmarks/paper_sweep.py --preset smoke              # seconds: does it run here?
    python benchmarks/paper_sweep.py --set train.matmul_precision=bfloat16 --json out.json

``--set`` is the experiment's own (any preset setting). The sweep trains into a fresh
folder (never resumes: a resumed sweep would time nothing); the figure goes there too, not
into figures/. Printed and in ``--json``:

* ``wall_s``: the experiment end to end (sweep, fits, figure), ``script_s`` the whole script
  (also JAX's start and the matmul measurements); ``sweep_s`` the sweep alone,
  ``compile_s`` the compile time JAX reports inside it (jax.monitoring), ``steady_s`` =
  sweep_s - compile_s;
* ``floor_flops``: the dense floor, 6 x batch x n x m FLOPs per model-step (as in
  ``train_throughput.py``), over ``steady_s``; ``floor_fraction`` against the fp32 matmul rate
  (``precision="highest"``, a square product of ``--matmul-size``, default 8192 on an
  accelerator and 2048 on a CPU) measured in the same run; also against the default-precision
  float32 rate (TF32 on an Ampere/Hopper GPU) and the bf16 rate, for reference;
* ``per_width_done_s``: when each width's last chunk was written (file times, seconds from
  the experiment's start); each chunk is also printed as it is written, so a run cut short
  shows them too;
* device peak memory (accelerators; it includes the first matmul measurement's buffers) or
  max RSS (CPU), and how many models diverged.

``--json`` is first written as soon as the sweep is done (``complete`` false: its times,
chunks and divergences), so that a time limit during the fits or the figure keeps them.

The compile time is what JAX reports; with a persistent compilation cache set in the
environment (``JAX_COMPILATION_CACHE_DIR``) it would be the time to load the programs instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

STARTED = time.perf_counter()  # the script's first moment: before JAX, its backend and the first matmul
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE, os.path.join(ROOT, "experiments")]  # run from a checkout without installing

from toyscale.runner import use_cpu_devices  # noqa: E402

if __name__ == "__main__":
    use_cpu_devices()  # what every toyscale entry point does; before JAX starts its backends

import jax  # noqa: E402
import numpy as np  # noqa: E402

import phase_diagram  # noqa: E402
import train_throughput as tt  # noqa: E402  (compile-time listener, timing and machine helpers)
from toyscale.io import atomic_write_json  # noqa: E402
from toyscale.sweep import load_sweep  # noqa: E402

TARGET_S = 600.0  # issue 5: the paper sweep end to end in under 10 minutes on one H100


class ChunkWatcher(threading.Thread):
    """Prints each chunk file of ``folder/sweep`` as it appears (seconds from ``t0``, width,
    models), so a run that a time limit kills still shows how far it got and how fast.

    A thread that lists the folder every ``interval`` seconds: it runs while the main thread
    waits on the device. ``stop()`` takes a last look and ends it. The times are the files'
    (mtime), as ``seen`` keeps them: {file name: (seconds from ``t0``, width)}.
    """

    def __init__(self, folder: str, t0: float, interval: float = 0.5):
        super().__init__(daemon=True)
        self.folder, self.t0, self.interval = os.path.join(folder, "sweep"), t0, interval
        self.seen: dict[str, tuple[float, int]] = {}
        self.widths: list[int] | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.poll()
        self.poll()

    def stop(self) -> None:
        self._done.set()
        self.join()

    def poll(self) -> None:
        with self._lock:  # also called from the main thread
            self._poll()

    def _poll(self) -> None:
        chunks = os.path.join(self.folder, "chunks")
        if not os.path.isdir(chunks):
            return
        for name in sorted(os.listdir(chunks)):
            if name in self.seen or not (name.startswith("chunk_") and name.endswith(".npz")):
                continue
            path = os.path.join(chunks, name)
            try:
                t = os.path.getmtime(path) - self.t0
                with np.load(path) as z:
                    ids = np.asarray(z["model_id"])
                if self.widths is None:
                    self.widths = [int(p["m"]) for p in load_sweep(self.folder).manifest["points"]]
            except Exception:  # noqa: BLE001  (being written or renamed: look again next time)
                continue
            m = self.widths[int(ids[0])]
            self.seen[name] = (t, m)
            print(f"  chunk written at {t:7.1f} s: m = {m}, {len(ids)} models", flush=True)

    def done_by_width(self) -> dict[str, float]:
        """Seconds after ``t0`` at which each width's last chunk was written."""
        out: dict[int, float] = {}
        for t, m in self.seen.values():
            out[m] = max(out.get(m, 0.0), t)
        return {str(m): round(t, 2) for m, t in sorted(out.items())}


def _run(args, folder: str) -> dict:
    info = tt.machine_info()
    on_cpu = jax.default_backend() == "cpu"
    size = args.matmul_size or (2048 if on_cpu else 8192)
    print(f"backend {info['backend']}, devices {info['devices']}, jax {info['jax']}", flush=True)
    peak_start = tt.square_matmul_rates(size, reps=5)
    print(f"matmul {size}^2 (best of 5): {_rates(peak_start)}", flush=True)

    experiment = ["--preset", args.preset, "--out", folder, "--figures", folder]
    experiment += [a for kv in args.overrides for a in ("--set", kv)]
    experiment += ["--no-progress"] if args.no_progress else []
    print(f"phase_diagram {' '.join(experiment)} (start epoch {time.time():.1f}) ...", flush=True)
    compile_in_sweep = []
    sweep_fn = phase_diagram.sweep_superposition

    def timed_sweep(*a, **k):  # the compile time inside the sweep, not the fits' after it
        c0 = tt._compile_seconds[0]
        res = sweep_fn(*a, **k)
        compile_in_sweep.append(tt._compile_seconds[0] - c0)
        # At once: a time limit may end the run during the fits and the figure.
        watcher.poll()
        print(f"sweep done at {time.perf_counter() - t0:.1f} s (compile inside it {compile_in_sweep[-1]:.1f} s); "
              f"fits and figure next", flush=True)
        if args.json:  # the sweep's numbers now, the rest (fits, figure, second matmul) when they are done
            _save(args.json, dict(complete=False, machine=info, preset=args.preset, overrides=args.overrides,
                                  models=len(res), sweep_s=res.stats["seconds"], compile_s=compile_in_sweep[-1],
                                  chunk_sizes=res.stats["chunk_sizes"], per_width_done_s=watcher.done_by_width(),
                                  diverged=int(sum(r.diverged for r in res)), matmul_flops_start=peak_start,
                                  script_s=time.perf_counter() - STARTED))
        return res

    phase_diagram.sweep_superposition = timed_sweep
    t0_epoch, t0 = time.time(), time.perf_counter()
    watcher = ChunkWatcher(folder, t0_epoch)
    watcher.start()
    try:
        summary = phase_diagram.main(experiment)
    finally:
        phase_diagram.sweep_superposition = sweep_fn
        watcher.stop()
    wall = time.perf_counter() - t0
    compile_s = sum(compile_in_sweep)
    stats = summary["sweep_stats"]
    # At once, in case a time limit ends the process during the second matmul measurement.
    print(f"experiment done: {wall:.1f} s end to end, sweep {stats['seconds']:.1f} s, of which compile "
          f"{compile_s:.1f} s", flush=True)
    device_peak = tt.device_peak_bytes()  # includes the first matmul measurement's buffers

    peak_end = tt.square_matmul_rates(size, reps=5)  # the best of before and after counts
    peak = {k: max(peak_start[k], peak_end[k]) for k in peak_start}
    sweep = load_sweep(os.path.join(folder, "sweep"))
    points = sweep.manifest["points"]
    cfg = summary["config"]
    steps = int(cfg["steps"])
    widths = np.asarray([p["m"] for p in points])
    floor = 6 * int(cfg["batch"]) * int(cfg["n"]) * steps * int(widths.sum())
    steady = max(1e-9, stats["seconds"] - compile_s)
    rate = floor / steady
    as_published = is_target_sweep(args.preset, args.overrides)
    res = {
        "machine": info,
        "preset": args.preset,
        "overrides": args.overrides,
        "models": len(points),
        "steps": steps,
        "batch": int(cfg["batch"]),
        "n": int(cfg["n"]),
        "widths": sorted({int(m) for m in widths}),
        "sampler": cfg.get("sampler"),
        "rng": cfg.get("rng"),
        "matmul_precision": cfg.get("matmul_precision"),
        "chunk_sizes": stats["chunk_sizes"],
        "wall_s": wall,
        "sweep_s": stats["seconds"],
        "compile_s": compile_s,
        "steady_s": steady,
        "model_steps_per_s": len(points) * steps / steady,
        "floor_flops": rate,
        "matmul_size": size,
        "matmul_flops": peak,
        "matmul_flops_start": peak_start,
        "matmul_flops_end": peak_end,
        "floor_fraction": rate / peak["fp32"],
        "floor_fraction_vs_default_precision": rate / peak["default"],
        "floor_fraction_vs_bf16": rate / peak["bf16"],
        "per_width_done_s": watcher.done_by_width(),
        "diverged": int(sum(r.diverged for r in sweep)),
        "device_peak_bytes": device_peak,
        "peak_rss_bytes": tt.max_rss_bytes(),
        "alpha_m": summary["alpha_m"],
        "alpha_m_stderr": summary["alpha_m_stderr"],
        "target_s": TARGET_S if as_published else None,
        "script_s": time.perf_counter() - STARTED,
        "complete": True,
    }

    print()
    print(f"{res['models']} models x {steps} steps (batch {res['batch']}, n {res['n']}, m {res['widths']}; "
          f"sampler {res['sampler']}, rng {res['rng']}, products {res['matmul_precision']}), chunks {res['chunk_sizes']}")
    print(f"end to end {wall:.1f} s (sweep {stats['seconds']:.1f} s, of which compile {compile_s:.1f} s)"
          + (f"; issue 5's target: under {TARGET_S:.0f} s on one H100"
             + (f" ({res['matmul_precision']} products, if precision_check keeps their exponents within the error "
                f"bars)" if res["matmul_precision"] != "float32" else "") if as_published else ""))
    print(f"{res['model_steps_per_s']:,.0f} model-steps/s steady; dense floor {rate / 1e9:,.1f} GFLOP/s = "
          f"{res['floor_fraction']:.3f} of the fp32 matmul rate; {res['floor_fraction_vs_default_precision']:.3f} "
          f"of default precision, {res['floor_fraction_vs_bf16']:.3f} of bf16 ({size}^2, best of before and after: "
          f"{_rates(peak)})")
    print(f"widths done at (s from the start): {res['per_width_done_s']}; diverged models: {res['diverged']}")
    peak_mem = device_peak if device_peak is not None else res["peak_rss_bytes"]
    print(f"peak memory {peak_mem / 2**30:.2f} GiB ({'device' if device_peak is not None else 'max RSS'})")
    return res


def _rates(rates: dict) -> str:
    return ", ".join(f"{k} {v / 1e9:,.1f} GFLOP/s" for k, v in rates.items())


def is_target_sweep(preset: str, overrides: list[str]) -> bool:
    """Whether a run is issue 5's target sweep: the paper preset, its products' precision aside
    (bf16 or TF32 products count if their exponents stay within the error bars, which
    benchmarks/precision_check.py decides)."""
    return preset == "paper" and all(kv.startswith("train.matmul_precision=") for kv in overrides)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="paper", choices=sorted(phase_diagram.PRESETS))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to the experiment (e.g. train.steps=2000); repeatable")
    ap.add_argument("--matmul-size", type=int, default=None,
                    help="side of the square matmul whose rate floor_fraction is against "
                         "(default 8192 on an accelerator, 2048 on a CPU)")
    ap.add_argument("--out", default=None, help="folder for the run (must be new or empty; default a temp folder, "
                                                "deleted afterwards)")
    ap.add_argument("--no-progress", action="store_true", help="hide the sweep's progress bar")
    ap.add_argument("--json", default=None, help="write the numbers to this path")
    args = ap.parse_args(argv)

    if args.out is not None and os.path.isdir(args.out) and os.listdir(args.out):
        ap.error(f"--out {args.out!r} is not empty; a benchmark must train every model, not resume")
    folder = args.out or tempfile.mkdtemp(prefix="paper_sweep-")
    try:
        res = _run(args, folder)
    finally:
        if args.out is None:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        _save(args.json, res)
        print(f"wrote {args.json}")
    return res


def _save(path: str, numbers: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_json(path, numbers)  # NaN exponents (too few widths) as null


if __name__ == "__main__":
    # A time limit's SIGTERM ends the run through SystemExit, so the temp folder is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
