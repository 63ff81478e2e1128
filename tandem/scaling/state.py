"""Scaling state: scalable targets, policies and activities in memory, persisted in the
catalogue (one JSON document each), so a restarted server scales as before.

Writes go through the catalogue's writer thread in the order they were made (each waits
for the one before), off the event loop; reads are served from memory. Activities are
kept six weeks, as AWS keeps them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..serving.catalog import CatalogStore
from .model import ActivityStatus, ScalableTarget, ScalingActivity, ScalingPolicy

__all__ = ["ScalingState", "ACTIVITY_RETENTION"]

_log = logging.getLogger(__name__)

_TARGET, _POLICY, _ACTIVITY = "scalable-target", "scaling-policy", "scaling-activity"
ACTIVITY_RETENTION = 42 * 86400.0


def policy_key(resource_id: str, name: str) -> str:
    return f"{resource_id}:policyName/{name}"


class ScalingState:
    def __init__(self, catalog: CatalogStore) -> None:
        self._catalog = catalog
        self.targets: dict[str, ScalableTarget] = {}
        self.policies: dict[str, ScalingPolicy] = {}
        self.activities: list[ScalingActivity] = []  # oldest first
        self._activity_ids: set[str] = set()
        self._last_write: asyncio.Task[None] | None = None

    async def load(self, now: float) -> None:
        def read() -> tuple[list[Any], list[Any], list[Any]]:
            return (
                self._catalog.list(_TARGET),
                self._catalog.list(_POLICY),
                self._catalog.list(_ACTIVITY),
            )

        targets, policies, activities = await asyncio.to_thread(read)
        for doc in targets:
            target = ScalableTarget.from_record(doc)
            self.targets[target.ref.resource_id] = target
        for doc in policies:
            policy = ScalingPolicy.from_record(doc)
            self.policies[policy_key(policy.ref.resource_id, policy.name)] = policy
        loaded = [ScalingActivity.from_record(doc) for doc in activities]
        loaded.sort(key=lambda a: a.start_time)
        self.activities = loaded
        self._activity_ids = {a.activity_id for a in loaded}
        self.expire(now)

    def expire(self, now: float) -> None:
        old = [a for a in self.activities if a.start_time < now - ACTIVITY_RETENTION]
        if old:
            self.activities = self.activities[len(old) :]
            for activity in old:
                self._activity_ids.discard(activity.activity_id)
                self._write(self._catalog.delete, _ACTIVITY, activity.activity_id)

    # -- writes (ordered, off the loop) --------------------------------------

    def _write(self, fn: Callable[..., Any], *args: Any) -> None:
        previous = self._last_write

        async def write() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await asyncio.to_thread(fn, *args)
            except Exception:  # noqa: BLE001 - logged; memory stays the truth until restart
                _log.exception("persisting scaling state failed")

        self._last_write = asyncio.get_running_loop().create_task(write())

    async def flush(self) -> None:
        """Wait for every write made so far."""
        if self._last_write is not None:
            await asyncio.gather(self._last_write, return_exceptions=True)

    def save_target(self, target: ScalableTarget) -> None:
        self.targets[target.ref.resource_id] = target
        self._write(self._catalog.put, _TARGET, target.ref.resource_id, target.to_record())

    def drop_target(self, resource_id: str) -> None:
        self.targets.pop(resource_id, None)
        self._write(self._catalog.delete, _TARGET, resource_id)

    def save_policy(self, policy: ScalingPolicy) -> None:
        key = policy_key(policy.ref.resource_id, policy.name)
        self.policies[key] = policy
        self._write(self._catalog.put, _POLICY, key, policy.to_record())

    def drop_policy(self, policy: ScalingPolicy) -> None:
        key = policy_key(policy.ref.resource_id, policy.name)
        self.policies.pop(key, None)
        self._write(self._catalog.delete, _POLICY, key)

    def save_activity(self, activity: ScalingActivity) -> None:
        if activity.activity_id not in self._activity_ids:
            self._activity_ids.add(activity.activity_id)
            self.activities.append(activity)
        self._write(self._catalog.put, _ACTIVITY, activity.activity_id, activity.to_record())

    # -- reads ---------------------------------------------------------------

    def policies_of(self, resource_id: str) -> list[ScalingPolicy]:
        return [p for p in self.policies.values() if p.ref.resource_id == resource_id]

    def in_progress(self, resource_id: str) -> list[ScalingActivity]:
        return [
            a
            for a in self.activities
            if a.ref.resource_id == resource_id and a.status_code is ActivityStatus.IN_PROGRESS
        ]
