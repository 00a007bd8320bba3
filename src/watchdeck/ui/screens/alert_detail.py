"""One alert in full: labels, annotations, where it came from, and its rule's expression
plotted over the current window."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from watchdeck.core.alertlinks import alert_expr
from watchdeck.core.alerts import Alert
from watchdeck.core.durations import format_age, format_duration
from watchdeck.core.errors import SourceError
from watchdeck.core.safe import sanitize
from watchdeck.core.sources.base import MetricsSource
from watchdeck.core.timewin import TimeWindow, aligned_range, choose_step
from watchdeck.ui.charts.braille import PlotSeries
from watchdeck.ui.charts.widget import ChartData, ChartView
from watchdeck.ui.themes import colour_style, series_palette, severity_colour
from watchdeck.ui.widgets.keyhints import LiveKeyHints

if TYPE_CHECKING:
    from watchdeck.ui.app import WatchdeckApp


class AlertDetailScreen(Screen[None]):
    DEFAULT_CSS = """
    AlertDetailScreen > VerticalScroll { padding: 0 1; }
    AlertDetailScreen .heading { height: auto; margin-bottom: 1; }
    AlertDetailScreen .section { height: auto; margin-bottom: 1; }
    AlertDetailScreen #chart-box { height: 14; border: round $foreground 30%; }
    AlertDetailScreen #chart-note { height: auto; color: $foreground 60%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="alert-back"),
        Binding("s", "silence", "Silence", id="alert-detail-silence"),
        Binding("g", "jump", "Go to its layout", id="alert-jump"),
        Binding("r", "plot", "Refresh", id="alert-refresh"),
    ]

    app: WatchdeckApp

    def __init__(self, alert: Alert, window: TimeWindow) -> None:
        super().__init__()
        self.alert = alert
        self.window = window

    def compose(self) -> ComposeResult:
        alert = self.alert
        with VerticalScroll():
            yield Static(self._heading(), classes="heading")
            yield Static(self._labels(), classes="section")
            yield Static(self._annotations(), classes="section")
            yield Static(self._origin(), classes="section")
            expr = alert_expr(alert)
            if expr:
                chart = ChartView(id="chart-box")
                chart.border_title = "expression over the window"
                yield chart
                yield Static(Text(sanitize(expr, 2000)), id="chart-note")
        yield LiveKeyHints()

    def on_mount(self) -> None:
        if alert_expr(self.alert):
            self.action_plot()

    def _heading(self) -> Text:
        alert = self.alert
        colour = severity_colour(self.app, alert.severity)
        text = Text()
        text.append(sanitize(alert.name or "(no alertname)"), style=f"bold {colour}")
        text.append(f"  {alert.state}", style="bold")
        text.append(f"  severity {sanitize(alert.severity)}", style=colour)
        age = alert.age(self.app.clock())
        if age is not None:
            text.append(f"  for {format_age(age)}")
        if alert.value:
            text.append(f"  value {sanitize(alert.value)}")
        summary = alert.annotations.get("summary")
        if summary:
            text.append("\n" + sanitize(summary, 500))
        return text

    def _labels(self) -> Table:
        table = Table(title="Labels", title_justify="left", show_header=False, box=None,
                      padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, value in sorted(self.alert.labels.items()):
            table.add_row(Text(sanitize(key)), Text(sanitize(value, 500)))
        return table

    def _annotations(self) -> Table:
        table = Table(title="Annotations", title_justify="left", show_header=False, box=None,
                      padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        annotations = dict(self.alert.annotations)
        for key in ("runbook_url", "summary", "description"):
            if key in annotations:
                value = annotations.pop(key)
                style = "underline" if key == "runbook_url" else ""
                table.add_row(Text(key), Text(sanitize(value, 2000), style=style))
        for key, value in sorted(annotations.items()):
            table.add_row(Text(sanitize(key)), Text(sanitize(value, 2000)))
        if not self.alert.annotations:
            table.add_row(Text("–"), Text("none"))
        return table

    def _origin(self) -> Table:
        alert = self.alert
        table = Table(title="Where from", title_justify="left", show_header=False, box=None,
                      padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("source", Text(f"{sanitize(alert.source)} ({alert.origin})"))
        if alert.generator_url:
            table.add_row("generator", Text(sanitize(alert.generator_url, 500)))
        if alert.rule_for is not None:
            table.add_row("for", Text(format_duration(alert.rule_for)))
        if alert.silenced_by:
            table.add_row("silenced by", Text(", ".join(sanitize(s) for s in alert.silenced_by)))
        if alert.inhibited_by:
            table.add_row("inhibited by",
                          Text(", ".join(sanitize(s) for s in alert.inhibited_by)))
        if alert.receivers:
            table.add_row("receivers", Text(", ".join(sanitize(r) for r in alert.receivers)))
        if alert.fingerprint:
            table.add_row("fingerprint", Text(sanitize(alert.fingerprint)))
        return table

    def _metrics_source(self) -> MetricsSource | None:
        app = self.app
        name = self.alert.source if self.alert.origin != "alertmanager" else None
        source = app.sources.get(name or "") or app.sources.get(
            app.config.resolve_source("metrics") or "")
        return source if isinstance(source, MetricsSource) else None

    @work(exclusive=True, group="alert-plot", exit_on_error=False)
    async def action_plot(self) -> None:
        expr = alert_expr(self.alert)
        note = self.query_one("#chart-note", Static) if expr else None
        source = self._metrics_source()
        if not expr or note is None:
            return
        if source is None:
            note.update(Text(f"{sanitize(expr, 2000)}\nno metrics source to plot it with"))
            return
        chart = self.query_one(ChartView)
        start, end = self.window.bounds(self.app.clock())
        step = choose_step(end - start, max(chart.size.width - 8, 20), source.scrape_interval)
        q_start, q_end = aligned_range(start, end, step, min(step, source.scrape_interval))
        try:
            result = await source.query_range(expr, q_start, q_end, step)
        except SourceError as error:
            note.update(Text(f"{sanitize(expr, 2000)}\n✖ {error}"))
            return
        palette = series_palette(self.app)
        series = [PlotSeries(s.timestamps, s.values, colour_style(palette[i % len(palette)]))
                  for i, s in enumerate(result.series[:20])]
        chart.show(ChartData(series, start, end))
        note.update(Text(sanitize(expr, 2000) + f"\n{len(result.series)} series"))

    def action_silence(self) -> None:
        self.app.start_silence(self.alert)

    def action_jump(self) -> None:
        self.app.jump_to_alert(self.alert)
