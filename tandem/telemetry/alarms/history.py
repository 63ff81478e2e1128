"""DescribeAlarmHistory's items as CloudWatch writes them: summaries and HistoryData JSON.

StateUpdate: ``Alarm updated from OLD to NEW`` with old and new state (reason, reason data);
ConfigurationUpdate: ``Alarm "<name>" created|updated|deleted`` with the alarm's
configuration; Action: ``Successfully executed action <arn>`` or ``Failed to execute action
<arn>. Reason: ...``.
"""

from __future__ import annotations

import json
from typing import Any

from .evaluator import iso_millis
from .model import AlarmHistoryItem, AlarmState, HistoryItemType, MetricAlarm

__all__ = ["state_update", "configuration_update", "action_item", "alarm_summary_document"]


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def state_update(
    alarm_name: str,
    old_state: AlarmState,
    old_reason: str,
    new_state: AlarmState,
    new_reason: str,
    new_reason_data: str | None,
    timestamp: float,
) -> AlarmHistoryItem:
    new: dict[str, Any] = {"stateValue": new_state.value, "stateReason": new_reason}
    if new_reason_data is not None:
        try:
            new["stateReasonData"] = json.loads(new_reason_data)
        except ValueError:
            new["stateReasonData"] = new_reason_data
    data = {
        "version": "1.0",
        "oldState": {"stateValue": old_state.value, "stateReason": old_reason},
        "newState": new,
    }
    return AlarmHistoryItem(
        alarm_name=alarm_name,
        timestamp=timestamp,
        history_item_type=HistoryItemType.STATE_UPDATE,
        history_summary=f"Alarm updated from {old_state.value} to {new_state.value}",
        history_data=_json(data),
    )


def alarm_summary_document(alarm: MetricAlarm) -> dict[str, Any]:
    """The alarm as CloudWatch's ConfigurationUpdate HistoryData spells it."""
    doc: dict[str, Any] = {
        "alarmName": alarm.alarm_name,
        "alarmDescription": alarm.alarm_description,
        "alarmArn": alarm.alarm_arn,
        "alarmConfigurationUpdatedTimestamp": iso_millis(
            alarm.alarm_configuration_updated_timestamp
        ),
    }
    if alarm.metrics:
        doc["metrics"] = [
            {"id": q.id, "expression": q.expression, "returnData": q.return_data,
             "metricStat": None if q.metric_stat is None else {
                 "metric": {"namespace": q.metric_stat.metric.namespace,
                            "metricName": q.metric_stat.metric.metric_name,
                            "dimensions": [{"value": v, "name": n}
                                           for n, v in q.metric_stat.metric.dimensions]},
                 "period": q.metric_stat.period, "stat": q.metric_stat.stat}}
            for q in alarm.metrics
        ]  # fmt: skip
    else:
        doc.update(
            namespace=alarm.namespace,
            metricName=alarm.metric_name,
            period=alarm.period,
            dimensions=[{"value": v, "name": n} for n, v in alarm.dimensions],
        )
        if alarm.statistic is not None:
            doc["statistic"] = alarm.statistic.upper()
        else:
            doc["extendedStatistic"] = alarm.extended_statistic
    doc.update(
        threshold=alarm.threshold,
        comparisonOperator=alarm.comparison_operator,
        evaluationPeriods=alarm.evaluation_periods,
    )
    if alarm.datapoints_to_alarm is not None:
        doc["datapointsToAlarm"] = alarm.datapoints_to_alarm
    doc.update(
        treatMissingData=alarm.treat_missing_data or "missing",
        stateValue=alarm.state_value.value,
        stateUpdatedTimestamp=iso_millis(alarm.state_updated_timestamp),
        actionsEnabled=alarm.actions_enabled,
        alarmActions=list(alarm.alarm_actions),
        insufficientDataActions=list(alarm.insufficient_data_actions),
        okactions=list(alarm.ok_actions),
    )
    return doc


def configuration_update(alarm: MetricAlarm, kind: str, timestamp: float) -> AlarmHistoryItem:
    """``kind``: Create, Update or Delete."""
    key = {"Create": "createdAlarm", "Update": "updatedAlarm", "Delete": "deletedAlarm"}[kind]
    verb = {"Create": "created", "Update": "updated", "Delete": "deleted"}[kind]
    data = {"version": "1.0", "type": kind, key: alarm_summary_document(alarm)}
    return AlarmHistoryItem(
        alarm_name=alarm.alarm_name,
        timestamp=timestamp,
        history_item_type=HistoryItemType.CONFIGURATION_UPDATE,
        history_summary=f'Alarm "{alarm.alarm_name}" {verb}',
        history_data=_json(data),
    )


def action_item(
    alarm_name: str, action_arn: str, timestamp: float, error: str | None = None
) -> AlarmHistoryItem:
    if error is None:
        summary = f"Successfully executed action {action_arn}"
        data = {"actionState": "Succeeded", "notificationResource": action_arn}
    else:
        summary = f"Failed to execute action {action_arn}. Reason: {error}"
        data = {"actionState": "Failed", "notificationResource": action_arn, "error": error}
    return AlarmHistoryItem(
        alarm_name=alarm_name,
        timestamp=timestamp,
        history_item_type=HistoryItemType.ACTION,
        history_summary=summary[:255],
        history_data=_json(data),
    )
