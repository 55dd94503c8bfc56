"""The superposition toy model: y = ReLU(W W^T x + b).

Elhage et al. (2022), "Toy Models of Superposition"; Liu, Liu & Gore (2025), Eq. 1.
Row W_i in R^m is feature i's representation in the m-dimensional hidden space.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from toyscale.data import SparseFeatures

__all__ = ["init_params", "encode", "decode", "forward", "loss", "per_element_loss"]

Params = dict  # {"W": [n, m], "b": [n]}
Features = jax.Array | SparseFeatures  # a batch [batch, n], dense or as events


def init_params(key: jax.Array, n: int, m: int, dtype=jnp.float32) -> Params:
    """W ~ Normal(0, 1/m) elementwise (rows start near unit norm), b ~ Normal(0, 1).

    Args:
      key: a PRNG key.
      n: number of features.
      m: width (hidden dimension).

    Returns:
      ``{"W": [n, m], "b": [n]}``.
    """
    kw, kb = jax.random.split(key)
    W = jax.random.normal(kw, (n, m), dtype) / jnp.sqrt(jnp.asarray(m, dtype))
    b = jax.random.normal(kb, (n,), dtype)
    return {"W": W, "b": b}


def _dense(x: Features) -> jax.Array:
    return x.dense if isinstance(x, SparseFeatures) else x


def encode(W: jax.Array, x: Features) -> jax.Array:
    """The hidden activations h = W^T x of a batch: [batch, m].

    For a dense x a matrix product (2 batch n m FLOPs); for a
    :class:`~toyscale.data.SparseFeatures` batch the sum of the active rows,
    h_b = sum_k v_k W_{i_k} over the events of sample b (2 C m FLOPs for C event slots).
    """
    if isinstance(x, SparseFeatures):
        rows = x.values[:, None] * W[x.cols]
        return jax.ops.segment_sum(rows, x.rows, num_segments=x.dense.shape[0], indices_are_sorted=True)
    return x @ W


@jax.custom_jvp
def decode(h: jax.Array, W: jax.Array) -> jax.Array:
    """The decoder product h W^T: [batch, m] x [n, m] -> [batch, n] (before the bias).

    Plain ``h @ W.T`` in value and in every derivative (forward mode included); only the
    layout of the gradient products is chosen here (see ``_decode_jvp``).
    """
    return h @ W.T


@decode.defjvp
def _decode_jvp(primals, tangents):
    h, W = primals
    dh, dW = tangents
    # The W-tangent is written on materialised transposes, so that its transpose -- the
    # gradient -- is dW^T = h^T D, a plain [m, batch] @ [batch, n] product, then a small
    # transpose. Left to itself XLA:CPU contracts D and h over the batch into an [n, m]
    # output, 2.2x slower in isolation at m = 10 (even at m = 39, 1.15x at m = 100); the
    # barriers keep it from folding the transposes back into the dot (benchmarks/RESULTS.md,
    # "decoder gradient layout").
    h_t = jax.lax.optimization_barrier(h.T)
    dw_t = jax.lax.optimization_barrier(dW.T)
    tangent = dh @ W.T + jax.lax.dot_general(h_t, dw_t, (((0,), (0,)), ((), ())))
    return h @ W.T, tangent


def forward(params: Params, x: Features) -> jax.Array:
    """y = ReLU(W W^T x + b) for a batch x of shape [batch, n] (Liu et al., Eq. 1)."""
    W = params["W"]
    return jax.nn.relu(decode(encode(W, x), W) + params["b"])


def loss(params: Params, x: Features) -> jax.Array:
    """The paper's L = < ||y - x||^2 >: sum over the n outputs, mean over the batch."""
    return jnp.mean(jnp.sum((forward(params, x) - _dense(x)) ** 2, axis=-1))


def per_element_loss(params: Params, x: Features) -> jax.Array:
    """L / n, the quantity the paper's scripts optimise (the mean over batch and features).

    Adam is invariant to the scale of the loss except through eps, so training on L / n
    (as the published code does) rather than L keeps eps = 1e-8 meaning the same thing.
    """
    return jnp.mean((forward(params, x) - _dense(x)) ** 2)
