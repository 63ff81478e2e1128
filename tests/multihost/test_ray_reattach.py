"""`tandem serve --launcher ray://HEAD` restarted (SIGKILL, then SIGTERM) re-attaches to its
running actors: same instance ids, the same container processes, requests answered again."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.support import client, deploy, stage_container, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess

from .netns import processes_in
from .rig import RayCluster
from .test_ray_launcher import (
    ENDPOINT,
    _actor_names,
    _complete,
    _invoke,
    _keys,
    _stage_processes,
    _until,
    kill_actors,
)


def _server(rig: RayCluster, tmp_path: Path, port: int = 0) -> ServerProcess:
    flags = [*FAST_FLAGS, "--host", rig.network.gateway, "--launcher", f"ray://{rig.gcs_address}",
             "--ray-resource-scale", "0.5", "--auth", str(_keys(tmp_path))]  # fmt: skip
    return ServerProcess(tmp_path / "data", extra=flags, env={**os.environ, **rig.driver_env()},
                         port=port)  # fmt: skip


def _in_service_with_two(sagemaker: object) -> bool:
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)  # type: ignore[attr-defined]
    return bool(described["EndpointStatus"] == "InService"
                and described["ProductionVariants"][0]["CurrentInstanceCount"] == 2)  # fmt: skip


def test_a_restarted_server_reattaches_to_its_actors_without_restarting_containers(
    multihost_rig: RayCluster, tmp_path: Path
) -> None:
    rig = multihost_rig
    server = _server(rig, tmp_path).start(timeout=60)
    try:
        sagemaker = client(server, "sagemaker")
        deploy(sagemaker, ENDPOINT, [stage_container("first"), stage_container("second")],
               instances=2, wait=False)  # fmt: skip
        wait_status(sagemaker, ENDPOINT, "InService", timeout=180)
        placed = _until("both instances' startup lines", lambda: _complete(client(
            server, "logs"), 2))  # fmt: skip
        pids = sorted(pid for containers in placed.values() for _, pid, _ in containers.values())
        in_hosts = sorted(p for h in rig.hosts for p in processes_in(h.namespace) if p in pids)
        assert len(pids) == 4 and in_hosts == pids
        actors = sorted(f"tandem/{ENDPOINT}/AllTraffic/{iid}" for iid in placed)
        assert _actor_names(rig) == actors
        port = int(server.url.rsplit(":", 1)[1])

        for how in ("SIGKILL", "SIGTERM"):
            if how == "SIGKILL":
                server.kill()
            else:
                assert server.stop(timeout=60) == 0
            # Nothing stopped while no server runs.
            assert _actor_names(rig) == actors
            assert sorted(_stage_processes(rig)) == pids
            server = _server(rig, tmp_path, port).start(timeout=60)
            sagemaker = client(server, "sagemaker")
            runtime = client(server, "sagemaker-runtime")
            _until(f"InService with 2 instances after {how}",
                   lambda s=sagemaker: _in_service_with_two(s), timeout=60)  # fmt: skip
            assert _invoke(runtime, 20) == [[[i + 2]] for i in range(20)]
            assert sorted(server_instance_ids(client(server, "logs"))) == sorted(placed)
            assert _actor_names(rig) == actors
            assert sorted(_stage_processes(rig)) == pids  # zero container restarts

        sagemaker.delete_endpoint(EndpointName=ENDPOINT)
        _until("no actor left", lambda: _actor_names(rig) == [], timeout=60)
        _until("no container process left", lambda: _stage_processes(rig) == [], timeout=30)
    finally:
        server.stop(timeout=60)
        kill_actors(rig)


def server_instance_ids(logs: object) -> set[str]:
    """Instance ids of the log streams (a replacement would add a new one)."""
    streams = logs.describe_log_streams(  # type: ignore[attr-defined]
        logGroupName=f"/aws/sagemaker/Endpoints/{ENDPOINT}")["logStreams"]
    return {s["logStreamName"].split("/")[1] for s in streams}
