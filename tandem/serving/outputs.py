"""What an instance wrote that its planner needs back: the agent's side and the planner's side.

A spec names ``outputs``: paths under the instance root (a training host's ``model``,
``output/data``, ``output/failure``). Where the agent's root is the spec's ``work_dir`` (an
agent on the planning host) they are already in place; an agent on another host packs them
(``pack_outputs``) once its containers have exited, and the launcher puts them at the same
paths under ``work_dir`` on the planning host (``unpack_outputs``), so the planner reads them
as if the instance had run there. Packing dereferences symbolic links (a script may link a
file into its model dir) and skips what is missing; unpacking checks every member first, as
model archives are checked.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .archive import extract_members

__all__ = ["pack_outputs", "unpack_outputs"]


def pack_outputs(root: Path, paths: Sequence[str]) -> bytes:
    """A gzipped tarball of ``paths`` (relative to ``root``), named by those paths."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", dereference=True) as tar:
        for relative in paths:
            path = root / relative
            if path.is_dir():
                for folder, dirs, files in os.walk(path, followlinks=True):
                    dirs.sort()
                    here = Path(folder)
                    tar.add(here, arcname=here.relative_to(root).as_posix(), recursive=False)
                    for name in sorted(files):
                        _add_file(tar, here / name, root)
            elif path.is_file():
                _add_file(tar, path, root)
    return buffer.getvalue()


def _add_file(tar: tarfile.TarFile, path: Path, root: Path) -> None:
    if path.is_file():  # a broken link, a socket or a fifo is left behind
        tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)


def unpack_outputs(data: bytes, work_dir: Path, paths: Sequence[str]) -> None:
    """Put what ``pack_outputs`` packed at ``paths`` under ``work_dir``: each path is replaced
    by the packed one (removed where nothing of it was packed)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".outputs-", dir=work_dir) as scratch:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            extract_members(tar, Path(scratch))
        for relative in paths:
            source, target = Path(scratch) / relative, work_dir / relative
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            if source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
