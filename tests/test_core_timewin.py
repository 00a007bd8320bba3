"""The time window and the step arithmetic behind every range query."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator

import pytest

from watchdeck.core.timewin import (
    MAX_POINTS,
    MAX_RANGE,
    MIN_RANGE,
    TimeWindow,
    aligned_range,
    choose_step,
    rate_interval,
)

DAY = 86400.0
NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


# --------------------------------------------------------------------------- choose_step


def test_one_point_per_column() -> None:
    # 1h over 120 columns wants 30s per point; 30 is a nice step
    assert choose_step(3600, 120, min_step=1) == 30.0
    # 1h over 360 columns wants 10s
    assert choose_step(3600, 360, min_step=1) == 10.0


def test_step_rounds_up_to_a_nice_value() -> None:
    # 1h over 100 columns wants 36s; the next nice step is 40s (never finer than wanted)
    step = choose_step(3600, 100, min_step=1)
    assert step >= 36
    assert step == 40.0


def test_never_finer_than_the_scrape_interval() -> None:
    # 5m over 300 columns would want 1s, but the data only has a point every 15s
    assert choose_step(300, 300, min_step=15) == 15.0
    assert choose_step(60, 1000, min_step=30) == 30.0


@pytest.mark.parametrize(
    ("range_seconds", "columns"),
    [(30 * DAY, 100_000), (366 * DAY, 100_000), (7 * DAY, 50_000), (3 * 3600, 20_000)],
)
def test_never_more_than_max_points(range_seconds: float, columns: int) -> None:
    step = choose_step(range_seconds, columns, min_step=1)
    assert range_seconds / step <= MAX_POINTS
    start, end = aligned_range(NOW - range_seconds, NOW, step)
    # Prometheus refuses (end - start) / step > 11000
    assert (end - start) / step <= MAX_POINTS


def test_30_days_at_100000_columns() -> None:
    # 30d / 11000 points = 235.6s; the smallest nice step above that is 4m
    assert choose_step(30 * DAY, 100_000, min_step=1) == 240.0


def test_steps_are_shared_by_similar_widths() -> None:
    # panels of nearly equal width land on the same step, so they can share a feed
    # (3600/100 = 36s and 3600/115 = 31.3s both round up to 40s)
    assert choose_step(3600, 100) == choose_step(3600, 115) == 40.0


def test_sub_second_steps() -> None:
    # a 1m window over 240 columns with a 0.25s scrape interval
    assert choose_step(60, 240, min_step=0.25) == pytest.approx(0.25)


@pytest.mark.parametrize("columns", [0, -5])
def test_zero_or_negative_columns_do_not_crash(columns: int) -> None:
    step = choose_step(3600, columns)
    assert step >= 3600  # treated as a single column


def test_very_long_ranges_get_whole_day_steps() -> None:
    step = choose_step(366 * DAY, 1)
    assert step >= 366 * DAY
    assert step % DAY == 0


# --------------------------------------------------------------------------- aligned_range


@pytest.mark.parametrize(
    ("start", "end", "step"),
    [
        (NOW - 3600, NOW, 30.0),
        (NOW - 3600 + 7.3, NOW + 7.3, 30.0),
        (NOW - 86400 + 123.4, NOW + 123.4, 240.0),
        (1000.5, 1100.25, 15.0),
        (NOW - 60, NOW - 0.001, 0.5),
    ],
)
def test_aligned_range_is_on_step_multiples_and_covers_the_range(
    start: float, end: float, step: float
) -> None:
    a_start, a_end = aligned_range(start, end, step)
    for bound in (a_start, a_end):
        assert math.isclose(bound / step, round(bound / step), abs_tol=1e-6)
    assert a_start <= start + 1e-9  # the whole window's start is covered
    assert end - step < a_end <= end  # ends on the last whole step, never in the future
    assert a_end - a_start >= (end - start) - step  # no more than one step lost


def test_aligned_range_is_stable_while_the_window_slides_within_a_step() -> None:
    first = aligned_range(NOW - 3600 + 1, NOW + 1, 60)
    second = aligned_range(NOW - 3600 + 20, NOW + 20, 60)
    assert first == second


def test_aligned_range_exact_multiples() -> None:
    assert aligned_range(600, 1200, 60) == (600, 1200)


# --------------------------------------------------------------------------- rate_interval


def test_rate_interval_is_at_least_four_scrapes() -> None:
    assert rate_interval(15, 15) == 60


def test_rate_interval_is_at_least_one_step_plus_a_scrape() -> None:
    assert rate_interval(300, 15) == 315


# --------------------------------------------------------------------------- TimeWindow


def test_default_window_is_live() -> None:
    window = TimeWindow()
    assert window.live
    assert window.bounds(now=NOW) == (NOW - 3600, NOW)


def test_paused_freezes_at_now_and_resumed_goes_back_to_live() -> None:
    window = TimeWindow(range=1800)
    paused = window.paused(now=NOW)
    assert not paused.live
    assert paused.end == NOW
    assert paused.range == 1800
    assert paused.bounds(now=NOW + 500) == (NOW - 1800, NOW)  # time moving does not move it
    assert paused.paused(now=NOW + 99) == paused  # pausing a fixed window changes nothing
    resumed = paused.resumed()
    assert resumed.live
    assert resumed.range == 1800
    assert resumed.bounds(now=NOW + 500) == (NOW + 500 - 1800, NOW + 500)


def test_pause_without_now_uses_the_clock() -> None:
    before = time.time()
    paused = TimeWindow().paused()
    assert paused.end is not None
    assert before <= paused.end <= time.time()


def test_shift_back_by_half_a_range() -> None:
    shifted = TimeWindow(range=3600).shifted(-0.5, now=NOW)
    assert shifted.end == NOW - 1800
    assert shifted.range == 3600
    assert not shifted.live


def test_shift_forward_from_the_past() -> None:
    window = TimeWindow(range=3600, end=NOW - 7200)
    assert window.shifted(0.5, now=NOW).end == NOW - 5400


def test_shift_never_goes_past_now() -> None:
    window = TimeWindow(range=3600, end=NOW - 600)
    assert window.shifted(0.5, now=NOW).end == NOW


def test_shifting_a_live_window_forward_keeps_it_live() -> None:
    live = TimeWindow(range=3600)
    assert live.shifted(0.5, now=NOW) == live
    assert live.shifted(-0.5, now=NOW).end == NOW - 1800


def test_zoom_live_window_changes_range_only() -> None:
    window = TimeWindow(range=3600)
    assert window.zoomed(2, now=NOW) == TimeWindow(range=7200)
    assert window.zoomed(0.5, now=NOW) == TimeWindow(range=1800)


def test_zoom_fixed_window_keeps_its_centre() -> None:
    window = TimeWindow(range=3600, end=NOW - 10 * 3600)
    centre = window.end - window.range / 2
    wider = window.zoomed(2, now=NOW)
    assert wider.range == 7200
    assert wider.end - wider.range / 2 == pytest.approx(centre)
    narrower = window.zoomed(0.5, now=NOW)
    assert narrower.range == 1800
    assert narrower.end - narrower.range / 2 == pytest.approx(centre)


def test_zoom_out_of_a_recent_fixed_window_stops_at_now() -> None:
    window = TimeWindow(range=3600, end=NOW - 60)
    wider = window.zoomed(4, now=NOW)
    assert wider.range == 4 * 3600
    assert wider.end == NOW


def test_zoom_clamps_to_min_and_max_range() -> None:
    assert TimeWindow(range=120).zoomed(0.01, now=NOW).range == MIN_RANGE
    assert TimeWindow(range=300 * DAY).zoomed(10, now=NOW).range == MAX_RANGE
    fixed = TimeWindow(range=120, end=NOW - DAY).zoomed(0.001, now=NOW)
    assert fixed.range == MIN_RANGE


def test_with_range_clamps() -> None:
    assert TimeWindow().with_range(1).range == MIN_RANGE
    assert TimeWindow().with_range(10 * 366 * DAY).range == MAX_RANGE
    assert TimeWindow().with_range(900).range == 900


@pytest.fixture
def utc() -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def test_describe_live() -> None:
    assert TimeWindow(range=3600).describe() == "last 1h"
    assert TimeWindow(range=5400).describe() == "last 1h30m"
    assert TimeWindow(range=7 * DAY).describe() == "last 1w"


def test_describe_fixed(utc: None) -> None:
    # NOW is 2023-11-14 22:13:20 UTC
    window = TimeWindow(range=1800, end=NOW)
    assert window.describe() == "11-14 21:43:20 → 22:13:20 (30m)"


def test_windows_are_immutable_values() -> None:
    window = TimeWindow(range=3600)
    with pytest.raises(AttributeError):
        window.range = 5  # type: ignore[misc]
    assert TimeWindow(3600, None) == TimeWindow(3600)
    assert hash(TimeWindow(3600, NOW)) == hash(TimeWindow(3600, NOW))


def test_aligning_to_the_scrape_interval_keeps_the_newest_point_fresh() -> None:
    step, scrape = 90.0, 15.0
    start, end = aligned_range(NOW - 1800, NOW + 40, step, align=scrape)
    assert end % scrape == 0 and NOW + 40 - end < scrape
    assert (end - start) % step == 0 and end - start >= 1800
    # Polls within one scrape interval ask for the same points.
    assert aligned_range(NOW - 1800 + 1, NOW + 41, step, align=scrape) == (start, end)
