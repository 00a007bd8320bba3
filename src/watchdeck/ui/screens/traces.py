"""The trace list: the traces behind a panel's window, slowest first.

``t`` on a panel opens it. Its rows come from the exemplars of the panel's queries (the
trace ids Prometheus or the embedded engine kept beside the samples) when there are any,
each filled in from the traces source; otherwise from a search of the traces source —
the panel's ``drill.traces`` query, or every trace of the window. ``/`` filters
(``service=vllm >500ms status=error``, or TraceQL), ``enter`` opens the waterfall.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

from watchdeck.core.errors import SourceError
from watchdeck.core.otlp.spans import Span, TraceSummary
from watchdeck.core.safe import sanitize
from watchdeck.core.traces.listfilter import (
    TraceFilterError,
    describe_trace_filter,
    parse_trace_filter,
)
from watchdeck.core.traces.source import (
    TraceQuery,
    TraceSource,
    duration_fits,
    span_matches,
    summarize,
)
from watchdeck.core.traces.traceql import combine
from watchdeck.core.units import format_value, normalise_unit
from watchdeck.ui.themes import theme_colour
from watchdeck.ui.typeahead import TextBox, focus_now, open_box, route_key
from watchdeck.ui.widgets.keyhints import KeyHints

if TYPE_CHECKING:
    from watchdeck.ui.app import WatchdeckApp

MAX_EXEMPLAR_TRACES = 50
FETCH_CONCURRENCY = 4


@dataclass
class TraceRow:
    """One row: a summary once known; for an exemplar, its value and time too."""

    trace_id: str
    summary: TraceSummary | None = None
    exemplar_value: float | None = None      # as the metric has it
    exemplar_seconds: float | None = None    # the same as a duration, when it is one
    exemplar_time: float | None = None
    problem: str | None = None
    spans: tuple[Span, ...] = ()             # kept for the filter (exemplar lists)

    @property
    def duration_ns(self) -> int:
        if self.summary is not None:
            return self.summary.duration_ns
        return int((self.exemplar_seconds or 0) * 1e9)


@dataclass(frozen=True)
class TraceRequest:
    """What the list shows: where from, which window, which exemplar queries."""

    source: str | None             # the traces source (None: none configured)
    query: TraceQuery              # window and drill query
    exemplar_source: str | None = None
    exemplar_exprs: tuple[str, ...] = ()
    exemplar_unit: str | None = None
    title: str = "Traces"


def matches(row: TraceRow, wanted: TraceQuery) -> bool:
    """Client-side check of a filled row against the filter (exemplar lists): the trace's
    duration, and service, operation, status and attributes all on one span (as TraceQL's
    ``{ a && b }`` and the sources' searches read them)."""
    summary = row.summary
    if summary is None:
        return not wanted.has_span_conditions
    if not duration_fits(summary.duration_ns, wanted):
        return False
    needs_span = (wanted.service is not None or wanted.operation is not None
                  or wanted.status != "any" or bool(wanted.attributes))
    return not needs_span or any(span_matches(span, wanted) for span in row.spans)


def merge_raw(base: str | None, extra: str) -> str:
    """A panel's own query text and the filter's TraceQL, both holding: two single
    spansets become one (``{ a && b }``); otherwise the filter's, with the panel's kept as
    a spanset of its own when it is TraceQL."""
    base = (base or "").strip()
    extra = extra.strip()
    if not base:
        return extra
    if base.startswith("{") and base.endswith("}") and extra.startswith("{") and (
            extra.endswith("}")) and "}" not in base[1:-1] and "}" not in extra[1:-1]:
        return "{ " + base[1:-1].strip() + " && " + extra[1:-1].strip() + " }"
    if base.startswith("{"):
        return f"({base}) && ({extra})"
    return extra  # tag-style drill text: its conditions are in the query's fields already


def exemplar_seconds(value: float, series_name: str, unit: str | None) -> float | None:
    """An exemplar's value as seconds when it is a duration: by the metric's name
    (``_seconds``, ``_milliseconds``/``_ms``), else the panel's unit; None when it is not
    a time (a token count, a cost)."""
    name = series_name.lower()
    if "_seconds" in name:
        return value
    if "_milliseconds" in name or name.endswith(("_ms", "_ms_bucket")) or "_ms_" in name:
        return value / 1e3
    if "_microseconds" in name or "_us_" in name:
        return value / 1e6
    return {"s": value, "ms": value / 1e3, "us": value / 1e6, "ns": value / 1e9}.get(
        normalise_unit(unit)) if unit else None


def format_ns(ns: int) -> str:
    return format_value(ns / 1e9, "s")


class TraceListScreen(Screen[None]):
    DEFAULT_CSS = """
    TraceListScreen > #traces-state { height: auto; padding: 0 1; }
    TraceListScreen > DataTable { height: 1fr; }
    TraceListScreen > Input { display: none; }
    TraceListScreen.-filtering > Input { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="traces-back"),
        Binding("enter", "open", "Open trace", id="traces-open"),
        Binding("slash", "filter", "Filter", id="traces-filter"),
        Binding("r", "reload", "Reload", id="traces-reload"),
        Binding("y", "copy_id", "Copy trace id", id="traces-copy"),
    ]

    app: WatchdeckApp

    def __init__(self, request: TraceRequest) -> None:
        super().__init__()
        self.request = request
        self.filter = TraceQuery()
        self.rows: list[TraceRow] = []
        self.shown: list[TraceRow] = []
        self.from_exemplars = False
        self.status = "loading…"

    def compose(self) -> ComposeResult:
        yield Static(self._heading(), id="traces-state")
        yield TextBox(placeholder="service=vllm op=llm_request >500ms status=error key=value, "
                                  "or { TraceQL }", id="traces-filter")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        yield table
        yield KeyHints(self.BINDINGS, (("?", "Help"),))  # type: ignore[arg-type]

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("duration", "service", "operation", "spans", "errors", "started",
                          "trace id")
        table.focus()
        self.load()

    def _heading(self) -> Text:
        text = Text()
        text.append(sanitize(self.request.title, 120), style="bold")
        start, end = self.request.query.window(time.time())
        text.append(f" · {time.strftime('%H:%M:%S', time.localtime(start))}–"
                    f"{time.strftime('%H:%M:%S', time.localtime(end))}")
        if self.from_exemplars:
            text.append(" · from exemplars")
        elif self.request.source:
            text.append(f" · {sanitize(self.request.source, 40)}")
        if self.filter != TraceQuery():
            text.append(f" · filter: {sanitize(describe_trace_filter(self.filter), 200)}")
        text.append(f" · {self.status}")
        return text

    def _set_status(self, status: str) -> None:
        self.status = status
        self.query_one("#traces-state", Static).update(self._heading())

    # ------------------------------------------------------------------ loading

    def _trace_source(self) -> TraceSource | None:
        source = self.app.sources.get(self.request.source or "")
        return source if isinstance(source, TraceSource) else None

    @work(exclusive=True, group="traces-load", exit_on_error=False)
    async def load(self) -> None:
        self.rows = []
        self._fill_table()
        self._set_status("loading…")
        exemplar_rows = await self._exemplar_rows()
        if exemplar_rows:
            self.from_exemplars = True
            self.rows = exemplar_rows
            self._fill_table()
            self._set_status(f"{len(exemplar_rows)} exemplars · fetching traces…")
            await self._fill_summaries()
            return
        self.from_exemplars = False
        source = self._trace_source()
        if source is None:
            self._set_status("no traces source: configure Tempo, Jaeger or the OTLP "
                             "receiver (roles: traces)" if not self.request.source else
                             f"'{self.request.source}' is not a traces source")
            return
        query = combine(self.filter, self.request.query) if self.filter != TraceQuery() else (
            self.request.query)
        if query is None:
            self.rows = []
            self._fill_table()
            self._set_status("the filter contradicts the panel's query: nothing can match")
            return
        if self.filter.query:
            query = replace(query, query=merge_raw(self.request.query.query,
                                                   self.filter.query))
        try:
            summaries = await source.search(query)
        except SourceError as error:
            self._set_status(f"✖ {sanitize(str(error), 300)}")
            return
        self.rows = [TraceRow(summary.trace_id, summary) for summary in summaries]
        self._fill_table()
        self._set_status(f"{len(self.rows)} traces, slowest first" if self.rows else
                         "no traces in this window")

    async def _exemplar_rows(self) -> list[TraceRow]:
        request = self.request
        source = self.app.sources.get(request.exemplar_source or "")
        query_exemplars = getattr(source, "query_exemplars", None)
        if query_exemplars is None or not request.exemplar_exprs:
            return []
        start, end = request.query.window(time.time())
        found: dict[str, TraceRow] = {}
        for expr in request.exemplar_exprs:
            try:
                exemplars = await query_exemplars(expr, start, end)
            except SourceError:
                continue  # exemplars are a shortcut; the search below still works
            for exemplar in exemplars:
                trace_id = getattr(exemplar, "trace_id", None)
                if not trace_id:
                    continue
                row = found.get(trace_id)
                value = float(getattr(exemplar, "value", 0.0))
                if row is None or (row.exemplar_value or 0) < value:
                    name = (getattr(exemplar, "series_labels", None) or {}).get("__name__", "")
                    found[trace_id] = TraceRow(
                        trace_id, exemplar_value=value,
                        exemplar_seconds=exemplar_seconds(value, name, request.exemplar_unit),
                        exemplar_time=getattr(exemplar, "timestamp", None))
        rows = sorted(found.values(), key=lambda r: -(r.exemplar_value or 0))
        return rows[:MAX_EXEMPLAR_TRACES]

    async def _fill_summaries(self) -> None:
        source = self._trace_source()
        if source is None:
            self._set_status(f"{len(self.rows)} exemplars · no traces source to open them")
            return
        gate = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def fill(row: TraceRow) -> None:
            async with gate:
                try:
                    spans = await source.trace(row.trace_id)
                except SourceError as error:
                    row.problem = sanitize(str(error), 200)
                    return
                row.summary = summarize(row.trace_id, spans)
                row.spans = tuple(spans)

        await asyncio.gather(*(fill(row) for row in self.rows))
        found = sum(1 for row in self.rows if row.summary is not None)
        # Traces that can be opened first, slowest first; exemplars whose trace the source
        # does not have (not exported yet, or expired) after them.
        self.rows.sort(key=lambda r: (r.summary is None, -r.duration_ns))
        self._fill_table()
        self._set_status(f"{len(self.rows)} exemplars, {found} traces found in "
                         f"{sanitize(self.request.source or '', 40)}, slowest first")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure outside the sources' typed errors still ends the "loading…"."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self._set_status(f"✖ {type(error).__name__}: {sanitize(str(error), 200)}")

    # ------------------------------------------------------------------ table

    def _fill_table(self) -> None:
        table = self.query_one(DataTable)
        # The row under the cursor stays under it, unless the cursor is still on the first row
        # (then the first row of the new order is what the user wants: the slowest).
        keep = self._selected() if table.cursor_row else None
        table.clear()
        wanted = self.filter
        self.shown = [row for row in self.rows
                      if not self.from_exemplars or matches(row, wanted)]
        for row in self.shown:
            summary = row.summary
            if summary is None:
                value = (format_ns(row.duration_ns) + " ≈" if row.exemplar_seconds is not None
                         else f"{row.exemplar_value:g} ≈" if row.exemplar_value is not None
                         else "")
                cells = [
                    Text(value),
                    Text("?" if row.problem is None else "not found", style="dim"),
                    Text(row.problem or "", style="dim"), Text(""), Text(""),
                    Text(time.strftime("%H:%M:%S", time.localtime(row.exemplar_time))
                         if row.exemplar_time else ""),
                    Text(row.trace_id, style="dim")]
            else:
                errors = Text(str(summary.error_count) if summary.error_count else "",
                              style=theme_colour(self.app, "error", "red"))
                cells = [
                    Text(format_ns(summary.duration_ns), style="bold"),
                    Text(sanitize(summary.service, 40)),
                    Text(sanitize(summary.operation, 80) + ("" if summary.has_root else
                                                              " (no root)")),
                    Text(str(summary.span_count)), errors,
                    Text(time.strftime("%H:%M:%S", time.localtime(summary.start_ns / 1e9))),
                    Text(row.trace_id, style="dim")]
            table.add_row(*cells, key=row.trace_id)
        if keep is not None and keep in {row.trace_id for row in self.shown}:
            table.move_cursor(row=table.get_row_index(keep))

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.shown or table.cursor_row is None or not 0 <= table.cursor_row < len(
                self.shown):
            return None
        return self.shown[table.cursor_row].trace_id

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        if self.has_class("-filtering"):
            self.remove_class("-filtering")
            focus_now(self, self.query_one(DataTable))
            return
        self.app.pop_screen()

    def action_open(self) -> None:
        trace_id = self._selected()
        if trace_id is not None:
            self.app.open_trace(trace_id, source=self.request.source)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_reload(self) -> None:
        self.load()

    def action_copy_id(self) -> None:
        trace_id = self._selected()
        if trace_id is not None:
            self.app.copy_to_clipboard(trace_id)
            self.notify("trace id copied (OSC 52)", timeout=2)

    def action_filter(self) -> None:
        self.add_class("-filtering")
        open_box(self, self.query_one(TextBox), describe_trace_filter(self.filter),
                 on_submit=self._apply_filter, on_cancel=self.action_back)

    async def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        box = self.query_one(TextBox) if self.has_class("-filtering") else None
        await route_key(self, event, box, ("filter",))

    def _apply_filter(self, event: Input.Submitted) -> None:
        """The box's submission (called by it: see ui/typeahead.py)."""
        try:
            self.filter = parse_trace_filter(event.value)
        except TraceFilterError as error:
            event.input.border_title = sanitize(str(error), 200)
            return
        event.input.border_title = None
        self.remove_class("-filtering")
        focus_now(self, self.query_one(DataTable))
        if self.from_exemplars:
            self._fill_table()
            self._set_status(f"{len(self.shown)} of {len(self.rows)} exemplar traces")
        else:
            self.load()
