"""Non-linear noise predictors for the book's chain, trained with JAX and optax.

Kept apart from :mod:`lindiff_core`, which never imports JAX. Two kinds of network, both
trained on the book's DDPM loss ``E ||eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 -
abar_t) eps, t)||^2`` over the training points ``x_0`` and fresh Gaussian noise at every
batch, with Adam:

* :func:`train_per_step`: an independent two-layer ReLU network for every step ``t``,
  ``eps_t(x) = A_t relu(B_t x + c_t) + e_t`` of width ``d`` by default, each trained on
  its own step's loss (the architecture of the paper's authors); all ``T`` networks are
  trained at once, as one batched computation;
* :func:`train_shared`: one multi-layer perceptron for all steps, fed ``x`` and a
  sinusoidal embedding of ``t``, trained with ``t`` drawn uniformly, as practitioners
  do.

Training is jit-compiled, seeded and deterministic on a given machine. A trained network
is a frozen dataclass of numpy arrays whose ``eps(x, t)`` (numpy in, numpy out, float64)
plugs into :func:`lindiff_core.run_chain`, the chain every denoiser of the book shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lindiff_core as ld

__all__ = ["PerStepNetwork", "SharedNetwork", "train_per_step", "train_shared"]


def _setup(X, sched, batch, n_steps, learning_rate, seed):
    """Checked training set (float32 for JAX), schedule arrays and optimizer; the input
    checks are the core's, with the same messages."""
    sched = ld._check_schedule(sched)
    X = ld._array("X", X, ndim=2)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"X: expected at least one point and one column, got {X.shape}"
        )
    ld._integer("batch", batch, low=1)
    ld._integer("n_steps", n_steps, low=1)
    ld._integer("seed", seed, low=0)
    ld._real("learning_rate", learning_rate, low=0.0, low_open=True)
    root_a = jnp.asarray(np.sqrt(sched.alpha_bar), dtype=jnp.float32)
    root_s = jnp.asarray(np.sqrt(sched.one_minus_alpha_bar), dtype=jnp.float32)
    return jnp.asarray(X, dtype=jnp.float32), root_a, root_s, optax.adam(learning_rate)


def _fit(loss, params, optimizer, n_steps, key):
    """``n_steps`` Adam steps on ``loss(params, key)``, one fresh key per step, in one
    compiled loop; returns the final parameters (numpy, float64) and the losses."""

    def step(carry, i):
        p, state = carry
        value, grads = jax.value_and_grad(loss)(p, jax.random.fold_in(key, i))
        updates, state = optimizer.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), value

    run = jax.jit(
        lambda p: jax.lax.scan(step, (p, optimizer.init(p)), jnp.arange(n_steps))
    )
    (params, _), losses = run(params)
    out = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    for v in out.values():
        v.setflags(write=False)
    return out, np.asarray(losses, dtype=float)


def _check_step(sched, x, t, d):
    t = sched.check_step(t)
    x = ld._array("x", x, ndim=2)
    if x.shape[1] != d:
        raise ValueError(f"x: expected shape (n, {d}), got {x.shape}")
    return x, t


# ---------------------------------------------------------------------------
# One two-layer network per step
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PerStepNetwork:
    """``eps_t(x) = A_t relu(B_t x + c_t) + e_t``, one network per step (chapter 8).

    ``params``: ``A`` (T, d, w), ``B`` (T, w, d), ``c`` (T, w), ``e`` (T, d);
    ``losses``: the training loss (mean over steps and batch) after each Adam step.
    """

    params: dict
    losses: np.ndarray
    schedule: ld.Schedule

    @property
    def d(self) -> int:
        return self.params["e"].shape[1]

    def eps(self, x, t) -> np.ndarray:
        """The predicted noise for a batch ``x`` of shape (n, d) at step ``t``."""
        x, t = _check_step(self.schedule, x, t, self.d)
        p = {k: v[t - 1] for k, v in self.params.items()}
        return np.maximum(x @ p["B"].T + p["c"], 0.0) @ p["A"].T + p["e"]


def _per_step_forward(p, x):
    """``x``: (T, m, d) -> (T, m, d), network t applied to x[t]."""
    h = jax.nn.relu(jnp.einsum("tmd,twd->tmw", x, p["B"]) + p["c"][:, None, :])
    return jnp.einsum("tmw,tdw->tmd", h, p["A"]) + p["e"][:, None, :]


