"""The logs panel in the console: follow, pause, filter, find, errors, copy, trace, and
untrusted text, on scripted log sources (the sources themselves have their own tests)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.support.apps import post_keys, type_in_one_burst, typed, wait_until
from tests.support.fakes import Clock, SyntheticSource
from tests.support.logs import ScriptedLogSource, record
from watchdeck.core.config.files import LoadedConfig
from watchdeck.core.config.models import Config
from watchdeck.core.config.types import convert
from watchdeck.core.layouts import LayoutCatalog
from watchdeck.core.logs.model import Level, LogGap
from watchdeck.ui.app import WatchdeckApp
from watchdeck.ui.panels.base import ERROR
from watchdeck.ui.panels.logs import LogsPanel
from watchdeck.ui.snapshot import export_text

LAYOUT = """name: logs
key: "1"
panels:
  - {id: logs, title: App logs, type: logs, source: app, width: 12, height: 20, backlog: 500}
"""
MERGED = """name: merged
key: "2"
panels:
  - {id: merged, type: logs, sources: [app, other], width: 12, height: 20}
"""
MISSING = """name: missing
key: "3"
panels:
  - {id: nowhere, type: logs, source: metrics-only, width: 12, height: 10}
"""

HISTORY = [
    record(1, "server started", source="app", seq=1, replica="vllm-0"),
    record(2, "request finished", source="app", seq=2, trace_id="ab" * 16, replica="vllm-0"),
    record(3, "slow request", Level.WARN, source="app", seq=3, replica="vllm-1"),
    record(4, "CUDA error: out of memory", Level.ERROR, source="app", seq=4,
           trace_id="cd" * 16, replica="vllm-1"),
    record(5, "request finished", source="app", seq=5, replica="vllm-0"),
    record(6, "NCCL timeout", Level.FATAL, source="app", seq=6, replica="vllm-2"),
    record(7, "request finished", source="app", seq=7, replica="vllm-2"),
]


def logs_app(tmp_path: Path, *sources: ScriptedLogSource, layout: str = "logs",
             size: tuple[int, int] = (120, 30)) -> WatchdeckApp:
    directory = tmp_path / "layouts"
    directory.mkdir(exist_ok=True)
    for name, text in (("logs", LAYOUT), ("merged", MERGED), ("missing", MISSING)):
        (directory / f"{name}.yaml").write_text(text)
    config = convert(Config, {"sources": {
        "prom": {"type": "prometheus", "url": "http://127.0.0.1:9"},
        **{name: {"type": "file", "path": f"/nonexistent/{name}.log"}
           for name in ("app", "other")},
        "metrics-only": {"type": "prometheus", "url": "http://127.0.0.1:9"},
    }})
    loaded = LoadedConfig(config, base_dir=directory)
    catalog = LayoutCatalog([directory], loaded.known_source_names())
    catalog.load()
    assert not catalog.errors, catalog.errors
    all_sources: dict[str, object] = {"prom": SyntheticSource(),
                                      "metrics-only": SyntheticSource()}
    all_sources.update({"app": ScriptedLogSource("app"), "other": ScriptedLogSource("other")})
    all_sources.update({s.name: s for s in sources})
    return WatchdeckApp(loaded, catalog, sources=all_sources, clock=Clock(),  # type: ignore[arg-type]
                        layout=layout)


def panel_of(app: WatchdeckApp) -> LogsPanel:
    return app.screen.query_one(LogsPanel)


def screen(app: WatchdeckApp) -> str:
    return export_text(app)


@contextlib.asynccontextmanager
async def focused_logs(tmp_path: Path) -> AsyncIterator[
        tuple[WatchdeckApp, Pilot[object], LogsPanel, ScriptedLogSource]]:
    """The logs layout on HISTORY, its panel focused."""
    source = ScriptedLogSource("app", HISTORY)
    app = logs_app(tmp_path, source)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "NCCL timeout" in screen(app))
        panel = panel_of(app)
        panel.focus()
        await pilot.pause()
        yield app, pilot, panel, source


async def test_history_then_live_lines_follow_at_the_bottom(tmp_path: Path) -> None:
    source = ScriptedLogSource("app", HISTORY)
    app = logs_app(tmp_path, source)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "NCCL timeout" in screen(app), what="history")
        text = screen(app)
        assert "App logs" in text
        assert "ERR ◆ CUDA error: out of memory" in text  # ◆: the line names a trace
        assert "FTL NCCL timeout" in text
        assert "WRN slow request" in text
        assert "replica=vllm-1" in text  # fields shown as key=value
        assert source.queries[0].backlog == 500
        source.push([record(8 + i, f"live line {i}", source="app", seq=8 + i)
                     for i in range(60)])
        await wait_until(pilot, lambda: "live line 59" in screen(app), what="live lines")
        # Following: the newest line is on screen, the oldest scrolled away.
        assert "server started" not in screen(app)
        panel = panel_of(app)
        assert panel.follow and len(panel.shown) == 67


async def test_moving_up_pauses_and_counts_new_lines_then_g_follows(tmp_path: Path) -> None:
    async with focused_logs(tmp_path) as (app, pilot, panel, source):
        await pilot.press("up", "up")
        assert not panel.follow and panel.cursor == len(HISTORY) - 3
        source.push([record(100 + i, f"meanwhile {i}", seq=100 + i) for i in range(40)])
        await wait_until(pilot, lambda: panel.pending == 40, what="pending count")
        assert "40 new" in (panel.border_subtitle or "") + str(panel.border_title or "")
        assert "meanwhile 39" not in screen(app)  # the view stays put
        await pilot.press("G")
        await wait_until(pilot, lambda: "meanwhile 39" in screen(app), what="follow again")
        assert panel.follow and panel.pending == 0


async def test_filter_narrows_lines_and_a_bad_filter_is_refused(tmp_path: Path) -> None:
    async with focused_logs(tmp_path) as (app, pilot, panel, source):
        await pilot.press("slash")
        await pilot.press(*"level>=error")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(panel.shown) == 2, what="filtered")
        text = screen(app)
        assert "CUDA error" in text and "NCCL timeout" in text
        assert "slow request" not in text and "server started" not in text
        # New lines go through the same filter.
        source.push([record(20, "fine", seq=20), record(21, "disk failed", Level.ERROR, seq=21)])
        await wait_until(pilot, lambda: "disk failed" in screen(app), what="filtered live")
        assert len(panel.shown) == 3
        # Negation and fields.
        await pilot.press("slash")
        box = panel.query_one("#logs-filter")
        box.value = ""  # type: ignore[attr-defined]
        await pilot.press(*"-finished replica=vllm-0")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(panel.shown) == 1, what="field filter")
        assert "server started" in screen(app)
        # A bad regex is refused in the box; the last good filter stays.
        await pilot.press("slash")
        box.value = ""  # type: ignore[attr-defined]
        await pilot.press(*"/[unclosed/")
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert box.border_title  # type: ignore[attr-defined]
        assert len(panel.shown) == 1


async def test_find_highlights_and_n_jumps_errors_jump_with_e(tmp_path: Path) -> None:
    async with focused_logs(tmp_path) as (app, pilot, panel, source):
        await pilot.press("f", *"finished", "enter")
        await pilot.pause(0.1)
        # The last match above the bottom first, then n/N walk the matches.
        assert panel.cursor == 6
        await pilot.press("N")
        assert panel.cursor == 4
        await pilot.press("N")
        assert panel.cursor == 1
        await pilot.press("n")
        assert panel.cursor == 4
        await pilot.press("g")
        assert panel.cursor == 0
        await pilot.press("e")
        assert panel.cursor == 3  # CUDA error
        await pilot.press("e")
        assert panel.cursor == 5  # fatal counts as an error
        await pilot.press("E")
        assert panel.cursor == 3


async def test_y_copies_the_line_and_enter_opens_its_trace(tmp_path: Path) -> None:
    source = ScriptedLogSource("app", HISTORY)
    app = logs_app(tmp_path, source)
    copied: list[str] = []
    opened: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    app.open_trace = lambda trace_id, **_: opened.append(trace_id)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "NCCL timeout" in screen(app))
        panel = panel_of(app)
        panel.focus()
        await pilot.press("g", "e")  # the CUDA error, which names a trace
        await pilot.press("y")
        assert copied and "CUDA error: out of memory" in copied[-1]
        await pilot.press("enter")
        await wait_until(pilot, lambda: opened == ["cd" * 16], what="trace opened")
        await pilot.press("g")
        await pilot.press("enter")  # no trace on this line: a message, nothing opened
        await pilot.pause(0.1)
        assert opened == ["cd" * 16]


HOSTILE = [
    "\x1b[31mred\x1b[0m and \x1b]52;c;ZXZpbA==\x07 and \x1bP1$qm\x1b\\ dcs",
    "[bold red]markup[/] [link=http://evil]click[/link]",
    "bidi \u202egnp.exe\u202c and nul \x00 bell \x07 tab\there",
    "c1 csi \x9b2J osc8 \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ apc \x1b_x\x1b\\",
    "overwrite\rFAKE backspace\x08\x08 isolate \u2067x\u2069 title \x1b]0;pwned\x07",
    "invalid \\xff\\xfe bytes shown",
]
# Characters that must never reach the terminal raw from a log line.
RAW = ("\x1b", "\x07", "\x00", "\x9b", "\r", "\x08", "\u202e", "\u2067")


async def test_untrusted_text_is_shown_inert(tmp_path: Path) -> None:
    source = ScriptedLogSource("app", [record(i, text, Level.ERROR, seq=i)
                                       for i, text in enumerate(HOSTILE)]
                               + [record(10, "x" * 20_000, seq=10)])
    app = logs_app(tmp_path, source)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: "bytes shown" in screen(app))
        text = screen(app)
        assert not any(raw in text for raw in RAW)
        assert "\\x1b[31mred" in text and "\\x1b]52;c;ZXZpbA==" in text
        assert "\\x9b2J" in text and "\\x1b]8;;http://evil" in text
        assert "[bold red]markup[/]" in text  # markup shown literally, not applied
        assert "\\u202egnp.exe" in text
        # The strips on screen carry no control characters either.
        for strip in app.screen.query_one(LogsPanel).lines_widget._cache.values():
            for line in strip:
                assert not any(raw in line.text for raw in RAW)
        panel = panel_of(app)
        panel.focus()
        await pilot.press("w")  # wrapping a 20,000-character line stays bounded
        await pilot.pause(0.2)
        assert panel.wrap


async def test_two_sources_merge_in_time_order(tmp_path: Path) -> None:
    app_source = ScriptedLogSource("app", [record(i * 2, f"app {i}", source="app", seq=i)
                                           for i in range(5)])
    other = ScriptedLogSource("other", [record(i * 2 + 1, f"other {i}", source="other",
                                               seq=i) for i in range(5)])
    app = logs_app(tmp_path, app_source, other, layout="merged")
    async with app.run_test(size=(120, 30)) as pilot:
        panel = panel_of(app)
        await wait_until(pilot, lambda: len(panel.shown) == 10, what="both sources")
        buffer = panel.buffer
        assert buffer is not None
        messages = [buffer[i].message for i in panel.shown]  # type: ignore[union-attr]
        assert messages == [f"{name} {i}" for i in range(5) for name in ("app", "other")]
        assert "other other 0" in screen(app)  # several sources: each line names its own


async def test_a_failing_source_and_a_gap_are_visible(tmp_path: Path) -> None:
    source = ScriptedLogSource("app", HISTORY[:2])
    app = logs_app(tmp_path, source)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "request finished" in screen(app))
        source.push([LogGap(time_ns=HISTORY[1].time_ns + 1, reason="Loki dropped lines",
                            count=42, source="app", seq=3)])
        await wait_until(pilot, lambda: "42 lines: Loki dropped lines" in screen(app),
                         what="gap marker")
        source.state(False, "connection refused \x1b[31m")
        panel = panel_of(app)
        await wait_until(pilot, lambda: panel.state == ERROR, what="error state")
        # (The state is set before the next frame draws it.)
        await wait_until(pilot, lambda: "connection refused \\x1b[31m" in screen(app),
                         what="the reason, escape shown inert")
        assert "request finished" in screen(app)  # the lines stay


async def test_a_panel_naming_a_metrics_source_says_so(tmp_path: Path) -> None:
    app = logs_app(tmp_path, ScriptedLogSource("app"), layout="missing")
    async with app.run_test(size=(120, 30)) as pilot:
        panel = panel_of(app)
        await wait_until(pilot, lambda: panel.state == ERROR, what="error state")
        await wait_until(pilot, lambda: "not a log source" in screen(app), what="the reason")


async def test_tails_outlive_a_layout_switch_and_stop_with_the_app(tmp_path: Path) -> None:
    """Switching layouts keeps the tail (nothing is lost meanwhile); quitting stops it."""
    source = ScriptedLogSource("app", HISTORY)
    app = logs_app(tmp_path, source)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: source.tails_running == 1, what="tail started")
        await pilot.press("3")
        await pilot.pause(0.2)
        source.push([record(50, "while away", Level.ERROR, seq=50)])
        await pilot.press("1")
        await wait_until(pilot, lambda: "while away" in screen(app), what="line kept")
        assert source.tails_running == 1
    assert source.tails_running == 0


@pytest.mark.parametrize("lines", [100_000])
async def test_a_full_buffer_stays_bounded_and_responsive(tmp_path: Path, lines: int) -> None:
    source = ScriptedLogSource("app")
    app = logs_app(tmp_path, source)
    async with app.run_test(size=(120, 30)) as pilot:
        panel = panel_of(app)
        await wait_until(pilot, lambda: source.tails_running == 1)
        for start in range(0, lines + 20_000, 10_000):
            source.push([record(i / 1000, f"line {i}", seq=i) for i in range(start,
                                                                              start + 10_000)])
        await wait_until(pilot, lambda: f"line {lines + 19_999}" in screen(app), what="last")
        buffer = panel.buffer
        assert buffer is not None and len(buffer) == 100_000  # the default capacity
        assert len(panel.shown) == 100_000
        panel.focus()
        await pilot.press("slash", *"line 1234", "enter")
        await wait_until(pilot, lambda: 0 < len(panel.shown) < 100, what="filtered")


async def test_otlp_logs_from_the_sdk_show_in_the_panel_with_trace_ids(tmp_path: Path) -> None:
    """The real OpenTelemetry SDK's OTLP/HTTP log exporter, the embedded receiver, the
    logs panel: lines with their levels, and the trace id of the span they were logged in."""
    import asyncio

    from tests.test_otlp_sdk import export_logs
    from watchdeck.core.sources import build_source

    directory = tmp_path / "layouts"
    directory.mkdir()
    (directory / "otlp.yaml").write_text(
        'name: otlp\nkey: "1"\npanels:\n'
        "  - {id: otlp, title: OTLP logs, type: logs, source: otlp, width: 12, height: 20}\n")
    config = convert(Config, {"sources": {"otlp": {"type": "otlp",
                                                    "listen": "127.0.0.1:0"}}})
    loaded = LoadedConfig(config, base_dir=directory)
    catalog = LayoutCatalog([directory], loaded.known_source_names())
    catalog.load()
    receiver = build_source("otlp", config.sources["otlp"], directory)
    app = WatchdeckApp(loaded, catalog, sources={"otlp": receiver},  # type: ignore[dict-item]
                       clock=Clock(), layout="otlp")
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_until(pilot, lambda: receiver.address is not None,  # type: ignore[attr-defined]
                         what="receiver listening")
        url = f"http://{receiver.address}"  # type: ignore[attr-defined]
        sent = await asyncio.to_thread(export_logs, url, None)
        await wait_until(pilot, lambda: "payment failed" in screen(app), what="OTLP lines")
        text = screen(app)
        assert "DBG cache warm" in text and "WRN ◆ card 4242 declined" in text
        assert "\x1b" not in text
        panel = panel_of(app)
        buffer = panel.buffer
        assert buffer is not None
        traced = [buffer[i] for i in panel.shown
                  if getattr(buffer[i], "trace_id", None) is not None]
        assert [r.trace_id for r in traced] == [sent["trace_id"]]  # type: ignore[union-attr]


async def test_while_following_y_and_enter_first_pick_the_newest_line(tmp_path: Path) -> None:
    source = ScriptedLogSource("app", HISTORY + [record(99, "absurd time", seq=99)])
    source.history[-1].time_ns = 10**30  # a backend's absurd timestamp draws, never crashes
    app = logs_app(tmp_path, source)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "absurd time" in screen(app))
        assert "??:??:??.???" in screen(app)
        panel = panel_of(app)
        panel.focus()
        await pilot.press("y")
        assert copied == [] and not panel.follow and panel.cursor == len(HISTORY)
        await pilot.press("y")
        assert copied and "absurd time" in copied[-1]


async def test_a_long_filter_scan_runs_off_the_event_loop(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Filtering a big buffer runs in a thread: held there, the panel keeps showing its
    lines marked "filtering…", keys still work, lines still arrive; a newer filter
    replaces the held one; the answer, when in, includes what arrived meanwhile."""
    import threading

    from watchdeck.ui.panels import logs as logs_module

    real_select = logs_module.select
    gate = threading.Event()
    held = []

    def gated(*args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("stop") is not None:  # the thread's scans only
            held.append(kwargs["stop"])
            assert gate.wait(20), "the test never opened the gate"
        return real_select(*args, **kwargs)

    monkeypatch.setattr(logs_module, "select", gated)
    count = logs_module.THREAD_SCAN + 5_000
    source = ScriptedLogSource("app")
    app = logs_app(tmp_path, source)
    async with app.run_test(size=(120, 30)) as pilot:
        panel = panel_of(app)
        await wait_until(pilot, lambda: source.tails_running == 1)
        source.push([record(i / 1000, f"line {i}", seq=i, replica=f"vllm-{i % 3}")
                     for i in range(count)])
        await wait_until(pilot, lambda: len(panel.shown) == count, what="all lines")
        panel.focus()
        for text in ("replica=vllm-1", "replica=vllm-2"):
            await pilot.press("slash")
            panel.query_one("#logs-filter").value = ""  # type: ignore[attr-defined]
            await pilot.press(*text, "enter")
            await wait_until(pilot, lambda: panel.scanning is not None, what="scanning")
        await wait_until(pilot, lambda: len(held) == 2, what="both scans held")
        assert held[0].is_set() and not held[1].is_set()  # the first one is stopped
        await wait_until(pilot, lambda: "filtering…" in screen(app), what="marked")
        assert len(panel.shown) == count  # the old lines stay meanwhile
        wrap = panel.wrap
        await pilot.press("w")
        assert panel.wrap is not wrap  # keys are answered while the scan is held
        source.push([record(100 + i, f"meanwhile {i}", seq=count + i, replica=f"vllm-{i % 3}")
                     for i in range(9)])
        await pilot.pause(0.3)
        gate.set()
        await wait_until(pilot, lambda: panel.scanning is None, what="scan done")
        buffer = panel.buffer
        assert buffer is not None
        want = [index for index in range(buffer.start, buffer.end)
                if (buffer[index].fields or {}).get("replica") == "vllm-2"]  # type: ignore[union-attr]
        assert list(panel.shown) == want and len(want) == count // 3 + 3
        await wait_until(pilot, lambda: "meanwhile 8" in screen(app), what="newest shown")
        assert "filtering…" not in screen(app)


@pytest.mark.parametrize("box", ["slash", "f"])
async def test_keys_typed_in_one_burst_after_slash_land_in_the_box(tmp_path: Path,
                                                                   box: str) -> None:
    """Typed fast right after ``/`` or ``f``, the text goes into the box that opened, not
    to the panel's own keys (``e`` would jump to an error, ``w`` would wrap)."""
    async with focused_logs(tmp_path) as (app, pilot, panel, _):
        wrap, cursor = panel.wrap, panel.cursor
        type_in_one_burst(app, box, "level>=error")
        if box == "slash":
            await wait_until(pilot, lambda: len(panel.shown) == 2, what="filtered")
            assert panel.filter is not None and panel.filter.describe() == "level>=error"
        else:
            await wait_until(pilot, lambda: panel.search is not None, what="search set")
            assert panel.filter is None
        assert panel.wrap == wrap  # the keys before enter were not the panel's
        if box == "slash":
            assert panel.cursor == cursor


@pytest.mark.parametrize("box_open", [False, True])
async def test_editing_keys_and_text_in_one_burst_keep_their_order(tmp_path: Path,
                                                                   box_open: bool) -> None:
    """ctrl+u, a filter and enter in one burst, the box opening in the same burst (``/``
    and an ``x`` first) or already open and focused: ctrl+u clears what was in the box
    before it, not the filter typed after it."""
    async with focused_logs(tmp_path) as (app, pilot, panel, _):
        await pilot.press("slash", *"level>=warn", "enter")  # a filter to replace
        await wait_until(pilot, lambda: len(panel.shown) == 3, what="first filter")
        if box_open:
            await pilot.press("slash", "end")  # the old filter in the box, not selected
            await pilot.pause(0.2)
            post_keys(app, "ctrl+u", *typed("level>=error"), "enter")
        else:
            post_keys(app, "slash", "x", "ctrl+u", *typed("level>=error"), "enter")
        await wait_until(pilot, lambda: len(panel.shown) == 2, what="second filter")
        assert panel.filter is not None and panel.filter.describe() == "level>=error"


@pytest.mark.parametrize("close", ["enter", "escape"])
async def test_a_key_typed_right_after_enter_or_escape_goes_to_the_panel_once(
        tmp_path: Path, close: str) -> None:
    """``/``, a filter, enter (or escape) and ``w`` in one burst: ``w`` wraps the lines,
    once, rather than being typed into the closing box."""
    async with focused_logs(tmp_path) as (app, pilot, panel, _):
        wrap = panel.wrap
        post_keys(app, "slash", *typed("level>=error"), close, "w")
        await wait_until(pilot, lambda: panel.wrap is not wrap, what="w wrapped")
        await pilot.pause(0.2)
        assert panel.wrap is not wrap  # once, not twice
        box = panel.query_one("#logs-filter")
        assert "w" not in box.value  # type: ignore[attr-defined]
        assert not panel.has_class("-filtering") and app.focused is panel
        if close == "enter":
            await wait_until(pilot, lambda: len(panel.shown) == 2, what="filtered")
        else:
            assert panel.filter is None and len(panel.shown) == len(HISTORY)

