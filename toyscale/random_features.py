"""Random-feature regression on power-law data: the solvable toy model of neural scaling.

Teacher-student setting of Maloney, Roberts & Sully (2022, arXiv 2210.16859), in their
notation:

* latent data x in R^M, independent Gaussian coordinates with variances
  ``lambda_I = lambda_+ I^-(1+alpha)``;
* teacher ``y = w . x + eps``, ``w ~ Normal(0, sigma_w^2 / M)``, ``eps ~ Normal(0, noise^2)``
  (isotropic, as theirs; ``RFConfig.teacher_exponent = s`` makes it ``w_I ~ Normal(0, sigma_w^2 I^-s / M)``,
  so that the target power falls as ``I^-(1+alpha+s)``: Bordelon et al.'s a = 1 + alpha + s against the
  spectrum's b = 1 + alpha);
* N random features ``phi(x) = sigma(U x) / sqrt(N)``, ``U_jI ~ Normal(0, sigma_u^2 / M)``,
  sigma the identity ("linear") or ReLU;
* student ``z = theta . phi(x)`` fitted on T samples by ridge regression,
  ``theta = (Phi^T Phi + ridge I)^-1 Phi^T y`` (min-norm least squares at ridge 0), or by
  gradient descent / SGD from theta = 0 (training time is the third axis).

Two conventions differ from the reference on purpose. Features carry ``1/sqrt(N)``, so the
random-feature kernel ``phi(x) . phi(x')`` tends to a fixed kernel as N grows and a ridge
means the same thing at every N (the reference's unnormalised features equal ours with
``ridge -> ridge * N``). And ``lambda_+`` defaults to M, so that the kernel eigenvalues
``sigma_u^2 lambda_I / M`` and the target power ``sigma_w^2 lambda_I / M`` are
``I^-(1+alpha)`` with O(1) scale at any M (the target power ``sigma_w^2 lambda_I I^-s / M`` with a
teacher exponent s); this is exactly what :mod:`toyscale.theory` uses.

Test losses are exact (computed from the known covariance: for ReLU features through the
arc-cosine moments of jointly Gaussian pre-activations), and optionally also estimated on
fresh samples. Two limits of the *same* model are available as extra outputs: infinite
data (T -> inf, same features U; Bahri et al. 2021, L(P)) and the kernel limit
(N -> inf, same training set; Bahri et al. L(D)). Subtracting them isolates the
variance-limited terms model by model. Every loss here, simulated or theoretical, is the plain
mean squared error: Bahri et al.'s L(P) and L(D) carry a factor 1/2, so theirs are half of
ours (exponents are unaffected).

Everything per-model (the spectrum from alpha, ridge, noise, lr; the teacher's scale I^-(s/2) where
s is not 0) is an array input; shapes (N, T,
nonlinearity, method, steps, batch) are static, one compile each (see :mod:`toyscale.sweep`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from toyscale._checks import (FLOAT32_TINY, check_axis, check_choice, check_float32, check_int, check_real,
                              concrete_real, check_common_fields, common_of_pair, config_from_dict, model_keys,
                              prng_key, short_repr)
# the replicate check width_curve makes, and the width fit with its seed redraws
from toyscale.scaling import WidthCurve, _check_bootstrap_widen, _replicates, _scalar_outputs, width_exponent
from toyscale.sweep import SweepResult, check_points, float32_products, run_sweep

__all__ = [
    "NONLINEARITIES",
    "COMMON_FIELDS",
    "METHODS",
    "RFConfig",
    "Static",
    "RandomFeatureTask",
    "spectrum",
    "spectrum64",
    "teacher_scale",
    "check_config",
    "check_isotropic",
    "check_trainable",
    "sample_teacher",
    "sample_projection",
    "sample_data",
    "features",
    "ridge_solution",
    "gd_solution",
    "gd_sharpness",
    "relu_moments",
    "exact_test_loss",
    "sampled_test_loss",
    "infinite_data_solution",
    "kernel_limit_weights",
    "kernel_limit_loss",
    "solve_dtype",
    "train_random_features",
    "random_feature_grid",
    "sweep_random_features",
    "check_point",
    "loss_curve",
    "replicate_means",
    "regime_grid",
    "regime_fit_settings",
    "check_regime_fits",
    "regime_exponents",
    "regime_labels",
    "regime_axes",
    "regime_zero_theory_sizes",
    "relative_error",
    "TheoryAgreement",
    "theory_agreement",
    "ridge_sweep_grid",
    "RidgeTuned",
    "ridge_tuned",
]

NONLINEARITIES = ("linear", "relu")
METHODS = ("ridge", "gd")


# ----------------------------------------------------------------------------- validation


def _check_rcond(rcond: float | None) -> None:
    # (below 1: a relative cut-off at or above the largest eigenvalue drops every direction, theta = 0)
    if rcond is not None and not check_real("rcond", rcond, low=0.0, strict=True) < 1.0:
        raise ValueError(f"rcond={rcond}; rcond must be in (0, 1), a cut-off relative to the largest eigenvalue")


def _check_design(where: str, x_name: str, x: Any, y_name: str, y: Any) -> None:
    """A design ``x`` [T, n] and targets ``y`` [T]: a column vector y [T, 1] had broadcast
    against a [T] vector into a [T, T] matrix and given silently wrong numbers. Shapes only
    (static, so this holds under jit and vmap)."""
    if np.ndim(x) != 2:
        raise ValueError(f"{x_name} has shape {np.shape(x)}; {where} needs a 2-d {x_name} of shape (T, "
                         f"{'N' if x_name == 'phi' else 'M'}), one row per sample")
    T = np.shape(x)[0]
    if np.shape(y) != (T,):
        raise ValueError(f"{y_name} has shape {np.shape(y)}; {where} needs {y_name} of shape (T,) = ({T},), one "
                         f"target per row of {x_name} ({x_name} has shape {np.shape(x)}; not a column vector)")


def _check_model_arrays(where: str, U: Any, lam: Any, w: Any, U_name: str = "U") -> None:
    """Feature weights ``U`` [N, M] (or data x [T, M], named by ``U_name``) and the spectrum
    ``lam`` and teacher ``w``, both [M]."""
    if np.ndim(U) != 2:
        raise ValueError(f"{U_name} has shape {np.shape(U)}; {where} needs a 2-d {U_name} of shape (N, M)")
    M = np.shape(U)[1]
    for name, a in (("lam", lam), ("w", w)):
        if np.shape(a) != (M,):
            raise ValueError(f"{name} has shape {np.shape(a)}; {where} needs {name} of shape (M,) = ({M},), M "
                             f"being {U_name}'s second axis ({U_name} has shape {np.shape(U)})")
    _check_spectrum_values(where, lam)


def _check_spectrum_values(where: str, lam: Any) -> None:
    """A concrete spectrum's values: variances, >= 0 (a negative one had given a test loss of
    -13.07). Traced, the caller's to check."""
    if isinstance(lam, jax.core.Tracer):
        return
    values = np.asarray(lam, dtype=np.float64)
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        bad = values[~(values >= 0) | ~np.isfinite(values)][0]
        raise ValueError(f"lam holds {bad:.4g}; {where} needs a spectrum lam of finite variances >= 0")


def _check_noise(where: str, noise: Any) -> None:
    """The label noise's standard deviation: one number (an array had broadcast into a (2,)-shaped
    "loss"), concrete ones >= 0."""
    if np.ndim(noise) != 0:
        raise ValueError(f"noise has shape {np.shape(noise)}; {where} needs one noise standard deviation (a scalar)")
    concrete_real("noise", noise, low=0.0, scalar=True)


def _check_scale(name: str, value: float, M: int) -> None:
    """``value`` and ``value / sqrt(M)``, the scale sampling multiplies float32 draws by, as
    normal float32 numbers (a subnormal one is flushed to 0, a larger one is inf)."""
    check_float32(name, value)
    try:
        check_float32(f"{name} / sqrt(M)", value / math.sqrt(M))
    except ValueError as e:
        raise ValueError(f"{name}={value!r} with M={M}: {e}") from None


# ----------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class RFConfig:
    """Settings shared by every model of a random-feature sweep (and by the theory).

    Attributes:
      M: latent dimension (number of spectrum modes), >= 2.
      lambda_plus: scale of the data spectrum, ``lambda_I = lambda_plus I^-(1+alpha)``;
        ``None`` means M (kernel eigenvalues and target power then start at 1).
      sigma_u: feature weights ``U ~ Normal(0, sigma_u^2 / M)``.
      sigma_w: teacher weights ``w ~ Normal(0, sigma_w^2 / M)``. ``lambda_plus``, the sigmas and
        ``sigma / sqrt(M)`` must be normal float32 numbers (2**-126 to ~3.4e38): sampling runs in
        float32, where a smaller one is 0 and a larger one inf.
      teacher_exponent: s, a finite real number; the teacher's weights are ``w_I ~ Normal(0,
        sigma_w^2 I^-s / M)`` (0: isotropic, the default and Maloney et al.'s), so the target power
        per mode is ``sigma_w^2 lambda_I I^-s / M ~ I^-(1+alpha+s)``. A point needs alpha + s > 0
        (a target of finite power as M grows). The factor ``I^-(s/2)`` is formed in float64 and
        rounded to float32.
      test_samples: if > 0, also estimate the test loss on this many fresh samples
        (output ``test_loss_sampled``); ReLU kernel-limit losses need it.
      log_every: gradient descent records the exact test loss every this many steps.
      rcond: in ridgeless solves (or below this cut-off's ridge), eigenvalues of the smaller
        Gram matrix (squared singular values of the design) below ``rcond * max`` are dropped
        (``None``: the solve's own epsilon, float64 in sweeps, times the Gram matrix's size, and
        where that drops directions the design has, phi's SVD and (eps * max(T, N))^2, as a
        float32 solve, outside sweeps, always does); in (0, 1).
      common_across: point fields (a tuple of names from ``COMMON_FIELDS``, kept in that order;
        a lone name is one) across which models share their draws: common random numbers.
        Points that differ only in these fields draw their teacher, features, training data,
        SGD minibatches and test samples from one key (:func:`toyscale.sweep.common_key`), and
        the features and samples row by row: so they get the same teacher and test draws, a
        wider model's features extend a narrower one's (``"N"``) and a larger training set
        extends a smaller one (``"T"``; full-batch gradient descent counts as one batch size
        there). Minibatch indices, drawn in [0, T), are the same only where T and ``batch``
        agree. ``"method"`` needs ``"steps"``, ``"lr"`` and ``"batch"`` too (a ridge point
        has none of them). ``("N",)`` makes a sweep's loss-vs-width curves differ only by the
        features, not by a teacher and data set per width. Empty (the default): each model
        draws everything from its own key. Shared draws correlate a curve's points, which a
        fit's standard error assumes independent (``toyscale.runner.COMMON_DRAWS_NOTE``).
    """

    M: int = 4096
    lambda_plus: float | None = None
    sigma_u: float = 1.0
    sigma_w: float = 1.0
    test_samples: int = 0
    log_every: int = 100
    rcond: float | None = None
    teacher_exponent: float = 0.0
    common_across: tuple[str, ...] = ()

    def __post_init__(self):
        check_int("M", self.M, 2)
        if self.lambda_plus is not None:
            check_real("lambda_plus", self.lambda_plus, low=0.0, strict=True)
            # the model's spectrum is float32 (lambda_plus * I^-(1+alpha), rounded from float64): 1e-46
            # became 0 (test loss 0), 1e39 inf
            check_float32("lambda_plus", self.lambda_plus)
        check_real("sigma_u", self.sigma_u, low=0.0, strict=True)
        check_real("sigma_w", self.sigma_w, low=0.0, strict=True)
        # U and w are float32 draws times sigma / sqrt(M) (sample_projection, sample_teacher):
        # sigma_w = 1e39 gave NaN, sigma_u = 1e-40 a flushed scale, 2x off the theory
        _check_scale("sigma_u", self.sigma_u, self.M)
        _check_scale("sigma_w", self.sigma_w, self.M)
        check_int("test_samples", self.test_samples, 0)
        check_int("log_every", self.log_every, 1)
        _check_rcond(self.rcond)
        check_real("teacher_exponent", self.teacher_exponent)
        if self.teacher_exponent < 0:  # (the last mode's weights are the largest: sigma_w / sqrt(M) * M^(-s/2))
            try:  # (the scale I^-(s/2) is a float32 input on its own: 1e-30 * inf had passed as a product)
                scale = self.M ** (-0.5 * self.teacher_exponent)
            except OverflowError:
                scale = math.inf
            check_float32("M^(-teacher_exponent / 2)", scale)
            _check_scale("sigma_w * M^(-teacher_exponent / 2)", self.sigma_w * scale, self.M)
        object.__setattr__(self, "common_across", _check_common(self.common_across))

    @property
    def scale(self) -> float:
        """lambda_+ as used (M when ``lambda_plus`` is None)."""
        return float(self.M if self.lambda_plus is None else self.lambda_plus)

    def to_dict(self) -> dict:
        settings = dataclasses.asdict(self)
        settings["common_across"] = list(self.common_across)  # (as JSON reads it back)
        return settings

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> "RFConfig":
        """The config of a :meth:`to_dict` (or of a preset's group of settings); a key that is
        not a field is a TypeError naming it, the closest field and all of them."""
        return config_from_dict(cls, settings)


