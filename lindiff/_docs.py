"""Parameter descriptions shared by the docstrings of the public functions.

A docstring names a shared entry by a line ``{name}`` in its Parameters section;
:func:`fill`, called at the end of each module, puts the entry there (indented as the
line), so that a parameter that means the same in many functions is described once.
"""

from __future__ import annotations

import inspect
import re

SHARED = {
    "sched": """\
sched : Schedule
    The noise schedule.""",
    "sched_fitted": """\
sched : Schedule
    The schedule the denoiser was fitted with.""",
    "den": """\
den : LinearDenoiser or InitializedDenoiser
    The trained denoiser.""",
    "rho": """\
rho : Gaussian
    The data law, of the denoiser's dimension.""",
    "rho_data": """\
rho : Gaussian
    The data law.""",
    "X": """\
X : array_like, shape (N, d), or Gaussian
    The training points, one per row (``N >= 2``), or their empirical Gaussian.""",
    "d": """\
d : int
    The dimension, ``>= 1``.""",
    "k": """\
k : float
    The exponent, ``>= 0`` (0: isotropic).""",
    "N": """\
N : int
    The number of training points, ``>= 2``.""",
    "N_samples": """\
N : int
    The number of samples, ``>= 2``.""",
    "n": """\
n : int
    The number of samples, ``>= 0``.""",
    "eigenvalues": """\
eigenvalues : array_like, shape (d,)
    The eigenvalues of ``Sigma``: ``>= 0``, at least one positive.""",
    "eigenvalues_positive": """\
eigenvalues : array_like, shape (d,)
    The eigenvalues of ``Sigma``, all ``> 0``.""",
    "mean": """\
mean : array_like, shape (d,)
    The mean.""",
    "t": """\
t : int
    The step, ``1 <= t <= T``.""",
    "x": """\
x : array_like, shape (m,)
    The points.""",
    "U": """\
U : array_like, shape (n, d)
    The samples, one per row.""",
    "rng": """\
rng : numpy.random.Generator
    The source of the start ``u_T`` and of the noise.""",
    "batch": """\
batch : int or None, default None
    The number of samples run together (``None``: about ``2^16 / d``).""",
    "training": """\
weight_decay : float, default 0.0
    ``gamma`` (``c`` for the step-scaled regularizer), ``>= 0``.
train_time : float or None, default None
    The training time ``tau >= 0``; ``None`` or ``inf``: trained to convergence.""",
    "weight_decay": """\
weight_decay : float, default 0.0
    ``gamma`` (``c`` for the step-scaled regularizer), ``>= 0``.""",
    "sampling": """\
sampler : {'ddpm', 'ddim'}, default 'ddpm'
    The reverse step of :func:`~lindiff.chain.run_chain`: DDPM or deterministic DDIM.
sigma : {'beta', 'posterior'}, default 'beta'
    The noise of the DDPM step (:func:`~lindiff.sampler.sampler_noise`).""",
    "sigma": """\
sigma : {'beta', 'posterior'}, default 'beta'
    The noise of the DDPM step (:func:`~lindiff.sampler.sampler_noise`).""",
    "regularization": """\
regularization : {'constant', 'step-scaled'}, default 'constant'
    The regularizer (:data:`~lindiff.schedule.REGULARIZATIONS`).""",
    "chain_options": "\n".join(["{training}", "{sampling}", "{regularization}"]),
    "den_rho": "\n".join(["{den}", "{rho}"]),
    "phi": """\
phi : callable
    ``phi(x)`` takes the array of nodes ``x`` and returns values over its last
    axis (a stack of functions gives a stack of averages).""",
}

_PLACEHOLDER = re.compile(r"^(\s*)\{(\w+)\}$", re.M)


def _filled(doc: str | None) -> str | None:
    if not doc:
        return doc

    def entry(match):
        indent, name = match.groups()
        if name not in SHARED:
            raise KeyError(f"no shared docstring entry {name!r}")
        text = _PLACEHOLDER.sub(entry, SHARED[name])  # entries made of entries
        return "\n".join(indent + line for line in text.splitlines())

    return _PLACEHOLDER.sub(entry, doc)


def fill(namespace: dict) -> None:
    """Fill the placeholders in the docstrings of the functions and classes (and their
    methods) defined in a module's ``namespace``."""
    module = namespace["__name__"]
    for obj in list(namespace.values()):
        if getattr(obj, "__module__", None) != module:
            continue
        if inspect.isfunction(obj):
            obj.__doc__ = _filled(obj.__doc__)
        elif inspect.isclass(obj):
            obj.__doc__ = _filled(obj.__doc__)
            for member in vars(obj).values():
                target = getattr(member, "__func__", member)  # class, static methods
                if inspect.isfunction(target):
                    target.__doc__ = _filled(target.__doc__)
