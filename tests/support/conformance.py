"""Comparing two Prometheus-API query answers (the ``data`` objects, or whole envelopes).

Used by the engine conformance suite (in-process engine vs a real Prometheus) and
reusable for any two servers speaking Prometheus's HTTP API: same result type, same
series (by labels), same timestamps, values equal within a relative tolerance (NaN
equals NaN, infinities equal themselves), and, for range queries, the same order.
"""

from __future__ import annotations

import math
import re
from typing import Any

REL_TOLERANCE = 1e-9


def parse_value(text: str) -> float:
    return float(text)  # "NaN", "+Inf", "-Inf" included


def values_equal(a: str | float, b: str | float, rel: float = REL_TOLERANCE) -> bool:
    x = parse_value(a) if isinstance(a, str) else a
    y = parse_value(b) if isinstance(b, str) else b
    if x != x or y != y:
        return x != x and y != y
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= rel * max(abs(x), abs(y))


def _key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(metric.items()))


def _show(metric: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _points(expected: list, actual: list, where: str, rel: float) -> list[str]:
    problems = []
    if len(expected) != len(actual):
        exp_t = {float(p[0]) for p in expected}
        act_t = {float(p[0]) for p in actual}
        missing = sorted(exp_t - act_t)[:5]
        extra = sorted(act_t - exp_t)[:5]
        return [f"{where}: {len(expected)} points expected, {len(actual)} got "
                f"(missing at {missing}, extra at {extra})"]
    for (t1, v1), (t2, v2) in zip(expected, actual):
        if float(t1) != float(t2):
            problems.append(f"{where}: timestamp {t1} expected, {t2} got")
        elif not values_equal(v1, v2, rel):
            problems.append(f"{where} @{t1}: {v1} expected, {v2} got")
        if len(problems) >= 5:
            break
    return problems


def compare_data(expected: dict[str, Any], actual: dict[str, Any], *, ordered: bool = False,
                 rel: float = REL_TOLERANCE) -> list[str]:
    """Differences between two ``data`` objects (empty when they agree). ``ordered``
    also compares the order of series (Prometheus sorts range-query results)."""
    if expected.get("resultType") != actual.get("resultType"):
        return [f"resultType {expected.get('resultType')} expected, "
                f"{actual.get('resultType')} got"]
    kind = expected["resultType"]
    exp, act = expected["result"], actual["result"]
    if kind == "scalar":
        return _points([exp], [act], "scalar", rel)
    if kind == "string":
        return [] if exp == act else [f"string {exp!r} expected, {act!r} got"]
    field = "value" if kind == "vector" else "values"
    exp_by = {_key(item["metric"]): item for item in exp}
    act_by = {_key(item["metric"]): item for item in act}
    problems = []
    if len(exp_by) != len(exp) or len(act_by) != len(act):
        problems.append("a result holds two series with the same labels")
    for key in exp_by.keys() - act_by.keys():
        problems.append(f"missing series {_show(dict(key))}")
    for key in act_by.keys() - exp_by.keys():
        problems.append(f"unexpected series {_show(dict(key))}")
    for key in exp_by.keys() & act_by.keys():
        e, a = exp_by[key][field], act_by[key][field]
        if kind == "vector":
            e, a = [e], [a]
        problems += _points(e, a, _show(dict(key)), rel)
    if ordered and not problems and [_key(i["metric"]) for i in exp] != [
            _key(i["metric"]) for i in act]:
        problems.append("series in another order")
    return problems


def compare_envelopes(expected: dict[str, Any], actual: dict[str, Any], *, ordered: bool = False,
                      rel: float = REL_TOLERANCE, messages: bool = True) -> list[str]:
    """Like :func:`compare_data` for whole API answers: an error must meet an error of
    the same ``errorType`` (and, with ``messages``, the same words)."""
    if expected.get("status") != actual.get("status"):
        return [f"status {expected.get('status')} ({expected.get('error', '')}) expected, "
                f"{actual.get('status')} ({actual.get('error', '')}) got"]
    if expected.get("status") == "error":
        if expected.get("errorType") != actual.get("errorType"):
            return [f"errorType {expected.get('errorType')} expected, "
                    f"{actual.get('errorType')} got"]
        if messages and _wording(expected.get("error", "")) != _wording(actual.get("error", "")):
            return [f"error {expected.get('error')!r} expected, {actual.get('error')!r} got"]
        return []
    return compare_data(expected["data"], actual["data"], ordered=ordered, rel=rel)


def _wording(message: str) -> str:
    """An error message with the label sets it names left out: when several series clash,
    which pair Prometheus reports can depend on Go's map iteration order (the order of an
    aggregation's output in a range query), so only the wording is compared."""
    return re.sub(r"\{[^{}]*\}", "{...}", message)


def envelope_from_engine(call, endpoint: str = "query_range") -> dict[str, Any]:
    """Run ``call()`` (an in-process engine query returning API ``data``) and wrap the
    answer or its PromQLError like Prometheus's HTTP envelope. Prometheus's
    ``/api/v1/query`` handler words a query it cannot parse as an invalid parameter;
    ``/api/v1/query_range`` does not."""
    from watchdeck.core.engine.promql import PromQLError

    try:
        return {"status": "success", "data": call()}
    except PromQLError as error:
        message = error.message
        if endpoint == "query" and error.error_type == "bad_data":
            message = f'invalid parameter "query": {message}'
        return {"status": "error", "errorType": error.error_type, "error": message}


class PerSeriesGroups:
    """A queryable offering ``select_grouped`` with no sharing at all (one group per
    series), to check the engine's grouped path against its ``select`` path."""

    def __init__(self, queryable: Any) -> None:
        self.queryable = queryable

    def select(self, matchers, mint, maxt):  # pragma: no cover - select_grouped is preferred
        raise AssertionError("select_grouped should be used")

    def select_grouped(self, matchers, mint, maxt):
        return [(s.timestamps, [(s.labels, s.values)])
                for s in self.queryable.select(matchers, mint, maxt)]
