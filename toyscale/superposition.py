"""The superposition toy model: y = ReLU(W W^T x + b).

Elhage et al. (2022), "Toy Models of Superposition"; Liu, Liu & Gore (2025), Eq. 1.
Row W_i in R^m is feature i's representation in the m-dimensional hidden space.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from toyscale._checks import check_choice, check_int, prng_key
from toyscale.data import SparseFeatures

__all__ = ["init_params", "encode", "decode", "forward", "loss", "empty_loss", "no_better_than_empty",
           "per_element_loss", "per_element_loss_and_grad", "PRECISIONS"]

# Operand types of the training step's three dense products (accumulation is float32 in all).
PRECISIONS = ("float32", "tensorfloat32", "bfloat16")


class _TensorFloat32:
    """Operand type of "tensorfloat32" products: float32 storage, rounded to TF32's 10 mantissa
    bits (8 exponent bits), round to nearest even (``lax.reduce_precision``)."""

    def __repr__(self) -> str:
        return "tensorfloat32"


TF32 = _TensorFloat32()


def _operand_type(precision: str):
    """The products' operand type of a precision name: a dtype, or :data:`TF32`."""
    return TF32 if precision == "tensorfloat32" else jnp.dtype(precision)


def _as_operand(a: jax.Array, dtype) -> jax.Array:
    """``a`` in the operand type: cast to it (nothing for float32), or for TF32 rounded and
    kept in float32.

    Each operand is rounded once, where it is made (a second rounding would be a second op
    over it: XLA does not merge them)."""
    if dtype is TF32:
        return jax.lax.reduce_precision(a, exponent_bits=8, mantissa_bits=10)
    return a.astype(dtype)

Params = dict  # {"W": [n, m], "b": [n]}
Features = jax.Array | SparseFeatures  # a batch [batch, n], dense or as events


def init_params(key: jax.Array, n: int, m: int, dtype=jnp.float32, *, nested: bool = False) -> Params:
    """W ~ Normal(0, 1/m) elementwise (rows start near unit norm), b ~ Normal(0, 1).

    Args:
      key: a PRNG key.
      n: number of features.
      m: width (hidden dimension).
      dtype: a floating dtype of the weights.
      nested: draw W column by column, column j's standard normals from ``fold_in(key, j)``: the
        same law, and with one key a wider model's W holds a narrower one's columns (times
        sqrt(m_narrow / m_wide)), as ``TrainConfig.common_across`` shares them across widths.

    Returns:
      ``{"W": [n, m], "b": [n]}``.
    """
    n, m = check_int("n", n), check_int("m", m)
    try:
        floating = jnp.issubdtype(dtype, jnp.floating)
    except TypeError:  # (not a dtype at all)
        floating = False
    if not floating:
        raise TypeError(f"dtype={dtype!r}; the weights' dtype must be a floating one, e.g. jnp.float32")
    if not isinstance(nested, bool):
        raise TypeError(f"nested={nested!r}; nested must be True or False")
    kw, kb = jax.random.split(prng_key("key", key))
    if nested:
        W = jax.vmap(lambda j: jax.random.normal(jax.random.fold_in(kw, j), (n,), dtype), out_axes=1)(jnp.arange(m))
    else:
        W = jax.random.normal(kw, (n, m), dtype)
    W = W / jnp.sqrt(jnp.asarray(m, dtype))
    b = jax.random.normal(kb, (n,), dtype)
    return {"W": W, "b": b}


def _dense(x: Features) -> jax.Array:
    return x.dense if isinstance(x, SparseFeatures) else x


def _check_batch(W: jax.Array, x: Features) -> None:
    """A ValueError unless the batch has W's n features (static shapes: also under jit and
    vmap). An event batch of another n gathered clamped rows of W and dropped gradient rows
    silently; a dense one raised a bare dot_general error naming neither."""
    shape = jnp.shape(_dense(x))
    if not shape or shape[-1] != jnp.shape(W)[0]:
        raise ValueError(f"x has {'dense shape' if isinstance(x, SparseFeatures) else 'shape'} {shape} and W shape "
                         f"{jnp.shape(W)}; x must be [batch, n] with n = {jnp.shape(W)[0]}, W's rows (one per feature)")


