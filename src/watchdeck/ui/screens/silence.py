"""Making (or extending) a silence: matchers, duration, comment, author, a live preview.

Nothing is sent from here: the modal returns a checked :class:`SilenceRequest` (or
``None``), and the app sends it once. Bad input (no matchers, an invalid regex, an empty
comment, an end before the start) is refused here, before anything leaves the machine.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from watchdeck.core.alerts import Alert, LabelMatcher, check_silence, matches_all
from watchdeck.core.durations import DurationError, parse_duration
from watchdeck.core.safe import sanitize

OPS = (("=", "="), ("!=", "!="), ("=~", "=~"), ("!~", "!~"))


@dataclass(frozen=True)
class SilenceRequest:
    matchers: tuple[LabelMatcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    silence_id: str | None = None


def parse_end(text: str, start: float) -> float:
    """``2h``, ``90m``, ``18:30`` (the next such time), ``2026-11-27 09:00`` or ISO 8601."""
    text = text.strip()
    if not text:
        raise ValueError("give a duration (2h) or an end time (18:30)")
    try:
        return start + parse_duration(text)
    except DurationError:
        pass
    clock = re.fullmatch(r"(\d{1,2}):(\d\d)", text)
    if clock:
        base = datetime.fromtimestamp(start)
        end = base.replace(hour=int(clock.group(1)), minute=int(clock.group(2)), second=0,
                           microsecond=0)
        if end.timestamp() <= start:
            end += timedelta(days=1)
        return end.timestamp()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValueError(f"cannot read {text!r}: a duration (2h) or an end time (18:30, "
                         "2026-11-27 09:00)") from None


class MatcherRow(Horizontal):
    DEFAULT_CSS = """
    MatcherRow { height: 3; }
    MatcherRow > .name { width: 22; }
    MatcherRow > Select { width: 12; }
    MatcherRow > .value { width: 1fr; }
    MatcherRow > Button { width: 5; min-width: 5; }
    """

    def __init__(self, matcher: LabelMatcher | None = None) -> None:
        super().__init__()
        self.matcher = matcher

    def compose(self) -> ComposeResult:
        matcher = self.matcher
        yield Input(matcher.name if matcher else "", placeholder="label", classes="name")
        yield Select(OPS, value=matcher.op if matcher else "=", allow_blank=False)
        yield Input(matcher.value if matcher else "", placeholder="value", classes="value")
        yield Button("✕", classes="remove", tooltip="remove this matcher")

    def read(self) -> LabelMatcher | None:
        name = self.query_one(".name", Input).value.strip()
        value = self.query_one(".value", Input).value
        op = str(self.query_one(Select).value)
        if not name:
            return None
        return LabelMatcher(name, value, is_regex=op in ("=~", "!~"), is_equal=op in ("=", "=~"))

    class Removed(Message):
        """A matcher row went away: the preview must be counted again."""

    @on(Button.Pressed, ".remove")
    def _remove(self, event: Button.Pressed) -> None:
        event.stop()
        screen = self.screen
        self.remove()
        screen.post_message(self.Removed())


class SilenceModal(ModalScreen[SilenceRequest | None]):
    DEFAULT_CSS = """
    SilenceModal { align: center middle; }
    SilenceModal > Vertical {
        width: 96; max-width: 98%; height: auto; max-height: 95%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    SilenceModal #matchers { height: auto; max-height: 15; }
    SilenceModal .row { height: 3; }
    SilenceModal .row > Static { width: 12; padding-top: 1; }
    SilenceModal .row > Input { width: 1fr; }
    SilenceModal #preview { height: auto; color: $foreground 70%; }
    SilenceModal #problems { height: auto; color: $error; }
    SilenceModal .buttons { height: 3; align-horizontal: right; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="silence-cancel"),
        Binding("ctrl+s", "confirm", "Create", id="silence-confirm", priority=True),
    ]

    def __init__(self, matchers: Sequence[LabelMatcher], alerts: Sequence[Alert],
                 author: str, *, title: str = "New silence", duration: str = "2h",
                 comment: str = "", silence_id: str | None = None,
                 starts_at: float | None = None,
                 clock=time.time) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.initial = list(matchers)
        self.alerts = list(alerts)
        self.author = author
        self.heading = title
        self.duration = duration
        self.comment = comment
        self.silence_id = silence_id
        # Extending keeps the silence's own start: Alertmanager updates a silence in place
        # only when its matchers and start are unchanged (else it expires it, makes a new one).
        self.starts_at = starts_at
        self.clock = clock

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.heading
            with VerticalScroll(id="matchers"):
                for matcher in self.initial or [None]:
                    yield MatcherRow(matcher)
            yield Button("+ matcher", id="add-matcher")
            with Horizontal(classes="row"):
                yield Static("Until")
                yield Input(self.duration, placeholder="2h, 30m, 18:30, 2026-11-27 09:00",
                            id="until")
            with Horizontal(classes="row"):
                yield Static("Comment")
                yield Input(self.comment, placeholder="why (required), ticket", id="comment")
            with Horizontal(classes="row"):
                yield Static("Author")
                yield Input(self.author, id="author")
            yield Static("", id="preview")
            yield Static("", id="problems")
            with Horizontal(classes="buttons"):
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Create (ctrl+s)", id="create", variant="warning")

    def on_mount(self) -> None:
        self._refresh_preview()
        self.query_one("#comment", Input).focus()

    def matchers(self) -> list[LabelMatcher]:
        return [m for m in (row.read() for row in self.query(MatcherRow)) if m is not None]

    def _refresh_preview(self) -> None:
        matchers = self.matchers()
        preview = self.query_one("#preview", Static)
        try:
            caught = [a for a in self.alerts if matches_all(matchers, a.labels)]
        except re.error:
            preview.update(Text("matchers: invalid regular expression"))
            return
        names = sorted({a.name for a in caught})
        text = f"catches {len(caught)} of {len(self.alerts)} current alerts"
        if names:
            text += ": " + ", ".join(sanitize(n) for n in names[:6])
            text += " …" if len(names) > 6 else ""
        preview.update(Text(text))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(MatcherRow.Removed)
    def _changed(self, event: object) -> None:
        self._refresh_preview()
        self.query_one("#problems", Static).update("")

    @on(Button.Pressed, "#add-matcher")
    def _add(self, event: Button.Pressed) -> None:
        event.stop()
        self.query_one("#matchers").mount(MatcherRow())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#create")
    def action_confirm(self) -> None:
        problems: list[str] = []
        now = self.clock()
        start = self.starts_at if self.starts_at is not None else now
        try:
            end = parse_end(self.query_one("#until", Input).value, now)
        except ValueError as error:
            problems.append(str(error))
            end = now
        matchers = self.matchers()
        comment = self.query_one("#comment", Input).value
        author = self.query_one("#author", Input).value
        problems += check_silence(matchers, start, end, comment, author, now=now)
        if problems:
            self.query_one("#problems", Static).update(
                Text("\n".join(f"✖ {p}" for p in dict.fromkeys(problems))))
            return
        self.dismiss(SilenceRequest(tuple(matchers), start, end, author.strip(),
                                    comment.strip(), self.silence_id))
