"""The SageMaker Python SDK 2.x unchanged against tandem: a PipelineModel of two SKLearnModels
(scaler, then regression) with model data in tandem's S3, deployed as one endpoint and called
with the SDK's CSV serializer and JSON deserializer; then Transformer.transform over an s3://
prefix with split_type="Line", assemble_with="Line" and join_source="Input"."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sdk.support import sdk_client_env
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

SCALER = '''
import os, joblib, numpy as np
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def predict_fn(data, model):
    return model.transform(np.asarray(data, dtype=float).reshape(-1, 2))
'''
REGRESSION = '''
import os, joblib, numpy as np
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def predict_fn(data, model):
    return model.predict(np.asarray(data, dtype=float).reshape(-1, 2))
'''
FLOW = '''
import io, json, sys, tarfile
import boto3, joblib, numpy as np, sagemaker
from sagemaker.deserializers import JSONDeserializer
from sagemaker.pipeline import PipelineModel
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer
from sagemaker.sklearn import SKLearnModel
from sagemaker.transformer import Transformer
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

code, work = sys.argv[1], sys.argv[2]
X = np.array([[x, y] for x in range(10) for y in range(5)], dtype=float)
scaler = StandardScaler().fit(X)
regression = LinearRegression().fit(scaler.transform(X), 2 * X[:, 0] + 3 * X[:, 1] + 1)
s3 = boto3.client("s3")
s3.create_bucket(Bucket="sdk-pipeline")
for name, fitted in (("scaler", scaler), ("regression", regression)):
    joblib.dump(fitted, f"{work}/model.joblib")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(f"{work}/model.joblib", arcname="model.joblib")
    s3.put_object(Bucket="sdk-pipeline", Key=f"{name}/model.tar.gz", Body=buffer.getvalue())
session = sagemaker.Session(default_bucket="sdk-pipeline")
role = "arn:aws:iam::000000000000:role/x"
models = [SKLearnModel(model_data=f"s3://sdk-pipeline/{name}/model.tar.gz", role=role,
                       entry_point=f"{name}.py", source_dir=code, framework_version="1.2-1",
                       sagemaker_session=session) for name in ("scaler", "regression")]
pipeline = PipelineModel(models=models, role=role, sagemaker_session=session,
                         name="sdk-pipeline-model")
pipeline.deploy(initial_instance_count=1, instance_type="ml.m5.large",
                endpoint_name="sdk-pipeline")
predictor = Predictor("sdk-pipeline", sagemaker_session=session, serializer=CSVSerializer(),
                      deserializer=JSONDeserializer())
online = predictor.predict([[1.0, 1.0], [2.0, 0.0]])
predictor.delete_endpoint()
s3.put_object(Bucket="sdk-pipeline", Key="batch/in/a.csv", Body=b"1,1\\n2,0\\n")
s3.put_object(Bucket="sdk-pipeline", Key="batch/in/b.csv", Body=b"0,0\\n")
transformer = Transformer(model_name="sdk-pipeline-model", instance_count=1,
                          instance_type="ml.m5.large", output_path="s3://sdk-pipeline/batch/out",
                          sagemaker_session=session, assemble_with="Line", accept="text/csv")
transformer.transform("s3://sdk-pipeline/batch/in/", content_type="text/csv", split_type="Line",
                      join_source="Input", wait=True, logs=False)
batch = {key: s3.get_object(Bucket="sdk-pipeline", Key=f"batch/out/{key}")["Body"].read().decode()
         for key in ("a.csv.out", "b.csv.out")}
print("RESULT " + json.dumps({"online": online, "batch": batch}))
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-sdk-pipeline"), extra=FAST_FLAGS).start()
    yield proc
    proc.stop()


def _rows(text: str) -> list[list[float]]:
    return [[float(v) for v in line.split(",")] for line in text.splitlines()]


def test_pipeline_model_and_transformer(server: ServerProcess, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "scaler.py").write_text(SCALER)
    (code / "regression.py").write_text(REGRESSION)
    (tmp_path / "flow.py").write_text(FLOW)
    env = sdk_client_env(server, tmp_path / "home")
    done = subprocess.run([sys.executable, str(tmp_path / "flow.py"), str(code), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["online"] == pytest.approx([6.0, 5.0])
    # join_source="Input": each output line is the input record, then the prediction.
    a = _rows(result["batch"]["a.csv.out"])
    b = _rows(result["batch"]["b.csv.out"])
    assert [row[:2] for row in a] == [[1.0, 1.0], [2.0, 0.0]] and [row[:2] for row in b] == [
        [0.0, 0.0]]
    assert [row[2] for row in a + b] == pytest.approx([6.0, 5.0, 1.0])
