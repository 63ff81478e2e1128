"""Zeros for idle variants: SageMaker publishes Invocations and InvocationsPerInstance as 0
for a minute in which an InService variant got no request, so an alarm on them (target
tracking's scale-in alarm above all) sees a low value instead of missing data.

One owned task looks at the injected clock twice a second; when a minute has closed, each
routable variant without a datapoint in that minute gets one 0 in both series, stamped in
that minute. Busy minutes are left alone (a 0 there would change SampleCount and Minimum).
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
        self._minute = self._current_minute()

    def _current_minute(self) -> int:
        return int(self.clock.time() // 60) * 60

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
        """Record the zeros of the minute that closed since the last tick; returns how many
        variants were idle."""
        minute = self._current_minute()
        if minute <= self._minute:
            return 0
        closed = minute - 60  # only the newest closed minute: the one before may be flushed
        self._minute = minute
        idle = 0
        for endpoint in self.router.endpoints():
            for variant in endpoint.variants:
                series = variant.series
                if series.invocations.has_minute(closed):
                    continue
                series.invocations.record(0.0, closed)
                series.per_instance.record(0.0, closed)
                idle += 1
        return idle
