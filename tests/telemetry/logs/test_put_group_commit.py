"""PutLogEvents answers before its commit: the writer commits on its own timer (how soon is a
figure of bench.latency_bench), ingestion times are the acceptance times, and every read sees
what its caller was told was accepted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tandem.clock import ManualClock
from tandem.errors import ResourceNotFound
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.telemetry.logs import InputLogEvent, LogService
from tests.waiting import wait_until_async

NOW_MS = 1_700_000_000_000


def _stored(store: SQLiteLogStore) -> list[tuple[int, str, int]]:
    rows = store.read_stream("/g", "s", start=None, end=None, after=None, before=None,
                             limit=10_000, newest_first=False)
    return [(r.timestamp, r.message, r.ingestion_time) for r in rows]


async def _service(tmp_path: Path, flush_interval: float) -> tuple[LogService, Database]:
    db = Database(tmp_path / "logs.db")
    logs = LogService(SQLiteLogStore(db), clock=ManualClock(NOW_MS / 1000),
                      flush_interval=flush_interval, sweep_interval=None)
    await logs.start()
    await logs.create_log_group("/g")
    await logs.create_log_stream("/g", "s")
    return logs, db


async def test_accepted_events_are_committed_without_a_reader_asking(tmp_path: Path) -> None:
    db = Database(tmp_path / "logs.db")
    store = SQLiteLogStore(db)
    logs = LogService(store, sweep_interval=None)  # the default flush_interval, 0.5 s
    await logs.start()
    try:
        await logs.create_log_group("/g")
        await logs.create_log_stream("/g", "s")
        await logs.put_log_events("/g", "s", [InputLogEvent(int(time.time() * 1000), "x")])
        # No read and no flush() from here on: only the writer's timer can commit it.
        stored = await wait_until_async(lambda: asyncio.to_thread(_stored, store), "the commit")
        assert [message for _, message, _ in stored] == ["x"]
    finally:
        await logs.stop()
        db.close()


async def test_every_read_sees_accepted_events_before_the_flush(tmp_path: Path) -> None:
    logs, db = await _service(tmp_path, flush_interval=30.0)
    try:
        clock = logs.clock
        assert isinstance(clock, ManualClock)
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS - 5, "a ERROR")])
        clock.advance(0.002)
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS - 4, "b")])
        assert _stored(logs.store) == []  # type: ignore[arg-type]  # not yet committed
        page = await logs.get_log_events(log_group_name="/g", log_stream_name="s")
        assert [(e.message, e.ingestion_time) for e in page.events] == [
            ("a ERROR", NOW_MS), ("b", NOW_MS + 2)
        ]
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS - 3, "c ERROR")])
        found = await logs.filter_log_events(log_group_name="/g", filter_pattern="ERROR")
        assert [e.message for e in found.events] == ["a ERROR", "c ERROR"]
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS - 1, "d")])
        streams = await logs.describe_log_streams(log_group_name="/g")
        assert streams.log_streams[0].last_event_timestamp == NOW_MS - 1
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "e")])
        groups = await logs.describe_log_groups()
        assert groups.log_groups[0].stored_bytes == len("a ERROR" "b" "c ERROR" "d" "e")
    finally:
        await logs.stop()
        db.close()


async def test_queued_puts_keep_their_order_and_ingestion_times(tmp_path: Path) -> None:
    logs, db = await _service(tmp_path, flush_interval=30.0)
    try:
        clock = logs.clock
        assert isinstance(clock, ManualClock)
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "1")])
        await logs.write("/g", "s", [(NOW_MS, "2")])  # capture: the flush's time
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "3")])
        clock.advance(1.0)
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "4")])
        clock.advance(1.0)
        await logs.flush()
        assert _stored(logs.store) == [  # type: ignore[arg-type]
            (NOW_MS, "1", NOW_MS), (NOW_MS, "2", NOW_MS + 2000), (NOW_MS, "3", NOW_MS),
            (NOW_MS, "4", NOW_MS + 1000),
        ]
    finally:
        await logs.stop()
        db.close()


async def test_a_deleted_stream_is_not_put_to_from_a_stale_check(tmp_path: Path) -> None:
    logs, db = await _service(tmp_path, flush_interval=30.0)
    try:
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "kept")])
        await logs.delete_log_stream("/g", "s")
        with pytest.raises(ResourceNotFound):
            await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "x")])
        await logs.create_log_stream("/g", "s")
        assert (await logs.get_log_events(log_group_name="/g", log_stream_name="s")).events == []
    finally:
        await logs.stop()
        db.close()


async def test_live_tail_starts_after_events_accepted_before_it(tmp_path: Path) -> None:
    logs, db = await _service(tmp_path, flush_interval=30.0)
    try:
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "before")])
        tail = logs.tail("/g")
        first = asyncio.create_task(anext(tail))
        await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "after")])
        await logs.flush()
        batch = await asyncio.wait_for(first, 60)
        await tail.aclose()
        assert [e.message for e in batch] == ["after"]
    finally:
        await logs.stop()
        db.close()
