"""DiskUtilization: how full the filesystem holding an instance's work dir is."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tandem.telemetry.usage.sample import UsageSample

__all__ = ["DiskProbe"]


class DiskProbe:
    """Used / total of the filesystem holding ``path``, 0-100.

    A process tree has no disk use of its own on a shared filesystem, so like SageMaker's
    per-instance volume this is the volume's fill level.
    """

    def __init__(self, path: Path, disk_usage: Callable[[Path], Any] = shutil.disk_usage) -> None:
        self.path = Path(path)
        self._disk_usage = disk_usage

    def sample(self, pids: Sequence[int]) -> UsageSample:
        try:
            usage = self._disk_usage(self.path)
        except OSError:
            return UsageSample()
        if not usage.total:
            return UsageSample()
        return UsageSample(disk_utilization=100.0 * usage.used / usage.total)
