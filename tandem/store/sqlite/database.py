"""One SQLite database file with one writer.

A thread owns the write connection and is fed by a queue; it drains whatever
is queued into one transaction (each task in its own savepoint, so one failing
task does not undo the others) and resolves each task's future after COMMIT.
Readers use their own connection per thread. Nothing here runs on an event
loop: coroutines ``await asyncio.wrap_future(db.submit(fn))``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["Database", "Migration", "bindable"]

T = TypeVar("T")
Migration = str | Callable[[sqlite3.Connection], None]

_log = logging.getLogger(__name__)
_STOP = object()
_MAX_BATCH = 512


def bindable(text: str) -> bool:
    """Whether SQLite can bind ``text``: a lone surrogate (JSON can carry one) is not UTF-8,
    and no stored name or message holds one, so a filter with it matches nothing."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


READER_MMAP_BYTES = 1 << 30  # address space, not memory: pages load as they are touched


class Database:
    """A SQLite file in WAL mode with a single writer thread and per-thread readers."""

    def __init__(
        self, path: str | Path, *, name: str | None = None, page_size: int | None = None
    ) -> None:
        self.path = Path(path)
        self.page_size = page_size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.name = name or self.path.stem
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._writer = threading.Thread(
            target=self._run_writer, args=(ready,), name=f"sqlite-writer-{self.name}", daemon=True
        )
        self._writer.start()
        ready.result()

    # -- connections -------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        if self.page_size is not None:
            # Takes effect only when the file is new (before WAL mode): an existing file keeps
            # the page size it was made with.
            conn.execute(f"PRAGMA page_size={int(self.page_size)}")
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process kill (the WAL is in the page cache);
        # only an OS crash can lose the last transactions.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            # Readers map the file: a page read is a memory access, not a read() into the
            # connection's own cache (which each reader thread would fill separately).
            conn.execute(f"PRAGMA mmap_size={READER_MMAP_BYTES}")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    # -- the writer --------------------------------------------------------

    def _run_writer(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # noqa: BLE001 - reported to the constructor
            ready.set_exception(exc)
            return
        ready.set_result(None)
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            stop_after = False
            while len(batch) < _MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop_after = True
                    break
                batch.append(nxt)
            self._run_batch(conn, batch)
            if stop_after:
                break
        conn.close()

    def _run_batch(
        self,
        conn: sqlite3.Connection,
        batch: list[tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future[Any]]],
    ) -> None:
        results: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, fut in batch:
                if not fut.set_running_or_notify_cancel():
                    continue
                conn.execute("SAVEPOINT task")
                try:
                    value = fn(conn)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
                    conn.execute("ROLLBACK TO task")
                    conn.execute("RELEASE task")
                    results.append((fut, None, exc))
                else:
                    conn.execute("RELEASE task")
                    results.append((fut, value, None))
            conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - the whole batch failed to commit
            _log.exception("sqlite batch on %s failed", self.path)
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            for _fn, fut in batch:
                if not fut.done():
                    if fut.running():
                        fut.set_exception(exc)
                    else:
                        fut.cancel()
            return
        for fut, value, error in results:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(value)

    # -- public API --------------------------------------------------------

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        """Queue ``fn(conn)`` for the writer; the future resolves after its transaction commits."""
        if self._closed:
            raise RuntimeError(f"database {self.path} is closed")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((fn, fut))
        return fut

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the writer and wait for the commit. Never call from an event loop."""
        return self.submit(fn).result()

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on this thread's read connection, in one read transaction."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    def migrate(self, component: str, migrations: Sequence[Migration]) -> int:
        """Bring ``component``'s schema up to ``len(migrations)``; returns the version now in force.

        Each component keeps its own version, so subsystems evolve their tables
        independently. Migrations are append-only: never edit a released one.
        """

        def run(conn: sqlite3.Connection) -> int:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = conn.execute(
                "SELECT version FROM schema_version WHERE component = ?", (component,)
            ).fetchone()
            current = row[0] if row else 0
            if current > len(migrations):
                raise RuntimeError(
                    f"{self.path}: schema of {component!r} is version {current}, newer than this "
                    f"tandem knows ({len(migrations)}); upgrade tandem"
                )
            for version in range(current + 1, len(migrations) + 1):
                step = migrations[version - 1]
                if callable(step):
                    step(conn)
                else:
                    for statement in _split_sql(step):
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, version),
                )
            return len(migrations)

        return self.write(run)

    def close(self) -> None:
        """Finish queued writes, then close every connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._writer.join()
        with self._readers_lock:
            for conn in self._readers:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._readers.clear()


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement decides the ends)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
