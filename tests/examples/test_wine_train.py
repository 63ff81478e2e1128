"""train.py writes three valid, deterministic model archives that endpoint.yaml points at."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import joblib
import numpy as np
import yaml
from sklearn.datasets import load_wine
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.preprocessing import StandardScaler

from examples.wine_pipeline import ARTIFACTS_DIR, ENDPOINT_FILE, EXAMPLE_DIR
from examples.wine_pipeline.train import ARCHIVE_MEMBERS, ArtifactPaths, main, train


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        infos = tar.getmembers()
        assert all(info.isfile() for info in infos)
        files = {info.name: tar.extractfile(info) for info in infos}
        return {name: file.read() for name, file in files.items() if file is not None}


def test_train_writes_one_archive_per_container(artifacts: ArtifactPaths):
    root = artifacts.preprocess.parent.parent
    assert artifacts.archives() == {
        "preprocess": root / "preprocess" / "model.tar.gz",
        "model": root / "model" / "model.tar.gz",
        "postprocess": root / "postprocess" / "model.tar.gz",
    }
    assert sorted(p.name for p in root.iterdir()) == ["model", "postprocess", "preprocess"]


def test_each_archive_is_a_tar_gz_with_exactly_the_expected_members(artifacts: ArtifactPaths):
    for container, archive in artifacts.archives().items():
        assert archive.read_bytes()[:2] == b"\x1f\x8b"  # gzip magic
        assert sorted(_members(archive)) == sorted(ARCHIVE_MEMBERS[container])


def test_labels_json_holds_the_class_names_in_index_order(model_dirs: dict[str, Path]):
    labels = json.loads((model_dirs["postprocess"] / "labels.json").read_text())
    assert labels == ["class_0", "class_1", "class_2"]


def test_scaler_is_fitted_on_the_wine_features(model_dirs: dict[str, Path]):
    scaler = joblib.load(model_dirs["preprocess"] / "scaler.joblib")
    data = load_wine().data
    assert isinstance(scaler, StandardScaler)
    assert scaler.n_features_in_ == 13
    np.testing.assert_allclose(scaler.mean_, data.sum(axis=0) / len(data), rtol=1e-12)
    np.testing.assert_allclose(scaler.scale_, data.std(axis=0), rtol=1e-12)


def test_classifier_is_fitted_on_scaled_features(model_dirs: dict[str, Path]):
    classifier = joblib.load(model_dirs["model"] / "model.joblib")
    scaler = joblib.load(model_dirs["preprocess"] / "scaler.joblib")
    wine = load_wine()
    assert isinstance(classifier, GradientBoostingClassifier)
    assert classifier.classes_.tolist() == [0, 1, 2]
    assert classifier.n_features_in_ == 13
    assert classifier.score(scaler.transform(wine.data), wine.target) == 1.0


def test_training_reports_its_accuracy(artifacts: ArtifactPaths):
    assert artifacts.train_accuracy == 1.0


def test_training_again_writes_byte_identical_archives(artifacts: ArtifactPaths, tmp_path):
    again = train(tmp_path)
    for container, archive in artifacts.archives().items():
        assert again.archives()[container].read_bytes() == archive.read_bytes(), container
    # And over an existing output, in place, leaving no temporary files behind.
    before = {c: p.read_bytes() for c, p in again.archives().items()}
    train(tmp_path)
    assert {c: p.read_bytes() for c, p in again.archives().items()} == before
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "model/model.tar.gz", "postprocess/model.tar.gz", "preprocess/model.tar.gz",
    ]


def test_main_trains_into_output_dir_and_prints_each_archive(tmp_path, capsys):
    assert main(["--output-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["preprocess", "model", "postprocess"]
    assert [line.split()[1] for line in lines[:3]] == [
        str(tmp_path / c / "model.tar.gz") for c in ("preprocess", "model", "postprocess")
    ]
    assert lines[3].startswith("trained in ") and lines[3].endswith("training accuracy 1.000")


def test_artifacts_dir_is_gitignored():
    result = subprocess.run(
        ["git", "check-ignore", "-q", str(ARTIFACTS_DIR / "model" / "model.tar.gz")],
        cwd=EXAMPLE_DIR, capture_output=True,
    )
    assert result.returncode == 0, result.stderr


def test_endpoint_yaml_points_at_the_archives_train_writes_and_the_container_code():
    spec = yaml.safe_load(ENDPOINT_FILE.read_text())
    (model,) = spec["Models"]
    assert model["ModelName"] == "wine-pipeline"
    assert model["InferenceExecutionConfig"] == {"Mode": "Serial"}
    containers = model["Containers"]
    assert [c["ContainerHostname"] for c in containers] == ["preprocess", "model", "postprocess"]
    for container in containers:
        name = container["ContainerHostname"]
        archive = (EXAMPLE_DIR / container["ModelDataUrl"]).resolve()
        assert archive == ARTIFACTS_DIR / name / "model.tar.gz"
    for container in containers[:2]:
        assert container["Image"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
        env = container["Environment"]
        code = (EXAMPLE_DIR / env["SAGEMAKER_SUBMIT_DIRECTORY"]).resolve()
        assert code == EXAMPLE_DIR / "containers" / container["ContainerHostname"]
        assert (code / env["SAGEMAKER_PROGRAM"]).is_file()
    serve = (EXAMPLE_DIR / containers[2]["Image"]).resolve() / "serve"
    assert serve.is_file() and os.stat(serve).st_mode & stat.S_IXUSR
    assert spec["EndpointConfigs"] == [{
        "EndpointConfigName": "wine-pipeline-config",
        "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": "wine-pipeline",
            "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
            "InitialVariantWeight": 1.0,
        }],
    }]
    assert spec["Endpoints"] == [
        {"EndpointName": "wine-pipeline", "EndpointConfigName": "wine-pipeline-config"}
    ]
