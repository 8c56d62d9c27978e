"""Chapters 5 and 6: the Silverstein solver, deterministic equivalents and typical-case predictions."""

import numpy as np
import pytest
from conftest import SCHED, assert_close

import lindiff_core as ld
import lindiff_reference as ref

# The solver stops when |f| is at the rounding level of the terms summed in f (32 EPS
# times their size, up to d times |f|'s own scale) or the bracket has shrunk to 1e-13
# relative. At n = d (kappa_0 = 0) the equation is quadratic in kappa near small roots,
# which halves the relative accuracy: ~ d EPS / 2 relative in f gives ~ 1e-12 (measured
# 2e-12 at n = d = 150); 1e-9 leaves a factor 500.
KAPPA_RTOL = 1e-9


def test_kappa_matches_the_isotropic_closed_form():
    cs = np.logspace(-10, 0, 31)
    for n in [50, 199, 200, 201, 800]:
        kappa = ld.silverstein_kappa(np.ones(200), n, cs)
        assert_close(kappa / ref.kappa_isotropic(200 / n, cs), 1.0, KAPPA_RTOL, f"n = {n}")
    assert_close(ld.silverstein_kappa(np.ones(200), 50, 0.0), 200 / 50 - 1, KAPPA_RTOL, "kappa_0")


@pytest.mark.parametrize("k", [0.5, 1.0, 2.0, 3.0])
def test_kappa_matches_an_independent_bracketed_solver(k):
    lam = ld.power_law_spectrum(150, k)
    cs = np.concatenate([[0.0], np.logspace(-10, 0, 21)])
    for n in [10, 75, 149, 150, 400]:
        ref_kappa = np.array([ref.kappa_brentq(lam, n, c) for c in cs])
        got = ld.silverstein_kappa(lam, n, cs)
        # elementwise relative: kappa spans ten decades over c
        assert_close(got[ref_kappa > 0] / ref_kappa[ref_kappa > 0], 1.0, KAPPA_RTOL, f"n = {n}")
        assert np.all(got[ref_kappa == 0] == 0)


def test_kappa_broadcasts_and_continuation_agrees():
    lam = ld.power_law_spectrum(100, 1.0)
    Ns = np.array([[20.0], [100.0], [300.0]])
    cs = np.logspace(-8, 1, 400)[None, :]
    grid = ld.silverstein_kappa(lam, Ns, cs)  # 1200 roots: solved with continuation in c
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
    assert_close(train, d - SCHED.noise_to_signal * tc.tr_resolvent, 1e-11, "train loss")
