"""Read-your-writes: queries over the store merged with unflushed buckets answer exactly as
queries over a store written synchronously, whatever the interleaving of puts, flushes
(including a flush landing in the middle of a query, and a query in the middle of a flush),
evictions, late data and clock steps."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.clock import ManualClock
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.metrics import SQLiteMetricStore
from tandem.telemetry.metrics import (
    DimensionFilter,
    Metric,
    MetricDataQuery,
    MetricFlusher,
    MetricQueries,
    MetricRegistry,
    MetricStat,
)
from tests.telemetry.metrics.conftest import T0
from tests.telemetry.metrics.memory_store import MemoryMetricStore

# (metric name, dimensions, unit): two units of one metric, and two more metrics.
SERIES = [
    ("Latency", (("Host", "a"),), "Milliseconds"),
    ("Latency", (("Host", "a"),), "Seconds"),
    ("Latency", (("Host", "b"),), "Milliseconds"),
    ("Errors", (), "Count"),
]
BASIC = ["SampleCount", "Sum", "Minimum", "Maximum", "Average"]


class HookedStore:
    """A store that runs ``before``/``after`` callables around its calls (once each)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.hooks: dict[str, Callable[[], None]] = {}

    def _around(self, name: str, *args: Any, **kw: Any) -> Any:
        before = self.hooks.pop(f"before_{name}", None)
        if before is not None:
            before()
        result = getattr(self.inner, name)(*args, **kw)
        after = self.hooks.pop(f"after_{name}", None)
        if after is not None:
            after()
        return result

    def write_buckets(self, *a: Any, **kw: Any) -> Any:
        return self._around("write_buckets", *a, **kw)

    def read_buckets(self, *a: Any, **kw: Any) -> Any:
        return self._around("read_buckets", *a, **kw)

    def list_metrics(self, *a: Any, **kw: Any) -> Any:
        return self._around("list_metrics", *a, **kw)

    def latest_starts(self, *a: Any, **kw: Any) -> Any:
        return self._around("latest_starts", *a, **kw)


def _answers(queries: MetricQueries, clock: ManualClock, listing: bool = True) -> tuple:
    """Every kind of answer: statistics by unit and period, percentiles, GetMetricData, and
    ListMetrics with and without RecentlyActive (as sets: listing order is not compared)."""
    start, end = T0 - 600, clock.time() + 120
    out: list[Any] = []
    for name, dims, _unit in SERIES[2:]:
        for period in (60, 300):
            for unit in (None, "Milliseconds"):
                r = queries.get_statistics("NS", name, start, end, period, BASIC, (), dims, unit)
                out.append(
                    [
                        (p.timestamp, p.unit, p.sample_count, p.sum, p.minimum, p.maximum)
                        for p in r.datapoints
                    ]
                )
        r = queries.get_statistics("NS", name, start, end, 60, (), ["p50", "p99"], dims)
        out.append([(p.timestamp, p.unit, p.extended_statistics) for p in r.datapoints])
    a = Metric("NS", "Latency", (("Host", "a"),))
    data = queries.get_metric_data(
        [
            MetricDataQuery("m1", MetricStat(a, 60, "Sum", "Seconds")),
            MetricDataQuery("m2", MetricStat(a, 120, "Maximum")),
            MetricDataQuery("e1", expression="m1 * 2"),
        ],
        start,
        end,
    )
    out.append([(r.id, r.timestamps, r.values) for r in data.metric_data_results])
    for recently in (None, "PT3H") if listing else ():
        for filters in ((), (DimensionFilter("Host"),)):
            listed = queries.list_metrics("NS", None, filters, recently)
            out.append(sorted((m.metric_name, m.dimensions) for m in listed.metrics))
    return tuple(out)


def _ops() -> st.SearchStrategy[list[tuple]]:
    put = st.tuples(
        st.just("put"),
        st.integers(0, len(SERIES) - 1),
        st.integers(0, 50),
        st.integers(-240, 0),  # seconds before now: late data for evicted minutes too
    )
    return st.lists(
        st.one_of(
            put,
            put,
            st.just(("flush",)),
            st.tuples(st.just("advance"), st.sampled_from([1, 20, 59, 61, 150, 3 * 3600])),
            st.just(("query",)),
            st.just(("query_while_flush_commits",)),
            st.just(("flush_between_memory_and_store",)),
        ),
        max_size=40,
    )


