"""A finished span as tandem records it: plain slots, no SDK objects.

``SpanData`` holds what OTLP's ``Span`` message needs (ids as integers, times in Unix
nanoseconds, attributes as key/value pairs) and nothing else; the OTLP encoder and the
dashboard's trace view both read it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

__all__ = ["AttributeValue", "SpanData", "SpanKind", "StatusCode"]

AttributeValue = str | bool | int | float


class SpanKind(enum.IntEnum):
    """OTLP's ``Span.SpanKind`` numbers."""

    INTERNAL = 1
    SERVER = 2
    CLIENT = 3


class StatusCode(enum.IntEnum):
    """OTLP's ``Status.StatusCode`` numbers (OK is the application's to set, never ours)."""

    UNSET = 0
    ERROR = 2


class SpanData:
    """One finished span."""

    __slots__ = ("trace_id", "span_id", "parent_id", "name", "kind", "start_ns", "end_ns",
                 "attributes", "status", "status_message", "tracestate", "flags",
                 "remote_parent")

    def __init__(self, trace_id: int, span_id: int, parent_id: int, name: str, kind: SpanKind,
                 start_ns: int, end_ns: int,
                 attributes: Sequence[tuple[str, AttributeValue]] = (), *,
                 status: StatusCode = StatusCode.UNSET, status_message: str = "",
                 tracestate: str | None = None, flags: int = 1,
                 remote_parent: bool = False) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id  # 0: a root span
        self.name = name
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.attributes = attributes
        self.status = status
        self.status_message = status_message
        self.tracestate = tracestate
        self.flags = flags
        self.remote_parent = remote_parent

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def attribute(self, key: str) -> AttributeValue | None:
        for k, v in self.attributes:
            if k == key:
                return v
        return None
