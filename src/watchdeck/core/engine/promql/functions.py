"""Functions of instant vectors and scalars: ``abs ceil floor round clamp_min clamp_max
scalar vector time timestamp label_replace absent histogram_quantile``, as in
Prometheus 2.42's functions.go.

All of them but ``label_replace`` (and ``timestamp`` of a selector, ``vector``,
``absent``) drop the metric name, after which two series may collide at a step, which
:func:`finalize` turns into Prometheus's error.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left
from itertools import accumulate

from watchdeck.core.engine.matchers import Matcher
from watchdeck.core.engine.promql import ast
from watchdeck.core.engine.promql.errors import execution
from watchdeck.core.engine.promql.gomath import (
    go_ceil,
    go_div,
    go_floor,
    go_max,
    go_min,
    parse_go_float,
)
from watchdeck.core.engine.promql.regex import compile_anchored
from watchdeck.core.engine.promql.values import (
    Context,
    LabelKey,
    ScalarSteps,
    StepSeries,
    column,
    drop_name,
    finalize,
)

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def simple(ctx: Context, name: str, vector: list[StepSeries]) -> list[StepSeries]:
    func = {"abs": math.fabs, "ceil": go_ceil, "floor": go_floor}[name]
    return finalize([StepSeries(drop_name(s.labels), s.steps, list(map(func, s.values)))
                     for s in vector])


def _round(value: float, inverse: float) -> float:
    return go_div(go_floor(value * inverse + 0.5), inverse)


def round_(ctx: Context, vector: list[StepSeries], to_nearest: ScalarSteps | None
           ) -> list[StepSeries]:
    # Prometheus multiplies by the inverse, which it finds more accurate.
    inverses = ([1.0] * ctx.count if to_nearest is None
                else [go_div(1.0, v) for v in to_nearest.values])
    out = []
    for series in vector:
        inverse = column(ScalarSteps(inverses), series.steps, ctx.all_steps)
        out.append(StepSeries(drop_name(series.labels), series.steps,
                              list(map(_round, series.values, inverse))))
    return finalize(out)


def clamp(ctx: Context, name: str, vector: list[StepSeries], bound: ScalarSteps
          ) -> list[StepSeries]:
    out = []
    for series in vector:
        bounds = column(bound, series.steps, ctx.all_steps)
        if name == "clamp_min":
            values = list(map(go_max, bounds, series.values))
        else:
            values = list(map(go_min, bounds, series.values))
        out.append(StepSeries(drop_name(series.labels), series.steps, values))
    return finalize(out)


def scalar(ctx: Context, vector: list[StepSeries]) -> ScalarSteps:
    """The single value at each step, NaN where there are none or several."""
    counts = [0] * ctx.count
    values = [math.nan] * ctx.count
    for series in vector:
        for step, value in zip(series.steps, series.values):
            counts[step] += 1
            values[step] = value
    return ScalarSteps([v if c == 1 else math.nan for v, c in zip(values, counts)])


def vector(ctx: Context, value: ScalarSteps) -> list[StepSeries]:
    return [StepSeries({}, ctx.all_steps, value.values)]


def time(ctx: Context) -> ScalarSteps:
    return ScalarSteps([t / 1000 for t in ctx.times])


def timestamp(ctx: Context, vector: list[StepSeries],
              sample_times: list[list[int]] | None) -> list[StepSeries]:
    """With a selector argument, the time of each sample; otherwise the step's time
    (an instant vector computed at a step is stamped with that step)."""
    out = []
    for index, series in enumerate(vector):
        if sample_times is not None:
            values = [t / 1000 for t in sample_times[index]]
        else:
            times = ctx.times
            values = [times[s] / 1000 for s in series.steps]
        out.append(StepSeries(drop_name(series.labels), series.steps, values))
    return finalize(out)


def _go_extract(template: str) -> tuple[str, str] | None:
    """Go regexp's extract(): the group name after a ``$`` and the rest, or None."""
    if not template:
        return None
    brace = template[0] == "{"
    text = template[1:] if brace else template
    i = 0
    while i < len(text):
        char = text[i]
        if not (char == "_" or char.isdigit() and unicodedata.category(char) == "Nd"
                or unicodedata.category(char).startswith("L")):
            break
        i += 1
    if i == 0:
        return None
    name = text[:i]
    if brace:
        if i >= len(text) or text[i] != "}":
            return None
        i += 1
    return name, text[i:]


