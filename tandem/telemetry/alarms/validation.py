"""PutMetricAlarm's rules, checked before an alarm is stored, with CloudWatch's error codes.

tandem keeps one-minute data only, so a period must be a multiple of 60 (CloudWatch also
allows 10, 20 and 30 s for high-resolution metrics). Anomaly-detection operators and
``ThresholdMetricId`` need anomaly-detection bands, which tandem does not compute: they are
refused with a ValidationError that says so.
"""

from __future__ import annotations

import dataclasses
import re

from ...errors import InvalidParameterCombination, ValidationError
from ..metrics.statistics import BASIC_STATISTICS, parse_percentile
from ..metrics.validation import (
    normalize_dimensions,
    validate_metric_name,
    validate_namespace,
    validate_unit,
)
from .model import ANOMALY_OPERATORS, STATIC_OPERATORS, AlarmInput, TreatMissingData

__all__ = ["validate_alarm", "MAX_ACTIONS", "WEBHOOK_PREFIX"]

MAX_ACTIONS = 5
MAX_METRICS = 10
MAX_TAGS = 50
WEBHOOK_PREFIX = "arn:tandem:webhook:"
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_ID = re.compile(r"[a-z][A-Za-z0-9_]{0,254}\Z")
# ExtendedStatistic forms besides pNN: trimmed/winsorized statistics and the like.
_EXTENDED = re.compile(r"(p|tm|tc|ts|wm)\d{1,3}(\.\d{1,10})?\Z|IQM\Z|(PR|TM|TC|TS|WM)\(.+\)\Z")


def _enum(value: str, member: str, allowed: list[str]) -> ValidationError:
    return ValidationError(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
    )


def _length(value: str, member: str, low: int, high: int) -> None:
    if not low <= len(value) <= high:
        raise ValidationError(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
            f"Member must have length between {low} and {high}"
        )


def _check_actions(actions: tuple[str, ...], member: str) -> None:
    if len(actions) > MAX_ACTIONS:
        raise ValidationError(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_ACTIONS}"
        )
    for arn in actions:
        _length(arn, member, 1, 1024)
        if not arn.startswith("arn:"):
            raise ValidationError(f"Invalid arn syntax: {arn}")
        if arn.startswith(WEBHOOK_PREFIX):
            url = arn[len(WEBHOOK_PREFIX) :]
            if not re.match(r"https?://[^/\s]+", url):
                raise ValidationError(
                    f"Invalid webhook action {arn}: the ARN must be {WEBHOOK_PREFIX} followed "
                    "by an http:// or https:// URL."
                )


def _check_period(period: int, evaluation_periods: int) -> None:
    if period < 1 or period % 60:
        raise ValidationError(
            f"Invalid value {period} for Period: the period must be a multiple of 60 seconds "
            "(tandem stores one-minute data; high-resolution periods 10, 20 and 30 are not "
            "available)."
        )
    if period * evaluation_periods > 604800 or (
        period < 3600 and period * evaluation_periods > 86400
    ):
        raise ValidationError(
            "The evaluation period (Period * EvaluationPeriods) must not exceed one week, and "
            "one day for periods under an hour."
        )


def _check_text(alarm: AlarmInput) -> None:
    """Every text must be UTF-8 (JSON can carry a lone surrogate, which no store can hold)."""
    texts = [alarm.alarm_name, alarm.alarm_description or "", *alarm.actions,
             *(t for pair in alarm.dimensions + alarm.tags for t in pair),
             *(q.expression or q.id for q in alarm.metrics)]  # fmt: skip
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(f"The value {text!r} is not valid UTF-8 text.") from None


def validate_alarm(alarm: AlarmInput) -> AlarmInput:
    """``alarm`` with its dimensions normalised, or the first rule it breaks as a typed error."""
    _check_text(alarm)
    _length(alarm.alarm_name, "alarmName", 1, 255)
    if _CONTROL.search(alarm.alarm_name):
        raise ValidationError("The alarm name must not contain ASCII control characters.")
    if alarm.alarm_description is not None:
        _length(alarm.alarm_description, "alarmDescription", 0, 1024)
    for member, actions in (
        ("oKActions", alarm.ok_actions),
        ("alarmActions", alarm.alarm_actions),
        ("insufficientDataActions", alarm.insufficient_data_actions),
    ):
        _check_actions(actions, member)
    operators = list(STATIC_OPERATORS) + sorted(ANOMALY_OPERATORS)
    if alarm.comparison_operator not in operators:
        raise _enum(alarm.comparison_operator, "comparisonOperator", operators)
    if alarm.comparison_operator in ANOMALY_OPERATORS or alarm.threshold_metric_id is not None:
        raise ValidationError(
            "Anomaly detection alarms (LessThanLowerOrGreaterThanUpperThreshold, "
            "LessThanLowerThreshold, GreaterThanUpperThreshold, ThresholdMetricId) are not "
            "supported: tandem computes no anomaly detection bands."
        )
    if alarm.threshold is None:
        raise ValidationError("Threshold is required for a static threshold alarm.")
    if alarm.evaluation_periods < 1:
        raise ValidationError("EvaluationPeriods must be at least 1.")
    if alarm.datapoints_to_alarm is not None:
        if alarm.datapoints_to_alarm < 1:
            raise ValidationError("DatapointsToAlarm must be at least 1.")
        if alarm.datapoints_to_alarm > alarm.evaluation_periods:
            raise ValidationError(
                "DatapointsToAlarm must be less than or equal to EvaluationPeriods"
            )
    if alarm.treat_missing_data is not None:
        allowed = [t.value for t in TreatMissingData]
        if alarm.treat_missing_data not in allowed:
            raise _enum(alarm.treat_missing_data, "treatMissingData", allowed)
    if alarm.evaluate_low_sample_count_percentile not in (None, "evaluate", "ignore"):
        raise _enum(
            alarm.evaluate_low_sample_count_percentile or "",
            "evaluateLowSampleCountPercentile",
            ["evaluate", "ignore"],
        )
    if len(alarm.tags) > MAX_TAGS:
        raise ValidationError(f"An alarm may have at most {MAX_TAGS} tags.")
    for key, value in alarm.tags:
        _length(key, "tags.member.key", 1, 128)
        _length(value, "tags.member.value", 0, 256)
    if alarm.metrics:
        return _validate_math(alarm)
    return _validate_single(alarm)


