"""The endpoint manager and its reconciler against a fake Launcher: the exact starts and stops
each control-plane call and launcher event causes, the statuses written to the catalogue, and
requests routed through the published snapshot to real HTTP servers standing in for the
containers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.clock import ManualClock
from tandem.config import Settings
from tandem.errors import ResourceNotFound
from tandem.serving.endpoints import EndpointManager
from tandem.serving.errors import ServiceUnavailable
from tandem.serving.instance_records import INSTANCE, InstanceRecord
from tandem.serving.launcher import (
    ContainerExited,
    ContainerSpec,
    InstanceEvent,
    InstanceHandle,
    InstanceSpec,
    InstanceStartFailed,
    InstanceStatus,
)
from tandem.serving.model import EndpointStatus, Model
from tandem.serving.router import Invocation, Router
from tandem.store.sqlite.catalog import SQLiteCatalogStore
from tandem.store.sqlite.database import Database
from tandem.telemetry.metrics import MetricRegistry


class FakeLauncher:
    """Records every start and stop; a start succeeds at once unless its variant is told to
    fail. Each container gets the port ``ports(container name)``."""

    def __init__(self, ports: Callable[[str], int] = lambda name: 1) -> None:
        self.ports = ports
        self.started: list[InstanceSpec] = []
        self.stopped: list[str] = []
        self.failing: dict[str, str] = {}  # variant -> reason
        self.handles: dict[str, InstanceHandle] = {}
        self.queue: asyncio.Queue[InstanceEvent | None] = asyncio.Queue()
        self.closed = False
        self.known: list[str] | None = None  # what recover() was told is recorded

    async def start_instance(self, spec: InstanceSpec) -> InstanceHandle:
        self.started.append(spec)
        reason = self.failing.get(spec.variant_name)
        if reason is not None:
            raise InstanceStartFailed(reason, spec.instance_id)
        handle = InstanceHandle(
            spec.instance_id,
            spec,
            InstanceStatus.IN_SERVICE,
            "127.0.0.1",
            {c.name: self.ports(c.name) for c in spec.containers},
        )
        self.handles[spec.instance_id] = handle
        return handle

    async def stop_instance(self, instance_id: str, grace_s: float | None = None) -> None:
        if instance_id not in self.handles:
            raise ResourceNotFound(f"Instance {instance_id} is not running here.")
        self.stopped.append(instance_id)
        del self.handles[instance_id]

    def instances(self) -> list[InstanceHandle]:
        return list(self.handles.values())

    async def recover(self, known: Collection[str] = ()) -> list[InstanceHandle]:
        self.known = list(known)
        # What a launcher whose instances outlive the server (Ray's) finds at start.
        return list(self.handles.values())

    async def events(self) -> AsyncIterator[InstanceEvent]:
        while (event := await self.queue.get()) is not None:
            yield event

    async def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)

    def ids(self, variant: str | None = None) -> list[str]:
        return [s.instance_id for s in self.started if variant in (None, s.variant_name)]


class RecordingCatalog(SQLiteCatalogStore):
    """The real SQLite catalogue, noting each endpoint status it is given."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.statuses: dict[str, list[str]] = {}

    def put(
        self, kind: str, name: str, document: dict[str, Any], *, create: bool = False,
        expected_version: int | None = None,
    ) -> int:  # fmt: skip
        version = super().put(kind, name, document, create=create,
                              expected_version=expected_version)
        if kind == "endpoint":
            self.statuses.setdefault(name, []).append(document["status"])
        return version


def plan_model(model: Model, base_dir: Path, work_dir: Path) -> list[ContainerSpec]:
    return [ContainerSpec(c.hostname, ("serve",)) for c in model.containers]


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[RecordingCatalog]:
    database = Database(tmp_path / "catalog.db")
    yield RecordingCatalog(database)
    database.close()


@pytest.fixture
def registry() -> MetricRegistry:
    return MetricRegistry(ManualClock())


