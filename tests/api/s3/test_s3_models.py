"""Models with s3:// locations in tandem's own S3: a model.tar.gz as ModelDataUrl (code
inside, as the SageMaker SDK repacks it), and an uncompressed S3Prefix ModelDataSource with
its code in an s3:// SAGEMAKER_SUBMIT_DIRECTORY; a missing object fails the endpoint with a
reason naming it."""

from __future__ import annotations

import base64
import io
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.s3.conftest import s3_client
from tests.e2e.support import client, deploy, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

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


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-s3-models"), extra=FAST_FLAGS).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def models(server: ServerProcess) -> Any:
    """The bucket ``models`` with a model.tar.gz (code inside) and the Model ``echo`` of it."""
    s3: Any = s3_client(server.url)
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="tarball/model.tar.gz", Body=_tar(
        {"model.txt": b"from-tarball\n", "code/inference.py": INFERENCE}))
    client(server, "sagemaker").create_model(
        ModelName="echo", ExecutionRoleArn="arn:aws:iam::000000000000:role/x",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://models/tarball/model.tar.gz",
                          "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                          "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}})
    return s3


def _invoke(server: ServerProcess, name: str) -> bytes:
    runtime: Any = client(server, "sagemaker-runtime")
    body: bytes = runtime.invoke_endpoint(EndpointName=name, Body=b"ping",
                                          ContentType="text/plain")["Body"].read()
    return body


def test_models_from_s3_locations(server: ServerProcess, models: Any) -> None:
    s3 = models
    s3.put_object(Bucket="models", Key="prefix/model/model.txt", Body=b"from-prefix\n")
    s3.put_object(Bucket="models", Key="code/sourcedir.tar.gz", Body=_tar(
        {"inference.py": INFERENCE}))
    sagemaker = client(server, "sagemaker")
    deploy(sagemaker, "s3-tarball", [{
        "Image": IMAGE, "ModelDataUrl": "s3://models/tarball/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}}])
    assert _invoke(server, "s3-tarball") == b"from-tarball:ping"
    deploy(sagemaker, "s3-prefix", [{
        "Image": IMAGE,
        "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://models/prefix/model/",
                                             "S3DataType": "S3Prefix",
                                             "CompressionType": "None"}},
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://models/code/sourcedir.tar.gz"}}])
    assert _invoke(server, "s3-prefix") == b"from-prefix:ping"


def test_a_missing_model_object_fails_the_endpoint(server: ServerProcess, models: Any) -> None:
    sagemaker = client(server, "sagemaker")
    deploy(sagemaker, "s3-missing", [{"Image": IMAGE,
                                      "ModelDataUrl": "s3://models/none/model.tar.gz"}],
           wait=False)
    desc = wait_status(sagemaker, "s3-missing", "Failed")
    assert "s3://models/none/model.tar.gz" in desc["FailureReason"]


def test_an_unsafe_model_archive_fails_the_endpoint_naming_its_member(
        server: ServerProcess, tmp_path: Path) -> None:  # fmt: skip
    """Unpacked by the instance's agent, refused in the words the server's own unpacking used."""
    archive = tmp_path / "model.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, "../../etc"
        tar.addfile(link)
    archive.write_bytes(buffer.getvalue())
    sagemaker = client(server, "sagemaker")
    deploy(sagemaker, "unsafe-local", [{"Image": IMAGE, "ModelDataUrl": str(archive)}],
           wait=False)
    desc = wait_status(sagemaker, "unsafe-local", "Failed")
    assert desc["FailureReason"] == (
        f"Containers[0].ModelDataUrl: {archive} holds an unsafe entry: symlink pointing outside "
        "the target ('../../etc') (member 'escape')")


def test_batch_transform_reads_and_writes_s3_prefixes(server: ServerProcess, models: Any) -> None:
    s3 = models
    s3.put_object(Bucket="models", Key="batch/in/a.txt", Body=b"1\n2\n")
    s3.put_object(Bucket="models", Key="batch/in/sub/b.txt", Body=b"3\n")
    sagemaker = client(server, "sagemaker")
    sagemaker.create_transform_job(
        TransformJobName="s3-batch", ModelName="echo", BatchStrategy="SingleRecord",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": "s3://models/batch/in/"}},
                        "ContentType": "text/plain", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "s3://models/batch/out", "AssembleWith": "Line",
                         "Accept": "text/plain"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="s3-batch", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    desc = sagemaker.describe_transform_job(TransformJobName="s3-batch")
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    listed = s3.list_objects_v2(Bucket="models", Prefix="batch/out/")["Contents"]
    assert [o["Key"] for o in listed] == ["batch/out/a.txt.out", "batch/out/sub/b.txt.out"]
    assert s3.get_object(Bucket="models", Key="batch/out/a.txt.out")["Body"].read() == (
        b"from-tarball:1\nfrom-tarball:2\n")
    assert s3.get_object(Bucket="models", Key="batch/out/sub/b.txt.out")["Body"].read() == (
        b"from-tarball:3\n")


def test_lifecycle_scripts_read_s3_from_tandem(server: ServerProcess) -> None:
    s3: Any = s3_client(server.url)
    s3.create_bucket(Bucket="notebook-setup")
    s3.put_object(Bucket="notebook-setup", Key="config.txt", Body=b"hello-from-s3")
    aws = str(Path(sys.executable).with_name("aws"))
    script = (f'"{aws}" s3 cp s3://notebook-setup/config.txt "$HOME/config.txt" --no-progress\n'
              'echo "read $(cat "$HOME/config.txt")"\n')
    sagemaker = client(server, "sagemaker")
    sagemaker.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="reads-s3",
        OnCreate=[{"Content": base64.b64encode(script.encode()).decode()}])
    sagemaker.create_notebook_instance(NotebookInstanceName="nb-s3", InstanceType="ml.t3.medium",
                                       RoleArn="arn:aws:iam::000000000000:role/x",
                                       LifecycleConfigName="reads-s3")
    sagemaker.get_waiter("notebook_instance_in_service").wait(
        NotebookInstanceName="nb-s3", WaiterConfig={"Delay": 1, "MaxAttempts": 90})
    logs: Any = client(server, "logs")
    for _ in range(50):
        events = logs.get_log_events(logGroupName="/aws/sagemaker/NotebookInstances",
                                     logStreamName="nb-s3/LifecycleConfigOnCreate",
                                     startFromHead=True)["events"]
        if any("read " in e["message"] for e in events):
            break
        time.sleep(0.1)
    assert "read hello-from-s3" in [e["message"] for e in events]
    sagemaker.stop_notebook_instance(NotebookInstanceName="nb-s3")


def test_a_failed_transform_names_the_s3_object(server: ServerProcess, models: Any) -> None:
    s3 = models
    s3.put_object(Bucket="models", Key="broken/in/ok.txt", Body=b"fine\n")
    s3.put_object(Bucket="models", Key="broken/in/zipped.gz", Body=b"not gzip at all")
    sagemaker = client(server, "sagemaker")
    sagemaker.create_transform_job(
        TransformJobName="s3-broken", ModelName="echo",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": "s3://models/broken/in/"}},
                        "CompressionType": "Gzip"},
        TransformOutput={"S3OutputPath": "s3://models/broken/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    for _ in range(240):
        desc = sagemaker.describe_transform_job(TransformJobName="s3-broken")
        if desc["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.25)
    assert desc["TransformJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("AlgorithmError: s3://models/broken/in/")
