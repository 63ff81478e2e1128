"""``LocalLauncher``: instances as process trees on this machine, one ``InstanceAgent`` each.

It owns what agents share on one host: the port allocator, the fate-sharing reaper and the
event queue the endpoint manager reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from tandem.clock import Clock, SystemClock
from tandem.errors import InvalidParameterValue, ResourceNotFound
from tandem.objects.locations import ObjectLocations
from tandem.serving.agent import InstanceAgent
from tandem.serving.fetching import ArtifactSource
from tandem.serving.launcher import (
    HostsLost,
    HostSlot,
    InstanceEvent,
    InstanceHandle,
    InstanceSpec,
    LineCallback,
    new_instance_id,
)
from tandem.serving.ports import ContainerPorts, PortAllocator
from tandem.supervision import FateSharing
from tandem.telemetry.usage import UsageProbe, instance_probe

__all__ = ["LocalLauncher"]

_CLOSED = object()


class LocalLauncher:
    """The ``Launcher`` for this machine: agents in-process, containers on 127.0.0.1."""

    outlives_server = False  # its containers share the server's fate

    def __init__(
        self,
        metrics_registry: Any,
        log_service: Any,
        usage_interval: float = 5.0,
        clock: Clock | None = None,
        data_dir: Path = Path(".tandem"),
        *,
        ports: PortAllocator | None = None,
        probe_factory: Callable[[InstanceSpec], UsageProbe] | None = None,
        capture_factory: Callable[..., Any] | None = None,
        unhealthy_threshold: int = 3,
        reaper_grace: float = 1.0,
        report_events: bool = True,
        objects: ObjectLocations | None = None,
    ) -> None:
        self._metrics = metrics_registry
        self._logs = log_service
        self._usage_interval = usage_interval
        self._clock = clock or SystemClock()
        self._ports = ports or PortAllocator()
        self._probe_factory = probe_factory or _default_probe
        self._capture_factory = capture_factory
        self._unhealthy_threshold = unhealthy_threshold
        self.fate_sharing = FateSharing(Path(data_dir), grace=reaper_grace)
        # This host is the planning host: s3:// model data is staged as the server stages it.
        self._source = ArtifactSource(objects)
        self._started = False
        self._closed = False
        self._agents: dict[str, InstanceAgent] = {}
        # Reserved slots' port leases by instance id, held until release_hosts.
        self._slots: dict[str, ContainerPorts] = {}
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        # Without a reader of events() (the jobs' launcher), queued events would only pile up.
        self._report = self._queue.put_nowait if report_events else _drop

    async def start(self) -> None:
        """Kill what a dead server left on this data dir and start the reaper (idempotent)."""
        if not self._started:
            self._started = True
            await asyncio.to_thread(self.fate_sharing.start)

    async def reserve_hosts(
        self, group: str, host_names: Sequence[str], instance_type: str | None
    ) -> list[HostSlot]:
        """Every slot on this machine (127.0.0.1), told apart by a leased port."""
        if self._closed:
            raise InvalidParameterValue("The launcher is closed.")
        leases = self._ports.allocate(len(host_names))
        slots = []
        for name, lease in zip(host_names, leases, strict=True):
            slot = HostSlot(name, new_instance_id(), "127.0.0.1", lease.bind_port)
            self._slots[slot.instance_id] = lease
            slots.append(slot)
        return slots

    async def release_hosts(self, slots: Sequence[HostSlot]) -> None:
        for slot in slots:
            if slot.instance_id in self._agents:
                await self.stop_instance(slot.instance_id, 0)
            lease = self._slots.pop(slot.instance_id, None)
            if lease is not None:
                self._ports.release([lease])

    async def start_instance(
        self, spec: InstanceSpec, *, on_line: LineCallback | None = None,
        slot: HostSlot | None = None,
    ) -> InstanceHandle:
        if self._closed:
            raise InvalidParameterValue("The launcher is closed.")
        if slot is not None and slot.instance_id != spec.instance_id:
            raise InvalidParameterValue(
                f"Instance {spec.instance_id} is not the one slot {slot.host_name} was "
                f"reserved for ({slot.instance_id}).")
        if spec.instance_id in self._agents:
            raise InvalidParameterValue(f"Instance {spec.instance_id} is already running.")
        await self.start()
        agent = InstanceAgent(
            spec,
            self._metrics,
            self._logs,
            on_event=self._report,
            on_line=on_line,
            ports=self._ports,
            guard=self.fate_sharing,
            probe=self._probe_factory(spec),
            usage_interval=self._usage_interval,
            unhealthy_threshold=self._unhealthy_threshold,
            capture_factory=self._capture_factory,
            clock=self._clock,
            source=self._source,
        )
        self._agents[spec.instance_id] = agent
        try:
            return await agent.start()
        except BaseException:
            del self._agents[spec.instance_id]
            raise

    async def stop_instance(self, instance_id: str, grace_s: float | None = None) -> None:
        agent = self._agents.get(instance_id)
        if agent is None:
            raise ResourceNotFound(f"Instance {instance_id} is not running here.")
        try:
            await agent.stop(grace_s)
        finally:
            self._agents.pop(instance_id, None)

    def instances(self) -> list[InstanceHandle]:
        return [agent.handle for agent in self._agents.values()]

    async def recover(self, known: Collection[str] = ()) -> list[InstanceHandle]:
        # Local instances share the server's fate: none outlives it.
        return []

    async def reattach_hosts(
        self, group: str, slots: Sequence[HostSlot], work_dirs: Mapping[str, Path], *,
        on_line: LineCallback | None = None,
    ) -> list[InstanceHandle]:
        # Nothing to attach to: the processes ended with the server that started them.
        raise HostsLost(slots[0].host_name if slots else group,
                        "its process ended with the tandem server that started it")

    async def events(self) -> AsyncIterator[InstanceEvent]:
        """Every event of every instance, in order, until ``close`` (one reader)."""
        while True:
            event = await self._queue.get()
            if event is _CLOSED:
                self._queue.put_nowait(_CLOSED)  # later readers end too
                return
            yield event

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        agents = list(self._agents.values())
        await asyncio.gather(*(agent.stop() for agent in agents), return_exceptions=True)
        self._agents.clear()
        self._queue.put_nowait(_CLOSED)
        await asyncio.to_thread(self.fate_sharing.close)


def _default_probe(spec: InstanceSpec) -> UsageProbe:
    return instance_probe(spec.work_dir if spec.disk_usage else None)


def _drop(event: InstanceEvent) -> None:
    pass
