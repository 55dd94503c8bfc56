"""Fitting scaling laws: power laws, broken power laws, Chinchilla L(N, D), frontiers.

Every multi-start or bootstrap optimisation here is *one* batched program. The Chinchilla
fit's 4,500 starts run by default as a hand-written batched L-BFGS (``solver="ladder"``: 512
lanes refilled from a queue inside a ``lax.while_loop``, a quasi-Newton step first and a
ladder of shorter steps only where it fails); ``optax.lbfgs`` under ``vmap`` then polishes
the best start, and refits all bootstrap resamples at once (as it fits the power laws'
starts). All arithmetic runs in float64 inside a scoped ``jax.enable_x64(True)`` context,
so the caller's global ``jax_enable_x64`` setting is left exactly as it was.

References:
  * Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (Chinchilla),
    approach 1 (frontier), approach 2 (IsoFLOP parabolas), approach 3 (parametric fit).
  * Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt" (arXiv 2404.10102):
    sum (not mean) of Huber losses, maximum-likelihood refit, bootstrap intervals.
  * Caballero et al. 2022, "Broken Neural Scaling Laws" (arXiv 2210.14891).
  * Huber 1981, "Robust Statistics", section 7.6: asymptotic covariance of M-estimators,
    used for the standard errors.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import Any, Callable, Literal, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from toyscale._checks import _scalar_of, check_choice, check_int, check_seed, short_repr

__all__ = [
    "BESIROGLU_2024",
    "CHINCHILLA_PUBLISHED",
    "AllocationFit",
    "BrokenPowerLawFit",
    "ChinchillaFit",
    "ChinchillaParams",
    "ComputeOptimal",
    "Extrapolation",
    "NotIdentifiableError",
    "PowerLawFit",
    "chinchilla_extrapolation_error",
    "chinchilla_grid",
    "compute_optimal",
    "extrapolation_error",
    "fit_broken_power_law",
    "fit_chinchilla",
    "fit_frontier",
    "bracketed_frontier",
    "curves_frontier",
    "fit_isoflop",
    "fit_power_law",
    "grid_loss_scale",
    "huber",
    "t_quantile",
]

Loss = Literal["squared", "huber"]
_LOSSES = ("squared", "huber")


class NotIdentifiableError(ValueError):
    """The data cannot determine the model's parameters (e.g. constant loss, one distinct x)."""


# --------------------------------------------------------------------------------------
# float64, scoped
# --------------------------------------------------------------------------------------


def _float64(fn: Callable) -> Callable:
    """Run ``fn`` with 64-bit JAX types enabled *only for its duration*.

    ``jax.enable_x64`` is the scoped context manager in jax 0.10; the caller's global
    setting is restored on exit (also on error).  Results must leave the context as
    numpy / Python values, which every public function here guarantees.

    Dtype promotion is also scoped to "standard": optax 0.2.8's L-BFGS adds an int32 state
    counter to an int64 ``arange`` under x64, which a caller's "strict" promotion rejects.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with jax.enable_x64(True), jax.numpy_dtype_promotion("standard"):
            return fn(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------------------
# input validation (public boundary, before anything compiles)
# --------------------------------------------------------------------------------------


def _as_1d(name: str, value: Any, *, positive: bool = True) -> np.ndarray:
    """Convert ``value`` to a finite (optionally positive) float64 1-D numpy array."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name}={value!r}; {name} must be an array of numbers")
    if np.iscomplexobj(value):  # (numpy would only warn and drop the imaginary part)
        raise TypeError(f"{name} is complex; {name} must be an array of real numbers")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except OverflowError as err:  # (a Python int beyond float64: 10**400)
        raise ValueError(f"{name} has a value beyond float64's range ({err}); all values must be finite") from None
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers; could not convert: {err}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} has {int(bad.sum())} non-finite value(s) (first: {name}[{i}]={arr[i]}); "
            "all values must be finite"
        )
    if positive and (arr <= 0).any():
        i = int(np.flatnonzero(arr <= 0)[0])
        raise ValueError(
            f"{name} has {int((arr <= 0).sum())} non-positive value(s) (first: {name}[{i}]={arr[i]}); "
            "all values must be > 0 because the fit works in log space"
        )
    return arr


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        desc = ", ".join(f"len({k})={n}" for k, n in lengths.items())
        raise ValueError(f"mismatched lengths: {desc}; all must be equal")
    return next(iter(lengths.values()))


def _check_nonempty(n: int, names: str, need: str) -> None:
    if n == 0:
        raise ValueError(f"{names} are empty (0 points); {need}")


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r}; {name} must be True or False")
    return bool(value)


#: Largest ``max_iter``: the iteration counters of the batched L-BFGS are int32.
_MAX_ITER = 2**31 - 1


_LOG_FLOAT64_MAX = math.log(np.finfo(np.float64).max)


def _check_prefactor(name: str, log_value: float, x: np.ndarray, x_name: str = "x") -> None:
    """A ValueError unless the fitted prefactor ``exp(log_value)`` is a positive finite float64:
    x (named ``x_name``) near 1e200 puts it beyond (math.exp overflowed, a traceback; or it underflowed
    to 0, and every prediction was nan)."""
    if not -_LOG_FLOAT64_MAX < log_value < _LOG_FLOAT64_MAX:
        raise ValueError(f"the fitted prefactor {name} = exp({float(log_value):.1f}) is beyond float64 (1e-308 to "
                         f"1.8e308): {x_name} spans [{x.min():.3g}, {x.max():.3g}]; rescale {x_name} (divide it by "
                         f"a typical size), fit again")


def _check_enough_points(n: int, n_params: int, what: str, least: int | None = None) -> None:
    """A ValueError unless ``n`` >= ``least`` points (default ``n_params``)."""
    if least is None and n < n_params:
        raise ValueError(
            f"{what} has {n_params} parameters but only {n} point(s) were given; "
            f"need at least {n_params} (and more than {n_params} for standard errors)"
        )
    if least is not None and n < least:
        raise ValueError(f"{what} has {n_params} parameters but only {n} point(s) were given; need at least {least}")


def _check_loss(loss: str) -> None:
    check_choice("loss", loss, _LOSSES)


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, (bool, np.bool_, str, bytes)):  # float() would take True as 1 and "1e-3" as 0.001
        raise TypeError(f"{name}={value!r}; {name} must be a number")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}={value!r}; must be a finite number > 0")
    return v


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
        raise TypeError(f"level={level!r}; level must be a number strictly between 0 and 1 (e.g. 0.95)")
    v = float(level)
    if not 0.0 < v < 1.0:
        raise ValueError(f"level={level!r}; must be strictly between 0 and 1 (e.g. 0.95)")
    return v


def _min_resamples(level: float) -> int:
    """Fewest bootstrap resamples for a ``level`` percentile interval: 2 / (1 - level), rounded up (40 at
    0.95, 200 at 0.99), so that one resample is expected beyond each end. With fewer, the ends are the most
    extreme resamples or lie between them (bootstrap=1 gave a zero-width interval, away from the estimate)."""
    return math.ceil(2.0 / (1.0 - level) - 1e-9)  # (1 - 0.95 rounds to 0.050000000000000044)


def _too_few_resamples(count: int, level: float) -> str | None:
    """Why ``count`` resamples cannot give a ``level`` percentile interval (None if they can, or
    for 0: none); each caller (the fits, the seed bootstrap, the CLI) puts its argument's name first."""
    need = _min_resamples(level)
    if not 0 < count < need:
        return None
    return (f"a {100 * level:g}% percentile interval needs at least {need} resamples (2 / (1 - level), one "
            f"expected beyond each end: with fewer its ends are the extreme resamples); give 0 for none or "
            f">= {need} (1000 or more for stable ends)")


def _check_bootstrap(bootstrap: Any, seed: Any, level: Any) -> tuple[int, int, float]:
    """``bootstrap``, ``seed`` and ``level`` checked; a count in [1, _min_resamples(level)) is refused."""
    bootstrap, seed, level = check_int("bootstrap", bootstrap, 0), check_seed(seed), _check_level(level)
    why = _too_few_resamples(bootstrap, level)
    if why:
        raise ValueError(f"bootstrap={bootstrap}; {why}")
    return bootstrap, seed, level


def _check_varies(name: str, arr: np.ndarray, model: str) -> None:
    if np.unique(arr).size < 2:
        raise NotIdentifiableError(
            f"{name} has one distinct value ({arr[0].item()!r}) over {arr.size} points; "
            f"{model} is not identifiable from such data"
        )


# --------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------


def huber(r: jax.Array, delta: jax.Array | float) -> jax.Array:
    """Huber function, identical to ``scipy.special.huber(delta, r)``.

    Args:
      r: residuals.
      delta: threshold between the quadratic and the linear branch.

    Returns:
      ``r**2 / 2`` where ``|r| <= delta`` else ``delta * (|r| - delta / 2)``.
    """
    a = jnp.abs(r)
    return jnp.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def _rho(r: jax.Array, delta: jax.Array, loss: str) -> jax.Array:
    return huber(r, delta) if loss == "huber" else 0.5 * r * r


