"""Any PutScalingPolicy configuration in the shape of the botocore model (and garbage in any
place) is either accepted or refused with a typed error: the wire checks and the core's
parsers never raise anything else (which would be a 500)."""

from __future__ import annotations

from typing import Any

import botocore.session
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.api.autoscaling_members import SHAPES, check_policy_members
from tandem.api.members import parse_members
from tandem.errors import TandemError
from tandem.scaling.model import ResourceRef, parse_step_scaling, parse_target_tracking

_MODEL = botocore.session.get_session().get_service_model("application-autoscaling")
_INPUT = _MODEL.operation_model("PutScalingPolicy").input_shape
_LEAVES = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False)
_GARBAGE = st.recursive(
    _LEAVES | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2)
    ),
    max_leaves=4,
)
_SCALARS = {
    "string": st.sampled_from(["Average", "Sum", "SageMakerVariantInvocationsPerInstance",
                               "ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity",
                               "AWS/SageMaker", "x", ""]),
    "integer": st.integers(-3, 400), "double": st.floats(-100, 100, allow_nan=False),
    "boolean": st.booleans(),
}  # fmt: skip


def shaped(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values in the shape of a botocore model member; now and then garbage instead."""
    if shape.type_name == "structure" and depth < 6:
        members = {n: shaped(m, depth + 1) for n, m in sorted(shape.members.items())}
        inner = st.fixed_dictionaries({}, optional=members)
    elif shape.type_name == "list" and depth < 6:
        inner = st.lists(shaped(shape.member, depth + 1), min_size=1, max_size=2)
    else:
        inner = _SCALARS.get(shape.type_name, _GARBAGE)
    return st.one_of(*[inner] * 9, _GARBAGE)


REF = ResourceRef("ep", "AllTraffic")


def _wire(member: str, config: Any) -> dict[str, Any]:
    """What the wire layer hands the core: top-level members checked, nested ones too,
    explicit nulls dropped."""
    body = {
        "PolicyName": "p", "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/ep/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount", member: config,
    }  # fmt: skip
    parse_members(body, SHAPES["PutScalingPolicy"], lower_first=True)
    body = {k: v for k, v in body.items() if v is not None}
    check_policy_members(body)
    return body


@settings(max_examples=1000, deadline=None, database=None)
@given(shaped(_INPUT.members["TargetTrackingScalingPolicyConfiguration"]))
def test_target_tracking_configurations(config: Any) -> None:
    try:
        body = _wire("TargetTrackingScalingPolicyConfiguration", config)
        if "TargetTrackingScalingPolicyConfiguration" in body:
            parse_target_tracking(config, REF)
    except TandemError:
        pass


@settings(max_examples=1000, deadline=None, database=None)
@given(shaped(_INPUT.members["StepScalingPolicyConfiguration"]))
def test_step_configurations(config: Any) -> None:
    try:
        body = _wire("StepScalingPolicyConfiguration", config)
        if "StepScalingPolicyConfiguration" in body:
            parse_step_scaling(config)
    except TandemError:
        pass
