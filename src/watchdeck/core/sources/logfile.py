"""``type: file``: log files followed like ``tail -F``.

Globs of several files, files that appear later, rotation (the path now names another
file: the old one is read to its end, the new one from its start), copytruncate (the file
shrank: a :class:`LogGap`, then the file from its start again) and deletion. A file there
when the tail starts begins with its last ``backlog`` lines, found by reading backwards
from the end; one that appears later is read from its start.

Files are told apart by (device, inode), not by name, and each stays open while it is
followed: a renamed file is still the same file, and its inode cannot be reused by a new
file while we hold it. Reads are large (1 MiB) and happen in a worker thread: from the
page cache they cost about a millisecond, but on a slow disk or a stalled NFS mount a read
can block for seconds, and that must never freeze the console. Lines are split with bytes
operations and parsed on the event loop in batches of :data:`BATCH_LINES`, with a yield
between batches, so a file growing at 100,000 lines/s never holds the loop for long. Idle
files are polled (``os.stat`` and a read at EOF) every ``poll_interval``; while data keeps
coming, reading goes on without waiting a whole interval.

:class:`LineSplitter`, :class:`RecordBatcher`, :class:`StateReporter` and
:class:`TailRuns` are shared with the command source.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import os
import re
import stat
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from watchdeck.core.config.models import FileSourceConfig
from watchdeck.core.logs.model import MAX_LINE_CHARS, LogGap, LogQuery, LogRecord, LogSink
from watchdeck.core.logs.parse import decode, parse_compact
from watchdeck.core.paths import expand
from watchdeck.core.safe import sanitize

T = TypeVar("T")

READ_SIZE = 1 << 20          # bytes per read
ROUND_BUDGET = 8 << 20       # bytes read from one file before the others get their turn
BATCH_LINES = 500            # lines parsed and delivered between two yields to the loop
BUSY_PAUSE = 0.02            # pause between reads while data keeps coming
PARTIAL_FLUSH = 1.0          # a last line without its newline is shown after this quiet
LINGER = 1.0                 # a file whose name went away is still read this long
BACKLOG_BLOCK = 64 << 10     # block size when reading backwards for the backlog
BACKLOG_SCAN_MAX = 64 << 20  # never scan back further than this for the backlog
# A line is kept whole up to this many bytes; longer ones keep their head and a marker
# (which must fit under MAX_LINE_CHARS, or parse_line would cut the marker away).
LINE_KEEP = MAX_LINE_CHARS - 64

_MAGIC = re.compile(r"[*?[]")


# --------------------------------------------------------------------------- shared parts


def _strip_cr(lines: list[str]) -> list[str]:
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _whole_chars(raw: bytes) -> bytes:
    """``raw`` without a UTF-8 sequence cut short at its end (when a long line is cut)."""
    for back in range(1, min(4, len(raw)) + 1):
        byte = raw[-back]
        if byte & 0xC0 != 0x80:  # ASCII or the lead byte of a sequence
            need = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return raw if back >= need else raw[:-back]
    return raw


class LineSplitter:
    """Bytes in, complete lines out: decoded, without the newline or a CR before it.

    A partial last line waits for the rest (or for :meth:`flush`). A line longer than
    ``keep`` bytes keeps only its head, so a line that never ends costs bounded memory,
    and comes out with a marker saying how many bytes were left out.
    """

    __slots__ = ("keep", "_head", "_size")

    def __init__(self, keep: int = LINE_KEEP) -> None:
        self.keep = keep
        self._head = b""   # the start of the pending line (at most ``keep`` bytes)
        self._size = 0     # the pending line's full length so far

    @property
    def pending(self) -> bool:
        return self._size > 0

    def feed(self, data: bytes) -> list[str]:
        last = data.rfind(b"\n")
        if last < 0:
            self._hold(data)
            return []
        if self._size:
            first = data.find(b"\n")
            lines = [self._finish(data[:first])]
            if first < last:
                lines.extend(self._split(data[first + 1:last]))
        else:
            lines = self._split(data[:last])
        self._hold(data[last + 1:])
        return lines

    def flush(self) -> list[str]:
        """The pending partial line, if any (at the end of a stream, or after a pause)."""
        return [self._finish(b"")] if self._size else []

    def _split(self, raw: bytes) -> list[str]:
        # One decode for a whole run of lines is several times faster than one per line;
        # it is only right while decoding turns no byte into a newline, which is checked.
        text = decode(raw)
        lines = text.split("\n")
        if len(lines) != raw.count(b"\n") + 1:
            lines = [decode(part) for part in raw.split(b"\n")]
        # (A long line that fits in one read comes out whole: parse_line cuts it.)
        return _strip_cr(lines) if "\r" in text else lines

    def _hold(self, rest: bytes) -> None:
        if not rest:
            return
        room = self.keep - len(self._head)
        if room > 0:
            self._head += rest[:room]
        self._size += len(rest)

    def _finish(self, piece: bytes) -> str:
        head, size = self._head, self._size + len(piece)
        self._head, self._size = b"", 0
        if size <= self.keep:
            text = decode(head + piece)
            return text[:-1] if text.endswith("\r") else text
        kept = _whole_chars(head + piece[:max(0, self.keep - len(head))])
        return f"{decode(kept)}… [cut: {size - len(kept):,} more bytes]"


class RecordBatcher:
    """Lines to records, delivered in batches with a yield to the loop after each.

    ``seq`` increases across everything one tail delivers. ``query.contains`` drops lines
    that lack it; ``query.since`` drops history lines from before it.
    """

    def __init__(self, source: str, query: LogQuery, sink: LogSink) -> None:
        self.source = source
        self.sink = sink
        self.contains = query.contains or None
        self.since_ns = int(query.since * 1e9) if query.since is not None else None
        self.seq = 0

    async def deliver(self, lines: list[str], labels: dict[str, str] | None = None,
                      history: bool = False) -> None:
        if self.contains is not None:
            contains = self.contains
            lines = [line for line in lines if contains in line]
        if not lines:
            await asyncio.sleep(0)
            return
        source = self.source
        for start in range(0, len(lines), BATCH_LINES):
            part = lines[start:start + BATCH_LINES] if len(lines) > BATCH_LINES else lines
            now = time.time_ns()
            seq = self.seq
            self.seq += len(part)
            records: Sequence[LogRecord] = [
                parse_compact(text, source=source, seq=seq + index, received_ns=now,
                           labels=labels)
                for index, text in enumerate(part)
            ]
            if history and self.since_ns is not None:
                since = self.since_ns
                records = [record for record in records if record.time_ns >= since]
            if records:
                self.sink.records(records)
            await asyncio.sleep(0)

    def gap(self, reason: str) -> None:
        self.sink.records([LogGap(time.time_ns(), reason, source=self.source, seq=self.seq)])
        self.seq += 1


class StateReporter:
    """Tells the sink about a state only when it changes."""

    def __init__(self, sink: LogSink) -> None:
        self.sink = sink
        self.last: tuple[bool, str | None] | None = None

    def __call__(self, ok: bool, message: str | None = None,
                 retry_at: float | None = None) -> None:
        if self.last != (ok, message):
            self.last = (ok, message)
            self.sink.state(ok, message, retry_at)


class TailRuns:
    """The tails running on one source, so that ``aclose()`` can stop them all.

    Each tail runs as an inner task: cancelling the caller cancels it (and waits for its
    cleanup); ``aclose()`` cancels it too, and then ``tail()`` returns quietly.
    """

    def __init__(self) -> None:
        self.closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, follow: Coroutine[Any, Any, None]) -> None:
        if self.closed:
            follow.close()
            return
        task = asyncio.ensure_future(follow)
        self._tasks.add(task)
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            cancelling = getattr(current, "cancelling", None)  # Python 3.11+
            if self.closed and task.cancelled() and (cancelling is None or not cancelling()):
                return
            raise
        finally:
            self._tasks.discard(task)

    async def aclose(self) -> None:
        self.closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


def describe_os_error(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


# --------------------------------------------------------------------------- file I/O
# (these run in the worker thread)


def backlog_start(fd: int, size: int, lines: int) -> int:
    """The offset where the last ``lines`` lines of the file begin, found by reading
    backwards in blocks (a 5 GB file costs a few blocks, not 5 GB)."""
    if lines <= 0 or size == 0:
        return size
    end = size - 1 if os.pread(fd, 1, size - 1) == b"\n" else size  # its final newline
    needed, pos, earliest = lines, end, -1
    while pos > 0:
        if size - pos >= BACKLOG_SCAN_MAX:
            # Lines this long: start at the earliest line start seen (or at the end).
            return earliest if earliest >= 0 else size
        start = max(0, pos - BACKLOG_BLOCK)
        block = os.pread(fd, pos - start, start)
        count = block.count(b"\n")
        if count >= needed:
            index = len(block)
            for _ in range(needed):
                index = block.rfind(b"\n", 0, index)
            return start + index + 1
        if count:
            earliest = start + block.find(b"\n") + 1
        needed -= count
        pos = start
    return 0


@dataclass(slots=True)
class Listing:
    """What the globs match now: regular files by (device, inode) -> (path, size), and
    what is wrong with the patterns that name something unreadable or not a file."""

    files: dict[tuple[int, int], tuple[str, int]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def list_files(patterns: list[str]) -> Listing:
    listing = Listing()
    for pattern in patterns:
        if _MAGIC.search(pattern) is None:
            _list_path(pattern, listing)
            continue
        for path in sorted(glob.glob(pattern, recursive="**" in pattern)):
            try:
                info = os.stat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                listing.files.setdefault((info.st_dev, info.st_ino), (path, info.st_size))
    return listing


def _list_path(path: str, listing: Listing) -> None:
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return  # not there yet
    except OSError as error:
        listing.problems[path] = f"cannot reach {path}: {describe_os_error(error)}"
        return
    if stat.S_ISREG(info.st_mode):
        listing.files.setdefault((info.st_dev, info.st_ino), (path, info.st_size))
    elif stat.S_ISDIR(info.st_mode):
        listing.problems[path] = (f"{path} is a directory: give a file, or a glob such as "
                                  f"{os.path.join(path, '*.log')}")
    else:
        listing.problems[path] = f"{path} is not a regular file"


@dataclass(slots=True)
class Opened:
    fd: int
    ident: tuple[int, int]
    size: int
    start: int


def matching_backlog_start(fd: int, size: int, lines: int, needle: bytes) -> int:
    """Like :func:`backlog_start`, counting only lines that hold ``needle`` (a drill to
    one trace's lines must reach back past the lines of every other request): the offset
    of the ``lines``-th such line from the end, else the earliest line start within
    :data:`BACKLOG_SCAN_MAX`, else 0."""
    if lines <= 0 or size == 0:
        return size
    needed, pos, carry = lines, size, b""
    earliest = size
    while pos > 0:
        if size - pos >= BACKLOG_SCAN_MAX:
            return earliest
        start = max(0, pos - BACKLOG_BLOCK)
        parts = (os.pread(fd, pos - start, start) + carry).split(b"\n")
        # The first part may begin before this block: it waits for the next one (or is the
        # file's first line). The rest are whole lines, in order; ``offset`` tracks each.
        head = parts[0]
        offset = start + len(head) + 1
        found = [offset]
        for part in parts[1:-1]:
            offset += len(part) + 1
            found.append(offset)
        # found[i] is where parts[i + 1] begins.
        for index in range(len(parts) - 1, 0, -1):
            if needle in parts[index]:
                needed -= 1
                if needed == 0:
                    return found[index - 1]
        earliest = found[0] if len(parts) > 1 else earliest
        carry = head
        pos = start
    return 0


def open_file(path: str, backlog: int | None, needle: bytes | None = None) -> Opened:
    """Open ``path``; with ``backlog``, also find where its last lines begin (its last
    lines holding ``needle``, when given)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if backlog is None:
            start = 0
        elif needle:
            start = matching_backlog_start(fd, info.st_size, backlog, needle)
        else:
            start = backlog_start(fd, info.st_size, backlog)
    except BaseException:
        os.close(fd)
        raise
    return Opened(fd, (info.st_dev, info.st_ino), info.st_size, start)


def label_root(patterns: list[str]) -> str:
    """The directory ``file`` labels are relative to: where the fixed (glob-free) leading
    directories of all the patterns meet ("" when they have none in common)."""
    roots = []
    for pattern in patterns:
        fixed: list[str] = []
        for part in Path(pattern).parts[:-1]:
            if _MAGIC.search(part):
                break
            fixed.append(part)
        roots.append(os.path.join(*fixed) if fixed else "")
    try:
        return os.path.commonpath(roots) if all(roots) else ""
    except ValueError:  # absolute and relative mixed
        return ""


# --------------------------------------------------------------------------- the source


@dataclass(eq=False, slots=True)
class _Followed:
    path: str
    fd: int
    offset: int
    labels: dict[str, str]
    last_data: float              # loop time of the last bytes read
    history_end: int = 0          # offsets below this were there at start: `since` applies
    splitter: LineSplitter = field(default_factory=LineSplitter)
    gone_at: float | None = None  # when its path stopped naming it (rotated or deleted)
    reading: concurrent.futures.Future[Any] | None = None

    def close(self) -> None:
        # A read may still be running in the thread: close the fd only after it, so it
        # never reads from a descriptor number already reused for another file.
        fd, reading = self.fd, self.reading
        if fd < 0:
            return
        self.fd = -1
        if reading is not None and not reading.done():
            reading.add_done_callback(lambda _done: os.close(fd))
        else:
            os.close(fd)


class FileLogSource:
    """Follows the files matching ``config.path`` (globs welcome)."""

    type = "file"

    def __init__(self, name: str, config: FileSourceConfig, base_dir: Path, *,
                 read_size: int = READ_SIZE, linger: float = LINGER,
                 partial_flush: float = PARTIAL_FLUSH) -> None:
        self.name = name
        self.config = config
        self.patterns = [str(expand(path, base_dir)) for path in config.paths]
        self.label_root = label_root(self.patterns)
        self.read_size = read_size
        # How long a file whose path went away is still read: after a rename, the writer
        # may go on writing to it until it reopens the new file.
        self.linger = linger
        self.partial_flush = partial_flush
        self._runs = TailRuns()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    async def tail(self, query: LogQuery, sink: LogSink) -> None:
        await self._runs.run(_FileTail(self, query, sink).run())

    async def aclose(self) -> None:
        await self._runs.aclose()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def submit(self, call: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix=f"watchdeck-file-{self.name}")
        return self._executor.submit(call, *args)

    def label(self, path: str) -> str:
        return os.path.relpath(path, self.label_root) if self.label_root else path


class _FileTail:
    """One running ``tail()``: the files it follows and where it is in each."""

    def __init__(self, source: FileLogSource, query: LogQuery, sink: LogSink) -> None:
        self.source = source
        self.poll = source.config.poll_interval
        # The config's backlog caps what a panel asks for (per file).
        self.backlog = min(query.backlog, source.config.backlog)
        # With ``contains``, the backlog counts only the lines that hold it.
        self.needle = query.contains.encode("utf-8", "surrogateescape") if (
            query.contains) else None
        self.batcher = RecordBatcher(source.name, query, sink)
        self.report = StateReporter(sink)
        self.files: dict[tuple[int, int], _Followed] = {}
        self.problems: dict[str, str] = {}   # path -> why it cannot be read
        self.listing_problems: dict[str, str] = {}  # pattern -> why it names no file
        self.initial: set[tuple[int, int]] | None = None  # files there at start
        self.lost: str | None = None         # the last file whose name went away
        self.labels: dict[str, dict[str, str]] = {}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_scan = 0.0
        try:
            while True:
                if loop.time() >= next_scan:
                    await self.scan()
                    next_scan = loop.time() + self.poll
                behind = progressed = False
                for followed in list(self.files.values()):
                    count, more = await self.drain(followed)
                    behind |= more
                    progressed |= count > 0
                    if count:
                        continue
                    quiet = loop.time() - followed.last_data
                    if followed.splitter.pending and quiet >= self.source.partial_flush:
                        await self.batcher.deliver(followed.splitter.flush(),
                                                   followed.labels)
                    if followed.gone_at is not None and (
                            loop.time() - followed.gone_at >= self.source.linger):
                        await self.retire(followed)
                if behind:
                    continue  # drain() yielded after every batch already
                pause = BUSY_PAUSE if progressed else next_scan - loop.time()
                await asyncio.sleep(max(0.0, min(pause, self.poll)))
        finally:
            for followed in self.files.values():
                followed.close()
            self.files.clear()

    async def call(self, run: Callable[..., T], *args: Any, followed: _Followed | None = None,
                   on_cancel: Callable[[concurrent.futures.Future[T]], None] | None = None
                   ) -> T:
        """``run(*args)`` in the source's worker thread."""
        future = self.source.submit(run, *args)
        if followed is not None:
            followed.reading = future
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if on_cancel is not None:
                future.add_done_callback(on_cancel)
            raise

    async def scan(self) -> None:
        """Match the globs again: new files, rotated, truncated and deleted ones."""
        loop = asyncio.get_running_loop()
        listing = await self.call(list_files, self.source.patterns)
        found = listing.files
        if self.initial is None:
            self.initial = set(found)
        paths = {path for path, _size in found.values()}
        self.problems = {path: problem for path, problem in self.problems.items()
                         if path in paths}
        for ident, followed in self.files.items():
            if ident not in found:
                if followed.gone_at is None:
                    followed.gone_at = loop.time()
                    self.lost = followed.path
                continue
            followed.gone_at = None
            size = found[ident][1]
            if size < followed.offset:  # copytruncate, or emptied by hand
                await self.batcher.deliver(followed.splitter.flush(), followed.labels)
                self.batcher.gap(f"file truncated: {self.source.label(followed.path)}")
                followed.offset = followed.history_end = 0
        for ident, (path, _size) in found.items():
            if ident not in self.files:
                await self.follow(path, ident in self.initial)
        self.listing_problems = listing.problems
        self.report_state()

    async def follow(self, path: str, initial: bool) -> None:
        try:
            opened = await self.call(open_file, path, self.backlog if initial else None,
                                     self.needle, on_cancel=_close_unclaimed)
        except OSError as error:
            self.problems[path] = f"cannot read {path}: {describe_os_error(error)}"
            return
        self.problems.pop(path, None)
        if opened.ident in self.files:  # replaced between the glob and the open
            os.close(opened.fd)
            return
        labels = self.labels.get(path)
        if labels is None:
            labels = self.labels[path] = {"file": self.source.label(path)}
        self.files[opened.ident] = _Followed(
            path, opened.fd, opened.start, labels, asyncio.get_running_loop().time(),
            history_end=opened.size if initial else 0)

    def report_state(self) -> None:
        retry_at = time.time() + self.poll
        problems = {**self.listing_problems, **self.problems}
        if problems:
            self.report(False, sanitize(next(iter(problems.values())), 400), retry_at)
        elif any(followed.gone_at is None for followed in self.files.values()):
            self.report(True)
        elif self.lost is not None:
            self.report(False, sanitize(f"{self.lost} was deleted or moved away: waiting for "
                                        f"it to come back", 400), retry_at)
        else:
            patterns = self.source.patterns
            what = (f"no such file yet: {patterns[0]}" if len(patterns) == 1
                    and _MAGIC.search(patterns[0]) is None
                    else f"no file matches {', '.join(patterns)} yet")
            self.report(False, sanitize(f"waiting: {what}", 400), retry_at)

    async def drain(self, followed: _Followed) -> tuple[int, bool]:
        """Read what the file has now. Returns the bytes read, and whether more is left
        (it stopped at the round's budget)."""
        total, size = 0, self.source.read_size
        while total < ROUND_BUDGET:
            offset = followed.offset
            try:
                data = await self.call(os.pread, followed.fd, size, offset, followed=followed)
            except OSError as error:
                self.problems[followed.path] = (
                    f"cannot read {followed.path}: {describe_os_error(error)}")
                self.report_state()
                return total, False
            if not data:
                return total, False
            if self.problems.pop(followed.path, None) is not None:
                self.report_state()
            followed.offset += len(data)
            followed.last_data = asyncio.get_running_loop().time()
            total += len(data)
            await self.batcher.deliver(followed.splitter.feed(data), followed.labels,
                                       history=offset < followed.history_end)
            if len(data) < size:
                return total, False
        return total, True

    async def retire(self, followed: _Followed) -> None:
        """A file gone from the globs and quiet since: deliver its last partial line."""
        await self.batcher.deliver(followed.splitter.flush(), followed.labels)
        followed.close()
        self.files = {k: v for k, v in self.files.items() if v is not followed}
        self.report_state()


def _close_unclaimed(future: concurrent.futures.Future[Opened]) -> None:
    """Closes a file opened for a tail that was cancelled before it took the descriptor."""
    if not future.cancelled() and future.exception() is None:
        os.close(future.result().fd)
