"""``UsageSampler``: a process tree's instance metrics, sampled on an interval.

Every ``interval`` seconds (at most 10, as SageMaker reports) it samples the tree under
``pids()`` with a ``UsageProbe`` and records each metric (CPUUtilization, MemoryUtilization,
DiskUtilization, GPU...) in Percent into ``namespace`` once per dimension set, e.g. both
``Host`` and ``EndpointName, VariantName`` for an endpoint instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tandem.telemetry.usage import UsageProbe, UsageSample

__all__ = ["UsageSampler"]

_log = logging.getLogger(__name__)
MAX_INTERVAL = 10.0  # SageMaker's instance metrics come at most 10 s apart
_MIN_INTERVAL = 0.05


class UsageSampler:
    """Samples ``pids()`` into ``registry`` series; one owned task between start and stop."""

    def __init__(
        self,
        registry: Any,
        namespace: str,
        dimension_sets: Sequence[Mapping[str, str]],
        probe: UsageProbe,
        pids: Callable[[], list[int]],
        interval: float,
    ) -> None:
        self._registry = registry
        self._namespace = namespace
        self._dimension_sets = [dict(d) for d in dimension_sets]
        self._probe = probe
        self._pids = pids
        self.interval = max(_MIN_INTERVAL, min(interval, MAX_INTERVAL))
        self._series: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            name = f"usage {self._dimension_sets[0] if self._dimension_sets else ''}"
            self._task = asyncio.create_task(self._loop(), name=name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sample_once(self) -> UsageSample | None:
        """Sample and record now; None when no process runs or the probe failed (logged)."""
        pids = self._pids()
        if not pids:
            return None
        try:
            sample = await asyncio.to_thread(self._probe.sample, pids)
        except Exception:  # noqa: BLE001 - a failed sample is retried next tick, logged
            _log.exception("usage sample failed for %s", self._dimension_sets)
            return None
        self.record(sample)
        return sample

    def record(self, sample: UsageSample) -> None:
        for name, value in sample.metrics().items():
            for dims in self._dimension_sets:
                key = (name, tuple(sorted(dims.items())))
                series = self._series.get(key)
                if series is None:
                    series = self._registry.series(self._namespace, name, dims, "Percent")
                    self._series[key] = series
                series.record(value)

    async def _loop(self) -> None:
        while True:
            await self.sample_once()
            await asyncio.sleep(self.interval)
