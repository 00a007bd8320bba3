"""Evaluation semantics on small hand-built data, with hand-computed answers: staleness,
lookback, extrapolation, histogram rules, matching errors, per-step label collisions."""

from __future__ import annotations

import math
import threading

import pytest

from watchdeck.core.engine.promql import (
    Evaluator,
    MatrixResult,
    PromQLError,
    ScalarResult,
    VectorResult,
    to_api_data,
)
from watchdeck.core.engine.storage import STALE_NAN, Storage

S = 1000  # ms per second


def store(*series: tuple[dict[str, str], list[tuple[float, float]]]) -> Storage:
    storage = Storage(retention_ms=10**12)
    for labels, points in series:
        for t, v in points:
            assert storage.append(labels, int(t * S), v)
    return storage


def vector(result) -> dict[tuple, float]:
    assert isinstance(result, VectorResult), result
    return {tuple(sorted(s.labels.items())): s.value for s in result.samples}


def only(result) -> float:
    values = list(vector(result).values())
    assert len(values) == 1, values
    return values[0]


def x(name: str = "x", **labels: str) -> dict[str, str]:
    return {"__name__": name, **labels}


# -- selectors, staleness, lookback ------------------------------------------------------


def test_a_stale_marker_ends_a_series_and_is_not_a_sample():
    ev = Evaluator(store((x(), [(0, 1), (15, 2), (30, 3), (45, 4), (60, 5), (75, STALE_NAN),
                                (150, 9)])))
    assert only(ev.instant("x", 74 * S)) == 5
    assert vector(ev.instant("x", 80 * S)) == {}
    assert vector(ev.instant("x", 149 * S)) == {}
    assert only(ev.instant("x", 150 * S)) == 9
    assert only(ev.instant("count_over_time(x[1m])", 90 * S)) == 3  # 30, 45, 60
    assert only(ev.instant("count_over_time(x[2m])", 150 * S)) == 4  # 30 45 60 150, no marker
    series = ev.range("x", 60 * S, 150 * S, 15 * S).series[0]
    assert series.timestamps == [60 * S, 150 * S]


def test_a_stale_marker_inside_a_range_is_skipped_by_rate():
    ev = Evaluator(store((x(), [(0, 0), (15, 15), (30, STALE_NAN), (45, 45), (60, 60)])))
    assert only(ev.instant("increase(x[1m])", 60 * S)) == pytest.approx(60.0)


def test_lookback_includes_its_left_end():
    ev = Evaluator(store((x(), [(0, 1)])))
    assert only(ev.instant("x", 300 * S)) == 1
    assert vector(ev.instant("x", 300 * S + 1)) == {}
    short = Evaluator(store((x(), [(0, 1)])), lookback_delta_ms=60_000)
    assert vector(short.instant("x", 61 * S)) == {}


def test_range_selectors_include_both_ends_as_in_prometheus_2():
    ev = Evaluator(store((x(), [(0, 1), (60, 2), (120, 3)])))
    result = ev.instant("x[1m]", 120 * S)
    assert isinstance(result, MatrixResult)
    assert result.series[0].timestamps == [60 * S, 120 * S]
    assert result.series[0].labels == x()


def test_offsets_including_negative():
    ev = Evaluator(store((x(), [(0, 1), (60, 2), (120, 3)])))
    assert only(ev.instant("x offset 1m", 120 * S)) == 2
    assert only(ev.instant("x offset -1m", 60 * S)) == 3
    assert only(ev.instant("sum_over_time(x[1m] offset 1m)", 120 * S)) == 3


def test_the_selector_keeps_the_name_and_other_matchers_filter():
    ev = Evaluator(store((x(job="a"), [(0, 1)]), (x(job="b"), [(0, 2)]),
                         (x("y", job="a"), [(0, 3)])))
    assert vector(ev.instant('{__name__=~"x|y", job="a"}', 0)) == {
        (("__name__", "x"), ("job", "a")): 1, (("__name__", "y"), ("job", "a")): 3}
    assert vector(ev.instant('x{job!~"a"}', 0)) == {(("__name__", "x"), ("job", "b")): 2}
    assert vector(ev.instant('x{job=~"A"}', 0)) == {}  # anchored, case-sensitive
    assert len(vector(ev.instant('x{job=~"(?i)A|B"}', 0))) == 2


