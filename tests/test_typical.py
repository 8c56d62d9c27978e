"""Chapters 5 and 6: the Silverstein solver, deterministic equivalents and typical-case
predictions.
"""

import numpy as np
import pytest
from conftest import SCHED, assert_close, assert_passes

from lindiff import checks as lc
import lindiff_core as ld
from lindiff import reference as ref

# The solver accepts a root once |f| is at the rounding level of the terms summed in f
# (EPS times their size) or the bracket has shrunk to 1e-13 relative; against roots
# found in extended precision its kappa is within 1e-14 relative on these grids. The
# references set the tolerance: kappa_brentq solves k - c - (k/n) sum lam/(lam + k) = 0,
# whose first and last terms cancel at n = d (kappa_0 = 0) and small c, where the
# equation is quadratic in kappa (kappa f' = 2c): an error of EPS kappa in f is EPS
# kappa / (2c) relative in kappa, at most 1e-11 here (kappa < 1e-5 at c = 1e-10;
# measured 6e-12 at n = d = 150); 1e-9 leaves a factor 100.
KAPPA_RTOL = 1e-9


def test_kappa_matches_the_isotropic_closed_form():
    cs = np.logspace(-10, 0, 31)
    for n in [50, 199, 200, 201, 800]:
        kappa = ld.silverstein_kappa(np.ones(200), n, cs)
        assert_close(
            kappa / ref.kappa_isotropic(200 / n, cs), 1.0, KAPPA_RTOL, f"n = {n}"
        )
    assert_close(
        ld.silverstein_kappa(np.ones(200), 50, 0.0), 200 / 50 - 1, KAPPA_RTOL, "kappa_0"
    )


@pytest.mark.parametrize("k", [0.5, 1.0, 2.0, 3.0])
def test_kappa_matches_an_independent_bracketed_solver(k):
    lam = ld.power_law_spectrum(150, k)
    cs = np.concatenate([[0.0], np.logspace(-10, 0, 21)])
    for n in [10, 75, 149, 150, 400]:
        ref_kappa = np.array([ref.kappa_brentq(lam, n, c) for c in cs])
        got = ld.silverstein_kappa(lam, n, cs)
        # elementwise relative: kappa spans ten decades over c
        assert_close(
            got[ref_kappa > 0] / ref_kappa[ref_kappa > 0], 1.0, KAPPA_RTOL, f"n = {n}"
        )
        assert np.all(got[ref_kappa == 0] == 0)


def test_kappa_broadcasts_and_continuation_agrees():
    lam = ld.power_law_spectrum(100, 1.0)
    Ns = np.array([[20.0], [100.0], [300.0]])
    cs = np.logspace(-8, 1, 400)[None, :]
    grid = ld.silverstein_kappa(lam, Ns, cs)  # 1200 roots, with continuation in c
    assert grid.shape == (3, 400)
    for i, n in enumerate(Ns[:, 0]):
        single = np.array([ld.silverstein_kappa(lam, n, c) for c in cs[0, ::37]])
        assert_close(grid[i, ::37] / single, 1.0, KAPPA_RTOL, f"N = {n}")
    assert np.all(np.diff(grid, axis=1) > 0)  # kappa grows with c


def test_predict_losses_without_weight_decay_is_the_plain_formula():
    d, N = 128, 64
    lam = ld.power_law_spectrum(d, 1.0)
    train, _ = ld.predict_losses(lam, N, SCHED)
    tc = ld.typical_case(lam, N, SCHED.noise_to_signal)
    # two formulas for the same deterministic equivalent: n (1 - c/kappa) against
    # d - c Tr R; terms up to (d - n) ~ 1e2 cancel to ~ 1: 1e2 d EPS
    assert_close(
        train, d - SCHED.noise_to_signal * tc.tr_resolvent, 1e-11, "train loss"
    )


