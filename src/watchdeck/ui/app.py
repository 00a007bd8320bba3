"""The watchdeck App: layouts as screens, the hub, themes, keys and palette commands."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from watchdeck.core.config.files import LoadedConfig
from watchdeck.core.keys import KEYS, display_keys
from watchdeck.core.layouts import CatalogChanges, LayoutCatalog
from watchdeck.core.paths import shipped_themes_dir, user_themes_dir
from watchdeck.core.sources import build_sources
from watchdeck.core.sources.base import Source
from watchdeck.core.templating import VariableState
from watchdeck.core.timewin import TimeWindow
from watchdeck.ui.bindings import bindings_for
from watchdeck.ui.context import DashboardContext
from watchdeck.ui.hub import HealthChanged, Hub
from watchdeck.ui.panels.base import LOADING, NO_DATA
from watchdeck.ui.screens.dashboard import DashboardScreen
from watchdeck.ui.screens.help import HelpScreen
from watchdeck.ui.screens.variables import ChooseVariable, PickValues
from watchdeck.ui.themes import load_theme_dirs

DEFAULT_THEME = "watchdeck-dark"
LAYOUT_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class SnapshotRequest:
    """Render once the panels have data (or ``wait`` seconds passed), write, exit."""

    path: Path
    wait: float = 15.0


class WatchdeckApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "watchdeck"
    BINDINGS: ClassVar[list[BindingType]] = bindings_for("app")

    def __init__(
        self,
        config: LoadedConfig,
        catalog: LayoutCatalog,
        *,
        layout: str | None = None,
        theme: str | None = None,
        sources: dict[str, Source] | None = None,
        clock: Callable[[], float] = time.time,
        snapshot: SnapshotRequest | None = None,
        theme_dirs: Iterable[Path] | None = None,
        poll_layouts: bool = True,
    ) -> None:
        super().__init__()
        self.config = config
        self.catalog = catalog
        self.clock = clock
        self.snapshot_request = snapshot
        self.poll_layouts = poll_layouts
        self.sources = sources if sources is not None else build_sources(config)
        self.hub = Hub(self, self.sources, clock)
        self.window = TimeWindow()
        self.variable_states: dict[str, VariableState] = {}
        self.layout_problem: str | None = None
        self.startup_messages: list[tuple[str, str]] = []
        self._dashboards: dict[str, DashboardScreen] = {}
        self._generation = 0
        self._initial_layout = layout
        self._snapshot_started = 0.0
        self._setup_themes(theme, theme_dirs)
        if config.config.keymap:
            self.set_keymap(config.config.keymap)

    # ------------------------------------------------------------------ themes

    def _setup_themes(self, requested: str | None, directories: Iterable[Path] | None) -> None:
        dirs = list(directories) if directories is not None else [
            shipped_themes_dir(), user_themes_dir()
        ]
        themes, errors = load_theme_dirs(dirs)
        for theme in themes:
            self.register_theme(theme)
        for error in errors:
            self.startup_messages.append(("error", f"theme not loaded: {error}"))
        wanted = requested or self.config.config.theme or DEFAULT_THEME
        if wanted not in self.available_themes:
            self.startup_messages.append(
                ("warning", f"unknown theme '{wanted}'; using {DEFAULT_THEME}. "
                            "Ctrl+P lists themes.")
            )
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = wanted

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        for name, source in self.sources.items():
            start = getattr(source, "start", None)
            if start is not None:  # sources with work of their own (the embedded engine)
                self.run_worker(start(), group="sources", exit_on_error=False,
                                description=f"start {name}")
        for severity, message in self.startup_messages:
            self.notify(message, severity=severity, markup=False, timeout=12)  # type: ignore[arg-type]
        for error in self.catalog.errors.values():
            self.notify(f"layout not loaded:\n{error}", severity="error", markup=False,
                        timeout=15)
        self.layout_problem = self._short_problem()
        name = self._initial_layout or self.config.config.default_layout
        ordered = self.catalog.ordered()
        if name is not None and name not in self.catalog.entries:
            self.notify(f"no layout named '{name}'", severity="error", markup=False)
            name = None
        if name is None and ordered:
            name = self.catalog.hotkeys().get("1", ordered[0].name)
        if name is None:
            self.notify("no layouts found: add a layout file (see README)", severity="error")
        else:
            self.show_layout(name)
        if self.poll_layouts:
            self.set_interval(LAYOUT_POLL_SECONDS, self.reload_layouts)
        if self.snapshot_request is not None:
            self._snapshot_started = time.monotonic()
            self.set_interval(0.2, self._snapshot_check)

    async def on_unmount(self) -> None:
        await self.hub.aclose()

    # ------------------------------------------------------------------ layouts

    @property
    def dashboard(self) -> DashboardScreen | None:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, DashboardScreen):
                return screen
        return None

    def _make_dashboard(self, name: str) -> DashboardScreen:
        entry = self.catalog.entries[name]
        context = DashboardContext(
            hub=self.hub, config=self.config, sources=self.sources, layout=entry.layout,
            window=self.window, clock=self.clock,
        )
        screen = DashboardScreen(entry, context)
        self._dashboards[name] = screen
        self._generation += 1  # a reloaded layout's screen is new; the old one is uninstalled
        self.install_screen(screen, name=f"layout:{name}:{self._generation}")
        return screen

    def show_layout(self, name: str) -> None:
        if name not in self.catalog.entries:
            self.notify(f"no layout named '{name}'", severity="error", markup=False)
            return
        current = self.dashboard
        if current is not None and current.entry.name == name and self.screen is current:
            return
        first_visit = not self._dashboards and current is None
        screen = self._dashboards.get(name) or self._make_dashboard(name)
        if first_visit:
            self.window = TimeWindow(range=screen.entry.layout.range)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, DashboardScreen):
            self.pop_screen()
        if isinstance(self.screen, DashboardScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def _short_problem(self) -> str | None:
        """The first layout error, short enough for the status bar."""
        if not self.catalog.errors:
            return None
        issue = next(iter(self.catalog.errors.values())).first
        where = Path(issue.path).name + (f":{issue.line}" if issue.line else "")
        more = len(self.catalog.errors) - 1
        return f"{where} {issue.message}" + (f" (+{more} more)" if more else "")

    def action_layout_key(self, digit: str) -> None:
        name = self.catalog.hotkeys().get(digit)
        if name is None:
            self.notify(f"no layout on key {digit}", severity="warning")
            return
        self.show_layout(name)

    def reload_layouts(self) -> None:
        changes = self.catalog.poll()
        if changes:
            self.apply_layout_changes(changes)

    def apply_layout_changes(self, changes: CatalogChanges) -> None:
        for error in changes.failed:
            self.notify(f"layout not reloaded, keeping the last good version:\n{error}",
                        severity="error", markup=False, timeout=15)
        self.layout_problem = self._short_problem()
        current = self.dashboard
        for name in changes.changed + changes.removed:
            old = self._dashboards.pop(name, None)
            if old is None:
                continue
            if old is current and name in self.catalog.entries:
                self.switch_screen(self._make_dashboard(name))
                self.notify(f"reloaded layout {name}", timeout=3)
            elif old is current:
                ordered = self.catalog.ordered()
                if ordered:
                    self.switch_screen(self._dashboards.get(ordered[0].name)
                                       or self._make_dashboard(ordered[0].name))
                self.notify(f"layout {name} was removed", severity="warning")
            self.call_later(self.uninstall_screen, old)
        if self.dashboard is not None:
            self.dashboard.refresh_status()

    # ------------------------------------------------------------------ window

    def set_window(self, window: TimeWindow) -> None:
        if window == self.window:
            return
        self.window = window
        dashboard = self.dashboard
        if dashboard is not None:
            dashboard.sync_from_app()

    def action_toggle_pause(self) -> None:
        now = self.clock()
        self.set_window(self.window.resumed() if not self.window.live else self.window.paused(now))

    def action_live(self) -> None:
        self.set_window(self.window.resumed())

    def action_shift(self, fraction: float) -> None:
        self.set_window(self.window.shifted(fraction, self.clock()))

    def action_zoom_window(self, factor: float) -> None:
        self.set_window(self.window.zoomed(factor, self.clock()))

    def action_refresh(self) -> None:
        self.hub.refresh_now()
        if self.dashboard is not None:
            self.dashboard.load_choices()

    # ------------------------------------------------------------------ dialogs

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        layouts = [(key, self.catalog.entries[name].title)
                   for key, name in self.catalog.hotkeys().items()]
        self.push_screen(HelpScreen(dict(self.config.config.keymap), layouts))

    def action_variables(self) -> None:
        dashboard = self.dashboard
        if dashboard is None or self.screen is not dashboard:
            return
        variables = dashboard.spec.variables
        if not variables:
            self.notify("this layout has no variables")
            return

        def pick(name: str | None) -> None:
            if name is None:
                return
            variable = next(v for v in variables if v.name == name)
            state = dashboard.context.states.get(name, VariableState(is_all=True))

            def chosen(new_state: VariableState | None) -> None:
                if new_state is not None:
                    dashboard.set_variable(name, new_state)

            self.push_screen(
                PickValues(variable, dashboard.choices.get(name, []), state,
                           dashboard.choice_errors.get(name)),
                chosen,
            )

        if len(variables) == 1:
            pick(variables[0].name)
        else:
            self.push_screen(ChooseVariable(list(variables), dashboard.context.states), pick)

    # ------------------------------------------------------------------ palette

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        hotkeys = {name: key for key, name in self.catalog.hotkeys().items()}
        for entry in self.catalog.ordered():
            key = hotkeys.get(entry.name)
            yield SystemCommand(
                f"Layout: {entry.title}",
                f"Switch to {entry.name}" + (f" (key {key})" if key else ""),
                lambda name=entry.name: self.show_layout(name),
            )
        keymap = self.config.config.keymap
        for spec in KEYS:
            if spec.palette and spec.scope == "app":
                keys = display_keys(keymap.get(spec.id, spec.keys))
                yield SystemCommand(
                    spec.description, f"key: {keys}",
                    lambda action=spec.action: self.call_later(self.run_action, action),
                )

    # ------------------------------------------------------------------ health

    def on_health_changed(self, message: HealthChanged) -> None:
        dashboard = self.dashboard
        if dashboard is not None and dashboard.is_mounted:
            dashboard.refresh_status()

    # ------------------------------------------------------------------ snapshot

    def _snapshot_check(self) -> None:
        request = self.snapshot_request
        dashboard = self.dashboard
        if request is None or dashboard is None or not dashboard.is_mounted:
            return
        waited = time.monotonic() - self._snapshot_started
        # "No data" may only mean a young source (the embedded engine's first scrapes):
        # worth waiting for too, up to the limit.
        pending = [p for p in dashboard.panels
                   if p.wants_data() and p.spec.queries and p.state in (LOADING, NO_DATA)]
        if pending and waited < request.wait:
            return
        self.snapshot_request = None
        self.call_after_refresh(self._write_snapshot, request)

    def _write_snapshot(self, request: SnapshotRequest) -> None:
        from watchdeck.ui.snapshot import export_text

        try:
            if request.path.suffix.lower() == ".svg":
                request.path.write_text(self.export_screenshot(title="watchdeck"),
                                        encoding="utf-8")
            else:
                request.path.write_text(export_text(self), encoding="utf-8")
        except OSError as error:
            self.exit(return_code=1, message=f"cannot write {request.path}: {error}")
            return
        self.exit(return_code=0)

