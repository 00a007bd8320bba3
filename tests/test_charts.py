"""The braille chart renderer: geometry, holes, thresholds, axes, and its fast path."""

from __future__ import annotations

import contextlib
import math
import random
import signal
from collections.abc import Iterator

import pytest
from rich.style import Style

from watchdeck.ui.charts import braille
from watchdeck.ui.charts.axes import time_ticks, value_ticks
from watchdeck.ui.charts.braille import PlotLine, PlotSeries, plot_cells
from watchdeck.ui.charts.timechart import render_timechart

RED, BLUE = Style(color="red"), Style(color="blue")


def dots(cells: list[int], width: int, height: int) -> set[tuple[int, int]]:
    """(x, y) of every lit dot."""
    lit = set()
    for cell_y in range(height):
        for cell_x in range(width):
            mask = cells[cell_y * width + cell_x]
            for column in (0, 1):
                for row in range(4):
                    if mask & braille._BITS[column][row]:
                        lit.add((cell_x * 2 + column, cell_y * 4 + row))
    return lit


def test_a_flat_line_lights_one_dot_row_across() -> None:
    series = PlotSeries([0.0, 10.0], [5.0, 5.0], RED)
    cells, owner, styles = plot_cells([series], 10, 2, 0, 10, 0, 10)
    lit = dots(cells, 10, 2)
    assert {x for x, _ in lit} == set(range(20))
    assert len({y for _, y in lit}) == 1
    assert all(owner[i] == 0 for i, c in enumerate(cells) if c)
    assert styles == [RED]


def test_high_values_are_drawn_at_the_top() -> None:
    cells, _, _ = plot_cells([PlotSeries([0.0, 10.0], [10.0, 0.0], RED)], 5, 3, 0, 10, 0, 10)
    lit = dots(cells, 5, 3)
    assert (0, 0) in lit and (9, 11) in lit  # top left to bottom right
    # A steep line stays connected: every column has at least one dot.
    assert {x for x, _ in lit} == set(range(10))


def test_nan_and_gaps_leave_holes() -> None:
    stamps = [float(t) for t in range(10)]
    values = [1.0] * 10
    values[5] = math.nan
    cells, _, _ = plot_cells([PlotSeries(stamps, values, RED)], 10, 1, 0, 9, 0, 2)
    columns = {x for x, _ in dots(cells, 10, 1)}
    hole = int(5 * 19 / 9 + 0.5)
    assert hole not in columns and 0 in columns and 19 in columns
    gappy = PlotSeries([0.0, 1, 2, 3, 7, 8, 9], [1.0] * 7, RED)  # nothing from 4 to 6
    cells, _, _ = plot_cells([gappy], 10, 1, 0, 9, 0, 2)
    columns = {x for x, _ in dots(cells, 10, 1)}
    assert not any(int(t * 19 / 9 + 0.5) in columns for t in (4.5, 5, 5.5, 6))


