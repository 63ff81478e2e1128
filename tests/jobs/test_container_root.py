"""A process's own /opt/ml (``tandem.jobs.container_root``): the command sees the directory at
/opt/ml and the real /opt's entries beside it; nothing outside the process sees the mount; a
machine without ``unshare`` is told so."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tandem.jobs.container_root import container_argv, container_root_unavailable

_REASON = container_root_unavailable()


@pytest.mark.skipif(_REASON is not None, reason=f"no mount namespace here: {_REASON}")
def test_the_command_sees_its_directory_at_opt_ml_and_keeps_opt(tmp_path: Path) -> None:
    root = tmp_path / "algo-1"
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text('{"epochs": "3"}\n')
    before = sorted(os.listdir("/opt")) if os.path.isdir("/opt") else []
    done = subprocess.run(
        container_argv(root, ["/bin/sh", "-c", "cat /opt/ml/input/config/hyperparameters.json"
                              " && echo written > /opt/ml/model.txt && ls -A /opt"]),
        capture_output=True, text=True, timeout=30, check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == '{"epochs": "3"}'
    # The real /opt's entries are still there, with ml among them.
    assert sorted(lines[1:]) == sorted({*before, "ml"})
    assert (root / "model.txt").read_text() == "written\n"
    assert not Path("/opt/ml/model.txt").exists()


def test_a_machine_without_unshare_is_told_why(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert container_root_unavailable.__wrapped__() == "util-linux's 'unshare' is not installed"
