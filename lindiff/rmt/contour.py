"""Typical-case metrics of the trained chain by Cauchy integrals on a contour
around the spectrum of ``Sigma_0`` (chapters 6 and 7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lindiff._validate import _array, _integer
from lindiff.denoiser import _gain
from lindiff.rmt.companion import _companion
from lindiff.rmt.density import shared_spectrum
from lindiff.sampler import _check_sampler, _moments
from lindiff.schedule import Schedule, _check_regularization, _check_schedule
from lindiff._docs import fill


class Contour:
    """Cauchy integrals of the resolvent of ``Sigma_0`` on a closed contour around the
    spectrum, for functions analytic off ``(-inf, -p]``.

    The contour is an ellipse in ``w = ln(z + p)``, which maps the cut plane to the
    strip ``|Im w| < pi`` and the spectrum ``[0, b]`` to ``[ln p, ln(b + p)]``; the
    ellipse runs from ``ln p - 1`` to ``ln(b + p) + 1/2`` with half-height ``1.2 <
    pi/2`` (so ``Re z > -p`` on it). ``K`` trapezoid nodes in the angle; by symmetry
    only
    the upper half (``K/2 + 1`` nodes) is evaluated. ``m`` is continued along the upper
    half from the right end, where ``z > b`` is real.
    """

    def __init__(self, spec, p: float, K: int | None = None):
        b = spec.top
        lo, hi = np.log(p) - 1.0, np.log(b + p) + 0.5
        if K is None:  # 12 nodes per unit length of the ellipse's axis, 64 to 512
            K = int(np.clip(2 ** np.ceil(np.log2(12 * (hi - lo))), 64, 512))
        self.spec, self.p, self.K = spec, p, K
        self.pair_step = 2  # the pair matrix on every other node
        theta = 2 * np.pi * np.arange(K // 2 + 1) / K
        w = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(theta) + 1.2j * np.sin(theta)
        dw = -0.5 * (hi - lo) * np.sin(theta) + 1.2j * np.cos(theta)
        self.z = np.exp(w) - p
        self.z[[0, -1]] = self.z[[0, -1]].real
        self.dz = np.exp(w) * dw
        m = np.empty_like(self.z)
        guess = -1.0 / self.z[0]
        for k, z in enumerate(self.z):
            m[k] = _companion(
                np.array([z]),
                np.array([guess]),
                spec.v,
                spec.c,
                spec.n,
                upper=0 < k < K // 2,
            )[0]
            guess = m[k]
        self.m = m
        self.sym = np.r_[1.0, 2.0 * np.ones(K // 2 - 1), 1.0] / K

    def resolvent(self, a=None, every: int = 1):
        """``(1/d) Tr(A (z - Sigma_0)^-1)`` at the nodes (every ``every``-th), ``A``
        diagonal in the eigenbasis of ``Sigma`` with entries ``a``."""
        A, A0 = self.spec._weights(a)
        z, m = self.z[::every], self.m[::every]
        r = 1.0 + np.multiply.outer(m, self.spec.v)
        return ((A / r).sum(axis=-1) + A0) / (z * self.spec.d)

    def kernel(self, a=None):
        """The trapezoid weights on the upper half for the weights ``a``: ``average``
        is ``Im(phi @ kernel)``; rows for all ``K`` nodes and for every other node."""
        full = self.resolvent(a) * self.dz * self.sym
        half = 2.0 * full[::2] * np.r_[1.0, np.ones(full[::2].size - 2), 1.0]
        return full, half

    def average(self, values, a=None):
        """``(1/d) sum_i phi(lambda_i) u_i^T A u_i`` from ``phi`` at the nodes (last
        axis), with the error estimated from every other node: ``(value, error)``."""
        full, half = self.kernel(a)
        value = np.imag(values @ full)
        return value, np.abs(value - np.imag(values[..., ::2] @ half))

    def full(self, upper, derivative=False):
        """Values on the whole contour from those on its upper half (``phi(conj z) =
        conj phi(z)``; the derivative ``dz`` changes sign as well)."""
        lower = np.conj(upper[..., -2:0:-1])
        return np.concatenate([upper, -lower if derivative else lower], axis=-1)

    def pair(self, a, b):
        """The quadratic form ``M`` with ``(1/(2 pi i))^2 oint oint phi(z1) phi(z2)
        Tr(A R(z1) B R(z2)) = phi^T M phi`` over every other node of the whole contour,
        ``R = (z - Sigma_0)^-1``, from the deterministic equivalent of two resolvents,
        ``Tr(A Q1 B Q2) ~ sum a b q1 q2 + [(1/n) sum v b q1 q2 zm1 zm2] [sum a v
        q1 q2] / [1 - (1/n) sum v^2 q1 q2 zm1 zm2]``, with ``Q = (Sigma_0 - z)^-1``,
        ``q = -1/(z (1 + v m))`` and ``zm = z m`` (``Sigma`` non-singular; ``a``,
        ``b`` functions of the eigenvalue)."""
        spec = self.spec
        A, _ = spec._weights(a)
        B, _ = spec._weights(b)
        # per distinct eigenvalue: the mean weight (a and b are functions of lambda)
        A, B = A / spec.c, B / spec.c
        step = self.pair_step
        z, m = self.full(self.z)[::step], self.full(self.m)[::step]
        dz = self.full(self.dz, derivative=True)[::step]
        q = -1.0 / (z[:, None] * (1.0 + np.multiply.outer(m, spec.v)))
        zm = z * m
        v, c, n = spec.v, spec.c, spec.n
        T = (q * (c * A * B)) @ q.T
        num = ((q * (c * v * B)) @ q.T) * np.outer(zm, zm) / n
        den = 1.0 - ((q * (c * v**2)) @ q.T) * np.outer(zm, zm) / n
        T = T + num * ((q * (c * A * v)) @ q.T) / den
        omega = dz / (2j * np.pi) * (2 * np.pi / (self.K // step))
        return omega[:, None] * T * omega[None, :]


@dataclass(frozen=True)
class TypicalMetrics:
    """Typical-case metrics of the trained chain (chapters 6, 7), one value per point
    of a sweep: the summed test loss, ``KL(rho_N || rho)``, ``KL(rho || rho_N)``, and
    ``error``, the largest estimated quadrature error of the three, relative.

    Returned by :func:`predict_metrics`; each parameter is stored as the field of the
    same name, an array of the broadcast shape of the sweep's ``weight_decay`` and
    ``train_time``.

    Parameters
    ----------
    test_loss : ndarray
        The test loss summed over the steps, ``sum_t L_t``.
    kl : ndarray
        ``KL(rho_N || rho)``.
    kl_reverse : ndarray
        ``KL(rho || rho_N)``.
    error : ndarray
        The estimated quadrature error, relative to the smallest of the three metrics.
    """

    test_loss: np.ndarray
    kl: np.ndarray
    kl_reverse: np.ndarray
    error: np.ndarray


def _metrics_on(
    con, kern, pair, sched, gamma, tau, N, lam, sampler="ddpm", sigma="beta", mean=None
):
    """``((test, kl, kl_reverse), error, pair_error)`` of :func:`predict_metrics` on
    one contour; the errors are the largest change of a trace between ``K`` and ``K/2``
    nodes, and of the mean term between the pair matrix's nodes and half of them,
    relative to the smallest of the three metrics. ``mean``: ``(kernel, pair)`` of the
    population mean's squared coordinates (the terms of a non-zero mean), or None."""
    d, a = lam.size, sched.alpha_bar
    k_one, k_lam, k_inv = kern
    gains, res = _gain(con.z, sched, gamma, None if np.isinf(tau) else tau)
    f, h = _moments(gains, res, sched, sampler, sigma)
    phase = np.unwrap(np.angle(f))
    if abs(phase[-1]) > 1.0 or abs(phase[0]) > 1.0:
        raise RuntimeError("predict_metrics: f has zeros inside the contour")
    log_f = np.log(np.abs(f)) + 1j * phase
    rows = [
        (np.sum(res**2, axis=0), k_one),
        (np.sum(a[:, None] * gains**2, axis=0), k_lam),
        (f, k_inv),
        (log_f, k_one),
        (1.0 / f, k_lam),
        (h**2 / f, k_lam),
    ]
    if mean is not None:  # mu^T (h - 1) f^-1 (h - 1) mu, the reverse divergence's
        rows.append(((h - 1.0) ** 2 / f, mean[0]))
    parts = np.array([np.imag(v @ k[0]) for v, k in rows])
    halves = np.array([np.imag(v[::2] @ k[1]) for v, k in rows])
    fit, spread, tr_f, tr_log, tr_inv, tr_mean, *rev_mu = d * parts
    h_all = con.full(h)[:: con.pair_step]

    def quadratic(x, P):  # x^T P x on the pair's nodes, and on every other one
        return np.array(
            [np.real(x @ P @ x), 4 * np.real(x[::2] @ P[::2, ::2] @ x[::2])]
        )

    mean_fwd, mean_half = quadratic(h_all, pair) / N
    if mean is not None:  # mu^T (h - 1) Sigma^-1 (h - 1) mu, the forward one's
        mean_fwd, mean_half = (mean_fwd, mean_half) + quadratic(h_all - 1.0, mean[1])
    mean_rev = rev_mu[0] if rev_mu else 0.0
    logdet = np.sum(np.log(lam))
    values = np.array(
        [
            fit + (1 + 1 / N) * spread,
            0.5 * (tr_f + mean_fwd - d + logdet - tr_log),
            0.5 * (tr_inv + tr_mean / N + mean_rev - d + tr_log - logdet),
        ]
    )
    size = np.min(np.abs(values))
    return (
        values,
        d * np.max(np.abs(parts - halves)) / size,
        abs(mean_fwd - mean_half) / size,
    )