# ------------------------------------------------------------------- against simulation
#
# The deterministic equivalents are large-d limits: at finite d they are off by O(1/d),
# measured at d = 128, 256, 512 as at most 3.3/d relative away from N = d and 8/d at N =
# d (chapter 5). Each comparison below allows b/d of the prediction (b = 5, or 12 at N =
# d) plus Student's t times the standard error of the average over M training sets
# (sample spread, ddof = 1), with the false-alarm rate lc.FALSE_ALARM shared by the
# comparisons of the test (lc.t_agreement).


def _compare(samples, predictions, N, d, family):
    samples = np.asarray(samples)
    M = samples.shape[0]
    b = 12.0 if N == d else 5.0
    mean, se = samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(M)
    allowance = b / d * np.abs(predictions)
    assert_passes(
        lc.t_agreement(mean, se, M, predictions, allowance=allowance, family=family)
    )


@pytest.mark.parametrize("k", [0.0, 1.5])
def test_typical_case_traces_match_simulation(k):
    rng = np.random.default_rng(30)
    d = 200
    rho = ld.power_law_gaussian(d, k)
    c = np.array([1e-3, 0.1])
    for N in [80, 400]:
        tc = ld.typical_case(rho.eigenvalues, N, c)
        sims = []
        for _ in range(12):
            ev = ld.Gaussian.from_samples(rho.sample(N, rng)).spectrum
            sims.append(
                [np.sum(1 / (ev + ci)) for ci in c]
                + [np.sum(np.log(ev + ci)) for ci in c]
            )
        sims = np.array(sims)
        _compare(sims[:, :2], tc.tr_resolvent, N, d, family=8)
        # the log-determinant: an additive O(1) finite-d error on a sum of d logs
        logdet = sims[:, 2:]
        se = logdet.std(axis=0, ddof=1) / np.sqrt(12)
        assert_passes(
            lc.t_agreement(
                logdet.mean(axis=0), se, 12, tc.logdet, allowance=5.0, family=8
            )
        )


@pytest.mark.parametrize("gamma", [0.0, 0.05])
def test_predicted_losses_and_missing_variance_match_simulation(gamma):
    rng = np.random.default_rng(31)
    d, N = 128, 48
    lam = ld.power_law_spectrum(d, 1.0)
    rho = ld.Gaussian.from_eigen(np.zeros(d), lam)
    train, test = ld.predict_losses(lam, N, SCHED, weight_decay=gamma)
    sims = []
    for _ in range(16):
        X = rho.sample(N, rng)
        den = ld.fit_linear_denoiser(X, SCHED, weight_decay=gamma)
        sims.append(
            [
                ld.train_loss(den, SCHED, X).sum(),
                ld.test_loss(den, SCHED, rho).sum(),
                ld.missing_variance(den, rho),
            ]
        )
    predictions = [train.sum(), test.sum(), ld.predict_missing_variance(lam, N)]
    _compare(sims, predictions, N, d, family=3)
    assert ld.predict_missing_variance(lam, 4 * d) == 0.0


def test_predict_kl_reproduces_the_wishart_expectation():
    # for N >> d the deterministic equivalent captures the leading order d(d+3)/(4N);
    # the exact expectation differs at relative order 1/d (and d/N)
    d, N = 40, 4000
    lam = ld.power_law_spectrum(d, 1.0)
    kl = ld.predict_kl(lam, N, 1e-12)
    assert abs(kl / ld.expected_kl_empirical(d, N) - 1) < 2 / d
    kl_rev = ld.predict_kl(lam, N, 1e-12, reverse=True)
    assert abs(kl_rev / ld.expected_kl_empirical(d, N, reverse=True) - 1) < 3 / d


