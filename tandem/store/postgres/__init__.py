"""The shared store on PostgreSQL, for several tandem servers on one database
(docs/scale-out.md). Imported only when a ``postgresql://`` store is asked for: psycopg is the
optional extra ``tandem[postgres]``."""

from __future__ import annotations

from .alarms import PostgresAlarmStore
from .catalog import PostgresCatalogStore
from .database import PostgresDatabase, redact
from .logs import PostgresLogStore
from .metrics import PostgresMetricStore

__all__ = [
    "PostgresAlarmStore",
    "PostgresCatalogStore",
    "PostgresDatabase",
    "PostgresLogStore",
    "PostgresMetricStore",
    "redact",
]
