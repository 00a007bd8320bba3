"""Parsing PromQL as Prometheus 2.42 does: precedence, literals, modifiers, type checks
and its error messages; and the subset check."""

from __future__ import annotations

import math

import pytest

from watchdeck.core.engine.promql import PromQLError, UnsupportedError, ast, parse
from watchdeck.core.engine.promql.durations import parse_duration_ms, unquote
from watchdeck.core.engine.promql.lexer import lex


def shape(expr: ast.Expr) -> str:
    """A compact, fully parenthesised rendering to check the tree's structure."""
    if isinstance(expr, ast.NumberLiteral):
        return repr(expr.value)
    if isinstance(expr, ast.StringLiteral):
        return repr(expr.value)
    if isinstance(expr, ast.VectorSelector):
        offset = f" offset {expr.offset_ms}" if expr.has_offset else ""
        return expr.name + offset
    if isinstance(expr, ast.MatrixSelector):
        return f"{shape(expr.selector)}[{expr.range_ms}]"
    if isinstance(expr, ast.ParenExpr):
        return f"({shape(expr.expr)})"
    if isinstance(expr, ast.UnaryExpr):
        return f"{'-' if expr.op == 'SUB' else '+'}{shape(expr.expr)}"
    if isinstance(expr, ast.BinaryExpr):
        return f"({shape(expr.lhs)} {ast.OPERATOR_SYMBOLS[expr.op]} {shape(expr.rhs)})"
    if isinstance(expr, ast.Call):
        return f"{expr.func.name}({', '.join(shape(a) for a in expr.args)})"
    if isinstance(expr, ast.AggregateExpr):
        args = [shape(expr.param)] if expr.param is not None else []
        return f"{expr.op.lower()}({', '.join(args + [shape(expr.expr)])})"
    raise AssertionError(expr)


@pytest.mark.parametrize(("query", "expected"), [
    ("1 + 2 * 3", "(1.0 + (2.0 * 3.0))"),
    ("2 ^ 3 ^ 2", "(2.0 ^ (3.0 ^ 2.0))"),
    ("a - b - c", "((a - b) - c)"),
    ("-a ^ b", "-(a ^ b)"),
    ("-a * b", "(-a * b)"),
    ("-2 ^ 2", "-(2.0 ^ 2.0)"),
    ("-1", "-1.0"),
    ("- -1", "1.0"),
    ("2 ^ -1", "(2.0 ^ -1.0)"),
    ("a or b and c unless d", "(a or ((b and c) unless d))"),
    ("a == b + c", "(a == (b + c))"),
    ("a + b offset 5m", "(a + b offset 300000)"),
    ("a > bool 1 * 2", "(a > (1.0 * 2.0))"),
    ("sum by (x) (rate(y[1m]))", "sum(rate(y[60000]))"),
    ("topk(3, x) by (a)", "topk(3.0, x)"),
    ("x offset -1h30m", "x offset -5400000"),
    ("SUM(x)", "sum(x)"),
    ("sum", "sum"),
    ("by{a=\"b\"}", "by"),
    ("(a + b) * c", "(((a + b)) * c)"),
])
def test_precedence_and_associativity(query, expected):
    assert shape(parse(query)) == expected


@pytest.mark.parametrize(("text", "value"), [
    ("017", 15.0), ("0x1F", 31.0), ("1e3", 1000.0), (".5", 0.5), ("1.", 1.0),
    ("Inf", math.inf), ("-inf", -math.inf), ("99999999999999999999", 1e20), ("09", 9.0),
])
def test_number_literals(text, value):
    assert parse(text).value == value


def test_nan_literal():
    assert math.isnan(parse("NaN").value)


def test_strings_and_escapes():
    assert parse('"a\\tb\\"c"').value == 'a\tb"c'
    assert parse("'a\"b'").value == 'a"b'
    assert parse("`raw\\n`").value == "raw\\n"
    assert unquote('"\\u00e9\\x41\\101"') == "éAA"


def test_durations():
    assert parse_duration_ms("1h30m") == 5_400_000
    assert parse_duration_ms("1y2w3d") == (365 + 14 + 3) * 86_400_000
    assert parse_duration_ms("90s") == 90_000
    assert parse_duration_ms("1500ms") == 1500
    with pytest.raises(ValueError, match="not a valid duration string"):
        parse_duration_ms("1m1h")


def test_selectors_and_modifiers():
    expr = parse('rate(http_requests_total{job=~"api|web", code!="200"}[5m] offset 1m)')
    matrix = expr.args[0]
    assert isinstance(matrix, ast.MatrixSelector) and matrix.range_ms == 300_000
    selector = matrix.selector
    assert selector.offset_ms == 60_000
    assert [(m.name, m.op, m.value) for m in selector.matchers] == [
        ("job", "=~", "api|web"), ("code", "!=", "200"),
        ("__name__", "=", "http_requests_total")]
    binary = parse("a * on(x, y) group_left(z) b")
    assert binary.matching.on and binary.matching.labels == ["x", "y"]
    assert binary.matching.card == ast.MANY_TO_ONE and binary.matching.include == ["z"]
    assert parse("a and b").matching.card == ast.MANY_TO_MANY
    assert parse("a > bool b").return_bool
    assert parse("sum without (a,) (x)").without


