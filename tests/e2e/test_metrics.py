"""The seed's metrics, end to end: exact counts for what the client sent and saw, read back
with boto3's CloudWatch client."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from tandem.telemetry.usage import load_nvml
from tests.e2e.support import client, deploy, stage_container
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

NS = "AWS/SageMaker"


def _stats(
    cloudwatch,
    namespace: str,
    name: str,
    dims: dict[str, str],
    unit: str | None = None,  # type: ignore[no-untyped-def]
    extended: list[str] | None = None,
) -> dict[str, float]:
    """Statistics summed over the last ten minutes (every 1-minute datapoint)."""
    now = time.time()
    kwargs = dict(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - 600,
        EndTime=now + 60,
        Period=60,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
    )
    if unit:
        kwargs["Unit"] = unit
    points = cloudwatch.get_metric_statistics(**kwargs)["Datapoints"]
    return {
        "SampleCount": sum(p["SampleCount"] for p in points),
        "Sum": sum(p["Sum"] for p in points),
        "Minimum": min((p["Minimum"] for p in points), default=float("nan")),
        "Maximum": max((p["Maximum"] for p in points), default=float("nan")),
    }


def _eventually(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_counts_equal_what_the_client_sent_and_saw(server, sagemaker, runtime) -> None:  # type: ignore[no-untyped-def]
    deploy(
        sagemaker,
        "counted",
        [stage_container("first"), stage_container("second"), stage_container("third")],
    )
    seen = {"ok": 0, "4xx": 0, "5xx": 0}
    bodies = (
        [{"instances": [1]}] * 30
        + [{"status": 404, "fail_at": "second"}] * 7
        + [{"status": 500, "fail_at": "third"}] * 5
    )
    for body in bodies:
        try:
            runtime.invoke_endpoint(
                EndpointName="counted", Body=json.dumps(body), ContentType="application/json"
            )
            seen["ok"] += 1
        except runtime.exceptions.ModelError as exc:
            status = exc.response["OriginalStatusCode"]
            seen["4xx" if 400 <= status < 500 else "5xx"] += 1
    # Requests SageMaker itself rejects are not the model's errors and not invocations.
    with pytest.raises(runtime.exceptions.ValidationError):
        runtime.invoke_endpoint(EndpointName="counted", Body=b"{}", TargetVariant="Nope")
    assert seen == {"ok": 30, "4xx": 7, "5xx": 5}

    cloudwatch = client(server, "cloudwatch")
    dims = {"EndpointName": "counted", "VariantName": "AllTraffic"}

    def check() -> None:
        invocations = _stats(cloudwatch, NS, "Invocations", dims)
        assert invocations["Sum"] == 42 and invocations["SampleCount"] == 42
        assert _stats(cloudwatch, NS, "Invocation4XXErrors", dims)["Sum"] == 7
        assert _stats(cloudwatch, NS, "Invocation5XXErrors", dims)["Sum"] == 5
        assert _stats(cloudwatch, NS, "Invocation5XXErrors", dims)["SampleCount"] == 42
        assert _stats(cloudwatch, NS, "InvocationsPerInstance", dims)["Sum"] == pytest.approx(42)

    _eventually(check)
    model = _stats(cloudwatch, NS, "ModelLatency", dims, unit="Microseconds")
    overhead = _stats(cloudwatch, NS, "OverheadLatency", dims, unit="Microseconds")
    assert model["SampleCount"] == 42
    _eventually(lambda: _check_count(cloudwatch, dims, 42))
    assert overhead["Minimum"] > 0
    containers = {
        name: _stats(
            cloudwatch, NS, "ContainerLatency", {**dims, "ContainerName": name}, unit="Microseconds"
        )
        for name in ("first", "second", "third")
    }
    # The 4xx stopped the chain at the second container: the third saw 30 + 5 requests.
    assert [containers[n]["SampleCount"] for n in ("first", "second", "third")] == [42, 42, 35]
    # ModelLatency is the time in the containers, all of them.
    assert sum(c["Sum"] for c in containers.values()) == pytest.approx(model["Sum"], rel=1e-6)


def _check_count(cloudwatch, dims: dict[str, str], expected: int) -> None:  # type: ignore[no-untyped-def]
    assert (
        _stats(cloudwatch, NS, "OverheadLatency", dims, unit="Microseconds")["SampleCount"]
        == expected
    )


def test_latency_percentiles_and_units(server, sagemaker, runtime) -> None:  # type: ignore[no-untyped-def]
    deploy(sagemaker, "timed", [stage_container("only")])
    for sleep in [0.05] * 10:
        runtime.invoke_endpoint(
            EndpointName="timed", Body=json.dumps({"sleep": sleep}), ContentType="application/json"
        )
    cloudwatch = client(server, "cloudwatch")
    dims = [
        {"Name": "EndpointName", "Value": "timed"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]

    def check() -> dict:  # type: ignore[type-arg]
        now = time.time()
        points = cloudwatch.get_metric_statistics(
            Namespace=NS,
            MetricName="ModelLatency",
            Dimensions=dims,
            StartTime=now - 600,
            EndTime=now + 60,
            Period=600,
            ExtendedStatistics=["p50", "p99"],
        )["Datapoints"]
        assert len(points) == 1 and points[0]["Unit"] == "Microseconds"
        return points[0]

    point = _eventually(check)
    # Each request slept 50 ms inside the container: p50 is a little above 50,000 µs (the
    # upper bound, loose for a loaded machine, still tells µs from ns or from a unit mix-up).
    assert 50_000 <= point["ExtendedStatistics"]["p50"] < 5_000_000
    # No ContainerLatency for a single-container model.
    listed = cloudwatch.list_metrics(
        Namespace=NS,
        MetricName="ContainerLatency",
        Dimensions=[{"Name": "EndpointName", "Value": "timed"}],
    )
    assert listed["Metrics"] == []


def test_instance_metrics_under_host_and_variant(server, sagemaker, runtime) -> None:  # type: ignore[no-untyped-def]
    deploy(sagemaker, "watched", [stage_container("a"), stage_container("b")])
    logs = client(server, "logs")
    stream = logs.describe_log_streams(logGroupName="/aws/sagemaker/Endpoints/watched")[
        "logStreams"
    ][0]["logStreamName"]
    instance = re.match(r"AllTraffic/(i-[0-9a-f]{17})/", stream).group(1)  # type: ignore[union-attr]
    cloudwatch = client(server, "cloudwatch")

    def check() -> None:
        for metric in ("CPUUtilization", "MemoryUtilization", "DiskUtilization"):
            host = _stats(
                cloudwatch,
                "/aws/sagemaker/Endpoints",
                metric,
                {"Host": f"watched/AllTraffic/{instance}"},
                unit="Percent",
            )
            assert host["SampleCount"] >= 1, metric
            variant = _stats(
                cloudwatch,
                "/aws/sagemaker/Endpoints",
                metric,
                {"EndpointName": "watched", "VariantName": "AllTraffic"},
                unit="Percent",
            )
            assert variant["SampleCount"] >= 1, metric
            cpus = os.cpu_count() or 1
            assert 0 <= host["Minimum"]
            assert host["Maximum"] <= 100 * (cpus if metric == "CPUUtilization" else 1) * 1.05

    _eventually(check)
    # GPU metrics exactly where the host has a GPU (NVML sees one), as on SageMaker.
    gpu = {"GPUUtilization", "GPUMemoryUtilization"}
    expected = {"CPUUtilization", "MemoryUtilization", "DiskUtilization"}
    if load_nvml() is not None:
        expected |= gpu

    def listed() -> set[str]:
        return {
            m["MetricName"]
            for m in cloudwatch.list_metrics(
                Namespace="/aws/sagemaker/Endpoints",
                Dimensions=[{"Name": "Host", "Value": f"watched/AllTraffic/{instance}"}],
            )["Metrics"]
        }

    names = wait_until(lambda: (found := listed()) >= expected and found, f"{sorted(expected)}")
    assert names == expected
