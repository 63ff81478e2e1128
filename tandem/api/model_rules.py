"""The service models' input constraints, checked as AWS checks them.

``model_rules.json`` is generated from botocore's service models by
``scripts/gen_model_rules.py`` (botocore is not needed at runtime) and holds,
for each operation tandem serves, its input shape: enums, patterns (Java
syntax, matched whole with the ``regex`` module, which knows ``\\p{L}``),
length and value ranges and required members, nested structures, lists and
maps included. ``ServiceRules.check`` walks a request body against it and
collects every failed constraint into AWS's message, ``N validation errors
detected: Value 'x' at 'member.path' failed to satisfy constraint: ...``.
Wrong JSON types are not its business: the operations' declared members
(``members.py``) refuse those first.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import regex

from ..errors import InvalidParameterValue, MissingParameter

__all__ = [
    "INSTANCE_TYPE_SHAPES",
    "TABLE_PATH",
    "ServiceRules",
    "rules",
    "served_operations",
    "validation_message",
]

TABLE_PATH = Path(__file__).with_name("model_rules.json")
# Where tandem is looser than AWS on purpose (docs/api-compatibility.md, "Intended
# differences"): model data, channels and outputs may be local paths.
RELAXED: dict[str, dict[str, frozenset[str]]] = {
    "sagemaker": {
        "Url": frozenset({"pattern"}),
        "S3Uri": frozenset({"pattern"}),
        "S3ModelUri": frozenset({"pattern"}),
    },
}
# The shapes naming an instance type: every value of their enums has an entry in
# serving/instance_types.py (docs/instance-types.md), which a test checks.
INSTANCE_TYPE_SHAPES = (
    "ProductionVariantInstanceType", "TrainingInstanceType", "TransformInstanceType",
    "InstanceType",
)
_MAX_ERRORS = 10  # AWS stops listing there too


def served_operations() -> dict[str, list[str]]:
    """botocore service name -> the operations tandem answers (for the generator and tests)."""
    from . import autoscaling, logs, sagemaker, sagemaker_jobs, tags
    from .cloudwatch.alarm_operations import ALARM_OPERATION_NAMES

    return {
        "application-autoscaling": sorted(autoscaling.SHAPES),
        "sagemaker": sorted({*sagemaker.SHAPES, *sagemaker_jobs.SHAPES, *tags.SAGEMAKER_SHAPES}),
        "logs": sorted({*logs.SHAPES, "StartLiveTail", *tags.LOGS_SHAPES}),
        "cloudwatch": sorted(ALARM_OPERATION_NAMES),
    }


@functools.cache
def _table() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TABLE_PATH.read_text())
    return loaded


@functools.cache
def _compiled(pattern: str) -> Callable[[str], Any] | None:
    try:
        match: Callable[[str], Any] = regex.compile(pattern).fullmatch
    except regex.error:
        return None
    return match


def _shown(value: Any, limit: int = 100) -> str:
    """The value as AWS's (Java's) messages show it, cut after ``limit`` characters; a long
    list or map is rendered only as far as the cut."""
    if isinstance(value, dict | list):
        if isinstance(value, dict):
            items: Iterator[str] = (f"{k}={_shown(v, limit)}" for k, v in value.items())
            ends = "{}"
        else:
            items, ends = (_shown(v, limit) for v in value), "[]"
        parts: list[str] = []
        size = 0
        for part in items:
            parts.append(part)
            size += len(part) + 2
            if size > limit:
                break
        text = ends[0] + ", ".join(parts) + ends[1]
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def validation_message(errors: list[str]) -> str:
    """AWS's summary of failed constraints, each ``Value ... failed to satisfy ...``."""
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(errors[:_MAX_ERRORS])


def _relax(shape: Mapping[str, Any], relaxed: frozenset[str]) -> Mapping[str, Any]:
    return {k: v for k, v in shape.items() if k not in relaxed} if relaxed else shape


