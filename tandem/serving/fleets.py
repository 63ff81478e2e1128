"""An endpoint as the reconciler runs it: its record, its config and one fleet per variant.

What the control plane wants lives in the endpoint's record, the document the catalogue
stores: each variant's desired count and weight (``VariantState``), and while Updating the new
config's counts. A ``Fleet`` holds only what one variant's starts produced under one config:
ready handles, starts in flight, the last start failure and its backoff. ``EndpointRun`` holds
an endpoint's record and fleets, and while an update deploys, the new config's fleets beside
them (blue/green).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence

from .launcher import InstanceHandle
from .model import Endpoint, EndpointConfig, Model, ProductionVariant, VariantState
from .planner import ActualFleet
from .router import RoutedInstance

__all__ = [
    "EndpointRun",
    "Fleet",
    "build_fleets",
    "initial_variant_states",
    "restored_variant_states",
]


@dataclasses.dataclass
class Fleet:
    """One variant's instances under one endpoint config."""

    variant: ProductionVariant
    model: Model
    instances: dict[str, InstanceHandle] = dataclasses.field(default_factory=dict)
    starting: dict[str, asyncio.Task[InstanceHandle | None]] = dataclasses.field(
        default_factory=dict
    )
    failure: str | None = None
    failures_in_row: int = 0
    next_attempt: float = 0.0

    def actual(self, dead: Mapping[str, str]) -> ActualFleet:
        """The planner's view; ``dead`` holds the ids (of any fleet) found dead, with why."""
        return ActualFleet(
            ready=tuple(self.instances),
            starting=len(self.starting),
            dead={i: why for i, why in dead.items() if i in self.instances},
            failure=self.failure,
            retry_at=self.next_attempt,
        )

    def cancel_starts(self) -> None:
        for task in self.starting.values():
            task.cancel()


@dataclasses.dataclass
class EndpointRun:
    endpoint: Endpoint
    config: EndpointConfig
    fleets: dict[str, Fleet]
    # While Updating: the new config's fleets, not yet taking traffic.
    pending: dict[str, Fleet] | None = None
    pending_config: EndpointConfig | None = None
    # The latest status write (each waits for the one before); none after deletion.
    persisting: asyncio.Task[None] | None = None
    deleted: bool = False
    # Set by DeleteEndpoint as it withdraws the endpoint from routing: the routed instances,
    # whose requests in flight are answered before they stop.
    draining: dict[str, RoutedInstance] = dataclasses.field(default_factory=dict)

    def all_fleets(self) -> list[Fleet]:
        return [*self.fleets.values(), *(self.pending or {}).values()]

    def desired_counts(self) -> dict[str, int]:
        return {s.name: s.desired_instance_count for s in self.endpoint.variants}

    def pending_counts(self) -> dict[str, int] | None:
        if self.pending_config is None:
            return None
        return {v.name: v.instance_count for v in self.pending_config.variants}

    def weights(self) -> dict[str, float]:
        return {s.name: s.desired_weight for s in self.endpoint.variants}

    def count_instances(self) -> None:
        """Bring the record's CurrentInstanceCount of each variant up to date."""
        for state in self.endpoint.variants:
            fleet = self.fleets.get(state.name)
            state.current_instance_count = len(fleet.instances) if fleet is not None else 0


async def build_fleets(
    config: EndpointConfig, describe_model: Callable[[str], Awaitable[Model]]
) -> dict[str, Fleet]:
    fleets = {}
    for variant in config.variants:
        model = await describe_model(variant.model_name)
        fleets[variant.name] = Fleet(variant, model)
    return fleets


def initial_variant_states(config: EndpointConfig) -> list[VariantState]:
    """A config's variants as an endpoint starts them: its counts and weights, nothing running."""
    return [
        VariantState(v.name, v.weight, v.weight, v.instance_count, 0, serverless=v.serverless)
        for v in config.variants
    ]


def restored_variant_states(
    config: EndpointConfig, states: Sequence[VariantState]
) -> list[VariantState]:
    """After a restart: the config's variants with the counts and weights the record kept
    (UpdateEndpointWeightsAndCapacities and scaling survive a restart), nothing running."""
    kept = {s.name: s for s in states}
    result = initial_variant_states(config)
    for state in result:
        old = kept.get(state.name)
        if old is not None:
            state.desired_instance_count = old.desired_instance_count
            state.current_weight = state.desired_weight = old.desired_weight
    return result
