"""Gaussians in eigen form and the power-law data model (chapter 1).

A Gaussian is a mean, an orthonormal basis ``V`` (d x r), eigenvalues (r,) and one
variance ``rest`` shared by the ``d - r`` directions orthogonal to ``V``; dense d x d
covariances are built only on request, for checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lindiff._validate import (
    _array,
    _describe,
    _eigenvalues,
    _generator,
    _integer,
    _real,
    _rounding,
    _zero_level,
    _tolerance,
)
from lindiff._docs import fill


class _EigenForm:
    """Shared by the objects stored as a mean plus an eigenbasis: their dimensions."""

    @property
    def d(self) -> int:
        """Dimension."""
        return self.mean.size

    @property
    def r(self) -> int:
        """Number of stored eigen-directions."""
        return self.eigenvalues.size


@dataclass(frozen=True, eq=False, init=False)
class Gaussian(_EigenForm):
    """``N(mean, cov)`` with ``cov = V diag(eigenvalues) V^T + rest (Id - V V^T)``
    (chapter 1).

    ``V`` (``basis``, d x r) has orthonormal columns; ``basis=None`` stands for the
    standard basis (then r = d and the covariance is diagonal). The ``d - r``
    directions orthogonal to ``V`` share the variance ``rest`` (>= 0). This form
    holds a rank-r Gaussian at large d in O(d r) memory.

    ``Gaussian(mean, cov)`` takes a dense symmetric positive semi-definite
    covariance; :meth:`from_eigen` and :meth:`from_samples` build the eigen form
    directly. Frozen: its arrays are read-only.

    The support: for a dense covariance, one level decides both the semi-definiteness
    check and the support (``1000 d eps`` times the largest eigenvalue): an eigenvalue
    at or below it is exactly zero, one below minus it is an error, so that
    :attr:`rank` and :func:`~lindiff.kl.kl_divergence` never depend on the sign of
    rounding noise. :meth:`from_samples` keeps every direction its eigen-decomposition
    resolves (above ``max(N, d) eps`` times the largest eigenvalue, numpy's
    ``matrix_rank`` rule): its smallest eigenvalues are real, and at ``N ~ d`` they lie
    close to that resolution. The eigenvalues given to :meth:`from_eigen` are taken as
    exact.

    Parameters
    ----------
    {mean}
    cov : array_like, shape (d, d)
        A symmetric positive semi-definite covariance.
    """

    mean: np.ndarray
    basis: np.ndarray | None
    eigenvalues: np.ndarray
    rest: float

    def __init__(self, mean, cov):
        mean = _array("mean", mean, ndim=1)
        cov = _array("cov", cov, ndim=2)
        d = mean.size
        if cov.shape != (d, d):
            raise ValueError(
                f"cov: expected shape ({d}, {d}) to match mean, got {cov.shape}"
            )
        tol = _tolerance(max(np.abs(cov).max(), np.finfo(float).tiny), d)
        if np.abs(cov - cov.T).max() > tol:
            raise ValueError("cov: expected a symmetric matrix, got cov != cov.T")
        lam, V = np.linalg.eigh(0.5 * (cov + cov.T))
        zero = _zero_level(lam, d)
        if lam[0] < -zero:
            raise ValueError(
                "cov: expected a positive semi-definite matrix, got smallest "
                f"eigenvalue {lam[0]:.3g}"
            )
        order = np.argsort(lam)[::-1]
        lam = lam[order]
        lam[lam <= zero] = 0.0  # the support: one level for both signs of rounding
        self._set(mean, V[:, order], lam, 0.0)

    @classmethod
    def _make(cls, mean, basis, eigenvalues, rest) -> "Gaussian":
        """The eigen form from arrays already checked (internal)."""
        g = cls.__new__(cls)
        g._set(mean, basis, eigenvalues, rest)
        return g

    def _set(self, mean, basis, eigenvalues, rest):
        for a in (mean, basis, eigenvalues):
            if a is not None:
                a.setflags(write=False)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "basis", basis)
        object.__setattr__(self, "eigenvalues", eigenvalues)
        object.__setattr__(self, "rest", float(rest))

    @classmethod
    def from_eigen(cls, mean, eigenvalues, basis=None, rest=0.0) -> "Gaussian":
        """``N(mean, V diag(eigenvalues) V^T + rest (Id - V V^T))``; ``basis=None``
        means ``V = Id``.

        Parameters
        ----------
        {mean}
        eigenvalues : array_like, shape (r,)
            The variances along the columns of ``V``, ``>= 0`` (``r = d`` when
            ``basis`` is None).
        basis : array_like, shape (d, r), optional
            ``V``, with orthonormal columns (default: the standard basis).
        rest : float, default 0.0
            The variance of the ``d - r`` directions orthogonal to ``V``, ``>= 0``.

        Returns
        -------
        Gaussian
            The Gaussian in eigen form.
        """
        mean = _array("mean", mean, ndim=1)
        d = mean.size
        lam = _array("eigenvalues", eigenvalues, ndim=1)
        _eigenvalues("eigenvalues", lam)
        rest = _real("rest", rest, low=0.0)
        if basis is None:
            if lam.size != d:
                raise ValueError(
                    f"eigenvalues: with basis=None expected {d} values (one per "
                    f"coordinate), got {lam.size}"
                )
        else:
            basis = _array("basis", basis, ndim=2)
            if basis.shape != (d, lam.size):
                raise ValueError(
                    f"basis: expected shape ({d}, {lam.size}) for mean of size {d} and "
                    f"{lam.size} eigenvalues, got {basis.shape}"
                )
            gram = basis.T @ basis
            if lam.size and np.abs(gram - np.eye(lam.size)).max() > _tolerance(1.0, d):
                raise ValueError(
                    "basis: expected orthonormal columns, got basis.T @ basis != Id"
                )
        return cls._make(mean, basis, lam, rest)

    @classmethod
    def from_samples(cls, X) -> "Gaussian":
        """``N(mu_0, Sigma_0)``: the empirical mean and covariance ``(1/N) sum (x -
        mu_0)(x - mu_0)^T``.

        Only the ``r <= min(d, N - 1)`` directions of non-zero variance are stored
        (eigenvalues at or below ``max(N, d) eps lambda_max``, the resolution of the
        eigen-decomposition, count as zero); the
        other ``d - r`` directions have variance ``rest = 0``. Cost
        ``O(N d min(N, d))``: a thin SVD when ``N <= d``, ``eigh`` of the d x d
        covariance otherwise. Derived in chapter 1.

        Parameters
        ----------
        X : array_like, shape (N, d)
            The samples, one per row (``N >= 2``).

        Returns
        -------
        Gaussian
            ``N(mu_0, Sigma_0)`` in the eigen form of ``Sigma_0``.
        """
        return cls._make(*_empirical_eigen(X), 0.0)

    @property
    def has_rest(self) -> bool:
        """True when ``r < d``, i.e. when some directions are described by ``rest``."""
        return self.r < self.d

    @property
    def spectrum(self) -> np.ndarray:
        """All d eigenvalues of the covariance, in decreasing order."""
        lam = np.concatenate([self.eigenvalues, np.full(self.d - self.r, self.rest)])
        return np.sort(lam)[::-1]

    @property
    def trace(self) -> float:
        """``Tr cov``, the total variance."""
        return float(self.eigenvalues.sum() + (self.d - self.r) * self.rest)

    @property
    def rank(self) -> int:
        """Number of directions with non-zero variance."""
        return int(np.count_nonzero(self.eigenvalues > 0)) + (
            self.d - self.r if self.rest > 0 else 0
        )

    @property
    def cov(self) -> np.ndarray:
        """The dense d x d covariance (built on request; for checks)."""
        if self.basis is None:
            return np.diag(self.eigenvalues)
        V = self.basis
        return self.rest * np.eye(self.d) + (V * (self.eigenvalues - self.rest)) @ V.T

    def logdet(self) -> float:
        """``ln det cov`` from the eigenvalues; ``-inf`` for a degenerate Gaussian.

        Returns
        -------
        float
            ``ln det cov``.
        """
        with np.errstate(divide="ignore"):
            out = np.sum(np.log(self.eigenvalues))
            if self.has_rest:
                out += (self.d - self.r) * np.log(self.rest)
        return float(out)

    def project(self, x) -> np.ndarray:
        """Coordinates ``V^T x`` of vectors ``x`` (..., d) in the stored basis.

        Parameters
        ----------
        x : ndarray, shape (..., d)
            The vectors.

        Returns
        -------
        ndarray, shape (..., r)
            Their coordinates (``x`` itself for the standard basis).
        """
        return x if self.basis is None else x @ self.basis

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` independent samples, shape (n, d).

        Parameters
        ----------
        {n}
        rng : numpy.random.Generator
            The source of the samples.

        Returns
        -------
        ndarray, shape (n, d)
            The samples, one per row.
        """
        n = _integer("n", n, low=0)
        rng = _generator("rng", rng)
        z = rng.standard_normal((n, self.d))
        if self.basis is None:
            return self.mean + z * np.sqrt(self.eigenvalues)
        if not self.has_rest:  # a full basis: its coordinates are standard normal too
            return self.mean + (z * np.sqrt(self.eigenvalues)) @ self.basis.T
        coef = z @ self.basis
        out = z * np.sqrt(self.rest)
        out += (coef * (np.sqrt(self.eigenvalues) - np.sqrt(self.rest))) @ self.basis.T
        return self.mean + out

    def support(self) -> np.ndarray:
        """An orthonormal basis (d x rank) of the directions with non-zero variance:
        with ``mean``, the affine subspace that holds all of the Gaussian's mass.

        Returns
        -------
        ndarray, shape (d, rank)
            The basis, the stored eigen-directions of positive variance first.
        """
        V = np.eye(self.d) if self.basis is None else self.basis
        B = V[:, self.eigenvalues > 0]
        if self.has_rest and self.rest > 0:  # the complement of the stored basis
            Q = np.linalg.qr(self.basis, mode="complete")[0]
            B = np.hstack([B, Q[:, self.r :]])
        return B

    def marginal(self, basis, origin=None) -> "Gaussian":
        """The law of the coordinates ``B^T (x - origin)`` of ``x`` drawn from this
        Gaussian: ``N(B^T (mean - origin), B^T cov B)`` in ``r`` dimensions, for a basis
        ``B`` (d x r) with orthonormal columns (e.g. :meth:`support` of another
        Gaussian). Cost O(d r r_self).

        Parameters
        ----------
        basis : array_like, shape (d, r)
            ``B``, with orthonormal columns.
        origin : array_like, shape (d,), optional
            The origin of the coordinates (default 0).

        Returns
        -------
        Gaussian
            The r-dimensional law, in dense form.
        """
        B = _array("basis", basis, ndim=2)
        if B.shape[0] != self.d or B.shape[1] > self.d:
            raise ValueError(
                f"basis: expected shape ({self.d}, r) with r <= {self.d}, got {B.shape}"
            )
        if B.shape[1] and np.abs(B.T @ B - np.eye(B.shape[1])).max() > 1e-8:
            raise ValueError("basis: expected orthonormal columns")
        o = np.zeros(self.d) if origin is None else _array("origin", origin, ndim=1)
        if o.size != self.d:
            raise ValueError(f"origin: expected {self.d} values, got {o.size}")
        if self.basis is None:
            cov = (B.T * self.eigenvalues) @ B
        else:
            C = B.T @ self.basis
            cov = (C * (self.eigenvalues - self.rest)) @ C.T
            cov += self.rest * np.eye(B.shape[1])
        return Gaussian(B.T @ (self.mean - o), 0.5 * (cov + cov.T))

    def plus_isotropic(self, c) -> "Gaussian":
        """``N(mean, cov + c Id)``: every variance raised by ``c >= 0`` (e.g. the
        surrogate ``N(mu_0, Sigma_0 + c Id)`` of chapters 4 to 6). Same basis; cost
        O(r).

        Parameters
        ----------
        c : float
            The variance added in every direction, ``>= 0``.

        Returns
        -------
        Gaussian
            ``N(mean, cov + c Id)``.
        """
        c = _real("c", c, low=0.0)
        return Gaussian._make(
            self.mean, self.basis, self.eigenvalues + c, self.rest + c
        )

    def __repr__(self) -> str:
        basis = "standard" if self.basis is None else f"{self.r} vectors"
        return f"Gaussian(d={self.d}, basis={basis}, rest={self.rest:.3g})"


