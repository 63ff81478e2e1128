"""OTLP/HTTP protobuf encoding of ``SpanData``: ``ExportTraceServiceRequest`` bytes.

Written by hand (varints and length-delimited fields) rather than through the generated
``opentelemetry-proto`` classes: it is two to four times cheaper per span on this project's
machines (docs/tracing.md) and needs no dependency at run time. Tests decode every encoding
with ``opentelemetry-proto``, the schema a collector uses. Field numbers are those of
``opentelemetry/proto/{collector/trace,trace,common,resource}/v1``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence

from .spans import AttributeValue, SpanData

__all__ = [
    "encode_attribute_block",
    "encode_export_request",
    "encode_resource",
    "encode_span_fields",
    "scope_span_fields",
    "span_field_head",
    "flags_field",
    "name_kind_fields",
    "status_field",
    "tracestate_field",
]

_pack_q = struct.Struct("<Q").pack
_pack_d = struct.Struct("<d").pack
_pack_i = struct.Struct("<I").pack
_pack_times = struct.Struct("<BQBQ").pack  # start_time_unix_nano (7) and end (8), fixed64
# Span.flags: the W3C flags in bits 0-7, "is_remote is known" (0x100) and "parent is
# remote" (0x200).
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200


# Small varints (lengths, enums, field keys) rendered once.
_SMALL = [bytes([i]) for i in range(128)]
# KeyValue encodings by (key, value): a request's attributes repeat across spans (method,
# endpoint, variant, instance, container), so most are a dict lookup. Bounded.
_KV_CACHE: dict[tuple[int, str, type, AttributeValue], bytes] = {}
_KV_CACHE_LIMIT = 4096
# Whole attribute blocks by the identity of their tuple (the request tracer shares one tuple
# between the spans of requests that agree on every attribute); the tuple is held, so its id
# stays its own.
_BLOCK_CACHE: dict[int, tuple[tuple[tuple[str, AttributeValue], ...], bytes]] = {}


def _varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _SMALL[value]
    if 0 <= value < 16384:  # a span's length: two bytes
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _str(field: int, text: str) -> bytes:
    return _ld(field, text.encode("utf-8", "surrogatepass"))


def _any_value(value: AttributeValue) -> bytes:
    # AnyValue: string_value 1, bool_value 2, int_value 3, double_value 4.
    if isinstance(value, str):
        return _str(1, value)
    if isinstance(value, bool):
        return b"\x10" + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    return b"\x21" + _pack_d(value)


def _key_value(key: str, value: AttributeValue) -> bytes:
    return _str(1, key) + _ld(2, _any_value(value))


def _attribute(field: int, key: str, value: AttributeValue) -> bytes:
    if isinstance(value, float):
        return _ld(field, _key_value(key, value))  # -0.0 == 0.0, nan != nan: not cached
    # The value's type is part of the key: True == 1 must not share an encoding.
    cache_key = (field, key, type(value), value)
    encoded = _KV_CACHE.get(cache_key)
    if encoded is None:
        encoded = _ld(field, _key_value(key, value))
        if len(_KV_CACHE) >= _KV_CACHE_LIMIT:
            _KV_CACHE.clear()
        _KV_CACHE[cache_key] = encoded
    return encoded


def _attributes(field: int, attributes: Iterable[tuple[str, AttributeValue]]) -> bytes:
    return b"".join([_attribute(field, k, v) for k, v in attributes])


def encode_resource(attributes: Sequence[tuple[str, AttributeValue]]) -> bytes:
    """``Resource`` bytes (computed once per exporter)."""
    return _attributes(1, attributes)


# Encodings of the few distinct names, kinds, trace states and flags (bounded).
_FIELD_CACHE: dict[tuple[int, object], bytes] = {}


def _cached(field: int, value: object, encode: Callable[[], bytes]) -> bytes:
    key = (field, value)
    encoded = _FIELD_CACHE.get(key)
    if encoded is None:
        encoded = encode()
        if len(_FIELD_CACHE) >= _KV_CACHE_LIMIT:
            _FIELD_CACHE.clear()
        _FIELD_CACHE[key] = encoded
    return encoded


def encode_attribute_block(attributes: Iterable[tuple[str, AttributeValue]]) -> bytes:
    """A span's ``attributes`` (field 9), as ``_span`` writes them."""
    return _attributes(9, attributes)


