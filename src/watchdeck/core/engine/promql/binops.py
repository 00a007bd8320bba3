"""Binary operators between scalars and instant vectors (engine.go's VectorBinop,
VectorscalarBinop, VectorAnd/Or/Unless and scalarBinop), over all steps at once.

Rules kept from Prometheus 2.42:

* arithmetic drops the metric name, comparisons keep it unless ``bool`` is given;
  a filtering comparison keeps the vector's own value (the left one between vectors);
* vector matching by signature: all labels but the name (minus ``ignoring``), or the
  ``on`` labels; the result of one-to-one matching keeps the ``on`` labels or loses the
  ``ignoring`` ones; ``group_left``/``group_right`` copy the extra labels from the
  "one" side;
* the errors for a duplicate on the "one" side, for several matches in one-to-one
  matching and for non-unique results in many-to-one matching fire only at steps where
  the offending series are present together, as Prometheus checks them step by step.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from watchdeck.core.engine.promql import ast
from watchdeck.core.engine.promql.ast import COMPARISONS, DROPS_NAME, VectorMatching
from watchdeck.core.engine.promql.errors import execution
from watchdeck.core.engine.promql.gomath import go_div, go_mod, go_pow, labels_string
from watchdeck.core.engine.promql.values import (
    Context,
    ScalarSteps,
    StepSeries,
    column,
    drop_name,
    finalize,
    sorted_by_labels,
)

ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "ADD": operator.add, "SUB": operator.sub, "MUL": operator.mul, "DIV": go_div,
    "MOD": go_mod, "POW": go_pow,
}
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "EQLC": operator.eq, "NEQ": operator.ne, "GTR": operator.gt, "LSS": operator.lt,
    "GTE": operator.ge, "LTE": operator.le,
}

Signature = tuple[tuple[str, str], ...]


def _apply(op: str, left: list[float], right: list[float]) -> list[float]:
    """Arithmetic, element-wise; ``/`` runs at C speed unless a division by zero needs
    Go's answer."""
    if op == "DIV":
        try:
            return list(map(operator.truediv, left, right))
        except ZeroDivisionError:
            pass
    return list(map(ARITHMETIC[op], left, right))


def scalar_scalar(op: str, lhs: ScalarSteps, rhs: ScalarSteps) -> ScalarSteps:
    if op in COMPARISONS:  # only valid with bool
        compare = COMPARE[op]
        return ScalarSteps([1.0 if compare(a, b) else 0.0 for a, b in zip(lhs.values, rhs.values)])
    return ScalarSteps(_apply(op, lhs.values, rhs.values))


def vector_scalar(ctx: Context, op: str, vector: list[StepSeries], scalar: ScalarSteps,
                  scalar_left: bool, return_bool: bool) -> list[StepSeries]:
    out = []
    for series in vector:
        other = column(scalar, series.steps, ctx.all_steps)
        left, right = (other, series.values) if scalar_left else (series.values, other)
        if op not in COMPARISONS:
            out.append(StepSeries(drop_name(series.labels), series.steps, _apply(op, left, right)))
            continue
        flags = list(map(COMPARE[op], left, right))
        if return_bool:
            out.append(StepSeries(drop_name(series.labels), series.steps,
                                  [1.0 if f else 0.0 for f in flags]))
            continue
        if all(flags):
            out.append(series)
            continue
        steps = [s for s, f in zip(series.steps, flags) if f]
        if steps:
            values = [v for v, f in zip(series.values, flags) if f]
            out.append(StepSeries(series.labels, steps, values))
    return finalize(out)


def signature_function(matching: VectorMatching) -> Callable[[dict[str, str]], Signature]:
    if matching.on:
        names = sorted(set(matching.labels))
        return lambda labels: tuple((n, labels[n]) for n in names if n in labels)
    dropped = set(matching.labels) | {"__name__"}
    return lambda labels: tuple(sorted((k, v) for k, v in labels.items() if k not in dropped))


_ALL = object()  # "present at every step"


def _presence(ctx: Context, series: list[StepSeries], signature) -> dict[Signature, object]:
    """For each signature, the steps at which some series with it is present."""
    found: dict[Signature, object] = {}
    for item in series:
        sig = signature(item.labels)
        current = found.get(sig)
        if current is _ALL:
            continue
        if item.steps is ctx.all_steps:
            found[sig] = _ALL
        elif current is None:
            found[sig] = set(item.steps)
        else:
            current.update(item.steps)  # type: ignore[attr-defined]
    return found


def _restrict(series: StepSeries, present: object, keep_present: bool) -> StepSeries | None:
    if present is None or present is _ALL:
        whole = (present is _ALL) == keep_present
        return series if whole else None
    pairs = [(s, v) for s, v in zip(series.steps, series.values) if (s in present) == keep_present]
    if not pairs:
        return None
    if len(pairs) == len(series.steps):
        return series
    return StepSeries(series.labels, [p[0] for p in pairs], [p[1] for p in pairs])


def set_operation(ctx: Context, op: str, lhs: list[StepSeries], rhs: list[StepSeries],
                  matching: VectorMatching) -> list[StepSeries]:
    signature = signature_function(matching)
    out: list[StepSeries] = []
    if op == "LOR":
        out.extend(lhs)
        left = _presence(ctx, lhs, signature)
        for series in rhs:
            kept = _restrict(series, left.get(signature(series.labels)), keep_present=False)
            if kept is not None:
                out.append(kept)
        return finalize(out)
    right = _presence(ctx, rhs, signature)
    for series in lhs:
        present = right.get(signature(series.labels))
        if op == "LAND":
            kept = None if present is None else _restrict(series, present, keep_present=True)
        else:  # LUNLESS
            kept = series if present is None else _restrict(series, present, keep_present=False)
        if kept is not None:
            out.append(kept)
    return finalize(out)


