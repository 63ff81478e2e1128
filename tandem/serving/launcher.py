"""Where an endpoint instance's containers run: the ``Launcher`` seam and the records it speaks.

An *instance* is one copy of a production variant's model: one OS process per container, all on
one host (SageMaker co-locates a pipeline's containers). A launcher starts an instance, reports
what happens to it as ``InstanceEvent``s and stops it. ``LocalLauncher`` runs instances on this
machine; a Ray-backed launcher places them on other hosts behind the same Protocol. Replacement
is not the launcher's business: the endpoint manager replaces an unhealthy instance with a NEW
instance id, as SageMaker does.
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tandem.errors import InvalidParameterValue, TandemError

__all__ = [
    "INSTANCE_ROOT",
    "Artifact",
    "ContainerSpec",
    "InstanceSpec",
    "HostSlot",
    "InstanceStatus",
    "InstanceHandle",
    "InstanceEvent",
    "InstanceReady",
    "ContainerExited",
    "InstanceUnhealthy",
    "InstanceStopped",
    "InstanceStartFailed",
    "HostsLost",
    "StartProblem",
    "LineCallback",
    "Launcher",
    "new_instance_id",
    "describe_returncode",
    "fill_port_slot",
    "start_failure_reason",
]

ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
ENDPOINT_USAGE_NAMESPACE = "/aws/sagemaker/Endpoints"
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{17}$")


def new_instance_id() -> str:
    """A fresh id shaped like an EC2 instance id (``i-`` + 17 hex digits), as SageMaker shows."""
    return "i-" + secrets.token_hex(9)[:17]


# Stands, in a ContainerSpec's argv, env values, cwd and artifact targets, for the instance's
# root directory, which the agent chooses on its own host: the spec names no directory of the
# host that planned it.
INSTANCE_ROOT = "{instance_root}"


@dataclass(frozen=True)
class Artifact:
    """A directory the agent prepares on its host before it spawns the container.

    ``into`` is the directory's path (under ``INSTANCE_ROOT``); ``location`` what goes there:
    None for an empty directory (HOME, TMPDIR, a model without data), else an absolute local
    path or an ``s3://`` URI, a tarball when ``archive`` (unpacked safely) or a directory (an
    S3 prefix) otherwise. ``field`` is the definition field errors name
    (``PrimaryContainer.ModelDataUrl``).
    """

    into: str
    location: str | None = None
    archive: bool = False
    field: str = ""
    # Where what is downloaded or carried for it lands (under ``INSTANCE_ROOT``); None: the
    # directory ``into`` is in. A directory linked at ``into`` stays there.
    scratch: str | None = None


@dataclass(frozen=True)
class ContainerSpec:
    """One container of a model: an OS process speaking the SageMaker container contract.

    ``env`` is the complete environment of the child (nothing is inherited); the agent adds
    ``SAGEMAKER_BIND_TO_PORT`` and ``SAGEMAKER_SAFE_PORT_RANGE``.
    """

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    # Index of an argv item holding "{host}" and "{port}" slots the agent fills with its host's
    # address and the bound port (a Docker container's published address: ``fill_port_slot``).
    port_slot: int | None = None
    # A port the caller chose (a job host whose peers must know it before it starts): the agent
    # leases none and adds no SAGEMAKER_* port variables; /ping, if any, goes there.
    port: int | None = None
    # What the agent fetches and unpacks under the instance root before spawning, in order.
    artifacts: tuple[Artifact, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise InvalidParameterValue(f"Container name {self.name!r} must be non-empty, no '/'.")
        if not self.argv:
            raise InvalidParameterValue(f"Container {self.name!r} has an empty argv.")


@dataclass(frozen=True)
class InstanceSpec:
    """Everything needed to run and watch one instance, wherever it runs."""

    instance_id: str
    endpoint_name: str
    variant_name: str
    containers: tuple[ContainerSpec, ...]
    log_group: str
    log_stream_prefix: str
    usage_namespace: str
    usage_dimension_sets: tuple[Mapping[str, str], ...]
    # The instance root (``INSTANCE_ROOT``) of an agent on the planning host (LocalLauncher);
    # an agent on another host chooses its own.
    work_dir: Path
    health_check_timeout: float = 480.0
    ping_interval: float = 2.0
    ping_timeout: float = 2.0
    stop_grace_period: float = 30.0
    # One container logs to the prefix itself (SageMaker's `<variant>/<instance-id>`); a
    # pipeline's containers each to `<prefix>/<container>`.
    single_stream: bool = False
    # The path GET-checked on each container's port until it answers 200 (SageMaker's /ping);
    # None for a job host that has no server: ready once spawned.
    health_check_path: str | None = "/ping"
    # Whether the path is also checked after start (a failing one reports InstanceUnhealthy).
    steady_state_ping: bool = True
    # The host's own name where it has one (a training job's algo-N).
    host_name: str | None = None
    # DiskUtilization is reported for endpoints and training, not for transform jobs.
    disk_usage: bool = True
    # The ml.* type (ProductionVariant's InstanceType): what a launcher placing instances on
    # other hosts asks the cluster for (instance_types.instance_resources); None where unknown.
    instance_type: str | None = None
    # The endpoint config it was started for: a restarted server adopts a still-running instance
    # only into that config's fleet (not one an interrupted update started for another config).
    config_name: str | None = None
    # Paths under the instance root that the planner reads once every container has exited (a
    # training host's model and output): an agent on another host sends them back, to the
    # same paths under ``work_dir`` (``outputs.pack_outputs``), before the exit is reported.
    outputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _INSTANCE_ID.match(self.instance_id):
            raise InvalidParameterValue(f"Instance id {self.instance_id!r} is not i- + 17 hex.")
        if not self.containers:
            raise InvalidParameterValue("An instance needs at least one container.")
        names = [c.name for c in self.containers]
        if len(set(names)) != len(names):
            raise InvalidParameterValue(f"Container names repeat: {names}.")

    @classmethod
    def for_endpoint(
        cls,
        endpoint_name: str,
        variant_name: str,
        containers: Sequence[ContainerSpec],
        work_dir: Path,
        *,
        instance_id: str | None = None,
        health_check_timeout: float = 480.0,
        ping_interval: float = 2.0,
        ping_timeout: float = 2.0,
        stop_grace_period: float = 30.0,
        instance_type: str | None = None,
        config_name: str | None = None,
    ) -> InstanceSpec:
        """The spec of an endpoint instance, with SageMaker's log and metric names filled in."""
        iid = instance_id or new_instance_id()
        return cls(
            instance_id=iid,
            endpoint_name=endpoint_name,
            variant_name=variant_name,
            containers=tuple(containers),
            log_group=ENDPOINT_LOG_GROUP_PREFIX + endpoint_name,
            log_stream_prefix=f"{variant_name}/{iid}",
            usage_namespace=ENDPOINT_USAGE_NAMESPACE,
            usage_dimension_sets=(
                {"Host": f"{endpoint_name}/{variant_name}/{iid}"},
                {"EndpointName": endpoint_name, "VariantName": variant_name},
            ),
            work_dir=Path(work_dir),
            health_check_timeout=health_check_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            stop_grace_period=stop_grace_period,
            single_stream=len(containers) == 1,
            instance_type=instance_type,
            config_name=config_name,
        )

    @classmethod
    def for_job_host(
        cls,
        job_name: str,
        host_name: str,
        container: ContainerSpec,
        work_dir: Path,
        *,
        log_group: str,
        log_stream: str,
        usage_namespace: str = "",
        usage_dimensions: Mapping[str, str] | None = None,
        health_check_path: str | None = None,
        health_check_timeout: float = 480.0,
        stop_grace_period: float = 30.0,
        instance_id: str | None = None,
        instance_type: str | None = None,
        outputs: Sequence[str] = (),
    ) -> InstanceSpec:
        """One process of a job (a training host, a Jupyter server) logging to ``log_stream``;
        usage is sampled only when ``usage_dimensions`` is given; without
        ``health_check_path`` it is ready once spawned and watched only for its exit."""
        return cls(
            instance_id=instance_id or new_instance_id(),
            endpoint_name=job_name,
            variant_name=host_name,
            containers=(container,),
            log_group=log_group,
            log_stream_prefix=log_stream,
            usage_namespace=usage_namespace,
            usage_dimension_sets=(dict(usage_dimensions),) if usage_dimensions else (),
            work_dir=Path(work_dir),
            health_check_timeout=health_check_timeout,
            stop_grace_period=stop_grace_period,
            single_stream=True,
            health_check_path=health_check_path,
            steady_state_ping=False,
            host_name=host_name,
            instance_type=instance_type,
            outputs=tuple(outputs),
        )

    def log_stream(self, container_name: str) -> str:
        if self.single_stream:
            return self.log_stream_prefix
        return f"{self.log_stream_prefix}/{container_name}"


