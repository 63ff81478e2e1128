"""GET /metrics: the Prometheus exposition derived from tandem's series at scrape time."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tandem.api.prometheus import LATENCY_BUCKETS, TandemCollector, add_routes, histogram_buckets
from tandem.api.prometheus import render as render_exposition
from tandem.clock import ManualClock
from tandem.telemetry.metrics import MetricRegistry
from tandem.telemetry.metrics.sketch import bin_key, bin_value
from tests.tools import PROMETHEUS, requires

NS = "AWS/SageMaker"
DIMS = {"EndpointName": "wine", "VariantName": "AllTraffic"}
T0 = 1_700_000_040.0  # a minute boundary


def _families(text: str) -> dict[str, dict[tuple, float]]:
    """name -> {(sample name, sorted labels): value}."""
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(family.name, {})[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _flush_and_evict(registry: MetricRegistry, before: float) -> None:
    """What MetricFlusher does to memory: snapshot (marks clean), then evict old minutes."""
    for series in registry.all_series():
        series.snapshot()
        series.evict(int(before))


def test_counters_histograms_and_gauges_render_with_prometheus_names() -> None:
    clock = ManualClock(T0)
    reg = MetricRegistry(clock=clock)
    inv = reg.series(NS, "Invocations", DIMS)
    err4 = reg.series(NS, "Invocation4XXErrors", DIMS)
    model = reg.series(NS, "ModelLatency", DIMS, "Microseconds")
    container = reg.series(
        NS, "ContainerLatency", {**DIMS, "ContainerName": "scaler"}, "Microseconds"
    )
    cpu = reg.series(
        "/aws/sagemaker/Endpoints",
        "CPUUtilization",
        {"Host": "wine/AllTraffic/i-0123456789abcdef0"},
        "Percent",
    )
    reg.series("/aws/sagemaker/Endpoints", "CPUUtilization", DIMS, "Percent").record(50.0)
    for _ in range(3):
        inv.record(1.0)
    err4.record(0.0)
    err4.record(1.0)
    err4.record(0.0)
    model.record(200.0)  # 0.0002 s
    model.record(3_000.0)  # 0.003 s
    model.record(2_000_000.0)  # 2 s
    container.record(150.0)
    cpu.record(30.0)
    cpu.record(50.0)

    text = render_exposition(TandemCollector(reg, clock))[0].decode()
    fam = _families(text)
    labels = (("container", ""), ("endpoint", "wine"), ("variant", "AllTraffic"))
    assert fam["tandem_invocations"] == {("tandem_invocations_total", labels): 3.0}
    assert fam["tandem_invocation_4xx_errors"] == {
        ("tandem_invocation_4xx_errors_total", labels): 1.0
    }
    model_samples = fam["tandem_model_latency_seconds"]
    le = dict(
        (dict(k[1])["le"], v)
        for k, v in model_samples.items()
        if k[0] == "tandem_model_latency_seconds_bucket"
    )
    assert le["0.0001"] == 0.0
    assert le["0.00025"] == 1.0
    assert le["0.0025"] == 1.0
    assert le["0.005"] == 2.0
    assert le["1.0"] == 2.0
    assert le["2.5"] == 3.0
    assert le["+Inf"] == 3.0
    assert model_samples[("tandem_model_latency_seconds_count", labels)] == 3.0
    assert model_samples[("tandem_model_latency_seconds_sum", labels)] == pytest.approx(2.0032)
    assert (
        "tandem_container_latency_seconds_count",
        (("container", "scaler"), ("endpoint", "wine"), ("variant", "AllTraffic")),
    ) in fam["tandem_container_latency_seconds"]
    # One gauge per host: the EndpointName/VariantName copy is not a second host.
    assert fam["tandem_cpu_utilization_percent"] == {
        (
            "tandem_cpu_utilization_percent",
            (
                ("endpoint", "wine"),
                ("host", "wine/AllTraffic/i-0123456789abcdef0"),
                ("job", ""),
                ("variant", "AllTraffic"),
            ),
        ): 40.0
    }
    assert "# TYPE tandem_invocations_total counter" in text
    assert "# TYPE tandem_model_latency_seconds histogram" in text
    assert "# TYPE tandem_cpu_utilization_percent gauge" in text


def test_counts_survive_minute_buckets_being_flushed_and_evicted() -> None:
    clock = ManualClock(T0)
    reg = MetricRegistry(clock=clock)
    inv = reg.series(NS, "Invocations", DIMS)
    lat = reg.series(NS, "ModelLatency", DIMS, "Microseconds")
    for minute in range(5):
        for _ in range(minute + 1):
            inv.record(1.0)
            lat.record(1000.0)
        clock.advance(60)
        _flush_and_evict(reg, clock.time() - 60)
    fam = _families(render_exposition(TandemCollector(reg, clock))[0].decode())
    labels = (("container", ""), ("endpoint", "wine"), ("variant", "AllTraffic"))
    assert fam["tandem_invocations"][("tandem_invocations_total", labels)] == 15.0
    assert (
        fam["tandem_model_latency_seconds"][("tandem_model_latency_seconds_count", labels)] == 15.0
    )


def test_stale_gauges_disappear_but_counters_stay() -> None:
    clock = ManualClock(T0)
    reg = MetricRegistry(clock=clock)
    reg.series(
        "/aws/sagemaker/TrainingJobs", "MemoryUtilization", {"Host": "train-1/algo-1"}, "Percent"
    ).record(12.5)
    fam = _families(render_exposition(TandemCollector(reg, clock))[0].decode())
    assert fam["tandem_memory_utilization_percent"] == {
        (
            "tandem_memory_utilization_percent",
            (("endpoint", ""), ("host", "train-1/algo-1"), ("job", "train-1"), ("variant", "")),
        ): 12.5
    }
    clock.advance(300)
    fam = _families(render_exposition(TandemCollector(reg, clock))[0].decode())
    assert "tandem_memory_utilization_percent" not in fam


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e8, allow_nan=False), max_size=60))
def test_histogram_buckets_match_a_naive_count(values_us: list[float]) -> None:
    bins: dict[int, float] = {}
    for v in values_us:
        k = bin_key(v)
        bins[k] = bins.get(k, 0.0) + 1.0
    reps = [float(bin_value(np.array([bin_key(v)]))[0]) * 1e-6 for v in values_us]
    naive = [float(sum(1 for r in reps if r <= b)) for b in LATENCY_BUCKETS]
    assert histogram_buckets(bins, 1e-6) == naive


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0.0, 1e6, allow_nan=False)), max_size=80))
def test_cumulative_equals_everything_recorded(events: list[tuple[int, float]]) -> None:
    clock = ManualClock(T0)
    reg = MetricRegistry(clock=clock)
    series = reg.series(NS, "ModelLatency", DIMS, "Microseconds")
    for step, value in events:
        clock.advance(step * 30)
        series.record(value)
        if step % 2:
            _flush_and_evict(reg, clock.time() - 60)
    count, total, bins = series.cumulative()
    assert count == len(events)
    assert total == pytest.approx(sum(v for _, v in events))
    assert sum(bins.values()) == len(events)


async def test_metrics_route_answers_text_and_openmetrics() -> None:
    reg = MetricRegistry(clock=ManualClock(T0))
    reg.series(NS, "Invocations", DIMS).record(1.0)
    app = web.Application()
    add_routes(app, TandemCollector(reg, ManualClock(T0)))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert (
            'tandem_invocations_total{container="",endpoint="wine",variant="AllTraffic"} 1.0'
            in await resp.text()
        )
        resp = await client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await resp.text()).endswith("# EOF\n")


# -- a real Prometheus scraping a real tandem --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _promql(base: str, query: str) -> list[dict]:  # type: ignore[type-arg]
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as resp:
        payload = json.load(resp)
    assert payload["status"] == "success", payload
    return payload["data"]["result"]


@pytest.mark.slow
@requires(PROMETHEUS)
def test_real_prometheus_counts_the_requests_sent(tmp_path: Path) -> None:
    from tests.e2e.support import client, deploy, stage_container
    from tests.server_process import ServerProcess

    server = ServerProcess(tmp_path / "data").start()
    prom: subprocess.Popen[bytes] | None = None
    try:
        sagemaker = client(server, "sagemaker")
        runtime = client(server, "sagemaker-runtime")
        deploy(sagemaker, "prom", [stage_container(n) for n in ("first", "second", "third")])
        sent = 17
        for _ in range(sent):
            runtime.invoke_endpoint(
                EndpointName="prom", Body=b'{"instances": [[1]]}', ContentType="application/json"
            )
        target = urllib.parse.urlparse(server.url).netloc
        (tmp_path / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: tandem\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        port = _free_port()
        prom = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        query = 'sum(tandem_invocations_total{endpoint="prom"})'
        deadline = time.monotonic() + 40
        result: list[dict] = []  # type: ignore[type-arg]
        while time.monotonic() < deadline:
            try:
                result = _promql(base, query)
            except OSError:
                result = []
            if result:
                break
            time.sleep(0.3)
        assert result, "Prometheus never scraped tandem"
        assert float(result[0]["value"][1]) == sent
        count = _promql(base, 'sum(tandem_model_latency_seconds_count{endpoint="prom"})')
        assert float(count[0]["value"][1]) == sent
        containers = _promql(base, 'tandem_container_latency_seconds_count{endpoint="prom"}')
        assert sorted(r["metric"]["container"] for r in containers) == ["first", "second", "third"]
        assert all(float(r["value"][1]) == sent for r in containers)
        up = _promql(base, 'up{job="tandem"}')
        assert float(up[0]["value"][1]) == 1.0
    finally:
        if prom is not None:
            prom.terminate()
            prom.wait(10)
        server.stop()
