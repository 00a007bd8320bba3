"""Query results as Prometheus's HTTP API shapes them (``resultType`` + ``result``), and
as the console's :class:`~watchdeck.core.model.QueryResult`."""

from __future__ import annotations

from dataclasses import dataclass, field

from watchdeck.core.engine.promql.gomath import format_scalar, format_value
from watchdeck.core.model import QueryResult, Series


@dataclass
class Sample:
    labels: dict[str, str]
    value: float


@dataclass
class VectorResult:
    """An instant vector at ``time_ms``."""

    time_ms: int
    samples: list[Sample] = field(default_factory=list)
    result_type = "vector"


@dataclass
class ScalarResult:
    time_ms: int
    value: float
    result_type = "scalar"


@dataclass
class StringResult:
    time_ms: int
    value: str
    result_type = "string"


@dataclass
class MatrixSeries:
    labels: dict[str, str]
    timestamps: list[int]  # ms
    values: list[float]


@dataclass
class MatrixResult:
    """A range query's answer, or an instant query of a bare range selector."""

    series: list[MatrixSeries] = field(default_factory=list)
    result_type = "matrix"


Result = VectorResult | ScalarResult | StringResult | MatrixResult


def _seconds(ms: int) -> float:
    return ms / 1000


def to_api_data(result: Result) -> dict:
    """The ``data`` object of Prometheus's ``/api/v1/query(_range)`` answer."""
    if isinstance(result, VectorResult):
        t = _seconds(result.time_ms)
        return {"resultType": "vector", "result": [
            {"metric": dict(s.labels), "value": [t, format_value(s.value)]}
            for s in result.samples]}
    if isinstance(result, ScalarResult):
        return {"resultType": "scalar",
                "result": [_seconds(result.time_ms), format_scalar(result.value)]}
    if isinstance(result, StringResult):
        return {"resultType": "string", "result": [_seconds(result.time_ms), result.value]}
    return {"resultType": "matrix", "result": [
        {"metric": dict(s.labels),
         "values": [[_seconds(t), format_value(v)] for t, v in zip(s.timestamps, s.values)]}
        for s in result.series]}


def to_query_result(result: Result) -> QueryResult:
    """The console's result model, with no round trip through strings."""
    if isinstance(result, VectorResult):
        t = _seconds(result.time_ms)
        return QueryResult("vector", tuple(Series(dict(s.labels), (t,), (s.value,))
                                           for s in result.samples))
    if isinstance(result, ScalarResult):
        return QueryResult("scalar", (Series({}, (_seconds(result.time_ms),), (result.value,)),))
    if isinstance(result, StringResult):
        return QueryResult("string", (), string_value=result.value)
    return QueryResult("matrix", tuple(
        Series(dict(s.labels), tuple(map(_seconds, s.timestamps)), tuple(s.values))
        for s in result.series))
