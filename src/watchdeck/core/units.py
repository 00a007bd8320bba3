"""Human formatting of sample values by unit (Grafana's unit names where they exist)."""

from __future__ import annotations

import math
from collections.abc import Callable

# Units a panel may declare. Aliases map onto these.
UNITS = (
    "none", "short", "s", "ms", "us", "ns", "bytes", "decbytes", "bps", "Bps",
    "percent", "percentunit", "reqps", "ops", "tokps", "watt", "celsius", "hertz",
)
_ALIASES = {
    "": "none", "seconds": "s", "sec": "s", "milliseconds": "ms", "µs": "us",
    "microseconds": "us", "nanoseconds": "ns", "b": "bytes", "byte": "bytes", "%": "percent",
    "ratio": "percentunit", "req/s": "reqps", "rps": "reqps", "ops/s": "ops", "w": "watt",
    "°c": "celsius", "c": "celsius", "hz": "hertz", "tok/s": "tokps", "tokens/s": "tokps",
}


def normalise_unit(unit: str | None) -> str:
    """Return the canonical unit name for ``unit`` (unknown units are kept as a suffix)."""
    if unit is None:
        return "none"
    key = unit.strip()
    if key in UNITS:
        return key
    return _ALIASES.get(key.lower(), key)


def _number(value: float, decimals: int | None) -> str:
    if decimals is not None:
        return f"{value:.{decimals}f}"
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if magnitude >= 0.01:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def _scaled(value: float, steps: list[tuple[float, str]], decimals: int | None) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0" + next(suffix for factor, suffix in steps if factor == 1)
    factor, suffix = steps[0]
    for step_factor, step_suffix in steps:
        if magnitude >= step_factor:
            factor, suffix = step_factor, step_suffix
    return f"{_number(value / factor, decimals)}{suffix}"


_SI = [(1, ""), (1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T"), (1e15, "P")]
_BIN = [(1, " B"), (1024, " KiB"), (1024**2, " MiB"), (1024**3, " GiB"), (1024**4, " TiB"),
        (1024**5, " PiB")]
_DEC_BYTES = [(1, " B"), (1e3, " kB"), (1e6, " MB"), (1e9, " GB"), (1e12, " TB"), (1e15, " PB")]
_TIME = [(1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1, "s")]


def _seconds(value: float, decimals: int | None) -> str:
    magnitude = abs(value)
    if magnitude >= 3600 * 24:
        return f"{_number(value / 86400, decimals)}d"
    if magnitude >= 3600:
        return f"{_number(value / 3600, decimals)}h"
    if magnitude >= 60:
        return f"{_number(value / 60, decimals)}min"
    return _scaled(value, _TIME, decimals)


_FORMATTERS: dict[str, Callable[[float, int | None], str]] = {
    "none": lambda v, d: _number(v, d),
    "short": lambda v, d: _scaled(v, _SI, d),
    "s": _seconds,
    "ms": lambda v, d: _seconds(v / 1e3, d),
    "us": lambda v, d: _seconds(v / 1e6, d),
    "ns": lambda v, d: _seconds(v / 1e9, d),
    "bytes": lambda v, d: _scaled(v, _BIN, d),
    "decbytes": lambda v, d: _scaled(v, _DEC_BYTES, d),
    "bps": lambda v, d: _scaled(v, _SI, d) + "b/s",
    "Bps": lambda v, d: _scaled(v, _BIN, d) + "/s",
    "percent": lambda v, d: f"{_number(v, d)}%",
    "percentunit": lambda v, d: f"{_number(v * 100, d)}%",
    "reqps": lambda v, d: _scaled(v, _SI, d) + " req/s",
    "ops": lambda v, d: _scaled(v, _SI, d) + " ops/s",
    "tokps": lambda v, d: _scaled(v, _SI, d) + " tok/s",
    "watt": lambda v, d: _scaled(v, _SI, d) + "W",
    "celsius": lambda v, d: f"{_number(v, d)}°C",
    "hertz": lambda v, d: _scaled(v, _SI, d) + "Hz",
}


def format_value(value: float | None, unit: str | None = None, decimals: int | None = None) -> str:
    """Format ``value`` for display in ``unit``; NaN, infinities and ``None`` stay readable."""
    if value is None:
        return "–"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    canonical = normalise_unit(unit)
    formatter = _FORMATTERS.get(canonical)
    if formatter is None:
        return f"{_scaled(value, _SI, decimals)} {canonical}"
    return formatter(value, decimals)
