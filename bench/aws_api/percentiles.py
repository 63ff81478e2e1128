"""ExtendedStatistics answered by a server, checked against numpy on the data that was put.

tandem answers percentiles from a log-bucketed sketch with 0.5% relative accuracy, promising
1%. Exact percentiles of 60 values depend on the rank rule (numpy alone has nine), so a value
counts as exact when it lies between numpy's ``lower`` and ``higher`` order statistics, and
its error otherwise is the relative distance to the nearer of the two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PercentileCheck", "check_percentiles"]

TOLERANCE = 0.01
# numpy's rank rules, to see which one a server follows (linear is numpy's default).
METHODS = ("inverted_cdf", "nearest", "lower", "higher", "linear")


@dataclass
class PercentileCheck:
    """How a server's ExtendedStatistics compare with numpy over every minute of the day."""

    datapoints: int  # datapoints returned
    answered: int  # percentile values returned (datapoints × requested percentiles at most)
    expected: int
    max_error: float  # relative, to the nearer of numpy's lower/higher order statistic
    by_method: dict[str, float]  # max relative error against each of numpy's rank rules
    worst: str  # where max_error was seen

    @property
    def correct(self) -> bool:
        return self.answered == self.expected and self.max_error <= TOLERANCE


def check_percentiles(response: dict[str, Any], minutes: list[dt.datetime],
                      values: list[np.ndarray], stats: tuple[str, ...]) -> PercentileCheck:
    by_minute = {t: v for t, v in zip(minutes, values, strict=True)}
    answered = 0
    max_error = 0.0
    by_method = dict.fromkeys(METHODS, 0.0)
    worst = ""
    for point in response["Datapoints"]:
        data = by_minute[point["Timestamp"].astimezone(dt.UTC)]
        for stat, got in (point.get("ExtendedStatistics") or {}).items():
            answered += 1
            q = float(stat[1:])
            lo = float(np.percentile(data, q, method="lower"))
            hi = float(np.percentile(data, q, method="higher"))
            error = 0.0 if lo <= got <= hi else min(abs(got - lo) / lo, abs(got - hi) / hi)
            for method in METHODS:
                exact = float(np.percentile(data, q, method=method))
                by_method[method] = max(by_method[method], abs(got - exact) / exact)
            if error > max_error or not worst:
                max_error = max(max_error, error)
                worst = f"{point['Timestamp']:%H:%M} {stat}: {got} vs numpy [{lo}, {hi}]"
    return PercentileCheck(len(response["Datapoints"]), answered,
                           len(minutes) * len(stats), max_error, by_method, worst)
