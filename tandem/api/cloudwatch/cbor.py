"""CloudWatch over Smithy RPC v2 CBOR: ``POST .../service/<Svc>/operation/<Op>``.

What the Java SDK v2 sends. Requests may use indefinite-length containers,
float16/32/64 and integers where doubles are expected, and timestamps as
tag 1 over an integer or a float (cbor2 decodes those to datetimes); ``undefined``
counts as null. Responses are always a CBOR map (``a0`` when empty: botocore
cannot parse an empty body), with timestamps as tag 1 + float64.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import cbor2

from .errors import MalformedRequest, WireError
from .shapes import OUTPUTS, Shape, input_coercer, wrong_type

__all__ = [
    "CONTENT_TYPE", "decode", "members", "parse", "render", "render_error", "operation_from_path"
]

CONTENT_TYPE = "application/cbor"
SERVICE_NAMES = ("GraniteServiceVersion20100801",
                 "com.amazonaws.cloudwatch.GraniteServiceVersion20100801")  # fmt: skip


def operation_from_path(path: str) -> tuple[str, str] | None:
    """(service, operation) from the last four path segments, or None if they do not fit."""
    parts = path.rstrip("/").split("/")[-4:]
    if len(parts) != 4 or parts[0] != "service" or parts[2] != "operation":
        return None
    return parts[1], parts[3]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar(kind: str, value: Any, path: str) -> Any:
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "double" and _number(value):
        return float(value) if not isinstance(value, int) or abs(value) < 2**1023 else math.inf
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value.timestamp()
        if _number(value):
            return float(value) if not isinstance(value, int) or abs(value) < 2**1023 else math.inf
    raise wrong_type(path, kind)


def _undefined_to_none(value: Any) -> Any:
    if value is cbor2.undefined:
        return None
    if isinstance(value, dict):
        return {k: _undefined_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_undefined_to_none(v) for v in value]
    return value


def parse(body: bytes) -> dict[str, Any]:
    """The CBOR map of a body, members not yet checked (an empty body is an empty map)."""
    if not body:
        data: Any = {}
    else:
        try:
            data = cbor2.loads(body)
        except Exception as exc:  # noqa: BLE001 - cbor2 raises several types for bad input
            raise MalformedRequest(f"The request body is not valid CBOR: {exc}") from None
    data = _undefined_to_none(data)
    if not isinstance(data, dict):
        raise MalformedRequest("The request body must be a CBOR map.")
    return data


def members(operation: str, data: dict[str, Any]) -> dict[str, Any]:
    """The operation's members from a parsed body, checked and coerced to their shapes."""
    return input_coercer(operation, _scalar)(data)


def decode(operation: str, body: bytes) -> dict[str, Any]:
    """The operation's members from a CBOR body (an empty body is an empty map)."""
    return members(operation, parse(body))


def _tagged(value: Any, shape: Shape) -> Any:
    if shape.kind == "timestamp":
        return cbor2.CBORTag(1, float(value))
    if shape.kind == "double":
        return float(value)
    if shape.kind == "structure":
        return {k: _tagged(v, shape.members[k]) for k, v in value.items() if v is not None}
    if shape.kind == "list":
        assert shape.member is not None
        return [_tagged(v, shape.member) for v in value]
    if shape.kind == "map":
        assert shape.member is not None
        return {k: _tagged(v, shape.member) for k, v in value.items()}
    return value


def render(operation: str, result: dict[str, Any] | None) -> bytes:
    shape = OUTPUTS[operation]
    if result is None or shape is None:
        return cbor2.dumps({})
    return cbor2.dumps(_tagged(result, shape))


def render_error(error: WireError, message: str) -> bytes:
    return cbor2.dumps({"__type": error.json_type, "message": message})
