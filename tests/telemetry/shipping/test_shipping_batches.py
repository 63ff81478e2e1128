"""Batches cut at PutLogEvents' and PutMetricData's limits, exactly (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tandem.telemetry.shipping import prepare_events, split_log_events, split_metric_datums
from tandem.telemetry.shipping.batches import (
    LOG_BATCH_BYTES,
    LOG_BATCH_SPAN_MS,
    MetricSample,
    metric_datums,
)

DAY = 24 * 3600 * 1000


def _sizes(messages: list[str], cuts: list[tuple[int, int]]) -> list[int]:
    return [sum(len(m.encode()) + 26 for m in messages[a:b]) for a, b in cuts]


def test_count_limit_cuts_at_10000_events() -> None:
    messages = ["x"] * 25_001
    cuts = split_log_events([0] * len(messages), messages)
    assert cuts == [(0, 10_000), (10_000, 20_000), (20_000, 25_001)]


def test_byte_limit_counts_26_bytes_per_event() -> None:
    # 1,048,576 / (998 + 26) = 1024 events fill a batch exactly; the 1025th starts the next.
    messages = ["y" * 998] * 1025
    cuts = split_log_events([0] * len(messages), messages)
    assert cuts == [(0, 1024), (1024, 1025)]
    assert _sizes(messages, cuts)[0] == LOG_BATCH_BYTES


def test_byte_limit_counts_utf8_bytes_not_characters() -> None:
    # "é" is 2 bytes: 1,048,576 / (2 * 499 + 26) = 1024 events again.
    messages = ["é" * 499] * 1025
    assert split_log_events([0] * 1025, messages) == [(0, 1024), (1024, 1025)]


def test_span_limit_is_24_hours_inclusive() -> None:
    timestamps = [0, DAY, DAY + 1, 2 * DAY + 1, 2 * DAY + 2]
    cuts = split_log_events(timestamps, ["a"] * 5)
    assert cuts == [(0, 2), (2, 4), (4, 5)]


def test_prepare_keeps_line_order_when_the_clock_steps_back() -> None:
    prepared = prepare_events([(100, "a"), (90, "b"), (95, "c"), (120, "d")], last_timestamp=0)
    assert prepared.messages == ["a", "b", "c", "d"]
    assert prepared.timestamps == [100, 100, 100, 120]
    assert prepared.last_timestamp == 120
    # The next call carries the floor on: order holds across batches of one stream.
    assert prepare_events([(50, "e")], prepared.last_timestamp).timestamps == [120]


def test_prepare_skips_and_counts_empty_lines_and_cuts_long_ones() -> None:
    long = "z" * (256 * 1024 + 10)
    prepared = prepare_events([(1, ""), (2, "a"), (3, ""), (4, long)])
    assert prepared.skipped_empty == 2
    assert prepared.messages == ["a", "z" * 256 * 1024, "z" * 10]
    assert prepared.timestamps == [2, 4, 4]


@given(
    st.lists(
        st.tuples(st.integers(0, 3 * DAY), st.text(min_size=0, max_size=3000)),
        max_size=400,
    ),
    st.integers(1, 50),
    st.integers(3000, 40_000),
)
def test_batches_are_the_events_in_order_each_within_every_limit(
    events: list[tuple[int, str]], max_events: int, max_bytes: int
) -> None:
    events.sort(key=lambda e: e[0])
    prepared = prepare_events(events)
    ts, messages = prepared.timestamps, prepared.messages
    cuts = split_log_events(ts, messages, max_events=max_events, max_bytes=max_bytes)
    # Together the batches are every non-empty message, once, in order.
    assert [m for a, b in cuts for m in messages[a:b]] == [m for _, m in events if m]
    assert prepared.skipped_empty == sum(1 for _, m in events if not m)
    for (a, b), size in zip(cuts, _sizes(messages, cuts), strict=True):
        assert 1 <= b - a <= max_events
        assert size <= max_bytes or b - a == 1  # a lone event may exceed a tiny test limit
        assert ts[b - 1] - ts[a] <= LOG_BATCH_SPAN_MS
        assert ts[a:b] == sorted(ts[a:b])
    # Each cut is forced: the next event would have broken a limit.
    for (a, b), _ in zip(cuts, cuts[1:], strict=False):
        size = sum(len(m.encode()) + 26 for m in messages[a : b + 1])
        assert b + 1 - a > max_events or size > max_bytes or ts[b] - ts[a] > LOG_BATCH_SPAN_MS


def test_metric_values_of_one_minute_become_values_and_counts() -> None:
    dims = (("EndpointName", "e"), ("VariantName", "v"))
    samples = [MetricSample("/aws/sagemaker/Endpoints", "CPUUtilization", dims, "Percent", v, t)
               for v, t in [(10.0, 120.0), (10.0, 121.0), (30.0, 179.0), (5.0, 180.0)]]
    datums = metric_datums(samples)["/aws/sagemaker/Endpoints"]
    wire = [{"Name": "EndpointName", "Value": "e"}, {"Name": "VariantName", "Value": "v"}]
    assert datums == [
        {"MetricName": "CPUUtilization",
         "Dimensions": wire,
         "Unit": "Percent", "Timestamp": 120.0, "Values": [10.0, 30.0], "Counts": [2.0, 1.0]},
        {"MetricName": "CPUUtilization",
         "Dimensions": wire,
         "Unit": "Percent", "Timestamp": 180.0, "Values": [5.0], "Counts": [1.0]},
    ]


def test_more_than_150_distinct_values_make_several_datums() -> None:
    samples = [MetricSample("ns", "m", (), "None", float(v), 60.0) for v in range(400)]
    datums = metric_datums(samples)["ns"]
    assert [len(d["Values"]) for d in datums] == [150, 150, 100]  # type: ignore[arg-type]


def test_metric_requests_cut_at_1000_datums_and_the_byte_limit() -> None:
    datums: list[dict[str, object]] = [{}] * 2500
    assert split_metric_datums(datums, [10] * 2500) == [(0, 1000), (1000, 2000), (2000, 2500)]
    assert split_metric_datums(datums[:5], [400] * 5, max_bytes=1000) == [(0, 2), (2, 4), (4, 5)]
