"""Is tandem's OverheadLatency honest? A precise c=1 client against a fresh endpoint.

The client (a raw socket, one keep-alive connection, ``perf_counter_ns`` right around
sending the prebuilt request and receiving the whole response) records every request's
latency. tandem's own metrics for the same requests (the endpoint serves nothing else)
then give ContainerLatency per container and OverheadLatency. The derived overhead, median
client latency minus the sum of the containers' median ContainerLatency, must agree with
OverheadLatency p50 within 10 %.
"""

from __future__ import annotations

import dataclasses
import socket
import statistics
import time
import urllib.parse
from pathlib import Path

from .load import PAYLOAD
from .tandem_system import deploy, read_statistics

__all__ = ["HonestyResult", "check_overhead"]

_ENDPOINT = "bench-honesty"


@dataclasses.dataclass(frozen=True)
class HonestyResult:
    requests: int
    client_p50_us: float
    container_p50_us: tuple[float, ...]
    model_p50_us: float
    overhead_p50_us: float
    overhead_p99_us: float
    source: str

    @property
    def derived_overhead_us(self) -> float:
        return self.client_p50_us - sum(self.container_p50_us)

    @property
    def disagreement(self) -> float:
        """|derived - reported| / reported at p50."""
        return abs(self.derived_overhead_us - self.overhead_p50_us) / self.overhead_p50_us


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[int, bytearray]:
    """Read one HTTP/1.1 response with a Content-Length; returns status and leftover bytes."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        buf += sock.recv(65536)
    head = bytes(buf[:end]).lower()
    status = int(head[9:12])
    at = head.find(b"\r\ncontent-length:")
    length = int(head[at + 17:head.find(b"\r\n", at + 2)]) if at >= 0 else 0
    total = end + 4 + length
    while len(buf) < total:
        buf += sock.recv(65536)
    return status, buf[total:]


def _client_latencies(url: str, count: int) -> list[float]:
    """One keep-alive connection, the request prebuilt as bytes, the clock read right before
    sendall and right after the last byte of the response: as little client in the window
    as Python allows (http.client's header parsing alone costs tens of microseconds)."""
    parts = urllib.parse.urlsplit(url)
    request = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(PAYLOAD)}\r\n\r\n"
               ).encode() + PAYLOAD
    latencies = []
    perf = time.perf_counter_ns
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        for _ in range(count):
            t0 = perf()
            sock.sendall(request)
            status, buf = _read_response(sock, buf)
            t1 = perf()
            if status != 200:
                raise RuntimeError(f"honesty client got {status}")
            latencies.append((t1 - t0) / 1e3)
    return latencies


def check_overhead(server_url: str, data_dir: Path, containers: list[dict[str, object]],
                   requests: int) -> HonestyResult:
    deploy(server_url, _ENDPOINT, containers)
    url = f"{server_url}/endpoints/{_ENDPOINT}/invocations"
    # No separate warm-up: it would count in the endpoint's metrics too. Every request is
    # kept, so each metric sample has its client-side twin.
    started = time.time()
    latencies = _client_latencies(url, requests)
    ended = time.time()
    time.sleep(2.5)  # two flushes of the in-memory minute buckets (1 s interval)
    overhead, source = read_statistics(server_url, data_dir, _ENDPOINT, "OverheadLatency",
                                       started, ended)
    model, _ = read_statistics(server_url, data_dir, _ENDPOINT, "ModelLatency", started, ended)
    per_container = [
        read_statistics(server_url, data_dir, _ENDPOINT, "ContainerLatency", started, ended,
                        container=str(c["ContainerHostname"]))[0]["p50"]
        for c in containers
    ]
    if int(overhead["count"]) != len(latencies):
        raise RuntimeError(f"tandem counted {overhead['count']} requests, the client sent "
                           f"{len(latencies)}")
    return HonestyResult(len(latencies), statistics.median(latencies), tuple(per_container),
                         model["p50"], overhead["p50"], overhead["p99"], source)
