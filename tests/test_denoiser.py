"""Chapters 1 and 7: the optimal linear denoiser, its gains, gradient flow and gradient
descent.
"""

import numpy as np
import pytest
from conftest import SCHED, STEPS, assert_close, problem

import lindiff_core as ld
from lindiff import reference as ref


@pytest.mark.parametrize(
    "N,d,gamma",
    [(5, 8, 0.0), (40, 8, 0.0), (5, 8, 0.03), (3, 30, 0.0), (100, 12, 1e-3)],
)
def test_weights_match_the_dense_closed_form(N, d, gamma):
    rng, rho, X, den = problem(N + d, d, N, weight_decay=gamma)
    assert den.gains.shape == (SCHED.T, min(d, N - 1))
    for t in STEPS:
        W, b = den.weights(t)
        W_ref, b_ref = ref.dense_denoiser(X, SCHED, t, gamma)
        # Both solve with C_t, of condition number up to (abar lam_max + 1)/(1 - abar_1)
        # ~ 1e5 at t = 1: relative error ~ d cond(C_t) EPS ~ 1e-10.
        assert_close(W, W_ref, 1e-8, f"W_{t}")
        assert_close(b, b_ref, 1e-8, f"b_{t}")
        y = rng.standard_normal((4, d))
        # the eigen-form product against the dense one: a few d-term sums
        assert_close(den.apply(y, t), y @ W.T + b, 1e-12, f"apply at t = {t}")


def test_gain_values():
    lam = np.array([0.0, 1e-4, 1e-2, 1.0, 100.0])
    gain = ld.denoiser_gain(lam, SCHED)
    a, s = SCHED.alpha_bar[:, None], np.sqrt(SCHED.one_minus_alpha_bar)[:, None]
    c = SCHED.noise_to_signal[:, None]
    # s w = c_t / (lam + c_t): a few operations each way, a few EPS; 1e-13 leaves 100x
    assert_close(s * gain, c / (lam + c), 1e-13, "s_t w_t = c_t/(lam + c_t)")
    assert_close(gain[:, 0], 1 / s[:, 0], 1e-13, "null gain 1/s_t")
    gain_wd = ld.denoiser_gain(lam, SCHED, weight_decay=0.1)
    assert_close(gain_wd, s / (a * lam + 1 - a + 0.1), 1e-12, "gain with weight decay")
    tau = 3.0
    gain_tau = ld.denoiser_gain(lam, SCHED, train_time=tau)
    C = a * lam + SCHED.one_minus_alpha_bar[:, None]
    assert_close(
        gain_tau, s / C * (1 - np.exp(-2 * tau * C)), 1e-12, "gain at training time"
    )
    assert gain.shape == (SCHED.T, 5)


@pytest.mark.parametrize("tau", [0.0, 0.3, 5.0, 200.0])
def test_train_time_is_gradient_flow(tau):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((6, 9)) * np.linspace(2, 0.1, 9)
    den = ld.fit_linear_denoiser(X, SCHED, weight_decay=0.01, train_time=tau)
    for t in [1, 50, 1000]:
        W_ref, b_ref = ref.dense_denoiser(X, SCHED, t, 0.01, tau)
        W, b = den.weights(t)
        # expm of 2 tau C_t (norm up to ~ 2e3) by scaling and squaring: relative error
        # ~ ||2 tau C|| EPS ~ 1e-12, on top of the solve above.
        if tau == 0.0:
            assert np.all(W == 0) and np.all(b == 0)
        else:
            assert_close(W, W_ref, 1e-8, f"W_{t}(tau)")
            assert_close(b, b_ref, 1e-8, f"b_{t}(tau)")


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
    assert_close(
        den.null_gain * np.sqrt(SCHED.one_minus_alpha_bar), 1.0, 1e-13, "null gain"
    )
    W, _ = den.weights(1)
    null = np.linalg.svd(X - X.mean(axis=0))[2][3:].T  # (d, d - N + 1)
    assert_close(
        W @ null * np.sqrt(SCHED.beta[0]), null, 1e-12, "W_1 on the null space"
    )


def test_denoiser_stores_eigen_form_only():
    # d^2 = 160 000 is above every size the eigen form needs (T r = 19 000, d r = 7
    # 600), so a stored d x d or T x d array cannot hide under the bound
    N, d = 20, 400
    X = np.random.default_rng(10).standard_normal((N, d))
    den = ld.fit_linear_denoiser(X, SCHED)
    arrays = {
        k: np.asarray(v) for k, v in vars(den).items() if isinstance(v, np.ndarray)
    }
    r, T = N - 1, SCHED.T
    allowed = {(d, r), (T, r), (T,), (d,), (r,)}
    assert {k: a.shape for k, a in arrays.items() if a.shape not in allowed} == {}
    assert arrays["basis"].shape == (d, r) and arrays["gains"].shape == (T, r)
    assert sum(a.size for a in arrays.values()) < d * d / 2


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
    # 30 iterations, each a few d-term products of contraction <= 1: ~ k d EPS cond(C) ~
    # 1e-12
    assert_close(W, expected, 1e-10, "W after k steps")
    assert_close(b, -np.sqrt(a) * expected @ X.mean(axis=0), 1e-10, "b after k steps")
    tau = 1.5
    flow = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma, train_time=tau).weights(
        t
    )[0]
    errs = [
        np.max(
            np.abs(
                ld.gradient_descent(X, SCHED, t, e, int(round(tau / e)), gamma)[0]
                - flow
            )
        )
        for e in (0.02, 0.01, 0.005)
    ]
    # first order in eta: the error halves with eta (to O(eta) relative: 2 +- 0.2)
    assert 1.8 < errs[0] / errs[1] < 2.2 and 1.8 < errs[1] / errs[2] < 2.2
    W_long, _ = ld.gradient_descent(
        X, SCHED, t, 1 / np.linalg.eigvalsh(2 * C)[-1], 20000, gamma
    )
    # converged: the contraction (1 - lam_min/lam_max)^20000 is below 1e-30; what is
    # left is the rounding of the fixed point, ~ d cond(C) EPS ~ 1e-13
    assert_close(W_long, W_star, 1e-10, "W after convergence")
