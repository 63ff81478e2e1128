"""A real tandem server in this process (its own event loop on a thread), for tier-(c) tests
that want the server's objects at hand; ``tests/server_process.py`` runs one as a child."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from tandem.clock import Clock
from tandem.config import Settings
from tandem.server import TandemServer

__all__ = ["ServerThread"]


class ServerThread:
    """``TandemServer`` on 127.0.0.1 port 0, driven by an event loop on a daemon thread."""

    def __init__(self, data_dir: Path, clock: Clock | None = None, **settings: object) -> None:
        self.server = TandemServer(
            Settings(port=0, data_dir=data_dir, **settings),  # type: ignore[arg-type]
            clock=clock,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(60)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def call(self, coroutine: Any, timeout: float = 60) -> Any:
        """Run ``coroutine`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def url(self) -> str:
        return self.server.url
