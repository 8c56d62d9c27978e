"""Training dynamics: gradient flow from a random start and explicit gradient
descent (chapter 7).
"""

from __future__ import annotations

import numpy as np

from lindiff._validate import _array, _generator, _integer, _real, _square
from lindiff.denoiser import InitializedDenoiser, fit_linear_denoiser
from lindiff.schedule import Schedule, _check_schedule, _decay
from lindiff._docs import fill


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

    Parameters
    ----------
    X : array_like, shape (N, d)
        The training points, one per row (``N >= 2``).
    {sched}
    t : int
        The step whose loss is minimized, ``1 <= t <= T``.
    learning_rate : float
        ``eta > 0``.
    n_steps : int
        The number of iterations, ``>= 0``.
    {weight_decay}
    {regularization}
    init : array_like, shape (d, d), optional
        The initial ``W`` (default: zero).

    Returns
    -------
    W : ndarray, shape (d, d)
        The weights after ``n_steps`` iterations.
    b : ndarray, shape (d,)
        The optimal bias for them, ``-sqrt(abar_t) W mu_0``.
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


def random_init(d: int, sched: Schedule, rng, scale: float | None = None) -> np.ndarray:
    """Independent initial weights ``W_t(0)`` for every step, shape (T, d, d) (chapter
    7).

    Entries i.i.d. ``N(0, scale^2)``; the default ``scale = 1/sqrt(d)`` is the
    initialization of the first author's later code, which puts the eigenvalues of each
    ``W_t(0)`` in the unit disc (the circular law).

    Parameters
    ----------
    {d}
    sched : Schedule
        The noise schedule (its ``T`` sets the number of matrices).
    rng : numpy.random.Generator
        The source of the entries.
    scale : float or None, default None
        The standard deviation of the entries, ``>= 0`` (``None``: ``1/sqrt(d)``).

    Returns
    -------
    ndarray, shape (T, d, d)
        ``W_t(0)``, index ``t - 1`` for step ``t``.
    """
    sched = _check_schedule(sched)
    d = _integer("d", d, low=1)
    rng = _generator("rng", rng)
    if scale is None:
        scale = 1.0 / np.sqrt(d)
    scale = _real("scale", scale, low=0.0)
    return scale * rng.standard_normal((sched.T, d, d))


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
    :func:`~lindiff.denoiser.fit_linear_denoiser`.

    Parameters
    ----------
    {X}
    {sched}
    init : array_like, shape (T, d, d) or (d, d)
        The initial weights ``W_t(0)``.
    train_time : float or None
        The training time ``tau >= 0``; ``None`` or ``inf``: trained to convergence.
    {weight_decay}
    {regularization}

    Returns
    -------
    InitializedDenoiser
        The trained denoiser.
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


fill(globals())
