"""Records of CloudWatch Logs: groups, streams, events, and the results of each operation.

Field names are the snake_case of the CloudWatch Logs wire members (``log_group_name`` is
``logGroupName``), and ``None`` means "omit the member", so the awsJson 1.1 layer maps these
dataclasses 1:1 without knowing the semantics.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

__all__ = [
    "LogGroup",
    "LogStream",
    "InputLogEvent",
    "InputLogEvents",
    "OutputLogEvent",
    "FilteredLogEvent",
    "RejectedLogEventsInfo",
    "PutLogEventsResult",
    "GetLogEventsResult",
    "FilterLogEventsResult",
    "DescribeLogGroupsResult",
    "DescribeLogStreamsResult",
    "SweepResult",
]


@dataclass(frozen=True)
class LogGroup:
    log_group_name: str
    creation_time: int
    arn: str
    log_group_arn: str
    stored_bytes: int = 0
    retention_in_days: int | None = None
    metric_filter_count: int = 0
    log_group_class: str = "STANDARD"
    deletion_protection_enabled: bool = False
    kms_key_id: str | None = None


@dataclass(frozen=True)
class LogStream:
    log_stream_name: str
    creation_time: int
    arn: str
    # Real bytes held; the wire layer reports 0 as AWS does for streams (reference §3.5).
    stored_bytes: int = 0
    first_event_timestamp: int | None = None
    last_event_timestamp: int | None = None
    last_ingestion_time: int | None = None
    upload_sequence_token: str | None = None


@dataclass(slots=True)  # one per event of a batch: not frozen, for a cheaper __init__
class InputLogEvent:
    timestamp: int
    message: str


@dataclass(frozen=True, slots=True)
class InputLogEvents(Sequence[tuple[int, str]]):
    """A PutLogEvents batch as two columns, as the wire layer lifts it out of the body: a batch
    of 10,000 events is then checked and queued by a few C-level passes over two lists, with no
    object per event. ``timestamps[i]`` and ``messages[i]`` are event i.

    It is also the sequence of ``(timestamp, message)`` pairs the log writer and the store take
    (a slice is a batch again; iterating zips the columns), so the pairs are only made on the
    writer's thread, not on the request path."""

    timestamps: list[int]
    messages: list[str]

    @classmethod
    def of(cls, events: Sequence[InputLogEvent] | InputLogEvents) -> InputLogEvents:
        if isinstance(events, InputLogEvents):
            return events
        return cls([e.timestamp for e in events], [e.message for e in events])

    def __len__(self) -> int:
        return len(self.timestamps)

    @overload
    def __getitem__(self, index: int) -> tuple[int, str]: ...
    @overload
    def __getitem__(self, index: slice) -> InputLogEvents: ...
    def __getitem__(self, index: int | slice) -> tuple[int, str] | InputLogEvents:
        if isinstance(index, slice):
            return InputLogEvents(self.timestamps[index], self.messages[index])
        return self.timestamps[index], self.messages[index]

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return zip(self.timestamps, self.messages, strict=True)


# Event records are built a thousand per page: slots and no frozen __init__ (which sets
# each field through object.__setattr__) make that 2.7x cheaper. Treat them as immutable.
@dataclass(slots=True)
class OutputLogEvent:
    timestamp: int
    message: str
    ingestion_time: int


@dataclass(slots=True)
class FilteredLogEvent:
    log_stream_name: str
    timestamp: int
    message: str
    ingestion_time: int
    event_id: str


@dataclass(frozen=True)
class RejectedLogEventsInfo:
    too_new_log_event_start_index: int | None = None
    too_old_log_event_end_index: int | None = None
    expired_log_event_end_index: int | None = None


@dataclass(frozen=True)
class PutLogEventsResult:
    next_sequence_token: str
    rejected_log_events_info: RejectedLogEventsInfo | None = None


@dataclass(frozen=True)
class GetLogEventsResult:
    events: list[OutputLogEvent]
    next_forward_token: str
    next_backward_token: str


@dataclass(frozen=True)
class FilterLogEventsResult:
    events: list[FilteredLogEvent]
    next_token: str | None = None
    # Always empty since 2020 (reference §3.4); kept so the wire shape is 1:1.
    searched_log_streams: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class DescribeLogGroupsResult:
    log_groups: list[LogGroup]
    next_token: str | None = None


@dataclass(frozen=True)
class DescribeLogStreamsResult:
    log_streams: list[LogStream]
    next_token: str | None = None


@dataclass(frozen=True)
class SweepResult:
    """What one retention sweep removed."""

    events_deleted: int = 0
    streams_deleted: int = 0
