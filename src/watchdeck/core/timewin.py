"""The global time window (live, paused, shifted, zoomed) and query-step arithmetic."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from watchdeck.core.durations import format_duration

#: Prometheus (and Thanos, Loki) refuse range queries with more points per series.
MAX_POINTS = 11_000
MIN_RANGE = 60.0
MAX_RANGE = 366 * 86400.0

# Steps a query may use, in seconds. Dense enough that rounding up loses little
# resolution (neighbours differ by at most 1.5x) while equal-width panels share feeds and
# the points do not jump about as the window slides.
_NICE_STEPS = (
    1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 360, 480,
    600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600, 28800, 43200, 86400,
)


def choose_step(range_seconds: float, columns: int, min_step: float = 1.0) -> float:
    """The query step for a chart ``columns`` cells wide showing ``range_seconds``.

    One point per column, never finer than ``min_step`` (the scrape interval), and never
    more than :data:`MAX_POINTS` points per series.
    """
    columns = max(int(columns), 1)
    wanted = max(range_seconds / columns, min_step, range_seconds / MAX_POINTS, 0.001)
    if wanted < 1:
        return round(wanted, 3)
    for nice in _NICE_STEPS:
        if nice >= wanted - 1e-9:
            return float(nice)
    return float(math.ceil(wanted / 86400) * 86400)


def aligned_range(start: float, end: float, step: float, align: float | None = None
                  ) -> tuple[float, float]:
    """Snap a range's end to a multiple of ``align`` (default: the step) and its start to
    whole steps before it, so successive polls ask for the same points.

    Aligning to the scrape interval rather than a long step keeps the newest point at
    most one scrape old: the points move only when there can be new data.
    """
    align = step if align is None or align <= 0 else min(align, step)
    aligned_end = math.floor(end / align) * align
    points = math.ceil((end - start) / step)
    return aligned_end - points * step, aligned_end


def rate_interval(step: float, scrape_interval: float) -> float:
    """Grafana's ``$__rate_interval``: at least four scrapes, and one step plus a scrape."""
    return max(step + scrape_interval, 4 * scrape_interval)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """``range`` seconds ending ``end`` (Unix seconds), or ending now when ``end`` is None."""

    range: float = 3600.0
    end: float | None = None

    @property
    def live(self) -> bool:
        return self.end is None

    def bounds(self, now: float | None = None) -> tuple[float, float]:
        end = self.end if self.end is not None else (time.time() if now is None else now)
        return end - self.range, end

    def with_range(self, seconds: float) -> TimeWindow:
        return replace(self, range=min(max(seconds, MIN_RANGE), MAX_RANGE))

    def paused(self, now: float | None = None) -> TimeWindow:
        """Freeze a live window at ``now``; a fixed window stays as it is."""
        if self.end is not None:
            return self
        return replace(self, end=time.time() if now is None else now)

    def resumed(self) -> TimeWindow:
        """Back to live, keeping the range."""
        return replace(self, end=None)

    def shifted(self, fraction: float, now: float | None = None) -> TimeWindow:
        """Move by ``fraction`` of the range (negative = back in time); never past now.

        A live window already ends now: moving it forward changes nothing.
        """
        if self.end is None and fraction > 0:
            return self
        now = time.time() if now is None else now
        end = (self.end if self.end is not None else now) + fraction * self.range
        return replace(self, end=min(end, now))

    def zoomed(self, factor: float, now: float | None = None) -> TimeWindow:
        """Scale the range by ``factor`` (2 = zoom out); a fixed window keeps its centre."""
        new_range = min(max(self.range * factor, MIN_RANGE), MAX_RANGE)
        if self.end is None:
            return replace(self, range=new_range)
        now = time.time() if now is None else now
        centre = self.end - self.range / 2
        return replace(self, range=new_range, end=min(centre + new_range / 2, now))

    def describe(self) -> str:
        if self.end is None:
            return f"last {format_duration(self.range)}"
        start = time.strftime("%m-%d %H:%M:%S", time.localtime(self.end - self.range))
        end = time.strftime("%H:%M:%S", time.localtime(self.end))
        return f"{start} → {end} ({format_duration(self.range)})"
