"""When a request arrived: a ``perf_counter()`` stamp taken as soon as aiohttp has parsed it.

OverheadLatency is the router's whole time per invocation minus ModelLatency. A clock started
in the handler misses what aiohttp does before it: building the request, a new task per
request going round the event loop (not eager before Python 3.12), routing and the
middlewares; under load that wait is most of the overhead a client sees. aiohttp calls
``Application._make_request`` right after parsing the message, so the stamp is taken there.

The same subclass serves direct routes: an exact method and path answered before the router
and the middlewares (the AWS APIs' POST /, where they are most of a small request's cost).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

__all__ = ["ARRIVED", "StampedApplication"]

ARRIVED = web.RequestKey("tandem_arrived", float)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_DIRECT = web.AppKey("tandem_direct_routes", dict)


# aiohttp discourages subclassing Application (a DeprecationWarning at class creation), but
# ``_make_request`` is the one hook it calls between parsing and the request's task.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)

    class StampedApplication(web.Application):
        """A ``web.Application`` whose requests carry ``request[ARRIVED]``."""

        def _make_request(self, *args: Any, **kwargs: Any) -> web.Request:
            arrived = time.perf_counter()
            request = super()._make_request(*args, **kwargs)
            request[ARRIVED] = arrived
            return request

        def add_direct(self, method: str, path: str, handler: Handler) -> None:
            """Serve ``method path`` (exactly) with ``handler`` ahead of the router and the
            middlewares: for the AWS APIs' one POST /, about 0.03-0.05 ms less per small
            request with a busy machine's cold caches (docs/performance/aws-api.md).
            ``handler`` must do what the middlewares would; the request has no match info
            (``request.app`` is not set)."""
            self.setdefault(_DIRECT, {})[(method, path)] = handler

        async def _handle(self, request: web.Request) -> web.StreamResponse:
            direct: dict[tuple[str, str], Handler] | None = self.get(_DIRECT)
            if direct:
                handler = direct.get((request.method, request.path))
                # Expect: 100-continue is answered by the router's match; leave it that way.
                if handler is not None and "Expect" not in request.headers:
                    return await handler(request)
            return await super()._handle(request)
