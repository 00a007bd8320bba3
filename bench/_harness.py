"""Shared by the benchmarks: a real Prometheus with the test exporter, and running the
console in a pseudo-terminal while reading everything it writes."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.exporter import Exporter  # noqa: E402
from tests.support.prometheus import PrometheusServer  # noqa: E402


class Backend:
    """Prometheus scraping the known-values exporter every second."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="watchdeck-bench-")
        self.exporter = Exporter()
        self.prometheus = PrometheusServer(Path(self.tmp.name), [self.exporter.target])

    def __enter__(self) -> Backend:
        self.prometheus.start()
        self.prometheus.wait_for('count_over_time(wd_requests_total[1m]) >= 10', timeout=90)
        return self

    def __exit__(self, *exc: object) -> None:
        self.prometheus.stop()
        self.exporter.stop()
        self.tmp.cleanup()

    @property
    def url(self) -> str:
        return self.prometheus.url


def watchdeck_command() -> list[str]:
    beside = Path(sys.executable).parent / "watchdeck"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "watchdeck"]


class Console:
    """``watchdeck`` in a pty of the given size; a thread drains and counts its output."""

    def __init__(self, args: list[str], width: int = 120, height: int = 40,
                 env: dict[str, str] | None = None, command: list[str] | None = None) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [*(command if command is not None else watchdeck_command()), *args],
            stdin=slave, stdout=slave, stderr=slave,
            env={**os.environ, "TERM": "xterm-256color", **(env or {})},
            close_fds=True, start_new_session=True,
        )
        os.close(slave)
        self.output = bytearray()
        self.bytes_total = 0
        self.lock = threading.Lock()
        self.first_seen: dict[bytes, float] = {}
        self._watch: list[bytes] = []
        self._stop = False
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            now = time.perf_counter()
            with self.lock:
                self.bytes_total += len(chunk)
                self.output += chunk
                if len(self.output) > 4_000_000:
                    del self.output[:-1_000_000]
                for marker in self._watch:
                    if marker not in self.first_seen and marker in self.output:
                        self.first_seen[marker] = now

    def watch(self, *markers: bytes) -> None:
        with self.lock:
            self._watch.extend(markers)

    def wait_for(self, marker: bytes, timeout: float = 30.0) -> float:
        """Seconds from process start until ``marker`` was first written."""
        self.watch(marker)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self.lock:
                if marker in self.first_seen:
                    return self.first_seen[marker] - self.started
                if marker in self.output:
                    self.first_seen[marker] = time.perf_counter()
            time.sleep(0.005)
        raise TimeoutError(f"{marker!r} not written within {timeout}s")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the console process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def mark(self) -> int:
        """An offset into the output, for :meth:`wait_after`."""
        with self.lock:
            return self.bytes_total

    def wait_after(self, marker: bytes, offset: int, timeout: float = 10.0) -> float | None:
        """Seconds until ``marker`` is written after output offset ``offset``; None when it
        is not within ``timeout``."""
        began = time.perf_counter()
        while time.perf_counter() - began < timeout:
            with self.lock:
                kept_from = self.bytes_total - len(self.output)
                if marker in self.output[max(0, offset - kept_from - len(marker)):]:
                    return time.perf_counter() - began
            time.sleep(0.002)
        return None

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def quit(self, timeout: float = 10.0) -> int | None:
        try:
            self.send(b"q")
            return self.process.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            return self.process.wait(timeout=5)
        finally:
            self._stop = True
            self.thread.join(timeout=2)
            os.close(self.master)
