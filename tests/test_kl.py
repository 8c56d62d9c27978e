"""Chapter 4: the KL divergence in eigen form, its infinite cases, and the Wishart
expectation.
"""

import numpy as np
import pytest
from conftest import EPS, SCHED, assert_close, assert_passes, problem

from lindiff import checks as lc
import lindiff_core as ld
from lindiff import reference as ref


def _random_gaussian(rng, d, form):
    mean = rng.standard_normal(d)
    if form == "standard":
        return ld.Gaussian.from_eigen(mean, rng.uniform(0.1, 3, d))
    if form == "full":
        V, _ = np.linalg.qr(rng.standard_normal((d, d)))
        return ld.Gaussian.from_eigen(mean, rng.uniform(0.1, 3, d), basis=V)
    r = d // 3
    V, _ = np.linalg.qr(rng.standard_normal((d, r)))
    return ld.Gaussian.from_eigen(
        mean, rng.uniform(0.1, 3, r), basis=V, rest=rng.uniform(0.05, 1)
    )


def _dense(p, q):
    return ref.dense_kl(p.mean, p.cov, q.mean, q.cov)


@pytest.mark.parametrize("fp", ["standard", "full", "low-rank"])
@pytest.mark.parametrize("fq", ["standard", "full", "low-rank"])
def test_kl_matches_dense(fp, fq):
    rng = np.random.default_rng(
        ["standard", "full", "low-rank"].index(fp) * 3
        + ["standard", "full", "low-rank"].index(fq)
    )
    p, q = _random_gaussian(rng, 9, fp), _random_gaussian(rng, 9, fq)
    # terms of size ~ d cond(q) ~ 300 cancel to a KL of order 1-10: ~ 300 d EPS relative
    assert_close(ld.kl_divergence(p, q), _dense(p, q), 1e-10, "KL")
    # KL(p, p): terms of size d cancel to zero, ~ d EPS each
    assert_close(ld.kl_divergence(p, p), 0.0, 1e-12, "KL(p, p)", scale=9)


def test_kl_of_generated_distribution_matches_dense():
    rng = np.random.default_rng(22)
    rho = ld.power_law_gaussian(10, 1.0, rng)
    den = ld.fit_linear_denoiser(rho.sample(4, rng), SCHED)
    g = ld.generated_distribution(den, SCHED)
    # the reverse direction divides by the floor c ~ 1e-4: cond ~ 1e5, so ~ 1e5 d EPS ~
    # 1e-10
    assert_close(ld.kl_divergence(g, rho), _dense(g, rho), 1e-8, "KL(rho_N || rho)")
    assert_close(ld.kl_divergence(rho, g), _dense(rho, g), 1e-8, "KL(rho || rho_N)")


def test_kl_monte_carlo():
    rng = np.random.default_rng(23)
    p, q = _random_gaussian(rng, 4, "full"), _random_gaussian(rng, 4, "low-rank")
    z = [
        lc.kl_z_score(p, q, ld.kl_divergence(p, q), 200_000, rng),
        lc.kl_z_score(q, p, ld.kl_divergence(q, p), 200_000, rng),
    ]
    assert_passes(lc.z_scores(z, "Monte-Carlo KL, both directions"))


def test_kl_infinite_cases():
    rng = np.random.default_rng(24)
    X = rng.standard_normal((5, 12))
    den = ld.fit_linear_denoiser(X, SCHED)
    rho = ld.power_law_gaussian(12, 1.0)
    degenerate = ld.generated_distribution(den, SCHED, sigma="posterior")
    assert ld.kl_divergence(degenerate, rho) == np.inf
    assert ld.kl_divergence(rho, degenerate) == np.inf
    assert_close(
        ld.kl_divergence(degenerate, degenerate),
        0.0,
        1e-10,
        "KL(p, p), degenerate",
        scale=12,
    )
    other = ld.generated_distribution(
        ld.fit_linear_denoiser(X[:4], SCHED), SCHED, sigma="posterior"
    )
    assert ld.kl_divergence(other, degenerate) == np.inf  # lower-dimensional support
    ddim = ld.generated_distribution(den, SCHED, sampler="ddim")
    B = den.basis
    expected = ref.dense_kl(
        ddim.mean @ B, B.T @ ddim.cov @ B, degenerate.mean @ B, B.T @ degenerate.cov @ B
    )
    # two degenerate Gaussians on the same support: the dense road restricts to an
    # eigen-decomposition of the support, ~ d EPS cond ~ 1e-12
    assert_close(
        ld.kl_divergence(ddim, degenerate), expected, 1e-8, "KL on a common support"
    )


