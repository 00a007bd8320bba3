"""Instant and range selectors, evaluated for all steps with one ``select`` per selector.

Prometheus's rules (2.42):

* an instant selector at step time ``t`` takes the newest sample in
  ``[t - offset - lookback, t - offset]``, both ends included; if that sample is a
  staleness marker, the series has no value at ``t``;
* a range selector ``[r]`` at ``t`` takes every sample in ``[t - offset - r, t - offset]``,
  both ends included (Prometheus 3 excludes the left end), with staleness markers dropped.

Series scraped together share their timestamps. Window bounds are computed once per
distinct timestamp list (a :class:`WindowGroup`) with C-level bisection and reused for
every series of the group, which is what keeps range queries over thousands of series
fast in pure Python. Range selectors read through ``select_arrays`` when the store has
it: values stay in arrays, and the store says which windows are *plain* (finite, never
going down), so that ``rate`` needs neither a float per sample nor a reset check.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence

from watchdeck.core.engine.promql.ast import MatrixSelector, VectorSelector
from watchdeck.core.engine.promql.values import Context, StepSeries, key_of
from watchdeck.core.engine.storage import is_stale


def _all_finite(values: list[float]) -> bool:
    total = sum(values)
    return total - total == 0  # NaN or ±Inf anywhere (or an overflow) makes this false


def _without_stale(times: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    if _all_finite(values) or not any(map(math.isnan, values)):
        return times, values
    keep = [i for i, v in enumerate(values) if not (v != v and is_stale(v))]
    if len(keep) == len(values):
        return times, values
    return [times[i] for i in keep], [values[i] for i in keep]


Group = tuple[list[int], list[tuple[dict[str, str], list[float]]]]


def select_groups(ctx: Context, matchers, mint: int, maxt: int) -> list[Group]:
    """The matching series with samples in [mint, maxt], grouped by identical timestamps:
    ``(timestamps, [(labels, values), ...])``. A queryable may offer this directly as
    ``select_grouped`` (cheaper: it converts each shared timestamp list once); otherwise
    the series from ``select`` are grouped here."""
    grouped = getattr(ctx.queryable, "select_grouped", None)
    if grouped is not None:
        return grouped(matchers, mint, maxt)
    groups: dict[tuple[int, ...], Group] = {}
    for series in ctx.select(matchers, mint, maxt):
        key = tuple(series.timestamps)
        entry = groups.get(key)
        if entry is None:
            entry = groups[key] = (series.timestamps, [])
        entry[1].append((series.labels, series.values))
    return list(groups.values())


def _split_stale(groups: list[Group]) -> list[Group]:
    """Staleness markers are no samples: a series holding some gets its own timestamps."""
    out: list[Group] = []
    for times, members in groups:
        clean = []
        for labels, values in members:
            if _all_finite(values) or not any(map(math.isnan, values)):
                clean.append((labels, values))
                continue
            kept_times, kept_values = _without_stale(times, values)
            if kept_times is times:
                clean.append((labels, values))
            elif kept_times:
                out.append((kept_times, [(labels, kept_values)]))
        if clean:
            out.append((times, clean))
    return out


def instant_selector(ctx: Context, node: VectorSelector,
                     with_times: bool = False) -> tuple[list[StepSeries], list[list[int]]]:
    """The selector's value at every step; with ``with_times``, also the timestamp of
    the sample each value came from (for ``timestamp()``)."""
    offset = node.offset_ms
    lookback = ctx.lookback
    groups = select_groups(ctx, node.matchers, ctx.start - offset - lookback, ctx.end - offset)
    refs = [t - offset for t in ctx.times]
    out: list[StepSeries] = []
    sample_times: list[list[int]] = []
    for times, members in groups:
        steps: list[int] = []
        index: list[int] = []
        for step, ref in enumerate(refs):
            j = bisect_right(times, ref) - 1
            if j >= 0 and times[j] >= ref - lookback:
                steps.append(step)
                index.append(j)
        if not steps:
            continue
        if len(steps) == ctx.count:
            steps = ctx.all_steps
        shared_times = [times[j] for j in index] if with_times else []
        for labels, all_values in members:
            values = list(map(all_values.__getitem__, index))
            series_steps, series_times = steps, shared_times
            if not _all_finite(values) and any(map(math.isnan, values)):
                # A staleness marker as the newest sample means "no value" at that step.
                keep = [i for i, v in enumerate(values) if not (v != v and is_stale(v))]
                if len(keep) != len(values):
                    if not keep:
                        continue
                    series_steps = [steps[i] for i in keep]
                    values = [values[i] for i in keep]
                    series_times = [shared_times[i] for i in keep] if with_times else []
            out.append(StepSeries(labels, series_steps, values))
            if with_times:
                sample_times.append(series_times)
    return out, sample_times


class WindowGroup:
    """Window bounds shared by series with identical timestamps: at step ``k`` the
    window is ``times[lo[k]:hi[k]]``. ``cache`` holds per-function precomputations."""

    __slots__ = ("times", "lo", "hi", "cache")

    def __init__(self, times: list[int], lo: list[int], hi: list[int]) -> None:
        self.times = times
        self.lo = lo
        self.hi = hi
        self.cache: dict[object, object] = {}

    def valid(self, ctx: Context, need: int) -> tuple[list[int], list[int], list[int]]:
        """Steps whose window holds at least ``need`` samples, with their bounds."""
        key = ("valid", need)
        got = self.cache.get(key)
        if got is None:
            steps = [k for k, (a, b) in enumerate(zip(self.lo, self.hi)) if b - a >= need]
            if len(steps) == ctx.count:
                got = (ctx.all_steps, self.lo, self.hi)
            else:
                got = (steps, [self.lo[k] for k in steps], [self.hi[k] for k in steps])
            self.cache[key] = got
        return got  # type: ignore[return-value]

    def memo(self, key: object, compute: Callable[[], object]) -> object:
        got = self.cache.get(key)
        if got is None:
            got = self.cache[key] = compute()
        return got


class Windowed:
    """One series of a range selector: its non-stale samples and its window group.
    ``values`` is a list, or an ``array("d")`` when ``plain`` (see
    :meth:`Storage.select_arrays`: all finite, none lower than the one before), which
    spares a Python float per sample where a function reads only some of them."""

    __slots__ = ("labels", "values", "group", "plain")

    def __init__(self, labels: dict[str, str], values: Sequence[float], group: WindowGroup,
                 plain: bool = False) -> None:
        self.labels = labels
        self.values = values
        self.group = group
        self.plain = plain

    def value_list(self) -> list[float]:
        values = self.values
        return values.tolist() if isinstance(values, array) else values  # type: ignore[return-value]


Member = tuple[dict[str, str], Sequence[float], bool]  # labels, values, plain


def _with_flags(groups: list[Group]) -> list[tuple[list[int], list[Member]]]:
    return [(times, [(labels, values, False) for labels, values in members])
            for times, members in groups]


def range_groups(ctx: Context, node: MatrixSelector, plain: bool = False,
                 shared_labels: bool = False) -> list[tuple[WindowGroup, list[Member]]]:
    """The range selector's series, ``(labels, values, plain)``, by window group. Only
    with ``plain`` (for ``rate`` and ``increase``, which use it) does the store say which
    windows are plain; else none is. With ``shared_labels`` the label dicts may be the
    store's own (for callers that only read them)."""
    selector = node.selector
    assert isinstance(selector, VectorSelector)
    offset = selector.offset_ms
    width = node.range_ms
    mint, maxt = ctx.start - offset - width, ctx.end - offset
    select_arrays = getattr(ctx.queryable, "select_arrays", None) if plain else None
    if select_arrays is not None:
        groups = select_arrays(selector.matchers, mint, maxt)
    else:
        groups = _with_flags(select_groups(ctx, selector.matchers, mint, maxt))
        shared_labels = True  # select_grouped's labels are copies already
    ends = [t - offset for t in ctx.times]
    out: list[tuple[WindowGroup, list[Member]]] = []

    def add(times: list[int], members: list[Member]) -> None:
        lo = [bisect_left(times, end - width) for end in ends]
        hi = [bisect_right(times, end) for end in ends]
        if not shared_labels:
            members = [(dict(labels), values, plain) for labels, values, plain in members]
        out.append((WindowGroup(times, lo, hi), members))

    for times, members in groups:
        if all(plain for _, _, plain in members):
            add(times, members)
            continue
        kept = []
        for labels, values, plain in members:
            if not plain:
                if isinstance(values, array):
                    values = values.tolist()
                # Staleness markers are no samples: a series holding some gets its own
                # timestamps.
                kept_times, values = _without_stale(times, values)
                if kept_times is not times:
                    if kept_times:
                        add(kept_times, [(labels, values, False)])
                    continue
            kept.append((labels, values, plain))
        if kept:
            add(times, kept)
    return out


def range_selector(ctx: Context, node: MatrixSelector, plain: bool = False) -> list[Windowed]:
    return [Windowed(labels, values, group, is_plain)
            for group, members in range_groups(ctx, node, plain)
            for labels, values, is_plain in members]


def matrix_at(ctx: Context, node: MatrixSelector) -> list[tuple[dict[str, str], list[int],
                                                                 list[float]]]:
    """A range selector evaluated at a single instant: the raw samples of each series,
    in Prometheus's order (by label set)."""
    selector = node.selector
    assert isinstance(selector, VectorSelector)
    maxt = ctx.start - selector.offset_ms
    out = []
    for times, members in _split_stale(select_groups(ctx, selector.matchers,
                                                     maxt - node.range_ms, maxt)):
        out.extend((labels, list(times), list(values)) for labels, values in members)
    out.sort(key=lambda item: key_of(item[0]))
    return out
