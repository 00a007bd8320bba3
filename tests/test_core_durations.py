"""Prometheus-style durations: parsing and formatting."""

from __future__ import annotations

import math

import pytest

from watchdeck.core.durations import DurationError, format_age, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300.0),
        ("90s", 90.0),
        ("1h30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("1y", 365 * 86400.0),
        ("1m500ms", 60.5),
        ("0s", 0.0),
        ("  5m  ", 300.0),  # surrounding whitespace is tolerated
        ("30", 30.0),  # a bare number is seconds
        ("0.5", 0.5),
    ],
)
def test_parse_duration_strings(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("number", "seconds"), [(0, 0.0), (15, 15.0), (2.5, 2.5)])
def test_parse_duration_numbers_are_seconds(number: float, seconds: float) -> None:
    result = parse_duration(number)
    assert result == seconds
    assert isinstance(result, float)


@pytest.mark.parametrize(
    "bad",
    [
        "5x",  # unknown unit
        "",  # empty
        "   ",  # blank
        "-1s",  # negative
        "-1",  # negative number as text
        "m5",  # unit before number
        "5m x",  # trailing garbage
        "5 m",  # space inside
        "1h30",  # trailing number without unit
        "ms",  # unit alone
        "1.s",  # malformed decimal
        "nan",
        "inf",
        "1e3s",
    ],
)
def test_parse_duration_rejects_bad_text(bad: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(bad)


@pytest.mark.parametrize("bad", [-1, -0.5, math.inf, -math.inf, math.nan, True, False])
def test_parse_duration_rejects_bad_numbers(bad: float) -> None:
    with pytest.raises(DurationError):
        parse_duration(bad)


def test_duration_error_is_a_value_error_and_names_the_input() -> None:
    with pytest.raises(ValueError, match="5x"):
        parse_duration("5x")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-5, "0s"),
        (0.25, "250ms"),
        (1, "1s"),
        (45, "45s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "1d"),
        (86400 + 3600 + 1, "1d1h1s"),
        (604800, "1w"),
        (1.5, "1.5s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "seconds", [0.001, 0.25, 0.5, 1, 1.5, 15, 59, 60, 61, 300, 3599, 3600, 5400, 86399,
                86400, 90061, 604800, 1209600 + 7]
)
def test_format_then_parse_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5m", "1h30m", "250ms", "2d", "1w", "45s", "1h1m1s"])
def test_parse_then_format_round_trips(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize("text", ["1m1h", "5m5m", "30s1m"])
def test_units_must_decrease_as_prometheus_requires(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [
    (-3, "0s"), (0.4, "0s"), (4.20229, "4s"), (59.6, "1m"), (192, "3m12s"), (3600, "1h"),
    (7530, "2h5m"), (7535.9, "2h5m"), (86400 * 3 + 3600 * 4 + 59, "3d4h"),
])
def test_ages_are_whole_and_two_units_at_most(seconds: float, text: str) -> None:
    assert format_age(seconds) == text
