"""The demo end to end: the fleet's JSON request log in the logs layouts (levels, trace
ids), and the drill from the latency panel's exemplars to a trace the fleet sent with the
OpenTelemetry SDK to the embedded OTLP receiver, and on to that request's log lines."""

from __future__ import annotations

from pathlib import Path

from tests.support.apps import wait_until
from watchdeck.core.logs.model import Level
from watchdeck.demo import Fleet, FleetConfig
from watchdeck.demo_command import demo_app
from watchdeck.ui.drill import LogsScreen
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.panels.logs import LogsPanel
from watchdeck.ui.screens.traces import TraceListScreen
from watchdeck.ui.screens.waterfall import WaterfallScreen
from watchdeck.ui.snapshot import export_text


def demo(tmp_path: Path, layout: str):  # type: ignore[no-untyped-def]
    fleet = Fleet(FleetConfig(seed=3, warmup=5.0, log_path=tmp_path / "requests.jsonl",
                              incident_kinds=("error_burst",), incident_every=30.0,
                              speed=6.0))
    return demo_app(fleet, [], layout=layout, scrape_interval="1s")


async def test_the_demo_log_shows_with_levels_and_trace_ids(tmp_path: Path) -> None:
    app = demo(tmp_path, "logs")
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.screen.query_one(LogsPanel)
        await wait_until(pilot, lambda: len(panel.shown) > 20, timeout=30, what="log lines")
        buffer = panel.buffer
        assert buffer is not None
        records = [buffer[i] for i in panel.shown]
        assert {r.level for r in records} >= {Level.INFO}  # type: ignore[union-attr]
        traced = [r for r in records if getattr(r, "trace_id", None)]
        assert traced and all(len(r.trace_id) == 32 for r in traced)  # type: ignore[union-attr]
        text = export_text(app)
        assert "INF ◆ request finished" in text and "replica=vllm-" in text
        # The incident layout's panel shows warnings and errors only.
        await wait_until(pilot, lambda: _more_errors(panel), timeout=60,
                         what="an error line from the error burst")
        await pilot.press("4")
        await wait_until(pilot, lambda: "Warnings and errors" in export_text(app))
        incident = app.screen.query_one(LogsPanel)
        await wait_until(pilot, lambda: len(incident.shown) > 0, timeout=30,
                         what="warnings on the incident layout")
        shown = incident.buffer
        assert shown is not None
        assert all(shown[i].level >= Level.WARN for i in incident.shown)  # type: ignore[union-attr]


def _more_errors(panel: LogsPanel) -> bool:
    buffer = panel.buffer
    return buffer is not None and any(
        getattr(buffer[i], "level", Level.UNKNOWN) >= Level.ERROR
        for i in range(buffer.start, buffer.end))


async def test_latency_exemplars_lead_to_the_sdk_trace_and_its_logs(tmp_path: Path) -> None:
    app = demo(tmp_path, "llm-overview")
    async with app.run_test(size=(140, 40)) as pilot:
        latency = app.screen.query_one("#panel-latency", Panel)
        await wait_until(pilot, lambda: latency.state == "live", timeout=30, what="latency")
        # Two keys from the dashboard to the slowest request's waterfall: the latency panel
        # has the focus when the layout opens, so t, then enter.
        assert app.focused is latency
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TraceListScreen))
        await wait_until(pilot, lambda: "traces found" in export_text(app), timeout=30,
                         what="exemplar traces")
        assert "from exemplars" in export_text(app)
        listing = app.screen
        assert isinstance(listing, TraceListScreen)
        found = [row for row in listing.shown if row.summary is not None]
        assert found and listing.shown[0] is found[0]
        assert found[0].duration_ns == max(row.duration_ns for row in found)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WaterfallScreen))
        waterfall = app.screen
        assert isinstance(waterfall, WaterfallScreen)
        await wait_until(pilot, lambda: waterfall.trace_tree is not None, timeout=15,
                         what="the waterfall")
        assert waterfall.trace_id == found[0].trace_id
        text = export_text(app)
        assert "llm-gateway" in text and "llm_request" in text and "decode" in text
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LogsScreen))
        logs = app.screen.query_one(LogsPanel)
        await wait_until(pilot, lambda: len(logs.shown) > 0, timeout=30,
                         what="the request's log line")
        buffer = logs.buffer
        assert buffer is not None
        assert all(waterfall.trace_id in str(getattr(buffer[i], "trace_id", "")) or
                   waterfall.trace_id in getattr(buffer[i], "line", "")
                   for i in logs.shown)
