"""The job manager: training jobs, transform jobs and notebook instances behind one object.

The API layer calls it; it validates requests, keeps the live records, runs each job as an
owned task, and keeps every job's description in the catalogue (a running training job's at
each change, with what re-attaching to its hosts takes) so it survives a restart. A job name
is claimed through the catalogue's atomic create, so two servers sharing a store cannot both
take it.

When the server stops or dies while a job runs: a training job whose hosts all run on a
launcher that outlives the server (Ray's) is left running, and the next server to start on the
store (this one again, or a new leader) re-attaches to it and drives it to its end. Any other
job fails, its FailureReason saying why: on the local launcher the hosts were the server's own
processes and ended with it; a transform job's requests come from the server that ran it.
``stop`` stops everything it started, except the hosts it leaves running for the next server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..errors import TandemError, ValidationException
from ..serving.catalog import AlreadyExists
from ..serving.errors import ResourceInUse
from ..serving.launcher import HostsLost, HostSlot, InstanceStartFailed
from ..serving.model import arn as make_arn
from .notebooks import NotebookService
from .records import JobStatus
from .training import TrainingJob, TrainingRunner
from .training_request import parse_training_request
from .transform import TransformJob, TransformRunner
from .transform_request import parse_transform_request

__all__ = ["JobManager"]

_log = logging.getLogger(__name__)
_TRAINING, _TRANSFORM = "training-job", "transform-job"
# FailureReasons of a job the server could not see to its end.
_LOCAL_HOSTS = ("its hosts were processes of that server (launcher local), which end with it, "
                "so no server can re-attach to them.")
_RESTARTED_LOCAL = "The tandem server restarted while the job ran: " + _LOCAL_HOSTS
_STOPPED_LOCAL = "The tandem server stopped while the job ran: " + _LOCAL_HOSTS
_RESTARTED_PHASE = ("The tandem server restarted while the job was in secondary status "
                    "{phase}: only a job whose hosts had all started (Training) is re-attached.")
_STOPPED_PHASE = ("The tandem server stopped while the job was in secondary status {phase}: "
                  "only a job whose hosts had all started (Training) is left running for the "
                  "next server.")
_TRANSFORM_WHY = ("a transform job's records are sent to its instances by the server that "
                  "runs it, and its instances end with that server.")
_RESTARTED_TRANSFORM = "The tandem server restarted while the job ran: " + _TRANSFORM_WHY
_STOPPED_TRANSFORM = "The tandem server stopped while the job ran: " + _TRANSFORM_WHY
_TRAINING_TAKEN = ("Training job names must be unique within an AWS account and region, and a "
                   "training job with this name already exists ({arn})")
_TRANSFORM_TAKEN = ("Job name must be unique within an AWS account and region, and a job with "
                    "this name already exists ({arn})")


class JobManager:
    def __init__(
        self,
        *,
        training: TrainingRunner,
        transform: TransformRunner,
        notebooks: NotebookService,
        catalog: Any = None,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        clock: Clock | None = None,
        on_start: Callable[[], Awaitable[None]] | None = None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.training_runner = training
        self.transform_runner = transform
        self.notebooks = notebooks
        self.catalog = catalog
        self.region = region
        self.account_id = account_id
        self.clock = clock or SystemClock()
        self._on_start = on_start
        self._on_stop = on_stop
        self._training: dict[str, TrainingJob] = {}
        self._transform: dict[str, TransformJob] = {}
        self._archived: dict[str, dict[str, dict[str, Any]]] = {_TRAINING: {}, _TRANSFORM: {}}
        self._tasks: set[asyncio.Future[None]] = set()
        self._last_write: asyncio.Future[None] | None = None
        # (kind, name) of the jobs whose next write is queued and not yet built.
        self._queued: set[tuple[str, str]] = set()
        # Each training job's run, which ``stop`` cancels to leave its hosts running.
        self._runs: dict[str, asyncio.Future[None]] = {}

    def arn(self, resource: str, name: str) -> str:
        return make_arn(self.region, self.account_id, resource, name)

    async def start(self) -> None:
        """Load the jobs from the catalogue: a training job left running by a stopped or dead
        server is re-attached where its hosts outlive the server, any other one fails (saying
        why); and the notebook instances (those that were running start again)."""
        if self._on_start is not None:
            await self._on_start()
        await self.notebooks.restore()
        if self.catalog is None:
            return
        for kind in (_TRAINING, _TRANSFORM):
            for document in await asyncio.to_thread(self.catalog.list, kind):
                describe, summary = document["describe"], document["summary"]
                name = summary[_name_key(kind)]
                status_key = "TrainingJobStatus" if kind == _TRAINING else "TransformJobStatus"
                if describe[status_key] in ("InProgress", "Stopping"):
                    if kind == _TRAINING and await self._resume_training(name, document):
                        continue
                    now = self.clock.time()
                    describe[status_key] = summary[status_key] = "Failed"
                    describe["FailureReason"] = self._lost_reason(kind, describe)
                    describe["LastModifiedTime"] = summary["LastModifiedTime"] = now
                    if kind == _TRAINING:
                        _fail_transitions(describe, now)
                        summary["SecondaryStatus"] = "Failed"
                    document.pop("resume", None)
                    await asyncio.to_thread(self.catalog.put, kind, name, document)
                self._archived[kind][name] = document

    def _lost_reason(self, kind: str, describe: dict[str, Any]) -> str:
        if kind == _TRANSFORM:
            return _RESTARTED_TRANSFORM
        if not self.training_runner.reattaches:
            return _RESTARTED_LOCAL
        return _RESTARTED_PHASE.format(phase=describe.get("SecondaryStatus", "Starting"))

    async def _resume_training(self, name: str, document: dict[str, Any]) -> bool:
        """Re-attach to the hosts of a training job a previous server left running, and drive
        it on; False where it cannot be (the job then fails), after releasing what is left of
        its hosts."""
        runner, resume = self.training_runner, document.get("resume")
        if not runner.reattaches or not isinstance(resume, dict):
            return False
        describe = document["describe"]
        if not (resume.get("hosts_started") and describe.get("SecondaryStatus") == "Training"):
            await self._release_left(name, resume)
            return False
        try:
            request = await asyncio.to_thread(parse_training_request, resume["request"],
                                              Path(resume["base_dir"]))
            job = TrainingJob.restore(request, describe, resume)
        except (TandemError, KeyError, TypeError, ValueError):
            _log.exception("training job %s: its record cannot be resumed", name)
            await self._release_left(name, resume)
            return False
        _log.info("training job %s: re-attaching to its %d hosts", name, len(job.hosts))
        self._training[name] = job
        self._archived[_TRAINING][name] = document
        self._run_training(job, runner.resume(job, self._training_changed))
        return True

    async def _release_left(self, name: str, resume: dict[str, Any]) -> None:
        """Stop and release whatever is left of a job's hosts (those reserved, or started and
        not yet released) that will not be re-attached."""
        try:
            slots = [HostSlot(**h) for h in resume.get("hosts", [])]
            if not slots:
                return
            launcher = self.training_runner.launcher
            scratch = {slot.instance_id: Path(self.training_runner.jobs_dir) / "training" / name
                       / slot.host_name for slot in slots}  # fmt: skip
            await launcher.reattach_hosts(name, slots, scratch)
            await launcher.release_hosts(slots)
        except (HostsLost, InstanceStartFailed):
            pass  # gone already, with their placement
        except Exception:  # noqa: BLE001 - what is left is logged; the job fails regardless
            _log.exception("training job %s: its hosts could not be released", name)

    async def stop(self) -> None:
        """Stop every job, except the training jobs whose hosts outlive the server: those are
        left running, their last state written, for the next server to re-attach to."""
        reattaches = self.training_runner.reattaches
        for job in self._training.values():
            if job.status is not JobStatus.IN_PROGRESS:
                continue  # a stop under way (the user's) or over
            if reattaches and job.hosts_started and job.secondary_status == "Training":
                job.detached = True
                self._persist_later(_TRAINING, job.name, job)
                run = self._runs.get(job.name)
                if run is not None:
                    run.cancel()
                continue
            job.server_stopped = (_STOPPED_PHASE.format(phase=job.secondary_status)
                                  if reattaches else _STOPPED_LOCAL)
            job.stop_requested.set()
        for transform in self._transform.values():
            if transform.status is JobStatus.IN_PROGRESS:
                transform.server_stopped = _STOPPED_TRANSFORM
            transform.stop_requested.set()
        # Until none is left: a job that ends now spawns the write of its last state.
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.notebooks.close()
        if self._on_stop is not None:
            await self._on_stop()

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Future[None]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    def _document(job: TrainingJob | TransformJob) -> dict[str, Any]:
        document: dict[str, Any] = {"describe": job.describe(), "summary": job.summary()}
        if isinstance(job, TrainingJob) and not job.status.terminal:
            document["resume"] = job.resume_record()
        return document

    async def _persist(self, kind: str, name: str, job: TrainingJob | TransformJob) -> None:
        """Write the job's record, as it is when the write starts, to the catalogue (on a
        worker thread, after any earlier write, so the last state written is the last one
        seen)."""
        if self.catalog is None:
            return
        previous, done = self._last_write, asyncio.get_running_loop().create_future()
        self._last_write = done
        try:
            if previous is not None:
                await previous
            # From here a later change queues a write of its own.
            self._queued.discard((kind, name))
            document = self._document(job)
            self._archived[kind][name] = document
            await asyncio.to_thread(self.catalog.put, kind, name, document)
        except Exception:  # noqa: BLE001 - the live record still answers; logged
            _log.exception("could not persist %s %s", kind, name)
        finally:
            done.set_result(None)

    def _persist_later(self, kind: str, name: str, job: TrainingJob | TransformJob) -> None:
        """``_persist`` from a synchronous status callback on the loop; changes that come
        while a write of the job is queued are in that write (a metric per log line makes
        one write at a time, not one each)."""
        if (kind, name) in self._queued:
            return
        self._queued.add((kind, name))
        self._spawn(self._persist(kind, name, job), f"persist {kind} {name}")

    def _training_changed(self, job: TrainingJob) -> None:
        self._persist_later(_TRAINING, job.name, job)

    def _run_training(self, job: TrainingJob, run: Awaitable[None]) -> None:
        task = self._spawn(run, f"training {job.name}")
        self._runs[job.name] = task
        task.add_done_callback(lambda _: self._runs.pop(job.name, None))

    def _taken(self, kind: str, name: str) -> bool:
        live = self._training if kind == _TRAINING else self._transform
        lowered = name.lower()
        return any(n.lower() == lowered for n in (*live, *self._archived[kind]))

    async def _claim(self, kind: str, name: str, job: TrainingJob | TransformJob) -> bool:
        """Write the new job's first record only if no job of that name exists in the
        catalogue: its atomic create decides between servers (and calls) racing for a name,
        where ``_taken`` knows only this server's jobs. False if the name is taken."""
        if self.catalog is None:
            return True
        document = self._document(job)
        try:
            await asyncio.to_thread(self.catalog.put, kind, name, document, create=True)
        except AlreadyExists:
            return False
        self._archived[kind][name] = document
        return True

    # -- training -----------------------------------------------------------------------

    async def create_training_job(self, body: dict[str, Any], base_dir: Path | None = None) -> str:
        request = await asyncio.to_thread(parse_training_request, body, base_dir or Path.cwd())
        arn = self.arn("training-job", request.name)
        if self._taken(_TRAINING, request.name):
            raise ResourceInUse(_TRAINING_TAKEN.format(arn=arn))
        now = self.clock.time()
        job = TrainingJob(request, arn, now, last_modified_time=now)
        if not await self._claim(_TRAINING, request.name, job):
            raise ResourceInUse(_TRAINING_TAKEN.format(arn=arn))
        self._training[request.name] = job
        self._run_training(job, self.training_runner.run(job, self._training_changed))
        return arn

    def training_job(self, name: Any) -> TrainingJob | None:
        return self._training.get(name) if isinstance(name, str) else None

    def describe_training_job(self, name: Any) -> dict[str, Any]:
        job = self.training_job(name)
        if job is not None:
            return job.describe()
        document = self._archived[_TRAINING].get(name) if isinstance(name, str) else None
        if document is None:
            raise ValidationException("Requested resource not found.")
        return dict(document["describe"])

    def list_training_jobs(self) -> list[dict[str, Any]]:
        out = {n: d["summary"] for n, d in self._archived[_TRAINING].items()}
        out.update({n: j.summary() for n, j in self._training.items()})
        return list(out.values())

    def stop_training_job(self, name: Any) -> None:
        job = self.training_job(name)
        if job is None:
            self.describe_training_job(name)  # not found -> ValidationException
            raise ValidationException(f"The training job {name} is not in progress.")
        if job.status is not JobStatus.IN_PROGRESS:
            raise ValidationException(f"The request was rejected because the training job is "
                                      f"in status {job.status.value}.")
        job.status = JobStatus.STOPPING
        job.stop_requested.set()
        self._training_changed(job)  # a server re-attaching to it stops it, too

    # -- transform ----------------------------------------------------------------------

    async def create_transform_job(self, body: dict[str, Any],
                                   base_dir: Path | None = None) -> str:
        request = await asyncio.to_thread(parse_transform_request, body, base_dir or Path.cwd())
        arn = self.arn("transform-job", request.name)
        if self._taken(_TRANSFORM, request.name):
            raise ResourceInUse(_TRANSFORM_TAKEN.format(arn=arn))
        await self.transform_runner.model_lookup(request.model_name)  # not found -> error now
        now = self.clock.time()
        job = TransformJob(request, arn, now, last_modified_time=now)
        if not await self._claim(_TRANSFORM, request.name, job):
            raise ResourceInUse(_TRANSFORM_TAKEN.format(arn=arn))
        self._transform[request.name] = job

        def changed(j: TransformJob) -> None:
            j.last_modified_time = self.clock.time()
            if j.status.terminal:
                self._persist_later(_TRANSFORM, j.name, j)

        self._spawn(self.transform_runner.run(job, changed), f"transform {request.name}")
        return arn

    def describe_transform_job(self, name: Any) -> dict[str, Any]:
        job = self._transform.get(name) if isinstance(name, str) else None
        if job is not None:
            return job.describe()
        document = self._archived[_TRANSFORM].get(name) if isinstance(name, str) else None
        if document is None:
            raise ValidationException(f"Could not find requested job with name {name}")
        return dict(document["describe"])

    def list_transform_jobs(self) -> list[dict[str, Any]]:
        out = {n: d["summary"] for n, d in self._archived[_TRANSFORM].items()}
        out.update({n: j.summary() for n, j in self._transform.items()})
        return list(out.values())

    def stop_transform_job(self, name: Any) -> None:
        job = self._transform.get(name) if isinstance(name, str) else None
        if job is None:
            self.describe_transform_job(name)
            raise ValidationException(f"The transform job {name} is not in progress.")
        if job.status is JobStatus.IN_PROGRESS:
            job.status = JobStatus.STOPPING
            job.stop_requested.set()


def _fail_transitions(describe: dict[str, Any], now: float) -> None:
    """A recorded training job's SecondaryStatusTransitions ended by a Failed one at ``now``."""
    transitions = describe.setdefault("SecondaryStatusTransitions", [])
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    transitions.append({"Status": "Failed", "StartTime": now, "EndTime": now,
                        "StatusMessage": "Training job failed"})
    describe["SecondaryStatus"] = "Failed"


def _name_key(kind: str) -> str:
    return "TrainingJobName" if kind == _TRAINING else "TransformJobName"


