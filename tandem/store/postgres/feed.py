"""Change notifications between servers sharing one database: ``LISTEN`` on a session of its
own, the payloads handed to a callback on the listening thread.

A writer sends ``pg_notify(channel, payload)`` inside its transaction, so the notification
goes out only if it commits, and after it. When the session is lost, notifications sent
meanwhile are lost with it: once listening again the callback gets ``None`` ("anything may
have changed"), so that its caches start afresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .database import redact

__all__ = ["ChangeListener"]

_log = logging.getLogger(__name__)
_RECONNECT_DELAY = 1.0
_POLL = 0.5  # how often the listening thread looks whether it was closed


class ChangeListener:
    """One session ``LISTEN``ing on ``channel``; ``start`` returns once it listens."""

    def __init__(self, dsn: str, channel: str, deliver: Callable[[str | None], None]) -> None:
        self._dsn = dsn
        self._channel = channel
        self._deliver = deliver
        self._closed = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"listen {self._channel}", daemon=True)
            self._thread.start()
        # A change committed after this returns is told; one before it is already visible.
        if not self._listening.wait(timeout):
            _log.warning("not yet listening on %s at %s; caches may lag until it does",
                         self._channel, redact(self._dsn))

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        import psycopg

        while not self._closed.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5,
                                     application_name=f"tandem listen {self._channel}") as conn:
                    conn.execute(f"LISTEN {self._channel}")
                    self._deliver(None)  # what changed while no session listened is unknown
                    self._listening.set()
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=_POLL):
                            self._deliver(note.payload)
            except psycopg.Error as exc:
                _log.warning("listening on %s at %s failed: %s", self._channel,
                             redact(self._dsn), exc)
                self._closed.wait(_RECONNECT_DELAY)
            except Exception:  # noqa: BLE001 - a callback's error must not end the listening
                _log.exception("a change on %s could not be handled", self._channel)
                self._closed.wait(_RECONNECT_DELAY)