def go_expand(template: str, match: re.Match[str], group_index: dict[str, int]) -> str:
    """Go's Regexp.ExpandString: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; a
    group that does not exist or did not take part expands to nothing."""
    out = []
    while template:
        before, dollar, after = template.partition("$")
        if not dollar:
            break
        out.append(before)
        template = after
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        extracted = _go_extract(template)
        if extracted is None:
            out.append("$")
            continue
        name, template = extracted
        number = -1
        if name.isascii() and name.isdigit() and not (name[0] == "0" and len(name) > 1):
            number = int(name) if len(name) < 9 else -1
        if number < 0 and not (name.isascii() and name.isdigit()):
            number = group_index.get(name, -1)
            if number < 0:
                continue
        if 0 <= number <= (match.re.groups) and match.start(number) >= 0:
            out.append(match.group(number))
    out.append(template)
    return "".join(out)


def label_replace(ctx: Context, vector: list[StepSeries], dst: str, replacement: str,
                  src: str, regex: str) -> list[StepSeries]:
    try:
        pattern = compile_anchored(regex)
    except re.error:
        raise execution(f"invalid regular expression in label_replace(): {regex}") from None
    if not _LABEL_NAME.fullmatch(dst):
        raise execution(f"invalid destination label name in label_replace(): {dst}")
    out = []
    for series in vector:
        match = pattern.fullmatch(series.labels.get(src, ""))
        if match is None:
            out.append(series)
            continue
        value = go_expand(replacement, match, pattern.groupindex)
        labels = dict(series.labels)
        labels.pop(dst, None)
        if value:
            labels[dst] = value
        out.append(StepSeries(labels, series.steps, series.values))
    return finalize(out)


def absent_labels(arg: ast.Expr) -> dict[str, str]:
    """The labels absent() reports: those its selector's equality matchers fix, except
    where a label is matched twice."""
    node = ast.unwrap_parens(arg)
    if not isinstance(node, ast.VectorSelector):
        return {}
    labels: dict[str, str] = {}
    seen: set[str] = set()
    matchers: list[Matcher] = node.matchers
    for matcher in matchers:
        if matcher.name == "__name__":
            continue
        if matcher.op == "=" and matcher.name not in seen:
            labels[matcher.name] = matcher.value
            seen.add(matcher.name)
        else:
            labels.pop(matcher.name, None)
    return {k: v for k, v in labels.items() if v}


def absent(ctx: Context, vector: list[StepSeries], arg: ast.Expr) -> list[StepSeries]:
    present: set[int] = set()
    for series in vector:
        if series.steps is ctx.all_steps:
            return []
        present.update(series.steps)
    steps = [s for s in ctx.all_steps if s not in present]
    if not steps:
        return []
    if len(steps) == ctx.count:
        steps = ctx.all_steps
    return [StepSeries(absent_labels(arg), steps, [1.0] * len(steps))]


# -- histogram_quantile ---------------------------------------------------------------


def _go_search(n: int, predicate) -> int:
    """sort.Search: the smallest index in [0, n) where predicate is true, assuming it is
    monotonic; the same answer as Go's when it is not."""
    i, j = 0, n
    while i < j:
        h = (i + j) >> 1
        if not predicate(h):
            i = h + 1
        else:
            j = h
    return i


def bucket_quantile(q: float, bounds: list[float], counts: list[float]) -> float:
    """bucketQuantile over buckets sorted by upper bound."""
    if q != q:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if bounds[-1] != math.inf:
        return math.nan
    # Merge buckets with the same bound, then make the counts monotonic (the fix for
    # buckets scraped or rated at slightly different times).
    merged_bounds = [bounds[0]]
    merged_counts = [counts[0]]
    for bound, count in zip(bounds[1:], counts[1:]):
        if bound == merged_bounds[-1]:
            merged_counts[-1] += count
        else:
            merged_bounds.append(bound)
            merged_counts.append(count)
    highest = merged_counts[0]
    for i in range(1, len(merged_counts)):
        if merged_counts[i] > highest:
            highest = merged_counts[i]
        elif merged_counts[i] < highest:
            merged_counts[i] = highest
    n = len(merged_bounds)
    if n < 2:
        return math.nan
    observations = merged_counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = _go_search(n - 1, lambda i: merged_counts[i] >= rank)
    if b == n - 1:
        return merged_bounds[n - 2]
    if b == 0 and merged_bounds[0] <= 0:
        return merged_bounds[0]
    bucket_start = 0.0
    bucket_end = merged_bounds[b]
    count = merged_counts[b]
    if b > 0:
        bucket_start = merged_bounds[b - 1]
        count -= merged_counts[b - 1]
        rank -= merged_counts[b - 1]
    return bucket_start + (bucket_end - bucket_start) * go_div(rank, count)


