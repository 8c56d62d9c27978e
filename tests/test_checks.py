"""The verification checks themselves: their false-alarm rates, and that each catches a
wrong answer.

Each chapter's headline check is a function of ``lindiff.checks`` (or a rounding
comparison with the chapter's tolerance). Here every one of them is fed the right
answer, where it must pass, and a wrong answer of the size that matters, where it
must fail: a check that cannot fail proves nothing.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.linalg import expm
from conftest import SCHED, assert_fails, assert_passes, problem

from lindiff import checks as lc
import lindiff_core as ld
from lindiff import reference as ref

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------- null distributions


def _exact_likelihood_ratio(d, n, R, rng):
    """R draws of lc.likelihood_ratio under the claim, by the Bartlett decomposition."""
    out = np.empty(R)
    k = n - np.arange(1, d + 1)
    for s in range(0, R, 100_000):
        m = min(100_000, R - s)
        diag = rng.chisquare(k, size=(m, d))
        off = rng.chisquare(d * (d - 1) // 2, size=m) if d > 1 else 0.0
        mean = rng.chisquare(d, size=m)
        out[s : s + m] = (
            diag.sum(1) + off + mean - n * d - n * (np.log(diag).sum(1) - d * np.log(n))
        )
    return out


def test_likelihood_ratio_statistic_is_twice_n_kl():
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((500, 4))
    emp = ld.Gaussian.from_samples(Y)
    stat = lc.likelihood_ratio(Y)
    assert stat == pytest.approx(
        2 * 500 * ld.kl_divergence(emp, ld.Gaussian(np.zeros(4), np.eye(4))), rel=1e-10
    )


@pytest.mark.parametrize(
    "d,n", [(64, 10_000), (31, 10_000), (16, 4000), (6, 40_000), (2, 1000)]
)
def test_likelihood_ratio_threshold_has_the_stated_false_alarm_rate(d, n):
    rng = np.random.default_rng(d * n)
    R = 1_000_000
    stat = _exact_likelihood_ratio(d, n, R, rng)
    mean, var = lc.likelihood_ratio_moments(d, n)
    # exact moments: the simulated mean within 5 standard errors
    assert abs(stat.mean() - mean) < 5 * np.sqrt(var / R)
    for rate in (1e-2, 1e-3, 1e-4):
        count = np.count_nonzero(stat > lc.likelihood_ratio_threshold(d, n, rate))
        # Poisson count with mean R * rate: 100 at 1e-4. Accept rates within a factor
        # 1.5 of the claim beyond the counting noise (a 6-sigma band leaves no false
        # alarm).
        expect = R * rate
        assert (
            expect / 1.5 - 6 * np.sqrt(expect)
            < count
            < expect * 1.5 + 6 * np.sqrt(expect)
        )


def test_wald_statistic_of_least_squares_is_close_to_chi2():
    # The chapter's experiment (d = 8, N = 5, M pairs) repeated at M = 20 000, ten times
    # fewer pairs than the chapter uses, where the sandwich covariance is less accurate:
    # the mean and variance of the Wald statistic must stay within the 20% allowance the
    # check makes.
    rng, rho, X, den = problem(2025, 8, 5)
    stats_ = np.array(
        [
            lc.least_squares_denoiser(X, SCHED, [t], den.weights, 20_000, rng)[0].value
            for t in [1, 100, 1000] * 100
        ]
    )
    df = 4 * 9
    mean_ratio, var_ratio = stats_.mean() / df, stats_.var(ddof=1) / (2 * df)
    # sampling error of the variance ratio over 300 draws: about sqrt(2 / 300) ~ 0.08
    assert abs(mean_ratio - 1) < 0.05
    assert var_ratio < 1.2 + 3 * 0.08


def _t_families(rng, R, K, n, shift):
    """R families of K estimates, each the mean of n independent N(shift, 1) draws, and
    their sample standard errors: the mean and the sample variance drawn from their
    exact, independent laws."""
    mean = shift + rng.standard_normal((R, K)) / np.sqrt(n)
    se = np.sqrt(rng.chisquare(n - 1, size=(R, K)) / ((n - 1) * n))
    return mean, se


@pytest.mark.parametrize("K,n", [(1, 5), (6, 10), (30, 20)])
def test_t_agreement_has_the_stated_false_alarm_rate(K, n):
    """Families of K comparisons under the claim (claimed 0): with no allowance and the
    mean at the claim, and with the mean at the edge of the allowance."""
    rng = np.random.default_rng(100 * K + n)
    R, chunk, allow = 1_000_000, 100_000, 0.5 / np.sqrt(n)
    rates = (1e-2, 1e-3, 1e-4)
    limits = [
        lc.t_agreement(np.zeros(K), 1.0, n, 0.0, false_alarm=a).limit for a in rates
    ]
    at_claim, at_edge = np.zeros(len(rates), int), np.zeros(len(rates), int)
    for start in range(0, R, chunk):
        mean, se = _t_families(rng, chunk, K, n, 0.0)
        t_claim = np.max(np.abs(mean) / se, axis=1)
        mean_e, se_e = _t_families(rng, chunk, K, n, allow)
        t_edge = np.max(np.maximum(np.abs(mean_e) - allow, 0) / se_e, axis=1)
        if start == 0:  # the statistic simulated here is the check's value
            for i in range(300):
                assert lc.t_agreement(mean[i], se[i], n, 0.0).value == t_claim[i]
                c = lc.t_agreement(mean_e[i], se_e[i], n, 0.0, allowance=allow)
                assert c.value == t_edge[i]
        at_claim += [np.count_nonzero(t_claim > q) for q in limits]
        at_edge += [np.count_nonzero(t_edge > q) for q in limits]
    for rate, count, edge in zip(rates, at_claim, at_edge):
        # K independent |t| against the quantile at rate / (2K) each: the family fails
        # with probability 1 - (1 - rate/K)^K, within rate^2/2 of the stated rate;
        # binomial counts, accepted within 6 standard deviations
        p = 1 - (1 - rate / K) ** K
        assert abs(count - R * p) < 6 * np.sqrt(R * p), (rate, count, R * p)
        # at the edge of the allowance only the far side can fail: half the rate, and
        # never more than the stated rate
        assert R * p / 2 - 6 * np.sqrt(R * p) < edge < R * rate, (rate, edge, R * p)


def test_t_agreement_is_the_bonferroni_student_t_comparison():
    # against the written-out rule |estimate - claimed| <= q se + allowance, q the
    # two-sided Student t quantile at false_alarm / (2 family), on comparisons near the
    # boundary, some of them without spread
    rng = np.random.default_rng(41)
    verdicts = []
    for _ in range(2000):
        K, sets = rng.integers(1, 8), rng.integers(2, 40)
        family = K + rng.integers(0, 3) * K
        rate = 10 ** rng.uniform(-5, -1)
        q = stats.t.isf(rate / (2 * family), sets - 1)
        se = rng.uniform(0.5, 2, K) * (rng.uniform(size=K) > 0.1)
        allowance = rng.uniform(0, 1, K) * (rng.uniform(size=K) > 0.3)
        claimed = rng.standard_normal(K)
        dev = (q * se + allowance) * rng.uniform(0.9, 1.1, K) * rng.choice([-1, 1], K)
        check = lc.t_agreement(
            claimed + dev, se, sets, claimed, allowance, family, false_alarm=rate
        )
        expected = np.all(np.abs(dev) <= q * se + allowance)
        assert check.passed == expected and check.limit == pytest.approx(q, rel=1e-12)
        assert check.kind == "statistical" and check.false_alarm == rate
        verdicts.append(expected)
    assert 0.05 < np.mean(verdicts) < 0.95  # both verdicts, often


def test_t_agreement_passes_the_claim_and_fails_a_wrong_answer():
    # 12 estimates, each the average of 200 draws whose mean lies within the allowance
    # of the claim but near its edge (a finite-d bias of 10 to 20 standard errors)
    rng = np.random.default_rng(42)
    K, n = 12, 200
    claimed = rng.uniform(1, 3, K)
    allowance = 0.05 * claimed
    sd = rng.uniform(0.05, 0.1, K)
    bias = allowance * rng.uniform(0.8, 1, K) * rng.choice([-1, 1], K)
    draws = claimed + bias + sd * rng.standard_normal((n, K))
    mean, se = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(n)
    assert_passes(lc.t_agreement(mean, se, n, claimed, allowance=allowance))
    assert_passes(lc.t_agreement(mean, se, n, claimed, allowance=allowance, family=100))
    # the bias is what the allowance is for: without it the claim fails
    assert_fails(lc.t_agreement(mean, se, n, claimed))
    # a wrong answer: one claim 10 standard errors beyond the allowance from the truth
    wrong = claimed.copy()
    wrong[3] += bias[3] + allowance[3] + 10 * sd[3] / np.sqrt(n)
    assert_fails(lc.t_agreement(mean, se, n, wrong, allowance=allowance))
    assert_fails(lc.t_agreement(np.nan, 1.0, n, 0.0))
    assert_fails(lc.t_agreement(1.0, 0.0, n, 0.0))  # no spread, a deviation
    assert_passes(lc.t_agreement(1.0, 0.0, n, 0.0, allowance=1.0))


@pytest.mark.parametrize(
    "change,argument",
    [
        ({"estimates": "x"}, "estimates"),
        ({"estimates": []}, "estimates"),
        ({"standard_errors": [1.0, -0.1]}, "standard_errors"),
        ({"claimed": [1.0, 2.0, 3.0]}, "claimed"),
        ({"allowance": -0.1}, "allowance"),
        ({"allowance": np.inf}, "allowance"),
        ({"sets": 1}, "sets"),
        ({"sets": 10.0}, "sets"),
        ({"family": 1}, "family"),
        ({"false_alarm": 0.0}, "false_alarm"),
        ({"false_alarm": 1.5}, "false_alarm"),
    ],
)
def test_t_agreement_rejects_bad_input(change, argument):
    kw = dict(estimates=[1.0, 2.0], standard_errors=[0.1, 0.2], sets=10, claimed=1.5)
    with pytest.raises(ValueError, match=argument):
        lc.t_agreement(**(kw | change))


# -------------------------------------------------------- mutations, chapter by chapter


def test_chapter_1_least_squares_catches_weights_off_by_a_thousandth():
    rng, rho, X, den = problem(2025, 8, 5)

    def off(t):
        W, b = den.weights(t)
        return (1.001 * W, 1.001 * b) if t == 1 else (W, b)

    for weights, ok in [(den.weights, True), (off, False)]:
        checks = lc.least_squares_denoiser(
            X, SCHED, [1, 10, 100, 1000], weights, 200_000, np.random.default_rng(0)
        )
        assert all(c.passed for c in checks) == ok, [str(c) for c in checks]


def _chain_setup(d=16, N=8, n=4000, sampler="ddpm", gamma=0.0):
    rng = np.random.default_rng(7)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    rho = ld.Gaussian.from_eigen(
        3 * rng.standard_normal(d), np.logspace(2.5, -4, d), basis=Q
    )
    den = ld.fit_linear_denoiser(rho.sample(N, rng), SCHED, weight_decay=gamma)
    exact = ld.generated_distribution(den, SCHED, sampler=sampler)
    U = ld.sample(den, SCHED, n, rng, sampler=sampler)
    return den, exact, U


def test_chapter_2_chain_check_catches_a_doubled_floor_and_the_plain_surrogate():
    den, exact, U = _chain_setup()
    assert_passes(lc.gaussian_samples(U, exact))
    c = exact.rest
    doubled = ld.Gaussian.from_eigen(
        exact.mean, exact.eigenvalues, basis=exact.basis, rest=2 * c
    )
    assert_fails(lc.gaussian_samples(U, doubled))
    # f(Sigma_0) replaced by Sigma_0 + c Id: wrong in the directions of large variance
    surrogate = ld.Gaussian.from_eigen(
        exact.mean, den.eigenvalues + c, basis=den.basis, rest=c
    )
    assert_fails(lc.gaussian_samples(U, surrogate))
    # the mean mu_0 in place of h(Sigma_0) mu_0
    plain_mean = ld.Gaussian.from_eigen(
        den.mean, exact.eigenvalues, basis=exact.basis, rest=c
    )
    assert_fails(lc.gaussian_samples(U, plain_mean))


def test_chapter_2_ddim_check_catches_samples_off_the_span():
    den, exact, U = _chain_setup(sampler="ddim")
    assert_passes(lc.gaussian_samples(U, exact))
    null = np.linalg.svd(den.basis, full_matrices=True)[0][:, den.r :]
    moved = U + 1e-6 * null[:, 0]  # a millionth off the training span
    assert_fails(lc.gaussian_samples(moved, exact))


def test_chapter_3_monte_carlo_catches_a_test_loss_one_percent_off():
    # the chapter's experiment: d = 16, N = 8 and 64, six steps, M = 200 000 per step
    rng = np.random.default_rng(3)
    rho = ld.power_law_gaussian(16, 1.0, rng)
    dens = [ld.fit_linear_denoiser(rho.sample(N, rng), SCHED) for N in (8, 64)]
    steps = [1, 10, 100, 300, 600, 1000]
    for factor, ok in [(1.0, True), (1.01, False), (0.99, False)]:
        mc = np.random.default_rng(0)
        z = np.concatenate(
            [
                lc.loss_z_scores(
                    den,
                    SCHED,
                    rho,
                    steps,
                    factor * ld.test_loss(den, SCHED, rho),
                    200_000,
                    mc,
                )
                for den in dens
            ]
        )
        assert lc.z_scores(z).passed == ok


def test_chapter_4_monte_carlo_kl_catches_two_percent():
    rng = np.random.default_rng(5)
    rho = ld.power_law_gaussian(32, 1.0, rng)
    for N in (16, 128):
        rho_N = ld.generated_distribution(
            ld.fit_linear_denoiser(rho.sample(N, rng), SCHED), SCHED
        )
        for p, q in [(rho_N, rho), (rho, rho_N)]:
            kl = ld.kl_divergence(p, q)
            for factor, ok in [(1.0, True), (1.02, False), (0.98, False)]:
                z = lc.kl_z_score(p, q, factor * kl, 200_000, np.random.default_rng(N))
                assert lc.z_scores([z]).passed == ok


def test_chapter_4_expectation_check_catches_two_percent():
    # the chapter's sizes with d = 32 (at d = 8 a 2% error is below the spread of 200
    # sets)
    rng = np.random.default_rng(4)
    z_right, z_wrong = [], []
    for d, N in [(32, 64), (32, 256)]:
        rho = ld.power_law_gaussian(d, 1.0, rng)
        kls = [
            ld.kl_divergence(ld.Gaussian.from_samples(rho.sample(N, rng)), rho)
            for _ in range(200)
        ]
        E, sd = ld.expected_kl_empirical(d, N), np.sqrt(ld.variance_kl_empirical(d, N))
        z_right.append(lc.z_of_mean(kls, E, sd))
        z_wrong.append(lc.z_of_mean(kls, 1.02 * E, sd))
    assert_passes(lc.z_scores(z_right))
    assert_fails(lc.z_scores(z_wrong))


def test_chapter_5_solver_check_catches_kappa_two_percent_off():
    cs = np.logspace(-10, 0, 11)
    lam = ld.power_law_spectrum(300, 1.0)
    for n in [30, 299, 600]:
        kappa = ld.silverstein_kappa(lam, n, cs)
        brent = np.array([ref.kappa_brentq(lam, n, c) for c in cs])
        assert_passes(lc.close(kappa, brent, 1e-8))
        assert_fails(lc.close(1.02 * kappa, brent, 1e-8))
        y = 300 / n
        iso = ld.silverstein_kappa(np.ones(300), n, cs)
        assert_passes(lc.close(iso / ref.kappa_isotropic(y, cs), 1.0, 1e-10))
        assert_fails(lc.close(1.02 * iso / ref.kappa_isotropic(y, cs), 1.0, 1e-10))


def test_chapter_6_null_variance_check_catches_a_doubled_floor():
    den, exact, U = _chain_setup(gamma=1e-2)
    assert_passes(lc.gaussian_samples(U, exact))
    doubled = ld.Gaussian.from_eigen(
        exact.mean, exact.eigenvalues, basis=exact.basis, rest=2 * exact.rest
    )
    assert_fails(lc.gaussian_samples(U, doubled))


def test_chapter_7_flow_check_catches_a_halved_rate():
    rng = np.random.default_rng(6)
    X = ld.power_law_gaussian(16, 1.0, rng).sample(6, rng)
    for tau in [0.5, 30.0]:
        right = ld.fit_linear_denoiser(X, SCHED, weight_decay=0.01, train_time=tau)
        halved = ld.fit_linear_denoiser(X, SCHED, weight_decay=0.01, train_time=tau / 2)
        for t in [20, 300]:
            W_ref = ref.dense_denoiser(X, SCHED, t, 0.01, tau)[0]
            assert_passes(lc.close(right.weights(t)[0], W_ref, 1e-8))
            assert_fails(lc.close(halved.weights(t)[0], W_ref, 1e-8))


def test_chapter_9_power_law_check_passes_sampled_power_laws_and_rejects_the_rest():
    rng = np.random.default_rng(9)
    nu = np.arange(1, 257.0)
    for k in [1.0, 1.5]:
        sampled = ld.Gaussian.from_samples(
            ld.power_law_gaussian(256, k, rng).sample(20_000, rng)
        ).spectrum
        assert_passes(lc.power_law(sampled, 2, 64))
    # the stretched exponentials exp(-nu^beta), down to beta = 0.15, and a bend from
    # k = 1.0 to 1.4 at rank 16
    for beta in [0.5, 0.3, 0.15]:
        assert_fails(lc.power_law(np.exp(-(nu**beta)), 2, 64))
    bent = np.where(nu < 16, nu**-1.0, 16**0.4 * nu**-1.4)
    assert_fails(lc.power_law(bent, 2, 64))


def test_chapter_9_exponent_check_catches_k_off_by_a_tenth():
    # the chapter's comparison of the exponent on two independent sets of images, on
    # two samples of one Gaussian with a power-law spectrum (d = 128, 10,000 and 2,000
    # points, the sizes of the patches' splits)
    rng = np.random.default_rng(19)
    rho = ld.power_law_gaussian(128, 1.3, rng)

    def k_of(lam):
        return ld.fit_power_law(lam, 2, 32)[0]

    (k1, se1), (k2, se2) = (
        ld.spectrum_jackknife(rho.sample(n, rng), k_of) for n in (10_000, 2_000)
    )
    se = np.hypot(se1, se2)
    assert_passes(lc.t_agreement(k2, se, 20, k1))
    assert_fails(lc.t_agreement(k2, se, 20, k1 + 0.1))


def _clone_table(entry, shift):
    """The chapter's four clone metrics (excess test loss, gap, two KLs) over d: means,
    standard errors and theory, the theory's test loss moved by shift of its total."""
    v = {m: np.array(x) for m, x in entry["clone"].items()}
    th = {m: np.array(x) for m, x in entry["theory"].items() if m != "best"}
    best = entry["theory"]["best"]
    sims = [v["test"] - best, v["test"] - v["train"], v["kl"], v["kl_reverse"]]
    test = th["test"] * (1 + shift)
    theory = [test - best, test - th["train"], th["kl"], th["kl_reverse"]]
    mean = np.array([x.mean(axis=1) for x in sims])
    se = np.array([x.std(axis=1, ddof=1) / np.sqrt(x.shape[1]) for x in sims])
    return mean, se, np.array(theory)