def _validate_single(alarm: AlarmInput) -> AlarmInput:
    if alarm.metric_name is None or alarm.namespace is None:
        raise ValidationError(
            "Either MetricName and Namespace, or Metrics, must be specified for a metric alarm."
        )
    validate_namespace(alarm.namespace)
    validate_metric_name(alarm.metric_name)
    if (alarm.statistic is None) == (alarm.extended_statistic is None):
        raise InvalidParameterCombination(
            "Exactly one of Statistic and ExtendedStatistic must be specified."
        )
    if alarm.statistic is not None and alarm.statistic not in BASIC_STATISTICS:
        raise _enum(alarm.statistic, "statistic", sorted(BASIC_STATISTICS))
    if alarm.extended_statistic is not None:
        if not _EXTENDED.match(alarm.extended_statistic):
            raise ValidationError(
                f"The value {alarm.extended_statistic} for ExtendedStatistic is not valid."
            )
        if parse_percentile(alarm.extended_statistic) is None:
            raise ValidationError(
                f"ExtendedStatistic {alarm.extended_statistic} is not supported: tandem "
                "evaluates percentiles p0 to p100."
            )
    if alarm.period is None:
        raise ValidationError("Period must be specified for a single-metric alarm.")
    _check_period(alarm.period, alarm.evaluation_periods)
    if alarm.unit is not None:
        validate_unit(alarm.unit)
    if len(alarm.dimensions) > 30:
        raise ValidationError("An alarm's metric may have at most 30 dimensions.")
    dims = normalize_dimensions(list(alarm.dimensions)) if alarm.dimensions else ()
    return _replace(alarm, dimensions=tuple(dims))


def _validate_math(alarm: AlarmInput) -> AlarmInput:
    conflicting = [
        name
        for name, value in (
            ("MetricName", alarm.metric_name), ("Namespace", alarm.namespace),
            ("Statistic", alarm.statistic), ("ExtendedStatistic", alarm.extended_statistic),
            ("Period", alarm.period), ("Unit", alarm.unit),
        )
        if value is not None
    ] + (["Dimensions"] if alarm.dimensions else [])  # fmt: skip
    if conflicting:
        raise ValidationError(
            f"Metrics cannot be combined with {', '.join(conflicting)}: a metric math alarm "
            "takes its metrics, statistics and period from Metrics."
        )
    if len(alarm.metrics) > MAX_METRICS:
        raise ValidationError(f"An alarm may use at most {MAX_METRICS} metrics.")
    if sum(1 for q in alarm.metrics if q.return_data) != 1:
        raise ValidationError(
            "Exactly one element of the metrics list should return data (ReturnData true)."
        )
    periods = set()
    ids = set()
    for q in alarm.metrics:
        if not _ID.match(q.id):
            raise ValidationError(
                f"Invalid metrics Id {q.id!r}: it must start with a lowercase letter and hold "
                "only letters, digits and '_'."
            )
        if q.id in ids:
            raise ValidationError(f"The Id {q.id} is used by more than one metric.")
        ids.add(q.id)
        if (q.metric_stat is None) == (q.expression is None):
            raise ValidationError(
                f"The metric {q.id} must specify exactly one of MetricStat and Expression."
            )
        if q.metric_stat is not None:
            ms = q.metric_stat
            validate_namespace(ms.metric.namespace)
            validate_metric_name(ms.metric.metric_name)
            if ms.stat not in BASIC_STATISTICS and parse_percentile(ms.stat) is None:
                raise ValidationError(f"The statistic {ms.stat} of metric {q.id} is not valid.")
            periods.add(ms.period)
    if len(periods) > 1:
        raise ValidationError("All metrics of a metric math alarm must have the same period.")
    _check_period(alarm.evaluation_period, alarm.evaluation_periods)
    return alarm


def _replace(alarm: AlarmInput, **changes: object) -> AlarmInput:
    return dataclasses.replace(alarm, **changes)  # type: ignore[arg-type]
