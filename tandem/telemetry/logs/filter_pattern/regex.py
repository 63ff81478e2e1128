"""CloudWatch's restricted regular expressions (``%regex%``), checked and translated to ``re``.

CloudWatch accepts only ASCII alphanumerics, the symbols ``: _ # = @ / ; , -`` and the
operators ``^ $ ? [ ] { } | \\ * + .``; no ``( )`` groups and no multibyte characters.
Rather than hand the text to ``re`` (whose dialect is larger: groups, backreferences,
lookarounds, nested-set warnings), each item is validated and re-emitted escaped, so a
pattern either means what CloudWatch would mean or is rejected with the position of the
offending character.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tandem.telemetry.logs.filter_pattern.scanner import Scanner

_SYMBOLS = frozenset(":_#=@/;,-")
_OPERATORS = frozenset("^$?[]{}|\\*+.")
_CLASS_ESCAPES = frozenset("dDsSwW")
_QUANTIFIERS = frozenset("*+?")
# Bounded so re.compile cannot fail or take long on a huge repetition count.
MAX_REPEAT = 1000
_BRACES = re.compile(r"\{([0-9]{1,4})(,([0-9]{0,4}))?\}")


def _is_literal(ch: str) -> bool:
    return (ch.isascii() and ch.isalnum()) or ch in _SYMBOLS


def compile_cloudwatch_regex(source: str, scanner: Scanner, start: int) -> re.Pattern[str]:
    """Compile ``source`` (the text between the ``%`` signs, at offset ``start``)."""
    if not source:
        raise scanner.error("empty regex", start - 1)
    out: list[str] = []
    # Whether the previous item is an atom a quantifier may follow, and whether it was a
    # quantifier (then only a lazy '?' may follow).
    can_repeat = False
    after_quantifier = False
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        here = start + i
        if _is_literal(ch):
            out.append(re.escape(ch))
            can_repeat, after_quantifier = True, False
            i += 1
        elif ch == ".":
            out.append(".")
            can_repeat, after_quantifier = True, False
            i += 1
        elif ch in "^|":
            out.append(ch)
            can_repeat, after_quantifier = False, False
            i += 1
        elif ch == "$":
            # \Z: the end of the message, not before a trailing newline as re's '$' would.
            out.append(r"\Z")
            can_repeat, after_quantifier = False, False
            i += 1
        elif ch in _QUANTIFIERS:
            if can_repeat:
                can_repeat, after_quantifier = False, True
            elif ch == "?" and after_quantifier:
                after_quantifier = False  # lazy: same matches, so harmless
            else:
                raise scanner.error(f"nothing for {ch!r} to repeat in regex", here)
            out.append(ch)
            i += 1
        elif ch == "{":
            found = _BRACES.match(source, i)
            if found is None:
                raise scanner.error("'{' must start a repetition {m}, {m,} or {m,n}", here)
            if not can_repeat:
                raise scanner.error("nothing for the repetition to repeat in regex", here)
            low = int(found.group(1))
            high_text = found.group(3)
            high = int(high_text) if high_text else None
            if low > MAX_REPEAT or (high is not None and (high > MAX_REPEAT or high < low)):
                raise scanner.error(
                    f"repetition bounds must satisfy m <= n <= {MAX_REPEAT}", here
                )
            out.append(found.group(0))
            can_repeat, after_quantifier = False, True
            i = found.end()
        elif ch == "[":
            i = _character_class(source, i, scanner, start, out)
            can_repeat, after_quantifier = True, False
        elif ch == "\\":
            out.append(_escape(source, i, scanner, start))
            can_repeat, after_quantifier = True, False
            i += 2
        elif ch in "()":
            raise scanner.error("parentheses (groups) are not supported in regex", here)
        elif ch in "]}":
            raise scanner.error(f"unmatched {ch!r} in regex", here)
        else:
            raise scanner.error(f"character {ch!r} is not allowed in regex", here)
    try:
        return re.compile("".join(out), re.ASCII)
    except (re.error, OverflowError, RecursionError) as exc:  # pragma: no cover - defensive
        raise scanner.error(f"invalid regex: {exc}", start - 1) from None


def _escape(source: str, i: int, scanner: Scanner, start: int) -> str:
    """Translate ``\\x`` at ``source[i]``: a class shorthand or an escaped symbol/operator."""
    if i + 1 >= len(source):
        raise scanner.error("regex ends with a lone backslash", start + i)
    nxt = source[i + 1]
    if nxt in _CLASS_ESCAPES:
        return "\\" + nxt
    if nxt in _OPERATORS or nxt in _SYMBOLS:
        return re.escape(nxt)
    raise scanner.error(f"unsupported escape \\{nxt} in regex", start + i)


def _character_class(
    source: str, i: int, scanner: Scanner, start: int, out: list[str]
) -> int:
    """Translate ``[...]`` starting at ``source[i]``; returns the index after ``]``."""
    opening = start + i
    j = i + 1
    parts = ["["]
    if j < len(source) and source[j] == "^":
        parts.append("^")
        j += 1
    first = j
    while j < len(source):
        ch = source[j]
        if ch == "]":
            if j == first:
                raise scanner.error("empty character class in regex", opening)
            parts.append("]")
            out.append("".join(parts))
            return j + 1
        if ch == "\\":
            parts.append(_escape(source, j, scanner, start))
            j += 2
            continue
        if not (_is_literal(ch) or ch in _OPERATORS) or ch in "()":
            raise scanner.error(f"character {ch!r} is not allowed in regex", start + j)
        # A range lo-hi: both ends plain characters, in order.
        if (
            j + 2 < len(source)
            and source[j + 1] == "-"
            and source[j + 2] not in "]\\"
        ):
            high = source[j + 2]
            if not (_is_literal(high) or high in _OPERATORS) or high in "()":
                raise scanner.error(f"character {high!r} is not allowed in regex", start + j + 2)
            if ord(high) < ord(ch):
                raise scanner.error(f"bad range {ch}-{high} in regex", start + j)
            parts.append(re.escape(ch) + "-" + re.escape(high))
            j += 3
            continue
        parts.append(re.escape(ch))
        j += 1
    raise scanner.error("unterminated character class: no closing ']' in regex", opening)
