"""The whole example as a user runs it: a real `tandem serve` on port 0, `tandem deploy
endpoint.yaml --wait`, then every sample request through boto3's InvokeEndpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from examples.wine_pipeline import CONTAINERS_DIR, ENDPOINT_FILE
from examples.wine_pipeline.samples import SampleRequest, load_samples
from examples.wine_pipeline.train import ArtifactPaths
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example_dir(artifacts: ArtifactPaths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """endpoint.yaml beside the real container code and this session's trained artifacts, so
    the test never writes into the repository's artifacts/."""
    root = tmp_path_factory.mktemp("wine-example")
    shutil.copy(ENDPOINT_FILE, root / "endpoint.yaml")
    (root / "containers").symlink_to(CONTAINERS_DIR)
    (root / "artifacts").symlink_to(artifacts.preprocess.parent.parent)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = ServerProcess(tmp_path_factory.mktemp("tandem-data")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def runtime(server: ServerProcess, example_dir: Path):  # type: ignore[no-untyped-def]
    deploy = subprocess.run(
        [sys.executable, "-m", "tandem", "deploy", str(example_dir / "endpoint.yaml"),
         "--wait", "--timeout", "60", "--url", server.url],
        capture_output=True, text=True, timeout=90,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr + "".join(server.output)
    return boto3.client(
        "sagemaker-runtime", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.mark.parametrize("sample", [s for s in load_samples() if s.ok], ids=lambda s: s.name)
def test_good_sample_through_the_deployed_pipeline(runtime, sample: SampleRequest):
    response = runtime.invoke_endpoint(EndpointName="wine-pipeline", Body=sample.body,
                                       ContentType=sample.content_type,
                                       Accept="application/json")
    assert response["ContentType"] == "application/json"
    predictions = json.loads(response["Body"].read())["predictions"]
    assert tuple(p["label"] for p in predictions) == sample.labels
    assert all(p["probability"] == p["probabilities"][p["label"]] for p in predictions)


@pytest.mark.parametrize("sample", [s for s in load_samples() if not s.ok], ids=lambda s: s.name)
def test_bad_sample_is_a_model_error_naming_its_container(runtime, sample: SampleRequest):
    with pytest.raises(runtime.exceptions.ModelError) as raised:
        runtime.invoke_endpoint(EndpointName="wine-pipeline", Body=sample.body,
                                ContentType=sample.content_type)
    error = raised.value.response
    assert error["OriginalStatusCode"] == sample.status
    assert error["Error"]["Message"].startswith(
        f"Received client error ({sample.status}) from {sample.container} with message ")


def test_accept_text_csv_reaches_the_last_container(runtime):
    (sample,) = [s for s in load_samples() if s.name == "three-classes.csv"]
    response = runtime.invoke_endpoint(EndpointName="wine-pipeline", Body=sample.body,
                                       ContentType="text/csv", Accept="text/csv")
    assert response["ContentType"] == "text/csv"
    lines = response["Body"].read().decode().splitlines()
    assert [line.split(",")[0] for line in lines] == ["class_0", "class_1", "class_2"]
