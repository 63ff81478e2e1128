"""``parse_filter_pattern``: one entry point for every CloudWatch Logs filter-pattern form.

The first non-space character picks the grammar: ``{`` a JSON pattern, ``[`` a
space-delimited one, anything else unstructured terms; an empty pattern matches all.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from tandem.telemetry.logs.filter_pattern.json_match import parse_json_pattern
from tandem.telemetry.logs.filter_pattern.scanner import Scanner
from tandem.telemetry.logs.filter_pattern.space_delimited import parse_space_delimited
from tandem.telemetry.logs.filter_pattern.terms import (
    compile_terms,
    parse_terms,
    required_substrings,
)


class PatternKind(enum.Enum):
    ALL = "all"
    TERMS = "terms"
    JSON = "json"
    SPACE_DELIMITED = "space-delimited"


def _match_everything(message: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class FilterPattern:
    """A parsed filter pattern: test messages with ``matches``.

    ``required_terms`` are case-sensitive substrings every matching message contains, for a
    store to prefilter with (SQL ``instr()``) before calling ``matches``; empty when none
    can be derived.  ``match_all`` is true for the empty pattern.
    """

    text: str
    kind: PatternKind
    required_terms: tuple[str, ...] = ()
    _predicate: Callable[[str], bool] = field(
        default=_match_everything, repr=False, compare=False
    )

    @property
    def match_all(self) -> bool:
        return self.kind is PatternKind.ALL

    @property
    def predicate(self) -> Callable[[str], bool]:
        """``matches`` without the method call, for loops over many messages."""
        return self._predicate

    def matches(self, message: str) -> bool:
        return self._predicate(message)


def parse_filter_pattern(text: str) -> FilterPattern:
    """Parse ``text``; raises ``InvalidFilterPattern`` (with a 0-based position) if malformed.

    No other exception escapes for any input string.
    """
    scanner = Scanner(text)
    scanner.skip_spaces()
    if scanner.at_end():
        return FilterPattern(text, PatternKind.ALL)
    first = scanner.peek()
    if first == "{":
        return FilterPattern(text, PatternKind.JSON, (), parse_json_pattern(scanner))
    if first == "[":
        predicate, required = parse_space_delimited(scanner)
        return FilterPattern(text, PatternKind.SPACE_DELIMITED, required, predicate)
    terms = parse_terms(scanner)
    return FilterPattern(
        text, PatternKind.TERMS, required_substrings(terms), compile_terms(terms)
    )
