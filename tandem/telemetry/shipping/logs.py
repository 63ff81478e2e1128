"""LogShipper: an instance's log lines to a tandem server with batched PutLogEvents.

It offers what the agent and ``StreamCapture`` use of ``LogService`` (``clock``,
``ensure_log_stream``, ``write``, ``flush``), so a remote agent is handed a shipper where a
local one is handed the service. Lines wait at most ``flush_interval`` (or until a full
batch) and leave in PutLogEvents batches within CloudWatch's limits, one stream per batch,
in the order they were written.

Groups and streams are created as local mode creates them: when the agent ensures the stream,
and again if a PutLogEvents finds the group or the stream deleted (local capture recreates
them too), so no line is dropped for that. Events the server rejects one by one (more than
14 days old after a long outage, or older than the group's retention) are counted in
``rejected_events``; a batch refused for any other reason is dropped and counted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from tandem.clock import Clock, SystemClock
from tandem.telemetry.logs.validation import validate_group_name, validate_stream_name

from . import requests
from .batches import prepare_events, split_log_events
from .client import Refused, ShipClient
from .config import ShipperConfig
from .outbox import Outbox, OutboxStats
from .requests import ShipRequest
from .spool import Spool

__all__ = ["LogShipper", "LogShippingStats"]

log = logging.getLogger(__name__)

_EXISTS = "ResourceAlreadyExistsException"
_NOT_FOUND = "ResourceNotFoundException"


@dataclass
class LogShippingStats:
    """Counts of lines: written, delivered, and every way one can fail to arrive."""

    written: int
    delivered: int
    queued: int  # in memory, not yet delivered
    spooled: int  # on disk, not yet delivered
    skipped_empty: int  # empty lines: PutLogEvents takes no empty message
    rejected: int  # rejected by the server one by one (too old, too new, expired)
    refused: int  # in batches the server refused as a whole
    spool_dropped: int  # dropped from a full spool, oldest first
    recreated_streams: int  # a deleted group or stream created again
    outbox: OutboxStats


class LogShipper:
    """Ships captured lines; ``start`` before the first write, ``stop`` to deliver the rest."""

    def __init__(
        self,
        config: ShipperConfig,
        *,
        clock: Clock | None = None,
        client: ShipClient | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self._client = client or ShipClient(config)
        self._outbox = Outbox(
            Spool(config.spool_dir / "logs", config.spool_max_bytes),
            self._deliver,
            max_queued_items=config.max_buffered_events,
            backoff_initial=config.backoff_initial,
            backoff_max=config.backoff_max,
            spill_interval=config.flush_interval,
            name="log shipper",
        )
        self._pending: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._pending_count = 0
        self._last_timestamp: dict[tuple[str, str], int] = {}
        self._known: set[tuple[str, str]] = set()
        # Appended from the agent's worker thread: a deque's append and popleft are atomic.
        self._announce: collections.deque[tuple[str, str]] = collections.deque()
        self._full = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._batcher: asyncio.Task[None] | None = None
        self._closing = False
        # One batching at a time (the loop's and a flush's): two would interleave a stream.
        self._batching = asyncio.Lock()
        self._written = 0
        self._skipped_empty = 0
        self._rejected = 0
        self._recreated = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._client.open()
        self._outbox.start()
        self._batcher = asyncio.get_running_loop().create_task(
            self._batch_loop(), name="log shipper batcher"
        )

    async def stop(self, timeout: float = 10.0) -> None:
        """Deliver what was written within ``timeout`` s; what is left stays in the spool."""
        if self._batcher is not None:
            # Not cancelled: a batch cut off half way would lose the lines it had taken.
            self._closing = True
            self._full.set()
            await self._batcher
            self._batcher = None
        await self._batch()
        await self._outbox.stop(timeout)
        await self._client.close()

    def ship_to(self, server_url: str) -> None:
        """Deliver to ``server_url`` from now on, what waits in the spool included (the
        server that started the agent may be gone)."""
        self.config = dataclasses.replace(self.config, server_url=server_url.rstrip("/"))
        self._client.ship_to(server_url)

    # -- what the agent and the capture call --------------------------------------------------

    def ensure_log_stream(self, group: str, stream: str) -> None:
        """Have the group and stream created on the server (before the stream's first line)."""
        key = (group, stream)
        if key in self._known:
            return
        validate_group_name(group)
        validate_stream_name(stream)
        self._known.add(key)
        self._announce.append(key)

    async def write(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Queue ``(timestamp ms, message)`` events; waits while too many are buffered."""
        while self._pending_count >= self.config.max_buffered_events:
            self._room.clear()
            self._full.set()
            await self._room.wait()
        key = (group, stream)
        if key not in self._known:
            self.ensure_log_stream(group, stream)
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = list(events)
        else:
            pending.extend(events)
        self._pending_count += len(events)
        self._written += len(events)
        if self._pending_count >= 10_000:
            self._full.set()

    async def flush(self) -> None:
        """Return once every line written before the call is delivered."""
        await self._batch()
        await self._outbox.flush()

    @property
    def stats(self) -> LogShippingStats:
        o = self._outbox.stats
        spool = self._outbox.spool
        return LogShippingStats(
            written=self._written,
            delivered=o.delivered_items,
            queued=self._pending_count + self._outbox.queued_items,
            spooled=spool.items,
            skipped_empty=self._skipped_empty,
            rejected=self._rejected,
            refused=o.refused_items,
            spool_dropped=spool.dropped_items,
            recreated_streams=self._recreated,
            outbox=o,
        )

    # -- batching -----------------------------------------------------------------------------

    async def _batch_loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.config.flush_interval)
            self._full.clear()
            await self._batch()
            if self._closing:
                return

    async def _batch(self) -> None:
        async with self._batching:
            await self._batch_pending()

    async def _batch_pending(self) -> None:
        while self._announce:
            group, stream = self._announce.popleft()
            await self._outbox.put(requests.create_log_stream(group, stream))
        pending, self._pending = self._pending, {}
        self._pending_count = 0
        self._room.set()
        for key, events in pending.items():
            prepared = prepare_events(events, self._last_timestamp.get(key, 0))
            self._last_timestamp[key] = prepared.last_timestamp
            self._skipped_empty += prepared.skipped_empty
            ts, messages = prepared.timestamps, prepared.messages
            for start, end in split_log_events(ts, messages):
                await self._outbox.put(
                    requests.put_log_events(*key, ts[start:end], messages[start:end])
                )

    # -- delivery (the outbox's sender task) --------------------------------------------------

    async def _deliver(self, request: ShipRequest) -> None:
        if request.operation == "CreateLogStream":
            await self._create(request.group, request.stream)
            return
        try:
            answer = await self._client.call(request)
        except Refused as exc:
            if exc.code != _NOT_FOUND or request.operation != "PutLogEvents":
                raise
            log.info("log group or stream %s/%s was deleted: creating it again",
                     request.group, request.stream)
            await self._create(request.group, request.stream)
            self._recreated += 1
            answer = await self._client.call(request)
        self._rejected += _rejected_count(answer, request.items)

    async def _create(self, group: str, stream: str) -> None:
        for request in (requests.create_log_group(group),
                        requests.create_log_stream(group, stream)):
            try:
                await self._client.call(request)
            except Refused as exc:
                if exc.code != _EXISTS:
                    raise


def _rejected_count(answer: dict[str, Any], items: int) -> int:
    info = answer.get("rejectedLogEventsInfo")
    if not isinstance(info, dict):
        return 0
    old = max(info.get("tooOldLogEventEndIndex") or 0, info.get("expiredLogEventEndIndex") or 0)
    new_start = info.get("tooNewLogEventStartIndex")
    new = items - new_start if isinstance(new_start, int) else 0
    return min(items, int(old) + new)
