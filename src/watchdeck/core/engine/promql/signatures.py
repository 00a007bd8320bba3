"""The signatures of every PromQL 2.42 function (promql/parser/functions.go).

All of them are known to the parser, so that a call is type-checked as Prometheus would
check it; which ones the engine evaluates is decided in :mod:`.subset`.
"""

from __future__ import annotations

from watchdeck.core.engine.promql.ast import MATRIX, SCALAR, STRING, VECTOR, Function

_V, _M, _S, _STR = VECTOR, MATRIX, SCALAR, STRING


def _f(name: str, args: tuple[str, ...], ret: str = _V, variadic: int = 0) -> Function:
    return Function(name, args, ret, variadic)


_ALL = [
    _f("abs", (_V,)), _f("absent", (_V,)), _f("absent_over_time", (_M,)),
    _f("acos", (_V,)), _f("acosh", (_V,)), _f("asin", (_V,)), _f("asinh", (_V,)),
    _f("atan", (_V,)), _f("atanh", (_V,)), _f("avg_over_time", (_M,)), _f("ceil", (_V,)),
    _f("changes", (_M,)), _f("clamp", (_V, _S, _S)), _f("clamp_max", (_V, _S)),
    _f("clamp_min", (_V, _S)), _f("cos", (_V,)), _f("cosh", (_V,)),
    _f("count_over_time", (_M,)), _f("days_in_month", (_V,), variadic=1),
    _f("day_of_month", (_V,), variadic=1), _f("day_of_week", (_V,), variadic=1),
    _f("day_of_year", (_V,), variadic=1), _f("deg", (_V,)), _f("delta", (_M,)),
    _f("deriv", (_M,)), _f("exp", (_V,)), _f("floor", (_V,)), _f("histogram_count", (_V,)),
    _f("histogram_sum", (_V,)), _f("histogram_fraction", (_S, _S, _V)),
    _f("histogram_quantile", (_S, _V)), _f("holt_winters", (_M, _S, _S)),
    _f("hour", (_V,), variadic=1), _f("idelta", (_M,)), _f("increase", (_M,)),
    _f("irate", (_M,)), _f("label_replace", (_V, _STR, _STR, _STR, _STR)),
    _f("label_join", (_V, _STR, _STR, _STR), variadic=-1), _f("ln", (_V,)),
    _f("log10", (_V,)), _f("log2", (_V,)), _f("last_over_time", (_M,)),
    _f("max_over_time", (_M,)), _f("min_over_time", (_M,)), _f("minute", (_V,), variadic=1),
    _f("month", (_V,), variadic=1), _f("pi", (), _S), _f("predict_linear", (_M, _S)),
    _f("present_over_time", (_M,)), _f("quantile_over_time", (_S, _M)), _f("rad", (_V,)),
    _f("rate", (_M,)), _f("resets", (_M,)), _f("round", (_V, _S), variadic=1),
    _f("scalar", (_V,), _S), _f("sgn", (_V,)), _f("sin", (_V,)), _f("sinh", (_V,)),
    _f("sort", (_V,)), _f("sort_desc", (_V,)), _f("sqrt", (_V,)),
    _f("stddev_over_time", (_M,)), _f("stdvar_over_time", (_M,)),
    _f("sum_over_time", (_M,)), _f("tan", (_V,)), _f("tanh", (_V,)), _f("time", (), _S),
    _f("timestamp", (_V,)), _f("vector", (_S,)), _f("year", (_V,), variadic=1),
]

FUNCTIONS: dict[str, Function] = {f.name: f for f in _ALL}
