"""Persistence behind narrow interfaces, each defined by the package that consumes it:
``serving.catalog.CatalogStore``, ``telemetry.metrics.store.MetricStore``,
``telemetry.logs.store.LogStore`` and ``telemetry.alarms.store.AlarmStore``. ``Store`` bundles
one of each, says how servers sharing it agree on a leader (``tandem.leadership``) and tells of
changes to the catalogue (``serving.catalog.CatalogFeed``)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..leadership import Leadership, LeadershipChange
from ..serving.catalog import CatalogFeed, CatalogStore
from ..telemetry.alarms.store import AlarmStore
from ..telemetry.logs.store import LogStore
from ..telemetry.metrics.store import MetricStore

__all__ = ["Store", "open_store"]


class Store(Protocol):
    @property
    def catalog(self) -> CatalogStore: ...
    @property
    def metrics(self) -> MetricStore: ...
    @property
    def logs(self) -> LogStore: ...
    @property
    def alarms(self) -> AlarmStore: ...

    def leadership(self, holder: str, on_change: LeadershipChange | None = None) -> Leadership:
        """How this server comes to lead the store (``holder`` names it to the others)."""
        ...

    def catalog_feed(self) -> CatalogFeed:
        """A new feed of the catalogue's changes, by any server sharing the store."""
        ...

    def close(self) -> None: ...


def open_store(data_dir: str | Path, url: str = "sqlite") -> Store:
    """SQLite files under ``data_dir`` (``sqlite``), or a PostgreSQL database (its URL)."""
    if url == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(data_dir)
    from .postgres import PostgresStore  # psycopg: only when asked (the postgres extra)

    return PostgresStore(url)
