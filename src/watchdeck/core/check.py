"""``watchdeck check``: validate files, run every panel's queries once, report each panel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from watchdeck.core.config.files import LoadedConfig
from watchdeck.core.config.models import Layout, Variable
from watchdeck.core.errors import SourceError
from watchdeck.core.layouts import LayoutCatalog
from watchdeck.core.sources import build_sources
from watchdeck.core.sources.base import MetricsSource, Source
from watchdeck.core.templating import (
    VariableState,
    builtin_values,
    default_state,
    parse_variable_query,
    substitute,
)
from watchdeck.core.timewin import choose_step, rate_interval

CHECK_COLUMNS = 100  # the step is chosen as for a chart this wide


@dataclass(frozen=True)
class PanelReport:
    layout: str
    panel: str
    title: str
    status: str  # ok | error | empty | too many series | skipped
    detail: str = ""


async def _variable_states(
    layout: Layout, loaded: LoadedConfig, sources: dict[str, Source], start: float, end: float
) -> dict[str, VariableState]:
    states: dict[str, VariableState] = {}
    variables = {v.name: v for v in layout.variables}
    for variable in layout.variables:
        states[variable.name] = await _initial_state(variable, variables, states, loaded,
                                                     sources, start, end)
    return states


async def _initial_state(
    variable: Variable, variables: dict[str, Variable], states: dict[str, VariableState],
    loaded: LoadedConfig, sources: dict[str, Source], start: float, end: float,
) -> VariableState:
    choices = None
    needs_choices = variable.default is None and not variable.include_all and variable.query
    source = sources.get(loaded.resolve_source(variable.source) or "")
    if needs_choices and isinstance(source, MetricsSource) and variable.query:
        query = parse_variable_query(substitute(variable.query, variables, states))
        choices = await source.label_values(
            query.label, [query.selector] if query.selector else None, start, end
        )
    return default_state(variable, choices)


async def check_layout(
    layout: Layout, loaded: LoadedConfig, sources: dict[str, Source], now: float
) -> list[PanelReport]:
    reports = []
    name = layout.name or "?"
    start, end = now - layout.range, now
    try:
        states = await _variable_states(layout, loaded, sources, start, end)
    except (SourceError, ValueError) as error:
        return [PanelReport(name, "-", "variables", "error", f"variables: {error}")]
    variables = {v.name: v for v in layout.variables}
    max_default = loaded.config.max_series
    for panel in layout.panels:
        pid = panel.id or "?"
        if not panel.queries:
            reports.append(PanelReport(name, pid, panel.title, "ok", "no queries"))
            continue
        source_name = loaded.resolve_source(panel.source)
        source = sources.get(source_name or "")
        if not isinstance(source, MetricsSource):
            reports.append(PanelReport(name, pid, panel.title, "error",
                                       f"no metrics source for '{panel.source}'"))
            continue
        step = choose_step(layout.range, CHECK_COLUMNS, source.scrape_interval)
        builtins = builtin_values(step, rate_interval(step, source.scrape_interval),
                                  layout.range)
        limit = panel.max_series or max_default
        total = 0
        status, detail = "ok", ""
        for query in panel.queries:
            expr = substitute(query.expr, variables, states, builtins)
            instant = query.instant if query.instant is not None else panel.type in (
                "table", "bars")
            try:
                if instant:
                    result = await source.query(expr)
                else:
                    # Not aligned to the step (the console aligns, to redraw less): the
                    # last point falls on now, so a young Prometheus still answers.
                    result = await source.query_range(expr, start, end, step)
            except SourceError as error:
                status, detail = "error", f"{expr}\n      {error}"
                break
            total += len(result.series)
        if status == "ok":
            if total == 0:
                status, detail = "empty", "the queries returned no series"
            elif total > limit:
                status, detail = "too many series", f"{total} series, max_series {limit}"
            else:
                detail = f"{total} series"
        reports.append(PanelReport(name, pid, panel.title, status, detail))
    return reports


async def _warm_up_engines(sources: dict[str, Source], out: Callable[[str], None]) -> int:
    """The embedded engine has no history: scrape twice (rates need two samples).
    Returns how many targets are down."""
    down = 0
    for name, source in sources.items():
        engine = getattr(source, "engine", None)
        if engine is None:
            continue
        discover = getattr(source, "discover", None)
        if discover is not None:
            engine.scraper.set_targets(await discover())
        for round_number in range(2):
            if round_number:
                await asyncio.sleep(1.0)
            await engine.scraper.scrape_all()
        for health in engine.scraper.health.values():
            state = "ok" if health.health == "up" else f"DOWN {health.last_error}"
            down += health.health != "up"
            out(f"target   {name} {health.target.url}: {state}")
    return down


async def run_check(
    loaded: LoadedConfig | None,
    catalog: LayoutCatalog,
    out: Callable[[str], None] = print,
    sources: dict[str, Source] | None = None,
) -> int:
    """Print a report; return 0 when everything is usable, 1 otherwise."""
    failures = 0
    if loaded is not None and loaded.path is not None:
        out(f"config   {loaded.path}: ok")
    for path, error in catalog.errors.items():
        failures += 1
        out(f"layout   {path.name}: ERROR")
        for issue in error.issues:
            out(f"  {issue}")
    if loaded is None:
        out("no sources configured: give -c FILE or --prometheus URL to check queries")
        return 1 if failures else 0
    sources = sources if sources is not None else build_sources(loaded)
    try:
        failures += await _warm_up_engines(sources, out)
        for name, source in sources.items():
            if isinstance(source, MetricsSource):
                try:
                    info = await source.buildinfo()
                    out(f"source   {name}: ok ({source.type} {info.get('version', '?')})")
                except SourceError as error:
                    failures += 1
                    out(f"source   {name}: ERROR {error}")
        now = time.time()
        for entry in catalog.ordered():
            out(f"layout   {entry.name} ({entry.shown})")
            for report in await check_layout(entry.layout, loaded, sources, now):
                if report.status == "error":
                    failures += 1
                label = report.title or report.panel
                out(f"  {report.status:<15} {report.panel:<20} {label}: {report.detail}")
    finally:
        for source in sources.values():
            await source.aclose()
    out("check: " + ("ok" if failures == 0 else f"{failures} problem(s)"))
    return 0 if failures == 0 else 1


def check(loaded: LoadedConfig | None, catalog: LayoutCatalog,
          out: Callable[[str], None] = print) -> int:
    return asyncio.run(run_check(loaded, catalog, out))
