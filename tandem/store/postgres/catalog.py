"""CatalogStore on PostgreSQL: the SQLite catalogue's contract, for servers sharing a database.

Names are unique per kind case-insensitively (a generated ``lower(name)`` key; SageMaker names
are ASCII) and keep their case. Creation order is an identity column. Every write is one
statement, so compare-and-set is the database's row lock, not a read then a write; each write
also sends ``NOTIFY tandem_catalog`` with the kind and name, for servers that route from a
snapshot of the catalogue. A write given a ``fence`` first checks, in its own transaction,
that the epoch is still the leader's (``leadership.fence``).
"""

from __future__ import annotations

import json
from typing import Any

from ...serving.catalog import AlreadyExists, VersionConflict
from .database import PostgresDatabase
from .leadership import fence as fence_epoch

__all__ = ["PostgresCatalogStore", "CHANNEL"]

CHANNEL = "tandem_catalog"

_MIGRATIONS = [
    """
    CREATE TABLE catalog_documents (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        name_key TEXT GENERATED ALWAYS AS (lower(name)) STORED,
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        version BIGINT NOT NULL,
        document JSON NOT NULL,
        PRIMARY KEY (kind, name_key)
    );
    CREATE INDEX catalog_documents_order ON catalog_documents (kind, seq);
    """,
]


class PostgresCatalogStore:
    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database
        database.migrate("catalog", _MIGRATIONS)

    def put(
        self, kind: str, name: str, document: dict[str, Any], *, create: bool = False,
        expected_version: int | None = None, fence: int | None = None,
    ) -> int:  # fmt: skip
        text = json.dumps(document, separators=(",", ":"))

        def write(conn: Any) -> int:
            if fence is not None:
                fence_epoch(conn, fence)
            if expected_version is not None:
                row = conn.execute(
                    "UPDATE catalog_documents SET name = %s, document = %s::json, "
                    "version = version + 1 WHERE kind = %s AND name_key = lower(%s) "
                    "AND version = %s RETURNING version",
                    (name, text, kind, name, expected_version)).fetchone()
                if row is None:
                    found = conn.execute(
                        "SELECT version FROM catalog_documents "
                        "WHERE kind = %s AND name_key = lower(%s)", (kind, name)).fetchone()
                    if found is not None and create:
                        raise AlreadyExists(f"{kind} {name} already exists")
                    raise VersionConflict(kind, name, expected_version,
                                          int(found[0]) if found else None)
                if create:  # it existed: the update above must not stand
                    raise AlreadyExists(f"{kind} {name} already exists")
            elif create:
                row = conn.execute(
                    "INSERT INTO catalog_documents (kind, name, version, document) "
                    "VALUES (%s, %s, 1, %s::json) ON CONFLICT (kind, name_key) DO NOTHING "
                    "RETURNING version", (kind, name, text)).fetchone()
                if row is None:
                    raise AlreadyExists(f"{kind} {name} already exists")
            else:
                row = conn.execute(
                    "INSERT INTO catalog_documents (kind, name, version, document) "
                    "VALUES (%s, %s, 1, %s::json) ON CONFLICT (kind, name_key) DO UPDATE "
                    "SET name = excluded.name, document = excluded.document, "
                    "version = catalog_documents.version + 1 RETURNING version",
                    (kind, name, text)).fetchone()
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{kind}/{name}"))
            return int(row[0])

        return self._db.transaction(write)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self.get_versioned(kind, name)
        return found[0] if found is not None else None

    def get_versioned(self, kind: str, name: str) -> tuple[dict[str, Any], int] | None:
        row = self._db.transaction(lambda c: c.execute(
            "SELECT document, version FROM catalog_documents "
            "WHERE kind = %s AND name_key = lower(%s)", (kind, name)).fetchone())
        return (row[0], int(row[1])) if row else None

    def list(self, kind: str) -> list[dict[str, Any]]:
        rows = self._db.transaction(lambda c: c.execute(
            "SELECT document FROM catalog_documents WHERE kind = %s ORDER BY seq",
            (kind,)).fetchall())
        return [r[0] for r in rows]

    def delete(self, kind: str, name: str, *, fence: int | None = None) -> bool:
        def remove(conn: Any) -> bool:
            if fence is not None:
                fence_epoch(conn, fence)
            gone = conn.execute(
                "DELETE FROM catalog_documents WHERE kind = %s AND name_key = lower(%s)",
                (kind, name)).rowcount > 0
            if gone:
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{kind}/{name}"))
            return bool(gone)

        return self._db.transaction(remove)
