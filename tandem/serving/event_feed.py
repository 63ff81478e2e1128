"""``EventFeed``: an instance agent's events, numbered, kept until the server acknowledges them.

A Ray actor's reply can be lost in flight (the server SIGKILLed while a long poll answers), so
the actor may not forget an event when it sends it. Each event gets the next sequence number;
a poll names the last number its poller has handled (``after``), which drops those up to it
and answers the rest. A server that dies before acknowledging gets them again when a new one
re-attaches (it polls from 0): every event is seen at least once, and the poller applies each
sequence number once. Plain asyncio, no Ray: the actor holds one and its tests drive it alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["EventFeed", "Numbered"]

# An InstanceEvent, or what else the actor reports in order with them (a job host's lines).
Numbered = tuple[int, Any]


class EventFeed:
    def __init__(self) -> None:
        self._kept: list[Numbered] = []
        self._last = 0  # the last sequence number given out (the first event's is 1)
        # Set, then replaced, on each put: every waiting poll wakes (a stale poll of a dead
        # server may still be waiting beside the new server's).
        self._arrived = asyncio.Event()

    @property
    def last(self) -> int:
        return self._last

    def __len__(self) -> int:
        return len(self._kept)

    def put(self, event: Any) -> None:
        """Keep ``event`` as number ``last + 1`` (the agent's on_event callback)."""
        self._last += 1
        self._kept.append((self._last, event))
        self._arrived.set()
        self._arrived = asyncio.Event()

    def acknowledge(self, seq: int) -> None:
        """Forget the events numbered up to ``seq``: their poller has handled them."""
        self._kept = [kept for kept in self._kept if kept[0] > seq]

    def discard(self, unwanted: Callable[[Any], bool]) -> None:
        """Forget the kept items ``unwanted`` picks (their numbers are not given again)."""
        self._kept = [kept for kept in self._kept if not unwanted(kept[1])]

    def pending(self) -> list[Numbered]:
        return list(self._kept)

    async def after(self, seq: int, timeout: float) -> list[Numbered]:
        """Acknowledge up to ``seq``, then the events after it, waiting up to ``timeout`` s
        for a first one ([] if none came)."""
        self.acknowledge(seq)
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._kept:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return []
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return []
            # Another poll may have acknowledged meanwhile: read again what is kept.
        return list(self._kept)
