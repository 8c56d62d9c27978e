"""Core of *Generalization Dynamics of Linear Diffusion Models*.

Every chapter of the book imports this module as ``import lindiff_core as ld``.

Conventions (see the book's introduction):

* time steps ``t = 1..T``; arrays over time have index ``t - 1``;
* the forward process is ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``;
* the denoiser is ``eps_theta(x, t) = W_t x + b_t``, one ``(W_t, b_t)`` per step,
  trained on the sample-averaged, exactly noise-averaged loss
  ``L_t = (1/N) sum_i E_eps ||eps - W_t x_t - b_t||^2 + gamma ||W_t||_F^2``;
* everything lives in an eigenbasis: a Gaussian is a mean, an orthonormal basis
  ``V`` (d x r), eigenvalues (r,) and one variance ``rest`` shared by the
  ``d - r`` directions orthogonal to ``V``; a trained linear denoiser is the
  eigenbasis of the empirical covariance plus per-step gains of shape (T, r).
  Dense d x d matrices are built only on request, for checks.

All functions are pure: randomness enters only through an explicit
``numpy.random.Generator``; nothing prints or plots.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

__all__ = [
    # chapter 1
    "Schedule",
    "linear_schedule",
    "authors_schedule",
    "REGULARIZATIONS",
    "Gaussian",
    "power_law_spectrum",
    "power_law_gaussian",
    "LinearDenoiser",
    "denoiser_gain",
    "fit_linear_denoiser",
    "train_loss",
    "test_loss",
    # chapter 2
    "sampler_noise",
    "generated_moments",
    "generated_floor",
    "generated_distribution",
    "run_chain",
    "sample",
    # chapter 3
    "optimal_loss",
    "missing_variance",
    "null_mass",
    # chapter 4
    "kl_divergence",
    "generated_limit",
    "Metrics",
    "exact_metrics",
    "trial",
    "expected_kl_empirical",
    "variance_kl_empirical",
    # chapters 5 and 6
    "silverstein_kappa",
    "TypicalCase",
    "typical_case",
    "predict_losses",
    "predict_missing_variance",
    "predict_kl",
    "limiting_density",
    "limiting_cdf",
    "typical_average",
    "TypicalMetrics",
    "predict_metrics",
    # chapter 7
    "gradient_descent",
    "random_init",
    "InitializedDenoiser",
    "fit_from_init",
    # chapter 8
    "empirical_denoiser",
    "nearest_training_point",
    "nearest_distance_ratio",
    "fitted_kl",
    # chapter 9
    "IMAGE_DATASETS",
    "load_image_dataset",
    "fit_power_law",
]

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
    of a degenerate Gaussian and the rounding floor of a KL."""
    return 1e3 * _rounding(scale, n)


# ---------------------------------------------------------------------------
# Input checks: every public function validates its input once, at the boundary,
# raises a ValueError that names the offending argument, and calls private
# kernels (leading underscore) that trust their input.
# ---------------------------------------------------------------------------


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


#: The two regularizers of the book (chapters 1, 6): a constant weight decay ``gamma
#: ||W_t||_F^2`` at every step, or the one of the paper's authors' code, scaled with
#: the step, ``gamma_t = abar_t c``, whose minimizer is the optimal denoiser of
#: ``Sigma_0 + c Id``.
REGULARIZATIONS = ("constant", "step-scaled")


def _decay(weight_decay, regularization, sched: "Schedule"):
    """The checked weight decay per step: ``gamma`` (a float) for ``"constant"``, the
    array ``abar_t c`` (shape (T,)) for ``"step-scaled"``."""
    c = _real("weight_decay", weight_decay, low=0.0)
    if regularization not in REGULARIZATIONS:
        raise ValueError(
            f"regularization: expected one of {REGULARIZATIONS}, got "
            f"{_describe(regularization)}"
        )
    return c if regularization == "constant" else c * sched.alpha_bar


def _generator(name: str, rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"{name}: expected a numpy.random.Generator "
            "(e.g. numpy.random.default_rng(0)), "
            f"got {_describe(rng)}"
        )
    return rng


# ---------------------------------------------------------------------------
# Chapter 1: the noise schedule
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Schedule:
    """Variance schedule ``beta_t`` of a DDPM with ``abar_t = prod_{s<=t}(1 - beta_s)``.

    Index ``t - 1`` of every array belongs to step ``t``; ``alpha_bar_prev``
    is ``abar_{t-1}`` with the convention ``abar_0 = 1``. ``one_minus_alpha_bar``
    is ``1 - abar_t`` computed without cancellation (exactly ``beta_1`` at t = 1) and
    ``one_minus_alpha_bar_prev`` is ``1 - abar_{t-1}`` (0 at t = 1). Every derived
    array is computed once, here, and read-only.
    """

    beta: np.ndarray

    def __post_init__(self):
        beta = _array("beta", self.beta, ndim=1)
        if beta.size < 1:
            raise ValueError(
                "beta: expected at least one time step, got an empty array"
            )
        if np.any(beta <= 0) or np.any(beta >= 1):
            raise ValueError(
                f"beta: expected 0 < beta_t < 1 for every t, got values in "
                f"[{beta.min():.3g}, {beta.max():.3g}]"
            )
        beta = beta.copy()
        beta.setflags(write=False)
        object.__setattr__(self, "beta", beta)
        abar = np.cumprod(1.0 - beta)
        # 1 - abar_t by the cancellation-free recursion 1 - abar_t = (1 - abar_{t-1}) +
        # abar_{t-1} beta_t: it is accurate to rounding at every t and exactly beta_1 at
        # t = 1, as in exact arithmetic.
        abar_prev = np.concatenate([[1.0], abar[:-1]])
        one_minus = np.cumsum(abar_prev * beta)
        one_minus_prev = np.concatenate([[0.0], one_minus[:-1]])
        derived = {
            "alpha_bar": abar,
            "alpha_bar_prev": abar_prev,
            "one_minus_alpha_bar": one_minus,
            "one_minus_alpha_bar_prev": one_minus_prev,
        }
        for name, a in derived.items():
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def T(self) -> int:
        """Number of time steps."""
        return self.beta.size

    @property
    def t(self) -> np.ndarray:
        """The time steps ``1..T``."""
        return np.arange(1, self.T + 1)

    @property
    def noise_to_signal(self) -> np.ndarray:
        """The noise-to-signal ratio ``c_t = (1 - abar_t) / abar_t``."""
        return self.one_minus_alpha_bar / self.alpha_bar

    def check_step(self, t) -> int:
        """Validate a time step ``1 <= t <= T`` and return it as an int."""
        t = _integer("t", t, low=1)
        if t > self.T:
            raise ValueError(f"t: expected 1 <= t <= T = {self.T}, got {t}")
        return t

    def same_as(self, other: "Schedule") -> bool:
        return isinstance(other, Schedule) and np.array_equal(self.beta, other.beta)


def linear_schedule(
    T: int = 1000, beta_min: float = 1e-4, beta_max: float = 1e-2
) -> Schedule:
    """``beta_t = (beta_max - beta_min) t / T + beta_min`` for ``t = 1..T`` (chapter 1).

    This is the talk's schedule taken literally, so ``beta_1 = beta_min + (beta_max -
    beta_min) / T`` (1.099e-4 by default) and ``beta_T = beta_max``.
    """
    T = _integer("T", T, low=1)
    beta_min = _real(
        "beta_min", beta_min, low=0.0, high=1.0, low_open=True, high_open=True
    )
    beta_max = _real(
        "beta_max", beta_max, low=0.0, high=1.0, low_open=True, high_open=True
    )
    if beta_max < beta_min:
        raise ValueError(
            f"beta_max: expected beta_max >= beta_min = {beta_min}, got {beta_max}"
        )
    t = np.arange(1, T + 1)
    return Schedule((beta_max - beta_min) / T * t + beta_min)


def authors_schedule(T: int = 1000) -> Schedule:
    """The schedule of the paper's authors' published code: ``beta`` linear from
    ``1e-4`` to ``2e-2`` over ``T`` steps, endpoints included (``beta_1 = 1e-4``,
    ``beta_T = 2e-2``). The book's default is the talk's :func:`linear_schedule`
    (chapter 1)."""
    T = _integer("T", T, low=2)
    return Schedule(np.linspace(1e-4, 2e-2, T))


def _check_schedule(sched) -> Schedule:
    if not isinstance(sched, Schedule):
        raise ValueError(
            f"sched: expected a Schedule (see linear_schedule), got {_describe(sched)}"
        )
    return sched


# ---------------------------------------------------------------------------
# Chapter 1: Gaussians in eigen form
# ---------------------------------------------------------------------------


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
        if lam[0] < -tol:
            raise ValueError(
                "cov: expected a positive semi-definite matrix, got smallest "
                f"eigenvalue {lam[0]:.3g}"
            )
        order = np.argsort(lam)[::-1]
        self._set(mean, V[:, order], np.clip(lam[order], 0.0, None), 0.0)

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
        (eigenvalues below ``max(N, d) * eps * lambda_max`` count as zero); the
        other ``d - r`` directions have variance ``rest = 0``. Cost
        ``O(N d min(N, d))``: a thin SVD when ``N <= d``, ``eigh`` of the d x d
        covariance otherwise. Derived in chapter 1.
        """
        return cls._make(*_empirical_eigen(X), 0.0)

    @property
    def has_rest(self) -> bool:
        """True when ``r < d``: some directions are described by ``rest``."""
        return self.r < self.d

    @property
    def spectrum(self) -> np.ndarray:
        """All d eigenvalues of the covariance, in decreasing order."""
        lam = np.concatenate([self.eigenvalues, np.full(self.d - self.r, self.rest)])
        return np.sort(lam)[::-1]

    @property
    def trace(self) -> float:
        """``Tr cov``: the total variance."""
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
        """``ln det cov`` from the eigenvalues; ``-inf`` for a degenerate Gaussian."""
        with np.errstate(divide="ignore"):
            out = np.sum(np.log(self.eigenvalues))
            if self.has_rest:
                out += (self.d - self.r) * np.log(self.rest)
        return float(out)

    def project(self, x) -> np.ndarray:
        """Coordinates ``V^T x`` of vectors ``x`` (..., d) in the stored basis."""
        return x if self.basis is None else x @ self.basis

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` independent samples, shape (n, d)."""
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

    def plus_isotropic(self, c) -> "Gaussian":
        """``N(mean, cov + c Id)``: every variance raised by ``c >= 0`` (e.g. the
        surrogate ``N(mu_0, Sigma_0 + c Id)`` of chapters 4 to 6). Same basis; cost
        O(r)."""
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


# ---------------------------------------------------------------------------
# Chapter 1: the data model, power-law spectra
# ---------------------------------------------------------------------------


def power_law_spectrum(d: int, k: float) -> np.ndarray:
    """``lambda_nu = A nu^-k`` for ``nu = 1..d`` with ``A`` fixed by ``Tr Sigma = sum
    lambda_nu = d``.
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
    """
    lam = power_law_spectrum(d, k)
    if rng is None:
        return Gaussian.from_eigen(np.zeros(d), lam)
    rng = _generator("rng", rng)
    mean = rng.standard_normal(d)
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    Q *= np.sign(np.diag(R))
    return Gaussian.from_eigen(mean, lam, basis=Q)


