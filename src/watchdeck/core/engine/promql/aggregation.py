"""Aggregation operators: ``sum avg min max count topk bottomk quantile`` with ``by`` or
``without``, as in Prometheus 2.42's engine.go ``aggregation``.

Groups are fixed per series (labels do not change between steps), so grouping is done
once. Members of a group that share one ``steps`` list are combined column-wise with
C-level ``map``/``zip``; others through a per-step table. ``sum`` adds in input order
starting from the first value, ``avg`` uses Prometheus's incremental mean, and
``min``/``max``/``topk``/``bottomk`` treat NaN as Prometheus does, so results match to
the last bit, ``-0`` included.
"""

from __future__ import annotations

import math

from watchdeck.core.engine.promql.errors import execution
from watchdeck.core.engine.promql.gomath import format_go_v
from watchdeck.core.engine.promql.values import (
    Context,
    LabelKey,
    ScalarSteps,
    StepSeries,
    key_of,
    sorted_by_labels,
)

_MAX_INT64_FLOAT = float(2**63 - 1)


def go_quantile(q: float, values: list[float]) -> float:
    """promql's quantile(): NaN sorts first; linear interpolation between ranks."""
    if not values or q != q:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values, key=lambda v: (v == v, v))
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1.0, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def _go_sum(values: tuple[float, ...] | list[float]) -> float:
    return sum(values[1:], values[0])


def _go_avg(values: tuple[float, ...] | list[float]) -> float:
    mean = values[0]
    count = 1
    for v in values[1:]:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean += v / count - mean / count
    return mean


def _go_max(values: tuple[float, ...] | list[float]) -> float:
    best = values[0]
    for v in values[1:]:
        if best < v or best != best:
            best = v
    return best


def _go_min(values: tuple[float, ...] | list[float]) -> float:
    best = values[0]
    for v in values[1:]:
        if best > v or best != best:
            best = v
    return best


def _has_nan(values: list[float]) -> bool:
    total = sum(values)
    return total != total and any(map(math.isnan, values))


def _count(values: tuple[float, ...] | list[float]) -> float:
    return float(len(values))


_COLUMN_FUNCS = {"SUM": _go_sum, "AVG": _go_avg, "MAX": _go_max, "MIN": _go_min,
                 "COUNT": _count}


def _group_labels(labels: dict[str, str], grouping: list[str], without: bool
                  ) -> dict[str, str]:
    if without:
        dropped = set(grouping)
        dropped.add("__name__")
        return {k: v for k, v in labels.items() if k not in dropped}
    return {k: labels[k] for k in grouping if k in labels}


def _groups(series: list[StepSeries], grouping: list[str], without: bool
            ) -> list[tuple[dict[str, str], list[StepSeries]]]:
    grouping = sorted(set(grouping))
    found: dict[LabelKey, tuple[dict[str, str], list[StepSeries]]] = {}
    for item in series:
        labels = _group_labels(item.labels, grouping, without)
        key = key_of(labels)
        entry = found.get(key)
        if entry is None:
            found[key] = (labels, [item])
        else:
            entry[1].append(item)
    return list(found.values())


def _columns(ctx: Context, members: list[StepSeries]
             ) -> tuple[list[int], list[tuple[float, ...]] | list[list[float]]]:
    """The group's steps and, per step, its members' values in input order."""
    first = members[0]
    if all(m.steps is first.steps for m in members):
        return first.steps, list(zip(*(m.values for m in members)))
    table: dict[int, list[float]] = {}
    for member in members:
        for step, value in zip(member.steps, member.values):
            column = table.get(step)
            if column is None:
                table[step] = [value]
            else:
                column.append(value)
    steps = sorted(table)
    if len(steps) == ctx.count:
        return ctx.all_steps, [table[s] for s in steps]
    return steps, [table[s] for s in steps]


def _simple(ctx: Context, op: str, members: list[StepSeries]) -> tuple[list[int], list[float]]:
    first = members[0]
    if op == "SUM" and all(m.steps is first.steps for m in members):
        if len(members) == 1:
            return first.steps, first.values
        rest = zip(*(m.values for m in members[1:]))
        return first.steps, list(map(sum, rest, first.values))
    steps, columns = _columns(ctx, members)
    if op in ("MAX", "MIN") and not any(_has_nan(m.values) for m in members):
        builtin = max if op == "MAX" else min  # keeps the first of equal values, like Go
        return steps, list(map(builtin, columns))
    return steps, list(map(_COLUMN_FUNCS[op], columns))


