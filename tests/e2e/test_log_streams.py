"""Log stream names as SageMaker writes them: `<variant>/<instance-id>` for a model with one
container (PrimaryContainer or a one-entry Containers), `<variant>/<instance-id>/<hostname>`
for a pipeline, and each container's output in its own stream."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.support import client, deploy, stage_container, wait_status

pytestmark = pytest.mark.slow

_INSTANCE = r"i-[0-9a-f]{17}"


def _streams(logs, endpoint: str, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while True:
        found = logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}")
        names = sorted(s["logStreamName"] for s in found["logStreams"])
        if len(names) >= count or time.monotonic() > deadline:
            return names
        time.sleep(0.2)


def _messages(logs, endpoint: str, stream: str) -> list[str]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while True:
        events = logs.get_log_events(
            logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}",
            logStreamName=stream,
            startFromHead=True,
        )["events"]
        if events or time.monotonic() > deadline:
            return [e["message"] for e in events]
        time.sleep(0.2)


def test_primary_container_logs_to_variant_and_instance(server, sagemaker) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_model(ModelName="solo", PrimaryContainer=stage_container("solo"))
    sagemaker.create_endpoint_config(
        EndpointConfigName="solo",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "solo",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="solo", EndpointConfigName="solo")
    wait_status(sagemaker, "solo", "InService")
    logs = client(server, "logs")
    [stream] = _streams(logs, "solo", 1)
    assert re.fullmatch(rf"AllTraffic/{_INSTANCE}", stream), stream
    assert any(m.startswith("solo: listening on ") for m in _messages(logs, "solo", stream))


def test_one_entry_containers_logs_without_a_hostname(server, sagemaker) -> None:  # type: ignore[no-untyped-def]
    deploy(sagemaker, "single", [stage_container("only")])
    [stream] = _streams(client(server, "logs"), "single", 1)
    assert re.fullmatch(rf"AllTraffic/{_INSTANCE}", stream), stream


def test_pipeline_containers_log_to_their_hostnames(server, sagemaker) -> None:  # type: ignore[no-untyped-def]
    deploy(sagemaker, "piped", [stage_container("first"), stage_container("second")])
    logs = client(server, "logs")
    streams = _streams(logs, "piped", 2)
    assert len(streams) == 2
    [instance] = {s.split("/")[1] for s in streams}
    assert re.fullmatch(_INSTANCE, instance)
    assert streams == [f"AllTraffic/{instance}/first", f"AllTraffic/{instance}/second"]
    assert all(m.startswith("second: ") for m in _messages(logs, "piped", streams[1]))
