"""The alarm store seam: what the alarm service needs from persistence.

Defined here, by its consumer; ``tandem.store.sqlite.alarms`` implements it on SQLite. Alarms
are written whole (a document per name); history items are appended and read back by alarm,
type and time, newest or oldest first. All methods are blocking: the service calls them on a
thread, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .model import AlarmHistoryItem, MetricAlarm

__all__ = ["AlarmStore"]


class AlarmStore(Protocol):
    def load_alarms(self) -> list[MetricAlarm]:
        """Every stored alarm, in creation order."""
        ...

    def save(self, alarms: Sequence[MetricAlarm], history: Sequence[AlarmHistoryItem]) -> None:
        """Upsert ``alarms`` (by name) and append ``history``, in one transaction."""
        ...

    def delete(self, names: Sequence[str], history: Sequence[AlarmHistoryItem]) -> None:
        """Delete the alarms named and append ``history`` (history outlives its alarm)."""
        ...

    def read_history(
        self,
        alarm_name: str | None,
        item_type: str | None,
        start: float | None,
        end: float | None,
        ascending: bool,
        after: int | None,
        limit: int,
    ) -> tuple[list[AlarmHistoryItem], int | None]:
        """Items matching the filters (start inclusive, end exclusive), ordered by time; a page
        of at most ``limit`` and the cursor to pass as ``after`` next (None at the end)."""
        ...

    def delete_history_before(self, before: float) -> int:
        """Drop items older than ``before`` (CloudWatch keeps two weeks); returns how many."""
        ...
