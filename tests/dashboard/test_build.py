"""The committed dashboard build matches frontend/src: `pip install` ships what the source says.

Rebuilding needs Node >= 18 and the frontend's npm packages (`npm ci` in frontend/), a
developer step the test path does not install: tandem serves the committed bundle, and the
browser tests run without Node. Where Node and the packages are there, this test holds the
bundle to the sources; elsewhere it says what it would need.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
STATIC = FRONTEND.parent / "tandem" / "api" / "dashboard" / "static"


def _node_major() -> int | None:
    node = shutil.which("node")
    if node is None:
        return None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    return int(version.stdout.strip().lstrip("v").split(".")[0])


@pytest.mark.optional_extra("node")  # a developer step: the test path installs no Node
def test_committed_static_files_are_the_build_of_the_sources() -> None:
    major = _node_major()
    if major is None or major < 18 or not (FRONTEND / "node_modules" / "esbuild").is_dir():
        pytest.skip(
            "rebuilding the dashboard is a developer step: it needs Node >= 18 "
            f"(found: {major or 'none'}) and `npm ci` in frontend/ (docs/dashboard.md)"
        )
    proc = subprocess.run(
        ["node", "build.mjs", "--check"], cwd=FRONTEND, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, "run `npm run build` in frontend/: " + proc.stderr


def test_the_page_is_the_committed_source_page() -> None:
    # build.mjs copies index.html as it is: no Node needed to hold this part to its source.
    assert (STATIC / "index.html").read_text() == (FRONTEND / "src" / "index.html").read_text()
    for name in ("app.js", "app.css"):
        assert (STATIC / name).stat().st_size > 1000