def encode(W: jax.Array, x: Features) -> jax.Array:
    """The hidden activations h = W^T x of a batch: [batch, m].

    For a dense x a matrix product (2 batch n m FLOPs); for a
    :class:`~toyscale.data.SparseFeatures` batch the sum of the active rows,
    h_b = sum_k v_k W_{i_k} over the events of sample b (2 C m FLOPs for C event slots).
    """
    _check_batch(W, x)
    if isinstance(x, SparseFeatures):
        return _sum_over_events(x.values, W[x.cols], x.rows, x.dense.shape[0])
    return x @ W


def _sum_over_events(weights, event_rows_of_w, rows, batch):
    """[batch, m]: for each sample, the sum of weight_k x (row of W at event k) over its events."""
    return _per_sample(weights[:, None] * event_rows_of_w, rows, batch)


def _per_sample(event_terms, rows, batch):
    """[batch, ...]: for each sample, the sum of its events' terms (rows sorted, as the sampler writes them)."""
    return jax.ops.segment_sum(event_terms, rows, num_segments=batch, indices_are_sorted=True)


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


def _weights(params: Params) -> jax.Array:
    """``params["W"]`` after checking the shapes (static, so also under jit and vmap): a
    bias of another length would broadcast silently."""
    W, b = params["W"], params["b"]
    if W.ndim != 2 or b.shape != W.shape[:1]:
        raise ValueError(f"params have W of shape {W.shape} and b of shape {b.shape}; W must be [n, m] "
                         f"and b [n]")
    return W


def forward(params: Params, x: Features) -> jax.Array:
    """y = ReLU(W W^T x + b) for a batch x of shape [batch, n] (Liu et al., Eq. 1)."""
    W = _weights(params)
    return jax.nn.relu(decode(encode(W, x), W) + params["b"])


def loss(params: Params, x: Features) -> jax.Array:
    """The paper's L = < ||y - x||^2 >: sum over the n outputs, mean over the batch."""
    return jnp.mean(jnp.sum((forward(params, x) - _dense(x)) ** 2, axis=-1))


def empty_loss(x: Features) -> jax.Array:
    """L of the empty model (W = 0, b = 0, output 0) on the batch x: < ||x||^2 >.

    The loss a model has to beat to have learned anything; in expectation <v^2> sum_i p_i
    (4/3 for the paper's E = 1 distributions). A model starts above it (its b ~ N(0, 1)).
    """
    return jnp.mean(jnp.sum(_dense(x) ** 2, axis=-1))


def no_better_than_empty(diverged: Any, outputs: Mapping[str, Any]) -> bool:
    """Whether a finite model's ``test_loss`` is at or above its ``empty_loss`` (the loss of
    outputting 0 on the same test samples): it does no better than outputting 0. False for a diverged
    model and for outputs without both (a sweep saved before ``empty_loss`` existed)."""
    return (not diverged and "empty_loss" in outputs and "test_loss" in outputs
            and float(outputs["test_loss"]) >= float(outputs["empty_loss"]))


def per_element_loss(params: Params, x: Features) -> jax.Array:
    """L / n, the quantity the paper's scripts optimise (the mean over batch and features).

    Adam is invariant to the scale of the loss except through eps, so training on L / n
    (as the published small-model scripts do) rather than L keeps eps = 1e-8 meaning the
    same thing; the large-model script trains on 100 x L / n
    (:attr:`toyscale.train.TrainConfig.loss_scale`).
    """
    return jnp.mean((forward(params, x) - _dense(x)) ** 2)


