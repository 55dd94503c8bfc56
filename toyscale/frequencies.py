"""Feature frequencies p_i: how often each of the n features is active.

Liu, Liu & Gore (2025), "Superposition Yields Robust Neural Scaling", Sec. 2: feature i is
active with probability p_i, and the frequencies are normalised so that
``sum_i p_i = E``, the activation density (expected number of active features per sample).

A :class:`Frequencies` is a small, JSON-describable spec; ``spec.probs(n)`` turns it into the
float64 vector p for a given number of features. Sweeps carry the spec in each model's
config and the vector as a per-model input, so one compiled program serves every
distribution and exponent.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from toyscale._checks import check_choice, check_int

__all__ = ["Frequencies", "power_law", "exponential", "linear", "custom", "normalise", "as_frequencies"]

KINDS = ("power_law", "exponential", "linear", "custom")


def normalise(weights: np.ndarray, density: float = 1.0) -> np.ndarray:
    """Scales non-negative weights so that they sum to ``density`` (the paper's E).

    Args:
      weights: non-negative, finite, not all zero.
      density: the activation density E > 0.

    Returns:
      float64 probabilities p with sum(p) = E.

    Raises:
      ValueError: if the weights are invalid or any resulting p_i exceeds 1 (E too large
        for this distribution: a feature cannot be active more than always).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size < 1:
        raise ValueError(f"weights has shape {w.shape}; a non-empty 1-D array is required")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("weights must be finite, non-negative and not all zero")
    if not (_is_real(density) and math.isfinite(density) and density > 0):
        raise ValueError(f"E={density!r}; the activation density E must be a finite number > 0")
    # scaled first (p is the same): a sum that overflows, or one so small that density / total does (weights
    # below 1e-308 had made p inf and the error contradict itself)
    w = w / w.max()
    total = w.sum()
    p = w * (density / total)
    if p.max() > 1.0:
        i = int(np.argmax(p))
        raise ValueError(
            f"E={density} makes p_{i + 1}={p[i]:.4g} > 1 for this distribution; "
            f"the largest E allowed here is {_round_down(total / w.max()):.4g}"
        )
    return p


def _round_down(x: float, digits: int = 4) -> float:
    """x rounded down to ``digits`` significant figures: a limit printed rounded up is refused when given back."""
    step = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return math.floor(x / step * (1 + 1e-12)) * step  # (the 1e-12: x = 2.5 must not print as 2.499)


@dataclasses.dataclass(frozen=True)
class Frequencies:
    """A feature-frequency distribution, normalised to activation density ``E``.

    Attributes:
      kind: "power_law" (p_i ∝ i^-alpha), "exponential" (p_i ∝ exp(-i/tau)),
        "linear" (p_i ∝ n + 1 - i), or "custom" (``values`` given by the user), i = 1..n.
      alpha: power-law exponent (the paper's alpha; the original scripts' ``a`` is alpha - 1).
      tau: exponential decay length.
      E: activation density, sum_i p_i.
      values: the user's weights for kind="custom" (normalised to E).
    """

    kind: str
    alpha: float | None = None
    tau: float | None = None
    E: float = 1.0
    values: tuple[float, ...] | None = None

    def __post_init__(self):
        check_choice("kind", self.kind, KINDS)
        for name in ("alpha", "tau", "E"):
            value = getattr(self, name)
            if value is not None and not _is_real(value):
                raise TypeError(f"{name}={value!r}; {name} must be a real number")
        if self.kind == "custom" and self.values is not None:
            _check_values(self.values)
        if self.kind == "power_law":
            if not _is_real(self.alpha) or not math.isfinite(self.alpha):
                raise ValueError(f"alpha={self.alpha!r}; a power law needs a finite real exponent alpha")
        if self.kind == "exponential":
            if not _is_real(self.tau) or not math.isfinite(self.tau) or self.tau <= 0:
                raise ValueError(f"tau={self.tau!r}; an exponential needs a finite decay length tau > 0")
        if self.kind == "custom" and self.values is None:
            raise ValueError("kind='custom' needs values=[...] (one weight per feature)")
        if not _is_real(self.E) or not math.isfinite(self.E) or self.E <= 0:
            raise ValueError(f"E={self.E!r}; the activation density E must be a finite number > 0")
        used = _PARAMETERS[self.kind]
        for name in ("alpha", "tau", "values"):
            if name not in used and getattr(self, name) is not None:
                # (it would be stored in every record, and such records would not match a plain spec)
                raise ValueError(f"{name}={getattr(self, name)!r}; kind={self.kind!r} takes no {name} "
                                 f"(its parameters: {', '.join(used + ('E',))})")

    def weights(self, n: int) -> np.ndarray:
        """Unnormalised weights for features i = 1..n."""
        check_int("n", n)
        i = np.arange(1, n + 1, dtype=np.float64)
        if self.kind == "power_law":
            with np.errstate(over="ignore"):
                w = i ** (-float(self.alpha))
            if not np.all(np.isfinite(w)):  # a negative alpha whose n^-alpha overflows: scaled by it
                w = (i / n) ** (-float(self.alpha))
            return w
        if self.kind == "exponential":
            return np.exp(-(i - 1) / float(self.tau))
        if self.kind == "linear":
            return n - i + 1.0
        values = np.asarray(self.values, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"values has length {values.size} but n={n}; they must match")
        return values

    def probs(self, n: int) -> np.ndarray:
        """The probabilities p_1..p_n (float64), summing to E; raises if any p_i > 1."""
        return normalise(self.weights(n), self.E)

    def describe(self) -> dict:
        """JSON-serialisable description (stored in every model's record)."""
        d: dict[str, Any] = {"kind": self.kind, "E": float(self.E)}
        if self.alpha is not None:
            d["alpha"] = float(self.alpha)
        if self.tau is not None:
            d["tau"] = float(self.tau)
        if self.values is not None:
            d["values"] = [float(v) for v in self.values]
        return d

    @property
    def label(self) -> str:
        """A short name for plots and summaries."""
        if self.kind == "power_law":
            return f"power law alpha={self.alpha:g}"
        if self.kind == "exponential":
            return f"exponential tau={self.tau:g}"
        return self.kind


def _check_values(values: Any) -> None:
    """A custom distribution's weights, checked when the spec is made rather than when a sweep
    first asks for its probabilities."""
    try:
        w = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"values={values!r}; values must be real numbers, one weight per feature") from None
    if w.ndim != 1 or w.size < 1:
        raise ValueError(f"values has shape {w.shape}; values must be a non-empty list of weights, one per feature")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        raise ValueError(f"values[{bad[0]}]={float(w[bad[0]])!r}; every weight must be finite and >= 0 "
                         f"({bad.size} of the {w.size} are not)")
    if not np.any(w > 0):
        raise ValueError(f"values are all 0 ({w.size} weights); at least one feature must have a weight > 0")


