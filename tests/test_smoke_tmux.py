"""The installed ``watchdeck`` command in a real terminal (tmux) against a real Prometheus."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.prometheus import PrometheusServer, require_binary

LAYOUTS = Path(__file__).parent / "data" / "layouts"
pytestmark = [pytest.mark.prometheus, pytest.mark.tmux]


def installed_command() -> str:
    beside = Path(sys.executable).parent / "watchdeck"
    found = str(beside) if beside.exists() else shutil.which("watchdeck")
    if not found:
        pytest.fail("the watchdeck command is not installed (pip install -e .)")
    return found


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                                text=True, timeout=10)
        return result.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "wd")

    def wait_for(self, *needles: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(needle in screen for needle in needles):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{needles} not on screen after {timeout}s:\n{screen}")

    def wait_gone(self, needle: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while needle in self.screen():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} still on screen after {timeout}s")
            time.sleep(0.2)

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "wd", *keys)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    require_binary("tmux")
    session = Tmux(f"watchdeck-test-{os.getpid()}")
    yield session
    session("kill-server")


def test_console_in_tmux(prometheus: PrometheusServer, tmux: Tmux, tmp_path: Path) -> None:
    exit_file = tmp_path / "exit-code"
    command = " ".join([
        "env", f"WATCHDECK_CONFIG_DIR={shlex.quote(str(tmp_path))}", "TERM=xterm-256color",
        shlex.quote(installed_command()), "--prometheus", prometheus.url,
        "--layouts", shlex.quote(str(LAYOUTS)), "--layout", "known",
    ])
    tmux("new-session", "-d", "-s", "wd", "-x", "120", "-y", "40",
         f"{command}; echo $? > {shlex.quote(str(exit_file))}; sleep 30")
    # tmux hands its panes COLUMNS=80 LINES=24 here; watchdeck must use the real size.
    # Data appears: the GPU bars and live badges.
    tmux.wait_for("gpu3", "100%", "● live", "LIVE")
    tmux.wait_gone("loading", timeout=30)  # every panel got its data
    screen = tmux.screen()
    assert "Latency percentiles" in screen and "✖" not in screen
    tmux.keys("2")
    tmux.wait_for("Second layout", "Runbook")
    tmux.keys("1")
    tmux.wait_for("Known values")
    tmux.keys("?")
    tmux.wait_for("Everywhere", "Focus panel left")
    tmux.keys("Escape")
    tmux.wait_gone("Focus panel left")
    tmux.keys("space")
    tmux.wait_for("PAUSED")
    tmux.keys("space")
    tmux.wait_for("LIVE")
    tmux.keys("q")
    deadline = time.monotonic() + 15
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exit_file.read_text().strip() == "0"
