"""The book's verification checks, as functions that a chapter calls and a test can
feed.

Every check returns a :class:`Check`: the measured value, the limit it must not exceed,
and what kind of comparison it is.

* A **rounding** check compares two floating-point roads to the same number. Its limit
  is derived from the size of the computation, the machine epsilon and the
  conditioning of the problem (the caller states the reasoning), and sits at least
  100 times above what was measured on x86-64 machines with different BLAS kernels.
* A **model** check asks whether a measured curve has a stated form, with a tolerance
  on the size of departure that would make the form the wrong description (the
  caller shows that the measurement's own error is far below it).
* A **statistical** check compares a Monte-Carlo estimate with its exact value through
  a statistic whose distribution under the claim is known (derived, or established by
  simulation in the tests), at a stated false-alarm rate, by default
  :data:`FALSE_ALARM` = 1e-4 per check: a book with a few dozen such checks fails by
  chance less than once in a thousand runs.

The tests run each chapter's headline check against a deliberately wrong answer and
require it to fail (``tests/test_checks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.linalg import null_space

from lindiff._validate import _describe, _integer, _real
from lindiff.data import fit_power_law
from lindiff.gaussian import Gaussian
from lindiff.kl import expected_kl_empirical, variance_kl_empirical

__all__ = [
    "FALSE_ALARM",
    "Check",
    "close",
    "z_scores",
    "mean_equals",
    "z_of_mean",
    "chi2_two_sided",
    "t_agreement",
    "t_exceeds",
    "power_law",
    "gaussian_samples",
    "likelihood_ratio",
    "likelihood_ratio_moments",
    "likelihood_ratio_threshold",
    "least_squares_denoiser",
    "loss_z_scores",
    "kl_z_score",
]

#: False-alarm rate of every statistical check of the book.
FALSE_ALARM = 1e-4

_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Check:
    """One verification: passes when ``value <= limit``.

    ``kind`` is ``"rounding"`` (floating-point comparison; ``value`` is the measured
    error) or ``"statistical"`` (``value`` is a test statistic, ``limit`` its quantile
    at the false-alarm rate ``false_alarm``).
    """

    name: str
    value: float
    limit: float
    kind: str
    false_alarm: float | None = None
    detail: str = ""

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.value) and self.value <= self.limit)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        if self.kind == "rounding":
            text = f"{self.name}: error {self.value:.1e} <= {self.limit:.0e}"
        elif self.kind == "model":
            text = f"{self.name}: departure {self.value:.3f} <= {self.limit:.3g}"
        else:
            text = (
                f"{self.name}: statistic {self.value:.4g} <= {self.limit:.4g} "
                f"(false-alarm rate {self.false_alarm:.0e})"
            )
        return f"{text}, {verdict}" + (f"; {self.detail}" if self.detail else "")


# ---------------------------------------------------------------------------
# Rounding checks
# ---------------------------------------------------------------------------


def close(actual, expected, rtol: float, name: str = "values", scale=None) -> Check:
    """``max |actual - expected| / scale <= rtol``, ``scale = max |expected|`` by
    default.

    A normwise relative error: entries much smaller than the largest are compared at
    the precision of the largest, which is what rounding delivers. Equal infinities
    count as equal.
    """
    a = np.asarray(actual, dtype=float)
    b = np.asarray(expected, dtype=float)
    a, b = np.broadcast_arrays(a, b)
    same_inf = np.isinf(a) & (a == b)
    if np.any(np.isinf(a) != np.isinf(b)) or np.any(np.isnan(a) | np.isnan(b)):
        return Check(name, np.inf, rtol, "rounding", detail="non-finite mismatch")
    fa, fb = a[~same_inf], b[~same_inf]
    if fa.size == 0:
        return Check(name, 0.0, rtol, "rounding")
    if scale is None:
        scale = np.max(np.abs(fb))
    scale = max(float(scale), np.finfo(float).tiny)
    return Check(name, float(np.max(np.abs(fa - fb)) / scale), rtol, "rounding")


# ---------------------------------------------------------------------------
# Statistical checks
# ---------------------------------------------------------------------------


def z_scores(z, name: str = "z-scores", false_alarm: float = FALSE_ALARM) -> Check:
    """``sum z_i^2`` of ``m`` independent, approximately standard normal ``z_i`` against
    ``chi^2_m``.

    The sum of squares sees a small error that shifts every ``z`` as well as one large
    error; for independent estimates it is ``chi^2`` with ``m`` degrees of freedom.
    """
    z = np.asarray(z, dtype=float).ravel()
    return Check(
        name,
        float(np.sum(z**2)),
        float(stats.chi2.isf(false_alarm, z.size)),
        "statistical",
        false_alarm,
        f"{z.size} z-scores, max |z| = {np.max(np.abs(z)):.2f}",
    )


def mean_equals(
    values,
    expected: float,
    sd: float | None = None,
    name: str = "mean",
    false_alarm: float = FALSE_ALARM,
    claim: str = "equal",
) -> Check:
    """Test that independent ``values`` have mean ``expected`` (or at least, or at most,
    it).

    With the exact standard deviation ``sd`` of one value, ``z = (mean - expected)
    sqrt(n) / sd`` is compared with the normal quantile; without it, the sample standard
    deviation (``ddof = 1``) and Student's ``t`` with ``n - 1`` degrees of freedom.
    ``claim``: ``"equal"`` (two-sided), ``"at least"`` (fails only when the mean is
    significantly below ``expected``) or ``"at most"``.
    """
    if claim not in ("equal", "at least", "at most"):
        raise ValueError(
            f"claim: expected 'equal', 'at least' or 'at most', got {claim!r}"
        )
    v = np.asarray(values, dtype=float).ravel()
    n = v.size
    rate = false_alarm / 2 if claim == "equal" else false_alarm
    if sd is None:
        se = v.std(ddof=1) / np.sqrt(n)
        q = stats.t.isf(rate, n - 1)
    else:
        se = sd / np.sqrt(n)
        q = stats.norm.isf(rate)
    z = (v.mean() - expected) / se
    value = {"equal": abs(z), "at least": -z, "at most": z}[claim]
    return Check(
        name,
        float(value),
        float(q),
        "statistical",
        false_alarm,
        f"mean {v.mean():.5g} vs {expected:.5g} +- {se:.2g} (n = {n})",
    )


def z_of_mean(values, expected: float, sd: float) -> float:
    """``(mean - expected) sqrt(n) / sd`` for ``n`` independent ``values`` of exact
    standard deviation ``sd``.
    """
    v = np.asarray(values, dtype=float).ravel()
    return float((v.mean() - expected) * np.sqrt(v.size) / sd)


def chi2_two_sided(
    statistic: float, df: int, name: str = "chi^2", false_alarm: float = FALSE_ALARM
) -> Check:
    """Two-sided test that ``statistic`` is ``chi^2`` with ``df`` degrees of freedom.

    The statistic is mapped to a standard normal ``z`` through its exact ``chi^2``
    distribution function, and ``|z|`` is compared with the two-sided normal quantile:
    too small a value fails as surely as too large a one.
    """
    lower = stats.chi2.cdf(statistic, df)
    upper = stats.chi2.sf(statistic, df)
    z = stats.norm.isf(upper) if upper < lower else stats.norm.ppf(lower)
    return Check(
        name,
        float(abs(z)),
        float(stats.norm.isf(false_alarm / 2)),
        "statistical",
        false_alarm,
        f"{statistic:.6g} against chi^2 with {df} degrees of freedom",
    )


def _t_inputs(named: dict, sets, family, false_alarm):
    """Checked, broadcast arrays, sets, family and false_alarm of a t test."""
    arrays = {}
    for arg, x in named.items():
        try:
            arrays[arg] = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"{arg}: expected a numeric array, got {_describe(x)}"
            ) from None
    if np.any(arrays["standard_errors"] < 0):
        raise ValueError(
            "standard_errors: expected values >= 0, got minimum "
            f"{np.nanmin(arrays['standard_errors']):.3g}"
        )
    allow = arrays.get("allowance", np.zeros(()))
    if not np.all(np.isfinite(allow) & (allow >= 0)):
        raise ValueError("allowance: expected finite values >= 0")
    try:
        out = np.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = ", ".join(f"{arg} {a.shape}" for arg, a in arrays.items())
        raise ValueError(
            f"{', '.join(arrays)}: shapes {shapes} do not broadcast"
        ) from None
    n = out[0].size
    if n == 0:
        raise ValueError("estimates: expected at least one comparison, got none")
    sets = _integer("sets", sets, low=2)
    family = n if family is None else _integer("family", family, low=1)
    if family < n:
        raise ValueError(
            f"family: expected at least the {n} comparisons passed, got {family}"
        )
    false_alarm = _real(
        "false_alarm", false_alarm, low=0, high=1, low_open=True, high_open=True
    )
    return out, sets, family, false_alarm


def t_agreement(
    estimates,
    standard_errors,
    sets: int,
    claimed,
    allowance=0.0,
    family: int | None = None,
    name: str = "estimates",
    false_alarm: float = FALSE_ALARM,
) -> Check:
    """Test that each of the ``estimates`` equals its ``claimed`` value within
    ``allowance``: Student's ``t``, two-sided, at a false-alarm rate shared by a family.

    Each standard error is estimated from the spread (``ddof = 1``) of ``sets``
    independent draws: typically the estimate is their average (over training sets,
    say) and its standard error the spread over ``sqrt(sets)``. For normal draws whose
    mean is the claim, ``t = (estimate - claimed) / se`` is then Student's ``t`` with
    ``sets - 1`` degrees of freedom. The ``allowance`` (absolute, ``>= 0``) is an error
    the claim may make without being wrong, such as the ``O(1/d)`` error of a
    deterministic equivalent at finite ``d`` (pass ``b / d * abs(claimed)`` for a
    relative one): the statistic of a comparison is the deviation beyond it in standard
    errors, ``max(|estimate - claimed| - allowance, 0) / se``, which is below ``|t|``
    whenever the mean lies within the allowance of the claim.

    The check's value is the largest statistic over the comparisons; its limit is the
    two-sided quantile of ``t`` with ``sets - 1`` degrees of freedom at ``false_alarm /
    (2 family)``, so that by Bonferroni's inequality the ``family`` comparisons (this
    call may hold only part of them) fail by chance at most at the rate ``false_alarm``
    together. A comparison passes when ``|estimate - claimed| <= quantile * se +
    allowance``; one without spread (``se = 0``) passes only within the allowance.

    The four arrays broadcast against each other. ``family`` defaults to the number of
    comparisons passed, and may not be smaller. A non-finite estimate, claim or standard
    error fails the check.
    """
    (est, se, claim, allow), sets, family, false_alarm = _t_inputs(
        {
            "estimates": estimates,
            "standard_errors": standard_errors,
            "claimed": claimed,
            "allowance": allowance,
        },
        sets,
        family,
        false_alarm,
    )
    n = est.size
    excess = np.maximum(np.abs(est - claim) - allow, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = excess / se
    # no spread and no deviation beyond the allowance: nothing to see
    t = np.where((se == 0) & (excess == 0), 0.0, t)
    worst = np.unravel_index(np.argmax(t), t.shape) if t.ndim else ()
    q = stats.t.isf(false_alarm / (2 * family), sets - 1)
    return Check(
        name,
        float(np.max(t)),
        float(q),
        "statistical",
        false_alarm,
        f"family of {family} comparisons ({n} here), two-sided quantile of t with "
        f"{sets - 1} degrees of freedom {q:.3g}; worst: {est[worst]:.5g} vs "
        f"{claim[worst]:.5g} +- {se[worst]:.2g} (allowance {allow[worst]:.2g})",
    )


def t_exceeds(
    estimates,
    standard_errors,
    sets: int,
    bound,
    family: int | None = None,
    name: str = "estimates",
    false_alarm: float = FALSE_ALARM,
) -> Check:
    """Test that each estimate lies above its ``bound`` by more than ``q`` standard
    errors (as in :func:`t_agreement`), ``q`` the one-sided ``t`` quantile at
    ``false_alarm / family``: means on their bounds pass at most at that rate. For
    "below", negate both. Value ``max (bound - estimate) / se``, limit ``-q``."""
    named = {"estimates": estimates, "standard_errors": standard_errors, "bound": bound}
    (est, se, bound), sets, family, false_alarm = _t_inputs(
        named, sets, family, false_alarm
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (bound - est) / se
    z = np.where(se == 0, np.where(est > bound, -np.inf, np.inf), z)
    z[~(np.isfinite(est) & np.isfinite(bound) & np.isfinite(se))] = np.inf
    worst = np.unravel_index(np.argmax(z), z.shape) if z.ndim else ()
    q = stats.t.isf(false_alarm / family, sets - 1)
    value = max(float(np.max(z)), -1e300)  # -inf (all above, no spread) passes
    detail = (
        f"one-sided t, {sets - 1} degrees of freedom, family of {family}; closest: "
        f"{est[worst]:.5g} +- {se[worst]:.2g} against {bound[worst]:.5g}"
    )
    return Check(name, value, float(-q), "statistical", false_alarm, detail)


def power_law(eigenvalues, lo: int, hi: int, tolerance: float = 0.25, name=None):
    """Test that ``eigenvalues`` fall off as one power of the rank over ``lo <= nu <=
    hi``: the exponent fitted over the upper third of the window (in ``ln nu``) is
    within a factor ``1 +- tolerance`` of the one over its lower third.

    A least-squares line fits any smooth decreasing curve over a short window with
    ``R^2`` near 1; what tells a power law from its alternatives is that the local
    exponent ``-d ln lambda / d ln nu`` does not drift. A stretched exponential
    ``exp(-b nu^beta)`` has local exponent ``b beta nu^beta``, which grows by the factor
    ``(hi/lo)^(2 beta/3)`` between the thirds' centres: 4.8 for ``exp(-sqrt(nu))`` over
    ranks 2 to 196, 2.0 over ranks 2 to 15. The exponents are those of
    :func:`lindiff.data.fit_power_law`. The value is ``|k_upper / k_lower - 1|``.
    """
    lo, hi = _integer("lo", lo, low=1), _integer("hi", hi, low=1)
    tolerance = _real("tolerance", tolerance, low=0, low_open=True)
    edges = np.exp(np.linspace(np.log(lo), np.log(hi), 4))
    first, last = np.rint(edges[1:3]).astype(int)
    if not (lo < first and last < hi):
        raise ValueError(
            f"hi: expected a window whose thirds hold two ranks or more, got ranks "
            f"{lo} to {hi}"
        )
    lower = fit_power_law(eigenvalues, lo, int(first))[0]
    upper = fit_power_law(eigenvalues, int(last), hi)[0]
    value = abs(upper / lower - 1) if lower > 0 else np.inf
    return Check(
        name or f"power law over ranks {lo} to {hi}",
        float(value),
        tolerance,
        "model",
        detail=f"exponent {lower:.3f} over the lower third, {upper:.3f} over the upper",
    )


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
