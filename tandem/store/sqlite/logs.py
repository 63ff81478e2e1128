"""LogStore on SQLite: groups, streams and events in ``logs.db`` (one writer, many readers).

Events live in one table clustered by (group, timestamp, seq), so FilterLogEvents reads a
group in time order sequentially; an index on (stream, timestamp, seq) serves GetLogEvents
pages and one on seq serves live tail. ``seq`` comes from ``log_sequence``, so it is never
reused after a sweep. Filter terms run as
``instr()`` in SQL so only candidate rows reach Python.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence
from typing import Any

from tandem.errors import ResourceAlreadyExists
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

from .database import Database, Migration, bindable
from .log_blocks import (
    BLOCKS_MIGRATION,
    BlockWriter,
    backfill_blocks,
    delete_stream_from_blocks,
    search_blocks,
    sweep_blocks,
)

__all__ = ["SQLiteLogStore", "MIGRATIONS"]

MIGRATIONS: list[Migration] = [
    """
    CREATE TABLE log_groups (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        creation_time INTEGER NOT NULL,
        retention_days INTEGER,
        stored_bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE log_streams (
        id INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL REFERENCES log_groups(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        creation_time INTEGER NOT NULL,
        first_event_time INTEGER,
        last_event_time INTEGER,
        last_ingestion_time INTEGER,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        UNIQUE (group_id, name)
    );
    -- Clustered by (group, timestamp, seq): a group's events in time order are contiguous,
    -- so a FilterLogEvents scan reads pages sequentially instead of seeking per row.
    CREATE TABLE log_events (
        group_id INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        stream_id INTEGER NOT NULL,
        ingestion_time INTEGER NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (group_id, timestamp, seq)
    ) WITHOUT ROWID;
    CREATE INDEX log_events_by_stream ON log_events (stream_id, timestamp, seq);
    CREATE UNIQUE INDEX log_events_by_seq ON log_events (seq);
    -- The last seq given; kept apart from the events so a seq is never reused after deletes.
    CREATE TABLE log_sequence (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL);
    INSERT INTO log_sequence (id, last_seq) VALUES (1, 0);
    """,
    # Message blocks for term filters (log_blocks.py), built for the events already stored.
    lambda conn: _add_blocks(conn),
    # The options CreateLogGroup takes, shown again by DescribeLogGroups.
    """
    ALTER TABLE log_groups ADD COLUMN kms_key_id TEXT;
    ALTER TABLE log_groups ADD COLUMN log_group_class TEXT NOT NULL DEFAULT 'STANDARD';
    ALTER TABLE log_groups ADD COLUMN deletion_protection INTEGER NOT NULL DEFAULT 0;
    """,
]


def _add_blocks(conn: sqlite3.Connection) -> None:
    for statement in BLOCKS_MIGRATION.split(";"):
        if statement.strip():
            conn.execute(statement)
    backfill_blocks(conn)

_GROUP_COLS = (
    "name, creation_time, retention_days, stored_bytes, kms_key_id, log_group_class, "
    "deletion_protection"
)
_STREAM_COLS = (
    "name, creation_time, first_event_time, last_event_time, last_ingestion_time, stored_bytes"
)


def _group_record(row: Any) -> GroupRecord:
    name, created, retention, stored, kms_key_id, group_class, protection = row
    return GroupRecord(
        name, created, retention, stored, kms_key_id, group_class, bool(protection)
    )


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SQLiteLogStore:
    """The LogStore protocol on a ``Database`` (see tandem.telemetry.logs.store)."""

    def __init__(self, database: Database) -> None:
        self.db = database
        database.migrate("logs", MIGRATIONS)
        # One server owns a SQLite file: every writer of it is a handle in this process, so
        # changes are told in-process, once committed.
        self._watchers: list[TargetChange] = []

    def watch(self, callback: TargetChange) -> None:
        self._watchers.append(callback)

    def _changed(self, group: str | None, stream: str | None) -> None:
        for callback in list(self._watchers):
            callback(group, stream)

    # -- helpers (run inside a read or write transaction) -------------------

    @staticmethod
    def _group_id(conn: sqlite3.Connection, name: str) -> int:
        row = conn.execute("SELECT id FROM log_groups WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise group_not_found()
        return int(row[0])

    @classmethod
    def _stream_id(cls, conn: sqlite3.Connection, group: str, name: str) -> tuple[int, int]:
        group_id = cls._group_id(conn, group)
        row = conn.execute(
            "SELECT id FROM log_streams WHERE group_id = ? AND name = ?", (group_id, name)
        ).fetchone()
        if row is None:
            raise stream_not_found()
        return group_id, int(row[0])

    @staticmethod
    def _existing_stream(
        conn: sqlite3.Connection, group: str, name: str
    ) -> tuple[int, int] | None:
        row = conn.execute(
            "SELECT g.id, s.id FROM log_groups g JOIN log_streams s ON s.group_id = g.id "
            "WHERE g.name = ? AND s.name = ?", (group, name),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    @staticmethod
    def _stream_ids(
        conn: sqlite3.Connection,
        group_id: int,
        names: Sequence[str] | None,
        prefix: str | None,
    ) -> dict[int, str]:
        sql = "SELECT id, name FROM log_streams WHERE group_id = ?"
        args: list[Any] = [group_id]
        if names is not None:
            names = [n for n in names if bindable(n)]
            if not names:
                return {}
        elif prefix and not bindable(prefix):
            return {}
        if names is not None:
            sql += f" AND name IN ({','.join('?' * len(names))})"
            args += list(names)
        elif prefix:
            sql += " AND name LIKE ? ESCAPE '\\'"
            args.append(_like_prefix(prefix))
        return {int(i): n for i, n in conn.execute(sql, args)}

    @staticmethod
    def _dominant_span(
        conn: sqlite3.Connection, group_id: int, stream_id: int
    ) -> tuple[int, int] | None:
        """The stream's [first, last] event times when it holds at least 90% of its group's
        bytes (then its rows are most of the group's rows over that span), else None."""
        row = conn.execute(
            "SELECT s.first_event_time, s.last_event_time, s.stored_bytes, g.stored_bytes "
            "FROM log_streams s JOIN log_groups g ON g.id = s.group_id WHERE s.id = ?",
            (stream_id,),
        ).fetchone()
        first, last, stream_bytes, group_bytes = row
        if first is None or stream_bytes * 10 < group_bytes * 9:
            return None
        return int(first), int(last)

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
        def run(conn: sqlite3.Connection) -> GroupRecord:
            try:
                conn.execute(
                    "INSERT INTO log_groups (name, creation_time, kms_key_id, log_group_class, "
                    "deletion_protection) VALUES (?, ?, ?, ?, ?)",
                    (name, creation_time, kms_key_id, log_group_class, int(deletion_protection)),
                )
            except sqlite3.IntegrityError:
                raise ResourceAlreadyExists(GROUP_EXISTS) from None
            return GroupRecord(
                name,
                creation_time,
                kms_key_id=kms_key_id,
                log_group_class=log_group_class,
                deletion_protection=deletion_protection,
            )

        return self.db.write(run)

    def get_group(self, name: str) -> GroupRecord | None:
        row = self.db.read(
            lambda c: c.execute(
                f"SELECT {_GROUP_COLS} FROM log_groups WHERE name = ?", (name,)
            ).fetchone()
        )
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
            where.append("name LIKE ? ESCAPE '\\'")
            args.append(_like_prefix(prefix))
        elif contains:
            where.append("instr(name, ?) > 0")
            args.append(contains)
        if group_class is not None:
            where.append("log_group_class = ?")
            args.append(group_class)
        if where:
            sql += " WHERE " + " AND ".join(where)
        # BINARY collation is byte order, which is ASCII order for these names.
        sql += " ORDER BY name LIMIT ? OFFSET ?"
        args += [limit, offset]
        rows = self.db.read(lambda c: c.execute(sql, args).fetchall())
        return [_group_record(r) for r in rows]

    def delete_group(self, name: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            group_id = self._group_id(conn, name)
            conn.execute("DELETE FROM log_events WHERE group_id = ?", (group_id,))
            conn.execute("DELETE FROM log_blocks WHERE group_id = ?", (group_id,))
            conn.execute("DELETE FROM log_groups WHERE id = ?", (group_id,))

        self.db.write(run)
        self._changed(name, None)

    def set_retention(self, name: str, days: int | None) -> None:
        def run(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE log_groups SET retention_days = ? WHERE name = ?", (days, name)
            )
            if cur.rowcount == 0:
                raise group_not_found()

        self.db.write(run)
        self._changed(name, None)

    # -- streams -------------------------------------------------------------

    def create_stream(self, group: str, name: str, creation_time: int) -> StreamRecord:
        def run(conn: sqlite3.Connection) -> StreamRecord:
            group_id = self._group_id(conn, group)
            try:
                conn.execute(
                    "INSERT INTO log_streams (group_id, name, creation_time) VALUES (?, ?, ?)",
                    (group_id, name, creation_time),
                )
            except sqlite3.IntegrityError:
                raise ResourceAlreadyExists(STREAM_EXISTS) from None
            return StreamRecord(name, creation_time)

        return self.db.write(run)

    def ensure_stream(self, group: str, name: str, creation_time: int) -> None:
        self.db.write(lambda conn: self._ensure(conn, group, name, creation_time))

    @staticmethod
    def _ensure(conn: sqlite3.Connection, group: str, name: str, now: int) -> tuple[int, int]:
        conn.execute(
            "INSERT INTO log_groups (name, creation_time) VALUES (?, ?) "
            "ON CONFLICT(name) DO NOTHING",
            (group, now),
        )
        group_id = conn.execute("SELECT id FROM log_groups WHERE name = ?", (group,)).fetchone()[0]
        conn.execute(
            "INSERT INTO log_streams (group_id, name, creation_time) VALUES (?, ?, ?) "
            "ON CONFLICT(group_id, name) DO NOTHING",
            (group_id, name, now),
        )
        stream_id = conn.execute(
            "SELECT id FROM log_streams WHERE group_id = ? AND name = ?", (group_id, name)
        ).fetchone()[0]
        return int(group_id), int(stream_id)

    def get_stream(self, group: str, name: str) -> StreamRecord | None:
        def run(conn: sqlite3.Connection) -> StreamRecord | None:
            group_id = self._group_id(conn, group)
            row = conn.execute(
                f"SELECT {_STREAM_COLS} FROM log_streams WHERE group_id = ? AND name = ?",
                (group_id, name),
            ).fetchone()
            return StreamRecord(*row) if row else None

        return self.db.read(run)

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
        def run(conn: sqlite3.Connection) -> list[StreamRecord]:
            group_id = self._group_id(conn, group)
            sql = f"SELECT {_STREAM_COLS} FROM log_streams WHERE group_id = ?"
            args: list[Any] = [group_id]
            if prefix and not bindable(prefix):
                return []
            if prefix:
                sql += " AND name LIKE ? ESCAPE '\\'"
                args.append(_like_prefix(prefix))
            order = " DESC" if descending else ""
            if by_last_event:
                sql += f" ORDER BY last_event_time{order}, name{order}"
            else:
                sql += f" ORDER BY name{order}"
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
            return [StreamRecord(*r) for r in conn.execute(sql, args)]

        return self.db.read(run)

    def delete_stream(self, group: str, name: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            group_id, stream_id = self._stream_id(conn, group, name)
            removed = conn.execute(
                "SELECT stored_bytes FROM log_streams WHERE id = ?", (stream_id,)
            ).fetchone()[0]
            conn.execute("DELETE FROM log_events WHERE stream_id = ?", (stream_id,))
            delete_stream_from_blocks(conn, group_id, stream_id)
            conn.execute("DELETE FROM log_streams WHERE id = ?", (stream_id,))
            conn.execute(
                "UPDATE log_groups SET stored_bytes = stored_bytes - ? WHERE id = ?",
                (removed, group_id),
            )

        self.db.write(run)
        self._changed(group, name)

    # -- events --------------------------------------------------------------

    def append(
        self, batches: Sequence[EventBatch], ingestion_time: int, *, create_missing: bool,
        gone: list[EventBatch] | None = None,
    ) -> int:  # fmt: skip
        left_out: list[EventBatch] = []

        def run(conn: sqlite3.Connection) -> int:
            left_out.clear()  # a retried transaction starts again
            start = last = conn.execute("SELECT last_seq FROM log_sequence").fetchone()[0]
            blocks = BlockWriter()
            for batch in batches:
                if not batch.events:
                    continue
                if batch.must_exist:
                    found = self._existing_stream(conn, batch.group, batch.stream)
                    if found is None:
                        last += len(batch.events)
                        left_out.append(batch)
                        continue
                    group_id, stream_id = found
                elif create_missing:
                    group_id, stream_id = self._ensure(
                        conn, batch.group, batch.stream, ingestion_time
                    )
                else:
                    group_id, stream_id = self._stream_id(conn, batch.group, batch.stream)
                first_seq = last + 1
                ingested = ingestion_time if batch.ingestion_time is None else batch.ingestion_time
                stamps, texts = _columns(batch.events)
                repeat = itertools.repeat
                # The rows are zipped from the columns in C (a Python tuple per event was a
                # tenth of this thread's time per event).
                conn.executemany(
                    "INSERT INTO log_events (group_id, stream_id, timestamp, ingestion_time, "
                    "message, seq) VALUES (?, ?, ?, ?, ?, ?)",
                    zip(repeat(group_id), repeat(stream_id), stamps, repeat(ingested), texts,
                        itertools.count(first_seq)),
                )  # fmt: skip
                blocks.add(group_id, stream_id, ingested, first_seq, stamps, texts)
                last = first_seq + len(stamps) - 1
                size = len("".join(texts).encode("utf-8"))
                first_ts, last_ts = min(stamps), max(stamps)
                conn.execute(
                    "UPDATE log_streams SET "
                    "first_event_time = min(coalesce(first_event_time, ?1), ?1), "
                    "last_event_time = max(coalesce(last_event_time, ?2), ?2), "
                    "last_ingestion_time = ?3, stored_bytes = stored_bytes + ?4 WHERE id = ?5",
                    (first_ts, last_ts, ingested, size, stream_id),
                )
                conn.execute(
                    "UPDATE log_groups SET stored_bytes = stored_bytes + ? WHERE id = ?",
                    (size, group_id),
                )
            blocks.flush(conn)
            if last != start:
                conn.execute("UPDATE log_sequence SET last_seq = ?", (last,))
            return int(last)

        last = self.db.write(run)
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
        def run(conn: sqlite3.Connection) -> list[StoredEvent]:
            group_id, stream_id = self._stream_id(conn, group, stream)
            # The stream's name is bound as a column, so each row is StoredEvent's arguments.
            sql = (
                "SELECT seq, ?, timestamp, ingestion_time, message FROM log_events "
                "INDEXED BY log_events_by_stream WHERE stream_id = ?"
            )
            args: list[Any] = [stream, stream_id]
            lows = [start, None if after is None else after[0]]
            highs = [None if end is None else end - 1, None if before is None else before[0]]
            span = self._dominant_span(conn, group_id, stream_id)
            if span is not None:
                # The stream holds nearly all of its group's events: read the group's rows in
                # their stored (time) order over the stream's own time span and skip the few
                # of other streams, instead of one lookup per row through the stream index.
                sql = (
                    "SELECT seq, ?, timestamp, ingestion_time, message FROM log_events "
                    "NOT INDEXED WHERE group_id = ? AND stream_id = ?"
                )
                args = [stream, group_id, stream_id]
                lows.append(span[0])
                highs.append(span[1])
            # One bound each way, the tightest: given several, SQLite may start its range at a
            # looser one and walk every row up to the cursor.
            low = max((b for b in lows if b is not None), default=None)
            high = min((b for b in highs if b is not None), default=None)
            if low is not None:
                sql += " AND timestamp >= ?"
                args.append(low)
            if high is not None:
                sql += " AND timestamp <= ?"
                args.append(high)
            if after is not None:
                sql += " AND (timestamp, seq) > (?, ?)"
                args += [after[0], after[1]]
            if before is not None:
                sql += " AND (timestamp, seq) < (?, ?)"
                args += [before[0], before[1]]
            order = " DESC" if newest_first else ""
            sql += f" ORDER BY timestamp{order}, seq{order} LIMIT ?"
            args.append(limit)
            rows = list(itertools.starmap(StoredEvent, conn.execute(sql, args)))
            if newest_first:
                rows.reverse()
            return rows

        return self.db.read(run)

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
        def run(conn: sqlite3.Connection) -> list[StoredEvent]:
            group_id = self._group_id(conn, group)
            streams = self._stream_ids(conn, group_id, stream_names, stream_prefix)
            if not streams:
                return []
            lower = start
            if after is not None:
                lower = after[0] if lower is None else max(lower, after[0])
            needles = [t for t in terms if t]  # an empty term is in every message
            if needles:
                return search_blocks(
                    conn, group_id, needles, streams=streams, lower=lower, upper=end,
                    after=after, limit=limit,
                )
            sql = (
                "SELECT seq, stream_id, timestamp, ingestion_time, message FROM log_events "
                "WHERE group_id = ?"
            )
            args: list[Any] = [group_id]
            if stream_names is not None or stream_prefix:
                sql += f" AND stream_id IN ({','.join('?' * len(streams))})"
                args += list(streams)
            if after is not None:
                sql += " AND (timestamp, seq) > (?, ?)"
                args += [after[0], after[1]]
            if lower is not None:
                sql += " AND timestamp >= ?"
                args.append(lower)
            if end is not None:
                sql += " AND timestamp <= ?"
                args.append(end)
            sql += " ORDER BY timestamp, seq LIMIT ?"
            args.append(limit)
            return [
                StoredEvent(r[0], streams[r[1]], r[2], r[3], r[4])
                for r in conn.execute(sql, args)
            ]

        return self.db.read(run)

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
        def run(conn: sqlite3.Connection) -> list[StoredEvent]:
            row = conn.execute("SELECT id FROM log_groups WHERE name = ?", (group,)).fetchone()
            if row is None:
                return []
            streams = self._stream_ids(conn, row[0], stream_names, stream_prefix)
            if not streams:
                return []
            sql = (
                "SELECT seq, stream_id, timestamp, ingestion_time, message FROM log_events "
                "WHERE seq > ? AND group_id = ?"
            )
            args: list[Any] = [after_seq, row[0]]
            if stream_names is not None or stream_prefix:
                sql += f" AND stream_id IN ({','.join('?' * len(streams))})"
                args += list(streams)
            for term in terms:
                if not bindable(term):
                    return []
                sql += " AND instr(message, ?) > 0"
                args.append(term)
            sql += " ORDER BY seq LIMIT ?"
            args.append(limit)
            return [
                StoredEvent(r[0], streams[r[1]], r[2], r[3], r[4])
                for r in conn.execute(sql, args)
            ]

        return self.db.read(run)

    def last_seq(self) -> int:
        row = self.db.read(lambda c: c.execute("SELECT last_seq FROM log_sequence").fetchone())
        return int(row[0])

    # -- retention -----------------------------------------------------------

    def sweep(self, now_ms: int, *, fence: int | None = None) -> tuple[int, int]:
        # ``fence`` is not checked: one server owns a SQLite store and always leads.
        def run(conn: sqlite3.Connection) -> tuple[int, int]:
            events = streams = 0
            groups = conn.execute(
                "SELECT id, retention_days FROM log_groups WHERE retention_days IS NOT NULL"
            ).fetchall()
            for group_id, days in groups:
                cutoff = now_ms - days * 86_400_000
                touched = conn.execute(
                    "SELECT stream_id, count(*), sum(length(CAST(message AS BLOB))) "
                    "FROM log_events WHERE group_id = ? AND timestamp < ? GROUP BY stream_id",
                    (group_id, cutoff),
                ).fetchall()
                if touched:
                    conn.execute(
                        "DELETE FROM log_events WHERE group_id = ? AND timestamp < ?",
                        (group_id, cutoff),
                    )
                    sweep_blocks(conn, group_id, cutoff)
                for stream_id, count, size in touched:
                    events += count
                    conn.execute(
                        "UPDATE log_streams SET stored_bytes = stored_bytes - ?1, "
                        "first_event_time = (SELECT min(timestamp) FROM log_events "
                        "WHERE stream_id = ?2) WHERE id = ?2",
                        (size, stream_id),
                    )
                    conn.execute(
                        "UPDATE log_groups SET stored_bytes = stored_bytes - ? WHERE id = ?",
                        (size, group_id),
                    )
                streams += conn.execute(
                    "DELETE FROM log_streams WHERE group_id = ? "
                    "AND coalesce(last_ingestion_time, creation_time) < ? "
                    "AND NOT EXISTS "
                    "(SELECT 1 FROM log_events e WHERE e.stream_id = log_streams.id)",
                    (group_id, cutoff),
                ).rowcount
            return events, streams

        events, streams = self.db.write(run)
        if streams:
            self._changed(None, None)
        return events, streams


def _columns(events: Sequence[tuple[int, str]]) -> tuple[Sequence[int], Sequence[str]]:
    """A batch's timestamps and messages (an ``InputLogEvents`` already holds them)."""
    if isinstance(events, InputLogEvents):
        return events.timestamps, events.messages
    return [ts for ts, _ in events], [msg for _, msg in events]
