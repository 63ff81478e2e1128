"""A standby traces like the leader: a `tandem serve` child leads a scratch PostgreSQL
database and runs the endpoint; a server in this process, with tracing on, waits as its
standby, routes an invocation and exports its spans to a real OTLP/HTTP receiver under its own
``service.instance.id``. When the leader stops, the standby's tracing becomes the full
server's: the same exporter thread and the same recent traces, nothing lost or sent twice."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.e2e.support import client, deploy, stage_container, wait_status
from tests.postgres import POSTGRES, scratch_database
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.server_thread import ServerThread
from tests.tools import requires
from tests.tracing.receiver import OtlpReceiver, attributes
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, requires(POSTGRES)]

ENDPOINT = "traced-standby"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    rx = OtlpReceiver().start()
    yield rx
    rx.close()


def _exporter_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "otlp-exporter" and t.is_alive()}


def _server_spans(receiver: OtlpReceiver) -> list[tuple[str, Span]]:
    """The router SERVER spans of this endpoint's answered invocations, each with its
    resource's service.instance.id."""
    return [(instance, span) for instance, span in receiver.spans("service.instance.id")
            if span.kind == Span.SPAN_KIND_SERVER
            and attributes(span).get("tandem.endpoint.name") == ENDPOINT
            and attributes(span)["http.response.status_code"] == 200]


def _invoke(url: str) -> None:
    runtime = client(SimpleNamespace(url=url), "sagemaker-runtime")  # type: ignore[arg-type]
    body = runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b'{"instances": [1]}',
                                   ContentType="application/json")["Body"].read()
    assert b'"instances": [2]' in body


def _routable(url: str) -> bool:
    try:
        _invoke(url)
    except Exception:  # noqa: BLE001 - not in the standby's snapshot yet: try again
        return False
    return True


def test_a_standby_exports_what_it_routes_and_its_tracing_carries_on_once_it_leads(
    tmp_path: Path, receiver: OtlpReceiver,
) -> None:
    before = _exporter_threads()
    with scratch_database() as dsn:
        leader = ServerProcess(tmp_path / "a", extra=[*FAST_FLAGS, "--store", dsn]).start()
        standby = ServerThread(
            tmp_path / "b", store=dsn, otlp_endpoint=receiver.url, trace_export_interval=0.2,
            metrics_flush_interval=0.5, ping_interval=0.3, ping_timeout=5.0,
            stop_grace_period=2.0, routing_resync_interval=0.5)  # fmt: skip
        server = standby.server
        standby.thread.start()
        started = None
        try:
            deploy(client(leader, "sagemaker"), ENDPOINT, [stage_container("only")])
            started = asyncio.run_coroutine_threadsafe(server.start(), standby.loop)
            wait_until(lambda: server.port or started.done(), "the standby to bind")
            assert not started.done(), started.result()  # its error, had it failed
            port = server.port
            url = f"http://127.0.0.1:{port}"
            assert server.leadership is not None and not server.leadership.leading
            # The first answer may come while the standby's snapshot still lacks the endpoint.
            wait_until(lambda: _routable(url), "the standby to route the endpoint")
            assert server.url == url and not started.done()  # routed as a standby

            spans = receiver.wait_for(lambda _: len(_server_spans(receiver)) >= 1)
            [(instance, root)] = _server_spans(receiver)
            assert instance == url  # its advertised URL: the leader's spans name another
            attrs = attributes(root)
            assert (attrs["server.address"], attrs["server.port"]) == ("127.0.0.1", port)
            assert attrs["http.response.status_code"] == 200
            [hop] = [s for _, s in spans if s.parent_span_id == root.span_id]
            assert hop.kind == Span.SPAN_KIND_CLIENT
            assert attributes(hop)["tandem.container.name"] == "only"
            tracing = server.tracing
            assert tracing is not None
            [thread] = _exporter_threads() - before

            leader.stop()  # a clean stop gives up the lead at once
            started.result(120)
            assert server.port == port and server.tracing is tracing
            assert _exporter_threads() - before == {thread}
            # The trace routed as a standby is among the leader's recent ones now.
            trace_hex = root.trace_id.hex()
            with urllib.request.urlopen(f"{url}/tandem/traces/{trace_hex}") as answer:
                kept = json.loads(answer.read())
            assert [s["spanId"] for s in kept["spans"]] == [root.span_id.hex(), hop.span_id.hex()]

            wait_status(client(SimpleNamespace(url=url), "sagemaker"),  # type: ignore[arg-type]
                        ENDPOINT, "InService")
            wait_until(lambda: _routable(url), "the new leader to route the endpoint")
            receiver.wait_for(lambda _: len(_server_spans(receiver)) >= 2)
        finally:
            if started is not None and started.done() and started.exception() is None:
                standby.stop()
            else:  # still a standby (or never started): told to stop, as `tandem serve` does
                if started is not None:
                    started.cancel()
                asyncio.run_coroutine_threadsafe(server.resign(), standby.loop).result(60)
                standby.loop.call_soon_threadsafe(standby.loop.stop)
                standby.thread.join(10)
            if leader.proc is not None and leader.proc.poll() is None:
                leader.stop()
    assert not thread.is_alive()
    # Every request exported once, all as the same server.
    exported = _server_spans(receiver)
    assert [instance for instance, _ in exported] == [url, url]
    assert len({span.span_id for _, span in exported}) == 2
