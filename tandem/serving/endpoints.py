"""The endpoint manager: desired state in, running instances out, in one loop.

Control-plane calls change the desired state (persisted in the catalogue) and
wake the loop. Each tick the loop compares every endpoint's variants with
their instances, starts what is missing (a replaced instance gets a new id),
stops what is extra, settles statuses (Creating -> InService | Failed,
Updating -> InService), and publishes a fresh routing snapshot to the router.
Launcher events (a container exited, /ping failing) only enqueue; the loop
acts on them. A container that fails at start backs off instead of
crash-looping.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..config import Settings, parent_environment
from ..errors import TandemError, ValidationException
from .catalog import AlreadyExists, CatalogStore
from .errors import ResourceNotFoundException
from .images import ImageError, classify_image
from .launcher import (
    ContainerExited,
    ContainerSpec,
    InstanceHandle,
    InstanceSpec,
    InstanceStartFailed,
    InstanceUnhealthy,
    Launcher,
    new_instance_id,
)
from .model import (
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    ExecutionMode,
    Model,
    ProductionVariant,
    VariantState,
    arn,
    validate_name,
)
from .router import RoutedEndpoint, RoutedInstance, RoutedVariant, Router

__all__ = ["EndpointManager", "PlanModel"]

_log = logging.getLogger(__name__)

# (model, base_dir, work_dir) -> how to run each of its containers (serving.containers.plan_model)
PlanModel = Callable[[Model, Path, Path], list[ContainerSpec]]

_MODEL, _CONFIG, _ENDPOINT = "model", "endpoint-config", "endpoint"
_BACKOFF_START, _BACKOFF_MAX = 1.0, 60.0


@dataclasses.dataclass
class _Fleet:
    """One variant's instances under one endpoint config."""

    variant: ProductionVariant
    model: Model
    desired: int
    weight: float
    instances: dict[str, InstanceHandle] = dataclasses.field(default_factory=dict)
    starting: dict[str, asyncio.Task[InstanceHandle | None]] = dataclasses.field(
        default_factory=dict
    )
    failure: str | None = None
    failures_in_row: int = 0
    next_attempt: float = 0.0


@dataclasses.dataclass
class _Running:
    endpoint: Endpoint
    config: EndpointConfig
    fleets: dict[str, _Fleet]
    # While Updating: the new config's fleets, not yet taking traffic.
    pending: dict[str, _Fleet] | None = None
    pending_config: EndpointConfig | None = None
    # The latest status write (each waits for the one before); none after deletion.
    persisting: asyncio.Task[None] | None = None
    deleted: bool = False


