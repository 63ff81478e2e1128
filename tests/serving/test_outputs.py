"""An instance's outputs packed on the agent's host and put back under the planner's work dir."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from tandem.serving.archive import UnsafeMember
from tandem.serving.outputs import pack_outputs, unpack_outputs

PATHS = ("model", "output/data", "output/failure")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_named_paths_replace_the_planners_with_links_followed(tmp_path: Path) -> None:
    node, planner = tmp_path / "node", tmp_path / "planner"
    (node / "model" / "sub").mkdir(parents=True)
    (node / "model" / "sub" / "weights.bin").write_bytes(b"w")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b"linked")
    (node / "model" / "link.txt").symlink_to(elsewhere)
    (node / "model" / "dangling").symlink_to(tmp_path / "missing")
    (node / "output" / "data").mkdir(parents=True)
    (node / "output" / "failure").write_text("ValueError: bad\n")
    (node / "input").mkdir()
    (node / "input" / "not-asked.txt").write_bytes(b"x")
    # What the planner held before: stale files of its own layout go.
    (planner / "model").mkdir(parents=True)
    (planner / "model" / "stale.txt").write_bytes(b"old")
    (planner / "output" / "data").mkdir(parents=True)
    (planner / "output" / "data" / "stale.csv").write_bytes(b"old")

    unpack_outputs(pack_outputs(node, PATHS), planner, PATHS)

    assert _tree(planner) == {"model/link.txt": b"linked", "model/sub/weights.bin": b"w",
                              "output/failure": b"ValueError: bad\n"}
    assert (planner / "output" / "data").is_dir()
    assert not (planner / "model" / "link.txt").is_symlink()
    assert [p.name for p in planner.iterdir() if p.name.startswith(".")] == []


def test_a_path_the_host_did_not_write_is_removed_here(tmp_path: Path) -> None:
    node, planner = tmp_path / "node", tmp_path / "planner"
    (node / "model").mkdir(parents=True)
    (planner / "output").mkdir(parents=True)
    (planner / "output" / "failure").write_text("from an earlier run")

    unpack_outputs(pack_outputs(node, PATHS), planner, PATHS)

    assert sorted(os.listdir(planner)) == ["model", "output"]
    assert os.listdir(planner / "output") == []


def test_an_unsafe_member_is_refused_before_anything_moves(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "planner" / "model").mkdir(parents=True)
    with pytest.raises(UnsafeMember):
        unpack_outputs(buffer.getvalue(), tmp_path / "planner", PATHS)
    assert not (tmp_path / "escape.txt").exists()
    assert (tmp_path / "planner" / "model").is_dir()