@pytest.mark.parametrize("shift", [0.0, 0.02, -0.02])
def test_chapter_9_clone_check_catches_a_test_loss_two_percent_off(shift):
    run = json.loads((ROOT / "results" / "real_data.json").read_text())
    tables = [_clone_table(e, shift) for e in run["sets"].values()]
    allow = [5 / e["d"] * np.abs(t[2]) for e, t in zip(run["sets"].values(), tables)]
    est, se, claim = (np.concatenate([t[i] for t in tables], axis=1) for i in range(3))
    check = lc.t_agreement(
        est, se, run["configuration"]["draws"], claim, np.concatenate(allow, axis=1)
    )
    (assert_passes if shift == 0 else assert_fails)(check)


def test_t_exceeds_is_the_one_sided_bonferroni_student_t():
    """At a mean exactly on the bound the check passes at most at its rate: over many
    families of 3 comparisons of 5 normal draws, the rate of passing matches the
    one-sided Bonferroni bound (0.01 here, to be measurable); far above, it passes."""
    rng = np.random.default_rng(21)
    R, sets, family = 200_000, 5, 3
    x = rng.standard_normal((R, family, sets))
    est, se = x.mean(axis=2), x.std(axis=2, ddof=1) / np.sqrt(sets)
    q = stats.t.isf(0.01 / family, sets - 1)
    rate = np.mean(np.all(est / se > q, axis=1))
    # a single comparison passes at rate 0.01 / 3; all three at most that
    assert rate <= 0.01 / family + 4 * np.sqrt(0.01 / family / R)
    check = lc.t_exceeds(est[0], se[0], sets, 0.0, false_alarm=0.01)
    assert check.limit == pytest.approx(-q)
    assert_passes(lc.t_exceeds([5.0, 6.0], [0.1, 0.2], 5, [1.0, 1.0]))
    assert_fails(lc.t_exceeds([5.0, 1.05], [0.1, 0.2], 5, [1.0, 1.0]))
    assert_fails(lc.t_exceeds([5.0, np.nan], [0.1, 0.2], 5, 1.0))
    assert_passes(lc.t_exceeds(2.0, 0.0, 5, 1.0))
    assert_fails(lc.t_exceeds(1.0, 0.0, 5, 1.0))


