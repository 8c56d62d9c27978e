"""Chapter 9: the image sets and the power-law fit."""

import numpy as np
import pytest
from conftest import EPS

import lindiff_core as ld

SIZES = {"digits": 1797, "patches": 14014, "faces": 100}


@pytest.mark.parametrize("name", ld.IMAGE_DATASETS)
def test_loader_shape_scaling_and_determinism(name):
    X, shape = ld.load_image_dataset(name)
    N, d = X.shape
    assert (N, d) == (SIZES[name], shape[0] * shape[1]) and X.dtype == np.float64
    assert np.all(np.isfinite(X)) and not X.flags.writeable
    # Tr Sigma = d: a sum of N d numbers of order 1, rounding ~ N d EPS
    assert abs(np.sum((X - X.mean(axis=0)) ** 2) / N - d) < 100 * N * d * EPS
    again, _ = ld.load_image_dataset(name)
    assert np.array_equal(X, again)


def test_digits_have_three_blank_pixels_and_the_others_vary():
    X, _ = ld.load_image_dataset("digits")
    assert np.count_nonzero(X.std(axis=0) == 0) == 3


def test_loader_rejects_unknown_names():
    with pytest.raises(ValueError, match="^name: expected one of"):
        ld.load_image_dataset("mnist")


@pytest.mark.parametrize("k", [0.5, 1.0, 2.0])
def test_power_law_fit_is_exact_on_a_power_law(k):
    lam = ld.power_law_spectrum(64, k)
    fit_k, A = ld.fit_power_law(lam, 2, 40)
    # a least-squares line through exact logarithms of order 1: rounding ~ 100 EPS
    assert abs(fit_k - k) < 1e-10 and abs(A / lam[0] - 1) < 1e-10


def test_power_law_fit_recovers_the_exponent_of_sampled_spectra():
    rng = np.random.default_rng(50)
    d, k, N = 64, 1.5, 20000
    rho = ld.power_law_gaussian(d, k, rng)
    spectra = [ld.Gaussian.from_samples(rho.sample(N, rng)).spectrum for _ in range(20)]
    fits = [ld.fit_power_law(lam, 2, 32)[0] for lam in spectra]
    # each eigenvalue carries a relative error sqrt(2/N) = 1%: the slope over 31 ranks
    # moves by about 0.01; the mean of 20 fits must be within 0.02 of k (a bias of
    # the fit larger than that would show)
    assert abs(np.mean(fits) - k) < 0.02, np.mean(fits)
    assert np.std(fits) < 0.02
