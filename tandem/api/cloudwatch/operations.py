"""CloudWatch metric operations, protocol-neutral: PascalCase members in, result dicts out.

Input members arrive already checked against ``shapes.INPUTS`` with
timestamps as epoch seconds; results are PascalCase dicts (``None`` members
left out) that each protocol renders with ``shapes.OUTPUTS``. PutMetricData
records into the in-memory registry; queries read the store, on a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from operator import itemgetter
from typing import Any

from ...clock import Clock, SystemClock
from ...errors import InvalidParameterValue
from ...telemetry.alarms import AlarmService
from ...telemetry.metrics import (
    DimensionFilter,
    Metric,
    MetricDataQuery,
    MetricQueries,
    MetricRegistry,
    MetricStat,
)
from ...telemetry.metrics.ingest import MetricDatum, PlainPuts, StatisticSet, put_metric_data
from .alarm_operations import ALARM_OPERATION_NAMES, AlarmOperations
from .errors import UnknownAction
from .tag_operations import TAG_OPERATION_NAMES, TagOperations

__all__ = ["CloudWatchOperations", "OPERATION_NAMES"]

OPERATION_NAMES = (
    "PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics",
    *ALARM_OPERATION_NAMES, *TAG_OPERATION_NAMES,
)  # fmt: skip
Params = Mapping[str, Any]


def _dimensions(members: Params) -> list[tuple[str, str]]:
    return [(d["Name"], d["Value"]) for d in members.get("Dimensions") or ()]


def _datum(d: Params) -> MetricDatum:
    s = d.get("StatisticValues")
    return MetricDatum(
        metric_name=d["MetricName"],
        dimensions=_dimensions(d),
        timestamp=d.get("Timestamp"),
        value=d.get("Value"),
        statistic_values=None
        if s is None
        else StatisticSet(s["SampleCount"], s["Sum"], s["Minimum"], s["Maximum"]),
        values=d.get("Values"),
        counts=d.get("Counts"),
        unit=d.get("Unit"),
        storage_resolution=d.get("StorageResolution"),
    )


# What a request and a datum may hold to take ``PlainPuts``: one Value each, no entities.
_PLAIN_REQUEST = frozenset({"Namespace", "MetricData"})
_PLAIN_DATUM = frozenset(
    {"MetricName", "Dimensions", "Value", "Unit", "Timestamp", "StorageResolution"}
)
_PAIR = itemgetter("Name", "Value")


def _plain_datums(raw: Any) -> list[tuple[Any, ...]] | None:
    """A PutMetricData's datums as ``PlainDatum`` tuples, read from the members as decoded
    (before coercion), or None where the request is not of that plain form."""
    if type(raw) is not dict or not raw.keys() <= _PLAIN_REQUEST:
        return None
    data = raw.get("MetricData")
    if type(data) is not list:
        return None
    datums = []
    for d in data:
        if type(d) is not dict or not d.keys() <= _PLAIN_DATUM:
            return None
        dims = d.get("Dimensions")
        if dims is None:
            pairs = ()
        elif type(dims) is list:
            try:
                pairs = tuple(map(_PAIR, dims))
            except (TypeError, KeyError):  # not a list of Name/Value structures
                return None
        else:
            return None
        datums.append((d.get("MetricName"), pairs, d.get("Unit"), d.get("StorageResolution"),
                       d.get("Value"), d.get("Timestamp")))  # fmt: skip
    return datums


def _query(q: Params) -> MetricDataQuery:
    stat = q.get("MetricStat")
    metric_stat = None
    if stat is not None:
        m = stat["Metric"]
        metric_stat = MetricStat(
            Metric(m.get("Namespace"), m.get("MetricName"), tuple(_dimensions(m))),
            stat["Period"],
            stat["Stat"],
            stat.get("Unit"),
        )
    return MetricDataQuery(
        q["Id"],
        metric_stat,
        q.get("Expression"),
        q.get("Label"),
        q.get("ReturnData", True),
        q.get("Period"),
    )


def _present(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class CloudWatchOperations:
    """The metric operations over a registry (writes) and ``MetricQueries`` (reads), and the
    alarm operations over an ``AlarmService`` (when one is given)."""

    def __init__(
        self,
        registry: MetricRegistry,
        queries: MetricQueries,
        clock: Clock | None = None,
        *,
        defer: Callable[[Callable[[], None]], object] | None = None,
        tagging: TagOperations | None = None,
        alarms: AlarmService | None = None,
    ) -> None:
        """``defer``: the event loop's ``call_soon``, to record plain PutMetricData requests
        after their answer (``PlainPuts``); None records them before it."""
        self.registry = registry
        self.queries = queries
        self.clock = clock or SystemClock()
        self._plain = PlainPuts(registry, self.clock, defer=defer)
        self._table: dict[str, Callable[[Params], Awaitable[dict[str, Any] | None]]] = {
            "PutMetricData": self.put_metric_data,
            "GetMetricStatistics": self.get_metric_statistics,
            "GetMetricData": self.get_metric_data,
            "ListMetrics": self.list_metrics,
        }
        self.tagging = tagging
        if tagging is not None:
            self._table.update(tagging.table)
        if alarms is not None:
            self._table.update(AlarmOperations(alarms, tagging).table)

    async def call(self, operation: str, params: Params) -> dict[str, Any] | None:
        handler = self._table.get(operation)
        if handler is None:
            raise UnknownAction(
                f"The action or operation {operation!r} is not valid for this endpoint."
            )
        return await handler(params)

    def put_plain(self, raw: Any) -> bool:
        """PutMetricData straight from its members as decoded (JSON or CBOR, not yet coerced),
        when every datum is a plain Value: True once recorded. False means nothing was recorded
        and the request takes the full path (``call``), which names whatever is wrong."""
        datums = _plain_datums(raw)
        return datums is not None and self._plain.put(raw.get("Namespace"), datums) is not None

    def record_pending(self) -> None:
        """Record the plain PutMetricData requests still deferred (before a last flush)."""
        self._plain.record_pending()

    async def put_metric_data(self, p: Params) -> None:
        entity = [
            [_datum(d) for d in e.get("MetricData") or ()] for e in p.get("EntityMetricData") or ()
        ]
        put_metric_data(
            self.registry,
            p["Namespace"],
            [_datum(d) for d in p.get("MetricData") or ()],
            self.clock,
            entity_metric_data=entity,
        )
        return None

    async def get_metric_statistics(self, p: Params) -> dict[str, Any]:
        result = await asyncio.to_thread(
            self.queries.get_statistics,
            p["Namespace"],
            p["MetricName"],
            p["StartTime"],
            p["EndTime"],
            p["Period"],
            p.get("Statistics") or (),
            p.get("ExtendedStatistics") or (),
            _dimensions(p),
            p.get("Unit"),
        )
        return {
            "Label": result.label,
            "Datapoints": [
                _present(
                    {
                        "Timestamp": d.timestamp,
                        "SampleCount": d.sample_count,
                        "Average": d.average,
                        "Sum": d.sum,
                        "Minimum": d.minimum,
                        "Maximum": d.maximum,
                        "Unit": d.unit,
                        "ExtendedStatistics": d.extended_statistics,
                    }
                )
                for d in result.datapoints
            ],
        }

    async def get_metric_data(self, p: Params) -> dict[str, Any]:
        queries = [_query(q) for q in p["MetricDataQueries"]]
        result = await asyncio.to_thread(
            self.queries.get_metric_data,
            queries,
            p["StartTime"],
            p["EndTime"],
            p.get("NextToken"),
            p.get("ScanBy"),
            p.get("MaxDatapoints"),
        )
        out: dict[str, Any] = {
            "MetricDataResults": [
                _present(
                    {
                        "Id": r.id,
                        "Label": r.label,
                        "Timestamps": r.timestamps,
                        "Values": r.values,
                        "StatusCode": r.status_code,
                        "Messages": [{"Code": m.code, "Value": m.value} for m in r.messages]
                        or None,
                    }
                )
                for r in result.metric_data_results
            ],
            "Messages": [{"Code": m.code, "Value": m.value} for m in result.messages],
        }
        if result.next_token:
            out["NextToken"] = result.next_token
        return out

    async def list_metrics(self, p: Params) -> dict[str, Any]:
        owner = p.get("OwningAccount")
        if owner is not None and not 1 <= len(owner) <= 255:  # the model's length
            raise InvalidParameterValue(
                "The parameter OwningAccount must be between 1 and 255 characters long."
            )
        filters = [DimensionFilter(f["Name"], f.get("Value")) for f in p.get("Dimensions") or ()]
        result = await asyncio.to_thread(
            self.queries.list_metrics,
            p.get("Namespace"),
            p.get("MetricName"),
            filters,
            p.get("RecentlyActive"),
            p.get("NextToken"),
        )
        out: dict[str, Any] = {
            "Metrics": [
                {
                    "Namespace": m.namespace,
                    "MetricName": m.metric_name,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in m.dimensions],
                }
                for m in result.metrics
            ]
        }
        if result.next_token:
            out["NextToken"] = result.next_token
        return out