class EndpointManager:
    def __init__(
        self,
        *,
        catalog: CatalogStore,
        launcher: Launcher,
        router: Router,
        settings: Settings,
        plan_model: PlanModel,
        clock: Clock | None = None,
    ) -> None:
        self.catalog = catalog
        self.launcher = launcher
        self.router = router
        self.settings = settings
        self.plan_model = plan_model
        self.clock = clock or SystemClock()
        self._running: dict[str, _Running] = {}
        self._wake = asyncio.Event()
        router.on_dead_instance = self._on_dead_instance
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping: set[asyncio.Task[Any]] = set()
        # Checks an UpdateEndpoint must pass (endpoint name, current config, new config); each
        # raises a ValidationException to refuse it (autoscaling guards its variants).
        self.update_checks: list[Callable[[str, EndpointConfig, EndpointConfig], None]] = []

    # -- names and ARNs ----------------------------------------------------

    def arn(self, resource: str, name: str) -> str:
        return arn(self.settings.region, self.settings.account_id, resource, name)

    def _not_found(self, what: str, resource: str, name: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(f'Could not find {what} "{self.arn(resource, name)}".')

    async def _io(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- models ------------------------------------------------------------

    async def create_model(self, request: Mapping[str, Any], base_dir: Path | None = None) -> Model:
        model = Model.parse(request, self.clock.time())
        await self._io(_check_images, model, base_dir or Path.cwd())
        document = {
            "request": dict(request),
            "creation_time": model.creation_time,
            "base_dir": str(base_dir or Path.cwd()),
        }
        try:
            await self._io(self.catalog.put, _MODEL, model.name, document, create=True)
        except AlreadyExists:
            raise ValidationException(
                f'Cannot create already existing model "{self.arn("model", model.name)}".'
            ) from None
        return model

    async def describe_model(self, name: str) -> tuple[Model, Path]:
        document = await self._io(self.catalog.get, _MODEL, name)
        if document is None:
            raise self._not_found("model", "model", name)
        return Model.parse(document["request"], document["creation_time"]), Path(
            document["base_dir"]
        )

    async def list_models(self) -> list[Model]:
        docs = await self._io(self.catalog.list, _MODEL)
        return [Model.parse(d["request"], d["creation_time"]) for d in docs]

    async def delete_model(self, name: str) -> None:
        if not await self._io(self.catalog.delete, _MODEL, name):
            raise self._not_found("model", "model", name)

    # -- endpoint configs --------------------------------------------------

    async def create_endpoint_config(self, request: Mapping[str, Any]) -> EndpointConfig:
        config = EndpointConfig.parse(request, self.clock.time())
        for variant in config.variants:
            # As on AWS: a config may only name models that exist when it is created.
            if await self._io(self.catalog.get, _MODEL, variant.model_name) is None:
                raise ValidationException(
                    f'Could not find model "{self.arn("model", variant.model_name)}".'
                )
        document = {"request": dict(request), "creation_time": config.creation_time}
        try:
            await self._io(self.catalog.put, _CONFIG, config.name, document, create=True)
        except AlreadyExists:
            raise ValidationException(
                "Cannot create already existing endpoint configuration "
                f'"{self.arn("endpoint-config", config.name)}".'
            ) from None
        return config

    async def describe_endpoint_config(self, name: str) -> EndpointConfig:
        document = await self._io(self.catalog.get, _CONFIG, name)
        if document is None:
            raise self._not_found("endpoint configuration", "endpoint-config", name)
        return EndpointConfig.parse(document["request"], document["creation_time"])

    async def list_endpoint_configs(self) -> list[EndpointConfig]:
        docs = await self._io(self.catalog.list, _CONFIG)
        return [EndpointConfig.parse(d["request"], d["creation_time"]) for d in docs]

    async def delete_endpoint_config(self, name: str) -> None:
        if not await self._io(self.catalog.delete, _CONFIG, name):
            raise self._not_found("endpoint configuration", "endpoint-config", name)

    # -- endpoints ---------------------------------------------------------

    async def _fleets(self, config: EndpointConfig) -> dict[str, _Fleet]:
        fleets = {}
        for variant in config.variants:
            model, _ = await self.describe_model(variant.model_name)
            fleets[variant.name] = _Fleet(variant, model, variant.instance_count, variant.weight)
        return fleets

    async def create_endpoint(self, name: Any, config_name: Any) -> Endpoint:
        validate_name("endpoint", "endpointName", name)
        validate_name("endpoint config", "endpointConfigName", config_name)
        existing = await self._io(self.catalog.get, _ENDPOINT, name)
        if existing is not None or name in self._running:
            raise ValidationException(
                f'Cannot create already existing endpoint "{self.arn("endpoint", name)}".'
            )
        config = await self.describe_endpoint_config(config_name)
        fleets = await self._fleets(config)
        now = self.clock.time()
        endpoint = Endpoint(
            name,
            config.name,
            EndpointStatus.CREATING,
            now,
            now,
            variants=[
                VariantState(f.variant.name, f.weight, f.weight, f.desired,
                             serverless=f.variant.serverless)
                for f in fleets.values()
            ],
        )
        try:
            await self._io(self.catalog.put, _ENDPOINT, name, endpoint.to_record(), create=True)
        except AlreadyExists:
            raise ValidationException(
                f'Cannot create already existing endpoint "{self.arn("endpoint", name)}".'
            ) from None
        self._running[name] = _Running(endpoint, config, fleets)
        self._wake.set()
        return endpoint

    async def describe_endpoint(self, name: str) -> Endpoint:
        running = self._running.get(name)
        if running is not None:
            return running.endpoint
        document = await self._io(self.catalog.get, _ENDPOINT, name)
        if document is None:
            raise self._not_found("endpoint", "endpoint", name)
        return Endpoint.from_record(document)

    async def list_endpoints(self) -> list[Endpoint]:
        docs = await self._io(self.catalog.list, _ENDPOINT)
        result = []
        for doc in docs:
            running = self._running.get(doc["name"])
            result.append(running.endpoint if running else Endpoint.from_record(doc))
        return result

    async def delete_endpoint(self, name: str) -> None:
        running = self._running.get(name)
        if running is None:
            if await self._io(self.catalog.get, _ENDPOINT, name) is None:
                raise self._not_found("endpoint", "endpoint", name)
            await self._io(self.catalog.delete, _ENDPOINT, name)
            return
        self._set_status(running, EndpointStatus.DELETING)
        self.router.withdraw(running.endpoint.name)
        self._wake.set()

    def _check_updatable(self, running: _Running) -> None:
        endpoint = running.endpoint
        status = endpoint.status
        if status is EndpointStatus.IN_SERVICE:
            return
        where = self.arn("endpoint", endpoint.name)
        if status is EndpointStatus.FAILED:
            # AWS: "DeleteEndpoint is the only operation that can be performed on a failed
            # endpoint."
            raise ValidationException(
                f'Cannot update failed endpoint "{where}". DeleteEndpoint is the only operation '
                "that can be performed on a failed endpoint."
            )
        raise ValidationException(f'Cannot update in-progress endpoint "{where}".')

    def deployed_images(self, name: str) -> dict[str, list[str]]:
        """Each variant's container images as they run now (DescribeEndpoint's DeployedImages)."""
        running = self._running.get(name)
        if running is None:
            return {}
        return {
            variant: [c.image or " ".join(c.command or ()) for c in fleet.model.containers]
            for variant, fleet in running.fleets.items()
        }

    async def update_endpoint(self, name: str, config_name: Any) -> Endpoint:
        running = self._running.get(name)
        if running is None:
            raise self._not_found("endpoint", "endpoint", name)
        validate_name("endpoint config", "endpointConfigName", config_name)
        self._check_updatable(running)
        config = await self.describe_endpoint_config(config_name)
        for check in self.update_checks:
            check(name, running.config, config)
        running.pending = await self._fleets(config)
        running.pending_config = config
        running.endpoint.pending_config_name = config.name
        running.endpoint.failure_reason = None
        self._set_status(running, EndpointStatus.UPDATING)
        self._wake.set()
        return running.endpoint

    async def update_weights_and_capacities(
        self, name: str, desired: list[Mapping[str, Any]]
    ) -> Endpoint:
        running = self._running.get(name)
        if running is None:
            raise self._not_found("endpoint", "endpoint", name)
        self._check_updatable(running)
        changes = []
        for i, item in enumerate(desired):
            variant = item.get("VariantName")
            fleet = running.fleets.get(variant) if isinstance(variant, str) else None
            if fleet is None:
                raise ValidationException(
                    f"DesiredWeightsAndCapacities[{i}].VariantName: variant "
                    f"{item.get('VariantName')!r} does not exist on endpoint {name}."
                )
            weight = item.get("DesiredWeight")
            count = item.get("DesiredInstanceCount")
            if weight is not None and (not isinstance(weight, int | float) or weight < 0):
                raise ValidationException(
                    f"DesiredWeightsAndCapacities[{i}].DesiredWeight must be >= 0"
                )
            if count is not None and (not isinstance(count, int) or count < 0):
                raise ValidationException(
                    f"DesiredWeightsAndCapacities[{i}].DesiredInstanceCount must be an integer >= 0"
                )
            changes.append((fleet, weight, count))
        for fleet, weight, count in changes:
            if weight is not None:
                fleet.weight = float(weight)
            if count is not None:
                fleet.desired = count
        self._set_status(running, EndpointStatus.UPDATING)
        self._wake.set()
        return running.endpoint

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Bring back persisted endpoints, then run the loop."""
        for doc in await self._io(self.catalog.list, _ENDPOINT):
            endpoint = Endpoint.from_record(doc)
            if endpoint.status is EndpointStatus.DELETING:
                await self._io(self.catalog.delete, _ENDPOINT, endpoint.name)
                continue
            if endpoint.status in (EndpointStatus.FAILED, EndpointStatus.OUT_OF_SERVICE):
                continue
            try:
                config = await self.describe_endpoint_config(endpoint.config_name)
                fleets = await self._fleets(config)
            except ValidationException as exc:
                endpoint.status = EndpointStatus.FAILED
                endpoint.failure_reason = f"Could not restore the endpoint: {exc.message}"
                await self._io(self.catalog.put, _ENDPOINT, endpoint.name, endpoint.to_record())
                continue
            for state in endpoint.variants:
                fleet = fleets.get(state.name)
                if fleet is not None:
                    fleet.desired = state.desired_instance_count
                    fleet.weight = state.desired_weight
            endpoint.pending_config_name = None
            endpoint.status = EndpointStatus.SYSTEM_UPDATING
            self._running[endpoint.name] = _Running(endpoint, config, fleets)
        self._tasks.append(asyncio.create_task(self._loop(), name="endpoint-manager"))
        self._tasks.append(asyncio.create_task(self._watch_launcher(), name="launcher-events"))
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop and every instance; persisted statuses stay so a restart restores them."""
        for task in self._tasks:
            task.cancel()
        for running in self._running.values():
            for fleets in (running.fleets, running.pending or {}):
                for fleet in fleets.values():
                    for task in fleet.starting.values():
                        task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for running in list(self._running.values()):
            for fleets in (running.fleets, running.pending or {}):
                for fleet in fleets.values():
                    # A starting task removes itself from ``starting`` when it ends: iterate
                    # over a copy.
                    for task in list(fleet.starting.values()):
                        with contextlib.suppress(BaseException):
                            await task
        await asyncio.gather(*self._stopping, return_exceptions=True)
        await self.launcher.close()

    # -- the loop ----------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass
            self._wake.clear()
            for running in list(self._running.values()):
                try:
                    await self._reconcile(running)
                except Exception:  # noqa: BLE001 - one endpoint must not stop the loop
                    _log.exception("reconciling endpoint %s failed", running.endpoint.name)

    async def _watch_launcher(self) -> None:
        async for event in self.launcher.events():
            if isinstance(event, ContainerExited | InstanceUnhealthy):
                self._eject(event.instance_id, str(event))
                self._wake.set()

    def _on_dead_instance(self, instance_id: str, why: str) -> None:
        self._eject(instance_id, why)
        self._wake.set()

    def _eject(self, instance_id: str, why: str) -> None:
        for running in self._running.values():
            for fleets in (running.fleets, running.pending or {}):
                for fleet in fleets.values():
                    if instance_id in fleet.instances:
                        _log.warning("replacing instance %s: %s", instance_id, why)
                        fleet.instances.pop(instance_id)
                        self._stop_instance(instance_id)
                        self._publish(running)
                        return

    async def _reconcile(self, running: _Running) -> None:
        endpoint = running.endpoint
        if endpoint.status is EndpointStatus.DELETING:
            await self._finish_delete(running)
            return
        if endpoint.status is EndpointStatus.FAILED:
            return
        self._drive(running, running.fleets)
        if running.pending is not None:
            self._drive(running, running.pending)
        creating = endpoint.status in (EndpointStatus.CREATING, EndpointStatus.SYSTEM_UPDATING)
        failed = [f for f in running.fleets.values() if f.failure]
        if endpoint.status is EndpointStatus.CREATING and failed:
            await self._fail(running, failed[0].failure or "")
            return
        if running.pending is not None:
            pending_failed = [f for f in running.pending.values() if f.failure]
            if pending_failed:
                self._roll_back(running, pending_failed[0].failure or "")
            elif _complete(running.pending):
                self._cut_over(running)
        elif creating or endpoint.status is EndpointStatus.UPDATING:
            if _complete(running.fleets):
                endpoint.failure_reason = None
                self._set_status(running, EndpointStatus.IN_SERVICE)
        self._sync_variant_states(running)
        self._publish(running)

    def _drive(self, running: _Running, fleets: Mapping[str, _Fleet]) -> None:
        now = self.clock.monotonic()
        for fleet in fleets.values():
            have = len(fleet.instances) + len(fleet.starting)
            if (
                have < fleet.desired
                and now >= fleet.next_attempt
                and not (running.endpoint.status is EndpointStatus.CREATING and fleet.failure)
            ):
                for _ in range(fleet.desired - have):
                    self._start_instance(running, fleet)
            elif len(fleet.instances) > fleet.desired:
                extra = list(fleet.instances)[fleet.desired :]
                for instance_id in extra:
                    fleet.instances.pop(instance_id)
                self._retire(running, extra)

    def _start_instance(self, running: _Running, fleet: _Fleet) -> None:
        instance_id = new_instance_id()
        task = asyncio.create_task(
            self._launch(running, fleet, instance_id), name=f"start-{instance_id}"
        )
        fleet.starting[instance_id] = task

    async def _launch(
        self, running: _Running, fleet: _Fleet, instance_id: str
    ) -> InstanceHandle | None:
        """Start one instance; a failure is recorded on the fleet (never raised: nobody awaits
        this task, and the loop reads the fleet)."""
        endpoint = running.endpoint
        try:
            spec = await asyncio.to_thread(self._instance_spec, endpoint.name, fleet, instance_id)
            handle = await self.launcher.start_instance(spec)
        except TandemError as exc:  # InstanceStartFailed, or a container that cannot be planned
            fleet.failure = exc.reason if isinstance(exc, InstanceStartFailed) else exc.message
            fleet.failures_in_row += 1
            delay = min(_BACKOFF_START * 2 ** (fleet.failures_in_row - 1), _BACKOFF_MAX)
            fleet.next_attempt = self.clock.monotonic() + delay
            _log.warning(
                "instance %s of %s failed to start: %s", instance_id, endpoint.name, fleet.failure
            )
            return None
        except Exception as exc:  # noqa: BLE001 - any start problem fails this instance only
            fleet.failure = f"{exc.__class__.__name__}: {exc}"
            fleet.failures_in_row += 1
            fleet.next_attempt = self.clock.monotonic() + _BACKOFF_MAX
            _log.exception("instance %s of %s failed to start", instance_id, endpoint.name)
            return None
        else:
            fleet.failure = None
            fleet.failures_in_row = 0
            fleet.instances[instance_id] = handle
            return handle
        finally:
            fleet.starting.pop(instance_id, None)
            self._wake.set()

    def _instance_spec(self, endpoint_name: str, fleet: _Fleet, instance_id: str) -> InstanceSpec:
        # Runs in a worker thread: planning may unpack model archives.
        model, base_dir = _sync_describe_model(self.catalog, fleet.model.name)
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
        )

    def _retire(self, running: _Running, instance_ids: list[str]) -> None:
        """Stop instances leaving the rotation once their in-flight requests are answered.

        Call before publishing the snapshot without them: the drain waits on the load counters
        of the snapshot that routed those requests, so no request is cut off (UpdateEndpoint,
        scale-in)."""
        snapshot = self.router.endpoint(running.endpoint.name)
        routed = (
            {i.instance_id: i for v in snapshot.variants for i in v.instances}
            if snapshot is not None
            else {}
        )
        for instance_id in instance_ids:
            self._stop_instance(instance_id, drain=routed.get(instance_id))

    def _stop_instance(self, instance_id: str, drain: RoutedInstance | None = None) -> None:
        async def stop() -> None:
            if drain is not None:
                deadline = self.clock.monotonic() + self.settings.invocation_timeout
                while drain.outstanding > 0 and self.clock.monotonic() < deadline:
                    await asyncio.sleep(0.02)
            try:
                await self.launcher.stop_instance(instance_id)
            except Exception:  # noqa: BLE001 - stopping is best effort, logged
                _log.exception("stopping instance %s failed", instance_id)

        task = asyncio.create_task(stop(), name=f"stop-{instance_id}")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _fail(self, running: _Running, reason: str) -> None:
        running.endpoint.failure_reason = reason[:1024]
        for fleet in running.fleets.values():
            for task in fleet.starting.values():
                task.cancel()
            for instance_id in list(fleet.instances):
                fleet.instances.pop(instance_id)
                self._stop_instance(instance_id)
            fleet.desired = 0
        self.router.withdraw(running.endpoint.name)
        self._set_status(running, EndpointStatus.FAILED)
        if running.persisting is not None:  # the ordered write _set_status queued
            await asyncio.gather(running.persisting, return_exceptions=True)

    def _roll_back(self, running: _Running, reason: str) -> None:
        for fleet in (running.pending or {}).values():
            for task in fleet.starting.values():
                task.cancel()
            for instance_id in list(fleet.instances):
                self._stop_instance(instance_id)
        running.pending = None
        running.pending_config = None
        running.endpoint.pending_config_name = None
        running.endpoint.failure_reason = f"Update rolled back: {reason}"[:1024]
        self._set_status(running, EndpointStatus.IN_SERVICE)

    def _cut_over(self, running: _Running) -> None:
        old = running.fleets
        assert running.pending is not None and running.pending_config is not None
        running.fleets = running.pending
        running.config = running.pending_config
        running.pending = None
        running.pending_config = None
        running.endpoint.config_name = running.config.name
        running.endpoint.pending_config_name = None
        # Publish the new fleet, then stop the old one once its requests are answered: no
        # request is dropped.
        retiring = [i for fleet in old.values() for i in fleet.instances]
        snapshot = self.router.endpoint(running.endpoint.name)
        self._publish(running)
        routed = (
            {i.instance_id: i for v in snapshot.variants for i in v.instances}
            if snapshot is not None
            else {}
        )
        for instance_id in retiring:
            self._stop_instance(instance_id, drain=routed.get(instance_id))
        self._set_status(running, EndpointStatus.IN_SERVICE)

    async def _finish_delete(self, running: _Running) -> None:
        for fleets in (running.fleets, running.pending or {}):
            for fleet in fleets.values():
                for task in fleet.starting.values():
                    task.cancel()
                for instance_id in list(fleet.instances):
                    fleet.instances.pop(instance_id)
                    self._stop_instance(instance_id)
        running.deleted = True
        if running.persisting is not None:
            await asyncio.gather(running.persisting, return_exceptions=True)
        await self._io(self.catalog.delete, _ENDPOINT, running.endpoint.name)
        # Only now: until the document is gone, DescribeEndpoint must keep answering "Deleting"
        # from memory, not an older status from the store (the endpoint_deleted waiter fails
        # on "Failed").
        self._running.pop(running.endpoint.name, None)
        shutil.rmtree(
            Path(self.settings.data_dir) / "instances" / running.endpoint.name, ignore_errors=True
        )

    def _set_status(self, running: _Running, status: EndpointStatus) -> None:
        endpoint = running.endpoint
        if endpoint.status is status:
            return
        endpoint.status = status
        endpoint.last_modified_time = self.clock.time()
        self._sync_variant_states(running)
        previous = running.persisting

        async def persist() -> None:
            # In order, and never after the delete: an earlier write landing late would
            # otherwise bring a deleted endpoint back as Deleting, or an older status back.
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            if not running.deleted:
                await self._persist(running)

        task = asyncio.create_task(persist())
        running.persisting = task
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _persist(self, running: _Running) -> None:
        await self._io(
            self.catalog.put, _ENDPOINT, running.endpoint.name, running.endpoint.to_record()
        )

    def _sync_variant_states(self, running: _Running) -> None:
        running.endpoint.variants = [
            VariantState(f.variant.name, f.weight, f.weight, f.desired, len(f.instances),
                         serverless=f.variant.serverless)
            for f in running.fleets.values()
        ]

    def _publish(self, running: _Running) -> None:
        endpoint = running.endpoint
        if endpoint.status in (EndpointStatus.DELETING, EndpointStatus.FAILED):
            return
        variants = []
        any_model: Model | None = None
        for fleet in running.fleets.values():
            model = fleet.model
            any_model = model
            names = [c.hostname for c in model.containers]
            direct = model.mode is ExecutionMode.DIRECT
            instances = [
                RoutedInstance(
                    h.instance_id, [f"http://{h.host}:{h.ports[n]}/invocations" for n in names]
                )
                for h in fleet.instances.values()
            ]
            old = self.router.endpoint(endpoint.name)
            if old is not None:
                # Keep load counters of instances that stay.
                by_id = {i.instance_id: i for v in old.variants for i in v.instances}
                instances = [by_id.get(i.instance_id, i) for i in instances]
            series = self.router.variant_series(
                endpoint.name, fleet.variant.name, names, model.is_pipeline, direct
            )
            variants.append(
                RoutedVariant(
                    fleet.variant.name,
                    fleet.weight,
                    instances,
                    fleet.variant.routing,
                    series,
                    mode=model.mode,
                    containers=names,
                    primary_only=model.primary_only,
                )
            )
        if any_model is None:
            return
        if (
            endpoint.status is not EndpointStatus.IN_SERVICE
            and self.router.endpoint(endpoint.name) is None
            and not all(v.instances for v in variants)
        ):
            # Not routable before every variant has an instance; once InService it stays
            # routable and answers ServiceUnavailable while instances are replaced.
            return
        self.router.publish(
            RoutedEndpoint(
                endpoint.name,
                variants,
                region=self.settings.region,
                account_id=self.settings.account_id,
            )
        )


def _complete(fleets: Mapping[str, _Fleet]) -> bool:
    return all(len(f.instances) >= f.desired and not f.starting for f in fleets.values())


def _sync_describe_model(catalog: CatalogStore, name: str) -> tuple[Model, Path]:
    document = catalog.get(_MODEL, name)
    if document is None:
        raise ValidationException(f"Could not find model {name!r}.")
    return Model.parse(document["request"], document["creation_time"]), Path(document["base_dir"])


_PATH_SHAPED = ("/", "./", "../", "~", "file:")


def _check_images(model: Model, base_dir: Path) -> None:
    """Refuse at CreateModel, as SageMaker refuses an image it cannot pull, a container image
    no deploy could run here (not a framework image, no local directory, no Docker engine),
    rather than failing the endpoint later. A path-shaped Image is checked at deploy time (the
    directory may be made in between)."""
    docker_host = parent_environment().get("DOCKER_HOST")
    for index, container in enumerate(model.containers):
        image = container.image
        if container.command is not None or not image or image.strip().startswith(_PATH_SHAPED):
            continue
        field = "PrimaryContainer.Image" if model.primary_only else f"Containers[{index}].Image"
        try:
            classify_image(image, base_dir=base_dir, field=field, docker_host=docker_host)
        except ImageError as error:
            raise ValidationException(error.message, field=field) from None
