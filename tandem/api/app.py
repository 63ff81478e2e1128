"""The one aiohttp application: every API on one port, as LocalStack's edge port does.

Routing by the request's own markers: ``/endpoints/{name}/invocations`` is
the SageMaker runtime; ``POST /`` with ``X-Amz-Target`` goes to the awsJson
service owning that prefix. CloudWatch metrics (``cloudwatch``) also answer
``X-Amz-Target: GraniteServiceVersion20100801.*``, form-encoded ``POST /``
(query) and ``POST .../service/<Svc>/operation/<Op>`` (rpc-v2-cbor).

A standby (a server that does not lead the shared store) passes ``forward``: a middleware ahead
of all others sends it every request but ``GET /ping`` and InvokeEndpoint (``api/forwarding.py``).

Two middlewares: ``auth`` (only with access keys configured) checks SigV4
signatures; ``errors`` renders what never reaches an operation (no route, a
refused signature) and any exception no operation caught (logged with its traceback, answered
as InternalFailure) in the shape of the protocol the request speaks.

S3 and STS share the URL space (a bucket may be named ``endpoints``): they are told by the
service of the request's SigV4 credential scope (``api/s3/scope.py``). S3 requests are
answered ahead of every route and middleware by the S3 service (which checks its own
signatures: its bodies stream); STS's ``POST /`` forms go to STS (and IAM's to its refusal,
``api/iam.py``) before CloudWatch's query protocol would take them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.streams import StreamReader

from ..errors import InternalFailure, TandemError
from . import runtime as runtime_api
from .arrival import StampedApplication
from .auth import AuthFailure, SignedRequest, verify
from .aws_json import (
    AwsJsonService,
    RequestTooLarge,
    UnknownOperation,
    dispatch,
    error_response,
    json11_error,
)
from .forwarding import served_by_standby
from .iam import refuse_iam
from .s3 import S3Service, signing_service
from .sts import StsService

if TYPE_CHECKING:
    from .cloudwatch import CloudWatchService

__all__ = ["build_app", "CLIENT_MAX_SIZE"]

_log = logging.getLogger(__name__)

# Invocation bodies go up to 6 MiB; leave room for the envelope.
CLIENT_MAX_SIZE = 8 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class UnknownRoute(UnknownOperation):
    """A path no API serves (the runtime's rest-json protocol answers 404)."""

    status = 404


class _Protocols:
    """Which protocol a request speaks, and that protocol's error shape."""

    def __init__(self, services: Mapping[str, list[AwsJsonService]], cloudwatch: Any) -> None:
        self.services = services
        self.cloudwatch = cloudwatch

    def render(self, request: web.Request, error: TandemError) -> web.Response:
        request_id = str(uuid.uuid4())
        target = request.headers.get("X-Amz-Target", "")
        cw = self.cloudwatch
        if request.path.startswith("/endpoints/"):
            return runtime_api.error_response(error)
        if cw is not None:
            if target.startswith(cw.target_prefix + ".") or "/operation/" in request.path:
                return _cloudwatch_error(
                    request, error, request_id, cbor="/operation/" in request.path
                )
            if not target and request.path == "/" and request.method == "POST":
                return _cloudwatch_error(request, error, request_id, query=True)
        prefix = target.rpartition(".")[0]
        candidates = self.services.get(prefix)
        render = candidates[0].render_error if candidates else json11_error
        return error_response(render, error, request_id)


def _cloudwatch_error(
    request: web.Request,
    error: TandemError,
    request_id: str,
    *,
    cbor: bool = False,
    query: bool = False,
) -> web.Response:
    # Imported here: the CloudWatch package is optional to this module.
    from .cloudwatch import cbor as cw_cbor
    from .cloudwatch import json10, query_xml
    from .cloudwatch.errors import WireError, wire_error

    wire = wire_error(error)
    if isinstance(error, AuthFailure):
        wire = WireError(error.code, error.query_code, error.status)
    if query:
        return web.Response(
            status=wire.status,
            headers={
                "Content-Type": query_xml.CONTENT_TYPE,
                "x-amzn-RequestId": request_id,
            },
            body=query_xml.render_error(wire, error.message, request_id),
        )
    headers = {
        "x-amzn-RequestId": request_id,
        "x-amzn-query-error": f"{wire.query_code};{wire.fault}",
    }
    if cbor:
        headers.update({"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": cw_cbor.CONTENT_TYPE})
        body = cw_cbor.render_error(wire, error.message)
    else:
        headers["Content-Type"] = json10.CONTENT_TYPE
        body = json10.render_error(wire, error.message)
    return web.Response(status=wire.status, headers=headers, body=body)


def _errors_middleware(protocols: _Protocols) -> Any:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            runtime = request.path.startswith("/endpoints/")
            if exc.status < 400 or (request.method == "GET" and not runtime):
                raise
            return protocols.render(
                request, UnknownRoute(f"No operation answers {request.method} {request.path} here.")
            )
        except Exception:  # noqa: BLE001 - what no operation caught still gets its protocol's shape
            _log.exception("%s %s failed", request.method, request.path)
            if request.method == "GET" and not request.path.startswith("/endpoints/"):
                return web.Response(
                    status=500, text="Internal server error; the server log has the details."
                )
            return protocols.render(
                request,
                InternalFailure("An internal error occurred; the server log has the details."),
            )

    return errors


def _auth_middleware(
    keys: Mapping[str, str], protocols: _Protocols, now: Callable[[], dt.datetime]
) -> Any:
    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return await handler(request)  # health, dashboards and scrapes stay open
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return protocols.render(request, RequestTooLarge("The request body is too large."))
        signed = SignedRequest(
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        try:
            verify(signed, keys, now())
        except AuthFailure as error:
            return protocols.render(request, error)
        # The body is read; handlers that stream it (the runtime) get it again.
        # A limit below half the body would make the reader pause the connection's parser,
        # which has finished with this request (aiohttp asserts): 500s for bodies > 128 KiB.
        limit = max(2**16, len(body))
        reader = StreamReader(request.protocol, limit, loop=asyncio.get_running_loop())
        reader.feed_data(body)
        reader.feed_eof()
        request._payload = reader  # noqa: SLF001 - aiohttp has no public way to re-feed a body
        return await handler(request)

    return auth


def _s3_middleware(s3: S3Service) -> Any:
    @web.middleware
    async def s3_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        if signing_service(request.headers.get("Authorization"), request.query) == "s3":
            return await s3.handle(request)
        return await handler(request)

    return s3_requests


def _forward_middleware(forward: Handler) -> Any:
    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if served_by_standby(request):
            return await handler(request)
        return await forward(request)

    return forwarded


def build_app(
    services: list[AwsJsonService],
    cloudwatch: CloudWatchService | None = None,
    *,
    auth_keys: Mapping[str, str] | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    s3: S3Service | None = None,
    sts: StsService | None = None,
    forward: Handler | None = None,
) -> web.Application:
    """``cloudwatch``: a ``tandem.api.cloudwatch.CloudWatchService`` (optional);
    ``auth_keys``: access key id -> secret, to require SigV4 signatures; ``s3``, ``sts``:
    those services on the same port (optional); ``forward``: a standby's way to the leader,
    for every request it does not serve itself (the leader checks their signatures)."""
    # Several services may share a prefix (SageMaker's endpoints and jobs): the first that
    # declares the operation answers it.
    by_prefix: dict[str, list[AwsJsonService]] = {}
    for service in services:
        by_prefix.setdefault(service.target_prefix, []).append(service)
    protocols = _Protocols(by_prefix, cloudwatch)
    errors = _errors_middleware(protocols)
    middlewares = [errors]
    if s3 is not None:
        middlewares.insert(0, _s3_middleware(s3))
    if auth_keys:
        middlewares.append(_auth_middleware(auth_keys, protocols, now))
    if forward is not None:
        middlewares.insert(0, _forward_middleware(forward))
    # Stamped: the runtime's OverheadLatency counts from when the request was parsed.
    app = StampedApplication(client_max_size=CLIENT_MAX_SIZE, middlewares=middlewares)

    async def aws_root(request: web.Request) -> web.StreamResponse:
        target = request.headers.get("X-Amz-Target", "")
        if not target and (sts is not None or s3 is not None):
            # POST / is answered ahead of the middlewares: S3's scope is told here too.
            signed_for = signing_service(request.headers.get("Authorization"), request.query)
            if signed_for == "sts" and sts is not None:
                return await sts.handle(request)
            if signed_for == "iam":
                return await refuse_iam(request)
            if signed_for == "s3" and s3 is not None:
                return await s3.handle(request)
        if cloudwatch is not None:
            if target.startswith(cloudwatch.target_prefix + "."):
                return await cloudwatch.json10(request)
            if not target and (
                request.content_type == "application/x-www-form-urlencoded"
                or "Action" in request.query
            ):
                return await cloudwatch.query(request)
        prefix, _, operation = target.rpartition(".")
        candidates = by_prefix.get(prefix, [])
        service = next(
            (c for c in candidates if operation in c.operations),
            candidates[0] if candidates else None,
        )
        if service is None:
            return error_response(
                json11_error,
                UnknownOperation(
                    f"No service answers X-Amz-Target {target!r} here."
                    if target
                    else "Missing X-Amz-Target header."
                ),
            )
        return await dispatch(service, operation, request)

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="")

    async def close_services(app: web.Application) -> None:
        # Long-lived responses (live tails) end here, before the server waits for handlers.
        for service in services:
            close = getattr(service, "close", None)
            if close is not None:
                await close()

    app.on_shutdown.append(close_services)
    app.router.add_post("/", aws_root)
    # Signatures are checked by a middleware, and a standby forwards from one: then every
    # request meets them.
    if not auth_keys and forward is None:
        app.add_direct("POST", "/", functools.partial(errors, handler=aws_root))
    if cloudwatch is not None:
        app.router.add_post(r"/{prefix:.*}service/{service}/operation/{operation}", cloudwatch.cbor)
    app.router.add_get("/ping", ping)
    return app
