"""A sweep as one flat table: ``SweepResult.table`` / ``to_csv`` and ``python -m toyscale export``."""

import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from toyscale import cli
from toyscale.fitting import fit_power_law
from toyscale.frequencies import exponential, power_law
from toyscale.sweep import Record, SweepResult, load_sweep
from toyscale.train import TrainConfig, superposition_grid, sweep_superposition

CFG = TrainConfig(n=40, batch=32, steps=60, warmup=6, test_batches=2, log_every=10)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Twelve models (3 widths x 2 gammas x two kinds of spec, one seed) and one diverged model."""
    folder = tmp_path_factory.mktemp("export") / "sweep"
    points = superposition_grid(widths=[3, 4, 6], gammas=[-1.0, 0.2], frequencies=[power_law(1.1), exponential(20.0)],
                                lr_w=2e-2, lr_b=1e-2)
    points.append(dict(points[0], lr_w=1e30))  # diverges
    with pytest.warns(RuntimeWarning, match="empty model"):  # (60 steps: some end above it, and are named)
        sweep_superposition(CFG, points, out=str(folder), progress=False)
    return folder, load_sweep(str(folder))


def read(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def test_the_table_flattens_the_points_and_keeps_the_scalar_outputs(sweep):
    _, result = sweep
    columns, rows = result.table()
    assert columns[:2] == ["model_id", "diverged"]
    # a frequency spec becomes one column per key, over every kind in the sweep (a key the
    # record's kind lacks is None); array outputs are left out
    for c in ("frequencies.kind", "frequencies.alpha", "frequencies.tau", "m", "gamma", "lr_w", "seed", "test_loss",
              "empty_loss", "phi_half"):
        assert c in columns
    assert "loss_curve" not in columns and "row_norms" not in columns and "frequencies" not in columns
    assert [row[0] for row in rows] == [r.model_id for r in result] == list(range(13))
    assert [row[1] for row in rows] == [int(r.diverged) for r in result] == [0] * 12 + [1]
    by = {c: i for i, c in enumerate(columns)}
    for row, r in zip(rows, result):
        assert row[by["m"]] == r["m"] and row[by["frequencies.kind"]] == r["frequencies"]["kind"]
        assert row[by["test_loss"]] == float(r["test_loss"]) or np.isnan(float(r["test_loss"]))
        kind = r["frequencies"]["kind"]
        assert (row[by["frequencies.alpha"]] is None) == (kind != "power_law")
        assert (row[by["frequencies.tau"]] is None) == (kind != "exponential")
    # some records only
    assert [row[0] for row in result.table(result.select(m=6))[1]] == [r.model_id for r in result if r["m"] == 6]


def test_to_csv_round_trips_every_number_exactly(sweep, tmp_path):
    _, result = sweep
    path = tmp_path / "all.csv"
    assert result.to_csv(path) == 13
    header, rows = read(path.read_text())
    columns, table = result.table()
    assert header == columns and len(rows) == 13
    i = header.index("test_loss")
    for row, cells in zip(rows, table):
        assert float(row[i]) == cells[i] or (np.isnan(cells[i]) and row[i] == "nan")
        assert row[header.index("frequencies.alpha")] == ("" if cells[header.index("frequencies.alpha")] is None
                                                          else repr(cells[header.index("frequencies.alpha")]))


def test_export_filters_by_column_and_drops_diverged_models(sweep, capsys):
    folder, result = sweep
    assert cli.main(["export", str(folder), "-", "--where", "gamma=-1", "--where", "frequencies.kind=power_law"]) == 0
    header, rows = read(capsys.readouterr().out)
    want = [r.model_id for r in result if r["gamma"] == -1.0 and r["frequencies"]["kind"] == "power_law"]
    assert [int(row[0]) for row in rows] == want and 12 in want  # (the diverged copy of model 0 among them)
    assert cli.main(["export", str(folder), "-", "--where", "gamma=-1.0", "--where", "frequencies.kind=power_law",
                     "--drop-diverged"]) == 0
    assert [int(row[0]) for row in read(capsys.readouterr().out)[1]] == [i for i in want if i != 12]


def test_an_exported_curve_feeds_the_fit_command(sweep, tmp_path, capsys):
    folder, result = sweep
    path = tmp_path / "curve.csv"
    assert cli.main(["export", str(folder), str(path), "--where", "gamma=0.2", "--where",
                     "frequencies.kind=power_law", "--drop-diverged"]) == 0
    assert "wrote 3 of 13 models (0 diverged), " in capsys.readouterr().err
    assert cli.main(["fit", "power-law", str(path), "--x", "m", "--y", "test_loss", "--json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    # the same fit as on the records themselves: the CSV lost no digits
    curve = [r for r in result if r["gamma"] == 0.2 and r["frequencies"]["kind"] == "power_law"]
    direct = fit_power_law([r["m"] for r in curve], [float(r["test_loss"]) for r in curve])
    assert fitted["exponent"] == pytest.approx(direct.exponent, rel=1e-12)
    assert fitted["t_interval"]["exponent"] == pytest.approx(list(direct.t_interval()), rel=1e-9)
    assert set(fitted["t_interval"]) == {"exponent", "prefactor"}


@pytest.mark.parametrize("argv, message", [
    (["--where", "gama=1"], "--where gama=1: no column 'gama'; columns are model_id, diverged, "),
    (["--where", "gamma=3"], "--where gamma=3: no model left has it; gamma is one of -1.0, 0.2"),
    (["--where", "m=3", "--where", "m=6"], "--where m=6: no model left has it; m is one of 3"),
])
def test_export_names_a_bad_filter(sweep, argv, message, capsys):
    folder, _ = sweep
    assert cli.main(["export", str(folder), "-", *argv]) == 2
    assert message in capsys.readouterr().err


def test_export_refuses_a_missing_sweep_and_a_folder_as_output(sweep, tmp_path, capsys):
    folder, _ = sweep
    # (in the command's terms: load_sweep's and write_csv's messages had named their own arguments, folder= and path=)
    assert cli.main(["export", str(tmp_path / "nothing"), "-"]) == 2
    assert f"{tmp_path / 'nothing'}: no such folder; give a sweep folder (an experiment script's is <--out>/sweep)" \
        in capsys.readouterr().err
    assert cli.main(["export", str(folder), ""]) == 2
    assert "the CSV file's path is empty; give one, or - for standard output" in capsys.readouterr().err
    assert cli.main(["export", str(folder), str(tmp_path)]) == 2
    assert "is a folder; give the CSV file's path" in capsys.readouterr().err
    assert cli.main(["export", str(folder), str(tmp_path / "typo" / "x.csv")]) == 2  # no folder made for it
    assert "its folder" in capsys.readouterr().err and not (tmp_path / "typo").exists()
    # a name the file system refuses: a traceback naming the temp file, exit 1; now one line, exit 2
    too_long = tmp_path / ("r" * 300 + ".csv")
    assert cli.main(["export", str(folder), str(too_long)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"toyscale: error: {too_long}: cannot be written (") and "Traceback" not in err
    assert ".tmp-" not in err and not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())
    with pytest.raises(SystemExit):  # argparse: a --where without =
        cli.main(["export", str(folder), "-", "--where", "gamma"])
    assert "expected COLUMN=VALUE" in capsys.readouterr().err


def test_the_table_writes_bools_as_numbers_and_keeps_an_output_named_like_a_field():
    # (hand-made records: a random-features point has bool fields; any output may be a plain
    # float or share a field's name)
    records = [Record(0, {"m": 3, "lr": 0.1, "infinite_data": True, "label": [1, 2]}, False,
                      {"lr": np.float32(0.5), "ok": np.bool_(True), "loss": 0.25, "curve": np.zeros(3)}),
               Record(1, {"m": 4, "lr": 0.1, "infinite_data": False}, True, {"lr": np.float32(0.5), "ok": np.False_})]
    columns, rows = SweepResult(records, {"points": []}, {}).table()
    assert columns == ["model_id", "diverged", "m", "lr", "infinite_data", "label", "loss", "ok", "output.lr"]
    assert rows == [[0, 0, 3, 0.1, 1, "[1, 2]", 0.25, 1, 0.5], [1, 1, 4, 0.1, 0, None, None, 0, 0.5]]
    assert SweepResult([], {"points": []}, {}).table() == ([], [])


@pytest.mark.parametrize("where, kept", [
    ("infinite_data=true", [0]), ("infinite_data=0", [1]), ("label=[1,2]", [0]), ("label=", [1]),
    ("m=4.0", [1]), ("lr=0.1", [0, 1]),
])
def test_where_matches_what_the_csv_shows(where, kept, tmp_path, monkeypatch, capsys):
    records = [Record(0, {"m": 3, "lr": 0.1, "infinite_data": True, "label": [1, 2]}, False, {"loss": np.float32(1)}),
               Record(1, {"m": 4, "lr": 0.1, "infinite_data": False}, False, {"loss": np.float32(2)})]
    monkeypatch.setattr("toyscale.sweep.load_sweep", lambda folder: SweepResult(records, {"points": []}, {}))
    assert cli.main(["export", str(tmp_path), "-", "--where", where]) == 0
    assert [int(row[0]) for row in read(capsys.readouterr().out)[1]] == kept


def test_export_of_a_sweep_with_no_finished_model_says_so(sweep, tmp_path, capsys):
    folder, _ = sweep
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(folder / "manifest.json", empty / "manifest.json")
    assert cli.main(["export", str(empty), "-"]) == 2
    assert "no finished models yet (its manifest lists 13)" in capsys.readouterr().err


def test_fit_takes_the_same_where_as_export(sweep, tmp_path, capsys):
    # the whole sweep exported once; fit --where picks the curve out of it, as export --where would
    folder, _ = sweep
    everything, curve = tmp_path / "all.csv", tmp_path / "curve.csv"
    where = ["--where", "gamma=0.2", "--where", "frequencies.kind=power_law", "--where", "diverged=false"]
    assert cli.main(["export", str(folder), str(everything)]) == 0
    assert cli.main(["export", str(folder), str(curve), *where]) == 0
    capsys.readouterr()
    fits = []
    for path, extra in ((curve, []), (everything, where)):
        assert cli.main(["fit", "power-law", str(path), "--x", "m", "--y", "test_loss", "--json", *extra]) == 0
        fits.append(json.loads(capsys.readouterr().out))
    assert fits[0] == fits[1] and fits[0]["n_points"] == 3
    assert cli.main(["fit", "power-law", str(everything), "--x", "m", "--y", "test_loss", "--where", "gamma=7"]) == 2
    # like export's, the message lists the column's values (it gave none)
    assert "none of its 13 rows has gamma=7; gamma is one of -1.0, 0.2" in capsys.readouterr().err
    assert cli.main(["fit", "power-law", str(everything), "--x", "m", "--y", "test_loss", "--where", "gamma=-1",
                     "--where", "m=7", "--where", "diverged=false"]) == 2
    assert "has gamma=-1 and m=7 and diverged=false; m is one of 3, 4, 6" in capsys.readouterr().err
    # one column filtered twice: each filter's own hits (m=5 matches nothing, though m=3 does)
    assert cli.main(["fit", "power-law", str(everything), "--x", "m", "--y", "test_loss", "--where", "m=3",
                     "--where", "m=5"]) == 2
    assert "has m=3 and m=5; m is one of 3, 4, 6" in capsys.readouterr().err
    assert cli.main(["fit", "power-law", str(everything), "--x", "m", "--y", "test_loss", "--where", "gamma=0.2",
                     "--where", "diverged=true"]) == 2  # (the diverged model has gamma = -1)
    assert "(each filter matches some rows, but no row all of them)" in capsys.readouterr().err
    assert cli.main(["fit", "power-law", str(everything), "--x", "m", "--y", "test_loss", "--where", "gama=1"]) == 2
    assert "unknown column(s) 'gama'" in capsys.readouterr().err


@pytest.mark.parametrize("cell, value, text, expected", [
    ("True", "true", True, True), ("FALSE", "0", True, True), ("1e-3", "0.001", True, True), ("-0", "0", True, True),
    ("nan", "nan", True, True), (float("nan"), "nan", False, True), ("", "", True, True), ("", "0", True, False),
    # a table's text cell is read as the CSV's is: export --where keeps the rows fit --where keeps
    ("007", "7", True, True), ("007", "7", False, True), ("true", "1", False, True),
    ("[1, 2]", "[1,2]", False, True), ("power_law", "power_law", True, True), (2, "two", False, False),
])
def test_where_reads_a_csv_files_cells_and_a_tables_values(cell, value, text, expected):
    # (a CSV written by pandas spells bools True/False; the table writes them 1/0)
    assert cli._matches(cell, value) is expected  # (text: a CSV file's cell, or a table's)


def test_a_sweep_just_trained_tabulates_as_its_folder_does(tmp_path):
    # (the points' keys in the grid's order in memory, sorted in the manifest: the CSVs must not differ)
    points = superposition_grid(widths=[3], gammas=[-1.0], frequencies=[power_law(1.1)], lr_w=2e-2, lr_b=1e-2)
    with pytest.warns(RuntimeWarning, match="empty model"):
        trained = sweep_superposition(CFG, points, out=str(tmp_path / "sweep"), progress=False)
    loaded = load_sweep(str(tmp_path / "sweep"))
    assert trained.table() == loaded.table()
    assert list(trained[0].point) == list(loaded[0].point) == sorted(points[0])
    trained.to_csv(tmp_path / "a.csv")
    loaded.to_csv(tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    with pytest.raises(ValueError, match="path=''; path must be a CSV file's path"):
        loaded.to_csv("")


# mutant: status's values shortened to 6 digits (-0.777778), which --where then matches with nothing
def test_status_shows_a_value_as_short_as_is_exact_so_it_can_be_pasted_into_where():
    assert [cli._show(v) for v in (0.5, 1e-05, -0.7777777777777778, 0.1 + 0.2, 3, None, "exp")] == [
        "0.5", "1e-05", "-0.7777777777777778", "0.30000000000000004", "3", "(empty)", "exp"]


def test_status_counts_finished_diverged_and_to_train_models_in_all_and_by_field(sweep, tmp_path, capsys):
    folder, result = sweep
    part = tmp_path / "part"
    shutil.copytree(folder, part)
    chunks = sorted((part / "chunks").glob("chunk_*.npz"))
    with np.load(chunks[0]) as z:
        gone = [int(i) for i in z["model_id"]]
    chunks[0].unlink()  # as if the run had not got that far
    assert cli.main(["status", str(part), "--by", "m"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{part}: task 'superposition', format 'toyscale-sweep/2', seed 0, started ")
    assert "UTC (toyscale " in out[0]
    assert out[1] == "  the points vary in frequencies.kind (2 values), frequencies.alpha (2 values), " \
                     "frequencies.tau (2 values), gamma (2 values), lr_w (2 values), m (3 values)"
    diverged = sum(r.diverged for r in result if r.model_id not in gone)
    assert out[2] == f"  13 models: {13 - len(gone)} finished ({diverged} diverged), {len(gone)} to train"
    table = [line.split() for line in out[3:]]
    assert table[0] == ["m", "models", "finished", "diverged", "to", "train"]
    for row, m in zip(table[1:], (3, 4, 6)):
        ids = [r.model_id for r in result if r["m"] == m]
        assert row == [str(m), str(len(ids)), str(sum(i not in gone for i in ids)),
                       str(sum(r.diverged for r in result if r["m"] == m and r.model_id not in gone)),
                       str(sum(i in gone for i in ids))]
    assert len(table) == 4
    # two fields: a row per combination; a field the points lack is named
    assert cli.main(["status", str(folder), "--by", "frequencies.kind", "--by", "gamma"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[4:]]
    assert [r[:2] for r in rows] == [["exponential", "-1"], ["exponential", "0.2"], ["power_law", "-1"],
                                     ["power_law", "0.2"]]
    assert [r[3] for r in rows] == ["3", "3", "4", "3"]  # (the diverged model is a power law at gamma -1)
    assert cli.main(["status", str(folder), "--by", "width"]) == 2
    assert "--by width: the points have no field 'width'; they have frequencies.kind" in capsys.readouterr().err


def test_status_counts_by_label_too(tmp_path, monkeypatch, capsys):
    # --by label had been refused as "the points have no field 'label'", which export writes
    points = [{"m": 3, "label": "a"}, {"m": 3, "label": "b"}, {"m": 4, "label": "a"}]
    _fake_sweep(monkeypatch, points, {0: False, 2: True})
    assert cli.main(["status", str(tmp_path), "--by", "label"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "  the points vary in m (2 values), label (2 values)"
    assert [line.split() for line in out[4:]] == [["a", "2", "2", "1", "0"], ["b", "1", "0", "0", "1"]]


def test_status_of_a_missing_folder_is_an_error_not_a_traceback(tmp_path, capsys):
    assert cli.main(["status", str(tmp_path / "nothing")]) == 2
    assert f"{tmp_path / 'nothing'}: no such folder; give a sweep folder" in capsys.readouterr().err


def test_a_reader_gone_away_ends_the_command_quietly(sweep):
    # `toyscale status DIR | head -1`: had ended in a BrokenPipeError traceback (exit 120)
    import os
    import subprocess
    import sys

    folder, _ = sweep
    proc = subprocess.Popen([sys.executable, "-m", "toyscale", "status", str(folder), "--by", "m"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    proc.stdout.close()  # before it writes a line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_status_names_a_manifest_with_a_field_of_the_wrong_type(sweep, tmp_path, capsys):
    # a hand-edited manifest (a point that is not an object, versions as a string) had ended in an
    # AttributeError traceback
    folder, _ = sweep
    for key, value, message in (("versions", "0.1", "'versions' is '0.1', not an object"),
                                ("extends", 3, "'extends' is 3, not a list")):
        edited = tmp_path / key
        shutil.copytree(folder, edited)
        manifest = json.loads((edited / "manifest.json").read_text())
        if key == "points":
            manifest["points"].append(value)
        else:
            manifest[key] = value
        (edited / "manifest.json").write_text(json.dumps(manifest))
        assert cli.main(["status", str(edited)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"toyscale: error: {edited / 'manifest.json'}: {message}; the manifest is damaged"), err
    # a point that is not an object: load_sweep itself names it, for status, export and Python callers
    edited = tmp_path / "points"
    shutil.copytree(folder, edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    (edited / "manifest.json").write_text(json.dumps({**manifest, "points": [*manifest["points"], 5]}))
    for command in (["status", str(edited)], ["export", str(edited), "-"]):
        assert cli.main(command) == 2
        assert "manifest.json' cannot be read: its points[13] is 5, not an object of a model's fields; restore it" \
            in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"its points\[13\] is 5, not an object"):
        load_sweep(str(edited))
    assert cli.main(["export", str(tmp_path / "versions"), "-"]) == 0  # (export reads no versions)


def test_export_drop_diverged_that_leaves_no_model_is_an_error(sweep, tmp_path, capsys):
    # had written a header-only file with exit status 0, where a --where that leaves nothing is an error
    folder, _ = sweep
    path = tmp_path / "none.csv"
    assert cli.main(["export", str(folder), str(path), "--where", "diverged=1", "--drop-diverged"]) == 2
    assert "toyscale: error: --drop-diverged: no model left; all 1 model(s) that --where keeps diverged" \
        in capsys.readouterr().err
    assert not path.exists()


def test_json_files_take_jax_arrays_and_numpy_keys(tmp_path):
    # had raised "Object of type ArrayImpl is not JSON serializable" and "keys must be str, ..., not int64"
    import jax.numpy as jnp

    from toyscale.io import atomic_write_json, to_plain

    atomic_write_json(tmp_path / "a.json", {"exponent": jnp.asarray(1.5), "curve": jnp.arange(3),
                                            "nan": jnp.asarray(float("nan")), "by_m": {np.int64(8): 0.5}})
    assert json.loads((tmp_path / "a.json").read_text()) == {"exponent": 1.5, "curve": [0, 1, 2], "nan": None,
                                                             "by_m": {"8": 0.5}}
    plain = to_plain({np.int64(3): jnp.float32(0.25), "x": [jnp.asarray([1.0, float("inf")])]})
    assert plain == {3: 0.25, "x": [[1.0, float("inf")]]} and type(next(iter(plain))) is int  # (not strict: kept)
    assert to_plain({"x": jnp.asarray(float("inf"))}, strict=True) == {"x": None}


def test_export_to_a_full_disk_is_one_line_not_a_traceback(sweep):
    # `toyscale export DIR - > /dev/full` had ended in an OSError traceback (/dev/full: Linux, as CI)
    folder, _ = sweep
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "toyscale", "export", str(folder), "-"], stdout=full,
                           stderr=subprocess.PIPE, text=True, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert (r.returncode, r.stderr) == (1, "toyscale: error: standard output: No space left on device\n")


def test_export_into_a_stream_appends_and_keeps_it_a_stream(sweep, tmp_path):
    # `export DIR /dev/stdout >> FILE` had replaced FILE (the rename went through /dev/stdout's link),
    # losing its lines; a FIFO became a regular file and its reader got nothing
    folder, _ = sweep
    kept = tmp_path / "log.csv"
    kept.write_text("an earlier line\n")
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    with open(kept, "a") as out:
        r = subprocess.run([sys.executable, "-m", "toyscale", "export", str(folder), "/dev/stdout"], stdout=out,
                           stderr=subprocess.PIPE, text=True, env=env)
    assert r.returncode == 0, r.stderr
    lines = kept.read_text().splitlines()
    assert lines[0] == "an earlier line" and lines[1].startswith("model_id,diverged,") and len(lines) > 3
    # through its own descriptor, at its position: reopened, /dev/stderr under `2>` had been written over by the
    # "wrote ..." line that follows
    err = tmp_path / "err.csv"
    with open(err, "w") as out:
        r = subprocess.run([sys.executable, "-m", "toyscale", "export", str(folder), "/dev/stderr"], stderr=out,
                           env=env)
    lines = err.read_text().splitlines()
    assert r.returncode == 0 and lines[0].startswith("model_id,diverged,") and lines[-1].startswith("wrote "), lines
    # a closed standard output is named, not an AttributeError
    r = subprocess.run(f"{shlex.quote(sys.executable)} -m toyscale export {shlex.quote(str(folder))} - >&-",
                       shell=True, capture_output=True, text=True, env=env)
    assert (r.returncode, r.stderr) == (2, "toyscale: error: standard output is closed; give a file to write the "
                                           "CSV to\n"), r.stderr


def test_atomic_write_into_a_fifo_writes_through_it(tmp_path):
    import stat
    import threading

    from toyscale.io import atomic_write

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    # (a daemon: replaced by a regular file, the FIFO had never been opened for writing, and its reader waits on)
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    atomic_write(fifo, lambda f: f.write(b"a,b\n1,2\n"))
    reader.join(timeout=10)
    assert got == [b"a,b\n1,2\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def _fake_sweep(monkeypatch, points, done, **manifest):
    """load_sweep replaced: ``points`` in the manifest, ``done`` {model id: diverged} finished."""
    manifest = {"points": points, "task": "t", "format": "toyscale-sweep/2", "seed": 0, **manifest}
    records = [Record(i, points[i], diverged, {"loss": np.float32(1.0)}) for i, diverged in done.items()]
    monkeypatch.setattr("toyscale.sweep.load_sweep", lambda folder, **options: SweepResult(records, manifest, {}))


# mutants: status rows in the points' order (not sorted); numbers sorted as text (100 < 16 < 4); empty not last;
# the diverged models subtracted from those to train
def test_status_rows_are_sorted_by_value_numbers_before_text_and_empty_last(tmp_path, monkeypatch, capsys):
    points = [{"m": 100, "label": "b"}, {"m": 16, "label": None}, {"m": 4, "label": "a"}, {"m": 16, "label": "a"}]
    _fake_sweep(monkeypatch, points, {0: False, 1: True})
    assert cli.main(["status", str(tmp_path), "--by", "m"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == "  4 models: 2 finished (1 diverged), 2 to train"
    rows = [line.split() for line in out[4:]]
    assert rows == [["4", "1", "0", "0", "1"], ["16", "2", "1", "1", "1"], ["100", "1", "1", "0", "0"]]
    assert cli.main(["status", str(tmp_path), "--by", "label"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[4:]]
    assert rows == ["a", "b", "(empty)"]


# mutants: the "its grid extends" line never printed; the start time not converted to UTC
def test_status_says_what_the_grid_extends_and_when_it_started_in_utc(tmp_path, monkeypatch, capsys):
    points = [{"m": 3}, {"m": 4}]
    _fake_sweep(monkeypatch, points, {0: False}, extends=[{"points": 1}], created="2026-01-02T03:04:05.500000+02:00")
    assert cli.main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{tmp_path}: task 't', format 'toyscale-sweep/2', seed 0, started 2026-01-02 01:04:05 UTC"
    assert out[1] == "  its grid extends 1 earlier grid(s) of this folder"


# mutant: export's --where listing of a column's values not cut at 20 (" ..." dropped)
def test_export_where_lists_at_most_20_values(tmp_path, monkeypatch, capsys):
    points = [{"m": m} for m in range(25)]
    _fake_sweep(monkeypatch, points, {i: False for i in range(25)})
    assert cli.main(["export", str(tmp_path), "-", "--where", "m=99"]) == 2
    err = capsys.readouterr().err
    assert "m is one of " + ", ".join(map(str, range(20))) + " ...\n" in err, err


def _a_copy_and_its_first_chunk(folder, tmp_path):
    """A copy of the sweep folder, its first chunk file and that file's arrays."""
    part = tmp_path / "part"
    shutil.copytree(folder, part)
    chunk = sorted((part / "chunks").glob("chunk_*.npz"))[0]
    with np.load(chunk) as z:
        return part, chunk, {k: z[k] for k in z.files}


