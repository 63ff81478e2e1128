"""Regenerate docs/screenshots/: the wine pipeline under real traffic for a few minutes, then
Debian's Chromium (through Python's playwright) walks the dashboard. Not a test; run by hand:

    .venv/bin/python -m tests.dashboard.screenshots --minutes 6

With ``--review DIR`` it also deploys a pipeline with names as long as SageMaker allows (the
endpoint, variant and container hostnames) and puts six- and seven-digit latencies, then
writes every page at 1440 and 1024 px wide into DIR, to look at before a dashboard change.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from examples.wine_pipeline import samples as wine_samples
from examples.wine_pipeline.train import ARTIFACTS_DIR, train
from tests.dashboard.browser import chromium
from tests.e2e.support import client, deploy, stage_container, wait_status
from tests.server_process import ServerProcess

REPO = Path(__file__).resolve().parents[2]
ENDPOINT = "wine-pipeline"
# SageMaker's longest names: 63 characters for an endpoint, a variant and a container hostname.
LONG_ENDPOINT = "fraud-scoring-pipeline-eu-west-1-production-canary-2026-12-0007"
LONG_VARIANT = "ExperimentalGradientBoostedVariantWithCalibratedProbabilities01"
LONG_CONTAINERS = (
    "feature-preprocessing-with-standard-scaler-and-one-hot-encoding",
    "gradient-boosted-trees-model-server-with-calibrated-probability",
    "postprocessing-label-decoder-and-business-rules-for-thresholds",
)
BIG_METRIC = "RequestMicroseconds"
QUIET = 'localStorage.setItem("tandem.dashboard", JSON.stringify({ range: 900, refresh: 0 }));'


def _traffic(server: ServerProcess, minutes: float, review: bool) -> None:
    runtime = client(server, "sagemaker-runtime")
    samples = wine_samples.load_samples()
    good = [s for s in samples if s.ok]
    bad = [s for s in samples if not s.ok]
    rng = random.Random(7)
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < minutes * 60:
        # A rate that rises and falls, with a bad request now and then.
        rate = 6 + 5 * math.sin(elapsed / 40)
        sample = rng.choice(bad) if rng.random() < 0.06 else rng.choice(good)
        try:
            runtime.invoke_endpoint(
                EndpointName=ENDPOINT,
                Body=sample.body,
                ContentType=sample.content_type,
                Accept="application/json",
            )
            if review and sent % 3 == 0:
                runtime.invoke_endpoint(
                    EndpointName=LONG_ENDPOINT,
                    Body=b'{"instances": [[1, 2]], "print": 1}',
                    ContentType="application/json",
                )
        except runtime.exceptions.ModelError:
            pass
        sent += 1
        time.sleep(1 / rate)
    print(f"sent {sent} requests over {minutes} minutes")


def _deploy_long_names(server: ServerProcess) -> None:
    deploy(
        client(server, "sagemaker"),
        LONG_ENDPOINT,
        [stage_container(name) for name in LONG_CONTAINERS],
        variants=[
            {
                "VariantName": LONG_VARIANT,
                "ModelName": LONG_ENDPOINT,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    end = (int(time.time()) // 60) * 60
    client(server, "cloudwatch").put_metric_data(
        Namespace="Review/Dashboard",
        MetricData=[
            {
                "MetricName": BIG_METRIC,
                "Dimensions": [{"Name": "EndpointName", "Value": LONG_ENDPOINT}],
                "Timestamp": datetime.fromtimestamp(end - 60 * k, UTC),
                "Value": 120_000.0 + 41_000 * k,
                "Unit": "Microseconds",
            }
            for k in range(60)
        ],
    )


def _pages(
    endpoint: str, variant: str = "AllTraffic", pattern: str = "?error ?Traceback ?ERROR"
) -> list[tuple[str, str, str, bool]]:
    """(name, hash, what to wait for, full page) for each page of the dashboard."""
    dims = f'[["EndpointName","{endpoint}"],["VariantName","{variant}"]]'
    metrics = urlencode({"namespace": "AWS/SageMaker", "metric": "ModelLatency", "dims": dims,
                         "stat": "p99", "period": "60"})
    logs = urlencode({"group": f"/aws/sagemaker/Endpoints/{endpoint}", "pattern": pattern})
    return [
        ("endpoints", "#/endpoints", f'tr[data-endpoint="{endpoint}"]', False),
        ("endpoint", f"#/endpoints/{endpoint}", 'figure[data-chart="DiskUtilization"]', True),
        ("metrics", f"#/metrics?{metrics}", 'figure[data-chart="ModelLatency"]', True),
        ("logs", f"#/logs?{logs}", '[data-testid="log-list"] .log-row', False),
        ("jobs", "#/jobs", "main h1", False),
    ]


def _shoot(browser: Any, base: str, out: Path, width: int, pages: list[Any], suffix: str) -> None:
    context = browser.new_context(viewport={"width": width, "height": 960})
    context.add_init_script(script=QUIET)
    page = context.new_page()
    for name, fragment, ready, full in pages:
        page.goto(f"{base}/dashboard/{fragment}")
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=out / f"{name}{suffix}.png", full_page=full)
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--review", type=Path, default=None)
    args = parser.parse_args()
    if not (ARTIFACTS_DIR / "model" / "model.tar.gz").exists():
        train(ARTIFACTS_DIR)
    server = ServerProcess(Path(tempfile.mkdtemp(prefix="tandem-shots-"))).start()
    try:
        subprocess.run(
            [sys.executable, "-m", "tandem", "deploy",
             str(REPO / "examples" / "wine_pipeline" / "endpoint.yaml"), "--wait",
             "--url", server.url],
            check=True,
            cwd=REPO,
        )
        wait_status(client(server, "sagemaker"), ENDPOINT, "InService")
        if args.review:
            _deploy_long_names(server)
        _traffic(server, args.minutes, review=args.review is not None)
        time.sleep(2)  # one metrics flush
        args.out.mkdir(parents=True, exist_ok=True)
        with chromium() as browser:
            _shoot(browser, server.url, args.out, 1440, _pages(ENDPOINT), "")
            if args.review:
                args.review.mkdir(parents=True, exist_ok=True)
                review = _pages(LONG_ENDPOINT, LONG_VARIANT, pattern="")
                dims = f'[["EndpointName","{LONG_ENDPOINT}"]]'
                query = urlencode({"namespace": "Review/Dashboard", "metric": BIG_METRIC,
                                   "dims": dims, "stat": "Maximum", "period": "60"})
                ready = f'figure[data-chart="{BIG_METRIC}"]'
                review.append(("explorer-big", f"#/metrics?{query}", ready, True))
                for width in (1440, 1024):
                    _shoot(browser, server.url, args.review, width, review, f"-{width}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
