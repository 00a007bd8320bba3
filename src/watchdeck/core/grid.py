"""Arranging a layout's panels on the terminal: bands of panels that reflow when narrow.

Panels fill bands (rows) left to right in file order, as many grid columns as the layout
has. A band's height is that of its tallest panel; ``Nfr`` heights share the rows the
fixed bands leave free. When a column would be too narrow to read, panels widen (fewer
per band) instead of shrinking into slivers; a dashboard taller than the terminal
scrolls.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MIN_PANEL_WIDTH = 30
MIN_FR_HEIGHT = 6
_FR = re.compile(r"^(\d+(?:\.\d+)?)fr$")


@dataclass(frozen=True, slots=True)
class Cell:
    band: int
    column: int
    span: int


@dataclass(frozen=True, slots=True)
class Arrangement:
    columns: int
    cells: tuple[Cell, ...]
    band_heights: tuple[int, ...]


def _fr(height: int | str) -> float | None:
    if isinstance(height, str):
        match = _FR.match(height)
        return float(match.group(1)) if match else 1.0
    return None


def arrange(
    panels: list[tuple[int, int | str]],
    columns: int,
    width: int,
    height: int,
    min_panel_width: int = MIN_PANEL_WIDTH,
) -> Arrangement:
    """Place ``(width_in_columns, height)`` panels for a ``width`` x ``height`` terminal."""
    columns = max(columns, 1)
    column_width = max(width, 1) / columns
    min_span = min(columns, max(1, math.ceil(min_panel_width / column_width)))

    bands: list[list[int]] = []
    spans: list[int] = []
    used = columns
    for index, (span, _) in enumerate(panels):
        span = min(columns, max(span, min_span))
        if used + span > columns:
            bands.append([])
            used = 0
        bands[-1].append(index)
        spans.append(span)
        used += span

    cells: list[Cell | None] = [None] * len(panels)
    for band_index, members in enumerate(bands):
        spare = columns - sum(spans[i] for i in members)
        if spare and members:
            spans[members[-1]] += spare  # a band always fills the width
        column = 0
        for member in members:
            cells[member] = Cell(band_index, column, spans[member])
            column += spans[member]

    fixed: list[int | None] = []
    shares: list[float] = []
    for members in bands:
        heights = [panels[i][1] for i in members]
        rows = [h for h in heights if isinstance(h, int)]
        if rows:
            fixed.append(max(rows))
            shares.append(0.0)
        else:
            fixed.append(None)
            shares.append(max(_fr(h) or 1.0 for h in heights))
    free = height - sum(h for h in fixed if h is not None)
    total_share = sum(shares)
    band_heights = []
    for rows, share in zip(fixed, shares):
        if rows is not None:
            band_heights.append(rows)
        else:
            band_heights.append(max(MIN_FR_HEIGHT, int(free * share / total_share)) if free > 0
                                else MIN_FR_HEIGHT + 4)
    return Arrangement(columns, tuple(c for c in cells if c is not None), tuple(band_heights))


def neighbour(arrangement: Arrangement, index: int, direction: str) -> int | None:
    """The panel to focus from ``index`` when moving ``direction`` (left/right/up/down)."""
    cells = arrangement.cells
    if not cells or not 0 <= index < len(cells):
        return None
    here = cells[index]
    centre = here.column + here.span / 2
    if direction in ("left", "right"):
        order = sorted(range(len(cells)), key=lambda i: (cells[i].band, cells[i].column))
        position = order.index(index)
        step = -1 if direction == "left" else 1
        target = position + step
        return order[target] if 0 <= target < len(order) else None
    band = here.band + (-1 if direction == "up" else 1)
    candidates = [i for i, c in enumerate(cells) if c.band == band]
    if not candidates:
        return None
    return min(candidates, key=lambda i: abs(cells[i].column + cells[i].span / 2 - centre))
