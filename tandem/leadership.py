"""Which server leads: the one that runs the reconciler (the only one talking to the Launcher),
the jobs' schedulers, rollups and retention, when several servers share one store.

Leadership comes with an epoch, one more at each change of leader. Every write the leader makes
as leader carries it, and the store refuses a write whose epoch is no longer current
(``StaleLeader``), so a leader that lost its lease without noticing yet (a paused process, a
partition) cannot undo its successor's work. On SQLite there is one server, always the leader
(``SoleLeader``); on PostgreSQL leadership is an advisory lock held by a dedicated session
(``tandem.store.postgres.leadership``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .errors import TandemError

__all__ = ["Leadership", "LeadershipChange", "SoleLeader", "StaleLeader"]

# Called with (leading, epoch) each time this server gains or loses leadership.
LeadershipChange = Callable[[bool, int], None]


class StaleLeader(TandemError):
    """A write made under an epoch that is no longer the current leader's."""

    code = "ServiceUnavailable"
    status = 503
    fault = "Receiver"


class Leadership(Protocol):
    @property
    def leading(self) -> bool: ...

    @property
    def epoch(self) -> int:
        """The epoch this server leads under (0 when it does not lead)."""
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

    @property
    def leading(self) -> bool:
        return self._leading

    @property
    def epoch(self) -> int:
        return 1 if self._leading else 0

    async def start(self) -> None:
        self._leading = True
        if self._on_change is not None:
            self._on_change(True, 1)

    async def stop(self) -> None:
        if self._leading:
            self._leading = False
            if self._on_change is not None:
                self._on_change(False, 1)