# -- rate and friends ----------------------------------------------------------------------


def test_rate_increase_and_extrapolation_by_hand():
    ev = Evaluator(store((x(), [(0, 10), (15, 20), (30, 30), (45, 40), (60, 50)])))
    assert only(ev.instant("increase(x[1m])", 60 * S)) == 40
    assert only(ev.instant("rate(x[1m])", 60 * S)) == 40 / 60
    # Window [7.5s, 67.5s]: samples 15..60, 7.5 s to each edge (< 1.1 * 15 s): extrapolated.
    assert only(ev.instant("increase(x[1m])", 67_500)) == pytest.approx(30 * 60 / 45)
    assert only(ev.instant("delta(x[1m])", 60 * S)) == 40
    assert only(ev.instant("irate(x[1m])", 60 * S)) == pytest.approx(10 / 15)
    assert only(ev.instant("idelta(x[1m])", 60 * S)) == 10


def test_rate_does_not_extrapolate_a_counter_below_zero():
    # 30 s of data from 1 to 21: extrapolating 7.5 s back would reach a negative count; the
    # zero point is 1.5 s back, so the window counts from there (Prometheus's clamp).
    ev = Evaluator(store((x(), [(30, 1), (45, 11), (60, 21)])))
    assert only(ev.instant("increase(x[1m])", 60 * S)) == pytest.approx(20 * 31.5 / 30)
    # delta() is not a counter function: no clamp.
    assert only(ev.instant("delta(x[1m])", 60 * S)) == pytest.approx(20 * 37.5 / 30)


def test_counter_resets():
    ev = Evaluator(store((x(), [(0, 5), (15, 10), (30, 2), (45, 4)])))
    assert only(ev.instant("resets(x[1m])", 45 * S)) == 1
    assert only(ev.instant("increase(x[45s])", 45 * S)) == 9  # 5 -> 10, reset, 2 -> 4
    assert only(ev.instant("irate(x[20s])", 30 * S)) == pytest.approx(2 / 15)
    assert only(ev.instant("idelta(x[20s])", 30 * S)) == -8


def test_rate_needs_two_samples_and_resets_one():
    ev = Evaluator(store((x(), [(0, 5)])))
    assert vector(ev.instant("rate(x[1m])", 30 * S)) == {}
    assert only(ev.instant("resets(x[1m])", 30 * S)) == 0


def test_changes_treats_nan_as_equal_to_nan():
    nan = math.nan
    ev = Evaluator(store((x(), [(0, 1), (15, nan), (30, nan), (45, 1), (60, 1)])))
    assert only(ev.instant("changes(x[1m])", 60 * S)) == 2


def test_over_time_functions():
    ev = Evaluator(store((x(), [(0, 4), (15, -1), (30, 7), (45, 2)])))
    at = 45 * S
    assert only(ev.instant("avg_over_time(x[1m])", at)) == 3
    assert only(ev.instant("min_over_time(x[1m])", at)) == -1
    assert only(ev.instant("max_over_time(x[1m])", at)) == 7
    assert only(ev.instant("sum_over_time(x[1m])", at)) == 12
    assert only(ev.instant("count_over_time(x[1m])", at)) == 4
    assert only(ev.instant("last_over_time(x[1m])", at)) == 2
    assert only(ev.instant("quantile_over_time(0.5, x[1m])", at)) == 3
    assert only(ev.instant("quantile_over_time(2, x[1m])", at)) == math.inf
    assert vector(ev.instant("last_over_time(x[1m])", at)) == {(("__name__", "x"),): 2}
    assert vector(ev.instant("max_over_time(x[1m])", at)) == {(): 7}  # name dropped


def test_max_over_time_skips_nan_unless_all_are_nan():
    nan = math.nan
    ev = Evaluator(store((x(a="1"), [(0, nan), (15, 3), (30, nan)]), (x(a="2"), [(0, nan)])))
    got = vector(ev.instant("max_over_time(x[1m])", 30 * S))
    assert got[(("a", "1"),)] == 3 and math.isnan(got[(("a", "2"),)])


# -- histogram_quantile ---------------------------------------------------------------


def bucket_store(*buckets: tuple[str, float], extra: dict[str, str] | None = None) -> Evaluator:
    return Evaluator(store(*((x("h_bucket", le=le, **(extra or {})), [(0, count)])
                             for le, count in buckets)))


