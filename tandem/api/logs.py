"""CloudWatch Logs (awsJson1_1, ``X-Amz-Target: Logs_20140328.<Op>``).

Thin: each operation declares its members, calls ``LogService`` with
snake_case arguments and renders the result dataclass as camelCase members.
Errors render as ``{"__type": <Code>, "message": ...}``; Logs calls every bad
parameter ``InvalidParameterException``. StartLiveTail answers an event stream
(``live_tail``).
"""

from __future__ import annotations

import asyncio
import json
import operator
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceAlreadyExists,
    ResourceNotFound,
    TandemError,
)
from ..tags import TagStore, TooManyTags, check_tags
from ..telemetry.logs import (
    FilterLogEventsResult,
    GetLogEventsResult,
    InputLogEvents,
    LogService,
)
from ..telemetry.logs.validation import GROUP_NOT_FOUND, resolve_group_name
from .errors import lookup
from .live_tail import LiveTailSession
from .members import Member, parse_members, snake, to_wire
from .model_rules import rules

__all__ = ["LogsService", "SHAPES"]

_ERRORS: dict[type, tuple[str, int]] = {
    InvalidParameterValue: ("InvalidParameterException", 400),
    InvalidParameterCombination: ("InvalidParameterException", 400),
    MissingParameter: ("InvalidParameterException", 400),
    InvalidNextToken: ("InvalidParameterException", 400),
    ResourceNotFound: ("ResourceNotFoundException", 400),
    ResourceAlreadyExists: ("ResourceAlreadyExistsException", 400),
    TooManyTags: ("TooManyTagsException", 400),
    LimitExceeded: ("LimitExceededException", 400),
}

Str, Int, B, L, D = str, int, bool, list, dict
_CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS")

SHAPES: dict[str, dict[str, Member]] = {
    "CreateLogGroup": {
        "logGroupName": Member(Str, True),
        "kmsKeyId": Member(Str, max_len=256),
        "tags": Member(D, min_len=1, max_len=50),
        "logGroupClass": Member(Str, enum=_CLASSES),
        "deletionProtectionEnabled": Member(B),
    },
    "DeleteLogGroup": {"logGroupName": Member(Str, True)},
    "DescribeLogGroups": {
        "logGroupNamePrefix": Member(Str),
        "logGroupNamePattern": Member(Str),
        "nextToken": Member(Str),
        "limit": Member(Int),
        "accountIdentifiers": Member(L, items=Str),
        "includeLinkedAccounts": Member(B),
        "logGroupClass": Member(Str, enum=_CLASSES),
        "logGroupIdentifiers": Member(L, items=Str),
    },
    "CreateLogStream": {"logGroupName": Member(Str, True), "logStreamName": Member(Str, True)},
    "DeleteLogStream": {"logGroupName": Member(Str, True), "logStreamName": Member(Str, True)},
    "DescribeLogStreams": {
        "logGroupName": Member(Str),
        "logGroupIdentifier": Member(Str),
        "logStreamNamePrefix": Member(Str),
        "orderBy": Member(Str),
        "descending": Member(B),
        "nextToken": Member(Str),
        "limit": Member(Int),
    },
    "PutLogEvents": {
        "logGroupName": Member(Str, True),
        "logStreamName": Member(Str, True),
        "logEvents": Member(L, True, items=D),
        "sequenceToken": Member(Str),
        "entity": Member(D),
    },
    "GetLogEvents": {
        "logGroupName": Member(Str),
        "logGroupIdentifier": Member(Str),
        "logStreamName": Member(Str, True),
        "startTime": Member(Int),
        "endTime": Member(Int),
        "nextToken": Member(Str),
        "limit": Member(Int),
        "startFromHead": Member(B),
        "unmask": Member(B),
    },
    "FilterLogEvents": {
        "logGroupName": Member(Str),
        "logGroupIdentifier": Member(Str),
        "logStreamNames": Member(L, items=Str),
        "logStreamNamePrefix": Member(Str),
        "startTime": Member(Int),
        "endTime": Member(Int),
        "filterPattern": Member(Str),
        "nextToken": Member(Str),
        "limit": Member(Int),
        "interleaved": Member(B),
        "unmask": Member(B),
        "startFromHead": Member(B),
    },
    "PutRetentionPolicy": {"logGroupName": Member(Str, True), "retentionInDays": Member(Int, True)},
    "DeleteRetentionPolicy": {"logGroupName": Member(Str, True)},
}
_LIVE_TAIL: dict[str, Member] = {
    "logGroupIdentifiers": Member(L, True, Str, min_len=1, max_len=10),
    "logStreamNames": Member(L, items=Str, min_len=1, max_len=100),
    "logStreamNamePrefixes": Member(L, items=Str, min_len=1, max_len=100),
    "logEventFilterPattern": Member(Str, max_len=1024),
}
# Accepted for compatibility and ignored (AWS features tandem has no use for locally).
_IGNORED = {
    "tags",  # stored by this layer in the tag store, by the group's ARN
    "account_identifiers",
    "include_linked_accounts",
    "entity",
}


# Members the core checks itself: names with Logs' own texts (a name over 512 characters
# is "Invalid LogGroup or LogStream..." on AWS, not the model's length message). The events
# (thousands a batch) are counted here and checked one by one by the core, in one pass.
_CORE_CHECKED = frozenset({"logGroupName", "logStreamName"})
_SHALLOW = frozenset({"logEvents"})

_TIMESTAMP, _MESSAGE = operator.itemgetter("timestamp"), operator.itemgetter("message")


