"""Where the test suite's time goes: each test's wall time, and JAX's compilation inside it.

A pytest plugin and the summary of what it logged. Run the suite with it (pytest-xdist's workers
load it too), then summarise:

    SUITE_COMPILE_LOG=runs/suite-compile PYTHONPATH=benchmarks python -m pytest -p suite_compile_time
    python benchmarks/suite_compile_time.py runs/suite-compile

Each test process writes one JSON line per test to a file of its own in SUITE_COMPILE_LOG (a
folder without earlier logs): the test's id; its wall seconds from its setup to its teardown; and
the seconds and counts of the durations JAX records for tracing, lowering to MLIR and XLA's
compile (``jax.monitoring``'s ``/jax/core/compile/...`` events, whatever the log settings). A hit
in the persistent compilation cache is one of those compiles, with the seconds of finding and
loading the program; the hits are counted too. A module fixture's setup lands in the first test
that uses it, its teardown in the last. Compilation in the subprocesses that tests start is not
in those counts: the CPU seconds of the subprocesses a test waited for are (``subprocess_cpu_s``,
from ``os.times()``: user and system time of finished children; a subprocess's own JAX startup
and compiles are most of it). Each process also logs its collection's wall seconds (imports of
the test files included), outside any test.
"""

import argparse
import collections
import glob
import json
import os
import sys
import time

try:
    import pytest
except ImportError:  # (the summary needs no pytest)
    pytest = None

ENV = "SUITE_COMPILE_LOG"
_EVENTS = {"/jax/core/compile/backend_compile_duration": "compile",
           "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
           "/jax/core/compile/jaxpr_trace_duration": "trace"}
_CACHE_HIT = "/jax/compilation_cache/cache_hits"
_seen = collections.Counter()  # this process's running totals: "compile_s", "compiles", ..., "cache_hits"


def _on_duration(event: str, seconds: float, **_) -> None:
    kind = _EVENTS.get(event)
    if kind:
        _seen[f"{kind}_s"] += seconds
        _seen[f"{kind}s"] += 1


def _on_event(event: str, **_) -> None:
    if event == _CACHE_HIT:
        _seen["cache_hits"] += 1


if pytest is not None:
    _LOG = pytest.StashKey[str]()

    def pytest_configure(config):
        import jax

        if config.option.help:
            return
        folder = os.environ.get(ENV)
        if not folder:
            raise pytest.UsageError(f"-p suite_compile_time: set {ENV} to the folder its logs go to "
                                    f"(e.g. {ENV}=runs/suite-compile)")
        if not hasattr(config, "workerinput"):  # (the controller, or the only process: not each xdist worker)
            earlier = glob.glob(os.path.join(folder, "tests-*.jsonl"))
            if earlier:
                raise pytest.UsageError(f"{ENV}={folder} already holds {len(earlier)} log(s) of an earlier run, "
                                        f"which the summary would add to this one's: give an empty or new folder")
            os.makedirs(folder, exist_ok=True)
        config.stash[_LOG] = os.path.join(folder, f"tests-{os.getpid()}.jsonl")
        if not _seen["listening"]:  # (once a process)
            jax.monitoring.register_event_duration_secs_listener(_on_duration)
            jax.monitoring.register_event_listener(_on_event)
            _seen["listening"] = 1

    def _children_cpu_s() -> float:
        t = os.times()
        return t.children_user + t.children_system

    def _log(config, line: dict) -> None:
        if _LOG in config.stash:  # (not with --help)
            with open(config.stash[_LOG], "a") as f:  # (a line at a time: a killed run keeps what it finished)
                f.write(json.dumps(line) + "\n")

    @pytest.hookimpl(wrapper=True)
    def pytest_collection(session):
        start = time.perf_counter()
        result = yield
        if not session.config.pluginmanager.has_plugin("dsession"):  # (pytest-xdist's controller collects nothing)
            _log(session.config, {"collection_s": time.perf_counter() - start})
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        before, start, children = dict(_seen), time.perf_counter(), _children_cpu_s()
        result = yield
        line = {"id": item.nodeid, "wall_s": time.perf_counter() - start,
                "subprocess_cpu_s": _children_cpu_s() - children}
        for key in ("compile_s", "compiles", "lower_s", "trace_s", "cache_hits"):
            line[key] = _seen[key] - before.get(key, 0)
        _log(item.config, line)
        return result


