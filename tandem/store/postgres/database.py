"""One PostgreSQL database behind a small connection pool, and its versioned schema.

Pools stay small: N servers x ``max_size`` must stay under the server's ``max_connections``
(100 by default). Migrations are applied by whichever server starts first, under a
transaction-scoped advisory lock, so servers starting together never apply one twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ...errors import StoreUnavailable

__all__ = ["PostgresDatabase", "redact"]

T = TypeVar("T")
# A step is SQL text (one or more statements) or a function given the connection.
Migration = str | Callable[[Any], None]


def redact(dsn: str) -> str:
    """The DSN with its password replaced, for messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


# One lock for every component's migrations (a stable signed 64-bit key): the first one also
# creates schema_version, which two components migrating at once would race to create.
_SCHEMA_LOCK = int.from_bytes(
    hashlib.blake2b(b"tandem-schema", digest_size=8).digest(), "big", signed=True)


class PostgresDatabase:
    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 4,
                 connect_timeout: float = 10.0) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.dsn = dsn
        self._errors = (psycopg.OperationalError, psycopg.InterfaceError)
        # One connection first: a store that does not answer is named at once (the pool
        # would retry quietly until its timeout).
        try:
            psycopg.connect(dsn, connect_timeout=max(1, int(connect_timeout))).close()
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise StoreUnavailable(
                f"PostgreSQL at {redact(dsn)} did not answer: {reason}") from None
        self._pool = ConnectionPool(
            dsn, min_size=min_size, max_size=max_size, open=False, name="tandem",
            kwargs={"application_name": "tandem", "connect_timeout": int(connect_timeout)},
        )  # fmt: skip
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except Exception as exc:  # noqa: BLE001 - PoolTimeout, OperationalError: all "no store"
            self._pool.close()
            raise StoreUnavailable(
                f"PostgreSQL at {redact(dsn)} did not answer: {exc}") from None

    def transaction(self, fn: Callable[[Any], T]) -> T:
        """``fn(connection)`` in one transaction: committed when it returns, rolled back when
        it raises."""
        try:
            with self._pool.connection() as conn:
                with conn.transaction():
                    return fn(conn)
        except self._errors as exc:
            raise StoreUnavailable(
                f"PostgreSQL at {redact(self.dsn)} failed: {exc}") from None

    def migrate(self, component: str, migrations: Sequence[Migration]) -> int:
        """Bring ``component``'s schema up to ``len(migrations)`` (append-only steps, as on
        SQLite); returns the version now in force."""

        def run(conn: Any) -> int:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            row = conn.execute(
                "SELECT version FROM schema_version WHERE component = %s", (component,)
            ).fetchone()
            current = row[0] if row else 0
            if current > len(migrations):
                raise StoreUnavailable(
                    f"PostgreSQL at {redact(self.dsn)}: schema of {component!r} is version "
                    f"{current}, newer than this tandem knows ({len(migrations)}); upgrade tandem")
            for version in range(current + 1, len(migrations) + 1):
                step = migrations[version - 1]
                if callable(step):
                    step(conn)
                else:
                    conn.execute(step)
                conn.execute(
                    "INSERT INTO schema_version (component, version) VALUES (%s, %s) "
                    "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                    (component, version))
            return len(migrations)

        return self.transaction(run)

    def close(self) -> None:
        self._pool.close()
