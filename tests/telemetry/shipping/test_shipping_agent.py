"""An InstanceAgent handed shippers instead of the local log service and metrics registry:
its containers' lines and its usage samples reach a real server under local mode's names."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tandem.serving.agent import InstanceAgent
from tandem.telemetry.shipping import LogShipper, MetricShipper
from tandem.telemetry.usage import UsageSample
from tests.server_process import ServerProcess
from tests.serving.launcher_fakes import container, instance_spec
from tests.telemetry.shipping.support import client, shipper_config, stream_messages

pytestmark = pytest.mark.slow


class FixedProbe:
    def sample(self, pids: list[int]) -> UsageSample:
        return UsageSample(cpu_utilization=12.5, memory_utilization=3.0, disk_utilization=40.0)


async def test_agent_ships_its_streams_and_usage_as_local_mode_names_them(
    server: ServerProcess, tmp_path: Path
) -> None:
    logs = LogShipper(shipper_config(server.url, tmp_path / "logs"))
    metrics = MetricShipper(shipper_config(server.url, tmp_path / "metrics"))
    await logs.start()
    await metrics.start()
    spec = instance_spec(
        tmp_path, container("first", "--say", "hello from first"), container("second")
    )
    agent = InstanceAgent(spec, metrics, logs, probe=FixedProbe(), usage_interval=0.1)
    await agent.start()
    await asyncio.sleep(1.0)
    await agent.stop()
    await logs.flush()
    await metrics.flush()
    await logs.stop()
    await metrics.stop()

    group = "/aws/sagemaker/Endpoints/ep-1"
    streams = [f"AllTraffic/{spec.instance_id}/first", f"AllTraffic/{spec.instance_id}/second"]
    cloudwatch_logs = client(server.url, "logs")
    described = cloudwatch_logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert sorted(s["logStreamName"] for s in described) == streams
    first = stream_messages(cloudwatch_logs, group, streams[0])
    assert first[0] == "hello from first" and first[-2:] == ["serving", "got SIGTERM"]
    assert stream_messages(cloudwatch_logs, group, streams[1])[-1] == "got SIGTERM"

    cloudwatch = client(server.url, "cloudwatch")
    host = {"Host": f"ep-1/AllTraffic/{spec.instance_id}"}
    variant = {"EndpointName": "ep-1", "VariantName": "AllTraffic"}
    counts = {}
    for dims in (host, variant):
        for name, value in [("CPUUtilization", 12.5), ("MemoryUtilization", 3.0),
                            ("DiskUtilization", 40.0)]:
            points = cloudwatch.get_metric_statistics(
                Namespace="/aws/sagemaker/Endpoints", MetricName=name,
                Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
                StartTime=datetime.now(UTC) - timedelta(minutes=5),
                EndTime=datetime.now(UTC) + timedelta(minutes=1),
                Period=3600, Statistics=["SampleCount", "Minimum", "Maximum"], Unit="Percent",
            )["Datapoints"]
            assert len(points) == 1
            assert (points[0]["Minimum"], points[0]["Maximum"]) == (value, value)
            counts[(name, tuple(dims))] = points[0]["SampleCount"]
    # Every sample the agent took, once under each dimension set.
    assert len(set(counts.values())) == 1 and next(iter(counts.values())) >= 2
    assert sum(counts.values()) == metrics.recorded
