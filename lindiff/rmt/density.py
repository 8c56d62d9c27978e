"""The limiting spectral law of ``Sigma_0``: density, atom, distribution
function and typical-case averages (chapter 5).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from lindiff._validate import _array, _describe, _integer, _real
from lindiff.rmt.companion import (
    _brent_edge,
    _companion,
    _population,
    _support,
    _x_of_m,
)
from lindiff.rmt.silverstein import _kappa, _spectrum
from lindiff._docs import fill

# The nodes of the 16- and 32-node Gauss-Legendre rules in a panel's variable t
_T16, _T32 = (0.5 * (1 + np.polynomial.legendre.leggauss(K)[0]) for K in (16, 32))


class LimitingSpectrum:
    """The large-d law of the eigenvalues of ``Sigma_0``, the covariance of ``N``
    samples of ``N(mu, Sigma)`` with the mean estimated (chapter 5), in the style of
    ``scipy.stats``' distributions.

    The law is a density on the support plus an atom at zero. ``Sigma_0`` is the sample
    covariance of ``n = N - 1`` centred samples of ``N(0, Sigma')``, ``Sigma' = (n/N)
    Sigma``; its companion Stieltjes transform ``m(z)`` solves ``z = -1/m + (1/n)
    sum_nu lambda'_nu / (1 + lambda'_nu m)`` (Silverstein and Bai), solved by Newton's
    method at ``z = x + i eta`` continued from ``eta = 4 x_max`` down to ``eta = 1e-13
    x``; the density is ``(n/d) Im m(x + i0)/pi`` inside the support (from the real
    critical points of ``x(m)``) and 0 outside. Everything is computed on first use and
    kept: the support, and the quadrature of :meth:`expect` (Gauss-Legendre panels of
    the support, refined until the mass and first moment of each agree between 16 and
    32 nodes to ``1e-12``; at an edge in ``t`` with ``x - edge ~ t^2``, which makes
    square-root and hard ``x^-1/2`` edges smooth).

    Parameters
    ----------
    {eigenvalues}
    {N_samples}

    Examples
    --------
    >>> import lindiff_core as ld
    >>> spec = ld.LimitingSpectrum(ld.power_law_spectrum(400, 1.0), N=200)
    >>> round(spec.atom, 6)  # 1 - (N - 1)/d
    0.5025
    """

    def __init__(self, eigenvalues, N: int):
        lam = _spectrum(eigenvalues)
        N = _integer("N", N, low=2)
        self.eigenvalues, self.N = lam, N
        self.v, self.c, self.n, self.d, self.zero = _population(lam, N)
        self._support_cache = None
        self._levels = None

    def __repr__(self) -> str:
        return f"LimitingSpectrum(d={self.d}, N={self.N})"

    @property
    def support(self) -> list[tuple[float, float]]:
        """The support of the density, a list of intervals ``(a, b)`` in increasing
        order (the atom at zero aside)."""
        if self._support_cache is None:
            self._support_cache = _support(self.v, self.c, self.n)
        return self._support_cache

    @property
    def atom(self) -> float:
        """The mass at zero, ``1 - min(n, d_+)/d`` (``d_+`` positive eigenvalues of
        ``Sigma``)."""
        return self._atom()

    def pdf(self, x) -> np.ndarray:
        """The density at each point of ``x`` (1-d), 0 outside the support; the atom
        at zero is not part of it (:attr:`atom`).

        Parameters
        ----------
        {x}

        Returns
        -------
        ndarray, shape (m,)
            The density at ``x``.

        Raises
        ------
        RuntimeError
            If Newton's method for ``m(z)`` does not converge.
        """
        x = _array("x", x, ndim=1)
        m = np.zeros(x.shape, dtype=complex)
        inside = np.zeros(x.shape, dtype=bool)
        for a, b in self.support:
            inside |= (x > a) & (x < b)
        if inside.any():
            m[inside] = self._solve(x[inside])
        return self._density_at(x, m)

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, pdf(x))`` at the nodes of the quadrature of :meth:`expect`, sorted:
        the density where it is integrated.

        Returns
        -------
        x : ndarray
            The nodes, in increasing order.
        density : ndarray
            The density at the nodes.

        Raises
        ------
        RuntimeError
            If the quadrature or Newton's method for ``m(z)`` does not converge.
        """
        _, x, _, m, *_ = self._level()
        x, m = x.ravel(), m.ravel()
        order = np.argsort(x)
        x, m = x[order], m[order]
        return x, self._density_at(x, m)

    def _density_at(self, x, m) -> np.ndarray:
        density = np.zeros(x.shape)
        pos = m != 0
        density[pos] = self._density(x[pos], m[pos])
        return density

    def cdf(self, x) -> np.ndarray:
        """The fraction of the eigenvalues at or below each point of ``x`` (1-d), the
        atom at zero included: the density integrated by the quadrature of
        :meth:`expect`, the panel that holds ``x`` by 32 Gauss nodes.

        Parameters
        ----------
        {x}

        Returns
        -------
        ndarray, shape (m,)
            The distribution function at ``x``.

        Raises
        ------
        RuntimeError
            If the quadrature or Newton's method for ``m(z)`` does not converge.
        """
        x = _array("x", x, ndim=1)
        return np.where(x >= 0, self.atom, 0.0) + np.where(x > 0, self._cdf(x), 0.0)

    def expect(self, phi, weights=None, rtol: float = 1e-8):
        """Typical-case ``(1/d) E sum_i phi(lambda_i) u_i^T A u_i`` over the eigenpairs
        ``(lambda_i, u_i)`` of ``Sigma_0``.

        ``A`` is diagonal in the eigenbasis of ``Sigma`` with entries ``weights``
        (default ``1``: ``(1/d) E Tr phi(Sigma_0)``). Its large-d value is ``integral
        phi(x) rho_A(x) dx + phi(0) atom_A``, with the weighted density ``rho_A(x) =
        (1/pi) Im (1/d) Tr A (Sigma_0 - x - i0)^-1`` and ``Tr A (Sigma_0 - z)^-1 ~
        -(1/z) sum_nu a_nu / (1 + lambda'_nu m(z))``.

        Parameters
        ----------
        {phi}
        weights : array_like, shape (d,), optional
            The diagonal of ``A`` in the eigenbasis of ``Sigma``.
        rtol : float
            The largest accepted quadrature error, relative to the average of ``|phi|``.

        Returns
        -------
        float or ndarray
            The average (an array for a stack of functions).

        Raises
        ------
        RuntimeError
            If the 16-node estimate of the quadrature error exceeds ``rtol``.
        """
        if not callable(phi):
            raise ValueError(f"phi: expected a function of x, got {_describe(phi)}")
        if weights is not None:
            weights = _array("weights", weights, ndim=1)
            if weights.size != self.d:
                raise ValueError(
                    f"weights: expected {self.d} values (one per eigenvalue), got "
                    f"{weights.size}"
                )
        rtol = _real("rtol", rtol, low=0.0, low_open=True)
        value, error, scale = self._average(phi, weights)
        if np.any(error > rtol * np.maximum(scale, 1e-300)):
            raise RuntimeError("typical_average: the quadrature did not reach rtol")
        at_zero = np.asarray(phi(np.zeros(1)), dtype=float)[..., 0]
        out = value + at_zero * self._atom(weights)
        return float(out) if np.ndim(out) == 0 else out

    @property
    def top(self) -> float:
        """The upper edge of the support."""
        if self._support_cache is not None:
            return self._support_cache[-1][1]
        v, c, n = self.v, self.c, self.n
        m = _brent_edge(
            lambda m: _x_of_m(m, v, c, n)[1], -1.0 / v[0] * (1 - 1e-15), -1e-300
        )
        return float(_x_of_m(m, v, c, n)[0])

    def _panels(self):
        """The initial quadrature panels: each support interval cut at ``a 4^j``."""
        panels = []  # (u, w, edge at u, edge at w)
        for a, b in self.support:
            lo = a if a > 0 else b * 1e-12
            k = int(np.floor(np.log(b / lo) / np.log(4.0) - 0.5))
            inner = lo * 4.0 ** np.arange(1 if a > 0 else 0, max(k, 0) + 1)
            breaks = np.r_[a, inner[inner < b], b]
            if breaks.size == 2:
                breaks = np.r_[a, 0.5 * (a + b), b]
            for i in range(breaks.size - 1):
                panels.append((breaks[i], breaks[i + 1], i == 0, i == breaks.size - 2))
        return np.array(panels, dtype=float)

    def _nodes(self, panels, K: int):
        """``K`` Gauss-Legendre nodes and weights per panel; on a panel ending at an
        edge of the support, in ``t`` with ``x - edge = +-(width) t^2``, which makes
        both
        the square-root edge and the hard edge ``x^-1/2`` smooth integrands."""
        s, ws = np.polynomial.legendre.leggauss(K)
        u, w = panels[:, :1], panels[:, 1:2]
        at_u, at_w = panels[:, 2:3] > 0, panels[:, 3:4] > 0
        t = 0.5 * (1 + s)
        x = np.where(
            at_u,
            u + (w - u) * t**2,
            np.where(at_w, w - (w - u) * t**2, u + (w - u) * t),
        )
        wt = np.where(at_u | at_w, (w - u) * t * ws, 0.5 * (w - u) * ws + 0 * u)
        return x, wt

    def _refine(self, panels, tol=1e-12, max_rounds=30):
        """Bisect the panels whose mass and first moment differ between 16 and 32
        nodes by more than ``tol`` (of the total mass and first moment); returns the
        panels and their 32-node rule with ``m``."""
        done = []
        guess16 = None
        for _ in range(max_rounds):
            x16, w16 = self._nodes(panels, 16)
            x32, w32 = self._nodes(panels, 32)
            g = None if guess16 is None else guess16.ravel()
            m16 = self._solve(x16.ravel(), g).reshape(x16.shape)
            guess32 = self._interpolate(_T16, m16, np.broadcast_to(_T32, x32.shape))
            m32 = self._solve(x32.ravel(), guess32.ravel()).reshape(x32.shape)
            r16 = w16 * self._density(x16, m16)
            r32 = w32 * self._density(x32, m32)
            diff = np.maximum(
                np.abs(r16.sum(1) - r32.sum(1)),
                np.abs((r16 * x16).sum(1) - (r32 * x32).sum(1)) / x32.max(),
            )
            bad = diff > tol
            done.append(
                (
                    panels[~bad],
                    x32[~bad],
                    w32[~bad],
                    m32[~bad],
                    x16[~bad],
                    w16[~bad],
                    m16[~bad],
                )
            )
            if not bad.any():
                break
            p = panels[bad]
            mid = np.where(
                (p[:, 0] > 0) & (p[:, 1] > 4 * p[:, 0]),
                np.sqrt(p[:, 0] * p[:, 1]),
                0.5 * (p[:, 0] + p[:, 1]),
            )
            left = np.c_[p[:, 0], mid, p[:, 2], np.zeros_like(mid)]
            right = np.c_[mid, p[:, 1], np.zeros_like(mid), p[:, 3]]
            panels = np.r_[left, right]
            # the children's first guesses: the parent's 32-node solution, interpolated
            parent = np.r_[p, p]
            xs = self._nodes(panels, 16)[0]
            guess16 = self._interpolate(
                _T32, np.r_[m32[bad], m32[bad]], self._local(parent, xs)
            )
        else:
            raise RuntimeError("limiting_density: the quadrature did not converge")
        return [np.concatenate(z) for z in zip(*done)]

    def _level(self):
        """The refined panels, nodes ``x``, weights and ``m(x + i0)`` (32 per panel)."""
        if self._levels is None:
            self._levels = self._refine(self._panels())
        return self._levels

    def _solve(self, x, guess=None):
        """``m(x + i0)``. From ``guess`` (interpolated from solved neighbours):
        Newton's method at ``eta = 1e-13 x`` directly, kept in the upper half plane,
        where the root is unique, so that a converged iterate is the root. Otherwise,
        and where that does not converge: continuation in ``eta`` from ``eta = 4
        x_max``, where ``-1/z`` is a good guess, down to ``eta = 1e-13 x`` in steps of a
        factor 8 (eight Newton steps each at most), then Newton's method to
        convergence."""
        floor = 1e-13 * x
        v, c, n = self.v, self.c, self.n
        m = np.empty(x.shape, dtype=complex)
        todo = np.ones(x.shape, dtype=bool)
        if guess is not None:
            z = x + 1j * floor
            m = _companion(z, guess, v, c, n, True, 40, False)
            q = np.multiply.outer(m, v)
            q += 1.0
            np.reciprocal(q, out=q)  # 1 / (1 + v m)
            cv = c * v / n
            F = z + 1.0 / m - q @ cv.astype(complex)
            size = np.abs(z) + np.abs(1.0 / m) + np.abs(q) @ cv
            todo = ~(np.abs(F) <= 1e-13 * size) | ~np.isfinite(m)
            if not todo.any():
                return m
        xs, fl = x[todo], floor[todo]
        eta = 4.0 * (self.top + xs)
        mt = -1.0 / (xs + 1j * eta)
        while np.any(eta > fl):
            eta = np.maximum(eta / 8.0, fl)
            mt = _companion(xs + 1j * eta, mt, v, c, n, True, 8, False)
        m[todo] = _companion(xs + 1j * fl, mt, v, c, n, upper=True)
        return m

    @staticmethod
    def _local(panels, x):
        """The panel variable ``t`` in ``(0, 1)`` of the points ``x`` (a row per
        panel)."""
        u, w = panels[:, :1], panels[:, 1:2]
        at_u, at_w = panels[:, 2:3] > 0, panels[:, 3:4] > 0
        with np.errstate(invalid="ignore"):
            return np.where(
                at_u,
                np.sqrt(np.clip((x - u) / (w - u), 0, None)),
                np.where(
                    at_w,
                    np.sqrt(np.clip((w - x) / (w - u), 0, None)),
                    (x - u) / (w - u),
                ),
            )

    @staticmethod
    def _interpolate(t_from, values, t_to):
        """Barycentric interpolation, row by row, from the Gauss nodes ``t_from``."""
        diff = t_from[:, None] - t_from[None, :]
        np.fill_diagonal(diff, 1.0)
        bw = 1.0 / np.prod(diff, axis=1)
        d = t_to[..., None] - t_from
        d = np.where(d == 0, 1e-300, d)
        q = bw / d
        return np.sum(q * values[:, None, :], axis=-1) / np.sum(q, axis=-1)

    def _weights(self, a):
        """Per distinct positive eigenvalue, the summed weights ``a_nu`` (``a = None``:
        all ones), and the summed weight of the zero eigenvalues."""
        if a is None:
            return self.c, float(self.zero)
        lam = self.eigenvalues
        pos = lam > 0
        vals = lam[pos] * (self.n / self.N)
        idx = np.searchsorted(-self.v, -vals)
        A = np.zeros_like(self.v)
        np.add.at(A, idx, a[pos])
        return A, float(np.sum(a[~pos]))

    def _density(self, x, m, a=None):
        """``(1/pi) Im (1/d) sum_nu a_nu / (-z (1 + v_nu m))`` at ``z = x + i0``."""
        A, _ = self._weights(a)
        q = np.multiply.outer(m, self.v)
        q += 1.0
        np.reciprocal(q, out=q)  # 1 / (1 + v m)
        g = -(q @ A.astype(complex)) / (x * self.d)
        return np.maximum(g.imag, 0.0) / np.pi

    def _atom(self, a=None):
        """The (weighted) mass at zero: ``(1/d) sum_nu a_nu kappa_0/(v_nu + kappa_0)``
        plus the zero eigenvalues of ``Sigma``; ``kappa_0 = 0`` for ``n >= d_+``."""
        A, A0 = self._weights(a)
        if self.n >= self.c.sum():
            return A0 / self.d
        k0 = float(
            _kappa(
                self.v.repeat(self.c.astype(int)),
                np.asarray(float(self.n)),
                np.asarray(0.0),
            )
        )
        return (np.sum(A * k0 / (self.v + k0)) + A0) / self.d

    def _cdf(self, points):
        """The mass of the continuous part in ``(0, x]`` for each ``x`` of ``points``:
        the masses of the panels below ``x`` plus the part of the panel holding ``x``,
        by 32 Gauss nodes on the cut panel, where Newton's method for ``m`` starts from
        the panel's own solution, interpolated (``_solve`` verifies the root and falls
        back to the continuation in ``eta`` where it is not reached)."""
        panels, x, wt, m, *_ = self._level()
        mass = np.sum(wt * self._density(x, m), axis=1)
        out = np.array([mass[panels[:, 1] <= p].sum() for p in points])
        cut = [
            (i, np.flatnonzero((panels[:, 0] < p) & (panels[:, 1] > p)))
            for i, p in enumerate(points)
        ]
        cut = [(i, j[0]) for i, j in cut if j.size]
        if cut:
            parent = [j for _, j in cut]
            rows = panels[parent]  # a copy, cut at the points
            rows[:, 1] = [points[i] for i, _ in cut]
            rows[:, 3] = 0.0
            xs, ws = self._nodes(rows, 32)
            guess = self._interpolate(_T32, m[parent], self._local(panels[parent], xs))
            ms = self._solve(xs.ravel(), guess.ravel()).reshape(xs.shape)
            out[[i for i, _ in cut]] += np.sum(ws * self._density(xs, ms), axis=1)
        return out

    def _average(self, phi, a=None):
        """``(integral, error, scale)`` of ``phi(x) rho_a(x)`` over the support on the
        refined panels: 32 Gauss nodes per panel, the error estimated from 16, and the
        integral of ``|phi| rho_a``."""
        panels, x, wt, m, x16, w16, m16 = self._level()
        dens = (wt * self._density(x, m, a)).ravel()
        vals = np.asarray(phi(x.ravel()), dtype=float)
        total = vals @ dens
        low = (
            np.asarray(phi(x16.ravel()), dtype=float)
            @ (w16 * self._density(x16, m16, a)).ravel()
        )
        return total, np.abs(total - low), np.abs(vals) @ dens


