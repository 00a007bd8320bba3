"""FileLogSource on real files: backlog read backwards from the end of a big file,
appended and partial lines, rotation by rename, copytruncate, a file created late,
deletion, globs, permission denied, a directory, binary garbage, huge lines, filters,
descriptors released on cancel."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.waiting import until as wait_until
from watchdeck.core.config.models import FileSourceConfig
from watchdeck.core.logs.model import (
    MAX_LINE_CHARS,
    CollectingSink,
    LogGap,
    LogQuery,
    record_text,
)
from watchdeck.core.sources import build_source
from watchdeck.core.sources.logfile import FileLogSource, LineSplitter, backlog_start

POLL = 0.02


def make_source(base: Path, path: str | list[str], **settings: object) -> FileLogSource:
    config = FileSourceConfig(path=path, poll_interval=POLL, **settings)  # type: ignore[arg-type]
    source = build_source("files", config, base)
    assert isinstance(source, FileLogSource)
    source.linger = 0.2
    source.partial_flush = 0.3
    return source


async def until(check: Callable[[], object], timeout: float = 3.0, what: str = "") -> None:
    await wait_until(check, timeout, what)


@contextlib.asynccontextmanager
async def tailing(source: FileLogSource, sink: CollectingSink, backlog: int = 1000,
                  **query: object) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(source.tail(LogQuery(backlog=backlog, **query), sink))  # type: ignore[arg-type]
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


def last_state(sink: CollectingSink) -> tuple[bool, str | None]:
    state = sink.states[-1] if sink.states else None
    return (state.ok, state.message) if state else (False, None)


def append(path: Path, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    with path.open("ab") as file:
        file.write(data)


# --------------------------------------------------------------------------- pieces


def test_backlog_start_counts_lines_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    for content, lines, expected in [
        (b"a\nb\nc\n", 2, b"b\nc\n"),
        (b"a\nb\nc", 2, b"b\nc"),       # the last line has no newline yet
        (b"a\nb\nc\n", 5, b"a\nb\nc\n"),
        (b"a\nb\nc\n", 0, b""),
        (b"\n\n\n", 1, b"\n"),
    ]:
        path.write_bytes(content)
        fd = os.open(path, os.O_RDONLY)
        try:
            assert content[backlog_start(fd, len(content), lines):] == expected
        finally:
            os.close(fd)


def test_splitter_holds_partial_lines_and_cuts_endless_ones() -> None:
    splitter = LineSplitter(keep=10)
    assert splitter.feed(b"one\r\ntw") == ["one"]
    assert splitter.pending
    assert splitter.feed(b"o\nthree\n") == ["two", "three"]
    assert splitter.feed(b"x" * 9 + "é".encode() + b"y" * 100) == []
    (cut,) = splitter.feed(b"z\n")
    # the head is cut on a character boundary, the marker tells what is missing
    assert cut == "xxxxxxxxx… [cut: 103 more bytes]"
    assert splitter.feed(b"\xff\xfebad\n") == ["\\xff\\xfebad"]
    assert splitter.feed(b"end") == [] and splitter.flush() == ["end"]


# --------------------------------------------------------------------------- following


async def test_backlog_comes_from_the_end_of_a_big_file_without_reading_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.log"
    with path.open("wb") as file:
        file.truncate(2 << 30)  # 2 GiB (sparse): reading it all would take seconds
        file.seek(0, os.SEEK_END)
        file.write(b"".join(b"line %d\n" % n for n in range(5000)))
    read = 0
    real_pread = os.pread

    def counting_pread(fd: int, size: int, offset: int) -> bytes:
        nonlocal read
        data = real_pread(fd, size, offset)
        read += len(data)
        return data

    monkeypatch.setattr(os, "pread", counting_pread)
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "big.log"), sink, backlog=100):
        await until(lambda: len(sink.lines) >= 100, what="the backlog")
        await asyncio.sleep(0.05)
        assert texts(sink) == [f"line {n}" for n in range(4900, 5000)]
        assert [record.seq for record in sink.lines] == list(range(100))
        assert read < (1 << 20)
        append(path, "line 5000\n")
        await until(has(sink, "line 5000"))
    assert last_state(sink)[0] is True


async def test_backlog_zero_starts_at_the_end_and_config_backlog_caps_it(tmp_path: Path
                                                                        ) -> None:
    path = tmp_path / "app.log"
    path.write_text("".join(f"old {n}\n" for n in range(50)))
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log"), sink, backlog=0):
        await until(lambda: sink.states)
        append(path, "new 1\n")
        await until(has(sink, "new 1"))
        assert texts(sink) == ["new 1"]
    capped = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log", backlog=3), capped, backlog=1000):
        await until(has(capped, "new 1"))
        assert texts(capped) == ["old 48", "old 49", "new 1"]


async def test_appended_lines_and_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("first\n")
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log"), sink):
        await until(has(sink, "first"))
        append(path, "second\nthi")
        await until(has(sink, "second"))
        await asyncio.sleep(0.1)
        append(path, "rd\n")  # the rest of the line, before the quiet time
        await until(has(sink, "third"))
        append(path, "no newline yet")
        await until(has(sink, "no newline yet"), what="the partial line after a pause")
        assert texts(sink) == ["first", "second", "third", "no newline yet"]


async def test_a_burst_of_lines_arrives_whole_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("")
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log"), sink):
        await until(lambda: sink.states)
        append(path, "".join(f"burst {n}\n" for n in range(100_000)))
        await until(lambda: len(sink.lines) >= 100_000, timeout=10)
        await asyncio.sleep(0.05)
        lines = sink.lines
        assert len(lines) == 100_000
        assert record_text(lines[0]) == "burst 0" and record_text(lines[-1]) == "burst 99999"
        assert all(a.seq < b.seq for a, b in zip(lines, lines[1:]))


async def test_rotation_by_rename_finishes_the_old_file_then_reads_the_new(
        tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("before 1\n")
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log"), sink):
        await until(has(sink, "before 1"))
        with path.open("a") as writer:  # the application keeps its file open
            writer.write("before 2\n")
            writer.flush()
            path.rename(tmp_path / "app.log.1")
            writer.write("after rename, old file\n")  # before it reopens its log
            writer.flush()
        path.write_text("new file 1\nnew file 2\n")
        await until(has(sink, "new file 2"))
        assert texts(sink) == ["before 1", "before 2", "after rename, old file",
                               "new file 1", "new file 2"]
        assert all(record.labels == {"file": "app.log"} for record in sink.lines)
        assert not any(isinstance(item, LogGap) for item in sink.items)


async def test_copytruncate_is_a_gap_then_the_file_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("".join(f"line {n} with some length\n" for n in range(20)))
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log"), sink):
        await until(lambda: len(sink.lines) == 20)
        shutil.copy(path, tmp_path / "app.log.1")
        with path.open("r+") as file:
            file.truncate(0)
        append(path, "fresh 1\n")
        await until(has(sink, "fresh 1"))
        gaps = [item for item in sink.items if isinstance(item, LogGap)]
        assert len(gaps) == 1 and "file truncated" in gaps[0].reason
        assert sink.items[-2] is gaps[0]
        assert sink.items[-1].seq > gaps[0].seq > sink.items[-3].seq


async def test_a_file_that_appears_later_is_read_from_its_start(tmp_path: Path) -> None:
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "later.log"), sink, backlog=1):
        await until(lambda: sink.states)
        ok, message = last_state(sink)
        assert not ok and message is not None
        assert "no such file yet" in message and "later.log" in message
        (tmp_path / "later.log").write_text("one\ntwo\nthree\n")
        await until(has(sink, "three"))
        assert texts(sink) == ["one", "two", "three"]  # not just the backlog's one line
        await until(lambda: last_state(sink)[0])


async def test_deleted_then_created_again(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("one\n")
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log"), sink):
        await until(has(sink, "one"))
        path.unlink()
        await until(lambda: "deleted or moved" in (last_state(sink)[1] or ""))
        path.write_text("two\n")
        await until(has(sink, "two"))
        await until(lambda: last_state(sink)[0])
        assert texts(sink) == ["one", "two"]


async def test_glob_picks_up_new_files_and_labels_each(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "api").mkdir(parents=True)
    (logs / "worker").mkdir()
    (logs / "api" / "app.log").write_text("api 1\napi 2\n")
    (logs / "worker" / "app.log").write_text("worker 1\n")
    (logs / "api" / "notes.txt").write_text("not a log\n")
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "logs/*/*.log"), sink):
        await until(has(sink, "api 2", "worker 1"))
        (logs / "batch").mkdir()
        (logs / "batch" / "app.log").write_text("batch 1\n")
        await until(has(sink, "batch 1"))
        by_file = {record_text(record): record.labels for record in sink.lines}
        assert by_file == {"api 1": {"file": "api/app.log"}, "api 2": {"file": "api/app.log"},
                           "worker 1": {"file": "worker/app.log"},
                           "batch 1": {"file": "batch/app.log"}}
        api = [record for record in sink.lines if record_text(record).startswith("api")]
        assert api[0].labels is api[1].labels  # one dict per file, shared


async def test_several_paths_are_labelled_from_where_they_meet(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.log").write_text(f"from {name}\n")
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, ["a/app.log", "b/app.log"]), sink):
        await until(has(sink, "from a", "from b"))
        assert {record.labels["file"] for record in sink.lines  # type: ignore[index]
                } == {"a/app.log", "b/app.log"}


async def test_a_directory_gets_a_message(tmp_path: Path) -> None:
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "."), sink):
        await until(lambda: sink.states)
        ok, message = last_state(sink)
        assert not ok and message is not None
        assert "is a directory" in message and "*.log" in message


_PERMISSION_SCRIPT = textwrap.dedent("""
    import asyncio, os, sys, time
    from pathlib import Path
    from watchdeck.core.config.models import FileSourceConfig
    from watchdeck.core.logs.model import CollectingSink, LogQuery
    from watchdeck.core.sources import build_source

    async def main(path):
        source = build_source("files", FileSourceConfig(path=path, poll_interval=0.02),
                              Path("."))
        sink = CollectingSink()
        task = asyncio.create_task(source.tail(LogQuery(), sink))
        deadline = time.monotonic() + 3
        while not sink.states and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        print(sink.states[-1].ok, sink.states[-1].message, sep="|")
        os.chmod(path, 0o644)
        while not sink.lines and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        print(sink.lines[0].message if sink.lines else "(nothing)")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main(sys.argv[1]))
