"""Deployment YAML: the example loads; every kind of mistake names the file and the field."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tandem.errors import ConfigError
from tandem.serving.deployment import load_deployment

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wine_pipeline" / "endpoint.yaml"
STAGE = Path(__file__).resolve().parents[1] / "fixtures" / "stage"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deploy.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_deployment(path)
    assert str(path) in info.value.message
    return info.value


def test_example_loads_with_paths_resolved_against_the_file(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text("def model_fn(d):\n    return None\n")
    path = _write(
        tmp_path,
        f"""
        Models:
          - ModelName: m
            Containers:
              - ContainerHostname: a
                Image: sagemaker-scikit-learn:1.2-1
                Environment: {{SAGEMAKER_PROGRAM: inference.py, SAGEMAKER_SUBMIT_DIRECTORY: ./code}}
              - ContainerHostname: b
                Image: {STAGE}
        EndpointConfigs:
          - EndpointConfigName: c
            ProductionVariants: [{{VariantName: v, ModelName: m}}]
        Endpoints:
          - {{EndpointName: e, EndpointConfigName: c}}
    """,
    )
    deployment = load_deployment(path)
    env = deployment.models[0]["Containers"][0]["Environment"]
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == str(code.resolve())
    assert [e["EndpointName"] for e in deployment.endpoints] == ["e"]


def test_malformed_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "Models:\n  - ModelName: [unclosed\n")
    error = _error(path)
    assert "not valid YAML" in error.message
    assert "line 3" in error.message or "line 2" in error.message


def test_unknown_top_level_field(tmp_path: Path) -> None:
    error = _error(_write(tmp_path, "Modles: []\n"))
    assert "Modles: unknown field" in error.message


def test_unknown_container_field(tmp_path: Path) -> None:
    error = _error(
        _write(
            tmp_path,
            f"""
        Models:
          - ModelName: m
            Containers:
              - {{Image: {STAGE}, Imgae: typo}}
    """,
        )
    )
    assert "Models[0]" in error.message
    assert "Containers[0]: unknown field 'Imgae'" in error.message


def test_missing_entry_point(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    error = _error(
        _write(
            tmp_path,
            """
        Models:
          - ModelName: m
            PrimaryContainer:
              Image: sagemaker-scikit-learn:1.2-1
              Environment: {SAGEMAKER_PROGRAM: serve_model.py, SAGEMAKER_SUBMIT_DIRECTORY: ./code}
    """,
        )
    )
    assert "Models[0].PrimaryContainer.Environment.SAGEMAKER_PROGRAM" in error.message
    assert "'serve_model.py' not found" in error.message


def test_missing_model_data_and_bad_variant(tmp_path: Path) -> None:
    error = _error(
        _write(
            tmp_path,
            f"""
        Models:
          - ModelName: m
            PrimaryContainer: {{Image: {STAGE}, ModelDataUrl: ./nowhere/model.tar.gz}}
    """,
        )
    )
    assert "Models[0].PrimaryContainer.ModelDataUrl" in error.message
    error = _error(
        _write(
            tmp_path,
            """
        EndpointConfigs:
          - EndpointConfigName: c
            ProductionVariants: [{VariantName: v, ModelName: m, InitialInstanceCount: 0}]
    """,
        )
    )
    assert "EndpointConfigs[0]" in error.message and "InitialInstanceCount" in error.message


def test_cli_deploy_reports_the_error_and_exits_1(tmp_path: Path) -> None:
    path = _write(tmp_path, "Endpoints:\n  - {EndpointName: e, EndpointConfigName: c, Extra: 1}\n")
    result = subprocess.run(
        [sys.executable, "-m", "tandem", "deploy", str(path), "--url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{path}: Endpoints[0].Extra: unknown field" in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr


def test_the_shipped_example_is_valid(tmp_path: Path, wine_artifacts: Path) -> None:
    example = tmp_path / "wine_pipeline"
    shutil.copytree(EXAMPLE.parent, example, ignore=shutil.ignore_patterns("artifacts"))
    shutil.copytree(wine_artifacts, example / "artifacts")
    deployment = load_deployment(example / "endpoint.yaml")
    assert [c["ContainerHostname"] for c in deployment.models[0]["Containers"]] == [
        "preprocess",
        "model",
        "postprocess",
    ]
