"""LocalLauncher: instances, events, stop, close; and with the real metrics and logs services."""

from __future__ import annotations

import asyncio

import psutil
import pytest
from launcher_fakes import FakeCapture, FakeLogs, FakeRegistry, container, instance_spec

from tandem.errors import InvalidParameterValue, ResourceNotFound
from tandem.serving.launcher import (
    InstanceReady,
    InstanceSpec,
    InstanceStartFailed,
    InstanceStatus,
    InstanceStopped,
    new_instance_id,
)
from tandem.serving.local_launcher import LocalLauncher
from tandem.serving.ports import PortAllocator, PortsExhausted
from tandem.telemetry.usage import UsageSample
from tests.waiting import wait_until_async


class FixedProbe:
    def sample(self, pids):
        return UsageSample(cpu_utilization=7.0, memory_utilization=1.5)


def make_launcher(tmp_path, **kw):
    return LocalLauncher(
        kw.pop("registry", FakeRegistry()),
        kw.pop("logs", FakeLogs()),
        usage_interval=0.05,
        data_dir=tmp_path / "data",
        capture_factory=kw.pop("capture_factory", FakeCapture),
        probe_factory=kw.pop("probe_factory", lambda spec: FixedProbe()),
        **kw,
    )


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_new_instance_id_is_ec2_shaped():
    ids = {new_instance_id() for _ in range(100)}
    assert len(ids) == 100
    for iid in ids:
        assert len(iid) == 19 and iid.startswith("i-") and int(iid[2:], 16) >= 0


def test_spec_for_endpoint_uses_sagemaker_names(tmp_path):
    spec = InstanceSpec.for_endpoint(
        "MyEndpoint", "Variant1", [container("c1")], tmp_path, instance_id="i-0179208609ff7e488"
    )
    assert spec.log_group == "/aws/sagemaker/Endpoints/MyEndpoint"
    assert spec.log_stream("c1") == "Variant1/i-0179208609ff7e488"  # one container
    pipeline = InstanceSpec.for_endpoint(
        "E", "V", [container("a"), container("b")], tmp_path, instance_id="i-0179208609ff7e488"
    )
    assert pipeline.log_stream("b") == "V/i-0179208609ff7e488/b"
    assert spec.usage_namespace == "/aws/sagemaker/Endpoints"
    assert spec.usage_dimension_sets == (
        {"Host": "MyEndpoint/Variant1/i-0179208609ff7e488"},
        {"EndpointName": "MyEndpoint", "VariantName": "Variant1"},
    )


@pytest.mark.parametrize("bad", ["i-123", "i-0179208609FF7E488", "0179208609ff7e488ab"])
def test_spec_rejects_malformed_instance_id(tmp_path, bad):
    with pytest.raises(InvalidParameterValue):
        InstanceSpec.for_endpoint("e", "v", [container("c1")], tmp_path, instance_id=bad)


def test_spec_rejects_repeated_container_names(tmp_path):
    with pytest.raises(InvalidParameterValue, match="repeat"):
        InstanceSpec.for_endpoint("e", "v", [container("c"), container("c")], tmp_path)


async def test_start_list_events_stop(tmp_path):
    launcher = make_launcher(tmp_path)
    spec = instance_spec(tmp_path, container("c1"), container("c2"))
    try:
        handle = await launcher.start_instance(spec)
        assert launcher.instances() == [handle]
        events = launcher.events()
        assert await anext(events) == InstanceReady(spec.instance_id, "127.0.0.1", handle.ports)
        pids = handle.pids()
        await launcher.stop_instance(spec.instance_id, grace_s=1.0)
        assert await anext(events) == InstanceStopped(spec.instance_id)
        assert launcher.instances() == []
        assert handle.status is InstanceStatus.STOPPED
        assert not any(alive(p) for p in pids)
    finally:
        await launcher.close()


async def test_failed_start_leaves_nothing_behind(tmp_path):
    launcher = make_launcher(tmp_path)
    spec = instance_spec(tmp_path, container("c1", "--exit-at-start", "1"))
    try:
        with pytest.raises(InstanceStartFailed) as info:
            await launcher.start_instance(spec)
        assert info.value.instance_id == spec.instance_id
        assert launcher.instances() == []
        assert launcher.fate_sharing.record_path.exists()
    finally:
        await launcher.close()


