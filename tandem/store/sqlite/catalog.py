"""CatalogStore on SQLite: one table of JSON documents keyed by (kind, name), and its feed of
changes: one server owns the file, so every write is made in this process and told to the
feed's listeners once committed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from ...serving.catalog import AlreadyExists, CatalogChange, CatalogChanged, VersionConflict
from .database import Database

__all__ = ["SQLiteCatalogStore", "SQLiteCatalogFeed"]

_Listener = Callable[[str, str], None]

_MIGRATIONS = [
    """
    CREATE TABLE documents (
        kind TEXT NOT NULL,
        name TEXT NOT NULL COLLATE NOCASE,
        seq INTEGER NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (kind, name)
    );
    """,
    "ALTER TABLE documents ADD COLUMN version INTEGER NOT NULL DEFAULT 1;",
]


class SQLiteCatalogStore:
    def __init__(self, database: Database) -> None:
        self._db = database
        database.migrate("catalog", _MIGRATIONS)
        self._listeners: list[_Listener] = []
        self._listeners_lock = threading.Lock()

    def subscribe(self, listener: _Listener) -> Callable[[], None]:
        """Call ``listener(kind, name)`` after each committed write (in the writer's thread);
        returns what unsubscribes it."""
        with self._listeners_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _changed(self, kind: str, name: str) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(kind, name)

    def put(
        self, kind: str, name: str, document: dict[str, Any], *, create: bool = False,
        expected_version: int | None = None, fence: int | None = None,
    ) -> int:  # fmt: skip
        # ``fence`` is not checked: one server uses a SQLite file, and it always leads.
        text = json.dumps(document, separators=(",", ":"))

        def write(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT version FROM documents WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            found = row[0] if row is not None else None
            if found is not None and create:
                raise AlreadyExists(f"{kind} {name} already exists")
            if expected_version is not None and found != expected_version:
                raise VersionConflict(kind, name, expected_version, found)
            if found is not None:
                conn.execute(
                    "UPDATE documents SET name = ?, document = ?, version = version + 1 "
                    "WHERE kind = ? AND name = ?",
                    (name, text, kind, name),
                )
                return int(found) + 1
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM documents").fetchone()[0]
            conn.execute(
                "INSERT INTO documents (kind, name, seq, document, version) "
                "VALUES (?, ?, ?, ?, 1)",
                (kind, name, seq, text),
            )
            return 1

        version: int = self._db.write(write)
        self._changed(kind, name)
        return version

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self.get_versioned(kind, name)
        return found[0] if found is not None else None

    def get_versioned(self, kind: str, name: str) -> tuple[dict[str, Any], int] | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT document, version FROM documents WHERE kind = ? AND name = ?",
                (kind, name),
            ).fetchone()
        )
        return (json.loads(row[0]), int(row[1])) if row else None

    def list(self, kind: str) -> list[dict[str, Any]]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT document FROM documents WHERE kind = ? ORDER BY seq", (kind,)
            ).fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    def delete(self, kind: str, name: str, *, fence: int | None = None) -> bool:
        gone: bool = self._db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM documents WHERE kind = ? AND name = ?", (kind, name)
                ).rowcount
                > 0
            )
        )
        if gone:
            self._changed(kind, name)
        return gone


class SQLiteCatalogFeed:
    """The catalogue's changes, handed to the event loop the feed was started on."""

    def __init__(self, catalog: SQLiteCatalogStore) -> None:
        self._catalog = catalog
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self, on_change: CatalogChanged) -> None:
        loop = asyncio.get_running_loop()

        def listener(kind: str, name: str) -> None:
            # Never raises into the write that was committed: a closed loop has no one to tell.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(on_change, CatalogChange(kind, name))

        self._unsubscribe = self._catalog.subscribe(listener)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
