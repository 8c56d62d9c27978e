"""Chapters 1 and 3: exact train and test losses, best model, missing variance."""

import numpy as np
import pytest
from conftest import SCHED, STEPS, assert_close, assert_passes, problem

from lindiff import checks as lc
import lindiff_core as ld
from lindiff import reference as ref


@pytest.mark.parametrize("N,d,gamma", [(5, 8, 0.0), (30, 6, 0.02), (2, 5, 0.0)])
def test_losses_match_the_dense_formula(N, d, gamma):
    rng = np.random.default_rng(11 + N)
    rho = ld.power_law_gaussian(d, 0.7, rng)
    X = rho.sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma)
    L_test, L_train = ld.test_loss(den, SCHED, rho), ld.train_loss(den, SCHED, X)
    mu0, S0 = X.mean(axis=0), np.cov(X.T, bias=True)
    for t in STEPS:
        a = SCHED.alpha_bar[t - 1]
        W, b = ref.dense_denoiser(X, SCHED, t, gamma)
        # the dense road inherits the solve's ~1e-10 and weighs data variance by |W|^2
        # <= 1/c_t
        assert_close(
            L_test[t - 1],
            ref.dense_loss(W, b, a, rho.mean, rho.cov),
            1e-8,
            f"test L_{t}",
        )
        assert_close(
            L_train[t - 1], ref.dense_loss(W, b, a, mu0, S0), 1e-8, f"train L_{t}"
        )


def test_train_loss_is_test_loss_on_the_empirical_gaussian():
    for seed in range(20):
        rng = np.random.default_rng(12 + seed)
        X = rng.standard_normal((7, 11)) * rng.uniform(0.1, 10)
        den = ld.fit_linear_denoiser(X, SCHED)
        emp = ld.Gaussian.from_samples(X)
        check = lc.close(
            ld.train_loss(den, SCHED, X), ld.test_loss(den, SCHED, emp), 1e-12
        )
        # Two summation orders over d terms of size <= L_t: ~ d EPS ~ 2e-15; the
        # variance off span(V) (weighed by 1/c_1 ~ 1e4) is formed by explicit projection
        # on both roads, so it is O(EPS^2), not O(EPS) (measured: < 1e-15).
        assert_passes(check)


def test_test_loss_monte_carlo():
    rng, rho, _, den = problem(13, 6, 4)
    L = ld.test_loss(den, SCHED, rho)
    z = lc.loss_z_scores(den, SCHED, rho, [1, 100, 1000], L, 200_000, rng)
    assert_passes(lc.z_scores(z, "Monte-Carlo test loss"))


def test_optimal_loss_is_the_minimum_and_the_test_loss_of_the_true_fit():
    d = 9
    rho = ld.power_law_gaussian(d, 1.3, np.random.default_rng(14))
    best = ld.optimal_loss(rho, SCHED)
    a = SCHED.alpha_bar[:, None]
    C = a * rho.eigenvalues + (1 - a)
    # d - (1 - abar) Tr C^-1 per step, d terms
    assert_close(best, d - (1 - a[:, 0]) * np.sum(1 / C, axis=1), 1e-12, "L_best")
    # the denoiser fitted to a sample of rho approaches it from above
    for N in [20, 2000]:
        X = rho.sample(N, np.random.default_rng(N))
        assert np.all(
            ld.test_loss(ld.fit_linear_denoiser(X, SCHED), SCHED, rho) >= best
        )
    rest = ld.Gaussian.from_eigen(
        np.zeros(d), [3.0, 2.0], basis=np.eye(d)[:, :2], rest=0.5
    )
    full = ld.Gaussian.from_eigen(np.zeros(d), [3.0, 2.0] + [0.5] * (d - 2))
    assert_close(
        ld.optimal_loss(rest, SCHED), ld.optimal_loss(full, SCHED), 1e-13, "rest form"
    )


