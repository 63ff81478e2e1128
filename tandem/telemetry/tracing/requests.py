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
from binascii import a2b_hex as _unhexlify
from binascii import b2a_hex as _hexlify
from collections.abc import Callable, Sequence
from random import getrandbits as _getrandbits
from urllib.parse import urlsplit

from .context import RANDOM, SAMPLED, Sampler, SpanContext, new_span_id, new_trace_id
from .context import parse_traceparent as _parse
from .exporter import SpanExporter
from .otlp import (
    encode_attribute_block,
    flags_field,
    name_kind_fields,
    scope_span_fields,
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
_MASK64 = (1 << 64) - 1
# Hop span ids drawn at once (a pipeline has 1 to 15 containers, most often a few), as the
# hex digits a traceparent carries: one random draw and one conversion per request, not per hop.
_HOP_IDS = 4
_ZERO_ID = b"0" * 16
# What ends a traceparent line, by W3C flags (only the sampled and random bits are set here).
_FLAGS_LINE_END = tuple(b"-%02x\r\n" % flags for flags in range((RANDOM | SAMPLED) + 1))


class SpanClock:
    """Turns ``time.perf_counter()`` stamps into Unix nanoseconds (one offset, taken once)."""

    __slots__ = ("offset_ns",)

    def __init__(self) -> None:
        self.offset_ns = time.time_ns() - time.perf_counter_ns()

    def unix_ns(self, perf: float) -> int:
        return round(perf * 1e9) + self.offset_ns


# One hop: (span id as 16 hex digits, container, url, start, end, status, error).
_Hop = tuple[bytes, str, str, float, float, int, "str | None"]


class RequestTrace:
    """One request's trace state, filled in by the runtime API and the router."""

    __slots__ = ("trace_id", "span_id", "parent", "flags", "tracestate", "sampled", "started",
                 "finished", "host", "port", "path", "endpoint", "variant", "instance_id",
                 "inference_id", "status", "error_type", "error_message", "hops", "_ids", "_next",
                 "_span", "_prefix", "_suffix", "_tracer")

    def __init__(self, tracer: RequestTracer, parent: SpanContext | None,
                 started: float) -> None:
        self._tracer = tracer
        self.parent = parent
        self.started = self.finished = started
        self.hops: list[_Hop] = []
        self.host = self.path = self.endpoint = self.variant = self.instance_id = ""
        self.error_message = ""
        self.port = self.status = 0
        self.inference_id: str | None = None
        self.error_type: str | None = None
        # Hop span ids drawn ahead, as hex digits, used from the end (``_next`` digits left),
        # and the one propagation_headers gave the hop under way.
        self._ids = self._span = self._prefix = self._suffix = b""
        self._next = 0
        bits = _getrandbits(192)  # one draw: the span id, and the trace id of a new trace
        self.span_id = bits & _MASK64 or new_span_id()
        if parent is None:
            # The sampler's rule, inline (Sampler.root_bound). Level 2: the random flag is
            # set on traces started here, copied from a caller.
            self.tracestate: str | None = None
            trace_id = self.trace_id = bits >> 64 or new_trace_id()
            sampled = self.sampled = trace_id & _MASK64 < tracer.bound
            self.flags = RANDOM | SAMPLED if sampled else RANDOM
            return
        trace_id = self.trace_id = parent.trace_id
        flags = parent.flags & RANDOM
        self.tracestate = parent.tracestate
        sampled = self.sampled = (parent.sampled if tracer.parent_based
                                  else trace_id & _MASK64 < tracer.bound)
        self.flags = flags | SAMPLED if sampled else flags

    @property
    def trace_hex(self) -> str:
        return f"{self.trace_id:032x}"

    def propagation_headers(self) -> bytes:
        """The ``traceparent`` (and ``tracestate``) lines of the next hop: its parent is that
        hop's CLIENT span, whose id is drawn here."""
        k = self._next
        if not k:
            k = self._draw()
        span = self._span = self._ids[k - 16:k]
        self._next = k - 16
        if span == _ZERO_ID:  # invalid in a traceparent (one chance in 2**64)
            span = self._span = b"%016x" % new_span_id()
        return self._prefix + span + self._suffix

    def _draw(self) -> int:
        """Draw the next hop span ids; the first time, render what every hop's lines share."""
        bits = _getrandbits(64 * _HOP_IDS)
        if self._prefix:
            self._ids = _hexlify(bits.to_bytes(8 * _HOP_IDS, "big"))
        else:
            # The trace id's digits come with the same conversion.
            drawn = _hexlify((self.trace_id << 64 * _HOP_IDS | bits).to_bytes(
                16 + 8 * _HOP_IDS, "big"))
            self._prefix = b"traceparent: 00-" + drawn[:32] + b"-"
            suffix = _FLAGS_LINE_END[self.flags]
            if self.tracestate:
                suffix += f"tracestate: {self.tracestate}\r\n".encode("ascii", "replace")
            self._suffix = suffix
            self._ids = drawn[32:]
        return 16 * _HOP_IDS

    def hop(self, container: str, url: str, start: float, end: float, status: int,
            error: str | None = None) -> None:
        """One container call done: ``start``/``end`` are the stamps its ContainerLatency
        came from; ``status`` 0 when no response came (``error`` says why)."""
        self.hops.append((self._span or b"%016x" % new_span_id(), container, url, start, end,
                          status, error))
        self._span = b""

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
        for span_id, container, url, start, end, status, failure in self.hops:
            attrs = self._tracer.attributes(self._client_key(container, url, status, failure),
                                            self._client_attributes)
            failed = failure is not None or not 200 <= status < 400
            out.append(SpanData(trace_id, int(span_id, 16), self.span_id, "POST", SpanKind.CLIENT,
                                clock.unix_ns(start), clock.unix_ns(end), attrs,
                                status=StatusCode.ERROR if failed else StatusCode.UNSET,
                                status_message=failure or "", tracestate=state, flags=flags))
        return out

    def _server_key(self) -> tuple[object, ...]:
        return ("s", self.path or f"/endpoints/{self.endpoint}/invocations", self.host,
                self.port, self.status, self.endpoint, self.variant, self.instance_id,
                self.inference_id, self.error_type)

    def _client_key(self, container: str, url: str, status: int,
                    failure: str | None) -> tuple[object, ...]:
        return ("c", url, self.endpoint, self.variant, self.instance_id, container,
                self.inference_id, status, failure)

    @staticmethod
    def _server_attributes(key: tuple[object, ...]) -> _Attributes:
        _, path, host, port, status, endpoint, variant, instance, inference, error = key
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

    def begin(self, traceparent: str | None, tracestate: str | None,
              started: float) -> RequestTrace:
        parent = _parse(traceparent, tracestate) if traceparent is not None else None
        return RequestTrace(self, parent, started)

    def end(self, trace: RequestTrace, finished: float) -> None:
        trace.finished = finished
        exporter = self.exporter
        if trace.sampled and exporter is not None:
            count = len(trace.hops) + 1
            if exporter.room(count):  # else dropped (and counted) before being encoded
                exporter.submit_encoded(self.encode(trace), count)
        self.recent.add(trace)

    def _tail(self, key: tuple[object, ...]) -> bytes:
        """What ends a span (attributes, status, flags) for ``encode``'s ``key``: the span's
        attribute key, then its status message and W3C flags, then whether its parent is
        remote (a server span) or its status (a client span)."""
        tails = self._tails
        if len(tails) >= _CACHE_LIMIT:
            tails.clear()
        if key[0] == "s":
            attrs = self.attributes(key[:10], RequestTrace._server_attributes)
            error, message, flags, remote = key[9], key[10], key[11], key[12]
            failed = error is not None
        else:
            attrs = self.attributes(key[:9], RequestTrace._client_attributes)
            status, failure, flags = key[7], key[8], key[9]
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
            "s", trace.path or f"/endpoints/{endpoint}/invocations", trace.host, trace.port,
            trace.status, endpoint, variant, instance, inference, trace.error_type,
            trace.error_message, flags, parent is not None)
        spans = [b"".join((
            head, span_id, state_field,
            b"\x22\x08" + parent.span_id.to_bytes(8, "big") if parent is not None else b"",
            _SERVER_NAME_KIND,
            _pack_times(0x39, round(trace.started * 1e9) + offset,
                        0x41, round(trace.finished * 1e9) + offset),
            tails.get(key) or self._tail(key)))]
        # What every CLIENT span has between its own id and its times.
        middle = state_field + b"\x22\x08" + span_id + _CLIENT_NAME_KIND
        for hop_id, container, url, start, end, status, failure in trace.hops:
            key = ("c", url, endpoint, variant, instance, container, inference, status, failure,
                   flags)
            spans.append(b"".join((
                head, _unhexlify(hop_id), middle,
                _pack_times(0x39, round(start * 1e9) + offset, 0x41, round(end * 1e9) + offset),
                tails.get(key) or self._tail(key))))
        return scope_span_fields(spans)

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
