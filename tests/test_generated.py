"""Chapter 2: the exact generated distribution, the floor c, and the chain's samples."""

import numpy as np
import pytest
from conftest import SCHED, assert_close, assert_passes

import lindiff_checks as lc
import lindiff_core as ld
import lindiff_reference as ref

SAMPLERS = [("ddpm", "beta"), ("ddpm", "posterior"), ("ddim", "beta")]


@pytest.mark.parametrize("sampler,sigma", SAMPLERS)
@pytest.mark.parametrize("N,d,gamma,tau", [(5, 8, 0.0, None), (30, 6, 0.01, None), (4, 7, 0.0, 2.0)])
def test_generated_distribution_matches_dense_propagation(sampler, sigma, N, d, gamma, tau):
    rng = np.random.default_rng(N * d)
    X = ld.power_law_gaussian(d, 1.0, rng).sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma, train_time=tau)
    g = ld.generated_distribution(den, SCHED, sampler, sigma)
    m, S = ref.dense_generated(den, SCHED, sampler, sigma)
    # T = 1000 dense affine steps, each with a product of matrices of norm <= ~1/s_1 ~ 100:
    # the dense road accumulates ~ T d EPS ~ 1e-12 relative, with the gains' solve 1e-10.
    assert_close(g.cov, S, 1e-8, "covariance")
    assert_close(g.mean, m, 1e-8, "mean", scale=max(np.max(np.abs(m)), 1.0))


def test_null_variance_is_exactly_sigma_1_squared():
    X = np.random.default_rng(20).standard_normal((6, 20))
    den = ld.fit_linear_denoiser(X, SCHED)
    assert ld.generated_distribution(den, SCHED).rest == SCHED.beta[0]
    assert ld.generated_distribution(den, SCHED, sigma="posterior").rest == 0.0
    assert ld.generated_distribution(den, SCHED, sampler="ddim").rest == 0.0
    f, h = ld.generated_moments(np.array([0.0]), SCHED)
    assert f[0] == SCHED.beta[0] and h[0] == 1.0


def test_sampler_noise():
    assert np.array_equal(ld.sampler_noise(SCHED), SCHED.beta)
    post = ld.sampler_noise(SCHED, sigma="posterior")
    a = SCHED.alpha_bar
    assert post[0] == 0.0
    # reference with 1 - abar computed by subtraction: cancellation up to 1/(1 - abar_1) ~ 1e4
    assert_close(post[1:], SCHED.beta[1:] * (1 - a[:-1]) / (1 - a[1:]), 1e-9, "posterior variance")
    assert np.all(ld.sampler_noise(SCHED, sampler="ddim") == 0)


@pytest.mark.parametrize("sampler,sigma", SAMPLERS)
def test_chain_samples_follow_the_exact_law(sampler, sigma):
    rng = np.random.default_rng(21)
    d, N, n = 6, 4, 40_000
    X = ld.power_law_gaussian(d, 1.0, rng).sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=1e-3)
    g = ld.generated_distribution(den, SCHED, sampler, sigma)
    U = ld.sample(den, SCHED, n, rng, sampler, sigma, batch=15_000)
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
