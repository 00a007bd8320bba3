"""The console against Debian's Alertmanager: alerts with their states, a silence made from
the keyboard, extended and expired from the silences screen, and Alertmanager going away and
coming back. Alerts are pushed to Alertmanager's API as Prometheus would push them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from tests.support.alerting import EXPECTED, AlertingStack, alert_key
from tests.support.alertmanager import AlertmanagerServer
from tests.support.apps import wait_until
from tests.support.fakes import Clock
from tests.support.synthetic import synthetic_app
from watchdeck.core.alerts import format_time
from watchdeck.ui.panels.alerts import AlertsPanel
from watchdeck.ui.screens.confirm import ConfirmScreen
from watchdeck.ui.screens.silence import SilenceModal
from watchdeck.ui.screens.silences import SilencesScreen
from watchdeck.ui.snapshot import export_text
from watchdeck.ui.widgets.statusbar import StatusBar

LAYOUT = """name: alerts
key: "1"
refresh: 1s
panels:
  - {id: alerts, type: alerts, width: 12, height: 16}
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerServer]:
    server = AlertmanagerServer(tmp_path / "am")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def push(server: AlertmanagerServer, *alerts: tuple[dict[str, str], dict[str, str]]) -> None:
    now = time.time()
    server.post_alerts([
        {"labels": labels, "annotations": annotations, "startsAt": format_time(now - 90),
         "endsAt": format_time(now + 600), "generatorURL": "http://127.0.0.1:1/graph"}
        for labels, annotations in alerts])


def app_on(server_url: str, layouts: Path) -> Any:
    app, _, _ = synthetic_app(layouts, clock=Clock(time.time()), config={
        "sources": {"prom": {"type": "prometheus", "url": "http://127.0.0.1:9"},
                    "am": {"type": "alertmanager", "url": server_url, "timeout": "2s"}},
        "roles": {"alerts": "am"}, "author": "oncall@example.com"})
    return app


@pytest.fixture
def layouts(tmp_path: Path) -> Path:
    directory = tmp_path / "layouts"
    directory.mkdir()
    (directory / "alerts.yaml").write_text(LAYOUT)
    return directory


def states(panel: AlertsPanel) -> dict[tuple[str, str], str]:
    return {(a.name, a.labels.get("replica", "")): a.state for a in panel.all_alerts}


async def test_alerts_and_a_silence_round_trip_through_alertmanager(
        alertmanager: AlertmanagerServer, layouts: Path) -> None:
    push(alertmanager,
         ({"alertname": "SlowReplica", "severity": "critical", "replica": "a"},
          {"summary": "p99 over 10s on a", "runbook_url": "https://runbooks/slow"}),
         ({"alertname": "SlowReplica", "severity": "critical", "replica": "b"},
          {"summary": "p99 over 10s on b"}),
         # Inhibited by the critical alert of the same replica (the fixture's rule).
         ({"alertname": "QueueHigh", "severity": "warning", "replica": "a"},
          {"summary": "\x1b[2J\x1b]0;pwned\x07[bold red]queue[/] on a"}))
    alertmanager.wait_alerts(lambda alerts: len(alerts) == 3 and any(
        a["status"]["state"] == "suppressed" for a in alerts))
    app = app_on(alertmanager.url, layouts)
    async with app.run_test(size=(150, 44)) as pilot:
        panel = app.screen.query_one(AlertsPanel)
        await wait_until(pilot, lambda: len(panel.all_alerts) == 3, what="three alerts",
                         timeout=15)
        assert states(panel) == {("SlowReplica", "a"): "firing", ("SlowReplica", "b"): "firing",
                                 ("QueueHigh", "a"): "inhibited"}
        assert "2 critical" in str(panel.border_title) and "1 inhibited" in str(panel.border_title)
        status = app.screen.query_one(StatusBar).render().plain  # type: ignore[attr-defined]
        assert "▲ 2 critical" in status
        text = export_text(app)
        assert "\x1b" not in text and "pwned" in text and "[bold red]queue[/]" in text

        # Silence SlowReplica on b from the keyboard.
        panel.focus()
        target = next(i for i, a in enumerate(panel.shown) if a.labels.get("replica") == "b"
                      and a.name == "SlowReplica")
        for _ in range(target - panel.query_one(DataTable).cursor_row):
            await pilot.press("down")
        assert panel.selected is not None and panel.selected.labels["replica"] == "b"
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SilenceModal), what="modal")
        modal = app.screen
        modal.query_one("#comment", Input).value = "rolling restart of b, INC-7"
        modal.query_one("#until", Input).value = "30m"
        await pilot.pause()
        await pilot.press("ctrl+s")
        silences = []

        def created() -> bool:
            silences[:] = [s for s in alertmanager.api("GET", "silences")
                           if s["status"]["state"] == "active"]
            return len(silences) == 1

        await wait_until(pilot, created, what="the silence in Alertmanager", timeout=10)
        silence = silences[0]
        assert silence["createdBy"] == "oncall@example.com"
        assert silence["comment"] == "rolling restart of b, INC-7"
        assert {(m["name"], m["value"]) for m in silence["matchers"]} >= {
            ("alertname", "SlowReplica"), ("replica", "b")}
        first_end = silence["endsAt"]
        # Alertmanager now reports it silenced, and so does the panel.
        await wait_until(pilot, lambda: states(panel).get(("SlowReplica", "b")) == "silenced",
                         what="silenced in the panel", timeout=15)
        assert states(panel)[("SlowReplica", "a")] == "firing"

        # Extend it from the silences screen.
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, SilencesScreen), what="list")
        screen = app.screen
        await wait_until(pilot, lambda: len(screen.silences) == 1, what="listed", timeout=10)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, SilenceModal), what="extend")
        app.screen.query_one("#until", Input).value = "4h"
        await pilot.pause()
        await pilot.press("ctrl+s")

        def extended() -> bool:
            active = [s for s in alertmanager.api("GET", "silences")
                      if s["status"]["state"] == "active"]
            return len(active) == 1 and active[0]["endsAt"] > first_end

        await wait_until(pilot, extended, what="the silence extended", timeout=10)
        # Extended in place: the same silence, no expired copy left behind.
        every = alertmanager.api("GET", "silences")
        assert [s["id"] for s in every] == [silence["id"]]

        # Expire it: asks first; "n" keeps it.
        await wait_until(pilot, lambda: isinstance(app.screen, SilencesScreen)
                         and any(s.state == "active" for s in screen.silences)
                         and screen.selected is not None and screen.selected.state == "active",
                         what="back on the list", timeout=10)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("n")
        await pilot.pause(0.3)
        assert any(s["status"]["state"] == "active" for s in alertmanager.api("GET", "silences"))
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: not any(s["status"]["state"] == "active" for s in
                                                alertmanager.api("GET", "silences")),
                         what="expired in Alertmanager", timeout=10)
        await pilot.press("escape")
        await wait_until(pilot, lambda: states(panel).get(("SlowReplica", "b")) == "firing",
                         what="firing again", timeout=15)


