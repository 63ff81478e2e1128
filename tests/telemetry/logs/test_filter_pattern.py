"""Filter patterns: the corpus in filter_patterns/ (one case per file) plus property tests
against naive recomputations."""

from __future__ import annotations

import json
import operator
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.errors import InvalidFilterPattern
from tandem.telemetry.logs.filter_pattern import (
    FilterPattern,
    PatternKind,
    parse_filter_pattern,
    split_fields,
)

CORPUS = Path(__file__).parent / "filter_patterns"
CASES = sorted(CORPUS.glob("*.json"))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


MATCH_CASES = [p for p in CASES if "error_position" not in _load(p)]
ERROR_CASES = [p for p in CASES if "error_position" in _load(p)]


def test_corpus_is_present_and_well_formed():
    assert len(MATCH_CASES) >= 80 and len(ERROR_CASES) >= 40
    for path in CASES:
        case = _load(path)
        assert re.fullmatch(r"[0-9]{3}\.json", path.name)
        assert isinstance(case["pattern"], str) and case["description"]
        if "error_position" not in case:
            assert case["match"] or case["no_match"] or case["pattern"].strip() == ""


@pytest.mark.parametrize("path", MATCH_CASES, ids=lambda p: p.stem)
def test_corpus_match_case(path: Path):
    case = _load(path)
    pattern = parse_filter_pattern(case["pattern"])
    assert [m for m in case["match"] if not pattern.matches(m)] == []
    assert [m for m in case["no_match"] if pattern.matches(m)] == []
    if "required_terms" in case:
        assert list(pattern.required_terms) == case["required_terms"]
    for message in case["match"]:
        assert all(term in message for term in pattern.required_terms)


@pytest.mark.parametrize("path", ERROR_CASES, ids=lambda p: p.stem)
def test_corpus_error_case(path: Path):
    case = _load(path)
    with pytest.raises(InvalidFilterPattern) as raised:
        parse_filter_pattern(case["pattern"])
    error = raised.value
    assert (error.position, case["error"] in error.message) == (case["error_position"], True), (
        error.message
    )
    assert error.pattern == case["pattern"]
    assert error.details == {"pattern": case["pattern"], "position": case["error_position"]}
    assert error.message.startswith(f"Invalid filter pattern at position {error.position + 1}: ")


def test_corpus_covers_every_form():
    kinds = {parse_filter_pattern(_load(p)["pattern"]).kind for p in MATCH_CASES}
    assert kinds == set(PatternKind)


def test_match_all_only_for_the_empty_pattern():
    assert parse_filter_pattern("").match_all is True
    assert parse_filter_pattern("   ").match_all is True
    assert parse_filter_pattern("-x").match_all is False
    assert parse_filter_pattern('""').match_all is False
    assert parse_filter_pattern("").required_terms == ()


def test_pattern_records_text_kind_and_a_reusable_predicate():
    pattern = parse_filter_pattern("?a ?b")
    assert (pattern.text, pattern.kind) == ("?a ?b", PatternKind.TERMS)
    assert [pattern.predicate(m) for m in ("xa", "b", "c")] == [True, True, False]
    assert isinstance(parse_filter_pattern("{ $.a = 1 }"), FilterPattern)


def test_required_terms_from_or_json_and_regex_patterns_are_empty():
    for text in ("?a ?b", "{ $.a = \"x\" }", "%abc%", "[a = x || a = y]", "-a", "[a != x]"):
        assert parse_filter_pattern(text).required_terms == (), text


def test_split_fields_strips_brackets_and_quotes():
    line = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /a.gif HTTP/1.0" 200 1534'
    assert split_fields(line) == [
        "127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700", "GET /a.gif HTTP/1.0",
        "200", "1534",
    ]
    assert split_fields('[] ""  x[y]') == ["", "", "x[y]"]


_FIELD = re.compile(r'\[([^\]]*)\]|"([^"]*)"|(\S+)')


@given(st.text(st.sampled_from(' \t\x1c\x85\u3000ab[]"'), max_size=20))
def test_split_fields_fast_path_agrees_with_the_grouping_rule(message):
    expected = [m.group(m.lastindex) for m in _FIELD.finditer(message)]
    assert split_fields(message) == expected


def test_json_pattern_parses_each_message_once_and_survives_deep_nesting():
    pattern = parse_filter_pattern("{ $.a = 1 }")
    assert pattern.matches("[" * 100_000 + "]" * 100_000) is False


# --- property tests --------------------------------------------------------------------

