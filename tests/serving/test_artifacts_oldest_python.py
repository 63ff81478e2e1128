"""The archive tests again, under the oldest Python tandem admits.

pyproject.toml admits Python 3.11; Debian 12's is 3.11.2, older than tarfile's extraction
filters (3.11.4). Safe extraction must not depend on them, so tests/serving/test_artifacts.py
runs here under Debian's interpreter, with this suite's installed packages (a 3.11 venv's
packages import under any 3.11).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.tools import DEBIAN_PYTHON, requires

ROOT = Path(__file__).resolve().parents[2]
OLDEST = Path(DEBIAN_PYTHON.find() or "/usr/bin/python3.11")

_RUN = """
import site, sys
site.addsitedir(sys.argv[1])
import pytest
# The with-data-filter variants need tarfile's filters, which this interpreter lacks.
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-k", "not with-data-filter",
                      "tests/serving/test_artifacts.py"]))
"""


@requires(DEBIAN_PYTHON)
def test_archive_tests_pass_under_debians_python_3_11():
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the suite's venv runs Python "
                    f"{sys.version_info.major}.{sys.version_info.minor}; its packages need a "
                    "3.11 venv to import under Debian's python3.11 (scripts/setup makes one)")
    version = subprocess.run([str(OLDEST), "-c", "import sys; print(sys.version_info[:3])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version.startswith("(3, 11, ")
    done = subprocess.run(
        [str(OLDEST), "-c", _RUN, sysconfig.get_paths()["purelib"]],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    summary = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else []
    assert done.returncode == 0, f"under Python {version}:\n{done.stdout}\n{done.stderr}"
    assert summary and " passed" in summary[0] and "failed" not in summary[0], summary
