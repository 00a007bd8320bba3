"""``alerts``: what is firing, grouped, coloured by severity, filterable, actionable.

Keys on the panel: ↑/↓ (j/k) move the selection (past the ends they move to the next
panel), ``enter`` opens the alert, ``s`` silences it, ``/`` filters with label matchers,
``o`` changes the order (severity, age, name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Input

from watchdeck.core.alerts import (
    STATE_ORDER,
    Alert,
    LabelMatcher,
    matches_all,
    parse_matchers,
    severity_rank,
)
from watchdeck.core.config.models import AlertsPanel as AlertsSpec
from watchdeck.core.durations import format_age
from watchdeck.core.feeds import AlertList, FeedKey
from watchdeck.core.safe import sanitize
from watchdeck.ui.bindings import bindings_for
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.themes import severity_colour
from watchdeck.ui.typeahead import TextBox, focus_now, open_box, route_key

if TYPE_CHECKING:
    from watchdeck.ui.context import DashboardContext

STATE_MARK = {"firing": "●", "pending": "◐", "silenced": "◌", "inhibited": "⊘"}
SORTS = ("severity", "age", "name")
# Labels not worth a column of their own in the summary of an alert's labels.
QUIET_LABELS = {"alertname", "severity", "job", "__name__", "prometheus", "alertstate"}


def order_alerts(alerts: list[Alert], sort: str, group_by: str, now: float) -> list[Alert]:
    """Grouped by ``group_by``; groups and alerts in them by ``sort``."""
    def alert_key(alert: Alert) -> tuple[object, ...]:
        age = -(alert.active_at or now)
        if sort == "age":
            return (age, severity_rank(alert.severity), alert.name)
        if sort == "name":
            return (alert.name, severity_rank(alert.severity), age)
        return (STATE_ORDER.get(alert.state, 9), severity_rank(alert.severity), age)

    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.labels.get(group_by, ""), []).append(alert)
    for members in groups.values():
        members.sort(key=alert_key)
    ordered = sorted(groups.items(), key=lambda item: (alert_key(item[1][0]), item[0]))
    return [alert for _, members in ordered for alert in members]


def severity_counts(alerts: list[Alert]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for alert in alerts:
        if alert.state == "firing":
            counts[alert.severity] = counts.get(alert.severity, 0) + 1
    return sorted(counts.items(), key=lambda item: severity_rank(item[0]))


class AlertAction(Message):
    """The user asked to open or silence an alert (handled by the app)."""

    def __init__(self, alert: Alert, action: str) -> None:
        super().__init__()
        self.alert = alert
        self.action = action


class AlertsPanel(Panel):
    DEFAULT_CSS = """
    AlertsPanel > DataTable { height: 1fr; overflow-x: hidden; }
    AlertsPanel > Input { display: none; height: 3; }
    AlertsPanel.-filtering > Input { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings_for("alerts"),
        Binding("up,k", "cursor(-1)", "Previous alert", show=False, id="alerts-up"),
        Binding("down,j", "cursor(1)", "Next alert", show=False, id="alerts-down"),
    ]
    spec: AlertsSpec

    def __init__(self, spec: AlertsSpec, context: DashboardContext) -> None:
        super().__init__(spec, context)
        self.sort = spec.sort
        self.matchers: list[LabelMatcher] = parse_matchers(spec.filter) if spec.filter else []
        self.shown: list[Alert] = []
        self.all_alerts: list[Alert] = []
        self.received = False  # no counts in the title until the source has answered

    def compose_body(self) -> ComposeResult:
        yield TextBox(placeholder='label matchers, e.g. severity="critical",model=~"llama.*"',
                      id="alerts-filter")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=False)
        table.can_focus = False
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        table.add_columns("", "severity", self.spec.group_by, "age", "summary", "labels")

    # ------------------------------------------------------------------ feeds

    def plan(self) -> list[FeedKey]:
        self.plan_error = None
        source = self.context.resolve_source(self.spec.source)
        if source is None:
            self.plan_error = (f"no source for '{self.spec.source}': configure an Alertmanager "
                               "(--alertmanager URL) or a Prometheus")
            return []
        # Alerts are about now, whatever the window shows.
        return [FeedKey(source=source, expr="", kind="alerts", range=0.0, step=0.0)]

    def compute_state(self) -> tuple[str, str | None]:
        state, message = super().compute_state()
        if state == "no data":
            return "live", None  # no alerts is the good news, not missing data
        if state == "fixed window":
            return "live", None
        return state, message

    # ------------------------------------------------------------------ drawing

    def draw(self, results: list[object]) -> None:
        result = results[0] if results else None
        alerts = list(result.alerts) if isinstance(result, AlertList) else []
        self.received = self.received or isinstance(result, AlertList)
        self.all_alerts = alerts
        self._fill()

    def _fill(self) -> None:
        now = self.context.clock()
        visible = [a for a in self.all_alerts
                   if a.state in self.spec.states and matches_all(self.matchers, a.labels)]
        self.shown = order_alerts(visible, self.sort, self.spec.group_by, now)
        table = self.query_one(DataTable)
        selected = self.selected
        table.clear()
        previous_group = None
        for alert in self.shown:
            group = alert.labels.get(self.spec.group_by, "")
            table.add_row(*self._cells(alert, group if group != previous_group else "", now))
            previous_group = group
        if selected is not None and selected in self.shown:
            table.move_cursor(row=self.shown.index(selected), animate=False)
        self._title()
        notes = []
        if self.matchers:
            notes.append("filter: " + ",".join(str(m) for m in self.matchers))
        if len(visible) < len(self.all_alerts):
            notes.append(f"{len(self.all_alerts) - len(visible)} hidden")
        self.set_note(" · ".join(notes) or None)

    def _cells(self, alert: Alert, group: str, now: float) -> list[Text]:
        colour = severity_colour(self.app, alert.severity)
        dim = alert.state in ("silenced", "inhibited")
        mark = Text(STATE_MARK.get(alert.state, "?"), style="dim" if dim else colour)
        labels = " ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())
                          if k not in QUIET_LABELS and k != self.spec.group_by)
        age = alert.age(now)
        summary = alert.annotations.get("summary") or alert.annotations.get("description", "")
        style = "dim" if dim else ""
        return [
            mark,
            Text(sanitize(alert.severity), style=style or colour),
            Text(sanitize(group), style=f"bold {style}".strip()),
            Text(format_age(age) if age is not None else "", style=style, justify="right"),
            Text(sanitize(summary, 80), style=style),
            Text(sanitize(labels, 160), style=style),
        ]

    def _title(self) -> None:
        counts = severity_counts(self.all_alerts)
        base = self.spec.title or "Alerts"
        parts = [f"{n} {severity}" for severity, n in counts] or ["none firing"]
        for state in ("pending", "silenced", "inhibited"):
            n = sum(1 for alert in self.all_alerts if alert.state == state)
            if n:
                parts.append(f"{n} {state}")
        if self.received:
            base += " — " + " · ".join(parts)
        from textual.content import Content

        self.border_title = Content(sanitize(base))

    def update_title(self) -> None:
        self._title()

    # ------------------------------------------------------------------ selection

    @property
    def selected(self) -> Alert | None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def action_cursor(self, step: int) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row + step
        if not self.shown or row < 0 or row >= len(self.shown):
            # Past the ends: on to the panel above or below, like the arrows elsewhere.
            self.screen.run_action(f"focus_direction('{'up' if step < 0 else 'down'}')")
            return
        table.move_cursor(row=row, animate=False)

    def action_open_alert(self) -> None:
        if self.selected is not None:
            self.post_message(AlertAction(self.selected, "open"))

    def action_silence_alert(self) -> None:
        if self.selected is not None:
            self.post_message(AlertAction(self.selected, "silence"))

    def action_sort_alerts(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.notify(f"alerts by {self.sort}", timeout=2)
        self._fill()

    # ------------------------------------------------------------------ filter

    def action_filter_alerts(self) -> None:
        self.add_class("-filtering")
        open_box(self, self.query_one("#alerts-filter", TextBox),
                 ",".join(str(m) for m in self.matchers), on_submit=self._apply_filter,
                 on_cancel=self._close_filter)

    def _close_filter(self) -> None:
        self.remove_class("-filtering")
        focus_now(self, self)

    def _apply_filter(self, event: Input.Submitted) -> None:
        """The box's submission (called by it: see ui/typeahead.py)."""
        try:
            self.matchers = parse_matchers(event.value) if event.value.strip() else []
        except ValueError as error:
            event.input.border_title = str(error)
            return
        event.input.border_title = None
        self.remove_class("-filtering")
        focus_now(self, self)
        self._fill()

    async def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        box = self.query_one("#alerts-filter", TextBox) if self.has_class("-filtering") else None
        await route_key(self, event, box, ("filter_alerts",))
