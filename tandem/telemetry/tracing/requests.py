"""Spans of one InvokeEndpoint: a SERVER span for the request, a CLIENT span per container hop.

The router and the runtime API hand their own ``perf_counter`` stamps to a ``RequestTrace``
(the ones that make OverheadLatency, ModelLatency and ContainerLatency), so a span's duration
is exactly the datapoint's: a CLIENT span lasts its container's ContainerLatency, the CLIENT
spans together ModelLatency, and the SERVER span ModelLatency plus OverheadLatency.
Stamps become Unix nanoseconds through one offset taken when the tracer starts.

Every request gets ids and propagates a ``traceparent`` to its containers (with the sampled
flag clear when it is not sampled, so the decision travels); only sampled requests are
exported. A sampled request's spans are encoded as OTLP bytes straight from its stamps and ids
when it ends (after its response is written), with each distinct attribute set encoded once
and shared, so the export thread only frames and sends them: building records and encoding
them there cost more in all, and held the interpreter lock the event loop waits for
(docs/performance.md).
``SpanData`` objects are built only when the dashboard looks at a recent trace.
"""

from __future__ import annotations

import struct
import time
from binascii import b2a_hex as _hexlify
from collections.abc import Callable, Sequence
from random import getrandbits as _getrandbits
from typing import cast
from urllib.parse import urlsplit

from .context import RANDOM, SAMPLED, Sampler, SpanContext, new_span_id, new_trace_id
from .context import parse_traceparent as _parse
from .exporter import SpanExporter
from .otlp import (
    encode_attribute_block,
    flags_field,
    name_kind_fields,
    span_field_head,
    status_field,
    tracestate_field,
)
from .recent import RecentTraces
from .spans import AttributeValue, SpanData, SpanKind, StatusCode

__all__ = ["RequestTrace", "RequestTracer", "SpanClock"]

_ROUTE = "/endpoints/{name}/invocations"
_SERVER_NAME = "POST " + _ROUTE
_Attributes = tuple[tuple[str, AttributeValue], ...]
_CACHE_LIMIT = 4096
_pack_times = struct.Struct("<BQBQ").pack  # start_time_unix_nano (7) and end (8), fixed64
_SERVER_NAME_KIND = name_kind_fields(_SERVER_NAME, SpanKind.SERVER)
_CLIENT_NAME_KIND = name_kind_fields("POST", SpanKind.CLIENT)
_ERROR = int(StatusCode.ERROR)
# A span's field head (tag and length) by its length, for the lengths spans have.
_SPAN_FIELD_LIMIT = 1024
_SPAN_FIELD = [span_field_head(size) for size in range(_SPAN_FIELD_LIMIT)]
_MASK64 = (1 << 64) - 1
_ZERO_ID = bytes(8)


def _nonzero_ids(raw: bytes) -> bytes:
    """``raw`` span ids (8 bytes each) with any id of zeros, invalid, drawn again."""
    return b"".join(new_span_id().to_bytes(8, "big") if raw[k:k + 8] == _ZERO_ID
                    else raw[k:k + 8] for k in range(0, len(raw), 8))

# What ends a traceparent line, by W3C flags (only the sampled and random bits are set here).
_FLAGS_LINE_END = tuple(b"-%02x\r\n" % flags for flags in range((RANDOM | SAMPLED) + 1))
_LINE_END_SAMPLED = _FLAGS_LINE_END[RANDOM | SAMPLED]
_LINE_END_UNSAMPLED = _FLAGS_LINE_END[RANDOM]


class SpanClock:
    """Turns ``time.perf_counter()`` stamps into Unix nanoseconds (one offset, taken once)."""

    __slots__ = ("offset_ns",)

    def __init__(self) -> None:
        self.offset_ns = time.time_ns() - time.perf_counter_ns()

    def unix_ns(self, perf: float) -> int:
        return round(perf * 1e9) + self.offset_ns


# One hop: (container, url, start, end, status, error); its span id is the one drawn for its
# position among the trace's hops (``RequestTrace.route``).
_Hop = tuple[str, str, float, float, int, "str | None"]


