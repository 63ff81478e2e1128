"""CheckpointSync with a local-folder S3Uri: what is restored, and what each pass uploads."""

from __future__ import annotations

import os
from pathlib import Path

from tandem.jobs.checkpoints import CheckpointSync


def _sync(tmp_path: Path, hosts: int = 2) -> CheckpointSync:
    folders = [tmp_path / f"algo-{k}" / "checkpoints" for k in range(1, hosts + 1)]
    return CheckpointSync(str(tmp_path / "remote"), folders, objects=None, base_dir=tmp_path,
                          scratch=tmp_path / "scratch")


def test_nothing_saved_yet_gives_empty_folders(tmp_path: Path) -> None:
    sync = _sync(tmp_path)
    assert sync.download() == 0
    assert [sorted(f.iterdir()) for f in sync.folders] == [[], []]
    assert sync.upload() == 0


def test_restored_files_go_to_every_host_and_are_not_sent_back(tmp_path: Path) -> None:
    (tmp_path / "remote" / "epoch").mkdir(parents=True)
    (tmp_path / "remote" / "epoch" / "1.pt").write_bytes(b"one")
    sync = _sync(tmp_path)
    assert sync.download() == 1
    for folder in sync.folders:
        assert (folder / "epoch" / "1.pt").read_bytes() == b"one"
    assert sync.upload() == 0


def test_each_pass_sends_only_new_and_changed_files(tmp_path: Path) -> None:
    sync = _sync(tmp_path)
    sync.download()
    first, second = sync.folders
    (first / "a.ckpt").write_bytes(b"a1")
    (second / "sub").mkdir()
    (second / "sub" / "b.ckpt").write_bytes(b"b1")
    assert sync.upload() == 2
    assert sync.upload() == 0
    (first / "a.ckpt").write_bytes(b"a2-longer")
    os.utime(first / "a.ckpt", ns=(1, 1))
    assert sync.upload() == 1
    remote = tmp_path / "remote"
    assert sorted(p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file()) \
        == ["a.ckpt", "sub/b.ckpt"]
    assert (remote / "a.ckpt").read_bytes() == b"a2-longer"
    # A new job with the same S3Uri starts from them.
    again = _sync(tmp_path / "next", hosts=1)
    again = CheckpointSync(str(remote), again.folders, objects=None, base_dir=tmp_path,
                           scratch=tmp_path / "scratch2")
    assert again.download() == 2
    assert (again.folders[0] / "sub" / "b.ckpt").read_bytes() == b"b1"
