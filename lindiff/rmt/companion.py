"""The companion Stieltjes transform of ``Sigma_0`` and the support of its
limiting spectral density (chapter 5).
"""

from __future__ import annotations

import numpy as np


def _population(lam: np.ndarray, N: int):
    """``(v, c, n, d, zero)`` for ``Sigma_0`` of ``N`` samples: the distinct positive
    eigenvalues ``v`` of ``Sigma' = (n/N) Sigma`` (descending), their multiplicities
    ``c``, ``n = N - 1``, ``d`` and the number of zero eigenvalues of ``Sigma``."""
    n = N - 1
    pos = lam[lam > 0] * (n / N)
    v, c = np.unique(pos, return_counts=True)
    return v[::-1].copy(), c[::-1].astype(float), n, lam.size, lam.size - pos.size


def _x_of_m(m, v, c, n):
    """The inverse of the companion transform: ``x(m) = -1/m + (1/n) sum c v / (1 + v
    m)``, and ``m^2 x'(m) = 1 - (1/n) sum c (v m / (1 + v m))^2``."""
    r = 1.0 + np.multiply.outer(m, v)
    x = -1.0 / m + (c * v / r).sum(axis=-1) / n
    vm = np.multiply.outer(m, v) / r
    return x, 1.0 - (c * vm**2).sum(axis=-1) / n


def _companion(z, m, v, c, n, upper: bool, max_iter: int = 200, strict=True):
    """Newton's method for the companion Stieltjes transform ``m(z)`` of ``Sigma_0``:
    ``z = x(m)`` (``_x_of_m``), from the guesses ``m``, vectorized over ``z``.

    With ``upper=True`` every ``z`` has ``Im z > 0`` and the root sought is the one in
    the upper half plane (Silverstein and Bai: it is unique there): a step that would
    leave it is halved until it does not. Raises ``RuntimeError`` if some root has not
    converged after ``max_iter`` steps; with ``strict=False`` (a guess for the next
    stage of a continuation) it stops at ``1e-6`` relative or after ``max_iter`` steps
    and returns the last finite iterate.
    """
    m = np.array(m, dtype=complex)
    active = np.arange(m.size)
    # the sums over nu as products with the vectors c v / n and c v^2 / n (each row's
    # 1 / (1 + v m) is formed once)
    cv, cv2 = (c * v / n).astype(complex), (c * v**2 / n).astype(complex)
    for _ in range(max_iter):
        ma, za = m[active], z[active]
        q = np.multiply.outer(ma, v)
        q += 1.0
        np.reciprocal(q, out=q)
        F = za + 1.0 / ma - q @ cv
        mag = np.abs(q) @ cv.real
        q *= q
        dF = -1.0 / ma**2 + q @ cv2
        step = F / dF
        new = ma - step
        if upper:
            for _ in range(60):
                bad = new.imag <= 0
                if not bad.any():
                    break
                step = np.where(bad, 0.5 * step, step)
                new = ma - step
        if not strict:  # a guess for the next stage: keep the last finite iterate
            new = np.where(np.isfinite(new), new, ma)
        m[active] = new
        scale = np.abs(za) + np.abs(1.0 / ma) + mag
        done = np.abs(step) <= (1e-13 if strict else 1e-6) * np.abs(new)
        done |= np.abs(F) <= 1e-14 * scale
        active = active[~done]
        if active.size == 0:
            return m
    if not strict:
        return m
    raise RuntimeError("limiting_density: Newton's method for m(z) did not converge")


def _brent_edge(fun, lo, hi):
    """The root of ``fun`` in ``(lo, hi)`` (a sign change), by ``brentq``."""
    from scipy.optimize import brentq

    return brentq(fun, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)


def _support(v, c, n):
    """The support of the limiting density of ``Sigma_0`` minus ``{0}``: a list of
    intervals ``[a, b]``, from the real critical points of ``x(m)`` (Silverstein and
    Choi: ``x`` lies outside the support exactly where ``x'(m) > 0`` on the real line).

    The upper edge is the minimum of ``x`` on ``(-1/v_max, 0)``; a gap opens between two
    consecutive poles ``-1/v_j < m < -1/v_{j+1}`` where ``m^2 x'(m)`` becomes positive
    (its maximum there, located on 32 points and refined by golden sections, decides);
    the lower edge is the maximum of ``x`` on ``(0, inf)`` for ``n < d_+`` and on
    ``(-inf, -1/v_min)`` for ``n > d_+``, and ``0`` (a hard edge) for ``n = d_+``.
    """
    with np.errstate(divide="ignore"):
        return _edges(v, c, n)


def _edges(v, c, n):
    """``_support`` (the divisions by ``m = 0`` at a bracket's end give inf)."""
    d_plus = c.sum()

    cv = c / n

    def h(m):  # m^2 x'(m) alone, in blocks of rows (the sampling is large)
        m = np.asarray(m, dtype=float)
        flat, out = m.ravel(), np.empty(m.size)
        step = max(1, 2**20 // v.size)
        for s in range(0, flat.size, step):
            vm = np.multiply.outer(flat[s : s + step], v)
            vm /= 1.0 + vm
            vm *= vm
            out[s : s + step] = 1.0 - vm @ cv
        return out.reshape(m.shape)

    def x(m):
        return float(_x_of_m(np.asarray(m, dtype=float), v, c, n)[0])

    top = _brent_edge(h, -1.0 / v[0] * (1 - 1e-15), -1e-300)
    upper = x(top)
    gaps = []
    if v.size > 1:
        # m = -1/u between the poles, u from v_{j+1} to v_j on a geometric grid
        s = np.linspace(0.0, 1.0, 34)[1:-1]
        u = v[1:, None] * (v[:-1, None] / v[1:, None]) ** s[None, :]
        hv = h(-1.0 / u)
        cand = np.flatnonzero(hv.max(axis=1) > -0.5)
        lo_t, hi_t = np.zeros(cand.size), np.ones(cand.size)
        vj, vk = v[cand], v[cand + 1]

        def hh(t):
            return h(-1.0 / (vk * (vj / vk) ** t))

        g = (np.sqrt(5.0) - 1) / 2
        for _ in range(60):  # golden section for the maximum, all intervals at once
            t1, t2 = hi_t - g * (hi_t - lo_t), lo_t + g * (hi_t - lo_t)
            left = hh(t1) > hh(t2)
            hi_t, lo_t = np.where(left, t2, hi_t), np.where(left, lo_t, t1)
        t_best = 0.5 * (lo_t + hi_t)
        for j, tb, hb in zip(cand, t_best, hh(t_best)):
            if hb <= 0:
                continue
            mid = -1.0 / (v[j + 1] * (v[j] / v[j + 1]) ** tb)
            left = _brent_edge(h, -1.0 / v[j + 1] * (1 - 1e-15), mid)
            right = _brent_edge(h, mid, -1.0 / v[j] * (1 + 1e-15))
            gaps.append((x(left), x(right)))
    if n < d_plus:
        hi = 1.0 / v[-1]
        while h(hi) > 0:
            hi *= 4.0
        lower = x(_brent_edge(h, 1e-300, hi))
    elif n > d_plus:
        lo = -1.0 / v[-1]
        while h(lo) <= 0:
            lo *= 4.0
        lower = x(_brent_edge(h, lo, -1.0 / v[-1] * (1 + 1e-15)))
    else:
        lower = 0.0
    edges = [lower] + [e for g in sorted(gaps) for e in g] + [upper]
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
