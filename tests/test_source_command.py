"""CommandLogSource with real processes: stdout and stderr, restart with backoff (and its
reset after a long run), the whole process group killed on cancel and on aclose (SIGKILL
for one that ignores SIGTERM), a command not found, journalctl-like JSON lines, a 10 MB
line without a newline, cwd and env, filters, no restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.waiting import until as wait_until
from watchdeck.core.config.models import CommandSourceConfig
from watchdeck.core.logs.model import MAX_LINE_CHARS, CollectingSink, LogItem, LogQuery, record_text
from watchdeck.core.sources import build_source
from watchdeck.core.sources.command import CommandLogSource

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")


@dataclass
class TimedSink(CollectingSink):
    """Also notes when each state and each record came."""

    state_times: list[float] = field(default_factory=list)
    record_times: list[float] = field(default_factory=list)

    def records(self, items: Sequence[LogItem]) -> None:
        super().records(items)
        self.record_times.extend(time.monotonic() for _ in items)

    def state(self, ok: bool, message: str | None = None, retry_at: float | None = None
              ) -> None:
        super().state(ok, message, retry_at)
        self.state_times.append(time.time())


def make_source(command: str | list[str], base: Path | None = None, **settings: object
                ) -> CommandLogSource:
    config = CommandSourceConfig(command=command, **settings)  # type: ignore[arg-type]
    source = build_source("cmd", config, base or Path("."))
    assert isinstance(source, CommandLogSource)
    source.retry_base = 0.05
    source.term_grace = 0.5
    source.partial_flush = 0.1
    return source


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def until(check: Callable[[], object], timeout: float = 3.0, what: str = "") -> None:
    await wait_until(check, timeout, what)


@contextlib.asynccontextmanager
async def tailing(source: CommandLogSource, sink: CollectingSink, **query: object
                  ) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(source.tail(LogQuery(**query), sink))  # type: ignore[arg-type]
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.aclose()


def texts(sink: CollectingSink) -> list[str]:
    return [record_text(record) for record in sink.lines]


def has(sink: CollectingSink, *wanted: str) -> Callable[[], bool]:
    return lambda: all(text in texts(sink) for text in wanted)


def messages(sink: CollectingSink) -> list[str]:
    return [state.message for state in sink.states if state.message]


def group_members(group: int) -> dict[int, str]:
    """Live (not zombie) processes of a process group: pid -> state letter."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if int(fields[2]) == group and fields[0] != b"Z":
            found[int(name)] = fields[0].decode()
    return found


# --------------------------------------------------------------------------- output


async def test_stdout_and_stderr_lines_with_stderr_labelled() -> None:
    source = make_source(python(
        "import sys, time\n"
        "for n in (1, 2):\n"
        "    print(f'out {n}', flush=True); time.sleep(0.05)\n"
        "    print(f'err {n}', file=sys.stderr, flush=True); time.sleep(0.05)\n"
        "time.sleep(1000)"))
    sink = CollectingSink()
    async with tailing(source, sink):
        await until(has(sink, "out 1", "err 1", "out 2", "err 2"))
        assert texts(sink) == ["out 1", "err 1", "out 2", "err 2"]
        labels = [record.labels for record in sink.lines]
        assert labels == [None, {"stream": "stderr"}, None, {"stream": "stderr"}]
        assert labels[1] is labels[3]  # one dict, shared
        assert [record.seq for record in sink.lines] == [0, 1, 2, 3]
        assert sink.states[-1].ok


async def test_journalctl_like_json_lines_are_parsed() -> None:
    source = make_source(python(
        "import json\n"
        "for n, (priority, text) in enumerate([('6', 'started'), ('4', 'disk low'),"
        " ('3', 'failed')]):\n"
        "    print(json.dumps({'__REALTIME_TIMESTAMP': str(1714564800000000 + n),"
        " 'PRIORITY': priority, '_SYSTEMD_UNIT': 'app.service', 'MESSAGE': text}))\n"
        "import time; time.sleep(1000)"))
    sink = CollectingSink()
    async with tailing(source, sink):
        await until(lambda: len(sink.lines) == 3)
        for record, text in zip(sink.lines, ["started", "disk low", "failed"]):
            assert text in record_text(record)
            assert record.fields or record.message == text  # read as JSON, not as text
            assert record.labels is None


async def test_a_line_without_end_is_cut_and_memory_stays_bounded() -> None:
    source = make_source(python(
        "import sys\n"
        "chunk = b'x' * (1 << 20)\n"
        "for _ in range(10): sys.stdout.buffer.write(chunk)\n"
        "sys.stdout.buffer.write(b'\\nnext\\n'); sys.stdout.flush()\n"
        "import time; time.sleep(1000)"))
    sink = CollectingSink()
    tracemalloc.start()
    try:
        async with tailing(source, sink):
            await until(has(sink, "next"), timeout=5)
            _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    huge = sink.lines[0]
    assert len(huge.message) <= MAX_LINE_CHARS + 100 and "cut:" in huge.message
    assert peak < 4 << 20  # 10 MB went through, a few hundred KB at a time


async def test_a_partial_line_is_shown_after_a_pause() -> None:
    source = make_source("printf 'password: '; sleep 1000", shell=True)
    sink = CollectingSink()
    async with tailing(source, sink):
        await until(has(sink, "password: "))


