"""The Ray launcher's settings and its failures before any cluster is involved (the cluster
itself: tests/multihost/test_ray_launcher.py)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from tandem.config import load_settings
from tandem.errors import ConfigError
from tandem.server import check_agent_server_url
from tandem.serving.launcher import InstanceSpec, InstanceStartFailed
from tandem.serving.ray_launcher import RayLauncher, actor_name, parse_ray_address
from tests.serving.launcher_fakes import container


def test_launcher_setting_takes_local_or_a_ray_gcs_address() -> None:
    assert load_settings(environ={}).launcher == "local"
    settings = load_settings(environ={"TANDEM_LAUNCHER": "ray://10.0.0.5:6380"})
    assert parse_ray_address(settings.launcher) == "10.0.0.5:6380"
    for bad in ("ray://10.0.0.5", "10.0.0.5:6380", "ray://:6380", "ray://h:99999", "k8s"):
        with pytest.raises(ConfigError, match="local or ray://HOST:PORT") as info:
            load_settings(flags={"launcher": bad}, environ={})
        assert info.value.details["field"] == "launcher"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "localhost"])
def test_a_ray_launcher_refuses_a_server_url_other_hosts_cannot_reach(host: str) -> None:
    settings = load_settings(flags={"launcher": "ray://10.0.0.5:6380", "host": host}, environ={})
    with pytest.raises(ConfigError, match=r"cannot reach.*--agent-server-url") as info:
        check_agent_server_url(settings)
    assert f"http://{host}:8080" in info.value.message
    # Named explicitly, an address the hosts reach is taken.
    check_agent_server_url(settings.replace(agent_server_url="http://10.0.0.1:8080"))
    check_agent_server_url(settings.replace(host="10.0.0.1"))
    with pytest.raises(ConfigError):
        check_agent_server_url(settings.replace(agent_server_url="http://127.0.0.1:8080"))


async def test_start_fails_naming_the_head_when_it_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    launcher = RayLauncher(address, lambda: "http://10.0.0.1:8080", tmp_path)
    spec = InstanceSpec.for_endpoint(
        "ep-1", "AllTraffic", [container("first")], tmp_path, instance_type="ml.m5.large")
    with pytest.raises(InstanceStartFailed, match=f"The Ray head at {address} is unreachable"):
        await launcher.start_instance(spec)
    # A restarted server looking for its running actors gets the same typed error (it then
    # starts afresh rather than failing to start).
    with pytest.raises(InstanceStartFailed, match=f"The Ray head at {address} is unreachable"):
        await launcher.recover()
    assert launcher.instances() == []
    await launcher.close()


def test_actors_are_named_by_endpoint_variant_and_instance(tmp_path: Path) -> None:
    spec = InstanceSpec.for_endpoint("ep-1", "AllTraffic", [container("first")], tmp_path,
                                     instance_type="ml.c5.xlarge")  # fmt: skip
    assert actor_name(spec) == f"tandem/ep-1/AllTraffic/{spec.instance_id}"
    assert spec.instance_type == "ml.c5.xlarge"


def test_nothing_imports_ray_unless_a_ray_launcher_connects() -> None:
    import subprocess

    code = ("import sys, tandem.server, tandem.serving.ray_launcher\n"
            "print('ray' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "False"


@pytest.mark.slow
def test_an_endpoint_fails_naming_the_head_when_it_is_down(tmp_path: Path) -> None:
    from tests.e2e.support import client, deploy, stage_container, wait_status
    from tests.server_process import FAST_FLAGS, ServerProcess

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        head = f"127.0.0.1:{s.getsockname()[1]}"
    server = ServerProcess(tmp_path / "data", extra=[
        *FAST_FLAGS, "--launcher", f"ray://{head}",
        "--agent-server-url", "http://10.0.0.1:8080",  # never called: nothing is placed
    ]).start()  # fmt: skip
    try:
        sagemaker = client(server, "sagemaker")
        deploy(sagemaker, "headless", [stage_container("first")], wait=False)
        failed = wait_status(sagemaker, "headless", "Failed", timeout=60)
        assert f"The Ray head at {head} is unreachable" in failed["FailureReason"]
    finally:
        server.stop()
