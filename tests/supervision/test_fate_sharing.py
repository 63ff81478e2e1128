"""Fate-sharing for real: SIGKILL a throwaway server and no container or grandchild survives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tandem.supervision.fate_sharing import FateSharing, SessionEntry, kill_sessions, read_stat

REPO = str(Path(__file__).resolve().parents[2])
PROGRAM = str(Path(REPO) / "tests" / "serving" / "container_program.py")

# The throwaway server: a LocalLauncher with in-script fakes, one instance whose container
# starts a grandchild. It prints the pids as one JSON line, then waits to be killed.
SERVER = r"""
import asyncio, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tandem.serving.launcher import ContainerSpec, InstanceSpec
from tandem.serving.local_launcher import LocalLauncher
from tandem.telemetry.usage import UsageSample

class Logs:
    def ensure_log_stream(self, group, stream): pass

class Capture:
    def __init__(self, *a, **k): self.last_lines = []
    async def run(self, reader):
        while await reader.read(4096): pass

class Probe:
    def sample(self, pids): return UsageSample()

async def main():
    tmp = Path(sys.argv[2])
    launcher = LocalLauncher(None, Logs(), data_dir=tmp / "data", capture_factory=Capture,
                             probe_factory=lambda spec: Probe(), reaper_grace=0.5)
    spec = InstanceSpec.for_endpoint("ep", "v", [ContainerSpec("c1", (
        sys.executable, sys.argv[3], "--grandchild", str(tmp / "gc.pid")))], tmp,
        health_check_timeout=20, ping_interval=60)
    handle = await launcher.start_instance(spec)
    gc = int((tmp / "gc.pid").read_text())
    print(json.dumps({"container": handle.pids()[0], "grandchild": gc,
                      "reaper": launcher.fate_sharing.reaper_pid}), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_dead(pids, timeout=60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def start_server(tmp_path):
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, REPO, str(tmp_path), PROGRAM],
        stdout=subprocess.PIPE, text=True,
    )
    line = server.stdout.readline()
    assert line, "server did not start"
    return server, json.loads(line)


def cleanup(pids):
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_sigkilled_server_takes_containers_and_grandchildren_along(tmp_path):
    server, pids = start_server(tmp_path)
    try:
        assert alive(pids["container"]) and alive(pids["grandchild"])
        server.kill()
        server.wait()
        assert wait_dead([pids["container"], pids["grandchild"], pids["reaper"]]) == []
    finally:
        server.stdout.close()
        cleanup(pids.values())


def test_restarted_server_sweeps_leftovers_when_the_reaper_died_too(tmp_path):
    server, pids = start_server(tmp_path)
    try:
        os.kill(pids["reaper"], signal.SIGKILL)
        server.kill()
        server.wait()
        # PR_SET_PDEATHSIG took the container; the grandchild is left for the record.
        assert wait_dead([pids["container"]]) == []
        assert alive(pids["grandchild"])
        swept = FateSharing(tmp_path / "data", grace=0.5).sweep_leftovers()
        assert swept == [pids["container"]]
        assert wait_dead([pids["grandchild"]]) == []
    finally:
        server.stdout.close()
        cleanup(pids.values())


def test_sweep_leaves_a_live_servers_sessions_alone(tmp_path):
    server, pids = start_server(tmp_path)
    try:
        assert FateSharing(tmp_path / "data").sweep_leftovers() == []
        assert alive(pids["container"]) and alive(pids["grandchild"])
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
        wait_dead(list(pids.values()))
        cleanup(pids.values())


def test_kill_sessions_spares_a_recycled_leader_pid(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                            start_new_session=True)
    try:
        ticks = read_stat(proc.pid)[2]
        kill_sessions([SessionEntry(proc.pid, ticks + 1)], grace=0.1)  # someone else's session
        assert proc.poll() is None
        kill_sessions([SessionEntry(proc.pid, ticks)], grace=0.1)
        assert proc.wait(timeout=5) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()


def test_read_stat_parses_comm_with_parentheses_and_spaces(tmp_path):
    pid_dir = tmp_path / "42"
    pid_dir.mkdir()
    fields = ["S", "1", "42", "42"] + ["0"] * 15 + ["123456"] + ["0"] * 10
    (pid_dir / "stat").write_text("42 (evil) (name x) " + " ".join(fields) + "\n")
    assert read_stat(42, str(tmp_path)) == ("S", 42, 123456)
    assert read_stat(43, str(tmp_path)) is None
