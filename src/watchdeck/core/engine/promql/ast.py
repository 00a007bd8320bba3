"""The syntax tree of a parsed query, with the value type of every node.

The tree covers all of PromQL 2.42's syntax (subqueries, ``@``, every function and
aggregation), so that a query is judged first as Prometheus would judge it — syntax and
types — and only then against the engine's subset (:mod:`.subset`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchdeck.core.engine.matchers import Matcher

SCALAR = "scalar"
VECTOR = "vector"
MATRIX = "matrix"
STRING = "string"
NONE = "none"

# How Prometheus names the types in error messages (parser.DocumentedType).
DOCUMENTED = {SCALAR: "scalar", VECTOR: "instant vector", MATRIX: "range vector",
              STRING: "string", NONE: "none"}

# Binary operators by token type, with their symbols.
OPERATOR_SYMBOLS = {
    "ADD": "+", "SUB": "-", "MUL": "*", "DIV": "/", "MOD": "%", "POW": "^",
    "EQLC": "==", "NEQ": "!=", "GTR": ">", "LSS": "<", "GTE": ">=", "LTE": "<=",
    "LAND": "and", "LOR": "or", "LUNLESS": "unless", "ATAN2": "atan2",
}
COMPARISONS = frozenset({"EQLC", "NEQ", "GTR", "LSS", "GTE", "LTE"})
SET_OPERATORS = frozenset({"LAND", "LOR", "LUNLESS"})
# Operators whose result loses the metric name (shouldDropMetricName in engine.go).
DROPS_NAME = frozenset({"ADD", "SUB", "MUL", "DIV", "POW", "MOD"})

ONE_TO_ONE = "one-to-one"
MANY_TO_ONE = "many-to-one"
ONE_TO_MANY = "one-to-many"
MANY_TO_MANY = "many-to-many"


class Expr:
    """Base of all nodes. ``start``/``end`` are character offsets in the query."""

    start: int
    end: int

    @property
    def type(self) -> str:
        raise NotImplementedError


@dataclass
class NumberLiteral(Expr):
    value: float
    start: int = 0
    end: int = 0

    @property
    def type(self) -> str:
        return SCALAR


@dataclass
class StringLiteral(Expr):
    value: str
    start: int = 0
    end: int = 0

    @property
    def type(self) -> str:
        return STRING


@dataclass
class VectorSelector(Expr):
    name: str
    matchers: list[Matcher]
    offset_ms: int = 0
    has_offset: bool = False
    at: object = None  # the @ modifier: a float timestamp, "start" or "end"
    start: int = 0
    end: int = 0

    @property
    def type(self) -> str:
        return VECTOR


@dataclass
class MatrixSelector(Expr):
    selector: Expr  # a VectorSelector in every valid query
    range_ms: int
    start: int = 0
    end: int = 0

    @property
    def type(self) -> str:
        return MATRIX


@dataclass
class SubqueryExpr(Expr):
    expr: Expr
    range_ms: int
    step_ms: int
    offset_ms: int = 0
    has_offset: bool = False
    at: object = None
    start: int = 0
    end: int = 0

    @property
    def type(self) -> str:
        return MATRIX


@dataclass(frozen=True)
class Function:
    name: str
    arg_types: tuple[str, ...]
    return_type: str
    variadic: int = 0  # 0: fixed arity; n > 0: up to n optional; -1: unbounded


@dataclass
class Call(Expr):
    func: Function
    args: list[Expr]
    start: int = 0
    end: int = 0

    @property
    def type(self) -> str:
        return self.func.return_type


@dataclass
class AggregateExpr(Expr):
    op: str  # token type: SUM, TOPK, ...
    expr: Expr | None
    param: Expr | None = None
    grouping: list[str] = field(default_factory=list)
    without: bool = False
    start: int = 0
    end: int = 0

    @property
    def type(self) -> str:
        return VECTOR


@dataclass
class VectorMatching:
    card: str = ONE_TO_ONE
    labels: list[str] = field(default_factory=list)  # on(...) / ignoring(...)
    on: bool = False
    include: list[str] = field(default_factory=list)  # group_left(...) / group_right(...)


@dataclass
class BinaryExpr(Expr):
    op: str
    lhs: Expr
    rhs: Expr
    matching: VectorMatching | None = None
    return_bool: bool = False
    start: int = 0
    end: int = 0
    op_pos: int = 0  # where the operator is, for Prometheus's error positions

    @property
    def type(self) -> str:
        if self.lhs.type == SCALAR and self.rhs.type == SCALAR:
            return SCALAR
        return VECTOR


@dataclass
class UnaryExpr(Expr):
    op: str  # ADD or SUB
    expr: Expr
    start: int = 0
    end: int = 0

    @property
    def type(self) -> str:
        return self.expr.type


@dataclass
class ParenExpr(Expr):
    expr: Expr
    start: int = 0
    end: int = 0

    @property
    def type(self) -> str:
        return self.expr.type


def unwrap_parens(expr: Expr) -> Expr:
    while isinstance(expr, ParenExpr):
        expr = expr.expr
    return expr


def children(expr: Expr) -> list[Expr]:
    if isinstance(expr, (ParenExpr, UnaryExpr, SubqueryExpr)):
        return [expr.expr]
    if isinstance(expr, MatrixSelector):
        return [expr.selector]
    if isinstance(expr, Call):
        return list(expr.args)
    if isinstance(expr, AggregateExpr):
        return [e for e in (expr.param, expr.expr) if e is not None]
    if isinstance(expr, BinaryExpr):
        return [expr.lhs, expr.rhs]
    return []


def walk(expr: Expr):
    """Every node of the tree, parents first."""
    yield expr
    for child in children(expr):
        yield from walk(child)