@pytest.mark.parametrize(
    "change,argument",
    [
        ({"standard_errors": [-0.1, 0.2]}, "standard_errors"),
        ({"bound": "high"}, "bound"),
        ({"estimates": [1.0, 2.0, 3.0]}, "shapes"),
        ({"sets": 1}, "sets"),
        ({"family": 1}, "family"),
        ({"false_alarm": 1.0}, "false_alarm"),
    ],
)
def test_t_exceeds_rejects_bad_input(change, argument):
    kw = dict(estimates=[1.0, 2.0], standard_errors=[0.1, 0.2], sets=10, bound=0.5)
    with pytest.raises(ValueError, match=argument):
        lc.t_exceeds(**(kw | change))


def _network_run(part="transition"):
    """Chapter 8's stored run: model -> (d, N) -> seed -> result, and the seeds."""
    run = json.loads((ROOT / "results" / "networks.json").read_text())
    out = {}
    for row in run["rows"]:
        t = row["task"]
        if t["part"] == part:
            point = out.setdefault(t["model"], {}).setdefault((t["d"], t["N"]), {})
            point[t["seed"]] = row["result"]
    return out, run["configuration"]["seeds"]


def _mean_se(table):
    x = np.array(table)
    return x.mean(axis=1), x.std(axis=1, ddof=1) / np.sqrt(x.shape[1])


