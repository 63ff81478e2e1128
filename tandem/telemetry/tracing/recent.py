"""The span data of recent traces, kept in memory (bounded) for the dashboard.

A trace is held by whatever recorded it (a request's ``RequestTrace``, a job's spans) behind
the ``TraceSource`` protocol, so spans are built only when someone looks: keeping a request
costs one dict insertion, sampled or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from .spans import SpanData

__all__ = ["RecentTraces", "TraceSource"]


class TraceSource(Protocol):
    trace_id: int

    def spans(self) -> list[SpanData]: ...


class RecentTraces:
    """The last ``limit`` traces by id, oldest evicted first (several sources may share an id:
    a client can send one traceparent with several requests)."""

    def __init__(self, limit: int = 2000) -> None:
        self.limit = limit
        self._by_id: dict[int, list[TraceSource]] = {}

    def add(self, source: TraceSource) -> None:
        by_id = self._by_id
        sources = by_id.get(source.trace_id)
        if sources is not None:
            sources.append(source)
            return
        by_id[source.trace_id] = [source]
        if len(by_id) > self.limit:
            del by_id[next(iter(by_id))]

    def get(self, trace_id: int) -> list[SpanData]:
        """Every span kept for ``trace_id``, by start time (empty when none is kept)."""
        spans = [span for source in self._by_id.get(trace_id, ()) for span in source.spans()]
        spans.sort(key=lambda s: (s.start_ns, s.kind))
        return spans

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._by_id))
