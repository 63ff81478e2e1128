"""The job manager: training jobs, transform jobs and notebook instances behind one object.

The API layer calls it; it validates requests, keeps the live records, runs each job as an
owned task, and keeps every finished job's description in the catalogue so it survives a
restart (a job that was running when the server stopped is reported Failed, as SageMaker
reports a job whose instances were lost). A job name is claimed through the catalogue's atomic
create, so two servers sharing a store cannot both take it. ``stop`` stops everything it started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..errors import ValidationException
from ..serving.catalog import AlreadyExists
from ..serving.errors import ResourceInUse
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
_LOST = "The tandem server stopped while the job was running."
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

    def arn(self, resource: str, name: str) -> str:
        return make_arn(self.region, self.account_id, resource, name)

    async def start(self) -> None:
        """Load finished jobs from the catalogue (jobs left running by a dead server failed) and
        the notebook instances (those that were running start again)."""
        if self._on_start is not None:
            await self._on_start()
        await self.notebooks.restore()
        if self.catalog is None:
            return
        for kind in (_TRAINING, _TRANSFORM):
            for document in await asyncio.to_thread(self.catalog.list, kind):
                describe, summary = document["describe"], document["summary"]
                status_key = "TrainingJobStatus" if kind == _TRAINING else "TransformJobStatus"
                if describe[status_key] in ("InProgress", "Stopping"):
                    describe[status_key] = summary[status_key] = "Failed"
                    describe["FailureReason"] = _LOST
                    if kind == _TRAINING:
                        describe["SecondaryStatus"] = summary["SecondaryStatus"] = "Failed"
                    await asyncio.to_thread(self.catalog.put, kind, summary[_name_key(kind)],
                                            document)
                self._archived[kind][summary[_name_key(kind)]] = document

    async def stop(self) -> None:
        jobs: list[TrainingJob | TransformJob] = [*self._training.values()]
        jobs.extend(self._transform.values())
        for job in jobs:
            job.stop_requested.set()
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

    async def _persist(self, kind: str, name: str, job: TrainingJob | TransformJob) -> None:
        """Write the job's record to the catalogue (on a worker thread, after any earlier write,
        so the last state written is the last one seen)."""
        if self.catalog is None:
            return
        document = {"describe": job.describe(), "summary": job.summary()}
        self._archived[kind][name] = document
        previous, done = self._last_write, asyncio.get_running_loop().create_future()
        self._last_write = done
        try:
            if previous is not None:
                await previous
            await asyncio.to_thread(self.catalog.put, kind, name, document)
        except Exception:  # noqa: BLE001 - the live record still answers; logged
            _log.exception("could not persist %s %s", kind, name)
        finally:
            done.set_result(None)

    def _persist_later(self, kind: str, name: str, job: TrainingJob | TransformJob) -> None:
        """``_persist`` from a synchronous status callback on the loop."""
        self._spawn(self._persist(kind, name, job), f"persist {kind} {name}")

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
        document = {"describe": job.describe(), "summary": job.summary()}
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

        def changed(j: TrainingJob) -> None:
            if j.status.terminal:
                self._persist_later(_TRAINING, j.name, j)

        self._spawn(self.training_runner.run(job, changed), f"training {request.name}")
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


def _name_key(kind: str) -> str:
    return "TrainingJobName" if kind == _TRAINING else "TransformJobName"


