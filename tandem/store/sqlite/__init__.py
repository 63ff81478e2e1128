"""The SQLite store: one data directory, one database file (and one writer) per component."""

from __future__ import annotations

from pathlib import Path

from ...leadership import LeadershipChange, SoleLeader
from .alarms import SQLiteAlarmStore
from .catalog import SQLiteCatalogFeed, SQLiteCatalogStore
from .database import Database
from .logs import SQLiteLogStore
from .metrics import SQLiteMetricStore

__all__ = [
    "SQLiteStore",
    "Database",
    "SQLiteCatalogFeed",
    "SQLiteCatalogStore",
    "SQLiteAlarmStore",
    "SQLiteLogStore",
    "SQLiteMetricStore",
]


class SQLiteStore:
    """``catalog.db``, ``metrics.db`` and ``logs.db`` under ``data_dir``."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._databases = [
            Database(self.data_dir / "catalog.db"),
            Database(self.data_dir / "metrics.db"),
            # 16 KiB pages: a 128 KiB message block spans 8 pages, not 32.
            Database(self.data_dir / "logs.db", page_size=16384),
        ]
        catalog_db, metrics_db, logs_db = self._databases
        self.catalog = SQLiteCatalogStore(catalog_db)
        self.alarms = SQLiteAlarmStore(catalog_db)
        self.metrics = SQLiteMetricStore(metrics_db)
        self.logs = SQLiteLogStore(logs_db)

    def leadership(self, holder: str, on_change: LeadershipChange | None = None) -> SoleLeader:
        # One server owns these files: it always leads.
        return SoleLeader(on_change)

    def catalog_feed(self) -> SQLiteCatalogFeed:
        return SQLiteCatalogFeed(self.catalog)

    def close(self) -> None:
        for database in self._databases:
            database.close()