@pytest.mark.parametrize(("q", "expected"), [
    (0.5, 1.0), (0.75, 1.5), (1.0, 2.0), (0.0, 0.0), (1.5, math.inf), (-0.5, -math.inf)])
def test_histogram_quantile_interpolates(q, expected):
    ev = bucket_store(("1", 10), ("2", 20), ("+Inf", 20))
    assert only(ev.instant(f"histogram_quantile({q}, h_bucket)", 0)) == expected


def test_histogram_quantile_special_rules():
    no_inf = bucket_store(("1", 10), ("2", 20))
    assert math.isnan(only(no_inf.instant("histogram_quantile(0.5, h_bucket)", 0)))
    empty = bucket_store(("1", 0), ("+Inf", 0))
    assert math.isnan(only(empty.instant("histogram_quantile(0.5, h_bucket)", 0)))
    in_inf = bucket_store(("1", 5), ("+Inf", 10))
    assert only(in_inf.instant("histogram_quantile(0.9, h_bucket)", 0)) == 1
    negative = bucket_store(("-1", 5), ("+Inf", 10))
    assert only(negative.instant("histogram_quantile(0.2, h_bucket)", 0)) == -1
    # Counts decreasing with the bound are made monotonic first.
    broken = bucket_store(("1", 15), ("2", 10), ("+Inf", 20))
    assert only(broken.instant("histogram_quantile(0.5, h_bucket)", 0)) == pytest.approx(10 / 15)
    assert math.isnan(only(broken.instant("histogram_quantile(NaN, h_bucket)", 0)))


def test_histogram_quantile_groups_by_all_labels_but_le_and_drops_name():
    ev = Evaluator(store(*((x("h_bucket", le=le, job=job), [(0, c)])
                           for job in ("a", "b") for le, c in (("1", 1), ("+Inf", 2)))),
                   )
    assert set(vector(ev.instant("histogram_quantile(0.5, h_bucket)", 0))) == {
        (("job", "a"),), (("job", "b"),)}
    ev = Evaluator(store((x("h_bucket", le="x"), [(0, 1)]), (x("h_bucket"), [(0, 1)])))
    assert vector(ev.instant("histogram_quantile(0.5, h_bucket)", 0)) == {}


# -- aggregation ----------------------------------------------------------------------------


def test_aggregations_by_hand():
    ev = Evaluator(store((x(a="1", b="x"), [(0, 1)]), (x(a="2", b="x"), [(0, 5)]),
                         (x(a="3", b="y"), [(0, 9)])))
    assert vector(ev.instant("sum by (b) (x)", 0)) == {(("b", "x"),): 6, (("b", "y"),): 9}
    assert vector(ev.instant("avg without (a) (x)", 0)) == {(("b", "x"),): 3, (("b", "y"),): 9}
    assert only(ev.instant("count(x)", 0)) == 3
    assert only(ev.instant("quantile(0.5, x)", 0)) == 5
    assert vector(ev.instant("topk(2, x)", 0)) == {
        (("__name__", "x"), ("a", "3"), ("b", "y")): 9,
        (("__name__", "x"), ("a", "2"), ("b", "x")): 5}
    assert vector(ev.instant("bottomk by (b) (1, x)", 0)) == {
        (("__name__", "x"), ("a", "1"), ("b", "x")): 1,
        (("__name__", "x"), ("a", "3"), ("b", "y")): 9}
    assert vector(ev.instant("topk(0, x)", 0)) == {}
    with pytest.raises(PromQLError, match="Scalar value NaN overflows int64") as caught:
        ev.instant("topk(NaN, x)", 0)
    assert caught.value.error_type == "execution"


def test_topk_breaks_ties_by_label_order_like_prometheus():
    ev = Evaluator(store((x(a="2"), [(0, 1)]), (x(a="1"), [(0, 1)]), (x(a="3"), [(0, 1)])))
    assert list(vector(ev.instant("topk(1, x)", 0))) == [(("__name__", "x"), ("a", "1"))]


def test_nan_and_negative_zero_in_aggregations():
    nan = math.nan
    ev = Evaluator(store((x(a="1"), [(0, nan)]), (x(a="2"), [(0, 2)]), (x("z"), [(0, -0.0)])))
    assert only(ev.instant("max(x)", 0)) == 2 and only(ev.instant("min(x)", 0)) == 2
    assert math.isnan(only(ev.instant("sum(x)", 0)))
    assert to_api_data(ev.instant("sum(z)", 0))["result"][0]["value"][1] == "-0"


