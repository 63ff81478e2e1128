"""Waiting on a condition instead of sleeping: a test asserts once what it waited for has
happened, however slow the machine, and fails with what it last saw when it never does."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["wait_until", "wait_until_async"]

T = TypeVar("T")

# Generous: a loaded 2-core machine running several suites at once is the norm, and a wait
# that holds only ends early.
DEFAULT_TIMEOUT = 60.0


def wait_until(
    check: Callable[[], T],
    what: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.05,
) -> T:
    """Call ``check`` until it returns a truthy value, and return that value.

    Raises AssertionError naming ``what`` and the last value after ``timeout`` seconds. An
    exception from ``check`` propagates (a check that may fail before the condition holds
    catches its own errors)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {value!r}")
        time.sleep(interval)


async def wait_until_async(
    check: Callable[[], T] | Callable[[], Awaitable[T]],
    what: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.02,
) -> T:
    """``wait_until`` on the running loop, which keeps running between checks; ``check`` may
    be a coroutine function (one that reads a store through ``asyncio.to_thread``, say)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        value = await result if inspect.isawaitable(result) else result
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {value!r}")
        await asyncio.sleep(interval)
