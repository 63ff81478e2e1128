"""The HTTP edge of CloudWatch metrics: one handler per protocol, errors mapped in one place.

Each handler reads the body (aiohttp has already undone ``Content-Encoding:
gzip``, in any letter case), decodes it with its protocol module, calls
``CloudWatchOperations`` and renders the result or the error. A body that does
not decompress or is too large becomes a typed error in the protocol's own
shape; an unexpected exception becomes a 500 ``InternalServiceError``, logged
with its trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from ...errors import InternalFailure, TandemError
from . import cbor, json10, query, query_xml
from .errors import MalformedRequest, RequestTooLarge, UnknownAction, wire_error
from .operations import OPERATION_NAMES, CloudWatchOperations

__all__ = ["CloudWatchService"]

_log = logging.getLogger(__name__)
_SMITHY = {"Smithy-Protocol": "rpc-v2-cbor"}
_OPERATIONS = frozenset(OPERATION_NAMES)
# What a PutMetricData answers (it has no output members), per protocol.
_JSON_EMPTY = ({"Content-Type": json10.CONTENT_TYPE}, json10.render("PutMetricData", None))
_CBOR_EMPTY = (
    {**_SMITHY, "Content-Type": cbor.CONTENT_TYPE}, cbor.render("PutMetricData", None)
)


async def _read(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestTooLarge("The request body is too large.") from None
    except RequestPayloadError as exc:
        raise MalformedRequest(f"The request body could not be read: {exc}") from None


def _query_mode(request: web.Request) -> bool:
    return request.headers.get("x-amzn-query-mode", "").lower() == "true"


class CloudWatchService:
    """CloudWatch's metric operations over awsJson1_0, query and rpc-v2-cbor."""

    target_prefix = json10.TARGET_PREFIX

    def __init__(self, operations: CloudWatchOperations) -> None:
        self.operations = operations

    async def _serve(
        self,
        request: web.Request,
        label: str,
        run: Callable[[str], Awaitable[tuple[dict[str, str], bytes]]],
        fail: Callable[[TandemError, str], tuple[int, dict[str, str], bytes]],
    ) -> web.Response:
        request_id = str(uuid.uuid4())
        try:
            headers, body = await run(request_id)
            return web.Response(body=body, headers={**headers, "x-amzn-RequestId": request_id})
        except TandemError as error:
            status, headers, body = fail(error, request_id)
        except Exception:  # noqa: BLE001 - the one place unexpected errors become a 500
            _log.exception("CloudWatch %s request failed", label)
            status, headers, body = fail(
                InternalFailure("An internal error occurred; the server log has the details."),
                request_id,
            )
        return web.Response(status=status, body=body,
                            headers={**headers, "x-amzn-RequestId": request_id})  # fmt: skip

    async def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        return await self.operations.call(operation, params)

    # -- awsJson1_0 -------------------------------------------------------------

    async def json10(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]

        async def run(request_id: str) -> tuple[dict[str, str], bytes]:
            if operation not in _OPERATIONS:
                raise UnknownAction(f"Unknown operation {json10.TARGET_PREFIX}.{operation}")
            data = json10.parse(await _read(request))
            if operation == "PutMetricData" and self.operations.put_plain(data):
                return _JSON_EMPTY
            result = await self._call(operation, json10.members(operation, data))
            return {"Content-Type": json10.CONTENT_TYPE}, json10.render(operation, result)

        def fail(error: TandemError, request_id: str) -> tuple[int, dict[str, str], bytes]:
            wire = wire_error(error)
            return (
                wire.status_for(_query_mode(request)),
                {
                    "Content-Type": json10.CONTENT_TYPE,
                    "x-amzn-query-error": f"{wire.query_code};{wire.fault}",
                },
                json10.render_error(wire, error.message),
            )

        return await self._serve(request, f"json {operation}", run, fail)

    # -- query ------------------------------------------------------------------

    async def query(self, request: web.Request) -> web.Response:
        async def run(request_id: str) -> tuple[dict[str, str], bytes]:
            operation, params = query.decode_form(await _read(request), request.query)
            if operation not in _OPERATIONS:
                raise UnknownAction(f"The action {operation} is not valid for this web service.")
            members = query.decode(operation, params)
            result = await self._call(operation, members)
            return {"Content-Type": query_xml.CONTENT_TYPE}, query_xml.render(
                operation, result, request_id)  # fmt: skip

        def fail(error: TandemError, request_id: str) -> tuple[int, dict[str, str], bytes]:
            wire = wire_error(error)
            return wire.status, {"Content-Type": query_xml.CONTENT_TYPE}, query_xml.render_error(
                wire, error.message, request_id)  # fmt: skip

        return await self._serve(request, "query", run, fail)

    # -- rpc-v2-cbor ------------------------------------------------------------

    async def cbor(self, request: web.Request) -> web.Response:
        target = cbor.operation_from_path(request.path)

        async def run(request_id: str) -> tuple[dict[str, str], bytes]:
            if (
                target is None
                or target[0] not in cbor.SERVICE_NAMES
                or target[1] not in _OPERATIONS
            ):
                raise UnknownAction(f"No CloudWatch operation at {request.path}.")
            operation = target[1]
            data = cbor.parse(await _read(request))
            if operation == "PutMetricData" and self.operations.put_plain(data):
                return _CBOR_EMPTY
            result = await self._call(operation, cbor.members(operation, data))
            return {**_SMITHY, "Content-Type": cbor.CONTENT_TYPE}, cbor.render(operation, result)

        def fail(error: TandemError, request_id: str) -> tuple[int, dict[str, str], bytes]:
            wire = wire_error(error)
            return wire.status_for(_query_mode(request)), {
                **_SMITHY, "Content-Type": cbor.CONTENT_TYPE,
                "x-amzn-query-error": f"{wire.query_code};{wire.fault}",
            }, cbor.render_error(wire, error.message)  # fmt: skip

        return await self._serve(request, "cbor", run, fail)
