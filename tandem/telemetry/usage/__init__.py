"""CPU, memory, disk and GPU use of an instance's process trees, as SageMaker's instance metrics.

A ``UsageProbe`` turns pids into a ``UsageSample``; ``instance_probe`` builds the default one
(psutil trees + the work dir's filesystem + NVML where a GPU is present).
"""

from __future__ import annotations

from pathlib import Path

from tandem.telemetry.usage.disk import DiskProbe
from tandem.telemetry.usage.nvml import NvmlProbe, load_nvml
from tandem.telemetry.usage.process import ProcessTreeProbe, cpu_utilization, process_tree
from tandem.telemetry.usage.sample import METRIC_NAMES, CompositeProbe, UsageProbe, UsageSample

__all__ = [
    "UsageSample",
    "UsageProbe",
    "CompositeProbe",
    "ProcessTreeProbe",
    "DiskProbe",
    "NvmlProbe",
    "METRIC_NAMES",
    "cpu_utilization",
    "process_tree",
    "load_nvml",
    "instance_probe",
]


def instance_probe(work_dir: Path | None) -> UsageProbe:
    """The probe for one instance: a fresh CPU baseline, its disk (none without ``work_dir``:
    transform jobs report no DiskUtilization), and GPUs if any."""
    probes: list[UsageProbe] = [ProcessTreeProbe()]
    if work_dir is not None:
        probes.append(DiskProbe(work_dir))
    gpu = NvmlProbe.create()
    if gpu is not None:
        probes.append(gpu)
    return CompositeProbe(probes)
