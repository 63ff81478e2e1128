"""A standby's forwarding, in process: requests reach a stand-in leader verbatim (Host and
Authorization kept, hop-by-hop headers dropped, X-Forwarded-For appended, bodies streamed), its
answer comes back unchanged, and an unreachable leader is a 503 naming its URL."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from tandem.api.app import build_app
from tandem.api.forwarding import LeaderForwarding
from tandem.leadership import Lead


class _Source:
    def __init__(self, url: str, stored: str | None = None) -> None:
        self.lead = Lead(1, "leader", url)
        self.stored = Lead(1, "leader", stored if stored is not None else url)
        self.reads = 0

    async def read_lead(self) -> Lead:
        self.reads += 1
        self.lead = self.stored
        return self.stored


async def _leader_app(seen: list[dict[str, Any]]) -> web.Application:
    async def echo(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen.append({"method": request.method, "path_qs": request.rel_url.raw_path_qs,
                     "headers": dict(request.headers), "body": body})  # fmt: skip
        response = web.StreamResponse(status=207, headers={"X-Leader": "yes",
                                                           "Content-Type": "application/x-a"})
        await response.prepare(request)  # chunked: no length
        for start in range(0, len(body), 65536):
            await response.write(body[start : start + 65536])
        await response.write_eof()
        return response

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
async def leader() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    server = TestServer(await _leader_app(seen))
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}", seen
    await server.close()


async def _standby(source: _Source) -> TestClient:
    forwarding = LeaderForwarding(source, answer_timeout=5.0)
    await forwarding.start()
    app = build_app([], forward=forwarding)
    app.on_cleanup.append(lambda _app: forwarding.close())
    return TestClient(TestServer(app))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_call_reaches_the_leader_verbatim_and_its_answer_comes_back(leader) -> None:  # type: ignore[no-untyped-def]
    url, seen = leader
    body = os.urandom(3 * 1024 * 1024 + 5)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100_000):
            yield body[start : start + 100_000]

    async with await _standby(_Source(url)) as standby:
        response = await standby.put(
            URL("/bucket/a%2Fkey?partNumber=2&uploadId=a%2Fb", encoded=True), data=chunks(),
            headers={"Host": "balancer.example:443", "Authorization": "AWS4-HMAC-SHA256 sig",
                     "X-Amz-Date": "20240101T000000Z", "Connection": "keep-alive, X-Hop",
                     "X-Hop": "dropped", "X-Forwarded-For": "10.1.1.1"},
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )  # fmt: skip
        assert response.status == 207
        assert response.headers["X-Leader"] == "yes"
        assert response.headers["Content-Type"] == "application/x-a"
        assert await response.read() == body
        ping = await standby.get("/ping")  # answered by the standby itself
        assert ping.status == 200
    [request] = seen
    assert (request["method"], request["path_qs"]) == (
        "PUT", "/bucket/a%2Fkey?partNumber=2&uploadId=a%2Fb")
    # The client's headers less the hop-by-hop ones, the forwarding hop appended, nothing added;
    # the body streams on in chunks, as it came.
    assert request["headers"] == {
        "Host": "balancer.example:443", "Authorization": "AWS4-HMAC-SHA256 sig",
        "X-Amz-Date": "20240101T000000Z", "X-Forwarded-For": "10.1.1.1, 127.0.0.1",
        "Transfer-Encoding": "chunked"}  # fmt: skip
    assert request["body"] == body


async def test_an_unreachable_leader_is_a_503_naming_its_url() -> None:
    port = _closed_port()
    url = f"http://127.0.0.1:{port}"
    source = _Source(url)
    async with await _standby(source) as standby:
        response = await standby.post("/", data=b"{}", headers={"X-Amz-Target": "x.Y"})
        text = await response.text()
    assert response.status == 503
    assert text == (f"tandem standby: cannot reach the leader at {url}: [Errno 111] Connect call "
                    f"failed ('127.0.0.1', {port})\n")  # fmt: skip
    assert response.headers["Retry-After"] == "1"
    assert source.reads == 2  # at start, and again after the failed connection


async def test_a_failed_connection_rereads_the_lead_and_reaches_the_new_leader(leader) -> None:  # type: ignore[no-untyped-def]
    url, seen = leader
    source = _Source(url)
    async with await _standby(source) as standby:
        source.lead = Lead(1, "old", f"http://127.0.0.1:{_closed_port()}")  # a dead leader
        source.stored = Lead(2, "new", url)
        response = await standby.post("/", data=b'{"a": 1}', headers={"X-Amz-Target": "x.Y"})
        assert response.status == 207
        assert await response.read() == b'{"a": 1}'
    assert [r["body"] for r in seen] == [b'{"a": 1}']


async def test_no_advertised_leader_is_a_503() -> None:
    async with await _standby(_Source("")) as standby:
        response = await standby.get("/", params={"Action": "ListMetrics"})
        assert response.status == 503
        assert await response.text() == (
            "tandem standby: cannot reach the leader at (none advertised): "
            "no leader has advertised its URL yet\n")