async def test_contains_filters_lines() -> None:
    source = make_source("printf 'a trace=1\\nb\\nc trace=1\\n'; sleep 1000", shell=True)
    sink = CollectingSink()
    async with tailing(source, sink, contains="trace=1"):
        await until(has(sink, "c trace=1"))
        await asyncio.sleep(0.05)
        assert texts(sink) == ["a trace=1", "c trace=1"]


async def test_cwd_relative_to_the_config_and_env(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    source = make_source('pwd; echo "$GREETING"; sleep 1000', tmp_path, shell=True,
                         cwd="work", env={"GREETING": "hello"})
    sink = CollectingSink()
    async with tailing(source, sink):
        await until(lambda: len(sink.lines) == 2)
        assert texts(sink) == [str(tmp_path / "work"), "hello"]


# --------------------------------------------------------------------------- exits


async def test_restarts_after_exit_with_growing_backoff() -> None:
    source = make_source(python(
        "import sys; print('run'); print('boom: bad config', file=sys.stderr); sys.exit(3)"))
    sink = TimedSink()
    async with tailing(source, sink):
        await until(lambda: texts(sink).count("run") >= 4, timeout=4)
    failures = [state for state in sink.states if not state.ok]
    assert failures[0].message == f"{source.display} exited with code 3: boom: bad config"
    starts = [at for at, text in zip(sink.record_times, texts(sink)) if text == "run"]
    waits = [later - earlier for earlier, later in zip(starts, starts[1:])]
    # 0.05, 0.1, 0.2 s (+-20 %) plus the time a Python takes to start
    assert waits[0] < waits[2] and waits[2] - waits[0] > 0.08, waits
    assert all(state.retry_at is not None for state in failures)


async def test_a_run_that_lasted_resets_the_backoff() -> None:
    source = make_source("echo run; sleep 0.15; exit 1", shell=True)
    source.stable_after = 0.1
    sink = TimedSink()
    async with tailing(source, sink):
        await until(lambda: texts(sink).count("run") >= 4, timeout=4)
    waits = [state.retry_at - at for state, at in zip(sink.states, sink.state_times)
             if state.retry_at is not None]
    assert len(waits) >= 3 and all(0.03 < wait < 0.07 for wait in waits), waits


async def test_no_restart_reports_the_exit_and_returns() -> None:
    source = make_source("echo done; kill -TERM $$", shell=True, restart=False)
    sink = CollectingSink()
    await asyncio.wait_for(source.tail(LogQuery(), sink), 3)
    assert texts(sink) == ["done"]
    assert sink.states[-1].ok is False
    assert sink.states[-1].message == f"{source.display} killed by SIGTERM"
    assert sink.states[-1].retry_at is None


async def test_command_not_found() -> None:
    source = make_source("watchdeck-no-such-command --follow")
    sink = CollectingSink()
    async with tailing(source, sink):
        await until(lambda: messages(sink))
        assert messages(sink)[0] == "command not found: watchdeck-no-such-command"
        assert sink.states[-1].retry_at is not None and not sink.states[-1].ok


def test_a_command_that_cannot_be_split_is_refused_with_the_config() -> None:
    from watchdeck.core.config.models import Config
    from watchdeck.core.config.types import ModelError, convert

    with pytest.raises(ModelError, match="cannot split the command: No closing quotation"):
        convert(Config, {"sources": {"c": {"type": "command",
                                           "command": "tail -f 'unclosed"}}})


async def test_a_missing_working_directory(tmp_path: Path) -> None:
    source = make_source(["echo", "hi"], tmp_path, cwd="nowhere")
    sink = CollectingSink()
    async with tailing(source, sink):
        await until(lambda: messages(sink))
        message = messages(sink)[0]
        assert "working directory" in message and "nowhere" in message


# --------------------------------------------------------------------------- stopping


async def _started_group(sink: CollectingSink) -> int:
    await until(lambda: sink.lines, what="the shell's pid")
    group = int(record_text(sink.lines[0]))
    await until(lambda: len(group_members(group)) >= 2, what="both sleeps")
    return group


@needs_proc
async def test_cancel_kills_the_whole_process_group() -> None:
    source = make_source("echo $$; sleep 1000 & sleep 1000", shell=True)
    sink = CollectingSink()
    task = asyncio.create_task(source.tail(LogQuery(), sink))
    group = await _started_group(sink)
    members = group_members(group)
    started = time.monotonic()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert time.monotonic() - started < 0.4  # SIGTERM was enough
    assert group_members(group) == {}, members
    assert not os.path.exists(f"/proc/{group}")  # the shell was reaped, not a zombie


@needs_proc
async def test_aclose_kills_what_ignores_sigterm() -> None:
    source = make_source("echo $$; trap '' TERM; sleep 1000 & sleep 1000", shell=True)
    sink = CollectingSink()
    task = asyncio.create_task(source.tail(LogQuery(), sink))
    group = await _started_group(sink)
    started = time.monotonic()
    await source.aclose()
    await asyncio.wait_for(task, 2)  # tail() returns quietly after aclose()
    assert 0.4 < time.monotonic() - started < 1.5  # the grace, then SIGKILL
    assert group_members(group) == {}


@needs_proc
async def test_leftovers_of_an_exited_command_are_stopped() -> None:
    source = make_source("echo $$; sleep 1000 & exit 0", shell=True, restart=False)
    sink = CollectingSink()
    await asyncio.wait_for(source.tail(LogQuery(), sink), 3)
    group = int(record_text(sink.lines[0]))
    assert group_members(group) == {}
    assert sink.states[-1].message == f"{source.display} exited with code 0"
