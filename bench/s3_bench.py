"""PutObject and GetObject throughput through boto3: tandem's S3 beside moto's server mode,
in one run, calls alternating between the two so machine noise hits both alike.

    .venv/bin/python -m bench.s3_bench            # 1 MB x 30 and 100 MB x 3 per server
    .venv/bin/python -m bench.s3_bench --quick    # 1 MB x 10 and 100 MB x 1

Both servers run as child processes on 127.0.0.1; the client is boto3 with its defaults
(flexible checksums on, as users have them). Prints a Markdown table of MB/s (median).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.api.differential.moto_server import MotoServer
from tests.server_process import ServerProcess

MB = 1_000_000


def _client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}),
    )


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    plan = [(1, 10), (100, 1)] if args.quick else [(1, 30), (100, 3)]
    with tempfile.TemporaryDirectory() as tmp:
        tandem = ServerProcess(Path(tmp) / "tandem", extra=[]).start()
        moto = MotoServer().start()
        try:
            clients = {"tandem": _client(tandem.url), "moto": _client(moto.url)}
            for client in clients.values():
                client.create_bucket(Bucket="bench")
            rows = []
            for size_mb, repeats in plan:
                body = os.urandom(size_mb * MB)
                times: dict[tuple[str, str], list[float]] = {}
                for i in range(repeats):
                    order = list(clients.items())
                    if i % 2:
                        order.reverse()
                    for name, c in order:
                        key = f"obj-{size_mb}-{i}"
                        times.setdefault((name, "put"), []).append(
                            _timed(lambda c=c, key=key, body=body: c.put_object(
                                Bucket="bench", Key=key, Body=body)))
                        got: list[bytes] = []
                        times.setdefault((name, "get"), []).append(
                            _timed(lambda c=c, key=key, got=got: got.append(c.get_object(
                                Bucket="bench", Key=key)["Body"].read())))
                        assert got[0] == body
                for op in ("put", "get"):
                    t_tandem = statistics.median(times[("tandem", op)])
                    t_moto = statistics.median(times[("moto", op)])
                    rows.append((
                        f"{'PutObject' if op == 'put' else 'GetObject'} {size_mb} MB",
                        repeats, size_mb / t_tandem, size_mb / t_moto,
                    ))
        finally:
            tandem.stop()
            moto.stop()
    print(f"load average at end: {os.getloadavg()}")
    print("| call | repeats | tandem MB/s | moto MB/s | tandem / moto |")
    print("|---|---|---|---|---|")
    for call, repeats, a, b in rows:
        print(f"| {call} | {repeats} | {a:.1f} | {b:.1f} | {a / b:.2f}x |")


if __name__ == "__main__":
    main()