class RequestTrace:
    """One request's trace state, filled in by the runtime API and the router.

    Made by ``RequestTracer.begin``, which stores only what every request has; the other
    fields keep these class defaults unless the request sets them (a variant, an error). An
    unsampled request costs a few stores, its hops' lines drawn at once and a tuple a hop:
    the same record serves the dashboard (``spans``) and, when sampled, the export.
    """

    trace_id = span_id = flags = port = status = 0
    parent: SpanContext | None = None
    tracestate: str | None = None
    inference_id: str | None = None
    error_type: str | None = None
    started = finished = 0.0
    host = path = endpoint = variant = instance_id = error_message = ""
    hops: list[_Hop]
    _tracer: RequestTracer
    # What ends each hop's traceparent line (set by ``begin``), and the hop span ids drawn,
    # 8 bytes a hop by position.
    _suffix = _ids = b""

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)

    @property
    def trace_hex(self) -> str:
        return f"{self.trace_id:032x}"

    def route(self, variant: str, instance_id: str, count: int) -> list[bytes]:
        """The request goes to ``instance_id`` of ``variant`` through ``count`` containers:
        the ``traceparent`` (and ``tracestate``) lines of those hops, in order. A hop's parent
        is its CLIENT span, whose id is the one drawn for its position among the trace's hops."""
        self.variant = variant
        self.instance_id = instance_id
        if self.hops:  # another instance after a refused connection: ids after those used
            return [self._line(k) for k in range(len(self.hops), len(self.hops) + count)]
        # One draw and one conversion for every hop; the lines are rendered by C calls, not
        # per hop: the ids' hex digits split by NUL (never in a header) become whole lines.
        raw = _getrandbits(64 * count).to_bytes(8 * count, "big")
        if raw.find(_ZERO_ID) >= 0:
            raw = _nonzero_ids(raw)
        self._ids = raw
        prefix = b"traceparent: 00-%032x-" % self.trace_id
        suffix = self._suffix
        return (prefix + _hexlify(raw, b"\0", 8).replace(b"\0", suffix + b"\0" + prefix) +
                suffix).split(b"\0")

    def propagation_headers(self) -> bytes:
        """The ``traceparent`` (and ``tracestate``) lines of the next hop (``hop`` records it)."""
        return self._line(len(self.hops))

    def hop(self, container: str, url: str, start: float, end: float, status: int,
            error: str | None = None) -> None:
        """One container call done: ``start``/``end`` are the stamps its ContainerLatency
        came from; ``status`` 0 when no response came (``error`` says why)."""
        self.hops.append((container, url, start, end, status, error))

    def hop_ids(self) -> bytes:
        """The hop span ids, 8 bytes a hop by position (drawn for hops recorded without
        their lines)."""
        return self._ids if len(self._ids) >= 8 * len(self.hops) else self._more_ids(
            len(self.hops))

    def _more_ids(self, count: int) -> bytes:
        """Hop span ids drawn for the first ``count`` positions (those drawn are kept)."""
        ids = self._ids
        more = 8 * count - len(ids)
        ids = self._ids = ids + _nonzero_ids(_getrandbits(8 * more).to_bytes(more, "big"))
        return ids

    def _line(self, position: int) -> bytes:
        """The lines of the hop at ``position`` among the trace's hops (drawn if need be)."""
        ids = self._ids if len(self._ids) > 8 * position else self._more_ids(position + 1)
        return (b"traceparent: 00-%032x-" % self.trace_id +
                _hexlify(ids[8 * position:8 * position + 8]) + self._suffix)

    def spans(self) -> list[SpanData]:
        """The SERVER span and its CLIENT children, as OTLP will carry them."""
        clock = self._tracer.clock
        trace_id, flags, state = self.trace_id, self.flags, self.tracestate
        error = self.error_type
        attrs = self._tracer.attributes(self._server_key(), self._server_attributes)
        parent = self.parent
        out = [SpanData(trace_id, self.span_id, parent.span_id if parent else 0, _SERVER_NAME,
                        SpanKind.SERVER, clock.unix_ns(self.started), clock.unix_ns(self.finished),
                        attrs, status=StatusCode.ERROR if error is not None else StatusCode.UNSET,
                        status_message=self.error_message, tracestate=state, flags=flags,
                        remote_parent=parent is not None)]
        ids = self.hop_ids()
        for k, (container, url, start, end, status, failure) in enumerate(self.hops):
            attrs = self._tracer.attributes(self._client_key(container, url, status, failure),
                                            self._client_attributes)
            failed = failure is not None or not 200 <= status < 400
            out.append(SpanData(trace_id, int.from_bytes(ids[8 * k:8 * k + 8], "big"),
                                self.span_id, "POST", SpanKind.CLIENT,
                                clock.unix_ns(start), clock.unix_ns(end), attrs,
                                status=StatusCode.ERROR if failed else StatusCode.UNSET,
                                status_message=failure or "", tracestate=state, flags=flags))
        return out

    def _server_key(self) -> tuple[object, ...]:
        return ("s", self.path, self.host,
                self.port, self.status, self.endpoint, self.variant, self.instance_id,
                self.inference_id, self.error_type)

    def _client_key(self, container: str, url: str, status: int,
                    failure: str | None) -> tuple[object, ...]:
        return ("c", url, self.endpoint, self.variant, self.instance_id, container,
                self.inference_id, status, failure)

    @staticmethod
    def _server_attributes(key: tuple[object, ...]) -> _Attributes:
        _, path, host, port, status, endpoint, variant, instance, inference, error = key
        path = path or f"/endpoints/{endpoint}/invocations"
        address, _, after = str(host).rpartition(":")
        if not after.isdigit():  # no port in the Host header (or an IPv6 literal without one)
            address, after = str(host), str(port or 80)
        attrs: list[tuple[str, AttributeValue]] = [
            ("http.request.method", "POST"),
            ("url.path", str(path)),
            ("url.scheme", "http"),
            ("http.route", _ROUTE),
            ("server.address", address),
            ("server.port", int(after)),
            ("http.response.status_code", int(status)),  # type: ignore[call-overload]
            ("tandem.endpoint.name", str(endpoint)),
        ]
        if variant:
            attrs.append(("tandem.variant.name", str(variant)))
        if instance:
            attrs.append(("tandem.instance.id", str(instance)))
        if inference is not None:
            attrs.append(("tandem.inference_id", str(inference)))
        if error is not None:
            attrs.append(("error.type", str(error)))
        return tuple(attrs)

    @staticmethod
    def _client_attributes(key: tuple[object, ...]) -> _Attributes:
        _, url, endpoint, variant, instance, container, inference, status, failure = key
        parts = urlsplit(str(url))
        attrs: list[tuple[str, AttributeValue]] = [
            ("http.request.method", "POST"),
            ("url.full", str(url)),
            ("server.address", parts.hostname or ""),
            ("server.port", parts.port or 80),
            ("tandem.endpoint.name", str(endpoint)),
            ("tandem.variant.name", str(variant)),
            ("tandem.instance.id", str(instance)),
            ("tandem.container.name", str(container)),
        ]
        if inference is not None:
            attrs.append(("tandem.inference_id", str(inference)))
        if status:
            attrs.append(("http.response.status_code", int(status)))  # type: ignore[call-overload]
        if failure is not None or not 200 <= int(status) < 400:  # type: ignore[call-overload]
            # Client spans: 4xx and 5xx are errors, and so is no answer at all.
            attrs.append(("error.type", str(failure or status)))
        return tuple(attrs)


