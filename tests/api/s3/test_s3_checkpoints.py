"""CheckpointConfig: a job's checkpoints reach S3Uri, and the next job with the same S3Uri
finds them in its checkpoint folder before it starts, against tandem's own S3 and, with
``--s3-endpoint-url``, a second S3-compatible server (moto)."""

from __future__ import annotations

import io
import json
import tarfile
import time
from typing import Any

import pytest

from tests.api.s3.test_s3_training import IMAGE, moto, setup  # noqa: F401 - fixtures
from tests.e2e.support import client
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow

SCRIPT = b'''
import json, os
folder = os.environ["SM_CHECKPOINT_DIR"]
host = os.environ["SM_CURRENT_HOST"]
found = {}
for root, _, files in os.walk(folder):
    for name in files:
        path = os.path.join(root, name)
        found[os.path.relpath(path, folder)] = open(path).read()
step = 1 + max([int(v) for k, v in found.items() if k.startswith("step/")] or [0])
os.makedirs(os.path.join(folder, "step"), exist_ok=True)
with open(os.path.join(folder, "step", host), "w") as f:
    f.write(str(step))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "found-" + host + ".json"), "w") as f:
    json.dump(found, f, sort_keys=True)
'''


def _sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(SCRIPT)
        tar.addfile(info, io.BytesIO(SCRIPT))
    return buffer.getvalue()


def _train(server: ServerProcess, name: str, hosts: int) -> dict[str, Any]:
    sagemaker = client(server, "sagemaker")
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": '"train.py"', "sagemaker_submit_directory":
                         '"s3://ckpt-bucket/code/sourcedir.tar.gz"'},
        OutputDataConfig={"S3OutputPath": "s3://ckpt-bucket/out"},
        CheckpointConfig={"S3Uri": "s3://ckpt-bucket/checkpoints/run"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": hosts,
                        "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 120})
    for _ in range(240):
        desc = sagemaker.describe_training_job(TrainingJobName=name)
        if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.25)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    return desc


def _found(store: Any, name: str) -> dict[str, dict[str, str]]:
    data = store.get_object(Bucket="ckpt-bucket", Key=f"out/{name}/output/model.tar.gz")[
        "Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name[len("found-"):-len(".json")]:
                json.loads(tar.extractfile(m).read())  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def _objects(store: Any) -> dict[str, bytes]:
    listing = store.list_objects_v2(Bucket="ckpt-bucket", Prefix="checkpoints/")
    return {item["Key"]: store.get_object(Bucket="ckpt-bucket", Key=item["Key"])["Body"].read()
            for item in listing.get("Contents", [])}


def test_checkpoints_are_uploaded_and_restored_by_the_next_job(
        setup: tuple[ServerProcess, Any]) -> None:  # noqa: F811 - the fixture
    server, store = setup
    store.create_bucket(Bucket="ckpt-bucket")
    store.put_object(Bucket="ckpt-bucket", Key="code/sourcedir.tar.gz", Body=_sourcedir())
    # A sibling prefix that shares the name's start is not part of the checkpoints.
    store.put_object(Bucket="ckpt-bucket", Key="checkpoints/run-old/step/algo-1", Body=b"99")

    first = _train(server, "ckpt-first", 2)
    # Echoed as given: LocalPath's default (/opt/ml/checkpoints) is not filled in.
    assert first["CheckpointConfig"] == {"S3Uri": "s3://ckpt-bucket/checkpoints/run"}
    assert _found(store, "ckpt-first") == {"algo-1": {}, "algo-2": {}}
    assert _objects(store) == {"checkpoints/run-old/step/algo-1": b"99",
                               "checkpoints/run/step/algo-1": b"1",
                               "checkpoints/run/step/algo-2": b"1"}

    _train(server, "ckpt-second", 1)
    # Every object under S3Uri was in the checkpoint folder before the script started.
    assert _found(store, "ckpt-second") == {"algo-1": {"step/algo-1": "1", "step/algo-2": "1"}}
    assert _objects(store)["checkpoints/run/step/algo-1"] == b"2"


def test_a_checkpoint_config_without_s3uri_is_refused(
        setup: tuple[ServerProcess, Any]) -> None:  # noqa: F811 - the fixture
    server, _ = setup
    sagemaker = client(server, "sagemaker")
    try:
        sagemaker.create_training_job(
            TrainingJobName="ckpt-bad", RoleArn="arn:aws:iam::000000000000:role/test",
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            HyperParameters={"sagemaker_program": '"train.py"',
                             "sagemaker_submit_directory": '"s3://ckpt-bucket/code/x.tar.gz"'},
            OutputDataConfig={"S3OutputPath": "s3://ckpt-bucket/out"},
            CheckpointConfig={"S3Uri": "s3://Bad_Bucket/ckpt"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1,
                            "VolumeSizeInGB": 1})
    except sagemaker.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] == "ValidationException"
        assert "CheckpointConfig.S3Uri" in error.response["Error"]["Message"]
    else:
        raise AssertionError("a bad CheckpointConfig.S3Uri was accepted")
