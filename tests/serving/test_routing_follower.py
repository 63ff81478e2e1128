"""The routing follower against the real endpoint manager (a fake Launcher, the real SQLite
catalogue and its feed): after each control-plane call settles, the router fed from the
catalogue routes what the leader's own router routes, and keeps the load counters of the
instances that stay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.clock import ManualClock
from tandem.serving.model import EndpointStatus
from tandem.serving.router import RoutedEndpoint, Router
from tandem.serving.routing_follower import RoutingFollower
from tandem.store.sqlite.catalog import SQLiteCatalogFeed
from tandem.store.sqlite.database import Database
from tandem.telemetry.metrics import MetricRegistry
from tests.serving.test_reconciler import (
    FakeLauncher,
    RecordingCatalog,
    deploy,
    manager_for,
    settle,
    until,
)


def _router() -> Router:
    return Router(MetricRegistry(ManualClock()), account_id="000000000000", region="us-east-1")


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[RecordingCatalog]:
    database = Database(tmp_path / "catalog.db")
    yield RecordingCatalog(database)
    database.close()


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    router = _router()
    await router.start()
    yield router
    await router.close()


def _shape(snapshot: RoutedEndpoint | None) -> Any:
    if snapshot is None:
        return None
    return [
        (v.name, v.weight, v.strategy, v.mode, v.containers, v.primary_only,
         sorted((i.instance_id, i.urls) for i in v.instances))
        for v in snapshot.variants
    ]  # fmt: skip


@pytest.fixture
async def follower(catalog: RecordingCatalog) -> AsyncIterator[RoutingFollower]:
    follower = RoutingFollower(catalog, SQLiteCatalogFeed(catalog), _router(),
                               resync_interval=60)
    await follower.start()
    yield follower
    await follower.stop()


async def test_the_follower_routes_what_the_leader_routes_through_each_change(
    catalog: RecordingCatalog, router: Router, follower: RoutingFollower, tmp_path: Path
) -> None:
    launcher = FakeLauncher()
    manager = manager_for(catalog, launcher, router, tmp_path)
    await manager.start()
    try:
        def same() -> bool:
            return _shape(follower.router.endpoint("ep")) == _shape(router.endpoint("ep"))

        await deploy(manager, "ep", {"A": 2, "B": 1}, containers=2)
        await settle(manager, "ep", EndpointStatus.IN_SERVICE)
        await until(same)
        routed = follower.router.endpoint("ep")
        assert routed is not None
        assert [len(v.instances) for v in routed.variants] == [2, 1]
        kept = routed.variants[0].instances[0]
        kept.outstanding = 3

        await manager.update_weights_and_capacities(
            "ep", [{"VariantName": "A", "DesiredWeight": 4.0, "DesiredInstanceCount": 3},
                   {"VariantName": "B", "DesiredWeight": 0.5}])  # fmt: skip
        await settle(manager, "ep", EndpointStatus.IN_SERVICE)
        await until(same)
        routed = follower.router.endpoint("ep")
        assert routed is not None
        assert [(v.weight, len(v.instances)) for v in routed.variants] == [(4.0, 3), (0.5, 1)]
        assert kept in routed.variants[0].instances and kept.outstanding == 3

        # Scale in: the drained instances leave the follower's rotation too.
        await manager.update_weights_and_capacities(
            "ep", [{"VariantName": "A", "DesiredInstanceCount": 1}])
        await settle(manager, "ep", EndpointStatus.IN_SERVICE)
        await until(same)
        await until(lambda: not launcher.handles.keys() - {
            i.instance_id for v in follower.router.endpoint("ep").variants  # type: ignore[union-attr]
            for i in v.instances})

        # A new config: the follower cuts over with the leader.
        await manager.create_endpoint_config({
            "EndpointConfigName": "ep-next",
            "ProductionVariants": [{"VariantName": "C", "ModelName": "ep-B",
                                    "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}],
        })  # fmt: skip
        await manager.update_endpoint("ep", "ep-next")
        await settle(manager, "ep", EndpointStatus.IN_SERVICE)
        await until(same)
        assert [v.name for v in follower.router.endpoint("ep").variants] == ["C"]  # type: ignore[union-attr]

        await manager.delete_endpoint("ep")
        await until(lambda: "ep" not in manager.reconciler.runs)
        await until(lambda: follower.router.endpoint("ep") is None)
    finally:
        await manager.stop()


async def test_a_change_missed_by_the_feed_heals_at_the_next_resync(
    catalog: RecordingCatalog, tmp_path: Path
) -> None:
    routes = _router()

    class Deaf(SQLiteCatalogFeed):
        async def start(self, on_change: Any) -> None:  # hears nothing
            pass

    follower = RoutingFollower(catalog, Deaf(catalog), routes, resync_interval=0.2)
    await follower.start()
    try:
        router = _router()
        await router.start()
        manager = manager_for(catalog, FakeLauncher(), router, tmp_path)
        await manager.start()
        try:
            await deploy(manager, "ep", {"A": 1})
            await settle(manager, "ep", EndpointStatus.IN_SERVICE)
            await until(lambda: _shape(routes.endpoint("ep")) == _shape(router.endpoint("ep")))
        finally:
            await manager.stop()
            await router.close()
    finally:
        await follower.stop()
