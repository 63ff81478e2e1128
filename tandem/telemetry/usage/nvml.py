"""GPUUtilization and GPUMemoryUtilization of process trees through NVML.

``nvidia-ml-py`` (module ``pynvml``) is a dependency, so a GPU host reports GPU metrics with a
plain install; it is still imported behind a guard: without it, without a driver or a GPU,
``NvmlProbe.create()`` returns None and no GPU metric is ever recorded. The NVML module is
injected so the arithmetic is tested with a fake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from tandem.telemetry.usage.process import process_tree
from tandem.telemetry.usage.sample import UsageSample

__all__ = ["NvmlProbe", "load_nvml"]

log = logging.getLogger(__name__)
_loaded: list[Any] = []  # [module] once initialised, [None] once found absent


def load_nvml() -> Any | None:
    """pynvml, initialised, if it imports and sees at least one GPU; else None (cached)."""
    if _loaded:
        return _loaded[0]
    module: Any | None = None
    try:
        import pynvml

        pynvml.nvmlInit()
        if pynvml.nvmlDeviceGetCount() > 0:
            module = pynvml
    except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, driver errors
        log.debug("no GPU metrics: %s", exc)
    _loaded.append(module)
    return module


def _tree_pids(pids: Sequence[int]) -> set[int]:
    return {p.pid for p in process_tree(pids)}


class NvmlProbe:
    """Sum over GPUs of the share our processes use: 0-100 x GPUs, as SageMaker reports it.

    Memory: the processes' used GPU memory / the device's total. Utilization: per process, the
    mean SM utilization of NVML's samples since the last call, summed over our processes and
    capped at 100 per device.
    """

    def __init__(
        self, nvml: Any, tree_pids: Callable[[Sequence[int]], set[int]] = _tree_pids
    ) -> None:
        self._nvml = nvml
        self._tree_pids = tree_pids
        self._last_seen: dict[int, int] = {}

    @classmethod
    def create(cls) -> NvmlProbe | None:
        nvml = load_nvml()
        return cls(nvml) if nvml is not None else None

    def sample(self, pids: Sequence[int]) -> UsageSample:
        nvml = self._nvml
        ours = self._tree_pids(pids)
        util_total = 0.0
        memory_total = 0.0
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory_total += self._memory_percent(handle, ours)
            util_total += self._utilization_percent(index, handle, ours)
        return UsageSample(gpu_utilization=util_total, gpu_memory_utilization=memory_total)

    def _memory_percent(self, handle: Any, ours: set[int]) -> float:
        nvml = self._nvml
        total: int = nvml.nvmlDeviceGetMemoryInfo(handle).total
        if not total:
            return 0.0
        used: dict[int, int] = {}
        for getter in (
            nvml.nvmlDeviceGetComputeRunningProcesses,
            nvml.nvmlDeviceGetGraphicsRunningProcesses,
        ):
            try:
                procs = getter(handle)
            except nvml.NVMLError:
                continue
            for proc in procs:
                # usedGpuMemory is None when the driver cannot tell; one process may be listed
                # as both compute and graphics, so take it once.
                if proc.pid in ours and proc.usedGpuMemory is not None:
                    used[proc.pid] = max(used.get(proc.pid, 0), proc.usedGpuMemory)
        return 100.0 * sum(used.values()) / total

    def _utilization_percent(self, index: int, handle: Any, ours: set[int]) -> float:
        nvml = self._nvml
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(handle, self._last_seen.get(index, 0))
        except nvml.NVMLError:  # NotFound when no process ran since the last call
            return 0.0
        per_pid: dict[int, list[int]] = {}
        for s in samples:
            self._last_seen[index] = max(self._last_seen.get(index, 0), s.timeStamp)
            if s.pid in ours:
                per_pid.setdefault(s.pid, []).append(s.smUtil)
        share = sum(sum(v) / len(v) for v in per_pid.values())
        return min(100.0, float(share))
