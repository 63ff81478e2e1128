"""Metrics: series, minute buckets, percentile sketches, flushing, rollups and queries."""

from .expression import ExpressionError, parse_expression
from .flusher import MetricFlusher
from .model import (
    Datapoint,
    Dimension,
    ListMetricsResult,
    MessageData,
    Metric,
    MetricDataQuery,
    MetricDataResponse,
    MetricDataResult,
    MetricStat,
    MetricStatistics,
)
from .queries import MetricQueries
from .rollup import MetricRollups, Retention, RollupReport
from .series import BucketRow, MetricRegistry, Series, SeriesKey
from .store import BucketColumns, ChangedWindow, DimensionFilter, MetricPage, MetricStore
from .validation import UNITS

__all__ = [
    "MetricRegistry",
    "Series",
    "SeriesKey",
    "BucketRow",
    "MetricFlusher",
    "MetricQueries",
    "MetricRollups",
    "Retention",
    "RollupReport",
    "MetricStore",
    "BucketColumns",
    "DimensionFilter",
    "MetricPage",
    "ChangedWindow",
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
    "ExpressionError",
    "parse_expression",
    "UNITS",
]
