"""Plain data types that sources return and panels render. No I/O, no UI."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

Labels = Mapping[str, str]


def format_selector(labels: Labels) -> str:
    """``name{a="x", b="y"}`` as Prometheus prints a series."""
    name = labels.get("__name__", "")
    rest = ", ".join(
        f'{key}="{value}"' for key, value in sorted(labels.items()) if key != "__name__"
    )
    if rest:
        return f"{name}{{{rest}}}"
    return name or "{}"


@dataclass(frozen=True, slots=True)
class Series:
    """One labelled series: timestamps in Unix seconds and float values (NaN allowed)."""

    labels: Labels
    timestamps: tuple[float, ...]
    values: tuple[float, ...]

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.labels.items()))

    @property
    def name(self) -> str:
        return format_selector(self.labels)

    def last(self) -> float | None:
        """The newest value, or ``None`` when the series is empty."""
        return self.values[-1] if self.values else None

    def finite_values(self) -> list[float]:
        return [value for value in self.values if math.isfinite(value)]


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A query's answer: ``matrix``, ``vector``, ``scalar`` or ``string``.

    Vectors are series with one point each; a scalar is one series with no labels.
    """

    result_type: str
    series: tuple[Series, ...] = ()
    warnings: tuple[str, ...] = ()
    infos: tuple[str, ...] = ()
    string_value: str | None = None

    @property
    def is_empty(self) -> bool:
        return not any(series.values for series in self.series)

    def same_data(self, other: QueryResult | None) -> bool:
        """Whether ``other`` would draw the same. An instant vector is stamped with the
        time of evaluation, so two answers with equal values are the same data."""
        if other is None or other.result_type != self.result_type:
            return False
        if self.result_type != "vector":
            return self == other
        return (
            self.warnings == other.warnings
            and len(self.series) == len(other.series)
            and all(
                a.labels == b.labels and a.values == b.values
                for a, b in zip(self.series, other.series)
            )
        )


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What the status bar says about one source."""

    name: str
    last_success: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    error_kind: str | None = None
    round_trip: float | None = None
    failing: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)
