"""Memorization: the exact noise predictor of the training set, distances to
the nearest training point and the KL of a fitted Gaussian (chapter 8).
"""

from __future__ import annotations

import numpy as np

from lindiff._validate import _array
from lindiff.gaussian import Gaussian, _check_gaussian
from lindiff.kl import _kl, expected_kl_empirical
from lindiff.schedule import Schedule, _check_schedule
from lindiff._docs import fill


def empirical_denoiser(X, sched: Schedule):
    """``eps(x, t)``, the exact noise predictor of the empirical distribution of ``X``
    (chapter 8).

    For ``x_0`` drawn uniformly from the ``N`` rows of ``X``, the best predictor of the
    noise in ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` is ``E[eps | x_t] = (x_t
    - sqrt(abar_t) sum_i p_i x_i) / sqrt(1 - abar_t)`` with the posterior ``p_i``
    proportional to ``exp(-||x_t - sqrt(abar_t) x_i||^2 / (2 (1 - abar_t)))``: a softmax
    over the training points. It is the model that memorizes perfectly: run through
    :func:`~lindiff.chain.run_chain`, it returns the training points (plus the last
    step's noise). The
    softmax drops the term ``||x_t||^2`` common to every ``i`` and subtracts each row's
    largest logit, so that it stays exact at ``t = 1``, where the logits are of order
    ``1 / beta_1 ~ 10^4``. ``eps(x, t)`` takes a batch of shape (n, d) and a step ``1 <=
    t <= T``; cost O(n N d) per call.

    Parameters
    ----------
    X : array_like, shape (N, d)
        The training points, one per row (``N >= 1``); a read-only copy is kept.
    {sched}

    Returns
    -------
    callable
        ``eps(x, t)``, which returns the predicted noise, shape (n, d).
    """
    sched = _check_schedule(sched)
    X = _array("X", X, ndim=2)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"X: expected at least one point and one column, got {X.shape}"
        )
    X = X.copy()
    X.setflags(write=False)
    norms = np.sum(X**2, axis=1)
    root_a = np.sqrt(sched.alpha_bar)
    root_one_minus = np.sqrt(sched.one_minus_alpha_bar)

    def eps(x, t):
        t = sched.check_step(t)
        x = _array("x", x, ndim=2)
        if x.shape[1] != X.shape[1]:
            raise ValueError(f"x: expected {X.shape[1]} columns, got shape {x.shape}")
        a, s = root_a[t - 1], root_one_minus[t - 1]
        logits = (a * (x @ X.T) - 0.5 * a**2 * norms) / s**2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return (x - a * (p @ X)) / s

    return eps


def _nearest(U, X, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest row of ``X`` to each row of ``U`` and the distance to it.

    The nearest row is found from the expanded squared distances and the distance
    recomputed from the difference, so that it stays accurate when it is small. With
    ``exclude_self`` (``U`` is ``X``) a row is not its own neighbour."""
    sq = np.sum(U**2, axis=1)[:, None] + np.sum(X**2, axis=1)[None, :] - 2.0 * U @ X.T
    if exclude_self:
        np.fill_diagonal(sq, np.inf)
    index = np.argmin(sq, axis=1)
    return index, np.linalg.norm(U - X[index], axis=1)


def nearest_training_point(U, X) -> tuple[np.ndarray, np.ndarray]:
    """``(index, distance)``: for each sample (row of ``U``) the index of the nearest
    training point (row of ``X``) and the distance to it, shapes (n,) (chapters 8, 9).

    Cost O(n N d); the distance is accurate down to samples that reproduce a training
    point to rounding.

    Parameters
    ----------
    {U}
    X : array_like, shape (N, d)
        The training points, one per row (``N >= 1``).

    Returns
    -------
    index : ndarray of int, shape (n,)
        The row of ``X`` nearest to each sample.
    distance : ndarray, shape (n,)
        The Euclidean distance to it.
    """
    X = _array("X", X, ndim=2)
    U = _array("U", U, ndim=2)
    if X.shape[0] < 1:
        raise ValueError("X: expected at least 1 training point, got 0")
    if U.shape[1] != X.shape[1]:
        raise ValueError(f"U: expected {X.shape[1]} columns, got shape {U.shape}")
    return _nearest(U, X)


def nearest_distance_ratio(U, X) -> np.ndarray:
    """For each sample ``u`` (row of ``U``), ``min_i ||u - x_i|| / D``, shape (n,)
    (chapter 8).

    ``D`` is the median over the training points of the distance from each to its
    nearest other training point: the typical gap between training points. A ratio near
    0 is a reproduced training point; samples of the data distribution itself have
    ratios of order 1. Needs ``N >= 2`` training points. Cost O(n N d + N^2 d).

    Parameters
    ----------
    {U}
    X : array_like, shape (N, d)
        The training points, one per row (``N >= 2``, not more than half of them
        duplicates).

    Returns
    -------
    ndarray, shape (n,)
        The distance from each sample to its nearest training point, over ``D``.
    """
    X = _array("X", X, ndim=2)
    U = _array("U", U, ndim=2)
    if X.shape[0] < 2:
        raise ValueError(f"X: expected at least 2 training points, got {X.shape[0]}")
    if U.shape[1] != X.shape[1]:
        raise ValueError(f"U: expected {X.shape[1]} columns, got shape {U.shape}")
    D = np.median(_nearest(X, X, exclude_self=True)[1])
    if D == 0:
        raise ValueError(
            "X: expected distinct training points, but more than half are duplicates"
        )
    return _nearest(U, X)[1] / D


def fitted_kl(U, rho: Gaussian) -> float:
    """``KL(N(m, S) || rho) - E_n``: the KL divergence of the Gaussian fitted to the
    ``n`` samples ``U`` (mean ``m``, covariance ``S`` with divisor ``n``) from ``rho``,
    minus the bias of fitting from ``n`` samples (chapter 8).

    For Gaussian samples of any law ``q``, ``E KL(N(m, S) || rho) = KL(q || rho) + E_n``
    exactly, with ``E_n`` = :func:`~lindiff.kl.expected_kl_empirical` ``(d, n)``: the
    trace and
    mean terms are unbiased and the log-determinant of the Wishart matrix ``n S`` has a
    bias that depends on ``d`` and ``n`` only. The result is therefore an unbiased
    estimate of ``KL(q || rho)`` for Gaussian samples, and of the KL of the Gaussian
    with the samples' mean and covariance otherwise (to the extent that the bias of the
    log-determinant is that of Gaussian samples). Its standard deviation is about
    ``sqrt(d (d + 3) / 2) / (2 n)`` when ``q`` is near ``rho``. Needs ``n >= d + 1``.

    Parameters
    ----------
    U : array_like, shape (n, d)
        The samples, one per row (``n >= d + 1``).
    rho : Gaussian
        The reference law, of dimension ``d``.

    Returns
    -------
    float
        ``KL(N(m, S) || rho) - E_n``; it can be negative.
    """
    rho = _check_gaussian("rho", rho)
    U = _array("U", U, ndim=2)
    n, d = U.shape
    if d != rho.d:
        raise ValueError(f"U: expected {rho.d} columns, got shape {U.shape}")
    if n < d + 1:
        raise ValueError(f"U: expected at least d + 1 = {d + 1} samples, got {n}")
    return _kl(Gaussian.from_samples(U), rho) - expected_kl_empirical(d, n)


fill(globals())
