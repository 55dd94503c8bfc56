"""Fidelity of the fast paths: they must not change the model's distribution.

* The fast sampler (:func:`toyscale.data.sample_features`, one uniform per entry) against
  the textbook one (:func:`toyscale.data.sample_features_plain`) and against the model
  x_i = u_i v_i: per-feature first and second moments, the value distribution of each
  frequent feature, pairwise independence of features (co-activation and covariance).
* The sparse sampler (:func:`toyscale.data.sample_features_sparse`: Poisson events, alias
  table, repeats merged) against the same model and the textbook sampler, on the same checks.
* The engine's paths (one-uniform sampler with either bit generator; sparse sampler with its
  gather encoder, with float32 or bfloat16 products; models one after another on every device) against a "plain engine" (the
  textbook sampler, every model of a chunk vmapped side by side on one device): the width
  exponents of a small sweep agree within error bars.
* The suite's own compile setting (tests/conftest.py: most of XLA's optimizations off) against
  the user's: the same models' outputs agree to float32 rounding.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale import data
from toyscale.frequencies import power_law
from toyscale.scaling import width_curve, width_exponent
from toyscale.train import TrainConfig, superposition_grid, sweep_superposition

N, BATCH = 12, 200_000
SIGMA = 5.0  # every statistical check: 5 standard errors (false alarm ~6e-7 per check)


def _draw(sampler, seed, p, batch=BATCH):
    if sampler is _sparse_sampler:  # its tables are built on the host from float64 p
        return np.asarray(sampler(jax.random.PRNGKey(seed), p, batch), dtype=np.float64)
    return np.asarray(jax.jit(sampler, static_argnums=2)(jax.random.PRNGKey(seed), jnp.asarray(p, jnp.float32), batch),
                      dtype=np.float64)


def _hash_sampler(key, p, batch):
    return data.sample_features(key, p, batch, rng="hash")


def _sparse_sampler(key, p, batch):
    p = np.asarray(p, np.float64)
    tables = data.sparse_tables(p, batch)
    return data.sample_features_sparse(key, tables, batch, p.size)[0].dense


def _plain_with_rng(key, p, batch, rng="threefry"):
    """The textbook sampler with the fast one's signature (it ignores the bit generator)."""
    del rng
    return data.sample_features_plain(key, p, batch)


@pytest.fixture(scope="module")
def probs():
    # E = 3 makes the first features frequent (p_1 ~ 0.96) so that pairs co-fire often.
    return power_law(0.8, E=3.0).probs(N)


@pytest.fixture(scope="module")
def samples(probs):
    return {"fast": _draw(data.sample_features, 11, probs), "hash": _draw(_hash_sampler, 13, probs),
            "plain": _draw(data.sample_features_plain, 12, probs), "sparse": _draw(_sparse_sampler, 14, probs)}


@pytest.mark.parametrize("name", ["fast", "hash", "plain", "sparse"])
def test_per_feature_moments_match_the_model(samples, probs, name):
    x = samples[name]
    p = probs
    # <x_i> = p_i, Var x_i = 4/3 p_i - p_i^2.
    var1 = data.V_SECOND_MOMENT * p - p**2
    np.testing.assert_array_less(np.abs(x.mean(0) - p), SIGMA * np.sqrt(var1 / BATCH))
    # <x_i^2> = 4/3 p_i, Var x_i^2 = <v^4> p_i - (4/3 p_i)^2 with <v^4> = 16/5.
    var2 = 16 / 5 * p - (data.V_SECOND_MOMENT * p) ** 2
    np.testing.assert_array_less(np.abs((x**2).mean(0) - data.V_SECOND_MOMENT * p), SIGMA * np.sqrt(var2 / BATCH))
    # <x_i^3> = 2 p_i (<v^3> = 2): a moment the fast sampler's u/v coupling would disturb first.
    var3 = 64 / 7 * p - (2 * p) ** 2
    np.testing.assert_array_less(np.abs((x**3).mean(0) - 2 * p), SIGMA * np.sqrt(var3 / BATCH))


