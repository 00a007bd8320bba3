"""``stat``: one big value with unit, threshold colour and a sparkline."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Digits, Static

from watchdeck.core.config.models import StatPanel as StatSpec
from watchdeck.core.model import QueryResult
from watchdeck.core.safe import sanitize
from watchdeck.core.shaping import collect_series, reduce_values
from watchdeck.core.units import format_value
from watchdeck.ui.charts.braille import PlotSeries
from watchdeck.ui.charts.widget import ChartData, ChartView
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.themes import colour_style, series_palette

_NUMBER = re.compile(r"^([-+]?[0-9][0-9.,]*)(.*)$")


def split_number(text: str) -> tuple[str, str]:
    """``"1.5 GiB"`` -> (``"1.5"``, ``"GiB"``); text that is not a number stays whole."""
    match = _NUMBER.match(text)
    if match is None:
        return "", text
    return match.group(1), match.group(2).strip()


class StatPanel(Panel):
    DEFAULT_CSS = """
    StatPanel > Digits { width: auto; height: 3; }
    StatPanel > .stat--value { height: auto; text-style: bold; }
    StatPanel > .stat--unit { height: 1; }
    StatPanel > .stat--rows { height: auto; }
    StatPanel > ChartView { height: 1fr; min-height: 1; }
    """
    spec: StatSpec

    def compose_body(self) -> ComposeResult:
        yield Digits("", classes="stat--digits")
        yield Static("", classes="stat--value", markup=False)
        yield Static("", classes="stat--unit", markup=False)
        yield Static("", classes="stat--rows", markup=False)
        yield ChartView(classes="stat--spark")

    def draw(self, results: list[QueryResult | None]) -> None:
        named, dropped = collect_series(results, self.legends(), self.max_series)
        digits = self.query_one(Digits)
        value_line = self.query_one(".stat--value", Static)
        unit_line = self.query_one(".stat--unit", Static)
        rows = self.query_one(".stat--rows", Static)
        spark = self.query_one(ChartView)
        unit, decimals = self.spec.unit, self.spec.decimals
        single = len(named) <= 1
        roomy = self.content_region.height >= 5 and self.content_region.width >= 12

        value = reduce_values(named[0].series.values, self.spec.reduce) if named else None
        text = format_value(value, unit, decimals)
        number, suffix = split_number(text)
        colour = self.threshold_colour(value)
        digits.display = single and roomy and bool(number)
        value_line.display = single and not digits.display
        unit_line.display = single and roomy and bool(number)
        rows.display = not single
        if single:
            if digits.display:
                digits.update(number)
                digits.styles.color = colour
                label = suffix
                named_legend = bool(named) and bool(self.spec.queries[0].legend)
                if named_legend and len(named[0].legend) < 40:
                    label = f"{suffix}  {sanitize(named[0].legend)}".strip()
                unit_line.update(Text(label, style="dim"))
            else:
                value_line.update(Text(text, style=colour or ""))
        else:
            rows.update(self._rows(named))
        show_spark = self.spec.sparkline and single and bool(named) and roomy
        spark.display = show_spark
        if show_spark:
            palette = series_palette(self.app)
            t0, t1 = self.window_bounds()
            series = named[0].series
            style = colour_style(colour or palette[0])
            spark.show(ChartData([PlotSeries(series.timestamps, series.values, style)],
                                 t0, t1, unit=unit, axes=False))
        self.set_note(
            f"{dropped} more series not shown (max_series {self.max_series})" if dropped else None
        )

    def _rows(self, named: list) -> Text:
        width = max(self.content_region.width, 12)
        text = Text(no_wrap=True, overflow="ellipsis")
        value_width = 10
        for index, item in enumerate(named):
            value = reduce_values(item.series.values, self.spec.reduce)
            name = sanitize(item.legend)[: max(width - value_width - 1, 1)]
            text.append(name.ljust(width - value_width))
            text.append(format_value(value, self.spec.unit, self.spec.decimals).rjust(value_width),
                        style=self.threshold_colour(value) or "bold")
            if index < len(named) - 1:
                text.append("\n")
        return text
