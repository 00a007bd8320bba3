"""Plain data types that sources return and panels render. No I/O, no UI."""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping, Sequence
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


# Exemplar label names that carry a trace or span id, compared case-insensitively:
# OpenTelemetry and client_python write ``trace_id``, other instrumentations ``traceID``
# or ``trace.id``. The name is a convention, not a rule, so callers may pass their own.
TRACE_ID_LABELS = ("trace_id", "traceid", "trace.id")
SPAN_ID_LABELS = ("span_id", "spanid", "span.id")
_HEX = re.compile(r"[0-9a-fA-F]+")


def normalise_id(text: str, width: int) -> str | None:
    """A trace (``width`` 32) or span (16) id as lower-case hex, left-padded with zeros
    to ``width`` digits the way OTLP and Tempo write it; ``None`` when ``text`` is not
    an id: not hex of at most ``width`` digits (``0x`` allowed), nor base64 of
    ``width // 2`` or 8 bytes, or all zeros (W3C: invalid)."""
    text = text.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if _HEX.fullmatch(text) and len(text) <= width:
        digits = text.lower().zfill(width)
    else:
        digits = _base64_id(text, width)
        if digits is None:
            return None
    return None if digits.strip("0") == "" else digits


def _base64_id(text: str, width: int) -> str | None:
    if not 8 <= len(text) <= 2 * width:
        return None
    padded = text + "=" * (-len(text) % 4)
    for alphabet in (b"+/", b"-_"):
        try:
            raw = base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) in (width // 2, 8):
            return raw.hex().zfill(width)
    return None


def _find_label(labels: Labels, names: Sequence[str]) -> str | None:
    lowered = {key.lower(): value for key, value in labels.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value is not None:
            return value
    return None


@dataclass(frozen=True, slots=True)
class Exemplar:
    """One exemplar: a sample of a series that names the request it came from.

    ``timestamp`` is in Unix seconds (millisecond precision, as Prometheus keeps it);
    ``trace_id``/``span_id`` are normalised hex (:func:`normalise_id`) read from the
    exemplar's labels, or ``None`` when it carries none that reads as an id (the raw
    labels are kept either way).
    """

    series_labels: Labels
    labels: Labels
    value: float
    timestamp: float
    trace_id: str | None = None
    span_id: str | None = None

    @classmethod
    def from_labels(cls, series_labels: Labels, labels: Labels, value: float,
                    timestamp: float, trace_labels: Sequence[str] = TRACE_ID_LABELS,
                    span_labels: Sequence[str] = SPAN_ID_LABELS) -> Exemplar:
        """An exemplar whose trace and span ids are read from ``labels``."""
        trace = _find_label(labels, trace_labels)
        span = _find_label(labels, span_labels)
        return cls(series_labels, labels, value, timestamp,
                   normalise_id(trace, 32) if trace is not None else None,
                   normalise_id(span, 16) if span is not None else None)

    @property
    def series_name(self) -> str:
        return format_selector(self.series_labels)
