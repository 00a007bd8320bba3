"""A time-series chart with value and time axes, rendered to Textual strips."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from watchdeck.core.units import format_value
from watchdeck.ui.charts.axes import time_ticks, value_range, value_ticks
from watchdeck.ui.charts.braille import PlotLine, PlotSeries, cells_to_segments, plot_cells


def data_bounds(series: Sequence[PlotSeries]) -> tuple[float | None, float | None]:
    lo = hi = None
    for item in series:
        values = item.values
        if not values:
            continue
        total = sum(values)
        if total == total and total not in (math.inf, -math.inf):
            finite = values  # the usual case, checked in C
        else:
            finite = [v for v in values if not (v != v or v in (math.inf, -math.inf))]
        if finite:
            low, high = min(finite), max(finite)
            lo = low if lo is None or low < lo else lo
            hi = high if hi is None or high > hi else hi
    return lo, hi


def render_timechart(
    series: Sequence[PlotSeries],
    width: int,
    height: int,
    t0: float,
    t1: float,
    *,
    y_min: float | None = None,
    y_max: float | None = None,
    lines: Sequence[PlotLine] = (),
    unit: str | None = None,
    decimals: int | None = None,
    axis_style: Style | None = None,
    axes: bool = True,
) -> list[Strip]:
    """Draw ``series`` over ``t0``..``t1`` in a ``width`` x ``height`` box."""
    if width <= 0 or height <= 0:
        return [Strip.blank(max(width, 0))] * max(height, 0)
    axis_style = axis_style or Style(dim=True)
    bounds = data_bounds(series)
    if bounds == (None, None) and y_min is None and y_max is None:
        # Nothing to draw: no made-up axes (the panel's badge says "no data").
        return [Strip.blank(width)] * height
    show_x_axis = axes and height >= 4
    plot_height = height - 1 if show_x_axis else height

    lo, hi = value_range(*bounds, y_min, y_max)
    # About one labelled tick every other row; rows that two ticks share keep one.
    lo, hi, ticks = value_ticks(
        lo, hi, max(3, plot_height // 2 + 2), y_min is not None, y_max is not None
    )
    labels = {tick: format_value(tick, unit, decimals) for tick in ticks}
    label_width = min(max((len(text) for text in labels.values()), default=0), 10)
    show_y_axis = axes and width >= 24 and label_width > 0
    gutter = label_width + 1 if show_y_axis else 0
    plot_width = width - gutter

    cells, owner, styles = plot_cells(series, plot_width, plot_height, t0, t1, lo, hi, lines)
    rows = cells_to_segments(cells, owner, styles, plot_width, plot_height)

    if show_y_axis:
        # One label per cell row at most: the tick nearest each row's centre wins.
        row_labels: dict[int, str] = {}
        span = (hi - lo) or 1.0
        for tick in ticks:
            row = round((hi - tick) / span * (plot_height * 4 - 1)) // 4
            if 0 <= row < plot_height:
                row_labels.setdefault(row, labels[tick])
        for row, segments in enumerate(rows):
            text = row_labels.get(row, "")[:label_width].rjust(label_width) + " "
            segments.insert(0, Segment(text, axis_style))

    strips = [Strip(segments, width) for segments in rows]
    if show_x_axis:
        strips.append(Strip([Segment(_time_axis(t0, t1, gutter, plot_width), axis_style)], width))
    return strips


def _time_axis(t0: float, t1: float, gutter: int, plot_width: int) -> str:
    line = [" "] * (gutter + plot_width)
    span = (t1 - t0) or 1.0
    last_end = gutter - 1
    for tick, label in time_ticks(t0, t1, plot_width):
        centre = gutter + round((tick - t0) / span * (plot_width - 1))
        start = max(centre - len(label) // 2, gutter)
        if start + len(label) > len(line):
            start = len(line) - len(label)
        if start <= last_end + 1 or start < gutter:
            continue
        line[start:start + len(label)] = label
        last_end = start + len(label) - 1
    return "".join(line)