COMMON_FIELDS = ("N", "T", "alpha", "nonlinearity", "method", "steps", "batch", "lr", "noise", "ridge")


def _check_common(fields: Any) -> tuple[str, ...]:
    """``RFConfig.common_across`` as a tuple of distinct names from ``COMMON_FIELDS``."""
    listed = check_common_fields(fields, COMMON_FIELDS, {
        flag: " (a flag that only adds measurements never keys a model)" for flag in _MEASURE_FLAGS})
    if "method" in listed and not {"steps", "lr", "batch"} <= set(listed):
        given = (fields,) if isinstance(fields, str) else fields
        raise ValueError(f"common_across={given!r} lists 'method' without all of 'steps', 'lr' and 'batch'; a ridge "
                         f"point has none of them (0) and a gradient-descent point needs them, so no two points of "
                         f"different methods would share their draws: list those three too")
    return listed


class Static(NamedTuple):
    """The shape-fixing part of a grid point: one compilation per distinct value."""

    N: int
    T: int
    nonlinearity: str = "linear"
    method: str = "ridge"
    steps: int = 0
    batch: int = 0
    infinite_data: bool = False
    kernel_limit: bool = False
    infinite_time: bool = False


# ----------------------------------------------------------------------------- model pieces


def spectrum(M: int, alpha: ArrayLike, scale: ArrayLike = 1.0, dtype=jnp.float32) -> jax.Array:
    """Variances of the latent coordinates, ``lambda_I = scale * I^-(1+alpha)``, I = 1..M.

    Maloney et al. (2022), Sec. 2: a power-law spectrum, the source of every exponent here.

    Args:
      M: number of modes (static).
      alpha: spectrum exponent (> 0); may be a traced per-model scalar.
      scale: lambda_+.

    Returns:
      lambda, shape [M], decreasing.
    """
    M = _check_spectrum(M, alpha, scale)
    i = jnp.arange(1, M + 1, dtype=dtype)
    return jnp.asarray(scale, dtype) * i ** (-(1 + jnp.asarray(alpha, dtype)))


def spectrum64(M: int, alpha: float, scale: float = 1.0) -> np.ndarray:
    """:func:`spectrum` formed on the host in float64 (numpy), for a concrete ``alpha``: the
    spectrum a model is given (see ``_inputs``)."""
    M = _check_spectrum(M, alpha, scale)
    return float(scale) * np.arange(1, M + 1, dtype=np.float64) ** (-(1.0 + float(alpha)))


def _check_spectrum(M: Any, alpha: Any, scale: Any) -> int:
    M = check_int("M", M, 1)  # (M = 0 had returned an empty spectrum)
    # (alpha = -3 had returned an increasing spectrum, scale = -1 negative variances: NaN labels)
    concrete_real("alpha", alpha, low=0.0, strict=True)
    concrete_real("scale", scale, low=0.0, strict=True)
    return M


def sample_teacher(key: jax.Array, M: int, sigma_w: float = 1.0, dtype=jnp.float32) -> jax.Array:
    """Teacher weights ``w ~ Normal(0, sigma_w^2 / M)``, shape [M]."""
    M = check_int("M", M, 1)
    concrete_real("sigma_w", sigma_w, low=0.0, scalar=True)  # (NaN had given a NaN teacher, -1 a flipped one)
    return sigma_w / math.sqrt(M) * jax.random.normal(key, (M,), dtype)


def _normal_rows(key: jax.Array, rows: int, shape: tuple[int, ...], dtype, nested: bool) -> jax.Array:
    """Standard normals of shape ``(rows, *shape)``; ``nested``: row i from ``fold_in(key, i)``,
    so the first k rows of any larger draw are the draw of k rows."""
    if not nested:
        return jax.random.normal(key, (rows, *shape), dtype)
    return jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), shape, dtype))(jnp.arange(rows))


def sample_projection(key: jax.Array, N: int, M: int, sigma_u: float = 1.0, dtype=jnp.float32, *,
                      nested: bool = False) -> jax.Array:
    """Random-feature weights ``U ~ Normal(0, sigma_u^2 / M)``, shape [N, M]; ``nested``: row i
    drawn from ``fold_in(key, i)``, so a wider projection extends a narrower one."""
    N, M = check_int("N", N, 1), check_int("M", M, 1)
    concrete_real("sigma_u", sigma_u, low=0.0, scalar=True)  # (NaN had given NaN features)
    return sigma_u / math.sqrt(M) * _normal_rows(key, N, (M,), dtype, nested)


def sample_data(key: jax.Array, T: int, lam: jax.Array, w: jax.Array, noise: ArrayLike, *,
                nested: bool = False) -> tuple[jax.Array, jax.Array]:
    """T samples ``x ~ Normal(0, diag(lam))`` and labels ``y = w . x + noise * eps``.

    Args:
      key: PRNG key.
      T: number of samples (static).
      lam: spectrum, [M].
      w: teacher, [M].
      noise: label-noise standard deviation (>= 0).
      nested: the key split in two (inputs, noise) and each half folded with t for sample t,
        so a larger set extends a smaller one (keyword-only).

    Returns:
      ``(x [T, M], y [T])``.
    """
    T = check_int("T", T, 1)
    if np.ndim(lam) != 1 or np.shape(w) != np.shape(lam):  # (w [M, 1] had made y a [T, T] matrix)
        raise ValueError(f"lam has shape {np.shape(lam)} and w {np.shape(w)}; sample_data needs both of shape (M,)")
    _check_noise("sample_data", noise)
    kx, ke = jax.random.split(key)
    x = _normal_rows(kx, T, lam.shape, lam.dtype, nested) * jnp.sqrt(lam)
    y = x @ w + jnp.asarray(noise, lam.dtype) * _normal_rows(ke, T, (), lam.dtype, nested)
    return x, y


def features(U: jax.Array, x: jax.Array, nonlinearity: str = "linear") -> jax.Array:
    """Random features ``phi(x) = sigma(U x) / sqrt(N)`` for a batch x [T, M] -> [T, N]."""
    pre = x @ U.T
    if nonlinearity == "relu":
        pre = jax.nn.relu(pre)
    elif nonlinearity != "linear":
        raise ValueError(f"nonlinearity={nonlinearity!r}; allowed: {', '.join(map(repr, NONLINEARITIES))}")
    return pre / jnp.sqrt(jnp.asarray(U.shape[0], pre.dtype))


def _eig_solve(G: jax.Array, b: jax.Array, ridge: jax.Array, rcond: float | None) -> tuple[jax.Array, jax.Array]:
    """``(G + ridge I)^-1 b`` for a symmetric PSD G through eigh, and how many directions it
    kept: eigenvalues below ``rcond * max`` are dropped (pseudo-inverse) unless the ridge is
    above that cut-off too."""
    e, V = jnp.linalg.eigh(G)
    if rcond is None:
        rcond = float(jnp.finfo(G.dtype).eps) * G.shape[0]
    cut = rcond * e[-1]
    return V @ (_kept_inverse(e, ridge, cut) * (V.T @ b)), jnp.sum((e > cut) | (ridge > cut))


def _pinv_apply(G: jax.Array, b: jax.Array, ridge: jax.Array, rcond: float | None) -> jax.Array:
    """:func:`_eig_solve`'s solution alone."""
    return _eig_solve(G, b, ridge, rcond)[0]


def _kept_inverse(e: jax.Array, ridge: jax.Array, cut: jax.Array) -> jax.Array:
    """``1 / (e + ridge)`` for the eigenvalues e of a Gram matrix, 0 for those at or below ``cut``
    unless the ridge is above it: a ridge below the cut-off, 1e-30 say, had kept the numerically
    null directions and divided their rounding noise by itself (a test loss of 2e25 for the
    ridgeless 0.0127, not flagged)."""
    keep = (e > cut) | (ridge > cut)
    return jnp.where(keep, 1.0 / jnp.where(keep, jnp.maximum(e, 0.0) + ridge, 1.0), 0.0)


def _svd_solve(phi: jax.Array, y: jax.Array, ridge: jax.Array, rcond: float | None) -> jax.Array:
    """:func:`ridge_solution` through the SVD of phi itself, for float32: the Gram
    matrix squares phi's condition number, and in float32 its eigenvalue cut-off had dropped
    real directions near N = T (a ridgeless fit that did not interpolate: test loss 1.08 for
    float64's 9.99 at N = T = 128). Singular values s count where s^2 > ``rcond * max s^2``;
    the default cut-off is (eps * max(T, N))^2, the SVD being accurate to eps in s."""
    u, sv, vt = jnp.linalg.svd(phi, full_matrices=False)
    e = sv**2
    if rcond is None:
        rcond = (float(jnp.finfo(phi.dtype).eps) * max(phi.shape)) ** 2
    return vt.T @ (sv * _kept_inverse(e, ridge, rcond * e[0]) * (u.T @ y))


def ridge_solution(phi: jax.Array, y: jax.Array, ridge: ArrayLike, rcond: float | None = None) -> jax.Array:
    """Ridge regression ``theta = (phi^T phi + ridge I)^-1 phi^T y``, min-norm at ridge 0.

    Solved through the eigendecomposition of the smaller Gram matrix: ``phi^T phi`` [N, N]
    when N <= T (primal), ``phi phi^T`` [T, T] otherwise (dual, ``theta = phi^T a``). At
    ``ridge = 0`` (or a ridge below the cut-off) eigenvalues below ``rcond * max`` are
    dropped, which gives the minimum-norm least-squares solution (the ridgeless limit)
    without dividing by noise. Squaring phi doubles its condition number's exponent, so the
    sweep solves in float64 (see :func:`sweep_random_features`), and where the default
    cut-off drops directions that phi has (a steep spectrum's small modes) solves again
    through phi's SVD (in float64 on a 2-core CPU about 2-3x the Gram route's time at
    1024 x 1024). A float32 (or narrower) phi is always solved through its SVD.

    Args:
      phi: design matrix [T, N].
      y: targets [T].
      ridge: ridge >= 0 (sum convention, as Simon et al.'s delta); may be traced.
      rcond: relative eigenvalue cut-off (default eps * the Gram's size; for a float32 phi,
        (eps * max(T, N))^2 on the squared singular values).

    Returns:
      theta [N].
    """
    _check_design("ridge_solution", "phi", phi, "y", y)
    concrete_real("ridge", ridge, low=0.0, scalar=True)
    _check_rcond(rcond)
    phi = _inexact("ridge_solution", "phi", phi)
    return _least_squares(phi, jnp.asarray(y), ridge, rcond, min(phi.shape))


def _inexact(where: str, name: str, a: Any) -> jax.Array:
    """``a`` as the JAX array it will be solved as (a numpy float64 with 64-bit types off is
    float32: chosen by numpy's dtype, the float64 route had run in float32 with float64's
    cut-off, 1.8-3.5x off near N = T); an integer or bool array refused by name."""
    a = jnp.asarray(a)
    if not jnp.issubdtype(a.dtype, jnp.floating):
        raise TypeError(f"{name} has dtype {a.dtype}; {where} needs a floating-point {name}")
    return a


def _least_squares(phi: jax.Array, y: jax.Array, ridge: ArrayLike, rcond: float | None, rank: int) -> jax.Array:
    """:func:`ridge_solution` for a design whose rank is at most ``rank`` (min(T, N), or M for
    linear features of M-dimensional data). In float64 through the smaller Gram matrix; where its
    default cut-off drops directions the design has (fewer kept than ``rank``), again through
    phi's SVD: the Gram's rounding, eps x its largest eigenvalue, hides singular values below
    about sqrt(eps N) of the largest, real ones of a steep spectrum (alpha = 4, N = 1024, T =
    4096: every mode past about 340 dropped, a test loss 28-31x the theory's, unflagged)."""
    T, N = phi.shape
    ridge = jnp.asarray(ridge, phi.dtype)
    y = y.astype(phi.dtype)
    if jnp.finfo(phi.dtype).bits < 64:
        return _svd_solve(phi, y, ridge, rcond)
    if N <= T:
        theta, kept = _eig_solve(phi.T @ phi, phi.T @ y, ridge, rcond)
    else:
        coef, kept = _eig_solve(phi @ phi.T, y, ridge, rcond)
        theta = phi.T @ coef
    if rcond is not None:  # (a cut-off of the caller's: theirs to choose)
        return theta
    return _resolved(phi, y, ridge, theta, kept < rank)


@jax.custom_batching.custom_vmap
def _resolved(phi: jax.Array, y: jax.Array, ridge: jax.Array, theta: jax.Array, again: jax.Array) -> jax.Array:
    """``theta``, or where ``again`` the solve through phi's SVD: a branch taken only where needed."""
    return jax.lax.cond(again, lambda: _svd_solve(phi, y, ridge, None), lambda: theta)


