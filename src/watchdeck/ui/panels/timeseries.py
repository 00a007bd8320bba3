"""``timeseries``: several series over the window, a legend with current/min/max."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from watchdeck.core.config.models import TimeseriesPanel as TimeseriesSpec
from watchdeck.core.model import QueryResult
from watchdeck.core.safe import sanitize
from watchdeck.core.shaping import NamedSeries, collect_series
from watchdeck.core.units import format_value
from watchdeck.ui.charts.braille import PlotLine, PlotSeries
from watchdeck.ui.charts.widget import ChartData, ChartView
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.themes import colour_style, series_palette

_Y_AXIS_GUTTER = 8


class TimeseriesPanel(Panel):
    DEFAULT_CSS = """
    TimeseriesPanel > .legend { height: auto; max-height: 40%; }
    """
    spec: TimeseriesSpec

    def compose_body(self) -> ComposeResult:
        yield ChartView()
        yield Static("", classes="legend", markup=False)

    def plot_columns(self) -> int:
        return max(self.content_region.width - _Y_AXIS_GUTTER, 10)

    def draw(self, results: list[QueryResult | None]) -> None:
        named, dropped = collect_series(results, self.legends(), self.max_series)
        palette = series_palette(self.app)
        plot = [
            PlotSeries(item.series.timestamps, item.series.values,
                       colour_style(palette[index % len(palette)]))
            for index, item in enumerate(named)
        ]
        lines = []
        thresholds = self.spec.thresholds
        if thresholds is not None:
            variables = self.app.theme_variables
            for value, colour in ((thresholds.warning, "warning"), (thresholds.critical, "error")):
                if value is not None:
                    lines.append(PlotLine(value, colour_style(variables.get(colour, "yellow"))))
        t0, t1 = self.window_bounds()
        self.query_one(ChartView).show(
            ChartData(plot, t0, t1, self.spec.min, self.spec.max, lines,
                      self.spec.unit, self.spec.decimals)
        )
        legend = self.query_one(".legend", Static)
        legend.display = self.spec.legend and bool(named)
        if legend.display:
            legend.update(self.legend_text(named, palette))
        self.set_note(
            f"{dropped} more series not shown (max_series {self.max_series})" if dropped else None
        )

    def legend_text(self, named: list[NamedSeries], palette: tuple[str, ...]) -> Text:
        width = max(self.content_region.width, 20)
        unit, decimals = self.spec.unit, self.spec.decimals
        show_stats = width >= 50
        value_width = 10
        name_width = width - 2 - (3 * value_width if show_stats else value_width)
        text = Text(no_wrap=True, overflow="ellipsis")
        if show_stats:
            header = " " * (name_width + 2)
            header += "".join(label.rjust(value_width) for label in ("current", "min", "max"))
            text.append(header + "\n", style="dim")
        for index, item in enumerate(named):
            values = item.series.finite_values()
            current = item.series.last()
            colour = palette[index % len(palette)]
            text.append("━ ", style=colour_style(colour))
            name = sanitize(item.legend)
            if len(name) > name_width:
                name = name[: max(name_width - 1, 0)] + "…"
            text.append(name.ljust(name_width))
            cells = [current]
            if show_stats:
                cells += [min(values) if values else None, max(values) if values else None]
            for position, value in enumerate(cells):
                style = self.threshold_colour(value) if position == 0 else None
                text.append(format_value(value, unit, decimals).rjust(value_width),
                            style=style or "")
            if index < len(named) - 1:
                text.append("\n")
        return text
