"""A Line-API widget that shows a pre-rendered time chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from watchdeck.ui.charts.braille import PlotLine, PlotSeries
from watchdeck.ui.charts.timechart import render_timechart


@dataclass(frozen=True)
class ChartData:
    series: Sequence[PlotSeries]
    t0: float
    t1: float
    y_min: float | None = None
    y_max: float | None = None
    lines: Sequence[PlotLine] = ()
    unit: str | None = None
    decimals: int | None = None
    axes: bool = True


class ChartView(Widget):
    """Draws a :class:`ChartData`; strips are rendered once per data or size change."""

    DEFAULT_CSS = """
    ChartView { height: 1fr; min-height: 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.data: ChartData | None = None
        self._strips: list[Strip] = []
        self._rendered_for: tuple[object, ...] | None = None

    def show(self, data: ChartData) -> None:
        self.data = data
        self._rendered_for = None
        self.refresh()

    def _ensure_strips(self) -> None:
        width, height = self.size
        marker = (id(self.data), width, height)
        if marker == self._rendered_for:
            return
        self._rendered_for = marker
        data = self.data
        if data is None or width <= 0 or height <= 0:
            self._strips = []
            return
        self._strips = render_timechart(
            data.series, width, height, data.t0, data.t1,
            y_min=data.y_min, y_max=data.y_max, lines=data.lines, unit=data.unit,
            decimals=data.decimals, axis_style=Style(dim=True), axes=data.axes,
        )

    def render_line(self, y: int) -> Strip:
        self._ensure_strips()
        if y < len(self._strips):
            return self._strips[y].apply_style(self.rich_style)
        return Strip.blank(self.size.width, self.rich_style)