def test_loss_minimum_and_rotation_invariance():
    rng = np.random.default_rng(14)
    d, N = 7, 5
    rho = ld.power_law_gaussian(d, 1.0)
    X = rho.sample(N, rng)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    rho_rot = ld.Gaussian.from_eigen(rho.mean @ Q.T, rho.eigenvalues, basis=Q)
    den = ld.fit_linear_denoiser(X, SCHED)
    den_rot = ld.fit_linear_denoiser(X @ Q.T, SCHED)
    # The rotated problem rounds differently in the SVD (~ d EPS), and the null variance
    # is weighed by 1/c_1 ~ 1e4: ~ 1e4 d EPS ~ 1e-11.
    assert_close(
        ld.test_loss(den, SCHED, rho),
        ld.test_loss(den_rot, SCHED, rho_rot),
        1e-9,
        "rotated test loss",
    )
    lam0 = np.linalg.eigvalsh(np.cov(X.T, bias=True))
    a = SCHED.alpha_bar[:, None]
    L_min = d - (1 - a[:, 0]) * np.sum(1 / (a * lam0 + 1 - a), axis=1)
    # eigvalsh leaves the d - N + 1 zero eigenvalues at +-d EPS lam_max, and at t = 1
    # they enter as 1/(abar lam + beta_1): relative error ~ d EPS lam_max / beta_1 ~
    # 1e-11
    assert_close(ld.train_loss(den, SCHED, X), L_min, 1e-9, "train loss is the minimum")


def test_missing_variance_and_null_mass():
    d = 10
    rng, rho, X, den = problem(15, d, 4)
    P = np.eye(d) - den.basis @ den.basis.T
    # Tr(P Sigma P) of O(d) size from a dense product: d EPS
    assert_close(
        ld.missing_variance(den, rho),
        np.trace(P @ rho.cov @ P),
        1e-13,
        "Tr Sigma P_null",
    )
    assert (
        ld.missing_variance(ld.fit_linear_denoiser(rho.sample(50, rng), SCHED), rho)
        == 0.0
    )
    emp = ld.Gaussian.from_samples(X)
    # the training set's own Gaussian has no variance off its span: O(EPS^2), not O(EPS)
    assert_close(
        ld.missing_variance(den, emp),
        0.0,
        1e-20,
        "no variance off the span",
        scale=np.trace(emp.cov),
    )
    # the null mass adds the part of the mean off the span
    delta = P @ (rho.mean - den.mean)
    # dense products of O(d) numbers: d EPS; 1e-13 leaves 100x
    assert_close(
        ld.null_mass(den, rho),
        np.trace(P @ rho.cov @ P) + delta @ delta,
        1e-13,
        "Tr Sigma P_null + |P_null (mu - mu_0)|^2",
    )
    assert ld.null_mass(den, rho) > ld.missing_variance(den, rho)
    full = ld.fit_linear_denoiser(rho.sample(50, rng), SCHED)
    assert ld.null_mass(full, rho) == 0.0


def test_test_losses_of_one_training_set_are_its_test_loss_row_by_row():
    """ld.test_losses computes the population's variances in the training set's
    eigenbasis once for a grid of regularizers; every row must equal ld.test_loss of
    the same denoiser (the same arithmetic: equal to the last bit), for N < d (null
    directions) and N > d. Denoisers of another training set are refused."""
    rng = np.random.default_rng(5)
    rho = ld.power_law_gaussian(12, 1.0, rng)
    for N in (5, 40):
        emp = ld.Gaussian.from_samples(rho.sample(N, rng))
        dens = [ld.fit_linear_denoiser(emp, SCHED, weight_decay=g) for g in (0, 0.1)]
        dens += [ld.fit_linear_denoiser(emp, SCHED, train_time=10.0)]
        dens += [
            ld.fit_linear_denoiser(
                emp, SCHED, weight_decay=0.01, regularization="step-scaled"
            )
        ]
        rows = ld.test_losses(dens, SCHED, rho)
        assert rows.shape == (4, SCHED.T)
        for den, row in zip(dens, rows):
            assert np.array_equal(row, ld.test_loss(den, SCHED, rho))
    other = ld.fit_linear_denoiser(rho.sample(40, rng), SCHED)
    with pytest.raises(
        ValueError, match="dens: expected denoisers fitted to one training set, entry 1"
    ):
        ld.test_losses([dens[0], other], SCHED, rho)
