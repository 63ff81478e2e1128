"""CloudWatch's alarm evaluation as a pure function: datapoints in, state and reason out.

An evaluation looks at the *evaluation range*: R = N + max(N // 3, 2) periods ending at the
newest closed minute (CloudWatch fetches more than N points; its exact count is unpublished,
the documented examples use 5 for N = 3). Then, with M = DatapointsToAlarm (default N):

1. at least N real points in the range: the N newest real ones decide (ALARM if M breach);
2. no real point: ``missing`` -> INSUFFICIENT_DATA, ``ignore`` -> keep the state,
   ``breaching`` -> ALARM, ``notBreaching`` -> OK;
3. ``breaching``/``notBreaching``: the real points plus N - real fill-ins of that kind;
4. ``missing``/``ignore`` with fewer real points than M, when the oldest breaching point of
   the last N slots is at least M periods old and every newer slot breaches or is missing:
   ALARM (``missing``) or keep (``ignore``): the documented "premature alarm";
5. otherwise the real breaches against M.

This reproduces every row of CloudWatch's documented missing-data tables
(tests/telemetry/alarms/test_evaluator_table.py). Texts and reason data follow the shapes
recorded from AWS; the reason lists the points that satisfy the new state's relation,
newest first, with dates as ``dd/MM/yy HH:mm:ss`` (UTC).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import math
from collections.abc import Sequence
from typing import Any

from .model import STATIC_OPERATORS, AlarmInput, AlarmState, TreatMissingData

__all__ = ["Sample", "Evaluation", "evaluation_range", "evaluate", "breaches", "java_double",
           "reason_date", "iso_millis", "too_few_samples"]  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    """One period's datapoint: its start, the statistic's value and the sample count."""

    timestamp: float
    value: float
    sample_count: float = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Evaluation:
    """The state an evaluation decided, with CloudWatch's reason text and reason data (a
    dict, serialised by ``reason_data_json``)."""

    state: AlarmState
    reason: str
    reason_data: dict[str, Any]

    def reason_data_json(self) -> str:
        return json.dumps(self.reason_data, separators=(",", ":"))


def evaluation_range(evaluation_periods: int) -> int:
    """How many periods one evaluation fetches for N = ``evaluation_periods``."""
    return evaluation_periods + max(evaluation_periods // 3, 2)


def breaches(operator: str, value: float, threshold: float) -> bool:
    if operator == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    if operator == "GreaterThanThreshold":
        return value > threshold
    if operator == "LessThanThreshold":
        return value < threshold
    if operator == "LessThanOrEqualToThreshold":
        return value <= threshold
    raise ValueError(f"not a static comparison operator: {operator}")


def too_few_samples(stat: str, sample_count: float) -> bool:
    """Whether a percentile has too few samples to be meaningful (CloudWatch's rule):
    p in [0.5, 1) needs 10 / (1 - p) samples, p < 0.5 needs 10 / p."""
    if not stat.startswith("p"):
        return False
    try:
        p = float(stat[1:]) / 100.0
    except ValueError:
        return False
    if p >= 1.0 or p <= 0.0:
        return False
    need = 10.0 / (1.0 - p) if p >= 0.5 else 10.0 / p
    return sample_count < need


def java_double(value: float) -> str:
    """A double as Java's ``Double.toString`` writes it (``10.0``, ``1.2345678E7``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(float(value))  # the shortest text that reads back as the same double
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return text
    number = decimal.Decimal(text)
    sign, digits, _exponent = number.as_tuple()
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if sign else ''}{shown[0]}.{shown[1:] or '0'}E{number.adjusted()}"


