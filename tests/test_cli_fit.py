"""Tests of ``python -m toyscale fit ...`` (in-process through toyscale.cli.main, plus one subprocess)."""

import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import traceback
from types import SimpleNamespace

import numpy as np
import pytest

from toyscale import cli
from toyscale.fitting import CHINCHILLA_PUBLISHED, chinchilla_grid, fit_chinchilla


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 120
    N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = CHINCHILLA_PUBLISHED.loss(N, D) * np.exp(0.01 * rng.standard_normal(n))
    path = tmp_path_factory.mktemp("cli") / "runs.csv"
    rows = "".join(f"{a:.17g},{b:.17g},{6 * a * b:.17g},{c:.17g}\n" for a, b, c in zip(N, D, L))
    path.write_text("params,tokens,flops,loss\n" + rows)
    return path, (N, D, L)


def test_chinchilla_json_with_C(runs_csv, capsys):
    path, _ = runs_csv
    rc = cli.main(["fit", "chinchilla", str(path), "--N", "params", "--C", "flops", "--loss", "loss",
                   "--grid-stride", "50", "--json", "--budgets", "1e21", "1e23", "1e25"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {"E", "A", "B", "alpha", "beta", "a", "intervals", "stderr"} <= set(out)
    assert out["a"] == pytest.approx(out["beta"] / (out["alpha"] + out["beta"]), rel=1e-12)
    assert abs(out["alpha"] - CHINCHILLA_PUBLISHED.alpha) < 4 * out["stderr"]["alpha"]
    # compute-optimal sizes at three budgets, with delta-method standard errors
    co = out["compute_optimal"]
    assert co["C"] == [1e21, 1e23, 1e25] and co["N_opt_interval"] is None
    true_n = CHINCHILLA_PUBLISHED.compute_optimal(co["C"]).N_opt
    assert all(abs(n - t) < 4 * s for n, t, s in zip(co["N_opt"], true_n, co["N_opt_stderr"]))
    assert co["D_opt"] == pytest.approx([c / (6 * n) for c, n in zip(co["C"], co["N_opt"])], rel=1e-12)
    # --C gives the same fit as --D when C = 6 N D
    cli.main(["fit", "chinchilla", str(path), "--N", "params", "--D", "tokens", "--loss", "loss",
              "--grid-stride", "50", "--json"])
    out_d = json.loads(capsys.readouterr().out)
    assert out_d["alpha"] == pytest.approx(out["alpha"], rel=1e-6)
    # by default the budgets span the data's own C (they had been 1e21, 1e23, 1e25 whatever the data)
    C = 6 * runs_csv[1][0] * runs_csv[1][1]
    np.testing.assert_allclose(out_d["compute_optimal"]["C"], np.geomspace(C.min(), C.max(), 3), rtol=1e-9)


def test_grid_stride_keeps_a_spread_of_the_published_starts(runs_csv, monkeypatch, capsys):
    # a stride straight through the grid would keep only its first alpha and beta (0) at K = 50
    seen = {}

    def fit(*args, starts, **kwargs):
        seen["starts"] = starts
        return fit_chinchilla(*args, starts=starts, **kwargs)

    monkeypatch.setattr("toyscale.fitting.fit_chinchilla", fit)  # (cli imports the module when it runs)
    path, _ = runs_csv
    cli.main(["fit", "chinchilla", str(path), "--N", "params", "--D", "tokens", "--loss", "loss",
              "--grid-stride", "50", "--json"])
    capsys.readouterr()
    grid = chinchilla_grid()
    starts = seen["starts"]
    np.testing.assert_array_equal(starts, chinchilla_grid(thin=50))
    assert starts.shape == (90, 5)
    assert len({tuple(r) for r in starts}) == 90 and {tuple(r) for r in starts} <= {tuple(r) for r in grid}
    for col in range(5):  # every value of every column of the grid is among the starts
        assert set(starts[:, col]) == set(grid[:, col])


def test_chinchilla_table_and_drop_top(runs_csv, capsys):
    path, _ = runs_csv
    rc = cli.main(["fit", "chinchilla", str(path), "--N", "params", "--D", "tokens", "--loss", "loss",
                   "--grid-stride", "50", "--drop-top", "3"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "ChinchillaFit" in out and "n=117" in out and "dropped the 3 highest-loss" in out and "N_opt" in out


def test_power_law_cli(tmp_path, capsys):
    x = np.logspace(1, 4, 30)
    p = tmp_path / "pl.csv"
    p.write_text("size,err\n" + "".join(f"{a:.17g},{2 * a ** -0.4:.17g}\n" for a in x))
    assert cli.main(["fit", "power-law", str(p), "--x", "size", "--y", "err", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exponent"] == pytest.approx(0.4, rel=1e-10)
    assert out["n_points"] == 30 and out["x_range"] == [10.0, 10000.0] and out["converged"] and out["r2"] == 1.0
    assert {"grad_norm", "iterations", "objective", "stderr", "intervals", "identifiable"} <= set(out)
    assert cli.main(["fit", "power-law", str(p), "--x", "size", "--y", "err"]) == 0
    assert "PowerLawFit" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["power-law"])  # (broken-power-law reads its rows the same way: 9 s more)
def test_mean_fits_the_mean_of_each_distinct_x(kind, tmp_path, capsys):
    # an export has a row per model: without --mean a width's seeds count as independent points
    from toyscale.fitting import fit_broken_power_law, fit_power_law

    rng = np.random.default_rng(3)
    m = np.repeat(np.geomspace(4, 512, 12), 3)
    loss = 2 * m**-0.8 * (1 + (m / 40) ** 2) ** 0.1 * np.exp(0.05 * rng.standard_normal(m.size))
    p = tmp_path / "runs.csv"
    p.write_text("m,seed,loss\n" + "".join(f"{a:.17g},{i % 3},{b:.17g}\n" for i, (a, b) in enumerate(zip(m, loss))))
    assert cli.main(["fit", kind, str(p), "--x", "m", "--y", "loss", "--mean", "--json"]) in (0, 1)
    out = json.loads(capsys.readouterr().out)
    widths, means = np.unique(m), loss.reshape(12, 3).mean(axis=1)
    want = fit_power_law(widths, means) if kind == "power-law" else fit_broken_power_law(widths, means)
    assert out["n_points"] == 12 and out["exponent"] == pytest.approx(want.exponent, rel=1e-9)
    assert out["stderr"]["exponent"] == pytest.approx(want.stderr["exponent"], rel=1e-6)
    cli.main(["fit", kind, str(p), "--x", "m", "--y", "loss", "--json"])
    assert json.loads(capsys.readouterr().out)["n_points"] == 36


def test_a_fit_that_is_not_identifiable_exits_1_after_printing_it(tmp_path, capsys, collapsed_offset_data):
    m, y = collapsed_offset_data  # a true offset of 0.1 that these data cannot show
    p = tmp_path / "collapsed.csv"
    p.write_text("m,loss\n" + "".join(f"{a:.17g},{b:.17g}\n" for a, b in zip(m, y)))
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--offset", "--json"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["identifiable"] is False and "NOT IDENTIFIABLE" in out.err
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--offset"]) == 1
    assert "NOT IDENTIFIABLE: these data do not determine the parameters, or not their standard errors (see the " \
        "notes)" in capsys.readouterr().out
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss"]) == 0  # without the offset it is


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("a,b\n1,2\n2,3\n", ["--x", "a", "--y", "nope"], "unknown column(s) 'nope'"),
        ("a,b\n1,2\n2,x\n", ["--x", "a", "--y", "b"], "line 3, column 'b': cannot parse 'x'"),
        # the CSV's line and column, not an index among the rows kept under the fit's argument name (y[1])
        ("a,b\n1,2\n2,-3\n3,1\n", ["--x", "a", "--y", "b"],
         "column 'b' has 1 non-positive value(s) (first on line 3: -3)"),
        ("", ["--x", "a", "--y", "b"], "empty file"),
        # a thousands separator split one cell in two: it had read width 1, loss 24
        ("width,loss\n4,1.0\n8,0.62\n1,024,0.031\n", ["--x", "width", "--y", "loss"],
         "line 4 has 3 fields, the header 2; quote a cell"),
        ("width,loss,width\n4,1,5\n8,0.5,9\n", ["--x", "width", "--y", "loss"], "names column(s) 'width' more than once"),
        # a --where column named twice kept the last copy; one column for two inputs read each value twice (n=8)
        ("m,loss,g,g\n10,1,a,b\n20,0.6,a,b\n40,0.35,a,b\n", ["--x", "m", "--y", "loss", "--where", "g=a"],
         "names column(s) 'g' more than once"),
        ("m,loss\n10,1\n20,0.6\n40,0.35\n", ["--x", "m", "--y", "m"],
         "column(s) 'm' given for two of the fit's inputs"),
        ("a,b\n4,1\n\n\n8,x\n", ["--x", "a", "--y", "b"], "line 5, column 'b': cannot parse 'x'"),  # blank lines counted
        ("a,b\n1,2\n1,3\n1,4\n", ["--x", "a", "--y", "b"], "not identifiable"),
        # a missing cell had given "cannot parse None as a number"
        ("width,loss\n4,1.0\n8\n16,0.4\n", ["--x", "width", "--y", "loss"],
         "line 3 has 1 field, the header 2, so no 'loss'; is a cell missing?"),
        ("a,b\n1,2\n2,inf\n", ["--x", "a", "--y", "b"],
         "column 'b' has 1 non-finite value(s) (first on line 3: inf); a fit needs finite numbers: leave those rows"),
    ],
)
def test_cli_errors(tmp_path, capsys, content, args, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    assert cli.main(["fit", "power-law", str(p), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_short_row_is_read_when_it_lacks_only_columns_the_fit_does_not_use(tmp_path, capsys):
    # a header's trailing comma (an unused empty column), and a trailer line that --where leaves out
    rows = "".join(f"{m},{2 * m ** -0.5}\n" for m in (4, 8, 16, 32))
    p = tmp_path / "short.csv"
    p.write_text("m,loss,\n" + rows)
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss"]) == 0
    assert "exponent" in capsys.readouterr().out
    p.write_text("m,loss,kind\n" + rows.replace("\n", ",a\n") + "TOTAL\n")
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--where", "kind=a"]) == 0
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss"]) == 2  # (unfiltered: the trailer is read)
    assert "line 6 has 1 field, the header 3, so no 'loss'" in capsys.readouterr().err


def test_drop_top_does_not_drop_a_nan_loss_as_the_highest(tmp_path, capsys):
    p = tmp_path / "nan.csv"
    p.write_text("N,D,loss\n" + "".join(f"{1e7 * 2**i},{1e9 * 3**i},{'nan' if i == 4 else 3 - 0.1 * i}\n"
                                          for i in range(8)))
    assert cli.main(["fit", "chinchilla", str(p), "--N", "N", "--D", "D", "--loss", "loss", "--drop-top", "1"]) == 2
    assert "column 'loss' has 1 non-finite value(s) (first on line 6: nan)" in capsys.readouterr().err


def test_missing_file_and_usage(capsys):
    assert cli.main(["fit", "power-law", "/nonexistent.csv", "--x", "a", "--y", "b"]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["fit", "chinchilla", "f.csv", "--N", "n", "--loss", "l"])  # needs --D or --C


def test_python_m_toyscale(tmp_path):
    p = tmp_path / "pl.csv"
    p.write_text("x,y\n1,1\n2,0.5\n4,0.25\n")
    r = subprocess.run([sys.executable, "-m", "toyscale", "fit", "power-law", str(p), "--x", "x", "--y", "y", "--json"],
                       capture_output=True, text=True, check=True)
    assert json.loads(r.stdout)["exponent"] == pytest.approx(1.0, rel=1e-12)
    bad = subprocess.run([sys.executable, "-m", "toyscale", "fit", "power-law", str(p), "--x", "x", "--y", "y"],
                         capture_output=True, text=True, env={**os.environ, "TOYSCALE_CPU_DEVICES": "two"})
    assert bad.returncode == 2 and bad.stderr.startswith("toyscale: error: TOYSCALE_CPU_DEVICES='two'"), bad.stderr


def test_the_installed_command_does_the_entry_point_set_up(tmp_path):
    # `pip install` makes a `toyscale` script next to the interpreter; it must keep the
    # compilation cache and read $TOYSCALE_CPU_DEVICES as `python -m toyscale` does
    script = pathlib.Path(sys.executable).with_name("toyscale")
    assert script.exists(), script
    p = tmp_path / "pl.csv"
    p.write_text("x,y\n1,1\n2,0.5\n4,0.25\n")
    cache = tmp_path / "cache"
    env = {**os.environ, "TOYSCALE_COMPILATION_CACHE": str(cache)}
    r = subprocess.run([str(script), "fit", "power-law", str(p), "--x", "x", "--y", "y", "--json"],
                       capture_output=True, text=True, env=env, check=True)
    assert json.loads(r.stdout)["exponent"] == pytest.approx(1.0, rel=1e-12)
    assert cache.is_dir() and any(cache.iterdir())
    bad = subprocess.run([str(script), "fit", "power-law", str(p), "--x", "x", "--y", "y"],
                         capture_output=True, text=True, env={**env, "TOYSCALE_CPU_DEVICES": "-1"})
    assert bad.returncode == 2 and bad.stderr.startswith("toyscale: error: TOYSCALE_CPU_DEVICES='-1'"), bad.stderr


@pytest.fixture(scope="module")
def isoflop_csv(tmp_path_factory):
    """Runs on IsoFLOP slices of the published law, N grid centred on each budget's optimum."""
    from toyscale.fitting import compute_optimal

    budgets = np.logspace(18, 22, 9)
    n_opt = compute_optimal(CHINCHILLA_PUBLISHED, budgets).N_opt
    N = (n_opt[:, None] * np.exp(np.linspace(-1.5, 1.5, 15))[None, :]).ravel()
    C = np.repeat(budgets, 15)
    L = CHINCHILLA_PUBLISHED.loss(N, C / (6 * N))
    path = tmp_path_factory.mktemp("cli") / "isoflop.csv"
    path.write_text("n,tokens,flops,loss\n" + "".join(f"{a:.17g},{c / (6 * a):.17g},{c:.17g},{l:.17g}\n"
                                                      for a, c, l in zip(N, C, L)))
    return path


@pytest.mark.parametrize("kind", ["frontier", "isoflop"])
def test_allocation_cli(isoflop_csv, capsys, kind):
    base = ["fit", kind, str(isoflop_csv), "--N", "n", "--loss", "loss"]
    assert cli.main(base + ["--C", "flops", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == kind and out["n_budgets"] == 9 and out["n_runs"] == [15] * 9
    assert out["a"] == pytest.approx(CHINCHILLA_PUBLISHED.a, abs=1e-9) and out["b"] == pytest.approx(1 - out["a"])
    assert {"a_stderr", "prefactor", "C", "N_opt", "L_opt", "r2", "notes"} <= set(out)
    # tokens (C = 6 N D recomputed) and 9 log-spaced bins give the same budgets
    assert cli.main(base + ["--D", "tokens", "--bins", "9", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["a"] == pytest.approx(out["a"], abs=1e-9)
    # bin edges: 3 bins covering the 9 budgets, 3 budgets each
    assert cli.main(base + ["--C", "flops", "--bins", "5e17", "2e19", "6e20", "2e22", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_runs"] == [45, 45, 45]
    assert cli.main(base + ["--C", "flops"]) == 0
    assert "AllocationFit  N_opt = k C^a" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["frontier", "isoflop"])
def test_allocation_cli_bootstrap(isoflop_csv, capsys, kind):
    base = ["fit", kind, str(isoflop_csv), "--N", "n", "--C", "flops", "--loss", "loss", "--bootstrap", "40"]
    assert cli.main(base + ["--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_bootstrap"] == 40 and out["level"] == 0.95 and out["bootstrap_failed"] == 0
    assert set(out["intervals"]) == {"a", "prefactor", "b"}
    lo, hi = out["intervals"]["a"]
    assert lo <= out["a"] <= hi and hi - lo < 0.1
    assert cli.main(base + ["--seed", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["intervals"] == out["intervals"]
    assert cli.main(base) == 0
    assert "interval (95% bootstrap)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(base[:-1] + ["-5"])


@pytest.mark.runs_long
def test_broken_power_law_cli(tmp_path, capsys):
    x = np.logspace(1, 5, 60)
    y = 5.0 * x**-0.3 * (1 + (x / 1e3) ** 5) ** (-0.1)  # c0 = 0.3, break at 1e3, c1 = 0.5, f = 0.2
    p = tmp_path / "bpl.csv"
    p.write_text("size,err\n" + "".join(f"{a:.17g},{b:.17g}\n" for a, b in zip(x, y)))
    assert cli.main(["fit", "broken-power-law", str(p), "--x", "size", "--y", "err", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exponent"] == pytest.approx(0.3, abs=1e-6) and out["break1"] == pytest.approx(1e3, rel=1e-5)
    assert out["slopes"] == pytest.approx([0.3, 0.8], abs=1e-6) and out["converged"] and out["n_points"] == 60
    assert set(out["stderr"]) == {"prefactor", "exponent", "break1", "change1", "smoothness1", "slope1"}
    assert cli.main(["fit", "broken-power-law", str(p), "--x", "size", "--y", "err"]) == 0
    assert "BrokenPowerLawFit" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["fit", "broken-power-law", str(p), "--x", "size", "--y", "err", "--breaks", "4"])


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("n,c,l\n1,2,3\n", ["frontier", "--N", "n", "--C", "c", "--loss", "nope"], "unknown column(s) 'nope'"),
        ("n,c,l\n1,2,3\n2,x,1\n", ["isoflop", "--N", "n", "--C", "c", "--loss", "l"], "line 3, column 'c'"),
        ("n,c,l\n1,2,3\n2,2,-1\n", ["frontier", "--N", "n", "--C", "c", "--loss", "l"],
         "column 'l' has 1 non-positive"),
        ("n,c,l\n1,2,3\n2,2,1\n", ["frontier", "--N", "n", "--C", "c", "--loss", "l"], "not identifiable: 1 distinct"),
        ("n,c,l\n1,2,3\n2,4,1\n", ["frontier", "--N", "n", "--C", "c", "--loss", "l", "--bins", "2.5"],
         "--bins 2.5: give an integer"),
        # in --bins' terms (fit_isoflop's had said "bins has 3 edge(s); edges must be >= 3 strictly ascending ...")
        ("n,c,l\n1,2,3\n2,4,1\n", ["isoflop", "--N", "n", "--C", "c", "--loss", "l", "--bins", "1", "5"],
         "--bins 1 5: 2 edges make 1 bin; give at least 3 bin edges, or one integer"),
        ("n,c,l\n1,2,3\n2,4,1\n", ["frontier", "--N", "n", "--C", "c", "--loss", "l", "--bins", "3e9", "1e9", "1e12"],
         "--bins 3e+09 1e+09 1e+12: the bin edges are not strictly ascending (3e+09 then 1e+09)"),
        ("n,c,l\n1,2,3\n2,4,1\n", ["isoflop", "--N", "n", "--C", "c", "--loss", "l", "--bins", "1", "5", "5"],
         "--bins 1 5 5: the bin edges are not strictly ascending (5 then 5)"),
        ("n,c,l\n1,2,3\n2,4,1\n3,8,1\n", ["frontier", "--N", "n", "--C", "c", "--loss", "l", "--bins", "1e20"],
         "bins=100000000000000000000; more bins than the 3 runs"),
        ("x,y\n1,2\n2,nan\n", ["broken-power-law", "--x", "x", "--y", "y"], "column 'y' has 1 non-finite"),
        ("x,y\n1,2\n2,3\n", ["broken-power-law", "--x", "x", "--y", "q"], "unknown column(s) 'q'"),
        ("x,y\n1,2\n2,3\n3,4\n", ["broken-power-law", "--x", "x", "--y", "y"], "only 3 point(s)"),
    ],
)
def test_cli_errors_new_commands(tmp_path, capsys, content, args, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    assert cli.main(["fit", args[0], str(p), *args[1:]]) == 2
    assert message in capsys.readouterr().err


def test_a_folder_a_bom_and_a_bad_budget_column_are_named(tmp_path, capsys):
    assert cli.main(["fit", "power-law", str(tmp_path), "--x", "a", "--y", "b"]) == 2
    assert f"{tmp_path}: cannot be read" in capsys.readouterr().err
    p = tmp_path / "excel.csv"  # Excel's "CSV UTF-8" starts with a byte-order mark
    p.write_bytes("\ufeffsize,err\n1,1\n2,0.5\n4,0.25\n".encode())
    assert cli.main(["fit", "power-law", str(p), "--x", "size", "--y", "err", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exponent"] == pytest.approx(1.0, rel=1e-9)
    q = tmp_path / "negC.csv"  # a bad FLOP count is blamed on the FLOP column, not on D derived from it
    q.write_text("N,flops,loss\n" + "".join(f"{1e7 * 2**i},{-1e18 if i == 3 else 1e18 * 3**i},{3 - 0.1 * i}\n"
                                            for i in range(8)))
    assert cli.main(["fit", "chinchilla", str(q), "--N", "N", "--C", "flops", "--loss", "loss", "--drop-top", "1"]) == 2
    assert "column 'flops' has 1 non-positive value(s) (first on line 5: -1e+18)" in capsys.readouterr().err


def test_every_option_of_every_command_has_help_text():
    import argparse

    def commands(parser, name):
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield from commands(sub, f"{name} {sub_name}")

    found = list(commands(cli.build_parser(), "toyscale"))
    assert {"toyscale fit power-law", "toyscale fit chinchilla", "toyscale export"} <= {n for n, _ in found}
    bare = [(n, a.option_strings or a.dest) for n, p in found for a in p._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not a.help]
    assert bare == []


# what a review of the fit and export commands found


@pytest.mark.parametrize("command", [
    ["power-law", "--x", "x", "--y", "y"],
    ["broken-power-law", "--x", "x", "--y", "y"],
    ["chinchilla", "--N", "x", "--D", "x", "--loss", "y"],
    ["frontier", "--N", "x", "--C", "x", "--loss", "y"],
    ["isoflop", "--N", "x", "--C", "x", "--loss", "y"],
])
def test_too_few_bootstrap_resamples_are_refused(tmp_path, capsys, command):
    # --bootstrap 1 had printed a zero-width "95 %" interval that did not hold the estimate
    p = tmp_path / "pl.csv"
    p.write_text("x,y\n1,1\n2,0.5\n4,0.25\n")
    for r in ("1", "2", "39"):
        assert cli.main(["fit", command[0], str(p), *command[1:], "--bootstrap", r]) == 2
        err = capsys.readouterr().err
        assert f"--bootstrap {r}: a 95% percentile interval needs at least 40 resamples" in err, err


def test_power_law_bootstrap_of_40_holds_the_estimate(tmp_path, capsys):
    x = np.logspace(1, 3, 8)
    y = 2 * x**-0.5 * np.exp(0.05 * np.random.default_rng(0).standard_normal(8))
    p = tmp_path / "pl.csv"
    p.write_text("x,y\n" + "".join(f"{a:.17g},{b:.17g}\n" for a, b in zip(x, y)))
    assert cli.main(["fit", "power-law", str(p), "--x", "x", "--y", "y", "--bootstrap", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    lo, hi = out["intervals"]["exponent"]
    assert out["n_bootstrap"] == 40 and lo < out["exponent"] < hi


def test_diverged_rows_are_named_by_line_with_the_options_that_leave_them_out(tmp_path, capsys):
    # had said "y has 2 non-finite value(s) (first: y[2]=nan)": the fit's argument and an index among the rows kept
    p = tmp_path / "div.csv"
    p.write_text("model_id,diverged,m,test_loss\n0,0,8,0.5\n1,0,16,0.35\n2,1,32,nan\n3,0,64,0.18\n4,1,128,nan\n")
    base = ["fit", "power-law", str(p), "--x", "m", "--y", "test_loss"]
    assert cli.main(base) == 2
    err = capsys.readouterr().err
    assert "column 'test_loss' has 2 non-finite value(s) (first on line 4: nan)" in err, err
    assert "--where diverged=0" in err and "--drop-diverged" in err
    assert cli.main(base + ["--where", "diverged=0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_points"] == 3
    assert cli.main(base + ["--where", "m=128"]) == 2  # the line in the file, not the index among the rows kept
    assert "column 'test_loss' has 1 non-finite value(s) (first on line 6: nan)" in capsys.readouterr().err
    q = tmp_path / "plain.csv"  # no diverged column: no advice about one
    q.write_text("m,test_loss\n8,0.5\n16,nan\n32,0.3\n")
    assert cli.main(["fit", "power-law", str(q), "--x", "m", "--y", "test_loss"]) == 2
    err = capsys.readouterr().err
    assert "(first on line 3: nan)" in err and "--where diverged=0" not in err and "leave those rows out" in err


def _noisy_power_law_csv(tmp_path):
    x = np.logspace(1, 3, 12)
    y = 2 * x**-0.5 * np.exp(0.05 * np.random.default_rng(1).standard_normal(12))
    p = tmp_path / "noisy.csv"
    p.write_text("x,y\n" + "".join(f"{a:.17g},{b:.17g}\n" for a, b in zip(x, y)))
    return p


def test_huber_delta_of_the_power_law_fits(tmp_path, capsys, monkeypatch):
    # the fit's note advised "a larger huber_delta", which the command had no option for
    p = _noisy_power_law_csv(tmp_path)
    base = ["fit", "power-law", str(p), "--x", "x", "--y", "y", "--loss-fn", "huber", "--json"]
    assert cli.main(base) == 1  # (no standard errors: not identifiable)
    assert any("within delta=0.001" in n and "a larger huber_delta gives defined ones" in n
               for n in json.loads(capsys.readouterr().out)["notes"])
    assert cli.main(base + ["--huber-delta", "0.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert not any("delta" in n for n in out["notes"]) and out["identifiable"]
    assert cli.main(base[:-3] + ["--huber-delta", "0.5"]) == 2  # (the squared loss has no delta)
    assert "--huber-delta 0.5 applies to --loss-fn huber only" in capsys.readouterr().err
    for bad in ("0", "-1", "nan", "x"):
        with pytest.raises(SystemExit):
            cli.main(base + ["--huber-delta", bad])
    assert "argument --huber-delta: 'x' is not a number" in capsys.readouterr().err
    seen = []  # passed on by --cut and by the broken power law too
    monkeypatch.setattr("toyscale.fitting.extrapolation_error", lambda *a, **kw: seen.append(kw) or 1 / 0)
    monkeypatch.setattr("toyscale.fitting.fit_broken_power_law", lambda *a, **kw: seen.append(kw) or 1 / 0)
    for command in (base[:-1] + ["--cut", "100"], ["fit", "broken-power-law", *base[2:-1]]):
        with pytest.raises(ZeroDivisionError):
            cli.main(command + ["--huber-delta", "0.25"])
    assert [kw["huber_delta"] for kw in seen] == [0.25, 0.25]


def test_delta_of_the_chinchilla_fit(runs_csv, capsys):
    path, _ = runs_csv
    base = ["fit", "chinchilla", str(path), "--N", "params", "--D", "tokens", "--loss", "loss", "--grid-stride", "50",
            "--json"]
    assert cli.main(base + ["--delta", "0.05"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["delta"] == 0.05 and out["method"] == "huber"
    assert not any("quadratic branch" in n for n in out["notes"])  # (0.05 is above the 1 % noise)
    with pytest.raises(SystemExit):
        cli.main(base + ["--delta", "0"])
    capsys.readouterr()
    # refused by argparse, naming the flag and the value, before the file is read (they were
    # "--grid-stride must be >= 1" after it, and "seed=...; must be an integer" from the fit)
    for flag, value, message in (("--grid-stride", "0", "argument --grid-stride: 0 must be >= 1"),
                                 ("--seed", "4294967296", "argument --seed: 4294967296 must be an integer in "
                                                          "[0, 4294967295]")):
        with pytest.raises(SystemExit):
            cli.main(["fit", "chinchilla", "missing.csv", "--N", "params", "--D", "tokens", "--loss", "loss",
                      flag, value])
        assert message in capsys.readouterr().err


def test_a_constant_curve_fits_without_an_offset(tmp_path, capsys):
    p = tmp_path / "flat.csv"
    p.write_text("m,loss\n8,0.7\n16,0.7\n32,0.7\n64,0.7\n")
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exponent"] == 0.0 and out["prefactor"] == pytest.approx(0.7, rel=1e-15) and out["identifiable"]
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--offset"]) == 2
    assert "not identifiable: y has one distinct value" in capsys.readouterr().err


def test_a_non_positive_count_of_an_export_with_diverged_models_points_to_them(tmp_path, capsys):
    # a diverged model's n_represented is 0: the message had said only "must be > 0"
    p = tmp_path / "runs.csv"
    p.write_text("model_id,diverged,m,n_represented\n0,0,4,3\n1,1,8,0\n2,0,16,9\n")
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "n_represented"]) == 2
    assert "if those are diverged models (whose counts are 0), add --where diverged=0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["fit"])
    err = capsys.readouterr().err  # (it had named "fit_kind")
    assert "the following arguments are required: KIND" in err and "{chinchilla,power-law,broken-power-law" in err


def test_a_damaged_manifest_is_named(tmp_path, capsys):
    # had printed only "toyscale: error: Expecting ',' delimiter: line 2 column 1 (char 30)"
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"format": "toyscale-sweep/2"\n"points": []}')
    assert cli.main(["export", str(folder), "-"]) == 2
    err = capsys.readouterr().err
    assert f"'{folder / 'manifest.json'}' cannot be read: damaged, not valid JSON (Expecting ',' delimiter: line 2" in err, err
    (folder / "manifest.json").write_bytes(b'{"format": "\xff\xfe"}')
    assert cli.main(["export", str(folder), "-"]) == 2
    assert f"'{folder / 'manifest.json'}' cannot be read: damaged, not a text file" in capsys.readouterr().err
    for text in ("[1, 2]", '{"format": "toyscale-sweep/2"}'):  # JSON, but not a manifest
        (folder / "manifest.json").write_text(text)
        assert cli.main(["export", str(folder), "-"]) == 2
        assert f"'{folder / 'manifest.json'}' cannot be read: it holds " in capsys.readouterr().err


def test_ctrl_c_is_exit_130_with_one_line(tmp_path, capsys, monkeypatch):
    # had printed a full KeyboardInterrupt traceback
    from toyscale import runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "use_compilation_cache", lambda: None)  # (process-wide set-up: not in a test)
    monkeypatch.setattr(runner, "use_cpu_devices", lambda: None)
    monkeypatch.setattr("toyscale.fitting.fit_chinchilla", interrupted)
    p = tmp_path / "runs.csv"
    p.write_text("N,D,loss\n" + "".join(f"{1e7 * 2**i},{1e9 * 3**i},{3 - 0.1 * i}\n" for i in range(8)))
    assert cli.console(["fit", "chinchilla", str(p), "--N", "N", "--D", "D", "--loss", "loss"]) == 130
    assert capsys.readouterr().err == "toyscale: interrupted\n"


def test_the_installed_command_ends_at_once_after_ctrl_c(monkeypatch):
    # JAX's shutdown after an interrupted computation occasionally segfaulted after the
    # message: after Ctrl-C the command ends without it (os._exit), other codes exit normally
    class Ended(Exception):
        pass

    def ended(code):
        raise Ended(code)

    monkeypatch.setattr(cli.os, "_exit", ended)
    console, handlers = cli.console, []
    monkeypatch.setattr(cli.signal, "signal", lambda *args: handlers.append(args))  # (not pytest's own)
    monkeypatch.setattr(cli.signal, "getsignal", lambda signum: signal.default_int_handler)
    for code in (130, 0, 2):
        monkeypatch.setattr(cli, "console", lambda code=code: code)
        with pytest.raises(Ended if code == 130 else SystemExit) as e:
            cli.entry()
        assert (e.value.args[0] if code == 130 else e.value.code) == code
    assert handlers == [(signal.SIGINT, cli._exit_on_interrupt)] * 3
    # a SIGINT the shell ignores (a background job, `toyscale fit ... &`) stays ignored
    monkeypatch.setattr(cli.signal, "getsignal", lambda signum: signal.SIG_IGN)
    with pytest.raises(SystemExit):
        cli.entry()
    assert len(handlers) == 3
    # standard output closed at the start (>&-) or not a file (a notebook's stream): no crash
    monkeypatch.setattr(cli.sys, "stdout", None)
    with pytest.raises(SystemExit) as e:
        cli.entry()
    assert e.value.code == 2
    from toyscale import runner

    def gone(argv=None):
        raise BrokenPipeError

    monkeypatch.setattr(runner, "use_compilation_cache", lambda: None)  # (process-wide set-up: not in a test)
    monkeypatch.setattr(runner, "use_cpu_devices", lambda: None)
    monkeypatch.setattr(cli.sys, "stdout", io.StringIO())
    monkeypatch.setattr(cli, "main", gone)
    assert console(["status", "x"]) == 1  # (had raised io.UnsupportedOperation: fileno)


def test_ctrl_c_of_the_command_is_never_lost():
    # Python's KeyboardInterrupt was lost when SIGINT arrived during JAX's gc callback
    # ("Exception ignored in _xla_gc_callback"; the fit then finished with status 0): the
    # command's own handler exits at once, wherever the signal lands
    code = ("import os, signal, sys, time; from toyscale import cli; print('started', flush=True); "
            "signal.signal(signal.SIGINT, cli._exit_on_interrupt); sys.stdout.write('unflushed'); "
            "os.kill(os.getpid(), signal.SIGINT); time.sleep(30); print('not reached')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (130, "started\nunflushed", "toyscale: interrupted\n")


@pytest.mark.parametrize("kind", ["frontier", "isoflop"])
def test_allocation_cli_bracketed(tmp_path, capsys, kind):
    # one N grid (1e8..1e9) under 11 budgets: the optimum lies inside it at 4 of them
    budgets = np.logspace(17, 22, 11)
    N, C = np.tile(np.logspace(8, 9, 9), 11), np.repeat(budgets, 9)
    L = CHINCHILLA_PUBLISHED.loss(N, C / (6 * N))
    path = tmp_path / "grid.csv"
    path.write_text("n,flops,loss\n" + "".join(f"{a:.17g},{c:.17g},{l:.17g}\n" for a, c, l in zip(N, C, L)))
    base = ["fit", kind, str(path), "--N", "n", "--C", "flops", "--loss", "loss", "--json"]
    assert cli.main(base) == 0
    assert json.loads(capsys.readouterr().out)["n_budgets"] == 11
    assert cli.main(base + ["--bracketed"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_budgets"] == 4 and any("dropped (bracketed=True)" in n for n in out["notes"])


@pytest.mark.parametrize("where", [[], ["--where", "gamma=-1"]])
def test_a_row_cut_short_is_named_with_or_without_where(tmp_path, capsys, where):
    # the last line of a file still being written: had been fitted with its cut value (64, 0.09 of 0.0931),
    # or, under --where, left out in silence
    p = tmp_path / "cut.csv"
    p.write_text("m,loss,gamma\n8,0.5,-1\n16,0.3,-1\n32,0.2,-1\n64,0.09")
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", *where]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"toyscale: error: {p}: line 5 has 2 fields, the header 3, so no 'gamma'; is a cell "
                          f"missing?") and "truncated" in err, err
    p.write_text("m,loss,gamma\n8,0.5,-1\n16,0.3,-1\n32,0.2,-1\n64")  # (cut before a column the fit reads)
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", *where]) == 2
    assert "line 5 has 1 field, the header 3, so no 'loss'; is a cell missing?" in capsys.readouterr().err
    # a short row that ends its line is no cut: an optional last column left off is read as before (a
    # review of the first version of this check found such files refused)
    p.write_text("m,loss,gamma,notes\n8,0.5,-1\n16,0.3,-1,outlier\n32,0.2,-1\n64,0.1,-1\ntotal,1.1\n")
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--where", "gamma=-1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_points"] == 4


def test_trailing_empty_cells_and_blank_lines_before_the_header_are_read(tmp_path, capsys):
    # each row's trailing comma had been refused as "quote a cell that contains a comma", and a blank
    # first line as "empty file or no header row"
    rows = "".join(f"{m},{2 * m ** -0.5}" + "\n" for m in (4, 8, 16, 32))
    p = tmp_path / "csv.csv"
    for text in ("m,loss\n" + rows.replace("\n", ",\n"), "m,loss\n" + rows.replace("\n", ",,\n"),
                 "\n\nm,loss\n" + rows):
        p.write_text(text)
        assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--json"]) == 0, text
        assert json.loads(capsys.readouterr().out)["exponent"] == pytest.approx(0.5, rel=1e-9)
    p.write_text("m,loss\n" + rows + "64,0.25,x\n")  # (a cell that is not empty past the header is still refused)
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss"]) == 2
    assert "line 6 has 3 fields, the header 2; quote a cell" in capsys.readouterr().err
    p.write_text("\n\n\n")
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss"]) == 2
    assert "empty file or no header row" in capsys.readouterr().err
    p.write_text("\nm,loss\n4,1\n4,x\n")  # (the line numbers still count the blank line)
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss"]) == 2
    assert "line 4, column 'loss': cannot parse 'x'" in capsys.readouterr().err


class _FullDisk(io.StringIO):
    """A standard output on a full disk: every write (or only the flush) fails with ENOSPC."""

    def __init__(self, on_write=True):
        super().__init__()
        self.on_write = on_write

    def write(self, text):
        if self.on_write:
            raise OSError(28, "No space left on device")
        return super().write(text)

    def flush(self):
        raise OSError(28, "No space left on device")


def test_a_full_disk_under_standard_output_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    # `toyscale export DIR - > /dev/full` had ended in an OSError traceback
    from toyscale import runner

    monkeypatch.setattr(runner, "use_compilation_cache", lambda: None)  # (process-wide set-up: not in a test)
    monkeypatch.setattr(runner, "use_cpu_devices", lambda: None)
    p = tmp_path / "pl.csv"
    p.write_text("x,y\n1,1\n2,0.5\n4,0.25\n")
    full = _FullDisk()
    monkeypatch.setattr(cli.sys, "stdout", full)
    assert cli.console(["fit", "power-law", str(p), "--x", "x", "--y", "y"]) == 1
    assert cli.sys.stdout is full  # (put back)
    assert capsys.readouterr().err == "toyscale: error: standard output: No space left on device\n"
    # an OSError of anything else is not taken for standard output's: it still raises
    monkeypatch.setattr(cli.sys, "stdout", io.StringIO())

    def other(argv=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "main", other)
    with pytest.raises(OSError):
        cli.console(["status", "x"])


def test_a_full_disk_met_by_the_last_flush_is_one_line_and_exit_status_1(monkeypatch, capsys):
    # (a fit's few lines stay buffered until the exit: the full disk shows at the command's last flush)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)  # (not pytest's own)
    monkeypatch.setattr(cli, "console", lambda: 0)
    monkeypatch.setattr(cli.sys, "stdout", _FullDisk(on_write=False))
    with pytest.raises(SystemExit) as e:
        cli.entry()
    assert e.value.code == 1
    assert capsys.readouterr().err == "toyscale: error: standard output: No space left on device\n"


def test_a_ctrl_c_while_standard_output_is_on_a_full_disk_still_exits_130():
    # the full-disk guard's error was no OSError, so the interrupt's own flush let it escape: exit 1,
    # and no "interrupted" line
    code = ("import io, sys\nfrom toyscale import cli\nfrom toyscale.io import exit_interrupted\n"
            "class Full(io.StringIO):\n"
            "    def write(self, t): raise OSError(28, 'No space left on device')\n"
            "    def flush(self): raise OSError(28, 'No space left on device')\n"
            "cli.main = lambda argv=None: exit_interrupted('toyscale: interrupted')\n"
            "sys.stdout = Full()\nsys.exit(cli.console(['status', 'x']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert (r.returncode, r.stderr.strip().splitlines()[-1]) == (130, "toyscale: interrupted"), r.stderr


def test_fit_reads_standard_input_as_dash_and_a_pipe_whose_last_row_has_no_line_end():
    # mutant: the seed bootstrap's message naming "-" (the reader's own say "standard input")
    # "-" had been "-: no such file"; a pipe's unseekable stream had failed the check for a cut last row
    # ("cannot be read (File or stream is not seekable.)")
    csv_text = "m,loss,note\n2,1.0,a\n4,0.5,b\n8,0.25"  # (the last row lacks an unread column and its line end)
    done = subprocess.run([sys.executable, "-m", "toyscale", "fit", "power-law", "-", "--x", "m", "--y", "loss",
                           "--json"], input=csv_text, capture_output=True, text=True,
                          env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["n_points"] == 3 and out["exponent"] == pytest.approx(1.0, rel=1e-12)
    # the seed bootstrap reads it too, and names it where a seed repeats at one x
    csv_text = "m,seed,loss\n2,a,1.0\n2,a,1.1\n4,a,0.5\n4,b,0.55\n8,a,0.25\n8,b,0.26\n"
    done = subprocess.run([sys.executable, "-m", "toyscale", "fit", "power-law", "-", "--x", "m", "--y", "loss",
                           "--mean", "--seed-bootstrap", "40", "--paired-by", "seed"], input=csv_text,
                          capture_output=True, text=True, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert done.returncode == 2 and "error: standard input: --paired-by seed: m = 2 has seed a in 2 rows" in done.stderr


def _strict_json(text):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


def _chinchilla_csv(tmp_path, n=8):
    p = tmp_path / "runs.csv"
    p.write_text("N,D,loss\n" + "".join(f"{1e7 * 2**i},{1e9 * 3**i},{3 - 0.1 * i}\n" for i in range(n)))
    return p


# mutant: --drop-top kept argsort(L)[K:] (dropped the K lowest losses); and drop_top > len(L) for >=
def test_drop_top_leaves_out_the_highest_losses_and_refuses_dropping_every_row(tmp_path, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr("toyscale.fitting.fit_chinchilla", lambda N, D, L, **kw: seen.append((N, D, L)) or 1 / 0)
    p = tmp_path / "runs.csv"
    losses = [2.0, 3.5, 1.0, 3.0, 1.5, 2.5]  # (the two highest: rows 1 and 3)
    p.write_text("N,D,loss\n" + "".join(f"{1e7 * 2**i},{1e9 * 3**i},{v}\n" for i, v in enumerate(losses)))
    with pytest.raises(ZeroDivisionError):
        cli.main(["fit", "chinchilla", str(p), "--N", "N", "--D", "D", "--loss", "loss", "--drop-top", "2"])
    N, _, L = seen[0]
    np.testing.assert_array_equal(L, [2.0, 1.0, 1.5, 2.5])  # in the file's order
    np.testing.assert_array_equal(N, [1e7 * 2**i for i in (0, 2, 4, 5)])
    assert cli.main(["fit", "chinchilla", str(p), "--N", "N", "--D", "D", "--loss", "loss", "--drop-top", "6"]) == 2
    assert "--drop-top 6: only 6 rows" in capsys.readouterr().err


class _StubChinchilla:
    """What _cmd_fit_chinchilla reads of a fit, without fitting (a NaN field, bootstrap intervals)."""

    def __init__(self, identifiable=True):
        self.identifiable, self.alpha, self.beta = identifiable, 0.3, 0.3
        self.budgets = []

    def to_dict(self):
        return {"notes": ["the fit's own note"], "sigma": float("nan"), "alpha": 0.3}

    def compute_optimal(self, C):
        C = np.asarray(C, dtype=float)
        self.budgets.append(C)
        n, d = C / 1e12, C / 6e12
        return SimpleNamespace(C=C, N_opt=n, D_opt=d, N_opt_stderr=0.1 * n, D_opt_stderr=0.1 * d,
                               N_opt_interval=(0.5 * n, 2 * n), D_opt_interval=(0.25 * d, 4 * d))


# mutants: JSON lost the command's own notes (d["notes"] = d["notes"]); D_opt_interval built from N_opt_interval;
# _jsonable wrote NaN (not strict JSON) instead of null; compute_optimal printed for a fit that is not identifiable
def test_chinchilla_json_holds_the_commands_notes_both_intervals_and_null_for_nan(tmp_path, capsys, monkeypatch):
    stub = _StubChinchilla()
    monkeypatch.setattr("toyscale.fitting.fit_chinchilla", lambda *a, **kw: stub)
    p = _chinchilla_csv(tmp_path)
    base = ["fit", "chinchilla", str(p), "--N", "N", "--D", "D", "--loss", "loss", "--grid-stride", "500"]
    assert cli.main(base + ["--drop-top", "1", "--json", "--budgets", "1e18", "1e20"]) == 0
    out = _strict_json(capsys.readouterr().out)
    assert out["notes"] == ["dropped the 1 highest-loss row(s) (--drop-top)", "the fit's own note"]
    assert out["sigma"] is None
    co = out["compute_optimal"]
    assert co["C"] == [1e18, 1e20]
    np.testing.assert_allclose(co["N_opt_interval"], [[0.5e6, 2e6], [0.5e8, 2e8]])
    np.testing.assert_allclose(co["D_opt_interval"], [[0.25e18 / 6e12, 4e18 / 6e12], [0.25e20 / 6e12, 4e20 / 6e12]])
    # a fit the data do not determine: no compute-optimal sizes from it, exit status 1
    monkeypatch.setattr("toyscale.fitting.fit_chinchilla", lambda *a, **kw: _StubChinchilla(identifiable=False))
    assert cli.main(base + ["--json"]) == 1
    assert "compute_optimal" not in _strict_json(capsys.readouterr().out)


# mutant: the JSON's t_interval left out "offset" (names = ("exponent", "prefactor") whatever --offset)
def test_power_law_json_gives_the_offsets_t_interval_with_offset(tmp_path, capsys):
    x = np.geomspace(4, 512, 10)
    y = 2 * x**-0.5 + 0.1
    p = tmp_path / "off.csv"
    p.write_text("m,loss\n" + "".join(f"{a:.17g},{b:.17g}\n" for a, b in zip(x, y)))
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--offset", "--json"]) in (0, 1)
    out = _strict_json(capsys.readouterr().out)
    assert set(out["t_interval"]) == {"exponent", "prefactor", "offset"}


# mutant: the --cut JSON's extrapolation left out rmse_log (one of its keys dropped)
def test_power_law_cut_json_holds_every_extrapolation_measure(tmp_path, capsys):
    x = np.geomspace(4, 512, 10)
    p = tmp_path / "pl.csv"
    p.write_text("m,loss\n" + "".join(f"{a:.17g},{b:.17g}\n" for a, b in zip(x, 2 * x**-0.5 + 0.1)))
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--cut", "100", "--json"]) == 0
    ex = _strict_json(capsys.readouterr().out)["extrapolation"]
    assert set(ex) == {"cut", "n_train", "n_test", "mean_rel_error", "max_rel_error", "mean_log_error",
                       "max_log_error", "rmse_log"}
    assert ex["rmse_log"] > 0


# mutants: int_in's bounds exclusive (v <= low, v >= high); _positive_float taking inf; _where taking "=VALUE"
def test_option_bounds_are_inclusive_and_inf_and_an_empty_column_are_refused(capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["fit", "chinchilla", "f.csv", "--N", "n", "--D", "d", "--loss", "l", "--grid-stride", "1",
                              "--seed", str(2**32 - 1), "--bootstrap", "0", "--drop-top", "0"])
    assert (args.grid_stride, args.seed, args.bootstrap, args.drop_top) == (1, 2**32 - 1, 0, 0)
    for extra in (["--budgets", "inf"], ["--delta", "inf"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["fit", "chinchilla", "f.csv", "--N", "n", "--D", "d", "--loss", "l", *extra])
        assert "inf must be a finite number > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["fit", "power-law", "f.csv", "--x", "x", "--y", "y", "--where", "=1"])
    assert "'=1': expected COLUMN=VALUE" in capsys.readouterr().err


# mutant: the advice to add --where diverged=0 given even when --where already filters on diverged
def test_a_nan_among_rows_kept_by_a_diverged_filter_gets_the_general_advice(tmp_path, capsys):
    p = tmp_path / "div.csv"
    p.write_text("model_id,diverged,m,test_loss\n0,0,8,0.5\n1,0,16,nan\n2,0,32,0.3\n3,1,64,nan\n")
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "test_loss", "--where", "diverged=0"]) == 2
    err = capsys.readouterr().err
    assert "(first on line 3: nan)" in err and "leave those rows out" in err and "add --where diverged=0" not in err


# mutant: _ends_a_line knew only "\n" (a file with old-Mac "\r" line ends had its short last row taken for a cut one)
def test_a_short_last_row_ended_by_a_carriage_return_is_no_cut(tmp_path, capsys):
    p = tmp_path / "cr.csv"
    p.write_bytes(b"m,loss,note\r2,1.0,a\r4,0.5,b\r8,0.25\r")
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--json"]) == 0
    assert _strict_json(capsys.readouterr().out)["n_points"] == 3


# mutant: _listing's values capped at 5 when read (len(values[k]) <= 5) / its " ..." after 20 values dropped
def test_fit_where_lists_up_to_20_of_a_columns_values_then_dots(tmp_path, capsys):
    p = tmp_path / "many.csv"
    p.write_text("m,loss\n" + "".join(f"{m},{1 / m}\n" for m in range(1, 26)))
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--where", "m=99"]) == 2
    err = capsys.readouterr().err
    assert "m is one of " + ", ".join(map(str, range(1, 21))) + " ..." in err, err


# mutant: main() caught CliError and ValueError only: a library's TypeError (a bad argument type) became a traceback
def test_a_type_error_from_the_library_is_a_usage_error_not_a_traceback(tmp_path, capsys, monkeypatch):
    from toyscale._checks import check_int

    monkeypatch.setattr("toyscale.fitting.fit_power_law", lambda *args, **kwargs: check_int("x", [1]))
    p = tmp_path / "pl.csv"
    p.write_text("x,y\n1,1\n2,0.5\n4,0.25\n")
    assert cli.main(["fit", "power-law", str(p), "--x", "x", "--y", "y"]) == 2
    assert capsys.readouterr().err == "toyscale: error: x=[1]; x must be an integer\n"


# mutant: main() took every ValueError and TypeError for a usage error: a bug's (a wrong call in toyscale, a
# failure inside numpy) was one line, "toyscale: error: ...", with nothing to say where it came from
@pytest.mark.parametrize("broken", ["call", "numpy"])
def test_a_bugs_type_or_value_error_keeps_its_traceback(tmp_path, capsys, monkeypatch, broken):
    if broken == "call":  # the command calls chinchilla_grid(thin=...): now a TypeError on cli.py's own line
        monkeypatch.setattr("toyscale.fitting.chinchilla_grid", lambda: None)
        error = TypeError
    else:  # a ValueError from inside numpy, under toyscale's own code
        monkeypatch.setattr("toyscale.fitting.chinchilla_grid",
                            lambda thin, loss_scale: np.reshape(np.arange(5), (2, 2)))
        error = ValueError
    p = tmp_path / "ch.csv"
    p.write_text("N,D,loss\n1,1,1\n2,2,0.5\n4,4,0.25\n")
    with pytest.raises(error) as info:
        cli.main(["fit", "chinchilla", str(p), "--N", "N", "--D", "D", "--loss", "loss"])
    assert capsys.readouterr().err == ""
    assert any(f.filename.endswith("cli.py") for f in traceback.extract_tb(info.value.__traceback__))


# mutants: the redrawn seeds' fit not reached (or its widen/paired dropped); a seed column held to > 0; a flag the
# seed bootstrap cannot take accepted
def test_power_law_seed_bootstrap_gives_width_exponents_intervals_over_redrawn_seeds(tmp_path, capsys):
    from toyscale.scaling import WidthCurve, width_exponent

    rng = np.random.default_rng(5)
    widths, seeds = np.array([8.0, 16, 32, 64]), np.arange(3)
    level = 0.1 * rng.standard_normal(seeds.size)  # a seed's own level at every width, as shared draws give
    loss = {(m, s): 2 * m**-0.7 * np.exp(level[s] + 0.04 * rng.standard_normal()) for m in widths for s in seeds}
    rows = [(m, s, loss[m, s]) for s in seeds for m in widths]  # (rows by seed, as an export lists its models)
    p = tmp_path / "runs.csv"
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},{s},{v:.17g}\n" for m, s, v in rows))
    curve = WidthCurve.from_values(widths, [[loss[m, s] for s in seeds] for m in widths],
                                   seeds=[seeds.astype(float)] * widths.size)
    base = ["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--mean", "--seed-bootstrap", "200", "--json"]
    for extra, options in (([], {}), (["--widen", "t"], {"widen": "t"}), (["--paired-by", "seed"], {"paired": True}),
                           (["--paired-by", "seed", "--widen", "t", "--seed", "3"],
                            {"paired": True, "widen": "t", "seed": 3})):
        assert cli.main([*base, *extra]) == 0, extra
        out = json.loads(capsys.readouterr().out)
        want = width_exponent(curve, seed_bootstrap=200, **options)
        assert out["resampled"] == "seeds" and out["n_runs"] == [3, 3, 3, 3], extra
        assert out["exponent"] == pytest.approx(want.exponent, rel=1e-12)
        assert out["intervals"]["exponent"] == pytest.approx(list(want.intervals["exponent"]), rel=1e-12), extra
        assert out["t_interval"]["exponent"] == pytest.approx(list(want.t_interval()), rel=1e-12)
    # the shared levels cancel when the seeds are redrawn together; t widens about the same fit
    (lo, hi), (plo, phi) = (width_exponent(curve, seed_bootstrap=200, paired=q).intervals["exponent"]
                            for q in (False, True))
    assert phi - plo < 0.5 * (hi - lo)
    assert cli.main(base[:-1]) == 0 and "intervals resample each width's seeds (3 per width" in capsys.readouterr().out
    # seeds are labels, compared as written: letters pair as the numbers did
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},s{s},{v:.17g}\n" for m, s, v in rows))
    assert cli.main([*base, "--paired-by", "seed"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["intervals"]["exponent"] == pytest.approx([plo, phi], rel=1e-12)
    refused = [(["--widen", "t"], "--widen t without a seed bootstrap"),
               (["--widen", "t", "--seed-bootstrap", "0"], "--widen t without a seed bootstrap"),
               (["--paired-by", "seed"], "--paired-by seed without a seed bootstrap"),
               (["--seed-bootstrap", "200", "--mean", "--paired-by", "seed", "--where", "seed=s1"],
                "--paired-by seed is also a --where column"),
               (["--seed-bootstrap", "39", "--mean"], "--seed-bootstrap 39: a 95% percentile interval needs at least"),
               (["--seed-bootstrap", "200"], "--seed-bootstrap without --mean"),
               (["--seed-bootstrap", "200", "--mean", "--offset"], "--seed-bootstrap with --offset"),
               (["--seed-bootstrap", "200", "--mean", "--bootstrap", "100"], "--seed-bootstrap with --bootstrap"),
               (["--seed-bootstrap", "200", "--mean", "--cut", "20"], "--seed-bootstrap with --cut"),
               (["--seed-bootstrap", "200", "--mean", "--loss-fn", "huber"], "--seed-bootstrap with --loss-fn huber"),
               (["--seed-bootstrap", "200", "--mean", "--paired-by", "m"], "--paired-by m is also --x or --y"),
               (["--seed-bootstrap", "200", "--mean", "--paired-by", "seeds"], "unknown column(s) 'seeds'")]
    for extra, message in refused:
        assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    # the seed column may hold 0 (above); the fitted ones must still be > 0
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},{s},{0.0 if (m, s) == (16, 2) else v:.17g}\n" for m, s, v in rows))
    assert cli.main([*base, "--paired-by", "seed"]) == 2
    assert "column 'loss' has 1 non-positive value(s) (first on line 11: 0)" in capsys.readouterr().err
    # a width left with one run (its others diverged and filtered out): the fit, no interval, and why
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},{s},{v:.17g}\n" for m, s, v in rows if m != 64 or s == 0))
    assert cli.main(base) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["intervals"]["exponent"] == [None, None] and out["n_runs"] == [3, 3, 3, 1]
    assert any("m = 64 has one model" in note for note in out["notes"]), out["notes"]
    # a ValueError from inside numpy is a bug's: its traceback, not "error: <file>: ..." and exit 2
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},{s},{v:.17g}\n" for m, s, v in rows))
    import toyscale.scaling
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(toyscale.scaling, "width_exponent", lambda *a, **k: np.linalg.cholesky(-np.eye(2)))
        with pytest.raises(np.linalg.LinAlgError):
            cli.main(base)
    # a seed twice at one width (two sweeps' exports pooled): the data's fault, named, paired; unpaired too in an
    # export (its header starts model_id, diverged), while a CSV of one's own keeps its rows at one x as its runs
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},{min(s, 1)},{v:.17g}\n" for m, s, v in rows))
    assert cli.main([*base, "--paired-by", "seed"]) == 2
    assert "runs.csv: --paired-by seed: m = 8 has seed 1 in 2 rows, so the rows mix 2 curves (the same seed " \
        "repeated)" in (err := capsys.readouterr().err), err
    assert "no column but the outputs tells those rows apart (two sweeps' rows pooled" in err
    assert cli.main([*base]) == 0
    capsys.readouterr()
    p.write_text("model_id,diverged,m,seed,loss\n" + "".join(f"{i},0,{m:g},{min(s, 1)},{v:.17g}\n"
                                                             for i, (m, s, v) in enumerate(rows)))
    assert cli.main([*base]) == 2
    assert "runs.csv: m = 8 has seed 1 in 2 rows, so the rows mix 2 curves" in capsys.readouterr().err


# mutants: the range not applied (or only one end); a row outside it still checked; the crossed ends accepted
def test_x_min_and_x_max_fit_the_rows_in_range_and_leave_the_others_unread(tmp_path, capsys):
    from toyscale.fitting import fit_power_law
    from toyscale.scaling import WidthCurve, width_exponent

    rng = np.random.default_rng(7)
    widths = np.array([4.0, 8, 16, 32, 64, 128])
    loss = 2 * widths[:, None] ** -0.6 * (1 + 4 / widths[:, None]) * np.exp(0.03 * rng.standard_normal((6, 3)))
    rows = [(m, s, loss[i, s]) for i, m in enumerate(widths) for s in range(3)]
    p = tmp_path / "runs.csv"
    # a diverged model at m = 128, outside the range: neither read nor refused
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},{s},{'nan' if (m, s) == (128, 1) else f'{v:.17g}'}\n"
                                           for m, s, v in rows))
    base = ["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--json"]
    assert cli.main([*base, "--x-min", "8", "--x-max", "64"]) == 0
    out = json.loads(capsys.readouterr().out)
    inside = (widths >= 8) & (widths <= 64)
    want = fit_power_law(np.repeat(widths[inside], 3), loss[inside].ravel())
    assert out["n_points"] == 12 and out["x_range"] == [8.0, 64.0]
    assert out["exponent"] == pytest.approx(want.exponent, rel=1e-10)
    assert cli.main([*base, "--mean", "--x-max", "64"]) == 0  # one end: the other unbounded
    out = json.loads(capsys.readouterr().out)
    want = fit_power_law(widths[:5], loss[:5].mean(axis=1))
    assert out["n_points"] == 5 and out["exponent"] == pytest.approx(want.exponent, rel=1e-10)
    # the seed bootstrap fits the same widths as width_exponent's fit_range does
    assert cli.main([*base, "--mean", "--x-min", "8", "--x-max", "64", "--seed-bootstrap", "100"]) == 0
    out = json.loads(capsys.readouterr().out)
    curve = WidthCurve.from_values(widths, list(loss))
    want = width_exponent(curve, fit_range=(8, 64), seed_bootstrap=100)
    assert out["n_runs"] == [3, 3, 3, 3] and out["exponent"] == pytest.approx(want.exponent, rel=1e-12)
    assert out["intervals"]["exponent"] == pytest.approx(list(want.intervals["exponent"]), rel=1e-12)
    assert cli.main([*base, "--x-min", "4"]) == 2  # the NaN inside the range is still refused
    assert "column 'loss' has 1 non-finite value(s) (first on line 18: nan)" in capsys.readouterr().err
    for extra, message in ((["--x-min", "64", "--x-max", "16"], "--x-min 64 is above --x-max 16"),
                           (["--x-min", "200"], "none of the 18 rows has m in [200, inf]; their m runs from 4 to 128"),
                           (["--x-max", "3", "--where", "seed=2"],
                            "none of the 6 rows that --where keeps has m in [-inf, 3]; their m runs from 4 to 128")):
        assert cli.main([*base, *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    # a NaN x is not outside the range: refused as without one; an empty cell or a short row outside it is not read
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},{s},{v:.17g}\n" for m, s, v in rows) + "nan,0,0.5\n")
    assert cli.main([*base, "--x-max", "1000"]) == 2
    assert "column 'm' has 1 non-finite value(s) (first on line 20: nan)" in capsys.readouterr().err
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},{s},{v:.17g}\n" for m, s, v in rows if m < 128) + "128,0,\n256\n")
    assert cli.main([*base, "--x-max", "64"]) == 0 and json.loads(capsys.readouterr().out)["n_points"] == 15
    with pytest.raises(SystemExit):
        cli.main([*base, "--x-min", "0"])
    assert "argument --x-min: 0.0 must be a finite number > 0" in capsys.readouterr().err


# mutants: the test left out or always unpaired; its fit not the means' line (every row's, or another range);
# an untestable file printing a fit; a flag it cannot take accepted; --paired-by refused with it
def test_lack_of_fit_tests_the_means_line_against_each_xs_rows(tmp_path, capsys):
    from toyscale.scaling import WidthCurve, lack_of_fit, width_exponent

    rng = np.random.default_rng(11)
    widths, seeds = np.array([4.0, 8, 16, 32, 64, 128]), np.arange(3)
    level = 0.05 * rng.standard_normal(seeds.size)  # shared draws: a seed's level at every width
    bent = 2 * widths[:, None] ** -0.6 * (1 + 8 / widths[:, None]) ** 0.5  # a curve that flattens at small m
    loss = bent * np.exp(level[None] + 0.02 * rng.standard_normal((6, 3)))
    p = tmp_path / "runs.csv"
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},s{s},{loss[i, s]:.17g}\n" for i, m in enumerate(widths)
                                           for s in seeds))
    base = ["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--mean", "--lack-of-fit", "--json"]
    curve = WidthCurve.from_values(widths, list(loss), seeds=[np.array(["s0", "s1", "s2"])] * 6)
    for extra, options, fit_range in (([], {}, None), (["--paired-by", "seed"], {"paired": True}, None),
                                      (["--x-min", "16"], {}, (16, None)),
                                      (["--seed-bootstrap", "100", "--paired-by", "seed"], {"paired": True}, None)):
        assert cli.main([*base, *extra]) == 0, extra
        out = json.loads(capsys.readouterr().out)
        want = lack_of_fit(curve, width_exponent(curve, fit_range=fit_range), **options)
        assert out["lack_of_fit"]["ratio"] == pytest.approx(want.ratio, rel=1e-9), extra
        assert out["lack_of_fit"]["p_value"] == pytest.approx(want.p_value, rel=1e-9), extra
        assert out["lack_of_fit"]["dof"] == pytest.approx(list(want.dof), rel=1e-9), extra
        assert out["lack_of_fit"]["n_widths"] == (4 if fit_range else 6), extra
    # the bend shows once the seeds' shared levels are set aside, and not over the straighter widths alone
    paired_p = lack_of_fit(curve, width_exponent(curve), paired=True).p_value
    assert paired_p < 0.05 < lack_of_fit(curve, width_exponent(curve, fit_range=(16, None)), paired=True).p_value
    assert cli.main(base[:-1]) == 0
    assert "lack of fit: the means' squared residuals about the line are 6.53x" in capsys.readouterr().out
    p.write_text("m,seed,loss\n" + "".join(f"{m:g},s0,{loss[i, 0]:.17g}\n" for i, m in enumerate(widths)))
    refused = [([], "--lack-of-fit: lack_of_fit compares the means with their seed noise, so every width needs two"),
               (["--offset"], "--lack-of-fit with --offset"), (["--loss-fn", "huber"], "--lack-of-fit with --loss-fn"),
               (["--cut", "20"], "--lack-of-fit with --cut")]
    for extra, message in refused:
        assert cli.main([*base, *extra]) == 2, extra
        err = capsys.readouterr()
        assert message in err.err and not err.out, extra
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--lack-of-fit"]) == 2
    assert "--lack-of-fit without --mean" in capsys.readouterr().err
    # messages in the command's terms: its --x, its --paired-by
    p.write_text("N,seed,loss\n" + "".join(f"{m:g},s{s},{loss[i, s]:.17g}\n" for i, m in enumerate(widths)
                                           for s in seeds if (i, s) != (5, 2)))
    assert cli.main(["fit", "power-law", str(p), "--x", "N", "--y", "loss", "--mean", "--lack-of-fit",
                     "--paired-by", "seed"]) == 2
    assert ("--lack-of-fit --paired-by seed: paired=True needs the same seeds at every size of the fit; N = 4 and 128 "
            "hold different ones") in capsys.readouterr().err
    assert cli.main(["fit", "power-law", str(p), "--x", "N", "--y", "loss", "--mean", "--lack-of-fit",
                     "--where", "seed=s0"]) == 2
    assert "--lack-of-fit: lack_of_fit compares the means with their seed noise, so every size needs two or more " \
        "models; N = 4, 8, 16, 32, 64, 128 has one" in capsys.readouterr().err
    assert cli.main(["fit", "power-law", str(p), "--x", "N", "--y", "loss", "--mean", "--lack-of-fit"]) == 0
    assert "p = " in (text := capsys.readouterr().out) and text.rstrip().endswith(", 6 sizes)"), text
    assert cli.main(["fit", "power-law", str(p), "--x", "N", "--y", "loss", "--mean", "--lack-of-fit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lack_of_fit"]["axis"] == "N"


# mutants: the groups unsorted (or by text: "10" before "9"); a group's rows mixed with another's; a group the fit
# refuses ending the command (or exiting 0); the groups' lack-of-fit tests not Holm-adjusted; --by x accepted
def test_by_fits_each_curve_of_an_export_in_one_command(tmp_path, capsys):
    from toyscale.scaling import holm_adjusted

    rng = np.random.default_rng(13)
    widths, curves = np.array([4.0, 8, 16, 32]), [("9", "a", 0.5), ("10", "a", 0.7), ("10", "", 0.9), ("9", "b", 1.1)]
    rows = [(m, s, g, kind, 2 * m**-a * np.exp(0.05 * rng.standard_normal())) for g, kind, a in curves
            for m in widths for s in range(3)]
    p = tmp_path / "all.csv"
    p.write_text("m,seed,g,kind,loss\n" + "".join(f"{m:g},{s},{g},{k},{v:.17g}\n" for m, s, g, k, v in rows))
    base = ["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--mean", "--by", "g", "--by", "kind"]
    assert cli.main([*base, "--lack-of-fit", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    # numbers by value (9 before 10), then text, empty last; each group's fit that of its rows alone
    assert [tuple(gr["by"].values()) for gr in groups] == [("9", "a"), ("9", "b"), ("10", "a"), ("10", "")]
    for gr in groups:
        where = ["--where", f"g={gr['by']['g']}", "--where", f"kind={gr['by']['kind']}"]
        assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--mean", "--lack-of-fit", "--json",
                         *where]) == 0
        alone = json.loads(capsys.readouterr().out)
        assert gr["rows"] == 12 and gr["exponent"] == pytest.approx(alone["exponent"], rel=1e-12)
        assert gr["lack_of_fit"]["p_value"] == pytest.approx(alone["lack_of_fit"]["p_value"], rel=1e-12)
    holm = holm_adjusted([gr["lack_of_fit"]["p_value"] for gr in groups])
    assert [gr["lack_of_fit"]["p_holm"] for gr in groups] == pytest.approx(holm.tolist(), rel=1e-12)
    assert cli.main([*base, "--lack-of-fit"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== g=9, kind=a (12 rows)\nPowerLawFit") and "== g=10, kind=(empty) (12 rows)" in out
    assert f"lack of fit, Holm-adjusted over the 4 groups tested: p < 0.05 in {int((holm < 0.05).sum())}" in out
    # a group the fit refuses (one width left in range) is printed as not fitted; the others still are; exit 2
    p.write_text("m,seed,g,kind,loss\n" + "".join(f"{m:g},{s},{g},{k},{v:.17g}\n" for m, s, g, k, v in rows
                                                  if m < 32 or g == "9"))
    assert cli.main([*base, "--x-min", "16"]) == 2
    out = capsys.readouterr()
    assert "== g=10, kind=a (3 rows): not fitted: a power law has 2 parameters but only 1 point(s)" in out.out
    assert out.out.count("PowerLawFit") == 2 and "2 of 4 groups not fitted (see their lines); exit status 2" in out.err
    assert cli.main(["fit", "broken-power-law", str(p), "--x", "m", "--y", "loss", "--by", "kind", "--by", "g",
                     "--json"]) in (0, 1)
    assert [tuple(gr["by"].values()) for gr in json.loads(capsys.readouterr().out)["groups"]] == [
        ("a", "9"), ("a", "10"), ("b", "9"), ("", "10")]
    # cells grouped as --where matches them: numbers by value, text as written; a group left with no row in range is
    # not fitted (and counted), not dropped; a stable order: numbers, NaN, text, empty
    spelled = {"1": "1", "1.0": "1", "1e0": "1", "nan": "nan", " a": " a", "a": "a", "2": "2", "": ""}
    p.write_text("m,g,loss\n" + "".join(f"{m:g},{g},{2 * m**-0.5 * (1 + 0.01 * i):.17g}\n" for i, g in
                                         enumerate(spelled) for m in (widths if g != "2" else widths[:2])))
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--by", "g", "--x-min", "16"]) == 2
    out = capsys.readouterr()
    heads = [line for line in out.out.splitlines() if line.startswith("== ")]
    assert [h.split(" (")[0] for h in heads] == ["== g=1", "== g=2", "== g=nan", "== g= a", "== g=a",
                                                 "== g=(empty)"], heads
    assert heads[0] == "== g=1 (6 rows)" and heads[1] == "== g=2 (0 rows): not fitted: none of its 2 rows has m in " \
        "[16, inf]", heads
    assert "1 of 6 groups not fitted" in out.err
    for extra, message in ((["--by", "m"], "--by m is also --x, --y or --paired-by"),
                           (["--by", "g", "--by", "g"], "--by g given twice"),
                           (["--by", "gg"], "unknown column(s) 'gg'")):
        assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    # a cell written "(empty)" heads its group as an empty cell's does: each still tested and Holm-adjusted
    cell = {("9", "a"): "(empty)", ("10", "a"): "", ("10", ""): "(empty) (group 3)"}
    p.write_text("m,seed,g,loss\n" + "".join(f"{m:g},{s},{cell[g, k]},{v:.17g}\n" for m, s, g, k, v in rows
                                             if (g, k) in cell))
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--mean", "--by", "g", "--lack-of-fit",
                     "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert [gr["by"]["g"] for gr in groups] == ["(empty)", "(empty) (group 3)", ""]
    holm = holm_adjusted([gr["lack_of_fit"]["p_value"] for gr in groups])
    assert [gr["lack_of_fit"]["p_holm"] for gr in groups] == pytest.approx(holm.tolist(), rel=1e-12)
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--mean", "--by", "g",
                     "--lack-of-fit"]) == 0
    out = capsys.readouterr().out
    labels = ["g=(empty)", "g=(empty) (group 3)", 'g=""']
    least = labels[int(np.argmin([gr["lack_of_fit"]["p_value"] for gr in groups]))]
    assert f"Holm-adjusted over the 3 groups tested: p < 0.05 in {int((holm < 0.05).sum())} (smallest " \
        f"{holm.min():.3g}, {least})" in out, out


def test_chinchilla_with_sizes_whose_product_overflows_still_prints_its_fit(tmp_path, capsys):
    # N and D near 1e150: 6 N D overflows. The default budgets had been computed first and refused, the fit lost;
    # a flat loss gives a fit that is not identifiable, printed with exit status 1, and no allocation
    rng = np.random.default_rng(0)
    p = tmp_path / "big.csv"
    p.write_text("N,D,loss\n" + "".join(f"{n:g},{d:g},{1.7 * (1 + 0.001 * rng.standard_normal()):.7g}\n"
                                         for n in (1e150, 1e152, 1e154, 1e156) for d in (1e150, 1e152, 1e154, 1e156)))
    assert cli.main(["fit", "chinchilla", str(p), "--N", "N", "--D", "D", "--loss", "loss"]) == 1
    out = capsys.readouterr()
    assert "NOT IDENTIFIABLE" in out.out and "overflows" not in out.out + out.err and "N_opt" not in out.out


# mutant: the command's thinned grid not shifted to the losses' unit (or its note left out)
def test_chinchilla_of_losses_far_from_order_one_shifts_its_grid(runs_csv, tmp_path, monkeypatch, capsys):
    seen = []

    def fit(*args, starts, **kwargs):
        seen.append(starts)
        return fit_chinchilla(*args, starts=starts, **kwargs)

    monkeypatch.setattr("toyscale.fitting.fit_chinchilla", fit)
    path, (N, D, L) = runs_csv
    scaled = tmp_path / "scaled.csv"
    scaled.write_text("params,tokens,loss\n" + "".join(f"{a:.17g},{b:.17g},{c * 1e-5:.17g}\n"
                                                      for a, b, c in zip(N, D, L)))
    notes = []
    for p in (path, scaled):
        assert cli.main(["fit", "chinchilla", str(p), "--N", "params", "--D", "tokens", "--loss", "loss",
                         "--grid-stride", "25", "--json"]) == 0
        notes.append(json.loads(capsys.readouterr().out)["notes"])
    np.testing.assert_array_equal(seen[0], chinchilla_grid(thin=25))  # (order-1 losses: the published grid)
    np.testing.assert_allclose(seen[1], chinchilla_grid(thin=25, loss_scale=1e-5 * np.median(L)), rtol=1e-12)
    assert any("starts were shifted by log" in n for n in notes[1]) and not any("shifted" in n for n in notes[0])


def _export_of_four_curves(path, seed=True, lr=True):
    """An export's columns (model_id, diverged, the point's fields, then its outputs sorted) of 2 gamma x 2 frequency
    kinds x 2 seeds at 4 widths; lr, a field after the seed, set by gamma (without ``lr``, neither it nor the output
    empty_loss: the fields from gamma on sort into test_loss); without ``seed``, no seed column."""
    rng = np.random.default_rng(17)
    fields = ["frequencies.kind", "frequencies.alpha", "gamma", "m", *(["seed"] if seed else []),
              *(["lr"] if lr else [])]
    lines = [",".join(["model_id", "diverged", *fields, *(["empty_loss"] if lr else []), "test_loss"])]
    for gamma, kind, a in ((-1, "power_law", 0.5), (-1, "linear", 0.7), (0.1, "power_law", 0.9), (0.1, "linear", 1.1)):
        for m in (4, 8, 16, 32):
            for s in range(2):
                alpha = "1.2" if kind == "power_law" else ""
                loss = 2 * m**-a * np.exp(0.03 * rng.standard_normal())
                lines.append(",".join(map(str, [len(lines) - 1, 0, kind, alpha, gamma, m, *([s] if seed else []),
                                                *([0.1 if gamma < 0 else 0.2, 3 * loss] if lr else []), loss])))
    path.write_text("\n".join(lines) + "\n")


# mutants: the rows of several curves pooled as one's seeds (no check, or only with --mean or without --by); the
# refusal naming the outputs or the seed among the columns that vary; a legitimate file (one curve per --by group or
# --where, or no seed column) refused
def test_rows_that_repeat_a_seed_at_one_x_are_several_curves_and_refused_not_pooled(tmp_path, capsys):
    p = tmp_path / "all.csv"
    _export_of_four_curves(p)
    base = ["fit", "power-law", str(p), "--x", "m", "--y", "test_loss"]
    said = (f"{p}: m = 4 has seed 0 in 4 rows, so the rows mix 4 curves (the same seed repeated), which the fit would "
            f"pool as if they were one curve's seeds; those rows vary in frequencies.kind, frequencies.alpha, gamma, "
            f"lr: fit one curve at a time, with --by COLUMN")
    for command in ([*base, "--mean", "--seed-bootstrap", "100"], [*base, "--mean", "--lack-of-fit"], base,
                    ["fit", "broken-power-law", *base[2:], "--mean"]):
        assert cli.main(command) == 2, command
        out = capsys.readouterr()
        assert said in out.err and "or --where COLUMN=VALUE" in out.err and not out.out, (command, out.err)
    # a --by that leaves curves together: refused before any group is fitted, naming the group
    assert cli.main([*base, "--mean", "--by", "gamma"]) == 2
    out = capsys.readouterr()
    assert f"{p}: --by gamma=-1: m = 4 has seed 0 in 2 rows, so the rows mix 2 curves" in out.err, out.err
    assert "those rows vary in frequencies.kind, frequencies.alpha: fit one" in out.err and not out.out
    # one curve per group, or per --where: fitted, each with its 2 seeds per width
    assert cli.main([*base, "--mean", "--seed-bootstrap", "100", "--by", "gamma", "--by", "frequencies.kind",
                     "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert len(groups) == 4 and all(gr["n_runs"] == [2, 2, 2, 2] for gr in groups)
    assert cli.main([*base, "--mean", "--lack-of-fit", "--paired-by", "seed", "--where", "gamma=0.1", "--where",
                     "frequencies.kind=linear", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exponent"] == pytest.approx(1.1, abs=0.2)
    # the seed is a field, so the columns before it are too, though they sort on into the outputs: gamma, m, seed,
    # test_loss
    _export_of_four_curves(p, lr=False)
    assert cli.main(base) == 2
    assert "those rows vary in frequencies.kind, frequencies.alpha, gamma: fit" in capsys.readouterr().err
    # a plain CSV without a seed column: its rows at one x are taken as its seeds, as before
    _export_of_four_curves(p, seed=False)
    assert cli.main([*base, "--mean", "--json"]) == 0 and json.loads(capsys.readouterr().out)["n_points"] == 4
    # a seed column left blank (rows of means, say) repeats nothing: an unknown seed is not seed "" or "None"
    blank = tmp_path / "blank.csv"
    blank.write_text("model_id,diverged,m,test_loss,seed\n" + "".join(
        f"{i},0,{m},{m ** -1.0 * (1 + 0.01 * k)},\n" for i, (m, k) in enumerate((m, k) for m in (4, 8, 16, 32)
                                                                                   for k in range(2))))
    assert cli.main(["fit", "power-law", str(blank), "--x", "m", "--y", "test_loss", "--mean", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_points"] == 4
    # a CSV of one's own (not an export's header) whose "seed" column is not the replicate: fitted as before
    own = tmp_path / "own.csv"
    own.write_text("N,loss,seed,run\n" + "".join(f"{n},{n ** -0.5 * (1 + 0.01 * r)},0,{r}\n" for n in (8, 16, 32, 64)
                                                   for r in range(4)))
    assert cli.main(["fit", "power-law", str(own), "--x", "N", "--y", "loss", "--mean", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exponent"] == pytest.approx(0.5, abs=1e-6)
    # curves told apart only by a field that sorts after the seed (steps): named, not "no column but the outputs"
    steps = tmp_path / "steps.csv"
    steps.write_text("model_id,diverged,N,seed,steps,test_loss\n" + "".join(
        f"{i},0,{n},0,{st},{n ** -0.5 * st / 100}\n" for i, (n, st) in enumerate((n, st) for n in (8, 16, 32)
                                                                                 for st in (100, 200))))
    assert cli.main(["fit", "power-law", str(steps), "--x", "N", "--y", "test_loss", "--mean"]) == 2
    assert "no point field before the outputs tells those rows apart, but they vary in steps" in \
        capsys.readouterr().err


# mutant: the hint left out (load_sweep's "folder=... has no manifest.json" for an experiment's --out)
@pytest.mark.parametrize("command", [["status"], ["export", "-"]])
def test_status_and_export_of_an_experiments_out_folder_name_its_sweep_folder(tmp_path, capsys, command):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "manifest.json").write_text("{}")
    argv = [command[0], str(tmp_path), *command[1:]]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: no manifest.json, so no sweep; {tmp_path / 'sweep'} is a sweep folder" in err, err
    assert f"give {tmp_path / 'sweep'}" in err and "folder=" not in err
    (tmp_path / "sweep" / "manifest.json").unlink()  # (no sweep below either: load_sweep's own message)
    assert cli.main(argv) == 2 and "is a sweep folder" not in capsys.readouterr().err


# mutants: the fit's own messages passed on (cut=8, x spans, rescale x of a y far from 1)
def test_cut_and_a_prefactor_beyond_float64_are_told_in_the_commands_terms(tmp_path, capsys):
    p = tmp_path / "pl.csv"
    p.write_text("m,loss\n4,1\n8,0.6\n16,0.4\n")
    assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss", "--cut", "8"]) == 2
    err = capsys.readouterr().err
    assert "--cut 8 leaves 2 point(s) with m <= 8 and 1 above; a power law needs at least 3 below and 1 above (m " \
        "ranges over [4, 16])" in err and "cut=" not in err, err
    for rows, axis, other in (("4,1e-320\n8,1e-321\n16,1e-322\n", "loss (divide it by a typical value)", "m"),
                              ("4,1e300\n8,1e200\n16,1e100\n", "loss (divide it by a typical value)", "m"),
                              ("1e100,1\n1e101,1e-4\n1e102,1e-8\n", "m (divide it by a typical size)", "loss")):
        p.write_text("m,loss\n" + rows)
        assert cli.main(["fit", "power-law", str(p), "--x", "m", "--y", "loss"]) == 2
        err = capsys.readouterr().err
        assert "is beyond float64 (1e-308 to 1.8e308): m spans [" in err and f"rescale {axis}, fit again" in err, err
        assert f"rescale {other}" not in err and "x spans" not in err, err


# mutants: no note, or one for a budget within a decade of the data, or the decades counted from the wrong end
def test_chinchilla_notes_a_budget_more_than_a_decade_outside_the_fitted_rows(runs_csv, capsys):
    path, (N, D, _) = runs_csv
    C = 6 * N * D
    lo, hi = C.min(), C.max()
    budgets = [1e300, 5 * hi, np.sqrt(lo * hi), lo / 5, lo / 1e3]
    assert cli.main(["fit", "chinchilla", str(path), "--N", "params", "--D", "tokens", "--loss", "loss",
                     "--grid-stride", "50", "--json", "--budgets", *(repr(float(b)) for b in budgets)]) == 0
    out = json.loads(capsys.readouterr().out)
    notes = [n for n in out["notes"] if n.startswith("budget C = ")]
    assert notes == [f"budget C = 1e+300 is {np.log10(1e300 / hi):.1f} decades above the largest C = 6ND of the "
                     f"fitted rows ({hi:g}; they span {lo:g} to {hi:g}): its N_opt and D_opt extrapolate the fit "
                     f"that far", f"budget C = {lo / 1e3:g} is 3.0 decades below the smallest C = 6ND of the fitted "
                     f"rows ({lo:g}; they span {lo:g} to {hi:g}): its N_opt and D_opt extrapolate the fit that far"]
    assert out["compute_optimal"]["C"] == pytest.approx(budgets)
    assert cli.main(["fit", "chinchilla", str(path), "--N", "params", "--C", "flops", "--loss", "loss",
                     "--grid-stride", "50", "--budgets", "1e300"]) == 0
    assert f"  note: budget C = 1e+300 is {np.log10(1e300 / hi):.1f} decades above" in capsys.readouterr().out