@lru_cache(maxsize=8)
def _shared(lam_bytes: bytes, N: int) -> LimitingSpectrum:
    """The :class:`LimitingSpectrum` of ``(Sigma, N)`` shared by the calls with the same
    input, for the last 8 populations (it holds no randomness)."""
    return LimitingSpectrum(np.frombuffer(lam_bytes), N)


def shared_spectrum(eigenvalues, N: int) -> LimitingSpectrum:
    """The :class:`LimitingSpectrum` of ``(eigenvalues, N)``, built once for the same
    input: the wrappers below and :func:`~lindiff.rmt.contour.predict_metrics` reuse its
    support and quadrature."""
    lam = _spectrum(eigenvalues)
    return _shared(lam.tobytes(), _integer("N", N, low=2))


def clear_cache() -> None:
    """Forget the shared spectra (for benchmarks that time a cold start)."""
    _shared.cache_clear()


def limiting_density(eigenvalues, N: int, x=None):
    """``(x, density, atom)``: the large-d spectral density of ``Sigma_0`` of ``N``
    samples of ``N(mu, Sigma)`` (mean estimated) and its atom at zero (chapter 5).

    :meth:`LimitingSpectrum.pdf` at ``x`` and :attr:`LimitingSpectrum.atom`; ``x =
    None`` returns the density at the nodes of the quadrature that
    :func:`typical_average` uses (sorted, :meth:`LimitingSpectrum.nodes`); the density
    and the atom integrate to one.

    Parameters
    ----------
    {eigenvalues}
    {N_samples}
    x : array_like, shape (m,), optional
        The points at which to evaluate the density (default: the quadrature nodes).

    Returns
    -------
    x : ndarray
        The points.
    density : ndarray
        The density at ``x`` (0 outside the support).
    atom : float
        The mass at zero.

    Raises
    ------
    RuntimeError
        If the quadrature or Newton's method for ``m(z)`` does not converge.
    """
    spec = shared_spectrum(eigenvalues, N)
    x, density = spec.nodes() if x is None else (x, spec.pdf(x))
    return np.asarray(x, dtype=float), density, spec.atom


