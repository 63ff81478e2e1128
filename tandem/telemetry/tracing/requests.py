"""Spans of one InvokeEndpoint: a SERVER span for the request, a CLIENT span per container hop.

The router and the runtime API hand their own ``perf_counter`` stamps to a ``RequestTrace``
(the ones that make OverheadLatency, ModelLatency and ContainerLatency), so a span's duration
is exactly the datapoint's: a CLIENT span lasts its container's ContainerLatency, the CLIENT
spans together ModelLatency, and the SERVER span ModelLatency plus OverheadLatency.
Stamps become Unix nanoseconds through one offset taken when the tracer starts.

Every request gets ids and propagates a ``traceparent`` to its containers (with the sampled
flag clear when it is not sampled, so the decision travels); only sampled requests are
exported. ``SpanData`` objects are built only when exported or looked at.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from .context import RANDOM, SAMPLED, Sampler, SpanContext, new_span_id, new_trace_id
from .context import parse_traceparent as _parse
from .exporter import SpanExporter
from .recent import RecentTraces
from .spans import AttributeValue, SpanData, SpanKind, StatusCode

__all__ = ["RequestTrace", "RequestTracer", "SpanClock"]

_ROUTE = "/endpoints/{name}/invocations"
_SERVER_NAME = "POST " + _ROUTE


class SpanClock:
    """Turns ``time.perf_counter()`` stamps into Unix nanoseconds (one offset, taken once)."""

    __slots__ = ("offset_ns",)

    def __init__(self) -> None:
        self.offset_ns = time.time_ns() - time.perf_counter_ns()

    def unix_ns(self, perf: float) -> int:
        return round(perf * 1e9) + self.offset_ns


class _Hop:
    __slots__ = ("span_id", "container", "url", "start", "end", "status", "error")

    def __init__(self, span_id: int, container: str, url: str, start: float, end: float,
                 status: int, error: str | None) -> None:
        self.span_id = span_id
        self.container = container
        self.url = url
        self.start = start
        self.end = end
        self.status = status
        self.error = error


class RequestTrace:
    """One request's trace state, filled in by the runtime API and the router."""

    __slots__ = ("trace_id", "span_id", "parent", "flags", "tracestate", "sampled", "started",
                 "finished", "host", "port", "path", "endpoint", "variant", "instance_id",
                 "inference_id", "status", "error_type", "error_message", "hops", "_next_span",
                 "_clock")

    def __init__(self, clock: SpanClock, parent: SpanContext | None, sampled: bool,
                 started: float) -> None:
        self._clock = clock
        self.parent = parent
        self.trace_id = parent.trace_id if parent is not None else new_trace_id()
        self.span_id = new_span_id()
        # Level 2: the random flag is copied from a caller, set on traces started here.
        random_flag = (parent.flags & RANDOM) if parent is not None else RANDOM
        self.flags = random_flag | (SAMPLED if sampled else 0)
        self.tracestate = parent.tracestate if parent is not None else None
        self.sampled = sampled
        self.started = started
        self.finished = started
        self.host = ""
        self.port = 0
        self.path = ""
        self.endpoint = ""
        self.variant = ""
        self.instance_id = ""
        self.inference_id: str | None = None
        self.status = 0
        self.error_type: str | None = None
        self.error_message = ""
        self.hops: list[_Hop] = []
        self._next_span = 0

    @property
    def trace_hex(self) -> str:
        return f"{self.trace_id:032x}"

    def propagation_headers(self) -> bytes:
        """The ``traceparent`` (and ``tracestate``) lines of the next hop: its parent is that
        hop's CLIENT span, whose id is drawn here."""
        span_id = self._next_span = new_span_id()
        line = f"traceparent: 00-{self.trace_id:032x}-{span_id:016x}-{self.flags:02x}\r\n"
        if self.tracestate:
            line += f"tracestate: {self.tracestate}\r\n"
        return line.encode("ascii", "replace")

    def hop(self, container: str, url: str, start: float, end: float, status: int,
            error: str | None = None) -> None:
        """One container call done: ``start``/``end`` are the stamps its ContainerLatency
        came from; ``status`` 0 when no response came (``error`` says why)."""
        span_id = self._next_span or new_span_id()
        self._next_span = 0
        self.hops.append(_Hop(span_id, container, url, start, end, status, error))

    def spans(self) -> list[SpanData]:
        """The SERVER span and its CLIENT children, as OTLP will carry them."""
        clock = self._clock
        trace_id, flags, state = self.trace_id, self.flags, self.tracestate
        attrs: list[tuple[str, AttributeValue]] = [
            ("http.request.method", "POST"),
            ("url.path", self.path),
            ("url.scheme", "http"),
            ("http.route", _ROUTE),
            ("server.address", self.host),
            ("server.port", self.port),
            ("http.response.status_code", self.status),
            ("tandem.endpoint.name", self.endpoint),
        ]
        if self.variant:
            attrs.append(("tandem.variant.name", self.variant))
        if self.instance_id:
            attrs.append(("tandem.instance.id", self.instance_id))
        if self.inference_id is not None:
            attrs.append(("tandem.inference_id", self.inference_id))
        status = StatusCode.UNSET
        if self.error_type is not None:
            attrs.append(("error.type", self.error_type))
            status = StatusCode.ERROR
        parent = self.parent
        out = [SpanData(trace_id, self.span_id, parent.span_id if parent else 0, _SERVER_NAME,
                        SpanKind.SERVER, clock.unix_ns(self.started), clock.unix_ns(self.finished),
                        attrs, status=status, status_message=self.error_message,
                        tracestate=state, flags=flags, remote_parent=parent is not None)]
        for index, hop in enumerate(self.hops):
            out.append(self._hop_span(index, hop))
        return out

    def _hop_span(self, index: int, hop: _Hop) -> SpanData:
        url = urlsplit(hop.url)
        attrs: list[tuple[str, AttributeValue]] = [
            ("http.request.method", "POST"),
            ("url.full", hop.url),
            ("server.address", url.hostname or ""),
            ("server.port", url.port or 80),
            ("tandem.endpoint.name", self.endpoint),
            ("tandem.variant.name", self.variant),
            ("tandem.instance.id", self.instance_id),
            ("tandem.container.name", hop.container),
        ]
        if self.inference_id is not None:
            attrs.append(("tandem.inference_id", self.inference_id))
        status = StatusCode.UNSET
        message = ""
        if hop.status:
            attrs.append(("http.response.status_code", hop.status))
        if hop.error is not None or not 200 <= hop.status < 400:
            # Client spans: 4xx and 5xx are errors, and so is no answer at all.
            status = StatusCode.ERROR
            attrs.append(("error.type", hop.error or str(hop.status)))
            if hop.error is not None:
                message = hop.error
        clock = self._clock
        return SpanData(self.trace_id, hop.span_id, self.span_id, "POST", SpanKind.CLIENT,
                        clock.unix_ns(hop.start), clock.unix_ns(hop.end), attrs, status=status,
                        status_message=message, tracestate=self.tracestate, flags=self.flags)


