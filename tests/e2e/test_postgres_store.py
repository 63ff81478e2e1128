"""`tandem serve --store postgresql://...`: the whole server on a shared PostgreSQL database,
one leader at a time, a standby that takes over when the leader is killed."""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.support import client, deploy, stage_container, wait_status
from tests.postgres import POSTGRES, scratch_database
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.tools import require_tool
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def dsn() -> Iterator[str]:
    require_tool(POSTGRES)
    with scratch_database() as url:
        yield url


def _invoke(server: ServerProcess, count: int) -> None:
    runtime = client(server, "sagemaker-runtime")
    for _ in range(count):
        body = runtime.invoke_endpoint(EndpointName="pg", Body=b'{"instances": [1]}',
                                       ContentType="application/json")["Body"].read()
        assert b'"instances": [2]' in body


def _invocations(server: ServerProcess) -> float:
    now = datetime.datetime.now(datetime.UTC)
    stats = client(server, "cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="Invocations",
        Dimensions=[{"Name": "EndpointName", "Value": "pg"},
                    {"Name": "VariantName", "Value": "AllTraffic"}],
        StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=1),
        Period=600, Statistics=["Sum"])
    return sum(p["Sum"] for p in stats["Datapoints"])


def _log_lines(server: ServerProcess) -> int:
    events = client(server, "logs").filter_log_events(
        logGroupName="/aws/sagemaker/Endpoints/pg")["events"]
    return len(events)


def test_a_server_on_postgresql_serves_and_keeps_everything_across_a_restart(
    dsn: str, tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    server = ServerProcess(tmp_path / "data", extra=[*FAST_FLAGS, "--store", dsn]).start()
    try:
        deploy(client(server, "sagemaker"), "pg", [stage_container("first")])
        _invoke(server, 20)
        wait_until(lambda: _invocations(server) == 20, "20 invocations counted")
        wait_until(lambda: _log_lines(server) > 0, "the container's log lines")
        lines = _log_lines(server)
        assert server.stop() == 0  # a stop is no lost leadership
        server.start()
        wait_status(client(server, "sagemaker"), "pg", "InService")
        assert _invocations(server) == 20
        assert _log_lines(server) >= lines
        _invoke(server, 5)
        wait_until(lambda: _invocations(server) == 25, "25 invocations counted")
    finally:
        server.stop()
    assert (tmp_path / "data").is_dir() and not (tmp_path / "data" / "catalog.db").exists()


def test_a_standby_waits_and_takes_over_when_the_leader_is_killed(
    dsn: str, tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    leader = ServerProcess(tmp_path / "a", extra=[*FAST_FLAGS, "--store", dsn]).start()
    standby = ServerProcess(tmp_path / "b", extra=[*FAST_FLAGS, "--store", dsn])
    started = threading.Thread(target=standby.start, kwargs={"timeout": 120})
    try:
        deploy(client(leader, "sagemaker"), "pg", [stage_container("first")])
        _invoke(leader, 10)
        wait_until(lambda: _invocations(leader) == 10, "10 invocations counted")
        started.start()
        wait_until(lambda: any("standby" in line for line in standby.output),
                   "the second server to say it waits")
        time.sleep(1.0)
        assert standby.url == ""  # it does not serve while another leads
        leader.kill()
        killed = time.monotonic()
        started.join(60)
        assert standby.url, "".join(standby.output)
        took = time.monotonic() - killed
        assert took < 15, took  # lead within 5 s, then a full server start
        sm = client(standby, "sagemaker")
        wait_status(sm, "pg", "InService")
        assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == ["pg"]
        assert _invocations(standby) == 10  # what the old leader counted, from the store
        _invoke(standby, 5)
        wait_until(lambda: _invocations(standby) == 15, "15 invocations counted")
    finally:
        if leader.proc is not None and leader.proc.poll() is None:
            leader.stop()
        started.join(60)
        if standby.proc is not None:
            standby.stop()


def test_an_unreachable_store_is_named_and_nothing_starts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [sys.executable, "-m", "tandem", "serve", "--port", "0", "--data-dir",
         str(tmp_path / "d"), "--store", "postgresql://nobody:secret@127.0.0.1:1/nowhere"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "PostgreSQL at postgresql://nobody:***@127.0.0.1:1/nowhere did not answer" in (
        done.stderr)
    assert "secret" not in done.stderr and "Traceback" not in done.stderr


def test_a_leader_that_loses_its_session_stops_and_the_standby_leads(
    dsn: str, tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    import psycopg

    first = ServerProcess(tmp_path / "a", extra=[*FAST_FLAGS, "--store", dsn]).start()
    second = ServerProcess(tmp_path / "b", extra=[*FAST_FLAGS, "--store", dsn])
    started = threading.Thread(target=second.start, kwargs={"timeout": 120})
    try:
        started.start()
        wait_until(lambda: any("standby" in line for line in second.output),
                   "the second server to say it waits")
        # Every leadership session goes: the leader stops, the standby reconnects and leads.
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name LIKE 'tandem leader %%' AND pid <> "
                         "pg_backend_pid() AND datname = current_database()")
        assert first.proc is not None
        assert first.proc.wait(30) == 75  # EX_TEMPFAIL: a supervisor restarts it as a standby
        assert any("another server leads the store now" in line for line in first.output)
        started.join(60)
        assert second.url, "".join(second.output)
        assert client(second, "sagemaker").list_endpoints()["Endpoints"] == []
    finally:
        first.stop()
        started.join(60)
        if second.proc is not None:
            second.stop()