def _match_labels(labels: dict[str, str], matching: VectorMatching) -> dict[str, str]:
    names = set(matching.labels)
    if matching.on:
        return {k: v for k, v in labels.items() if k in names}
    return {k: v for k, v in labels.items() if k not in names and k != "__name__"}


def _check_one_side(ctx: Context, one: list[StepSeries], many: list[StepSeries], signature,
                    matching: VectorMatching) -> None:
    """The "one" side may not hold two series with one signature at a step where the
    other side has any series at all."""
    by_sig: dict[Signature, list[int]] = {}
    for index, item in enumerate(one):
        by_sig.setdefault(signature(item.labels), []).append(index)
    clashes: dict[int, None] = {}
    for indexes in by_sig.values():
        if len(indexes) < 2:
            continue
        seen: set[int] = set()
        for index in indexes:
            for step in one[index].steps:
                if step in seen:
                    clashes[step] = None
                seen.add(step)
    if not clashes:
        return
    many_steps: set[int] = set()
    for item in many:
        many_steps.update(item.steps)
    for step in sorted(clashes):
        if step not in many_steps:
            continue
        stored: dict[Signature, StepSeries] = {}
        for item in sorted_by_labels(one):
            if step not in item.steps:
                continue
            sig = signature(item.labels)
            earlier = stored.get(sig)
            if earlier is not None:
                side = "left" if matching.card == ast.ONE_TO_MANY else "right"
                raise execution(
                    "found duplicate series for the match group "
                    f"{labels_string(_match_labels(item.labels, matching))} on the {side} "
                    "hand-side of the operation: "
                    f"[{labels_string(item.labels)}, {labels_string(earlier.labels)}]"
                    ";many-to-many matching not allowed: matching labels must be unique on "
                    "one side")
            stored[sig] = item


def _result_labels(many: dict[str, str], one: dict[str, str], op: str,
                   matching: VectorMatching, return_bool: bool) -> dict[str, str]:
    labels = dict(many)
    if op in DROPS_NAME or return_bool:
        labels.pop("__name__", None)
    if matching.card == ast.ONE_TO_ONE:
        if matching.on:
            names = set(matching.labels)
            labels = {k: v for k, v in labels.items() if k in names}
        else:
            for name in matching.labels:
                labels.pop(name, None)
    for name in matching.include:
        value = one.get(name, "")
        if value:
            labels[name] = value
        else:
            labels.pop(name, None)
    return labels


def _aligned(many: StepSeries, one: StepSeries, lookup: dict[int, dict[int, float]]
             ) -> tuple[list[int], list[float], list[float]]:
    if many.steps is one.steps:
        return many.steps, many.values, one.values
    table = lookup.get(id(one))
    if table is None:
        table = lookup[id(one)] = dict(zip(one.steps, one.values))
    steps, mine, theirs = [], [], []
    for step, value in zip(many.steps, many.values):
        other = table.get(step)
        if other is not None:
            steps.append(step)
            mine.append(value)
            theirs.append(other)
    return steps, mine, theirs


def vector_vector(ctx: Context, op: str, lhs: list[StepSeries], rhs: list[StepSeries],
                  matching: VectorMatching, return_bool: bool) -> list[StepSeries]:
    signature = signature_function(matching)
    swapped = matching.card == ast.ONE_TO_MANY
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    if not many or not one:
        return []
    _check_one_side(ctx, one, many, signature, matching)
    one_by_sig: dict[Signature, list[StepSeries]] = {}
    for item in one:
        one_by_sig.setdefault(signature(item.labels), []).append(item)
    lookup: dict[int, dict[int, float]] = {}
    # (signature, output labels key) -> output series, to apply the matching checks.
    produced: list[tuple[Signature, StepSeries]] = []
    for item in many:
        sig = signature(item.labels)
        for partner in one_by_sig.get(sig, ()):
            steps, mine, theirs = _aligned(item, partner, lookup)
            if not steps:
                continue
            left, right = (theirs, mine) if swapped else (mine, theirs)
            labels = _result_labels(item.labels, partner.labels, op, matching, return_bool)
            if op not in COMPARISONS:
                produced.append((sig, StepSeries(labels, steps, _apply(op, left, right))))
                continue
            flags = list(map(COMPARE[op], left, right))
            if return_bool:
                values = [1.0 if f else 0.0 for f in flags]
                produced.append((sig, StepSeries(labels, steps, values)))
                continue
            kept = [(s, v) for s, v, f in zip(steps, left, flags) if f]
            if kept:
                produced.append((sig, StepSeries(labels, [k[0] for k in kept],
                                                 [k[1] for k in kept])))
    _check_matches(produced, matching)
    return finalize([series for _, series in produced])


def _check_matches(produced: list[tuple[Signature, StepSeries]], matching: VectorMatching) -> None:
    """One-to-one: one match per signature and step. Many-to-one: one result per
    signature, result labels and step."""
    one_to_one = matching.card == ast.ONE_TO_ONE
    seen: dict[object, set[int]] = {}
    for sig, series in produced:
        key: object = sig if one_to_one else (sig, tuple(sorted(series.labels.items())))
        steps = seen.get(key)
        if steps is None:
            seen[key] = set(series.steps)
            continue
        if not steps.isdisjoint(series.steps):
            if one_to_one:
                raise execution("multiple matches for labels: many-to-one matching must be "
                                "explicit (group_left/group_right)")
            raise execution("multiple matches for labels: grouping labels must ensure unique "
                            "matches")
        steps.update(series.steps)
