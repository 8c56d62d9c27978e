"""Properties that hold for every input (hypothesis), and a stress grid over the
extremes.
"""

import numpy as np
import pytest
from conftest import EPS, SCHED, assert_close, problem
from hypothesis import given, settings
from hypothesis import strategies as st

import lindiff_core as ld
from lindiff import reference as ref

SEEDS = st.integers(0, 2**32 - 1)


def _rotation(rng, d):
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


# a training problem: dimension, training points, power-law exponent, weight decay, seed
PROBLEMS = dict(
    d=st.integers(1, 12),
    N=st.integers(2, 20),
    k=st.floats(0, 3),
    gamma=st.sampled_from([0.0, 1e-4, 0.1]),
    seed=SEEDS,
)


def _problem(d, N, k, gamma, seed):
    return problem(seed, d, N, k, weight_decay=gamma)


@settings(max_examples=30)
@given(**PROBLEMS)
def test_rotating_data_and_sigma_together_changes_nothing(d, N, k, gamma, seed):
    rng, rho, X, den = _problem(d, N, k, gamma, seed)
    Q = _rotation(rng, d)
    rho_rot = ld.Gaussian.from_eigen(Q @ rho.mean, rho.eigenvalues, basis=Q @ rho.basis)
    den_rot = ld.fit_linear_denoiser(X @ Q.T, SCHED, weight_decay=gamma)
    # The two problems round differently (SVD, rotations: ~ d EPS relative on the
    # bases); the null-direction terms weigh that by up to 1/c_1 ~ 1e4 and the reverse
    # KL divides by the floor and by lambda_min(Sigma) >= d^-3: allow 1e-6 relative.
    for f in (ld.test_loss, ld.train_loss):
        arg = (rho, rho_rot) if f is ld.test_loss else (X, X @ Q.T)
        assert_close(f(den_rot, SCHED, arg[1]), f(den, SCHED, arg[0]), 1e-6, f.__name__)
    g, g_rot = (
        ld.generated_distribution(den, SCHED),
        ld.generated_distribution(den_rot, SCHED),
    )
    assert_close(
        ld.kl_divergence(g_rot, rho_rot), ld.kl_divergence(g, rho), 1e-6, "KL forward"
    )
    assert_close(
        ld.kl_divergence(rho_rot, g_rot), ld.kl_divergence(rho, g), 1e-6, "KL reverse"
    )


def _gaussian(draw_rng, d, form):
    mean = draw_rng.standard_normal(d) * 3
    if form == "standard":
        return ld.Gaussian.from_eigen(mean, draw_rng.uniform(1e-3, 10, d))
    if form == "full":
        return ld.Gaussian.from_eigen(
            mean, draw_rng.uniform(1e-3, 10, d), basis=_rotation(draw_rng, d)
        )
    r = draw_rng.integers(0, d + 1)
    V = _rotation(draw_rng, d)[:, :r]
    return ld.Gaussian.from_eigen(
        mean, draw_rng.uniform(1e-3, 10, r), basis=V, rest=draw_rng.uniform(1e-3, 10)
    )


FORMS = st.sampled_from(["standard", "full", "low-rank"])


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 12), fp=FORMS, fq=FORMS, seed=SEEDS)
def test_kl_is_zero_on_itself_and_positive_otherwise(d, fp, fq, seed):
    rng = np.random.default_rng(seed)
    p, q = _gaussian(rng, d, fp), _gaussian(rng, d, fq)
    # KL(p, p): terms of size up to d cancel; ~ d EPS each, and 1/lambda_min ~ 1e3
    # enters the Mahalanobis term of the mean: 100 d EPS 1e3
    assert abs(ld.kl_divergence(p, p)) <= 100 * d * EPS * 1e3
    assert ld.kl_divergence(p, q) >= 0 and ld.kl_divergence(q, p) >= 0


@settings(max_examples=40, deadline=None)
@given(
    sampler=st.sampled_from(
        [("ddpm", "beta"), ("ddpm", "posterior"), ("ddim", "beta")]
    ),
    gamma=st.sampled_from([0.0, 1e-8, 1e-3, 1.0]),
    tau=st.sampled_from([None, 1e-3, 1.0, 1e3]),
)
def test_generated_variance_increases_with_lambda(sampler, gamma, tau):
    lam = np.concatenate([[0.0], np.logspace(-8, 4, 400)])
    f, h = ld.generated_moments(
        lam,
        SCHED,
        weight_decay=gamma,
        train_time=tau,
        sampler=sampler[0],
        sigma=sampler[1],
    )
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(h))
    assert np.all(f >= 0)
    # strictly increasing in lambda, up to rounding of f (relative ~ T EPS)
    assert np.all(np.diff(f) >= -1e3 * EPS * f[1:])


