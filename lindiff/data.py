"""Real image data and power-law fits of their spectra (chapter 9)."""

from __future__ import annotations

import numpy as np

from lindiff._validate import _array, _integer


#: The image sets of chapter 9, all shipped inside installed packages (no download).
IMAGE_DATASETS = ("digits", "patches", "faces")


#: The photographs bundled with scikit-image that the natural-image patches come from.
_PHOTOS = ("camera", "astronaut", "coffee", "chelsea")


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


def load_image_dataset(name: str) -> tuple[np.ndarray, tuple[int, int]]:
    """``(X, image_shape)``: an image set as rows of ``X``, shape (N, d) with ``d =
    image_shape[0] * image_shape[1]`` (chapter 9).

    * ``"digits"``: scikit-learn's handwritten digits, 1797 images of 8 x 8 pixels.
      Three pixels are blank in every image: they have no variance at all.
    * ``"patches"``: natural-image patches, the non-overlapping 8 x 8 blocks of four
      photographs bundled with scikit-image (camera, astronaut, coffee, chelsea; colour
      converted to grey by the BT.709 luma), row by row: 14014 patches.
    * ``"faces"``: the 100 faces of scikit-image's ``lfw_subset`` (25 x 25 pixels,
      from Labeled Faces in the Wild), cropped to 24 x 24 and averaged over 3 x 3
      blocks to 8 x 8, so that the set has more images than pixels.

    Every set is scaled by one factor so that the pixels' variances average to 1 (``Tr
    Sigma = d``), the scale of the book's Gaussian model. The mean image is kept, so
    that rows display as the images they are; the models estimate it (``mu_0``).
    Deterministic; nothing is downloaded. Float64.

    Parameters
    ----------
    name : {'digits', 'patches', 'faces'}
        The image set (:data:`IMAGE_DATASETS`).

    Returns
    -------
    X : ndarray, shape (N, d)
        The images, one per row, read-only.
    image_shape : tuple of int
        The shape of one image, ``(8, 8)``.

    Raises
    ------
    ImportError
        If scikit-learn (``"digits"``) or scikit-image (``"patches"``, ``"faces"``) is
        not installed.
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(f"name: expected one of {IMAGE_DATASETS}, got {name!r}")
    if name == "digits":
        from sklearn.datasets import load_digits

        X = load_digits().data.astype(float)
    else:
        from skimage import data

        if name == "patches":
            X = np.vstack([_blocks(_gray(getattr(data, p)()), 8) for p in _PHOTOS])
        else:
            faces = np.asarray(data.lfw_subset()[:100], dtype=float)[:, :24, :24]
            X = faces.reshape(100, 8, 3, 8, 3).mean(axis=(2, 4)).reshape(100, 64)
    shape = (8, 8)
    X = X / np.sqrt(np.sum((X - X.mean(axis=0)) ** 2) / X.size)
    X.setflags(write=False)
    return X, shape


def fit_power_law(eigenvalues, lo: int, hi: int) -> tuple[float, float]:
    """``(k, A)`` of the least-squares line ``ln lambda_nu = ln A - k ln nu`` over the
    ranks ``lo <= nu <= hi`` of ``eigenvalues`` sorted in decreasing order (chapter 9).

    Exact on a power law; its uncertainty on data comes from resampling the data (the
    chapter bootstraps the images), not from the regression, whose residuals are
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
