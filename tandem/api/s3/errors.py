"""S3's wire errors, and the one place every error becomes S3's ``<Error>`` document."""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from aiohttp import web

from ...errors import TandemError
from ...objects import ObjectStoreError
from ...objects.errors import PreconditionFailed
from .. import auth

__all__ = [
    "S3WireError",
    "AccessDenied",
    "BadDigest",
    "InvalidDigest",
    "InvalidRange",
    "InvalidRequest",
    "MalformedXML",
    "MethodNotAllowed",
    "NotImplementedOperation",
    "PreconditionFailed",
    "ContentSha256Mismatch",
    "IncompleteBody",
    "error_response",
]

_log = logging.getLogger(__name__)


class S3WireError(ObjectStoreError):
    """An error the S3 API itself raises (not the object store): same shape."""


class AccessDenied(S3WireError):
    code = "AccessDenied"
    status = 403


class BadDigest(S3WireError):
    code = "BadDigest"
    status = 400


class InvalidDigest(S3WireError):
    code = "InvalidDigest"
    status = 400


class InvalidRange(S3WireError):
    code = "InvalidRange"
    status = 416


class InvalidRequest(S3WireError):
    code = "InvalidRequest"
    status = 400


class MalformedXML(S3WireError):
    code = "MalformedXML"
    status = 400


class MethodNotAllowed(S3WireError):
    code = "MethodNotAllowed"
    status = 405


class NotImplementedOperation(S3WireError):
    code = "NotImplemented"
    status = 501


class ContentSha256Mismatch(S3WireError):
    code = "XAmzContentSHA256Mismatch"
    status = 400


class IncompleteBody(S3WireError):
    code = "IncompleteBody"
    status = 400


# SigV4 failures, as S3 names them (every other protocol's names are in tandem.api.auth).
# IncompleteSignature is AccessDenied, not AuthorizationHeaderMalformed (400): botocore's
# region redirector would retry that one.
_AUTH_CODES: dict[type[auth.AuthFailure], str] = {
    auth.MissingAuthenticationToken: "AccessDenied",
    auth.IncompleteSignature: "AccessDenied",
    auth.UnrecognizedClient: "InvalidAccessKeyId",
    auth.InvalidSignature: "SignatureDoesNotMatch",
}


def _identity(error: Exception) -> tuple[str, int]:
    if isinstance(error, auth.AuthFailure):
        for cls in type(error).__mro__:
            if cls in _AUTH_CODES:
                return _AUTH_CODES[cls], 403
        return "AccessDenied", 403
    if isinstance(error, ObjectStoreError):
        return error.code, error.status
    if isinstance(error, TandemError) and error.status < 500:
        return "InvalidRequest", 400
    return "InternalError", 500


def error_response(
    error: Exception, *, request_id: str, resource: str, head: bool = False
) -> web.Response:
    """S3's error: ``<Error>`` XML with Code, Message, Resource, RequestId and the error's
    details; a HEAD gets the status alone (HTTP forbids it a body)."""
    code, status = _identity(error)
    if status >= 500:
        _log.error("S3 request %s failed", resource, exc_info=error)
        message = "We encountered an internal error. Please try again."
    else:
        message = str(error)
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id}
    if head:
        return web.Response(status=status, headers=headers)
    fields = {"Resource": getattr(error, "resource", "") or resource, "RequestId": request_id}
    if isinstance(error, TandemError):
        fields.update({k: str(v) for k, v in error.details.items() if k not in fields})
    parts = [f"<Code>{escape(code)}</Code>", f"<Message>{escape(message)}</Message>"]
    parts += [f"<{name}>{escape(value)}</{name}>" for name, value in fields.items()]
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>"
    headers["Content-Type"] = "application/xml"
    return web.Response(status=status, headers=headers, body=body.encode())
