"""When a request arrived: a ``perf_counter()`` stamp taken as soon as aiohttp has parsed it.

OverheadLatency is the router's whole time per invocation minus ModelLatency. A clock started
in the handler misses what aiohttp does before it: building the request, a new task per
request going round the event loop (not eager before Python 3.12), routing and the
middlewares; under load that wait is most of the overhead a client sees. aiohttp calls
``Application._make_request`` right after parsing the message, so the stamp is taken there.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from aiohttp import web

__all__ = ["ARRIVED", "StampedApplication"]

ARRIVED = web.RequestKey("tandem_arrived", float)


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
