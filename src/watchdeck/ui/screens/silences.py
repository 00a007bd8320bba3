"""Alertmanager's silences: active, pending and expired; expire, extend, or make one."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from watchdeck.core.alerts import Silence
from watchdeck.core.durations import format_age
from watchdeck.core.feeds import FeedKey, SilenceList
from watchdeck.core.safe import sanitize
from watchdeck.ui.hub import FeedUpdated
from watchdeck.ui.widgets.keyhints import LiveKeyHints

if TYPE_CHECKING:
    from watchdeck.ui.app import WatchdeckApp

STATE_ORDER = {"active": 0, "pending": 1, "expired": 2}


class SilencesScreen(Screen[None]):
    DEFAULT_CSS = """
    SilencesScreen > #silences-state { height: auto; padding: 0 1; }
    SilencesScreen > DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="silences-back"),
        Binding("x", "expire", "Expire", id="silence-expire"),
        Binding("e", "extend", "Extend", id="silence-extend"),
        Binding("n", "new", "New silence", id="silence-new"),
        Binding("r", "refresh", "Refresh", id="silences-refresh"),
    ]

    app: WatchdeckApp

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.key = FeedKey(source=source, expr="", kind="silences", range=0.0, step=0.0)
        self.silences: list[Silence] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Silences of {sanitize(self.source)} · loading…"),
                     id="silences-state")
        table: DataTable[Text] = DataTable(cursor_type="row")
        yield table
        yield LiveKeyHints()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("state", "ends", "matchers", "by", "comment", "id")
        table.focus()
        self.app.hub.subscribe(self, self.key, 5.0)

    def on_unmount(self) -> None:
        self.app.hub.unsubscribe(self, self.key)

    def wants_data(self) -> bool:
        return self.is_mounted and self.is_active

    def on_feed_updated(self, message: FeedUpdated) -> None:
        snapshot = message.snapshot
        state = self.query_one("#silences-state", Static)
        if snapshot.error:
            state.update(Text(f"✖ {sanitize(snapshot.error, 300)}", style="bold red"))
            return
        if isinstance(snapshot.result, SilenceList):
            self.silences = sorted(snapshot.result.silences,
                                   key=lambda s: (STATE_ORDER.get(s.state, 9), -s.ends_at))
            counts = {k: sum(s.state == k for s in self.silences) for k in STATE_ORDER}
            state.update(Text(f"Silences of {sanitize(self.source)} · {counts['active']} active"
                              f" · {counts['pending']} pending · {counts['expired']} expired"))
            self._fill()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        now = self.app.clock()
        for silence in self.silences:
            if silence.state == "expired":
                ends = f"ended {format_age(now - silence.ends_at)} ago"
            else:
                ends = f"in {format_age(silence.ends_at - now)}"
            style = "dim" if silence.state == "expired" else ""
            table.add_row(
                Text(silence.state, style=style or "bold"), Text(ends, style=style),
                Text(sanitize(", ".join(str(m) for m in silence.matchers), 200), style=style),
                Text(sanitize(silence.created_by, 40), style=style),
                Text(sanitize(silence.comment, 200), style=style),
                Text(silence.id[:8], style="dim"),
            )
        if self.silences:
            table.move_cursor(row=min(max(row, 0), len(self.silences) - 1), animate=False)

    @property
    def selected(self) -> Silence | None:
        row = self.query_one(DataTable).cursor_row
        return self.silences[row] if 0 <= row < len(self.silences) else None

    def action_refresh(self) -> None:
        self.app.hub.refresh_now()

    def action_new(self) -> None:
        self.app.start_silence(None)

    def action_expire(self) -> None:
        silence = self.selected
        if silence is None or silence.state == "expired":
            self.notify("choose an active or pending silence", severity="warning")
            return
        self.app.expire_silence(silence)

    def action_extend(self) -> None:
        silence = self.selected
        if silence is None or silence.state == "expired":
            self.notify("choose an active or pending silence", severity="warning")
            return
        self.app.extend_silence(silence)
