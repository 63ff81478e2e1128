"""Unstructured filter patterns: terms, "quoted phrases", ``?`` alternatives, ``-`` exclusions
and ``%regex%`` terms, matched against the raw message text.

Semantics (case-sensitive substrings throughout):

* plain terms and phrases must all appear (AND);
* ``?`` terms: at least one of them must appear (``?ERROR ?WARN`` is ERROR or WARN);
* ``-`` terms: none may appear.

A pattern mixing plain and ``?`` terms (``disk ?full ?error``) is read as "every plain term,
and at least one ``?`` term" -- CloudWatch documents only all-``?`` patterns; this is the
reading that keeps the plain terms' AND meaning intact.  A ``%regex%`` term takes the same
prefixes and counts as present when it matches anywhere in the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tandem.telemetry.logs.filter_pattern.scanner import Scanner

# A term is a literal substring or a compiled regex.
Term = str | re.Pattern[str]


@dataclass
class TermSet:
    required: list[Term] = field(default_factory=list)
    any_of: list[Term] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)


def parse_terms(scanner: Scanner) -> TermSet:
    """Read the whole remaining text as unstructured terms."""
    terms = TermSet()
    while True:
        scanner.skip_spaces()
        if scanner.at_end():
            return terms
        bucket = terms.required
        prefix_at = scanner.pos
        if scanner.take("?"):
            bucket = terms.any_of
        elif scanner.take("-"):
            bucket = terms.excluded
        bucket.append(_read_term(scanner, prefix_at))
        if not scanner.at_space_or_end():
            raise scanner.error(
                f"character {scanner.peek()!r} in a term; quote terms that contain "
                "anything but letters, digits and _"
            )


def _read_term(scanner: Scanner, prefix_at: int) -> Term:
    ch = scanner.peek()
    if ch == '"':
        return scanner.read_quoted()
    if ch == "%":
        return scanner.read_regex()
    if ch.isalnum() or ch == "_":
        return scanner.read_while()
    if scanner.pos > prefix_at:
        raise scanner.error(f"{scanner.text[prefix_at]!r} must be followed by a term", prefix_at)
    raise scanner.error(f"unexpected character {ch!r}; quote terms that contain it")


def required_substrings(terms: TermSet) -> tuple[str, ...]:
    """Substrings every matching message contains: the plain terms and phrases, plus a
    lone ``?`` term (one alternative is no alternative)."""
    found = [t for t in terms.required if isinstance(t, str)]
    if len(terms.any_of) == 1 and isinstance(terms.any_of[0], str):
        found.append(terms.any_of[0])
    return tuple(dict.fromkeys(t for t in found if t))


def compile_terms(terms: TermSet) -> Callable[[str], bool]:
    """A predicate over messages; plain substring checks wherever the pattern allows."""
    need, need_re = _split(terms.required)
    avoid, avoid_re = _split(terms.excluded)
    either, either_re = _split(terms.any_of)
    alternatives = bool(terms.any_of)
    # The common shapes get a closure with no loop: they run once per stored event.
    if not (need_re or avoid or avoid_re or alternatives):
        if len(need) == 1:
            only = need[0]
            return lambda message: only in message
        if len(need) == 2:
            first, second = need
            return lambda message: first in message and second in message

    def predicate(message: str) -> bool:
        for term in need:
            if term not in message:
                return False
        for search in need_re:
            if search(message) is None:
                return False
        for term in avoid:
            if term in message:
                return False
        for search in avoid_re:
            if search(message) is not None:
                return False
        if not alternatives:
            return True
        for term in either:
            if term in message:
                return True
        for search in either_re:
            if search(message) is not None:
                return True
        return False

    return predicate


def _split(terms: list[Term]) -> tuple[list[str], list[Callable[[str], re.Match[str] | None]]]:
    """Literal terms, and the ``search`` methods of the regex terms."""
    literals = [t for t in terms if isinstance(t, str)]
    searches: list[Callable[[str], re.Match[str] | None]] = [
        t.search for t in terms if not isinstance(t, str)
    ]
    return literals, searches
