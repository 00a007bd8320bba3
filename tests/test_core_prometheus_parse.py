"""Parsing Prometheus query answers, and escaping label names for the API path."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from watchdeck.core.errors import BadResponseError
from watchdeck.core.sources.prometheus import escape_label_name, parse_result

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "prometheus"

# The API docs' examples (docs/querying/api.md), inline so the tests stand alone.
DOCS_MATRIX = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"__name__": "up", "job": "prometheus", "instance": "localhost:9090"},
                "values": [[1435781430.781, "1"], [1435781445.781, "1"],
                           [1435781460.781, "1"]],
            },
            {
                "metric": {"__name__": "up", "job": "node", "instance": "localhost:9091"},
                "values": [[1435781430.781, "0"], [1435781445.781, "0"],
                           [1435781460.781, "1"]],
            },
        ],
    },
}
DOCS_VECTOR = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {"metric": {"__name__": "up", "job": "prometheus", "instance": "localhost:9090"},
             "value": [1435781451.781, "1"]},
            {"metric": {"__name__": "up", "job": "node", "instance": "localhost:9100"},
             "value": [1435781451.781, "0"]},
        ],
    },
}


def envelope(name: str, inline: dict[str, Any]) -> dict[str, Any]:
    """The upstream fixture when ../shared is beside the repo, else the same JSON inline."""
    path = FIXTURES / name
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return inline


def test_matrix_from_the_api_docs() -> None:
    data = envelope("query_range_matrix_response.json", DOCS_MATRIX)["data"]
    result = parse_result(data)
    assert result.result_type == "matrix"
    assert len(result.series) == 2
    first, second = result.series
    assert dict(first.labels) == {"__name__": "up", "job": "prometheus",
                                  "instance": "localhost:9090"}
    assert first.timestamps == (1435781430.781, 1435781445.781, 1435781460.781)
    assert first.values == (1.0, 1.0, 1.0)
    assert second.labels["instance"] == "localhost:9091"
    assert second.values == (0.0, 0.0, 1.0)
    assert not result.is_empty


def test_vector_from_the_api_docs() -> None:
    data = envelope("query_vector_response.json", DOCS_VECTOR)["data"]
    result = parse_result(data)
    assert result.result_type == "vector"
    assert [(s.labels["job"], s.timestamps, s.values) for s in result.series] == [
        ("prometheus", (1435781451.781,), (1.0,)),
        ("node", (1435781451.781,), (0.0,)),
    ]


def test_inline_and_fixture_agree_when_the_fixture_is_present() -> None:
    path = FIXTURES / "query_range_matrix_response.json"
    if not path.is_file():
        pytest.skip("../shared/fixtures is not beside the repository")
    assert json.loads(path.read_text(encoding="utf-8")) == DOCS_MATRIX


def test_scalar_and_string() -> None:
    scalar = parse_result({"resultType": "scalar", "result": [1435781451.781, "42.5"]})
    assert scalar.result_type == "scalar"
    assert len(scalar.series) == 1
    assert dict(scalar.series[0].labels) == {}
    assert scalar.series[0].values == (42.5,)
    text = parse_result({"resultType": "string", "result": [1435781451.781, "hello"]})
    assert text.result_type == "string"
    assert text.series == ()
    assert text.string_value == "hello"


def test_special_float_values() -> None:
    result = parse_result({"resultType": "vector", "result": [
        {"metric": {"a": "1"}, "value": [1, "NaN"]},
        {"metric": {"a": "2"}, "value": [1, "+Inf"]},
        {"metric": {"a": "3"}, "value": [1, "-Inf"]},
    ]})
    values = [s.values[0] for s in result.series]
    assert math.isnan(values[0])
    assert values[1] == math.inf and values[2] == -math.inf


def test_empty_results() -> None:
    for kind in ("matrix", "vector"):
        result = parse_result({"resultType": kind, "result": []})
        assert result.series == ()
        assert result.is_empty
    matrix = parse_result({"resultType": "matrix", "result": [{"metric": {"a": "b"},
                                                               "values": []}]})
    assert matrix.series[0].values == ()
    assert matrix.is_empty


def test_missing_metric_means_no_labels() -> None:
    result = parse_result({"resultType": "vector", "result": [{"value": [1, "2"]}]})
    assert dict(result.series[0].labels) == {}


def test_native_histogram_samples_are_skipped() -> None:
    result = parse_result({"resultType": "vector", "result": [
        {"metric": {"a": "h"}, "histogram": [1, {"count": "3", "sum": "5", "buckets": []}]},
        {"metric": {"a": "f"}, "value": [1, "7"]},
    ]})
    assert [s.labels["a"] for s in result.series] == ["f"]


def test_warnings_and_infos_are_carried() -> None:
    result = parse_result({"resultType": "vector", "result": []}, ("w1",), ("i1",))
    assert result.warnings == ("w1",)
    assert result.infos == ("i1",)


def test_hostile_label_values_are_kept_as_data() -> None:
    # escaping happens where text is drawn; the data itself is exact
    result = parse_result({"resultType": "vector", "result": [
        {"metric": {"pod": "\x1b[2Jevil\u202e"}, "value": [1, "1"]},
    ]})
    assert result.series[0].labels["pod"] == "\x1b[2Jevil\u202e"


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "matrix",
        {"result": []},  # no resultType
        {"resultType": "histogram", "result": []},  # unknown type
        {"resultType": "matrix", "result": "oops"},
        {"resultType": "matrix", "result": {"a": 1}},
        {"resultType": "matrix", "result": [["not", "an", "object"]]},
        {"resultType": "matrix", "result": [{"metric": {}, "values": [[1]]}]},
        {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "2", 3]]}]},
        {"resultType": "matrix", "result": [{"metric": {}, "values": [["t", "1"]]}]},
        {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "one"]]}]},
        {"resultType": "matrix", "result": [{"metric": ["a"], "values": [[1, "1"]]}]},
        {"resultType": "matrix", "result": [{"metric": {}, "values": 5}]},
        {"resultType": "vector", "result": [{"metric": {}, "value": [1]}]},
        {"resultType": "vector", "result": [{"metric": {}, "value": "1"}]},
        {"resultType": "vector", "result": [{"metric": {}, "value": [1, None]}]},
        {"resultType": "vector", "result": [{"metric": "x", "value": [1, "1"]}]},
        {"resultType": "vector", "result": 7},
        {"resultType": "scalar", "result": None},
        {"resultType": "scalar", "result": [1]},
        {"resultType": "scalar", "result": [1, "x"]},
        {"resultType": "string", "result": None},
        {"resultType": "string", "result": []},
    ],
)
def test_malformed_shapes_are_bad_responses(data: Any) -> None:
    with pytest.raises(BadResponseError):
        parse_result(data)


def test_bad_response_message_is_sanitised() -> None:
    with pytest.raises(BadResponseError) as caught:
        parse_result({"resultType": "\x1b]52;c;ZXZpbA==\x07" + "x" * 500, "result": []})
    message = str(caught.value)
    assert "\x1b" not in message and "\x07" not in message
    assert len(message) < 200


# --------------------------------------------------------------------------- label names


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("job", "job"),
        ("http_status_code", "http_status_code"),
        ("__name__", "__name__"),
        # Prometheus's "values" escaping (prometheus/common model.EscapeName): U__ prefix,
        # '_' doubled, other characters as _<hex code point>_
        ("http.status_code", "U__http_2e_status__code"),
        ("http.status", "U__http_2e_status"),
        ("mysystem.prod.west.cpu.load_total",
         "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load__total"),
        ("label with 😱", "U__label_20_with_20__1f631_"),
        ("花火", "U___82b1__706b_"),
        ("a/b", "U__a_2f_b"),
    ],
)
def test_escape_label_name(name: str, escaped: str) -> None:
    assert escape_label_name(name) == escaped


def test_escaped_label_names_are_safe_in_a_url_path() -> None:
    for name in ("a/../../b", "x?y=1", "p#frag", "sp ace", "%2e"):
        escaped = escape_label_name(name)
        assert not set(escaped) & set("/?#% ."), escaped
