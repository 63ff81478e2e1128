"""The SageMaker Python SDK 2.x unchanged against tandem, with nothing but AWS_ENDPOINT_URL,
dummy credentials, an explicit role ARN and ``Session(default_bucket=...)``: the SKLearn
estimator in script mode fits from an s3:// channel (the SDK uploads the code, tails the job's
logs through CloudWatch Logs and reads ModelArtifacts), deploys, predicts with its own numpy
serializers, and deletes the endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import client
from tests.sdk.support import sdk_client_env
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

TRAIN = '''
import argparse, glob, os
import joblib
import numpy as np
from sklearn.linear_model import LinearRegression

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--fit-intercept", type=int, default=1)
    args, _ = parser.parse_known_args()
    paths = sorted(glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv")))
    data = np.vstack([np.loadtxt(p, delimiter=",", ndmin=2) for p in paths])
    model = LinearRegression(fit_intercept=bool(args.fit_intercept)).fit(data[:, 1:], data[:, 0])
    print(f"train:r2={model.score(data[:, 1:], data[:, 0]):.4f}", flush=True)
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
'''

FLOW = '''
import json, sys
import boto3, numpy as np, sagemaker
from sagemaker.sklearn import SKLearn

s3 = boto3.client("s3")
s3.create_bucket(Bucket="sdk-bucket")
rows = "\\n".join(f"{2 * x + 3 * y + 1},{x},{y}" for x in range(10) for y in range(5))
s3.put_object(Bucket="sdk-bucket", Key="data/train/part-0.csv", Body=rows.encode())
session = sagemaker.Session(default_bucket="sdk-bucket")
estimator = SKLearn(
    entry_point="train.py", source_dir=sys.argv[1], role="arn:aws:iam::000000000000:role/x",
    instance_type="ml.m5.large", instance_count=1, framework_version="1.2-1", py_version="py3",
    sagemaker_session=session, hyperparameters={"fit-intercept": 1},
    metric_definitions=[{"Name": "train:r2", "Regex": "train:r2=([0-9.]+)"}])
estimator.fit({"train": "s3://sdk-bucket/data/train"}, logs=True)
job = estimator.latest_training_job.name
predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large")
prediction = predictor.predict(np.array([[1.0, 1.0], [2.0, 0.0]]))
endpoint = predictor.endpoint_name
predictor.delete_endpoint()
print("RESULT " + json.dumps({"job": job, "model_data": estimator.model_data,
                              "endpoint": endpoint, "prediction": prediction.tolist()}))
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-sdk"), extra=FAST_FLAGS).start()
    yield proc
    proc.stop()


def test_sklearn_estimator_fit_deploy_predict(server: ServerProcess, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    (tmp_path / "flow.py").write_text(FLOW)
    env = sdk_client_env(server, tmp_path / "home")
    done = subprocess.run([sys.executable, str(tmp_path / "flow.py"), str(code)], env=env,
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    # The SDK tailed the job's own log through CloudWatch Logs.
    assert "train:r2=1.0000" in done.stdout
    assert result["prediction"] == pytest.approx([6.0, 5.0])
    job = result["job"]
    assert result["model_data"] == f"s3://sdk-bucket/{job}/output/model.tar.gz"
    data_dir = server.data_dir
    with tarfile.open(data_dir / "s3" / "sdk-bucket" / job / "output" / "model.tar.gz") as tar:
        assert "model.joblib" in tar.getnames()
    # The SDK uploaded the code where it told the job to read it.
    assert (data_dir / "s3" / "sdk-bucket" / job / "source" / "sourcedir.tar.gz").is_file()
    sagemaker = client(server, "sagemaker")
    desc = sagemaker.describe_training_job(TrainingJobName=job)
    assert desc["ModelArtifacts"]["S3ModelArtifacts"] == result["model_data"]
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert [(m["MetricName"], m["Value"]) for m in desc["FinalMetricDataList"]] == [
        ("train:r2", 1.0)]
    assert sagemaker.list_endpoints()["Endpoints"] == []
