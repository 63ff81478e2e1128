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
    required = [_contains(t) for t in terms.required]
    any_of = [_contains(t) for t in terms.any_of]
    excluded = [_contains(t) for t in terms.excluded]
    # The common shapes get a closure with no loop: they run once per stored event.
    if not any_of and not excluded:
        plain = [t for t in terms.required if isinstance(t, str)]
        if len(plain) == len(required) == 1:
            only = plain[0]
            return lambda message: only in message
        if len(plain) == len(required) == 2:
            first, second = plain
            return lambda message: first in message and second in message

    def predicate(message: str) -> bool:
        for test in required:
            if not test(message):
                return False
        for test in excluded:
            if test(message):
                return False
        if any_of:
            for test in any_of:
                if test(message):
                    return True
            return False
        return True

    return predicate


def _contains(term: Term) -> Callable[[str], bool]:
    if isinstance(term, str):
        return lambda message: term in message
    search = term.search
    return lambda message: search(message) is not None