""")


def test_permission_denied_is_a_clear_state_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "secret.log"
    path.write_text("readable now\n")
    path.chmod(0)
    command = [sys.executable, "-c", _PERMISSION_SCRIPT, str(path)]
    if os.geteuid() == 0:
        # root reads any file: drop the capabilities that let it, for the child only
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: chmod cannot deny a read")
        caps = "-dac_override,-dac_read_search"
        command = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    done = subprocess.run(command, capture_output=True, text=True, timeout=15, env=env)
    assert done.returncode == 0, done.stderr
    state, line = done.stdout.splitlines()
    assert state == f"False|cannot read {path}: permission denied"
    assert line == "readable now"


async def test_binary_garbage_is_lines_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "garbage.log"
    garbage = bytes(range(256)) * 64 + os.urandom(64 << 10) + b"\xe2\x82"  # cut UTF-8
    path.write_bytes(b"")
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "garbage.log"), sink):
        await until(lambda: sink.states)
        append(path, garbage + b"\nafter\n")
        await until(has(sink, "after"))
        assert len(sink.lines) == garbage.count(b"\n") + 2
        assert "\\xff" in "".join(texts(sink))  # invalid UTF-8 kept visible, escaped


async def test_a_huge_line_is_cut_with_a_marker(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    path.write_bytes(b"")
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "huge.log"), sink):
        await until(lambda: sink.states)
        append(path, b"x" * (3 << 20))  # spans several reads
        append(path, b"\nsmall\n")
        await until(has(sink, "small"))
        huge = sink.lines[0]
        assert len(huge.message) <= MAX_LINE_CHARS + 100
        assert "cut:" in huge.message


async def test_contains_filters_lines(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("trace=abc one\nother\ntrace=abc two\n")
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log"), sink, contains="trace=abc"):
        await until(has(sink, "trace=abc two"))
        append(path, "nope\ntrace=abc three\n")
        await until(has(sink, "trace=abc three"))
        assert texts(sink) == ["trace=abc one", "trace=abc two", "trace=abc three"]


async def test_contains_counts_the_backlog_in_matching_lines(tmp_path: Path) -> None:
    """A drill to one trace's lines reaches back past every other request's lines."""
    path = tmp_path / "app.log"
    path.write_text("".join(f"trace=abc hit {n}\n" if n % 100 == 0 else f"request {n}\n"
                            for n in range(10_000)))
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log"), sink, backlog=5, contains="trace=abc"):
        await until(lambda: len(sink.lines) == 5)
        await asyncio.sleep(0.2)
        assert texts(sink) == [f"trace=abc hit {n}" for n in range(9_500, 10_000, 100)]


@pytest.mark.parametrize("seed", range(8))
def test_matching_backlog_start_agrees_with_counting_lines(tmp_path: Path, seed: int,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import random

    from watchdeck.core.sources import logfile

    monkeypatch.setattr(logfile, "BACKLOG_BLOCK", 37)  # many block boundaries
    rng = random.Random(seed)
    lines = [rng.choice(["x" * rng.randint(0, 90), "needle " + "y" * rng.randint(0, 60)])
             for _ in range(rng.randint(0, 300))]
    text = "\n".join(lines) + ("\n" if rng.random() < 0.7 else "")
    path = tmp_path / "f.log"
    path.write_text(text)
    wanted = rng.randint(1, 40)
    fd = os.open(path, os.O_RDONLY)
    try:
        start = logfile.matching_backlog_start(fd, len(text), wanted, b"needle")
    finally:
        os.close(fd)
    read = [line for line in text[start:].split("\n") if "needle" in line]
    every = [line for line in text.split("\n") if "needle" in line]
    assert read[-wanted:] == every[-wanted:]  # the last ones are all there
    assert start == 0 or text[start - 1] == "\n"  # at a line start
    assert len(read) == min(wanted, len(every))  # and no more


async def test_since_limits_the_history_only(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("2020-01-01T00:00:00Z INFO too old\n2024-06-01T00:00:00Z INFO recent\n")
    since = 1704067200.0  # 2024-01-01
    sink = CollectingSink()
    async with tailing(make_source(tmp_path, "app.log"), sink, since=since):
        await until(lambda: sink.lines)
        append(path, "2020-01-01T00:00:00Z INFO live, with an old time\n")
        await until(lambda: len(sink.lines) == 2)
        assert [record_text(record).split(" ", 2)[2] for record in sink.lines] == [
            "recent", "live, with an old time"]


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_cancel_and_aclose_close_every_file(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.log").write_text(f"{name}\n")
    before = _open_fds()
    source = make_source(tmp_path, "*.log")
    sink = CollectingSink()
    task = asyncio.create_task(source.tail(LogQuery(), sink))
    await until(has(sink, "a", "b", "c"))
    assert len(_open_fds() - before) >= 3
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await until(lambda: not _open_fds() - before, timeout=1, what="files closed")
    # aclose() ends a running tail, which returns quietly
    second = asyncio.create_task(source.tail(LogQuery(), CollectingSink()))
    await asyncio.sleep(0.1)
    await source.aclose()
    await asyncio.wait_for(second, 1)
    assert not _open_fds() - before