@pytest.mark.parametrize("factor", [1.0, 1.05, 1 / 1.05, 1.2, 1 / 1.2])
def test_chapter_8_control_check_catches_a_memorization_ratio_5_percent_off(factor):
    # the chapter's comparison of the Adam-trained linear model's median distance ratio
    # with the closed form's where the training set spans the space (N >= 2d): equal
    # within the 2% that Adam's finite training leaves
    run, seeds = _network_run()
    table = [
        [
            factor * a[s]["median_ratio"] / run["closed"][key][s]["median_ratio"]
            for s in sorted(a)
        ]
        for key, a in sorted(run["adam-linear"].items())
        if key[1] >= 2 * key[0]
    ]
    mean, se = _mean_se(table)
    check = lc.t_agreement(mean, se, seeds, 1.0, allowance=0.02)
    (assert_passes if factor == 1.0 else assert_fails)(check)


@pytest.mark.parametrize("factor", [1.0, 1.1, 1 / 1.1])
def test_chapter_8_fitted_kl_check_catches_ten_percent(factor):
    # the chapter's check that the fitted KL of the closed form's samples, whose law is
    # exactly rho_N, is on average the exact KL(rho_N || rho), at every (d, N)
    run, seeds = _network_run()
    table = [
        [c[s]["fitted_kl"] / (factor * c[s]["exact_kl"]) for s in sorted(c)]
        for c in run["closed"].values()
    ]
    mean, se = _mean_se(table)
    check = lc.t_agreement(mean, se, seeds, 1.0)
    (assert_passes if factor == 1.0 else assert_fails)(check)


