"""SageMaker Runtime (rest-json): ``POST /endpoints/{EndpointName}/invocations``.

Parses InvokeEndpoint's headers into an ``Invocation``, hands it to the
router, and renders the result or the error exactly as SageMaker does:
``x-amzn-ErrorType`` names the error (botocore reads the code from it),
ModelError carries OriginalStatusCode, OriginalMessage and LogStreamArn at
the top level of the JSON body.
"""

from __future__ import annotations

import json
import logging
import re
import time
from random import getrandbits

from aiohttp import web

from ..errors import InternalFailure, TandemError
from ..serving.errors import InvocationError, ModelError
from ..serving.router import MAX_PAYLOAD_BYTES, Invocation, Router
from .arrival import ARRIVED

__all__ = ["add_routes", "error_response"]

_log = logging.getLogger(__name__)
_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
_ROUTER = web.AppKey("runtime_router", Router)
# Endpoint names already seen to be valid, so the pattern runs once per name, not per request.
_VALID_NAMES: set[str] = set()
_VALID_NAMES_LIMIT = 4096
# Version 4 and RFC 4122 variant bits of a UUID held as a 128-bit integer.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def _request_id() -> str:
    """A random (version 4) UUID string; a third of ``str(uuid.uuid4())``'s cost per request."""
    h = f"{getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def error_response(error: TandemError, trace_id: str | None = None) -> web.Response:
    body: dict[str, object] = {"message": error.message, "Message": error.message}
    if isinstance(error, ModelError):
        body = {
            "ErrorCode": error.error_code,
            "LogStreamArn": error.log_stream_arn,
            "Message": error.message,
            "OriginalMessage": error.original_message,
            "OriginalStatusCode": error.original_status,
        }
        if trace_id is not None:
            # The trace to look up, and the id its containers' log lines carry: in the
            # message (what SDKs show) and as its own member (beyond SageMaker's shape).
            body["Message"] = f"{error.message} Trace ID: {trace_id}."
            body["TraceId"] = trace_id
    return web.Response(
        status=error.status,
        body=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": error.code,
            "x-amzn-RequestId": _request_id(),
        },
    )


def _header(request: web.Request, name: str, limit: int) -> str | None:
    value = request.headers.get(name)
    if value is not None and len(value) > limit:
        raise InvocationError(f"{name} must be at most {limit} characters.")
    return value


async def invoke_endpoint(request: web.Request) -> web.StreamResponse:
    # From when aiohttp parsed the request (``StampedApplication``), else from here.
    started = request.get(ARRIVED) or time.perf_counter()
    router = request.app[_ROUTER]
    name = request.match_info["name"]
    variant = None
    model_us = 0.0
    tracer = router.tracer
    trace = None
    if tracer is not None:
        incoming = request.headers
        parent = incoming.get("traceparent")
        # tracestate means nothing without a traceparent: not looked up then.
        state = incoming.get("tracestate") if parent is not None else None
        # The Host header (aiohttp's fallback only without one), parsed when spans are built.
        trace = tracer.begin(parent, state, started, name,
                             incoming.get("Host") or request.host)
    try:
        if name not in _VALID_NAMES:
            if len(name) > 63 or not _NAME_RE.match(name):
                raise InvocationError(
                    f"1 validation error detected: Value '{name}' at 'endpointName' failed to "
                    "satisfy constraint: Member must satisfy regular expression pattern: "
                    "^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
                )
            if len(_VALID_NAMES) >= _VALID_NAMES_LIMIT:
                _VALID_NAMES.clear()
            _VALID_NAMES.add(name)
        if request.content_length is not None and request.content_length > MAX_PAYLOAD_BYTES:
            raise InvocationError(
                f"Request body of {request.content_length} bytes exceeds the limit of "
                f"{MAX_PAYLOAD_BYTES} bytes."
            )
        body = await request.content.read(MAX_PAYLOAD_BYTES + 1)
        inv = Invocation(
            endpoint_name=name,
            body=body,
            content_type=_header(request, "Content-Type", 1024),
            accept=_header(request, "Accept", 1024),
            custom_attributes=_header(request, "X-Amzn-SageMaker-Custom-Attributes", 1024),
            target_variant=_header(request, "X-Amzn-SageMaker-Target-Variant", 63),
            target_container=_header(request, "X-Amzn-SageMaker-Target-Container-Hostname", 63),
            inference_id=_header(request, "X-Amzn-SageMaker-Inference-Id", 64),
            trace=trace,
        )
        if trace is not None:
            trace.inference_id = inv.inference_id
        result = await router.invoke(inv)
        variant = result.variant
        model_us = result.model_latency_us
        headers = {
            "x-Amzn-Invoked-Production-Variant": variant.name,
            "x-amzn-RequestId": _request_id(),
        }
        if result.content_type is not None:
            headers["Content-Type"] = result.content_type
        if result.custom_attributes is not None:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = result.custom_attributes
        response = web.Response(body=result.body, headers=headers)
        if result.content_type is None:
            # aiohttp would otherwise add application/octet-stream.
            response.content_type = "application/octet-stream"
    except TandemError as error:
        trace_id = None
        # A counted invocation (a model error, a failure the router counted) names its variant.
        variant = error.details.get("variant", variant)
        model_us = error.details.get("model_latency_us", model_us)
        if isinstance(error, ModelError):
            if trace is not None:
                trace_id = trace.trace_hex
                trace.error_type = "ModelError"
                trace.error_message = (f"container answered {error.original_status}"
                                       if error.original_status else "no answer from container")
        elif trace is not None and error.status >= 500:
            trace.error_type = error.code
        response = error_response(error, trace_id)
    except Exception:  # noqa: BLE001 - the one place the runtime's unexpected errors become a 500
        _log.exception("InvokeEndpoint %s failed", name)
        if trace is not None:
            trace.error_type = "InternalFailure"
        response = error_response(
            InternalFailure("An internal error occurred; the server log has the details.")
        )
    await response.prepare(request)
    await response.write_eof()
    finished = time.perf_counter()
    if variant is not None:
        router.record_overhead(variant, model_us, finished - started)
    if trace is not None and tracer is not None:
        tracer.end(trace, finished, response.status)
    return response


def add_routes(app: web.Application, router: Router) -> None:
    app[_ROUTER] = router
    app.router.add_post("/endpoints/{name}/invocations", invoke_endpoint)
