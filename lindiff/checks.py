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
* A **margin** check (a plain assertion in a chapter) asks whether a measured effect
  clears a threshold: the chapter prints the measured value next to the threshold and
  says why the margin between them exceeds the measurement's error.
* A **statistical** check compares a Monte-Carlo estimate with its exact value through
  a statistic whose distribution under the claim is known (derived, or established by
  simulation in the tests), at a stated false-alarm rate, by default
  :data:`FALSE_ALARM` = 1e-4 per check: a book with a few dozen such checks fails by
  chance less than once in a thousand runs.

The tests run each chapter's headline check against a deliberately wrong answer and
require it to fail (``tests/test_checks.py``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from lindiff._check import FALSE_ALARM, Check
from lindiff._validate import _describe, _integer, _real
from lindiff.data import fit_power_law

# the checks of samples and of trained denoisers live in their own module
from lindiff.sample_checks import (
    gaussian_samples,
    kl_z_score,
    least_squares_denoiser,
    likelihood_ratio,
    likelihood_ratio_moments,
    likelihood_ratio_threshold,
    loss_z_scores,
)

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
    "common_bias",
    "power_law",
    "gaussian_samples",
    "likelihood_ratio",
    "likelihood_ratio_moments",
    "likelihood_ratio_threshold",
    "least_squares_denoiser",
    "loss_z_scores",
    "kl_z_score",
]


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


def common_bias(
    values,
    claimed,
    allowance: float = 0.0,
    name: str = "signed deviations",
    false_alarm: float = FALSE_ALARM,
) -> Check:
    """Test that the points of a figure share no common bias against their claimed
    values: the mean signed relative deviation over all points, with the spread over
    independent sets.

    ``values`` has shape ``(sets, ...)``: each point (the remaining indices) evaluated
    on each of ``sets`` independent draws, the same draws at every point (a training set
    per draw, say); ``claimed`` broadcasts against ``values[0]``. For each draw the
    signed relative deviations ``(values[s] - claimed) / |claimed|`` are averaged over
    the points into ``D_s``. The draws are independent, so the ``D_s`` are too, however
    strongly the points of one draw are correlated, and ``t = mean(D) / (sd(D) /
    sqrt(sets))`` is Student's ``t`` with ``sets - 1`` degrees of freedom for normal
    ``D_s``. A bias of one sign at every point shifts ``mean(D)`` by its size while
    errors of both signs cancel: this sees a common bias of 1-2% that the point-wise
    :func:`t_agreement` lets through. ``allowance`` (relative, ``>= 0``) is a common
    deviation the claim may make without being wrong (a finite-``d`` correction); the
    statistic is ``max(|mean D| - allowance, 0) / se``, compared with the two-sided
    quantile at ``false_alarm``.

    The per-draw values of a KL divergence or a summed loss are skewed, and so may be
    the ``D_s``. The two-sided ``t`` test is robust to that to first order (the terms
    of order ``1/sqrt(sets)`` that skewness adds to the distribution of ``t`` cancel
    between its two tails), not in the far tail: for 40 draws of skewness 0.5 the rate
    at ``1e-4`` is ``1.7e-4``, for skewness 1 it is ``5e-4`` (measured in
    ``tests/test_checks.py``). The detail reports the sample skewness of the ``D_s``.
    """
    try:
        v = np.asarray(values, dtype=float)
        c = np.asarray(claimed, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("values, claimed: expected numeric arrays") from None
    if v.ndim < 1 or v.shape[0] < 2:
        raise ValueError(f"values: expected shape (sets >= 2, ...), got {v.shape}")
    if not (np.all(np.isfinite(c)) and np.all(c != 0)):
        raise ValueError("claimed: expected finite, non-zero values")
    allowance = _real("allowance", allowance, low=0)
    false_alarm = _real(
        "false_alarm", false_alarm, low=0, high=1, low_open=True, high_open=True
    )
    sets = v.shape[0]
    try:
        rel = (v - c) / np.abs(c)
    except ValueError:
        raise ValueError(
            f"values, claimed: shapes {v.shape} and {c.shape} do not broadcast"
        ) from None
    D = rel.reshape(sets, -1).mean(axis=1)
    mean, se = D.mean(), D.std(ddof=1) / np.sqrt(sets)
    excess = max(abs(mean) - allowance, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = excess / se if se > 0 or excess > 0 else 0.0
    return Check(
        name,
        float(t) if np.isfinite(mean) else np.inf,
        float(stats.t.isf(false_alarm / 2, sets - 1)),
        "statistical",
        false_alarm,
        f"mean signed relative deviation {100 * mean:+.2f}% +- {100 * se:.2f}% over "
        f"{rel[0].size} points and {sets} sets (allowance {100 * allowance:.2f}%, "
        f"skewness of the per-set means {stats.skew(D):+.2f})",
    )


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