@pytest.mark.parametrize("regularization", ["constant", "step-scaled"])
@pytest.mark.parametrize("k, ratio", [(0.0, 0.25), (2.0, 2.0)])
def test_optimal_weight_decay_is_the_minimum_of_a_dense_grid(regularization, k, ratio):
    """Against the loss on a grid of 401 points within a tenth of a decade of the
    optimum (spacing 5e-4 decades): the optimum found is the grid's minimum to within
    one spacing, and no point of the grid has a smaller loss (to the rounding of the
    summed loss). An optimum 1% off is 0.0043 decades away, 9 spacings."""
    d = 64
    lam = ld.power_law_spectrum(d, k)
    N = int(ratio * d)
    best = ld.optimal_weight_decay(lam, N, SCHED, regularization)
    grid = best * np.logspace(-0.1, 0.1, 401)

    def loss(g):
        return ld.predict_losses(lam, N, SCHED, g, regularization)[1].sum()

    values = np.array([loss(g) for g in grid])
    spacing = 0.2 / 400
    assert abs(np.log10(grid[np.argmin(values)] / best)) <= spacing
    assert loss(best) <= values.min() * (1 + 1e-12)
    # a wrong answer: the optimum moved by 1% is not the grid's minimum
    assert abs(np.log10(grid[np.argmin(values)] / (1.01 * best))) > spacing


def test_optimal_weight_decay_refuses_an_optimum_at_a_bound_and_bad_bounds():
    lam = ld.power_law_spectrum(64, 1.0)
    with pytest.raises(RuntimeError, match="widen bounds"):
        ld.optimal_weight_decay(lam, 16, SCHED, bounds=(1e-8, 1e-6))
    for bad in [(0.0, 1.0), (1.0, 0.5), (np.nan, 1.0)]:
        with pytest.raises(ValueError, match="bounds"):
            ld.optimal_weight_decay(lam, 16, SCHED, bounds=bad)
    with pytest.raises(ValueError, match="regularization"):
        ld.optimal_weight_decay(lam, 16, SCHED, regularization="ridge")


def test_predict_metrics_with_a_population_mean_matches_simulation():
    """A population mean mu adds mu^T (h - 1) Sigma^-1 (h - 1) mu / 2 and mu^T (h - 1)
    f^-1 (h - 1) mu / 2 to the two divergences (the generated mean is h(Sigma_0) mu_0).
    At d = 128 (k = 1, mu = 30 along the two leading directions), 40 training sets per
    N: the theory with the mean agrees within the chapters' finite-d allowance 5/d plus
    t standard errors (false-alarm rate 1e-4 over the 4 comparisons); the theory
    without it, 14% and 11% low at N = 8d, fails."""
    d, sets = 128, 40
    lam = ld.power_law_spectrum(d, 1.0)
    mu = np.zeros(d)
    mu[:2] = 30.0
    rho = ld.Gaussian.from_eigen(mu, lam)  # standard basis: mu's coordinates are mu
    rng = np.random.default_rng(128)
    est, se, with_mean, without = [], [], [], []
    for N in [d // 2, 8 * d]:
        rows = []
        for _ in range(sets):
            emp = ld.Gaussian.from_samples(rho.sample(N, rng))
            m = ld.exact_metrics(ld.fit_linear_denoiser(emp, SCHED), SCHED, rho, emp)
            rows.append([m.kl, m.kl_reverse])
        est += list(np.mean(rows, axis=0))
        se += list(np.std(rows, axis=0, ddof=1) / np.sqrt(sets))
        pm = ld.predict_metrics(lam, N, SCHED, mean=mu)
        pm0 = ld.predict_metrics(lam, N, SCHED)
        with_mean += [pm.kl, pm.kl_reverse]
        without += [pm0.kl, pm0.kl_reverse]
        # the test loss does not see the mean
        assert_close(pm.test_loss, pm0.test_loss, 1e-12)
    est, se = np.array(est), np.array(se)
    allow = 5 / d * np.abs(with_mean)
    assert_passes(lc.t_agreement(est, se, sets, with_mean, allowance=allow))
    assert not lc.t_agreement(est, se, sets, without, allowance=5 / d * np.abs(without))
    # a zero mean is no mean
    zero = ld.predict_metrics(lam, d, SCHED, mean=np.zeros(d))
    plain = ld.predict_metrics(lam, d, SCHED)
    assert_close([zero.kl, zero.kl_reverse], [plain.kl, plain.kl_reverse], 1e-12)
