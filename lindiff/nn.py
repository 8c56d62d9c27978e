"""Noise predictors trained as networks are, for the book's chain (chapter 8), with JAX
and optax.

Kept apart from :mod:`lindiff_core`, which never imports JAX. Three kinds of model, all
trained on the book's DDPM loss ``E ||eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 -
abar_t) eps, t)||^2`` over the training points ``x_0`` and fresh Gaussian noise at every
batch, with Adam (its learning rate constant or, with ``decay``, falling to 0 along a
cosine):

* :func:`train_per_step`: an independent two-layer ReLU network for every step ``t``,
  ``eps_t(x) = A_t relu(B_t x + p_t) + q_t`` of width ``d`` by default, each trained on
  its own step's loss (the architecture of the first author's later public code,
  written for other papers); all ``T`` networks are trained at once, as one batched
  computation;
* :func:`train_linear`: the linear model ``eps_t(x) = W_t x + b_t`` of the other
  chapters, a full matrix per step, trained the same way from a random start: the
  control that separates what Adam does from what non-linearity does;
* :func:`train_shared`: one multi-layer perceptron for all steps, fed ``x`` and a
  sinusoidal embedding of ``t``, trained with ``t`` drawn uniformly, as practitioners
  do.

Training is jit-compiled, seeded and deterministic on a given machine. A trained network
is a frozen dataclass of numpy arrays whose ``eps(x, t)`` (numpy in, numpy out, float64;
computed in float32, the precision the network was trained in)
plugs into :func:`lindiff.chain.run_chain`, the chain every denoiser of the book shares.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lindiff._validate import _array, _integer, _real
from lindiff.gaussian import Gaussian
from lindiff.sampler import _chain_steps, _noise
from lindiff.schedule import Schedule, _check_schedule

__all__ = [
    "LinearNetwork",
    "PerStepNetwork",
    "SharedNetwork",
    "train_linear",
    "train_per_step",
    "train_shared",
]


def _setup(X, sched, batch, n_steps, learning_rate, seed, checkpoints):
    """Checked training set and schedule arrays for JAX (float32). The input checks are
    the core's, with the same messages. The rows of ``X`` are padded with zeros to a
    power of two (at least 256), and the number ``N`` of true rows is passed to the
    compiled program as data, so that one compilation serves every training set of up to
    256 points (the padded rows are never drawn)."""
    sched = _check_schedule(sched)
    X = _array("X", X, ndim=2)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"X: expected at least one point and one column, got {X.shape}"
        )
    _integer("batch", batch, low=1)
    _integer("n_steps", n_steps, low=1)
    _integer("seed", seed, low=0)
    _integer("checkpoints", checkpoints, low=1)
    if n_steps % checkpoints:
        raise ValueError(
            f"checkpoints: expected a divisor of n_steps = {n_steps}, got {checkpoints}"
        )
    _real("learning_rate", learning_rate, low=0.0, low_open=True)
    N = X.shape[0]
    rows = max(256, 1 << (N - 1).bit_length())
    padded = np.zeros((rows, X.shape[1]), dtype=np.float32)
    padded[:N] = X
    data = (
        jnp.asarray(padded),
        jnp.asarray(N, dtype=jnp.int32),
        jnp.asarray(np.sqrt(sched.alpha_bar), dtype=jnp.float32),
        jnp.asarray(np.sqrt(sched.one_minus_alpha_bar), dtype=jnp.float32),
    )
    return sched, N, X.shape[1], data


def _adam(params, data, key, loss, n_steps, checkpoints, optimizer, config):
    """``n_steps`` Adam steps on ``loss(params, key, data, config)`` from ``params``,
    one fresh key per step (traced inside a compiled function): the parameters after
    each of ``checkpoints`` equal stretches (stacked on a leading axis) and every step's
    loss."""

    def step(carry, i):
        p, state = carry
        value, grads = jax.value_and_grad(loss)(
            p, jax.random.fold_in(key, i), data, config
        )
        updates, state = optimizer.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), value

    def stretch(carry, j):
        steps = j * (n_steps // checkpoints) + jnp.arange(n_steps // checkpoints)
        carry, values = jax.lax.scan(step, carry, steps)
        return carry, (carry[0], values)

    _, (history, losses) = jax.lax.scan(
        stretch, (params, optimizer.init(params)), jnp.arange(checkpoints)
    )
    return history, losses.reshape(-1)


def _optimizer(learning_rate, n_steps, decay):
    if decay:
        learning_rate = optax.cosine_decay_schedule(learning_rate, n_steps)
    return optax.adam(learning_rate)


_STATIC = ("loss", "n_steps", "checkpoints", "learning_rate", "config", "decay")


@partial(jax.jit, static_argnames=_STATIC)
def _fit(
    params, data, key, *, loss, n_steps, checkpoints, learning_rate, config, decay=False
):
    """``n_steps`` Adam steps on ``loss(params, key, data, config)``, one fresh key per
    step, in one compiled loop; returns the parameters after each of ``checkpoints``
    equal stretches of training (stacked on a leading axis) and every step's loss.
    ``decay``: the learning rate falls from ``learning_rate`` to 0 along a cosine over
    the ``n_steps`` (else it is constant)."""
    optimizer = _optimizer(learning_rate, n_steps, decay)
    return _adam(params, data, key, loss, n_steps, checkpoints, optimizer, config)


@partial(jax.jit, static_argnames=(*_STATIC, "chunk"))
def _fit_by_step(
    params,
    data,
    key,
    *,
    loss,
    n_steps,
    checkpoints,
    learning_rate,
    config,
    decay,
    chunk,
):
    """:func:`_fit` for models whose parameters are all indexed by the step ``t``
    (leading axis ``T``) and whose loss is a mean over ``t`` of independent terms: the
    steps are trained ``chunk`` at a time, each group through all ``n_steps`` before
    the next (Adam acts coordinate by coordinate, so this is the same training as all
    steps at once, with the state of one group small enough to stay in the processor's
    cache). Group ``j`` draws its noise from ``fold_in(key, j)``; the loss of an Adam
    step is the mean over the groups."""
    X, N, root_a, root_s = data
    groups = root_a.shape[0] // chunk
    optimizer = _optimizer(learning_rate, n_steps, decay)

    def split(a):
        return a.reshape((groups, chunk) + a.shape[1:])

    def group(_, part):
        p, a, s, j = part
        key_j = jax.random.fold_in(key, j)
        fitted = _adam(
            p, (X, N, a, s), key_j, loss, n_steps, checkpoints, optimizer, config
        )
        return None, fitted

    parts = ({k: split(v) for k, v in params.items()}, split(root_a), split(root_s))
    _, (history, losses) = jax.lax.scan(group, None, (*parts, jnp.arange(groups)))
    history = {
        k: jnp.swapaxes(v, 0, 1).reshape((checkpoints, -1) + v.shape[3:])
        for k, v in history.items()
    }
    return history, losses.mean(axis=0)


def _trained(history, losses):
    """Numpy (float32, as trained; read-only) copies of the parameters after each
    stretch."""
    out = []
    for i in range(next(iter(history.values())).shape[0]):
        p = {k: np.asarray(v[i], dtype=np.float32) for k, v in history.items()}
        for v in p.values():
            v.setflags(write=False)
        out.append(p)
    losses = np.asarray(losses, dtype=float)
    losses.setflags(write=False)
    return tuple(out), losses


def _flag(name, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _check_step(sched, x, t, d):
    t = sched.check_step(t)
    x = _array("x", x, ndim=2)
    if x.shape[1] != d:
        raise ValueError(f"x: expected shape (n, {d}), got {x.shape}")
    return x, t


@dataclass(frozen=True, eq=False)
class _Network:
    """A trained network: ``history`` holds the parameters after each of the
    ``checkpoints`` equal stretches of training, ``params`` the last of them (the
    network whose ``eps`` runs), ``losses`` the training loss after each Adam step."""

    history: tuple
    losses: np.ndarray
    schedule: Schedule

    @property
    def params(self) -> dict:
        return self.history[-1]

    @property
    def trained_steps(self) -> np.ndarray:
        """The number of Adam steps behind each entry of ``history``."""
        n = self.losses.size // len(self.history)
        return n * np.arange(1, len(self.history) + 1)

    def at(self, i: int):
        """The same network after stretch ``i`` of training: ``history[: i + 1]`` and
        the losses of its ``trained_steps[i]`` Adam steps."""
        k = len(self.history)
        i = _integer("i", i, low=0)
        if i >= k:
            raise ValueError(f"i: expected a checkpoint index below {k}, got {i}")
        n = self.losses.size // k
        return replace(
            self, history=self.history[: i + 1], losses=self.losses[: n * (i + 1)]
        )


# ---------------------------------------------------------------------------
# One two-layer network per step
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PerStepNetwork(_Network):
    """``eps_t(x) = A_t relu(B_t x + p_t) + q_t``, one network per step (chapter 8).

    ``params``: ``A`` (T, d, w), ``B`` (T, w, d), ``p`` (T, w), ``q`` (T, d);
    ``losses``: the training loss (mean over steps and batch) after each Adam step.
    """

    @property
    def d(self) -> int:
        return self.params["q"].shape[1]

    def eps(self, x, t) -> np.ndarray:
        """The predicted noise for a batch ``x`` of shape (n, d) at step ``t``."""
        x, t = _check_step(self.schedule, x, t, self.d)
        p = {k: v[t - 1] for k, v in self.params.items()}
        h = np.maximum(x.astype(np.float32) @ p["B"].T + p["p"], 0.0)
        return (h @ p["A"].T + p["q"]).astype(float)


def per_step_forward(p, x):
    """``x``: (T, m, d) -> (T, m, d), network t applied to x[t]."""
    h = jax.nn.relu(jnp.einsum("tmd,twd->tmw", x, p["B"]) + p["p"][:, None, :])
    return jnp.einsum("tmw,tdw->tmd", h, p["A"]) + p["q"][:, None, :]


def _every_step(key, data, batch):
    """``batch`` training points with replacement and fresh noise for every step at
    once: the noisy inputs ``x_t`` and the noise, each of shape (T, batch, d)."""
    X, N, root_a, root_s = data
    T, d = root_a.shape[0], X.shape[1]
    k_i, k_z = jax.random.split(key)
    x0 = X[jax.random.randint(k_i, (T, batch), 0, N)]
    z = jax.random.normal(k_z, (T, batch, d))
    return root_a[:, None, None] * x0 + root_s[:, None, None] * z, z


def _per_step_loss(p, key, data, batch):
    xt, z = _every_step(key, data, batch)
    return jnp.mean(jnp.sum((z - per_step_forward(p, xt)) ** 2, axis=-1))


def train_per_step(
    X,
    sched: Schedule,
    width: int | None = None,
    n_steps: int = 2000,
    batch: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    checkpoints: int = 1,
    decay: bool = False,
) -> PerStepNetwork:
    """Train ``T`` independent two-layer ReLU networks, one per step (chapter 8).

    Network ``t`` minimizes its own step's loss ``E ||eps - eps_t(x_t)||^2`` on
    ``batch`` training points drawn with replacement and fresh noise at every Adam step;
    since the networks share no parameter, one Adam on the stacked parameters is ``T``
    independent Adams. Width ``d`` by default; initialization: ``B`` with variance
    ``1/d``, ``A`` with variance ``1/w``, biases zero. The parameters are kept after
    each of ``checkpoints`` equal stretches of the ``n_steps`` (see
    :meth:`PerStepNetwork.at`). ``decay``: the learning rate falls to 0 along a cosine
    over the ``n_steps`` (else constant). Cost per Adam step O(T batch d w).
    """
    sched, N, d, data = _setup(
        X, sched, batch, n_steps, learning_rate, seed, checkpoints
    )
    w = d if width is None else _integer("width", width, low=1)
    T = sched.T
    k_a, k_b, key = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = {
        "A": jax.random.normal(k_a, (T, d, w)) / np.sqrt(w),
        "B": jax.random.normal(k_b, (T, w, d)) / np.sqrt(d),
        "p": jnp.zeros((T, w)),
        "q": jnp.zeros((T, d)),
    }
    history, losses = _fit(
        params,
        data,
        key,
        loss=_per_step_loss,
        n_steps=n_steps,
        checkpoints=checkpoints,
        learning_rate=float(learning_rate),
        config=batch,
        decay=_flag("decay", decay),
    )
    return PerStepNetwork(*_trained(history, losses), sched)


# ---------------------------------------------------------------------------
# The linear model, trained by Adam
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LinearNetwork(_Network):
    """``eps_t(x) = W_t x + b_t``, a full matrix and bias per step, trained by Adam
    (chapter 8): the linear model of chapters 2 to 7, trained as the networks are.

    ``params``: ``W`` (T, d, d), ``b`` (T, d); ``losses``: the training loss (mean over
    steps and batch) after each Adam step.
    """

    @property
    def d(self) -> int:
        return self.params["b"].shape[1]

    def weights(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """``(W_t, b_t)`` as float64, in the parametrization of
        :meth:`~lindiff.denoiser.LinearDenoiser.weights` (``eps = W_t x + b_t``)."""
        t = self.schedule.check_step(t)
        return (
            self.params["W"][t - 1].astype(float),
            self.params["b"][t - 1].astype(float),
        )

    def eps(self, x, t) -> np.ndarray:
        """The predicted noise for a batch ``x`` of shape (n, d) at step ``t``."""
        x, t = _check_step(self.schedule, x, t, self.d)
        return (
            x.astype(np.float32) @ self.params["W"][t - 1].T + self.params["b"][t - 1]
        ).astype(float)

    def generated(self) -> Gaussian:
        """The exact law of the samples of the DDPM chain (``sigma_t^2 = beta_t``).

        The chain is affine, ``u_{t-1} = A_t u_t + k_t + sigma_t z`` with ``A_t =
        keep_t Id - mix_t W_t`` and ``k_t = -mix_t b_t``, so the mean and covariance
        follow from ``N(0, Id)`` by ``m <- A m + k``, ``S <- A S A^T + sigma_t^2 Id``
        (the arrays of :func:`~lindiff.chain.run_chain`; cost O(T d^3), in float64).
        """
        sched, d = self.schedule, self.d
        keep, mix = _chain_steps(sched, "ddpm")
        noise = _noise(sched, "ddpm", "beta")
        m, S = np.zeros(d), np.eye(d)
        for t in range(sched.T, 0, -1):
            W, b = self.weights(t)
            A = keep[t - 1] * np.eye(d) - mix[t - 1] * W
            m = A @ m - mix[t - 1] * b
            S = A @ S @ A.T
            S[np.diag_indices(d)] += noise[t - 1]
        return Gaussian(m, (S + S.T) / 2)


def _linear_loss(p, key, data, batch):
    xt, z = _every_step(key, data, batch)
    pred = jnp.einsum("tmd,ted->tme", xt, p["W"]) + p["b"][:, None, :]
    return jnp.mean(jnp.sum((z - pred) ** 2, axis=-1))


def _chunk(T, d):
    """The largest divisor of ``T`` whose group of ``d x d`` matrices holds at most
    2^19 numbers (2 MB in float32)."""
    fits = (c for c in range(2, T + 1) if T % c == 0 and c * d * d <= 1 << 19)
    return max(fits, default=1)


def train_linear(
    X,
    sched: Schedule,
    n_steps: int = 2000,
    batch: int = 16,
    learning_rate: float = 1e-2,
    seed: int = 0,
    checkpoints: int = 1,
    scale: float | None = None,
    decay: bool = False,
) -> LinearNetwork:
    """Train the linear model ``eps_t(x) = W_t x + b_t`` (a full ``W_t``, ``b_t`` for
    every step) by Adam, as the networks are trained (chapter 8).

    The loss is :func:`train_per_step`'s: every Adam step draws, for every step ``t``,
    ``batch`` training points with replacement and fresh noise, and averages the
    squared errors over steps and batch. Start: ``W_t`` with i.i.d. ``N(0, scale^2)``
    entries (``None``: ``1/sqrt(d)``, as :func:`~lindiff.training.random_init`), ``b_t =
    0``. The parameters are kept after each of ``checkpoints`` equal stretches of the
    ``n_steps`` (see :meth:`LinearNetwork.at`). When the training points span the space
    (``N > d``) the loss has one minimizer, the closed form
    :func:`~lindiff.denoiser.fit_linear_denoiser`, which Adam approaches; below, the
    directions the training set does not span keep part of their start. ``decay``: the
    learning rate falls to 0 along a cosine over the ``n_steps`` (else constant; with a
    constant rate Adam ends in a noise floor of the size of the rate). The steps ``t``
    are trained a group at a time (their problems are independent), so that the Adam
    state of a group stays in the processor's cache. Cost per Adam step O(T batch
    d^2).
    """
    sched, N, d, data = _setup(
        X, sched, batch, n_steps, learning_rate, seed, checkpoints
    )
    scale = 1.0 / np.sqrt(d) if scale is None else _real("scale", scale, low=0.0)
    k_w, key = jax.random.split(jax.random.PRNGKey(seed))
    params = {
        "W": scale * jax.random.normal(k_w, (sched.T, d, d)),
        "b": jnp.zeros((sched.T, d)),
    }
    history, losses = _fit_by_step(
        params,
        data,
        key,
        chunk=_chunk(sched.T, d),
        loss=_linear_loss,
        n_steps=n_steps,
        checkpoints=checkpoints,
        learning_rate=float(learning_rate),
        config=batch,
        decay=_flag("decay", decay),
    )
    return LinearNetwork(*_trained(history, losses), sched)


# ---------------------------------------------------------------------------
# One network for all steps, with an embedding of t
# ---------------------------------------------------------------------------


def time_embedding(t, T, size):
    """Sinusoidal embedding of the step: ``sin`` and ``cos`` of ``t/T`` at ``size/2``
    geometrically spaced frequencies from 1 to 1000."""
    freq = jnp.exp(jnp.linspace(0.0, np.log(1000.0), size // 2))
    angle = (t / T)[:, None] * freq[None, :]
    return jnp.concatenate([jnp.sin(angle), jnp.cos(angle)], axis=1)


@dataclass(frozen=True, eq=False)
class SharedNetwork(_Network):
    """``eps(x, t)``: one multi-layer perceptron of ``[x, embedding(t)]`` for all steps
    (chapter 8), plus ``sqrt(1 - abar_t) x`` with ``skip``. ``params``: weights ``W0,
    W1, ...`` and biases ``b0, b1, ...``; ``losses``: the training loss after each Adam
    step."""

    embedding: int = 32
    skip: bool = False

    @property
    def d(self) -> int:
        return self.params[f"b{self.depth}"].shape[0]

    @property
    def depth(self) -> int:
        return len(self.params) // 2 - 1

    @cached_property
    def _first_bias(self) -> np.ndarray:
        """``embedding(t) W0[d:] + b0`` for every step, shape (T, width): the first
        layer's input from ``t``, computed once."""
        T = self.schedule.T
        emb = np.asarray(time_embedding(jnp.arange(1.0, T + 1.0), T, self.embedding))
        return emb @ self.params["W0"][self.d :] + self.params["b0"]

    def eps(self, x, t) -> np.ndarray:
        """The predicted noise for a batch ``x`` of shape (n, d) at step ``t``."""
        x, t = _check_step(self.schedule, x, t, self.d)
        p, L = self.params, self.depth
        h = np.maximum(
            x.astype(np.float32) @ p["W0"][: self.d] + self._first_bias[t - 1], 0.0
        )
        for i in range(1, L):
            h = np.maximum(h @ p[f"W{i}"] + p[f"b{i}"], 0.0)
        out = (h @ p[f"W{L}"] + p[f"b{L}"]).astype(float)
        if self.skip:
            out += np.sqrt(self.schedule.one_minus_alpha_bar[t - 1]) * x
        return out


