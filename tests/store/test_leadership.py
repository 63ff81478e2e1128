"""Leadership: one server alone always leads (SQLite); on PostgreSQL exactly one of several
candidates leads, a lost session hands over within 5 s under a new epoch, and writes fenced
with an old epoch are refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest

from tandem.leadership import Lead, SoleLeader, StaleLeader
from tandem.store.postgres import PostgresDatabase
from tandem.store.postgres.leadership import PostgresLeadership, fence
from tests.postgres import POSTGRES, scratch_database
from tests.tools import require_tool
from tests.waiting import wait_until_async


async def test_a_sole_server_leads_under_epoch_1() -> None:
    changes: list[tuple[bool, int]] = []
    leader = SoleLeader(lambda leading, epoch: changes.append((leading, epoch)))
    assert (leader.leading, leader.epoch) == (False, 0)
    await leader.start()
    assert (leader.leading, leader.epoch) == (True, 1)
    await leader.stop()
    assert changes == [(True, 1), (False, 1)]


@pytest.fixture
def dsn() -> Iterator[str]:
    require_tool(POSTGRES)
    with scratch_database() as name:
        yield name


class _Candidate:
    def __init__(self, dsn: str, holder: str) -> None:
        self.database = PostgresDatabase(dsn, max_size=2)
        self.changes: list[tuple[bool, int]] = []
        self.leadership = PostgresLeadership(
            self.database, holder=holder, poll_interval=0.1,
            on_change=lambda leading, epoch: self.changes.append((leading, epoch)))

    async def close(self) -> None:
        await self.leadership.stop()
        self.database.close()


def _terminate(dsn: str, holder: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            (f"tandem leader {holder}",)).fetchone()
    return int(row[0]) if row else 0


async def test_exactly_one_leads_and_a_lost_session_hands_over(dsn: str) -> None:
    candidates = {name: _Candidate(dsn, name) for name in ("a", "b", "c")}
    try:
        for candidate in candidates.values():
            await candidate.leadership.start()

        def leaders() -> list[str]:
            return [n for n, c in candidates.items() if c.leadership.leading]

        [first] = await wait_until_async(lambda: len(leaders()) == 1 and leaders(), "a leader")
        await asyncio.sleep(1.0)  # it stays the only one
        assert leaders() == [first]
        assert candidates[first].changes == [(True, 1)]

        assert _terminate(dsn, first) == 1  # its session is gone: the lock with it
        lost_at = time.monotonic()
        [second] = await wait_until_async(
            lambda: (found := [n for n in leaders() if n != first]) and found, "a new leader",
            timeout=5.0)
        took = time.monotonic() - lost_at
        assert took < 5.0
        assert candidates[second].leadership.epoch == 2
        await wait_until_async(lambda: not candidates[first].leadership.leading,
                               "the old leader to step down", timeout=5.0)
        assert candidates[first].changes[:2] == [(True, 1), (False, 1)]
        assert len(leaders()) == 1

        await candidates[second].leadership.stop()  # a clean stop hands over at once
        [third] = await wait_until_async(
            lambda: (found := [n for n in leaders() if n != second]) and found, "a third leader",
            timeout=5.0)
        assert candidates[third].leadership.epoch == 3
    finally:
        for candidate in candidates.values():
            await candidate.close()


async def test_a_write_fenced_with_an_old_epoch_is_refused(dsn: str) -> None:
    old, new = _Candidate(dsn, "old"), _Candidate(dsn, "new")
    try:
        await old.leadership.start()
        await wait_until_async(lambda: old.leadership.leading, "the first leader")
        epoch = old.leadership.epoch
        old.database.transaction(lambda conn: fence(conn, epoch))  # current: accepted
        _terminate(dsn, "old")
        await new.leadership.start()
        await wait_until_async(lambda: new.leadership.leading, "the next leader", timeout=5.0)
        with pytest.raises(StaleLeader, match=f"led under epoch {epoch}; .* now {epoch + 1}"):
            old.database.transaction(lambda conn: fence(conn, epoch))
        new.database.transaction(lambda conn: fence(conn, new.leadership.epoch))
    finally:
        await old.close()
        await new.close()


async def test_the_leader_advertises_its_url_and_a_new_epoch_clears_it(dsn: str) -> None:
    first, second = _Candidate(dsn, "first"), _Candidate(dsn, "second")
    try:
        await first.leadership.start()
        await wait_until_async(lambda: first.leadership.leading, "the first leader")
        await second.leadership.start()
        # The candidate that does not lead reads the lead at each poll: nobody's URL yet.
        await wait_until_async(lambda: second.leadership.lead == Lead(1, "first", ""),
                               "the lead seen by the other candidate")  # fmt: skip
        await first.leadership.advertise("http://10.0.0.1:8080")
        assert first.leadership.lead == Lead(1, "first", "http://10.0.0.1:8080")
        await wait_until_async(lambda: second.leadership.lead.url == "http://10.0.0.1:8080",
                               "the advertised URL seen by the other candidate")  # fmt: skip
        await second.leadership.advertise("http://10.0.0.2:8080")  # not leading: nothing
        assert await second.leadership.read_lead() == Lead(1, "first", "http://10.0.0.1:8080")

        _terminate(dsn, "first")
        await wait_until_async(lambda: second.leadership.leading, "the next leader", timeout=5.0)
        assert await first.leadership.read_lead() == Lead(2, "second", "")  # not yet bound
        await first.leadership.advertise("http://10.0.0.1:8080")  # stale: refused quietly
        await second.leadership.advertise("http://10.0.0.2:8080")
        assert await first.leadership.read_lead() == Lead(2, "second", "http://10.0.0.2:8080")
    finally:
        await first.close()
        await second.close()


async def test_a_sole_server_advertises_to_itself() -> None:
    leader = SoleLeader()
    await leader.advertise("http://127.0.0.1:8080")  # before it leads: nothing
    assert leader.lead == Lead()
    await leader.start()
    await leader.advertise("http://127.0.0.1:8080")
    assert await leader.read_lead() == Lead(1, "this server", "http://127.0.0.1:8080")


async def test_the_servers_side_of_the_leader_session_gives_a_vanished_peer_up(dsn: str) -> None:
    # PostgreSQL releases the lock only when its side of the session gives up: with the
    # server's default keepalives (the OS's, 2 hours) a leader whose host vanished without
    # closing its socket would keep every standby out that long.
    candidate = _Candidate(dsn, "keepalive")
    try:
        await candidate.leadership.start()
        await wait_until_async(lambda: candidate.leadership.leading, "the lead")
        conn = candidate.leadership._conn  # noqa: SLF001 - the session the lock lives on
        shown = {}
        for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count",
                     "tcp_user_timeout"):
            cursor = await conn.execute(f"SHOW {name}")
            shown[name] = (await cursor.fetchone())[0]
        assert shown == {"tcp_keepalives_idle": "2", "tcp_keepalives_interval": "1",
                         "tcp_keepalives_count": "2", "tcp_user_timeout": "4000"}
    finally:
        await candidate.close()
