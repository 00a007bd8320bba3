"""Value formatting by unit."""

from __future__ import annotations

import math

import pytest

from watchdeck.core.units import format_value, normalise_unit


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        # seconds: sub-second values scale down, long ones up to min/h/d
        (0.25, "s", "250ms"),
        (1.5, "s", "1.5s"),
        (0.0000025, "s", "2.5µs"),
        (90, "s", "1.5min"),
        (7200, "s", "2h"),
        (3 * 86400, "s", "3d"),
        # milliseconds are converted to seconds first
        (250, "ms", "250ms"),
        (1500, "ms", "1.5s"),
        (0.5, "ms", "500µs"),
        # bytes are binary (KiB, MiB)
        (512, "bytes", "512 B"),
        (1536, "bytes", "1.5 KiB"),
        (3 * 1024**3, "bytes", "3 GiB"),
        (2_000_000, "decbytes", "2 MB"),
        # percentages
        (42, "percent", "42%"),
        (0.5, "percentunit", "50%"),
        (0.123, "percentunit", "12.3%"),
        # SI prefixes
        (999, "short", "999"),
        (1234, "short", "1.23k"),
        (2_500_000, "short", "2.5M"),
        (1500, "reqps", "1.5k req/s"),
        (12, "reqps", "12 req/s"),
        # no unit: the plain number
        (3.14159, None, "3.14"),
        (123.4, None, "123"),
        (12.34, None, "12.3"),
        (0.001234, None, "0.0012"),
    ],
)
def test_format_value(value: float, unit: str | None, text: str) -> None:
    assert format_value(value, unit) == text


@pytest.mark.parametrize(
    ("unit", "text"),
    [("s", "0s"), ("ms", "0s"), ("bytes", "0 B"), ("percent", "0%"), ("percentunit", "0%"),
     ("short", "0"), ("reqps", "0 req/s"), (None, "0")],
)
def test_zero(unit: str | None, text: str) -> None:
    assert format_value(0, unit) == text
    assert format_value(-0.0, unit) == text


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (-0.25, "s", "-250ms"),
        (-90, "s", "-1.5min"),
        (-2048, "bytes", "-2 KiB"),
        (-1500, "short", "-1.5k"),
        (-5, "percent", "-5%"),
        (-0.5, "percentunit", "-50%"),
        (-1500, "reqps", "-1.5k req/s"),
    ],
)
def test_negative_values_keep_their_sign_and_scale(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


@pytest.mark.parametrize("unit", [None, "s", "ms", "bytes", "percent", "percentunit", "short",
                                  "reqps", "widgets"])
def test_non_finite_and_missing_values_stay_readable(unit: str | None) -> None:
    assert format_value(math.nan, unit) == "NaN"
    assert format_value(math.inf, unit) == "+Inf"
    assert format_value(-math.inf, unit) == "-Inf"
    missing = format_value(None, unit)
    assert missing  # something is shown, not an empty cell
    assert not any(ch.isdigit() for ch in missing)


def test_unknown_unit_is_kept_as_a_suffix() -> None:
    assert format_value(5, "widgets") == "5 widgets"
    assert format_value(2500, "widgets") == "2.5k widgets"


def test_decimals_fix_the_number_of_places() -> None:
    assert format_value(1.5, "s", decimals=2) == "1.50s"
    assert format_value(3.14159, None, decimals=0) == "3"
    assert format_value(0.5, "percentunit", decimals=1) == "50.0%"


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("seconds", "s"), ("%", "percent"), ("ratio", "percentunit"), ("req/s", "reqps"),
     ("B", "bytes"), ("", "none"), (None, "none"), ("s", "s"), ("Bps", "Bps"),
     ("furlongs", "furlongs")],
)
def test_normalise_unit(alias: str | None, canonical: str) -> None:
    assert normalise_unit(alias) == canonical


def test_aliases_format_like_their_canonical_unit() -> None:
    assert format_value(0.25, "seconds") == format_value(0.25, "s") == "250ms"
    assert format_value(0.5, "ratio") == "50%"
