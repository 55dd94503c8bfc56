"""Power-law random features trained by one-pass SGD (Paquette, Paquette, Xiao & Pennington 2024,
"4+3 phases of compute-optimal neural scaling laws").

The model, as in our reference (``shared/reference/random-features.md``):

* data ``x in R^v`` with ``x_j = j^-alpha z_j``, ``z`` standard normal (data complexity alpha);
* a fixed embedding ``W in R^{v x d}``, i.i.d. ``Normal(0, 1/d)`` entries; d is the model size;
* target ``<x, b>`` with ``b_j = j^-beta`` (target complexity beta), no label noise;
* prediction ``<W^T x, theta>``, theta starting at 0, and the population loss, exact from theta,
  ``P(theta) = 1/2 E[(<W^T x, theta> - <x, b>)^2] = 1/2 sum_j j^-2alpha ((W theta)_j - b_j)^2``;
* one-pass SGD: each step draws ``batch`` fresh samples and takes
  ``theta <- theta - lr sum_i W^T x_i (<W^T x_i, theta> - <x_i, b>)`` (a sum over the batch, no
  1/batch: batch 1, the presets' choice, is the same either way);
* compute ``f = d x r`` FLOPs (r steps of batch 1), up to a constant.

Decided here, where the reference is silent: ``v = v_ratio x d`` with ``v_ratio = 4`` by default
(the power-law random-feature code of the authors' group, LosVolterrosHermanos/Experimental's
power_law_rf, runs V = 2000, D = 500 and keeps results at V = 4 D); the loss is the 1/2-weighted
MSE above (that code's "MSE/2"). Each step needs only ``e = A theta - c`` with
``A = diag(j^-alpha) W`` and ``c_j = j^-alpha b_j``: a sample is ``x = diag(j^-alpha) z``, so its
error is ``z . e`` and its gradient ``A^T z (z . e)``: two [v, d] matrix-vector products a step,
and one more for the logged loss ``|e|^2 / 2`` every ``log_every`` steps.

The compute-optimal exponents of :func:`toyscale.theory.plrf_exponents` are derived from
the loss terms the paper's follow-ups quote (see there), not read in the paper's own table.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from toyscale._checks import check_axis, check_float32, check_int, check_real, config_from_dict, prng_key, short_repr
from toyscale.random_features import solve_dtype
from toyscale.sweep import SweepResult, check_points, float32_products, run_sweep

__all__ = [
    "PLRFConfig",
    "PLRFTask",
    "check_exponents",
    "check_point",
    "plrf_grid",
    "sweep_plrf",
    "train_plrf",
]


@dataclasses.dataclass(frozen=True)
class PLRFConfig:
    """Settings shared by every model of a power-law random-feature sweep.

    Attributes:
      v_ratio: the data dimension is ``v = v_ratio x d`` (>= 1; the theory takes v > d).
      log_every: the exact loss is recorded every this many steps (``loss_curve``); a point's
        ``steps`` must be a multiple of it.
      floor: also compute ``loss_floor``, the least loss the d features can reach
        (``min_theta P``, a float64 least-squares solve): where gradient flow ends. SGD at a
        constant lr levels off above it (the noise of its single samples: at d = 8, alpha = beta
        = 0.7, one draw, the mean loss over steps 15,000-20,000 was 8 % above it at lr = 0.05 and
        56 % at lr = 0.2).
    """

    v_ratio: int = 4
    log_every: int = 10
    floor: bool = True

    def __post_init__(self):
        check_int("v_ratio", self.v_ratio, 1)
        check_int("log_every", self.log_every, 1)
        if not isinstance(self.floor, bool):
            raise TypeError(f"floor={self.floor!r}; floor must be True or False")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> "PLRFConfig":
        """The config of a :meth:`to_dict` (or of a preset's group of settings)."""
        return config_from_dict(cls, settings)


class Static(NamedTuple):
    """The shape-fixing part of a point: one compilation per distinct value."""

    d: int
    v: int
    steps: int
    batch: int


_DEFAULTS = {"batch": 1}
_FIELDS = ("d", "alpha", "beta", "lr", "steps")


def check_exponents(alpha: Any, beta: Any) -> tuple[float, float]:
    """The data and target exponents of a PLRF (a point's, or :func:`toyscale.theory.plrf_floor`'s),
    checked: finite and > 0, with 2 alpha + 2 beta > 1 (the loss is finite for every v, and the
    reference's phases need it). Returns them as floats."""
    a, b = check_real("alpha", alpha, low=0.0, strict=True), check_real("beta", beta, low=0.0, strict=True)
    if not 2 * a + 2 * b > 1:
        raise ValueError(f"alpha={alpha!r}, beta={beta!r}; the power-law random-feature model needs 2 alpha + "
                         f"2 beta > 1 (else the target's power does not converge as v grows)")
    return a, b


def check_point(point: Mapping[str, Any]) -> dict:
    """Validates one grid point and fills defaults; a ValueError (TypeError for a value of the
    wrong type) names the bad field.

    Required: ``d`` (model size, an integer >= 1), ``alpha`` and ``beta`` (> 0; the loss is
    finite for every v, and the reference's phases need 2 alpha + 2 beta > 1: checked), ``lr``
    (> 0) and ``steps`` (>= 1). Optional: ``batch`` (>= 1, default 1), ``seed`` (an integer >= 0
    that enters the model's key) and ``label`` (a tag).
    """
    if not isinstance(point, Mapping):
        raise TypeError(f"point={short_repr(point)}; a point must be a mapping (a dict) of field names to values")
    p = {**_DEFAULTS, **dict(point)}
    unknown = set(p) - set(_FIELDS) - set(_DEFAULTS) - {"seed", "label"}
    if unknown:
        raise ValueError(f"point has unknown field(s) {sorted(unknown)}; allowed: {', '.join(_FIELDS)}, batch, "
                         f"seed and label")
    missing = [name for name in _FIELDS if name not in p]
    if missing:
        raise ValueError(f"point {dict(point)} lacks {missing}; {', '.join(_FIELDS)} are required")
    p["d"] = check_int("d", p["d"], 1)
    p["steps"] = check_int("steps", p["steps"], 1)
    p["batch"] = check_int("batch", p["batch"], 1)
    p["alpha"], p["beta"] = check_exponents(p["alpha"], p["beta"])
    p["lr"] = check_real("lr", p["lr"], low=0.0, strict=True)
    check_float32("lr", p["lr"])  # (alpha and beta enter only the spectrum and target, formed in float64)
    if "seed" in p:
        p["seed"] = check_int("seed", p["seed"], 0)
    return p


def _check_for(config: PLRFConfig, p: dict) -> dict:
    if p["steps"] % config.log_every:
        raise ValueError(f"steps={p['steps']}; steps must be a multiple of PLRFConfig.log_every={config.log_every} "
                         f"(the loss curve logs every log_every steps)")
    return p


def _static(config: PLRFConfig, p: Mapping[str, Any]) -> Static:
    return Static(d=p["d"], v=config.v_ratio * p["d"], steps=p["steps"], batch=p["batch"])


def _inputs(config: PLRFConfig, p: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One model's inputs: its spectrum ``j^-alpha`` and target ``c_j = j^-alpha b_j = j^-(alpha + beta)``,
    j = 1..v, formed here in float64 and rounded to float32, and its step. (Formed in the compiled
    program, ``j ** -alpha`` had rounded differently, by one unit in the last place at some j, in a device's
    share of one model and in a share of two: XLA fuses the power with different neighbours.)"""
    j = np.arange(1, config.v_ratio * p["d"] + 1, dtype=np.float64)
    return {"scale": (j ** -float(p["alpha"])).astype(np.float32),
            "target": (j ** -(float(p["alpha"]) + float(p["beta"]))).astype(np.float32),
            "lr": np.float32(p["lr"])}


def _problem(static: Static, inputs: Mapping[str, jax.Array], key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``A = diag(j^-alpha) W`` [v, d] and ``c = j^-alpha b`` [v] of one model (float32)."""
    W = jax.random.normal(key, (static.v, static.d), jnp.float32) / jnp.sqrt(jnp.float32(static.d))
    return W * inputs["scale"][:, None], inputs["target"]


_PEAK = 10.0  # a logged loss above _PEAK x P(0) flags a run as diverged (see _model)


@float32_products
def _model(config: PLRFConfig, static: Static, inputs: Mapping[str, jax.Array], key: jax.Array) -> dict:
    """Samples, trains and measures one model: the body of the sweep's ``model_fn``."""
    k_w, k_sgd = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    A, c = _problem(static, inputs, k_w)
    lr = inputs["lr"]

    def step(theta, t):
        e = A @ theta - c
        z = jax.random.normal(jax.random.fold_in(k_sgd, t), (static.batch, static.v), jnp.float32)
        return theta - lr * (A.T @ (z.T @ (z @ e))), None

    def block(theta, b):
        theta, _ = jax.lax.scan(step, theta, b * config.log_every + jnp.arange(config.log_every))
        e = A @ theta - c
        return theta, 0.5 * jnp.sum(e**2)

    theta, curve = jax.lax.scan(block, jnp.zeros(static.d, jnp.float32), jnp.arange(static.steps // config.log_every))
    start = 0.5 * jnp.sum(c**2)  # P(0)
    out = {"loss": curve[-1], "loss_curve": curve, "loss_start": start}
    if config.floor:
        # min_theta |A theta - c|^2 / 2 = |c - Q Q^T c|^2 / 2, Q an orthonormal basis of A's columns
        # (A has full column rank d almost surely when v >= d; rank-deficient, the residual is still right),
        # the residual formed directly: |c|^2 - |Q^T c|^2 had cancelled to rounding noise (8.9e-16 for
        # 6.3e-18 at alpha = beta = 3.5, d = 256)
        dt = solve_dtype()
        u, s, _ = jnp.linalg.svd(A.astype(dt), full_matrices=False)
        keep = s > s[0] * static.v * jnp.finfo(dt).eps
        c64 = c.astype(dt)
        residual = c64 - u @ jnp.where(keep, u.T @ c64, 0.0)
        out["loss_floor"] = 0.5 * jnp.sum(residual**2)
    # An unstable run grows geometrically, and may come back down before the end (lr = 0.45, d = 32, key 0: a
    # peak of 18 from P(0) = 0.62 by step 200); a stable one descends from P(0) up to SGD's noise, which at small
    # d, whose floor is near P(0), lifts it above P(0) now and then (up to 3.3 P(0) at d = 4, lr = 0.1). A rule of
    # "any logged loss above P(0)" had flagged 9 of 30 such runs, the draws of high floors, so that the mean of
    # those kept was too low, and flagged more the more often it logged. Flagged: a non-finite loss, a peak
    # above 10 P(0), or a last quarter of the curve whose mean is above P(0) (no better than not training).
    out["diverged"] = _diverged(curve, start)
    return out


def _diverged(curve: jax.Array, start: jax.Array) -> jax.Array:
    """A logged loss curve's verdict (see :func:`_model`): a non-finite loss, a peak above
    ``_PEAK`` times the start, or a last quarter (at least the last value) whose mean is above it."""
    late = curve[-max(1, curve.shape[0] // 4):]
    return ~jnp.all(jnp.isfinite(curve)) | ~(jnp.max(curve) <= _PEAK * start) | ~(jnp.mean(late) <= start)


_jit_model = jax.jit(_model, static_argnums=(0, 1))


def train_plrf(config: PLRFConfig, point: Mapping[str, Any], *, key: jax.Array) -> dict[str, np.ndarray]:
    """Trains one model exactly as a sweep does for the same point and key (the sweep's key for
    point ``p`` with seed ``s`` is ``toyscale.sweep.model_key(s, p, PLRFTask(config))``).

    Returns:
      numpy outputs: ``loss`` (the exact population loss after ``steps``), ``loss_curve`` (every
      ``config.log_every`` steps), ``loss_start`` (P(0)), ``loss_floor`` (with ``config.floor``)
      and ``diverged`` (a non-finite curve, a logged loss above 10 P(0), or a last quarter of the
      curve whose mean is above P(0)).
    """
    if not isinstance(config, PLRFConfig):
        raise TypeError(f"config={short_repr(config)}; expected a toyscale.plrf.PLRFConfig")
    p = _check_for(config, check_point(point))
    key = prng_key("key", key)
    with jax.enable_x64(True):
        inputs = {k: jnp.asarray(v) for k, v in _inputs(config, p).items()}
        return {k: np.asarray(v) for k, v in _jit_model(config, _static(config, p), inputs, key).items()}


@dataclasses.dataclass(frozen=True)
class PLRFTask:
    """Power-law random features under one-pass SGD as a :class:`toyscale.sweep.Task`.

    Static axis: :class:`Static` (d, v, steps, batch); per-model inputs: the spectrum j^-alpha and the
    target j^-(alpha+beta), both [v], and lr.
    The floor's solve runs in float64 where 64-bit types are enabled, as :func:`sweep_plrf`
    does; given to :func:`toyscale.sweep.run_sweep` directly without them, in float32.
    """

    settings: PLRFConfig
    name: str = "plrf"

    def config(self) -> dict:
        return self.settings.to_dict()

    def static_of(self, point: Mapping[str, Any]) -> Hashable:
        return _static(self.settings, check_point(point))

    def inputs_of(self, point: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return _inputs(self.settings, check_point(point))

    def identity_of(self, point: Mapping[str, Any]) -> dict:
        """The point with its defaults filled in: a point keys the same model however it is spelled."""
        return check_point(point)

    def model_fn(self, static: Static, inputs, key):
        return _model(self.settings, static, inputs, key)

    def bytes_per_model(self, static: Static) -> int:
        v, d = static.v, static.d
        # float32: W, A and the copies XLA keeps of them (it held 4 v d floats at d = 256-1024), the batch's
        # samples, the curve; float64: the floor's SVD (A, u and work space: about 1.5 v d in XLA's own
        # count at d = 1024) and LAPACK's dgesdd work space, 4 d^2, which XLA does not count
        used = 4 * (5 * v * d + 2 * static.batch * v + 4 * v + 2 * d + static.steps // self.settings.log_every)
        if self.settings.floor:
            used += 8 * (2 * v * d + 6 * d * d + 4 * v)
        return used

    def steps(self, static: Static) -> int:
        return static.steps


def plrf_grid(*, d: Sequence[int], alpha: Sequence[float], beta: Sequence[float], lr: float, steps: int,
              batch: int = 1, seeds: int | Sequence[int] = 1) -> list[dict]:
    """The product grid d x alpha x beta x seed, every point with the same ``lr``, ``steps`` and
    ``batch``. ``seeds`` is a count (``3`` is ``[0, 1, 2]``) or a list of integer labels; each
    gives the point another key. Returns validated points, d-major."""
    if isinstance(seeds, bool):
        raise TypeError(f"seeds={seeds!r}; seeds must be a count (an int) or a list of integer seed labels")
    seed_labels = list(range(check_int("seeds", seeds, 1))) if isinstance(seeds, (int, np.integer)) \
        else check_axis("seeds", seeds)
    axes = [check_axis(name, values) for name, values in (("d", d), ("alpha", alpha), ("beta", beta))]
    return [check_point({"d": n, "alpha": a, "beta": b, "lr": lr, "steps": steps, "batch": batch, "seed": s})
            for n, a, b, s in itertools.product(*axes, seed_labels)]


def sweep_plrf(config: PLRFConfig, points: Sequence[Mapping[str, Any]], *, seed: int = 0, out: str | None = None,
               **engine_options: Any) -> SweepResult:
    """Trains every point (see :func:`plrf_grid`) with :func:`toyscale.sweep.run_sweep`; all
    validation happens here, before anything compiles. ``engine_options`` go to the engine
    (``memory_budget``, ``chunk_size``, ``devices``, ``progress``). Runs inside a scoped
    ``jax.enable_x64(True)`` for the floor's float64 solve (training stays float32)."""
    if not isinstance(config, PLRFConfig):
        raise TypeError(f"config={short_repr(config)}; expected a toyscale.plrf.PLRFConfig")
    points = [_check_for(config, check_point(p)) for p in check_points(points)]
    with jax.enable_x64(True):
        return run_sweep(PLRFTask(config), points, seed=seed, out=out, **engine_options)
