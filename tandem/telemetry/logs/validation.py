"""CloudWatch Logs input rules and their exact error texts (reference §3), as pure functions.

Texts marked [V-AWS] in the reference are copied verbatim; the others follow AWS's
"1 validation error detected" form or, where unverified, say plainly what is wrong.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any

from tandem.errors import InvalidParameterValue, ResourceNotFound, ValidationException

from .model import InputLogEvent, InputLogEvents, RejectedLogEventsInfo

__all__ = [
    "GROUP_NOT_FOUND",
    "STREAM_NOT_FOUND",
    "GROUP_EXISTS",
    "STREAM_EXISTS",
    "INVALID_NEXT_TOKEN",
    "RETENTION_DAYS",
    "MAX_BATCH_EVENTS",
    "MAX_BATCH_BYTES",
    "EVENT_OVERHEAD",
    "validate_group_name",
    "validate_stream_name",
    "validate_limit",
    "validate_retention",
    "resolve_group_name",
    "check_put_batch",
    "group_not_found",
    "stream_not_found",
    "is_unicode",
]

GROUP_NOT_FOUND = "The specified log group does not exist."
STREAM_NOT_FOUND = "The specified log stream does not exist."
GROUP_EXISTS = "The specified log group already exists"
STREAM_EXISTS = "The specified log stream already exists"
INVALID_NEXT_TOKEN = "The specified nextToken is invalid."
NAME_TOO_LONG = "Invalid LogGroup or LogStream, both must have length less than or equal to 512."

RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 1_048_576 - EVENT_OVERHEAD
TOO_NEW_MS = 2 * 3600 * 1000
TOO_OLD_MS = 14 * 86_400 * 1000
MAX_SPAN_MS = 24 * 3600 * 1000

_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]+")
_GROUP_ARN = re.compile(r"arn:aws[a-z\-]*:logs:[^:]*:[0-9]*:log-group:([^:]+)(?::\*)?")


def group_not_found() -> ResourceNotFound:
    return ResourceNotFound(GROUP_NOT_FOUND)


def stream_not_found() -> ResourceNotFound:
    return ResourceNotFound(STREAM_NOT_FOUND)


def _constraint(value: object, member: str, constraint: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def validate_group_name(name: str, member: str = "logGroupName") -> str:
    if not isinstance(name, str) or len(name) < 1:
        raise _constraint(name, member, "Member must have length greater than or equal to 1")
    if len(name) > 512:
        raise InvalidParameterValue(NAME_TOO_LONG)
    if not _GROUP_NAME.fullmatch(name):
        raise _constraint(
            name, member, "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )
    if name.startswith("aws/"):
        raise InvalidParameterValue("Log group names cannot start with 'aws/'.")
    return name


def validate_stream_name(name: str, member: str = "logStreamName") -> str:
    if not isinstance(name, str) or len(name) < 1:
        raise _constraint(name, member, "Member must have length greater than or equal to 1")
    if len(name) > 512:
        raise InvalidParameterValue(NAME_TOO_LONG)
    if ":" in name or "*" in name or not is_unicode(name):
        raise _constraint(name, member, "Member must satisfy regular expression pattern: [^:*]*")
    return name


def is_unicode(text: str) -> bool:
    """No lone surrogate (JSON can carry one; it is no character a name can hold)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_limit(limit: int | None, maximum: int, default: int) -> int:
    if limit is None:
        return default
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise _constraint(limit, "limit", "Member must be an integer")
    if limit < 1:
        raise _constraint(limit, "limit", "Member must have value greater than or equal to 1")
    if limit > maximum:
        raise _constraint(
            limit, "limit", f"Member must have value less than or equal to {maximum}"
        )
    return limit


def validate_retention(days: int) -> int:
    if isinstance(days, bool) or days not in RETENTION_DAYS:
        values = ", ".join(str(d) for d in RETENTION_DAYS)
        raise _constraint(
            days, "retentionInDays", f"Member must satisfy enum value set: [{values}]"
        )
    return days


