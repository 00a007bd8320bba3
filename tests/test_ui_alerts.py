"""The alerts panel, alert detail, silences and alert marks, on a synthetic source and a
scripted Alertmanager (the real one is in tests/test_ui_alertmanager.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Input

from tests.support.apps import type_in_one_burst, wait_until
from tests.support.fake_http import FakeHTTPServer, Reply
from tests.support.fakes import FROZEN_NOW
from tests.support.synthetic import synthetic_app
from watchdeck.core.alerts import Alert
from watchdeck.ui.panels.alerts import AlertsPanel
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.screens.alert_detail import AlertDetailScreen
from watchdeck.ui.screens.silence import SilenceModal
from watchdeck.ui.snapshot import export_text
from watchdeck.ui.widgets.statusbar import StatusBar

LAYOUT = """name: alerts
key: "1"
refresh: 1s
panels:
  - {id: alerts, type: alerts, width: 12, height: 14}
  - id: latency
    title: Latency
    type: timeseries
    width: 6
    height: 10
    queries: [{expr: 'latency_seconds{replica=~"a|b"}'}]
  - id: other
    title: Other
    type: timeseries
    width: 6
    height: 10
    alerts: [DiskFull]
    queries: [{expr: unrelated_metric}]
"""


def alert(name: str, severity: str, state: str = "firing", age: float = 60, **labels: str
          ) -> Alert:
    return Alert(labels={"alertname": name, "severity": severity, **labels},
                 annotations={"summary": f"{name} on {labels.get('replica', '?')}",
                              "runbook_url": "https://runbooks/x"},
                 state=state, active_at=FROZEN_NOW - age, source="prom", origin="prometheus",
                 rule_expr="latency_seconds > 10" if name == "SlowReplica" else "x > 1")


ALERTS = [
    alert("SlowReplica", "critical", replica="a"),
    alert("SlowReplica", "critical", replica="b", age=300),
    alert("QueueHigh", "warning", replica="c"),
    alert("DiskFull", "warning", state="pending", device="sda"),
    alert("Hostile", "info", text="\x1b[31mred\x1b[0m [bold]x[/bold]"),
]


@pytest.fixture
def layouts(tmp_path: Path) -> Path:
    directory = tmp_path / "layouts"
    directory.mkdir()
    (directory / "alerts.yaml").write_text(LAYOUT)
    return directory


def rows(panel: AlertsPanel) -> list[list[str]]:
    table = panel.query_one(DataTable)
    return [[cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(i)]
            for i in range(table.row_count)]


async def test_alerts_panel_groups_colours_counts_and_filters(layouts: Path) -> None:
    app, source, _ = synthetic_app(layouts)
    source.alerts_list = list(ALERTS)
    async with app.run_test(size=(140, 44)) as pilot:
        panel = app.screen.query_one(AlertsPanel)
        await wait_until(pilot, lambda: len(panel.shown) == 5, what="alerts shown")
        title = str(panel.border_title)
        assert "2 critical" in title and "1 warning" in title and "1 info" in title
        assert "1 pending" in title
        shown = rows(panel)
        # Firing critical first (grouped: the group name only on its first row).
        assert shown[0][2] == "SlowReplica" and shown[1][2] == ""
        assert {shown[0][5], shown[1][5]} == {"replica=a", "replica=b"}
        assert {shown[0][3], shown[1][3]} == {"1m", "5m"}  # ages, whole units
        assert shown[-1][0] == "◐"  # the pending one last
        # Hostile label text is shown literally.
        hostile = next(r for r in rows(panel) if "Hostile" in r[2])
        assert "\\x1b[31mred" in hostile[5] and "[bold]x[/bold]" in hostile[5]
        assert "\x1b" not in export_text(app)
        # The status bar counts firing alerts by severity on every layout.
        status = app.screen.query_one(StatusBar).render().plain  # type: ignore[attr-defined]
        assert "▲ 2 critical" in status and "▲ 1 warning" in status
        # Filter with label matchers.
        panel.focus()
        await pilot.press("slash")
        filter_box = panel.query_one(Input)
        filter_box.value = 'severity="critical",replica=~"a|z"'
        await pilot.press("enter")
        assert [r[5] for r in rows(panel)] == ["replica=a"]
        assert "4 hidden" in str(panel.query_one(".panel--note").render())
        await pilot.press("slash")
        panel.query_one(Input).value = 'severity=~"("'
        await pilot.press("enter")
        assert "invalid regular expression" in str(panel.query_one(Input).border_title)
        await pilot.press("escape")
        await pilot.press("slash")
        panel.query_one(Input).value = ""  # clearing the filter shows all again
        await pilot.press("enter")
        assert len(rows(panel)) == 5
        await pilot.press("o")  # by age: newest first, so the 300 s one after the 60 s ones
        assert panel.sort == "age"
        ages = [r[3] for r in rows(panel)]
        assert ages.index("5m") > ages.index("1m")


async def test_panels_about_a_firing_alert_are_marked(layouts: Path) -> None:
    app, source, _ = synthetic_app(layouts)
    source.alerts_list = list(ALERTS)
    async with app.run_test(size=(140, 44)) as pilot:
        latency = app.screen.query_one("#panel-latency", Panel)
        other = app.screen.query_one("#panel-other", Panel)
        await wait_until(pilot, lambda: bool(latency.alert_marks), what="marks")
        assert latency.has_class("-alerting-critical")
        assert "▲ SlowReplica" in str(latency.border_subtitle)
        # DiskFull is linked by name but only pending: no mark.
        assert not other.alert_marks
        source.alerts_list = [alert("DiskFull", "warning", device="sda")]
        app.hub.refresh_now()
        await wait_until(pilot, lambda: bool(other.alert_marks) and not latency.alert_marks,
                         what="marks move")
        assert other.has_class("-alerting") and not latency.has_class("-alerting")


async def test_enter_opens_the_alert_and_esc_returns(layouts: Path) -> None:
    app, source, _ = synthetic_app(layouts)
    source.alerts_list = list(ALERTS)
    async with app.run_test(size=(140, 44)) as pilot:
        panel = app.screen.query_one(AlertsPanel)
        await wait_until(pilot, lambda: len(panel.shown) == 5, what="alerts")
        panel.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AlertDetailScreen), what="detail")
        await pilot.pause(0.5)
        text = export_text(app)
        assert "SlowReplica" in text and "runbook_url" in text and "https://runbooks/x" in text
        assert "latency_seconds > 10" in text  # the rule's expression under its chart
        await pilot.press("escape")
        assert not isinstance(app.screen, AlertDetailScreen)


async def test_silence_modal_refuses_bad_input_and_sends_once(layouts: Path,
                                                               tmp_path: Path) -> None:
    server = FakeHTTPServer(lambda m, p, b: Reply(body=b'{"silenceID":"abc-123"}')
                            if m == "POST" else Reply(body=b"[]"))
    try:
        app, source, _ = synthetic_app(layouts, config={
            "sources": {"prom": {"type": "prometheus", "url": "http://127.0.0.1:9"},
                        "am": {"type": "alertmanager", "url": server.url}},
            "roles": {"alerts": "prom"}, "author": "oncall@example.com"})
        source.alerts_list = list(ALERTS)
        async with app.run_test(size=(140, 44)) as pilot:
            panel = app.screen.query_one(AlertsPanel)
            await wait_until(pilot, lambda: len(panel.shown) == 5, what="alerts")
            panel.focus()
            await pilot.press("s")
            await wait_until(pilot, lambda: isinstance(app.screen, SilenceModal), what="modal")
            modal = app.screen
            assert [str(m) for m in modal.matchers()] == [
                'alertname="SlowReplica"', 'replica="a"', 'severity="critical"']
            assert modal.query_one("#author", Input).value == "oncall@example.com"
            preview = str(modal.query_one("#preview").render())
            assert "catches 1 of 5" in preview
            # No comment: refused before anything is sent.
            await pilot.press("ctrl+s")
            assert isinstance(app.screen, SilenceModal)
            assert "comment is required" in str(modal.query_one("#problems").render())
            modal.query_one("#comment", Input).value = "deploying fix, INC-42"
            modal.query_one("#until", Input).value = "-5m"
            await pilot.pause()
            await pilot.press("ctrl+s")
            assert "cannot read" in str(modal.query_one("#problems").render())
            modal.query_one("#until", Input).value = "90m"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: any(r[0] == "POST" for r in server.requests),
                             what="the POST")
            await pilot.pause(0.3)
        posts = [r for r in server.requests if r[0] == "POST"]
        assert len(posts) == 1 and posts[0][1] == "/api/v2/silences"
        body = json.loads(posts[0][3])
        assert body["comment"] == "deploying fix, INC-42"
        assert body["createdBy"] == "oncall@example.com"
        assert {m["name"] for m in body["matchers"]} == {"alertname", "replica", "severity"}
        assert "id" not in body
    finally:
        server.stop()


async def test_jump_from_an_alert_to_its_layout_with_variables(layouts: Path) -> None:
    from tests.support.synthetic import SYNTHETIC_LAYOUTS

    for name in ("overview.yaml", "second.yaml"):
        text = (SYNTHETIC_LAYOUTS / name).read_text().replace('key: "1"', 'key: "5"')
        (layouts / name).write_text(text.replace('key: "2"', 'key: "6"'))
    app, source, _ = synthetic_app(layouts)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.pause(0.3)
        slow = Alert(labels={"alertname": "QueueBuildUp", "replica": "b", "severity": "warning"},
                     annotations={"watchdeck_layout": "overview"}, rule_expr="queue_length > 5")
        app.jump_to_alert(slow)
        await wait_until(pilot, lambda: getattr(app.screen, "entry", None) is not None
                         and app.screen.entry.name == "overview"
                         and "replica" in app.screen.context.states, what="jumped")
        assert app.screen.context.states["replica"].values == ("b",)


async def test_garbage_from_alertmanager_is_an_error_and_the_panel_recovers(
        layouts: Path) -> None:
    good = json.dumps([{
        "labels": {"alertname": "SlowReplica", "severity": "critical", "replica": "a"},
        "annotations": {"summary": "\x1b]52;c;cm0gLXJmIC8=\x07slow"},
        "startsAt": "2026-11-26T05:00:00Z", "endsAt": "2026-11-26T07:00:00Z",
        "updatedAt": "2026-11-26T05:00:00Z", "fingerprint": "f1", "receivers": [{"name": "x"}],
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "generatorURL": "http://x/graph"}]).encode()
    answers = {"body": b"<html>502 Bad Gateway</html>"}
    server = FakeHTTPServer(lambda m, p, b: Reply(body=answers["body"]))
    try:
        app, _, _ = synthetic_app(layouts, config={
            "sources": {"prom": {"type": "prometheus", "url": "http://127.0.0.1:9"},
                        "am": {"type": "alertmanager", "url": server.url}},
            "roles": {"alerts": "am"}})
        async with app.run_test(size=(140, 44)) as pilot:
            panel = app.screen.query_one(AlertsPanel)
            await wait_until(pilot, lambda: panel.state == "error", what="error")
            await pilot.pause()
            text = export_text(app)
            assert "json" in text.lower()
            assert "none firing" not in text  # it does not know that
            answers["body"] = good
            app.hub.refresh_now()
            await wait_until(pilot, lambda: panel.state == "live" and len(panel.shown) == 1,
                             what="recovered", timeout=20)
            text = export_text(app)
            assert "\x1b" not in text and "\x07" not in text and "slow" in text
    finally:
        server.stop()


async def test_new_critical_alerts_ring_and_run_the_notify_command(layouts: Path,
                                                                   tmp_path: Path) -> None:
    import sys

    record = tmp_path / "notified.txt"
    script = f"import sys; open({str(record)!r}, 'a').write(sys.argv[1] + '\\n')"
    app, source, _ = synthetic_app(layouts, config={
        "notify": {"bell": True, "command": [sys.executable, "-c", script]}})
    bells = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    source.alerts_list = [ALERTS[0], ALERTS[2]]  # already firing at start: no news
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: len(app.current_alerts) == 2, what="baseline")
        await pilot.pause(0.3)
        assert not bells and not record.exists()
        hostile = alert("Hostile", "critical", text="x")
        hostile.annotations["summary"] = "\x1b[2Jdisk \x07full"
        source.alerts_list = [ALERTS[0], ALERTS[2], ALERTS[1], hostile,
                              alert("QueueHigh", "warning", replica="z")]
        app.hub.refresh_now()
        await wait_until(pilot, lambda: record.exists() and len(
            record.read_text().splitlines()) == 2, what="two notifications", timeout=10)
        assert bells == [1]  # one bell for the two new critical alerts
        lines = sorted(record.read_text().splitlines())
        assert lines[0].startswith("Hostile: ")
        assert "\x1b" not in lines[0] and "\x07" not in lines[0]
        assert lines[1] == "SlowReplica: SlowReplica on b"
        # The same alerts again: nothing new.
        app.hub.refresh_now()
        await pilot.pause(1.0)
        assert bells == [1] and len(record.read_text().splitlines()) == 2


async def test_matchers_typed_in_one_burst_after_slash_filter(layouts: Path) -> None:
    """``/`` and the matchers typed in the same burst filter the panel; their letters are
    not the panel's keys (``s`` would open the silence modal, ``o`` change the order)."""
    app, source, _ = synthetic_app(layouts)
    source.alerts_list = list(ALERTS)
    async with app.run_test(size=(140, 44)) as pilot:
        panel = app.screen.query_one(AlertsPanel)
        await wait_until(pilot, lambda: len(panel.shown) == 5, what="alerts shown")
        panel.focus()
        await pilot.pause()
        sort = panel.sort
        type_in_one_burst(app, "slash", 'severity="critical",replica=~"a|z"')
        await wait_until(pilot, lambda: len(rows(panel)) == 1, what="filtered")
        assert [r[5] for r in rows(panel)] == ["replica=a"]
        assert panel.sort == sort and app.screen is panel.screen  # no modal, same order


async def test_the_key_hint_bar_follows_the_focus(layouts: Path) -> None:
    """The dashboard's one-line key hints show the focused panel's keys, and the app's."""
    from watchdeck.ui.widgets.keyhints import LiveKeyHints

    app, source, _ = synthetic_app(layouts)
    source.alerts_list = list(ALERTS)
    async with app.run_test(size=(200, 44)) as pilot:
        alerts = app.screen.query_one(AlertsPanel)
        await wait_until(pilot, lambda: len(alerts.shown) == 5, what="alerts shown")
        hints = app.screen.query_one(LiveKeyHints)
        alerts.focus()
        await wait_until(pilot, lambda: "/ Filter alerts" in str(hints.render()),
                         what="the alerts panel's keys")
        assert "q Quit" in str(hints.render())
        other = next(p for p in app.screen.query(Panel) if not isinstance(p, AlertsPanel))
        other.focus()
        await wait_until(pilot, lambda: "Filter alerts" not in str(hints.render()),
                         what="the alerts panel's keys gone")
        assert "q Quit" in str(hints.render())
