"""The batching log writer: captured lines in, one store transaction per flush out.

Lines wait in a bounded in-memory buffer. A flush happens ``flush_interval`` seconds after the
first pending line (so a line is durable within about twice that), or at once when
``flush_size`` lines are pending. When ``max_pending`` lines are waiting, ``put`` awaits, so a
capture stops reading its pipe and the child blocks on write: backpressure, never a drop.
A failed flush is logged and retried with the same lines. Flush deadlines use the event loop's
clock; the injected Clock gives ingestion times only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tandem.clock import Clock

from .store import EventBatch, LogStore

__all__ = ["LogWriter"]

_log = logging.getLogger(__name__)
_RETRY_DELAY = 1.0


class LogWriter:
    def __init__(
        self,
        store: LogStore,
        clock: Clock,
        *,
        flush_interval: float = 0.5,
        flush_size: int = 20_000,
        max_pending: int = 100_000,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.flush_interval = flush_interval
        self.flush_size = flush_size
        self.max_pending = max_pending
        self.on_commit = on_commit
        self._pending: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._count = 0
        self._first_at = 0.0
        self._signal = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pending(self) -> int:
        return self._count

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="log-writer")

    async def stop(self) -> None:
        """Flush everything pending, then end the flush task."""
        task = self._task
        if task is None:
            return
        self._stopping = True
        self._signal.set()
        await task
        self._task = None

    async def put(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Queue events for one stream; waits while the buffer is full."""
        if self._task is None:
            raise RuntimeError("LogService is not started")
        while self._count >= self.max_pending:
            self._space.clear()
            await self._space.wait()
        if not events:
            return
        if self._count == 0:
            self._first_at = asyncio.get_running_loop().time()
            self._signal.set()
        key = (group, stream)
        bucket = self._pending.get(key)
        if bucket is None:
            self._pending[key] = list(events)
        else:
            bucket.extend(events)
        before = self._count
        self._count += len(events)
        if before < self.flush_size <= self._count:
            self._signal.set()

    async def flush(self) -> None:
        """Return once everything queued before the call is committed."""
        if self._task is None:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._signal.set()
        await future

    async def _run(self) -> None:
        while True:
            if not self._pending and not self._waiters:
                if self._stopping:
                    return
                self._signal.clear()
                await self._signal.wait()
                continue
            urgent = self._waiters or self._stopping or self._count >= self.flush_size
            delay = self._first_at + self.flush_interval - asyncio.get_running_loop().time()
            if not urgent and delay > 0:
                self._signal.clear()
                try:
                    await asyncio.wait_for(self._signal.wait(), delay)
                except TimeoutError:
                    pass
                continue
            waiters, self._waiters = self._waiters, []
            if await self._flush_once():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
            else:
                self._waiters = waiters + self._waiters
                if self._stopping:
                    _log.error("log writer stopping with %d lines it could not store", self._count)
                    for waiter in self._waiters:
                        if not waiter.done():
                            waiter.set_result(None)
                    return
                await asyncio.sleep(_RETRY_DELAY)

    async def _flush_once(self) -> bool:
        if not self._pending:
            return True
        pending, count = self._pending, self._count
        self._pending, self._count = {}, 0
        self._space.set()
        batches = [EventBatch(g, s, evs) for (g, s), evs in pending.items()]
        ingestion = int(self.clock.time() * 1000)
        try:
            await asyncio.to_thread(
                self.store.append, batches, ingestion, create_missing=True
            )
        except Exception:  # noqa: BLE001 - kept and retried, never dropped
            _log.exception("storing %d log lines failed; will retry", count)
            for key, events in pending.items():
                later = self._pending.get(key, [])
                self._pending[key] = events + later
            self._count += count
            self._first_at = asyncio.get_running_loop().time()
            return False
        if self.on_commit is not None:
            self.on_commit()
        return True