# ---------------------------------------------------------- the common bias of a figure


@pytest.mark.parametrize("skew", [0.0, 0.5])
def test_common_bias_has_the_stated_false_alarm_rate(skew):
    """Families of 40 per-set means under the claim, normal and as skewed as chi^2 with
    32 degrees of freedom (skewness 0.5): the two-sided t test holds its rate for normal
    draws and exceeds it by at most half for skewed ones at 1e-2 and 1e-3 (the far tail,
    1e-4, is inflated to about 1.7e-4; the docstring says so)."""
    rng = np.random.default_rng(7 + int(10 * skew))
    S, R, chunk = 40, 1_000_000, 100_000
    rates = (1e-2, 1e-3)
    limits = [lc.common_bias(np.ones((S, 1)), 1.0, false_alarm=a).limit for a in rates]
    counts = np.zeros(len(rates), int)
    for start in range(0, R, chunk):
        if skew:
            nu = 8 / skew**2
            x = (rng.chisquare(nu, (chunk, S)) - nu) / np.sqrt(2 * nu)
        else:
            x = rng.standard_normal((chunk, S))
        t = np.abs(x.mean(axis=1)) / (x.std(axis=1, ddof=1) / np.sqrt(S))
        if start == 0:  # the statistic simulated here is the check's value
            for i in range(200):
                values = 1.0 + 0.01 * x[i][:, None]
                c = lc.common_bias(values, 1.0)
                assert c.value == pytest.approx(t[i], rel=1e-9)
        counts += [np.count_nonzero(t > q) for q in limits]
    for rate, count in zip(rates, counts):
        sd = np.sqrt(R * rate)
        if skew:
            assert R * rate - 6 * sd < count < 1.5 * R * rate, (rate, count)
        else:
            assert abs(count - R * rate) < 6 * sd, (rate, count)


