"""InstanceAgent with real child processes: start, ping, failures, events, stop, logs, usage."""

from __future__ import annotations

import asyncio
import os
import signal

import psutil
import pytest
from launcher_fakes import FakeCapture, FakeLogs, FakeRegistry, container, instance_spec

from tandem.serving.agent import InstanceAgent
from tandem.serving.launcher import (
    ContainerExited,
    InstanceReady,
    InstanceStartFailed,
    InstanceStatus,
    InstanceStopped,
    InstanceUnhealthy,
)
from tandem.serving.ports import PortAllocator
from tandem.telemetry.usage import UsageSample
from tests.waiting import wait_until_async


class FixedProbe:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def sample(self, pids):
        self.calls.append(list(pids))
        return UsageSample(cpu_utilization=12.5, memory_utilization=3.0, disk_utilization=40.0)


def make_agent(spec, **kw):
    events: list = []
    agent = InstanceAgent(
        spec,
        kw.pop("registry", FakeRegistry()),
        kw.pop("logs", FakeLogs()),
        on_event=events.append,
        capture_factory=FakeCapture,
        probe=kw.pop("probe", FixedProbe()),
        usage_interval=kw.pop("usage_interval", 0.05),
        **kw,
    )
    return agent, events


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_for(predicate):
    await wait_until_async(predicate, "the condition")


async def test_two_containers_start_in_service_with_disjoint_ports(tmp_path):
    logs = FakeLogs()
    spec = instance_spec(tmp_path, container("c1"), container("c2"))
    agent, events = make_agent(spec, logs=logs)
    handle = await agent.start()
    try:
        assert handle.status is InstanceStatus.IN_SERVICE
        assert set(handle.ports) == {"c1", "c2"} and handle.ports["c1"] != handle.ports["c2"]
        assert events == [InstanceReady(spec.instance_id, "127.0.0.1", handle.ports)]
        assert len(handle.pids()) == 2
        # Each container saw its own port and a safe range of 50 ports that do not overlap.
        env_lines = {n: logs.streams[(spec.log_group, spec.log_stream(n))][0] for n in ("c1", "c2")}
        ranges = []
        for name, line in env_lines.items():
            word, port, safe = line.split()
            assert (word, int(port)) == ("env", handle.ports[name])
            low, high = map(int, safe.split("-"))
            assert high - low == 49
            ranges.append(range(low, high + 1))
        assert not set(ranges[0]) & set(ranges[1])
    finally:
        await agent.stop()
    assert handle.status is InstanceStatus.STOPPED
    assert events[-1] == InstanceStopped(spec.instance_id)


async def test_logs_land_in_exact_stream_names(tmp_path):
    logs = FakeLogs()
    spec = instance_spec(tmp_path, container("first", "--say", "hello from first"))
    agent, _ = make_agent(spec, logs=logs)
    await agent.start()
    await agent.stop()
    group = "/aws/sagemaker/Endpoints/ep-1"
    stream = f"AllTraffic/{spec.instance_id}/first"
    assert list(logs.streams) == [(group, stream)]
    lines = logs.streams[(group, stream)]
    assert lines[0] == "hello from first"
    assert lines[2:] == ["serving", "got SIGTERM"]


async def test_ping_500_fails_start_naming_container_and_quoting_its_log(tmp_path):
    spec = instance_spec(
        tmp_path,
        container("good"),
        container(
            "bad", "--say", "loading model.pkl", "--say", "model is corrupt", "--ping-status", "500"
        ),
        health_check_timeout=5.0,  # room for the container to start and answer 500
    )
    agent, events = make_agent(spec)
    with pytest.raises(InstanceStartFailed) as info:
        await agent.start()
    reason = info.value.reason
    assert reason.startswith(
        "The container bad for production variant AllTraffic did not pass the ping health check"
        " (status 500). Last log lines: \"loading model.pkl\" \"model is corrupt\" \"env "
    )
    assert "good" not in reason
    assert reason.endswith(
        ' "serving" "got SIGTERM" Please check CloudWatch logs for this endpoint.'
    )
    assert agent.status is InstanceStatus.FAILED and agent.handle.failure_reason == reason
    assert events == [] and agent.pids() == []


async def test_container_exiting_at_start_fails_start_quoting_its_output(tmp_path):
    spec = instance_spec(
        tmp_path,
        container("c1"),
        container("c2", "--say", "no model found", "--exit-at-start", "3"),
    )
    agent, _ = make_agent(spec)
    with pytest.raises(InstanceStartFailed) as info:
        await agent.start()
    reason = info.value.reason
    assert reason.startswith(
        "The container c2 for production variant AllTraffic exited with code 3 before passing"
        ' the ping health check. Last log lines: "no model found" "env '
    )
    assert reason.endswith('"fatal: giving up" Please check CloudWatch logs for this endpoint.')
    assert agent.pids() == []


async def test_missing_executable_fails_start(tmp_path):
    from tandem.serving.launcher import ContainerSpec

    spec = instance_spec(tmp_path, ContainerSpec("c1", ("/nonexistent/serve",)))
    agent, _ = make_agent(spec)
    with pytest.raises(InstanceStartFailed, match="The container c1 for production variant "
                       "AllTraffic could not be started: .*No such file"):
        await agent.start()


