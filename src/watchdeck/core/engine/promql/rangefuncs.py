"""Functions of range vectors: ``rate``, ``increase``, ``delta``, ``irate``, ``idelta``,
``resets``, ``changes`` and the ``*_over_time`` family, as in Prometheus 2.42's
functions.go.

Each function gets the windows of a range selector (:mod:`.selectors`) and produces one
output series per input series, valued at the steps whose window holds enough samples
(two for the rate family, one otherwise). Quantities that depend only on the window's
timestamps (the extrapolation factors of ``rate``) are computed once per window group;
per series, C-level ``map`` over precomputed index lists does the rest. Values that are
not finite take the slower path that follows Go's loops literally. ``sum`` of ``rate`` or
``increase`` is fused (:func:`sum_of_rates`): it is most dashboards' query, and most of
its cost was per-series result lists that the sum threw away.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, compress
from operator import add, lt, mul, ne, sub

from watchdeck.core.engine.promql import aggregation
from watchdeck.core.engine.promql.aggregation import go_quantile
from watchdeck.core.engine.promql.gomath import go_div
from watchdeck.core.engine.promql.selectors import Member, Windowed, WindowGroup
from watchdeck.core.engine.promql.values import (
    Context,
    LabelKey,
    ScalarSteps,
    StepSeries,
    check_unique,
    drop_name,
)


def _names(series: list[Windowed]) -> set[str | None]:
    return {w.labels.get("__name__") for w in series}


def _finite(values: list[float]) -> bool:
    total = sum(values)
    return total - total == 0


def _has_nan(values: list[float]) -> bool:
    return not _finite(values) and any(map(math.isnan, values))


def _range_seconds(range_ms: int) -> float:
    # time.Duration.Seconds(): whole seconds plus the nanosecond remainder / 1e9.
    return float(range_ms // 1000) + float((range_ms % 1000) * 1_000_000) / 1e9


# -- rate, increase, delta -----------------------------------------------------------


class _RateSteps:
    """Per-step extrapolation parameters shared by the series of one window group."""

    __slots__ = ("steps", "lo", "last", "lo_slice", "last_slice", "factor", "start", "end",
                 "sampled", "average", "threshold", "limit_margin", "max_limit_ratio",
                 "increase")

    def __init__(self, ctx: Context, group: WindowGroup, offset: int, width: int,
                 is_rate: bool) -> None:
        steps, los, his = group.valid(ctx, 2)
        times = group.times
        range_seconds = _range_seconds(width)
        self.steps = steps
        self.lo = list(los)
        self.last = [h - 1 for h in his]
        self.factor: list[float] = []
        self.start: list[float] = []
        self.end: list[float] = []
        self.sampled: list[float] = []
        self.average: list[float] = []
        self.threshold: list[float] = []
        self.limit_margin: list[float] = []
        self.lo_slice = _as_slice(self.lo)
        self.last_slice = _as_slice(self.last)
        self.increase = self._increase_reader()
        ratio = 0.0
        for step, lo, last in zip(steps, self.lo, self.last):
            range_end = ctx.times[step] - offset
            range_start = range_end - width
            first_t, last_t = times[lo], times[last]
            to_start = (first_t - range_start) / 1000
            to_end = (range_end - last_t) / 1000
            sampled = (last_t - first_t) / 1000
            average = sampled / (last - lo)
            threshold = average * 1.1
            interval = sampled
            interval += to_start if to_start < threshold else average / 2
            interval += to_end if to_end < threshold else average / 2
            factor = interval / sampled
            if is_rate:
                factor /= range_seconds
            self.factor.append(factor)
            self.start.append(to_start)
            self.end.append(to_end)
            self.sampled.append(sampled)
            self.average.append(average)
            self.threshold.append(threshold)
            # The counter-zero clamp only changes the result when the extrapolated
            # zero point lies closer than both the window start and the threshold.
            limit = min(to_start, threshold)
            self.limit_margin.append(limit * 1.000001 + 1e-300)
            ratio = max(ratio, limit / sampled)
        self.max_limit_ratio = ratio

    def _increase_reader(self) -> Callable[[Sequence[float]], Iterable[float]]:
        """last - first at each step, for windows without resets, read the cheapest way
        the index lists allow."""
        if len(self.steps) == 1:  # an instant query
            lo, last = self.lo[0], self.last[0]
            return lambda values: (values[last] - values[lo],)
        lo_slice, last_slice = self.lo_slice, self.last_slice
        if lo_slice is not None and last_slice is not None:
            return lambda values: map(sub, values[last_slice], values[lo_slice])
        los, lasts = self.lo, self.last
        return lambda values: map(sub, map(values.__getitem__, lasts),
                                  map(values.__getitem__, los))

    def unclamped(self, low: float, high: float) -> bool:
        """For a counter whose samples never go down, from ``low`` to ``high``: whether
        the zero clamp cannot apply at any step (the extrapolated zero point is always
        further than the window start or the threshold), so the shared factor is exact."""
        if low < 0:
            return False
        # No increase anywhere: the clamp needs a positive result.
        return high == low or low / (high - low) > self.max_limit_ratio * 1.000001


def _as_slice(index: list[int]) -> slice | None:
    """The slice equal to ``index`` when it advances by a fixed stride (windows over
    regularly scraped samples at a matching step), for C-speed gathering."""
    if len(index) < 2:
        return slice(index[0], index[0] + 1) if index else slice(0, 0)
    stride = index[1] - index[0]
    if stride <= 0 or list(range(index[0], index[-1] + 1, stride)) != index:
        return None
    return slice(index[0], index[-1] + 1, stride)


def _extrapolate(result: float, first: float, rs: _RateSteps, i: int, is_counter: bool,
                 is_rate_range: float) -> float:
    """extrapolatedRate's tail for one step, literally (used where the shared factor
    does not apply: the counter-zero clamp)."""
    to_start = rs.start[i]
    sampled = rs.sampled[i]
    average = rs.average[i]
    threshold = rs.threshold[i]
    if is_counter and result > 0 and first >= 0:
        to_zero = sampled * (first / result)
        if to_zero < to_start:
            to_start = to_zero
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    to_end = rs.end[i]
    interval += to_end if to_end < threshold else average / 2
    factor = interval / sampled
    if is_rate_range:
        factor /= is_rate_range
    return result * factor


def _gather(values: Sequence[float], index: list[int], as_slice: slice | None
            ) -> Sequence[float]:
    return values[as_slice] if as_slice is not None else list(map(values.__getitem__, index))


def _rate_series(windowed: Windowed, rs: _RateSteps, is_counter: bool,
                 range_seconds: float) -> list[float]:
    if windowed.plain and is_counter:
        values = windowed.values
        if rs.unclamped(values[0], values[-1]):
            return list(map(mul, rs.increase(values), rs.factor))
    values = windowed.value_list()
    firsts = _gather(values, rs.lo, rs.lo_slice)
    raw = list(map(sub, _gather(values, rs.last, rs.last_slice), firsts))
    if not is_counter:
        return list(map(mul, raw, rs.factor))
    if not windowed.plain and not _finite(values):
        return [_extrapolate(_with_resets(values, rs.lo[i], rs.last[i], raw[i]), firsts[i],
                             rs, i, True, range_seconds) for i in range(len(raw))]
    # A counter without resets is sorted already, which sorted() checks in linear time.
    monotonic = windowed.plain or sorted(values) == values
    if not monotonic:
        resets = list(compress(range(1, len(values)), map(lt, values[1:], values[:-1])))
        for i, (lo, last) in enumerate(zip(rs.lo, rs.last)):
            a = bisect_right(resets, lo)
            b = bisect_right(resets, last)
            if a < b:
                raw[i] = _with_resets(values, lo, last, raw[i], resets[a:b])
    out = list(map(mul, raw, rs.factor))
    if monotonic and rs.unclamped(values[0], values[-1]):
        return out
    # Candidates for the clamp (a superset, by a margin): first * sampled < limit * result.
    lhs = map(mul, firsts, rs.sampled)
    rhs = map(mul, raw, rs.limit_margin)
    for i in compress(range(len(raw)), map(lt, lhs, rhs)):
        out[i] = _extrapolate(raw[i], firsts[i], rs, i, True, range_seconds)
    return out


def _with_resets(values: list[float], lo: int, last: int, result: float,
                 resets: list[int] | None = None) -> float:
    """Add back the value before each counter reset in (lo, last], in order, as Go does."""
    if resets is None:
        resets = [i for i in range(lo + 1, last + 1) if values[i] < values[i - 1]]
    for i in resets:
        result += values[i - 1]
    return result


def _rate_steps(ctx: Context, group: WindowGroup, offset: int, width: int, is_rate: bool
                ) -> _RateSteps:
    rs = group.memo(("rate", is_rate), lambda: _RateSteps(ctx, group, offset, width, is_rate))
    assert isinstance(rs, _RateSteps)
    return rs


def extrapolated_rate(ctx: Context, series: list[Windowed], offset: int, width: int,
                      is_counter: bool, is_rate: bool) -> list[StepSeries]:
    out = []
    range_seconds = _range_seconds(width) if is_rate else 0.0
    for windowed in series:
        rs = _rate_steps(ctx, windowed.group, offset, width, is_rate)
        if not rs.steps:
            continue
        values = _rate_series(windowed, rs, is_counter, range_seconds)
        out.append(StepSeries(drop_name(windowed.labels), rs.steps, values))
    return check_unique(out, _names(series))


class _Partial:
    """A sum's running totals over the members of one window group: last - first of
    the members the shared factor applies to (multiplied once at the end), and the
    finished rates of the others."""

    __slots__ = ("raw", "done")

    def __init__(self) -> None:
        self.raw: list[float] | None = None
        self.done: list[float] | None = None


def sum_of_rates(ctx: Context, groups: list[tuple[WindowGroup, list[Member]]], offset: int,
                 width: int, is_rate: bool, grouping: list[str], without: bool
                 ) -> list[StepSeries]:
    """``sum by/without (...) (rate|increase(...))`` over a range selector's window groups
    (:func:`.selectors.range_groups`), the same as :func:`extrapolated_rate` then
    :func:`aggregation.aggregate`, without a result list per input series: members
    are added up as they are computed, and where a counter has no reset and cannot be
    clamped at zero its rate is (last - first) times a factor shared by its window group,
    so the group adds the differences and multiplies once. All terms are then
    non-negative: the sum differs from Prometheus's (in its series order) by rounding
    only, as any reordering of the sum does."""
    names = {labels.get("__name__") for _, members in groups for labels, _, _ in members}
    if len(names) > 1:  # dropping the names may make two series one: the error
        series = [Windowed(dict(labels), values, group, plain)
                  for group, members in groups for labels, values, plain in members]
        return aggregation.aggregate(ctx, "SUM", extrapolated_rate(
            ctx, series, offset, width, True, is_rate), grouping, without, None)
    range_seconds = _range_seconds(width) if is_rate else 0.0
    by = None if without else sorted(set(grouping) - {"__name__"})
    dropped = set(grouping) | {"__name__"}
    sums: dict[LabelKey | tuple[str | None, ...],
               tuple[dict[str, str], dict[_RateSteps, _Partial]]] = {}
    for group, members in groups:
        rs = _rate_steps(ctx, group, offset, width, is_rate)
        if not rs.steps:
            continue
        increase = rs.increase
        for labels, samples, plain in members:
            key: LabelKey | tuple[str | None, ...]
            if by is not None:
                key = tuple(map(labels.get, by))
                entry = sums.get(key)
                if entry is None:
                    entry = sums[key] = ({k: labels[k] for k in by if k in labels}, {})
            else:
                kept = {k: v for k, v in labels.items() if k not in dropped}
                key = tuple(sorted(kept.items()))
                entry = sums.get(key)
                if entry is None:
                    entry = sums[key] = (kept, {})
            partial = entry[1].get(rs)
            if partial is None:
                partial = entry[1][rs] = _Partial()
            if plain and rs.unclamped(samples[0], samples[-1]):
                raw = increase(samples)
                partial.raw = (list(raw) if partial.raw is None
                               else list(map(add, partial.raw, raw)))
            else:
                rates = _rate_series(Windowed(labels, samples, group, plain), rs, True,
                                     range_seconds)
                partial.done = (rates if partial.done is None
                                else list(map(add, partial.done, rates)))
    out = []
    for labels, partials in sums.values():
        summed = []
        for rs, partial in partials.items():
            total = None if partial.raw is None else list(map(mul, partial.raw, rs.factor))
            if partial.done is not None:
                total = partial.done if total is None else list(map(add, total, partial.done))
            assert total is not None
            summed.append((rs.steps, total))
        steps: list[int]
        values: list[float]
        if len(summed) == 1:
            steps, values = summed[0]
        else:  # members from several window groups (scraped at different times)
            table: dict[int, float] = {}
            for member_steps, member_values in summed:
                for step, value in zip(member_steps, member_values):
                    table[step] = table[step] + value if step in table else value
            steps = sorted(table)
            values = [table[step] for step in steps]
            if len(steps) == ctx.count:
                steps = ctx.all_steps
        out.append(StepSeries(labels, steps, values))
    return out


# -- irate, idelta ---------------------------------------------------------------------


def instant_value(ctx: Context, series: list[Windowed], is_rate: bool) -> list[StepSeries]:
    out = []
    for windowed in series:
        steps, _, his = windowed.group.valid(ctx, 2)
        if not steps:
            continue
        values, times = windowed.values, windowed.group.times  # a list or an array
        result = []
        for hi in his:
            last, previous = values[hi - 1], values[hi - 2]
            if is_rate:
                value = last if last < previous else last - previous
                value = go_div(value, (times[hi - 1] - times[hi - 2]) / 1000)
            else:
                value = last - previous
            result.append(value)
        out.append(StepSeries(drop_name(windowed.labels), steps, result))
    return check_unique(out, _names(series))


# -- resets, changes -------------------------------------------------------------------


def count_transitions(ctx: Context, series: list[Windowed], kind: str) -> list[StepSeries]:
    out = []
    for windowed in series:
        steps, los, his = windowed.group.valid(ctx, 1)
        if not steps:
            continue
        values = windowed.value_list()
        if kind == "resets":
            flags = map(lt, values[1:], values[:-1])
        elif _has_nan(values):
            flags = (a != b and not (a != a and b != b) for a, b in zip(values[1:], values[:-1]))
        else:
            flags = map(ne, values[1:], values[:-1])
        # prefix[i]: transitions among samples 0..i
        prefix = [0, *accumulate(flags)]
        result = [float(prefix[hi - 1] - prefix[lo]) for lo, hi in zip(los, his)]
        out.append(StepSeries(drop_name(windowed.labels), steps, result))
    return check_unique(out, _names(series))


# -- *_over_time -----------------------------------------------------------------------


def _kahan_sum(values: list[float]) -> float:
    total = c = 0.0
    for v in values:
        t = total + v
        if abs(total) >= abs(v):
            c += (total - t) + v
        else:
            c += (v - t) + total
        total = t
    return total if math.isinf(total) else total + c


def _go_avg(values: list[float]) -> float:
    """avg_over_time's incremental mean, literally (for windows with NaN or ±Inf)."""
    mean = c = count = 0.0
    for v in values:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        inc = v / count - mean / count
        t = mean + inc
        if abs(mean) >= abs(inc):
            c += (mean - t) + inc
        else:
            c += (inc - t) + mean
        mean = t
    return mean if math.isinf(mean) else mean + c


