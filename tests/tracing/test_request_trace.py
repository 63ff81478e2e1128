"""A request's trace as the router fills it: each hop's traceparent names the CLIENT span that
is exported and shown for that hop, across a retry on another instance too."""

from __future__ import annotations

import random

import pytest

from tandem.telemetry.tracing import RecentTraces, RequestTracer, Sampler, SpanKind
from tandem.telemetry.tracing.requests import RequestTrace


def _tracer(sampler: str = "always_on") -> RequestTracer:
    return RequestTracer(Sampler(sampler), None, RecentTraces(10))


def _parent_ids(lines: list[bytes]) -> list[int]:
    out = []
    for line in lines:
        traceparent = line.split(b"\r\n")[0].removeprefix(b"traceparent: ").decode()
        out.append(int(traceparent.split("-")[2], 16))
    return out


def test_hop_spans_carry_the_ids_their_traceparents_named_across_a_retry() -> None:
    tracer = _tracer()
    trace = tracer.begin(None, None, 1.0, "e", "h:8080")
    first = trace.route("AllTraffic", "i-1", 3)
    # The first container refused the connection: the request moves to another instance.
    trace.hop("c1", "http://127.0.0.1:1/invocations", 1.1, 1.2, 0, "connect_error")
    second = trace.route("AllTraffic", "i-2", 3)
    for k, container in enumerate(("c1", "c2", "c3")):
        trace.hops.append((container, f"http://127.0.0.1:{k + 2}/invocations",
                           1.3 + k / 10, 1.35 + k / 10, 200, None))
    tracer.end(trace, 2.0, 200)
    spans = trace.spans()
    clients = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert [s.span_id for s in clients] == _parent_ids([first[0], *second])
    assert len({s.span_id for s in spans}) == 5 and all(s.span_id for s in spans)
    assert trace.instance_id == "i-2" and spans[0].status_message == ""
    # The same ids whenever the dashboard looks.
    assert [s.span_id for s in trace.spans()] == [s.span_id for s in spans]


@pytest.mark.parametrize(("sampler", "flags"), [("always_on", "03"), ("always_off", "02")])
def test_every_hop_gets_its_own_traceparent_sampled_or_not(sampler: str, flags: str) -> None:
    trace = _tracer(sampler).begin(None, None, 1.0)
    lines = trace.route("v", "i", 4)
    trace_hex = f"{trace.trace_id:032x}"
    assert [line.decode() for line in lines] == [
        f"traceparent: 00-{trace_hex}-{span:016x}-{flags}\r\n" for span in _parent_ids(lines)]
    assert len(set(_parent_ids(lines))) == 4
    assert trace.sampled is (flags == "03")


def test_a_callers_tracestate_follows_every_hop_line() -> None:
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
    trace = _tracer("parentbased_always_on").begin(caller, "k=v", 1.0)
    lines = trace.route("v", "i", 2)
    assert all(line.startswith(b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-") and
               line.endswith(b"-00\r\ntracestate: k=v\r\n") for line in lines)
    assert not trace.sampled


def test_a_drawn_hop_id_of_zeros_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # The hops' draw comes out all zeros; the id drawn again is 5.
    real = random.getrandbits
    monkeypatch.setattr("tandem.telemetry.tracing.requests._getrandbits",
                        lambda bits: 0 if bits == 64 else real(bits))
    monkeypatch.setattr("tandem.telemetry.tracing.requests.new_span_id", lambda: 5)
    trace: RequestTrace = _tracer().begin(None, None, 1.0)
    assert _parent_ids(trace.route("v", "i", 1)) == [5]
