"""``RayLauncher``: endpoint instances on the nodes of a Ray cluster, one detached actor each.

Ray Core is the control plane only: it places each instance's agent on a node (SPREAD over
nodes, resources from the instance type) and keeps that process alive. The actor runs the same
``InstanceAgent`` as local mode; its containers bind the node's own address and the handle
reports that host and the ports, so the router talks HTTP to them directly. Ray is never on the
request path. The agent ships its containers' log lines and usage samples to the server's API
(``LogShipper`` / ``MetricShipper``), so it holds no store connection.

Replacement stays tandem's, as SageMaker's: actors run with ``max_restarts=0`` (a restart by
Ray would keep the instance id), and an actor's death (the agent killed, its node lost) becomes
an ``InstanceUnhealthy`` event, so the reconciler replaces the instance with a new id. Ray's
subreaper flag is never set (exit codes would read 0); the agent keeps its own fate-sharing
(``PR_SET_PDEATHSIG`` and a reaper), so a killed actor leaves no container behind.

This is the only module that imports ``ray``, and only when a ``RayLauncher`` connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tandem.errors import InvalidParameterValue, ResourceNotFound
from tandem.serving.event_feed import EventFeed, Numbered
from tandem.serving.instance_types import instance_resources
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
    LineCallback,
    StartProblem,
)
from tandem.telemetry.shipping import ShipperConfig

__all__ = ["RayLauncher", "RAY_NAMESPACE", "actor_name", "parse_ray_address"]

log = logging.getLogger(__name__)

# Every actor tandem makes lives in this Ray namespace: names never collide with other drivers'.
RAY_NAMESPACE = "tandem"
# How long one events() call waits in the actor before answering "nothing yet".
_POLL_SECONDS = 20.0
# Beyond the grace period, how long a stop may take before the actor is killed regardless.
_STOP_SLACK = 30.0
_CONNECT_TIMEOUT = 5.0
_UNAVAILABLE_RETRY = 1.0
# An agent unreachable this long is gone even where Ray cannot say so: a node's raylet exits
# after 60 s without the head's GCS (taking its actors), and a head restarted without GCS fault
# tolerance knows no actor of the old cluster, whose calls then fail as unavailable, never as
# dead (measured with Ray 2.60: docs/scale-out.md).
_UNAVAILABLE_LIMIT = 90.0
_CLOSED = object()


def actor_name(spec: InstanceSpec) -> str:
    return f"tandem/{spec.endpoint_name}/{spec.variant_name}/{spec.instance_id}"


def parse_ray_address(launcher: str) -> str:
    """``ray://HOST:PORT`` (the setting) as ``HOST:PORT`` (what ``ray.init`` takes)."""
    return launcher.removeprefix("ray://")


def _ray() -> Any:
    import ray  # the optional extra tandem[ray]: imported only when a cluster is used

    return ray


_actor_class: Any = None


def _agent_actor_class() -> Any:
    # Registered with Ray once per driver (each ray.remote call exports the class again).
    global _actor_class
    if _actor_class is None:
        _actor_class = _ray().remote(_AgentActor)
    return _actor_class