def test_status_counts_past_a_damaged_chunk_and_names_it(sweep, tmp_path, capsys):
    # a damaged chunk file had made `status` an error, hiding how far the rest of the folder was
    folder, result = sweep
    part, chunk, arrays = _a_copy_and_its_first_chunk(folder, tmp_path)
    lost = [int(i) for i in arrays["model_id"]]
    chunk.write_bytes(chunk.read_bytes()[:100])
    assert cli.main(["status", str(part)]) == 1
    out = capsys.readouterr().out.splitlines()
    diverged = sum(r.diverged for r in result if r.model_id not in lost)
    assert out[2] == f"  13 models: {13 - len(lost)} finished ({diverged} diverged), {len(lost)} to train"
    assert out[3] == "  1 chunk file(s) cannot be read; their models are counted as to train:"
    assert out[4].startswith(f"    chunk file '{chunk}' cannot be read (") and out[4].endswith(
        "delete it and rerun the sweep into this folder to train its models again") and len(out) == 5
    assert cli.main(["status", str(folder)]) == 0  # (an intact folder: no such lines)
    assert "cannot be read" not in capsys.readouterr().out


# mutants: a chunk whose arrays disagree in length read (an IndexError later, in every reader); export of a partial
# sweep not saying so (to a file or to standard output)
def test_a_chunk_of_uneven_arrays_is_named_and_a_partial_export_says_so(sweep, tmp_path, capsys):
    folder, _ = sweep
    part, chunk, arrays = _a_copy_and_its_first_chunk(folder, tmp_path)
    lost = len(arrays["model_id"])
    for damage in ({"test_loss": arrays["test_loss"][:-1]}, {"diverged": np.asarray(False)}):
        with open(chunk, "wb") as f:
            np.savez(f, **{**arrays, **damage})
        with pytest.raises(ValueError, match="cannot be read \\(ValueError: its arrays disagree in length: "
                                             "model_id has shape"):
            load_sweep(str(part))
        assert cli.main(["status", str(part)]) == 1  # (counted past, named)
        assert "1 chunk file(s) cannot be read" in capsys.readouterr().out
    chunk.unlink()  # a sweep with models still to train: its export says how far it is
    assert cli.main(["export", str(part), str(tmp_path / "part.csv")]) == 0
    err = capsys.readouterr().err
    assert f"wrote {13 - lost} of {13 - lost} models" in err and (
        f"the sweep is not finished: {13 - lost} of its grid's 13 models are, {lost} to train") in err
    assert cli.main(["export", str(part), "-"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("model_id,") and f"{13 - lost} of its grid's 13 models are" in out.err
    assert cli.main(["export", str(folder), "-"]) == 0 and not capsys.readouterr().err  # (finished: nothing to say)
