"""Prometheus text exposition at ``GET /metrics``, derived at scrape time from tandem's own series.

The request path records once, into the metric registry's minute buckets; this
module never sits on it. A scrape walks the registry and turns each series'
cumulative state (``Series.cumulative()``: every bucket still in memory plus the
totals of the buckets already flushed and evicted) into Prometheus families:

- counters ``tandem_invocations_total``, ``tandem_invocation_4xx_errors_total``,
  ``tandem_invocation_5xx_errors_total``, ``tandem_invocations_per_instance_total``;
- histograms ``tandem_model_latency_seconds``, ``tandem_overhead_latency_seconds``,
  ``tandem_container_latency_seconds`` whose buckets come from the series' percentile
  sketch (each sketch bin counted at its representative value, within 0.5 % of every
  value in it);
- gauges ``tandem_{cpu,memory,gpu,gpu_memory,disk}_utilization_percent``: the average
  of the newest minute, per host, while that minute is recent.

Labels are ``endpoint``, ``variant`` and ``container`` for invocation metrics and
``endpoint``, ``variant``, ``job`` and ``host`` for instance metrics.

Alarms: the gauge ``tandem_alarm_state{alarm, state}`` is 1 for each alarm's current state
and 0 for its other two (``OK``, ``ALARM``, ``INSUFFICIENT_DATA``), so
``tandem_alarm_state{state="ALARM"} == 1`` lists the alarms firing.

With tracing on, the span exporter's counters too: ``tandem_trace_spans_exported_total``,
``tandem_trace_spans_dropped_total`` (queue full), ``tandem_trace_spans_failed_total``
(receiver did not take them) and the gauge ``tandem_trace_spans_queued``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
from aiohttp import web
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from ..clock import Clock, SystemClock
from ..telemetry.alarms import AlarmState, MetricAlarm
from ..telemetry.metrics import MetricRegistry, Series
from ..telemetry.metrics.sketch import bin_value
from ..telemetry.tracing import ExporterStats

__all__ = ["TandemCollector", "LATENCY_BUCKETS", "add_routes", "render"]

_INVOCATIONS_NS = "AWS/SageMaker"
_USAGE_NAMESPACES = {
    "/aws/sagemaker/Endpoints": "endpoint",
    "/aws/sagemaker/TrainingJobs": "training_job",
    "/aws/sagemaker/TransformJobs": "transform_job",
}

# Prometheus' default buckets, extended below 5 ms: local pipelines answer in well under that.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

_COUNTERS = {
    "Invocations": ("tandem_invocations", "InvokeEndpoint requests (CloudWatch Invocations)."),
    "Invocation4XXErrors": (
        "tandem_invocation_4xx_errors",
        "Requests a container answered with a 4xx (Invocation4XXErrors).",
    ),
    "Invocation5XXErrors": (
        "tandem_invocation_5xx_errors",
        "Requests a container answered with a 5xx, crashed or timed out (Invocation5XXErrors).",
    ),
    "InvocationsPerInstance": (
        "tandem_invocations_per_instance",
        "Invocations normalised by the variant's instance count (InvocationsPerInstance).",
    ),
}
_HISTOGRAMS = {
    "ModelLatency": (
        "tandem_model_latency_seconds",
        "Time spent in the containers, all of them for a pipeline (ModelLatency).",
    ),
    "OverheadLatency": (
        "tandem_overhead_latency_seconds",
        "Time tandem held a request beyond ModelLatency (OverheadLatency).",
    ),
    "ContainerLatency": (
        "tandem_container_latency_seconds",
        "One pipeline container's share of a request (ContainerLatency).",
    ),
}
_GAUGES = {
    "CPUUtilization": (
        "tandem_cpu_utilization_percent",
        "CPU use of an instance's containers, 0-100 x CPUs, last minute's average.",
    ),
    "MemoryUtilization": (
        "tandem_memory_utilization_percent",
        "Memory use of an instance's containers, last minute's average.",
    ),
    "GPUUtilization": (
        "tandem_gpu_utilization_percent",
        "GPU use of an instance's containers, 0-100 x GPUs, last minute's average.",
    ),
    "GPUMemoryUtilization": (
        "tandem_gpu_memory_utilization_percent",
        "GPU memory use, 0-100 x GPUs, last minute's average.",
    ),
    "DiskUtilization": (
        "tandem_disk_utilization_percent",
        "Disk use of the filesystem holding an instance, last minute's average.",
    ),
}
_INVOCATION_LABELS = ["endpoint", "variant", "container"]
_USAGE_LABELS = ["endpoint", "variant", "job", "host"]
# A gauge whose newest minute is older than this is gone (the instance stopped).
_GAUGE_STALE_SECONDS = 120


def histogram_buckets(
    bins: dict[int, float], scale: float, bounds: Sequence[float] = LATENCY_BUCKETS
) -> list[float]:
    """Cumulative counts at each bound (``le``) of sketch bins whose values are ``x * scale``."""
    if not bins:
        return [0.0] * len(bounds)
    keys = np.fromiter(bins.keys(), dtype=np.int64, count=len(bins))
    counts = np.fromiter(bins.values(), dtype=np.float64, count=len(bins))
    values = bin_value(keys) * scale
    slot = np.searchsorted(np.asarray(bounds), values, side="left")
    per_bound = np.bincount(slot, weights=counts, minlength=len(bounds) + 1)
    cumulative: list[float] = np.cumsum(per_bound[: len(bounds)]).tolist()
    return cumulative


def _invocation_labels(dims: dict[str, str]) -> list[str]:
    return [
        dims.get("EndpointName", ""),
        dims.get("VariantName", ""),
        dims.get("ContainerName", ""),
    ]


def _usage_labels(kind: str, host: str) -> list[str]:
    if kind == "endpoint":
        endpoint, _, rest = host.partition("/")
        variant = rest.partition("/")[0]
        return [endpoint, variant, "", host]
    return ["", "", host.partition("/")[0], host]


class TandemCollector:
    """A ``prometheus_client`` collector over a ``MetricRegistry`` (register it with
    ``CollectorRegistry(auto_describe=False)``)."""

    def __init__(
        self,
        registry: MetricRegistry,
        clock: Clock | None = None,
        alarms: Callable[[], list[MetricAlarm]] | None = None,
        *,
        trace_stats: Callable[[], ExporterStats] | None = None,
    ) -> None:
        """``alarms``: the alarm snapshot (``AlarmService.alarms``), for the state gauge;
        ``trace_stats``: the span exporter's counters (tracing on)."""
        self.registry = registry
        self.clock = clock or SystemClock()
        self.alarms = alarms
        self.trace_stats = trace_stats

    def collect(self) -> Iterator[Metric]:
        counters = {
            m: CounterMetricFamily(n, d, labels=_INVOCATION_LABELS)
            for m, (n, d) in _COUNTERS.items()
        }
        histograms = {
            m: HistogramMetricFamily(n, d, labels=_INVOCATION_LABELS)
            for m, (n, d) in _HISTOGRAMS.items()
        }
        gauges = {m: GaugeMetricFamily(n, d, labels=_USAGE_LABELS) for m, (n, d) in _GAUGES.items()}
        fresh_after = self.clock.time() - _GAUGE_STALE_SECONDS
        for series in self._sorted(self.registry.all_series()):
            key = series.key
            dims = dict(key.dimensions)
            if key.namespace == _INVOCATIONS_NS:
                if key.metric_name in counters:
                    _, total, _ = series.cumulative()
                    counters[key.metric_name].add_metric(_invocation_labels(dims), total)
                elif key.metric_name in histograms:
                    count, total, bins = series.cumulative()
                    scale = 1e-6 if key.unit == "Microseconds" else 1.0
                    cumulative = histogram_buckets(bins, scale)
                    buckets = [
                        (_le(b), c) for b, c in zip(LATENCY_BUCKETS, cumulative, strict=True)
                    ]
                    buckets.append(("+Inf", count))
                    histograms[key.metric_name].add_metric(
                        _invocation_labels(dims), buckets, total * scale
                    )
            elif key.namespace in _USAGE_NAMESPACES and key.metric_name in gauges:
                host = dims.get("Host")
                latest = series.latest()
                if host is None or len(dims) != 1 or latest is None:
                    continue  # the EndpointName/VariantName copies would count hosts twice
                start, count, total = latest
                if count > 0 and start + 60 >= fresh_after:
                    gauges[key.metric_name].add_metric(
                        _usage_labels(_USAGE_NAMESPACES[key.namespace], host), total / count
                    )
        yield from counters.values()
        yield from histograms.values()
        yield from gauges.values()
        if self.alarms is not None:
            yield self._alarm_states(self.alarms())
        if self.trace_stats is not None:
            yield from _trace_families(self.trace_stats())

    @staticmethod
    def _alarm_states(alarms: list[MetricAlarm]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "tandem_alarm_state",
            "1 for the state each CloudWatch alarm is in, 0 for the others.",
            labels=["alarm", "state"],
        )
        for alarm in alarms:
            for state in AlarmState:
                family.add_metric(
                    [alarm.alarm_name, state.value], 1.0 if alarm.state_value is state else 0.0
                )
        return family

    @staticmethod
    def _sorted(series: Iterable[Series]) -> list[Series]:
        return sorted(series, key=lambda s: (s.key.namespace, s.key.metric_name, s.key.dimensions))


def _trace_families(stats: ExporterStats) -> Iterator[Metric]:
    yield CounterMetricFamily("tandem_trace_spans_exported",
                              "Spans the OTLP receiver accepted.", value=stats.exported)
    yield CounterMetricFamily("tandem_trace_spans_dropped",
                              "Spans dropped because the export queue was full.",
                              value=stats.dropped)
    yield CounterMetricFamily("tandem_trace_spans_failed",
                              "Spans lost because the OTLP receiver did not take their batch.",
                              value=stats.failed)
    yield GaugeMetricFamily("tandem_trace_spans_queued", "Spans waiting for export.",
                            value=stats.queued)


def _le(bound: float) -> str:
    return repr(float(bound))


def render(collector: TandemCollector, accept: str | None = None) -> tuple[bytes, str]:
    """The exposition (text format, or OpenMetrics when ``accept`` asks) and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


def add_routes(app: web.Application, collector: TandemCollector) -> None:
    """``GET /metrics`` on the tandem port."""

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = await asyncio.to_thread(
            render, collector, request.headers.get("Accept")
        )
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/metrics", metrics)
