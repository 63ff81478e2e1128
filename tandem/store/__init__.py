"""Persistence behind narrow interfaces, each defined by the package that consumes it:
``serving.catalog.CatalogStore``, ``telemetry.metrics.store.MetricStore``,
``telemetry.logs.store.LogStore`` and ``telemetry.alarms.store.AlarmStore``. ``Store`` bundles
one of each."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..serving.catalog import CatalogStore
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

    def close(self) -> None: ...


def open_store(data_dir: str | Path) -> Store:
    """The default store: SQLite files under ``data_dir``."""
    from .sqlite import SQLiteStore

    return SQLiteStore(data_dir)
