"""Tests of lindiff_core: each quantity against an independent dense computation or Monte-Carlo."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

import lindiff_core as ld

SCHED = ld.linear_schedule()
STEPS = [1, 2, 10, 100, 500, 999, 1000]


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def dense_denoiser(X, sched, t, gamma=0.0, tau=None):
    """Independent implementation of the closed form: dense solve, no eigen-decomposition."""
    mu0 = X.mean(axis=0)
    S0 = (X - mu0).T @ (X - mu0) / len(X)
    d = X.shape[1]
    a = np.prod(1 - sched.beta[:t])
    C = a * S0 + (1 - a + gamma) * np.eye(d)
    W = np.sqrt(1 - a) * np.linalg.solve(C, np.eye(d))
    if tau is not None:
        W = W @ (np.eye(d) - expm(-2 * tau * C))
    return W, -np.sqrt(a) * W @ mu0


def dense_loss(W, b, a, mean, cov):
    """E ||eps - W x_t - b||^2 for x_0 ~ N(mean, cov), written out densely."""
    d = len(mean)
    s = np.sqrt(1 - a)
    return (np.sum((np.eye(d) - s * W) ** 2) + a * np.trace(W @ cov @ W.T)
            + np.sum((np.sqrt(a) * W @ mean + b) ** 2))


# --------------------------------------------------------------------------- schedule


def test_schedule_matches_the_talk():
    assert SCHED.T == 1000
    assert SCHED.beta[0] == pytest.approx(1.099e-4, rel=1e-14)
    assert SCHED.beta[-1] == pytest.approx(1e-2, rel=1e-14)
    assert np.all(np.diff(SCHED.beta) > 0)
    assert rel(SCHED.alpha_bar, np.exp(np.cumsum(np.log1p(-SCHED.beta)))) < 1e-12
    assert rel(SCHED.one_minus_alpha_bar, -np.expm1(np.cumsum(np.log1p(-SCHED.beta)))) < 1e-12
    assert SCHED.one_minus_alpha_bar[0] == SCHED.beta[0]
    assert SCHED.alpha_bar_prev[0] == 1.0
    assert np.array_equal(SCHED.alpha_bar_prev[1:], SCHED.alpha_bar[:-1])
    assert rel(SCHED.noise_to_signal, (1 - SCHED.alpha_bar) / SCHED.alpha_bar) < 1e-10


def test_schedule_arrays_are_read_only():
    with pytest.raises(ValueError):
        SCHED.beta[0] = 0.5


# --------------------------------------------------------------------------- Gaussians


@pytest.mark.parametrize("N,d", [(5, 8), (8, 8), (9, 8), (50, 6)])
def test_from_samples_is_the_empirical_gaussian(N, d):
    rng = np.random.default_rng(N * 100 + d)
    X = rng.standard_normal((N, d)) @ rng.standard_normal((d, d)) + 3.0
    g = ld.Gaussian.from_samples(X)
    assert rel(g.mean, X.mean(axis=0)) < 1e-13
    assert rel(g.cov, np.cov(X.T, bias=True)) < 1e-12
    assert g.r == min(d, N - 1) == g.rank
    assert rel(g.spectrum, np.sort(np.linalg.eigvalsh(np.cov(X.T, bias=True)))[::-1]) < 1e-11


def test_from_samples_detects_rank_of_duplicated_points():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.standard_normal((3, 10)), 4, axis=0)  # 12 points, 3 distinct
    assert ld.Gaussian.from_samples(X).r == 2


def test_dense_constructor_and_logdet():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 6))
    cov = A @ A.T + 0.1 * np.eye(6)
    g = ld.Gaussian(np.arange(6.0), cov)
    assert rel(g.cov, cov) < 1e-12
    assert g.logdet() == pytest.approx(np.linalg.slogdet(cov)[1], rel=1e-12)
    degenerate = ld.Gaussian.from_eigen(np.zeros(3), [1.0], basis=np.eye(3)[:, :1], rest=0.0)
    assert degenerate.logdet() == -np.inf
    assert degenerate.rank == 1


def test_eigen_form_with_rest():
    rng = np.random.default_rng(2)
    V, _ = np.linalg.qr(rng.standard_normal((7, 3)))
    g = ld.Gaussian.from_eigen(np.ones(7), [3.0, 2.0, 1.0], basis=V, rest=0.5)
    assert rel(g.cov, V @ np.diag([3.0, 2.0, 1.0]) @ V.T + 0.5 * (np.eye(7) - V @ V.T)) < 1e-13
    assert rel(g.spectrum, [3, 2, 1, 0.5, 0.5, 0.5, 0.5]) < 1e-13
    assert g.logdet() == pytest.approx(np.linalg.slogdet(g.cov)[1], rel=1e-12)


@pytest.mark.parametrize("basis", ["standard", "rotated", "low-rank"])
def test_sample_moments(basis):
    rng = np.random.default_rng(3)
    d, n = 5, 200_000
    if basis == "standard":
        g = ld.Gaussian.from_eigen(np.arange(d, dtype=float), [4.0, 2.0, 1.0, 0.5, 0.25])
    elif basis == "rotated":
        g = ld.power_law_gaussian(d, 1.0, rng)
    else:
        V, _ = np.linalg.qr(rng.standard_normal((d, 2)))
        g = ld.Gaussian.from_eigen(np.ones(d), [3.0, 1.0], basis=V, rest=0.2)
    x = g.sample(n, rng)
    cov = g.cov
    # Monte-Carlo error of a sample covariance entry: sqrt((S_ii S_jj + S_ij^2) / n)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(x.T, bias=True) - cov) < 5 * se)
    assert np.all(np.abs(x.mean(axis=0) - g.mean) < 5 * np.sqrt(np.diag(cov) / n))


def test_power_law_gaussian():
    g = ld.power_law_gaussian(50, 1.5)
    assert g.basis is None and np.all(g.mean == 0)
    assert g.eigenvalues.sum() == pytest.approx(50, rel=1e-13)
    nu = np.arange(1, 51)
    assert rel(g.eigenvalues / g.eigenvalues[0], nu**-1.5) < 1e-13
    assert rel(ld.power_law_spectrum(10, 0.0), np.ones(10)) < 1e-15
    r = ld.power_law_gaussian(20, 1.0, np.random.default_rng(0))
    assert rel(r.basis.T @ r.basis, np.eye(20)) < 1e-12
    assert np.trace(r.cov) == pytest.approx(20, rel=1e-12)


# --------------------------------------------------------------------------- denoiser


@pytest.mark.parametrize("N,d,gamma", [(5, 8, 0.0), (40, 8, 0.0), (5, 8, 0.03), (3, 30, 0.0), (100, 12, 1e-3)])
def test_weights_match_independent_closed_form(N, d, gamma):
    rng = np.random.default_rng(N + d)
    rho = ld.power_law_gaussian(d, 1.0, rng)
    X = rho.sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma)
    assert den.gains.shape == (SCHED.T, min(d, N - 1))
    for t in STEPS:
        W, b = den.weights(t)
        W_ref, b_ref = dense_denoiser(X, SCHED, t, gamma)
        assert rel(W, W_ref) < 1e-8 and rel(b, b_ref) < 1e-8
        y = rng.standard_normal((4, d))
        assert rel(den.apply(y, t), y @ W.T + b) < 1e-10


@pytest.mark.parametrize("tau", [0.0, 0.3, 5.0, 200.0])
def test_train_time_is_gradient_flow(tau):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((6, 9)) * np.linspace(2, 0.1, 9)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=0.01, train_time=tau)
    for t in [1, 50, 1000]:
        W_ref, b_ref = dense_denoiser(X, SCHED, t, 0.01, tau)
        W, b = den.weights(t)
        assert np.max(np.abs(W - W_ref)) <= 1e-7 * max(np.max(np.abs(W_ref)), 1e-300) + 1e-300
        assert np.allclose(b, b_ref, rtol=1e-7, atol=1e-12)


def test_train_time_infinite_is_converged():
    X = np.random.default_rng(8).standard_normal((10, 4))
    a = ld.fit_linear_denoiser(X, SCHED, train_time=np.inf)
    b = ld.fit_linear_denoiser(X, SCHED)
    assert a.train_time is None and np.array_equal(a.gains, b.gains)


def test_null_directions_have_gain_one_over_s():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((4, 10))
    den = ld.fit_linear_denoiser(X, SCHED)
    assert den.n_null == 10 - 4 + 1
    assert rel(den.null_gain, 1 / np.sqrt(SCHED.one_minus_alpha_bar)) < 1e-14


def test_denoiser_stores_no_dense_time_stack():
    X = np.random.default_rng(10).standard_normal((20, 64))
    den = ld.fit_linear_denoiser(X, SCHED)
    sizes = [np.asarray(v).size for v in vars(den).values() if isinstance(v, np.ndarray)]
    assert max(sizes) <= SCHED.T * 64


# --------------------------------------------------------------------------- losses


@pytest.mark.parametrize("N,d,gamma", [(5, 8, 0.0), (30, 6, 0.02), (2, 5, 0.0)])
def test_losses_match_dense_formula(N, d, gamma):
    rng = np.random.default_rng(11 + N)
    rho = ld.power_law_gaussian(d, 0.7, rng)
    X = rho.sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma)
    L_test, L_train = ld.test_loss(den, SCHED, rho), ld.train_loss(den, SCHED, X)
    mu0, S0 = X.mean(axis=0), np.cov(X.T, bias=True)
    for t in STEPS:
        a = SCHED.alpha_bar[t - 1]
        W, b = dense_denoiser(X, SCHED, t, gamma)
        assert L_test[t - 1] == pytest.approx(dense_loss(W, b, a, rho.mean, rho.cov), rel=1e-8)
        assert L_train[t - 1] == pytest.approx(dense_loss(W, b, a, mu0, S0), rel=1e-8)


def test_train_loss_is_test_loss_on_the_empirical_gaussian():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((7, 11))
    den = ld.fit_linear_denoiser(X, SCHED)
    emp = ld.Gaussian.from_samples(X)
    assert rel(ld.train_loss(den, SCHED, X), ld.test_loss(den, SCHED, emp)) < 1e-12


def test_test_loss_monte_carlo():
    rng = np.random.default_rng(13)
    d, N, n = 6, 4, 400_000
    rho = ld.power_law_gaussian(d, 1.0, rng)
    den = ld.fit_linear_denoiser(rho.sample(N, rng), SCHED)
    L = ld.test_loss(den, SCHED, rho)
    for t in [1, 100, 1000]:
        a = SCHED.alpha_bar[t - 1]
        x0, eps = rho.sample(n, rng), rng.standard_normal((n, d))
        err = np.sum((eps - den.apply(np.sqrt(a) * x0 + np.sqrt(1 - a) * eps, t)) ** 2, axis=1)
        assert abs(err.mean() - L[t - 1]) < 5 * err.std() / np.sqrt(n)


def test_loss_minimum_and_rotation_invariance():
    rng = np.random.default_rng(14)
    d, N = 7, 5
    rho = ld.power_law_gaussian(d, 1.0)
    X = rho.sample(N, rng)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    rho_rot = ld.Gaussian.from_eigen(rho.mean @ Q.T, rho.eigenvalues, basis=Q)
    den = ld.fit_linear_denoiser(X, SCHED)
    den_rot = ld.fit_linear_denoiser(X @ Q.T, SCHED)
    assert rel(ld.test_loss(den, SCHED, rho), ld.test_loss(den_rot, SCHED, rho_rot)) < 1e-10
    lam0 = np.linalg.eigvalsh(np.cov(X.T, bias=True))
    a = SCHED.alpha_bar[:, None]
    L_min = d - (1 - a[:, 0]) * np.sum(1 / (a * lam0 + 1 - a), axis=1)
    assert rel(ld.train_loss(den, SCHED, X), L_min) < 1e-10


@settings(max_examples=40, deadline=None)
@given(
    d=st.integers(1, 12), N=st.integers(2, 20), k=st.floats(0, 3),
    gamma=st.sampled_from([0.0, 1e-4, 0.1]), seed=st.integers(0, 2**32 - 1),
)
def test_property_weights_and_losses(d, N, k, gamma, seed):
    rng = np.random.default_rng(seed)
    rho = ld.power_law_gaussian(d, k, rng)
    X = rho.sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma)
    assert den.r + den.n_null == d and den.r <= min(d, N - 1)
    L_test, L_train = ld.test_loss(den, SCHED, rho), ld.train_loss(den, SCHED, X)
    assert np.all(np.isfinite(L_test)) and np.all(L_test > 0) and np.all(L_train > 0)
    for t in [1, 500, 1000]:
        W, b = dense_denoiser(X, SCHED, t, gamma)
        W2, b2 = den.weights(t)
        assert rel(W2, W) < 1e-7
        assert L_test[t - 1] == pytest.approx(
            dense_loss(W, b, SCHED.alpha_bar[t - 1], rho.mean, rho.cov), rel=1e-7)


# --------------------------------------------------------------------------- bad input

_X = np.random.default_rng(0).standard_normal((5, 3))
_DEN = ld.fit_linear_denoiser(_X, SCHED)
_RNG = np.random.default_rng(0)

BAD_INPUTS = [
    ("X", lambda: ld.fit_linear_denoiser(_X[0], SCHED)),                           # 1-d
    ("X", lambda: ld.fit_linear_denoiser(_X[:1], SCHED)),                          # N < 2
    ("X", lambda: ld.fit_linear_denoiser(np.where(_X > 1, np.nan, _X), SCHED)),   # NaN
    ("X", lambda: ld.fit_linear_denoiser(np.where(_X > 1, np.inf, _X), SCHED)),   # inf
    ("X", lambda: ld.fit_linear_denoiser([["a", "b"], ["c", "d"]], SCHED)),       # not numeric
    ("weight_decay", lambda: ld.fit_linear_denoiser(_X, SCHED, weight_decay=-1e-3)),
    ("weight_decay", lambda: ld.fit_linear_denoiser(_X, SCHED, weight_decay=np.nan)),
    ("train_time", lambda: ld.fit_linear_denoiser(_X, SCHED, train_time=-1.0)),
    ("sched", lambda: ld.fit_linear_denoiser(_X, SCHED.beta)),
    ("t", lambda: _DEN.weights(0)),
    ("t", lambda: _DEN.weights(SCHED.T + 1)),
    ("t", lambda: _DEN.weights(1.5)),
    ("cov", lambda: ld.Gaussian(np.zeros(2), [[1.0, 0.0], [0.0, -1.0]])),          # not PSD
    ("cov", lambda: ld.Gaussian(np.zeros(2), [[1.0, 0.5], [0.0, 1.0]])),           # not symmetric
    ("cov", lambda: ld.Gaussian(np.zeros(3), np.eye(2))),                          # shape
    ("mean", lambda: ld.Gaussian([np.nan, 0.0], np.eye(2))),
    ("basis", lambda: ld.Gaussian.from_eigen(np.zeros(3), [1.0, 1.0], basis=np.ones((3, 2)))),
    ("eigenvalues", lambda: ld.Gaussian.from_eigen(np.zeros(2), [1.0, -1.0])),
    ("rest", lambda: ld.Gaussian.from_eigen(np.zeros(2), [1.0], basis=[[1.0], [0.0]], rest=-1)),
    ("T", lambda: ld.linear_schedule(T=0)),
    ("beta_min", lambda: ld.linear_schedule(beta_min=0.0)),
    ("beta_max", lambda: ld.linear_schedule(beta_max=1.0)),
    ("beta_max", lambda: ld.linear_schedule(beta_min=1e-2, beta_max=1e-3)),
    ("beta", lambda: ld.Schedule(np.array([0.1, 1.2]))),
    ("d", lambda: ld.power_law_gaussian(0, 1.0)),
    ("k", lambda: ld.power_law_gaussian(10, -0.5)),
    ("rng", lambda: ld.power_law_gaussian(10, 1.0, rng=42)),
    ("n", lambda: ld.power_law_gaussian(3, 1.0).sample(-1, _RNG)),
    ("rng", lambda: ld.power_law_gaussian(3, 1.0).sample(5, None)),
    ("rho", lambda: ld.test_loss(_DEN, SCHED, ld.power_law_gaussian(4, 1.0))),
    ("rho", lambda: ld.test_loss(_DEN, SCHED, np.eye(3))),
    ("sched", lambda: ld.test_loss(_DEN, ld.linear_schedule(T=10), ld.power_law_gaussian(3, 1.0))),
    ("den", lambda: ld.train_loss("W", SCHED, _X)),
    ("X", lambda: ld.train_loss(_DEN, SCHED, np.ones((4, 5)))),
    ("lam", lambda: ld.denoiser_gain(-1.0, SCHED)),
    ("x", lambda: _DEN.apply(np.ones((2, 4)), 1)),
]


@pytest.mark.parametrize("name,call", BAD_INPUTS, ids=[f"{i:02d}-{n}" for i, (n, _) in enumerate(BAD_INPUTS)])
def test_bad_input_raises_value_error_naming_the_argument(name, call):
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        call()


# --------------------------------------------------------------------------- generated distribution


def dense_generated(den, sched, sampler, sigma):
    """Independent road: push mean and dense covariance through the affine reverse steps."""
    d = den.d
    S, m = np.eye(d), np.zeros(d)
    s2 = ld.sampler_noise(sched, sampler, sigma)
    for t in range(sched.T, 0, -1):
        W, b = den.weights(t)
        beta, a, a_prev = sched.beta[t - 1], sched.alpha_bar[t - 1], sched.alpha_bar_prev[t - 1]
        if sampler == "ddpm":
            k = beta / np.sqrt(1 - a)
            A, c = (np.eye(d) - k * W) / np.sqrt(1 - beta), -k * b / np.sqrt(1 - beta)
        else:
            A = np.sqrt(a_prev / a) * (np.eye(d) - np.sqrt(1 - a) * W) + np.sqrt(1 - a_prev) * W
            c = (np.sqrt(1 - a_prev) - np.sqrt(a_prev / a) * np.sqrt(1 - a)) * b
        S, m = A @ S @ A.T + s2[t - 1] * np.eye(d), A @ m + c
    return m, S


SAMPLERS = [("ddpm", "beta"), ("ddpm", "posterior"), ("ddim", "beta")]


@pytest.mark.parametrize("sampler,sigma", SAMPLERS)
@pytest.mark.parametrize("N,d,gamma,tau", [(5, 8, 0.0, None), (30, 6, 0.01, None), (4, 7, 0.0, 2.0)])
def test_generated_distribution_matches_dense_propagation(sampler, sigma, N, d, gamma, tau):
    rng = np.random.default_rng(N * d)
    X = ld.power_law_gaussian(d, 1.0, rng).sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma, train_time=tau)
    g = ld.generated_distribution(den, SCHED, sampler, sigma)
    m, S = dense_generated(den, SCHED, sampler, sigma)
    assert rel(g.cov, S) < 1e-8
    assert np.max(np.abs(g.mean - m)) < 1e-8 * max(np.max(np.abs(m)), 1.0)


def test_null_variance_is_exactly_sigma_1_squared():
    X = np.random.default_rng(20).standard_normal((6, 20))
    den = ld.fit_linear_denoiser(X, SCHED)
    assert ld.generated_distribution(den, SCHED).rest == SCHED.beta[0]
    assert ld.generated_distribution(den, SCHED, sigma="posterior").rest == 0.0
    assert ld.generated_distribution(den, SCHED, sampler="ddim").rest == 0.0
    f, _ = ld.generated_moments(np.array([0.0]), SCHED)
    assert f[0] == SCHED.beta[0]


def test_sampler_noise():
    assert np.array_equal(ld.sampler_noise(SCHED), SCHED.beta)
    post = ld.sampler_noise(SCHED, sigma="posterior")
    a = SCHED.alpha_bar
    assert post[0] == 0.0
    assert rel(post[1:], SCHED.beta[1:] * (1 - a[:-1]) / (1 - a[1:])) < 1e-9
    assert np.all(ld.sampler_noise(SCHED, sampler="ddim") == 0)


@pytest.mark.parametrize("sampler,sigma", SAMPLERS)
def test_sample_monte_carlo_matches_exact(sampler, sigma):
    rng = np.random.default_rng(21)
    d, N, n = 6, 4, 40_000
    X = ld.power_law_gaussian(d, 1.0, rng).sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=1e-3)
    g = ld.generated_distribution(den, SCHED, sampler, sigma)
    U = ld.sample(den, SCHED, n, rng, sampler, sigma, batch=15_000)
    S = g.cov
    se = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / n)
    assert np.max(np.abs(np.cov(U.T, bias=True) - S) / se) < 5
    assert np.max(np.abs(U.mean(axis=0) - g.mean) / np.sqrt(np.diag(S) / n)) < 5


# --------------------------------------------------------------------------- KL


def dense_kl(mp, Sp, mq, Sq):
    d = len(mp)
    Lq = np.linalg.cholesky(Sq)
    A = np.linalg.solve(Lq, Sp)
    tr = np.trace(np.linalg.solve(Lq.T, A))
    z = np.linalg.solve(Lq, mq - mp)
    return 0.5 * (tr + z @ z - d + 2 * np.sum(np.log(np.diag(Lq))) - np.linalg.slogdet(Sp)[1])


def _random_gaussian(rng, d, form):
    mean = rng.standard_normal(d)
    if form == "standard":
        return ld.Gaussian.from_eigen(mean, rng.uniform(0.1, 3, d))
    if form == "full":
        V, _ = np.linalg.qr(rng.standard_normal((d, d)))
        return ld.Gaussian.from_eigen(mean, rng.uniform(0.1, 3, d), basis=V)
    r = d // 3
    V, _ = np.linalg.qr(rng.standard_normal((d, r)))
    return ld.Gaussian.from_eigen(mean, rng.uniform(0.1, 3, r), basis=V, rest=rng.uniform(0.05, 1))


@pytest.mark.parametrize("fp", ["standard", "full", "low-rank"])
@pytest.mark.parametrize("fq", ["standard", "full", "low-rank"])
def test_kl_matches_dense(fp, fq):
    rng = np.random.default_rng(hash((fp, fq)) % 2**32)
    p, q = _random_gaussian(rng, 9, fp), _random_gaussian(rng, 9, fq)
    assert ld.kl_divergence(p, q) == pytest.approx(dense_kl(p.mean, p.cov, q.mean, q.cov), rel=1e-8)
    assert ld.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-10)


def test_kl_of_generated_distribution_matches_dense():
    rng = np.random.default_rng(22)
    rho = ld.power_law_gaussian(10, 1.0, rng)
    den = ld.fit_linear_denoiser(rho.sample(4, rng), SCHED)
    g = ld.generated_distribution(den, SCHED)
    assert ld.kl_divergence(g, rho) == pytest.approx(dense_kl(g.mean, g.cov, rho.mean, rho.cov), rel=1e-8)
    assert ld.kl_divergence(rho, g) == pytest.approx(dense_kl(rho.mean, rho.cov, g.mean, g.cov), rel=1e-8)


def test_kl_monte_carlo():
    rng = np.random.default_rng(23)
    p, q = _random_gaussian(rng, 4, "full"), _random_gaussian(rng, 4, "low-rank")
    x = p.sample(200_000, rng)

    def logpdf(g, x):
        y = x - g.mean
        return -0.5 * (np.sum(y @ np.linalg.inv(g.cov) * y, axis=1) + g.logdet() + g.d * np.log(2 * np.pi))

    diff = logpdf(p, x) - logpdf(q, x)
    assert abs(diff.mean() - ld.kl_divergence(p, q)) < 4 * diff.std() / np.sqrt(len(x))


def test_kl_infinite_cases():
    rng = np.random.default_rng(24)
    X = rng.standard_normal((5, 12))
    den = ld.fit_linear_denoiser(X, SCHED)
    rho = ld.power_law_gaussian(12, 1.0)
    degenerate = ld.generated_distribution(den, SCHED, sigma="posterior")
    assert ld.kl_divergence(degenerate, rho) == np.inf
    assert ld.kl_divergence(rho, degenerate) == np.inf
    assert ld.kl_divergence(degenerate, degenerate) == pytest.approx(0.0, abs=1e-8)
    other = ld.generated_distribution(ld.fit_linear_denoiser(X[:4], SCHED), SCHED, sigma="posterior")
    assert ld.kl_divergence(other, degenerate) == np.inf  # lower-dimensional support
    ddim = ld.generated_distribution(den, SCHED, sampler="ddim")
    expected = dense_kl(ddim.mean @ den.basis, den.basis.T @ ddim.cov @ den.basis,
                        degenerate.mean @ den.basis, den.basis.T @ degenerate.cov @ den.basis)
    assert ld.kl_divergence(ddim, degenerate) == pytest.approx(expected, rel=1e-6)


def test_kl_large_d_low_rank_is_cheap_and_finite():
    rng = np.random.default_rng(25)
    rho = ld.power_law_gaussian(20_000, 1.0)
    den = ld.fit_linear_denoiser(rho.sample(16, rng), SCHED)
    g = ld.generated_distribution(den, SCHED)
    assert g.basis.shape == (20_000, 15)
    kl = ld.kl_divergence(g, rho)
    assert np.isfinite(kl) and kl > 0


BAD_INPUTS_3 = [
    ("sampler", lambda: ld.generated_distribution(_DEN, SCHED, sampler="euler")),
    ("sigma", lambda: ld.generated_distribution(_DEN, SCHED, sigma="zero")),
    ("n", lambda: ld.sample(_DEN, SCHED, 2.5, _RNG)),
    ("rng", lambda: ld.sample(_DEN, SCHED, 2, 0)),
    ("batch", lambda: ld.sample(_DEN, SCHED, 2, _RNG, batch=0)),
    ("p", lambda: ld.kl_divergence(np.eye(3), ld.power_law_gaussian(3, 1.0))),
    ("q", lambda: ld.kl_divergence(ld.power_law_gaussian(3, 1.0), ld.power_law_gaussian(4, 1.0))),
    ("lam", lambda: ld.generated_moments(np.array([-1.0]), SCHED)),
]


@pytest.mark.parametrize("name,call", BAD_INPUTS_3, ids=[f"{i:02d}-{n}" for i, (n, _) in enumerate(BAD_INPUTS_3)])
def test_bad_input_3_raises_value_error_naming_the_argument(name, call):
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        call()


# --------------------------------------------------------------------------- typical case


def _kappa_brentq(lam, n, c):
    from scipy.optimize import brentq

    kappa0 = 0.0
    if n < np.count_nonzero(lam):
        kappa0 = brentq(lambda k: np.sum(lam / (lam + k)) - n, 1e-300, lam.sum() / n,
                        xtol=1e-300, rtol=1e-15)
    if c == 0:
        return kappa0
    return brentq(lambda k: k - c - k / n * np.sum(lam / (lam + k)), kappa0, c + lam.sum() / n,
                  xtol=1e-300, rtol=1e-15)


def test_kappa_matches_marchenko_pastur_closed_form():
    cs = np.logspace(-10, 0, 31)
    for n in [50, 199, 200, 201, 800]:
        q = 200 / n
        b = 1 - q - cs
        disc = np.sqrt(b**2 + 4 * cs)
        closed = np.where(b > 0, 2 * cs / (b + disc), (disc - b) / 2)
        assert rel(ld.silverstein_kappa(np.ones(200), n, cs) / closed, 1.0) < 1e-8
    assert ld.silverstein_kappa(np.ones(200), 50, 0.0) == pytest.approx(200 / 50 - 1, rel=1e-12)


@pytest.mark.parametrize("k", [0.5, 1.0, 2.0, 3.0])
def test_kappa_matches_independent_bracketed_solver(k):
    lam = ld.power_law_spectrum(150, k)
    cs = np.concatenate([[0.0], np.logspace(-10, 0, 21)])
    for n in [10, 75, 149, 150, 400]:
        ref = np.array([_kappa_brentq(lam, n, c) for c in cs])
        got = ld.silverstein_kappa(lam, n, cs)
        assert np.all(np.abs(got - ref) <= 1e-7 * np.maximum(ref, 1e-300))


def test_kappa_broadcasts_and_continuation_agrees():
    lam = ld.power_law_spectrum(100, 1.0)
    Ns = np.array([[20.0], [100.0], [300.0]])
    cs = np.logspace(-8, 1, 400)[None, :]
    grid = ld.silverstein_kappa(lam, Ns, cs)  # 1200 roots: solved with continuation in c
    assert grid.shape == (3, 400)
    for i, n in enumerate(Ns[:, 0]):
        single = np.array([ld.silverstein_kappa(lam, n, c) for c in cs[0, ::37]])
        assert rel(grid[i, ::37], single) < 1e-10
    assert np.all(np.diff(grid, axis=1) > 0)  # kappa grows with c


def test_typical_case_matches_monte_carlo():
    rng = np.random.default_rng(30)
    d = 200
    for k in [0.0, 1.5]:
        rho = ld.power_law_gaussian(d, k)
        for N in [80, 400]:
            c = np.array([1e-3, 0.1])
            tc = ld.typical_case(rho.eigenvalues, N, c)
            sims = []
            for _ in range(8):
                g = ld.Gaussian.from_samples(rho.sample(N, rng))
                ev = g.spectrum
                sims.append([np.sum(1 / (ev + ci)) for ci in c] + [np.sum(np.log(ev + ci)) for ci in c])
            sims = np.mean(sims, axis=0)
            assert rel(sims[:2] / tc.tr_resolvent, 1.0) < 0.015
            assert np.all(np.abs(sims[2:] - tc.logdet) < 0.01 * d)


def test_predictions_match_exact_simulations():
    rng = np.random.default_rng(31)
    d, N = 128, 64
    lam = ld.power_law_spectrum(d, 1.0)
    rho = ld.Gaussian.from_eigen(np.zeros(d), lam)
    train, test = ld.predict_losses(lam, N, SCHED)
    sims = []
    for _ in range(6):
        X = rho.sample(N, rng)
        den = ld.fit_linear_denoiser(X, SCHED)
        sims.append([ld.train_loss(den, SCHED, X).sum(), ld.test_loss(den, SCHED, rho).sum(),
                     ld.missing_variance(den, rho)])
    sims = np.mean(sims, axis=0)
    assert sims[0] == pytest.approx(train.sum(), rel=0.03)
    assert sims[1] == pytest.approx(test.sum(), rel=0.03)
    assert sims[2] == pytest.approx(ld.predict_missing_variance(lam, N), rel=0.05)
    assert ld.predict_missing_variance(lam, 4 * d) == 0.0


def test_predict_kl_reproduces_the_d_over_4N_law():
    d, N = 40, 4000
    lam = ld.power_law_spectrum(d, 1.0)
    kl = ld.predict_kl(lam, N, 1e-12)
    # the deterministic equivalent captures the leading order d^2/(4N) (not the 1/d corrections)
    assert kl == pytest.approx(ld.expected_kl_empirical(d, N), rel=2 / d)
    assert ld.predict_kl(lam, N, 1e-12, reverse=True) == pytest.approx(
        ld.expected_kl_empirical(d, N, reverse=True), rel=3 / d)


BAD_INPUTS_4 = [
    ("eigenvalues", lambda: ld.silverstein_kappa([-1.0, 1.0], 10, 0.1)),
    ("eigenvalues", lambda: ld.silverstein_kappa([0.0, 0.0], 10, 0.1)),
    ("N", lambda: ld.silverstein_kappa([1.0], 0, 0.1)),
    ("c", lambda: ld.silverstein_kappa([1.0], 10, -0.1)),
    ("c", lambda: ld.silverstein_kappa([1.0], 10, np.nan)),
    ("c", lambda: ld.typical_case([1.0, 2.0], 10, 0.0)),
    ("N", lambda: ld.typical_case([1.0, 2.0], 1, 0.1)),
    ("N", lambda: ld.expected_kl_empirical(10, 10)),
    ("N", lambda: ld.expected_kl_empirical(10, 12, reverse=True)),
    ("eigenvalues", lambda: ld.predict_kl([0.0, 1.0], 10, 0.1)),
    ("sched", lambda: ld.predict_losses([1.0, 2.0], 10, "linear")),
]


@pytest.mark.parametrize("name,call", BAD_INPUTS_4, ids=[f"{i:02d}-{n}" for i, (n, _) in enumerate(BAD_INPUTS_4)])
def test_bad_input_4_raises_value_error_naming_the_argument(name, call):
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        call()


# --------------------------------------------------------------------------- training dynamics


def test_gradient_descent_matches_discrete_closed_form_and_flow():
    rng = np.random.default_rng(40)
    X = rng.standard_normal((5, 7)) * np.linspace(2, 0.3, 7)
    t, gamma = 40, 0.02
    a = SCHED.alpha_bar[t - 1]
    C = a * np.cov(X.T, bias=True) + (1 - a + gamma) * np.eye(7)
    W_star = np.sqrt(1 - a) * np.linalg.inv(C)
    eta, k = 0.1 / np.linalg.eigvalsh(C)[-1], 30
    W, b = ld.gradient_descent(X, SCHED, t, eta, k, weight_decay=gamma)
    expected = W_star @ (np.eye(7) - np.linalg.matrix_power(np.eye(7) - 2 * eta * C, k))
    assert rel(W, expected) < 1e-10
    assert rel(b, -np.sqrt(a) * expected @ X.mean(axis=0)) < 1e-10
    tau = 1.5
    flow = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma, train_time=tau).weights(t)[0]
    errs = [np.max(np.abs(ld.gradient_descent(X, SCHED, t, e, int(round(tau / e)), gamma)[0] - flow))
            for e in (0.02, 0.01, 0.005)]
    assert 1.8 < errs[0] / errs[1] < 2.2 and 1.8 < errs[1] / errs[2] < 2.2
    W_long, _ = ld.gradient_descent(X, SCHED, t, 1 / np.linalg.eigvalsh(2 * C)[-1], 20000, gamma)
    assert rel(W_long, W_star) < 1e-8


def test_predict_losses_with_weight_decay_matches_simulation():
    rng = np.random.default_rng(41)
    d, N, gamma = 128, 48, 0.05
    lam = ld.power_law_spectrum(d, 1.0)
    rho = ld.Gaussian.from_eigen(np.zeros(d), lam)
    train, test = ld.predict_losses(lam, N, SCHED, weight_decay=gamma)
    sims = []
    for _ in range(6):
        X = rho.sample(N, rng)
        den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma)
        sims.append([ld.train_loss(den, SCHED, X).sum(), ld.test_loss(den, SCHED, rho).sum()])
    sims = np.mean(sims, axis=0)
    assert sims[0] == pytest.approx(train.sum(), rel=0.03)
    assert sims[1] == pytest.approx(test.sum(), rel=0.03)
    # gamma = 0 reduces to the plain formula d - c Tr(Sigma_0 + c)^-1
    t0, _ = ld.predict_losses(lam, N, SCHED)
    tc = ld.typical_case(lam, N, SCHED.noise_to_signal)
    assert rel(t0, d - SCHED.noise_to_signal * tc.tr_resolvent) < 1e-10


BAD_INPUTS_5 = [
    ("learning_rate", lambda: ld.gradient_descent(_X, SCHED, 1, 0.0, 10)),
    ("n_steps", lambda: ld.gradient_descent(_X, SCHED, 1, 0.1, -1)),
    ("t", lambda: ld.gradient_descent(_X, SCHED, 0, 0.1, 10)),
    ("weight_decay", lambda: ld.gradient_descent(_X, SCHED, 1, 0.1, 10, weight_decay=-1.0)),
    ("X", lambda: ld.gradient_descent(_X[:1], SCHED, 1, 0.1, 10)),
    ("weight_decay", lambda: ld.predict_losses([1.0, 2.0], 10, SCHED, weight_decay=-0.1)),
    ("train_time", lambda: ld.generated_moments(np.array([1.0]), SCHED, train_time=np.nan)),
]


@pytest.mark.parametrize("name,call", BAD_INPUTS_5, ids=[f"{i:02d}-{n}" for i, (n, _) in enumerate(BAD_INPUTS_5)])
def test_bad_input_5_raises_value_error_naming_the_argument(name, call):
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        call()