@pytest.fixture
async def router(registry: MetricRegistry) -> AsyncIterator[Router]:
    router = Router(registry, account_id="000000000000", region="us-east-1")
    await router.start()
    yield router
    await router.close()


def manager_for(
    catalog: RecordingCatalog, launcher: FakeLauncher, router: Router, tmp_path: Path
) -> EndpointManager:
    return EndpointManager(
        catalog=catalog,
        launcher=launcher,
        router=router,
        settings=Settings(data_dir=tmp_path),
        plan_model=plan_model,
        clock=ManualClock(),
    )


def records(catalog: RecordingCatalog) -> dict[str, tuple[str, str, str | None, str]]:
    """Instance records: id -> (endpoint, variant, config, status)."""
    return {d["instance_id"]: (d["endpoint"], d["variant"], d["config"], d["status"])
            for d in catalog.list(INSTANCE)}


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def settle(manager: EndpointManager, name: str, status: EndpointStatus) -> None:
    async def status_now() -> EndpointStatus:
        return (await manager.describe_endpoint(name)).status

    deadline = asyncio.get_running_loop().time() + 10.0
    while await status_now() is not status:
        assert asyncio.get_running_loop().time() < deadline, await status_now()
        await asyncio.sleep(0.005)
    await manager.status.settled(manager.reconciler.runs[name])


async def deploy(
    manager: EndpointManager, name: str, variants: dict[str, int], containers: int = 1
) -> None:
    config = []
    for variant, count in variants.items():
        defs = [{"ContainerHostname": f"c{k + 1}", "Command": ["serve"]} for k in range(containers)]
        await manager.create_model({"ModelName": f"{name}-{variant}", "Containers": defs})
        config.append(
            {
                "VariantName": variant,
                "ModelName": f"{name}-{variant}",
                "InitialInstanceCount": count,
                "InstanceType": "ml.m5.large",
            }
        )
    await manager.create_endpoint_config(
        {"EndpointConfigName": f"{name}-config", "ProductionVariants": config}
    )
    await manager.create_endpoint(name, f"{name}-config")


async def test_create_starts_each_instance_once_and_goes_in_service(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 2, "B": 1})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    # Specs are planned in worker threads: starts reach the launcher in any order.
    assert sorted((s.endpoint_name, s.variant_name) for s in launcher.started) == [
        ("ep", "A"),
        ("ep", "A"),
        ("ep", "B"),
    ]
    assert len(set(launcher.ids())) == 3
    assert launcher.stopped == []
    assert catalog.statuses["ep"] == ["Creating", "InService"]
    assert records(catalog) == {
        **{i: ("ep", "A", "ep-config", "InService") for i in launcher.ids("A")},
        **{i: ("ep", "B", "ep-config", "InService") for i in launcher.ids("B")},
    }
    [doc] = [d for d in catalog.list(INSTANCE) if d["instance_id"] == launcher.ids("B")[0]]
    assert (doc["host"], doc["ports"]) == ("127.0.0.1", {"c1": 1})
    endpoint = await manager.describe_endpoint("ep")
    assert [(v.name, v.current_instance_count) for v in endpoint.variants] == [("A", 2), ("B", 1)]
    snapshot = router.endpoint("ep")
    assert snapshot is not None
    assert {v.name: sorted(i.instance_id for i in v.instances) for v in snapshot.variants} == {
        "A": sorted(launcher.ids("A")),
        "B": launcher.ids("B"),
    }
    await manager.stop()
    assert launcher.closed


