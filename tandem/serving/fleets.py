"""An endpoint as the reconciler runs it: its record, its config and one fleet per variant.

A ``Fleet`` is one variant's instances under one endpoint config: what the control plane wants
(count, weight) and what its starts produced (ready handles, starts in flight, the last start
failure and its backoff). ``EndpointRun`` holds an endpoint's fleets, and while an update
deploys, the new config's fleets beside them (blue/green).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping

from .launcher import InstanceHandle
from .model import Endpoint, EndpointConfig, Model, ProductionVariant, VariantState
from .planner import ActualFleet

__all__ = ["EndpointRun", "Fleet", "build_fleets", "variant_states"]


@dataclasses.dataclass
class Fleet:
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

    def all_fleets(self) -> list[Fleet]:
        return [*self.fleets.values(), *(self.pending or {}).values()]


async def build_fleets(
    config: EndpointConfig, describe_model: Callable[[str], Awaitable[Model]]
) -> dict[str, Fleet]:
    fleets = {}
    for variant in config.variants:
        model = await describe_model(variant.model_name)
        fleets[variant.name] = Fleet(variant, model, variant.instance_count, variant.weight)
    return fleets


def variant_states(fleets: Mapping[str, Fleet]) -> list[VariantState]:
    """DescribeEndpoint's ProductionVariants, from the fleets taking traffic."""
    return [
        VariantState(
            f.variant.name,
            f.weight,
            f.weight,
            f.desired,
            len(f.instances),
            serverless=f.variant.serverless,
        )
        for f in fleets.values()
    ]
