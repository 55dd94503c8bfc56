"""The toy model's decoder: a layout-tuned product that must stay h W^T in every derivative."""

import jax
import jax.numpy as jnp
import numpy as np

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