# ---------------------------------------------------------------------------
# Chapter 1: the optimal linear denoiser
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LinearDenoiser(_EigenForm):
    """``eps_theta(x, t) = W_t (x - sqrt(abar_t) mu_0)`` with ``W_t`` in eigen form.

    ``W_t = V diag(gains[t-1]) V^T + null_gain[t-1] (Id - V V^T)`` and ``b_t =
    -sqrt(abar_t) W_t mu_0``. ``V`` (d x r) is the eigenbasis of the training covariance
    ``Sigma_0`` with eigenvalues ``eigenvalues`` (r,); the ``d - r`` directions
    orthogonal to ``V`` are the null directions of ``Sigma_0``. ``residuals`` and
    ``null_residual`` are ``1 - sqrt(1 - abar_t) w_t``, the eigenvalues of ``Id - sqrt(1
    - abar_t) W_t``, computed without cancellation (they vanish exactly where they
    should, e.g. along a null direction at t = 1); the losses and the generated law read
    them. No d x d array is stored.
    """

    mean: np.ndarray
    basis: np.ndarray
    eigenvalues: np.ndarray
    gains: np.ndarray
    null_gain: np.ndarray
    residuals: np.ndarray
    null_residual: np.ndarray
    schedule: Schedule
    weight_decay: float
    train_time: float | None
    regularization: str = "constant"

    @property
    def n_null(self) -> int:
        """Number of null directions of ``Sigma_0`` (``d - r``)."""
        return self.d - self.r

    def weights(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Dense ``(W_t, b_t)`` for ``1 <= t <= T`` (for checks; costs O(d^2 r))."""
        t = self.schedule.check_step(t)
        g, g0 = self.gains[t - 1], self.null_gain[t - 1]
        V = self.basis
        if self.n_null == 0:
            W = (V * g) @ V.T
        else:
            W = g0 * np.eye(self.d) + (V * (g - g0)) @ V.T
        b = -np.sqrt(self.schedule.alpha_bar[t - 1]) * (W @ self.mean)
        return W, b

    def apply(self, x, t: int) -> np.ndarray:
        """``eps_theta(x, t)`` for a batch ``x`` of shape (n, d), without dense
        matrices.
        """
        t = self.schedule.check_step(t)
        x = _array("x", x, ndim=2)
        if x.shape[1] != self.d:
            raise ValueError(f"x: expected {self.d} columns, got shape {x.shape}")
        return self._eps(x, t)

    def _eps(self, x, t):
        """``eps_theta(x, t)`` for a checked batch and step (internal: the chain's inner
        loop).
        """
        y = x - np.sqrt(self.schedule.alpha_bar[t - 1]) * self.mean
        g, g0 = self.gains[t - 1], self.null_gain[t - 1]
        if self.n_null == 0:  # W = V diag(g) V^T: no large null gain to cancel
            return ((y @ self.basis) * g) @ self.basis.T
        return g0 * y + ((y @ self.basis) * (g - g0)) @ self.basis.T


def _gain(lam, sched: Schedule, gamma: float, tau: float | None):
    """``(w_t(lam), 1 - sqrt(1 - abar_t) w_t(lam))`` for checked input, each ``(T,) +
    lam.shape``.

    The one place the gain is computed; ``gamma`` is a float or one value per step (the
    step-scaled regularizer). With ``C = abar_t lam + 1 - abar_t + gamma`` and
    ``E = exp(-2 tau C)`` (0 for ``tau = None``): ``w = sqrt(1 - abar_t) (1 - E) / C``
    and the residual ``1 - sqrt(1 - abar_t) w = (abar_t lam + gamma + (1 - abar_t) E) /
    C``, a sum of non-negative terms (no cancellation); ``1 - E`` is ``-expm1(-2 tau
    C)`` where ``|2 tau C| < 1/2`` (elsewhere ``1 - E`` does not cancel).
    """
    shape = (-1,) + (1,) * np.ndim(lam)
    a = sched.alpha_bar.reshape(shape)
    one_minus = sched.one_minus_alpha_bar.reshape(shape)
    if np.ndim(gamma):  # one weight decay per step
        gamma = np.reshape(gamma, shape)
    signal = a * lam + gamma
    C = signal + one_minus
    inv = 1.0 / C
    if tau is None:
        return np.sqrt(one_minus) * inv, signal * inv
    x = -2.0 * tau * C
    E = np.exp(x)
    done = 1.0 - E
    small = np.abs(x) < 0.5  # there 1 - E cancels: -expm1(x) instead
    done[small] = -np.expm1(x[small])
    return np.sqrt(one_minus) * done * inv, (signal + one_minus * E) * inv


def denoiser_gain(
    lam,
    sched: Schedule,
    weight_decay: float = 0.0,
    train_time: float | None = None,
    regularization: str = "constant",
) -> np.ndarray:
    """Gain of ``W_t`` along an eigen-direction of ``Sigma_0`` with eigenvalue ``lam``.

    ``w_t(lam) = sqrt(1 - abar_t) / C_t(lam) * (1 - exp(-2 tau C_t(lam)))`` with
    ``C_t(lam) = abar_t lam + 1 - abar_t + gamma``; ``tau = None`` (trained to
    convergence) drops the bracket. With ``regularization="step-scaled"``, ``gamma_t =
    abar_t c`` for ``weight_decay = c``, and the gain is exactly that of ``lam + c``
    without weight decay. Shape ``(T,) + lam.shape``. Chapter 1.
    """
    sched = _check_schedule(sched)
    lam = _eigenvalues("lam", _array("lam", lam))
    gamma = _decay(weight_decay, regularization, sched)
    return _gain(lam, sched, gamma, _train_time(train_time))[0]


def fit_linear_denoiser(
    X,
    sched: Schedule,
    weight_decay: float = 0.0,
    train_time: float | None = None,
    regularization: str = "constant",
) -> LinearDenoiser:
    """``W_t = sqrt(1-abar_t) (abar_t Sigma_0 + (1-abar_t+gamma) Id)^-1``, ``b_t =
    -sqrt(abar_t) W_t mu_0`` (chapter 1).

    Minimizes the step-t training loss ``(1/N) sum_i E_eps ||eps - W x_t - b||^2 + gamma
    ||W||_F^2`` exactly for every ``t``. With ``train_time = tau`` the weights are those
    of gradient flow ``dW/dtau = -grad_W L_t`` from ``W = 0`` (bias at its optimum for
    the current ``W``): ``W_t(tau) = W_t (Id - exp(-2 tau C_t))``, ``C_t = abar_t
    Sigma_0 + (1 - abar_t + gamma) Id``; ``None`` means trained to convergence.

    ``regularization="step-scaled"`` scales the weight decay with the step, ``gamma_t =
    abar_t c`` for ``weight_decay = c`` (the convention of the paper's authors' code):
    then ``W_t = sqrt(1-abar_t) (abar_t (Sigma_0 + c Id) + (1-abar_t) Id)^-1``, exactly
    the optimal denoiser of ``N(mu_0, Sigma_0 + c Id)``.

    ``X`` is the training set, shape (N, d), or its empirical Gaussian
    (:meth:`Gaussian.from_samples`), whose eigen-decomposition is then reused: a sweep
    over weight decays or training times decomposes ``Sigma_0`` once.

    Cost: one eigen-decomposition of ``Sigma_0`` (a thin SVD when N <= d) plus
    O(T r); the result is stored in eigen form.
    """
    sched = _check_schedule(sched)
    gamma = _decay(weight_decay, regularization, sched)
    train_time = _train_time(train_time)
    if isinstance(X, Gaussian):
        if X.basis is None or X.rest != 0 or np.any(X.eigenvalues <= 0):
            raise ValueError(
                "X: expected training points or their empirical Gaussian "
                "(Gaussian.from_samples), got another Gaussian"
            )
        mean, V, lam = X.mean, X.basis, X.eigenvalues
    else:
        mean, V, lam = _empirical_eigen(X)
    gains, residuals = _gain(lam, sched, gamma, train_time)
    null_gain, null_residual = _gain(0.0, sched, gamma, train_time)
    arrays = (mean, V, lam, gains, null_gain, residuals, null_residual)
    for a in arrays:
        a.setflags(write=False)
    c = float(weight_decay)
    return LinearDenoiser(*arrays, sched, c, train_time, regularization)


def _check_den(den, rho=None) -> LinearDenoiser:
    """``den`` is a linear denoiser (:class:`LinearDenoiser` or, trained from a random
    initialization, :class:`InitializedDenoiser`); ``rho``, when given, a Gaussian of
    its dimension."""
    if not isinstance(den, (LinearDenoiser, InitializedDenoiser)):
        got = _describe(den)
        raise ValueError(
            "den: expected a LinearDenoiser (fit_linear_denoiser) or an "
            f"InitializedDenoiser (fit_from_init), got {got}"
        )
    if rho is not None:
        rho = _check_gaussian("rho", rho)
        if rho.d != den.d:
            raise ValueError(f"rho: expected dimension d = {den.d}, got {rho.d}")
    return den


def _check_denoiser(den, sched) -> tuple[LinearDenoiser, Schedule]:
    """``den`` and the schedule it was fitted with."""
    den, sched = _check_den(den), _check_schedule(sched)
    if not den.schedule.same_as(sched):
        raise ValueError(
            "sched: expected the schedule of the denoiser, got another one"
        )
    return den, sched


# ---------------------------------------------------------------------------
# Chapter 1: exact train and test losses
# ---------------------------------------------------------------------------


def _loss_from_moments(den: LinearDenoiser, q, q_null, delta) -> np.ndarray:
    """Per-step loss of ``den`` on data with covariance ``S`` and mean ``mu_0 + delta``.

    ``q = diag(V^T S V)`` and ``q_null = Tr(P_null S P_null)``. The loss is
    ``||Id - s W||_F^2 + abar Tr(W S W) + abar ||W delta||^2`` with ``s =
    sqrt(1-abar)``.
    """
    a = den.schedule.alpha_bar
    g, g0 = den.gains, den.null_gain
    n_null = den.n_null
    dv = delta @ den.basis
    d_null = 0.0
    if n_null:
        outside = delta - den.basis @ dv
        d_null = outside @ outside
    else:
        q_null = 0.0
    # ||Id - s W||_F^2 from the residuals, computed without cancellation
    fit = np.sum(den.residuals**2, axis=1) + n_null * den.null_residual**2
    spread = np.sum(g**2 * (q + dv**2), axis=1) + g0**2 * (q_null + d_null)
    return fit + a * spread


def train_loss(den: LinearDenoiser, sched: Schedule, X) -> np.ndarray:
    """``L_t = (1/N) sum_i E_eps ||eps - W_t x_t - b_t||^2`` on the points ``X``, shape
    (T,) (chapter 1).

    Exact in the noise (closed-form Gaussian average) and exact over the N rows
    of ``X``; the weight-decay penalty is not included. Cost O(N d r + T r).
    """
    den, sched = _check_denoiser(den, sched)
    X = _array("X", X, ndim=2)
    if X.shape[1] != den.d or X.shape[0] < 1:
        raise ValueError(f"X: expected shape (N >= 1, {den.d}), got {X.shape}")
    return _train_loss(den, X)


def _train_loss(den: LinearDenoiser, X: np.ndarray) -> np.ndarray:
    """The train loss for checked input."""
    m = X.mean(axis=0)
    Xc = X - m
    if isinstance(den, InitializedDenoiser):
        return _dense_loss(den, Xc.T @ Xc / X.shape[0], m - den.mean)
    coef = Xc @ den.basis
    q = np.mean(coef**2, axis=0)
    q_null = 0.0
    if den.n_null:
        # the part of each point off span(V), formed explicitly
        outside = Xc - coef @ den.basis.T
        q_null = float(np.mean(np.sum(outside**2, axis=1)))
    return _loss_from_moments(den, q, q_null, m - den.mean)


def test_loss(den: LinearDenoiser, sched: Schedule, rho: Gaussian) -> np.ndarray:
    """``L_t = E_{x_0 ~ rho, eps} ||eps - W_t x_t - b_t||^2``, exact, shape (T,)
    (chapter 1).

    The expected loss on fresh data from the Gaussian ``rho``; cost O(d r r_rho)
    from the eigen forms of ``rho`` and of the denoiser.
    """
    den, sched = _check_denoiser(den, sched)
    return _test_loss(_check_den(den, rho), rho)


def _test_loss(den: LinearDenoiser, rho: Gaussian) -> np.ndarray:
    """The test loss for checked input."""
    if isinstance(den, InitializedDenoiser):
        return _dense_loss(den, rho.cov, rho.mean - den.mean)
    q = _variance_along(rho, den.basis)
    q_null = _variance_outside(rho, den.basis, along=q) if den.n_null else 0.0
    return _loss_from_moments(den, q, q_null, rho.mean - den.mean)


def _dense_loss(den, S, delta) -> np.ndarray:
    """``||Id - s W||_F^2 + abar Tr(W S W^T) + abar ||W delta||^2`` per step, from the
    dense weights of an :class:`InitializedDenoiser` (cost O(T d^3))."""
    a = den.schedule.alpha_bar
    s = np.sqrt(den.schedule.one_minus_alpha_bar)
    W = _all_weights(den)
    spread = np.sum((W @ S) * W, axis=(1, 2)) + np.sum((W @ delta) ** 2, axis=1)
    R = -s[:, None, None] * W
    R += np.eye(den.d)  # Id - s W
    return np.sum(R**2, axis=(1, 2)) + a * spread


def _all_weights(den) -> np.ndarray:
    """Every ``W_t`` of an :class:`InitializedDenoiser`, shape (T, d, d), formed once
    per denoiser (the losses and the generated law all read them)."""
    cached = den.__dict__.get("_all_weights")
    if cached is not None:
        return cached
    flow, V = den.flow, den.flow.basis
    g, g0 = flow.gains, flow.null_gain[:, None, None]
    W = (V * (g - g0[:, :, 0])[:, None, :]) @ V.T
    W += g0 * np.eye(den.d)
    e, e0 = den.decay, den.null_decay[:, None, None]
    W += e0 * den.init
    W += (den.init @ V * (e - e0[:, :, 0])[:, None, :]) @ V.T
    W.setflags(write=False)
    den.__dict__["_all_weights"] = W  # a frozen dataclass: bypass __setattr__
    return W


# nbval/pytest must not collect the loss function above as a test.
test_loss.__test__ = False


# ---------------------------------------------------------------------------
# Chapter 2: the learned distribution, exact and sampled
# ---------------------------------------------------------------------------

_SAMPLERS = ("ddpm", "ddim")
_SIGMAS = ("beta", "posterior")


def _check_sampler(sampler, sigma) -> tuple[str, str]:
    if sampler not in _SAMPLERS:
        raise ValueError(f"sampler: expected one of {_SAMPLERS}, got {sampler!r}")
    if sigma not in _SIGMAS:
        raise ValueError(f"sigma: expected one of {_SIGMAS}, got {sigma!r}")
    return sampler, sigma


def _noise(sched: Schedule, sampler: str, sigma: str) -> np.ndarray:
    """``sigma_t^2`` for checked input."""
    if sampler == "ddim":
        return np.zeros(sched.T)
    if sigma == "beta":
        return sched.beta.copy()
    return sched.beta * sched.one_minus_alpha_bar_prev / sched.one_minus_alpha_bar


def sampler_noise(
    sched: Schedule, sampler: str = "ddpm", sigma: str = "beta"
) -> np.ndarray:
    """Variance ``sigma_t^2`` of the noise added by the reverse step ``t``, shape (T,)
    (chapter 2).

    ``"beta"``: ``sigma_t^2 = beta_t``; ``"posterior"``:
    ``sigma_t^2 = beta_t (1 - abar_{t-1}) / (1 - abar_t)`` (zero at ``t = 1``);
    the deterministic DDIM sampler adds none.
    """
    return _noise(_check_schedule(sched), *_check_sampler(sampler, sigma))


def _chain_steps(sched: Schedule, sampler: str) -> tuple[np.ndarray, np.ndarray]:
    """``(keep_t, mix_t)`` of the reverse step ``u_{t-1} = keep_t u_t - mix_t eps(u_t,
    t) + sigma_t z``.

    DDPM: ``keep = 1 / sqrt(1 - beta)``, ``mix = keep beta / sqrt(1 - abar)``. DDIM:
    ``u_{t-1} = sqrt(abar_{t-1}) x0_hat + sqrt(1 - abar_{t-1}) eps`` with ``x0_hat =
    (u_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)``, so ``keep = sqrt(abar_{t-1} / abar_t)
    = 1 / sqrt(1 - beta)`` and ``mix = keep sqrt(1 - abar_t) - sqrt(1 - abar_{t-1})``.
    The sampler and the exact law of chapter 2 both use these arrays.
    """
    keep = 1.0 / np.sqrt(1.0 - sched.beta)
    root = np.sqrt(sched.one_minus_alpha_bar)
    if sampler == "ddpm":
        return keep, keep * sched.beta / root
    return keep, keep * root - np.sqrt(sched.one_minus_alpha_bar_prev)


def _moments(
    gains: np.ndarray, residuals: np.ndarray, sched: Schedule, sampler: str, sigma: str
):
    """``(f, h)`` of the affine chain from the gains ``w_t`` and residuals ``rho_t = 1 -
    s_t w_t``.

    Along an eigen-direction, ``eps = w_t (u - sqrt(abar_t) m)`` makes the step
    ``u_{t-1} = g_t u_t + e_t m + sigma_t z`` with ``g_t = keep_t - mix_t w_t`` and
    ``e_t = mix_t w_t sqrt(abar_t)`` (:func:`_chain_steps`), ``s_t = sqrt(1 - abar_t)``.
    ``g_t`` is written as a sum of non-negative terms, so that it vanishes exactly where
    it should (a null direction at t = 1 gives ``f(0) = sigma_1^2`` exactly): DDPM ``g_t
    = keep_t ((1 - abar_{t-1})(1 - beta_t) + beta_t rho_t) / (1 - abar_t)``, DDIM ``g_t
    = keep_t rho_t + s_{t-1} w_t``. Unrolled from ``u_T ~ N(0, 1)``: ``f = v_0 =
    prod_{s<=T} g_s^2 + sum_t sigma_t^2 prod_{s<t} g_s^2`` and ``h = sum_t e_t
    prod_{s<t} g_s``, as cumulative products over ``t = 1..T``. Shapes (T, r) in, (r,)
    out; checked input.
    """
    keep, mix = _chain_steps(sched, sampler)
    if sampler == "ddpm":
        k = keep / sched.one_minus_alpha_bar
        g = (k * sched.one_minus_alpha_bar_prev * (1.0 - sched.beta))[:, None]
        g = g + (k * sched.beta)[:, None] * residuals
    else:
        g = (
            keep[:, None] * residuals
            + np.sqrt(sched.one_minus_alpha_bar_prev)[:, None] * gains
        )
    e = (mix * np.sqrt(sched.alpha_bar))[:, None] * gains
    ones = np.ones((1, gains.shape[1]))
    before = np.cumprod(np.concatenate([ones, g]), axis=0)  # row t: prod_{s<=t} g_s
    f = before[-1] ** 2 + _noise(sched, sampler, sigma) @ before[:-1] ** 2
    h = np.sum(e * before[:-1], axis=0)
    return f, h


def generated_moments(
    lam,
    sched: Schedule,
    weight_decay: float = 0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> tuple[np.ndarray, np.ndarray]:
    """``(f(lam), h(lam))``: variance and mean factor of the samples along a ``Sigma_0``
    direction (chapter 2).

    The reverse chain from ``u_T ~ N(0, Id)`` is affine with scalar factors per
    eigen-direction: ``v_{t-1} = g_t^2 v_t + sigma_t^2`` from ``v_T = 1`` gives
    ``f = v_0``, and the mean ``m_{t-1} = g_t m_t + e_t m`` from ``m_T = 0`` gives
    ``m_0 = h m``, with ``g_t`` and ``e_t`` built from the gains :func:`denoiser_gain`.
    Vectorized over ``lam`` (shape (r,)); cost O(T r).
    """
    sched = _check_schedule(sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    lam = _eigenvalues("lam", _array("lam", lam, ndim=1))
    gamma = _decay(weight_decay, regularization, sched)
    return _moments_of(lam, sched, gamma, _train_time(train_time), sampler, sigma)


def _moments_of(lam, sched: Schedule, gamma: float, tau, sampler: str, sigma: str):
    """``(f(lam), h(lam))`` of the denoiser trained on variances ``lam`` (checked)."""
    return _moments(*_gain(lam, sched, gamma, tau), sched, sampler, sigma)


def generated_floor(
    sched: Schedule,
    weight_decay: float = 0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> float:
    """``f(0)``: the variance of the samples along every null direction of ``Sigma_0``
    (chapters 2, 6, 7).

    ``sigma_1^2`` (``beta_1`` for the default sampler) when trained to convergence
    without weight decay; ``c(gamma)``, increasing in ``gamma``, with weight decay;
    raised by early stopping, which leaves the null gain short of its optimum.
    """
    f, _ = generated_moments(
        [0.0], sched, weight_decay, train_time, sampler, sigma, regularization
    )
    return float(f[0])


def generated_distribution(
    den: LinearDenoiser, sched: Schedule, sampler: str = "ddpm", sigma: str = "beta"
) -> Gaussian:
    """``rho_N = N(mu_gen, f(Sigma_0))``: the exact distribution of the samples (chapter
    2).

    With a linear denoiser the reverse chain is affine in ``u_T ~ N(0, Id)`` and
    the noise, so its output is Gaussian. All ``W_t`` share the eigenbasis of
    ``Sigma_0``, so the covariance is ``f(Sigma_0)`` with ``f`` from the scalar
    recursion ``v_{t-1} = g_t(lam)^2 v_t + sigma_t^2``, ``v_T = 1``, and the mean is
    ``h(Sigma_0) mu_0``; ``g_t`` and ``e_t`` are built from the denoiser's own gains
    (``den.gains``, ``den.null_gain``) and the chain's step factors, the arrays
    :func:`sample` uses. The null directions of ``Sigma_0`` get the variance
    ``f(0)``, which is ``sigma_1^2`` for the trained denoiser (``g_1(0) = 0``).
    ``sigma``: ``"beta"`` (``sigma_t^2 = beta_t``) or ``"posterior"``; ``sampler``:
    ``"ddpm"`` or the deterministic ``"ddim"``. Cost O(T r); no sampling.
    """
    den, sched = _check_denoiser(den, sched)
    return _generated(den, sched, *_check_sampler(sampler, sigma))


def _generated(
    den: LinearDenoiser, sched: Schedule, sampler: str, sigma: str
) -> Gaussian:
    """``rho_N`` for checked input."""
    if isinstance(den, InitializedDenoiser):
        return _dense_generated(den, sched, sampler, sigma)
    gains = np.column_stack([den.gains, den.null_gain])
    residuals = np.column_stack([den.residuals, den.null_residual])
    moments = _moments(gains, residuals, sched, sampler, sigma)
    return _law(den.mean, den.basis, den.n_null > 0, *moments)


def _dense_generated(den, sched: Schedule, sampler: str, sigma: str) -> Gaussian:
    """``rho_N`` of an :class:`InitializedDenoiser`: the mean and covariance pushed
    through the affine reverse steps ``u -> A_t u + c_t + sigma_t z`` with ``A_t =
    keep_t Id - mix_t W_t`` and ``c_t = mix_t sqrt(abar_t) W_t mu_0`` (the chain's own
    step factors, :func:`_chain_steps`), densely: the initial weights share no basis
    with ``Sigma_0``. Cost O(T d^3)."""
    keep, mix = _chain_steps(sched, sampler)
    noise = _noise(sched, sampler, sigma)
    W_all = _all_weights(den)
    target = np.sqrt(sched.alpha_bar)[:, None] * (W_all @ den.mean)  # W_t sqrt(abar) mu
    eye = np.eye(den.d)
    S, m = eye.copy(), np.zeros(den.d)
    for t in range(sched.T, 0, -1):
        A = keep[t - 1] * eye - mix[t - 1] * W_all[t - 1]
        S = A @ S @ A.T + noise[t - 1] * eye
        m = A @ m + mix[t - 1] * target[t - 1]
    return Gaussian(m, 0.5 * (S + S.T))


def _law(mean, V, has_rest: bool, f, h) -> Gaussian:
    """``N(h(S) mean, f(S))`` for ``S`` with eigenbasis ``V`` (None = Id); the last
    entry of ``f`` and ``h`` belongs to the directions orthogonal to ``V`` when
    ``has_rest``."""
    if V is None:
        return Gaussian._make(h * mean, None, f, 0.0)
    coef = mean @ V
    out = mean * h[-1] + ((h[:-1] - h[-1]) * coef) @ V.T
    return Gaussian._make(out, V, f[:-1], f[-1] if has_rest else 0.0)


def _chain(
    eps,
    sched: Schedule,
    n: int,
    d: int,
    rng,
    sampler: str,
    sigma: str,
    batch: int,
    path: bool = False,
):
    """The reverse chain for checked input (the inner loop of :func:`run_chain` and
    :func:`sample`); with ``path``, every state ``u_t``, shape (T + 1, n, d).
    """
    keep, mix = _chain_steps(sched, sampler)
    noise = np.sqrt(_noise(sched, sampler, sigma))
    out = np.empty((sched.T + 1, n, d) if path else (n, d))
    for start in range(0, n, batch):
        m = min(batch, n - start)
        u = rng.standard_normal((m, d))
        z = np.empty((m, d))
        if path:
            out[sched.T, start : start + m] = u
        for t in range(sched.T, 0, -1):
            e = eps(u, t)
            u *= keep[t - 1]
            u -= mix[t - 1] * e
            if noise[t - 1] > 0:
                rng.standard_normal(out=z)
                z *= noise[t - 1]
                u += z
            if path:
                out[t - 1, start : start + m] = u
        if not path:
            out[start : start + m] = u
    return out


def _batch(batch, d: int) -> int:
    return max(1, 2**16 // d) if batch is None else _integer("batch", batch, low=1)


def run_chain(
    eps,
    sched: Schedule,
    n: int,
    d: int,
    rng: np.random.Generator,
    sampler: str = "ddpm",
    sigma: str = "beta",
    batch: int | None = None,
    path: bool = False,
) -> np.ndarray:
    """The reverse chain ``u_{t-1} = (u_t - beta_t/sqrt(1-abar_t) eps(u_t, t)) /
    sqrt(1-beta_t) + sigma_t z_t`` for any noise predictor (chapter 2).

    ``eps(x, t)`` maps a batch ``x`` of shape (m, d) at step ``t`` to the predicted
    noise, shape (m, d). The chain starts from ``u_T ~ N(0, Id)`` and returns ``u_0``,
    shape (n, d); with ``sampler="ddim"`` the deterministic update ``u_{t-1} =
    sqrt(abar_{t-1}) x0_hat + sqrt(1 - abar_{t-1}) eps`` with ``x0_hat = (u_t - sqrt(1 -
    abar_t) eps) / sqrt(abar_t)`` is used instead. Samples run in batches of ``batch``
    rows (by default about 2^16 numbers per batch, which keeps the working arrays in
    cache). With ``path=True`` it returns every state instead, shape (T + 1, n, d),
    ``[t]`` holding ``u_t`` (``[T]`` the start, ``[0]`` the samples), drawn from the
    same random numbers as without. Every denoiser of the book, linear or not,
    generates through this one function.
    """
    sched = _check_schedule(sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    if not callable(eps):
        raise ValueError(f"eps: expected a callable eps(x, t), got {_describe(eps)}")
    n = _integer("n", n, low=0)
    d = _integer("d", d, low=1)
    rng = _generator("rng", rng)
    if not isinstance(path, (bool, np.bool_)):
        raise ValueError(f"path: expected True or False, got {_describe(path)}")
    return _chain(eps, sched, n, d, rng, sampler, sigma, _batch(batch, d), bool(path))


def sample(
    den: LinearDenoiser,
    sched: Schedule,
    n: int,
    rng: np.random.Generator,
    sampler: str = "ddpm",
    sigma: str = "beta",
    batch: int | None = None,
) -> np.ndarray:
    """``n`` samples of the reverse chain with the trained linear denoiser, shape (n, d)
    (chapter 2).

    :func:`run_chain` with ``eps = den.apply``, whose checks run once here rather than
    at each of the T steps. Cost O(n T d r).
    """
    den, sched = _check_denoiser(den, sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    n = _integer("n", n, low=0)
    rng = _generator("rng", rng)
    return _chain(den._eps, sched, n, den.d, rng, sampler, sigma, _batch(batch, den.d))


# ---------------------------------------------------------------------------
# Chapter 3: the test loss, its floor and the null directions
# ---------------------------------------------------------------------------


def optimal_loss(rho: Gaussian, sched: Schedule) -> np.ndarray:
    """``L_t^best = d - (1 - abar_t) Tr (abar_t Sigma + (1 - abar_t) Id)^-1``, shape
    (T,) (chapter 3).

    The test loss of the best linear denoiser for ``rho = N(mu, Sigma)``, the one
    fitted to ``rho`` itself: the floor under every test loss.
    """
    rho = _check_gaussian("rho", rho)
    sched = _check_schedule(sched)
    a = sched.alpha_bar[:, None]
    one_minus = sched.one_minus_alpha_bar[:, None]
    out = rho.d - one_minus[:, 0] * np.sum(
        1.0 / (a * rho.eigenvalues + one_minus), axis=1
    )
    if rho.has_rest:
        rest = (rho.d - rho.r) / (a[:, 0] * rho.rest + one_minus[:, 0])
        out -= one_minus[:, 0] * rest
    return out


def missing_variance(den: LinearDenoiser, rho: Gaussian) -> float:
    """``Tr(Sigma P_null)``: the variance of ``rho`` in the null directions of
    ``Sigma_0`` (chapter 3).

    ``P_null = Id - V V^T`` projects onto the ``d - r`` directions in which the
    training set has no variance. Cost O(d r r_rho).
    """
    return _missing(_check_den(den, rho), rho)


def _missing(den: LinearDenoiser, rho: Gaussian) -> float:
    """``Tr(Sigma P_null)`` for checked input."""
    if isinstance(den, InitializedDenoiser):
        den = den.flow
    return _variance_outside(rho, den.basis) if den.n_null else 0.0


def null_mass(den: LinearDenoiser, rho: Gaussian) -> float:
    """``Tr(Sigma P_null) + ||P_null (mu - mu_0)||^2``: all that ``rho`` puts in the
    null directions (chapter 3).

    The second moment of ``x - mu_0``, ``x ~ rho``, off the span of the training set:
    the missing variance plus the part of the mean the training mean does not see. It is
    what the null directions add to the test loss, weighed by ``abar_t w_t(0)^2``. Cost
    O(d r r_rho).
    """
    miss = missing_variance(den, rho)
    if isinstance(den, InitializedDenoiser):
        den = den.flow
    if not den.n_null:
        return miss
    delta = rho.mean - den.mean
    outside = delta - den.basis @ (delta @ den.basis)
    return miss + float(outside @ outside)


# ---------------------------------------------------------------------------
# Chapter 4: KL divergences between Gaussians in eigen form, and the exact metrics
# ---------------------------------------------------------------------------


def expected_kl_empirical(d: int, N: int, reverse: bool = False) -> float:
    """``E KL(N(mu_0, Sigma_0) || N(mu, Sigma)) = 1/2 [d ln(N/2) - sum_{i=1}^d psi((N -
    i)/2)]`` for ``N > d`` (chapter 4).

    Exact for Gaussian data, whatever ``mu`` and ``Sigma``: after whitening,
    ``N Sigma_0`` is Wishart with ``N - 1`` degrees of freedom and ``mu_0 - mu``
    is ``N(0, Sigma / N)``, independent of it. With ``reverse=True``, the other
    direction ``E KL(N(mu, Sigma) || N(mu_0, Sigma_0)) = 1/2 [d (N + 1)/(N - d - 2) - d
    - d ln(N/2) + sum_i psi((N - i)/2)]`` (finite for ``N > d + 2``). Both grow like
    ``d (d + 3) / (4 N)`` for ``N >> d``.
    """
    from scipy.special import digamma

    d = _integer("d", d, low=1)
    N = _integer("N", N, low=2)
    need = d + 3 if reverse else d + 1
    if N < need:
        raise ValueError(
            f"N: expected N >= {need} for a finite expected KL at d = {d}, got {N}"
        )
    i = np.arange(1, d + 1)
    log_term = d * np.log(N / 2.0) - np.sum(digamma((N - i) / 2.0))
    if not reverse:
        return float(0.5 * log_term)
    return float(0.5 * (d * (N + 1) / (N - d - 2) - d - log_term))


def variance_kl_empirical(d: int, N: int) -> float:
    """``Var KL(N(mu_0, Sigma_0) || N(mu, Sigma))`` over training sets, exact for ``N >
    d`` (chapter 4).

    After whitening, the Bartlett decomposition ``N Sigma_0 = L L^T`` has independent
    ``L_ii^2 ~ chi^2_{N-i}`` and ``L_ij ~ N(0, 1)`` (``i > j``), independent of ``N
    ||mu_0 - mu||^2 ~ chi^2_d``, and ``2 KL = (1/N)(sum_i L_ii^2 + sum_{i>j} L_ij^2 +
    chi^2_d) - sum_i ln L_ii^2 + d ln N - d`` is a sum of independent terms. With ``Var
    X = 2k``, ``Var ln X = psi'(k/2)`` and ``Cov(X, ln X) = 2`` for ``X ~ chi^2_k``, ``4
    Var KL = (d(d-1)/2 + d) 2/N^2 + sum_i [2(N-i)/N^2 + psi'((N-i)/2) - 4/N]``. About
    ``d(d+3)/(4 N^2)`` for ``N >> d``: ``KL`` is then ``chi^2`` with ``d(d+3)/2``
    degrees of freedom, divided by ``2N``.
    """
    from scipy.special import polygamma

    d = _integer("d", d, low=1)
    N = _integer("N", N, low=2)
    if N < d + 1:
        raise ValueError(
            f"N: expected N >= {d + 1} for a finite KL at d = {d}, got {N}"
        )
    k = N - np.arange(1, d + 1)
    diagonal = np.sum(2.0 * k / N**2 + polygamma(1, k / 2.0) - 4.0 / N)
    return float(0.25 * ((d * (d - 1) + 2 * d) / N**2 + diagonal))


def _is_singular(g: Gaussian) -> bool:
    return bool(np.any(g.eigenvalues == 0) or (g.has_rest and g.rest == 0))


def _trace_inv_q_cov_p(p: Gaussian, q: Gaussian) -> float:
    """``Tr(cov_q^-1 cov_p)`` from the eigen forms (q non-singular), O(d r_p r_q)."""
    # (r_q, r_p): squared cosines between the two bases
    M2 = _overlap(q.basis, p.basis, p.d) ** 2
    inv_lq = 1.0 / q.eigenvalues
    out = inv_lq @ M2 @ p.eigenvalues
    if p.has_rest:
        out += p.rest * inv_lq @ (1.0 - M2.sum(axis=1))
    if q.has_rest:
        out += (1.0 - M2.sum(axis=0)) @ p.eigenvalues / q.rest
        if p.has_rest:
            out += p.rest / q.rest * (q.d - q.r - p.r + M2.sum())
    return float(out)


def _mahalanobis_q(delta, q: Gaussian) -> float:
    """``delta^T cov_q^-1 delta`` (q non-singular)."""
    dq = q.project(delta)
    out = np.sum(dq**2 / q.eigenvalues)
    if q.has_rest:
        out += max(delta @ delta - dq @ dq, 0.0) / q.rest
    return float(out)


def _kl_dense(mp, Sp, mq, Sq) -> float:
    """KL between non-singular Gaussians from dense covariances (for the degenerate
    case).
    """
    k = len(mp)
    lq, Vq = np.linalg.eigh(Sq)
    lp = np.linalg.eigvalsh(Sp)
    A = Vq.T @ Sp @ Vq
    dq = Vq.T @ (mp - mq)
    return 0.5 * float(
        np.sum(np.diag(A) / lq)
        + np.sum(dq**2 / lq)
        - k
        + np.sum(np.log(lq))
        - np.sum(np.log(lp))
    )


def kl_divergence(p: Gaussian, q: Gaussian) -> float:
    """``KL(p || q) = 1/2 [Tr(S_q^-1 S_p) + (m_q - m_p)^T S_q^-1 (m_q - m_p) - d +
    ln|S_q| - ln|S_p|]`` (chapter 4).

    Computed from the eigen forms in O(d r_p r_q), never from dense inverses.
    Returns ``inf`` exactly when the divergence is infinite, i.e. when ``p`` is
    not absolutely continuous with respect to ``q``: one of the two is
    degenerate (a zero variance in some direction) and the other is not, or both
    are degenerate with different supports. (A degenerate ``p`` against a
    non-degenerate ``q`` puts all its mass on a set of ``q``-measure zero; for
    ``rho_N`` this happens for ``N < d`` when the sampler adds no noise at the
    last step, ``c = 0``.) Two degenerate Gaussians with the same support get
    the finite KL of their restrictions to it (dense, O(d^3)).
    """
    p = _check_gaussian("p", p)
    q = _check_gaussian("q", q)
    if p.d != q.d:
        raise ValueError(f"q: expected dimension d = {p.d} to match p, got {q.d}")
    return _kl(p, q)


def _kl(p: Gaussian, q: Gaussian) -> float:
    """``KL(p || q)`` for checked input."""
    sp, sq = _is_singular(p), _is_singular(q)
    if sp != sq:
        return float("inf")
    if sp:
        return _kl_degenerate(p, q)
    tr = _trace_inv_q_cov_p(p, q)
    maha = _mahalanobis_q(p.mean - q.mean, q)
    logdet_q, logdet_p = q.logdet(), p.logdet()
    out = 0.5 * (tr + maha - p.d + logdet_q - logdet_p)
    # KL >= 0; a value below zero by rounding (terms of size d cancel) is reported as 0.
    scale = tr + maha + p.d + abs(logdet_q) + abs(logdet_p)
    return 0.0 if -_tolerance(scale, p.d) < out < 0 else out


def _kl_degenerate(p: Gaussian, q: Gaussian) -> float:
    Sp, Sq = p.cov, q.cov
    lq, Vq = np.linalg.eigh(Sq)
    B = Vq[:, lq > _tolerance(max(lq.max(), 0.0), q.d)]  # support of q
    scale = max(np.abs(Sp).max(), np.finfo(float).tiny)
    outside = Sp - B @ (B.T @ Sp)
    delta = p.mean - q.mean
    size = max(np.linalg.norm(p.mean), np.linalg.norm(q.mean), np.finfo(float).tiny)
    if (
        np.abs(outside).max() > _tolerance(scale, q.d)
        or np.linalg.norm(delta - B @ (B.T @ delta)) > _tolerance(size, q.d)
        or p.rank != B.shape[1]
    ):
        return float("inf")
    return max(_kl_dense(B.T @ p.mean, B.T @ Sp @ B, B.T @ q.mean, B.T @ Sq @ B), 0.0)


def generated_limit(
    rho: Gaussian,
    sched: Schedule,
    weight_decay: float = 0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> Gaussian:
    """``rho_inf = N(h(Sigma) mu, f(Sigma))``: what the chain generates from infinitely
    many data (chapter 4).

    The law of :func:`generated_distribution` for the denoiser fitted to ``rho = N(mu,
    Sigma)`` itself, the limit of ``rho_N`` as ``N -> infinity``; ``KL(rho_inf || rho)``
    is the part of ``KL(rho_N || rho)`` that no amount of data removes (the sampler's
    own error). Cost O(T r_rho).
    """
    rho = _check_gaussian("rho", rho)
    sched = _check_schedule(sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    gamma = _decay(weight_decay, regularization, sched)
    lam = rho.eigenvalues if rho.basis is None else np.append(rho.eigenvalues, rho.rest)
    tau = _train_time(train_time)
    moments = _moments_of(lam, sched, gamma, tau, sampler, sigma)
    return _law(rho.mean, rho.basis, rho.has_rest, *moments)


@dataclass(frozen=True)
class Metrics:
    """The exact metrics of one trained linear denoiser against the data law (chapter
    4).

    ``train_loss`` and ``test_loss``: per step, shape (T,); ``kl`` is ``KL(rho_N ||
    rho)`` and ``kl_reverse`` is ``KL(rho || rho_N)`` (``inf`` when infinite, see
    :func:`kl_divergence`); ``missing_variance`` is ``Tr(Sigma P_null)``; ``generated``
    is ``rho_N`` itself, ``data`` the law ``rho`` and ``denoiser`` the model.
    """

    train_loss: np.ndarray
    test_loss: np.ndarray
    kl: float
    kl_reverse: float
    missing_variance: float
    generated: Gaussian
    data: Gaussian
    denoiser: LinearDenoiser


def exact_metrics(
    den: LinearDenoiser,
    sched: Schedule,
    rho: Gaussian,
    X,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> Metrics:
    """Train and test loss, KL both ways and missing variance of ``den`` fitted to ``X ~
    rho`` (chapter 4).

    The one call behind every sweep of the book: :func:`train_loss`, :func:`test_loss`,
    :func:`generated_distribution`, :func:`kl_divergence` both ways and
    :func:`missing_variance`, all exact (no sampling). ``X`` is the training set or its
    empirical Gaussian (:meth:`Gaussian.from_samples`), on which the train loss is the
    test loss (chapter 1). Cost O(N d r + d r r_rho + T r).
    """
    den, sched = _check_denoiser(den, sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    _check_den(den, rho)
    if isinstance(X, Gaussian):
        _check_den(den, X)
    else:
        X = _array("X", X, ndim=2)
        if X.shape[1] != den.d:
            raise ValueError(f"X: expected shape (N, {den.d}), got {X.shape}")
    return _exact_metrics(den, sched, rho, X, sampler, sigma)


def _exact_metrics(den, sched, rho, X, sampler, sigma) -> Metrics:
    """The metrics for checked input, each by its kernel (nothing checked twice)."""
    rho_n = _generated(den, sched, sampler, sigma)
    fitted = _test_loss(den, X) if isinstance(X, Gaussian) else _train_loss(den, X)
    return Metrics(
        train_loss=fitted,
        test_loss=_test_loss(den, rho),
        kl=_kl(rho_n, rho),
        kl_reverse=_kl(rho, rho_n),
        missing_variance=_missing(den, rho),
        generated=rho_n,
        data=rho,
        denoiser=den,
    )


def trial(
    d: int,
    k: float,
    N: int,
    sched: Schedule,
    rng: np.random.Generator,
    weight_decay: float = 0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> Metrics:
    """One random experiment of the book's sweeps, with its exact metrics (chapters 3 to
    7).

    Draws ``rho = power_law_gaussian(d, k, rng)`` (random mean and rotation), then ``N``
    training points from it, fits the linear denoiser (``weight_decay``, ``train_time``)
    and returns :func:`exact_metrics`; ``Metrics.data`` is the ``rho`` drawn. The random
    numbers are drawn in that order, so a loop of trials is reproducible from its seed.
    """
    sampler, sigma = _check_sampler(sampler, sigma)
    rho = power_law_gaussian(d, k, rng)
    X = rho.sample(_integer("N", N, low=2), rng)
    den = fit_linear_denoiser(X, sched, weight_decay, train_time, regularization)
    return _exact_metrics(den, den.schedule, rho, X, sampler, sigma)


# ---------------------------------------------------------------------------
# Chapters 5 and 6: the typical case, deterministic equivalents (with weight decay)
# ---------------------------------------------------------------------------


def _bracketed_newton(fun, lo, hi, rtol=1e-13, max_iter=300, x0=None):
    """Roots of increasing functions, vectorized: Newton steps kept inside a shrinking
    bracket.

    ``fun(x, idx)`` returns ``(f, f', scale)`` at the points ``x`` of the problems
    ``idx``, ``scale`` the size of the terms summed in ``f`` (a root is accepted once
    ``|f|`` is at the rounding level ``32 eps scale``); ``f(lo) <= 0 <= f(hi)`` on
    entry. A step that leaves the bracket is replaced by bisection (geometric when
    the bracket spans more than a factor 4 and ``lo > 0``); only unconverged
    problems are evaluated. ``x0`` is an optional starting guess (continuation).
    Raises ``RuntimeError`` if some root has not converged, rather than returning
    it silently.

    Hand-written rather than ``scipy.optimize.elementwise.find_root`` because the
    equation's derivative is known in closed form: Chandrupatla's method, which does
    not use it, needs 6 to 13 evaluations per root where this needs 3 to 4, and is 2 to
    8 times slower on the sweeps of ``benchmarks/bench_typical.py``, which prints the
    ratio; ``lindiff_reference.kappa_find_root`` is that road, kept as an independent
    check.
    """
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    x = np.where(lo > 0, np.sqrt(lo * np.maximum(hi, lo)), 0.5 * (lo + hi))
    if x0 is not None:
        x = np.where((x0 > lo) & (x0 < hi), x0, x)
    collapsed = hi - lo <= rtol * np.abs(hi)
    x = np.where(collapsed, 0.5 * (lo + hi), x)
    active = np.flatnonzero(~collapsed)
    for _ in range(max_iter):
        if active.size == 0:
            return x
        xa, la, ha = x[active], lo[active], hi[active]
        f, fp, scale = fun(xa, active)
        exact = np.abs(f) <= _rounding(scale)  # f is zero to the rounding of its terms
        la = np.where(f < 0, xa, la)
        ha = np.where(f > 0, xa, ha)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = xa - f / fp
        bad = ~np.isfinite(new) | (new <= la) | (new >= ha)
        geometric = (la > 0) & (ha > 4 * la)
        new = np.where(bad, np.where(geometric, np.sqrt(la * ha), 0.5 * (la + ha)), new)
        shut = ha - la <= rtol * np.abs(ha)
        converged = exact | shut | (np.abs(new - xa) <= rtol * np.abs(xa))
        x[active] = np.where(exact, xa, np.where(shut, 0.5 * (la + ha), new))
        lo[active], hi[active] = la, ha
        active = active[~converged]
    raise RuntimeError(
        "silverstein_kappa: the bracketed Newton iteration did not converge"
    )


def _kappa_stats(lam, k):
    """``(sum k/(lam + k), sum lam^2/(lam + k)^2)`` for each ``k``: the pieces of the
    equation.

    ``1 - df1/N`` is written as ``((N - d_plus) + sum k/(lam + k)) / N`` to avoid
    cancellation.
    """
    r = k[:, None] / (lam[None, :] + k[:, None])
    return r.sum(axis=1), ((1.0 - r) ** 2).sum(axis=1)


def _solve_kappa(lam, d_plus, trace, N, c, kappa0, guess):
    """Roots of ``k (N - d_plus + sum k/(lam + k)) / N = c`` in ``[kappa0, c + Tr/N]``,
    in blocks.
    """
    out = np.empty_like(c)
    step = max(1, 2**21 // max(lam.size, 1))
    for s in range(0, c.size, step):
        Nb, cb = N[s : s + step], c[s : s + step]

        def f(k, idx):
            rest, df2 = _kappa_stats(lam, k)
            n_, c_ = Nb[idx], cb[idx]
            scale = k * (np.abs(n_ - d_plus) + rest) / n_ + c_
            return k * ((n_ - d_plus) + rest) / n_ - c_, 1.0 - df2 / n_, scale

        x0 = None if guess is None else guess[s : s + step]
        out[s : s + step] = _bracketed_newton(
            f, kappa0[s : s + step], cb + trace / Nb, x0=x0
        )
    return out


def _continuation_guess(N_known, c_known, k_known, N_new, c_new):
    """Starting guesses for new roots from solved ones with the same ``N``: log-log
    interpolation in ``c``.
    """
    guess = np.full(c_new.shape, np.nan)
    for n_val in np.unique(N_new):
        known = N_known == n_val
        if np.count_nonzero(known) < 2:
            continue
        order = np.argsort(c_known[known])
        lc, lk = np.log(c_known[known][order]), np.log(k_known[known][order])
        sel = N_new == n_val
        guess[sel] = np.exp(np.interp(np.log(c_new[sel]), lc, lk))
    return guess


def silverstein_kappa(eigenvalues, N, c) -> np.ndarray:
    """The root ``kappa >= c`` of ``kappa - c = (kappa / N) sum_nu lambda_nu /
    (lambda_nu + kappa)`` (chapter 5).

    ``kappa`` renormalizes the ridge: for the sample covariance ``S`` of ``N`` centred
    samples of ``N(0, Sigma)``, ``c (S + c)^-1 ~ kappa (Sigma + kappa)^-1`` (Silverstein
    and Bai). For ``c = 0`` it is ``kappa_0``, the root of ``sum_nu lambda_nu /
    (lambda_nu + kappa_0) = N`` when ``N`` is below the number of non-zero eigenvalues,
    and 0 otherwise. Vectorized: ``N`` and ``c`` broadcast. The root is found by Newton
    steps inside the bracket ``[kappa_0, c + Tr Sigma / N]``, on which the equation is
    increasing; no starting guess is needed and a failure raises instead of returning a
    wrong root.
    """
    lam = _spectrum(eigenvalues)
    N = _array("N", N)
    c = _array("c", c)
    if np.any(N <= 0):
        raise ValueError(f"N: expected N > 0, got minimum {N.min():.3g}")
    if np.any(c < 0):
        raise ValueError(f"c: expected c >= 0, got minimum {c.min():.3g}")
    return _kappa(lam, N, c)


def _spectrum(eigenvalues) -> np.ndarray:
    """The eigenvalues of ``Sigma``: a 1-d array, ``>= 0``, at least one positive."""
    lam = _array("eigenvalues", eigenvalues, ndim=1)
    if np.any(lam < 0) or not np.any(lam > 0):
        raise ValueError(
            "eigenvalues: expected values >= 0, at least one of them positive"
        )
    return lam


def _kappa(lam: np.ndarray, N: np.ndarray, c: np.ndarray) -> np.ndarray:
    """:func:`silverstein_kappa` for checked input."""
    N, c = np.broadcast_arrays(N, c)
    lam = lam[lam > 0]
    d_plus, trace = lam.size, lam.sum()
    shape = N.shape
    N, c = N.ravel().astype(float), c.ravel().astype(float)

    # kappa_0: df1(k) = N, increasing form 1 - df1(k)/N, bracket [0, Tr / N].
    # It depends on N only: solve once per distinct N.
    kappa0 = np.zeros_like(N)
    N_under = np.unique(N[N < d_plus])
    if N_under.size:

        def g0(k, idx):
            rest, df2 = _kappa_stats(lam, k)
            df1 = d_plus - rest
            n_ = N_under[idx]
            scale = (np.abs(n_ - d_plus) + rest) / n_
            return ((n_ - d_plus) + rest) / n_, (df1 - df2) / (n_ * k), scale

        roots = _bracketed_newton(g0, np.zeros_like(N_under), trace / N_under)
        under = N < d_plus
        kappa0[under] = roots[np.searchsorted(N_under, N[under])]
    kappa = kappa0.copy()
    pos = np.flatnonzero(c > 0)
    # Continuation: where one N comes with many ridges c, solve a coarse subset first
    # and start the others from the log-log interpolation of those roots (kappa grows
    # with c).
    coarse = []
    for n_val in np.unique(N[pos]):
        idx = pos[N[pos] == n_val]
        if idx.size > 64:
            idx = idx[np.argsort(c[idx])]
            idx = idx[np.unique(np.linspace(0, idx.size - 1, 65).astype(int))]
        coarse.append(idx)
    coarse = np.concatenate(coarse) if coarse else pos
    fine = np.setdiff1d(pos, coarse)
    kappa[coarse] = _solve_kappa(
        lam, d_plus, trace, N[coarse], c[coarse], kappa0[coarse], None
    )
    if fine.size:
        guess = _continuation_guess(
            N[coarse], c[coarse], kappa[coarse], N[fine], c[fine]
        )
        kappa[fine] = _solve_kappa(
            lam, d_plus, trace, N[fine], c[fine], kappa0[fine], guess
        )
    return kappa.reshape(shape)


@dataclass(frozen=True)
class TypicalCase:
    """Deterministic equivalents for ``Sigma_0`` of ``N`` Gaussian samples with the mean
    estimated (chapter 5).

    All fields are arrays over the ridge ``c``: ``kappa``, ``dkappa`` (``d kappa / d
    c``) and the large-d limits of ``Tr (Sigma_0 + c)^-1`` (``tr_resolvent``), ``Tr
    (Sigma_0 + c)^-2``, ``Tr Sigma_0 (Sigma_0 + c)^-2``, ``Tr Sigma (Sigma_0 + c)^-1``,
    ``Tr Sigma (Sigma_0 + c)^-2`` and ``ln det (Sigma_0 + c)``.
    """

    c: np.ndarray
    kappa: np.ndarray
    dkappa: np.ndarray
    tr_resolvent: np.ndarray
    tr_resolvent2: np.ndarray
    tr_sigma0_resolvent2: np.ndarray
    tr_sigma_resolvent: np.ndarray
    tr_sigma_resolvent2: np.ndarray
    logdet: np.ndarray | None


def typical_case(eigenvalues, N: int, c, with_logdet: bool = True) -> TypicalCase:
    """``c (Sigma_0 + c)^-1 ~ kappa (Sigma' + kappa)^-1`` with ``n = N - 1``, ``Sigma' =
    (n/N) Sigma`` (chapter 5).

    With the mean estimated, ``Sigma_0`` is the sample covariance of ``n = N - 1``
    centred samples of ``N(0, (n/N) Sigma)``, so the Silverstein equation is solved with
    ``(n, Sigma')``. From ``kappa(c)`` and its derivative follow ``Tr (Sigma_0 + c)^-1 =
    (d - n)/c + n/kappa``, ``Tr Sigma (Sigma_0 + c)^-1 = N (kappa/c - 1)``, their
    ``c``-derivatives, and ``ln det(Sigma_0 + c) = ln det(Sigma' + kappa) + (d - n)
    ln(c/kappa) + n (c/kappa - 1)`` (skipped, ``None``, with ``with_logdet=False``).
    Requires ``c > 0``.
    """
    lam = _spectrum(eigenvalues)
    N = _integer("N", N, low=2)
    c = _array("c", c)
    if np.any(c <= 0):
        raise ValueError(f"c: expected c > 0, got minimum {c.min():.3g}")
    return _typical(lam, N, c, with_logdet)


def _typical(lam: np.ndarray, N: int, c: np.ndarray, with_logdet: bool) -> TypicalCase:
    """:func:`typical_case` for checked input."""
    d, n = lam.size, N - 1
    lam_s = lam * (n / N)
    kappa = _kappa(lam_s, np.asarray(float(n)), c)
    _, df2 = _kappa_stats(lam_s, kappa.ravel())
    dkappa = 1.0 / (1.0 - df2.reshape(kappa.shape) / n)
    logdet = None
    if with_logdet:
        logdet = (
            np.sum(np.log(lam_s[None, :] + kappa.ravel()[:, None]), axis=1).reshape(
                kappa.shape
            )
            + (d - n) * np.log(c / kappa)
            + n * (c / kappa - 1.0)
        )
    return TypicalCase(
        c=c,
        kappa=kappa,
        dkappa=dkappa,
        tr_resolvent=(d - n) / c + n / kappa,
        tr_resolvent2=(d - n) / c**2 + n * dkappa / kappa**2,
        tr_sigma0_resolvent2=n / kappa * (1.0 - c * dkappa / kappa),
        tr_sigma_resolvent=N * (kappa / c - 1.0),
        tr_sigma_resolvent2=N * (kappa - c * dkappa) / c**2,
        logdet=logdet,
    )


def predict_losses(
    eigenvalues,
    N: int,
    sched: Schedule,
    weight_decay: float = 0.0,
    regularization: str = "constant",
) -> tuple[np.ndarray, np.ndarray]:
    """Typical-case per-step ``(train, test)`` loss of the trained linear denoiser, each
    shape (T,) (chapters 5, 6).

    The denoiser is ``W_t = (s_t / abar_t) R_t`` with ``R_t = (Sigma_0 + c'_t)^-1`` and
    the ridge ``c'_t = c_t + gamma / abar_t``, ``c_t = (1 - abar_t)/abar_t``. Then
    ``test = d - 2 c_t Tr R + c_t^2 Tr R^2 + c_t (1 + 1/N) Tr Sigma R^2`` (the ``1/N``:
    the mean's estimation error) and ``train`` the same with ``Tr Sigma_0 R^2`` for ``(1
    + 1/N) Tr Sigma R^2``; each trace is replaced by its deterministic equivalent. For
    ``gamma = 0``: ``train = d - c_t Tr(Sigma_0 + c_t)^-1``. The step-scaled
    regularizer (``gamma_t = abar_t c``) has the ridge ``c'_t = c_t + c``.
    """
    sched = _check_schedule(sched)
    lam = _spectrum(eigenvalues)
    N = _integer("N", N, low=2)
    gamma = _decay(weight_decay, regularization, sched)
    c = sched.noise_to_signal
    tc = _typical(lam, N, c + gamma / sched.alpha_bar, with_logdet=False)
    common = lam.size - 2.0 * c * tc.tr_resolvent + c**2 * tc.tr_resolvent2
    train = common + c * tc.tr_sigma0_resolvent2
    test = common + c * (1.0 + 1.0 / N) * tc.tr_sigma_resolvent2
    return train, test


def predict_missing_variance(eigenvalues, N: int) -> float:
    """Typical-case ``Tr(Sigma P_null) ~ N kappa_0`` with ``kappa_0`` for ``(n, Sigma')
    = (N - 1, (N-1)/N Sigma)`` (chapter 5).
    """
    lam = _spectrum(eigenvalues)
    N = _integer("N", N, low=2)
    n = N - 1
    return float(N * _kappa(lam * (n / N), np.asarray(float(n)), np.asarray(0.0)))


def predict_kl(eigenvalues, N: int, c: float, reverse: bool = False) -> float:
    """Typical-case KL between ``N(mu_0, Sigma_0 + c Id)`` and ``rho = N(mu, Sigma)``
    (chapter 5).

    Forward (``reverse=False``): ``1/2 [c Tr Sigma^-1 + ln det Sigma - ln det(Sigma_0 +
    c)]`` (the trace and mean terms average exactly to ``d``); reverse: ``1/2 [(1 + 1/N)
    Tr Sigma (Sigma_0 + c)^-1 - d + ln det(Sigma_0 + c) - ln det Sigma]``; with the
    deterministic equivalents of ``typical_case``. ``rho_N`` of the default sampler is
    this Gaussian with ``c = beta_1`` up to ``f(lambda) - lambda - c``.
    """
    lam = _array("eigenvalues", eigenvalues, ndim=1)
    if np.any(lam <= 0):
        raise ValueError(
            "eigenvalues: expected a non-singular Sigma (all eigenvalues > 0)"
        )
    N = _integer("N", N, low=2)
    c = _real("c", c, low=0.0, low_open=True)
    tc = _typical(lam, N, np.array([c]), with_logdet=True)
    logdet_sigma = np.sum(np.log(lam))
    if not reverse:
        out = 0.5 * (c * np.sum(1.0 / lam) + logdet_sigma - tc.logdet[0])
    else:
        out = 0.5 * (
            (1.0 + 1.0 / N) * tc.tr_sigma_resolvent[0]
            - lam.size
            + tc.logdet[0]
            - logdet_sigma
        )
    return float(out)


# ---------------------------------------------------------------------------
# Chapter 5: the limiting spectral density of Sigma_0 and typical-case averages
# ---------------------------------------------------------------------------


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
    ``z = x(m)`` (:func:`_x_of_m`), from the guesses ``m``, vectorized over ``z``.

    With ``upper=True`` every ``z`` has ``Im z > 0`` and the root sought is the one in
    the upper half plane (Silverstein and Bai: it is unique there): a step that would
    leave it is halved until it does not. Raises ``RuntimeError`` if some root has not
    converged after ``max_iter`` steps; with ``strict=False`` (a guess for the next
    stage of a continuation) it stops at ``1e-6`` relative or after ``max_iter`` steps
    and returns the last finite iterate.
    """
    m = np.array(m, dtype=complex)
    active = np.arange(m.size)
    for _ in range(max_iter):
        ma, za = m[active], z[active]
        r = 1.0 + np.multiply.outer(ma, v)
        F = za + 1.0 / ma - (c * v / r).sum(axis=-1) / n
        dF = -1.0 / ma**2 + (c * v**2 / r**2).sum(axis=-1) / n
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
        scale = np.abs(za) + np.abs(1.0 / ma) + (c * v / np.abs(r)).sum(axis=-1) / n
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
    """:func:`_support` (the divisions by ``m = 0`` at a bracket's end give inf)."""
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


class _Spectral:
    """The limiting spectral measure of ``Sigma_0`` for one population and ``N``.

    Holds the support and, per quadrature level, the nodes, weights and ``m`` at the
    nodes (computed on first use); :meth:`average` integrates against the (weighted)
    density and :meth:`atom` gives the (weighted) atom at zero.
    """

    def __init__(self, lam: np.ndarray, N: int):
        self.lam, self.N = lam, N
        self.v, self.c, self.n, self.d, self.zero = _population(lam, N)
        self._intervals = None
        self._levels = None

    @property
    def intervals(self):
        """The support intervals (:func:`_support`), computed on first use."""
        if self._intervals is None:
            self._intervals = _support(self.v, self.c, self.n)
        return self._intervals

    @property
    def top(self) -> float:
        """The upper edge of the support."""
        if self._intervals is not None:
            return self._intervals[-1][1]
        v, c, n = self.v, self.c, self.n
        m = _brent_edge(
            lambda m: _x_of_m(m, v, c, n)[1], -1.0 / v[0] * (1 - 1e-15), -1e-300
        )
        return float(_x_of_m(m, v, c, n)[0])

    def panels(self):
        """The initial quadrature panels: each support interval cut at ``a 4^j``."""
        panels = []  # (u, w, edge at u, edge at w)
        for a, b in self.intervals:
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
        t16 = 0.5 * (1 + np.polynomial.legendre.leggauss(16)[0])
        t32 = 0.5 * (1 + np.polynomial.legendre.leggauss(32)[0])
        guess16 = None
        for _ in range(max_rounds):
            x16, w16 = self._nodes(panels, 16)
            x32, w32 = self._nodes(panels, 32)
            g = None if guess16 is None else guess16.ravel()
            m16 = self._solve(x16.ravel(), g).reshape(x16.shape)
            guess32 = self._interpolate(t16, m16, np.broadcast_to(t32, x32.shape))
            m32 = self._solve(x32.ravel(), guess32.ravel()).reshape(x32.shape)
            r16 = w16 * self.density(x16, m16)
            r32 = w32 * self.density(x32, m32)
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
                t32, np.r_[m32[bad], m32[bad]], self._local(parent, xs)
            )
        else:
            raise RuntimeError("limiting_density: the quadrature did not converge")
        return [np.concatenate(z) for z in zip(*done)]

    def level(self):
        """The refined panels, nodes ``x``, weights and ``m(x + i0)`` (32 per panel)."""
        if self._levels is None:
            self._levels = self._refine(self.panels())
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
            r = 1.0 + np.multiply.outer(m, v)
            F = z + 1.0 / m - (c * v / r).sum(axis=-1) / n
            size = np.abs(z) + np.abs(1.0 / m) + (c * v / np.abs(r)).sum(axis=-1) / n
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

    def weights(self, a):
        """Per distinct positive eigenvalue, the summed weights ``a_nu`` (``a = None``:
        all ones), and the summed weight of the zero eigenvalues."""
        if a is None:
            return self.c, float(self.zero)
        pos = self.lam > 0
        vals = self.lam[pos] * (self.n / self.N)
        idx = np.searchsorted(-self.v, -vals)
        A = np.zeros_like(self.v)
        np.add.at(A, idx, a[pos])
        return A, float(np.sum(a[~pos]))

    def density(self, x, m, a=None):
        """``(1/pi) Im (1/d) sum_nu a_nu / (-z (1 + v_nu m))`` at ``z = x + i0``."""
        A, _ = self.weights(a)
        r = 1.0 + np.multiply.outer(m, self.v)
        g = -(A / r).sum(axis=-1) / (x * self.d)
        return np.maximum(g.imag, 0.0) / np.pi

    def atom(self, a=None):
        """The (weighted) mass at zero: ``(1/d) sum_nu a_nu kappa_0/(v_nu + kappa_0)``
        plus the zero eigenvalues of ``Sigma``; ``kappa_0 = 0`` for ``n >= d_+``."""
        A, A0 = self.weights(a)
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

    def cdf(self, points):
        """The mass of the continuous part in ``(0, x]`` for each ``x`` of ``points``:
        the masses of the panels below ``x`` plus the part of the panel holding ``x``,
        by 32 Gauss nodes on the cut panel."""
        panels, x, wt, m, *_ = self.level()
        mass = np.sum(wt * self.density(x, m), axis=1)
        out = np.array([mass[panels[:, 1] <= p].sum() for p in points])
        cut = [
            (i, np.flatnonzero((panels[:, 0] < p) & (panels[:, 1] > p)))
            for i, p in enumerate(points)
        ]
        cut = [(i, j[0]) for i, j in cut if j.size]
        if cut:
            rows = np.array([panels[j] for _, j in cut])
            rows[:, 1] = [points[i] for i, _ in cut]
            rows[:, 3] = 0.0
            xs, ws = self._nodes(rows, 32)
            ms = self._solve(xs.ravel()).reshape(xs.shape)
            out[[i for i, _ in cut]] += np.sum(ws * self.density(xs, ms), axis=1)
        return out

    def average(self, phi, a=None):
        """``(integral, error, scale)`` of ``phi(x) rho_a(x)`` over the support on the
        refined panels: 32 Gauss nodes per panel, the error estimated from 16, and the
        integral of ``|phi| rho_a``."""
        panels, x, wt, m, x16, w16, m16 = self.level()
        dens = (wt * self.density(x, m, a)).ravel()
        vals = np.asarray(phi(x.ravel()), dtype=float)
        total = vals @ dens
        low = (
            np.asarray(phi(x16.ravel()), dtype=float)
            @ (w16 * self.density(x16, m16, a)).ravel()
        )
        return total, np.abs(total - low), np.abs(vals) @ dens


class _Contour:
    """Cauchy integrals of the resolvent of ``Sigma_0`` on a closed contour around the
    spectrum, for functions analytic off ``(-inf, -p]``.

    The contour is an ellipse in ``w = ln(z + p)``, which maps the cut plane to the
    strip ``|Im w| < pi`` and the spectrum ``[0, b]`` to ``[ln p, ln(b + p)]``; the
    ellipse runs from ``ln p - 1`` to ``ln(b + p) + 1/2`` with half-height ``1.2 <
    pi/2`` (so ``Re z > -p`` on it). ``K`` trapezoid nodes in the angle; by symmetry
    only
    the upper half (``K/2 + 1`` nodes) is evaluated. ``m`` is continued along the upper
    half from the right end, where ``z > b`` is real.
    """

    def __init__(self, spec, p: float, K: int | None = None):
        b = spec.top
        lo, hi = np.log(p) - 1.0, np.log(b + p) + 0.5
        if K is None:  # 12 nodes per unit length of the ellipse's axis, 64 to 512
            K = int(np.clip(2 ** np.ceil(np.log2(12 * (hi - lo))), 64, 512))
        self.spec, self.p, self.K = spec, p, K
        self.pair_step = 2  # the pair matrix on every other node
        theta = 2 * np.pi * np.arange(K // 2 + 1) / K
        w = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(theta) + 1.2j * np.sin(theta)
        dw = -0.5 * (hi - lo) * np.sin(theta) + 1.2j * np.cos(theta)
        self.z = np.exp(w) - p
        self.z[[0, -1]] = self.z[[0, -1]].real
        self.dz = np.exp(w) * dw
        m = np.empty_like(self.z)
        guess = -1.0 / self.z[0]
        for k, z in enumerate(self.z):
            m[k] = _companion(
                np.array([z]),
                np.array([guess]),
                spec.v,
                spec.c,
                spec.n,
                upper=0 < k < K // 2,
            )[0]
            guess = m[k]
        self.m = m
        self.sym = np.r_[1.0, 2.0 * np.ones(K // 2 - 1), 1.0] / K

    def resolvent(self, a=None, every: int = 1):
        """``(1/d) Tr(A (z - Sigma_0)^-1)`` at the nodes (every ``every``-th), ``A``
        diagonal in the eigenbasis of ``Sigma`` with entries ``a``."""
        A, A0 = self.spec.weights(a)
        z, m = self.z[::every], self.m[::every]
        r = 1.0 + np.multiply.outer(m, self.spec.v)
        return ((A / r).sum(axis=-1) + A0) / (z * self.spec.d)

    def kernel(self, a=None):
        """The trapezoid weights on the upper half for the weights ``a``: ``average``
        is ``Im(phi @ kernel)``; rows for all ``K`` nodes and for every other node."""
        full = self.resolvent(a) * self.dz * self.sym
        half = 2.0 * full[::2] * np.r_[1.0, np.ones(full[::2].size - 2), 1.0]
        return full, half

    def average(self, values, a=None):
        """``(1/d) sum_i phi(lambda_i) u_i^T A u_i`` from ``phi`` at the nodes (last
        axis), with the error estimated from every other node: ``(value, error)``."""
        full, half = self.kernel(a)
        value = np.imag(values @ full)
        return value, np.abs(value - np.imag(values[..., ::2] @ half))

    def full(self, upper, derivative=False):
        """Values on the whole contour from those on its upper half (``phi(conj z) =
        conj phi(z)``; the derivative ``dz`` changes sign as well)."""
        lower = np.conj(upper[..., -2:0:-1])
        return np.concatenate([upper, -lower if derivative else lower], axis=-1)

    def pair(self, a, b):
        """The quadratic form ``M`` with ``(1/(2 pi i))^2 oint oint phi(z1) phi(z2)
        Tr(A R(z1) B R(z2)) = phi^T M phi`` over every other node of the whole contour,
        ``R = (z - Sigma_0)^-1``, from the deterministic equivalent of two resolvents,
        ``Tr(A Q1 B Q2) ~ sum a b q1 q2 + [(1/n) sum v b q1 q2 zm1 zm2] [sum a v
        q1 q2] / [1 - (1/n) sum v^2 q1 q2 zm1 zm2]``, with ``Q = (Sigma_0 - z)^-1``,
        ``q = -1/(z (1 + v m))`` and ``zm = z m`` (``Sigma`` non-singular; ``a``,
        ``b`` functions of the eigenvalue)."""
        spec = self.spec
        A, _ = spec.weights(a)
        B, _ = spec.weights(b)
        # per distinct eigenvalue: the mean weight (a and b are functions of lambda)
        A, B = A / spec.c, B / spec.c
        step = self.pair_step
        z, m = self.full(self.z)[::step], self.full(self.m)[::step]
        dz = self.full(self.dz, derivative=True)[::step]
        q = -1.0 / (z[:, None] * (1.0 + np.multiply.outer(m, spec.v)))
        zm = z * m
        v, c, n = spec.v, spec.c, spec.n
        T = (q * (c * A * B)) @ q.T
        num = ((q * (c * v * B)) @ q.T) * np.outer(zm, zm) / n
        den = 1.0 - ((q * (c * v**2)) @ q.T) * np.outer(zm, zm) / n
        T = T + num * ((q * (c * A * v)) @ q.T) / den
        omega = dz / (2j * np.pi) * (2 * np.pi / (self.K // step))
        return omega[:, None] * T * omega[None, :]


@dataclass(frozen=True)
class TypicalMetrics:
    """Typical-case metrics of the trained chain (chapters 6, 7), one value per point
    of a sweep: the summed test loss, ``KL(rho_N || rho)``, ``KL(rho || rho_N)``, and
    ``error``, the largest estimated quadrature error of the three, relative."""

    test_loss: np.ndarray
    kl: np.ndarray
    kl_reverse: np.ndarray
    error: np.ndarray


def _metrics_on(
    con, kern, pair, sched, gamma, tau, N, lam, sampler="ddpm", sigma="beta"
):
    """``((test, kl, kl_reverse), error, pair_error)`` of :func:`predict_metrics` on
    one contour; the errors are the largest change of a trace between ``K`` and ``K/2``
    nodes, and of the mean term between the pair matrix's nodes and half of them,
    relative to the smallest of the three metrics."""
    d, a = lam.size, sched.alpha_bar
    k_one, k_lam, k_inv = kern
    gains, res = _gain(con.z, sched, gamma, None if np.isinf(tau) else tau)
    f, h = _moments(gains, res, sched, sampler, sigma)
    phase = np.unwrap(np.angle(f))
    if abs(phase[-1]) > 1.0 or abs(phase[0]) > 1.0:
        raise RuntimeError("predict_metrics: f has zeros inside the contour")
    log_f = np.log(np.abs(f)) + 1j * phase
    rows = [
        (np.sum(res**2, axis=0), k_one),
        (np.sum(a[:, None] * gains**2, axis=0), k_lam),
        (f, k_inv),
        (log_f, k_one),
        (1.0 / f, k_lam),
        (h**2 / f, k_lam),
    ]
    parts = np.array([np.imag(v @ k[0]) for v, k in rows])
    halves = np.array([np.imag(v[::2] @ k[1]) for v, k in rows])
    fit, spread, tr_f, tr_log, tr_inv, tr_mean = d * parts
    h_all = con.full(h)[:: con.pair_step]
    mean_fwd = float(np.real(h_all @ pair @ h_all)) / N
    mean_half = float(np.real(h_all[::2] @ pair[::2, ::2] @ h_all[::2])) * 4 / N
    logdet = np.sum(np.log(lam))
    values = np.array(
        [
            fit + (1 + 1 / N) * spread,
            0.5 * (tr_f + mean_fwd - d + logdet - tr_log),
            0.5 * (tr_inv + tr_mean / N - d + tr_log - logdet),
        ]
    )
    size = np.min(np.abs(values))
    return (
        values,
        d * np.max(np.abs(parts - halves)) / size,
        abs(mean_fwd - mean_half) / size,
    )


def predict_metrics(
    eigenvalues,
    N: int,
    sched: Schedule,
    weight_decay=0.0,
    train_time=None,
    sampler: str = "ddpm",
    sigma: str = "beta",
    regularization: str = "constant",
) -> TypicalMetrics:
    """Typical-case summed test loss and KL divergences of the linear model trained on
    ``N`` samples of ``rho = N(0, Sigma)``, through the exact ``f(lambda)`` and
    ``h(lambda)`` of the chain (chapters 6, 7).

    The generated law is ``N(h(Sigma_0) mu_0, f(Sigma_0))`` and ``mu_0 ~ N(0, Sigma/N)``
    is independent of ``Sigma_0``, so that

    * ``KL(rho_N || rho) = 1/2 [Tr Sigma^-1 f(Sigma_0) + (1/N) Tr(Sigma h Sigma^-1 h) -
      d + ln det Sigma - Tr ln f(Sigma_0)]``,
    * ``KL(rho || rho_N) = 1/2 [Tr Sigma f^-1 + (1/N) Tr Sigma h^2 f^-1 - d + Tr ln f -
      ln det Sigma]``,
    * test loss ``sum_t [Tr (1 - s_t w_t)^2 + (1 + 1/N) abar_t Tr Sigma w_t^2]``,

    every trace a typical-case average over ``Sigma_0`` with weights ``1``, ``lambda``
    or
    ``1/lambda`` in the eigenbasis of ``Sigma`` (:func:`typical_average`), and the mean
    term of the forward divergence from the deterministic equivalent of two resolvents.
    All are Cauchy integrals on one contour around the spectrum (:class:`_Contour`),
    ``f``, ``h`` and ``w_t`` evaluated at complex ``lambda``: they are analytic except
    at
    the poles ``lambda = -(1 - abar_t + gamma_t)/abar_t``. ``weight_decay`` and
    ``train_time`` broadcast (arrays give sweeps). Each point doubles the nodes of its
    contour until the traces and the mean term change by at most ``1e-6`` of the
    smallest metric between the nodes and half of them (``error`` holds that estimate).
    Raises ``RuntimeError`` if ``f`` has zeros inside the contour (then ``ln f`` is not
    analytic there). The population mean is zero, as in the chapters.
    """
    sched = _check_schedule(sched)
    sampler, sigma = _check_sampler(sampler, sigma)
    lam = _array("eigenvalues", eigenvalues, ndim=1)
    if np.any(lam <= 0):
        raise ValueError(
            "eigenvalues: expected a non-singular Sigma (all eigenvalues > 0)"
        )
    N = _integer("N", N, low=2)
    gam = _array("weight_decay", weight_decay)
    if np.any(gam < 0):
        raise ValueError(f"weight_decay: expected values >= 0, got {gam.min():.3g}")
    if regularization not in REGULARIZATIONS:
        raise ValueError(
            f"regularization: expected one of {REGULARIZATIONS}, got {regularization!r}"
        )
    taus = np.array(np.inf) if train_time is None else _array("train_time", train_time)
    if np.any(taus <= 0):
        raise ValueError(f"train_time: expected values > 0, got {taus.min():.3g}")
    gam, taus = np.broadcast_arrays(gam, taus)
    shape = gam.shape
    gam, taus = gam.ravel(), taus.ravel()
    a = sched.alpha_bar
    scale = a if regularization == "step-scaled" else 1.0
    # the poles of f, h, w_t nearest to the spectrum; an early stop removes them but
    # makes exp(-2 tau C_t) vary on the scale 1/tau, so the contour hugs the origin
    # within p ~ 1/tau; p is rounded down to a power of ten, so that the points of a
    # sweep share few contours
    p_poles = np.min(
        (
            sched.one_minus_alpha_bar[:, None]
            + np.multiply.outer(scale * np.ones_like(a), gam)
        )
        / a[:, None],
        axis=0,
    )
    p_tau = np.where(np.isinf(taus), np.inf, 0.5 / taus)
    p_all = 10.0 ** np.floor(np.log10(np.minimum(p_poles, p_tau)))
    spec = _spectral(lam, N)
    contours = {}

    def on_contour(p, K):
        """The contour of ``p`` with ``K`` nodes, its kernels and pair matrix."""
        if (p, K) not in contours:
            con = _Contour(spec, float(p), K)
            kern = [con.kernel(w) for w in (None, lam, 1.0 / lam)]
            contours[p, K] = con, kern, con.pair(lam, 1.0 / lam)
        return contours[p, K]

    out = np.empty((3, gam.size))
    err = np.empty(gam.size)
    nodes = {}  # per contour, the number of nodes the last point needed
    for i, (g, tau, p) in enumerate(zip(gam, taus, p_all)):
        while True:
            con, kern, pair = on_contour(p, nodes.get(p))
            values, error, pair_error = _metrics_on(
                con, kern, pair, sched, scale * g, tau, N, lam, sampler, sigma
            )
            if max(error, pair_error) <= 1e-6 or con.K >= 4096:
                break
            nodes[p] = 2 * con.K  # not converged: twice the nodes on the same ellipse
        out[:, i], err[i] = values, max(error, pair_error)
    return TypicalMetrics(*(o.reshape(shape) for o in out), err.reshape(shape))


_SPECTRAL_CACHE: dict = {}


def _spectral(lam: np.ndarray, N: int) -> _Spectral:
    """The :class:`_Spectral` of ``(Sigma, N)``, kept for the last 8 populations (it
    holds no randomness: the same input gives the same object)."""
    key = (lam.tobytes(), lam.size, N)
    if key not in _SPECTRAL_CACHE:
        if len(_SPECTRAL_CACHE) >= 8:
            _SPECTRAL_CACHE.pop(next(iter(_SPECTRAL_CACHE)))
        _SPECTRAL_CACHE[key] = _Spectral(lam, N)
    return _SPECTRAL_CACHE[key]


def limiting_density(eigenvalues, N: int, x=None):
    """``(x, density, atom)``: the large-d spectral density of ``Sigma_0`` of ``N``
    samples of ``N(mu, Sigma)`` (mean estimated) and its atom at zero (chapter 5).

    ``Sigma_0`` is the sample covariance of ``n = N - 1`` centred samples of
    ``N(0, Sigma')``, ``Sigma' = (n/N) Sigma``. Its companion Stieltjes transform
    ``m(z)`` solves ``z = -1/m + (1/n) sum_nu lambda'_nu / (1 + lambda'_nu m)``
    (Silverstein and Bai), solved by Newton's method at ``z = x + i eta`` continued
    from ``eta = 4 x_max`` down to ``eta = 1e-13 x``, where the smoothing of the density
    is below ``1e-12`` of it except within ``1e-12`` of an edge; the density is ``(n/d)
    Im m(x + i0)/pi`` inside the support (from the real critical points of ``x(m)``,
    :func:`_support`) and 0 outside. ``atom = 1 - min(n, d_+)/d`` (``d_+`` positive
    eigenvalues). ``x = None`` returns the density at the nodes of the quadrature that
    :func:`typical_average` uses (sorted); the density and the atom integrate to one.
    """
    lam = _spectrum(eigenvalues)
    N = _integer("N", N, low=2)
    spec = _spectral(lam, N)
    if x is None:
        _, x, _, m, *_ = spec.level()
        x, m = x.ravel(), m.ravel()
        order = np.argsort(x)
        x, m = x[order], m[order]
    else:
        x = _array("x", x, ndim=1)
        m = np.zeros(x.shape, dtype=complex)
        inside = np.zeros(x.shape, dtype=bool)
        for a, b in spec.intervals:
            inside |= (x > a) & (x < b)
        if inside.any():
            m[inside] = spec._solve(x[inside])
    density = np.zeros(x.shape)
    pos = m != 0
    density[pos] = spec.density(x[pos], m[pos])
    return x, density, spec.atom()


def limiting_cdf(eigenvalues, N: int, x) -> np.ndarray:
    """The large-d fraction of the eigenvalues of ``Sigma_0`` at or below each ``x``
    (the atom at zero included), from :func:`limiting_density` integrated by the same
    quadrature (chapter 5)."""
    lam = _spectrum(eigenvalues)
    N = _integer("N", N, low=2)
    x = _array("x", x, ndim=1)
    spec = _spectral(lam, N)
    return np.where(x >= 0, spec.atom(), 0.0) + np.where(x > 0, spec.cdf(x), 0.0)


def typical_average(phi, eigenvalues, N: int, weights=None, rtol: float = 1e-8):
    """Typical-case ``(1/d) E sum_i phi(lambda_i) u_i^T A u_i`` over the eigenpairs of
    ``Sigma_0`` of ``N`` samples of ``N(mu, Sigma)`` (chapter 5).

    ``A`` is diagonal in the eigenbasis of ``Sigma`` with entries ``weights`` (default
    ``1``: ``(1/d) E Tr phi(Sigma_0)``). Its large-d value is ``integral phi(x)
    rho_A(x) dx + phi(0) atom_A``, with the weighted density ``rho_A(x) = (1/pi) Im
    (1/d) Tr A (Sigma_0 - x - i0)^-1`` and ``Tr A (Sigma_0 - z)^-1 ~ -(1/z) sum_nu
    a_nu / (1 + lambda'_nu m(z))`` (:func:`limiting_density`). The integral is Gauss-
    Legendre on panels of the support, refined until the mass and first moment of each
    agree between 16 and 32 nodes to ``1e-12``; at an edge in ``t`` with ``x - edge ~
    t^2``, which makes square-root and hard (``x^-1/2``) edges smooth. ``phi`` takes the
    array of nodes ``x`` and returns values over its last axis (a stack of functions
    gives a stack of averages). Raises ``RuntimeError`` if the 16-node estimate of the
    error exceeds ``rtol`` times the average of ``|phi|``.
    """
    lam = _spectrum(eigenvalues)
    N = _integer("N", N, low=2)
    if not callable(phi):
        raise ValueError(f"phi: expected a function of x, got {_describe(phi)}")
    if weights is not None:
        weights = _array("weights", weights, ndim=1)
        if weights.size != lam.size:
            raise ValueError(
                f"weights: expected {lam.size} values (one per eigenvalue), got "
                f"{weights.size}"
            )
    rtol = _real("rtol", rtol, low=0.0, low_open=True)
    spec = _spectral(lam, N)
    value, error, scale = spec.average(phi, weights)
    if np.any(error > rtol * np.maximum(scale, 1e-300)):
        raise RuntimeError("typical_average: the quadrature did not reach rtol")
    at_zero = np.asarray(phi(np.zeros(1)), dtype=float)[..., 0]
    out = value + at_zero * spec.atom(weights)
    return float(out) if np.ndim(out) == 0 else out


# ---------------------------------------------------------------------------
# Chapter 7: early stopping as explicit gradient descent
# ---------------------------------------------------------------------------


def gradient_descent(
    X,
    sched: Schedule,
    t: int,
    learning_rate: float,
    n_steps: int,
    weight_decay: float = 0.0,
    regularization: str = "constant",
    init=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain gradient descent ``W <- W - eta grad_W L_t`` from ``W = init`` (``None``:
    ``W = 0``), as explicit iterations (chapter 7).

    The gradient of the step-t loss (no factor 1/2) is computed from the training
    points, with the bias at its optimum ``b = -sqrt(abar_t) W mu_0`` for the current
    ``W``: ``grad = -2 s (Id - s W) + 2 abar_t W Sigma_0 + 2 gamma W`` with ``Sigma_0``
    never formed. Dense d x d: for checks of the closed form
    ``W_k = W_t^* (Id - (Id - 2 eta C_t)^k) + W_0 (Id - 2 eta C_t)^k``, whose
    gradient-flow limit (``eta -> 0``, ``k eta = tau``) is
    ``fit_linear_denoiser(..., train_time=tau)`` from ``W_0 = 0`` and
    :func:`fit_from_init` otherwise. Returns ``(W, b)`` after ``n_steps`` iterations.
    """
    sched = _check_schedule(sched)
    X = _array("X", X, ndim=2)
    if X.shape[0] < 2:
        raise ValueError(
            f"X: expected at least N = 2 samples (rows), got N = {X.shape[0]}"
        )
    t = sched.check_step(t)
    eta = _real("learning_rate", learning_rate, low=0.0, low_open=True)
    n_steps = _integer("n_steps", n_steps, low=0)
    gamma = _decay(weight_decay, regularization, sched)
    gamma = gamma if np.ndim(gamma) == 0 else gamma[t - 1]
    a = sched.alpha_bar[t - 1]
    s = np.sqrt(sched.one_minus_alpha_bar[t - 1])
    mu0 = X.mean(axis=0)
    Xc = X - mu0
    N, d = X.shape
    W = np.zeros((d, d)) if init is None else _square("init", init, d).copy()
    for _ in range(n_steps):
        grad = (
            -2.0 * s * (np.eye(d) - s * W)
            + 2.0 * a * ((Xc @ W.T).T @ Xc) / N
            + 2.0 * gamma * W
        )
        W = W - eta * grad
    return W, -np.sqrt(a) * W @ mu0


def _square(name: str, x, d: int) -> np.ndarray:
    """A finite d x d array."""
    x = _array(name, x, ndim=2)
    if x.shape != (d, d):
        raise ValueError(f"{name}: expected shape ({d}, {d}), got {x.shape}")
    return x


def random_init(d: int, sched: Schedule, rng, scale: float | None = None) -> np.ndarray:
    """Independent initial weights ``W_t(0)`` for every step, shape (T, d, d) (chapter
    7).

    Entries i.i.d. ``N(0, scale^2)``; the default ``scale = 1/sqrt(d)`` is the
    initialization of the paper's authors' code, which puts the eigenvalues of each
    ``W_t(0)`` in the unit disc (the circular law).
    """
    sched = _check_schedule(sched)
    d = _integer("d", d, low=1)
    rng = _generator("rng", rng)
    if scale is None:
        scale = 1.0 / np.sqrt(d)
    scale = _real("scale", scale, low=0.0)
    return scale * rng.standard_normal((sched.T, d, d))


@dataclass(frozen=True, eq=False)
class InitializedDenoiser:
    """Gradient flow from ``W_t(0) = init[t-1]`` after training time ``tau`` (chapter
    7).

    ``W_t(tau) = W_t^flow(tau) + W_t(0) E_t`` with ``W_t^flow(tau)`` the flow from
    ``W = 0`` (``flow``, a :class:`LinearDenoiser`) and ``E_t = exp(-2 tau C_t)``,
    stored in eigen form as ``decay`` (T, r) along ``Sigma_0``'s eigenbasis and
    ``null_decay`` (T,) along its null directions; ``b_t = -sqrt(abar_t) W_t mu_0``.
    The initial weights are dense, so this denoiser is too: it stores ``init`` (T x d x
    d numbers) and its generated law is propagated densely (O(T d^3)).
    """

    flow: LinearDenoiser
    init: np.ndarray
    decay: np.ndarray
    null_decay: np.ndarray

    @property
    def d(self) -> int:
        """Dimension."""
        return self.flow.d

    @property
    def schedule(self) -> Schedule:
        """The schedule the denoiser was trained with."""
        return self.flow.schedule

    @property
    def mean(self) -> np.ndarray:
        """The training mean ``mu_0``."""
        return self.flow.mean

    @property
    def train_time(self) -> float | None:
        """The training time ``tau`` (``None``: trained to convergence)."""
        return self.flow.train_time

    def _remaining(self, M, t: int) -> np.ndarray:
        """``M E_t`` for ``M`` of shape (..., d): what is left of ``M`` after tau."""
        V = self.flow.basis
        e, e0 = self.decay[t - 1], self.null_decay[t - 1]
        coef = M @ V
        return e0 * M + (coef * (e - e0)) @ V.T

    def weights(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Dense ``(W_t, b_t)`` for ``1 <= t <= T``."""
        t = self.schedule.check_step(t)
        W = self.flow.weights(t)[0] + self._remaining(self.init[t - 1], t)
        return W, -np.sqrt(self.schedule.alpha_bar[t - 1]) * (W @ self.mean)

    def apply(self, x, t: int) -> np.ndarray:
        """``eps_theta(x, t)`` for a batch ``x`` of shape (n, d)."""
        t = self.schedule.check_step(t)
        x = _array("x", x, ndim=2)
        if x.shape[1] != self.d:
            raise ValueError(f"x: expected {self.d} columns, got shape {x.shape}")
        return self._eps(x, t)

    def _eps(self, x, t):
        """``eps_theta(x, t)`` for a checked batch and step: ``(W_t(0) E_t) y`` is
        ``W_t(0) (E_t y)``, as ``E_t`` is symmetric."""
        y = x - np.sqrt(self.schedule.alpha_bar[t - 1]) * self.mean
        return self.flow._eps(x, t) + self._remaining(y, t) @ self.init[t - 1].T


def fit_from_init(
    X,
    sched: Schedule,
    init,
    train_time,
    weight_decay: float = 0.0,
    regularization: str = "constant",
) -> InitializedDenoiser:
    """Gradient flow on every step's loss from the initial weights ``init`` (chapter 7).

    ``dW/dtau = -grad_W L_t = 2 s_t Id - 2 W C_t`` from ``W_t(0)`` gives ``W_t(tau) =
    W_t^* (Id - E_t) + W_t(0) E_t``, ``E_t = exp(-2 tau C_t)``, ``C_t = abar_t Sigma_0 +
    (1 - abar_t + gamma_t) Id``: the initial weights are forgotten column by column in
    ``Sigma_0``'s eigenbasis, each at its own rate ``2 C_t(lam)``, the null directions
    last. The bias stays at its optimum ``-sqrt(abar_t) W mu_0``. ``init`` has shape
    (T, d, d) (:func:`random_init`) or (d, d) (the same start at every step);
    ``train_time = None`` (converged) forgets it entirely. ``X`` as in
    :func:`fit_linear_denoiser`.
    """
    flow = fit_linear_denoiser(X, sched, weight_decay, train_time, regularization)
    sched, d = flow.schedule, flow.d
    init = _array("init", init)
    if init.shape == (d, d):
        init = np.broadcast_to(init, (sched.T, d, d))
    if init.shape != (sched.T, d, d):
        raise ValueError(
            f"init: expected shape ({sched.T}, {d}, {d}) or ({d}, {d}), got "
            f"{init.shape}"
        )
    gamma = _decay(weight_decay, regularization, sched)
    if np.ndim(gamma):
        gamma = gamma[:, None]
    tau = flow.train_time
    a, one_minus = sched.alpha_bar[:, None], sched.one_minus_alpha_bar[:, None]
    C = a * np.append(flow.eigenvalues, 0.0) + one_minus + gamma
    E = np.zeros_like(C) if tau is None else np.exp(-2.0 * tau * C)
    init = init.copy()
    for arr in (init, E):
        arr.setflags(write=False)
    return InitializedDenoiser(flow, init, E[:, :-1], E[:, -1])


# ---------------------------------------------------------------------------
# Chapter 8: the optimal denoiser of the training set itself
# ---------------------------------------------------------------------------


def empirical_denoiser(X, sched: Schedule):
    """``eps(x, t)``, the exact noise predictor of the empirical distribution of ``X``
    (chapter 8).

    For ``x_0`` drawn uniformly from the ``N`` rows of ``X``, the best predictor of the
    noise in ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` is ``E[eps | x_t] = (x_t
    - sqrt(abar_t) sum_i p_i x_i) / sqrt(1 - abar_t)`` with the posterior ``p_i``
    proportional to ``exp(-||x_t - sqrt(abar_t) x_i||^2 / (2 (1 - abar_t)))``: a softmax
    over the training points. It is the model that memorizes perfectly: run through
    :func:`run_chain`, it returns the training points (plus the last step's noise). The
    softmax drops the term ``||x_t||^2`` common to every ``i`` and subtracts each row's
    largest logit, so that it stays exact at ``t = 1``, where the logits are of order
    ``1 / beta_1 ~ 10^4``. ``eps(x, t)`` takes a batch of shape (n, d) and a step ``1 <=
    t <= T``; cost O(n N d) per call.
    """
    sched = _check_schedule(sched)
    X = _array("X", X, ndim=2)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"X: expected at least one point and one column, got {X.shape}"
        )
    X = X.copy()
    X.setflags(write=False)
    norms = np.sum(X**2, axis=1)
    root_a = np.sqrt(sched.alpha_bar)
    root_one_minus = np.sqrt(sched.one_minus_alpha_bar)

    def eps(x, t):
        t = sched.check_step(t)
        x = _array("x", x, ndim=2)
        if x.shape[1] != X.shape[1]:
            raise ValueError(f"x: expected {X.shape[1]} columns, got shape {x.shape}")
        a, s = root_a[t - 1], root_one_minus[t - 1]
        logits = (a * (x @ X.T) - 0.5 * a**2 * norms) / s**2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return (x - a * (p @ X)) / s

    return eps


def _nearest(U, X, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest row of ``X`` to each row of ``U`` and the distance to it.

    The nearest row is found from the expanded squared distances and the distance
    recomputed from the difference, so that it stays accurate when it is small. With
    ``exclude_self`` (``U`` is ``X``) a row is not its own neighbour."""
    sq = np.sum(U**2, axis=1)[:, None] + np.sum(X**2, axis=1)[None, :] - 2.0 * U @ X.T
    if exclude_self:
        np.fill_diagonal(sq, np.inf)
    index = np.argmin(sq, axis=1)
    return index, np.linalg.norm(U - X[index], axis=1)


def nearest_training_point(U, X) -> tuple[np.ndarray, np.ndarray]:
    """``(index, distance)``: for each sample (row of ``U``) the index of the nearest
    training point (row of ``X``) and the distance to it, shapes (n,) (chapters 8, 9).

    Cost O(n N d); the distance is accurate down to samples that reproduce a training
    point to rounding.
    """
    X = _array("X", X, ndim=2)
    U = _array("U", U, ndim=2)
    if X.shape[0] < 1:
        raise ValueError("X: expected at least 1 training point, got 0")
    if U.shape[1] != X.shape[1]:
        raise ValueError(f"U: expected {X.shape[1]} columns, got shape {U.shape}")
    return _nearest(U, X)


def nearest_distance_ratio(U, X) -> np.ndarray:
    """For each sample ``u`` (row of ``U``), ``min_i ||u - x_i|| / D``, shape (n,)
    (chapter 8).

    ``D`` is the median over the training points of the distance from each to its
    nearest other training point: the typical gap between training points. A ratio near
    0 is a reproduced training point; samples of the data distribution itself have
    ratios of order 1. Needs ``N >= 2`` training points. Cost O(n N d + N^2 d).
    """
    X = _array("X", X, ndim=2)
    U = _array("U", U, ndim=2)
    if X.shape[0] < 2:
        raise ValueError(f"X: expected at least 2 training points, got {X.shape[0]}")
    if U.shape[1] != X.shape[1]:
        raise ValueError(f"U: expected {X.shape[1]} columns, got shape {U.shape}")
    D = np.median(_nearest(X, X, exclude_self=True)[1])
    if D == 0:
        raise ValueError(
            "X: expected distinct training points, but more than half are duplicates"
        )
    return _nearest(U, X)[1] / D


def fitted_kl(U, rho: Gaussian) -> float:
    """``KL(N(m, S) || rho) - E_n``: the KL divergence of the Gaussian fitted to the
    ``n`` samples ``U`` (mean ``m``, covariance ``S`` with divisor ``n``) from ``rho``,
    minus the bias of fitting from ``n`` samples (chapter 8).

    For Gaussian samples of any law ``q``, ``E KL(N(m, S) || rho) = KL(q || rho) + E_n``
    exactly, with ``E_n`` = :func:`expected_kl_empirical` ``(d, n)``: the trace and
    mean terms are unbiased and the log-determinant of the Wishart matrix ``n S`` has a
    bias that depends on ``d`` and ``n`` only. The result is therefore an unbiased
    estimate of ``KL(q || rho)`` for Gaussian samples, and of the KL of the Gaussian
    with the samples' mean and covariance otherwise (to the extent that the bias of the
    log-determinant is that of Gaussian samples). Its standard deviation is about
    ``sqrt(d (d + 3) / 2) / (2 n)`` when ``q`` is near ``rho``. Needs ``n >= d + 1``.
    """
    rho = _check_gaussian("rho", rho)
    U = _array("U", U, ndim=2)
    n, d = U.shape
    if d != rho.d:
        raise ValueError(f"U: expected {rho.d} columns, got shape {U.shape}")
    if n < d + 1:
        raise ValueError(f"U: expected at least d + 1 = {d + 1} samples, got {n}")
    return _kl(Gaussian.from_samples(U), rho) - expected_kl_empirical(d, n)


# ---------------------------------------------------------------------------
# Chapter 9: real image data
# ---------------------------------------------------------------------------

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