def _plain_bucket_quantiles(qs: list[float], steps: list[int], bounds: list[float],
                            columns) -> list[float]:
    """bucket_quantile at each step, for distinct bounds ending in +Inf and finite
    counts. Then the monotonic fix is a running maximum (Go keeps an equal count
    as it is, which differs from the maximum only in the sign of a zero, and a zero
    there never reaches the result) and sort.Search a bisection."""
    n = len(bounds)
    out = []
    for step, counts in zip(steps, columns):
        q = qs[step]
        if not 0 <= q <= 1:
            out.append(bucket_quantile(q, bounds, list(counts)))
            continue
        fixed = list(accumulate(counts, max))
        observations = fixed[-1]
        if observations == 0:
            out.append(math.nan)
            continue
        rank = q * observations
        b = bisect_left(fixed, rank, 0, n - 1)
        if b == n - 1:
            out.append(bounds[n - 2])
            continue
        if b == 0 and bounds[0] <= 0:
            out.append(bounds[0])
            continue
        start = 0.0
        count = fixed[b]
        if b > 0:
            start = bounds[b - 1]
            count -= fixed[b - 1]
            rank -= fixed[b - 1]
        out.append(start + (bounds[b] - start) * go_div(rank, count))
    return out


def _plain_buckets(bounds: list[float], members: list[StepSeries]) -> bool:
    if len(bounds) < 2 or bounds[-1] != math.inf or len(set(bounds)) != len(bounds):
        return False  # NaN bounds are never equal, so they fail the set test as well
    total = sum(map(sum, (m.values for m in members)))  # NaN or ±Inf: not plain
    return total - total == 0


def histogram_quantile(ctx: Context, q: ScalarSteps, vector: list[StepSeries]
                       ) -> list[StepSeries]:
    # Buckets belong together when all their labels but "le" agree (the name included);
    # the result carries neither the name nor "le".
    groups: dict[LabelKey, tuple[dict[str, str], list[tuple[float, StepSeries]]]] = {}
    for series in vector:
        try:
            bound = parse_go_float(series.labels.get("le", ""))
        except ValueError:
            continue  # no bucket label, or not a number: Prometheus skips the sample
        key = tuple(sorted((k, v) for k, v in series.labels.items() if k != "le"))
        entry = groups.get(key)
        if entry is None:
            labels = {k: v for k, v in series.labels.items() if k not in ("le", "__name__")}
            groups[key] = (labels, [(bound, series)])
        else:
            entry[1].append((bound, series))
    out = []
    qs = q.values
    for labels, members in groups.values():
        members.sort(key=lambda m: m[0])
        bounds = [m[0] for m in members]
        first = members[0][1]
        if all(m[1].steps is first.steps for m in members):
            steps = first.steps
            columns = zip(*(m[1].values for m in members))
            if _plain_buckets(bounds, [m[1] for m in members]):
                values = _plain_bucket_quantiles(qs, steps, bounds, columns)
            else:
                values = [bucket_quantile(qs[s], bounds, list(c))
                          for s, c in zip(steps, columns)]
        else:
            table: dict[int, tuple[list[float], list[float]]] = {}
            for bound, series in members:
                for step, value in zip(series.steps, series.values):
                    entry_b, entry_c = table.setdefault(step, ([], []))
                    entry_b.append(bound)
                    entry_c.append(value)
            steps = sorted(table)
            values = [bucket_quantile(qs[s], *table[s]) for s in steps]
            if len(steps) == ctx.count:
                steps = ctx.all_steps
        out.append(StepSeries(labels, steps, values))
    return finalize(out)
