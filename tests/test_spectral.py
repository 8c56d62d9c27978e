"""The limiting spectral density of Sigma_0 and the typical-case averages built on it
(chapter 5): closed forms, the traces of chapter 5 by a second road, the contour road
against the density road, and the chain's typical-case metrics against the
deterministic equivalents of chapter 6 and against simulations."""

import numpy as np
import pytest
from conftest import SCHED, assert_close, assert_fails, assert_passes

from lindiff import checks as lc
import lindiff_core as ld
from lindiff.rmt.contour import Contour


def marchenko_pastur(x, d, N):
    """The closed form for Sigma = Id: Sigma_0 is (n/N) times a white Wishart/n."""
    n = N - 1
    q, s = d / n, n / N
    a, b = s * (1 - np.sqrt(q)) ** 2, s * (1 + np.sqrt(q)) ** 2
    inside = np.clip((b - x) * (x - a), 0, None)
    return np.sqrt(inside) / (2 * np.pi * s * q * x), max(0.0, 1 - n / d)


@pytest.mark.parametrize("N", [126, 251, 501, 2001])  # N - 1 < d, = d, > d
def test_marchenko_pastur_in_closed_form(N):
    d = 250
    x, density, atom = ld.limiting_density(np.ones(d), N)
    exact, exact_atom = marchenko_pastur(x, d, N)
    # quadrature nodes inside the support; at the hard edge (N - 1 = d) the density
    # diverges like x^-1/2, so compare relative to the value at each node
    assert np.max(np.abs(density / exact - 1)) <= 1e-9
    assert abs(atom - exact_atom) <= 1e-11  # a d-term sum: d eps, with 100x to spare
    grid = np.linspace(0, 5, 101)[1:]
    _, on_grid, _ = ld.limiting_density(np.ones(d), N, grid)
    assert_close(on_grid, marchenko_pastur(grid, d, N)[0], 1e-9, "density on a grid")