class InstanceStatus(enum.Enum):
    PENDING = "Pending"
    IN_SERVICE = "InService"
    UNHEALTHY = "Unhealthy"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"


@dataclass(eq=False)
class InstanceHandle:
    """A live view of one instance; the agent that owns it updates it in place."""

    instance_id: str
    spec: InstanceSpec
    status: InstanceStatus = InstanceStatus.PENDING
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    failure_reason: str | None = None
    # Exit status of each container that has exited, by container name.
    returncodes: dict[str, int] = field(default_factory=dict)
    _pids: Callable[[], list[int]] = field(default=lambda: [], repr=False)
    _wait: Callable[[], Awaitable[dict[str, int]]] | None = field(default=None, repr=False)
    _last_lines: Callable[[str], list[str]] = field(default=lambda name: [], repr=False)

    def pids(self) -> list[int]:
        """Process ids of the containers' main processes still running."""
        return self._pids()

    async def wait(self) -> dict[str, int]:
        """Once every container has exited and its output is in the log: exit status by name."""
        if self._wait is None:
            return dict(self.returncodes)
        return await self._wait()

    def last_lines(self, container: str) -> list[str]:
        """The container's last log lines (what a failure reason quotes)."""
        return self._last_lines(container)


@dataclass(frozen=True)
class InstanceEvent:
    instance_id: str


