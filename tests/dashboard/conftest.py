"""A real tandem serve with a 3-stage pipeline under traffic, for the browser tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from tests.dashboard.browser import missing
from tests.e2e.support import client, deploy, stage_container
from tests.server_process import FAST_FLAGS, ServerProcess

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"><b>bold</b>'
CONTAINERS = ("first", "second", "third")
OK_REQUESTS = 30
LOG_FLOOD = 10_000
BENCH_POINTS = 7 * 24 * 60  # one datapoint a minute for 7 days
BIG_METRIC = "RequestMicroseconds"  # six- and seven-digit values, for the axes' labels
# SageMaker's longest names (63 characters), for the layout at 1024 px.
LONG_ENDPOINT = "fraud-scoring-pipeline-eu-west-1-production-canary-2026-12-0007"
LONG_VARIANT = "ExperimentalGradientBoostedVariantWithCalibratedProbabilities01"
LONG_CONTAINER = "gradient-boosted-trees-model-server-with-calibrated-probability"
LONG_GROUP = f"/aws/sagemaker/TrainingJobs/{LONG_ENDPOINT}"
LONG_STREAM = f"{LONG_VARIANT}/i-0123456789abcdef0/{LONG_CONTAINER}"


@dataclass
class Traffic:
    server: ServerProcess
    invocations: int
    errors_4xx: int
    errors_5xx: int
    bench_end: float
    notes: dict[str, object] = field(default_factory=dict)


def _wait(predicate, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    # A patient /ping: on a loaded machine a replaced instance would add streams and hosts.
    flags = list(FAST_FLAGS)
    flags[flags.index("--ping-timeout") + 1] = "5"
    server = ServerProcess(tmp_path_factory.mktemp("tandem-dashboard"), extra=flags).start()
    try:
        sm = client(server, "sagemaker")
        rt = client(server, "sagemaker-runtime")
        cw = client(server, "cloudwatch")
        logs = client(server, "logs")
        deploy(sm, "pipe", [stage_container(n) for n in CONTAINERS])
        deploy(sm, "xss", [stage_container("echo", STAGE_NAME=XSS)])
        deploy(
            sm,
            LONG_ENDPOINT,
            [stage_container(LONG_CONTAINER)],
            variants=[
                {
                    "VariantName": LONG_VARIANT,
                    "ModelName": LONG_ENDPOINT,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1.0,
                }
            ],
        )

        def invoke(name: str, body: bytes) -> None:
            try:
                rt.invoke_endpoint(EndpointName=name, Body=body, ContentType="application/json")
            except rt.exceptions.ModelError:
                pass

        for _ in range(OK_REQUESTS):
            invoke("pipe", b'{"instances": [[1, 2]]}')
        invoke("pipe", b'{"instances": [[1]], "print": 3}')
        invoke("pipe", b'{"status": 400, "fail_at": "second"}')
        invoke("pipe", b'{"status": 400, "fail_at": "second"}')
        invoke("pipe", b'{"status": 500, "fail_at": "third"}')
        invoke("xss", f'{{"print": {LOG_FLOOD}}}'.encode())

        # One-minute datapoints a little beyond seven days each way, so any 7-day window the
        # page picks in the next few minutes holds exactly 10,080 of them.
        end = (int(time.time()) // 60) * 60
        stamps = [end + 60 * k for k in range(-BENCH_POINTS - 5, 6)]
        for i in range(0, len(stamps), 1000):
            cw.put_metric_data(
                Namespace="Bench/Dashboard",
                MetricData=[
                    {
                        "MetricName": "Load",
                        "Timestamp": datetime.fromtimestamp(t, UTC),
                        "Value": 50.0 + (j % 97),
                        "Unit": "Percent",
                    }
                    for j, t in enumerate(stamps[i : i + 1000], start=i)
                ],
            )

        # The last hour, a point a minute from 120,000 to 2,400,000 µs.
        recent = [end - 60 * k for k in range(60)]
        cw.put_metric_data(
            Namespace="Bench/Dashboard",
            MetricData=[
                {
                    "MetricName": BIG_METRIC,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": LONG_ENDPOINT},
                        {"Name": "VariantName", "Value": LONG_VARIANT},
                    ],
                    "Timestamp": datetime.fromtimestamp(t, UTC),
                    "Value": 120_000.0 + 38_000 * k,
                    "Unit": "Microseconds",
                }
                for k, t in enumerate(recent)
            ],
        )

        logs.create_log_group(logGroupName=LONG_GROUP)
        logs.create_log_stream(logGroupName=LONG_GROUP, logStreamName=LONG_STREAM)
        logs.put_log_events(
            logGroupName=LONG_GROUP,
            logStreamName=LONG_STREAM,
            logEvents=[
                {"timestamp": int(time.time() * 1000) - 1000 + k, "message": f"scored batch {k}"}
                for k in range(3)
            ],
        )

        def metric_sum(metric: str, ns: str = "AWS/SageMaker", dims=None) -> float:  # type: ignore[no-untyped-def]
            now = time.time()
            resp = cw.get_metric_statistics(
                Namespace=ns,
                MetricName=metric,
                StartTime=now - 3600,
                EndTime=now + 60,
                Period=60,
                Statistics=["Sum", "SampleCount"],
                Dimensions=dims
                or [
                    {"Name": "EndpointName", "Value": "pipe"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
            )
            return sum(d["SampleCount"] for d in resp["Datapoints"])

        total = OK_REQUESTS + 4
        _wait(lambda: metric_sum("Invocations") == total, "Invocations in the store")

        def hosts_with(metric: str) -> int:
            resp = cw.list_metrics(
                Namespace="/aws/sagemaker/Endpoints",
                MetricName=metric,
                Dimensions=[{"Name": "Host"}],
            )
            hosts = [m["Dimensions"][0]["Value"] for m in resp["Metrics"]]
            return len([h for h in hosts if h.startswith("pipe/")])

        for metric in ("CPUUtilization", "MemoryUtilization", "DiskUtilization"):
            _wait(lambda m=metric: hosts_with(m) >= 1, f"{metric} of pipe's instance")

        def flooded() -> bool:
            resp = logs.filter_log_events(
                logGroupName="/aws/sagemaker/Endpoints/xss", filterPattern=f'"line {LOG_FLOOD - 1}"'
            )
            return len(resp["events"]) == 1

        _wait(flooded, "the 10,000 log lines")
        def big_listed() -> bool:
            listed = cw.list_metrics(Namespace="Bench/Dashboard", MetricName=BIG_METRIC)
            return len(listed["Metrics"]) == 1

        _wait(big_listed, f"{BIG_METRIC} in the store")
        yield Traffic(server, invocations=total, errors_4xx=2, errors_5xx=1, bench_end=end)
    finally:
        server.stop()
