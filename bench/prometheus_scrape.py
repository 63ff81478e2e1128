"""Cost of one GET /metrics scrape: 50 endpoints with 3-container pipelines (600 series).

    .venv/bin/python bench/prometheus_scrape.py

Figures and the machine they came from are in docs/dashboard.md.
"""

from __future__ import annotations

import time

from tandem.api.prometheus import TandemCollector, render
from tandem.telemetry.metrics import MetricRegistry

_COUNTERS = ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "InvocationsPerInstance")
_USAGE = ("CPUUtilization", "MemoryUtilization", "DiskUtilization")


def build(endpoints: int = 50, values: int = 100) -> MetricRegistry:
    reg = MetricRegistry()
    for e in range(endpoints):
        dims = {"EndpointName": f"ep{e}", "VariantName": "AllTraffic"}
        for metric in _COUNTERS:
            series = reg.series("AWS/SageMaker", metric, dims)
            for _ in range(values):
                series.record(1.0)
        for metric in ("ModelLatency", "OverheadLatency"):
            series = reg.series("AWS/SageMaker", metric, dims, "Microseconds")
            for i in range(values):
                series.record(100.0 + 37 * i)
        for container in ("a", "b", "c"):
            series = reg.series(
                "AWS/SageMaker",
                "ContainerLatency",
                {**dims, "ContainerName": container},
                "Microseconds",
            )
            for i in range(values):
                series.record(50.0 + 13 * i)
        for metric in _USAGE:
            reg.series(
                "/aws/sagemaker/Endpoints",
                metric,
                {"Host": f"ep{e}/AllTraffic/i-{e:017x}"},
                "Percent",
            ).record(12.0)
    return reg


def main() -> None:
    reg = build()
    collector = TandemCollector(reg)
    body, _ = render(collector)
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        render(collector)
    per_scrape = (time.perf_counter() - start) / rounds
    lines = body.count(b"\n")
    print(
        f"series={len(reg.all_series())} lines={lines} bytes={len(body)} "
        f"scrape_ms={per_scrape * 1000:.1f}"
    )


if __name__ == "__main__":
    main()
