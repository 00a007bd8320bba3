"""What expressions evaluate to inside the engine, over all the steps of a query at once.

Prometheus evaluates a range query step by step; this engine evaluates each node once
for the whole grid of steps (an instant query is a grid of one step). An instant vector
is a list of :class:`StepSeries`: labels plus the steps where the series has a value, in
ascending order, and those values. Series that come from the same selection usually
share one ``steps`` list object, which lets binary operators and aggregations combine
them column by column with C-level ``map``/``zip`` instead of per-sample Python code.

The per-step rules of Prometheus (a vector may not hold two series with the same labels
*at the same step*; a series present at some steps only) are kept by :func:`finalize`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchdeck.core.engine.promql.errors import execution

LabelKey = tuple[tuple[str, str], ...]


def key_of(labels: dict[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


class StepSeries:
    """One series of an instant vector across the steps of the query."""

    __slots__ = ("labels", "steps", "values")

    def __init__(self, labels: dict[str, str], steps: list[int], values: list[float]) -> None:
        self.labels = labels
        self.steps = steps
        self.values = values

    def __repr__(self) -> str:  # for test failures
        return f"StepSeries({self.labels}, {self.steps}, {self.values})"


@dataclass
class ScalarSteps:
    """A scalar: one value at every step."""

    values: list[float]


@dataclass
class StringValue:
    value: str


@dataclass
class Context:
    """The step grid of one evaluation and where it reads samples from."""

    queryable: object
    start: int  # ms
    end: int  # ms
    interval: int  # ms; 1 for an instant query, as in Prometheus
    lookback: int  # ms
    times: list[int] = field(init=False)
    all_steps: list[int] = field(init=False)

    def __post_init__(self) -> None:
        count = (self.end - self.start) // self.interval + 1
        self.times = [self.start + i * self.interval for i in range(count)]
        self.all_steps = list(range(count))

    @property
    def count(self) -> int:
        return len(self.times)

    def select(self, matchers, mint: int, maxt: int):
        """Series matching ``matchers`` with samples in [mint, maxt], in no particular
        order: sorting thousands of label sets costs more than the rest of a typical
        query, and only operators whose result depends on input order sort their
        input (:func:`sorted_by_labels`)."""
        return self.queryable.select(matchers, mint, maxt)


DUPLICATE_LABELSET = "vector cannot contain metrics with the same labelset"


def finalize(series: list[StepSeries]) -> list[StepSeries]:
    """Prometheus's per-step rule for the output of an operator or function: two series
    with the same labels may not both have a value at one step (an error); at different
    steps they are one series."""
    by_key: dict[LabelKey, list[StepSeries]] = {}
    for item in series:
        by_key.setdefault(key_of(item.labels), []).append(item)
    if len(by_key) == len(series):
        return [s for s in series if s.steps]
    out = []
    for group in by_key.values():
        group = [s for s in group if s.steps]
        if not group:
            continue
        if len(group) == 1:
            out.append(group[0])
            continue
        merged: dict[int, float] = {}
        for item in group:
            for step, value in zip(item.steps, item.values):
                if step in merged:
                    raise execution(DUPLICATE_LABELSET)
                merged[step] = value
        steps = sorted(merged)
        out.append(StepSeries(group[0].labels, steps, [merged[s] for s in steps]))
    return out


def sorted_by_labels(series: list[StepSeries]) -> list[StepSeries]:
    """Prometheus's order for a selector's series (its storage sorts by label set)."""
    return sorted(series, key=lambda s: key_of(s.labels))


def check_unique(series: list[StepSeries], names: set[str | None] | None = None
                 ) -> list[StepSeries]:
    """Prometheus's whole-matrix rule for range-vector functions and unary minus: no two
    output series may share labels, whatever their steps. ``names``: the metric names
    of the input; distinct inputs can only collide when several names were dropped."""
    if names is not None and len(names) < 2:
        return series
    keys = {key_of(s.labels) for s in series}
    if len(keys) != len(series):
        raise execution(DUPLICATE_LABELSET)
    return series


def drop_name(labels: dict[str, str]) -> dict[str, str]:
    if "__name__" not in labels:
        return labels
    out = dict(labels)
    del out["__name__"]
    return out


def column(scalar: ScalarSteps, steps: list[int], all_steps: list[int]) -> list[float]:
    """A scalar's values at ``steps``."""
    if steps is all_steps:
        return scalar.values
    values = scalar.values
    return [values[s] for s in steps]
