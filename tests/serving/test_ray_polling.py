"""How the Ray launcher polls an instance's agent actor. Acknowledged events: an event lost
with a killed server's in-flight reply reaches the next server, and each sequence number is
applied once. An agent unreachable past the limit is taken for dead. The actor's logic runs
in-process (``_AgentActor`` without Ray); the launcher's poll calls it the way Ray's
``actor.method.remote(...)`` does, as an awaitable."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tandem.serving.event_feed import EventFeed
from tandem.serving.launcher import (
    ContainerExited,
    InstanceEvent,
    InstanceSpec,
    InstanceStatus,
    InstanceUnhealthy,
)
from tandem.serving.ray_launcher import RayLauncher, _AgentActor
from tandem.telemetry.shipping import ShipperConfig
from tests.serving.launcher_fakes import container
from tests.tools import module, require_tool

RAY = module("ray", "the ray extra installs it: pip install -e '.[ray]'")


@pytest.fixture
def ray_imported() -> None:
    """The poll tells Ray's ActorUnavailableError apart. A connected launcher has imported ray
    already (off the loop); here it is imported before the loop's clock matters."""
    require_tool(RAY)
    import ray  # noqa: F401


async def test_a_poll_drops_only_what_it_acknowledges() -> None:
    feed = EventFeed()
    first = ContainerExited("i-1", "first", 3)
    second = InstanceUnhealthy("i-1", "second", "failed /ping")
    feed.put(first)
    feed.put(second)
    assert feed.last == 2
    assert await feed.after(0, 1.0) == [(1, first), (2, second)]
    # The reply was lost: nothing was acknowledged, so the same poll gets the same again.
    assert await feed.after(0, 1.0) == [(1, first), (2, second)]
    assert await feed.after(1, 1.0) == [(2, second)]
    assert feed.pending() == [(2, second)]
    assert await feed.after(2, 0.05) == []
    assert feed.pending() == [] and feed.last == 2


async def test_a_waiting_poll_wakes_on_the_next_event_and_a_stale_one_beside_it_too() -> None:
    feed = EventFeed()
    stale = asyncio.create_task(feed.after(0, 5.0))  # a dead server's poll, still waiting
    fresh = asyncio.create_task(feed.after(0, 5.0))  # the new server's
    await asyncio.sleep(0.05)
    event = ContainerExited("i-1", "first", 137)
    feed.put(event)
    assert await asyncio.wait_for(asyncio.gather(stale, fresh), 1.0) == [[(1, event)]] * 2
    assert await feed.after(0, 0.05) == [(1, event)]  # neither acknowledged it


