"""Chapter 7: gradient flow and gradient descent from a random initialization."""

import numpy as np
import pytest
from conftest import EPS, SCHED, assert_close, assert_fails, assert_passes
from scipy.linalg import expm

from lindiff import checks as lc
import lindiff_core as ld
from lindiff import reference as ref

D, N = 7, 4


def _setup(seed=70, d=D, n=N, scale=None):
    rng = np.random.default_rng(seed)
    rho = ld.power_law_gaussian(d, 1.0, rng)
    X = rho.sample(n, rng)
    return rng, rho, X, ld.random_init(d, SCHED, rng, scale)


def _reference_weights(X, t, init, tau, gamma=0.0):
    """``W*(Id - expm(-2 tau C)) + W(0) expm(-2 tau C)``, densely."""
    d = X.shape[1]
    a = SCHED.alpha_bar[t - 1]
    C = a * np.cov(X.T, bias=True) + (1 - a + gamma) * np.eye(d)
    E = expm(-2 * tau * C)
    return ref.dense_denoiser(X, SCHED, t, gamma)[0] @ (np.eye(d) - E) + init @ E


def test_random_init_draws_the_authors_scale():
    init = ld.random_init(32, ld.linear_schedule(T=200), np.random.default_rng(1))
    assert init.shape == (200, 32, 32)
    # 204800 entries of variance 1/32: the sample variance has relative sd sqrt(2/n)
    n = init.size
    z = (init.var() * 32 - 1) / np.sqrt(2 / n)
    assert_passes(lc.z_scores([z], "variance of the entries"))
    assert_fails(lc.z_scores([(init.var() * 31 - 1) / np.sqrt(2 / n)], "1/31"))


@pytest.mark.parametrize("tau", [0.3, 20.0, 3000.0])
@pytest.mark.parametrize("regularization", ["constant", "step-scaled"])
def test_flow_from_init_is_the_matrix_exponential(tau, regularization):
    _, _, X, init = _setup()
    c = 0.01
    den = ld.fit_from_init(X, SCHED, init, tau, c, regularization)
    for t in [1, 2, 50, 600, 1000]:
        gamma = c if regularization == "constant" else c * SCHED.alpha_bar[t - 1]
        W, b = den.weights(t)
        expected = _reference_weights(X, t, init[t - 1], tau, gamma)
        # expm of a matrix of norm up to 2 tau ~ 1e4 by scaling and squaring: ~1e4 EPS
        # relative, times the dense solve's d cond(C) ~ 1e2: ~ 1e-10 at worst
        assert_close(W, expected, 1e-8, f"W_{t}")
        mean = X.mean(axis=0)
        assert_close(b, -np.sqrt(SCHED.alpha_bar[t - 1]) * W @ mean, 1e3 * EPS, "b")
        x = np.random.default_rng(t).standard_normal((3, D))
        assert_close(den.apply(x, t), x @ W.T + b, 1e3 * EPS, f"eps at t = {t}")


def test_a_halved_decay_rate_fails():
    _, _, X, init = _setup()
    den = ld.fit_from_init(X, SCHED, init, 20.0)
    wrong = _reference_weights(X, 300, init[299], 10.0)  # exp(-tau C) for exp(-2 tau C)
    assert_fails(lc.close(den.weights(300)[0], wrong, 1e-8))


def test_converged_or_zero_init_is_the_flow_from_zero():
    _, rho, X, init = _setup()
    flow = ld.fit_linear_denoiser(X, SCHED, train_time=5.0)
    zero = ld.fit_from_init(X, SCHED, np.zeros((D, D)), 5.0)
    done = ld.fit_from_init(X, SCHED, init, None)
    conv = ld.fit_linear_denoiser(X, SCHED)
    for t in [1, 100, 1000]:
        assert np.array_equal(zero.weights(t)[0], flow.weights(t)[0])
        assert np.array_equal(done.weights(t)[0], conv.weights(t)[0])
    # the same law, by the dense road and by the eigen road: T products, ~ T d EPS
    assert_close(
        ld.generated_distribution(zero, SCHED).cov,
        ld.generated_distribution(flow, SCHED).cov,
        1e-10,
    )
    assert_close(ld.test_loss(zero, SCHED, rho), ld.test_loss(flow, SCHED, rho), 1e-12)