async def test_scale_in_stops_the_newest_instance_and_scale_out_starts_new_ids(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 3})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    first = launcher.ids()
    await manager.update_weights_and_capacities(
        "ep", [{"VariantName": "A", "DesiredInstanceCount": 1}]
    )
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await until(lambda: len(launcher.stopped) == 2)
    assert sorted(launcher.stopped) == sorted(first[1:])
    assert [i.instance_id for i in router.endpoint("ep").variants[0].instances] == first[:1]  # type: ignore[union-attr]
    await manager.update_weights_and_capacities(
        "ep", [{"VariantName": "A", "DesiredInstanceCount": 2}]
    )
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    assert len(launcher.started) == 4
    assert launcher.ids()[3] not in first
    assert catalog.statuses["ep"] == [
        "Creating",
        "InService",
        "Updating",
        "InService",
        "Updating",
        "InService",
    ]
    await manager.stop()


async def test_an_exited_container_gets_its_instance_replaced_by_a_new_id(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 2})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    victim, survivor = launcher.ids()
    launcher.queue.put_nowait(ContainerExited(victim, "c1", 137))
    await until(lambda: len(launcher.started) == 3)
    assert launcher.stopped == [victim]
    replacement = launcher.ids()[2]
    assert replacement not in (victim, survivor)
    await until(
        lambda: (
            sorted(i.instance_id for i in router.endpoint("ep").variants[0].instances)  # type: ignore[union-attr]
            == sorted([survivor, replacement])
        )
    )
    # Replacing an instance is no status change: InService throughout.
    assert catalog.statuses["ep"] == ["Creating", "InService"]
    assert manager.reconciler.dead == {}
    await manager.stop()


async def test_instances_the_launcher_lost_or_marks_failed_are_replaced(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 3})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    lost, failed, kept = launcher.ids()
    # No event: the next pass finds one gone from the launcher and one no longer live.
    del launcher.handles[lost]
    launcher.handles[failed].status = InstanceStatus.FAILED
    manager.reconciler.wake()
    await until(lambda: len(launcher.started) == 5)
    await until(lambda: len(launcher.stopped) == 1)
    # The lost one has nothing left to stop; the failed one is stopped.
    assert launcher.stopped == [failed]
    await until(
        lambda: (
            {i.instance_id for i in router.endpoint("ep").variants[0].instances}  # type: ignore[union-attr]
            == {kept, *launcher.ids()[3:]}
        )
    )
    await asyncio.sleep(0.05)
    assert launcher.stopped == [failed] and len(launcher.started) == 5
    # The records follow: the lost and the failed instances' are gone, the new ones' are there.
    await until(lambda: sorted(records(catalog)) == sorted([kept, *launcher.ids()[3:]]))
    await manager.stop()


async def test_a_failed_start_while_creating_fails_the_endpoint_and_stops_the_rest(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    launcher.failing["B"] = "The container c1 for production variant B exited with code 3."
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 1, "B": 1})
    await settle(manager, "ep", EndpointStatus.FAILED)
    endpoint = await manager.describe_endpoint("ep")
    assert endpoint.failure_reason == launcher.failing["B"]
    # A's start may be cancelled before it reaches the launcher; whatever started is stopped.
    assert len(launcher.ids("B")) == 1 and len(launcher.ids("A")) <= 1
    await until(lambda: launcher.stopped == launcher.ids("A"))
    assert router.endpoint("ep") is None
    assert catalog.statuses["ep"] == ["Creating", "Failed"]
    await manager.stop()


async def test_update_cuts_over_to_the_new_fleet_then_stops_the_old_one(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 2})
    await deploy(manager, "next", {"B": 1})  # only for its config
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    old = launcher.ids("A")
    await manager.update_endpoint("ep", "next-config")
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await until(lambda: sorted(launcher.stopped) == sorted(old))
    new = [s.instance_id for s in launcher.started if s.endpoint_name == "ep"][2:]
    assert len(new) == 1
    endpoint = await manager.describe_endpoint("ep")
    assert (endpoint.config_name, endpoint.pending_config_name) == ("next-config", None)
    assert [(v.name, v.current_instance_count) for v in endpoint.variants] == [("B", 1)]
    assert [i.instance_id for i in router.endpoint("ep").variants[0].instances] == new  # type: ignore[union-attr]
    assert catalog.statuses["ep"] == ["Creating", "InService", "Updating", "InService"]
    await manager.stop()