class _Heap:
    """Go's container/heap over (value, series index) with promql's orderings, so that
    ties are broken exactly as Prometheus breaks them."""

    def __init__(self, reverse: bool) -> None:
        self.items: list[tuple[float, int]] = []
        self.reverse = reverse

    def less(self, i: int, j: int) -> bool:
        a = self.items[i][0]
        b = self.items[j][0]
        if a != a:
            return True
        return a > b if self.reverse else a < b

    def up(self, j: int) -> None:
        while j > 0:
            i = (j - 1) // 2
            if not self.less(j, i):
                break
            self.items[i], self.items[j] = self.items[j], self.items[i]
            j = i

    def down(self, i: int, n: int) -> None:
        while True:
            j1 = 2 * i + 1
            if j1 >= n:
                break
            j = j1
            j2 = j1 + 1
            if j2 < n and self.less(j2, j1):
                j = j2
            if not self.less(j, i):
                break
            self.items[i], self.items[j] = self.items[j], self.items[i]
            i = j

    def push(self, item: tuple[float, int]) -> None:
        self.items.append(item)
        self.up(len(self.items) - 1)

    def pop(self) -> tuple[float, int]:
        n = len(self.items) - 1
        self.items[0], self.items[n] = self.items[n], self.items[0]
        self.down(0, n)
        return self.items.pop()


def _k_values(param: ScalarSteps) -> list[int]:
    ks = []
    for value in param.values:
        if not (-_MAX_INT64_FLOAT <= value <= _MAX_INT64_FLOAT):
            raise execution(f"Scalar value {format_go_v(value)} overflows int64")
        ks.append(int(value))
    return ks


def _points_by_step(series: list[StepSeries]) -> dict[int, list[tuple[int, float]]]:
    table: dict[int, list[tuple[int, float]]] = {}
    for index, item in enumerate(series):
        for step, value in zip(item.steps, item.values):
            table.setdefault(step, []).append((index, value))
    return table


def _top(ctx: Context, op: str, series: list[StepSeries], grouping: list[str], without: bool,
         param: ScalarSteps) -> list[StepSeries]:
    ks = _k_values(param)
    # Ties are broken by input order, which for Prometheus is label order.
    series = sorted_by_labels(series)
    grouping = sorted(set(grouping))
    group_of = [key_of(_group_labels(s.labels, grouping, without)) for s in series]
    chosen: dict[int, tuple[list[int], list[float]]] = {}
    reverse = op == "BOTTOMK"
    for step, points in sorted(_points_by_step(series).items()):
        k = ks[step]
        if k < 1:
            continue
        heaps: dict[LabelKey, _Heap] = {}
        for index, value in points:
            group = group_of[index]
            heap = heaps.get(group)
            if heap is None:
                heap = heaps[group] = _Heap(reverse)
                heap.items.append((value, index))
                continue
            top = heap.items[0][0]
            better = value < top if reverse else top < value
            if len(heap.items) < k or better or top != top:
                if len(heap.items) == k:
                    if k == 1:
                        heap.items[0] = (value, index)
                        continue
                    heap.pop()
                heap.push((value, index))
        for heap in heaps.values():
            for value, index in heap.items:
                steps, values = chosen.setdefault(index, ([], []))
                steps.append(step)
                values.append(value)
    out = []
    for index in sorted(chosen):
        steps, values = chosen[index]
        out.append(StepSeries(series[index].labels, steps, values))
    return out


def aggregate(ctx: Context, op: str, series: list[StepSeries], grouping: list[str],
              without: bool, param: ScalarSteps | None) -> list[StepSeries]:
    if op in ("TOPK", "BOTTOMK"):
        assert param is not None
        return _top(ctx, op, series, grouping, without, param)
    out = []
    for labels, members in _groups(series, grouping, without):
        if op == "QUANTILE":
            assert param is not None
            steps, columns = _columns(ctx, members)
            qs = param.values
            values = [go_quantile(qs[s], list(c)) for s, c in zip(steps, columns)]
        else:
            steps, values = _simple(ctx, op, members)
        out.append(StepSeries(labels, steps, values))
    return out
