"""The event loop tandem's servers run on: uvloop where it installs (not on Windows), else
asyncio's own. uvloop took about a sixth off the server's CPU per small request
(docs/performance/aws-api.md). ``StallWatchdog`` reports a loop blocked by a call that should
have run elsewhere (``--loop-stall-warning``)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["loop_factory", "run", "StallWatchdog", "STALL_MESSAGE", "blocking_expected"]

_log = logging.getLogger(__name__)

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (asyncio's default) where uvloop is missing."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop ``loop_factory`` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


# What the loop's thread runs while it waits for I/O: a stale heartbeat with one of these on
# top is a loop starved of CPU (a loaded machine), not a blocked one.
_IDLE_FRAMES = frozenset({"select", "run_forever", "run_until_complete", "run", "_run_once"})
STALL_MESSAGE = "event loop blocked for"
# Loop thread -> the reasons of the sections blocking it on purpose that are open there, with
# how many of each (tasks interleave: sections opened around an ``await`` close in any order).
_EXPECTED: dict[int, collections.Counter[str]] = {}


@contextlib.contextmanager
def blocking_expected(reason: str) -> Iterator[None]:
    """Marks a section of the loop's thread that must block it and cannot move elsewhere; the
    watchdog logs a stall inside it at INFO, naming ``reason``, instead of warning."""
    open_here = _EXPECTED.setdefault(threading.get_ident(), collections.Counter())
    open_here[reason] += 1
    try:
        yield
    finally:
        open_here[reason] -= 1
        if open_here[reason] <= 0:
            del open_here[reason]


def _cpu_seconds(native_id: int) -> tuple[float, float] | None:
    """Seconds thread ``native_id`` of this process has run on a CPU and waited for one, from
    Linux's schedstat (None elsewhere)."""
    try:
        with open(f"/proc/{os.getpid()}/task/{native_id}/schedstat", "rb") as stat:
            ran, waited = stat.read().split()[:2]
    except (OSError, ValueError):
        return None
    return int(ran) / 1e9, int(waited) / 1e9


class StallWatchdog:
    """Notices a blocked event loop: the loop stamps a heartbeat every ``threshold / 4`` s, and
    a thread that finds the stamp older than ``threshold`` logs a warning with the stack the
    loop's thread is running (the blocking call), once per stall.

    Cheaper than asyncio's debug mode (which also tracks every coroutine's origin), works on
    uvloop, and names the culprit's line rather than only its callback."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float) -> None:
        self.loop = loop
        self.threshold = threshold
        self._interval = threshold / 4
        self._beat = time.monotonic()
        self._loop_thread = 0
        self._loop_native_id = 0
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Seconds spent in garbage collections (any thread's) so far, the total when the loop
        # last beat, and when the collection under way began (-inf: none is).
        self._gc_seconds = 0.0
        self._gc_seconds_at_beat = 0.0
        self._gc_started = -math.inf

    def _on_gc_start(self, phase: str, info: dict[str, int]) -> None:
        # A collection holds every thread; one that walks a whole test process's heap can
        # outlast the threshold without any of our code blocking. Its time is counted, so a
        # stall is put down to collections only when they fill most of it (small collections
        # run in other threads all the time while the loop is blocked). The start is taken by
        # the first callback and the stop by the last, so other callbacks' own time (a
        # profiler's, hypothesis's) counts as the collection's too.
        if phase == "start":
            self._gc_started = time.monotonic()

    def _on_gc_stop(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and self._gc_started != -math.inf:
            self._gc_seconds += time.monotonic() - self._gc_started
            self._gc_started = -math.inf

    def _gc_seconds_since_beat(self, now: float) -> float:
        running = now - self._gc_started if self._gc_started != -math.inf else 0.0
        return self._gc_seconds - self._gc_seconds_at_beat + running

    def start(self) -> None:
        """Call on the loop's thread."""
        gc.callbacks.insert(0, self._on_gc_start)
        gc.callbacks.append(self._on_gc_stop)
        self._loop_thread = threading.get_ident()
        self._loop_native_id = threading.get_native_id()
        first = (time.monotonic(), _cpu_seconds(self._loop_native_id))  # before the first beat
        self._heartbeat()
        self._thread = threading.Thread(target=self._watch, args=(first,), name="loop-watchdog",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """Call on the loop's thread."""
        for callback in (self._on_gc_start, self._on_gc_stop):
            with contextlib.suppress(ValueError):
                gc.callbacks.remove(callback)
        if self._handle is not None:
            self._handle.cancel()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _heartbeat(self) -> None:
        # Nothing here lets go of the GIL: a heartbeat that did (a /proc read) would show the
        # loop's thread on top of it, not idle, whenever another thread kept the GIL a while.
        self._beat = time.monotonic()
        self._gc_seconds_at_beat = self._gc_seconds
        self._handle = self.loop.call_later(self._interval, self._heartbeat)

    def _watch(self, first: tuple[float, tuple[float, float] | None]) -> None:
        reported = 0.0
        # The loop thread's CPU times (``_cpu_seconds``) as this thread read them at each wake
        # (and ``start`` before the first beat): a stall is compared with the last reading
        # taken before its beat.
        readings: collections.deque[tuple[float, tuple[float, float]]] = collections.deque(
            maxlen=64)
        if first[1] is not None:
            readings.append((first[0], first[1]))
        while not self._stop.wait(self._interval):
            # Read first: the read lets go of the GIL, and the beat, the time and the loop's
            # stack below must be taken together, with nothing run by the loop in between.
            cpu = _cpu_seconds(self._loop_native_id)
            beat = self._beat
            now = time.monotonic()
            if cpu is not None:
                readings.append((now, cpu))
            age = now - beat
            if age < self.threshold or beat == reported:
                continue
            frame = sys._current_frames().get(self._loop_thread)  # noqa: SLF001 - the one way
            if frame is None or frame.f_code.co_name in _IDLE_FRAMES:
                continue
            reported = beat
            stack = "".join(traceback.format_stack(frame))
            expected = _EXPECTED.get(self._loop_thread)
            # A stall in which the loop's thread mostly waited for a CPU is a machine out of CPU
            # (a loaded test run), not a call blocking the loop: told apart as a collection is.
            # The span runs from the last reading before the beat (this thread may have been
            # kept from reading by the GIL a while): the share waiting is what counts.
            ran = waited = math.nan
            starved = False
            before = [r for r in readings if r[0] <= beat]
            if cpu is not None and before:
                since, then = before[-1]
                ran, waited = cpu[0] - then[0], cpu[1] - then[1]
                starved = waited >= (now - since) / 2
            if self._gc_seconds_since_beat(now) >= age / 2:
                expected = collections.Counter(["garbage collection"])
            elif starved:
                expected = collections.Counter([f"waiting {waited:.2f} s for a CPU"])
            if expected:
                _log.info("event loop held %.2f s by %s", age, ", ".join(expected))
                continue
            _log.warning("%s %.2f s (threshold %.2f s; its thread ran %.2f s and waited %.2f s "
                         "for a CPU), at:\n%s", STALL_MESSAGE, age, self.threshold, ran, waited,
                         stack)
