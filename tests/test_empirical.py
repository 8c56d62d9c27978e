"""Chapter 8: the optimal denoiser of the training set itself."""

import numpy as np
import pytest
from conftest import EPS, SCHED, assert_close
from scipy.special import logsumexp

import lindiff_core as ld


def _brute_force(X, x, t):
    """E[eps | x_t = x] from the posterior over the points, differences formed one by
    one.
    """
    a, s2 = SCHED.alpha_bar[t - 1], 1 - SCHED.alpha_bar[t - 1]
    diff = x[:, None, :] - np.sqrt(a) * X[None, :, :]  # (n, N, d)
    logp = -np.sum(diff**2, axis=2) / (2 * s2)
    p = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
    return np.einsum("nk,nkd->nd", p, diff) / np.sqrt(s2)


@pytest.mark.parametrize("t", [1, 2, 50, 300, 1000])
def test_empirical_denoiser_matches_brute_force(t):
    rng = np.random.default_rng(30 + t)
    X = rng.standard_normal((7, 5))
    x = np.sqrt(SCHED.alpha_bar[t - 1]) * X[rng.integers(7, size=40)] + np.sqrt(
        SCHED.one_minus_alpha_bar[t - 1]
    ) * rng.standard_normal((40, 5))
    eps = ld.empirical_denoiser(X, SCHED)
    # logits of size |x|^2 / (1 - abar_t), up to 1e5 at t = 1, rounded to EPS each: the
    # posterior weights carry ~1e5 EPS ~ 2e-11 relative error; 1e-9 leaves 50x
    assert_close(eps(x, t), _brute_force(X, x, t), 1e-9, f"eps at t = {t}")


def test_one_training_point_gives_the_exact_noise():
    rng = np.random.default_rng(31)
    X = rng.standard_normal((1, 6))
    eps = ld.empirical_denoiser(X, SCHED)
    for t in [1, 10, 1000]:
        z = rng.standard_normal((5, 6))
        a, s = (
            np.sqrt(SCHED.alpha_bar[t - 1]),
            np.sqrt(SCHED.one_minus_alpha_bar[t - 1]),
        )
        # x - a x_1 recovers s z to the rounding of |x| ~ 3: 10 EPS / s <= 1e-12
        assert_close(eps(a * X + s * z, t), z, 1e-10, f"one point, t = {t}")


def test_small_t_returns_the_nearest_points_noise():
    # At t = 1 the posterior is a one-hot on the point x_t came from (separated points):
    # the predictor returns exactly the noise that was added.
    rng = np.random.default_rng(32)
    X = 3 * rng.standard_normal((20, 8))
    j = rng.integers(20, size=100)
    z = rng.standard_normal((100, 8))
    a, s = np.sqrt(SCHED.alpha_bar[0]), np.sqrt(SCHED.one_minus_alpha_bar[0])
    out = ld.empirical_denoiser(X, SCHED)(a * X[j] + s * z, 1)
    assert_close(out, z, 1e-10, "noise recovered at t = 1")


def test_chain_with_the_empirical_denoiser_returns_training_points():
    # Memorization in its purest form: with the posterior sampler (no noise at t = 1),
    # every sample is a training point up to rounding.
    rng = np.random.default_rng(33)
    X = rng.standard_normal((6, 4))
    U = ld.run_chain(
        ld.empirical_denoiser(X, SCHED), SCHED, 200, 4, rng, sigma="posterior"
    )
    dist = np.min(np.linalg.norm(U[:, None, :] - X[None], axis=2), axis=1)
    # the last step returns sum_i p_i x_i with a one-hot p: a few EPS of |x| ~ 2
    # (measured 1.5 EPS); 1000 EPS leaves 100x
    assert np.max(dist) < 1000 * EPS
    # every training point is reached (200 draws, 6 points: one missed w.p. ~ 1e-15)
    nearest = np.argmin(np.linalg.norm(U[:, None, :] - X[None], axis=2), axis=1)
    assert set(nearest) == set(range(6))