def test_common_bias_catches_a_two_percent_bias_over_a_figure():
    """A figure of 3 metrics at 13 points, 40 training sets, each point's per-set value
    spread by 2% (chapter 7 measures at most 1.8% at d = 256) and strongly correlated
    across the points of a set: the claim passes; a claim 2% off at every point fails
    the aggregate test with the finite-d allowance 0.25 d^(-2/3) (the point-wise checks
    of chapters 5 to 7 used to allow 5/d, 2% at d = 256, besides t standard errors)."""
    rng = np.random.default_rng(27)
    S, d = 40, 256
    truth = np.geomspace(1, 50, 39).reshape(3, 13)
    shared = rng.standard_normal((S, 1, 1))  # one draw moves every point of a set
    values = truth * (1 + 0.02 * (0.8 * shared + 0.6 * rng.standard_normal((S, 3, 13))))
    allowance = 0.25 * d ** (-2 / 3)
    assert_passes(lc.common_bias(values, truth, allowance=allowance))
    for factor in [0.98, 1.02]:
        assert_fails(lc.common_bias(values, factor * truth, allowance=allowance))


@pytest.mark.parametrize(
    "change,argument",
    [
        ({"values": "x"}, "values"),
        ({"values": np.ones(1)}, "values"),
        ({"claimed": 0.0}, "claimed"),
        ({"claimed": np.nan}, "claimed"),
        ({"claimed": np.ones(3)}, "values"),
        ({"allowance": -0.1}, "allowance"),
        ({"false_alarm": 0.0}, "false_alarm"),
    ],
)
def test_common_bias_rejects_bad_input(change, argument):
    kw = dict(values=np.ones((10, 2)), claimed=1.0)
    with pytest.raises(ValueError, match=argument):
        lc.common_bias(**(kw | change))


