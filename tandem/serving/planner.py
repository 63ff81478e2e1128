"""The supervisor's decisions as a pure function: ``plan(desired, actual, now) -> actions``.

``desired`` is what the control plane asked for (an endpoint's status and each variant's
instance count, plus an update's new variants while it is Updating); ``actual`` is what runs
(each variant's ready instances, how many are starting, which ones died, the last start
failure and when a start may be tried again). The answer is the list of things to do now:
start instances, drain extra ones, replace dead ones, fail the endpoint, roll an update back or
cut it over, settle the status, finish a delete. Nothing here does I/O or reads a clock: the
reconciler gathers the inputs and applies the actions through the Launcher.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .model import EndpointStatus

__all__ = [
    "Action",
    "ActualEndpoint",
    "ActualFleet",
    "CutOver",
    "DesiredEndpoint",
    "DrainInstances",
    "FailEndpoint",
    "FinishDelete",
    "Group",
    "MarkInService",
    "ReplaceInstance",
    "RollBack",
    "StartInstances",
    "plan",
]


class Group(enum.StrEnum):
    """Which fleets an action is about: the config taking traffic, or an update's new one."""

    CURRENT = "current"
    PENDING = "pending"


@dataclass(frozen=True)
class DesiredEndpoint:
    status: EndpointStatus
    # Variant name -> instance count, for the config taking traffic.
    fleets: Mapping[str, int]
    # While an UpdateEndpoint deploys a new config (blue/green): its variants' counts.
    pending: Mapping[str, int] | None = None


@dataclass(frozen=True)
class ActualFleet:
    # Ready instance ids, oldest first (scale-in drains the newest).
    ready: Sequence[str] = ()
    starting: int = 0
    # Ready instances found dead (container exited, /ping failing, connection refused), with
    # why; they still count in ``ready`` until replaced.
    dead: Mapping[str, str] = field(default_factory=dict)
    # The last start failure, cleared by a successful start; starts wait until ``retry_at``.
    failure: str | None = None
    retry_at: float = 0.0

    def alive(self) -> list[str]:
        return [i for i in self.ready if i not in self.dead]


@dataclass(frozen=True)
class ActualEndpoint:
    fleets: Mapping[str, ActualFleet] = field(default_factory=dict)
    pending: Mapping[str, ActualFleet] | None = None


@dataclass(frozen=True)
class StartInstances:
    group: Group
    variant: str
    count: int


@dataclass(frozen=True)
class DrainInstances:
    """Scale-in: leave the rotation, stop once in-flight requests are answered."""

    group: Group
    variant: str
    instance_ids: tuple[str, ...]


@dataclass(frozen=True)
class ReplaceInstance:
    """Stop a dead instance at once (nothing to drain); a new id takes its place."""

    group: Group
    variant: str
    instance_id: str
    reason: str


@dataclass(frozen=True)
class FailEndpoint:
    """Creating failed: stop everything, status Failed with the reason."""

    reason: str


@dataclass(frozen=True)
class RollBack:
    """An update's new fleet failed to start: stop it, keep serving the old one."""

    reason: str


@dataclass(frozen=True)
class CutOver:
    """An update's new fleet is complete: route to it, drain and stop the old one."""


@dataclass(frozen=True)
class MarkInService:
    pass


@dataclass(frozen=True)
class FinishDelete:
    pass


Action = (
    StartInstances
    | DrainInstances
    | ReplaceInstance
    | FailEndpoint
    | RollBack
    | CutOver
    | MarkInService
    | FinishDelete
)

_EMPTY = ActualFleet()


def plan(desired: DesiredEndpoint, actual: ActualEndpoint, now: float) -> list[Action]:
    """What to do now so that ``actual`` moves toward ``desired``; ``now`` is monotonic time,
    compared with each fleet's ``retry_at`` (a start that failed backs off)."""
    status = desired.status
    if status is EndpointStatus.DELETING:
        return [FinishDelete()]
    if status in (EndpointStatus.FAILED, EndpointStatus.OUT_OF_SERVICE):
        return []
    if status is EndpointStatus.CREATING:
        for variant in desired.fleets:
            failure = actual.fleets.get(variant, _EMPTY).failure
            if failure:
                return [FailEndpoint(failure)]
    actions: list[Action] = []
    current_complete = _drive(Group.CURRENT, desired.fleets, actual.fleets, status, now, actions)
    if desired.pending is not None:
        pending_actual = actual.pending or {}
        for variant in desired.pending:
            failure = pending_actual.get(variant, _EMPTY).failure
            if failure:
                # The new fleet's starts are moot: only the old fleet's upkeep stays.
                return [a for a in actions if _group(a) is Group.CURRENT] + [RollBack(failure)]
        if _drive(Group.PENDING, desired.pending, pending_actual, status, now, actions):
            actions.append(CutOver())
    elif current_complete and status in (
        EndpointStatus.CREATING,
        EndpointStatus.SYSTEM_UPDATING,
        EndpointStatus.UPDATING,
    ):
        actions.append(MarkInService())
    return actions


def _drive(
    group: Group,
    desired: Mapping[str, int],
    actual: Mapping[str, ActualFleet],
    status: EndpointStatus,
    now: float,
    actions: list[Action],
) -> bool:
    """Append one group's replacements, starts and drains; whether the group is complete
    (every variant has its count ready and nothing starting) once they are applied."""
    complete = True
    for variant, count in desired.items():
        fleet = actual.get(variant, _EMPTY)
        for instance_id, reason in fleet.dead.items():
            if instance_id in fleet.ready:
                actions.append(ReplaceInstance(group, variant, instance_id, reason))
        alive = fleet.alive()
        have = len(alive) + fleet.starting
        if have < count:
            if now >= fleet.retry_at:
                actions.append(StartInstances(group, variant, count - have))
            complete = False
        elif len(alive) > count:
            actions.append(DrainInstances(group, variant, tuple(alive[count:])))
        if fleet.starting or len(alive) < count:
            complete = False
    return complete


def _group(action: Action) -> Group | None:
    return getattr(action, "group", None)
