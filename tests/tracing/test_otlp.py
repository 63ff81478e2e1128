"""The hand-written OTLP encoder, decoded by opentelemetry-proto (a collector's schema)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tandem.telemetry.tracing import SpanData, SpanKind, StatusCode
from tandem.telemetry.tracing.otlp import encode_export_request, encode_resource

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_value = st.one_of(_text, st.booleans(), st.integers(-(2**63), 2**63 - 1),
                   st.floats(allow_nan=False))
_spans = st.builds(
    SpanData,
    trace_id=st.integers(1, 2**128 - 1), span_id=st.integers(1, 2**64 - 1),
    parent_id=st.integers(0, 2**64 - 1), name=_text.filter(bool),
    kind=st.sampled_from(list(SpanKind)), start_ns=st.integers(0, 2**63),
    end_ns=st.integers(0, 2**64 - 1),
    attributes=st.lists(st.tuples(_text, _value), max_size=6),
    status=st.sampled_from(list(StatusCode)), status_message=_text,
    tracestate=st.none() | _text, flags=st.integers(0, 255), remote_parent=st.booleans(),
)


@given(st.lists(_spans, max_size=5), st.lists(st.tuples(_text, _text), max_size=3))
def test_every_field_decodes_as_encoded(spans: list[SpanData],
                                        resource: list[tuple[str, str]]) -> None:
    body = encode_export_request(encode_resource(resource), "tandem", "1.2", spans)
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    (rs,) = request.resource_spans
    assert [(kv.key, kv.value.string_value) for kv in rs.resource.attributes] == resource
    (ss,) = rs.scope_spans
    assert (ss.scope.name, ss.scope.version) == ("tandem", "1.2")
    assert len(ss.spans) == len(spans)
    for got, want in zip(ss.spans, spans, strict=True):
        assert got.trace_id == want.trace_id.to_bytes(16, "big")
        assert got.span_id == want.span_id.to_bytes(8, "big")
        assert got.parent_span_id == (want.parent_id.to_bytes(8, "big") if want.parent_id
                                      else b"")
        assert got.name == want.name and got.kind == int(want.kind)
        assert (got.start_time_unix_nano, got.end_time_unix_nano) == (want.start_ns, want.end_ns)
        assert got.trace_state == (want.tracestate or "")
        assert got.flags == want.flags | 0x100 | (0x200 if want.remote_parent else 0)
        assert got.status.code == int(want.status)
        assert got.status.message == (want.status_message if want.status else "")
        decoded = []
        for kv in got.attributes:
            which = kv.value.WhichOneof("value")
            decoded.append((kv.key, getattr(kv.value, which)))
        assert len(decoded) == len(want.attributes)
        for (k1, v1), (k2, v2) in zip(decoded, want.attributes, strict=True):
            assert k1 == k2 and type(v1) is type(v2)
            assert v1 == v2 or (isinstance(v2, float) and math.isclose(v1, v2))  # type: ignore[arg-type]


def test_concatenated_requests_are_one_request() -> None:
    span = SpanData(1, 2, 0, "x", SpanKind.SERVER, 1, 2)
    resource = encode_resource([("service.name", "t")])
    body = encode_export_request(resource, "s", "1", [span]) * 3
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    assert sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans) == 3