def _log_events(events: list[dict[str, Any]]) -> InputLogEvents:
    """The batch's two columns, lifted out in C (``parse_members`` saw that each is a dict).
    The core checks their types, naming the first bad event; a missing member is None."""
    try:
        return InputLogEvents(list(map(_TIMESTAMP, events)), list(map(_MESSAGE, events)))
    except KeyError:
        # Unchecked wire values: the core names the first event of a wrong type.
        timestamps: list[Any] = [e.get("timestamp") for e in events]
        messages: list[Any] = [e.get("message") for e in events]
        return InputLogEvents(timestamps, messages)


def render_get_log_events(result: GetLogEventsResult) -> dict[str, Any]:
    """``to_wire(result)``, written out: a page holds up to 10,000 events."""
    return {
        "events": [
            {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
            for e in result.events
        ],
        "nextForwardToken": result.next_forward_token,
        "nextBackwardToken": result.next_backward_token,
    }


def render_filter_log_events(result: FilterLogEventsResult) -> dict[str, Any]:
    """``to_wire(result)``, written out: a page holds up to 10,000 events."""
    wire: dict[str, Any] = {
        "events": [
            {
                "logStreamName": e.log_stream_name, "timestamp": e.timestamp,
                "message": e.message, "ingestionTime": e.ingestion_time, "eventId": e.event_id,
            }
            for e in result.events
        ]
    }
    if result.next_token is not None:
        wire["nextToken"] = result.next_token
    wire["searchedLogStreams"] = to_wire(result.searched_log_streams)
    return wire


_RENDERERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    GetLogEventsResult: render_get_log_events,
    FilterLogEventsResult: render_filter_log_events,
}


class LogsService:
    target_prefix = "Logs_20140328"
    content_type = "application/x-amz-json-1.1"

    def __init__(
        self, logs: LogService, *, live_tail_interval: float = 1.0, tags: TagStore | None = None
    ) -> None:
        self.logs = logs
        self.tags = tags
        self.live_tail_interval = live_tail_interval
        # Set at server shutdown: open live tails end instead of holding the shutdown.
        self._closing = asyncio.Event()
        self.operations: dict[str, Callable[[Mapping[str, Any]], Awaitable[Any]]] = {
            name: self._operation(name) for name in SHAPES
        }
        self.operations["StartLiveTail"] = self.start_live_tail

    async def close(self) -> None:
        self._closing.set()

    async def start_live_tail(self, body: Mapping[str, Any]) -> LiveTailSession:
        """Validate at the call (errors are JSON errors), then stream (reference §1.7)."""
        kwargs = parse_members(body, _LIVE_TAIL)
        rules("logs").check("StartLiveTail", body)
        identifiers: list[str] = kwargs["log_group_identifiers"]
        names, prefixes = kwargs.get("log_stream_names"), kwargs.get("log_stream_name_prefixes")
        if (names is not None or prefixes is not None) and len(identifiers) != 1:
            raise InvalidParameterValue(
                "logStreamNames and logStreamNamePrefixes can only be used with a single log group."
            )
        if names is not None and prefixes is not None:
            raise InvalidParameterValue(
                "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters."
            )
        pattern = kwargs.get("log_event_filter_pattern", "")
        tails = []
        for identifier in identifiers:
            group = resolve_group_name(None, identifier)
            found = await self.logs.describe_log_groups(log_group_name_prefix=group, limit=1)
            if not found.log_groups or found.log_groups[0].log_group_name != group:
                raise ResourceNotFound(GROUP_NOT_FOUND)
            single = prefixes[0] if prefixes and len(prefixes) == 1 else None
            tails.append((identifier, self.logs.tail(group, names, single, pattern)))
        start: dict[str, Any] = {"logGroupIdentifiers": identifiers}
        if names is not None:
            start["logStreamNames"] = names
        if prefixes is not None:
            start["logStreamNamePrefixes"] = prefixes
        if pattern:
            start["logEventFilterPattern"] = pattern
        return LiveTailSession(
            tails,
            start,
            prefixes=prefixes,
            closing=self._closing,
            update_interval=self.live_tail_interval,
        )

    def _group_arn(self, group: str) -> str:
        return f"arn:aws:logs:{self.logs.region}:{self.logs.account_id}:log-group:{group}"

    @staticmethod
    def render_error(error: TandemError) -> tuple[int, dict[str, str], bytes]:
        code, status = lookup(error, _ERRORS)
        body = json.dumps({"__type": code, "message": error.message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1"}, body

    def _operation(self, name: str) -> Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]:
        shape = SHAPES[name]
        method = getattr(self.logs, snake(name))
        model = rules("logs")

        async def call(body: Mapping[str, Any]) -> dict[str, Any]:
            parsed = parse_members(body, shape)
            model.check(name, body, skip=_CORE_CHECKED, shallow=_SHALLOW)
            kwargs = {k: v for k, v in parsed.items() if k not in _IGNORED}
            if "log_events" in kwargs:
                kwargs["log_events"] = _log_events(kwargs["log_events"])
            if name == "CreateLogGroup" and parsed.get("tags"):
                check_tags(parsed["tags"])  # refused before the group exists
            result = await method(**kwargs)
            if self.tags is not None and name in ("CreateLogGroup", "DeleteLogGroup"):
                arn = self._group_arn(body["logGroupName"])
                if name == "CreateLogGroup" and parsed.get("tags"):
                    await self.tags.add(arn, parsed["tags"])
                elif name == "DeleteLogGroup":
                    await self.tags.drop(arn)
            if result is None:
                return {}
            render = _RENDERERS.get(type(result))
            wire = to_wire(result) if render is None else render(result)
            if name == "DescribeLogStreams":
                for stream in wire.get("logStreams", []):
                    stream["storedBytes"] = 0  # always 0 on AWS since 2019
            return wire

        return call