class _AgentActor:
    """One instance's agent inside a Ray actor (an async actor: its methods share one loop)."""

    def __init__(
        self, spec: InstanceSpec, shipper: ShipperConfig, usage_interval: float,
        unhealthy_threshold: int, agent_dir: str,
    ) -> None:  # fmt: skip
        self.spec = spec
        self.shipper = shipper
        self.usage_interval = usage_interval
        self.unhealthy_threshold = unhealthy_threshold
        self.agent_dir = Path(agent_dir)
        self.feed = EventFeed()
        self.agent: Any = None
        self.ready: tuple[str, dict[str, int]] | None = None  # (host, ports) once started
        self.logs: Any = None
        self.metrics: Any = None
        self.fate: Any = None
        # A container's exit status must read as the kernel gave it (Ray's subreaper mode
        # ignores SIGCHLD, which makes a SIGKILLed child's status read 0).
        with contextlib.suppress(ValueError):  # not the main thread: nothing to reset there
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    async def start(self) -> tuple[str, dict[str, int], str | None, list[StartProblem]]:
        """(host, ports, None, []) once every container answers /ping, else (host, {}, the
        failure reason, the problems) with everything stopped."""
        from tandem.serving.agent import InstanceAgent
        from tandem.serving.ports import PortAllocator
        from tandem.supervision import FateSharing
        from tandem.telemetry.shipping import LogShipper, MetricShipper

        host = _ray().util.get_node_ip_address()
        self.logs = LogShipper(self.shipper)
        self.metrics = MetricShipper(self.shipper)
        await self.logs.start()
        await self.metrics.start()
        self.fate = FateSharing(self.agent_dir)
        await asyncio.to_thread(self.fate.start)
        self.agent = InstanceAgent(
            self.spec, self.metrics, self.logs, on_event=self.feed.put,
            ports=PortAllocator(host=host), guard=self.fate,
            usage_interval=self.usage_interval, unhealthy_threshold=self.unhealthy_threshold,
            host=host,
        )  # fmt: skip
        try:
            handle = await self.agent.start()
        except InstanceStartFailed as exc:
            await self._release()
            return host, {}, exc.reason, list(exc.problems)
        # InstanceReady is in the result; events() reports only what happens after it.
        self.feed.acknowledge(self.feed.last)
        self.ready = host, dict(handle.ports)
        return host, dict(handle.ports), None, []

    async def describe(self) -> tuple[InstanceSpec, tuple[str, dict[str, int]] | None, str]:
        """(spec, (host, ports) once started, agent dir), for a server attaching to it."""
        return self.spec, self.ready, str(self.agent_dir)

    async def next_events(self, after: int, timeout: float) -> list[Numbered]:
        """The events numbered after ``after`` (those up to it are acknowledged and dropped);
        waits up to ``timeout`` s for a first one."""
        return await self.feed.after(after, timeout)

    async def stop(self, grace: float | None) -> None:
        """SIGTERM, grace, SIGKILL (the agent's stop), then deliver the last telemetry."""
        if self.agent is not None:
            await self.agent.stop(grace)
        await self._release()

    async def _release(self) -> None:
        if self.logs is not None:
            await self.logs.stop()
        if self.metrics is not None:
            await self.metrics.stop()
        if self.fate is not None:
            await asyncio.to_thread(self.fate.close)


