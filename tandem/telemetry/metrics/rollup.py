"""Rollups and retention, as CloudWatch keeps data: 1-minute rows for 15 days, 5-minute
rollups for 63 days, 1-hour rollups for 455 days (configurable).

A rollup row is recomputed from *all* its source rows whenever any of them changed
(the store's change marks say which windows), and written with a fixed uid, so a
rerun after a crash only rewrites the same rows. The server's leader calls ``run()`` about
once a minute, every write carrying the epoch it leads under (``epoch``), so a store shared
by servers refuses a deposed leader's rollup or expiry; tests call it directly with a
``ManualClock``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from tandem.clock import Clock, SystemClock

from .model import Metric
from .series import BucketRow
from .statistics import merge_columns
from .store import MetricStore

if TYPE_CHECKING:
    from tandem.config import Settings

__all__ = ["Retention", "RollupReport", "MetricRollups"]

DAY = 86400


@dataclasses.dataclass(frozen=True)
class Retention:
    """How long each resolution is kept, in days."""

    days_1m: int = 15
    days_5m: int = 63
    days_1h: int = 455

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            settings.retention_1m_days,
            settings.retention_5m_days,
            settings.retention_1h_days,
        )

    def days(self, resolution: int) -> int:
        return {60: self.days_1m, 300: self.days_5m, 3600: self.days_1h}[resolution]

    def resolution_for(self, start: float, now: float) -> int:
        """The finest resolution still kept for data starting at ``start``."""
        age = now - start
        if age <= self.days_1m * DAY:
            return 60
        if age <= self.days_5m * DAY:
            return 300
        return 3600


@dataclasses.dataclass(frozen=True)
class RollupReport:
    rolled_up: dict[int, int]  # target resolution -> rows written
    deleted: dict[int, int]  # resolution -> rows deleted


_STEPS = ((60, 300), (300, 3600))
ROLLUP_UID = "rollup"


class MetricRollups:
    """The rollup and retention job over a MetricStore."""

    def __init__(
        self,
        metric_store: MetricStore,
        retention: Retention | None = None,
        clock: Clock | None = None,
        epoch: Callable[[], int] | None = None,
    ) -> None:
        self.store = metric_store
        self.retention = retention or Retention()
        self.clock = clock or SystemClock()
        # The epoch the leader writes under (0 once it lost the lead); None: unfenced.
        self.epoch = epoch

    def _fence(self) -> int | None:
        return self.epoch() if self.epoch is not None else None

    def rollup(self, source: int, target: int) -> int:
        """Recompute the ``target`` rows of every window whose ``source`` rows changed."""
        mark_name = f"rollup:{source}:{target}"
        after = self.store.get_mark(mark_name)
        windows, mark = self.store.changed_windows(source, target, after)
        # A window older than the source's retention may have lost source rows already:
        # recomputing it would shrink it, so it keeps the rollup it has.
        oldest = int(self.clock.time()) - self.retention.days(source) * DAY
        out: list[BucketRow] = []
        for w in windows:
            if w.start < oldest:
                continue
            key = w.series
            cols = self.store.read_buckets(
                Metric(key.namespace, key.metric_name, key.dimensions),
                key.unit,
                source,
                w.start,
                w.start + target,
            )
            if len(cols):
                out.append(merge_columns(cols, key, target, w.start, ROLLUP_UID))
        self.store.write_buckets(out, fence=self._fence())
        if mark != after:
            self.store.set_mark(mark_name, mark, fence=self._fence())
        return len(out)

    def expire(self) -> dict[int, int]:
        now = int(self.clock.time())
        deleted = {}
        for resolution in (60, 300, 3600):
            cutoff = (now - self.retention.days(resolution) * DAY) // resolution * resolution
            deleted[resolution] = self.store.delete_before(resolution, cutoff,
                                                           fence=self._fence())
        return deleted

    def run(self) -> RollupReport:
        """One pass: roll 1-minute rows into 5-minute ones, those into 1-hour ones, expire."""
        rolled = {target: self.rollup(source, target) for source, target in _STEPS}
        return RollupReport(rolled, self.expire())
