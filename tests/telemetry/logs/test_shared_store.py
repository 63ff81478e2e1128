"""Two logs services on one store, as two servers sharing it have: what one deletes, the
other's cached PutLogEvents targets forget, on SQLite (one server's two handles) and on
PostgreSQL (two servers, each with its own pool and listening session)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.clock import ManualClock
from tandem.errors import ResourceNotFound
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.telemetry.logs import LogService
from tandem.telemetry.logs.model import InputLogEvent, RejectedLogEventsInfo
from tandem.telemetry.logs.store import LogStore
from tests.postgres import POSTGRES, empty_tables, scratch_database
from tests.tools import require_tool

NOW = 1_700_000_000.0
NOW_MS = int(NOW * 1000)

GROUP, STREAM = "/aws/sagemaker/Endpoints/shared", "AllTraffic/i-1"


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    require_tool(POSTGRES)
    with scratch_database() as dsn:
        yield dsn


class _Servers:
    """Two services (``a``, ``b``) on the stores two servers would hold, and a way to wait
    until ``b`` has heard of a change (its store calls watchers in order: the service first)."""

    def __init__(self, stores: tuple[LogStore, LogStore], closers: list[Any]) -> None:
        self.stores = stores
        self.closers = closers
        self.clock = ManualClock(NOW)
        self.a = LogService(stores[0], clock=self.clock, flush_interval=0.05,
                            sweep_interval=None)
        self.b = LogService(stores[1], clock=self.clock, flush_interval=0.05,
                            sweep_interval=None)
        self._heard: list[tuple[str | None, str | None]] = []
        self._signal = asyncio.Event()

    async def start(self) -> None:
        await self.a.start()
        await self.b.start()
        loop = asyncio.get_running_loop()

        def heard(group: str | None, stream: str | None) -> None:
            self._heard.append((group, stream))
            loop.call_soon_threadsafe(self._signal.set)

        await asyncio.to_thread(self.stores[1].watch, heard)

    async def b_heard(self, group: str, stream: str | None = None) -> None:
        """Return once ``b``'s store has told its watchers of ``(group, stream)``."""
        async with asyncio.timeout(5.0):
            while (group, stream) not in self._heard:
                self._signal.clear()
                await self._signal.wait()
        self._heard.clear()

    async def stop(self) -> None:
        await self.a.stop()
        await self.b.stop()
        for close in self.closers:
            close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def servers(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[_Servers]:
    if request.param == "sqlite":
        database = Database(tmp_path / "logs.db")
        store = SQLiteLogStore(database)
        made = _Servers((store, store), [database.close])
    else:
        from tandem.store.postgres import PostgresDatabase, PostgresLogStore

        dsn = request.getfixturevalue("postgres_dsn")
        empty_tables(dsn)
        handles = [PostgresDatabase(dsn, max_size=2) for _ in range(2)]
        stores = [PostgresLogStore(d) for d in handles]
        made = _Servers((stores[0], stores[1]), [
            *(s.close for s in stores), *(d.close for d in handles)])
    await made.start()
    yield made
    await made.stop()


def _events(*messages: str) -> list[InputLogEvent]:
    return [InputLogEvent(NOW_MS + i, m) for i, m in enumerate(messages)]


async def _messages(logs: LogService, group: str = GROUP, stream: str = STREAM) -> list[str]:
    result = await logs.get_log_events(STREAM if stream is None else stream,
                                       log_group_name=group, start_from_head=True)
    return [e.message for e in result.events]


async def _group_names(logs: LogService) -> list[str]:
    return [g.log_group_name for g in (await logs.describe_log_groups()).log_groups]


async def test_put_to_a_group_deleted_through_another_server_is_not_found(
    servers: _Servers,
) -> None:
    a, b = servers.a, servers.b
    await a.create_log_group(GROUP)
    await a.create_log_stream(GROUP, STREAM)
    await b.put_log_events(GROUP, STREAM, _events("before"))  # b now knows the target
    await b.flush()
    assert await _messages(a) == ["before"]

    await a.delete_log_group(GROUP)
    await servers.b_heard(GROUP)
    with pytest.raises(ResourceNotFound, match="^The specified log group does not exist.$"):
        await b.put_log_events(GROUP, STREAM, _events("after"))
    await b.flush()
    assert await _group_names(b) == [] and await _group_names(a) == []

    # Made again through a: writable through b, holding only what was written since.
    await a.create_log_group(GROUP)
    await a.create_log_stream(GROUP, STREAM)
    await b.put_log_events(GROUP, STREAM, _events("again"))
    assert await _messages(b) == ["again"] and await _messages(a) == ["again"]


async def test_put_to_a_stream_deleted_through_another_server_is_not_found(
    servers: _Servers,
) -> None:
    a, b = servers.a, servers.b
    await a.create_log_group(GROUP)
    await a.create_log_stream(GROUP, STREAM)
    await b.put_log_events(GROUP, STREAM, _events("before"))
    await b.flush()

    await a.delete_log_stream(GROUP, STREAM)
    await servers.b_heard(GROUP, STREAM)
    with pytest.raises(ResourceNotFound, match="^The specified log stream does not exist.$"):
        await b.put_log_events(GROUP, STREAM, _events("after"))
    await b.flush()
    streams = await b.describe_log_streams(log_group_name=GROUP)
    assert streams.log_streams == []

    await a.create_log_stream(GROUP, STREAM)
    await b.put_log_events(GROUP, STREAM, _events("again"))
    await b.flush()  # read-your-writes holds per server; across servers after a commit
    assert await _messages(a) == ["again"]


async def test_events_queued_before_another_servers_delete_do_not_bring_the_group_back(
    servers: _Servers,
) -> None:
    a, b = servers.a, servers.b
    await a.create_log_group(GROUP)
    await a.create_log_stream(GROUP, STREAM)
    b._writer.flush_interval = 30.0  # b holds what it accepts until asked
    await b.put_log_events(GROUP, STREAM, _events("queued"))
    await a.delete_log_group(GROUP)  # commits while b still holds the event
    await b.flush()
    # Accepted before the delete, they went with the group: not stored, not re-created.
    assert await _group_names(a) == [] and await _group_names(b) == []
    with pytest.raises(ResourceNotFound, match="^The specified log group does not exist.$"):
        await b.put_log_events(GROUP, STREAM, _events("after"))


async def test_the_capture_path_creates_a_deleted_group_again_as_on_one_server(
    servers: _Servers,
) -> None:
    a, b = servers.a, servers.b
    b.ensure_log_stream(GROUP, STREAM)
    await b.write(GROUP, STREAM, [(NOW_MS, "line 1")])
    await b.flush()
    await a.delete_log_group(GROUP)
    await servers.b_heard(GROUP)
    # A running container's next line: the capture ensures its stream again, as one server.
    b.ensure_log_stream(GROUP, STREAM)
    await b.write(GROUP, STREAM, [(NOW_MS + 1, "line 2")])
    await b.flush()
    assert await _messages(a) == ["line 2"]


async def test_retention_set_through_another_server_applies_to_the_next_put(
    servers: _Servers,
) -> None:
    a, b = servers.a, servers.b
    await a.create_log_group(GROUP)
    await a.create_log_stream(GROUP, STREAM)
    old = InputLogEvent(NOW_MS - 3 * 86_400_000, "three days old")
    assert (await b.put_log_events(GROUP, STREAM, [old])).rejected_log_events_info is None
    await a.put_retention_policy(GROUP, 1)
    await servers.b_heard(GROUP)
    rejected = (await b.put_log_events(GROUP, STREAM, [old])).rejected_log_events_info
    assert rejected == RejectedLogEventsInfo(expired_log_event_end_index=1)
    await b.flush()
    assert await _messages(a) == ["three days old"]  # the first put's, the second kept none


async def test_puts_to_a_known_stream_read_no_store(servers: _Servers) -> None:
    a, b = servers.a, servers.b
    await a.create_log_group(GROUP)
    await a.create_log_stream(GROUP, STREAM)
    store = servers.stores[1]
    reads: list[str] = []
    get_group, get_stream = store.get_group, store.get_stream

    def counted_group(name: str) -> Any:
        reads.append("group")
        return get_group(name)

    def counted_stream(group: str, name: str) -> Any:
        reads.append("stream")
        return get_stream(group, name)

    store.get_group = counted_group  # type: ignore[method-assign]
    store.get_stream = counted_stream  # type: ignore[method-assign]
    try:
        for i in range(100):
            await b.put_log_events(GROUP, STREAM, _events(f"m{i}"))
    finally:
        del store.get_group, store.get_stream
    assert reads == ["group", "stream"]  # the first put only
    await b.flush()
    assert await _messages(a) == [f"m{i}" for i in range(100)]
