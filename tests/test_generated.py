"""Chapter 2: the exact generated distribution, the floor c, and the chain's samples."""

import dataclasses

import numpy as np
import pytest
from conftest import EPS, SCHED, assert_close, assert_passes, problem

from lindiff import checks as lc
import lindiff_core as ld
from lindiff import reference as ref

SAMPLERS = [("ddpm", "beta"), ("ddpm", "posterior"), ("ddim", "beta")]


TRAIN_TIMES = [1e-13, 1e-9, 1e-5, 1e-2, 1.0, 1e3, 1e6, None]
WEIGHT_DECAYS = [0.0, 1e-6, 1e-2, 1.0]


@pytest.mark.parametrize("sampler,sigma", SAMPLERS)
@pytest.mark.parametrize("N,d", [(4, 6), (12, 5)])
def test_generated_distribution_is_the_law_of_the_chain_for_every_training(
    sampler, sigma, N, d
):
    # The exact law against the dense propagation of mean and covariance through the T
    # affine steps built from den.weights(t), for every training time and weight decay.
    # Measured: at most 2e-14 relative; the dense road's T = 1000 products of d x d
    # matrices accumulate ~ T d EPS, so 1e-10 (the book's requirement) leaves 100x.
    rng = np.random.default_rng(N * d)
    X = ld.power_law_gaussian(d, 1.0, rng).sample(N, rng)
    emp = ld.Gaussian.from_samples(X)
    for tau in TRAIN_TIMES:
        for gamma in WEIGHT_DECAYS:
            den = ld.fit_linear_denoiser(emp, SCHED, weight_decay=gamma, train_time=tau)
            g = ld.generated_distribution(den, SCHED, sampler, sigma)
            m, S = ref.dense_generated(den, SCHED, sampler, sigma)
            label = f"tau = {tau}, gamma = {gamma}"
            assert_close(g.cov, S, 1e-10, f"covariance, {label}")
            assert_close(g.mean, m, 1e-10, f"mean, {label}")


def test_generated_law_reads_the_denoisers_own_gains():
    # Gains that no fit produces (a 1% error on each): the law follows them, as the
    # chain does.
    rng = np.random.default_rng(23)
    X = ld.power_law_gaussian(5, 1.0, rng).sample(3, rng)
    den = ld.fit_linear_denoiser(X, SCHED)
    s = np.sqrt(SCHED.one_minus_alpha_bar)
    gains, null = den.gains * 1.01, den.null_gain * 0.99
    odd = dataclasses.replace(
        den,
        gains=gains,
        null_gain=null,
        residuals=1 - s[:, None] * gains,
        null_residual=1 - s * null,
    )
    g = ld.generated_distribution(odd, SCHED)
    m, S = ref.dense_generated(odd, SCHED)
    assert_close(g.cov, S, 1e-10, "covariance of odd gains")
    assert_close(g.mean, m, 1e-10, "mean of odd gains")
    assert not np.allclose(g.cov, ld.generated_distribution(den, SCHED).cov, rtol=1e-3)


def test_generated_floor_is_the_null_variance():
    X = np.random.default_rng(24).standard_normal((4, 9))
    for gamma, tau in [(0.0, None), (1e-2, None), (0.0, 30.0), (1e-3, 5.0)]:
        den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma, train_time=tau)
        for sampler, sigma in SAMPLERS:
            floor = ld.generated_floor(SCHED, gamma, tau, sampler, sigma)
            rest = ld.generated_distribution(den, SCHED, sampler, sigma).rest
            # the same sum of T = 1000 products, vectorized differently, each factor
            # carrying a few roundings (exp, expm1, the residual): ~ 10 T EPS at most
            assert_close(
                floor,
                rest,
                1e4 * EPS,
                f"floor, gamma = {gamma}, tau = {tau}",
                scale=max(rest, SCHED.beta[0]),
            )
    assert ld.generated_floor(SCHED) == SCHED.beta[0]
    assert ld.generated_floor(SCHED, weight_decay=1e-2) > ld.generated_floor(SCHED)


