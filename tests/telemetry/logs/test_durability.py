"""Nothing captured is lost: committed by the writer's own timer, everything flushed on stop,
and kept across a close and reopen of the store. (How soon the timer commits is a figure of
bench.latency_bench, not a test: a loaded machine would miss any tight bound.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.telemetry.logs import LogService
from tests.waiting import wait_until_async


def _count(store: SQLiteLogStore) -> int:
    return len(store.read_stream("/g", "s", start=None, end=None, after=None, before=None,
                                 limit=10_000, newest_first=False))


async def test_a_captured_line_is_committed_without_a_reader_asking(tmp_path: Path) -> None:
    db = Database(tmp_path / "logs.db")
    store = SQLiteLogStore(db)
    logs = LogService(store, sweep_interval=None)  # the default flush_interval, 0.5 s
    await logs.start()
    try:
        logs.ensure_log_stream("/g", "s")
        await logs.write("/g", "s", [(1, "hello")])
        # No read and no flush() from here on: only the writer's timer can commit it.
        assert await wait_until_async(lambda: asyncio.to_thread(_count, store), "the commit") == 1
    finally:
        await logs.stop()
        db.close()


async def test_stop_flushes_everything_and_reopen_keeps_it(tmp_path: Path) -> None:
    db = Database(tmp_path / "logs.db")
    logs = LogService(SQLiteLogStore(db), flush_interval=30.0, sweep_interval=None)
    await logs.start()
    for i in range(50):
        await logs.write("/g", "s", [(i, f"m{i}-{j}") for j in range(100)])
    await logs.stop()
    db.close()

    db = Database(tmp_path / "logs.db")
    reopened = LogService(SQLiteLogStore(db), sweep_interval=None)
    await reopened.start()
    try:
        result = await reopened.get_log_events(
            log_group_name="/g", log_stream_name="s", start_from_head=True
        )
        assert [e.message for e in result.events] == [
            f"m{i}-{j}" for i in range(50) for j in range(100)
        ]
        # Appending after reopen continues the same stream and order.
        await reopened.write("/g", "s", [(99, "after reopen")])
        await reopened.flush()
        tail = await reopened.get_log_events(log_group_name="/g", log_stream_name="s", limit=1)
        assert [e.message for e in tail.events] == ["after reopen"]
    finally:
        await reopened.stop()
        db.close()


async def test_a_failed_flush_is_retried_not_dropped(tmp_path: Path) -> None:
    db = Database(tmp_path / "logs.db")
    store = SQLiteLogStore(db)
    append = store.append
    failures = [1]

    def flaky(batches, ingestion_time, **options):  # type: ignore[no-untyped-def]
        if failures:
            failures.pop()
            raise OSError("disk full")
        return append(batches, ingestion_time, **options)

    store.append = flaky  # type: ignore[method-assign]
    logs = LogService(store, flush_interval=0.01, sweep_interval=None)
    import tandem.telemetry.logs.ingest as ingest

    ingest._RETRY_DELAY, saved = 0.01, ingest._RETRY_DELAY
    await logs.start()
    try:
        await logs.write("/g", "s", [(1, "survives")])
        await logs.flush()
        assert await asyncio.to_thread(_count, store) == 1
    finally:
        ingest._RETRY_DELAY = saved
        await logs.stop()
        db.close()
