"""CloudWatch Logs filter patterns, parsed once and matched against messages; pure, no I/O.

``parse_filter_pattern(text)`` returns a ``FilterPattern`` (``matches``, ``required_terms``,
``match_all``) or raises ``tandem.errors.InvalidFilterPattern`` naming the position.
"""

from tandem.telemetry.logs.filter_pattern.pattern import (
    FilterPattern,
    PatternKind,
    parse_filter_pattern,
)
from tandem.telemetry.logs.filter_pattern.space_delimited import split_fields

__all__ = ["FilterPattern", "PatternKind", "parse_filter_pattern", "split_fields"]
