"""Notebook instances and their lifecycle configurations.

A lifecycle configuration holds two base64-encoded shell scripts, OnCreate and OnStart (as the
API sends them). Creating an instance runs OnCreate once, then OnStart; every later start runs
OnStart. Each script is limited to ``lifecycle_timeout`` seconds (SageMaker's 5 minutes by
default); a script that fails or runs too long leaves the instance Failed with a FailureReason
in SageMaker's words. Then the notebook server starts: a real Jupyter server (the optional
``jupyter-server`` package) on 127.0.0.1 with a random token, whose URL DescribeNotebookInstance
returns; without the package the instance still goes InService, without a Url, and its
jupyter.log says why. Logs: ``/aws/sagemaker/NotebookInstances``, streams
``<name>/LifecycleConfigOnCreate``, ``<name>/LifecycleConfigOnStart``, ``<name>/jupyter.log``.

Lifecycle configs and instances are catalogue documents, written in the order they change (off
the event loop). A restarted server brings back what was InService (or Pending) by starting it
again, OnStart only, as a SageMaker instance coming back from a stop; what was Stopping is
Stopped, and the rest keeps its status.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import enum
import importlib.util
import logging
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..errors import ResourceNotFound, ValidationException
from ..serving.launcher import (
    ContainerSpec,
    InstanceHandle,
    InstanceSpec,
    InstanceStartFailed,
    Launcher,
    describe_returncode,
)
from ..serving.ports import PortAllocator
from ..supervision import SessionGuard, SupervisedProcess
from ..telemetry.logs import LogService, StreamCapture
from .records import validate_job_name

_log = logging.getLogger(__name__)

__all__ = ["NotebookStatus", "LifecycleConfig", "NotebookInstance", "NotebookService",
           "NOTEBOOK_LOG_GROUP", "jupyter_installed"]

NOTEBOOK_LOG_GROUP = "/aws/sagemaker/NotebookInstances"
_SCRIPT_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"  # what SageMaker gives lifecycle scripts
_MAX_CONTENT = 16384


class NotebookStatus(enum.StrEnum):
    PENDING = "Pending"
    IN_SERVICE = "InService"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    DELETING = "Deleting"


def jupyter_installed() -> bool:
    return importlib.util.find_spec("jupyter_server") is not None


_CONFIG_KIND = "notebook-lifecycle-config"
_INSTANCE_KIND = "notebook-instance"


@dataclasses.dataclass
class LifecycleConfig:
    name: str
    arn: str
    on_create: str | None
    on_start: str | None
    creation_time: float
    last_modified_time: float

    def document(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"NotebookInstanceLifecycleConfigName": self.name,
                               "NotebookInstanceLifecycleConfigArn": self.arn,
                               "CreationTime": self.creation_time,
                               "LastModifiedTime": self.last_modified_time}
        if self.on_create is not None:
            out["OnCreate"] = [{"Content": self.on_create}]
        if self.on_start is not None:
            out["OnStart"] = [{"Content": self.on_start}]
        return out


_STORED = ("IpAddressType", "SubnetId", "KmsKeyId", "AcceleratorTypes", "DefaultCodeRepository",
           "AdditionalCodeRepositories", "PlatformIdentifier",
           "InstanceMetadataServiceConfiguration")


@dataclasses.dataclass(eq=False)
class NotebookInstance:
    name: str
    arn: str
    raw: dict[str, Any]
    creation_time: float
    last_modified_time: float
    status: NotebookStatus = NotebookStatus.PENDING
    failure_reason: str | None = None
    url: str | None = None
    server: InstanceHandle | None = None
    port: Any = None
    task: asyncio.Task[None] | None = None
    # OnCreate runs once in an instance's life: a restore after it ran runs OnStart only.
    created: bool = False

    def document(self) -> dict[str, Any]:
        return {"name": self.name, "arn": self.arn, "raw": self.raw,
                "creation_time": self.creation_time,
                "last_modified_time": self.last_modified_time, "status": self.status.value,
                "failure_reason": self.failure_reason, "created": self.created}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> NotebookInstance:
        return cls(doc["name"], doc["arn"], doc["raw"], doc["creation_time"],
                   doc["last_modified_time"], NotebookStatus(doc["status"]),
                   doc.get("failure_reason"), created=bool(doc.get("created")))

    @property
    def lifecycle_config_name(self) -> str | None:
        return self.raw.get("LifecycleConfigName")

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "NotebookInstanceArn": self.arn, "NotebookInstanceName": self.name,
            "NotebookInstanceStatus": self.status.value, "InstanceType": self.raw["InstanceType"],
            "RoleArn": self.raw["RoleArn"], "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "VolumeSizeInGB": self.raw.get("VolumeSizeInGB", 5),
            "RootAccess": self.raw.get("RootAccess", "Enabled"),
            "DirectInternetAccess": self.raw.get("DirectInternetAccess", "Enabled"),
        }
        if self.lifecycle_config_name:
            out["NotebookInstanceLifecycleConfigName"] = self.lifecycle_config_name
        # What the create call was given comes back as given (SecurityGroupIds are shown as
        # SecurityGroups, as on AWS).
        for key in _STORED:
            if self.raw.get(key) is not None:
                out[key] = self.raw[key]
        if self.raw.get("SecurityGroupIds") is not None:
            out["SecurityGroups"] = self.raw["SecurityGroupIds"]
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.url:
            out["Url"] = self.url
        return out

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.describe().items() if k in (
            "NotebookInstanceName", "NotebookInstanceArn", "NotebookInstanceStatus", "Url",
            "InstanceType", "CreationTime", "LastModifiedTime",
            "NotebookInstanceLifecycleConfigName", "DefaultCodeRepository",
            "AdditionalCodeRepositories")}
        return out


def _script(raw: Any, field: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > 1:
        raise ValidationException(f"{field} must be a list of at most 1 {{Content}}")
    if not raw:
        return None
    content = raw[0].get("Content") if isinstance(raw[0], dict) else None
    if not isinstance(content, str) or not 1 <= len(content) <= _MAX_CONTENT:
        raise ValidationException(f"{field}[0].Content must be 1 to {_MAX_CONTENT} characters")
    try:
        base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationException(f"{field}[0].Content must be the base64 encoding of a shell "
                                  "script") from None
    return content


class NotebookService:
    """Lifecycle configs and notebook instances (in memory, written behind to the catalogue;
    instances are local)."""

    def __init__(
        self,
        *,
        logs: LogService,
        data_dir: Path,
        arn: Callable[[str, str], str],
        launcher: Launcher,
        guard: SessionGuard | None = None,
        ports: PortAllocator | None = None,
        clock: Clock | None = None,
        lifecycle_timeout: float = 300.0,
        jupyter_available: Callable[[], bool] = jupyter_installed,
        jupyter_start_timeout: float = 60.0,
        stop_grace: float = 5.0,
        parent_env: dict[str, str] | None = None,
        aws_environment: Callable[[], dict[str, str]] | None = None,
        catalog: Any = None,
    ) -> None:
        self.logs = logs
        # Where configs and instances persist (a CatalogStore; None: memory only).
        self.catalog = catalog
        self._writes: asyncio.Queue[tuple[str, str, dict[str, Any] | None]] | None = None
        self._writer: asyncio.Task[None] | None = None
        # AWS_ENDPOINT_URL and credentials for lifecycle scripts: their `aws s3 cp` reads
        # s3:// locations where tandem's models and jobs do.
        self.aws_environment = aws_environment
        self.data_dir = Path(data_dir)
        self.arn = arn
        # Jupyter servers run as launcher instances; lifecycle scripts, short and watched for
        # their exit alone, as supervised processes told to the same fate-sharing guard.
        self.launcher = launcher
        self.guard = guard
        self.ports = ports or PortAllocator()
        self.clock = clock or SystemClock()
        self.lifecycle_timeout = lifecycle_timeout
        self.jupyter_available = jupyter_available
        self.jupyter_start_timeout = jupyter_start_timeout
        self.stop_grace = stop_grace
        self.parent_env = dict(os.environ if parent_env is None else parent_env)
        self.configs: dict[str, LifecycleConfig] = {}
        self.instances: dict[str, NotebookInstance] = {}

    # -- persistence --------------------------------------------------------------------

    async def restore(self) -> None:
        """Load what the catalogue holds; bring back instances that were running."""
        if self.catalog is None:
            return
        for doc in await asyncio.to_thread(self.catalog.list, _CONFIG_KIND):
            self.configs[doc["name"]] = LifecycleConfig(**doc)
        for doc in await asyncio.to_thread(self.catalog.list, _INSTANCE_KIND):
            instance = NotebookInstance.from_document(doc)
            if instance.status is NotebookStatus.DELETING:
                self._save(_INSTANCE_KIND, instance.name, None)
                continue
            self.instances[instance.name] = instance
            if instance.status is NotebookStatus.STOPPING:
                self._set(instance, NotebookStatus.STOPPED)
            elif instance.status in (NotebookStatus.IN_SERVICE, NotebookStatus.PENDING):
                self._set(instance, NotebookStatus.PENDING)
                instance.task = asyncio.create_task(
                    self._bring_up(instance, first=not instance.created),
                    name=f"notebook {instance.name}")

    def _save(self, kind: str, name: str, document: dict[str, Any] | None) -> None:
        """Write (None: delete) a document behind the call, in call order."""
        if self.catalog is None:
            return
        if self._writes is None:
            self._writes = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_behind(self._writes),
                                               name="notebook documents")
        self._writes.put_nowait((kind, name, document))

    async def _write_behind(self, writes: asyncio.Queue[tuple[str, str, Any]]) -> None:
        while True:
            kind, name, document = await writes.get()
            try:
                if document is None:
                    await asyncio.to_thread(self.catalog.delete, kind, name)
                else:
                    await asyncio.to_thread(self.catalog.put, kind, name, document)
            except Exception:  # noqa: BLE001 - the next change of it writes it whole again
                _log.exception("writing %s %s failed", kind, name)
            finally:
                writes.task_done()

    async def flush(self) -> None:
        """Once every change made so far is in the catalogue."""
        if self._writes is not None:
            await self._writes.join()

    # -- lifecycle configs --------------------------------------------------------------

    def create_lifecycle_config(self, body: dict[str, Any]) -> LifecycleConfig:
        name = validate_job_name(body.get("NotebookInstanceLifecycleConfigName"),
                                 "notebookInstanceLifecycleConfigName")
        if name.lower() in (n.lower() for n in self.configs):
            raise ValidationException(f"Unable to create Notebook Instance Lifecycle Config "
                                      f"{name}: it already exists.")
        now = self.clock.time()
        config = LifecycleConfig(name, self.arn("notebook-instance-lifecycle-config", name),
                                 _script(body.get("OnCreate"), "OnCreate"),
                                 _script(body.get("OnStart"), "OnStart"), now, now)
        self.configs[name] = config
        self._save(_CONFIG_KIND, name, config.document())
        return config

    def lifecycle_config(self, name: Any) -> LifecycleConfig:
        config = self.configs.get(name) if isinstance(name, str) else None
        if config is None:
            raise ValidationException(f"Unable to describe Notebook Instance Lifecycle Config "
                                      f"'{name}' because it does not exist")
        return config

    def delete_lifecycle_config(self, name: Any) -> None:
        config = self.lifecycle_config(name)
        del self.configs[config.name]
        self._save(_CONFIG_KIND, config.name, None)

    # -- instances ----------------------------------------------------------------------

    def instance(self, name: Any) -> NotebookInstance:
        instance = self.instances.get(name) if isinstance(name, str) else None
        if instance is None:
            raise ValidationException("RecordNotFound")
        return instance

    def create_instance(self, body: dict[str, Any]) -> NotebookInstance:
        name = validate_job_name(body.get("NotebookInstanceName"), "notebookInstanceName")
        for key in ("InstanceType", "RoleArn"):
            if not isinstance(body.get(key), str):
                raise ValidationException(f"1 validation error detected: Value null at "
                                          f"'{key[0].lower() + key[1:]}' failed to satisfy "
                                          "constraint: Member must not be null")
        if name.lower() in (n.lower() for n in self.instances):
            raise ValidationException(f"Cannot create a duplicate Notebook Instance ({name})")
        if body.get("LifecycleConfigName") is not None:
            self.lifecycle_config(body["LifecycleConfigName"])
        now = self.clock.time()
        instance = NotebookInstance(name, self.arn("notebook-instance", name), dict(body), now, now)
        self.instances[name] = instance
        self._save(_INSTANCE_KIND, name, instance.document())
        instance.task = asyncio.create_task(self._bring_up(instance, first=True),
                                            name=f"notebook {name}")
        return instance

    def start_instance(self, name: Any) -> None:
        instance = self.instance(name)
        if instance.status not in (NotebookStatus.STOPPED, NotebookStatus.FAILED):
            raise ValidationException(f"Status ({instance.status.value}) not in ([Stopped, "
                                      "Failed]). Unable to transition to (Pending) for Notebook "
                                      f"Instance ({instance.arn}).")
        self._set(instance, NotebookStatus.PENDING)
        instance.failure_reason = None
        instance.task = asyncio.create_task(self._bring_up(instance, first=False),
                                            name=f"notebook {name}")

    def stop_instance(self, name: Any) -> None:
        instance = self.instance(name)
        if instance.status in (NotebookStatus.STOPPED, NotebookStatus.STOPPING):
            return
        if instance.status is not NotebookStatus.IN_SERVICE and instance.status is not \
                NotebookStatus.PENDING:
            raise ValidationException(f"Status ({instance.status.value}) not in ([InService, "
                                      "Pending]). Unable to transition to (Stopping) for Notebook "
                                      f"Instance ({instance.arn}).")
        self._set(instance, NotebookStatus.STOPPING)
        instance.task = asyncio.create_task(
            self._shut_down(instance, NotebookStatus.STOPPED, instance.task),
            name=f"stop notebook {name}")

    def delete_instance(self, name: Any) -> None:
        instance = self.instance(name)
        if instance.status not in (NotebookStatus.STOPPED, NotebookStatus.FAILED):
            raise ValidationException(f"Status ({instance.status.value}) not in ([Stopped, "
                                      "Failed]). Unable to transition to (Deleting) for Notebook "
                                      f"Instance ({instance.arn}).")
        self._set(instance, NotebookStatus.DELETING)
        del self.instances[instance.name]
        self._save(_INSTANCE_KIND, instance.name, None)
        shutil.rmtree(self.data_dir / instance.name, ignore_errors=True)

    async def close(self) -> None:
        """Stop every notebook server (the server is going away); the documents keep each
        instance's status, so a restart brings back what was running."""
        for instance in list(self.instances.values()):
            if instance.task is not None and not instance.task.done():
                instance.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await instance.task
            await self._stop_server(instance)
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    # -- internals ----------------------------------------------------------------------

    def _set(self, instance: NotebookInstance, status: NotebookStatus) -> None:
        instance.status = status
        instance.last_modified_time = self.clock.time()
        if status is not NotebookStatus.DELETING:
            self._save(_INSTANCE_KIND, instance.name, instance.document())

    def _home(self, instance: NotebookInstance) -> Path:
        home = self.data_dir / instance.name / "SageMaker"
        home.mkdir(parents=True, exist_ok=True)
        return home

    async def _bring_up(self, instance: NotebookInstance, first: bool) -> None:
        try:
            config = self.configs.get(instance.lifecycle_config_name or "")
            if config is not None and first and config.on_create:
                await self._run_hook(instance, config, "OnCreate", config.on_create)
            instance.created = True
            if config is not None and config.on_start:
                await self._run_hook(instance, config, "OnStart", config.on_start)
            await self._start_server(instance)
        except _HookFailed as failed:
            instance.failure_reason = failed.reason
            self._set(instance, NotebookStatus.FAILED)
            return
        self._set(instance, NotebookStatus.IN_SERVICE)

    async def _run_hook(self, instance: NotebookInstance, config: LifecycleConfig, hook: str,
                        content: str) -> None:
        stream = f"{instance.name}/LifecycleConfig{hook}"
        home = await asyncio.to_thread(self._home, instance)
        script = home.parent / f"lifecycle-{hook.lower()}.sh"
        await asyncio.to_thread(script.write_bytes, base64.b64decode(content))
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        env = {"PATH": _SCRIPT_PATH, "HOME": str(home.parent)}
        for key in ("LANG", "LC_ALL"):
            if key in self.parent_env:
                env[key] = self.parent_env[key]
        if self.aws_environment is not None:
            env.update(self.aws_environment())
        await asyncio.to_thread(self.logs.ensure_log_stream, NOTEBOOK_LOG_GROUP, stream)
        process = SupervisedProcess([shell, str(script)], env, str(home),
                                    StreamCapture(self.logs, NOTEBOOK_LOG_GROUP, stream),
                                    guard=self.guard, name=stream)
        where = (f"Notebook Instance Lifecycle Config '{config.arn}' for Notebook Instance "
                 f"'{instance.arn}'")
        see = (" Please check your CloudWatch logs for more details if your Notebook Instance "
               "has Internet access.")
        try:
            await process.start()
        except OSError as exc:
            raise _HookFailed(f"{where} failed: {exc}.{see}") from None
        try:
            code = await asyncio.wait_for(asyncio.shield(process.wait()), self.lifecycle_timeout)
        except TimeoutError:
            await process.stop(1.0)
            raise _HookFailed(f"{where} took longer than {_duration(self.lifecycle_timeout)}."
                              f"{see}") from None
        except asyncio.CancelledError:
            await process.stop(1.0)
            raise
        if code != 0:
            raise _HookFailed(f"{where} failed: {hook} {describe_returncode(code)}.{see}")

    async def _start_server(self, instance: NotebookInstance) -> None:
        stream = f"{instance.name}/jupyter.log"
        await asyncio.to_thread(self.logs.ensure_log_stream, NOTEBOOK_LOG_GROUP, stream)
        if not self.jupyter_available():
            now = self.clock.time()
            await self.logs.write(NOTEBOOK_LOG_GROUP, stream, [(int(now * 1000), (
                "jupyter-server is not installed (pip install 'tandem[notebook]'): this notebook "
                "instance runs without a Jupyter server and has no Url."))])
            instance.url = None
            return
        home = await asyncio.to_thread(self._home, instance)
        lease = self.ports.allocate(1)[0]
        token = secrets.token_hex(24)
        root = home.parent
        env: dict[str, str] = {
            k: self.parent_env[k] for k in ("PATH", "LANG", "LC_ALL") if k in self.parent_env
        }
        env.update(HOME=str(root), PYTHONUNBUFFERED="1",
                   JUPYTER_CONFIG_DIR=str(root / ".jupyter"),
                   JUPYTER_DATA_DIR=str(root / ".local/share/jupyter"),
                   JUPYTER_RUNTIME_DIR=str(root / ".local/share/jupyter/runtime"))
        argv = [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={lease.bind_port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
                f"--ServerApp.root_dir={home}"]
        if os.geteuid() == 0:
            argv.append("--allow-root")  # as root, Jupyter refuses to start without it
        container = ContainerSpec("jupyter", tuple(argv), env=env, cwd=str(home),
                                  port=lease.bind_port)
        spec = InstanceSpec.for_job_host(
            instance.name, "jupyter", container, root, log_group=NOTEBOOK_LOG_GROUP,
            log_stream=stream, health_check_path=f"/api/status?token={token}",
            health_check_timeout=self.jupyter_start_timeout, stop_grace_period=self.stop_grace)
        instance.port = lease
        try:
            instance.server = await self.launcher.start_instance(spec)
        except InstanceStartFailed as exc:
            self.ports.release([lease])
            instance.port = None
            problem = exc.problems[0] if exc.problems else None
            if problem is not None and problem.spawn_error is not None:
                raise _HookFailed(
                    f"The Jupyter server could not be started: {problem.spawn_error}") from None
            what = "exited before answering" if problem is not None and \
                problem.returncode is not None else \
                f"did not answer within {_duration(self.jupyter_start_timeout)}"
            raise _HookFailed(f"The Jupyter server {what}; see {stream}.") from None
        instance.url = f"http://127.0.0.1:{lease.bind_port}/?token={token}"

    async def _stop_server(self, instance: NotebookInstance) -> None:
        server, instance.server = instance.server, None
        if server is not None:
            with contextlib.suppress(ResourceNotFound):
                await self.launcher.stop_instance(server.instance_id, self.stop_grace)
        if instance.port is not None:
            self.ports.release([instance.port])
            instance.port = None
        instance.url = None

    async def _shut_down(self, instance: NotebookInstance, status: NotebookStatus,
                         previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            previous.cancel()  # a start still running its scripts
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await previous
        await self._stop_server(instance)
        self._set(instance, status)


class _HookFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:1024]


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"
