"""KL divergences between Gaussians in eigen form, and the exact Wishart mean and
variance of the KL of an empirical Gaussian (chapter 4).
"""

from __future__ import annotations

import numpy as np

from lindiff._validate import _integer, _tolerance, _zero_level
from lindiff.gaussian import Gaussian, _check_gaussian, _overlap
from lindiff._docs import fill


def expected_kl_empirical(d: int, N: int, reverse: bool = False) -> float:
    """``E KL(N(mu_0, Sigma_0) || N(mu, Sigma)) = 1/2 [d ln(N/2) - sum_{i=1}^d psi((N -
    i)/2)]`` for ``N > d`` (chapter 4).

    Exact for Gaussian data, whatever ``mu`` and ``Sigma``: after whitening,
    ``N Sigma_0`` is Wishart with ``N - 1`` degrees of freedom and ``mu_0 - mu``
    is ``N(0, Sigma / N)``, independent of it. With ``reverse=True``, the other
    direction ``E KL(N(mu, Sigma) || N(mu_0, Sigma_0)) = 1/2 [d (N + 1)/(N - d - 2) - d
    - d ln(N/2) + sum_i psi((N - i)/2)]`` (finite for ``N > d + 2``). Both grow like
    ``d (d + 3) / (4 N)`` for ``N >> d``.

    Parameters
    ----------
    {d}
    N : int
        The number of samples: ``N >= d + 1``, or ``N >= d + 3`` with ``reverse``.
    reverse : bool, default False
        Whether to return the expectation of the other direction.

    Returns
    -------
    float
        The expected KL divergence.
    """
    from scipy.special import digamma

    d = _integer("d", d, low=1)
    N = _integer("N", N, low=2)
    need = d + 3 if reverse else d + 1
    if N < need:
        raise ValueError(
            f"N: expected N >= {need} for a finite expected KL at d = {d}, got {N}"
        )
    i = np.arange(1, d + 1)
    log_term = d * np.log(N / 2.0) - np.sum(digamma((N - i) / 2.0))
    if not reverse:
        return float(0.5 * log_term)
    return float(0.5 * (d * (N + 1) / (N - d - 2) - d - log_term))


def variance_kl_empirical(d: int, N: int) -> float:
    """``Var KL(N(mu_0, Sigma_0) || N(mu, Sigma))`` over training sets, exact for ``N >
    d`` (chapter 4).

    After whitening, the Bartlett decomposition ``N Sigma_0 = L L^T`` has independent
    ``L_ii^2 ~ chi^2_{N-i}`` and ``L_ij ~ N(0, 1)`` (``i > j``), independent of ``N
    ||mu_0 - mu||^2 ~ chi^2_d``, and ``2 KL = (1/N)(sum_i L_ii^2 + sum_{i>j} L_ij^2 +
    chi^2_d) - sum_i ln L_ii^2 + d ln N - d`` is a sum of independent terms. With ``Var
    X = 2k``, ``Var ln X = psi'(k/2)`` and ``Cov(X, ln X) = 2`` for ``X ~ chi^2_k``, ``4
    Var KL = (d(d-1)/2 + d) 2/N^2 + sum_i [2(N-i)/N^2 + psi'((N-i)/2) - 4/N]``. About
    ``d(d+3)/(4 N^2)`` for ``N >> d``: ``KL`` is then ``chi^2`` with ``d(d+3)/2``
    degrees of freedom, divided by ``2N``.

    Parameters
    ----------
    {d}
    N : int
        The number of samples, ``>= d + 1``.

    Returns
    -------
    float
        The variance of the KL divergence.
    """
    from scipy.special import polygamma

    d = _integer("d", d, low=1)
    N = _integer("N", N, low=2)
    if N < d + 1:
        raise ValueError(
            f"N: expected N >= {d + 1} for a finite KL at d = {d}, got {N}"
        )
    k = N - np.arange(1, d + 1)
    diagonal = np.sum(2.0 * k / N**2 + polygamma(1, k / 2.0) - 4.0 / N)
    return float(0.25 * ((d * (d - 1) + 2 * d) / N**2 + diagonal))


def _is_singular(g: Gaussian) -> bool:
    return bool(np.any(g.eigenvalues == 0) or (g.has_rest and g.rest == 0))


def _trace_inv_q_cov_p(p: Gaussian, q: Gaussian) -> float:
    """``Tr(cov_q^-1 cov_p)`` from the eigen forms (q non-singular), O(d r_p r_q)."""
    # (r_q, r_p): squared cosines between the two bases
    M2 = _overlap(q.basis, p.basis, p.d) ** 2
    inv_lq = 1.0 / q.eigenvalues
    out = inv_lq @ M2 @ p.eigenvalues
    if p.has_rest:
        out += p.rest * inv_lq @ (1.0 - M2.sum(axis=1))
    if q.has_rest:
        out += (1.0 - M2.sum(axis=0)) @ p.eigenvalues / q.rest
        if p.has_rest:
            out += p.rest / q.rest * (q.d - q.r - p.r + M2.sum())
    return float(out)


def _mahalanobis_q(delta, q: Gaussian) -> float:
    """``delta^T cov_q^-1 delta`` (q non-singular)."""
    dq = q.project(delta)
    out = np.sum(dq**2 / q.eigenvalues)
    if q.has_rest:
        out += max(delta @ delta - dq @ dq, 0.0) / q.rest
    return float(out)


