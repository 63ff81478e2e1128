"""The instance agent: the one per-instance supervisor, wherever the instance runs.

Before anything is spawned it fetches and unpacks each container's model data and code under
the instance root it was given on its own host (``fetching``). It spawns each container as a
``SupervisedProcess`` (explicit argv/env/cwd, its own session,
stdout+stderr merged into one pipe pumped into the container's log stream), waits until every
container answers its health check (``GET /ping`` with 200), then watches: a ``/ping`` loop, an
exit watcher per container, and a ``UsageSampler`` recording SageMaker's instance metrics. Stop
is SIGTERM to each container's process group, a grace period, then SIGKILL to everything left
in its session. The same class runs endpoint instances, transform instances, training hosts and
Jupyter servers in-process under ``LocalLauncher`` and, later, inside a Ray actor (which is why
it takes plain callables and owns every task it starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tandem.clock import Clock, SystemClock
from tandem.errors import TandemError
from tandem.serving.fetching import ArtifactSource, prepare_containers
from tandem.serving.launcher import (
    ContainerExited,
    ContainerSpec,
    InstanceEvent,
    InstanceHandle,
    InstanceReady,
    InstanceSpec,
    InstanceStartFailed,
    InstanceStatus,
    InstanceStopped,
    InstanceUnhealthy,
    LineCallback,
    StartProblem,
    describe_returncode,
    fill_port_slot,
    start_failure_reason,
)
from tandem.serving.ports import ContainerPorts, PortAllocator, PortsExhausted, port_taken
from tandem.supervision import OutputCapture, SessionGuard, SupervisedProcess, UsageSampler
from tandem.telemetry.usage import UsageProbe, instance_probe

__all__ = ["InstanceAgent", "SessionGuard"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Container:
    spec: ContainerSpec
    port: int | None
    lease: ContainerPorts | None = None
    process: SupervisedProcess | None = None
    spawn_error: str | None = None
    exit_watch: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    @property
    def last_lines(self) -> list[str]:
        return self.process.last_lines if self.process is not None else []


def _default_capture_factory() -> Callable[..., OutputCapture]:
    from tandem.telemetry.logs import StreamCapture

    return StreamCapture


class InstanceAgent:
    """Runs and watches one instance's containers; reports through ``on_event``."""

    def __init__(
        self,
        spec: InstanceSpec,
        metrics_registry: Any,
        log_service: Any,
        *,
        on_event: Callable[[InstanceEvent], None] = lambda event: None,
        on_line: LineCallback | None = None,
        ports: PortAllocator | None = None,
        guard: SessionGuard | None = None,
        probe: UsageProbe | None = None,
        usage_interval: float = 5.0,
        unhealthy_threshold: int = 3,
        capture_factory: Callable[..., OutputCapture] | None = None,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        root: Path | None = None,
        source: ArtifactSource | None = None,
    ) -> None:
        self.spec = spec
        # The instance root on this host (INSTANCE_ROOT in the spec); the spec's work_dir
        # where the agent runs on the host that planned it.
        self.root = Path(root) if root is not None else spec.work_dir
        self._source = source or ArtifactSource()
        self._metrics = metrics_registry
        self._logs = log_service
        self._on_event = on_event
        self._on_line = on_line
        self._ports = ports or PortAllocator()
        self._guard = guard
        self._probe = probe
        self._usage_interval = usage_interval
        self._unhealthy_threshold = unhealthy_threshold
        self._capture_factory = capture_factory
        self._clock = clock or SystemClock()
        self._containers: list[_Container] = []
        self._watch_tasks: list[asyncio.Task[Any]] = []
        self._usage: UsageSampler | None = None
        self._http: aiohttp.ClientSession | None = None
        self._stopped = asyncio.Event()
        self.handle = InstanceHandle(
            spec.instance_id, spec, host=host, _pids=self.pids, _wait=self._wait_all,
            _last_lines=self._last_lines,
        )

    @property
    def status(self) -> InstanceStatus:
        return self.handle.status

    def pids(self) -> list[int]:
        return [c.process.pid for c in self._containers
                if c.process is not None and c.process.pid is not None and c.running]

    def _last_lines(self, name: str) -> list[str]:
        return next((c.last_lines for c in self._containers if c.name == name), [])

    async def _wait_all(self) -> dict[str, int]:
        for c in self._containers:
            if c.process is not None and c.process.started:
                await c.process.wait()
        return dict(self.handle.returncodes)

    # -- start --------------------------------------------------------------------------------

    async def start(self) -> InstanceHandle:
        """Spawn every container and wait for its health check; on failure stop all and raise."""
        spec = self.spec
        try:
            containers = await asyncio.to_thread(
                prepare_containers, spec.containers, self.root, self._source)
        except TandemError as exc:  # ArtifactError: worded as the server's own unpacking was
            self.handle.status = InstanceStatus.FAILED
            self.handle.failure_reason = exc.message
            raise
        self._containers = [_Container(c, c.port) for c in containers]
        leased = [c for c in self._containers if c.port is None]
        try:
            leases = self._ports.allocate(len(leased)) if leased else []
        except PortsExhausted as exc:
            raise self._failed(str(exc)) from exc
        for c, lease in zip(leased, leases, strict=True):
            c.lease, c.port = lease, lease.bind_port
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=spec.ping_timeout))
        self.handle.ports = {c.name: c.port for c in self._containers if c.port is not None}
        try:
            for container in self._containers:
                await self._spawn(container)
                if container.spawn_error:
                    break
            problems = await self._await_ready()
        except BaseException:
            await self._shutdown(spec.stop_grace_period)
            self.handle.status = InstanceStatus.FAILED
            raise
        if problems:
            await self._shutdown(spec.stop_grace_period)
            # Quoted after the stop: what a container says on SIGTERM can explain its failure.
            problems = [dataclasses.replace(p, last_lines=tuple(self._last_lines(p.container)))
                        for p in problems]
            reason = start_failure_reason(
                spec.variant_name, [(p.container, p.what, p.last_lines) for p in problems]
            )
            raise self._failed(reason, problems)
        self.handle.status = InstanceStatus.IN_SERVICE
        if spec.health_check_path is not None and spec.steady_state_ping:
            self._watch_tasks.append(
                asyncio.create_task(self._ping_loop(), name=f"ping {spec.instance_id}"))
        if spec.usage_dimension_sets:
            probe = self._probe or instance_probe(self.root if spec.disk_usage else None)
            self._usage = UsageSampler(self._metrics, spec.usage_namespace,
                                       spec.usage_dimension_sets, probe, self.pids,
                                       self._usage_interval)
            self._usage.start()
        self._on_event(InstanceReady(spec.instance_id, self.handle.host, dict(self.handle.ports)))
        return self.handle

    def _failed(self, reason: str, problems: Sequence[StartProblem] = ()) -> InstanceStartFailed:
        self.handle.status = InstanceStatus.FAILED
        self.handle.failure_reason = reason
        return InstanceStartFailed(reason, self.spec.instance_id, problems)

    async def _spawn(self, container: _Container) -> None:
        spec, cspec = self.spec, container.spec
        stream = spec.log_stream(container.name)
        # A store write (a commit on the logs writer): off the loop.
        await asyncio.to_thread(self._logs.ensure_log_stream, spec.log_group, stream)
        factory = self._capture_factory or _default_capture_factory()
        capture = factory(self._logs, spec.log_group, stream, keep_last=20,
                          on_line=self._on_line)
        env = dict(cspec.env)
        if container.lease is not None:
            env.update(container.lease.env())
            if self.handle.host != "127.0.0.1":
                # On another host the router connects from outside: bind the host's address
                # (tandem.runtime and SageMaker-style servers read it), not loopback.
                env["SAGEMAKER_BIND_TO_HOST"] = self.handle.host
        argv = list(cspec.argv)
        if container.port is not None:
            argv = fill_port_slot(argv, cspec.port_slot, self.handle.host, container.port)
        process = SupervisedProcess(argv, env, cspec.cwd, capture, guard=self._guard,
                                    clock=self._clock, name=stream)
        try:
            await process.start()
        except OSError as exc:
            container.spawn_error = str(exc)
            return
        container.process = process
        container.exit_watch = asyncio.create_task(self._watch_exit(container),
                                                   name=f"exit {stream}")

    async def _await_ready(self) -> list[StartProblem]:
        """[] once every container passed its health check; else what happened to which."""
        spec = self.spec
        if spec.health_check_path is None:
            return [self._problem(c) for c in self._containers if c.spawn_error]
        deadline = self._clock.monotonic() + spec.health_check_timeout
        pending = {c.name: c for c in self._containers}
        detail: dict[str, str] = {}
        delay = 0.05
        while True:
            dead = [c for c in self._containers if c.spawn_error or c.returncode is not None]
            if dead:
                return [self._problem(c) for c in dead]
            names = list(pending)
            results = await asyncio.gather(*(self._ping(pending[n]) for n in names))
            for name, (ok, why) in zip(names, results, strict=True):
                if ok:
                    del pending[name]
                else:
                    detail[name] = why
            if not pending:
                return []
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                if any(c.returncode is not None for c in self._containers):
                    continue  # an exit explains it better than a timeout
                return [
                    StartProblem(n, f"did not pass the ping health check "
                                    f"({detail.get(n, 'no answer')})",
                                 tuple(pending[n].last_lines))
                    for n in pending
                ]
            exits = [c.exit_watch for c in self._containers if c.exit_watch is not None]
            if exits:
                await asyncio.wait(
                    exits, timeout=min(delay, remaining), return_when="FIRST_COMPLETED"
                )
            else:
                await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.5)

    def _problem(self, c: _Container) -> StartProblem:
        if c.spawn_error:
            return StartProblem(c.name, f"could not be started: {c.spawn_error}",
                                spawn_error=c.spawn_error)
        assert c.returncode is not None
        what = f"{describe_returncode(c.returncode)} before passing the ping health check"
        if c.lease is not None and port_taken(c.lease.bind_port):
            what += (
                f"; port {c.lease.bind_port} (SAGEMAKER_BIND_TO_PORT) was taken by another "
                "process before the container bound it, start the instance again"
            )
        return StartProblem(c.name, what, tuple(c.last_lines), returncode=c.returncode)

    async def _ping(self, c: _Container) -> tuple[bool, str]:
        assert self._http is not None
        url = f"http://{self.handle.host}:{c.port}{self.spec.health_check_path}"
        try:
            async with self._http.get(url) as response:
                await response.read()
                return response.status == 200, f"status {response.status}"
        except TimeoutError:
            return False, f"no answer within {self.spec.ping_timeout:g} s"
        except aiohttp.ClientError as exc:
            return False, f"{type(exc).__name__}: {exc}"

    # -- watch --------------------------------------------------------------------------------

    async def _watch_exit(self, c: _Container) -> None:
        assert c.process is not None
        code = await c.process.exited()
        self.handle.returncodes[c.name] = code
        if self.handle.status in (InstanceStatus.IN_SERVICE, InstanceStatus.UNHEALTHY):
            self.handle.status = InstanceStatus.UNHEALTHY
            what = describe_returncode(code)
            self.handle.failure_reason = f"The container {c.name} {what}."
            self._on_event(ContainerExited(self.spec.instance_id, c.name, code))

    async def _ping_loop(self) -> None:
        failures = {c.name: 0 for c in self._containers}
        while True:
            await asyncio.sleep(self.spec.ping_interval)
            live = [c for c in self._containers if c.running]
            results = await asyncio.gather(*(self._ping(c) for c in live))
            for c, (ok, why) in zip(live, results, strict=True):
                failures[c.name] = 0 if ok else failures[c.name] + 1
                if failures[c.name] >= self._unhealthy_threshold and c.running:
                    reason = (
                        f"The container {c.name} did not pass the ping health check "
                        f"{failures[c.name]} times in a row ({why})."
                    )
                    if self.handle.status is InstanceStatus.IN_SERVICE:
                        self.handle.status = InstanceStatus.UNHEALTHY
                        self.handle.failure_reason = reason
                    self._on_event(InstanceUnhealthy(self.spec.instance_id, c.name, reason))
                    return  # reported once; the endpoint manager replaces the instance

    # -- stop ---------------------------------------------------------------------------------

    async def stop(self, grace: float | None = None) -> None:
        """SIGTERM, ``grace`` s (default the spec's stop_grace_period), SIGKILL; reap all."""
        if self.handle.status in (InstanceStatus.STOPPING, InstanceStatus.STOPPED):
            await self._stopped.wait()
            return
        self.handle.status = InstanceStatus.STOPPING
        await self._shutdown(self.spec.stop_grace_period if grace is None else grace)
        self.handle.status = InstanceStatus.STOPPED
        self._on_event(InstanceStopped(self.spec.instance_id))

    async def _shutdown(self, grace: float) -> None:
        try:
            await self._cancel(self._watch_tasks)
            if self._usage is not None:
                await self._usage.stop()
            started = [c.process for c in self._containers if c.process is not None]
            # All containers get SIGTERM at once and share one grace period.
            await asyncio.gather(*(p.stop(grace) for p in started))
            await self._cancel([c.exit_watch for c in self._containers
                                if c.exit_watch is not None and not c.exit_watch.done()])
        finally:
            self._ports.release([c.lease for c in self._containers if c.lease is not None])
            if self._http is not None:
                await self._http.close()
                self._http = None
            self._stopped.set()

    @staticmethod
    async def _cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
