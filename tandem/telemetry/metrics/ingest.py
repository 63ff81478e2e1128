"""PutMetricData's request semantics: CloudWatch's limits and combinations, then recording.

A request is validated whole before anything is recorded, so a rejected call
records nothing (CloudWatch's behaviour). Error texts follow CloudWatch's,
with the query protocol's member paths (``MetricData.member.1.Value``) that
AWS uses in every protocol. Dimensions are limited to the core's 10
(``validation.MAX_DIMENSIONS``, the issue's limit), not the 30 of today's model.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from tandem.clock import Clock
from tandem.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
    TandemError,
)

from .series import MetricRegistry, Series
from .validation import UNITS, normalize_dimensions, validate_metric_name, validate_namespace

__all__ = [
    "StatisticSet",
    "MetricDatum",
    "put_metric_data",
    "MAX_DATUMS",
    "MAX_VALUES",
    "MAX_PAST",
    "MAX_FUTURE",
    "STORAGE_RESOLUTIONS",
    "PlainDatum",
    "PlainPuts",
]

_log = logging.getLogger(__name__)

MAX_DATUMS = 1000
MAX_VALUES = 150
MAX_PAST = 14 * 86400  # two weeks
MAX_FUTURE = 2 * 3600
STORAGE_RESOLUTIONS = (1, 60)
_LIMIT = 2.0**360  # CloudWatch's value range is -2^360 .. 2^360


@dataclasses.dataclass(frozen=True, slots=True)
class StatisticSet:
    sample_count: float | None
    sum: float | None
    minimum: float | None
    maximum: float | None


# Built 1,000 per request at most: slots and no frozen __init__ (which sets each field through
# object.__setattr__) halve the cost of building one. Treat them as immutable.
@dataclasses.dataclass(slots=True)
class MetricDatum:
    """One ``MetricDatum``; ``timestamp`` in epoch seconds (None: the time of receipt)."""

    metric_name: str
    dimensions: Sequence[tuple[str, str]] = ()
    timestamp: float | None = None
    value: float | None = None
    statistic_values: StatisticSet | None = None
    values: Sequence[float] | None = None
    counts: Sequence[float] | None = None
    unit: str | None = None
    storage_resolution: int | None = None


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterValue(f"The value {value!r} for parameter {where} is invalid.")
    number = float(value)
    if not math.isfinite(number) or abs(number) > _LIMIT:
        raise InvalidParameterValue(f"The value {value!r} for parameter {where} is invalid.")
    return number


@dataclasses.dataclass(slots=True)
class _Checked:
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str
    timestamp: float
    value: float | None
    values: list[float] | None
    counts: list[float] | None
    stats: tuple[float, float, float, float] | None


@functools.lru_cache(maxsize=8192)
def _valid_names(
    metric_name: str, dimensions: tuple[tuple[str, str], ...]
) -> tuple[str, tuple[tuple[str, str], ...]]:
    return validate_metric_name(metric_name), normalize_dimensions(dimensions)


def _series_names(
    metric_name: str, dimensions: Sequence[tuple[str, str]] | None
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The validated name and sorted dimensions of a datum's series. Clients send the same
    series call after call, so the answers for the last 8,192 are remembered (only valid
    ones: a refusal raises and is not cached)."""
    try:
        return _valid_names(metric_name, tuple(dimensions or ()))
    except TypeError:  # an unhashable name or dimension: check it uncached, to name it
        return validate_metric_name(metric_name), normalize_dimensions(list(dimensions or ()))


def _checked_series(
    metric_name: str | None,
    dimensions: Sequence[tuple[str, str]] | None,
    unit: str | None,
    storage_resolution: int | None,
    where: str,
) -> tuple[str, tuple[tuple[str, str], ...], str]:
    """A datum's series: its validated name, sorted dimensions and unit (None is "None")."""
    if metric_name is None:
        raise MissingParameter(f"The parameter {where}.MetricName is required.")
    name, dims = _series_names(metric_name, dimensions)
    unit = "None" if unit is None else unit
    if unit not in UNITS:
        raise InvalidParameterValue(
            f"The value {unit} for parameter {where}.Unit is not valid: use one of "
            f"{', '.join(sorted(UNITS))}."
        )
    if storage_resolution is not None and storage_resolution not in STORAGE_RESOLUTIONS:
        raise InvalidParameterValue(
            f"The value {storage_resolution} for parameter {where}.StorageResolution is "
            "not valid: use 1 or 60."
        )
    return name, dims, unit


def _checked_namespace(namespace: str | None) -> str:
    if namespace is None:
        raise MissingParameter("The parameter Namespace is required.")
    namespace = validate_namespace(namespace)
    if namespace.startswith("AWS/"):
        raise InvalidParameterValue(
            "The value AWS/ for parameter Namespace is invalid: namespaces starting with AWS/ "
            "are reserved for AWS services."
        )
    return namespace


