"""Keys and screens, driven through Pilot on the synthetic source."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.apps import wait_until
from tests.support.fakes import refused
from tests.support.synthetic import SYNTHETIC_LAYOUTS, synthetic_app
from watchdeck.core.timewin import MIN_RANGE
from watchdeck.ui.panels.base import ERROR, LIVE, PAUSED, Panel
from watchdeck.ui.screens.dashboard import DashboardScreen
from watchdeck.ui.screens.help import HelpScreen
from watchdeck.ui.snapshot import export_text
from watchdeck.ui.widgets.statusbar import StatusBar


def panel(app, panel_id: str) -> Panel:  # type: ignore[no-untyped-def]
    return app.screen.query_one(f"#panel-{panel_id}", Panel)


def all_live(app):  # type: ignore[no-untyped-def]
    return lambda: all(p.state in (LIVE, PAUSED) for p in app.screen.query(Panel)
                       if p.spec.queries and p.is_on_screen)


def status_text(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(StatusBar).render().plain)  # type: ignore[attr-defined]


async def test_layout_keys_switch_and_keep_window_and_variables() -> None:
    app, source, clock = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="overview live")
        assert isinstance(app.screen, DashboardScreen) and app.screen.entry.name == "overview"
        await pilot.press("minus")  # 30m -> 1h
        assert app.window.range == 3600
        app.screen.set_variable("replica", app.screen.context.states["replica"].__class__(("b",)))
        await pilot.press("2")
        assert app.screen.entry.name == "second"
        assert app.screen.context.window.range == 3600  # the window came along
        await wait_until(pilot, all_live(app), what="second live")
        await pilot.press("1")
        assert app.screen.entry.name == "overview"
        assert app.screen.context.states["replica"].values == ("b",)  # kept
        assert any('replica=~"b"' in expr for expr in source.exprs())


async def test_palette_switches_layout() -> None:
    app, _, _ = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        await pilot.press("ctrl+p")
        await pilot.press(*"Layout: Second")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: getattr(app.screen, "entry", None) is not None
                         and app.screen.entry.name == "second", what="switched")


async def test_focus_moves_with_arrows_hjkl_and_tab() -> None:
    app, _, _ = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.focused is panel(app, "latency")
        await pilot.press("l")
        assert screen.focused is panel(app, "rps")
        await pilot.press("j")  # below rps (columns 8-11): notes (columns 8-11)
        assert screen.focused is panel(app, "notes")
        await pilot.press("h")
        assert screen.focused is panel(app, "gpu")
        await pilot.press("k")  # above gpu (columns 4-7): latency (0-7) is the only one
        assert screen.focused is panel(app, "latency")
        await pilot.press("right")
        assert screen.focused is panel(app, "rps")
        await pilot.press("tab")
        assert screen.focused is panel(app, "queue")
        await pilot.press("down")
        assert screen.focused is panel(app, "queue")  # nothing below: stays


async def test_zoom_and_back_and_hidden_panels_stop_polling() -> None:
    app, source, _ = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        latency = panel(app, "latency")
        normal_width = latency.size.width
        await pilot.press("z")
        await pilot.pause(0.2)
        assert app.screen.maximized is latency
        assert latency.size.width > normal_width
        assert not panel(app, "queue").wants_data()
        # Only the zoomed panel's feed keeps polling.
        before = len(source.calls)
        await pilot.pause(2.5)
        polled = {call[1] for call in source.calls[before:]}
        assert polled and all("latency_seconds" in expr for expr in polled)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.screen.maximized is None
        assert latency.size.width == normal_width


async def test_pause_freezes_and_space_resumes() -> None:
    app, source, clock = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        await pilot.press("space")
        assert not app.window.live and app.window.end == clock.now
        assert "PAUSED" in status_text(app)
        await wait_until(pilot, lambda: panel(app, "latency").state == PAUSED, what="paused")
        before = len(source.calls)
        await pilot.pause(2.5)  # more than two refreshes: a fixed window is not re-fetched
        assert len(source.calls) == before
        await pilot.press("space")
        assert app.window.live and "LIVE" in status_text(app)
        await wait_until(pilot, lambda: len(source.calls) > before, what="polling again")


async def test_window_shift_zoom_and_back_to_live() -> None:
    app, source, clock = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        start_range = app.window.range
        await pilot.press("left_square_bracket")
        assert app.window.end == pytest.approx(clock.now - start_range / 2)
        await wait_until(pilot, lambda: any(
            c[0] == "query_range" and c[3] <= clock.now - start_range / 2 for c in source.calls),
            what="a query for the shifted window")
        await pilot.press("right_square_bracket")
        assert app.window.end == pytest.approx(clock.now)
        await pilot.press("minus")
        assert app.window.range == start_range * 2
        await pilot.press("plus")
        await pilot.press("plus")
        assert app.window.range == start_range / 2
        for _ in range(12):
            await pilot.press("plus")
        assert app.window.range == MIN_RANGE
        await pilot.press("0")
        assert app.window.live and app.window.range == MIN_RANGE
        assert "last 1m" in status_text(app)


async def test_help_lists_keys_from_the_bindings() -> None:
    app, _, _ = synthetic_app(config={"keymap": {"zoom": "f"}})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        text = export_text(app)
        assert "Zoom panel" in text and "Pause / resume live" in text
        assert "Fleet overview" in text  # layouts with their keys
        zoom_line = next(line for line in text.splitlines() if "Zoom panel" in line)
        assert "f" in zoom_line.split("Zoom panel")[0] and "z" not in zoom_line
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_keymap_moves_a_binding() -> None:
    app, _, _ = synthetic_app(config={"keymap": {"zoom": "f"}})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("z")
        assert app.screen.maximized is None
        await pilot.press("f")
        assert app.screen.maximized is panel(app, "latency")


async def test_theme_switch_recolours_charts() -> None:
    app, _, _ = synthetic_app(theme="watchdeck-dark")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        from watchdeck.ui.charts.widget import ChartView

        chart = panel(app, "latency").query_one(ChartView)
        dark = chart.data.series[0].style.color
        app.theme = "watchdeck-light"
        await pilot.pause(0.2)
        light = chart.data.series[0].style.color
        assert dark != light
        assert light.triplet.hex.lower() == "#005fd7"  # the light theme's first series colour


async def test_unknown_theme_falls_back_with_a_notice() -> None:
    app, _, _ = synthetic_app(theme="no-such-theme")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "watchdeck-dark"
        assert any("no-such-theme" in str(n.message) for n in app._notifications)


async def test_refresh_key_fetches_now() -> None:
    layouts = SYNTHETIC_LAYOUTS
    app, source, _ = synthetic_app(layouts)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        await pilot.press("space")  # fixed window: no polling on its own
        await pilot.pause(0.3)
        before = len(source.calls)
        await pilot.press("r")
        await wait_until(pilot, lambda: len(source.calls) > before, timeout=2, what="refetch")


async def test_variable_picker_changes_queries() -> None:
    app, source, _ = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        await wait_until(pilot, lambda: app.screen.choices.get("replica") == ["a", "b", "c"],
                         what="choices")
        await pilot.press("v")
        await pilot.pause(0.2)
        # Multi-select: "All" is selected; unselect it, select "c", apply.
        await pilot.press("space")  # toggles "All" (highlighted first)
        await pilot.press("down", "down", "down", "space", "enter")
        await pilot.pause(0.2)
        assert app.screen.context.states["replica"].values == ("c",)
        assert "replica=c" in status_text(app)
        assert "Latency p99 (c)" in str(panel(app, "latency").border_title)
        await wait_until(pilot, lambda: any('replica=~"c"' in e for e in source.exprs()),
                         what="queries with the chosen value")


async def test_same_query_same_width_shares_one_feed(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text("""name: dup
refresh: 1s
panels:
  - {id: a, type: timeseries, width: 6, height: 10, queries: [{expr: up}]}
  - {id: b, type: timeseries, width: 6, height: 10, queries: [{expr: up}]}
