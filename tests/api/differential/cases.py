"""The differential cases: the same boto3 calls for tandem and moto, and every intended
difference with its reason (docs/api-compatibility.md lists the same table).

A case is a function of a ``Clients`` (boto3 clients for one server) returning a JSON-able
result; a call that fails returns its error instead (code, message, HTTP status). Volatile
values (times, tokens, ids) are compared for presence only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from tests.e2e.support import STAGE

__all__ = ["CASES", "Case", "Clients", "flatten", "normalize"]

ROLE = "arn:aws:iam::123456789012:role/tandem-differential"
IMAGE = str(STAGE)
VOLATILE = {
    "CreationTime",
    "LastModifiedTime",
    "ResolutionTime",
    "creationTime",
    "ingestionTime",
    "lastIngestionTime",
    "eventId",
    "nextToken",
    "NextToken",
    "nextForwardToken",
    "nextBackwardToken",
    "nextSequenceToken",
    "uploadSequenceToken",
    "firstEventTimestamp",
    "lastEventTimestamp",
    "timestamp",
    "RequestId",
}


@dataclasses.dataclass
class Clients:
    sagemaker: Any
    logs: Any
    is_moto: bool


def call(fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        result = fn(**kwargs)
    except botocore.exceptions.ClientError as exc:
        return {
            "Error": {
                "Code": exc.response["Error"]["Code"],
                "Message": exc.response["Error"].get("Message"),
            },
            "Status": exc.response["ResponseMetadata"]["HTTPStatusCode"],
        }
    result.pop("ResponseMetadata", None)
    return result


def normalize(value: Any, key: str = "") -> Any:
    if key in VOLATILE and value is not None:
        return "<volatile>"
    if isinstance(value, dict):
        return {k: normalize(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v, key) for v in value]
    if isinstance(value, dt.datetime):
        return "<time>"
    return value


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}.{k}" if path else k))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        return out
    return {path: value}


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[Clients], Any]
    # path -> why tandem differs from moto there (AWS's documented behaviour wins).
    differences: dict[str, str] = dataclasses.field(default_factory=dict)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _wait_in_service(sm: Any, name: str) -> None:
    deadline = time.monotonic() + 60
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} not InService")
        time.sleep(0.2)


# -- SageMaker ----------------------------------------------------------------------------------


def _model(c: Clients, name: str) -> Any:
    return call(
        c.sagemaker.create_model,
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "Environment": {"STAGE_NAME": name}},
    )


def sm_model_lifecycle(c: Clients) -> Any:
    return {
        "create": _model(c, "diff-model"),
        "describe": call(c.sagemaker.describe_model, ModelName="diff-model"),
        "duplicate": _model(c, "diff-model"),
        "list": call(c.sagemaker.list_models, NameContains="diff-model"),
        "delete": call(c.sagemaker.delete_model, ModelName="diff-model"),
        "missing": call(c.sagemaker.describe_model, ModelName="diff-model"),
    }


def sm_mixed_case_names(c: Clients) -> Any:
    return {
        "create": _model(c, "Diff-Mixed"),
        "config": call(
            c.sagemaker.create_endpoint_config,
            EndpointConfigName="Diff-Mixed",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "Diff-Mixed",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        ),
    }


def sm_endpoint_config_lifecycle(c: Clients) -> Any:
    _model(c, "diff-cfg-model")
    variants = [
        {
            "VariantName": "AllTraffic",
            "ModelName": "diff-cfg-model",
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
            "InitialVariantWeight": 1.0,
        }
    ]
    return {
        "create": call(
            c.sagemaker.create_endpoint_config,
            EndpointConfigName="diff-config",
            ProductionVariants=variants,
        ),
        "describe": call(c.sagemaker.describe_endpoint_config, EndpointConfigName="diff-config"),
        "duplicate": call(
            c.sagemaker.create_endpoint_config,
            EndpointConfigName="diff-config",
            ProductionVariants=variants,
        ),
        "list": call(c.sagemaker.list_endpoint_configs, NameContains="diff-config"),
        "delete": call(c.sagemaker.delete_endpoint_config, EndpointConfigName="diff-config"),
        "missing": call(c.sagemaker.describe_endpoint_config, EndpointConfigName="diff-config"),
    }


def sm_endpoint_lifecycle(c: Clients) -> Any:
    _model(c, "diff-ep-model")
    call(
        c.sagemaker.create_endpoint_config,
        EndpointConfigName="diff-ep-config",
        ProductionVariants=[
            {
                "VariantName": "A",
                "ModelName": "diff-ep-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            },
            {
                "VariantName": "B",
                "ModelName": "diff-ep-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            },
        ],
    )
    out: dict[str, Any] = {
        "create": call(
            c.sagemaker.create_endpoint,
            EndpointName="diff-endpoint",
            EndpointConfigName="diff-ep-config",
        ),
        "status_at_once": c.sagemaker.describe_endpoint(EndpointName="diff-endpoint")[
            "EndpointStatus"
        ],
    }
    _wait_in_service(c.sagemaker, "diff-endpoint")
    out["describe"] = call(c.sagemaker.describe_endpoint, EndpointName="diff-endpoint")
    out["duplicate"] = call(
        c.sagemaker.create_endpoint,
        EndpointName="diff-endpoint",
        EndpointConfigName="diff-ep-config",
    )
    out["list"] = call(c.sagemaker.list_endpoints, NameContains="diff-endpoint")
    out["weights"] = call(
        c.sagemaker.update_endpoint_weights_and_capacities,
        EndpointName="diff-endpoint",
        DesiredWeightsAndCapacities=[{"VariantName": "B", "DesiredWeight": 3.0}],
    )
    _wait_in_service(c.sagemaker, "diff-endpoint")
    variants = c.sagemaker.describe_endpoint(EndpointName="diff-endpoint")["ProductionVariants"]
    out["weights_after"] = {v["VariantName"]: v["CurrentWeight"] for v in variants}
    out["delete"] = call(c.sagemaker.delete_endpoint, EndpointName="diff-endpoint")
    deadline = time.monotonic() + 60
    while True:
        missing = call(c.sagemaker.describe_endpoint, EndpointName="diff-endpoint")
        if "Error" in missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    out["missing"] = missing
    out["delete_missing"] = call(c.sagemaker.delete_endpoint, EndpointName="diff-endpoint")
    return out


def sm_endpoint_without_config(c: Clients) -> Any:
    return call(
        c.sagemaker.create_endpoint,
        EndpointName="diff-orphan",
        EndpointConfigName="diff-no-such-config",
    )


def sm_server_side_validation(c: Clients) -> Any:
    return {
        "long_name": call(c.sagemaker.describe_endpoint, EndpointName="x" * 64),
        "bad_status": call(c.sagemaker.list_endpoints, StatusEquals="Sleeping"),
        "max_results": call(c.sagemaker.list_models, MaxResults=101),
    }


# -- Logs ---------------------------------------------------------------------------------------


def _group(c: Clients, name: str, stream: str | None = "s") -> None:
    c.logs.create_log_group(logGroupName=name)
    if stream:
        c.logs.create_log_stream(logGroupName=name, logStreamName=stream)


def logs_groups_and_streams(c: Clients) -> Any:
    _group(c, "/diff/groups")
    return {
        "groups": call(c.logs.describe_log_groups, logGroupNamePrefix="/diff/groups"),
        "streams": call(c.logs.describe_log_streams, logGroupName="/diff/groups"),
        "duplicate_group": call(c.logs.create_log_group, logGroupName="/diff/groups"),
        "duplicate_stream": call(
            c.logs.create_log_stream, logGroupName="/diff/groups", logStreamName="s"
        ),
        "too_long": call(c.logs.create_log_group, logGroupName="g" * 513),
        "prefix_and_pattern": call(
            c.logs.describe_log_groups, logGroupNamePrefix="/d", logGroupNamePattern="d"
        ),
        "retention_2": call(
            c.logs.put_retention_policy, logGroupName="/diff/groups", retentionInDays=2
        ),
        "retention_14": call(
            c.logs.put_retention_policy, logGroupName="/diff/groups", retentionInDays=14
        ),
        "after_retention": call(c.logs.describe_log_groups, logGroupNamePrefix="/diff/groups"),
        "delete_stream": call(
            c.logs.delete_log_stream, logGroupName="/diff/groups", logStreamName="s"
        ),
        "delete_stream_again": call(
            c.logs.delete_log_stream, logGroupName="/diff/groups", logStreamName="s"
        ),
        "delete_group": call(c.logs.delete_log_group, logGroupName="/diff/groups"),
        "delete_group_again": call(c.logs.delete_log_group, logGroupName="/diff/groups"),
    }


def logs_put_and_get(c: Clients) -> Any:
    _group(c, "/diff/events")
    now = _now_ms()
    out: dict[str, Any] = {
        "out_of_order": call(
            c.logs.put_log_events,
            logGroupName="/diff/events",
            logStreamName="s",
            logEvents=[
                {"timestamp": now, "message": "b"},
                {"timestamp": now - 1000, "message": "a"},
            ],
        ),
        "rejected": call(
            c.logs.put_log_events,
            logGroupName="/diff/events",
            logStreamName="s",
            logEvents=[
                {"timestamp": now - 30 * 86_400_000, "message": "old"},
                {"timestamp": now + 86_400_000, "message": "future"},
            ],
        ),
        "put": call(
            c.logs.put_log_events,
            logGroupName="/diff/events",
            logStreamName="s",
            logEvents=[{"timestamp": now + i, "message": f"m{i}"} for i in range(3)],
        ),
    }
    pages, token = [], None
    for _ in range(4):
        kwargs = {"nextToken": token} if token else {}
        page = c.logs.get_log_events(
            logGroupName="/diff/events", logStreamName="s", startFromHead=True, limit=2, **kwargs
        )
        pages.append([e["message"] for e in page["events"]])
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    out["pages"] = pages
    out["limit_10001"] = call(
        c.logs.get_log_events, logGroupName="/diff/events", logStreamName="s", limit=10001
    )
    out["bad_token"] = call(
        c.logs.get_log_events,
        logGroupName="/diff/events",
        logStreamName="s",
        nextToken="f/not-a-token",
    )
    out["missing_stream"] = call(
        c.logs.get_log_events, logGroupName="/diff/events", logStreamName="absent"
    )
    return out


CORPUS = [
    "ERROR disk full",
    "WARN disk almost full",
    "ERROR and WARN together",
    "hello world from the app",
    '{"a": 1, "b": 5}',
    "INFO all good",
]
PATTERNS = [
    "ERROR",
    "?ERROR ?WARN",
    "ERROR -WARN",
    '"hello world"',
    "{ $.b > 3 }",
    "[w1=ERROR, w2, w3]",
    "%ERR%",
    "",
]


def logs_filter_patterns(c: Clients) -> Any:
    _group(c, "/diff/filter")
    now = _now_ms()
    c.logs.put_log_events(
        logGroupName="/diff/filter",
        logStreamName="s",
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(CORPUS)],
    )
    out = {
        p or "<empty>": [
            e["message"]
            for e in c.logs.filter_log_events(logGroupName="/diff/filter", filterPattern=p)[
                "events"
            ]
        ]
        for p in PATTERNS
    }
    out["names_and_prefix"] = call(
        c.logs.filter_log_events,
        logGroupName="/diff/filter",
        logStreamNames=["s"],
        logStreamNamePrefix="s",
    )
    out["fields"] = call(
        c.logs.filter_log_events, logGroupName="/diff/filter", filterPattern="INFO"
    )
    return out


# Why tandem differs from moto, one reason per kind of difference; AWS's documented or observed
# behaviour (reference sagemaker-contract.md §4, cloudwatch-api.md §3, §6) is what tandem does.
ARN_CASE = "AWS lowercases the name part of SageMaker ARNs; moto keeps the case"
QUOTES = (
    'AWS quotes the ARN in double quotes (Could not find endpoint "arn:..."); moto uses '
    "single quotes"
)
DUPLICATE = (
    "AWS refuses a second resource of the same name (Cannot create already existing "
    '... "arn:..."); moto accepts it and answers 200'
)
EMPTY = "moto returns members that were never set, empty; AWS omits absent members"
IMAGES = "AWS reports DeployedImages per variant; moto omits them"
STARTS = "tandem starts the containers before InService (Creating first); moto is InService at once"
VALIDATES = "botocore leaves max, pattern and enum checks to the server: AWS rejects, moto accepts"
FIELDS = (
    "AWS's DescribeLogGroups has logGroupClass STANDARD and deletionProtectionEnabled false "
    "for a new group (recorded); moto omits them"
)
STREAM_TEXT = (
    "AWS names the missing or duplicate thing (The specified log stream ...); moto says log group"
)
TOO_LONG = (
    "AWS answers a 513-character name with 'Invalid LogGroup or LogStream, both must "
    "have length less than or equal to 512.' (recorded); moto with a generic text"
)
OLD_INDEX = (
    "AWS's tooOldLogEventEndIndex is an exclusive end index; moto reports the last old index"
)
MATCH_ALL = (
    "moto supports only plain terms and quoted phrases: other filter patterns match "
    "every event there (and `ERROR -WARN` none); tandem implements the syntax"
)
SEARCHED = "AWS returns searchedLogStreams: [] since 2020; moto fills it"

CASES = [
    Case(
        "sm_model_lifecycle",
        sm_model_lifecycle,
        {
            "describe.Containers": EMPTY,
            "describe.VpcConfig": EMPTY,
            "duplicate": DUPLICATE,
            "missing.Error.Message": QUOTES,
        },
    ),
    Case(
        "sm_mixed_case_names",
        sm_mixed_case_names,
        {"create.ModelArn": ARN_CASE, "config.EndpointConfigArn": ARN_CASE},
    ),
    Case(
        "sm_endpoint_config_lifecycle",
        sm_endpoint_config_lifecycle,
        {
            "describe.DataCaptureConfig": EMPTY,
            "duplicate": DUPLICATE,
            "missing.Error.Message": QUOTES,
        },
    ),
    Case(
        "sm_endpoint_lifecycle",
        sm_endpoint_lifecycle,
        {
            "status_at_once": STARTS,
            "describe.DataCaptureConfig": EMPTY,
            "describe.ProductionVariants[0].DeployedImages": IMAGES,
            "describe.ProductionVariants[1].DeployedImages": IMAGES,
            "duplicate": DUPLICATE,
            "missing.Error.Message": QUOTES,
            "delete_missing.Error.Message": QUOTES,
        },
    ),
    Case("sm_endpoint_without_config", sm_endpoint_without_config, {"Error.Message": QUOTES}),
    Case(
        "sm_server_side_validation",
        sm_server_side_validation,
        {"long_name.Error.Message": VALIDATES, "bad_status": VALIDATES, "max_results": VALIDATES},
    ),
    Case(
        "logs_groups_and_streams",
        logs_groups_and_streams,
        {
            "groups.logGroups[0].logGroupClass": FIELDS,
            "groups.logGroups[0].deletionProtectionEnabled": FIELDS,
            "after_retention.logGroups[0].logGroupClass": FIELDS,
            "after_retention.logGroups[0].deletionProtectionEnabled": FIELDS,
            "duplicate_stream.Error.Message": STREAM_TEXT,
            "delete_stream_again.Error.Message": STREAM_TEXT,
            "too_long.Error.Message": TOO_LONG,
            "prefix_and_pattern": VALIDATES,
            "retention_2": VALIDATES,
        },
    ),
    Case(
        "logs_put_and_get",
        logs_put_and_get,
        {
            "rejected.rejectedLogEventsInfo.tooOldLogEventEndIndex": OLD_INDEX,
            "missing_stream.Error.Message": STREAM_TEXT,
        },
    ),
    Case(
        "logs_filter_patterns",
        logs_filter_patterns,
        {
            "?ERROR ?WARN": MATCH_ALL,
            "ERROR -WARN": MATCH_ALL,
            "{ $.b > 3 }": MATCH_ALL,
            "[w1=ERROR, w2, w3]": MATCH_ALL,
            "%ERR%": MATCH_ALL,
            "names_and_prefix": VALIDATES,
            "fields.searchedLogStreams": SEARCHED,
        },
    ),
]
