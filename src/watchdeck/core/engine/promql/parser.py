"""The PromQL parser: Prometheus 2.42's grammar (generated_parser.y) by precedence
climbing, then its type checks (parse.go's checkAST), then the subset check.

Precedence, lowest first: ``or``; ``and`` ``unless``; comparisons; ``+ -``;
``* / % atan2``; ``^`` (right-associative). Unary ``-``/``+`` bind like ``*`` (so
``-a ^ b`` is ``-(a ^ b)``), a minus directly before a number folds into the literal,
and the postfix modifiers ``[range]``, ``[range:step]``, ``offset`` and ``@`` bind
tighter than any operator.

Errors are :class:`PromQLError` with errorType ``bad_data`` and Prometheus's
``line:column: parse error: ...`` form.
"""

from __future__ import annotations

import re

from watchdeck.core.engine.matchers import Matcher
from watchdeck.core.engine.promql import ast
from watchdeck.core.engine.promql.ast import (
    COMPARISONS,
    DOCUMENTED,
    SCALAR,
    SET_OPERATORS,
    STRING,
    VECTOR,
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
)
from watchdeck.core.engine.promql.durations import parse_duration_ms, unquote
from watchdeck.core.engine.promql.errors import UnsupportedError, bad_data
from watchdeck.core.engine.promql.gomath import go_parse_int0, go_quote, parse_go_float
from watchdeck.core.engine.promql.lexer import AGGREGATORS, Token, is_label, lex
from watchdeck.core.engine.promql.regex import UnsupportedRegex, translate
from watchdeck.core.engine.promql.signatures import FUNCTIONS

_PRECEDENCE = {
    "LOR": 1, "LAND": 2, "LUNLESS": 2,
    "EQLC": 3, "NEQ": 3, "GTR": 3, "LSS": 3, "GTE": 3, "LTE": 3,
    "ADD": 4, "SUB": 4, "MUL": 5, "DIV": 5, "MOD": 5, "ATAN2": 5, "POW": 6,
}
_UNARY_OPERAND_PRECEDENCE = 6  # unary binds like MUL: only ^ binds tighter
_AGGREGATOR_TOKENS = frozenset(AGGREGATORS.values())
_PARAM_AGGREGATORS = frozenset({"TOPK", "BOTTOMK", "COUNT_VALUES", "QUANTILE"})
_METRIC_IDENTIFIER_TOKENS = _AGGREGATOR_TOKENS | {
    "IDENTIFIER", "METRIC_IDENTIFIER", "BY", "LAND", "LOR", "LUNLESS", "OFFSET", "WITHOUT",
    "START", "END",
}
_MAYBE_LABEL_TOKENS = _AGGREGATOR_TOKENS | {
    "BOOL", "BY", "GROUP_LEFT", "GROUP_RIGHT", "IDENTIFIER", "IGNORING", "LAND", "LOR",
    "LUNLESS", "METRIC_IDENTIFIER", "ON", "OFFSET", "START", "END", "ATAN2",
}
_KEYWORD_TOKENS = {"BOOL", "BY", "GROUP_LEFT", "GROUP_RIGHT", "IGNORING", "OFFSET", "ON",
                   "WITHOUT", "START", "END"}
_FIXED_TEXT = {
    "LEFT_PAREN": "(", "RIGHT_PAREN": ")", "LEFT_BRACE": "{", "RIGHT_BRACE": "}",
    "LEFT_BRACKET": "[", "RIGHT_BRACKET": "]", "COMMA": ",", "EQL": "=", "COLON": ":",
}
_MATCH_OPS = {"EQL": "=", "NEQ": "!=", "EQL_REGEX": "=~", "NEQ_REGEX": "!~"}
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class _ParseError(Exception):
    def __init__(self, pos: int, message: str) -> None:
        self.pos = pos
        self.message = message


