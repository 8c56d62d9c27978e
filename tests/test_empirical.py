"""Chapter 8: the optimal denoiser of the training set itself."""

import numpy as np
import pytest
from conftest import EPS, SCHED, assert_close, assert_fails, assert_passes
from scipy.special import logsumexp

from lindiff import checks as lc
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


def test_nearest_distance_ratio_against_all_pairs():
    rng = np.random.default_rng(32)
    X, U = rng.standard_normal((9, 4)), rng.standard_normal((30, 4))
    pairs = np.sqrt(np.sum((U[:, None, :] - X[None, :, :]) ** 2, axis=2))
    gaps = np.sqrt(np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=2))
    np.fill_diagonal(gaps, np.inf)
    expected = pairs.min(axis=1) / np.median(gaps.min(axis=1))
    # distances of order 1 from differences formed directly: rounding ~ 10 EPS
    assert_close(ld.nearest_distance_ratio(U, X), expected, 1e4 * EPS, "ratios")


def test_nearest_training_point_against_all_pairs():
    rng = np.random.default_rng(31)
    X, U = rng.standard_normal((9, 4)), rng.standard_normal((30, 4))
    pairs = np.sqrt(np.sum((U[:, None, :] - X[None, :, :]) ** 2, axis=2))
    index, dist = ld.nearest_training_point(U, X)
    assert np.array_equal(index, pairs.argmin(axis=1))
    # distances of order 1 from differences formed directly: rounding ~ 10 EPS
    assert_close(dist, pairs.min(axis=1), 1e4 * EPS, "distances")
    index, _ = ld.nearest_training_point(X[[4, 2]] + 1e-9, X)
    assert list(index) == [4, 2]


def test_nearest_distance_ratio_resolves_reproduced_points():
    rng = np.random.default_rng(33)
    X = 100.0 * rng.standard_normal((5, 3))
    # a displacement of 1e-9 next to coordinates of 100: the expanded squared distance
    # would lose it entirely (1e-18 against 1e4 EPS); the recomputed difference keeps it
    # to the rounding of X + 1e-9, 7e-15 absolute or 7e-6 relative: 1e-3 leaves 140x
    U = X + 1e-9 * np.array([1.0, 0.0, 0.0])
    gaps = np.sqrt(np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=2))
    np.fill_diagonal(gaps, np.inf)
    r = ld.nearest_distance_ratio(U, X) * np.median(gaps.min(axis=1))
    assert_close(r, np.full(5, 1e-9), 1e-3, "distances of reproduced points")


def test_fitted_kl_is_unbiased_for_gaussian_samples():
    rng = np.random.default_rng(34)
    d, n, M = 3, 12, 4000
    rho = ld.Gaussian.from_eigen(np.zeros(d), np.array([2.0, 1.0, 0.5]))
    q = ld.Gaussian.from_eigen(np.full(d, 0.3), np.array([1.0, 1.5, 0.2]))
    values = np.array([ld.fitted_kl(q.sample(n, rng), rho) for _ in range(M)])
    # independent repeats: Student t of their mean against the exact KL; the uncorrected
    # fit is biased by expected_kl_empirical(3, 12) ~ 0.4, some 40 standard errors, and
    # fails
    assert_passes(lc.mean_equals(values, ld.kl_divergence(q, rho)))
    biased = values + ld.expected_kl_empirical(d, n)
    assert_fails(lc.mean_equals(biased, ld.kl_divergence(q, rho)))