def test_kl_large_d_low_rank_matches_dense():
    rng = np.random.default_rng(25)
    d = 1500
    rho = ld.power_law_gaussian(d, 1.0)
    den = ld.fit_linear_denoiser(rho.sample(16, rng), SCHED)
    g = ld.generated_distribution(den, SCHED)
    assert g.basis.shape == (d, 15)
    # d = 1500 terms of size up to d/c ~ 1e7 in the reverse direction: ~ 1e7 d EPS / KL
    assert_close(
        ld.kl_divergence(g, rho), _dense(g, rho), 1e-8, "KL(rho_N || rho), d = 1500"
    )
    assert_close(
        ld.kl_divergence(rho, g), _dense(rho, g), 1e-8, "KL(rho || rho_N), d = 1500"
    )


@pytest.mark.parametrize("d,N", [(8, 16), (8, 40), (20, 30), (16, 64)])
def test_expected_kl_of_the_empirical_gaussian(d, N):
    # An independent road: real data sets, fitted and measured by the core, 4000 of
    # them.
    rng = np.random.default_rng(d * N)
    rho = ld.power_law_gaussian(d, 1.0, rng)
    fwd, rev = [], []
    for _ in range(4000):
        emp = ld.Gaussian.from_samples(rho.sample(N, rng))
        fwd.append(ld.kl_divergence(emp, rho))
        rev.append(ld.kl_divergence(rho, emp))
    fwd, rev = np.array(fwd), np.array(rev)
    mean, var = ld.expected_kl_empirical(d, N), ld.variance_kl_empirical(d, N)
    assert_passes(lc.mean_equals(fwd, mean, np.sqrt(var), "E KL(emp || rho)"))
    # the variance: (s^2 - var) / SE(s^2) with SE(s^2) = sqrt((m4 - s^4) / n) from the
    # sample
    n = fwd.size
    s2 = fwd.var(ddof=1)
    m4 = np.mean((fwd - fwd.mean()) ** 4)
    z_var = (s2 - var) / np.sqrt((m4 - s2**2) / n)
    assert_passes(lc.z_scores([z_var], "Var KL(emp || rho)"))
    if N - d >= 20:
        # Reverse direction: the sample standard deviation and Student's t. Its terms
        # involve Tr Sigma_0^-1 (inverse Wishart), whose fourth moment is finite only
        # for N - d > 8: the t quantile is trusted only well above that.
        assert_passes(
            lc.mean_equals(
                rev,
                ld.expected_kl_empirical(d, N, reverse=True),
                name="E KL(rho || emp)",
            )
        )


def test_expected_kl_approaches_the_d_over_4N_law():
    d = 10
    for N in [10**4, 10**5, 10**6]:
        # E KL = d(d+3)/(4N) + O(d^3/N^2)
        exact = ld.expected_kl_empirical(d, N)
        assert abs(exact / (d * (d + 3) / (4 * N)) - 1) < 2 * d / N
        assert (
            abs(ld.variance_kl_empirical(d, N) / (d * (d + 3) / (4 * N**2)) - 1)
            < 4 * d / N
        )


def test_exact_metrics_are_the_single_calls():
    _, rho, X, den = problem(27, 12, 6, weight_decay=1e-3)
    m = ld.exact_metrics(den, SCHED, rho, X, sampler="ddpm", sigma="posterior")
    gen = ld.generated_distribution(den, SCHED, sigma="posterior")
    assert np.array_equal(m.train_loss, ld.train_loss(den, SCHED, X))
    assert np.array_equal(m.test_loss, ld.test_loss(den, SCHED, rho))
    assert m.kl == ld.kl_divergence(gen, rho) and m.kl_reverse == ld.kl_divergence(
        rho, gen
    )
    assert m.missing_variance == ld.missing_variance(den, rho)
    assert np.array_equal(m.generated.cov, gen.cov)
    # the posterior sampler adds no noise at t = 1: rho_N is degenerate for N < d
    assert np.isinf(
        ld.exact_metrics(
            ld.fit_linear_denoiser(X, SCHED), SCHED, rho, X, sigma="posterior"
        ).kl
    )


