"""The committed dashboard build matches frontend/src: `pip install` ships what the source says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


@pytest.mark.skipif(
    shutil.which("node") is None or not (FRONTEND / "node_modules").is_dir(),
    reason="node and frontend/node_modules (scripts/setup) are needed",
)
def test_committed_static_files_are_the_build_of_the_sources() -> None:
    proc = subprocess.run(
        ["node", "build.mjs", "--check"], cwd=FRONTEND, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, "run `npm run build` in frontend/: " + proc.stderr
