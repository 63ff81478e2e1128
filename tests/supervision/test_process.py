"""SupervisedProcess and spawn with real child processes: exit codes, ordered output in the log
stream, an explicit environment, SIGTERM then SIGKILL after the grace period, a grandchild that
ignores SIGTERM in a group of its own, fate-sharing bookkeeping and the parent-death signal."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tandem.store import open_store
from tandem.supervision import SupervisedProcess, read_stat, session_members
from tandem.telemetry.logs import LogService, StreamCapture
from tests.waiting import wait_until

GROUP = "/test/supervision"
REPO = str(Path(__file__).resolve().parents[2])

# Ignores SIGTERM, starts a grandchild that also ignores it and leaves for a process group of
# its own (killpg of the child's group no longer reaches it; the session sweep must), then
# prints both pids and sleeps.
STUBBORN = r"""
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    time.sleep(3600)
    os._exit(0)
print(os.getpid(), pid, flush=True)
time.sleep(3600)
"""

# Exits 0 on SIGTERM after saying so.
POLITE = r"""
import signal, sys, time
def bye(*_):
    print("got SIGTERM", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", flush=True)
time.sleep(3600)
"""


@pytest.fixture
async def logs(tmp_path: Path) -> AsyncIterator[LogService]:
    store = open_store(tmp_path / "store")
    service = LogService(store.logs, flush_interval=0.05, sweep_interval=None)
    await service.start()
    yield service
    await service.stop()
    store.close()


class RecordingGuard:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def track(self, pid: int) -> None:
        self.calls.append(("track", pid))

    def untrack(self, pid: int) -> None:
        self.calls.append(("untrack", pid))


def process(logs: LogService, stream: str, argv: list[str], env: dict[str, str] | None = None,
            **kwargs: object) -> SupervisedProcess:
    logs.ensure_log_stream(GROUP, stream)
    capture = StreamCapture(logs, GROUP, stream, keep_last=3)
    return SupervisedProcess(argv, env if env is not None else {}, None, capture,
                             name=stream, **kwargs)  # type: ignore[arg-type]


async def messages(logs: LogService, stream: str) -> list[str]:
    await logs.flush()
    result = await logs.get_log_events(log_group_name=GROUP, log_stream_name=stream,
                                       start_from_head=True)
    return [e.message for e in result.events]


def gone(pid: int) -> bool:
    """Not in /proc, or only as a zombie nobody of ours will leave behind."""
    stat = read_stat(pid)
    return stat is None or stat[0] in ("Z", "X")


async def test_exit_code_and_every_output_line_in_order(logs: LogService) -> None:
    script = "for i in range(200): print(f'line {i}')\nimport sys; sys.exit(3)"
    child = process(logs, "count", [sys.executable, "-c", script])
    await child.start()
    assert await child.wait() == 3
    assert child.returncode == 3 and not child.running
    assert await messages(logs, "count") == [f"line {i}" for i in range(200)]
    assert child.last_lines == ["line 197", "line 198", "line 199"]


async def test_a_signal_death_reads_as_the_negative_signal(logs: LogService) -> None:
    child = process(logs, "killed", [sys.executable, "-c", "import os, signal; "
                                     "os.kill(os.getpid(), signal.SIGKILL)"])
    await child.start()
    assert await child.wait() == -signal.SIGKILL


async def test_the_environment_is_exactly_the_one_given(logs: LogService) -> None:
    child = process(logs, "env", ["/usr/bin/env"], env={"ONLY": "this", "PATH": "/usr/bin"})
    await child.start()
    assert await child.wait() == 0
    assert sorted(await messages(logs, "env")) == ["ONLY=this", "PATH=/usr/bin"]


async def test_a_missing_program_raises_oserror_and_starts_nothing(logs: LogService) -> None:
    guard = RecordingGuard()
    child = process(logs, "missing", ["/nonexistent/program"], guard=guard)
    with pytest.raises(FileNotFoundError):
        await child.start()
    assert child.pid is None and not child.started
    assert guard.calls == []
    await child.stop(0.1)  # nothing to stop: returns at once


async def test_the_child_leads_its_own_session_and_is_told_to_the_guard(
        logs: LogService) -> None:
    guard = RecordingGuard()
    child = process(logs, "session", [sys.executable, "-c", "import time; time.sleep(30)"],
                    guard=guard)
    await child.start()
    assert child.pid is not None
    stat = read_stat(child.pid)
    assert stat is not None and stat[1] == child.pid  # sid = pid
    assert os.getpgid(child.pid) == child.pid
    assert guard.calls == [("track", child.pid)]
    await child.stop(5.0)
    assert guard.calls == [("track", child.pid), ("untrack", child.pid)]
    assert child.returncode == -signal.SIGTERM


async def test_sigterm_ends_a_polite_child_before_the_grace_period(logs: LogService) -> None:
    child = process(logs, "polite", [sys.executable, "-c", POLITE])
    await child.start()
    await asyncio.to_thread(wait_until, lambda: "ready" in child.last_lines, "ready")
    started = time.monotonic()
    await child.stop(30.0)
    assert time.monotonic() - started < 10.0
    assert child.returncode == 0
    assert await messages(logs, "polite") == ["ready", "got SIGTERM"]


async def test_sigkill_after_grace_reaches_a_grandchild_in_another_group(
        logs: LogService) -> None:
    child = process(logs, "stubborn", [sys.executable, "-c", STUBBORN])
    await child.start()
    await asyncio.to_thread(wait_until, lambda: child.last_lines, "the pids line")
    leader, grandchild = (int(p) for p in child.last_lines[0].split())
    assert leader == child.pid
    assert os.getpgid(grandchild) == grandchild  # out of the child's group, same session
    assert sorted(session_members(leader)) == sorted([leader, grandchild])
    started = time.monotonic()
    await child.stop(0.5)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.5  # both ignored SIGTERM: the full grace period passed
    assert child.returncode == -signal.SIGKILL
    await asyncio.to_thread(wait_until, lambda: gone(grandchild), "the grandchild gone")
    assert session_members(leader) == []
    assert gone(leader)


async def test_exited_reports_before_output_is_drained(logs: LogService) -> None:
    child = process(logs, "quick", [sys.executable, "-c", "print('bye')"])
    await child.start()
    assert await child.exited() == 0
    assert await child.wait() == 0
    assert await messages(logs, "quick") == ["bye"]


# A parent that spawns `sleep` through spawner.spawn, prints its pid, then waits to be killed.
PARENT = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tandem.supervision import spawn

async def main():
    proc = await spawn(["sleep", "3600"], {"PATH": "/usr/bin:/bin"}, None)
    print(proc.pid, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_spawned_child_dies_with_the_parent_that_spawned_it() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, REPO], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert read_stat(child) is not None
        assert read_stat(child)[1] == child  # type: ignore[index]
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    wait_until(lambda: gone(child), "the child to die with its parent")


def test_the_child_gets_no_descriptor_but_its_pipes(tmp_path: Path) -> None:
    script = ("import os, json; print(json.dumps(sorted(int(f) for f in "
              "os.listdir('/proc/self/fd'))))")

    async def run() -> list[int]:
        store = open_store(tmp_path / "fds")
        service = LogService(store.logs, flush_interval=0.05, sweep_interval=None)
        await service.start()
        try:
            child = process(service, "fds", [sys.executable, "-c", script])
            await child.start()
            await child.wait()
            return list(json.loads(child.last_lines[-1]))
        finally:
            await service.stop()
            store.close()

    fds = asyncio.run(run())
    # stdin, stdout, stderr and the one listdir opened: nothing of the server leaks in.
    assert fds[:3] == [0, 1, 2] and len(fds) == 4


async def test_no_descriptor_is_left_open_after_stop_or_wait(logs: LogService) -> None:
    before = set(os.listdir("/proc/self/fd"))
    first = process(logs, "fd-wait", [sys.executable, "-c", "print('x')"])
    await first.start()
    await first.wait()
    second = process(logs, "fd-stop", [sys.executable, "-c", "import time; time.sleep(30)"])
    await second.start()
    await second.stop(5.0)
    await asyncio.sleep(0.1)  # the transports close their pipes on the next loop turns
    assert set(os.listdir("/proc/self/fd")) - before == set()
