"""Exact train and test losses (chapter 1), the best linear model's loss and the
null directions of the training covariance (chapter 3).
"""

from __future__ import annotations

import numpy as np

from lindiff._validate import _array
from lindiff.denoiser import LinearDenoiser, _check_den, _check_denoiser
from lindiff.gaussian import (
    Gaussian,
    _check_gaussian,
    _variance_along,
    _variance_outside,
)
from lindiff.schedule import Schedule, _check_schedule
from lindiff._docs import fill


def train_loss(den: LinearDenoiser, sched: Schedule, X) -> np.ndarray:
    """``L_t = (1/N) sum_i E_eps ||eps - W_t x_t - b_t||^2`` on the points ``X``, shape
    (T,) (chapter 1).

    Exact in the noise (closed-form Gaussian average) and exact over the N rows
    of ``X``; the weight-decay penalty is not included. Cost O(N d r + T r).

    Parameters
    ----------
    {den}
    {sched_fitted}
    X : array_like, shape (N, d)
        The points, one per row (``N >= 1``), usually the training set.

    Returns
    -------
    ndarray, shape (T,)
        ``L_t``, index ``t - 1`` for step ``t``.
    """
    den, sched = _check_denoiser(den, sched)
    X = _array("X", X, ndim=2)
    if X.shape[1] != den.d or X.shape[0] < 1:
        raise ValueError(f"X: expected shape (N >= 1, {den.d}), got {X.shape}")
    return _train_loss(den, X)


def _train_loss(den: LinearDenoiser, X: np.ndarray) -> np.ndarray:
    """The train loss for checked input: the denoiser's own road (eigen form, or dense
    weights for :class:`~lindiff.denoiser.InitializedDenoiser`)."""
    return den._loss_points(X)


def test_loss(den: LinearDenoiser, sched: Schedule, rho: Gaussian) -> np.ndarray:
    """``L_t = E_{x_0 ~ rho, eps} ||eps - W_t x_t - b_t||^2``, exact, shape (T,)
    (chapter 1).

    The expected loss on fresh data from the Gaussian ``rho``; cost O(d r r_rho)
    from the eigen forms of ``rho`` and of the denoiser.

    Parameters
    ----------
    {den}
    {sched_fitted}
    {rho}

    Returns
    -------
    ndarray, shape (T,)
        ``L_t``, index ``t - 1`` for step ``t``.
    """
    den, sched = _check_denoiser(den, sched)
    return _test_loss(_check_den(den, rho), rho)


def _test_loss(den: LinearDenoiser, rho: Gaussian) -> np.ndarray:
    """The test loss for checked input (the denoiser's own road)."""
    return den._loss_gaussian(rho)


def test_losses(dens, sched: Schedule, rho: Gaussian) -> np.ndarray:
    """The test losses of several denoisers fitted to one training set, shape
    ``(len(dens), T)`` (chapter 9's grids of regularizers).

    Denoisers of :func:`~lindiff.denoiser.fit_linear_denoiser` fitted to the same
    training set, with any weight decay or training time, share its eigenbasis: the
    variances of ``rho`` along that basis and off it, the O(d r r_rho) part of
    :func:`test_loss`, are computed once, and each denoiser then costs O(T r). Row ``i``
    is ``test_loss(dens[i], sched, rho)``, by the same arithmetic.

    Parameters
    ----------
    dens : sequence of LinearDenoiser
        At least one, all with the eigenbasis and mean of the first.
    {sched_fitted}
    {rho}

    Returns
    -------
    ndarray, shape (len(dens), T)
        Row ``i``: ``L_t`` of ``dens[i]``, index ``t - 1`` for step ``t``.
    """
    dens = list(dens) if isinstance(dens, (list, tuple)) else None
    if not dens:
        raise ValueError("dens: expected a non-empty list of LinearDenoiser")
    first = dens[0]
    for i, den in enumerate(dens):
        if not isinstance(den, LinearDenoiser):
            raise ValueError(
                "dens: expected LinearDenoisers (fit_linear_denoiser), entry "
                f"{i} is {type(den).__name__}"
            )
        _check_denoiser(den, sched)
        _check_den(den, rho)
        same_basis = np.array_equal(den.basis, first.basis)
        if not (same_basis and np.array_equal(den.mean, first.mean)):
            raise ValueError(
                "dens: expected denoisers fitted to one training set, entry "
                f"{i} has another eigenbasis or mean than entry 0"
            )
    q = _variance_along(rho, first.basis)
    q_null = _variance_outside(rho, first.basis, along=q) if first.n_null else 0.0
    return np.array([d._loss_from_moments(q, q_null, rho.mean - d.mean) for d in dens])


# nbval/pytest must not collect the loss functions above as tests.
test_loss.__test__ = False
test_losses.__test__ = False


def optimal_loss(rho: Gaussian, sched: Schedule) -> np.ndarray:
    """``L_t^best = d - (1 - abar_t) Tr (abar_t Sigma + (1 - abar_t) Id)^-1``, shape
    (T,) (chapter 3).

    The test loss of the best linear denoiser for ``rho = N(mu, Sigma)``, the one
    fitted to ``rho`` itself: the floor under every test loss.

    Parameters
    ----------
    {rho_data}
    {sched}

    Returns
    -------
    ndarray, shape (T,)
        ``L_t^best``, index ``t - 1`` for step ``t``.
    """
    rho = _check_gaussian("rho", rho)
    sched = _check_schedule(sched)
    a = sched.alpha_bar[:, None]
    one_minus = sched.one_minus_alpha_bar[:, None]
    out = rho.d - one_minus[:, 0] * np.sum(
        1.0 / (a * rho.eigenvalues + one_minus), axis=1
    )
    if rho.has_rest:
        rest = (rho.d - rho.r) / (a[:, 0] * rho.rest + one_minus[:, 0])
        out -= one_minus[:, 0] * rest
    return out


def missing_variance(den: LinearDenoiser, rho: Gaussian) -> float:
    """``Tr(Sigma P_null)``: the variance of ``rho`` in the null directions of
    ``Sigma_0`` (chapter 3).

    ``P_null = Id - V V^T`` projects onto the ``d - r`` directions in which the
    training set has no variance. Cost O(d r r_rho).

    Parameters
    ----------
    {den_rho}

    Returns
    -------
    float
        ``Tr(Sigma P_null)`` (0 when ``Sigma_0`` has no null direction).
    """
    return _missing(_check_den(den, rho), rho)


def _missing(den: LinearDenoiser, rho: Gaussian) -> float:
    """``Tr(Sigma P_null)`` for checked input."""
    return _variance_outside(rho, den.basis) if den.n_null else 0.0


def null_mass(den: LinearDenoiser, rho: Gaussian) -> float:
    """``Tr(Sigma P_null) + ||P_null (mu - mu_0)||^2``: all that ``rho`` puts in the
    null directions (chapter 3).

    The second moment of ``x - mu_0``, ``x ~ rho``, off the span of the training set:
    the missing variance plus the part of the mean the training mean does not see. It is
    what the null directions add to the test loss, weighed by ``abar_t w_t(0)^2``. Cost
    O(d r r_rho).

    Parameters
    ----------
    {den_rho}

    Returns
    -------
    float
        ``Tr(Sigma P_null) + ||P_null (mu - mu_0)||^2``.
    """
    miss = missing_variance(den, rho)
    if not den.n_null:
        return miss
    delta = rho.mean - den.mean
    outside = delta - den.basis @ (delta @ den.basis)
    return miss + float(outside @ outside)


fill(globals())
