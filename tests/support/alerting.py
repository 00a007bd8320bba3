"""A real alerting stack for tests: Debian's Prometheus evaluating rules over the test
exporter's known values and sending the alerts to Debian's Alertmanager.

Plain context managers and helpers (no pytest fixtures here), so any test module or
conftest can wrap them in fixtures of the scope it needs::

    with alerting_stack(tmp_path, exporter.target) as stack:
        stack.alertmanager.url, stack.prometheus.url

Once ``alerting_stack`` yields, Alertmanager holds exactly the alerts of ``EXPECTED``
(``WDQueueBacklog{replica="a"}`` inhibited by ``WDQueueCritical{replica="a"}``, the rest
active), and Prometheus's ``/api/v1/rules`` also shows ``WDGPUSaturated`` pending (its
``for: 1h`` never elapses, so Prometheus never sends it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.support.alertmanager import AlertingPrometheus, AlertmanagerServer
from watchdeck.core.alerts import format_time
from watchdeck.core.config.models import AlertmanagerSourceConfig, PrometheusSourceConfig
from watchdeck.core.config.types import convert
from watchdeck.core.sources.alertmanager import AlertmanagerSource
from watchdeck.core.sources.prometheus import PrometheusSource

T = TypeVar("T")

RUNBOOK = "https://runbooks.example/watchdeck/{}"

# Fires from tests/support/exporter.py's values: wd_queue_length a=7 b=3,
# wd_gpu_utilization_ratio gpu 0..3 = 0.25..1.0, wd_requests_total{code="500"} growing,
# wd_untrusted_info{text=UNTRUSTED} 1.
ALERTING_RULES = """\
groups:
  - name: watchdeck-test
    interval: 1s
    rules:
      - alert: WDQueueCritical
        expr: wd_queue_length > 5
        labels: {severity: critical, team: serving}
        annotations:
          summary: "Queue on {{ $labels.replica }} is {{ $value }}"
          description: "More than 5 requests wait on replica {{ $labels.replica }}."
          runbook_url: "https://runbooks.example/watchdeck/WDQueueCritical"
          watchdeck_layout: llm-overview
      - alert: WDQueueBacklog
        expr: wd_queue_length > 2
        labels: {severity: warning, team: serving}
        annotations:
          summary: "Backlog of {{ $value }} on {{ $labels.replica }}"
          runbook_url: "https://runbooks.example/watchdeck/WDQueueBacklog"
      - alert: WDErrorsSeen
        expr: wd_requests_total{code="500"} > 0
        labels: {severity: critical}
        annotations:
          summary: "HTTP 500 answers are counted"
          runbook_url: "https://runbooks.example/watchdeck/WDErrorsSeen"
      - alert: WDGPUBusy
        expr: wd_gpu_utilization_ratio >= 0.75
        labels: {severity: warning}
        annotations:
          summary: "GPU {{ $labels.gpu }} is {{ $value | humanizePercentage }} busy"
      - alert: WDUntrustedText
        expr: wd_untrusted_info == 1
        labels: {severity: info}
        annotations:
          summary: "untrusted: {{ $labels.text }}"
      - alert: WDGPUSaturated
        expr: wd_gpu_utilization_ratio >= 1
        for: 1h
        labels: {severity: critical}
        annotations:
          summary: "GPU {{ $labels.gpu }} saturated for an hour"