class RayLauncher:
    """The ``Launcher`` over a Ray cluster: joins it as a driver on first use."""

    def __init__(
        self,
        address: str,
        server_url: Callable[[], str],
        data_dir: Path,
        *,
        region: str = "us-east-1",
        usage_interval: float = 5.0,
        logs_flush_interval: float = 0.2,
        metrics_flush_interval: float = 5.0,
        unhealthy_threshold: int = 3,
        resource_scale: float = 1.0,
        placement_timeout: float = 120.0,
        credentials: tuple[str, str] = ("tandem", "tandem"),
        leave_running: bool = False,
        unavailable_limit: float = _UNAVAILABLE_LIMIT,
    ) -> None:
        self.address = address  # HOST:PORT of the head's GCS
        self._server_url = server_url
        self._data_dir = Path(data_dir).absolute()
        self._region = region
        self._usage_interval = usage_interval
        self._logs_flush_interval = logs_flush_interval
        self._metrics_flush_interval = metrics_flush_interval
        self._unhealthy_threshold = unhealthy_threshold
        self._resource_scale = resource_scale
        self._placement_timeout = placement_timeout
        # The key agents sign their PutLogEvents/PutMetricData with (a server run with --auth
        # takes only its own keys).
        self._credentials = credentials
        # The server's way: its actors are detached and outlive it, so a restarted server
        # attaches to them (``recover``) instead of restarting their containers.
        self._leave_running = leave_running
        self._unavailable_limit = unavailable_limit
        self._connected = False
        self._connecting = asyncio.Lock()
        self._closed = False
        self._actors: dict[str, Any] = {}
        self._handles: dict[str, InstanceHandle] = {}
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._stopping: set[str] = set()
        self._queue: asyncio.Queue[_Delivery | object] = asyncio.Queue()

    # -- connection -------------------------------------------------------------------------

    async def _check_head(self) -> None:
        """Fail at once, naming the head, when its GCS port does not answer: ray.init and
        actor creation against a dead head retry for a minute or more instead."""
        host, _, port = self.address.rpartition(":")
        try:
            sock = await asyncio.to_thread(
                socket.create_connection, (host, int(port)), _CONNECT_TIMEOUT)
        except OSError as exc:
            raise InstanceStartFailed(
                f"The Ray head at {self.address} is unreachable ({exc}); no instance can "
                "be placed until it is back."
            ) from None
        sock.close()

    async def _connect(self) -> None:
        await self._check_head()  # on every start: the head may have gone since the last
        async with self._connecting:
            if self._connected:
                return
            ray = await asyncio.to_thread(_ray)  # importing ray takes a second: off the loop
            try:
                await asyncio.to_thread(
                    ray.init, address=self.address, namespace=RAY_NAMESPACE,
                    logging_level=logging.ERROR, log_to_driver=False,
                    configure_logging=False,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - any failure to join is the same problem
                raise InstanceStartFailed(
                    f"Could not join the Ray cluster at {self.address}: {exc}"
                ) from None
            self._connected = True

    # -- Launcher ---------------------------------------------------------------------------

    async def start_instance(
        self, spec: InstanceSpec, *, on_line: LineCallback | None = None
    ) -> InstanceHandle:
        if self._closed:
            raise InvalidParameterValue("The launcher is closed.")
        if on_line is not None:
            raise InvalidParameterValue("A Ray launcher does not pass log lines to callbacks.")
        if spec.instance_id in self._actors:
            raise InvalidParameterValue(f"Instance {spec.instance_id} is already running.")
        await self._connect()
        agent_dir = self._data_dir / "agents" / spec.instance_id
        shipper = ShipperConfig(
            server_url=self._server_url(), spool_dir=agent_dir / "spool", region=self._region,
            flush_interval=self._logs_flush_interval,
            metrics_flush_interval=self._metrics_flush_interval,
            access_key_id=self._credentials[0], secret_access_key=self._credentials[1],
        )  # fmt: skip
        options = self._placement(spec)
        try:
            actor = await asyncio.to_thread(
                lambda: _agent_actor_class().options(**options).remote(
                    spec, shipper, self._usage_interval, self._unhealthy_threshold,
                    str(agent_dir / "fate"),
                )
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - e.g. the head went away since connecting
            if isinstance(exc, _ray().exceptions.AuthenticationError):
                await self._forget_cluster(exc)
                raise InstanceStartFailed(
                    f"The Ray cluster at {self.address} was restarted without its state (GCS "
                    "fault tolerance is off), so every actor of the old one is gone: joining "
                    f"it again for the next try ({_describe(exc)})", spec.instance_id,
                ) from None  # fmt: skip
            raise InstanceStartFailed(
                f"The Ray cluster at {self.address} did not take instance "
                f"{spec.instance_id}: {exc}", spec.instance_id,
            ) from None  # fmt: skip
        self._actors[spec.instance_id] = actor  # stop_instance/close see it while it starts
        # Ray keeps an actor no node can take pending forever (and says nothing): bound it.
        limit = spec.health_check_timeout + self._placement_timeout
        try:
            host, ports, reason, problems = await asyncio.wait_for(actor.start.remote(), limit)
        except BaseException as exc:
            self._actors.pop(spec.instance_id, None)
            await asyncio.to_thread(_kill, actor)
            if isinstance(exc, TimeoutError):
                raise InstanceStartFailed(
                    f"Instance {spec.instance_id} was not placed and started on the Ray cluster "
                    f"at {self.address} within {limit:g} s: no node may have "
                    f"{_asked(options)} free.", spec.instance_id,
                ) from None  # fmt: skip
            if isinstance(exc, Exception):
                raise InstanceStartFailed(
                    f"The agent of instance {spec.instance_id} failed on the Ray cluster at "
                    f"{self.address}: {_describe(exc)}", spec.instance_id,
                ) from None  # fmt: skip
            raise
        if reason is not None:
            self._actors.pop(spec.instance_id, None)
            await asyncio.to_thread(_kill, actor)
            raise InstanceStartFailed(reason, spec.instance_id, problems)
        handle = self._watch(spec, actor, host, ports)
        self._queue.put_nowait(_Delivery(InstanceReady(spec.instance_id, host, dict(ports))))
        return handle

    def _watch(self, spec: InstanceSpec, actor: Any, host: str, ports: dict[str, int]
               ) -> InstanceHandle:  # fmt: skip
        handle = InstanceHandle(spec.instance_id, spec, InstanceStatus.IN_SERVICE, host, ports)
        self._actors[spec.instance_id] = actor
        self._handles[spec.instance_id] = handle
        self._polls[spec.instance_id] = asyncio.create_task(
            self._poll(handle, actor), name=f"events {spec.instance_id}")
        return handle

    async def recover(self) -> list[InstanceHandle]:
        """Attach to the instance actors a previous server on this data dir started: each
        by its name, with the spec, host and ports it reports, its events polled again (those
        it queued meanwhile included). Another data dir's (another server sharing the cluster)
        are left alone; one that never finished starting is killed."""
        if self._closed:
            raise InvalidParameterValue("The launcher is closed.")
        await self._connect()
        ray = _ray()
        try:
            names = await asyncio.to_thread(ray.util.list_named_actors, all_namespaces=True)
        except Exception as exc:  # noqa: BLE001 - e.g. the head went away since connecting
            raise InstanceStartFailed(
                f"Could not list the actors of the Ray cluster at {self.address}: "
                f"{_describe(exc)}"
            ) from None
        found = []
        for entry in names:
            name = entry["name"]
            if entry["namespace"] != RAY_NAMESPACE or not name.startswith("tandem/"):
                continue
            try:
                actor = await asyncio.to_thread(ray.get_actor, name, namespace=RAY_NAMESPACE)
                described = await asyncio.wait_for(actor.describe.remote(), _CONNECT_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - gone meanwhile, or not answering
                log.warning("actor %s: cannot attach to it: %s", name, _describe(exc))
                continue
            spec, ready, agent_dir = described
            if Path(agent_dir).parent.parent != self._data_dir / "agents":
                continue  # agents/<instance id>/fate under another server's data dir
            if spec.instance_id in self._actors:
                continue
            if ready is None:
                log.warning("actor %s never finished starting: killing it", name)
                await asyncio.to_thread(_kill, actor)
                continue
            found.append(self._watch(spec, actor, *ready))
        return found

    async def _forget_cluster(self, exc: BaseException) -> None:
        """The head came back as a new cluster (no GCS fault tolerance: Ray 2.60 answers every
        call of a driver of the old one with AuthenticationError WrongClusterID, for good).
        Every instance this launcher watches went with the old cluster: report each dead, and
        leave it so that the next start joins the new one."""
        reason = (f"The Ray cluster at {self.address} was restarted without its state; its "
                  f"agent is gone with the old cluster ({_describe(exc)})")  # fmt: skip
        polls = list(self._polls.values())
        for poll in polls:
            poll.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        self._polls.clear()
        for handle in self._handles.values():
            self._lost(handle, reason)
        self._handles.clear()
        self._actors.clear()
        async with self._connecting:
            if self._connected:
                self._connected = False
                await asyncio.to_thread(_ray().shutdown)

    def _placement(self, spec: InstanceSpec) -> dict[str, Any]:
        if spec.instance_type is None:
            raise InvalidParameterValue(
                f"Instance {spec.instance_id} has no instance type to place it by.")
        need = instance_resources(spec.instance_type)
        scale = self._resource_scale
        return {
            "name": actor_name(spec),
            "namespace": RAY_NAMESPACE,
            "lifetime": "detached",  # outlives this driver: a restarted server finds it by name
            "max_restarts": 0,  # tandem replaces, with a new id
            "max_task_retries": 0,
            "scheduling_strategy": "SPREAD",
            "num_cpus": need.vcpus * scale,
            "memory": int(need.memory_mib * 1024 * 1024 * scale),
            "num_gpus": need.gpus,
        }

    async def _poll(self, handle: InstanceHandle, actor: Any) -> None:
        """Long-poll the actor for its agent's events; its death is the instance's.

        Each poll acknowledges the events the last one brought, once the reader of
        ``events()`` has taken them: the actor keeps an event until then, so one lost with a
        killed server reaches the next server that attaches (which polls from 0)."""
        iid = handle.instance_id
        unavailable = _ray().exceptions.ActorUnavailableError
        handled = 0  # the last sequence number applied and taken by the reader
        loop = asyncio.get_running_loop()
        unavailable_since: float | None = None
        while True:
            try:
                numbered = await actor.next_events.remote(handled, _POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except unavailable as exc:
                # Not reachable for now (a network blip, its node restarting, the head down):
                # Ray reports ActorDiedError if it is gone for good; until then the instance
                # may be alive and serving, and the router's own errors eject it if not. Past
                # the limit it is taken for dead (see _UNAVAILABLE_LIMIT).
                now = loop.time()
                if unavailable_since is None:
                    unavailable_since = now
                if now - unavailable_since < self._unavailable_limit:
                    await asyncio.sleep(_UNAVAILABLE_RETRY)
                    continue
                if iid in self._stopping:
                    return
                reason = (f"Its agent on {handle.host} has been unreachable for "
                          f"{self._unavailable_limit:g} s: {_describe(exc)}")  # fmt: skip
                self._lost(handle, reason)
                return
            except Exception as exc:  # noqa: BLE001 - ActorDiedError, node lost
                if iid in self._stopping:
                    return
                self._lost(handle, f"Its agent on {handle.host} is gone: {_describe(exc)}")
                return
            unavailable_since = None
            handled = await self._deliver(handle, handled, numbered)

    def _lost(self, handle: InstanceHandle, reason: str) -> None:
        handle.status = InstanceStatus.FAILED
        handle.failure_reason = reason
        self._queue.put_nowait(_Delivery(InstanceUnhealthy(handle.instance_id, "agent", reason)))

    async def _deliver(self, handle: InstanceHandle, handled: int, numbered: list[Numbered]
                       ) -> int:  # fmt: skip
        """Apply and queue the events numbered after ``handled`` (each sequence number once,
        though a poll may repeat one), wait until the reader has taken them, and return the
        new last handled number."""
        fresh = [(seq, event) for seq, event in numbered if seq > handled]
        if not fresh:
            return handled
        taken = asyncio.get_running_loop().create_future()
        for i, (_, event) in enumerate(fresh):
            self._apply(handle, event)
            self._queue.put_nowait(_Delivery(event, taken if i == len(fresh) - 1 else None))
        await taken  # the queue is in order: the last one taken means all were
        return fresh[-1][0]

    @staticmethod
    def _apply(handle: InstanceHandle, event: InstanceEvent) -> None:
        if isinstance(event, ContainerExited):
            handle.returncodes[event.container] = event.returncode
            handle.status = InstanceStatus.UNHEALTHY
            handle.failure_reason = f"The container {event.container} exited."
        elif isinstance(event, InstanceUnhealthy):
            handle.status = InstanceStatus.UNHEALTHY
            handle.failure_reason = event.reason

    async def stop_instance(self, instance_id: str, grace_s: float | None = None) -> None:
        actor = self._actors.get(instance_id)
        handle = self._handles.get(instance_id)
        if actor is None or handle is None:
            raise ResourceNotFound(f"Instance {instance_id} is not running here.")
        self._stopping.add(instance_id)
        handle.status = InstanceStatus.STOPPING
        grace = handle.spec.stop_grace_period if grace_s is None else grace_s
        try:
            await asyncio.wait_for(actor.stop.remote(grace), grace + _STOP_SLACK)
        except Exception as exc:  # noqa: BLE001 - a dead agent took its containers with it
            log.warning("instance %s: the agent's stop failed: %s", instance_id, _describe(exc))
        finally:
            poll = self._polls.pop(instance_id, None)
            if poll is not None:
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await poll
            await asyncio.to_thread(_kill, actor)
            self._actors.pop(instance_id, None)
            self._handles.pop(instance_id, None)
            self._stopping.discard(instance_id)
            handle.status = InstanceStatus.STOPPED
            self._queue.put_nowait(_Delivery(InstanceStopped(instance_id)))

    def instances(self) -> list[InstanceHandle]:
        return list(self._handles.values())

    async def events(self) -> AsyncIterator[InstanceEvent]:
        """Every event of every instance, in order, until ``close`` (one reader)."""
        while True:
            item = await self._queue.get()
            if not isinstance(item, _Delivery):  # _CLOSED
                self._queue.put_nowait(item)
                return
            yield item.event
            # The reader asks for the next one: it has handled this one.
            if item.taken is not None and not item.taken.done():
                item.taken.set_result(None)

    async def close(self) -> None:
        """Stop every instance this launcher runs (or with ``leave_running``, only stop
        watching them) and leave the cluster."""
        if self._closed:
            return
        self._closed = True
        if self._leave_running:
            for poll in self._polls.values():
                poll.cancel()
            await asyncio.gather(*self._polls.values(), return_exceptions=True)
            self._polls.clear()
        else:
            await asyncio.gather(
                *(self.stop_instance(iid) for iid in list(self._actors)), return_exceptions=True
            )
        self._queue.put_nowait(_CLOSED)
        if self._connected:
            await asyncio.to_thread(_ray().shutdown)
            self._connected = False


@dataclasses.dataclass(frozen=True)
class _Delivery:
    event: InstanceEvent
    taken: asyncio.Future[None] | None = None  # resolved once the reader has handled it


def _kill(actor: Any) -> None:
    with contextlib.suppress(Exception):  # already dead: nothing to kill
        _ray().kill(actor, no_restart=True)


def _asked(options: dict[str, Any]) -> str:
    cpus, memory, gpus = options["num_cpus"], options["memory"], options["num_gpus"]
    text = f"{cpus:g} CPUs and {memory / 2**30:g} GiB of memory"
    return text + (f" and {gpus} GPUs" if gpus else "")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]
