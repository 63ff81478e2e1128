"""The instance agent: the one per-instance supervisor, wherever the instance runs.

It spawns each container (explicit argv/env/cwd, its own session, stdout+stderr merged into one
pipe pumped into the container's log stream), waits until every container answers ``GET /ping``
with 200, then watches: a ``/ping`` loop, an exit watcher per container, and a usage sampler
recording SageMaker's instance metrics. Stop is SIGTERM to each container's process group, a
grace period, then SIGKILL to everything left in its session. The same class runs in-process
under ``LocalLauncher`` and, later, inside a Ray actor (which is why it takes plain callables and
owns every task it starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from tandem.clock import Clock, SystemClock
from tandem.serving.launcher import (
    ContainerExited,
    InstanceEvent,
    InstanceHandle,
    InstanceReady,
    InstanceSpec,
    InstanceStartFailed,
    InstanceStatus,
    InstanceStopped,
    InstanceUnhealthy,
    describe_returncode,
    start_failure_reason,
)
from tandem.serving.ports import ContainerPorts, PortAllocator, PortsExhausted, port_taken
from tandem.serving.reaper import child_setup, read_stat, session_members
from tandem.telemetry.usage import UsageProbe, UsageSample, instance_probe

__all__ = ["InstanceAgent", "SessionGuard"]

log = logging.getLogger(__name__)

_PUMP_DRAIN_TIMEOUT = 2.0  # a grandchild that escaped our session could hold the pipe open


class SessionGuard(Protocol):
    """Fate-sharing hook (``reaper.FateSharing``): told of each container session."""

    def track(self, pid: int) -> None: ...

    def untrack(self, pid: int) -> None: ...


class _Capture(Protocol):
    @property
    def last_lines(self) -> Sequence[str]: ...

    async def run(self, reader: asyncio.StreamReader) -> object: ...


@dataclass(eq=False)
class _Container:
    name: str
    ports: ContainerPorts
    capture: _Capture | None = None
    proc: asyncio.subprocess.Process | None = None
    returncode: int | None = None
    spawn_error: str | None = None
    start_ticks: int | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.returncode is None


def _default_capture_factory() -> Callable[..., _Capture]:
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
        ports: PortAllocator | None = None,
        guard: SessionGuard | None = None,
        probe: UsageProbe | None = None,
        usage_interval: float = 5.0,
        unhealthy_threshold: int = 3,
        capture_factory: Callable[..., _Capture] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.spec = spec
        self._metrics = metrics_registry
        self._logs = log_service
        self._on_event = on_event
        self._ports = ports or PortAllocator()
        self._guard = guard
        self._probe = probe
        self._usage_interval = min(usage_interval, 10.0)  # SageMaker: at most 10 s apart
        self._unhealthy_threshold = unhealthy_threshold
        self._capture_factory = capture_factory
        self._clock = clock or SystemClock()
        self._containers: list[_Container] = []
        self._watch_tasks: list[asyncio.Task[Any]] = []
        self._http: aiohttp.ClientSession | None = None
        self._series: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._stopped = asyncio.Event()
        self.handle = InstanceHandle(spec.instance_id, spec, _pids=self.pids)

    @property
    def status(self) -> InstanceStatus:
        return self.handle.status

    def pids(self) -> list[int]:
        return [c.proc.pid for c in self._containers if c.proc is not None and c.running]

    # -- start --------------------------------------------------------------------------------

    async def start(self) -> InstanceHandle:
        """Spawn every container and wait for /ping; on failure stop all and raise."""
        spec = self.spec
        try:
            leases = self._ports.allocate(len(spec.containers))
        except PortsExhausted as exc:
            raise self._failed(str(exc)) from exc
        pairs = zip(spec.containers, leases, strict=True)
        self._containers = [_Container(c.name, p) for c, p in pairs]
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=spec.ping_timeout))
        self.handle.ports = {c.name: c.ports.bind_port for c in self._containers}
        try:
            for container, cspec in zip(self._containers, spec.containers, strict=True):
                await self._spawn(container, cspec)
                if container.spawn_error:
                    break
            problems = await self._await_ready()
        except BaseException:
            await self._shutdown(spec.stop_grace_period)
            self.handle.status = InstanceStatus.FAILED
            raise
        if problems:
            await self._shutdown(spec.stop_grace_period)
            lines = {
                c.name: list(c.capture.last_lines) if c.capture else [] for c in self._containers
            }
            reason = start_failure_reason(
                spec.variant_name, [(name, what, lines[name]) for name, what in problems]
            )
            raise self._failed(reason)
        self.handle.status = InstanceStatus.IN_SERVICE
        self._watch_tasks = [
            asyncio.create_task(self._ping_loop(), name=f"ping {spec.instance_id}"),
            asyncio.create_task(self._usage_loop(), name=f"usage {spec.instance_id}"),
        ]
        self._on_event(InstanceReady(spec.instance_id, self.handle.host, dict(self.handle.ports)))
        return self.handle

    def _failed(self, reason: str) -> InstanceStartFailed:
        self.handle.status = InstanceStatus.FAILED
        self.handle.failure_reason = reason
        return InstanceStartFailed(reason, self.spec.instance_id)

    async def _spawn(self, container: _Container, cspec: Any) -> None:
        spec = self.spec
        stream = spec.log_stream(container.name)
        self._logs.ensure_log_stream(spec.log_group, stream)
        factory = self._capture_factory or _default_capture_factory()
        container.capture = factory(self._logs, spec.log_group, stream, keep_last=20)
        env = {**cspec.env, **container.ports.env()}
        argv = list(cspec.argv)
        if cspec.port_slot is not None:
            argv[cspec.port_slot] = argv[cspec.port_slot].format(port=container.ports.bind_port)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                env=env,
                cwd=cspec.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # session leader: pgid = sid = pid, whole tree killable
                preexec_fn=child_setup(os.getpid()),
            )
        except OSError as exc:
            container.spawn_error = f"could not be started: {exc}"
            return
        container.proc = proc
        stat = read_stat(proc.pid)
        container.start_ticks = stat[2] if stat else None
        if self._guard is not None:
            self._guard.track(proc.pid)
        assert proc.stdout is not None
        container.tasks = [
            asyncio.create_task(container.capture.run(proc.stdout), name=f"pump {stream}"),
            asyncio.create_task(self._watch_exit(container), name=f"wait {stream}"),
        ]

    async def _await_ready(self) -> list[tuple[str, str]]:
        """[] once every container answered /ping 200; else (container, what happened)."""
        spec = self.spec
        deadline = self._clock.monotonic() + spec.health_check_timeout
        pending = {c.name: c for c in self._containers}
        detail: dict[str, str] = {}
        delay = 0.05
        while True:
            dead = [c for c in self._containers if c.spawn_error or c.returncode is not None]
            if dead:
                return [(c.name, self._death(c)) for c in dead]
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
                    (n, f"did not pass the ping health check ({detail.get(n, 'no answer')})")
                    for n in pending
                ]
            exits = [c.tasks[1] for c in self._containers if c.tasks]
            if exits:
                await asyncio.wait(
                    exits, timeout=min(delay, remaining), return_when="FIRST_COMPLETED"
                )
            else:
                await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.5)

    def _death(self, c: _Container) -> str:
        if c.spawn_error:
            return c.spawn_error
        assert c.returncode is not None
        what = f"{describe_returncode(c.returncode)} before passing the ping health check"
        if port_taken(c.ports.bind_port):
            what += (
                f"; port {c.ports.bind_port} (SAGEMAKER_BIND_TO_PORT) was taken by another "
                "process before the container bound it, start the instance again"
            )
        return what

    async def _ping(self, c: _Container) -> tuple[bool, str]:
        assert self._http is not None
        url = f"http://{self.handle.host}:{c.ports.bind_port}/ping"
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
        assert c.proc is not None
        c.returncode = await c.proc.wait()
        if self.handle.status in (InstanceStatus.IN_SERVICE, InstanceStatus.UNHEALTHY):
            self.handle.status = InstanceStatus.UNHEALTHY
            what = describe_returncode(c.returncode)
            self.handle.failure_reason = f"The container {c.name} {what}."
            self._on_event(ContainerExited(self.spec.instance_id, c.name, c.returncode))

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

    async def _usage_loop(self) -> None:
        probe = self._probe or instance_probe(self.spec.work_dir)
        while True:
            pids = self.pids()
            if pids:
                try:
                    sample = await asyncio.to_thread(probe.sample, pids)
                except Exception:
                    log.exception("usage sample failed for %s", self.spec.instance_id)
                else:
                    self._record(sample)
            await asyncio.sleep(self._usage_interval)

    def _record(self, sample: UsageSample) -> None:
        spec = self.spec
        for name, value in sample.metrics().items():
            for dims in spec.usage_dimension_sets:
                key = (name, tuple(sorted(dims.items())))
                series = self._series.get(key)
                if series is None:
                    series = self._metrics.series(spec.usage_namespace, name, dims, "Percent")
                    self._series[key] = series
                series.record(value)

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
            started = [c for c in self._containers if c.proc is not None]
            for c in started:
                _signal_group(c, signal.SIGTERM)
            deadline = self._clock.monotonic() + grace
            while any(c.running or _group_alive(c) for c in started):
                if self._clock.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.02)
            for c in started:
                _signal_group(c, signal.SIGKILL)
                # Members that moved to a group of their own are still in the session.
                if _is_ours(c):
                    for member in await asyncio.to_thread(session_members, _pid(c)):
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(member, signal.SIGKILL)
            for c in started:
                await self._drain(c)
                if self._guard is not None:
                    self._guard.untrack(_pid(c))
        finally:
            self._ports.release([c.ports for c in self._containers])
            if self._http is not None:
                await self._http.close()
                self._http = None
            self._stopped.set()

    async def _drain(self, c: _Container) -> None:
        wait, pump = c.tasks[1], c.tasks[0]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(wait), 5.0)
        done, _ = await asyncio.wait([pump], timeout=_PUMP_DRAIN_TIMEOUT)
        await self._cancel([t for t in c.tasks if t not in done])
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("log pump of %s failed: %r", c.name, task.exception())

    @staticmethod
    async def _cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _pid(c: _Container) -> int:
    assert c.proc is not None
    return c.proc.pid


def _is_ours(c: _Container) -> bool:
    """Whether group/session ``pid`` is still this container's: a group id can be reused once
    the group is empty, and then its new leader has another start time."""
    stat = read_stat(_pid(c))
    return stat is None or stat[2] == c.start_ticks


def _signal_group(c: _Container, sig: int) -> None:
    if _is_ours(c):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(_pid(c), sig)


def _group_alive(c: _Container) -> bool:
    if not _is_ours(c):
        return False
    try:
        os.killpg(_pid(c), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


