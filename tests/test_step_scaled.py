"""The step-scaled regularizer of the authors' code: ``gamma_t = abar_t c``."""

import numpy as np
import pytest
from conftest import EPS, SCHED, assert_close

import lindiff_core as ld


@pytest.mark.parametrize("c", [1e-4, 1e-2, 1.0])
def test_step_scaled_gain_is_the_gain_of_the_shifted_variance(c):
    lam = np.array([0.0, 1e-3, 0.1, 1.0, 10.0])
    a = ld.denoiser_gain(lam, SCHED, c, regularization="step-scaled")
    b = ld.denoiser_gain(lam + c, SCHED)
    # the same formula with abar_t c + (1 - abar_t) = C computed in two orders: a few
    # EPS relative; 1e-13 leaves 100x over what is measured (~1e-15)
    assert_close(a, b, 1e-13, "gains")


@pytest.mark.parametrize("c", [1e-3, 0.1])
def test_step_scaled_generated_variance_is_shifted(c):
    lam = np.logspace(-4, 1, 12)
    f_reg, h_reg = ld.generated_moments(lam, SCHED, c, regularization="step-scaled")
    f0, h0 = ld.generated_moments(lam + c, SCHED)
    # f(lam; c) = f(lam + c; 0): products of T factors each carrying a few EPS
    assert_close(f_reg, f0, 1e-11, "f")
    assert_close(h_reg, h0, 1e-11, "h")


def test_step_scaled_weights_are_the_optimal_denoiser_of_sigma0_plus_c():
    rng = np.random.default_rng(60)
    d, N, c = 6, 4, 0.05
    X = rng.standard_normal((N, d))
    den = ld.fit_linear_denoiser(X, SCHED, c, regularization="step-scaled")
    S0 = np.cov(X.T, bias=True)
    for t in [1, 10, 500, 1000]:
        a = SCHED.alpha_bar[t - 1]
        W = np.sqrt(1 - a) * np.linalg.inv(
            a * (S0 + c * np.eye(d)) + (1 - a) * np.eye(d)
        )
        # a d x d inverse of a matrix with condition number below 1 / c: 1e-10
        assert_close(den.weights(t)[0], W, 1e-10, f"W at t = {t}")


def test_step_scaled_gradient_descent_matches_its_closed_form():
    rng = np.random.default_rng(61)
    X = rng.standard_normal((5, 4))
    c, t, eta = 0.1, 200, 0.05
    W, _ = ld.gradient_descent(X, SCHED, t, eta, 4000, c, regularization="step-scaled")
    den = ld.fit_linear_denoiser(X, SCHED, c, regularization="step-scaled")
    # converged: the contraction factor (1 - 2 eta C) ** 4000 with C >= abar_t c + 1 -
    # abar_t is far below EPS
    assert_close(W, den.weights(t)[0], 1e-10, "converged W")


def test_predict_losses_step_scaled_is_the_shifted_ridge():
    lam = ld.power_law_spectrum(64, 1.0)
    c = 0.01
    train, test = ld.predict_losses(lam, 32, SCHED, c, regularization="step-scaled")
    train_c, test_c = ld.predict_losses(
        lam, 32, SCHED, c * SCHED.alpha_bar[0], regularization="constant"
    )
    # at t = 1 the two ridges agree (gamma_1 = abar_1 c), elsewhere they differ
    assert_close(train[0], train_c[0], 1e-12, "train at t = 1")
    assert not np.allclose(test[500], test_c[500])


def test_authors_schedule():
    sched = ld.authors_schedule()
    assert sched.T == 1000 and sched.beta[0] == 1e-4
    assert abs(sched.beta[-1] - 2e-2) < 10 * EPS
    assert ld.generated_floor(sched) == pytest.approx(1e-4, rel=1e-12)
