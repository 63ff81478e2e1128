"""Models and batch transform with s3:// locations in a second S3-compatible server (moto),
named by ``--s3-endpoint-url``: ModelDataUrl (a model.tar.gz with its code), an S3Prefix
ModelDataSource with an s3:// SAGEMAKER_SUBMIT_DIRECTORY, and a transform job's input prefix
and output path, all read from and written to that server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.differential.moto_server import MotoServer
from tests.api.s3.conftest import s3_client
from tests.api.s3.test_s3_models import IMAGE, INFERENCE, _invoke, _tar
from tests.e2e.support import client, deploy, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any]]:
    moto = MotoServer().start()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1"}
    server = ServerProcess(tmp_path_factory.mktemp("tandem-remote-models"),
                           extra=[*FAST_FLAGS, "--s3-endpoint-url", moto.url], env=env).start()
    try:
        store: Any = s3_client(moto.url)
        store.create_bucket(Bucket="remote-models")
        store.put_object(Bucket="remote-models", Key="tarball/model.tar.gz", Body=_tar(
            {"model.txt": b"remote-tarball\n", "code/inference.py": INFERENCE}))
        yield server, store
    finally:
        server.stop()
        moto.stop()


def test_models_from_the_second_server(servers: tuple[ServerProcess, Any]) -> None:
    server, store = servers
    store.put_object(Bucket="remote-models", Key="prefix/model/model.txt", Body=b"remote-prefix\n")
    store.put_object(Bucket="remote-models", Key="code/sourcedir.tar.gz",
                     Body=_tar({"inference.py": INFERENCE}))
    sagemaker = client(server, "sagemaker")
    deploy(sagemaker, "remote-tarball", [{
        "Image": IMAGE, "ModelDataUrl": "s3://remote-models/tarball/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}}])
    assert _invoke(server, "remote-tarball") == b"remote-tarball:ping"
    deploy(sagemaker, "remote-prefix", [{
        "Image": IMAGE,
        "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://remote-models/prefix/model/",
                                             "S3DataType": "S3Prefix",
                                             "CompressionType": "None"}},
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://remote-models/code/sourcedir.tar.gz"}}])
    assert _invoke(server, "remote-prefix") == b"remote-prefix:ping"
    # Nothing of it came from (or went to) tandem's own S3.
    assert s3_client(server.url).list_buckets()["Buckets"] == []


def test_a_model_object_missing_from_the_second_server_fails_the_endpoint(
        servers: tuple[ServerProcess, Any]) -> None:
    server, _ = servers
    sagemaker = client(server, "sagemaker")
    deploy(sagemaker, "remote-missing",
           [{"Image": IMAGE, "ModelDataUrl": "s3://remote-models/none/model.tar.gz"}], wait=False)
    desc = wait_status(sagemaker, "remote-missing", "Failed")
    assert "s3://remote-models/none/model.tar.gz" in desc["FailureReason"]


def test_batch_transform_with_the_second_server(servers: tuple[ServerProcess, Any]) -> None:
    server, store = servers
    store.put_object(Bucket="remote-models", Key="batch/in/a.txt", Body=b"1\n2\n")
    store.put_object(Bucket="remote-models", Key="batch/in/sub/b.txt", Body=b"3\n")
    sagemaker = client(server, "sagemaker")
    sagemaker.create_model(
        ModelName="remote-echo", ExecutionRoleArn="arn:aws:iam::000000000000:role/x",
        PrimaryContainer={"Image": IMAGE,
                          "ModelDataUrl": "s3://remote-models/tarball/model.tar.gz",
                          "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                          "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}})
    sagemaker.create_transform_job(
        TransformJobName="remote-batch", ModelName="remote-echo", BatchStrategy="SingleRecord",
        TransformInput={"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://remote-models/batch/in/"}},
            "ContentType": "text/plain", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "s3://remote-models/batch/out", "AssembleWith": "Line",
                         "Accept": "text/plain"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="remote-batch", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    desc = sagemaker.describe_transform_job(TransformJobName="remote-batch")
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    listed = store.list_objects_v2(Bucket="remote-models", Prefix="batch/out/")["Contents"]
    assert [o["Key"] for o in listed] == ["batch/out/a.txt.out", "batch/out/sub/b.txt.out"]
    assert store.get_object(Bucket="remote-models", Key="batch/out/a.txt.out")[
        "Body"].read() == b"remote-tarball:1\nremote-tarball:2\n"
    assert store.get_object(Bucket="remote-models", Key="batch/out/sub/b.txt.out")[
        "Body"].read() == b"remote-tarball:3\n"
