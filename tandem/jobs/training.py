"""Training jobs: N hosts (algo-1..algo-N) as processes with SageMaker's layout and SM_* env.

``TrainingJob`` is the live record DescribeTrainingJob renders; ``TrainingRunner.run`` drives
one job through SageMaker's statuses: InProgress (secondary Starting, Downloading, Training,
Uploading) to Completed, Failed or Stopped. A stop (StopTrainingJob) or MaxRuntimeInSeconds
sends SIGTERM to every host, waits the grace period (SageMaker's 120 s by default), then
SIGKILL; the job ends Stopped (secondary Stopped or MaxRuntimeExceeded) and, as on SageMaker,
what the hosts saved in their model directory is still uploaded. The hosts are reserved on the
launcher before any starts (on a Ray cluster, each on its own node where there are enough), so
every host's environment names every host's address and port; each host's process resolves the
names algo-1..algo-N where a private mount namespace can be made (``peer_names``). Logs go to
``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-<k>-<epoch seconds>`` (one epoch per
job); instance metrics to the same namespace with ``Host=<job>/algo-<k>``.

On a launcher whose instances outlive the server (Ray's), a job whose hosts all run is not
stopped when the server stops or dies: its record keeps what re-attaching needs
(``resume_record``: the request, the log epoch, the hosts' slots), and the next server (this one
restarted, or a new leader on the shared store) finds the hosts by name and drives the job on
(``TrainingRunner.resume``): the lines they wrote meanwhile reach the metric definitions, their
outputs come back, and the job ends as it would have. A host that is gone fails the job, naming
it. On the local launcher the hosts end with the server: the job fails, saying so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..errors import TandemError
from ..objects.locations import ObjectLocations, is_s3_uri
from ..serving.artifacts import materialize
from ..serving.launcher import (
    INSTANCE_ROOT,
    Artifact,
    ContainerSpec,
    HostsLost,
    HostSlot,
    InstanceHandle,
    InstanceSpec,
    InstanceStartFailed,
    Launcher,
    describe_returncode,
    quote_lines,
)
from ..telemetry.logs import LogService
from ..telemetry.tracing import RequestTracer, SpanKind
from ..telemetry.tracing.jobs import JobTrace, seconds_ns
from .checkpoints import CheckpointSync
from .container_root import container_argv
from .locations import join_location, local_path
from .metric_definitions import TRAINING_NAMESPACE, FinalMetric, MetricMatcher
from .peer_names import named_hosts_argv
from .records import JobStatus, StatusTransition
from .training_layout import (
    HostLayout,
    decode_hyperparameters,
    host_names,
    resource_config,
    to_cmd_args,
    training_environment,
    write_config,
)
from .training_request import TrainingRequest
from .transform_io import list_input_files

__all__ = ["TrainingJob", "TrainingRunner", "TRAINING_LOG_GROUP"]

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
FAILURE_REASON_CHARS = 1024
_PASSTHROUGH = ("PATH", "LANG", "LC_ALL")
_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job runtime exceeded MaxRuntimeInSeconds provided",
}


@dataclasses.dataclass(eq=False)
class TrainingJob:
    request: TrainingRequest
    arn: str
    creation_time: float
    status: JobStatus = JobStatus.IN_PROGRESS
    secondary_status: str = "Starting"
    transitions: list[StatusTransition] = dataclasses.field(default_factory=list)
    failure_reason: str | None = None
    last_modified_time: float = 0.0
    training_start_time: float | None = None
    training_end_time: float | None = None
    log_epoch: int = 0
    final_metrics: list[FinalMetric] = dataclasses.field(default_factory=list)
    model_artifacts: str = ""
    stop_requested: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    matcher: MetricMatcher | None = None
    # The hosts reserved for it, and whether every one's process was started: what a server
    # re-attaching to them needs (``resume_record``).
    hosts: list[HostSlot] = dataclasses.field(default_factory=list)
    hosts_started: bool = False
    # Set by the server as it stops: ``detached``, the hosts are left running for the next
    # server (the run is cancelled, nothing stopped or recorded); ``server_stopped``, the
    # FailureReason the job ends with once its hosts are stopped.
    detached: bool = False
    server_stopped: str | None = None

    @property
    def name(self) -> str:
        return self.request.name

    def set_secondary(self, status: str, now: float, message: str | None = None) -> None:
        if self.transitions and self.transitions[-1].end_time is None:
            self.transitions[-1].end_time = now
        self.secondary_status = status
        self.transitions.append(StatusTransition(status, now, message or _MESSAGES[status]))
        self.last_modified_time = now

    def metrics(self) -> list[FinalMetric]:
        return self.matcher.final_metrics() if self.matcher is not None else self.final_metrics

    def describe(self) -> dict[str, Any]:
        raw = self.request.raw
        out: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "ModelArtifacts": {"S3ModelArtifacts": self.model_artifacts},
            "TrainingJobStatus": self.status.value,
            "SecondaryStatus": self.secondary_status,
            "HyperParameters": dict(self.request.hyperparameters),
            "AlgorithmSpecification": raw["AlgorithmSpecification"],
            "RoleArn": raw["RoleArn"],
            "OutputDataConfig": raw["OutputDataConfig"],
            "ResourceConfig": raw["ResourceConfig"],
            "StoppingCondition": raw["StoppingCondition"],
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "SecondaryStatusTransitions": [t.wire() for t in self.transitions],
            "EnableNetworkIsolation": bool(raw.get("EnableNetworkIsolation", False)),
            "EnableInterContainerTrafficEncryption":
                bool(raw.get("EnableInterContainerTrafficEncryption", False)),
            "EnableManagedSpotTraining": bool(raw.get("EnableManagedSpotTraining", False)),
        }
        for key in ("InputDataConfig", "Environment", "VpcConfig", "CheckpointConfig",
                    "DebugHookConfig", "ExperimentConfig", "RetryStrategy",
                    "TensorBoardOutputConfig", "ProfilerConfig", "RemoteDebugConfig",
                    "InfraCheckConfig"):
            if key in raw:
                out[key] = raw[key]
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.training_start_time is not None:
            out["TrainingStartTime"] = self.training_start_time
        if self.training_end_time is not None:
            out["TrainingEndTime"] = self.training_end_time
            seconds = max(1, int(round(self.training_end_time - (self.training_start_time
                                                                  or self.training_end_time))))
            out["TrainingTimeInSeconds"] = seconds
            out["BillableTimeInSeconds"] = seconds
        metrics = self.metrics()
        if metrics:
            out["FinalMetricDataList"] = [
                {"MetricName": m.metric_name, "Value": m.value, "Timestamp": m.timestamp}
                for m in metrics]
        if not self.model_artifacts:
            # Not known before Uploading: left out whole, as clients that model ModelArtifacts
            # with a required S3ModelArtifacts (the SDK 3.x's sagemaker-core) expect.
            del out["ModelArtifacts"]
        return out

    def resume_record(self) -> dict[str, Any]:
        """What a server needs, beside ``describe()``, to re-attach to the job's hosts."""
        return {
            "request": self.request.raw, "base_dir": str(self.request.base_dir),
            "log_epoch": self.log_epoch, "hosts_started": self.hosts_started,
            "hosts": [{"host_name": h.host_name, "instance_id": h.instance_id,
                       "address": h.address, "port": h.port,
                       "shares_work_dir": h.shares_work_dir} for h in self.hosts],
        }  # fmt: skip

    @classmethod
    def restore(cls, request: TrainingRequest, describe: dict[str, Any],
                resume: dict[str, Any]) -> TrainingJob:
        """The live record of a job a previous server ran, from its ``describe()`` and
        ``resume_record()``."""
        transitions = [StatusTransition(t["Status"], t["StartTime"], t["StatusMessage"],
                                        t.get("EndTime"))
                       for t in describe.get("SecondaryStatusTransitions", [])]  # fmt: skip
        job = cls(request, describe["TrainingJobArn"], describe["CreationTime"],
                  status=JobStatus(describe["TrainingJobStatus"]),
                  secondary_status=describe["SecondaryStatus"], transitions=transitions,
                  last_modified_time=describe["LastModifiedTime"],
                  training_start_time=describe.get("TrainingStartTime"),
                  log_epoch=int(resume["log_epoch"]),
                  final_metrics=[FinalMetric(m["MetricName"], m["Value"], m["Timestamp"])
                                 for m in describe.get("FinalMetricDataList", [])],
                  hosts=[HostSlot(**h) for h in resume["hosts"]],
                  hosts_started=bool(resume["hosts_started"]))  # fmt: skip
        if job.status is JobStatus.STOPPING:  # StopTrainingJob came before the restart
            job.stop_requested.set()
        return job

    def summary(self) -> dict[str, Any]:
        out = {"TrainingJobName": self.name, "TrainingJobArn": self.arn,
               "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time,
               "TrainingJobStatus": self.status.value, "SecondaryStatus": self.secondary_status}
        if self.training_end_time is not None:
            out["TrainingEndTime"] = self.training_end_time
        return out


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:FAILURE_REASON_CHARS]