async def test_a_failed_update_rolls_back_and_keeps_the_old_fleet(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 2})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await manager.create_model({"ModelName": "bad", "Containers": [{"Command": ["serve"]}]})
    await manager.create_endpoint_config(
        {
            "EndpointConfigName": "bad-config",
            "ProductionVariants": [
                {
                    "VariantName": "Bad",
                    "ModelName": "bad",
                    "InitialInstanceCount": 2,
                    "InstanceType": "ml.m5.large",
                }
            ],
        }
    )
    launcher.failing["Bad"] = "did not pass the ping health check"
    await manager.update_endpoint("ep", "bad-config")
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    endpoint = await manager.describe_endpoint("ep")
    assert endpoint.failure_reason == "Update rolled back: did not pass the ping health check"
    assert (endpoint.config_name, endpoint.pending_config_name) == ("ep-config", None)
    # The first failure rolls back; the second start may be cancelled before it is tried.
    assert len(launcher.ids("A")) == 2 and 1 <= len(launcher.ids("Bad")) <= 2
    assert launcher.stopped == []
    assert sorted(i.instance_id for i in router.endpoint("ep").variants[0].instances) == sorted(  # type: ignore[union-attr]
        launcher.ids("A")
    )
    assert catalog.statuses["ep"] == ["Creating", "InService", "Updating", "InService"]
    await manager.stop()


async def test_delete_stops_every_instance_and_forgets_the_endpoint(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 2})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await manager.delete_endpoint("ep")
    assert router.endpoint("ep") is None
    await until(lambda: "ep" not in manager.reconciler.runs)
    assert sorted(launcher.stopped) == sorted(launcher.ids())
    assert catalog.get("endpoint", "ep") is None
    await until(lambda: records(catalog) == {})
    assert catalog.statuses["ep"] == ["Creating", "InService", "Deleting"]
    await manager.stop()


async def test_a_restart_brings_the_endpoint_back_at_its_scaled_count(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 1})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await manager.update_weights_and_capacities(
        "ep", [{"VariantName": "A", "DesiredInstanceCount": 3, "DesiredWeight": 2.5}]
    )
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await manager.stop()
    # A new server on the same catalogue: the record's count and weight, not the config's.
    again = FakeLauncher()
    restarted = manager_for(catalog, again, router, tmp_path)
    await restarted.start()
    await settle(restarted, "ep", EndpointStatus.IN_SERVICE)
    assert [s.variant_name for s in again.started] == ["A", "A", "A"]
    assert not set(again.ids()) & set(launcher.ids())
    endpoint = await restarted.describe_endpoint("ep")
    assert [
        (v.desired_instance_count, v.current_instance_count, v.desired_weight)
        for v in endpoint.variants
    ] == [(3, 3, 2.5)]
    assert router.endpoint("ep").variants[0].weight == 2.5  # type: ignore[union-attr]
    assert catalog.statuses["ep"][-1] == "InService"
    await restarted.stop()


