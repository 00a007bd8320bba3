"""Turning query results into what panels draw."""

from __future__ import annotations

import math

import pytest

from watchdeck.core.model import QueryResult, Series
from watchdeck.core.shaping import build_table, collect_series, reduce_values, varying_labels


def series(values: list[float], **labels: str) -> Series:
    return Series(labels, tuple(float(i) for i in range(len(values))), tuple(values))


def matrix(*items: Series) -> QueryResult:
    return QueryResult("matrix", items)


def vector(*items: tuple[dict[str, str], float]) -> QueryResult:
    return QueryResult("vector", tuple(Series(labels, (0.0,), (value,)) for labels, value in items))


# --------------------------------------------------------------------------- reduce_values


@pytest.mark.parametrize(
    ("how", "expected"),
    [("last", 4.0), ("mean", 2.5), ("min", 1.0), ("max", 4.0), ("sum", 10.0)],
)
def test_reduce_values(how: str, expected: float) -> None:
    assert reduce_values([1.0, 3.0, 2.0, 4.0], how) == expected


def test_reductions_ignore_nan_and_infinities() -> None:
    values = [1.0, math.nan, 3.0, math.inf, -math.inf]
    assert reduce_values(values, "mean") == 2.0
    assert reduce_values(values, "min") == 1.0
    assert reduce_values(values, "max") == 3.0
    assert reduce_values(values, "sum") == 4.0


def test_last_is_the_newest_value_as_it_is() -> None:
    assert math.isnan(reduce_values([1.0, math.nan], "last"))  # type: ignore[arg-type]


@pytest.mark.parametrize("how", ["last", "mean", "min", "max", "sum"])
def test_reductions_of_nothing_are_none(how: str) -> None:
    assert reduce_values([], how) is None


@pytest.mark.parametrize("how", ["mean", "min", "max", "sum"])
def test_reductions_of_only_nan_are_none(how: str) -> None:
    assert reduce_values([math.nan, math.nan], how) is None


def test_unknown_reduction() -> None:
    with pytest.raises(ValueError, match="median"):
        reduce_values([1.0], "median")


def test_sum_is_accurate() -> None:
    assert reduce_values([0.1] * 10, "sum") == 1.0


# --------------------------------------------------------------------------- collect_series


def test_collect_series_names_series_by_their_legend() -> None:
    result = matrix(series([1, 2], pod="a"), series([3, 4], pod="b"))
    named, dropped = collect_series([result], ["{{pod}}"], limit=10)
    assert dropped == 0
    assert [n.legend for n in named] == ["a", "b"]
    assert [n.query_index for n in named] == [0, 0]


def test_collect_series_keeps_the_top_n_by_peak_and_counts_the_rest() -> None:
    result = matrix(
        series([1, 1, 1], pod="low"),
        series([0, 50, 0], pod="spiky"),  # highest peak even though its last value is 0
        series([5, 5, 5], pod="mid"),
        series([2, math.nan, 3], pod="lowish"),
        series([10, 20, 30], pod="high"),
    )
    named, dropped = collect_series([result], ["{{pod}}"], limit=3)
    assert dropped == 2
    # the kept ones stay in their original order
    assert [n.legend for n in named] == ["spiky", "mid", "high"]


def test_series_with_only_nan_rank_last() -> None:
    result = matrix(series([math.nan], pod="empty"), series([0.0], pod="zero"))
    named, dropped = collect_series([result], ["{{pod}}"], limit=1)
    assert [n.legend for n in named] == ["zero"]
    assert dropped == 1


def test_collect_series_over_several_queries_with_missing_results() -> None:
    first = matrix(series([1], __name__="up", job="a"))
    third = matrix(series([2], job="b"))
    named, dropped = collect_series([first, None, third], [None, "ignored", "{{job}} p99"],
                                    limit=10)
    assert dropped == 0
    assert [(n.legend, n.query_index) for n in named] == [('up{job="a"}', 0), ("b p99", 2)]


def test_collect_series_with_fewer_legends_than_queries() -> None:
    named, _ = collect_series([matrix(series([1], job="x"))], [], limit=5)
    assert named[0].legend == '{job="x"}'


def test_limit_exactly_reached_drops_nothing() -> None:
    result = matrix(*(series([i], n=str(i)) for i in range(4)))
    named, dropped = collect_series([result], [None], limit=4)
    assert len(named) == 4 and dropped == 0


