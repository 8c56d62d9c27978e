"""Independent roads to the numbers of :mod:`lindiff_core`, for checks only.

Every function here computes a quantity of the book the slow, direct way: dense
matrices instead of eigen forms, a scalar bracketed root finder instead of the
vectorized solver, closed forms of special cases. The tests and the chapters compare
the core against these; nothing in the core imports them.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm
from scipy.optimize import brentq, elementwise

__all__ = [
    "dense_denoiser",
    "dense_loss",
    "dense_losses",
    "dense_generated",
    "dense_kl",
    "kappa_brentq",
    "kappa_find_root",
    "kappa_isotropic",
    "marchenko_pastur_density",
    "marchenko_pastur_moments",
]


def dense_denoiser(X, sched, t, weight_decay=0.0, train_time=None):
    """``(W_t, b_t)`` of chapter 1 by a dense solve (``expm`` for a training time)."""
    mu0 = X.mean(axis=0)
    S0 = (X - mu0).T @ (X - mu0) / len(X)
    d = X.shape[1]
    a = np.prod(1 - sched.beta[:t])
    C = a * S0 + (1 - a + weight_decay) * np.eye(d)
    W = np.sqrt(1 - a) * np.linalg.solve(C, np.eye(d))
    if train_time is not None:
        W = W @ (np.eye(d) - expm(-2 * train_time * C))
    return W, -np.sqrt(a) * W @ mu0


def dense_loss(W, b, a, mean, cov):
    """``E ||eps - W x_t - b||^2`` for ``x_0 ~ N(mean, cov)`` at ``abar_t = a``, written
    out densely.
    """
    d = len(mean)
    s = np.sqrt(1 - a)
    return (
        np.sum((np.eye(d) - s * W) ** 2)
        + a * np.sum((W @ cov) * W)
        + np.sum((np.sqrt(a) * W @ mean + b) ** 2)
    )


def dense_losses(weights, sched, mean, cov):
    """:func:`dense_loss` at every step, shape (T,): ``weights(t) -> (W_t, b_t)`` of any
    linear model (e.g. ``LinearDenoiser.weights`` or an Adam-trained one); the training
    loss with the training mean and covariance, the test loss with the population's.
    """
    return np.array(
        [
            dense_loss(*weights(t), sched.alpha_bar[t - 1], mean, cov)
            for t in range(1, sched.T + 1)
        ]
    )


def dense_generated(den, sched, sampler="ddpm", sigma="beta"):
    """Mean and covariance of the chain's output, pushed through the dense affine
    reverse steps.
    """
    d = den.d
    S, m = np.eye(d), np.zeros(d)
    beta_all = sched.beta
    if sampler == "ddim":
        s2 = np.zeros(sched.T)
    elif sigma == "beta":
        s2 = beta_all
    else:
        prev = np.concatenate([[0.0], 1 - sched.alpha_bar[:-1]])
        s2 = beta_all * prev / (1 - sched.alpha_bar)
    for t in range(sched.T, 0, -1):
        W, b = den.weights(t)
        beta, a = beta_all[t - 1], sched.alpha_bar[t - 1]
        a_prev = 1.0 if t == 1 else sched.alpha_bar[t - 2]
        if sampler == "ddpm":
            k = beta / np.sqrt(1 - a)
            A, c = (np.eye(d) - k * W) / np.sqrt(1 - beta), -k * b / np.sqrt(1 - beta)
        else:
            A = (
                np.sqrt(a_prev / a) * (np.eye(d) - np.sqrt(1 - a) * W)
                + np.sqrt(1 - a_prev) * W
            )
            c = (np.sqrt(1 - a_prev) - np.sqrt(a_prev / a) * np.sqrt(1 - a)) * b
        S, m = A @ S @ A.T + s2[t - 1] * np.eye(d), A @ m + c
    return m, S


def dense_kl(mp, Sp, mq, Sq):
    """``KL(N(mp, Sp) || N(mq, Sq))`` from dense covariances with Cholesky factors."""
    d = len(mp)
    Lq = np.linalg.cholesky(Sq)
    tr = np.trace(np.linalg.solve(Lq.T, np.linalg.solve(Lq, Sp)))
    z = np.linalg.solve(Lq, mq - mp)
    return 0.5 * (
        tr + z @ z - d + 2 * np.sum(np.log(np.diag(Lq))) - np.linalg.slogdet(Sp)[1]
    )


def kappa_brentq(eigenvalues, n, c):
    """The root of chapter 5's Silverstein equation for one ``(n, c)``, by
    ``scipy.optimize.brentq``.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    kappa0 = 0.0
    if n < np.count_nonzero(lam):
        kappa0 = brentq(
            lambda k: np.sum(lam / (lam + k)) - n,
            1e-300,
            lam.sum() / n,
            xtol=1e-300,
            rtol=1e-15,
        )
    if c == 0:
        return kappa0
    return brentq(
        lambda k: k - c - k / n * np.sum(lam / (lam + k)),
        kappa0,
        c + lam.sum() / n,
        xtol=1e-300,
        rtol=1e-15,
    )


