"""``type: command``: log lines from a command (``kubectl logs -f``, ``journalctl -f -o
json``, ``docker logs -f``), stdout and stderr both.

The command runs in a session of its own, so that it and everything it starts form one
process group: when the tail ends (the panel went away, the app quits, ``aclose()``) the
whole group gets SIGTERM, then SIGKILL after a short grace, and the command is reaped.
When the command exits by itself, whatever it left running in its group is stopped the
same way, and it is started again after an exponential backoff (``restart: true``); a run
that lasted :data:`STABLE_AFTER` seconds starts the backoff from the beginning again.

Output is read in chunks, never a line at a time: a line that never ends (10 MB without a
newline) keeps only its head and is cut with a marker (:class:`LineSplitter`). Lines from
stderr carry the label ``stream=stderr``; the last of them says why the command exited.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from watchdeck.core.config.models import CommandSourceConfig
from watchdeck.core.feeds import MAX_BACKOFF, Backoff
from watchdeck.core.logs.model import LogQuery, LogSink
from watchdeck.core.paths import expand
from watchdeck.core.safe import sanitize
from watchdeck.core.sources.logfile import (
    PARTIAL_FLUSH,
    LineSplitter,
    RecordBatcher,
    StateReporter,
    TailRuns,
    describe_os_error,
)

READ_SIZE = 256 << 10    # bytes per read from a pipe
PIPE_LIMIT = 256 << 10   # the pipe reader's buffer: it stops reading past about twice this
STABLE_AFTER = 10.0      # a run this long resets the backoff
TERM_GRACE = 2.0         # SIGTERM, then this long, then SIGKILL
DRAIN_GRACE = 0.5        # after the command exits, how long its pipes may stay open
NOT_FOUND_STEPS = 3      # a missing command waits as if it had failed this often already

# Process groups still running, killed at interpreter exit should the loop never get
# to do it (the app crashed out of its event loop).
_LIVE_GROUPS: set[int] = set()


@atexit.register
def _kill_leftovers() -> None:
    for group in list(_LIVE_GROUPS):
        _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, signum: int) -> bool:
    """Send ``signum`` to the process group; False when nothing is left in it."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    except PermissionError:  # only a zombie, or a member that changed its user
        return True
    return True


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with code {code}"


