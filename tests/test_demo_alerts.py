"""The demo's scripted incidents fire the fleet's rules in the embedded engine, and the
``incident`` layout's alerts panel shows them pending, firing and resolved.

The rules are the demo's own, with ``for:`` and rate windows shortened (and the scenario
sped up) so that an incident's whole life takes seconds instead of minutes."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.apps import wait_until
from watchdeck.demo import Fleet, FleetConfig
from watchdeck.demo_command import demo_app
from watchdeck.ui.panels.alerts import AlertsPanel
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.snapshot import export_text
from watchdeck.ui.widgets.statusbar import StatusBar


def quick_rules(fleet: Fleet, directory: Path) -> Path:
    text = fleet.rules_path.read_text()
    text = re.sub(r"for: \S+", "for: 1s", text)
    text = re.sub(r"\[(1m|5m|2m)\]", "[6s]", text)
    path = directory / "rules.yaml"
    path.write_text(text)
    return path


async def test_incident_alerts_fire_and_resolve_on_the_incident_layout(tmp_path: Path) -> None:
    # Speed 20: the error burst starts 3 s in (scenario 60 s) and lasts 4.5 s (90 s).
    fleet = Fleet(FleetConfig(seed=5, incident_kinds=("error_burst",), incident_every=180.0,
                              speed=20.0, warmup=0.0, log_path=tmp_path / "requests.jsonl"))
    app = demo_app(fleet, [], layout="incident", rules=quick_rules(fleet, tmp_path),
                   scrape_interval="1s")
    async with app.run_test(size=(140, 44)) as pilot:
        panel = app.screen.query_one(AlertsPanel)
        seen: set[str] = set()
        hit: set[str] = set()

        def firing() -> bool:
            hit.update(i.target for i in fleet.active_incidents())
            seen.update(a.state for a in panel.all_alerts if a.name == "VLLMHighErrorRate")
            return "firing" in seen

        await wait_until(pilot, firing, what="VLLMHighErrorRate firing", timeout=40)
        alert = next(a for a in panel.all_alerts if a.name == "VLLMHighErrorRate")
        assert alert.severity == "critical" and alert.origin == "engine" and alert.rule_expr
        # The alert names the replica the incident hit.
        assert hit == {f'instance="{alert.labels["instance"]}"'}
        # The summary is the rule's template, filled in with the alert's labels.
        assert alert.annotations["summary"] == f"Requests failing on {alert.labels['instance']}"
        await pilot.pause()
        status = app.screen.query_one(StatusBar).render().plain  # type: ignore[attr-defined]
        assert "▲ 1 critical" in status
        # The error-ratio panel is about this alert's metric: marked.
        errors = app.screen.query_one("#panel-errors", Panel)
        await wait_until(pilot, lambda: errors.has_class("-alerting-critical"), what="mark")
        assert "VLLMHighErrorRate" in export_text(app)
        # The burst ends; requests it failed still finish for a while (generation is long),
        # then the ratio falls under the threshold: resolved, gone from the panel.
        await wait_until(pilot, lambda: not any(a.name == "VLLMHighErrorRate"
                                                for a in panel.all_alerts),
                         what="resolved", timeout=90)
        await wait_until(pilot, lambda: not errors.has_class("-alerting"), what="unmarked")