async def test_unknown_and_duplicate_instances_are_refused(tmp_path):
    launcher = make_launcher(tmp_path)
    spec = instance_spec(tmp_path, container("c1"))
    try:
        with pytest.raises(ResourceNotFound):
            await launcher.stop_instance(new_instance_id())
        await launcher.start_instance(spec)
        with pytest.raises(InvalidParameterValue, match="already running"):
            await launcher.start_instance(spec)
    finally:
        await launcher.close()


async def test_close_stops_everything_and_ends_events(tmp_path):
    launcher = make_launcher(tmp_path)
    specs = [instance_spec(tmp_path, container("c1")) for _ in range(2)]
    handles = await asyncio.gather(*(launcher.start_instance(s) for s in specs))
    pids = [p for h in handles for p in h.pids()]
    reaper = launcher.fate_sharing.reaper_pid
    await launcher.close()
    seen = [event async for event in launcher.events()]
    assert sorted(type(e).__name__ for e in seen) == ["InstanceReady"] * 2 + ["InstanceStopped"] * 2
    assert not any(alive(p) for p in pids)
    assert not alive(reaper)
    assert not launcher.fate_sharing.record_path.exists()
    with pytest.raises(InvalidParameterValue):
        await launcher.start_instance(instance_spec(tmp_path, container("c1")))


async def test_with_real_log_service_and_metric_registry(tmp_path):
    from tandem.store import open_store
    from tandem.telemetry.logs import LogService
    from tandem.telemetry.metrics import MetricRegistry

    store = open_store(tmp_path / "store")
    logs = LogService(store.logs, flush_interval=0.05)
    await logs.start()
    registry = MetricRegistry()
    launcher = LocalLauncher(registry, logs, usage_interval=0.05, data_dir=tmp_path / "data")
    spec = instance_spec(tmp_path, container("pre", "--say", "pre ready"), container("post"))
    host = (("Host", f"ep-1/AllTraffic/{spec.instance_id}"),)
    variant = (("EndpointName", "ep-1"), ("VariantName", "AllTraffic"))
    usage = {
        ("/aws/sagemaker/Endpoints", name, dims, "Percent")
        for name in ("CPUUtilization", "MemoryUtilization", "DiskUtilization")
        for dims in (host, variant)
    }

    def keys() -> set[tuple[object, ...]]:
        return {(s.key.namespace, s.key.metric_name, s.key.dimensions, s.key.unit)
                for s in registry.all_series()}

    try:
        await launcher.start_instance(spec)
        await wait_until_async(lambda: usage <= keys(), "usage samples of both dimension sets")
        await launcher.close()
        await logs.stop()
        result = await logs.get_log_events(
            f"AllTraffic/{spec.instance_id}/pre",
            log_group_name="/aws/sagemaker/Endpoints/ep-1",
            start_from_head=True,
        )
        messages = [e.message for e in result.events]
        assert messages[0] == "pre ready" and messages[-2:] == ["serving", "got SIGTERM"]
        assert usage <= keys()
        # GPU series exactly where the host has a GPU.
        gpu = {k[1] for k in keys() if k[1].startswith("GPU")}
        assert gpu == ({"GPUUtilization", "GPUMemoryUtilization"} if _has_gpu() else set())
    finally:
        await launcher.close()
        store.close()


def _has_gpu() -> bool:
    from tandem.telemetry.usage import load_nvml

    return load_nvml() is not None


async def test_reserved_hosts_are_loopback_with_their_own_ports_until_released(tmp_path):
    ports = PortAllocator(safe_low=20000, safe_high=20099, block_size=50)  # two blocks
    launcher = make_launcher(tmp_path, ports=ports)
    try:
        slots = await launcher.reserve_hosts("job", ["algo-1", "algo-2"], "ml.m5.large")
        assert [s.host_name for s in slots] == ["algo-1", "algo-2"]
        assert {s.address for s in slots} == {"127.0.0.1"}
        assert len({s.port for s in slots}) == 2 and len({s.instance_id for s in slots}) == 2
        with pytest.raises(PortsExhausted):  # both blocks are the slots'
            ports.allocate(1)
        # A slot starts only the instance it was reserved for.
        wrong = instance_spec(tmp_path, container("c1"))
        with pytest.raises(InvalidParameterValue, match="not the one slot algo-1"):
            await launcher.start_instance(wrong, slot=slots[0])
        await launcher.release_hosts(slots)
        assert len(ports.allocate(2)) == 2
    finally:
        await launcher.close()
