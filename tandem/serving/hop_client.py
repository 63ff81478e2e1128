"""A lean keep-alive HTTP/1.1 client for the router's hops to its containers.

aiohttp's ``ClientSession`` was a quarter of the router's event-loop time per request
(request objects, a write task per hop, header multidicts). A hop needs far less: one
``POST`` with a body to a container on loopback, and the status, body, ``Content-Type`` and
custom attributes back. So each hop here is one ``transport.write`` of a request rendered
from pre-built bytes, and the response is parsed by httptools (llhttp, as uvicorn uses it).

Connections are pooled per (host, port), most recently used first. A POST is sent at most
once to a live container: the one retry happens only when a *reused* connection fails
before any byte of the response arrived (the container closed it while idle); the retry
goes out on a fresh connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import cast
from urllib.parse import urlsplit

import httptools

__all__ = [
    "HopClient",
    "HopConnectError",
    "HopDisconnected",
    "HopResponse",
    "HopTarget",
    "render_headers",
]

# Response headers a hop keeps (lowercase, as bytes): the rest are not forwarded.
_CONTENT_TYPE = b"content-type"
_CUSTOM = b"x-amzn-sagemaker-custom-attributes"
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
# Above this a body is written separately from the head rather than copied into one buffer.
_COPY_LIMIT = 64 * 1024


class HopConnectError(Exception):
    """No connection to the container could be opened (refused, unreachable): nothing was
    sent."""


class HopDisconnected(Exception):
    """The connection failed after the request was (maybe) sent, or the response was not
    valid HTTP."""


@dataclasses.dataclass(slots=True, frozen=True)
class HopTarget:
    """Where a hop goes, with its request line and Host header rendered once."""

    host: str
    port: int
    prefix: bytes

    @classmethod
    def from_url(cls, url: str) -> HopTarget:
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        netloc = f"[{host}]" if ":" in host else host
        prefix = f"POST {path} HTTP/1.1\r\nHost: {netloc}:{port}\r\n".encode("ascii")
        return cls(host, port, prefix)


@dataclasses.dataclass(slots=True)
class HopResponse:
    status: int
    body: bytes
    content_type: str | None
    custom_attributes: str | None


def render_headers(content_type: str | None, accept: str | None, custom: str | None) -> bytes:
    """The request's own header lines. No Content-Type line when the client sent none:
    SageMaker's toolkits read a missing one as their default, not as octet-stream."""
    lines = []
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}\r\n")
    if accept is not None:
        lines.append(f"Accept: {accept}\r\n")
    if custom is not None:
        lines.append(f"X-Amzn-SageMaker-Custom-Attributes: {custom}\r\n")
    # Values came through aiohttp's server, decoded as utf-8 with surrogateescape: this gives
    # the client's bytes back (and the server already refused CR and LF in them).
    return "".join(lines).encode("utf-8", "surrogateescape")


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request in flight."""

    __slots__ = (
        "_transport", "_parser", "_waiter", "_received", "_chunks", "_content_type", "_custom",
        "_delimited", "_headers_done", "_idle", "reused", "closed",
    )

    def __init__(self, idle: list[_Connection]) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[HopResponse] | None = None
        self._received = False
        self._chunks: list[bytes] = []
        self._content_type: str | None = None
        self._custom: str | None = None
        self._delimited = False
        self._headers_done = False
        self._idle = idle  # the pool's list for this target, to leave it when closed
        self.reused = False
        self.closed = False

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_connection gives a stream protocol a Transport (the stub says BaseTransport).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            # Bytes nobody asked for (a container answering twice): the stream is unusable.
            self._close()
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HopDisconnected(f"invalid HTTP response: {exc}"))
            self._close()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self in self._idle:
            self._idle.remove(self)
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._headers_done and not self._delimited:
            # No Content-Length and not chunked: the body ends with the connection.
            self._complete()
            return
        why = "connection closed before the response completed" if self._received else (
            "connection closed before any response"
        )
        self._fail(HopDisconnected(f"{why}: {exc!r}" if exc else why))

    # -- httptools callbacks ---------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == _CONTENT_TYPE:
            self._content_type = _text(value)
        elif name == _CUSTOM:
            self._custom = _text(value)
        elif name == _CONTENT_LENGTH or (name == _TRANSFER_ENCODING and b"chunked" in value):
            self._delimited = True

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:
            # An interim answer (100 Continue, 103 Early Hints): the real one follows.
            self._chunks = []
            self._content_type = self._custom = None
            self._delimited = self._headers_done = False
            return
        self._complete()
        if not self._parser.should_keep_alive():
            self._close()

    # -- the client's side ---------------------------------------------------

    def send(self, data: bytes, body: bytes) -> asyncio.Future[HopResponse]:
        transport = self._transport
        assert transport is not None
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        self._received = False
        self._chunks = []
        self._content_type = self._custom = None
        self._delimited = self._headers_done = False
        if len(body) <= _COPY_LIMIT:
            transport.write(data + body)
        else:
            transport.write(data)
            transport.write(body)
        return waiter

    @property
    def received(self) -> bool:
        return self._received

    @property
    def usable(self) -> bool:
        return not self.closed and self._transport is not None and not self._transport.is_closing()

    def _complete(self) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is None or waiter.done():
            return
        chunks = self._chunks
        self._chunks = []
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        waiter.set_result(
            HopResponse(self._parser.get_status_code(), body, self._content_type, self._custom)
        )

    def _fail(self, error: Exception) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self.closed = True
        self._waiter = None
        if self._transport is not None:
            self._transport.abort()


class HopClient:
    """Keep-alive connection pools to containers; ``post`` sends one request and returns its
    response. Timeouts are the caller's (cancelling ``post`` drops the connection)."""

    def __init__(self, *, idle_per_target: int = 64) -> None:
        self._pools: dict[tuple[str, int], list[_Connection]] = {}
        self._idle_per_target = idle_per_target
        self._closed = False

    async def post(self, target: HopTarget, headers: bytes, body: bytes) -> HopResponse:
        """POST ``body`` to ``target`` with the pre-rendered header lines ``headers``.

        Raises ``HopConnectError`` when no connection could be opened (nothing was sent) and
        ``HopDisconnected`` when the connection failed after sending."""
        key = (target.host, target.port)
        idle = self._pools.get(key)
        if idle is None:
            idle = self._pools[key] = []
        data = b"%s%sContent-Length: %d\r\n\r\n" % (target.prefix, headers, len(body))
        conn = None
        while idle:
            candidate = idle.pop()
            if candidate.usable:
                conn = candidate
                break
        if conn is None:
            conn = await self._connect(target, idle)
        try:
            response = await conn.send(data, body)
        except HopDisconnected:
            if not conn.reused or conn.received:
                raise
            # The container closed this pooled connection while it was idle, and nothing of
            # an answer came back: send once more, on a fresh connection.
            conn.abort()
            conn = await self._connect(target, idle)
            try:
                response = await conn.send(data, body)
            except BaseException:
                conn.abort()
                raise
        except BaseException:
            # Cancelled (the invocation timed out) or failed mid-response: the connection's
            # state is unknown, so it is never reused.
            conn.abort()
            raise
        if conn.usable and not self._closed and len(idle) < self._idle_per_target:
            conn.reused = True
            idle.append(conn)
        elif not conn.closed:
            conn.abort()
        return response

    async def _connect(self, target: HopTarget, idle: list[_Connection]) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(idle), target.host, target.port
            )
        except OSError as exc:
            raise HopConnectError(f"{exc.__class__.__name__}: {exc.strerror or exc}") from None
        return conn

    def idle_connections(self, target: HopTarget) -> int:
        """How many pooled connections wait for ``target`` (for tests and diagnostics)."""
        return len(self._pools.get((target.host, target.port), ()))

    def forget(self, host: str, port: int) -> None:
        """Drop the pool of a container that left the rotation, closing its idle connections
        (connections still answering finish; the stopped container closes them)."""
        for conn in self._pools.pop((host, port), ()):
            conn.abort()

    async def close(self) -> None:
        self._closed = True
        for idle in self._pools.values():
            for conn in list(idle):
                conn.abort()
            idle.clear()
        self._pools.clear()
        # Let the transports run connection_lost before the loop may close.
        await asyncio.sleep(0)