def _psi(r: np.ndarray, delta: float, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivatives of the per-point loss (numpy)."""
    if loss == "huber":
        inside = np.abs(r) <= delta
        return np.where(inside, r, delta * np.sign(r)), inside.astype(np.float64)
    return r, np.ones_like(r)


# --------------------------------------------------------------------------------------
# batched L-BFGS
# --------------------------------------------------------------------------------------


class _Solution(NamedTuple):
    params: np.ndarray  # (T, p)
    value: np.ndarray  # (T,)
    grad_norm: np.ndarray  # (T,)
    iterations: np.ndarray  # (T,)
    converged: np.ndarray  # (T,) bool


class _Lane(NamedTuple):
    """Per-lane carry of the pooled L-BFGS: one start (or one resample) being optimised."""

    params: jax.Array
    opt_state: Any
    k: jax.Array  # iterations done
    value: jax.Array
    decrease: jax.Array  # objective decrease in the last iteration
    grad_norm: jax.Array


_LOSSES_ALL = ("squared", "huber", "huber_nll")


def _objective(p: jax.Array, data: Any, w: jax.Array, delta: jax.Array, residual_fn: Callable, loss: str) -> jax.Array:
    """sum_i w_i rho(r_i): a SUM, not a mean (Besiroglu et al. 2024: the mean makes L-BFGS stop early).

    ``loss="huber_nll"`` is the Huber negative log-likelihood with a fitted scale (last
    parameter = log sigma), without its constant normaliser: sum_i w_i [huber(r_i/sigma) + log sigma].
    """
    if loss == "huber_nll":
        u = residual_fn(p[:-1], data) * jnp.exp(-p[-1])
        return jnp.sum(w * (huber(u, delta) + p[-1]))
    return jnp.sum(w * _rho(residual_fn(p, data), delta, loss))


def _optimizer(linesearch_steps: int) -> optax.GradientTransformationExtraArgs:
    return optax.lbfgs(
        linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=linesearch_steps, initial_guess_strategy="one")
    )


_STATIC = ("residual_fn", "loss", "linesearch_steps")


@functools.partial(jax.jit, static_argnames=_STATIC)
def _pool_init(p0, w, data, delta, *, residual_fn, loss, linesearch_steps) -> _Lane:
    """Fresh lanes (vmapped over p0 (W, p) and w (W, n))."""

    def one(p, wi):
        v, g = jax.value_and_grad(_objective)(p, data, wi, delta, residual_fn, loss)
        return _Lane(p, _optimizer(linesearch_steps).init(p), jnp.zeros((), jnp.int32), v,
                     jnp.asarray(jnp.inf, v.dtype), jnp.linalg.norm(g))

    return jax.vmap(one)(p0, w)


def _lane_active(lane: _Lane, k_stop, gtol, ftol) -> jax.Array:
    # |decrease|: when the zoom search fails optax still takes its last step, which may raise
    # the objective; only a rise at rounding level ends the run (as converged).
    small = jnp.abs(lane.decrease) <= ftol * jnp.maximum(jnp.abs(lane.value), 1.0)
    return (lane.k < k_stop) & (lane.grad_norm > gtol) & ~small & jnp.isfinite(lane.value)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _pool_run(lanes, w, k_stop, data, delta, gtol, ftol, *, residual_fn, loss, linesearch_steps) -> _Lane:
    """Advance every lane by L-BFGS iterations until it stops or reaches its own k_stop.

    One lane is `_lbfgs` on one start; ``vmap`` turns the per-lane ``while_loop`` into one
    batched loop (finished lanes are frozen by a select).
    """
    opt = _optimizer(linesearch_steps)

    def one(lane, wi, ks):
        fun = functools.partial(_objective, data=data, w=wi, delta=delta, residual_fn=residual_fn, loss=loss)
        value_and_grad = optax.value_and_grad_from_state(fun)

        def body(c: _Lane) -> _Lane:
            value, grad = value_and_grad(c.params, state=c.opt_state)
            updates, state = opt.update(grad, c.opt_state, c.params, value=value, grad=grad, value_fn=fun)
            p = optax.apply_updates(c.params, updates)
            v = optax.tree.get(state, "value")
            return _Lane(p, state, c.k + 1, v, c.value - v, jnp.linalg.norm(optax.tree.get(state, "grad")))

        return lax.while_loop(lambda c: _lane_active(c, ks, gtol, ftol), body, lane)

    return jax.vmap(one)(lanes, w, k_stop)


def _size_class(count: int) -> int:
    """``count`` rounded up to a power of two, at least 32: arrays padded to it compile once
    per size class instead of once per count (starts, lanes, bootstrap resamples)."""
    return max(32, 1 << (int(count) - 1).bit_length())


def _point_class(n: int) -> int:
    """``n`` points rounded up to at least 8, and above that to one of four steps per power of two
    (under 1/4 more work per evaluation): `_minimize` and `_minimize_ladder` pad their points to
    it, so each compiles once per class instead of once per count of points (~2-5 s per new count
    on a 2-core CPU; classes of 32 had saved more compiles but slowed small warm fits up to 2.5x)."""
    if n <= 8:
        return 8
    step = 1 << (int(n) - 1).bit_length() - 3
    return -(-int(n) // step) * step


def _pad_points(data: tuple) -> tuple[tuple, int]:
    """The per-point arrays of ``data`` padded to `_point_class` with copies of the first point
    (finite residuals wherever it has one; the caller gives them weight 0, so they add exact
    zeros to the objective and its gradient), as jax arrays, and the count of padded points."""
    data = tuple(map(np.asarray, data))
    pad = _point_class(len(data[0])) - len(data[0])
    return tuple(jnp.asarray(np.concatenate([d, np.repeat(d[:1], pad)])) for d in data), pad


def _minimize(
    starts: np.ndarray,
    weights: np.ndarray,
    data: tuple,
    *,
    residual_fn: ResidualFn,
    loss: str,
    delta: float = 1.0,
    max_iter: int = 1000,
    gtol: float = 1e-9,
    ftol: float = 1e-14,
    pool: int = 512,
    chunk: int = 10,
    linesearch_steps: int = 20,
) -> _Solution:
    """Minimise ``sum_i w_i rho(residual_i)`` from T starts (T, p) with T weight rows (T, n).

    L-BFGS (optax.lbfgs, zoom line search) runs on a *pool* of ``min(pool, T)`` lanes at once
    (vmap).  Every ``chunk`` iterations, lanes that stopped hand their result back and are
    refilled with the next waiting starts, so the batch stays full of live work and one
    compiled program serves any number of starts: under plain vmap every lane would wait for
    the slowest start.  Stopping rules per lane: gradient norm <= gtol, relative change of
    the objective in one iteration <= ftol (scipy's ``factr`` rule; a larger rise, from a
    failed line search, does not stop it), non-finite objective, or ``max_iter`` iterations
    (then converged=False).

    Must be called inside ``jax.enable_x64(True)``.
    """
    T, n_p = starts.shape
    # lanes: 1 for a single start (the polish), else T rounded up to a power of two (at least
    # 32, at most ``pool``), so bootstrap counts of one size class share one compile
    W = 1 if T == 1 else min(pool, _size_class(T))
    kw = dict(residual_fn=residual_fn, loss=loss, linesearch_steps=linesearch_steps)
    starts = np.asarray(starts, np.float64)
    weights = np.asarray(weights, np.float64)
    data, pad = _pad_points(data)
    weights = np.concatenate([weights, np.zeros((T, pad))], 1)
    dl, gt, ft = (np.float64(v) for v in (delta, gtol, ftol))

    out = _Solution(np.full((T, n_p), np.nan), np.full(T, np.nan), np.full(T, np.nan),
                    np.zeros(T, np.int64), np.zeros(T, bool))
    task = np.where(np.arange(W) < T, np.arange(W), -1)  # which start each lane holds (-1: idle)
    nxt = min(W, T)
    src = np.maximum(task, 0)
    w_lane = jnp.asarray(weights[src])
    # (as host arrays: the fresh state's weakly typed fields, optax's line-search info, would
    # otherwise compile _pool_run a second time once a refill (np.where) had made them strong)
    lanes = jax.tree.map(np.asarray, _pool_init(jnp.asarray(starts[src]), w_lane, data, dl, **kw))
    lanes = lanes._replace(k=np.where(task < 0, max_iter, np.asarray(lanes.k)).astype(np.int32))
    while True:
        k_stop = np.minimum(np.asarray(lanes.k).astype(np.int64) + chunk, max_iter).astype(np.int32)
        lanes = _pool_run(lanes, w_lane, k_stop, data, dl, gt, ft, **kw)
        k = np.asarray(lanes.k)
        small = np.abs(np.asarray(lanes.decrease)) <= ftol * np.maximum(np.abs(np.asarray(lanes.value)), 1.0)
        gn, v = np.asarray(lanes.grad_norm), np.asarray(lanes.value)
        conv = np.isfinite(v) & ((gn <= gtol) | small)
        finished = (task >= 0) & (conv | (k >= max_iter) | ~np.isfinite(v))
        if finished.any():
            t = task[finished]
            out.params[t] = np.asarray(lanes.params)[finished]
            out.value[t], out.grad_norm[t] = v[finished], gn[finished]
            out.iterations[t], out.converged[t] = k[finished], conv[finished]
            task = np.where(finished, -1, task)
        if (task < 0).all() and nxt >= T:
            return out
        idle = np.flatnonzero(task < 0)
        take = idle[: max(0, min(len(idle), T - nxt))]
        if take.size:
            task[take] = np.arange(nxt, nxt + take.size)
            nxt += take.size
            src = np.where(task >= 0, task, 0)
            new = _pool_init(jnp.asarray(starts[src]), jnp.asarray(weights[src]), data, dl, **kw)
            refill = np.isin(np.arange(W), take)
            lanes = jax.tree.map(lambda a, b: np.where(refill.reshape((-1,) + (1,) * (a.ndim - 1)), b, a), lanes, new)
            w_lane = jnp.asarray(weights[src])
        if (task < 0).all():
            return out
        # idle lanes (no work left) stay frozen: their k_stop equals their k
        lanes = lanes._replace(k=np.where(task < 0, max_iter, np.asarray(lanes.k)).astype(np.int32))


ResidualFn = Callable[[jax.Array, Any], jax.Array]


# --------------------------------------------------------------------------------------
# batched L-BFGS with a ladder line search (every start at once; cheap steps first)
# --------------------------------------------------------------------------------------


class _LadderState(NamedTuple):
    """Carry of `_ladder_run`: B lanes (one start each), a queue of T starts, and the results."""

    x: jax.Array  # (B, p)
    f: jax.Array  # (B,)
    g: jax.Array  # (B, p)
    s: jax.Array  # (B, m, p) newest first
    y: jax.Array  # (B, m, p)
    n_mem: jax.Array  # (B,) valid memory pairs
    k: jax.Array  # (B,) iterations done
    decrease: jax.Array  # (B,) objective decrease of the last iteration
    fails: jax.Array  # (B,) consecutive iterations without an acceptable step
    active: jax.Array  # (B,) bool
    lane: jax.Array  # (B,) start held by each lane, -1: none
    sweep: jax.Array  # () loop trips so far; rotates which lanes get the ladder first
    queue: jax.Array  # () next start to load
    out: _Solution  # (T, ...) results of finished starts


_LADDER_STATIC = ("residual_fn", "loss", "memory", "ladder", "shrink", "capacity")


def _chinchilla_batched(x: jax.Array, data: tuple, w: jax.Array, delta: jax.Array, grad: bool):
    """The published Chinchilla objective (Huber, point weights w) of a batch x (..., 5), value and
    optionally gradient.

    Written by hand for the multi-start stage: one pass computes the two power-law terms once,
    and the five gradient sums are two small matmuls.  XLA:CPU materialises every (B, n)
    intermediate of the autodiff version; this one is ~1.5x faster per evaluation.  The
    log-sum-exp is not max-shifted (float64 overflows only past e^709); a non-finite value
    is rejected by the line search, and the final polish uses the shifted form.
    """
    lN, lD, lL = data
    tN = jnp.exp(x[..., 0:1] - x[..., 3:4] * lN)
    tD = jnp.exp(x[..., 1:2] - x[..., 4:5] * lD)
    eE = jnp.exp(x[..., 2:3])
    S = tN + tD + eE
    r = jnp.log(S) - lL
    f = jnp.sum(w * huber(r, delta), -1)
    if not grad:
        return f
    psi = w * jnp.clip(r, -delta, delta) / S
    a = (psi * tN) @ jnp.stack([jnp.ones_like(lN), lN], 1)
    b = (psi * tD) @ jnp.stack([jnp.ones_like(lD), lD], 1)
    return f, jnp.stack([a[:, 0], b[:, 0], jnp.sum(psi, -1) * eE[:, 0], -a[:, 1], -b[:, 1]], -1)


def _batched_objective(residual_fn: ResidualFn, loss: str, data: tuple, w: jax.Array, delta: jax.Array):
    """(value of x (..., p), value and gradient of x (B, p)) of the objective with point weights w."""
    if residual_fn is _chinchilla_residual and loss == "huber":
        return (functools.partial(_chinchilla_batched, data=data, w=w, delta=delta, grad=False),
                functools.partial(_chinchilla_batched, data=data, w=w, delta=delta, grad=True))
    fun = functools.partial(_objective, data=data, w=w, delta=delta, residual_fn=residual_fn, loss=loss)

    def value(x):
        v = fun
        for _ in range(x.ndim - 1):
            v = jax.vmap(v)
        return v(x)

    return value, jax.vmap(jax.value_and_grad(fun))


def _two_loop(g: jax.Array, s: jax.Array, y: jax.Array, n_mem: jax.Array) -> jax.Array:
    """L-BFGS directions -H g of a batch (Nocedal & Wright 2006, algorithm 7.4); s, y newest first.

    The memory loops are ``lax.scan``s, not unrolled: that compiles ~3x faster, and compile
    time is most of a cold fit.
    """
    m = s.shape[1]
    valid = jnp.arange(m) < n_mem[:, None]
    sy = jnp.sum(s * y, -1)  # (B, m)
    rho = jnp.where(valid, 1.0 / jnp.where(valid, sy, 1.0), 0.0)

    def newest_to_oldest(q, i):
        a = rho[:, i] * jnp.sum(s[:, i] * q, -1)
        return q - a[:, None] * y[:, i], a

    q, alphas = lax.scan(newest_to_oldest, g, jnp.arange(m))
    yy = jnp.sum(y[:, 0] * y[:, 0], -1)
    gamma = jnp.where(n_mem > 0, sy[:, 0] / jnp.maximum(yy, 1e-300), 1.0)

    def oldest_to_newest(r, i):
        b = rho[:, i] * jnp.sum(y[:, i] * r, -1)
        return r + (alphas[i] - b)[:, None] * s[:, i], None

    r, _ = lax.scan(oldest_to_newest, gamma[:, None] * q, jnp.arange(m), reverse=True)
    return -r


@functools.partial(jax.jit, static_argnames=_LADDER_STATIC)
def _ladder_run(st: _LadderState, starts, n_starts, data, w, delta, max_iter, gtol, ftol, exit_below, *,
                residual_fn, loss, memory, ladder, shrink, capacity) -> _LadderState:
    """Batched L-BFGS over B lanes fed from a queue of starts, until the queue is empty and at
    most ``exit_below`` lanes are still running.

    A lane whose start stops is refilled with the next start of the queue in the same loop,
    so the batch stays full of live work without host round trips.  Line search: every lane
    first tries the quasi-Newton step t0 (1, or 1/|d| from fresh memory) with one batched
    value-and-gradient evaluation; ~85% pass Armijo (c1 = 1e-4) and are done.  Up to
    ``capacity`` of the others (rotating, so none waits long) then get the smaller steps
    t0 shrink^-j, 0 < j < ``ladder``, in one batched evaluation, take the largest that
    satisfies Armijo (or the best one if that still decreases the objective) and one more
    value-and-gradient there; a lane that fails t0 and gets no ladder slot tries again next
    trip without counting an iteration.  An iteration thus costs about 1 + capacity/B
    gradient evaluations, instead of the worst lane's zoom search under vmap.  Memory pairs
    are stored only when s.y > 0, so the inverse Hessian stays positive definite.  Stopping
    rules per start as in `_minimize`.
    """
    value, value_and_grad = _batched_objective(residual_fn, loss, data, w, delta)
    B = st.x.shape[0]
    T = n_starts  # traced: ``starts`` is padded to a power of two, so T needs no recompile
    K = min(B, capacity)
    steps = shrink ** -jnp.arange(1, ladder, dtype=st.x.dtype)

    def body(c: _LadderState) -> _LadderState:
        # load the next starts into free lanes (their first evaluation is this trip's)
        free = c.lane < 0
        new = c.queue + jnp.cumsum(free, dtype=c.queue.dtype) - 1
        load = free & (new < T)
        lane = jnp.where(load, new, c.lane)
        queue = c.queue + jnp.sum(load, dtype=c.queue.dtype)
        run = c.active & ~load
        d = _two_loop(c.g, c.s, c.y, c.n_mem)
        gd = jnp.sum(c.g * d, -1)
        bad = ~(gd < 0) | ~jnp.all(jnp.isfinite(d), -1)
        d = jnp.where(bad[:, None], -c.g, d)
        gd = jnp.where(bad, -jnp.sum(c.g * c.g, -1), gd)
        fresh = bad | (c.n_mem == 0)
        t0 = jnp.where(fresh, jnp.minimum(1.0, 1.0 / jnp.maximum(jnp.linalg.norm(d, axis=-1), 1e-300)), 1.0)
        x1 = jnp.where(load[:, None], starts[jnp.minimum(new, starts.shape[0] - 1)], c.x + t0[:, None] * d)
        f1, g1 = value_and_grad(x1)
        f1 = jnp.where(jnp.isfinite(f1), f1, jnp.inf)
        first = run & (f1 <= c.f + 1e-4 * t0 * gd)
        need = run & ~first
        # the ladder, for up to K lanes that failed t0, searched from a rotating offset
        off = (c.sweep * K) % B
        (raw,) = jnp.nonzero(jnp.roll(need, -off), size=K, fill_value=B)
        slot = raw < B
        sel = jnp.where(slot, (raw + off) % B, 0)
        t = t0[sel, None] * jnp.concatenate([jnp.ones(1, steps.dtype), steps])  # (K, ladder)
        xs, ds, fs = c.x[sel], d[sel], c.f[sel]
        fl = jnp.concatenate([f1[sel, None], value(xs[:, None, :] + t[:, 1:, None] * ds[:, None, :])], 1)
        fl = jnp.where(jnp.isfinite(fl), fl, jnp.inf)
        armijo = fl <= fs[:, None] + 1e-4 * t * gd[sel, None]
        j = jnp.where(armijo.any(-1), jnp.argmax(armijo, -1), jnp.argmin(fl, -1))
        xk = xs + jnp.take_along_axis(t, j[:, None], -1) * ds
        fk, gk = value_and_grad(xk)
        to = jnp.where(slot, sel, B)  # scatter target; B is dropped
        served = jnp.zeros(B, bool).at[to].set(True, mode="drop")
        ok = first | (need & jnp.zeros(B, bool).at[to].set(fk < fs, mode="drop"))
        x_new = x1.at[to].set(xk, mode="drop")
        f_new = f1.at[to].set(fk, mode="drop")
        g_new = g1.at[to].set(gk, mode="drop")
        moved = first | (need & served)  # lanes that did an iteration
        s_new, y_new = x_new - c.x, g_new - c.g
        store = ok & (jnp.sum(s_new * y_new, -1) > 1e-10 * jnp.linalg.norm(s_new, axis=-1) * jnp.linalg.norm(y_new, axis=-1))
        push = lambda h, v: jnp.where(store[:, None, None], jnp.concatenate([v[:, None], h[:, :-1]], 1), h)
        # a failed step from fresh memory: the start is stuck; a failed quasi-Newton step: retry from -g
        n_mem = jnp.where(store, jnp.minimum(c.n_mem + 1, memory), jnp.where(ok | ~moved, c.n_mem, 0))
        take = (ok | load)[:, None]
        x = jnp.where(take, x_new, c.x)
        f = jnp.where(ok | load, f_new, c.f)
        g = jnp.where(take, g_new, c.g)
        # after a failed step, dec is the rise to the best point it tried (< 0): a start that
        # stops on two failures in a row is converged only if that rise is at rounding level
        # (it sits at a minimum), not when the ladder's steps were just too long
        dec = jnp.where(moved, c.f - f_new, c.decrease)
        fails = jnp.where(ok, 0, c.fails + moved.astype(jnp.int32))
        k = c.k + moved.astype(jnp.int32)
        n_mem, k, fails = (jnp.where(load, 0, v) for v in (n_mem, k, fails))
        dec = jnp.where(load, jnp.inf, dec)
        small = ok & (dec <= ftol * jnp.maximum(jnp.abs(f), 1.0))
        gn = jnp.linalg.norm(g, axis=-1)
        stop = (gn <= gtol) | small | (fails >= 2) | ~jnp.isfinite(f) | (k >= max_iter)
        active = jnp.where(load, jnp.isfinite(f), c.active & ~(moved & stop))
        # record the starts that stopped, and free their lanes
        done = (lane >= 0) & ~active
        at = jnp.where(done, lane, starts.shape[0])
        conv = jnp.isfinite(f) & ((gn <= gtol) | (jnp.abs(dec) <= ftol * jnp.maximum(jnp.abs(f), 1.0)))
        o = c.out
        out = _Solution(o.params.at[at].set(x, mode="drop"), o.value.at[at].set(f, mode="drop"),
                        o.grad_norm.at[at].set(gn, mode="drop"), o.iterations.at[at].set(k, mode="drop"),
                        o.converged.at[at].set(conv, mode="drop"))
        return _LadderState(x, f, g, push(c.s, s_new), push(c.y, y_new), n_mem, k, dec, fails, active,
                            jnp.where(done, -1, lane), c.sweep + 1, queue, out)

    def more(c: _LadderState):
        return (c.queue < T) | (jnp.sum(c.active) > exit_below)

    return lax.while_loop(more, body, st)


def _batch_size(live: int) -> int:
    """Lanes for ``live`` running starts once the queue is empty: 512, 128 or 32.

    Every distinct size is one more compile (~1 s each on a 2-core CPU); below ~500 lanes a
    trip costs mostly fixed overhead, so coarse sizes lose little and save compiles.
    """
    return 32 if live <= 32 else 128 if live <= 128 else 512


def _minimize_ladder(
    starts: np.ndarray,
    data: tuple,
    *,
    residual_fn: ResidualFn,
    loss: str,
    delta: float,
    max_iter: int = 1000,
    gtol: float = 1e-5,
    ftol: float = 2.2e-9,
    memory: int = 10,
    ladder: int = 5,
    shrink: float = 3.0,
    lanes: int = 512,
    capacity: float = 0.125,
) -> _Solution:
    """Minimise ``sum_i rho(residual_i)`` from T starts with the batched ladder L-BFGS.

    ``lanes`` starts run at once, refilled from the queue inside the compiled loop
    (`_ladder_run`).  Once the queue is empty and at most a quarter of the lanes still run,
    the running starts are compacted into fewer lanes (`_batch_size`), so the long tail of
    slow starts does not pay for idle lanes.  ``capacity``: the fraction of lanes that can get
    the ladder of smaller steps in one trip.  ``converged`` is True for the gradient-norm and
    relative-decrease rules.  Must be called inside ``jax.enable_x64(True)``.
    """
    T, n_p = starts.shape
    B = min(lanes, _batch_size(T) if T <= 512 else lanes)
    kw = dict(residual_fn=residual_fn, loss=loss, memory=memory, ladder=ladder, shrink=shrink)
    # State is built and compacted with numpy on the host: eager jnp ops would each compile a
    # small program (~30 ms apiece on a 2-core CPU), a visible share of a cold fit.
    data, pad = _pad_points(data)  # (zero-weight points: one compile per class of point counts)
    w = np.concatenate([np.ones(len(data[0]) - pad), np.zeros(pad)])
    Tp = _size_class(T)  # padded queue: one compile per power of two
    starts = jnp.asarray(np.concatenate([starts, np.zeros((Tp - T, n_p))]), jnp.float64)
    n_starts = np.int32(T)
    dl, gt, ft = (np.float64(v) for v in (delta, gtol, ftol))
    mi = np.int32(max_iter)
    z, zi = np.zeros((B, n_p)), np.zeros(B, np.int32)
    out = _Solution(np.full((Tp, n_p), np.nan), np.full(Tp, np.nan), np.full(Tp, np.nan),
                    np.zeros(Tp, np.int32), np.zeros(Tp, bool))
    st = _LadderState(z, np.zeros(B), z, np.zeros((B, memory, n_p)), np.zeros((B, memory, n_p)), zi, zi,
                      np.zeros(B), zi, np.zeros(B, bool), np.full(B, -1, np.int32), np.int32(0),
                      np.int32(0), out)
    while True:
        last = B <= 32
        exit_below = np.int32(0 if last else B // 4)
        st = _ladder_run(st, starts, n_starts, data, w, dl, mi, gt, ft, exit_below,
                         capacity=max(8, int(capacity * B)), **kw)
        st = jax.tree.map(np.asarray, st)
        live = np.flatnonzero(st.active)
        if live.size == 0:
            o = jax.tree.map(lambda a: a[:T], st.out)
            return o._replace(iterations=o.iterations.astype(np.int64))
        B = _batch_size(live.size)
        rows = np.concatenate([live, np.full(B - live.size, live[0])])
        pad = np.arange(B) >= live.size
        st = st._replace(**{f: getattr(st, f)[rows] for f in _LadderState._fields[:11]})
        st = st._replace(active=st.active & ~pad, lane=np.where(pad, -1, st.lane))


_DRAW_ROWS = 128  # resamples drawn per call: every count of resamples shares one compile


@functools.partial(jax.jit, static_argnames=("width", "counts"))
def _resample_draws(seed: jax.Array, n: jax.Array, first: jax.Array, width: int, counts: bool) -> jax.Array:
    """(_DRAW_ROWS, width): row j from ``fold_in(key(seed), first + j)``, the multiplicities of n
    draws of n points with replacement (``counts``) or n uniforms in [0, 1), in the first n
    columns (zeros past them).

    ``width`` >= n is a size class, so counts of points in one class share one compile: a row
    draws ``width`` values and keeps its first n, which are the n values a draw of shape (n,)
    would give (threefry's partitionable bits depend on the position only; :func:`_resamples`
    pins both, 64-bit mode and the standard dtype promotion, so JAX's global settings do not change
    the draws)."""
    key = jax.random.key(seed, impl="threefry2x32")
    keep = jnp.arange(width) < n

    def row(r):
        k = jax.random.fold_in(key, r)
        if counts:
            return jnp.zeros(width, jnp.int32).at[jax.random.randint(k, (width,), 0, n)].add(keep.astype(jnp.int32))
        return jnp.where(keep, jax.random.uniform(k, (width,), dtype=jnp.float64), 0.0)

    return jax.vmap(row)(first + jnp.arange(_DRAW_ROWS))


def _resamples(seed: int, n_resamples: int, n: int, counts: bool) -> np.ndarray:
    """(R, n) float64 rows of :func:`_resample_draws`, the same row r whatever R is; drawn
    ``_DRAW_ROWS`` at a time for n rounded up to a power of two (one compile per size class of n;
    one per count of resamples and of points had cost ~0.7 s apiece on a 2-core CPU). The draws
    are those of earlier versions, which drew shape (R, n) at once, under JAX's default random
    settings (threefry, partitionable: the default since jax 0.5), pinned here, in 64-bit mode as
    every fit draws them (outside it randint drew int32 and gave other rows, and the uniforms were
    float32)."""
    width = _size_class(n)
    with jax.threefry_partitionable(True), jax.enable_x64(True), jax.numpy_dtype_promotion("standard"):
        blocks = [np.asarray(_resample_draws(np.uint32(seed), np.int32(n), np.int32(first), width, counts))
                  for first in range(0, max(n_resamples, 1), _DRAW_ROWS)]
    return np.concatenate(blocks)[:n_resamples, :n].astype(np.float64)


def _bootstrap_weights(seed: int, n_resamples: int, n: int) -> np.ndarray:
    """Multiplicity weights (R, n) of R resamples of n points with replacement.

    Resample r draws from ``fold_in(key(seed), r)``, so it is the same whatever R is (drawn
    in blocks of rows, for n rounded up to a power of two: one compile per size class of n).
    """
    return _resamples(seed, n_resamples, n, counts=True)


def _percentile_intervals(samples: np.ndarray, names: Sequence[str], level: float) -> dict:
    """Percentile intervals of each column's finite resamples; (nan, nan) where fewer are left than a
    ``level`` interval needs (:func:`_min_resamples`): the refused-up-front minimum applies to what is
    kept too (5 kept of 40 had given a zero-width "95 %" interval)."""
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    out = {}
    for j, name in enumerate(names):
        col = samples[:, j]
        col = col[np.isfinite(col)]
        enough = col.size >= _min_resamples(level)
        out[name] = (float(np.percentile(col, lo)), float(np.percentile(col, hi))) if enough else (math.nan, math.nan)
    return out


def _t_quantile_upper(tail: jax.Array, dof: jax.Array) -> jax.Array:
    """t > 0 with P(T > t) = tail for tail in (0, 1/2]. P(T > t) = I_x(dof/2, 1/2) / 2 with
    x = dof / (dof + t^2) (I the regularised incomplete beta function), = (1 - I_y(1/2, dof/2)) / 2
    with y = 1 - x; each is solved by bisection, and the better conditioned one is used, so neither
    a tail near 0 nor a t^2 far below dof loses digits."""
    a = dof / 2.0

    def root(f, target):
        def halve(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            low = f(mid) < target  # f increases
            return jnp.where(low, mid, lo), jnp.where(low, hi, mid)

        lo, hi = lax.fori_loop(0, 1100, halve, (jnp.zeros_like(target), jnp.ones_like(target)))
        return 0.5 * (lo + hi)

    x = root(lambda v: jax.scipy.special.betainc(a, 0.5, v), 2.0 * tail)
    y = root(lambda v: jax.scipy.special.betainc(0.5, a, v), 1.0 - 2.0 * tail)
    # the x form's relative error is ~eps / (1 - x), the y form's ~eps / (2 tail): take the smaller
    t = jnp.where(1.0 - x >= 2.0 * tail, jnp.sqrt(dof * (1.0 - x) / x), jnp.sqrt(dof * y / (1.0 - y)))
    # jax's betainc loses digits as dof grows (1e-12 relative at dof = 1e4 against scipy, 1e-7 at
    # 1e8); from dof = 1e4 on, the Cornish-Fisher series in 1/dof (Hill 1970, four terms) is
    # within 1e-15 for tails down to 1e-12
    z = -jax.scipy.special.ndtri(tail)
    z2 = z * z
    series = z + (z * (z2 + 1) / 4 + (z * (3 + z2 * (16 + 5 * z2)) / 96
                                      + (z * (-15 + z2 * (17 + z2 * (19 + 3 * z2))) / 384
                                         + z * (-945 + z2 * (-1920 + z2 * (1482 + z2 * (776 + 79 * z2)))) / 92160
                                         / dof) / dof) / dof) / dof
    t = jnp.where(dof >= 1e4, series, t)
    return jnp.where(tail == 0.5, 0.0, t)


_t_quantile_jit = jax.jit(_t_quantile_upper)


@_float64
def t_quantile(q: Any, dof: Any) -> np.ndarray | float:
    """Quantile of Student's t distribution with ``dof`` degrees of freedom (float64).

    ``t_quantile((1 + level) / 2, n - p)`` is the multiplier of a least-squares fit's
    standard error for a two-sided ``level`` interval with n points and p parameters: 12.71
    for three widths and a two-parameter power law at 95 %, 3.18 for five, 1.96 only in the
    limit. Elementwise over broadcast ``q`` and ``dof``; a float for scalar inputs.

    Args:
      q: probabilities strictly between 0 and 1.
      dof: degrees of freedom, positive and finite (not necessarily integer; for the normal
        limit use 1e15, or ``jax.scipy.special.ndtri``).
    """
    qa = np.asarray(q)
    da = np.asarray(dof)
    for name, arr in (("q", qa), ("dof", da)):
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise TypeError(f"{name}={q if name == 'q' else dof!r}; {name} must be real numbers")
    qa, da = qa.astype(np.float64), da.astype(np.float64)
    if not np.all((qa > 0) & (qa < 1)):
        raise ValueError(f"q={q!r}; probabilities must lie strictly between 0 and 1")
    if not np.all(np.isfinite(da) & (da > 0)):
        raise ValueError(f"dof={dof!r}; degrees of freedom must be positive and finite")
    try:
        qa, da = np.broadcast_arrays(qa, da)
    except ValueError:
        raise ValueError(f"q has shape {qa.shape} and dof {da.shape}; they must broadcast together") from None
    upper = np.asarray(_t_quantile_jit(jnp.asarray(np.minimum(qa, 1.0 - qa)), jnp.asarray(da)))
    out = np.where(qa < 0.5, -upper, upper)
    return float(out) if out.ndim == 0 else out


def _m_estimator_cov(jac: np.ndarray, r: np.ndarray, w: np.ndarray, delta: float, loss: str) -> np.ndarray:
    """Asymptotic covariance of an M-estimator (Huber 1981, Sec. 7.6).

    cov = K^2 [sum psi^2 / (n - p)] / [mean psi']^2 * (J^T J)^-1 with Huber's small-sample
    correction K = 1 + (p / n) var(psi') / mean(psi')^2. For the squared loss (psi' = 1,
    K = 1) this is exactly the classical least-squares covariance s^2 (J^T J)^-1. For a
    Huber loss with few residuals inside delta, see :func:`_huber_note`; with no more inside
    than the p that a nearly least-absolute-deviations fit pins there, mean psi' measures
    only that pinning (its residuals sit within delta by construction, however small delta
    is), so the covariance is undefined (NaN): at delta * sigma ~ 7e-9 it had given standard
    errors 1e5 times below the estimates' spread.
    """
    n, p = jac.shape
    nw = float(w.sum())
    if nw <= p:
        return np.full((p, p), np.nan)
    psi, dpsi = _psi(r, delta, loss)
    if loss == "huber" and float((w * (dpsi > 0)).sum()) <= p:
        return np.full((p, p), np.nan)
    mean_dpsi = float((w * dpsi).sum() / nw)
    if mean_dpsi <= 0:
        return np.full((p, p), np.nan)
    var_dpsi = float((w * (dpsi - mean_dpsi) ** 2).sum() / nw)
    K = 1.0 + (p / nw) * var_dpsi / mean_dpsi**2
    scale = K**2 * float((w * psi**2).sum() / (nw - p)) / mean_dpsi**2
    jtj = (jac * w[:, None]).T @ jac
    try:
        inv = np.linalg.inv(jtj)
    except np.linalg.LinAlgError:
        return np.full((p, p), np.nan)
    if not np.all(np.isfinite(inv)) or np.linalg.cond(jtj) > 1e14:
        return np.full((p, p), np.nan)
    return scale * inv


# a fit's line where ``identifiable`` is False: the data leave the parameters undetermined, or only their standard
# errors (a Huber fit with no more residuals inside delta than parameters); its notes say which
_NOT_IDENTIFIABLE = "NOT IDENTIFIABLE: these data do not determine the parameters, or not their standard errors (see " \
    "the notes)"


def _huber_note(r: np.ndarray, delta: float, loss: str, n_params: int, better: str) -> list[str]:
    """A note when few residuals lie inside delta: a fit with delta well below the noise is
    nearly a least-absolute-deviations fit, which pins about one residual per parameter to
    the quadratic branch, so mean psi' (the sandwich's denominator) is overestimated. In
    ``benchmarks/fit_calibration.py`` (fit_chinchilla, 60 runs on a 6 x 10 grid of N and D,
    1 % noise, delta = 1e-3, 200 datasets; 9.4 of 60 residuals inside on average) +-1.96
    standard errors covered the truth 82-84 % of the time (median stderr 0.75-0.82 of the
    estimates' spread); method="mle" 93-96 % (100 datasets)."""
    if loss != "huber":
        return []
    inside = int(np.sum(np.abs(r) <= delta))
    if inside >= min(4 * n_params, len(r)):  # (every residual inside had been noted too below 4 per parameter)
        return []
    if inside <= n_params:  # (_m_estimator_cov gives NaN)
        return [f"only {inside} of {len(r)} residuals lie within delta={delta:g} (the Huber quadratic branch), "
                f"not more than the fit's {n_params} parameters: the standard errors are undefined; {better} gives "
                f"defined ones"]
    return [f"only {inside} of {len(r)} residuals lie within delta={delta:g} (the Huber quadratic branch), "
            f"close to the fit's {n_params} parameters (about as many as a delta far below the noise leaves "
            f"there): the standard errors are rough and tend to be too small; {better} gives better ones"]


def _r2_log(log_y: np.ndarray, log_pred: np.ndarray) -> float:
    ss_res = float(np.sum((log_y - log_pred) ** 2))
    ss_tot = float(np.sum((log_y - log_y.mean()) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan


def _fmt(v: float) -> str:
    return f"{v:.6g}" if isinstance(v, (float, int)) and math.isfinite(v) else str(v)


# --------------------------------------------------------------------------------------
# power law
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PowerLawFit:
    """A fitted power law y = C x^-a (+ y_inf).

    Attributes:
      exponent: a.
      prefactor: C.
      offset: y_inf (0.0 when the offset was not fitted).
      r2: coefficient of determination of log y.
      x_range: (min x, max x) of the points used.
      n_points: number of points used.
      stderr: standard errors (keys "exponent", "prefactor", and "offset" if fitted).
      intervals: bootstrap percentile intervals, same keys (empty when bootstrap=0).
      converged: whether the optimiser stopped by a convergence criterion (always True
        for the closed-form least-squares fit).
      loss: "squared" or "huber".
      objective: sum of per-point losses on log-residuals at the optimum.
      grad_norm: gradient norm of the objective at the optimum (0.0 for closed form).
      iterations: L-BFGS iterations of the best start (0 for closed form).
      n_starts: number of starts optimised.
      n_bootstrap: number of bootstrap resamples (0 if none).
      level: confidence level of ``intervals``.
      resampled: what the bootstrap redrew: "points" (the fitted points, ``bootstrap=``)
        or "seeds" (each width's replicate models, ``width_exponent(seed_bootstrap=)``).
      fit_offset: whether y_inf was fitted.
      identifiable: False when the data do not pin the parameters down (singular
        information: the standard errors could not be computed). An exact fit, with as many
        points as parameters, is identifiable but has no standard errors (``dof`` = 0).
      notes: human-readable caveats.
    """

    exponent: float
    prefactor: float
    offset: float
    r2: float
    x_range: tuple[float, float]
    n_points: int
    stderr: dict
    intervals: dict
    converged: bool
    loss: str = "squared"
    objective: float = math.nan
    grad_norm: float = 0.0
    iterations: int = 0
    n_starts: int = 1
    n_bootstrap: int = 0
    level: float = 0.95
    fit_offset: bool = False
    identifiable: bool = True
    notes: tuple[str, ...] = ()
    resampled: str = "points"

    def predict(self, x: Any) -> np.ndarray:
        """Fitted y at ``x`` (numpy array)."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # in logs at x > 0 (x ** -a overflowed where C x^-a is finite: C tiny, x tiny); as written elsewhere
            logs = np.exp(np.log(self.prefactor) - self.exponent * np.log(np.where(x > 0, x, 1.0)))
            return np.where(x > 0, logs, self.prefactor * x ** (-self.exponent)) + self.offset

    def params(self) -> dict:
        """Parameters as a dict (exponent, prefactor, offset)."""
        return {"exponent": self.exponent, "prefactor": self.prefactor, "offset": self.offset}

    @property
    def dof(self) -> int:
        """Residual degrees of freedom: n_points less the fitted parameters (2, or 3 with the offset)."""
        return self.n_points - (3 if self.fit_offset else 2)

    @property
    def exact(self) -> bool:
        """Whether the fit has as many points as parameters (``dof`` = 0: a line through two
        widths, say). It passes through every point, so there is no residual to measure an error
        from: the standard errors and ``t_interval()`` are nan. The scripts print "no stderr or t
        interval" for it rather than "± nan"."""
        return self.dof < 1

    def t_interval(self, name: str = "exponent", level: float | None = None) -> tuple[float, float]:
        """Student-t interval of a parameter: estimate -+ t_quantile((1 + level) / 2, dof) x stderr.

        For the closed-form fit (squared loss, no offset) it is exact when the log-residuals
        are independent and Gaussian with one variance; +-1.96 stderr is not with few points
        (at three widths the multiplier is 12.71, at five 3.18). For the other fits it is the
        usual large-sample approximation with a t multiplier. The prefactor and the offset are
        fitted as logs, so their intervals are taken on the log scale (value x exp(-+ t x
        stderr / value)) and stay positive. (nan, nan) when the stderr is undefined or there
        is no residual degree of freedom.

        Args:
          name: "exponent", "prefactor", or "offset" (when fitted).
          level: confidence level, strictly between 0 and 1 (default: the fit's ``level``).
        """
        names = ("exponent", "prefactor") + (("offset",) if self.fit_offset else ())
        if isinstance(name, (int, float)) and not isinstance(name, bool):  # t_interval(0.9): a level, by position
            raise TypeError(f"name={name!r}; the first argument is the parameter's name ({', '.join(names)}); "
                            f"give a confidence level as level={name!r}")
        if name not in names:
            raise ValueError(f"name={name!r}; this fit's parameters are {', '.join(names)}")
        level = self.level if level is None else _check_level(level)
        value, se = getattr(self, name), self.stderr.get(name, math.nan)
        if self.dof < 1 or not math.isfinite(se):
            return (math.nan, math.nan)
        half = t_quantile((1.0 + level) / 2.0, self.dof) * se
        if name == "exponent":
            return (value - half, value + half)
        if not value > 0:  # (an offset that underflowed to 0 has no log scale)
            return (math.nan, math.nan)
        # half / value is t x the stderr of log(value); a wide one gives 0 and inf, not an OverflowError
        with np.errstate(over="ignore"):
            return (float(value * np.exp(-half / value)), float(value * np.exp(half / value)))

    def to_dict(self) -> dict:
        """JSON-ready dict: parameters, stderr, intervals and diagnostics."""
        return dict(
            self.params(), r2=self.r2, x_range=list(self.x_range), n_points=self.n_points, stderr=dict(self.stderr),
            intervals={k: list(v) for k, v in self.intervals.items()}, converged=self.converged, loss=self.loss,
            objective=self.objective, grad_norm=self.grad_norm, iterations=self.iterations, n_starts=self.n_starts,
            n_bootstrap=self.n_bootstrap, level=self.level, fit_offset=self.fit_offset, dof=self.dof,
            identifiable=self.identifiable, notes=list(self.notes), resampled=self.resampled,
        )

    def __str__(self) -> str:
        form = "y = C x^-a + y_inf" if self.fit_offset else "y = C x^-a"
        head = (
            f"PowerLawFit  {form}  ({self.loss} loss in log space, n={self.n_points}, "
            f"x in [{self.x_range[0]:.4g}, {self.x_range[1]:.4g}])"
        )
        source = "bootstrap" if self.resampled == "points" else "seed bootstrap"
        rows = [head, f"  {'param':<10}{'value':>16}{'stderr':>14}   interval ({self.level:.0%} {source})"]
        names = ["exponent", "prefactor"] + (["offset"] if self.fit_offset else [])
        for k in names:
            iv = self.intervals.get(k)
            ivs = f"[{iv[0]:.6g}, {iv[1]:.6g}]" if iv else "-"
            rows.append(f"  {k:<10}{getattr(self, k):>16.10g}{_fmt(self.stderr.get(k, math.nan)):>14}   {ivs}")
        rows.append(
            f"  R^2(log)={_fmt(self.r2)}  objective={self.objective:.6g}  converged={self.converged}  "
            f"|grad|={self.grad_norm:.2g}  iters={self.iterations}  starts={self.n_starts}  dof={self.dof}"
            + (f"  bootstrap={self.n_bootstrap}" if self.n_bootstrap else "")
        )
        lo, hi = self.t_interval()
        if math.isfinite(lo):
            rows.append(f"  exponent {self.level:.0%} t-interval ({self.dof} dof): [{lo:.6g}, {hi:.6g}]")
        if not self.identifiable:
            rows.append(f"  {_NOT_IDENTIFIABLE}")
        rows += [f"  note: {n}" for n in self.notes]
        return "\n".join(rows)


@jax.jit
def _ols(lx: jax.Array, ly: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Weighted least squares of ly = c - a lx; returns (log C, a). Works under vmap.

    Compiled: run op by op it had been ~40 small programs compiled for each new point count.

    NaN where the weighted points have one distinct x: a spread of lx that is 0, or only
    rounding (weights on two copies of one x), gives no line rather than a slope of ~1e15.
    """
    sw = jnp.sum(w)
    mx, my = jnp.sum(w * lx) / sw, jnp.sum(w * ly) / sw
    sxx = jnp.sum(w * (lx - mx) ** 2)
    line = sxx > 1e-12 * sw * (jnp.max(lx) - jnp.min(lx)) ** 2
    slope = jnp.where(line, jnp.sum(w * (lx - mx) * (ly - my)) / jnp.where(line, sxx, 1.0), jnp.nan)
    return my - slope * mx, 0.0 - slope  # (0.0 -: a flat line's exponent is 0, not -0)


@functools.partial(jax.jit, static_argnames="residual_fn")
def _residuals_and_jacobian(p: jax.Array, data: tuple, residual_fn: ResidualFn) -> tuple[jax.Array, jax.Array]:
    """``residual_fn`` at ``p`` and its Jacobian in ``p``, in one compiled program (op by op, ~25)."""
    return residual_fn(p, data), jax.jacfwd(residual_fn)(p, data)


def _power_law_residual(p: jax.Array, data: tuple) -> jax.Array:
    """log-residual of y = C x^-a with p = (log C, a)."""
    lx, ly = data
    return p[0] - p[1] * lx - ly


def _power_law_offset_residual(p: jax.Array, data: tuple) -> jax.Array:
    """log-residual of y = C x^-a + y_inf with p = (log C, a, log y_inf), via log-sum-exp."""
    lx, ly = data
    return jnp.logaddexp(p[0] - p[1] * lx, p[2]) - ly


_OFFSET_FRACS = np.array([1e-3, 0.2, 0.5, 0.8, 0.95, 0.99])  # offsets tried, as fractions of min(y)


def _offset_starts(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
    """Grid of starts for the offset power law.

    The offset is placed at fractions of min(y); for each (exponent, offset) pair log C
    is the least-squares value given the other two (variable projection on log C).
    """
    y = np.exp(ly)
    fracs = _OFFSET_FRACS
    exps = np.array([0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0])
    a, f = np.meshgrid(exps, fracs, indexing="ij")
    a, f = a.ravel(), f.ravel()
    yinf = f * y.min()
    logc = np.mean(np.log(y[None, :] - yinf[:, None]) + a[:, None] * lx[None, :], axis=1)
    return np.stack([logc, a, np.log(yinf)], axis=1)


# At most this many points, the points bootstrap gets a note: with 3 widths (10 distinct
# resamples, 3 of them degenerate) its 95 % and 68 % intervals are the same and held the true
# exponent in 70 % of 100 simulated curves, the t-interval's 95 % in 96 %; from 4 widths on
# the bootstrap was near its level (0.90-0.94 at 95 %; benchmarks/fit_calibration.py, study 4).
_FEW_BOOTSTRAP_POINTS = 3


@_float64
def _offset_profile_starts(lx: np.ndarray, ly: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Starts (R, F, 3) for the offset power law on R weighted resamples of the points.

    With the offset fixed, the fit is the least-squares line of log(y - y_inf) on log x, so
    for each offset in ``_OFFSET_FRACS`` x min(y) the start takes that line's (log C, a) on
    the resample's weights (`_ols`; NaN for a resample with one distinct x): one start per
    basin of the offset's profile, at the cost of a weighted regression.
    """
    y = np.exp(ly)
    yinf = _OFFSET_FRACS * y.min()
    z = jnp.asarray(np.log(y[None, :] - yinf[:, None]))  # (F, n)
    per_offset = jax.vmap(_ols, in_axes=(None, 0, None))  # over the offsets
    logc, a = jax.vmap(per_offset, in_axes=(None, None, 0))(jnp.asarray(lx), z, jnp.asarray(weights))  # (R, F)
    return np.stack([np.asarray(logc), np.asarray(a), np.broadcast_to(np.log(yinf), logc.shape)], axis=2)


def _refit_resamples(starts: np.ndarray, weights: np.ndarray, data: tuple, **kw) -> np.ndarray:
    """Refit every bootstrap resample (rows of ``weights``, R) from each of its starts (R, S, p)
    and return the best converged fit of each (R, p); NaN for a resample none of whose starts
    converged.  ``kw`` go to `_minimize`.

    The starts are the full-data fit and, where a fit has an irreducible term, points with that
    term away from 0: started from the full-data fit alone, when the term had collapsed onto ~0
    every resample stayed in that basin, so the term's interval had zero width and the
    exponents' were those of the fit without it.
    """
    R, S, _ = starts.shape
    sol = _minimize(starts.reshape(R * S, -1), np.repeat(weights, S, axis=0), data, **kw)
    value = np.where(sol.converged & np.isfinite(sol.value), sol.value, np.inf).reshape(R, S)
    best = np.argmin(value, axis=1)
    boot = sol.params.reshape(R, S, -1)[np.arange(R), best].copy()
    boot[~np.isfinite(value[np.arange(R), best])] = np.nan
    return boot


def _underdetermined(weights: np.ndarray, *needs: tuple[np.ndarray, int]) -> np.ndarray:
    """(R,) bool: the bootstrap resamples (rows of multiplicity ``weights``) that draw fewer
    distinct values than a fit needs, for any ``(values, k)`` of ``needs``: ``values`` one per
    point (rows of a 2-D array count as one value each), ``k`` the least number of distinct
    ones with a unique best fit (e.g. a power law's sizes, one per parameter).

    Such a resample's refit is reported as converged but its parameters are arbitrary (any of
    a family fits it equally well): kept, 2 distinct widths of 5 set an offset power law's
    95 % interval's upper end at 0.93 where the rest put it at 0.49. They are dropped and
    counted in the fit's notes."""
    drawn = np.asarray(weights) > 0
    bad = np.zeros(drawn.shape[0], bool)
    for values, k in needs:
        values = np.asarray(values)
        _, label = np.unique(values, axis=0 if values.ndim > 1 else None, return_inverse=True)
        label = np.asarray(label).reshape(-1)
        bad |= _distinct_drawn(drawn, label) < k
    return bad


def _distinct_drawn(drawn: np.ndarray, label: np.ndarray) -> np.ndarray:
    """(R,) the number of distinct ``label`` values (ints in [0, K), one per point) among the
    points each row of ``drawn`` (R, n) bool draws.

    Marks presence in an (R, K) table, K <= n, so time and memory are O(R n): an (n, K) one-hot
    matrix instead took 24.6 s and 1.9 GB at n = 10,000 (a bootstrap of 40)."""
    present = np.zeros((drawn.shape[0], int(label.max()) + 1 if label.size else 0), bool)
    rows, cols = np.nonzero(drawn)
    present[rows, label[cols]] = True
    return present.sum(axis=1)


def _dropped_notes(n_under: int, n_failed: int, bootstrap: int, what: str, level: float) -> list[str]:
    """The notes on a bootstrap's dropped resamples: ``n_under`` underdetermined (see
    :func:`_underdetermined`; ``what`` names what they lacked), ``n_failed`` failed refits; and
    when too few are left for a ``level`` interval, that the intervals are nan."""
    notes = []
    if n_under:
        notes.append(f"{n_under} of {bootstrap} bootstrap resamples drew too few distinct {what} for a unique fit "
                     "and were dropped")
    if n_failed:
        notes.append(f"{n_failed} of {bootstrap} bootstrap resamples failed (degenerate or unconverged) "
                     "and were dropped")
    return notes + _too_few_kept(bootstrap - n_under - n_failed, bootstrap, level)


def _too_few_kept(kept: int, bootstrap: int, level: float) -> list[str]:
    """The note that ``kept`` of ``bootstrap`` resamples are too few for a ``level`` interval
    (:func:`_percentile_intervals` then gives nan), or none."""
    need = _min_resamples(level)
    if kept >= need:
        return []
    return [f"only {kept} of {bootstrap} resamples were kept, fewer than the {need} a {100 * level:g}% interval "
            f"needs: the intervals are nan (more resamples, or more distinct x, give them)"]


@_float64
def fit_power_law(
    x: Any,
    y: Any,
    offset: bool = False,
    loss: Loss = "squared",
    bootstrap: int = 0,
    seed: int = 0,
    *,
    huber_delta: float = 1e-3,
    level: float = 0.95,
    max_iter: int = 500,
) -> PowerLawFit:
    """Fit y = C x^-a (+ y_inf) in log space.

    With ``offset=False`` and the squared loss this is ordinary least squares of log y on
    log x (closed form, exact); the standard errors are the OLS ones.  Otherwise all
    starts are optimised at once by L-BFGS (vmapped) on the sum of per-point losses of
    log-residuals, the offset being parameterised as log y_inf inside a log-sum-exp.
    A constant y is fitted exactly by exponent 0 (standard errors 0); with the offset it raises
    `NotIdentifiableError`, since any split of y between prefactor and offset fits it.

    Args:
      x: positive, finite sizes (1-D).
      y: positive, finite losses (1-D, same length).
      offset: also fit the irreducible term y_inf (True or False).
      loss: "squared" or "huber" (Huber with threshold ``huber_delta`` on log-residuals).
      bootstrap: number of bootstrap resamples of the points (0: none; else at least
        2 / (1 - level), 40 at the default level: fewer put the interval's ends at the extreme
        resamples). All resamples are refitted at once (vmapped), from the full-data fit and,
        with the offset, from a start at each of several offsets as well (the best is kept).
      seed: seed of the bootstrap resampling.
      huber_delta: Huber threshold (default 1e-3 as in Hoffmann et al. 2022).
      level: confidence level of the percentile intervals.
      max_iter: L-BFGS iteration cap (at most 2**31 - 1).

    Returns:
      A `PowerLawFit`.
    """
    _check_loss(loss)
    offset = _check_bool("offset", offset)
    x = _as_1d("x", x)
    y = _as_1d("y", y)
    n = _same_length(x=x, y=y)
    n_params = 3 if offset else 2
    _check_enough_points(n, n_params, "a power law with offset" if offset else "a power law")
    bootstrap, seed, level = _check_bootstrap(bootstrap, seed, level)
    delta = _check_positive("huber_delta", huber_delta)
    max_iter = check_int("max_iter", max_iter, 1, _MAX_ITER)
    _check_varies("x", x, "a power law")
    if offset:  # (without it a constant y is y = C x^0: exponent 0, determined)
        _check_varies("y", y, "a power law with offset (constant y: the prefactor and the offset trade off, "
                      "and the exponent is undetermined)")

    lx, ly = np.log(x), np.log(y)
    data = (jnp.asarray(lx), jnp.asarray(ly))
    ones = jnp.ones(n)
    residual_fn = _power_law_offset_residual if offset else _power_law_residual
    notes: list[str] = []

    closed_form = not offset and loss == "squared"
    logc, a = (float(v) for v in _ols(data[0], data[1], ones))
    if closed_form:
        p_hat = np.array([logc, a])
        sol_gn, sol_it, sol_ok, n_starts = 0.0, 0, True, 1
    else:
        starts = _offset_starts(lx, ly) if offset else np.array([[logc, a]])
        sol = _minimize(starts, np.ones((len(starts), n)), data, residual_fn=residual_fn, loss=loss,
                        delta=delta, max_iter=max_iter, gtol=1e-10, ftol=1e-15)
        best = int(np.argmin(np.where(np.isfinite(sol.value), sol.value, np.inf)))
        p_hat = sol.params[best]
        sol_gn, sol_it, sol_ok = float(sol.grad_norm[best]), int(sol.iterations[best]), bool(sol.converged[best])
        n_starts = len(starts)

    r, jac = (np.asarray(v) for v in _residuals_and_jacobian(jnp.asarray(p_hat), data, residual_fn))
    objective = float(np.sum(np.asarray(_rho(jnp.asarray(r), delta, loss))))
    cov = _m_estimator_cov(jac, r, np.ones(n), delta, loss)
    notes += _huber_note(r, delta, loss, n_params, "a larger huber_delta")
    se_internal = np.sqrt(np.diag(cov))
    _check_prefactor("C", p_hat[0], x)
    prefactor = math.exp(p_hat[0])
    y_inf = math.exp(p_hat[2]) if offset else 0.0
    stderr = {"exponent": float(se_internal[1]), "prefactor": float(prefactor * se_internal[0])}
    if offset:
        stderr["offset"] = float(y_inf * se_internal[2])
    exact = n == n_params
    collapsed = offset and y_inf < 1e-6 * y.min()
    if exact:  # determined when the points' Jacobian has full rank, but with no residuals to give errors
        # (an offset collapsed onto 0 keeps a tiny but nonzero column: the rank alone had called it determined)
        identifiable = bool(np.linalg.matrix_rank(jac) == n_params) and not collapsed
        notes.append(f"{n} points for {n_params} parameters: exact fit, no residual degrees of freedom, "
                     "so no standard errors")
    else:
        identifiable = bool(np.all(np.isfinite(se_internal)))
    if not identifiable and not (exact and collapsed):
        notes.append("information matrix is singular or the loss has too few points in its quadratic branch; "
                     "standard errors are undefined")
    if collapsed:
        why = ""
        if exact:  # (not identifiable either way; only an exact fit has every smaller offset fitting as well)
            why = ("; with as many points as parameters any smaller offset fits them as exactly, so it is not "
                   "identifiable" if objective < 1e-12 else "; the data want a negative offset and it sits at its "
                   "bound 0, so with as many points as parameters it is not identifiable")
        notes.append(f"fitted offset {y_inf:.3g} is ~0: the data show no irreducible term" + why)

    intervals: dict = {}
    if bootstrap:
        weights = _bootstrap_weights(seed, bootstrap, n)
        if closed_form:
            lc_b, a_b = jax.vmap(lambda w: _ols(data[0], data[1], w))(weights)
            boot = np.stack([np.asarray(lc_b), np.asarray(a_b)], axis=1)
        else:
            weights = np.asarray(weights)
            starts_b = np.broadcast_to(p_hat, (bootstrap, 1, n_params))
            if offset:  # and from one start per offset level
                starts_b = np.concatenate([starts_b, _offset_profile_starts(lx, ly, weights)], axis=1)
            boot = _refit_resamples(starts_b, weights, data, residual_fn=residual_fn, loss=loss, delta=delta,
                                    max_iter=max_iter, gtol=1e-10, ftol=1e-15)
        under = _underdetermined(weights, (x, n_params))
        failed = ~under & ~np.all(np.isfinite(boot), axis=1)
        boot[under] = np.nan
        notes += _dropped_notes(int(under.sum()), int(failed.sum()), bootstrap, f"x (fewer than {n_params})", level)
        if n <= _FEW_BOOTSTRAP_POINTS:
            notes.append(f"a bootstrap of {n} points has only {math.comb(2 * n - 1, n)} distinct resamples: its "
                         "percentile intervals are coarse (without the offset, the same at every level from 50 % "
                         "up) and cover the truth less often than their level"
                         + ("; t_interval() is the calibrated one" if n > n_params else ""))
        cols = [np.exp(boot[:, 0]), boot[:, 1]] + ([np.exp(boot[:, 2])] if offset else [])
        intervals = _percentile_intervals(np.stack(cols, 1), ["prefactor", "exponent", "offset"][: n_params], level)

    # in logs: C x^-a had overflowed, R^2 -inf, where C is tiny and x tiny
    pred = np.logaddexp(p_hat[0] - p_hat[1] * lx, p_hat[2] if offset else -np.inf)
    return PowerLawFit(
        exponent=float(p_hat[1]),
        prefactor=prefactor,
        offset=y_inf,
        r2=_r2_log(ly, pred),
        x_range=(float(x.min()), float(x.max())),
        n_points=n,
        stderr=stderr,
        intervals=intervals,
        converged=sol_ok,
        loss=loss,
        objective=objective,
        grad_norm=sol_gn,
        iterations=sol_it,
        n_starts=n_starts,
        n_bootstrap=bootstrap,
        level=level,
        fit_offset=offset,
        identifiable=identifiable,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------
# Chinchilla approach 3: L(N, D) = E + A / N^alpha + B / D^beta
# --------------------------------------------------------------------------------------

_CH_NAMES = ("log_A", "log_B", "log_E", "alpha", "beta")
# A fitted E (or a broken power law's offset) below this fraction of the smallest loss counts as
# collapsed onto ~0: the bootstrap then also starts each resample with it at these fractions of
# that loss (see `_refit_resamples`).
_E_COLLAPSED = 0.01
_E_FRACS = np.array([0.1, 0.3, 0.6])


def _away_from_collapse(p: np.ndarray, index: int, scale: float) -> np.ndarray:
    """Resample starts (S, len(p)): the fit ``p`` and, when its term exp(p[index]) is below
    ``_E_COLLAPSED`` x ``scale`` (the smallest loss), ``p`` with that term at ``_E_FRACS`` x scale."""
    starts = np.array(p, dtype=np.float64)[None, :]
    if math.exp(starts[0, index]) < _E_COLLAPSED * scale:
        starts = np.repeat(starts, 1 + len(_E_FRACS), axis=0)
        starts[1:, index] = np.log(_E_FRACS * scale)
    return starts


class ComputeOptimal(NamedTuple):
    """Compute-optimal allocation at budget(s) C with C = 6 N D (Hoffmann et al. 2022, eq. 4).

    N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b, a = beta/(alpha+beta), b = alpha/(alpha+beta),
    G = (alpha A / (beta B))^(1/(alpha+beta)).  ``*_stderr`` are delta-method standard errors
    and ``*_interval`` bootstrap percentile intervals (NaN when unavailable).
    """

    C: np.ndarray
    N_opt: np.ndarray
    D_opt: np.ndarray
    a: float
    b: float
    G: float
    N_opt_stderr: np.ndarray | None = None
    D_opt_stderr: np.ndarray | None = None
    N_opt_interval: tuple[np.ndarray, np.ndarray] | None = None
    D_opt_interval: tuple[np.ndarray, np.ndarray] | None = None

    def __str__(self) -> str:
        rows = [f"ComputeOptimal  a={self.a:.6g}  b={self.b:.6g}  G={self.G:.6g}",
                f"  {'C':>12}{'N_opt':>14}{'D_opt':>14}{'D/N':>10}"]
        for i, (c, n, d) in enumerate(zip(np.atleast_1d(self.C), np.atleast_1d(self.N_opt), np.atleast_1d(self.D_opt))):
            extra = ""
            if self.N_opt_interval is not None:
                lo, hi = (np.atleast_1d(v)[i] for v in self.N_opt_interval)
                extra = f"   N_opt in [{lo:.4g}, {hi:.4g}]"
            rows.append(f"  {c:>12.4g}{n:>14.4g}{d:>14.4g}{d / n:>10.3g}{extra}")
        return "\n".join(rows)


class ChinchillaParams(NamedTuple):
    """Parameters of L(N, D) = E + A / N^alpha + B / D^beta."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    @classmethod
    def from_log(cls, log_A: float, log_B: float, log_E: float, alpha: float, beta: float) -> "ChinchillaParams":
        """Build from the log-sum-exp parameterisation (a, b, e) = (log A, log B, log E)."""
        logs = {"log_A": log_A, "log_B": log_B, "log_E": log_E}
        big = {k: v for k, v in logs.items() if not float(v) < _LOG_FLOAT64_MAX}  # (math.exp's OverflowError)
        if big:
            raise ValueError(f"{', '.join(f'{k}={v!r}' for k, v in big.items())}; exp of a log parameter must be a "
                             f"finite float64, so each must be a number below {_LOG_FLOAT64_MAX:.2f} (not NaN)")
        return cls(math.exp(log_E), math.exp(log_A), math.exp(log_B), float(alpha), float(beta))

    @property
    def a(self) -> float:
        """Exponent of N_opt in C: beta / (alpha + beta)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Exponent of D_opt in C: alpha / (alpha + beta)."""
        return self.alpha / (self.alpha + self.beta)

    def loss(self, N: Any, D: Any) -> np.ndarray:
        """L(N, D) (numpy)."""
        N, D = np.asarray(N, dtype=np.float64), np.asarray(D, dtype=np.float64)
        return self.E + self.A / N**self.alpha + self.B / D**self.beta

    def compute_optimal(self, C: Any) -> ComputeOptimal:
        """Compute-optimal N and D at budget(s) C (FLOPs, C = 6 N D)."""
        return compute_optimal(self, C)


#: Hoffmann et al. 2022 approach 3, unrounded (from the paper's released values).
CHINCHILLA_PUBLISHED = ChinchillaParams.from_log(
    log_A=6.0073404, log_B=6.0179186, log_E=0.5267228, alpha=0.33917084, beta=0.2849083
)
#: Besiroglu et al. 2024 (arXiv 2404.10102) maximum-likelihood refit on the reconstructed data.
BESIROGLU_2024 = ChinchillaParams(E=1.817, A=482.01, B=2085.43, alpha=0.348, beta=0.366)


def compute_optimal(params: ChinchillaParams, C: Any) -> ComputeOptimal:
    """Compute-optimal allocation for a Chinchilla law (Hoffmann et al. 2022, eq. 4, C = 6 N D).

    Args:
      params: a `ChinchillaParams` (or a `ChinchillaFit`'s ``.params``).
      C: positive compute budget(s) in FLOPs.

    Returns:
      `ComputeOptimal` with N_opt, D_opt (1-D arrays, one entry per budget: a scalar C gives
      arrays of length 1), a, b and G.
    """
    if not isinstance(params, ChinchillaParams):
        raise TypeError(f"params must be ChinchillaParams, got {type(params).__name__}")
    C = _as_1d("C", C)
    al, be = params.alpha, params.beta
    if not (0 < al < math.inf and 0 < be < math.inf):  # (an infinite exponent had given b = nan)
        raise ValueError(f"alpha={al}, beta={be}; both must be finite and > 0 for a compute-optimal allocation")
    if not (0 < params.A < math.inf and 0 < params.B < math.inf):
        raise ValueError(f"A={params.A}, B={params.B}; both must be finite and > 0 for a compute-optimal allocation")
    # in logs: G = (alpha A / (beta B))^(1 / (alpha + beta)) had raised Python's OverflowError for small exponents
    log_G = (math.log(al) + math.log(params.A) - math.log(be) - math.log(params.B)) / (al + be)
    log_n = log_G + params.a * np.log(C / 6.0)
    if not (log_G < _LOG_FLOAT64_MAX and np.all(np.maximum(log_n, np.log(C / 6.0) - log_n) < _LOG_FLOAT64_MAX)):
        raise ValueError(f"alpha={al}, beta={be}, A={params.A}, B={params.B}: N_opt or D_opt at C in "
                         f"[{C.min():g}, {C.max():g}] is past float64's range (log G = {log_G:.4g})")
    n_opt = np.exp(log_n)
    return ComputeOptimal(C, n_opt, (C / 6.0) / n_opt, params.a, params.b, math.exp(log_G))


def chinchilla_grid(thin: int = 1, loss_scale: float = 1.0) -> np.ndarray:
    """The published grid of 4,500 L-BFGS starts (Hoffmann et al. 2022, appendix D.2).

    alpha, beta in {0, 0.5, ..., 2}; e in {-1, -0.5, ..., 1}; a, b in {0, 5, ..., 25}: made
    for losses of order 1 (nats). Losses s times larger have E, A and B s times larger and the
    same exponents (the objective is on log L), so ``loss_scale`` s shifts the a, b and e
    columns by log s; :func:`grid_loss_scale` picks it for :func:`fit_chinchilla`'s default.

    Args:
      thin: keep ceil(4500 / thin) of the starts, every ``thin``-th of a fixed shuffle (the
        same every call), in grid order: a cheaper, less thorough multi-start that, for every
        ``thin`` up to 156 (29 or more starts), still holds every column's values (checked for
        each; from 157 on most thinnings lose some). (A plain stride ``grid[::k]`` does not: any
        multiple of 5 keeps only beta = 0, of 25 only alpha = beta = 0.)

      loss_scale: s > 0, the losses' unit against the published grid's (default 1: unshifted).

    Returns:
      (ceil(4500 / thin), 5) float64 array with columns (log A, log B, log E, alpha, beta).
    """
    thin = check_int("thin", thin)
    shift = math.log(_check_positive("loss_scale", loss_scale))
    ab = np.arange(0.0, 30.0, 5.0)
    e = np.arange(-1.0, 1.5, 0.5)
    ex = np.arange(0.0, 2.5, 0.5)
    g = np.meshgrid(ab, ab, e, ex, ex, indexing="ij")
    grid = np.stack([x.ravel() for x in g], axis=1) + np.array([shift, shift, shift, 0.0, 0.0])
    if thin == 1:
        return grid
    return grid[np.sort(np.random.default_rng(0).permutation(len(grid))[::thin])]


# the median losses the published grid serves as it is (order 1: found over 1e-4 to 1e2 times the published law's)
_GRID_LOSSES = (1e-2, 1e2)


def _grid_shift_note(scale: float) -> str:
    """The note of a fit whose starts :func:`grid_loss_scale` shifted by log ``scale``."""
    return (f"the losses' median {scale:.3g} is far from the published grid's order-1 losses: its log A, log B and "
            f"log E starts were shifted by log {scale:.3g} (chinchilla_grid(loss_scale=...))")


def grid_loss_scale(loss: Any) -> float:
    """The ``loss_scale`` of :func:`chinchilla_grid` for these losses: 1 (the published grid)
    where their median lies in [0.01, 100], else the median. Far outside that, the published
    grid's starts sit far from every optimum: losses of the published law times 1e-5 or 1e4
    had been fitted to a worse optimum (alpha 0.244, beta 0.09 for 0.270, 0.260) and called
    converged; shifted, they give the unscaled fit."""
    L = _as_1d("loss", loss)
    mid = float(np.median(L))
    return 1.0 if _GRID_LOSSES[0] <= mid <= _GRID_LOSSES[1] else mid


def _chinchilla_log_pred(p: jax.Array, lN: jax.Array, lD: jax.Array) -> jax.Array:
    """log L-hat = LSE(a - alpha log N, b - beta log D, e) (Hoffmann et al. 2022, eq. 10).

    Written out (max-shifted, shift outside the gradient as in ``jax.nn.logsumexp``) rather
    than ``logsumexp(stack(...))``: XLA fuses it into one pass, ~4x faster in the batched fits.
    """
    t1, t2, e = p[0] - p[3] * lN, p[1] - p[4] * lD, p[2]
    m = lax.stop_gradient(jnp.maximum(jnp.maximum(t1, t2), e))
    return m + jnp.log(jnp.exp(t1 - m) + jnp.exp(t2 - m) + jnp.exp(e - m))


def _chinchilla_residual(p: jax.Array, data: tuple) -> jax.Array:
    lN, lD, lL = data
    return _chinchilla_log_pred(p, lN, lD) - lL


def _huber_log_norm(delta: float) -> float:
    """log of the normaliser of the density exp(-huber_delta(u)) on the real line."""
    from math import erf, exp, log, pi, sqrt

    return log(sqrt(2 * pi) * erf(delta / sqrt(2)) + 2 * exp(-delta * delta / 2) / delta)


@dataclasses.dataclass(frozen=True)
class ChinchillaFit:
    """A fitted L(N, D) = E + A / N^alpha + B / D^beta (Chinchilla approach 3).

    Attributes:
      params: `ChinchillaParams` (E, A, B, alpha, beta), unrounded.
      log_params: (log A, log B, log E, alpha, beta) as optimised.
      stderr: standard errors of E, A, B, alpha, beta and a (delta method; M-estimator
        covariance, Huber 1981); for method="mle" also of sigma (observed information of
        the Huber likelihood).
      intervals: bootstrap percentile intervals of the same, sigma included for "mle"
        (empty without bootstrap).
      cov: covariance of ``log_params`` (5x5; NaN if singular).
      objective: the objective at the optimum (sum of Huber losses, or the negative
        log-likelihood for method="mle").
      grad_norm, iterations, converged: L-BFGS diagnostics of the best start.
      n_converged: how many starts converged; n_starts: how many were run.
      n_points, N_range, D_range: the data used.
      r2: R^2 of log L.
      method: "huber" (published objective) or "mle" (Huber likelihood with fitted scale).
      delta: Huber threshold (on log-residuals for "huber", on standardised ones for "mle").
      sigma: fitted scale of the Huber density of the log-residuals (method="mle"), else NaN;
        not their sd: for Gaussian noise at delta = 1 it tends to 0.732 sd.
      boot_log_params: (R, 5) bootstrap refits of ``log_params`` (NaN rows failed), or None.
      identifiable: False when the covariance is singular or an exponent is ~0.
      notes: caveats.
    """

    params: ChinchillaParams
    log_params: np.ndarray
    stderr: dict
    intervals: dict
    cov: np.ndarray
    objective: float
    grad_norm: float
    iterations: int
    converged: bool
    n_converged: int
    n_starts: int
    n_points: int
    N_range: tuple[float, float]
    D_range: tuple[float, float]
    r2: float
    method: str = "huber"
    delta: float = 1e-3
    sigma: float = math.nan
    n_bootstrap: int = 0
    level: float = 0.95
    boot_log_params: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)
    identifiable: bool = True
    notes: tuple[str, ...] = ()

    E = property(lambda self: self.params.E)
    A = property(lambda self: self.params.A)
    B = property(lambda self: self.params.B)
    alpha = property(lambda self: self.params.alpha)
    beta = property(lambda self: self.params.beta)
    a = property(lambda self: self.params.a, doc="beta / (alpha + beta)")
    b = property(lambda self: self.params.b, doc="alpha / (alpha + beta)")

    def predict(self, N: Any, D: Any) -> np.ndarray:
        """Fitted L(N, D) (numpy)."""
        return self.params.loss(N, D)

    def compute_optimal(self, C: Any) -> ComputeOptimal:
        """N_opt, D_opt at budget(s) C with delta-method stderr and bootstrap intervals."""
        out = compute_optimal(self.params, C)
        C = out.C
        grads = _log_n_opt_and_gradient(self.log_params, C)[1]
        se_log = np.sqrt(np.einsum("ci,ij,cj->c", grads, self.cov, grads))
        iv_n = iv_d = None
        if self.boot_log_params is not None:
            bp = self.boot_log_params
            ok = np.all(np.isfinite(bp), axis=1) & (bp[:, 3] > 0) & (bp[:, 4] > 0)
            if ok.sum() < _min_resamples(self.level):
                # the fit's own rule (_percentile_intervals): 2 kept of 40 had given a zero-width
                # interval, 0 kept an IndexError
                lo = hi = np.full(np.shape(C), np.nan)
            else:
                bl = _log_n_opt_and_gradient(bp[ok], C)[0]
                q = 100 * (1 - self.level) / 2
                lo, hi = np.exp(np.percentile(bl, q, axis=0)), np.exp(np.percentile(bl, 100 - q, axis=0))
            iv_n, iv_d = (lo, hi), ((C / 6) / hi, (C / 6) / lo)
        return out._replace(N_opt_stderr=out.N_opt * se_log, D_opt_stderr=out.D_opt * se_log,
                            N_opt_interval=iv_n, D_opt_interval=iv_d)

    def to_dict(self) -> dict:
        """JSON-ready dict: E, A, B, alpha, beta, a, stderr, intervals and diagnostics."""
        d = {k: float(getattr(self, k)) for k in ("E", "A", "B", "alpha", "beta", "a", "b")}
        d.update(
            stderr=dict(self.stderr), intervals={k: list(v) for k, v in self.intervals.items()},
            objective=self.objective, converged=self.converged, grad_norm=self.grad_norm,
            iterations=self.iterations, n_converged_starts=self.n_converged, n_starts=self.n_starts,
            n_points=self.n_points, N_range=list(self.N_range), D_range=list(self.D_range), r2=self.r2,
            method=self.method, delta=self.delta, sigma=self.sigma, n_bootstrap=self.n_bootstrap,
            level=self.level, identifiable=self.identifiable, notes=list(self.notes),
        )
        return d

    def __str__(self) -> str:
        obj = "sum Huber(log-residual)" if self.method == "huber" else "Huber NLL, fitted scale"
        rows = [
            f"ChinchillaFit  L = E + A/N^alpha + B/D^beta  ({obj}, delta={self.delta:g}, n={self.n_points}, "
            f"N in [{self.N_range[0]:.4g}, {self.N_range[1]:.4g}], D in [{self.D_range[0]:.4g}, {self.D_range[1]:.4g}])",
            f"  {'param':<7}{'value':>18}{'stderr':>14}   interval ({self.level:.0%} bootstrap)",
        ]
        for k in ("E", "A", "B", "alpha", "beta", "a"):
            iv = self.intervals.get(k)
            ivs = f"[{iv[0]:.6g}, {iv[1]:.6g}]" if iv else "-"
            rows.append(f"  {k:<7}{getattr(self, k):>18.10g}{_fmt(self.stderr.get(k, math.nan)):>14}   {ivs}")
        rows.append(
            f"  objective={self.objective:.10g}  R^2(log)={_fmt(self.r2)}  converged={self.converged}  "
            f"|grad|={self.grad_norm:.2g}  iters={self.iterations}  converged starts={self.n_converged}/{self.n_starts}"
            + (f"  sigma={self.sigma:.4g} (stderr {_fmt(self.stderr.get('sigma', math.nan))})" if self.method == "mle" else "")
            + (f"  bootstrap={self.n_bootstrap}" if self.n_bootstrap else "")
        )
        if not self.identifiable:
            rows.append(f"  {_NOT_IDENTIFIABLE}")
        rows += [f"  note: {n}" for n in self.notes]
        return "\n".join(rows)


def _log_n_opt_and_gradient(p: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log N_opt(C) = log G + beta / (alpha + beta) log(C / 6), with log G = (log alpha + log A -
    log beta - log B) / (alpha + beta) (Hoffmann et al. 2022, eq. 4), at log-parameters p (..., 5)
    = (log A, log B, log E, alpha, beta), and its gradient in p (..., len(C), 5). Closed form in
    numpy: through jax, each call had compiled ~40 small programs op by op."""
    p = np.asarray(p, dtype=np.float64)[..., None, :]
    al, be = p[..., 3], p[..., 4]
    s = al + be
    k = np.log(al) + p[..., 0] - np.log(be) - p[..., 1]
    lc = np.log(np.asarray(C, dtype=np.float64) / 6.0)
    value = k / s + be / s * lc
    zero = np.zeros_like(value)
    grad = np.stack([zero + 1 / s, zero - 1 / s, zero,
                     1 / (al * s) - k / s**2 - be * lc / s**2,
                     -1 / (be * s) - k / s**2 + al * lc / s**2], -1)
    return value, grad


def _ch_derived(p: Any, xp: Any = jnp) -> Any:
    """(E, A, B, alpha, beta, a) from (log A, log B, log E, alpha, beta) on the last axis;
    ``xp`` is jax.numpy (traceable) or numpy (host arrays of any batch shape)."""
    p0, p1, p2, p3, p4 = (p[..., k] for k in range(5))
    return xp.stack([xp.exp(p2), xp.exp(p0), xp.exp(p1), p3, p4, p4 / (p3 + p4)], -1)


_CH_OUT = ("E", "A", "B", "alpha", "beta", "a")


@jax.jit
def _chinchilla_local(p: jax.Array, data: tuple) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Residuals, their Jacobian, and the Jacobian of the derived quantities at p: one
    compiled program rather than dozens of eagerly compiled primitives."""
    return (*_residuals_and_jacobian(p, data, _chinchilla_residual), jax.jacfwd(_ch_derived)(p))


@jax.jit
def _chinchilla_nll_hessian(p: jax.Array, data: tuple, delta: jax.Array) -> jax.Array:
    return jax.hessian(_objective)(p, data, 1.0, delta, _chinchilla_residual, "huber_nll")


def _log_scale_stderr(p: np.ndarray, data: tuple, delta: float) -> float:
    """Standard error of log sigma of the Huber maximum-likelihood fit: the observed
    information (Hessian of the negative log-likelihood in (log A, log B, log E, alpha, beta,
    log sigma)), inverted; NaN when it is singular or not positive definite."""
    h = np.asarray(_chinchilla_nll_hessian(p, data, np.float64(delta)))
    try:
        inv = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return math.nan
    if not np.all(np.isfinite(inv)) or np.linalg.cond(h) > 1e14 or inv[5, 5] <= 0:
        return math.nan
    return math.sqrt(inv[5, 5])


@_float64
def fit_chinchilla(
    N: Any,
    D: Any,
    loss: Any,
    *,
    method: Literal["huber", "mle"] = "huber",
    delta: float | None = None,
    starts: Any = None,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    max_iter: int = 1000,
    gtol: float = 1e-9,
    ftol: float = 1e-14,
    solver: Literal["ladder", "zoom"] = "ladder",
) -> ChinchillaFit:
    """Chinchilla approach 3: fit L(N, D) = E + A/N^alpha + B/D^beta.

    ``method="huber"`` minimises exactly the published objective (Hoffmann et al. 2022,
    eq. 10): the SUM over runs of Huber_delta(log L-hat - log L) with delta = 1e-3, log L-hat
    = LSE(a - alpha log N, b - beta log D, e), by L-BFGS from every start of the published
    4,500-point grid (all at once, vmapped), keeping the best.  ``method="mle"`` then refits
    by maximum likelihood under a Huber density with shape delta and a fitted scale sigma
    (Besiroglu et al. 2024), starting from the best start of the multi-start stage, which for
    "mle" minimises the Huber loss with that same delta on the raw log-residuals (at the
    default 1.0, where residuals are ~0.01, a least-squares fit; ``n_converged`` counts its
    starts), not the published delta = 1e-3 fit.

    Args:
      N: parameter counts (positive).
      D: training tokens (positive).
      loss: final losses (positive).
      method: "huber" or "mle".
      delta: Huber threshold. Default 1e-3 for "huber" (published); 1.0 (on standardised
        residuals) for "mle": with 1e-3 the likelihood is Laplace-like, non-smooth at the
        optimum (fitted sigma ~ 1e-3 x mean |r|), L-BFGS stalls and the information-matrix
        standard errors are undefined.  Pass delta=1e-3 to reproduce that choice anyway.
      starts: (S, 5) starts in (log A, log B, log E, alpha, beta); default
        ``chinchilla_grid(loss_scale=grid_loss_scale(loss))``: the published grid, shifted to
        the losses' unit where their median is outside [0.01, 100] (a note says so).
      bootstrap: number of resamples of the runs (0: none; else at least 2 / (1 - level), 40
        at the default level), refitted at once (vmapped) warm-started from the full-data
        optimum (and, when its E is below 1 % of the smallest loss, also from it with E at 0.1,
        0.3 and 0.6 of that loss; the best is kept); gives percentile intervals.
      seed: bootstrap seed.
      level: interval confidence level.
      max_iter, gtol, ftol: L-BFGS stopping rules (iterations, at most 2**31 - 1; gradient norm; relative
        decrease).
      solver: L-BFGS line search of the multi-start stage: "ladder" (default, fast: 512 starts
        at a time refilled from a queue inside one compiled loop; each tries its quasi-Newton
        step, and those that fail Armijo try 1/3, ..., 1/81 of it in one batched evaluation)
        or "zoom" (optax's zoom line search on a refilling pool of lanes).  The best start is
        then polished by optax's L-BFGS with the zoom search either way.  ``n_converged``
        counts starts that met the multi-start stage's rules (scipy's L-BFGS-B defaults:
        |grad| <= 1e-5 or relative decrease <= 2.2e-9), not the polish tolerances.

    Returns:
      A `ChinchillaFit`.
    """
    check_choice("method", method, ("huber", "mle"))
    check_choice("solver", solver, ("ladder", "zoom"))
    N = _as_1d("N", N)
    D = _as_1d("D", D)
    L = _as_1d("loss", loss)
    n = _same_length(N=N, D=D, loss=L)
    n_par = 5 if method == "huber" else 6
    _check_enough_points(n, n_par, f"the Chinchilla law (method={method!r})")
    delta = _check_positive("delta", (1e-3 if method == "huber" else 1.0) if delta is None else delta)
    bootstrap, seed, level = _check_bootstrap(bootstrap, seed, level)
    max_iter = check_int("max_iter", max_iter, 1, _MAX_ITER)
    gtol, ftol = _check_positive("gtol", gtol), _check_positive("ftol", ftol)
    shifted = None
    if starts is None:
        scale = grid_loss_scale(L)
        starts = chinchilla_grid(loss_scale=scale)
        shifted = None if scale == 1.0 else scale
    else:
        what = "starts must be a finite (S, 5) array of (log A, log B, log E, alpha, beta)"
        if isinstance(starts, (str, bytes)):
            raise TypeError(f"starts={starts!r}; {what}")
        if np.iscomplexobj(starts):
            raise TypeError(f"starts is complex; {what}")
        try:
            starts = np.asarray(starts, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{what}; could not convert: {err}") from None
        if starts.ndim != 2 or starts.shape[1] != 5 or starts.shape[0] < 1 or not np.all(np.isfinite(starts)):
            raise ValueError(f"starts must be a finite (S, 5) array of (log A, log B, log E, alpha, beta), got shape {starts.shape}")
    _check_varies("N", N, "L(N, D) (alpha and A cannot be separated from E)")
    _check_varies("D", D, "L(N, D) (beta and B cannot be separated from E)")
    _check_varies("loss", L, "L(N, D) (constant loss: A, B and the exponents are undetermined)")

    data = (np.log(N), np.log(D), np.log(L))
    ones = np.ones((1, n))
    # Stage 1, every start: scipy L-BFGS-B's default stopping rules (pgtol 1e-5, factr 1e7),
    # i.e. what the published procedure ran.  Stage 2: polish the best start to gtol/ftol.
    if solver == "ladder":
        sol = _minimize_ladder(starts, data, residual_fn=_chinchilla_residual, loss="huber", delta=delta,
                               max_iter=max_iter, gtol=1e-5, ftol=2.2e-9)
    else:
        sol = _minimize(starts, np.broadcast_to(ones, (len(starts), n)), data, residual_fn=_chinchilla_residual,
                        loss="huber", delta=delta, max_iter=max_iter, gtol=1e-5, ftol=2.2e-9)
    values = np.where(np.isfinite(sol.value), sol.value, np.inf)
    if not np.isfinite(values).any():
        raise NotIdentifiableError("every start diverged (non-finite objective); the data do not determine L(N, D)")
    n_conv = int(sol.converged.sum())
    best = sol.params[int(np.argmin(values))]
    if method == "huber":
        pol = _minimize(best[None, :], ones, data, residual_fn=_chinchilla_residual, loss="huber",
                        delta=delta, max_iter=max_iter, gtol=gtol, ftol=ftol)
        p_full = pol.params[0]
        objective = float(pol.value[0])
        sigma, delta_eff = math.nan, delta
    else:
        r0 = np.asarray(_chinchilla_local(best, data)[0])
        # For |u| > delta the Huber density is Laplace with scale sigma/delta; start at its MLE.
        s0 = math.log(max(delta * float(np.mean(np.abs(r0))), 1e-300))
        pol = _minimize(np.append(best, s0)[None, :], ones, data, residual_fn=_chinchilla_residual,
                        loss="huber_nll", delta=delta, max_iter=max_iter, gtol=gtol, ftol=ftol)
        p_full = pol.params[0]
        sigma = math.exp(p_full[5])
        objective = float(pol.value[0]) + n * _huber_log_norm(delta)
        delta_eff = delta * sigma
    p_hat = p_full[:5]
    for name, log_value, x, x_name in (("A", p_hat[0], N, "N"), ("B", p_hat[1], D, "D")):
        # N near 1e250 had overflowed math.exp in ChinchillaParams.from_log (a bare OverflowError); only overflow
        # is refused, as the A or B of a term collapsed onto E may underflow to 0 harmlessly
        if log_value >= _LOG_FLOAT64_MAX:
            _check_prefactor(name, log_value, x, x_name)
    pol_loss = "huber" if method == "huber" else "huber_nll"
    gn, it, ok = float(pol.grad_norm[0]), int(pol.iterations[0]), bool(pol.converged[0])
    data = tuple(map(jnp.asarray, data))

    r, jac, dj = map(np.asarray, _chinchilla_local(p_hat, data))
    cov = _m_estimator_cov(jac, r, np.ones(n), delta_eff, "huber")
    se = np.sqrt(np.diag(dj @ cov @ dj.T))
    stderr = dict(zip(_CH_OUT, map(float, se)))
    if method == "mle":
        stderr["sigma"] = sigma * _log_scale_stderr(p_full, data, delta)
    # 2 distinct N (D) give A N^-alpha (B D^-beta) 2 values, which one of its parameters and E can meet for
    # any alpha (beta): the fit picks one of a family (1 distinct value raises in _check_varies)
    two = [f"{k} has only 2 distinct values ({v.min():.4g}, {v.max():.4g})" for k, v in (("N", N), ("D", D))
           if np.unique(v).size == 2]
    notes = [f"{' and '.join(two)}: fewer than 3 distinct values of N or D cannot determine the exponent of "
             "its term (it trades off against its prefactor and E); the parameters are one of a family that fits "
             "equally well, whatever the notes on the loss say"] if two else []
    if shifted is not None:
        notes.append(_grid_shift_note(shifted))
    # (under mle delta sets the share of standardised residuals inside, whatever the noise: with delta >= 1.0, the
    # default, too few inside means too few points, so recommending the default would name the delta in use)
    notes += _huber_note(r, delta_eff, "huber", 5, "method='mle' (or a larger delta)" if method == "huber"
                         else "the default delta=1.0 (on standardised residuals)" if delta < 1.0
                         else "fitting more (N, D) points (or with a larger delta)")
    identifiable = bool(np.all(np.isfinite(se)))
    if not identifiable:
        notes.append("covariance is singular or too few residuals lie in the Huber quadratic branch: standard errors "
                     "undefined")
    identifiable = identifiable and not two
    if min(p_hat[3], p_hat[4]) < 1e-3:
        identifiable = False
        notes.append(f"an exponent is ~0 (alpha={p_hat[3]:.3g}, beta={p_hat[4]:.3g}): that term is confounded with E")
    if not ok:
        notes.append("the best start did not meet a convergence criterion (see |grad| and iters)")

    boot = None
    intervals = {}
    if bootstrap:
        w = np.asarray(_bootstrap_weights(seed, bootstrap, n))
        starts_b = _away_from_collapse(p_full, 2, float(np.min(L)))  # (log E is p[2])
        full = _refit_resamples(np.broadcast_to(starts_b, (bootstrap,) + starts_b.shape), w, data,
                                residual_fn=_chinchilla_residual, loss=pol_loss, delta=delta, max_iter=max_iter,
                                gtol=gtol, ftol=ftol)
        # A or alpha (B or beta) need 3 distinct N (D): the fit sees only differences between sizes
        under = _underdetermined(w, (N, 3), (D, 3), (np.stack([N, D], axis=1), full.shape[1]))
        failed = ~under & np.isnan(full[:, 0])
        full[under] = np.nan
        boot = full[:, :5]
        notes += _dropped_notes(int(under.sum()), int(failed.sum()), bootstrap,
                                f"N, D or (N, D) runs (3, 3 and {full.shape[1]})", level)
        with np.errstate(over="ignore", invalid="ignore"):
            derived = _ch_derived(boot, np)  # numpy: no compile per resample count
        intervals = _percentile_intervals(derived, _CH_OUT, level)
        if method == "mle":
            s_boot = np.exp(full[:, 5])
            intervals.update(_percentile_intervals(s_boot[:, None], ("sigma",), level))

    params = ChinchillaParams.from_log(*p_hat)
    lL = np.asarray(data[2])
    return ChinchillaFit(
        params=params, log_params=p_hat, stderr=stderr, intervals=intervals, cov=cov,
        objective=objective, grad_norm=gn, iterations=it, converged=ok, n_converged=n_conv,
        n_starts=len(starts), n_points=n, N_range=(float(N.min()), float(N.max())),
        D_range=(float(D.min()), float(D.max())), r2=_r2_log(lL, lL + r), method=method,
        delta=delta, sigma=sigma, n_bootstrap=bootstrap, level=level, boot_log_params=boot,
        identifiable=identifiable, notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------
# held-out extrapolation error: fit below a cut, predict above
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Extrapolation:
    """Held-out extrapolation error of a fit (Alabdulmohsin et al. 2022): fit on the points
    at or below a cut, predict the points above it.

    Attributes:
      fit: the fit on the points below the cut (`PowerLawFit`, `ChinchillaFit` or
        `BrokenPowerLawFit`).
      cut: the cut value; points with ``on`` <= cut are fitted, points above are predicted.
      on: the quantity cut on: "x" (power laws), "N" or "C" (= 6 N D, Chinchilla fits).
      n_train, n_test: points fitted / predicted.
      observed, predicted: the held-out y (loss) and the fit's prediction there.
      rel_error: per held-out point pred / obs - 1.
      mean_rel_error, max_rel_error: mean and max of |pred / obs - 1|.
      mean_log_error, max_log_error: mean and max of |log pred - log obs|.
      rmse_log: root mean square of log pred - log obs.
    """

    fit: Any
    cut: float
    on: str
    n_train: int
    n_test: int
    observed: np.ndarray = dataclasses.field(repr=False)
    predicted: np.ndarray = dataclasses.field(repr=False)
    rel_error: np.ndarray = dataclasses.field(repr=False)
    mean_rel_error: float = math.nan
    max_rel_error: float = math.nan
    mean_log_error: float = math.nan
    max_log_error: float = math.nan
    rmse_log: float = math.nan

    def __str__(self) -> str:
        head = (f"Extrapolation  fit on {self.on} <= {self.cut:.4g} ({self.n_train} points), "
                f"predict {self.on} > {self.cut:.4g} ({self.n_test} points)")
        err = (f"  |pred/obs - 1|: mean={self.mean_rel_error:.4g} max={self.max_rel_error:.4g}   "
               f"|log pred - log obs|: mean={self.mean_log_error:.4g} max={self.max_log_error:.4g} "
               f"rmse={self.rmse_log:.4g}")
        fit = "\n".join("  " + line for line in str(self.fit).splitlines())
        return "\n".join([head, err, fit])


def _split_at_cut(name: str, v: np.ndarray, cut: Any, n_params: int, what: str) -> tuple[float, np.ndarray]:
    """Validate ``cut`` and return (cut, mask of training points v <= cut)."""
    cut = _check_positive("cut", cut)
    train = v <= cut
    n_tr, n_te = int(train.sum()), int((~train).sum())
    if n_tr < n_params + 1 or n_te < 1:
        raise ValueError(
            f"cut={cut:g} leaves {n_tr} point(s) with {name} <= cut and {n_te} above; {what} needs at least "
            f"{n_params + 1} below and 1 above ({name} ranges over [{v.min():.4g}, {v.max():.4g}])"
        )
    return cut, train


def _extrapolation(fit: Any, cut: float, on: str, n_train: int, obs: np.ndarray, pred: np.ndarray) -> Extrapolation:
    rel = pred / obs - 1.0
    lerr = np.log(pred) - np.log(obs) if np.all(pred > 0) else np.full_like(obs, np.nan)
    return Extrapolation(
        fit=fit, cut=cut, on=on, n_train=n_train, n_test=len(obs), observed=obs, predicted=pred, rel_error=rel,
        mean_rel_error=float(np.mean(np.abs(rel))), max_rel_error=float(np.max(np.abs(rel))),
        mean_log_error=float(np.mean(np.abs(lerr))), max_log_error=float(np.max(np.abs(lerr))),
        rmse_log=float(np.sqrt(np.mean(lerr**2))),
    )


def extrapolation_error(
    x: Any,
    y: Any,
    *,
    cut: float,
    offset: bool = False,
    loss: Loss = "squared",
    huber_delta: float = 1e-3,
    max_iter: int = 500,
) -> Extrapolation:
    """Held-out extrapolation error of a power law y = C x^-a (+ y_inf).

    Fits `fit_power_law` on the points with x <= cut and predicts those with x > cut
    (Alabdulmohsin et al. 2022; the "(Mis)Fitting" survey: judge a scaling law by how it
    extrapolates, not by its in-sample R^2).

    Args:
      x: positive sizes (1-D).
      y: positive losses (1-D, same length).
      cut: points with x <= cut are fitted, points with x > cut are predicted.
      offset, loss, huber_delta, max_iter: as in `fit_power_law`.

    Returns:
      An `Extrapolation` with the fit and the relative / log errors on the held-out points.
    """
    _check_loss(loss)
    offset = _check_bool("offset", offset)
    x = _as_1d("x", x)
    y = _as_1d("y", y)
    n_params = 3 if offset else 2  # (the empty-input message had asked for one point fewer than the split needs)
    _check_nonempty(_same_length(x=x, y=y), "x and y", f"need at least {n_params + 2} points, "
                    f"{n_params + 1} with x <= cut and 1 above")
    cut, train = _split_at_cut("x", x, cut, n_params, "a power law" + (" with offset" if offset else ""))
    fit = fit_power_law(x[train], y[train], offset=offset, loss=loss, huber_delta=huber_delta, max_iter=max_iter)
    return _extrapolation(fit, cut, "x", int(train.sum()), y[~train], fit.predict(x[~train]))


def chinchilla_extrapolation_error(
    N: Any,
    D: Any,
    loss: Any,
    *,
    cut: float,
    on: Literal["N", "C"] = "C",
    **fit_kwargs: Any,
) -> Extrapolation:
    """Held-out extrapolation error of a Chinchilla fit L(N, D) = E + A/N^alpha + B/D^beta.

    Fits `fit_chinchilla` on the runs with N <= cut (``on="N"``) or compute C = 6 N D <= cut
    (``on="C"``, as the LAION comparison of Cherti et al. 2023 cuts on compute) and predicts
    the others.

    Args:
      N, D, loss: runs (positive, same length).
      cut: the cut on N or on C.
      on: "N" or "C".
      **fit_kwargs: passed to `fit_chinchilla` (method, starts, delta, ...).

    Returns:
      An `Extrapolation` whose ``fit`` is the `ChinchillaFit` on the runs below the cut.
    """
    check_choice("on", on, ("N", "C"))
    N = _as_1d("N", N)
    D = _as_1d("D", D)
    L = _as_1d("loss", loss)
    _check_nonempty(_same_length(N=N, D=D, loss=L), "N, D and loss", f"need at least 7 runs, 6 with {on} <= cut "
                    "and 1 above")
    v = N if on == "N" else _flops(N, D)
    cut, train = _split_at_cut(on, v, cut, 5, "the Chinchilla law")
    fit = fit_chinchilla(N[train], D[train], L[train], **fit_kwargs)
    return _extrapolation(fit, cut, on, int(train.sum()), L[~train], fit.predict(N[~train], D[~train]))


# --------------------------------------------------------------------------------------
# broken power law (Caballero et al. 2022)
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BrokenPowerLawFit:
    """A fitted broken power law (Caballero et al. 2022, eq. 1)

        y = a + b x^-c0 prod_i (1 + (x / d_i)^(1/f_i))^(-c_i f_i).

    Far below every break the local log-log slope is -c0; past break i it is
    -(c0 + c_1 + ... + c_i) (``slopes``); f_i is the width of break i in units of ln x.

    Attributes:
      offset: a (0.0 when not fitted).
      prefactor: b.
      exponent: c0.
      breaks: break locations d_i, ascending.
      changes: slope changes c_i (same order).
      smoothness: f_i (same order).
      r2: R^2 of log y.
      objective: sum of per-point losses on log-residuals at the optimum.
      grad_norm, iterations, converged: L-BFGS diagnostics of the best start.
      n_starts: starts optimised (grid of breaks x smoothness [x offset], slopes by least squares).
      n_points, x_range: the data used.
      loss: "squared" or "huber".
      fit_offset: whether a was fitted.
      stderr: standard errors (M-estimator covariance, Huber 1981, by the delta method) of
        "offset" (if fitted), "prefactor", "exponent", "break<i>", "change<i>", "smoothness<i>"
        and the derived "slope<i>" (= ``slopes[i]``), i = 1..breaks in ascending break order.
      intervals: bootstrap percentile intervals of the same keys (empty when bootstrap=0).
      n_bootstrap, level: resamples and confidence level of ``intervals``.
      identifiable: False when the information matrix is singular (standard errors undefined).
      notes: caveats (e.g. a break outside the data range).
    """

    offset: float
    prefactor: float
    exponent: float
    breaks: tuple[float, ...]
    changes: tuple[float, ...]
    smoothness: tuple[float, ...]
    r2: float
    objective: float
    grad_norm: float
    iterations: int
    converged: bool
    n_starts: int
    n_points: int
    x_range: tuple[float, float]
    loss: str = "squared"
    fit_offset: bool = False
    stderr: dict = dataclasses.field(default_factory=dict)
    intervals: dict = dataclasses.field(default_factory=dict)
    n_bootstrap: int = 0
    level: float = 0.95
    identifiable: bool = True
    notes: tuple[str, ...] = ()

    @property
    def slopes(self) -> tuple[float, ...]:
        """Asymptotic exponents: c0 below the first break, c0 + c_1 + ... + c_i past break i."""
        return tuple(float(s) for s in np.cumsum((self.exponent,) + self.changes))

    def predict(self, x: Any) -> np.ndarray:
        """Fitted y at ``x`` (numpy array)."""
        lx = np.log(np.asarray(x, dtype=np.float64))
        g = math.log(self.prefactor) - self.exponent * lx
        for d, c, f in zip(self.breaks, self.changes, self.smoothness):
            g = g - c * f * np.logaddexp(0.0, (lx - math.log(d)) / f)
        return np.exp(g) + self.offset

    def params(self) -> dict:
        """Parameters and slopes under the keys of ``stderr``, unrounded."""
        d = {"offset": self.offset} if self.fit_offset else {}
        d.update(prefactor=self.prefactor, exponent=self.exponent)
        for i, (b, c, f) in enumerate(zip(self.breaks, self.changes, self.smoothness), 1):
            d.update({f"break{i}": b, f"change{i}": c, f"smoothness{i}": f})
        d.update({f"slope{i}": s for i, s in enumerate(self.slopes[1:], 1)})
        return d

    def to_dict(self) -> dict:
        """JSON-ready dict: parameters, slopes, stderr, intervals and diagnostics."""
        return dict(
            self.params(), breaks=list(self.breaks), changes=list(self.changes), smoothness=list(self.smoothness),
            slopes=list(self.slopes), stderr=dict(self.stderr), intervals={k: list(v) for k, v in self.intervals.items()},
            r2=self.r2, objective=self.objective, converged=self.converged, grad_norm=self.grad_norm,
            iterations=self.iterations, n_starts=self.n_starts, n_points=self.n_points, x_range=list(self.x_range),
            loss=self.loss, fit_offset=self.fit_offset, n_bootstrap=self.n_bootstrap, level=self.level,
            identifiable=self.identifiable, notes=list(self.notes),
        )

    def __str__(self) -> str:
        form = "y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)"
        rows = [f"BrokenPowerLawFit  {form}  ({len(self.breaks)} break(s), {self.loss} loss in log space, "
                f"n={self.n_points}, x in [{self.x_range[0]:.4g}, {self.x_range[1]:.4g}])",
                f"  {'param':<21}{'value':>18}{'stderr':>14}   interval ({self.level:.0%} bootstrap)"]
        labels = {"offset": "a", "prefactor": "b", "exponent": "c0"}
        for k, v in self.params().items():
            iv = self.intervals.get(k)
            ivs = f"[{iv[0]:.6g}, {iv[1]:.6g}]" if iv else "-"
            # the formula's symbol and the key of stderr / intervals (the symbol alone had been read as a key)
            symbol = labels.get(k, k.replace("break", "d").replace("change", "c").replace("smoothness", "f"))
            name = k if symbol == k else f"{symbol} ({k})"
            rows.append(f"  {name:<21}{v:>18.10g}{_fmt(self.stderr.get(k, math.nan)):>14}   {ivs}")
        rows.append("  slopes: " + " -> ".join(f"{s:.6g}" for s in self.slopes))
        rows.append(f"  R^2(log)={_fmt(self.r2)}  objective={self.objective:.6g}  converged={self.converged}  "
                    f"|grad|={self.grad_norm:.2g}  iters={self.iterations}  starts={self.n_starts}"
                    + (f"  bootstrap={self.n_bootstrap}" if self.n_bootstrap else ""))
        if not self.identifiable:
            rows.append(f"  {_NOT_IDENTIFIABLE}")
        rows += [f"  note: {n}" for n in self.notes]
        return "\n".join(rows)


def _bpl_names(breaks: int, offset: bool) -> list[str]:
    names = (["offset"] if offset else []) + ["prefactor", "exponent"]
    for i in range(1, breaks + 1):
        names += [f"break{i}", f"change{i}", f"smoothness{i}"]
    return names + [f"slope{i}" for i in range(1, breaks + 1)]


def _bpl_natural(p: jax.Array, breaks: int, offset: bool) -> jax.Array:
    """Optimised parameters -> the values under `_bpl_names`, breaks in ascending order (works under vmap).

    Sorting by break location makes a resample whose breaks swapped labels comparable with the fit.
    """
    ld = p[2:2 + 3 * breaks:3]
    order = jnp.argsort(ld)
    c = p[3:3 + 3 * breaks:3][order]
    out = ([jnp.exp(p[-1])] if offset else []) + [jnp.exp(p[0]), p[1]]
    for i in range(breaks):
        out += [jnp.exp(ld[order][i]), c[i], jnp.exp(p[4:4 + 3 * breaks:3][order][i])]
    return jnp.stack(out + list(p[1] + jnp.cumsum(c)))


@functools.partial(jax.jit, static_argnames=("breaks", "offset"))
def _bpl_natural_and_jacobian(p: jax.Array, breaks: int, offset: bool) -> tuple[jax.Array, jax.Array]:
    """`_bpl_natural` at ``p`` and its Jacobian, in one compiled program (op by op, ~50 small ones)."""
    natural = functools.partial(_bpl_natural, breaks=breaks, offset=offset)
    return natural(p), jax.jacfwd(natural)(p)


@functools.partial(jax.jit, static_argnames=("breaks", "offset"))
def _bpl_natural_rows(ps: jax.Array, breaks: int, offset: bool) -> jax.Array:
    """`_bpl_natural` of each row of ``ps`` (the bootstrap's refits), compiled."""
    return jax.vmap(functools.partial(_bpl_natural, breaks=breaks, offset=offset))(ps)


def _bpl_log_core(p: jax.Array, lx: jax.Array, breaks: int) -> jax.Array:
    """log(b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)), p = (log b, c0, [log d_i, c_i, log f_i]...)."""
    g = p[0] - p[1] * lx
    for i in range(breaks):
        ld, c, f = p[2 + 3 * i], p[3 + 3 * i], jnp.exp(p[4 + 3 * i])
        g = g - c * f * jax.nn.softplus((lx - ld) / f)
    return g


@functools.lru_cache(maxsize=None)
def _bpl_residual_fn(breaks: int, offset: bool) -> ResidualFn:
    """Log-residual function for a given number of breaks (cached: one jit cache entry each)."""

    def residual(p: jax.Array, data: tuple) -> jax.Array:
        lx, ly = data
        g = _bpl_log_core(p, lx, breaks)
        if offset:
            g = jnp.logaddexp(g, p[2 + 3 * breaks])
        return g - ly

    return residual


def _bpl_starts(lx: np.ndarray, ly: np.ndarray, breaks: int, offset: bool) -> np.ndarray:
    """Grid of starts: break positions x widths (x offsets); log b, c0, c_i by least squares.

    For fixed (d_i, f_i) and offset the log-model is linear in (log b, c0, c_i) (variable
    projection), so every start already has the best slopes for its break positions.
    """
    lo, hi = lx.min(), lx.max()
    pos = lo + (hi - lo) * (np.arange(10) + 0.5) / 10
    widths = np.log(np.array([0.1, 0.3, 1.0]))
    combos = np.array(list(itertools.combinations(range(len(pos)), breaks)))  # ascending breaks
    lds = pos[combos]  # (K, breaks)
    lfs = np.stack(np.meshgrid(*([widths] * breaks), indexing="ij"), -1).reshape(-1, breaks)  # (F, breaks)
    ld = np.repeat(lds, len(lfs), axis=0)
    lf = np.tile(lfs, (len(lds), 1))  # (S, breaks)
    y = np.exp(ly)
    fracs = np.array([1e-3, 0.3, 0.6, 0.9]) if offset else np.array([0.0])
    ld, lf = np.repeat(ld, len(fracs), 0), np.repeat(lf, len(fracs), 0)
    fr = np.tile(fracs, len(lds) * len(lfs))
    target = np.log(y[None, :] - fr[:, None] * y.min())  # (S, n)
    f = np.exp(lf)[:, :, None]
    hinge = -f * np.logaddexp(0.0, (lx[None, None, :] - ld[:, :, None]) / f)  # (S, breaks, n)
    X = np.concatenate([np.ones((len(fr), 1, len(lx))), -np.broadcast_to(lx, (len(fr), 1, len(lx))), hinge], 1)
    coef = np.einsum("spn,sn->sp", np.linalg.pinv(np.swapaxes(X, 1, 2)), target)  # (S, 2 + breaks)
    cols = [coef[:, 0], coef[:, 1]]
    for i in range(breaks):
        cols += [ld[:, i], coef[:, 2 + i], lf[:, i]]
    if offset:
        cols.append(np.log(np.maximum(fr, 1e-3) * y.min()))
    return np.stack(cols, 1)


@_float64
def fit_broken_power_law(
    x: Any,
    y: Any,
    breaks: int = 1,
    *,
    offset: bool = False,
    loss: Loss = "squared",
    bootstrap: int = 0,
    seed: int = 0,
    huber_delta: float = 1e-3,
    level: float = 0.95,
    max_iter: int = 1000,
) -> BrokenPowerLawFit:
    """Fit a broken power law (Caballero et al. 2022, "Broken Neural Scaling Laws", eq. 1).

    y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i), fitted on log-space error:
    a grid of starts (10 break positions across the x range per break, widths f in {0.1, 0.3,
    1} in ln x, offsets at fractions of min y; log b, c0 and c_i solved by least squares for
    each) then L-BFGS from every start at once (vmapped, float64), keeping the best.

    Args:
      x: positive sizes (1-D).
      y: positive losses (1-D, same length).
      breaks: number of breaks, 1 to 3.
      offset: also fit the constant a (True or False; parameterised as log a inside a log-sum-exp).
      loss: "squared" or "huber" on log-residuals.
      bootstrap: number of bootstrap resamples of the points (0: none; else at least
        2 / (1 - level), 40 at the default level), all refitted at once (vmapped) warm-started
        from the fit (and, with an offset below 1 % of the smallest y, also from it with the
        offset at 0.1, 0.3 and 0.6 of that y; the best is kept); gives percentile intervals.
      seed: seed of the bootstrap resampling.
      huber_delta: Huber threshold.
      level: confidence level of the percentile intervals.
      max_iter: L-BFGS iteration cap (at most 2**31 - 1).

    Returns:
      A `BrokenPowerLawFit` with standard errors (M-estimator covariance, delta method) and,
      with ``bootstrap``, percentile intervals.
    """
    _check_loss(loss)
    offset = _check_bool("offset", offset)
    breaks = check_int("breaks", breaks, 1)
    if breaks > 3:
        raise ValueError(f"breaks={breaks}; allowed: 1, 2 or 3")
    x = _as_1d("x", x)
    y = _as_1d("y", y)
    n = _same_length(x=x, y=y)
    n_par = 2 + 3 * breaks + int(offset)
    _check_enough_points(n, n_par, f"a broken power law with {breaks} break(s)" + (" and offset" if offset else ""),
                         least=n_par + 1)
    delta = _check_positive("huber_delta", huber_delta)
    max_iter = check_int("max_iter", max_iter, 1, _MAX_ITER)
    bootstrap, seed, level = _check_bootstrap(bootstrap, seed, level)
    _check_varies("x", x, "a broken power law")
    _check_varies("y", y, "a broken power law")

    lx, ly = np.log(x), np.log(y)
    residual_fn = _bpl_residual_fn(breaks, offset)
    starts = _bpl_starts(lx, ly, breaks, offset)
    ok_start = np.all(np.isfinite(starts), axis=1)
    starts = starts[ok_start]
    sol = _minimize(starts, np.ones((len(starts), n)), (lx, ly), residual_fn=residual_fn, loss=loss,
                    delta=delta, max_iter=max_iter, gtol=1e-10, ftol=1e-15)
    values = np.where(np.isfinite(sol.value), sol.value, np.inf)
    if not np.isfinite(values).any():
        raise NotIdentifiableError("every start diverged (non-finite objective); the data do not determine the fit")
    best = int(np.argmin(values))
    p = sol.params[best]
    data = (jnp.asarray(lx), jnp.asarray(ly))
    r, jac = (np.asarray(v) for v in _residuals_and_jacobian(jnp.asarray(p), data, residual_fn))
    objective = float(np.sum(np.asarray(_rho(jnp.asarray(r), delta, loss))))
    names = _bpl_names(breaks, offset)
    values_nat, dj = (np.asarray(v) for v in _bpl_natural_and_jacobian(jnp.asarray(p), breaks, offset))
    est = dict(zip(names, map(float, values_nat)))
    _check_prefactor("b", p[0], x)
    cov = _m_estimator_cov(jac, r, np.ones(n), delta, loss)
    se = np.sqrt(np.diag(dj @ cov @ dj.T))
    stderr = dict(zip(names, map(float, se)))
    identifiable = bool(np.all(np.isfinite(se)))
    d = tuple(est[f"break{i}"] for i in range(1, breaks + 1))
    c = tuple(est[f"change{i}"] for i in range(1, breaks + 1))
    f = tuple(est[f"smoothness{i}"] for i in range(1, breaks + 1))
    notes = _huber_note(r, delta, loss, len(p), "a larger huber_delta")
    if not identifiable:
        notes.append("information matrix is singular or the loss has too few points in its quadratic branch; "
                     "standard errors are undefined")
    for i, di in enumerate(d, 1):
        if not x.min() < di < x.max():
            notes.append(f"break {i} at d={di:.4g} lies outside the data range [{x.min():.4g}, {x.max():.4g}]: "
                         "its location and slope change are extrapolated, not measured")
    if not sol.converged[best]:
        notes.append("the best start did not meet a convergence criterion (see |grad| and iters)")

    intervals: dict = {}
    if bootstrap:
        weights = np.asarray(_bootstrap_weights(seed, bootstrap, n))
        starts_b = _away_from_collapse(p, len(p) - 1, float(y.min())) if offset else p[None, :]  # (log offset last)
        full = _refit_resamples(np.broadcast_to(starts_b, (bootstrap,) + starts_b.shape), weights, (lx, ly),
                                residual_fn=residual_fn, loss=loss, delta=delta, max_iter=max_iter, gtol=1e-10,
                                ftol=1e-15)
        under = _underdetermined(weights, (x, len(p)))
        full[under] = np.nan
        boot = np.array(_bpl_natural_rows(jnp.asarray(full), breaks, offset))  # (NaN rows stay NaN)
        failed = ~under & ~np.all(np.isfinite(boot), axis=1)
        notes += _dropped_notes(int(under.sum()), int(failed.sum()), bootstrap, f"x (fewer than {len(p)})", level)
        intervals = _percentile_intervals(boot, names, level)
    return BrokenPowerLawFit(
        offset=est.get("offset", 0.0), prefactor=est["prefactor"], exponent=est["exponent"],
        breaks=d, changes=c, smoothness=f, r2=_r2_log(ly, ly + r), objective=objective,
        grad_norm=float(sol.grad_norm[best]), iterations=int(sol.iterations[best]),
        converged=bool(sol.converged[best]), n_starts=len(starts), n_points=n,
        x_range=(float(x.min()), float(x.max())), loss=loss, fit_offset=offset, stderr=stderr,
        intervals=intervals, n_bootstrap=bootstrap, level=level, identifiable=identifiable, notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------
# Chinchilla approaches 1 (frontier) and 2 (IsoFLOP parabolas)
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AllocationFit:
    """N_opt = k C^a fitted from per-budget optima (Hoffmann et al. 2022, approaches 1 and 2).

    Attributes:
      method: "frontier" (approach 1: lowest-loss run per budget) or "isoflop" (approach 2:
        minimum of a parabola of loss in log N per budget).
      a: exponent of N_opt in C (D_opt = C / (6 N_opt) then scales as C^(1 - a)).
      a_stderr: its OLS standard error (NaN with two budgets).
      prefactor: k.
      C: the budgets (one per group with an optimum), ascending.
      N_opt: per-budget optimal N.
      L_opt: per-budget minimal loss: for "frontier" the lowest loss after moving each run's loss to the
        group's common budget (see `fit_frontier`; as observed where the group's C do not scatter or it has too
        few runs to model them), for "isoflop" the parabola's minimum.
      n_runs: runs per budget.
      fit: the `PowerLawFit` of N_opt on C (its ``exponent`` is -a).
      curvature: per-budget parabola coefficient of (log N)^2 ("isoflop"; None for "frontier").
      intervals: bootstrap percentile intervals of "a", "prefactor" and "b" over resamples of the
        runs ("frontier") or of the runs' losses by their residuals, the design fixed ("isoflop")
        (empty when bootstrap=0).
      n_bootstrap: number of resamples (0: none).
      level: confidence level of ``intervals``.
      bootstrap_failed: resamples left with fewer than 2 usable budgets; dropped from ``intervals``.
      boot_log_params: (R, 2) refits (log k, a), one row per resample (NaN rows failed), or None.
      notes: caveats (budgets dropped, optima outside a budget's N range, failed resamples).
    """

    method: str
    a: float
    a_stderr: float
    prefactor: float
    C: np.ndarray = dataclasses.field(repr=False)
    N_opt: np.ndarray = dataclasses.field(repr=False)
    L_opt: np.ndarray = dataclasses.field(repr=False)
    n_runs: np.ndarray = dataclasses.field(repr=False)
    fit: PowerLawFit = dataclasses.field(repr=False)
    curvature: np.ndarray | None = dataclasses.field(default=None, repr=False)
    intervals: dict = dataclasses.field(default_factory=dict)
    n_bootstrap: int = 0
    level: float = 0.95
    bootstrap_failed: int = 0
    boot_log_params: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)
    notes: tuple[str, ...] = ()

    @property
    def b(self) -> float:
        """Exponent of D_opt in C (C = 6 N D): 1 - a."""
        return 1.0 - self.a

    def predict(self, C: Any) -> np.ndarray:
        """N_opt at budget(s) C (numpy)."""
        return self.prefactor * np.asarray(C, dtype=np.float64) ** self.a

    def to_dict(self) -> dict:
        """JSON-ready dict: a, its stderr and interval, k, b, the per-budget optima and the fit's diagnostics."""
        return dict(
            method=self.method, a=self.a, a_stderr=self.a_stderr, prefactor=self.prefactor,
            prefactor_stderr=self.fit.stderr.get("prefactor", math.nan), b=self.b, r2=self.fit.r2,
            intervals={k: list(v) for k, v in self.intervals.items()}, n_bootstrap=self.n_bootstrap,
            level=self.level, bootstrap_failed=self.bootstrap_failed,
            n_budgets=len(self.C), C_range=[float(self.C.min()), float(self.C.max())], C=self.C.tolist(),
            N_opt=self.N_opt.tolist(), L_opt=self.L_opt.tolist(), n_runs=[int(v) for v in self.n_runs],
            curvature=None if self.curvature is None else self.curvature.tolist(), notes=list(self.notes),
        )

    def __str__(self) -> str:
        name = {"frontier": "approach 1, frontier", "isoflop": "approach 2, IsoFLOP parabolas"}[self.method]
        rows = [f"AllocationFit  N_opt = k C^a  ({name}, {len(self.C)} budgets)",
                f"  {'param':<6}{'value':>16}{'stderr':>14}   interval ({self.level:.0%} bootstrap)"]
        stderr = {"a": self.a_stderr, "prefactor": self.fit.stderr.get("prefactor", math.nan), "b": self.a_stderr}
        for key, label, value in (("a", "a", self.a), ("prefactor", "k", self.prefactor), ("b", "b=1-a", self.b)):
            iv = self.intervals.get(key)
            ivs = f"[{iv[0]:.6g}, {iv[1]:.6g}]" if iv else "-"
            rows.append(f"  {label:<6}{value:>16.10g}{_fmt(stderr[key]):>14}   {ivs}")
        if self.n_bootstrap:
            what = "resamples of the losses by residuals" if self.method == "isoflop" else "resamples of the runs"
            rows.append(f"  bootstrap={self.n_bootstrap} {what}, {self.bootstrap_failed} failed")
        rows.append(f"  {'C':>12}{'N_opt':>14}{'L_opt':>12}{'runs':>6}")
        for c, nn, l, k in zip(self.C, self.N_opt, self.L_opt, self.n_runs):
            rows.append(f"  {c:>12.4g}{nn:>14.4g}{l:>12.6g}{k:>6d}")
        rows += [f"  note: {n}" for n in self.notes]
        return "\n".join(rows)


def _runs(N: Any, D: Any, C: Any, loss: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate runs given as (N, D, loss) or (N, C, loss); returns (N, C, loss)."""
    if (D is None) == (C is None):
        raise ValueError("give exactly one of D (tokens) or C (FLOPs, C = 6 N D); got "
                         + ("both" if D is not None else "neither"))
    N = _as_1d("N", N)
    L = _as_1d("loss", loss)
    need = "need runs at 2 or more compute budgets to fit N_opt = k C^a"
    if D is not None:
        D = _as_1d("D", D)
        _check_nonempty(_same_length(N=N, D=D, loss=L), "N, D and loss", need)
        return N, _flops(N, D), L
    C = _as_1d("C", C)
    _check_nonempty(_same_length(N=N, C=C, loss=L), "N, C and loss", need)
    return N, C, L


def _flops(N: np.ndarray, D: np.ndarray) -> np.ndarray:
    """C = 6 N D, refused where it overflows float64 (each factor finite: an SVD had failed on the inf)."""
    with np.errstate(over="ignore"):
        C = 6.0 * N * D
    if not np.all(np.isfinite(C)):
        i = int(np.argmin(np.isfinite(C)))
        raise ValueError(f"C = 6 N D overflows float64 at N={N[i]:g}, D={D[i]:g}; give N and D in larger units "
                         f"(millions of parameters, billions of tokens)")
    return C


class _Groups(NamedTuple):
    """Runs in budget groups under R weightings at once.

    A bootstrap resample is a row of integer multiplicities of the runs, the data as given the
    row of ones (R = 1), so one code path fits both, every step a sum, extreme or argmin over
    the (weighting, group) cells of an (R, G) array.
    """

    w: np.ndarray  # (R, n) multiplicity of each run; 0 for runs not drawn or outside the bin edges
    g: np.ndarray  # (R, n) budget group of each run, in [0, G)
    G: int

    @property
    def cell(self) -> np.ndarray:
        """(R, n) index of each run's (weighting, group) cell in a raveled (R, G) array."""
        return np.arange(len(self.w))[:, None] * self.G + self.g

    def total(self, x: Any) -> np.ndarray:
        """(R, G) weighted sums within each group of per-run values x, (n,) or (R, n)."""
        R = len(self.w)
        return np.bincount(self.cell.ravel(), (self.w * x).ravel(), minlength=R * self.G).reshape(R, self.G)

    def extreme(self, x: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
        """(R, G) np.maximum or np.minimum of x over the drawn runs of each group (-inf or inf where none)."""
        out = np.full(len(self.w) * self.G, -np.inf if ufunc is np.maximum else np.inf)
        drawn = self.w > 0
        ufunc.at(out, self.cell[drawn], np.broadcast_to(x, self.w.shape)[drawn])
        return out.reshape(len(self.w), self.G)

    def distinct(self, key: np.ndarray) -> np.ndarray:
        """(R, G) number of distinct integer labels ``key`` (n,) among the drawn runs of each group."""
        K = int(key.max()) + 1
        cells = np.unique((self.cell * K + key)[self.w > 0])
        return np.bincount(cells // K, minlength=len(self.w) * self.G).reshape(len(self.w), self.G)

    def at(self, per_group: np.ndarray) -> np.ndarray:
        """(R, n, ...) the entry of each run's group, from an (R, G, ...) array."""
        return per_group[np.arange(len(self.w))[:, None], self.g]

    def argmin(self, score: np.ndarray, *tie: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
        """Per group, the drawn run of lowest ``score`` (R, n); among runs exactly tied for it, the middle one
        (the lower middle of an even count) in the order of the ``tie`` keys ((n,) or (R, n), first key first).

        Ties are not sent to the first run in input order: with losses logged to 1 decimal, that made a
        frontier's a 0.33 as given and 0.58 reversed.  Returns (run index (R, G), whether the group has a drawn
        run (R, G), (first, last) of its runs tied for the lowest score in that order (each (R, G) run indices,
        both the picked run when it has no tie)); one sort by (cell, score, tie keys).
        """
        R, n = self.w.shape
        cell = np.where(self.w > 0, self.cell, R * self.G).ravel()  # runs not drawn sort after every cell
        s = np.broadcast_to(score, self.w.shape).ravel()
        keys = [np.broadcast_to(k, self.w.shape).ravel() for k in reversed(tie)]
        order = np.lexsort((*keys, s, cell))
        cells = np.arange(R * self.G)
        first = np.minimum(np.searchsorted(cell[order], cells), R * n - 1)
        has = cell[order[first]] == cells
        # a group's runs tied for its lowest score sort together right from its first
        c_sorted = cell[order]
        tied = (c_sorted < R * self.G) & (s[order] == s[order[first]][np.minimum(c_sorted, R * self.G - 1)])
        n_tied = np.bincount(c_sorted[tied], minlength=R * self.G)
        n_tied = np.maximum(n_tied, 1)
        pick, last = order[first + (n_tied - 1) // 2], order[first + n_tied - 1]
        return (pick % n).reshape(R, self.G), has.reshape(R, self.G), ((order[first] % n).reshape(R, self.G),
                                                                        (last % n).reshape(R, self.G))


#: Relative spread of C above which a budget group's scatter is modelled (``_local_budget_terms``): below it the
#: scatter is rounding and the plain parabola is fitted.
_SAME_BUDGET = 1e-4

#: Without ``bins``, a run starts a new budget group when its log C lies more than this above the group's first
#: (smallest) run.  C = 6 N D from integer N and D = round(C / 6N) scatters by up to 1/(2D) (5e-4 at D = 1e3
#: tokens); budgets of a sweep differ by factors like 2-10 (log C gaps >= 0.69).  Measured from the group's first
#: run, not the previous one, so densely spread C cannot chain into one wide group.
_BUDGET_SPAN = 1e-2


def _budget_groups(C: np.ndarray, bins: Any, w: np.ndarray) -> _Groups:
    """Budget groups of the runs under each weighting w (R, n): by C value (bins=None; sorted by C, a drawn run
    within ``_BUDGET_SPAN`` = 1e-2 in log C of its group's first drawn run joins it), by ``bins`` log-spaced bins
    over the range of the drawn runs' C (an int; a resample without the extreme runs gets its own edges, as a
    fit to it would) or by given bin edges (ascending array; bins [lo, hi), the last [lo, hi] as in
    numpy.histogram; runs outside get weight 0)."""
    if bins is None:
        # C = 6 N D from integer N and D scatters by ~1/D around its budget; per row, among its drawn runs (a
        # resample is grouped as a refit of it would be), a run more than _BUDGET_SPAN above its group's first
        # run starts the next group
        order = np.argsort(np.log(C), kind="stable")
        lC = np.log(C)[order]
        drawn = w[:, order] > 0
        R, n = drawn.shape
        g_sorted = np.zeros((R, n), dtype=np.int64)
        first = np.full(R, -np.inf)  # log C of the current group's first drawn run
        group = np.full(R, -1)
        for j in range(n):
            new = drawn[:, j] & (lC[j] > first + _BUDGET_SPAN)
            group = group + new
            first = np.where(new, lC[j], first)
            g_sorted[:, j] = np.maximum(group, 0)
        g = np.empty_like(g_sorted)
        g[:, order] = g_sorted
        return _Groups(w, g, int(g.max()) + 1)
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 2:
            raise ValueError(f"bins={bins}; an integer number of bins must be >= 2")
        if bins > C.size:
            raise ValueError(f"bins={bins}; more bins than the {C.size} runs (an integer is a number of bins; "
                             f"give >= 3 ascending edges for bin edges)")
        drawn = w > 0
        lo, hi = np.where(drawn, C, np.inf).min(axis=1), np.where(drawn, C, -np.inf).max(axis=1)
        edges = np.exp(np.linspace(np.log(lo), np.log(hi), int(bins) + 1, axis=1))
        edges[:, 0], edges[:, -1] = lo * (1 - 1e-12), hi * (1 + 1e-12)
    else:
        if not isinstance(bins, (str, bytes)) and np.ndim(bins) == 0:
            # a float or a bool had read as 1 edge ("bins has 1 edge(s)"), hiding what was wrong
            raise TypeError(f"bins={bins!r}; bins must be None, an int number of bins (>= 2) or an array of >= 3 "
                            f"ascending bin edges")
        edges = _as_1d("bins", bins)
        if edges.size < 3 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"bins has {edges.size} edge(s); edges must be >= 3 strictly ascending positive numbers")
        edges = edges[None]
    g = np.sum(edges[:, None, :] <= C[None, :, None], axis=2) - 1  # searchsorted(edges, C, side="right") - 1
    # the last bin is closed, as numpy.histogram's: a run exactly on the last given edge had been dropped
    g = np.where(C[None, :] == edges[:, -1:], edges.shape[1] - 2, g)
    outside = (g < 0) | (g >= edges.shape[1] - 1)
    return _Groups(np.where(outside, 0.0, w), np.broadcast_to(np.where(outside, 0, g), w.shape), edges.shape[1] - 1)


def _local_budget_terms(lN: np.ndarray, lC: np.ndarray, grp: _Groups,
                        min_runs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per budget group: centres of log N and log C, and whether C scatters within the group enough to model it.

    Returns (mu, nu, scattered, enough), each (R, G): mu, nu the group means of log N and log C; ``scattered``
    the groups where some drawn run's C lies more than ``_SAME_BUDGET`` (1e-4) relative from the group's
    geometric mean; ``enough`` those of them with at least ``min_runs`` + 2 distinct (N, C) runs, so that the two
    budget terms of the local model can be fitted.  A smaller scatter (C = 6 N D from integer N and D =
    round(C / 6N) scatters by up to 1/(2D), ~1e-8 at D ~ 1e8 tokens) is rounding, not a design: ignoring it
    moves a by < 1.4e-5 (published law, 9 budgets x 15 runs, log-normal C scatter of sd 1e-4), while the
    budget terms, fitted to such a scatter, mostly fit the parabola's misfit (a off by 1.4e-4 at any scatter
    below 1e-3 on that design); and their normal equations were singular below ~1e-6 before v was scaled.
    """
    cnt = grp.total(1.0)
    mu = grp.total(lN) / np.maximum(cnt, 1)
    nu = grp.total(lC) / np.maximum(cnt, 1)
    scattered = grp.extreme(np.abs(lC - grp.at(nu)), np.maximum) > _SAME_BUDGET
    _, run_key = np.unique(np.stack([np.round(lN * 1e9), np.round(lC * 1e9)]), axis=1, return_inverse=True)
    return mu, nu, scattered, scattered & (grp.distinct(run_key.reshape(-1)) >= min_runs + 2)


def _local_quadratic(lN: np.ndarray, lC: np.ndarray, L: np.ndarray, grp: _Groups, mu: np.ndarray,
                     nu: np.ndarray, budget_terms: np.ndarray) -> np.ndarray:
    """Per group least squares of L = p0 + p1 u + p2 u^2 + p3 v + p4 u v, u = log N - mu, v = log C - nu.

    The v terms (fitted only where ``budget_terms``) put runs of a group whose budgets scatter on a
    common budget exp(nu): without them a run with more compute looks better at any N, and the
    group's optimum drifts towards whichever N got the most compute.  All (weighting, group) cells
    in one batched (R, G, 5, 5) solve of the normal equations, whose entries are the weighted
    moments sum w u^i v^j of each cell; groups without the v terms get p3 = p4 = 0 exactly.  v is
    solved for in units of the group's largest |v| (so a scatter of 1e-4 and one of 0.3 give equally
    conditioned equations) and p3, p4 are scaled back.  Returns (R, G, 5) coefficients, NaN where singular.
    """
    u = lN - grp.at(mu)
    v_max = grp.extreme(np.abs(lC - grp.at(nu)), np.maximum)
    scale = np.where(budget_terms & (v_max > 0) & np.isfinite(v_max), v_max, 1.0)
    v = (lC - grp.at(nu)) * grp.at(budget_terms) / grp.at(scale)
    cols = ((0, 0), (1, 0), (2, 0), (0, 1), (1, 1))  # 1, u, u^2, v, u v as powers of (u, v)
    powers = {(i + k, j + l) for i, j in cols for k, l in cols}
    moment = {(i, j): grp.total(u**i * v**j) for i, j in powers}
    XtX = np.stack([np.stack([moment[i + k, j + l] for k, l in cols], -1) for i, j in cols], -2)
    XtL = np.stack([grp.total(u**i * v**j * L) for i, j in cols], -1)
    pad = np.zeros(XtL.shape)
    pad[~budget_terms, 3:] = 1.0
    XtX += pad[..., None] * np.eye(5)  # identity on unused columns: their coefficients solve to 0
    bad = np.linalg.cond(XtX) > 1e12
    XtX[bad] = np.eye(5)
    coef = np.linalg.solve(XtX, XtL[..., None])[..., 0]
    coef[..., 3:] /= scale[..., None]
    coef[bad] = np.nan
    return coef


class _Optima(NamedTuple):
    """Per (weighting, budget group) optimum, each (R, G); entries where not ``usable`` are meaningless."""

    C: np.ndarray
    N: np.ndarray
    L: np.ndarray
    usable: np.ndarray
    n_runs: np.ndarray
    curvature: np.ndarray | None
    flags: dict  # (R, G) masks of the groups behind each note


def _frontier_optima(N: np.ndarray, C: np.ndarray, L: np.ndarray, grp: _Groups, bracketed: bool) -> _Optima:
    """Approach 1 per group: the drawn run of lowest loss, losses moved to a common budget (see `fit_frontier`);
    with ``bracketed``, groups whose lowest-loss run has the group's smallest or largest N are not usable."""
    lN, lC = np.log(N), np.log(C)
    mu, nu, scattered, enough = _local_budget_terms(lN, lC, grp, 3)

    def moved(near: Any) -> tuple[np.ndarray, np.ndarray]:
        coef = _local_quadratic(lN, lC, L, grp._replace(w=grp.w * near), mu, nu, enough)
        ok = enough & np.all(np.isfinite(coef), axis=-1)
        coef[~ok] = 0.0
        c = grp.at(coef)
        return L - (c[..., 3] + c[..., 4] * (lN - grp.at(mu))) * (lC - grp.at(nu)), ok

    adj, _ = moved(1.0)
    # refit on the runs within e^1.5 in N of that first pick: the quadratic is meant for the valley
    # around the optimum, and over a whole wide N range it tilts the budget terms
    pick, _, _ = grp.argmin(adj, lN, lC)
    adj, put_on_budget = moved(np.abs(lN - grp.at(lN[pick])) <= 1.5)
    best, has, (lowest, highest) = grp.argmin(adj, lN, lC)
    tied = lN[lowest] != lN[highest]  # runs of different N tied for the lowest loss: the pick is a convention
    # the lowest-loss run of a group with one N is that N whatever the optimum: no frontier point
    compared = has & (grp.distinct(np.unique(lN, return_inverse=True)[1].reshape(-1)) >= 2)
    # the optimum of a group whose best run is its smallest or largest N may lie beyond the runs
    edge = compared & ((lN[best] <= grp.extreme(lN, np.minimum)) | (lN[best] >= grp.extreme(lN, np.maximum)))
    usable = compared & ~(edge & bracketed)
    return _Optima(C=np.where(put_on_budget, np.exp(nu), C[best]), N=N[best], L=np.take_along_axis(adj, best, 1),
                   usable=usable, n_runs=grp.total(1.0), curvature=None,  # (notes count only budgets kept)
                   flags=dict(compared_as_is=scattered & ~put_on_budget & usable, single=has & ~compared, edge=edge,
                              tied=tied & usable))


def _isoflop_quadratics(lN: np.ndarray, lC: np.ndarray, L: np.ndarray, grp: _Groups, min_runs: int) -> tuple:
    """The local quadratics of `_isoflop_optima`: (mu, nu, scattered, enough, fitted, coef), each (R, G) and coef
    (R, G, 5) as from `_local_quadratic` (fitted: groups with ``min_runs`` distinct N; budget terms where
    ``enough & fitted``)."""
    mu, nu, scattered, enough = _local_budget_terms(lN, lC, grp, min_runs)
    fitted = grp.distinct(np.unique(lN, return_inverse=True)[1].reshape(-1)) >= min_runs
    return mu, nu, scattered, enough, fitted, _local_quadratic(lN, lC, L, grp, mu, nu, enough & fitted)


_NO_RESIDUALS = ("no budget has more runs than its local fit's coefficients (3, or 5 with budget terms), or any "
                 "residual: there is no noise to resample and the bootstrap gives no interval; more N per budget "
                 "give one")


def _isoflop_residual_losses(N: np.ndarray, C: np.ndarray, L: np.ndarray, grp: _Groups, bootstrap: int, seed: int,
                             min_runs: int, notes: list[str]) -> np.ndarray:
    """(R, n) losses of a residual bootstrap of approach 2 with the design (each run's N and C) fixed.

    ``grp`` holds the groups of the runs as given (one weighting).  In each group whose local quadratic the
    point fit could solve, a run's loss becomes its fitted value plus a residual drawn with replacement from
    its own group's residuals, scaled by sqrt(m / (m - p)) (m runs, p = 3 or 5 coefficients) since least-squares
    residuals are smaller than the noise; a group with no more runs than coefficients, or with no residuals
    (repeated runs), whose residuals are 0 whatever the noise, draws from the other groups' pooled (a note in
    ``notes`` says so), and with no such group to draw from the losses are NaN (every resample fails; a note
    says why).  Other runs (outside the bin
    edges, or in groups without a fit) keep their loss.  Resample r draws from ``fold_in(key(seed), r)``, so it
    is the same whatever R is (:func:`_resamples`: drawn in blocks of rows, for n rounded up to a power of two,
    one compile per size class of n).
    """
    lN, lC = np.log(N), np.log(C)
    mu, nu, _, enough, fitted, coef = _isoflop_quadratics(lN, lC, L, grp, min_runs)
    ok = (fitted & np.all(np.isfinite(coef), axis=-1))[0]
    g, w = grp.g[0], grp.w[0]
    u, v = lN - mu[0, g], lC - nu[0, g]
    c = np.where(ok[g, None], coef[0, g], 0.0)
    pred = c[:, 0] + c[:, 1] * u + c[:, 2] * u**2 + c[:, 3] * v + c[:, 4] * u * v
    live = ok[g] & (w > 0)
    m = np.bincount(g[live], minlength=grp.G)
    p = np.where((enough & fitted)[0], 5, 3)
    # (3 runs for a parabola's 3 coefficients had resampled residuals that are all 0: a zero-width interval; so
    # had runs listed twice, whose m is 6: a group needs residuals too)
    rss = np.bincount(g[live], (L - pred)[live] ** 2, minlength=grp.G)
    spare = (m > p) & (rss > m * (1e-12 * np.abs(L[live]).max(initial=0.0)) ** 2)
    starved = int(np.sum((m > 0) & ~spare))
    in_spare = live & spare[g]
    pool = np.flatnonzero(in_spare)
    if not pool.size:
        if live.any():
            notes.append(_NO_RESIDUALS)
        return np.broadcast_to(np.where(live, np.nan, L), (bootstrap, len(N))).copy()
    if starved:
        notes.append(f"{starved} budget(s) with no more runs than their local fit's coefficients, or no residuals "
                     f"(0 whatever the noise), drew the other budgets' pooled residuals in the bootstrap")
    scale = np.sqrt(m / np.where(spare, m - p, 1))
    resid = np.where(in_spare, (L - pred) * scale[g], 0.0)
    # the residuals of spare group k are resid[members[start[k]: start[k] + m[k]]]
    members = pool[np.argsort(g[pool], kind="stable")]
    m_own = np.where(spare, m, 0)
    start = np.concatenate([[0], np.cumsum(m_own)[:-1]])
    uni = _resamples(seed, bootstrap, len(N), counts=False)
    own = members[np.clip(start[g] + (uni * m_own[g]).astype(np.int64), 0, members.size - 1)]
    pooled = pool[np.minimum((uni * pool.size).astype(np.int64), pool.size - 1)]
    drawn = resid[np.where(spare[g], own, pooled)]
    return np.where(live, pred + drawn, L)


def _isoflop_optima(N: np.ndarray, C: np.ndarray, L: np.ndarray, grp: _Groups, min_runs: int,
                    bracketed: bool) -> _Optima:
    """Approach 2 per group: minimum of the local quadratic in log N at the group's budget (see `fit_isoflop`);
    with ``bracketed``, minima outside the group's N range are not usable."""
    lN, lC = np.log(N), np.log(C)
    cnt = grp.total(1.0)
    mu, nu, scattered, enough, fitted, coef = _isoflop_quadratics(lN, lC, L, grp, min_runs)
    singular = fitted & ~np.all(np.isfinite(coef), axis=-1)
    ok = fitted & ~singular
    concave = ok & (coef[..., 2] <= 0)
    c2 = np.where(ok & ~concave, coef[..., 2], 1.0)
    u_opt = -coef[..., 1] / (2 * c2)
    with np.errstate(over="ignore"):
        n_opt = np.exp(mu + u_opt)
    # a parabola so flat that its minimum over- or underflows exp has no usable minimum either
    flat = ok & ~concave & ~((n_opt > 0) & (n_opt < np.inf))
    usable = ok & ~concave & ~flat
    u = lN - grp.at(mu)
    outside = usable & ((u_opt < grp.extreme(u, np.minimum)) | (u_opt > grp.extreme(u, np.maximum)))
    return _Optima(C=np.exp(nu), N=n_opt, L=coef[..., 0] - coef[..., 1] ** 2 / (4 * c2),
                   usable=usable & ~(outside & bracketed), n_runs=cnt, curvature=coef[..., 2],
                   flags=dict(few=~fitted & (cnt > 0), singular=singular,
                              unmodelled=ok & scattered & ~enough & ~(outside & bracketed),
                              concave=concave, flat=flat, outside=outside))


def _allocation_ols(opt: _Optima) -> np.ndarray:
    """(R, 2) least squares (log k, a) of log N_opt = log k + a log C over each row's usable budgets, all rows
    at once (`_ols` under vmap); NaN rows have fewer than 2 distinct usable budgets."""
    lx = jnp.asarray(np.where(opt.usable, np.log(opt.C), 0.0))
    ly = jnp.asarray(np.where(opt.usable, np.log(opt.N), 0.0))
    logk, minus_a = jax.vmap(_ols)(lx, ly, jnp.asarray(opt.usable, dtype=jnp.float64))
    return np.stack([np.asarray(logk), -np.asarray(minus_a)], axis=1)


def _allocation_optima(optima: Callable, N: np.ndarray, C: np.ndarray, L: np.ndarray, bins: Any,
                       bootstrap: int, seed: int,
                       residual_losses: Callable | None = None) -> tuple[_Optima, _Groups, _Optima | None]:
    """Optima of the runs as given, their groups, and (bootstrap > 0) the optima of ``bootstrap`` resamples,
    all resamples in one batched pass of ``optima``: resamples of the runs with replacement, or, given
    ``residual_losses(N, C, L, groups, bootstrap, seed)`` -> (R, n) losses, the runs as given (same groups)
    with those losses."""
    point_groups = _budget_groups(C, bins, np.ones((1, len(N))))
    point = optima(N, C, L, point_groups)
    if not bootstrap:
        return point, point_groups, None
    if residual_losses is not None:
        Lb = residual_losses(N, C, L, point_groups, bootstrap, seed)
        R = len(Lb)
        same = point_groups._replace(w=np.repeat(point_groups.w, R, 0), g=np.repeat(point_groups.g, R, 0))
        return point, point_groups, optima(N, C, Lb, same)
    w = np.asarray(_bootstrap_weights(seed, bootstrap, len(N)))
    return point, point_groups, optima(N, C, L, _budget_groups(C, bins, w))


def _fit_allocation(method: str, opt: _Optima, notes: list[str], boot: _Optima | None,
                    level: float) -> AllocationFit:
    use = opt.usable[0]
    Cg, Ng = opt.C[0, use], opt.N[0, use]
    if len(Cg) < 2 or np.unique(Cg).size < 2:
        why = f" ({'; '.join(notes)})" if notes else ""
        raise NotIdentifiableError(f"{len(Cg)} distinct budget(s) with an optimum; need at least 2 to fit "
                                   f"N_opt = k C^a{why}")
    order = np.argsort(Cg)
    fit = fit_power_law(Cg[order], Ng[order], level=level)
    if len(Cg) == 2:  # (the standard errors had been nan with nothing said; fit_power_law notes the same)
        notes.append("2 budgets for N_opt = k C^a's 2 parameters: the line through their optima is exact, with no "
                     "residual degrees of freedom, so no standard errors (a bootstrap still gives intervals)")
    if np.unique(Ng).size == 1:
        notes.append(f"every budget's optimum is the same N ({Ng[0]:.4g}): a = 0 fits it exactly"
                     + (", with standard error 0" if len(Cg) > 2 else "")
                     + "; the runs' N may not reach the optima, or their N grid is too coarse to show them move")
    intervals, boot_params, failed = {}, None, 0
    if boot is not None:
        boot_params = _allocation_ols(boot)
        R = len(boot_params)
        failed = int((~np.all(np.isfinite(boot_params), axis=1)).sum())
        if failed:
            notes.append(f"{failed} of {R} bootstrap resamples ({failed / R:.1%}) had fewer than 2 usable budgets "
                         "and were dropped")
            notes += _too_few_kept(R - failed, R, level)
        a_b = boot_params[:, 1]
        intervals = _percentile_intervals(np.stack([a_b, np.exp(boot_params[:, 0]), 1 - a_b], 1),
                                          ["a", "prefactor", "b"], level)
    curv = None if opt.curvature is None else opt.curvature[0, use][order]
    return AllocationFit(method=method, a=-fit.exponent, a_stderr=fit.stderr["exponent"], prefactor=fit.prefactor,
                         C=Cg[order], N_opt=Ng[order], L_opt=opt.L[0, use][order],
                         n_runs=opt.n_runs[0, use][order].astype(np.int64), fit=fit, curvature=curv,
                         intervals=intervals, n_bootstrap=0 if boot is None else len(boot_params), level=level,
                         bootstrap_failed=failed, boot_log_params=boot_params, notes=tuple(notes))


def _dropped_note(grp: _Groups) -> list[str]:
    dropped = int((grp.w[0] == 0).sum())
    return [f"{dropped} run(s) outside the bin edges were dropped"] if dropped else []


@_float64
def fit_frontier(N: Any, loss: Any, *, D: Any = None, C: Any = None, bins: Any = None, bracketed: bool = False,
                 bootstrap: int = 0, seed: int = 0, level: float = 0.95) -> AllocationFit:
    """Chinchilla approach 1 (Hoffmann et al. 2022, sec. 3.1): per compute budget keep the run
    of lowest loss, then fit N_opt = k C^a by least squares of log N_opt on log C.

    When the runs of a budget group have different C (``bins`` given), their losses are not
    comparable as they stand: the run with the most compute wins at almost any N, so the kept
    N follows the compute scatter (``benchmarks/fit_calibration.py``, runs scattered 10 % around
    9 budgets, 20 seeds: sd of a 0.049).  Runs are
    therefore compared at a common budget, the geometric mean C of the group: each loss is
    moved there along the budget terms of a local model L = p0 + p1 u + p2 u^2 + p3 v + p4 u v
    (u = log N, v = log C, centred per group; least squares on the runs within e^1.5 in N of
    the group's best), and the frontier point is (that budget, N of the best moved run, its
    moved loss); the same runs then give sd 0.0011 with bin edges between the budgets, 0.0037
    with ``bins=9`` (a run far from its budget can fall in the next bin).  Groups with too few runs for
    the model keep the plain comparison (and the best run's own C), with a note; so do groups whose C
    scatter by at most 1e-4 relative (rounding, e.g. C = 6 N D from integer N and D), without one.
    Groups whose runs all have one N (a single run, say) are dropped with a note: their lowest-loss
    run is that N wherever the optimum lies.  Where the design does not reach a budget's optimum at
    all (narrow bins at the edge of an (N, D) rectangle) no comparison can recover it: cover the optimum.
    A budget whose lowest-loss run has its smallest or largest N is such a budget, or may be: it is
    noted, and with ``bracketed=True`` dropped (in each bootstrap resample too), so that the fit uses
    only optima with a smaller and a larger N beside them (a sweep where each width reaches only some
    budgets, such as N x training time, puts the grid's edge at the optimum of many budgets).

    With ``bootstrap`` = R > 0 the runs are resampled with replacement R times and the whole
    procedure (groups, per-group optima, the fit of N_opt on C) is redone on each; the resamples
    are rows of integer multiplicity weights, so all R refits are one batched pass (segment sums,
    one sort for the per-group argmins, one (R, G, 5, 5) solve, one vmapped least squares), no
    loop over resamples; memory grows as R x (number of runs).

    Args:
      N: parameters of each run (positive).
      loss: final loss of each run (positive).
      D: tokens of each run (C = 6 N D); or give
      C: FLOPs of each run.
      bins: None (group runs of equal C: sorted, a run whose C lies within 1 % of its group's smallest joins
        the group, so the ~1/D scatter of C = 6 N D from integer N and D stays one budget), an int (that many
        log-spaced bins over the range of C) or ascending bin edges (bins [lo, hi), the last [lo, hi], as in
        numpy.histogram; runs outside are dropped with a note).
      bracketed: drop the budgets whose lowest-loss run has the smallest or largest N among their runs.
      bootstrap: number of resamples of the runs (0: none; else at least 2 / (1 - level), 40 at the
        default level).
      seed: seed of the resampling.
      level: confidence level of the percentile intervals.

    Returns:
      An `AllocationFit` with method "frontier"; with bootstrap, ``intervals`` of a, k and b, and
      resamples left with fewer than 2 budgets counted in ``bootstrap_failed`` and dropped.
    """
    bracketed = _check_bool("bracketed", bracketed)
    bootstrap, seed, level = _check_bootstrap(bootstrap, seed, level)
    N, C, L = _runs(N, D, C, loss)
    optima = functools.partial(_frontier_optima, bracketed=bracketed)
    opt, grp, boot = _allocation_optima(optima, N, C, L, bins, bootstrap, seed)
    notes = _dropped_note(grp)
    n_single = int(opt.flags["single"][0].sum())
    if n_single:
        notes.append(f"{n_single} budget group(s) with runs of a single N dropped: one N is no frontier point "
                     "(to pool runs of nearby C into one budget, give bins)")
    n_as_is = int(opt.flags["compared_as_is"][0].sum())
    if n_as_is:
        notes.append(f"{n_as_is} budget group(s) with scattered C but too few runs to put them on a common budget "
                     "(need 5 distinct): compared as they stand")
    n_edge = int(opt.flags["edge"][0].sum())
    if n_edge:
        notes.append(f"{n_edge} budget(s) whose lowest-loss run has their smallest or largest N "
                     + ("dropped (bracketed=True)" if bracketed else
                        "(the optimum may lie beyond the runs; bracketed=True drops them)"))
    n_tied = int(opt.flags["tied"][0].sum())
    if n_tied:
        notes.append(f"{n_tied} budget(s) with runs of different N tied for the lowest loss: the middle of the "
                     "tied N was taken (losses logged to more digits decide it)")
    return _fit_allocation("frontier", opt, notes, boot, level)


def bracketed_frontier(N: Any, L: Any, C: Any, bins: int) -> tuple[AllocationFit | None, int, str | None]:
    """The compute-optimal frontier of runs logged along their training (each size N at losses
    L after compute C), over ``bins`` log-spaced budgets, from the budgets whose lowest-loss size
    has a smaller and a larger size among the budget's runs (:func:`fit_frontier` with
    ``bracketed=True``); at the others the optimum is not bracketed (each size reaches only the
    budgets its logged steps give), and the grid's edge would stand in for it.

    Returns:
      (the fit or None, the number of budgets with an optimum, bracketed or not, why None).
      None when fewer than 3 budgets bracket their optimum or all of them have it at one size.
    """
    # (unchecked, a bad N or C had been named as bins; a loss that is not positive and finite is the data's, and
    # gives no frontier, with why, as before)
    N, C = _as_1d("N", N), _as_1d("C", C)
    try:
        L = np.asarray(L, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"L={short_repr(L, 80)}; L must be an array of losses") from None
    if L.ndim != 1:
        raise ValueError(f"L must be one-dimensional, got shape {L.shape}")
    _same_length(N=N, L=L, C=C)
    check_int("bins", _scalar_of(bins, "iu"))
    edges = np.geomspace(C.min(), C.max(), bins + 1)
    edges[0], edges[-1] = edges[0] * 0.999, edges[-1] * 1.001
    try:
        total = fit_frontier(N, L, C=C, bins=edges).C.size
    except (ValueError, NotIdentifiableError) as e:  # (e.g. the runs left fill fewer than 2 budgets)
        return None, 0, f"no frontier: {e}"
    try:
        frontier = fit_frontier(N, L, C=C, bins=edges, bracketed=True)
    except NotIdentifiableError:  # fewer than 2 bracketed budgets
        frontier = None
    if frontier is None or frontier.C.size < 3:
        kept = "fewer than 2" if frontier is None else frontier.C.size
        return None, total, (f"{kept} of the {total} budgets bracket their optimum; the fit needs 3 "
                             f"(more widths, or more steps)")
    if np.unique(frontier.N_opt).size < 2:
        return None, total, (f"the {frontier.C.size} budgets that bracket their optimum all have it at "
                             f"N = {int(frontier.N_opt[0])}: too few widths for these budgets")
    return frontier, total, None


def curves_frontier(widths: Any, t: Any, curves: Any, bins: int) -> tuple[AllocationFit | None, PowerLawFit | None,
                                                                        int, str | None]:
    """The compute-optimal frontier of loss curves, ``curves[i, k]`` the loss of width ``widths[i]``
    after ``t[k]`` steps (NaN where there is none: left out; so is a loss at t <= 0), at compute
    C = width x t, from :func:`bracketed_frontier` over ``bins`` log-spaced budgets. A loss that
    is not positive gives no frontier, and says why.

    Returns:
      (the frontier or None, a power law fitted to its losses L_opt(C) or None, the number of
      budgets with an optimum, why None).
    """
    widths, t = _as_1d("widths", widths), _as_1d("t", t, positive=False)
    check_int("bins", _scalar_of(bins, "iu"))
    try:
        curves = np.asarray(curves, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"curves={short_repr(curves)}; curves must be an array of losses") from None
    if curves.shape != (widths.size, t.size):
        raise ValueError(f"curves has shape {curves.shape}; it must be (len(widths), len(t)) = "
                         f"({widths.size}, {t.size}), one row of losses per width")
    N_all = np.repeat(widths, t.size)
    C_all = N_all * np.tile(t, widths.size)
    ok = np.isfinite(curves.ravel()) & (C_all > 0)  # (a loss at t = 0 spent no compute: not on a log axis)
    if ok.sum() < 3:
        return None, None, 0, "fewer than 3 logged losses left"
    frontier, budgets, why = bracketed_frontier(N_all[ok], curves.ravel()[ok], C_all[ok], bins)
    return frontier, None if frontier is None else fit_power_law(frontier.C, frontier.L_opt), budgets, why


@_float64
def fit_isoflop(N: Any, loss: Any, *, D: Any = None, C: Any = None, bins: Any = None,
                min_runs: int = 3, bracketed: bool = False, bootstrap: int = 0, seed: int = 0,
                level: float = 0.95) -> AllocationFit:
    """Chinchilla approach 2 (Hoffmann et al. 2022, sec. 3.2): per compute budget fit a parabola
    of loss in log N, take its minimum N_opt, then fit N_opt = k C^a through the minima.

    Biased when a budget's N grid is not centred on the optimum or too wide (the loss is not
    a parabola in log N unless alpha = beta); see Porian et al. 2024.  When the runs of a group
    have different C (``bins`` given), the parabola gets two budget terms, L = p0 + p1 u + p2 u^2
    + p3 v + p4 u v (v = log C centred on the group's geometric mean), and its minimum is taken
    at v = 0: a parabola in log N alone would credit runs with more compute to their N.  A group
    whose C scatter by at most 1e-4 relative (rounding, e.g. C = 6 N D from integer N and D) gets
    the plain parabola: its error in a from ignoring that scatter (< 1.4e-5 on the 9-budget design
    of the tests) is 10x below what the two extra terms cost by absorbing the parabola's misfit
    (a off by ~1.4e-4 on the same design at any scatter from 1e-7 to 1e-3).

    With ``bootstrap`` = R > 0 the losses are resampled by their residuals, the design (each run's N
    and C) fixed: in each budget group whose local quadratic the fit solved, every run's loss becomes
    its fitted value plus a residual drawn with replacement from its own group's residuals (scaled by
    sqrt(m / (m - p)), m runs, p = 3 or 5 coefficients); a group with no more runs than coefficients,
    or no residuals (its runs repeated), draws the other groups' pooled residuals instead (noted), and
    with none anywhere there is no interval (nan, noted); runs outside the bin edges or in groups
    without a fit keep theirs.  Everything is then refitted on each resample (groups, parabolas,
    which budgets are usable, the fit of N_opt on C) in one batched pass; resample r draws from
    ``fold_in(key(seed), r)``, the same whatever R.  Resampling the runs themselves, as
    `fit_frontier` does, changed how many runs and which N each budget got, and lopsided budgets
    extrapolated their parabola minima: on 9 budgets x 9 N centred on the optimum with 0.1 % noise
    (``benchmarks/fit_calibration.py --studies 6``, 20 seeds, 400 resamples) the 95 % half-width of
    a was 2.84x 1.96 x its sd over seeds with the loss exactly a parabola in log N and 3.74x under
    the published Chinchilla law; it is 0.96x and 1.16x now (the latter's residuals include the
    parabola's misfit, which is no noise, and neither bootstrap shows the bias that misfit gives).

    Args:
      N: parameters of each run (positive).
      loss: final loss of each run (positive).
      D: tokens of each run (C = 6 N D); or give
      C: FLOPs of each run.
      bins: None (group by equal C, to 1 % of a group's smallest as in `fit_frontier`), an int
        (log-spaced bins) or ascending bin edges; the budget of a binned group is the geometric mean of its runs' C.
      min_runs: budgets with fewer distinct N are dropped (at least 3).
      bracketed: drop the budgets whose parabola minimum lies outside their runs' N range (kept with a
        note by default: an extrapolated minimum).
      bootstrap: number of residual resamples of the losses (0: none; else at least 2 / (1 - level), 40
        at the default level).
      seed: seed of the resampling.
      level: confidence level of the percentile intervals.

    Returns:
      An `AllocationFit` with method "isoflop" and the parabola curvatures; with bootstrap,
      ``intervals`` of a, k and b, and failed resamples (fewer than 2 usable budgets) counted and dropped.
    """
    min_runs = check_int("min_runs", min_runs, 3)
    bracketed = _check_bool("bracketed", bracketed)
    bootstrap, seed, level = _check_bootstrap(bootstrap, seed, level)
    N, C, L = _runs(N, D, C, loss)
    optima = functools.partial(_isoflop_optima, min_runs=min_runs, bracketed=bracketed)
    boot_notes: list[str] = []
    residual_losses = functools.partial(_isoflop_residual_losses, min_runs=min_runs, notes=boot_notes)
    opt, grp, boot = _allocation_optima(optima, N, C, L, bins, bootstrap, seed, residual_losses)
    notes = _dropped_note(grp) + boot_notes
    n = {k: int(v[0].sum()) for k, v in opt.flags.items()}
    if n["few"]:
        notes.append(f"{n['few']} budget(s) with fewer than {min_runs} distinct N dropped")
    if n["singular"]:
        notes.append(f"{n['singular']} budget(s) whose local fit is singular dropped")
    if n["unmodelled"]:
        notes.append(f"{n['unmodelled']} budget group(s) with scattered C but fewer than {min_runs + 2} distinct "
                     "runs: parabola in log N alone (compute differences not modelled)")
    if n["concave"]:
        notes.append(f"{n['concave']} budget(s) whose parabola opens downward (no minimum) dropped")
    if n["flat"]:
        notes.append(f"{n['flat']} budget(s) whose parabola is too flat for a finite minimum N dropped")
    if n["outside"]:
        notes.append(f"{n['outside']} budget(s) with the parabola minimum outside their N range "
                     + ("dropped (bracketed=True)" if bracketed else
                        "(extrapolated; centre the grid on the optimum, or bracketed=True drops them)"))
    fit = _fit_allocation("isoflop", opt, notes, boot, level)
    if _NO_RESIDUALS in boot_notes:  # (not "more resamples give them": every resample is the data)
        fit = dataclasses.replace(fit, notes=tuple(n for n in fit.notes if not (
            n.startswith(f"{bootstrap} of {bootstrap} bootstrap resamples") or n.startswith("only 0 of"))))
    return fit
