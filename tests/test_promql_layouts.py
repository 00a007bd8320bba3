"""Every PromQL query of the shipped layouts is inside the embedded engine's subset, so
the layouts work on the engine as on Prometheus (docs/engine.md promises it)."""

from __future__ import annotations

import pytest

from watchdeck.core.engine.promql import UnsupportedError, parse
from watchdeck.core.layouts import load_layout
from watchdeck.core.paths import shipped_layouts_dir
from watchdeck.core.templating import VariableState, builtin_values, substitute


def metric_queries() -> list[tuple[str, str]]:
    found = []
    for path in sorted(shipped_layouts_dir().glob("*.yaml")):
        layout = load_layout(path, builtin=True).layout
        variables = {v.name: v for v in layout.variables}
        states = {name: VariableState(is_all=True) for name in variables}
        builtins = builtin_values(15.0, 60.0, 3600.0)
        for panel in layout.panels:
            if panel.source != "metrics":
                continue  # logs and traces panels speak LogQL / TraceQL
            for query in panel.queries:
                found.append((f"{path.stem}/{panel.id}",
                              substitute(query.expr, variables, states, builtins)))
    return found


QUERIES = metric_queries()


def test_there_are_layout_queries():
    assert len(QUERIES) >= 20


@pytest.mark.parametrize(("where", "query"), QUERIES, ids=[q[0] for q in QUERIES])
def test_layout_query_is_inside_the_subset(where, query):
    try:
        parse(query)
    except UnsupportedError as error:  # pragma: no cover - the failure message
        pytest.fail(f"{where}: {query!r} uses what the embedded engine lacks: {error}")
