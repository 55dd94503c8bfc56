"""Where the test suite's time goes: each test's wall time, and the XLA compilation inside it.

A pytest plugin and the summary of what it logged. Run the suite with it (pytest-xdist's workers
load it too), then summarise:

    SUITE_COMPILE_LOG=runs/suite-compile PYTHONPATH=benchmarks python -m pytest -p suite_compile_time
    python benchmarks/suite_compile_time.py runs/suite-compile

Each test process appends one JSON line per test to a file of its own in SUITE_COMPILE_LOG: the
test's id, its wall seconds from setup to teardown (a module fixture's setup falls in the first
test that uses it), and the count and seconds of the "Finished XLA compilation of ... in S sec"
records that JAX logs inside it (``jax_log_compiles``, switched on for the whole run). A hit in the
persistent compilation cache logs that record too, with the seconds of loading the program.
Compilation in the subprocesses that tests start is not counted: it is in their wall time only.
"""

import argparse
import collections
import glob
import json
import logging
import os
import sys
import time

ENV = "SUITE_COMPILE_LOG"
_PREFIX = "Finished XLA compilation of "
_state = {"seconds": 0.0, "count": 0}


class _CompileRecords(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(_PREFIX) and " in " in message:
            seconds = message.rsplit(" in ", 1)[1].split()[0]
            _state["seconds"] += float(seconds)
            _state["count"] += 1


try:
    import pytest
except ImportError:  # (the summary needs no pytest)
    pytest = None


def pytest_configure(config):
    import jax

    folder = os.environ.get(ENV)
    if not folder:
        raise pytest.UsageError(f"-p suite_compile_time: set {ENV} to the folder its logs go to "
                                f"(e.g. {ENV}=runs/suite-compile)")
    os.makedirs(folder, exist_ok=True)
    config._suite_compile_log = os.path.join(folder, f"tests-{os.getpid()}.jsonl")
    logging.getLogger("jax").addHandler(_CompileRecords())
    jax.config.update("jax_log_compiles", True)


if pytest is not None:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        seconds, count, start = _state["seconds"], _state["count"], time.perf_counter()
        yield
        line = {"id": item.nodeid, "wall_s": time.perf_counter() - start,
                "compile_s": _state["seconds"] - seconds, "compiles": _state["count"] - count}
        with open(item.config._suite_compile_log, "a") as f:  # (one line a test: a killed run keeps the rest)
            f.write(json.dumps(line) + "\n")


def summarise(tests: list[dict], top: int = 15) -> dict:
    """Totals, per file (sorted by wall time) and the ``top`` tests by compile and by other time."""
    def totals(rows):
        wall, comp = sum(r["wall_s"] for r in rows), sum(r["compile_s"] for r in rows)
        return {"tests": len(rows), "wall_s": wall, "compile_s": comp, "compiles": sum(r["compiles"] for r in rows),
                "compile_fraction": comp / wall if wall > 0 else float("nan")}

    files = collections.defaultdict(list)
    for r in tests:
        files[r["id"].split("::")[0]].append(r)
    per_file = {name: totals(rows) for name, rows in files.items()}
    return {"total": totals(tests),
            "files": dict(sorted(per_file.items(), key=lambda kv: -kv[1]["wall_s"])),
            "by_compile": sorted(tests, key=lambda r: -r["compile_s"])[:top],
            "by_other": sorted(tests, key=lambda r: -(r["wall_s"] - r["compile_s"]))[:top]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help=f"the {ENV} folder of a run with -p suite_compile_time")
    parser.add_argument("--top", type=int, default=15, help="how many tests to list by each measure (default 15)")
    args = parser.parse_args(argv)
    if args.top < 0:
        parser.error(f"argument --top: {args.top} must be >= 0")
    paths = sorted(glob.glob(os.path.join(args.folder, "tests-*.jsonl")))
    if not paths:
        sys.exit(f"{args.folder}: no tests-*.jsonl (run the suite with {ENV}={args.folder} and -p suite_compile_time)")
    tests = [json.loads(line) for path in paths for line in open(path) if line.strip()]
    s = summarise(tests, args.top)
    t = s["total"]
    print(f"{t['tests']} tests in {len(paths)} process(es): {t['wall_s']:.1f} s of tests, of which "
          f"{t['compile_s']:.1f} s ({100 * t['compile_fraction']:.0f} %) in {t['compiles']} XLA compilations")
    print(f"{'file':<40} {'tests':>5} {'wall s':>8} {'compile s':>9} {'share':>6} {'compiles':>8}")
    for name, f in s["files"].items():
        print(f"{name:<40} {f['tests']:>5} {f['wall_s']:>8.1f} {f['compile_s']:>9.1f} "
              f"{100 * f['compile_fraction']:>5.0f}% {f['compiles']:>8}")
    for title, rows in (("most compilation", s["by_compile"]), ("most time outside compilation", s["by_other"])):
        print(f"-- the {len(rows)} tests with the {title} (wall s, compile s, compilations)")
        for r in rows:
            print(f"{r['wall_s']:>7.1f} {r['compile_s']:>7.1f} {r['compiles']:>5}  {r['id']}")
    return s


if __name__ == "__main__":
    main()
