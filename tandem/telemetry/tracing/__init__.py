"""Tracing: OpenTelemetry spans of invocations, transform mini-batches and training jobs.

W3C Trace Context in and out (``context``), spans as plain records (``spans``), a request's
SERVER and CLIENT spans from the router's own clock stamps (``requests``), OTLP/HTTP protobuf
encoding (``otlp``) and a batching exporter off the request path (``exporter``), and the span
data of recent traces for the dashboard (``recent``). Nothing here imports an OpenTelemetry
package: off costs an ``is None`` test per request.
"""

from __future__ import annotations

from collections.abc import Mapping

from ... import __version__
from ...config import Settings, otlp_header_pairs
from .context import (
    SAMPLED,
    Sampler,
    SamplerName,
    SpanContext,
    format_traceparent,
    new_span_id,
    new_trace_id,
    parse_traceparent,
)
from .exporter import ExporterStats, SpanExporter
from .recent import RecentTraces
from .requests import RequestTrace, RequestTracer, SpanClock
from .spans import AttributeValue, SpanData, SpanKind, StatusCode

__all__ = [
    "SAMPLED",
    "AttributeValue",
    "ExporterStats",
    "RecentTraces",
    "RequestTrace",
    "RequestTracer",
    "Sampler",
    "SamplerName",
    "SpanClock",
    "SpanContext",
    "SpanData",
    "SpanExporter",
    "SpanKind",
    "StatusCode",
    "Tracing",
    "format_traceparent",
    "new_span_id",
    "new_trace_id",
    "parse_traceparent",
]

SCOPE = ("tandem", __version__)


class Tracing:
    """The server's tracing parts, built from its settings (only when ``otlp_endpoint`` is
    set): the request tracer the router uses, its exporter, and the environment that turns
    tracing on in the handler runtime's containers."""

    def __init__(self, settings: Settings) -> None:
        assert settings.otlp_endpoint is not None
        self.settings = settings
        self.resource: tuple[tuple[str, AttributeValue], ...] = (
            ("service.name", settings.service_name),
            ("telemetry.sdk.name", "tandem"),
            ("telemetry.sdk.language", "python"),
            ("telemetry.sdk.version", __version__),
        )
        self.exporter = SpanExporter(
            settings.otlp_endpoint,
            resource=self.resource,
            scope=SCOPE,
            headers=otlp_header_pairs(settings.otlp_headers),
            timeout=settings.otlp_timeout or None,
            compression=settings.otlp_compression,
            queue_size=settings.trace_queue_size,
            batch_size=settings.trace_batch_size,
            interval=settings.trace_export_interval,
        )
        self.recent = RecentTraces(settings.recent_traces)
        self.sampler = Sampler(settings.traces_sampler, settings.traces_sampler_arg)
        self.tracer = RequestTracer(self.sampler, self.exporter, self.recent)

    def start(self, instance_id: str | None = None) -> None:
        """Start exporting (again: a no-op). ``instance_id`` becomes the resource's
        ``service.instance.id``, which tells apart the spans of servers that share a service
        name (several servers on one store, behind one load balancer, whose spans'
        ``server.address`` is the balancer's): the server's advertised URL."""
        if instance_id is not None:
            self.exporter.resource = (*self.resource, ("service.instance.id", instance_id))
        self.exporter.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.exporter.stop(timeout)

    def container_environment(self, hostname: str) -> dict[str, str]:
        """What a container needs to join the traces: OpenTelemetry's standard variables, so
        any instrumented program (not only tandem's handler runtime) exports to the same
        receiver and follows the router's sampling decision."""
        s = self.settings
        assert s.otlp_endpoint is not None
        env = {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": s.otlp_endpoint,
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": str(round(s.otlp_timeout * 1000)),
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": s.otlp_compression,
            "OTEL_TRACES_SAMPLER": s.traces_sampler,
            "OTEL_TRACES_SAMPLER_ARG": repr(s.traces_sampler_arg),
            "OTEL_BSP_MAX_QUEUE_SIZE": str(s.trace_queue_size),
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": str(s.trace_batch_size),
            "OTEL_BSP_SCHEDULE_DELAY": str(round(s.trace_export_interval * 1000)),
            "OTEL_SERVICE_NAME": hostname,
            "OTEL_PROPAGATORS": "tracecontext",
        }
        if s.otlp_headers:
            env["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = s.otlp_headers
        return env

    @staticmethod
    def with_environment(env: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
        """``extra`` under ``env``: a container's own OTEL_* variables win."""
        return {**extra, **env}