@dataclass(frozen=True)
class InstanceReady(InstanceEvent):
    host: str
    ports: Mapping[str, int]


@dataclass(frozen=True)
class ContainerExited(InstanceEvent):
    container: str
    returncode: int


@dataclass(frozen=True)
class InstanceUnhealthy(InstanceEvent):
    container: str
    reason: str


@dataclass(frozen=True)
class InstanceStopped(InstanceEvent):
    pass


@dataclass(frozen=True)
class StartProblem:
    """Why one container did not come up."""

    container: str
    what: str  # e.g. "did not pass the ping health check (status 500)", "exited with code 3"
    last_lines: tuple[str, ...] = ()
    spawn_error: str | None = None  # the OSError text when it could not be started at all
    returncode: int | None = None  # set when it exited before passing the health check


class InstanceStartFailed(TandemError):
    """An instance did not come up; ``reason`` is the text for the endpoint's FailureReason,
    ``problems`` the same per container for callers that word it their own way (jobs)."""

    def __init__(
        self,
        reason: str,
        instance_id: str | None = None,
        problems: Sequence[StartProblem] = (),
    ) -> None:
        super().__init__(reason, instance_id=instance_id)
        self.reason = reason
        self.instance_id = instance_id
        self.problems = tuple(problems)


class HostsLost(TandemError):
    """Hosts a previous server started cannot be re-attached: ``host_name`` is the first one
    whose instance is gone (or never started), ``reason`` says why."""

    def __init__(self, host_name: str, reason: str) -> None:
        super().__init__(f"{host_name}: {reason}", host_name=host_name)
        self.host_name = host_name
        self.reason = reason


@dataclass(frozen=True)
class HostSlot:
    """One host reserved for an instance before it starts: where it will run and the port its
    process will own there, known to every peer before any of them starts (a training job's
    hosts name each other in their environment). ``host_name`` is the caller's name for it
    (``algo-k``); the instance started in the slot must carry ``instance_id``."""

    host_name: str
    instance_id: str
    address: str
    port: int
    # Whether the instance's root will be the spec's ``work_dir`` on the planning host
    # (LocalLauncher). Where it is not, the spec names what its containers read as artifacts
    # and what the planner reads back as ``outputs``.
    shares_work_dir: bool = True


