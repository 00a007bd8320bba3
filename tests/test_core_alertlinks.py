"""Which panels and layouts an alert is about, and the variables a jump sets."""

from __future__ import annotations

import pytest

from watchdeck.core.alertlinks import (
    alert_expr,
    best_layout,
    metric_names,
    panel_is_about,
    variables_for,
)
from watchdeck.core.alerts import Alert
from watchdeck.core.config.models import Layout
from watchdeck.core.config.types import convert


@pytest.mark.parametrize(("expr", "names"), [
    ("up", {"up"}),
    ('histogram_quantile(0.99, sum by (le, instance) (rate('
     'vllm:e2e_request_latency_seconds_bucket{model_name=~"llama.*"}[5m])))',
     {"vllm:e2e_request_latency_seconds"}),
    ('sum(rate(http_requests_total{code="500"}[1m])) / sum(rate(http_requests_total[1m])) '
     '> 0.05', {"http_requests"}),
    ('a_metric offset 5m and on (job) b_metric unless c_metric{x="by (y)"}',
     {"a_metric", "b_metric", "c_metric"}),
    ("max without (gpu) (DCGM_FI_DEV_GPU_TEMP) > 85", {"DCGM_FI_DEV_GPU_TEMP"}),
    ("vector(1) > bool 0", set()),
])
def test_metric_names_of_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_an_alertmanager_alert_names_its_expression_in_the_generator_url() -> None:
    alert = Alert(labels={"alertname": "X"},
                  generator_url="http://prom:9090/graph?g0.expr=rate%28errors_total%5B1m%5D%29"
                                "+%3E+1&g0.tab=1")
    assert alert_expr(alert) == "rate(errors_total[1m]) > 1"
    assert alert_expr(Alert(labels={"alertname": "X"}, generator_url="http://x/")) is None


LAYOUT = convert(Layout, {
    "name": "fleet",
    "variables": [{"name": "replica", "query": "label_values(latency_seconds, replica)"},
                  {"name": "fixed", "values": ["a", "b"]}],
    "panels": [
        {"id": "latency", "type": "timeseries",
         "queries": [{"expr": 'latency_seconds{replica=~"$replica"}'}]},
        {"id": "only-a", "type": "timeseries",
         "queries": [{"expr": 'latency_seconds{replica="a"}'}]},
        {"id": "not-b", "type": "timeseries",
         "queries": [{"expr": 'latency_seconds{replica!~"b|c"}'}]},
        {"id": "disk", "type": "stat", "alerts": ["DiskFull"],
         "queries": [{"expr": "node_filesystem_avail_bytes"}]},
    ],
})


def about(alert: Alert) -> list[str]:
    return [p.id for p in LAYOUT.panels if panel_is_about(p, alert)]


def test_panels_about_an_alert_by_metric_labels_and_name() -> None:
    slow_b = Alert(labels={"alertname": "Slow", "replica": "b"}, rule_expr="latency_seconds > 10")
    assert about(slow_b) == ["latency"]  # only-a and not-b exclude replica b
    slow_a = Alert(labels={"alertname": "Slow", "replica": "a"}, rule_expr="latency_seconds > 10")
    assert about(slow_a) == ["latency", "only-a", "not-b"]
    assert about(Alert(labels={"alertname": "DiskFull"})) == ["disk"]
    assert about(Alert(labels={"alertname": "Other"}, rule_expr="unrelated > 1")) == []


def test_the_jump_prefers_the_named_layout_then_the_best_match() -> None:
    other = convert(Layout, {"name": "other", "panels": [
        {"id": "x", "type": "timeseries", "queries": [{"expr": "latency_seconds"}]}]})
    layouts = [("other", other), ("fleet", LAYOUT)]
    slow = Alert(labels={"alertname": "Slow", "replica": "a"}, rule_expr="latency_seconds > 1")
    assert best_layout(layouts, slow) == "fleet"  # three panels about it there, one in other
    named = Alert(labels={"alertname": "Slow", "replica": "a"}, rule_expr="latency_seconds > 1",
                  annotations={"watchdeck_layout": "other"})
    assert best_layout(layouts, named) == "other"
    missing = Alert(labels={"alertname": "Slow"}, rule_expr="latency_seconds > 1",
                    annotations={"watchdeck_layout": "gone"})
    assert best_layout(layouts, missing) == "fleet"
    assert best_layout(layouts, Alert(labels={"alertname": "Z"}, rule_expr="z > 1")) is None


def test_the_jump_sets_variables_from_the_alert_labels() -> None:
    states = variables_for(LAYOUT, Alert(labels={"alertname": "Slow", "replica": "b",
                                                 "fixed": "a"}))
    assert set(states) == {"replica"}  # fixed-choice variables name no label
    assert states["replica"].values == ("b",) and not states["replica"].is_all