def _empirical_eigen(X):
    """Empirical mean, eigenbasis (d x r) and eigenvalues (r,) of the samples ``X``."""
    X = _array("X", X, ndim=2)
    N, d = X.shape
    if N < 2:
        raise ValueError(f"X: expected at least N = 2 samples (rows), got N = {N}")
    if d < 1:
        raise ValueError("X: expected at least one column (d >= 1), got d = 0")
    mean = X.mean(axis=0)
    Xc = X - mean
    if N <= d:
        _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
        lam, V = s**2 / N, Vt.T
    else:
        lam, V = np.linalg.eigh(Xc.T @ Xc / N)
        lam, V = lam[::-1], V[:, ::-1]
    keep = lam > _rounding(max(lam[0], 0.0), max(N, d))
    return mean, np.ascontiguousarray(V[:, keep]), lam[keep]


def _check_gaussian(name: str, g) -> Gaussian:
    if not isinstance(g, Gaussian):
        raise ValueError(f"{name}: expected a Gaussian, got {_describe(g)}")
    return g


def _overlap(Va, Vb, d: int) -> np.ndarray:
    """``M = V_a^T V_b`` (r_a x r_b) for bases in dimension ``d``; ``None`` stands for
    the identity.
    """
    if Va is None and Vb is None:
        return np.eye(d)
    if Va is None:
        return Vb
    if Vb is None:
        return Va.T
    return Va.T @ Vb


