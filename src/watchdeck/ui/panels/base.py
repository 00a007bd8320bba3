"""The one base every panel type builds on: subscriptions and visible states.

A panel never fetches. It works out which feeds it needs (from its queries, the window,
the variable choices and its own width), subscribes to them at the hub, and draws the
snapshots the hub posts. Its border always says its state: loading, live, stale (with
age), error (with the reason and the next retry), or no data.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.errors import NoWidget
from textual.widgets import Static

from watchdeck.core.alerts import Alert, severity_rank
from watchdeck.core.config.models import PanelBase
from watchdeck.core.durations import format_age
from watchdeck.core.feeds import FeedKey, FeedSnapshot
from watchdeck.core.model import QueryResult
from watchdeck.core.safe import sanitize
from watchdeck.core.templating import builtin_values, substitute
from watchdeck.core.timewin import choose_step, rate_interval
from watchdeck.ui.context import DashboardContext
from watchdeck.ui.hub import FeedUpdated

LOADING, LIVE, STALE, ERROR, NO_DATA, PAUSED = (
    "loading", "live", "stale", "error", "no data", "paused",
)
_STATE_BADGES = {
    LOADING: "◌ loading",
    LIVE: "● live",
    PAUSED: "‖ fixed window",
    NO_DATA: "○ no data",
}


class Panel(Vertical, can_focus=True):
    """Base of every panel widget."""

    DEFAULT_CSS = """
    Panel {
        border: round $foreground 30%;
        border-title-color: $foreground;
        border-subtitle-color: $foreground 60%;
        height: 100%;
        padding: 0 1;
    }
    Panel:focus { border: round $accent; border-title-style: bold; }
    Panel.-error { border: round $error 70%; border-subtitle-color: $error; }
    Panel.-error:focus { border: round $error; }
    Panel.-stale { border-subtitle-color: $warning; }
    Panel.-alerting { border: round $warning; border-subtitle-color: $warning; }
    Panel.-alerting-critical { border: round $error; border-subtitle-color: $error; }
    Panel > .panel--message {
        height: auto; max-height: 3; color: $error; display: none;
    }
    Panel.-error > .panel--message { display: block; }
    Panel > .panel--note { height: 1; color: $foreground 60%; display: none; }
    Panel.-note > .panel--note { display: block; }
    """

    BINDINGS: ClassVar[list[BindingType]] = []
    DEFAULT_INSTANT: ClassVar[bool] = False
    allow_maximize = True

    def __init__(self, spec: PanelBase, context: DashboardContext) -> None:
        super().__init__(id=f"panel-{spec.id}" if spec.id else None)
        self.spec = spec
        self.context = context
        self.keys: list[FeedKey] = []
        self.plan_error: str | None = None
        self.snapshots: dict[FeedKey, FeedSnapshot] = {}
        self.state = LOADING
        self._fallback: list[QueryResult | None] = []
        self.alert_marks: list[Alert] = []
        self._drawn: tuple[Any, ...] | None = None
        self._badge = ""

    # ------------------------------------------------------------------ composition

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel--message", markup=False)
        yield from self.compose_body()
        yield Static("", classes="panel--note", markup=False)

    def compose_body(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self.on_theme_changed)
        self.update_title()
        self.update_state()

    def on_unmount(self) -> None:
        self.context.hub.unsubscribe_all(self)

    def on_resize(self) -> None:
        self.update_requests()

    # ------------------------------------------------------------------ requests

    @property
    def refresh_interval(self) -> float:
        return self.spec.refresh or self.context.layout.refresh

    def plot_columns(self) -> int:
        """How many data points across this panel can show (one per column)."""
        return max(self.content_region.width, 10)

    def plan(self) -> list[FeedKey]:
        """The feeds this panel needs now. Sets :attr:`plan_error` when it cannot."""
        self.plan_error = None
        if not self.spec.queries:
            return []
        ctx = self.context
        source = ctx.resolve_source(self.spec.source)
        if source is None:
            self.plan_error = (
                f"no source for '{self.spec.source}': configure one (e.g. --prometheus URL)"
            )
            return []
        window = ctx.window
        scrape = ctx.scrape_interval(source)
        step = choose_step(window.range, self.plot_columns(), scrape)
        builtins = builtin_values(step, rate_interval(step, scrape), window.range)
        keys = []
        for query in self.spec.queries:
            expr = substitute(query.expr, ctx.variables, ctx.states, builtins)
            instant = self.DEFAULT_INSTANT if query.instant is None else query.instant
            keys.append(FeedKey(source=source, expr=expr, instant=instant, range=window.range,
                                step=0.0 if instant else step, end=window.end,
                                align=0.0 if instant else min(step, scrape)))
        return keys

    def update_requests(self) -> None:
        """Re-plan and move subscriptions at the hub if anything changed."""
        if not self.is_mounted or self.size.width == 0:
            return
        keys = self.plan()
        if keys == self.keys:
            return
        hub = self.context.hub
        for key in self.keys:
            if key not in keys:
                hub.unsubscribe(self, key)
        # Old data stays on screen until the new feeds answer.
        self._fallback = self.results() if len(keys) == len(self.keys) else []
        old = set(self.keys)
        self.keys = keys
        self.snapshots = {k: v for k, v in self.snapshots.items() if k in keys}
        for key in keys:
            if key not in old:
                hub.subscribe(self, key, self.refresh_interval)
        self.update_state()

    def wants_data(self) -> bool:
        """Polled by the hub: only panels the user can see are kept fresh."""
        if not self.is_mounted or not self.screen.is_active:
            return False
        try:
            geometry = self.screen.find_widget(self)
        except NoWidget:  # not laid out, or hidden behind a zoomed panel
            return False
        return bool(geometry.visible_region)

    def on_feed_updated(self, message: FeedUpdated) -> None:
        message.stop()
        snapshot = message.snapshot
        if snapshot.key not in self.keys:
            return
        self.snapshots[snapshot.key] = snapshot
        self.update_state()
        self.redraw()

    # ------------------------------------------------------------------ data

    def results(self) -> list[QueryResult | None]:
        """One result per query: the newest we have, ``None`` while loading."""
        out: list[QueryResult | None] = []
        for index, key in enumerate(self.keys):
            snapshot = self.snapshots.get(key)
            if snapshot is not None and snapshot.result is not None:
                out.append(snapshot.result)
            else:
                out.append(self._fallback[index] if index < len(self._fallback) else None)
        return out

    def window_bounds(self) -> tuple[float, float]:
        windows = [s.window for s in self.snapshots.values() if s.window is not None]
        if windows:
            return max(windows, key=lambda w: w[1])
        return self.context.window.bounds(self.context.clock())

    def redraw(self) -> None:
        """Draw the current results. Subclasses override :meth:`draw`."""
        results = self.results()
        signature = (tuple(id(r) for r in results), self.size, self.app.theme)
        if signature == self._drawn:
            return
        self._drawn = signature
        self.draw(results)

    def draw(self, results: list[QueryResult | None]) -> None:
        """Render ``results``; called only when they or the size changed."""

    def on_theme_changed(self, _: object = None) -> None:
        """Series and threshold colours come from the theme: draw again."""
        self._drawn = None
        self.redraw()

    # ------------------------------------------------------------------ states

    def update_title(self) -> None:
        ctx = self.context
        title = (substitute(self.spec.title, ctx.variables, ctx.states, for_display=True)
                 if self.spec.title else "")
        self.border_title = Content(sanitize(title or self.spec.id or ""))

    def compute_state(self) -> tuple[str, str | None]:
        """The state and, for errors, the message to show."""
        if self.plan_error is not None:
            return ERROR, self.plan_error
        if not self.spec.queries and not self.keys:  # text: nothing to fetch
            return LIVE, None
        snapshots = [self.snapshots.get(key) for key in self.keys]
        errors = [s for s in snapshots if s is not None and s.error is not None]
        if errors:
            worst = errors[0]
            return ERROR, worst.error
        if not self.keys or any(s is None or s.result is None for s in snapshots):
            return LOADING, None
        if all(s.result is not None and s.result.is_empty for s in snapshots if s):
            return NO_DATA, None
        if not self.context.window.live:
            return PAUSED, None
        if self.data_age() > max(3 * self.refresh_interval, self.refresh_interval + 10):
            return STALE, None
        return LIVE, None

    def data_age(self) -> float:
        """Seconds since the oldest of this panel's feeds last answered."""
        now = self.context.clock()
        fetched = []
        for key in self.keys:
            # The hub's snapshot moves on every poll, even when the data did not change.
            snapshot = self.context.hub.snapshot(key) or self.snapshots.get(key)
            if snapshot is not None and snapshot.fetched_at is not None:
                fetched.append(snapshot.fetched_at)
        return now - min(fetched) if fetched else 0.0

    def update_state(self) -> None:
        state, message = self.compute_state()
        self.state = state
        self.set_class(state == ERROR, "-error")
        self.set_class(state == STALE, "-stale")
        messages = self.query(".panel--message")
        if not messages:  # torn down before its children were composed
            return
        messages.first(Static).update(Text(sanitize(message or "", 600)))
        self._set_badge()

    def tick(self) -> None:
        """Called every second by the dashboard: ages and retry countdowns move."""
        state, _ = self.compute_state()
        if state != self.state:
            self.update_state()
        elif state in (ERROR, STALE):
            self._set_badge()

    def _set_badge(self) -> None:
        badge = self.badge()
        if badge != self._badge:  # assigning redraws the border: only when it changed
            self._badge = badge
            self.border_subtitle = Content(badge)

    def set_alert_marks(self, alerts: list[Alert]) -> None:
        """Firing alerts this panel is about: they colour its border and name themselves."""
        names = sorted({a.name for a in alerts})
        if names == sorted({a.name for a in self.alert_marks}):
            self.alert_marks = alerts
            return
        self.alert_marks = alerts
        self.set_class(bool(alerts), "-alerting")
        worst = min((severity_rank(a.severity) for a in alerts), default=9)
        self.set_class(bool(alerts) and worst == 0, "-alerting-critical")
        self._set_badge()

    def badge(self) -> str:
        now = self.context.clock()
        warnings = sum(
            len(s.result.warnings) for s in self.snapshots.values() if s.result is not None
        )
        suffix = f" · ⚠ {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
        if self.alert_marks:
            names = sorted({a.name for a in self.alert_marks})
            shown = ", ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else "")
            suffix = f" · ▲ {sanitize(shown, 60)}" + suffix
        if self.state == ERROR:
            retries = [s.next_retry_at for s in self.snapshots.values() if s.next_retry_at]
            if retries:
                wait = max(0.0, min(retries) - now)
                return f"✖ error · retry in {math.ceil(wait)}s"
            return "✖ error"
        if self.state == STALE:
            return f"⚠ stale {format_age(self.data_age())}" + suffix
        return _STATE_BADGES.get(self.state, self.state) + suffix

    def set_note(self, note: str | None) -> None:
        """A one-line note under the body (e.g. how many series were left out)."""
        self.query_one(".panel--note", Static).update(Text(note or ""))
        self.set_class(bool(note), "-note")

    # ------------------------------------------------------------------ helpers

    @property
    def max_series(self) -> int:
        return self.spec.max_series or self.context.max_series

    def legends(self) -> list[str | None]:
        return [query.legend for query in self.spec.queries]

    def threshold_colour(self, value: float | None) -> str | None:
        """The theme colour a value takes under the panel's thresholds."""
        thresholds = self.spec.thresholds
        if thresholds is None or value is None or not math.isfinite(value):
            return None
        above = thresholds.mode == "above"

        def crosses(limit: float | None) -> bool:
            return limit is not None and (value >= limit if above else value <= limit)

        variables = self.app.theme_variables
        if crosses(thresholds.critical):
            return variables.get("error")
        if crosses(thresholds.warning):
            return variables.get("warning")
        return None


__all__ = ["Panel", "Binding", "LOADING", "LIVE", "STALE", "ERROR", "NO_DATA", "PAUSED"]
