"""An endpoint's status transitions and their persistence, in order.

A transition changes the in-memory record at once (DescribeEndpoint answers from it) and
queues a catalogue write behind the previous one: writes land in the order they were made,
and none lands after the endpoint's document was deleted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..clock import Clock
from .catalog import CatalogStore
from .definitions import ENDPOINT, io
from .fleets import EndpointRun
from .model import EndpointStatus

__all__ = ["StatusWriter"]


class StatusWriter:
    def __init__(self, catalog: CatalogStore, clock: Clock) -> None:
        self.catalog = catalog
        self.clock = clock
        # Writes in flight, awaited on shutdown.
        self.tasks: set[asyncio.Task[Any]] = set()

    def set(self, run: EndpointRun, status: EndpointStatus) -> None:
        """Move to ``status`` (nothing if already there) and queue its write."""
        endpoint = run.endpoint
        if endpoint.status is status:
            return
        endpoint.status = status
        endpoint.last_modified_time = self.clock.time()
        run.count_instances()
        previous = run.persisting

        async def persist() -> None:
            # In order, and never after the delete: an earlier write landing late would
            # otherwise bring a deleted endpoint back as Deleting, or an older status back.
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            if not run.deleted:
                await io(self.catalog.put, ENDPOINT, endpoint.name, endpoint.to_record())

        task = asyncio.create_task(persist())
        run.persisting = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def settled(self, run: EndpointRun) -> None:
        """Wait for the endpoint's queued writes."""
        if run.persisting is not None:
            await asyncio.gather(run.persisting, return_exceptions=True)
