"""Input checks and the rounding rule shared by every module of the core.

Every public function validates its input once, at the boundary, raises a
``ValueError`` that names the offending argument, and calls private kernels (leading
underscore) that trust their input. :func:`_tolerance` is the one rule for what a check
accepts as zero (symmetry, semi-definiteness, orthonormality, the support of a
degenerate Gaussian, the rounding floor of a KL).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np


_EPS = np.finfo(float).eps


def _rounding(scale: float, n: int = 1) -> float:
    """The rounding level ``n eps scale`` of an ``n``-term sum or an eigen-decomposition
    of numbers of size ``scale`` (numpy's ``matrix_rank`` rule): the rank cut-off of
    an empirical covariance, whose smallest resolved eigenvalues lie just above it."""
    return n * _EPS * scale


def _tolerance(scale: float, n: int = 1) -> float:
    """What a check of its input accepts as zero: ``1000`` times :func:`_rounding`, the
    margin ``scipy.stats``' ``_eigvalsh_to_eps`` leaves too (``1e6 eps``). The one
    rule for the symmetry, semi-definiteness and orthonormality checks, the support
    of a dense covariance (:func:`_zero_level`) and the rounding floor of a KL."""
    return 1e3 * _rounding(scale, n)


def _zero_level(lam: np.ndarray, n: int) -> float:
    """The support rule for a covariance handed over as a dense matrix, whose
    eigenvalues ``lam`` come from an eigen-decomposition of ``n`` x ``n`` numbers of
    unknown history: an eigenvalue at or below :func:`_tolerance` of the largest
    ``|lam|`` is zero, and one below minus that level makes the matrix not positive
    semi-definite. Like ``scipy.stats`` (one ``eps`` for both), the semi-definiteness
    check and the support of the dense constructor and the support in the KL use this
    one level, so that a rank and a KL never depend on the sign of rounding noise: the
    noise of the eigenvalues of a singular matrix formed as ``A A^T`` reaches ``0.8 n
    eps`` times the largest at n = 3 (20000 draws), 1000 times below the level.

    The rank of an empirical covariance (:func:`~lindiff.gaussian._empirical_eigen`)
    keeps the resolution of its own computation instead, ``max(N, d) eps`` times the
    largest (:func:`_rounding`, numpy's ``matrix_rank`` rule): its data are exact and
    its smallest eigenvalues are real. At ``N = d + 1`` or ``N = d`` they lie within a
    factor 10 of that resolution (``d = 1000``, power law ``k = 2``), so that this
    level would count resolved directions as null and inflate the missing variance
    (chapter 5's comparison with the typical case at ``N = d`` goes from 2.5% to 5%)."""
    top = float(np.max(np.abs(lam))) if lam.size else 0.0
    return _tolerance(max(top, np.finfo(float).tiny), n)


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    return repr(x)


def _array(name: str, x, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a finite float64 array with ``ndim`` dimensions."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: expected a numeric array, got {_describe(x)}"
        ) from None
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return a


def _real(
    name: str,
    x,
    *,
    low=None,
    high=None,
    low_open=False,
    high_open=False,
    allow_inf=False,
) -> float:
    """Return ``x`` as a float in the stated range."""
    if isinstance(x, bool) or not isinstance(x, (Real, np.floating, np.integer)):
        raise ValueError(f"{name}: expected a real number, got {_describe(x)}")
    v = float(x)
    if np.isnan(v) or (np.isinf(v) and not allow_inf):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        op = ">" if low_open else ">="
        raise ValueError(f"{name}: expected a value {op} {low}, got {v}")
    if high is not None and (v > high or (high_open and v == high)):
        op = "<" if high_open else "<="
        raise ValueError(f"{name}: expected a value {op} {high}, got {v}")
    return v


def _integer(name: str, x, *, low: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (Integral, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {_describe(x)}")
    if int(x) < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {int(x)}")
    return int(x)


def _eigenvalues(name: str, lam: np.ndarray) -> np.ndarray:
    if np.any(lam < 0):
        raise ValueError(
            f"{name}: expected eigenvalues >= 0, got minimum {lam.min():.3g}"
        )
    return lam


def _train_time(x) -> float | None:
    """``train_time``: ``None`` or ``inf`` (trained to convergence, returned as
    ``None``) or ``>= 0``.
    """
    if x is None:
        return None
    x = _real("train_time", x, low=0.0, allow_inf=True)
    return None if np.isinf(x) else x


def _generator(name: str, rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"{name}: expected a numpy.random.Generator "
            "(e.g. numpy.random.default_rng(0)), "
            f"got {_describe(rng)}"
        )
    return rng


def _square(name: str, x, d: int) -> np.ndarray:
    """A finite d x d array."""
    x = _array(name, x, ndim=2)
    if x.shape != (d, d):
        raise ValueError(f"{name}: expected shape ({d}, {d}), got {x.shape}")
    return x
