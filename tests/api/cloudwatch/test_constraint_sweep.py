"""Every CloudWatch metric, alarm and tagging operation, through boto3 on each protocol with its own
validation off, sent one value outside each enum, length, range and pattern of the service
model (top level and nested): each is refused with one of CloudWatch's input error codes,
never accepted. CloudWatch's texts are its own (``The parameter X must be ...``), checked by
the operations' own tests; here the code is what is asserted (the alarm operations' texts,
from the generated model rules, are pinned in ``test_alarm_constraints.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.exceptions import ClientError

from tandem.api.cloudwatch import OPERATION_NAMES
from tandem.api.cloudwatch.shapes import INPUTS
from tests.api.test_constraint_sweep import _bad_values, _valid

from .support import cloudwatch_client

MODEL = botocore.session.get_session().get_service_model("cloudwatch")
CODES = {"InvalidParameterValue", "InvalidParameterCombination", "MissingParameter",
         "ValidationError"}  # fmt: skip


def _cases(op: str) -> Iterator[tuple[dict[str, Any], str]]:
    shape = MODEL.operation_model(op).input_shape
    base = _valid(shape)
    assert base is not None, op

    def walk(shape: Any, body: dict[str, Any], where: str, depth: int) -> Iterator[
        tuple[dict[str, Any], str]
    ]:
        for name, member in shape.members.items():
            if depth == 0 and name not in INPUTS[op].members:
                continue
            for value, _text in _bad_values(member, "cloudwatch"):
                yield {**body, name: value}, where + name
            inner = member.member if member.type_name == "list" else member
            holder = _valid(inner) if inner.type_name == "structure" and depth < 3 else None
            if holder is None:
                continue
            for nested, path in walk(inner, holder, "", depth + 1):
                wrapped = [nested] if member.type_name == "list" else nested
                yield {**body, name: wrapped}, f"{where}{name}.{path}"

    yield from walk(shape, base, "", 0)


def test_values_outside_the_model_are_refused(server: Any, protocol: str) -> None:
    cw = cloudwatch_client(server.url, protocol, parameter_validation=False)
    findings, sent = [], 0
    for op in OPERATION_NAMES:
        for body, path in _cases(op):
            sent += 1
            try:
                getattr(cw, xform_name(op))(**body)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                if code not in CODES:
                    findings.append(f"{op} {path}: {code}")
                continue
            findings.append(f"{op} {path}: accepted")
    assert sent > 60
    assert findings == [], "\n".join(findings)
