"""CloudWatch over awsJson1_0: ``X-Amz-Target: GraniteServiceVersion20100801.<Op>``.

What current boto3 and AWS CLI v1 send. Timestamps are epoch seconds (ISO
text accepted too); doubles may be the strings ``NaN``/``Infinity``/
``-Infinity``. Errors are ``{"__type": "com.amazonaws.cloudwatch.v2010_08_01#<Shape>",
"message": ...}``; the service adds ``x-amzn-query-error``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..aws_json import decode_json, encode_json
from .errors import MalformedRequest, WireError
from .shapes import input_coercer, parse_time_text, wrong_type

__all__ = ["CONTENT_TYPE", "TARGET_PREFIX", "decode", "members", "parse", "render", "render_error"]

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "GraniteServiceVersion20100801"
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _scalar(kind: str, value: Any, path: str) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "double":
        if number:
            return float(value) if not isinstance(value, int) or abs(value) < 2**1023 else math.inf
        if isinstance(value, str) and value in _SPECIAL:
            return _SPECIAL[value]
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "timestamp":
        if number:
            return float(value) if not isinstance(value, int) or abs(value) < 2**1023 else math.inf
        if isinstance(value, str):
            return parse_time_text(value, path)
    raise wrong_type(path, kind)


def parse(body: bytes) -> dict[str, Any]:
    """The JSON object of a body, members not yet checked (an empty body is ``{}``)."""
    try:
        data = decode_json(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedRequest("The request body must be a JSON object.")
    return data


def members(operation: str, data: dict[str, Any]) -> dict[str, Any]:
    """The operation's members from a parsed body, checked and coerced to their shapes."""
    return input_coercer(operation, _scalar)(data)


def decode(operation: str, body: bytes) -> dict[str, Any]:
    """The operation's members from a JSON body (an empty body is ``{}``)."""
    return members(operation, parse(body))


def render(operation: str, result: dict[str, Any] | None) -> bytes:
    return encode_json(result or {})


def render_error(error: WireError, message: str) -> bytes:
    return json.dumps({"__type": error.json_type, "message": message}).encode()