@pytest.mark.parametrize("name", ["fast", "hash", "sparse"])
def test_fast_and_plain_agree_feature_by_feature(samples, name):
    fast, plain = samples[name], samples["plain"]
    for k in (1, 2):
        a, b = fast**k, plain**k
        se = np.sqrt(a.var(0) / BATCH + b.var(0) / BATCH)
        np.testing.assert_array_less(np.abs(a.mean(0) - b.mean(0)), SIGMA * se)
    # Value histogram of each of the three most frequent features: v ~ U(0, 2) whatever p_i.
    bins = np.linspace(0, 2, 9)
    for i in range(3):
        hf, _ = np.histogram(fast[fast[:, i] > 0, i], bins)
        hp, _ = np.histogram(plain[plain[:, i] > 0, i], bins)
        pf, pp = hf / hf.sum(), hp / hp.sum()
        se = np.sqrt(pf * (1 - pf) / hf.sum() + pp * (1 - pp) / hp.sum())
        np.testing.assert_array_less(np.abs(pf - pp), SIGMA * se)
        # and against the exact uniform
        np.testing.assert_array_less(np.abs(pf - 1 / 8), SIGMA * np.sqrt(1 / 8 * 7 / 8 / hf.sum()))


@pytest.mark.parametrize("name", ["fast", "hash", "plain", "sparse"])
def test_features_are_pairwise_independent(samples, probs, name):
    x = samples[name]
    p = probs
    active = x > 0
    iu = np.triu_indices(N, 1)
    # Co-activation P(u_i u_j = 1) = p_i p_j for every pair.
    both = (active[:, :, None] & active[:, None, :]).mean(0)[iu]
    pp = np.outer(p, p)[iu]
    np.testing.assert_array_less(np.abs(both - pp), SIGMA * np.sqrt(pp * (1 - pp) / BATCH))
    # Covariance of the values: zero for every pair (standardised by its standard error).
    xc = x - x.mean(0)
    cov = (xc.T @ xc / BATCH)[iu]
    sd = x.std(0)
    se = np.outer(sd, sd)[iu] / np.sqrt(BATCH)
    np.testing.assert_array_less(np.abs(cov), SIGMA * se)
    # Joint value law of the most frequent pair: <x_1^2 x_2^2> = (4/3)^2 p_1 p_2.
    prod = x[:, 0] ** 2 * x[:, 1] ** 2
    target = data.V_SECOND_MOMENT**2 * p[0] * p[1]
    assert abs(prod.mean() - target) < SIGMA * prod.std() / np.sqrt(BATCH)


@pytest.mark.parametrize("name", ["fast", "hash", "sparse"])
def test_fast_sampler_is_not_correlated_across_samples(samples, name):
    # Successive rows come from one bit array (a counter hash for "hash"): rows t, t+1 independent.
    x = samples[name]
    a, b = x[:-1] - x.mean(0), x[1:] - x.mean(0)
    lag1 = (a * b).mean(0) / x.var(0)
    np.testing.assert_array_less(np.abs(lag1), SIGMA / np.sqrt(BATCH))


# ----------------------------------------------------------------------------- engine

SEEDS = (0, 1, 2, 3)
WIDTHS = (4, 8, 16)


def _config(engine: str) -> TrainConfig:
    return TrainConfig(n=200, batch=256, steps=300, warmup=30, test_batches=8, log_every=300,
                       rng="hash" if engine == "hash" else "threefry",
                       sampler="sparse" if engine.startswith("sparse") else "dense",
                       matmul_precision="bfloat16" if engine == "sparse-bf16" else "float32")


POINTS = superposition_grid(widths=WIDTHS, gammas=[-1.0], frequencies=[power_law(1.0)],
                            lr_w=2e-2, lr_b=2e-2, seeds=SEEDS)
ENGINE_SEEDS = {"plain": 1, "fast": 0, "hash": 2, "sparse": 3, "sparse-bf16": 4}


def _sweep(engine: str, monkeypatch, seed: int | None = None):
    cfg = _config(engine)
    seed = ENGINE_SEEDS[engine] if seed is None else seed
    if engine != "plain":
        return sweep_superposition(cfg, POINTS, seed=seed, progress=False)
    with monkeypatch.context() as mp:
        # The training code calls data.sample_features through the module attribute.
        mp.setattr(data, "sample_features", _plain_with_rng)
        return sweep_superposition(cfg, POINTS, seed=seed, progress=False, devices=jax.devices()[:1],
                                   vector_width=len(SEEDS))


