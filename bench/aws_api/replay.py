"""boto3's own cost: record a server's raw responses, then replay them from a stub HTTP server.

A ``Recorder`` keeps every raw response a boto3 client receives (status, headers, body),
per operation and in call order. ``stub_server`` starts a child process that answers each
request with the next recorded response of that operation, cyclically, doing no work of its
own: the same boto3 calls against it cost only the client (serialising, signing, HTTP,
parsing). Shared by ``bench.aws_api`` and ``bench.cloudwatch_bench``.

The stub runs as ``python -m bench.aws_api.replay RECORDED.pickle``.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import pickle
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import botocore.model
from botocore.config import Config

__all__ = ["Recorder", "Recorded", "make_client", "run_stub", "stub_server", "timed"]

Recorded = dict[str, list[tuple[int, dict[str, str], bytes]]]

# Headers the stub sets itself, or that would lie about the replayed body (urllib3 has
# already decoded a gzip or chunked body by the time botocore sees it).
_DROPPED = ("content-length", "date", "server", "connection", "transfer-encoding",
            "content-encoding", "keep-alive")


def make_client(service: str, url: str, protocol: str | None = None) -> Any:
    """A boto3 client on ``url`` with dummy credentials, no retries, and ``protocol`` forced."""
    saved = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
    if protocol is not None:
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = (protocol,)
    try:
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        c = session.client(
            service, endpoint_url=url,
            config=Config(retries={"max_attempts": 1}, read_timeout=600),
        )
        if protocol is not None:
            assert c.meta.service_model.resolved_protocol == protocol
        return c
    finally:
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = saved


class Recorder:
    """Keeps every raw response (status, headers, body) per operation, in call order."""

    def __init__(self, *clients: Any) -> None:
        self.responses: Recorded = defaultdict(list)
        self.on = False
        for c in clients:
            c.meta.events.register("before-parse", self._keep)

    def _keep(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        if self.on:
            headers = {
                k: v for k, v in response_dict["headers"].items() if k.lower() not in _DROPPED
            }
            self.responses[operation_model.name].append(
                (response_dict["status_code"], headers, response_dict["body"])
            )

    def save(self, path: Path) -> Path:
        path.write_bytes(pickle.dumps(dict(self.responses)))
        return path


def _operation_of(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> str:
    target = handler.headers.get("X-Amz-Target")
    if target:
        return target.rpartition(".")[2]
    if "/operation/" in handler.path:
        return handler.path.rstrip("/").rsplit("/", 1)[1]
    if (handler.headers.get("Content-Encoding") or "").lower() == "gzip":
        body = gzip.decompress(body)
    return parse_qs(body.decode())["Action"][0]


def run_stub(recorded: Path) -> None:
    """Serve ``recorded`` (a pickled ``Recorded``) cyclically per operation, forever."""
    responses: Recorded = pickle.loads(recorded.read_bytes())
    position: dict[str, int] = defaultdict(int)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Without this, headers and body in two writes meet delayed ACKs (40 ms stalls).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            op = _operation_of(self, body)
            bodies = responses[op]
            status, headers, payload = bodies[position[op] % len(bodies)]
            position[op] += 1
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(f"stub on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


@contextlib.contextmanager
def stub_server(recorded: Path) -> Iterator[tuple[str, int]]:
    """A replaying stub (child process) for the duration of the block: yields (url, pid)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.aws_api.replay", str(recorded)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("stub on "):
            raise RuntimeError(f"stub did not start: {line!r}")
        yield line.split()[-1], proc.pid
    finally:
        proc.terminate()
        proc.wait()


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    """Seconds per call of ``fn``, ``n`` calls in a row."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


if __name__ == "__main__":
    run_stub(Path(sys.argv[1]))
