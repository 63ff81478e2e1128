"""Leadership over PostgreSQL: a session-level advisory lock held by a dedicated connection.

Every candidate tries ``pg_try_advisory_lock`` every ``poll_interval``; the one that gets it
bumps the epoch row and leads while its session lives. PostgreSQL releases the lock when the
session ends: the leader's process exits or is killed (the socket closes), its connection is
terminated, or TCP keepalives give the peer up (a partition; about ``keepalive`` seconds). The
leader pings its own session each poll and steps down at the first failure, so it knows it lost
the lock about when the others can take it. Between the two, writes are fenced by epoch
(``fence``): the store refuses a leader write whose epoch is not the row's.

The row also holds the URL the leader advertised once bound (``url``; '' from the epoch's bump
until then). A candidate that does not get the lock reads the row at the same poll, so its
``lead`` is at most one poll old: what a standby forwards by.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
from typing import Any

from ...leadership import Lead, LeadershipChange, StaleLeader
from .database import PostgresDatabase, redact

__all__ = ["PostgresLeadership", "fence"]

_log = logging.getLogger(__name__)

_LOCK = int.from_bytes(hashlib.blake2b(b"tandem-leader", digest_size=8).digest(), "big",
                       signed=True)

_MIGRATIONS = [
    """
    CREATE TABLE leader (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        epoch BIGINT NOT NULL,
        holder TEXT NOT NULL,
        since TIMESTAMPTZ NOT NULL
    );
    INSERT INTO leader (id, epoch, holder, since) VALUES (1, 0, '', now());
    """,
    # Where the leader is reached: standbys forward the calls they do not serve to it.
    "ALTER TABLE leader ADD COLUMN url TEXT NOT NULL DEFAULT ''",
]

_READ_LEAD = "SELECT epoch, holder, url FROM leader WHERE id = 1"


def fence(conn: Any, epoch: int) -> None:
    """In a leader's write transaction: raise StaleLeader unless ``epoch`` is still the
    current one. It takes the row's share lock, so a new leader's epoch bump waits for this
    transaction and cannot slip in between the check and the commit."""
    row = conn.execute("SELECT epoch FROM leader WHERE id = 1 FOR SHARE").fetchone()
    current = int(row[0]) if row else 0
    if current != epoch:
        raise StaleLeader(f"this server led under epoch {epoch}; the leader's epoch is now "
                          f"{current}")


class PostgresLeadership:
    def __init__(
        self, database: PostgresDatabase, *, holder: str,
        on_change: LeadershipChange | None = None, poll_interval: float = 0.5,
        keepalive: float = 4.0,
    ) -> None:  # fmt: skip
        self._db = database
        database.migrate("leader", _MIGRATIONS)
        self.holder = holder
        self._on_change = on_change
        self._poll = poll_interval
        self._keepalive = keepalive
        self._epoch = 0
        self._lead = Lead()
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self._epoch > 0

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def lead(self) -> Lead:
        return self._lead

    async def read_lead(self) -> Lead:
        def read(conn: Any) -> Lead:
            row = conn.execute(_READ_LEAD).fetchone()
            return Lead(int(row[0]), row[1], row[2]) if row else Lead()

        self._lead = await asyncio.to_thread(self._db.transaction, read)
        return self._lead

    async def advertise(self, url: str) -> None:
        epoch = self._epoch
        if not epoch:
            return

        def record(conn: Any) -> bool:
            cursor = conn.execute("UPDATE leader SET url = %s WHERE id = 1 AND epoch = %s",
                                  (url, epoch))  # fmt: skip
            return bool(cursor.rowcount)

        if await asyncio.to_thread(self._db.transaction, record):
            self._lead = dataclasses.replace(self._lead, url=url)
            _log.info("advertised %s as the leader's URL (epoch %d)", url, epoch)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._campaign(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()

    async def _session(self) -> Any:
        import psycopg

        idle = max(1, int(self._keepalive / 2))
        # The same keepalives on the server's side of the session: the lock is PostgreSQL's to
        # release, and with the server's defaults (the OS's: 2 hours) a leader whose host
        # vanished without closing its socket would hold it that long after stepping down.
        user_timeout = int(self._keepalive * 1000)
        server_side = (f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval=1 "
                       f"-c tcp_keepalives_count=2 -c tcp_user_timeout={user_timeout}")
        return await psycopg.AsyncConnection.connect(
            self._db.dsn, autocommit=True, application_name=f"tandem leader {self.holder}",
            connect_timeout=max(1, int(self._keepalive)), keepalives=1,
            keepalives_idle=idle, keepalives_interval=1, keepalives_count=2,
            tcp_user_timeout=user_timeout, options=server_side)

    async def _campaign(self) -> None:
        while True:
            try:
                if self._conn is None:
                    self._conn = await self._session()
                if self.leading:
                    await self._conn.execute("SELECT 1")  # is the session (and lock) alive?
                else:
                    await self._try_to_lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: the session is gone
                if self.leading:
                    _log.warning("leadership lost (epoch %d): %s", self._epoch, exc)
                else:
                    _log.info("cannot campaign on %s: %s", redact(self._db.dsn), exc)
                await self._step_down()
            await asyncio.sleep(self._poll)

    async def _try_to_lead(self) -> None:
        cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK,))
        row = await cursor.fetchone()
        if not row or not row[0]:
            cursor = await self._conn.execute(_READ_LEAD)
            if (lead := await cursor.fetchone()) is not None:
                self._lead = Lead(int(lead[0]), lead[1], lead[2])
            return
        cursor = await self._conn.execute(
            "UPDATE leader SET epoch = epoch + 1, holder = %s, url = '', since = now() "
            "WHERE id = 1 RETURNING epoch", (self.holder,))
        (epoch,) = await cursor.fetchone()
        self._epoch = int(epoch)
        self._lead = Lead(self._epoch, self.holder, "")
        _log.info("leading under epoch %d", self._epoch)
        if self._on_change is not None:
            self._on_change(True, self._epoch)

    async def _step_down(self) -> None:
        was, self._epoch = self._epoch, 0
        if was:
            self._lead = Lead()  # not ours any more; the next poll reads whose it is
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing ends the session: the lock goes
                await conn.close()
        if was and self._on_change is not None:
            self._on_change(False, was)
