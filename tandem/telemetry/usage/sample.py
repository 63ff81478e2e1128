"""What a usage probe reports, and the Protocol every probe follows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Protocol

__all__ = ["UsageSample", "UsageProbe", "CompositeProbe", "METRIC_NAMES"]

# Field -> CloudWatch metric name (the seed misspells MemoryUtilization; we use the real name).
METRIC_NAMES = {
    "cpu_utilization": "CPUUtilization",
    "memory_utilization": "MemoryUtilization",
    "disk_utilization": "DiskUtilization",
    "gpu_utilization": "GPUUtilization",
    "gpu_memory_utilization": "GPUMemoryUtilization",
}


@dataclass(frozen=True)
class UsageSample:
    """One reading, all in Percent. None = not measured this time (no GPU, first CPU sample).

    CPU and GPU utilization are 0-100 x the number of CPUs / GPUs, as SageMaker reports them;
    memory and disk are 0-100.
    """

    cpu_utilization: float | None = None
    memory_utilization: float | None = None
    disk_utilization: float | None = None
    gpu_utilization: float | None = None
    gpu_memory_utilization: float | None = None

    def metrics(self) -> dict[str, float]:
        """Metric name -> value for what was measured."""
        return {
            METRIC_NAMES[f.name]: value
            for f in fields(self)
            if (value := getattr(self, f.name)) is not None
        }

    def merged(self, other: UsageSample) -> UsageSample:
        """This sample with every value ``other`` measured laid over it."""
        return replace(
            self,
            **{f.name: v for f in fields(other) if (v := getattr(other, f.name)) is not None},
        )


class UsageProbe(Protocol):
    def sample(self, pids: Sequence[int]) -> UsageSample:
        """Usage of the process trees rooted at ``pids`` (plus whatever the probe covers)."""
        ...


class CompositeProbe:
    """Several probes read as one; later probes' values win where both measured."""

    def __init__(self, probes: Sequence[UsageProbe]) -> None:
        self.probes = tuple(probes)

    def sample(self, pids: Sequence[int]) -> UsageSample:
        result = UsageSample()
        for probe in self.probes:
            result = result.merged(probe.sample(pids))
        return result
