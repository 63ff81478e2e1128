"""The shared store on PostgreSQL, for several tandem servers on one database
(docs/scale-out.md). Imported only when a ``postgresql://`` store is asked for: psycopg is the
optional extra ``tandem[postgres]``. ``PostgresStore`` bundles the four stores on one small
pool; leadership and the catalogue's feed each hold a session of their own."""

from __future__ import annotations

from ...leadership import LeadershipChange
from .alarms import PostgresAlarmStore
from .catalog import PostgresCatalogStore
from .catalog_feed import PostgresCatalogFeed
from .database import PostgresDatabase, redact
from .leadership import PostgresLeadership
from .logs import PostgresLogStore
from .metrics import PostgresMetricStore

__all__ = [
    "PostgresAlarmStore",
    "PostgresCatalogFeed",
    "PostgresCatalogStore",
    "PostgresDatabase",
    "PostgresLogStore",
    "PostgresMetricStore",
    "PostgresStore",
    "redact",
]

# Per server: N servers x (this + 1 leadership session + 1 logs listening session + 1
# catalogue feed session) must stay under max_connections.
POOL_SIZE = 8


class PostgresStore:
    def __init__(self, url: str) -> None:
        self.database = PostgresDatabase(url, max_size=POOL_SIZE)
        try:
            self.catalog = PostgresCatalogStore(self.database)
            self.alarms = PostgresAlarmStore(self.database)
            self.metrics = PostgresMetricStore(self.database)
            self.logs = PostgresLogStore(self.database)
        except BaseException:
            self.database.close()
            raise

    def leadership(self, holder: str, on_change: LeadershipChange | None = None
                   ) -> PostgresLeadership:  # fmt: skip
        return PostgresLeadership(self.database, holder=holder, on_change=on_change)

    def catalog_feed(self) -> PostgresCatalogFeed:
        return PostgresCatalogFeed(self.database.dsn)

    def close(self) -> None:
        self.logs.close()
        self.database.close()
