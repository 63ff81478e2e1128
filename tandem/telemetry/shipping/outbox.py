"""Outbox: requests delivered one at a time, in order, retried with backoff, spooled on disk
while the server is unreachable.

One sender task owns delivery. While the server answers, requests wait in memory (a writer
waits when too many do: the server is slow, and the pipe behind it should slow down too).
When a delivery finds no server, that request and everything queued behind it go to the
spool, writers no longer wait, and the sender retries the spool's oldest request with
exponential backoff and jitter; once the spool is empty it goes back to memory. Delivery is
at least once: a request the server committed but whose answer was lost is sent again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .client import Refused, Unreachable
from .requests import ShipRequest
from .spool import Spool

__all__ = ["Outbox", "OutboxStats", "backoff_delay"]

log = logging.getLogger(__name__)


def backoff_delay(attempt: int, initial: float, maximum: float, rng: Callable[[], float]) -> float:
    """The wait before retry ``attempt`` (0-based): exponential, capped, half of it jittered
    (so agents that lost the same server do not all come back at the same instant)."""
    ceiling = min(maximum, initial * (2.0 ** min(attempt, 30)))
    return ceiling / 2 + rng() * ceiling / 2


@dataclass
class OutboxStats:
    """What became of the requests handed to an outbox (items = events or datums)."""

    delivered_requests: int = 0
    delivered_items: int = 0
    failed_attempts: int = 0
    spooled_requests: int = 0
    refused_requests: int = 0
    refused_items: int = 0


class Outbox:
    """Ordered, retried delivery of ``ShipRequest``s through ``deliver``."""

    def __init__(
        self,
        spool: Spool,
        deliver: Callable[[ShipRequest], Awaitable[None]],
        *,
        max_queued_items: int,
        backoff_initial: float,
        backoff_max: float,
        spill_interval: float,
        name: str = "outbox",
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.spool = spool
        self.stats = OutboxStats()
        self.online = True
        self.last_failure = ""
        self._deliver = deliver
        self._max_queued = max_queued_items
        self._backoff = (backoff_initial, backoff_max)
        self._spill_interval = spill_interval
        self._name = name
        self._rng = rng
        self._queue: collections.deque[ShipRequest] = collections.deque()
        self._queued_items = 0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Taken from memory and not yet done with: back to the spool if stop cuts it off.
        self._inflight: ShipRequest | None = None

    @property
    def queued_items(self) -> int:
        return self._queued_items

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def put(self, request: ShipRequest) -> None:
        """Queue a request; waits while the server is up but behind."""
        while self.online and self._queue and self._queued_items >= self._max_queued:
            self._room.clear()
            await self._room.wait()
        self._queue.append(request)
        self._queued_items += request.items
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        """Return once every request queued or spooled before the call was delivered."""
        while self._queue or len(self.spool) or not self._idle.is_set():
            self._wake.set()
            await self._idle.wait()
            if not (self._queue or len(self.spool)):
                return

    async def stop(self, timeout: float) -> None:
        """Deliver what is left within ``timeout`` s; the rest waits in the spool for the next
        process on the same spool directory."""
        if self._task is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.flush(), timeout)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        inflight, self._inflight = self._inflight, None
        if self._queue or inflight is not None:
            await self._spill([inflight] if inflight is not None else [])

    # -- the sender ---------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            if len(self.spool):
                head = await asyncio.to_thread(self.spool.peek)
                if head is None:
                    continue
                seq, request = head
                if await self._attempt(request):
                    await asyncio.to_thread(self.spool.pop, seq)
                    attempt = 0
                    if not len(self.spool):
                        self._back_online()
                else:
                    await self._pause(attempt)
                    attempt += 1
                continue
            if not self._queue:
                self._idle.set()
                await self._wake.wait()
                self._wake.clear()
                continue
            request = self._queue.popleft()
            self._queued_items -= request.items
            self._room.set()
            self._inflight = request
            delivered = await self._attempt(request)
            self._inflight = None
            if delivered:
                attempt = 0
                continue
            # No server: this request and all behind it go to disk, oldest first.
            self.online = False
            self._room.set()
            log.warning(
                "%s: server unreachable (%s), spooling to %s", self._name, self.last_failure,
                self.spool.directory,
            )
            await self._spill([request])
            await self._pause(attempt)
            attempt += 1

    def _back_online(self) -> None:
        if not self.online:
            log.info("%s: server reachable again, spool delivered", self._name)
        self.online = True

    async def _attempt(self, request: ShipRequest) -> bool:
        """Whether the request is done with (delivered, or refused for good)."""
        try:
            await self._deliver(request)
        except Unreachable as exc:
            self.stats.failed_attempts += 1
            self.last_failure = f"{request.operation}: {exc}"
            return False
        except Refused as exc:
            self._refused(request, str(exc))
            return True
        except Exception as exc:
            # A bug, not the server's state: a retry would loop on it for ever.
            log.exception("%s: %s failed", self._name, request.operation)
            self._refused(request, repr(exc))
            return True
        self.stats.delivered_requests += 1
        self.stats.delivered_items += request.items
        return True

    def _refused(self, request: ShipRequest, why: str) -> None:
        self.stats.refused_requests += 1
        self.stats.refused_items += request.items
        log.warning(
            "%s: %s of %d items dropped (%s/%s): %s", self._name, request.operation,
            request.items, request.group, request.stream, why,
        )

    async def _spill(self, first: list[ShipRequest]) -> None:
        batch = first + list(self._queue)
        self._queue.clear()
        self._queued_items = 0
        self._room.set()
        if batch:
            self.stats.spooled_requests += len(batch)
            await asyncio.to_thread(self.spool.push, batch)

    async def _pause(self, attempt: int) -> None:
        """Wait before the next try, moving what writers queue meanwhile to the spool."""
        delay = backoff_delay(attempt, *self._backoff, self._rng)
        end = time.monotonic() + delay
        while True:
            await self._spill([])
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, self._spill_interval))