def describe(token: Token) -> str:
    """How Prometheus names a token in "unexpected ..." messages (Item.desc)."""
    typ, val = token.typ, token.val
    if typ == "EOF":
        return "end of input"
    if typ in _FIXED_TEXT:
        return go_quote(_FIXED_TEXT[typ])
    if typ in ast.OPERATOR_SYMBOLS or typ in ("EQL_REGEX", "NEQ_REGEX", "AT"):
        return f"<op:{val}>"
    if typ in _AGGREGATOR_TOKENS:
        return f"<aggr:{val}>"
    if typ in _KEYWORD_TOKENS:
        return f"<{val}>"
    names = {"IDENTIFIER": "identifier", "METRIC_IDENTIFIER": "metric identifier",
             "STRING": "string", "NUMBER": "number", "DURATION": "duration"}
    text = go_quote(val)
    if len(val) > 10:
        text = go_quote(val[:10]) + "..."
    return f"{names.get(typ, typ.lower())} {text}"


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = lex(text)
        self.i = 0

    # -- token helpers -------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.typ == "ERROR":
            raise _ParseError(token.pos, token.val)
        if self.i < len(self.tokens) - 1:
            self.i += 1
        return token

    def check_lex_error(self) -> None:
        if self.tok.typ == "ERROR":
            raise _ParseError(self.tok.pos, self.tok.val)

    def unexpected(self, context: str = "", expected: str = "") -> _ParseError:
        self.check_lex_error()
        message = f"unexpected {describe(self.tok)}"
        if context:
            message += f" in {context}"
        if expected:
            message += f", expected {expected}"
        return _ParseError(self.tok.pos, message)

    def expect(self, typ: str, context: str, expected: str) -> Token:
        if self.tok.typ != typ:
            raise self.unexpected(context, expected)
        return self.advance()

    # -- grammar -------------------------------------------------------------------

    def parse(self) -> Expr:
        self.check_lex_error()
        if self.tok.typ == "EOF":
            raise _ParseError(0, "no expression found in input")
        expr = self.expression(0)
        if self.tok.typ != "EOF":
            raise self.unexpected()
        return expr

    def expression(self, min_precedence: int) -> Expr:
        lhs = self.unary()
        while True:
            self.check_lex_error()
            op = self.tok.typ
            precedence = _PRECEDENCE.get(op)
            if precedence is None or precedence < min_precedence:
                return lhs
            op_pos = self.advance().pos
            matching, return_bool = self.bin_modifiers()
            # ^ is right-associative; everything else associates to the left.
            rhs = self.expression(precedence if op == "POW" else precedence + 1)
            lhs = BinaryExpr(op, lhs, rhs, matching, return_bool, lhs.start, rhs.end, op_pos)

    def bin_modifiers(self) -> tuple[VectorMatching, bool]:
        matching = VectorMatching()
        return_bool = False
        if self.tok.typ == "BOOL":
            self.advance()
            return_bool = True
        if self.tok.typ in ("ON", "IGNORING"):
            matching.on = self.advance().typ == "ON"
            matching.labels = self.grouping_labels()
            if self.tok.typ in ("GROUP_LEFT", "GROUP_RIGHT"):
                side = self.advance().typ
                matching.card = ast.MANY_TO_ONE if side == "GROUP_LEFT" else ast.ONE_TO_MANY
                if self.tok.typ == "LEFT_PAREN":
                    matching.include = self.grouping_labels()
        return matching, return_bool

    def grouping_labels(self) -> list[str]:
        if self.tok.typ != "LEFT_PAREN":
            raise self.unexpected("grouping opts", '"("')
        self.advance()
        labels: list[str] = []
        while self.tok.typ != "RIGHT_PAREN":
            if self.tok.typ not in _MAYBE_LABEL_TOKENS or not is_label(self.tok.val):
                raise self.unexpected("grouping opts", "label")
            labels.append(self.advance().val)
            if self.tok.typ == "COMMA":
                self.advance()
            elif self.tok.typ != "RIGHT_PAREN":
                raise self.unexpected("grouping opts", '"," or ")"')
        self.advance()
        return labels

    def unary(self) -> Expr:
        self.check_lex_error()
        if self.tok.typ in ("ADD", "SUB"):
            op_token = self.advance()
            operand = self.expression(_UNARY_OPERAND_PRECEDENCE)
            if isinstance(operand, NumberLiteral):
                if op_token.typ == "SUB":
                    operand.value = -operand.value
                operand.start = op_token.pos
                return operand
            return UnaryExpr(op_token.typ, operand, op_token.pos, operand.end)
        return self.postfix(self.primary())

    def postfix(self, expr: Expr) -> Expr:
        while True:
            self.check_lex_error()
            typ = self.tok.typ
            if typ == "LEFT_BRACKET":
                expr = self.range_or_subquery(expr)
            elif typ == "OFFSET":
                self.advance()
                negative = False
                if self.tok.typ == "SUB":
                    self.advance()
                    negative = True
                if self.tok.typ != "DURATION":
                    raise self.unexpected("offset", "duration")
                offset = self.duration(self.advance())
                self.add_offset(expr, -offset if negative else offset)
            elif typ == "AT":
                self.advance()
                self.add_at(expr)
            else:
                return expr

    def duration(self, token: Token) -> int:
        try:
            value = parse_duration_ms(token.val)
        except ValueError as error:
            raise _ParseError(token.pos, str(error)) from None
        if value == 0:
            raise _ParseError(token.pos, "duration must be greater than 0")
        return value

    def range_or_subquery(self, expr: Expr) -> Expr:
        open_token = self.advance()
        if self.tok.typ != "DURATION":
            raise self.unexpected("subquery selector", "duration")
        range_ms = self.duration(self.advance())
        if self.tok.typ == "RIGHT_BRACKET":
            close = self.advance()
            message = ""
            if not isinstance(expr, VectorSelector):
                message = "ranges only allowed for vector selectors"
            elif expr.has_offset:
                message = "no offset modifiers allowed before range"
            elif expr.at is not None:
                message = "no @ modifiers allowed before range"
            if message:
                raise _ParseError(open_token.pos, message)
            return MatrixSelector(expr, range_ms, expr.start, close.pos + 1)
        if self.tok.typ != "COLON":
            raise self.unexpected("subquery or range", '":" or "]"')
        self.advance()
        step_ms = 0
        if self.tok.typ == "DURATION":
            step_ms = self.duration(self.advance())
        if self.tok.typ != "RIGHT_BRACKET":
            raise self.unexpected("subquery selector", '"]"')
        close = self.advance()
        return SubqueryExpr(expr, range_ms, step_ms, start=expr.start, end=close.pos + 1)

    def add_offset(self, expr: Expr, offset_ms: int) -> None:
        if isinstance(expr, MatrixSelector):
            target = expr.selector
            if not isinstance(target, VectorSelector):
                raise _ParseError(expr.start, "ranges only allowed for vector selectors")
        elif isinstance(expr, (VectorSelector, SubqueryExpr)):
            target = expr
        else:
            raise _ParseError(expr.start, "offset modifier must be preceded by an instant "
                                          "vector selector or range vector selector or a subquery")
        if target.has_offset:
            raise _ParseError(expr.start, "offset may not be set multiple times")
        target.has_offset = True
        target.offset_ms = offset_ms
        expr.end = self.tokens[self.i - 1].pos + len(self.tokens[self.i - 1].val)

    def add_at(self, expr: Expr) -> None:
        typ = self.tok.typ
        if typ in ("START", "END"):
            which = self.advance().typ.lower()
            self.expect("LEFT_PAREN", "@", '"("')
            self.expect("RIGHT_PAREN", "@", '")"')
            value: object = which
        else:
            sign = 1.0
            if typ in ("ADD", "SUB"):
                sign = -1.0 if self.advance().typ == "SUB" else 1.0
            if self.tok.typ != "NUMBER":
                raise self.unexpected("@", "timestamp")
            value = sign * self.number(self.advance())
        target: Expr = expr
        if isinstance(expr, MatrixSelector):
            target = expr.selector
        if not isinstance(target, (VectorSelector, SubqueryExpr)):
            raise _ParseError(expr.start, "@ modifier must be preceded by an instant vector "
                                          "selector or range vector selector or a subquery")
        if target.at is not None:
            raise _ParseError(expr.start, "@ <timestamp> may not be set multiple times")
        target.at = value

    def number(self, token: Token) -> float:
        integer = go_parse_int0(token.val)
        if integer is not None:
            return float(integer)
        try:
            return parse_go_float(token.val)
        except ValueError:
            raise _ParseError(token.pos, f"error parsing number: strconv.ParseFloat: parsing "
                                         f"{go_quote(token.val)}: invalid syntax") from None

    def primary(self) -> Expr:
        token = self.tok
        typ = token.typ
        if typ == "NUMBER":
            self.advance()
            return NumberLiteral(self.number(token), token.pos, token.pos + len(token.val))
        if typ == "STRING":
            self.advance()
            return StringLiteral(unquote(token.val), token.pos, token.pos + len(token.val))
        if typ == "LEFT_PAREN":
            self.advance()
            inner = self.expression(0)
            close = self.expect("RIGHT_PAREN", "paren expression", '")"')
            return ParenExpr(inner, token.pos, close.pos + 1)
        if typ == "LEFT_BRACE":
            return self.selector(None)
        if typ in _AGGREGATOR_TOKENS and self.peek().typ in ("LEFT_PAREN", "BY", "WITHOUT"):
            return self.aggregation()
        if typ == "IDENTIFIER" and self.peek().typ == "LEFT_PAREN":
            return self.call()
        if typ in _METRIC_IDENTIFIER_TOKENS:
            self.advance()
            return self.selector(token)
        raise self.unexpected()

    def call(self) -> Expr:
        name = self.advance()
        func = FUNCTIONS.get(name.val)
        if func is None:
            raise _ParseError(name.pos, f"unknown function with name {go_quote(name.val)}")
        args, end = self.call_body()
        return Call(func, args, name.pos, end)

    def call_body(self) -> tuple[list[Expr], int]:
        self.expect("LEFT_PAREN", "function call", '"("')
        args: list[Expr] = []
        while self.tok.typ != "RIGHT_PAREN":
            args.append(self.expression(0))
            if self.tok.typ == "COMMA":
                comma = self.advance()
                if self.tok.typ == "RIGHT_PAREN":
                    raise _ParseError(comma.pos,
                                      "trailing commas not allowed in function call args")
            elif self.tok.typ != "RIGHT_PAREN":
                raise self.unexpected("function call", '"," or ")"')
        close = self.advance()
        return args, close.pos + 1

    def aggregation(self) -> Expr:
        op = self.advance()
        grouping: list[str] = []
        without = False
        modifier = False
        if self.tok.typ in ("BY", "WITHOUT"):
            without = self.advance().typ == "WITHOUT"
            grouping = self.grouping_labels()
            modifier = True
        if self.tok.typ != "LEFT_PAREN":
            raise self.unexpected("aggregation")
        args, end = self.call_body()
        if not modifier and self.tok.typ in ("BY", "WITHOUT"):
            without = self.advance().typ == "WITHOUT"
            grouping = self.grouping_labels()
            end = self.tokens[self.i - 1].pos + 1
        if not args:
            raise _ParseError(op.pos, "no arguments for aggregate expression provided")
        wanted = 2 if op.typ in _PARAM_AGGREGATORS else 1
        if len(args) != wanted:
            raise _ParseError(op.pos, "wrong number of arguments for aggregate expression "
                                      f"provided, expected {wanted}, got {len(args)}")
        param = args[0] if wanted == 2 else None
        return AggregateExpr(op.typ, args[-1], param, grouping, without, op.pos, end)

    def selector(self, name_token: Token | None) -> Expr:
        start = name_token.pos if name_token else self.tok.pos
        end = name_token.pos + len(name_token.val) if name_token else start
        matchers: list[Matcher] = []
        if self.tok.typ == "LEFT_BRACE":
            self.advance()
            while self.tok.typ != "RIGHT_BRACE":
                matchers.append(self.label_matcher())
                if self.tok.typ == "COMMA":
                    self.advance()
                elif self.tok.typ != "RIGHT_BRACE":
                    raise self.unexpected("label matching", '"," or "}"')
            end = self.advance().pos + 1
        name = name_token.val if name_token else ""
        if name:
            for matcher in matchers:
                if matcher.name == "__name__":
                    raise _ParseError(start, "metric name must not be set twice: "
                                             f"{go_quote(name)} or {go_quote(matcher.value)}")
            matchers.append(Matcher("__name__", "=", name))
        elif not any(not m.matches_empty() for m in matchers):
            raise _ParseError(start, "vector selector must contain at least one non-empty matcher")
        return VectorSelector(name, matchers, start=start, end=end)

    def label_matcher(self) -> Matcher:
        if self.tok.typ != "IDENTIFIER":
            raise self.unexpected("label matching", 'identifier or "}"')
        label = self.advance()
        if self.tok.typ not in _MATCH_OPS:
            raise self.unexpected("label matching", "label matching operator")
        op = _MATCH_OPS[self.advance().typ]
        if self.tok.typ != "STRING":
            raise self.unexpected("label matching", "string")
        value_token = self.advance()
        value = unquote(value_token.val)
        if op in ("=~", "!~"):
            try:
                translate(value)
            except UnsupportedRegex as error:
                raise UnsupportedError(str(error)) from None
            except Exception as error:  # noqa: BLE001 - any RE2 rejection is bad data
                raise _ParseError(label.pos, str(error)) from None
        try:
            return Matcher(label.val, op, value)
        except ValueError as error:
            raise _ParseError(label.pos, str(error)) from None


