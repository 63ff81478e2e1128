"""The README's first command: serve the example pipeline, send traffic, show metrics and logs.

Runs exactly what a user would: ``tandem serve`` in the background, ``tandem deploy`` of the
wine pipeline, boto3's sagemaker-runtime for traffic (good requests and bad ones), then
``tandem metrics endpoint`` for the per-container latency table and ``tandem logs`` for the
log streams. ``--keep-serving`` leaves the server running afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

from examples.wine_pipeline import samples as wine_samples
from examples.wine_pipeline.train import ARTIFACTS_DIR, train

ROOT = Path(__file__).resolve().parent.parent
ENDPOINT = "wine-pipeline"


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]


def _tandem(*args: str, check: bool = True) -> None:
    print(f"\n$ tandem {' '.join(args)}", flush=True)
    # Tables are wider than 80 columns; a terminal reports its own width, a pipe does not.
    env = None if sys.stdout.isatty() else {**os.environ, "COLUMNS": "120"}
    result = subprocess.run([sys.executable, "-m", "tandem", *args], cwd=ROOT, env=env)
    if check and result.returncode != 0:
        raise SystemExit(f"tandem {args[0]} failed with exit code {result.returncode}")


def _wait_for_server(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("tandem serve exited; see .tandem/demo/server.log")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("tandem serve did not answer in time; see .tandem/demo/server.log")


def send_traffic(url: str, requests: int) -> tuple[int, int]:
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
        config=Config(retries={"max_attempts": 1}),
    )
    all_samples = wine_samples.load_samples()
    good = [s for s in all_samples if s.ok]
    bad = [s for s in all_samples if not s.ok]
    ok = errors = 0
    rng = random.Random(7)
    for i in range(requests):
        # About one request in twelve is a bad one, so the error metrics have something to show.
        sample = rng.choice(bad) if i % 12 == 11 else rng.choice(good)
        try:
            runtime.invoke_endpoint(
                EndpointName=ENDPOINT,
                Body=sample.body,
                ContentType=sample.content_type,
                Accept="application/json",
            )
            ok += 1
        except runtime.exceptions.ModelError as exc:
            errors += 1
            if errors == 1:
                print(
                    f"  a bad request ({sample.name}) got ModelError: "
                    f"OriginalStatusCode {exc.response['OriginalStatusCode']}"
                )
    example = good[0]
    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT,
        Body=example.body,
        ContentType=example.content_type,
        Accept="application/json",
    )
    print(f"  {example.name} -> {response['Body'].read().decode()[:200]}")
    return ok, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--keep-serving", action="store_true")
    args = parser.parse_args()

    if not (ARTIFACTS_DIR / "model" / "model.tar.gz").exists():
        print("training the example pipeline's models (wine data shipped with scikit-learn)")
        train(ARTIFACTS_DIR)
    data_dir = ROOT / ".tandem" / "demo"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    port = _free_port(args.port)
    url = f"http://127.0.0.1:{port}"
    print(f"$ tandem serve --port {port} --data-dir {data_dir.relative_to(ROOT)} &")
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tandem",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--metrics-flush-interval",
            "1",
            "--usage-interval",
            "2",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_server(url, server)
        _tandem("deploy", "examples/wine_pipeline/endpoint.yaml", "--wait", "--url", url)
        print(f"\nsending {args.requests} requests with boto3's sagemaker-runtime client")
        ok, errors = send_traffic(url, args.requests)
        print(f"  {ok} succeeded, {errors} answered with ModelError (bad input, by design)")
        time.sleep(2.5)  # one metrics flush interval, and the usage sampler's first samples
        _tandem("metrics", "endpoint", ENDPOINT, "--since", "15m", "--url", url)
        _tandem(
            "metrics",
            "get",
            "/aws/sagemaker/Endpoints",
            "CPUUtilization",
            "-d",
            f"EndpointName={ENDPOINT}",
            "-d",
            "VariantName=AllTraffic",
            "--since",
            "15m",
            "--url",
            url,
        )
        group = f"/aws/sagemaker/Endpoints/{ENDPOINT}"
        _tandem("logs", "streams", group, "--url", url)
        _tandem("logs", "filter", group, "?rejected ?Traceback", "--limit", "5", "--url", url)
        if args.keep_serving:
            print(f"\ntandem is serving on {url} (Ctrl-C to stop)")
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(60)
        log.close()


if __name__ == "__main__":
    main()
