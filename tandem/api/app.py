"""The one aiohttp application: every API on one port, as LocalStack's edge port does.

Routing by the request's own markers: ``/endpoints/{name}/invocations`` is
the SageMaker runtime; ``POST /`` with ``X-Amz-Target`` goes to the awsJson
service owning that prefix. CloudWatch metrics (``cloudwatch``) also answer
``X-Amz-Target: GraniteServiceVersion20100801.*``, form-encoded ``POST /``
(query) and ``POST .../service/<Svc>/operation/<Op>`` (rpc-v2-cbor).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import TandemError
from .aws_json import AwsJsonService, UnknownOperation, dispatch

__all__ = ["build_app", "CLIENT_MAX_SIZE"]

# Invocation bodies go up to 6 MiB; leave room for the envelope.
CLIENT_MAX_SIZE = 8 * 1024 * 1024


def build_app(services: list[AwsJsonService], cloudwatch: Any = None) -> web.Application:
    """``cloudwatch``: a ``tandem.api.cloudwatch.CloudWatchService`` (optional)."""
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    # Several services may share a prefix (SageMaker's endpoints and jobs): the first that
    # declares the operation answers it.
    by_prefix: dict[str, list[AwsJsonService]] = {}
    for service in services:
        by_prefix.setdefault(service.target_prefix, []).append(service)

    async def aws_root(request: web.Request) -> web.StreamResponse:
        target = request.headers.get("X-Amz-Target", "")
        if cloudwatch is not None:
            if target.startswith(cloudwatch.target_prefix + "."):
                return await cloudwatch.json10(request)
            if not target and (request.content_type == "application/x-www-form-urlencoded"
                               or "Action" in request.query):
                return await cloudwatch.query(request)
        prefix, _, operation = target.rpartition(".")
        candidates = by_prefix.get(prefix, [])
        service = next((c for c in candidates if operation in c.operations),
                       candidates[0] if candidates else None)
        if service is None:
            error: TandemError = UnknownOperation(
                f"No service answers X-Amz-Target {target!r} here." if target else
                "Missing X-Amz-Target header."
            )
            return web.json_response({"__type": error.code, "message": error.message}, status=400)
        return await dispatch(service, operation, await request.read())

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="")

    app.router.add_post("/", aws_root)
    if cloudwatch is not None:
        app.router.add_post(r"/{prefix:.*}service/{service}/operation/{operation}",
                            cloudwatch.cbor)
    app.router.add_get("/ping", ping)
    return app