def read(folder: str) -> tuple[list[dict], int, list[float]]:
    """The tests logged in ``folder``, the count of files (processes) they came from, and each
    process's collection seconds; a line cut short (a killed run) is left out."""
    paths = sorted(glob.glob(os.path.join(folder, "tests-*.jsonl")))
    tests, collections_s = [], []
    for path in paths:
        with open(path) as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "collection_s" in row:
                    collections_s.append(row["collection_s"])
                else:
                    tests.append(row)
    return tests, len(paths), collections_s


def summarise(tests: list[dict], top: int = 15) -> dict:
    """Totals, per file (sorted by wall time) and the ``top`` tests by compile and by other time."""
    def totals(rows):
        out = {"tests": len(rows), **{k: sum(r.get(k, 0.0) for r in rows) for k in (  # (older logs: no subprocesses)
            "wall_s", "compile_s", "compiles", "lower_s", "trace_s", "cache_hits", "subprocess_cpu_s")}}
        out["compile_fraction"] = out["compile_s"] / out["wall_s"] if out["wall_s"] > 0 else float("nan")
        return out

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
    tests, processes, collections_s = read(args.folder)
    if not tests:
        sys.exit(f"{args.folder}: no tests logged (run the suite with {ENV}={args.folder} and -p suite_compile_time)")
    s = summarise(tests, args.top)
    s["collection_s"] = collections_s
    t = s["total"]
    timed = all("subprocess_cpu_s" in r for r in tests)  # (not in an older version's logs)

    def cpu(seconds: float, width: int) -> str:
        return f"{seconds:>{width}.1f}" if timed else f"{'-':>{width}}"

    print(f"{t['tests']} tests in {processes} process(es): {t['wall_s']:.1f} s of tests, of which "
          f"{t['compile_s']:.1f} s ({100 * t['compile_fraction']:.0f} %) in {t['compiles']} XLA compiles "
          f"({t['cache_hits']} of them loads from the persistent cache); lowering {t['lower_s']:.1f} s, "
          f"tracing {t['trace_s']:.1f} s; " + (
              f"the subprocesses they waited for took {t['subprocess_cpu_s']:.1f} s of CPU" if timed else
              "subprocesses not timed (a log of an older version of this plugin)"))
    if collections_s:
        print(f"collection (outside the tests): {', '.join(f'{c:.1f}' for c in collections_s)} s in "
              f"{len(collections_s)} process(es)")
    print(f"{'file':<40} {'tests':>5} {'wall s':>8} {'compile s':>9} {'share':>6} {'compiles':>8} {'hits':>5} "
          f"{'subprocess CPU s':>16}")
    for name, f in s["files"].items():
        print(f"{name:<40} {f['tests']:>5} {f['wall_s']:>8.1f} {f['compile_s']:>9.1f} "
              f"{100 * f['compile_fraction']:>5.0f}% {f['compiles']:>8} {f['cache_hits']:>5} "
              f"{cpu(f['subprocess_cpu_s'], 16)}")
    for title, rows in (("most compilation", s["by_compile"]), ("most time outside compilation", s["by_other"])):
        print(f"-- the {len(rows)} tests with the {title} (wall s, compile s, compiles, subprocess CPU s)")
        for r in rows:
            print(f"{r['wall_s']:>7.1f} {r['compile_s']:>7.1f} {r['compiles']:>5} "
                  f"{cpu(r.get('subprocess_cpu_s', 0.0), 7)}  {r['id']}")
    return s


if __name__ == "__main__":
    main()