class RequestTracer:
    """Starts and finishes request traces; exports the sampled ones and keeps every recent
    one for the dashboard."""

    def __init__(self, sampler: Sampler, exporter: SpanExporter | None,
                 recent: RecentTraces, clock: SpanClock | None = None) -> None:
        self.sampler = sampler
        self.exporter = exporter
        self.recent = recent
        self.clock = clock or SpanClock()

    def begin(self, traceparent: str | None, tracestate: str | None,
              started: float) -> RequestTrace:
        parent = _parse(traceparent, tracestate) if traceparent is not None else None
        trace_id = parent.trace_id if parent is not None else 0
        # A new trace's id is drawn by RequestTrace; sample on the id it will carry.
        trace = RequestTrace(self.clock, parent, True, started)
        if parent is None:
            trace_id = trace.trace_id
        if not self.sampler.sampled(trace_id, parent):
            trace.sampled = False
            trace.flags &= ~SAMPLED
        return trace

    def end(self, trace: RequestTrace, finished: float) -> None:
        trace.finished = finished
        if trace.sampled and self.exporter is not None:
            self.exporter.submit(trace.spans())
        self.recent.add(trace)

    def record(self, spans: Sequence[SpanData], sampled: bool = True) -> None:
        """Spans made elsewhere (jobs): exported when sampled, kept as recent either way."""
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