def test_lexer_tokens():
    kinds = [t.typ for t in lex('sum by (le) (x{a!~"b"}[5m:1m]) # c')]
    assert kinds == ["SUM", "BY", "LEFT_PAREN", "IDENTIFIER", "RIGHT_PAREN", "LEFT_PAREN",
                     "IDENTIFIER", "LEFT_BRACE", "IDENTIFIER", "NEQ_REGEX", "STRING",
                     "RIGHT_BRACE", "LEFT_BRACKET", "DURATION", "COLON", "DURATION",
                     "RIGHT_BRACKET", "RIGHT_PAREN", "EOF"]


# Prometheus 2.42's own messages (checked against Debian's prometheus).
@pytest.mark.parametrize(("query", "message"), [
    ("sum(", "1:5: parse error: unclosed left parenthesis"),
    ("x +", "1:4: parse error: unexpected end of input"),
    ("rate(x)", '1:6: parse error: expected type range vector in call to function "rate", '
                "got instant vector"),
    ("1 > 2", "1:3: parse error: comparisons between scalars must use BOOL modifier"),
    ("foo(x)", '1:1: parse error: unknown function with name "foo"'),
    ("x[5m:1m", "1:8: parse error: unclosed left bracket"),
    ('{a=""}', "1:1: parse error: vector selector must contain at least one non-empty matcher"),
    ("sum(x, y)", "1:1: parse error: wrong number of arguments for aggregate expression "
                  "provided, expected 1, got 2"),
    ("x offset 5m [5m]", "1:13: parse error: no offset modifiers allowed before range"),
    ("(x)[5m]", "1:4: parse error: ranges only allowed for vector selectors"),
    ("x[5]", "1:3: parse error: missing unit character in duration"),
    ('x{a="b"', "1:8: parse error: unexpected end of input inside braces"),
    ("rate(x[5m]) offset 5m", "1:1: parse error: offset modifier must be preceded by an "
                              "instant vector selector or range vector selector or a subquery"),
    ("x and 1", '1:1: parse error: set operator "and" not allowed in binary scalar expression'),
    ("x + on(a) 1", "1:1: parse error: vector matching only allowed between instant vectors"),
    ("x > bool on(a) group_left(a) y",
     '1:3: parse error: label "a" must not occur in ON and GROUP clause at once'),
    ('"a" + 1', "1:1: parse error: binary expression must contain only scalar and instant "
                "vector types"),
    ("1e", '1:1: parse error: error parsing number: strconv.ParseFloat: parsing "1e": '
           "invalid syntax"),
    ('x{a="\\q"}', "1:5: parse error: unknown escape sequence U+0071 'q'"),
    ("x offset 0s", "1:10: parse error: duration must be greater than 0"),
    ("sum by (foo bar) (x)", '1:13: parse error: unexpected identifier "bar" in grouping opts, '
                             'expected "," or ")"'),
    ("sum by (1) (x)", '1:9: parse error: unexpected number "1" in grouping opts, '
                       "expected label"),
    ("a:b(x)", '1:4: parse error: unexpected "("'),
    ("rate(x[5m],)", "1:11: parse error: trailing commas not allowed in function call args"),
    ("absent()", '1:1: parse error: expected 1 argument(s) in call to "absent", got 0'),
    ('x{a=~"(?=x)"}', "1:3: parse error: error parsing regexp: invalid or unsupported Perl "
                      "syntax: `(?=`"),
    ("x\n  + ", "2:5: parse error: unexpected end of input"),
    ("", "1:1: parse error: no expression found in input"),
])
def test_errors_as_prometheus_words_them(query, message):
    with pytest.raises(PromQLError) as caught:
        parse(query)
    assert caught.value.error_type == "bad_data"
    assert str(caught.value) == message
    assert not isinstance(caught.value, UnsupportedError)


@pytest.mark.parametrize(("query", "construct"), [
    ("x[5m:1m]", "subqueries"),
    ("rate(x[5m:])", "subqueries"),
    ("x @ 100", "the @ modifier"),
    ("x @ start()", "the @ modifier"),
    ("stddev(x)", 'aggregation "stddev"'),
    ("group(x)", 'aggregation "group"'),
    ('count_values("v", x)', 'aggregation "count_values"'),
    ("sort(x)", 'function "sort"'),
    ("predict_linear(x[5m], 60)", 'function "predict_linear"'),
    ("clamp(x, 0, 1)", 'function "clamp"'),
    ("x atan2 y", 'the "atan2" operator'),
    ('x{a=~"\\\\pL"}', "\\p in regular expressions"),
    ('label_replace(x, "a", "b", "c", "(?U)d")', "the U (ungreedy) flag in regular expressions"),
])
def test_outside_the_subset(query, construct):
    with pytest.raises(UnsupportedError) as caught:
        parse(query)
    assert caught.value.error_type == "bad_data"
    assert str(caught.value) == f"not supported by the embedded engine: {construct}"


def test_an_invalid_query_is_bad_data_before_being_unsupported():
    # Prometheus rejects it too, so the engine says what Prometheus says.
    with pytest.raises(PromQLError) as caught:
        parse("stddev(x[5m])")
    assert not isinstance(caught.value, UnsupportedError)
    assert "expected type instant vector in aggregation expression" in str(caught.value)
