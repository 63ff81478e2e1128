"""FilterLogEvents across a group's streams, with filter patterns (reference §3.4, §3.6)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.errors import InvalidFilterPattern, InvalidParameterValue, ResourceNotFound
from tandem.telemetry.logs import FilterLogEventsResult, InputLogEvent, LogService

NOW_MS = 1_700_000_000_000

# (stream, offset ms, message): a fixed corpus, interleaved across three streams.
CORPUS = [
    ("web/1", 1, "INFO started"),
    ("web/2", 2, "ERROR Exiting with ERRORCODE: -1"),
    ("db", 3, "WARN slow query"),
    ("web/1", 4, "ERROR failed WARN retry"),
    ("db", 5, '{"level": "ERROR", "latency": 750}'),
    ("web/2", 6, "hello world"),
    ("web/1", 7, "127.0.0.1 - frank 404 2326"),
    ("db", 8, '{"level": "INFO", "latency": 20}'),
]


@pytest.fixture
async def corpus(logs: LogService) -> LogService:
    for stream in ("web/1", "web/2", "db"):
        logs.ensure_log_stream("/g", stream)
    for stream, offset, message in CORPUS:
        await logs.put_log_events("/g", stream, [InputLogEvent(NOW_MS - 100 + offset, message)])
    return logs


async def _filter(logs: LogService, **kw: object) -> FilterLogEventsResult:
    return await logs.filter_log_events(log_group_name="/g", **kw)  # type: ignore[arg-type]


def _msgs(result: FilterLogEventsResult) -> list[str]:
    return [e.message for e in result.events]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", [m for _, _, m in CORPUS]),
        ("ERROR", [CORPUS[1][2], CORPUS[3][2], CORPUS[4][2]]),
        ("?ERROR ?WARN", [CORPUS[1][2], CORPUS[2][2], CORPUS[3][2], CORPUS[4][2]]),
        ("ERROR -WARN", [CORPUS[1][2], CORPUS[4][2]]),
        ('"hello world"', ["hello world"]),
        ("{ $.latency > 500 }", [CORPUS[4][2]]),
        ("[ip, user, name, status = 4*, bytes > 1000]", [CORPUS[6][2]]),
        ("%ERR[O]R%", [CORPUS[1][2], CORPUS[3][2], CORPUS[4][2]]),
    ],
)
async def test_patterns_across_streams_in_time_order(
    corpus: LogService, pattern: str, expected: list[str]
) -> None:
    result = await _filter(corpus, filter_pattern=pattern)
    assert _msgs(result) == expected
    assert result.next_token is None and result.searched_log_streams == []


async def test_events_carry_stream_and_ids(corpus: LogService) -> None:
    result = await _filter(corpus, filter_pattern="ERRORCODE")
    (event,) = result.events
    assert (event.log_stream_name, event.timestamp, event.ingestion_time) == (
        "web/2", NOW_MS - 98, NOW_MS
    )
    assert len(event.event_id) == 56 and event.event_id.isdigit()


async def test_stream_names_prefix_and_time_range(corpus: LogService) -> None:
    assert _msgs(await _filter(corpus, log_stream_names=["db"], filter_pattern="INFO")) == [
        CORPUS[7][2]
    ]
    by_prefix = await _filter(corpus, log_stream_name_prefix="web/", filter_pattern="ERROR")
    assert [e.log_stream_name for e in by_prefix.events] == ["web/2", "web/1"]
    ranged = await _filter(corpus, start_time=NOW_MS - 97, end_time=NOW_MS - 95)
    assert _msgs(ranged) == [CORPUS[2][2], CORPUS[3][2], CORPUS[4][2]]  # both ends inclusive


async def test_pagination_token_absent_at_the_end(corpus: LogService) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = await _filter(corpus, limit=3, next_token=token)
        seen += _msgs(page)
        pages += 1
        if page.next_token is None:
            break
        assert page.next_token != token
        token = page.next_token
    assert seen == [m for _, _, m in CORPUS]
    assert pages == 3
    exact = await _filter(corpus, limit=8)
    assert len(exact.events) == 8 and exact.next_token is None


async def test_equal_timestamps_are_ordered_by_ingestion(logs: LogService) -> None:
    logs.ensure_log_stream("/g", "b")
    logs.ensure_log_stream("/g", "a")
    await logs.put_log_events("/g", "b", [InputLogEvent(NOW_MS, "first")])
    await logs.put_log_events("/g", "a", [InputLogEvent(NOW_MS, "second")])
    assert _msgs(await _filter(logs)) == ["first", "second"]


async def test_bad_inputs(corpus: LogService) -> None:
    with pytest.raises(InvalidParameterValue, match="mutually exclusive"):
        await _filter(corpus, log_stream_names=["db"], log_stream_name_prefix="d")
    with pytest.raises(InvalidParameterValue, match="less than or equal to 10000"):
        await _filter(corpus, limit=10_001)
    with pytest.raises(InvalidParameterValue, match="^The specified nextToken is invalid.$"):
        await _filter(corpus, next_token="nope")
    with pytest.raises(InvalidFilterPattern) as exc:
        await _filter(corpus, filter_pattern='{ $.a = "x" ')
    assert exc.value.code == "InvalidParameterValue"
    assert "position" in exc.value.message
    with pytest.raises(InvalidParameterValue, match="1024"):
        await _filter(corpus, filter_pattern="x" * 1025)
    with pytest.raises(ResourceNotFound, match="log stream does not exist"):
        await _filter(corpus, log_stream_names=["nope"])
    with pytest.raises(ResourceNotFound, match="log group does not exist"):
        await corpus.filter_log_events(log_group_name="/nope")


_words = st.sampled_from(["ERROR", "WARN", "ok", "x1", "ERRORCODE"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    messages=st.lists(st.lists(_words, min_size=1, max_size=3).map(" ".join), min_size=1,
                      max_size=25),
    term=_words,
    limit=st.integers(min_value=1, max_value=7),
)
async def test_paged_term_filter_equals_naive_scan(
    logs: LogService, messages: list[str], term: str, limit: int
) -> None:
    group = f"/h{abs(hash((tuple(messages), term, limit)))}"
    logs.ensure_log_stream(group, "s1")
    logs.ensure_log_stream(group, "s2")
    for index, message in enumerate(messages):
        await logs.put_log_events(group, f"s{index % 2 + 1}",
                                  [InputLogEvent(NOW_MS - (index % 5), message)])
    order = sorted(range(len(messages)), key=lambda i: (-(i % 5), i))
    expected = [messages[i] for i in order if term in messages[i]]
    got: list[str] = []
    token = None
    while True:
        page = await logs.filter_log_events(log_group_name=group, filter_pattern=term,
                                            limit=limit, next_token=token)
        got += _msgs(page)
        if page.next_token is None:
            break
        token = page.next_token
    assert got == expected


async def test_patterns_without_terms_page_through_bounded_scans(
    logs: LogService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tandem.telemetry.logs.queries as queries

    monkeypatch.setattr(queries, "_CHUNK", 4)
    monkeypatch.setattr(queries, "SCAN_BUDGET", 8)
    logs.ensure_log_stream("/g", "s")
    events = [InputLogEvent(NOW_MS - 100 + i, f'{{"n": {i}}}') for i in range(30)]
    await logs.put_log_events("/g", "s", events)
    got: list[str] = []
    token = None
    partial_pages = 0
    while True:
        page = await _filter(logs, filter_pattern="{ $.n > 20 }", limit=3, next_token=token)
        got += _msgs(page)
        if page.next_token is None:
            break
        partial_pages += len(page.events) < 3
        token = page.next_token
    assert got == [f'{{"n": {i}}}' for i in range(21, 30)]
    assert partial_pages >= 2  # the early scans found nothing yet still handed back a token