def _go_max(values: list[float]) -> float:
    best = values[0]
    for v in values:
        if v > best or best != best:
            best = v
    return best


def _go_min(values: list[float]) -> float:
    best = values[0]
    for v in values:
        if v < best or best != best:
            best = v
    return best


def _avg(values: list[float]) -> float:
    try:
        return math.fsum(values) / len(values)
    except OverflowError:
        return _go_avg(values)


def _sum(values: list[float]) -> float:
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):
        return _kahan_sum(values)


def over_time(ctx: Context, series: list[Windowed], name: str,
              param: ScalarSteps | None = None) -> list[StepSeries]:
    out = []
    for windowed in series:
        group = windowed.group
        steps, los, his = group.valid(ctx, 1)
        if not steps:
            continue
        values = windowed.value_list()
        finite = _finite(values)
        labels = windowed.labels if name == "last_over_time" else drop_name(windowed.labels)
        windows = zip(los, his)
        if name == "count_over_time":
            result = group.memo("count", lambda a=los, b=his: list(map(float, map(sub, b, a))))
        elif name == "last_over_time":
            result = [values[b - 1] for b in his]
        elif name == "sum_over_time":
            result = [_sum(values[a:b]) if finite else _kahan_sum(values[a:b]) for a, b in windows]
        elif name == "avg_over_time":
            result = [_avg(values[a:b]) if finite else _go_avg(values[a:b]) for a, b in windows]
        elif name == "max_over_time":
            nan = _has_nan(values)
            result = [_go_max(values[a:b]) if nan else max(values[a:b]) for a, b in windows]
        elif name == "min_over_time":
            nan = _has_nan(values)
            result = [_go_min(values[a:b]) if nan else min(values[a:b]) for a, b in windows]
        elif name == "quantile_over_time":
            assert param is not None
            qs = param.values
            result = [go_quantile(qs[k], values[a:b]) for k, (a, b) in zip(steps, windows)]
        else:  # pragma: no cover - the subset check keeps other names out
            raise AssertionError(name)
        out.append(StepSeries(labels, steps, result))
    return check_unique(out, _names(series))


RANGE_FUNCTIONS = frozenset({
    "rate", "increase", "delta", "irate", "idelta", "resets", "changes", "avg_over_time",
    "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "last_over_time",
    "quantile_over_time",
})


def evaluate(ctx: Context, name: str, series: list[Windowed], offset: int, width: int,
             param: ScalarSteps | None = None) -> list[StepSeries]:
    if name in ("rate", "increase", "delta"):
        return extrapolated_rate(ctx, series, offset, width, is_counter=name != "delta",
                                 is_rate=name == "rate")
    if name in ("irate", "idelta"):
        return instant_value(ctx, series, is_rate=name == "irate")
    if name in ("resets", "changes"):
        return count_transitions(ctx, series, name)
    return over_time(ctx, series, name, param)