def test_chapter_5_pooled_density_check_catches_n_five_percent_off():
    """Chapter 5's pooled check of the limiting density at d = 300: eight sets' counts
    in 16 bins of equal predicted mass, projected on the direction an error in N moves
    them; the density of N samples passes, that of 5% more or fewer samples fails."""
    d, n_sets, n_bins = 300, 8, 16
    rng = np.random.default_rng(55)
    for k, N in [(0.0, 150), (1.0, 600)]:
        lam = ld.power_law_spectrum(d, k)
        rho = ld.Gaussian.from_eigen(np.zeros(d), lam)
        spectra = [
            np.linalg.eigvalsh(np.cov(rho.sample(N, rng).T, bias=True))
            for _ in range(n_sets)
        ]
        top = max(ev.max() for ev in spectra)
        nonzero = [ev[ev > 1e-9 * top] for ev in spectra]
        atom = ld.limiting_density(lam, N, x=[1.0])[2]
        grid = np.geomspace(min(ev.min() for ev in nonzero) / 10, top * 10, 400)
        F = ld.limiting_cdf(lam, N, grid)
        edges = np.interp(atom + (1 - atom) * np.arange(1, n_bins) / n_bins, F, grid)
        counts = np.array(
            [np.histogram(ev, np.r_[0.0, edges, np.inf])[0] for ev in nonzero]
        )

        def expected(n):
            a = ld.limiting_density(lam, n, x=[1.0])[2]
            return d * np.diff(np.r_[a, ld.limiting_cdf(lam, n, edges), 1.0])

        w = expected(round(1.02 * N)) - expected(round(0.98 * N))
        w /= np.linalg.norm(w)
        rate = lc.FALSE_ALARM / 6  # the chapter's family of six cases
        assert_passes(lc.mean_equals((counts - expected(N)) @ w, 0.0, false_alarm=rate))
        for factor in [0.95, 1.05]:
            L = (counts - expected(round(factor * N))) @ w
            assert_fails(lc.mean_equals(L, 0.0, false_alarm=rate))


