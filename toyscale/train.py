"""Training the superposition toy model: one model, or a whole vmapped sweep.

The static part of a run (n, batch, steps, schedule lengths, what to measure) lives in a
frozen :class:`TrainConfig`; the width m fixes shapes too and is the sweep's static axis.
Everything else that is swept -- gamma, the two peak learning rates, the frequency vector
p -- is a per-model array, so one compiled program trains a whole grid at a given m.
Steps run in ``lax.scan``; models run under ``vmap`` (see :mod:`toyscale.sweep`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from toyscale import data, measure, superposition
from toyscale._checks import (_scalar_of, check_axis, check_choice, check_common_fields, check_float32, check_int,
                              check_real, common_of_pair, config_from_dict, model_keys, short_repr)
from toyscale.frequencies import Frequencies, as_frequencies
from toyscale.optim import ADAM_EPS, superposition_optimizer
from toyscale.sweep import SweepResult, check_points, float32_products, run_sweep

# data.SAMPLERS, or "auto": each model the sparse sampler where it can draw it, else the dense one
SAMPLERS = (*data.SAMPLERS, "auto")
# the point fields a TrainConfig's common_across may name (seed sets the replicate; label keys nothing)
COMMON_FIELDS = ("m", "gamma", "lr_w", "lr_b", "frequencies")
#: The largest seed count :func:`superposition_grid` takes (a count of models per grid cell).
MAX_SEEDS = 2**20

__all__ = ["TrainConfig", "SuperpositionTask", "train_model", "superposition_grid", "sweep_superposition"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static settings shared by every model of a superposition sweep.

    Attributes:
      n: number of features.
      batch: samples per step (fresh every step).
      steps: optimisation steps.
      warmup: linear warm-up steps (then cosine decay to ``final_lr_fraction`` x peak);
        ``warmup = steps`` means no warm-up, as in the published ``get_lr``
        (:func:`toyscale.optim.warmup_cosine`), the same run as ``warmup = 0``.
      final_lr_fraction: end of the cosine, as a fraction of the peak (paper: 0.05).
      test_batches: the test loss is the mean paper loss L over this many fresh batches.
      log_every: the loss curve holds the mean training loss L of each block of this many
        steps (the last partial block, if any, is not logged).
      keep_weights: also return the final W and b of every model.
      represented_threshold: row-norm threshold for "represented" in the overlap statistics
        (``overlap_mean``, ``overlap_var``, ``n_represented``) only: ``phi_half`` and
        ``phi_one`` count the rows longer than 1/2 and 1, and the ``*_one`` overlaps the rows
        longer than 1, whatever it is.
      rng: bit generator of the training and test samples: "threefry" (JAX's default) or
        "hash" (a counter hash; see :func:`toyscale.data.unit_uniform`). On a 2-core CPU it
        made a step 1.75x faster with the dense sampler, and is within 1 % of threefry with
        the default sparse one, which draws far fewer random words (benchmarks/RESULTS.md).
      sampler: how the training and test samples are drawn, both from the model's law up to
        32-bit rounding of the probabilities (each sampler's docstring gives its bound):
        "sparse" (the default: only the active entries, as Poisson events through an alias
        table, about batch x E random words per step, and an encoder that sums the active
        rows of W instead of a dense product; :func:`toyscale.data.sample_features_sparse`;
        1.4x (rng="hash") to 2.4x (rng="threefry") faster than "dense" over the bench sweep
        on a 2-core CPU, benchmarks/RESULTS.md) or
        "dense" (one uniform per entry, batch x n per step;
        :func:`toyscale.data.sample_features`), which also allows p_i = 1, or
        "auto" (per model: "sparse" where its Poisson rate is at most ``max_rate``, else
        "dense", e.g. where p_1 = 1; one compiled program per width and sampler, so a sweep
        whose densities straddle ``max_rate`` draws each model the cheaper exact way).
      max_rate: sampler="sparse" or "auto" only: the largest Poisson rate Lambda =
        -sum_i log(1 - p_i) (about E when every p_i is small) a model drawn by the sparse
        sampler may have. It fixes the static number of event slots per batch so that a
        batch overflows with probability <= 2^-40; under "sparse" a model with a larger
        Lambda is refused before compiling, under "auto" it is drawn by the dense sampler.
        Overflows are counted in the output ``truncated_batches``.
      matmul_precision: operand type of the training step's three dense products:
        "float32" (the default: exact float32 on every backend; JAX would otherwise let a
        GPU use TF32), "tensorfloat32" (operands rounded to TF32's 10 mantissa bits, for a
        GPU's TF32 tensor cores; a CPU makes the same products of the rounded operands in
        float32) or "bfloat16" (operands rounded to bfloat16); both accumulate in float32
        and need the sparse sampler (under "auto", every model's Lambda <= max_rate;
        :func:`toyscale.superposition.per_element_loss_and_grad`).
        Parameters, optimiser and every measurement (test loss included) stay float32.
        On a 2-core CPU with AMX, bfloat16 trained the bench sweep (batch 2048) 1.07x
        faster and the quick presets (batch 256) no faster (benchmarks/RESULTS.md). With the
        same seed, bfloat16 moved the quick presets' exponents by at most 0.053 of their
        error bars and tensorfloat32 by at most 0.111 (benchmarks/precision_check.py);
        tests/test_fidelity.py checks bfloat16's width exponent. On a CPU tensorfloat32 is
        only slower.
      loss_scale: the step minimises ``loss_scale x L / n``. Adam divides any constant
        factor out of its update except against its eps (1e-8), so this is Adam on L / n with
        eps = 1e-8 / loss_scale, which is how it is applied. 1 is the small-model scripts'
        plain mean (phase diagram); the published large-model script (Fig. 1) trains on
        100 x the mean. It matters where per-element gradients near 1e-8: rare features'
        rows at n = 10240 (`python benchmarks/adam_eps_check.py`).
      common_across: point fields (a tuple of names from ``COMMON_FIELDS``: m, gamma, lr_w, lr_b,
        frequencies; kept in that order; empty by default) across which models share their
        random draws (common random numbers): points that differ only in these fields draw
        W's and b's initial values and every training and test batch from one common key
        (:func:`toyscale.sweep.common_key`), and W column by column
        (:func:`toyscale.superposition.init_params` with ``nested=True``), so with ``"m"`` a
        wider model starts from a narrower one's columns and trains on the same batches. Each
        model's law is unchanged; a difference between two points varies less across seeds
        (L(16) - L(32) by 26-45 % in benchmarks/superposition_common_draws.py), a fitted
        exponent not necessarily (the strong regime's did not).
        The paper's learning rates follow m, so loss against width shares draws with
        ``("m", "lr_w", "lr_b")``. With ``"frequencies"`` the same bits give each law's own
        samples: the dense sampler's ``r < p_i`` then couples them, the sparse one's events less.
        Shared draws correlate a curve's points, which a fit's standard error assumes
        independent (``toyscale.runner.COMMON_DRAWS_NOTE``).
    """

    n: int
    batch: int = 2048
    steps: int = 20_000
    warmup: int = 2_000
    final_lr_fraction: float = 0.05
    test_batches: int = 100
    log_every: int = 100
    keep_weights: bool = False
    represented_threshold: float = 0.5
    rng: str = "threefry"
    sampler: str = "sparse"
    max_rate: float = 2.0
    matmul_precision: str = "float32"
    loss_scale: float = 1.0
    common_across: tuple[str, ...] = ()

    def __post_init__(self):
        if not isinstance(self.keep_weights, (bool, np.bool_)):  # 'False' or 1 would read as true
            raise TypeError(f"keep_weights={self.keep_weights!r}; keep_weights must be True or False "
                            f"(--set train.keep_weights=true or false)")
        check_int("n", self.n)
        check_int("batch", self.batch)
        check_int("steps", self.steps)
        check_int("warmup", self.warmup, minimum=0)
        check_int("test_batches", self.test_batches)
        check_int("log_every", self.log_every)
        # (the defaults are the paper's, for 20,000 steps: a shorter run must set them, and is
        # told about both at once)
        too_long = [(name, value, example) for name, value, example in (
            ("log_every", self.log_every, max(1, self.steps // 10)), ("warmup", self.warmup, self.steps // 10))
            if value > self.steps]
        if too_long:
            raise ValueError("; ".join(f"{name}={value}{_default_note(name, value)}" for name, value, _ in too_long)
                             + f": {' and '.join(name for name, _, _ in too_long)} must not exceed steps="
                             f"{self.steps}; give {'them' if len(too_long) > 1 else 'it'}, e.g. "
                             + ", ".join(f"{name}={example}" for name, _, example in too_long))
        if not 0 <= check_real("final_lr_fraction", self.final_lr_fraction) <= 1:
            raise ValueError(f"final_lr_fraction={self.final_lr_fraction}; must be in [0, 1]")
        check_choice("rng", self.rng, data.RNGS)
        if check_real("represented_threshold", self.represented_threshold) <= 0:
            raise ValueError(f"represented_threshold={self.represented_threshold}; must be > 0")
        check_choice("sampler", self.sampler, SAMPLERS)
        if not 0 < check_real("max_rate", self.max_rate) <= 64:
            raise ValueError(f"max_rate={self.max_rate}; max_rate must be in (0, 64]")
        if self.sampler != "dense":
            data.check_sparse_sizes(self.batch, self.n)
        if self.rng == "hash" and self.sampler != "sparse" and self.batch * self.n > 2**32:
            raise ValueError(f"rng='hash' with batch={self.batch}, n={self.n} and sampler={self.sampler!r}: a dense "
                             f"batch draws batch x n = {self.batch * self.n} words, more than the hash's 32-bit "
                             f"counter holds (2**32); use rng='threefry'")
        # (below 1e-20 Adam's eps / loss_scale nears float32's inf: at 1e-50 the updates were 0, not flagged)
        if not 1e-20 <= check_real("loss_scale", self.loss_scale, low=0.0, strict=True) <= 1e20:
            raise ValueError(f"loss_scale={self.loss_scale}; loss_scale must be in [1e-20, 1e20]")
        check_choice("matmul_precision", self.matmul_precision, superposition.PRECISIONS)
        # One spelling per value (2 and np.int64(2) as 2, max_rate=2 as 2.0): the manifest's
        # fingerprint, and so whether a folder resumes, must not depend on how it was typed.
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            object.__setattr__(self, f.name, float(v) if f.type == "float" else int(v) if f.type == "int"
                               else bool(v) if f.type == "bool" else v)
        object.__setattr__(self, "common_across", check_common_fields(self.common_across, COMMON_FIELDS))
        if self.matmul_precision != "float32" and self.sampler == "dense":
            raise ValueError(f"matmul_precision={self.matmul_precision!r} needs sampler='sparse' (the written-out "
                             f"gradient); sampler={self.sampler!r} trains in float32")

    @property
    def event_capacity(self) -> int:
        """Event slots per batch of the sparse sampler (0 when every model is drawn densely)."""
        return data.event_capacity(self.batch, self.max_rate) if self.sampler != "dense" else 0

    def sampler_for(self, p: np.ndarray) -> str:
        """The sampler that draws a model with probabilities ``p``: ``sampler`` itself, or
        under "auto", "sparse" where Lambda <= max_rate (finite: every p_i < 1), else "dense"."""
        if self.sampler != "auto":
            return self.sampler
        return "sparse" if data.poisson_rate(p) <= self.max_rate else "dense"

    def check_frequencies(self, p: np.ndarray, what: str = "frequencies") -> None:
        """Raises ValueError if the sampler cannot draw from ``p``: under "sparse", Lambda >
        max_rate; under "auto", a model left to the dense sampler with a matmul_precision
        other than float32."""
        if self.sampler == "dense":
            return
        rate = data.poisson_rate(p)
        if self.sampler == "auto":
            if self.matmul_precision != "float32" and not rate <= self.max_rate:
                raise ValueError(
                    f"{what} give the Poisson rate Lambda={rate:.6g} (= -sum log(1 - p_i), events per sample) > "
                    f"max_rate={self.max_rate}, so sampler='auto' draws them densely, in float32; "
                    f"matmul_precision={self.matmul_precision!r} needs every model sparse: "
                    + ("raise max_rate (at most 64)" if math.isfinite(rate) else "no max_rate draws a p_i = 1")
                    + " or use matmul_precision='float32'")
            return
        if not math.isfinite(rate):
            raise ValueError(
                f"{what} have p_i = 1 (feature {int(np.argmax(p)) + 1} is active in every sample), which the "
                f"sparse sampler's Poisson events cannot draw; use sampler='dense' or 'auto'")
        if not rate <= self.max_rate:
            raise ValueError(
                f"{what} give the Poisson rate Lambda={rate:.6g} (= -sum log(1 - p_i), events per "
                f"sample); sampler='sparse' with max_rate={self.max_rate} needs Lambda <= max_rate: "
                f"raise max_rate or use sampler='dense' or 'auto'")

    def to_dict(self) -> dict:
        settings = dataclasses.asdict(self)
        settings["common_across"] = list(self.common_across)  # (as JSON reads it back)
        return settings

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> "TrainConfig":
        """The config of a :meth:`to_dict` (or of a preset's group of settings); a key that is
        not a field is a TypeError naming it, the closest field and all of them."""
        return config_from_dict(cls, settings)


def _default_note(name: str, value: Any) -> str:
    """`` (the default)`` where a TrainConfig field holds its default value."""
    default = next(f.default for f in dataclasses.fields(TrainConfig) if f.name == name)
    return " (the default)" if value == default else ""


@functools.lru_cache(maxsize=128)
def _cached_sparse_tables(p_bytes: bytes, batch: int, capacity: int) -> dict[str, np.ndarray]:
    return data.sparse_tables(np.frombuffer(p_bytes, np.float64), batch, capacity)


def _model_inputs(config: TrainConfig, p: np.ndarray, gamma: float, lr_w: float, lr_b: float) -> dict[str, np.ndarray]:
    """Per-model arrays: the swept scalars, p, and the sparse sampler's tables (float64-built)."""
    inputs = {"p": np.asarray(p, np.float32), "gamma": np.float32(gamma),
              "lr_w": np.float32(lr_w), "lr_b": np.float32(lr_b)}
    config.check_frequencies(p)
    if config.sampler_for(p) == "sparse":
        p64 = np.ascontiguousarray(p, np.float64)
        inputs.update(_cached_sparse_tables(p64.tobytes(), config.batch, config.event_capacity))
    return inputs


def _sampler(config: TrainConfig, inputs: Mapping[str, jax.Array]) -> Callable:
    """key -> (a batch of samples, whether the batch overflowed its event slots); sparse
    where the inputs hold the sparse sampler's tables (:func:`_model_inputs`)."""
    if "accept" in inputs:
        tables = {k: inputs[k] for k in ("accept", "alias", "count_hi", "count_lo", "n_features", "batch_size")}
        return lambda key: data.sample_features_sparse(key, tables, config.batch, config.n, config.rng)
    # Through the module attribute, so tests can swap in the textbook sampler.
    return lambda key: (data.sample_features(key, inputs["p"], config.batch, config.rng), jnp.zeros((), bool))


@float32_products
def _train(config: TrainConfig, m: int, inputs: Mapping[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
    """Trains one model; the body of both :func:`train_model` and the sweep's ``model_fn``."""
    n = config.n
    sample = _sampler(config, inputs)
    nested = bool(config.common_across)
    if nested:  # key = (own, common): every draw from the common key, W column by column
        key = common_of_pair(key, config)
    k_init, k_data, k_test = (jax.random.fold_in(key, i) for i in range(3))
    params = superposition.init_params(k_init, n, m, nested=nested)
    opt = superposition_optimizer(
        lr_w=inputs["lr_w"], lr_b=inputs["lr_b"], gamma=inputs["gamma"],
        steps=config.steps, warmup=config.warmup, final_fraction=config.final_lr_fraction,
        eps=ADAM_EPS / config.loss_scale,
    )
    grad_fn = functools.partial(superposition.per_element_loss_and_grad, precision=config.matmul_precision)

    def step(carry, t):
        params, opt_state, truncated = carry
        x, over = sample(jax.random.fold_in(k_data, t))
        value, grads = grad_fn(params, x)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, truncated + over), value * n

    def block(carry, b):
        ts = b * config.log_every + jnp.arange(config.log_every)
        carry, losses = jax.lax.scan(step, carry, ts)
        return carry, jnp.mean(losses)

    carry = (params, opt.init(params), jnp.zeros((), jnp.int32))
    n_blocks, rem = divmod(config.steps, config.log_every)
    carry, curve = jax.lax.scan(block, carry, jnp.arange(n_blocks))
    if rem:
        carry, _ = jax.lax.scan(step, carry, n_blocks * config.log_every + jnp.arange(rem))
    params, _, truncated = carry

    def test_batch(totals, i):
        x, over = sample(jax.random.fold_in(k_test, i))
        loss, empty, truncated = totals
        return (loss + superposition.loss(params, x), empty + superposition.empty_loss(x), truncated + over), None

    zero = jnp.zeros(())
    (test_total, empty_total, truncated), _ = jax.lax.scan(test_batch, (zero, zero, truncated),
                                                           jnp.arange(config.test_batches))
    W = params["W"]
    # a W gone NaN/inf has no fraction represented: 0.0 had read as a measurement (the model is
    # flagged diverged too); the counts n_represented stay integers, 0 there
    unmeasured = ~jnp.all(jnp.isfinite(W))
    out = {
        "test_loss": test_total / config.test_batches,
        "empty_loss": empty_total / config.test_batches,
        "loss_curve": curve,
        "row_norms": measure.row_norms(W),
        "phi_half": jnp.where(unmeasured, jnp.nan, measure.represented_fraction(W, 0.5)),
        "phi_one": jnp.where(unmeasured, jnp.nan, measure.represented_fraction(W, 1.0)),
        **measure.overlap_stats(W, threshold=config.represented_threshold),
        # the same moments among the rows longer than 1 (the ETF-like ones; compare them with
        # measure.welch_bound at nu = phi_one * n)
        **{f"{k}_one": v for k, v in measure.overlap_stats(W, threshold=1.0).items() if k != "n_represented"},
        "truncated_batches": truncated,
    }
    out["diverged"] = ~(jnp.isfinite(out["test_loss"]) & jnp.all(jnp.isfinite(W)) & jnp.all(jnp.isfinite(params["b"])))
    if config.keep_weights:
        out["W"] = W
        out["b"] = params["b"]
    return out


def _check_model_args(config: TrainConfig, m: Any, gamma: Any, lr_w: Any, lr_b: Any) -> None:
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config={short_repr(config)}; expected a toyscale.TrainConfig")
    check_int("m", m)
    _float32("gamma", gamma)
    _learning_rate("lr_w", lr_w)
    _learning_rate("lr_b", lr_b)


def _learning_rate(name: str, lr: Any) -> float:
    """A peak learning rate: > 0, a normal number once in float32 (where the model trains), not inf."""
    if _float32(name, lr) <= 0:
        raise ValueError(f"{name}={lr!r}; a peak learning rate must be > 0")
    return float(lr)


def _float32(name: str, value: Any) -> float:
    """A real that float32, the precision the model trains in, holds as itself or 0
    (:func:`toyscale._checks.check_float32`)."""
    return check_float32(name, check_real(name, value))


def train_model(
    config: TrainConfig,
    m: int,
    *,
    gamma: float,
    lr_w: float,
    lr_b: float,
    frequencies: Frequencies | Mapping | str,
    key: jax.Array,
    common_key: jax.Array | None = None,
) -> dict[str, np.ndarray]:
    """Trains one superposition model (the same computation a sweep runs per model).

    A sweep with seed ``s`` gives the model of point ``p`` the key
    ``toyscale.sweep.model_key(s, p, SuperpositionTask(config))`` and, with
    ``config.common_across``, the common key ``toyscale.sweep.common_key(s, p,
    SuperpositionTask(config))``; pass them here to reproduce it on its own.

    Args:
      config: static settings.
      m: width.
      gamma: signed weight decay (Eq. 2): >= 0 weak, < 0 strong superposition.
      lr_w, lr_b: peak learning rates of W and b.
      frequencies: a :class:`~toyscale.frequencies.Frequencies` (or its dict / kind name).
      key: PRNG key (keyword-only); with ``config.common_across`` it is checked but not read,
        every draw coming from ``common_key``.
      common_key: the key of the draws shared across ``config.common_across`` (keyword-only):
        required with it, refused without it.

    Returns:
      Measurements as numpy arrays: ``test_loss``, ``loss_curve``, ``row_norms``,
      ``empty_loss`` (the loss of the empty model, W = 0 and b = 0, on the same test
      samples: a model at or above it does no better than outputting 0, and a warning says so),
      ``phi_half``, ``phi_one`` (NaN where W went non-finite), ``overlap_mean``,
      ``overlap_var``, ``n_represented``,
      ``overlap_mean_one``, ``overlap_var_one`` (the same moments among the rows with norm
      above 1, NaN below two such rows), ``truncated_batches`` (training and test batches
      whose events overflowed the sparse sampler's capacity; always 0 for the dense one),
      ``diverged`` (and ``W``, ``b`` if ``config.keep_weights``).
    """
    # (a JAX or numpy 0-d array as the number it holds, as superposition_grid reads its axes)
    m, gamma, lr_w, lr_b = _scalar_of(m, "iu"), *(_scalar_of(v, "iuf") for v in (gamma, lr_w, lr_b))
    _check_model_args(config, m, gamma, lr_w, lr_b)
    key = model_keys(key, common_key, config, "SuperpositionTask(config)")
    p = as_frequencies(frequencies).probs(config.n)
    inputs = _model_inputs(config, p, gamma, lr_w, lr_b)
    out = {k: np.asarray(v) for k, v in jax.jit(_train, static_argnums=(0, 1))(config, int(m), inputs, key).items()}
    if superposition.no_better_than_empty(out["diverged"], out):
        warnings.warn(_no_better_than_empty_message("the model", config, [out]), RuntimeWarning, stacklevel=2)
    return out


def _no_better_than_empty_message(what: str, config: TrainConfig, outputs: Sequence[Mapping[str, Any]]) -> str:
    # (b is not decayed, so a low enough b always reaches the empty model's loss; a model above it
    # has not found that yet: too few steps, too small a learning rate, or, under negative decay,
    # row norms growing faster than b can follow, as in the phase diagram's quick preset at m = 6,
    # n = 256, gamma = -1 and alpha <= 0.5, whose warning gives how far above it they end)
    def pct(v: float) -> str:
        return f"{v:.2g}" if abs(v) < 10 else f"{v:.0f}"

    # (an empty loss of 0, test samples with no active feature, has no relative excess)
    excess = sorted(100.0 * (float(o["test_loss"]) / float(o["empty_loss"]) - 1.0)
                    for o in outputs if float(o["empty_loss"]) > 0)
    by = ("" if not excess else f"; {pct(excess[0])} % above it" if pct(excess[0]) == pct(excess[-1])
          else f"; {pct(excess[0])}-{pct(excess[-1])} % above it")
    return (f"{what} ended with a test loss at or above the empty model's (W = 0, b = 0, on the same test "
            f"samples: 'empty_loss'{by}), doing no better than outputting 0; usually too few steps "
            f"(steps={config.steps}, warmup={config.warmup}) or too small a learning rate, or, under negative "
            f"weight decay (gamma < 0) at a small width, row norms growing faster than b can follow; check them "
            f"before reading a scaling law off them")


def _some(ids: Sequence[int]) -> str:
    """``N model(s) (ids [...])``, the first ten ids."""
    return f"{len(ids)} model(s) (ids {list(ids[:10])}{'...' if len(ids) > 10 else ''})"


@dataclasses.dataclass(frozen=True)
class SuperpositionTask:
    """The superposition toy model as a :class:`toyscale.sweep.Task` (static axis: m)."""

    settings: TrainConfig
    name: str = "superposition"

    def config(self) -> dict:
        """The settings as recorded in (and fingerprinted into) a sweep's manifest.

        ``matmul_precision`` and ``common_across`` are left out at their defaults ("float32",
        empty): sweeps saved before those fields existed were float32 runs with a key per model,
        and their folders must keep resuming.
        """
        config = self.settings.to_dict()
        for name, default in (("matmul_precision", "float32"), ("common_across", [])):
            if config[name] == default:
                del config[name]
        return config

    def static_of(self, point: Mapping[str, Any]) -> int | tuple[int, str]:
        """The width m; under sampler="auto", ``(m, "sparse" or "dense")``."""
        if self.settings.sampler != "auto":
            return int(point["m"])
        return int(point["m"]), self.settings.sampler_for(as_frequencies(point["frequencies"]).probs(self.settings.n))

    def identity_of(self, point: Mapping[str, Any]) -> dict:
        """The point with its frequency spec in one spelling (a name, a dict without
        defaults, a :class:`Frequencies` object: the same distribution keys the same model)."""
        return {**point, "frequencies": as_frequencies(point["frequencies"]).describe()}

    def inputs_of(self, point: Mapping[str, Any]) -> dict[str, np.ndarray]:
        p = as_frequencies(point["frequencies"]).probs(self.settings.n)
        return _model_inputs(self.settings, p, point["gamma"], point["lr_w"], point["lr_b"])

    def common_of(self, point: Mapping[str, Any]) -> dict | None:
        """With ``TrainConfig.common_across``, the identity without those fields: the points
        that share their draws (:func:`toyscale.sweep.common_key`); None without."""
        listed = self.settings.common_across
        if not listed:
            return None
        return {k: v for k, v in self.identity_of(point).items() if k not in listed}  # (label: the engine drops it)

    def model_fn(self, static: int | tuple[int, str], inputs, key):
        return _train(self.settings, _width(static), inputs, key)

    def bytes_per_model(self, static: int | tuple[int, str]) -> int:
        c = self.settings
        n, m, b = c.n, _width(static), c.batch
        # The overlap measurement's Gram blocks rule at a small batch: [512, n] blocks, their
        # square, a masked copy and the pair mask in bytes (n = 4000, batch 64 needed 18.8 MB where
        # one block was counted, 17.0 MB; n = 10000, batch 8 needed 45.8 MB where two, 42.1 MB);
        # at n <= 512 one [n, n] block, which XLA holds about 4.5 times (n = 500, batch 8: 4.5 MB
        # of temporaries, where n = 700 took 3.3 MB).
        overlap = 5 * n * n if n <= 512 else 3 * 512 * n + 128 * n
        # the loss curve twice, as XLA holds it (n = 16, batch 4, steps = 10^5, log_every = 1 needed 0.81 MB,
        # where 0.41 MB had been predicted)
        floats = 8 * b * n + 4 * b * m + 8 * n * m + overlap + 2 * (c.steps // c.log_every)
        # the sparse sampler's tables, event slots and the gathered rows of W (and their gradient)
        if c.sampler == "sparse" or (isinstance(static, tuple) and static[1] == "sparse"):
            floats += 2 * data.alias_columns(n) + 2 * c.event_capacity * (m + 8)
        return 4 * floats

    def steps(self, static: int | tuple[int, str]) -> int:
        return self.settings.steps


def _width(static: int | tuple[int, str]) -> int:
    """The width of a :meth:`SuperpositionTask.static_of` value."""
    return static[0] if isinstance(static, tuple) else static


LearningRate = float | Callable[[int], float]


def superposition_grid(
    *,
    widths: Sequence[int],
    gammas: Sequence[float],
    frequencies: Sequence[Frequencies | Mapping | str],
    lr_w: LearningRate | Sequence[float],
    lr_b: LearningRate | Sequence[float],
    seeds: int | Sequence[int] = (0,),
    n: int | None = None,
) -> list[dict]:
    """The product grid of a superposition sweep, width-major, as JSON-serialisable points.

    A learning rate may be a number, a list of numbers (swept), or a function of the
    width (a per-width rule such as the paper's ``lambda m: 0.02 * (8 / m) ** 0.25``).

    Args:
      widths, gammas, frequencies, seeds: the swept axes, each a list (``seeds`` may also be
        a count: ``seeds=3`` is ``[0, 1, 2]``, at most ``MAX_SEEDS``).
      lr_w, lr_b: peak learning rates of W and b.
      n: if given, every frequency spec is checked against it now (p_i <= 1).

    Returns:
      A list of points ``{"m", "gamma", "lr_w", "lr_b", "frequencies", "seed"}``; the
      model id of a point is its index here.
    """
    seeds = _scalar_of(seeds, "iu")  # (a 0-d array count, numpy's or JAX's, as an int)
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = list(range(check_int("seeds", seeds, 1, MAX_SEEDS)))  # (1e10 had run out of memory in range)
    elif isinstance(seeds, (bool, float, np.floating)):
        raise TypeError(f"seeds={seeds!r}; seeds must be a count (an int) or a list of integer labels")
    widths, gammas, frequencies, seeds = (check_axis(name, values) for name, values in (
        ("widths", widths), ("gammas", gammas), ("frequencies", frequencies), ("seeds", seeds)))
    # entries of JAX arrays (jnp.linspace gammas) as the numbers they hold, as numpy's are
    widths, gammas, seeds = ([_scalar_of(v, "iuf") for v in axis] for axis in (widths, gammas, seeds))
    freqs = [as_frequencies(f) for f in frequencies]
    described = [f.describe() for f in freqs]
    for i, d in enumerate(described):  # ("power_law" and power_law(1.2) are one spec: check_axis saw two values)
        if d in described[:i]:
            first = frequencies[described.index(d)]
            raise ValueError(f"frequencies={short_repr(frequencies)} holds {d} twice (as {first!r} and "
                             f"{frequencies[i]!r}); each value of an axis must be distinct (repeats of one "
                             f"configuration are its seeds)")
    seeds = [check_int("seed", s, 0) for s in seeds]  # (int() had made 0.5 and 0.7 one seed, 0)
    for m in widths:
        check_int("m", m)
    for g in gammas:
        _float32("gamma", g)
    if n is not None:
        for f in freqs:
            f.probs(n)

    def lr_values(name, lr):
        if callable(lr):
            return None
        if isinstance(lr, (str, bytes, Mapping)):  # (check_axis would suggest a list of it)
            raise TypeError(f"{name}={lr!r}; {name} must be a number, a list of numbers or a function of the "
                            f"width m, e.g. 0.01 or [0.01, 0.02]")
        if np.ndim(lr) == 0:  # a number, or a 0-d array of one
            values = [lr]
        else:
            values = check_axis(name, lr)
        return [_learning_rate(name, _scalar_of(v, "iuf")) for v in values]

    lw, lb = lr_values("lr_w", lr_w), lr_values("lr_b", lr_b)
    points = []
    for m in widths:
        lws = lw if lw is not None else [_learning_rate(f"lr_w({m})", _scalar_of(lr_w(m), "iuf"))]
        lbs = lb if lb is not None else [_learning_rate(f"lr_b({m})", _scalar_of(lr_b(m), "iuf"))]
        for g, f, a, b, s in itertools.product(gammas, freqs, lws, lbs, seeds):
            points.append({"m": int(m), "gamma": float(g), "lr_w": float(a), "lr_b": float(b),
                           "frequencies": f.describe(), "seed": int(s)})
    return points


# seed: an integer that enters the model's key (toyscale.sweep.model_key); label: a tag, kept, not read
_POINT_FIELDS = {"m", "gamma", "lr_w", "lr_b", "frequencies", "seed", "label"}


def check_superposition_points(config: TrainConfig, points: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The checks :func:`sweep_superposition` makes before anything compiles, on their own (an
    experiment script runs them on its preset before it starts): every point complete, known
    and valid under ``config``. Returns the points as dicts, frequency specs as their dicts.

    Raises:
      TypeError, ValueError: naming the point and the field.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config={short_repr(config)}; expected a toyscale.TrainConfig")
    points = check_points(points)
    for i, p in enumerate(points):
        missing = {"m", "gamma", "lr_w", "lr_b", "frequencies"} - set(p)
        if missing:
            raise ValueError(f"point {p} lacks {sorted(missing)}; build points with superposition_grid")
        unknown = set(p) - _POINT_FIELDS
        if unknown:
            raise ValueError(f"point {p} has unknown field(s) {sorted(unknown)}; a point holds only "
                             f"{sorted(_POINT_FIELDS)} ('label' for a tag of your own; settings shared by every "
                             f"model go in the TrainConfig)")
        try:  # (the field's message alone left a grid of a thousand points to search)
            if "seed" in p:
                check_int("seed", p["seed"], 0)
            # one spelling (a name, a partial dict and an object alike), stored in the manifest as JSON
            spec = as_frequencies(p["frequencies"])
            p["frequencies"] = spec.describe()
            _check_model_args(config, p["m"], p["gamma"], p["lr_w"], p["lr_b"])
            config.check_frequencies(spec.probs(config.n), f"frequencies={p['frequencies']}")
        except (TypeError, ValueError) as e:
            if type(e) not in (TypeError, ValueError):
                raise
            raise type(e)(f"point {i} {short_repr(p)}: {e}") from None
    return points


def sweep_superposition(
    config: TrainConfig,
    points: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    out: str | None = None,
    **engine_options: Any,
) -> SweepResult:
    """Trains every point of a superposition grid (see :func:`superposition_grid`).

    All validation happens here, before anything compiles. ``engine_options`` go to
    :func:`toyscale.sweep.run_sweep` (``memory_budget``, ``chunk_size``, ``devices``,
    ``progress``, ...). The result's ``stats`` also list the ids of the models whose sparse
    sampler overflowed (``truncated_models``) and of the finite ones that ended no better
    than the empty model (``no_better_than_empty``); a warning names each kind.
    """
    points = check_superposition_points(config, points)
    result = run_sweep(SuperpositionTask(config), points, seed=seed, out=out, **engine_options)
    over = [r.model_id for r in result if int(r.outputs.get("truncated_batches", 0)) > 0]
    if over:
        warnings.warn(f"{_some(over)} had batches whose events overflowed the sparse sampler's "
                      f"{config.event_capacity} slots (see their 'truncated_batches'); raise TrainConfig.max_rate "
                      f"(now {config.max_rate})", RuntimeWarning, stacklevel=2)
    idle_records = [r for r in result if superposition.no_better_than_empty(r.diverged, r.outputs)]
    idle = [r.model_id for r in idle_records]
    # (the scripts save the stats in their summary.json)
    result.stats.update(truncated_models=over, no_better_than_empty=idle)
    if idle:
        warnings.warn(_no_better_than_empty_message(f"{_some(idle)} of {len(result)}", config,
                                                    [r.outputs for r in idle_records]), RuntimeWarning, stacklevel=2)
    return result
