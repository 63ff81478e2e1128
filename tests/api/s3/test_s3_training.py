"""The same training job with s3:// locations everywhere (the code's sourcedir.tar.gz, two
channels, ShardedByS3Key over two hosts, the output path), reading from and writing to
tandem's own S3 and, with ``--s3-endpoint-url``, a second S3-compatible server (moto)."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.differential.moto_server import MotoServer
from tests.api.s3.conftest import s3_client
from tests.e2e.support import client
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SCRIPT = b'''
import json, os
host = os.environ["SM_CURRENT_HOST"]
seen = {}
for channel in json.loads(os.environ["SM_CHANNELS"]):
    root = os.environ["SM_CHANNEL_" + channel.upper()]
    for folder, _, files in os.walk(root, followlinks=True):
        for name in files:
            path = os.path.join(folder, name)
            seen[channel + "/" + os.path.relpath(path, root)] = open(path).read()
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen-" + host + ".json"), "w") as f:
    json.dump(seen, f, sort_keys=True)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "report-" + host + ".txt"), "w") as f:
    f.write(host)
print("trained on", sorted(seen), flush=True)
'''
DATA = {"data/train/a.csv": "1,a\n", "data/train/b.csv": "2,b\n", "data/train/c.csv": "3,c\n",
        "data/train/d.csv": "4,d\n", "data/extra/vocab.txt": "x y z\n"}


def _sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(SCRIPT)
        tar.addfile(info, io.BytesIO(SCRIPT))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["own", "second-server"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, Any]]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1"}
    extra = list(FAST_FLAGS)
    if request.param == "second-server":
        moto: MotoServer = request.getfixturevalue("moto")
        extra += ["--s3-endpoint-url", moto.url]
        store_url = moto.url
    server = ServerProcess(tmp_path / "tandem", extra=extra, env=env).start()
    try:
        store = s3_client(store_url if request.param == "second-server" else server.url)
        yield server, store
    finally:
        server.stop()


def _members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def test_training_job_reads_and_writes_s3_locations(setup: tuple[ServerProcess, Any]) -> None:
    server, store = setup
    store.create_bucket(Bucket="ml-bucket")
    store.put_object(Bucket="ml-bucket", Key="job/source/sourcedir.tar.gz", Body=_sourcedir())
    for key, text in DATA.items():
        store.put_object(Bucket="ml-bucket", Key=key, Body=text.encode())
    manifest = [{"prefix": "s3://ml-bucket/data/"}, "train/b.csv", "extra/vocab.txt"]
    store.put_object(Bucket="ml-bucket", Key="manifests/listed.manifest",
                     Body=json.dumps(manifest).encode())
    sagemaker = client(server, "sagemaker")

    def channel(name: str, uri: str, distribution: str,
                data_type: str = "S3Prefix") -> dict[str, Any]:
        return {"ChannelName": name, "DataSource": {"S3DataSource": {
            "S3DataType": data_type, "S3Uri": uri, "S3DataDistributionType": distribution}}}

    sagemaker.create_training_job(
        TrainingJobName="s3-job", RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": '"train.py"', "sagemaker_submit_directory":
                         '"s3://ml-bucket/job/source/sourcedir.tar.gz"'},
        InputDataConfig=[channel("train", "s3://ml-bucket/data/train", "ShardedByS3Key"),
                         channel("extra", "s3://ml-bucket/data/extra/", "FullyReplicated"),
                         channel("listed", "s3://ml-bucket/manifests/listed.manifest",
                                 "FullyReplicated", "ManifestFile")],
        OutputDataConfig={"S3OutputPath": "s3://ml-bucket/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 120})
    for _ in range(240):
        desc = sagemaker.describe_training_job(TrainingJobName="s3-job")
        if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.25)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    artifact = desc["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == "s3://ml-bucket/out/s3-job/output/model.tar.gz"
    model = _members(store.get_object(Bucket="ml-bucket", Key="out/s3-job/output/model.tar.gz")[
        "Body"].read())
    seen = {host: json.loads(model[f"seen-{host}.json"]) for host in ("algo-1", "algo-2")}
    # ShardedByS3Key: the train objects split by key across the hosts; extra replicated;
    # the manifest's objects under the names it lists.
    listed = {"listed/train/b.csv": "2,b\n", "listed/extra/vocab.txt": "x y z\n"}
    assert seen["algo-1"] == {"extra/vocab.txt": "x y z\n", "train/a.csv": "1,a\n",
                              "train/c.csv": "3,c\n", **listed}
    assert seen["algo-2"] == {"extra/vocab.txt": "x y z\n", "train/b.csv": "2,b\n",
                              "train/d.csv": "4,d\n", **listed}
    output = _members(store.get_object(Bucket="ml-bucket", Key="out/s3-job/output/output.tar.gz")[
        "Body"].read())
    assert output == {"report-algo-1.txt": b"algo-1", "report-algo-2.txt": b"algo-2"}


def test_a_missing_s3_input_fails_the_job_with_its_reason(
        setup: tuple[ServerProcess, Any]) -> None:
    server, store = setup
    store.create_bucket(Bucket="empty-bucket")
    sagemaker = client(server, "sagemaker")
    sagemaker.create_training_job(
        TrainingJobName="s3-missing", RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": '"train.py"', "sagemaker_submit_directory":
                         '"s3://empty-bucket/nothing/sourcedir.tar.gz"'},
        OutputDataConfig={"S3OutputPath": "s3://empty-bucket/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1})
    for _ in range(240):
        desc = sagemaker.describe_training_job(TrainingJobName="s3-missing")
        if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.25)
    assert desc["TrainingJobStatus"] == "Failed"
    assert "s3://empty-bucket/nothing/sourcedir.tar.gz" in desc["FailureReason"]
