"""MetricShipper: an instance's usage samples to a tandem server with batched PutMetricData.

It offers what the agent uses of ``MetricRegistry`` (``series(namespace, name, dimensions,
unit)`` returning a handle with ``record(value, timestamp=None)``), so a remote agent records
exactly the series a local one does. Every ``metrics_flush_interval`` the samples leave as
Values/Counts datums, one per series and minute (so percentiles stay available on the
server), at most 1,000 per request and one namespace per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Iterable, Mapping

import orjson

from tandem.clock import Clock, SystemClock
from tandem.telemetry.metrics.validation import (
    normalize_dimensions,
    validate_metric_name,
    validate_namespace,
    validate_unit,
    validate_value,
)

from . import requests
from .batches import MetricSample, metric_datums, split_metric_datums
from .client import ShipClient
from .config import ShipperConfig
from .outbox import Outbox, OutboxStats
from .requests import ShipRequest
from .spool import Spool

__all__ = ["MetricShipper", "ShippedSeries"]


class ShippedSeries:
    """A handle to one series; ``record`` is O(1) and does no I/O."""

    __slots__ = ("_shipper", "namespace", "metric_name", "dimensions", "unit")

    def __init__(
        self,
        shipper: MetricShipper,
        namespace: str,
        metric_name: str,
        dimensions: tuple[tuple[str, str], ...],
        unit: str,
    ) -> None:
        self._shipper = shipper
        self.namespace = namespace
        self.metric_name = metric_name
        self.dimensions = dimensions
        self.unit = unit

    def record(self, value: float, timestamp: float | None = None) -> None:
        value = validate_value(value)
        if timestamp is None:
            timestamp = self._shipper.clock.time()
        self._shipper._add(
            MetricSample(
                self.namespace, self.metric_name, self.dimensions, self.unit, value, timestamp
            )
        )


class MetricShipper:
    """Ships recorded samples; ``start`` before recording, ``stop`` to deliver the rest."""

    def __init__(
        self,
        config: ShipperConfig,
        *,
        clock: Clock | None = None,
        client: ShipClient | None = None,
        spool_max_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self._client = client or ShipClient(config)
        self._outbox = Outbox(
            Spool(config.spool_dir / "metrics", min(spool_max_bytes, config.spool_max_bytes)),
            self._deliver,
            max_queued_items=10_000,
            backoff_initial=config.backoff_initial,
            backoff_max=config.backoff_max,
            spill_interval=config.flush_interval,
            name="metric shipper",
        )
        self._lock = threading.Lock()  # record() may run on the agent's sampling thread
        self._samples: list[MetricSample] = []
        self._recorded = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._batching = asyncio.Lock()  # one batching at a time, so requests stay in order

    async def start(self) -> None:
        await self._client.open()
        self._outbox.start()
        self._task = asyncio.get_running_loop().create_task(
            self._loop(), name="metric shipper batcher"
        )

    async def stop(self, timeout: float = 10.0) -> None:
        """Deliver what was recorded within ``timeout`` s; the rest stays in the spool."""
        if self._task is not None:
            self._closing.set()
            await self._task
            self._task = None
        await self._batch()
        await self._outbox.stop(timeout)
        await self._client.close()

    def ship_to(self, server_url: str) -> None:
        """Deliver to ``server_url`` from now on, what waits in the spool included (the
        server that started the agent may be gone)."""
        self.config = dataclasses.replace(self.config, server_url=server_url.rstrip("/"))
        self._client.ship_to(server_url)

    def series(
        self,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        unit: str = "None",
    ) -> ShippedSeries:
        """A handle to one series, checked as the local registry checks it."""
        return ShippedSeries(
            self,
            validate_namespace(namespace),
            validate_metric_name(metric_name),
            normalize_dimensions(dimensions),
            validate_unit(unit),
        )

    async def flush(self) -> None:
        """Return once every sample recorded before the call is delivered."""
        await self._batch()
        await self._outbox.flush()

    @property
    def recorded(self) -> int:
        return self._recorded

    @property
    def stats(self) -> OutboxStats:
        return self._outbox.stats

    @property
    def spool(self) -> Spool:
        return self._outbox.spool

    def _add(self, sample: MetricSample) -> None:
        with self._lock:
            self._samples.append(sample)
            self._recorded += 1

    async def _loop(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.config.metrics_flush_interval)
            await self._batch()

    async def _batch(self) -> None:
        async with self._batching:
            with self._lock:
                samples, self._samples = self._samples, []
            await self._ship(samples)

    async def _ship(self, samples: list[MetricSample]) -> None:
        for namespace, datums in metric_datums(samples).items():
            sizes = [len(orjson.dumps(d)) + 1 for d in datums]
            for start, end in split_metric_datums(datums, sizes):
                await self._outbox.put(requests.put_metric_data(namespace, datums[start:end]))

    async def _deliver(self, request: ShipRequest) -> None:
        await self._client.call(request)
