"""The evaluator: walks a parsed query over the step grid of an instant or range query.

Like Prometheus, an instant query is a range evaluation with a single step. Each node is
evaluated once for all steps (see :mod:`.values`); selectors read their series once for
the whole range. The evaluator keeps no state between calls, so one instance may serve
several threads at once: it only reads through ``queryable.select``.
"""

from __future__ import annotations

import operator

from watchdeck.core.engine.promql import aggregation, binops, functions, rangefuncs
from watchdeck.core.engine.promql.ast import (
    DOCUMENTED,
    SCALAR,
    VECTOR,
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    UnaryExpr,
    VectorSelector,
    unwrap_parens,
)
from watchdeck.core.engine.promql.errors import PromQLError, UnsupportedError, bad_data
from watchdeck.core.engine.promql.parser import parse
from watchdeck.core.engine.promql.results import (
    MatrixResult,
    MatrixSeries,
    Result,
    Sample,
    ScalarResult,
    StringResult,
    VectorResult,
)
from watchdeck.core.engine.promql.selectors import (
    instant_selector,
    matrix_at,
    range_groups,
    range_selector,
)
from watchdeck.core.engine.promql.values import (
    Context,
    ScalarSteps,
    StepSeries,
    StringValue,
    check_unique,
    drop_name,
    key_of,
)

MAX_POINTS = 11_000
Value = list[StepSeries] | ScalarSteps | StringValue


