"""The result type of every check of the book (:class:`lindiff.checks.Check`) and the
book's false-alarm rate; the public names are those of :mod:`lindiff.checks`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: False-alarm rate of every statistical check of the book.
FALSE_ALARM = 1e-4

_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Check:
    """One verification: passes when ``value <= limit``.

    ``kind`` is ``"rounding"`` (floating-point comparison; ``value`` is the measured
    error) or ``"statistical"`` (``value`` is a test statistic, ``limit`` its quantile
    at the false-alarm rate ``false_alarm``).
    """

    name: str
    value: float
    limit: float
    kind: str
    false_alarm: float | None = None
    detail: str = ""

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.value) and self.value <= self.limit)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        """The check as a statement of fact: the measured value, how it compares with
        the limit, and the verdict (``passed``, or ``rejected`` for a statistical
        check and ``failed`` for the others)."""
        op = "<=" if self.passed else ">"
        if self.kind == "rounding":
            text = f"{self.name}: error {self.value:.1e} {op} limit {self.limit:.0e}"
        elif self.kind == "model":
            text = (
                f"{self.name}: departure {self.value:.3f} {op} limit {self.limit:.3g}"
            )
        else:
            text = (
                f"{self.name}: statistic {self.value:.4g} {op} limit {self.limit:.4g} "
                f"(false-alarm rate {self.false_alarm:.0e})"
            )
        failed = "rejected" if self.kind == "statistical" else "failed"
        verdict = "passed" if self.passed else failed
        return f"{text}: {verdict}" + (f"; {self.detail}" if self.detail else "")