def test_later_series_own_shared_cells_and_thresholds_stay_behind() -> None:
    a = PlotSeries([0.0, 10.0], [5.0, 5.0], RED)
    b = PlotSeries([0.0, 10.0], [5.0, 5.0], BLUE)
    line = PlotLine(9.0, Style(color="yellow"))
    cells, owner, styles = plot_cells([a, b], 10, 3, 0, 10, 0, 10, [line])
    assert styles[2] == line.style
    assert {owner[i] for i, c in enumerate(cells) if c and owner[i] < 2} == {1}
    threshold_cells = [i for i, o in enumerate(owner) if o == 2]
    assert threshold_cells and all(i // 10 == 0 for i in threshold_cells)  # near the top


def test_fast_path_draws_exactly_what_the_general_path_draws() -> None:
    rng = random.Random(7)
    for _ in range(30):
        width = rng.randint(5, 80)
        n = rng.randint(2 * width + 3, 8 * width)
        stamps = [1000.0 + 15 * k for k in range(n)]
        values = [rng.uniform(-5, 50) for _ in range(n)]
        item = PlotSeries(stamps, values, RED)
        t0, t1 = stamps[0] - rng.uniform(0, 300), stamps[-1] + rng.uniform(0, 300)
        lo, hi = rng.uniform(-10, 10), rng.uniform(20, 60)
        dots_x, dots_y = width * 2, 5 * 4
        sx, sy = (dots_x - 1) / (t1 - t0), (dots_y - 1) / (hi - lo)
        fast = braille._dense_spans(item, t0, sx, sy, hi, dots_x, dots_y - 1)
        assert fast is not None
        assert fast == braille._general_spans(item, t0, sx, sy, hi, dots_x, dots_y - 1)


def test_fast_path_declines_data_it_cannot_draw() -> None:
    args = (0.0, 1.0, 1.0, 10.0, 40, 19)
    nan = PlotSeries([float(t) for t in range(100)], [1.0] * 50 + [math.nan] * 50, RED)
    holes = PlotSeries([float(t) for t in range(50)] + [float(t) for t in range(60, 100)],
                       [1.0] * 90, RED)
    sparse = PlotSeries([0.0, 10.0, 20.0], [1.0, 2.0, 3.0], RED)
    for item in (nan, holes, sparse):
        assert braille._dense_spans(item, *args) is None


def test_chart_has_value_and_time_axes_of_the_right_size() -> None:
    series = [PlotSeries([float(t) for t in range(0, 3600, 60)],
                         [float(t % 600) / 10 for t in range(0, 3600, 60)], RED)]
    strips = render_timechart(series, 80, 12, 0, 3600, unit="s")
    assert len(strips) == 12 and all(strip.cell_length == 80 for strip in strips)
    text = [strip.text for strip in strips]
    assert text[0].lstrip().startswith(("60s", "1min", "50s", "40s"))
    assert "0s" in "".join(text[:-1])
    assert ":" in text[-1]  # time labels on the last row


def test_no_data_draws_no_invented_axes() -> None:
    strips = render_timechart([], 60, 10, 0, 3600, unit="bytes")
    assert all(not strip.text.strip() for strip in strips)


def test_tiny_sizes_do_not_fail() -> None:
    series = [PlotSeries([0.0, 1.0], [1.0, 2.0], RED)]
    for width, height in [(1, 1), (2, 1), (0, 5), (5, 0), (3, 2), (23, 3)]:
        strips = render_timechart(series, width, height, 0, 1)
        assert len(strips) == max(height, 0)


def test_value_ticks_are_round_and_cover_the_data() -> None:
    lo, hi, ticks = value_ticks(12.7, 44.9, 6)
    assert lo <= 12.7 and hi >= 44.9
    assert ticks == sorted(ticks) and len(ticks) >= 3
    step = ticks[1] - ticks[0]
    assert step in (5, 10, 20)


@pytest.mark.parametrize(("span", "width"), [(300, 100), (3600, 100), (7 * 86400, 120),
                                             (120, 40)])
def test_time_labels_are_distinct_and_in_range(span: float, width: int) -> None:
    ticks = time_ticks(1_700_000_000, 1_700_000_000 + span, width)
    labels = [label for _, label in ticks]
    assert labels and len(set(labels)) == len(labels)
    assert all(1_700_000_000 <= t <= 1_700_000_000 + span for t, _ in ticks)


def test_a_flat_zero_series_has_no_negative_axis() -> None:
    from watchdeck.ui.charts.axes import value_range

    assert value_range(0.0, 0.0) == (0.0, 1.0)
    assert value_range(5.0, 5.0) == (4.5, 5.5)
    assert value_range(-2.0, -2.0)[0] < -2.0


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (rather than hang the suite) when the block runs past ``seconds``."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(("lo", "hi"), [
    (0.25, 0.25000000000000006),     # one quantile evaluated twice: float noise, not a range
    (1e9, 1e9 + 1e-7),               # a step below the floats' resolution at 1e9
    (0.0, 1e308), (-1e308, 1e308),   # hi - lo overflows
    (float("nan"), 1.0), (float("-inf"), float("inf")),
    (1e-300, 2e-300), (0.0, 5e-324), (5e-324, 1e-323),  # subnormals
])
def test_axes_end_on_any_values(lo: float, hi: float) -> None:
    """A regression: values equal but for float noise made the tick loop never advance,
    the console hung on its first frame and grew to gigabytes."""
    from watchdeck.ui.charts.axes import value_range

    with deadline(5):
        low, high = value_range(lo, hi)
        new_lo, new_hi, ticks = value_ticks(low, high, 6)
    assert math.isfinite(low) and math.isfinite(high) and low < high
    assert 1 <= len(ticks) <= 24
    assert ticks == sorted(ticks) and new_lo <= ticks[0]
    assert ticks[-1] <= new_hi * (1 + 1e-9) + 1e-300


def test_a_noisy_flat_series_renders() -> None:
    now = 1_700_000_000.0
    series = [PlotSeries([now + i for i in range(5)],
                         [0.25, 0.25000000000000006, 0.25, 0.24999999999999997, 0.25], RED)]
    with deadline(5):
        strips = render_timechart(series, 60, 12, now, now + 4, unit="s")
    assert len(strips) == 12
    assert "250ms" in "".join(strip.text for strip in strips)


def test_time_ticks_are_bounded() -> None:
    assert len(time_ticks(1.7e9, 1.7e9 + 1e12, 100)) <= 100 // 7 + 1
