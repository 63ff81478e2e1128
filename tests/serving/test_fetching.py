"""A self-contained instance spec: planned under INSTANCE_ROOT, fetched and unpacked by the
agent on its own host (local paths, bytes carried for it, s3:// through a server's S3 API)."""

from __future__ import annotations

import io
import os
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.errors import ConfigError
from tandem.objects.locations import OwnLocations
from tandem.objects.store import FileObjectStore
from tandem.serving.artifacts import ArtifactError, materialize
from tandem.serving.containers import plan_model
from tandem.serving.fetching import (
    ArtifactSource,
    prepare_artifacts,
    prepare_containers,
    server_locations,
)
from tandem.serving.launcher import INSTANCE_ROOT, Artifact
from tandem.serving.model import Model
from tandem.telemetry.shipping import ShipperConfig
from tests.server_thread import ServerThread

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _tar_bytes(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
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


def _model(containers: list[dict[str, Any]]) -> Model:
    request = {"ModelName": "m", "ExecutionRoleArn": "arn:aws:iam::000000000000:role/x"}
    if len(containers) == 1:
        request["PrimaryContainer"] = containers[0]
    else:
        request["Containers"] = containers
    return Model.parse(request, 0.0)


def test_a_planned_spec_names_no_directory_of_the_planning_host(tmp_path: Path) -> None:
    (tmp_path / "model.tar.gz").write_bytes(_tar_bytes({"model.txt": b"weights"}))
    (tmp_path / "code.tar.gz").write_bytes(_tar_bytes({"inference.py": b"X = 1\n"}))
    work = tmp_path / "data" / "instances" / "ep" / "i-0123456789abcdef0"
    [spec] = plan_model(_model([{
        "Image": SKLEARN, "ModelDataUrl": "model.tar.gz",
        "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "code.tar.gz"}}]), tmp_path, work)
    assert not (tmp_path / "data").exists()  # nothing unpacked, nothing made, on this host
    texts = [*spec.argv, *spec.env.values(), spec.cwd or ""]
    assert not [text for text in texts if str(work) in text]
    name = spec.name
    assert spec.argv[-2:] == ("--model-dir", f"{INSTANCE_ROOT}/{name}/model")
    assert spec.env["SAGEMAKER_SUBMIT_DIRECTORY"] == f"{INSTANCE_ROOT}/{name}/code"
    assert spec.artifacts == (
        Artifact(f"{INSTANCE_ROOT}/{name}/home"),
        Artifact(f"{INSTANCE_ROOT}/{name}/tmp"),
        Artifact(f"{INSTANCE_ROOT}/{name}/model", str(tmp_path / "model.tar.gz"), archive=True,
                 field="PrimaryContainer.ModelDataUrl"),
        Artifact(f"{INSTANCE_ROOT}/{name}/code", str(tmp_path / "code.tar.gz"), archive=True,
                 field="PrimaryContainer.Environment.SAGEMAKER_SUBMIT_DIRECTORY"),
    )


def test_the_agent_unpacks_under_the_root_it_chose(tmp_path: Path) -> None:
    (tmp_path / "model.tar.gz").write_bytes(_tar_bytes({"model.txt": b"weights"}))
    (tmp_path / "src").mkdir()
    [spec] = plan_model(_model([{
        "Image": SKLEARN, "ModelDataUrl": "model.tar.gz",
        "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "src"}}]), tmp_path, tmp_path / "unused")
    root = tmp_path / "node" / "i-1"
    [ready] = prepare_containers([spec], root, ArtifactSource())
    model_dir = root / spec.name / "model"
    assert (model_dir / "model.txt").read_bytes() == b"weights"
    assert ready.argv == (sys.executable, "-m", "tandem.runtime", "--framework", "sklearn",
                          "--model-dir", str(model_dir))
    assert (ready.cwd, ready.env["HOME"], ready.env["TMPDIR"]) == (
        str(root / spec.name), str(root / spec.name / "home"), str(root / spec.name / "tmp"))
    # A local directory is used where it lies (hosts share it): named as it is, not fetched.
    assert ready.env["SAGEMAKER_SUBMIT_DIRECTORY"] == str(tmp_path / "src")
    assert ready.artifacts == ()
    assert sorted(os.listdir(root / spec.name)) == ["home", "model", "model.extracted", "tmp"]


def test_an_unpacked_model_is_reused_without_fetching_again(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(_tar_bytes({"model.txt": b"weights"}))
    artifact = Artifact(f"{INSTANCE_ROOT}/c/model", str(archive), archive=True, field="F")
    prepare_artifacts([artifact], tmp_path / "root", ArtifactSource())
    archive.unlink()  # a restarted instance needs the location no more
    prepare_artifacts([artifact], tmp_path / "root", ArtifactSource())
    assert (tmp_path / "root" / "c" / "model" / "model.txt").read_bytes() == b"weights"


def test_an_unsafe_archive_is_refused_in_the_words_of_the_servers_own_unpacking(
        tmp_path: Path) -> None:  # fmt: skip
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(_tar_bytes({"ok.txt": b"x"}, links={"escape": "../../etc"}))
    with pytest.raises(ArtifactError) as before:
        materialize(str(archive), tmp_path, tmp_path / "old" / "model", field="F.ModelDataUrl")
    artifact = Artifact(f"{INSTANCE_ROOT}/c/model", str(archive), archive=True,
                        field="F.ModelDataUrl")
    with pytest.raises(ArtifactError) as caught:
        prepare_artifacts([artifact], tmp_path / "root", ArtifactSource())
    assert caught.value.message == before.value.message
    assert caught.value.message.startswith(f"F.ModelDataUrl: {archive} holds an unsafe entry")
    assert caught.value.member == "escape"
    assert not (tmp_path / "root" / "c" / "model").exists()
    # Carried bytes are named by the location they came from, as on the planning host.
    elsewhere = str(tmp_path / "on-the-server" / "model.tar.gz")
    carried = ArtifactSource(carried={elsewhere: archive.read_bytes()})
    with pytest.raises(ArtifactError) as far:
        prepare_artifacts([Artifact(f"{INSTANCE_ROOT}/c/model", elsewhere, archive=True,
                                    field="F.ModelDataUrl")], tmp_path / "node", carried)
    assert far.value.message == before.value.message.replace(str(archive), elsewhere)
    assert os.listdir(tmp_path / "node" / "c") == [".carried"]
    assert os.listdir(tmp_path / "node" / "c" / ".carried") == []


def test_carried_bytes_stand_for_a_file_this_host_lacks(tmp_path: Path) -> None:
    location = "/nowhere/on/this/host/model.tar.gz"
    artifact = Artifact(f"{INSTANCE_ROOT}/c/model", location, archive=True, field="F")
    source = ArtifactSource(carried={location: _tar_bytes({"model.txt": b"carried"})})
    prepare_artifacts([artifact], tmp_path, source)
    assert (tmp_path / "c" / "model" / "model.txt").read_bytes() == b"carried"
    assert os.listdir(tmp_path / "c" / ".carried") == []  # the copy goes once unpacked
    with pytest.raises(ArtifactError) as caught:
        prepare_artifacts([Artifact(f"{INSTANCE_ROOT}/d/model", location, archive=True,
                                    field="F")], tmp_path, ArtifactSource(elsewhere="on node-2"))
    assert caught.value.message == f"F: {location} does not exist on node-2"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = ServerThread(tmp_path_factory.mktemp("tandem-fetch")).start()
    yield thread
    thread.stop()


def test_s3_locations_come_through_the_servers_s3_api(server: ServerThread,
                                                       tmp_path: Path) -> None:  # fmt: skip
    import boto3

    s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket="fetch")
    s3.put_object(Bucket="fetch", Key="m/model.tar.gz", Body=_tar_bytes({"model.txt": b"s3"}))
    s3.put_object(Bucket="fetch", Key="prefix/a.txt", Body=b"A")
    s3.put_object(Bucket="fetch", Key="prefix/sub/b.txt", Body=b"B")
    # Planned on the server's side, where the store is files under its data dir.
    own = OwnLocations(FileObjectStore(server.server.data_dir / "s3", "us-east-1"))
    [spec] = plan_model(_model([{
        "Image": SKLEARN, "ModelDataUrl": "s3://fetch/m/model.tar.gz",
        "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "s3://fetch/prefix"}}]),
        tmp_path, tmp_path / "unused", objects=own)
    assert spec.artifacts[2:] == (
        Artifact(f"{INSTANCE_ROOT}/{spec.name}/model", "s3://fetch/m/model.tar.gz",
                 archive=True, field="PrimaryContainer.ModelDataUrl"),
        Artifact(f"{INSTANCE_ROOT}/{spec.name}/code", "s3://fetch/prefix", archive=False,
                 field="PrimaryContainer.Environment.SAGEMAKER_SUBMIT_DIRECTORY"))
    # Fetched by an agent that knows only the server's URL and a key.
    shipper = ShipperConfig(server_url=server.url, spool_dir=tmp_path / "spool",
                            access_key_id="test", secret_access_key="test")
    root = tmp_path / "node"
    [ready] = prepare_containers([spec], root, ArtifactSource(server_locations(shipper)))
    cdir = root / spec.name
    assert (cdir / "model" / "model.txt").read_bytes() == b"s3"
    code = Path(ready.env["SAGEMAKER_SUBMIT_DIRECTORY"])
    assert code == cdir / "code"
    assert ((code / "a.txt").read_bytes(), (code / "sub" / "b.txt").read_bytes()) == (b"A", b"B")
    assert not list((cdir / "s3").rglob("*.tar.gz"))  # the downloaded tarball is gone
    assert server.server.data_dir not in code.resolve().parents  # a copy, on the agent's side
    # A missing object: the words of the server's own staging.
    missing = Artifact(f"{INSTANCE_ROOT}/x/model", "s3://fetch/none/model.tar.gz",
                       archive=True, field="PrimaryContainer.ModelDataUrl")
    with pytest.raises(ConfigError) as caught:
        prepare_artifacts([missing], root, ArtifactSource(server_locations(shipper)))
    assert caught.value.message == (
        "PrimaryContainer.ModelDataUrl: s3://fetch/none/model.tar.gz: no objects found")
