"""Space-delimited filter patterns: ``[ip, user, ..., status = 4* && status != 403, size > 1000]``.

The message is split into fields on runs of whitespace; a field that starts with ``[`` or
``"`` runs to the next ``]`` or ``"`` and counts as one field without its delimiters (an
unclosed one is an ordinary field).  Each pattern entry takes one field, ``...`` takes any
number; a message whose field count cannot fit the pattern does not match.  A field's
conditions all name that field and join with ``&&`` (binding tighter) and ``||``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tandem.telemetry.logs.filter_pattern.comparison import Comparison, read_comparison
from tandem.telemetry.logs.filter_pattern.scanner import Scanner

FieldTest = Callable[[str], bool]
_FIELD = re.compile(r'\[([^\]]*)\]|"([^"]*)"|(\S+)')


def split_fields(message: str) -> list[str]:
    """The fields of a message, as space-delimited patterns see them."""
    if "[" not in message and '"' not in message:
        return message.split()  # same whitespace as the regex's \S, ten times faster
    # Exactly one group takes part in each match; an empty [] or "" field yields "".
    return [a or b or c for a, b, c in _FIELD.findall(message)]


@dataclass(frozen=True, slots=True)
class _Entry:
    """One pattern entry: a named field with an optional test, or ``...`` (name None)."""

    name: str | None
    test: FieldTest | None
    # Exact substrings a matching field contains (only when its conditions are all ANDed).
    literals: tuple[str, ...] = ()


def parse_space_delimited(scanner: Scanner) -> tuple[Callable[[str], bool], tuple[str, ...]]:
    """Read ``[ ... ]`` at the cursor (and nothing after); returns (predicate, required terms)."""
    opening = scanner.pos
    scanner.pos += 1
    entries: list[_Entry] = []
    while True:
        scanner.skip_spaces()
        if scanner.at_end():
            raise scanner.error("unclosed '[': no matching ']'", opening)
        if scanner.peek() == "]" and not entries:
            raise scanner.error("a space-delimited pattern needs at least one field")
        entries.append(_parse_entry(scanner))
        scanner.skip_spaces()
        if scanner.take(","):
            continue
        if scanner.take("]"):
            break
        if scanner.at_end():
            raise scanner.error("unclosed '[': no matching ']'", opening)
        raise scanner.error(f"expected ',' or ']', found {scanner.peek()!r}")
    scanner.skip_spaces()
    if not scanner.at_end():
        raise scanner.error("unexpected text after the closing ']'")
    required = tuple(dict.fromkeys(lit for e in entries for lit in e.literals if lit))
    return _compile(entries), required


def _parse_entry(scanner: Scanner) -> _Entry:
    if scanner.take("..."):
        return _Entry(None, None)
    name = scanner.read_while()
    if not name:
        shown = scanner.peek()
        raise scanner.error(f"expected a field name or '...', found {shown!r}")
    scanner.skip_spaces()
    if scanner.peek() in (",", "]", ""):
        return _Entry(name, None)
    if scanner.peek() not in ("=", "!", "<", ">"):
        raise scanner.error(f"expected ',' or ']' or a condition, found {scanner.peek()!r}")
    # Disjunctive normal form: alternatives joined by ||, each a list of ANDed comparisons.
    alternatives: list[list[Comparison]] = [[read_comparison(scanner)]]
    while True:
        scanner.skip_spaces()
        if scanner.take("&&"):
            joins_and = True
        elif scanner.take("||"):
            joins_and = False
        else:
            break
        scanner.skip_spaces()
        other_at = scanner.pos
        other = scanner.read_while()
        if other != name:
            raise scanner.error(
                f"a condition in field {name!r} must name {name!r}", other_at if other else None
            )
        comparison = read_comparison(scanner)
        if joins_and:
            alternatives[-1].append(comparison)
        else:
            alternatives.append([comparison])
    literals: tuple[str, ...] = ()
    if len(alternatives) == 1:
        literals = tuple(c.literal for c in alternatives[0] if c.op == "=" and c.literal)
    return _Entry(name, _field_test(alternatives), literals)


def _field_test(alternatives: list[list[Comparison]]) -> FieldTest:
    groups = [tuple(c.on_field for c in group) for group in alternatives]
    if len(groups) == 1 and len(groups[0]) == 1:
        return groups[0][0]
    return lambda field: any(all(test(field) for test in group) for group in groups)


def _compile(entries: list[_Entry]) -> Callable[[str], bool]:
    # Segments: runs of single-field entries between the '...' entries.
    segments: list[list[_Entry]] = [[]]
    for entry in entries:
        if entry.name is None:
            segments.append([])
        else:
            segments[-1].append(entry)
    if len(segments) == 1:
        fixed = [(i, e.test) for i, e in enumerate(entries) if e.test is not None]
        count = len(entries)

        def exact(message: str) -> bool:
            fields = split_fields(message)
            if len(fields) != count:
                return False
            for i, test in fixed:
                if not test(fields[i]):
                    return False
            return True

        return exact

    head, middle, tail = segments[0], segments[1:-1], segments[-1]
    least = sum(len(s) for s in segments)

    def with_ellipsis(message: str) -> bool:
        fields = split_fields(message)
        n = len(fields)
        if n < least:
            return False
        if not _fits(head, fields, 0) or not _fits(tail, fields, n - len(tail)):
            return False
        # Leftmost placement of each middle run is optimal: a later start never helps the
        # runs after it, since every '...' between them absorbs any gap.
        at, stop = len(head), n - len(tail)
        for run in middle:
            while at + len(run) <= stop and not _fits(run, fields, at):
                at += 1
            if at + len(run) > stop:
                return False
            at += len(run)
        return True

    return with_ellipsis


def _fits(run: list[_Entry], fields: list[str], start: int) -> bool:
    for offset, entry in enumerate(run):
        if entry.test is not None and not entry.test(fields[start + offset]):
            return False
    return True
