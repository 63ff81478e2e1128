"""A standby's forwarding: every call it does not serve itself goes to the leader, verbatim.

Method, path, query string, headers and body go to the leader's advertised URL unchanged, the
Host and Authorization headers included, so a SigV4 signature made for the load balancer's or
the standby's address verifies on the leader; only the hop-by-hop headers are dropped and an
``X-Forwarded-For`` (never signed) is appended. Bodies stream both ways (an S3 part may be
large); the leader's status, headers and body come back as they are.

When the leader cannot be reached the answer is a 503 naming its URL and the error (clients
retry 503); one that took the request but does not answer in time gets a 504. A failed
connection rereads the lead from the store first and, if it moved, tries the new leader once:
nothing of the request was sent yet.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Protocol

import aiohttp
from aiohttp import hdrs, web
from multidict import CIMultiDict
from yarl import URL

from ..leadership import Lead
from .s3 import signing_service

__all__ = ["LeadSource", "LeaderForwarding", "served_by_standby"]

_log = logging.getLogger(__name__)

# RFC 9110 section 7.6.1, and Expect (this server answered 100-continue itself). The length is
# kept: it may be signed, and the body goes on as it came.
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade", "expect",
})  # fmt: skip

_INVOKE = re.compile(r"/endpoints/[^/]+/invocations")
_CONNECT_TIMEOUT = 5.0
# A control-plane call that waits on the store, or an invocation's time: no less than this.
_MIN_ANSWER_TIMEOUT = 60.0


class LeadSource(Protocol):
    """Where the lead is known (``tandem.leadership.Leadership``)."""

    @property
    def lead(self) -> Lead: ...

    async def read_lead(self) -> Lead: ...


def served_by_standby(request: web.Request) -> bool:
    """What a standby answers itself: ``GET /ping`` and the runtime's InvokeEndpoint (a bucket
    named ``endpoints`` is S3's, told by the signature's scope)."""
    if request.path == "/ping":
        return request.method in ("GET", "HEAD")
    return (
        request.method == "POST"
        and _INVOKE.fullmatch(request.path) is not None
        and signing_service(request.headers.get(hdrs.AUTHORIZATION), request.query) != "s3"
    )


class LeaderUnreachable(Exception):
    """The leader's URL is unknown or nothing answers there."""


class LeaderForwarding:
    def __init__(self, leadership: LeadSource, *, answer_timeout: float) -> None:
        self._leadership = leadership
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=_CONNECT_TIMEOUT,
            sock_read=max(answer_timeout, _MIN_ANSWER_TIMEOUT))  # fmt: skip
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # Bodies pass as they are: no decompression, no cookies kept between clients.
        self._session = aiohttp.ClientSession(
            timeout=self._timeout, auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar())  # fmt: skip
        lead = await self._leadership.read_lead()
        _log.warning("standby: forwarding the other calls to the leader at %s",
                     lead.url or "(not yet advertised)")  # fmt: skip

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        url = self._leadership.lead.url
        try:
            try:
                upstream = await self._send(url, request)
            except LeaderUnreachable:
                # A new leader, or one that has just advertised: once, with the store's word.
                fresh = (await self._leadership.read_lead()).url
                if not fresh or fresh == url:
                    raise
                url = fresh
                upstream = await self._send(url, request)
        except LeaderUnreachable as exc:
            return _unavailable(503, f"cannot reach the leader at {url or '(none advertised)'}: "
                                     f"{exc}")  # fmt: skip
        except TimeoutError:
            return _unavailable(504, f"the leader at {url} did not answer within "
                                     f"{self._timeout.sock_read:g} s")  # fmt: skip
        except aiohttp.ClientError as exc:
            return _unavailable(503, f"the leader at {url} failed: {exc or type(exc).__name__}")
        async with upstream:
            return await self._relay(upstream, request)

    async def _send(self, url: str, request: web.Request) -> aiohttp.ClientResponse:
        if not url:
            raise LeaderUnreachable("no leader has advertised its URL yet")
        assert self._session is not None, "start() first"
        headers = _forwarded_headers(request)
        body = request.content if request.body_exists else None
        try:
            return await self._session.request(
                # As it came, not re-quoted: the query string is part of the signature.
                request.method, URL(url + request.rel_url.raw_path_qs, encoded=True),
                headers=headers, data=body,
                allow_redirects=False, skip_auto_headers=_NO_AUTO_HEADERS)  # fmt: skip
        except aiohttp.ClientConnectorError as exc:
            raise LeaderUnreachable(str(exc.os_error) if exc.os_error else str(exc)) from None

    async def _relay(self, upstream: aiohttp.ClientResponse,
                     request: web.Request) -> web.StreamResponse:  # fmt: skip
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                response.headers.add(name, value)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, TimeoutError, asyncio.IncompleteReadError) as exc:
            # The answer has begun: its status cannot change. Cut the connection, so the
            # client sees a short body rather than a whole one.
            _log.warning("standby: the leader's answer to %s %s broke off: %s",
                         request.method, request.path, exc)  # fmt: skip
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response


# Headers aiohttp's client would add of its own: the leader sees only the client's.
_NO_AUTO_HEADERS = (hdrs.USER_AGENT, hdrs.ACCEPT_ENCODING, hdrs.ACCEPT, hdrs.CONTENT_TYPE)


def _forwarded_headers(request: web.Request) -> CIMultiDict[str]:
    named = {  # more hop-by-hop headers, named by the Connection header
        token.strip().lower()
        for value in request.headers.getall(hdrs.CONNECTION, ())
        for token in value.split(",")
    }
    headers = CIMultiDict(
        (name, value) for name, value in request.headers.items()
        if name.lower() not in _HOP_BY_HOP and name.lower() not in named
    )  # fmt: skip
    hops = [*headers.popall(hdrs.X_FORWARDED_FOR, []), request.remote or "unknown"]
    headers[hdrs.X_FORWARDED_FOR] = ", ".join(hops)
    return headers


def _unavailable(status: int, message: str) -> web.Response:
    _log.warning("standby: %s", message)
    return web.Response(status=status, text=f"tandem standby: {message}\n",
                        headers={hdrs.RETRY_AFTER: "1"})  # fmt: skip
