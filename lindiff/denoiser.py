"""The trained linear denoiser: its gain, its fit and its two forms (chapters 1
and 7).

:class:`LinearDenoiser` stores the eigenbasis of the training covariance plus per-step
gains; :class:`InitializedDenoiser` is gradient flow from dense random initial weights.
Each type computes its own losses and generated law (methods ``_loss_points``,
``_loss_gaussian`` and ``_generated``), which :mod:`lindiff.losses` and
:mod:`lindiff.chain` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lindiff._validate import _array, _describe, _eigenvalues, _train_time
from lindiff.gaussian import (
    Gaussian,
    _EigenForm,
    _check_gaussian,
    _empirical_eigen,
    _variance_along,
    _variance_outside,
)
from lindiff.sampler import _chain_steps, _law, _moments, _noise
from lindiff.schedule import Schedule, _check_schedule, _decay
from lindiff._docs import fill


class _Denoiser:
    """What the two linear denoisers share: the dense weights and ``eps_theta(x, t)``
    on a checked batch. Each type supplies ``_weight``, ``_eps`` (the chain's inner
    loop), ``_loss_points``, ``_loss_gaussian`` and ``_generated``, the roads
    :mod:`lindiff.losses` and :mod:`lindiff.chain` take."""

    def weights(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Dense ``(W_t, b_t)`` for ``1 <= t <= T``, ``b_t = -sqrt(abar_t) W_t mu_0``
        (for checks).

        Parameters
        ----------
        {t}

        Returns
        -------
        W : ndarray, shape (d, d)
            ``W_t``.
        b : ndarray, shape (d,)
            ``b_t``.
        """
        t = self.schedule.check_step(t)
        W = self._weight(t)
        return W, -np.sqrt(self.schedule.alpha_bar[t - 1]) * (W @ self.mean)

    def apply(self, x, t: int) -> np.ndarray:
        """``eps_theta(x, t)`` for a batch ``x`` of shape (n, d), without forming
        ``W_t``.

        Parameters
        ----------
        x : array_like, shape (n, d)
            The noisy points ``x_t``, one per row.
        {t}

        Returns
        -------
        ndarray, shape (n, d)
            The predicted noise, one row per point.
        """
        t = self.schedule.check_step(t)
        x = _array("x", x, ndim=2)
        if x.shape[1] != self.d:
            raise ValueError(f"x: expected {self.d} columns, got shape {x.shape}")
        return self._eps(x, t)