class _InProcess:
    """``actor.method.remote(*args)`` on an object in this loop: an awaitable, as Ray's
    ObjectRef is."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)

        class _Method:
            @staticmethod
            def remote(*args: Any) -> asyncio.Task[Any]:
                return asyncio.ensure_future(method(*args))

        return _Method


def _actor(tmp_path: Path) -> tuple[_AgentActor, InstanceSpec]:
    spec = InstanceSpec.for_endpoint("ep-1", "AllTraffic", [container("first")], tmp_path,
                                     instance_type="ml.m5.large")  # fmt: skip
    shipper = ShipperConfig(server_url="http://10.0.0.1:8080", spool_dir=tmp_path / "spool")
    return _AgentActor(spec, shipper, 5.0, 3, str(tmp_path / "fate")), spec


def _server(tmp_path: Path, **options: Any) -> RayLauncher:
    return RayLauncher("10.0.0.1:6380", lambda: "http://10.0.0.1:8080", tmp_path / "data",
                       leave_running=True, **options)  # fmt: skip


async def _next(events: Any, timeout: float = 30.0) -> InstanceEvent:
    return await asyncio.wait_for(anext(events), timeout)


async def _until(check: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_events_lost_with_a_killed_servers_reply_reach_the_next_server_once(
    tmp_path: Path, ray_imported: None
) -> None:
    actor, spec = _actor(tmp_path)
    exited = ContainerExited(spec.instance_id, "first", 137)
    actor.feed.put(exited)
    # A server's poll got this reply, then the server was SIGKILLed: the reply is lost.
    assert await actor.next_events(0, 1.0) == [(1, exited)]
    assert actor.feed.pending() == [(1, exited)]

    # A server that has queued the event but whose reader has not taken it yet does not
    # acknowledge it either.
    taken_by_none = _server(tmp_path)
    handle = taken_by_none._watch(spec, _InProcess(actor), "10.0.0.11", {"first": 8080})
    await _until(lambda: handle.status is InstanceStatus.UNHEALTHY)
    await asyncio.sleep(0.2)
    assert actor.feed.pending() == [(1, exited)]
    await taken_by_none.close()  # gone (SIGKILLed: its polls end with it)

    server = _server(tmp_path)  # the restarted server re-attaches: it polls from 0
    handle = server._watch(spec, _InProcess(actor), "10.0.0.11", {"first": 8080})
    events = server.events()
    assert await _next(events) == exited
    assert handle.status is InstanceStatus.UNHEALTHY
    assert handle.returncodes == {"first": 137}
    # The reader asking for the next event has handled this one: the next poll acknowledges
    # it and the actor drops it.
    unhealthy = InstanceUnhealthy(spec.instance_id, "first", "failed /ping 3 times")
    actor.feed.put(unhealthy)
    assert await _next(events) == unhealthy
    await _until(lambda: actor.feed.pending() == [(2, unhealthy)])
    following = asyncio.create_task(_next(events))
    await _until(lambda: actor.feed.pending() == [])
    assert actor.feed.last == 2
    await server.close()
    with pytest.raises(StopAsyncIteration):  # each event exactly once, then the end
        await following


async def test_a_repeated_sequence_number_is_applied_once(
    tmp_path: Path, ray_imported: None
) -> None:
    _, spec = _actor(tmp_path)
    server = _server(tmp_path)
    handle = server._watch(spec, _InProcess(EventFeedActor()), "10.0.0.11", {"first": 8080})
    events = server.events()
    first = ContainerExited(spec.instance_id, "first", 1)
    second = ContainerExited(spec.instance_id, "first", 2)
    delivered = asyncio.create_task(server._deliver(handle, 0, [(1, first)]))
    assert await _next(events) == first
    reading = asyncio.create_task(_next(events))  # asking for the next: the first is handled
    assert await asyncio.wait_for(delivered, 5.0) == 1
    # A poll answering 1 again beside 2 (it was sent before 1 was acknowledged).
    delivered = asyncio.create_task(server._deliver(handle, 1, [(1, first), (2, second)]))
    assert await reading == second
    reading = asyncio.create_task(_next(events))
    assert await asyncio.wait_for(delivered, 5.0) == 2
    # Nothing after 2: nothing applied or queued, nothing to wait for.
    assert await asyncio.wait_for(server._deliver(handle, 2, [(1, first), (2, second)]), 1) == 2
    assert handle.returncodes == {"first": 2}
    await server.close()
    with pytest.raises(StopAsyncIteration):  # first and second once each, then the end
        await reading


class EventFeedActor:
    """An actor whose agent has nothing to report: its polls wait out their timeout."""

    def __init__(self) -> None:
        self.feed = EventFeed()

    async def next_events(self, after: int, timeout: float) -> list[Any]:
        return await self.feed.after(after, timeout)


class UnreachableActor:
    """An actor every call of which fails as Ray's are while its node is cut off, or after a
    head restarted without GCS fault tolerance forgot it."""

    def __init__(self) -> None:
        self.calls = 0

    async def next_events(self, after: int, timeout: float) -> list[Any]:
        import ray

        self.calls += 1
        raise ray.exceptions.ActorUnavailableError("failed to connect to all addresses", None)


async def test_an_agent_unreachable_past_the_limit_is_taken_for_dead(
    tmp_path: Path, ray_imported: None
) -> None:
    _, spec = _actor(tmp_path)
    server = _server(tmp_path, unavailable_limit=1.5)
    actor = UnreachableActor()
    started = asyncio.get_running_loop().time()
    handle = server._watch(spec, _InProcess(actor), "10.0.0.11", {"first": 8080})
    events = server.events()
    event = await _next(events)
    waited = asyncio.get_running_loop().time() - started
    assert isinstance(event, InstanceUnhealthy)
    assert (event.instance_id, event.container) == (spec.instance_id, "agent")
    assert event.reason.startswith(
        "Its agent on 10.0.0.11 has been unreachable for 1.5 s: ActorUnavailableError: "
    )
    assert handle.status is InstanceStatus.FAILED and handle.failure_reason == event.reason
    # Polled again once a second until the limit (3 calls; 2 where a sleep ran late), then
    # no more.
    assert 1.5 <= waited < 10 and actor.calls in (2, 3)
    calls = actor.calls
    await asyncio.sleep(1.5)
    assert actor.calls == calls
    assert server.instances() == [handle]  # still listed, FAILED: the reconciler replaces it
    await server.close()
