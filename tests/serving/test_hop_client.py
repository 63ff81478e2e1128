"""The router's hop client against real local servers: a scripted raw-socket server for the
wire details (reuse, chunked, close, idle drops, partial answers) and aiohttp for the rest."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from tandem.serving.hop_client import (
    HopClient,
    HopConnectError,
    HopDisconnected,
    HopTarget,
    render_headers,
)

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

# One scripted server: ``answer(n, request)`` gets the request's number (1-based, over all
# connections) and its raw bytes, and returns bytes to send then whether to close.
Answer = Callable[[int, bytes], tuple[bytes, bool]]


class Scripted:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> HopTarget:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return HopTarget.from_url(f"http://127.0.0.1:{port}/invocations")

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                data, close = self.answer(len(self.requests), request)
                writer.write(data)
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()


def _always(data: bytes, close: bool = False) -> Answer:
    return lambda n, request: (data, close)


@pytest.fixture
async def client():  # type: ignore[no-untyped-def]
    hop = HopClient()
    yield hop
    await hop.close()


async def _aiohttp_target(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):  # type: ignore[no-untyped-def]
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/invocations", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, HopTarget.from_url(f"http://127.0.0.1:{port}/invocations")


async def test_keep_alive_reuses_one_connection(client: HopClient) -> None:
    server = Scripted(_always(_OK))
    async with server as target:
        for _ in range(5):
            response = await client.post(target, b"", b"x")
            assert (response.status, response.body, response.content_type) == (
                200, b"ok", "text/plain"
            )
    assert server.connections == 1
    assert len(server.requests) == 5


async def test_request_is_the_rendered_head_and_body_only(client: HopClient) -> None:
    server = Scripted(_always(_OK))
    async with server as target:
        await client.post(target, render_headers(None, None, None), b"abc")
        await client.post(target, render_headers("application/json", "text/csv", "a=1"), b"{}")
    port = target.port
    assert server.requests == [
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 3\r\n\r\nabc"
        .encode(),
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
        "\r\nAccept: text/csv\r\nX-Amzn-SageMaker-Custom-Attributes: a=1\r\nContent-Length: 2"
        "\r\n\r\n{}".encode(),
    ]


async def test_chunked_response_is_reassembled(client: HopClient) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        b"X-Amzn-SageMaker-Custom-Attributes: k=v\r\n\r\n"
        b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    )
    server = Scripted(_always(chunked))
    async with server as target:
        first = await client.post(target, b"", b"1")
        second = await client.post(target, b"", b"2")
    assert (first.body, first.custom_attributes, first.content_type) == (b"abcdefg", "k=v", None)
    assert second.body == b"abcdefg"
    assert server.connections == 1


async def test_connection_close_response_is_not_pooled(client: HopClient) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    server = Scripted(_always(closing, close=True))
    async with server as target:
        assert (await client.post(target, b"", b"1")).body == b"ok"
        assert client.idle_connections(target) == 0
        assert (await client.post(target, b"", b"2")).body == b"ok"
    assert server.connections == 2


async def test_body_delimited_by_connection_close(client: HopClient) -> None:
    server = Scripted(_always(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-eof", True))
    async with server as target:
        response = await client.post(target, b"", b"1")
    assert (response.status, response.body) == (200, b"until-eof")


async def test_idle_connection_closed_by_the_container_is_dropped_from_the_pool(
    client: HopClient,
) -> None:
    # The container answers keep-alive, then closes the connection while it is idle.
    server = Scripted(_always(_OK, close=True))
    async with server as target:
        await client.post(target, b"", b"1")
        for _ in range(100):
            if client.idle_connections(target) == 0:
                break
            await asyncio.sleep(0.001)
        assert client.idle_connections(target) == 0
        assert (await client.post(target, b"", b"2")).body == b"ok"
    assert (server.connections, len(server.requests)) == (2, 2)


async def test_reused_connection_dropped_before_any_answer_is_retried_once_fresh(
    client: HopClient,
) -> None:
    # The close races the next request: the container reads it and closes without a byte.
    server = Scripted(lambda n, request: (b"", True) if n == 2 else (_OK, False))
    async with server as target:
        await client.post(target, b"", b"1")
        response = await client.post(target, b"", b"2")
    assert response.body == b"ok"
    assert (server.connections, len(server.requests)) == (2, 3)
    assert server.requests[1] == server.requests[2]


async def test_fresh_connection_dropped_is_not_retried(client: HopClient) -> None:
    server = Scripted(_always(b"", close=True))
    async with server as target:
        with pytest.raises(HopDisconnected):
            await client.post(target, b"", b"1")
    assert (server.connections, len(server.requests)) == (1, 1)


async def test_reused_connection_dropped_mid_answer_is_not_retried(client: HopClient) -> None:
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    server = Scripted(lambda n, request: (partial, True) if n == 2 else (_OK, False))
    async with server as target:
        await client.post(target, b"", b"1")
        with pytest.raises(HopDisconnected):
            await client.post(target, b"", b"2")
        assert client.idle_connections(target) == 0
    assert len(server.requests) == 2


async def test_refused_connection_is_a_connect_error(client: HopClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(HopConnectError):
        await client.post(HopTarget.from_url(f"http://127.0.0.1:{port}/invocations"), b"", b"1")


async def test_timeout_drops_the_connection(client: HopClient) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        if request.query.get("slow"):
            await release.wait()  # no answer before the client has given up, however slow
        return web.Response(body=b"late")

    runner, target = await _aiohttp_target(slow)
    try:
        slow_target = HopTarget.from_url(f"http://127.0.0.1:{target.port}/invocations?slow=1")
        await client.post(target, b"", b"warm")
        assert client.idle_connections(target) == 1
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await client.post(slow_target, b"", b"1")
        assert client.idle_connections(target) == 0
        assert (await client.post(target, b"", b"again")).body == b"late"
    finally:
        release.set()
        await runner.cleanup()


async def test_six_megabyte_bodies_both_ways(client: HopClient) -> None:
    seen: list[str | None] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Content-Type"))
        return web.Response(
            body=await request.read(),
            headers={"Content-Type": "application/x-npy",
                     "X-Amzn-SageMaker-Custom-Attributes": "big=1"},
        )

    runner, target = await _aiohttp_target(echo)
    try:
        body = bytes(range(256)) * (6 * 1024 * 1024 // 256)
        response = await client.post(target, b"", body)
        assert (response.status, len(response.body), response.body == body) == (
            200, 6 * 1024 * 1024, True
        )
        assert (response.content_type, response.custom_attributes) == ("application/x-npy", "big=1")
        # No Content-Type was rendered, and none reached the container.
        assert seen == [None]
    finally:
        await runner.cleanup()


async def test_concurrent_requests_each_get_their_own_answer(client: HopClient) -> None:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(0.001 * (int(body) % 5))
        return web.Response(body=body, status=201 if int(body) % 2 else 200)

    runner, target = await _aiohttp_target(echo)
    try:
        for _ in range(2):
            responses = await asyncio.gather(
                *(client.post(target, b"", str(n).encode()) for n in range(50))
            )
            assert [(r.status, r.body) for r in responses] == [
                (201 if n % 2 else 200, str(n).encode()) for n in range(50)
            ]
        assert client.idle_connections(target) == 50
    finally:
        await runner.cleanup()


async def test_error_status_and_body_come_back_as_they_are(client: HopClient) -> None:
    server = Scripted(_always(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"))
    async with server as target:
        response = await client.post(target, b"", b"1")
        assert (response.status, response.body) == (503, b"busy")
        assert client.idle_connections(target) == 1


async def test_interim_answer_is_skipped(client: HopClient) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    server = Scripted(_always(interim + _OK))
    async with server as target:
        response = await client.post(target, b"", b"1")
        assert (response.status, response.body, response.content_type) == (
            200, b"ok", "text/plain"
        )
        assert (await client.post(target, b"", b"2")).body == b"ok"
    assert server.connections == 1


async def test_garbage_response_is_a_disconnect(client: HopClient) -> None:
    server = Scripted(_always(b"NOT HTTP AT ALL\r\n\r\n"))
    async with server as target:
        with pytest.raises(HopDisconnected):
            await client.post(target, b"", b"1")
        assert client.idle_connections(target) == 0


async def test_forget_closes_idle_connections_and_drops_the_pool() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"ok")

    app = web.Application()
    app.router.add_post("/invocations", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = HopClient()
    target = HopTarget.from_url(f"http://127.0.0.1:{port}/invocations")
    try:
        assert (await client.post(target, b"", b"x")).body == b"ok"
        assert client.idle_connections(target) == 1
        client.forget("127.0.0.1", port)
        assert client.idle_connections(target) == 0
        assert (await client.post(target, b"", b"x")).body == b"ok"  # a fresh pool works
    finally:
        await client.close()
        await runner.cleanup()
