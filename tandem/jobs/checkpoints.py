"""CheckpointConfig: each host's checkpoint folder kept in step with CheckpointConfig.S3Uri.

As on SageMaker: before the script starts, every object under the S3Uri prefix is copied into
every host's checkpoint folder (so a restarted job resumes where the last one saved); while it
runs, new and changed files are uploaded every few seconds; when it ends (completed, failed or
stopped) a last pass uploads what is left. ``<folder>/<relpath>`` becomes the object
``<S3Uri>/<relpath>``; every host writes to the same prefix, so hosts should save under
distinct names (SageMaker's rule too). Local deletions are not propagated.

The S3Uri is an ``s3://`` prefix (tandem's own S3 or the configured remote store, through
``ObjectLocations``) or a local folder. Blocks on I/O: callers run it on a worker thread.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from ..errors import ValidationException
from ..objects.locations import ObjectLocations, is_s3_uri
from .locations import join_location, local_path

__all__ = ["CheckpointSync"]


class CheckpointSync:
    def __init__(self, uri: str, folders: list[Path], *, objects: ObjectLocations | None,
                 base_dir: Path, scratch: Path) -> None:
        self.uri = uri.rstrip("/")
        self.folders = folders
        self.objects = objects
        self.base_dir = base_dir
        self.scratch = scratch
        self._sent: dict[Path, tuple[int, int]] = {}
        self._lock = threading.Lock()  # a periodic pass and the last one never overlap
        if is_s3_uri(uri) and objects is None:
            raise ValidationException(f"CheckpointConfig.S3Uri: {uri}: no object store is "
                                      "configured here")

    def _source(self) -> Path | None:
        """A local folder holding the prefix's objects (None: there are none yet)."""
        if not is_s3_uri(self.uri):
            path = local_path(self.uri, self.base_dir, field="CheckpointConfig.S3Uri")
            return path if path.is_dir() else None
        assert self.objects is not None
        try:
            # The trailing '/' keeps a sibling prefix (ckpt-old/) out of this one (ckpt/).
            staged = self.objects.stage(self.uri + "/", self.scratch)
        except ValidationException as error:
            if error.message.endswith("no objects found"):
                return None
            raise
        return staged if staged.is_dir() else None

    def download(self) -> int:
        """Copy the existing checkpoints into every host's folder; how many files each got."""
        source = self._source()
        count = 0
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
            if source is None:
                continue
            count = 0
            for root, dirs, files in os.walk(source):
                dirs.sort()
                for name in sorted(files):
                    path = Path(root) / name
                    target = folder / path.relative_to(source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
                    self._sent[target] = _signature(target)
                    count += 1
        return count

    def upload(self) -> int:
        """Send the files that are new or changed since the last pass; how many were sent."""
        with self._lock:
            sent = 0
            for folder in self.folders:
                for root, dirs, files in os.walk(folder):
                    dirs.sort()
                    for name in sorted(files):
                        path = Path(root) / name
                        try:
                            signature = _signature(path)
                        except OSError:
                            continue  # removed while we walked
                        if self._sent.get(path) == signature:
                            continue
                        self._put(path, path.relative_to(folder).as_posix())
                        self._sent[path] = signature
                        sent += 1
            return sent

    def _put(self, path: Path, relative: str) -> None:
        if is_s3_uri(self.uri):
            assert self.objects is not None
            self.objects.publish(path, join_location(self.uri, relative))
            return
        target = local_path(self.uri, self.base_dir, field="CheckpointConfig.S3Uri") / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copy2(path, tmp)
        os.replace(tmp, target)


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns
