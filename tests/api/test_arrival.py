"""Requests served by tandem's application carry the moment aiohttp parsed them, taken before
routing, middlewares and the handler (OverheadLatency counts from there)."""

from __future__ import annotations

import time
import warnings

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tandem.api.arrival import ARRIVED, StampedApplication


async def test_arrival_is_stamped_before_middlewares_and_handler() -> None:
    seen: dict[str, float] = {}

    @web.middleware
    async def slow(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen["middleware"] = time.perf_counter()
        time.sleep(0.002)  # work before the handler must count in the overhead
        return await handler(request)

    async def handler(request: web.Request) -> web.Response:
        seen["handler"] = time.perf_counter()
        seen["arrived"] = request[ARRIVED]
        return web.Response()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeprecationWarning for the subclass at use
        app = StampedApplication(middlewares=[slow])
    app.router.add_post("/x", handler)
    async with TestClient(TestServer(app)) as client:
        before = time.perf_counter()
        assert (await client.post("/x", data=b"1")).status == 200
    assert before < seen["arrived"] < seen["middleware"] < seen["handler"]
    assert seen["handler"] - seen["arrived"] >= 0.002
