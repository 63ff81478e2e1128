"""The endpoint manager: the control plane's one entry point for SageMaker's serving calls.

A thin facade. Models and endpoint configs are catalogue documents (``definitions``);
CreateEndpoint, UpdateEndpoint, UpdateEndpointWeightsAndCapacities and DeleteEndpoint change an
endpoint's desired state (its record, the catalogue's document: status, each variant's count
and weight, an update's new config; see ``fleets``) and wake the reconcile loop
(``reconciler``), which asks the pure ``planner`` what to start, drain, stop or replace,
applies that through the Launcher, settles statuses (``endpoint_status``) and publishes the
routing snapshot (``snapshots``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..config import Settings
from ..errors import TandemError, ValidationException
from .catalog import AlreadyExists, CatalogStore, FencedCatalog
from .definitions import ENDPOINT, Definitions, io
from .endpoint_status import StatusWriter
from .errors import ResourceNotFoundException
from .fleets import (
    EndpointRun,
    Fleet,
    build_fleets,
    initial_variant_states,
    restored_variant_states,
)
from .instance_records import INSTANCE
from .launcher import Launcher
from .model import Endpoint, EndpointConfig, EndpointStatus, Model, validate_name
from .reconciler import PlanModel, Reconciler
from .router import Router
from .snapshots import routed_instances

__all__ = ["EndpointManager", "PlanModel"]

_log = logging.getLogger(__name__)


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
        epoch: Callable[[], int] | None = None,
    ) -> None:
        self.catalog = catalog
        # The leader-only writers carry the epoch it leads under (``epoch``; none: unfenced).
        leader_catalog = catalog if epoch is None else FencedCatalog(catalog, epoch)
        self.launcher = launcher
        self.router = router
        self.settings = settings
        self.plan_model = plan_model
        self.clock = clock or SystemClock()
        self.definitions = Definitions(catalog, settings, self.clock)
        self.status = StatusWriter(leader_catalog, self.clock)
        self.reconciler = Reconciler(
            catalog=leader_catalog,
            launcher=launcher,
            router=router,
            settings=settings,
            plan_model=plan_model,
            clock=self.clock,
            status=self.status,
        )
        router.on_dead_instance = self.reconciler.report_dead
        # Checks an UpdateEndpoint must pass (endpoint name, current config, new config); each
        # raises a ValidationException to refuse it (autoscaling guards its variants).
        self.update_checks: list[Callable[[str, EndpointConfig, EndpointConfig], None]] = []

    @property
    def _running(self) -> dict[str, EndpointRun]:
        return self.reconciler.runs

    # -- names and ARNs ----------------------------------------------------

    def arn(self, resource: str, name: str) -> str:
        return self.definitions.arn(resource, name)

    def _not_found(self, name: str) -> ResourceNotFoundException:
        return self.definitions.not_found("endpoint", "endpoint", name)

    # -- models and endpoint configs -----------------------------------------

    async def create_model(self, request: Mapping[str, Any], base_dir: Path | None = None) -> Model:
        return await self.definitions.create_model(request, base_dir)

    async def describe_model(self, name: str) -> tuple[Model, Path]:
        return await self.definitions.describe_model(name)

    async def list_models(self) -> list[Model]:
        return await self.definitions.list_models()

    async def delete_model(self, name: str) -> None:
        await self.definitions.delete_model(name)

    async def create_endpoint_config(self, request: Mapping[str, Any]) -> EndpointConfig:
        return await self.definitions.create_endpoint_config(request)

    async def describe_endpoint_config(self, name: str) -> EndpointConfig:
        return await self.definitions.describe_endpoint_config(name)

    async def list_endpoint_configs(self) -> list[EndpointConfig]:
        return await self.definitions.list_endpoint_configs()

    async def delete_endpoint_config(self, name: str) -> None:
        await self.definitions.delete_endpoint_config(name)

    # -- endpoints ---------------------------------------------------------

    async def _fleets(self, config: EndpointConfig) -> dict[str, Fleet]:
        async def model(name: str) -> Model:
            return (await self.definitions.describe_model(name))[0]

        return await build_fleets(config, model)

    async def create_endpoint(self, name: Any, config_name: Any) -> Endpoint:
        validate_name("endpoint", "endpointName", name)
        validate_name("endpoint config", "endpointConfigName", config_name)
        existing = await io(self.catalog.get, ENDPOINT, name)
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
            variants=initial_variant_states(config),
        )
        try:
            await io(self.catalog.put, ENDPOINT, name, endpoint.to_record(), create=True)
        except AlreadyExists:
            raise ValidationException(
                f'Cannot create already existing endpoint "{self.arn("endpoint", name)}".'
            ) from None
        self._running[name] = EndpointRun(endpoint, config, fleets)
        self.reconciler.wake()
        return endpoint

    async def describe_endpoint(self, name: str) -> Endpoint:
        run = self._running.get(name)
        if run is not None:
            return run.endpoint
        document = await io(self.catalog.get, ENDPOINT, name)
        if document is None:
            raise self._not_found(name)
        return Endpoint.from_record(document)

    async def list_endpoints(self) -> list[Endpoint]:
        docs = await io(self.catalog.list, ENDPOINT)
        result = []
        for doc in docs:
            run = self._running.get(doc["name"])
            result.append(run.endpoint if run else Endpoint.from_record(doc))
        return result

    async def delete_endpoint(self, name: str) -> None:
        run = self._running.get(name)
        if run is None:
            if await io(self.catalog.get, ENDPOINT, name) is None:
                raise self._not_found(name)
            await io(self.catalog.delete, ENDPOINT, name)
            return
        self.status.set(run, EndpointStatus.DELETING)
        run.draining = routed_instances(self.router, run.endpoint.name)
        self.router.withdraw(run.endpoint.name)
        self.reconciler.wake()
        # Answered means recorded: a server that dies now leaves a Deleting document, which
        # the next leader finishes deleting rather than restoring.
        await self.status.settled(run)

    def _check_updatable(self, run: EndpointRun) -> None:
        endpoint = run.endpoint
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
        run = self._running.get(name)
        if run is None:
            return {}
        return {
            variant: [c.image or " ".join(c.command or ()) for c in fleet.model.containers]
            for variant, fleet in run.fleets.items()
        }

    async def update_endpoint(self, name: str, config_name: Any) -> Endpoint:
        run = self._running.get(name)
        if run is None:
            raise self._not_found(name)
        validate_name("endpoint config", "endpointConfigName", config_name)
        self._check_updatable(run)
        config = await self.describe_endpoint_config(config_name)
        for check in self.update_checks:
            check(name, run.config, config)
        run.pending = await self._fleets(config)
        run.pending_config = config
        run.endpoint.pending_config_name = config.name
        run.endpoint.failure_reason = None
        self.status.set(run, EndpointStatus.UPDATING)
        self.reconciler.wake()
        await self.status.settled(run)  # the next leader resumes the update from the document
        return run.endpoint

    async def update_weights_and_capacities(
        self, name: str, desired: list[Mapping[str, Any]]
    ) -> Endpoint:
        run = self._running.get(name)
        if run is None:
            raise self._not_found(name)
        self._check_updatable(run)
        states = {s.name: s for s in run.endpoint.variants}
        changes = []
        for i, item in enumerate(desired):
            variant = item.get("VariantName")
            state = states.get(variant) if isinstance(variant, str) else None
            if state is None:
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
            changes.append((state, weight, count))
        for state, weight, count in changes:
            if weight is not None:
                state.current_weight = state.desired_weight = float(weight)
            if count is not None:
                state.desired_instance_count = count
        self.status.set(run, EndpointStatus.UPDATING)
        self.reconciler.wake()
        await self.status.settled(run)  # the counts and weights outlive this server
        return run.endpoint

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Bring back persisted endpoints, then run the loop."""
        for doc in await io(self.catalog.list, ENDPOINT):
            endpoint = Endpoint.from_record(doc)
            if endpoint.status is EndpointStatus.DELETING:
                await io(self.catalog.delete, ENDPOINT, endpoint.name)
                continue
            if endpoint.status in (EndpointStatus.FAILED, EndpointStatus.OUT_OF_SERVICE):
                continue
            try:
                config = await self.describe_endpoint_config(endpoint.config_name)
                fleets = await self._fleets(config)
            except ValidationException as exc:
                endpoint.status = EndpointStatus.FAILED
                endpoint.failure_reason = f"Could not restore the endpoint: {exc.message}"
                await io(self.catalog.put, ENDPOINT, endpoint.name, endpoint.to_record())
                continue
            endpoint.variants = restored_variant_states(config, endpoint.variants)
            run = EndpointRun(endpoint, config, fleets)
            endpoint.status = EndpointStatus.SYSTEM_UPDATING
            if endpoint.pending_config_name is not None:
                await self._resume_update(run, endpoint.pending_config_name)
            self._running[endpoint.name] = run
        await self._reattach()
        self.reconciler.start()

    async def _resume_update(self, run: EndpointRun, config_name: str) -> None:
        """An UpdateEndpoint the previous leader accepted and did not finish goes on."""
        try:
            config = await self.describe_endpoint_config(config_name)
            run.pending = await self._fleets(config)
        except ValidationException as exc:
            _log.warning("endpoint %s: not resuming its update to %s: %s",
                         run.endpoint.name, config_name, exc.message)  # fmt: skip
            run.endpoint.pending_config_name = None
            return
        run.pending_config = config
        run.endpoint.status = EndpointStatus.UPDATING

    async def _reattach(self) -> None:
        """Adopt the instances a launcher kept running across the restart (Ray's detached
        actors): same ids, containers untouched, nothing started in their place."""
        # Recorded ids are ours whoever started them: after a takeover, the old leader did.
        recorded = [doc["instance_id"] for doc in await io(self.catalog.list, INSTANCE)]
        try:
            handles = await self.launcher.recover(recorded)
        except TandemError as exc:  # e.g. the Ray head is down: start afresh, as before
            _log.warning("could not look for running instances: %s", exc)
            return
        adopted = await self.reconciler.adopt(handles)
        if handles:
            _log.info("re-attached to %d running instances (%d stopped)",
                      len(adopted), len(handles) - len(adopted))  # fmt: skip

    async def stop(self) -> None:
        """Stop the loop and every instance; persisted statuses stay so a restart restores them."""
        await self.reconciler.stop()
