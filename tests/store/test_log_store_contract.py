"""The LogStore contract: SQLite and PostgreSQL pass the same tests.

Add an implementation by adding a ``backend`` param that yields an object with ``store``,
``reopen()`` (close and open the same storage again), ``second()`` (the handle another server
would hold), ``schema_version()`` and ``migrations``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.errors import ResourceAlreadyExists, ResourceNotFound
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import MIGRATIONS, SQLiteLogStore
from tandem.telemetry.logs.store import EventBatch, LogStore
from tests.postgres import empty_tables

DAY = 86_400_000
_GROUPS = itertools.count()


class _SQLite:
    migrations = len(MIGRATIONS)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path)
        self.store: LogStore = SQLiteLogStore(self.db)

    def reopen(self) -> LogStore:
        self.db.close()
        self.db = Database(self.path)
        self.store = SQLiteLogStore(self.db)
        return self.store

    def second(self) -> LogStore:
        # One server owns a SQLite file, and holds one handle on it.
        return self.store

    def schema_version(self) -> int:
        def check(c):  # type: ignore[no-untyped-def]
            return c.execute(
                "SELECT version FROM schema_version WHERE component = 'logs'").fetchone()[0]
        return int(self.db.read(check))

    def close(self) -> None:
        self.db.close()


class _Postgres:
    def __init__(self, dsn: str) -> None:
        from tandem.store.postgres import PostgresDatabase, PostgresLogStore
        from tandem.store.postgres.logs import MIGRATIONS as PG_MIGRATIONS

        self.migrations = len(PG_MIGRATIONS)
        self.dsn = dsn
        self.db = PostgresDatabase(dsn)
        self.store: LogStore = PostgresLogStore(self.db)
        self.others: list[Any] = []

    def reopen(self) -> LogStore:
        from tandem.store.postgres import PostgresDatabase, PostgresLogStore

        self.db.close()
        self.db = PostgresDatabase(self.dsn)
        self.store = PostgresLogStore(self.db)
        return self.store

    def second(self) -> LogStore:
        from tandem.store.postgres import PostgresDatabase, PostgresLogStore

        database = PostgresDatabase(self.dsn, max_size=2)
        store = PostgresLogStore(database)
        self.others.append((store, database))
        return store

    def schema_version(self) -> int:
        return int(self.db.transaction(lambda c: c.execute(
            "SELECT version FROM schema_version WHERE component = 'logs'").fetchone()[0]))

    def close(self) -> None:
        for store, database in [(self.store, self.db), *self.others]:
            store.close()
            database.close()


Backend = _SQLite | _Postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        impl: Backend = _SQLite(tmp_path / "logs.db")
    else:
        dsn = request.getfixturevalue("postgres_database")
        # Emptied before the store opens: emptying truncates the seq row it makes.
        empty_tables(dsn)
        impl = _Postgres(dsn)
    yield impl
    impl.close()


@pytest.fixture
def store(backend: Backend) -> LogStore:
    return backend.store


def _put(store: LogStore, group: str, stream: str, events: list[tuple[int, str]], at: int) -> int:
    return store.append([EventBatch(group, stream, events)], at, create_missing=False)


def test_group_lifecycle(store: LogStore) -> None:
    store.create_group("/b", 10)
    store.create_group("/a", 20)
    with pytest.raises(ResourceAlreadyExists, match="^The specified log group already exists$"):
        store.create_group("/a", 30)
    assert [g.name for g in store.list_groups(prefix=None, contains=None, offset=0, limit=50)] \
        == ["/a", "/b"]
    store.set_retention("/a", 7)
    group = store.get_group("/a")
    assert group is not None and (group.creation_time, group.retention_days) == (20, 7)
    store.delete_group("/a")
    assert store.get_group("/a") is None
    with pytest.raises(ResourceNotFound, match="^The specified log group does not exist.$"):
        store.delete_group("/a")
    with pytest.raises(ResourceNotFound):
        store.set_retention("/a", 1)


def test_list_groups_prefix_pattern_and_paging(store: LogStore) -> None:
    for name in ["/aws/x", "/aws/y", "Zed", "/other_x", "/aws_z"]:
        store.create_group(name, 1)
    names = lambda **kw: [g.name for g in store.list_groups(**kw)]  # noqa: E731
    assert names(prefix=None, contains=None, offset=0, limit=50) == [
        "/aws/x", "/aws/y", "/aws_z", "/other_x", "Zed"
    ]
    # LIKE metacharacters in a prefix are literal.
    assert names(prefix="/aws_", contains=None, offset=0, limit=50) == ["/aws_z"]
    assert names(prefix=None, contains="x", offset=0, limit=50) == ["/aws/x", "/other_x"]
    assert names(prefix=None, contains=None, offset=1, limit=2) == ["/aws/y", "/aws_z"]


def test_streams_and_stats(store: LogStore) -> None:
    store.create_group("/g", 1)
    store.create_stream("/g", "b", 2)
    store.create_stream("/g", "a", 3)
    with pytest.raises(ResourceAlreadyExists, match="^The specified log stream already exists$"):
        store.create_stream("/g", "a", 4)
    with pytest.raises(ResourceNotFound, match="log group does not exist"):
        store.create_stream("/nope", "a", 4)
    _put(store, "/g", "b", [(100, "héllo"), (300, "x")], at=1000)
    _put(store, "/g", "b", [(50, "y")], at=2000)
    b = store.get_stream("/g", "b")
    assert b is not None
    assert (b.first_event_time, b.last_event_time, b.last_ingestion_time, b.stored_bytes) == (
        50, 300, 2000, 6 + 1 + 1
    )
    group = store.get_group("/g")
    assert group is not None and group.stored_bytes == 8
    listed = store.list_streams(
        "/g", prefix=None, by_last_event=False, descending=False, offset=0, limit=50
    )
    assert [s.name for s in listed] == ["a", "b"]
    by_time = store.list_streams(
        "/g", prefix=None, by_last_event=True, descending=True, offset=0, limit=50
    )
    assert [s.name for s in by_time] == ["b", "a"]
    store.delete_stream("/g", "b")
    assert store.get_stream("/g", "b") is None
    group = store.get_group("/g")
    assert group is not None and group.stored_bytes == 0
    with pytest.raises(ResourceNotFound, match="^The specified log stream does not exist.$"):
        store.delete_stream("/g", "b")


def test_append_to_missing_stream_stores_nothing_unless_asked(store: LogStore) -> None:
    with pytest.raises(ResourceNotFound):
        _put(store, "/g", "s", [(1, "a")], at=1)
    store.append([EventBatch("/g", "s", [(1, "a")])], 5, create_missing=True)
    events = store.read_stream(
        "/g", "s", start=None, end=None, after=None, before=None, limit=10, newest_first=False
    )
    assert [(e.timestamp, e.message, e.ingestion_time) for e in events] == [(1, "a", 5)]


def test_a_must_exist_batch_for_a_gone_stream_is_left_out_and_its_seqs_skipped(
    store: LogStore,
) -> None:
    store.ensure_stream("/g", "kept", 1)
    store.ensure_stream("/g", "deleted", 1)
    store.delete_stream("/g", "deleted")
    gone: list[EventBatch] = []
    batches = [
        EventBatch("/g", "deleted", [(1, "x"), (2, "y")], must_exist=True),
        EventBatch("/g", "kept", [(3, "a")], must_exist=True),
        EventBatch("/g", "new", [(4, "b")]),  # created: no must_exist
        EventBatch("/nogroup", "s", [(5, "c")], must_exist=True),
    ]
    last = store.append(batches, 9, create_missing=True, gone=gone)
    assert [(b.group, b.stream) for b in gone] == [("/g", "deleted"), ("/nogroup", "s")]
    assert last == 5 and store.last_seq() == 5  # every event's seq counted, stored or not
    assert store.get_stream("/g", "deleted") is None and store.get_group("/nogroup") is None
    read = {name: [(e.seq, e.message) for e in store.read_stream(
        "/g", name, start=None, end=None, after=None, before=None, limit=10,
        newest_first=False)] for name in ("kept", "new")}
    assert read == {"kept": [(3, "a")], "new": [(4, "b")]}
    # Without create_missing, a must_exist batch is still only left out, never an error.
    gone.clear()
    assert store.append([EventBatch("/g", "deleted", [(6, "z")], must_exist=True)], 9,
                        create_missing=False, gone=gone) == 6
    assert [(b.group, b.stream) for b in gone] == [("/g", "deleted")]


def test_watch_tells_of_deletes_and_retention_changes_through_another_handle(
    backend: Backend,
) -> None:
    store, other = backend.store, backend.second()
    heard: list[tuple[str | None, str | None]] = []
    changed = threading.Condition()

    def note(group: str | None, stream: str | None) -> None:
        with changed:
            heard.append((group, stream))
            changed.notify_all()

    store.watch(note)

    def wait_for(expected: list[tuple[str | None, str | None]]) -> None:
        # A fresh listener first hears (None, None): it cannot know what it missed before.
        with changed:
            assert changed.wait_for(
                lambda: [h for h in heard if h != (None, None)] == expected, timeout=5.0
            ), heard

    other.ensure_stream("/g", "a", 1)
    other.ensure_stream("/g", "b", 1)
    other.create_group("/h", 1)
    other.append([EventBatch("/g", "a", [(1, "x")])], 1, create_missing=False)
    other.set_retention("/h", 7)
    other.delete_stream("/g", "b")
    other.delete_group("/g")
    wait_for([("/h", None), ("/g", "b"), ("/g", None)])  # creates and appends are not told


def test_read_stream_orders_by_time_then_seq_with_cursors(store: LogStore) -> None:
    store.ensure_stream("/g", "s", 0)
    _put(store, "/g", "s", [(20, "b1"), (20, "b2"), (30, "c")], at=1)
    _put(store, "/g", "s", [(10, "a")], at=2)
    read = lambda **kw: [  # noqa: E731
        e.message for e in store.read_stream("/g", "s", **{
            "start": None, "end": None, "after": None, "before": None, "limit": 10,
            "newest_first": False, **kw,
        })
    ]
    assert read() == ["a", "b1", "b2", "c"]
    assert read(limit=2, newest_first=True) == ["b2", "c"]
    all_events = store.read_stream(
        "/g", "s", start=None, end=None, after=None, before=None, limit=10, newest_first=False
    )
    b1 = all_events[1]
    assert read(after=(b1.timestamp, b1.seq)) == ["b2", "c"]
    assert read(before=(b1.timestamp, b1.seq)) == ["a"]
    assert read(start=20, end=30) == ["b1", "b2"]  # start inclusive, end exclusive


def test_filter_events_terms_streams_and_cursor(store: LogStore) -> None:
    store.ensure_stream("/g", "web-1", 0)
    store.ensure_stream("/g", "web-2", 0)
    store.ensure_stream("/g", "db", 0)
    _put(store, "/g", "web-1", [(1, "ERROR one"), (4, "ok")], at=1)
    _put(store, "/g", "web-2", [(2, "ERROR two"), (3, "ERRORCODE 5")], at=1)
    _put(store, "/g", "db", [(2, "ERROR db")], at=1)

    def run(**kw: object) -> list[str]:
        args: dict[str, object] = {
            "stream_names": None, "stream_prefix": None, "start": None, "end": None,
            "after": None, "terms": (), "limit": 100, **kw,
        }
        return [f"{e.stream_name}:{e.message}" for e in store.filter_events("/g", **args)]

    assert run(terms=("ERROR",)) == [
        "web-1:ERROR one", "web-2:ERROR two", "db:ERROR db", "web-2:ERRORCODE 5"
    ]
    assert run(terms=("ERROR", "two")) == ["web-2:ERROR two"]
    assert run(stream_prefix="web-", terms=("ERROR",)) == [
        "web-1:ERROR one", "web-2:ERROR two", "web-2:ERRORCODE 5"
    ]
    assert run(stream_names=["db", "web-1"], start=2, end=4) == ["db:ERROR db", "web-1:ok"]
    first = store.filter_events(
        "/g", stream_names=None, stream_prefix=None, start=None, end=None, after=None,
        terms=(), limit=2,
    )
    assert run(after=(first[-1].timestamp, first[-1].seq)) == [
        "db:ERROR db", "web-2:ERRORCODE 5", "web-1:ok"
    ]
    assert run(stream_names=["missing"]) == []


def test_events_since_follows_seq(store: LogStore) -> None:
    store.ensure_stream("/g", "a", 0)
    store.ensure_stream("/g", "b", 0)
    start = store.last_seq()
    _put(store, "/g", "a", [(5, "x1")], at=1)
    _put(store, "/g", "b", [(1, "y1")], at=1)
    rows = store.events_since("/g", start, stream_names=None, stream_prefix=None, terms=(),
                              limit=10)
    assert [r.message for r in rows] == ["x1", "y1"]
    assert store.last_seq() == rows[-1].seq
    rows = store.events_since("/g", start, stream_names=["b"], stream_prefix=None, terms=(),
                              limit=10)
    assert [r.message for r in rows] == ["y1"]
    assert store.events_since("/none", 0, stream_names=None, stream_prefix=None, terms=(),
                              limit=10) == []


def test_sweep_deletes_expired_events_and_empty_streams(store: LogStore) -> None:
    now = 100 * DAY
    store.ensure_stream("/kept", "s", 0)
    store.ensure_stream("/short", "old", 0)
    store.ensure_stream("/short", "mixed", 0)
    store.ensure_stream("/short", "fresh-empty", now - 1000)
    store.set_retention("/short", 1)
    _put(store, "/kept", "s", [(now - 50 * DAY, "ancient but kept")], at=now - 50 * DAY)
    _put(store, "/short", "old", [(now - 3 * DAY, "old")], at=now - 3 * DAY)
    _put(store, "/short", "mixed", [(now - 2 * DAY, "gone"), (now - 1000, "stays")],
         at=now - 2 * DAY)
    assert store.sweep(now) == (2, 1)  # "old" is emptied and removed; "mixed" keeps one
    streams = store.list_streams(
        "/short", prefix=None, by_last_event=False, descending=False, offset=0, limit=50
    )
    assert [s.name for s in streams] == ["fresh-empty", "mixed"]
    mixed = store.get_stream("/short", "mixed")
    assert mixed is not None and (mixed.first_event_time, mixed.stored_bytes) == (now - 1000, 5)
    group = store.get_group("/short")
    assert group is not None and group.stored_bytes == 5
    assert store.get_stream("/kept", "s") is not None
    assert store.sweep(now) == (0, 0)


def test_seq_is_never_reused_after_deletes(store: LogStore) -> None:
    store.ensure_stream("/g", "s", 0)
    last = _put(store, "/g", "s", [(1, "a"), (2, "b")], at=1)
    store.delete_stream("/g", "s")
    store.ensure_stream("/g", "s", 0)
    assert _put(store, "/g", "s", [(3, "c")], at=1) > last


def test_nothing_lost_across_close_and_reopen(backend: Backend) -> None:
    store = backend.store
    store.ensure_stream("/g", "s", 7)
    store.set_retention("/g", 30)
    _put(store, "/g", "s", [(i, f"line {i}") for i in range(1000)], at=9)
    store = backend.reopen()
    events = store.read_stream(
        "/g", "s", start=None, end=None, after=None, before=None, limit=10_000,
        newest_first=False,
    )
    assert [e.message for e in events] == [f"line {i}" for i in range(1000)]
    group = store.get_group("/g")
    assert group is not None and group.retention_days == 30


def test_reopen_keeps_schema_version(backend: Backend) -> None:
    backend.reopen()
    assert backend.schema_version() == backend.migrations


_events = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(0, 40), st.text("xyz", min_size=1, max_size=30)),
    min_size=1, max_size=60,
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=_events,
    stream=st.sampled_from("abc"),
    start=st.none() | st.integers(0, 40),
    end=st.none() | st.integers(0, 41),
    cursor=st.none() | st.tuples(st.booleans(), st.integers(0, 40), st.integers(0, 70)),
    limit=st.integers(1, 20),
    newest_first=st.booleans(),
)
def test_read_stream_matches_a_naive_read(
    backend: Backend, events: list[tuple[str, int, str]], stream: str, start: int | None,
    end: int | None, cursor: tuple[bool, int, int] | None, limit: int, newest_first: bool,
) -> None:
    """Whichever way the store reads (the stream index, or the group's rows when one stream
    holds nearly all of the group's bytes), a page is the naive page of the stream's events."""
    store = backend.store
    group = f"/p{next(_GROUPS)}"
    for name in "abc":
        store.ensure_stream(group, name, 0)
    stored: list[tuple[int, int, str, str]] = []  # (timestamp, seq, stream, message)
    for name, ts, message in events:
        seq = _put(store, group, name, [(ts, message)], at=1)
        stored.append((ts, seq, name, message))
    after = before = None
    if cursor is not None:
        forward, ts, seq = cursor
        after, before = ((ts, seq), None) if forward else (None, (ts, seq))
    mine = sorted((ts, seq, m) for ts, seq, s, m in stored if s == stream)
    mine = [
        e for e in mine
        if (start is None or e[0] >= start) and (end is None or e[0] < end)
        and (after is None or e[:2] > after) and (before is None or e[:2] < before)
    ]
    expected = mine[-limit:] if newest_first or before is not None else mine[:limit]
    got = store.read_stream(group, stream, start=start, end=end, after=after, before=before,
                            limit=limit, newest_first=newest_first or before is not None)
    assert [(e.timestamp, e.seq, e.message) for e in got] == expected
    assert {e.stream_name for e in got} <= {stream}


def test_group_options_are_kept(store: LogStore) -> None:
    store.create_group(
        "/kept", 5, kms_key_id="arn:aws:kms:us-east-1:000000000000:key/k",
        log_group_class="INFREQUENT_ACCESS", deletion_protection=True,
    )  # fmt: skip
    store.create_group("/plain", 6)
    kept, plain = store.get_group("/kept"), store.get_group("/plain")
    assert kept is not None and plain is not None
    assert (kept.kms_key_id, kept.log_group_class, kept.deletion_protection) == (
        "arn:aws:kms:us-east-1:000000000000:key/k", "INFREQUENT_ACCESS", True,
    )  # fmt: skip
    assert (plain.kms_key_id, plain.log_group_class, plain.deletion_protection) == (
        None, "STANDARD", False,
    )  # fmt: skip
    listed = store.list_groups(prefix="/", contains=None, offset=0, limit=10)
    assert [(g.name, g.log_group_class) for g in listed] == [
        ("/kept", "INFREQUENT_ACCESS"), ("/plain", "STANDARD"),
    ]  # fmt: skip


def test_messages_keep_every_character_and_terms_match_literally(store: LogStore) -> None:
    tricky = ["a\tb", "line1\nline2\r", "back\\slash", "\\N", "\\.", "100%_done", "Ünïcode ✓",
              "Case", "case", "nul\x00in\tthe\\middle"]
    store.ensure_stream("/g", "s", 0)
    _put(store, "/g", "s", [(i, m) for i, m in enumerate(tricky)], at=1)
    events = store.read_stream(
        "/g", "s", start=None, end=None, after=None, before=None, limit=50, newest_first=False
    )
    assert [e.message for e in events] == tricky
    stream = store.get_stream("/g", "s")
    assert stream is not None and stream.stored_bytes == len("".join(tricky).encode("utf-8"))

    def found(term: str) -> list[str]:
        return [e.message for e in store.filter_events(
            "/g", stream_names=None, stream_prefix=None, start=None, end=None, after=None,
            terms=(term,), limit=50,
        )]  # fmt: skip

    assert found("%_") == ["100%_done"]
    assert found("_") == ["100%_done"]
    assert found("\\") == ["back\\slash", "\\N", "\\.", "nul\x00in\tthe\\middle"]
    assert found("\t") == ["a\tb", "nul\x00in\tthe\\middle"]
    assert found("in\tthe") == ["nul\x00in\tthe\\middle"]
    assert found("Case") == ["Case"]
    assert found("ï") == ["Ünïcode ✓"]
    since = store.events_since("/g", 0, stream_names=None, stream_prefix=None, terms=("%",),
                               limit=50)
    assert [e.message for e in since] == ["100%_done"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(
        st.tuples(st.sampled_from("ab"), st.integers(0, 3 * DAY),
                  st.text("xyz", min_size=1, max_size=12)),
        min_size=1, max_size=80,
    ),
    term=st.text("xyz", min_size=1, max_size=2),
    streams=st.none() | st.just(["a"]),
    start=st.none() | st.integers(0, 3 * DAY),
    end=st.none() | st.integers(0, 3 * DAY),
    cursor=st.none() | st.tuples(st.integers(0, 3 * DAY), st.integers(0, 90)),
    limit=st.integers(1, 15),
)
def test_filter_events_pages_match_a_naive_filter(
    backend: Backend, events: list[tuple[str, int, str]], term: str,
    streams: list[str] | None, start: int | None, end: int | None,
    cursor: tuple[int, int] | None, limit: int,
) -> None:
    """Events spread over days and milliseconds: however the store reads a group (message
    blocks, or windows of time sized from the matches so far), a page, and every page to the
    end, is the naive filter's."""
    store = backend.store
    group = f"/f{next(_GROUPS)}"
    for name in "ab":
        store.ensure_stream(group, name, 0)
    stored: list[tuple[int, int, str, str]] = []
    for name, ts, message in events:
        seq = _put(store, group, name, [(ts, message)], at=1)
        stored.append((ts, seq, name, message))
    naive = sorted(
        (ts, seq, name, message) for ts, seq, name, message in stored
        if (streams is None or name in streams) and term in message
        and (start is None or ts >= start) and (end is None or ts <= end)
        and (cursor is None or (ts, seq) > cursor)
    )

    def page(after: tuple[int, int] | None) -> list[tuple[int, int, str, str]]:
        got = store.filter_events(group, stream_names=streams, stream_prefix=None, start=start,
                                  end=end, after=after, terms=(term,), limit=limit)
        return [(e.timestamp, e.seq, e.stream_name, e.message) for e in got]

    assert page(cursor) == naive[:limit]
    every: list[tuple[int, int, str, str]] = []
    after = cursor
    while rows := page(after):
        every += rows
        after = rows[-1][:2]
    assert every == naive