def reason_date(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%d/%m/%y %H:%M:%S")


def iso_millis(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _premature(slots: Sequence[bool | None], n: int, m: int) -> bool:
    """The oldest breaching slot of the last N is at least M periods old and every newer slot
    breaches or is missing (``slots``: oldest -> newest; None missing, True breaching)."""
    last = list(slots[-n:])
    ages = [len(last) - i for i, s in enumerate(last) if s is True]
    if not ages:
        return False
    oldest = max(ages)
    newer = last[len(last) - oldest + 1 :]
    return oldest >= m and all(s is not False for s in newer)


def decide(
    slots: Sequence[bool | None], n: int, m: int, treat: TreatMissingData
) -> tuple[AlarmState | None, int]:
    """The state for breach flags over the evaluation range (oldest -> newest; None is a
    missing period), or None to keep the current one; and how many fill-ins were used."""
    real = [s for s in slots if s is not None]
    if len(real) >= n:
        return (AlarmState.ALARM if sum(real[-n:]) >= m else AlarmState.OK), 0
    if not real:
        if treat is TreatMissingData.MISSING:
            return AlarmState.INSUFFICIENT_DATA, 0
        if treat is TreatMissingData.IGNORE:
            return None, 0
        return (AlarmState.ALARM if treat is TreatMissingData.BREACHING else AlarmState.OK), n
    if treat in (TreatMissingData.BREACHING, TreatMissingData.NOT_BREACHING):
        fill = n - len(real)
        count = sum(real) + (fill if treat is TreatMissingData.BREACHING else 0)
        return (AlarmState.ALARM if count >= m else AlarmState.OK), fill
    if len(real) < m and _premature(slots, n, m):
        return (AlarmState.ALARM if treat is TreatMissingData.MISSING else None), 0
    return (AlarmState.ALARM if sum(real) >= m else AlarmState.OK), 0


def evaluate(
    alarm: AlarmInput,
    samples: Sequence[Sample | None],
    range_start: float,
    now: float,
    current: AlarmState,
    *,
    explain_unchanged: bool = False,
) -> Evaluation | None:
    """Evaluate ``alarm`` over ``samples`` (one per period of the evaluation range, oldest
    first, None where the period has no data; the first period starts at ``range_start``).
    None means the state is kept (``ignore``, or a low-sample percentile under
    EvaluateLowSampleCountPercentile=ignore). The reason text and data are built only for a
    change of state (they are most of the cost): when the state equals ``current`` they are
    empty unless ``explain_unchanged``."""
    n, m = alarm.evaluation_periods, alarm.required_breaches
    period = alarm.evaluation_period
    threshold = alarm.threshold if alarm.threshold is not None else 0.0
    op = alarm.comparison_operator
    treat = alarm.missing_data
    stat = alarm.stat
    if stat is not None and alarm.evaluate_low_sample_count_percentile == "ignore":
        newest = [s for s in samples if s is not None][-n:]
        if any(too_few_samples(stat, s.sample_count) for s in newest):
            return None  # the evaluated percentiles rest on too few samples: keep the state
    flags = [None if s is None else breaches(op, s.value, threshold) for s in samples]
    state, fill = decide(flags, n, m, treat)
    if state is None:
        return None
    if state == current and not explain_unchanged:
        return Evaluation(state, "", {})
    data = _reason_data(alarm, samples, range_start, now, threshold)
    real = [s for s in samples if s is not None]
    if not real:
        if state is AlarmState.INSUFFICIENT_DATA:
            unknown = f"{n} datapoint was" if n == 1 else f"{n} datapoints were"
            reason = f"Insufficient Data: {unknown} unknown."
        else:
            kind = "Breaching" if treat is TreatMissingData.BREACHING else "NonBreaching"
            reason = (
                f"Threshold Crossed: no datapoints were received for {n} period"
                f"{'s' if n != 1 else ''} and {n} missing datapoint"
                f"{'s were' if n != 1 else ' was'} treated as [{kind}]."
            )
            data["evaluatedDatapoints"] = [
                {"timestamp": iso_millis(range_start + (len(samples) - 1 - i) * period)}
                for i in range(n)
            ]
        return Evaluation(state, reason, data)
    considered = real[-n:]
    alarming = state is AlarmState.ALARM
    matching = [s for s in reversed(considered)
                if breaches(op, s.value, threshold) == alarming]  # fmt: skip
    minimum = m if alarming else n - m + 1
    relation = STATIC_OPERATORS[op] if alarming else "not " + STATIC_OPERATORS[op]
    listed = ", ".join(f"{java_double(s.value)} ({reason_date(s.timestamp)})" for s in matching)
    if n == 1 and alarm.datapoints_to_alarm is None:
        reason = (
            f"Threshold Crossed: 1 datapoint [{listed}] was {relation} the threshold "
            f"({java_double(threshold)})."
        )
    else:
        verb = "was" if len(matching) == 1 else "were"
        transition = "OK -> ALARM" if alarming else "ALARM -> OK"
        reason = (
            f"Threshold Crossed: {len(matching)} out of the last {len(considered) + fill} "
            f"datapoints [{listed}] {verb} {relation} the threshold ({java_double(threshold)}) "
            f"(minimum {minimum} datapoint{'s' if minimum != 1 else ''} for {transition} "
            "transition)."
        )
    deciding = matching[:minimum]
    data["evaluatedDatapoints"] = [
        {"timestamp": iso_millis(s.timestamp), "sampleCount": s.sample_count, "value": s.value}
        for s in deciding
    ]
    return Evaluation(state, reason, data)


def _reason_data(
    alarm: AlarmInput,
    samples: Sequence[Sample | None],
    range_start: float,
    now: float,
    threshold: float,
) -> dict[str, Any]:
    data: dict[str, Any] = {"version": "1.0", "queryDate": iso_millis(now)}
    real = [s for s in samples if s is not None]
    if real:
        data["startDate"] = iso_millis(real[-alarm.evaluation_periods :][0].timestamp)
    if alarm.unit is not None:
        data["unit"] = alarm.unit
    if alarm.stat is not None:
        data["statistic"] = alarm.stat
    data["period"] = alarm.evaluation_period
    data["recentDatapoints"] = [s.value for s in real]
    data["threshold"] = threshold
    return data
