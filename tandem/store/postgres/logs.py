"""LogStore on PostgreSQL: the SQLite log store's contract, for servers sharing one database.

Seq is commit order. Live tail reads "every event after seq N", so a seq must never become
visible after a larger one: a PostgreSQL sequence hands numbers out in call order, and a
writer that took N-1 but commits after N is passed by a reader that already saw N, and never
shown. Here every write that touches events (append, a stream or group delete, the sweep)
first updates the one row of ``log_sequence`` (``UPDATE ... RETURNING``). That row lock is
held until commit, so the next writer takes its numbers only after the previous one has
committed (and is visible: PostgreSQL releases a transaction's locks after it shows its
commit), and a rolled-back writer's numbers are given again. The committed seqs are therefore
always a prefix of the numbers given, and a reader at N can only ever be shown numbers above N.
The price is one writer at a time across servers, as SQLite has one writer per file; an
append holds the lock for the time of its inserts (a 1,000-event batch is a few ms), and
docs/performance.md has the throughput this leaves. ``last_seq`` is the row's committed value.
The watermark alternative (``pg_snapshot_xmin`` over per-row transaction ids, as the metric
store does) lets writers overlap but hands live tail a cursor that is not the event's seq.

Events are partitioned by day of timestamp, made on demand under the same lock
(log_partitions.py). The sweep drops a partition whole once no group whose events may still
be kept has a row in it, and deletes rows only in partitions that other groups still need; it
reads the expired rows' sizes first (stored_bytes stays exact, as on SQLite).

Terms are ``strpos`` filters (case-sensitive, no pattern characters) over windows of time
read as bitmap scans (``_scan_windows``): a 1% term over a million events, every page, reads
each row about once. A pg_trgm GIN index on messages was measured and not taken: it cut
appends to a third (docs/performance.md), under the 50,000 events/s target.

Appends commit with ``synchronous_commit = off``: like SQLite's WAL with
``synchronous=NORMAL``, a commit survives the tandem process being killed, and only an
operating-system (or PostgreSQL server) crash can lose the last fraction of a second.

Names are ``COLLATE "C"``: byte order is ASCII order, as SQLite's BINARY collation.

PostgreSQL text cannot hold U+0000: a message holding it is kept whole, as its UTF-8 bytes,
in ``raw`` (NULL for every other row), and ``message`` holds it with each U+0000 as U+FFFD,
for the term filters (a term holding U+0000 finds no such message). Reads return ``raw``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from tandem.errors import ResourceAlreadyExists
from tandem.store.sqlite.database import bindable
from tandem.telemetry.logs.model import InputLogEvents
from tandem.telemetry.logs.store import (
    EventBatch,
    GroupRecord,
    Position,
    StoredEvent,
    StreamRecord,
    TargetChange,
)
from tandem.telemetry.logs.validation import (
    GROUP_EXISTS,
    STREAM_EXISTS,
    group_not_found,
    stream_not_found,
)

from .database import Migration, PostgresDatabase
from .feed import ChangeListener
from .leadership import fence as fence_epoch
from .log_partitions import PARTITION_MS, drop_expired_partitions, make_partitions

__all__ = ["PostgresLogStore", "MIGRATIONS"]

_FIRST_WINDOW_MS = 1000  # a term filter's first window of time (it doubles)

MIGRATIONS: list[Migration] = [
    """
    CREATE TABLE log_groups (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL UNIQUE,
        creation_time BIGINT NOT NULL,
        retention_days INTEGER,
        stored_bytes BIGINT NOT NULL DEFAULT 0,
        kms_key_id TEXT,
        log_group_class TEXT NOT NULL DEFAULT 'STANDARD',
        deletion_protection BOOLEAN NOT NULL DEFAULT false
    );
    CREATE TABLE log_streams (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        group_id BIGINT NOT NULL REFERENCES log_groups(id) ON DELETE CASCADE,
        name TEXT COLLATE "C" NOT NULL,
        creation_time BIGINT NOT NULL,
        first_event_time BIGINT,
        last_event_time BIGINT,
        last_ingestion_time BIGINT,
        stored_bytes BIGINT NOT NULL DEFAULT 0,
        UNIQUE (group_id, name)
    );
    CREATE TABLE log_events (
        group_id BIGINT NOT NULL,
        timestamp BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        stream_id BIGINT NOT NULL,
        ingestion_time BIGINT NOT NULL,
        message TEXT NOT NULL,
        raw BYTEA
    ) PARTITION BY RANGE (timestamp);
    -- FilterLogEvents reads a group in time order; GetLogEvents a stream.
    CREATE INDEX log_events_by_time ON log_events (group_id, timestamp, seq);
    CREATE INDEX log_events_by_stream ON log_events (stream_id, timestamp, seq);
    -- A term filter reads windows of time in heap order (PostgresLogStore._scan_windows);
    -- rows arrive roughly in time order, so block ranges find a window's pages.
    CREATE INDEX log_events_by_time_range ON log_events USING brin (timestamp);
    -- Live tail reads the newest seqs. Rows are appended in seq order, so a block range
    -- index finds them at a fraction of a B-tree's cost per insert.
    CREATE INDEX log_events_by_seq ON log_events USING brin (seq);
    -- The last seq given; its row lock orders writers (see the module docstring). ``drops``
    -- counts sweeps that dropped partitions, so a server knows when its list of them is stale.
    CREATE TABLE log_sequence (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_seq BIGINT NOT NULL,
        drops BIGINT NOT NULL DEFAULT 0
    );
    INSERT INTO log_sequence (id, last_seq) VALUES (1, 0);
    """,
]

_GROUP_COLS = (
    "name, creation_time, retention_days, stored_bytes, kms_key_id, log_group_class, "
    "deletion_protection"
)
_STREAM_COLS = (
    "name, creation_time, first_event_time, last_event_time, last_ingestion_time, stored_bytes"
)


def _group_record(row: Any) -> GroupRecord:
    name, created, retention, stored, kms_key_id, group_class, protection = row
    return GroupRecord(name, created, retention, stored, kms_key_id, group_class, protection)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _columns(events: Sequence[tuple[int, str]]) -> tuple[Sequence[int], Sequence[str]]:
    """A batch's timestamps and messages (an ``InputLogEvents`` already holds them)."""
    if isinstance(events, InputLogEvents):
        return events.timestamps, events.messages
    return [ts for ts, _ in events], [msg for _, msg in events]


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_rows(stamps: Sequence[int], texts: Sequence[str], first_seq: int, tail: str) -> str:
    """COPY text rows ``timestamp, seq, message, raw`` + ``tail`` (the batch's constant
    columns).

    One string built by joins: psycopg's per-row and per-array-element adaptation cost more
    than PostgreSQL's insert of the row. Messages are escaped only when some holds a
    backslash, tab or line break (COPY's text format gives those meaning); ``raw`` is NULL
    but for a message holding U+0000 (module docstring).
    """
    joined = "".join(texts)
    raws = [_NULL] * len(texts)
    if "\x00" in joined:
        raws = [_raw(t) for t in texts]
        texts = [t.replace("\x00", "\ufffd") for t in texts]
    if _COPY_SPECIAL.search(joined):
        texts = [t.translate(_COPY_ESCAPES) for t in texts]
    seqs = range(first_seq, first_seq + len(texts))
    return "".join(
        f"{ts}\t{seq}\t{text}\t{raw}{tail}"
        for ts, seq, text, raw in zip(stamps, seqs, texts, raws, strict=True))


