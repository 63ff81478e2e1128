"""CloudWatch Logs, locally: log groups, streams and events; pipe capture; queries; live tail.

``LogService`` holds the semantics (validation, paging, retention) over a ``LogStore``;
``StreamCapture`` turns a child's pipe into events; filter patterns parse in
``filter_pattern``.
"""

from .capture import StreamCapture, split_message
from .filter_pattern import FilterPattern, parse_filter_pattern
from .model import (
    DescribeLogGroupsResult,
    DescribeLogStreamsResult,
    FilteredLogEvent,
    FilterLogEventsResult,
    GetLogEventsResult,
    InputLogEvent,
    InputLogEvents,
    LogGroup,
    LogStream,
    OutputLogEvent,
    PutLogEventsResult,
    RejectedLogEventsInfo,
    SweepResult,
)
from .service import LogService
from .store import EventBatch, GroupRecord, LogStore, Position, StoredEvent, StreamRecord
from .validation import RETENTION_DAYS

__all__ = [
    "LogService",
    "StreamCapture",
    "split_message",
    "FilterPattern",
    "parse_filter_pattern",
    "LogStore",
    "EventBatch",
    "GroupRecord",
    "StreamRecord",
    "StoredEvent",
    "Position",
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
    "RETENTION_DAYS",
]