class RequestTracer:
    """Starts and finishes request traces; exports the sampled ones and keeps every recent
    one for the dashboard."""

    def __init__(self, sampler: Sampler, exporter: SpanExporter | None,
                 recent: RecentTraces, clock: SpanClock | None = None) -> None:
        self.sampler = sampler
        # What RequestTrace decides with, inline (Sampler.sampled's rule).
        self.parent_based = sampler.parent_based
        self.bound = sampler.root_bound
        self.exporter = exporter
        self.recent = recent
        self.clock = clock or SpanClock()
        self._attributes: dict[tuple[object, ...], _Attributes] = {}
        # The encodings of what ends a span (attributes, status, flags), bounded alike.
        self._tails: dict[tuple[object, ...], bytes] = {}

    def attributes(self, key: tuple[object, ...],
                   build: Callable[[tuple[object, ...]], _Attributes]) -> _Attributes:
        """The attribute tuple for ``key``, built once and shared (bounded)."""
        cache = self._attributes
        attrs = cache.get(key)
        if attrs is None:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            attrs = cache[key] = build(key)
        return attrs

    def begin(self, traceparent: str | None, tracestate: str | None, started: float,
              endpoint: str = "", host: str = "") -> RequestTrace:
        """A request's trace, from its ``traceparent`` and ``tracestate`` (None when absent)."""
        trace = RequestTrace()
        trace._tracer = self
        trace.started = started
        trace.endpoint = endpoint
        trace.host = host
        trace.hops = []
        bits = _getrandbits(192)  # one draw: the span id, and the trace id of a new trace
        trace.span_id = bits & _MASK64 or new_span_id()
        parent = _parse(traceparent, tracestate) if traceparent is not None else None
        if parent is None:
            # The sampler's rule, inline (Sampler.root_bound). Level 2: the random flag is
            # set on traces started here, copied from a caller.
            trace_id = trace.trace_id = bits >> 64 or new_trace_id()
            if trace_id & _MASK64 < self.bound:
                trace.flags = RANDOM | SAMPLED
                trace._suffix = _LINE_END_SAMPLED
            else:
                trace.flags = RANDOM
                trace._suffix = _LINE_END_UNSAMPLED
            return trace
        trace_id = trace.trace_id = parent.trace_id
        trace.parent = parent
        flags = parent.flags & RANDOM
        if (parent.flags & SAMPLED if self.parent_based else trace_id & _MASK64 < self.bound):
            flags |= SAMPLED
        trace.flags = flags
        suffix = _FLAGS_LINE_END[flags]
        state = trace.tracestate = parent.tracestate
        if state:
            suffix += f"tracestate: {state}\r\n".encode("ascii", "replace")
        trace._suffix = suffix
        return trace

    def end(self, trace: RequestTrace, finished: float, status: int | None = None) -> None:
        """The request answered ``status`` (when given) at ``finished``: export it when
        sampled, keep it for the dashboard either way."""
        trace.finished = finished
        if status is not None:
            trace.status = status
        if trace.flags & SAMPLED:
            exporter = self.exporter
            if exporter is not None:
                count = len(trace.hops) + 1
                if exporter.room(count):  # else dropped (and counted) before being encoded
                    exporter.submit_encoded(self.encode(trace), count)
        self.recent.add(trace)

    def _tail(self, key: tuple[object, ...]) -> bytes:
        """What ends a span (attributes, status, flags) for ``encode``'s ``key``: for a server
        span its attribute key, status message, W3C flags and whether its parent is remote;
        for a client span the request's shared part, then its container, URL, status and
        failure."""
        tails = self._tails
        if len(tails) >= _CACHE_LIMIT:
            tails.clear()
        if key[0] == "s":
            attrs = self.attributes(key[:10], RequestTrace._server_attributes)
            error, message, flags, remote = key[9], key[10], key[11], key[12]
            failed = error is not None
        else:
            shared, container, url, status, failure = key
            endpoint, variant, instance, inference, flags = cast("tuple[object, ...]", shared)
            attrs = self.attributes(("c", url, endpoint, variant, instance, container, inference,
                                     status, failure), RequestTrace._client_attributes)
            message, remote = failure or "", False
            failed = failure is not None or not 200 <= status < 400  # type: ignore[operator]
        tail = tails[key] = (encode_attribute_block(attrs) +
                             (status_field(_ERROR, str(message)) if failed else b"") +
                             flags_field(int(flags), bool(remote)))  # type: ignore[call-overload]
        return tail

    def encode(self, trace: RequestTrace) -> bytes:
        """The request's spans as ``ScopeSpans.spans`` fields: the very bytes the OTLP encoder
        writes for ``trace.spans()`` (a test holds them equal), without building those. What
        ends a span (attributes, status, flags) repeats across requests and is encoded once."""
        offset = self.clock.offset_ns
        tails = self._tails
        head = b"\x0a\x10" + trace.trace_id.to_bytes(16, "big") + b"\x12\x08"
        state = trace.tracestate
        state_field = tracestate_field(state) if state else b""
        parent = trace.parent
        span_id = trace.span_id.to_bytes(8, "big")
        endpoint, variant, instance = trace.endpoint, trace.variant, trace.instance_id
        inference, flags = trace.inference_id, trace.flags
        key: tuple[object, ...] = (
            "s", trace.path, trace.host, trace.port, trace.status, endpoint, variant, instance,
            inference, trace.error_type, trace.error_message, flags, parent is not None)
        span = b"".join((
            head, span_id, state_field,
            b"\x22\x08" + parent.span_id.to_bytes(8, "big") if parent is not None else b"",
            _SERVER_NAME_KIND,
            _pack_times(0x39, round(trace.started * 1e9) + offset,
                        0x41, round(trace.finished * 1e9) + offset),
            tails.get(key) or self._tail(key)))
        # Each span as a ScopeSpans.spans field: its tag and length, then its bytes.
        size = len(span)
        fields = [_SPAN_FIELD[size] if size < _SPAN_FIELD_LIMIT else span_field_head(size), span]
        # What every CLIENT span has between its own id and its times, and what keys its tail.
        middle = state_field + b"\x22\x08" + span_id + _CLIENT_NAME_KIND
        shared = (endpoint, variant, instance, inference, flags)
        ids = trace.hop_ids()
        k = 0
        for container, url, start, end, status, failure in trace.hops:
            key = (shared, container, url, status, failure)
            span = b"".join((
                head, ids[k:k + 8], middle,
                _pack_times(0x39, round(start * 1e9) + offset, 0x41, round(end * 1e9) + offset),
                tails.get(key) or self._tail(key)))
            size = len(span)
            fields += (_SPAN_FIELD[size] if size < _SPAN_FIELD_LIMIT else span_field_head(size),
                       span)
            k += 8
        return b"".join(fields)

    def record(self, spans: Sequence[SpanData], sampled: bool = True) -> None:
        """Spans made elsewhere: exported when sampled, kept as recent either way."""
        if sampled and self.exporter is not None:
            self.exporter.submit(spans)
        if spans:
            self.recent.add(_Recorded(spans[0].trace_id, list(spans)))


class _Recorded:
    __slots__ = ("trace_id", "_spans")

    def __init__(self, trace_id: int, spans: list[SpanData]) -> None:
        self.trace_id = trace_id
        self._spans = spans

    def spans(self) -> list[SpanData]:
        return self._spans
