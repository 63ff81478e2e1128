"""``build_job_manager``: the job subsystem wired from the server's parts.

Jobs get their own ``LocalLauncher`` (data under ``<data dir>/jobs``): training hosts,
transform instances and Jupyter servers are its instances, and its fate-sharing reaper also
guards lifecycle scripts. No one reads its events: each job watches its own instances. Given a
``cluster_launcher`` (the server's on a Ray cluster), training hosts run there instead, and
transform instances on ``transform_launcher`` (the same cluster, their actors ending with the
server: the server sends their records); notebook instances stay on this machine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..config import Settings
from ..objects.locations import ObjectLocations
from ..serving.containers import plan_model
from ..serving.launcher import Launcher
from ..serving.local_launcher import LocalLauncher
from ..serving.model import Model
from ..serving.ports import PortAllocator
from ..telemetry.tracing import Tracing
from .manager import JobManager
from .notebooks import NotebookService
from .training import TrainingRunner
from .transform import TransformRunner

__all__ = ["build_job_manager", "gpu_count"]


def gpu_count() -> int:
    from ..telemetry.usage import load_nvml

    nvml = load_nvml()
    return int(nvml.nvmlDeviceGetCount()) if nvml is not None else 0


def build_job_manager(settings: Settings, *, registry: Any, logs: Any, catalog: Any,
                      endpoints: Any, clock: Clock | None = None,
                      ports: PortAllocator | None = None,
                      training_stop_grace: float = 120.0,
                      lifecycle_timeout: float = 300.0,
                      tracing: Tracing | None = None,
                      objects: ObjectLocations | None = None,
                      aws_environment: Callable[[], dict[str, str]] | None = None,
                      cluster_launcher: Launcher | None = None,
                      transform_launcher: Launcher | None = None,
                      ) -> JobManager:
    clock = clock or SystemClock()
    jobs_dir = Path(settings.data_dir) / "jobs"
    # One allocator per server (shared with the endpoints' launcher): safe-port blocks never
    # overlap between an endpoint's containers and a job's.
    ports = ports or PortAllocator()
    launcher = LocalLauncher(metrics_registry=registry, log_service=logs,
                             usage_interval=settings.usage_interval, clock=clock,
                             data_dir=jobs_dir, ports=ports, report_events=False,
                             objects=objects)

    async def model_lookup(name: str) -> tuple[Model, Path]:
        model, base_dir = await endpoints.describe_model(name)
        return model, base_dir

    placed = cluster_launcher or launcher
    training = TrainingRunner(logs=logs, registry=registry, jobs_dir=jobs_dir, launcher=placed,
                              clock=clock, stop_grace=training_stop_grace,
                              num_gpus=gpu_count(),
                              tracer=tracing.tracer if tracing is not None else None,
                              objects=objects)
    transform = TransformRunner(
        launcher=transform_launcher or placed, logs=logs, jobs_dir=jobs_dir,
        model_lookup=model_lookup,
        plan_containers=functools.partial(plan_model, objects=objects), clock=clock,
        health_check_timeout=settings.health_check_timeout, ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout, stop_grace_period=settings.stop_grace_period,
        tracing=tracing, objects=objects)
    notebooks = NotebookService(
        logs=logs, data_dir=jobs_dir / "notebooks",
        arn=lambda resource, name: JobManager.arn(manager, resource, name), launcher=launcher,
        guard=launcher.fate_sharing,
        ports=ports, clock=clock, lifecycle_timeout=lifecycle_timeout,
        aws_environment=aws_environment, catalog=catalog)

    async def stop() -> None:
        await launcher.close()
        if cluster_launcher is not None:
            await cluster_launcher.close()
        if transform_launcher is not None:
            await transform_launcher.close()

    manager = JobManager(training=training, transform=transform, notebooks=notebooks,
                         catalog=catalog, region=settings.region, account_id=settings.account_id,
                         clock=clock, on_start=launcher.start, on_stop=stop)
    return manager