async def test_prometheus_rule_alerts_through_alertmanager_in_the_panel(
        alerting: AlertingStack, layouts: Path) -> None:
    alerting.wait_settled()
    app, _, _ = synthetic_app(layouts, clock=Clock(time.time()), config={
        "sources": {"prom": {"type": "prometheus", "url": "http://127.0.0.1:9"},
                    "am": {"type": "alertmanager", "url": alerting.alertmanager.url}},
        "roles": {"alerts": "am"}})
    async with app.run_test(size=(160, 44)) as pilot:
        panel = app.screen.query_one(AlertsPanel)
        await wait_until(pilot, lambda: len(panel.all_alerts) == len(EXPECTED), what="alerts",
                         timeout=20)
        got = {alert_key(dict(a.labels)): (a.severity, a.state) for a in panel.all_alerts}
        state = {"active": "firing", "suppressed": "inhibited"}
        assert got == {key: (severity, state[s]) for key, (severity, s) in EXPECTED.items()}
        # Grouped by alertname: a group's name on its first row only, groups in one block.
        groups = [a.name for a in panel.shown]
        for name in ("WDGPUBusy", "WDQueueBacklog"):
            rows = [i for i, group in enumerate(groups) if group == name]
            assert rows == list(range(rows[0], rows[0] + 2)), groups
        table = panel.query_one(DataTable)
        names = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert names.count("WDGPUBusy") == 1 and names.count("WDQueueBacklog") == 1
        # Firing critical first, the inhibited backlog after the firing ones.
        assert panel.shown[0].severity == "critical"
        assert panel.shown.index(next(a for a in panel.shown if a.state == "inhibited")) >= 4
        title = str(panel.border_title)
        assert "2 critical" in title and "3 warning" in title and "1 info" in title
        assert "1 inhibited" in title
        await pilot.pause()
        text = export_text(app)
        assert "\x1b" not in text and "untrusted:" in text


async def test_alertmanager_going_away_is_shown_and_recovered(
        alertmanager: AlertmanagerServer, layouts: Path) -> None:
    push(alertmanager, ({"alertname": "SlowReplica", "severity": "critical", "replica": "a"},
                        {"summary": "slow"}))
    alertmanager.wait_alerts(lambda alerts: len(alerts) == 1)
    app = app_on(alertmanager.url, layouts)
    async with app.run_test(size=(150, 44)) as pilot:
        panel = app.screen.query_one(AlertsPanel)
        await wait_until(pilot, lambda: len(panel.all_alerts) == 1, what="alert", timeout=15)
        alertmanager.stop()
        await wait_until(pilot, lambda: panel.state == "error", what="error state", timeout=20)
        await pilot.pause()
        assert "refused" in export_text(app).lower()
        # The last alerts stay on screen while it is down.
        assert len(panel.all_alerts) == 1
        alertmanager.start()  # same port; the alert comes back from its storage or is re-pushed
        push(alertmanager, ({"alertname": "SlowReplica", "severity": "critical",
                             "replica": "a"}, {"summary": "slow"}))
        await wait_until(pilot, lambda: panel.state == "live" and len(panel.all_alerts) == 1,
                         what="recovered", timeout=40)