def shared_forward(p, h, depth):
    for i in range(depth):
        h = jax.nn.relu(h @ p[f"W{i}"] + p[f"b{i}"])
    return h @ p[f"W{depth}"] + p[f"b{depth}"]


def _shared_loss(p, key, data, config):
    X, N, root_a, root_s = data
    batch, embedding, depth, skip = config
    T, d = root_a.shape[0], X.shape[1]
    k_i, k_t, k_z = jax.random.split(key, 3)
    x0 = X[jax.random.randint(k_i, (batch,), 0, N)]
    t = jax.random.randint(k_t, (batch,), 1, T + 1)
    z = jax.random.normal(k_z, (batch, d))
    xt = root_a[t - 1][:, None] * x0 + root_s[t - 1][:, None] * z
    h = jnp.concatenate(
        [xt, time_embedding(t.astype(jnp.float32), T, embedding)], axis=1
    )
    target = z - root_s[t - 1][:, None] * xt if skip else z
    return jnp.mean(jnp.sum((target - shared_forward(p, h, depth)) ** 2, axis=-1))


def train_shared(
    X,
    sched: Schedule,
    width: int = 128,
    depth: int = 2,
    embedding: int = 32,
    n_steps: int = 5000,
    batch: int = 256,
    learning_rate: float = 1e-3,
    seed: int = 0,
    checkpoints: int = 1,
    decay: bool = False,
    skip: bool = False,
) -> SharedNetwork:
    """Train one ReLU perceptron with ``depth`` hidden layers of ``width`` units on
    ``X`` (chapter 8).

    Input ``[x_t, embedding(t)]``; each batch draws ``batch`` training points, steps
    ``t`` uniform in ``1..T`` and fresh noise (the DDPM loss of the book, averaged over
    ``t``). He initialization, biases zero. The parameters are kept after each of
    ``checkpoints`` equal stretches of the ``n_steps`` (see :meth:`SharedNetwork.at`).
    ``decay``: the learning rate falls to 0 along a cosine over the ``n_steps`` (else
    constant). ``skip``: the network predicts ``eps - sqrt(1 - abar_t) x_t``, and
    ``sqrt(1 - abar_t) x`` is added to its output, the best prediction for data of
    mean 0 and covariance ``Id`` (a fixed skip connection; without it a ReLU layer
    needs ``2 d`` units to pass ``x`` through). Cost per Adam step O(batch width (d +
    width depth)).
    """
    sched, N, d, data = _setup(
        X, sched, batch, n_steps, learning_rate, seed, checkpoints
    )
    for name, value in [("width", width), ("depth", depth), ("embedding", embedding)]:
        _integer(name, value, low=1)
    if embedding % 2:
        raise ValueError(f"embedding: expected an even size, got {embedding}")
    sizes = [d + embedding] + [width] * depth + [d]
    keys = jax.random.split(jax.random.PRNGKey(seed), depth + 2)
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"W{i}"] = jax.random.normal(keys[i], (n_in, n_out)) * np.sqrt(
            2.0 / n_in
        )
        params[f"b{i}"] = jnp.zeros(n_out)
    history, losses = _fit(
        params,
        data,
        keys[-1],
        loss=_shared_loss,
        n_steps=n_steps,
        checkpoints=checkpoints,
        learning_rate=float(learning_rate),
        config=(batch, embedding, depth, _flag("skip", skip)),
        decay=_flag("decay", decay),
    )
    return SharedNetwork(*_trained(history, losses), sched, embedding, skip)
