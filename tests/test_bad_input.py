"""Bad input: every public function raises a ValueError that names the argument.

One table for the whole public API: (argument named in the message, call).
"""

import numpy as np
import pytest
from conftest import SCHED

import lindiff_core as ld
from lindiff import checks as lc
from lindiff import nn

_X = np.random.default_rng(0).standard_normal((5, 3))
_DEN = ld.fit_linear_denoiser(_X, SCHED)
_RNG = np.random.default_rng(0)
_G3 = ld.Gaussian(np.zeros(3), np.diag([2.0, 1.0, 0.5]))
_RHO3 = ld.power_law_gaussian(3, 1.0)
_TINY = ld.linear_schedule(T=10)
_INIT_DEN = ld.fit_from_init(_X, SCHED, np.eye(3), 1.0)

BAD_INPUTS = [
    ("X", lambda: ld.fit_linear_denoiser(_X[0], SCHED)),  # 1-d
    ("X", lambda: ld.fit_linear_denoiser(_X[:1], SCHED)),  # N < 2
    ("X", lambda: ld.fit_linear_denoiser(np.where(_X > 1, np.nan, _X), SCHED)),  # NaN
    ("X", lambda: ld.fit_linear_denoiser(np.where(_X > 1, np.inf, _X), SCHED)),  # inf
    (
        "X",
        lambda: ld.fit_linear_denoiser([["a", "b"], ["c", "d"]], SCHED),
    ),  # not numeric
    ("weight_decay", lambda: ld.fit_linear_denoiser(_X, SCHED, weight_decay=-1e-3)),
    ("weight_decay", lambda: ld.fit_linear_denoiser(_X, SCHED, weight_decay=np.nan)),
    ("train_time", lambda: ld.fit_linear_denoiser(_X, SCHED, train_time=-1.0)),
    ("sched", lambda: ld.fit_linear_denoiser(_X, SCHED.beta)),
    ("t", lambda: _DEN.weights(0)),
    ("t", lambda: _DEN.weights(SCHED.T + 1)),
    ("t", lambda: _DEN.weights(1.5)),
    ("cov", lambda: ld.Gaussian(np.zeros(2), [[1.0, 0.0], [0.0, -1.0]])),  # not PSD
    (
        "cov",
        lambda: ld.Gaussian(np.zeros(2), [[1.0, 0.5], [0.0, 1.0]]),
    ),  # not symmetric
    ("cov", lambda: ld.Gaussian(np.zeros(3), np.eye(2))),  # shape
    ("mean", lambda: ld.Gaussian([np.nan, 0.0], np.eye(2))),
    (
        "basis",
        lambda: ld.Gaussian.from_eigen(np.zeros(3), [1.0, 1.0], basis=np.ones((3, 2))),
    ),
    ("eigenvalues", lambda: ld.Gaussian.from_eigen(np.zeros(2), [1.0, -1.0])),
    (
        "rest",
        lambda: ld.Gaussian.from_eigen(
            np.zeros(2), [1.0], basis=[[1.0], [0.0]], rest=-1
        ),
    ),
    ("T", lambda: ld.linear_schedule(T=0)),
    ("beta_min", lambda: ld.linear_schedule(beta_min=0.0)),
    ("beta_max", lambda: ld.linear_schedule(beta_max=1.0)),
    ("beta_max", lambda: ld.linear_schedule(beta_min=1e-2, beta_max=1e-3)),
    ("beta", lambda: ld.Schedule(np.array([0.1, 1.2]))),
    ("d", lambda: ld.power_law_gaussian(0, 1.0)),
    ("k", lambda: ld.power_law_gaussian(10, -0.5)),
    ("rng", lambda: ld.power_law_gaussian(10, 1.0, rng=42)),
    ("n", lambda: ld.power_law_gaussian(3, 1.0).sample(-1, _RNG)),
    ("rng", lambda: ld.power_law_gaussian(3, 1.0).sample(5, None)),
    ("rho", lambda: ld.test_loss(_DEN, SCHED, ld.power_law_gaussian(4, 1.0))),
    ("rho", lambda: ld.test_loss(_DEN, SCHED, np.eye(3))),
    (
        "sched",
        lambda: ld.test_loss(
            _DEN, ld.linear_schedule(T=10), ld.power_law_gaussian(3, 1.0)
        ),
    ),
    ("den", lambda: ld.train_loss("W", SCHED, _X)),
    ("dens", lambda: ld.test_losses([], SCHED, ld.power_law_gaussian(3, 1.0))),
    ("dens", lambda: ld.test_losses([_DEN, "W"], SCHED, ld.power_law_gaussian(3, 1.0))),
    ("rho", lambda: ld.test_losses([_DEN], SCHED, ld.power_law_gaussian(4, 1.0))),
    ("X", lambda: ld.train_loss(_DEN, SCHED, np.ones((4, 5)))),
    ("lam", lambda: ld.denoiser_gain(-1.0, SCHED)),
    ("x", lambda: _DEN.apply(np.ones((2, 4)), 1)),
    ("sampler", lambda: ld.generated_distribution(_DEN, SCHED, sampler="euler")),
    ("sigma", lambda: ld.generated_distribution(_DEN, SCHED, sigma="zero")),
    ("n", lambda: ld.sample(_DEN, SCHED, 2.5, _RNG)),
    ("rng", lambda: ld.sample(_DEN, SCHED, 2, 0)),
    ("batch", lambda: ld.sample(_DEN, SCHED, 2, _RNG, batch=0)),
    ("p", lambda: ld.kl_divergence(np.eye(3), ld.power_law_gaussian(3, 1.0))),
    (
        "q",
        lambda: ld.kl_divergence(
            ld.power_law_gaussian(3, 1.0), ld.power_law_gaussian(4, 1.0)
        ),
    ),
    ("lam", lambda: ld.generated_moments(np.array([-1.0]), SCHED)),
    ("eigenvalues", lambda: ld.silverstein_kappa([-1.0, 1.0], 10, 0.1)),
    ("eigenvalues", lambda: ld.silverstein_kappa([0.0, 0.0], 10, 0.1)),
    ("N", lambda: ld.silverstein_kappa([1.0], 0, 0.1)),
    ("c", lambda: ld.silverstein_kappa([1.0], 10, -0.1)),
    ("c", lambda: ld.silverstein_kappa([1.0], 10, np.nan)),
    ("c", lambda: ld.typical_case([1.0, 2.0], 10, 0.0)),
    ("N", lambda: ld.typical_case([1.0, 2.0], 1, 0.1)),
    ("N", lambda: ld.expected_kl_empirical(10, 10)),
    ("N", lambda: ld.expected_kl_empirical(10, 12, reverse=True)),
    ("eigenvalues", lambda: ld.predict_kl([0.0, 1.0], 10, 0.1)),
    ("sched", lambda: ld.predict_losses([1.0, 2.0], 10, "linear")),
    ("eigenvalues", lambda: ld.limiting_density([-1.0, 1.0], 10)),
    ("N", lambda: ld.limiting_density([1.0, 2.0], 1)),
    ("x", lambda: ld.limiting_density([1.0, 2.0], 10, x=[np.nan])),
    ("x", lambda: ld.limiting_cdf([1.0, 2.0], 10, x="all")),
    ("phi", lambda: ld.typical_average(2.0, [1.0, 2.0], 10)),
    ("weights", lambda: ld.typical_average(np.exp, [1.0, 2.0], 10, weights=[1.0])),
    ("rtol", lambda: ld.typical_average(np.exp, [1.0, 2.0], 10, rtol=0.0)),
    ("eigenvalues", lambda: ld.predict_metrics([0.0, 1.0], 10, SCHED)),
    ("weight_decay", lambda: ld.predict_metrics([1.0, 2.0], 10, SCHED, -1.0)),
    ("train_time", lambda: ld.predict_metrics([1.0], 10, SCHED, train_time=0.0)),
    ("sched", lambda: ld.predict_metrics([1.0, 2.0], 10, "linear")),
    (
        "regularization",
        lambda: ld.predict_metrics([1.0], 10, SCHED, regularization="l1"),
    ),
    ("learning_rate", lambda: ld.gradient_descent(_X, SCHED, 1, 0.0, 10)),
    ("n_steps", lambda: ld.gradient_descent(_X, SCHED, 1, 0.1, -1)),
    ("t", lambda: ld.gradient_descent(_X, SCHED, 0, 0.1, 10)),
    (
        "weight_decay",
        lambda: ld.gradient_descent(_X, SCHED, 1, 0.1, 10, weight_decay=-1.0),
    ),
    ("X", lambda: ld.gradient_descent(_X[:1], SCHED, 1, 0.1, 10)),
    ("init", lambda: ld.gradient_descent(_X, SCHED, 1, 0.1, 10, init=np.eye(2))),
    (
        "init",
        lambda: ld.gradient_descent(
            _X, SCHED, 1, 0.1, 10, init=np.full((3, 3), np.inf)
        ),
    ),
    ("d", lambda: ld.random_init(0, SCHED, _RNG)),
    ("rng", lambda: ld.random_init(3, SCHED, 0)),
    ("scale", lambda: ld.random_init(3, SCHED, _RNG, scale=-1.0)),
    ("scale", lambda: ld.random_init(3, SCHED, _RNG, scale=np.nan)),
    ("sched", lambda: ld.random_init(3, None, _RNG)),
    ("init", lambda: ld.fit_from_init(_X, SCHED, np.zeros((2, 3, 3)), 1.0)),
    ("init", lambda: ld.fit_from_init(_X, SCHED, np.full((3, 3), np.nan), 1.0)),
    ("init", lambda: ld.fit_from_init(_X, SCHED, "random", 1.0)),
    ("train_time", lambda: ld.fit_from_init(_X, SCHED, np.eye(3), -1.0)),
    ("weight_decay", lambda: ld.fit_from_init(_X, SCHED, np.eye(3), 1.0, -1.0)),
    (
        "regularization",
        lambda: ld.fit_from_init(_X, SCHED, np.eye(3), 1.0, 0.1, "scaled"),
    ),
    ("X", lambda: ld.fit_from_init(_X[:1], SCHED, np.eye(3), 1.0)),
    ("t", lambda: ld.fit_from_init(_X, SCHED, np.eye(3), 1.0).weights(0)),
    (
        "x",
        lambda: ld.fit_from_init(_X, SCHED, np.eye(3), 1.0).apply(np.ones((2, 2)), 1),
    ),
    ("sched", lambda: ld.generated_distribution(_INIT_DEN, _TINY)),
    (
        "weight_decay",
        lambda: ld.predict_losses([1.0, 2.0], 10, SCHED, weight_decay=-0.1),
    ),
    (
        "train_time",
        lambda: ld.generated_moments(np.array([1.0]), SCHED, train_time=np.nan),
    ),
    ("N", lambda: ld.variance_kl_empirical(10, 10)),
    ("d", lambda: ld.variance_kl_empirical(0, 10)),
    ("d", lambda: ld.expected_kl_empirical(0, 10)),
    ("den", lambda: ld.missing_variance(None, _RHO3)),
    ("rho", lambda: ld.missing_variance(_DEN, ld.power_law_gaussian(4, 1.0))),
    ("rho", lambda: ld.optimal_loss("rho", SCHED)),
    ("sched", lambda: ld.optimal_loss(_RHO3, None)),
    ("X", lambda: ld.Gaussian.from_samples(np.ones((1, 3)))),
    ("X", lambda: ld.Gaussian.from_samples(np.ones(3))),
    ("N", lambda: ld.predict_missing_variance([1.0, 2.0], 1)),
    ("eigenvalues", lambda: ld.typical_case(np.ones((2, 2)), 10, 0.1)),
    ("learning_rate", lambda: ld.gradient_descent(_X, SCHED, 1, np.nan, 10)),
    ("weight_decay", lambda: ld.denoiser_gain(1.0, SCHED, weight_decay=np.inf)),
    ("sampler", lambda: ld.sampler_noise(SCHED, sampler="euler")),
    ("train_time", lambda: ld.denoiser_gain(1.0, SCHED, train_time="long")),
    ("sched", lambda: ld.generated_moments(np.array([1.0]), "schedule")),
    ("x", lambda: _DEN.apply(np.ones(3), 1)),
    ("t", lambda: _DEN.apply(np.ones((2, 3)), 0)),
    ("c", lambda: ld.predict_kl([1.0, 2.0], 10, 0.0)),
    ("weight_decay", lambda: ld.generated_floor(SCHED, weight_decay=-1.0)),
    ("sigma", lambda: ld.generated_floor(SCHED, sigma="half")),
    ("rho", lambda: ld.generated_limit(_X, SCHED)),
    ("train_time", lambda: ld.generated_limit(_RHO3, SCHED, train_time=np.nan)),
    ("den", lambda: ld.null_mass("den", _RHO3)),
    ("rho", lambda: ld.null_mass(_DEN, ld.power_law_gaussian(4, 1.0))),
    ("c", lambda: _RHO3.plus_isotropic(-0.1)),
    ("c", lambda: _RHO3.plus_isotropic(np.inf)),
    ("rho", lambda: ld.exact_metrics(_DEN, SCHED, _X, _X)),
    ("X", lambda: ld.exact_metrics(_DEN, SCHED, _RHO3, _X[:, :2])),
    ("X", lambda: ld.exact_metrics(_DEN, SCHED, _RHO3, np.full((5, 3), np.nan))),
    ("sched", lambda: ld.exact_metrics(_DEN, ld.linear_schedule(10), _RHO3, _X)),
    ("sampler", lambda: ld.exact_metrics(_DEN, SCHED, _RHO3, _X, sampler="euler")),
    ("N", lambda: ld.trial(3, 1.0, 1, SCHED, _RNG)),
    ("d", lambda: ld.trial(0, 1.0, 4, SCHED, _RNG)),
    ("rng", lambda: ld.trial(3, 1.0, 4, SCHED, 0)),
    ("sigma", lambda: ld.trial(3, 1.0, 4, SCHED, _RNG, sigma="beta_t")),
    ("X", lambda: ld.empirical_denoiser(np.ones(3), SCHED)),
    ("X", lambda: ld.empirical_denoiser(np.full((2, 3), np.inf), SCHED)),
    ("sched", lambda: ld.empirical_denoiser(_X, None)),
    ("t", lambda: ld.empirical_denoiser(_X, SCHED)(_X, 0)),
    ("t", lambda: ld.empirical_denoiser(_X, SCHED)(_X, SCHED.T + 1)),
    ("x", lambda: ld.empirical_denoiser(_X, SCHED)(np.ones((2, 4)), 1)),
    ("x", lambda: ld.empirical_denoiser(_X, SCHED)(np.full((2, 3), np.nan), 1)),
    ("X", lambda: ld.nearest_distance_ratio(_X, _X[:1])),
    ("X", lambda: ld.nearest_distance_ratio(_X, np.zeros((3, 3)))),
    ("U", lambda: ld.nearest_distance_ratio(np.ones((2, 4)), _X)),
    ("U", lambda: ld.nearest_training_point(np.ones((2, 4)), _X)),
    ("path", lambda: ld.run_chain(_DEN.apply, SCHED, 2, 3, _RNG, path="yes")),
    ("U", lambda: ld.nearest_training_point(np.full((2, 3), np.nan), _X)),
    ("X", lambda: ld.nearest_training_point(_X, np.zeros((0, 3)))),
    ("U", lambda: ld.fitted_kl(np.ones((3, 3)), ld.Gaussian(np.zeros(3), np.eye(3)))),
    ("U", lambda: ld.fitted_kl(np.ones((9, 2)), ld.Gaussian(np.zeros(3), np.eye(3)))),
    ("rho", lambda: ld.fitted_kl(np.ones((9, 3)), np.eye(3))),
    ("name", lambda: ld.load_image_dataset("mnist")),
    ("mean", lambda: ld.predict_metrics([1.0, 0.5], 4, SCHED, mean=[1.0])),
    ("size", lambda: ld.load_image_dataset("patches", size=12)),
    ("size", lambda: ld.load_image_dataset("digits", size=8)),
    ("split", lambda: ld.load_image_dataset("digits", split="validation")),
    ("support", lambda: ld.kl_divergence(_G3, _G3, support=np.eye(3))),
    (
        "support",
        lambda: ld.kl_divergence(_G3, _G3, support=ld.Gaussian(np.zeros(2), np.eye(2))),
    ),
    ("basis", lambda: _G3.marginal(np.ones((3, 2)))),
    ("basis", lambda: _G3.marginal(np.eye(4))),
    ("origin", lambda: _G3.marginal(np.eye(3)[:, :2], np.zeros(2))),
    ("regularization", lambda: ld.fit_linear_denoiser(_X, SCHED, 0.1, None, "scaled")),
    ("regularization", lambda: ld.denoiser_gain([1.0], SCHED, regularization=None)),
    ("regularization", lambda: ld.predict_losses([1.0, 0.5], 4, SCHED, 0.1, "ridge")),
    (
        "weight_decay",
        lambda: ld.generated_floor(SCHED, -1.0, regularization="step-scaled"),
    ),
    ("T", lambda: ld.authors_schedule(1)),
    ("hi", lambda: ld.fit_power_law(np.ones(5), 2, 6)),
    ("hi", lambda: ld.fit_power_law(np.ones(5), 3, 3)),
    ("lo", lambda: ld.fit_power_law(np.ones(5), 0, 3)),
    ("X", lambda: ld.spectrum_jackknife(_X, np.sum, groups=6)),  # rows < groups
    ("X", lambda: ld.spectrum_jackknife(_X[0], np.sum)),
    ("groups", lambda: ld.spectrum_jackknife(_X, np.sum, groups=1)),
    ("statistic", lambda: ld.spectrum_jackknife(_X, "sum", groups=2)),
    ("hi", lambda: lc.power_law(np.ones(9), 2, 3)),
    ("lo", lambda: lc.power_law(np.ones(9), 0, 8)),
    ("tolerance", lambda: lc.power_law(np.ones(9), 1, 8, tolerance=0)),
    ("eigenvalues", lambda: ld.fit_power_law(np.array([1.0, 0.5, 0.0]), 1, 3)),
    # the networks of lindiff.nn
    ("sched", lambda: nn.train_per_step(_X, "schedule")),
    ("X", lambda: nn.train_per_step(np.ones(3), _TINY)),
    ("X", lambda: nn.train_shared(np.full((3, 2), np.nan), _TINY)),
    ("n_steps", lambda: nn.train_per_step(_X, _TINY, n_steps=0)),
    ("batch", lambda: nn.train_shared(_X, _TINY, batch=2.5)),
    ("learning_rate", lambda: nn.train_shared(_X, _TINY, learning_rate=-1.0)),
    ("width", lambda: nn.train_per_step(_X, _TINY, width=0)),
    ("embedding", lambda: nn.train_shared(_X, _TINY, embedding=7)),
    ("depth", lambda: nn.train_shared(_X, _TINY, depth=0)),
    ("skip", lambda: nn.train_shared(_X, _TINY, skip="yes")),
    ("checkpoints", lambda: nn.train_shared(_X, _TINY, n_steps=5, checkpoints=2)),
    ("checkpoints", lambda: nn.train_per_step(_X, _TINY, checkpoints=0)),
    ("i", lambda: nn.train_shared(_X, _TINY, width=4, n_steps=2).at(1)),
    ("i", lambda: nn.train_shared(_X, _TINY, width=4, n_steps=2).at(-1)),
    ("decay", lambda: nn.train_shared(_X, _TINY, width=4, n_steps=2, decay=1)),
    ("X", lambda: nn.train_linear(np.ones(3), _TINY)),
    ("scale", lambda: nn.train_linear(_X, _TINY, scale=-1.0)),
    ("learning_rate", lambda: nn.train_linear(_X, _TINY, learning_rate=0.0)),
    ("t", lambda: nn.train_linear(_X, _TINY, n_steps=2).weights(0)),
]


@pytest.mark.parametrize(
    "name,call", BAD_INPUTS, ids=[f"{i:02d}-{n}" for i, (n, _) in enumerate(BAD_INPUTS)]
)
def test_bad_input_raises_value_error_naming_the_argument(name, call):
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        call()
