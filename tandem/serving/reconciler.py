"""The reconcile loop: gather each endpoint's desired and actual state, ``plan`` it, apply the
actions through the Launcher, publish the routing snapshot.

Control-plane calls and launcher events only change records and wake the loop; every start,
stop and status change happens here. A start runs as a task whose outcome (a ready handle, or
a failure with its backoff) lands on the fleet; a stop drains the instance's in-flight
requests first when it leaves the rotation alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..config import Settings
from ..errors import TandemError
from .catalog import CatalogStore, VersionConflict
from .definitions import ENDPOINT, describe_model_sync, io
from .endpoint_status import StatusWriter
from .fleets import EndpointRun, Fleet, initial_variant_states
from .instance_records import INSTANCE, InstanceRecord
from .launcher import (
    ContainerExited,
    ContainerSpec,
    InstanceHandle,
    InstanceSpec,
    InstanceStartFailed,
    InstanceStatus,
    InstanceUnhealthy,
    Launcher,
    new_instance_id,
)
from .model import EndpointStatus, Model
from .planner import (
    Action,
    ActualEndpoint,
    CutOver,
    DesiredEndpoint,
    DrainInstances,
    FailEndpoint,
    FinishDelete,
    Group,
    MarkInService,
    ReplaceInstance,
    RollBack,
    StartInstances,
    plan,
)
from .router import RoutedInstance, Router
from .snapshots import publish, routed_instances

__all__ = ["Reconciler", "PlanModel"]

_log = logging.getLogger(__name__)

# (model, base_dir, work_dir) -> how to run each of its containers (serving.containers.plan_model)
PlanModel = Callable[[Model, Path, Path], list[ContainerSpec]]

_BACKOFF_START, _BACKOFF_MAX = 1.0, 60.0
_LIVE = (InstanceStatus.PENDING, InstanceStatus.IN_SERVICE)


class Reconciler:
    def __init__(
        self,
        *,
        catalog: CatalogStore,
        launcher: Launcher,
        router: Router,
        settings: Settings,
        plan_model: PlanModel,
        clock: Clock,
        status: StatusWriter,
    ) -> None:
        self.catalog = catalog
        self.launcher = launcher
        self.router = router
        self.settings = settings
        self.plan_model = plan_model
        self.clock = clock
        self.status = status
        self.runs: dict[str, EndpointRun] = {}
        # Instances found dead (by a launcher event or the router), with why, until replaced.
        self.dead: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping: set[asyncio.Task[Any]] = set()

    def wake(self) -> None:
        self._wake.set()

    def report_dead(self, instance_id: str, why: str) -> None:
        """An instance stopped answering: replace it on the next pass (which this wakes)."""
        self.dead.setdefault(instance_id, why)
        self._wake.set()

    # -- lifecycle ---------------------------------------------------------

    async def adopt(self, handles: list[InstanceHandle]) -> list[str]:
        """Put instances a previous server left running into the fleets their records name
        (endpoint, variant and config; ``instance_records``), before the first pass: the
        planner then sees them as ready and starts only what is missing. One without a record,
        whose fleet was not restored, or that was draining, is stopped; a record without a
        running instance is dropped. Returns the adopted ids."""
        records = {
            doc["instance_id"]: InstanceRecord.from_document(doc)
            for doc in await io(self.catalog.list, INSTANCE)
        }
        adopted = []
        for handle in handles:
            record = records.pop(handle.instance_id, None)
            run = None if record is None else self.runs.get(record.endpoint)
            fleet = None if run is None or record is None else run.fleets.get(record.variant)
            if (run is None or record is None or fleet is None
                    or record.config != run.config.name or record.status == "Draining"):
                _log.warning("instance %s belongs to no endpoint here: stopping it",
                             handle.instance_id)  # fmt: skip
                self._stop_instance(handle.instance_id)
                continue
            fleet.instances[handle.instance_id] = handle
            adopted.append(handle.instance_id)
        for instance_id in records:  # gone while no server watched it
            await self._forget(instance_id)
        return adopted

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._loop(), name="endpoint-manager"))
        self._tasks.append(asyncio.create_task(self._watch_launcher(), name="launcher-events"))
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop, wait for starts, stops and status writes, close the launcher."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for run in self.runs.values():
            for fleet in run.all_fleets():
                fleet.cancel_starts()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for run in list(self.runs.values()):
            for fleet in run.all_fleets():
                # A starting task removes itself from ``starting`` when it ends: a copy.
                for start in list(fleet.starting.values()):
                    with contextlib.suppress(BaseException):
                        await start
        await asyncio.gather(*self._stopping, *self.status.tasks, return_exceptions=True)
        await self.launcher.close()

    async def _loop(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass
            if self._closing:
                # Python 3.11's wait_for can swallow a cancel that races the wake-up: the
                # flag ends the loop even then.
                return
            self._wake.clear()
            for run in list(self.runs.values()):
                try:
                    await self.reconcile(run)
                except Exception:  # noqa: BLE001 - one endpoint must not stop the loop
                    _log.exception("reconciling endpoint %s failed", run.endpoint.name)
            self._forget_unknown_dead()

    def _forget_unknown_dead(self) -> None:
        # A report about an instance no fleet holds any more (already stopped) is moot.
        known = {
            instance_id
            for run in self.runs.values()
            for fleet in run.all_fleets()
            for instance_id in (*fleet.instances, *fleet.starting)
        }
        for instance_id in [i for i in self.dead if i not in known]:
            del self.dead[instance_id]

    async def _watch_launcher(self) -> None:
        async for event in self.launcher.events():
            if isinstance(event, ContainerExited | InstanceUnhealthy):
                self.report_dead(event.instance_id, str(event))

    # -- one pass ----------------------------------------------------------

    def observe(self, run: EndpointRun) -> tuple[DesiredEndpoint, ActualEndpoint]:
        """The planner's inputs: the endpoint's record and fleets, and the launcher's view of
        its instances (one the launcher no longer runs, or no longer live, is dead)."""
        handles = {h.instance_id: h for h in self.launcher.instances()}
        dead = dict(self.dead)
        for fleet in run.all_fleets():
            for instance_id in fleet.instances:
                handle = handles.get(instance_id)
                if handle is None:
                    dead.setdefault(instance_id, "the launcher no longer runs it")
                elif handle.status not in _LIVE:
                    dead.setdefault(instance_id, f"its status is {handle.status.value}")
        desired = DesiredEndpoint(run.endpoint.status, run.desired_counts(), run.pending_counts())
        actual = ActualEndpoint(
            {name: f.actual(dead) for name, f in run.fleets.items()},
            None if run.pending is None else {n: f.actual(dead) for n, f in run.pending.items()},
        )
        return desired, actual

    async def reconcile(self, run: EndpointRun) -> list[Action]:
        desired, actual = self.observe(run)
        actions = plan(desired, actual, self.clock.monotonic())
        for action in actions:
            await self._apply(run, action)
        if not run.deleted:
            run.count_instances()
            self._publish(run)
        return actions

    async def _apply(self, run: EndpointRun, action: Action) -> None:
        match action:
            case StartInstances(group, variant, count):
                fleet = self._fleet(run, group, variant)
                for _ in range(count):
                    self._start_instance(run, fleet)
            case DrainInstances(group, variant, instance_ids):
                fleet = self._fleet(run, group, variant)
                for instance_id in instance_ids:
                    fleet.instances.pop(instance_id, None)
                # Before the snapshot without them is published: the drain waits on the load
                # counters of the snapshot that routed their requests.
                self._retire(run, list(instance_ids))
            case ReplaceInstance(group, variant, instance_id, reason):
                _log.warning("replacing instance %s: %s", instance_id, reason)
                self._fleet(run, group, variant).instances.pop(instance_id, None)
                self.dead.pop(instance_id, None)
                # One the launcher no longer runs has nothing left to stop.
                if any(h.instance_id == instance_id for h in self.launcher.instances()):
                    self._stop_instance(instance_id)
                else:
                    await self._forget(instance_id)
            case FailEndpoint(reason):
                await self._fail(run, reason)
            case RollBack(reason):
                self._roll_back(run, reason)
            case CutOver():
                self._cut_over(run)
            case MarkInService():
                run.endpoint.failure_reason = None
                self.status.set(run, EndpointStatus.IN_SERVICE)
            case FinishDelete():
                await self._finish_delete(run)

    @staticmethod
    def _fleet(run: EndpointRun, group: Group, variant: str) -> Fleet:
        fleets = run.fleets if group is Group.CURRENT else run.pending
        assert fleets is not None
        return fleets[variant]

    def _publish(self, run: EndpointRun) -> None:
        publish(self.router, run, region=self.settings.region, account_id=self.settings.account_id)

    # -- starting ----------------------------------------------------------

    def _start_instance(self, run: EndpointRun, fleet: Fleet) -> None:
        instance_id = new_instance_id()
        task = asyncio.create_task(
            self._launch(run, fleet, instance_id), name=f"start-{instance_id}"
        )
        fleet.starting[instance_id] = task

    async def _launch(
        self, run: EndpointRun, fleet: Fleet, instance_id: str
    ) -> InstanceHandle | None:
        """Start one instance; a failure is recorded on the fleet (never raised: nobody awaits
        this task, and the loop reads the fleet)."""
        name = run.endpoint.name
        record: InstanceRecord | None = None
        try:
            spec = await asyncio.to_thread(self._instance_spec, name, fleet, instance_id)
            record = InstanceRecord(instance_id, name, fleet.variant.name, spec.config_name)
            await io(self.catalog.put, INSTANCE, instance_id, record.document())
            handle = await self.launcher.start_instance(spec)
        except TandemError as exc:  # InstanceStartFailed, or a container that cannot be planned
            fleet.failure = exc.reason if isinstance(exc, InstanceStartFailed) else exc.message
            fleet.failures_in_row += 1
            delay = min(_BACKOFF_START * 2 ** (fleet.failures_in_row - 1), _BACKOFF_MAX)
            fleet.next_attempt = self.clock.monotonic() + delay
            _log.warning("instance %s of %s failed to start: %s", instance_id, name, fleet.failure)
            return None
        except Exception as exc:  # noqa: BLE001 - any start problem fails this instance only
            fleet.failure = f"{exc.__class__.__name__}: {exc}"
            fleet.failures_in_row += 1
            fleet.next_attempt = self.clock.monotonic() + _BACKOFF_MAX
            _log.exception("instance %s of %s failed to start", instance_id, name)
            return None
        else:
            fleet.failure = None
            fleet.failures_in_row = 0
            fleet.instances[instance_id] = handle  # in the order instances came up
            assert record is not None
            ready, record = record.ready(handle.host, handle.ports), None  # it stays: it runs
            try:
                await io(self.catalog.put, INSTANCE, instance_id, ready.document())
            except Exception:  # noqa: BLE001 - its Pending record still names its fleet
                _log.exception("recording instance %s as ready failed", instance_id)
            return handle
        finally:
            fleet.starting.pop(instance_id, None)
            if record is not None:  # it did not start (or its start was cancelled)
                await self._forget(instance_id)
            self._wake.set()

    async def _mark_draining(self, instance_id: str) -> None:
        """Say in its record that the instance left the rotation: servers routing from the
        catalogue (``catalog_snapshots``) stop sending it requests too."""
        try:
            found = await io(self.catalog.get_versioned, INSTANCE, instance_id)
            if found is None or found[0].get("status") != "InService":
                return
            record = InstanceRecord.from_document(found[0]).draining()
            await io(self.catalog.put, INSTANCE, instance_id, record.document(),
                     expected_version=found[1])
        except VersionConflict:
            pass  # deleted or rewritten meanwhile: nothing routes it from this record
        except Exception:  # noqa: BLE001 - routers still eject it once it stops answering
            _log.exception("marking instance %s as draining failed", instance_id)

    async def _forget(self, instance_id: str) -> None:
        try:
            await io(self.catalog.delete, INSTANCE, instance_id)
        except Exception:  # noqa: BLE001 - a stale record is dropped at the next restart
            _log.exception("deleting the record of instance %s failed", instance_id)

    def _instance_spec(self, endpoint_name: str, fleet: Fleet, instance_id: str) -> InstanceSpec:
        # Runs in a worker thread: planning stats model locations (and stages s3:// ones from
        # a remote store); the agent unpacks them on its own host.
        model, base_dir = describe_model_sync(self.catalog, fleet.model.name)
        work_dir = Path(self.settings.data_dir) / "instances" / endpoint_name / instance_id
        containers = self.plan_model(model, base_dir, work_dir)
        return InstanceSpec.for_endpoint(
            endpoint_name,
            fleet.variant.name,
            containers,
            work_dir,
            instance_id=instance_id,
            health_check_timeout=fleet.variant.startup_timeout
            or self.settings.health_check_timeout,
            ping_interval=self.settings.ping_interval,
            ping_timeout=self.settings.ping_timeout,
            stop_grace_period=self.settings.stop_grace_period,
            instance_type=fleet.variant.instance_type,
            config_name=self._config_of(endpoint_name, fleet),
        )

    def _config_of(self, endpoint_name: str, fleet: Fleet) -> str | None:
        run = self.runs.get(endpoint_name)
        if run is None:
            return None
        if run.pending is not None and fleet in run.pending.values():
            return run.pending_config.name if run.pending_config is not None else None
        return run.config.name

    # -- stopping ----------------------------------------------------------

    def _retire(self, run: EndpointRun, instance_ids: list[str]) -> None:
        """Stop instances leaving the rotation once their in-flight requests are answered."""
        routed = routed_instances(self.router, run.endpoint.name)
        for instance_id in instance_ids:
            self._stop_instance(instance_id, drain=routed.get(instance_id))

    def _stop_instance(
        self, instance_id: str, drain: RoutedInstance | None = None
    ) -> asyncio.Task[None]:
        async def stop() -> None:
            await self._mark_draining(instance_id)
            if drain is not None:
                deadline = self.clock.monotonic() + self.settings.invocation_timeout
                while drain.outstanding > 0 and self.clock.monotonic() < deadline:
                    await asyncio.sleep(0.02)
            try:
                await self.launcher.stop_instance(instance_id)
            except Exception:  # noqa: BLE001 - stopping is best effort, logged
                _log.exception("stopping instance %s failed", instance_id)
            await self._forget(instance_id)

        task = asyncio.create_task(stop(), name=f"stop-{instance_id}")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)
        return task

    def _stop_fleets(
        self, fleets: dict[str, Fleet], drain: dict[str, RoutedInstance] | None = None
    ) -> dict[str, asyncio.Task[None]]:
        """Stop every instance of ``fleets``, each once the requests ``drain`` says it still
        has in flight are answered; the stops by instance id."""
        stops = {}
        for fleet in fleets.values():
            fleet.cancel_starts()
            for instance_id in list(fleet.instances):
                fleet.instances.pop(instance_id)
                self.dead.pop(instance_id, None)
                stops[instance_id] = self._stop_instance(
                    instance_id, drain=(drain or {}).get(instance_id))
        return stops

    # -- endpoint-wide transitions ---------------------------------------------

    async def _fail(self, run: EndpointRun, reason: str) -> None:
        run.endpoint.failure_reason = reason[:1024]
        self._stop_fleets(run.fleets)
        for state in run.endpoint.variants:
            state.desired_instance_count = 0
        self.router.withdraw(run.endpoint.name)
        self.status.set(run, EndpointStatus.FAILED)
        await self.status.settled(run)

    def _roll_back(self, run: EndpointRun, reason: str) -> None:
        self._stop_fleets(run.pending or {})
        run.pending = None
        run.pending_config = None
        run.endpoint.pending_config_name = None
        run.endpoint.failure_reason = f"Update rolled back: {reason}"[:1024]
        self.status.set(run, EndpointStatus.IN_SERVICE)

    def _cut_over(self, run: EndpointRun) -> None:
        old = run.fleets
        assert run.pending is not None and run.pending_config is not None
        run.fleets = run.pending
        run.config = run.pending_config
        run.pending = None
        run.pending_config = None
        run.endpoint.config_name = run.config.name
        run.endpoint.pending_config_name = None
        run.endpoint.variants = initial_variant_states(run.config)
        run.count_instances()
        # Publish the new fleet, then stop the old one once its requests are answered: no
        # request is dropped.
        retiring = [i for fleet in old.values() for i in fleet.instances]
        routed = routed_instances(self.router, run.endpoint.name)
        self._publish(run)
        for instance_id in retiring:
            self.dead.pop(instance_id, None)
            self._stop_instance(instance_id, drain=routed.get(instance_id))
        self.status.set(run, EndpointStatus.IN_SERVICE)

    async def _finish_delete(self, run: EndpointRun) -> None:
        # Requests routed before DeleteEndpoint withdrew the endpoint are answered first.
        stops = {**self._stop_fleets(run.fleets, drain=run.draining),
                 **self._stop_fleets(run.pending or {})}
        run.deleted = True
        await self.status.settled(run)
        await io(self.catalog.delete, ENDPOINT, run.endpoint.name)
        # Only now: until the document is gone, DescribeEndpoint must keep answering "Deleting"
        # from memory, not an older status from the store (the endpoint_deleted waiter fails
        # on "Failed").
        self.runs.pop(run.endpoint.name, None)
        cleanup = asyncio.create_task(
            self._remove_work_dirs(run.endpoint.name, stops), name=f"cleanup-{run.endpoint.name}")
        self._stopping.add(cleanup)
        cleanup.add_done_callback(self._stopping.discard)

    async def _remove_work_dirs(self, endpoint_name: str,
                                stops: dict[str, asyncio.Task[None]]) -> None:
        """Once its instances have stopped, remove their directories (only theirs: an endpoint
        created again under the name meanwhile has its own), then the endpoint's if empty."""
        await asyncio.gather(*stops.values(), return_exceptions=True)
        root = Path(self.settings.data_dir) / "instances" / endpoint_name
        for instance_id in stops:
            shutil.rmtree(root / instance_id, ignore_errors=True)
        with contextlib.suppress(OSError):
            root.rmdir()
