"""The blocked-loop detector: a server's watchdog reports a call that blocks its event loop past
the threshold, naming the call; an idle or busy-but-yielding loop is never reported; and the
suite's hooks turn a report into a failure (tests/conftest.py, tests/server_process.py)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.eventloop import STALL_MESSAGE, StallWatchdog
from tests.server_process import ServerProcess
from tests.server_thread import ServerThread

pytestmark = pytest.mark.serial  # stall thresholds in milliseconds


@pytest.fixture(autouse=True)
def no_automatic_collections() -> Iterator[None]:
    # A whole suite's heap makes the process's own collections last as long as these tests'
    # thresholds; only the collections a test makes itself may run while it watches a loop.
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _reports(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if STALL_MESSAGE in r.getMessage()]


def block_the_loop_on_purpose() -> None:
    time.sleep(1.5)  # what a synchronous commit or a subprocess wait does to the loop


@pytest.mark.loop_stall_expected
def test_a_blocking_call_on_a_servers_loop_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tandem.eventloop")
    server = ServerThread(tmp_path, loop_stall_warning=0.3).start()
    try:
        server.loop.call_soon_threadsafe(block_the_loop_on_purpose)
        deadline = time.monotonic() + 30
        while not _reports(caplog) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    [report] = _reports(caplog)  # once per stall, however long it lasts
    assert "in block_the_loop_on_purpose" in report
    assert "time.sleep(1.5)" in report


async def test_an_idle_or_yielding_loop_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tandem.eventloop")
    watchdog = StallWatchdog(asyncio.get_running_loop(), 0.3)
    watchdog.start()
    try:
        await asyncio.sleep(1.0)  # idle
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # busy, yielding every few milliseconds
            sum(range(10_000))
            await asyncio.sleep(0)
    finally:
        watchdog.stop()
    assert _reports(caplog) == []


def test_a_server_process_reporting_a_stall_fails_its_fixture(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path)
    proc.output = ["tandem serving on http://127.0.0.1:1\n"]
    proc.check_loop_stalls()  # nothing reported: nothing raised
    proc.output.append(f"WARNING {STALL_MESSAGE} 0.61 s (threshold 0.50 s), at:\n")
    proc.output.append('  File "x.py", line 1, in handler\n')
    with pytest.raises(AssertionError, match="event loop was blocked"):
        proc.check_loop_stalls()


@pytest.mark.loop_stall_expected
async def test_a_block_marked_expected_is_logged_at_info_naming_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tandem.eventloop import blocking_expected

    caplog.set_level(logging.INFO, logger="tandem.eventloop")
    watchdog = StallWatchdog(asyncio.get_running_loop(), 0.2)
    watchdog.start()
    try:
        await asyncio.sleep(0.1)
        with blocking_expected("a test's deliberate pause"):
            time.sleep(1.0)
        await asyncio.sleep(0.3)
    finally:
        watchdog.stop()
    assert _reports(caplog) == []
    held = [r for r in caplog.records if "held" in r.getMessage()]
    assert len(held) == 1 and held[0].levelno == logging.INFO
    assert "a test's deliberate pause" in held[0].getMessage()


async def test_expected_sections_of_interleaved_tasks_close_in_any_order() -> None:
    from tandem.eventloop import _EXPECTED, blocking_expected

    release = asyncio.Event()

    async def section(name: str) -> None:
        with blocking_expected(name):
            await release.wait()

    first = asyncio.create_task(section("spawn"))
    await asyncio.sleep(0)
    second = asyncio.create_task(section("spawn"))
    await asyncio.sleep(0)
    import threading

    here = _EXPECTED[threading.get_ident()]
    assert here["spawn"] == 2
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert here["spawn"] == 1  # the second section is still open
    release.set()
    await second
    assert not here


# Another gc callback (hypothesis registers one at import) that spends the time in its "start"
# or "stop" call: the collection's time too. (One registered after the watchdog started that is
# slow in "stop" runs after the watchdog's stop stamp: not counted.)
@pytest.mark.parametrize(("registered", "slow_phase"),
                         [("after", "start"), ("before", "start"), ("before", "stop")])
async def test_a_long_garbage_collection_is_not_a_blocked_loop(
    caplog: pytest.LogCaptureFixture, registered: str, slow_phase: str,
) -> None:

    caplog.set_level(logging.INFO, logger="tandem.eventloop")
    watchdog = StallWatchdog(asyncio.get_running_loop(), 0.2)

    def slow_collection(phase: str, info: dict[str, int]) -> None:
        if phase == slow_phase:
            time.sleep(0.6)  # a collection walking a large heap

    if registered == "before":
        gc.callbacks.append(slow_collection)
    watchdog.start()
    if registered == "after":
        gc.callbacks.append(slow_collection)
    try:
        await asyncio.sleep(0.1)
        gc.collect()
        await asyncio.sleep(0.3)
    finally:
        gc.callbacks.remove(slow_collection)
        watchdog.stop()
    assert _reports(caplog) == []
    assert any("garbage collection" in r.getMessage() for r in caplog.records)


@pytest.mark.loop_stall_expected
async def test_a_block_is_reported_while_other_threads_collect_garbage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Small collections run in other threads all the time; they do not excuse a blocked loop.
    import threading

    caplog.set_level(logging.INFO, logger="tandem.eventloop")
    watchdog = StallWatchdog(asyncio.get_running_loop(), 0.2)
    watchdog.start()
    done = threading.Event()

    def collect_often() -> None:
        while not done.wait(0.01):
            gc.collect(0)

    collector = threading.Thread(target=collect_often)
    collector.start()
    try:
        await asyncio.sleep(0.1)
        block_the_loop_on_purpose()
        await asyncio.sleep(0.3)
    finally:
        done.set()
        collector.join()
        watchdog.stop()
    [report] = _reports(caplog)
    assert "in block_the_loop_on_purpose" in report


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="Linux scheduling calls")
def test_a_loop_starved_of_cpu_is_not_a_blocked_loop(caplog: pytest.LogCaptureFixture) -> None:
    # A loaded machine leaves a busy-but-yielding loop waiting for a CPU for longer than the
    # threshold: its thread's schedstat shows the wait, and the watchdog says so at INFO.
    caplog.set_level(logging.INFO, logger="tandem.eventloop")
    cpu = min(os.sched_getaffinity(0))
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.sched_setaffinity(hog.pid, {cpu})

    async def busy_on_a_starved_thread() -> None:
        watchdog = StallWatchdog(asyncio.get_running_loop(), 0.2)
        watchdog.start()  # its thread keeps this thread's scheduling: start it first
        os.sched_setaffinity(0, {cpu})
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        try:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                sum(range(10_000))
                await asyncio.sleep(0)
        finally:
            watchdog.stop()

    starved = threading.Thread(target=asyncio.run, args=(busy_on_a_starved_thread(),))
    try:
        starved.start()
        starved.join()
    finally:
        hog.kill()
        hog.wait()
    assert _reports(caplog) == []
    held = [r.getMessage() for r in caplog.records if "held" in r.getMessage()]
    assert held and all("for a CPU" in message for message in held)
