"""A request's spans encoded straight from its stamps and ids are the bytes the OTLP encoder
writes for its ``SpanData`` records, and decode as such with opentelemetry-proto."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tandem.telemetry.tracing import (
    RecentTraces,
    RequestTracer,
    Sampler,
    SpanData,
    SpanExporter,
    SpanKind,
)
from tandem.telemetry.tracing.otlp import (
    encode_export_request,
    encode_resource,
    encode_span_fields,
)
from tests.tracing.receiver import OtlpReceiver

_name = st.text("abcdefghij-0123456789", min_size=1, max_size=12)
_hop = st.tuples(
    _name, st.integers(1, 65535), st.floats(0, 1e5), st.floats(0, 1),
    st.sampled_from([200, 204, 302, 400, 404, 500, 503, 0]),
    st.sampled_from([None, None, "timeout", "connect_error", "disconnected"]))
_traceparent = st.none() | st.builds(
    lambda t, s, f: f"00-{t:032x}-{s:016x}-{f:02x}",
    st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1), st.integers(0, 3))


def _tracer(exporter: SpanExporter | None = None) -> RequestTracer:
    return RequestTracer(Sampler("always_on"), exporter, RecentTraces(10))


@settings(max_examples=200)
@given(traceparent=_traceparent, tracestate=st.none() | st.sampled_from(["a=1", "k=v,x@y=z"]),
       host=st.sampled_from(["127.0.0.1:8080", "localhost", "[::1]:9000", "h:x"]),
       endpoint=_name, variant=st.sampled_from(["", "AllTraffic"]),
       instance=st.sampled_from(["", "i-0123456789abcdef0"]),
       inference=st.none() | _name, status=st.sampled_from([200, 400, 424, 503]),
       error=st.sampled_from([None, ("ModelError", "container answered 500"),
                              ("ModelError", ""), ("ServiceUnavailable", "")]),
       started=st.floats(0, 1e6), hops=st.lists(_hop, max_size=4))
def test_encoded_request_is_the_encoding_of_its_spans(
        traceparent: str | None, tracestate: str | None, host: str, endpoint: str,
        variant: str, instance: str, inference: str | None, status: int,
        error: tuple[str, str] | None, started: float,
        hops: list[tuple[str, int, float, float, int, str | None]]) -> None:
    tracer = _tracer()
    trace = tracer.begin(traceparent, tracestate, started)
    trace.endpoint, trace.host, trace.variant, trace.instance_id = endpoint, host, variant, instance
    trace.inference_id = inference
    clock = started
    for container, port, offset, duration, hop_status, failure in hops:
        trace.propagation_headers()
        clock += offset
        trace.hop(container, f"http://127.0.0.1:{port}/invocations", clock, clock + duration,
                  hop_status, failure)
        clock += duration
    trace.status = status
    if error is not None:
        trace.error_type, trace.error_message = error
    trace.finished = clock + 0.001
    # Twice: the first encodes what ends each span, the second takes it from the cache.
    for _ in range(2):
        fields = tracer.encode(trace)
        resource = encode_resource([("service.name", "tandem")])
        want = encode_export_request(resource, "tandem", "1", trace.spans())
        assert encode_span_fields(resource, "tandem", "1", fields) == want
        # Split anywhere, the pieces frame the same request.
        cut = len(fields) // 3
        assert encode_span_fields(resource, "tandem", "1", fields[:cut], fields[cut:]) == want
    request = ExportTraceServiceRequest()
    request.ParseFromString(want)
    spans = request.resource_spans[0].scope_spans[0].spans
    assert len(spans) == len(hops) + 1
    assert [s.kind for s in spans] == [2] + [3] * len(hops)
    assert {s.trace_id for s in spans} == {trace.trace_id.to_bytes(16, "big")}


def test_a_full_queue_drops_before_encoding_and_counts() -> None:
    # Not started: nothing takes spans off the queue.
    exporter = SpanExporter("http://127.0.0.1:9/v1/traces", resource=[("service.name", "t")],
                            scope=("tandem", "0"), queue_size=10, batch_size=10)
    try:
        tracer = _tracer(exporter)
        encoded = 0
        encode = tracer.encode

        def counting(trace):  # type: ignore[no-untyped-def]
            nonlocal encoded
            encoded += 1
            return encode(trace)

        tracer.encode = counting  # type: ignore[method-assign]
        for i in range(5):
            trace = tracer.begin(None, None, float(i))
            trace.endpoint = "e"
            trace.propagation_headers()
            trace.hop("c1", "http://127.0.0.1:1/invocations", i + 0.1, i + 0.2, 200)
            tracer.end(trace, i + 0.5)
        # Two spans a request: five requests fit, the sixth does not and is never encoded.
        assert exporter.stats().queued == 10 and exporter.stats().dropped == 0
        trace = tracer.begin(None, None, 9.0)
        tracer.end(trace, 9.5)
        assert exporter.stats().queued == 10 and exporter.stats().dropped == 1
        assert encoded == 5
        assert len(tracer.recent) == 6  # kept for the dashboard all the same
    finally:
        exporter.stop(1.0)


def test_encoded_requests_reach_the_receiver_as_spans() -> None:
    rx = OtlpReceiver().start()
    exporter = SpanExporter(rx.url, resource=[("service.name", "t")], scope=("tandem", "0"),
                            queue_size=100, batch_size=6, interval=0.05, timeout=5.0)
    exporter.start()
    try:
        tracer = _tracer(exporter)
        ids = set()
        for i in range(3):
            trace = tracer.begin(None, None, float(i))
            trace.endpoint = "e"
            for hop in range(2):
                trace.propagation_headers()
                trace.hop(f"c{hop}", "http://127.0.0.1:1/invocations", i + hop / 10,
                          i + hop / 10 + 0.05, 200)
            tracer.end(trace, i + 0.5)
            ids.add(trace.trace_id.to_bytes(16, "big"))
        spans = rx.wait_for(lambda s: len(s) >= 9)
        assert len(spans) == 9 and {span.trace_id for _, span in spans} == ids
        assert exporter.stats().exported == 9
    finally:
        exporter.stop(1.0)
        rx.close()


def test_spans_behind_a_full_batch_wait_for_the_interval_or_a_flush() -> None:
    rx = OtlpReceiver().start()
    # Not started: the test drains as the export thread would, woken by a full batch.
    exporter = SpanExporter(rx.url, resource=[("service.name", "t")], scope=("tandem", "0"),
                            queue_size=100, batch_size=8, timeout=5.0)
    try:
        exporter.submit([SpanData(i, i, 0, f"s{i}", SpanKind.SERVER, 10, 20)
                         for i in range(1, 12)])
        exporter._drain(everything=False)
        # One request of a full batch; the three behind it are not sent on their own.
        assert rx.statuses == [200] and len(rx.spans()) == 8
        assert exporter.stats().queued == 3 and exporter.stats().exported == 8
        exporter._drain(everything=True)  # the interval is up (or a flush)
        assert rx.statuses == [200, 200] and len(rx.spans()) == 11
        assert exporter.stats().queued == 0 and exporter.stats().exported == 11
    finally:
        exporter.stop(1.0)
        rx.close()
