"""Prometheus-style durations (``90s``, ``1h30m``, ``250ms``) to and from seconds."""

from __future__ import annotations

import math
import re

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


class DurationError(ValueError):
    """A duration that cannot be read."""


def parse_duration(value: str | int | float) -> float:
    """Return ``value`` in seconds.

    Accepts numbers (seconds) and strings made of ``<number><unit>`` parts in any order
    of decreasing unit, e.g. ``5m``, ``1h30m``, ``1.5s``, ``250ms``.
    """
    if isinstance(value, bool):
        raise DurationError(f"bad duration {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip()
        if not text:
            raise DurationError("empty duration")
        try:
            seconds = float(text)
        except ValueError:
            pos = 0
            seconds = 0.0
            last_unit = float("inf")
            for match in _PART.finditer(text):
                unit = _UNITS[match.group(2)]
                if match.start() != pos or unit >= last_unit:
                    break  # a gap, or units not in decreasing order (1m1h, 5m5m)
                seconds += float(match.group(1)) * unit
                last_unit = unit
                pos = match.end()
            if pos != len(text) or pos == 0:
                raise DurationError(
                    f"bad duration {value!r} (expected e.g. 30s, 5m, 1h30m, 250ms)"
                ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise DurationError(f"bad duration {value!r} (must be a finite, non-negative time)")
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds compactly as Prometheus would accept them back (``1h30m``, ``45s``)."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    remaining = round(seconds)
    if abs(seconds - remaining) > 1e-6:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if remaining >= size:
            count, remaining = divmod(remaining, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_age(seconds: float) -> str:
    """A human age to two units at most: ``42s``, ``3m12s``, ``2h5m``, ``3d4h``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    for unit, size, smaller, small_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60),
                                            ("m", 60, "s", 1)):
        if whole >= size:
            count, rest = divmod(whole, size)
            rest //= small_size
            return f"{count}{unit}{rest}{smaller}" if rest else f"{count}{unit}"
    return f"{whole}s"  # pragma: no cover - unreachable
