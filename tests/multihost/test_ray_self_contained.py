"""A Ray instance's model data fetched on its own node: the spec names an s3:// tarball in
tandem's S3, the agent downloads it through the server's S3 API and unpacks it under its own
work root (``--agent-work-dir``, not the server's data dir); a local tarball only the server's
host has travels in the Ray object store, and an unsafe one fails the endpoint in the words the
server's own unpacking used."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.s3.conftest import s3_client
from tests.e2e.support import client, deploy, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.waiting import wait_until

from .rig import RayCluster
from .test_ray_launcher import _keys, kill_actors

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
INFERENCE = b'''
import os
def model_fn(model_dir):
    return open(os.path.join(model_dir, "model.txt")).read().strip()
def input_fn(body, content_type):
    return body.decode() if isinstance(body, bytes) else body
def predict_fn(data, model):
    return model + ":" + data
def output_fn(prediction, accept):
    return prediction.encode()
'''


def _tar(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


@pytest.fixture
def server(multihost_rig: RayCluster, tmp_path: Path) -> Iterator[ServerProcess]:
    rig = multihost_rig
    flags = [*FAST_FLAGS, "--host", rig.network.gateway, "--launcher", f"ray://{rig.gcs_address}",
             "--ray-resource-scale", "0.5", "--auth", str(_keys(tmp_path)),
             "--agent-work-dir", str(tmp_path / "node-work")]  # fmt: skip
    proc = ServerProcess(tmp_path / "data", extra=flags, env={**os.environ, **rig.driver_env()})
    proc.start(timeout=60)
    try:
        yield proc
    finally:
        proc.stop(timeout=60)
        kill_actors(rig)


def test_model_data_is_fetched_and_unpacked_on_the_instances_own_node(
    multihost_rig: RayCluster, server: ServerProcess, tmp_path: Path
) -> None:
    s3: Any = s3_client(server.url)
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="echo/model.tar.gz", Body=_tar(
        {"model.txt": b"from-node\n", "code/inference.py": INFERENCE}))
    sagemaker = client(server, "sagemaker")
    deploy(sagemaker, "mh-s3", [{
        "Image": IMAGE, "ModelDataUrl": "s3://models/echo/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}}], wait=False)
    wait_status(sagemaker, "mh-s3", "InService", timeout=180)
    runtime: Any = client(server, "sagemaker-runtime")
    body = runtime.invoke_endpoint(EndpointName="mh-s3", Body=b"ping",
                                   ContentType="text/plain")["Body"].read()
    assert body == b"from-node:ping"

    # Unpacked under the agent's own work root, in the instance's directory there ...
    root = tmp_path / "node-work" / "instances" / "mh-s3"
    [instance] = os.listdir(root)
    model_dir = root / instance / "container-1" / "model"  # the default ContainerHostname
    assert sorted(os.listdir(model_dir)) == ["code", "model.txt"]
    assert (model_dir / "model.txt").read_bytes() == b"from-node\n"
    # ... and nowhere under the server's data dir (its S3 holds the tarball, not its files).
    data = tmp_path / "data"
    assert [p for p in data.rglob("*") if p.name in ("model.txt", "inference.py")] == []
    assert not (data / "instances" / "mh-s3" / instance).exists()

    # A local tarball only this host has: carried to the node, refused there, as the server
    # refused it when it unpacked models itself.
    unsafe = tmp_path / "server-only" / "model.tar.gz"
    unsafe.parent.mkdir()
    unsafe.write_bytes(_tar({"model.txt": b"x"}, links={"escape": "../../etc"}))
    deploy(sagemaker, "mh-unsafe", [{"Image": IMAGE, "ModelDataUrl": str(unsafe)}], wait=False)
    desc = wait_status(sagemaker, "mh-unsafe", "Failed", timeout=180)
    assert desc["FailureReason"] == (
        f"Containers[0].ModelDataUrl: {unsafe} holds an unsafe entry: symlink pointing outside "
        "the target ('../../etc') (member 'escape')")
    assert not list((tmp_path / "node-work" / "instances" / "mh-unsafe").rglob("model.txt"))

    sagemaker.delete_endpoint(EndpointName="mh-s3")
    sagemaker.delete_endpoint(EndpointName="mh-unsafe")
    wait_until(lambda: not _actors(multihost_rig), "the instances' actors to go", timeout=60,
               interval=1.0)


def _actors(rig: RayCluster) -> list[str]:
    names = rig.run_driver(
        "result = [a['name'] for a in ray.util.list_named_actors(all_namespaces=True)"
        " if a['namespace'] == 'tandem']"
    )
    assert isinstance(names, list)
    return names