# -- binary operators -----------------------------------------------------------------------


def test_arithmetic_and_comparison_rules():
    ev = Evaluator(store((x(a="1"), [(0, 3)]), (x(a="2"), [(0, 8)]), (x("y", a="1"), [(0, 2)])))
    assert vector(ev.instant("x * 2", 0)) == {(("a", "1"),): 6, (("a", "2"),): 16}
    assert vector(ev.instant("x > 4", 0)) == {(("__name__", "x"), ("a", "2")): 8}
    assert vector(ev.instant("4 < x", 0)) == {(("__name__", "x"), ("a", "2")): 8}
    assert vector(ev.instant("x > bool 4", 0)) == {(("a", "1"),): 0, (("a", "2"),): 1}
    assert vector(ev.instant("x - y", 0)) == {(("a", "1"),): 1}
    assert vector(ev.instant("x > y", 0)) == {(("__name__", "x"), ("a", "1")): 3}
    assert all(math.isnan(v) for v in vector(ev.instant("x % 0", 0)).values())
    assert only(ev.instant("-x{a=\"1\"} ^ 2", 0)) == -9
    result = ev.instant("1 / 0 - 1 / 0", 0)
    assert isinstance(result, ScalarResult) and math.isnan(result.value)
    assert ev.instant("2 ^ 0.5 > bool 1.41", 0).value == 1


def test_vector_matching_with_group_left_copies_labels_from_the_one_side():
    ev = Evaluator(store((x(job="a", i="1"), [(0, 2)]), (x(job="a", i="2"), [(0, 3)]),
                         (x("info", job="a", version="v1"), [(0, 1)])))
    assert vector(ev.instant("x * on(job) group_left(version) info", 0)) == {
        (("i", "1"), ("job", "a"), ("version", "v1")): 2,
        (("i", "2"), ("job", "a"), ("version", "v1")): 3}
    assert vector(ev.instant("info * on(job) group_right x", 0)) == {
        (("i", "1"), ("job", "a")): 2, (("i", "2"), ("job", "a")): 3}


def test_matching_errors_are_prometheus_errors():
    ev = Evaluator(store((x(job="a", i="1"), [(0, 2)]), (x(job="a", i="2"), [(0, 3)]),
                         (x("y", job="a"), [(0, 1)])))
    with pytest.raises(PromQLError) as caught:
        ev.instant("y + on(job) x", 0)
    assert caught.value.error_type == "execution"
    assert str(caught.value) == (
        'found duplicate series for the match group {job="a"} on the right hand-side of the '
        'operation: [{__name__="x", i="2", job="a"}, {__name__="x", i="1", job="a"}];'
        "many-to-many matching not allowed: matching labels must be unique on one side")
    with pytest.raises(PromQLError, match="many-to-one matching must be explicit"):
        ev.instant("x + on(job) y", 0)
    twins = Evaluator(store((x(job="a", i="1"), [(0, 2)]), (x("z", job="a", i="1"), [(0, 3)]),
                            (x("y", job="a"), [(0, 1)])))
    with pytest.raises(PromQLError, match="grouping labels must ensure unique matches"):
        twins.instant('{__name__=~"x|z"} + on(job) group_left y', 0)


def test_set_operators():
    ev = Evaluator(store((x(a="1"), [(0, 1)]), (x(a="2"), [(0, 2)]), (x("y", a="2"), [(0, 9)]),
                         (x("y", a="3"), [(0, 9)])))
    assert vector(ev.instant("x and y", 0)) == {(("__name__", "x"), ("a", "2")): 2}
    assert vector(ev.instant("x unless y", 0)) == {(("__name__", "x"), ("a", "1")): 1}
    assert vector(ev.instant("x or y", 0)) == {
        (("__name__", "x"), ("a", "1")): 1, (("__name__", "x"), ("a", "2")): 2,
        (("__name__", "y"), ("a", "3")): 9}
    assert len(vector(ev.instant("x and on() y", 0))) == 2


