"""Fate-sharing: no container process outlives the server, even when the server is SIGKILLed.

Three layers, because each alone has a hole:

1. ``PR_SET_PDEATHSIG(SIGKILL)`` on each container's main process (``spawner.child_setup``):
   the kernel kills it the moment the thread that forked it dies. It does not reach
   grandchildren.
2. A reaper process (this module run as a script), started by the launcher in its own session
   and holding a pipe from the server. The server tells it each container's session id; on EOF
   (the server died, however) it sends SIGTERM to every process still in those sessions, waits
   a short grace, SIGKILLs what is left and exits. Containers run as session leaders
   (``start_new_session``), so their whole trees share the session even if they change group.
3. A record in the data dir (``sessions.json``) so a restarted server kills leftovers when the
   reaper itself was killed too.

A session is identified by its leader's pid *and* start time (``/proc/<pid>/stat`` field 22), so
a recycled pid is never mistaken for one of ours. This file is also run as a script by
``sys.executable -I``, so it imports only the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SessionEntry",
    "FateSharing",
    "read_stat",
    "session_members",
    "kill_sessions",
]


@dataclass(frozen=True)
class SessionEntry:
    sid: int
    start_ticks: int


def read_stat(pid: int, proc_root: str = "/proc") -> tuple[str, int, int] | None:
    """(state, session id, start time in clock ticks) of ``pid``, or None if it is gone."""
    try:
        with open(f"{proc_root}/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[3]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _sessions_of_all(proc_root: str) -> dict[int, list[int]]:
    by_sid: dict[int, list[int]] = {}
    try:
        names = os.listdir(proc_root)
    except OSError:
        return by_sid
    for name in names:
        if not name.isdigit():
            continue
        stat = read_stat(int(name), proc_root)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        by_sid.setdefault(stat[1], []).append(int(name))
    return by_sid


def session_members(sid: int, proc_root: str = "/proc") -> list[int]:
    """Live (non-zombie) processes in session ``sid``."""
    return _sessions_of_all(proc_root).get(sid, [])


def _is_ours(entry: SessionEntry, proc_root: str) -> bool:
    leader = read_stat(entry.sid, proc_root)
    # Leader gone: its pid cannot lead a new session while members of the old one live, so any
    # process still in session ``sid`` is one of ours. Leader alive: compare start times.
    return leader is None or leader[2] == entry.start_ticks


def _signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_sessions(
    entries: Iterable[SessionEntry],
    grace: float,
    proc_root: str = "/proc",
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """SIGTERM every process in our sessions, wait up to ``grace`` s, SIGKILL the rest."""
    sids = {e.sid for e in entries if _is_ours(e, proc_root)}
    if not sids:
        return

    def members() -> list[int]:
        by_sid = _sessions_of_all(proc_root)
        return [pid for sid in sids for pid in by_sid.get(sid, [])]

    _signal_all(members(), signal.SIGTERM)
    deadline = monotonic() + grace
    while (left := members()) and monotonic() < deadline:
        sleep(0.05)
    _signal_all(left, signal.SIGKILL)


class FateSharing:
    """The server side (a ``SessionGuard``): starts the reaper, tells it about sessions, keeps
    the record on disk."""

    def __init__(self, data_dir: Path, grace: float = 1.0, proc_root: str = "/proc") -> None:
        self.record_path = Path(data_dir) / "launcher" / "sessions.json"
        self.grace = grace
        self._proc_root = proc_root
        self._sessions: dict[int, SessionEntry] = {}
        self._reaper: subprocess.Popen[bytes] | None = None
        self._record_lock = threading.Lock()

    @property
    def reaper_pid(self) -> int | None:
        return self._reaper.pid if self._reaper else None

    def start(self) -> None:
        """Kill leftovers of a previous server on this data dir, then start the reaper."""
        from tandem.config import parent_environment  # not at top: this file also runs as a script

        self.sweep_leftovers()
        self._reaper = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), str(self.grace)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env={"PATH": parent_environment().get("PATH", "/usr/bin:/bin")},
            close_fds=True,
            # Its own session: a Ctrl-C or killpg aimed at the server does not take it along.
            start_new_session=True,
        )
        self._write_record()

    def sweep_leftovers(self) -> list[int]:
        """Kill what a dead server on this data dir left; return the session ids swept."""
        try:
            record = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return []
        server = record.get("server", {})
        owner = read_stat(int(server.get("pid", 0)), self._proc_root) if server else None
        if owner is not None and owner[2] == server.get("start_ticks"):
            return []  # a live server (maybe this one) still owns this data dir
        entries = [SessionEntry(int(s["sid"]), int(s["start_ticks"])) for s in record["sessions"]]
        kill_sessions(entries, self.grace, self._proc_root)
        return [e.sid for e in entries]

    def track(self, pid: int) -> None:
        stat = read_stat(pid, self._proc_root)
        if stat is None:
            return
        entry = SessionEntry(pid, stat[2])
        self._sessions[pid] = entry
        self._send(f"+ {entry.sid} {entry.start_ticks}\n")
        self._write_record()

    def untrack(self, pid: int) -> None:
        if self._sessions.pop(pid, None) is not None:
            self._send(f"- {pid}\n")
            self._write_record()

    def close(self, timeout: float = 5.0) -> None:
        """Close the pipe (the reaper kills anything still tracked) and reap the reaper."""
        reaper, self._reaper = self._reaper, None
        if reaper is None:
            return
        if reaper.stdin is not None:
            with contextlib.suppress(OSError):
                reaper.stdin.close()
        try:
            reaper.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            reaper.kill()
            reaper.wait()
        self._sessions.clear()
        with contextlib.suppress(OSError):
            self.record_path.unlink()

    def _send(self, line: str) -> None:
        if self._reaper is None or self._reaper.stdin is None:
            return
        try:
            self._reaper.stdin.write(line.encode())
            self._reaper.stdin.flush()
        except OSError:
            pass  # reaper gone; PDEATHSIG and the record still hold

    def _write_record(self) -> None:
        # Under a lock: start() writes from a worker thread while the event loop may already
        # track a child; two writers sharing the temporary file lost a rename (ENOENT).
        with self._record_lock:
            me = read_stat(os.getpid(), self._proc_root)
            record = {
                "server": {"pid": os.getpid(), "start_ticks": me[2] if me else None},
                "sessions": [
                    {"sid": e.sid, "start_ticks": e.start_ticks}
                    for e in list(self._sessions.values())
                ],
            }
            self.record_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.record_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record))
            os.replace(tmp, self.record_path)


def _main(argv: list[str]) -> int:
    grace = float(argv[1]) if len(argv) > 1 else 1.0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tracked: dict[int, SessionEntry] = {}
    for raw in sys.stdin.buffer:
        parts = raw.decode("ascii", "replace").split()
        if len(parts) == 3 and parts[0] == "+":
            tracked[int(parts[1])] = SessionEntry(int(parts[1]), int(parts[2]))
        elif len(parts) == 2 and parts[0] == "-":
            tracked.pop(int(parts[1]), None)
    kill_sessions(tracked.values(), grace)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
