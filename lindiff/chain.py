"""The reverse chain and the exact law of its samples (chapter 2).

:func:`run_chain` runs the chain for any noise predictor; :func:`sample` is it with the
linear denoiser; :func:`generated_distribution` is the exact Gaussian of its output.
"""

from __future__ import annotations

import numpy as np

from lindiff._validate import (
    _array,
    _describe,
    _eigenvalues,
    _generator,
    _integer,
    _train_time,
)
from lindiff.denoiser import LinearDenoiser, _check_denoiser, _gain
from lindiff.gaussian import Gaussian
from lindiff.sampler import _chain_steps, _check_sampler, _moments, _noise
from lindiff.schedule import Schedule, _check_schedule, _decay
from lindiff._docs import fill


def generated_moments(
    lam,
    sched: Schedule,
    weight_decay: float = 0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> tuple[np.ndarray, np.ndarray]:
    """``(f(lam), h(lam))``: variance and mean factor of the samples along a ``Sigma_0``
    direction (chapter 2).

    The reverse chain from ``u_T ~ N(0, Id)`` is affine with scalar factors per
    eigen-direction: ``v_{t-1} = g_t^2 v_t + sigma_t^2`` from ``v_T = 1`` gives
    ``f = v_0``, and the mean ``m_{t-1} = g_t m_t + e_t m`` from ``m_T = 0`` gives
    ``m_0 = h m``, with ``g_t`` and ``e_t`` built from the gains
    :func:`~lindiff.denoiser.denoiser_gain`. Vectorized over ``lam`` (shape (r,)); cost
    O(T r).

    Parameters
    ----------
    lam : array_like, shape (r,)
        Eigenvalues of ``Sigma_0``, ``>= 0``.
    {sched}
    {chain_options}

    Returns
    -------
    f : ndarray, shape (r,)
        The variance of the samples along each direction.
    h : ndarray, shape (r,)
        The factor of the training mean's component along each direction.
    """
    sched = _check_schedule(sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    lam = _eigenvalues("lam", _array("lam", lam, ndim=1))
    gamma = _decay(weight_decay, regularization, sched)
    return _moments_of(lam, sched, gamma, _train_time(train_time), sampler, sigma)


def _moments_of(lam, sched: Schedule, gamma: float, tau, sampler: str, sigma: str):
    """``(f(lam), h(lam))`` of the denoiser trained on variances ``lam`` (checked)."""
    return _moments(*_gain(lam, sched, gamma, tau), sched, sampler, sigma)


def generated_floor(
    sched: Schedule,
    weight_decay: float = 0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> float:
    """``f(0)``: the variance of the samples along every null direction of ``Sigma_0``
    (chapters 2, 6, 7).

    ``sigma_1^2`` (``beta_1`` for the default sampler) when trained to convergence
    without weight decay; ``c(gamma)``, increasing in ``gamma``, with weight decay;
    raised by early stopping, which leaves the null gain short of its optimum.

    Parameters
    ----------
    {sched}
    {chain_options}

    Returns
    -------
    float
        ``f(0)``.
    """
    f, _ = generated_moments(
        [0.0], sched, weight_decay, train_time, sampler, sigma, regularization
    )
    return float(f[0])


def generated_distribution(
    den: LinearDenoiser, sched: Schedule, sampler: str = "ddpm", sigma: str = "beta"
) -> Gaussian:
    """``rho_N = N(mu_gen, f(Sigma_0))``: the exact distribution of the samples (chapter
    2).

    With a linear denoiser the reverse chain is affine in ``u_T ~ N(0, Id)`` and
    the noise, so its output is Gaussian. All ``W_t`` share the eigenbasis of
    ``Sigma_0``, so the covariance is ``f(Sigma_0)`` with ``f`` from the scalar
    recursion ``v_{t-1} = g_t(lam)^2 v_t + sigma_t^2``, ``v_T = 1``, and the mean is
    ``h(Sigma_0) mu_0``; ``g_t`` and ``e_t`` are built from the denoiser's own gains
    (``den.gains``, ``den.null_gain``) and the chain's step factors, the arrays
    :func:`sample` uses. The null directions of ``Sigma_0`` get the variance
    ``f(0)``, which is ``sigma_1^2`` for the trained denoiser (``g_1(0) = 0``).
    ``sigma``: ``"beta"`` (``sigma_t^2 = beta_t``) or ``"posterior"``; ``sampler``:
    ``"ddpm"`` or the deterministic ``"ddim"``. Cost O(T r); no sampling.

    Parameters
    ----------
    den : LinearDenoiser or InitializedDenoiser
        The trained denoiser (an :class:`~lindiff.denoiser.InitializedDenoiser` is
        propagated densely, at cost O(T d^3)).
    {sched_fitted}
    {sampling}

    Returns
    -------
    Gaussian
        ``rho_N`` (for a :class:`~lindiff.denoiser.LinearDenoiser`, in the eigenbasis
        of ``Sigma_0``).
    """
    den, sched = _check_denoiser(den, sched)
    return den._generated(sched, *_check_sampler(sampler, sigma))


def _chain(
    eps,
    sched: Schedule,
    n: int,
    d: int,
    rng,
    sampler: str,
    sigma: str,
    batch: int,
    path: bool = False,
):
    """The reverse chain for checked input (the inner loop of :func:`run_chain` and
    :func:`sample`); with ``path``, every state ``u_t``, shape (T + 1, n, d).
    """
    keep, mix = _chain_steps(sched, sampler)
    noise = np.sqrt(_noise(sched, sampler, sigma))
    out = np.empty((sched.T + 1, n, d) if path else (n, d))
    for start in range(0, n, batch):
        m = min(batch, n - start)
        u = rng.standard_normal((m, d))
        z = np.empty((m, d))
        if path:
            out[sched.T, start : start + m] = u
        for t in range(sched.T, 0, -1):
            e = eps(u, t)
            u *= keep[t - 1]
            u -= mix[t - 1] * e
            if noise[t - 1] > 0:
                rng.standard_normal(out=z)
                z *= noise[t - 1]
                u += z
            if path:
                out[t - 1, start : start + m] = u
        if not path:
            out[start : start + m] = u
    return out


def _batch(batch, d: int) -> int:
    return max(1, 2**16 // d) if batch is None else _integer("batch", batch, low=1)


def run_chain(
    eps,
    sched: Schedule,
    n: int,
    d: int,
    rng: np.random.Generator,
    sampler: str = "ddpm",
    sigma: str = "beta",
    batch: int | None = None,
    path: bool = False,
) -> np.ndarray:
    """The reverse chain ``u_{t-1} = (u_t - beta_t/sqrt(1-abar_t) eps(u_t, t)) /
    sqrt(1-beta_t) + sigma_t z_t`` for any noise predictor (chapter 2).

    ``eps(x, t)`` maps a batch ``x`` of shape (m, d) at step ``t`` to the predicted
    noise, shape (m, d). The chain starts from ``u_T ~ N(0, Id)`` and returns ``u_0``,
    shape (n, d); with ``sampler="ddim"`` the deterministic update ``u_{t-1} =
    sqrt(abar_{t-1}) x0_hat + sqrt(1 - abar_{t-1}) eps`` with ``x0_hat = (u_t - sqrt(1 -
    abar_t) eps) / sqrt(abar_t)`` is used instead. Samples run in batches of ``batch``
    rows (by default about 2^16 numbers per batch, which keeps the working arrays in
    cache). With ``path=True`` it returns every state instead, shape (T + 1, n, d),
    ``[t]`` holding ``u_t`` (``[T]`` the start, ``[0]`` the samples), drawn from the
    same random numbers as without. Every denoiser of the book, linear or not,
    generates through this one function.

    Parameters
    ----------
    eps : callable
        The noise predictor ``eps(x, t)``.
    {sched}
    {n}
    {d}
    {rng}
    {sampling}
    {batch}
    path : bool, default False
        Whether to return every state of the chain rather than the samples.

    Returns
    -------
    ndarray, shape (n, d), or (T + 1, n, d) with ``path``
        The samples ``u_0``, or every state ``u_t``.
    """
    sched = _check_schedule(sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    if not callable(eps):
        raise ValueError(f"eps: expected a callable eps(x, t), got {_describe(eps)}")
    n = _integer("n", n, low=0)
    d = _integer("d", d, low=1)
    rng = _generator("rng", rng)
    if not isinstance(path, (bool, np.bool_)):
        raise ValueError(f"path: expected True or False, got {_describe(path)}")
    return _chain(eps, sched, n, d, rng, sampler, sigma, _batch(batch, d), bool(path))


def sample(
    den: LinearDenoiser,
    sched: Schedule,
    n: int,
    rng: np.random.Generator,
    sampler: str = "ddpm",
    sigma: str = "beta",
    batch: int | None = None,
) -> np.ndarray:
    """``n`` samples of the reverse chain with the trained linear denoiser, shape (n, d)
    (chapter 2).

    :func:`run_chain` with ``eps = den.apply``, whose checks run once here rather than
    at each of the T steps. Cost O(n T d r).

    Parameters
    ----------
    {den}
    {sched_fitted}
    {n}
    {rng}
    {sampling}
    {batch}

    Returns
    -------
    ndarray, shape (n, d)
        The samples ``u_0``, one per row.
    """
    den, sched = _check_denoiser(den, sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    n = _integer("n", n, low=0)
    rng = _generator("rng", rng)
    return _chain(den._eps, sched, n, den.d, rng, sampler, sigma, _batch(batch, den.d))


fill(globals())
