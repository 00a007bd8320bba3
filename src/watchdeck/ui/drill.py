"""Drilling down: from a panel to its traces (``t``), from a trace to its logs (``l``), from
a log line to its trace (``enter``), and from a panel to its logs (``L``).

Which source each step uses: a panel's ``drill:`` section when it has one, else the
layout's own logs panel's source (for logs), else the ``traces`` / ``logs`` role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen

from watchdeck.core.config.models import LogsPanel as LogsSpec
from watchdeck.core.config.types import convert
from watchdeck.core.traces.source import TraceQuery
from watchdeck.core.traces.traceql import TraceQLError, parse, parse_logfmt
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.panels.logs import LogsPanel
from watchdeck.ui.screens.traces import TraceRequest
from watchdeck.ui.widgets.keyhints import KeyHints

if TYPE_CHECKING:
    from watchdeck.ui.app import WatchdeckApp
    from watchdeck.ui.context import DashboardContext

TRACE_LIMIT = 50


def traces_source(app: WatchdeckApp, panel: Panel | None = None) -> str | None:
    drill = getattr(panel.spec, "drill", None) if panel is not None else None
    if drill is not None and drill.traces is not None:
        return app.config.resolve_source(drill.traces.source)
    return app.config.resolve_source("traces")


def logs_source(app: WatchdeckApp, panel: Panel | None = None
                ) -> tuple[list[str], str | None]:
    """(sources or roles, LogQL query) for logs: the panel's drill, else the layout's logs
    panel (all of its sources), else the logs role."""
    drill = getattr(panel.spec, "drill", None) if panel is not None else None
    if drill is not None and drill.logs is not None:
        return [drill.logs.source], drill.logs.query
    dashboard = app.dashboard
    if dashboard is not None:
        for spec in dashboard.spec.panels:
            if isinstance(spec, LogsSpec):
                return list(spec.source_names), spec.query
    return ["logs"], None


def trace_request(app: WatchdeckApp, panel: Panel) -> TraceRequest:
    """What ``t`` on ``panel`` lists: its window; its queries' exemplars; its drill query."""
    window = panel.context.window
    end = window.end if window.end is not None else app.clock()
    start = end - window.range
    drill = getattr(panel.spec, "drill", None)
    query = TraceQuery(start=start, end=end, limit=TRACE_LIMIT)
    if drill is not None and drill.traces is not None and drill.traces.query.strip():
        text = drill.traces.query.strip()
        try:
            # TraceQL, or tags (``http.status_code=500 error=true``) as Jaeger and Tempo
            # read them: either way its conditions are also the query's fields, so a
            # filter typed in the list combines with them.
            parsed = parse(text) if text.startswith("{") else TraceQuery(
                attributes=parse_logfmt(text))
        except (TraceQLError, ValueError):
            parsed = TraceQuery()
        query = TraceQuery(service=parsed.service, operation=parsed.operation,
                           min_duration_ns=parsed.min_duration_ns,
                           max_duration_ns=parsed.max_duration_ns, status=parsed.status,
                           attributes=parsed.attributes, query=text, start=start, end=end,
                           limit=TRACE_LIMIT)
    keys = [key for key in panel.plan() if key.kind == "metrics"]
    title = panel.spec.title or panel.spec.id or "panel"
    return TraceRequest(
        source=traces_source(app, panel), query=query,
        exemplar_source=keys[0].source if keys else None,
        exemplar_exprs=tuple(dict.fromkeys(key.expr for key in keys)),
        exemplar_unit=getattr(panel.spec, "unit", None),
        title=f"Traces · {title}")


class LogsScreen(Screen[None]):
    """One logs panel over the whole screen: a trace's logs, or a panel's."""

    DEFAULT_CSS = """
    LogsScreen > LogsPanel { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="logs-screen-back"),
    ]

    def __init__(self, spec: LogsSpec, context: DashboardContext,
                 contains: str | None = None, since: float | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.context = context
        self.contains = contains
        self.since = since

    def compose(self) -> ComposeResult:
        yield LogsPanel(self.spec, self.context, contains=self.contains, since=self.since)
        yield KeyHints([*self.BINDINGS, *LogsPanel.BINDINGS], (("?", "Help"),))  # type: ignore[list-item]

    def on_mount(self) -> None:
        self.query_one(LogsPanel).focus()


def logs_screen(app: WatchdeckApp, *, title: str, sources: list[str], query: str | None,
                contains: str | None = None, filter_text: str | None = None,
                since: float | None = None) -> LogsScreen | None:
    """A logs screen over ``sources`` (merged when several); ``since`` (epoch seconds)
    asks the sources for history from then (Loki's window)."""
    dashboard = app.dashboard
    if dashboard is None:
        return None
    spec = convert(LogsSpec, {"type": "logs", "id": "drill-logs", "title": title,
                              "source": sources[0], "sources": sources if len(sources) > 1
                              else [], "query": query, "filter": filter_text,
                              "width": 12, "height": "1fr", "backlog": 5000})
    return LogsScreen(spec, dashboard.context, contains=contains, since=since)