def _exponent_and_error(res):
    """Exponent of the seed-averaged curve; error bar: the larger of its OLS standard error
    and the seed-to-seed standard error of per-seed exponents."""
    fit = width_exponent(width_curve(res))
    per_seed = np.array([width_exponent(width_curve(res, seed=s)).exponent for s in SEEDS])
    se = max(fit.stderr["exponent"], per_seed.std(ddof=1) / np.sqrt(len(SEEDS)))
    return fit.exponent, se


@pytest.fixture(scope="module")
def plain_engine(optimizations_on):
    with pytest.MonkeyPatch.context() as mp, optimizations_on():  # (a long sweep: as a test marked runs_long)
        res = _sweep("plain", mp)
    assert data.sample_features is not _plain_with_rng  # the patch is undone
    return res


@pytest.mark.parametrize("engine", ["fast", "hash", "sparse", "sparse-bf16"])
def test_fast_engine_exponent_matches_plain_engine(engine, plain_engine, monkeypatch):
    fast = _sweep(engine, monkeypatch)
    plain = plain_engine
    for res in (fast, plain):
        assert len(res) == len(WIDTHS) * len(SEEDS)
        assert not any(r.diverged for r in res)
        assert not any(r["truncated_batches"] for r in res)
    # The two engines really ran differently (independent streams, other program shape).
    assert not np.allclose(fast.column("test_loss"), plain.column("test_loss"))
    a_f, se_f = _exponent_and_error(fast)
    a_p, se_p = _exponent_and_error(plain)
    # Loss falls with width in both: the exponent is a measured, non-trivial number.
    assert 0.1 < a_f < 3 and 0.1 < a_p < 3, (a_f, a_p)
    assert abs(a_f - a_p) < 3 * np.hypot(se_f, se_p), (a_f, se_f, a_p, se_p)
    # Width by width, the mean test losses agree within their seed-to-seed errors.
    cf, cp = width_curve(fast), width_curve(plain)
    se = np.hypot(cf.loss_std, cp.loss_std) / np.sqrt(len(SEEDS))  # (loss_std: the sample sd, ddof 1)
    np.testing.assert_array_less(np.abs(cf.loss - cp.loss), 4 * se + 1e-6)


def test_bfloat16_products_keep_the_exponent_of_the_same_models_in_float32(monkeypatch):
    # Paired: the same seed gives both engines the same initial weights and batches, so any
    # difference is the products' rounding alone -- far inside the exponent's error bar.
    f32 = _sweep("sparse", monkeypatch, seed=3)
    bf16 = _sweep("sparse-bf16", monkeypatch, seed=3)
    assert not any(r.diverged for r in bf16)
    loss32, loss16 = f32.column("test_loss"), bf16.column("test_loss")
    assert not np.array_equal(loss32, loss16)  # the rounding did happen
    np.testing.assert_allclose(loss16, loss32, rtol=1e-2)
    a32, se32 = _exponent_and_error(f32)
    a16, se16 = _exponent_and_error(bf16)
    assert abs(a16 - a32) < 0.2 * se32, (a16, a32, se32)


def _optimizations_off():
    """tests/conftest.py's setting: (the in-process flag, the environment variable subprocesses read)."""
    import os

    return jax.config.values["jax_disable_most_optimizations"], os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"]


def _old_emitters():
    """tests/conftest.py's other setting: (XLA's older CPU fusion emitters in this process's compile
    options, in the XLA_FLAGS that subprocesses read)."""
    import os

    from jax._src import compiler

    options = dict(compiler.get_compile_options(num_replicas=1, num_partitions=1).env_option_overrides)
    return (options["xla_cpu_use_fusion_emitters"] is False,
            "--xla_cpu_use_fusion_emitters=false" in os.environ["XLA_FLAGS"].split())


