"""Alerting and recording rules of the embedded engine, on a controlled clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdeck.core.config.loader import FileError
from watchdeck.core.engine.matchers import Matcher
from watchdeck.core.engine.rules import RuleManager, format_go_e, load_rule_file
from watchdeck.core.engine.storage import Storage, is_stale
from watchdeck.core.engine.templates import expand, humanize

T0 = 1_767_225_600.0
RULES = """groups:
  - name: queue
    interval: 15s
    rules:
      - record: job:queue:max
        expr: max by (job) (queue_length)
      - alert: QueueBuildUp
        expr: queue_length > 10
        for: 30s
        labels: {severity: critical, team: "{{ $labels.replica }}-oncall"}
        annotations:
          summary: "queue on {{ $labels.replica }} is {{ $value }}"
          detail: "{{ $value | humanize }} waiting; {{ .Unknown }}"
"""


def write_rules(tmp_path: Path, text: str = RULES) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def feed(storage: Storage, t: float, queue: dict[str, float]) -> None:
    for replica, value in queue.items():
        storage.append({"__name__": "queue_length", "job": "vllm", "replica": replica},
                       int(t * 1000), value)


def test_pending_firing_resolved_and_the_alerts_series(tmp_path: Path) -> None:
    storage = Storage()
    (group,) = load_rule_file(write_rules(tmp_path), 15.0)
    manager = RuleManager(storage, [group])
    feed(storage, T0, {"a": 12, "b": 3})
    manager.evaluate_group(group, T0)
    (alert,) = manager.alerts()
    assert alert.state == "pending" and alert.labels == {
        "alertname": "QueueBuildUp", "job": "vllm", "replica": "a", "severity": "critical",
        "team": "a-oncall"}
    assert alert.annotations["summary"] == "queue on a is 12"
    assert alert.annotations["detail"] == "12 waiting; {{ .Unknown }}"  # unknown kept as is
    feed(storage, T0 + 15, {"a": 14, "b": 3})
    manager.evaluate_group(group, T0 + 15)
    assert manager.alerts()[0].state == "pending"  # 15 s < for: 30s
    feed(storage, T0 + 30, {"a": 15, "b": 3})
    manager.evaluate_group(group, T0 + 30)
    assert manager.alerts()[0].state == "firing"
    api = manager.api_alerts()["alerts"][0]
    assert api["state"] == "firing" and api["value"] == "1.5e+01"
    assert api["activeAt"].startswith("2026-01-01T00:00:00")
    feed(storage, T0 + 45, {"a": 2, "b": 3})
    manager.evaluate_group(group, T0 + 45)
    assert manager.alerts() == []
    # ALERTS: pending, then firing, then a staleness marker when it ends.
    firing = storage.select([Matcher("__name__", "=", "ALERTS"),
                             Matcher("alertstate", "=", "firing")], 0, 2**62)
    (series,) = firing
    assert series.values[0] == 1.0 and is_stale(series.values[-1])
    # The recording rule wrote its own series.
    (recorded,) = storage.select([Matcher("__name__", "=", "job:queue:max")], 0, 2**62)
    assert recorded.labels == {"__name__": "job:queue:max", "job": "vllm"}
    assert recorded.values == [12.0, 14.0, 15.0, 3.0]


def test_rules_api_shape(tmp_path: Path) -> None:
    storage = Storage()
    (group,) = load_rule_file(write_rules(tmp_path), 15.0)
    manager = RuleManager(storage, [group])
    feed(storage, T0, {"a": 12})
    manager.evaluate_group(group, T0)
    data = manager.api_rules()
    (api_group,) = data["groups"]
    assert api_group["name"] == "queue" and api_group["interval"] == 15.0
    record, alert = api_group["rules"]
    assert record["type"] == "recording" and record["health"] == "ok"
    assert alert["type"] == "alerting" and alert["state"] == "pending"
    assert alert["duration"] == 30.0 and alert["query"] == "queue_length > 10"
    assert len(alert["alerts"]) == 1
    assert [r["name"] for r in manager.api_rules("alert")["groups"][0]["rules"]] == [
        "QueueBuildUp"]


def test_a_broken_rule_file_names_the_line(tmp_path: Path) -> None:
    path = write_rules(tmp_path, """groups:
  - name: g
    rules:
      - alert: Broken
        expr: sum(rate(x[5m])
      - alert: Both
        record: also
        expr: up
""")
    with pytest.raises(FileError) as caught:
        load_rule_file(path, 15.0)
    text = str(caught.value)
    assert "rules.yaml:" in text and ("exactly one of alert or record" in text
                                      or "rules.yaml:5" in text)


def test_templates_and_go_number_formats() -> None:
    assert expand("{{ $labels.a }}/{{ .Labels.b }}", {"a": "x", "b": "y"}, 1.0) == "x/y"
    assert expand('{{ $value | printf "%.1f" }}', {}, 2.345) == "2.3"
    assert expand("{{ humanize $value }}", {}, 1234567.0) == "1.235M"
    assert humanize(0.00123) == "1.23m"
    assert format_go_e(1.0) == "1e+00" and format_go_e(0.0476) == "4.76e-02"
    assert format_go_e(-123456.0) == "-1.23456e+05"
