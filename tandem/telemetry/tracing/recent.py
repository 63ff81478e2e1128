"""The span data of recent traces, kept in memory (bounded) for the dashboard.

A trace is held by whatever recorded it (a request's ``RequestTrace``, a job's spans) behind
the ``TraceSource`` protocol, so spans are built only when someone looks: keeping a request
costs one ``deque.append`` (the oldest falls out), sampled or not. A lookup scans the ring,
which only the dashboard does.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from typing import Protocol

from .spans import SpanData

__all__ = ["RecentTraces", "TraceSource"]


class TraceSource(Protocol):
    trace_id: int

    def spans(self) -> list[SpanData]: ...


class RecentTraces:
    """The last ``limit`` requests or jobs, oldest evicted first (several may share a trace
    id: a client can send one traceparent with several requests)."""

    def __init__(self, limit: int = 2000) -> None:
        self.limit = limit
        self._ring: collections.deque[TraceSource] = collections.deque(maxlen=limit)
        self.add: Callable[[TraceSource], None] = self._ring.append

    def get(self, trace_id: int) -> list[SpanData]:
        """Every span kept for ``trace_id``, by start time (empty when none is kept)."""
        spans = [span for source in list(self._ring) if source.trace_id == trace_id
                 for span in source.spans()]
        spans.sort(key=lambda s: (s.start_ns, s.kind))
        return spans

    def __len__(self) -> int:
        return len(self._ring)

    def __iter__(self) -> Iterator[int]:
        return iter([source.trace_id for source in list(self._ring)])
