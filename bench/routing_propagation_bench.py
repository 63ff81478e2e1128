"""How long a change made through the leader takes to reach another router's snapshot.

Run: ``.venv/bin/python -m bench.routing_propagation_bench`` (``--changes`` to scale; ``--dsn``
or ``TANDEM_BENCH_POSTGRES`` for the server, by default the test role on 127.0.0.1:5432; a
scratch database is made and dropped).

A real ``tandem serve --store postgresql://...`` (the leader) runs a one-container endpoint;
in this process a Router kept by a RoutingFollower on the same database (its full resync set
to 60 s, so only LISTEN/NOTIFY carries the changes) follows it. Each change is an
UpdateEndpointWeightsAndCapacities through the leader's API with a new weight; the figure is the
time from the call's answer to the follower's snapshot routing the new weight (the leader's
status write, the NOTIFY, the follower's reread and republish), sampled every 0.5 ms. Issue 18's
bound: 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.pg_log_store_bench import DEFAULT_DSN, _scratch_database
from tandem.clock import SystemClock
from tandem.serving.router import Router
from tandem.serving.routing_follower import RoutingFollower
from tandem.store.postgres import PostgresCatalogFeed, PostgresCatalogStore, PostgresDatabase
from tandem.telemetry.metrics import MetricRegistry
from tests.e2e.support import client, deploy, stage_container, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess


async def _measure(dsn: str, data_dir: Path, changes: int) -> list[float]:
    leader = ServerProcess(data_dir, extra=[*FAST_FLAGS, "--store", dsn])
    await asyncio.to_thread(leader.start)
    database = PostgresDatabase(dsn, max_size=2)
    router = Router(MetricRegistry(SystemClock()), account_id="000000000000", region="us-east-1")
    follower = RoutingFollower(PostgresCatalogStore(database), PostgresCatalogFeed(dsn), router,
                               resync_interval=60)  # fmt: skip
    try:
        sagemaker = client(leader, "sagemaker")
        await asyncio.to_thread(deploy, sagemaker, "bench", [stage_container("only")])
        await follower.start()
        samples = []
        for n in range(changes):
            weight = float(n % 7 + 1) + 0.5
            await asyncio.to_thread(
                sagemaker.update_endpoint_weights_and_capacities, EndpointName="bench",
                DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic",
                                              "DesiredWeight": weight}])  # fmt: skip
            since = time.monotonic()
            while True:
                snapshot = router.endpoint("bench")
                if snapshot is not None and snapshot.variants[0].weight == weight:
                    break
                if time.monotonic() - since > 10:
                    raise SystemExit(f"change {n} not seen after 10 s")
                await asyncio.sleep(0.0005)
            samples.append(time.monotonic() - since)
            await asyncio.to_thread(wait_status, sagemaker, "bench", "InService")
        return samples
    finally:
        await follower.stop()
        await router.close()
        database.close()
        await asyncio.to_thread(leader.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--dsn", default=os.environ.get("TANDEM_BENCH_POSTGRES", DEFAULT_DSN))
    args = parser.parse_args()
    with _scratch_database(args.dsn) as dsn, tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(_measure(dsn, Path(tmp) / "leader", args.changes))
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
    print(f"changes {len(ms)}: p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, "
          f"max {ms[-1]:.1f} ms, min {ms[0]:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
