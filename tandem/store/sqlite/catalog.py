"""CatalogStore on SQLite: one table of JSON documents keyed by (kind, name)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ...serving.catalog import AlreadyExists
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
]


class SQLiteCatalogStore:
    def __init__(self, database: Database) -> None:
        self._db = database
        database.migrate("catalog", _MIGRATIONS)

    def put(self, kind: str, name: str, document: dict[str, Any], *, create: bool = False) -> None:
        text = json.dumps(document, separators=(",", ":"))

        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT seq FROM documents WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            if row is not None:
                if create:
                    raise AlreadyExists(f"{kind} {name} already exists")
                conn.execute(
                    "UPDATE documents SET name = ?, document = ? WHERE kind = ? AND name = ?",
                    (name, text, kind, name),
                )
                return
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM documents").fetchone()[0]
            conn.execute(
                "INSERT INTO documents (kind, name, seq, document) VALUES (?, ?, ?, ?)",
                (kind, name, seq, text),
            )

        self._db.write(write)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT document FROM documents WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
        )
        return json.loads(row[0]) if row else None

    def list(self, kind: str) -> list[dict[str, Any]]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT document FROM documents WHERE kind = ? ORDER BY seq", (kind,)
            ).fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    def delete(self, kind: str, name: str) -> bool:
        return self._db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM documents WHERE kind = ? AND name = ?", (kind, name)
                ).rowcount
                > 0
            )
        )