def predict_metrics(
    eigenvalues,
    N: int,
    sched: Schedule,
    weight_decay=0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
    mean=None,
) -> TypicalMetrics:
    """Typical-case summed test loss and KL divergences of the linear model trained on
    ``N`` samples of ``rho = N(0, Sigma)``, through the exact ``f(lambda)`` and
    ``h(lambda)`` of the chain (chapters 6, 7).

    The generated law is ``N(h(Sigma_0) mu_0, f(Sigma_0))`` and ``mu_0 ~ N(0, Sigma/N)``
    is independent of ``Sigma_0``, so that

    * ``KL(rho_N || rho) = 1/2 [Tr Sigma^-1 f(Sigma_0) + (1/N) Tr(Sigma h Sigma^-1 h) -
      d + ln det Sigma - Tr ln f(Sigma_0)]``,
    * ``KL(rho || rho_N) = 1/2 [Tr Sigma f^-1 + (1/N) Tr Sigma h^2 f^-1 - d + Tr ln f -
      ln det Sigma]``,
    * test loss ``sum_t [Tr (1 - s_t w_t)^2 + (1 + 1/N) abar_t Tr Sigma w_t^2]``,

    every trace a typical-case average over ``Sigma_0`` with weights ``1``, ``lambda``
    or ``1/lambda`` in the eigenbasis of ``Sigma``
    (:func:`~lindiff.rmt.density.typical_average`), and the mean term of the forward
    divergence from the deterministic equivalent of two resolvents. All are Cauchy
    integrals on one contour around the spectrum (``Contour``), ``f``, ``h`` and
    ``w_t`` evaluated at complex ``lambda``: they are analytic except at the poles
    ``lambda = -(1 - abar_t + gamma_t)/abar_t``. ``weight_decay`` and
    ``train_time`` broadcast (arrays give sweeps). Each point doubles the nodes of its
    contour until the traces and the mean term change by at most ``1e-6`` of the
    smallest metric between the nodes and half of them (``error`` holds that estimate).
    Raises ``RuntimeError`` if ``f`` has zeros inside the contour (then ``ln f`` is not
    analytic there).

    The population mean ``mu`` (default zero, as in chapters 5 to 7) does not change
    the test loss, which sees only the mean's estimation error, but the generated mean
    ``h(Sigma_0) mu_0`` misses it by ``(h(Sigma_0) - 1) mu``, which adds ``1/2 mu^T (h -
    1) Sigma^-1 (h - 1) mu`` to the forward divergence and ``1/2 mu^T (h - 1) f^-1 (h -
    1) mu`` to the reverse one (chapter 9). The law of ``Sigma_0`` is unchanged when an
    eigen-direction of ``Sigma`` is reflected, so that only the squared coordinates
    ``mu_nu^2`` enter: the forward term through the deterministic equivalent of two
    resolvents with the weights ``mu_nu^2`` and ``1/lambda_nu``, the reverse one as an
    average with the weights ``mu_nu^2``.

    Parameters
    ----------
    {eigenvalues_positive}
    {N}
    {sched}
    weight_decay : array_like, default 0.0
        ``gamma`` (``c`` for the step-scaled regularizer), ``>= 0``; an array gives a
        sweep.
    train_time : array_like or None, default None
        The training time ``tau``, finite and ``> 0``; ``None``: trained to
        convergence. Broadcast with ``weight_decay``.
    sampler : {'ddpm', 'ddim'}, default 'ddpm'
        The reverse chain (:func:`~lindiff.chain.run_chain`).
    {sigma}
    {regularization}
    mean : array_like, shape (d,), optional
        The population mean's coordinates in the eigenbasis of ``Sigma``, in the order
        of ``eigenvalues`` (default: zero).

    Returns
    -------
    TypicalMetrics
        The three metrics and their error estimate, each of the broadcast shape of
        ``weight_decay`` and ``train_time``.

    Raises
    ------
    RuntimeError
        If ``f`` has zeros inside the contour, or Newton's method for ``m(z)`` does not
        converge.
    """
    sched = _check_schedule(sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    lam = _array("eigenvalues", eigenvalues, ndim=1)
    if np.any(lam <= 0):
        raise ValueError(
            "eigenvalues: expected a non-singular Sigma (all eigenvalues > 0)"
        )
    N = _integer("N", N, low=2)
    gam = _array("weight_decay", weight_decay)
    if np.any(gam < 0):
        raise ValueError(f"weight_decay: expected values >= 0, got {gam.min():.3g}")
    _check_regularization(regularization)
    taus = np.array(np.inf) if train_time is None else _array("train_time", train_time)
    if np.any(taus <= 0):
        raise ValueError(f"train_time: expected values > 0, got {taus.min():.3g}")
    mu2 = None
    if mean is not None:
        mu2 = _array("mean", mean, ndim=1) ** 2
        if mu2.size != lam.size:
            raise ValueError(
                f"mean: expected {lam.size} coordinates (one per eigenvalue), got "
                f"{mu2.size}"
            )
    gam, taus = np.broadcast_arrays(gam, taus)
    shape = gam.shape
    gam, taus = gam.ravel(), taus.ravel()
    a = sched.alpha_bar
    scale = a if regularization == "step-scaled" else 1.0
    # the poles of f, h, w_t nearest to the spectrum; an early stop removes them but
    # makes exp(-2 tau C_t) vary on the scale 1/tau, so the contour hugs the origin
    # within p ~ 1/tau; p is rounded down to a power of ten, so that the points of a
    # sweep share few contours
    p_poles = np.min(
        (
            sched.one_minus_alpha_bar[:, None]
            + np.multiply.outer(scale * np.ones_like(a), gam)
        )
        / a[:, None],
        axis=0,
    )
    p_tau = np.where(np.isinf(taus), np.inf, 0.5 / taus)
    p_all = 10.0 ** np.floor(np.log10(np.minimum(p_poles, p_tau)))
    spec = shared_spectrum(lam, N)
    contours = {}

    def on_contour(p, K):
        """The contour of ``p`` with ``K`` nodes, its kernels and pair matrix."""
        if (p, K) not in contours:
            con = Contour(spec, float(p), K)
            kern = [con.kernel(w) for w in (None, lam, 1.0 / lam)]
            mu = None if mu2 is None else (con.kernel(mu2), con.pair(mu2, 1.0 / lam))
            contours[p, K] = con, kern, con.pair(lam, 1.0 / lam), mu
        return contours[p, K]

    out = np.empty((3, gam.size))
    err = np.empty(gam.size)
    nodes = {}  # per contour, the number of nodes the last point needed
    for i, (g, tau, p) in enumerate(zip(gam, taus, p_all)):
        while True:
            con, kern, pair, mu = on_contour(p, nodes.get(p))
            values, error, pair_error = _metrics_on(
                con, kern, pair, sched, scale * g, tau, N, lam, sampler, sigma, mu
            )
            if max(error, pair_error) <= 1e-6 or con.K >= 4096:
                break
            nodes[p] = 2 * con.K  # not converged: twice the nodes on the same ellipse
        out[:, i], err[i] = values, max(error, pair_error)
    return TypicalMetrics(*(o.reshape(shape) for o in out), err.reshape(shape))


fill(globals())
