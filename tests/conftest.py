"""Suite-wide rules."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.eventloop import STALL_MESSAGE


class _StallRecorder(logging.Handler):
    """Keeps what in-process servers' watchdogs report (``tandem.eventloop``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if STALL_MESSAGE in message:
            self.messages.append(message)


_STALLS = _StallRecorder()
logging.getLogger("tandem.eventloop").addHandler(_STALLS)


@pytest.fixture(autouse=True)
def loop_stalls(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Fails a test during which an in-process server's event loop was blocked longer than its
    threshold (servers in child processes: ``ServerProcess`` checks their output). A test
    marked ``loop_stall_expected`` gets the reports instead."""
    start = len(_STALLS.messages)
    seen: list[str] = []
    yield seen
    seen.extend(_STALLS.messages[start:])
    if seen and request.node.get_closest_marker("loop_stall_expected") is None:
        pytest.fail("the event loop was blocked:\n" + "\n".join(seen), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """In CI a test skipped for a missing tool that scripts/setup installs is a failure: a green
    run must not hide a missing install step."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and "scripts/setup" in str(report.longrepr):
        report.outcome = "failed"


@pytest.fixture(scope="session")
def wine_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example pipeline's model archives, trained once per session into a temporary dir
    (a fresh clone has none, and tests never write into the repository)."""
    from examples.wine_pipeline.train import train

    out = tmp_path_factory.mktemp("wine-artifacts")
    train(out)
    return out
