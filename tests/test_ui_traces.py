"""Drilling from a panel to its traces, a trace's waterfall and its logs, on scripted
sources (the trace backends and the OTLP receiver have their own tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual.widgets import DataTable

from tests.support.apps import type_in_one_burst, wait_until
from tests.support.fakes import Clock, SyntheticSource
from tests.support.logs import ScriptedLogSource, record
from tests.support.traces import ScriptedTraceSource, llm_trace
from watchdeck.core.config.files import LoadedConfig
from watchdeck.core.config.models import Config
from watchdeck.core.config.types import convert
from watchdeck.core.layouts import LayoutCatalog
from watchdeck.core.logs.model import Level
from watchdeck.core.model import Exemplar
from watchdeck.core.otlp.spans import Span
from watchdeck.ui.app import WatchdeckApp
from watchdeck.ui.drill import LogsScreen
from watchdeck.ui.panels.base import Panel
from watchdeck.ui.panels.logs import LogsPanel
from watchdeck.ui.screens.dashboard import DashboardScreen
from watchdeck.ui.screens.traces import TraceListScreen
from watchdeck.ui.screens.waterfall import WaterfallScreen
from watchdeck.ui.snapshot import export_text

LAYOUT = """name: drill
key: "1"
panels:
  - id: latency
    title: Latency
    type: timeseries
    width: 6
    height: 10
    unit: s
    queries: [{expr: 'histogram_quantile(0.99, sum by (le) (rate(latency_seconds_bucket[5m])))'}]
  - id: plain
    title: Plain
    type: timeseries
    width: 6
    height: 10
    queries: [{expr: 'up'}]
    drill:
      traces: {source: traces, query: '{ resource.service.name = "vllm" && duration > 1s }'}
  - {id: logs, title: App logs, type: logs, source: app, width: 12, height: 8}