def tracestate_field(state: str) -> bytes:
    """``Span.trace_state`` (3) of a non-empty ``tracestate``."""
    return _FIELD_CACHE.get((3, state)) or _cached(3, state, lambda: _str(3, state))


def name_kind_fields(name: str, kind: int) -> bytes:
    """``Span.name`` (5) and ``Span.kind`` (6)."""
    return (_FIELD_CACHE.get((5, (name, kind))) or
            _cached(5, (name, kind), lambda: _str(5, name) + b"\x30" + _SMALL[kind]))


def flags_field(flags: int, remote_parent: bool) -> bytes:
    """``Span.flags`` (16): the W3C flags with "is_remote is known" and "parent is remote"."""
    value = (flags & 0xFF) | _HAS_IS_REMOTE | (_IS_REMOTE if remote_parent else 0)
    return (_FIELD_CACHE.get((16, value)) or
            _cached(16, value, lambda: b"\x85\x01" + _pack_i(value)))


def status_field(code: int, message: str) -> bytes:
    """``Span.status`` (15) of a status other than UNSET."""
    status = _str(2, message) if message else b""
    return _ld(15, status + b"\x18" + _varint(code))


def _span(span: SpanData) -> bytes:
    parts = [
        b"\x0a\x10", span.trace_id.to_bytes(16, "big"),
        b"\x12\x08", span.span_id.to_bytes(8, "big"),
    ]
    state = span.tracestate
    if state:
        parts.append(tracestate_field(state))
    if span.parent_id:
        parts += (b"\x22\x08", span.parent_id.to_bytes(8, "big"))
    name, kind = span.name, int(span.kind)
    # Name and kind, then both times (fixed64) packed in one call.
    parts += (name_kind_fields(name, kind), _pack_times(0x39, span.start_ns, 0x41, span.end_ns))
    attributes = span.attributes
    if type(attributes) is tuple:
        hit = _BLOCK_CACHE.get(id(attributes))
        if hit is None or hit[0] is not attributes:
            block = b"".join([_attribute(9, k, v) for k, v in attributes])
            if len(_BLOCK_CACHE) >= _KV_CACHE_LIMIT:
                _BLOCK_CACHE.clear()
            _BLOCK_CACHE[id(attributes)] = (attributes, block)
        else:
            block = hit[1]
        parts.append(block)
    else:
        parts += [_attribute(9, k, v) for k, v in attributes]
    if span.status:
        parts.append(status_field(int(span.status), span.status_message))
    parts.append(flags_field(span.flags, span.remote_parent))
    return b"".join(parts)


def span_field_head(size: int) -> bytes:
    """What precedes a ``Span`` of ``size`` bytes as a ``ScopeSpans.spans`` field (2)."""
    return b"\x12" + _varint(size)


def scope_span_fields(spans: Iterable[bytes]) -> bytes:
    """``Span`` encodings as ``ScopeSpans.spans`` fields (2), concatenated."""
    return b"".join([b"\x12" + _varint(len(span)) + span for span in spans])


def encode_export_request(resource: bytes, scope_name: str, scope_version: str,
                          spans: Iterable[SpanData]) -> bytes:
    """One ``ExportTraceServiceRequest`` holding ``spans`` under one resource and scope."""
    return encode_span_fields(resource, scope_name, scope_version,
                              b"".join([_ld(2, _span(s)) for s in spans]))


def encode_span_fields(resource: bytes, scope_name: str, scope_version: str,
                       *fields: bytes) -> bytes:
    """One ``ExportTraceServiceRequest`` around spans already encoded as ``ScopeSpans.spans``
    fields (each ``0x12``, its length, its ``Span`` bytes), in one or more pieces. The
    framing is computed from their lengths, so the spans are copied once (a batch is
    hundreds of kilobytes)."""
    scope = _ld(1, _str(1, scope_name) + _str(2, scope_version))
    size = len(scope) + sum(map(len, fields))
    scope_head = b"\x12" + _varint(size)  # ResourceSpans.scope_spans (2)
    resource_field = _ld(1, resource)  # ResourceSpans.resource (1)
    inner = len(resource_field) + len(scope_head) + size
    return b"".join([b"\x0a", _varint(inner), resource_field, scope_head, scope, *fields])
