"""``build_job_manager``: the job subsystem wired from the server's parts.

Jobs get their own ``LocalLauncher`` (data under ``<data dir>/jobs``): its fate-sharing reaper
also guards training hosts, lifecycle scripts and Jupyter servers, and its usage probe leaves
out DiskUtilization, which SageMaker does not report for transform jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..config import Settings
from ..serving.containers import plan_model
from ..serving.local_launcher import LocalLauncher
from ..serving.model import Model
from ..serving.ports import PortAllocator
from ..telemetry.tracing import Tracing
from ..telemetry.usage import CompositeProbe, NvmlProbe, ProcessTreeProbe, UsageProbe
from .manager import JobManager
from .notebooks import NotebookService
from .training import TrainingRunner
from .transform import TransformRunner

__all__ = ["build_job_manager", "transform_probe", "gpu_count"]

# Safe-port blocks for job containers, apart from the endpoints' allocator's usual blocks.


def transform_probe(_spec: Any = None) -> UsageProbe:
    """CPU, memory and GPU of an instance's processes; no disk (not reported for transform)."""
    probes: list[UsageProbe] = [ProcessTreeProbe()]
    gpu = NvmlProbe.create()
    if gpu is not None:
        probes.append(gpu)
    return CompositeProbe(probes)


def gpu_count() -> int:
    from ..telemetry.usage import load_nvml

    nvml = load_nvml()
    return int(nvml.nvmlDeviceGetCount()) if nvml is not None else 0


def build_job_manager(settings: Settings, *, registry: Any, logs: Any, catalog: Any,
                      endpoints: Any, clock: Clock | None = None,
                      ports: PortAllocator | None = None,
                      training_stop_grace: float = 120.0,
                      lifecycle_timeout: float = 300.0,
                      tracing: Tracing | None = None) -> JobManager:
    clock = clock or SystemClock()
    jobs_dir = Path(settings.data_dir) / "jobs"
    # One allocator per server (shared with the endpoints' launcher): safe-port blocks never
    # overlap between an endpoint's containers and a job's.
    ports = ports or PortAllocator()
    launcher = LocalLauncher(metrics_registry=registry, log_service=logs,
                             usage_interval=settings.usage_interval, clock=clock,
                             data_dir=jobs_dir, ports=ports, probe_factory=transform_probe)
    guard = launcher.fate_sharing

    async def model_lookup(name: str) -> tuple[Model, Path]:
        model, base_dir = await endpoints.describe_model(name)
        return model, base_dir

    training = TrainingRunner(logs=logs, registry=registry, jobs_dir=jobs_dir, guard=guard,
                              ports=ports, clock=clock, usage_interval=settings.usage_interval,
                              stop_grace=training_stop_grace, num_gpus=gpu_count(),
                              tracer=tracing.tracer if tracing is not None else None)
    transform = TransformRunner(
        launcher=launcher, logs=logs, jobs_dir=jobs_dir, model_lookup=model_lookup,
        plan_containers=plan_model, clock=clock,
        health_check_timeout=settings.health_check_timeout, ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout, stop_grace_period=settings.stop_grace_period,
        tracing=tracing)
    notebooks = NotebookService(
        logs=logs, data_dir=jobs_dir / "notebooks",
        arn=lambda resource, name: JobManager.arn(manager, resource, name), guard=guard,
        ports=ports, clock=clock, lifecycle_timeout=lifecycle_timeout)
    manager = JobManager(training=training, transform=transform, notebooks=notebooks,
                         catalog=catalog, region=settings.region, account_id=settings.account_id,
                         clock=clock, on_stop=launcher.close)
    return manager