def test_shared_start_broadcasts():
    _, _, X, init = _setup()
    one = ld.fit_from_init(X, SCHED, init[0], 2.0)
    each = ld.fit_from_init(X, SCHED, np.broadcast_to(init[0], init.shape), 2.0)
    for t in [1, 500]:
        assert np.array_equal(one.weights(t)[0], each.weights(t)[0])


def test_gradient_descent_from_init_is_the_discrete_closed_form():
    _, _, X, init = _setup()
    t, gamma = 40, 0.02
    a = SCHED.alpha_bar[t - 1]
    C = a * np.cov(X.T, bias=True) + (1 - a + gamma) * np.eye(D)
    W_star = np.sqrt(1 - a) * np.linalg.inv(C)
    eta, k = 0.1 / np.linalg.eigvalsh(C)[-1], 30
    P = np.linalg.matrix_power(np.eye(D) - 2 * eta * C, k)
    W, _ = ld.gradient_descent(X, SCHED, t, eta, k, gamma, init=init[t - 1])
    # 30 contracting iterations of d-term products: ~ k d cond(C) EPS ~ 1e-12
    assert_close(W, W_star @ (np.eye(D) - P) + init[t - 1] @ P, 1e-10)
    assert_fails(lc.close(W, W_star @ (np.eye(D) - P), 1e-10))  # the start forgotten
    # and converges onto the flow from the same start at first order in eta
    flow = ld.fit_from_init(X, SCHED, init, 1.5, gamma).weights(t)[0]
    errs = [
        np.abs(
            ld.gradient_descent(
                X, SCHED, t, e, round(1.5 / e), gamma, init=init[t - 1]
            )[0]
            - flow
        ).max()
        for e in (0.02, 0.01, 0.005)
    ]
    assert 1.8 < errs[0] / errs[1] < 2.2 and 1.8 < errs[1] / errs[2] < 2.2


@pytest.mark.parametrize(
    "sampler, sigma", [("ddpm", "beta"), ("ddpm", "posterior"), ("ddim", "beta")]
)
def test_dense_law_is_the_chain_written_out(sampler, sigma):
    _, _, X, init = _setup()
    den = ld.fit_from_init(X, SCHED, init, 0.7)
    law = ld.generated_distribution(den, SCHED, sampler, sigma)
    m, S = ref.dense_generated(den, SCHED, sampler, sigma)
    # T = 1000 products of d x d matrices of norm ~ 1: ~ T d EPS ~ 2e-12
    assert_close(law.cov, S, 1e-10, "covariance")
    assert_close(law.mean, m, 1e-10, "mean")


def test_losses_are_the_dense_losses():
    _, rho, X, init = _setup()
    den = ld.fit_from_init(X, SCHED, init, 0.7)
    test, train = ld.test_loss(den, SCHED, rho), ld.train_loss(den, SCHED, X)
    mu0, S0 = X.mean(axis=0), np.cov(X.T, bias=True)
    # every step; sums of d^2 terms of size up to ~ the loss: ~ d^2 EPS relative
    assert_close(test, ref.dense_losses(den.weights, SCHED, rho.mean, rho.cov), 1e-12)
    assert_close(train, ref.dense_losses(den.weights, SCHED, mu0, S0), 1e-12)


def test_samples_follow_the_dense_law():
    rng, _, X, init = _setup(d=5, n=3)
    den = ld.fit_from_init(X, SCHED, init, 0.5)
    law = ld.generated_distribution(den, SCHED)
    U = ld.sample(den, SCHED, 4000, rng)
    assert_passes(lc.gaussian_samples(U, law))
    wrong = ld.generated_distribution(
        ld.fit_linear_denoiser(X, SCHED, train_time=0.5), SCHED
    )
    assert_fails(lc.gaussian_samples(U, wrong))


def test_metrics_and_missing_variance_accept_it():
    _, rho, X, init = _setup()
    den = ld.fit_from_init(X, SCHED, init, 3.0)
    flow = den.flow
    m = ld.exact_metrics(den, SCHED, rho, X)
    assert m.missing_variance == ld.missing_variance(flow, rho)
    assert ld.null_mass(den, rho) == ld.null_mass(flow, rho)
    assert np.isfinite(m.kl) and np.isfinite(m.kl_reverse)
    assert m.kl == ld.kl_divergence(ld.generated_distribution(den, SCHED), rho)
