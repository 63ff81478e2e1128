"""Framework images' own defaults on a real server through boto3: a TorchScript model.tar.gz
behind a pytorch-inference image, and the XGBoost image's built-in algorithm trained by a
training job and then served, each checked against the framework's own predictions."""

from __future__ import annotations

import csv
import io
import json
import tarfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.e2e.support import client, deploy, wait_status
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow

PYTORCH = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1.0-cpu-py310"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::000000000000:role/test"


def _serve(sagemaker, name: str, container: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    # Importing torch or transformers in a fresh process is slow on a loaded machine.
    deploy(sagemaker, name, [container], wait=False)
    wait_status(sagemaker, name, "InService", timeout=300.0)


def _tarball(path: Path, files: dict[str, Path]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, source in files.items():
            tar.add(source, arcname=name)
    return path


def test_torchscript_model_serves_with_no_inference_py(sagemaker, runtime,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(11)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(tmp_path / "model.pt"))
    archive = _tarball(tmp_path / "model.tar.gz", {"model.pt": tmp_path / "model.pt"})
    _serve(sagemaker, "torch-default", {"Image": PYTORCH, "ModelDataUrl": str(archive)})

    rows = np.random.default_rng(5).normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(rows)).numpy()
    answer = runtime.invoke_endpoint(EndpointName="torch-default", Body=json.dumps(rows.tolist()),
                                     ContentType="application/json", Accept="application/json")
    assert answer["ContentType"] == "application/json"
    np.testing.assert_allclose(json.loads(answer["Body"].read()), expected, rtol=1e-5)

    stream = io.BytesIO()
    np.save(stream, rows)
    answer = runtime.invoke_endpoint(EndpointName="torch-default", Body=stream.getvalue(),
                                     ContentType="application/x-npy", Accept="application/x-npy")
    np.testing.assert_allclose(np.load(io.BytesIO(answer["Body"].read())), expected, rtol=1e-5)

    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="torch-default", Body=b"<x/>",
                                ContentType="application/xml")
    assert refused.value.response["Error"]["Code"] == "ModelError"
    assert refused.value.response["OriginalStatusCode"] == 415


def _data(path: Path, features: np.ndarray, labels: np.ndarray) -> None:
    path.mkdir(parents=True)
    with open(path / "part-0.csv", "w", newline="") as file:
        csv.writer(file).writerows(np.column_stack([labels, features]).tolist())


def _messages(logs, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                        logStreamNamePrefix=prefix)["logStreams"]
    assert len(streams) == 1
    return [e["message"] for e in logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=streams[0]["logStreamName"],
        startFromHead=True)["events"]]


def test_xgboost_algorithm_trains_publishes_round_metrics_and_serves(  # type: ignore[no-untyped-def]
        server: ServerProcess, sagemaker, runtime, tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(3)
    features = rng.normal(size=(200, 4))
    labels = features @ np.array([2.0, -1.0, 0.5, 0.0]) + rng.normal(scale=0.1, size=200)
    _data(tmp_path / "train", features[:150], labels[:150])
    _data(tmp_path / "validation", features[150:], labels[150:])
    hyperparameters = {"objective": "reg:squarederror", "num_round": "12", "max_depth": "3",
                       "eta": "0.3", "seed": "7"}

    def channel(name: str) -> dict:  # type: ignore[type-arg]
        return {"ChannelName": name, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"file://{tmp_path / name}"}}}

    sagemaker.create_training_job(
        TrainingJobName="xgb-algo", RoleArn=ROLE, HyperParameters=hyperparameters,
        AlgorithmSpecification={"TrainingImage": XGBOOST, "TrainingInputMode": "File"},
        InputDataConfig=[channel("train"), channel("validation")],
        OutputDataConfig={"S3OutputPath": f"file://{tmp_path / 'out'}"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1,
                        "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 120})
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="xgb-algo", WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    desc = sagemaker.describe_training_job(TrainingJobName="xgb-algo")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")

    # The same training in xgboost itself: the artifact predicts exactly as it does.
    reference = xgb.train({"objective": "reg:squarederror", "max_depth": 3, "eta": 0.3,
                           "seed": 7}, xgb.DMatrix(features[:150], label=labels[:150]),
                          num_boost_round=12)
    archive = Path(desc["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("file://"))
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["xgboost-model"]
        raw = tar.extractfile("xgboost-model").read()  # type: ignore[union-attr]
    trained = xgb.Booster()
    trained.load_model(bytearray(raw))
    probe = xgb.DMatrix(features[150:])
    np.testing.assert_array_equal(trained.predict(probe), reference.predict(probe))

    # One log line per round in the built-in's format; its metric definitions matched them.
    rounds = [m for m in _messages(client(server, "logs"), "xgb-algo/") if m.startswith("[")]
    assert len(rounds) == 12
    assert rounds[0].startswith("[0]#011train-rmse:") and "#011validation-rmse:" in rounds[0]
    last = float(rounds[-1].rsplit("#011validation-rmse:", 1)[1])
    final = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    assert set(final) == {"train:rmse", "validation:rmse"}
    assert final["validation:rmse"] == pytest.approx(last)

    # Deployed behind the XGBoost image with no inference.py: CSV in, one score per line out.
    _serve(sagemaker, "xgb-serve", {"Image": XGBOOST, "ModelDataUrl": str(archive)})
    body = "\n".join(",".join(repr(v) for v in row) for row in features[150:160].tolist())
    answer = runtime.invoke_endpoint(EndpointName="xgb-serve", Body=body,
                                     ContentType="text/csv")
    assert answer["ContentType"] == "text/csv"
    scores = [float(line) for line in answer["Body"].read().decode().splitlines()]
    np.testing.assert_allclose(scores, reference.predict(xgb.DMatrix(features[150:160])),
                               rtol=1e-6)
    answer = runtime.invoke_endpoint(EndpointName="xgb-serve", Body=body,
                                     ContentType="text/csv", Accept="application/json")
    assert len(json.loads(answer["Body"].read())["predictions"]) == 10


def test_xgboost_algorithm_without_num_round_fails_with_the_reason(  # type: ignore[no-untyped-def]
        sagemaker, tmp_path: Path) -> None:
    pytest.importorskip("xgboost")
    _data(tmp_path / "train", np.ones((4, 2)), np.zeros(4))
    sagemaker.create_training_job(
        TrainingJobName="xgb-no-rounds", RoleArn=ROLE, HyperParameters={"max_depth": "2"},
        AlgorithmSpecification={"TrainingImage": XGBOOST, "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix",
                             "S3Uri": f"file://{tmp_path / 'train'}"}}}],
        OutputDataConfig={"S3OutputPath": f"file://{tmp_path / 'out'}"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60})
    for _ in range(1200):
        desc = sagemaker.describe_training_job(TrainingJobName="xgb-no-rounds")
        if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.25)
    assert desc["TrainingJobStatus"] == "Failed"
    assert "Missing required hyperparameter: num_round" in desc["FailureReason"]


