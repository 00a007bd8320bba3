"""``bars``: one horizontal bar per series (e.g. per GPU), coloured by thresholds."""

from __future__ import annotations

import math
import re

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from watchdeck.core.config.models import BarsPanel as BarsSpec
from watchdeck.core.model import QueryResult
from watchdeck.core.safe import sanitize
from watchdeck.core.shaping import collect_series
from watchdeck.core.units import format_value
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.themes import series_palette

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """A bar ``fraction`` (0..1) of ``width`` cells long, to an eighth of a cell."""
    if width <= 0:
        return ""
    if not math.isfinite(fraction):
        fraction = 0.0
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(width)


class BarsPanel(Panel):
    DEFAULT_CSS = """
    BarsPanel > .bars { height: 1fr; }
    """
    DEFAULT_INSTANT = True
    spec: BarsSpec

    def compose_body(self) -> ComposeResult:
        yield Static("", classes="bars", markup=False)

    def draw(self, results: list[QueryResult | None]) -> None:
        named, dropped = collect_series(results, self.legends(), self.max_series)
        items = [(sanitize(n.legend), n.series.last()) for n in named]
        if self.spec.sort == "name":
            items.sort(key=lambda item: _natural(item[0]))
        elif self.spec.sort == "value":
            items.sort(key=lambda item: -(item[1] if item[1] is not None and
                                          math.isfinite(item[1]) else -math.inf))
        rows = max(self.content_region.height, 1)
        hidden = max(len(items) - rows, 0)
        if hidden:
            items = items[: rows - 1] if rows > 1 else []
        self.query_one(".bars", Static).update(self._bars_text(items))
        notes = []
        if dropped:
            notes.append(f"{dropped} more series not shown (max_series {self.max_series})")
        if hidden:
            notes.append(f"{hidden + (1 if rows > 1 else 0)} bars do not fit: zoom with z")
        self.set_note("; ".join(notes) or None)

    def _bars_text(self, items: list[tuple[str, float | None]]) -> Text:
        width = max(self.content_region.width, 10)
        finite = [v for _, v in items if v is not None and math.isfinite(v)]
        low = self.spec.min
        high = self.spec.max if self.spec.max is not None else max(finite, default=1.0)
        if high <= low:
            high = low + 1.0
        value_width = 10
        name_width = min(max((len(name) for name, _ in items), default=4), width // 3)
        bar_width = max(width - name_width - value_width - 2, 1)
        palette = series_palette(self.app)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, (name, value) in enumerate(items):
            if len(name) > name_width:
                name = name[: max(name_width - 1, 0)] + "…"
            text.append(name.ljust(name_width) + " ")
            fraction = ((value - low) / (high - low)) if value is not None else 0.0
            colour = self.threshold_colour(value) or palette[0]
            text.append(bar(fraction, bar_width), style=colour)
            shown = format_value(value, self.spec.unit, self.spec.decimals)
            text.append(shown.rjust(value_width + 1), style=self.threshold_colour(value) or "")
            if index < len(items) - 1:
                text.append("\n")
        return text


def _natural(text: str) -> list[object]:
    """Sort ``gpu10`` after ``gpu9``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
