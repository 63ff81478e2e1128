"""The SageMaker Python SDK 3.x unchanged against tandem (its own .venv-sdk3, made by
scripts/setup-sdk3: the test extra pins the 2.x line), with nothing but AWS_ENDPOINT_URL, dummy
credentials, an explicit role ARN and ``Session(default_bucket=...)``: ``ModelTrainer`` with a
source directory trains from an s3:// channel through the SDK's own sm_train.sh driver (its
ContainerEntrypoint, its sm_drivers channel, /opt/ml by absolute path), tails the job's log;
``ModelBuilder`` deploys the model artifact with the scikit-learn image, the endpoint answers,
and is deleted. A ModelTrainer with an image of the user's own gets a ValidationException
naming TrainingImage and why."""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.support import client
from tests.sdk.support import sdk_client_env
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.tools import SDK3_PYTHON, require_tool

pytestmark = pytest.mark.slow

TRAIN = '''
import argparse, glob, os, shutil
import joblib
import numpy as np
from sklearn.linear_model import LinearRegression

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--fit-intercept", type=int, default=1)
    args, _ = parser.parse_known_args()
    paths = sorted(glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv")))
    data = np.vstack([np.loadtxt(p, delimiter=",", ndmin=2) for p in paths])
    model = LinearRegression(fit_intercept=bool(args.fit_intercept)).fit(data[:, 1:], data[:, 0])
    print(f"train:r2={model.score(data[:, 1:], data[:, 0]):.4f}", flush=True)
    # A container's path, as scripts written for SageMaker use it.
    joblib.dump(model, "/opt/ml/model/model.joblib")
    # The inference code travels in the artifact (code/), where the framework images look.
    os.makedirs("/opt/ml/model/code", exist_ok=True)
    shutil.copy("inference.py", "/opt/ml/model/code/inference.py")
'''

INFERENCE = '''
import os
import joblib

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
'''

FLOW = '''
import json, logging, sys
# The SDK logs the job's log lines (logs=True) through its loggers and leaves their
# configuration to the application (before its imports, which add a handler of their own).
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
import boto3
from botocore.exceptions import ClientError
from sagemaker.core.helper.session_helper import Session
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData, SourceCode

ROLE = "arn:aws:iam::000000000000:role/x"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
OWN = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:latest"
s3 = boto3.client("s3")
s3.create_bucket(Bucket="sdk3-bucket")
rows = "\\n".join(f"{2 * x + 3 * y + 1},{x},{y}" for x in range(10) for y in range(5))
s3.put_object(Bucket="sdk3-bucket", Key="data/train/part-0.csv", Body=rows.encode())
session = Session(default_bucket="sdk3-bucket")
channel = InputData(channel_name="train", data_source="s3://sdk3-bucket/data/train")

def trainer(image):
    return ModelTrainer(
        training_image=image, role=ROLE, sagemaker_session=session, base_job_name="sdk3",
        source_code=SourceCode(source_dir=sys.argv[1], entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        hyperparameters={"fit-intercept": 1})

try:
    trainer(OWN).train(input_data_config=[channel], wait=True, logs=True)
    refused = None
except ClientError as error:
    refused = error.response["Error"]
model_trainer = trainer(SKLEARN)
model_trainer.train(input_data_config=[channel], wait=True, logs=True)
job = model_trainer._latest_training_job
model_data = job.model_artifacts.s3_model_artifacts
builder = ModelBuilder(model_path=model_data, image_uri=SKLEARN, role_arn=ROLE,
                       sagemaker_session=session, instance_type="ml.m5.large")
builder.build()
endpoint = builder.deploy(endpoint_name="sdk3-endpoint", initial_instance_count=1,
                          instance_type="ml.m5.large")
response = endpoint.invoke(body="1,1\\n2,0", content_type="text/csv", accept="application/json")
prediction = json.loads(response.body.read())
endpoint.delete()
print("RESULT " + json.dumps({"job": job.training_job_name, "model_data": model_data,
                              "prediction": prediction, "refused": refused}))
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-sdk3"), extra=FAST_FLAGS).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def flow(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The flow, run once by the SDK 3.x: its output, and what it printed as RESULT."""
    python = require_tool(SDK3_PYTHON)
    tmp = tmp_path_factory.mktemp("sdk3-flow")
    code = tmp / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    (code / "inference.py").write_text(INFERENCE)
    (tmp / "flow.py").write_text(FLOW)
    env = sdk_client_env(server, tmp / "home")
    # The SDK polls a training job every 5 s and an endpoint every 30 s.
    done = subprocess.run([python, str(tmp / "flow.py"), str(code)], env=env,
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-4000:]
    return {"stdout": done.stdout, **json.loads(done.stdout.split("RESULT ", 1)[1])}


@pytest.mark.timeout(400)
def test_model_trainer_trains_and_model_builder_deploys(server: ServerProcess,
                                                        flow: dict[str, Any]) -> None:
    # The SDK tailed the job's own log: its driver's lines and the script's.
    assert "Running Basic Script driver" in flow["stdout"]
    assert "train:r2=1.0000" in flow["stdout"]
    assert flow["prediction"] == pytest.approx([6.0, 5.0])
    job = flow["job"]
    assert flow["model_data"] == f"s3://sdk3-bucket/sdk3/{job}/output/model.tar.gz"
    with tarfile.open(server.data_dir / "s3" / "sdk3-bucket" / "sdk3" / job / "output"
                      / "model.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["code/inference.py", "model.joblib"]
    # What the SDK sent: its driver as the container's command, its code and drivers as
    # channels it uploaded beside the job.
    desc = client(server, "sagemaker").describe_training_job(TrainingJobName=job)
    assert desc["AlgorithmSpecification"]["ContainerEntrypoint"] == ["/bin/bash"]
    assert sorted(c["ChannelName"] for c in desc["InputDataConfig"]) == [
        "code", "sm_drivers", "train"]
    inputs = server.data_dir / "s3" / "sdk3-bucket" / "sdk3" / job / "input"
    assert (inputs / "sm_drivers" / "sm_train.sh").is_file()
    assert (inputs / "code" / "train.py").is_file()
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert client(server, "sagemaker").list_endpoints()["Endpoints"] == []


def test_a_trainer_with_an_image_of_ones_own_is_refused_naming_it(flow: dict[str, Any]) -> None:
    assert flow["refused"]["Code"] == "ValidationException"
    assert flow["refused"]["Message"].startswith(
        "AlgorithmSpecification.TrainingImage: "
        "'123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:latest' is not a SageMaker "
        "framework image")
