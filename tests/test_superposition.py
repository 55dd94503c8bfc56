"""The toy model's decoder: a layout-tuned product that must stay h W^T in every derivative."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale import superposition
from toyscale.superposition import decode


def _plain(h, W):
    return h @ W.T


def _inputs(batch=16, n=10, m=3):
    kh, kw, th, tw = jax.random.split(jax.random.PRNGKey(0), 4)
    return (jax.random.normal(kh, (batch, m)), jax.random.normal(kw, (n, m)),
            jax.random.normal(th, (batch, m)), jax.random.normal(tw, (n, m)))


def _objective(product):
    # non-linear, so second derivatives are not trivial
    return lambda h, W: jnp.sum(jnp.sin(product(h, W)) ** 2)


def test_decode_value_gradient_and_tangent_are_the_plain_product():
    h, W, th, tW = _inputs()
    np.testing.assert_allclose(decode(h, W), _plain(h, W), rtol=1e-6)
    for ours, ref in zip(jax.grad(_objective(decode), argnums=(0, 1))(h, W),
                         jax.grad(_objective(_plain), argnums=(0, 1))(h, W)):
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    _, ours = jax.jvp(decode, (h, W), (th, tW))
    _, ref = jax.jvp(_plain, (h, W), (th, tW))
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_decode_second_derivatives_and_vmap_match_the_plain_product():
    h, W, _, _ = _inputs(batch=6, n=5, m=2)
    ours = jax.hessian(_objective(decode), argnums=1)(h, W)
    ref = jax.hessian(_objective(_plain), argnums=1)(h, W)
    assert ours.shape == (5, 2, 5, 2)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    hs, Ws = jnp.stack([h, 2 * h]), jnp.stack([W, -W])
    grad = jax.vmap(jax.grad(_objective(decode), argnums=1))(hs, Ws)
    for i in range(2):
        np.testing.assert_allclose(grad[i], jax.grad(_objective(_plain), argnums=1)(hs[i], Ws[i]), rtol=1e-5, atol=1e-6)


def test_model_loss_gradient_equals_the_textbook_model():
    # the model's own forward (encoder + tuned decoder) against y = ReLU(W W^T x + b) written out
    kx, kp = jax.random.split(jax.random.PRNGKey(3))
    x = jax.random.uniform(kx, (32, 12)) * (jax.random.uniform(kp, (32, 12)) < 0.2)
    params = superposition.init_params(jax.random.PRNGKey(4), 12, 4)

    def textbook(params, x):
        W = params["W"]
        return jnp.mean((jax.nn.relu(x @ W @ W.T + params["b"]) - x) ** 2)

    ours = jax.grad(superposition.per_element_loss)(params, x)
    ref = jax.grad(textbook)(params, x)
    for k in ("W", "b"):
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-5, atol=1e-7, err_msg=k)


def test_loss_is_the_papers_sum_over_outputs():
    # An empty model outputs 0, so L = E||x||^2 = sum_i p_i E[v^2] = (4/3) sum_i p_i for v ~ U[0, 2]:
    # the sum over the n outputs (the paper's L), not their mean.
    from toyscale.data import sample_features
    from toyscale.frequencies import power_law

    n = 40
    p = power_law(1.0, E=2.0).probs(n)
    x = sample_features(jax.random.PRNGKey(0), p, 20_000)
    empty = {"W": jnp.zeros((n, 3)), "b": jnp.zeros(n)}
    value = float(superposition.loss(empty, x))
    assert value == pytest.approx(4 / 3 * p.sum(), rel=0.03)
    assert float(superposition.per_element_loss(empty, x)) == pytest.approx(value / n, rel=1e-5)


def _events(rows, cols, values, batch, n):
    from toyscale.data import SparseFeatures

    rows, cols, values = jnp.asarray(rows, jnp.int32), jnp.asarray(cols, jnp.int32), jnp.asarray(values, jnp.float32)
    return SparseFeatures(rows, cols, values, jnp.zeros((batch, n)).at[rows, cols].add(values))


def _assert_same_value_and_grad(params, x, rtol=2e-5):
    value, grads = superposition.per_element_loss_and_grad(params, x)
    ref_value, ref_grads = jax.value_and_grad(superposition.per_element_loss)(params, x)
    np.testing.assert_allclose(value, ref_value, rtol=rtol)
    for k in ("W", "b"):
        scale = float(jnp.max(jnp.abs(ref_grads[k])))
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=rtol, atol=rtol * scale, err_msg=k)


def test_written_out_loss_and_gradient_equal_autodiff_on_event_batches():
    # samples 0-5 of 8; sample 1 has no events, (4, 2) is repeated (the repeat carries v = 0,
    # as the sampler writes it), two empty slots at the end carry the last sample, feature 0
    # and v = 0; b spans both signs so some events sit below the ReLU and some above
    x = _events(rows=[0, 0, 2, 3, 3, 3, 4, 4, 5, 7, 7], cols=[1, 4, 0, 2, 3, 5, 2, 2, 1, 0, 0],
                values=[0.7, 1.9, 0.3, 1.2, 0.05, 1.6, 0.9, 0.0, 1.1, 0.0, 0.0], batch=8, n=6)
    params = superposition.init_params(jax.random.PRNGKey(5), 6, 3)
    params = {"W": params["W"], "b": jnp.asarray([-0.9, 0.4, -0.1, 0.8, -1.5, 0.2])}
    _assert_same_value_and_grad(params, x)
    # the dense path is autodiff itself
    value, _ = superposition.per_element_loss_and_grad(params, x.dense)
    np.testing.assert_allclose(value, superposition.per_element_loss(params, x.dense), rtol=1e-6)


def test_written_out_loss_and_gradient_equal_autodiff_on_sampled_batches_and_under_vmap():
    from toyscale import data
    from toyscale.frequencies import power_law

    batch, n, m = 64, 50, 4
    p = power_law(1.1).probs(n)
    tables = {k: jnp.asarray(v) for k, v in data.sparse_tables(p, batch, data.event_capacity(batch, 2.0)).items()}
    xs = [data.sample_features_sparse(jax.random.PRNGKey(s), tables, batch, n)[0] for s in range(3)]
    keys = jax.random.split(jax.random.PRNGKey(6), 3)
    params = [superposition.init_params(k, n, m) for k in keys]
    for pr, x in zip(params, xs):
        _assert_same_value_and_grad(pr, x)
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *params)
    xs_stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *xs)
    values, grads = jax.vmap(superposition.per_element_loss_and_grad)(stacked, xs_stacked)
    for i in range(3):
        value, grad = superposition.per_element_loss_and_grad(params[i], xs[i])
        np.testing.assert_allclose(values[i], value, rtol=1e-6)
        np.testing.assert_allclose(grads["W"][i], grad["W"], rtol=1e-5, atol=1e-7)


def test_cpu_pads_w_columns_only_where_the_remainder_is_above_half_a_block():
    assert {m: superposition._cpu_padded_width(m) for m in (1, 8, 9, 10, 15, 16, 17, 24, 25, 39, 63, 100, 110)} == {
        1: 1, 8: 8, 9: 16, 10: 16, 15: 16, 16: 16, 17: 17, 24: 24, 25: 32, 39: 39, 63: 64, 100: 100, 110: 112}


@pytest.mark.parametrize("m", [12, 20, 30])
def test_cpu_kernel_shapes_keep_value_and_gradient_and_are_cpu_only(m):
    from toyscale import data
    from toyscale.frequencies import power_law

    batch, n = 64, 40
    p = power_law(1.1).probs(n)
    tables = {k: jnp.asarray(v) for k, v in data.sparse_tables(p, batch, data.event_capacity(batch, 2.0)).items()}
    x = data.sample_features_sparse(jax.random.PRNGKey(3), tables, batch, n)[0]
    params = superposition.init_params(jax.random.PRNGKey(4), n, m)
    _assert_same_value_and_grad(params, x)  # runs here, on the CPU forms
    f = jax.jit(superposition.per_element_loss_and_grad, static_argnums=2)
    on_cpu, on_gpu, bf16_cpu = (f.trace(params, x, prec).lower(lowering_platforms=(platform,)).as_text()
                                for prec, platform in (("float32", "cpu"), ("float32", "cuda"), ("bfloat16", "cpu")))
    padded = {12: 16, 20: None, 30: 32}[m]  # W with zero columns, the operand of q W
    if padded:
        assert f"tensor<{n}x{padded}xf32>" in on_cpu
        assert f"tensor<{n}x{padded}xf32>" not in on_gpu  # other backends run the plain product
        assert f"x{padded}xbf16>" not in bf16_cpu  # bfloat16 operands are not padded (no gain)
    else:
        assert f"tensor<{n}x32xf32>" not in on_cpu
    # [h | 1]^T q from a transposed copy of [h | 1] ([m + 1, batch]) except on a CPU up to 23
    transposed = f"tensor<{m + 1}x{batch}x"
    assert (transposed in on_cpu) == (m + 1 > 24)
    assert transposed in on_gpu
    assert (transposed in bf16_cpu) == (m + 1 > 24)


def test_rounded_products_round_only_the_operands():
    from toyscale import data
    from toyscale.frequencies import power_law

    batch, n, m = 256, 60, 8
    p = power_law(1.1).probs(n)
    tables = {k: jnp.asarray(v) for k, v in data.sparse_tables(p, batch, data.event_capacity(batch, 2.0)).items()}
    x = data.sample_features_sparse(jax.random.PRNGKey(1), tables, batch, n)[0]
    params = superposition.init_params(jax.random.PRNGKey(2), n, m)
    f = jax.jit(superposition.per_element_loss_and_grad, static_argnums=2)
    (v32, g32), (vtf, gtf), (v16, g16) = (f(params, x, prec) for prec in ("float32", "tensorfloat32", "bfloat16"))
    for k in ("W", "b"):
        err_tf, err_16 = (float(jnp.max(jnp.abs(g[k] - g32[k])) / jnp.max(jnp.abs(g32[k]))) for g in (gtf, g16))
        # bfloat16 keeps 8 significant bits (relative rounding <= 2^-9 per operand), sums stay
        # float32: ~1e-3 of the gradient's scale here (5e-4 for b), far more than float32 rounding;
        # TF32's 3 more mantissa bits give about 8x less
        assert 1e-5 < err_16 < 1e-2, (k, err_16)
        assert 1e-6 < err_tf < err_16 / 3, (k, err_tf, err_16)
    assert abs(float(v16 / v32) - 1) < 1e-3 and abs(float(vtf / v32) - 1) < 1e-4  # the value comes from the products


def test_tensorfloat32_rounds_to_ten_mantissa_bits_to_nearest_even():
    def reference(a):  # on the bits: keep 10 of float32's 23 mantissa bits, ties to even
        bits = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
        lsb = (bits >> 13) & 1
        out = ((bits + 0xFFF + lsb) & ~np.uint64(0x1FFF)).astype(np.uint32).view(np.float32)
        return np.where(np.isnan(a), a, out)

    one = 1.0
    edge = np.array([one + 2**-11, one + 3 * 2**-11, one + 2**-10 + 2**-11, one + 2**-11 + 2**-20, -one - 3 * 2**-11,
                     2.0**-130, 3.4028235e38, -3.4028235e38, np.inf, -np.inf, np.nan, 0.0, -0.0], np.float32)
    expect = np.array([one, one + 2**-9, one + 2**-9, one + 2**-10, -one - 2**-9], np.float32)
    rand = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (10_000,)) * 10.0 ** jax.random.uniform(
        jax.random.PRNGKey(1), (10_000,), minval=-30, maxval=30))
    for a in (edge, rand):
        got = np.asarray(superposition._as_operand(jnp.asarray(a), superposition.TF32))
        np.testing.assert_array_equal(got, reference(a))
    got = np.asarray(superposition._as_operand(jnp.asarray(edge), superposition.TF32))
    np.testing.assert_array_equal(got[:5], expect)  # ties to even (1 + 2^-11 down, 1 + 3 2^-11 up)
    assert np.isinf(got[6]) and np.isinf(got[7]) and np.isnan(got[10])  # max float rounds up to inf
    assert np.all(np.abs(rand - reference(rand)) <= 2.0**-11 * np.abs(rand))


def test_precision_is_checked_before_anything_runs():
    params = superposition.init_params(jax.random.PRNGKey(0), 6, 3)
    x = _events(rows=[0, 1], cols=[1, 4], values=[0.7, 1.9], batch=2, n=6)
    with pytest.raises(ValueError, match="precision='float16'"):
        superposition.per_element_loss_and_grad(params, x, "float16")
    with pytest.raises(ValueError, match="event batches"):
        superposition.per_element_loss_and_grad(params, x.dense, "bfloat16")


def test_a_bias_of_another_length_is_refused_not_broadcast():
    params = superposition.init_params(jax.random.PRNGKey(0), 6, 3)
    bad = {"W": params["W"], "b": params["b"][:1]}  # (was broadcast over all 6 outputs)
    x = _events(rows=[0, 1], cols=[1, 4], values=[0.7, 1.9], batch=2, n=6)
    for call in (lambda: superposition.loss(bad, x.dense), lambda: superposition.per_element_loss_and_grad(bad, x),
                 lambda: jax.jit(superposition.forward)(bad, x.dense)):
        with pytest.raises(ValueError, match=r"W of shape \(6, 3\) and b of shape \(1,\)"):
            call()


def test_a_w_that_is_not_a_matrix_and_a_scalar_batch_are_refused_by_name():
    # (mutation run: without these checks a [n] W beside a [n] b, or a 0-d x, failed inside a product or
    # with an IndexError, naming neither)
    params = superposition.init_params(jax.random.PRNGKey(0), 6, 3)
    for W in (params["W"][:, 0], params["W"][..., None]):
        with pytest.raises(ValueError, match=rf"W of shape {re.escape(str(W.shape))} and b of shape \(6,\); W must be "
                                             r"\[n, m\]"):
            superposition.loss({"W": W, "b": params["b"]}, jnp.zeros((2, 6)))
    with pytest.raises(ValueError, match=r"x has shape \(\) and W shape \(6, 3\); x must be \[batch, n\]"):
        superposition.forward(params, jnp.float32(1.0))


def test_rounded_products_ask_the_backend_for_the_precision_their_operands_need():
    # A CPU or a GPU multiplies TF32-rounded operands exactly at DEFAULT or HIGH, so no value here shows it; the
    # program does: HIGH keeps a TPU at 3 bf16 passes where DEFAULT would round the operands to bfloat16 (mutation
    # run). bfloat16 operands need nothing more than DEFAULT.
    params = superposition.init_params(jax.random.PRNGKey(0), 6, 3)
    x = _events(rows=[0, 1], cols=[1, 4], values=[0.7, 1.9], batch=2, n=6)
    f = jax.jit(superposition.per_element_loss_and_grad, static_argnums=2)

    def products(precision):  # (precision, operand type) of the [batch, n]-sized 2-D products
        text = f.trace(params, x, precision).lower(lowering_platforms=("cpu",)).as_text()
        return re.findall(r"dot_general .*precision = \[(\w+), \w+\] : \(tensor<\d+x\d+x(\w+)>", text)

    assert products("tensorfloat32") == [("HIGH", "f32")] * 3
    assert products("bfloat16") == [("DEFAULT", "bf16")] * 3


def test_the_cpu_contracts_the_batch_directly_up_to_24_columns():
    # _CPU_DIRECT_ROWS: "up to this many columns" directly, above it from a transposed [k, batch] copy
    # (the model test above reaches m + 1 = 21 and 31 only; mutation run)
    f = jax.jit(lambda a, q: superposition._batch_contracted(a, q, jnp.float32))
    for k in (24, 25):
        text = f.trace(jnp.ones((64, k)), jnp.ones((64, 8))).lower(lowering_platforms=("cpu",)).as_text()
        assert (f"tensor<{k}x64xf32>" in text) == (k > 24), k


@pytest.mark.parametrize("gamma", [-1.0, 0.1])
def test_bfloat16_gradient_stays_close_at_trained_weights(gamma):
    # Once a model fits, 2c q and the event terms E nearly cancel at the events: rounding
    # them (as a plain bf16 product would) put the gradient off by 2.7 % / 9.1 % of its
    # largest entry here (1 - cos 8.5e-5 / 8.5e-4); the events' float32 terms keep it near.
    from toyscale import data
    from toyscale.frequencies import power_law
    from toyscale.train import TrainConfig, train_model

    n, m, batch = 100, 8, 256
    cfg = TrainConfig(n=n, batch=batch, steps=400, warmup=40, test_batches=1, log_every=100, keep_weights=True)
    out = train_model(cfg, m, gamma=gamma, lr_w=2e-2, lr_b=2e-2, frequencies=power_law(1.1),
                      key=jax.random.PRNGKey(0))
    params = {"W": jnp.asarray(out["W"]), "b": jnp.asarray(out["b"])}
    p = power_law(1.1).probs(n)
    tables = {k: jnp.asarray(v) for k, v in data.sparse_tables(p, batch, data.event_capacity(batch, 2.0)).items()}
    f = jax.jit(superposition.per_element_loss_and_grad, static_argnums=2)
    for s in range(4):
        x = data.sample_features_sparse(jax.random.PRNGKey(100 + s), tables, batch, n)[0]
        (_, g32), (_, g16) = f(params, x, "float32"), f(params, x, "bfloat16")
        err = float(jnp.max(jnp.abs(g16["W"] - g32["W"])) / jnp.max(jnp.abs(g32["W"])))
        cos = float(jnp.vdot(g16["W"], g32["W"]) / (jnp.linalg.norm(g16["W"]) * jnp.linalg.norm(g32["W"])))
        assert err < 0.02 and 1 - cos < 5e-5, (s, err, 1 - cos)


def test_cpu_batch_tiles_fit_the_cache_and_stay_thick_enough():
    tile = superposition.cpu_tile_rows
    assert tile(2048, 1000, 10) == tile(2048, 1000, 100) == 512  # the bench: 2 MB of q per tile
    assert tile(2048, 10240, 8) == 64  # the paper's n: the 2 MiB tile would be 32 rows
    assert tile(2048, 10240, 64) == 128 and tile(2048, 10240, 256) == 512  # at least 2 m rows
    assert tile(2048, 10240, 1024) == 2048  # never below 2 m: not tiled
    assert tile(256, 1024, 16) == 256 and tile(256, 256, 23) == 256  # the quick presets fit whole
    assert tile(3000, 1000, 10) == 375 and tile(3001, 1000, 10) == 3001  # only even splits
    assert tile(512, 1024, 8) == 512  # a q of exactly 2 MiB fits (a ">=" that halved it passed: mutation run)


def _sampled(batch, n, m, seed=3):
    from toyscale import data
    from toyscale.frequencies import power_law

    p = power_law(0.6).probs(n)
    tables = {k: jnp.asarray(v) for k, v in data.sparse_tables(p, batch, data.event_capacity(batch, 2.0)).items()}
    x = data.sample_features_sparse(jax.random.PRNGKey(seed), tables, batch, n)[0]
    params = superposition.init_params(jax.random.PRNGKey(seed + 1), n, m)
    return {"W": params["W"], "b": params["b"] - 0.5}, x  # b of both signs: events on both sides of the ReLU


@pytest.mark.parametrize("precision, tile_rows", [("float32", 8), ("tensorfloat32", 16), ("bfloat16", 32)])
def test_batch_tiles_give_the_whole_batch_value_and_gradient(precision, tile_rows):
    batch, n, m = 64, 40, 5
    params, x = _sampled(batch, n, m)
    assert int(jnp.sum(x.values != 0)) > 20

    def f(tile):
        return jax.jit(lambda p, x: superposition._sparse_loss_and_grad(
            p["W"], p["b"], x.rows, x.cols, x.values, batch, superposition._operand_type(precision), tile))(params, x)

    (v, g), (v_ref, g_ref) = f(tile_rows), f(batch)
    np.testing.assert_allclose(v, v_ref, rtol=1e-6)
    for k in ("W", "b"):  # q W row for row; [h | 1]^T q summed tile by tile (float32 rounding)
        np.testing.assert_allclose(g[k], g_ref[k], rtol=1e-5, atol=1e-6 * float(jnp.max(jnp.abs(g_ref[k]))), err_msg=k)
    if precision == "float32":
        _, g_auto = jax.value_and_grad(superposition.per_element_loss)(params, x)
        np.testing.assert_allclose(g["W"], g_auto["W"], rtol=2e-5, atol=2e-5 * float(jnp.max(jnp.abs(g_auto["W"]))))
    with pytest.raises(ValueError, match="tile_rows=24 does not divide batch=64"):
        superposition._sparse_loss_and_grad(params["W"], params["b"], x.rows, x.cols, x.values, batch,
                                            superposition._operand_type(precision), 24)


def test_batch_tiles_are_the_cpu_program_only(monkeypatch):
    # with 16 KiB tiles, q of batch 128 x n 64 (32 KiB) is cut into 2 tiles of 64 rows on a CPU:
    # its program loops over the tiles' [64, n] pre-activations; other backends make one [128, n]
    monkeypatch.setattr(superposition, "_CPU_TILE_BYTES", 16 * 1024)
    batch, n, m = 128, 64, 4
    assert superposition.cpu_tile_rows(batch, n, m) == 64
    params, x = _sampled(batch, n, m)
    f = jax.jit(superposition.per_element_loss_and_grad, static_argnums=2)

    def pre_activations(platform):  # shapes of the [rows, n] products in the lowered program
        text = f.trace(params, x, "float32").lower(lowering_platforms=(platform,)).as_text()
        return set(re.findall(rf"dot_general.*-> tensor<(\d+)x{n}xf32>", text)) - {str(m + 1)}, "stablehlo.while" in text

    assert pre_activations("cpu") == ({"64"}, True)
    assert pre_activations("cuda") == ({"128"}, False)
    _assert_same_value_and_grad(params, x)  # runs here, tiled


def _sparse(rows, cols, values, dense):
    from toyscale.data import SparseFeatures

    return SparseFeatures(rows, cols, values, dense)


def test_init_scales_follow_the_reference():
    n, m = 20_000, 10
    p = superposition.init_params(jax.random.PRNGKey(0), n, m)
    W, b = np.asarray(p["W"], np.float64), np.asarray(p["b"], np.float64)
    # 2e5 W entries, 2e4 b entries: standard errors ~0.2 % / 0.5 % of the std; margins 3 %/5 %
    assert np.var(W) == pytest.approx(1 / m, rel=0.03)
    assert abs(W.mean()) < 0.01
    assert np.std(b) == pytest.approx(1.0, rel=0.05) and abs(b.mean()) < 0.05
    assert np.mean(np.linalg.norm(W, axis=1) ** 2) == pytest.approx(1.0, rel=0.03)  # rows near unit norm
    # b from its own key: with W's key again, b_i = sqrt(m) W.ravel()[i] (correlation 1; 7 standard errors here)
    assert abs(np.corrcoef(b, W.ravel()[:n])[0, 1]) < 0.05 and abs(np.corrcoef(b, W[:, 0])[0, 1]) < 0.05


# --- superposition: bfloat16 event fixes (docstring: event terms replaced by float32 values) -
def test_bfloat16_is_float32_exact_when_every_entry_is_an_event():
    # every (sample, feature) is an event, so q has no off-event entries: with the event terms put
    # back in float32, only float32 rounding is left, in the value and both gradients
    batch, n, m = 4, 6, 3
    rows, cols = np.meshgrid(np.arange(batch), np.arange(n), indexing="ij")
    values = np.asarray(jax.random.uniform(jax.random.PRNGKey(7), (batch * n,), minval=0.1, maxval=2.0))
    r, c, v = jnp.asarray(rows.ravel(), jnp.int32), jnp.asarray(cols.ravel(), jnp.int32), jnp.asarray(values, jnp.float32)
    x = _sparse(r, c, v, jnp.zeros((batch, n)).at[r, c].add(v))
    params = superposition.init_params(jax.random.PRNGKey(8), n, m)
    params = {"W": params["W"], "b": jnp.asarray([-3.0, 0.4, -0.1, 0.8, -5.0, 0.2])}  # both sides of the ReLU
    f = jax.jit(superposition.per_element_loss_and_grad, static_argnums=2)
    v32, g32 = f(params, x, "float32")
    v16, g16 = f(params, x, "bfloat16")
    np.testing.assert_allclose(float(v16), float(v32), rtol=1e-5)
    for k in ("W", "b"):
        scale = float(jnp.max(jnp.abs(g32[k])))
        np.testing.assert_allclose(g16[k], g32[k], rtol=1e-4, atol=1e-5 * scale, err_msg=k)


def test_the_event_fix_rounds_with_reduce_precision_not_a_cast_pair():
    # a float32 -> bfloat16 -> float32 cast pair is removed by XLA's GPU compiler (excess
    # precision allowed), which would leave the event fix's "rounded" operands unrounded there
    a = jnp.asarray(np.concatenate([np.random.default_rng(0).standard_normal(1000) * np.geomspace(1e-40, 1e37, 1000),
                                    [1 + 2 ** -8, 1 + 3 * 2 ** -8, 3e38, -0.0]]), jnp.float32)  # (ties to even)
    np.testing.assert_array_equal(superposition._rounded(a, jnp.bfloat16), a.astype(jnp.bfloat16).astype(jnp.float32))
    text = jax.jit(superposition._rounded, static_argnums=1).lower(a, jnp.bfloat16).as_text()
    assert "reduce_precision" in text and "convert" not in text
    x = _sparse(jnp.asarray([0, 1], jnp.int32), jnp.asarray([2, 3], jnp.int32), jnp.asarray([0.5, 1.5]),
                jnp.zeros((2, 6)).at[jnp.asarray([0, 1]), jnp.asarray([2, 3])].add(jnp.asarray([0.5, 1.5])))
    params = superposition.init_params(jax.random.PRNGKey(8), 6, 3)
    step = jax.jit(superposition.per_element_loss_and_grad, static_argnums=2).lower(params, x, "bfloat16").as_text()
    assert step.count("reduce_precision") >= 2  # rows_w and h_ev at the events


def test_a_batch_of_another_n_than_W_is_refused():
    from toyscale import data

    p = np.full(10, 0.3)
    tables = {k: jnp.asarray(v) for k, v in data.sparse_tables(p, 32).items()}
    sf, _ = data.sample_features_sparse(jax.random.PRNGKey(0), tables, 32, 10)
    for n_model in (8, 12):  # (the event batch had returned a loss, 1.53 and 1.30: clamped gathers, dropped rows)
        params = superposition.init_params(jax.random.PRNGKey(1), n_model, 3)
        for x in (sf, sf.dense):
            with pytest.raises(ValueError, match=rf"shape \(32, 10\) and W shape \({n_model}, 3\); x must be "
                                                 rf"\[batch, n\] with n = {n_model}"):
                superposition.per_element_loss_and_grad(params, x)
            with pytest.raises(ValueError, match=r"x must be \[batch, n\]"):
                superposition.loss(params, x)
    params = superposition.init_params(jax.random.PRNGKey(1), 10, 3)
    value, _ = superposition.per_element_loss_and_grad(params, sf)
    assert value == pytest.approx(float(superposition.per_element_loss(params, sf.dense)), rel=1e-5)


def test_init_params_names_a_bad_key_or_dtype():
    from toyscale.superposition import init_params

    with pytest.raises(TypeError, match="key=0; key must be a PRNG key"):
        init_params(0, 4, 2)
    for dtype in (jnp.int32, "abc"):  # (JAX's own error had named neither)
        with pytest.raises(TypeError, match="the weights' dtype must be a floating one"):
            init_params(jax.random.PRNGKey(0), 4, 2, dtype)
    assert init_params(jax.random.PRNGKey(0), 4, 2, jnp.bfloat16)["W"].dtype == jnp.bfloat16