def test_same_labels_at_different_steps_merge_but_collide_at_one_step():
    ev = Evaluator(store((x("a", k="1"), [(0, 1), (15, 1)]), (x("b", k="1"), [(600, 2), (615, 2)])))
    series = ev.range('abs({__name__=~"a|b"})', 0, 615 * S, 15 * S).series
    assert len(series) == 1 and series[0].labels == {"k": "1"}
    assert series[0].values[0] == 1 and series[0].values[-1] == 2
    overlapping = Evaluator(store((x("a", k="1"), [(0, 1)]), (x("b", k="1"), [(60, 2)])))
    assert len(vector(overlapping.instant('{__name__=~"a|b"}', 90 * S))) == 2
    with pytest.raises(PromQLError, match="vector cannot contain metrics with the same labelset"):
        overlapping.instant('abs({__name__=~"a|b"})', 90 * S)
    with pytest.raises(PromQLError, match="vector cannot contain metrics with the same labelset"):
        ev.range('rate({__name__=~"a|b"}[1m])', 0, 615 * S, 15 * S)  # whole-matrix rule


# -- other functions ----------------------------------------------------------------------


def test_label_replace_expands_like_go():
    ev = Evaluator(store((x(src="ab-cd"), [(0, 1)])))

    def replaced(replacement: str, regex: str = "(?P<first>[a-z]+)-([a-z]+)") -> str | None:
        query = f'label_replace(x, "dst", "{replacement}", "src", "{regex}")'
        (labels,) = [dict(k) for k in vector(ev.instant(query, 0))]
        return labels.get("dst")

    assert replaced("$1") == "ab"
    assert replaced("${2}x") == "cdx"
    assert replaced("$first") == "ab"
    assert replaced("$$1") == "$1"
    assert replaced("$1x") is None  # group "1x" does not exist: empty, label not set
    assert replaced("$9") is None
    assert replaced("x", regex="zz") is None  # no match: labels unchanged
    with pytest.raises(PromQLError, match="invalid regular expression in label_replace"):
        ev.instant('label_replace(x, "dst", "", "src", "(")', 0)
    with pytest.raises(PromQLError, match="invalid destination label name"):
        ev.instant('label_replace(x, "1dst", "", "src", ".*")', 0)


def test_absent_reports_the_fixed_labels():
    ev = Evaluator(store((x(), [(0, 1)])))
    assert vector(ev.instant('absent(nope{job="a", env=~"p", i="1", i="2"})', 0)) == {
        (("job", "a"),): 1}
    assert vector(ev.instant("absent(x)", 0)) == {}
    assert vector(ev.instant("absent(sum(nope))", 0)) == {(): 1}


def test_scalar_vector_time_timestamp():
    ev = Evaluator(store((x(a="1"), [(10, 5)]), (x(a="2"), [(12.5, 6)])))
    assert ev.instant('scalar(x{a="1"})', 20 * S).value == 5
    assert math.isnan(ev.instant("scalar(x)", 20 * S).value)
    assert vector(ev.instant("vector(time())", 20 * S)) == {(): 20}
    assert vector(ev.instant("timestamp(x)", 20 * S)) == {(("a", "1"),): 10, (("a", "2"),): 12.5}
    assert vector(ev.instant("timestamp(abs(x))", 20 * S)) == {(("a", "1"),): 20, (("a", "2"),): 20}


def test_rounding_and_clamping():
    ev = Evaluator(store((x(), [(0, -2.5)])))
    assert only(ev.instant("round(x)", 0)) == -2
    assert only(ev.instant("round(x, 2)", 0)) == -2
    assert only(ev.instant("ceil(x)", 0)) == -2 and only(ev.instant("floor(x)", 0)) == -3
    assert only(ev.instant("clamp_min(x, 0)", 0)) == 0
    assert only(ev.instant("clamp_max(x, -3)", 0)) == -3
    assert to_api_data(ev.instant("ceil(x / 10)", 0))["result"][0]["value"][1] == "-0"


# -- range queries and results ---------------------------------------------------------------


def test_range_query_validation_uses_prometheus_words():
    ev = Evaluator(store((x(), [(0, 1)])))
    with pytest.raises(PromQLError) as caught:
        ev.range("x", 10, 0, 1)
    assert str(caught.value) == (
        'invalid parameter "end": end timestamp must not be before start time')
    with pytest.raises(PromQLError, match="zero or negative query resolution step"):
        ev.range("x", 0, 10, 0)
    with pytest.raises(PromQLError, match="exceeded maximum resolution of 11,000 points"):
        ev.range("x", 0, 11_001, 1)
    ev.range("x", 0, 11_000, 1)  # exactly the limit is fine
    with pytest.raises(PromQLError, match='invalid expression type "range vector" for range query'):
        ev.range("x[1m]", 0, 10, 1)
    assert all(e.error_type == "bad_data" for e in [caught.value])


