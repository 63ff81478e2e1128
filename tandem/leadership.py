"""Which server leads: the one that runs the reconciler (the only one talking to the Launcher),
the jobs' schedulers, rollups and retention, when several servers share one store.

Leadership comes with an epoch, one more at each change of leader. Every write the leader makes
as leader carries it, and the store refuses a write whose epoch is no longer current
(``StaleLeader``), so a leader that lost its lease without noticing yet (a paused process, a
partition) cannot undo its successor's work. On SQLite there is one server, always the leader
(``SoleLeader``); on PostgreSQL leadership is an advisory lock held by a dedicated session
(``tandem.store.postgres.leadership``).

The lead names its holder and the URL the leader advertised (``advertise``, once it has bound
its port): a standby forwards the calls it does not serve itself there (``tandem.standby``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from .errors import TandemError

__all__ = ["Lead", "Leadership", "LeadershipChange", "SoleLeader", "StaleLeader"]

# Called with (leading, epoch) each time this server gains or loses leadership.
LeadershipChange = Callable[[bool, int], None]


class StaleLeader(TandemError):
    """A write made under an epoch that is no longer the current leader's."""

    code = "ServiceUnavailable"
    status = 503
    fault = "Receiver"


@dataclasses.dataclass(frozen=True)
class Lead:
    """Who leads the store: its epoch (0: nobody has yet), the holder's name, and the URL other
    servers reach it at ("" until the leader has bound its port and advertised it)."""

    epoch: int = 0
    holder: str = ""
    url: str = ""


class Leadership(Protocol):
    @property
    def leading(self) -> bool: ...

    @property
    def epoch(self) -> int:
        """The epoch this server leads under (0 when it does not lead)."""
        ...

    @property
    def lead(self) -> Lead:
        """The lead as last seen, without I/O: this server's own while it leads; while
        another server does, the store's as read at each of this server's campaign polls."""
        ...

    async def read_lead(self) -> Lead:
        """The lead as the store has it now."""
        ...

    async def advertise(self, url: str) -> None:
        """While leading: record ``url`` with the lead, for the other servers to reach this
        one at (nothing once the lead is lost)."""
        ...

    async def start(self) -> None:
        """Begin campaigning; returns at once (the change callback says when it leads)."""
        ...

    async def stop(self) -> None:
        """Give leadership up (if held) and stop campaigning."""
        ...


class SoleLeader:
    """One server on its own store: it leads from ``start`` to ``stop``, under epoch 1."""

    def __init__(self, on_change: LeadershipChange | None = None) -> None:
        self._on_change = on_change
        self._leading = False
        self._url = ""

    @property
    def leading(self) -> bool:
        return self._leading

    @property
    def epoch(self) -> int:
        return 1 if self._leading else 0

    @property
    def lead(self) -> Lead:
        return Lead(1, "this server", self._url) if self._leading else Lead()

    async def read_lead(self) -> Lead:
        return self.lead

    async def advertise(self, url: str) -> None:
        if self._leading:
            self._url = url

    async def start(self) -> None:
        self._leading = True
        if self._on_change is not None:
            self._on_change(True, 1)

    async def stop(self) -> None:
        if self._leading:
            self._leading = False
            if self._on_change is not None:
                self._on_change(False, 1)
