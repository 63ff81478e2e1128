"""FilterLogEvents' term search through message blocks, against a naive recomputation.

Blocks are made tiny here (a few events or bytes each) so that every path is taken: blocks
that grow, blocks that are full, events out of time order across blocks, a page that ends
inside a block, deletes and sweeps that rewrite blocks, and the migration that builds blocks
for events stored before blocks existed."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.store.sqlite import log_blocks
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import MIGRATIONS, SQLiteLogStore
from tandem.telemetry.logs.store import EventBatch

DAY = 86_400_000
_GROUPS = itertools.count()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SQLiteLogStore]:
    monkeypatch.setattr(log_blocks, "BLOCK_BYTES", 40)
    monkeypatch.setattr(log_blocks, "BLOCK_EVENTS", 4)
    db = Database(tmp_path / "logs.db")
    yield SQLiteLogStore(db)
    db.close()


_message = st.text(st.sampled_from("ab\u00e9\u20ac\U0001f600 \n"), min_size=1, max_size=12)
_event = st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.integers(0, 30), _message)
_term = st.text(st.sampled_from("ab\u00e9\u20ac\U0001f600 \n"), min_size=1, max_size=3)


def _naive(stored: list[tuple[int, int, str, str]], terms: list[str], names: set[str] | None,
           start: int | None, end: int | None, after: tuple[int, int] | None,
           limit: int) -> list[tuple[int, int, str, str]]:  # fmt: skip
    rows = sorted(
        (ts, seq, stream, msg) for ts, seq, stream, msg in stored
        if all(t in msg for t in terms)
        and (names is None or stream in names)
        and (start is None or ts >= start) and (end is None or ts <= end)
        and (after is None or (ts, seq) > after)
    )  # fmt: skip
    return rows[:limit]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    batches=st.lists(st.lists(_event, min_size=1, max_size=6), min_size=1, max_size=8),
    terms=st.lists(_term, min_size=1, max_size=2),
    names=st.none() | st.sets(st.sampled_from(["s1", "s2", "s3"]), min_size=1),
    start=st.none() | st.integers(0, 30),
    end=st.none() | st.integers(0, 30),
    cursor=st.none() | st.tuples(st.integers(0, 30), st.integers(0, 60)),
    limit=st.integers(1, 8),
    deleted=st.none() | st.sampled_from(["s1", "s2", "s3"]),
)
def test_term_search_matches_a_naive_filter(
    store: SQLiteLogStore, batches: list[list[tuple[str, int, str]]], terms: list[str],
    names: set[str] | None, start: int | None, end: int | None,
    cursor: tuple[int, int] | None, limit: int, deleted: str | None,
) -> None:  # fmt: skip
    group = f"/g{next(_GROUPS)}"
    for name in ("s1", "s2", "s3"):
        store.ensure_stream(group, name, 0)
    stored: list[tuple[int, int, str, str]] = []
    for batch in batches:
        # One append of several streams' batches, as the log writer commits them.
        by_stream: dict[str, list[tuple[int, str]]] = {}
        for stream, ts, message in batch:
            by_stream.setdefault(stream, []).append((ts, message))
        last = store.append([EventBatch(group, s, e) for s, e in by_stream.items()], 1,
                            create_missing=False)  # fmt: skip
        seq = last - len(batch) + 1
        for stream, events in by_stream.items():
            for ts, message in events:
                stored.append((ts, seq, stream, message))
                seq += 1
    if deleted is not None:
        store.delete_stream(group, deleted)
        stored = [e for e in stored if e[2] != deleted]
        if names is not None:
            names = names - {deleted} or None
    got = store.filter_events(
        group, stream_names=sorted(names) if names else None, stream_prefix=None,
        start=start, end=end, after=cursor, terms=terms, limit=limit,
    )
    assert [(e.timestamp, e.seq, e.stream_name, e.message) for e in got] == _naive(
        stored, terms, names, start, end, cursor, limit
    )


def _put(store: SQLiteLogStore, group: str, events: list[tuple[int, str]]) -> None:
    store.append([EventBatch(group, "s", events)], 1, create_missing=True)


def test_sweep_rewrites_the_blocks_it_cuts(store: SQLiteLogStore) -> None:
    now = 100 * DAY
    _put(store, "/g", [(now - 3 * DAY + i, f"x old {i}") for i in range(6)])
    _put(store, "/g", [(now - 3 * DAY + 10, "x old late"), (now - DAY, "x new")])
    store.set_retention("/g", 2)
    assert store.sweep(now) == (7, 0)
    got = store.filter_events("/g", stream_names=None, stream_prefix=None, start=None,
                              end=None, after=None, terms=["x"], limit=10)  # fmt: skip
    assert [e.message for e in got] == ["x new"]


def test_a_message_bigger_than_a_block_and_terms_across_messages(
    store: SQLiteLogStore,
) -> None:
    _put(store, "/g", [(1, "ab"), (2, "c" * 100), (3, "abc"), (4, "bc")])
    search = lambda term: [  # noqa: E731
        e.message for e in store.filter_events(
            "/g", stream_names=None, stream_prefix=None, start=None, end=None, after=None,
            terms=[term], limit=10)
    ]  # fmt: skip
    assert search("abc") == ["abc"]  # "ab" + "c..." side by side in a block is no match
    assert search("cc") == ["c" * 100]
    assert search("bc") == ["abc", "bc"]


def test_migration_builds_blocks_for_events_stored_before(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    db = Database(path)
    db.migrate("logs", MIGRATIONS[:1])  # a store from before blocks existed
    old = SQLiteLogStore.__new__(SQLiteLogStore)
    old.db = db
    old.ensure_stream("/g", "s", 0)

    def insert(conn: sqlite3.Connection) -> None:
        conn.executemany(
            "INSERT INTO log_events (group_id, stream_id, timestamp, ingestion_time, message, "
            "seq) VALUES (1, 1, ?, 1, ?, ?)",
            [(i, f"line {i} {'ERROR' if i % 3 == 0 else 'ok'}", i + 1) for i in range(20)],
        )
        conn.execute("UPDATE log_sequence SET last_seq = 20")

    db.write(insert)
    db.close()
    db = Database(path)
    store = SQLiteLogStore(db)  # runs the blocks migration
    got = store.filter_events("/g", stream_names=None, stream_prefix=None, start=None,
                              end=None, after=None, terms=["ERROR"], limit=100)  # fmt: skip
    assert [e.timestamp for e in got] == list(range(0, 20, 3))
    blocks = db.read(lambda c: c.execute("SELECT count(*) FROM log_blocks").fetchone()[0])
    assert blocks >= 1
    db.close()


def test_an_empty_term_matches_every_event(store: SQLiteLogStore) -> None:
    _put(store, "/g", [(1, "a"), (2, "b")])
    got = store.filter_events("/g", stream_names=None, stream_prefix=None, start=None,
                              end=None, after=None, terms=["", "b"], limit=10)  # fmt: skip
    assert [e.message for e in got] == ["b"]
    got = store.filter_events("/g", stream_names=None, stream_prefix=None, start=None,
                              end=None, after=None, terms=[""], limit=10)  # fmt: skip
    assert [e.message for e in got] == ["a", "b"]