class CommandLogSource:
    """Runs ``config.command`` and follows what it prints."""

    type = "command"
    retry_base = 1.0
    retry_cap = MAX_BACKOFF
    stable_after = STABLE_AFTER
    term_grace = TERM_GRACE
    partial_flush = PARTIAL_FLUSH

    def __init__(self, name: str, config: CommandSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        command = config.command
        self.problem: str | None = None  # a command that cannot even be split
        if config.shell:
            self.argv = ["/bin/sh", "-c", str(command)]
        elif isinstance(command, str):
            try:
                self.argv = shlex.split(command)
            except ValueError as error:
                self.argv, self.problem = [], f"cannot split the command: {error}"
        else:
            self.argv = list(command)
        self.cwd = str(expand(config.cwd, base_dir)) if config.cwd else None
        self.env = {**os.environ, **config.env} if config.env else None
        self.display = sanitize(command if isinstance(command, str) else shlex.join(command),
                                80)
        self._runs = TailRuns()

    async def tail(self, query: LogQuery, sink: LogSink) -> None:
        """Live lines until cancelled (a command gives its own history, if any)."""
        await self._runs.run(_CommandTail(self, query, sink).run())

    async def aclose(self) -> None:
        await self._runs.aclose()


class _CommandTail:
    """One running ``tail()``: the command, started again and again."""

    def __init__(self, source: CommandLogSource, query: LogQuery, sink: LogSink) -> None:
        self.source = source
        self.batcher = RecordBatcher(source.name, query, sink)
        self.report = StateReporter(sink)
        self.backoff = Backoff(source.retry_base, source.retry_cap)
        self.last_stderr: str | None = None
        self.stderr_labels = {"stream": "stderr"}  # one dict, shared by its records

    async def run(self) -> None:
        source = self.source
        if source.problem is not None:
            self.report(False, sanitize(source.problem, 400))
            return
        while True:
            at_least = 0
            started = time.monotonic()
            try:
                code = await self.run_once()
            except OSError as error:
                message, at_least = self.describe_start_error(error), NOT_FOUND_STEPS
            except Exception as error:  # a bug must not end the tail: say it, retry
                message = f"unexpected {type(error).__name__}: {error}"
                at_least = NOT_FOUND_STEPS
            else:
                message = f"{source.display} {describe_exit(code)}"
                if self.last_stderr:
                    message += f": {self.last_stderr}"
            if time.monotonic() - started >= source.stable_after:
                self.backoff.reset()
            if not source.config.restart:
                self.report(False, sanitize(message, 400))
                return
            delay = self.backoff.fail(at_least)
            self.report(False, sanitize(message, 400), time.time() + delay)
            await asyncio.sleep(delay)

    def describe_start_error(self, error: OSError) -> str:
        source = self.source
        if source.cwd is not None and error.filename == source.cwd:
            return f"cannot run {source.display}: working directory {source.cwd}: " \
                   f"{describe_os_error(error)}"
        if isinstance(error, FileNotFoundError):
            return f"command not found: {source.argv[0] if source.argv else '(empty)'}"
        return f"cannot run {source.display}: {describe_os_error(error)}"

    async def run_once(self) -> int:
        """Start the command and read it until it exits: its exit code (negative: the
        signal that killed it). Raises OSError when it cannot start."""
        source = self.source
        if not source.argv:
            raise FileNotFoundError("empty command")
        self.last_stderr = None
        loop = asyncio.get_running_loop()
        pipes = _Pipes(loop)
        spawning = asyncio.ensure_future(loop.subprocess_exec(
            lambda: pipes, *source.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=source.cwd, env=source.env, start_new_session=True))
        try:
            transport, _protocol = await asyncio.shield(spawning)
        except asyncio.CancelledError:
            # Cancelled while starting: it may start all the same; stop it when it has.
            spawning.add_done_callback(_stop_late_start)
            raise
        group = transport.get_pid()
        _LIVE_GROUPS.add(group)
        readers = [asyncio.ensure_future(self.read(pipes.stdout, None)),
                   asyncio.ensure_future(self.read(pipes.stderr, self.stderr_labels))]
        try:
            self.report(True)
            await pipes.exited
            code = transport.get_returncode()
            # Lines still in the pipes; a pipe held open by something the command left
            # running would never end, so that is stopped.
            _done, pending = await asyncio.wait(readers, timeout=DRAIN_GRACE)
            if pending:
                await stop_group(transport, pipes.exited, source.term_grace)
                await asyncio.wait(readers, timeout=DRAIN_GRACE)
            return code if code is not None else -signal.SIGKILL
        finally:
            for reader in readers:
                reader.cancel()
            try:
                await stop_group(transport, pipes.exited, source.term_grace)
            finally:
                transport.close()  # our ends of the pipes, even if something holds theirs
                _LIVE_GROUPS.discard(group)
                await asyncio.gather(*readers, return_exceptions=True)

    async def read(self, stream: asyncio.StreamReader, labels: dict[str, str] | None
                   ) -> None:
        splitter = LineSplitter()
        flush_after = self.source.partial_flush
        while True:
            try:
                if splitter.pending:
                    data = await asyncio.wait_for(stream.read(READ_SIZE), flush_after)
                else:
                    data = await stream.read(READ_SIZE)
            except asyncio.TimeoutError:
                await self.deliver(splitter.flush(), labels)
                continue
            except OSError:  # the pipe broke: as good as its end
                data = b""
            if not data:
                await self.deliver(splitter.flush(), labels)
                return
            await self.deliver(splitter.feed(data), labels)

    async def deliver(self, lines: list[str], labels: dict[str, str] | None) -> None:
        if labels is self.stderr_labels:
            for line in reversed(lines):
                if line.strip():
                    self.last_stderr = sanitize(line.strip(), 200)
                    break
        await self.batcher.deliver(lines, labels)


async def stop_group(transport: asyncio.SubprocessTransport, exited: asyncio.Future[None],
                     grace: float) -> None:
    """SIGTERM to the command's process group, SIGKILL to whatever is left after
    ``grace`` seconds, and the command reaped. Cancelling it kills at once."""
    group = transport.get_pid()
    if transport.get_returncode() is None or _group_alive(group):
        _signal_group(group, signal.SIGTERM)
        _signal_group(group, signal.SIGCONT)  # a stopped process would never see it
        try:
            deadline, killed = time.monotonic() + grace, False
            while transport.get_returncode() is None or _group_alive(group):
                if time.monotonic() >= deadline:
                    if killed:
                        break  # stuck in the kernel: nothing more to do
                    _signal_group(group, signal.SIGKILL)
                    deadline, killed = time.monotonic() + grace, True
                await asyncio.sleep(0.02 if transport.get_returncode() is None else 0.05)
        except asyncio.CancelledError:
            _signal_group(group, signal.SIGKILL)
            raise
    # Reaped by the loop's child watcher; wait for that (a process stuck in the kernel
    # could outlast a SIGKILL for a while: not forever here).
    await asyncio.wait([exited], timeout=grace)


def _group_alive(group: int) -> bool:
    """Whether a process of the group is still running. A member that outlived the
    command is re-parented to init, and an init that does not reap (in some containers)
    leaves it a zombie: that counts as gone."""
    if not _signal_group(group, 0):
        return False
    try:
        entries = os.scandir("/proc")
    except OSError:
        return True  # no /proc: trust kill(0)
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as file:
                    stat = file.read()
            except OSError:
                continue
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
            fields = stat[stat.rfind(b")") + 2:].split()
            if len(fields) > 2 and fields[2] == b"%d" % group and fields[0] != b"Z":
                return True
    return False


def _stop_late_start(spawning: asyncio.Future[tuple[asyncio.SubprocessTransport, Any]]
                     ) -> None:
    if spawning.cancelled() or spawning.exception() is not None:
        return
    transport, _protocol = spawning.result()
    group = transport.get_pid()
    _signal_group(group, signal.SIGKILL)
    transport.close()


class _Pipes(asyncio.SubprocessProtocol):
    """The command's stdout and stderr as stream readers (which stop reading the pipe
    while their buffer is full), and its exit, told apart from the pipes' end: something
    the command started may hold them open after it exited."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.stdout = asyncio.StreamReader(limit=PIPE_LIMIT)
        self.stderr = asyncio.StreamReader(limit=PIPE_LIMIT)
        self.exited: asyncio.Future[None] = loop.create_future()

    def _reader(self, fd: int) -> asyncio.StreamReader | None:
        return self.stdout if fd == 1 else self.stderr if fd == 2 else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        for fd in (1, 2):
            pipe = transport.get_pipe_transport(fd)
            reader = self._reader(fd)
            if pipe is not None and reader is not None:
                reader.set_transport(pipe)

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        reader = self._reader(fd)
        if reader is not None and isinstance(data, bytes):
            reader.feed_data(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        reader = self._reader(fd)
        if reader is not None:
            if exc is None:
                reader.feed_eof()
            else:
                reader.set_exception(exc)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)
