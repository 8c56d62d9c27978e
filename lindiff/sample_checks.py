"""Checks of samples and of trained denoisers: do generated samples come from a claimed
Gaussian (a whitened likelihood-ratio test), does a denoiser minimize its training loss
(least squares on fresh noise), are Monte-Carlo losses and KL divergences those of the
exact formulas. Part of :mod:`lindiff.checks`, which re-exports every name."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.linalg import null_space

from lindiff._check import _EPS, FALSE_ALARM, Check
from lindiff.gaussian import Gaussian
from lindiff.kl import expected_kl_empirical, variance_kl_empirical

__all__ = [
    "gaussian_samples",
    "likelihood_ratio",
    "likelihood_ratio_moments",
    "likelihood_ratio_threshold",
    "least_squares_denoiser",
    "loss_z_scores",
    "kl_z_score",
]


def likelihood_ratio(Y) -> float:
    """``n [tr S + |m|^2 - d - ln det S]`` for samples ``Y`` (n, d) claimed to be ``N(0,
    Id)``.

    ``m`` and ``S`` are the sample mean and the covariance with divisor ``n``. This is
    the likelihood-ratio statistic of ``(mean, cov) = (0, Id)`` against any Gaussian,
    and ``2 n KL(N(m, S) || N(0, Id))``.
    """
    Y = np.asarray(Y, dtype=float)
    n, d = Y.shape
    m = Y.mean(axis=0)
    S = (Y - m).T @ (Y - m) / n
    ev = np.linalg.eigvalsh(S)
    if ev[0] <= 0:
        return float("inf")
    return float(n * (np.sum(ev) + m @ m - d - np.sum(np.log(ev))))


def likelihood_ratio_moments(d: int, n: int) -> tuple[float, float]:
    """Exact mean and variance of :func:`likelihood_ratio` for ``n`` samples of ``N(0,
    Id_d)``.

    The statistic is ``2n KL`` of the empirical Gaussian of ``n`` points, so chapter 4's
    Wishart results give it exactly: mean ``2n E KL``, variance ``4n^2 Var KL``.
    """
    return 2 * n * expected_kl_empirical(d, n), 4 * n**2 * variance_kl_empirical(d, n)


def likelihood_ratio_threshold(
    d: int, n: int, false_alarm: float = FALSE_ALARM
) -> float:
    """Upper ``false_alarm`` quantile of :func:`likelihood_ratio` under the claim.

    The statistic is a sum of about ``d(d+3)/2`` independent ``chi^2``-like terms; it is
    approximated by ``a chi^2_nu`` with the exact mean and variance (``a = var/(2
    mean)``, ``nu = 2 mean^2/var``). ``tests/test_checks.py`` simulates the exact
    distribution (Bartlett decomposition) and confirms the tail rate.
    """
    mean, var = likelihood_ratio_moments(d, n)
    a, nu = var / (2 * mean), 2 * mean**2 / var
    return float(a * stats.chi2.isf(false_alarm, nu))


def _complement(V, d):
    """An orthonormal basis (d, d - r) of the complement of the orthonormal columns of
    ``V``.
    """
    return null_space(V.T) if V.shape[1] else np.eye(d)


def gaussian_samples(
    U,
    claimed: Gaussian,
    name: str = "samples",
    false_alarm: float = FALSE_ALARM,
    support_rtol: float = 1e-10,
) -> Check:
    """Do the rows of ``U`` come from ``claimed``? Whitened likelihood-ratio test.

    The samples are whitened by the claimed covariance (in its eigen form) and their
    empirical Gaussian is compared with ``N(0, Id)`` by :func:`likelihood_ratio`; every
    eigen-direction counts, the large ones and the floor alike, and a relative error
    ``e`` in the variance of ``p`` directions raises the statistic by about
    ``n p e^2 / 2``. Directions of zero claimed variance (a degenerate Gaussian) are not
    whitened: the samples must have no component there beyond rounding,
    ``support_rtol`` times their size.
    """
    U = np.asarray(U, dtype=float)
    n, d = U.shape
    Y = U - claimed.mean
    if claimed.basis is None:
        basis, var = np.eye(d), claimed.eigenvalues
    else:
        comp = _complement(claimed.basis, d)
        basis = np.column_stack([claimed.basis, comp])
        var = np.concatenate(
            [claimed.eigenvalues, np.full(comp.shape[1], claimed.rest)]
        )
    coords = Y @ basis
    on = var > 0
    off = 0.0
    if not np.all(on):
        off = float(np.max(np.abs(coords[:, ~on]))) / max(float(np.max(np.abs(U))), 1.0)
    Z = coords[:, on] / np.sqrt(var[on])
    stat = likelihood_ratio(Z)
    limit = likelihood_ratio_threshold(Z.shape[1], n, false_alarm)
    detail = f"n = {n} samples whitened in {Z.shape[1]} directions"
    if off > support_rtol:
        stat = float("inf")
        detail += f"; off the support by {off:.1e} (relative) > {support_rtol:.0e}"
    elif not np.all(on):
        detail += (
            f"; {np.count_nonzero(~on)} directions of zero variance, off by {off:.1e}"
        )
    return Check(name, stat, limit, "statistical", false_alarm, detail)


# ---------------------------------------------------------------------------
# The chapters' Monte-Carlo experiments, so that a test can feed them a wrong answer
# ---------------------------------------------------------------------------


def least_squares_denoiser(
    X, sched, steps, weights, M: int, rng, false_alarm: float = FALSE_ALARM
) -> tuple[Check, Check]:
    """Chapter 1: ordinary least squares of ``eps`` on ``(x_t, 1)`` against the claimed
    ``(W_t, b_t)``.

    At each step ``t`` in ``steps``, ``M`` pairs ``(x_t, eps)`` are drawn as in training
    and ``eps`` is regressed on ``(x_t, 1)``; ``weights(t)`` returns the claimed
    ``(W_t, b_t)``. The targets are written in an eigenbasis of ``Sigma_0``:

    * along the ``d - r`` null directions the noise is an exact linear function of
      ``x_t`` (the data do not vary there), so least squares returns the exact
      coefficients up to rounding: for a consistent least-squares problem the relative
      error is at most about ``M cond(Z) eps`` (sums of ``M`` rounded products, for the
      design matrix ``Z`` of condition number ``cond(Z)``), a rounding check;
    * along the ``r`` other directions the estimate is asymptotically normal around the
      claim with the heteroscedasticity-robust (sandwich) covariance, and the Wald
      statistic, summed over the steps, is ``chi^2`` with ``r (d + 1)`` degrees of
      freedom per step (a statistical check; the tests measure its spread by
      simulation).

    Returns ``(statistical, rounding)`` checks.
    """
    X = np.asarray(X, dtype=float)
    N, d = X.shape
    mu0 = X.mean(axis=0)
    lam, B = np.linalg.eigh((X - mu0).T @ (X - mu0) / N)
    r = int(np.sum(lam > d * _EPS * lam[-1]))
    B = B[:, ::-1]  # r range directions first, then the null directions
    wald, df, worst = 0.0, 0, 0.0
    for t in steps:
        a = sched.alpha_bar[t - 1]
        W, b = weights(t)
        i = rng.integers(N, size=M)
        eps = rng.standard_normal((M, d))
        Z = np.column_stack([np.sqrt(a) * X[i] + np.sqrt(1 - a) * eps, np.ones(M)])
        Y = eps @ B
        coef, *_ = np.linalg.lstsq(Z, Y, rcond=None)
        exact = np.vstack([W.T, b]) @ B
        if r < d:
            bound = M * np.linalg.cond(Z) * _EPS
            err = np.max(np.abs(coef[:, r:] - exact[:, r:])) / np.max(
                np.abs(exact[:, r:])
            )
            worst = max(worst, err / bound)
        res = Y[:, :r] - Z @ coef[:, :r]
        G_inv = np.linalg.inv(Z.T @ Z)
        score = (Z[:, :, None] * res[:, None, :]).reshape(M, -1)  # rows: z_i (x) res_i
        A = np.kron(G_inv, np.eye(r))
        cov = A @ (score.T @ score) @ A
        delta = (coef[:, :r] - exact[:, :r]).ravel()
        wald += float(delta @ np.linalg.solve(cov, delta))
        df += delta.size
    # Allow for a variance of the Wald statistic up to 20% above the chi^2 value (the
    # tests measure a few percent at these sizes): the quantile is taken at false_alarm
    # / 10.
    statistical = Check(
        "least squares vs closed form (Wald)",
        wald,
        float(stats.chi2.isf(false_alarm / 10, df)),
        "statistical",
        false_alarm,
        f"{df} coefficients over {len(steps)} steps",
    )
    rounding = Check(
        "null directions: exact fit",
        worst,
        1.0,
        "rounding",
        detail="error in units of M cond(Z) eps",
    )
    return statistical, rounding


def loss_z_scores(den, sched, rho, steps, losses, M: int, rng) -> np.ndarray:
    """Chapter 3: ``z`` of the Monte-Carlo test loss against the claimed per-step
    ``losses``.

    At each step, ``M`` fresh ``x_0 ~ rho`` and noises; ``z = (mean error - L_t) / SE``
    with the sample standard error. Independent across steps.
    """
    d = den.d
    z = []
    for t in steps:
        a = sched.alpha_bar[t - 1]
        x0, eps = rho.sample(M, rng), rng.standard_normal((M, d))
        err = np.sum(
            (eps - den.apply(np.sqrt(a) * x0 + np.sqrt(1 - a) * eps, t)) ** 2, axis=1
        )
        z.append((err.mean() - losses[t - 1]) / (err.std(ddof=1) / np.sqrt(M)))
    return np.array(z)


def kl_z_score(p: Gaussian, q: Gaussian, kl: float, M: int, rng) -> float:
    """Chapter 4: ``z`` of the Monte-Carlo estimate ``mean ln p(x)/q(x)``, ``x ~ p``,
    against ``kl``.

    The log-densities are evaluated with ``scipy.stats.multivariate_normal`` from the
    dense covariances, independently of the core's eigen-form formula.
    """
    x = p.sample(M, rng)
    diff = stats.multivariate_normal(p.mean, p.cov).logpdf(
        x
    ) - stats.multivariate_normal(q.mean, q.cov).logpdf(x)
    return float((diff.mean() - kl) / (diff.std(ddof=1) / np.sqrt(M)))
