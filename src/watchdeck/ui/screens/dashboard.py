"""The dashboard screen: one layout's panels on a reflowing grid, with a status bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container, VerticalScroll
from textual.screen import Screen

from watchdeck.core.alertlinks import panel_is_about
from watchdeck.core.alerts import Alert
from watchdeck.core.config.loader import variable_references
from watchdeck.core.config.models import Layout
from watchdeck.core.errors import SourceError
from watchdeck.core.grid import Arrangement, arrange, neighbour
from watchdeck.core.layouts import LayoutEntry
from watchdeck.core.logs.model import LogSource
from watchdeck.core.model import SourceHealth
from watchdeck.core.sources.base import MetricsSource
from watchdeck.core.templating import (
    VariableState,
    default_state,
    parse_variable_query,
    substitute,
)
from watchdeck.core.traces.source import TraceSource
from watchdeck.ui.bindings import bindings_for
from watchdeck.ui.context import DashboardContext
from watchdeck.ui.panels import make_panel
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.widgets.keyhints import LiveKeyHints
from watchdeck.ui.widgets.statusbar import StatusBar

if TYPE_CHECKING:
    from watchdeck.ui.app import WatchdeckApp


class DashboardScreen(Screen[None]):
    """Shows one layout. Window and variable choices come from the app and survive switches."""

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("dashboard")

    app: WatchdeckApp

    def __init__(self, entry: LayoutEntry, context: DashboardContext) -> None:
        super().__init__(name=f"layout:{entry.name}")
        self.entry = entry
        self.context = context
        self.choices: dict[str, list[str]] = {}
        self.choice_errors: dict[str, str] = {}
        self.arrangement: Arrangement | None = None

    @property
    def spec(self) -> Layout:
        """The layout file's model (``layout`` is Textual's own attribute)."""
        return self.entry.layout

    @property
    def panels(self) -> list[Panel]:
        return list(self.query(Panel))

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dashboard-scroll", can_focus=False):
            with Container(id="dashboard-grid"):
                for spec in self.spec.panels:
                    yield make_panel(spec, self.context)
        yield StatusBar()
        yield LiveKeyHints()

    def on_mount(self) -> None:
        self.reflow()  # before the first layout, so no panel is ever drawn squeezed
        self.sync_from_app(force=True)
        self.set_interval(1.0, self._tick)
        self.watch(self.query_one("#dashboard-scroll"), "scroll_y", self._scrolled, init=False)
        panels = self.panels
        if panels:
            panels[0].focus()
        self.load_choices()

    def on_resize(self) -> None:
        self.reflow()
        # A bigger terminal may bring panels into view whose feeds were asleep.
        self.call_after_refresh(self.context.hub.wake)

    def on_screen_resume(self) -> None:
        self.sync_from_app()
        self.mark_panels(self.app.current_alerts)
        self.call_after_refresh(self.context.hub.wake)
        self.refresh_status()

    # ------------------------------------------------------------------ layout

    def reflow(self) -> None:
        """Fit the grid to the terminal: fewer columns when narrow, scrolling when short."""
        width, height = self.size
        grids = self.query("#dashboard-grid")
        if width <= 0 or not grids:  # not composed yet, or being torn down
            return
        grid = grids.first()
        usable_height = max(height - 2, 1)  # status bar and footer
        panels = self.panels
        arrangement = arrange(
            [(spec.width, spec.height) for spec in self.spec.panels],
            self.spec.columns, width, usable_height,
        )
        if arrangement == self.arrangement:
            return
        self.arrangement = arrangement
        grid.styles.grid_size_columns = arrangement.columns
        grid.styles.grid_rows = " ".join(str(h) for h in arrangement.band_heights)
        for panel, cell in zip(panels, arrangement.cells):
            panel.styles.column_span = cell.span

    def _scrolled(self, _: float) -> None:
        self.call_after_refresh(self.context.hub.wake)

    # ------------------------------------------------------------------ state from the app

    def sync_from_app(self, force: bool = False) -> None:
        """Take the app's window and variable choices; re-plan panels if they changed."""
        app = self.app
        states = {
            variable.name: app.variable_states.get(variable.name)
            or default_state(variable, self.choices.get(variable.name))
            for variable in self.spec.variables
        }
        changed = force or app.window != self.context.window or states != self.context.states
        self.context.window = app.window
        self.context.states = states
        if changed:
            for panel in self.panels:
                panel.update_title()
                panel.update_requests()
        self.refresh_status()

    def variables_text(self) -> str:
        return "  ".join(
            f"{variable.name}={self.context.states.get(variable.name, VariableState()).describe()}"
            for variable in self.spec.variables
        )

    def health(self) -> list[SourceHealth]:
        """Each source's health: polled ones from the hub; log sources from their running
        tails (shown only while a panel tails them); trace sources only when asked."""
        app = self.app
        found: dict[str, SourceHealth] = {}
        for name, item in app.hub.health.items():
            source = app.sources.get(name)
            if isinstance(source, LogSource | TraceSource) and not isinstance(
                    source, MetricsSource):
                continue
            found[name] = item
        for stream in app.log_streams.streams.values():
            for name, feed in stream.feeds.items():
                state = feed.state
                if name in found and found[name].failing:
                    continue
                found[name] = SourceHealth(
                    name, last_success=feed.last_at or state.connected_at,
                    last_error=None if state.ok else state.message,
                    last_error_at=None if state.ok else self.context.clock(),
                    error_kind=None if state.ok else "down", failing=not state.ok and bool(
                        state.message))
        return [found[name] for name in sorted(found)]

    def refresh_status(self) -> None:
        bars = self.query(StatusBar)
        if not bars:  # not composed yet: on_mount shows it
            return
        app = self.app
        bars.first().show(
            live=self.context.window.live,
            layout=self.entry.title,
            window=self.context.window.describe(),
            variables=self.variables_text(),
            health=self.health(),
            now=self.context.clock(),
            problem=app.layout_problem,
            targets={name: source.targets_summary() for name, source in app.sources.items()
                     if hasattr(source, "targets_summary")},
            alerts=app.alert_counts(),
        )

    def mark_panels(self, alerts: list[Alert]) -> None:
        """Mark the panels that firing alerts are about."""
        firing = [alert for alert in alerts if alert.state == "firing"]
        for panel in self.panels:
            panel.set_alert_marks([a for a in firing if panel_is_about(panel.spec, a)])

    def _tick(self) -> None:
        if not self.is_active:
            return
        for panel in self.panels:
            panel.tick()
        self.refresh_status()

    # ------------------------------------------------------------------ variables

    @work(exclusive=True, group="variable-choices", exit_on_error=False)
    async def load_choices(self) -> None:
        """Fetch each query variable's choices (``label_values``) from its source."""
        ctx = self.context
        start, end = ctx.window.bounds(ctx.clock())
        for variable in self.spec.variables:
            if variable.values is not None:
                self.choices[variable.name] = list(variable.values)
                continue
            assert variable.query is not None
            source_name = ctx.resolve_source(variable.source)
            source = ctx.sources.get(source_name or "")
            if not isinstance(source, MetricsSource):
                self.choice_errors[variable.name] = f"no metrics source for '{variable.source}'"
                continue
            query = parse_variable_query(
                substitute(variable.query, ctx.variables, ctx.states)
            )
            try:
                values = await source.label_values(
                    query.label, [query.selector] if query.selector else None, start, end
                )
            except SourceError as error:
                self.choice_errors[variable.name] = str(error)
                continue
            self.choice_errors.pop(variable.name, None)
            self.choices[variable.name] = sorted(values)

    def set_variable(self, name: str, state: VariableState) -> None:
        self.app.variable_states[name] = state
        self.sync_from_app()
        dependants = [
            v for v in self.spec.variables
            if v.query and name in variable_references(v.query)
        ]
        if dependants:
            self.load_choices()

    # ------------------------------------------------------------------ actions

    def _focused_index(self) -> int | None:
        focused = self.focused
        panels = self.panels
        while focused is not None and not isinstance(focused, Panel):
            focused = focused.parent  # type: ignore[assignment]
        return panels.index(focused) if focused in panels else None

    def action_focus_direction(self, direction: str) -> None:
        panels = self.panels
        if not panels:
            return
        index = self._focused_index()
        if index is None or self.arrangement is None:
            panels[0].focus()
            return
        target = neighbour(self.arrangement, index, direction)
        if target is not None:
            panels[target].focus()

    def action_focus_next(self) -> None:
        self._focus_step(1)

    def action_focus_previous(self) -> None:
        self._focus_step(-1)

    def _focus_step(self, step: int) -> None:
        panels = self.panels
        if not panels:
            return
        index = self._focused_index()
        target = 0 if index is None else (index + step) % len(panels)
        panels[target].focus()

    def action_zoom_panel(self) -> None:
        index = self._focused_index()
        if index is None:
            return
        self.maximize(self.panels[index], container=False)
        self.call_after_refresh(self.context.hub.wake)

    def action_unzoom_panel(self) -> None:
        if self.maximized is not None:
            self.minimize()
            self.call_after_refresh(self.context.hub.wake)
