"""Regenerate docs/screenshots/: the wine pipeline under real traffic for a few minutes, then
Chromium walks the dashboard (screenshots.cjs). Not a test; run by hand:

    .venv/bin/python -m tests.dashboard.screenshots --minutes 6
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from examples.wine_pipeline import samples as wine_samples
from examples.wine_pipeline.train import ARTIFACTS_DIR, train
from tests.e2e.support import client, wait_status
from tests.server_process import ServerProcess

REPO = Path(__file__).resolve().parents[2]
ENDPOINT = "wine-pipeline"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    if not (ARTIFACTS_DIR / "model" / "model.tar.gz").exists():
        train(ARTIFACTS_DIR)
    server = ServerProcess(Path(tempfile.mkdtemp(prefix="tandem-shots-"))).start()
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tandem",
                "deploy",
                str(REPO / "examples" / "wine_pipeline" / "endpoint.yaml"),
                "--wait",
                "--url",
                server.url,
            ],
            check=True,
            cwd=REPO,
        )
        wait_status(client(server, "sagemaker"), ENDPOINT, "InService")
        runtime = client(server, "sagemaker-runtime")
        samples = wine_samples.load_samples()
        good = [s for s in samples if s.ok]
        bad = [s for s in samples if not s.ok]
        rng = random.Random(7)
        start = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - start) < args.minutes * 60:
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
            except runtime.exceptions.ModelError:
                pass
            sent += 1
            time.sleep(1 / rate)
        print(f"sent {sent} requests over {args.minutes} minutes")
        time.sleep(2)
        args.out.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "node",
                str(Path(__file__).with_name("screenshots.cjs")),
                server.url,
                str(args.out),
                ENDPOINT,
            ],
            check=True,
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