# --------------------------------------------------------------------------- varying_labels


def test_varying_labels_are_those_that_differ() -> None:
    items = [
        Series({"__name__": "up", "job": "api", "instance": "a"}, (), ()),
        Series({"__name__": "up", "job": "api", "instance": "b"}, (), ()),
    ]
    assert varying_labels(items) == ["instance"]


def test_a_label_missing_from_some_series_varies() -> None:
    items = [Series({"job": "api", "pod": "p1"}, (), ()), Series({"job": "api"}, (), ())]
    assert varying_labels(items) == ["pod"]


def test_when_nothing_varies_all_labels_but_the_name_are_shown() -> None:
    items = [Series({"__name__": "up", "job": "api", "env": "prod"}, (), ())]
    assert varying_labels(items) == ["env", "job"]
    assert varying_labels([Series({"__name__": "up"}, (), ())]) == ["__name__"]
    assert varying_labels([]) == []


def test_varying_name_comes_first() -> None:
    items = [Series({"__name__": "a", "z": "1"}, (), ()),
             Series({"__name__": "b", "z": "2"}, (), ())]
    assert varying_labels(items) == ["__name__", "z"]


# --------------------------------------------------------------------------- build_table


def test_build_table_joins_instant_results_on_label_columns() -> None:
    requests = vector(({"model": "llama", "pod": "p1"}, 10.0),
                      ({"model": "qwen", "pod": "p2"}, 20.0))
    latency = vector(({"model": "qwen", "pod": "p2"}, 0.5),
                     ({"model": "llama", "pod": "p1"}, 0.25),
                     ({"model": "mistral", "pod": "p3"}, 1.0))
    table, dropped = build_table([requests, latency], ["req/s", "p99"], ["model"], limit=10)
    assert dropped == 0
    assert table.columns == ("model",)
    assert table.value_columns == ("req/s", "p99")
    assert dict(table.rows) == {
        ("llama",): (10.0, 0.25),
        ("qwen",): (20.0, 0.5),
        ("mistral",): (None, 1.0),
    }


def test_build_table_default_columns_are_the_varying_labels() -> None:
    result = vector(({"__name__": "up", "job": "api", "instance": "a"}, 1.0),
                    ({"__name__": "up", "job": "api", "instance": "b"}, 0.0))
    table, _ = build_table([result], [None], None, limit=10)
    assert table.columns == ("instance",)
    assert table.value_columns == ("value",)
    assert dict(table.rows) == {("a",): (1.0,), ("b",): (0.0,)}


def test_build_table_value_column_names_without_legends() -> None:
    one = vector(({"a": "x"}, 1.0))
    table, _ = build_table([one, one, None], [], ["a"], limit=10)
    assert table.value_columns == ("value #1", "value #2", "value #3")
    assert dict(table.rows) == {("x",): (1.0, 1.0, None)}


def test_build_table_missing_label_is_an_empty_cell() -> None:
    table, _ = build_table([vector(({"a": "x"}, 1.0))], [None], ["a", "b"], limit=10)
    assert table.rows == ((("x", ""), (1.0,)),)


def test_build_table_limit_keeps_the_rows_with_the_highest_values() -> None:
    result = vector(*(({"pod": f"p{i}"}, float(v)) for i, v in enumerate([3, 9, 1, 7, math.nan])))
    table, dropped = build_table([result], [None], ["pod"], limit=2)
    assert dropped == 3
    assert {key for key, _ in table.rows} == {("p1",), ("p3",)}


def test_build_table_uses_the_last_value_of_a_range_result() -> None:
    result = matrix(series([1, 2, 3], pod="a"))
    table, _ = build_table([result], [None], ["pod"], limit=5)
    assert table.rows == ((("a",), (3.0,)),)


def test_build_table_keeps_series_that_look_alike_in_the_chosen_columns() -> None:
    from watchdeck.core.model import QueryResult, Series

    pods = QueryResult("vector", (
        Series({"model": "llama", "pod": "a"}, (1.0,), (1.0,)),
        Series({"model": "llama", "pod": "b"}, (1.0,), (2.0,)),
    ))
    table, dropped = build_table([pods], [None], ["model"], 10)
    assert dropped == 0
    assert sorted(values for _, values in table.rows) == [(1.0,), (2.0,)]
