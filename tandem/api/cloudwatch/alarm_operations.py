"""CloudWatch alarm operations, protocol-neutral: PascalCase members in, result dicts out.

PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DescribeAlarmHistory, DeleteAlarms,
SetAlarmState, EnableAlarmActions and DisableAlarmActions over ``AlarmService``. Describe
calls read the service's in-memory snapshot; history reads the store on a thread. Only
metric alarms exist: ``CompositeAlarms`` is always empty, as AWS returns it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ...errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    ValidationError,
)
from ...telemetry.alarms import AlarmInput, AlarmService, AlarmState, MetricAlarm
from ...telemetry.metrics import Metric, MetricDataQuery, MetricStat
from ..model_rules import rules
from .tag_operations import TagOperations

__all__ = ["AlarmOperations", "ALARM_OPERATION_NAMES"]

ALARM_OPERATION_NAMES = (
    "PutMetricAlarm", "DescribeAlarms", "DescribeAlarmsForMetric", "DescribeAlarmHistory",
    "DeleteAlarms", "SetAlarmState", "EnableAlarmActions", "DisableAlarmActions",
)  # fmt: skip
Params = Mapping[str, Any]  # checked against the service model first (``_checked``)
def _dims(members: Params) -> tuple[tuple[str, str], ...]:
    return tuple((d["Name"], d["Value"]) for d in members.get("Dimensions") or ())


def _query(q: Params) -> MetricDataQuery:
    stat = q.get("MetricStat")
    metric_stat = None
    if stat is not None:
        m = stat["Metric"]
        metric_stat = MetricStat(Metric(m.get("Namespace"), m.get("MetricName"), _dims(m)),
                                 stat["Period"], stat["Stat"], stat.get("Unit"))  # fmt: skip
    return MetricDataQuery(q["Id"], metric_stat, q.get("Expression"), q.get("Label"),
                           q.get("ReturnData", True), q.get("Period"))  # fmt: skip


def alarm_input(p: Params) -> AlarmInput:
    """PutMetricAlarm's members as the core's ``AlarmInput``."""
    if p.get("EvaluationCriteria") is not None or p.get("EvaluationInterval") is not None:
        raise ValidationError("PromQL alarms (EvaluationCriteria) are not supported by tandem.")
    if (p.get("EvaluationWindow") or {}).get("WallClockWindow") is not None:
        raise ValidationError("WallClockWindow evaluation is not supported by tandem.")
    return AlarmInput(
        alarm_name=p["AlarmName"],
        alarm_description=p.get("AlarmDescription"),
        actions_enabled=p.get("ActionsEnabled", True),
        ok_actions=tuple(p.get("OKActions") or ()),
        alarm_actions=tuple(p.get("AlarmActions") or ()),
        insufficient_data_actions=tuple(p.get("InsufficientDataActions") or ()),
        metric_name=p.get("MetricName"),
        namespace=p.get("Namespace"),
        statistic=p.get("Statistic"),
        extended_statistic=p.get("ExtendedStatistic"),
        dimensions=_dims(p),
        period=p.get("Period"),
        unit=p.get("Unit"),
        evaluation_periods=p["EvaluationPeriods"],
        datapoints_to_alarm=p.get("DatapointsToAlarm"),
        threshold=p.get("Threshold"),
        comparison_operator=p["ComparisonOperator"],
        treat_missing_data=p.get("TreatMissingData"),
        evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
        metrics=tuple(_query(q) for q in p.get("Metrics") or ()),
        threshold_metric_id=p.get("ThresholdMetricId"),
        tags=tuple((t["Key"], t["Value"]) for t in p.get("Tags") or ()),
    )


def _query_out(q: MetricDataQuery) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": q.id}
    if q.metric_stat is not None:
        ms = q.metric_stat
        out["MetricStat"] = _present({
            "Metric": {"Namespace": ms.metric.namespace, "MetricName": ms.metric.metric_name,
                       "Dimensions": [{"Name": n, "Value": v} for n, v in ms.metric.dimensions]},
            "Period": ms.period, "Stat": ms.stat, "Unit": ms.unit})  # fmt: skip
    out.update(_present({"Expression": q.expression, "Label": q.label,
                         "ReturnData": q.return_data, "Period": q.period}))  # fmt: skip
    return out


def _present(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def alarm_output(a: MetricAlarm) -> dict[str, Any]:
    """A MetricAlarm as DescribeAlarms returns it (DatapointsToAlarm only when it was set)."""
    out = {
        "AlarmName": a.alarm_name,
        "AlarmArn": a.alarm_arn,
        "AlarmDescription": a.alarm_description,
        "AlarmConfigurationUpdatedTimestamp": a.alarm_configuration_updated_timestamp,
        "ActionsEnabled": a.actions_enabled,
        "OKActions": list(a.ok_actions),
        "AlarmActions": list(a.alarm_actions),
        "InsufficientDataActions": list(a.insufficient_data_actions),
        "StateValue": a.state_value.value,
        "StateReason": a.state_reason,
        "StateReasonData": a.state_reason_data,
        "StateUpdatedTimestamp": a.state_updated_timestamp,
        "MetricName": a.metric_name,
        "Namespace": a.namespace,
        "Statistic": a.statistic,
        "ExtendedStatistic": a.extended_statistic,
        "Dimensions": None if a.metrics else [{"Name": n, "Value": v} for n, v in a.dimensions],
        "Period": a.period,
        "Unit": a.unit,
        "EvaluationPeriods": a.evaluation_periods,
        "DatapointsToAlarm": a.datapoints_to_alarm,
        "Threshold": a.threshold,
        "ComparisonOperator": a.comparison_operator,
        "TreatMissingData": a.treat_missing_data,
        "EvaluateLowSampleCountPercentile": a.evaluate_low_sample_count_percentile,
        "Metrics": [_query_out(q) for q in a.metrics] if a.metrics else None,
        "ThresholdMetricId": a.threshold_metric_id,
        "StateTransitionedTimestamp": a.state_transitioned_timestamp,
    }
    return _present(out)


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _token(fingerprint: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"f": fingerprint, "o": offset}).encode()).decode()


def _offset(token: str | None, fingerprint: str) -> int:
    if token is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data.get("f") != fingerprint or not isinstance(data.get("o"), int) or data["o"] < 0:
            raise ValueError
        return int(data["o"])
    except (ValueError, TypeError, UnicodeError, AttributeError):
        raise InvalidNextToken(
            "The NextToken is invalid or does not belong to this request."
        ) from None


def _names(p: Params) -> list[str]:
    return list(p.get("AlarmNames") or ())


def _checked(
    operation: str, handler: Callable[[Params], Awaitable[dict[str, Any] | None]]
) -> Callable[[Params], Awaitable[dict[str, Any] | None]]:
    """``handler`` behind the service model's constraints, checked before anything is looked
    up, as AWS validates first: a value outside them is CloudWatch's ``ValidationError``."""

    async def run(p: Params) -> dict[str, Any] | None:
        try:
            rules("cloudwatch").check(operation, p)
        except InvalidParameterValue as error:
            raise ValidationError(str(error)) from None
        return await handler(p)

    return run