def per_element_loss_and_grad(params: Params, x: Features, precision: str = "float32") -> tuple[jax.Array, Params]:
    """``jax.value_and_grad(per_element_loss)(params, x)``: what a training step needs.

    A dense x goes through autodiff. For a :class:`~toyscale.data.SparseFeatures` batch the
    value and gradient are written out (:func:`_sparse_loss_and_grad`) so that a step makes
    one elementwise pass over the [batch, n] arrays instead of autodiff's five or so
    (the dense target, the residual, the loss, the ReLU mask, the bias gradient), which at
    small widths cost more than the three matrix products (benchmarks/RESULTS.md, "loss and
    gradient in one pass"). In float32 the gradient is the same; the value, from the identity
    below (a difference of two terms each about the empty model's loss), is within ~1e-7 of
    the empty loss, not of L: 6e-8 relative at L = empty / 4, 2e-6 at empty / 100, 1e-3 at
    empty / 10^4 (n = 64, 256 samples, W W^T = s I), where autodiff's is 4e-6. Only the
    training loss curve takes it; the test loss takes the direct formula.

    Args:
      params: ``{"W": [n, m], "b": [n]}``.
      x: the batch, dense or as events.
      precision: operand type of the three [batch, n]-sized products (decoder forward and
        the two gradient products): "float32", "tensorfloat32" (operands rounded to TF32's
        10 mantissa bits, kept in float32: a GPU's tensor cores then multiply them exactly,
        as a CPU does in float32; only the order of the float32 sums may differ) or
        "bfloat16" (operands rounded to bfloat16); both accumulate in float32 and need
        event batches. The events' own terms --
        q there, the residuals, every sum over events -- and the parameters stay float32;
        the rest of q carries the rounding, and so does the value (computed from the
        products). At trained weights the gradient is then within ~1 % of the float32 one
        (largest entry), 1 - cos below 5e-5 (tests/test_superposition.py).
    """
    check_choice("precision", precision, PRECISIONS)
    if not isinstance(x, SparseFeatures):
        if precision != "float32":
            raise ValueError(f"precision={precision!r} is written for event batches (SparseFeatures) only; "
                             f"a dense batch is differentiated by autodiff in float32")
        return jax.value_and_grad(per_element_loss)(params, x)
    W = _weights(params)
    _check_batch(W, x)
    return _sparse_loss_and_grad(W, params["b"], x.rows, x.cols, x.values, x.dense.shape[0], _operand_type(precision))


def _product(a: jax.Array, b: jax.Array, dtype, contract=((1,), (0,))) -> jax.Array:
    """a @ b (or the ``contract``-ed dot_general) of operands already in the operand type
    ``dtype`` (:func:`_as_operand`), accumulated and returned in float32."""
    dims = (contract, ((), ()))
    if dtype == jnp.float32:
        return jax.lax.dot_general(a, b, dims, preferred_element_type=jnp.float32)
    # Not the engine's float32 context (HIGHEST): the operands are already rounded, and no
    # backend should take HIGHEST as a reason to leave its bf16 or TF32 units. For TF32, HIGH
    # ("tensorfloat32"): TF32 on a GPU and float32 on a CPU, both exact on TF32-rounded
    # operands; 3 bf16 passes on a TPU, within ~2^-16 of them (DEFAULT would let a TPU round
    # them to bf16 instead).
    precision = jax.lax.Precision.HIGH if dtype is TF32 else jax.lax.Precision.DEFAULT
    return jax.lax.dot_general(a, b, dims, preferred_element_type=jnp.float32, precision=precision)


# Kernel shapes. XLA:CPU's kernels for the two gradient products are much slower at some
# widths than at their neighbours; where a different but equal formulation is faster there
# (measured on the bench, benchmarks/RESULTS.md, "kernel shapes on a CPU"), the CPU program
# uses it, chosen from the static width alone, so a given width always runs the same program.
# Other backends run the plain forms (unmeasured there).

#: q W ([batch, n] x [n, m]) in float32 runs on W zero-padded to a multiple of this many
#: columns when m leaves a remainder above half of it (m = 15, 25, 63 were 30-39 % slower
#: than 16, 32, 64).
_CPU_COLUMN_BLOCK = 16
#: [h | 1]^T q contracts the batch straight from [batch, m + 1] up to this many columns
#: (25-38 % faster there); above it, from a transposed copy made behind a barrier.
_CPU_DIRECT_ROWS = 24