def _kl_dense(mp, Sp, mq, Sq) -> float:
    """KL between non-singular Gaussians from dense covariances (for the degenerate
    case).
    """
    k = len(mp)
    lq, Vq = np.linalg.eigh(Sq)
    lp = np.linalg.eigvalsh(Sp)
    A = Vq.T @ Sp @ Vq
    dq = Vq.T @ (mp - mq)
    return 0.5 * float(
        np.sum(np.diag(A) / lq)
        + np.sum(dq**2 / lq)
        - k
        + np.sum(np.log(lq))
        - np.sum(np.log(lp))
    )


def kl_divergence(p: Gaussian, q: Gaussian, support: Gaussian | None = None) -> float:
    """``KL(p || q) = 1/2 [Tr(S_q^-1 S_p) + (m_q - m_p)^T S_q^-1 (m_q - m_p) - d +
    ln|S_q| - ln|S_p|]`` (chapter 4).

    Computed from the eigen forms in O(d r_p r_q), never from dense inverses.
    Returns ``inf`` exactly when the divergence is infinite, i.e. when ``p`` is
    not absolutely continuous with respect to ``q``: one of the two is
    degenerate (a zero variance in some direction) and the other is not, or both
    are degenerate with different supports. (A degenerate ``p`` against a
    non-degenerate ``q`` puts all its mass on a set of ``q``-measure zero; for
    ``rho_N`` this happens for ``N < d`` when the sampler adds no noise at the
    last step, ``c = 0``.) Two degenerate Gaussians with the same support get
    the finite KL of their restrictions to it (dense, O(d^3)).

    On a support (chapter 9): a population whose covariance is singular (pixels that
    never vary, pixels that are exact combinations of others) gives ``KL(rho_N ||
    rho) = inf`` for every non-degenerate ``rho_N``. With ``support=s`` both ``p`` and
    ``q`` are replaced by the laws of the coordinates ``B^T (x - m_s)`` of their
    samples, ``B = s.support()`` (:meth:`~lindiff.gaussian.Gaussian.marginal`): the
    divergence of their orthogonal projections onto the affine subspace that holds the
    mass of ``s``, which is at most the full one (the data-processing inequality) and
    equal to it when ``p`` and ``q`` agree in the directions orthogonal to it. Use
    the population itself, ``support=rho``, for both directions.

    Parameters
    ----------
    p, q : Gaussian
        The two Gaussians, of the same dimension.
    support : Gaussian, optional
        Measure on the support of this Gaussian (default: the whole space).

    Returns
    -------
    float
        ``KL(p || q) >= 0``, or ``inf``.
    """
    p = _check_gaussian("p", p)
    q = _check_gaussian("q", q)
    if p.d != q.d:
        raise ValueError(f"q: expected dimension d = {p.d} to match p, got {q.d}")
    if support is not None:
        s = _check_gaussian("support", support)
        if s.d != p.d:
            raise ValueError(
                f"support: expected dimension d = {p.d} to match p, got {s.d}"
            )
        B = s.support()
        p, q = p.marginal(B, s.mean), q.marginal(B, s.mean)
    return _kl(p, q)


def _kl(p: Gaussian, q: Gaussian) -> float:
    """``KL(p || q)`` for checked input."""
    sp, sq = _is_singular(p), _is_singular(q)
    if sp != sq:
        return float("inf")
    if sp:
        return _kl_degenerate(p, q)
    tr = _trace_inv_q_cov_p(p, q)
    maha = _mahalanobis_q(p.mean - q.mean, q)
    logdet_q, logdet_p = q.logdet(), p.logdet()
    out = 0.5 * (tr + maha - p.d + logdet_q - logdet_p)
    # KL >= 0; a value below zero by rounding (terms of size d cancel) is reported as 0.
    scale = tr + maha + p.d + abs(logdet_q) + abs(logdet_p)
    return 0.0 if -_tolerance(scale, p.d) < out < 0 else out


def _kl_degenerate(p: Gaussian, q: Gaussian) -> float:
    """``KL(p || q)`` for two degenerate Gaussians: finite exactly when ``p`` lives on
    the support of ``q`` (covariance and mean) and has its dimension, then the KL of
    the restrictions (dense, O(d^3)). The support of ``q`` is computed, so its basis is
    accurate to about ``eps`` times the condition number ``kappa`` of ``q``'s covariance
    on it: what ``p`` puts outside is rounding up to that factor times the level of
    :func:`~lindiff._validate._zero_level`."""
    Sp, Sq = p.cov, q.cov
    lq, Vq = np.linalg.eigh(Sq)
    on = lq > _zero_level(lq, q.d)  # the support of q
    B = Vq[:, on]
    kappa = lq.max() / lq[on].min() if on.any() else 1.0
    scale = max(np.abs(Sp).max(), np.finfo(float).tiny)
    outside = Sp - B @ (B.T @ Sp)
    delta = p.mean - q.mean
    size = max(np.linalg.norm(p.mean), np.linalg.norm(q.mean), np.finfo(float).tiny)
    if (
        np.abs(outside).max() > kappa * _tolerance(scale, q.d)
        or np.linalg.norm(delta - B @ (B.T @ delta)) > kappa * _tolerance(size, q.d)
        or p.rank != B.shape[1]
    ):
        return float("inf")
    return max(_kl_dense(B.T @ p.mean, B.T @ Sp @ B, B.T @ q.mean, B.T @ Sq @ B), 0.0)


fill(globals())