""")
    app, source, _ = synthetic_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        assert panel(app, "a").keys == panel(app, "b").keys
        assert len([k for k in app.hub.keys() if k.kind == "metrics"]) == 1  # noqa: SIM118 - Hub, not a dict


async def test_only_visible_panels_poll(tmp_path: Path) -> None:
    panels = "\n".join(
        f"  - {{id: p{i}, type: timeseries, width: 12, height: 12, queries: [{{expr: m{i}}}]}}"
        for i in range(6)
    )
    (tmp_path / "tall.yaml").write_text(f"name: tall\nrefresh: 1s\npanels:\n{panels}\n")
    app, source, _ = synthetic_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: panel(app, "p0").state == LIVE, what="first live")
        await pilot.pause(1.5)
        polled = set(source.exprs())
        assert "m0" in polled and "m5" not in polled
        # Scroll to the bottom: the last panel starts polling.
        panel(app, "p5").focus()
        await wait_until(pilot, lambda: "m5" in source.exprs(), what="scrolled panel polled")


async def test_errors_back_off_and_recover() -> None:
    app, source, clock = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        source.fail_with = refused()
        await wait_until(pilot, lambda: panel(app, "rps").state == ERROR, timeout=3,
                         what="error")
        subtitle = str(panel(app, "rps").border_subtitle)
        assert "retry in" in subtitle
        assert "✖ prom unreachable" in status_text(app)
        # Backoff: the gaps between attempts grow (1 s base, doubling, jittered).
        await pilot.pause(4.0)
        attempts = [c for c in source.calls if "requests_total" in c[1]]
        assert 2 <= len(attempts) <= 6
        source.fail_with = None
        await wait_until(pilot, lambda: panel(app, "rps").state == LIVE, timeout=12,
                         what="recovery")
        assert "● prom" in status_text(app)


async def test_textual_builtin_themes_work_too() -> None:
    app, _, _ = synthetic_app(theme="textual-light")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, all_live(app), what="live")
        from watchdeck.ui.charts.widget import ChartView
        from watchdeck.ui.themes import DEFAULT_SERIES_LIGHT

        assert app.theme == "textual-light"
        chart = panel(app, "latency").query_one(ChartView)
        assert chart.data.series[0].style.color.triplet.hex.lower() == DEFAULT_SERIES_LIGHT[0]


async def test_a_panel_draws_the_top_series_and_says_how_many_it_left_out() -> None:
    app, _, _ = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        many = panel(app, "many")
        await wait_until(pilot, lambda: many.state == LIVE, what="live")
        from watchdeck.ui.charts.widget import ChartView

        assert len(many.query_one(ChartView).data.series) == 50  # the config's default
        note = str(many.query_one(".panel--note").render())
        assert "30 more series not shown (max_series 50)" in note
