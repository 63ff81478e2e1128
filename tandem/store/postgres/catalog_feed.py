"""The catalogue's changes on PostgreSQL: ``LISTEN tandem_catalog`` on a connection of its own.

Every catalogue write sends ``NOTIFY tandem_catalog, '<kind>/<name>'`` in its transaction
(``catalog``), so listeners hear of it once it commits, whichever server made it. A
notification sent while the connection is down is lost: after each (re)connection the feed says
None (reread everything), and it reconnects with backoff when the database ends the session or
TCP keepalives give the peer up. Notifications are read with psycopg's async connection, on the
event loop; nothing here blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ...serving.catalog import CatalogChange, CatalogChanged
from .catalog import CHANNEL
from .database import redact

__all__ = ["PostgresCatalogFeed"]

_log = logging.getLogger(__name__)

_BACKOFF_START, _BACKOFF_MAX = 0.1, 5.0


class PostgresCatalogFeed:
    def __init__(self, dsn: str, *, keepalive: float = 4.0,
                 application_name: str = "tandem catalog feed") -> None:  # fmt: skip
        self.dsn = dsn
        self._keepalive = keepalive
        self._application_name = application_name
        self._task: asyncio.Task[None] | None = None
        # Set while a LISTEN is in force (tests wait on it).
        self.listening = asyncio.Event()

    async def start(self, on_change: CatalogChanged) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(on_change), name="catalog-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _connect(self) -> Any:
        import psycopg

        idle = max(1, int(self._keepalive / 2))
        return await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, application_name=self._application_name,
            connect_timeout=max(1, int(self._keepalive)), keepalives=1,
            keepalives_idle=idle, keepalives_interval=1, keepalives_count=2,
            tcp_user_timeout=int(self._keepalive * 1000))  # fmt: skip

    async def _listen(self, on_change: CatalogChanged) -> None:
        backoff = _BACKOFF_START
        while True:
            conn = None
            try:
                conn = await self._connect()
                await conn.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                backoff = _BACKOFF_START
                on_change(None)  # whatever was written while not listening
                async for notify in conn.notifies():
                    kind, _, name = notify.payload.partition("/")
                    on_change(CatalogChange(kind, name))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect, reread
                self.listening.clear()
                _log.warning("catalogue notifications from %s lost: %s; reconnecting in %.1f s",
                             redact(self.dsn), " ".join(str(exc).split()), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