async def test_a_restart_adopts_the_instances_still_running_and_stops_strays(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 2})
    await deploy(manager, "gone", {"A": 1})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await settle(manager, "gone", EndpointStatus.IN_SERVICE)
    kept = sorted(launcher.ids())
    # The server dies without stopping anything; "gone"'s record is lost meanwhile, and one
    # instance of "ep" was started for a config the endpoint no longer runs (an update cut off).
    manager.reconciler._closing = True
    for task in manager.reconciler._tasks:
        task.cancel()
    await catalog_delete(catalog, "gone")
    (gone_id,) = [s.instance_id for s in launcher.started if s.endpoint_name == "gone"]
    stale = InstanceSpec.for_endpoint(
        "ep", "A", [ContainerSpec("c1", ("serve",))], tmp_path, config_name="ep-config-2")
    stale_handle = await launcher.start_instance(stale)
    survivors = launcher.instances()
    # A record whose instance died while no server ran: dropped, nothing stopped for it.
    lost = InstanceRecord("i-0123456789abcdef0", "ep", "A", "ep-config", "InService")
    await asyncio.to_thread(catalog.put, INSTANCE, lost.instance_id, lost.document())
    # A new server on the same catalogue and the same (still running) instances: it names the
    # recorded ids to the launcher (another server of a shared store may have started them).
    launcher.started.clear()
    recorded = sorted(records(catalog))
    restarted = manager_for(catalog, launcher, router, tmp_path)
    await restarted.start()
    assert sorted(launcher.known or ()) == recorded and lost.instance_id in recorded
    await settle(restarted, "ep", EndpointStatus.IN_SERVICE)
    assert launcher.started == []
    await until(lambda: len(launcher.stopped) == 2)
    assert sorted(launcher.stopped) == sorted([gone_id, stale_handle.instance_id])
    ep_ids = sorted(set(kept) - {gone_id})
    assert sorted(restarted.reconciler.runs["ep"].fleets["A"].instances) == ep_ids
    assert len(survivors) == 4
    snapshot = router.endpoint("ep")
    assert snapshot is not None
    assert sorted(i.instance_id for i in snapshot.variants[0].instances) == ep_ids
    assert catalog.statuses["ep"] == ["Creating", "InService", "InService"]
    await until(lambda: sorted(records(catalog)) == ep_ids)
    await restarted.stop()


async def catalog_delete(catalog: RecordingCatalog, name: str) -> None:
    await asyncio.to_thread(catalog.delete, "endpoint", name)


# -- routing through the published snapshot ------------------------------------------------


class Stage:
    """A minimal keep-alive HTTP/1.1 server answering every POST with ``transform(body)``."""

    def __init__(self, transform: Callable[[bytes], bytes]) -> None:
        self.transform = transform
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> Stage:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def shut(self) -> None:
        """Stop listening and drop every connection: the container is gone."""
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = 0
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    key, _, value = line.partition(":")
                    if key.strip().lower() == "content-length":
                        length = int(value)
                body = self.transform(await reader.readexactly(length))
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()


async def test_requests_route_through_the_snapshot_and_a_refused_instance_is_replaced(
    catalog: RecordingCatalog, router: Router, registry: MetricRegistry, tmp_path: Path
) -> None:
    first = await Stage(lambda body: b"<" + body + b">").start()
    second = await Stage(bytes.upper).start()
    revived = Stage(lambda body: b"[" + body + b"]")
    ports = {"c1": first.port, "c2": second.port}
    launcher = FakeLauncher(ports=ports.__getitem__)
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    try:
        await deploy(manager, "ep", {"A": 1}, containers=2)
        await settle(manager, "ep", EndpointStatus.IN_SERVICE)
        for _ in range(3):
            result = await router.invoke(Invocation("ep", b"hello", content_type="text/plain"))
            assert (result.body, result.variant.name) == (b"<HELLO>", "A")
        dims = {"EndpointName": "ep", "VariantName": "A"}
        invocations = registry.series("AWS/SageMaker", "Invocations", dims, "None")
        assert invocations.cumulative()[:2] == (3, 3.0)
        c2 = registry.series(
            "AWS/SageMaker", "ContainerLatency", {**dims, "ContainerName": "c2"}, "Microseconds"
        )
        assert c2.cumulative()[0] == 3
        # The first container goes away: the router finds the instance refusing connections,
        # the manager replaces it with a new id (which the fake launcher points at a new port).
        (victim,) = launcher.ids()
        await first.shut()
        ports["c1"] = (await revived.start()).port
        with pytest.raises(ServiceUnavailable, match="No healthy instance of variant A"):
            await router.invoke(Invocation("ep", b"hello"))
        await until(lambda: len(launcher.started) == 2)
        assert launcher.stopped == [victim]
        await until(lambda: bool(router.endpoint("ep").variants[0].instances))  # type: ignore[union-attr]
        result = await router.invoke(Invocation("ep", b"again"))
        assert result.body == b"[AGAIN]"
        assert invocations.cumulative()[:2] == (5, 5.0)
    finally:
        await manager.stop()
        await router.close()
        for stage in (second, revived):
            await stage.shut()


