"""Tar archives unpacked safely, the same on every Python tandem runs on.

tarfile's extraction filters (PEP 706) exist only from Python 3.11.4, and Debian 12 ships
3.11.2, so safety cannot rest on them. Every member is checked here before anything is
written: its name (no absolute path, no ``..``, no NUL), its type (files, directories and
links only), links followed through the archive's own symlinks (a chain of links that each
look harmless but lead out together is refused), no member written through a symlink, hard
links only to files the archive wrote before. Extraction then writes each member itself:
never following a link at the destination, never changing ownership, and with the permission
bits tarfile's ``data`` filter would keep. Where the interpreter has the filter it runs too,
member by member, as a second, independent guard.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["UnsafeMember", "check_members", "extract_members"]

# Hops through symlinks a single resolution may take before it counts as a loop (Linux: 40).
_MAX_HOPS = 40
_FilterError: type[Exception] | tuple[()] = getattr(tarfile, "FilterError", ())


class UnsafeMember(Exception):
    """A member that may not be extracted; ``problem`` says why."""

    def __init__(self, member: str, problem: str) -> None:
        super().__init__(f"{problem} (member {member!r})")
        self.member = member
        self.problem = problem


def _normal_name(name: str) -> str | None:
    """The member's path relative to the target ('' for the target itself), or None if it
    is absolute or climbs with '..'."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return None
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return None
    return "/".join(part for part in parts if part not in ("", "."))


def _resolve(path: str, links: dict[str, str]) -> str | None:
    """Where ``path`` (relative to the target) leads once the archive's symlinks are followed,
    or None when it leaves the target. Raises ValueError on a loop."""
    pending = path.split("/")
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not done:
                return None
            done.pop()
            continue
        done.append(part)
        target = links.get("/".join(done))
        if target is not None:
            hops += 1
            if hops > _MAX_HOPS:
                raise ValueError("symlink loop")
            if target.startswith("/"):
                return None
            done.pop()
            pending = target.split("/") + pending
    return "/".join(done)


def _kind(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.isfile():
        return "file"
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise UnsafeMember(member.name, "device or FIFO")
    raise UnsafeMember(member.name, "unsupported member type")


def check_members(members: Sequence[tarfile.TarInfo]) -> list[str]:
    """Each member's path relative to the target, in order; raises UnsafeMember for the
    first member that may not be extracted. Touches no filesystem."""
    paths: list[str] = []
    kinds: dict[str, str] = {}
    for member in members:
        if not member.name or "\0" in member.name:
            raise UnsafeMember(member.name, "empty name or NUL in name")
        path = _normal_name(member.name)
        if path is None:
            absolute = member.name.startswith(("/", "\\")) or member.name[1:2] == ":"
            raise UnsafeMember(member.name, "absolute path" if absolute else "path with '..'")
        kind = _kind(member)
        if path == "" and kind != "dir":
            raise UnsafeMember(member.name, "names the target directory itself")
        earlier = kinds.get(path)
        # A later copy of a file or directory is what tar does; anything else that names a
        # path twice (a file becoming a link, a link re-pointed) is refused.
        if earlier is not None and (earlier != kind or kind in ("symlink", "hardlink")):
            raise UnsafeMember(member.name, f"appears twice, as {earlier} and as {kind}")
        kinds[path] = kind
        paths.append(path)
    links = {path: m.linkname for path, m in zip(paths, members, strict=True) if m.issym()}
    files_so_far: set[str] = set()
    for path, member in zip(paths, members, strict=True):
        parent = path
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            if parent in links:
                raise UnsafeMember(member.name, f"path through the symlink {parent!r}")
        if member.issym():
            target = member.linkname
            if not target or "\0" in target:
                raise UnsafeMember(member.name, "symlink with an empty target")
            if target.startswith("/"):
                raise UnsafeMember(member.name, f"symlink to absolute path {target!r}")
            try:
                lands = _resolve(posixpath.join(posixpath.dirname(path), target), links)
            except ValueError:
                raise UnsafeMember(member.name, f"symlink loop through {target!r}") from None
            if lands is None:
                raise UnsafeMember(member.name, f"symlink pointing outside the target "
                                   f"({target!r})")
        elif member.islnk():
            source = _normal_name(member.linkname) if member.linkname else None
            if source is None or source == "":
                raise UnsafeMember(member.name, f"hardlink pointing outside the target "
                                   f"({member.linkname!r})")
            if source not in files_so_far:
                raise UnsafeMember(member.name, f"hardlink to {member.linkname!r}, which is "
                                   "not a file the archive holds before it")
        if kinds[path] == "file":
            files_so_far.add(path)
    return paths


def _file_mode(mode: int) -> int:
    # What tarfile's data filter keeps: no setuid/setgid/sticky, no group/other write, the
    # owner may read and write; exec for group/other only where the owner has it.
    mode = (mode & 0o755) | 0o600
    if not mode & 0o100:
        mode &= ~0o011
    return mode


def extract_members(tar: tarfile.TarFile, target: Path) -> None:
    """Check every member of ``tar`` (raising UnsafeMember before anything is written), then
    unpack them into the directory ``target`` (created when missing)."""
    members = tar.getmembers()
    paths = check_members(members)
    data_filter: Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None] | None
    data_filter = getattr(tarfile, "data_filter", None)
    target.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(target)
    for path, member in zip(paths, members, strict=True):
        if data_filter is not None:
            try:
                data_filter(member, root)
            except _FilterError as error:
                raise UnsafeMember(member.name, str(error)) from error
        dest = os.path.join(root, path) if path else root
        if member.isdir():
            os.makedirs(dest, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if member.issym():
            os.symlink(member.linkname, dest)
            continue
        source = tar.extractfile(member)  # a hard link reads its (earlier) file's data
        if source is None:
            raise UnsafeMember(member.name, "has no data")
        if os.path.lexists(dest):
            os.unlink(dest)  # a later copy of the same file replaces it, as tar does
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(dest, flags, 0o600)
        with source, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out)
            os.fchmod(out.fileno(), _file_mode(member.mode))
        os.utime(dest, (member.mtime, member.mtime), follow_symlinks=False)
