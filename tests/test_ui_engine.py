"""The console on the embedded engine: the same layouts, no Prometheus anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Digits

from tests.support import exporter as known
from tests.support.apps import wait_until
from tests.support.exporter import Exporter
from tests.support.net import free_port
from watchdeck.core.config.files import config_from_flags
from watchdeck.core.config.types import replace
from watchdeck.core.layouts import LayoutCatalog
from watchdeck.core.shaping import collect_series
from watchdeck.ui.app import WatchdeckApp
from watchdeck.ui.panels.base import LIVE, Panel
from watchdeck.ui.widgets.statusbar import StatusBar

LAYOUTS = Path(__file__).parent / "data" / "layouts"


def scrape_app(urls: list[str], interval: float = 1.0) -> WatchdeckApp:
    loaded = config_from_flags(None, scrape=urls)
    assert loaded is not None
    source = replace(loaded.config.sources["scrape"], interval=interval)
    config = replace(loaded.config, sources={"scrape": source})
    loaded = replace_loaded(loaded, config)
    catalog = LayoutCatalog([LAYOUTS], loaded.known_source_names())
    catalog.load()
    return WatchdeckApp(loaded, catalog, layout="known")


def replace_loaded(loaded, config):  # type: ignore[no-untyped-def]
    from dataclasses import replace as dc_replace

    return dc_replace(loaded, config=config)


def panel(app: WatchdeckApp, panel_id: str) -> Panel:
    return app.screen.query_one(f"#panel-{panel_id}", Panel)


async def test_known_values_on_the_engine(exporter: Exporter) -> None:
    app = scrape_app([f"http://{exporter.target}/metrics"])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: panel(app, "queue").state == LIVE, timeout=15,
                         what="gauges")
        table = panel(app, "queue").query_one(DataTable)
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1])
                for i in range(table.row_count)}
        assert rows == {"a": "7", "b": "3"}
        # Rates need a few scrapes: the source scrapes every second here.
        def p99() -> float | None:
            named, _ = collect_series(panel(app, "latency").results(), ["p50", "p90", "p99"],
                                      10)
            values = {n.legend: n.series.values[-1] for n in named if n.series.values}
            return values.get("p99")

        await wait_until(pilot, lambda: p99() is not None and p99() == p99(), timeout=20,
                         what="percentiles")
        assert p99() == pytest.approx(known.P99, rel=1e-6)
        def rps() -> float:
            text = panel(app, "rps").query_one(Digits).value
            return float(text) if text else 0.0

        # A young store extrapolates rates over a partly empty window, as Prometheus does;
        # once the window is full the rate is exact.
        await wait_until(pilot, lambda: rps() == pytest.approx(100, rel=0.01), timeout=30,
                         what="the rate once the window is full")
        status = app.screen.query_one(StatusBar).render().plain  # type: ignore[attr-defined]
        assert "● scrape 1/1" in status


async def test_a_dead_target_is_named_in_the_status_bar(exporter: Exporter) -> None:
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    app = scrape_app([f"http://{exporter.target}/metrics", dead])
    async with app.run_test(size=(120, 40)) as pilot:
        def status() -> str:
            return app.screen.query_one(StatusBar).render().plain  # type: ignore[attr-defined]

        await wait_until(pilot, lambda: "1/2 up" in status(), timeout=15, what="target down")
        assert "connection refused" in status()
        await wait_until(pilot, lambda: panel(app, "queue").state == LIVE, timeout=15,
                         what="the live target still serves its panels")
