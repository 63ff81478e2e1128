"""The alarm records: what PutMetricAlarm configures, the state an alarm is in, its changes.

Plain frozen dataclasses with the domain's (CloudWatch's) names in snake_case. ``AlarmInput``
holds every PutMetricAlarm member; ``MetricAlarm`` adds the ARN, the owner and the state.
"""

from __future__ import annotations

import dataclasses
import enum

from ..metrics.model import MetricDataQuery

__all__ = [
    "AlarmState",
    "TreatMissingData",
    "STATIC_OPERATORS",
    "ANOMALY_OPERATORS",
    "AlarmInput",
    "MetricAlarm",
    "AlarmStateChange",
    "AlarmHistoryItem",
    "HistoryItemType",
]


class AlarmState(enum.StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class TreatMissingData(enum.StrEnum):
    MISSING = "missing"
    NOT_BREACHING = "notBreaching"
    BREACHING = "breaching"
    IGNORE = "ignore"


class HistoryItemType(enum.StrEnum):
    CONFIGURATION_UPDATE = "ConfigurationUpdate"
    STATE_UPDATE = "StateUpdate"
    ACTION = "Action"


# Operator -> (relation text used in reason texts, test of a value against the threshold).
STATIC_OPERATORS: dict[str, str] = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
ANOMALY_OPERATORS = frozenset(
    {
        "LessThanLowerOrGreaterThanUpperThreshold",
        "LessThanLowerThreshold",
        "GreaterThanUpperThreshold",
    }
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlarmInput:
    """Every member of PutMetricAlarm. A single-metric alarm sets ``metric_name``,
    ``namespace``, ``period`` and one of ``statistic``/``extended_statistic``; a metric-math
    alarm sets ``metrics`` instead (exactly one with ``return_data``)."""

    alarm_name: str
    evaluation_periods: int
    comparison_operator: str
    alarm_description: str | None = None
    actions_enabled: bool = True
    ok_actions: tuple[str, ...] = ()
    alarm_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    metric_name: str | None = None
    namespace: str | None = None
    statistic: str | None = None
    extended_statistic: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    period: int | None = None
    unit: str | None = None
    datapoints_to_alarm: int | None = None
    threshold: float | None = None
    treat_missing_data: str | None = None
    evaluate_low_sample_count_percentile: str | None = None
    metrics: tuple[MetricDataQuery, ...] = ()
    threshold_metric_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def required_breaches(self) -> int:
        """M: DatapointsToAlarm, or EvaluationPeriods when unset."""
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def missing_data(self) -> TreatMissingData:
        return TreatMissingData(self.treat_missing_data or "missing")

    @property
    def stat(self) -> str | None:
        return self.statistic or self.extended_statistic

    @property
    def evaluation_period(self) -> int:
        """The period of the alarm's datapoints (a math alarm's MetricStat period)."""
        if self.period is not None:
            return self.period
        for q in self.metrics:
            if q.metric_stat is not None:
                return q.metric_stat.period
            if q.period is not None:
                return q.period
        return 60

    @property
    def actions(self) -> tuple[str, ...]:
        return self.ok_actions + self.alarm_actions + self.insufficient_data_actions

    def actions_for(self, state: AlarmState) -> tuple[str, ...]:
        if state is AlarmState.ALARM:
            return self.alarm_actions
        if state is AlarmState.OK:
            return self.ok_actions
        return self.insufficient_data_actions


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricAlarm(AlarmInput):
    """An alarm as stored and described. ``owner`` names the service that created it (e.g.
    target tracking); None for a user's alarm. Timestamps are epoch seconds."""

    alarm_arn: str
    alarm_configuration_updated_timestamp: float
    state_value: AlarmState = AlarmState.INSUFFICIENT_DATA
    state_reason: str = "Unchecked: Initial alarm creation"
    state_reason_data: str | None = None
    state_updated_timestamp: float = 0.0
    state_transitioned_timestamp: float = 0.0
    owner: str | None = None

    def config(self) -> AlarmInput:
        """The PutMetricAlarm members alone."""
        return AlarmInput(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(AlarmInput)}
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlarmStateChange:
    """One state change (or, for Auto Scaling actions, one per-minute re-invocation while the
    state persists: ``repeated`` True and old == new) as an action handler receives it.

    ``action_arn`` is the action being run (one handler call per matching ARN); ``reason_data``
    is the StateReasonData JSON text (None when set without it)."""

    alarm_name: str
    old_state: AlarmState
    new_state: AlarmState
    reason: str
    reason_data: str | None
    timestamp: float
    action_arn: str = ""
    repeated: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlarmHistoryItem:
    """One DescribeAlarmHistory item; ``history_data`` is the JSON text AWS puts there."""

    alarm_name: str
    timestamp: float
    history_item_type: HistoryItemType
    history_summary: str
    history_data: str
    alarm_type: str = "MetricAlarm"
