"""The generated constraint table (``tandem/api/model_rules.json``) and its checker.

The table must equal what ``scripts/gen_model_rules.py`` builds from the installed
botocore, for every operation the services serve; the checker's messages are AWS's
``N validation errors detected: Value 'x' at 'path' failed to satisfy constraint: ...``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tandem.api import logs, sagemaker, sagemaker_jobs, tags
from tandem.api.model_rules import TABLE_PATH, ServiceRules, rules, served_operations
from tandem.errors import InvalidParameterValue, MissingParameter

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "gen_model_rules", ROOT / "scripts" / "gen_model_rules.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_matches_the_installed_botocore() -> None:
    generator = _generator()
    assert TABLE_PATH.read_text() == generator.render(generator.build_table()), (
        "tandem/api/model_rules.json is stale: run scripts/gen_model_rules.py"
    )


def test_every_served_operation_has_rules() -> None:
    table = json.loads(TABLE_PATH.read_text())
    served = served_operations()
    assert sorted(table) == ["application-autoscaling", "cloudwatch", "logs", "sagemaker"]
    for service, operations in served.items():
        assert sorted(table[service]["operations"]) == operations
    expected = {*sagemaker.SHAPES, *sagemaker_jobs.SHAPES, *tags.SAGEMAKER_SHAPES}
    assert set(served["sagemaker"]) == expected
    assert set(served["logs"]) == {*logs.SHAPES, "StartLiveTail", *tags.LOGS_SHAPES}


def _message(rule: ServiceRules, op: str, body: dict[str, Any]) -> str:
    with pytest.raises(InvalidParameterValue) as info:
        rule.check(op, body)
    return info.value.message


def test_enum_range_length_and_pattern_texts() -> None:
    sm = rules("sagemaker")
    assert _message(sm, "ListTrainingJobs", {"StatusEquals": "Sleeping"}) == (
        "1 validation error detected: Value 'Sleeping' at 'statusEquals' failed to satisfy "
        "constraint: Member must satisfy enum value set: "
        "[InProgress, Completed, Failed, Stopping, Stopped, Deleting]"
    )
    assert _message(sm, "ListTransformJobs", {"MaxResults": 101}) == (
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy "
        "constraint: Member must have value less than or equal to 100"
    )
    assert _message(sm, "ListNotebookInstances", {"NameContains": "a b"}) == (
        "1 validation error detected: Value 'a b' at 'nameContains' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-]+"
    )
    lg = rules("logs")
    assert _message(lg, "DescribeLogStreams", {"orderBy": ""}) == (
        "1 validation error detected: Value '' at 'orderBy' failed to satisfy constraint: "
        "Member must satisfy enum value set: [LogStreamName, LastEventTime]"
    )


def test_nested_members_are_named_by_path_and_every_error_is_listed() -> None:
    body = {
        "EndpointConfigName": "c",
        "ProductionVariants": [
            {"VariantName": "v", "ModelName": "m"},
            {
                "VariantName": "w",
                "ModelName": "m",
                "ServerlessConfig": {"MemorySizeInMB": 512, "MaxConcurrency": 201},
            },
        ],
    }
    assert _message(rules("sagemaker"), "CreateEndpointConfig", body) == (
        "2 validation errors detected: "
        "Value '512' at 'productionVariants.2.member.serverlessConfig.memorySizeInMB' failed "
        "to satisfy constraint: Member must have value greater than or equal to 1024; "
        "Value '201' at 'productionVariants.2.member.serverlessConfig.maxConcurrency' failed "
        "to satisfy constraint: Member must have value less than or equal to 200"
    )


def test_map_keys_and_values_and_unicode_classes() -> None:
    lg = rules("logs")
    lg.check("TagResource", {"resourceArn": "arn:aws:logs:r:1:log-group:g", "tags": {"é ü": "ñ"}})
    message = _message(lg, "TagLogGroup", {"logGroupName": "g", "tags": {"k": "v" * 257}})
    assert message.startswith(
        "1 validation error detected: Value '{k=vvvv"
    ) and message.endswith(
        "at 'tags' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 256]"
    )
    message = _message(lg, "TagLogGroup", {"logGroupName": "g", "tags": {"a*b": "v"}})
    assert "Map keys must satisfy constraint: [Member must satisfy regular expression" in message


def test_log_group_arns_ending_in_a_wildcard_are_refused() -> None:
    lg = rules("logs")
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:g"
    lg.check("GetLogEvents", {"logGroupIdentifier": arn, "logStreamName": "s"})
    assert "at 'logGroupIdentifier' failed to satisfy constraint: Member must satisfy " \
        "regular expression pattern" in _message(
            lg, "GetLogEvents", {"logGroupIdentifier": arn + ":*", "logStreamName": "s"})
    assert "at 'logGroupIdentifiers.1.member'" in _message(
        lg, "StartLiveTail", {"logGroupIdentifiers": [arn + ":*"]})


def test_missing_members_alone_are_missing_parameter() -> None:
    with pytest.raises(MissingParameter) as info:
        rules("sagemaker").check("AddTags", {})
    assert info.value.message == (
        "2 validation errors detected: Value null at 'resourceArn' failed to satisfy "
        "constraint: Member must not be null; Value null at 'tags' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_local_paths_stay_accepted_and_instance_types_are_checked() -> None:
    """The intended differences of docs/api-compatibility.md; instance types are AWS's enums."""
    rules("sagemaker").check(
        "CreateModel",
        {"ModelName": "m", "PrimaryContainer": {"Image": "x", "ModelDataUrl": "/tmp/m.tar.gz"}},
    )
    rules("sagemaker").check(
        "CreateEndpointConfig",
        {
            "EndpointConfigName": "c",
            "ProductionVariants": [
                {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.g5.xlarge"}
            ],
        },
    )
    for operation, request, where in [
        ("CreateEndpointConfig",
         {"EndpointConfigName": "c",
          "ProductionVariants": [
              {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.tiny"}]},
         "productionVariants.1.member.instanceType"),
        ("CreateNotebookInstance",
         {"NotebookInstanceName": "n", "RoleArn": "arn:aws:iam::123456789012:role/r",
          "InstanceType": "ml.tiny"},
         "instanceType"),
    ]:  # fmt: skip
        message = _message(rules("sagemaker"), operation, request)
        assert f"Value 'ml.tiny' at '{where}' failed to satisfy constraint: Member must " \
            "satisfy enum value set: [ml.t2.medium," in message


def test_declared_members_are_the_models() -> None:
    """No operation takes a member its model does not have (it would be accepted and
    ignored); members a newer model added that tandem does not implement are refused as
    unknown."""
    import botocore.session

    session = botocore.session.get_session()
    declared = {
        "sagemaker": {**sagemaker.SHAPES, **sagemaker_jobs.SHAPES, **tags.SAGEMAKER_SHAPES},
        "logs": {**logs.SHAPES, **tags.LOGS_SHAPES},
    }
    for service, shapes in declared.items():
        model = session.get_service_model(service)
        for op, members in shapes.items():
            assert set(members) <= set(model.operation_model(op).input_shape.members), op


def _draw_value(draw: Any, rule: ServiceRules, shape_name: str, depth: int) -> Any:
    """A value for the shape: often valid-looking, often breaking one of its constraints."""
    from hypothesis import strategies as st

    shape = rule.shapes[shape_name]
    kind = shape["type"]
    if kind == "structure":
        members = sorted(shape.get("members", {}))
        if depth > 3 or not members:
            return {}
        chosen = draw(st.lists(st.sampled_from(members), max_size=4, unique=True))
        return {m: _draw_value(draw, rule, shape["members"][m], depth + 1) for m in chosen}
    if kind == "list":
        size = draw(st.integers(0, 3))
        return [_draw_value(draw, rule, shape["member"], depth + 1) for _ in range(size)]
    if kind == "map":
        keys = draw(st.lists(st.text(max_size=5), max_size=3, unique=True))
        return {k: _draw_value(draw, rule, shape["value"], depth + 1) for k in keys}
    if kind == "string":
        options = [st.text(max_size=8), st.just("a" * (shape.get("max", 8) + 1))]
        if "enum" in shape:
            options.append(st.sampled_from(shape["enum"]))
        return draw(st.one_of(options))
    if kind in ("integer", "long"):
        return draw(st.integers(-5, 20_000))
    if kind in ("float", "double"):
        return draw(st.floats(-5, 20_000, allow_nan=False))
    if kind == "boolean":
        return draw(st.booleans())
    return 0


def test_the_walk_that_skips_inert_shapes_finds_what_a_full_walk_finds() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    fast = {"sagemaker": rules("sagemaker"), "logs": rules("logs")}
    naive = {}
    for service, rule in fast.items():
        full = ServiceRules(service, lower_first=rule.lower_first)
        full._active = frozenset(full.shapes)  # walk every member, inert or not
        naive[service] = full

    def outcome(rule: ServiceRules, op: str, body: dict[str, Any]) -> tuple[str, str]:
        try:
            rule.check(op, body)
        except (InvalidParameterValue, MissingParameter) as error:
            return type(error).__name__, error.message
        return "ok", ""

    @st.composite
    def requests(draw: Any) -> tuple[str, str, dict[str, Any]]:
        service = draw(st.sampled_from(sorted(fast)))
        rule = fast[service]
        op = draw(st.sampled_from(sorted(rule.operations)))
        return service, op, _draw_value(draw, rule, rule.operations[op], 0)

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(request=requests())
    def check(request: tuple[str, str, dict[str, Any]]) -> None:
        service, op, body = request
        assert outcome(fast[service], op, body) == outcome(naive[service], op, body)

    check()
