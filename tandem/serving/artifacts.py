"""Model data and code locations: local paths and file:// URLs of directories or tarballs.

SageMaker reads ``ModelDataUrl`` (and a code ``SAGEMAKER_SUBMIT_DIRECTORY``) from S3; tandem
runs locally, so a location is a path or file:// URL, resolved against a base directory (the
deployment file's directory, or the server's working directory for API calls). A tarball is
unpacked safely (``archive``): members that would land outside the target (absolute paths,
``..``, links pointing out, alone or through other links) and device files are refused with an
error naming the URL and the member.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError
from .archive import UnsafeMember, extract_members

__all__ = [
    "ArtifactError",
    "resolve_location",
    "is_tarball",
    "extract_tarball",
    "materialize",
    "unpack",
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


def extract_tarball(archive: Path, target: Path, *, url: str, field: str,
                    name: str | None = None) -> None:
    """Unpack ``archive`` into the (new or empty) directory ``target``, refusing unsafe members.

    Every member is checked before anything is written (``serving.archive``), on every Python
    tandem runs on; tarfile's ``data`` filter, where this Python has it, checks again.
    Errors call it ``name`` (default its path): where it came from, for a fetched copy.
    """
    shown = archive if name is None else name
    try:
        with tarfile.open(archive, "r:*") as tar:
            extract_members(tar, target)
    except UnsafeMember as error:
        raise ArtifactError(field, url, f"{shown} holds an unsafe entry: {error.problem}",
                            member=error.member) from error
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArtifactError(field, url, f"cannot unpack {shown}: {error}") from error


def materialize(location: str, base_dir: Path, target: Path, *, field: str) -> Path:
    """The directory holding a location's files: a directory as it is, a tarball unpacked.

    A tarball is unpacked into ``target`` once: a marker beside it (not in it, where model_fn
    would see it), written after a complete extraction, lets a restarted instance reuse it; a
    half-done one (a crash mid-way) is redone.
    """
    path = resolve_location(location, base_dir, field=field)
    if path.is_dir():
        return path
    return unpack(path, target, url=location, field=field)


def unpack(archive: Path, target: Path, *, url: str, field: str,
           name: str | None = None) -> Path:
    """``archive`` unpacked into ``target`` once (see ``materialize``); ``url`` is the
    location it came from, ``name`` what errors call it (default its path)."""
    location = url
    marker = target.with_name(target.name + ".extracted")
    if marker.is_file() and target.is_dir() and marker.read_text() == location + "\n":
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        extract_tarball(archive, staging, url=location, field=field, name=name)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    marker.write_text(location + "\n")
    return target
