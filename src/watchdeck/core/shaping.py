"""Turning query results into what panels draw: top-N series, reductions, table rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from watchdeck.core.model import QueryResult, Series
from watchdeck.core.templating import format_legend


@dataclass(frozen=True, slots=True)
class NamedSeries:
    """A series with the legend text it is shown under and the query it came from."""

    legend: str
    series: Series
    query_index: int


def reduce_values(values: Sequence[float], how: str) -> float | None:
    """``last``, ``mean``, ``min``, ``max`` or ``sum`` of the finite values."""
    finite = [v for v in values if math.isfinite(v)]
    if how == "last":
        return values[-1] if values else None
    if not finite:
        return None
    if how == "mean":
        return sum(finite) / len(finite)
    if how == "min":
        return min(finite)
    if how == "max":
        return max(finite)
    if how == "sum":
        return math.fsum(finite)
    raise ValueError(f"unknown reduction {how!r}")


def _rank(named: NamedSeries) -> float:
    finite = named.series.finite_values()
    return max(finite) if finite else -math.inf


def collect_series(
    results: Sequence[QueryResult | None], legends: Sequence[str | None], limit: int
) -> tuple[list[NamedSeries], int]:
    """All series of a panel's queries, named by their legends, at most ``limit`` of them.

    When there are more, the ones with the highest peaks are kept (what an on-call
    engineer needs to see first) and the count of the rest is returned.
    """
    named: list[NamedSeries] = []
    for index, result in enumerate(results):
        if result is None:
            continue
        legend = legends[index] if index < len(legends) else None
        for series in result.series:
            named.append(NamedSeries(format_legend(legend, series.labels), series, index))
    if len(named) <= limit:
        return named, 0
    keep = set(map(id, sorted(named, key=_rank, reverse=True)[:limit]))
    return [n for n in named if id(n) in keep], len(named) - limit


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    value_columns: tuple[str, ...]
    rows: tuple[tuple[tuple[str, ...], tuple[float | None, ...]], ...]


def varying_labels(series: Sequence[Series]) -> list[str]:
    """Labels whose values differ between series (the useful table columns)."""
    names: dict[str, set[str]] = {}
    for item in series:
        for key, value in item.labels.items():
            names.setdefault(key, set()).add(value)
    count = len(series)
    varying = [
        key for key, values in names.items()
        if len(values) > 1 or sum(1 for s in series if key in s.labels) < count
    ]
    if not varying:
        varying = [key for key in names if key != "__name__"] or list(names)
    return sorted(varying, key=lambda k: (k != "__name__", k))


def build_table(
    results: Sequence[QueryResult | None],
    legends: Sequence[str | None],
    columns: Sequence[str] | None,
    limit: int,
) -> tuple[Table, int]:
    """Join instant results on label columns: one row per label set, a value column each."""
    all_series = [s for r in results if r is not None for s in r.series]
    label_columns = list(columns) if columns else varying_labels(all_series)
    value_columns = []
    for index in range(len(results)):
        legend = legends[index] if index < len(legends) else None
        value_columns.append(legend or ("value" if len(results) == 1 else f"value #{index + 1}"))
    # Rows are joined across queries on the label columns. Series of one query that look
    # the same in those columns (several pods of one model) stay separate rows: the n-th
    # such series of each query shares the n-th row.
    rows: dict[tuple[tuple[str, ...], int], list[float | None]] = {}
    for index, result in enumerate(results):
        if result is None:
            continue
        seen: dict[tuple[str, ...], int] = {}
        for series in result.series:
            labels = tuple(series.labels.get(column, "") for column in label_columns)
            occurrence = seen.get(labels, 0)
            seen[labels] = occurrence + 1
            row = rows.setdefault((labels, occurrence), [None] * len(results))
            row[index] = series.values[-1] if series.values else None
    items = [(labels, values) for (labels, _), values in rows.items()]
    dropped = 0
    if len(items) > limit:
        def peak(item: tuple[tuple[str, ...], list[float | None]]) -> float:
            finite = [v for v in item[1] if v is not None and math.isfinite(v)]
            return max(finite) if finite else -math.inf
        items = sorted(items, key=peak, reverse=True)[:limit]
        dropped = len(rows) - limit
    table = Table(
        tuple(label_columns),
        tuple(value_columns),
        tuple((key, tuple(values)) for key, values in items),
    )
    return table, dropped