@pytest.mark.parametrize("d, r", [(5, 3), (12, 4), (40, 39)])
def test_singular_dense_covariances_have_one_support(d, r):
    """Gaussian(mean, cov) of a rank-r covariance (r random vectors, their scales
    spread over two decades) has rank r whatever the sign of the rounding noise of its
    eigen-decomposition, and the KL against a non-degenerate Gaussian is infinite in
    both directions, over 50 seeds; on the common support the KL is finite and equals
    the dense value of the restrictions."""
    for seed in range(50):
        rng = np.random.default_rng(seed)
        A = rng.standard_normal((d, r)) * np.logspace(0, -2, r)
        cov = A @ A.T
        mean = A @ rng.standard_normal(r)  # a mean inside the support
        g = ld.Gaussian(mean, cov)
        assert g.rank == r, (seed, g.rank)
        full = ld.Gaussian(np.zeros(d), cov + np.eye(d))
        assert ld.kl_divergence(g, full) == np.inf, seed
        assert ld.kl_divergence(full, g) == np.inf, seed
        wider = ld.Gaussian(np.zeros(d), 2.0 * cov)
        B, _ = np.linalg.qr(A)
        expected = ref.dense_kl(
            B.T @ g.mean, B.T @ cov @ B, np.zeros(r), 2.0 * B.T @ cov @ B
        )
        # restricted to the support (condition number up to 5e7 of the r x r blocks):
        # the bound cond d EPS is 4e-7 relative at most (measured: 2e-11); 1e-5 is 20
        # times the bound and far below the O(1) error of a wrong support
        assert_close(ld.kl_divergence(g, wider), expected, 1e-5, f"seed {seed}")
        # a mean off the support by 1e-2 of its size (the support is known to about
        # eps kappa, kappa <= 5e7 here: the KL accepts 1000 d eps kappa <= 5e-4): inf
        off = np.linalg.svd(A, full_matrices=True)[0][:, -1]
        shifted = ld.Gaussian(mean + 1e-2 * np.linalg.norm(mean) * off, cov)
        assert ld.kl_divergence(shifted, wider) == np.inf, seed
        # the empirical Gaussian of N <= d points has rank N - 1
        X = rng.standard_normal((r + 1, d))
        assert ld.Gaussian.from_samples(X).rank == r


def test_kl_on_the_support_of_a_non_singular_population_is_the_kl():
    """With a non-singular population the support is the whole space: the KL on it is
    the KL, in both directions (terms of size d cancel: rounding ~ d eps)."""
    _, rho, X, den = problem(31, 24, 12)
    gen = ld.generated_distribution(den, SCHED)
    for p, q in [(gen, rho), (rho, gen)]:
        plain = ld.kl_divergence(p, q)
        assert_close(ld.kl_divergence(p, q, support=rho), plain, 1e4 * 24 * EPS)


@pytest.mark.parametrize("d, r", [(6, 3), (30, 22)])
def test_kl_on_the_support_of_a_singular_population_matches_dense(d, r):
    """A rank-r population (mean off the origin) against a non-degenerate Gaussian:
    the KL is infinite both ways; on the population's support it is the dense KL of
    the projections onto the affine subspace, computed here from a QR basis of the
    covariance's factor (another basis of the same subspace) by Cholesky
    (:func:`lindiff.reference.dense_kl`), to rounding (~ r kappa eps, kappa <= 1e4)."""
    rng = np.random.default_rng(d)
    A = rng.standard_normal((d, r)) * np.logspace(0, -1, r)
    rho = ld.Gaussian(rng.standard_normal(d), A @ A.T)
    C = rng.standard_normal((d, d))
    p = ld.Gaussian(rng.standard_normal(d), C @ C.T / d + 0.1 * np.eye(d))
    assert ld.kl_divergence(p, rho) == np.inf == ld.kl_divergence(rho, p)
    B, _ = np.linalg.qr(A)
    mp, Sp = B.T @ (p.mean - rho.mean), B.T @ p.cov @ B
    mq, Sq = np.zeros(r), B.T @ rho.cov @ B
    forward = ld.kl_divergence(p, rho, support=rho)
    reverse = ld.kl_divergence(rho, p, support=rho)
    assert_close(forward, ref.dense_kl(mp, Sp, mq, Sq), 1e6 * r * EPS)
    assert_close(reverse, ref.dense_kl(mq, Sq, mp, Sp), 1e6 * r * EPS)
    # the wrong answers: the conditional law of p on the support (given the other
    # coordinates) instead of its marginal, or the support of p (the whole space)
    conditional = np.linalg.inv(B.T @ np.linalg.inv(p.cov) @ B)
    wrong = ref.dense_kl(mp, conditional, mq, Sq)
    assert not lc.close(wrong, forward, 1e-3)
    assert ld.kl_divergence(p, rho, support=p) == np.inf
    # a law that is rho on the support plus noise outside it: infinite KL, zero on the
    # support (up to the 1e-9 added to keep its covariance away from the rank rule:
    # of order r (1e-9 / 1e-2)^2)
    P = np.eye(d) - B @ B.T
    q = ld.Gaussian(rho.mean, rho.cov + 0.3 * P + 1e-9 * np.eye(d))
    assert ld.kl_divergence(q, rho) == np.inf
    assert ld.kl_divergence(q, rho, support=rho) < 1e-10