def _variance_along(g: Gaussian, basis) -> np.ndarray:
    """``diag(V^T cov_g V)`` for the orthonormal columns of ``basis`` (None = Id)."""
    M2 = _overlap(basis, g.basis, g.d) ** 2
    out = M2 @ g.eigenvalues
    if g.has_rest:
        out = out + g.rest * (1.0 - M2.sum(axis=1))
    return out


def _variance_outside(g: Gaussian, basis, along=None) -> float:
    """``Tr(P cov_g P)`` with ``P = Id - V V^T`` the projector off the columns of
    ``basis``.

    For a Gaussian stored with its own basis ``U``, the projections ``P u_i`` are formed
    explicitly, so a Gaussian that lies in the span of ``V`` gets ``O(eps^2)``, not the
    ``O(eps Tr cov)`` left by ``Tr cov - sum diag(V^T cov V)``; this matters because
    the losses weigh this variance by up to ``1 / c_1 ~ 10^4``. For the standard basis
    (``U = Id``, where forming ``P`` would cost ``O(d^2)``) the difference is used, with
    ``along = diag(V^T cov V)`` when the caller has it. Cost ``O(d r r_g)``.
    """
    d = g.d
    r = 0 if basis is None else basis.shape[1]
    if r == d:
        return 0.0
    if r == 0:
        return g.trace
    if g.basis is None:
        if along is None:
            along = _variance_along(g, basis)
        return float(max(g.trace - along.sum(), 0.0))
    outside = g.basis - basis @ (basis.T @ g.basis)  # P u_i, column by column
    p2 = np.einsum("ij,ij->j", outside, outside)  # ||P u_i||^2
    # Tr P (U diag(l) U^T + rest (Id - U U^T)) P = sum_i (l_i - rest) ||P u_i||^2 + rest
    # (d - r)
    return float(max((g.eigenvalues - g.rest) @ p2 + g.rest * (d - r), 0.0))


