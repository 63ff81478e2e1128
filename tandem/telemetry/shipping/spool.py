"""Spool: requests the server could not take yet, in order, in a bounded directory on disk.

One file per request, named by a sequence number and the count of events it carries, so the
oldest is dropped (and counted) without being read when the bound is reached. A new spool on
the same directory picks up what an earlier process left. Files are written whole, then
renamed, so a crash never leaves half a request; they are not fsynced (a restart of the
agent or the server loses nothing; a power cut of the agent's host may lose the newest).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .requests import ShipRequest

__all__ = ["Spool"]

_SUFFIX = ".req"


def _parse(name: str) -> tuple[int, int] | None:
    if not name.endswith(_SUFFIX):
        return None
    seq, _, items = name[: -len(_SUFFIX)].partition("-")
    if not (seq.isdigit() and items.isdigit()):
        return None
    return int(seq), int(items)


class Spool:
    """A FIFO of ``ShipRequest`` files under ``directory``, at most ``max_bytes`` in all.

    Blocking file I/O: call it from a worker thread."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.dropped_requests = 0
        self.dropped_items = 0
        self._lock = threading.Lock()
        # seq -> (items, size), oldest first
        self._files: dict[int, tuple[int, int]] = {}
        for entry in sorted(os.scandir(self.directory), key=lambda e: e.name):
            parsed = _parse(entry.name)
            if parsed is None:
                if entry.name.endswith(".tmp"):
                    os.unlink(entry.path)  # a write cut short by a crash
                continue
            self._files[parsed[0]] = (parsed[1], entry.stat().st_size)
        self._files = dict(sorted(self._files.items()))
        self._next = max(self._files, default=0) + 1
        self.bytes = sum(size for _, size in self._files.values())

    def __len__(self) -> int:
        return len(self._files)

    @property
    def items(self) -> int:
        """Events (or datums) waiting in the spool."""
        return sum(items for items, _ in self._files.values())

    def _path(self, seq: int, items: int) -> Path:
        return self.directory / f"{seq:016d}-{items}{_SUFFIX}"

    def push(self, requests: list[ShipRequest]) -> None:
        """Append requests (newest last); drop the oldest files beyond the bound."""
        with self._lock:
            for request in requests:
                data = request.to_bytes()
                seq = self._next
                self._next += 1
                path = self._path(seq, request.items)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, path)
                self._files[seq] = (request.items, len(data))
                self.bytes += len(data)
            while self.bytes > self.max_bytes and self._files:
                seq = next(iter(self._files))
                items, size = self._files.pop(seq)
                self._path(seq, items).unlink(missing_ok=True)
                self.bytes -= size
                self.dropped_requests += 1
                self.dropped_items += items

    def peek(self) -> tuple[int, ShipRequest] | None:
        """The oldest request and its sequence number, or None when empty."""
        with self._lock:
            while self._files:
                seq, (items, _) = next(iter(self._files.items()))
                try:
                    data = self._path(seq, items).read_bytes()
                except FileNotFoundError:  # removed by hand: nothing to send
                    self._forget(seq)
                    continue
                return seq, ShipRequest.from_bytes(data)
            return None

    def pop(self, seq: int) -> None:
        """Remove a request once it was delivered (or refused for good)."""
        with self._lock:
            if seq in self._files:
                items = self._files[seq][0]
                self._path(seq, items).unlink(missing_ok=True)
                self._forget(seq)

    def _forget(self, seq: int) -> None:
        _, size = self._files.pop(seq)
        self.bytes -= size