def _run(ops: list[tuple], live_store: Any, sync_store: Any) -> None:
    clock = ManualClock(T0)
    # The store under test: queries merge its rows with the registry's unflushed buckets.
    hooked = HookedStore(live_store)
    registry = MetricRegistry(clock=clock)
    flusher = MetricFlusher(registry, hooked, clock=clock)
    live = MetricQueries(hooked, clock=clock, live=flusher)
    # The reference: every datapoint flushed as soon as it is recorded, queries of the store.
    sync_registry = MetricRegistry(clock=clock)
    sync_flusher = MetricFlusher(sync_registry, sync_store, clock=clock)
    sync = MetricQueries(sync_store, clock=clock)

    def check(listing: bool = True) -> None:
        assert _answers(live, clock, listing) == _answers(sync, clock, listing)

    def check_reads() -> None:
        # Inside a flush: ListMetrics, which may flush itself, waits for it in a server.
        check(listing=False)

    for op in ops:
        if op[0] == "put":
            _, i, value, back = op
            name, dims, unit = SERIES[i]
            ts = clock.time() + back
            registry.series("NS", name, dims, unit).record(float(value), ts)
            sync_registry.series("NS", name, dims, unit).record(float(value), ts)
            sync_flusher.flush()
        elif op[0] == "flush":
            flusher.flush()
        elif op[0] == "advance":
            clock.advance(op[1])
        elif op[0] == "query":
            check()
        elif op[0] == "query_while_flush_commits":
            # A query before the flush's rows are written and one after, before the eviction.
            hooked.hooks["before_write_buckets"] = check_reads
            hooked.hooks["after_write_buckets"] = check_reads
            flusher.flush()
            hooked.hooks.clear()
        elif op[0] == "flush_between_memory_and_store":
            # The worst moment for a reader: memory read, then a whole flush with its
            # eviction, then the store read.
            for name in ("read_buckets", "latest_starts", "list_metrics"):
                hooked.hooks[f"before_{name}"] = flusher.flush
            check()
            hooked.hooks.clear()
    check()
    flusher.flush()
    check()


_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=150, deadline=None, suppress_health_check=_HEALTH)
@given(ops=_ops())
def test_interleavings_answer_as_a_synchronous_store_in_memory(ops: list[tuple]) -> None:
    _run(ops, MemoryMetricStore(), MemoryMetricStore())


@settings(max_examples=40, deadline=None, suppress_health_check=_HEALTH)
@given(ops=_ops())
def test_interleavings_answer_as_a_synchronous_store_on_sqlite(ops: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        live_db = Database(Path(tmp) / "live.db")
        sync_db = Database(Path(tmp) / "sync.db")
        try:
            _run(ops, SQLiteMetricStore(live_db), SQLiteMetricStore(sync_db))
        finally:
            live_db.close()
            sync_db.close()


def test_a_recorded_datapoint_is_read_before_any_flush() -> None:
    clock = ManualClock(T0)
    registry = MetricRegistry(clock=clock)
    store = MemoryMetricStore()
    queries = MetricQueries(store, clock=clock, live=MetricFlusher(registry, store, clock=clock))
    registry.series("NS", "M").record(7.0)
    r = queries.get_statistics("NS", "M", T0 - 60, T0 + 60, 60, ["Sum", "SampleCount"])
    assert [(p.timestamp, p.sum, p.sample_count) for p in r.datapoints] == [(T0, 7.0, 1.0)]
    assert store.rows == {}  # nothing was written: the answer came from memory
    assert [m.metric_name for m in queries.list_metrics("NS").metrics] == ["M"]


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_metrics_only_in_memory_are_listed_once_across_pages(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tandem.telemetry.metrics import queries as queries_module

    monkeypatch.setattr(queries_module, "LIST_PAGE", limit)
    clock = ManualClock(T0)
    registry = MetricRegistry(clock=clock)
    store = MemoryMetricStore()
    flusher = MetricFlusher(registry, store, clock=clock)
    queries = MetricQueries(store, clock=clock, live=flusher)
    registry.series("NS", "stored").record(1.0)
    flusher.flush()
    for name in ("m3", "m1", "m2"):
        registry.series("NS", name).record(1.0)
    names, token = [], None
    while True:
        if len(names) < 3:
            registry.series("NS", f"late{len(names)}").record(1.0)  # new metrics while paging
        page = queries.list_metrics("NS", next_token=token)
        assert len(page.metrics) <= limit
        names += [m.metric_name for m in page.metrics]
        token = page.next_token
        if token is None:
            break
    assert names[:4] == ["stored", "m3", "m1", "m2"]
    assert len(names) == len(set(names))
    assert set(names[4:]) <= {f"late{i}" for i in range(len(names))}
