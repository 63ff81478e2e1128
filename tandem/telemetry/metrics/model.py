"""Query arguments and results, shaped 1:1 on CloudWatch's API so a wire layer only renames.

Field names are CloudWatch's in snake_case (``MetricDataQueries[].MetricStat.Stat`` is
``MetricDataQuery.metric_stat.stat``); times are epoch seconds (floats). Arguments are
frozen; results are plain slotted dataclasses (a frozen dataclass's ``__init__`` costs
about 3x more, which shows at 1,440 datapoints).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

__all__ = [
    "Dimension",
    "Metric",
    "MetricStat",
    "MetricDataQuery",
    "Datapoint",
    "MetricStatistics",
    "MessageData",
    "MetricDataResult",
    "MetricDataResponse",
    "ListMetricsResult",
]


class Dimension(NamedTuple):
    name: str
    value: str


@dataclasses.dataclass(frozen=True, slots=True)
class Metric:
    """A metric without its unit. ``dimensions`` are (name, value) pairs (``Dimension`` or
    plain tuples); results from the store hold them sorted by name."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class MetricStat:
    metric: Metric
    period: int
    stat: str
    unit: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class MetricDataQuery:
    """Exactly one of ``metric_stat`` and ``expression``."""

    id: str
    metric_stat: MetricStat | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True
    period: int | None = None


@dataclasses.dataclass(slots=True)
class Datapoint:
    """One period of GetMetricStatistics; only the requested statistics are set."""

    timestamp: float
    unit: str
    sample_count: float | None = None
    average: float | None = None
    sum: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    extended_statistics: dict[str, float] | None = None


@dataclasses.dataclass(slots=True)
class MetricStatistics:
    label: str
    datapoints: list[Datapoint]


@dataclasses.dataclass(slots=True)
class MessageData:
    code: str
    value: str


@dataclasses.dataclass(slots=True)
class MetricDataResult:
    id: str
    label: str
    timestamps: list[float]
    values: list[float]
    status_code: str  # "Complete" | "PartialData" | "InternalError" | "Forbidden"
    messages: list[MessageData] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class MetricDataResponse:
    metric_data_results: list[MetricDataResult]
    next_token: str | None = None
    messages: list[MessageData] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class ListMetricsResult:
    metrics: list[Metric]
    next_token: str | None = None
