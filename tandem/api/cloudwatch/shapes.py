"""CloudWatch's input and output shapes for the metric operations, declared once.

Every protocol decodes its body into plain values, then ``coerce`` walks the
operation's input shape with that protocol's scalar rules (JSON numbers,
query strings, CBOR tags), so type checks, required members and nesting are
written once. Renderers walk the output shapes to know what is a timestamp,
a list or a map. Members a shape does not declare are ignored, as newer SDKs
may send members this server does not know yet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import InvalidParameterValue, MissingParameter, TandemError

__all__ = [
    "Shape", "INPUTS", "OUTPUTS", "coerce", "input_coercer", "ScalarRule", "parse_time_text",
    "wrong_type",
]


@dataclasses.dataclass(frozen=True)
class Shape:
    """``kind``: structure, list, map, string, integer, double, boolean or timestamp."""

    kind: str
    members: Mapping[str, Shape] = dataclasses.field(default_factory=dict)
    required: frozenset[str] = frozenset()
    member: Shape | None = None  # list items and map values


def _struct(members: dict[str, Shape], *required: str) -> Shape:
    return Shape("structure", members, frozenset(required))


def _list(member: Shape) -> Shape:
    return Shape("list", member=member)


def _map(value: Shape) -> Shape:
    return Shape("map", member=value)


S, D, B, T = Shape("string"), Shape("double"), Shape("boolean"), Shape("timestamp")
I = Shape("integer")  # noqa: E741 - the shape letters read like the model's types

DIMENSION = _struct({"Name": S, "Value": S}, "Name", "Value")
DIMENSIONS = _list(DIMENSION)
STATISTIC_SET = _struct({"SampleCount": D, "Sum": D, "Minimum": D, "Maximum": D},
                        "SampleCount", "Sum", "Minimum", "Maximum")  # fmt: skip
METRIC_DATUM = _struct(
    {"MetricName": S, "Dimensions": DIMENSIONS, "Timestamp": T, "Value": D,
     "StatisticValues": STATISTIC_SET, "Unit": S, "StorageResolution": I,
     "Values": _list(D), "Counts": _list(D)},
    "MetricName",
)  # fmt: skip
METRIC = _struct({"Namespace": S, "MetricName": S, "Dimensions": DIMENSIONS})
METRIC_STAT = _struct({"Metric": METRIC, "Period": I, "Stat": S, "Unit": S},
                      "Metric", "Period", "Stat")  # fmt: skip
METRIC_DATA_QUERY = _struct(
    {"Id": S, "MetricStat": METRIC_STAT, "Expression": S, "Label": S, "ReturnData": B,
     "Period": I, "AccountId": S},
    "Id",
)  # fmt: skip
ENTITY = _struct({"KeyAttributes": _map(S), "Attributes": _map(S)})
ALARM_NAMES = _list(S)
ALARM_ACTIONS = _list(S)
TAG = _struct({"Key": S, "Value": S}, "Key", "Value")
EVALUATION_WINDOW = _struct(
    {"SlidingWindow": _struct({}), "WallClockWindow": _struct({"Timezone": S})}
)
METRIC_ALARM = _struct(
    {"AlarmName": S, "AlarmArn": S, "AlarmDescription": S,
     "AlarmConfigurationUpdatedTimestamp": T, "ActionsEnabled": B, "OKActions": ALARM_ACTIONS,
     "AlarmActions": ALARM_ACTIONS, "InsufficientDataActions": ALARM_ACTIONS, "StateValue": S,
     "StateReason": S, "StateReasonData": S, "StateUpdatedTimestamp": T, "MetricName": S,
     "Namespace": S, "Statistic": S, "ExtendedStatistic": S, "Dimensions": DIMENSIONS,
     "Period": I, "Unit": S, "EvaluationPeriods": I, "DatapointsToAlarm": I, "Threshold": D,
     "ComparisonOperator": S, "TreatMissingData": S, "EvaluateLowSampleCountPercentile": S,
     "Metrics": _list(METRIC_DATA_QUERY), "ThresholdMetricId": S, "EvaluationState": S,
     "StateTransitionedTimestamp": T}
)
ALARM_HISTORY_ITEM = _struct(
    {"AlarmName": S, "AlarmContributorId": S, "AlarmType": S, "Timestamp": T,
     "HistoryItemType": S, "HistorySummary": S, "HistoryData": S,
     "AlarmContributorAttributes": _map(S)}
)
TAG_LIST = _list(TAG)

INPUTS: dict[str, Shape] = {
    "PutMetricData": _struct(
        {"Namespace": S, "MetricData": _list(METRIC_DATUM),
         "EntityMetricData": _list(_struct({"Entity": ENTITY, "MetricData": _list(METRIC_DATUM)})),
         "StrictEntityValidation": B},
        "Namespace",
    ),
    "GetMetricStatistics": _struct(
        {"Namespace": S, "MetricName": S, "Dimensions": DIMENSIONS, "StartTime": T,
         "EndTime": T, "Period": I, "Statistics": _list(S), "ExtendedStatistics": _list(S),
         "Unit": S},
        "Namespace", "MetricName", "StartTime", "EndTime", "Period",
    ),
    "GetMetricData": _struct(
        {"MetricDataQueries": _list(METRIC_DATA_QUERY), "StartTime": T, "EndTime": T,
         "NextToken": S, "ScanBy": S, "MaxDatapoints": I,
         "LabelOptions": _struct({"Timezone": S})},
        "MetricDataQueries", "StartTime", "EndTime",
    ),
    "ListMetrics": _struct(
        {"Namespace": S, "MetricName": S,
         "Dimensions": _list(_struct({"Name": S, "Value": S}, "Name")),
         "NextToken": S, "RecentlyActive": S, "IncludeLinkedAccounts": B, "OwningAccount": S},
    ),
    "TagResource": _struct({"ResourceARN": S, "Tags": TAG_LIST}, "ResourceARN", "Tags"),
    "UntagResource": _struct({"ResourceARN": S, "TagKeys": _list(S)}, "ResourceARN", "TagKeys"),
    "ListTagsForResource": _struct({"ResourceARN": S}, "ResourceARN"),
    "PutMetricAlarm": _struct(
        {"AlarmName": S, "AlarmDescription": S, "ActionsEnabled": B, "OKActions": ALARM_ACTIONS,
         "AlarmActions": ALARM_ACTIONS, "InsufficientDataActions": ALARM_ACTIONS,
         "MetricName": S, "Namespace": S, "Statistic": S, "ExtendedStatistic": S,
         "Dimensions": DIMENSIONS, "Period": I, "Unit": S, "EvaluationPeriods": I,
         "DatapointsToAlarm": I, "Threshold": D, "ComparisonOperator": S,
         "TreatMissingData": S, "EvaluateLowSampleCountPercentile": S,
         "Metrics": _list(METRIC_DATA_QUERY), "Tags": _list(TAG), "ThresholdMetricId": S,
         "EvaluationWindow": EVALUATION_WINDOW, "EvaluationCriteria": _struct({}),
         "EvaluationInterval": I},
        "AlarmName", "EvaluationPeriods", "ComparisonOperator",
    ),
    "DescribeAlarms": _struct(
        {"AlarmNames": ALARM_NAMES, "AlarmNamePrefix": S, "AlarmTypes": _list(S),
         "ChildrenOfAlarmName": S, "ParentsOfAlarmName": S, "StateValue": S,
         "ActionPrefix": S, "MaxRecords": I, "NextToken": S},
    ),
    "DescribeAlarmsForMetric": _struct(
        {"MetricName": S, "Namespace": S, "Statistic": S, "ExtendedStatistic": S,
         "Dimensions": DIMENSIONS, "Period": I, "Unit": S},
        "MetricName", "Namespace",
    ),
    "DescribeAlarmHistory": _struct(
        {"AlarmName": S, "AlarmContributorId": S, "AlarmTypes": _list(S),
         "HistoryItemType": S, "StartDate": T, "EndDate": T, "MaxRecords": I,
         "NextToken": S, "ScanBy": S},
    ),
    "DeleteAlarms": _struct({"AlarmNames": ALARM_NAMES}, "AlarmNames"),
    "SetAlarmState": _struct(
        {"AlarmName": S, "StateValue": S, "StateReason": S, "StateReasonData": S},
        "AlarmName", "StateValue", "StateReason",
    ),
    "EnableAlarmActions": _struct({"AlarmNames": ALARM_NAMES}, "AlarmNames"),
    "DisableAlarmActions": _struct({"AlarmNames": ALARM_NAMES}, "AlarmNames"),
}  # fmt: skip

MESSAGES = _list(_struct({"Code": S, "Value": S}))
OUTPUTS: dict[str, Shape | None] = {
    "PutMetricData": None,
    "GetMetricStatistics": _struct({
        "Label": S,
        "Datapoints": _list(_struct({
            "Timestamp": T, "SampleCount": D, "Average": D, "Sum": D, "Minimum": D,
            "Maximum": D, "Unit": S, "ExtendedStatistics": _map(D)})),
    }),
    "GetMetricData": _struct({
        "MetricDataResults": _list(_struct({
            "Id": S, "Label": S, "Timestamps": _list(T), "Values": _list(D),
            "StatusCode": S, "Messages": MESSAGES})),
        "NextToken": S,
        "Messages": MESSAGES,
    }),
    "ListMetrics": _struct({"Metrics": _list(METRIC), "NextToken": S, "OwningAccounts": _list(S)}),
    "TagResource": _struct({}),  # an empty result element, which the query parser expects
    "UntagResource": _struct({}),
    "ListTagsForResource": _struct({"Tags": TAG_LIST}),
    "PutMetricAlarm": None,
    "DescribeAlarms": _struct({
        "CompositeAlarms": _list(_struct({"AlarmName": S})),
        "MetricAlarms": _list(METRIC_ALARM),
        "NextToken": S,
    }),
    "DescribeAlarmsForMetric": _struct({"MetricAlarms": _list(METRIC_ALARM)}),
    "DescribeAlarmHistory": _struct(
        {"AlarmHistoryItems": _list(ALARM_HISTORY_ITEM), "NextToken": S}),
    "DeleteAlarms": None,
    "SetAlarmState": None,
    "EnableAlarmActions": None,
    "DisableAlarmActions": None,
}  # fmt: skip

# (shape kind, decoded value, member path) -> the Python value, or raise InvalidParameterValue.
ScalarRule = Callable[[str, Any, str], Any]

_KIND_NAMES = {"structure": "a structure", "list": "a list", "map": "a map"}


def _wrong(path: str, kind: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"1 validation error detected: Value at '{path}' failed to satisfy constraint: "
        f"Member must be {_KIND_NAMES.get(kind, 'a ' + kind)}"
    )


def coerce(value: Any, shape: Shape, scalar: ScalarRule, path: str = "") -> Any:
    """``value`` checked against ``shape``: structures keep declared members (missing required
    ones raise ``MissingParameter``), lists and maps are walked, scalars go to ``scalar``.
    A ``None`` member counts as absent."""
    if shape.kind == "structure":
        if not isinstance(value, Mapping):
            raise _wrong(path or "input", shape.kind)
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            item = value.get(name)
            where = f"{path}.{name}" if path else name
            if item is None:
                if name in shape.required:
                    raise MissingParameter(f"The parameter {where} is required.")
                continue
            out[name] = coerce(item, member, scalar, where)
        return out
    if shape.kind == "list":
        if not isinstance(value, list | tuple):
            raise _wrong(path, shape.kind)
        assert shape.member is not None
        return [coerce(item, shape.member, scalar, f"{path}.member.{i + 1}")
                for i, item in enumerate(value)]  # fmt: skip
    if shape.kind == "map":
        if not isinstance(value, Mapping):
            raise _wrong(path, shape.kind)
        assert shape.member is not None
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _wrong(f"{path}.key", "string")
            result[key] = coerce(item, shape.member, scalar, f"{path}.{key}")
        return result
    return scalar(shape.kind, value, path)


class _Refused(Exception):
    """A compiled coercer met a value ``coerce`` would refuse; ``coerce`` names the member."""


def _compile(shape: Shape, scalar: ScalarRule) -> Callable[[Any], Any]:
    """``coerce(value, shape, scalar)`` without building any member path: a closure per shape
    that raises ``_Refused`` where ``coerce`` would raise an error."""
    if shape.kind == "structure":
        # Per member: the type its rule hands back unchanged (None for a nested shape), and
        # the rule, so a scalar already of that type is kept without a call.
        keeps = _keeps(scalar)
        members = {
            name: (keeps.get(member.kind), _compile(member, scalar))
            for name, member in shape.members.items()
        }
        required = shape.required

        def structure(value: Any) -> dict[str, Any]:
            if not isinstance(value, Mapping):
                raise _Refused
            # Walk the members present (a datum sends 3-4 of its 9), then check the required.
            out = {}
            for name, item in value.items():
                rule = members.get(name)
                if rule is not None and item is not None:
                    out[name] = item if type(item) is rule[0] else rule[1](item)
            if not required <= out.keys():
                raise _Refused
            return out

        return structure
    if shape.kind == "list":
        assert shape.member is not None
        item_rule = _compile(shape.member, scalar)

        def listing(value: Any) -> list[Any]:
            if not isinstance(value, list | tuple):
                raise _Refused
            return [item_rule(item) for item in value]

        return listing
    if shape.kind == "map":
        assert shape.member is not None
        value_rule = _compile(shape.member, scalar)

        def mapping(value: Any) -> dict[str, Any]:
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise _Refused
            return {key: value_rule(item) for key, item in value.items()}

        return mapping
    kind = shape.kind
    same = _keeps(scalar).get(kind)

    # The rule returns a value of exactly this type unchanged; others go to it.
    def scalar_rule(value: Any) -> Any:
        return value if type(value) is same else scalar(kind, value, "")

    return scalar_rule


# The type a protocol's scalar rule hands back unchanged for a kind (str for a string, a
# float for a double or an epoch-seconds timestamp, ...): checked inline, without a call.
# JSON's and CBOR's rules keep all five; a rule that keeps fewer says so in a ``keeps``
# attribute (the query protocol's refuses anything but text: {"string": str}).
_IDENTITY: dict[str, type] = {
    "string": str, "integer": int, "double": float, "boolean": bool, "timestamp": float
}


def _keeps(scalar: ScalarRule) -> dict[str, type]:
    return getattr(scalar, "keeps", _IDENTITY)


@functools.cache
def input_coercer(operation: str, scalar: ScalarRule) -> Callable[[Any], dict[str, Any]]:
    """``coerce(value, INPUTS[operation], scalar)``, compiled once per operation and protocol.

    The compiled walk builds no member paths (most of ``coerce``'s time on a 20-datum
    PutMetricData); a value it refuses goes through ``coerce``, whose error names the member."""
    shape = INPUTS[operation]
    compiled = _compile(shape, scalar)

    def run(value: Any) -> dict[str, Any]:
        members: dict[str, Any]  # an operation's input is a structure
        try:
            members = compiled(value)
        except (_Refused, TandemError):
            members = coerce(value, shape, scalar)
        return members

    return run


def parse_time_text(text: str, path: str) -> float:
    """Epoch seconds of an ISO 8601 text (naive means UTC) or of a number written as text."""
    try:
        if text[:1].isdigit() and "-" not in text and ":" not in text:
            return float(text)
        return _iso(text)
    except (ValueError, OverflowError):
        raise InvalidParameterValue(
            f"The value {text!r} for parameter {path} is not a valid timestamp."
        ) from None


def _iso(text: str) -> float:
    value = dt.datetime.fromisoformat(text.replace("z", "Z"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def wrong_type(path: str, kind: str) -> InvalidParameterValue:
    return _wrong(path, kind)
