"""Tracing inside a handler-runtime container: the router's trace continued around the handler.

On when the container's environment names an OTLP traces endpoint (tandem's launcher passes
OpenTelemetry's standard variables when the server traces: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_TRACES_SAMPLER``/``_ARG``, ``OTEL_SERVICE_NAME`` = the container's hostname, ...; see
docs/tracing.md). Each request then gets a SERVER span ``POST /invocations`` whose parent is the
``traceparent`` the router sent (its CLIENT span), with an INTERNAL child per handler function
called (``input_fn``, ``predict_fn``, ``output_fn`` or ``transform_fn``). Every log record
emitted while a request is served ends with `` trace_id=<32 hex> span_id=<16 hex>
trace_flags=<2 hex>`` (OpenTelemetry's names for plain-text logs), so its lines in the
container's log stream point at the trace.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import __version__
from ..telemetry.tracing import (
    AttributeValue,
    Sampler,
    SpanContext,
    SpanData,
    SpanExporter,
    SpanKind,
    StatusCode,
    new_span_id,
    new_trace_id,
    parse_traceparent,
)
from ..telemetry.tracing.context import RANDOM, SAMPLED, SamplerName

__all__ = ["RequestSpan", "RuntimeTracing", "TraceLogFilter", "TraceSettings", "current_span"]

_CURRENT: contextvars.ContextVar[RequestSpan | None] = contextvars.ContextVar(
    "tandem_runtime_span", default=None)


def current_span() -> RequestSpan | None:
    return _CURRENT.get()


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, "").strip() or default)
    except ValueError:
        return default


@dataclasses.dataclass(frozen=True)
class TraceSettings:
    """OpenTelemetry's standard variables, as the runtime reads them."""

    endpoint: str
    service_name: str
    sampler: str = "parentbased_always_on"
    ratio: float = 1.0
    timeout: float = 10.0
    compression: str = "none"
    headers: tuple[tuple[str, str], ...] = ()
    queue_size: int = 2048
    batch_size: int = 512
    interval: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TraceSettings | None:
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return None
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        if not endpoint:
            base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
            endpoint = base.rstrip("/") + "/v1/traces" if base else ""
        if not endpoint.startswith(("http://", "https://")):
            return None
        sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
        if sampler not in {s.value for s in SamplerName}:
            sampler = "parentbased_always_on"
        headers = []
        for member in env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "").split(","):
            key, sep, value = member.partition("=")
            if sep and key.strip():
                headers.append((key.strip().lower(), value.strip()))
        return cls(
            endpoint=endpoint,
            service_name=(env.get("OTEL_SERVICE_NAME", "").strip()
                          or env.get("SAGEMAKER_CONTAINER_NAME", "").strip() or "container"),
            sampler=sampler,
            ratio=min(max(_float(env, "OTEL_TRACES_SAMPLER_ARG", 1.0), 0.0), 1.0),
            timeout=_float(env, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 10000.0) / 1000.0,
            compression="gzip" if env.get("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "").strip()
            == "gzip" else "none",
            headers=tuple(headers),
            queue_size=int(_float(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)) or 2048,
            batch_size=int(_float(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)) or 512,
            interval=_float(env, "OTEL_BSP_SCHEDULE_DELAY", 5000.0) / 1000.0 or 5.0,
        )


class RequestSpan:
    """One request's SERVER span and its handler-function children."""

    __slots__ = ("trace_id", "span_id", "parent", "flags", "sampled", "start_ns", "children")

    def __init__(self, parent: SpanContext | None, sampled: bool) -> None:
        self.parent = parent
        self.trace_id = parent.trace_id if parent is not None else new_trace_id()
        self.span_id = new_span_id()
        random_flag = parent.flags & RANDOM if parent is not None else RANDOM
        self.flags = random_flag | (SAMPLED if sampled else 0)
        self.sampled = sampled
        self.start_ns = time.time_ns()
        self.children: list[tuple[str, int, int, str | None]] = []

    def log_suffix(self) -> str:
        return (f" trace_id={self.trace_id:032x} span_id={self.span_id:016x}"
                f" trace_flags={self.flags:02x}")


class RuntimeTracing:
    """Starts and ends request spans and exports the sampled ones (a thread per worker
    process, started on first use so forked workers each get their own)."""

    def __init__(self, settings: TraceSettings) -> None:
        self.settings = settings
        self.sampler = Sampler(settings.sampler, settings.ratio)
        self._exporter: SpanExporter | None = None
        self._pid = 0

    def exporter(self) -> SpanExporter:
        if self._exporter is None or self._pid != os.getpid():
            s = self.settings
            self._exporter = SpanExporter(
                s.endpoint, resource=(("service.name", s.service_name),
                                      ("telemetry.sdk.name", "tandem"),
                                      ("telemetry.sdk.language", "python"),
                                      ("telemetry.sdk.version", __version__)),
                scope=("tandem.runtime", __version__), headers=s.headers,
                timeout=s.timeout or None, compression=s.compression,
                queue_size=s.queue_size, batch_size=s.batch_size, interval=s.interval)
            self._pid = os.getpid()
            self._exporter.start()
        return self._exporter

    def begin(self, headers: Mapping[str, str]) -> tuple[RequestSpan, contextvars.Token[Any]]:
        parent = parse_traceparent(headers.get("traceparent"), headers.get("tracestate"))
        span = RequestSpan(parent, True)
        if not self.sampler.sampled(span.trace_id, parent):
            span.sampled = False
            span.flags &= ~SAMPLED
        return span, _CURRENT.set(span)

    def end(self, span: RequestSpan, token: contextvars.Token[Any], status: int) -> None:
        _CURRENT.reset(token)
        end_ns = time.time_ns()
        if not span.sampled:
            return
        parent = span.parent
        error = status >= 500
        attrs: list[tuple[str, AttributeValue]] = [
            ("http.request.method", "POST"), ("url.path", "/invocations"),
            ("http.route", "/invocations"), ("http.response.status_code", status),
            ("tandem.container.name", self.settings.service_name)]
        if error:
            attrs.append(("error.type", str(status)))
        spans = [SpanData(
            span.trace_id, span.span_id, parent.span_id if parent else 0, "POST /invocations",
            SpanKind.SERVER, span.start_ns, end_ns, attrs,
            status=StatusCode.ERROR if error else StatusCode.UNSET,
            tracestate=parent.tracestate if parent else None, flags=span.flags,
            remote_parent=parent is not None)]
        for name, start, stop, failure in span.children:
            child: list[tuple[str, AttributeValue]] = [("code.function.name", name)]
            if failure is not None:
                child.append(("error.type", failure))
            spans.append(SpanData(
                span.trace_id, new_span_id(), span.span_id, name, SpanKind.INTERNAL, start, stop,
                child,
                status=StatusCode.ERROR if failure is not None else StatusCode.UNSET,
                flags=span.flags))
        self.exporter().submit(spans)


def traced_call(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` timed as a child span of the current request (when there is one)."""

    def call(*args: Any) -> Any:
        span = _CURRENT.get()
        if span is None:
            return fn(*args)
        start = time.time_ns()
        try:
            result = fn(*args)
        except BaseException as error:
            span.children.append((name, start, time.time_ns(), type(error).__qualname__))
            raise
        span.children.append((name, start, time.time_ns(), None))
        return result

    return call


class TraceLogFilter(logging.Filter):
    """Adds ``trace_context`` to every record: the current request's ids, or nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = _CURRENT.get()
        record.trace_context = span.log_suffix() if span is not None else ""
        return True
