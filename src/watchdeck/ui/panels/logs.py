"""The logs panel: live lines of one or more log sources, filtered, searched, followed.

Lines live in the stream's bounded buffer (:mod:`watchdeck.core.logs.streams`); the panel
keeps only a list of the buffer positions it shows and draws the rows on screen, one
cached strip per row (the Line API), so 100,000 buffered lines cost what 40 visible ones
do. It redraws on a clock (at most ten times a second), never once per line.

Following: the newest line stays at the bottom. Moving up (or the global pause) stops
following; lines that arrive meanwhile are counted in the border, ``G`` follows again.
``/`` filters what is shown, ``f`` finds and highlights (``n`` ``N`` jump), ``e`` ``E``
jump between errors, ``x`` shows context lines around filter matches, ``w`` wraps, ``c``
hides the fields, ``y`` copies the line (OSC 52), ``enter`` opens the line's trace.

Filtering a long run of lines (a new filter over a full buffer: a field filter reads each
JSON line again) runs in a thread over a snapshot of the buffer; the panel keeps showing
what it showed, marked "filtering…", and catches up with what arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input

from watchdeck.core.config.models import LogsPanel as LogsSpec
from watchdeck.core.logs.filter import parse_filter, parse_search
from watchdeck.core.logs.model import Level, LogGap, LogQuery, LogRecord, record_text
from watchdeck.core.logs.select import NO_MATCH, Selection, select
from watchdeck.core.logs.streams import LogStream, StreamKey
from watchdeck.core.safe import sanitize
from watchdeck.ui.bindings import bindings_for
from watchdeck.ui.panels.base import ERROR, LIVE, LOADING, NO_DATA, Panel
from watchdeck.ui.themes import cursor_background, theme_colour
from watchdeck.ui.typeahead import TextBox, focus_now, open_box, route_key

if TYPE_CHECKING:
    from watchdeck.core.logs.buffer import LogBuffer
    from watchdeck.ui.context import DashboardContext

REDRAW_SECONDS = 0.1
CONTEXTS = (0, 3, 10)
LEVEL_TAGS = {
    Level.UNKNOWN: "   ", Level.TRACE: "TRC", Level.DEBUG: "DBG", Level.INFO: "INF",
    Level.WARN: "WRN", Level.ERROR: "ERR", Level.FATAL: "FTL",
}
MAX_COLUMN = 24
STRIP_CACHE = 256
# Filtered scans longer than this run in a thread (a field filter reads each JSON line
# again: ~3 us a line), the panel showing what it showed until the answer is in.
THREAD_SCAN = 20_000


class TraceRequested(Message):
    """``enter`` on a line that names a trace: the app opens it."""

    def __init__(self, trace_id: str, record: LogRecord) -> None:
        super().__init__()
        self.trace_id = trace_id
        self.record = record


def format_clock(time_ns: int) -> str:
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    try:
        clock = time.strftime("%H:%M:%S", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):  # a backend's absurd timestamp
        return "??:??:??.???"
    return f"{clock}.{nanos // 1_000_000:03d}"


class LogLines(Widget):
    """Draws the rows the panel laid out; one cached strip per (line, width, look)."""

    DEFAULT_CSS = """
    LogLines { height: 1fr; width: 1fr; }
    """

    def __init__(self, panel: LogsPanel) -> None:
        super().__init__()
        self.panel = panel
        self.rows: list[tuple[int, int]] = []  # (display position, wrapped row of it)
        self._cache: OrderedDict[tuple[object, ...], list[Strip]] = OrderedDict()

    def clear_cache(self) -> None:
        self._cache.clear()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def strips_for(self, index: int, width: int) -> list[Strip]:
        """The rows of buffer item ``index`` at ``width`` (several when wrapping)."""
        panel = self.panel
        cursor = panel.cursor_index == index
        key = (index, width, panel.look_version, cursor)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        text = panel.line_text(index)
        if cursor:
            text.stylize(panel.cursor_style)
        console = self.app.console
        options = console.options.update_width(max(width, 1)).update(
            no_wrap=not panel.wrap, overflow="fold" if panel.wrap else "ellipsis")
        if panel.wrap:
            lines = console.render_lines(text, options, pad=False)
        else:
            text.truncate(width, overflow="ellipsis")
            lines = [list(text.render(console))]
        strips = [Strip(line).crop_extend(0, width, None) for line in lines[:200]] or [
            Strip.blank(width)]
        self._cache[key] = strips
        if len(self._cache) > STRIP_CACHE:
            self._cache.popitem(last=False)
        return strips

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self.rows):
            return Strip.blank(width)
        position, row = self.rows[y]
        panel = self.panel
        if not 0 <= position < len(panel.shown):
            return Strip.blank(width)
        strips = self.strips_for(panel.shown[position], width)
        return strips[row] if row < len(strips) else Strip.blank(width)


class LogsPanel(Panel):
    DEFAULT_CSS = """
    LogsPanel { padding: 0 0 0 1; }
    LogsPanel > Input { display: none; height: 3; }
    LogsPanel.-filtering > #logs-filter { display: block; }
    LogsPanel.-searching > #logs-search { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings_for("logs"),
        Binding("up,k", "move(-1)", "Previous line", show=False, id="logs-up"),
        Binding("down,j", "move(1)", "Next line", show=False, id="logs-down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="logs-page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="logs-page-down"),
    ]
    spec: LogsSpec

    def __init__(self, spec: LogsSpec, context: DashboardContext, *,
                 contains: str | None = None, since: float | None = None) -> None:
        super().__init__(spec, context)
        self.since = since
        # Lines holding this text only, asked of the source itself (a trace id, from a
        # drill): Loki filters them, the others skip the rest as they read.
        self.contains = contains
        self.stream: LogStream | None = None
        self.stream_key: StreamKey | None = None
        self.filter = parse_filter(spec.filter) if spec.filter else None
        self.search = None
        self.wrap = spec.wrap
        self.show_fields = True
        self.context_lines = 0
        self.look_version = 0
        # Buffer indices shown, oldest first; ``matched`` marks filter matches when
        # context lines are mixed in.
        # (An array of machine ints: 8 bytes a line where a list of ints costs 36.)
        self.shown: array[int] = array("q")
        self.matched: set[int] = set()
        self._last_match = NO_MATCH
        self.scanned_to = 0  # buffer index up to which ``shown`` is built
        # A scan running in a thread: its stop flag (None when none runs).
        self.scanning: threading.Event | None = None
        self.follow = True
        self.cursor = -1  # position in ``shown``; -1: none (following)
        self.top = 0  # first shown position on screen when not following
        self.pending = 0  # lines that arrived while not following
        self._dirty = True
        self._columns: dict[str, int] = {}
        self._note: str | None = None

    # ------------------------------------------------------------------ composition

    def compose_body(self) -> ComposeResult:
        yield TextBox(placeholder="filter: words, /regex/, level>=warn, field=value, -exclude",
                      id="logs-filter")
        yield TextBox(placeholder="find: text or /regex/ (n / N jump)", id="logs-search")
        yield LogLines(self)

    def on_mount(self) -> None:
        super().on_mount()
        self._subscribe()
        self.set_interval(REDRAW_SECONDS, self._tick_redraw)

    def on_unmount(self) -> None:
        self._stop_scan()
        self._unsubscribe()
        super().on_unmount()

    @property
    def lines_widget(self) -> LogLines:
        return self.query_one(LogLines)

    @property
    def buffer(self) -> LogBuffer | None:
        return self.stream.buffer if self.stream is not None else None

    # ------------------------------------------------------------------ stream

    def source_names(self) -> list[str | None]:
        return [self.context.resolve_source(name) for name in self.spec.source_names]

    def _subscribe(self) -> None:
        names = self.source_names()
        if any(name is None for name in names):
            missing = [n for n, r in zip(self.spec.source_names, names, strict=True) if r is None]
            self.plan_error = (f"no log source for '{', '.join(missing)}': configure one "
                               "(a file, command, Loki, websocket or otlp source)")
            self.update_state()
            return
        key = StreamKey(tuple(n for n in names if n is not None),
                        LogQuery(expr=self.spec.query or "", backlog=self.spec.backlog,
                                 contains=self.contains, since=self.since),
                        capacity=self.spec.buffer)
        self.stream_key = key
        self.stream = self.app.log_streams.subscribe(key, self._on_stream)  # type: ignore[attr-defined]
        self._dirty = True

    def _unsubscribe(self) -> None:
        if self.stream_key is not None:
            self.app.log_streams.unsubscribe(self.stream_key, self._on_stream)  # type: ignore[attr-defined]
        self.stream = None
        self.stream_key = None

    def _on_stream(self) -> None:
        self._dirty = True

    # ------------------------------------------------------------------ states

    def plan(self) -> list:  # type: ignore[override]
        return []  # logs do not come through the metrics hub

    def update_requests(self) -> None:
        self._dirty = True

    def compute_state(self) -> tuple[str, str | None]:
        if self.plan_error is not None:
            return ERROR, self.plan_error
        stream = self.stream
        if stream is None:
            return LOADING, None
        problems = [f"{name}: {feed.state.message}" for name, feed in stream.feeds.items()
                    if not feed.state.ok and feed.state.message]
        if problems:
            return ERROR, "\n".join(problems)
        if not any(feed.state.ok for feed in stream.feeds.values()):
            return LOADING, None
        if len(stream.buffer) == 0:
            return NO_DATA, None
        return LIVE, None

    def badge(self) -> str:
        base = super().badge()
        if self.state == ERROR and self.stream is not None:
            retries = [feed.state.retry_at for feed in self.stream.feeds.values()
                       if feed.state.retry_at]
            if retries:
                wait = max(0.0, min(retries) - time.time())
                base = f"✖ error · retry in {wait:.0f}s"
        where = ""
        if self.shown:
            position = self.cursor if self.cursor >= 0 else len(self.shown) - 1
            where = f"{position + 1:,}/{len(self.shown):,}"
            if self.filter is not None and self.buffer is not None:
                where += f" of {len(self.buffer):,}"
        parts = [p for p in (where, base) if p]
        if self.scanning is not None:
            parts.insert(0, "⧗ filtering…")
        if self.pending:
            parts.insert(0, f"‖ {self.pending:,} new · G follows")
        elif not self.context.window.live:
            parts.insert(0, "‖ paused")
        return " · ".join(parts)

    def tick(self) -> None:
        super().tick()
        self._set_badge()

    # ------------------------------------------------------------------ building

    def _visible(self) -> bool:
        return self.wants_data()

    def _tick_redraw(self) -> None:
        if not self._dirty or not self._visible():
            return
        self._dirty = False
        self.update_state()
        self.sync()
        self._refresh_note()

    def _refresh_note(self) -> None:
        """The filter in force and any source's warning (a malformed frame skipped)."""
        parts = [f"filter: {self.filter.describe()}"] if self.filter is not None else []
        if self.stream is not None:
            parts += [f"{name}: {feed.state.message}" for name, feed in
                      self.stream.feeds.items() if feed.state.ok and feed.state.message]
        note = sanitize(" · ".join(parts), 300) or None
        if note != self._note:
            self._note = note
            self.set_note(note)

    def sync(self) -> None:
        """Bring ``shown`` up to date with the buffer and redraw."""
        buffer = self.buffer
        if buffer is None or self.scanning is not None:
            return  # a long scan runs in a thread: it syncs again when it is done
        frozen = not self.context.window.live or not self.follow
        before = len(self.shown)
        changed_from = buffer.changed_since(self.scanned_to)
        removed = 0
        if changed_from < self.scanned_to:  # a merge inserted in the middle: rebuild from it
            cut = bisect.bisect_left(self.shown, changed_from)
            removed = len(self.shown) - cut
            del self.shown[cut:]
            self.scanned_to = changed_from
            # Strips are cached by buffer index: from here on the indices hold other lines.
            self.lines_widget.clear_cache()
            self.matched = {i for i in self.matched if i < changed_from}
            self._last_match = max(self.matched, default=NO_MATCH)
        self._drop_head(buffer.start)
        begin = max(self.scanned_to, buffer.start)
        if self.filter is not None and buffer.end - begin > THREAD_SCAN:
            self._scan_in_thread(begin, buffer.end, replace=False)
            return
        added = self._scan(begin, buffer.end)
        self.scanned_to = buffer.end
        if frozen:
            self.pending += max(0, added - removed)
            if self.cursor >= 0:
                # Keep the same line under the cursor when the head dropped.
                self.cursor = min(self.cursor, len(self.shown) - 1)
        else:
            self.pending = 0
        if len(self.shown) != before or not frozen:
            self.layout_rows()
        self._set_badge()

    def _drop_head(self, start: int) -> None:
        cut = bisect.bisect_left(self.shown, start)
        if cut:
            del self.shown[:cut]
            if len(self.matched) > len(self.shown) + 1024:
                self.matched = {index for index in self.matched if index >= start}
            if self.cursor >= 0:
                self.cursor = max(0, self.cursor - cut)
            self.top = max(0, self.top - cut)

    def _scan(self, start: int, end: int) -> int:
        """Append what the filter shows of buffer indices ``start`` to ``end``."""
        buffer = self.buffer
        assert buffer is not None
        chosen = select(buffer.between(start, end), start, self._matcher(),
                        context=self.context_lines, low=buffer.start,
                        last_shown=self.shown[-1] if self.shown else -1,
                        last_match=self._last_match)
        assert chosen is not None  # no stop flag: never stopped
        return self._take(chosen)

    def _matcher(self) -> Callable[[LogRecord], bool] | None:
        return self.filter.matches if self.filter is not None else None

    def _take(self, chosen: Selection) -> int:
        self.shown.extend(chosen.shown)
        if chosen.matched:
            self.matched |= chosen.matched
        self._last_match = chosen.last_match
        return len(chosen.shown)

    def rebuild(self) -> None:
        """Filter or context changed: build ``shown`` again from the whole buffer (in a
        thread when that is long: the old lines stay on screen, marked, meanwhile)."""
        self._stop_scan()
        buffer = self.buffer
        if buffer is not None and self.filter is not None and len(buffer) > THREAD_SCAN:
            self._scan_in_thread(buffer.start, buffer.end, replace=True)
            return
        keep = self._cursor_item()
        self._restart()
        if buffer is not None:
            self._scan(buffer.start, buffer.end)
            self.scanned_to = buffer.end
        self._put_cursor_back(keep)

    def _cursor_item(self) -> int | None:
        return self.shown[self.cursor] if 0 <= self.cursor < len(self.shown) else None

    def _restart(self) -> None:
        self.shown = array("q")
        self.matched = set()
        self._last_match = NO_MATCH

    def _put_cursor_back(self, keep: int | None) -> None:
        if keep is not None and self.shown:
            self.cursor = min(bisect.bisect_left(self.shown, keep), len(self.shown) - 1)
        elif self.cursor >= len(self.shown):
            self.cursor = len(self.shown) - 1
        self.look_changed()

    def _stop_scan(self) -> None:
        if self.scanning is not None:
            self.scanning.set()
            self.scanning = None

    def _scan_in_thread(self, start: int, end: int, *, replace: bool) -> None:
        """Scan buffer indices ``start`` to ``end`` in a thread, over a snapshot of them
        (the buffer goes on changing meanwhile: ``sync`` catches up when it is done)."""
        buffer = self.buffer
        assert buffer is not None
        stop = threading.Event()
        self.scanning = stop
        last_shown = -1 if replace or not self.shown else self.shown[-1]
        last_match = NO_MATCH if replace else self._last_match
        scan = partial(select, buffer.between(start, end), start, self._matcher(),
                       context=self.context_lines, low=buffer.start, last_shown=last_shown,
                       last_match=last_match, stop=stop)
        # (run_worker, not @work: that would write the 100,000 items into its description)
        self.run_worker(self._run_scan(scan, stop, end, replace), group="logs-scan",
                        description="logs filter scan", exit_on_error=False)
        self._set_badge()

    async def _run_scan(self, scan: Callable[[], Selection | None], stop: threading.Event,
                        end: int, replace: bool) -> None:
        try:
            chosen = await asyncio.to_thread(scan)
        except Exception as error:  # a filter that cannot read some line: say so, go on
            if self.scanning is stop:
                self.scanning = None
                self.notify(f"filter failed, so it is cleared: {sanitize(str(error), 200)}",
                            severity="error")
                self.filter = None
                self._refresh_note()
                self.rebuild()
            return
        if chosen is None or self.scanning is not stop:
            return  # stopped: a newer filter, or the panel went away
        self.scanning = None
        keep = self._cursor_item()  # the old lines stayed on screen (and under the cursor)
        if replace:
            self._restart()
            self.lines_widget.clear_cache()
        self._take(chosen)
        self.scanned_to = end
        self.sync()  # what arrived, moved or was dropped meanwhile
        if replace:
            self._put_cursor_back(keep)
        else:
            self.layout_rows()
        self._set_badge()

    # ------------------------------------------------------------------ layout of rows

    @property
    def cursor_index(self) -> int | None:
        if 0 <= self.cursor < len(self.shown):
            return self.shown[self.cursor]
        return None

    @property
    def cursor_style(self) -> Style:
        return Style(bgcolor=cursor_background(self.app))

    def look_changed(self) -> None:
        self.look_version += 1
        self.lines_widget.clear_cache()
        self.layout_rows()

    def _height_of(self, position: int, width: int) -> int:
        if not self.wrap:
            return 1
        return len(self.lines_widget.strips_for(self.shown[position], width))

    def layout_rows(self) -> None:
        """Which (position, wrapped row) each screen row shows."""
        widget = self.lines_widget
        height, width = widget.size.height, widget.size.width
        rows: list[tuple[int, int]] = []
        count = len(self.shown)
        if height <= 0 or count == 0:
            widget.rows = rows
            widget.refresh()
            return
        if self.follow and self.context.window.live:
            # From the newest line upwards.
            position = count - 1
            while position >= 0 and len(rows) < height:
                size = self._height_of(position, width)
                rows[:0] = [(position, r) for r in range(size)]
                position -= 1
            rows = rows[-height:]
            self.top = rows[0][0] if rows else 0
        else:
            if self.cursor >= 0:
                self.top = min(self.top, self.cursor)
                # Keep the cursor on screen: the highest top that still shows it, found by
                # walking up from the cursor (at most a screen of lines, never the gap).
                first, used = self.cursor, self._height_of(self.cursor, width)
                while first > self.top and used + self._height_of(first - 1, width) <= height:
                    first -= 1
                    used += self._height_of(first, width)
                self.top = max(self.top, first)
            self.top = max(0, min(self.top, count - 1))
            rows = self._rows_from(self.top, height, width)
        widget.rows = rows
        widget.refresh()

    def _rows_from(self, top: int, height: int, width: int) -> list[tuple[int, int]]:
        rows: list[tuple[int, int]] = []
        position = top
        while position < len(self.shown) and len(rows) < height:
            rows.extend((position, r) for r in range(self._height_of(position, width)))
            position += 1
        return rows[:height]

    def on_resize(self) -> None:
        self.call_after_refresh(self.look_changed)

    # ------------------------------------------------------------------ one line

    def line_text(self, index: int) -> Text:
        buffer = self.buffer
        if buffer is None or not buffer.start <= index < buffer.end:
            return Text("")
        item = buffer[index]
        dim = Style(color=theme_colour(self.app, "foreground-muted", "grey50"))
        if isinstance(item, LogGap):
            count = f"{item.count:,} lines: " if item.count else ""
            return Text(f"┄┄ {count}{sanitize(item.reason, 300)} ┄┄",
                        style=Style(color=theme_colour(self.app, "warning", "yellow"), italic=True))
        record = item
        context_only = self.context_lines and self.filter is not None and (
            index not in self.matched)
        text = Text(no_wrap=not self.wrap)
        text.append(format_clock(record.time_ns), style=dim)
        text.append(" ")
        text.append(LEVEL_TAGS.get(record.level, "   "), style=self._level_style(record.level))
        text.append(" ")
        if self.stream is not None and len(self.stream.key.sources) > 1:
            text.append(f"{sanitize(record.source, 16)} ", style=dim)
        if record.trace_id:
            text.append("◆ ", style=Style(color=theme_colour(self.app, "accent", "cyan")))
        fields = dict(record.fields or {})
        labels = record.labels or {}
        for column in self.spec.columns:
            value = fields.pop(column, None) or labels.get(column, "")
            value = sanitize(value, MAX_COLUMN)
            size = self._columns[column] = min(MAX_COLUMN, max(self._columns.get(column, 0),
                                                               len(value)))
            text.append(value.ljust(size) + " ", style="bold")
        message_start = len(text)
        text.append(sanitize(record.message.expandtabs(4) if "\t" in record.message
                             else record.message))
        if self.show_fields and fields:
            text.append("  ")
            for key, value in fields.items():
                text.append(f"{sanitize(key, 40)}=", style=dim)
                text.append(sanitize(value, 200) + " ")
        if self.search is not None:
            plain = text.plain
            for start, end in self.search.spans(plain[message_start:]):
                text.stylize(self._match_style, message_start + start, message_start + end)
        if context_only:
            text.stylize(dim)
        return text

    @property
    def _match_style(self) -> Style:
        return Style(bgcolor=theme_colour(self.app, "warning", "yellow"), color="black", bold=True)

    def _level_style(self, level: Level) -> Style:
        if level >= Level.ERROR:
            return Style(color=theme_colour(self.app, "error", "red"), bold=True)
        if level == Level.WARN:
            return Style(color=theme_colour(self.app, "warning", "yellow"), bold=True)
        if level == Level.INFO:
            return Style(color=theme_colour(self.app, "success", "green"))
        return Style(color=theme_colour(self.app, "foreground-muted", "grey50"))

    def on_theme_changed(self, _: object = None) -> None:
        self.look_changed()

    # ------------------------------------------------------------------ moving

    def _unfollow(self) -> None:
        if self.follow:
            self.follow = False
            if self.cursor < 0:
                self.cursor = len(self.shown) - 1
                self.top = max(0, self.cursor - max(1, self.lines_widget.size.height) + 1)

    def action_move(self, step: int) -> None:
        if not self.shown:
            return
        self._unfollow()
        self.cursor = max(0, min(len(self.shown) - 1, self.cursor + step))
        if self.cursor < self.top:
            self.top = self.cursor
        if step > 0 and self.cursor == len(self.shown) - 1 and self.context.window.live:
            self.action_follow()
            return
        self.look_changed()

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.lines_widget.size.height - 1))

    def action_follow(self) -> None:
        self.follow = True
        self.cursor = -1
        self.pending = 0
        self._dirty = True
        self.sync()
        self.look_changed()
        self._set_badge()

    def action_to_top(self) -> None:
        if self.shown:
            self._unfollow()
            self.cursor = 0
            self.top = 0
            self.look_changed()

    def _jump(self, position: int | None, what: str) -> None:
        if position is None:
            self.notify(f"no {what}", timeout=2)
            return
        self._unfollow()
        self.cursor = position
        height = max(1, self.lines_widget.size.height)
        if not self.top <= position < self.top + height:
            self.top = max(0, position - height // 2)
        self.look_changed()

    def _scan_from(self, forward: bool, test) -> int | None:  # type: ignore[no-untyped-def]
        buffer = self.buffer
        if buffer is None or not self.shown:
            return None
        start = self.cursor if self.cursor >= 0 else len(self.shown)  # following: below all
        positions = range(start + 1, len(self.shown)) if forward else range(start - 1, -1, -1)
        for position in positions:
            index = self.shown[position]
            if index < buffer.start:
                continue
            item = buffer[index]
            if isinstance(item, LogRecord) and test(item):
                return position
        return None

    def action_next_match(self, forward: bool) -> None:
        if self.search is None:
            self.notify("nothing to find: f sets the text", timeout=3)
            return
        self._jump(self._scan_from(forward, self.search.matches),
                   "more matches " + ("below" if forward else "above"))

    def action_next_error(self, forward: bool) -> None:
        self._jump(self._scan_from(forward, lambda r: r.level >= Level.ERROR),
                   "more errors " + ("below" if forward else "above"))

    # ------------------------------------------------------------------ toggles

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.look_changed()

    def action_toggle_fields(self) -> None:
        self.show_fields = not self.show_fields
        self.look_changed()

    def action_cycle_context(self) -> None:
        self.context_lines = CONTEXTS[(CONTEXTS.index(self.context_lines) + 1) % len(CONTEXTS)]
        self.notify(f"context: {self.context_lines} lines around matches", timeout=2)
        self.rebuild()

    # ------------------------------------------------------------------ filter and find

    def _open_box(self, which: str, value: str | None = None) -> None:
        self.remove_class("-searching" if which == "filter" else "-filtering")
        self.add_class(f"-{which}ing")
        open_box(self, self.query_one(f"#logs-{which}", TextBox), value,
                 on_submit=self._apply_filter if which == "filter" else self._apply_search,
                 on_cancel=self._close_boxes)

    def _close_boxes(self) -> None:
        self.remove_class("-filtering")
        self.remove_class("-searching")
        focus_now(self, self)

    def _box_open(self) -> TextBox | None:
        for which in ("filter", "search"):
            if self.has_class(f"-{which}ing"):
                return self.query_one(f"#logs-{which}", TextBox)
        return None

    def action_filter_logs(self) -> None:
        self._open_box("filter", self.filter.describe() if self.filter is not None else "")

    def action_search_logs(self) -> None:
        self._open_box("search")

    def _apply_filter(self, event: Input.Submitted) -> None:
        """The box's submission (called by it: see ui/typeahead.py)."""
        try:
            self.filter = parse_filter(event.value) if event.value.strip() else None
        except ValueError as error:
            event.input.border_title = sanitize(str(error), 200)
            return
        event.input.border_title = None
        self.remove_class("-filtering")
        focus_now(self, self)
        self._refresh_note()
        self.rebuild()

    def _apply_search(self, event: Input.Submitted) -> None:
        """The box's submission (called by it: see ui/typeahead.py)."""
        try:
            self.search = parse_search(event.value) if event.value.strip() else None
        except ValueError as error:
            event.input.border_title = sanitize(str(error), 200)
            return
        event.input.border_title = None
        self.remove_class("-searching")
        focus_now(self, self)
        self.look_changed()
        if self.search is not None:
            self.action_next_match(False)

    async def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        await route_key(self, event, self._box_open(), ("filter_logs", "search_logs"))

    # ------------------------------------------------------------------ the line

    def selected(self) -> LogRecord | None:
        index = self.cursor_index
        if index is None and self.shown:
            index = self.shown[-1]
        buffer = self.buffer
        if index is None or buffer is None or not buffer.start <= index < buffer.end:
            return None
        item = buffer[index]
        return item if isinstance(item, LogRecord) else None

    def _select_newest(self) -> bool:
        """While following no line is chosen: the first ``y`` or ``enter`` puts the cursor
        on the newest line (and stops following) rather than act on a line that changes
        every tick. True when it did."""
        if self.cursor >= 0 or not self.shown:
            return False
        self.action_move(0)
        self.notify("on the newest line: press again", timeout=2)
        return True

    def action_copy_line(self) -> None:
        if self._select_newest():
            return
        record = self.selected()
        if record is None:
            return
        self.app.copy_to_clipboard(sanitize(record.line or record_text(record)))
        self.notify("line copied (OSC 52)", timeout=2)

    def action_open_trace(self) -> None:
        if self._select_newest():
            return
        record = self.selected()
        if record is None or not record.trace_id:
            self.notify("this line names no trace", timeout=3)
            return
        self.post_message(TraceRequested(record.trace_id, record))

    def update_title(self) -> None:
        super().update_title()
        if not self.border_title:
            self.border_title = Content("Logs")