@dataclass(frozen=True, eq=False)
class LinearDenoiser(_EigenForm, _Denoiser):
    """``eps_theta(x, t) = W_t (x - sqrt(abar_t) mu_0)`` with ``W_t`` in eigen form.

    ``W_t = V diag(gains[t-1]) V^T + null_gain[t-1] (Id - V V^T)`` and ``b_t =
    -sqrt(abar_t) W_t mu_0``. ``V`` (d x r) is the eigenbasis of the training covariance
    ``Sigma_0`` with eigenvalues ``eigenvalues`` (r,); the ``d - r`` directions
    orthogonal to ``V`` are the null directions of ``Sigma_0``. ``residuals`` and
    ``null_residual`` are ``1 - sqrt(1 - abar_t) w_t``, the eigenvalues of ``Id - sqrt(1
    - abar_t) W_t``, computed without cancellation (they vanish exactly where they
    should, e.g. along a null direction at t = 1); the losses and the generated law read
    them. No d x d array is stored.

    Built by :func:`fit_linear_denoiser`; each parameter is stored, read-only, as the
    attribute of the same name.

    Parameters
    ----------
    mean : ndarray, shape (d,)
        The training mean ``mu_0``.
    basis : ndarray, shape (d, r)
        ``V``: orthonormal eigenvectors of ``Sigma_0``, one per non-zero eigenvalue.
    eigenvalues : ndarray, shape (r,)
        The non-zero eigenvalues of ``Sigma_0``, in decreasing order.
    gains : ndarray, shape (T, r)
        ``w_t(lambda)`` along each column of ``V``, row ``t - 1`` for step ``t``.
    null_gain : ndarray, shape (T,)
        ``w_t(0)``, the gain along the null directions.
    residuals : ndarray, shape (T, r)
        ``1 - sqrt(1 - abar_t) w_t(lambda)``.
    null_residual : ndarray, shape (T,)
        ``1 - sqrt(1 - abar_t) w_t(0)``.
    schedule : Schedule
        The schedule the denoiser was fitted with.
    weight_decay : float
        ``gamma``, or ``c`` of the step-scaled regularizer.
    train_time : float or None
        The training time ``tau``; ``None``: trained to convergence.
    {regularization}
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

    def _weight(self, t: int) -> np.ndarray:
        """The dense ``W_t`` for a checked step (cost O(d^2 r))."""
        g, g0 = self.gains[t - 1], self.null_gain[t - 1]
        V = self.basis
        if self.n_null == 0:
            return (V * g) @ V.T
        return g0 * np.eye(self.d) + (V * (g - g0)) @ V.T

    def _eps(self, x, t):
        """``eps_theta(x, t)`` for a checked batch and step (internal: the chain's inner
        loop).
        """
        y = x - np.sqrt(self.schedule.alpha_bar[t - 1]) * self.mean
        g, g0 = self.gains[t - 1], self.null_gain[t - 1]
        if self.n_null == 0:  # W = V diag(g) V^T: no large null gain to cancel
            return ((y @ self.basis) * g) @ self.basis.T
        return g0 * y + ((y @ self.basis) * (g - g0)) @ self.basis.T

    def _loss_points(self, X: np.ndarray) -> np.ndarray:
        """The per-step loss on the points ``X`` (checked, shape (N, d)): the train
        loss."""
        m = X.mean(axis=0)
        Xc = X - m
        coef = Xc @ self.basis
        q = np.mean(coef**2, axis=0)
        q_null = 0.0
        if self.n_null:
            # the part of each point off span(V), formed explicitly
            outside = Xc - coef @ self.basis.T
            q_null = float(np.mean(np.sum(outside**2, axis=1)))
        return self._loss_from_moments(q, q_null, m - self.mean)

    def _loss_gaussian(self, rho: Gaussian) -> np.ndarray:
        """The per-step loss on data from the Gaussian ``rho`` (checked): the test
        loss."""
        q = _variance_along(rho, self.basis)
        q_null = _variance_outside(rho, self.basis, along=q) if self.n_null else 0.0
        return self._loss_from_moments(q, q_null, rho.mean - self.mean)

    def _loss_from_moments(self, q, q_null, delta) -> np.ndarray:
        """Per-step loss on data with covariance ``S`` and mean ``mu_0 + delta``.

        ``q = diag(V^T S V)`` and ``q_null = Tr(P_null S P_null)``. The loss is
        ``||Id - s W||_F^2 + abar Tr(W S W) + abar ||W delta||^2`` with ``s =
        sqrt(1-abar)``.
        """
        a = self.schedule.alpha_bar
        g, g0 = self.gains, self.null_gain
        n_null = self.n_null
        dv = delta @ self.basis
        d_null = 0.0
        if n_null:
            outside = delta - self.basis @ dv
            d_null = outside @ outside
        else:
            q_null = 0.0
        # ||Id - s W||_F^2 from the residuals, computed without cancellation
        fit = np.sum(self.residuals**2, axis=1) + n_null * self.null_residual**2
        spread = np.sum(g**2 * (q + dv**2), axis=1) + g0**2 * (q_null + d_null)
        return fit + a * spread

    def _generated(self, sched: Schedule, sampler: str, sigma: str) -> Gaussian:
        """``rho_N`` (chapter 2) for a checked sampler: the scalar recursions
        ``lindiff.sampler._moments`` along each eigen-direction and the null
        directions."""
        gains = np.column_stack([self.gains, self.null_gain])
        residuals = np.column_stack([self.residuals, self.null_residual])
        moments = _moments(gains, residuals, sched, sampler, sigma)
        return _law(self.mean, self.basis, self.n_null > 0, *moments)


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

    Parameters
    ----------
    lam : array_like
        Eigenvalues ``>= 0``, any shape.
    {sched}
    {training}
    {regularization}

    Returns
    -------
    ndarray, shape (T,) + lam.shape
        ``w_t(lam)``, index ``t - 1`` for step ``t``.
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
    abar_t c`` for ``weight_decay = c`` (the convention of the first author's later
    code): then ``W_t = sqrt(1-abar_t) (abar_t (Sigma_0 + c Id) + (1-abar_t) Id)^-1``,
    exactly the optimal denoiser of ``N(mu_0, Sigma_0 + c Id)``.

    ``X`` is the training set, shape (N, d), or its empirical Gaussian
    (:meth:`~lindiff.gaussian.Gaussian.from_samples`), whose eigen-decomposition is then
    reused: a sweep over weight decays or training times decomposes ``Sigma_0`` once.

    Cost: one eigen-decomposition of ``Sigma_0`` (a thin SVD when N <= d) plus
    O(T r); the result is stored in eigen form.

    Parameters
    ----------
    {X}
    {sched}
    {training}
    {regularization}

    Returns
    -------
    LinearDenoiser
        The trained denoiser, in eigen form.
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


def _of_flow(name: str, doc: str) -> property:
    """A read-only attribute of :class:`InitializedDenoiser` taken from its ``flow``."""
    return property(lambda self: getattr(self.flow, name), doc=doc)


@dataclass(frozen=True, eq=False)
class InitializedDenoiser(_Denoiser):
    """Gradient flow from ``W_t(0) = init[t-1]`` after training time ``tau`` (chapter
    7).

    ``W_t(tau) = W_t^flow(tau) + W_t(0) E_t`` with ``W_t^flow(tau)`` the flow from
    ``W = 0`` (``flow``, a :class:`LinearDenoiser`) and ``E_t = exp(-2 tau C_t)``,
    stored in eigen form as ``decay`` (T, r) along ``Sigma_0``'s eigenbasis and
    ``null_decay`` (T,) along its null directions; ``b_t = -sqrt(abar_t) W_t mu_0``.
    The initial weights are dense, so this denoiser is too: it stores ``init`` (T x d x
    d numbers) and its generated law is propagated densely (O(T d^3)).

    Built by :func:`~lindiff.training.fit_from_init`; each parameter is stored,
    read-only, as the attribute of the same name.

    Parameters
    ----------
    flow : LinearDenoiser
        The gradient flow from ``W = 0`` for the same training time.
    init : ndarray, shape (T, d, d)
        The initial weights ``W_t(0)``, one matrix per step.
    decay : ndarray, shape (T, r)
        ``E_t`` along the eigenbasis of ``Sigma_0``, ``exp(-2 tau C_t(lambda))`` (0
        when trained to convergence).
    null_decay : ndarray, shape (T,)
        ``E_t`` along the null directions, ``exp(-2 tau C_t(0))`` (0 when trained to
        convergence).
    """

    flow: LinearDenoiser
    init: np.ndarray
    decay: np.ndarray
    null_decay: np.ndarray

    # what the flow from W = 0 knows of the training set and the schedule
    d = _of_flow("d", "Dimension.")
    schedule = _of_flow("schedule", "The schedule the denoiser was trained with.")
    mean = _of_flow("mean", "The training mean ``mu_0``.")
    train_time = _of_flow(
        "train_time", "The training time ``tau``, ``None`` when trained to convergence."
    )
    basis = _of_flow("basis", "The eigenbasis ``V`` of ``Sigma_0`` (that of ``flow``).")
    n_null = _of_flow("n_null", "Number of null directions of ``Sigma_0`` (``d - r``).")

    def _remaining(self, M, t: int) -> np.ndarray:
        """``M E_t`` for ``M`` of shape (..., d): what is left of ``M`` after tau."""
        V = self.flow.basis
        e, e0 = self.decay[t - 1], self.null_decay[t - 1]
        coef = M @ V
        return e0 * M + (coef * (e - e0)) @ V.T

    def _weight(self, t: int) -> np.ndarray:
        """The dense ``W_t`` for a checked step."""
        return self.flow._weight(t) + self._remaining(self.init[t - 1], t)

    def _eps(self, x, t):
        """``eps_theta(x, t)`` for a checked batch and step: ``(W_t(0) E_t) y`` is
        ``W_t(0) (E_t y)``, as ``E_t`` is symmetric."""
        y = x - np.sqrt(self.schedule.alpha_bar[t - 1]) * self.mean
        return self.flow._eps(x, t) + self._remaining(y, t) @ self.init[t - 1].T

    @cached_property
    def all_weights(self) -> np.ndarray:
        """Every ``W_t``, shape (T, d, d), formed once per denoiser (the losses and the
        generated law all read them); read-only."""
        flow, V = self.flow, self.flow.basis
        g, g0 = flow.gains, flow.null_gain[:, None, None]
        W = (V * (g - g0[:, :, 0])[:, None, :]) @ V.T
        W += g0 * np.eye(self.d)
        e, e0 = self.decay, self.null_decay[:, None, None]
        W += e0 * self.init
        W += (self.init @ V * (e - e0[:, :, 0])[:, None, :]) @ V.T
        W.setflags(write=False)
        return W

    def _loss_points(self, X: np.ndarray) -> np.ndarray:
        """The per-step loss on the points ``X`` (checked): the train loss."""
        m = X.mean(axis=0)
        Xc = X - m
        return self._dense_loss(Xc.T @ Xc / X.shape[0], m - self.mean)

    def _loss_gaussian(self, rho: Gaussian) -> np.ndarray:
        """The per-step loss on data from the Gaussian ``rho`` (checked)."""
        return self._dense_loss(rho.cov, rho.mean - self.mean)

    def _dense_loss(self, S, delta) -> np.ndarray:
        """``||Id - s W||_F^2 + abar Tr(W S W^T) + abar ||W delta||^2`` per step, from
        the dense weights (cost O(T d^3))."""
        a = self.schedule.alpha_bar
        s = np.sqrt(self.schedule.one_minus_alpha_bar)
        W = self.all_weights
        spread = np.sum((W @ S) * W, axis=(1, 2)) + np.sum((W @ delta) ** 2, axis=1)
        R = -s[:, None, None] * W
        R += np.eye(self.d)  # Id - s W
        return np.sum(R**2, axis=(1, 2)) + a * spread

    def _generated(self, sched: Schedule, sampler: str, sigma: str) -> Gaussian:
        """``rho_N``: the mean and covariance pushed through the affine reverse steps
        ``u -> A_t u + c_t + sigma_t z`` with ``A_t = keep_t Id - mix_t W_t`` and ``c_t
        = mix_t sqrt(abar_t) W_t mu_0`` (the chain's own step factors,
        ``lindiff.sampler._chain_steps``), densely: the initial weights share no
        basis with ``Sigma_0``. Cost O(T d^3)."""
        keep, mix = _chain_steps(sched, sampler)
        noise = _noise(sched, sampler, sigma)
        W_all = self.all_weights
        target = np.sqrt(sched.alpha_bar)[:, None] * (W_all @ self.mean)
        eye = np.eye(self.d)
        S, m = eye.copy(), np.zeros(self.d)
        for t in range(sched.T, 0, -1):
            A = keep[t - 1] * eye - mix[t - 1] * W_all[t - 1]
            S = A @ S @ A.T + noise[t - 1] * eye
            m = A @ m + mix[t - 1] * target[t - 1]
        return Gaussian(m, 0.5 * (S + S.T))


def _check_den(den, rho=None) -> LinearDenoiser:
    """``den`` is a linear denoiser (:class:`LinearDenoiser` or, trained from a random
    initialization, :class:`InitializedDenoiser`); ``rho``, when given, a Gaussian of
    its dimension."""
    if not isinstance(den, _Denoiser):
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


fill(globals())
