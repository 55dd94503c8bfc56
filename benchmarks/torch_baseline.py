"""The baseline to beat: the superposition toy model trained the way the paper's code does.

PyTorch, one model at a time, a Python loop over steps, fresh ``torch.rand`` data every
step written as the published scripts write it (``(rand < p).float() * rand * 2``: a
``torch.where`` had cost an extra pass), ``torch.optim.Adam(0.9, 0.999, 1e-8)`` with the
signed per-row decay of Eq. 2 applied by hand to W before each Adam step, the warm-up/cosine
learning rate set on the groups each step, the loss as ``F.mse_loss`` (a hand-written mean of
squares had cost another) and read with ``loss.item()`` each step, as the published loop
logs it. Same shapes as the JAX engine (n x m weights, batch x n samples, per-element mean
squared error). Until 2026-12-05 the two extra passes made this baseline 4.5 % slower per step
than it is now (1.7-8.7 % by width, interleaved on a 2-core AMD EPYC, benchmarks/RESULTS.md), so
the speedups printed with it are that much high.

torch is an optional ``bench`` extra (``pip install -e .[bench]``); importing this module
without it raises ImportError, which :mod:`benchmarks.train_throughput` reports and skips.
Run as a script (one of train_throughput's concurrent workers, ``--help``) without it, it
says so and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

try:
    import torch
except ImportError as e:  # (run as a script, `--help` without torch had been a raw ModuleNotFoundError traceback)
    if __name__ != "__main__":
        raise  # (what train_throughput.bench_torch reports, skipping the baseline)
    torch, _NO_TORCH = None, str(e)

__all__ = ["train_torch_model", "time_torch_steps", "torch_matmul_flops", "concurrent_worker"]


def _schedule(steps: int, warmup: int, final_fraction: float = 0.05):
    decay = max(1, steps - warmup)

    def lam(t: int) -> float:  # the published get_lr: step t counts as t + 1 in both phases
        s = t + 1
        if s < warmup:
            return s / warmup
        progress = min(1.0, (s - warmup) / decay)
        return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return lam


def train_torch_model(
    n: int,
    m: int,
    *,
    alpha: float,
    gamma: float,
    lr_w: float = 1e-2,
    lr_b: float = 1e-2,
    batch: int = 2048,
    steps: int = 100,
    warmup: int | None = None,
    seed: int = 0,
    schedule_steps: int | None = None,
) -> tuple[float, float]:
    """Trains one model for ``steps`` steps; returns (seconds of the step loop, last loss).

    ``schedule_steps`` sets the length of the LR schedule (default ``steps``), so a short
    timed run can use the schedule of a full-length one.
    """
    torch.manual_seed(seed)
    total = schedule_steps or steps
    warmup = total // 10 if warmup is None else warmup
    i = torch.arange(1, n + 1, dtype=torch.float32)
    p = i ** (-alpha)
    p = p / p.sum()
    W = torch.nn.Parameter(torch.randn(n, m) / math.sqrt(m))
    b = torch.nn.Parameter(torch.randn(n))
    opt = torch.optim.Adam([{"params": [W], "lr": lr_w}, {"params": [b], "lr": lr_b}],
                           betas=(0.9, 0.999), eps=1e-8)
    factor = _schedule(total, warmup)
    value = math.nan
    t0 = time.perf_counter()
    for t in range(steps):
        x = (torch.rand(batch, n) < p).float() * torch.rand(batch, n) * 2
        for group, peak in zip(opt.param_groups, (lr_w, lr_b)):
            group["lr"] = peak * factor(t)
        y = torch.relu(x @ W @ W.T + b)
        loss = torch.nn.functional.mse_loss(y, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():  # decoupled signed row decay, before the Adam step
            eta = opt.param_groups[0]["lr"]
            if gamma >= 0:
                W -= eta * gamma * W
            else:
                norms = W.norm(dim=1, keepdim=True)
                W -= eta * gamma * W * (1 / (norms + 1e-8) - 1)
        opt.step()
        value = loss.item()
    return time.perf_counter() - t0, value


def time_torch_steps(n: int, m: int, *, batch: int, steps: int, warm: int = 3, **kw) -> float:
    """Seconds per step of one model, from a timed run after ``warm`` untimed steps."""
    train_torch_model(n, m, batch=batch, steps=warm, alpha=1.0, gamma=-1.0, **kw)
    seconds, loss = train_torch_model(n, m, batch=batch, steps=steps, alpha=1.0, gamma=-1.0, **kw)
    if not np.isfinite(loss):
        raise RuntimeError(f"torch baseline diverged at m={m}")
    return seconds / steps


def torch_matmul_flops(size: int = 2048, reps: int = 10) -> float:
    """torch's fp32 [size x size] @ [size x size] rate in FLOP/s (best of ``reps``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best


