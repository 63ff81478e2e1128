"""Batch transform jobs: a Model (pipelines included) run over input files.

``TransformRunner.run`` starts TransformResources.InstanceCount instances of the model through
a ``Launcher`` (each instance = one process per container, /ping-checked, logs and usage
captured by the instance agent), gives each instance its share of the input files, splits each
file into records, packs them into mini-batches, sends each through the containers in order
(Serial: each response is the next request) with at most MaxConcurrentTransforms requests in
flight, and writes ``<output>/<relative>.out`` under a temporary name, renamed when the file is
complete. A container's error fails the job with a FailureReason naming the file; the
instance's data-log stream says which file and why, as SageMaker's does.

Logs (``/aws/sagemaker/TransformJobs``): ``<job>/<instance-id>-<epoch>`` for a one-container
model, ``<job>/<instance-id>-<epoch>/<container>`` per container of a pipeline, and
``<job>/<instance-id>-<epoch>/data-log``. Instance metrics: ``/aws/sagemaker/TransformJobs``,
``Host=<job>/<instance-id>``, without DiskUtilization.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from ..clock import Clock, SystemClock
from ..errors import TandemError
from ..objects.locations import ObjectLocations, is_s3_uri, staged_uri
from ..serving.launcher import (
    InstanceHandle,
    InstanceSpec,
    InstanceStartFailed,
    Launcher,
    new_instance_id,
)
from ..serving.model import ExecutionMode, Model
from ..telemetry.logs import LogService
from ..telemetry.tracing import AttributeValue, SpanKind, Tracing, new_span_id
from ..telemetry.tracing.jobs import JobTrace, seconds_ns
from .locations import join_location
from .records import JobStatus
from .transform_io import (
    InputFile,
    RecordError,
    assemble,
    join_records,
    list_input_files,
    plan_batches,
    read_payload,
    split_records,
    split_response,
)
from .transform_request import TransformRequest

__all__ = ["TransformJob", "TransformRunner", "TRANSFORM_LOG_GROUP",
           "TRANSFORM_NAMESPACE", "PlanContainers"]

TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
TRANSFORM_NAMESPACE = "/aws/sagemaker/TransformJobs"
_DEFAULTS = {"MaxConcurrentTransforms": 1, "MaxPayloadInMB": 6, "BatchStrategy": "MultiRecord"}
_WIRE_STRATEGY = {"MultiRecord": "MULTI_RECORD", "SingleRecord": "SINGLE_RECORD"}
_FROM_WIRE_STRATEGY = {v: k for k, v in _WIRE_STRATEGY.items()}

# (model, base_dir, work_dir, extra environment) -> one ContainerSpec per container
PlanContainers = Callable[[Model, Path, Path, dict[str, str]], list[Any]]


@dataclasses.dataclass(eq=False)
class TransformJob:
    request: TransformRequest
    arn: str
    creation_time: float
    status: JobStatus = JobStatus.IN_PROGRESS
    failure_reason: str | None = None
    last_modified_time: float = 0.0
    start_time: float | None = None
    end_time: float | None = None
    log_epoch: int = 0
    instance_ids: list[str] = dataclasses.field(default_factory=list)
    files_total: int = 0
    files_done: int = 0
    records_total: int = 0
    records_done: int = 0
    effective: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Where an input file came from, as errors name it (its s3:// URI when staged).
    input_name: Callable[[Path], str] = str
    stop_requested: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # Set by the server as it stops: the FailureReason the job ends with (not Stopped).
    server_stopped: str | None = None
    trace: JobTrace | None = dataclasses.field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.request.name

    def describe(self) -> dict[str, Any]:
        raw = self.request.raw
        out: dict[str, Any] = {
            "TransformJobName": self.name, "TransformJobArn": self.arn,
            "TransformJobStatus": self.status.value, "ModelName": self.request.model_name,
            "TransformInput": raw["TransformInput"], "TransformOutput": raw["TransformOutput"],
            "TransformResources": raw["TransformResources"], "CreationTime": self.creation_time,
            # Not an AWS member (boto3 drops it): what the CLI's progress bar shows.
            "TandemProgress": {"FilesTotal": self.files_total, "FilesDone": self.files_done,
                               "RecordsTotal": self.records_total,
                               "RecordsDone": self.records_done},
        }
        for key in ("MaxConcurrentTransforms", "MaxPayloadInMB", "BatchStrategy"):
            value = raw.get(key, self.effective.get(key))
            if value is not None:
                out[key] = value
        for key in ("Environment", "DataProcessing", "ModelClientConfig", "DataCaptureConfig",
                    "ExperimentConfig"):
            if key in raw:
                out[key] = raw[key]
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.start_time is not None:
            out["TransformStartTime"] = self.start_time
        if self.end_time is not None:
            out["TransformEndTime"] = self.end_time
        return out

    def summary(self) -> dict[str, Any]:
        out = {"TransformJobName": self.name, "TransformJobArn": self.arn,
               "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time,
               "TransformJobStatus": self.status.value}
        if self.end_time is not None:
            out["TransformEndTime"] = self.end_time
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        return out


class _FileFailed(Exception):
    def __init__(self, file: str, what: str, body_lines: Sequence[str] = ()) -> None:
        super().__init__(what)
        self.file = file
        self.what = what
        self.body_lines = list(body_lines)


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


class TransformRunner:
    def __init__(
        self,
        *,
        launcher: Launcher,
        logs: LogService,
        jobs_dir: Path,
        model_lookup: Callable[[str], Awaitable[tuple[Model, Path]]],
        plan_containers: PlanContainers,
        clock: Clock | None = None,
        health_check_timeout: float = 480.0,
        ping_interval: float = 2.0,
        ping_timeout: float = 2.0,
        stop_grace_period: float = 30.0,
        tracing: Tracing | None = None,
        objects: ObjectLocations | None = None,
    ) -> None:
        self.tracing = tracing
        self.objects = objects
        self.launcher = launcher
        self.logs = logs
        self.jobs_dir = Path(jobs_dir)
        self.model_lookup = model_lookup
        self.plan_containers = plan_containers
        self.clock = clock or SystemClock()
        self.health_check_timeout = health_check_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.stop_grace_period = stop_grace_period

    def _objects(self) -> ObjectLocations:
        if self.objects is None:
            raise _JobError("s3:// locations: no object store is configured here")
        return self.objects

    def _write(self, output: Path | str, relative: str, job_name: str, data: bytes) -> None:
        """``<output>/<relative>.out``: a file, or an object published from a staged file."""
        if isinstance(output, Path):
            _write_output(output, relative, job_name, data)
            return
        staging = self.jobs_dir / "transform" / job_name / "out"
        _write_output(staging, relative, job_name, data)
        self._objects().publish(staging / f"{relative}.out",
                                join_location(output, f"{relative}.out"))

    def stream_prefix(self, job: TransformJob, instance_id: str) -> str:
        return f"{job.name}/{instance_id}-{job.log_epoch}"

    async def _data_log(self, job: TransformJob, instance_id: str, lines: Sequence[str]) -> None:
        stream = f"{self.stream_prefix(job, instance_id)}/data-log"
        now = self.clock.time()
        await self.logs.write(TRANSFORM_LOG_GROUP, stream,
                              [(int(now * 1000), f"{_iso(now)}:[sagemaker logs]: {line}")
                               for line in lines])

    async def run(self, job: TransformJob, on_change: Callable[[TransformJob], None]) -> None:
        request = job.request
        job.log_epoch = int(self.clock.time())
        job.start_time = self.clock.time()
        if self.tracing is not None:
            job.trace = JobTrace(self.tracing.tracer)
        on_change(job)
        handles: list[InstanceHandle] = []
        work = None
        try:
            model, base_dir = await self.model_lookup(request.model_name)
            if model.mode is ExecutionMode.DIRECT:
                raise _JobError(f"Model {model.name} uses Direct invocation; batch transform "
                                "runs Serial models")
            input_uri = request.input_uri
            if is_s3_uri(input_uri):
                staged = await asyncio.to_thread(
                    self._objects().stage, input_uri, self.jobs_dir / "transform" / job.name)
                input_uri = str(staged)
                job.input_name = functools.partial(staged_uri, request.input_uri, staged)
            scratch = self.jobs_dir / "transform" / job.name
            files = await asyncio.to_thread(
                list_input_files, input_uri, request.data_type, request.base_dir,
                stage=lambda uri: str(self._objects().stage(uri, scratch)))
            job.files_total = len(files)
            job.records_total = await asyncio.to_thread(_count_records, request, files)
            on_change(job)
            count = min(request.instance_count, len(files))
            ids = [new_instance_id() for _ in range(request.instance_count)]
            job.instance_ids = ids
            starts = [self._start(job, model, base_dir, iid) for iid in ids]
            results = await asyncio.gather(*starts, return_exceptions=True)
            handles = [r for r in results if isinstance(r, InstanceHandle)]
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise errors[0]
            shares = [files[k::count] for k in range(count)]
            work = asyncio.gather(*(self._instance(job, handles[k], model, shares[k], on_change)
                                    for k in range(count)))
            stop = asyncio.create_task(job.stop_requested.wait())
            waiting: set[asyncio.Future[Any]] = {work, stop}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if work in done:
                stop.cancel()
                work.result()
                self._finish(job, JobStatus.COMPLETED)
            else:
                job.status = JobStatus.STOPPING
                on_change(job)
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                if job.server_stopped is not None:
                    self._finish(job, JobStatus.FAILED, job.server_stopped)
                else:
                    self._finish(job, JobStatus.STOPPED)
        except _FileFailed as failed:
            self._finish(job, JobStatus.FAILED,
                         f"AlgorithmError: {failed.file}: {failed.what}. See the data-log "
                         f"stream in {TRANSFORM_LOG_GROUP} for more information.")
        except InstanceStartFailed as exc:
            self._finish(job, JobStatus.FAILED, f"ClientError: the model {request.model_name} "
                         f"did not start: {exc.reason}")
        except (_JobError, TandemError) as exc:
            self._finish(job, JobStatus.FAILED, f"ClientError: {exc}")
        except Exception as exc:  # noqa: BLE001 - any surprise fails this job, with its reason
            self._finish(job, JobStatus.FAILED, f"InternalServerError: {exc}")
        finally:
            if work is not None and not work.done():
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
            await asyncio.gather(*(self.launcher.stop_instance(h.instance_id) for h in handles),
                                 return_exceptions=True)
            await self.logs.flush()
            if job.trace is not None:
                job.trace.finish("TransformJob", seconds_ns(job.start_time or job.creation_time),
                                 seconds_ns(job.end_time or self.clock.time()),
                                 [("tandem.transform_job.name", job.name),
                                  ("tandem.transform_job.status", job.status.value)],
                                 error=job.failure_reason)
            on_change(job)

    def _finish(self, job: TransformJob, status: JobStatus, reason: str | None = None) -> None:
        job.status = status
        job.failure_reason = reason[:1024] if reason else None
        job.end_time = job.last_modified_time = self.clock.time()

    async def _start(self, job: TransformJob, model: Model, base_dir: Path,
                     instance_id: str) -> InstanceHandle:
        request = job.request
        env = {"SAGEMAKER_BATCH": "true"}
        if request.max_payload_mb is not None:
            env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(request.max_payload_mb)
        if request.batch_strategy is not None:
            env["SAGEMAKER_BATCH_STRATEGY"] = _WIRE_STRATEGY[request.batch_strategy]
        if request.max_concurrent is not None:
            env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(request.max_concurrent)
        # The job's own Environment wins over the derived values (set explicitly, meant).
        env.update(request.environment)
        work_dir = self.jobs_dir / "transform" / job.name / instance_id
        containers = await asyncio.to_thread(self.plan_containers, model, base_dir, work_dir, env)
        tracing = self.tracing
        if tracing is not None:
            containers = [dataclasses.replace(c, env=tracing.with_environment(
                c.env, tracing.container_environment(c.name))) for c in containers]
        prefix = self.stream_prefix(job, instance_id)
        spec = InstanceSpec(
            instance_id=instance_id, endpoint_name=job.name, variant_name=job.name,
            containers=tuple(containers), log_group=TRANSFORM_LOG_GROUP,
            log_stream_prefix=prefix, usage_namespace=TRANSFORM_NAMESPACE,
            usage_dimension_sets=({"Host": f"{job.name}/{instance_id}"},), work_dir=work_dir,
            health_check_timeout=self.health_check_timeout, ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout, stop_grace_period=self.stop_grace_period,
            single_stream=len(containers) == 1, disk_usage=False,
            instance_type=request.instance_type,
        )
        await asyncio.to_thread(self.logs.ensure_log_stream, TRANSFORM_LOG_GROUP,
                                f"{prefix}/data-log")
        return await self.launcher.start_instance(spec)

    async def _parameters(self, session: aiohttp.ClientSession, url: str,
                          request: TransformRequest) -> dict[str, Any]:
        """CreateTransformJob values, else the container's /execution-parameters, else defaults."""
        offered: dict[str, Any] = {}
        try:
            async with session.get(url + "/execution-parameters",
                                   timeout=aiohttp.ClientTimeout(total=self.ping_timeout)) as r:
                if r.status == 200:
                    document = await r.json(content_type=None)
                    if isinstance(document, dict):
                        offered = document
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        # A container may offer anything: only text can name a strategy.
        strategy = offered.get("BatchStrategy")
        strategy = strategy if isinstance(strategy, str) else ""
        chosen: dict[str, Any] = {
            "MaxConcurrentTransforms": request.max_concurrent
            if request.max_concurrent is not None else offered.get("MaxConcurrentTransforms"),
            "MaxPayloadInMB": request.max_payload_mb
            if request.max_payload_mb is not None else offered.get("MaxPayloadInMB"),
            "BatchStrategy": request.batch_strategy
            or _FROM_WIRE_STRATEGY.get(strategy, strategy if strategy in _WIRE_STRATEGY else None),
        }
        for key, default in _DEFAULTS.items():
            value = chosen[key]
            valid = (value in _WIRE_STRATEGY if key == "BatchStrategy"
                     else isinstance(value, int) and not isinstance(value, bool) and value >= 0)
            if not valid:
                chosen[key] = default
        chosen["MaxConcurrentTransforms"] = max(1, chosen["MaxConcurrentTransforms"])
        return chosen

    async def _instance(self, job: TransformJob, handle: InstanceHandle, model: Model,
                        files: list[InputFile], on_change: Callable[[TransformJob], None]) -> None:
        request = job.request
        urls = [f"http://{handle.host}:{handle.ports[c.hostname]}" for c in model.containers]
        timeout = aiohttp.ClientTimeout(total=request.timeout)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            params = await self._parameters(session, urls[0], request)
            job.effective = params
            await self._data_log(job, handle.instance_id, [
                f"MaxConcurrentTransforms={params['MaxConcurrentTransforms']}, "
                f"MaxPayloadInMB={params['MaxPayloadInMB']}, "
                f"BatchStrategy={_WIRE_STRATEGY[params['BatchStrategy']]}"])
            limit = asyncio.Semaphore(params["MaxConcurrentTransforms"])
            invoke = [url + "/invocations" for url in urls]
            for item in files:
                try:
                    await self._file(job, session, invoke, item, params, limit,
                                     handle.instance_id)
                except _FileFailed as failed:
                    await self._data_log(job, handle.instance_id,
                                         [f"{failed.file}: {failed.what}"] +
                                         [f"{failed.file}: {line}" for line in failed.body_lines])
                    raise
                job.files_done += 1
                job.last_modified_time = self.clock.time()

    async def _file(self, job: TransformJob, session: aiohttp.ClientSession, urls: list[str],
                    item: InputFile, params: dict[str, Any], limit: asyncio.Semaphore,
                    instance_id: str) -> None:
        request = job.request
        processor = request.processor
        label = job.input_name(item.path)
        try:
            data = await asyncio.to_thread(read_payload, item.path, request.compression)
            records = originals = split_records(data, request.split_type)
            if processor.filters_input:
                records = [processor.filter_input(r) for r in records]
            batches = plan_batches([len(r) for r in records], params["BatchStrategy"],
                                   params["MaxPayloadInMB"])
        except (RecordError, OSError) as exc:
            raise _FileFailed(label, f"ClientError: {exc}") from None
        except UnicodeDecodeError as exc:
            raise _FileFailed(label, f"ClientError: a record is not UTF-8 text: {exc}") from None

        async def one(batch: range) -> bytes:
            chunk = [records[i] for i in batch]
            span_id = new_span_id()
            async with limit:
                payload = join_records(chunk, request.split_type)
                if job.trace is None:
                    body = await self._invoke(session, urls, payload, request, label)
                else:
                    body = await _traced(job.trace, self._invoke(
                        session, urls, payload, request, label, job.trace.traceparent(span_id)),
                        span_id, [("tandem.transform_job.name", job.name),
                                  ("tandem.instance.id", instance_id),
                                  ("tandem.input.file", item.relative),
                                  ("tandem.record.count", len(chunk))])
            job.records_done += len(batch)
            if not processor.per_record_output:
                return body
            try:
                outputs = split_response(body, len(chunk))
                # JoinSource joins the record as it was read, before InputFilter.
                sources = [originals[i] for i in batch]
                return b"\n".join(processor.finish(r, o) for r, o in zip(sources, outputs,
                                                                          strict=True))
            except (RecordError, UnicodeDecodeError) as exc:
                raise _FileFailed(label, f"ClientError: {exc}") from None

        tasks = [asyncio.create_task(one(batch)) for batch in batches]
        try:
            outputs = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        await asyncio.to_thread(self._write, request.output_path, item.relative, job.name,
                                assemble(outputs, request.assemble_with))

    async def _invoke(self, session: aiohttp.ClientSession, urls: list[str], body: bytes,
                      request: TransformRequest, label: str,
                      traceparent: str | None = None) -> bytes:
        content_type = request.content_type
        last = len(urls) - 1
        for i, url in enumerate(urls):
            headers = {}
            if content_type:
                headers["Content-Type"] = content_type
            if i == last and request.accept:
                headers["Accept"] = request.accept
            if traceparent is not None:
                headers["traceparent"] = traceparent
            attempt = 0
            while True:
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        status = response.status
                        data = await response.read()
                        response_type = response.headers.get("Content-Type")
                    break
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    attempt += 1
                    if attempt > request.retries:
                        raise _FileFailed(label, "Unable to get response from algorithm",
                                          [f"{type(exc).__name__}: {exc}"]) from None
            if not 200 <= status < 300:
                what = (f"ClientError: {status}" if 400 <= status < 500 else
                        f"Bad HTTP status received from algorithm: {status}")
                lines = data.decode("utf-8", "replace").splitlines()[:50]
                raise _FileFailed(label, what, lines)
            body, content_type = data, response_type
        return body


class _JobError(Exception):
    pass


async def _traced(trace: JobTrace, call: Awaitable[bytes], span_id: int,
                  attributes: list[tuple[str, AttributeValue]]) -> bytes:
    """A mini-batch request as a CLIENT span of the job's trace (every container it passes
    through is sent this span as its parent)."""
    start = time.time_ns()
    try:
        body = await call
    except _FileFailed as failed:
        trace.child("POST", SpanKind.CLIENT, start, time.time_ns(),
                    [*attributes, ("error.type", failed.what.partition(":")[0])],
                    error=failed.what, span_id=span_id)
        raise
    trace.child("POST", SpanKind.CLIENT, start, time.time_ns(), attributes, span_id=span_id)
    return body


def _count_records(request: TransformRequest, files: list[InputFile]) -> int:
    total = 0
    for item in files:
        try:
            total += len(split_records(read_payload(item.path, request.compression),
                                       request.split_type))
        except (OSError, RecordError):
            pass  # reported when the file is processed
    return total


def _write_output(output_dir: Path, relative: str, job_name: str, data: bytes) -> None:
    """<output>/<relative>.out, written whole under a temporary name and then renamed."""
    target = output_dir / f"{relative}.out"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{job_name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