def test_xgboost_algorithm_refuses_several_instances(sagemaker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as refused:
        sagemaker.create_training_job(
            TrainingJobName="xgb-two", RoleArn=ROLE, HyperParameters={"num_round": "2"},
            AlgorithmSpecification={"TrainingImage": XGBOOST, "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": f"file://{tmp_path}"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2,
                            "VolumeSizeInGB": 1})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "one instance" in refused.value.response["Error"]["Message"]


def test_tensorflow_image_without_tensorflow_fails_with_the_reason(  # type: ignore[no-untyped-def]
        sagemaker, tmp_path: Path) -> None:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("TensorFlow is installed here: the image serves instead")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"not read")
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.13-cpu"
    deploy(sagemaker, "tf-default", [{"Image": image, "ModelDataUrl": str(tmp_path / "model")}],
           wait=False)
    desc = wait_status(sagemaker, "tf-default", "Failed", timeout=300.0)
    assert "TensorFlow is not installed" in desc["FailureReason"]


def test_huggingface_task_pipeline_from_a_local_model_directory(  # type: ignore[no-untyped-def]
        sagemaker, runtime, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    # A tiny random BERT classifier made from a config: nothing comes from the Hub.
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "plot"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = transformers.BertTokenizer(vocab_file=str(tmp_path / "vocab.txt"))
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, num_labels=3, initializer_range=0.8)
    torch.manual_seed(0)
    model_dir = tmp_path / "model"
    transformers.BertForSequenceClassification(config).save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    texts = ["good movie", "bad plot", "movie"]
    reference = transformers.pipeline(task="text-classification", model=str(model_dir),
                                      tokenizer=str(model_dir), device=-1)
    expected = reference(texts, top_k=None)

    image = ("763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:"
             "2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04")
    _serve(sagemaker, "hf-default", {
        "Image": image, "ModelDataUrl": str(model_dir),
        "Environment": {"HF_TASK": "text-classification", "HF_HUB_OFFLINE": "1"}})
    answer = runtime.invoke_endpoint(
        EndpointName="hf-default", ContentType="application/json",
        Body=json.dumps({"inputs": texts, "parameters": {"top_k": None}}))
    got = json.loads(answer["Body"].read())
    assert [[item["label"] for item in row] for row in got] == \
        [[item["label"] for item in row] for row in expected]
    np.testing.assert_allclose([[item["score"] for item in row] for row in got],
                               [[item["score"] for item in row] for row in expected], rtol=1e-5)
    assert len({row[0]["score"] for row in got}) > 1  # the inputs really differ

    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="hf-default", ContentType="application/json",
                                Body=json.dumps({"text": "no inputs"}))
    assert refused.value.response["OriginalStatusCode"] == 400
