"""Layout files on disk: hot reload, broken edits, and small terminals."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.apps import wait_until
from tests.support.synthetic import SYNTHETIC_LAYOUTS, synthetic_app
from watchdeck.ui.panels.base import LIVE, Panel
from watchdeck.ui.screens.dashboard import DashboardScreen
from watchdeck.ui.widgets.statusbar import StatusBar


def copy_layouts(tmp_path: Path) -> Path:
    target = tmp_path / "layouts"
    shutil.copytree(SYNTHETIC_LAYOUTS, target)
    return target


def touch_later(path: Path) -> None:
    """Make sure the edit is seen even on a coarse-mtime filesystem."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


async def test_an_edited_layout_is_reloaded_and_keeps_the_window(tmp_path: Path) -> None:
    layouts = copy_layouts(tmp_path)
    app, _, _ = synthetic_app(layouts)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("minus")
        path = layouts / "overview.yaml"
        path.write_text(path.read_text().replace("title: Requests / s", "title: Throughput"))
        touch_later(path)
        app.reload_layouts()
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert "Throughput" in str(screen.query_one("#panel-rps", Panel).border_title)
        assert screen.context.window.range == 3600  # the window survived the reload


async def test_a_broken_edit_keeps_the_last_good_layout_and_says_why(tmp_path: Path) -> None:
    layouts = copy_layouts(tmp_path)
    app, _, _ = synthetic_app(layouts)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one("#panel-rps", Panel).state == LIVE,
                         what="live")
        path = layouts / "overview.yaml"
        text = path.read_text()
        path.write_text(text.replace("    type: stat\n", "    type: gauge\n"))
        touch_later(path)
        app.reload_layouts()
        await pilot.pause(0.3)
        screen = app.screen
        # Still the old, good version on screen.
        assert screen.query_one("#panel-rps", Panel).state == LIVE
        messages = [str(n.message) for n in app._notifications]
        assert any("overview.yaml:" in m and "unknown panel type 'gauge'" in m
                   for m in messages)
        status = str(screen.query_one(StatusBar).render().plain)  # type: ignore[attr-defined]
        assert "overview.yaml:" in status
        # Fixing the file clears the warning.
        path.write_text(text)
        touch_later(path)
        app.reload_layouts()
        await pilot.pause(0.3)
        status = str(app.screen.query_one(StatusBar).render().plain)  # type: ignore[attr-defined]
        assert "overview.yaml:" not in status


async def test_dashboard_reflows_at_80x24() -> None:
    app, _, _ = synthetic_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        panels = list(app.screen.query(Panel))
        # At 80 columns a 4-of-12 panel would be 26 cells; panels widen instead (min 30).
        assert min(p.outer_size.width for p in panels) >= 30
        # The dashboard scrolls rather than squeezing the panels.
        assert all(p.outer_size.height >= 9 for p in panels)


async def test_nothing_breaks_down_to_20x6_and_on_resize() -> None:
    app, _, _ = synthetic_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: any(p.state == LIVE for p in app.screen.query(Panel)),
                         what="live")
        for size in [(80, 24), (40, 12), (20, 6), (21, 7), (200, 60), (20, 6), (120, 40)]:
            await pilot.resize_terminal(*size)
            await pilot.pause(0.15)
            assert isinstance(app.screen, DashboardScreen)
        for key in ["z", "escape", "j", "l", "question_mark", "escape", "space", "space"]:
            await pilot.press(key)
        await pilot.resize_terminal(20, 6)
        await pilot.press("z")
        await pilot.pause(0.2)
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.2)
        assert app.is_running