def test_typical_case_kl_three_percent_off_fails_the_figure_check():
    """The typical-case KL divergences of chapter 6 at its d = 256 (k = 0, 1, 2, N/d =
    1/4 and 2, two weight decays), 40 training sets: the theory passes the point-wise
    and the figure check with the finite-d allowance 0.25 d^(-2/3); the theory 3% off
    fails the figure check, either way. (At d = 64 the allowance, 1.6%, and the finite-d
    excess, 1.4%, would hide a 3% error: the chapters work at d = 256.)"""
    d, n_sets, gammas = 256, 40, np.array([1e-3, 1e-1])
    per_set, theory = [], []
    for k in [0.0, 1.0, 2.0]:
        lam = ld.power_law_spectrum(d, k)
        rho = ld.Gaussian.from_eigen(np.zeros(d), lam)
        for r in [0.25, 2.0]:
            N = int(r * d)
            pm = ld.predict_metrics(lam, N, SCHED, gammas)
            theory.append(np.c_[pm.kl, pm.kl_reverse])
            rows = []
            for s in range(n_sets):
                rng = np.random.default_rng([64, int(10 * k), N, s])
                emp = ld.Gaussian.from_samples(rho.sample(N, rng))
                rows.append([])
                for g in gammas:
                    m = ld.exact_metrics(
                        ld.fit_linear_denoiser(emp, SCHED, g), SCHED, rho, emp
                    )
                    rows[-1].append([m.kl, m.kl_reverse])
            per_set.append(np.array(rows))
    per_set, theory = np.stack(per_set, axis=1), np.stack(theory)
    allow = 0.25 * d ** (-2 / 3)
    mean, se = per_set.mean(axis=0), per_set.std(axis=0, ddof=1) / np.sqrt(n_sets)
    assert_passes(lc.t_agreement(mean, se, n_sets, theory, allowance=allow * theory))
    assert_passes(lc.common_bias(per_set, theory, allowance=allow))
    for factor in [0.97, 1.03]:
        assert_fails(lc.common_bias(per_set, factor * theory, allowance=allow))


def test_chapter_7_random_start_check_catches_a_scale_ten_percent_off():
    """Chapter 7's Monte-Carlo check of the random start: the mean summed test loss of
    40 random starts (entries N(0, s^2), s = 1, tau = 0.3, d = 16, N = 6) against its
    expectation over the start, here computed densely by a second road: for W = W_flow +
    W(0) E_t, E_t = expm(-2 tau C_t), the start adds d s^2 Tr(E_t M_t E_t) with M_t =
    (1 - abar_t) Id + abar_t (Sigma + delta delta^T). The expectation with s 10% too
    large must fail."""
    rng = np.random.default_rng(7)
    d, N, tau, K = 16, 6, 0.3, 40
    rho = ld.power_law_gaussian(d, 1.0, rng)
    X = rho.sample(N, rng)
    losses = [
        ld.test_loss(
            ld.fit_from_init(X, SCHED, ld.random_init(d, SCHED, rng, 1.0), tau),
            SCHED,
            rho,
        ).sum()
        for _ in range(K)
    ]
    flow = ld.test_loss(ld.fit_linear_denoiser(X, SCHED, train_time=tau), SCHED, rho)
    S0, delta = np.cov(X.T, bias=True), rho.mean - X.mean(axis=0)
    excess = 0.0
    for a in SCHED.alpha_bar:
        E = expm(-2 * tau * (a * S0 + (1 - a) * np.eye(d)))
        M = (1 - a) * np.eye(d) + a * (rho.cov + np.outer(delta, delta))
        excess += d * np.trace(E @ M @ E)  # times s^2
    rate = lc.FALSE_ALARM / 4  # the chapter's family of four quantities
    assert_passes(lc.mean_equals(losses, flow.sum() + excess, false_alarm=rate))
    for s in [0.9, 1.1]:
        wrong = flow.sum() + s**2 * excess
        assert_fails(lc.mean_equals(losses, wrong, false_alarm=rate))