GRAMMAR = st.sampled_from(
    list("{}[]()$.=!<>&|\"%?-*, \\aZ09_é\t")
    + ["$.a", "&&", "||", "...", "IS NULL", "NOT EXISTS", "IS TRUE", "%a%", "1e5", "[*]"]
)
PATTERN_TEXT = st.one_of(st.text(max_size=40), st.lists(GRAMMAR, max_size=25).map("".join))
MESSAGES = st.one_of(
    st.text(max_size=30),
    st.recursive(
        st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False,
                                                                     allow_infinity=False)
        | st.sampled_from(["a", "x", "1", ""]),
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "x"]), inner, max_size=3),
        max_leaves=8,
    ).map(json.dumps),
)


@settings(max_examples=400, deadline=None)
@given(PATTERN_TEXT, st.lists(MESSAGES, max_size=4))
def test_any_text_parses_or_raises_invalid_filter_pattern(text, messages):
    try:
        pattern = parse_filter_pattern(text)
    except InvalidFilterPattern as error:
        assert 0 <= error.position <= len(text)
        return
    for message in messages:
        verdict = pattern.matches(message)
        assert isinstance(verdict, bool)
        if verdict:
            assert all(term in message for term in pattern.required_terms)


TERM = st.text(st.sampled_from("abAB_1é"), min_size=1, max_size=3)
PHRASE = st.text(st.sampled_from('ab "\\-.'), max_size=4)
MESSAGE = st.text(st.sampled_from('abAB_1é "\\-.'), max_size=20)


def _quote(phrase: str) -> str:
    return '"' + phrase.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(st.lists(st.one_of(TERM, PHRASE.map(lambda p: (p,))), max_size=4), MESSAGE)
def test_plain_terms_match_like_all_substrings(items, message):
    texts = [i if isinstance(i, str) else _quote(i[0]) for i in items]
    literals = [i if isinstance(i, str) else i[0] for i in items]
    pattern = parse_filter_pattern(" ".join(texts))
    assert pattern.matches(message) == all(t in message for t in literals)
    assert set(pattern.required_terms) == {t for t in literals if t}


@given(st.lists(TERM, max_size=3), st.lists(TERM, max_size=3), st.lists(TERM, max_size=3),
       MESSAGE)
def test_or_and_exclusion_terms_match_the_documented_reading(plain, any_of, excluded, message):
    text = " ".join(plain + ["?" + t for t in any_of] + ["-" + t for t in excluded])
    expected = (
        all(t in message for t in plain)
        and (not any_of or any(t in message for t in any_of))
        and not any(t in message for t in excluded)
    )
    assert parse_filter_pattern(text).matches(message) == expected


OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
       "<=": operator.le, ">=": operator.ge}
NUMBER = st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False))


@given(st.sampled_from(sorted(OPS)), NUMBER, st.one_of(NUMBER, st.text(max_size=3),
                                                         st.none(), st.booleans()))
def test_json_numeric_conditions_compare_json_numbers_only(op, bound, value):
    pattern = parse_filter_pattern(f"{{ $.n {op} {bound!r} }}")
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    expected = is_number and OPS[op](value, float(repr(bound)))
    assert pattern.matches(json.dumps({"n": value})) == expected


@given(st.sampled_from(sorted(OPS)), NUMBER, NUMBER)
def test_space_delimited_numeric_conditions_read_fields_as_numbers(op, bound, value):
    pattern = parse_filter_pattern(f"[x, n {op} {bound!r}]")
    assert pattern.matches(f"x {value!r}") == OPS[op](float(repr(value)), float(repr(bound)))


def _naive_wildcard(value: str, text: str) -> bool:
    lead, trail = value.startswith("*"), len(value) > 1 and value.endswith("*")
    core = value[1 if lead else 0 : len(value) - 1 if trail else len(value)]
    regex = (".*" if lead else "") + re.escape(core) + (".*" if trail else "")
    return re.fullmatch(regex, text, re.DOTALL) is not None


@given(st.text(st.sampled_from("ab*"), min_size=1, max_size=5),
       st.text(st.sampled_from("ab*"), max_size=6))
def test_string_wildcards_only_at_the_ends(value, text):
    expected = _naive_wildcard(value, text)
    assert parse_filter_pattern(f'{{ $.s = "{value}" }}').matches(json.dumps({"s": text})) \
        == expected
    if text:
        assert parse_filter_pattern(f'[s = "{value}"]').matches(text) == expected


@given(st.lists(st.sampled_from(["f", "..."]), min_size=1, max_size=5),
       st.lists(st.sampled_from(["a", "b"]), max_size=7))
def test_space_delimited_field_counts(entries, fields):
    fixed = entries.count("f")
    fits = len(fields) == fixed if "..." not in entries else len(fields) >= fixed
    names = [e if e == "..." else f"f{i}" for i, e in enumerate(entries)]
    assert parse_filter_pattern("[" + ", ".join(names) + "]").matches(" ".join(fields)) == fits
