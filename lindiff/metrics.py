"""The exact metrics of one trained model and one random experiment of the
book's sweeps, and the law generated from infinitely many data (chapter 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lindiff._validate import _array, _integer, _train_time
from lindiff.chain import _moments_of
from lindiff.denoiser import (
    LinearDenoiser,
    _check_den,
    _check_denoiser,
    fit_linear_denoiser,
)
from lindiff.gaussian import Gaussian, _check_gaussian, power_law_gaussian
from lindiff.kl import _kl
from lindiff.losses import _missing, _test_loss, _train_loss
from lindiff.sampler import _check_sampler, _law
from lindiff.schedule import Schedule, _check_schedule, _decay
from lindiff._docs import fill


def generated_limit(
    rho: Gaussian,
    sched: Schedule,
    weight_decay: float = 0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> Gaussian:
    """``rho_inf = N(h(Sigma) mu, f(Sigma))``: what the chain generates from infinitely
    many data (chapter 4).

    The law of :func:`~lindiff.chain.generated_distribution` for the denoiser fitted to
    ``rho = N(mu, Sigma)`` itself, the limit of ``rho_N`` as ``N -> infinity``;
    ``KL(rho_inf || rho)`` is the part of ``KL(rho_N || rho)`` that no amount of data
    removes (the sampler's own error). Cost O(T r_rho).

    Parameters
    ----------
    {rho_data}
    {sched}
    {chain_options}

    Returns
    -------
    Gaussian
        ``rho_inf``, in the eigenbasis of ``rho``.
    """
    rho = _check_gaussian("rho", rho)
    sched = _check_schedule(sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    gamma = _decay(weight_decay, regularization, sched)
    lam = rho.eigenvalues if rho.basis is None else np.append(rho.eigenvalues, rho.rest)
    tau = _train_time(train_time)
    moments = _moments_of(lam, sched, gamma, tau, sampler, sigma)
    return _law(rho.mean, rho.basis, rho.has_rest, *moments)


@dataclass(frozen=True)
class Metrics:
    """The exact metrics of one trained linear denoiser against the data law (chapter
    4).

    ``train_loss`` and ``test_loss``: per step, shape (T,); ``kl`` is ``KL(rho_N ||
    rho)`` and ``kl_reverse`` is ``KL(rho || rho_N)`` (``inf`` when infinite, see
    :func:`~lindiff.kl.kl_divergence`); ``missing_variance`` is ``Tr(Sigma P_null)``;
    ``generated`` is ``rho_N`` itself, ``data`` the law ``rho`` and ``denoiser`` the
    model.

    Returned by :func:`exact_metrics` and :func:`trial`; each parameter is stored as
    the field of the same name.

    Parameters
    ----------
    train_loss : ndarray, shape (T,)
        The loss on the training set per step (:func:`~lindiff.losses.train_loss`).
    test_loss : ndarray, shape (T,)
        The loss on fresh data from ``rho`` per step
        (:func:`~lindiff.losses.test_loss`).
    kl : float
        ``KL(rho_N || rho)``.
    kl_reverse : float
        ``KL(rho || rho_N)``.
    missing_variance : float
        ``Tr(Sigma P_null)`` (:func:`~lindiff.losses.missing_variance`).
    generated : Gaussian
        ``rho_N``, the law of the samples.
    data : Gaussian
        ``rho``, the data law.
    denoiser : LinearDenoiser or InitializedDenoiser
        The trained denoiser.
    """

    train_loss: np.ndarray
    test_loss: np.ndarray
    kl: float
    kl_reverse: float
    missing_variance: float
    generated: Gaussian
    data: Gaussian
    denoiser: LinearDenoiser


def exact_metrics(
    den: LinearDenoiser,
    sched: Schedule,
    rho: Gaussian,
    X,
    sampler: str = "ddpm",
    sigma: str = "beta",
) -> Metrics:
    """Train and test loss, KL both ways and missing variance of ``den`` fitted to ``X ~
    rho`` (chapter 4).

    The one call behind every sweep of the book: :func:`~lindiff.losses.train_loss`,
    :func:`~lindiff.losses.test_loss`, :func:`~lindiff.chain.generated_distribution`,
    :func:`~lindiff.kl.kl_divergence` both ways and
    :func:`~lindiff.losses.missing_variance`, all exact (no sampling). ``X`` is the
    training set or its empirical Gaussian
    (:meth:`~lindiff.gaussian.Gaussian.from_samples`), on which the train loss is the
    test loss (chapter 1). Cost O(N d r + d r r_rho + T r). The weight decay, its
    regularizer and the training time are those ``den`` was fitted with.

    Parameters
    ----------
    {den}
    {sched_fitted}
    {rho}
    X : array_like, shape (N, d), or Gaussian
        The training set, one point per row, or its empirical Gaussian.
    {sampling}

    Returns
    -------
    Metrics
        The metrics, with ``rho_N``, ``rho`` and ``den``.
    """
    den, sched = _check_denoiser(den, sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    _check_den(den, rho)
    if isinstance(X, Gaussian):
        _check_den(den, X)
    else:
        X = _array("X", X, ndim=2)
        if X.shape[1] != den.d:
            raise ValueError(f"X: expected shape (N, {den.d}), got {X.shape}")
    return _exact_metrics(den, sched, rho, X, sampler, sigma)


def _exact_metrics(den, sched, rho, X, sampler, sigma) -> Metrics:
    """The metrics for checked input, each by its kernel (nothing checked twice)."""
    rho_n = den._generated(sched, sampler, sigma)
    fitted = _test_loss(den, X) if isinstance(X, Gaussian) else _train_loss(den, X)
    return Metrics(
        train_loss=fitted,
        test_loss=_test_loss(den, rho),
        kl=_kl(rho_n, rho),
        kl_reverse=_kl(rho, rho_n),
        missing_variance=_missing(den, rho),
        generated=rho_n,
        data=rho,
        denoiser=den,
    )


def trial(
    d: int,
    k: float,
    N: int,
    sched: Schedule,
    rng: np.random.Generator,
    weight_decay: float = 0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> Metrics:
    """One random experiment of the book's sweeps, with its exact metrics (chapters 3 to
    7).

    Draws ``rho = power_law_gaussian(d, k, rng)`` (random mean and rotation), then ``N``
    training points from it, fits the linear denoiser (``weight_decay``, ``train_time``)
    and returns :func:`exact_metrics`; ``Metrics.data`` is the ``rho`` drawn. The random
    numbers are drawn in that order, so a loop of trials is reproducible from its seed.

    Parameters
    ----------
    {d}
    k : float
        The power-law exponent of the spectrum of ``Sigma``, ``>= 0``.
    {N}
    {sched}
    rng : numpy.random.Generator
        The source of ``rho`` and of the training set.
    {chain_options}

    Returns
    -------
    Metrics
        The exact metrics of the trained denoiser against the ``rho`` drawn.
    """
    sampler, sigma = _check_sampler(sampler, sigma)
    rho = power_law_gaussian(d, k, rng)
    X = rho.sample(_integer("N", N, low=2), rng)
    den = fit_linear_denoiser(X, sched, weight_decay, train_time, regularization)
    return _exact_metrics(den, den.schedule, rho, X, sampler, sigma)


fill(globals())
