"""Zeros for idle variants: SageMaker publishes Invocations and InvocationsPerInstance as 0
for a minute in which an InService variant got no request, so an alarm on them (target
tracking's scale-in alarm above all) sees a low value instead of missing data.

One owned task looks at the injected clock twice a second; when a minute has closed, each
variant that was routable for the whole of that minute and has no datapoint in it gets one
0 in both series, stamped in that minute. Busy minutes are left alone (a 0 there would
change SampleCount and Minimum), and so is the minute in which a variant became routable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..clock import Clock, SystemClock
from .router import Router

__all__ = ["IdleMetrics"]

_log = logging.getLogger(__name__)
_POLL = 0.5


class IdleMetrics:
    def __init__(self, router: Router, *, clock: Clock | None = None) -> None:
        self.router = router
        self.clock = clock or SystemClock()
        self._task: asyncio.Task[None] | None = None
        self._minute = int(self.clock.time() // 60) * 60
        # (endpoint, variant) -> when this loop first saw it routable.
        self._since: dict[tuple[str, str], float] = {}

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="idle-metrics")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(_POLL)
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - retried next tick, logged
                _log.exception("recording idle minutes failed")

    def tick(self) -> int:
        """Note newly routable variants; once a minute has closed, record its zeros. Returns
        how many variants were idle in it."""
        now = self.clock.time()
        variants = [(e.name, v) for e in self.router.endpoints() for v in e.variants]
        seen = {(name, v.name) for name, v in variants}
        for key in seen:
            self._since.setdefault(key, now)
        for key in set(self._since) - seen:
            del self._since[key]
        minute = int(now // 60) * 60
        if minute <= self._minute:
            return 0
        closed = minute - 60  # only the newest closed minute: the one before may be flushed
        self._minute = minute
        idle = 0
        for name, variant in variants:
            series = variant.series
            if self._since[(name, variant.name)] > closed:
                continue  # not routable for the whole minute
            if series.invocations.has_minute(closed):
                continue
            series.invocations.record(0.0, closed)
            series.per_instance.record(0.0, closed)
            idle += 1
        return idle
