"""Axis arithmetic: nice value ticks and time ticks for a chart of a given size."""

from __future__ import annotations

import math
import time

_TIME_STEPS = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400,
)

_LIMIT = 1e300


def nice_number(value: float, round_up: bool) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    value = max(value, 1e-300)  # subnormals: 10.0 ** -324 is 0.0
    exponent = math.floor(math.log10(value))
    fraction = value / 10**exponent
    if round_up:
        nice = 1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10
    else:
        nice = 1 if fraction < 1.5 else 2 if fraction < 3 else 5 if fraction < 7 else 10
    return nice * 10.0**exponent


def value_range(
    values_lo: float | None,
    values_hi: float | None,
    fixed_lo: float | None = None,
    fixed_hi: float | None = None,
) -> tuple[float, float]:
    """The y range to draw: fixed bounds where given, else the data's, never empty."""
    lo = fixed_lo if fixed_lo is not None else values_lo
    hi = fixed_hi if fixed_hi is not None else values_hi
    if lo is None or hi is None:
        lo, hi = (lo, hi) if lo is not None or hi is not None else (0.0, 1.0)
        lo = hi - 1.0 if lo is None else lo  # type: ignore[operator]
        hi = lo + 1.0 if hi is None else hi
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo = lo if math.isfinite(lo) else (hi - 1.0 if math.isfinite(hi) else 0.0)
        hi = hi if math.isfinite(hi) else lo + 1.0
    # Beyond this, hi - lo overflows; no real metric lives there.
    lo, hi = min(max(lo, -_LIMIT), _LIMIT), min(max(hi, -_LIMIT), _LIMIT)
    if hi < lo:
        lo, hi = hi, lo
    # Values that differ only by float noise (0.25 and 0.25000000000000006 from two
    # evaluations of the same quantile) are flat: a range below what a float can step
    # through would give ticks that never advance.
    if hi - lo <= max(abs(lo), abs(hi)) * 1e-9 or hi - lo < 1e-290:
        hi = lo
        pad = abs(lo) * 0.1 or 1.0
        new_lo = lo - pad if fixed_lo is None else lo
        if lo >= 0 and new_lo < 0:
            new_lo = 0.0  # a flat non-negative series (a queue at 0) gets no negative axis
        lo, hi = new_lo, (hi + pad if fixed_hi is None else hi)
        if hi == lo:
            hi = lo + 1.0
    return lo, hi


def value_ticks(
    lo: float, hi: float, max_ticks: int, fixed_lo: bool = False, fixed_hi: bool = False
) -> tuple[float, float, list[float]]:
    """Round ``lo``..``hi`` out to nice ticks (unless fixed) and list them."""
    max_ticks = max(2, max_ticks)
    step = nice_number(nice_number(hi - lo, False) / (max_ticks - 1), True)
    new_lo = lo if fixed_lo else math.floor(lo / step) * step
    new_hi = hi if fixed_hi else math.ceil(hi / step) * step
    # Data that starts at or just above zero reads best from zero.
    if not fixed_lo and lo >= 0 and new_lo > 0 and new_lo <= (new_hi - new_lo):
        new_lo = 0.0
    # Ticks by index, not by repeated addition: a step below the floats' resolution at
    # these values must not loop forever, and the count stays bounded whatever comes in.
    first = math.ceil(new_lo / step)
    count = math.floor((new_hi + step * 1e-9) / step) - first + 1 if math.isfinite(
        new_hi / step) and math.isfinite(new_lo / step) else 0
    ticks = []
    for index in range(first, first + min(max(count, 0), 4 * max_ticks)):
        tick = index * step
        ticks.append(0.0 if abs(tick) < step * 1e-9 else tick)
    return new_lo, new_hi, ticks


def time_format(span: float) -> str:
    if span <= 180:
        return "%H:%M:%S"
    if span <= 2 * 86400:
        return "%H:%M"
    return "%m-%d %H:%M" if span <= 14 * 86400 else "%m-%d"


def time_ticks(t0: float, t1: float, width: int) -> list[tuple[float, str]]:
    """Ticks at round local times, spaced so their labels do not touch."""
    span = t1 - t0
    if span <= 0 or width <= 0:
        return []
    fmt = time_format(span)
    label_width = len(time.strftime(fmt, time.localtime(t1))) + 2
    max_labels = max(1, width // label_width)
    # Never finer than the labels can tell apart (no "03:55 03:55").
    finest = 1 if "%S" in fmt else 60 if "%M" in fmt else 86400
    step = next((s for s in _TIME_STEPS if s >= finest and span / s <= max_labels),
                _TIME_STEPS[-1])
    offset = time.localtime(t0).tm_gmtoff
    first = math.ceil((t0 + offset) / step) * step - offset
    ticks = []
    tick = first
    while tick <= t1 and len(ticks) <= max_labels:
        ticks.append((tick, time.strftime(fmt, time.localtime(tick))))
        tick += step
    return ticks
