"""The core of *Generalization Dynamics of Linear Diffusion Models*: the one import of
every chapter, ``import lindiff_core as ld``.

This module defines nothing: it re-exports the public names of the package
:mod:`lindiff`, whose modules hold one concern each and name the chapter that derives
what they hold (:mod:`lindiff.schedule`, :mod:`lindiff.gaussian`,
:mod:`lindiff.denoiser`, :mod:`lindiff.losses`, :mod:`lindiff.sampler`,
:mod:`lindiff.chain`, :mod:`lindiff.kl`, :mod:`lindiff.metrics`,
:mod:`lindiff.rmt.silverstein`, :mod:`lindiff.rmt.density`, :mod:`lindiff.rmt.contour`,
:mod:`lindiff.training`, :mod:`lindiff.memorization`, :mod:`lindiff.data`).

Conventions (see the book's introduction):

* time steps ``t = 1..T``; arrays over time have index ``t - 1``;
* the forward process is ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``;
* the denoiser is ``eps_theta(x, t) = W_t x + b_t``, one ``(W_t, b_t)`` per step,
  trained on the sample-averaged, exactly noise-averaged loss
  ``L_t = (1/N) sum_i E_eps ||eps - W_t x_t - b_t||^2 + gamma ||W_t||_F^2``;
* everything lives in an eigenbasis: a Gaussian is a mean, an orthonormal basis
  ``V`` (d x r), eigenvalues (r,) and one variance ``rest`` shared by the
  ``d - r`` directions orthogonal to ``V``; a trained linear denoiser is the
  eigenbasis of the empirical covariance plus per-step gains of shape (T, r).
  Dense d x d matrices are built only on request, for checks.

All functions are pure: randomness enters only through an explicit
``numpy.random.Generator``; nothing prints or plots.
"""

from lindiff.schedule import (
    REGULARIZATIONS,
    Schedule,
    linear_schedule,
    authors_schedule,
)
from lindiff.gaussian import (
    Gaussian,
    power_law_spectrum,
    power_law_gaussian,
)
from lindiff.denoiser import (
    LinearDenoiser,
    denoiser_gain,
    fit_linear_denoiser,
    InitializedDenoiser,
)
from lindiff.losses import (
    train_loss,
    test_loss,
    test_losses,
    optimal_loss,
    missing_variance,
    null_mass,
)
from lindiff.sampler import (
    sampler_noise,
)
from lindiff.chain import (
    generated_moments,
    generated_floor,
    generated_distribution,
    run_chain,
    sample,
)
from lindiff.kl import (
    kl_divergence,
    expected_kl_empirical,
    variance_kl_empirical,
)
from lindiff.metrics import (
    generated_limit,
    Metrics,
    exact_metrics,
    trial,
)
from lindiff.rmt.silverstein import (
    silverstein_kappa,
    TypicalCase,
    typical_case,
    predict_losses,
    optimal_weight_decay,
    predict_missing_variance,
    predict_kl,
)
from lindiff.rmt.density import (
    LimitingSpectrum,
    limiting_density,
    limiting_cdf,
    typical_average,
)
from lindiff.rmt.contour import (
    TypicalMetrics,
    predict_metrics,
)
from lindiff.training import (
    gradient_descent,
    random_init,
    fit_from_init,
)
from lindiff.memorization import (
    empirical_denoiser,
    nearest_training_point,
    nearest_distance_ratio,
    fitted_kl,
)
from lindiff.data import (
    IMAGE_DATASETS,
    PHOTOS,
    SPLITS,
    data_folder,
    load_image_dataset,
    fit_power_law,
    spectrum_jackknife,
)

__all__ = [
    # chapter 1
    "Schedule",
    "linear_schedule",
    "authors_schedule",
    "REGULARIZATIONS",
    "Gaussian",
    "power_law_spectrum",
    "power_law_gaussian",
    "LinearDenoiser",
    "denoiser_gain",
    "fit_linear_denoiser",
    "train_loss",
    "test_loss",
    "test_losses",
    # chapter 2
    "sampler_noise",
    "generated_moments",
    "generated_floor",
    "generated_distribution",
    "run_chain",
    "sample",
    # chapter 3
    "optimal_loss",
    "missing_variance",
    "null_mass",
    # chapter 4
    "kl_divergence",
    "generated_limit",
    "Metrics",
    "exact_metrics",
    "trial",
    "expected_kl_empirical",
    "variance_kl_empirical",
    # chapters 5 and 6
    "silverstein_kappa",
    "TypicalCase",
    "typical_case",
    "predict_losses",
    "optimal_weight_decay",
    "predict_missing_variance",
    "predict_kl",
    "LimitingSpectrum",
    "limiting_density",
    "limiting_cdf",
    "typical_average",
    "TypicalMetrics",
    "predict_metrics",
    # chapter 7
    "gradient_descent",
    "random_init",
    "InitializedDenoiser",
    "fit_from_init",
    # chapter 8
    "empirical_denoiser",
    "nearest_training_point",
    "nearest_distance_ratio",
    "fitted_kl",
    # chapter 9
    "IMAGE_DATASETS",
    "PHOTOS",
    "SPLITS",
    "data_folder",
    "load_image_dataset",
    "fit_power_law",
    "spectrum_jackknife",
]