@settings(max_examples=40, deadline=None)
@given(
    gamma=st.floats(0, 10),
    tau=st.one_of(st.none(), st.floats(1e-12, 1e12)),
    lam=st.lists(st.floats(0, 1e6), min_size=1, max_size=20),
)
def test_gains_are_positive_and_bounded(gamma, tau, lam):
    gain = ld.denoiser_gain(np.array(lam), SCHED, weight_decay=gamma, train_time=tau)
    bound = 1 / np.sqrt(SCHED.one_minus_alpha_bar)[:, None]
    assert np.all(gain > 0)
    assert np.all(gain <= bound * (1 + 4 * EPS))


# -------------------------------------------------------------------------- stress grid

STRESS = [
    # (d, N, k, weight_decay, train_time)
    (4096, 2, 4.0, 0.0, None),
    (4096, 64, 1.0, 1e-12, None),
    (4096, 64, 4.0, 0.0, 1e-12),
    (1024, 10240, 4.0, 0.0, None),
    (1024, 1025, 0.0, 0.0, 1e12),
    (512, 5120, 2.0, 10.0, None),
    (64, 640, 4.0, 1e-12, 1e-12),
    (64, 2, 0.0, 0.0, 1e12),
    (16, 160, 3.0, 0.0, 1e6),
    (1, 2, 0.0, 0.0, None),
    (1, 10, 4.0, 1e-12, 1e-12),
]


@pytest.mark.parametrize("d,N,k,gamma,tau", STRESS)
def test_stress_no_nan_and_inf_only_where_infinite(d, N, k, gamma, tau):
    rng = np.random.default_rng(d + N)
    rho = ld.power_law_gaussian(d, k, rng if d <= 1024 else None)
    X = rho.sample(N, rng)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma, train_time=tau)
    for L in (ld.test_loss(den, SCHED, rho), ld.train_loss(den, SCHED, X)):
        assert np.all(np.isfinite(L)) and np.all(L >= 0)
    assert np.isfinite(ld.missing_variance(den, rho))
    for sampler, sigma in [("ddpm", "beta"), ("ddpm", "posterior"), ("ddim", "beta")]:
        g = ld.generated_distribution(den, SCHED, sampler, sigma)
        assert np.all(np.isfinite(g.eigenvalues)) and np.isfinite(g.rest)
        assert np.all(np.isfinite(g.mean))
        fwd, rev = ld.kl_divergence(g, rho), ld.kl_divergence(rho, g)
        # infinite exactly when rho_N is degenerate: no noise at the last step (c = 0),
        # no weight decay and no early stop, and null directions to leave empty
        degenerate = (
            (sigma == "posterior" or sampler == "ddim")
            and gamma == 0
            and tau is None
            and den.n_null > 0
        )
        # with early stopping or weight decay the last step does not erase the null
        # directions exactly, but their variance can underflow to 0 in floating point:
        # then also inf
        degenerate = (
            degenerate or g.rest == 0 and den.n_null > 0 or np.any(g.eigenvalues == 0)
        )
        assert np.isinf(fwd) == degenerate and np.isinf(rev) == degenerate
        assert not np.isnan(fwd) and not np.isnan(rev)
        if not degenerate:
            assert fwd >= 0 and rev >= 0
    if N > 2 and N - 1 < d:
        lam = rho.eigenvalues
        kappa = ld.silverstein_kappa(lam, N - 1, np.array([0.0, 1e-12, 1.0]))
        assert np.all(np.isfinite(kappa)) and kappa[1] >= kappa[0]


@settings(max_examples=40)
@given(**PROBLEMS)
def test_weights_and_losses_match_the_dense_roads(d, N, k, gamma, seed):
    _, rho, X, den = _problem(d, N, k, gamma, seed)
    assert den.r + den.n_null == d and den.r <= min(d, N - 1)
    L_test, L_train = ld.test_loss(den, SCHED, rho), ld.train_loss(den, SCHED, X)
    assert np.all(np.isfinite(L_test)) and np.all(L_test > 0) and np.all(L_train > 0)
    for t in [1, 500, 1000]:
        W, b = ref.dense_denoiser(X, SCHED, t, gamma)
        # dense solve with cond(C_t) <= (abar lam_max + 1)/beta_1 ~ 1e6 for k = 3:
        # ~ d cond EPS ~ 1e-9
        assert_close(den.weights(t)[0], W, 1e-7, f"W_{t}")
        assert_close(
            L_test[t - 1],
            ref.dense_loss(W, b, SCHED.alpha_bar[t - 1], rho.mean, rho.cov),
            1e-7,
            f"test L_{t}",
        )
