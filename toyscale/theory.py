"""Theory for random-feature ridge regression (deterministic equivalent, kernel limit, ridgeless
forms), and the weak-superposition loss of the toy model (:func:`weak_superposition_loss`).

Everything is a function of a kernel spectrum ``lambda_i`` (eigenvalues of the N -> inf
random-feature kernel), the target's power ``v_i^2`` in that eigenbasis, the label-noise
variance ``sigma^2``, the number of samples ``n`` (= T), of features ``k`` (= N) and the
ridge ``delta`` (sum convention: ``theta = (Phi^T Phi + delta)^-1 Phi^T y``, kernel
``Phi Phi^T``). ``n`` or ``k`` may be ``inf``: the kernel limit (k = inf) and the
infinite-data limit (n = inf) are the same formulas.

References:
  * Simon, Karkada, Ghosh & Belkin (2023), "More is Better in Modern Machine Learning",
    arXiv 2311.14646: the random-feature eigenframework (:func:`effective_ridges`,
    :func:`rf_risk`) and its k -> inf limit, kernel "eigenlearning" (:func:`krr_risk`).
  * Bahri et al. (2021) and Maloney, Roberts & Sully (2022): the ridgeless form
    ``L = B(min(n, k)) / (1 - min/max)`` (:func:`ridgeless_rf_risk`), which we found to be
    *exact* in the deterministic equivalent for an isotropic teacher (``v_i^2 ∝ lambda_i``)
    without label noise, with ``B`` the :func:`approximation_error`; see its docstring.

A spectrum is used as given: every positive value is a learnable mode. The eigenvalues of an
empirical Gram matrix go through :func:`rank_truncate` first.

The pure functions work under ``jit`` and ``vmap`` and compute in the precision they are given
(they check concrete spectra and arguments, traced ones only for their shapes); float32 holds
to about 0.4 % near full rank too (:func:`rf_risk`'s docstring gives the numbers, against
mpmath). They are not differentiable: the effective ridges come from a bisection that
``jax.grad`` would follow step by step, not implicitly (d rf_risk / d ridge had come out
80-2500x too small), so a derivative through them is NaN; take finite differences. (One in
the noise variance alone, which the ridges do not depend on, is exact.)
:func:`expected_test_loss` solves in float64: it
takes the simulation's own :class:`~toyscale.random_features.RFConfig` and grid points and
solves in float64 inside a scoped ``jax.enable_x64`` context, so the caller's global setting
is never touched.

These are deterministic equivalents, exact as the sizes grow, not finite-size expectations.
Ridgeless, the finite-size expected loss is infinite at ``|n - k| <= 1`` (Gaussian features,
below full rank), where the equivalent is infinite only at n = k; see :func:`rf_risk`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from toyscale._checks import check_real, concrete_real, short_repr
from toyscale.data import V_SECOND_MOMENT
from toyscale.random_features import RFConfig, _check_target, check_config, check_point, spectrum64, teacher_scale

__all__ = [
    "kernel_eigenvalues",
    "target_power",
    "degrees_of_freedom",
    "effective_ridges",
    "rf_risk",
    "krr_risk",
    "approximation_error",
    "ridgeless_rf_risk",
    "rank_truncate",
    "expected_test_loss",
    "weak_superposition_loss",
    "plrf_exponents",
    "plrf_floor",
]

_BISECTION_STEPS = 200


def kernel_eigenvalues(config: RFConfig, alpha: float) -> np.ndarray:
    """Eigenvalues of the N -> inf kernel of linear random features, float64 [M].

    For ``phi(x) = U x / sqrt(N)`` with ``U ~ Normal(0, sigma_u^2 / M)`` the kernel
    ``phi(x).phi(x')`` tends to ``(sigma_u^2 / M) x.x'``, whose eigenfunctions are the
    whitened coordinates ``x_I / sqrt(lambda_I)`` with eigenvalues ``sigma_u^2 lambda_I / M``.
    """
    return _scaled_spectrum(config, alpha, "sigma_u")


def target_power(config: RFConfig, alpha: float) -> np.ndarray:
    """Teacher power per eigenmode averaged over the teacher, ``E[v_I^2] = sigma_w^2 lambda_I I^-s / M``
    with s the config's ``teacher_exponent`` (0, isotropic, by default)."""
    power = _scaled_spectrum(config, alpha, "sigma_w")
    if not config.teacher_exponent:
        return power
    _check_target(alpha, config.teacher_exponent)
    return power * teacher_scale(config.M, config.teacher_exponent) ** 2


def _scaled_spectrum(config: RFConfig, alpha: float, sigma: str) -> np.ndarray:
    """``sigma^2 lambda_I / M`` for the data spectrum ``lambda_I = scale * I^-(1 + alpha)``,
    with sigma the config's field named ``sigma``."""
    check_config(config)  # (a dict had raised an AttributeError)
    sigma = getattr(config, sigma)
    concrete_real("alpha", alpha, low=0.0, strict=True)
    return sigma**2 / config.M * spectrum64(config.M, alpha, config.scale)


@jax.custom_jvp
def _not_differentiable(root: jax.Array) -> jax.Array:
    """``root`` as it is; its derivative NaN (see :func:`_bisect_log`)."""
    return root


@_not_differentiable.defjvp
def _not_differentiable_jvp(primals, tangents):
    # NaN, not an error: a derivative taken and discarded (through jax.lax.stop_gradient) must still trace
    (root,), (tangent,) = primals, tangents
    return root, tangent * jnp.nan  # (linear in the tangent, so that reverse mode carries it too)


def _bisect_log(excess, lo: jax.Array, hi: jax.Array) -> jax.Array:
    """Upper end of a bisection for the root of an increasing ``excess`` over log-scale bounds.

    A fixed number of steps (``_BISECTION_STEPS``), so it runs under jit and vmap. Not
    differentiable: a derivative taken through it is NaN (it had followed the steps and come
    out wrong, silently), while one in a quantity the root does not depend on (the noise
    variance) is exact.
    """

    def bisect(_, bounds):
        a, b = bounds
        mid = 0.5 * (a + b)
        below = excess(mid) < 0
        return jnp.where(below, mid, a), jnp.where(below, b, mid)

    return _not_differentiable(jax.lax.fori_loop(0, _BISECTION_STEPS, bisect, (lo, hi))[1])


def degrees_of_freedom(eigenvalues: jax.Array, gamma: ArrayLike) -> jax.Array:
    """``df(gamma) = sum_i lambda_i / (lambda_i + gamma)``, the effective number of modes learned.

    ``eigenvalues`` as in :func:`rf_risk` (checked when concrete); ``gamma`` > 0.
    """
    concrete_real("gamma", gamma, low=0.0, strict=True, scalar=True)  # (an array had paired with the modes)
    return _df(_modes(eigenvalues), gamma)


def _df(lam: jax.Array, gamma: ArrayLike) -> jax.Array:
    return jnp.sum(lam / (lam + gamma))


def effective_ridges(eigenvalues: jax.Array, n: ArrayLike, k: ArrayLike, ridge: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """The two effective ridges ``(kappa, gamma)`` of random-feature ridge regression.

    Simon et al. (2023), random-feature eigenframework: (kappa, gamma) solve
    ``n = df(gamma) + delta / kappa`` and ``k = df(gamma) + k kappa / gamma``. Eliminating
    kappa = gamma (1 - df/k) gives one equation,
    ``gamma (1 - df(gamma)/n) (1 - df(gamma)/k) = delta / n``, whose left side increases
    with gamma on the branch ``df(gamma) < min(n, k)``; it is solved by bisection in log
    gamma (a fixed number of steps, so it runs under jit and vmap). At ``delta = 0`` the
    root is ``df(gamma) = min(n, k)`` (the ridgeless limit, no special case needed).

    Args:
      eigenvalues: kernel eigenvalues [P], >= 0, used as given (see :func:`rf_risk` on zero modes).
      n: samples (may be inf).
      k: features (may be inf: the kernel limit, where kappa = gamma).
      ridge: delta >= 0.

    Returns:
      ``(kappa, gamma)``. When ``ridge = 0`` and ``min(n, k) >=`` the number of positive
      eigenvalues there is no root: gamma stops at its floor, ``e^-60`` times the smallest
      positive eigenvalue but at least the dtype's smallest normal number (the limit gamma -> 0).
      Both are NaN where there is a root but it lies below that normal number (df at the floor
      short of min(n, k) by over 1e-4): a steep spectrum in float32 (alpha = 9, M = 4096,
      n = 4095 ridgeless had given a risk of 97.5 for float64's 1025); pass float64.
    """
    _check_risk_args(n=n, k=k, ridge=ridge)
    lam = _modes(eigenvalues)
    _check_in_dtype(lam.dtype, ridge=ridge)
    _check_ridge_per_sample(lam.dtype, ridge, n)
    n = _size(n, lam.dtype)
    k = _size(k, lam.dtype)
    ridge = jnp.asarray(ridge, lam.dtype)
    smallest = jnp.minimum(n, k)

    def excess(log_g):
        g = jnp.exp(log_g)
        z = _df(lam, g)
        value = g * (1 - z / n) * (1 - z / k) - ridge / n
        return jnp.where(z < smallest, value, -1.0)  # below the branch: the root is higher

    lo = _log_gamma_floor(lam)
    # df(gamma) ~ sum(lam) / gamma must fall below min(n, k): that bound is above 1 / min(n, k)
    # times the sum once n or k is below 1 (a bare sum had missed the root there)
    hi = jnp.log(jnp.sum(lam) / jnp.minimum(smallest, 1.0) + ridge / n) + 5.0

    gamma = _root_or_nan(lam, lo, _bisect_log(excess, lo, hi), smallest)
    z = _df(lam, gamma)
    kappa = jnp.where(jnp.isinf(k), gamma, gamma * (1 - z / k))
    return kappa, gamma


def _root_or_nan(lam: jax.Array, lo: jax.Array, top: jax.Array, target: jax.Array) -> jax.Array:
    """``exp(top)``, a bisection's root for ``df = target`` (ridgeless; below it with a ridge),
    or NaN where the bisection stopped at its floor ``lo`` with modes still unlearned while a
    root exists: the root lies below the dtype's smallest normal number (a steep spectrum in
    float32), where the floor had given a risk 10x off."""
    gamma = jnp.exp(top)
    lost = (top - lo < 1e-3) & (target < jnp.sum(lam > 0)) & (_df(lam, gamma) < target * (1 - 1e-4))
    return jnp.where(lost, jnp.nan, gamma)


def _size(value: ArrayLike, dtype: Any) -> jax.Array:
    """A sample or feature count in the spectrum's dtype; a concrete one above its range as inf,
    the limit it is (numpy's cast gave inf too, with an overflow warning)."""
    if (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)
            and abs(float(value)) > float(jnp.finfo(dtype).max)):
        return jnp.asarray(jnp.inf, dtype)
    return jnp.asarray(value, dtype)


def _check_in_dtype(dtype: Any, **values: ArrayLike) -> None:
    """A ValueError where a concrete finite number overflows the spectrum's dtype, in which it is
    used (a ridge of 1e39 became inf in float32 and the risk NaN; an n or k that does is its
    limit, inf, which the risk takes, so they are not checked)."""
    big = float(jnp.finfo(dtype).max)
    for name, v in values.items():
        a = _concrete(name, v)
        if a is not None and np.isfinite(a) and abs(float(a)) > big:
            raise ValueError(f"{name}={float(a)!r} overflows the eigenvalues' dtype {jnp.dtype(dtype).name} "
                             f"(largest {big:.4g}); pass the eigenvalues in float64")


def _check_ridge_per_sample(dtype: Any, ridge: ArrayLike, n: ArrayLike) -> None:
    """A ValueError where a concrete ridge / n overflows the spectrum's dtype: the root's bracket
    holds it (n < 1 is allowed: float32 with ridge 1e37 at n = 1e-3 had given a NaN risk)."""
    def value(name, v):  # (a Python int beyond float64, n = 10**40, is no numpy number: its float, or inf)
        if isinstance(v, (int, float, np.integer, np.floating)):
            return float(v) if not isinstance(v, int) or abs(v) < 2**1023 else math.inf
        a = _concrete(name, v)
        return None if a is None else float(a)

    r, m = value("ridge", ridge), value("n", n)
    if r is None or m is None or not math.isfinite(m):
        return
    big = float(jnp.finfo(dtype).max)
    if float(r) / float(m) > big:
        raise ValueError(f"ridge={float(r):.6g} with n={float(m):.6g}: ridge / n = {float(r) / float(m):.4g} overflows "
                         f"the eigenvalues' dtype {jnp.dtype(dtype).name} (largest {big:.4g}); pass the eigenvalues "
                         f"in float64")


def _check_risk_args(**values: ArrayLike) -> None:
    """One number each (an array had been broadcast against the modes: a negative noise_var array
    gave a negative risk; batch with ``jax.vmap``)."""
    for name, v in values.items():
        if name in ("n", "k"):
            concrete_real(name, v, low=0.0, strict=True, allow_inf=True, scalar=True)
        else:
            concrete_real(name, v, low=0.0, scalar=True)


def _modes(eigenvalues: ArrayLike) -> jax.Array:
    """A kernel spectrum as given, its rounding-level negatives clipped to 0.

    A zero eigenvalue is a mode no sample or feature can learn (``L_i = 0``). A spectrum is
    checked here: one-dimensional and non-empty always (shapes are static under jit and vmap
    too); when concrete also real, finite, some eigenvalue > 0 and none below ``-1e-6 x`` the
    largest. Small positive values are kept: a power-law spectrum's tail is
    real (``kernel_eigenvalues`` at M = 2^15, alpha = 2 spans 14 decades), and only the caller
    knows whether its small values are modes or rounding; :func:`rank_truncate` sets a Gram
    matrix's rounding-level values to 0.
    """
    shape = np.shape(eigenvalues)
    if len(shape) != 1 or not shape[0]:
        raise ValueError(f"eigenvalues has shape {shape}; a kernel spectrum is a non-empty 1-d array")
    ev = _concrete("eigenvalues", eigenvalues)
    if ev is not None:
        if not np.all(np.isfinite(ev)) or not ev.max() > 0:
            raise ValueError(f"eigenvalues={_brief(ev)}; a kernel spectrum is a non-empty 1-d array of finite "
                             f"values, at least one > 0")
        if ev.min() < -1e-6 * ev.max():
            raise ValueError(f"eigenvalues={_brief(ev)} has {ev.min():.3g} < 0; a kernel's eigenvalues are >= 0 "
                             f"(values within the rounding of the largest count as 0)")
    lam = jnp.asarray(eigenvalues)
    if not jnp.issubdtype(lam.dtype, jnp.floating):  # (an integer spectrum had cast n, k and the ridge to ints)
        lam = lam.astype(jnp.result_type(float))
    elif jnp.finfo(lam.dtype).bits < 32:  # (float16's gamma floor, its smallest normal 6e-5, had given NaN)
        lam = lam.astype(jnp.float32)
    return jnp.maximum(lam, jnp.zeros((), lam.dtype))


def _power(target_power: ArrayLike, lam: jax.Array) -> jax.Array:
    """The target's power per mode, ``v_i^2``, for the checked spectrum ``lam``: one entry per
    eigenvalue (checked always), and when concrete finite and >= 0, rounding-level negatives
    (above ``-1e-6 x`` the largest) clipped to 0. A NaN had made the risk NaN and a negative
    power a negative risk, silently."""
    shape = np.shape(target_power)
    if shape != lam.shape:
        raise ValueError(f"target_power has shape {shape}; it needs one entry per eigenvalue, shape {lam.shape}")
    v2 = _concrete("target_power", target_power)
    if v2 is not None:
        bad = ~np.isfinite(v2)
        if bad.any():
            raise ValueError(f"target_power={_brief(v2)} holds {int(bad.sum())} NaN or infinite value(s) (the first "
                             f"at index {int(np.argmax(bad))}); the target's power per mode, v_i^2, is finite and >= 0")
        if v2.min() < -1e-6 * max(v2.max(), 0.0):
            raise ValueError(f"target_power={_brief(v2)} has {v2.min():.3g} < 0; the target's power per mode, "
                             f"v_i^2, is >= 0 (values within the rounding of the largest count as 0)")
    v2 = jnp.asarray(target_power)
    return jnp.maximum(v2, jnp.zeros((), v2.dtype))


def _concrete(name: str, values: ArrayLike) -> np.ndarray | None:
    """``values`` as a float64 numpy array, or None when traced (under jit or vmap: those are
    the callers' to check)."""
    try:
        a = np.asarray(values)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None
    if a.dtype.kind not in "fiu" and not jnp.issubdtype(a.dtype, jnp.floating):  # (bfloat16's kind is "V")
        raise TypeError(f"{name} has dtype {a.dtype}; {name} must be real numbers")
    return a.astype(np.float64)


def rank_truncate(eigenvalues: ArrayLike, tol: float | None = None) -> np.ndarray:
    """A Gram matrix's eigenvalues with its rounding-level values set to 0.

    The spectrum of a rank-deficient Gram matrix (``eigvalsh`` of ``X X^T`` with more rows
    than ``X`` has rank) holds its null space as values of +-1e-16 or so; passed to
    :func:`rf_risk` as they are, the positive ones count as tiny learnable modes and decide
    the ridgeless risk. Values at most ``tol`` become 0 (below ``-max(tol, default)``: a
    ValueError, not a Gram matrix's rounding); the default is numpy's
    ``matrix_rank`` tolerance, ``P x eps x max`` with the eps of the array's dtype. Not for an
    exact spectrum such as :func:`kernel_eigenvalues`, whose small values are real modes.

    Returns:
      float numpy array [P], in the input's precision (float64 for an integer input).
    """
    ev = np.asarray(eigenvalues)
    if ev.dtype.kind not in "fiu" or ev.ndim != 1 or not ev.size:
        raise ValueError(f"eigenvalues={_brief(np.asarray(ev))}; expected a non-empty 1-d array of real numbers")
    if ev.dtype.kind != "f":
        ev = ev.astype(np.float64)
    if not np.all(np.isfinite(ev)):  # (a NaN made the tolerance NaN, and every value 0)
        raise ValueError(f"eigenvalues={_brief(ev)} holds {int(np.sum(~np.isfinite(ev)))} NaN or infinite "
                         f"value(s); a Gram matrix's eigenvalues are finite")
    rounding = ev.size * float(np.finfo(ev.dtype).eps) * float(np.max(np.abs(ev)))
    tol = rounding if tol is None else check_real("tol", tol, low=0.0)
    floor = max(tol, rounding)  # (tol = 0, keep every positive value, still zeroes rounding's negatives)
    if np.any(ev < -floor):  # (not rounding: they had been set to 0 like it)
        raise ValueError(f"eigenvalues={_brief(ev)} holds {int(np.sum(ev < -floor))} value(s) below -{floor:.3g}, "
                         f"as low as {float(np.min(ev)):.4g}; a Gram matrix's eigenvalues are >= 0 up to rounding")
    return np.where(ev > tol, ev, 0.0).astype(ev.dtype)


def _brief(a: np.ndarray) -> str:
    return np.array2string(a, threshold=6, precision=4)


def _smallest_positive(lam: jax.Array) -> jax.Array:
    return jnp.min(jnp.where(lam > 0, lam, jnp.max(lam)))


def _log_gamma_floor(lam: jax.Array) -> jax.Array:
    """Log of the bisections' lowest ridge: e^-60 times the smallest positive eigenvalue, but a
    normal number of the dtype (float32 flushed a subnormal floor to 0, and the zero modes'
    gamma / (0 + gamma) became 0 / 0)."""
    return jnp.maximum(jnp.log(_smallest_positive(lam)) - 60.0, jnp.log(jnp.finfo(lam.dtype).tiny))


def rf_risk(eigenvalues: jax.Array, target_power: jax.Array, noise_var: ArrayLike,
            n: ArrayLike, k: ArrayLike, ridge: ArrayLike) -> jax.Array:
    """Deterministic equivalent of the test risk of random-feature ridge regression.

    Simon et al. (2023), random-feature eigenframework, with ``L_i = lambda_i/(lambda_i+gamma)``,
    ``z = sum L_i``, ``q = sum L_i^2``:

        E = [1 - (q (k - 2z) + z^2) / (n (k - q))]^-1
            * [sum_i ((1 - L_i) - kappa k lambda_i / ((k - q)(lambda_i + gamma)^2)) v_i^2 + sigma^2]

    transcribed from that paper and checked here against
    simulation (``tests/test_theory.py``). ``k = inf`` gives :func:`krr_risk`; ``n = inf``
    gives the infinite-data risk ``sum_i v_i^2 gamma/(lambda_i + gamma)`` with
    ``df(gamma) = k``.

    Args:
      eigenvalues: kernel eigenvalues lambda_i [P], >= 0, used as given: a zero is a mode
        nothing learns, every positive value a learnable mode (pass the spectrum of an
        empirical Gram matrix through :func:`rank_truncate` first).
      target_power: v_i^2 [P], one per eigenvalue, finite and >= 0.
      noise_var: sigma^2 (label-noise variance).
      n, k, ridge: samples, features, delta (n, k may be inf).

    Concrete inputs are checked (ValueError naming the argument); traced ones, under jit or
    vmap, only for their shapes.

    The equivalent is asymptotic: the mean over draws of a finite model approaches it as the
    sizes grow, except beside the ridgeless peak. Ridgeless, the finite-size expected loss is
    infinite at ``|n - k| <= 1``, not only at n = k: for Gaussian features (the rows of Phi are
    Gaussian given the projection) least squares involves ``E[(Phi^T Phi)^-1] =
    Sigma^-1 / (n - k - 1)``, finite only for n >= k + 2, and the min-norm side likewise only
    for k >= n + 2 (below full rank; with more features than modes and label noise, the peak
    is at n = P +- 1 for the P learnable modes). The equivalent is finite there (M = 256,
    alpha = 1, k = 33, n = 32: 2.207), and a simulation's mean does not converge to it (4000
    draws: 171, the means of their halves 9.8 and 332).

    Precision: the result is computed in the dtype of ``eigenvalues``. The bias takes 1 - L_i
    as ``gamma / (lambda_i + gamma)``: subtracted, it rounds to 0 for the large modes once gamma
    is tiny, and near full rank (min(n, k) close to the number of modes) the bias's two terms
    cancel, which had put float32 at 1.70e-05 against mpmath's 5.268e-05 (4096 modes, alpha =
    0.5, ridgeless, n = 4095, k = 5000; negative at alpha = 1) and float64 87 % low at alpha = 3,
    n = 8192, k = 4095. Now float32 gives 5.26795e-05 there, and within 0.4 % of float64 over
    ridgeless and small-ridge points near full rank at 256 and 4096 modes (alpha 0.25 to 3)
    wherever the risk is above 1e-10 (tests/test_theory.py). Not at the peak n = k with a
    vanishing ridge, where the risk grows as ridge^-1/2 and 1 - ratio is a float32 rounding
    (256 modes, alpha = 0.5, n = k = 64: ridge 1e-8 0.04 % low, 1e-10 1.0 %, 1e-12 7.6 %,
    1e-16 84 %); use float64 there (as :func:`expected_test_loss` does).

    Returns:
      The test risk (mean squared error on fresh noisy labels); ``inf`` at the ridgeless
      peak ``n = k`` below full rank.
    """
    _check_risk_args(noise_var=noise_var, n=n, k=k, ridge=ridge)
    lam = _modes(eigenvalues)
    _check_in_dtype(lam.dtype, noise_var=noise_var)
    v2 = _power(target_power, lam)
    n = _size(n, lam.dtype)
    k = _size(k, lam.dtype)
    _, gamma = effective_ridges(lam, n, k, ridge)
    L = lam / (lam + gamma)
    z, q = jnp.sum(L), jnp.sum(L * L)
    finite_k = ~jnp.isinf(k)
    k_safe = jnp.where(finite_k, k, 1.0)
    ratio = jnp.where(finite_k, (q * (k_safe - 2 * z) + z * z) / (n * (k_safe - q)), q / n)
    # The bias, sum_i v_i^2 [(1 - L_i) - k kappa lam_i / ((k - q)(lam_i + gamma)^2)], as a sum of
    # positive terms: with e_i = 1 - L_i = gamma / (lam_i + gamma) (subtracted, it rounded to 0 for
    # the large modes once gamma is tiny), kappa = gamma (1 - z/k) and k - q = (k - z) + (z - q),
    # each term is v_i^2 e_i [(k - z) e_i + (z - q)] / (k - q), z - q = sum L_i e_i. Near full rank
    # the two terms as written cancel (float64 87 % low, float32 negative), and their square
    # (lam + gamma)^2 overflowed float32 for eigenvalues above ~1e19 (nan where float64 gave 0.64).
    e = gamma / (lam + gamma)
    a = jnp.where(finite_k, jnp.maximum(k_safe - z, 0.0), 1.0)  # (k = inf: the kernel's bias, sum v^2 e^2)
    b = jnp.where(finite_k, jnp.sum(L * e), 0.0)
    bias = jnp.sum(v2 * e * (a * e + b)) / jnp.where(a + b > 0, a + b, 1.0)  # (0: every term is 0)
    risk = (bias + noise_var) / (1 - ratio)
    # ridgeless at n = k below full rank: the double-descent peak, where 1 - ratio = 0 exactly;
    # the bisection stops just inside the branch and had left a large finite value (3e14)
    peak = (jnp.asarray(ridge) == 0) & (n == k)
    risk = jnp.where(peak, jnp.where(jnp.sum(v2) + noise_var > 0, jnp.inf, 0.0), risk)
    return jnp.where(_full_rank(lam, n, k, ridge), _full_rank_risk(lam, v2, noise_var, n), risk)


def _full_rank(lam: jax.Array, n: jax.Array, k: jax.Array, ridge: ArrayLike) -> jax.Array:
    """Ridgeless with at least as many samples and features as learnable modes (P, the
    positive eigenvalues): gamma -> 0, where the formulas are 0/0 and rounding decides
    (they gave -0.015 at n = P)."""
    return (jnp.asarray(ridge) == 0) & (jnp.minimum(n, k) >= jnp.sum(lam > 0))


def _full_rank_risk(lam: jax.Array, v2: jax.Array, noise_var: ArrayLike, n: jax.Array) -> jax.Array:
    """The gamma -> 0 limit there: L_i = 1 on the P learnable modes and 0 on the zero ones,
    whose power B_0 acts as noise: (B_0 + sigma^2) / (1 - P/n), least squares on P
    directions; infinite at n = P unless B_0 + sigma^2 = 0."""
    P = jnp.sum(lam > 0).astype(lam.dtype)
    unlearnable = jnp.sum(jnp.where(lam > 0, 0.0, v2)) + jnp.asarray(noise_var, lam.dtype)
    n_safe = jnp.where(n > P, n, 2.0 * P)
    return jnp.where(n > P, unlearnable / (1 - P / n_safe), jnp.where(unlearnable > 0, jnp.inf, 0.0))


def krr_risk(eigenvalues: jax.Array, target_power: jax.Array, noise_var: ArrayLike,
             n: ArrayLike, ridge: ArrayLike) -> jax.Array:
    """Kernel ridge regression test risk, "eigenlearning" (the k -> inf limit of :func:`rf_risk`).

    Simon et al. (2023); Bordelon, Canatar & Pehlevan (2020): with ``kappa`` solving
    ``n = sum lambda_i/(lambda_i + kappa) + delta/kappa`` and ``L_i = lambda_i/(lambda_i+kappa)``,
    ``E = n/(n - sum L_i^2) [sum (1 - L_i)^2 v_i^2 + sigma^2]``. Written out on its own
    (not by calling :func:`rf_risk`) so the tests can compare the two. NaN where kappa's root
    lies below the dtype's smallest normal number, as in :func:`effective_ridges`.
    """
    _check_risk_args(noise_var=noise_var, n=n, ridge=ridge)
    lam = _modes(eigenvalues)
    _check_in_dtype(lam.dtype, noise_var=noise_var, ridge=ridge)
    v2 = _power(target_power, lam)
    n = _size(n, lam.dtype)
    ridge = jnp.asarray(ridge, lam.dtype)

    def excess(log_k):
        kap = jnp.exp(log_k)
        z = _df(lam, kap)
        return jnp.where(z < n, kap * (n - z) - ridge, -1.0)

    lo = _log_gamma_floor(lam)
    hi = jnp.log((jnp.sum(lam) + ridge) / jnp.minimum(n, 1.0)) + 5.0  # (n below 1: see effective_ridges)

    L = lam / (lam + _root_or_nan(lam, lo, _bisect_log(excess, lo, hi), n))
    risk = (jnp.sum((1 - L) ** 2 * v2) + noise_var) / (1 - jnp.sum(L * L) / n)  # (n = inf: no inf/inf)
    return jnp.where(_full_rank(lam, n, n, ridge), _full_rank_risk(lam, v2, noise_var, n), risk)


def approximation_error(eigenvalues: jax.Array, target_power: jax.Array, k: ArrayLike) -> jax.Array:
    """``B(k) = sum_i v_i^2 gamma_k / (lambda_i + gamma_k)`` with ``df(gamma_k) = k``.

    The infinite-data risk of k random features (``rf_risk`` at n = inf, any ridge), i.e. the
    error left by resolving the target with k features. For a power-law spectrum
    ``lambda_i ∝ i^-(1+alpha)`` and ``v_i^2 ∝ lambda_i``, ``B(k) ∝ k^-alpha``
    (resolution-limited scaling). For ``v_i^2 ∝ lambda_i`` it also equals the ridgeless
    kernel risk at n = k samples (derivation: ``n (S1 - S0) = q S1`` with ``S1 = sum v^2 (1-L)``,
    ``S0 = sum v^2 (1-L)^2`` at ``df = n``), which is what makes the ridgeless risk
    symmetric in n and k.
    """
    _check_risk_args(k=k)
    lam = _modes(eigenvalues)
    v2 = _power(target_power, lam)
    _, gamma = effective_ridges(lam, jnp.inf, k, 0.0)
    risk = jnp.sum(v2 * (gamma / (lam + gamma)))  # (v2 * gamma first had underflowed float32)
    # k >= P learnable modes: every one resolved, the power on the zero modes left (rounding had given 1.3e-8 for
    # an exact 0 at k = P, and plrf_floor 1.2e-8 for its exact 0 at v_ratio = 1), as rf_risk has it at n = inf
    return jnp.where(_size(k, lam.dtype) >= jnp.sum(lam > 0), jnp.sum(jnp.where(lam > 0, 0.0, v2)), risk)


def ridgeless_rf_risk(eigenvalues: jax.Array, target_power: jax.Array, n: ArrayLike, k: ArrayLike) -> jax.Array:
    """The ridgeless closed form ``L(n, k) = B(min) / (1 - min/max)``, noise-free.

    Reference item marked (check). Verified by derivation from :func:`rf_risk` at
    ``delta = 0``: for ``k < n`` the deterministic equivalent reduces to
    ``B(k) n/(n - k)`` for *any* target; for ``n < k`` to
    ``E_krr(n) + B(n) n/(k - n)``, which equals ``B(n) k/(k - n)`` exactly when
    ``v_i^2 ∝ lambda_i`` (our isotropic teacher). So the form is exact for this model and
    symmetric under n <-> k (duality); it diverges at n = k (the double-descent peak).
    Computed here by those two reductions, so another target gets its own exact ridgeless
    risk rather than the isotropic form (which had given 4.59 against 7.10 for
    ``v_i^2 ∝ lambda_i^0.5``, M = 1024, alpha = 1, n = 50, k = 200). With ``min(n, k)`` at or above the number
    of positive eigenvalues it is least squares on those modes, as in :func:`rf_risk`.
    """
    _check_risk_args(n=n, k=k)
    lam = _modes(eigenvalues)
    v2 = _power(target_power, lam)
    n = _size(n, lam.dtype)
    k = _size(k, lam.dtype)
    lo, hi = jnp.minimum(n, k), jnp.maximum(n, k)
    # n/(hi - lo) -> 0 as hi -> inf, also when lo is inf too (where inf / inf would be nan);
    # (an infinite n can only be hi, where the factor is n/(n - k) -> 1)
    peak = (hi == lo) & ~jnp.isinf(lo)
    gap = jnp.where(jnp.isinf(hi) | peak, 1.0, hi - lo)
    grow = jnp.where(jnp.isinf(hi), jnp.where(jnp.isinf(n) & (k < n), 1.0, 0.0), n / gap)
    lo_finite = jnp.where(jnp.isinf(lo), 1.0, lo)
    excess = jnp.where(jnp.isinf(lo), 0.0, approximation_error(lam, v2, lo_finite) * grow)
    # n < k: the kernel's own ridgeless risk at n samples comes first (0 when n is inf)
    kernel = jnp.where(n < k, krr_risk(lam, v2, 0.0, jnp.where(n < k, n, 1.0), 0.0), 0.0)
    risk = jnp.where(peak, jnp.where(jnp.sum(v2) > 0, jnp.inf, 0.0), kernel + excess)
    return jnp.where(_full_rank(lam, n, k, 0.0), _full_rank_risk(lam, v2, 0.0, n), risk)


_rf_risk_batch = jax.jit(jax.vmap(rf_risk, in_axes=(None, None, 0, 0, 0, 0)))


def expected_test_loss(config: RFConfig, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The deterministic equivalent of ``test_loss`` for each grid point of a sweep.

    Takes the same config and points as :func:`toyscale.random_features.sweep_random_features`,
    so theory and simulation overlay with no glue. Points may have ``N`` or ``T`` = ``inf``
    (kernel and infinite-data limits). Solved in float64 (scoped ``jax.enable_x64``): against
    mpmath to 1e-12 relative near full rank (see :func:`rf_risk`).

    The loss is :func:`rf_risk`'s deterministic equivalent, which is asymptotic. At a ridgeless
    point with ``|N - T| = 1`` it is finite while the finite-size expected loss is infinite
    (Gaussian features), so a simulation's mean there does not converge to it; at N = T (below
    full rank) both are infinite. :func:`toyscale.random_features.theory_agreement` leaves those points out.

    Args:
      config: the simulation's config (M, scales).
      points: grid points with N, T, alpha, and optionally ridge, noise (linear features,
        ridge method only: gradient descent and ReLU features have no closed form here).

    Returns:
      float64 numpy array, one expected test loss per point.

    Raises:
      TypeError: ``config`` not an :class:`~toyscale.random_features.RFConfig`, ``points`` not
        a list of dicts, or a field of the wrong type (a non-integer N, say).
      ValueError: on an invalid point or one the theory does not cover.
    """
    check_config(config)
    if isinstance(points, (Mapping, str, bytes)) or not isinstance(points, Iterable):
        raise TypeError(f"points={short_repr(points)}; points must be a list of grid points "
                        f"(for one point: [point])")
    rows = []
    for i, point in enumerate(points):
        if not isinstance(point, Mapping):  # (an int had raised "'int' object is not iterable", naming nothing)
            raise TypeError(f"points[{i}]={short_repr(point)}; each point must be a dict of N, T, alpha, ...")
        p = dict(point)
        # (a numpy float32 inf is a limit too: it had been refused as "not an integer")
        limits = {name: float(p[name]) for name in ("N", "T")
                  if isinstance(p.get(name), (float, np.floating)) and math.isinf(p[name])}
        for name in limits:
            if limits[name] < 0:
                raise ValueError(f"{name}={limits[name]}; {name} must be a positive integer or inf")
            p[name] = 1
        p = check_point(p)
        if p["nonlinearity"] != "linear" or p["method"] != "ridge":
            raise ValueError(f"nonlinearity={p['nonlinearity']!r}, method={p['method']!r}; the deterministic "
                             "equivalent here covers linear features trained by ridge regression only")
        p.update(limits)
        rows.append(p)
    if not rows:
        return np.zeros(0)
    out = np.empty(len(rows))
    for alpha in sorted({p["alpha"] for p in rows}):
        idx = [i for i, p in enumerate(rows) if p["alpha"] == alpha]
        with jax.enable_x64(True):
            lam = jnp.asarray(kernel_eigenvalues(config, alpha))
            v2 = jnp.asarray(target_power(config, alpha))
            col = lambda name: jnp.asarray([float(rows[i][name]) for i in idx], jnp.float64)  # noqa: E731
            risk = _rf_risk_batch(lam, v2, col("noise") ** 2, col("T"), col("N"), col("ridge"))
            out[idx] = np.asarray(risk)
    return out


def weak_superposition_loss(p: ArrayLike, k: ArrayLike | None = None, *, mask: ArrayLike | None = None) -> np.ndarray:
    """Loss of a model that reconstructs its represented features exactly and outputs 0 for the rest.

    Liu, Liu & Gore (2025), Sec. 4: in weak superposition a feature is either represented
    (row norm ~1, reconstructed nearly without error) or ignored (row ~0, output ~0), so the
    loss is what the ignored ones carry, L = <v^2> sum_{i ignored} p_i; the paper takes the
    represented ones to be the phi_1/2 n most frequent, L = <v^2> sum_{i > phi_1/2 n} p_i over
    frequencies in decreasing order (phi_1/2 ~ m / n then gives alpha_m = alpha - 1 for
    p_i ∝ i^-alpha, alpha > 1). <v^2> = 4/3 for v ~ U(0, 2).

    Give exactly one of ``k`` and ``mask``.

    Args:
      p: the n feature frequencies (1-d, each in [0, 1], in the model's feature order).
      k: how many features are represented, the k most frequent: an integer or an array of
        them, each in [0, n] (e.g. ``round(phi_half * n)`` or the width m).
      mask: which features are represented, a boolean array of length n (e.g.
        ``row_norms > 0.5``: the features a trained model actually represents, which need
        not be the most frequent).

    Returns:
      L (float64): one per count, the shape of ``k``; a float for a mask.
    """
    freq = np.asarray(p)
    if freq.dtype == bool or not np.issubdtype(freq.dtype, np.number) or np.iscomplexobj(freq):
        raise TypeError(f"p has dtype {freq.dtype}; p must be real feature frequencies")
    freq = freq.astype(np.float64)
    if freq.ndim != 1 or not freq.size or not np.all(np.isfinite(freq) & (freq >= 0) & (freq <= 1)):
        raise ValueError(f"p={_brief(freq)}; p must be a non-empty 1-d array of frequencies in [0, 1]")
    if (k is None) == (mask is None):
        raise TypeError("give exactly one of k (how many of the most frequent features are represented) and "
                        "mask (which features are)")
    if mask is not None:
        keep = np.asarray(mask)
        if keep.dtype != bool:
            raise TypeError(f"mask has dtype {keep.dtype}; mask must be boolean (e.g. row_norms > 0.5)")
        if keep.shape != freq.shape:
            raise ValueError(f"mask has shape {keep.shape}; it needs one entry per feature, shape {freq.shape}")
        return V_SECOND_MOMENT * float(np.sum(np.sort(freq[~keep])))
    counts = np.asarray(k)
    if counts.dtype == bool or not np.issubdtype(counts.dtype, np.integer):
        raise TypeError(f"k={k!r}; k must be an integer count (or an array of them), e.g. round(phi_half * n); "
                        f"which features are represented goes in mask=")
    if np.any(counts < 0) or np.any(counts > freq.size):
        raise ValueError(f"k={k!r}; each count must lie in [0, n] = [0, {freq.size}]")
    # tail[k]: the sum of all but the k largest, summed from the smallest up
    tail = np.concatenate([np.cumsum(np.sort(freq))[::-1], [0.0]])
    return V_SECOND_MOMENT * tail[counts]


def plrf_exponents(alpha: float, beta: float) -> dict[str, Any]:
    """Scaling exponents of power-law random features under one-pass SGD (Paquette, Paquette, Xiao
    & Pennington 2024; model in :mod:`toyscale.plrf`) above the high-dimensional line, alpha > 1/2.

    Derived, not read in the paper's own table: from the large-d loss terms its follow-ups quote,
    with learning rate gamma and r steps (2 beta > 1 unless said),
    ``F_0 ~ d^-(2 alpha - max(0, 1 - 2 beta))`` (the d-limited floor), ``F_pp ~ (gamma r)^-((2 alpha +
    2 beta - 1) / (2 alpha))``, ``F_ac ~ d^-1 (gamma r)^-(1 - 1/(2 alpha))`` and ``K_pp ~ (gamma
    r)^-(2 - 1/(2 alpha))``, the loss is their sum up to constants; at compute f = d r the best d
    balances the two terms that dominate: F_pp and F_0 in phase Ia (2 beta < 1), F_pp and F_ac
    in phase II (2 beta > 1, beta < alpha), F_ac and K_pp in phase III (beta > alpha). The
    exponents agree where the phases meet (at beta = alpha both give d* ~ f^(1/2), P* ~
    f^-((4 alpha - 1) / (4 alpha)): 0.643 at alpha = 0.7, the value the reference gives as
    predicted there), and the other terms decay faster inside each phase.

    Returns:
      A dict: ``phase`` ("Ia", "II" or "III"; "II/III" at beta = alpha, "Ia/II" at 2 beta = 1),
      ``d_opt`` (d* ~ f^x), ``loss_opt`` (P* ~ f^-x), ``floor`` (F_0 ~ d^-x, the least loss of d
      features, where gradient flow ends; constant-step SGD levels off above it) and ``time``
      (P ~ r^-x at d -> inf: the slower of F_pp and K_pp).

    Raises:
      ValueError: alpha <= 1/2 (phases Ib, Ic, IVa, IVb, whose exponents we do not have) or beta <= 0.
    """
    a = check_real("alpha", alpha)
    b = check_real("beta", beta, low=0.0, strict=True)
    if a <= 0.5:
        raise ValueError(f"alpha={alpha!r}; plrf_exponents covers alpha > 1/2 (phases Ia, II and III); below the "
                         f"high-dimensional line 2 alpha = 1 lie phases Ib, Ic and IV, not implemented")
    if 2 * b < 1:
        phase, d_opt, loss_opt = "Ia", 1 / (2 * a + 1), (2 * a + 2 * b - 1) / (2 * a + 1)
    elif b <= a:
        phase, d_opt, loss_opt = "II", b / (a + b), (2 * a + 2 * b - 1) / (2 * (a + b))
    else:
        phase, d_opt, loss_opt = "III", 0.5, (4 * a - 1) / (4 * a)
    if b == a:
        phase = "II/III"
    elif 2 * b == 1:
        phase = "Ia/II"
    time = min((2 * a + 2 * b - 1) / (2 * a), (4 * a - 1) / (2 * a))
    return {"phase": phase, "d_opt": d_opt, "loss_opt": loss_opt, "floor": 2 * a - max(0.0, 1 - 2 * b), "time": time}


# the most modes (v = v_ratio d) plrf_floor takes: 2^24 is 64 MiB an array in float32 (the paper preset's widest
# theory, 32 x 3200 x 4, needs 409,600)
PLRF_FLOOR_MODES = 2**24


def plrf_floor(d: Any, alpha: float, beta: float, v_ratio: int = 4) -> np.ndarray:
    """The deterministic equivalent of a PLRF's floor (:mod:`toyscale.plrf`'s ``loss_floor``):
    the least loss ``min_theta 1/2 sum_j j^-2alpha ((W theta)_j - j^-beta)^2`` of ``d`` random
    features of ``v = v_ratio d`` data dimensions, at each ``d``.

    It is :func:`approximation_error` of the spectrum ``j^-2 alpha`` (j = 1..v) and target power
    ``j^-(2 alpha + 2 beta)`` at k = d features, halved: the large-d equivalent of the floor's
    expectation over W, which the mean of simulated floors approaches as about 1/d (5.2, 3.1,
    2.0 and 1.3 % above it at d = 16, 32, 64, 128: ``benchmarks/plrf_floor_theory.py``). Its slope against d tends
    to :func:`plrf_exponents`' ``floor``, ``2 alpha - max(0, 1 - 2 beta)``, slowly: at alpha =
    beta = 0.7 and v = 4d a power law fitted to it over d = 16..512 falls as d^-1.284, over
    4096..16384 as d^-1.387 (the limit 1.4); near beta = 1/2 more slowly still. So a simulation
    at small d is to be read against this as well as against the limit. All widths in one
    compiled program (the modes past each width's v set to 0, which no feature learns).

    Raises:
      TypeError: ``d`` not numbers (text, True/False), or ``v_ratio`` not an integer.
      ValueError: ``d`` empty, below 1 or not whole, or ``v_ratio d`` above ``PLRF_FLOOR_MODES``;
        alpha or beta not finite > 0, or 2 alpha + 2 beta <= 1 (:func:`toyscale.plrf.check_exponents`).
    """
    from toyscale._checks import check_int
    from toyscale.plrf import check_exponents

    ratio = check_int("v_ratio", v_ratio, 1)
    a, b = check_exponents(alpha, beta)
    raw = np.atleast_1d(np.asarray(d))
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"d={short_repr(d, 80)}; d must be a width or widths (numbers of features), e.g. 64 or "
                        f"[16, 32]")
    widths = raw.astype(float)
    if widths.ndim != 1 or not widths.size or not np.all(np.isfinite(widths) & (widths >= 1)
                                                           & (widths == np.round(widths))):
        raise ValueError(f"d={short_repr(d, 80)}; d must be one or more whole numbers of features, each >= 1")
    if ratio * widths.max() > PLRF_FLOOR_MODES:
        raise ValueError(f"d={short_repr(d, 80)}; v = v_ratio d = {ratio} x {widths.max():g} modes is above the "
                         f"{PLRF_FLOOR_MODES:,} plrf_floor takes (PLRF_FLOOR_MODES)")
    dtype = jnp.result_type(float)
    return np.asarray(_plrf_floors(int(ratio * widths.max()), jnp.asarray(widths, dtype), ratio, a, b))


@functools.partial(jax.jit, static_argnums=0)
def _plrf_floors(modes: int, widths: jax.Array, ratio: int, a: float, b: float) -> jax.Array:
    j = jnp.arange(1, modes + 1, dtype=widths.dtype)

    def one(d):
        keep = j <= ratio * d  # (this width's v modes; the rest 0: unlearnable, no target power)
        spectrum, power = jnp.where(keep, j ** (-2 * a), 0.0), jnp.where(keep, j ** (-2 * a - 2 * b), 0.0)
        return 0.5 * approximation_error(spectrum, power, d)

    return jax.vmap(one)(widths)
