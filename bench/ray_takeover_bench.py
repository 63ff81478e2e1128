"""Leader takeover with the Ray launcher: two real ``tandem serve --launcher ray://...
--store postgresql://...`` on the multihost tests' rig (tests/multihost/rig.py: a Ray head in
the root namespace, two emulated hosts each a Ray node; root only), an endpoint of two
instances (detached actors on the hosts), the leader SIGKILLed.

Run from the repository root, as root:

    .venv/bin/python -m bench.ray_takeover_bench [--rounds 5] [--postgres ADMIN_DSN]

Each round starts a standby, kills the leader at a random point of the standby's 0.5 s
campaign interval, and polls the standby every 10 ms: until it answers DescribeEndpoint (it
leads, has re-attached the actors and bound; a standby would have forwarded the call to the
dead leader and answered 503), then until it routes its first invocation as the leader. The
epoch row's timestamp (``leader.since``) says when it took the lock. Every round checks that
the actors are the same ones (no instance restarted). The standby of one round is the leader
of the next.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.leader_takeover_bench import _epoch_since, _reap, _row
from tests.balancer import one_attempt_client
from tests.e2e.support import deploy, stage_container, wait_status
from tests.multihost.rig import RayCluster, ray_cluster
from tests.postgres import ADMIN_DSN, scratch_database
from tests.server_process import ServerProcess

__all__ = ["main"]

ENDPOINT = "takeover"
REQUEST = json.dumps({"instances": [[1]]}).encode()


@dataclass
class Round:
    acquired: float  # seconds from the SIGKILL: the standby's epoch bump, as it took the lock
    described: float  # the new leader answers DescribeEndpoint itself
    routed: float  # and routes its first invocation


def _server(rig: RayCluster, data: Path, dsn: str) -> ServerProcess:
    # ml.m5.large asks 2 vCPUs; a rig host has 2: half places two instances per host.
    flags = ["--host", rig.network.gateway, "--launcher", f"ray://{rig.gcs_address}",
             "--ray-resource-scale", "0.5", "--store", dsn]  # fmt: skip
    return ServerProcess(data, extra=flags, env={**os.environ, **rig.driver_env()})


def _actors(rig: RayCluster) -> list[str]:
    names = rig.run_driver(
        "result = sorted(a['name'] for a in ray.util.list_named_actors(all_namespaces=True)"
        " if a['namespace'] == 'tandem')"
    )
    assert isinstance(names, list)
    return names


def _until(call: Any) -> float:
    """Call ``call`` every 10 ms until it does not raise; when it first did not."""
    deadline = time.monotonic() + 120
    while True:
        with contextlib.suppress(Exception):
            call()
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError("no answer within 120 s")
        time.sleep(0.01)


def _round(leader: ServerProcess, standby: ServerProcess, dsn: str) -> Round:
    sagemaker = one_attempt_client(standby.url, "sagemaker")
    runtime = one_attempt_client(standby.url, "sagemaker-runtime")
    time.sleep(1.0 + random.uniform(0, 0.5))
    killed_at = time.time()  # the database's clock is this machine's: comparable
    killed = time.monotonic()
    os.kill(leader.pid, signal.SIGKILL)
    described = _until(lambda: sagemaker.describe_endpoint(EndpointName=ENDPOINT))
    routed = _until(lambda: runtime.invoke_endpoint(
        EndpointName=ENDPOINT, Body=REQUEST, ContentType="application/json"))
    return Round(_epoch_since(dsn) - killed_at, described - killed, routed - killed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=ADMIN_DSN, metavar="ADMIN_DSN",
                        help="role with CREATEDB to make and drop the scratch database")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory() as tmp_, ray_cluster(2, Path(tmp_)) as rig, \
            scratch_database(args.postgres, prefix="tandem_bench") as dsn:  # fmt: skip
        tmp = Path(tmp_)
        leader = _server(rig, tmp / "first", dsn).start(timeout=120)
        standby: ServerProcess | None = None
        try:
            sagemaker = one_attempt_client(leader.url, "sagemaker")
            deploy(sagemaker, ENDPOINT, [stage_container("first"), stage_container("second")],
                   instances=2, wait=False)  # fmt: skip
            wait_status(sagemaker, ENDPOINT, "InService", timeout=300)
            actors = _actors(rig)
            assert len(actors) == 2, actors
            for n in range(args.rounds):
                standby = _server(rig, tmp / f"s{n}", dsn).start(timeout=120, standby=True)
                r = _round(leader, standby, dsn)
                print(f"round {n + 1}: lock taken {r.acquired * 1e3:.0f} ms, DescribeEndpoint "
                      f"{r.described * 1e3:.0f} ms, first routed invocation "
                      f"{r.routed * 1e3:.0f} ms after the SIGKILL", flush=True)
                rounds.append(r)
                _reap(leader)
                leader, standby = standby, None
                wait_status(one_attempt_client(leader.url, "sagemaker"), ENDPOINT, "InService",
                            timeout=120)  # fmt: skip
                assert _actors(rig) == actors, "an instance was restarted"
            one_attempt_client(leader.url, "sagemaker").delete_endpoint(EndpointName=ENDPOINT)
            deadline = time.monotonic() + 120
            while _actors(rig) and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            for server in (standby, leader):
                if server is not None and server.proc is not None:
                    with contextlib.suppress(AssertionError):
                        server.stop(timeout=60)
            rig.run_driver(
                "result = [a['name'] for a in ray.util.list_named_actors(all_namespaces=True)"
                " if a['namespace'] == 'tandem']\n"
                "for name in result:\n"
                "    ray.kill(ray.get_actor(name, namespace='tandem'), no_restart=True)\n"
            )
    print(f"\n# {len(rounds)} rounds, load average at the end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; ms after the leader's SIGKILL\n")
    print("| until | p50 | max | each round |\n|---|---|---|---|")
    print(_row("the standby takes the lock (its epoch bump)", [r.acquired for r in rounds]))
    print(_row("it answers DescribeEndpoint as the leader", [r.described for r in rounds]))
    print(_row("it routes its first invocation as the leader", [r.routed for r in rounds]))


if __name__ == "__main__":
    main()
