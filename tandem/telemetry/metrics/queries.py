"""GetMetricStatistics, GetMetricData and ListMetrics over a MetricStore, with CloudWatch's rules.

Time and period rules (CloudWatch's, see docs/performance/metrics.md for choices):
StartTime is inclusive and EndTime exclusive; StartTime is rounded down to the
minute when under ``retention.days_1m`` old, to 5 minutes up to ``days_5m`` and
to the hour beyond, and that resolution's rows are read. A period that is not a
multiple of that resolution returns no datapoints (CloudWatch's documented
behaviour), not an error. Periods must be multiples of 60: tandem keeps no
high-resolution data.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tandem.clock import Clock, SystemClock
from tandem.errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
    ValidationError,
)

from .expression import Node, evaluate, parse_expression
from .model import (
    Datapoint,
    Dimension,
    ListMetricsResult,
    MessageData,
    Metric,
    MetricDataQuery,
    MetricDataResponse,
    MetricDataResult,
    MetricStatistics,
)
from .rollup import Retention
from .statistics import BASIC_STATISTICS, aggregate, parse_percentile, validate_stat
from .store import DimensionFilter, MetricStore
from .validation import (
    MAX_DIMENSIONS,
    normalize_dimensions,
    validate_metric_name,
    validate_namespace,
    validate_unit,
)

__all__ = ["MetricQueries"]

MAX_DATAPOINTS = 1440
MAX_QUERIES = 500
DEFAULT_MAX_DATAPOINTS = 100_800
LIST_PAGE = 500
_ID = re.compile(r"[a-z][A-Za-z0-9_]{0,254}\Z")

DimensionsArg = Mapping[str, str] | Iterable[tuple[str, str]] | Iterable[Dimension]


def _seconds(value: float | dt.datetime, name: str) -> float:
    if value is None:
        raise MissingParameter(f"The parameter {name} is required.")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidParameterValue(f"The parameter {name} must be a timestamp.")
    return float(value)


def _dims(dimensions: DimensionsArg) -> tuple[tuple[str, str], ...]:
    if isinstance(dimensions, Mapping):
        return normalize_dimensions(dimensions)
    return normalize_dimensions(
        [(d.name, d.value) if isinstance(d, Dimension) else d for d in dimensions]
    )


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _decode_token(token: str, fingerprint: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(data, dict) or data.get("f") != fingerprint:
            raise ValueError
        return data
    except (ValueError, TypeError, UnicodeError):
        raise InvalidNextToken(
            "The NextToken is invalid or does not belong to this request."
        ) from None


class MetricQueries:
    """Read side of the metrics core; results map 1:1 onto CloudWatch's shapes."""

    def __init__(
        self,
        metric_store: MetricStore,
        clock: Clock | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.store = metric_store
        self.clock = clock or SystemClock()
        self.retention = retention or Retention()

    # -- shared rules ---------------------------------------------------------

    def _time_range(self, start_time: Any, end_time: Any) -> tuple[float, float]:
        start = _seconds(start_time, "StartTime")
        end = _seconds(end_time, "EndTime")
        if start >= end:
            raise InvalidParameterValue(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        return start, end

    @staticmethod
    def _check_period(period: Any) -> int:
        if period is None:
            raise MissingParameter("The parameter Period is required.")
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise InvalidParameterValue("The parameter Period must be an integer of at least 1.")
        return period

    @staticmethod
    def _check_multiple_of_60(period: int) -> None:
        if period % 60:
            raise InvalidParameterValue("The parameter Period must be a multiple of 60.")

    def _plan(self, start: float, period: int) -> tuple[int, int] | None:
        """(resolution, rounded start), or None when the period is too fine for data so old."""
        resolution = self.retention.resolution_for(start, self.clock.time())
        if period % resolution:
            return None
        return resolution, int(start) // resolution * resolution

    # -- GetMetricStatistics --------------------------------------------------

    def get_statistics(
        self,
        namespace: str,
        metric_name: str,
        start_time: float | dt.datetime,
        end_time: float | dt.datetime,
        period: int,
        statistics: Sequence[str] = (),
        extended_statistics: Sequence[str] = (),
        dimensions: DimensionsArg = (),
        unit: str | None = None,
    ) -> MetricStatistics:
        if namespace is None:
            raise MissingParameter("The parameter Namespace is required.")
        if metric_name is None:
            raise MissingParameter("The parameter MetricName is required.")
        namespace = validate_namespace(namespace)
        metric_name = validate_metric_name(metric_name)
        dims = _dims(dimensions)
        if unit is not None:
            validate_unit(unit)
        start, end = self._time_range(start_time, end_time)
        period = self._check_period(period)
        statistics, extended = list(statistics), list(extended_statistics)
        if not statistics and not extended:
            raise InvalidParameterCombination(
                "Must specify either Statistics or ExtendedStatistics"
            )
        if statistics and extended:
            raise InvalidParameterCombination(
                "The parameters Statistics and ExtendedStatistics are mutually exclusive and you "
                "have specified both."
            )
        if len(statistics) > 5:
            raise InvalidParameterValue(
                "The collection Statistics must not have more than 5 members."
            )
        if len(extended) > 10:
            raise InvalidParameterValue(
                "The collection ExtendedStatistics must not have more than 10 members."
            )
        for s in statistics:
            if s not in BASIC_STATISTICS:
                raise InvalidParameterValue(
                    f"The value {s} for parameter Statistics is not a valid statistic: use "
                    "SampleCount, Average, Sum, Minimum or Maximum."
                )
        for s in extended:
            if parse_percentile(s) is None:
                raise InvalidParameterValue(
                    f"The value {s} for parameter ExtendedStatistics is not a valid percentile: "
                    "use p0 to p100, e.g. p99 or p99.9."
                )
        requested = int((end - start) / period)
        if requested > MAX_DATAPOINTS:
            raise InvalidParameterCombination(
                f"You have requested up to {requested} datapoints, which exceeds the limit of "
                f"{MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, "
                "or decreasing the time range."
            )
        self._check_multiple_of_60(period)
        plan = self._plan(start, period)
        if plan is None:
            return MetricStatistics(metric_name, [])
        resolution, rstart = plan
        cols = self.store.read_buckets(
            Metric(namespace, metric_name, dims),
            unit,
            resolution,
            rstart,
            math.ceil(end),
            sketches=bool(extended),
        )
        wanted = list(dict.fromkeys(statistics + extended))
        stats = aggregate(cols, rstart, period, wanted)
        n = len(stats.timestamps)
        units = [stats.units[u] for u in stats.unit_index.tolist()]
        times = stats.timestamps.tolist()
        if statistics:
            absent = [None] * n
            columns = [
                stats.values[s].tolist() if s in stats.values and s in statistics else absent
                for s in BASIC_STATISTICS
            ]
            points = list(map(Datapoint, times, units, *columns))
        else:
            rows = zip(*(stats.values[s].tolist() for s in extended), strict=True)
            absent = [None] * n
            maps = [
                {s: v for s, v in zip(extended, row, strict=True) if v == v}  # v == v: not NaN
                for row in rows
            ]
            points = list(
                map(Datapoint, times, units, absent, absent, absent, absent, absent, maps)
            )
        if len(stats.units) > 1:
            points.sort(key=lambda p: (p.timestamp, p.unit))
        return MetricStatistics(metric_name, points)

    # -- GetMetricData ----------------------------------------------------------

    def get_metric_data(
        self,
        metric_data_queries: Sequence[MetricDataQuery],
        start_time: float | dt.datetime,
        end_time: float | dt.datetime,
        next_token: str | None = None,
        scan_by: str | None = None,
        max_datapoints: int | None = None,
    ) -> MetricDataResponse:
        queries = list(metric_data_queries or ())
        if not queries:
            raise MissingParameter("The parameter MetricDataQueries is required.")
        if len(queries) > MAX_QUERIES:
            raise InvalidParameterValue(
                f"The collection MetricDataQueries must not have more than {MAX_QUERIES} members."
            )
        start = _seconds(start_time, "StartTime")
        end = _seconds(end_time, "EndTime")
        # GetMetricData words these apart from GetMetricStatistics, with another code.
        if start > end:
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        if start == end:
            raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
        scan_by = scan_by or "TimestampDescending"
        if scan_by not in ("TimestampDescending", "TimestampAscending"):
            raise InvalidParameterValue(
                f"The value {scan_by} for parameter ScanBy is not valid: use TimestampDescending "
                "or TimestampAscending."
            )
        limit = DEFAULT_MAX_DATAPOINTS if max_datapoints is None else max_datapoints
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidParameterValue("The parameter MaxDatapoints must be a positive integer.")
        parsed = self._check_queries(queries)
        fingerprint = _fingerprint(queries, start, end, scan_by, limit)
        offset = 0
        if next_token is not None:
            token_offset = _decode_token(next_token, fingerprint).get("o")
            if not isinstance(token_offset, int) or token_offset < 0:
                raise InvalidNextToken(
                    "The NextToken is invalid or does not belong to this request."
                )
            offset = token_offset

        messages: dict[str, list[MessageData]] = {q.id: [] for q in queries}
        # MetricStat results as ascending (timestamps, values); expressions see dicts.
        columns = self._metric_stat_series(queries, start, end, messages)
        stat_ids = [q.id for q in queries if q.metric_stat is not None]
        series: dict[str, dict[float, float]] = {}
        by_id = {q.id: q for q in queries}
        in_progress: set[str] = set()

        def as_dict(qid: str) -> dict[float, float]:
            if qid not in series:
                series[qid] = dict(zip(*columns[qid], strict=True))
            return series[qid]

        def lookup(qid: str) -> dict[float, float]:
            if qid in columns:
                return as_dict(qid)
            if qid not in by_id:
                raise KeyError(qid)
            if qid in in_progress:
                raise InvalidParameterValue(f"The expression of {qid} refers to itself.")
            in_progress.add(qid)
            q = by_id[qid]
            value = evaluate(
                parsed[qid], lookup, lambda: [as_dict(i) for i in stat_ids], q.expression or "", qid
            )
            in_progress.discard(qid)
            if isinstance(value, float):
                # A number is drawn at every timestamp of the MetricStat queries.
                times = sorted({t for i in stat_ids for t in columns[i][0]})
                value = {} if math.isnan(value) else {t: value for t in times}
            ordered = sorted(value.items())
            columns[qid] = ([t for t, _ in ordered], [v for _, v in ordered])
            return value

        labels = self._labels(queries)
        descending = scan_by == "TimestampDescending"
        out, remaining, position, more = [], limit, 0, False
        for q in queries:
            if q.id not in columns:
                lookup(q.id)
            if not q.return_data:
                continue
            times, values = columns[q.id]
            if descending:
                times, values = times[::-1], values[::-1]
            first = min(max(offset - position, 0), len(times))
            upto = min(first + remaining, len(times))
            remaining -= upto - first
            position += len(times)
            partial = upto < len(times)
            more = more or partial
            out.append(
                MetricDataResult(
                    id=q.id,
                    label=labels[q.id],
                    timestamps=times[first:upto],
                    values=values[first:upto],
                    status_code="PartialData" if partial else "Complete",
                    messages=messages[q.id],
                )
            )
        token = None
        if more:
            token = _encode_token({"f": fingerprint, "o": offset + limit})
        return MetricDataResponse(out, token, [])

    def _check_queries(self, queries: Sequence[MetricDataQuery]) -> dict[str, Node]:
        parsed: dict[str, Node] = {}
        seen: set[str] = set()
        for q in queries:
            if not isinstance(q.id, str) or not _ID.match(q.id):
                raise InvalidParameterValue(
                    f"The value {q.id!r} for parameter MetricDataQueries.Id is invalid: it must "
                    "start with a lowercase letter and hold only letters, digits and '_'."
                )
            if q.id in seen:
                raise InvalidParameterValue(f"The Id {q.id} is used by more than one query.")
            seen.add(q.id)
            if (q.metric_stat is None) == (q.expression is None):
                raise InvalidParameterCombination(
                    f"The query {q.id} must specify exactly one of MetricStat and Expression."
                )
            if q.metric_stat is not None:
                ms = q.metric_stat
                validate_namespace(ms.metric.namespace)
                validate_metric_name(ms.metric.metric_name)
                _dims(ms.metric.dimensions)
                validate_stat(ms.stat, "MetricStat.Stat")
                self._check_multiple_of_60(self._check_period(ms.period))
                if ms.unit is not None:
                    validate_unit(ms.unit)
            else:
                if len(q.expression or "") > 2048:
                    raise InvalidParameterValue(
                        f"The expression of {q.id} is longer than 2048 characters."
                    )
                parsed[q.id] = parse_expression(q.expression or "", q.id)
        return parsed

    def _metric_stat_series(
        self,
        queries: Sequence[MetricDataQuery],
        start: float,
        end: float,
        messages: dict[str, list[MessageData]],
    ) -> dict[str, tuple[list[float], list[float]]]:
        """The (timestamps, values) of every MetricStat query, ascending; queries on the same
        metric, unit and period share one read and one aggregation."""
        groups: dict[tuple[Metric, str | None, int], list[MetricDataQuery]] = {}
        for q in queries:
            ms = q.metric_stat
            if ms is not None:
                metric = Metric(
                    ms.metric.namespace, ms.metric.metric_name, _dims(ms.metric.dimensions)
                )
                groups.setdefault((metric, ms.unit, ms.period), []).append(q)
        out: dict[str, tuple[list[float], list[float]]] = {}
        for (metric, unit, period), members in groups.items():
            plan = self._plan(start, period)
            if plan is None:
                out.update((q.id, ([], [])) for q in members)
                continue
            resolution, rstart = plan
            stats_wanted = list({q.metric_stat.stat: 0 for q in members})  # type: ignore[union-attr]
            cols = self.store.read_buckets(
                metric,
                unit,
                resolution,
                rstart,
                math.ceil(end),
                sketches=any(s not in BASIC_STATISTICS for s in stats_wanted),
            )
            units = sorted(set(cols.units))
            if len(units) > 1:
                # CloudWatch returns one unit's data (apparently the alphabetically first),
                # and says so.
                for q in members:
                    messages[q.id].append(
                        MessageData(
                            "MultipleUnits", f"Multiple units returned: '[{', '.join(units)}]'"
                        )
                    )
                cols = cols.only_unit(units[0])
            stats = aggregate(cols, rstart, period, stats_wanted)
            for q in members:
                values = stats.values[q.metric_stat.stat]  # type: ignore[union-attr]
                keep = ~np.isnan(values)
                if keep.all():
                    out[q.id] = (stats.timestamps.tolist(), values.tolist())
                else:
                    out[q.id] = (stats.timestamps[keep].tolist(), values[keep].tolist())
        return out

    @staticmethod
    def _labels(queries: Sequence[MetricDataQuery]) -> dict[str, str]:
        stat_queries = [q.metric_stat for q in queries if q.metric_stat is not None]
        periods_differ = len({ms.period for ms in stat_queries}) > 1
        stats_differ = len({ms.stat for ms in stat_queries}) > 1
        labels = {}
        for q in queries:
            if q.label is not None:
                labels[q.id] = q.label
            elif q.metric_stat is None:
                labels[q.id] = q.id
            else:
                ms = q.metric_stat
                label = ms.metric.metric_name
                if periods_differ:
                    label += f" {ms.stat} {ms.period}"
                elif stats_differ:
                    label += f" {ms.stat}"
                labels[q.id] = label
        return labels

    # -- ListMetrics --------------------------------------------------------------

    def list_metrics(
        self,
        namespace: str | None = None,
        metric_name: str | None = None,
        dimensions: Sequence[DimensionFilter] = (),
        recently_active: str | None = None,
        next_token: str | None = None,
    ) -> ListMetricsResult:
        if namespace is not None:
            validate_namespace(namespace)
        if metric_name is not None:
            validate_metric_name(metric_name)
        filters = list(dimensions)
        if len(filters) > MAX_DIMENSIONS:
            raise InvalidParameterValue(
                f"The collection Dimensions must not have a size greater than {MAX_DIMENSIONS}."
            )
        for f in filters:  # the model's DimensionFilter lengths
            if not 1 <= len(f.name) <= 255:
                raise InvalidParameterValue(
                    "The parameter Dimensions.Name must be between 1 and 255 characters long."
                )
            if f.value is not None and not 1 <= len(f.value) <= 1024:
                raise InvalidParameterValue(
                    "The parameter Dimensions.Value must be between 1 and 1024 characters long."
                )
        if recently_active is not None and recently_active != "PT3H":
            raise InvalidParameterValue(
                f"The value {recently_active} for parameter RecentlyActive is not valid: the only "
                "valid value is PT3H."
            )
        now = self.clock.time()
        # Metrics without data for two weeks are not listed, as in CloudWatch.
        since = now - (3 * 3600 if recently_active else 14 * 86400)
        fingerprint = _fingerprint(namespace, metric_name, filters, recently_active)
        after = None
        if next_token is not None:
            after = _decode_token(next_token, fingerprint).get("a")
            if not isinstance(after, int):
                raise InvalidNextToken(
                    "The NextToken is invalid or does not belong to this request."
                )
        page = self.store.list_metrics(namespace, metric_name, filters, since, after, LIST_PAGE)
        token = None if page.cursor is None else _encode_token({"f": fingerprint, "a": page.cursor})
        return ListMetricsResult(page.metrics, token)
