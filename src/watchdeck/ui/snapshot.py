"""Writing the screen as plain text (``watchdeck snapshot --out FILE.txt``)."""

from __future__ import annotations

import io

from rich.console import Console
from textual.app import App


def export_text(app: App[object]) -> str:
    """The current screen as plain text: one line per row, no escape sequences."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=False,
        color_system=None, record=True, legacy_windows=False, safe_box=False,
    )
    # Textual has no public text export; this is what export_screenshot() renders too.
    screen_render = app.screen._compositor.render_update(  # noqa: SLF001
        full=True, screen_stack=app._background_screens  # noqa: SLF001
    )
    console.print(screen_render)
    lines = console.export_text(styles=False).splitlines()
    return "\n".join(line.rstrip() for line in lines[:height]) + "\n"
