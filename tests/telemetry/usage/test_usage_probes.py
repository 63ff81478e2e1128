"""Usage probes with injected psutil / NVML / disk: exact values, and the CPU delta rule."""

from __future__ import annotations

import contextlib
import os
from collections import namedtuple
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.clock import ManualClock
from tandem.telemetry.usage import (
    CompositeProbe,
    DiskProbe,
    NvmlProbe,
    ProcessTreeProbe,
    UsageSample,
    cpu_utilization,
    instance_probe,
    load_nvml,
)

CpuTimes = namedtuple("CpuTimes", "user system children_user children_system")
MemInfo = namedtuple("MemInfo", "rss vms")
GiB = 1024**3


class FakePsutil:
    """Just enough of psutil: a table of processes with parents, cpu times and RSS."""

    class NoSuchProcess(Exception):
        pass

    class AccessDenied(Exception):
        pass

    class ZombieProcess(NoSuchProcess):
        pass

    def __init__(self, total_memory: int) -> None:
        self.table: dict[int, dict] = {}
        self.total = total_memory

    def add(self, pid, parent=None, cpu=(0.0, 0.0), rss=0, created=0.0, children_cpu=(0.0, 0.0)):
        self.table[pid] = dict(parent=parent, cpu=cpu, rss=rss, created=created, ccpu=children_cpu)

    def Process(self, pid):  # noqa: N802 - psutil's name
        if pid not in self.table:
            raise self.NoSuchProcess(pid)
        return FakeProcess(self, pid)

    def virtual_memory(self):
        return SimpleNamespace(total=self.total)


class FakeProcess:
    def __init__(self, ps: FakePsutil, pid: int) -> None:
        self.ps, self.pid = ps, pid

    def _row(self):
        if self.pid not in self.ps.table:
            raise self.ps.NoSuchProcess(self.pid)
        return self.ps.table[self.pid]

    def children(self, recursive=False):
        out, frontier = [], [self.pid]
        while frontier:
            parent = frontier.pop()
            kids = [p for p, row in self.ps.table.items() if row["parent"] == parent]
            out += [FakeProcess(self.ps, k) for k in kids]
            if recursive:
                frontier += kids
        return out

    def oneshot(self):
        return contextlib.nullcontext()

    def cpu_times(self):
        row = self._row()
        return CpuTimes(*row["cpu"], *row["ccpu"])

    def memory_info(self):
        return MemInfo(self._row()["rss"], 0)

    def create_time(self):
        return self._row()["created"]


def test_cpu_and_memory_of_two_trees_exact():
    ps = FakePsutil(total_memory=8 * GiB)
    clock = ManualClock(now=1000.0)
    ps.add(10, cpu=(1.0, 0.5), rss=1 * GiB, created=900.0)
    ps.add(11, parent=10, cpu=(2.0, 0.0), rss=GiB // 2, created=900.0)  # grandchild tree
    ps.add(20, cpu=(0.0, 0.0), rss=GiB // 2, created=900.0)
    ps.add(30, cpu=(50.0, 50.0), rss=4 * GiB, created=1.0)  # not ours
    probe = ProcessTreeProbe(ps, clock)

    first = probe.sample([10, 20])
    assert first == UsageSample(cpu_utilization=None, memory_utilization=25.0)

    clock.advance(2.0)
    ps.table[10]["cpu"] = (2.0, 0.5)  # +1.0 s
    ps.table[11]["cpu"] = (3.0, 1.0)  # +2.0 s
    ps.table[20]["cpu"] = (0.5, 0.5)  # +1.0 s
    ps.add(12, parent=10, cpu=(0.25, 0.25), rss=0, created=1001.0)  # born after last sample
    ps.table[30]["cpu"] = (99.0, 99.0)
    second = probe.sample([10, 20])
    # (1 + 2 + 1 + 0.5) CPU-seconds over 2 s = 225 % (of 0-100 x CPUs)
    assert second == UsageSample(cpu_utilization=225.0, memory_utilization=25.0)


def test_exited_process_and_reaped_children_times_are_not_counted_twice():
    ps = FakePsutil(total_memory=GiB)
    clock = ManualClock(now=1000.0)
    ps.add(10, cpu=(1.0, 0.0), created=1.0)
    ps.add(11, parent=10, cpu=(5.0, 0.0), created=1.0)
    probe = ProcessTreeProbe(ps, clock)
    probe.sample([10])
    clock.advance(1.0)
    del ps.table[11]  # child exited and was reaped: its time moves to children_*
    ps.table[10]["ccpu"] = (5.5, 0.0)
    ps.table[10]["cpu"] = (1.5, 0.0)
    assert probe.sample([10]).cpu_utilization == 50.0


def test_vanished_root_yields_zero_use():
    ps = FakePsutil(total_memory=GiB)
    probe = ProcessTreeProbe(ps, ManualClock())
    assert probe.sample([999]) == UsageSample(cpu_utilization=None, memory_utilization=0.0)


def test_pid_reuse_is_a_new_process():
    ps = FakePsutil(total_memory=GiB)
    clock = ManualClock(now=1000.0)
    ps.add(10, cpu=(100.0, 0.0), created=1.0)
    probe = ProcessTreeProbe(ps, clock)
    probe.sample([10])
    clock.advance(4.0)
    ps.add(10, cpu=(1.0, 1.0), created=1002.0)  # same pid, new process born after the sample
    assert probe.sample([10]).cpu_utilization == 50.0


keys = st.tuples(st.integers(1, 6), st.sampled_from([0.0, 10.0, 20.0]))
readings = st.dictionaries(keys, st.floats(0, 1000, allow_nan=False), max_size=6)


@given(readings, readings, st.sampled_from([5.0, 10.0, 15.0]), st.floats(0.1, 60))
def test_cpu_utilization_matches_naive_recomputation(previous, current, previous_time, interval):
    naive = 0.0
    for (pid, created), now in current.items():
        if (pid, created) in previous:
            naive += max(0.0, now - previous[(pid, created)])
        elif created >= previous_time:
            naive += now
    assert cpu_utilization(previous, current, previous_time, interval) == pytest.approx(
        100.0 * naive / interval
    )


def test_disk_probe_is_fill_of_the_filesystem():
    usage = SimpleNamespace(total=200, used=50, free=150)
    seen = []
    probe = DiskProbe("/work", disk_usage=lambda p: seen.append(p) or usage)
    assert probe.sample([1]) == UsageSample(disk_utilization=25.0)
    assert str(seen[0]) == "/work"


def test_disk_probe_on_missing_path_measures_nothing(tmp_path):
    assert DiskProbe(tmp_path / "gone").sample([]) == UsageSample()


def test_composite_merges_and_names_metrics():
    class P:
        def __init__(self, s):
            self.s = s

        def sample(self, pids):
            return self.s

    probe = CompositeProbe([P(UsageSample(cpu_utilization=1.0, memory_utilization=2.0)),
                            P(UsageSample(disk_utilization=3.0))])
    assert probe.sample([]).metrics() == {
        "CPUUtilization": 1.0, "MemoryUtilization": 2.0, "DiskUtilization": 3.0,
    }


# -- NVML ---------------------------------------------------------------------------------------

class FakeNvml:
    class NVMLError(Exception):
        pass

    def __init__(self, devices):
        # devices: list of dict(total, procs=[(pid, used)], samples=[(pid, ts, sm)])
        self.devices = devices
        self.asked_since: list[int] = []

    def nvmlDeviceGetCount(self):  # noqa: N802 - NVML's names
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, i):  # noqa: N802
        return i

    def nvmlDeviceGetMemoryInfo(self, h):  # noqa: N802
        return SimpleNamespace(total=self.devices[h]["total"], used=0, free=0)

    def nvmlDeviceGetComputeRunningProcesses(self, h):  # noqa: N802
        return [SimpleNamespace(pid=p, usedGpuMemory=u) for p, u in self.devices[h]["procs"]]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h):  # noqa: N802
        raise self.NVMLError("not supported")

    def nvmlDeviceGetProcessUtilization(self, h, since):  # noqa: N802
        self.asked_since.append(since)
        samples = [s for s in self.devices[h]["samples"] if s[1] > since]
        if not samples:
            raise self.NVMLError("not found")
        return [SimpleNamespace(pid=p, timeStamp=t, smUtil=sm, memUtil=0) for p, t, sm in samples]


