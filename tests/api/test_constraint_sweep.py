"""Every served SageMaker, Logs and Application Auto Scaling operation, sent through boto3
(its own validation turned off) one value outside each enum, length, range and pattern of its
service model, at the top level and nested: each is refused with AWS's code
(ValidationException, InvalidParameterException) and AWS's message naming the member's path
and the constraint.

The expected texts are computed here from botocore's shapes, not from tandem's table; the
members tandem loosens on purpose (docs/api-compatibility.md) and the Logs names whose texts
come from the core are swept for the code alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
import regex
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

from tandem.api import autoscaling, logs, sagemaker, sagemaker_jobs, tags
from tandem.api.model_rules import RELAXED, served_operations
from tests.server_thread import ServerThread

_SESSION = botocore.session.get_session()
DECLARED = {
    "sagemaker": {**sagemaker.SHAPES, **sagemaker_jobs.SHAPES, **tags.SAGEMAKER_SHAPES},
    "logs": {**logs.SHAPES, **tags.LOGS_SHAPES},
    "application-autoscaling": autoscaling.SHAPES,
}
CODES = {"sagemaker": "ValidationException", "logs": "InvalidParameterException",
         "application-autoscaling": "ValidationException"}  # fmt: skip
CORE_CHECKED = {"logs": {"logGroupName", "logStreamName"}}
MAX_DEPTH = 4
# Strings tried, in order, for a member that must hold a valid value.
EXAMPLES = [
    "sweep-x", "sweepx", "1", "a", "File", "/sweep/x", "s3://bucket/key", "https://example.com/x",
    "arn:aws:iam::123456789012:role/sweep", "arn:aws:sagemaker:us-east-1:000000000000:model/x",
    "arn:aws:logs:us-east-1:000000000000:log-group:x", "ml.m5.large", "sweep_x", "x.y",
    "notebook-al2-v3", "application/json", "fs-12345678", "arn:aws:sns:us-east-1:000000000000:t",
    "arn:aws:sagemaker:us-east-1:000000000000:training-plan/x",
    "arn:aws:lambda:us-east-1:000000000000:function:x", "s3://bucket/key.manifest",
    "arn:aws:sagemaker:us-east-1:000000000000:hub-content/h/DataSet/d",
    "arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/x",
]  # fmt: skip
# Strings tried, in order, to break a pattern.
BREAKERS = ["!", " ", "*", "\t", "a b!", "#", "é", "~~"]
FINDINGS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    running = ServerThread(tmp_path_factory.mktemp("tandem-constraints")).start()
    yield running
    running.stop()
    print(f"\nconstraint sweep: {dict(FINDINGS)}")


def _client(server: ServerThread, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(parameter_validation=False, inject_host_prefix=False,
                      retries={"max_attempts": 1, "mode": "standard"}),
    )  # fmt: skip


def _pattern(meta: dict[str, Any]) -> Any:
    """The member's compiled pattern; None when it has none or Python cannot read it (Java's
    ``\\u10000`` ranges in Application Auto Scaling's XML-character pattern), which the server
    skips too."""
    try:
        return regex.compile(meta["pattern"]) if "pattern" in meta else None
    except regex.error:
        return None


def _fits(shape: Any, text: str) -> bool:
    meta = shape.metadata
    if not meta.get("min", 0) <= len(text) <= meta.get("max", 1 << 30):
        return False
    pattern = _pattern(meta)
    return pattern is None or pattern.fullmatch(text) is not None


def _valid(shape: Any, depth: int = 0) -> Any:
    """A value the model accepts (None: none found)."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        out = {}
        for name in shape.required_members:
            value = _valid(shape.members[name], depth + 1)
            if value is None:
                return None
            out[name] = value
        return out
    if kind == "list":
        if not meta.get("min"):
            return []
        item = _valid(shape.member, depth + 1)
        return None if item is None else [item] * meta["min"]
    if kind == "map":
        return {} if not meta.get("min") else {"k": _valid(shape.value, depth + 1)}
    if kind == "string":
        if getattr(shape, "enum", None):
            return shape.enum[0]
        return next((e for e in EXAMPLES if _fits(shape, e)), None)
    if kind in ("integer", "long", "float", "double"):
        return max(meta.get("min", 1), min(1, meta.get("max", 1)))
    return {"boolean": True, "timestamp": 0}.get(kind)


