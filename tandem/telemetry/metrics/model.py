"""Query arguments and results, shaped 1:1 on CloudWatch's API so a wire layer only renames.

Field names are CloudWatch's in snake_case (``MetricDataQueries[].MetricStat.Stat``
is ``MetricDataQuery.metric_stat.stat``); times are epoch seconds (floats).
"""

from __future__ import annotations

import dataclasses

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


@dataclasses.dataclass(frozen=True)
class Dimension:
    name: str
    value: str


@dataclasses.dataclass(frozen=True)
class Metric:
    namespace: str
    metric_name: str
    dimensions: tuple[Dimension, ...] = ()


@dataclasses.dataclass(frozen=True)
class MetricStat:
    metric: Metric
    period: int
    stat: str
    unit: str | None = None


@dataclasses.dataclass(frozen=True)
class MetricDataQuery:
    """Exactly one of ``metric_stat`` and ``expression``."""

    id: str
    metric_stat: MetricStat | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True
    period: int | None = None


@dataclasses.dataclass(frozen=True)
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


@dataclasses.dataclass(frozen=True)
class MetricStatistics:
    label: str
    datapoints: list[Datapoint]


@dataclasses.dataclass(frozen=True)
class MessageData:
    code: str
    value: str


@dataclasses.dataclass(frozen=True)
class MetricDataResult:
    id: str
    label: str
    timestamps: list[float]
    values: list[float]
    status_code: str  # "Complete" | "PartialData" | "InternalError" | "Forbidden"
    messages: list[MessageData] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class MetricDataResponse:
    metric_data_results: list[MetricDataResult]
    next_token: str | None = None
    messages: list[MessageData] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class ListMetricsResult:
    metrics: list[Metric]
    next_token: str | None = None
