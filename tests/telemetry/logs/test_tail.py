"""Live tail: an async subscription to newly committed events."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import tandem.telemetry.logs.ingest as ingest
from tandem.errors import InvalidFilterPattern, InvalidParameterValue
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.telemetry.logs import FilteredLogEvent, InputLogEvent, LogService

NOW_MS = 1_700_000_000_000


async def _collect(agen, count: int) -> list[FilteredLogEvent]:  # type: ignore[no-untyped-def]
    got: list[FilteredLogEvent] = []
    async for batch in agen:
        got += batch
        if len(got) >= count:
            break
    return got


async def test_tail_yields_only_new_matching_events(logs: LogService) -> None:
    logs.ensure_log_stream("/g", "web")
    logs.ensure_log_stream("/g", "db")
    await logs.put_log_events("/g", "web", [InputLogEvent(NOW_MS, "ERROR before")])
    tail = logs.tail("/g", stream_prefix="we", filter_pattern="ERROR")
    task = asyncio.create_task(_collect(tail, 2))
    await logs.put_log_events("/g", "db", [InputLogEvent(NOW_MS, "ERROR other stream")])
    await logs.write("/g", "web", [(NOW_MS, "INFO no"), (NOW_MS, "ERROR one")])
    await logs.flush()  # tail order is commit order
    await logs.put_log_events("/g", "web", [InputLogEvent(NOW_MS + 1, "ERROR two")])
    got = await asyncio.wait_for(task, 60)
    await tail.aclose()
    assert [(e.log_stream_name, e.message) for e in got] == [
        ("web", "ERROR one"), ("web", "ERROR two")
    ]


async def test_tail_by_stream_names_sees_captured_lines_promptly(logs: LogService) -> None:
    logs.ensure_log_stream("/g", "a")
    tail = logs.tail("/g", stream_names=["a"])
    task = asyncio.create_task(_collect(tail, 3))
    await logs.write("/g", "a", [(NOW_MS, "1"), (NOW_MS, "2"), (NOW_MS, "3")])
    got = await asyncio.wait_for(task, 60)
    await tail.aclose()
    assert [e.message for e in got] == ["1", "2", "3"]


@pytest.mark.parametrize("committed_before", [True, False], ids=["committed", "queued"])
async def test_tail_starts_at_the_call_not_at_the_first_iteration(
    logs: LogService, committed_before: bool
) -> None:
    # An event accepted before the call (committed then, or still queued) is not yielded;
    # events written after the call are, even when committed before the first iteration.
    logs.ensure_log_stream("/g", "a")
    await logs.write("/g", "a", [(NOW_MS, "before")])
    if committed_before:
        await logs.flush()
    tail = logs.tail("/g")
    await logs.write("/g", "a", [(NOW_MS, "between 1")])
    await logs.put_log_events("/g", "a", [InputLogEvent(NOW_MS, "between 2")])
    await logs.flush()
    got = await asyncio.wait_for(_collect(tail, 2), 60)
    await tail.aclose()
    assert [e.message for e in got] == ["between 1", "between 2"]


async def test_a_tail_never_iterated_holds_nothing_up(logs: LogService) -> None:
    logs.ensure_log_stream("/g", "a")
    await logs.write("/g", "a", [(NOW_MS, "queued")])
    tail = logs.tail("/g")
    await logs.flush()
    await logs.write("/g", "a", [(NOW_MS, "after")])
    await logs.flush()
    later = logs.tail("/g")
    await logs.write("/g", "a", [(NOW_MS, "last")])
    got = await asyncio.wait_for(_collect(later, 1), 60)
    await later.aclose()
    await tail.aclose()
    assert [e.message for e in got] == ["last"]


async def test_bad_tail_arguments_raise_at_the_call(logs: LogService) -> None:
    with pytest.raises(InvalidFilterPattern):
        logs.tail("/g", filter_pattern="{ $.x = ")
    with pytest.raises(InvalidParameterValue, match="mutually exclusive"):
        logs.tail("/g", stream_names=["a"], stream_prefix="a")


async def test_tail_start_holds_across_a_failed_and_retried_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(tmp_path / "logs.db")
    store = SQLiteLogStore(db)
    append, failures = store.append, [OSError("disk full")]

    def flaky(batches, ingestion_time, **options):  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        return append(batches, ingestion_time, **options)

    store.append = flaky  # type: ignore[method-assign]
    monkeypatch.setattr(ingest, "_RETRY_DELAY", 0.01)
    logs = LogService(store, flush_interval=30.0, sweep_interval=None)  # commits when asked
    await logs.start()
    try:
        logs.ensure_log_stream("/g", "a")
        await logs.write("/g", "a", [(NOW_MS, "before")])
        tail = logs.tail("/g")
        await logs.write("/g", "a", [(NOW_MS, "after")])
        await logs.flush()  # the first commit fails; the retry stores both in one transaction
        assert not failures
        got = await asyncio.wait_for(_collect(tail, 1), 60)
        await tail.aclose()
        assert [e.message for e in got] == ["after"]
    finally:
        await logs.stop()
        db.close()
