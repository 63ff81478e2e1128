"""A router fed from the shared PostgreSQL store follows a real leader: `tandem serve --store
postgresql://...` runs the endpoint (real container processes); in this process a Router kept
by a RoutingFollower on the same database routes InvokeEndpoint to the leader's instances, and
every change made through the leader reaches it within 1 s, also after its LISTEN session was
killed."""

from __future__ import annotations

import asyncio
import http.client
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tandem.clock import SystemClock
from tandem.serving.errors import EndpointNotFound
from tandem.serving.router import Invocation, Router
from tandem.serving.routing_follower import RoutingFollower
from tandem.telemetry.metrics import MetricRegistry
from tests.e2e.support import client, deploy, stage_container, wait_status
from tests.postgres import POSTGRES, scratch_database
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.tools import require_tool

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # a 1 s bound

PROPAGATION_LIMIT = 1.0  # seconds: issue 18's bound for a change to be routable elsewhere


@pytest.fixture
def dsn() -> Iterator[str]:
    require_tool(POSTGRES)
    with scratch_database() as url:
        yield url


@pytest.fixture
async def leader(dsn: str, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(tmp_path / "leader", extra=[*FAST_FLAGS, "--store", dsn])
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


@pytest.fixture
async def follower(dsn: str) -> AsyncIterator[RoutingFollower]:
    from tandem.store.postgres import PostgresCatalogFeed, PostgresCatalogStore, PostgresDatabase

    database = PostgresDatabase(dsn, max_size=2)
    router = Router(MetricRegistry(SystemClock()), account_id="000000000000", region="us-east-1")
    await router.start()
    # A long resync: only the notifications can carry a change within the limit.
    follower = RoutingFollower(PostgresCatalogStore(database), PostgresCatalogFeed(dsn), router,
                               resync_interval=60)  # fmt: skip
    await follower.start()
    yield follower
    await follower.stop()
    await router.close()
    database.close()


async def _within(condition: Callable[[], bool], since: float, what: str) -> float:
    """Seconds from ``since`` until ``condition`` holds; fails past the limit."""
    while not condition():
        elapsed = time.monotonic() - since
        assert elapsed < PROPAGATION_LIMIT, f"{what}: not routable after {elapsed:.3f} s"
        await asyncio.sleep(0.002)
    return time.monotonic() - since


def _variant(follower: RoutingFollower) -> Any:
    snapshot = follower.router.endpoint("fw")
    return None if snapshot is None else snapshot.variants[0]


async def test_a_router_fed_from_the_store_follows_the_leader_within_a_second(
    dsn: str, leader: ServerProcess, follower: RoutingFollower
) -> None:
    import psycopg

    sagemaker = client(leader, "sagemaker")
    await asyncio.to_thread(deploy, sagemaker, "fw",
                            [stage_container("first"), stage_container("second")])  # fmt: skip
    variant = _variant(follower)
    assert variant is not None and variant.containers == ("first", "second")
    [instance] = variant.instances
    result = await follower.router.invoke(
        Invocation("fw", b'{"instances": [1]}', content_type="application/json"))
    assert b'"instances": [3]' in result.body  # through both of the leader's containers
    assert result.variant.name == "AllTraffic"

    async def update(**desired: Any) -> float:
        await asyncio.to_thread(
            sagemaker.update_endpoint_weights_and_capacities, EndpointName="fw",
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", **desired}])  # fmt: skip
        return time.monotonic()

    since = await update(DesiredWeight=0.25)
    await _within(lambda: _variant(follower).weight == 0.25, since, "a new weight")
    await asyncio.to_thread(wait_status, sagemaker, "fw", "InService")

    # Scale out: the second instance is routable here within 1 s of the leader counting it.
    await update(DesiredInstanceCount=2)

    def counted() -> float:
        while True:
            desc = sagemaker.describe_endpoint(EndpointName="fw")
            if desc["ProductionVariants"][0]["CurrentInstanceCount"] == 2:
                return time.monotonic()
            time.sleep(0.02)

    since = await asyncio.to_thread(counted)
    await _within(lambda: len(_variant(follower).instances) == 2, since, "a new instance")
    assert instance in _variant(follower).instances  # the same object: its load counter stays
    await asyncio.to_thread(wait_status, sagemaker, "fw", "InService")

    # The LISTEN session dies: the feed reconnects, rereads, and hears the next change.
    with psycopg.connect(dsn, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'tandem catalog feed' AND datname = current_database()"
        ).fetchone()
    assert killed == (1,)
    since = await update(DesiredWeight=3.0)
    await _within(lambda: _variant(follower).weight == 3.0, since, "a weight after the kill")
    await asyncio.to_thread(wait_status, sagemaker, "fw", "InService")

    await asyncio.to_thread(sagemaker.delete_endpoint, EndpointName="fw")
    await _within(lambda: follower.router.endpoint("fw") is None, time.monotonic(),
                  "DeleteEndpoint")  # fmt: skip
    with pytest.raises(EndpointNotFound):
        await follower.router.invoke(Invocation("fw", b"{}", content_type="application/json"))


def test_a_standby_serves_invocations_from_the_store_and_keeps_its_port_when_it_leads(
    dsn: str, tmp_path: Path
) -> None:
    import re
    import threading

    from botocore.exceptions import ClientError

    from tests.waiting import wait_until

    leader = ServerProcess(tmp_path / "a", extra=[*FAST_FLAGS, "--store", dsn]).start()
    standby = ServerProcess(tmp_path / "b", extra=[*FAST_FLAGS, "--store", dsn])
    started = threading.Thread(target=standby.start, kwargs={"timeout": 120})
    try:
        deploy(client(leader, "sagemaker"), "sb", [stage_container("first")])
        started.start()
        pattern = re.compile(r"standby: routing InvokeEndpoint on (http://\S+)")
        wait_until(lambda: any(pattern.search(line) for line in standby.output),
                   "the standby to route")  # fmt: skip
        [url] = [m.group(1) for line in standby.output if (m := pattern.search(line))]
        assert standby.url == ""  # not the whole server: it does not lead
        standby.url = url
        runtime = client(standby, "sagemaker-runtime")
        body = runtime.invoke_endpoint(EndpointName="sb", Body=b'{"instances": [1]}',
                                       ContentType="application/json")["Body"].read()
        assert b'"instances": [2]' in body  # the leader's instance, through the standby

        client(leader, "sagemaker").delete_endpoint(EndpointName="sb")
        deleted = time.monotonic()

        def refused() -> bool:
            try:
                runtime.invoke_endpoint(EndpointName="sb", Body=b"{}",
                                        ContentType="application/json")  # fmt: skip
            except ClientError as exc:
                return exc.response["Error"]["Code"] == "ValidationError"
            return False

        wait_until(refused, "the deleted endpoint to be refused by the standby")
        assert time.monotonic() - deleted < PROPAGATION_LIMIT + 0.5  # + the polls' own time

        # A balancer's keep-alive connection to the standby, open across the takeover.
        kept = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=30)
        kept.request("GET", "/ping")
        assert kept.getresponse().read() == b"" and kept.sock is not None
        leader.kill()
        started.join(60)
        assert standby.url == url, "".join(standby.output)  # the same address once it leads
        # The standby hands the connection over: answered, then closed by its answer (the
        # balancer's next request opens a new one, which the whole server accepts).
        kept.request("GET", "/ping")
        handed = kept.getresponse()
        assert (handed.status, handed.getheader("Connection")) == (200, "close")
        kept.close()
        sagemaker = client(standby, "sagemaker")
        assert sagemaker.list_endpoints()["Endpoints"] == []
    finally:
        if leader.proc is not None and leader.proc.poll() is None:
            leader.stop()
        started.join(60)
        if standby.proc is not None:
            standby.stop()