def test_range_query_steps_and_order():
    ev = Evaluator(store((x(a="2"), [(0, 1), (30, 2)]), (x(a="1"), [(0, 3)])))
    result = ev.range("x", 0, 30 * S, 10 * S)
    assert [s.labels["a"] for s in result.series] == ["1", "2"]
    assert result.series[1].timestamps == [0, 10 * S, 20 * S, 30 * S]
    assert result.series[1].values == [1, 1, 1, 2]
    scalar = ev.range("1 + 1", 0, 20 * S, 10 * S)
    assert scalar.series[0].labels == {} and scalar.series[0].values == [2, 2, 2]


def test_api_data_shapes():
    ev = Evaluator(store((x(), [(0, 1e-7), (15, 1e22), (30, 0.25)])))
    assert to_api_data(ev.instant("x", 0)) == {"resultType": "vector", "result": [
        {"metric": {"__name__": "x"}, "value": [0.0, "1e-07"]}]}
    assert to_api_data(ev.instant("scalar(x)", 15_001)) == {
        "resultType": "scalar", "result": [15.001, "10000000000000000000000"]}
    assert to_api_data(ev.instant('"hi"', 5)) == {"resultType": "string", "result": [0.005, "hi"]}
    matrix = to_api_data(ev.range("x * 4", 0, 30 * S, 15 * S))
    assert matrix["resultType"] == "matrix"
    assert matrix["result"][0]["values"] == [[0.0, "4e-07"], [15.0, "4e+22"], [30.0, "1"]]
    infinite = to_api_data(ev.instant("x / 0 > 0 or -x / 0", 30 * S))
    assert sorted(r["value"][1] for r in infinite["result"]) == ["+Inf"]


def test_query_result_model():
    from watchdeck.core.engine.promql import to_query_result

    ev = Evaluator(store((x(), [(0, 1), (15, 2)])))
    result = to_query_result(ev.range("x", 0, 15 * S, 15 * S))
    assert result.result_type == "matrix"
    assert result.series[0].timestamps == (0.0, 15.0) and result.series[0].values == (1.0, 2.0)
    assert to_query_result(ev.instant("x", 15_500)).series[0].timestamps == (15.5,)
    assert to_query_result(ev.instant('"s"', 0)).string_value == "s"


# -- queryables ------------------------------------------------------------------------------


class Grouped:
    """A queryable offering select_grouped, one group per series (the least sharing)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def select(self, matchers, mint, maxt):  # pragma: no cover - must not be used
        raise AssertionError("select_grouped should be preferred")

    def select_grouped(self, matchers, mint, maxt):
        return [(s.timestamps, [(s.labels, s.values)])
                for s in self.storage.select(matchers, mint, maxt)]


QUERIES = ["sum by (a) (rate(x[1m]))", "x", "timestamp(x)", "histogram_quantile(0.5, x)",
           "max_over_time(x[2m] offset 30s)", "x > bool 3"]


def data() -> Storage:
    return store(*((x(a=str(i % 3), b=str(i)), [(t * 15 + i, float(t * i % 7)) for t in range(40)])
                   for i in range(6)))


@pytest.mark.parametrize("query", QUERIES)
def test_select_grouped_gives_the_same_answers(query):
    storage = data()
    plain = to_api_data(Evaluator(storage).range(query, 60 * S, 600 * S, 20 * S))
    grouped = to_api_data(Evaluator(Grouped(storage)).range(query, 60 * S, 600 * S, 20 * S))
    assert plain == grouped


def test_queries_from_many_threads_at_once():
    storage = data()
    ev = Evaluator(storage)
    expected = {q: to_api_data(ev.range(q, 60 * S, 600 * S, 20 * S)) for q in QUERIES}
    failures: list[str] = []

    def work() -> None:
        for _ in range(5):
            for query, answer in expected.items():
                if to_api_data(ev.range(query, 60 * S, 600 * S, 20 * S)) != answer:
                    failures.append(query)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
