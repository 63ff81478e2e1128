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


async def test_direct_route_skips_router_and_middlewares_but_not_the_stamp() -> None:
    calls: list[str] = []

    @web.middleware
    async def counting(request: web.Request, handler):  # type: ignore[no-untyped-def]
        calls.append("middleware")
        return await handler(request)

    async def routed(request: web.Request) -> web.Response:
        calls.append("routed")
        return web.Response(text="routed")

    async def direct(request: web.Request) -> web.Response:
        calls.append("direct")
        assert request[ARRIVED] > 0
        return web.Response(text=f"direct {await request.text()}")

    app = StampedApplication(middlewares=[counting])
    app.router.add_post("/", routed)
    app.router.add_get("/", routed)
    app.add_direct("POST", "/", direct)
    async with TestClient(TestServer(app)) as client:
        assert await (await client.post("/", data=b"body")).text() == "direct body"
        assert calls == ["direct"]
        # Only the exact method and path: GET / and POST /other meet the router.
        assert await (await client.get("/")).text() == "routed"
        assert (await client.post("/other")).status == 404
        assert calls == ["direct", "middleware", "routed", "middleware"]
        # Expect: 100-continue is answered by the router's match, so it takes the router.
        calls.clear()
        response = await client.post("/", data=b"x", headers={"Expect": "100-continue"})
        assert (response.status, await response.text()) == (200, "routed")
        assert calls == ["middleware", "routed"]
