"""A training job's MetricDefinitions: regexes over its log lines, matches as metrics.

Each definition's Regex is applied to every log line as it arrives; the first capture group
(or the whole match when the regex has no group) is the value, kept when it parses as a
finite float. Every match of every line counts, stamped with the line's time. The values go to
namespace ``/aws/sagemaker/TrainingJobs``, metric name = Name verbatim, dimension
``TrainingJobName``, and the last value of each becomes ``FinalMetricDataList``. Pure apart from
the ``record`` callback the caller passes.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ValidationException

__all__ = ["MetricDefinition", "MetricMatcher", "parse_metric_definitions", "FinalMetric",
           "TRAINING_NAMESPACE", "MAX_METRIC_DEFINITIONS"]

TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"
MAX_METRIC_DEFINITIONS = 40


@dataclasses.dataclass(frozen=True)
class MetricDefinition:
    name: str
    regex: re.Pattern[str]


@dataclasses.dataclass(frozen=True)
class FinalMetric:
    metric_name: str
    value: float
    timestamp: float  # epoch seconds


def parse_metric_definitions(raw: Any) -> list[MetricDefinition]:
    """Validate AlgorithmSpecification.MetricDefinitions (<= 40 of {Name 1-255, Regex 1-500})."""
    where = "AlgorithmSpecification.MetricDefinitions"
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_METRIC_DEFINITIONS:
        raise ValidationException(f"{where}: must be a list of at most {MAX_METRIC_DEFINITIONS}")
    out = []
    for i, item in enumerate(raw):
        name = item.get("Name") if isinstance(item, dict) else None
        regex = item.get("Regex") if isinstance(item, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise ValidationException(f"{where}[{i}].Name: must be 1 to 255 characters")
        if not isinstance(regex, str) or not 1 <= len(regex) <= 500:
            raise ValidationException(f"{where}[{i}].Regex: must be 1 to 500 characters")
        try:
            compiled = re.compile(regex)
        except re.error as exc:
            raise ValidationException(f"{where}[{i}].Regex: {regex!r} is not a valid regular "
                                      f"expression: {exc}") from None
        out.append(MetricDefinition(name, compiled))
    return out


def _value(match: re.Match[str]) -> float | None:
    text = match.group(1) if match.re.groups else match.group(0)
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class MetricMatcher:
    """Feeds log lines through the definitions; ``record(name, value, epoch_s)`` per match."""

    def __init__(self, definitions: Sequence[MetricDefinition],
                 record: Callable[[str, float, float], None] = lambda n, v, t: None,
                 final: Sequence[FinalMetric] = ()) -> None:
        self.definitions = tuple(definitions)
        self._record = record
        # ``final``: the last values seen before (a job re-attached after a restart).
        self._final: dict[str, FinalMetric] = {m.metric_name: m for m in final}

    def on_line(self, line: str, timestamp_ms: int) -> None:
        """StreamCapture's ``on_line`` hook."""
        when = timestamp_ms / 1000.0
        for definition in self.definitions:
            for match in definition.regex.finditer(line):
                value = _value(match)
                if value is None:
                    continue
                self._final[definition.name] = FinalMetric(definition.name, value, when)
                self._record(definition.name, value, when)

    def final_metrics(self) -> list[FinalMetric]:
        """The last value of each metric, in definition order."""
        return [self._final[d.name] for d in self.definitions if d.name in self._final]