def setup_threads(threads: int | None = None) -> int:
    """Uses every core (the baseline at its best on this machine); returns the count."""
    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    return threads


def _wait_for(folder: str, prefix: str, count: int, busy=None) -> None:
    """Until ``folder`` holds ``prefix0`` .. ``prefix{count-1}``; ``busy()`` runs meanwhile (else a short sleep)."""
    while not all(os.path.exists(os.path.join(folder, f"{prefix}{i}")) for i in range(count)):
        busy() if busy else time.sleep(0.01)


def concurrent_worker(folder: str, index: int, count: int, n: int, batch: int, steps: int, repeats: int,
                      widths: list[int]) -> dict:
    """One of ``count`` single-threaded processes timed together, as the paper ran one task per
    core: every worker starts timing once all have imported torch, and keeps training (untimed)
    after its own timings until all are done, so each timed step runs beside the others' work.
    Returns the fastest of ``repeats`` seconds per step at each width. (A worker that fails
    leaves the others waiting: the caller stops them, ``train_throughput.bench_torch_processes``.)"""
    torch.set_num_threads(1)
    open(os.path.join(folder, f"ready{index}"), "w").close()
    _wait_for(folder, "ready", count)
    tries = {str(m): [time_torch_steps(n, m, batch=batch, steps=steps) for _ in range(repeats)] for m in widths}
    open(os.path.join(folder, f"done{index}"), "w").close()
    _wait_for(folder, "done", count,  # (training as timed: the others' last timed steps run beside it)
              busy=lambda: train_torch_model(n, widths[-1], batch=batch, steps=steps, alpha=1.0, gamma=-1.0))
    return {"seconds_per_step": {m: min(t) for m, t in tries.items()}, "repeats_seconds_per_step": tries}


def main(argv: list[str] | None = None) -> None:
    """python torch_baseline.py FOLDER INDEX COUNT N BATCH STEPS REPEATS M [M ...]: one worker of
    :func:`concurrent_worker`, its result printed as one line of JSON."""
    ap = argparse.ArgumentParser(
        description="One of COUNT single-threaded torch workers timed together (train_throughput.py "
                    "starts them); prints its seconds per step at each width as JSON.", allow_abbrev=False)
    ap.add_argument("folder", metavar="FOLDER", help="a folder shared by the workers, for their ready and done files")
    for name, what in (("index", "this worker's number, 0 .. COUNT-1"), ("count", "the number of workers"),
                       ("n", "features"), ("batch", "samples per step"), ("steps", "steps timed per width"),
                       ("repeats", "timings per width (the fastest counts)")):
        ap.add_argument(name, type=int, metavar=name.upper(), help=what)
    ap.add_argument("widths", type=int, nargs="+", metavar="M", help="the widths timed")
    args = ap.parse_args(argv)
    if torch is None:  # (the hint train_throughput.bench_torch prints)
        sys.exit(f"torch baseline not run: {_NO_TORCH} (pip install -e '.[bench]', e.g. torch==2.13.0 CPU)")
    print(json.dumps(concurrent_worker(args.folder, args.index, args.count, args.n, args.batch, args.steps,
                                       args.repeats, args.widths)))


if __name__ == "__main__":
    main()
