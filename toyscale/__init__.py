"""toyscale: neural scaling laws by simulation.

The path of data, one module per stage:

* :mod:`toyscale.frequencies` -- feature frequencies p_i (power law, exponential, linear, custom)
* :mod:`toyscale.data` -- sparse samples x_i = u_i v_i
* :mod:`toyscale.superposition` -- the toy model y = ReLU(W W^T x + b)
* :mod:`toyscale.optim` -- Adam with the signed per-row weight decay (optax pieces)
* :mod:`toyscale.train` -- one model, or a grid through the sweep engine (:mod:`toyscale.sweep`)
* :mod:`toyscale.measure` -- row norms, represented fraction, overlaps
* :mod:`toyscale.fitting`, :mod:`toyscale.scaling` -- power-law and Chinchilla fits, width exponents
* :mod:`toyscale.random_features`, :mod:`toyscale.theory` -- random-feature regression and
  its deterministic-equivalent theory, sharing one config
* :mod:`toyscale.plrf` -- power-law random features under one-pass SGD (Paquette et al. 2024)
* :mod:`toyscale.plots` -- figures (imported on demand: it loads matplotlib)
"""

__version__ = "0.1.1"

from toyscale.frequencies import Frequencies, custom, exponential, linear, power_law
from toyscale.data import sample_features
from toyscale.superposition import forward, init_params, loss
from toyscale.optim import signed_row_decay, superposition_optimizer, warmup_cosine
from toyscale.sweep import Record, SweepResult, common_key, load_sweep, model_key, run_sweep
from toyscale.train import SuperpositionTask, TrainConfig, superposition_grid, sweep_superposition, train_model
from toyscale.measure import overlap_stats, represented_fraction, row_norms
from toyscale.fitting import (
    BESIROGLU_2024,
    CHINCHILLA_PUBLISHED,
    ChinchillaFit,
    ChinchillaParams,
    ComputeOptimal,
    AllocationFit,
    BrokenPowerLawFit,
    Extrapolation,
    NotIdentifiableError,
    PowerLawFit,
    chinchilla_extrapolation_error,
    chinchilla_grid,
    compute_optimal,
    extrapolation_error,
    fit_broken_power_law,
    fit_chinchilla,
    fit_frontier,
    fit_isoflop,
    fit_power_law,
)
from toyscale.scaling import CurveNotFittedError, WidthCurve, fit_width_curve, width_curve, width_exponent
from toyscale import plrf, random_features, theory
from toyscale.random_features import RandomFeatureTask, RFConfig, random_feature_grid, sweep_random_features, train_random_features
from toyscale.theory import expected_test_loss, krr_risk, rf_risk