@pytest.mark.parametrize("k", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("ratio", [0.25, 2.0])
def test_traces_of_chapter_5_by_a_second_road(k, ratio):
    d = 300
    lam = ld.power_law_spectrum(d, k)
    N = int(ratio * d)
    c = np.array([1e-3, 0.1])
    tc = ld.typical_case(lam, N, c)
    mass = ld.typical_average(lambda x: np.ones_like(x), lam, N)
    resolvent = ld.typical_average(lambda x: 1 / (x + c[:, None]), lam, N)
    sigma_res = ld.typical_average(lambda x: 1 / (x + c[:, None]), lam, N, weights=lam)
    logdet = ld.typical_average(lambda x: np.log(x + c[:, None]), lam, N)
    assert abs(mass - 1) <= 1e-10
    assert_close(d * resolvent, tc.tr_resolvent, 1e-9, "Tr (Sigma_0 + c)^-1")
    assert_close(
        d * sigma_res, tc.tr_sigma_resolvent, 1e-9, "Tr Sigma (Sigma_0 + c)^-1"
    )
    assert_close(d * logdet, tc.logdet, 1e-9, "ln det (Sigma_0 + c)")
    # a wrong answer: the density of N samples with a known mean (n = N, not N - 1)
    wrong = ld.typical_average(lambda x: 1 / (x + c[:, None]), lam, N + 1)
    assert_fails(lc.close(d * wrong, tc.tr_resolvent, 1e-6))


def test_contour_road_against_the_density_road():
    d, N = 300, 120
    lam = ld.power_law_spectrum(d, 1.0)
    con = Contour(ld.LimitingSpectrum(lam, N), 1e-3)
    for weights in [None, lam, 1 / lam]:
        for c in [2e-3, 0.5]:
            by_density = ld.typical_average(lambda x: 1 / (x + c), lam, N, weights)
            by_contour, error = con.average(1 / (con.z + c), weights)
            assert abs(by_contour - by_density) <= 1e-9 * abs(by_density)
            assert error <= 1e-6 * abs(by_density)


@pytest.mark.parametrize("regularization", ["constant", "step-scaled"])
def test_predicted_test_loss_by_two_roads(regularization):
    """The summed test loss of predict_metrics (Cauchy integrals of the chain's gains)
    is predict_losses (the Silverstein ridge kappa), term by term the same
    deterministic equivalent."""
    d, N = 200, 50
    lam = ld.power_law_spectrum(d, 1.0)
    gammas = np.array([1e-4, 1e-2, 1.0])
    pm = ld.predict_metrics(lam, N, SCHED, gammas, regularization=regularization)
    ref = [ld.predict_losses(lam, N, SCHED, g, regularization)[1].sum() for g in gammas]
    assert_close(pm.test_loss, np.array(ref), 1e-8, "summed test loss")
    assert np.all(pm.error < 1e-6)


def test_predicted_metrics_meet_exact_values_of_simulated_training_sets():
    """d = 128, 12 training sets: the mean of the exact metrics matches the typical
    case within Student's t (false-alarm 1e-4 over the 9 comparisons) plus 4/d."""
    d, N, n_sets = 128, 64, 12
    lam = ld.power_law_spectrum(d, 1.0)
    rho = ld.Gaussian.from_eigen(np.zeros(d), lam)
    rng = np.random.default_rng(11)
    sets = [ld.Gaussian.from_samples(rho.sample(N, rng)) for _ in range(n_sets)]
    cases = [{"weight_decay": 3.0}, {"weight_decay": 0.03}, {"train_time": 30.0}]
    rows = []
    for kw in cases:
        th = ld.predict_metrics(lam, N, SCHED, **kw)
        sim = []
        for emp in sets:
            m = ld.exact_metrics(
                ld.fit_linear_denoiser(emp, SCHED, **kw), SCHED, rho, emp
            )
            sim.append([m.test_loss.sum(), m.kl, m.kl_reverse])
        rows.append((np.array(sim), np.array([th.test_loss, th.kl, th.kl_reverse])))
    for sim, th in rows:
        mean, se = sim.mean(axis=0), sim.std(axis=0, ddof=1) / np.sqrt(n_sets)
        allowance = 4 / d * np.abs(th)
        assert_passes(
            lc.t_agreement(mean, se, n_sets, th, allowance=allowance, family=9)
        )
    # a wrong answer: the early-stopped flow at half the rate
    sim, _ = rows[2]
    mean, se = sim.mean(axis=0), sim.std(axis=0, ddof=1) / np.sqrt(n_sets)
    half = ld.predict_metrics(lam, N, SCHED, train_time=15.0)
    half = np.array([half.test_loss, half.kl, half.kl_reverse])
    allowance = 4 / d * np.abs(half)
    assert_fails(lc.t_agreement(mean, se, n_sets, half, allowance=allowance, family=9))


@pytest.mark.parametrize("k", [0.0, 2.0])
def test_limiting_cdf_is_a_distribution(k):
    d, N = 200, 80
    lam = ld.power_law_spectrum(d, k)
    x, density, atom = ld.limiting_density(lam, N)
    edges = np.geomspace(x.min() / 2, x.max() * 2, 9)
    F = ld.limiting_cdf(lam, N, np.r_[-1.0, 0.0, edges])
    assert F[0] == 0 and F[1] == atom and abs(F[-1] - 1) <= 1e-10
    assert np.all(np.diff(F) >= -1e-11)  # non-decreasing up to rounding


def test_limiting_cdf_of_marchenko_pastur():
    from scipy.integrate import quad

    d, N = 200, 80
    points = np.linspace(0.5, 6.0, 12)
    F = ld.limiting_cdf(np.ones(d), N, points)
    exact = [
        quad(
            lambda x: marchenko_pastur(np.array([x]), d, N)[0][0],
            0,
            p,
            limit=200,
            epsabs=1e-11,
            epsrel=1e-12,
        )[0]
        + marchenko_pastur(np.array([1.0]), d, N)[1]
        for p in points
    ]
    assert_close(F, np.array(exact), 1e-9, "cdf")


@pytest.mark.parametrize("N", [126, 251, 2001])  # N - 1 < d, = d, > d
def test_the_limiting_spectrum_object_against_marchenko_pastur(N):
    """LimitingSpectrum: support and atom of the closed form, pdf on a grid, cdf at the
    edges (the atom below, one above), expect of 1 and of x (mass one, mean (n/N) Tr
    Sigma / d), and the wrappers are its methods."""
    d = 250
    spec = ld.LimitingSpectrum(np.ones(d), N)
    n, q, s = N - 1, d / (N - 1), (N - 1) / N
    a, b = s * (1 - np.sqrt(q)) ** 2, s * (1 + np.sqrt(q)) ** 2
    ((lo, hi),) = spec.support
    # the edges from a scalar root finder (brentq to 4 eps): rounding, 1e-12 relative
    assert_close(np.array([lo, hi]), np.array([a, b]), 1e-12, "support", scale=b)
    assert abs(spec.atom - max(0.0, 1 - n / d)) <= 1e-11
    grid = np.linspace(0, 5, 101)[1:]
    assert_close(spec.pdf(grid), marchenko_pastur(grid, d, N)[0], 1e-9, "pdf")
    cdf = spec.cdf(np.array([-1.0, 0.0, lo * 0.5, hi * 1.01]))
    assert cdf[0] == 0.0 and cdf[1] == spec.atom and cdf[2] == spec.atom
    assert abs(cdf[3] - 1.0) <= 1e-10  # quadrature of the whole mass
    mass = spec.expect(lambda x: np.ones_like(x))
    mean = spec.expect(lambda x: x)
    assert abs(mass - 1.0) <= 1e-10 and abs(mean - s) <= 1e-10 * s
    assert ld.limiting_cdf(np.ones(d), N, grid).tolist() == spec.cdf(grid).tolist()
    assert ld.typical_average(lambda x: x**2, np.ones(d), N) == spec.expect(
        lambda x: x**2
    )
    x, density = spec.nodes()
    assert np.all(np.diff(x) > 0) and np.all(density > 0)
    assert repr(spec) == f"LimitingSpectrum(d={d}, N={N})"


def test_the_limiting_spectrum_rejects_bad_input():
    with pytest.raises(ValueError, match="eigenvalues"):
        ld.LimitingSpectrum(np.zeros(5), 10)
    with pytest.raises(ValueError, match="N"):
        ld.LimitingSpectrum(np.ones(5), 1)
    spec = ld.LimitingSpectrum(np.ones(5), 10)
    with pytest.raises(ValueError, match="x"):
        spec.pdf([[1.0]])
    with pytest.raises(ValueError, match="phi"):
        spec.expect(3.0)
    with pytest.raises(ValueError, match="weights"):
        spec.expect(lambda x: x, weights=np.ones(4))
