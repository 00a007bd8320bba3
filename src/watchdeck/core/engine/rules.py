"""Prometheus rule files evaluated by the embedded engine: alerts and recording rules.

A rule file is Prometheus's own format (``groups`` → ``rules`` with ``alert`` or
``record``, ``expr``, ``for``, ``labels``, ``annotations``). Each group is evaluated at its
interval. An alert whose expression returns a sample is *pending* until it has been so for
``for``, then *firing*; it is dropped when the sample goes away. Like Prometheus, the
engine writes ``ALERTS{alertname, alertstate, ...}`` series (and staleness markers when
an alert ends), and describes rules and alerts in the shapes of ``/api/v1/rules`` and
``/api/v1/alerts``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from msgspec import Meta
from msgspec import field as struct_field

from watchdeck.core.config.loader import FileError, issue_at, read_yaml_mapping, validate
from watchdeck.core.config.types import Duration, StrictModel
from watchdeck.core.engine.storage import STALE_NAN, LabelKey, Storage, label_key
from watchdeck.core.engine.templates import expand


class RuleSpec(StrictModel, rename={"for_": "for"}):  # "for" is a Python keyword
    expr: str
    alert: str | None = None
    record: str | None = None
    for_: Annotated[Duration, Meta(description="How long a condition holds before firing.")] = (
        0.0  # type: ignore[assignment]
    )
    keep_firing_for: Duration = 0.0  # type: ignore[assignment]
    labels: dict[str, str] = struct_field(default_factory=dict)
    annotations: dict[str, str] = struct_field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.alert is None) == (self.record is None):
            raise ValueError("a rule needs exactly one of alert or record")
        if self.record is not None and (self.annotations or self.for_):
            raise ValueError("a recording rule has no for or annotations")


class GroupSpec(StrictModel):
    name: str
    rules: list[RuleSpec]
    interval: Duration | None = None
    limit: int = 0


class RuleFile(StrictModel):
    groups: list[GroupSpec]


@dataclass
class Alert:
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str  # pending | firing
    active_at: float
    value: float
    fired_at: float | None = None


@dataclass
class Rule:
    spec: RuleSpec
    file: str
    health: str = "unknown"
    last_error: str = ""
    last_evaluation: float | None = None
    evaluation_time: float = 0.0
    alerts: dict[LabelKey, Alert] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.alert or self.spec.record or ""

    @property
    def state(self) -> str:
        states = {alert.state for alert in self.alerts.values()}
        return "firing" if "firing" in states else "pending" if states else "inactive"


@dataclass
class Group:
    name: str
    file: str
    interval: float
    rules: list[Rule]
    last_evaluation: float | None = None
    evaluation_time: float = 0.0


def load_rule_file(path: Path, default_interval: float) -> list[Group]:
    """Read and check a rule file; every expression is parsed (errors name the line)."""
    from watchdeck.core.engine.promql import PromQLError, parse

    data, shown = read_yaml_mapping(path)
    parsed = validate(RuleFile, data, shown)
    issues = []
    for g, group in enumerate(parsed.groups):
        for r, rule in enumerate(group.rules):
            try:
                parse(rule.expr)
            except PromQLError as error:
                issues.append(issue_at(data, ["groups", g, "rules", r, "expr"], shown,
                                       str(error)))
    if issues:
        raise FileError(issues)
    return [
        Group(group.name, str(path), float(group.interval or default_interval),
              [Rule(rule, str(path)) for rule in group.rules])
        for group in parsed.groups
    ]


def rfc3339(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond:06d}Z"


def format_go_e(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'e', -1, 64)`` (shortest digits), as /api/v1/alerts
    writes values: ``1e+00``, ``4.76e-02``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0e+00"
    sign, digits, _ = Decimal(repr(value)).normalize().as_tuple()
    exponent = Decimal(repr(value)).normalize().adjusted()
    text = "".join(map(str, digits))
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


class RuleManager:
    """Evaluates rule groups over the store with the PromQL evaluator."""

    def __init__(self, storage: Storage, groups: list[Group],
                 clock: Callable[[], float] = time.time) -> None:
        from watchdeck.core.engine.promql import Evaluator

        self.storage = storage
        self.groups = groups
        self.clock = clock
        self.evaluator = Evaluator(storage)

    async def run(self) -> None:
        await asyncio.gather(*(self._run_group(group) for group in self.groups))

    async def _run_group(self, group: Group) -> None:
        while True:
            started = time.monotonic()
            await asyncio.to_thread(self.evaluate_group, group, self.clock())
            await asyncio.sleep(max(0.0, group.interval - (time.monotonic() - started)))

    def evaluate_group(self, group: Group, now: float) -> None:
        from watchdeck.core.engine.promql import PromQLError

        started = time.perf_counter()
        for rule in group.rules:
            rule_started = time.perf_counter()
            try:
                result = self.evaluator.instant(rule.spec.expr, int(now * 1000))
                samples = _samples(result)
            except PromQLError as error:
                rule.health, rule.last_error = "err", str(error)
            else:
                rule.health, rule.last_error = "ok", ""
                if rule.spec.record is not None:
                    self._record(rule, samples, now)
                else:
                    self._alert(rule, samples, now)
            rule.last_evaluation = now
            rule.evaluation_time = time.perf_counter() - rule_started
        group.last_evaluation = now
        group.evaluation_time = time.perf_counter() - started

    def _record(self, rule: Rule, samples: list[tuple[dict[str, str], float]], now: float
                ) -> None:
        t = int(now * 1000)
        rows = []
        for labels, value in samples:
            out = {k: v for k, v in labels.items() if k != "__name__"}
            out.update(rule.spec.labels)
            out["__name__"] = rule.spec.record or ""
            rows.append((label_key(out), t, value))
        self.storage.append_many(rows)

    def _alert(self, rule: Rule, samples: list[tuple[dict[str, str], float]], now: float
               ) -> None:
        spec = rule.spec
        seen: set[LabelKey] = set()
        for labels, value in samples:
            base = {k: v for k, v in labels.items() if k != "__name__"}
            alert_labels = dict(base)
            for name, template in spec.labels.items():
                alert_labels[name] = expand(template, base, value)
            alert_labels["alertname"] = spec.alert or ""
            key = label_key(alert_labels)
            seen.add(key)
            annotations = {name: expand(text, base, value)
                           for name, text in spec.annotations.items()}
            alert = rule.alerts.get(key)
            if alert is None:
                alert = rule.alerts[key] = Alert(alert_labels, annotations, "pending", now, value)
            alert.value, alert.annotations = value, annotations
            if alert.state == "pending" and now - alert.active_at >= spec.for_:
                alert.state, alert.fired_at = "firing", now
        t = int(now * 1000)
        rows = []
        for key in list(rule.alerts):
            if key not in seen:
                ended = rule.alerts.pop(key)
                rows.append((label_key(self._alerts_series(ended, ended.state)), t, STALE_NAN))
        for alert in rule.alerts.values():
            if alert.state == "firing":  # the pending series ends when it fires
                rows.append((label_key(self._alerts_series(alert, "pending")), t, STALE_NAN))
            rows.append((label_key(self._alerts_series(alert, alert.state)), t, 1.0))
        self.storage.append_many(rows)

    @staticmethod
    def _alerts_series(alert: Alert, state: str) -> dict[str, str]:
        return {**alert.labels, "__name__": "ALERTS", "alertstate": state}

    # ------------------------------------------------------------------ API shapes

    def alerts(self) -> list[Alert]:
        return [alert for group in self.groups for rule in group.rules
                for alert in rule.alerts.values()]

    def api_alerts(self) -> dict[str, Any]:
        return {"alerts": [
            {"labels": a.labels, "annotations": a.annotations, "state": a.state,
             "activeAt": rfc3339(a.active_at), "value": format_go_e(a.value)}
            for a in self.alerts()
        ]}

    def api_rules(self, kind: str | None = None) -> dict[str, Any]:
        groups = []
        for group in self.groups:
            rules = []
            for rule in group.rules:
                is_alert = rule.spec.alert is not None
                if kind == "alert" and not is_alert or kind == "record" and is_alert:
                    continue
                entry: dict[str, Any] = {
                    "name": rule.name, "query": rule.spec.expr, "labels": rule.spec.labels,
                    "health": rule.health, "evaluationTime": rule.evaluation_time,
                    "lastEvaluation": rfc3339(rule.last_evaluation or 0.0),
                    "type": "alerting" if is_alert else "recording",
                }
                if rule.last_error:
                    entry["lastError"] = rule.last_error
                if is_alert:
                    entry.update({
                        "state": rule.state, "duration": float(rule.spec.for_),
                        "keepFiringFor": float(rule.spec.keep_firing_for),
                        "annotations": rule.spec.annotations,
                        "alerts": [
                            {"labels": a.labels, "annotations": a.annotations, "state": a.state,
                             "activeAt": rfc3339(a.active_at), "value": format_go_e(a.value)}
                            for a in rule.alerts.values()
                        ],
                    })
                rules.append(entry)
            groups.append({
                "name": group.name, "file": group.file, "rules": rules,
                "interval": group.interval, "limit": 0,
                "evaluationTime": group.evaluation_time,
                "lastEvaluation": rfc3339(group.last_evaluation or 0.0),
            })
        return {"groups": groups}


def _samples(result: Any) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of an instant result: a vector, or a scalar as one unlabelled
    sample (Prometheus alerts on scalars that way too)."""
    from watchdeck.core.engine.promql import to_query_result

    query_result = to_query_result(result)
    out = []
    for series in query_result.series:
        if series.values:
            out.append((dict(series.labels), series.values[-1]))
    return out