class HeldLauncher(FakeLauncher):
    """Starts of the variants in ``held`` wait until released: an update stays in flight."""

    def __init__(self, held: set[str]) -> None:
        super().__init__()
        self.held = held
        self.release = asyncio.Event()
        self.waiting: list[str] = []

    async def start_instance(self, spec: InstanceSpec) -> InstanceHandle:
        if spec.variant_name in self.held:
            self.waiting.append(spec.variant_name)
            await self.release.wait()
        return await super().start_instance(spec)


async def test_an_answered_delete_is_in_the_catalogue_and_the_next_server_finishes_it(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = HeldLauncher(set())
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 1})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await manager.delete_endpoint("ep")
    # Nothing else has run on the loop since the answer: the document already says Deleting.
    assert catalog.get("endpoint", "ep")["status"] == "Deleting"  # type: ignore[index]
    await manager.stop()
    again = FakeLauncher()
    restarted = manager_for(catalog, again, router, tmp_path)
    await restarted.start()
    assert again.started == [] and catalog.get("endpoint", "ep") is None
    await restarted.stop()


async def test_answered_capacities_are_in_the_catalogue(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    manager = manager_for(catalog, FakeLauncher(), router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 1})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await manager.update_weights_and_capacities(
        "ep", [{"VariantName": "A", "DesiredInstanceCount": 2, "DesiredWeight": 0.5}]
    )
    document = catalog.get("endpoint", "ep")
    assert document is not None and document["status"] == "Updating"
    assert [(v["desired_instance_count"], v["desired_weight"])
            for v in document["variants"]] == [(2, 0.5)]  # fmt: skip
    await manager.stop()


async def test_an_update_in_flight_when_the_server_stops_is_resumed_by_the_next(
    catalog: RecordingCatalog, router: Router, tmp_path: Path
) -> None:
    launcher = HeldLauncher({"B"})
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    await deploy(manager, "ep", {"A": 1})
    await settle(manager, "ep", EndpointStatus.IN_SERVICE)
    await manager.create_model({"ModelName": "next", "Containers": [{"Command": ["serve"]}]})
    variant = {"VariantName": "B", "ModelName": "next", "InitialInstanceCount": 1,
               "InstanceType": "ml.m5.large"}  # fmt: skip
    await manager.create_endpoint_config(
        {"EndpointConfigName": "next-config", "ProductionVariants": [variant]})
    await manager.update_endpoint("ep", "next-config")
    document = catalog.get("endpoint", "ep")
    assert document is not None
    assert (document["status"], document["pending_config_name"]) == ("Updating", "next-config")
    await until(lambda: launcher.waiting == ["B"])  # the new fleet's start is under way
    await manager.stop()
    again = FakeLauncher()
    restarted = manager_for(catalog, again, router, tmp_path)
    await restarted.start()
    assert (await restarted.describe_endpoint("ep")).status is EndpointStatus.UPDATING
    await settle(restarted, "ep", EndpointStatus.IN_SERVICE)
    endpoint = await restarted.describe_endpoint("ep")
    assert (endpoint.config_name, endpoint.pending_config_name) == ("next-config", None)
    assert [(v.name, v.current_instance_count) for v in endpoint.variants] == [("B", 1)]
    assert [i.instance_id for i in router.endpoint("ep").variants[0].instances] == again.ids("B")  # type: ignore[union-attr]
    await restarted.stop()
