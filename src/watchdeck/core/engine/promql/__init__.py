"""The PromQL subset of the embedded engine, with Prometheus 2.42's semantics.

Public API (the rest of the engine codes against exactly this)::

    expr = parse("rate(x[5m])")                   # PromQLError / UnsupportedError
    ev = Evaluator(storage)                         # anything with Storage.select()
    result = ev.instant("rate(x[5m])", t_ms)        # vector | scalar | string | matrix
    result = ev.range("rate(x[5m])", start_ms, end_ms, step_ms)   # matrix
    to_api_data(result)      # Prometheus's "data" object, values as Go formats them
    to_query_result(result)  # the console's QueryResult

The supported subset is documented in docs/engine.md and enforced by :mod:`.subset`.
"""

from watchdeck.core.engine.promql.errors import PromQLError, UnsupportedError
from watchdeck.core.engine.promql.evaluator import Evaluator
from watchdeck.core.engine.promql.parser import parse
from watchdeck.core.engine.promql.results import (
    MatrixResult,
    MatrixSeries,
    Result,
    Sample,
    ScalarResult,
    StringResult,
    VectorResult,
    to_api_data,
    to_query_result,
)

__all__ = [
    "Evaluator",
    "MatrixResult",
    "MatrixSeries",
    "PromQLError",
    "Result",
    "Sample",
    "ScalarResult",
    "StringResult",
    "UnsupportedError",
    "VectorResult",
    "parse",
    "to_api_data",
    "to_query_result",
]