def power_law_spectrum(d: int, k: float) -> np.ndarray:
    """``lambda_nu = A nu^-k`` for ``nu = 1..d`` with ``A`` fixed by ``Tr Sigma = sum
    lambda_nu = d``.

    Parameters
    ----------
    {d}
    {k}

    Returns
    -------
    ndarray, shape (d,)
        ``lambda_nu``, in decreasing order.
    """
    d = _integer("d", d, low=1)
    k = _real("k", k, low=0.0)
    lam = np.arange(1, d + 1, dtype=float) ** (-k)
    return lam * (d / lam.sum())


def power_law_gaussian(
    d: int, k: float, rng: np.random.Generator | None = None
) -> Gaussian:
    """``rho = N(mu, Sigma)`` with eigenvalues ``lambda_nu = A nu^-k`` and ``Tr Sigma =
    d``.

    With ``rng=None`` the mean is 0 and the eigenbasis is the standard basis.
    With a generator, ``mu ~ N(0, Id)`` and the eigenbasis is a uniformly random
    (Haar) rotation. Linear-model quantities do not depend on the rotation.

    Parameters
    ----------
    {d}
    {k}
    rng : numpy.random.Generator, optional
        The source of the random mean and rotation (default: none, zero mean and
        the standard basis).

    Returns
    -------
    Gaussian
        ``rho``.
    """
    lam = power_law_spectrum(d, k)
    if rng is None:
        return Gaussian.from_eigen(np.zeros(d), lam)
    rng = _generator("rng", rng)
    mean = rng.standard_normal(d)
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    Q *= np.sign(np.diag(R))
    return Gaussian.from_eigen(mean, lam, basis=Q)


fill(globals())
