"""GetLogEvents: pages, directions and token semantics at both ends (reference §3.3)."""

from __future__ import annotations

import pytest

from tandem.errors import InvalidParameterValue, ResourceNotFound
from tandem.telemetry.logs import GetLogEventsResult, InputLogEvent, LogService

NOW_MS = 1_700_000_000_000


@pytest.fixture
async def three(logs: LogService) -> LogService:
    logs.ensure_log_stream("/g", "s")
    await logs.put_log_events("/g", "s", [
        InputLogEvent(NOW_MS - 30, "e1"), InputLogEvent(NOW_MS - 20, "e2"),
        InputLogEvent(NOW_MS - 10, "e3"),
    ])
    return logs


async def _get(logs: LogService, **kw: object) -> GetLogEventsResult:
    return await logs.get_log_events(
        log_group_name="/g", log_stream_name="s", **kw  # type: ignore[arg-type]
    )


def _msgs(result: GetLogEventsResult) -> list[str]:
    return [e.message for e in result.events]


async def test_forward_paging_from_head_ends_with_the_same_token(three: LogService) -> None:
    # Reference §6 case 18: head, limit 2, 3 events -> [2], [1], then the same token with [].
    first = await _get(three, start_from_head=True, limit=2)
    assert _msgs(first) == ["e1", "e2"]
    second = await _get(three, start_from_head=True, limit=2, next_token=first.next_forward_token)
    assert _msgs(second) == ["e3"]
    third = await _get(three, start_from_head=True, limit=2, next_token=second.next_forward_token)
    assert _msgs(third) == []
    assert third.next_forward_token == second.next_forward_token
    again = await _get(three, start_from_head=True, limit=2, next_token=third.next_forward_token)
    assert again.next_forward_token == third.next_forward_token


async def test_default_is_the_newest_page_in_ascending_order(three: LogService) -> None:
    newest = await _get(three, limit=2)
    assert _msgs(newest) == ["e2", "e3"]
    older = await _get(three, limit=2, next_token=newest.next_backward_token)
    assert _msgs(older) == ["e1"]
    oldest = await _get(three, limit=2, next_token=older.next_backward_token)
    assert _msgs(oldest) == []
    assert oldest.next_backward_token == older.next_backward_token
    # From the start end, going forward again returns everything from the first event.
    forward = await _get(three, start_from_head=True, limit=5, next_token=oldest.next_forward_token)
    assert _msgs(forward) == ["e1", "e2", "e3"]


async def test_end_of_stream_backward_token_steps_back_over_the_last_event(
    three: LogService,
) -> None:
    everything = await _get(three, start_from_head=True)
    end = await _get(three, start_from_head=True, next_token=everything.next_forward_token)
    assert _msgs(end) == []
    back = await _get(three, limit=1, next_token=end.next_backward_token)
    assert _msgs(back) == ["e3"]


async def test_forward_token_sees_events_added_later(three: LogService) -> None:
    page = await _get(three, start_from_head=True)
    await three.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "e4")])
    more = await _get(three, start_from_head=True, next_token=page.next_forward_token)
    assert _msgs(more) == ["e4"]


async def test_tokens_are_never_null_even_for_an_empty_stream(logs: LogService) -> None:
    logs.ensure_log_stream("/g", "s")
    for head in (True, False):
        result = await _get(logs, start_from_head=head)
        assert result.events == []
        assert result.next_forward_token.startswith("f/")
        assert result.next_backward_token.startswith("b/")
        again = await _get(logs, start_from_head=True, next_token=result.next_forward_token)
        assert again.next_forward_token == result.next_forward_token
    head = await _get(logs, start_from_head=True)
    await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "late")])
    assert _msgs(await _get(logs, start_from_head=True, next_token=head.next_forward_token)) == [
        "late"
    ]


async def test_start_inclusive_end_exclusive(three: LogService) -> None:
    result = await _get(three, start_time=NOW_MS - 20, end_time=NOW_MS - 10, start_from_head=True)
    assert _msgs(result) == ["e2"]


async def test_equal_timestamps_keep_ingestion_order_across_pages(logs: LogService) -> None:
    logs.ensure_log_stream("/g", "s")
    await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, f"m{i}") for i in range(5)])
    seen: list[str] = []
    token = None
    while True:
        page = await _get(logs, start_from_head=True, limit=2, next_token=token)
        if page.next_forward_token == token:
            break
        seen += _msgs(page)
        token = page.next_forward_token
    assert seen == [f"m{i}" for i in range(5)]


async def test_limits_and_bad_tokens_use_aws_texts(three: LogService) -> None:
    with pytest.raises(InvalidParameterValue) as exc:
        await _get(three, limit=10_001)
    assert exc.value.message == (
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000"
    )
    with pytest.raises(InvalidParameterValue, match="greater than or equal to 1"):
        await _get(three, limit=0)
    good = (await _get(three)).next_forward_token
    mangled = good[:-1] + ("0" if good[-1] != "0" else "1")
    for token in ("garbage", "f/123", mangled, "x" + good[1:]):
        with pytest.raises(InvalidParameterValue) as bad:
            await _get(three, next_token=token)
        assert bad.value.message == "The specified nextToken is invalid."


async def test_missing_stream(logs: LogService) -> None:
    with pytest.raises(ResourceNotFound, match="log group does not exist"):
        await _get(logs)
    await logs.create_log_group("/g")
    with pytest.raises(ResourceNotFound, match="log stream does not exist"):
        await _get(logs)


async def test_a_page_holds_at_most_one_megabyte(logs: LogService) -> None:
    logs.ensure_log_stream("/g", "s")
    big = "x" * 200_000
    for i in range(3):
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS - 10 + i, f"{i}{big}")] * 2)
    newest = await _get(logs)
    assert [e.message[0] for e in newest.events] == ["0", "1", "1", "2", "2"]
    head = await _get(logs, start_from_head=True)
    assert [e.message[0] for e in head.events] == ["0", "0", "1", "1", "2"]
