"""Chapter 1 foundations: the schedule, Gaussians in eigen form, power-law spectra."""

import dataclasses

import numpy as np
import pytest
from conftest import EPS, SCHED, assert_close, assert_passes

from lindiff import checks as lc
import lindiff_core as ld

# ----------------------------------------------------------------------------- schedule


def test_schedule_matches_the_talk():
    T = SCHED.T
    assert T == 1000
    # beta_t = (beta_max - beta_min) t / T + beta_min: a few operations, each within
    # EPS.
    assert_close(
        SCHED.beta, (1e-2 - 1e-4) / T * np.arange(1, T + 1) + 1e-4, 1e-13, "beta"
    )
    assert_close(SCHED.beta[[0, -1]], [1.099e-4, 1e-2], 1e-13, "beta_1, beta_T")
    assert np.all(np.diff(SCHED.beta) > 0)
    # abar_t against exp(cumsum(log1p(-beta))): both roads accumulate T rounding steps
    # on |log abar_t| <= 5.1, so the relative error of either is at most ~ T * 5 * EPS =
    # 1e-12 (measured: 3e-15).
    log_abar = np.cumsum(np.log1p(-SCHED.beta))
    assert_close(SCHED.alpha_bar / np.exp(log_abar), 1.0, 1e-12, "abar_t")
    assert_close(
        SCHED.one_minus_alpha_bar / -np.expm1(log_abar), 1.0, 1e-12, "1 - abar_t"
    )
    assert SCHED.one_minus_alpha_bar[0] == SCHED.beta[0]
    assert SCHED.alpha_bar_prev[0] == 1.0
    assert np.array_equal(SCHED.alpha_bar_prev[1:], SCHED.alpha_bar[:-1])
    # c_t = (1 - abar_t) / abar_t; the reference 1 - abar_t loses up to 1/(1 - abar_1) ~
    # 1e4 digits of relative precision at t = 1 by cancellation: 1e4 * EPS ~ 2e-12,
    # allowed 1e-10.
    assert_close(
        SCHED.noise_to_signal / ((1 - SCHED.alpha_bar) / SCHED.alpha_bar),
        1.0,
        1e-10,
        "c_t",
    )


def test_schedule_arrays_are_read_only():
    for name in [
        "beta",
        "alpha_bar",
        "alpha_bar_prev",
        "one_minus_alpha_bar",
        "one_minus_alpha_bar_prev",
    ]:
        with pytest.raises(ValueError):
            getattr(SCHED, name)[0] = 0.5


def test_schedule_previous_step_arrays():
    assert SCHED.alpha_bar_prev[0] == 1.0 and SCHED.one_minus_alpha_bar_prev[0] == 0.0
    assert np.array_equal(SCHED.alpha_bar_prev[1:], SCHED.alpha_bar[:-1])
    assert np.array_equal(
        SCHED.one_minus_alpha_bar_prev[1:], SCHED.one_minus_alpha_bar[:-1]
    )
    # 1 - abar_t without cancellation: exactly beta_1 at t = 1, and (1 - abar_{t-1})(1 -
    # beta_t) + beta_t = 1 - abar_t to rounding at every step (T sums of positive terms:
    # T EPS)
    assert SCHED.one_minus_alpha_bar[0] == SCHED.beta[0]
    rebuilt = SCHED.one_minus_alpha_bar_prev * (1 - SCHED.beta) + SCHED.beta
    assert_close(rebuilt, SCHED.one_minus_alpha_bar, 100 * SCHED.T * EPS, "1 - abar_t")


# ---------------------------------------------------------------------------- Gaussians


