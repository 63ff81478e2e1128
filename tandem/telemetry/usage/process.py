"""CPUUtilization and MemoryUtilization of process trees, read through psutil.

psutil is injected (``psutil_module=``), as prometheus_client's ``ProcessCollector(proc=...)``
injects its proc root, so tests drive it with exact numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import psutil as _psutil

from tandem.clock import Clock, SystemClock
from tandem.telemetry.usage.sample import UsageSample

__all__ = ["ProcessTreeProbe", "ProcessKey", "cpu_utilization", "process_tree"]

# A process is (pid, create_time): a recycled pid is a different process.
ProcessKey = tuple[int, float]


def cpu_utilization(
    previous: Mapping[ProcessKey, float],
    current: Mapping[ProcessKey, float],
    previous_time: float,
    interval: float,
) -> float:
    """Percent of one CPU used over ``interval`` seconds by the processes seen (0-100 x CPUs).

    ``previous``/``current`` map each process to its cumulative user+system CPU seconds. A process
    seen only now counts in full if it was created after the previous sample (at wall time
    ``previous_time``), else from now on. A process that exited between samples loses its last
    slice; its reaped time lands in the parent's children_* times, which we leave out so it is
    never counted twice.
    """
    if interval <= 0:
        return 0.0
    used = 0.0
    for key, seconds in current.items():
        before = previous.get(key)
        if before is None:
            before = 0.0 if key[1] >= previous_time else seconds
        used += max(0.0, seconds - before)
    return 100.0 * used / interval


def process_tree(pids: Sequence[int], psutil: Any = _psutil) -> list[Any]:
    """psutil.Process objects of the trees rooted at ``pids``, each process once."""
    seen: dict[int, Any] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for proc in tree:
            seen.setdefault(proc.pid, proc)
    return list(seen.values())


class ProcessTreeProbe:
    """CPU (from cpu_times deltas between calls) and RSS of the trees under the given pids.

    Stateful: the first call has no previous reading, so it reports memory only.
    RSS counts pages shared between processes once per process, as ``ps`` does.
    """

    def __init__(self, psutil_module: ModuleType | Any = _psutil, clock: Clock | None = None):
        self._ps = psutil_module
        self._clock = clock or SystemClock()
        self._previous: dict[ProcessKey, float] | None = None
        self._previous_wall = 0.0
        self._previous_mono = 0.0

    def sample(self, pids: Sequence[int]) -> UsageSample:
        ps = self._ps
        current: dict[ProcessKey, float] = {}
        rss = 0
        for proc in process_tree(pids, ps):
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    memory = proc.memory_info()
                    created = proc.create_time()
            except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
                continue
            current[(proc.pid, created)] = times.user + times.system
            rss += memory.rss
        wall, mono = self._clock.time(), self._clock.monotonic()
        cpu = None
        if self._previous is not None:
            cpu = cpu_utilization(
                self._previous, current, self._previous_wall, mono - self._previous_mono
            )
        self._previous, self._previous_wall, self._previous_mono = current, wall, mono
        total = ps.virtual_memory().total
        return UsageSample(cpu_utilization=cpu, memory_utilization=100.0 * rss / total)
