"""The waterfall: one trace's span tree on a shared time axis, and the chosen span's detail.

Rows come from :class:`watchdeck.core.traces.tree.TraceTree` (which handles orphans,
cycles, duplicate ids and clock skew); this screen draws only the rows on screen, one
cached strip each, so a 10,000-span trace scrolls like a short one. ``←`` ``→`` collapse
and expand, ``/`` searches the spans (``n`` ``N``), ``e`` ``E`` jump between errors, ``s``
``S`` between slow spans, ``c`` marks the critical path, ``l`` opens the trace's logs,
``y`` copies the trace id, ``esc`` goes back.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.geometry import Size
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from watchdeck.core.errors import SourceError
from watchdeck.core.otlp.spans import Span, StatusCode, TraceSummary
from watchdeck.core.safe import sanitize
from watchdeck.core.traces.source import TraceSource
from watchdeck.core.traces.tree import RowFlag, TraceTree
from watchdeck.core.units import format_value
from watchdeck.ui.themes import cursor_background, series_palette, theme_colour
from watchdeck.ui.typeahead import TextBox, focus_now, open_box, route_key
from watchdeck.ui.widgets.keyhints import KeyHints

if TYPE_CHECKING:
    from watchdeck.ui.app import WatchdeckApp

STRIP_CACHE = 1024
LEFT_SHARE = 0.42
LEFT_MAX = 60
_PARTIAL_LEFT = " ▏▎▍▌▋▊▉"   # a cell filled from its left edge, in eighths
_FLAG_MARKS = (
    (RowFlag.ORPHAN, "⚠", "orphan: its parent span is not in the trace"),
    (RowFlag.CYCLE, "↻", "parent cycle: cut here"),
    (RowFlag.DUPLICATE, "⧉", "duplicate span id"),
    (RowFlag.SHIFTED, "⇥", "clock skew: shifted into its parent"),
    (RowFlag.SKEWED, "⏱", "clock skew: outside its parent"),
    (RowFlag.BAD_TIMES, "⌀", "ends before it starts"),
)


def format_ns(ns: int) -> str:
    return format_value(ns / 1e9, "s")


def bar_text(start: int, end: int, width: int) -> str:
    """A bar from ``start`` to ``end`` eighths of a cell, ``width`` cells wide."""
    cells = [" "] * width
    first, last = start // 8, (end - 1) // 8
    for cell in range(max(first, 0), min(last, width - 1) + 1):
        cells[cell] = "█"
    if 0 <= first < width and start % 8 >= 4 and first != last:
        cells[first] = "▐"
    if 0 <= last < width and end % 8 and first != last:
        cells[last] = _PARTIAL_LEFT[end % 8]
    return "".join(cells)


def gen_ai_first(attributes: dict[str, str] | None) -> list[tuple[str, str]]:
    """Attributes with the ``gen_ai.*`` ones (model, tokens, finish reason) first."""
    items = list((attributes or {}).items())
    return sorted(items, key=lambda kv: (not kv[0].startswith("gen_ai."), kv[0]))


@dataclass(frozen=True, slots=True)
class Layout:
    """A trace laid out (in a worker thread): the tree, its critical path (rows), its
    summary line and every flag any row has."""

    tree: TraceTree
    critical: frozenset[int]
    summary: TraceSummary | None
    flags: int


def lay_out(spans: list[Span]) -> Layout:
    tree = TraceTree.build(spans)
    seen = 0
    for flags in map(tree.flags, range(len(tree))):
        seen |= flags
    tree.visible_rows()  # cached for the first frame
    return Layout(tree, frozenset(tree.critical_path()), tree.summary(), seen)


class WaterfallView(Widget, can_focus=True):
    """The rows on screen: tree on the left, bars on the right."""

    DEFAULT_CSS = """
    WaterfallView { height: 1fr; width: 1fr; }
    """

    def __init__(self, screen: WaterfallScreen) -> None:
        super().__init__()
        self.owner = screen
        self._cache: OrderedDict[tuple[object, ...], Strip] = OrderedDict()

    def clear_cache(self) -> None:
        self._cache.clear()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        owner = self.owner
        if y == 0:
            return owner.axis_strip(width)
        position = owner.top + y - 1
        if not 0 <= position < len(owner.rows_shown):
            return Strip.blank(width)
        row = owner.rows_shown[position]
        key = (row, width, owner.look_version, position == owner.cursor)
        strip = self._cache.get(key)
        if strip is None:
            strip = owner.row_strip(row, width, position == owner.cursor)
            self._cache[key] = strip
            if len(self._cache) > STRIP_CACHE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return strip


class WaterfallScreen(Screen[None]):
    DEFAULT_CSS = """
    WaterfallScreen > #wf-heading { height: auto; padding: 0 1; }
    WaterfallScreen #wf-body { height: 1fr; }
    WaterfallScreen #wf-detail { width: 45%; border-left: solid $foreground 30%;
                                 padding: 0 1; display: none; }
    WaterfallScreen.-detail #wf-detail { display: block; }
    WaterfallScreen > Input { display: none; }
    WaterfallScreen.-searching > Input { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="waterfall-back"),
        Binding("up,k", "move(-1)", "Up", show=False, id="waterfall-up"),
        Binding("down,j", "move(1)", "Down", show=False, id="waterfall-down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="waterfall-page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="waterfall-page-down"),
        Binding("home,g", "edge(0)", "First span", show=False, id="waterfall-top"),
        Binding("end,G", "edge(1)", "Last span", show=False, id="waterfall-bottom"),
        Binding("left,h", "collapse", "Collapse", show=False, id="waterfall-collapse"),
        Binding("right", "expand", "Expand", show=False, id="waterfall-expand"),
        Binding("space", "toggle", "Fold", id="waterfall-toggle"),
        Binding("enter", "detail", "Detail", id="waterfall-detail"),
        Binding("slash", "search", "Find", id="waterfall-search"),
        Binding("n", "next_match(True)", "Next match", show=False, id="waterfall-next-match"),
        Binding("N", "next_match(False)", "Previous match", show=False,
                id="waterfall-previous-match"),
        Binding("e", "next_error(True)", "Next error", id="waterfall-next-error"),
        Binding("E", "next_error(False)", "Previous error", show=False,
                id="waterfall-previous-error"),
        Binding("s", "next_slow(True)", "Next slow", id="waterfall-next-slow"),
        Binding("S", "next_slow(False)", "Previous slow", show=False,
                id="waterfall-previous-slow"),
        Binding("c", "critical", "Critical path", show=False, id="waterfall-critical"),
        Binding("l", "logs", "Logs", id="waterfall-logs"),
        Binding("y", "copy_id", "Copy id", id="waterfall-copy"),
    ]

    app: WatchdeckApp

    def __init__(self, trace_id: str, source: str | None) -> None:
        super().__init__()
        self.trace_id = trace_id
        self.source_name = source
        self.trace_tree: TraceTree | None = None
        self.layout_facts: Layout | None = None
        self.rows_shown: tuple[int, ...] = ()
        self.cursor = 0   # position in ``rows_shown``
        self.top = 0
        self.look_version = 0
        self.show_critical = True
        self.critical: frozenset[int] = frozenset()  # rows on the critical path
        self.matches: list[int] = []
        self.match_set: frozenset[int] = frozenset()
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(f"trace {sanitize(self.trace_id, 64)} · loading…"), id="wf-heading")
        yield TextBox(placeholder="find spans: name, service, attribute, event", id="wf-search")
        with Horizontal(id="wf-body"):
            yield WaterfallView(self)
            with VerticalScroll(id="wf-detail"):
                yield Static(id="wf-detail-text")
        yield KeyHints(self.BINDINGS, (("?", "Help"),))  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.query_one(WaterfallView).focus()
        self.load()

    @property
    def view(self) -> WaterfallView:
        return self.query_one(WaterfallView)

    # ------------------------------------------------------------------ loading

    @work(exclusive=True, group="waterfall-load", exit_on_error=False)
    async def load(self) -> None:
        source = self.app.sources.get(self.source_name or "")
        if not isinstance(source, TraceSource):
            self._fail("no traces source to fetch it from: configure Tempo, Jaeger or the "
                       "OTLP receiver (roles: traces)")
            return
        started = time.perf_counter()
        try:
            spans = await source.trace(self.trace_id)
        except SourceError as error:
            self._fail(sanitize(str(error), 400))
            return
        # Laying out 10,000 spans takes tens of milliseconds: off the event loop, so keys
        # and the other screens keep answering meanwhile.
        layout = await asyncio.to_thread(lay_out, list(spans))
        self.show_tree(layout, time.perf_counter() - started)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure outside the sources' typed errors still ends the "loading…"."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self._fail(f"{type(error).__name__}: {sanitize(str(error), 300)}")

    def _fail(self, message: str) -> None:
        self.problem = message
        self.query_one("#wf-heading", Static).update(
            Text(f"trace {sanitize(self.trace_id, 64)} · ✖ {message}",
                 style=theme_colour(self.app, "error", "red")))

    def show_tree(self, layout: Layout, took: float | None = None) -> None:
        tree = layout.tree
        self.trace_tree = tree
        self.layout_facts = layout
        self.critical = layout.critical
        self.rows_shown = tree.visible_rows()
        self.cursor = 0
        self.top = 0
        self.query_one("#wf-heading", Static).update(self._heading(took))
        self._changed()
        self._show_detail()

    def _heading(self, took: float | None) -> Text:
        tree = self.trace_tree
        assert tree is not None and self.layout_facts is not None
        summary = self.layout_facts.summary
        text = Text()
        if summary is None:
            text.append(f"trace {self.trace_id} has no spans")
            return text
        text.append(f"{sanitize(summary.service, 40)} ", style="bold")
        text.append(sanitize(summary.operation, 80), style="bold")
        text.append(f" · {format_ns(summary.duration_ns)} · {summary.span_count:,} spans")
        if summary.error_count:
            text.append(f" · {summary.error_count} errors",
                        style=theme_colour(self.app, "error", "red"))
        seen = self.layout_facts.flags
        marks = [mark for flag, mark, _ in _FLAG_MARKS if seen & flag]
        if marks:
            text.append(f" · marked {' '.join(marks)} (enter explains)")
        text.append(f" · {sanitize(self.trace_id, 64)}", style="dim")
        palette = series_palette(self.app)
        text.append("\n")
        for index, service in enumerate(tree.services[:12]):
            text.append("■ ", style=palette[index % len(palette)])
            text.append(f"{sanitize(service or '(no service)', 30)}  ")
        if took is not None:
            text.append(f"· fetched and laid out in {took * 1000:.0f} ms", style="dim")
        return text

    # ------------------------------------------------------------------ drawing

    def _changed(self) -> None:
        self.look_version += 1
        self.view.clear_cache()
        self._keep_cursor_on_screen()
        self.view.refresh()

    def _rows_on_screen(self) -> int:
        return max(1, self.view.size.height - 1)

    def _keep_cursor_on_screen(self) -> None:
        height = self._rows_on_screen()
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + height:
            self.top = self.cursor - height + 1
        self.top = max(0, min(self.top, max(0, len(self.rows_shown) - height)))

    def _split(self, width: int) -> tuple[int, int]:
        left = min(LEFT_MAX, max(16, int(width * LEFT_SHARE)))
        return left, max(1, width - left - 1)

    def axis_strip(self, width: int) -> Strip:
        tree = self.trace_tree
        if tree is None or width <= 0:
            return Strip.blank(width)
        left, right = self._split(width)
        text = Text(" " * (left + 1), style="dim", no_wrap=True)
        duration = tree.duration_ns
        labels = [" "] * right
        count = max(1, min(6, right // 12))
        for index in range(count + 1):
            offset = duration * index // count
            column = tree.column(tree.start_ns + offset, right)
            label = format_ns(offset)
            begin = min(max(0, column - (len(label) if index == count else 0)),
                        max(0, right - len(label)))
            if all(ch == " " for ch in labels[begin:begin + len(label) + 1]):
                labels[begin:begin + len(label)] = list(label)
        text.append("".join(labels), style="dim")
        return Strip(text.render(self.app.console)).crop_extend(0, width, None)

    def row_strip(self, row: int, width: int, selected: bool) -> Strip:
        tree = self.trace_tree
        assert tree is not None
        span = tree.spans[row]
        palette = series_palette(self.app)
        colour = palette[tree.service_index(row) % len(palette)]
        flags = tree.flags(row)
        left, right = self._split(width)
        text = Text(no_wrap=True)
        critical = self.show_critical and row in self.critical
        text.append("┃" if critical else " ",
                    style=Style(color=theme_colour(self.app, "accent", "cyan"), bold=True))
        depth = tree.depth(row)
        indent = "  " * min(depth, 12) + ("·" if depth > 12 else "")
        text.append(indent, style="dim")
        if tree.row(row).has_children:
            text.append("▸ " if tree.is_collapsed(row) else "▾ ")
        else:
            text.append("  ")
        for flag, mark, _ in _FLAG_MARKS:
            if flags & flag:
                text.append(mark, style=theme_colour(self.app, "warning", "yellow"))
        if span.status is StatusCode.ERROR:
            text.append("✖ ", style=Style(color=theme_colour(self.app, "error", "red"), bold=True))
        text.append(f"{sanitize(span.service, 24)} ", style=colour)
        matched = row in self.match_set
        text.append(sanitize(span.name, 120), style=Style(
            bgcolor=theme_colour(self.app, "warning", "yellow"), color="black") if matched
            else "")
        text.truncate(left, overflow="ellipsis", pad=True)
        text.append(" ")
        start, end = tree.bar(row, right, subcells=8)
        bar = bar_text(start, end, right)
        bar_style = Style(color=theme_colour(self.app, "error", "red")) if (
            span.status is StatusCode.ERROR) else Style(color=colour)
        label = f" {format_ns(span.duration_ns)}"
        first = start // 8
        end_cell = (end + 7) // 8
        text.append(bar[:first])  # the time before the span: plain spaces
        if end_cell + len(label) <= right:
            text.append(bar[first:end_cell], style=bar_style)
            text.append(label, style="dim")
            text.append(bar[end_cell + len(label):])
        elif end_cell - first >= len(label) + 1:
            # No room after the bar: the duration goes inside its end, reversed.
            text.append(bar[first:end_cell - len(label)], style=bar_style)
            text.append(label.strip().rjust(len(label)), style=bar_style + Style(reverse=True))
            text.append(bar[end_cell:])
        else:
            text.append(bar[first:], style=bar_style)
        if selected:
            text.stylize(Style(bgcolor=cursor_background(self.app)))
        return Strip(text.render(self.app.console)).crop_extend(0, width, None)

    def on_resize(self) -> None:
        self.call_after_refresh(self._changed)

    # ------------------------------------------------------------------ detail

    def _current_row(self) -> int | None:
        if not self.rows_shown:
            return None
        return self.rows_shown[max(0, min(self.cursor, len(self.rows_shown) - 1))]

    def _show_detail(self) -> None:
        if not self.has_class("-detail"):
            return
        row = self._current_row()
        widget = self.query_one("#wf-detail-text", Static)
        if row is None or self.trace_tree is None:
            widget.update("")
            return
        widget.update(self.detail(row))

    def detail(self, row: int) -> Table:
        tree = self.trace_tree
        assert tree is not None
        span: Span = tree.spans[row]
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        error = theme_colour(self.app, "error", "red")

        def add(key: str, value: str, style: str = "") -> None:
            table.add_row(Text(sanitize(key, 60)), Text(sanitize(value, 2000), style=style))

        add("span", span.name)
        add("service", span.service or "(none)")
        if span.kind.label:
            add("kind", span.kind.label)
        status = span.status.name.lower()
        add("status", status + (f": {span.status_message}" if span.status_message else ""),
            error if span.status is StatusCode.ERROR else "")
        start, end = tree.shown_times(row)
        add("starts", f"+{format_ns(start - tree.start_ns)}")
        add("duration", format_ns(span.duration_ns))
        add("self time", format_ns(tree.self_time(row)))
        add("span id", span.span_id)
        add("parent", span.parent_span_id or "(root)")
        for flag, mark, meaning in _FLAG_MARKS:
            if tree.flags(row) & flag:
                add(mark, meaning, theme_colour(self.app, "warning", "yellow"))
        if span.attributes:
            table.add_row(Text("attributes", style="underline"), Text(""))
            for key, value in gen_ai_first(span.attributes):
                add(key, value, "bold" if key.startswith("gen_ai.") else "")
        if span.events:
            table.add_row(Text("events", style="underline"), Text(""))
            for event in span.events[:100]:
                add(f"+{format_ns(event.time_ns - tree.start_ns)}", event.name)
                for key, value in gen_ai_first(event.attributes):
                    add(f"  {key}", value)
        if span.links:
            table.add_row(Text("links", style="underline"), Text(""))
            for link in span.links[:50]:
                add("→", f"{link.trace_id} / {link.span_id}")
                for key, value in sorted((link.attributes or {}).items()):
                    add(f"  {key}", value)
        if span.resource:
            table.add_row(Text("resource", style="underline"), Text(""))
            for key, value in sorted(span.resource.items()):
                add(key, value)
        if span.scope:
            add("scope", span.scope)
        return table

    # ------------------------------------------------------------------ moving

    def _go(self, position: int) -> None:
        if not self.rows_shown:
            return
        self.cursor = max(0, min(len(self.rows_shown) - 1, position))
        self._keep_cursor_on_screen()
        # Strips are cached by row and selection: only the two rows whose selection
        # changed are drawn again; scrolling reuses the others.
        self.view.refresh()
        self._show_detail()

    def _go_row(self, row: int | None, what: str) -> None:
        tree = self.trace_tree
        if tree is None:
            return
        if row is None:
            self.notify(f"no {what}", timeout=2)
            return
        if tree.reveal(row):
            self.rows_shown = tree.visible_rows()
            self._changed()
        self._go(tree.visible_position(row))

    def action_move(self, step: int) -> None:
        self._go(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._go(self.cursor + direction * max(1, self._rows_on_screen() - 1))

    def action_edge(self, end: int) -> None:
        self._go(len(self.rows_shown) - 1 if end else 0)

    def _fold(self, how: str) -> None:
        tree, row = self.trace_tree, self._current_row()
        if tree is None or row is None:
            return
        if how == "collapse" and (not tree.row(row).has_children or tree.is_collapsed(row)):
            parent = tree.parent(row)
            if parent >= 0:
                self._go(tree.visible_position(parent))
            return
        changed = getattr(tree, how)(row)
        if changed:
            self.rows_shown = tree.visible_rows()
            self.cursor = tree.visible_position(row)
            self._changed()

    def action_collapse(self) -> None:
        self._fold("collapse")

    def action_expand(self) -> None:
        self._fold("expand")

    def action_toggle(self) -> None:
        self._fold("toggle")

    def action_detail(self) -> None:
        self.toggle_class("-detail")
        self._show_detail()

    def action_critical(self) -> None:
        self.show_critical = not self.show_critical
        self._changed()

    def action_next_error(self, forward: bool) -> None:
        row = self._current_row()
        if self.trace_tree is not None and row is not None:
            self._go_row(self.trace_tree.next_error(row, forward), "error spans")

    def action_next_slow(self, forward: bool) -> None:
        row = self._current_row()
        if self.trace_tree is not None and row is not None:
            self._go_row(self.trace_tree.next_slow(row, forward), "slow spans")

    def action_search(self) -> None:
        self.add_class("-searching")
        open_box(self, self.query_one(TextBox), on_submit=self._search,
                 on_cancel=self.action_back)

    async def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        box = self.query_one(TextBox) if self.has_class("-searching") else None
        await route_key(self, event, box, ("search",))

    def _search(self, event: Input.Submitted) -> None:
        """The box's submission (called by it: see ui/typeahead.py)."""
        self.remove_class("-searching")
        focus_now(self, self.view)
        if self.trace_tree is None:
            return
        self.matches = self.trace_tree.find(event.value) if event.value.strip() else []
        self.match_set = frozenset(self.matches)
        self._changed()
        if not self.matches:
            self.notify(f"no span matches {sanitize(event.value, 60)!r}" if event.value.strip()
                        else "search cleared", timeout=3)
            return
        self.notify(f"{len(self.matches)} spans match", timeout=2)
        row = self._current_row() or 0
        self._go_row(next((r for r in self.matches if r >= row), self.matches[0]), "match")

    def action_next_match(self, forward: bool) -> None:
        row = self._current_row()
        if not self.matches or row is None:
            self.notify("nothing to find: / sets the text", timeout=3)
            return
        if forward:
            target = next((r for r in self.matches if r > row), self.matches[0])
        else:
            target = next((r for r in reversed(self.matches) if r < row), self.matches[-1])
        self._go_row(target, "match")

    def action_back(self) -> None:
        if self.has_class("-searching"):
            self.remove_class("-searching")
            focus_now(self, self.view)
            return
        self.app.pop_screen()

    def action_logs(self) -> None:
        tree = self.trace_tree
        # History from a little before the trace began (Loki asks for a window).
        since = tree.start_ns / 1e9 - 300 if tree is not None and len(tree) else None
        self.app.open_trace_logs(self.trace_id, since=since)

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.trace_id)
        self.notify("trace id copied (OSC 52)", timeout=2)
