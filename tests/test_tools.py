"""tests/tools.py and the suite's CI rule: a test that needs a missing tool skips outside CI
and fails in CI, and in CI no test may skip, whatever its reason says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from tests.tools import executable, require_tool

ROOT = Path(__file__).resolve().parent.parent

_PROBE = '''
import pytest

from tests.tools import executable, require_tool, requires

NOPE = executable("no-such-tool-anywhere", "nowhere")


@requires(NOPE)
def test_marked():
    pass


def test_called():
    require_tool(NOPE)


def test_plain_skip():
    pytest.skip("a reason that names no tool")


@pytest.mark.xfail(reason="expected")
def test_xfail():
    raise AssertionError


def test_present():
    assert require_tool(executable("sh", "-"))
'''


def _outcomes(tmp_path: Path, ci: str) -> dict[str, str]:
    """Each probe test's outcome, run by pytest in a child with ``CI=ci``."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import (  # noqa: F401\n"
        "    pytest_make_collect_report, pytest_runtest_makereport, pytest_runtest_setup)\n"
    )
    (tmp_path / "test_probe.py").write_text(_PROBE)
    env = dict(os.environ, PYTHONPATH=str(ROOT), CI=ci)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-o", "markers=requires_tool: test", "--junitxml=report.xml", "test_probe.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    outcomes = {}
    for case in ElementTree.parse(tmp_path / "report.xml").iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        skipped = case.find("skipped")
        if skipped is not None and skipped.get("type") == "pytest.xfail":
            kinds = ["xfail"]
        outcomes[case.get("name", "")] = "+".join(kinds) or "passed"
    return outcomes


def test_outside_ci_a_missing_tool_skips(tmp_path: Path) -> None:
    assert _outcomes(tmp_path, "false") == {
        "test_marked": "skipped",
        "test_called": "skipped",
        "test_plain_skip": "skipped",
        "test_xfail": "xfail",
        "test_present": "passed",
    }


def test_in_ci_a_missing_tool_or_any_skip_fails(tmp_path: Path) -> None:
    assert _outcomes(tmp_path, "true") == {
        "test_marked": "error",  # in setup, where the mark is applied
        "test_called": "failure",
        "test_plain_skip": "failure",
        "test_xfail": "xfail",
        "test_present": "passed",
    }


def test_require_tool_returns_the_path() -> None:
    assert Path(require_tool(executable("sh", "-"))).name == "sh"
