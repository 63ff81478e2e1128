"""Tags on scalable targets through boto3 and the AWS CLI against a real server: given at
RegisterScalableTarget (on creation only), TagResource / UntagResource / ListTagsForResource on
the ScalableTargetARN, AWS's error codes, and tags forgotten when the target is deregistered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.sagemaker.conftest import ACCOUNT, REGION, make_client
from tests.e2e.support import deploy, stage_container
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

NS, DIM = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
RID = "endpoint/tagged/variant/AllTraffic"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir: Path = tmp_path_factory.mktemp("tandem-aas-tags")
    proc = ServerProcess(
        data_dir, extra=(*FAST_FLAGS, "--account-id", ACCOUNT, "--region", REGION)
    ).start()
    deploy(make_client(proc, "sagemaker"), "tagged", [stage_container("one")])
    yield proc
    proc.stop()


@pytest.fixture
def aas(server: ServerProcess) -> Iterator[Any]:
    client = make_client(server, "application-autoscaling")
    yield client
    try:
        client.deregister_scalable_target(
            ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM
        )
    except ClientError:
        pass


def _register(aas: Any, **kw: Any) -> str:
    arn: str = aas.register_scalable_target(
        ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM, **kw
    )["ScalableTargetARN"]
    return arn


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = error.value.response["Error"]["Code"]
    return code


def test_tags_round_trip_on_a_scalable_target(aas: Any) -> None:
    arn = _register(aas, MinCapacity=1, MaxCapacity=2, Tags={"team": "ml", "env": "dev"})
    assert arn.startswith(f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/")
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "ml", "env": "dev"}
    aas.tag_resource(ResourceARN=arn, Tags={"env": "prod", "owner": "a@b"})
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {
        "team": "ml", "env": "prod", "owner": "a@b"}  # fmt: skip
    aas.untag_resource(ResourceARN=arn, TagKeys=["team", "absent"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "prod", "owner": "a@b"}
    # Re-registering updates the target; its Tags do not replace the target's tags.
    assert _register(aas, MaxCapacity=3, Tags={"other": "x"}) == arn
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "prod", "owner": "a@b"}


def test_a_deregistered_target_has_no_tags_and_is_not_found(aas: Any) -> None:
    arn = _register(aas, MinCapacity=1, MaxCapacity=2, Tags={"k": "v"})
    aas.deregister_scalable_target(ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM)
    for call in (
        lambda: aas.list_tags_for_resource(ResourceARN=arn),
        lambda: aas.tag_resource(ResourceARN=arn, Tags={"k": "v"}),
        lambda: aas.untag_resource(ResourceARN=arn, TagKeys=["k"]),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert _code(caught) == "ResourceNotFoundException"
    again = _register(aas, MinCapacity=1, MaxCapacity=2)
    assert aas.list_tags_for_resource(ResourceARN=again)["Tags"] == {}


def test_bad_tags_are_refused_with_awss_codes(aas: Any, server: ServerProcess) -> None:
    arn = _register(aas, MinCapacity=1, MaxCapacity=2)
    with pytest.raises(ClientError) as caught:
        aas.tag_resource(ResourceARN=arn, Tags={f"k{i}": "v" for i in range(51)})
    assert _code(caught) == "TooManyTagsException"
    with pytest.raises(ClientError) as caught:
        aas.tag_resource(ResourceARN=arn, Tags={"aws:reserved": "v"})
    assert _code(caught) == "ValidationException"
    raw = make_client(server, "application-autoscaling", parameter_validation=False)
    with pytest.raises(ClientError) as caught:
        raw.tag_resource(ResourceARN=arn, Tags={"k": "v" * 257})
    assert _code(caught) == "ValidationException"
    assert "at 'tags' failed to satisfy constraint: Map value must satisfy constraint" in (
        caught.value.response["Error"]["Message"])  # fmt: skip
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {}


def test_aws_cli_tags_a_scalable_target(aas: Any, server: ServerProcess) -> None:
    arn = _register(aas, MinCapacity=1, MaxCapacity=2)
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": server.url,
    }  # fmt: skip
    aws = [sys.executable, "-m", "awscli", "application-autoscaling"]
    subprocess.run(
        [*aws, "tag-resource", "--resource-arn", arn, "--tags", "stage=blue"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    out = subprocess.run(
        [*aws, "list-tags-for-resource", "--resource-arn", arn, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout)["Tags"] == {"stage": "blue"}
