"""CloudWatch Logs (awsJson1_1, ``X-Amz-Target: Logs_20140328.<Op>``).

Thin: each operation declares its members, calls ``LogService`` with
snake_case arguments and renders the result dataclass as camelCase members.
Errors render as ``{"__type": <Code>, "message": ...}``; Logs calls every bad
parameter ``InvalidParameterException``.
"""

from __future__ import annotations

import json
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
from ..telemetry.logs import InputLogEvent, LogService
from .errors import lookup
from .members import Member, parse_members, snake, to_wire

__all__ = ["LogsService"]

_ERRORS: dict[type, tuple[str, int]] = {
    InvalidParameterValue: ("InvalidParameterException", 400),
    InvalidParameterCombination: ("InvalidParameterException", 400),
    MissingParameter: ("InvalidParameterException", 400),
    InvalidNextToken: ("InvalidParameterException", 400),
    ResourceNotFound: ("ResourceNotFoundException", 400),
    ResourceAlreadyExists: ("ResourceAlreadyExistsException", 400),
    LimitExceeded: ("LimitExceededException", 400),
}

S, I, B, L, D = str, int, bool, list, dict

_SHAPES: dict[str, dict[str, Member]] = {
    "CreateLogGroup": {"logGroupName": Member(S, True), "kmsKeyId": Member(S),
                       "tags": Member(D), "logGroupClass": Member(S),
                       "deletionProtectionEnabled": Member(B)},
    "DeleteLogGroup": {"logGroupName": Member(S, True)},
    "DescribeLogGroups": {"logGroupNamePrefix": Member(S), "logGroupNamePattern": Member(S),
                          "nextToken": Member(S), "limit": Member(I),
                          "accountIdentifiers": Member(L, items=S),
                          "includeLinkedAccounts": Member(B), "logGroupClass": Member(S),
                          "logGroupIdentifiers": Member(L, items=S)},
    "CreateLogStream": {"logGroupName": Member(S, True), "logStreamName": Member(S, True)},
    "DeleteLogStream": {"logGroupName": Member(S, True), "logStreamName": Member(S, True)},
    "DescribeLogStreams": {"logGroupName": Member(S), "logGroupIdentifier": Member(S),
                           "logStreamNamePrefix": Member(S), "orderBy": Member(S),
                           "descending": Member(B), "nextToken": Member(S), "limit": Member(I)},
    "PutLogEvents": {"logGroupName": Member(S, True), "logStreamName": Member(S, True),
                     "logEvents": Member(L, True, items=D), "sequenceToken": Member(S),
                     "entity": Member(D)},
    "GetLogEvents": {"logGroupName": Member(S), "logGroupIdentifier": Member(S),
                     "logStreamName": Member(S, True), "startTime": Member(I),
                     "endTime": Member(I), "nextToken": Member(S), "limit": Member(I),
                     "startFromHead": Member(B), "unmask": Member(B)},
    "FilterLogEvents": {"logGroupName": Member(S), "logGroupIdentifier": Member(S),
                        "logStreamNames": Member(L, items=S), "logStreamNamePrefix": Member(S),
                        "startTime": Member(I), "endTime": Member(I), "filterPattern": Member(S),
                        "nextToken": Member(S), "limit": Member(I), "interleaved": Member(B),
                        "unmask": Member(B)},
    "PutRetentionPolicy": {"logGroupName": Member(S, True), "retentionInDays": Member(I, True)},
    "DeleteRetentionPolicy": {"logGroupName": Member(S, True)},
}
# Accepted for compatibility and ignored (AWS features tandem has no use for locally).
_IGNORED = {"kms_key_id", "tags", "log_group_class", "deletion_protection_enabled",
            "account_identifiers", "include_linked_accounts", "log_group_identifiers", "entity"}


def _log_events(events: list[dict[str, Any]]) -> list[InputLogEvent]:
    out = []
    for i, event in enumerate(events):
        timestamp, message = event.get("timestamp"), event.get("message")
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            raise InvalidParameterValue(
                f"1 validation error detected: Value at 'logEvents.{i + 1}.member.timestamp' "
                "failed to satisfy constraint: Member must be an integer"
            )
        if not isinstance(message, str):
            raise InvalidParameterValue(
                f"1 validation error detected: Value at 'logEvents.{i + 1}.member.message' "
                "failed to satisfy constraint: Member must be a string"
            )
        out.append(InputLogEvent(timestamp, message))
    return out


class LogsService:
    target_prefix = "Logs_20140328"
    content_type = "application/x-amz-json-1.1"

    def __init__(self, logs: LogService) -> None:
        self.logs = logs
        self.operations: dict[str, Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]] = {
            name: self._operation(name) for name in _SHAPES
        }

    @staticmethod
    def render_error(error: TandemError) -> tuple[int, dict[str, str], bytes]:
        code, status = lookup(error, _ERRORS)
        body = json.dumps({"__type": code, "message": error.message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1"}, body

    def _operation(self, name: str) -> Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]:
        shape = _SHAPES[name]
        method = getattr(self.logs, snake(name))

        async def call(body: Mapping[str, Any]) -> dict[str, Any]:
            kwargs = {k: v for k, v in parse_members(body, shape).items() if k not in _IGNORED}
            if "log_events" in kwargs:
                kwargs["log_events"] = _log_events(kwargs["log_events"])
            result = await method(**kwargs)
            if result is None:
                return {}
            wire = to_wire(result)
            if name == "DescribeLogStreams":
                for stream in wire.get("logStreams", []):
                    stream["storedBytes"] = 0  # always 0 on AWS since 2019
            return wire

        return call

