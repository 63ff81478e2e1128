"""CatalogStore on SQLite: one table of JSON documents keyed by (kind, name)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ...serving.catalog import AlreadyExists, VersionConflict
from .database import Database

__all__ = ["SQLiteCatalogStore"]

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

        return self._db.write(write)

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
        return self._db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM documents WHERE kind = ? AND name = ?", (kind, name)
                ).rowcount
                > 0
            )
        )
