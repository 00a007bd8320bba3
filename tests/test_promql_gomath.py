"""Go's float semantics and formatting, and RE2 regular expressions on Python's re."""

from __future__ import annotations

import math
import re

import pytest

from watchdeck.core.engine.promql.gomath import (
    format_go_v,
    format_scalar,
    format_value,
    go_ceil,
    go_div,
    go_max,
    go_min,
    go_mod,
    go_pow,
    parse_go_float,
)
from watchdeck.core.engine.promql.regex import InvalidRegex, UnsupportedRegex, compile_anchored

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize(("value", "scalar", "sample"), [
    (1.0, "1", "1"), (0.25, "0.25", "0.25"), (-0.0, "-0", "-0"), (NAN, "NaN", "NaN"),
    (INF, "+Inf", "+Inf"), (-INF, "-Inf", "-Inf"), (1e22, "10000000000000000000000", "1e+22"),
    (1.5e-7, "0.00000015", "1.5e-07"), (1e-6, "0.000001", "0.000001"),
    (1e21, "1000000000000000000000", "1e+21"),
    (1e20, "100000000000000000000", "100000000000000000000"),
    (0.1 + 0.2, "0.30000000000000004", "0.30000000000000004"),
    (123456789.125, "123456789.125", "123456789.125"),
])
def test_formatting_like_prometheus(value, scalar, sample):
    assert format_scalar(value) == scalar  # strconv.FormatFloat(v, 'f', -1, 64)
    assert format_value(value) == sample  # the API's sample values: 'e' below 1e-6, from 1e21


def test_go_v_format_for_error_messages():
    assert [format_go_v(v) for v in (1e20, 1234567.0, 123456.0, 3e-5, NAN)] == [
        "1e+20", "1.234567e+06", "123456", "3e-05", "NaN"]


def test_arithmetic_edges_give_go_answers_instead_of_raising():
    assert go_div(1, 0) == INF and go_div(-1, 0) == -INF and math.isnan(go_div(0, 0))
    assert go_div(1, -0.0) == -INF
    assert go_mod(5, 3) == 2 and go_mod(-5, 3) == -2 and math.isnan(go_mod(5, 0))
    assert math.isnan(go_mod(INF, 2)) and go_mod(3, INF) == 3
    assert go_pow(0, -1) == INF and go_pow(-0.0, -1) == -INF and math.isnan(go_pow(-8, 1 / 3))
    assert go_pow(10, 400) == INF and go_pow(-10, 401) == -INF and go_pow(NAN, 0) == 1
    assert math.copysign(1, go_ceil(-0.5)) == -1
    assert math.copysign(1, go_max(-0.0, 0.0)) == 1 and math.copysign(1, go_min(0.0, -0.0)) == -1
    assert math.isnan(go_max(1, NAN)) and go_max(NAN, INF) == INF and go_min(NAN, -INF) == -INF


@pytest.mark.parametrize(("text", "value"), [
    ("1", 1.0), ("+Inf", INF), ("-inf", -INF), ("Infinity", INF), ("0.5", 0.5), ("1e3", 1000.0),
    ("0x1p-2", 0.25), (".5", 0.5)])
def test_parse_go_float(text, value):
    assert parse_go_float(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1_0", "+nan", "0x1F", "1e400", "abc", "1e"])
def test_parse_go_float_rejects_what_go_rejects(text):
    with pytest.raises(ValueError):
        parse_go_float(text)


@pytest.mark.parametrize(("pattern", "matching", "not_matching"), [
    ("(?i)api", ["API", "api"], ["apis"]),
    ("a(?i)b|c", ["aB", "C"], ["AB", "ac"]),
    ("\\d+", ["123"], ["١٢٣", "12a"]),  # RE2's \d is ASCII only
    ("\\w+", ["a_1"], ["é"]),
    ("[[:alpha:]_]+", ["ab_"], ["a1"]),
    ("a{,2}", ["a{,2}"], ["aa"]),  # a literal in RE2
    ("x{2,3}", ["xx", "xxx"], ["x"]),
    ("\\Qa.b\\E", ["a.b"], ["axb"]),
    ("\\x{41}\\101", ["AA"], ["A"]),
    (".*", ["", "abc"], ["a\nb"]),  # 2.42: "." does not match a newline
    ("[\\d.]+", ["1.5"], ["a"]),
])
def test_re2_patterns_match_as_in_prometheus(pattern, matching, not_matching):
    compiled = compile_anchored(pattern)
    assert all(compiled.fullmatch(s) for s in matching)
    assert not any(compiled.fullmatch(s) for s in not_matching)


@pytest.mark.parametrize("pattern", ["(?=a)", "(?<!a)b", "a++", "\\1", "(a)\\1", "a{1001}",
                                     "(?x)a", "(a", "a)", "[a", "\\Z", "(?P=n)"])
def test_what_re2_refuses_is_refused(pattern):
    with pytest.raises(InvalidRegex):
        compile_anchored(pattern)
    assert issubclass(InvalidRegex, re.error)


@pytest.mark.parametrize("pattern", ["\\pL", "\\p{Greek}", "(?U)a*", "[\\D]", "[[:^alpha:]]"])
def test_what_the_translation_does_not_cover_is_unsupported(pattern):
    with pytest.raises(UnsupportedRegex):
        compile_anchored(pattern)
