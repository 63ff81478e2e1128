"""Suite-wide rules."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tandem.eventloop import STALL_MESSAGE
from tests.tools import in_ci, require_tool

# Hypothesis's per-example deadline (200 ms) and its too_slow health check are wall-clock
# limits a loaded machine misses for no fault of the code: off for every property test.
settings.register_profile(
    "tandem", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("tandem")


_MULTIHOST = Path(__file__).parent / "multihost"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest-xdist's groups (``--dist loadgroup``, scripts/test): a module's tests run on one
    worker, so its module-scoped servers start once; the multihost suite shares one Ray rig,
    and two clusters at once would starve each other, so it runs on one worker, in order."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        path = Path(item.path)
        group = "multihost" if _MULTIHOST in path.parents else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``requires(TOOL)`` marks (tests/tools.py): skip where a tool is missing, fail in CI."""
    for mark in item.iter_markers("requires_tool"):
        for tool in mark.args:
            require_tool(tool)


def _fail_in_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    # In CI nothing may be skipped, whatever the reason says: a green run must not hide a
    # missing install step (an expected failure, xfail, stays what it is).
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {reason}"



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
    outcome = yield
    # The one exception: a test marked optional_extra needs an extra that scripts/setup does
    # not install (docs/images.md says which and why); it runs wherever that extra is there.
    if item.get_closest_marker("optional_extra") is None:
        _fail_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # type: ignore[no-untyped-def]
    outcome = yield
    _fail_in_ci(outcome.get_result())


@pytest.fixture(scope="session")
def wine_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example pipeline's model archives, trained once per session into a temporary dir
    (a fresh clone has none, and tests never write into the repository)."""
    from examples.wine_pipeline.train import train

    out = tmp_path_factory.mktemp("wine-artifacts")
    train(out)
    return out
