"""The leader's maintenance writes carry its epoch: on PostgreSQL a deposed leader's metric
rollup, metric expiry and log retention sweep are refused with StaleLeader and change nothing,
while the current leader's go through; on SQLite the one server always leads and fencing
checks nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tandem.clock import ManualClock
from tandem.leadership import StaleLeader
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.store.sqlite.metrics import SQLiteMetricStore
from tandem.telemetry.logs import LogService
from tandem.telemetry.logs.store import EventBatch, LogStore
from tandem.telemetry.metrics import (
    Metric,
    MetricFlusher,
    MetricRegistry,
    MetricRollups,
    Retention,
)
from tandem.telemetry.metrics.store import MetricStore
from tests.postgres import empty_tables
from tests.waiting import wait_until_async

DAY = 86400
H0 = 1_699_999_200  # an hour boundary
ROLLED_AT = H0 + 3600  # the hour's 1-minute rows are all in
NOW = H0 + 2 * DAY  # the 1-minute rows (kept 1 day here) have expired; rollups have not
RETENTION = Retention(1, 63, 455)


def _rows(store: MetricStore, resolution: int) -> list[tuple[int, float, float]]:
    cols = store.read_buckets(Metric("ns", "m"), None, resolution, 0, 2**40)
    return list(zip(cols.starts, cols.sample_counts, cols.sums, strict=True))


def _fill(store: MetricStore) -> None:
    """Minutes 0..9 of H0 with values 1..10 (1-minute rows)."""
    clock = ManualClock(float(H0))
    registry = MetricRegistry(clock=clock)
    series = registry.series("ns", "m")
    for k in range(10):
        series.record(float(k + 1), H0 + k * 60 + 5)
    clock.now = H0 + 3600.0
    MetricFlusher(registry, store, interval=5.0, clock=clock).flush()


def _old_log(store: LogStore) -> None:
    """One event in a group kept for 1 day, three days old at NOW."""
    store.ensure_stream("/short", "s", 0)
    store.set_retention("/short", 1)
    at = (NOW - 3 * DAY) * 1000
    store.append([EventBatch("/short", "s", [(at, "old")])], at, create_missing=False)


def _log_count(store: LogStore) -> int:
    stream = store.get_stream("/short", "s")
    return 0 if stream is None else stream.stored_bytes


async def test_on_sqlite_maintenance_runs_whatever_the_epoch(tmp_path: Path) -> None:
    database = Database(tmp_path / "store.db")
    try:
        metrics, logs = SQLiteMetricStore(database), SQLiteLogStore(database)
        _fill(metrics)
        _old_log(logs)
        clock = ManualClock(float(ROLLED_AT))
        rollups = MetricRollups(metrics, RETENTION, clock=clock, epoch=lambda: 0)
        assert rollups.run().rolled_up == {300: 2, 3600: 1}
        clock.now = float(NOW)
        assert rollups.run().deleted == {60: 10, 300: 0, 3600: 0}
        service = LogService(logs, clock=ManualClock(float(NOW)), sweep_interval=None,
                             epoch=lambda: 0)
        await service.start()
        try:
            assert (await service.sweep_retention()).events_deleted == 1
        finally:
            await service.stop()
    finally:
        database.close()


class _Server:
    """What a server holds: its pool, its metric and log stores, its campaign for the lead."""

    def __init__(self, dsn: str, holder: str) -> None:
        from tandem.store.postgres import PostgresDatabase, PostgresLogStore, PostgresMetricStore
        from tandem.store.postgres.leadership import PostgresLeadership

        self.database = PostgresDatabase(dsn, max_size=2)
        self.metrics = PostgresMetricStore(self.database)
        self.logs = PostgresLogStore(self.database)
        self.leadership = PostgresLeadership(self.database, holder=holder, poll_interval=0.1)

    async def close(self) -> None:
        await self.leadership.stop()
        self.logs.close()
        self.database.close()


async def test_a_deposed_leaders_rollup_and_retention_are_refused_and_the_new_ones_run(
    postgres_database: str,
) -> None:
    empty_tables(postgres_database)
    a, b = _Server(postgres_database, "maint-a"), _Server(postgres_database, "maint-b")
    try:
        await a.leadership.start()
        await wait_until_async(lambda: a.leadership.leading, "a leads")
        await b.leadership.start()
        epoch_a = a.leadership.epoch
        _fill(a.metrics)
        _old_log(a.logs)
        with psycopg.connect(postgres_database, autocommit=True) as conn:  # a's session dies
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'tandem leader maint-a' "
                         "AND datname = current_database()")
        await wait_until_async(lambda: b.leadership.leading, "b leads", timeout=5.0)
        assert b.leadership.epoch == epoch_a + 1
        clock = ManualClock(float(ROLLED_AT))

        # a, still believing it leads under its old epoch: each write refused, nothing changed.
        late = MetricRollups(a.metrics, RETENTION, clock=clock, epoch=lambda: epoch_a)
        message = (f"^this server led under epoch {epoch_a}; the leader's epoch is now "
                   f"{epoch_a + 1}$")
        with pytest.raises(StaleLeader, match=message):
            late.rollup(60, 300)
        clock.now = float(NOW)
        with pytest.raises(StaleLeader, match=message):
            late.expire()
        assert _rows(a.metrics, 300) == [] and len(_rows(a.metrics, 60)) == 10
        assert a.metrics.get_mark("rollup:60:300") == 0
        sweeper = LogService(a.logs, clock=clock, sweep_interval=None, epoch=lambda: epoch_a)
        await sweeper.start()
        try:
            with pytest.raises(StaleLeader, match=message):
                await sweeper.sweep_retention()
        finally:
            await sweeper.stop()
        assert _log_count(b.logs) == 3

        # b leads under the current epoch: its rollup, expiry and sweep go through.
        clock.now = float(ROLLED_AT)
        rollups = MetricRollups(b.metrics, RETENTION, clock=clock,
                                epoch=lambda: b.leadership.epoch)
        assert rollups.run().rolled_up == {300: 2, 3600: 1}
        clock.now = float(NOW)
        assert rollups.run().deleted == {60: 10, 300: 0, 3600: 0}
        assert _rows(b.metrics, 300) == [(H0, 5.0, 15.0), (H0 + 300, 5.0, 40.0)]
        assert _rows(b.metrics, 3600) == [(H0, 10.0, 55.0)]
        service = LogService(b.logs, clock=clock, sweep_interval=None,
                             epoch=lambda: b.leadership.epoch)
        await service.start()
        try:
            result = await service.sweep_retention()
        finally:
            await service.stop()
        assert (result.events_deleted, result.streams_deleted) == (1, 1)
        assert b.logs.get_stream("/short", "s") is None
    finally:
        await a.close()
        await b.close()
