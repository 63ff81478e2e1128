"""Paired comparisons for benches that interleave configurations in rounds.

Each round measures every configuration once; a configuration's figure is taken as a change
against the reference's figure in the same round (``value / reference - 1``), so what the
machine does between rounds (other work, a slower pair of processes) falls on both sides of
each ratio. The rounds' changes are summarised by their median and a distribution-free
confidence interval of that median (order statistics; no assumption of normal noise).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence

__all__ = ["Change", "change", "median_interval", "paired_changes"]


def paired_changes(values: Sequence[float], reference: Sequence[float]) -> list[float]:
    """``value / reference - 1`` round by round."""
    if len(values) != len(reference):
        raise ValueError("one value per round on both sides")
    return [v / r - 1 for v, r in zip(values, reference, strict=True)]


def median_interval(values: Sequence[float], confidence: float = 0.95
                    ) -> tuple[float, float, float]:
    """(low, high, achieved confidence) for the median of ``values``.

    The interval runs from the k-th smallest to the k-th largest value, k the largest rank
    whose coverage, 1 - 2·P(Binomial(n, ½) < k), is still at least ``confidence``. With too
    few values for that even at k = 1 it is the whole range, with the coverage it has.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")

    def coverage(k: int) -> float:
        below = sum(math.comb(n, i) for i in range(k)) / 2**n
        return 1 - 2 * below

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= confidence:
        k += 1
    return ordered[k - 1], ordered[n - k], coverage(k)


@dataclasses.dataclass(frozen=True)
class Change:
    """A configuration's paired change against the reference over the rounds."""

    median: float
    low: float
    high: float
    confidence: float
    rounds: int

    def excludes_zero(self) -> bool:
        """Measurable: the whole interval lies on one side of no change."""
        return self.low > 0 or self.high < 0


def change(values: Sequence[float], reference: Sequence[float],
           confidence: float = 0.95) -> Change:
    changes = paired_changes(values, reference)
    low, high, achieved = median_interval(changes, confidence)
    return Change(statistics.median(changes), low, high, achieved, len(changes))
