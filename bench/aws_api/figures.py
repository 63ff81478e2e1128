"""The issue's six figures (plus a percentile row) as boto3 calls, and the data they need.

A ``Figure`` is one boto3 call (or one full pagination) made the same way against every
target: moto, tandem, and the stubs replaying each of them. ``seed`` puts the same data into
moto and tandem first; PutLogEvents *is* the load of the 1,000,000-event stream that
GetLogEvents and FilterLogEvents then read, so it must run before them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Clients", "Figure", "Day", "make_day", "figures", "seed", "wait_for_day",
           "PERCENTILES", "GROUP", "STREAM", "TERM"]

NS = "Bench"
GROUP = "/bench/aws-api"
STREAM = "big"
TERM = "OutOfMemoryError"
PERCENTILES = ("p50", "p90", "p99", "p99.9")
_BASIC = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]


@dataclass
class Clients:
    """One target's boto3 clients (the stubs answer both services on one port)."""

    cloudwatch: Any
    logs: Any


@dataclass
class Figure:
    """One timed boto3 call; ``arg(i)`` builds call i's input outside the timed region."""

    key: str
    title: str
    repeats: int
    call: Callable[[Clients, Any], Any]
    arg: Callable[[int], Any] = field(default=lambda i: None)
    items_per_call: int = 0  # datapoints or events, for a throughput column
    item: str = ""
    in_targets: bool = True  # one of the six figures


@dataclass
class Day:
    """One day of 1-minute latency data: 60 values a minute, kept to check percentiles."""

    end: dt.datetime
    minutes: list[dt.datetime]
    values: list[np.ndarray]

    @property
    def start(self) -> dt.datetime:
        return self.end - dt.timedelta(days=1)


def make_day(seed_: int = 7) -> Day:
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=5)
    rng = np.random.default_rng(seed_)
    minutes = [end - dt.timedelta(minutes=m + 1) for m in range(1440)]
    values = [np.round(rng.lognormal(3.0, 0.6, 60), 2) for _ in minutes]
    return Day(end, minutes, values)


def _day_datums(day: Day) -> list[dict[str, Any]]:
    datums = []
    for t, v in zip(day.minutes, day.values, strict=True):
        uniq, counts = np.unique(v, return_counts=True)
        datums.append({
            "MetricName": "Latency", "Unit": "Milliseconds", "Timestamp": t,
            "Values": uniq.tolist(), "Counts": counts.astype(float).tolist(),
        })
    return datums


def seed(c: Clients, day: Day, series: int) -> None:
    """The metric data both servers answer from, and the empty log stream PutLogEvents fills."""
    datums = _day_datums(day)
    for i in range(0, len(datums), 100):
        c.cloudwatch.put_metric_data(Namespace=NS + "/day", MetricData=datums[i : i + 100])
    many = [
        {"MetricName": f"m{i // 100}", "Value": 1.0,
         "Dimensions": [{"Name": "Host", "Value": f"h{i % 100}"}]}
        for i in range(series)
    ]
    for i in range(0, len(many), 1000):
        c.cloudwatch.put_metric_data(Namespace=NS + "/many", MetricData=many[i : i + 1000])
    c.logs.create_log_group(logGroupName=GROUP)
    c.logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)


def wait_for_day(c: Clients, day: Day, timeout: float = 30.0) -> None:
    """tandem answers from the store after its metrics flush (5 s by default): wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        got = len(_gms(c, day, Statistics=["SampleCount"])["Datapoints"])
        if got == 1440:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {got} of 1440 minutes visible after {timeout} s")
        time.sleep(0.5)


def _gms(c: Clients, day: Day, **stats: Any) -> Any:
    return c.cloudwatch.get_metric_statistics(
        Namespace=NS + "/day", MetricName="Latency", StartTime=day.start, EndTime=day.end,
        Period=60, **stats,
    )


def _message(n: int) -> str:
    word = TERM if n % 100 == 0 else "ok"  # 1% of events carry the term
    text = (f"2026-11-25T10:00:00.{n % 1000:03d}Z INFO worker-{n % 7} POST /invocations "
            f"request={n:07d} status=200 latency_ms={n % 97} {word}")
    return text.ljust(100, ".")


def figures(day: Day, series: int, events: int, repeats: dict[str, int],
            base_ms: int) -> list[Figure]:
    """The figures in run order; ``repeats`` per key, PutLogEvents' count set by ``events``."""
    batch = [
        {"MetricName": "Invocations", "Value": 1.0, "Unit": "Count",
         "Dimensions": [{"Name": "EndpointName", "Value": f"ep-{i}"}]}
        for i in range(20)
    ]

    def put_metric_data(c: Clients, _: Any) -> None:
        c.cloudwatch.put_metric_data(Namespace=NS + "/put", MetricData=batch)

    def gms(c: Clients, _: Any) -> None:
        assert len(_gms(c, day, Statistics=_BASIC)["Datapoints"]) == 1440

    def gms_percentiles(c: Clients, _: Any) -> None:
        assert len(_gms(c, day, ExtendedStatistics=list(PERCENTILES))["Datapoints"]) == 1440

    def list_metrics(c: Clients, _: Any) -> None:
        pages = c.cloudwatch.get_paginator("list_metrics").paginate(Namespace=NS + "/many")
        assert sum(len(p["Metrics"]) for p in pages) == series

    def log_batch(i: int) -> list[dict[str, Any]]:
        return [{"timestamp": base_ms + n, "message": _message(n)}
                for n in range(i * 1000, (i + 1) * 1000)]

    def put_log_events(c: Clients, evs: list[dict[str, Any]]) -> None:
        out = c.logs.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=evs)
        assert "rejectedLogEventsInfo" not in out, out["rejectedLogEventsInfo"]

    def get_log_events(c: Clients, _: Any) -> None:
        page = c.logs.get_log_events(logGroupName=GROUP, logStreamName=STREAM, limit=1000)
        assert len(page["events"]) == 1000

    def filter_log_events(c: Clients, _: Any) -> None:
        pages = c.logs.get_paginator("filter_log_events").paginate(
            logGroupName=GROUP, filterPattern=TERM, PaginationConfig={"PageSize": 1000}
        )
        assert sum(len(p["events"]) for p in pages) == events // 100

    return [
        Figure("put_metric_data", "PutMetricData, 20 datums per call", repeats["put"],
               put_metric_data, items_per_call=20, item="datapoints"),
        Figure("get_metric_statistics",
               "GetMetricStatistics, 1 day of 1-minute data, 5 statistics", repeats["gms"], gms),
        Figure("get_metric_statistics_percentiles",
               "GetMetricStatistics, same day, ExtendedStatistics p50/p90/p99/p99.9",
               repeats["gms"], gms_percentiles, in_targets=False),
        Figure("list_metrics", f"ListMetrics over {series:,} series, every page",
               repeats["list"], list_metrics),
        Figure("put_log_events", "PutLogEvents, 1,000 events of 100 B per call",
               events // 1000 - 1, put_log_events, arg=log_batch, items_per_call=1000,
               item="events"),
        Figure("get_log_events",
               f"GetLogEvents, newest page of 1,000 from a {events:,}-event stream",
               repeats["get"], get_log_events),
        Figure("filter_log_events",
               f"FilterLogEvents, 1% term over {events:,} events, paged at 1,000, every page",
               repeats["filter"], filter_log_events),
    ]
