"""The background flush of in-memory minute buckets into the store.

Every ``interval`` seconds the dirty buckets of every series are snapshotted and
upserted (their full state, keyed by bucket uid), so a flush is idempotent and a
kill -9 loses at most one interval. Buckets of minutes that closed before the
previous minute are then dropped from memory; late data for them starts a new
bucket with a new uid (a new row, merged at query time).
"""

from __future__ import annotations

import logging
import threading

from tandem.clock import Clock

from .series import MetricRegistry, bucket_row
from .store import MetricStore

__all__ = ["MetricFlusher"]

_log = logging.getLogger(__name__)


class MetricFlusher:
    """Owns the flush thread; ``flush()`` is also callable directly (tests, shutdown)."""

    def __init__(
        self,
        registry: MetricRegistry,
        metric_store: MetricStore,
        interval: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self.registry = registry
        self.store = metric_store
        self.interval = interval
        self.clock = clock or registry.clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()

    def flush(self) -> int:
        """Write every dirty bucket now; returns the number of rows written."""
        with self._flush_lock:
            # Keep the current and previous minute in memory: most late data lands there.
            evict_before = int(self.clock.time() // 60) * 60 - 60
            snapshots = [(s, s.snapshot()) for s in self.registry.all_series()]
            rows = [
                bucket_row(series.key, bucket, state)
                for series, snaps in snapshots
                for bucket, state in snaps
            ]
            try:
                self.store.write_buckets(rows)
            except BaseException:
                for series, snaps in snapshots:
                    series.mark_dirty(bucket for bucket, _ in snaps)
                raise
            for series, snaps in snapshots:
                if snaps:
                    series.mark_listed(max(bucket.start for bucket, _ in snaps))
                series.evict(evict_before)
            return len(rows)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - logged; the next tick retries the same buckets
                _log.exception("metric flush failed")

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="metric-flusher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and flush everything that is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
