"""``SupervisedProcess``: one child process tree, watched, captured and stoppable as a whole.

The child is spawned by ``spawner.spawn`` (own session, explicit env, parent-death signal) and
its session is told to a ``SessionGuard`` (``fate_sharing.FateSharing``) so nothing outlives
the server. Its merged stdout+stderr is pumped by a capture (``StreamCapture`` into a log
stream), which keeps the last lines for failure reasons. Stop = SIGTERM to the process group,
up to ``grace`` seconds, then SIGKILL to the group and to every process left in the session
(members that moved to a group of their own included).

A group id is only signalled while it is still this child's: a pidfd on the leader (where the
kernel has them) says so without reading ``/proc`` while the leader lives; once it is gone, the
leader's start time in ``/proc/<pid>/stat`` tells a recycled pid from ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tandem.clock import Clock, SystemClock
from tandem.supervision.fate_sharing import read_stat, session_members
from tandem.supervision.spawner import spawn

__all__ = ["OutputCapture", "SessionGuard", "SupervisedProcess"]

_log = logging.getLogger(__name__)

# A grandchild that escaped the session could hold the pipe open: never wait on it forever.
_PUMP_DRAIN_TIMEOUT = 2.0
_REAP_TIMEOUT = 5.0


class SessionGuard(Protocol):
    """Fate-sharing hook (``FateSharing``): told of each child session."""

    def track(self, pid: int) -> None: ...

    def untrack(self, pid: int) -> None: ...


class OutputCapture(Protocol):
    """Reads the child's output pipe to its end (``StreamCapture``) and keeps the last lines."""

    @property
    def last_lines(self) -> Sequence[str]: ...

    async def run(self, reader: asyncio.StreamReader) -> object: ...


class SupervisedProcess:
    """One child whose output goes to ``capture``; its whole session is stopped as one."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str | None,
        capture: OutputCapture,
        *,
        guard: SessionGuard | None = None,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        self.argv = tuple(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.capture = capture
        self.name = name or (os.path.basename(self.argv[0]) if self.argv else "")
        self._guard = guard
        self._clock = clock or SystemClock()
        self._proc: asyncio.subprocess.Process | None = None
        self._start_ticks: int | None = None
        self._pump: asyncio.Task[Any] | None = None
        self._exit: asyncio.Task[int] | None = None
        self._tracked = False
        self._pidfd: int | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def started(self) -> bool:
        return self._proc is not None

    @property
    def running(self) -> bool:
        return self._proc is not None and self.returncode is None

    @property
    def last_lines(self) -> list[str]:
        return list(self.capture.last_lines)

    async def start(self) -> None:
        """Spawn it and start pumping its output (``OSError`` if it cannot be started)."""
        proc = await spawn(self.argv, self.env, self.cwd)
        self._proc = proc
        stat = read_stat(proc.pid)
        self._start_ticks = stat[2] if stat else None
        self._pidfd = _pidfd_open(proc.pid)
        if self._guard is not None:
            self._guard.track(proc.pid)
            self._tracked = True
        assert proc.stdout is not None
        self._pump = asyncio.create_task(self.capture.run(proc.stdout), name=f"pump {self.name}")
        self._exit = asyncio.create_task(self._watch_exit(proc), name=f"wait {self.name}")

    async def _watch_exit(self, proc: asyncio.subprocess.Process) -> int:
        self.returncode = await proc.wait()
        return self.returncode

    async def exited(self) -> int:
        """The main process's exit status, as soon as it exits (its output may still flow)."""
        assert self._exit is not None, "not started"
        return await asyncio.shield(self._exit)

    async def wait(self) -> int:
        """The exit status, once the process exited and its output is all captured."""
        code = await self.exited()
        await self._drain()
        self._untrack()
        self._close_pidfd()
        return code

    def send_signal(self, sig: int) -> None:
        """Signal the child's process group (nothing if the group is no longer ours)."""
        if self._proc is not None and self._is_ours():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)

    def group_alive(self) -> bool:
        """Whether any process is left in the child's process group."""
        if self._proc is None or not self._is_ours():
            return False
        try:
            os.killpg(self._proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    async def stop(self, grace: float) -> None:
        """SIGTERM to its group, up to ``grace`` s, then SIGKILL to all left in its session;
        returns once the child is reaped and its output captured."""
        if self._proc is None:
            return
        self.send_signal(signal.SIGTERM)
        deadline = self._clock.monotonic() + grace
        while (self.running or self.group_alive()) and self._clock.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await self.kill()
        await self._drain()
        self._untrack()
        self._close_pidfd()

    async def kill(self) -> None:
        """SIGKILL to the group and to every process left in the session."""
        if self._proc is None:
            return
        self.send_signal(signal.SIGKILL)
        if self._is_ours():
            for member in await asyncio.to_thread(session_members, self._proc.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(member, signal.SIGKILL)

    async def _drain(self) -> None:
        if self._exit is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exit), _REAP_TIMEOUT)
        pump = self._pump
        if pump is None:
            return
        done, _ = await asyncio.wait([pump], timeout=_PUMP_DRAIN_TIMEOUT)
        if not done:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
        elif not pump.cancelled() and pump.exception() is not None:
            _log.warning("log pump of %s failed: %r", self.name, pump.exception())

    async def cancel(self) -> None:
        """Cancel the watch tasks (the process itself is left as it is)."""
        for task in (self._pump, self._exit):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._close_pidfd()

    def _close_pidfd(self) -> None:
        fd, self._pidfd = self._pidfd, None
        if fd is not None:
            os.close(fd)

    def _untrack(self) -> None:
        if self._tracked and self._guard is not None and self._proc is not None:
            self._guard.untrack(self._proc.pid)
            self._tracked = False

    def _is_ours(self) -> bool:
        assert self._proc is not None
        if self._pidfd is not None and not _readable(self._pidfd):
            return True  # the leader itself still runs: its pid cannot have been reused
        # A group id can be reused once the group is empty; its new leader starts later.
        stat = read_stat(self._proc.pid)
        return stat is None or stat[2] == self._start_ticks


def _pidfd_open(pid: int) -> int | None:
    """A pidfd on ``pid`` (Linux 5.3+), None where the kernel or platform has none."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None  # ENOSYS on old kernels, ESRCH if it is already gone


def _readable(fd: int) -> bool:
    """A pidfd polls readable once its process has exited."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