_PARAMETERS = {"power_law": ("alpha",), "exponential": ("tau",), "linear": (), "custom": ("values",)}


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def power_law(alpha: float, *, E: float = 1.0) -> Frequencies:
    """p_i ∝ i^-alpha (Liu et al. 2025, Sec. 2)."""
    return Frequencies("power_law", alpha=alpha, E=E)


def exponential(tau: float = 400.0, *, E: float = 1.0) -> Frequencies:
    """p_i ∝ exp(-i/tau); the paper's large-model runs use tau = 400."""
    return Frequencies("exponential", tau=tau, E=E)


def linear(*, E: float = 1.0) -> Frequencies:
    """p_i ∝ n - i (i = 0..n-1 here, so every feature has p_i > 0)."""
    return Frequencies("linear", E=E)


def custom(values, *, E: float = 1.0) -> Frequencies:
    """Any user-given non-negative weights, normalised to sum E."""
    if np.ndim(values) > 1:  # (was flattened: a [2, 2] table became 4 features)
        raise ValueError(f"values has shape {np.shape(values)}; values must be one weight per feature (1-D)")
    try:
        weights = tuple(float(v) for v in np.ravel(values))
    except (TypeError, ValueError):
        raise TypeError(f"values={values!r}; values must be real numbers, one weight per feature") from None
    return Frequencies("custom", values=weights, E=E)


def as_frequencies(spec: Frequencies | Mapping[str, Any] | str) -> Frequencies:
    """Accepts a :class:`Frequencies`, its ``describe()`` dict, or a kind name.

    A kind name means that kind at the paper's default: ``"power_law"`` is alpha = 1.2,
    ``"exponential"`` tau = 400 (``"linear"`` has no parameter); for another value give the
    spec, e.g. ``power_law(1.5)``.
    """
    if isinstance(spec, Frequencies):
        return spec
    if isinstance(spec, str):
        defaults = {"power_law": {"alpha": 1.2}, "exponential": {"tau": 400.0}}
        return Frequencies(spec, **defaults.get(spec, {}))
    if isinstance(spec, Mapping):
        d = dict(spec)
        if "values" in d and d["values"] is not None:
            d["values"] = tuple(d["values"])
        return Frequencies(**d)
    raise TypeError(f"frequencies={spec!r}; expected a Frequencies, a dict or a kind name in {KINDS}")