def _cpu_padded_width(m: int) -> int:
    """The number of columns W is given in the product q W on a CPU (``m`` or more)."""
    r = m % _CPU_COLUMN_BLOCK
    return m + _CPU_COLUMN_BLOCK - r if 2 * r > _CPU_COLUMN_BLOCK else m


def _on_cpu(cpu_form, plain_form, *args):
    return jax.lax.platform_dependent(*args, cpu=cpu_form, default=plain_form)


def _times_w(q: jax.Array, W: jax.Array, dtype) -> jax.Array:
    """q W: [batch, n] x [n, m] -> [batch, m], as :func:`_product`.

    Where the width is padded on a CPU, the extra output columns are dropped: the same
    sums (the padding adds only zeros) on a faster kernel shape. Rounded operands are not
    padded (for bfloat16 a tie; TF32 unmeasured).
    """
    m = W.shape[1]
    width = _cpu_padded_width(m)
    plain = functools.partial(_product, dtype=dtype)
    if width == m or dtype != jnp.float32:
        return plain(q, W)
    return _on_cpu(lambda q, W: plain(q, jnp.pad(W, ((0, 0), (0, width - m))))[:, :m], plain, q, W)


def _batch_contracted(a: jax.Array, q: jax.Array, dtype) -> jax.Array:
    """a^T q: [batch, k] x [batch, n] -> [k, n], summed over the batch, as :func:`_product`."""

    def transposed(a, q):
        # a^T materialised behind barriers so XLA keeps this layout (as in `decode`'s
        # gradient): the long batch axis contracted from this side.
        a_t = jax.lax.optimization_barrier(a.T)
        return jax.lax.optimization_barrier(_product(a_t, q, dtype))

    if a.shape[1] > _CPU_DIRECT_ROWS:
        return transposed(a, q)
    return _on_cpu(lambda a, q: jax.lax.optimization_barrier(_product(a, q, dtype, ((0,), (0,)))), transposed, a, q)


#: On a CPU, the products run over batch tiles of q no larger than this (where the batch
#: splits evenly): one tile's pre-activation, ReLU and both gradient products then stay in
#: cache instead of streaming a [batch, n] array through memory four times. At n = 1000,
#: batch 2048 (8 MB per q) tiles of 512 rows made the bench sweep's steps 14-32 % shorter on a
#: 2-core EPYC (1.23x over its six widths); at n = 10240 tiles of 64 rows 1.7x faster at m = 8
#: (benchmarks/RESULTS.md, "Batch tiles on a CPU").
_CPU_TILE_BYTES = 2 * 1024**2
#: ... but a tile keeps at least this many rows, and at least 2 m: the products of thinner
#: tiles run below the dense rate once m is large (n = 10240, m = 256: 64-row tiles 1.18x
#: slower than none).
_CPU_MIN_TILE_ROWS = 64


def cpu_tile_rows(batch: int, n: int, m: int) -> int:
    """Rows per batch tile of the sparse training step on a CPU (``batch`` itself: no tiling).

    The largest tile ``batch / 2^k`` (a whole number of rows) whose [rows, n] float32 q fits
    :data:`_CPU_TILE_BYTES`, raised to at least ``max(64, 2 m)`` rows.
    """
    rows = batch
    while rows % 2 == 0 and rows * n * 4 > _CPU_TILE_BYTES and rows // 2 >= max(_CPU_MIN_TILE_ROWS, 2 * m):
        rows //= 2
    return rows