async def test_container_killed_after_ready_emits_container_exited(tmp_path):
    spec = instance_spec(tmp_path, container("c1"), container("c2"))
    agent, events = make_agent(spec)
    handle = await agent.start()
    try:
        os.kill(handle.pids()[1], signal.SIGKILL)
        await wait_for(lambda: len(events) == 2)
        assert events[1] == ContainerExited(spec.instance_id, "c2", -9)
        assert handle.status is InstanceStatus.UNHEALTHY
        assert handle.failure_reason == "The container c2 was killed by SIGKILL."
    finally:
        await agent.stop()


async def test_ping_failing_after_ready_emits_instance_unhealthy(tmp_path):
    flag, pings = tmp_path / "fail", tmp_path / "pings"
    spec = instance_spec(
        tmp_path,
        container("c1"),
        container("c2", "--fail-when", str(flag), "--ping-log", str(pings)),
    )
    agent, events = make_agent(spec, unhealthy_threshold=3)
    handle = await agent.start()
    try:
        # Pings go one after another: once the fifth is answered, the agent has taken in at
        # least the threshold's worth of healthy ones after start.
        await wait_until_async(
            lambda: pings.exists() and len(pings.read_text().splitlines()) >= 5,
            "five answered pings",
        )
        assert events[1:] == []  # healthy pings raise nothing
        flag.touch()
        await wait_for(lambda: len(events) == 2)
        reason = (
            "The container c2 did not pass the ping health check 3 times in a row (status 500)."
        )
        assert events[1] == InstanceUnhealthy(spec.instance_id, "c2", reason)
        assert handle.status is InstanceStatus.UNHEALTHY
    finally:
        await agent.stop()


async def test_ping_timeout_counts_as_failure(tmp_path):
    flag = tmp_path / "hang"
    spec = instance_spec(tmp_path, container("c1", "--hang-when", str(flag)), ping_timeout=0.2)
    agent, events = make_agent(spec, unhealthy_threshold=2)
    await agent.start()
    try:
        flag.touch()
        await wait_for(lambda: len(events) == 2)
        assert events[1].reason.endswith("2 times in a row (no answer within 0.2 s).")
    finally:
        await agent.stop(grace=0.5)


async def test_stop_sends_term_then_kill_after_grace(tmp_path):
    logs = FakeLogs()
    grandchild = tmp_path / "gc.pid"
    spec = instance_spec(
        tmp_path, container("stubborn", "--ignore-term", "--grandchild", str(grandchild))
    )
    agent, _ = make_agent(spec, logs=logs)
    handle = await agent.start()
    pid, gc_pid = handle.pids()[0], int(grandchild.read_text())
    loop = asyncio.get_running_loop()
    began = loop.time()
    await agent.stop(grace=0.5)
    took = loop.time() - began
    # Not before the grace; the upper bound only tells the given grace from the spec's or a
    # default one, with room for any load.
    assert 0.5 <= took < 20.0
    assert not alive(pid) and not alive(gc_pid)
    lines = logs.streams[(spec.log_group, spec.log_stream("stubborn"))]
    assert lines[-1] == "ignoring SIGTERM"


async def test_stop_of_cooperative_container_does_not_wait_for_grace(tmp_path):
    spec = instance_spec(tmp_path, container("c1"))
    agent, _ = make_agent(spec)
    await agent.start()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await agent.stop(grace=600.0)
    assert loop.time() - began < 30.0  # far from the grace: it did not wait for it


async def test_usage_recorded_under_both_dimension_sets(tmp_path):
    registry = FakeRegistry()
    probe = FixedProbe()
    spec = instance_spec(tmp_path, container("c1"), container("c2"))
    agent, _ = make_agent(spec, registry=registry, probe=probe, usage_interval=0.05)
    handle = await agent.start()
    pids = handle.pids()
    await wait_for(lambda: len(probe.calls) >= 2)
    await agent.stop()
    assert probe.calls[0] == pids
    host = {"Host": f"ep-1/AllTraffic/{spec.instance_id}"}
    variant = {"EndpointName": "ep-1", "VariantName": "AllTraffic"}
    expected = {"CPUUtilization": 12.5, "MemoryUtilization": 3.0, "DiskUtilization": 40.0}
    keys = {
        ("/aws/sagemaker/Endpoints", name, tuple(sorted(dims.items())), "Percent")
        for name in expected
        for dims in (host, variant)
    }
    assert set(registry.series_by_key) == keys
    for key, series in registry.series_by_key.items():
        assert series.values[0] == expected[key[1]]
        assert len(series.values) >= 2


async def test_ports_released_after_stop(tmp_path):
    allocator = PortAllocator(safe_low=40000, safe_high=40099, block_size=50)
    spec = instance_spec(tmp_path, container("c1"), container("c2"))
    agent, _ = make_agent(spec, ports=allocator)
    await agent.start()
    await agent.stop()
    assert len(allocator.allocate(2)) == 2  # both blocks free again
