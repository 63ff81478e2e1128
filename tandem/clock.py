"""The outside world's time, injected so minute boundaries can be tested deterministically."""

from __future__ import annotations

import time as _time
from typing import Protocol

__all__ = ["Clock", "SystemClock", "ManualClock", "OffsetClock"]


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch (wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic clock, for durations."""
        ...


class SystemClock:
    """The real clocks."""

    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)


class ManualClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self._mono = 0.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self._mono += seconds


class OffsetClock:
    """Real time plus an offset that only grows: ``skip_minute`` jumps wall time to just after
    the next minute starts, so whatever runs once a minute (alarm evaluation, scaling) sees
    minutes close without waiting for them. Monotonic time stays real, so timeouts, backoffs,
    health checks and drains behave as in production. For tests and benchmarks."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return _time.time() + self.offset

    monotonic = staticmethod(_time.monotonic)

    def skip_minute(self, into: float = 2.0) -> float:
        """Move to ``into`` seconds after the start of the next minute; returns the new time."""
        now = self.time()
        self.offset += (now // 60 + 1) * 60 + into - now
        return self.time()