@_resolved.def_vmap
def _resolved_vmap(axis_size: int, in_batched: list, *args: jax.Array) -> tuple[jax.Array, bool]:
    # Vmapped (several models side by side), a per-model cond would become a select that ran every model's SVD
    # (5-7x the solve's time where none needed it, the review measured): one branch on whether any model does.
    phi, y, ridge, theta, again = (a if batched else jnp.broadcast_to(a, (axis_size, *jnp.shape(a)))
                                   for a, batched in zip(args, in_batched))

    def svd():
        solved = jax.vmap(lambda p, t, r: _svd_solve(p, t, r, None))(phi, y, ridge)
        return jnp.where(again[:, None], solved, theta)

    return jax.lax.cond(jnp.any(again), svd, lambda: theta), True


def gd_solution(
    phi: jax.Array,
    y: jax.Array,
    ridge: ArrayLike,
    lr: ArrayLike,
    *,
    steps: int,
    batch: int,
    log_every: int,
    evaluate,
    key: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Gradient descent (``batch == T``) or SGD on the ridge objective, from theta = 0.

    Steps on ``(1/2T) (|phi theta - y|^2 + ridge |theta|^2)``, whose minimiser is
    :func:`ridge_solution`, with a constant learning rate. Full-batch GD with a stable step
    converges to it; started at zero it stays in the row space of phi and so tends to the
    minimum-norm solution when ``ridge = 0`` (Bahri et al. 2021, Sec. 2.3). SGD (``batch < T``)
    with its constant step converges only where every sample's gradient vanishes at the
    solution: ridgeless, with the training data interpolated (N >= T), where it too tends to the
    minimum-norm solution. Otherwise (``ridge > 0``, or ridgeless with a residual, N < T) it
    keeps moving around the minimiser and its loss stops at a noise floor above
    :func:`ridge_solution`'s, set by ``lr`` and ``batch`` (N = 16, T = 48, ridge 0.1, noise 0.3,
    lr 0.5, batch 4, 100k steps, M = 64: test loss 0.317 against 0.304; full-batch GD reaches it to
    1e-14). Steps run in ``lax.scan`` with ``optax.sgd``; SGD draws ``batch`` indices with
    replacement per step from ``fold_in(key, step)``.

    Args:
      phi, y: training design [T, N] and targets [T].
      ridge: ridge >= 0.
      lr: learning rate (may be traced).
      steps: number of updates (static).
      batch: samples per update (static; T means full-batch GD).
      log_every: ``evaluate(theta)`` is recorded after every block of this many steps.
      evaluate: theta -> scalar, e.g. the exact test loss.
      key: PRNG key for SGD's minibatches (keyword-only).

    Returns:
      ``(theta [N], curve [steps // log_every])``.
    """
    _check_design("gd_solution", "phi", phi, "y", y)
    concrete_real("ridge", ridge, low=0.0, scalar=True)
    concrete_real("lr", lr, low=0.0, strict=True, scalar=True)
    check_int("steps", steps)
    check_int("batch", batch)
    check_int("log_every", log_every)
    T = phi.shape[0]
    if batch > T:  # (had been full-batch gradient descent, silently, as check_point refuses it)
        raise ValueError(f"batch={batch} with T={T} samples; batch must be at most T (T: full-batch gradient descent)")
    if batch < T:  # (SGD draws its minibatches from key; key=None had failed inside jax.random)
        key = prng_key("key", key)
    ridge = jnp.asarray(ridge, phi.dtype)
    opt = optax.sgd(lr)

    def grad(theta, t):
        if batch >= T:
            pb, yb = phi, y
        else:
            idx = jax.random.randint(jax.random.fold_in(key, t), (batch,), 0, T)
            pb, yb = phi[idx], y[idx]
        return pb.T @ (pb @ theta - yb) / pb.shape[0] + ridge * theta / T

    def step(carry, t):
        theta, state = carry
        updates, state = opt.update(grad(theta, t), state, theta)
        return (optax.apply_updates(theta, updates), state), None

    def block(carry, b):
        carry, _ = jax.lax.scan(step, carry, b * log_every + jnp.arange(log_every))
        return carry, evaluate(carry[0])

    theta0 = jnp.zeros(phi.shape[1], phi.dtype)
    carry = (theta0, opt.init(theta0))
    n_blocks, rem = divmod(steps, log_every)
    carry, curve = jax.lax.scan(block, carry, jnp.arange(n_blocks))
    if rem:
        carry, _ = jax.lax.scan(step, carry, n_blocks * log_every + jnp.arange(rem))
    return carry[0], curve


def gd_sharpness(phi: jax.Array, ridge: ArrayLike) -> jax.Array:
    """The top eigenvalue of the Hessian of :func:`gd_solution`'s objective,
    ``(phi^T phi + ridge I) / T``: gradient descent's stability edge.

    On this quadratic, full-batch gradient descent at a constant step ``lr`` converges (from any
    start) where ``lr * sharpness < 2`` and grows geometrically, by ``|1 - lr * sharpness|`` a
    step, along the top eigenvector where it exceeds 2 (just past 2 that growth is slow, and a
    finite run can end before it shows). A narrow model's sharpness varies more from draw to
    draw (fewer features average less of the draw out): a step that is stable for most draws
    can be past the edge for a few narrow ones. (Minibatch SGD's edge differs.) Computed
    from the smaller Gram matrix (``phi phi^T`` where T < N; the same nonzero eigenvalues) in
    phi's dtype.

    Args:
      phi: training design [T, N], real (integers are promoted to float32, as are float16
        and bfloat16).
      ridge: ridge >= 0.

    Returns:
      A scalar.
    """
    phi = jnp.asarray(phi)  # (a list had failed on .shape)
    if np.ndim(phi) != 2 or 0 in phi.shape:
        raise ValueError(f"phi has shape {np.shape(phi)}; gd_sharpness needs a 2-d phi of shape (T, N), T, N >= 1, "
                         f"one row per sample")
    if not (jnp.issubdtype(phi.dtype, jnp.floating) or jnp.issubdtype(phi.dtype, jnp.integer)):
        raise TypeError(f"phi has dtype {phi.dtype}; gd_sharpness needs real numbers (phi^T phi of a complex phi is "
                        f"not its Gram matrix)")
    if phi.dtype not in (jnp.float32, jnp.float64):  # (integers had rounded the ridge to 0; eigvalsh refuses bf16)
        phi = phi.astype(jnp.promote_types(phi.dtype, jnp.float32))
    concrete_real("ridge", ridge, low=0.0, scalar=True)
    T, N = phi.shape
    gram = phi.T @ phi if N <= T else phi @ phi.T
    return jnp.linalg.eigvalsh(gram)[-1] / T + jnp.asarray(ridge, phi.dtype) / T


def relu_moments(U: jax.Array, lam: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Exact second moments of ReLU features on Gaussian data (arc-cosine kernel, order 1).

    The pre-activations ``a = U x`` are jointly Gaussian with covariance ``S = U diag(lam) U^T``;
    ``E[relu(a_i) relu(a_j)] = sqrt(S_ii S_jj) (sin t + (pi - t) cos t) / (2 pi)`` with
    ``cos t = rho_ij`` (Cho & Saul 2009), and by Stein's lemma
    ``E[relu(a_i) w.x] = Cov(a_i, w.x) / 2``.

    Returns:
      ``(C [N, N], c [N])``: ``E[phi phi^T]`` and ``E[phi (w . x)]`` for
      ``phi = relu(U x) / sqrt(N)``.
    """
    _check_model_arrays("relu_moments", U, lam, w)  # (lam (1,) had broadcast, w (M, 1) given c (N, 1))
    N = U.shape[0]
    Ul = U * lam
    S = Ul @ U.T
    sd = jnp.sqrt(jnp.diag(S))
    rho = jnp.clip(S / (sd[:, None] * sd[None, :]), -1.0, 1.0)
    t = jnp.arccos(rho)
    C = sd[:, None] * sd[None, :] * (jnp.sin(t) + (jnp.pi - t) * rho) / (2 * jnp.pi)
    return C / N, (Ul @ w) / (2 * jnp.sqrt(jnp.asarray(N, U.dtype)))


def exact_test_loss(theta: jax.Array, U: jax.Array, lam: jax.Array, w: jax.Array, noise: ArrayLike,
              nonlinearity: str = "linear") -> jax.Array:
    """Exact test loss ``E[(theta . phi(x) - y)^2]`` over fresh Gaussian data.

    Linear features: ``sum_I lam_I (w_I - (U^T theta)_I / sqrt(N))^2 + noise^2`` (no
    cancellation). ReLU: ``theta^T C theta - 2 theta^T c + w^T diag(lam) w + noise^2`` with
    the moments of :func:`relu_moments`.
    """
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    _check_model_arrays("exact_test_loss", U, lam, w)
    _check_noise("exact_test_loss", noise)
    N = np.shape(U)[0]
    if np.shape(theta) != (N,):  # (theta [N, 1] had broadcast: a loss of 81.9 for 0.193)
        raise ValueError(f"theta has shape {np.shape(theta)}; exact_test_loss needs theta of shape (N,) = ({N},), "
                         f"one weight per feature (U has shape {np.shape(U)}; not a column vector)")
    noise2 = jnp.asarray(noise, lam.dtype) ** 2
    if nonlinearity == "linear":
        beta = U.T @ theta / jnp.sqrt(jnp.asarray(U.shape[0], lam.dtype))
        return jnp.sum(lam * (w - beta) ** 2) + noise2
    C, c = relu_moments(U, lam, w)
    return theta @ C @ theta - 2 * theta @ c + jnp.sum(lam * w * w) + noise2


def sampled_test_loss(predict, key: jax.Array, n: int, lam: jax.Array, w: jax.Array, noise: ArrayLike) -> jax.Array:
    """Mean squared error of ``predict(x) -> [n]`` on n fresh samples (noisy labels)."""
    n = check_int("n", n, 1)
    x, y = sample_data(key, n, lam, w, noise)
    pred = predict(x)
    if np.shape(pred) != (n,):  # (predictions [n, 1] had broadcast against the labels [n] into [n, n])
        raise ValueError(f"predict(x) has shape {np.shape(pred)}; sampled_test_loss needs predict to return "
                         f"shape (n,) = ({n},), one prediction per sample of x (x has shape {np.shape(x)}; not a "
                         f"column vector)")
    return jnp.mean((pred - y) ** 2)


def infinite_data_solution(U: jax.Array, lam: jax.Array, w: jax.Array, nonlinearity: str = "linear",
                           rcond: float | None = None) -> jax.Array:
    """The T -> infinity (population least-squares) student of fixed features U.

    Bahri et al. (2021), Sec. 2.3, L(P): ``theta = E[phi phi^T]^+ E[phi y]``, with the
    moments ``U diag(lam) U^T / N`` and ``U diag(lam) w / sqrt(N)`` for linear features and
    :func:`relu_moments` for ReLU.

    Returns:
      theta [N].
    """
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    _check_model_arrays("infinite_data_solution", U, lam, w)
    _check_rcond(rcond)  # (rcond=-1.0 had returned NaN, as ridge_solution refuses it)
    if nonlinearity == "linear":
        # least squares on the moments' factor B^T = (U sqrt(lam))^T / sqrt(N), [M, N]: C = B B^T and
        # c = B (sqrt(lam) w), solved as ridge_solution solves a design (eigh of C in float32 had dropped
        # real directions, 20x off at alpha = 2, N = 256; float64's Gram cut-off, 29x at alpha = 4, N = 1024)
        root = jnp.sqrt(jnp.maximum(lam, 0.0))
        B_t = (U * root).T / jnp.sqrt(jnp.asarray(U.shape[0], U.dtype))
        return _least_squares(B_t, root * w, 0.0, rcond, min(B_t.shape))
    C, c = relu_moments(U, lam, w)
    return _pinv_apply(C, c, jnp.zeros((), C.dtype), rcond)


def _relu_kernel(a: jax.Array, b: jax.Array, scale: ArrayLike) -> jax.Array:
    """``E_u[relu(u.a) relu(u.b)]`` for u ~ Normal(0, scale I): the N -> inf ReLU kernel."""
    na, nb = jnp.linalg.norm(a, axis=1), jnp.linalg.norm(b, axis=1)
    rho = jnp.clip((a @ b.T) / (na[:, None] * nb[None, :]), -1.0, 1.0)
    t = jnp.arccos(rho)
    return scale * na[:, None] * nb[None, :] * (jnp.sin(t) + (jnp.pi - t) * rho) / (2 * jnp.pi)


def kernel_limit_weights(x: jax.Array, y: jax.Array, ridge: ArrayLike, *, sigma_u: float,
                         rcond: float | None = None) -> jax.Array:
    """The N -> inf limit of linear random features on data (x, y), as weights on x.

    Kernel ridge regression with ``K = (sigma_u^2 / M) x x^T`` predicts ``beta . x`` with
    ``beta = sqrt(s) * ridge_solution(sqrt(s) x, y, ridge)``, ``s = sigma_u^2 / M``.

    Returns:
      beta [M].
    """
    _check_design("kernel_limit_weights", "x", x, "y", y)
    concrete_real("sigma_u", sigma_u, low=0.0, strict=True)
    scale = jnp.asarray(sigma_u**2 / x.shape[1], x.dtype)
    return jnp.sqrt(scale) * ridge_solution(jnp.sqrt(scale) * x, y, ridge, rcond)


def kernel_limit_loss(x: jax.Array, y: jax.Array, ridge: ArrayLike, lam: jax.Array, w: jax.Array,
                      noise: ArrayLike, *, nonlinearity: str, sigma_u: float, key: jax.Array,
                      test_samples: int, rcond: float | None = None) -> jax.Array:
    """Test loss of the N -> infinity limit on the same training set: kernel ridge regression.

    Bahri et al. (2021) L(D). The random-feature kernel ``phi(x).phi(x')`` tends to
    ``(sigma_u^2 / M) x.x'`` (linear) or the order-1 arc-cosine kernel (ReLU). Linear: the
    predictor is ``beta . x`` with ``beta`` a ridge solution on the scaled design, so the loss
    is exact; ReLU: estimated on ``test_samples`` fresh samples (NaN if 0).

    Returns:
      A scalar loss.
    """
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    _check_design("kernel_limit_loss", "x", x, "y", y)
    _check_model_arrays("kernel_limit_loss", x, lam, w, U_name="x")
    M = x.shape[1]
    # both paths, before anything is traced (a negative ridge had given ReLU a number)
    concrete_real("ridge", ridge, low=0.0, scalar=True)
    concrete_real("sigma_u", sigma_u, low=0.0, strict=True)
    test_samples = check_int("test_samples", test_samples, 0)
    _check_rcond(rcond)
    scale = jnp.asarray(sigma_u**2 / M, x.dtype)
    if nonlinearity == "linear":
        beta = kernel_limit_weights(x, y, ridge, sigma_u=sigma_u, rcond=rcond)
        return jnp.sum(lam * (w - beta) ** 2) + jnp.asarray(noise, x.dtype) ** 2
    if test_samples == 0:
        return jnp.asarray(jnp.nan, x.dtype)
    coef = _pinv_apply(_relu_kernel(x, x, scale), y, jnp.asarray(ridge, x.dtype), rcond)
    return sampled_test_loss(lambda xt: _relu_kernel(xt, x, scale) @ coef, key, test_samples, lam, w, noise)


# ----------------------------------------------------------------------------- one model


def solve_dtype() -> jnp.dtype:
    """float64 when 64-bit types are enabled (as inside a sweep), else float32."""
    return jnp.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))


@float32_products
def _model(config: RFConfig, static: Static, inputs: Mapping[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
    """Samples, trains and measures one model: the body of the sweep's ``model_fn``.

    Sampling and the [T, M] x [M, N] feature product run in float32; the Gram matrices,
    their eigendecompositions and the losses in :func:`solve_dtype`.
    """
    N, T, nl = static.N, static.T, static.nonlinearity
    nested = bool(config.common_across)
    if nested:  # key = (own, common): every draw from the common key, features and samples row by row
        key = common_of_pair(key, config)
    k_w, k_u, k_x, k_test, k_sgd, k_kern = (jax.random.fold_in(key, i) for i in range(6))
    lam32 = inputs["spectrum"]  # (scale * I^-(1+alpha), formed on the host: _inputs)
    w32 = sample_teacher(k_w, config.M, config.sigma_w)
    if config.teacher_exponent:
        w32 = w32 * inputs["teacher_scale"]  # (I^-(s/2), formed on the host: _inputs)
    U32 = sample_projection(k_u, N, config.M, config.sigma_u, nested=nested)
    x32, y32 = sample_data(k_x, T, lam32, w32, inputs["noise"], nested=nested)
    dt = solve_dtype()
    phi = features(U32, x32, nl).astype(dt)
    lam, w, U, x, y = (a.astype(dt) for a in (lam32, w32, U32, x32, y32))
    noise, ridge = inputs["noise"].astype(dt), inputs["ridge"].astype(dt)

    def exact(theta):
        return exact_test_loss(theta, U, lam, w, noise, nl)

    out = {}
    rank = min(T, N, config.M) if nl == "linear" else min(T, N)  # (phi = x U^T / sqrt(N): rank <= M)
    if static.method == "ridge":
        theta = _least_squares(phi, y, ridge, config.rcond, rank)
    else:
        theta, out["loss_curve"] = gd_solution(
            phi, y, ridge, inputs["lr"].astype(dt), steps=static.steps, batch=static.batch,
            log_every=config.log_every, evaluate=exact, key=k_sgd)
        out["sharpness"] = gd_sharpness(phi, ridge)  # (its stability edge: lr * sharpness < 2)
    out["test_loss"] = exact(theta)
    out["train_loss"] = jnp.mean((phi @ theta - y) ** 2)
    if config.test_samples:
        out["test_loss_sampled"] = sampled_test_loss(
            lambda xt: features(U32, xt, nl).astype(dt) @ theta, k_test, config.test_samples, lam32, w32,
            inputs["noise"])
    if static.infinite_data:
        out["loss_infinite_data"] = exact(infinite_data_solution(U, lam, w, nl, config.rcond))
    if static.infinite_time:  # where gradient descent on these features and data converges (the same draw)
        out["loss_infinite_time"] = exact(_least_squares(phi, y, ridge, config.rcond, rank))
    if static.kernel_limit and nl == "linear":
        # Ridgeless, E_U[beta_RF | x] = beta_kernel exactly (U -> U D with D = +-1 on the
        # complement of x's row space leaves U's law unchanged and flips the rest), so
        # E[L_RF - L_kernel] = E|beta_RF - beta_kernel|^2_lam: the same mean, far less noise.
        beta_k = kernel_limit_weights(x, y, ridge, sigma_u=config.sigma_u, rcond=config.rcond)
        beta_rf = U.T @ theta / jnp.sqrt(jnp.asarray(N, dt))
        out["loss_kernel_limit"] = jnp.sum(lam * (w - beta_k) ** 2) + noise**2
        # (only where the identity holds: ridgeless, and the features interpolating, N > T, or spanning every
        # linear function, N >= M; at N = 4 < T = 16 its mean was 0.19 for a mean difference of 0.007)
        holds = N > T or N >= config.M
        out["distance_kernel_limit"] = jnp.where((ridge == 0) & holds, jnp.sum(lam * (beta_rf - beta_k) ** 2), jnp.nan)
    elif static.kernel_limit:
        out["loss_kernel_limit"] = kernel_limit_loss(
            x, y, ridge, lam, w, noise, nonlinearity=nl, sigma_u=config.sigma_u,
            key=k_kern, test_samples=config.test_samples, rcond=config.rcond)
    out["diverged"] = ~jnp.isfinite(out["test_loss"])
    if static.method == "gd":
        # Started at theta = 0, a run that ends above its starting objective did not train:
        # full-batch GD with a stable step only descends, an unstable one grows geometrically
        # (to 1e293 before it overflows), so a finite loss alone does not clear it.
        objective = lambda th: (jnp.sum((phi @ th - y) ** 2) + ridge * jnp.sum(th**2)) / (2 * T)  # noqa: E731
        grew = ~(objective(theta) <= objective(jnp.zeros_like(theta)))
        out["diverged"] = out["diverged"] | grew | ~jnp.all(jnp.isfinite(out["loss_curve"]))
    return out


_MEASURE_FLAGS = ("infinite_data", "kernel_limit", "infinite_time")  # (outputs only: not in a model's key)
_POINT_DEFAULTS = {"nonlinearity": "linear", "method": "ridge", "steps": 0, "batch": 0, "lr": 0.0,
                   "noise": 0.0, "ridge": 0.0, "infinite_data": False, "kernel_limit": False, "infinite_time": False}


def check_point(point: Mapping[str, Any]) -> dict:
    """Validates one grid point and fills defaults; raises ValueError (TypeError for a value of
    the wrong type) naming the bad field.

    Required: ``N``, ``T`` (integers >= 1), ``alpha`` (> 0). Optional: ``ridge`` (0, or at least
    2**-126 ~ 1.18e-38, float32's smallest normal number: the model receives it in float32, and
    XLA on a CPU treats a subnormal as 0),
    ``noise`` (>= 0), ``nonlinearity`` ("linear" | "relu"), ``method`` ("ridge" | "gd"),
    ``steps`` (>= 1 for gd), ``lr`` (> 0 for gd), ``batch`` (1..T for gd; 0 means T),
    ``infinite_data``, ``kernel_limit`` and ``infinite_time`` (bools: also compute the T -> inf
    loss of the same features, the N -> inf loss on the same data, and the loss of the ridge
    solution on the same features and data, where gradient descent converges), ``seed`` (an integer >= 0 that enters
    the model's key, :func:`toyscale.sweep.model_key`) and ``label`` (a tag, kept, not read).
    A positive ``ridge``, ``noise`` or ``lr`` must be a normal float32 number (2**-126 to ~3.4e38),
    as the model receives it in float32; ``alpha`` enters only the spectrum, formed in float64.
    """
    if not isinstance(point, Mapping):  # (a list of pairs read "point {'N': 4, ...} lacks 'N'")
        raise TypeError(f"point={short_repr(point)}; a point must be a mapping (a dict) of field names to values")
    p = {**_POINT_DEFAULTS, **dict(point)}
    unknown = set(p) - set(_POINT_DEFAULTS) - {"N", "T", "alpha", "seed", "label"}
    if unknown:
        raise ValueError(f"point has unknown field(s) {sorted(unknown)}; allowed: N, T, alpha, "
                         f"{', '.join(_POINT_DEFAULTS)}, seed (an integer that enters the model's key) and "
                         f"label (a tag)")
    for name in ("N", "T", "alpha"):
        if name not in p:
            raise ValueError(f"point {dict(point)} lacks {name!r}; N, T and alpha are required")
    p["N"] = check_int("N", p["N"], 1)
    p["T"] = check_int("T", p["T"], 1)
    p["alpha"] = check_real("alpha", p["alpha"], low=0.0, strict=True)
    if "seed" in p:
        p["seed"] = check_int("seed", p["seed"], 0)
    p["ridge"] = check_real("ridge", p["ridge"], low=0.0, strict=False)
    if 0.0 < p["ridge"] < FLOAT32_TINY:
        # the model gets its ridge in float32 (:func:`_inputs`), where this one is 0 or a
        # subnormal, which XLA on a CPU flushes to 0 (a jitted 2**-149 > 0 is False): it would
        # train ridgeless, the theory ridged
        raise ValueError(f"ridge={p['ridge']!r}; a positive ridge must be at least {FLOAT32_TINY:.4g} (2**-126, the "
                         f"smallest normal float32: the model receives it in float32, where a smaller one is 0 "
                         f"or a subnormal that XLA flushes to 0), or 0 for ridgeless")
    check_float32("ridge", p["ridge"])
    p["noise"] = check_real("noise", p["noise"], low=0.0, strict=False)
    check_float32("noise", p["noise"])
    check_choice("nonlinearity", p["nonlinearity"], NONLINEARITIES)
    check_choice("method", p["method"], METHODS)
    for name in _MEASURE_FLAGS:
        if not isinstance(p[name], (bool, np.bool_)):
            raise ValueError(f"{name}={p[name]!r}; {name} must be True or False")
        p[name] = bool(p[name])
    if p["method"] == "gd":
        p["steps"] = check_int("steps", p["steps"], 1)
        p["lr"] = check_real("lr", p["lr"], low=0.0, strict=True)
        check_float32("lr", p["lr"])
        p["batch"] = check_int("batch", p["batch"], 0) or p["T"]
        if p["batch"] > p["T"]:
            raise ValueError(f"batch={p['batch']}; batch must be at most T={p['T']} (0 means T)")
    else:
        given = {k: point[k] for k in ("steps", "batch", "lr") if k in point and point[k] != _POINT_DEFAULTS[k]}
        if given:
            raise ValueError(f"{', '.join(f'{k}={v!r}' for k, v in given.items())}: only method='gd' uses "
                             f"steps, batch and lr; this point has method={p['method']!r}")
        p["steps"], p["batch"], p["lr"] = 0, 0, 0.0
    return p


def _static(p: Mapping[str, Any]) -> Static:
    return Static(N=int(p["N"]), T=int(p["T"]), nonlinearity=p["nonlinearity"], method=p["method"],
                  steps=int(p["steps"]), batch=int(p["batch"]), infinite_data=p["infinite_data"],
                  kernel_limit=p["kernel_limit"], infinite_time=p["infinite_time"])


def teacher_scale(M: int, teacher_exponent: float) -> np.ndarray:
    """``I^-(s/2)``, I = 1..M, float64: the teacher's weights ``w_I`` are isotropic draws times it."""
    return np.arange(1, check_int("M", M, 1) + 1, dtype=np.float64) ** (-0.5 * check_real("teacher_exponent",
                                                                                           teacher_exponent))


def _inputs(config: RFConfig, p: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One model's inputs. The spectrum is formed here in float64 and rounded to float32 (formed in the
    compiled program, ``I ** -(1 + alpha)`` had rounded differently, by one unit in the last place at some
    I, in a device's share of one model and in a share of two: XLA fuses the power with different
    neighbours, so the same model differed by ~2e-7 between 1 and 4 devices at M = 32)."""
    inputs = {"spectrum": spectrum64(config.M, p["alpha"], config.scale).astype(np.float32),
              **{k: np.float32(p[k]) for k in ("ridge", "noise", "lr")}}
    if config.teacher_exponent:  # (absent at 0, so an isotropic teacher's model is what it was)
        inputs["teacher_scale"] = teacher_scale(config.M, config.teacher_exponent).astype(np.float32)
    return inputs


def train_random_features(config: RFConfig, point: Mapping[str, Any], *, key: jax.Array,
                          common_key: jax.Array | None = None) -> dict[str, np.ndarray]:
    """Trains and measures one model, exactly as a sweep does for the same point and key.

    A sweep with seed ``s`` gives the model of point ``p`` the key
    ``toyscale.sweep.model_key(s, p, RandomFeatureTask(config))`` and, with
    ``config.common_across``, the common key ``toyscale.sweep.common_key(s, p,
    RandomFeatureTask(config))``; pass them here to reproduce it on its own.

    Args:
      config: shared settings.
      point: a grid point (see :func:`check_point`).
      key: PRNG key (keyword-only); with ``config.common_across`` it is checked but not read,
        every draw coming from ``common_key``.
      common_key: the key of the draws shared across ``config.common_across`` (keyword-only):
        required with it, refused without it.

    Returns:
      numpy outputs: ``test_loss`` (exact), ``train_loss``, ``diverged``, and when asked
      ``loss_curve`` and ``sharpness`` (gd: :func:`gd_sharpness`, full-batch gradient descent
      being stable where ``lr * sharpness < 2``), ``test_loss_sampled`` (``config.test_samples > 0``),
      ``loss_infinite_data``, ``loss_kernel_limit``, (linear) ``distance_kernel_limit`` (NaN
      with a ridge, or where N <= T and N < M: see :func:`regime_exponents`) and
      ``loss_infinite_time`` when the point asks for them. ``diverged`` flags a non-finite test loss and, for
      ``method="gd"``, a run that ended above its starting training objective (theta = 0)
      or whose loss curve is not finite.
    """
    check_config(config)
    p = check_trainable(config, point)
    key = model_keys(key, common_key, config, "RandomFeatureTask(config)")
    with jax.enable_x64(True):
        inputs = {k: jnp.asarray(v) for k, v in _inputs(config, p).items()}
        out = _jit_model(config, _static(p), inputs, key)
        return {k: np.asarray(v) for k, v in out.items()}


_jit_model = jax.jit(_model, static_argnums=(0, 1))


def check_config(config: Any) -> RFConfig:
    """``config`` if it is an :class:`RFConfig`; a TypeError naming it otherwise (a dict had
    raised an AttributeError deep inside)."""
    if not isinstance(config, RFConfig):
        raise TypeError(f"config={short_repr(config)}; expected a toyscale.random_features.RFConfig")
    return config


def _check_target(alpha: float, teacher_exponent: float) -> None:
    """The target power falls as I^-(1 + alpha + s): a finite total as M grows needs alpha + s > 0."""
    if not float(alpha) + teacher_exponent > 0:
        raise ValueError(f"alpha={alpha!r} with RFConfig.teacher_exponent={teacher_exponent!r}; the target power "
                         f"falls as I^-(1 + alpha + teacher_exponent), which needs alpha + teacher_exponent > 0")


def check_isotropic(config: RFConfig, what: str) -> RFConfig:
    """``config`` if its teacher is isotropic (``teacher_exponent`` 0), as the four regimes' predicted
    exponents (alpha and 1, Maloney et al.) assume; ``what`` (the caller, for the message) otherwise
    gets a ValueError, since with s != 0 the resolution-limited exponents are no longer alpha."""
    check_config(config)
    if config.teacher_exponent:
        raise ValueError(f"rf.teacher_exponent={config.teacher_exponent!r}; {what} predicts the four regimes' "
                         f"exponents (alpha and 1) of Maloney et al., which are for an isotropic teacher: leave it "
                         f"at 0")
    return config


def check_trainable(config: RFConfig, point: Mapping[str, Any]) -> dict:
    """The checked point (:func:`check_point`) if ``config`` can train it: gradient descent logs its
    loss every ``config.log_every`` steps, so it needs at least that many, and a teacher exponent s
    needs alpha + s > 0 and, when negative, every mode's variance a normal float32 number (a flushed
    mode would carry target power ~ I^-s that grows with I). A ValueError naming the fields otherwise."""
    check_config(config)
    p = check_point(point)
    s = config.teacher_exponent
    _check_target(p["alpha"], s)
    last = config.scale * float(config.M) ** -(1.0 + p["alpha"]) if s < 0 else FLOAT32_TINY
    if last < FLOAT32_TINY:  # (alpha = 40, s = -39.5, M = 64: 55 modes flushed, 17 % of the target power)
        raise ValueError(f"alpha={p['alpha']!r} with RFConfig.teacher_exponent={s!r}; the spectrum's last mode, "
                         f"{last:.3g}, is below float32's smallest normal number ({FLOAT32_TINY:.4g}), so the model "
                         f"drops it, while a negative teacher exponent gives the last modes the most weight: lower "
                         f"alpha or M, or raise lambda_plus")
    if p["kernel_limit"] and p["nonlinearity"] == "relu" and not config.test_samples:  # (had recorded NaN, unflagged)
        raise ValueError("kernel_limit=True with nonlinearity='relu' and RFConfig.test_samples=0; the ReLU kernel "
                         "limit's loss is estimated on test samples: set test_samples > 0")
    if p["method"] == "gd" and p["steps"] < config.log_every:
        raise ValueError(f"steps={p['steps']}; method='gd' needs steps >= RFConfig.log_every={config.log_every} "
                         f"(the loss curve logs every log_every steps): raise steps or lower log_every")
    return p


# ----------------------------------------------------------------------------- sweeps


@dataclasses.dataclass(frozen=True)
class RandomFeatureTask:
    """Random-feature regression as a :class:`toyscale.sweep.Task`.

    Static axis: :class:`Static` (N, T, nonlinearity, method, steps, batch, and which limits);
    per-model inputs: the spectrum [M] (from alpha), ridge, noise, lr, and with a teacher exponent the
    teacher's scale [M].
    """

    settings: RFConfig
    name: str = "random_features"

    def config(self) -> dict:
        settings = self.settings.to_dict()
        for name in ("teacher_exponent", "common_across"):  # (left out at their defaults: a sweep's
            if not settings[name]:  # fingerprint is what it was before they existed)
                del settings[name]
        return settings

    def static_of(self, point: Mapping[str, Any]) -> Hashable:
        return _static(check_point(point))

    def inputs_of(self, point: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return _inputs(self.settings, check_point(point))

    def identity_of(self, point: Mapping[str, Any]) -> dict:
        """The point with its defaults filled in, without the flags that only add measurements
        (``infinite_data``, ``kernel_limit``: they draw from keys of their own; ``infinite_time``),
        so a point keys the same model however it is spelled or measured."""
        return {k: v for k, v in check_point(point).items() if k not in _MEASURE_FLAGS}

    def common_of(self, point: Mapping[str, Any]) -> dict | None:
        """With ``RFConfig.common_across``, the identity without those fields: the points that
        share their draws (:func:`toyscale.sweep.common_key`); None without."""
        listed = self.settings.common_across
        if not listed:
            return None
        identity = self.identity_of(point)
        if "T" in listed and identity["method"] == "gd" and identity["batch"] == identity["T"]:
            identity["batch"] = 0  # (full batch at any T: check_point had spelled it as T itself)
        return {k: v for k, v in identity.items() if k not in listed}  # (label: the engine leaves it out)

    def model_fn(self, static: Static, inputs, key):
        return _model(self.settings, static, inputs, key)

    def bytes_per_model(self, static: Static) -> int:
        M, N, T = self.settings.M, static.N, static.T
        # (2 N M had been 20 % short of XLA's own at N = 2048, T = 32, M = 512)
        floats = 2 * T * M + 3 * N * M + 4 * T * N + 3 * min(N, T) ** 2 + 4 * M
        if static.infinite_data:  # (linear: least squares on the [M, N] factor; ReLU: its N x N moments)
            floats += 3 * N * M + 3 * (N * N if static.nonlinearity == "relu" else min(N, M) ** 2)
        test_samples = self.settings.test_samples
        if static.kernel_limit and static.nonlinearity == "linear":  # a ridge solve on x [T, M]
            floats += 2 * T * M + 3 * min(T, M) ** 2
        elif static.kernel_limit and test_samples:  # ReLU: a T x T arc-cosine kernel and its test rows (none: NaN)
            floats += 3 * T * M + 3 * T * T + 2 * test_samples * T
        if static.nonlinearity == "relu":  # (the exact loss's N x N moments: XLA had held 1.1 N^2 floats more for
            floats += 2 * N * N             # them than for linear features at N = 2048, T = 32, M = 512)
        floats += 2 * test_samples * (M + N)
        if static.method == "gd":  # the loss curve: XLA held 9.05 bytes a logged step (the float64 curve and about
            # 1 byte of temporaries; 10^5-4 x 10^5 steps logged every step, N = 4, T = 8, M = 16: 0.9 MB needed at
            # 10^5 where 6 kB had been predicted), counted as two float64s
            floats += 2 * (static.steps // self.settings.log_every)
        # float64 inside a sweep (solve_dtype), plus the float32 draws of U and x they are cast from
        return 8 * floats + 4 * (T * M + N * M)

    def steps(self, static: Static) -> int:
        return max(1, static.steps)


def random_feature_grid(
    *,
    N: Sequence[int],
    T: Sequence[int],
    alpha: Sequence[float],
    ridge: Sequence[float] = (0.0,),
    noise: Sequence[float] = (0.0,),
    seeds: int | Sequence[int] = 1,
    **fixed: Any,
) -> list[dict]:
    """The product grid N x T x ridge x alpha x noise x seed as JSON-serialisable points.

    ``noise`` is the label noise's standard deviation (its variance, the sigma^2 of
    :mod:`toyscale.theory`, is ``noise**2``). ``seeds`` (a count or a list of integers)
    replicates points: each seed value gives the point another key
    (:func:`toyscale.sweep.model_key`). ``fixed`` sets the same value of any other field for
    every point (``nonlinearity``, ``method``, ``steps``, ``lr``, ``batch``, ``infinite_data``,
    ``kernel_limit``, ``infinite_time``, ``label``): one value each, not a list.

    Returns:
      A list of validated points, N-major.

    Raises:
      TypeError: on ``seed=`` (each point's seed comes from ``seeds``; it had been overwritten,
        so ``seed=3`` gave one replicate) and on a list for a fixed field.
    """
    if "seed" in fixed:
        raise TypeError(f"seed={short_repr(fixed['seed'])}; random_feature_grid takes seeds= (a count: seeds=3 is "
                        f"[0, 1, 2]; or a list of seed labels), not seed=: each point's seed comes from seeds")
    for name, value in fixed.items():
        if name == "label" or isinstance(value, (str, bytes, Mapping)) or getattr(value, "ndim", 1) == 0:
            continue  # (a 0-d array is left to check_point)
        if isinstance(value, Iterable):
            example = next(iter(value), None) if isinstance(value, (list, tuple)) else None
            hint = f", e.g. {name}={example!r}" if example is not None else ""
            raise TypeError(f"{name}={short_repr(value)}; random_feature_grid sweeps N, T, alpha, ridge, noise (lists) "
                            f"and seeds, and gives every point the same {name}: pass a single value{hint}, not a "
                            f"list (for several, add up one grid per value)")
    if isinstance(seeds, (bool, np.bool_)):
        raise TypeError(f"seeds={seeds!r}; seeds must be a count (an int) or a list of integer seed labels")
    seed_labels = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else check_axis("seeds", seeds)
    axes = {name: check_axis(name, values)
            for name, values in (("N", N), ("T", T), ("ridge", ridge), ("alpha", alpha), ("noise", noise))}
    if not seed_labels:
        raise ValueError(f"seeds={seeds!r}; a grid needs at least one seed")
    points = []
    for n, t, r, a, e, s in itertools.product(*axes.values(), seed_labels):
        points.append(check_point({"N": n, "T": t, "ridge": r, "alpha": a, "noise": e, **fixed, "seed": s}))
    return points


def sweep_random_features(
    config: RFConfig,
    points: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    out: str | None = None,
    **engine_options: Any,
) -> SweepResult:
    """Trains every point (see :func:`random_feature_grid`) with :func:`toyscale.sweep.run_sweep`.

    All validation happens here, before anything compiles; ``engine_options`` go to the
    engine (``memory_budget``, ``chunk_size``, ``devices``, ``progress``). The sweep runs
    inside a scoped ``jax.enable_x64(True)`` so that the solves can use float64 (sampling
    stays float32); the caller's global setting is untouched.
    """
    check_config(config)
    points = [check_trainable(config, p) for p in check_points(points)]
    # Scoped: the caller's global jax_enable_x64 is left as it was.
    with jax.enable_x64(True):
        return run_sweep(RandomFeatureTask(config), points, seed=seed, out=out, **engine_options)


def loss_curve(result: SweepResult | Sequence, along: str, *, measure: str = "test_loss",
               **fixed: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard error of ``measure`` over replicates, as a function of one field.

    Args:
      result: a sweep result (or list of records).
      along: the point field on the x axis (e.g. "N" or "T").
      measure: a scalar output's name, or a callable record -> float (e.g. a difference of outputs).
      fixed: point fields every record must match (e.g. ``T=2048, ridge=0.0``).

    Returns:
      ``(x, mean, sem)`` sorted by x; diverged models are left out.

    Raises:
      ValueError: on a field (``along`` or fixed) no point has, when no record matches, or when
        the matching records of one x differ in a field other than ``seed`` and ``label``
        (another T or ridge left unfixed): only replicates are averaged.
    """
    xs, vals, _, _ = _replicate_values(result, along, measure, fixed)
    mean = np.array([v.mean() for v in vals])
    sem = np.array([v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0 for v in vals])
    return xs, mean, sem


def _replicate_values(result: SweepResult | Sequence, along: str, measure: Any, fixed: Mapping[str, Any],
                      all_diverged_ok: bool = False
                      ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], dict[float, int]]:
    """:func:`loss_curve`'s replicates: ``(x, each x's values, their seeds, each x's count of
    diverged models)``, x sorted, diverged models left out; where every model diverged, a
    ValueError, or with ``all_diverged_ok`` no x."""
    chosen, fixed = _replicates(list(result), along, dict(fixed), measure=measure, where=f"value of {along}",
                                call=f"loss_curve(result, {along!r}, ")
    groups: dict[float, list[float]] = {}
    seeds: dict[float, list[Any]] = {}
    diverged: dict[float, int] = {}
    for r in chosen:
        if r.diverged:
            diverged[r.point[along]] = diverged.get(r.point[along], 0) + 1
            continue
        value = measure(r) if callable(measure) else r[measure]
        groups.setdefault(r.point[along], []).append(float(value))
        seeds.setdefault(r.point[along], []).append(r.point.get("seed", 0))
    if not groups and not all_diverged_ok:
        raise ValueError(f"all {len(chosen)} records matching {fixed} diverged; nothing to plot along {along!r}")
    xs = np.array(sorted(groups), dtype=np.float64)
    return (xs, [np.asarray(groups[x]) for x in sorted(groups)], [np.asarray(seeds[x]) for x in sorted(groups)],
            diverged)