# Called with each log line a container writes and its timestamp (ms), e.g. a training job's
# metric-definition regexes.
LineCallback = Callable[[str, int], None]


class Launcher(Protocol):
    """Where an instance's processes run (``LocalLauncher`` today; Ray later)."""

    # Whether its instances keep running when the server stops or dies, so that the next
    # server re-attaches to them (``recover``, ``reattach_hosts``); False: they end with it.
    outlives_server: bool

    async def reserve_hosts(
        self, group: str, host_names: Sequence[str], instance_type: str | None
    ) -> list[HostSlot]:
        """One slot per name, in order, each on its own host where the launcher has enough
        (raises ``InstanceStartFailed`` when they cannot be placed). Every slot is either
        started (``start_instance(..., slot=)``) or given back with ``release_hosts``."""
        ...

    async def release_hosts(self, slots: Sequence[HostSlot]) -> None:
        """Give back the slots' hosts and ports (those started are stopped first)."""
        ...

    async def reattach_hosts(
        self, group: str, slots: Sequence[HostSlot], work_dirs: Mapping[str, Path], *,
        on_line: LineCallback | None = None,
    ) -> list[InstanceHandle]:
        """The instances a previous server started in ``group``'s ``slots`` (a launcher whose
        instances outlive the server), watched again, in the slots' order, with what they
        queued meanwhile; their outputs come back under ``work_dirs[instance id]``. Raises
        ``HostsLost`` naming the first host whose instance is gone, once every other one is
        stopped and the hosts released."""
        ...

    async def start_instance(
        self, spec: InstanceSpec, *, on_line: LineCallback | None = None,
        slot: HostSlot | None = None,
    ) -> InstanceHandle:
        """Return once every container answers GET /ping with 200, else raise
        ``InstanceStartFailed`` after stopping whatever was started. ``on_line`` sees every
        log line of the instance's containers. With ``slot`` the instance runs on that
        reserved host (its spec carries the slot's instance id)."""
        ...

    async def stop_instance(self, instance_id: str, grace_s: float | None = None) -> None:
        """SIGTERM to every container's process group, ``grace_s`` (default the spec's), SIGKILL."""
        ...

    def instances(self) -> list[InstanceHandle]: ...

    async def recover(self, known: Collection[str] = ()) -> list[InstanceHandle]:
        """Instances a previous server left running (a launcher whose instances outlive the
        server), now watched again; they appear in ``instances()`` from then on. ``known``:
        the ids the store records as running, which are ours even where another server of the
        same store started them."""
        ...

    def events(self) -> AsyncIterator[InstanceEvent]: ...

    async def close(self) -> None:
        """Stop every instance and release what the launcher holds."""
        ...


def fill_port_slot(argv: Sequence[str], slot: int | None, host: str, port: int) -> list[str]:
    """``argv`` with its port slot filled: the address the container is reached at (its
    host's, which the router connects to from outside on another host) and the port."""
    filled = list(argv)
    if slot is not None:
        filled[slot] = filled[slot].format(host=host, port=port)
    return filled


def describe_returncode(returncode: int) -> str:
    if returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with code {returncode}"


# How many of a container's last log lines a FailureReason quotes (SageMaker keeps 1024 chars).
QUOTED_LINES = 10
_QUOTED_LINE_CHARS = 200


def quote_lines(lines: Sequence[str]) -> str:
    tail = [line[:_QUOTED_LINE_CHARS] for line in list(lines)[-QUOTED_LINES:]]
    if not tail:
        return "It wrote no log lines."
    return "Last log lines: " + " ".join(f'"{line}"' for line in tail)


def start_failure_reason(
    variant_name: str, problems: Sequence[tuple[str, str, Sequence[str]]]
) -> str:
    """FailureReason for a start that failed, in SageMaker's words.

    ``problems`` holds (container, what happened, its last log lines); "what happened" is
    e.g. ``did not pass the ping health check`` or ``exited with code 3``.
    """
    parts = [
        f"The container {name} for production variant {variant_name} {what}. {quote_lines(lines)}"
        for name, what, lines in problems
    ]
    return " ".join(parts) + " Please check CloudWatch logs for this endpoint."
