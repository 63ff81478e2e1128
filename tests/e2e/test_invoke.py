"""InvokeEndpoint end to end: boto3's sagemaker-runtime, a real server, real containers."""

from __future__ import annotations

import json
import time

import botocore.exceptions
import pytest

from tests.e2e.support import deploy, stage_container, wait_status

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline(sagemaker) -> str:  # type: ignore[no-untyped-def]
    deploy(
        sagemaker,
        "three-stages",
        [stage_container("first"), stage_container("second"), stage_container("third")],
    )
    return "three-stages"


def test_serial_pipeline_chains_bodies_and_content_types(runtime, pipeline) -> None:  # type: ignore[no-untyped-def]
    response = runtime.invoke_endpoint(
        EndpointName=pipeline,
        Body=json.dumps({"instances": [[1.0, 2.0]]}),
        ContentType="application/json",
        Accept="application/json",
        CustomAttributes="trace=1",
    )
    body = json.loads(response["Body"].read())
    assert body["instances"] == [[4.0, 5.0]]
    # Content-Type of the client reaches the first container, each hop carries the previous
    # response's; Accept reaches only the last container.
    assert body["seen"] == [
        ["first", "application/json", None],
        ["second", "application/json", None],
        ["third", "application/json", "application/json"],
    ]
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["CustomAttributes"] == "third:trace=1"


def test_missing_content_type_is_not_invented(runtime, pipeline) -> None:  # type: ignore[no-untyped-def]
    response = runtime.invoke_endpoint(EndpointName=pipeline, Body=b'{"instances": [1]}')
    body = json.loads(response["Body"].read())
    assert body["seen"][0] == ["first", None, None]


def test_unknown_endpoint_is_validation_error(runtime) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(runtime.exceptions.ValidationError) as info:
        runtime.invoke_endpoint(EndpointName="nope", Body=b"{}")
    assert (
        info.value.response["Error"]["Message"]
        == "Endpoint nope of account 000000000000 not found."
    )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_container_4xx_is_model_error_naming_the_container(runtime, pipeline) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(runtime.exceptions.ModelError) as info:
        runtime.invoke_endpoint(
            EndpointName=pipeline,
            Body=json.dumps({"status": 404, "fail_at": "second"}),
            ContentType="application/json",
        )
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 404
    assert response["OriginalMessage"] == "second says 404"
    assert response["LogStreamArn"] == (
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/three-stages"
    )
    assert response["Error"]["Message"].startswith(
        'Received client error (404) from second with message "second says 404". See https://'
    )


def test_container_5xx_is_model_error(runtime, pipeline) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(runtime.exceptions.ModelError) as info:
        runtime.invoke_endpoint(
            EndpointName=pipeline,
            Body=json.dumps({"status": 503, "fail_at": "third"}),
            ContentType="application/json",
        )
    assert info.value.response["OriginalStatusCode"] == 503
    assert "Received server error (503) from third" in info.value.response["Error"]["Message"]


def test_bad_endpoint_name_and_oversized_body_are_validation_errors(runtime, pipeline) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(runtime.exceptions.ValidationError):
        runtime.invoke_endpoint(EndpointName="bad_name!", Body=b"{}")
    with pytest.raises(runtime.exceptions.ValidationError) as info:
        runtime.invoke_endpoint(EndpointName=pipeline, Body=b"x" * (6 * 1024 * 1024 + 1))
    assert "exceeds the limit of 6291456 bytes" in info.value.response["Error"]["Message"]


def test_target_container_only_for_direct_endpoints(runtime, pipeline) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(runtime.exceptions.ValidationError):
        runtime.invoke_endpoint(EndpointName=pipeline, Body=b"{}", TargetContainerHostname="first")


def test_direct_mode_invokes_only_the_named_container(sagemaker, runtime) -> None:  # type: ignore[no-untyped-def]
    deploy(
        sagemaker, "direct-two", [stage_container("left"), stage_container("right")], mode="Direct"
    )
    response = runtime.invoke_endpoint(
        EndpointName="direct-two",
        Body=json.dumps({"instances": [1]}),
        ContentType="application/json",
        TargetContainerHostname="right",
    )
    body = json.loads(response["Body"].read())
    assert body["instances"] == [2]
    assert [s[0] for s in body["seen"]] == ["right"]
    with pytest.raises(runtime.exceptions.ValidationError):
        runtime.invoke_endpoint(EndpointName="direct-two", Body=b"{}")
    with pytest.raises(runtime.exceptions.ValidationError):
        runtime.invoke_endpoint(
            EndpointName="direct-two", Body=b"{}", TargetContainerHostname="middle"
        )


def test_target_variant_overrides_weights(sagemaker, runtime) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_model(ModelName="variant-a", Containers=[stage_container("a")])
    sagemaker.create_model(ModelName="variant-b", Containers=[stage_container("b")])
    sagemaker.create_endpoint_config(
        EndpointConfigName="two-variants",
        ProductionVariants=[
            {
                "VariantName": "A",
                "ModelName": "variant-a",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            },
            {
                "VariantName": "B",
                "ModelName": "variant-b",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 0.0,
            },
        ],
    )
    sagemaker.create_endpoint(EndpointName="two-variants", EndpointConfigName="two-variants")
    wait_status(sagemaker, "two-variants", "InService")
    seen = {
        runtime.invoke_endpoint(
            EndpointName="two-variants", Body=b"{}", ContentType="application/json"
        )["InvokedProductionVariant"]
        for _ in range(20)
    }
    assert seen == {"A"}
    response = runtime.invoke_endpoint(
        EndpointName="two-variants", Body=b"{}", ContentType="application/json", TargetVariant="B"
    )
    assert response["InvokedProductionVariant"] == "B"
    with pytest.raises(runtime.exceptions.ValidationError):
        runtime.invoke_endpoint(EndpointName="two-variants", Body=b"{}", TargetVariant="C")


def test_control_plane_not_found_is_validation_exception(sagemaker) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.describe_endpoint(EndpointName="missing")
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        'Could not find endpoint "arn:aws:sagemaker:us-east-1:000000000000:endpoint/missing".'
    )


def test_container_crash_mid_request_is_model_error(sagemaker, runtime) -> None:  # type: ignore[no-untyped-def]
    deploy(sagemaker, "crashy", [stage_container("fragile")])
    with pytest.raises(runtime.exceptions.ModelError) as info:
        runtime.invoke_endpoint(
            EndpointName="crashy", Body=json.dumps({"crash": True}), ContentType="application/json"
        )
    assert info.value.response["OriginalStatusCode"] == 0
    assert "Received server error (0) from primary" not in info.value.response["Error"]["Message"]
    assert "Received server error (0) from fragile" in info.value.response["Error"]["Message"]


def test_invocation_timeout_is_model_error_naming_the_container(sagemaker, runtime) -> None:  # type: ignore[no-untyped-def]
    deploy(sagemaker, "sleepy", [stage_container("dozer"), stage_container("after")])
    started = time.monotonic()
    with pytest.raises(runtime.exceptions.ModelError) as info:
        runtime.invoke_endpoint(
            EndpointName="sleepy", Body=json.dumps({"sleep": 60}), ContentType="application/json"
        )
    # The server runs with --invocation-timeout 3; the container would answer after 60 s.
    assert 2.5 < time.monotonic() - started < 45
    message = info.value.response["Error"]["Message"]
    assert "Your invocation timed out while waiting for a response from container dozer." in message
