"""The catalogue's change feed: every committed write, told on the event loop; on PostgreSQL
from any server's connection, and after a lost connection a None (reread everything) once it
is back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.serving.catalog import CatalogChange
from tandem.store.sqlite.catalog import SQLiteCatalogFeed, SQLiteCatalogStore
from tandem.store.sqlite.database import Database
from tests.postgres import empty_tables


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> Iterator[SQLiteCatalogStore]:
    database = Database(tmp_path / "catalog.db")
    yield SQLiteCatalogStore(database)
    database.close()


async def _next(queue: asyncio.Queue[CatalogChange | None]) -> CatalogChange | None:
    return await asyncio.wait_for(queue.get(), timeout=5)


async def test_sqlite_feed_tells_each_committed_write_on_the_loop(
    sqlite_catalog: SQLiteCatalogStore,
) -> None:
    loop = asyncio.get_running_loop()
    seen: asyncio.Queue[CatalogChange | None] = asyncio.Queue()

    def on_change(change: CatalogChange | None) -> None:
        assert asyncio.get_running_loop() is loop
        seen.put_nowait(change)

    feed = SQLiteCatalogFeed(sqlite_catalog)
    await feed.start(on_change)
    await asyncio.to_thread(sqlite_catalog.put, "endpoint", "Ep", {"name": "Ep"})
    assert await _next(seen) == CatalogChange("endpoint", "Ep")
    assert not await asyncio.to_thread(sqlite_catalog.delete, "model", "absent")
    await asyncio.to_thread(sqlite_catalog.delete, "endpoint", "Ep")
    assert await _next(seen) == CatalogChange("endpoint", "Ep")  # the failed delete said nothing
    await feed.stop()
    await asyncio.to_thread(sqlite_catalog.put, "endpoint", "Ep", {"name": "Ep"})
    await asyncio.sleep(0.05)
    assert seen.empty()


async def test_postgres_feed_tells_writes_of_another_server_and_heals_a_killed_session(
    postgres_database: str,
) -> None:
    import psycopg

    from tandem.store.postgres import PostgresCatalogFeed, PostgresCatalogStore, PostgresDatabase

    empty_tables(postgres_database)
    other = PostgresDatabase(postgres_database, max_size=2)
    try:
        catalog = PostgresCatalogStore(other)
        seen: asyncio.Queue[CatalogChange | None] = asyncio.Queue()
        feed = PostgresCatalogFeed(postgres_database, application_name="tandem feed under test")
        await feed.start(seen.put_nowait)
        assert await _next(seen) is None  # listening: reread what came before
        await asyncio.to_thread(catalog.put, "endpoint-instance", "i-1", {"x": 1})
        assert await _next(seen) == CatalogChange("endpoint-instance", "i-1")
        await asyncio.to_thread(catalog.delete, "endpoint-instance", "i-1")
        assert await _next(seen) == CatalogChange("endpoint-instance", "i-1")

        with psycopg.connect(postgres_database, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'tandem feed under test' "
                "AND datname = current_database()").fetchone()
        assert killed == (1,)
        assert await _next(seen) is None  # back: whatever was missed must be reread
        await asyncio.to_thread(catalog.put, "model", "M", {"x": 2})
        assert await _next(seen) == CatalogChange("model", "M")
        await feed.stop()
        assert not feed.listening.is_set()
    finally:
        other.close()