def kappa_find_root(eigenvalues, n, c):
    """The same roots, vectorized over ``n`` and ``c``, by
    ``scipy.optimize.elementwise.find_root``.

    Chandrupatla's bracketed method on the brackets of the core, ``[0, Tr / n]`` for
    ``kappa_0`` and ``[kappa_0, c + Tr / n]`` for ``kappa``; it uses no derivative.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    lam = lam[lam > 0]
    d_plus, trace = lam.size, lam.sum()
    n, c = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(c, dtype=float))
    shape = n.shape
    n, c = n.ravel(), c.ravel()

    def resolvent_sum(k):
        return (k[..., None] / (lam + k[..., None])).sum(axis=-1)  # sum k / (lam + k)

    kappa0 = np.zeros_like(n)
    under = n < d_plus
    if under.any():
        res = elementwise.find_root(
            lambda k, m: (m - d_plus) + resolvent_sum(k),
            (np.zeros(under.sum()), trace / n[under]),
            args=(n[under],),
        )
        assert np.all(res.success)
        kappa0[under] = res.x
    out = kappa0.copy()
    pos = c > 0
    if pos.any():
        res = elementwise.find_root(
            lambda k, m, cc: k * ((m - d_plus) + resolvent_sum(k)) / m - cc,
            (kappa0[pos], c[pos] + trace / n[pos]),
            args=(n[pos], c[pos]),
        )
        assert np.all(res.success)
        out[pos] = res.x
    return out.reshape(shape)


def kappa_isotropic(y, c):
    """``kappa`` for ``Sigma = Id``, ``y = d/n``: the root of ``kappa^2 + (1 - y - c)
    kappa - c = 0``.

    Written ``2c / (b + sqrt(b^2 + 4c))`` when ``b = 1 - y - c > 0``, to avoid
    cancellation; ``c = 0`` gives ``max(y - 1, 0)``.
    """
    b = 1 - y - np.asarray(c, dtype=float)
    disc = np.sqrt(b**2 + 4 * c)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, 2 * c / (b + disc), (disc - b) / 2)


def marchenko_pastur_density(x, y, scale=1.0):
    """Continuous part of the Marchenko-Pastur law of ``scale * S``, ``S`` of ``n = d /
    y`` samples of ``N(0, Id)``.

    ``sqrt((x_+ - x)(x - x_-)) / (2 pi y scale x)`` on ``[x_-, x_+]``,
    ``x_pm = scale (1 pm sqrt(y))^2``; its mass is ``min(1, 1/y)``.
    """
    x = np.asarray(x, dtype=float)
    lo, hi = scale * (1 - np.sqrt(y)) ** 2, scale * (1 + np.sqrt(y)) ** 2
    inside = (x > lo) & (x < hi)
    out = np.zeros_like(x)
    xi = x[inside]
    out[inside] = np.sqrt((hi - xi) * (xi - lo)) / (2 * np.pi * y * scale * xi)
    return out


def marchenko_pastur_moments(y, scale=1.0):
    """``(1/d) E Tr S^j`` for ``j = 0, 1, 2, 3`` in the Marchenko-Pastur limit (the atom
    included).

    ``1, 1, 1 + y, 1 + 3y + y^2`` (Narayana polynomials), times ``scale^j``.
    """
    return np.array([1.0, scale, scale**2 * (1 + y), scale**3 * (1 + 3 * y + y**2)])
