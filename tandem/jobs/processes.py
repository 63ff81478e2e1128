"""Job processes: a training host, a lifecycle script, a Jupyter server.

The same rules as endpoint containers: an explicit argv and environment (nothing inherited
from the server), its own session (``start_new_session``; the whole tree is signalled as one),
``PR_SET_PDEATHSIG`` through ``reaper.child_setup``, the session told to the launcher's
fate-sharing reaper so nothing outlives the server, stdout+stderr merged into one log stream
through ``StreamCapture``, and stop = SIGTERM to the group, a grace period, SIGKILL to every
process left in the session. ``UsageSampler`` records the process tree's instance metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..eventloop import blocking_expected
from ..serving.reaper import SPAWN_BLOCKS, child_setup, read_stat, session_members
from ..telemetry.logs import LogService, StreamCapture
from ..telemetry.usage import UsageProbe

__all__ = ["JobProcess", "SessionGuard", "UsageSampler"]

_log = logging.getLogger(__name__)
_DRAIN_TIMEOUT = 2.0


class SessionGuard(Protocol):
    """``reaper.FateSharing``: told of each process session so it dies with the server."""

    def track(self, pid: int) -> None: ...

    def untrack(self, pid: int) -> None: ...


class JobProcess:
    """One child process whose output goes to ``log_group``/``log_stream``."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        logs: LogService,
        log_group: str,
        log_stream: str,
        guard: SessionGuard | None = None,
        on_line: Callable[[str, int], None] | None = None,
        keep_last: int = 20,
    ) -> None:
        self.argv = tuple(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_group = log_group
        self.log_stream = log_stream
        self._guard = guard
        self.capture = StreamCapture(logs, log_group, log_stream, keep_last=keep_last,
                                     on_line=on_line)
        self._proc: asyncio.subprocess.Process | None = None
        self._start_ticks: int | None = None
        self._pump: asyncio.Task[Any] | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def last_lines(self) -> list[str]:
        return list(self.capture.last_lines)

    async def start(self) -> None:
        """Spawn it (OSError if the program cannot be started)."""
        with blocking_expected(SPAWN_BLOCKS):
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # pgid = sid = pid: the whole tree is signalled as one
                preexec_fn=child_setup(os.getpid()),
            )
        stat = read_stat(self._proc.pid)
        self._start_ticks = stat[2] if stat else None
        if self._guard is not None:
            self._guard.track(self._proc.pid)
        assert self._proc.stdout is not None
        self._pump = asyncio.create_task(self.capture.run(self._proc.stdout),
                                         name=f"pump {self.log_stream}")

    async def wait(self) -> int:
        """The exit status, once the process exited and its output is in the log."""
        assert self._proc is not None
        self.returncode = await self._proc.wait()
        await self._drain()
        self._untrack()
        return self.returncode

    async def stop(self, grace: float) -> None:
        """SIGTERM to its group, up to ``grace`` s, then SIGKILL to all left in its session."""
        if self._proc is None:
            return
        self._signal_group(signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + grace
        while self._group_alive() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        self._signal_group(signal.SIGKILL)
        if self._is_ours():
            for member in await asyncio.to_thread(session_members, self._proc.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(member, signal.SIGKILL)
        with contextlib.suppress(asyncio.TimeoutError):
            self.returncode = await asyncio.wait_for(self._proc.wait(), 5.0)
        await self._drain()
        self._untrack()

    async def _drain(self) -> None:
        # A grandchild that left the session could hold the pipe open: do not wait forever.
        if self._pump is None:
            return
        done, _ = await asyncio.wait([self._pump], timeout=_DRAIN_TIMEOUT)
        if not done:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        elif not self._pump.cancelled() and self._pump.exception() is not None:
            _log.warning("log pump of %s failed: %r", self.log_stream, self._pump.exception())

    def _untrack(self) -> None:
        if self._guard is not None and self._proc is not None:
            self._guard.untrack(self._proc.pid)

    def _is_ours(self) -> bool:
        # A group id can be reused once the group is empty; its new leader starts later.
        assert self._proc is not None
        stat = read_stat(self._proc.pid)
        return stat is None or stat[2] == self._start_ticks

    def _signal_group(self, sig: int) -> None:
        assert self._proc is not None
        if self._is_ours():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)

    def _group_alive(self) -> bool:
        assert self._proc is not None
        if not self._is_ours():
            return False
        try:
            os.killpg(self._proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class UsageSampler:
    """Samples ``pids()`` every ``interval`` s into ``namespace`` with ``dimensions`` (Percent)."""

    def __init__(self, registry: Any, namespace: str, dimensions: Mapping[str, str],
                 probe: UsageProbe, pids: Callable[[], list[int]], interval: float) -> None:
        self._registry = registry
        self._namespace = namespace
        self._dimensions = dict(dimensions)
        self._probe = probe
        self._pids = pids
        self._interval = max(0.05, min(interval, 10.0))
        self._series: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"usage {self._dimensions}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            pids = self._pids()
            if pids:
                try:
                    sample = await asyncio.to_thread(self._probe.sample, pids)
                except Exception:  # noqa: BLE001 - a failed sample is retried next tick, logged
                    _log.exception("usage sample failed for %s", self._dimensions)
                else:
                    for name, value in sample.metrics().items():
                        series = self._series.get(name)
                        if series is None:
                            series = self._registry.series(self._namespace, name,
                                                           self._dimensions, "Percent")
                            self._series[name] = series
                        series.record(value)
            await asyncio.sleep(self._interval)
