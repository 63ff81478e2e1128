"""Fixtures for the logs tests: a real SQLite store in a tmp dir and a started LogService."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tandem.clock import ManualClock
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.telemetry.logs import LogService

NOW = 1_700_000_000.0  # ManualClock's default, in seconds
NOW_MS = int(NOW * 1000)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "logs.db")
    yield db
    db.close()


@pytest.fixture
def log_store(database: Database) -> SQLiteLogStore:
    return SQLiteLogStore(database)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def logs(log_store: SQLiteLogStore, clock: ManualClock) -> AsyncIterator[LogService]:
    service = LogService(log_store, clock=clock, flush_interval=0.05, sweep_interval=None)
    await service.start()
    yield service
    await service.stop()
