"""The leader's catalogue writes carry its epoch (``FencedCatalog``): on PostgreSQL a deposed
leader's late write is refused with StaleLeader and leaves what its successor wrote; on SQLite
the one server always leads and fencing checks nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tandem.leadership import StaleLeader
from tandem.serving.catalog import FencedCatalog
from tandem.serving.instance_records import INSTANCE, InstanceRecord
from tandem.store.sqlite.catalog import SQLiteCatalogStore
from tandem.store.sqlite.database import Database
from tests.postgres import empty_tables
from tests.waiting import wait_until_async

PENDING = InstanceRecord("i-0123456789abcdef0", "ep", "AllTraffic", "cfg")


def test_on_sqlite_fenced_writes_land_whatever_the_epoch(tmp_path: Path) -> None:
    database = Database(tmp_path / "catalog.db")
    try:
        catalog = SQLiteCatalogStore(database)
        for epoch in (1, 0, 7):
            fenced = FencedCatalog(catalog, lambda epoch=epoch: epoch)  # type: ignore[misc]
            fenced.put(INSTANCE, PENDING.instance_id, PENDING.document())
        assert catalog.get_versioned(INSTANCE, PENDING.instance_id) == (PENDING.document(), 3)
        assert FencedCatalog(catalog, lambda: 0).delete(INSTANCE, PENDING.instance_id)
    finally:
        database.close()


class _Server:
    """What a server holds: its pool, its catalogue and its campaign for the lead."""

    def __init__(self, dsn: str, holder: str) -> None:
        from tandem.store.postgres import PostgresCatalogStore, PostgresDatabase
        from tandem.store.postgres.leadership import PostgresLeadership

        self.holder = holder
        self.database = PostgresDatabase(dsn, max_size=2)
        self.catalog = PostgresCatalogStore(self.database)
        self.leadership = PostgresLeadership(self.database, holder=holder, poll_interval=0.1)
        self.fenced = FencedCatalog(self.catalog, lambda: self.leadership.epoch)

    async def close(self) -> None:
        await self.leadership.stop()
        self.database.close()


async def test_a_deposed_leaders_late_write_is_refused_and_leaves_its_successors(
    postgres_database: str,
) -> None:
    empty_tables(postgres_database)
    a, b = _Server(postgres_database, "a"), _Server(postgres_database, "b")
    try:
        await a.leadership.start()
        await wait_until_async(lambda: a.leadership.leading, "a leads")
        await b.leadership.start()
        epoch_a = a.leadership.epoch
        a.fenced.put(INSTANCE, PENDING.instance_id, PENDING.document())  # a leads: it lands
        # What a keeps writing under the epoch it led with, not yet knowing it lost the lead.
        late_a = FencedCatalog(a.catalog, lambda: epoch_a)

        with psycopg.connect(postgres_database, autocommit=True) as conn:  # a's session dies
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'tandem leader a' "
                         "AND datname = current_database()")
        await wait_until_async(lambda: b.leadership.leading, "b leads", timeout=5.0)
        assert (epoch_a, b.leadership.epoch) == (1, 2)
        ready = PENDING.ready("10.0.0.2", {"c1": 8080})
        b.fenced.put(INSTANCE, PENDING.instance_id, ready.document())

        stale = InstanceRecord(PENDING.instance_id, "ep", "AllTraffic", "old-cfg")
        with pytest.raises(StaleLeader, match="^this server led under epoch 1; the leader's "
                                              "epoch is now 2$"):
            late_a.put(INSTANCE, PENDING.instance_id, stale.document())
        with pytest.raises(StaleLeader):
            late_a.delete(INSTANCE, PENDING.instance_id)
        # Once a noticed, it writes under epoch 0: refused all the same.
        await wait_until_async(lambda: not a.leadership.leading, "a steps down")
        with pytest.raises(StaleLeader, match="under epoch 0"):
            a.fenced.put(INSTANCE, PENDING.instance_id, stale.document())
        assert b.catalog.get_versioned(INSTANCE, PENDING.instance_id) == (ready.document(), 2)
        # Writes that are no leader's (control-plane calls any server takes) are not fenced.
        a.catalog.put("endpoint", "ep", {"EndpointName": "ep"})
    finally:
        await a.close()
        await b.close()