def _dense_part(h, W, b, rows, cols, dtype, tile_rows=None):
    """The step's [batch, n]-sized work, from h = X W: with q = ReLU(h' W'^T + b) and q' its
    operand-type copy (h', W' those of h and W), returns
    ``(q' W' [batch, m], [h' | 1]^T q' [m + 1, n], q' at the events [C])``.

    On a CPU, in tiles of ``tile_rows`` rows (default :func:`cpu_tile_rows`) in a
    ``lax.scan``: the same sums, q' W row for row and [h | 1]^T q' added up tile by tile
    (float32 rounding of that sum differs). Other backends: the whole batch at once.
    """
    batch, m = h.shape
    n = W.shape[0]
    h, W = _as_operand(h, dtype), _as_operand(W, dtype)  # once, for all three products

    def whole(h, W, b, rows, cols):
        q = _q_operand(h, W, b, dtype)  # [batch, n]
        return _tile_products(h, W, q, dtype) + (q[rows, cols].astype(jnp.float32),)

    rows_per_tile = cpu_tile_rows(batch, n, m) if tile_rows is None else tile_rows
    if rows_per_tile >= batch:
        return whole(h, W, b, rows, cols)
    if batch % rows_per_tile:
        raise ValueError(f"tile_rows={rows_per_tile} does not divide batch={batch}")

    def tiled(h, W, b, rows, cols):
        def tile(carry, k):
            t, q_seen = carry
            start = k * rows_per_tile
            h_k = jax.lax.dynamic_slice_in_dim(h, start, rows_per_tile)
            q_k = _q_operand(h_k, W, b, dtype)  # [rows, n], in cache
            qw_k, t_k = _tile_products(h_k, W, q_k, dtype)
            local = rows - start
            here = (local >= 0) & (local < rows_per_tile)
            q_seen = q_seen + jnp.where(here, q_k[jnp.clip(local, 0, rows_per_tile - 1), cols].astype(jnp.float32), 0)
            return (t + t_k, q_seen), qw_k

        zeros = (jnp.zeros((m + 1, n), jnp.float32), jnp.zeros(rows.shape, jnp.float32))
        (t, q_seen), qw = jax.lax.scan(tile, zeros, jnp.arange(batch // rows_per_tile))
        return qw.reshape(batch, m), t, q_seen

    return _on_cpu(tiled, whole, h, W, b, rows, cols)


def _q_operand(h, W, b, dtype):
    """q' = ReLU(h W^T + b) in the operand type, from h and W already in it."""
    return _as_operand(jax.nn.relu(_product(h, W.T, dtype) + b), dtype)


def _tile_products(h, W, q, dtype):
    """(q W, [h | 1]^T q) for rows of h and their q (all already in the operand type)."""
    h1 = jnp.concatenate([h, jnp.ones((h.shape[0], 1), h.dtype)], axis=1)  # (a 1 is exact in every type)
    return _times_w(q, W, dtype), _batch_contracted(h1, q, dtype)


def _rounded(a: jax.Array, dtype) -> jax.Array:
    """``a`` rounded to ``dtype``, kept in float32: the value a product with that operand type sees.

    A ``reduce_precision``, not a cast there and back: XLA's GPU compiler removes such a pair of
    casts (``xla_allow_excess_precision``, on by default), which would leave ``a`` unrounded."""
    if dtype is TF32:
        return _as_operand(a, dtype)
    info = jnp.finfo(dtype)
    return jax.lax.reduce_precision(a, exponent_bits=info.nexp, mantissa_bits=info.nmant)


def _plus(a: jax.Array, fix: jax.Array | None, scale: float = 1.0) -> jax.Array:
    """a + scale * fix, or a itself when there is nothing to add (no extra op in float32)."""
    return a if fix is None else a + scale * fix


def _sparse_loss_and_grad(W, b, rows, cols, values, batch, dtype=jnp.float32, tile_rows=None):
    """Value and gradient of L / n for a batch given by its events (products' operands in ``dtype``).

    With c = 1 / (batch n), h = X W (the events' rows of W), q = ReLU(h W^T + b) and
    E the [batch, n] array that is non-zero only at the events, E_e = -2c v_e [q_e > 0]:

    * G = dL/dz = 2c (q - X) [q > 0] = 2c q + E, never formed: every product with G is a
      product with q plus a scatter or gather over the events.
    * dL/dW = G^T h + X^T (G W) = 2c q^T h + E^T h + X^T (2c q W + E W), the last three
      scatters into rows of W; dL/db = 1^T G = 2c 1^T q + (scatter of E).
    * q^T h and 1^T q come out of one product, [h | 1]^T q, so the column sum is not a
      separate pass over q.
    * L = c sum (q - X)^2 = c (sum q^2 + sum_e v_e (v_e - 2 q_e)), and sum q^2 =
      sum q (h W^T + b) = <h, q W> + <b, 1^T q>: the loss from products the gradient
      needs anyway, with no further pass over q.

    The one [batch, n] elementwise pass left is the bias and ReLU after the first product.
    On a CPU, a q larger than a cache-sized tile is never formed whole (:func:`_dense_part`).
    Repeated and empty event slots carry v = 0 and add nothing anywhere.

    With a bfloat16 or TF32 ``dtype``, h, W and q are rounded as operands of the three products,
    except at the events: there q comes from its own float32 dot product, and each product's
    event terms are replaced by their float32 values (O(C m) work). The rounding is left only
    on q off the events and on h and W as they meet it. Without that replacement, the rounded
    event terms, which nearly cancel against E once a model fits, gave gradients off by
    2.6-9.1 % of their largest entry at trained weights; with it, <= 0.8 % (RESULTS.md).

    ``tile_rows`` fixes the CPU program's batch tile (default :func:`cpu_tile_rows`; tests
    pass small ones); other backends never tile.
    """
    n, m = W.shape
    c = 1.0 / (batch * n)
    rows_w = W[cols]  # [C, m]
    h = _sum_over_events(values, rows_w, rows, batch)  # = encode(W, x)
    h_ev = h[rows]  # [C, m]
    # The [batch, n]-sized work (q and the three products), on a CPU in cache-sized batch tiles.
    qw, t, q_seen = _dense_part(h, W, b, rows, cols, dtype, tile_rows)
    if dtype == jnp.float32:
        q_e = q_seen
        fix_qw = fix_w = fix_b = None  # nothing to put back
    else:
        # Once a model fits, 2c q and E nearly cancel at the events, so rounding there would
        # swamp the small net gradient. The events' terms are put back in float32: q_e from
        # its own dot product, and each product gets (exact - rounded) at the events (first
        # slot of a pair only: repeated and empty slots carry v = 0).
        q_e = jax.nn.relu(jnp.sum(h_ev * rows_w, axis=1) + b[cols])
        first = values != 0
        q_x = jnp.where(first, q_e, 0.0)
        q_r = jnp.where(first, q_seen, 0.0)
        fix_qw = _per_sample(q_x[:, None] * rows_w - q_r[:, None] * _rounded(rows_w, dtype), rows, batch)  # [batch, m]
        fix_w = q_x[:, None] * h_ev - q_r[:, None] * _rounded(h_ev, dtype)  # [C, m], into rows cols of q^T h
        fix_b = q_x - q_r  # [C], into 1^T q
    e = jnp.where(q_e > 0, (-2 * c) * values, 0.0)
    qw = _plus(qw, fix_qw)  # [batch, m]
    ew = _sum_over_events(e, rows_w, rows, batch)  # E W
    gw = (2 * c) * qw + ew  # G W
    qth, colsum = t[:m].T, t[m]
    dW = ((2 * c) * qth).at[cols].add(_plus(e[:, None] * h_ev + values[:, None] * gw[rows], fix_w, 2 * c))
    db = ((2 * c) * colsum).at[cols].add(_plus(e, fix_b, 2 * c))
    sum_q2 = _plus(jnp.sum(h * qw) + jnp.dot(b, colsum), None if fix_b is None else jnp.sum(b[cols] * fix_b))
    value = c * (sum_q2 + jnp.sum(values * (values - 2 * q_e)))
    return value, {"W": dW, "b": db}
