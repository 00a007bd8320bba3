"""The PromQL subset the embedded engine evaluates (documented in docs/engine.md).

Everything else that Prometheus accepts is refused with :class:`UnsupportedError`
naming the construct, rather than answered approximately.
"""

from __future__ import annotations

from watchdeck.core.engine.promql import ast
from watchdeck.core.engine.promql.errors import UnsupportedError
from watchdeck.core.engine.promql.regex import UnsupportedRegex, translate

SUPPORTED_FUNCTIONS = frozenset({
    "rate", "irate", "increase", "delta", "idelta", "resets", "changes",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "last_over_time", "quantile_over_time", "histogram_quantile",
    "abs", "ceil", "floor", "round", "clamp_min", "clamp_max", "scalar", "vector", "time",
    "timestamp", "label_replace", "absent",
})
SUPPORTED_AGGREGATIONS = frozenset({"SUM", "AVG", "MIN", "MAX", "COUNT", "TOPK", "BOTTOMK",
                                    "QUANTILE"})


def check_subset(expr: ast.Expr) -> None:
    for node in ast.walk(expr):
        if isinstance(node, ast.SubqueryExpr):
            raise UnsupportedError("subqueries")
        if isinstance(node, ast.VectorSelector) and node.at is not None:
            raise UnsupportedError("the @ modifier")
        if isinstance(node, ast.Call) and node.func.name not in SUPPORTED_FUNCTIONS:
            raise UnsupportedError(f'function "{node.func.name}"')
        if isinstance(node, ast.Call) and node.func.name == "label_replace":
            _check_regex(node.args[4])
        if isinstance(node, ast.AggregateExpr) and node.op not in SUPPORTED_AGGREGATIONS:
            raise UnsupportedError(f'aggregation "{node.op.lower()}"')
        if isinstance(node, ast.BinaryExpr) and node.op == "ATAN2":
            raise UnsupportedError('the "atan2" operator')


def _check_regex(arg: ast.Expr) -> None:
    """label_replace's regex is RE2 too. An invalid one is Prometheus's execution error,
    raised when evaluating; one the translation does not cover is refused here."""
    literal = ast.unwrap_parens(arg)
    if not isinstance(literal, ast.StringLiteral):
        return
    try:
        translate(literal.value)
    except UnsupportedRegex as error:
        raise UnsupportedError(str(error)) from None
    except Exception:  # noqa: BLE001, S110 - invalid: reported at evaluation, as Prometheus does
        pass
