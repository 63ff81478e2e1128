"""``RayLauncher``: endpoint instances on the nodes of a Ray cluster, one detached actor each.

Ray Core is the control plane only: it places each instance's agent on a node (SPREAD over
nodes, resources from the instance type) and keeps that process alive. The actor runs the same
``InstanceAgent`` as local mode; its containers bind the node's own address and the handle
reports that host and the ports, so the router talks HTTP to them directly. Ray is never on the
request path. The agent ships its containers' log lines and usage samples to the server's API
(``LogShipper`` / ``MetricShipper``), so it holds no store connection.

The spec names no directory of the server's host: the agent unpacks model data and code under
its own instance root on the node (``<agent_work_dir>/instances/<endpoint>/<instance-id>``),
fetching s3:// locations through the server's S3 API with the same key it ships telemetry
with (or, with ``s3_endpoint_url`` set, from that store with the node's own credentials). A
local tarball the spec names (a path on the server's host) travels in the Ray object store
when it is at most ``CARRY_LIMIT`` bytes; a larger one, and a local directory, must be on a
path the node shares.

Replacement stays tandem's, as SageMaker's: actors run with ``max_restarts=0`` (a restart by
Ray would keep the instance id), and an actor's death (the agent killed, its node lost) becomes
an ``InstanceUnhealthy`` event, so the reconciler replaces the instance with a new id. Ray's
subreaper flag is never set (exit codes would read 0); the agent keeps its own fate-sharing
(``PR_SET_PDEATHSIG`` and a reaper), so a killed actor leaves no container behind.

Jobs place their hosts in two steps (``reserve_hosts`` then ``start_instance(slot=)``): the
actors of a job are made first, together in a placement group (STRICT_SPREAD, one per node,
when enough nodes could take one; SPREAD otherwise), each reporting its node's address and a
port it leased there, so every host's environment can name every peer before any starts. For
instances that ask (a training job's metric definitions read its lines), the actor returns the
containers' log lines with its events; the handle's ``wait()`` resolves once the actor reports
every container exited, after the last of those lines.

This is the only module that imports ``ray``, and only when a ``RayLauncher`` connects.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from tandem.errors import InvalidParameterValue, ResourceNotFound, TandemError
from tandem.objects.locations import is_s3_uri
from tandem.serving.event_feed import EventFeed, Numbered
from tandem.serving.instance_types import instance_resources
from tandem.serving.launcher import (
    ContainerExited,
    HostsLost,
    HostSlot,
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
    new_instance_id,
)
from tandem.serving.outputs import unpack_outputs
from tandem.telemetry.shipping import ShipperConfig

__all__ = ["RayLauncher", "RAY_NAMESPACE", "CARRY_LIMIT", "actor_name", "parse_ray_address"]

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
# The largest local model or code tarball a start carries to the node through the Ray object
# store (each start puts its own copy there); larger ones belong in S3.
CARRY_LIMIT = 256 * 1024 * 1024
# What an actor queues besides InstanceEvents: ("line", text, ms) for an instance whose lines
# were asked for; ("exited", returncodes, last lines by container) once every container exited.
_LINE = "line"
_EXITED = "exited"
# How many items an actor holds for a driver that is not polling; past it, new lines are
# dropped (counted) and reach the log stream only, not the driver's callback.
_LINE_BUFFER = 100_000
_KEPT_LINES = 20
# Killed with its agent (the actor died): the exit status a host's wait() reports.
_LOST = -signal.SIGKILL
# The drivers of this process share one Ray connection (the endpoints' and the jobs' launcher).
_joined: set[int] = set()


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
        self, spec: InstanceSpec | None, shipper: ShipperConfig, usage_interval: float,
        unhealthy_threshold: int, agent_dir: str,
    ) -> None:  # fmt: skip
        self.spec = spec  # None while only reserved: start() brings it
        self.shipper = shipper
        self.usage_interval = usage_interval
        self.unhealthy_threshold = unhealthy_threshold
        self.agent_dir = Path(agent_dir)
        # Events, and lines where asked for, numbered and kept until a poll acknowledges them.
        self.feed = EventFeed()
        self.dropped_lines = 0
        self.lease: Any = None  # the port reserve() leased, held while the actor lives
        self.exit_watch: asyncio.Task[None] | None = None
        self.agent: Any = None
        self.ready: tuple[str, dict[str, int]] | None = None  # (host, ports) once started
        self.root: Path | None = None  # the instance root on this node, once started
        self.packed: bytes | None = None  # the spec's outputs, packed once its containers exit
        self.logs: Any = None
        self.metrics: Any = None
        self.fate: Any = None
        # A container's exit status must read as the kernel gave it (Ray's subreaper mode
        # ignores SIGCHLD, which makes a SIGKILLed child's status read 0).
        with contextlib.suppress(ValueError):  # not the main thread: nothing to reset there
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    async def reserve(self) -> tuple[str, int]:
        """(this node's address, a free port on it) for a host whose peers must know both
        before it starts."""
        from tandem.serving.ports import PortAllocator

        host = _ray().util.get_node_ip_address()
        if self.lease is None:
            (self.lease,) = PortAllocator(host=host).allocate(1)
        return host, self.lease.bind_port

    async def start(
        self, spec: InstanceSpec | None = None, want_lines: bool = False,
        root: str | None = None, carried: dict[str, Any] | None = None,
        s3_endpoint_url: str = "",
    ) -> tuple[str, dict[str, int], str | None, list[StartProblem]]:
        """(host, ports, None, []) once every container answers /ping, else (host, {}, the
        failure reason, the problems) with everything stopped. ``spec`` is given to an actor
        made by ``reserve_hosts``; with ``want_lines`` the containers' lines are queued.
        ``root`` is the instance root on this node, ``carried`` the object refs of the local
        files carried to it, ``s3_endpoint_url`` the server's setting ("" for its own S3)."""
        from tandem.objects.remote import RemoteLocations
        from tandem.serving.agent import InstanceAgent
        from tandem.serving.fetching import ArtifactSource, server_locations
        from tandem.serving.ports import PortAllocator
        from tandem.supervision import FateSharing
        from tandem.telemetry.shipping import LogShipper, MetricShipper

        if spec is not None:
            self.spec = spec
        assert self.spec is not None, "an actor made without a spec is given one by start()"
        host = _ray().util.get_node_ip_address()
        self.logs = LogShipper(self.shipper)
        self.metrics = MetricShipper(self.shipper)
        await self.logs.start()
        await self.metrics.start()
        self.fate = FateSharing(self.agent_dir)
        await asyncio.to_thread(self.fate.start)
        files = {location: await ref for location, ref in (carried or {}).items()}
        # tandem's own S3 through the server's API; another store with this node's own
        # credential chain, as the server reaches it.
        url = s3_endpoint_url
        objects = (server_locations(self.shipper) if not url
                   else RemoteLocations(None if url == "aws" else url, self.shipper.region))
        source = ArtifactSource(
            objects, files,
            elsewhere=f"on {host} (a local file over {CARRY_LIMIT // 2**20} MiB is not carried "
                      "to the node: put it in S3 or on a path every node shares)",
        )  # fmt: skip
        self.root = Path(root) if root is not None else self.spec.work_dir
        self.agent = InstanceAgent(
            self.spec, self.metrics, self.logs, on_event=self.feed.put,
            ports=PortAllocator(host=host), guard=self.fate,
            usage_interval=self.usage_interval, unhealthy_threshold=self.unhealthy_threshold,
            host=host, on_line=self._line if want_lines else None,
            root=Path(root) if root is not None else None, source=source,
        )  # fmt: skip
        try:
            handle = await self.agent.start()
        except InstanceStartFailed as exc:
            await self._release()
            return host, {}, exc.reason, list(exc.problems)
        except TandemError as exc:  # model data or code that cannot be fetched or unpacked
            await self._release()
            return host, {}, exc.message, []
        # InstanceReady is in the result; events() reports only what happens after it (the
        # lines written meanwhile stay).
        self.feed.discard(lambda item: isinstance(item, InstanceEvent))
        self.ready = host, dict(handle.ports)
        self.exit_watch = asyncio.create_task(self._watch_exits(handle))
        return host, dict(handle.ports), None, []

    def _line(self, line: str, timestamp: int) -> None:
        if len(self.feed) >= _LINE_BUFFER:
            if not self.dropped_lines:
                log.warning("%s: no server is reading its lines: dropping them (its log "
                            "stream still has them)", self.agent_dir.parent.name)
            self.dropped_lines += 1
            return
        self.feed.put((_LINE, line, timestamp))

    async def _watch_exits(self, handle: InstanceHandle) -> None:
        """Once every container exited and its output was read: ("exited", ...)."""
        codes = await handle.wait()
        self.feed.put((_EXITED, dict(codes), self._last_lines()))

    async def collect(self) -> bytes:
        """The spec's outputs under the instance root, packed (``outputs.pack_outputs``), once
        every container has exited; the same bytes for every later call.

        They travel back as this call's result, through the Ray object store, like the inputs
        that were carried here: the node needs no credentials or route to anything but the
        driver that placed it, and a lost node loses nothing the server already holds."""
        from tandem.serving.outputs import pack_outputs

        assert self.spec is not None and self.agent is not None and self.root is not None
        if self.packed is None:
            await self.agent.handle.wait()
            self.packed = await asyncio.to_thread(pack_outputs, self.root, self.spec.outputs)
        return self.packed

    def _last_lines(self) -> dict[str, list[str]]:
        assert self.spec is not None
        if self.agent is None:
            return {}
        return {c.name: self.agent.handle.last_lines(c.name) for c in self.spec.containers}

    async def describe(
        self, ship_to: str = "",
    ) -> tuple[InstanceSpec | None, tuple[str, dict[str, int]] | None, str]:
        """(spec, (host, ports) once started, agent dir), for a server attaching to it;
        ``ship_to`` (when given) is that server's URL, where telemetry goes from now on: the
        server that started it may be gone (a standby took the lead)."""
        if ship_to and ship_to.rstrip("/") != self.shipper.server_url:
            log.warning("%s: shipping telemetry to %s from now on (was %s)",
                        self.agent_dir.parent.name, ship_to, self.shipper.server_url)
            self.shipper = dataclasses.replace(self.shipper, server_url=ship_to)
            for shipper in (self.logs, self.metrics):
                if shipper is not None:
                    shipper.ship_to(ship_to)
        return self.spec, self.ready, str(self.agent_dir)

    async def next_events(self, after: int, timeout: float) -> list[Numbered]:
        """The items numbered after ``after`` (events, and lines where asked for; those up to
        it are acknowledged and dropped); waits up to ``timeout`` s for a first one."""
        return await self.feed.after(after, timeout)

    async def stop(self, grace: float | None) -> tuple[dict[str, int], dict[str, list[str]]]:
        """SIGTERM, grace, SIGKILL (the agent's stop), then deliver the last telemetry; the
        containers' exit statuses and last lines."""
        codes: dict[str, int] = {}
        if self.agent is not None:
            await self.agent.stop(grace)
            codes = dict(self.agent.handle.returncodes)
        if self.exit_watch is not None:
            self.exit_watch.cancel()
        await self._release()
        return codes, self._last_lines() if self.spec is not None else {}

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
        detached: bool = True,
        report_events: bool = True,
        agent_work_dir: Path | None = None,
        s3_endpoint_url: str = "",
        unavailable_limit: float = _UNAVAILABLE_LIMIT,
    ) -> None:
        self.address = address  # HOST:PORT of the head's GCS
        self._server_url = server_url
        self._data_dir = Path(data_dir).absolute()
        # Where agents keep instance roots on their nodes (default: the data dir's path).
        self._work_dir = (Path(agent_work_dir).absolute() if agent_work_dir is not None
                          else self._data_dir)
        self._s3_endpoint_url = s3_endpoint_url
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
        self.outlives_server = leave_running and detached
        # A detached actor outlives this driver (endpoints); a job's dies with it.
        self._detached = detached
        # Without a reader of events() (the jobs' launcher), queued events would only pile up.
        self._report_events = report_events
        self._connected = False
        self._connecting = asyncio.Lock()
        self._closed = False
        self._actors: dict[str, Any] = {}
        self._handles: dict[str, InstanceHandle] = {}
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._stopping: set[str] = set()
        self._queue: asyncio.Queue[_Delivery | object] = asyncio.Queue()
        self._unavailable_limit = unavailable_limit
        # Reserved, not yet started: instance id -> (actor, its placement group's key).
        self._reserved: dict[str, tuple[Any, str]] = {}
        # Placement groups by key, with the instance ids still holding a bundle of each.
        self._groups: dict[str, tuple[Any, set[str]]] = {}
        # Per started instance: its exit statuses once known, its lines' callback, last lines.
        self._exits: dict[str, asyncio.Future[dict[str, int]]] = {}
        self._on_line: dict[str, LineCallback] = {}
        self._last: dict[str, dict[str, collections.deque[str]]] = {}
        # Per started instance whose spec names outputs: bringing them back (once).
        self._collects: dict[str, asyncio.Task[None]] = {}

    def _report(self, event: InstanceEvent,
                taken: asyncio.Future[None] | None = None) -> bool:  # fmt: skip
        """Queue ``event`` for the reader of ``events()``; ``taken`` resolves once the reader
        has handled it. False (nothing queued) for a launcher nobody reads events from."""
        if not self._report_events:
            return False
        self._queue.put_nowait(_Delivery(event, taken))
        return True

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
                # Another launcher of this process (endpoints, jobs) may have joined: share it.
                if not _joined or not ray.is_initialized():
                    await asyncio.to_thread(
                        ray.init, address=self.address, namespace=RAY_NAMESPACE,
                        logging_level=logging.ERROR, log_to_driver=False,
                        configure_logging=False,
                    )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - any failure to join is the same problem
                raise InstanceStartFailed(
                    f"Could not join the Ray cluster at {self.address}: {exc}"
                ) from None
            _joined.add(id(self))
            self._connected = True

    async def join(self) -> None:
        """Join the cluster now rather than at the first start or ``recover``: a standby does,
        so that taking the lead does not wait for importing ray and ``ray.init`` (2-3 s on a
        loaded 2-core machine). Raises InstanceStartFailed as a start would."""
        await self._connect()

    # -- Launcher ---------------------------------------------------------------------------

    def _actor_args(self, instance_id: str, spec: InstanceSpec | None) -> tuple[Any, ...]:
        agent_dir = self._data_dir / "agents" / instance_id
        shipper = ShipperConfig(
            server_url=self._server_url(), spool_dir=agent_dir / "spool", region=self._region,
            flush_interval=self._logs_flush_interval,
            metrics_flush_interval=self._metrics_flush_interval,
            access_key_id=self._credentials[0], secret_access_key=self._credentials[1],
        )  # fmt: skip
        return (spec, shipper, self._usage_interval, self._unhealthy_threshold,
                str(agent_dir / "fate"))  # fmt: skip

    async def _start_args(self, spec: InstanceSpec) -> tuple[str, dict[str, Any], str]:
        """The instance root on the node, the local tarballs carried to it, the S3 setting."""
        root = self._work_dir / "instances" / spec.endpoint_name / spec.instance_id
        try:
            carried = await asyncio.to_thread(_carry, spec)
        except Exception as exc:  # noqa: BLE001 - e.g. the head went away since connecting
            raise InstanceStartFailed(
                f"The Ray cluster at {self.address} did not take the files of instance "
                f"{spec.instance_id}: {_describe(exc)}", spec.instance_id,
            ) from None  # fmt: skip
        return str(root), carried, self._s3_endpoint_url

    async def reserve_hosts(
        self, group: str, host_names: Sequence[str], instance_type: str | None
    ) -> list[HostSlot]:
        """One actor per host in one placement group: STRICT_SPREAD (each on its own node)
        when at least as many alive nodes could each take one host, else SPREAD. Each
        reports its node's address and a port it leased there."""
        if self._closed:
            raise InvalidParameterValue("The launcher is closed.")
        if instance_type is None:
            raise InvalidParameterValue(f"Hosts of {group} have no instance type to place by.")
        await self._connect()
        ray = _ray()
        resources = self._resources(instance_type)
        bundle = {"CPU": resources["num_cpus"], "memory": resources["memory"]}
        if resources["num_gpus"]:
            bundle["GPU"] = resources["num_gpus"]
        try:
            nodes = await asyncio.to_thread(ray.nodes)
        except Exception as exc:  # noqa: BLE001 - e.g. the head went away since connecting
            raise InstanceStartFailed(
                f"Could not list the nodes of the Ray cluster at {self.address}: "
                f"{_describe(exc)}") from None  # fmt: skip
        fitting = sum(1 for node in nodes if node.get("Alive") and _fits(node, bundle))
        strategy = "STRICT_SPREAD" if fitting >= len(host_names) else "SPREAD"
        key = new_instance_id()
        try:
            pg = await asyncio.to_thread(
                ray.util.placement_group, [dict(bundle) for _ in host_names], strategy=strategy,
                name=f"tandem/{group}/{key}", lifetime="detached" if self._detached else None,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - e.g. the head went away since connecting
            raise InstanceStartFailed(
                f"The Ray cluster at {self.address} did not take the hosts of {group}: "
                f"{_describe(exc)}") from None  # fmt: skip
        self._groups[key] = (pg, set())
        slots: list[HostSlot] = []
        try:
            try:
                # Making the ready ref sets up the driver's serialization on first use (an
                # import of a second or more): off the loop.
                ready = await asyncio.to_thread(pg.ready)
                await asyncio.wait_for(ready, self._placement_timeout)
            except TimeoutError:
                raise InstanceStartFailed(
                    f"The {len(host_names)} hosts of {group} were not placed on the Ray cluster "
                    f"at {self.address} within {self._placement_timeout:g} s ({strategy}): no "
                    f"{len(host_names)} nodes may have {_asked(resources)} free."
                ) from None
            strategy_class = ray.util.scheduling_strategies.PlacementGroupSchedulingStrategy
            for index, host_name in enumerate(host_names):
                iid = new_instance_id()
                options = {
                    **self._options(f"tandem/{group}/{host_name}/{iid}", resources),
                    "scheduling_strategy": strategy_class(
                        pg, placement_group_bundle_index=index),
                }
                args = self._actor_args(iid, None)
                actor = await asyncio.to_thread(_create, options, args)
                self._reserved[iid] = (actor, key)
                self._groups[key][1].add(iid)
                address, port = await asyncio.wait_for(actor.reserve.remote(),
                                                       self._placement_timeout)
                # The instance root is the agent's own, on its node: never the spec's.
                slots.append(HostSlot(host_name, iid, address, port, shares_work_dir=False))
        except BaseException as exc:
            await self.release_hosts(slots)
            await self._drop_group(key)  # and the actors that did not report yet
            if isinstance(exc, InstanceStartFailed | InvalidParameterValue) or not isinstance(
                    exc, Exception):
                raise
            raise InstanceStartFailed(
                f"The hosts of {group} could not be reserved on the Ray cluster at "
                f"{self.address}: {_describe(exc)}") from None  # fmt: skip
        return slots

    async def release_hosts(self, slots: Sequence[HostSlot]) -> None:
        """Stop the slots' instances still running, kill the actors never started, and remove
        a placement group once none of its hosts is left."""
        for slot in slots:
            iid = slot.instance_id
            if iid in self._handles:
                with contextlib.suppress(ResourceNotFound):
                    await self.stop_instance(iid, 0)
            reserved = self._reserved.pop(iid, None)
            if reserved is not None:
                await asyncio.to_thread(_kill, reserved[0])
            for key, (_, members) in list(self._groups.items()):
                members.discard(iid)
                if not members:
                    await self._drop_group(key)

    async def reattach_hosts(
        self, group: str, slots: Sequence[HostSlot], work_dirs: Mapping[str, Path], *,
        on_line: LineCallback | None = None,
    ) -> list[InstanceHandle]:
        """Find each slot's actor by its name (``tandem/<group>/<host>/<instance id>``) and
        its placement group (``tandem/<group>/<key>``), and watch the instances again, their
        events and lines polled from the first one they still keep."""
        if self._closed:
            raise InvalidParameterValue("The launcher is closed.")
        await self._connect()
        ray = _ray()
        found: list[tuple[HostSlot, Any, InstanceSpec, tuple[str, dict[str, int]]]] = []
        lost: HostsLost | None = None
        for slot in slots:
            name = f"tandem/{group}/{slot.host_name}/{slot.instance_id}"
            try:
                actor = await asyncio.to_thread(ray.get_actor, name, namespace=RAY_NAMESPACE)
            except Exception:  # noqa: BLE001 - ValueError: no live actor has the name
                lost = lost or HostsLost(slot.host_name, f"its agent (Ray actor {name}) is gone")
                continue
            try:
                spec, ready, _ = await asyncio.wait_for(actor.describe.remote(),
                                                        _CONNECT_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - died with its node, or not answering
                await asyncio.to_thread(_kill, actor)
                lost = lost or HostsLost(slot.host_name, f"its agent (Ray actor {name}) does "
                                                         f"not answer: {_describe(exc)}")
                continue
            if spec is None or ready is None:
                await asyncio.to_thread(_kill, actor)
                lost = lost or HostsLost(slot.host_name, f"its agent (Ray actor {name}) had "
                                                         "not started its process")
                continue
            found.append((slot, actor, spec, ready))
        key = await self._find_group(group)
        if key is not None:
            self._groups[key][1].update(slot.instance_id for slot in slots)
        if lost is not None:
            for _, actor, _, _ in found:
                with contextlib.suppress(Exception):  # gone meanwhile: nothing to stop
                    await asyncio.wait_for(actor.stop.remote(0), _STOP_SLACK)
                await asyncio.to_thread(_kill, actor)
            if key is not None:
                await self._drop_group(key)
            raise lost
        return [self._watch(dataclasses.replace(spec, work_dir=Path(work_dirs[slot.instance_id])),
                            actor, *ready, on_line)
                for slot, actor, spec, ready in found]  # fmt: skip

    async def _find_group(self, group: str) -> str | None:
        """The key of ``group``'s placement group that a previous server made (None if it is
        gone), registered here so that releasing its hosts removes it."""
        ray = _ray()
        prefix = f"tandem/{group}/"
        try:
            table = await asyncio.to_thread(ray.util.placement_group_table)
            names = [str(entry.get("name", "")) for entry in table.values()
                     if entry.get("state") != "REMOVED"]  # fmt: skip
            for name in names:
                key = name[len(prefix):]
                if name.startswith(prefix) and "/" not in key:
                    pg = await asyncio.to_thread(ray.util.get_placement_group, name)
                    self._groups.setdefault(key, (pg, set()))
                    return key
        except Exception as exc:  # noqa: BLE001 - the hosts are watched all the same
            log.warning("%s: its placement group was not found: %s", group, _describe(exc))
        return None

    async def _drop_group(self, key: str) -> None:
        group = self._groups.pop(key, None)
        if group is None:
            return
        for iid, (actor, owner) in list(self._reserved.items()):
            if owner == key:
                del self._reserved[iid]
                await asyncio.to_thread(_kill, actor)
        with contextlib.suppress(Exception):  # already gone with the cluster
            await asyncio.to_thread(_ray().util.remove_placement_group, group[0])

    async def start_instance(
        self, spec: InstanceSpec, *, on_line: LineCallback | None = None,
        slot: HostSlot | None = None,
    ) -> InstanceHandle:
        if self._closed:
            raise InvalidParameterValue("The launcher is closed.")
        if spec.instance_id in self._actors:
            raise InvalidParameterValue(f"Instance {spec.instance_id} is already running.")
        if slot is not None:
            if slot.instance_id != spec.instance_id or spec.instance_id not in self._reserved:
                raise InvalidParameterValue(
                    f"Instance {spec.instance_id} is not the one a slot was reserved for.")
            actor, _ = self._reserved.pop(spec.instance_id)
            options = {}
            started = actor.start.remote(spec, on_line is not None,
                                         *await self._start_args(spec))
        else:
            await self._connect()
            start_args = await self._start_args(spec)
            options = self._placement(spec)
            args = self._actor_args(spec.instance_id, spec)
            try:
                actor = await asyncio.to_thread(_create, options, args)
            except Exception as exc:  # noqa: BLE001 - e.g. the head went away since connecting
                if isinstance(exc, _ray().exceptions.AuthenticationError):
                    await self._forget_cluster(exc)
                    raise InstanceStartFailed(
                        f"The Ray cluster at {self.address} was restarted without its state "
                        "(GCS fault tolerance is off), so every actor of the old one is gone: "
                        f"joining it again for the next try ({_describe(exc)})",
                        spec.instance_id,
                    ) from None  # fmt: skip
                raise InstanceStartFailed(
                    f"The Ray cluster at {self.address} did not take instance "
                    f"{spec.instance_id}: {exc}", spec.instance_id,
                ) from None  # fmt: skip
            started = actor.start.remote(None, on_line is not None, *start_args)
        self._actors[spec.instance_id] = actor  # stop_instance/close see it while it starts
        # Ray keeps an actor no node can take pending forever (and says nothing): bound it.
        limit = spec.health_check_timeout + self._placement_timeout
        try:
            host, ports, reason, problems = await asyncio.wait_for(started, limit)
        except BaseException as exc:
            self._actors.pop(spec.instance_id, None)
            await asyncio.to_thread(_kill, actor)
            if isinstance(exc, TimeoutError):
                raise InstanceStartFailed(
                    f"Instance {spec.instance_id} was not placed and started on the Ray cluster "
                    f"at {self.address} within {limit:g} s: no node may have "
                    f"{_asked(options or self._resources(spec.instance_type))} free.",
                    spec.instance_id,
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
        handle = self._watch(spec, actor, host, ports, on_line)
        self._report(InstanceReady(spec.instance_id, host, dict(ports)))
        return handle

    def _watch(self, spec: InstanceSpec, actor: Any, host: str, ports: dict[str, int],
               on_line: LineCallback | None = None) -> InstanceHandle:  # fmt: skip
        iid = spec.instance_id
        exits: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()
        last = {c.name: collections.deque[str](maxlen=_KEPT_LINES) for c in spec.containers}
        self._exits[iid], self._last[iid] = exits, last
        if on_line is not None:
            self._on_line[iid] = on_line
        handle = InstanceHandle(
            iid, spec, InstanceStatus.IN_SERVICE, host, ports,
            _wait=lambda: asyncio.shield(exits),
            _last_lines=lambda name: list(last.get(name, ())),
        )  # fmt: skip
        self._actors[spec.instance_id] = actor
        self._handles[spec.instance_id] = handle
        self._polls[spec.instance_id] = asyncio.create_task(
            self._poll(handle, actor), name=f"events {spec.instance_id}")
        return handle

    async def recover(self, known: Collection[str] = ()) -> list[InstanceHandle]:
        """Attach to the instance actors a previous server started: each by its name, with
        the spec, host and ports it reports, its events polled again (those it queued
        meanwhile included), its telemetry shipped to this server from now on. Ours are those
        started on this data dir and those whose instance id is in ``known`` (the instance
        records of a store shared with the server that started them: a standby that took the
        lead has a data dir of its own). Others (another deployment sharing the cluster) are
        left alone; one of ours that never finished starting is killed."""
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
        ship_to = self._server_url()
        for entry in names:
            name = entry["name"]
            if entry["namespace"] != RAY_NAMESPACE or not name.startswith("tandem/"):
                continue
            recorded = name.rsplit("/", 1)[1] in known
            try:
                actor = await asyncio.to_thread(ray.get_actor, name, namespace=RAY_NAMESPACE)
                # Only ours are told where to ship: another deployment's keep their server.
                described = await asyncio.wait_for(
                    actor.describe.remote(ship_to if recorded else ""), _CONNECT_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - gone meanwhile, or not answering
                log.warning("actor %s: cannot attach to it: %s", name, _describe(exc))
                continue
            spec, ready, agent_dir = described
            if not recorded and Path(agent_dir).parent.parent != self._data_dir / "agents":
                continue  # agents/<instance id>/fate under another server's data dir
            if spec is not None and spec.instance_id in self._actors:
                continue
            if spec is None or ready is None:
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

    def _resources(self, instance_type: str | None) -> dict[str, Any]:
        if instance_type is None:
            return {"num_cpus": 0, "memory": 0, "num_gpus": 0}
        need = instance_resources(instance_type)
        scale = self._resource_scale
        return {
            "num_cpus": need.vcpus * scale,
            "memory": int(need.memory_mib * 1024 * 1024 * scale),
            "num_gpus": need.gpus,
        }

    def _options(self, name: str, resources: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": RAY_NAMESPACE,
            # A detached one outlives this driver: a restarted server finds it by name.
            "lifetime": "detached" if self._detached else None,
            "max_restarts": 0,  # tandem replaces, with a new id
            "max_task_retries": 0,
            **resources,
        }

    def _placement(self, spec: InstanceSpec) -> dict[str, Any]:
        if spec.instance_type is None:
            raise InvalidParameterValue(
                f"Instance {spec.instance_id} has no instance type to place it by.")
        return {**self._options(actor_name(spec), self._resources(spec.instance_type)),
                "scheduling_strategy": "SPREAD"}

    async def _poll(self, handle: InstanceHandle, actor: Any) -> None:
        """Long-poll the actor for its agent's events; its death is the instance's.

        Each poll acknowledges the items the last one brought, once the reader of
        ``events()`` has taken them: the actor keeps an item until then, so one lost with a
        killed server reaches the next server that attaches (which polls from 0)."""
        iid = handle.instance_id
        unavailable = _ray().exceptions.ActorUnavailableError
        handled = 0  # the last sequence number applied (and taken by the reader)
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
                self._lost(handle, f"Its agent on {handle.host} has been unreachable for "
                                   f"{self._unavailable_limit:g} s: {_describe(exc)}")
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
        self._exited(handle, {})
        self._report(InstanceUnhealthy(handle.instance_id, "agent", reason))

    async def _deliver(self, handle: InstanceHandle, handled: int, numbered: list[Numbered]
                       ) -> int:  # fmt: skip
        """Apply the items numbered after ``handled`` (each sequence number once, though a
        poll may repeat one), wait until the reader has taken the events among them, and
        return the new last handled number."""
        fresh = [(seq, item) for seq, item in numbered if seq > handled]
        if not fresh:
            return handled
        iid = handle.instance_id
        taken = asyncio.get_running_loop().create_future()
        last_event = max((i for i, (_, item) in enumerate(fresh)
                          if isinstance(item, InstanceEvent)), default=None)
        waiting = False
        for i, (_, item) in enumerate(fresh):
            if isinstance(item, InstanceEvent):
                self._apply(handle, item)
                queued = self._report(item, taken if i == last_event else None)
                waiting = waiting or (queued and i == last_event)
            elif item[0] == _LINE:
                self._line(iid, handle.spec, item[1], item[2])
            elif item[0] == _EXITED:
                await self._collect(handle)  # before wait() says it exited
                self._exited(handle, item[1], item[2])
        if waiting:
            await taken  # the queue is in order: the last one taken means all were
        return fresh[-1][0]

    async def _collect(self, handle: InstanceHandle) -> None:
        """Bring the instance's outputs back under its spec's ``work_dir`` (once). One that
        cannot be (its agent gone with its node) is logged: the planner finds what it left."""
        iid = handle.instance_id
        task = self._collects.get(iid)
        actor = self._actors.get(iid)
        if task is None:
            if not handle.spec.outputs or actor is None:
                return
            task = asyncio.create_task(self._bring_back(handle, actor), name=f"outputs {iid}")
            self._collects[iid] = task
        # Shielded: a poll cancelled meanwhile (a stop) leaves it to the stop to wait for.
        await asyncio.shield(task)

    async def _bring_back(self, handle: InstanceHandle, actor: Any) -> None:
        iid, spec = handle.instance_id, handle.spec
        try:
            packed = await actor.collect.remote()
            await asyncio.to_thread(unpack_outputs, packed, spec.work_dir, spec.outputs)
        except Exception as exc:  # noqa: BLE001 - the agent died, or its files are unusable
            log.warning("instance %s: its outputs did not come back from %s: %s", iid,
                        handle.host, _describe(exc))

    def _line(self, iid: str, spec: InstanceSpec, line: str, timestamp: int) -> None:
        last = self._last.get(iid)
        if last is not None and len(spec.containers) == 1:
            last[spec.containers[0].name].append(line)
        callback = self._on_line.get(iid)
        if callback is not None:
            try:
                callback(line, timestamp)
            except Exception:  # noqa: BLE001 - a callback's bug must not end the polling
                log.exception("instance %s: the line callback failed", iid)

    def _exited(self, handle: InstanceHandle, codes: dict[str, int],
                last_lines: dict[str, list[str]] | None = None) -> None:
        """Every container's exit status is known (one the agent took down reads SIGKILL)."""
        for container in handle.spec.containers:
            handle.returncodes.setdefault(container.name, codes.get(container.name, _LOST))
        kept = self._last.get(handle.instance_id, {})
        for name, lines in (last_lines or {}).items():
            if name in kept and lines:
                kept[name].clear()
                kept[name].extend(lines)
        exits = self._exits.get(handle.instance_id)
        if exits is not None and not exits.done():
            exits.set_result(dict(handle.returncodes))

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
        codes: dict[str, int] = {}
        last_lines: dict[str, list[str]] = {}
        try:
            codes, last_lines = await asyncio.wait_for(actor.stop.remote(grace),
                                                       grace + _STOP_SLACK)
        except Exception as exc:  # noqa: BLE001 - a dead agent took its containers with it
            log.warning("instance %s: the agent's stop failed: %s", instance_id, _describe(exc))
        else:
            await self._collect(handle)  # what it wrote until it was stopped, too
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
            self._exited(handle, codes, last_lines)
            self._exits.pop(instance_id, None)
            self._on_line.pop(instance_id, None)
            self._last.pop(instance_id, None)
            collect = self._collects.pop(instance_id, None)
            if collect is not None:
                await asyncio.gather(collect, return_exceptions=True)
            handle.status = InstanceStatus.STOPPED
            self._report(InstanceStopped(instance_id))

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
                *(self.stop_instance(iid) for iid in list(self._handles)), return_exceptions=True
            )
        if not self._leave_running:
            # Removing a placement group kills the actors in it: left running, they keep theirs
            # (the next server releases it with their hosts).
            for key in list(self._groups):
                await self._drop_group(key)
        self._queue.put_nowait(_CLOSED)
        if self._connected:
            self._connected = False
            _joined.discard(id(self))
            if not _joined:  # the last launcher of this process leaves the cluster
                await asyncio.to_thread(_ray().shutdown)


def _create(options: dict[str, Any], args: tuple[Any, ...]) -> Any:
    return _agent_actor_class().options(**options).remote(*args)


@dataclasses.dataclass(frozen=True)
class _Delivery:
    event: InstanceEvent
    taken: asyncio.Future[None] | None = None  # resolved once the reader has handled it


def _carry(spec: InstanceSpec) -> dict[str, Any]:
    """Object refs of the local tarballs ``spec`` names that are small enough to carry: the
    node may not have this host's files."""
    carried: dict[str, Any] = {}
    for container in spec.containers:
        for artifact in container.artifacts:
            location = artifact.location
            if location is None or not artifact.archive or is_s3_uri(location):
                continue
            path = Path(location)
            if location in carried or not path.is_file() or path.stat().st_size > CARRY_LIMIT:
                continue  # missing or too large: the node's own path is tried, and named
            carried[location] = _ray().put(path.read_bytes())
    return carried


def _kill(actor: Any) -> None:
    with contextlib.suppress(Exception):  # already dead: nothing to kill
        _ray().kill(actor, no_restart=True)


def _fits(node: dict[str, Any], bundle: dict[str, float]) -> bool:
    """Whether the node's total resources could hold ``bundle`` (what is free now is not
    known without a private API: a busy node makes STRICT_SPREAD wait)."""
    total = node.get("Resources", {})
    return all(total.get(name, 0) >= amount for name, amount in bundle.items())


def _asked(options: dict[str, Any]) -> str:
    cpus, memory, gpus = options["num_cpus"], options["memory"], options["num_gpus"]
    text = f"{cpus:g} CPUs and {memory / 2**30:g} GiB of memory"
    return text + (f" and {gpus} GPUs" if gpus else "")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]
