"""Model data and code locations: local paths and file:// URLs of directories or tarballs.

SageMaker reads ``ModelDataUrl`` (and a code ``SAGEMAKER_SUBMIT_DIRECTORY``) from S3; tandem
runs locally, so a location is a path or file:// URL, resolved against a base directory (the
deployment file's directory, or the server's working directory for API calls). A tarball is
unpacked safely: members that would land outside the target (absolute paths, ``..``, links
pointing out) and device files are refused with an error naming the URL and the member.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError

__all__ = [
    "ArtifactError",
    "resolve_location",
    "is_tarball",
    "extract_tarball",
    "materialize",
]

_TARBALL_SUFFIXES = (".tar.gz", ".tgz", ".tar")


class ArtifactError(ConfigError):
    """A model data or code location that cannot be used; names the field, URL and member."""

    def __init__(self, field: str, url: str, problem: str, member: str | None = None) -> None:
        where = f" (member {member!r})" if member is not None else ""
        super().__init__(f"{field}: {problem}{where}", field=field, url=url, member=member)
        self.field = field
        self.url = url
        self.member = member


def _label(field: str) -> str:
    # "Containers[1].ModelDataUrl" -> "ModelDataUrl", for the "tandem runs locally" sentence.
    return field.rsplit(".", 1)[-1]


def resolve_location(location: str, base_dir: Path, *, field: str) -> Path:
    """The absolute path a location names: an existing directory or tarball."""
    text = location.strip()
    if not text:
        raise ArtifactError(field, location, "is empty")
    if text.startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ArtifactError(field, location, f"file:// URL names host {parts.netloc!r}; "
                                "only local files are supported")
        path = Path(unquote(parts.path))
    elif "://" in text:
        raise ArtifactError(field, location, f"tandem runs locally: {_label(field)} must be a "
                            f"local path or file:// URL, got {text}")
    else:
        path = Path(text).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    path = Path(os.path.abspath(path))
    if path.is_dir():
        return path
    if path.is_file():
        if not is_tarball(path):
            raise ArtifactError(field, location, f"{path} is neither a directory nor a "
                                ".tar.gz archive")
        return path
    raise ArtifactError(field, location, f"{path} does not exist")


def is_tarball(path: Path) -> bool:
    return path.name.endswith(_TARBALL_SUFFIXES)


def _inside(root: str, relative: str) -> bool:
    """Whether ``relative`` (POSIX, relative to root) stays within root after normalisation."""
    normal = posixpath.normpath(posixpath.join(root, relative))
    return normal == root or normal.startswith(root + "/")


def _check_member(member: tarfile.TarInfo) -> str | None:
    """Why a member may not be extracted, or None when it is safe."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "path with '..'"
    # A fake root: every check is relative to it, so nothing here touches the filesystem.
    root = "/__root__"
    if not _inside(root, name):
        return "path outside the target"
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        return "device or FIFO"
    if member.issym():
        target = member.linkname
        if target.startswith("/"):
            return f"symlink to absolute path {target!r}"
        if not _inside(root, posixpath.join(posixpath.dirname(name), target)):
            return f"symlink pointing outside the target ({target!r})"
    elif member.islnk():
        target = member.linkname
        if target.startswith("/") or not _inside(root, target):
            return f"hardlink pointing outside the target ({target!r})"
    elif not (member.isfile() or member.isdir()):
        return "unsupported member type"
    return None


def extract_tarball(archive: Path, target: Path, *, url: str, field: str) -> None:
    """Unpack ``archive`` into the (new or empty) directory ``target``, refusing unsafe members.

    Every member is checked before anything is written, then tarfile's ``data`` filter (where
    this Python has it) checks again while extracting: two independent guards.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                problem = _check_member(member)
                if problem is not None:
                    raise ArtifactError(field, url, f"{archive} holds an unsafe entry: {problem}",
                                        member=member.name)
            target.mkdir(parents=True, exist_ok=True)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(target, members=members, filter="data")
            else:  # pragma: no cover - Pythons before 3.11.4
                tar.extractall(target, members=members)
    except tarfile.FilterError as error:
        unsafe: tarfile.TarInfo | None = getattr(error, "tarinfo", None)
        raise ArtifactError(field, url, f"{archive} holds an unsafe entry: {error}",
                            member=unsafe.name if unsafe is not None else None) from error
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArtifactError(field, url, f"cannot unpack {archive}: {error}") from error


def materialize(location: str, base_dir: Path, target: Path, *, field: str) -> Path:
    """The directory holding a location's files: a directory as it is, a tarball unpacked.

    A tarball is unpacked into ``target`` once: a marker beside it (not in it, where model_fn
    would see it), written after a complete extraction, lets a restarted instance reuse it; a
    half-done one (a crash mid-way) is redone.
    """
    path = resolve_location(location, base_dir, field=field)
    if path.is_dir():
        return path
    marker = target.with_name(target.name + ".extracted")
    if marker.is_file() and target.is_dir() and marker.read_text() == location + "\n":
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        extract_tarball(path, staging, url=location, field=field)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    marker.write_text(location + "\n")
    return target
