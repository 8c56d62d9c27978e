"""Shared helpers of the test suite.

Tolerances. A rounding comparison goes through :func:`assert_close` (that is,
``lindiff.checks.close``), and its tolerance is derived next to it from the size of the
computation, the machine epsilon ``EPS`` and the conditioning of the problem; each is at
least 100 times above the error measured on this project's machines under several BLAS
kernels (``make margins`` re-measures and lists every margin). A statistical comparison
goes through a function of ``lindiff.checks`` with a stated false-alarm rate.
"""

import numpy as np
import pytest
from hypothesis import settings


from lindiff import checks as lc
import lindiff_core as ld

# Property tests draw their examples from a fixed seed, so that every run checks the
# same cases (a failure is reproducible, and CI is not at the mercy of a new draw).
settings.register_profile("book", derandomize=True, database=None, deadline=None)
settings.load_profile("book")

EPS = np.finfo(float).eps
SCHED = ld.linear_schedule()
STEPS = [1, 2, 10, 100, 500, 999, 1000]


def problem(seed, d, N, k=1.0, **fit):
    """``(rng, rho, X, den)``: ``rho = power_law_gaussian(d, k, rng)``, ``N`` points of
    it and the denoiser fitted to them (``fit``: weight decay, training time)."""
    rng = np.random.default_rng(seed)
    rho = ld.power_law_gaussian(d, k, rng)
    X = rho.sample(N, rng)
    return rng, rho, X, ld.fit_linear_denoiser(X, SCHED, **fit)


def assert_close(actual, expected, rtol, name="values", scale=None):
    """Normwise relative error ``max|a - b| / max|b|`` at most ``rtol`` (a rounding
    check).
    """
    check = lc.close(actual, expected, rtol, name, scale)
    assert check.passed, str(check)


def assert_passes(check):
    assert check.passed, str(check)


def assert_fails(check):
    assert not check.passed, f"expected to fail: {check}"


@pytest.fixture
def sched():
    return SCHED


# The smallest text a figure may show, in pt as displayed (tests of the stored figures
# and the browser check), and its smallest glyph: one level of mathtext's sub- and
# superscripts, fractions and limits (0.7 of the text) below it, not two.
MIN_FONT_PT = 8.0
MIN_GLYPH_PT = 0.7 * MIN_FONT_PT - 1e-9  # a script of 8 pt text, 5.6 pt, passes


def shown_pt(
    stamp: dict, natural_px: float, shown_px: float, key: str = "min_font_pt"
) -> float:
    """The smallest text of a figure in pt as displayed: the font it was drawn with
    (``stamp``, from lindiff.layout.figure_stamp; with ``key="min_glyph_pt"`` its
    smallest glyph) at ``stamp["dpi"]`` pixels per inch, an image ``natural_px`` pixels
    wide shown ``shown_px`` CSS pixels wide (96 per inch, 72 pt per inch)."""
    return stamp[key] * stamp["dpi"] / 96 * shown_px / natural_px
