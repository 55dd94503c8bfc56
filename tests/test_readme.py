"""The README's Python blocks run as printed, at test sizes.

Each block is taken from README.md and run with its sizes cut down by exact text
replacements (each must match once, so a README edit that drops one fails here rather
than silently running the paper's sizes); the data the fitting blocks leave to the reader
(x, y, N, D, L, C, x_new) are synthetic power laws. What the blocks compute is checked
against the package called directly where that is cheap.
"""

import pathlib
import re

import numpy as np
import pytest

import toyscale as ts
from toyscale.fitting import CHINCHILLA_PUBLISHED, compute_optimal

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def _block(first_line: str) -> str:
    found = [b for b in _blocks() if b.lstrip().splitlines()[0].strip() == first_line]
    assert len(found) == 1, f"README.md has {len(found)} python block(s) starting {first_line!r}"
    return found[0]


def _cut(code: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert code.count(old) == 1, f"README block no longer holds {old!r} once"
        code = code.replace(old, new)
    return code


def test_readme_has_the_blocks_this_file_runs():
    firsts = [b.lstrip().splitlines()[0].strip() for b in _blocks()]
    assert firsts.count("import jax, toyscale as ts") == 1  # the tour (the indented empty-model loop is not run)
    for first in ("from toyscale import random_features as rf, theory", "from toyscale import plrf, theory",
                  "# x, y: sizes and losses (1-D arrays, one point per size); N, D, L: one entry per run",
                  "from toyscale.fitting import (extrapolation_error, chinchilla_extrapolation_error,"):
        assert first in firsts


def test_the_tour_runs(tmp_path, capsys):
    tour = [b for b in _blocks() if "ts.sweep_superposition(" in b]
    assert len(tour) == 1
    code = _cut(tour[0], {
        "n=1000, batch=2048, steps=20_000, warmup=2_000": "n=64, batch=64, steps=100, warmup=10",
        "ts.train_model(config, 25,": "ts.train_model(config, 6,",
        "widths=[10, 15, 25, 39, 63, 100]": "widths=[4, 6, 8]",
        'out="runs/my-sweep"': "out=OUT, progress=False",
        "ts.width_exponent(curve, seed_bootstrap=1000)": "ts.width_exponent(curve, seed_bootstrap=100)",
    })
    scope = {"OUT": str(tmp_path / "my-sweep")}
    exec(compile(code, "README.md (tour)", "exec"), scope)
    assert len(scope["points"]) == 3 * 2 * 3 * 2 and len(scope["result"]) == len(scope["points"])
    assert np.isfinite(float(scope["out"]["test_loss"]))
    curve = scope["curve"]
    assert curve.widths.tolist() == [4, 6, 8]
    assert "exponent" in capsys.readouterr().out  # print(fit)
    fit, why = scope["fit"], scope["why"]
    assert (fit is None) != (why is None)
    mine = scope["mine"]  # (a curve from replicate values of one's own)
    assert mine.n_models.tolist() == [2, 2, 2] and mine.loss.tolist() == pytest.approx([1.05, 0.71, 0.49])
    # rerun to resume: the folder holds every model, nothing trains again
    again = ts.sweep_superposition(scope["config"], scope["points"], out=scope["OUT"], progress=False)
    assert again.stats["chunks"] == 0


def test_the_random_feature_block_runs():
    code = _cut(_block("from toyscale import random_features as rf, theory"), {
        "M=4096": "M=256",
        "N=[16, 256], T=[64, 1024]": "N=[8, 32], T=[16, 64]",
        "seeds=8": "seeds=2",
        "rf.sweep_random_features(cfg, pts)": "rf.sweep_random_features(cfg, pts, progress=False)",
    })
    scope: dict = {}
    exec(compile(code, "README.md (random features)", "exec"), scope)
    pts, res, predicted = scope["pts"], scope["res"], np.asarray(scope["predicted"])
    assert len(pts) == 2 * 2 * 2 * 2 and len(res) == len(pts) and predicted.shape == (len(pts),)
    assert np.all(np.isfinite(predicted)) and np.all(predicted > 0)


def test_the_plrf_block_runs_and_its_comments_hold():
    code = _cut(_block("from toyscale import plrf, theory"), {
        "d=[64, 128]": "d=[8, 16]",
        "steps=2000, seeds=4": "steps=100, seeds=2",
        "plrf.sweep_plrf(cfg, pts)": "plrf.sweep_plrf(cfg, pts, progress=False)",
    })
    scope: dict = {}
    code = code.replace("theory.plrf_exponents(0.7, 0.7)", "want = theory.plrf_exponents(0.7, 0.7)")
    exec(compile(code.replace("theory.plrf_floor(", "floors = theory.plrf_floor("), "README.md (plrf)", "exec"), scope)
    res, want = scope["res"], scope["want"]
    assert [float(f"{f:.3g}") for f in scope["floors"]] == [0.00767, 0.00312]
    assert len(res) == 4 and sorted(res[0].outputs) == ["loss", "loss_curve", "loss_floor", "loss_start"]
    assert not any(r.diverged for r in res)
    assert want["phase"] == "II/III" and want["d_opt"] == 0.5 and round(want["loss_opt"], 3) == 0.643
    assert want["floor"] == pytest.approx(1.4)


@pytest.fixture(scope="module")
def fitting_data():
    """x, y on a power law with offset; N, D, L on IsoFLOP slices of the published law."""
    rng = np.random.default_rng(0)
    x = np.logspace(2, 6, 12)
    y = (3.0 * x ** -0.4 + 0.05) * np.exp(0.01 * rng.standard_normal(x.size))
    budgets = np.logspace(19, 23, 5)
    n_opt = compute_optimal(CHINCHILLA_PUBLISHED, budgets).N_opt
    N = (n_opt[:, None] * np.exp(np.linspace(-1.5, 1.5, 9))[None, :]).ravel()
    C = np.repeat(budgets, 9)
    D = C / (6 * N)
    L = CHINCHILLA_PUBLISHED.loss(N, D) * np.exp(0.005 * rng.standard_normal(N.size))
    return {"x": x, "y": y, "x_new": np.array([1e7, 1e8]), "N": N, "D": D, "L": L, "C": C}


def test_the_fitting_blocks_run(fitting_data, capsys):
    first = _cut(_block("# x, y: sizes and losses (1-D arrays, one point per size); N, D, L: one entry per run"),
                 {"bootstrap=1000)": "bootstrap=50, starts=chinchilla_grid(thin=50))",
                  'method="mle")': 'method="mle", starts=chinchilla_grid(thin=50))'})
    second = _cut(_block("from toyscale.fitting import (extrapolation_error, chinchilla_extrapolation_error,"),
                  {'on="C")': 'on="C", starts=chinchilla_grid(thin=50))',
                   "breaks=1, bootstrap=200)": "breaks=1, bootstrap=50)"})
    scope = dict(fitting_data, chinchilla_grid=ts.fitting.chinchilla_grid)
    for code, where in ((first, "README.md (fitting)"), (second, "README.md (more fits)")):
        exec(compile(code, where, "exec"), scope)
    assert "exponent" in capsys.readouterr().out
    assert scope["fit"].exponent == pytest.approx(0.4, abs=0.05)
    assert scope["ch"].alpha == pytest.approx(CHINCHILLA_PUBLISHED.alpha, abs=0.05)
    beta_share = CHINCHILLA_PUBLISHED.beta / (CHINCHILLA_PUBLISHED.alpha + CHINCHILLA_PUBLISHED.beta)
    assert scope["a1"].a == pytest.approx(beta_share, abs=0.1)  # N_opt ~ C^(beta / (alpha + beta))
    assert scope["a2"].a == pytest.approx(beta_share, abs=0.05)
    assert np.isfinite(scope["ex"].mean_rel_error) and len(scope["bpl"].breaks) == 1