def resolve_group_name(log_group_name: str | None, log_group_identifier: str | None) -> str:
    """logGroupName xor logGroupIdentifier (a name or an ARN, with or without ``:*``)."""
    if log_group_name is not None and log_group_identifier is not None:
        raise ValidationException(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters."
        )
    if log_group_identifier is not None:
        match = _GROUP_ARN.fullmatch(log_group_identifier)
        name = match.group(1) if match else log_group_identifier
        return validate_group_name(name, "logGroupIdentifier")
    if log_group_name is None:
        raise InvalidParameterValue("Either logGroupName or logGroupIdentifier must be given.")
    return validate_group_name(log_group_name)


def check_put_batch(
    events: InputLogEvents | Sequence[InputLogEvent], now_ms: int, retention_days: int | None
) -> tuple[int, int, RejectedLogEventsInfo | None]:
    """Validate a PutLogEvents batch; returns the [first, end) index range of events to store
    and the rejection info (None when nothing was rejected).

    A few C-level passes over the two columns decide a valid batch; only a batch they find
    wrong is walked event by event, so the error names the first bad event."""
    batch = InputLogEvents.of(events)
    timestamps, messages = batch.timestamps, batch.messages
    count = len(timestamps)
    if count < 1:
        raise _constraint("[]", "logEvents", "Member must have length greater than or equal to 1")
    if count > MAX_BATCH_EVENTS:
        raise _constraint(
            f"[{count} events]", "logEvents",
            f"Member must have length less than or equal to {MAX_BATCH_EVENTS}",
        )
    if not (
        _only(messages, str)
        and all(messages)
        and _only(timestamps, int)
        and timestamps == sorted(timestamps)  # timsort: one C pass over a sorted list
        and timestamps[0] >= 0
    ):
        _check_each(timestamps, messages)
    size = len("".join(messages).encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD * count
    if size > MAX_BATCH_BYTES:
        raise InvalidParameterValue(
            f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )

    # Sorted, so the too-old / expired events are a prefix and the too-new ones a suffix.
    too_old_end = bisect.bisect_left(timestamps, now_ms - TOO_OLD_MS)
    expired_end = (
        bisect.bisect_left(timestamps, now_ms - retention_days * 86_400_000)
        if retention_days
        else 0
    )
    first = max(too_old_end, expired_end)
    end = max(first, bisect.bisect_right(timestamps, now_ms + TOO_NEW_MS))
    if end > first and timestamps[end - 1] - timestamps[first] > MAX_SPAN_MS:
        raise InvalidParameterValue(
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours."
        )
    info = None
    if too_old_end or expired_end or end < count:
        info = RejectedLogEventsInfo(
            too_new_log_event_start_index=end if end < count else None,
            too_old_log_event_end_index=too_old_end or None,
            expired_log_event_end_index=expired_end or None,
        )
    return first, end, info


def _wrong_type(member: str, kind: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
        f"Member must be {kind}"
    )


def _only(values: list[Any], kind: type) -> bool:
    """Every value is exactly ``kind`` (so no bool passes for an int)."""
    return set(map(type, values)) <= {kind}


def _check_each(timestamps: list[Any], messages: list[Any]) -> None:
    """Event by event: the error of the first event that breaks a rule, in AWS's order."""
    previous = None
    for index, (timestamp, message) in enumerate(zip(timestamps, messages, strict=True)):
        if not isinstance(message, str):
            raise _wrong_type(f"logEvents.{index + 1}.member.message", "a string")
        if not message:
            raise _constraint(
                message, f"logEvents.{index + 1}.member.message",
                "Member must have length greater than or equal to 1",
            )
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise _wrong_type(f"logEvents.{index + 1}.member.timestamp", "an integer")
        if timestamp < 0:
            raise _constraint(
                timestamp, f"logEvents.{index + 1}.member.timestamp",
                "Member must have value greater than or equal to 0",
            )
        if previous is not None and timestamp < previous:
            raise InvalidParameterValue(
                "Log events in a single PutLogEvents request must be in chronological order."
            )
        previous = timestamp