class TrainingRunner:
    """Runs training jobs as process clusters, one launcher instance per host."""

    def __init__(
        self,
        *,
        logs: LogService,
        registry: Any,
        jobs_dir: Path,
        launcher: Launcher,
        clock: Clock | None = None,
        stop_grace: float = 120.0,
        num_gpus: int = 0,
        parent_env: dict[str, str] | None = None,
        tracer: RequestTracer | None = None,
        objects: ObjectLocations | None = None,
        checkpoint_interval: float = 10.0,
    ) -> None:
        self.checkpoint_interval = checkpoint_interval
        self.tracer = tracer
        self.logs = logs
        self.registry = registry
        self.jobs_dir = Path(jobs_dir)
        self.launcher = launcher
        self.clock = clock or SystemClock()
        self.stop_grace = stop_grace
        self.num_gpus = num_gpus
        self.parent_env = dict(os.environ if parent_env is None else parent_env)
        self.objects = objects

    def _stage(self, location: str, job_dir: Path) -> str:
        """A local path for ``location``: an s3:// one staged from the object store."""
        if not is_s3_uri(location):
            return location
        if self.objects is None:
            raise _Failed(f"ClientError: {location}: no object store is configured here")
        try:
            return str(self.objects.stage(location, job_dir / "s3"))
        except TandemError as error:
            raise _Failed(f"ClientError: {error.message}") from None

    def log_streams(self, job: TrainingJob) -> list[str]:
        return [f"{job.name}/{host}-{job.log_epoch}"
                for host in host_names(job.request.instance_count)]

    @property
    def reattaches(self) -> bool:
        """Whether a job's hosts outlive the server, so that the next one re-attaches."""
        return bool(getattr(self.launcher, "outlives_server", False))

    async def run(self, job: TrainingJob, on_change: Callable[[TrainingJob], None]) -> None:
        await self._drive(job, on_change, resumed=False)

    async def resume(self, job: TrainingJob, on_change: Callable[[TrainingJob], None]) -> None:
        """Drive on a job whose hosts a previous server started (``TrainingJob.restore``):
        re-attach to them, watch them to the end, then upload as ``run`` does."""
        await self._drive(job, on_change, resumed=True)

    async def _drive(self, job: TrainingJob, on_change: Callable[[TrainingJob], None],
                     resumed: bool) -> None:
        request = job.request
        hosts = host_names(request.instance_count)
        job_dir = self.jobs_dir / "training" / job.name
        if not resumed:
            job.log_epoch = int(self.clock.time())
            job.set_secondary("Starting", self.clock.time())
            on_change(job)
        stop_kind = None
        slots: list[HostSlot] = list(job.hosts)
        checkpoints: CheckpointSync | None = None
        detaching = False
        try:
            if resumed:
                layouts, checkpoints = await asyncio.to_thread(self._reattach_layouts, request,
                                                               job_dir, hosts)
                stop_kind = await self._train_again(job, layouts, checkpoints, on_change)
            else:
                job.set_secondary("Downloading", self.clock.time())
                on_change(job)
                try:
                    slots = await self.launcher.reserve_hosts(job.name, hosts,
                                                              request.instance_type)
                except InstanceStartFailed as exc:
                    raise _Failed(f"CapacityError: {exc.reason}") from None
                job.hosts = list(slots)
                on_change(job)
                layouts = await asyncio.to_thread(self._prepare, request, job_dir, hosts)
                checkpoints = await asyncio.to_thread(self._checkpoints, request, job_dir,
                                                      layouts)
                inputs = await asyncio.to_thread(self._pack_inputs, request, job_dir, slots,
                                                 layouts)
                if job.stop_requested.is_set():
                    stop_kind = "Stopped"
                else:
                    job.training_start_time = self.clock.time()
                    job.set_secondary("Training", job.training_start_time)
                    on_change(job)
                    stop_kind = await self._train(job, slots, layouts, checkpoints, inputs,
                                                  on_change)
            if stop_kind is not None:
                job.status = JobStatus.STOPPING
                job.set_secondary("Stopping", self.clock.time())
                on_change(job)
            else:
                job.set_secondary("Uploading", self.clock.time())
                on_change(job)
            job.model_artifacts = join_location(request.output_path, job.name, "output",
                                                "model.tar.gz")
            await asyncio.to_thread(self._upload, request, job.name, list(layouts.values()))
            if checkpoints is not None:
                await asyncio.to_thread(self._sync_checkpoints, checkpoints)
        except _Failed as failed:
            if checkpoints is not None:  # what a failed job saved still reaches S3Uri
                await asyncio.gather(asyncio.to_thread(checkpoints.upload),
                                     return_exceptions=True)
            self._finish(job, JobStatus.FAILED, "Failed", failed.reason)
        except Exception as exc:  # noqa: BLE001 - any surprise fails this job, with its reason
            self._finish(job, JobStatus.FAILED, "Failed", f"InternalServerError: {exc}")
        except asyncio.CancelledError:
            # The server stops and leaves the hosts running: the next one drives the job on.
            detaching = job.detached
            raise
        else:
            if stop_kind is None:
                self._finish(job, JobStatus.COMPLETED, "Completed")
            elif job.server_stopped is not None:  # not the user's stop: the server's
                self._finish(job, JobStatus.FAILED, "Failed", job.server_stopped)
            else:
                self._finish(job, JobStatus.STOPPED, stop_kind)
        finally:
            if not detaching:
                await self._release(job, slots, job_dir, on_change)

    async def _release(self, job: TrainingJob, slots: list[HostSlot], job_dir: Path,
                       on_change: Callable[[TrainingJob], None]) -> None:
        """Once the job ended: its hosts given back, what was carried removed, the last
        metrics kept, its trace, and its final record."""
        await asyncio.gather(self.launcher.release_hosts(slots), return_exceptions=True)
        # The inputs packed for hosts elsewhere: on their nodes now, or of no more use.
        await asyncio.to_thread(shutil.rmtree, job_dir / "carry", ignore_errors=True)
        if job.matcher is not None:
            job.final_metrics = job.matcher.final_metrics()
        if self.tracer is not None:
            _trace(self.tracer, job)
        on_change(job)

    def _finish(self, job: TrainingJob, status: JobStatus, secondary: str,
                reason: str | None = None) -> None:
        now = self.clock.time()
        job.status = status
        job.failure_reason = reason
        job.training_end_time = now
        job.set_secondary(secondary, now)
        job.transitions[-1].end_time = now

    # -- downloading --------------------------------------------------------------------

    def _prepare(self, request: TrainingRequest, job_dir: Path,
                 hosts: list[str]) -> dict[str, HostLayout]:
        if job_dir.exists():
            shutil.rmtree(job_dir)
        code_dir: Path | None = None
        if request.code_dir is not None:
            code_dir = materialize(self._stage(request.code_dir, job_dir), request.base_dir,
                                   job_dir / "code",
                                   field="HyperParameters.sagemaker_submit_directory")
        channels = [dataclasses.replace(c, uri=self._stage(c.uri, job_dir))
                    for c in request.channels]
        input_config = {c.name: c.config for c in request.channels}
        layouts = {}
        for index, host in enumerate(hosts):
            layout = HostLayout(job_dir / host)
            layout.create()
            write_config(layout, hyperparameters=request.hyperparameters,
                         resources=resource_config(host, hosts, request.instance_type),
                         input_data_config=input_config)
            for channel in channels:
                self._link_channel(channel, layout, index, len(hosts), request.base_dir,
                                   lambda uri: self._stage(uri, job_dir))
            if code_dir is not None:
                layout.code_dir.symlink_to(code_dir, target_is_directory=True)
            layouts[host] = layout
        return layouts

    def _checkpoints(self, request: TrainingRequest, job_dir: Path,
                     layouts: dict[str, HostLayout]) -> CheckpointSync | None:
        """CheckpointConfig's sync, with the existing checkpoints already in every host's
        folder (None without a CheckpointConfig)."""
        if request.checkpoint_uri is None:
            return None
        try:
            sync = CheckpointSync(request.checkpoint_uri,
                                  [layout.checkpoint_dir for layout in layouts.values()],
                                  objects=self.objects, base_dir=request.base_dir,
                                  scratch=job_dir / "checkpoint-download")
            sync.download()
        except TandemError as error:
            raise _Failed(f"ClientError: {error.message}") from None
        except OSError as exc:
            raise _Failed(f"ClientError: CheckpointConfig.S3Uri: {exc}") from None
        return sync

    @staticmethod
    def _pack_inputs(request: TrainingRequest, job_dir: Path, slots: list[HostSlot],
                     layouts: dict[str, HostLayout]) -> dict[str, tuple[Artifact, ...]]:
        """What each host on another machine than this one (a Ray node) unpacks under its own
        root before it starts: its prepared ``input`` (config, and channels with the links to
        the user's files followed), the code, a local image directory (kind "train") and the
        checkpoints already downloaded, each a tarball the launcher carries to the node (up
        to its limit: ``docs/scale-out.md``); empty directories for the rest of its
        ``/opt/ml``. A whole s3:// prefix every host reads (FullyReplicated) is not packed:
        the node fetches it from S3 itself, however large. None for hosts that share this
        machine's files: they run in ``layouts``."""
        carry = job_dir / "carry"
        remote = HostLayout(Path(INSTANCE_ROOT))
        # Linked whole in the layout (a folder): the same prefix on every host.
        fetched = [c for c in request.channels if is_s3_uri(c.uri)
                   and c.data_type == "S3Prefix" and c.distribution == "FullyReplicated"
                   and next(iter(layouts.values())).channel_dir(c.name).is_symlink()]
        skipped = {f"data/{c.name}" for c in fetched}
        inputs: dict[str, tuple[Artifact, ...]] = {}
        code: Path | None = None
        image: Path | None = None
        for slot in slots:
            if slot.shares_work_dir:
                continue
            host = slot.host_name
            layout = layouts[host]
            carry.mkdir(parents=True, exist_ok=True)
            artifacts = [Artifact(str(remote.input_dir), str(_pack_tree(
                layout.input_dir, carry / f"{host}-input.tar.gz", skipped)), archive=True,
                field="InputDataConfig")]
            artifacts += [Artifact(str(remote.channel_dir(c.name)), c.uri,
                                   field=f"InputDataConfig[{c.name}].S3Uri",
                                   scratch=str(remote.root / ".fetched"))
                          for c in fetched]  # fmt: skip
            if request.kind == "train":  # a local image directory: its train program
                if image is None:
                    image = _pack_tree(request.program.parent, carry / "image.tar.gz")
                artifacts.append(Artifact(str(_carried_image(remote)), str(image), archive=True,
                                          field="AlgorithmSpecification.TrainingImage"))
            if layout.code_dir.exists():
                if code is None:  # the same code on every host: packed once
                    code = _pack_tree(layout.code_dir, carry / "code.tar.gz")
                artifacts.append(Artifact(str(remote.code_dir), str(code), archive=True,
                                          field="HyperParameters.sagemaker_submit_directory"))
            if any(layout.checkpoint_dir.iterdir()):
                artifacts.append(Artifact(str(remote.checkpoint_dir), str(_pack_tree(
                    layout.checkpoint_dir, carry / f"{host}-checkpoints.tar.gz")),
                    archive=True, field="CheckpointConfig.S3Uri"))
            else:
                artifacts.append(Artifact(str(remote.checkpoint_dir)))
            artifacts += [Artifact(str(path)) for path in (
                remote.model_dir, remote.output_data_dir, remote.intermediate_dir,
                remote.root / "home", remote.root / "tmp")]  # fmt: skip
            inputs[host] = tuple(artifacts)
        return inputs

    @staticmethod
    def _sync_checkpoints(sync: CheckpointSync) -> None:
        try:
            sync.upload()
        except TandemError as error:
            raise _Failed(f"ClientError: checkpoints to {sync.uri}: {error.message}") from None

    async def _sync_periodically(self, sync: CheckpointSync) -> None:
        """Upload new checkpoints every ``checkpoint_interval`` seconds while hosts run; a
        failed pass is retried at the next one (the last pass, after training, reports)."""
        while True:
            await asyncio.sleep(self.checkpoint_interval)
            try:
                await asyncio.to_thread(sync.upload)
            except Exception:  # noqa: BLE001 - retried next pass; the last pass reports
                continue

    @staticmethod
    def _link_channel(channel: Any, layout: HostLayout, index: int, count: int,
                      base_dir: Path, stage: Callable[[str], str] | None = None) -> None:
        target = layout.channel_dir(channel.name)
        source = Path(channel.uri)
        if (source.is_dir() and channel.data_type == "S3Prefix"
                and channel.distribution == "FullyReplicated"):
            target.symlink_to(source, target_is_directory=True)
            return
        files = list_input_files(channel.uri, channel.data_type, base_dir,
                                 field=f"InputDataConfig[{channel.name}].S3Uri", stage=stage)
        if channel.distribution == "ShardedByS3Key":
            files = files[index::count]
        target.mkdir(parents=True, exist_ok=True)
        for item in files:
            link = target / item.relative
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(item.path)

    # -- training -----------------------------------------------------------------------

    def _argv(self, request: TrainingRequest, layout: HostLayout,
              carried: bool = False) -> tuple[list[str], str]:
        """The host's command and working directory; ``carried``: its inputs were carried to
        another machine (``_pack_inputs``), under ``layout``'s root there."""
        if request.kind == "train":
            image = _carried_image(layout) if carried else request.program.parent
            return [str(image / request.program.name)], str(image)
        if request.kind == "algorithm":
            return [sys.executable, "-m", str(request.program)], str(layout.root)
        if request.kind == "container":
            return container_argv(layout.root, request.command), str(layout.root)
        user, _ = decode_hyperparameters(request.hyperparameters)
        script = layout.code_dir / request.program
        args = to_cmd_args(user)
        if script.suffix == ".py":
            return [sys.executable, str(script), *args], str(layout.code_dir)
        if script.suffix == ".sh":
            return ["/bin/sh", str(script), *args], str(layout.code_dir)
        return [str(script), *args], str(layout.code_dir)

    def _env(self, job: TrainingJob, host: str, slots: list[HostSlot],
             layout: HostLayout) -> dict[str, str]:
        request = job.request
        env = {k: self.parent_env[k] for k in _PASSTHROUGH if k in self.parent_env}
        env.setdefault("PATH", os.defpath)
        if request.kind == "container":
            # The framework image's python3 and pip3 are tandem's own interpreter's.
            env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env["PATH"]])
        env.update(HOME=str(layout.root / "home"), TMPDIR=str(layout.root / "tmp"),
                   PYTHONUNBUFFERED="1")
        user, framework = decode_hyperparameters(request.hyperparameters)
        hosts = [slot.host_name for slot in slots]
        sm = training_environment(
            layout=layout, current_host=host, hosts=hosts,
            host_ports={slot.host_name: slot.port for slot in slots},
            host_addresses={slot.host_name: slot.address for slot in slots},
            instance_type=request.instance_type, hyperparameters=user,
            framework_hyperparameters=framework,
            input_data_config={c.name: c.config for c in request.channels}, job_name=job.name,
            user_entry_point=str(request.program.name) if request.kind == "script" else None,
            module_dir=request.code_dir, num_cpus=os.cpu_count() or 1, num_gpus=self.num_gpus)
        env.update({k: v for k, v in sm.items() if k in ("MASTER_ADDR", "MASTER_PORT")})
        env.update(request.environment)
        env.update({k: v for k, v in sm.items() if k.startswith("SM_")})
        env.update(TRAINING_JOB_NAME=job.name, TRAINING_JOB_ARN=job.arn)
        return env

    def _record_metric(self, job: TrainingJob,
                       on_change: Callable[[TrainingJob], None] | None = None,
                       ) -> Callable[[str, float, float], None]:  # fmt: skip
        def record(name: str, value: float, when: float) -> None:
            self.registry.series(TRAINING_NAMESPACE, name, {"TrainingJobName": job.name},
                                 "None").record(value, timestamp=when)
            if on_change is not None:  # FinalMetricDataList changed: the record keeps it
                on_change(job)
        return record

    async def _train(self, job: TrainingJob, slots: list[HostSlot],
                     layouts: dict[str, HostLayout],
                     checkpoints: CheckpointSync | None = None,
                     inputs: dict[str, tuple[Artifact, ...]] | None = None,
                     on_change: Callable[[TrainingJob], None] | None = None) -> str | None:
        """Run every host to the end; the stop kind (Stopped|MaxRuntimeExceeded) or None.

        A host in ``inputs`` runs away from this machine's files: its process sees its own
        root (``INSTANCE_ROOT``) where ``inputs`` are unpacked, and what the planner reads
        after it (model, output data, failure, checkpoints) comes back into its layout here
        before its exit is reported (``InstanceSpec.outputs``)."""
        request = job.request
        job.matcher = MetricMatcher(request.metric_definitions,
                                    self._record_metric(job, on_change))
        handles: dict[str, InstanceHandle] = {}
        try:
            addresses = {slot.host_name: slot.address for slot in slots}
            for slot, stream in zip(slots, self.log_streams(job), strict=True):
                host = slot.host_name
                artifacts = (inputs or {}).get(host)
                # Where its process finds its /opt/ml: here, or under its own root there.
                seen = layouts[host] if artifacts is None else HostLayout(Path(INSTANCE_ROOT))
                argv, cwd = self._argv(request, seen, carried=artifacts is not None)
                argv = named_hosts_argv(seen.root, addresses, argv)
                container = ContainerSpec(host, tuple(argv),
                                          env=self._env(job, host, slots, seen),
                                          cwd=cwd, port=slot.port, artifacts=artifacts or ())
                spec = InstanceSpec.for_job_host(
                    job.name, host, container, layouts[host].root,
                    log_group=TRAINING_LOG_GROUP,
                    log_stream=stream, usage_namespace=TRAINING_NAMESPACE,
                    usage_dimensions={"Host": f"{job.name}/{host}"},
                    stop_grace_period=self.stop_grace, instance_id=slot.instance_id,
                    instance_type=request.instance_type,
                    outputs=_OUTPUTS_WITH_CHECKPOINTS if checkpoints is not None else _OUTPUTS)
                try:
                    handles[host] = await self.launcher.start_instance(
                        spec, on_line=job.matcher.on_line, slot=slot)
                except InstanceStartFailed as exc:
                    what = exc.problems[0].what if exc.problems else exc.reason
                    raise _Failed(f"AlgorithmError: {host} {what}") from None
            job.hosts_started = True
            if on_change is not None:
                on_change(job)
            return await self._watch(job, handles, layouts, checkpoints)
        finally:
            await self._leave(job, handles)

    async def _leave(self, job: TrainingJob, handles: dict[str, InstanceHandle]) -> None:
        """Every host's instance leaves the launcher (a host that exited is only released),
        unless the server stops and leaves them running for the next one."""
        if job.detached:
            return
        await asyncio.gather(*(self.launcher.stop_instance(h.instance_id, 0)
                               for h in handles.values()), return_exceptions=True)

    def _reattach_layouts(self, request: TrainingRequest, job_dir: Path, hosts: list[str],
                          ) -> tuple[dict[str, HostLayout], CheckpointSync | None]:  # fmt: skip
        """Where a re-attached job's hosts send their outputs back (this server's own job
        directory: the one that started them may have been another's), and its checkpoint
        sync (the existing checkpoints were downloaded at its start)."""
        layouts = {host: HostLayout(job_dir / host) for host in hosts}
        for layout in layouts.values():
            layout.model_dir.mkdir(parents=True, exist_ok=True)
            layout.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        if request.checkpoint_uri is None:
            return layouts, None
        try:
            sync = CheckpointSync(request.checkpoint_uri,
                                  [layout.checkpoint_dir for layout in layouts.values()],
                                  objects=self.objects, base_dir=request.base_dir,
                                  scratch=job_dir / "checkpoint-download")
        except TandemError as error:
            raise _Failed(f"ClientError: {error.message}") from None
        return layouts, sync

    async def _train_again(self, job: TrainingJob, layouts: dict[str, HostLayout],
                           checkpoints: CheckpointSync | None,
                           on_change: Callable[[TrainingJob], None]) -> str | None:
        """``_train`` for hosts a previous server started: found again, then watched."""
        job.matcher = MetricMatcher(job.request.metric_definitions,
                                    self._record_metric(job, on_change), job.final_metrics)
        work_dirs = {slot.instance_id: layouts[slot.host_name].root for slot in job.hosts}
        try:
            found = await self.launcher.reattach_hosts(job.name, job.hosts, work_dirs,
                                                       on_line=job.matcher.on_line)
        except HostsLost as lost:
            raise _Failed(f"InternalServerError: The tandem server restarted while the job "
                          f"ran, and host {lost.host_name} was lost meanwhile: "
                          f"{lost.reason}.") from None
        except InstanceStartFailed as exc:  # the cluster itself is not reachable
            raise _Failed(f"InternalServerError: The tandem server restarted while the job "
                          f"ran, and could not re-attach to its hosts: {exc.reason}") from None
        handles = {slot.host_name: handle for slot, handle in zip(job.hosts, found,
                                                                 strict=True)}
        try:
            started = job.training_start_time or self.clock.time()
            return await self._watch(job, handles, layouts, checkpoints,
                                     elapsed=self.clock.time() - started)
        finally:
            await self._leave(job, handles)

    async def _watch(self, job: TrainingJob, handles: dict[str, InstanceHandle],
                     layouts: dict[str, HostLayout],
                     checkpoints: CheckpointSync | None, elapsed: float = 0.0) -> str | None:
        """Wait for every host to exit (or a stop, or MaxRuntimeInSeconds less ``elapsed``,
        the time it already ran under a previous server)."""
        waits = {asyncio.create_task(h.wait(), name=f"wait {host}"): host
                 for host, h in handles.items()}
        stop_wait = asyncio.create_task(job.stop_requested.wait())
        syncing = (asyncio.create_task(self._sync_periodically(checkpoints))
                   if checkpoints is not None else None)
        deadline = self.clock.monotonic() + job.request.max_runtime - elapsed
        stop_kind: str | None = None
        failed: tuple[str, int] | None = None
        pending = set(waits)
        try:
            while pending:
                timeout = max(0.0, deadline - self.clock.monotonic())
                done, _ = await asyncio.wait(pending | {stop_wait}, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if stop_wait in done:
                    stop_kind = "Stopped"
                elif not done:
                    stop_kind = "MaxRuntimeExceeded"
                for task in [t for t in waits if t in done and t in pending]:
                    pending.discard(task)
                    code = task.result()[waits[task]]
                    if code != 0 and failed is None:
                        failed = (waits[task], code)
                if stop_kind is not None or failed is not None:
                    break
            if pending:
                job.status = JobStatus.STOPPING
                await asyncio.gather(*(self.launcher.stop_instance(
                    handles[waits[t]].instance_id, self.stop_grace) for t in pending))
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            stop_wait.cancel()
            if syncing is not None:
                syncing.cancel()
                await asyncio.gather(syncing, return_exceptions=True)
        if failed is not None and stop_kind is None:
            host, code = failed
            raise _Failed(self._failure_reason(layouts[host], host, code,
                                               handles[host].last_lines(host)))
        return stop_kind

    @staticmethod
    def _failure_reason(layout: HostLayout, host: str, code: int, last_lines: list[str]) -> str:
        try:
            text = layout.failure_file.read_text(errors="replace")
        except OSError:
            text = ""
        if text.strip():
            return text[:FAILURE_REASON_CHARS]
        return (f"AlgorithmError: {host} {describe_returncode(code)}. "
                f"{quote_lines(last_lines)}")

    # -- uploading ----------------------------------------------------------------------

    def _upload(self, request: TrainingRequest, name: str, layouts: list[HostLayout]) -> None:
        location = join_location(request.output_path, name, "output")
        remote = is_s3_uri(location)
        if remote:
            if self.objects is None:
                raise _Failed(f"ClientError: {location}: no object store is configured here")
            target = layouts[0].root.parent / "upload"
        else:
            target = local_path(location, request.base_dir, field="OutputDataConfig.S3OutputPath")
        target.mkdir(parents=True, exist_ok=True)
        archives = [target / "model.tar.gz"]
        _pack([layout.model_dir for layout in layouts], archives[0])
        data_dirs = [layout.output_data_dir for layout in layouts]
        if any(any(d.iterdir()) for d in data_dirs if d.is_dir()):
            archives.append(target / "output.tar.gz")
            _pack(data_dirs, archives[1])
        if remote and self.objects is not None:
            for archive in archives:
                self.objects.publish(archive, join_location(location, archive.name))


_TERMINAL = frozenset({"Completed", "Failed", "Stopped", "MaxRuntimeExceeded"})


def _trace(tracer: RequestTracer, job: TrainingJob) -> None:
    """The job's span, with a child per secondary status it passed through (Downloading,
    Training, Uploading...), timed as SecondaryStatusTransitions shows them."""
    if not job.transitions:
        return
    trace = JobTrace(tracer)
    name = ("tandem.training_job.name", job.name)
    for transition in job.transitions:
        if transition.status in _TERMINAL or transition.end_time is None:
            continue
        trace.child(transition.status, SpanKind.INTERNAL, seconds_ns(transition.start_time),
                    seconds_ns(transition.end_time),
                    [name, ("tandem.secondary_status", transition.status)])
    end = job.transitions[-1].end_time or job.transitions[-1].start_time
    trace.finish("TrainingJob", seconds_ns(job.transitions[0].start_time), seconds_ns(end),
                 [name, ("tandem.training_job.status", job.status.value),
                  ("tandem.instance.count", job.request.instance_count)],
                 error=job.failure_reason if job.status is JobStatus.FAILED else None)


# What a host elsewhere sends back once it exited, relative to its root: what ``_upload``
# packs, what ``_failure_reason`` reads and what the last checkpoint pass uploads.
_OUTPUTS = ("model", "output/data", "output/failure")
_OUTPUTS_WITH_CHECKPOINTS = (*_OUTPUTS, "checkpoints")


def _carried_image(layout: HostLayout) -> Path:
    """Where a host on another machine finds the local image directory it was carried."""
    return layout.root / "image"


def _pack_tree(directory: Path, archive: Path, skipped: set[str] | None = None) -> Path:
    """``directory``'s tree as a gzipped tarball, every symbolic link followed (channels link
    to the user's files, the code dir to the unpacked code): the node has none of them.
    ``skipped`` names relative paths left out, with all below them."""

    def keep(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if member.name in (skipped or ()) else member

    with tarfile.open(archive, "w:gz", dereference=True) as tar:
        for entry in sorted(directory.iterdir()):
            tar.add(entry, arcname=entry.name, filter=keep)
    return archive


def _pack(directories: list[Path], archive: Path) -> None:
    """One gzipped tarball of the directories' files (the first directory wins a name clash),
    written to a temporary name and renamed, so a reader never sees half an archive."""
    tmp = archive.with_name(f".{archive.name}.tmp")
    seen: set[str] = set()
    with tarfile.open(tmp, "w:gz") as tar:
        for directory in directories:
            if not directory.is_dir():
                continue
            for root, dirs, files in os.walk(directory):
                dirs.sort()
                for name in sorted(files):
                    path = Path(root) / name
                    arcname = path.relative_to(directory).as_posix()
                    if arcname not in seen:
                        seen.add(arcname)
                        tar.add(path, arcname=arcname, recursive=False)
    os.replace(tmp, archive)