def _compiles_with_old_emitters():
    """Whether XLA compiles a program here as it does with its older CPU fusion emitters asked for
    (the newer ones, asked for, give another program: they wrap a lone tanh in a computation)."""
    def f(x, w):
        for _ in range(3):
            x = jnp.tanh(x @ w) * jnp.exp(-x) + jnp.sin(x)
        return (x**2).sum()

    def program(compiled):  # (its text less the source locations, whose order varies between compiles)
        return "\n".join(re.sub(r", metadata=\{[^}]*\}", "", line) for line in compiled.as_text().splitlines()
                         if not re.match(r"\d+ |FileNames|FunctionNames|FileLocations|StackFrames", line))

    lowered = jax.jit(jax.grad(f)).lower(jnp.ones((16, 16)), jnp.full((16, 16), 1 / 16))
    old, new = (program(lowered.compile(compiler_options={"xla_cpu_use_fusion_emitters": e})) for e in (False, True))
    assert old != new and "wrapped_tanh" in new and "wrapped_tanh" not in old
    return program(lowered.compile()) == old


def test_the_suite_compiles_with_most_optimizations_off(optimizations_on):
    # (tests/conftest.py: the suite is compile-bound; its subprocesses read the environment variable)
    assert _optimizations_off() == (True, "1") and _old_emitters() == (True, True)
    assert _compiles_with_old_emitters()  # (the option reaches XLA)
    with optimizations_on():  # (as a module-scoped fixture uses it; nested, each end restores what it found)
        assert _optimizations_off() == (False, "0") and _old_emitters() == (False, False)
        assert not _compiles_with_old_emitters()
        with optimizations_on():
            assert _optimizations_off() == (False, "0") and _old_emitters() == (False, False)
        assert _optimizations_off() == (False, "0") and _old_emitters() == (False, False)
    assert _optimizations_off() == (True, "1") and _old_emitters() == (True, True)


@pytest.mark.runs_long
def test_a_test_marked_runs_long_compiles_with_the_optimizations_on():
    assert _optimizations_off() == (False, "0") and _old_emitters() == (False, False)


def _both_models():
    """Float outputs of a small superposition sweep and a random-features sweep (ridge and gd)."""
    from toyscale.random_features import RFConfig, random_feature_grid, sweep_random_features

    cfg = TrainConfig(n=48, batch=64, steps=200, warmup=20, test_batches=2, log_every=20)
    sp = sweep_superposition(cfg, superposition_grid(widths=[4], gammas=[-1.0, 1.0], frequencies=[power_law(1.1)],
                                                     lr_w=5e-2, lr_b=5e-2), progress=False)
    assert np.all(sp.column("test_loss") < sp.column("empty_loss"))  # (models that learned something)
    rf = sweep_random_features(RFConfig(M=32, test_samples=16, log_every=10), random_feature_grid(
        N=[8, 24], T=[16], alpha=[0.5], noise=[0.1]) + random_feature_grid(
        N=[8], T=[16], alpha=[0.5], method="gd", steps=40, lr=0.1), progress=False)
    return {f"{name}:{k}": res.column(k) for name, res in (("superposition", sp), ("rf", rf))
            for k in res.records[0].outputs if np.issubdtype(np.asarray(res.records[0].outputs[k]).dtype, np.floating)}


@pytest.mark.compiled_as_users_do
def test_the_suites_compile_setting_changes_the_rounding_not_the_results():
    assert _optimizations_off() == (False, "0") and _old_emitters()[0] is False
    full = _both_models()
    jax.config.update("jax_disable_most_optimizations", True)
    jax.clear_caches()
    try:
        assert _old_emitters()[0]  # (the compile options follow the flag)
        reduced = _both_models()
    finally:
        jax.config.update("jax_disable_most_optimizations", False)
        jax.clear_caches()
    assert full.keys() == reduced.keys() and {"superposition:test_loss", "rf:test_loss"} <= full.keys()
    for k in ("superposition:test_loss", "rf:test_loss"):
        assert not np.array_equal(reduced[k], full[k]), k  # (the setting reached both compiles)
    # (float32 rounding, 2-core CPU: losses up to 3.2e-7 relative, 4.4e-7 before the older fusion emitters;
    # a row norm of 0.0057 by 6.1e-6 relative, 3.4e-8 absolute where the largest is 1.06: rounding goes with
    # an output's scale; an interpolating model's train loss, ~1e-28 in float64, read ~1e-15 with the
    # optimizations off)
    for k in full:
        np.testing.assert_allclose(reduced[k], full[k], rtol=1e-5, atol=1e-6 * np.nanmax(np.abs(full[k])), err_msg=k)