_NULL = "\\N"


def _raw(text: str) -> str:
    # A bytea in COPY's text format: \x and hex digits, the backslash itself escaped.
    return "\\\\x" + text.encode("utf-8").hex() if "\x00" in text else _NULL


def _message(text: str, raw: bytes | None) -> str:
    return text if raw is None else bytes(raw).decode("utf-8")


CHANNEL = "tandem_logs"


def _notify(conn: Any, group: str | None, stream: str | None) -> None:
    """Tell every server's caches, once this transaction commits (``watch``)."""
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, json.dumps([group, stream])))


class PostgresLogStore:
    """The LogStore protocol on a ``PostgresDatabase`` (see tandem.telemetry.logs.store)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.db = database
        self._watchers: list[TargetChange] = []
        self._listener: ChangeListener | None = None
        database.migrate("logs", MIGRATIONS)
        # Emptied tables (TRUNCATE) lose the counter row; numbering then starts again.
        database.transaction(lambda c: c.execute(
            "INSERT INTO log_sequence (id, last_seq) VALUES (1, 0) ON CONFLICT DO NOTHING"))
        # Days whose partition is known to exist while log_sequence.drops is ``_drops``: a
        # miss is checked again under the writers' lock (another server may have made it).
        self._days: set[int] = set()
        self._drops = -1

    # -- sharing -------------------------------------------------------------

    def watch(self, callback: TargetChange) -> None:
        """Changes come as notifications on ``tandem_logs`` (this server's own too), heard
        by one listening session per store, opened at the first ``watch``."""
        self._watchers.append(callback)
        if self._listener is None:
            self._listener = ChangeListener(self.db.dsn, CHANNEL, self._heard)
            self._listener.start()

    def _heard(self, payload: str | None) -> None:
        group, stream = (None, None) if payload is None else json.loads(payload)
        for callback in list(self._watchers):
            callback(group, stream)

    def close(self) -> None:
        """Stop listening (the database is the caller's to close)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    # -- helpers (run inside a transaction) ----------------------------------

    @staticmethod
    def _lock_writers(conn: Any, count: int = 0) -> tuple[int, int]:
        """Take the writers' lock (held to commit) and ``count`` seqs: the last seq before
        them, and the count of partition drops so far."""
        last, drops = conn.execute(
            "UPDATE log_sequence SET last_seq = last_seq + %s WHERE id = 1 "
            "RETURNING last_seq, drops", (count,)).fetchone()
        return int(last) - count, int(drops)

    @staticmethod
    def _group_id(conn: Any, name: str) -> int:
        row = conn.execute("SELECT id FROM log_groups WHERE name = %s", (name,)).fetchone()
        if row is None:
            raise group_not_found()
        return int(row[0])

    @classmethod
    def _stream_id(cls, conn: Any, group: str, name: str) -> tuple[int, int]:
        group_id = cls._group_id(conn, group)
        row = conn.execute(
            "SELECT id FROM log_streams WHERE group_id = %s AND name = %s", (group_id, name)
        ).fetchone()
        if row is None:
            raise stream_not_found()
        return group_id, int(row[0])

    @staticmethod
    def _stream_ids(
        conn: Any, group_id: int, names: Sequence[str] | None, prefix: str | None
    ) -> dict[int, str]:
        sql = "SELECT id, name FROM log_streams WHERE group_id = %s"
        args: list[Any] = [group_id]
        if names is not None:
            names = [n for n in names if bindable(n)]
            if not names:
                return {}
            sql += " AND name = ANY(%s)"
            args.append(list(names))
        elif prefix:
            if not bindable(prefix):
                return {}
            sql += " AND name LIKE %s ESCAPE '\\'"
            args.append(_like_prefix(prefix))
        return {int(i): n for i, n in conn.execute(sql, args).fetchall()}

    @staticmethod
    def _ensure(conn: Any, group: str, name: str, now: int) -> tuple[int, int]:
        conn.execute(
            "INSERT INTO log_groups (name, creation_time) VALUES (%s, %s) "
            "ON CONFLICT (name) DO NOTHING", (group, now))
        (group_id,) = conn.execute(
            "SELECT id FROM log_groups WHERE name = %s", (group,)).fetchone()
        conn.execute(
            "INSERT INTO log_streams (group_id, name, creation_time) VALUES (%s, %s, %s) "
            "ON CONFLICT (group_id, name) DO NOTHING", (group_id, name, now))
        (stream_id,) = conn.execute(
            "SELECT id FROM log_streams WHERE group_id = %s AND name = %s",
            (group_id, name)).fetchone()
        return int(group_id), int(stream_id)

    # -- groups --------------------------------------------------------------

    def create_group(
        self,
        name: str,
        creation_time: int,
        *,
        kms_key_id: str | None = None,
        log_group_class: str = "STANDARD",
        deletion_protection: bool = False,
    ) -> GroupRecord:
        def run(conn: Any) -> GroupRecord:
            row = conn.execute(
                "INSERT INTO log_groups (name, creation_time, kms_key_id, log_group_class, "
                "deletion_protection) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (name) DO NOTHING RETURNING id",
                (name, creation_time, kms_key_id, log_group_class, deletion_protection),
            ).fetchone()
            if row is None:
                raise ResourceAlreadyExists(GROUP_EXISTS)
            return GroupRecord(
                name,
                creation_time,
                kms_key_id=kms_key_id,
                log_group_class=log_group_class,
                deletion_protection=deletion_protection,
            )

        return self.db.transaction(run)

    def get_group(self, name: str) -> GroupRecord | None:
        if not bindable(name):
            return None
        row = self.db.transaction(lambda c: c.execute(
            f"SELECT {_GROUP_COLS} FROM log_groups WHERE name = %s", (name,)).fetchone())
        return _group_record(row) if row else None

    def list_groups(
        self,
        *,
        prefix: str | None,
        contains: str | None,
        offset: int,
        limit: int,
        group_class: str | None = None,
    ) -> list[GroupRecord]:
        sql = f"SELECT {_GROUP_COLS} FROM log_groups"
        where: list[str] = []
        args: list[Any] = []
        if not bindable(prefix or "") or not bindable(contains or ""):
            return []
        if prefix:
            where.append("name LIKE %s ESCAPE '\\'")
            args.append(_like_prefix(prefix))
        elif contains:
            where.append("strpos(name, %s) > 0")
            args.append(contains)
        if group_class is not None:
            where.append("log_group_class = %s")
            args.append(group_class)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY name LIMIT %s OFFSET %s"
        args += [limit, offset]
        rows = self.db.transaction(lambda c: c.execute(sql, args).fetchall())
        return [_group_record(r) for r in rows]

    def delete_group(self, name: str) -> None:
        def run(conn: Any) -> None:
            self._lock_writers(conn)
            group_id = self._group_id(conn, name)
            conn.execute("DELETE FROM log_events WHERE group_id = %s", (group_id,))
            conn.execute("DELETE FROM log_groups WHERE id = %s", (group_id,))
            _notify(conn, name, None)

        self.db.transaction(run)

    def set_retention(self, name: str, days: int | None) -> None:
        def run(conn: Any) -> None:
            cur = conn.execute(
                "UPDATE log_groups SET retention_days = %s WHERE name = %s", (days, name))
            if cur.rowcount == 0:
                raise group_not_found()
            _notify(conn, name, None)

        self.db.transaction(run)

    # -- streams -------------------------------------------------------------

    def create_stream(self, group: str, name: str, creation_time: int) -> StreamRecord:
        def run(conn: Any) -> StreamRecord:
            group_id = self._group_id(conn, group)
            row = conn.execute(
                "INSERT INTO log_streams (group_id, name, creation_time) VALUES (%s, %s, %s) "
                "ON CONFLICT (group_id, name) DO NOTHING RETURNING id",
                (group_id, name, creation_time)).fetchone()
            if row is None:
                raise ResourceAlreadyExists(STREAM_EXISTS)
            return StreamRecord(name, creation_time)

        return self.db.transaction(run)

    def ensure_stream(self, group: str, name: str, creation_time: int) -> None:
        self.db.transaction(lambda conn: self._ensure(conn, group, name, creation_time))

    def get_stream(self, group: str, name: str) -> StreamRecord | None:
        def run(conn: Any) -> StreamRecord | None:
            group_id = self._group_id(conn, group)
            row = conn.execute(
                f"SELECT {_STREAM_COLS} FROM log_streams WHERE group_id = %s AND name = %s",
                (group_id, name)).fetchone()
            return StreamRecord(*row) if row else None

        return self.db.transaction(run)

    def list_streams(
        self,
        group: str,
        *,
        prefix: str | None,
        by_last_event: bool,
        descending: bool,
        offset: int,
        limit: int,
    ) -> list[StreamRecord]:
        def run(conn: Any) -> list[StreamRecord]:
            group_id = self._group_id(conn, group)
            sql = f"SELECT {_STREAM_COLS} FROM log_streams WHERE group_id = %s"
            args: list[Any] = [group_id]
            if prefix and not bindable(prefix):
                return []
            if prefix:
                sql += " AND name LIKE %s ESCAPE '\\'"
                args.append(_like_prefix(prefix))
            order = " DESC" if descending else ""
            if by_last_event:
                # SQLite sorts NULL (no event yet) below every time; PostgreSQL above.
                nulls = " NULLS LAST" if descending else " NULLS FIRST"
                sql += f" ORDER BY last_event_time{order}{nulls}, name{order}"
            else:
                sql += f" ORDER BY name{order}"
            sql += " LIMIT %s OFFSET %s"
            args += [limit, offset]
            return [StreamRecord(*r) for r in conn.execute(sql, args).fetchall()]

        return self.db.transaction(run)

    def delete_stream(self, group: str, name: str) -> None:
        def run(conn: Any) -> None:
            self._lock_writers(conn)
            group_id, stream_id = self._stream_id(conn, group, name)
            (removed,) = conn.execute(
                "DELETE FROM log_streams WHERE id = %s RETURNING stored_bytes",
                (stream_id,)).fetchone()
            conn.execute("DELETE FROM log_events WHERE group_id = %s AND stream_id = %s",
                         (group_id, stream_id))
            conn.execute(
                "UPDATE log_groups SET stored_bytes = stored_bytes - %s WHERE id = %s",
                (removed, group_id))
            _notify(conn, group, name)

        self.db.transaction(run)

    # -- events --------------------------------------------------------------

    def append(
        self, batches: Sequence[EventBatch], ingestion_time: int, *, create_missing: bool,
        gone: list[EventBatch] | None = None,
    ) -> int:  # fmt: skip
        # Everything but SQL is done before the writers' lock is taken.
        work = []
        days: set[int] = set()
        total = 0
        for batch in batches:
            if not batch.events:
                continue
            stamps, texts = _columns(batch.events)
            stamps, texts = list(stamps), list(texts)
            ingested = ingestion_time if batch.ingestion_time is None else batch.ingestion_time
            size = len("".join(texts).encode("utf-8"))
            days.update({ts // PARTITION_MS for ts in stamps})
            work.append((batch, stamps, texts, ingested, size))
            total += len(stamps)
        seen: list[int] = []
        left_out: list[EventBatch] = []

        def run(conn: Any) -> int:
            left_out.clear()
            # As durable as SQLite's WAL with synchronous=NORMAL (module docstring).
            conn.execute("SET LOCAL synchronous_commit = off")
            last, drops = self._lock_writers(conn, total)
            seen[:] = [drops]
            make_partitions(conn, days, self._days if drops == self._drops else set())
            ids: list[tuple[int, int] | None] = []
            for batch, *_ in work:
                if batch.must_exist:
                    # Under the writers' lock: a delete (which takes it too) either committed
                    # before this check or waits for this commit, then deletes these events.
                    row = conn.execute(
                        "SELECT g.id, s.id FROM log_groups g JOIN log_streams s "
                        "ON s.group_id = g.id WHERE g.name = %s AND s.name = %s",
                        (batch.group, batch.stream)).fetchone()
                    ids.append(None if row is None else (int(row[0]), int(row[1])))
                elif create_missing:
                    ids.append(self._ensure(conn, batch.group, batch.stream, ingestion_time))
                else:
                    ids.append(self._stream_id(conn, batch.group, batch.stream))
            sizes: dict[int, int] = defaultdict(int)
            for found, (batch, stamps, texts, ingested, size) in zip(ids, work, strict=True):
                if found is None:  # its seqs stay unused: the others' are as reserved
                    last += len(stamps)
                    left_out.append(batch)
                    continue
                group_id, stream_id = found
                with conn.cursor().copy(
                    "COPY log_events (timestamp, seq, message, raw, group_id, stream_id, "
                    "ingestion_time) FROM STDIN"
                ) as copy:
                    copy.write(_copy_rows(stamps, texts, last + 1,
                                          f"\t{group_id}\t{stream_id}\t{ingested}\n"))
                last += len(stamps)
                conn.execute(
                    "UPDATE log_streams SET "
                    "first_event_time = least(first_event_time, %(first)s), "
                    "last_event_time = greatest(last_event_time, %(last)s), "
                    "last_ingestion_time = %(ingested)s, stored_bytes = stored_bytes + %(size)s "
                    "WHERE id = %(id)s",
                    {"first": min(stamps), "last": max(stamps), "ingested": ingested,
                     "size": size, "id": stream_id})
                sizes[group_id] += size
            for group_id, size in sorted(sizes.items()):
                conn.execute(
                    "UPDATE log_groups SET stored_bytes = stored_bytes + %s WHERE id = %s",
                    (size, group_id))
            return last

        last = self.db.transaction(run)
        # Only once the partitions' creation committed.
        if seen[0] != self._drops:
            self._days, self._drops = set(), seen[0]
        self._days |= days
        if gone is not None:
            gone.extend(left_out)
        return last

    def read_stream(
        self,
        group: str,
        stream: str,
        *,
        start: int | None,
        end: int | None,
        after: Position | None,
        before: Position | None,
        limit: int,
        newest_first: bool,
    ) -> list[StoredEvent]:
        def run(conn: Any) -> list[StoredEvent]:
            _, stream_id = self._stream_id(conn, group, stream)
            sql = (
                "SELECT seq, %s::text, timestamp, ingestion_time, message, raw FROM log_events "
                "WHERE stream_id = %s")
            args: list[Any] = [stream, stream_id]
            lows = [start, None if after is None else after[0]]
            highs = [None if end is None else end - 1, None if before is None else before[0]]
            low = max((b for b in lows if b is not None), default=None)
            high = min((b for b in highs if b is not None), default=None)
            # Plain bounds on timestamp let the planner skip whole partitions.
            if low is not None:
                sql += " AND timestamp >= %s"
                args.append(low)
            if high is not None:
                sql += " AND timestamp <= %s"
                args.append(high)
            if after is not None:
                sql += " AND (timestamp, seq) > (%s, %s)"
                args += [after[0], after[1]]
            if before is not None:
                sql += " AND (timestamp, seq) < (%s, %s)"
                args += [before[0], before[1]]
            order = " DESC" if newest_first else ""
            sql += f" ORDER BY timestamp{order}, seq{order} LIMIT %s"
            args.append(limit)
            rows = [StoredEvent(r[0], r[1], r[2], r[3], _message(r[4], r[5]))
                    for r in conn.execute(sql, args).fetchall()]
            if newest_first:
                rows.reverse()
            return rows

        return self.db.transaction(run)

    def filter_events(
        self,
        group: str,
        *,
        stream_names: Sequence[str] | None,
        stream_prefix: str | None,
        start: int | None,
        end: int | None,
        after: Position | None,
        terms: Sequence[str],
        limit: int,
    ) -> list[StoredEvent]:
        def run(conn: Any) -> list[StoredEvent]:
            group_id = self._group_id(conn, group)
            streams = self._stream_ids(conn, group_id, stream_names, stream_prefix)
            if not streams:
                return []
            needles = [t for t in terms if t]  # an empty term is in every message
            if not all(bindable(t) for t in needles):
                return []
            lower = start
            if after is not None:
                lower = after[0] if lower is None else max(lower, after[0])
            sql = (
                "SELECT seq, stream_id, timestamp, ingestion_time, message, raw FROM log_events "
                "WHERE group_id = %s")
            args: list[Any] = [group_id]
            if stream_names is not None or stream_prefix:
                sql += " AND stream_id = ANY(%s)"
                args.append(list(streams))
            if after is not None:
                sql += " AND (timestamp, seq) > (%s, %s)"
                args += [after[0], after[1]]
            for needle in needles:
                # strpos is a case-sensitive substring test with no pattern characters.
                sql += " AND strpos(message, %s) > 0"
                args.append(needle)
            if not needles:
                # Every row matches: the (group, timestamp, seq) index yields the page.
                if lower is not None:
                    sql += " AND timestamp >= %s"
                    args.append(lower)
                if end is not None:
                    sql += " AND timestamp <= %s"
                    args.append(end)
                sql += " ORDER BY timestamp, seq LIMIT %s"
                rows = conn.execute(sql, [*args, limit]).fetchall()
            else:
                rows = self._scan_windows(conn, sql, args, list(streams), lower, end, limit)
            return [StoredEvent(r[0], streams[r[1]], r[2], r[3], _message(r[4], r[5]))
                    for r in rows]

        return self.db.transaction(run)

    @staticmethod
    def _scan_windows(conn: Any, sql: str, args: list[Any], stream_ids: list[int],
                      lower: int | None, end: int | None, limit: int) -> list[Any]:
        """A term filter's page, read window by window of time from ``lower``.

        Read in (timestamp, seq) order through the index, each row costs a heap visit (about
        0.9 us; 0.2 us in a sequential read), and a rare term means reading most rows. So each
        window is read as a bitmap scan (heap pages in order, matches sorted; a block range
        index on timestamp finds a window's pages for almost nothing), and each window is
        sized from the matches of the one before: a page reads a little more than the rows it
        needs, and a filter paged to the end reads the group about once.
        """
        first, last = conn.execute(
            "SELECT min(first_event_time), max(last_event_time) FROM log_streams "
            "WHERE id = ANY(%s)", (stream_ids,)).fetchone()
        if first is None:
            return []
        low = first if lower is None else max(lower, first)
        high = last if end is None else min(last, end)
        conn.execute("SET LOCAL enable_indexscan = off")
        sql += " AND timestamp >= %s AND timestamp < %s ORDER BY timestamp, seq LIMIT %s"
        rows: list[Any] = []
        width = _FIRST_WINDOW_MS
        while low <= high and len(rows) < limit:
            upper = min(low + width, high + 1)
            found = conn.execute(sql, [*args, low, upper, limit - len(rows)]).fetchall()
            rows += found
            # The next window: as wide as this one's matches say the rest of the page needs
            # (a quarter more), at least double when it found none, at most 16 times wider.
            span = upper - low
            wanted = span * 2
            if found:
                wanted = max(span, span * (limit - len(rows)) * 5 // (4 * len(found)))
            low, width = upper, min(wanted, span * 16) + 1
        return rows

    def events_since(
        self,
        group: str,
        after_seq: int,
        *,
        stream_names: Sequence[str] | None,
        stream_prefix: str | None,
        terms: Sequence[str],
        limit: int,
    ) -> list[StoredEvent]:
        def run(conn: Any) -> list[StoredEvent]:
            if not bindable(group):
                return []
            row = conn.execute("SELECT id FROM log_groups WHERE name = %s", (group,)).fetchone()
            if row is None:
                return []
            streams = self._stream_ids(conn, row[0], stream_names, stream_prefix)
            if not streams:
                return []
            sql = (
                "SELECT seq, stream_id, timestamp, ingestion_time, message, raw FROM log_events "
                "WHERE seq > %s AND group_id = %s")
            args: list[Any] = [after_seq, row[0]]
            if stream_names is not None or stream_prefix:
                sql += " AND stream_id = ANY(%s)"
                args.append(list(streams))
            for term in terms:
                if not bindable(term):
                    return []
                sql += " AND strpos(message, %s) > 0"
                args.append(term)
            sql += " ORDER BY seq LIMIT %s"
            args.append(limit)
            return [
                StoredEvent(r[0], streams[r[1]], r[2], r[3], _message(r[4], r[5]))
                for r in conn.execute(sql, args).fetchall()
            ]

        return self.db.transaction(run)

    def last_seq(self) -> int:
        row = self.db.transaction(
            lambda c: c.execute("SELECT last_seq FROM log_sequence").fetchone())
        return int(row[0])

    # -- retention -----------------------------------------------------------

    def sweep(self, now_ms: int, *, fence: int | None = None) -> tuple[int, int]:
        def run(conn: Any) -> tuple[int, int]:
            if fence is not None:
                fence_epoch(conn, fence)
            self._lock_writers(conn)
            groups = conn.execute(
                "SELECT id, retention_days FROM log_groups WHERE retention_days IS NOT NULL"
            ).fetchall()
            cutoffs = {int(g): now_ms - days * 86_400_000 for g, days in groups}
            # Sizes of what goes, per stream, before any of it is dropped.
            touched: dict[int, list[tuple[int, int, int]]] = {}
            for group_id, cutoff in cutoffs.items():
                rows = conn.execute(
                    "SELECT stream_id, count(*), "
                    "sum(coalesce(octet_length(raw), octet_length(message))) FROM log_events "
                    "WHERE group_id = %s AND timestamp < %s GROUP BY stream_id",
                    (group_id, cutoff)).fetchall()
                if rows:
                    touched[group_id] = [(int(s), int(n), int(b)) for s, n, b in rows]
            dropped = drop_expired_partitions(conn, cutoffs)
            events = 0
            for group_id, rows in touched.items():
                conn.execute("DELETE FROM log_events WHERE group_id = %s AND timestamp < %s",
                             (group_id, cutoffs[group_id]))
                for stream_id, count, size in rows:
                    events += count
                    conn.execute(
                        "UPDATE log_streams SET stored_bytes = stored_bytes - %(size)s, "
                        "first_event_time = (SELECT min(timestamp) FROM log_events "
                        "WHERE stream_id = %(id)s) WHERE id = %(id)s",
                        {"size": size, "id": stream_id})
                    conn.execute(
                        "UPDATE log_groups SET stored_bytes = stored_bytes - %s WHERE id = %s",
                        (size, group_id))
            streams = 0
            for group_id, cutoff in cutoffs.items():
                streams += conn.execute(
                    "DELETE FROM log_streams WHERE group_id = %s "
                    "AND coalesce(last_ingestion_time, creation_time) < %s "
                    "AND NOT EXISTS "
                    "(SELECT 1 FROM log_events e WHERE e.stream_id = log_streams.id)",
                    (group_id, cutoff)).rowcount
            if dropped:
                conn.execute("UPDATE log_sequence SET drops = drops + 1 WHERE id = 1")
            if streams:
                _notify(conn, None, None)
            return events, streams

        return self.db.transaction(run)
