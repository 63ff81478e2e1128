"""PutMetricData's plain path (``CloudWatchOperations.put_plain``, ``PlainPuts``) against the
full path it shortcuts: for any sequence of decoded bodies, a registry fed the way the service
feeds it (plain path, else full path) ends with exactly the series, buckets and errors of a
registry fed by the full path alone."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.api.cloudwatch import cbor, json10
from tandem.api.cloudwatch.operations import CloudWatchOperations
from tandem.clock import ManualClock
from tandem.errors import TandemError
from tandem.telemetry.metrics import MetricRegistry

NOW = 1_700_000_000.0
_anything = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=3),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(),
                                                         max_size=1),
)  # fmt: skip
# Each member: mostly right (so whole requests take the plain path), sometimes wrong in one of
# the ways the full path names.
_good_names = st.sampled_from(["Latency", "Invocations", "a:b"])
_bad_names = st.sampled_from([":bad", "", "x" * 256, "é", "tab\t"]) | _anything
_good_dims = st.lists(
    st.fixed_dictionaries({"Name": st.sampled_from(["Host", "Variant", "Zone"]),
                           "Value": st.sampled_from(["h1", "h2"])}),
    max_size=3, unique_by=lambda d: d["Name"],
)  # fmt: skip
_bad_dim = st.one_of(
    st.fixed_dictionaries({"Name": st.sampled_from(["", "Host\n", "é"]),
                           "Value": st.sampled_from(["h1", ""])}),
    st.fixed_dictionaries({"Name": st.just("Host"), "Value": st.just("v" * 1025)}),
    st.fixed_dictionaries({"Name": st.just("Host")}),  # Value missing
    st.fixed_dictionaries({"Name": _anything, "Value": _anything}),
    _anything,
)  # fmt: skip
_bad_dims = st.one_of(
    st.builds(lambda good, bad: [*good, bad], _good_dims, _bad_dim),
    st.just([{"Name": "Host", "Value": "a"}, {"Name": "Host", "Value": "b"}]),  # twice
    st.just([{"Name": f"D{i}", "Value": "v"} for i in range(11)]),  # over the limit
    st.just([{"Name": "Host", "Value": "h1", "Junk": 1}]),  # an undeclared member: ignored
    _anything,
)  # fmt: skip
_good_value = st.floats(-1e6, 1e6) | st.integers(-(10**6), 10**6) | st.sampled_from(
    [0.0, -0.0, 2.0**360, -(2.0**360), 10**108])
_bad_value = st.sampled_from(
    [math.nan, math.inf, -math.inf, 2.0**361, -(2.0**361), 2**1100, True, "NaN", "1", None])
_good_time = st.none() | st.floats(NOW - 14 * 86400, NOW + 7200) | st.sampled_from(
    [int(NOW), NOW - 14 * 86400, NOW + 7200])
_bad_time = st.sampled_from([NOW - 14 * 86400 - 1, NOW + 7200.5, 0, math.nan, math.inf, True,
                             "2023-11-14T22:13:20Z", "1700000000"])  # fmt: skip
_good = {
    "MetricName": _good_names, "Dimensions": _good_dims, "Value": _good_value,
    "Unit": st.sampled_from(["Count", "Milliseconds", "None"]), "Timestamp": _good_time,
    "StorageResolution": st.sampled_from([1, 60]),
}  # fmt: skip
_bad = {
    "MetricName": _bad_names, "Dimensions": _bad_dims, "Value": _bad_value,
    "Unit": st.sampled_from(["Bogus", "count", 3, ""]), "Timestamp": _bad_time,
    "StorageResolution": st.sampled_from([5, 0, True, 1.0, "1"]),
}  # fmt: skip
_not_plain = {
    "Values": st.lists(st.floats(0, 10), max_size=2),
    "Counts": st.lists(st.floats(0, 3), max_size=2),
    "StatisticValues": st.fixed_dictionaries(
        {"SampleCount": st.just(2.0), "Sum": st.just(3.0), "Minimum": st.just(1.0),
         "Maximum": st.just(2.0)}),
    "Junk": _anything,
}  # fmt: skip


@st.composite
def _datum(draw: st.DrawFn) -> Any:
    datum = {"MetricName": draw(_good_names), "Value": draw(_good_value)}
    for member in draw(st.sets(st.sampled_from(["Dimensions", "Unit", "Timestamp",
                                                "StorageResolution"]))):  # fmt: skip
        datum[member] = draw(_good[member])
    fault = draw(st.sampled_from([None] * 6 + [*_bad, *_not_plain, "drop", "other"]))
    if fault in _bad:
        datum[fault] = draw(_bad[fault])
    elif fault in _not_plain:
        datum[fault] = draw(_not_plain[fault])
    elif fault == "drop":
        del datum[draw(st.sampled_from(sorted(datum)))]
    elif fault == "other":
        return draw(_anything)
    return datum


_body = st.fixed_dictionaries(
    {"Namespace": st.sampled_from(["app", "app/x"]) | st.sampled_from(
        ["AWS/x", "", ":n", "n" * 256, None, 3]),
     "MetricData": st.lists(_datum(), max_size=5) | _anything},
    optional={"EntityMetricData": st.just([]), "Junk": _anything},
)  # fmt: skip


def _operations() -> tuple[CloudWatchOperations, MetricRegistry]:
    clock = ManualClock(NOW)
    registry = MetricRegistry(clock=clock, writer_id="w")
    return CloudWatchOperations(registry, queries=None, clock=clock), registry  # type: ignore[arg-type]


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "ok", run()
    except TandemError as error:
        return type(error).__name__, error.message


def _state(registry: MetricRegistry) -> list[Any]:
    out = []
    for series in registry.all_series():
        buckets = [(b.start, b.count, b.sum, b.min, b.max, sorted(b.bins.items()), b.percentiles)
                   for b, _ in ((b, None) for b in series._buckets.values())]  # fmt: skip
        out.append((series.key, sorted(buckets)))
    return sorted(out, key=repr)


def _full(ops: CloudWatchOperations, protocol: Any, data: Any) -> None:
    asyncio.run(ops.call("PutMetricData", protocol.members("PutMetricData", data)))


def _served(ops: CloudWatchOperations, protocol: Any, data: Any) -> None:
    if not ops.put_plain(data):
        _full(ops, protocol, data)


@pytest.mark.parametrize("protocol", [json10, cbor], ids=["json", "cbor"])
@settings(max_examples=500, deadline=None)
@given(bodies=st.lists(_body, min_size=1, max_size=4))
def test_plain_path_records_and_refuses_as_the_full_path(protocol: Any, bodies: list) -> None:
    served, served_registry = _operations()
    full, full_registry = _operations()
    for data in bodies:
        expected = _outcome(lambda d=data: _full(full, protocol, d))
        assert _outcome(lambda d=data: _served(served, protocol, d)) == expected
    assert _state(served_registry) == _state(full_registry)


def test_plain_path_takes_the_common_request() -> None:
    """The case it exists for: 20 Value datums, one dimension each, every call after the first
    recorded without the full path; a new spelling of a series is checked first."""
    ops, registry = _operations()
    datums = [{"MetricName": "Invocations", "Value": 1.0, "Unit": "Count",
               "Dimensions": [{"Name": "EndpointName", "Value": f"ep-{i}"}]}
              for i in range(20)]  # fmt: skip
    body = {"Namespace": "app", "MetricData": datums}
    assert all(ops.put_plain(body) for _ in range(3))
    assert len(registry.all_series()) == 20
    (bucket,) = registry.all_series()[0]._buckets.values()
    assert (bucket.count, bucket.sum) == (3.0, 3.0)
    # One bad datum declines the whole request and records nothing.
    bad = {"Namespace": "app", "MetricData": [*datums, {"MetricName": "x", "Value": math.inf}]}
    assert not ops.put_plain(bad)
    assert bucket.count == 3.0
    # The same series spelled with its dimensions in another order is the same series.
    two = [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}]
    assert ops.put_plain({"Namespace": "app", "MetricData": [
        {"MetricName": "m", "Value": 1.0, "Dimensions": two},
        {"MetricName": "m", "Value": 2.0, "Dimensions": two[::-1]}]})  # fmt: skip
    assert registry.series("app", "m", {"A": "1", "B": "2"}).cumulative()[:2] == (2.0, 3.0)
    # More than 1,000 datums is CloudWatch's error: the full path names it.
    over = {"Namespace": "app", "MetricData": [*datums * 50, {"MetricName": "m", "Value": 1.0}]}
    assert not ops.put_plain(over)
    with pytest.raises(TandemError, match="must not have more than 1000"):
        _full(ops, json10, over)
    assert ops.put_plain({"Namespace": "app", "MetricData": datums * 50})
    # Not plain: Values, an entity list, a timestamp as text.
    for other in (
        {"Namespace": "app", "MetricData": [{"MetricName": "m", "Values": [1.0]}]},
        {"Namespace": "app", "MetricData": [], "EntityMetricData": []},
        {"Namespace": "app", "MetricData": [{"MetricName": "m", "Value": 1.0,
                                             "Timestamp": "2023-11-14T22:13:20Z"}]},
    ):  # fmt: skip
        assert not ops.put_plain(other)


def test_deferred_recording_runs_once_per_turn_and_on_demand() -> None:
    """With ``defer`` (the loop's call_soon) an accepted request is answered first and recorded
    when the deferred call runs; requests accepted before it runs share that one call."""
    scheduled: list[Any] = []
    clock = ManualClock(NOW)
    registry = MetricRegistry(clock=clock, writer_id="w")
    ops = CloudWatchOperations(registry, queries=None, clock=clock,  # type: ignore[arg-type]
                               defer=scheduled.append)  # fmt: skip
    body = {"Namespace": "app", "MetricData": [{"MetricName": "m", "Value": 2.0}]}
    assert ops.put_plain(body) and ops.put_plain(body)
    assert len(scheduled) == 1 and registry.all_series() == []  # answered, not yet recorded
    scheduled.pop()()
    (series,) = registry.all_series()
    assert series.cumulative()[:2] == (2.0, 4.0)
    assert ops.put_plain(body) and len(scheduled) == 1
    ops.record_pending()  # what the server does before its last flush
    assert series.cumulative()[:2] == (3.0, 6.0)
    scheduled.pop()()  # the call still scheduled finds nothing left to record
    assert series.cumulative()[:2] == (3.0, 6.0)
    # A refused request is never deferred: it takes the full path, which records nothing.
    assert not ops.put_plain({"Namespace": "app", "MetricData": [{"MetricName": "m"}]})
    assert scheduled == []


def test_a_deferred_request_that_fails_to_record_does_not_drop_the_others(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    scheduled: list[Any] = []
    clock = ManualClock(NOW)
    registry = MetricRegistry(clock=clock, writer_id="w")
    ops = CloudWatchOperations(registry, queries=None, clock=clock,  # type: ignore[arg-type]
                               defer=scheduled.append)  # fmt: skip
    real_series = registry.series

    def series(namespace: str, name: str, *args: Any) -> Any:
        if name == "boom":
            raise RuntimeError("a bug")
        return real_series(namespace, name, *args)

    monkeypatch.setattr(registry, "series", series)
    assert ops.put_plain({"Namespace": "app", "MetricData": [{"MetricName": "boom", "Value": 1.0}]})
    assert ops.put_plain({"Namespace": "app", "MetricData": [{"MetricName": "ok", "Value": 5.0}]})
    scheduled.pop()()
    (kept,) = registry.all_series()
    assert (kept.key.metric_name, kept.cumulative()[:2]) == ("ok", (1.0, 5.0))
    assert "recording an accepted PutMetricData request failed" in caplog.text
