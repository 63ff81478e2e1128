"""A load balancer in front of several ``tandem serve`` processes, and steady traffic through
it: Debian's haproxy health-checking ``GET /ping`` of each server, and client threads that
record every invocation's outcome, so a test can tell exactly which requests a killed server
failed."""

from __future__ import annotations

import csv
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.waiting import wait_until

__all__ = ["Haproxy", "Outcome", "free_port", "in_flight", "invoke", "load", "one_attempt_client"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Haproxy:
    """haproxy in the foreground (``-db``) as a child process, balancing round robin over the
    servers; its stats socket says which of them its health checks see up."""

    def __init__(self, workdir: Path, servers: dict[str, str]) -> None:
        self.port = free_port()
        self.socket_path = workdir / "haproxy.sock"
        self.config_path = workdir / "haproxy.cfg"
        backends = "\n".join(
            f"    server {name} {url.removeprefix('http://')}" for name, url in servers.items())
        # retries/redispatch move only a connection that was refused (a server dead before
        # its check says so) to another server: haproxy's default retry-on is connect-failure,
        # so a request already sent to a server that dies is not resent and still fails.
        self.config_path.write_text(f"""\
global
    maxconn 1000
    stats socket {self.socket_path} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    retries 2
    option redispatch 1

frontend balancer
    bind 127.0.0.1:{self.port}
    default_backend tandem

backend tandem
    balance roundrobin
    option httpchk GET /ping
    http-check expect status 200
    http-response set-header X-Served-By %s
    default-server check inter 100ms fastinter 100ms downinter 100ms fall 2 rise 1
{backends}
""")
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, executable: str) -> Haproxy:
        self.proc = subprocess.Popen(
            [executable, "-db", "-f", str(self.config_path)], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
        threading.Thread(target=self._pump, daemon=True).start()
        wait_until(lambda: self.proc is not None and (self.proc.poll() is not None
                                                      or self.socket_path.exists()),
                   "haproxy's stats socket")  # fmt: skip
        assert self.proc.poll() is None, "haproxy exited:\n" + "".join(self.output)
        return self

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def states(self) -> dict[str, str]:
        """Each server's status as haproxy sees it: UP, DOWN, "UP 1/2" (going down), ..."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.socket_path))
            sock.sendall(b"show stat\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        lines = b"".join(chunks).decode().lstrip("# ").splitlines()
        rows = csv.DictReader(line for line in lines if line)
        return {row["svname"]: row["status"] for row in rows
                if row["pxname"] == "tandem" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def one_attempt_client(url: str, service: str) -> Any:
    # One attempt: botocore's retries (max_attempts counts retries) would hide a failure.
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=30, connect_timeout=5,
                      max_pool_connections=2))  # fmt: skip


def invoke(runtime: Any, endpoint: str, body: bytes) -> tuple[bytes, str]:
    """The answer's body and the server haproxy sent the request to ("" when direct)."""
    response = runtime.invoke_endpoint(EndpointName=endpoint, Body=body,
                                       ContentType="application/json",
                                       Accept="application/json")  # fmt: skip
    return response["Body"].read(), response["ResponseMetadata"]["HTTPHeaders"].get(
        "x-served-by", "")


@dataclass
class Outcome:
    started: float  # time.monotonic()
    finished: float
    body: bytes | None  # None: failed
    served_by: str
    error: str = ""


def load(url: str, endpoint: str, body: bytes, more: Callable[[], bool],
         clients: int) -> list[Outcome]:  # fmt: skip
    """``clients`` threads invoking ``endpoint`` with ``body`` through ``url`` while ``more()``
    says so, one request at a time each."""

    def one_client() -> list[Outcome]:
        runtime = one_attempt_client(url, "sagemaker-runtime")
        outcomes = []
        while more():
            started = time.monotonic()
            try:
                answer, served_by = invoke(runtime, endpoint, body)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, whatever its kind
                outcomes.append(Outcome(started, time.monotonic(), None, "", repr(exc)))
            else:
                outcomes.append(Outcome(started, time.monotonic(), answer, served_by))
        return outcomes

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(one_client) for _ in range(clients)]
        return [outcome for future in futures for outcome in future.result()]


def in_flight(outcomes: list[Outcome], killed: float, reaped: float) -> list[Outcome]:
    """The requests that may have been in flight on a server SIGKILLed at ``killed`` and
    reaped at ``reaped``: sent before it was gone (its sockets close as it dies, some ms after
    the signal), and not answered before the signal."""
    return [o for o in outcomes if o.started <= reaped and o.finished >= killed]
