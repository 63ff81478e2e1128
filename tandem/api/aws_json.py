"""The awsJson transport: ``POST /`` with ``X-Amz-Target: <prefix>.<Operation>`` and a JSON body.

Services (SageMaker, CloudWatch Logs, CloudWatch's JSON 1.0) register their
target prefix and operations; this module only parses the envelope, calls
the operation and renders the result or the service's error shape. An
unexpected exception becomes a 500 ``InternalFailure``, logged with its trace.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from aiohttp import web

from ..errors import InternalFailure, TandemError

__all__ = ["AwsJsonService", "SerializationException", "UnknownOperation", "dispatch"]

_log = logging.getLogger(__name__)


class SerializationException(TandemError):
    code = "SerializationException"
    status = 400


class UnknownOperation(TandemError):
    code = "UnknownOperationException"
    status = 400


class AwsJsonService(Protocol):
    target_prefix: str
    content_type: str
    operations: Mapping[str, Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]]

    def render_error(self, error: TandemError) -> tuple[int, dict[str, str], bytes]: ...


def _json_default(value: Any) -> Any:
    raise TypeError(f"cannot serialise {type(value).__name__}")


async def dispatch(service: AwsJsonService, operation: str, raw: bytes) -> web.Response:
    request_id = str(uuid.uuid4())
    try:
        handler = service.operations.get(operation)
        if handler is None:
            raise UnknownOperation(f"Unknown operation {service.target_prefix}.{operation}")
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise SerializationException(f"The request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise SerializationException("The request body must be a JSON object.")
        result = await handler(body)
        payload = json.dumps(result, default=_json_default).encode()
        return web.Response(
            body=payload,
            headers={"Content-Type": service.content_type, "x-amzn-RequestId": request_id},
        )
    except TandemError as error:
        status, headers, payload = service.render_error(error)
    except Exception:  # noqa: BLE001 - the one place unexpected errors become a 500
        _log.exception("%s.%s failed", service.target_prefix, operation)
        status, headers, payload = service.render_error(
            InternalFailure("An internal error occurred; the server log has the details.")
        )
    return web.Response(status=status, body=payload,
                        headers={**headers, "x-amzn-RequestId": request_id})