def replicate_means(result: SweepResult | Sequence, measure: str = "test_loss") -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Averages ``measure`` over replicates: records whose points differ only in ``seed``.

    Returns:
      ``(points, mean, sem)``: one point (without ``seed``) per group, in first-seen order;
      diverged models are left out of the means, and a point whose every model diverged is
      kept with a NaN mean and sem (it had been dropped, so :func:`theory_agreement` could not
      count it among its ``sim_nonfinite`` points).
    """
    groups: dict[str, tuple[dict, list[float]]] = {}
    for r in result:
        if measure not in r.outputs and measure not in r.point:  # (a KeyError from the record had said so)
            raise ValueError(f"measure={measure!r} is not an output of these records; scalar outputs: "
                             f"{_scalar_outputs(r)}")
        p = {k: v for k, v in r.point.items() if k != "seed"}
        values = groups.setdefault(repr(sorted(p.items())), (p, []))[1]
        if not r.diverged:
            values.append(float(r[measure]))
    points = [p for p, _ in groups.values()]
    vals = [np.asarray(v) for _, v in groups.values()]
    mean = np.array([v.mean() if len(v) else np.nan for v in vals])
    sem = np.array([v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0 if len(v) else np.nan for v in vals])
    return points, mean, sem


def regime_grid(
    *,
    alpha: float,
    sizes: Sequence[int],
    rows: Sequence[int],
    columns: Sequence[int],
    ridges: Sequence[float] = (),
    ridge_column: int | None = None,
    replicates: int = 256,
    min_replicates: int = 4,
    max_replicates: int = 32,
    limit_size: int = 32,
    max_min_size: int | None = None,
) -> list[dict]:
    """The grid that shows the four regimes: loss vs T at a few N, loss vs N at a few T.

    Points: every (N, T) with N in ``rows`` and T in ``sizes``, or T in ``columns`` and N in
    ``sizes`` (ridgeless, noise-free), plus (where ``ridge_column`` is given) T = ``ridge_column``
    over N in ``sizes``, ridgeless and with each of ``ridges``: the ridge panel of
    :func:`toyscale.plots.random_feature_regimes` draws the ridgeless peak even with no
    ``ridges``. Each (N, T) is replicated ``replicates / sqrt(N T)`` times (clipped): small
    models fluctuate most and cost least (a model costs about (N + T) M). Models with N <= ``limit_size`` also
    compute their infinite-data loss, models with T <= ``limit_size`` their kernel limit
    (both cheap there), for the variance-limited fits. Shapes with both N and T above
    ``max_min_size`` are left out (they cost the most and sit at the N = T peak), the ridge
    panel's too.

    Returns:
      Validated points (one compile per distinct (N, T)).
    """
    sizes, rows, columns = (_size_list(name, axis) for name, axis in
                            (("sizes", sizes), ("rows", rows), ("columns", columns)))
    # (replicates=-5 had been clipped to min_replicates, 1e400 a traceback from round())
    check_int("replicates", replicates, 1)
    check_int("min_replicates", min_replicates, 1)
    check_int("max_replicates", max_replicates, 1)  # (below min_replicates it wins: max_replicates=1, one each)
    check_int("limit_size", limit_size, 0)
    if max_min_size is not None:
        check_int("max_min_size", max_min_size, 1)
    shapes = sorted({(n, t) for n in rows for t in sizes} | {(n, t) for t in columns for n in sizes})
    if max_min_size is not None:
        shapes = [(n, t) for n, t in shapes if min(n, t) <= max_min_size]
    # the ridges at T = ridge_column, with the ridgeless reference where the rows lack it
    if ridge_column is None:
        if ridges:
            raise ValueError(f"ridges={list(ridges)!r} need ridge_column, the T at which they run")
        ridge_shapes = []
    else:
        ridge_shapes = [(n, check_int("ridge_column", ridge_column)) for n in sizes]
        if max_min_size is not None:  # (left in, they had come back ridgeless as "missing" from the rows)
            ridge_shapes = [(n, t) for n, t in ridge_shapes if min(n, t) <= max_min_size]
        ridges = [] if np.size(ridges) == 0 else check_axis("ridges", ridges)
        for r in ridges:
            concrete_real("ridges", r, low=0.0, scalar=True)
            if r == 0:  # (had put each ridgeless point in twice: its seeds averaged as twice as many replicates)
                raise ValueError(f"ridges={list(ridges)!r} holds 0; the grid has the ridgeless points at "
                                 f"ridge_column already: give only positive ridges")
    have = set(shapes)
    points = []
    for (n, t), ridge_list in ([(s, [0.0]) for s in shapes]
                               + [(s, ([] if s in have else [0.0]) + list(ridges)) for s in ridge_shapes]):
        reps = int(np.clip(round(replicates / math.sqrt(n * t)), min_replicates, max_replicates))
        for r in ridge_list:
            for s in range(reps):
                points.append(check_point({"N": n, "T": t, "alpha": alpha, "ridge": r, "seed": s,
                                           "infinite_data": n <= limit_size, "kernel_limit": t <= limit_size}))
    return points


def _size_list(name: str, values: Any) -> list[int]:
    return [check_int(name, v, 1) for v in check_axis(name, values)]


def regime_fit_settings(*, rows: Sequence[int], columns: Sequence[int], ratio: float = 8.0,
                        limit_size: int = 32) -> dict:
    """The keyword arguments of :func:`regime_exponents` for a :func:`regime_grid`'s rows and
    columns (and its ``limit_size``), checked, so that a bad setting is refused before the
    sweep rather than after it."""
    rows, columns = _size_list("rows", rows), _size_list("columns", columns)
    limit_size = check_int("limit_size", limit_size)
    for name, axis, limit in (("rows", rows, "infinite-data"), ("columns", columns, "kernel-limit")):
        if min(axis) > limit_size:
            raise ValueError(f"{name}={axis}; the variance-limited fit at the smallest of {name} needs its "
                             f"{limit} losses, which regime_grid computes only up to limit_size={limit_size}: "
                             f"include a value <= {limit_size} or raise limit_size")
    return {"N_max": max(rows), "T_max": max(columns), "N_small": min(rows), "T_small": min(columns),
            "ratio": _check_ratio(ratio)}


def _check_ratio(ratio: Any) -> float:
    """The regimes' ratio: above 1, so that each variance-limited fit's sizes exceed the fixed one
    (the kernel-limit distance is the mean difference only where N > T)."""
    if not check_real("ratio", ratio, low=0.0, strict=True) > 1.0:
        raise ValueError(f"ratio={ratio}; ratio must be > 1: the variance-limited fits keep sizes at least ratio "
                         f"times the fixed one, and the one in N needs N > T")
    return float(ratio)


def _regime_specs(N_max: int, T_max: int, N_small: int, T_small: int, ratio: float) -> dict:
    """Per regime fit: (axis, measure, fixed fields, which x to keep, a label saying so); see
    regime_exponents."""
    ratio = _check_ratio(ratio)

    def diff(limit):
        return lambda r: r["test_loss"] - r[limit]

    def upto(bound):
        return lambda x: x <= bound

    def from_(bound):
        return lambda x: x >= bound

    rN, rT, vT, vN = T_max / ratio, N_max / ratio, ratio * N_small, ratio * T_small
    return {
        "resolution_N": ("N", "test_loss", {"T": T_max}, upto(rN),
                         f"resolution-limited in N (T = {T_max}, N ≤ {rN:g})"),
        "resolution_T": ("T", "test_loss", {"N": N_max}, upto(rT),
                         f"resolution-limited in T (N = {N_max}, T ≤ {rT:g})"),
        "variance_T": ("T", diff("loss_infinite_data"), {"N": N_small}, from_(vT),
                       f"variance-limited in T (N = {N_small}, T ≥ {vT:g})"),
        "variance_N": ("N", "distance_kernel_limit", {"T": T_small}, from_(vN),
                       f"variance-limited in N (T = {T_small}, N ≥ {vN:g})"),
    }


def regime_labels(*, N_max: int, T_max: int, N_small: int, T_small: int, ratio: float = 8.0) -> dict[str, str]:
    """Each :func:`regime_exponents` fit in words: the fixed size and the sizes it keeps,
    e.g. ``"resolution-limited in N (T = 2048, N ≤ 256)"``."""
    return {name: spec[4] for name, spec in _regime_specs(N_max, T_max, N_small, T_small, ratio).items()}


def regime_axes(*, N_max: int, T_max: int, N_small: int, T_small: int, ratio: float = 8.0) -> dict[str, str]:
    """The field each :func:`regime_exponents` fit runs along, ``"N"`` or ``"T"`` (the other
    size is held fixed), e.g. ``{"resolution_N": "N", "variance_T": "T", ...}``."""
    return {name: spec[0] for name, spec in _regime_specs(N_max, T_max, N_small, T_small, ratio).items()}


def check_regime_fits(points: Sequence[Mapping[str, Any]], *, N_max: int, T_max: int, N_small: int,
                      T_small: int, ratio: float = 8.0, min_sizes: int = 3) -> None:
    """Refuses, before the sweep, a grid on which a :func:`regime_exponents` fit would get
    fewer than ``min_sizes`` sizes (3: a power law's two parameters and their errors).

    Raises:
      ValueError: naming the regime, the sizes it would get and the settings that decide them.
    """
    specs = _regime_specs(N_max, T_max, N_small, T_small, ratio)
    ridgeless = [check_point(p) for p in points]
    ridgeless = [p for p in ridgeless if p["ridge"] == 0.0]
    for name, (along, _, fixed, keep, _) in specs.items():
        xs = sorted({p[along] for p in ridgeless if all(p[k] == v for k, v in fixed.items()) and keep(p[along])})
        if len(xs) < min_sizes:
            (other, value), = fixed.items()
            raise ValueError(f"ratio={ratio:g}: the {name} fit (along {along} at {other} = {value}) would get "
                             f"{len(xs)} size(s) {xs}; it needs at least {min_sizes}: lower ratio or widen sizes")


def regime_exponents(result: SweepResult | Sequence, *, N_max: int, T_max: int, N_small: int, T_small: int,
                     ratio: float = 8.0, seed_bootstrap: int = 0, common_across: Sequence[str] = (),
                     widen: str = "sqrt") -> dict[str, tuple[np.ndarray, np.ndarray, Any]]:
    """Fits the four scaling regimes of Bahri et al. (2021) with ``fit_power_law``.

    * ``resolution_N``: L(N) at T = ``T_max``, N <= T_max / ratio (prediction alpha);
    * ``resolution_T``: L(T) at N = ``N_max``, T <= N_max / ratio (prediction alpha);
    * ``variance_T``: L(N, T) - L(N, inf) at N = ``N_small``, T >= ratio N (prediction 1);
    * ``variance_N``: E[L(N, T) - L(inf, T)] at T = ``T_small``, N >= ratio T (prediction 1).

    The variance-limited fits use each model's own limit (infinite data with the same
    features, or the kernel limit on the same data, both exact) and fit a pure power law:
    no L_inf is estimated (an offset fit trades the offset against the exponent) and most
    seed-to-seed noise cancels. For T the difference is ``|theta - theta_inf|^2_C`` exactly
    (the population optimum is orthogonal to its residual). For N the difference's
    conditional mean equals the distance ``|f_N - f_kernel|^2`` (output
    ``distance_kernel_limit``, ridgeless linear features with N > T; see ``_model``), which is
    what is averaged: the raw difference carries a zero-mean cross term of order N^-1/2 that
    swamps its O(1/N) mean. Only ridgeless points enter.

    The fits' standard errors see the seed-to-seed noise only through the scatter of the means
    about the line. ``seed_bootstrap=R`` measures it directly, as
    :func:`toyscale.scaling.width_exponent`'s does: each fit's replicates are redrawn R times
    and refitted, and the percentile intervals go in ``fit.intervals`` (the exponent's is
    printed by :func:`toyscale.scaling.redrawn_seeds_text`). A fit along a size that
    ``common_across`` lists (the sweep's ``RFConfig.common_across``: its models share their
    draws across that size, so a seed is the independent unit) redraws one set of seeds for
    every size, the seeds every size has; the others redraw each size's seeds on their own. A
    fit with a size left with one model (its others diverged) gets nan intervals and a note
    saying so. ``widen`` is width_exponent's: "t" widens those intervals by Student's t on
    their Welch-Satterthwaite degrees of freedom too, closer to their level with few seeds.

    Returns:
      ``{name: (x, mean y, fit)}``, x the sizes with a finished model; ``fit`` is None where
      fewer than two sizes have one (the others' models diverged), or where a mean is not
      finite and > 0. No power law passes through such a point, and a noise-free, ridgeless
      student that is exact (min(N, T) >= M, :func:`regime_zero_theory_sizes`) has a loss,
      and a difference, of rounding: ~1e-17, whose sign the compiled code decides (one of
      them, -4e-17, had stopped the random-features script with fit_power_law's ValueError
      after its sweep).
    """
    specs = _regime_specs(N_max, T_max, N_small, T_small, ratio)
    seed_bootstrap = check_int("seed_bootstrap", seed_bootstrap, 0)
    common_across = _check_common(common_across)
    _check_bootstrap_widen(widen, seed_bootstrap)
    fits = {}
    for name, (along, measure, fixed, keep, _) in specs.items():
        x, values, seeds, diverged = _replicate_values(result, along, measure, dict(fixed, ridge=0.0),
                                                       all_diverged_ok=True)
        sel = keep(x)
        x, values, seeds = x[sel], [v for v, k in zip(values, sel) if k], [v for v, k in zip(seeds, sel) if k]
        y = np.array([v.mean() for v in values])
        if x.size < 2 or not np.all(np.isfinite(y) & (y > 0)):
            fits[name] = (x, y, None)
            continue
        # (the same closed-form fit as fit_power_law(x, y); the curve carries the replicates to redraw)
        curve = WidthCurve.from_values(x, values, seeds=seeds,
                                       n_diverged=sum(n for at, n in diverged.items() if keep(at)))
        # (a size left with one model: nan intervals and width_exponent's note, naming it "N = 32")
        redraw = ({"seed_bootstrap": seed_bootstrap, "paired": along in common_across, "widen": widen}
                  if seed_bootstrap else {})
        fits[name] = (x, y, width_exponent(curve, axis=along, **redraw))
    return fits


def regime_zero_theory_sizes(config: RFConfig, alpha: float, fits: Mapping[str, Any], *, N_max: int, T_max: int,
                             N_small: int, T_small: int, ratio: float = 8.0) -> dict[str, list[int]]:
    """The sizes of each :func:`regime_exponents` fit at which the theory's loss is exactly 0.

    That is where the student is exact: noise-free and ridgeless with min(N, T) >= M (the
    features and the samples span every mode). There the simulated loss, and a variance-limited
    difference, is rounding, so an exponent fitted through such a size means nothing. Each fit's
    sizes are taken along its axis with the other size held where the fit holds it (see
    :func:`regime_labels`), as the ridgeless, noise-free points of a :func:`regime_grid`.

    Args:
      config: the sweep's config (its M decides).
      alpha: the grid's spectrum exponent.
      fits: :func:`regime_exponents`' result, ``{name: (x, y, fit)}``, for every regime.
      N_max, T_max, N_small, T_small, ratio: the fit settings (:func:`regime_fit_settings`).

    Returns:
      ``{name: sizes}``: for every regime, the sizes (ints, ascending as in ``fits``) with a
      theory of 0; an empty list where there are none.

    Raises:
      TypeError: if ``config`` is not an RFConfig or ``fits`` not a dict.
      ValueError: if ``fits`` lacks a regime or a fit's sizes are not integers >= 1.
    """
    from toyscale.theory import expected_test_loss

    check_config(config)
    if not isinstance(fits, Mapping):
        raise TypeError(f"fits={short_repr(fits)}; expected regime_exponents' dict {{name: (x, y, fit)}}")
    specs = _regime_specs(N_max, T_max, N_small, T_small, ratio)
    missing = [name for name in specs if name not in fits]
    if missing:
        raise ValueError(f"fits has {sorted(fits)}; it lacks {missing}: pass regime_exponents' fits of every "
                         f"regime ({', '.join(specs)})")
    out = {}
    for name, (along, _, fixed, _, _) in specs.items():
        xs = np.asarray(fits[name][0], dtype=np.float64)
        if xs.ndim != 1 or not np.all((xs >= 1) & (xs == np.floor(xs))):
            raise ValueError(f"fits[{name!r}] has sizes {short_repr(xs.tolist())}; a fit's sizes (its x) must be a "
                             f"list of integers >= 1")
        xs = [int(x) for x in xs]
        loss = expected_test_loss(config, [{**fixed, along: x, "alpha": alpha} for x in xs])
        out[name] = [x for x, value in zip(xs, loss) if value == 0]
    return out


def relative_error(simulated: ArrayLike, predicted: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``|simulated / predicted - 1|`` at the points whose prediction is finite and > 0.

    The theory's loss is exactly 0 where a noise-free, ridgeless student is exact (min(N, T)
    >= M: the features and the samples span every mode) and infinite at the ridgeless N = T
    peak; neither has a relative error (x / 0 had printed ``inf%`` with a RuntimeWarning), and nor
    has a simulated mean that is NaN or infinite. :func:`theory_agreement` counts each kind of
    point left out, and summarises the rest.

    Args:
      simulated, predicted: one value per point (e.g. :func:`replicate_means`' means and
        :func:`toyscale.theory.expected_test_loss` of its points), the same shape.

    Returns:
      ``(rel, compared)``: float64 arrays of that shape; ``rel`` is NaN where ``compared`` is False.
    """
    sim = np.asarray(simulated, dtype=np.float64)
    pred = np.asarray(predicted, dtype=np.float64)
    if sim.shape != pred.shape:
        raise ValueError(f"simulated has shape {sim.shape} and predicted {pred.shape}; they need one value per point "
                         f"each, the same shape")
    compared = np.isfinite(pred) & (pred > 0) & np.isfinite(sim)
    rel = np.full(sim.shape, np.nan)
    rel[compared] = np.abs(sim[compared] / pred[compared] - 1)
    return rel, compared


def _median_max(reduce, rel: np.ndarray, where: np.ndarray) -> float | None:
    return float(reduce(rel[where])) if where.any() else None


def _rel_stat(reduce, mask: str, doc: str) -> property:
    """A :class:`TheoryAgreement` property: ``reduce`` of ``rel`` over the points of its mask
    named ``mask`` (None where there is none)."""
    return property(lambda self: _median_max(reduce, self.rel, getattr(self, mask)),
                    doc=f"{doc} (None if there is none).")


def _size_text(x: Any) -> str:
    """A size as printed: ``16`` for 16 or 16.0, ``inf`` for a limit."""
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


@dataclasses.dataclass(frozen=True, eq=False)
class TheoryAgreement:
    """How a simulation's replicate means agree with the theory's losses (:func:`theory_agreement`).

    Every point falls in exactly one of ``compared``, ``zero``, ``infinite`` and
    ``sim_nonfinite`` (checked in that order: the theory's 0, then an infinite expected loss,
    then the simulation); ``infinite`` holds the points where the theory's loss is infinite and
    the ``finite_size_peak`` ones beside them. The compared ones are ``far`` from the N = T peak
    or ``near`` it. Masks are read-only boolean arrays with one entry per point.
    """

    rel: np.ndarray
    """``|simulated / theory - 1|`` per point, NaN where the point is not compared."""
    off_peak: float
    """A point is far from the peak where ``max(N, T) >= off_peak * min(N, T)``."""
    far_from_peak: np.ndarray
    """Points with ``max(N, T) >= off_peak * min(N, T)``, compared or not."""
    compared: np.ndarray
    """Points with a relative error: a finite theory > 0 and a finite simulated mean."""
    zero: np.ndarray
    """Left out: the theory's loss is 0 (noise-free and ridgeless with min(N, T) >= M)."""
    infinite: np.ndarray
    """Left out: the expected loss is infinite. Either the theory's is (the ridgeless N = T peak),
    or the point is in ``finite_size_peak``."""
    finite_size_peak: np.ndarray
    """Of ``infinite``: ridgeless points with ``|N - T| <= 1`` where the theory's loss is finite
    (it is asymptotic) but the finite-size expected loss is infinite (Gaussian features: see
    :func:`toyscale.theory.rf_risk`), so the simulated mean does not converge to the theory."""
    sim_nonfinite: np.ndarray
    """Left out: the theory is finite and > 0 but the simulated mean is NaN or infinite."""
    worst: int | None
    """Index of the largest relative error among the ``far`` points (None if there is none)."""
    worst_point: dict | None
    """That point."""
    worst_sem: float | None
    """The simulated mean's standard error there, relative to the theory (None without ``sem``)."""
    zero_sim_max: float | None
    """The largest finite simulated mean where the theory is 0 (None if there is none)."""
    infinite_sim_min: float | None
    """The smallest finite simulated mean where the theory is infinite (None if there is none)."""
    finite_size_peak_sim_min: float | None
    """The smallest finite simulated mean at the ``finite_size_peak`` points (None if there is none)."""

    @property
    def far(self) -> np.ndarray:
        """Compared points far from the peak."""
        return self.compared & self.far_from_peak

    @property
    def near(self) -> np.ndarray:
        """Compared points nearer the peak (``max(N, T) < off_peak * min(N, T)``)."""
        return self.compared & ~self.far_from_peak

    @property
    def theory_infinite(self) -> np.ndarray:
        """Of ``infinite``: the points where the theory's own loss is infinite (the ridgeless
        N = T peak), not the ``finite_size_peak`` ones."""
        return self.infinite & ~self.finite_size_peak

    def left_out(self) -> dict[str, int]:
        """How many points were left out, by reason: ``{"zero", "infinite"`` (the theory's own,
        :attr:`theory_infinite`), ``"finite_size_peak", "sim_nonfinite"}``, as the scripts'
        summaries record them (``theory_points_<reason>``)."""
        return {"zero": int(self.zero.sum()), "infinite": int(self.theory_infinite.sum()),
                "finite_size_peak": int(self.finite_size_peak.sum()),
                "sim_nonfinite": int(self.sim_nonfinite.sum())}

    def summary(self) -> dict[str, Any]:
        """The scripts' summary keys, one meaning everywhere: ``theory_rel_error_median`` /
        ``_max`` and ``theory_points`` over the ``far`` points (the printed line's), the same
        with ``_all`` over every compared point, and ``theory_points_<reason>`` (:meth:`left_out`)."""
        return {"theory_rel_error_median": self.median_far, "theory_rel_error_max": self.max_far,
                "theory_points": int(self.far.sum()),
                "theory_rel_error_median_all": self.median, "theory_rel_error_max_all": self.max,
                "theory_points_all": int(self.compared.sum()),
                **{f"theory_points_{reason}": n for reason, n in self.left_out().items()}}

    median = _rel_stat(np.median, "compared", "Median relative error over every compared point")
    max = _rel_stat(np.max, "compared", "Largest relative error over every compared point")
    median_far = _rel_stat(np.median, "far", "Median relative error over the ``far`` points")
    max_far = _rel_stat(np.max, "far", "Largest relative error over the ``far`` points")
    median_near = _rel_stat(np.median, "near", "Median relative error over the ``near`` points")
    max_near = _rel_stat(np.max, "near", "Largest relative error over the ``near`` points")

    def describe(self, M: int, *, name_worst: bool = True) -> str:
        """One line: the median relative error far from the peak and near it, and how many points
        were left out and why.

        Args:
          M: the config's latent dimension (named where the theory's loss is 0).
          name_worst: name the worst far point (its N, T, ridge and standard error) after the
            largest error, ``(max 20.0% at N = 8, T = 16, ridge 0.1, ...)``; else ``(max 20%)``.

        Returns:
          The line, starting ``"median |sim/theory - 1| = "``.
        """
        M = check_int("M", M)
        bound = f"max(N, T) >= {self.off_peak:g} min(N, T)"
        far = int(self.far.sum())
        line = "median |sim/theory - 1| = "
        if not far:
            line += f"(no point with {bound} to compare)"
        elif name_worst:
            p = self.worst_point
            at = f"N = {_size_text(p['N'])}, T = {_size_text(p['T'])}"
            if "ridge" in p:
                at += f", ridge {float(p['ridge']):.3g}"
            if self.worst_sem is not None:
                at += f", where the simulated mean's standard error is {100 * self.worst_sem:.1f}% of the theory"
            line += f"{100 * self.median_far:.1f}% (max {100 * self.max_far:.1f}% at {at})"
        else:
            line += f"{100 * self.median_far:.1f}% (max {100 * self.max_far:.0f}%)"
        if far:
            line += f" over the {far} points with {bound}"
        near = int(self.near.sum())
        if near:
            line += (f"; {100 * self.median_near:.1f}% (max {100 * self.max_near:.1f}%) over the {near} nearer the "
                     f"N = T peak")
        if self.zero.any():
            line += (f"; {int(self.zero.sum())} point(s) left out where the theory's loss is 0 (noise-free and "
                     f"ridgeless with min(N, T) >= M = {M}: the student is exact)")
            if self.zero_sim_max is not None:
                line += f", the simulated loss there at most {self.zero_sim_max:.2g}"
        if self.theory_infinite.any():
            line += (f"; {int(self.theory_infinite.sum())} point(s) left out where the theory's loss is infinite (the "
                     f"ridgeless N = T peak)")
            if self.infinite_sim_min is not None:
                line += f", the simulated loss there at least {self.infinite_sim_min:.3g}"
        if self.finite_size_peak.any():
            line += (f"; {int(self.finite_size_peak.sum())} point(s) left out beside the peak, ridgeless with "
                     f"|N - T| <= 1, where the theory's loss is finite (it is asymptotic) but the finite-size "
                     f"expected loss is infinite (Gaussian features)")
            if self.finite_size_peak_sim_min is not None:
                line += f", the simulated loss there at least {self.finite_size_peak_sim_min:.3g}"
        if self.sim_nonfinite.any():
            line += f"; {int(self.sim_nonfinite.sum())} point(s) left out where the simulated mean is NaN or infinite"
        return line


def theory_agreement(points: Sequence[Mapping[str, Any]], mean: ArrayLike, sem: ArrayLike | None,
                     theory: ArrayLike, *, off_peak: float = 2.0) -> TheoryAgreement:
    """Compares a simulation's replicate means with the theory, point by point.

    The relative error ``|mean / theory - 1|`` (:func:`relative_error`) is summarised apart far
    from the N = T peak (``max(N, T) >= off_peak * min(N, T)``), where the deterministic
    equivalent is accurate at these sizes, and nearer it, where finite-size fluctuations are
    largest. Points without a relative error are counted by reason, not dropped silently: the
    theory's loss is 0 (noise-free, ridgeless, min(N, T) >= M: the student is exact), or the
    expected loss is infinite, or the simulated mean is NaN or infinite.

    The expected loss is infinite where the theory's is (the ridgeless N = T peak), and also at
    ridgeless points with ``|N - T| <= 1``, where the theory's deterministic equivalent is
    asymptotic and finite but the finite-size expectation is infinite for Gaussian features
    (:func:`toyscale.theory.rf_risk`): a simulated mean there never settles (M = 256, alpha = 1,
    N = 33, T = 32: theory 2.207, the mean of 4000 draws 171, of their halves 9.8 and 332). Those
    are counted with the infinite ones (``infinite``, and apart in ``finite_size_peak``). The
    rule reads the sizes alone and holds below full rank (min(N, T) < M). With more features
    than M and label noise the finite-size peak sits at T = M +- 1 instead, which it does not
    catch, and a ridgeless point there with |N - T| <= 1 and T >= M + 2 is left out though its
    expected loss is finite.

    Args:
      points: one grid point per entry, each with ``N`` and ``T``, and ``ridge`` (a point without
        one is ridgeless; also named for the worst point), e.g. :func:`replicate_means`' points.
      mean: the simulated mean at each point.
      sem: its standard error (or None); only the worst far point's is reported.
      theory: the theory's loss at each point (:func:`toyscale.theory.expected_test_loss`),
        each >= 0 or inf.
      off_peak: the factor between max(N, T) and min(N, T) from which a point counts as far
        from the peak, a real >= 1.

    Returns:
      A :class:`TheoryAgreement`; its :meth:`~TheoryAgreement.describe` is the line to print.

    Raises:
      TypeError: if ``points`` is not a list of dicts, or ``off_peak`` or a point's N, T or ridge
        is not a real number.
      ValueError: if the lengths differ, a point lacks N or T or has one <= 0 or a ridge that is
        negative or not finite, ``off_peak`` is below 1, or a theory value is NaN or negative.
    """
    if isinstance(points, Mapping) or not isinstance(points, Sequence) or not all(
            isinstance(p, Mapping) for p in points):
        raise TypeError(f"points={short_repr(points)}; points must be a list of grid points (dicts with N and T)")
    off_peak = check_real("off_peak", off_peak, low=1.0)
    n = len(points)
    arrays = {"mean": mean, "theory": theory} if sem is None else {"mean": mean, "sem": sem, "theory": theory}
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    for name, a in arrays.items():
        if a.shape != (n,):
            raise ValueError(f"{name} has shape {a.shape}; expected one value per point, ({n},)")
    sizes = np.empty((n, 2))
    ridgeless_peak = np.zeros(n, dtype=bool)  # ridgeless with |N - T| <= 1 (two limits, both inf, are not)
    for i, p in enumerate(points):
        for j, key in enumerate(("N", "T")):
            if key not in p:
                raise ValueError(f"points[{i}]={short_repr(dict(p))} has no {key!r}; every point needs N and T")
            sizes[i, j] = check_real(f"points[{i}][{key!r}]", p[key], low=0.0, strict=True, allow_inf=True)
        ridge = check_real(f"points[{i}]['ridge']", p.get("ridge", 0.0), low=0.0)
        ridgeless_peak[i] = ridge == 0 and np.isfinite(sizes[i]).all() and abs(sizes[i, 0] - sizes[i, 1]) <= 1
    mean, pred = arrays["mean"], arrays["theory"]
    bad = np.isnan(pred) | (pred < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"theory[{i}]={float(pred[i])!r} (at {short_repr(dict(points[i]))}); the theory's loss "
                         f"must be >= 0 or inf")
    rel, compared = relative_error(mean, pred)
    zero = pred == 0
    finite_size_peak = ridgeless_peak & ~zero & np.isfinite(pred)
    infinite = np.isinf(pred) | finite_size_peak
    compared &= ~infinite
    rel[~compared] = np.nan
    sim_nonfinite = ~zero & ~infinite & ~np.isfinite(mean)
    far_from_peak = sizes.max(axis=1) >= off_peak * sizes.min(axis=1)
    far = compared & far_from_peak
    worst = int(np.argmax(np.where(far, rel, -1.0))) if far.any() else None
    worst_sem = None
    if worst is not None and sem is not None and np.isfinite(arrays["sem"][worst]):
        worst_sem = float(arrays["sem"][worst] / pred[worst])
    finite = np.isfinite(mean)
    for a in (rel, far_from_peak, compared, zero, infinite, finite_size_peak, sim_nonfinite):
        a.setflags(write=False)
    return TheoryAgreement(
        rel=rel, off_peak=off_peak, far_from_peak=far_from_peak, compared=compared, zero=zero, infinite=infinite,
        finite_size_peak=finite_size_peak, sim_nonfinite=sim_nonfinite, worst=worst,
        worst_point=None if worst is None else dict(points[worst]), worst_sem=worst_sem,
        zero_sim_max=_median_max(np.max, mean, zero & finite),
        infinite_sim_min=_median_max(np.min, mean, infinite & ~finite_size_peak & finite),
        finite_size_peak_sim_min=_median_max(np.min, mean, finite_size_peak & finite))


# ----------------------------------------------------------------------------- ridge sweeps


def ridge_sweep_grid(*, alpha: float, sizes: Sequence[int], fixed: int, ridges: Sequence[float],
                     noise: float = 0.0, trials: int = 1) -> list[dict]:
    """Simon et al.'s (2023) "more is better" grid: N over ``sizes`` at T = ``fixed``, and T
    over ``sizes`` at N = ``fixed``, each at every ridge of ``ridges``, ``trials`` seeds each.

    The shape N = T = ``fixed`` (where the ridgeless loss peaks) belongs to both directions
    and is trained once. With :func:`replicate_means` and :func:`ridge_tuned`, it gives the
    loss at the best ridge of the grid as N or T grows, which their theory says never rises.
    ``noise`` is the label noise's standard deviation: their "noise 0.5" (``NOISE_VAR``, a
    variance) is ``noise=0.5**0.5``.

    Returns:
      Validated points, one compile per distinct (N, T).
    """
    sizes = _size_list("sizes", sizes)
    fixed = check_int("fixed", fixed)
    ridges = [check_real("ridges", r, low=0.0, strict=False) for r in check_axis("ridges", ridges)]
    trials = check_int("trials", trials)
    shapes = sorted({(n, fixed) for n in sizes} | {(fixed, t) for t in sizes})
    return [check_point({"N": n, "T": t, "alpha": alpha, "ridge": r, "noise": noise, "seed": s})
            for n, t in shapes for r in ridges for s in range(trials)]


class RidgeTuned(NamedTuple):
    """The best ridge of a grid at each size (:func:`ridge_tuned`)."""

    x: np.ndarray
    """The sizes (values of the field ``along``), ascending."""
    loss: np.ndarray
    """The lowest loss over the ridges at each size."""
    ridge: np.ndarray
    """The ridge that gave it."""
    index: np.ndarray
    """Its position in the ``points`` given (to pick the same entry of another array, e.g. a
    standard error)."""


def ridge_tuned(points: Sequence[Mapping[str, Any]], loss: ArrayLike, along: str) -> RidgeTuned:
    """At each value of ``along`` (``"N"`` or ``"T"``), the ridge with the lowest ``loss``.

    Args:
      points: grid points, one per entry of ``loss``, differing only in ``along`` and
        ``ridge`` (e.g. :func:`replicate_means`'s points, selected at one fixed T or N).
      loss: one loss per point: a simulation's replicate means, or
        :func:`toyscale.theory.expected_test_loss` of the same points. NaN entries are skipped.
      along: the point field that varies.

    Raises:
      ValueError: on a length mismatch, a field ``along`` the points lack, points that
        differ in a third field (only ridges are compared at one size), or a size whose
        every loss is NaN.
    """
    points = [dict(p) for p in points]
    loss = np.asarray(loss, dtype=np.float64)
    if loss.shape != (len(points),):
        raise ValueError(f"loss has shape {loss.shape}; expected one loss per point ({len(points)},)")
    if not points:
        raise ValueError("points=[]; ridge_tuned needs at least one point")
    if any(along not in p for p in points):
        raise ValueError(f"along={along!r}; not a field of every point (fields: {sorted(points[0])})")
    rest = {repr(sorted((k, v) for k, v in p.items() if k not in (along, "ridge", "seed", "label"))) for p in points}
    if len(rest) > 1:
        raise ValueError(f"the points differ in more than {along!r} and 'ridge' (e.g. {sorted(rest)[:2]}); select "
                         f"one value of every other field first")
    xs = sorted({p[along] for p in points})
    best = []
    for x in xs:
        at = [i for i, p in enumerate(points) if p[along] == x and np.isfinite(loss[i])]
        if not at:
            raise ValueError(f"{along}={x}: every loss is NaN or infinite; no ridge to choose")
        best.append(min(at, key=lambda i: loss[i]))
    best = np.asarray(best, dtype=np.int64)
    return RidgeTuned(x=np.asarray(xs, dtype=np.float64), loss=loss[best],
                      ridge=np.asarray([points[i]["ridge"] for i in best], dtype=np.float64), index=best)