class AlarmOperations:
    """The eight alarm operations over one ``AlarmService``."""

    def __init__(self, service: AlarmService, tagging: TagOperations | None = None) -> None:
        self.service = service
        self.tagging = tagging
        if tagging is not None:  # an alarm's ARN names it while it exists
            tagging.register("alarm", lambda name: service.get(name) is not None)
        handlers: dict[str, Callable[[Params], Awaitable[dict[str, Any] | None]]] = {
            "PutMetricAlarm": self.put_metric_alarm,
            "DescribeAlarms": self.describe_alarms,
            "DescribeAlarmsForMetric": self.describe_alarms_for_metric,
            "DescribeAlarmHistory": self.describe_alarm_history,
            "DeleteAlarms": self.delete_alarms,
            "SetAlarmState": self.set_alarm_state,
            "EnableAlarmActions": self.enable_alarm_actions,
            "DisableAlarmActions": self.disable_alarm_actions,
        }
        self.table = {op: _checked(op, handler) for op, handler in handlers.items()}

    async def put_metric_alarm(self, p: Params) -> None:
        new = self.service.get(p["AlarmName"]) is None  # Tags apply on creation only
        if new and self.tagging is not None:
            self.tagging.check(p.get("Tags"))
        await self.service.put_metric_alarm(alarm_input(p))
        if new and self.tagging is not None:
            await self.tagging.created("alarm", p["AlarmName"], p.get("Tags"))
        return None

    async def describe_alarms(self, p: Params) -> dict[str, Any]:
        names = _names(p)
        prefix = p.get("AlarmNamePrefix")
        if names and prefix is not None:
            raise InvalidParameterCombination(
                "AlarmNames and AlarmNamePrefix cannot be specified together."
            )
        if p.get("ChildrenOfAlarmName") is not None or p.get("ParentsOfAlarmName") is not None:
            other = set(p) - {"ChildrenOfAlarmName", "ParentsOfAlarmName", "MaxRecords",
                              "NextToken"}  # fmt: skip
            if other:
                raise InvalidParameterCombination(
                    "ChildrenOfAlarmName and ParentsOfAlarmName can only be combined with "
                    "MaxRecords and NextToken."
                )
            return {"CompositeAlarms": [], "MetricAlarms": []}  # no composite alarms exist
        types = list(p.get("AlarmTypes") or ("MetricAlarm",))
        state = None if p.get("StateValue") is None else AlarmState(p["StateValue"])
        action = p.get("ActionPrefix")
        limit: int = p.get("MaxRecords", 50)
        wanted = set(names)
        alarms = [
            a for a in self.service.alarms()
            if (not names or a.alarm_name in wanted)
            and (prefix is None or a.alarm_name.startswith(prefix))
            and (state is None or a.state_value is state)
            and (action is None or any(arn.startswith(action) for arn in a.actions))
        ] if "MetricAlarm" in types else []  # fmt: skip
        fingerprint = _fingerprint(sorted(wanted), prefix, state, action, types, limit)
        offset = _offset(p.get("NextToken"), fingerprint)
        page = alarms[offset : offset + limit]
        out: dict[str, Any] = {"CompositeAlarms": [],
                               "MetricAlarms": [alarm_output(a) for a in page]}  # fmt: skip
        if offset + limit < len(alarms):
            out["NextToken"] = _token(fingerprint, offset + limit)
        return out

    async def describe_alarms_for_metric(self, p: Params) -> dict[str, Any]:
        dims = sorted(_dims(p))
        alarms = [
            a for a in self.service.alarms()
            if not a.metrics
            and a.namespace == p["Namespace"] and a.metric_name == p["MetricName"]
            and sorted(a.dimensions) == dims
            and (p.get("Statistic") is None or a.statistic == p["Statistic"])
            and (p.get("ExtendedStatistic") is None
                 or a.extended_statistic == p["ExtendedStatistic"])
            and (p.get("Period") is None or a.period == p["Period"])
            and (p.get("Unit") is None or a.unit == p["Unit"])
        ]  # fmt: skip
        return {"MetricAlarms": [alarm_output(a) for a in alarms]}

    async def describe_alarm_history(self, p: Params) -> dict[str, Any]:
        item_type = p.get("HistoryItemType")
        scan_by = p.get("ScanBy", "TimestampDescending")
        types = list(p.get("AlarmTypes") or ("MetricAlarm",))
        limit: int = p.get("MaxRecords", 100)
        start, end = p.get("StartDate"), p.get("EndDate")
        fingerprint = _fingerprint(p.get("AlarmName"), item_type, start, end, scan_by, types,
                                   limit)  # fmt: skip
        offset = _offset(p.get("NextToken"), fingerprint)
        if "MetricAlarm" not in types:
            return {"AlarmHistoryItems": []}
        items, cursor = await self.service.describe_alarm_history(
            p.get("AlarmName"), item_type, start, end, scan_by == "TimestampAscending",
            offset, limit)  # fmt: skip
        out: dict[str, Any] = {"AlarmHistoryItems": [
            {"AlarmName": i.alarm_name, "AlarmType": i.alarm_type, "Timestamp": i.timestamp,
             "HistoryItemType": i.history_item_type.value, "HistorySummary": i.history_summary,
             "HistoryData": i.history_data}
            for i in items]}  # fmt: skip
        if cursor is not None:
            out["NextToken"] = _token(fingerprint, cursor)
        return out

    async def delete_alarms(self, p: Params) -> None:
        names = _names(p)
        await self.service.delete_alarms(names)
        if self.tagging is not None:
            for name in names:
                if self.service.get(name) is None:
                    await self.tagging.deleted("alarm", name)
        return None

    async def set_alarm_state(self, p: Params) -> None:
        await self.service.set_alarm_state(p["AlarmName"], AlarmState(p["StateValue"]),
                                           p["StateReason"], p.get("StateReasonData"))  # fmt: skip
        return None

    async def enable_alarm_actions(self, p: Params) -> None:
        await self.service.set_actions_enabled(_names(p), True)
        return None

    async def disable_alarm_actions(self, p: Params) -> None:
        await self.service.set_actions_enabled(_names(p), False)
        return None
