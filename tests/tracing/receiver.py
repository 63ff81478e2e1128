"""A real OTLP/HTTP traces receiver for tests: aiohttp on 127.0.0.1:0 in its own thread,
decoding each body with ``opentelemetry-proto`` (the schema a collector uses).

``mode`` scripts it: ``"ok"`` answers 200, ``"hang"`` holds every request without answering
until ``close()``, ``"discard"`` answers 200 without decoding or keeping anything (a
collector whose work does not share the machine: the bench's way to time tandem alone), and
``answers`` (a list of statuses) answers those first, in order.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

__all__ = ["OtlpReceiver", "attributes"]


def attributes(span: Span) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in span.attributes:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which) if which else None
    return out


class OtlpReceiver:
    def __init__(self, mode: str = "ok", answers: list[int] | None = None) -> None:
        self.mode = mode
        self.answers = list(answers or [])
        self.requests: list[ExportTraceServiceRequest] = []
        self.statuses: list[int] = []
        self.held = 0
        self.lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._release: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def start(self) -> OtlpReceiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._traces)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def _traces(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-protobuf":
            return web.Response(status=415)
        body = await request.read()
        if self.mode == "hang":
            with self.lock:
                self.held += 1
            assert self._release is not None
            await self._release.wait()
            return web.Response(status=503)
        if self.mode == "discard":
            with self.lock:
                self.statuses.append(200)
            return web.Response(body=b"", content_type="application/x-protobuf")
        message = ExportTraceServiceRequest()
        try:
            message.ParseFromString(body)
        except Exception:  # noqa: BLE001 - a bad body is the exporter's bug: 400, as a collector
            return web.Response(status=400)
        with self.lock:
            status = self.answers.pop(0) if self.answers else 200
            self.statuses.append(status)
            if status == 200:
                self.requests.append(message)
        if status != 200:
            return web.Response(status=status, headers={"Retry-After": "0"})
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    def spans(self, resource_attribute: str = "service.name") -> list[tuple[str, Span]]:
        """Every span received so far, with that attribute of its resource ("" if none)."""
        out = []
        with self.lock:
            requests = list(self.requests)
        for request in requests:
            for resource_spans in request.resource_spans:
                service = ""
                for kv in resource_spans.resource.attributes:
                    if kv.key == resource_attribute:
                        service = kv.value.string_value
                for scope_spans in resource_spans.scope_spans:
                    out.extend((service, span) for span in scope_spans.spans)
        return out

    def wait_for(self, predicate: Callable[[list[tuple[str, Span]]], bool],
                 timeout: float = 30.0) -> list[tuple[str, Span]]:
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver got {len(spans)} spans; condition not met")
            time.sleep(0.05)

    def close(self) -> None:
        async def stop() -> None:
            if self._release is not None:
                self._release.set()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
