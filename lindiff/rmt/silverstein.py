"""The Silverstein equation and the deterministic equivalents of the
typical case (chapters 5 and 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lindiff._validate import _array, _integer, _real, _rounding
from lindiff.schedule import Schedule, _check_schedule, _decay
from lindiff._docs import fill


def _bracketed_newton(fun, lo, hi, rtol=1e-13, max_iter=300, x0=None):
    """Roots of increasing functions, vectorized: Newton steps kept inside a shrinking
    bracket.

    ``fun(x, idx)`` returns ``(f, f', scale)`` at the points ``x`` of the problems
    ``idx``, ``scale`` the size of the terms summed in ``f`` (a root is accepted once
    ``|f|`` is at most the rounding level ``eps scale``, ``_rounding(scale)``);
    ``f(lo) <= 0 <= f(hi)`` on entry. A step that leaves the bracket is replaced by
    bisection (geometric when the bracket spans more than a factor 4 and ``lo > 0``);
    only unconverged problems are evaluated. ``x0`` is an optional starting guess
    (continuation). Raises ``RuntimeError`` if some root has not converged, rather than
    returning it silently.

    Hand-written rather than ``scipy.optimize.elementwise.find_root`` because the
    equation's derivative is known in closed form: Chandrupatla's method, which does
    not use it, needs 6 to 13 evaluations per root where this needs 3 to 4, and is 2 to
    8 times slower on the sweeps of ``benchmarks/bench_typical.py``, which prints the
    ratio; ``lindiff.reference.kappa_find_root`` is that road, kept as an independent
    check.
    """
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    x = np.where(lo > 0, np.sqrt(lo * np.maximum(hi, lo)), 0.5 * (lo + hi))
    if x0 is not None:
        x = np.where((x0 > lo) & (x0 < hi), x0, x)
    collapsed = hi - lo <= rtol * np.abs(hi)
    x = np.where(collapsed, 0.5 * (lo + hi), x)
    active = np.flatnonzero(~collapsed)
    for _ in range(max_iter):
        if active.size == 0:
            return x
        xa, la, ha = x[active], lo[active], hi[active]
        f, fp, scale = fun(xa, active)
        exact = np.abs(f) <= _rounding(scale)  # f is zero to the rounding of its terms
        la = np.where(f < 0, xa, la)
        ha = np.where(f > 0, xa, ha)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = xa - f / fp
        bad = ~np.isfinite(new) | (new <= la) | (new >= ha)
        geometric = (la > 0) & (ha > 4 * la)
        new = np.where(bad, np.where(geometric, np.sqrt(la * ha), 0.5 * (la + ha)), new)
        shut = ha - la <= rtol * np.abs(ha)
        converged = exact | shut | (np.abs(new - xa) <= rtol * np.abs(xa))
        x[active] = np.where(exact, xa, np.where(shut, 0.5 * (la + ha), new))
        lo[active], hi[active] = la, ha
        active = active[~converged]
    raise RuntimeError(
        "silverstein_kappa: the bracketed Newton iteration did not converge"
    )


def _kappa_stats(lam, k):
    """``(sum k/(lam + k), sum lam^2/(lam + k)^2)`` for each ``k``: the pieces of the
    equation.

    ``1 - df1/N`` is written as ``((N - d_plus) + sum k/(lam + k)) / N`` to avoid
    cancellation.
    """
    r = k[:, None] / (lam[None, :] + k[:, None])
    return r.sum(axis=1), ((1.0 - r) ** 2).sum(axis=1)


def _solve_kappa(lam, d_plus, trace, N, c, kappa0, guess):
    """Roots of ``k (N - d_plus + sum k/(lam + k)) / N = c`` in ``[kappa0, c + Tr/N]``,
    in blocks.
    """
    out = np.empty_like(c)
    step = max(1, 2**21 // max(lam.size, 1))
    for s in range(0, c.size, step):
        Nb, cb = N[s : s + step], c[s : s + step]

        def f(k, idx):
            rest, df2 = _kappa_stats(lam, k)
            n_, c_ = Nb[idx], cb[idx]
            scale = k * (np.abs(n_ - d_plus) + rest) / n_ + c_
            return k * ((n_ - d_plus) + rest) / n_ - c_, 1.0 - df2 / n_, scale

        x0 = None if guess is None else guess[s : s + step]
        out[s : s + step] = _bracketed_newton(
            f, kappa0[s : s + step], cb + trace / Nb, x0=x0
        )
    return out


def _continuation_guess(N_known, c_known, k_known, N_new, c_new):
    """Starting guesses for new roots from solved ones with the same ``N``: log-log
    interpolation in ``c``.
    """
    guess = np.full(c_new.shape, np.nan)
    for n_val in np.unique(N_new):
        known = N_known == n_val
        if np.count_nonzero(known) < 2:
            continue
        order = np.argsort(c_known[known])
        lc, lk = np.log(c_known[known][order]), np.log(k_known[known][order])
        sel = N_new == n_val
        guess[sel] = np.exp(np.interp(np.log(c_new[sel]), lc, lk))
    return guess


def silverstein_kappa(eigenvalues, N, c) -> np.ndarray:
    """The root ``kappa >= c`` of ``kappa - c = (kappa / N) sum_nu lambda_nu /
    (lambda_nu + kappa)`` (chapter 5).

    ``kappa`` renormalizes the ridge: for the sample covariance ``S`` of ``N`` centred
    samples of ``N(0, Sigma)``, ``c (S + c)^-1 ~ kappa (Sigma + kappa)^-1`` (Silverstein
    and Bai). For ``c = 0`` it is ``kappa_0``, the root of ``sum_nu lambda_nu /
    (lambda_nu + kappa_0) = N`` when ``N`` is below the number of non-zero eigenvalues,
    and 0 otherwise. Vectorized: ``N`` and ``c`` broadcast. The root is found by Newton
    steps inside the bracket ``[kappa_0, c + Tr Sigma / N]``, on which the equation is
    increasing; no starting guess is needed and a failure raises instead of returning a
    wrong root.

    Parameters
    ----------
    eigenvalues : array_like, shape (d,)
        The eigenvalues ``lambda_nu`` of ``Sigma``: ``>= 0``, at least one positive.
    N : array_like
        The number of samples, ``> 0`` (not necessarily an integer).
    c : array_like
        The ridge, ``>= 0``; broadcast with ``N``.

    Returns
    -------
    ndarray
        ``kappa``, of the broadcast shape of ``N`` and ``c``.

    Raises
    ------
    RuntimeError
        If the Newton iteration does not converge for some root.
    """
    lam = _spectrum(eigenvalues)
    N = _array("N", N)
    c = _array("c", c)
    if np.any(N <= 0):
        raise ValueError(f"N: expected N > 0, got minimum {N.min():.3g}")
    if np.any(c < 0):
        raise ValueError(f"c: expected c >= 0, got minimum {c.min():.3g}")
    return _kappa(lam, N, c)


def _spectrum(eigenvalues) -> np.ndarray:
    """The eigenvalues of ``Sigma``: a 1-d array, ``>= 0``, at least one positive."""
    lam = _array("eigenvalues", eigenvalues, ndim=1)
    if np.any(lam < 0) or not np.any(lam > 0):
        raise ValueError(
            "eigenvalues: expected values >= 0, at least one of them positive"
        )
    return lam


def _kappa(lam: np.ndarray, N: np.ndarray, c: np.ndarray) -> np.ndarray:
    """:func:`silverstein_kappa` for checked input."""
    N, c = np.broadcast_arrays(N, c)
    lam = lam[lam > 0]
    d_plus, trace = lam.size, lam.sum()
    shape = N.shape
    N, c = N.ravel().astype(float), c.ravel().astype(float)

    # kappa_0: df1(k) = N, increasing form 1 - df1(k)/N, bracket [0, Tr / N].
    # It depends on N only: solve once per distinct N.
    kappa0 = np.zeros_like(N)
    N_under = np.unique(N[N < d_plus])
    if N_under.size:

        def g0(k, idx):
            rest, df2 = _kappa_stats(lam, k)
            df1 = d_plus - rest
            n_ = N_under[idx]
            scale = (np.abs(n_ - d_plus) + rest) / n_
            return ((n_ - d_plus) + rest) / n_, (df1 - df2) / (n_ * k), scale

        roots = _bracketed_newton(g0, np.zeros_like(N_under), trace / N_under)
        under = N < d_plus
        kappa0[under] = roots[np.searchsorted(N_under, N[under])]
    kappa = kappa0.copy()
    pos = np.flatnonzero(c > 0)
    # Continuation: where one N comes with many ridges c, solve a coarse subset first
    # and start the others from the log-log interpolation of those roots (kappa grows
    # with c).
    coarse = []
    for n_val in np.unique(N[pos]):
        idx = pos[N[pos] == n_val]
        if idx.size > 64:
            idx = idx[np.argsort(c[idx])]
            idx = idx[np.unique(np.linspace(0, idx.size - 1, 65).astype(int))]
        coarse.append(idx)
    coarse = np.concatenate(coarse) if coarse else pos
    fine = np.setdiff1d(pos, coarse)
    kappa[coarse] = _solve_kappa(
        lam, d_plus, trace, N[coarse], c[coarse], kappa0[coarse], None
    )
    if fine.size:
        guess = _continuation_guess(
            N[coarse], c[coarse], kappa[coarse], N[fine], c[fine]
        )
        kappa[fine] = _solve_kappa(
            lam, d_plus, trace, N[fine], c[fine], kappa0[fine], guess
        )
    return kappa.reshape(shape)


@dataclass(frozen=True)
class TypicalCase:
    """Deterministic equivalents for ``Sigma_0`` of ``N`` Gaussian samples with the mean
    estimated (chapter 5).

    All fields are arrays over the ridge ``c``: ``kappa``, ``dkappa`` (``d kappa / d
    c``) and the large-d limits of ``Tr (Sigma_0 + c)^-1`` (``tr_resolvent``), ``Tr
    (Sigma_0 + c)^-2``, ``Tr Sigma_0 (Sigma_0 + c)^-2``, ``Tr Sigma (Sigma_0 + c)^-1``,
    ``Tr Sigma (Sigma_0 + c)^-2`` and ``ln det (Sigma_0 + c)``. Returned by
    :func:`typical_case`; each parameter is stored as the field of the same name.

    Parameters
    ----------
    c : ndarray
        The ridges ``c > 0``; every other field has the shape of ``c``.
    kappa : ndarray
        ``kappa(c)`` of the Silverstein equation for ``(n, Sigma')``.
    dkappa : ndarray
        ``d kappa / d c``.
    tr_resolvent : ndarray
        ``Tr (Sigma_0 + c)^-1``.
    tr_resolvent2 : ndarray
        ``Tr (Sigma_0 + c)^-2``.
    tr_sigma0_resolvent2 : ndarray
        ``Tr Sigma_0 (Sigma_0 + c)^-2``.
    tr_sigma_resolvent : ndarray
        ``Tr Sigma (Sigma_0 + c)^-1``.
    tr_sigma_resolvent2 : ndarray
        ``Tr Sigma (Sigma_0 + c)^-2``.
    logdet : ndarray or None
        ``ln det (Sigma_0 + c)``; ``None`` when not computed.
    """

    c: np.ndarray
    kappa: np.ndarray
    dkappa: np.ndarray
    tr_resolvent: np.ndarray
    tr_resolvent2: np.ndarray
    tr_sigma0_resolvent2: np.ndarray
    tr_sigma_resolvent: np.ndarray
    tr_sigma_resolvent2: np.ndarray
    logdet: np.ndarray | None


def typical_case(eigenvalues, N: int, c, with_logdet: bool = True) -> TypicalCase:
    """``c (Sigma_0 + c)^-1 ~ kappa (Sigma' + kappa)^-1`` with ``n = N - 1``, ``Sigma' =
    (n/N) Sigma`` (chapter 5).

    With the mean estimated, ``Sigma_0`` is the sample covariance of ``n = N - 1``
    centred samples of ``N(0, (n/N) Sigma)``, so the Silverstein equation is solved with
    ``(n, Sigma')``. From ``kappa(c)`` and its derivative follow ``Tr (Sigma_0 + c)^-1 =
    (d - n)/c + n/kappa``, ``Tr Sigma (Sigma_0 + c)^-1 = N (kappa/c - 1)``, their
    ``c``-derivatives, and ``ln det(Sigma_0 + c) = ln det(Sigma' + kappa) + (d - n)
    ln(c/kappa) + n (c/kappa - 1)`` (skipped, ``None``, with ``with_logdet=False``).
    Requires ``c > 0``.

    Parameters
    ----------
    {eigenvalues}
    {N}
    c : array_like
        The ridges, ``> 0``, any shape.
    with_logdet : bool, default True
        Whether to compute ``ln det(Sigma_0 + c)``.

    Returns
    -------
    TypicalCase
        The deterministic equivalents, each of the shape of ``c``.

    Raises
    ------
    RuntimeError
        If the Newton iteration for ``kappa`` does not converge.
    """
    lam = _spectrum(eigenvalues)
    N = _integer("N", N, low=2)
    c = _array("c", c)
    if np.any(c <= 0):
        raise ValueError(f"c: expected c > 0, got minimum {c.min():.3g}")
    return _typical(lam, N, c, with_logdet)


def _typical(lam: np.ndarray, N: int, c: np.ndarray, with_logdet: bool) -> TypicalCase:
    """:func:`typical_case` for checked input."""
    d, n = lam.size, N - 1
    lam_s = lam * (n / N)
    kappa = _kappa(lam_s, np.asarray(float(n)), c)
    _, df2 = _kappa_stats(lam_s, kappa.ravel())
    dkappa = 1.0 / (1.0 - df2.reshape(kappa.shape) / n)
    logdet = None
    if with_logdet:
        logdet = (
            np.sum(np.log(lam_s[None, :] + kappa.ravel()[:, None]), axis=1).reshape(
                kappa.shape
            )
            + (d - n) * np.log(c / kappa)
            + n * (c / kappa - 1.0)
        )
    return TypicalCase(
        c=c,
        kappa=kappa,
        dkappa=dkappa,
        tr_resolvent=(d - n) / c + n / kappa,
        tr_resolvent2=(d - n) / c**2 + n * dkappa / kappa**2,
        tr_sigma0_resolvent2=n / kappa * (1.0 - c * dkappa / kappa),
        tr_sigma_resolvent=N * (kappa / c - 1.0),
        tr_sigma_resolvent2=N * (kappa - c * dkappa) / c**2,
        logdet=logdet,
    )


def predict_losses(
    eigenvalues,
    N: int,
    sched: Schedule,
    weight_decay: float = 0.0,
    regularization: str = "constant",
) -> tuple[np.ndarray, np.ndarray]:
    """Typical-case per-step ``(train, test)`` loss of the trained linear denoiser, each
    shape (T,) (chapters 5, 6).

    The denoiser is ``W_t = (s_t / abar_t) R_t`` with ``R_t = (Sigma_0 + c'_t)^-1`` and
    the ridge ``c'_t = c_t + gamma / abar_t``, ``c_t = (1 - abar_t)/abar_t``. Then
    ``test = d - 2 c_t Tr R + c_t^2 Tr R^2 + c_t (1 + 1/N) Tr Sigma R^2`` (the ``1/N``:
    the mean's estimation error) and ``train`` the same with ``Tr Sigma_0 R^2`` for ``(1
    + 1/N) Tr Sigma R^2``; each trace is replaced by its deterministic equivalent. For
    ``gamma = 0``: ``train = d - c_t Tr(Sigma_0 + c_t)^-1``. The step-scaled
    regularizer (``gamma_t = abar_t c``) has the ridge ``c'_t = c_t + c``.

    Parameters
    ----------
    {eigenvalues}
    {N}
    {sched}
    {weight_decay}
    {regularization}

    Returns
    -------
    train : ndarray, shape (T,)
        The typical train loss per step, index ``t - 1`` for step ``t``.
    test : ndarray, shape (T,)
        The typical test loss per step.

    Raises
    ------
    RuntimeError
        If the Newton iteration for ``kappa`` does not converge.
    """
    sched = _check_schedule(sched)
    lam = _spectrum(eigenvalues)
    N = _integer("N", N, low=2)
    gamma = _decay(weight_decay, regularization, sched)
    c = sched.noise_to_signal
    tc = _typical(lam, N, c + gamma / sched.alpha_bar, with_logdet=False)
    common = lam.size - 2.0 * c * tc.tr_resolvent + c**2 * tc.tr_resolvent2
    train = common + c * tc.tr_sigma0_resolvent2
    test = common + c * (1.0 + 1.0 / N) * tc.tr_sigma_resolvent2
    return train, test


def optimal_weight_decay(
    eigenvalues,
    N: int,
    sched: Schedule,
    regularization: str = "constant",
    bounds: tuple[float, float] = (1e-6, 1e2),
) -> float:
    """The weight decay that minimizes the typical summed test loss ``sum_t L_t`` of
    :func:`predict_losses` (chapter 6).

    The loss is evaluated on a grid of two points per decade of ``bounds``; the
    optimum is then located in the two grid steps around the grid's minimum by
    Brent's bounded method in ``ln gamma``, to a relative ``1e-5`` in ``gamma``.

    Parameters
    ----------
    {eigenvalues}
    {N}
    {sched}
    {regularization}
    bounds : (float, float), default (1e-6, 1e2)
        The range searched, ``0 < low < high``.

    Returns
    -------
    float
        ``gamma*`` (``c*`` for the step-scaled regularizer).

    Raises
    ------
    RuntimeError
        If the smallest loss of the grid lies at an end of ``bounds`` (the optimum may
        lie outside: widen them).
    """
    from scipy.optimize import minimize_scalar

    low, high = (_real(f"bounds[{i}]", b) for i, b in enumerate(bounds))
    if not 0 < low < high:
        raise ValueError(f"bounds: expected 0 < low < high, got {bounds}")

    def loss(log_gamma):
        g = float(np.exp(log_gamma))
        return float(
            np.sum(predict_losses(eigenvalues, N, sched, g, regularization)[1])
        )

    grid = np.linspace(
        np.log(low), np.log(high), int(np.ceil(2 * np.log10(high / low))) + 1
    )
    values = [loss(x) for x in grid]
    i = int(np.argmin(values))
    if i in (0, grid.size - 1):
        raise RuntimeError(
            f"optimal_weight_decay: the smallest loss lies at the bound "
            f"{np.exp(grid[i]):.3g}: widen bounds"
        )
    res = minimize_scalar(
        loss,
        bounds=(grid[i - 1], grid[i + 1]),
        method="bounded",
        options={"xatol": 1e-5},
    )
    best = res.x if res.fun <= values[i] else grid[i]
    return float(np.exp(best))


def predict_missing_variance(eigenvalues, N: int) -> float:
    """Typical-case ``Tr(Sigma P_null) ~ N kappa_0`` with ``kappa_0`` for ``(n, Sigma')
    = (N - 1, (N-1)/N Sigma)`` (chapter 5).

    Parameters
    ----------
    {eigenvalues}
    {N}

    Returns
    -------
    float
        The typical missing variance (0 when ``N - 1`` is at least the number of
        positive eigenvalues).

    Raises
    ------
    RuntimeError
        If the Newton iteration for ``kappa_0`` does not converge.
    """
    lam = _spectrum(eigenvalues)
    N = _integer("N", N, low=2)
    n = N - 1
    return float(N * _kappa(lam * (n / N), np.asarray(float(n)), np.asarray(0.0)))


def predict_kl(eigenvalues, N: int, c: float, reverse: bool = False) -> float:
    """Typical-case KL between ``N(mu_0, Sigma_0 + c Id)`` and ``rho = N(mu, Sigma)``
    (chapter 5).

    Forward (``reverse=False``): ``1/2 [c Tr Sigma^-1 + ln det Sigma - ln det(Sigma_0 +
    c)]`` (the trace and mean terms average exactly to ``d``); reverse: ``1/2 [(1 + 1/N)
    Tr Sigma (Sigma_0 + c)^-1 - d + ln det(Sigma_0 + c) - ln det Sigma]``; with the
    deterministic equivalents of ``typical_case``. ``rho_N`` of the default sampler is
    this Gaussian with ``c = beta_1`` up to ``f(lambda) - lambda - c``.

    Parameters
    ----------
    {eigenvalues_positive}
    {N}
    c : float
        The isotropic variance added to ``Sigma_0``, ``> 0``.
    reverse : bool, default False
        ``False``: ``KL(N(mu_0, Sigma_0 + c Id) || rho)``; ``True``: ``KL(rho ||
        N(mu_0, Sigma_0 + c Id))``.

    Returns
    -------
    float
        The typical KL divergence.

    Raises
    ------
    RuntimeError
        If the Newton iteration for ``kappa`` does not converge.
    """
    lam = _array("eigenvalues", eigenvalues, ndim=1)
    if np.any(lam <= 0):
        raise ValueError(
            "eigenvalues: expected a non-singular Sigma (all eigenvalues > 0)"
        )
    N = _integer("N", N, low=2)
    c = _real("c", c, low=0.0, low_open=True)
    tc = _typical(lam, N, np.array([c]), with_logdet=True)
    logdet_sigma = np.sum(np.log(lam))
    if not reverse:
        out = 0.5 * (c * np.sum(1.0 / lam) + logdet_sigma - tc.logdet[0])
    else:
        out = 0.5 * (
            (1.0 + 1.0 / N) * tc.tr_sigma_resolvent[0]
            - lam.size
            + tc.logdet[0]
            - logdet_sigma
        )
    return float(out)


fill(globals())
