"""PutLogEvents: batch limits, chronological order, per-event rejection (reference §3.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.errors import InvalidParameterValue, ResourceNotFound
from tandem.telemetry.logs import InputLogEvent, LogService, RejectedLogEventsInfo
from tandem.telemetry.logs.validation import check_put_batch

NOW_MS = 1_700_000_000_000
HOUR = 3_600_000
DAY = 24 * HOUR


@pytest.fixture
async def stream(logs: LogService) -> LogService:
    await logs.create_log_group("/g")
    await logs.create_log_stream("/g", "s")
    return logs


async def _messages(logs: LogService) -> list[str]:
    result = await logs.get_log_events(log_group_name="/g", log_stream_name="s",
                                       start_from_head=True)
    return [e.message for e in result.events]


async def test_valid_batch_is_stored_with_ingestion_time(stream: LogService) -> None:
    result = await stream.put_log_events(
        "/g", "s", [InputLogEvent(NOW_MS - 2, "a"), InputLogEvent(NOW_MS - 1, "b")],
        sequence_token="ignored",
    )
    assert result.rejected_log_events_info is None
    assert len(result.next_sequence_token) == 56
    events = (await stream.get_log_events(log_group_name="/g", log_stream_name="s")).events
    assert [(e.timestamp, e.message, e.ingestion_time) for e in events] == [
        (NOW_MS - 2, "a", NOW_MS), (NOW_MS - 1, "b", NOW_MS)
    ]


async def test_too_old_and_too_new_are_rejected_per_event(stream: LogService) -> None:
    # Reference §6 case 17: [30 days old, +1 day future] -> tooOld = 1 (exclusive), tooNew = 1.
    result = await stream.put_log_events(
        "/g", "s", [InputLogEvent(NOW_MS - 30 * DAY, "old"), InputLogEvent(NOW_MS + DAY, "new")]
    )
    assert result.rejected_log_events_info == RejectedLogEventsInfo(
        too_new_log_event_start_index=1, too_old_log_event_end_index=1
    )
    assert await _messages(stream) == []
    result = await stream.put_log_events("/g", "s", [
        InputLogEvent(NOW_MS - 15 * DAY, "o1"), InputLogEvent(NOW_MS - 14 * DAY - 1, "o2"),
        InputLogEvent(NOW_MS - HOUR, "kept"), InputLogEvent(NOW_MS + 2 * HOUR, "edge"),
        InputLogEvent(NOW_MS + 2 * HOUR + 1, "n1"),
    ])
    assert result.rejected_log_events_info == RejectedLogEventsInfo(
        too_new_log_event_start_index=4, too_old_log_event_end_index=2
    )
    assert await _messages(stream) == ["kept", "edge"]


async def test_events_older_than_retention_are_expired(stream: LogService) -> None:
    await stream.put_retention_policy("/g", 1)
    result = await stream.put_log_events(
        "/g", "s", [InputLogEvent(NOW_MS - 2 * DAY, "x"), InputLogEvent(NOW_MS, "y")]
    )
    assert result.rejected_log_events_info == RejectedLogEventsInfo(expired_log_event_end_index=1)
    assert await _messages(stream) == ["y"]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([InputLogEvent(NOW_MS, "b"), InputLogEvent(NOW_MS - 1, "a")],
         "Log events in a single PutLogEvents request must be in chronological order."),
        ([], "1 validation error detected: Value '[]' at 'logEvents' failed to satisfy "
             "constraint: Member must have length greater than or equal to 1"),
        ([InputLogEvent(NOW_MS, "")],
         "1 validation error detected: Value '' at 'logEvents.1.member.message' failed to "
         "satisfy constraint: Member must have length greater than or equal to 1"),
        ([InputLogEvent(NOW_MS - 25 * HOUR, "a"), InputLogEvent(NOW_MS, "b")],
         "The batch of log events in a single PutLogEvents request cannot span more than "
         "24 hours."),
    ],
)
async def test_invalid_batches_are_refused_whole(
    stream: LogService, events: list[InputLogEvent], message: str
) -> None:
    with pytest.raises(InvalidParameterValue) as exc:
        await stream.put_log_events("/g", "s", events)
    assert exc.value.message == message
    assert await _messages(stream) == []


async def test_batch_limits_count_and_bytes(stream: LogService) -> None:
    too_many = [InputLogEvent(NOW_MS, "x")] * 10_001
    with pytest.raises(InvalidParameterValue, match="less than or equal to 10000"):
        await stream.put_log_events("/g", "s", too_many)
    # 1,048,576 = 4 * (262118 + 26): exactly at the limit is accepted, one byte more is not.
    exact = [InputLogEvent(NOW_MS, "x" * 262_118)] * 4
    assert (await stream.put_log_events("/g", "s", exact)).rejected_log_events_info is None
    over = exact[:3] + [InputLogEvent(NOW_MS, "x" * 262_119)]
    with pytest.raises(InvalidParameterValue) as exc:
        await stream.put_log_events("/g", "s", over)
    assert exc.value.message == "Upload too large: 1048577 bytes exceeds limit of 1048576"
    multibyte = [InputLogEvent(NOW_MS, "é" * 131_059)] * 4  # 2 bytes each: 262118 bytes
    assert (await stream.put_log_events("/g", "s", multibyte)).rejected_log_events_info is None


async def test_missing_group_or_stream(logs: LogService) -> None:
    with pytest.raises(ResourceNotFound, match="^The specified log group does not exist.$"):
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "x")])
    await logs.create_log_group("/g")
    with pytest.raises(ResourceNotFound, match="^The specified log stream does not exist.$"):
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "x")])


async def test_lone_surrogates_are_stored_replaced(stream: LogService) -> None:
    await stream.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "a\ud800b")])
    assert await _messages(stream) == ["a?b"]


_offsets = st.lists(
    st.integers(min_value=-20 * DAY, max_value=4 * HOUR), min_size=1, max_size=30
).map(sorted)


@given(_offsets, st.sampled_from([None, 1, 3, 30]))
def test_rejection_indexes_match_a_naive_recomputation(
    offsets: list[int], retention: int | None
) -> None:
    events = [InputLogEvent(NOW_MS + o, "m") for o in offsets]
    stored = [
        i for i, o in enumerate(offsets)
        if o >= -14 * DAY and o <= 2 * HOUR and (retention is None or o >= -retention * DAY)
    ]
    try:
        first, end, info = check_put_batch(events, NOW_MS, retention)
    except InvalidParameterValue as exc:
        assert "24 hours" in exc.message
        assert offsets[stored[-1]] - offsets[stored[0]] > DAY
        return
    assert list(range(first, end)) == stored
    too_old = sum(1 for o in offsets if o < -14 * DAY)
    expired = sum(1 for o in offsets if retention and o < -retention * DAY)
    too_new = [i for i, o in enumerate(offsets) if o > 2 * HOUR]
    if info is None:
        assert too_old == expired == 0 and not too_new
    else:
        assert info.too_old_log_event_end_index == (too_old or None)
        assert info.expired_log_event_end_index == (expired or None)
        assert info.too_new_log_event_start_index == (too_new[0] if too_new else None)


def test_a_batch_is_its_columns_and_the_pairs_the_writer_takes() -> None:
    from tandem.telemetry.logs import InputLogEvents

    batch = InputLogEvents([1, 2, 3], ["a", "b", "c"])
    assert len(batch) == 3 and batch[1] == (2, "b")
    assert batch[1:] == InputLogEvents([2, 3], ["b", "c"])
    assert list(batch) == [(1, "a"), (2, "b"), (3, "c")]
    assert InputLogEvents.of([InputLogEvent(5, "x")]) == InputLogEvents([5], ["x"])
