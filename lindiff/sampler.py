"""The reverse step's factors and noise, and the scalar recursions of the
generated law (chapter 2).

The sampler (:func:`lindiff.chain.run_chain`) and the exact law of its output
(:func:`lindiff.chain.generated_distribution`) read the same arrays from here.
"""

from __future__ import annotations

import numpy as np

from lindiff.gaussian import Gaussian
from lindiff.schedule import Schedule, _check_schedule
from lindiff._docs import fill


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

    Parameters
    ----------
    {sched}
    sampler : {'ddpm', 'ddim'}, default 'ddpm'
        The reverse step.
    sigma : {'beta', 'posterior'}, default 'beta'
        The noise of the DDPM step (not used by DDIM).

    Returns
    -------
    ndarray, shape (T,)
        ``sigma_t^2``, index ``t - 1`` for step ``t``.
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
    ``e_t = mix_t w_t sqrt(abar_t)`` (``_chain_steps``), ``s_t = sqrt(1 - abar_t)``.
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


def _law(mean, V, has_rest: bool, f, h) -> Gaussian:
    """``N(h(S) mean, f(S))`` for ``S`` with eigenbasis ``V`` (None = Id); the last
    entry of ``f`` and ``h`` belongs to the directions orthogonal to ``V`` when
    ``has_rest``."""
    if V is None:
        return Gaussian._make(h * mean, None, f, 0.0)
    coef = mean @ V
    out = mean * h[-1] + ((h[:-1] - h[-1]) * coef) @ V.T
    return Gaussian._make(out, V, f[:-1], f[-1] if has_rest else 0.0)


fill(globals())
