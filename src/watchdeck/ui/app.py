"""The watchdeck App: layouts as screens, the hub, themes, keys and palette commands."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from watchdeck.core.alertlinks import best_layout, variables_for
from watchdeck.core.alerts import Alert, LabelMatcher, Silence
from watchdeck.core.config.files import LoadedConfig
from watchdeck.core.errors import SourceError
from watchdeck.core.feeds import AlertList, FeedKey
from watchdeck.core.keys import KEYS, display_keys
from watchdeck.core.layouts import CatalogChanges, LayoutCatalog
from watchdeck.core.logs.streams import LogStreams
from watchdeck.core.paths import shipped_themes_dir, user_themes_dir
from watchdeck.core.safe import sanitize
from watchdeck.core.sources import build_sources
from watchdeck.core.sources.base import Source
from watchdeck.core.templating import VariableState
from watchdeck.core.timewin import TimeWindow
from watchdeck.ui.bindings import bindings_for
from watchdeck.ui.context import DashboardContext
from watchdeck.ui.hub import FeedUpdated, HealthChanged, Hub
from watchdeck.ui.panels.alerts import AlertAction, severity_counts
from watchdeck.ui.panels.base import LOADING, NO_DATA, Panel
from watchdeck.ui.panels.logs import TraceRequested
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
        self.log_streams = LogStreams(self.sources)
        self.window = TimeWindow()
        self.variable_states: dict[str, VariableState] = {}
        self.layout_problem: str | None = None
        self.startup_messages: list[tuple[str, str]] = []
        self._dashboards: dict[str, DashboardScreen] = {}
        self._generation = 0
        self._initial_layout = layout
        self._snapshot_started = 0.0
        self.current_alerts: list[Alert] = []
        self._alerts_key: FeedKey | None = None
        self._alerts_seen = False  # what fires at start is the baseline, not news
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
            listen = getattr(source, "listen", None)
            start = getattr(source, "start", None)
            if listen is not None:  # the OTLP receiver: spans arrive before anyone looks
                self.run_worker(self._listen(name, listen), group="sources",
                                exit_on_error=False, description=f"listen {name}")
            elif start is not None:  # sources with work of their own (the embedded engine)
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
        self._watch_alerts()
        if self.poll_layouts:
            self.set_interval(LAYOUT_POLL_SECONDS, self.reload_layouts)
        if self.snapshot_request is not None:
            self._snapshot_started = time.monotonic()
            self.set_interval(0.2, self._snapshot_check)

    async def _listen(self, name: str, listen: Callable[[], Awaitable[str | None]]) -> None:
        problem = await listen()
        if problem is not None:
            self.notify(f"{name}: {problem}", severity="error", markup=False, timeout=15)

    async def on_unmount(self) -> None:
        await self.log_streams.aclose()
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

    # ------------------------------------------------------------------ alerts

    ALERTS_REFRESH = 10.0

    def _watch_alerts(self) -> None:
        """Follow the alerts role on every layout: status bar counts, panel marks, bell."""
        source = self.config.resolve_source("alerts")
        if source is None or source not in self.sources:
            return
        self._alerts_key = FeedKey(source=source, expr="", kind="alerts", range=0.0, step=0.0)
        self.hub.subscribe(self, self._alerts_key, self.ALERTS_REFRESH)

    def wants_data(self) -> bool:
        return True  # the app's own alerts feed runs whatever the layout shows

    def on_feed_updated(self, message: FeedUpdated) -> None:
        snapshot = message.snapshot
        if snapshot.key != self._alerts_key or not isinstance(snapshot.result, AlertList):
            return
        previous = {alert.key for alert in self.current_alerts if alert.state == "firing"}
        self.current_alerts = list(snapshot.result.alerts)
        if self._alerts_seen:
            self._notify_new(previous)
        self._alerts_seen = True
        dashboard = self.dashboard
        if dashboard is not None and dashboard.is_mounted:
            dashboard.mark_panels(self.current_alerts)
            dashboard.refresh_status()

    def alert_counts(self) -> list[tuple[str, int]]:
        return severity_counts(self.current_alerts)

    def _notify_new(self, previous: set[tuple[tuple[str, str], ...]]) -> None:
        notify = self.config.config.notify
        if not notify.bell and not notify.command:
            return
        new = [alert for alert in self.current_alerts
               if alert.state == "firing" and alert.key not in previous
               and alert.severity in notify.severities]
        if not new:
            return
        if notify.bell:
            self.bell()  # once, however many started together
        if notify.command:
            for alert in new[:5]:  # a storm runs the command a few times, not hundreds
                summary = alert.annotations.get("summary") or alert.name
                # No shell: the text is an argument, with control characters neutralised.
                text = sanitize(f"{alert.name}: {summary}", 300)
                self._run_notify([*notify.command, text])

    @work(group="notify", exit_on_error=False)
    async def _run_notify(self, command: list[str]) -> None:
        import asyncio

        try:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await asyncio.wait_for(process.wait(), timeout=10)
        except (OSError, asyncio.TimeoutError) as error:
            self.notify(f"notify command failed: {error}", severity="warning", markup=False)

    def on_trace_requested(self, message: TraceRequested) -> None:
        """``enter`` on a log line with a trace id."""
        self.open_trace(message.trace_id)

    def open_trace(self, trace_id: str, source: str | None = None) -> None:
        """The waterfall of one trace, from ``source`` (default: the traces role)."""
        from watchdeck.ui.screens.waterfall import WaterfallScreen

        source = source or self.config.resolve_source("traces")
        if source is None:
            self.notify(f"trace {sanitize(trace_id, 64)}: no traces source is configured "
                        "(Tempo, Jaeger or the OTLP receiver)", severity="warning",
                        markup=False, timeout=6)
            return
        self.push_screen(WaterfallScreen(trace_id, source))

    def open_trace_logs(self, trace_id: str, since: float | None = None) -> None:
        """``l`` on a trace: the logs sources of this layout, narrowed to the trace id
        (history from ``since``, epoch seconds, where a source keeps it)."""
        from watchdeck.core.logs.filter import quote_term
        from watchdeck.ui.drill import logs_screen, logs_source

        sources, query = logs_source(self)
        if any(self.config.resolve_source(name) is None for name in sources):
            self.notify("no logs source is configured (Loki, a file, a command, a "
                        "websocket or the OTLP receiver)", severity="warning", timeout=6)
            return
        screen = logs_screen(self, title=f"Logs of trace {sanitize(trace_id, 64)}",
                             sources=sources, query=query, contains=trace_id,
                             filter_text=quote_term(trace_id), since=since)
        if screen is not None:
            self.push_screen(screen)

    def _focused_panel(self) -> Panel | None:
        dashboard = self.dashboard
        if dashboard is None or self.screen is not dashboard:
            return None
        focused = self.focused
        while focused is not None and not isinstance(focused, Panel):
            focused = focused.parent  # type: ignore[assignment]
        return focused

    def action_panel_traces(self) -> None:
        """``t``: the traces behind the focused panel's window."""
        from watchdeck.ui.drill import trace_request
        from watchdeck.ui.screens.traces import TraceListScreen

        panel = self._focused_panel()
        if panel is None:
            self.notify("focus a panel first (tab, arrows)", timeout=3)
            return
        self.push_screen(TraceListScreen(trace_request(self, panel)))

    def action_panel_logs(self) -> None:
        """``L``: the logs of the focused panel (its drill, else the layout's logs)."""
        from watchdeck.ui.drill import logs_screen, logs_source

        panel = self._focused_panel()
        sources, query = logs_source(self, panel)
        if any(self.config.resolve_source(name) is None for name in sources):
            self.notify("no logs source is configured", severity="warning", timeout=6)
            return
        title = (panel.spec.title if panel is not None else "") or "Logs"
        window = self.window
        end = window.end if window.end is not None else self.clock()
        screen = logs_screen(self, title=f"Logs · {title}", sources=sources, query=query,
                             since=end - window.range)
        if screen is not None:
            self.push_screen(screen)

    def on_alert_action(self, message: AlertAction) -> None:
        if message.action == "open":
            from watchdeck.ui.screens.alert_detail import AlertDetailScreen

            self.push_screen(AlertDetailScreen(message.alert, self.window))
        elif message.action == "silence":
            self.start_silence(message.alert)

    def alertmanager_name(self) -> str | None:
        """The Alertmanager that holds silences: the alerts role's, else the first one."""
        role = self.config.resolve_source("alerts")
        if role and getattr(self.sources.get(role), "type", "") == "alertmanager":
            return role
        return next((name for name, source in self.sources.items()
                     if getattr(source, "type", "") == "alertmanager"), None)

    def _author(self) -> str:
        import getpass

        if self.config.config.author:
            return self.config.config.author
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return ""

    def start_silence(self, alert: Alert | None) -> None:
        from watchdeck.ui.screens.silence import SilenceModal

        if self.alertmanager_name() is None:
            self.notify("no Alertmanager is configured: silences live there "
                        "(add one to the config, or --alertmanager URL)", severity="error",
                        markup=False, timeout=8)
            return
        matchers = [LabelMatcher(k, v) for k, v in sorted(alert.labels.items())] if alert else []
        self.push_screen(
            SilenceModal(matchers, self.current_alerts, self._author(), clock=self.clock),
            self._send_silence,
        )

    def extend_silence(self, silence: Silence) -> None:
        from watchdeck.ui.screens.silence import SilenceModal

        self.push_screen(
            SilenceModal(list(silence.matchers), self.current_alerts, self._author(),
                         title="Extend silence", duration="2h", comment=silence.comment,
                         silence_id=silence.id, starts_at=silence.starts_at,
                         clock=self.clock),
            self._send_silence,
        )

    def _send_silence(self, request: object) -> None:
        if request is not None:
            self._write_silence(request)

    @work(group="silence-write", exit_on_error=False)
    async def _write_silence(self, request) -> None:  # type: ignore[no-untyped-def]
        name = self.alertmanager_name()
        source = self.sources.get(name or "")
        if source is None:
            return
        try:
            silence_id = await source.create_silence(  # type: ignore[attr-defined]
                list(request.matchers), request.starts_at, request.ends_at,
                request.created_by, request.comment, request.silence_id)
        except SourceError as error:
            self.notify(f"silence not {'extended' if request.silence_id else 'created'}: "
                        f"{error}", severity="error", markup=False, timeout=12)
            return
        verb = "extended" if request.silence_id else "created"
        self.notify(f"silence {verb}: {silence_id}", markup=False, timeout=6)
        self.hub.refresh_now()

    def expire_silence(self, silence: Silence) -> None:
        from watchdeck.ui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self._expire(silence.id)

        detail = ", ".join(str(m) for m in silence.matchers)
        self.push_screen(ConfirmScreen(f"Expire silence {silence.id[:8]}?",
                                       sanitize(detail, 300)), answered)

    @work(group="silence-write", exit_on_error=False)
    async def _expire(self, silence_id: str) -> None:
        source = self.sources.get(self.alertmanager_name() or "")
        if source is None:
            return
        try:
            await source.expire_silence(silence_id)  # type: ignore[attr-defined]
        except SourceError as error:
            self.notify(f"silence not expired: {error}", severity="error", markup=False,
                        timeout=12)
            return
        self.notify(f"silence {silence_id[:8]} expired", markup=False, timeout=6)
        self.hub.refresh_now()

    def action_silences(self) -> None:
        from watchdeck.ui.screens.silences import SilencesScreen

        name = self.alertmanager_name()
        if name is None:
            self.notify("no Alertmanager is configured (--alertmanager URL)", severity="error")
            return
        self.push_screen(SilencesScreen(name))

    def jump_to_alert(self, alert: Alert) -> None:
        """To the layout the alert names (or the best match), narrowed to its labels."""
        name = best_layout(((e.name, e.layout) for e in self.catalog.ordered()), alert)
        if name is None:
            self.notify(f"no layout is about {alert.name}", severity="warning", markup=False)
            return
        self.variable_states.update(variables_for(self.catalog.entries[name].layout, alert))
        self.show_layout(name)
        dashboard = self._dashboards.get(name)
        if dashboard is not None and dashboard.is_mounted:
            dashboard.sync_from_app()

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