def test_generated_limit_is_the_law_of_the_denoiser_fitted_to_rho():
    # Data whose empirical mean and covariance are exactly those of rho (N > d,
    # whitened): the fitted denoiser is the one of rho itself, and its law is
    # generated_limit(rho).
    rng = np.random.default_rng(26)
    d, N = 6, 50
    rho = ld.power_law_gaussian(d, 1.0, rng)
    Z = rng.standard_normal((N, d))
    Z -= Z.mean(axis=0)
    Z = Z @ np.linalg.inv(np.linalg.cholesky(Z.T @ Z / N)).T  # empirical covariance Id
    X = rho.mean + (Z * np.sqrt(rho.eigenvalues)) @ rho.basis.T
    for gamma, tau in [(0.0, None), (1e-2, 3.0)]:
        den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma, train_time=tau)
        for sampler, sigma in SAMPLERS:
            lim = ld.generated_limit(rho, SCHED, gamma, tau, sampler, sigma)
            gen = ld.generated_distribution(den, SCHED, sampler, sigma)
            # the exact-moment data are built with d^3 operations of condition ~ 10,
            # and f sums T = 1000 products (~ T EPS = 2e-13): 1e-11
            assert_close(lim.cov, gen.cov, 1e-11, "covariance of the limit")
            assert_close(lim.mean, gen.mean, 1e-11, "mean of the limit")
    # in the standard basis and with a shared variance for the directions off the basis
    diag = ld.power_law_gaussian(d, 1.0)
    rest = ld.Gaussian.from_eigen(
        np.ones(d), [3.0, 2.0], basis=np.eye(d)[:, :2], rest=0.5
    )
    full = ld.Gaussian.from_eigen(np.ones(d), [3.0, 2.0] + [0.5] * (d - 2))
    f, h = ld.generated_moments(diag.eigenvalues, SCHED)
    limit = ld.generated_limit(diag, SCHED).eigenvalues
    assert_close(limit, f, 1e-15, "f(Sigma), standard basis")
    with_rest, full_basis = (
        ld.generated_limit(rest, SCHED),
        ld.generated_limit(full, SCHED),
    )
    # f of the same values through T = 1000 products, vectorized over different
    # shapes (~ T EPS), then assembled as V diag V^T + rest (Id - V V^T): 1e-12
    assert_close(with_rest.cov, full_basis.cov, 1e-12, "rest form")
    assert_close(with_rest.mean, full_basis.mean, 1e-12, "rest form, mean")


def test_null_variance_is_exactly_sigma_1_squared():
    X = np.random.default_rng(20).standard_normal((6, 20))
    den = ld.fit_linear_denoiser(X, SCHED)
    assert ld.generated_distribution(den, SCHED).rest == SCHED.beta[0]
    assert ld.generated_distribution(den, SCHED, sigma="posterior").rest == 0.0
    assert ld.generated_distribution(den, SCHED, sampler="ddim").rest == 0.0
    f, h = ld.generated_moments(np.array([0.0]), SCHED)
    assert f[0] == SCHED.beta[0]
    # h(0) = e_1 = mix_1 w_1 sqrt(abar_1) = 1 in exact arithmetic: four roundings, 100x
    # margin
    assert abs(h[0] - 1.0) <= 100 * 4 * EPS


def test_sampler_noise():
    assert np.array_equal(ld.sampler_noise(SCHED), SCHED.beta)
    post = ld.sampler_noise(SCHED, sigma="posterior")
    a = SCHED.alpha_bar
    assert post[0] == 0.0
    # reference with 1 - abar computed by subtraction: cancellation up to 1/(1 - abar_1)
    # ~ 1e4
    assert_close(
        post[1:],
        SCHED.beta[1:] * (1 - a[:-1]) / (1 - a[1:]),
        1e-9,
        "posterior variance",
    )
    assert np.all(ld.sampler_noise(SCHED, sampler="ddim") == 0)


@pytest.mark.parametrize("sampler,sigma", SAMPLERS)
def test_chain_samples_follow_the_exact_law(sampler, sigma):
    rng, _, _, den = problem(21, 6, 4, weight_decay=1e-3)
    g = ld.generated_distribution(den, SCHED, sampler, sigma)
    U = ld.sample(den, SCHED, 40_000, rng, sampler, sigma, batch=15_000)
    # whitened likelihood-ratio test of mean and covariance, false-alarm rate 1e-4
    assert_passes(lc.gaussian_samples(U, g))


def test_chain_without_noise_stays_on_the_training_span():
    rng = np.random.default_rng(22)
    d, N = 12, 5
    X = ld.power_law_gaussian(d, 1.0, rng).sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED)
    g = ld.generated_distribution(den, SCHED, sampler="ddim")
    U = ld.sample(den, SCHED, 5000, rng, sampler="ddim")
    check = lc.gaussian_samples(U, g)
    assert_passes(check)
    assert "directions of zero variance" in check.detail


def test_run_chain_path_holds_every_state_of_the_same_draw():
    _, _, X, den = problem(51, 3, 5)
    plain = ld.run_chain(den.apply, SCHED, 7, 3, np.random.default_rng(4), batch=3)
    path = ld.run_chain(
        den.apply, SCHED, 7, 3, np.random.default_rng(4), batch=3, path=True
    )
    assert path.shape == (SCHED.T + 1, 7, 3)
    assert np.array_equal(path[0], plain)  # the same random numbers, the same samples
    start = np.random.default_rng(4).standard_normal((3, 3))  # the first batch's u_T
    assert np.array_equal(path[SCHED.T, :3], start)
    # one step of the chain, written out, from path[t] to path[t - 1] without noise at
    # t = 1 for the posterior sampler
    post = ld.run_chain(
        den.apply, SCHED, 2, 3, np.random.default_rng(5), sigma="posterior", path=True
    )
    keep = 1 / np.sqrt(1 - SCHED.beta[0])
    mix = keep * SCHED.beta[0] / np.sqrt(1 - SCHED.alpha_bar[0])
    assert_close(post[0], keep * post[1] - mix * den.apply(post[1], 1), 1e3 * EPS)
