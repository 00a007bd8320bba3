"""The console against a real Prometheus scraping an exporter with known values."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Digits, Static

from tests.support import exporter as known
from tests.support.apps import make_app, wait_until, write_config
from tests.support.prometheus import PrometheusServer
from watchdeck.core.shaping import collect_series
from watchdeck.ui.panels.base import ERROR, LIVE, Panel

LAYOUTS = Path(__file__).parent / "data" / "layouts"
pytestmark = pytest.mark.prometheus


def panel(app, panel_id: str) -> Panel:  # type: ignore[no-untyped-def]
    return app.screen.query_one(f"#panel-{panel_id}", Panel)


def live(app, *ids: str):  # type: ignore[no-untyped-def]
    return lambda: all(panel(app, i).state == LIVE for i in ids)


def last_values(p: Panel) -> dict[str, float]:
    named, _ = collect_series(p.results(), p.legends(), 100)
    return {n.legend: n.series.values[-1] for n in named if n.series.values}


async def test_panels_show_the_exporters_known_values(prometheus: PrometheusServer,
                                                      tmp_path: Path) -> None:
    app = make_app(write_config(tmp_path, prometheus.url), LAYOUTS)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, live(app, "latency", "rps", "errors", "queue", "gpus"),
                         timeout=30, what="panels live")
        # Percentiles: exact up to floating point, since the buckets grow linearly.
        values = last_values(panel(app, "latency"))
        assert values["p50"] == pytest.approx(known.P50, rel=1e-6)
        assert values["p90"] == pytest.approx(known.P90, rel=1e-6)
        assert values["p99"] == pytest.approx(known.P99, rel=1e-6)
        legend = panel(app, "latency").query_one(".legend", Static)
        legend_text = str(legend.render())
        assert "100ms" in legend_text and "417ms" in legend_text and "900ms" in legend_text

        # Rates from counters growing 100/s and 5/s.
        rps = panel(app, "rps").query_one(Digits)
        assert float(rps.value) == pytest.approx(100.0, rel=0.01)
        errors = last_values(panel(app, "errors"))
        (ratio,) = errors.values()
        assert ratio == pytest.approx(5 / 105, rel=1e-6)
        errors_panel = panel(app, "errors")
        assert errors_panel.query_one(Digits).value == "4.76"
        assert str(errors_panel.query_one(".stat--unit", Static).render()).startswith("%")
        # 4.76 % is over the warning threshold (1 %), under the critical one (10 %).
        warning = app.theme_variables["warning"]
        assert errors_panel.query_one(Digits).styles.color.hex.lower() == warning.lower()

        # Gauges: the table has one row per replica with its value.
        table = panel(app, "queue").query_one(DataTable)
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1])
                for i in range(table.row_count)}
        assert rows == {"a": "7", "b": "3"}

        # Bars: one per GPU, in natural order, values as percentages.
        bars = str(panel(app, "gpus").query_one(".bars", Static).render())
        lines = [line for line in bars.splitlines() if line.strip()]
        assert [line.split()[0] for line in lines] == ["gpu0", "gpu1", "gpu2", "gpu3"]
        assert [line.split()[-1] for line in lines] == ["25%", "50%", "75%", "100%"]
        # A full bar for 100 %, a quarter for 25 %.
        full = lines[3].count("█")
        assert full > 0 and abs(lines[0].count("█") - full / 4) <= 1


async def test_label_values_with_escape_sequences_are_shown_literally(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    (layouts / "hostile.yaml").write_text(
        """name: hostile
refresh: 1s
range: 5m
panels:
  - {id: t, title: Hostile, type: table, width: 12, height: 8, columns: [text],
     queries: [{expr: wd_untrusted_info}]}
  - {id: ts, title: Hostile series, type: timeseries, width: 12, height: 10,
     queries: [{expr: wd_untrusted_info, legend: "{{text}}"}]}
""", encoding="utf-8")
    app = make_app(write_config(tmp_path, prometheus.url), layouts)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, live(app, "t", "ts"), timeout=30, what="panels live")
        table = panel(app, "t").query_one(DataTable)
        cell = table.get_row_at(0)[0]
        assert isinstance(cell, Text)
        assert "\x1b" not in cell.plain and "\x07" not in cell.plain
        assert "\\x1b[31mRED" in cell.plain and "[bold]boom[/bold]" in cell.plain
        assert "\\u202e" in cell.plain
        legend = str(panel(app, "ts").query_one(".legend", Static).render())
        assert "\x1b" not in legend and "[bold]boom[/bold]" in legend
        # What reaches the terminal: the whole screen, as text, holds no raw escape.
        from watchdeck.ui.snapshot import export_text
        screen = export_text(app)
        assert "\x1b" not in screen and "\u202e" not in screen
        assert "[bold]boom" in screen


async def test_a_promql_syntax_error_shows_prometheus_own_message(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    (layouts / "bad.yaml").write_text(
        """name: bad
refresh: 1s
range: 5m
panels:
  - {id: broken, title: Broken, type: timeseries, width: 12, height: 10,
     queries: [{expr: "sum(rate(wd_requests_total[1m]"}]}
""", encoding="utf-8")
    app = make_app(write_config(tmp_path, prometheus.url), layouts)
    async with app.run_test(size=(100, 30)) as pilot:
        broken = panel(app, "broken")
        await wait_until(pilot, lambda: broken.state == ERROR, what="error state")
        message = str(broken.query_one(".panel--message", Static).render())
        assert "bad_data" in message
        assert "parse error" in message  # Prometheus's own words
        assert "retry in" in str(broken.border_subtitle)


async def test_prometheus_stopped_then_restarted(own_prometheus: PrometheusServer,
                                                 tmp_path: Path) -> None:
    app = make_app(write_config(tmp_path, own_prometheus.url), LAYOUTS)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, live(app, "rps", "queue"), timeout=30, what="panels live")
        own_prometheus.stop()
        # Within one refresh (1 s) plus the request: the error state, app still running.
        await wait_until(pilot, lambda: panel(app, "rps").state == ERROR, timeout=5,
                         what="error state after stop")
        message = str(panel(app, "rps").query_one(".panel--message", Static).render())
        assert "connection refused" in message
        assert app.hub.health["prom"].failing
        # Old data stays on screen while the source is down.
        assert panel(app, "rps").query_one(Digits).value != ""
        own_prometheus.start()
        # Back off is at most a minute; with a 1 s refresh the retries come quickly.
        await wait_until(pilot, live(app, "rps", "queue"), timeout=40,
                         what="recovery without user action")
        assert not app.hub.health["prom"].failing
        assert math.isfinite(last_values(panel(app, "rps"))["{}"])
