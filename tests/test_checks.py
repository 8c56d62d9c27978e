"""The verification checks themselves: their false-alarm rates, and that each catches a
wrong answer.

Each chapter's headline check is a function of ``lindiff.checks`` (or a rounding
comparison with the chapter's tolerance). Here every one of them is fed the right
answer, where it must pass, and a wrong answer of the size that matters, where it
must fail: a check that cannot fail proves nothing.
"""

import numpy as np
import pytest
from conftest import SCHED, assert_fails, assert_passes, problem

from lindiff import checks as lc
import lindiff_core as ld
from lindiff import reference as ref

# ------------------------------------------------------------------- null distributions


def _exact_likelihood_ratio(d, n, R, rng):
    """R draws of lc.likelihood_ratio under the claim, by the Bartlett decomposition."""
    out = np.empty(R)
    k = n - np.arange(1, d + 1)
    for s in range(0, R, 100_000):
        m = min(100_000, R - s)
        diag = rng.chisquare(k, size=(m, d))
        off = rng.chisquare(d * (d - 1) // 2, size=m) if d > 1 else 0.0
        mean = rng.chisquare(d, size=m)
        out[s : s + m] = (
            diag.sum(1) + off + mean - n * d - n * (np.log(diag).sum(1) - d * np.log(n))
        )
    return out


def test_likelihood_ratio_statistic_is_twice_n_kl():
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((500, 4))
    emp = ld.Gaussian.from_samples(Y)
    stat = lc.likelihood_ratio(Y)
    assert stat == pytest.approx(
        2 * 500 * ld.kl_divergence(emp, ld.Gaussian(np.zeros(4), np.eye(4))), rel=1e-10
    )


@pytest.mark.parametrize(
    "d,n", [(64, 10_000), (31, 10_000), (16, 4000), (6, 40_000), (2, 1000)]
)
def test_likelihood_ratio_threshold_has_the_stated_false_alarm_rate(d, n):
    rng = np.random.default_rng(d * n)
    R = 1_000_000
    stat = _exact_likelihood_ratio(d, n, R, rng)
    mean, var = lc.likelihood_ratio_moments(d, n)
    # exact moments: the simulated mean within 5 standard errors
    assert abs(stat.mean() - mean) < 5 * np.sqrt(var / R)
    for rate in (1e-2, 1e-3, 1e-4):
        count = np.count_nonzero(stat > lc.likelihood_ratio_threshold(d, n, rate))
        # Poisson count with mean R * rate: 100 at 1e-4. Accept rates within a factor
        # 1.5 of the claim beyond the counting noise (a 6-sigma band leaves no false
        # alarm).
        expect = R * rate
        assert (
            expect / 1.5 - 6 * np.sqrt(expect)
            < count
            < expect * 1.5 + 6 * np.sqrt(expect)
        )


def test_wald_statistic_of_least_squares_is_close_to_chi2():
    # The chapter's experiment (d = 8, N = 5, M pairs) repeated at M = 20 000, ten times
    # fewer pairs than the chapter uses, where the sandwich covariance is less accurate:
    # the mean and variance of the Wald statistic must stay within the 20% allowance the
    # check makes.
    rng, rho, X, den = problem(2025, 8, 5)
    stats_ = np.array(
        [
            lc.least_squares_denoiser(X, SCHED, [t], den.weights, 20_000, rng)[0].value
            for t in [1, 100, 1000] * 100
        ]
    )
    df = 4 * 9
    mean_ratio, var_ratio = stats_.mean() / df, stats_.var(ddof=1) / (2 * df)
    # sampling error of the variance ratio over 300 draws: about sqrt(2 / 300) ~ 0.08
    assert abs(mean_ratio - 1) < 0.05
    assert var_ratio < 1.2 + 3 * 0.08


# -------------------------------------------------------- mutations, chapter by chapter


def test_chapter_1_least_squares_catches_weights_off_by_a_thousandth():
    rng, rho, X, den = problem(2025, 8, 5)

    def off(t):
        W, b = den.weights(t)
        return (1.001 * W, 1.001 * b) if t == 1 else (W, b)

    for weights, ok in [(den.weights, True), (off, False)]:
        checks = lc.least_squares_denoiser(
            X, SCHED, [1, 10, 100, 1000], weights, 200_000, np.random.default_rng(0)
        )
        assert all(c.passed for c in checks) == ok, [str(c) for c in checks]


def _chain_setup(d=16, N=8, n=4000, sampler="ddpm", gamma=0.0):
    rng = np.random.default_rng(7)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    rho = ld.Gaussian.from_eigen(
        3 * rng.standard_normal(d), np.logspace(2.5, -4, d), basis=Q
    )
    den = ld.fit_linear_denoiser(rho.sample(N, rng), SCHED, weight_decay=gamma)
    exact = ld.generated_distribution(den, SCHED, sampler=sampler)
    U = ld.sample(den, SCHED, n, rng, sampler=sampler)
    return den, exact, U


def test_chapter_2_chain_check_catches_a_doubled_floor_and_the_plain_surrogate():
    den, exact, U = _chain_setup()
    assert_passes(lc.gaussian_samples(U, exact))
    c = exact.rest
    doubled = ld.Gaussian.from_eigen(
        exact.mean, exact.eigenvalues, basis=exact.basis, rest=2 * c
    )
    assert_fails(lc.gaussian_samples(U, doubled))
    # f(Sigma_0) replaced by Sigma_0 + c Id: wrong in the directions of large variance
    surrogate = ld.Gaussian.from_eigen(
        exact.mean, den.eigenvalues + c, basis=den.basis, rest=c
    )
    assert_fails(lc.gaussian_samples(U, surrogate))
    # the mean mu_0 in place of h(Sigma_0) mu_0
    plain_mean = ld.Gaussian.from_eigen(
        den.mean, exact.eigenvalues, basis=exact.basis, rest=c
    )
    assert_fails(lc.gaussian_samples(U, plain_mean))


def test_chapter_2_ddim_check_catches_samples_off_the_span():
    den, exact, U = _chain_setup(sampler="ddim")
    assert_passes(lc.gaussian_samples(U, exact))
    null = np.linalg.svd(den.basis, full_matrices=True)[0][:, den.r :]
    moved = U + 1e-6 * null[:, 0]  # a millionth off the training span
    assert_fails(lc.gaussian_samples(moved, exact))


def test_chapter_3_monte_carlo_catches_a_test_loss_one_percent_off():
    # the chapter's experiment: d = 16, N = 8 and 64, six steps, M = 200 000 per step
    rng = np.random.default_rng(3)
    rho = ld.power_law_gaussian(16, 1.0, rng)
    dens = [ld.fit_linear_denoiser(rho.sample(N, rng), SCHED) for N in (8, 64)]
    steps = [1, 10, 100, 300, 600, 1000]
    for factor, ok in [(1.0, True), (1.01, False), (0.99, False)]:
        mc = np.random.default_rng(0)
        z = np.concatenate(
            [
                lc.loss_z_scores(
                    den,
                    SCHED,
                    rho,
                    steps,
                    factor * ld.test_loss(den, SCHED, rho),
                    200_000,
                    mc,
                )
                for den in dens
            ]
        )
        assert lc.z_scores(z).passed == ok


def test_chapter_4_monte_carlo_kl_catches_two_percent():
    rng = np.random.default_rng(5)
    rho = ld.power_law_gaussian(32, 1.0, rng)
    for N in (16, 128):
        rho_N = ld.generated_distribution(
            ld.fit_linear_denoiser(rho.sample(N, rng), SCHED), SCHED
        )
        for p, q in [(rho_N, rho), (rho, rho_N)]:
            kl = ld.kl_divergence(p, q)
            for factor, ok in [(1.0, True), (1.02, False), (0.98, False)]:
                z = lc.kl_z_score(p, q, factor * kl, 200_000, np.random.default_rng(N))
                assert lc.z_scores([z]).passed == ok


def test_chapter_4_expectation_check_catches_two_percent():
    # the chapter's sizes with d = 32 (at d = 8 a 2% error is below the spread of 200
    # sets)
    rng = np.random.default_rng(4)
    z_right, z_wrong = [], []
    for d, N in [(32, 64), (32, 256)]:
        rho = ld.power_law_gaussian(d, 1.0, rng)
        kls = [
            ld.kl_divergence(ld.Gaussian.from_samples(rho.sample(N, rng)), rho)
            for _ in range(200)
        ]
        E, sd = ld.expected_kl_empirical(d, N), np.sqrt(ld.variance_kl_empirical(d, N))
        z_right.append(lc.z_of_mean(kls, E, sd))
        z_wrong.append(lc.z_of_mean(kls, 1.02 * E, sd))
    assert_passes(lc.z_scores(z_right))
    assert_fails(lc.z_scores(z_wrong))


def test_chapter_5_solver_check_catches_kappa_two_percent_off():
    cs = np.logspace(-10, 0, 11)
    lam = ld.power_law_spectrum(300, 1.0)
    for n in [30, 299, 600]:
        kappa = ld.silverstein_kappa(lam, n, cs)
        brent = np.array([ref.kappa_brentq(lam, n, c) for c in cs])
        assert_passes(lc.close(kappa, brent, 1e-8))
        assert_fails(lc.close(1.02 * kappa, brent, 1e-8))
        y = 300 / n
        iso = ld.silverstein_kappa(np.ones(300), n, cs)
        assert_passes(lc.close(iso / ref.kappa_isotropic(y, cs), 1.0, 1e-10))
        assert_fails(lc.close(1.02 * iso / ref.kappa_isotropic(y, cs), 1.0, 1e-10))


def test_chapter_6_null_variance_check_catches_a_doubled_floor():
    den, exact, U = _chain_setup(gamma=1e-2)
    assert_passes(lc.gaussian_samples(U, exact))
    doubled = ld.Gaussian.from_eigen(
        exact.mean, exact.eigenvalues, basis=exact.basis, rest=2 * exact.rest
    )
    assert_fails(lc.gaussian_samples(U, doubled))


def test_chapter_7_flow_check_catches_a_halved_rate():
    rng = np.random.default_rng(6)
    X = ld.power_law_gaussian(16, 1.0, rng).sample(6, rng)
    for tau in [0.5, 30.0]:
        right = ld.fit_linear_denoiser(X, SCHED, weight_decay=0.01, train_time=tau)
        halved = ld.fit_linear_denoiser(X, SCHED, weight_decay=0.01, train_time=tau / 2)
        for t in [20, 300]:
            W_ref = ref.dense_denoiser(X, SCHED, t, 0.01, tau)[0]
            assert_passes(lc.close(right.weights(t)[0], W_ref, 1e-8))
            assert_fails(lc.close(halved.weights(t)[0], W_ref, 1e-8))
