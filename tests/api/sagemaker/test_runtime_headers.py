"""InvokeEndpoint's optional headers end to end: what reaches the container, what comes back,
and the limits the server enforces (botocore checks none of them)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.support import stage_container, wait_status

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def endpoint(sagemaker) -> str:  # type: ignore[no-untyped-def]
    sagemaker.create_model(
        ModelName="hdr", Containers=[stage_container("first"), stage_container("last")]
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="hdr",
        ProductionVariants=[
            {
                "VariantName": "Main",
                "ModelName": "hdr",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            },
            {
                "VariantName": "Shadow",
                "ModelName": "hdr",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 0.0,
            },
        ],
    )
    sagemaker.create_endpoint(EndpointName="hdr", EndpointConfigName="hdr")
    wait_status(sagemaker, "hdr", "InService")
    return "hdr"


def test_custom_attributes_reach_every_container_verbatim_and_come_back(runtime, endpoint) -> None:  # type: ignore[no-untyped-def]
    attributes = 'c000b4f9-df62-4c85-a0bf-7c525f9104a4,trace=1;x="y z"'
    response = runtime.invoke_endpoint(
        EndpointName=endpoint,
        Body=b'{"instances": [1]}',
        ContentType="application/json",
        CustomAttributes=attributes,
    )
    # The stage echoes what it received prefixed with its name: the last one answers.
    response["Body"].read()
    assert response["CustomAttributes"] == f"last:{attributes}"


def test_no_custom_attributes_means_none_returned(runtime, endpoint) -> None:  # type: ignore[no-untyped-def]
    response = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=b"{}", ContentType="application/json"
    )
    response["Body"].read()
    assert "CustomAttributes" not in response


def test_target_variant_picks_a_zero_weight_variant(runtime, endpoint) -> None:  # type: ignore[no-untyped-def]
    def variant(**kwargs: str) -> str:
        response = runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}", **kwargs)
        response["Body"].read()
        return response["InvokedProductionVariant"]

    assert {variant() for _ in range(10)} == {"Main"}
    assert variant(TargetVariant="Shadow") == "Shadow"
    with pytest.raises(runtime.exceptions.ValidationError) as info:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}", TargetVariant="Nope")
    assert (
        info.value.response["Error"]["Message"]
        == "The variant Nope does not exist for endpoint hdr."
    )


def test_inference_id_is_accepted_and_the_pipeline_answers(runtime, endpoint) -> None:  # type: ignore[no-untyped-def]
    response = runtime.invoke_endpoint(
        EndpointName=endpoint,
        Body=b'{"instances": [1]}',
        ContentType="application/json",
        InferenceId="req-0001",
    )
    assert json.loads(response["Body"].read())["instances"] == [3]


def test_target_container_hostname_refused_on_a_serial_pipeline(runtime, endpoint) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(runtime.exceptions.ValidationError) as info:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}", TargetContainerHostname="last")
    assert info.value.response["Error"]["Message"] == (
        "TargetContainerHostname can only be specified for an endpoint with Direct invocation mode."
    )


@pytest.mark.parametrize(
    ("member", "value", "header"),
    [
        ("CustomAttributes", "a" * 1025, "X-Amzn-SageMaker-Custom-Attributes"),
        ("TargetVariant", "v" * 64, "X-Amzn-SageMaker-Target-Variant"),
        ("TargetContainerHostname", "h" * 64, "X-Amzn-SageMaker-Target-Container-Hostname"),
        ("InferenceId", "i" * 65, "X-Amzn-SageMaker-Inference-Id"),
        ("ContentType", "t/" + "x" * 1023, "Content-Type"),
        ("Accept", "t/" + "x" * 1023, "Accept"),
    ],
)
def test_header_over_its_limit_is_a_validation_error(
    runtime, endpoint, member, value, header
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(runtime.exceptions.ValidationError) as info:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}", **{member: value})
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"].startswith(f"{header} must be at most ")
