"""What the PostgreSQL log store adds to the LogStore contract: seqs that commit in order
across servers (live tail never passes an event), and day partitions that the sweep drops
whole."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from tandem.store.postgres import PostgresDatabase, PostgresLogStore
from tandem.telemetry.logs.store import EventBatch
from tests.postgres import POSTGRES, empty_tables, scratch_database
from tests.tools import require_tool

DAY = 86_400_000


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    require_tool(POSTGRES)
    with scratch_database() as dsn:
        yield dsn


@pytest.fixture
def stores(dsn: str) -> Iterator[list[PostgresLogStore]]:
    """Five stores, each on its own pool: five servers sharing one database."""
    empty_tables(dsn)
    databases = [PostgresDatabase(dsn, max_size=2) for _ in range(5)]
    yield [PostgresLogStore(db) for db in databases]
    for db in databases:
        db.close()


def _partitions(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'log_events'::regclass ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def _since(store: PostgresLogStore, after: int, limit: int = 10_000) -> list[tuple[int, str]]:
    rows = store.events_since("/g", after, stream_names=None, stream_prefix=None, terms=(),
                              limit=limit)
    return [(r.seq, r.message) for r in rows]


def test_follower_sees_every_event_of_concurrent_writers_once(
    stores: list[PostgresLogStore],
) -> None:
    """Four servers append 40 batches each while a fifth follows ``events_since`` from its
    last seq. With the seqs taken in a transaction of their own (a sequence's semantics), the
    follower missed 150-500 of the 4,000 events in each of three runs."""
    writers, follower = stores[:4], stores[4]
    for n in range(4):
        follower.ensure_stream("/g", f"w{n}", 0)
    # The day's partition exists before the race, so the writers race only for seqs.
    follower.append([EventBatch("/other", "s", [(0, "made day 0")])], 1, create_missing=True)
    batches, per_batch = 40, 25
    done = threading.Event()
    errors: list[BaseException] = []

    def write(n: int, store: PostgresLogStore) -> None:
        try:
            for b in range(batches):
                events = [(b, f"w{n}-{b}-{k}") for k in range(per_batch)]
                store.append([EventBatch("/g", f"w{n}", events)], 1, create_missing=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(writers)]
    for t in threads:
        t.start()
    seen: list[tuple[int, str]] = []
    polls_with_news = 0

    def follow() -> None:
        nonlocal polls_with_news
        while True:
            finished = done.is_set()
            # A small page, so the follower pages through a store that writers are growing.
            rows = _since(follower, seen[-1][0] if seen else 0, limit=37)
            seen.extend(rows)
            polls_with_news += bool(rows)
            if finished and not rows:
                return

    reader = threading.Thread(target=follow)
    reader.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    assert errors == []
    expected = {f"w{n}-{b}-{k}" for n in range(4) for b in range(batches)
                for k in range(per_batch)}
    messages = [m for _, m in seen]
    assert len(messages) == len(expected) == 4000
    assert set(messages) == expected
    seqs = [s for s, _ in seen]
    assert seqs == list(range(2, 4002))  # no gap, no repeat, in order
    assert polls_with_news > 4000 // 37
    assert follower.last_seq() == 4001


def test_a_writer_waits_for_the_one_holding_earlier_seqs_to_commit(
    dsn: str, stores: list[PostgresLogStore],
) -> None:
    """The trap: a writer holding seq N commits after one holding N+1 and a reader that saw
    N+1 never sees N. Here the second writer cannot take N+1 until the first commits."""
    store = stores[0]
    store.ensure_stream("/g", "s", 0)
    # Seq 1, and the day's partition the writer below inserts into (this test may run first).
    assert store.append([EventBatch("/g", "s", [(5, "made")])], 1, create_missing=False) == 1
    with psycopg.connect(dsn) as early:
        # A writer in flight: it has taken seq 2 and not committed.
        (taken,) = early.execute(
            "UPDATE log_sequence SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq"
        ).fetchone()
        assert taken == 2
        result: list[int] = []
        later = threading.Thread(target=lambda: result.append(stores[1].append(
            [EventBatch("/g", "s", [(5, "later")])], 1, create_missing=False)))
        later.start()
        time.sleep(0.5)
        assert result == [] and later.is_alive()
        assert _since(stores[2], 0) == [(1, "made")]
        early.execute(
            "INSERT INTO log_events (group_id, stream_id, timestamp, seq, ingestion_time, "
            "message) SELECT g.id, s.id, 5, 2, 1, 'early' FROM log_groups g "
            "JOIN log_streams s ON s.group_id = g.id WHERE g.name = '/g'")
        early.commit()
    later.join(timeout=10)
    assert result == [3]
    assert _since(stores[2], 0) == [(1, "made"), (2, "early"), (3, "later")]


def test_a_partition_per_day_made_on_demand(dsn: str, stores: list[PostgresLogStore]) -> None:
    store = stores[0]
    store.ensure_stream("/g", "s", 0)
    store.append([EventBatch("/g", "s", [(3 * DAY + 5, "a"), (5 * DAY, "b"), (-1, "c")])],
                 1, create_missing=False)
    # Another server writing the same days finds them made.
    stores[1].append([EventBatch("/g", "s", [(3 * DAY, "d")])], 1, create_missing=False)
    assert {"log_events_d3", "log_events_d5", "log_events_dm1"} <= set(_partitions(dsn))
    events = store.read_stream("/g", "s", start=None, end=None, after=None, before=None,
                               limit=10, newest_first=False)
    assert [e.message for e in events] == ["c", "d", "a", "b"]


def test_sweep_drops_whole_days_and_deletes_rows_only_where_another_group_keeps_the_day(
    dsn: str, stores: list[PostgresLogStore],
) -> None:
    store, other_server = stores[0], stores[1]
    now = 100 * DAY
    for group in ("/short", "/forever"):
        store.ensure_stream(group, "s", 0)
    store.set_retention("/short", 1)
    # Another server has seen day 90's partition: it must notice the sweep dropped it.
    other_server.append([EventBatch("/short", "s", [(90 * DAY, "warm")])], 1,
                        create_missing=False)
    store.append([
        EventBatch("/short", "s", [(91 * DAY + 1, "old"), (92 * DAY, "shared-old")]),
        EventBatch("/forever", "s", [(92 * DAY + 7, "kept")]),
        EventBatch("/short", "s", [(now - 10, "fresh")]),
    ], 1, create_missing=False)
    assert {"log_events_d90", "log_events_d91", "log_events_d92", "log_events_d99"} \
        <= set(_partitions(dsn))
    assert store.sweep(now) == (3, 0)
    days = set(_partitions(dsn))
    assert "log_events_d90" not in days and "log_events_d91" not in days
    assert {"log_events_d92", "log_events_d99"} <= days  # /forever still has a row on day 92
    short = store.get_stream("/short", "s")
    assert short is not None and (short.first_event_time, short.stored_bytes) == (now - 10, 5)
    group = store.get_group("/short")
    assert group is not None and group.stored_bytes == 5
    kept = store.read_stream("/forever", "s", start=None, end=None, after=None, before=None,
                             limit=10, newest_first=False)
    assert [e.message for e in kept] == ["kept"]
    other_server.append([EventBatch("/short", "s", [(90 * DAY + 1, "again")])], 1,
                        create_missing=False)
    assert "log_events_d90" in _partitions(dsn)
    assert store.sweep(now) == (1, 0)
    assert "log_events_d90" not in _partitions(dsn)
