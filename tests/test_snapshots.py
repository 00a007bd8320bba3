"""How the dashboard looks, at 120x40 and 80x24, with deterministic data and time.

Review changed pictures in snapshot_report.html before accepting them with
``pytest --snapshot-update``.
"""

from __future__ import annotations

from textual.pilot import Pilot

from tests.support.apps import wait_until
from tests.support.synthetic import synthetic_app
from watchdeck.ui.panels.base import LIVE, Panel


async def _wait_for_data(pilot: Pilot[object]) -> None:
    app = pilot.app
    await wait_until(
        pilot,
        lambda: all(p.state == LIVE for p in app.screen.query(Panel)
                    if p.spec.queries and p.wants_data()),
        what="visible panels live",
    )
    await pilot.pause(0.2)


def test_dashboard_120x40(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = synthetic_app()
    assert snap_compare(app, terminal_size=(120, 40), run_before=_wait_for_data)


def test_dashboard_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = synthetic_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=_wait_for_data)


def test_zoomed_panel_and_light_theme_120x40(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = synthetic_app(theme="watchdeck-light")

    async def zoom(pilot: Pilot[object]) -> None:
        await _wait_for_data(pilot)
        await pilot.press("z")
        await _wait_for_data(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=zoom)