def test_gaussian_is_frozen_and_plus_isotropic_adds_to_every_variance():
    rng = np.random.default_rng(3)
    V, _ = np.linalg.qr(rng.standard_normal((6, 2)))
    g = ld.Gaussian.from_eigen(rng.standard_normal(6), [2.0, 1.0], basis=V, rest=0.25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.rest = 1.0
    with pytest.raises(ValueError):
        g.mean[0] = 1.0
    h = g.plus_isotropic(0.5)
    assert_close(h.cov, g.cov + 0.5 * np.eye(6), 10 * EPS, "cov + c Id", scale=3.0)
    assert np.array_equal(h.mean, g.mean) and h.basis is g.basis
    emp = ld.Gaussian.from_samples(rng.standard_normal((3, 6)))
    assert emp.plus_isotropic(0.1).rest == 0.1 and emp.plus_isotropic(0.1).rank == 6


@pytest.mark.parametrize("N,d", [(5, 8), (8, 8), (9, 8), (50, 6)])
def test_from_samples_is_the_empirical_gaussian(N, d):
    rng = np.random.default_rng(N * 100 + d)
    X = rng.standard_normal((N, d)) @ rng.standard_normal((d, d)) + 3.0
    g = ld.Gaussian.from_samples(X)
    cov = np.cov(X.T, bias=True)
    # Means and covariances of N points: sums of N terms, relative error ~ N EPS ~
    # 1e-14, and the eigen form adds an SVD/eigh of backward error ~ d EPS ||cov||.
    assert_close(g.mean, X.mean(axis=0), 1e-12, "mean")
    assert_close(g.cov, cov, 1e-11, "cov")
    assert g.r == min(d, N - 1) == g.rank
    assert_close(g.spectrum, np.sort(np.linalg.eigvalsh(cov))[::-1], 1e-11, "spectrum")


def test_from_samples_detects_rank_of_duplicated_points():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.standard_normal((3, 10)), 4, axis=0)  # 12 points, 3 distinct
    assert ld.Gaussian.from_samples(X).r == 2


def test_dense_constructor_and_logdet():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 6))
    cov = A @ A.T + 0.1 * np.eye(6)
    g = ld.Gaussian(np.arange(6.0), cov)
    # eigh and back: backward error ~ d EPS ||cov||; logdet: d logs of eigenvalues, each
    # with relative error ~ d EPS cond(cov) (cond < 1e3 here).
    assert_close(g.cov, cov, 1e-12, "cov")
    assert_close(g.logdet(), np.linalg.slogdet(cov)[1], 1e-11, "logdet")
    degenerate = ld.Gaussian.from_eigen(
        np.zeros(3), [1.0], basis=np.eye(3)[:, :1], rest=0.0
    )
    assert degenerate.logdet() == -np.inf
    assert degenerate.rank == 1


def test_eigen_form_with_rest():
    rng = np.random.default_rng(2)
    V, _ = np.linalg.qr(rng.standard_normal((7, 3)))
    g = ld.Gaussian.from_eigen(np.ones(7), [3.0, 2.0, 1.0], basis=V, rest=0.5)
    assert_close(
        g.cov,
        V @ np.diag([3.0, 2.0, 1.0]) @ V.T + 0.5 * (np.eye(7) - V @ V.T),
        1e-13,
        "cov",
    )
    assert_close(g.spectrum, [3, 2, 1, 0.5, 0.5, 0.5, 0.5], 1e-15, "spectrum")
    assert_close(g.logdet(), np.linalg.slogdet(g.cov)[1], 1e-12, "logdet")


@pytest.mark.parametrize("basis", ["standard", "rotated", "low-rank"])
def test_sample_is_the_gaussian(basis):
    rng = np.random.default_rng(3)
    d, n = 5, 100_000
    if basis == "standard":
        g = ld.Gaussian.from_eigen(
            np.arange(d, dtype=float), [4.0, 2.0, 1.0, 0.5, 0.25]
        )
    elif basis == "rotated":
        g = ld.power_law_gaussian(d, 1.0, rng)
    else:
        V, _ = np.linalg.qr(rng.standard_normal((d, 2)))
        g = ld.Gaussian.from_eigen(np.ones(d), [3.0, 1.0], basis=V, rest=0.2)
    # whitened likelihood-ratio test of mean and covariance at false-alarm rate 1e-4
    assert_passes(lc.gaussian_samples(g.sample(n, rng), g))


def test_power_law_gaussian():
    g = ld.power_law_gaussian(50, 1.5)
    assert g.basis is None and np.all(g.mean == 0)
    assert_close(g.eigenvalues.sum(), 50, 1e-13, "trace")
    nu = np.arange(1, 51)
    assert_close(g.eigenvalues / g.eigenvalues[0], nu**-1.5, 1e-14, "power law")
    assert np.array_equal(ld.power_law_spectrum(10, 0.0), np.ones(10))
    r = ld.power_law_gaussian(20, 1.0, np.random.default_rng(0))
    # a Householder QR is orthogonal to ~ d EPS
    assert_close(r.basis.T @ r.basis, np.eye(20), 20 * 100 * EPS, "orthonormal basis")
    assert_close(np.trace(r.cov), 20, 1e-12, "trace")