def _bad_values(shape: Any, service: str) -> Iterator[tuple[Any, str]]:
    """(value, AWS's constraint text) for each constraint this shape has."""
    kind, meta = shape.type_name, shape.metadata
    relaxed = RELAXED.get(service, {}).get(shape.name, frozenset())
    if kind == "string":
        if getattr(shape, "enum", None) and "enum" not in relaxed:
            yield "NotAnEnumValue", f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
        if meta.get("min", 0) >= 1:
            yield "", f"Member must have length greater than or equal to {meta['min']}"
        if "max" in meta and meta["max"] <= 4096:
            yield "a" * (meta["max"] + 1), (
                f"Member must have length less than or equal to {meta['max']}")
        pattern = _pattern(meta)
        if pattern is not None and "pattern" not in relaxed:
            for breaker in BREAKERS:
                if meta.get("min", 0) <= len(breaker) <= meta.get("max", 1 << 30) and (
                    pattern.fullmatch(breaker) is None
                ):
                    yield breaker, (
                        f"Member must satisfy regular expression pattern: {meta['pattern']}")
                    break
    elif kind in ("integer", "long", "float", "double"):
        if "min" in meta:
            yield meta["min"] - 1, f"Member must have value greater than or equal to {meta['min']}"
        if "max" in meta:
            yield meta["max"] + 1, f"Member must have value less than or equal to {meta['max']}"
    elif kind == "list":
        item = _valid(shape.member)
        if meta.get("min", 0) >= 1:
            yield [], f"Member must have length greater than or equal to {meta['min']}"
        if "max" in meta and meta["max"] <= 100 and item is not None:
            yield [item] * (meta["max"] + 1), (
                f"Member must have length less than or equal to {meta['max']}")


def _cases(service: str, op: str) -> Iterator[tuple[dict[str, Any], str, str | None]]:
    """(request body, member path, constraint text or None for code only)."""
    model = _SESSION.get_service_model(service).operation_model(op).input_shape
    base = _valid(model)
    if base is None:
        FINDINGS[f"{op}: no valid example"] += 1
        return
    lower = service != "logs"

    def path_name(name: str) -> str:
        return name[:1].lower() + name[1:] if lower else name

    def walk(shape: Any, body: dict[str, Any], where: str, depth: int, top: bool) -> Iterator[
        tuple[dict[str, Any], str, str | None]
    ]:
        for name, member in shape.members.items():
            if top and name not in DECLARED[service].get(op, shape.members):
                continue
            path = where + path_name(name)
            code_only = top and name in CORE_CHECKED.get(service, set())
            for value, text in _bad_values(member, service):
                yield {**body, name: value}, path, None if code_only else text
            if depth >= MAX_DEPTH or code_only:
                continue
            inner = member.member if member.type_name == "list" else member
            if inner.type_name != "structure":
                continue
            holder = _valid(inner)
            if holder is None:
                continue
            suffix = ".1.member." if member.type_name == "list" else "."
            for nested, nested_path, text in walk(inner, holder, "", depth + 1, False):
                wrapped = [nested] if member.type_name == "list" else nested
                yield {**body, name: wrapped}, path + suffix + nested_path, text

    yield from walk(model, base, "", 0, True)


@pytest.mark.parametrize("service", ["sagemaker", "logs", "application-autoscaling"])
def test_values_outside_the_model_get_aws_code_and_message(
    server: ServerThread, service: str
) -> None:
    client = _client(server, service)
    if service == "logs":  # the group and stream every valid body names, for PutLogEvents
        client.create_log_group(logGroupName="sweep-x")
        client.create_log_stream(logGroupName="sweep-x", logStreamName="sweep-x")
    failures = []
    sent = 0
    for op in served_operations()[service]:
        method = getattr(client, xform_name(op))
        for body, path, text in _cases(service, op):
            sent += 1
            try:
                method(**body)
            except ClientError as error:
                code, message = error.response["Error"]["Code"], error.response["Error"]["Message"]
                expected = None if text is None else f"at '{path}' failed to satisfy constraint: "
                if code != CODES[service] or (
                    expected is not None and expected + text not in message
                    and f"{expected}Map" not in message
                ):
                    failures.append(f"{op} {path}: {code} {message[:300]}")
                continue
            failures.append(f"{op} {path}: accepted {str(body)[:200]}")
    FINDINGS[f"{service} requests"] = sent
    assert sent > {"sagemaker": 500, "logs": 60, "application-autoscaling": 60}[service]
    assert failures == [], "\n".join(failures[:40]) + f"\n({len(failures)} in all)"