def train_per_step(
    X,
    sched: ld.Schedule,
    width: int | None = None,
    n_steps: int = 2000,
    batch: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> PerStepNetwork:
    """Train ``T`` independent two-layer ReLU networks, one per step (chapter 8).

    Network ``t`` minimizes its own step's loss ``E ||eps - eps_t(x_t)||^2`` on
    ``batch`` training points drawn with replacement and fresh noise at every Adam step;
    since the networks share no parameter, one Adam on the stacked parameters is ``T``
    independent Adams. Width ``d`` by default; initialization: ``B`` with variance
    ``1/d``, ``A`` with variance ``1/w``, biases zero. Cost per Adam step
    O(T batch d w).
    """
    Xj, root_a, root_s, optimizer = _setup(
        X, sched, batch, n_steps, learning_rate, seed
    )
    N, d = Xj.shape
    w = d if width is None else ld._integer("width", width, low=1)
    T = sched.T
    k_a, k_b, key = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = {
        "A": jax.random.normal(k_a, (T, d, w)) / np.sqrt(w),
        "B": jax.random.normal(k_b, (T, w, d)) / np.sqrt(d),
        "c": jnp.zeros((T, w)),
        "e": jnp.zeros((T, d)),
    }

    def loss(p, k):
        k_i, k_z = jax.random.split(k)
        x0 = Xj[jax.random.randint(k_i, (T, batch), 0, N)]  # (T, batch, d)
        z = jax.random.normal(k_z, (T, batch, d))
        xt = root_a[:, None, None] * x0 + root_s[:, None, None] * z
        return jnp.mean(jnp.sum((z - _per_step_forward(p, xt)) ** 2, axis=-1))

    out, losses = _fit(loss, params, optimizer, n_steps, key)
    return PerStepNetwork(out, losses, sched)


# ---------------------------------------------------------------------------
# One network for all steps, with an embedding of t
# ---------------------------------------------------------------------------


def _embedding(t, T, size):
    """Sinusoidal embedding of the step: ``sin`` and ``cos`` of ``t/T`` at ``size/2``
    geometrically spaced frequencies from 1 to 1000."""
    freq = jnp.exp(jnp.linspace(0.0, np.log(1000.0), size // 2))
    angle = (t / T)[:, None] * freq[None, :]
    return jnp.concatenate([jnp.sin(angle), jnp.cos(angle)], axis=1)


@dataclass(frozen=True, eq=False)
class SharedNetwork:
    """``eps(x, t)``: one multi-layer perceptron of ``[x, embedding(t)]`` for all steps
    (chapter 8). ``params``: weights ``W0, W1, ...`` and biases ``b0, b1, ...``;
    ``losses``: the training loss after each Adam step."""

    params: dict
    losses: np.ndarray
    schedule: ld.Schedule
    embedding: int

    @property
    def d(self) -> int:
        return self.params[f"b{self.depth}"].shape[0]

    @property
    def depth(self) -> int:
        return len(self.params) // 2 - 1

    def eps(self, x, t) -> np.ndarray:
        """The predicted noise for a batch ``x`` of shape (n, d) at step ``t``."""
        x, t = _check_step(self.schedule, x, t, self.d)
        emb = np.asarray(
            _embedding(jnp.full((1,), float(t)), self.schedule.T, self.embedding),
            dtype=float,
        )
        h = np.concatenate([x, np.repeat(emb, x.shape[0], axis=0)], axis=1)
        for i in range(self.depth):
            h = np.maximum(h @ self.params[f"W{i}"] + self.params[f"b{i}"], 0.0)
        return h @ self.params[f"W{self.depth}"] + self.params[f"b{self.depth}"]


def _shared_forward(p, h, depth):
    for i in range(depth):
        h = jax.nn.relu(h @ p[f"W{i}"] + p[f"b{i}"])
    return h @ p[f"W{depth}"] + p[f"b{depth}"]


def train_shared(
    X,
    sched: ld.Schedule,
    width: int = 128,
    depth: int = 2,
    embedding: int = 32,
    n_steps: int = 5000,
    batch: int = 256,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> SharedNetwork:
    """Train one ReLU perceptron with ``depth`` hidden layers of ``width`` units on
    ``X`` (chapter 8).

    Input ``[x_t, embedding(t)]``; each batch draws ``batch`` training points, steps
    ``t`` uniform in ``1..T`` and fresh noise (the DDPM loss of the book, averaged over
    ``t``). He initialization, biases zero. Cost per Adam step
    O(batch width (d + width depth)).
    """
    Xj, root_a, root_s, optimizer = _setup(
        X, sched, batch, n_steps, learning_rate, seed
    )
    N, d = Xj.shape
    for name, value in [("width", width), ("depth", depth), ("embedding", embedding)]:
        ld._integer(name, value, low=1)
    if embedding % 2:
        raise ValueError(f"embedding: expected an even size, got {embedding}")
    T = sched.T
    sizes = [d + embedding] + [width] * depth + [d]
    keys = jax.random.split(jax.random.PRNGKey(seed), depth + 2)
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"W{i}"] = jax.random.normal(keys[i], (n_in, n_out)) * np.sqrt(
            2.0 / n_in
        )
        params[f"b{i}"] = jnp.zeros(n_out)
    key = keys[-1]

    def loss(p, k):
        k_i, k_t, k_z = jax.random.split(k, 3)
        x0 = Xj[jax.random.randint(k_i, (batch,), 0, N)]
        t = jax.random.randint(k_t, (batch,), 1, T + 1)
        z = jax.random.normal(k_z, (batch, d))
        xt = root_a[t - 1][:, None] * x0 + root_s[t - 1][:, None] * z
        h = jnp.concatenate(
            [xt, _embedding(t.astype(jnp.float32), T, embedding)], axis=1
        )
        return jnp.mean(jnp.sum((z - _shared_forward(p, h, depth)) ** 2, axis=-1))

    out, losses = _fit(loss, params, optimizer, n_steps, key)
    return SharedNetwork(out, losses, sched, embedding)
