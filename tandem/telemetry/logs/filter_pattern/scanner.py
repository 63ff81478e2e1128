"""The cursor every filter-pattern parser reads with.

One ``Scanner`` walks the pattern text for the whole parse, so positions in errors are
always offsets into the text the caller gave, and the regex budget (at most two ``%re%``
per pattern) is counted across terms, JSON and space-delimited conditions alike.
"""

from __future__ import annotations

import re

from tandem.errors import InvalidFilterPattern
from tandem.telemetry.logs.filter_pattern.regex import compile_cloudwatch_regex

# FilterLogEvents and Live Tail accept at most two regular expressions per pattern.
MAX_REGEXES = 2
# Nesting of parentheses in JSON patterns; bounded so no input can exhaust the stack.
MAX_DEPTH = 50

_SPACE = frozenset(" \t\r\n")


class Scanner:
    """A position in a filter pattern, with the reads the grammars share."""

    __slots__ = ("text", "pos", "regex_count", "depth")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.regex_count = 0
        self.depth = 0

    def error(self, message: str, position: int | None = None) -> InvalidFilterPattern:
        where = self.pos if position is None else position
        return InvalidFilterPattern(message, self.text, where)

    def peek(self, offset: int = 0) -> str:
        """The character ``offset`` ahead, or ``""`` past the end."""
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_spaces(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        self.pos = pos

    def at_space_or_end(self) -> bool:
        return self.at_end() or self.text[self.pos] in _SPACE

    def take(self, literal: str) -> bool:
        """Consume ``literal`` if the text continues with it."""
        if self.text.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def read_while(self, accept: frozenset[str] | None = None) -> str:
        """Consume a run of term characters (alphanumerics and ``_``, plus ``accept``)."""
        text, start = self.text, self.pos
        pos = start
        while pos < len(text):
            ch = text[pos]
            if not (ch.isalnum() or ch == "_" or (accept is not None and ch in accept)):
                break
            pos += 1
        self.pos = pos
        return text[start:pos]

    def read_quoted(self) -> str:
        """Read ``"..."`` at the cursor; ``\\"`` and ``\\\\`` are escapes, other backslashes
        stay as written so Windows paths and regex-looking text survive quoting."""
        opening = self.pos
        text = self.text
        pos = opening + 1
        out: list[str] = []
        while pos < len(text):
            ch = text[pos]
            if ch == '"':
                self.pos = pos + 1
                return "".join(out)
            if ch == "\\" and pos + 1 < len(text) and text[pos + 1] in '"\\':
                out.append(text[pos + 1])
                pos += 2
                continue
            out.append(ch)
            pos += 1
        raise self.error('unterminated quoted string: no closing "', opening)

    def read_regex(self) -> re.Pattern[str]:
        """Read ``%regex%`` at the cursor and compile it with CloudWatch's restrictions."""
        opening = self.pos
        closing = self.text.find("%", opening + 1)
        if closing < 0:
            raise self.error("unterminated regex: no closing %", opening)
        self.regex_count += 1
        if self.regex_count > MAX_REGEXES:
            raise self.error(f"at most {MAX_REGEXES} regular expressions per pattern", opening)
        source = self.text[opening + 1 : closing]
        compiled = compile_cloudwatch_regex(source, self, opening + 1)
        self.pos = closing + 1
        return compiled

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} parentheses", position)

    def leave(self) -> None:
        self.depth -= 1