def _validate(datum: MetricDatum, where: str, now: float) -> _Checked:
    name, dims, unit = _checked_series(
        datum.metric_name, datum.dimensions, datum.unit, datum.storage_resolution, where
    )
    timestamp = now if datum.timestamp is None else datum.timestamp
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, int | float)
        or not math.isfinite(timestamp)
    ):
        raise InvalidParameterValue(f"The parameter {where}.Timestamp must be a timestamp.")
    if timestamp < now - MAX_PAST or timestamp > now + MAX_FUTURE:
        raise InvalidParameterValue(
            f"The parameter {where}.Timestamp must specify a time no more than two weeks in the "
            "past and no more than two hours in the future."
        )
    has_value = datum.value is not None
    has_values = datum.values is not None
    has_stats = datum.statistic_values is not None
    if has_value and has_values:
        raise InvalidParameterCombination(
            f"The parameters {where}.Value and {where}.Values are mutually exclusive and you "
            "have specified both."
        )
    if has_value and has_stats:
        raise InvalidParameterCombination(
            f"The parameters {where}.Value and {where}.StatisticValues are mutually exclusive "
            "and you have specified both."
        )
    if datum.counts is not None and not has_values:
        raise InvalidParameterCombination(
            f"The parameter {where}.Counts may only be given with {where}.Values."
        )
    if not (has_value or has_values or has_stats):
        raise MissingParameter(
            f"One of the parameters {where}.Value, {where}.Values or {where}.StatisticValues "
            "is required."
        )
    value = _number(datum.value, f"{where}.Value") if has_value else None
    values = counts = None
    if has_values:
        values = [
            _number(v, f"{where}.Values.member.{i + 1}") for i, v in enumerate(datum.values or ())
        ]
        if len(values) > MAX_VALUES:
            raise InvalidParameterValue(
                f"The collection {where}.Values must not have more than {MAX_VALUES} members."
            )
        if datum.counts is not None:
            counts = [
                _number(c, f"{where}.Counts.member.{i + 1}") for i, c in enumerate(datum.counts)
            ]
            if len(counts) != len(values):
                raise InvalidParameterValue(
                    f"The parameters {where}.Values and {where}.Counts must be of the same size."
                )
            for i, c in enumerate(counts):
                if c < 0:
                    raise InvalidParameterValue(
                        f"The value {c} for parameter {where}.Counts.member.{i + 1} is invalid: "
                        "counts must not be negative."
                    )
    stats = None
    if has_stats:
        s = datum.statistic_values
        assert s is not None
        parts = []
        for field, label in (
            ("sample_count", "SampleCount"),
            ("sum", "Sum"),
            ("minimum", "Minimum"),
            ("maximum", "Maximum"),
        ):
            raw = getattr(s, field)
            if raw is None:
                raise MissingParameter(
                    f"The parameter {where}.StatisticValues.{label} is required."
                )
            parts.append(_number(raw, f"{where}.StatisticValues.{label}"))
        n, total, lo, hi = parts
        if n <= 0:
            raise InvalidParameterValue(
                f"The parameter {where}.StatisticValues.SampleCount must be greater than 0."
            )
        if lo > hi:
            raise InvalidParameterValue(
                f"The parameter {where}.StatisticValues.Minimum must be less than or equal to "
                f"{where}.StatisticValues.Maximum."
            )
        stats = (n, total, lo, hi)
    return _Checked(name, dims, unit, float(timestamp), value, values, counts, stats)


def put_metric_data(
    registry: MetricRegistry,
    namespace: str,
    metric_data: Sequence[MetricDatum],
    clock: Clock | None = None,
    *,
    entity_metric_data: Sequence[Sequence[MetricDatum]] = (),
) -> int:
    """Validate every datum, then record them all; returns the number of datums recorded.

    ``entity_metric_data`` holds the ``MetricData`` of each ``EntityMetricData`` member (the
    entity itself has no meaning locally); it counts towards the 1000-datum limit.
    """
    namespace = _checked_namespace(namespace)
    batches = [("MetricData", list(metric_data))] + [
        (f"EntityMetricData.member.{i + 1}.MetricData", list(data))
        for i, data in enumerate(entity_metric_data)
    ]
    if sum(len(data) for _, data in batches) > MAX_DATUMS:
        raise InvalidParameterValue(
            f"The collection MetricData must not have more than {MAX_DATUMS} members."
        )
    now = (clock or registry.clock).time()
    checked = [
        _validate(d, f"{path}.member.{i + 1}", now)
        for path, data in batches
        for i, d in enumerate(data)
    ]
    for c in checked:
        series = registry.series(namespace, c.metric_name, c.dimensions, c.unit)
        if c.value is not None:
            series.record(c.value, c.timestamp)
        if c.values is not None:
            series.record_values(c.values, c.counts, c.timestamp)
        if c.stats is not None:
            series.record_statistics(*c.stats, timestamp=c.timestamp)
    return len(checked)


# (metric name, dimensions as given, unit, storage resolution, value, timestamp or None)
PlainDatum = tuple[str, tuple[tuple[str, str], ...], str | None, int | None, float, float | None]