def _active_shapes(shapes: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """The shapes a value can fail: with a constraint or required member of their own, or
    holding such a shape. The walk skips the others (most of a request, most of the time)."""
    active = {
        name for name, shape in shapes.items()
        if shape.keys() & {"min", "max", "enum", "pattern", "required"}
    }  # fmt: skip
    changed = True
    while changed:
        changed = False
        for name, shape in shapes.items():
            children = [*shape.get("members", {}).values()] + [
                shape[k] for k in ("member", "key", "value") if k in shape
            ]
            if name not in active and any(child in active for child in children):
                active.add(name)
                changed = True
    return frozenset(active)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ServiceRules:
    """One service's operations and shapes from the generated table."""

    def __init__(self, service: str, *, lower_first: bool) -> None:
        table = _table()[service]
        self.operations: Mapping[str, str] = table["operations"]
        self.shapes: Mapping[str, Mapping[str, Any]] = {
            name: _relax(shape, RELAXED.get(service, {}).get(name, frozenset()))
            for name, shape in table["shapes"].items()
        }
        self.lower_first = lower_first
        self._active = _active_shapes(self.shapes)

    def _name(self, name: str) -> str:
        return name[:1].lower() + name[1:] if self.lower_first else name

    def check(
        self,
        operation: str,
        body: Mapping[str, Any],
        *,
        skip: Collection[str] = (),
        shallow: Collection[str] = (),
    ) -> None:
        """Raise every failed constraint of ``body`` at once (missing required members alone:
        ``MissingParameter``). ``skip``: top-level members the core checks itself;
        ``shallow``: top-level lists checked as a whole, their items left to the core."""
        errors: list[str] = []
        operation_shape = self.operations[operation]
        missing_only = self._structure(operation_shape, body, "", errors, skip, shallow)
        if errors:
            error = MissingParameter if missing_only else InvalidParameterValue
            raise error(validation_message(errors))

    def constraints(self, shape_name: str, value: Any) -> list[str]:
        """The constraints one scalar, list or map value fails, as AWS words them."""
        shape = self.shapes[shape_name]
        failed: list[str] = []
        size = len(value) if isinstance(value, str | list | dict) else None
        if size is not None:
            if "min" in shape and size < shape["min"]:
                failed.append(f"Member must have length greater than or equal to {shape['min']}")
            if "max" in shape and size > shape["max"]:
                failed.append(f"Member must have length less than or equal to {shape['max']}")
        elif _number(value):
            if "min" in shape and value < shape["min"]:
                failed.append(f"Member must have value greater than or equal to {shape['min']}")
            if "max" in shape and value > shape["max"]:
                failed.append(f"Member must have value less than or equal to {shape['max']}")
        if isinstance(value, str):
            if "enum" in shape and value not in shape["enum"]:
                failed.append(f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
            match = _compiled(shape["pattern"]) if "pattern" in shape else None
            if match is not None and match(value) is None:
                failed.append(f"Member must satisfy regular expression pattern: {shape['pattern']}")
        return failed

    def _value(
        self, shape_name: str, value: Any, where: str, errors: list[str], deep: bool = True
    ) -> None:
        shape = self.shapes[shape_name]
        kind = shape["type"]
        for constraint in self.constraints(shape_name, value):
            errors.append(
                f"Value '{_shown(value)}' at '{where}' failed to satisfy constraint: {constraint}"
            )
        if not deep:
            return
        if kind == "structure" and isinstance(value, dict):
            self._structure(shape_name, value, where + ".", errors, (), ())
        elif kind == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                self._value(shape["member"], item, f"{where}.{i + 1}.member", errors)
        elif kind == "map" and isinstance(value, dict):
            for side, part in (("keys", "key"), ("value", "value")):
                for item in value if part == "key" else value.values():
                    failed = self.constraints(shape[part], item)
                    if failed:
                        errors.append(
                            f"Value '{_shown(value)}' at '{where}' failed to satisfy constraint: "
                            f"Map {side} must satisfy constraint: [{', '.join(failed)}]"
                        )
                        break

    def _structure(
        self,
        shape_name: str,
        body: Mapping[str, Any],
        prefix: str,
        errors: list[str],
        skip: Collection[str],
        shallow: Collection[str],
    ) -> bool:
        """Check a structure's members; True when every error found is a missing member."""
        shape = self.shapes[shape_name]
        members: Mapping[str, str] = shape.get("members", {})
        for name in shape.get("required", ()):
            if body.get(name) is None and name not in skip:
                errors.append(
                    f"Value null at '{prefix + self._name(name)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        before = len(errors)
        active = self._active
        for name, value in body.items():
            member = members.get(name)
            if member is None or member not in active or value is None or name in skip:
                continue
            where = prefix + self._name(name)
            self._value(member, value, where, errors, name not in shallow)
        return len(errors) == before


@functools.cache
def rules(service: str) -> ServiceRules:
    """The rules of ``sagemaker``, ``cloudwatch`` or ``application-autoscaling`` (members
    named lowerCamel in messages) or ``logs``."""
    return ServiceRules(service, lower_first=service != "logs")
