"""The noise schedule ``beta_t`` and its derived arrays (chapter 1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lindiff._validate import _array, _describe, _integer, _real


@dataclass(frozen=True, eq=False)
class Schedule:
    """Variance schedule ``beta_t`` of a DDPM with ``abar_t = prod_{s<=t}(1 - beta_s)``.

    Index ``t - 1`` of every array belongs to step ``t``; ``alpha_bar_prev``
    is ``abar_{t-1}`` with the convention ``abar_0 = 1``. ``one_minus_alpha_bar``
    is ``1 - abar_t`` computed without cancellation (exactly ``beta_1`` at t = 1) and
    ``one_minus_alpha_bar_prev`` is ``1 - abar_{t-1}`` (0 at t = 1). Every derived
    array is computed once, here, and read-only.

    Parameters
    ----------
    beta : array_like, shape (T,)
        The variances ``beta_t`` of steps ``t = 1..T``, with ``0 < beta_t < 1`` and
        ``T >= 1``; stored as a read-only copy, the attribute ``beta``.
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
        """Validate a time step ``1 <= t <= T`` and return it as an int.

        Parameters
        ----------
        t : int
            The step.

        Returns
        -------
        int
            ``t``, a Python int.
        """
        t = _integer("t", t, low=1)
        if t > self.T:
            raise ValueError(f"t: expected 1 <= t <= T = {self.T}, got {t}")
        return t

    def same_as(self, other: "Schedule") -> bool:
        """Whether ``other`` is a schedule with the same ``beta``, value for value.

        Parameters
        ----------
        other : object
            The object to compare with.

        Returns
        -------
        bool
            ``True`` when ``other`` is a :class:`Schedule` with an equal ``beta``.
        """
        return isinstance(other, Schedule) and np.array_equal(self.beta, other.beta)


def linear_schedule(
    T: int = 1000, beta_min: float = 1e-4, beta_max: float = 1e-2
) -> Schedule:
    """``beta_t = (beta_max - beta_min) t / T + beta_min`` for ``t = 1..T`` (chapter 1).

    This is the talk's schedule taken literally, so ``beta_1 = beta_min + (beta_max -
    beta_min) / T`` (1.099e-4 by default) and ``beta_T = beta_max``.

    Parameters
    ----------
    T : int, default 1000
        The number of steps, ``>= 1``.
    beta_min : float, default 1e-4
        The intercept, ``0 < beta_min < 1``.
    beta_max : float, default 1e-2
        ``beta_T``, with ``beta_min <= beta_max < 1``.

    Returns
    -------
    Schedule
        The schedule.
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
    """The schedule of the first author's later public code (written for later papers
    of the group, not released with the paper): ``beta`` linear from
    ``1e-4`` to ``2e-2`` over ``T`` steps, endpoints included (``beta_1 = 1e-4``,
    ``beta_T = 2e-2``). The book's default is the talk's :func:`linear_schedule`
    (chapter 1).

    Parameters
    ----------
    T : int, default 1000
        The number of steps, ``>= 2``.

    Returns
    -------
    Schedule
        The schedule.
    """
    T = _integer("T", T, low=2)
    return Schedule(np.linspace(1e-4, 2e-2, T))


def _check_schedule(sched) -> Schedule:
    if not isinstance(sched, Schedule):
        raise ValueError(
            f"sched: expected a Schedule (see linear_schedule), got {_describe(sched)}"
        )
    return sched


#: The names of the two regularizers of the book (chapters 1, 6), ``"constant"``, a
#: weight decay ``gamma ||W_t||_F^2`` at every step, and ``"step-scaled"``, the one of
#: the first author's later code, scaled with the step, ``gamma_t = abar_t c``, whose
#: minimizer is the optimal denoiser of ``Sigma_0 + c Id``.
REGULARIZATIONS = ("constant", "step-scaled")


def _check_regularization(regularization) -> str:
    """``regularization``, one of ``REGULARIZATIONS``."""
    if regularization not in REGULARIZATIONS:
        raise ValueError(
            f"regularization: expected one of {REGULARIZATIONS}, got "
            f"{_describe(regularization)}"
        )
    return regularization


def _decay(weight_decay, regularization, sched):
    """The checked weight decay per step: ``gamma`` (a float) for ``"constant"``, the
    array ``abar_t c`` (shape (T,)) for ``"step-scaled"``."""
    c = _real("weight_decay", weight_decay, low=0.0)
    _check_regularization(regularization)
    return c if regularization == "constant" else c * sched.alpha_bar