# -- type checks (checkAST) ---------------------------------------------------------


class _Checker:
    def __init__(self) -> None:
        self.errors: list[_ParseError] = []

    def err(self, node: Expr, message: str, pos: int | None = None) -> None:
        self.errors.append(_ParseError(node.start if pos is None else pos, message))

    def expect(self, node: Expr, want: str, context: str) -> None:
        got = self.check(node)
        if got != want:
            self.err(node, f"expected type {DOCUMENTED[want]} in {context}, "
                           f"got {DOCUMENTED[got]}")

    def check(self, node: Expr) -> str:
        typ = node.type
        if isinstance(node, AggregateExpr):
            self.expect(node.expr, VECTOR, "aggregation expression")
            if node.op in ("TOPK", "BOTTOMK", "QUANTILE"):
                self.expect(node.param, SCALAR, "aggregation parameter")
            if node.op == "COUNT_VALUES":
                self.expect(node.param, STRING, "aggregation parameter")
        elif isinstance(node, BinaryExpr):
            self.check_binary(node)
        elif isinstance(node, Call):
            self.check_call(node)
        elif isinstance(node, ParenExpr):
            self.check(node.expr)
        elif isinstance(node, UnaryExpr):
            inner = self.check(node.expr)
            if inner not in (SCALAR, VECTOR):
                self.err(node, "unary expression only allowed on expressions of type scalar "
                               f"or instant vector, got {go_quote(DOCUMENTED[inner])}")
        elif isinstance(node, SubqueryExpr):
            inner = self.check(node.expr)
            if inner != VECTOR:
                self.err(node, f"subquery is only allowed on instant vector, got {inner} instead")
        elif isinstance(node, MatrixSelector):
            self.check(node.selector)
        return typ

    def check_binary(self, node: BinaryExpr) -> None:
        lt = self.check(node.lhs)
        rt = self.check(node.rhs)
        op = node.op
        matching = node.matching
        if node.return_bool and op not in COMPARISONS:
            self.err(node, "bool modifier can only be used on comparison operators", node.op_pos)
        if op in COMPARISONS and not node.return_bool and lt == SCALAR and rt == SCALAR:
            self.err(node, "comparisons between scalars must use BOOL modifier", node.op_pos)
        if op in SET_OPERATORS and matching is not None and matching.card == ast.ONE_TO_ONE:
            matching.card = ast.MANY_TO_MANY
        if matching is not None and matching.on:
            for label in matching.labels:
                if label in matching.include:
                    self.err(node, f"label {go_quote(label)} must not occur in ON and GROUP "
                                   "clause at once", node.op_pos)
        only = "binary expression must contain only scalar and instant vector types"
        if lt not in (SCALAR, VECTOR):
            self.err(node.lhs, only)
        if rt not in (SCALAR, VECTOR):
            self.err(node.rhs, only)
        if (lt != VECTOR or rt != VECTOR) and matching is not None:
            if matching.labels:
                self.err(node, "vector matching only allowed between instant vectors")
            node.matching = None
        elif matching is not None and op in SET_OPERATORS:
            if matching.card in (ast.ONE_TO_MANY, ast.MANY_TO_ONE):
                self.err(node, f"no grouping allowed for {go_quote(ast.OPERATOR_SYMBOLS[op])} "
                               "operation")
            if matching.card != ast.MANY_TO_MANY:
                self.err(node, "set operations must always be many-to-many")
        if (lt == SCALAR or rt == SCALAR) and op in SET_OPERATORS:
            self.err(node, f"set operator {go_quote(ast.OPERATOR_SYMBOLS[op])} not allowed in "
                           "binary scalar expression")

    def check_call(self, node: Call) -> None:
        func = node.func
        nargs = len(func.arg_types)
        if func.variadic == 0:
            if nargs != len(node.args):
                self.err(node, f"expected {nargs} argument(s) in call to {go_quote(func.name)}, "
                               f"got {len(node.args)}")
        else:
            required = nargs - 1
            if required > len(node.args):
                self.err(node, f"expected at least {required} argument(s) in call to "
                               f"{go_quote(func.name)}, got {len(node.args)}")
            elif func.variadic > 0 and required + func.variadic < len(node.args):
                self.err(node, f"expected at most {required + func.variadic} argument(s) in "
                               f"call to {go_quote(func.name)}, got {len(node.args)}")
        for index, arg in enumerate(node.args):
            if index >= nargs:
                if func.variadic == 0:
                    break
                index = nargs - 1
            self.expect(arg, func.arg_types[index], f"call to function {go_quote(func.name)}")


def _position(text: str, pos: int) -> str:
    prefix = text[:pos].encode("utf-8")
    line = prefix.count(b"\n") + 1
    column = len(prefix) - (prefix.rfind(b"\n") if b"\n" in prefix else -1)
    return f"{line}:{column}"


def parse_full(text: str) -> Expr:
    """Parse and type-check any PromQL 2.42 query (subset or not)."""
    try:
        expr = Parser(text).parse()
        checker = _Checker()
        checker.check(expr)
        if checker.errors:
            raise checker.errors[0]
    except _ParseError as error:
        raise bad_data(f"{_position(text, error.pos)}: parse error: {error.message}") from None
    except RecursionError:
        raise bad_data("query is nested too deeply") from None
    return expr


def parse(text: str) -> Expr:
    """Parse ``text``; PromQLError (bad_data) if Prometheus would reject it,
    UnsupportedError if it is valid PromQL outside the engine's subset."""
    from watchdeck.core.engine.promql.subset import check_subset

    expr = parse_full(text)
    check_subset(expr)
    return expr

