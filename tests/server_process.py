"""Start a real ``tandem serve`` on 127.0.0.1 port 0 as a child process, for tier-(c) tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from tandem.eventloop import STALL_MESSAGE
from tests.server_thread import STALL_THRESHOLD

__all__ = ["ServerProcess", "FAST_FLAGS"]

# Short intervals so tests see health changes and metrics quickly; a patient /ping timeout,
# so a loaded machine's slow answer never gets a healthy instance replaced (the tests that
# replace one make its /ping answer 500 or kill a container).
FAST_FLAGS = (
    "--ping-interval",
    "0.3",
    "--ping-timeout",
    "5",
    "--usage-interval",
    "1",
    "--metrics-flush-interval",
    "0.5",
    "--logs-flush-interval",
    "0.2",
    "--stop-grace-period",
    "2",
    "--health-check-timeout",
    "20",
    "--invocation-timeout",
    "3",
)

_LISTENING = re.compile(r"tandem serving on (http://\S+)")
_STANDING_BY = re.compile(r"standby: routing InvokeEndpoint on (http://\S+)")


class ServerProcess:
    def __init__(
        self,
        data_dir: Path,
        extra: Sequence[str] = FAST_FLAGS,
        env: dict[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port  # 0: any free one; a restart may name the one it had
        self.extra = list(extra)
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self, timeout: float = 30.0, *, standby: bool = False) -> ServerProcess:
        """Start it; return once it serves in full (it leads its store). ``standby``: once it
        serves at all, as a standby of a shared store too; ``url`` is that address, which it
        keeps should it lead."""
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("TANDEM_LOOP_STALL_WARNING", str(STALL_THRESHOLD))
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tandem",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        found = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                match = _LISTENING.search(line) or (standby and _STANDING_BY.search(line))
                if match and not found.is_set():
                    self.url = match.group(1)
                    found.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tandem serve did not start:\n" + "".join(self.output))
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()
        return self.proc.returncode

    def _close(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        self._pump.join(5)
        self.proc.stdout.close()
        self.check_loop_stalls()

    def check_loop_stalls(self) -> None:
        """Fail (AssertionError) if the server reported its event loop blocked."""
        stalls = [line for line in self.output if STALL_MESSAGE in line]
        if stalls:
            at = self.output.index(stalls[0])
            raise AssertionError(
                "the server's event loop was blocked:\n" + "".join(self.output[at : at + 40])
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self._close()