def test_nvml_arithmetic_over_two_gpus():
    nvml = FakeNvml([
        dict(total=1000, procs=[(10, 250), (11, 50), (99, 600)],
             samples=[(10, 5, 30), (10, 6, 50), (11, 6, 20), (99, 6, 90)]),
        dict(total=4000, procs=[(11, None), (12, 1000)], samples=[(12, 7, 80), (12, 8, 100)]),
    ])
    probe = NvmlProbe(nvml, tree_pids=lambda pids: {10, 11, 12})
    sample = probe.sample([10])
    # memory: (250+50)/1000 = 30 % on GPU 0, 1000/4000 = 25 % on GPU 1 (None is unknown -> 0)
    # util: GPU 0 = mean(30,50) + 20 = 60; GPU 1 = mean(80,100) = 90
    assert sample == UsageSample(gpu_utilization=150.0, gpu_memory_utilization=55.0)
    again = probe.sample([10])  # no new samples: NotFound -> 0 utilization
    assert again == UsageSample(gpu_utilization=0.0, gpu_memory_utilization=55.0)
    assert nvml.asked_since == [0, 0, 6, 8]


def test_nvml_utilization_capped_at_100_per_gpu():
    nvml = FakeNvml([dict(total=1, procs=[], samples=[(1, 1, 80), (2, 1, 70)])])
    assert NvmlProbe(nvml, tree_pids=lambda p: {1, 2}).sample([1]).gpu_utilization == 100.0


def test_gpu_metrics_exactly_where_nvml_sees_a_gpu(tmp_path):
    # Runs on hosts with and without a GPU: each must get what SageMaker would report.
    sample = instance_probe(tmp_path).sample([os.getpid()])
    if load_nvml() is None:
        assert set(sample.metrics()) == {"MemoryUtilization", "DiskUtilization"}
        assert NvmlProbe.create() is None
    else:
        assert set(sample.metrics()) == {
            "MemoryUtilization", "DiskUtilization", "GPUUtilization", "GPUMemoryUtilization"}
        assert NvmlProbe.create() is not None
        # This process uses no GPU: its share of every GPU is nothing.
        assert sample.gpu_utilization == 0.0 and sample.gpu_memory_utilization == 0.0


def test_nvml_binding_comes_with_a_plain_install():
    # A GPU host reports GPU metrics after `pip install tandem`, no extra to know about.
    from importlib.metadata import requires

    plain = [r for r in requires("tandem") or [] if "extra ==" not in r]
    assert any(r.startswith("nvidia-ml-py") for r in plain), plain
    import pynvml  # noqa: F401 - imports on a host with no driver; load_nvml() then gives None