"""

# What Alertmanager holds once the stack is up: (alertname, identifying label) -> severity,
# state ("active" or "suppressed").
EXPECTED: dict[tuple[str, str], tuple[str, str]] = {
    ("WDQueueCritical", "replica=a"): ("critical", "active"),
    ("WDQueueBacklog", "replica=a"): ("warning", "suppressed"),  # inhibited
    ("WDQueueBacklog", "replica=b"): ("warning", "active"),
    ("WDErrorsSeen", "code=500"): ("critical", "active"),
    ("WDGPUBusy", "gpu=2"): ("warning", "active"),
    ("WDGPUBusy", "gpu=3"): ("warning", "active"),
    ("WDUntrustedText", ""): ("info", "active"),
}
# Pending in Prometheus (never sent to Alertmanager).
PENDING = {("WDGPUSaturated", "gpu=3")}
# Receivers (from ALERTMANAGER_CONFIG): critical alerts go to "oncall", the rest "blackhole".
RECEIVER = {"critical": "oncall", "warning": "blackhole", "info": "blackhole"}


def alert_key(labels: dict[str, str]) -> tuple[str, str]:
    """(alertname, the label telling this rule's alerts apart) of an alert's labels."""
    for name in ("replica", "gpu", "code"):
        if name in labels:
            return labels.get("alertname", ""), f"{name}={labels[name]}"
    return labels.get("alertname", ""), ""


def _settled(alerts: list[dict[str, Any]]) -> bool:
    found = {alert_key(a["labels"]): (a["labels"].get("severity"), a["status"]["state"])
             for a in alerts}
    return found == EXPECTED


@dataclass
class AlertingStack:
    alertmanager: AlertmanagerServer
    prometheus: AlertingPrometheus

    def alertmanager_source(self, **settings: Any) -> AlertmanagerSource:
        return alertmanager_source(self.alertmanager.url, **settings)

    def prometheus_source(self, **settings: Any) -> PrometheusSource:
        return prometheus_source(self.prometheus.url, **settings)

    def sources_config(self, prometheus: str = "prom", alertmanager: str = "am"
                       ) -> dict[str, dict[str, str]]:
        """The ``sources:`` entries of a watchdeck config for this stack."""
        return {prometheus: {"type": "prometheus", "url": self.prometheus.url},
                alertmanager: {"type": "alertmanager", "url": self.alertmanager.url}}

    def reset(self, timeout: float = 30.0) -> None:
        """Expire every silence, then wait until Alertmanager shows ``EXPECTED`` again."""
        self.alertmanager.expire_all_silences()
        self.wait_settled(timeout)

    def wait_settled(self, timeout: float = 30.0) -> None:
        """Until Alertmanager shows exactly ``EXPECTED`` (no silence, no pushed alert)."""
        self.alertmanager.wait_alerts(_settled, timeout)


@contextmanager
def alertmanager_server(workdir: Path) -> Iterator[AlertmanagerServer]:
    """A started Alertmanager with no alerts; stopped on exit."""
    server = AlertmanagerServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def alerting_stack(workdir: Path, exporter_target: str, rules: str = ALERTING_RULES,
                   timeout: float = 40.0) -> Iterator[AlertingStack]:
    """Alertmanager + Prometheus (scraping ``exporter_target``, host:port) with ``rules``;
    with the default rules it waits until Alertmanager shows ``EXPECTED``."""
    alertmanager = AlertmanagerServer(workdir / "alertmanager")
    alertmanager.start()
    prometheus: AlertingPrometheus | None = None
    try:
        prometheus = AlertingPrometheus(workdir / "prometheus", [exporter_target],
                                        alertmanager, rules)
        prometheus.start()
        stack = AlertingStack(alertmanager, prometheus)
        if rules == ALERTING_RULES:
            stack.wait_settled(timeout)
        yield stack
    finally:
        if prometheus is not None:
            prometheus.stop()
        alertmanager.stop()


@contextmanager
def pushed_alert(alertmanager: AlertmanagerServer, labels: dict[str, str],
                 annotations: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """An alert pushed straight to Alertmanager (as Prometheus would), resolved on exit.
    E.g. ``{"alertname": "WDReplicaDown", "severity": "critical", "replica": "b"}``
    inhibits ``WDQueueBacklog{replica="b"}`` while it lasts."""
    now = time.time()
    alert = {"labels": labels, "annotations": annotations or {},
             "startsAt": format_time(now - 1), "endsAt": format_time(now + 300),
             "generatorURL": "http://test.invalid/pushed"}
    alertmanager.post_alerts([alert])
    try:
        yield labels
    finally:
        # Resolved: an end that has passed (and is after the start, or Alertmanager refuses).
        alertmanager.post_alerts([{**alert, "endsAt": format_time(time.time())}])


def alertmanager_source(url: str, name: str = "am", **settings: Any) -> AlertmanagerSource:
    config = convert(AlertmanagerSourceConfig, {"type": "alertmanager", "url": url, **settings})
    return AlertmanagerSource(name, config, Path.cwd())


def prometheus_source(url: str, name: str = "prom", **settings: Any) -> PrometheusSource:
    config = convert(PrometheusSourceConfig, {"type": "prometheus", "url": url, **settings})
    return PrometheusSource(name, config, Path.cwd())


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool],
                     timeout: float = 15.0, interval: float = 0.1, what: str = "") -> T:
    """Await ``probe()`` until ``ok(answer)``; the answer. Fails the test (AssertionError with
    the last answer) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await probe()
        if ok(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met after {timeout}s; "
                                 f"last answer: {answer!r:.3000}")
        await asyncio.sleep(interval)