"""

SLOW = "0" * 28 + "0003"
FAST = "0" * 28 + "0001"
FAILED = "0" * 28 + "0002"
LOST = "0" * 28 + "00ff"   # an exemplar whose trace the backend does not have


@dataclass
class ExemplarSource(SyntheticSource):
    exemplars: list[Exemplar] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    async def query_exemplars(self, expr: str, start: float, end: float) -> list[Exemplar]:
        self.asked.append(expr)
        return list(self.exemplars) if "latency_seconds" in expr else []


def traces_app(tmp_path: Path, *, exemplars: bool = True, traces: bool = True
               ) -> tuple[WatchdeckApp, ExemplarSource, ScriptedTraceSource, ScriptedLogSource]:
    directory = tmp_path / "layouts"
    directory.mkdir(parents=True)
    (directory / "drill.yaml").write_text(LAYOUT)
    sources_config: dict[str, object] = {
        "prom": {"type": "prometheus", "url": "http://127.0.0.1:9"},
        "app": {"type": "file", "path": "/nonexistent/app.log"},
    }
    if traces:
        sources_config["tempo"] = {"type": "tempo", "url": "http://127.0.0.1:9"}
    loaded = LoadedConfig(convert(Config, {"sources": sources_config}), base_dir=directory)
    catalog = LayoutCatalog([directory], loaded.known_source_names())
    catalog.load()
    assert not catalog.errors, catalog.errors
    metrics = ExemplarSource()
    if exemplars:
        metrics.exemplars = [
            Exemplar({"le": "2"}, {"trace_id": FAST}, 0.9, 1_700_000_000.0, FAST),
            Exemplar({"le": "5"}, {"trace_id": SLOW}, 2.5, 1_700_000_001.0, SLOW),
            Exemplar({"le": "5"}, {"trace_id": FAILED}, 1.5, 1_700_000_002.0, FAILED),
            Exemplar({"le": "+Inf"}, {"trace_id": LOST}, 9.0, 1_700_000_003.0, LOST),
        ]
    tracer = ScriptedTraceSource(name="tempo")
    tracer.add(llm_trace(FAST, 900))
    tracer.add(llm_trace(FAILED, 1500, error=True))
    tracer.add(llm_trace(SLOW, 2500, model="mistral-7b"))
    logs = ScriptedLogSource("app", [
        record(1, "unrelated line", seq=1),
        record(2, "request failed", Level.ERROR, seq=2, trace_id=FAILED),
        record(3, f"retrying request trace={FAILED}", Level.WARN, seq=3),
        record(4, "other request", seq=4, trace_id=FAST),
    ])
    sources: dict[str, object] = {"prom": metrics, "app": logs}
    if traces:
        sources["tempo"] = tracer
    app = WatchdeckApp(loaded, catalog, sources=sources, clock=Clock(),  # type: ignore[arg-type]
                       layout="drill")
    return app, metrics, tracer, logs


def text(app: WatchdeckApp) -> str:
    return export_text(app)


async def focus_panel(pilot, app: WatchdeckApp, panel_id: str) -> Panel:  # type: ignore[no-untyped-def]
    panel = app.screen.query_one(f"#panel-{panel_id}", Panel)
    panel.focus()
    await pilot.pause()
    return panel


async def test_t_lists_exemplar_traces_slowest_first_and_enter_opens_the_waterfall(
        tmp_path: Path) -> None:
    app, metrics, tracer, _ = traces_app(tmp_path)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(140, 40)) as pilot:
        await focus_panel(pilot, app, "latency")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TraceListScreen))
        screen = app.screen
        assert isinstance(screen, TraceListScreen)
        await wait_until(pilot, lambda: "traces found" in text(app), what="summaries")
        assert metrics.asked and "latency_seconds_bucket" in metrics.asked[0]
        table = screen.query_one(DataTable)
        order = [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]
        # Slowest first; the exemplar whose trace is missing comes last, with its value.
        assert order == [SLOW, FAILED, FAST, LOST]
        assert "from exemplars" in text(app) and "not found" in text(app)
        assert "2.5s" in text(app) or "2.50s" in text(app)
        # The slowest is selected: copy its id, open it.
        await pilot.press("y")
        assert copied == [SLOW]
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WaterfallScreen))
        await wait_until(pilot, lambda: "5 spans" in text(app), what="waterfall")
        shown = text(app)
        for name in ("POST /v1/chat/completions", "chat mistral-7b", "llm_request", "prefill",
                     "decode"):
            assert name in shown
        assert "llm-gateway" in shown and "vllm" in shown


async def test_waterfall_keys_errors_detail_folding_search_and_logs(tmp_path: Path) -> None:
    app, _, _, logs = traces_app(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        app.open_trace(FAILED, source="tempo")
        await wait_until(pilot, lambda: isinstance(app.screen, WaterfallScreen))
        screen = app.screen
        assert isinstance(screen, WaterfallScreen)
        await wait_until(pilot, lambda: screen.trace_tree is not None, what="tree")
        tree = screen.trace_tree
        assert tree is not None and "1 errors" in text(app)
        # e: the failed decode span.
        await pilot.press("e")
        assert tree.spans[screen.rows_shown[screen.cursor]].name == "decode"
        # enter: the detail pane, gen_ai attributes first, status message.
        await pilot.press("g", "down", "down")
        await pilot.press("enter")
        await pilot.pause(0.1)
        detail = text(app)
        assert "gen_ai.request.model" in detail and "llama-3-8b" in detail
        assert detail.index("gen_ai.usage.output_tokens") < detail.index("zz.other")
        await pilot.press("e", "enter", "enter")
        await pilot.pause(0.1)
        assert "CUDA error: out of memory" in text(app)
        # Folding: collapse the llm_request subtree and expand it again.
        await pilot.press("g", "down", "down")
        await pilot.press("left")
        assert len(screen.rows_shown) == 3
        await pilot.press("right")
        assert len(screen.rows_shown) == 5
        # Search.
        await pilot.press("slash", *"prefill", "enter")
        await pilot.pause(0.1)
        assert tree.spans[screen.rows_shown[screen.cursor]].name == "prefill"
        position = screen.cursor
        # l: the logs of this trace only.
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LogsScreen))
        await wait_until(pilot, lambda: "request failed" in text(app), what="trace logs")
        shown = text(app)
        assert "retrying request" in shown  # the id in the text counts too
        assert "unrelated line" not in shown and "other request" not in shown
        assert logs.queries[-1].contains == FAILED
        # esc walks back, each level as it was.
        await pilot.press("escape")
        assert isinstance(app.screen, WaterfallScreen) and app.screen.cursor == position
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_enter_on_a_log_line_opens_its_trace(tmp_path: Path) -> None:
    app, _, tracer, _ = traces_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.screen.query_one(LogsPanel)
        await wait_until(pilot, lambda: len(panel.shown) == 4, what="log lines")
        panel.focus()
        await pilot.press("g", "e")  # the error line, which names FAILED
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WaterfallScreen))
        await wait_until(pilot, lambda: tracer.fetched[-1:] == [FAILED], what="fetched")


async def test_without_exemplars_the_drill_query_searches(tmp_path: Path) -> None:
    app, _, tracer, _ = traces_app(tmp_path, exemplars=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await focus_panel(pilot, app, "plain")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TraceListScreen))
        await wait_until(pilot, lambda: "slowest first" in text(app), what="search")
        query = tracer.searches[-1]
        assert query.service == "vllm" and query.min_duration_ns == 10**9 + 1
        assert query.query and query.query.startswith("{")
        assert query.start is not None and query.end is not None
        table = app.screen.query_one(DataTable)
        assert [str(table.get_row_at(i)[-1]) for i in range(table.row_count)] == [SLOW, FAILED]
        # Filter: errors only.
        await pilot.press("slash", *"status=error", "enter")
        await wait_until(pilot, lambda: table.row_count == 1, what="filtered")
        assert tracer.searches[-1].status == "error"
        # A bad filter is refused in the box.
        await pilot.press("slash")
        box = app.screen.query_one("#traces-filter")
        box.value = ""  # type: ignore[attr-defined]
        await pilot.press(*"nonsense", "enter")
        await pilot.pause(0.1)
        assert box.border_title  # type: ignore[attr-defined]


async def test_no_traces_source_and_missing_traces_are_said(tmp_path: Path) -> None:
    app, _, _, _ = traces_app(tmp_path, exemplars=False, traces=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await focus_panel(pilot, app, "plain")
        await pilot.press("t")
        await wait_until(pilot, lambda: "no traces source" in text(app), what="message")
    app, _, _, _ = traces_app(tmp_path / "second")
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_trace(LOST, source="tempo")
        await wait_until(pilot, lambda: "not found" in text(app), what="not found")
        assert isinstance(app.screen, WaterfallScreen)


async def test_broken_and_hostile_traces_draw(tmp_path: Path) -> None:
    app, _, tracer, _ = traces_app(tmp_path)
    trace_id = "0" * 28 + "0bad"
    spans = llm_trace(trace_id, 1000)
    spans[2].parent_span_id = "ffffffffffffffff"          # an orphan
    spans[3].parent_span_id = spans[4].span_id             # a cycle: prefill <-> decode
    spans[4].parent_span_id = spans[3].span_id
    spans.append(Span(trace_id=trace_id, span_id=spans[1].span_id, name="\x1b[31mdup\x1b[0m "
                      "[bold]x[/bold] \u202eevil", start_ns=spans[1].start_ns,
                      end_ns=spans[1].start_ns - 5, service="evil\x07"))
    tracer.add(spans)
    async with app.run_test(size=(160, 40)) as pilot:
        app.open_trace(trace_id, source="tempo")
        await wait_until(pilot, lambda: "6 spans" in text(app), what="waterfall")
        shown = text(app)
        assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown
        assert "\\x1b[31mdup" in shown and "[bold]x[/bold]" in shown
        for mark in ("⚠", "↻", "⧉"):
            assert mark in shown


async def test_a_big_trace_opens_and_scrolls(tmp_path: Path) -> None:
    app, _, tracer, _ = traces_app(tmp_path)
    trace_id = "0" * 28 + "0b16"
    base = llm_trace(trace_id, 10_000)
    spans = base[:1]
    for index in range(1, 10_000):
        parent = spans[(index - 1) // 8]
        spans.append(Span(trace_id=trace_id, span_id=f"{index + 1:016x}", name=f"op {index}",
                          start_ns=parent.start_ns + index, end_ns=parent.end_ns - index,
                          parent_span_id=parent.span_id, service=f"svc-{index % 7}"))
    tracer.add(spans)
    async with app.run_test(size=(160, 40)) as pilot:
        app.open_trace(trace_id, source="tempo")
        await wait_until(pilot, lambda: "10,000 spans" in text(app), what="waterfall")
        screen = app.screen
        assert isinstance(screen, WaterfallScreen)
        await pilot.press("G")
        assert screen.cursor == 9_999
        assert "op " in text(app)
        await pilot.press("pageup", "pageup", "g")
        assert screen.cursor == 0


async def test_a_thousand_level_deep_trace_draws(tmp_path: Path) -> None:
    app, _, tracer, _ = traces_app(tmp_path)
    trace_id = "0" * 28 + "0dee"
    spans = [Span(trace_id=trace_id, span_id=f"{i + 1:016x}", name=f"level {i}",
                  start_ns=10**18 + i, end_ns=10**18 + 2_000_000 - i,
                  parent_span_id=f"{i:016x}" if i else None, service="deep")
             for i in range(1000)]
    tracer.add(spans)
    async with app.run_test(size=(160, 40)) as pilot:
        app.open_trace(trace_id, source="tempo")
        await wait_until(pilot, lambda: "1,000 spans" in text(app), what="waterfall")
        screen = app.screen
        assert isinstance(screen, WaterfallScreen)
        await pilot.press("G")
        assert "level 999" in text(app)
        await pilot.press("g", "left")  # fold the root: one row left
        assert len(screen.rows_shown) == 1


async def test_logs_of_a_hostile_trace_id_open_without_crashing(tmp_path: Path) -> None:
    """A trace id from a log line is untrusted: quotes, blanks, a leading - or = must be
    looked for as text, not read as filter syntax."""
    app, _, _, logs = traces_app(tmp_path)
    hostile = '-req=42 "x'
    logs.history.append(record(9, f"odd id {hostile}", seq=9))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        app.open_trace_logs(hostile)
        await wait_until(pilot, lambda: isinstance(app.screen, LogsScreen)
                         and bool(app.screen.query(LogsPanel)))
        panel = app.screen.query_one(LogsPanel)
        await wait_until(pilot, lambda: len(panel.shown) == 1, what="the one line")
        assert "odd id" in text(app)


async def test_exemplar_lists_filter_by_attribute_and_status_on_one_span(
        tmp_path: Path) -> None:
    app, _, _, _ = traces_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await focus_panel(pilot, app, "latency")
        await pilot.press("t")
        await wait_until(pilot, lambda: "traces found" in text(app), what="summaries")
        table = app.screen.query_one(DataTable)
        await pilot.press("slash", *"gen_ai.request.model=mistral-7b", "enter")
        await wait_until(pilot, lambda: table.row_count == 1, what="attribute filter")
        assert str(table.get_row_at(0)[-1]) == SLOW
        box = app.screen.query_one("#traces-filter")
        await pilot.press("slash")
        box.value = ""  # type: ignore[attr-defined]
        # The error and the model on one span: decode fails, but the model is on
        # llm_request, so nothing matches; the service and the error do.
        await pilot.press(*"status=error gen_ai.request.model=llama-3-8b", "enter")
        await wait_until(pilot, lambda: table.row_count == 0, what="no span has both")
        await pilot.press("slash")
        box.value = ""  # type: ignore[attr-defined]
        await pilot.press(*"status=error service=vllm", "enter")
        await wait_until(pilot, lambda: table.row_count == 1, what="error on vllm")
        assert str(table.get_row_at(0)[-1]) == FAILED


def test_raw_queries_merge_and_exemplar_units() -> None:
    from watchdeck.ui.screens.traces import exemplar_seconds, merge_raw

    assert merge_raw('{ resource.service.name = "vllm" }', '{ status = error }') == (
        '{ resource.service.name = "vllm" && status = error }')
    assert merge_raw(None, "{ a = 1 }") == "{ a = 1 }"
    assert merge_raw("{ a = 1 } | count() > 2", "{ b = 2 }") == (
        "({ a = 1 } | count() > 2) && ({ b = 2 })")
    assert exemplar_seconds(0.25, "vllm:e2e_request_latency_seconds_bucket", None) == 0.25
    assert exemplar_seconds(250.0, "http_request_duration_milliseconds_bucket", "s") == 0.25
    assert exemplar_seconds(250.0, "latency_ms_bucket", None) == 0.25
    assert exemplar_seconds(250.0, "tokens_bucket", "ms") == 0.25
    assert exemplar_seconds(512.0, "vllm:request_prompt_tokens_bucket", None) is None


async def test_text_typed_in_one_burst_after_slash_lands_in_the_boxes(tmp_path: Path) -> None:
    """``/`` and the text typed in the same burst: the text is the filter of the trace
    list and the search of the waterfall, not their keys (``l`` would open the logs,
    ``e`` jump to an error, ``s`` to a slow span)."""
    app, _, tracer, _ = traces_app(tmp_path, exemplars=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await focus_panel(pilot, app, "plain")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TraceListScreen))
        await wait_until(pilot, lambda: "slowest first" in text(app), what="search")
        table = app.screen.query_one(DataTable)
        type_in_one_burst(app, "slash", "status=error")
        await wait_until(pilot, lambda: table.row_count == 1, what="filtered")
        assert tracer.searches[-1].status == "error"
        app.open_trace(FAILED, source="tempo")
        await wait_until(pilot, lambda: isinstance(app.screen, WaterfallScreen))
        screen = app.screen
        assert isinstance(screen, WaterfallScreen)
        await wait_until(pilot, lambda: screen.trace_tree is not None, what="tree")
        tree = screen.trace_tree
        assert tree is not None
        type_in_one_burst(app, "slash", "prefill")
        await wait_until(pilot, lambda: bool(screen.matches), what="search")
        await pilot.pause(0.2)
        assert isinstance(app.screen, WaterfallScreen)  # not the logs of ``l``
        assert tree.spans[screen.rows_shown[screen.cursor]].name == "prefill"