class Evaluator:
    """Evaluates PromQL (the supported subset) against anything with Storage's
    ``select(matchers, mint_ms, maxt_ms)``."""

    def __init__(self, queryable: object, lookback_delta_ms: int = 300_000) -> None:
        self.queryable = queryable
        self.lookback_delta_ms = lookback_delta_ms

    # -- public ----------------------------------------------------------------------

    def instant(self, query: str | Expr, time_ms: int) -> Result:
        expr = parse(query) if isinstance(query, str) else query
        ctx = Context(self.queryable, time_ms, time_ms, 1, self.lookback_delta_ms)
        node = unwrap_parens(expr)
        if isinstance(node, MatrixSelector):
            return MatrixResult([MatrixSeries(labels, times, values)
                                 for labels, times, values in matrix_at(ctx, node)])
        value = self._eval(ctx, expr)
        if isinstance(value, StringValue):
            return StringResult(time_ms, value.value)
        if isinstance(value, ScalarSteps):
            return ScalarResult(time_ms, value.values[0])
        return VectorResult(time_ms, [Sample(s.labels, s.values[0]) for s in value if s.steps])

    def range(self, query: str | Expr, start_ms: int, end_ms: int, step_ms: int) -> MatrixResult:
        if end_ms < start_ms:
            raise bad_data('invalid parameter "end": end timestamp must not be before start time')
        if step_ms <= 0:
            raise bad_data('invalid parameter "step": zero or negative query resolution step '
                           "widths are not accepted. Try a positive integer")
        if (end_ms - start_ms) // step_ms > MAX_POINTS:
            raise bad_data("exceeded maximum resolution of 11,000 points per timeseries. "
                           "Try decreasing the query resolution (?step=XX)")
        expr = parse(query) if isinstance(query, str) else query
        if expr.type not in (SCALAR, VECTOR):
            raise bad_data(f'invalid expression type "{DOCUMENTED[expr.type]}" for range query, '
                           "must be Scalar or instant Vector")
        ctx = Context(self.queryable, start_ms, end_ms, step_ms, self.lookback_delta_ms)
        value = self._eval(ctx, expr)
        times = ctx.times
        if isinstance(value, ScalarSteps):
            return MatrixResult([MatrixSeries({}, list(times), list(value.values))])
        assert isinstance(value, list)
        ordered = sorted((s for s in value if s.steps), key=lambda s: key_of(s.labels))
        return MatrixResult([MatrixSeries(s.labels, [times[k] for k in s.steps], list(s.values))
                             for s in ordered])

    # -- evaluation ------------------------------------------------------------------

    def _eval(self, ctx: Context, node: Expr) -> Value:
        try:
            return self._node(ctx, node)
        except RecursionError:
            raise PromQLError("execution", "query is nested too deeply") from None

    def _node(self, ctx: Context, node: Expr) -> Value:
        if isinstance(node, ParenExpr):
            return self._node(ctx, node.expr)
        if isinstance(node, NumberLiteral):
            return ScalarSteps([node.value] * ctx.count)
        if isinstance(node, StringLiteral):
            return StringValue(node.value)
        if isinstance(node, VectorSelector):
            return instant_selector(ctx, node)[0]
        if isinstance(node, UnaryExpr):
            return self._unary(ctx, node)
        if isinstance(node, BinaryExpr):
            return self._binary(ctx, node)
        if isinstance(node, AggregateExpr):
            return self._aggregate(ctx, node)
        if isinstance(node, Call):
            return self._call(ctx, node)
        if isinstance(node, MatrixSelector):
            # Only reachable through a function argument, handled in _call.
            raise PromQLError("execution", "cannot evaluate a range selector here")
        raise UnsupportedError(type(node).__name__)

    def _vector(self, ctx: Context, node: Expr) -> list[StepSeries]:
        value = self._eval(ctx, node)
        assert isinstance(value, list), node
        return value

    def _scalar(self, ctx: Context, node: Expr) -> ScalarSteps:
        value = self._eval(ctx, node)
        assert isinstance(value, ScalarSteps), node
        return value

    def _unary(self, ctx: Context, node: UnaryExpr) -> Value:
        value = self._eval(ctx, node.expr)
        if node.op == "ADD":
            return value
        if isinstance(value, ScalarSteps):
            return ScalarSteps([-v for v in value.values])
        assert isinstance(value, list)
        names = {s.labels.get("__name__") for s in value}
        return check_unique([StepSeries(drop_name(s.labels), s.steps,
                                        list(map(operator.neg, s.values))) for s in value], names)

    def _binary(self, ctx: Context, node: BinaryExpr) -> Value:
        lhs = self._eval(ctx, node.lhs)
        rhs = self._eval(ctx, node.rhs)
        if isinstance(lhs, ScalarSteps) and isinstance(rhs, ScalarSteps):
            return binops.scalar_scalar(node.op, lhs, rhs)
        if isinstance(rhs, ScalarSteps):
            assert isinstance(lhs, list)
            return binops.vector_scalar(ctx, node.op, lhs, rhs, False, node.return_bool)
        if isinstance(lhs, ScalarSteps):
            assert isinstance(rhs, list)
            return binops.vector_scalar(ctx, node.op, rhs, lhs, True, node.return_bool)
        assert isinstance(lhs, list) and isinstance(rhs, list) and node.matching is not None
        if node.op in ("LAND", "LOR", "LUNLESS"):
            return binops.set_operation(ctx, node.op, lhs, rhs, node.matching)
        return binops.vector_vector(ctx, node.op, lhs, rhs, node.matching, node.return_bool)

    def _aggregate(self, ctx: Context, node: AggregateExpr) -> Value:
        assert node.expr is not None
        inner = unwrap_parens(node.expr)
        if (node.op == "SUM" and isinstance(inner, Call)
                and inner.func.name in ("rate", "increase")):
            # The usual dashboard query, fused: no result list per input series.
            matrix = unwrap_parens(inner.args[0])
            assert isinstance(matrix, MatrixSelector)
            assert isinstance(matrix.selector, VectorSelector)
            groups = range_groups(ctx, matrix, plain=True, shared_labels=True)
            return rangefuncs.sum_of_rates(ctx, groups, matrix.selector.offset_ms,
                                           matrix.range_ms, inner.func.name == "rate",
                                           node.grouping, node.without)
        param = self._scalar(ctx, node.param) if node.param is not None else None
        vector = self._vector(ctx, node.expr)
        return aggregation.aggregate(ctx, node.op, vector, node.grouping, node.without, param)

    def _call(self, ctx: Context, node: Call) -> Value:
        name = node.func.name
        args = node.args
        if name in rangefuncs.RANGE_FUNCTIONS:
            param = self._scalar(ctx, args[0]) if name == "quantile_over_time" else None
            matrix = unwrap_parens(args[-1])
            assert isinstance(matrix, MatrixSelector)
            selector = matrix.selector
            assert isinstance(selector, VectorSelector)
            windows = range_selector(ctx, matrix, plain=name in ("rate", "increase"))
            return rangefuncs.evaluate(ctx, name, windows, selector.offset_ms, matrix.range_ms,
                                       param)
        if name == "time":
            return functions.time(ctx)
        if name == "vector":
            return functions.vector(ctx, self._scalar(ctx, args[0]))
        if name == "scalar":
            return functions.scalar(ctx, self._vector(ctx, args[0]))
        if name == "timestamp":
            target = unwrap_parens(args[0])
            if isinstance(target, VectorSelector):
                vector, times = instant_selector(ctx, target, with_times=True)
                return functions.timestamp(ctx, vector, times)
            return functions.timestamp(ctx, self._vector(ctx, args[0]), None)
        if name in ("abs", "ceil", "floor"):
            return functions.simple(ctx, name, self._vector(ctx, args[0]))
        if name == "round":
            nearest = self._scalar(ctx, args[1]) if len(args) > 1 else None
            return functions.round_(ctx, self._vector(ctx, args[0]), nearest)
        if name in ("clamp_min", "clamp_max"):
            bound = self._scalar(ctx, args[1])
            return functions.clamp(ctx, name, self._vector(ctx, args[0]), bound)
        if name == "label_replace":
            strings = [_string(arg) for arg in args[1:]]
            return functions.label_replace(ctx, self._vector(ctx, args[0]), *strings)
        if name == "absent":
            return functions.absent(ctx, self._vector(ctx, args[0]), args[0])
        if name == "histogram_quantile":
            q = self._scalar(ctx, args[0])
            return functions.histogram_quantile(ctx, q, self._vector(ctx, args[1]))
        raise UnsupportedError(f'function "{name}"')


def _string(node: Expr) -> str:
    inner = unwrap_parens(node)
    assert isinstance(inner, StringLiteral)
    return inner.value

