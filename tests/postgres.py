"""A PostgreSQL database of its own for a test run: created on the server the tests are given
(``TANDEM_TEST_POSTGRES``, default the role scripts/setup-test-tools makes on 127.0.0.1:5432)
and dropped at the end."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from tests.tools import Tool

__all__ = ["POSTGRES", "ADMIN_DSN", "scratch_database", "empty_tables"]

ADMIN_DSN = os.environ.get(
    "TANDEM_TEST_POSTGRES", "postgresql://tandem_test:tandem_test@127.0.0.1:5432/postgres")


def _answers() -> str | None:
    try:
        import psycopg
    except ImportError:
        return None
    try:
        with psycopg.connect(ADMIN_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return None
    return ADMIN_DSN


POSTGRES = Tool(
    f"PostgreSQL at {urlsplit(ADMIN_DSN).hostname}:{urlsplit(ADMIN_DSN).port} "
    f"(role {urlsplit(ADMIN_DSN).username}; TANDEM_TEST_POSTGRES)",
    "scripts/setup-test-tools installs and starts Debian's postgresql and makes the role",
    _answers)


@contextmanager
def scratch_database(admin_dsn: str = ADMIN_DSN, prefix: str = "tandem_test") -> Iterator[str]:
    """The DSN of a new, empty database, made through ``admin_dsn``'s role and dropped (with
    its connections) afterwards."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(dsn: str) -> None:
    """Every table of the database emptied, schema versions kept: a test's fresh start on a
    database its module shares."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'schema_version'").fetchall()]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
