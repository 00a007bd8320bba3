"""The status bar: layout, window, live or paused, variables and per-source health."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from watchdeck.core.model import SourceHealth
from watchdeck.core.safe import sanitize
from watchdeck.ui.hub import shown_round_trip
from watchdeck.ui.themes import severity_colour


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds // 3600)}h"


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $foreground; }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False)
        self._last: Text | None = None

    def show(
        self,
        *,
        live: bool,
        layout: str,
        window: str,
        variables: str,
        health: list[SourceHealth],
        now: float,
        problem: str | None = None,
        targets: dict[str, tuple[int, int, list[str]]] | None = None,
        alerts: list[tuple[str, int]] | None = None,
    ) -> None:
        variables_theme = self.app.theme_variables
        ok = variables_theme.get("success", "green")
        bad = variables_theme.get("error", "red")
        warn = variables_theme.get("warning", "yellow")
        text = Text(no_wrap=True, overflow="ellipsis")
        if live:
            text.append(" ● LIVE ", style=f"bold {ok} reverse")
        else:
            text.append(" ‖ PAUSED ", style=f"bold {warn} reverse")
        for severity, count in alerts or ():
            colour = severity_colour(self.app, severity)
            text.append(f" ▲ {count} {sanitize(severity)} ", style=f"bold {colour}")
        text.append(f" {sanitize(layout)} ", style="bold")
        text.append(f"· {window} ")
        if variables:
            text.append(f"· {sanitize(variables, 80)} ", style="dim")
        right = Text(no_wrap=True)
        targets = targets or {}
        for item in health:
            right.append(" │ ", style="dim")
            scraped = targets.get(item.name)
            if scraped is not None and not item.failing:
                up, total, down = scraped
                if down:
                    right.append(f"✖ {sanitize(item.name)} {up}/{total} up", style=f"bold {bad}")
                    right.append(f" {sanitize(down[0], 60)}", style=bad)
                else:
                    right.append(f"● {sanitize(item.name)} {up}/{total}", style=ok)
                continue
            if item.failing:
                since = _age(now - item.last_error_at) if item.last_error_at else ""
                right.append(f"✖ {sanitize(item.name)}", style=f"bold {bad}")
                right.append(f" {item.error_kind or 'error'} {since}", style=bad)
            elif item.last_success is None:
                right.append(f"◌ {sanitize(item.name)}", style="dim")
            else:
                right.append(f"● {sanitize(item.name)}", style=ok)
                slow = shown_round_trip(item.round_trip)
                if slow:
                    right.append(f" {slow}", style=warn)
        if problem:
            right.append(" │ ", style="dim")
            right.append(f"⚠ {sanitize(problem, 60)}", style=f"bold {warn}")
        width = self.size.width or 120
        room = width - text.cell_len
        if right.cell_len > room > 0:
            right.truncate(room, overflow="ellipsis")
        if room > 0:
            text.append(" " * max(room - right.cell_len, 0))
            text.append_text(right)
        if self._last is None or text.plain != self._last.plain or text.spans != self._last.spans:
            self._last = text
            self.update(text)
