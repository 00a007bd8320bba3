"""A braille line-chart renderer built for many series at low cost.

Each terminal cell holds a 2x4 grid of braille dots, so a ``W`` x ``H`` plot has
``2W`` x ``4H`` dots. Points are mapped to dot columns once; every dot column keeps the
vertical span its series covers there (the min and max of the points that fall in it,
joined to the previous column so steep lines stay connected). That is max-pooling for
free: a series with more points than columns keeps its peaks, and the cost is linear in
points plus dot columns. Cells remember which series drew last, which sets their colour.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style

# Bit for dot (column, row) inside one braille cell, column 0..1, row 0..3.
_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_CHARS = [" "] + [chr(0x2800 + code) for code in range(1, 256)]
# _SPAN[column & 1][first][last]: the bits of dot rows first..last (0..3) of one cell.
_SPAN = tuple(
    tuple(
        tuple(sum(_BITS[parity][row] for row in range(first, last + 1)) for last in range(4))
        for first in range(4)
    )
    for parity in (0, 1)
)


@dataclass(frozen=True, slots=True)
class PlotSeries:
    timestamps: Sequence[float]
    values: Sequence[float]
    style: Style


@dataclass(frozen=True, slots=True)
class PlotLine:
    """A horizontal reference line (threshold), drawn dashed behind the series."""

    value: float
    style: Style


def _gap_limit(timestamps: Sequence[float]) -> float:
    """Points further apart than this are not joined (a gap in the data)."""
    if len(timestamps) < 3:
        return math.inf
    # The typical step: robust against one big hole.
    deltas = sorted(
        timestamps[i + 1] - timestamps[i] for i in range(0, len(timestamps) - 1,
                                                         max(1, len(timestamps) // 64))
    )
    typical = deltas[len(deltas) // 2]
    return typical * 2.5 if typical > 0 else math.inf


def _general_spans(
    item: PlotSeries, t0: float, sx: float, sy: float, hi: float, dots_x: int, max_y: int
) -> tuple[list[int], list[int]]:
    """Per dot column, the (top, bottom) dot rows a series covers: any data."""
    inf = math.inf
    stamps = item.timestamps
    gap = _gap_limit(stamps)
    xs = [int((t - t0) * sx + 0.5) for t in stamps]
    ys = [(hi - v) * sy for v in item.values]
    top = [max_y + 1] * dots_x
    bottom = [-1] * dots_x
    prev_x = -1
    prev_y = 0.0
    prev_t = -inf
    for x, y, t in zip(xs, ys, stamps):
        if x < 0 or x >= dots_x or y != y or y == inf or y == -inf:
            prev_x = -1  # NaN, Inf or outside the window: a hole in the line
            continue
        if y < 0.0:
            y = 0.0
        elif y > max_y:
            y = float(max_y)
        yi = int(y + 0.5)
        if x == prev_x:  # several points in one column
            if yi < top[x]:
                top[x] = yi
            if yi > bottom[x]:
                bottom[x] = yi
        elif prev_x >= 0 and x > prev_x and t - prev_t <= gap:
            # Join: each column on the way covers from the previous interpolated y.
            dy = (y - prev_y) / (x - prev_x)
            last = prev_y
            for column in range(prev_x + 1, x + 1):
                here = last + dy
                a = int((last if last < here else here) + 0.5)
                b = int((here if last < here else last) + 0.5)
                if a < top[column]:
                    top[column] = a
                if b > bottom[column]:
                    bottom[column] = b
                last = here
        else:
            if yi < top[x]:
                top[x] = yi
            if yi > bottom[x]:
                bottom[x] = yi
        prev_x, prev_y, prev_t = x, y, t
    return top, bottom


def _dense_spans(
    item: PlotSeries, t0: float, sx: float, sy: float, hi: float, dots_x: int, max_y: int
) -> tuple[list[int], list[int]] | None:
    """The fast path for what range queries usually return: evenly spaced and finite,
    with at least one point per dot column, so neighbours only ever join across one
    column. Same picture as :func:`_general_spans`, in a loop a quarter as long.
    Returns None when the data is not like that."""
    stamps = item.timestamps
    values = item.values
    n = len(stamps)
    if n < 3:
        return None
    step = stamps[1] - stamps[0]
    if step <= 0 or step * sx > 1.0:
        return None  # sparse: columns between points need interpolation
    if abs((stamps[-1] - stamps[0]) - (n - 1) * step) > step * 1e-3:
        return None  # holes or uneven spacing
    total = sum(values)
    if total != total or total in (math.inf, -math.inf):
        return None  # NaN or infinities somewhere
    xs = [int((t - t0) * sx + 0.5) for t in stamps]
    first = bisect_left(xs, 0)
    end = bisect_left(xs, dots_x)
    if end - first < 2:
        return None
    rows = [int((hi - v) * sy + 0.5) for v in values[first:end]]
    if min(rows) < 0 or max(rows) > max_y:
        rows = [0 if r < 0 else max_y if r > max_y else r for r in rows]
    top = [max_y + 1] * dots_x
    bottom = [-1] * dots_x
    previous = rows[0]
    for x, row in zip(xs[first:end], rows):
        # Each column covers its points and the one before (the join from the left).
        if row < previous:
            if row < top[x]:
                top[x] = row
            if previous > bottom[x]:
                bottom[x] = previous
        else:
            if previous < top[x]:
                top[x] = previous
            if row > bottom[x]:
                bottom[x] = row
        previous = row
    return top, bottom


def plot_cells(
    series: Sequence[PlotSeries],
    width: int,
    height: int,
    t0: float,
    t1: float,
    lo: float,
    hi: float,
    lines: Sequence[PlotLine] = (),
) -> tuple[list[int], list[int], list[Style | None]]:
    """Rasterise ``series`` into ``width`` x ``height`` cells.

    Returns per-cell dot masks, per-cell owner (index into the returned style list, -1 for
    none) and the style list (series styles, then line styles).
    """
    cells = [0] * (width * height)
    owner = [-1] * (width * height)
    styles: list[Style | None] = [s.style for s in series] + [line.style for line in lines]
    if width <= 0 or height <= 0:
        return cells, owner, styles
    dots_x = width * 2
    dots_y = height * 4
    span_t = (t1 - t0) or 1.0
    span_v = (hi - lo) or 1.0
    sx = (dots_x - 1) / span_t
    sy = (dots_y - 1) / span_v
    max_y = dots_y - 1
    span_bits = _SPAN

    for index, item in enumerate(series):
        spans = _dense_spans(item, t0, sx, sy, hi, dots_x, max_y)
        if spans is None:
            spans = _general_spans(item, t0, sx, sy, hi, dots_x, max_y)
        top, bottom = spans
        for column in range(dots_x):
            b = bottom[column]
            if b < 0:
                continue
            a = top[column]
            masks = span_bits[column & 1]
            cell_x = column >> 1
            # One OR per cell the span crosses, not one per dot.
            for cell_row in range(a >> 2, (b >> 2) + 1):
                first = a - (cell_row << 2) if a > cell_row << 2 else 0
                last = b - (cell_row << 2) if b < (cell_row << 2) + 3 else 3
                cell = cell_row * width + cell_x
                cells[cell] |= masks[first][last]
                owner[cell] = index

    if lines:
        base = len(series)
        for offset, line in enumerate(lines):
            if not lo <= line.value <= hi:
                continue
            row = int((hi - line.value) * sy + 0.5)
            cell_row = (row >> 2) * width
            bit = _BITS[0][row & 3]
            for cell_x in range(0, width, 2):  # dashed: one dot every other cell
                cell = cell_row + cell_x
                if owner[cell] == -1 or owner[cell] >= base:
                    cells[cell] |= bit
                    owner[cell] = base + offset
    return cells, owner, styles


def cells_to_segments(
    cells: list[int], owner: list[int], styles: list[Style | None], width: int, height: int
) -> list[list[Segment]]:
    """Turn rasterised cells into one list of segments per row, runs merged by style."""
    rows: list[list[Segment]] = []
    chars = _CHARS
    for row in range(height):
        start = row * width
        segments: list[Segment] = []
        run_owner = owner[start]
        run: list[str] = []
        for cell in range(start, start + width):
            who = owner[cell]
            if who != run_owner:
                style = styles[run_owner] if run_owner >= 0 else None
                segments.append(Segment("".join(run), style))
                run = []
                run_owner = who
            run.append(chars[cells[cell]])
        segments.append(Segment("".join(run), styles[run_owner] if run_owner >= 0 else None))
        rows.append(segments)
    return rows