# ``MetricRegistry.series``' arguments: namespace, metric name, sorted dimensions, unit.
_SeriesArgs = tuple[str, str, tuple[tuple[str, str], ...], str]
# An accepted datum: its series and None, or, for a spelling not seen yet, the spelling and
# its series' checked arguments; then its value and timestamp.
_Accepted = tuple[Any, _SeriesArgs | None, float, float]


class PlainPuts:
    """The common PutMetricData, every datum one ``Value``, at a fraction of ``put_metric_data``'s
    cost (a request's datums are checked in one pass, each series found by the client's own
    spelling of it).

    ``put`` records the whole request or declines it, recording nothing, where anything would
    need a check it does not make (a new spelling of a series is checked as
    ``put_metric_data`` checks it): ``put_metric_data`` then runs and names what is wrong in
    CloudWatch's words. So the two accept and record exactly the same requests.

    ``defer`` (the event loop's ``call_soon``) moves the recording of an accepted request
    after its response: the checks that decide the answer stay on the request's path, the
    recording (most of the memory a request touches) runs on the loop's next turn, before any
    later request is served and long before a flush could miss it. ``record_pending`` records
    what is still deferred. Used from one thread (the event loop's)."""

    MAX_SPELLINGS = 65536

    def __init__(
        self,
        registry: MetricRegistry,
        clock: Clock | None = None,
        *,
        defer: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.registry = registry
        self.clock = clock or registry.clock
        self._namespaces: set[str] = set()
        self._series: dict[tuple[object, ...], Series] = {}
        self._defer = defer
        self._pending: list[list[_Accepted]] = []

    def put(self, namespace: str, datums: Sequence[PlainDatum]) -> int | None:
        """The number of datums recorded, or None (nothing recorded) to decline."""
        if type(namespace) is not str or (
            namespace not in self._namespaces and not self._namespace_ok(namespace)
        ):
            return None
        if len(datums) > MAX_DATUMS:
            return None
        now = self.clock.time()
        earliest, latest = now - MAX_PAST, now + MAX_FUTURE
        known = self._series
        todo: list[_Accepted] = []
        for name, dims, unit, resolution, value, timestamp in datums:
            kind = type(value)
            # Comparisons are false for NaN, so the range check refuses it and the infinities.
            if (kind is not float and kind is not int) or not -_LIMIT <= value <= _LIMIT:
                return None
            if timestamp is None:
                timestamp = now
            elif (type(timestamp) is not float and type(timestamp) is not int) or not (
                earliest <= timestamp <= latest
            ):
                return None
            spelling = (namespace, name, dims, unit, resolution)
            try:
                series = known.get(spelling)
            except TypeError:  # an unhashable member: put_metric_data names it
                return None
            if series is None:
                # A new spelling: checked now, its series made only once all are accepted.
                valid = _plain_series_args(namespace, name, dims, unit, resolution)
                if valid is None:
                    return None
                todo.append((spelling, valid, value, timestamp))
            else:
                todo.append((series, None, value, timestamp))
        if self._defer is None:
            self._record(todo)
        else:
            if not self._pending:
                self._defer(self.record_pending)
            self._pending.append(todo)
        return len(todo)

    def record_pending(self) -> None:
        """Record the accepted requests whose recording was deferred."""
        pending, self._pending = self._pending, []
        for todo in pending:
            try:
                self._record(todo)
            except Exception:  # noqa: BLE001 - already answered: one bad request must not drop the rest
                _log.exception("recording an accepted PutMetricData request failed")

    def _record(self, todo: list[_Accepted]) -> None:
        for series, valid, value, timestamp in todo:
            if valid is not None:
                series = self._remember(series, valid)
            series.record(float(value), float(timestamp))

    def _remember(self, spelling: tuple[object, ...], valid: _SeriesArgs) -> Series:
        series = self.registry.series(*valid)
        if len(self._series) >= self.MAX_SPELLINGS:
            self._series.clear()
        self._series[spelling] = series
        return series

    def _namespace_ok(self, namespace: str) -> bool:
        try:
            _checked_namespace(namespace)
        except TandemError:
            return False
        if len(self._namespaces) >= self.MAX_SPELLINGS:
            self._namespaces.clear()
        self._namespaces.add(namespace)
        return True


def _plain_series_args(
    namespace: str, name: object, dims: object, unit: object, resolution: object
) -> _SeriesArgs | None:
    """``MetricRegistry.series``' arguments for a datum's series, checked as ``_validate``
    checks them, or None where it would refuse them. The types are what the full path's
    coercion guarantees it (a member of another type is refused there, and 1.0 or True would
    pass for a resolution of 1 here)."""
    if type(name) is not str or type(dims) is not tuple:
        return None
    if not (unit is None or type(unit) is str):
        return None
    if resolution is not None and type(resolution) is not int:
        return None
    try:
        return (namespace, *_checked_series(name, dims, unit, resolution, ""))
    except (TandemError, TypeError, ValueError):
        return None
