"""UsageSampler over real process trees into the real MetricRegistry: one series per metric and
dimension set, in Percent, only while a process runs, at most 10 s apart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from tandem.supervision import UsageSampler
from tandem.telemetry.metrics import MetricRegistry
from tandem.telemetry.usage import ProcessTreeProbe, UsageSample
from tests.waiting import wait_until_async

NAMESPACE = "/aws/sagemaker/Endpoints"
DIMENSION_SETS = ({"Host": "ep/AllTraffic/i-0123456789abcdef0"},
                  {"EndpointName": "ep", "VariantName": "AllTraffic"})


class FixedProbe:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def sample(self, pids: Sequence[int]) -> UsageSample:
        self.calls.append(list(pids))
        return UsageSample(cpu_utilization=12.5, memory_utilization=3.0, disk_utilization=40.0)


class FailingProbe:
    def sample(self, pids: Sequence[int]) -> UsageSample:
        raise OSError("no /proc here")


def recorded(registry: MetricRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...], str],
                                               tuple[float, float]]:
    out = {}
    for series in registry.all_series():
        count, total, _ = series.cumulative()
        key = series.key
        out[(key.metric_name, key.dimensions, key.unit)] = (count, total)
    return out


async def test_each_sample_is_recorded_once_per_metric_and_dimension_set() -> None:
    registry, probe = MetricRegistry(), FixedProbe()
    sampler = UsageSampler(registry, NAMESPACE, DIMENSION_SETS, probe, lambda: [101, 102], 5.0)
    assert await sampler.sample_once() == UsageSample(12.5, 3.0, 40.0)
    assert await sampler.sample_once() is not None
    assert probe.calls == [[101, 102], [101, 102]]
    got = recorded(registry)
    assert len(got) == 6  # 3 metrics x 2 dimension sets
    for dims in DIMENSION_SETS:
        key = tuple(sorted(dims.items()))
        assert got[("CPUUtilization", key, "Percent")] == (2, 25.0)
        assert got[("MemoryUtilization", key, "Percent")] == (2, 6.0)
        assert got[("DiskUtilization", key, "Percent")] == (2, 80.0)
    assert {s.key.namespace for s in registry.all_series()} == {NAMESPACE}


async def test_nothing_is_sampled_while_no_process_runs() -> None:
    registry, probe = MetricRegistry(), FixedProbe()
    sampler = UsageSampler(registry, NAMESPACE, DIMENSION_SETS, probe, lambda: [], 0.05)
    assert await sampler.sample_once() is None
    assert probe.calls == [] and registry.all_series() == []


async def test_a_failing_probe_records_nothing_and_the_loop_goes_on() -> None:
    registry = MetricRegistry()
    sampler = UsageSampler(registry, NAMESPACE, DIMENSION_SETS, FailingProbe(), lambda: [1], 0.05)
    assert await sampler.sample_once() is None
    sampler.start()
    await asyncio.sleep(0.2)
    await sampler.stop()
    assert registry.all_series() == []


def test_the_interval_is_at_most_ten_seconds() -> None:
    def make(interval: float) -> UsageSampler:
        return UsageSampler(MetricRegistry(), NAMESPACE, DIMENSION_SETS, FixedProbe(),
                            lambda: [], interval)
    assert make(60.0).interval == 10.0
    assert make(5.0).interval == 5.0
    assert make(0.0).interval == 0.05


async def test_the_loop_samples_a_real_process_tree_until_stopped() -> None:
    # A parent and a child that allocates memory: the tree's memory is seen.
    script = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
              "'b = bytearray(64 << 20); import time; time.sleep(60)']); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    registry = MetricRegistry()
    sampler = UsageSampler(registry, NAMESPACE, DIMENSION_SETS[:1], ProcessTreeProbe(),
                           lambda: [proc.pid], 0.05)
    try:
        sampler.start()

        def memory() -> float:
            got = recorded(registry).get(
                ("MemoryUtilization", tuple(sorted(DIMENSION_SETS[0].items())), "Percent"))
            return got[1] / got[0] if got else 0.0

        await wait_until_async(lambda: len(recorded(registry)) >= 2 and memory() > 0,
                               "CPU and memory samples")
        await sampler.stop()
        count = recorded(registry)[("CPUUtilization", tuple(sorted(
            DIMENSION_SETS[0].items())), "Percent")][0]
        await asyncio.sleep(0.2)
        assert recorded(registry)[("CPUUtilization", tuple(sorted(
            DIMENSION_SETS[0].items())), "Percent")][0] == count  # stopped means stopped
        assert {k[0] for k in recorded(registry)} == {"CPUUtilization", "MemoryUtilization"}
    finally:
        await sampler.stop()
        os.killpg(proc.pid, signal.SIGKILL)  # the whole tree: it leads its own session
        proc.wait()