def limiting_cdf(eigenvalues, N: int, x) -> np.ndarray:
    """The large-d fraction of the eigenvalues of ``Sigma_0`` at or below each ``x``
    (the atom at zero included): :meth:`LimitingSpectrum.cdf` (chapter 5).

    Parameters
    ----------
    {eigenvalues}
    {N_samples}
    {x}

    Returns
    -------
    ndarray, shape (m,)
        ``LimitingSpectrum(eigenvalues, N).cdf(x)``, the fraction at or below ``x``.

    Raises
    ------
    RuntimeError
        As :meth:`LimitingSpectrum.cdf`, if its quadrature does not converge.
    """
    return shared_spectrum(eigenvalues, N).cdf(x)


def typical_average(phi, eigenvalues, N: int, weights=None, rtol: float = 1e-8):
    """Typical-case ``(1/d) E sum_i phi(lambda_i) u_i^T A u_i`` over the eigenpairs of
    ``Sigma_0`` of ``N`` samples of ``N(mu, Sigma)``: :meth:`LimitingSpectrum.expect`
    (chapter 5).

    Parameters
    ----------
    {phi}
    {eigenvalues}
    {N_samples}
    weights : array_like, shape (d,), optional
        The diagonal of ``A`` in the eigenbasis of ``Sigma`` (default: all ones).
    rtol : float, default 1e-8
        The largest accepted quadrature error, relative to the average of ``|phi|``.

    Returns
    -------
    float or ndarray
        ``LimitingSpectrum(eigenvalues, N).expect(phi, weights, rtol)``.

    Raises
    ------
    RuntimeError
        As :meth:`LimitingSpectrum.expect`, if the quadrature does not reach ``rtol``.
    """
    return shared_spectrum(eigenvalues, N).expect(phi, weights, rtol)


fill(globals())
