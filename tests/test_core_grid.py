"""Arranging panels on the terminal grid, and moving focus between them."""

from __future__ import annotations

import pytest

from watchdeck.core.grid import (
    MIN_FR_HEIGHT,
    MIN_PANEL_WIDTH,
    Arrangement,
    Cell,
    arrange,
    neighbour,
)


def check_invariants(arrangement: Arrangement, count: int) -> None:
    """Every panel placed once; bands are filled exactly, left to right, without overlap."""
    assert len(arrangement.cells) == count
    bands: dict[int, list[Cell]] = {}
    for cell in arrangement.cells:
        assert cell.span >= 1
        assert 0 <= cell.column < arrangement.columns
        bands.setdefault(cell.band, []).append(cell)
    assert sorted(bands) == list(range(len(bands)))
    assert len(arrangement.band_heights) == len(bands)
    for cells in bands.values():
        column = 0
        for cell in cells:
            assert cell.column == column
            column += cell.span
        assert column == arrangement.columns  # the band fills the width
    assert all(height > 0 for height in arrangement.band_heights)


def test_wide_terminal_keeps_the_file_layout() -> None:
    panels = [(6, 12), (6, 12), (4, 8), (4, 8), (4, 8)]
    result = arrange(panels, columns=12, width=240, height=60)
    check_invariants(result, 5)
    assert result.cells == (
        Cell(0, 0, 6), Cell(0, 6, 6),
        Cell(1, 0, 4), Cell(1, 4, 4), Cell(1, 8, 4),
    )
    assert result.band_heights == (12, 8)


def test_band_with_spare_columns_is_widened_to_fill() -> None:
    result = arrange([(4, 10), (4, 10)], columns=12, width=240, height=40)
    check_invariants(result, 2)
    assert result.cells == (Cell(0, 0, 4), Cell(0, 4, 8))


def test_panel_that_does_not_fit_starts_a_new_band() -> None:
    result = arrange([(8, 10), (8, 10)], columns=12, width=240, height=40)
    check_invariants(result, 2)
    assert [c.band for c in result.cells] == [0, 1]
    assert [c.span for c in result.cells] == [12, 12]


def test_band_height_is_the_tallest_panel() -> None:
    result = arrange([(6, 7), (6, 15)], columns=12, width=200, height=50)
    assert result.band_heights == (15,)


def test_narrow_terminal_reflows_to_fewer_panels_per_band() -> None:
    # four quarter-width panels: at 80 columns a quarter is 20 cells, below the minimum
    # readable width (MIN_PANEL_WIDTH), so they go two per band
    panels = [(3, 7)] * 4
    wide = arrange(panels, columns=12, width=200, height=40)
    assert len(set(c.band for c in wide.cells)) == 1
    narrow = arrange(panels, columns=12, width=80, height=40)
    check_invariants(narrow, 4)
    assert [c.band for c in narrow.cells] == [0, 0, 1, 1]
    for cell in narrow.cells:
        assert cell.span * 80 / 12 >= MIN_PANEL_WIDTH


def test_very_narrow_terminal_stacks_every_panel() -> None:
    panels = [(6, 12), (6, 12), (3, 7), (3, 7)]
    result = arrange(panels, columns=12, width=40, height=30)
    check_invariants(result, 4)
    assert [c.band for c in result.cells] == [0, 1, 2, 3]
    assert all(c.span == 12 for c in result.cells)


def test_fr_heights_share_the_free_rows() -> None:
    # 50 rows, one fixed band of 10: 40 rows shared 1:3 between two fr bands
    panels = [(12, 10), (12, "1fr"), (12, "3fr")]
    result = arrange(panels, columns=12, width=200, height=50)
    check_invariants(result, 3)
    assert result.band_heights == (10, 10, 30)


def test_single_fr_band_takes_all_free_rows() -> None:
    result = arrange([(6, 12), (6, 12), (12, "1fr")], columns=12, width=200, height=50)
    assert result.band_heights == (12, 38)


def test_fixed_height_wins_in_a_mixed_band() -> None:
    result = arrange([(6, 9), (6, "2fr")], columns=12, width=200, height=50)
    assert result.band_heights == (9,)


def test_fr_bands_keep_a_minimum_height_when_rows_run_out() -> None:
    panels = [(12, 30), (12, "1fr"), (12, "1fr")]
    result = arrange(panels, columns=12, width=200, height=20)
    check_invariants(result, 3)
    assert result.band_heights[0] == 30
    assert all(h >= MIN_FR_HEIGHT for h in result.band_heights[1:])


@pytest.mark.parametrize(("width", "height"), [(20, 6), (0, 0), (1, 1), (-5, -5), (20, 0)])
@pytest.mark.parametrize("columns", [12, 1, 0, 48])
def test_tiny_or_degenerate_terminals_do_not_crash(width: int, height: int, columns: int) -> None:
    panels = [(6, 12), (6, "1fr"), (3, 7), (12, "2fr"), (1, 3)]
    result = arrange(panels, columns=columns, width=width, height=height)
    check_invariants(result, len(panels))


def test_no_panels() -> None:
    result = arrange([], columns=12, width=100, height=40)
    assert result.cells == ()
    assert result.band_heights == ()


def test_span_wider_than_columns_is_clamped() -> None:
    result = arrange([(20, 10)], columns=12, width=200, height=40)
    assert result.cells == (Cell(0, 0, 12),)


# --------------------------------------------------------------------------- neighbour


@pytest.fixture
def dashboard() -> Arrangement:
    # band 0: [0: 0-5][1: 6-11]; band 1: [2: 0-3][3: 4-7][4: 8-11]; band 2: [5: 0-11]
    panels = [(6, 12), (6, 12), (4, 8), (4, 8), (4, 8), (12, 10)]
    result = arrange(panels, columns=12, width=240, height=60)
    assert [c.band for c in result.cells] == [0, 0, 1, 1, 1, 2]
    return result


def test_neighbour_left_right(dashboard: Arrangement) -> None:
    assert neighbour(dashboard, 0, "right") == 1
    assert neighbour(dashboard, 1, "left") == 0
    assert neighbour(dashboard, 3, "left") == 2
    assert neighbour(dashboard, 3, "right") == 4
    assert neighbour(dashboard, 0, "left") is None  # first panel
    assert neighbour(dashboard, 5, "right") is None  # last panel
    # reading order continues into the next band
    assert neighbour(dashboard, 1, "right") == 2
    assert neighbour(dashboard, 2, "left") == 1


def test_neighbour_up_down_picks_the_closest_centre(dashboard: Arrangement) -> None:
    assert neighbour(dashboard, 0, "down") == 2  # centre 3 -> [0-3] centre 2
    assert neighbour(dashboard, 1, "down") == 4  # centre 9 -> [8-11] centre 10
    assert neighbour(dashboard, 2, "up") == 0
    assert neighbour(dashboard, 4, "up") == 1
    assert neighbour(dashboard, 3, "down") == 5
    assert neighbour(dashboard, 5, "up") == 3  # centre 6 -> middle panel
    assert neighbour(dashboard, 0, "up") is None
    assert neighbour(dashboard, 5, "down") is None


def test_neighbour_bad_index() -> None:
    result = arrange([(6, 10)], columns=12, width=200, height=40)
    assert neighbour(result, 5, "left") is None
    assert neighbour(result, -1, "down") is None
    assert neighbour(arrange([], 12, 100, 40), 0, "right") is None
