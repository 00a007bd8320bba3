"""``watchdeck demo`` as a user runs it, and the demo fleet read by both a real Prometheus
and the embedded engine."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.prometheus import PrometheusServer
from tests.test_smoke_tmux import Tmux, installed_command
from watchdeck.core.config.loader import variable_references
from watchdeck.core.engine.promql import to_query_result
from watchdeck.core.engine.runtime import EmbeddedEngine
from watchdeck.core.engine.scrape import Target
from watchdeck.core.layouts import load_layout
from watchdeck.core.paths import shipped_layouts_dir
from watchdeck.core.sources.prometheus import parse_result
from watchdeck.core.templating import VariableState, substitute
from watchdeck.demo import Fleet, FleetConfig

pytestmark = pytest.mark.tmux


def listening_ports(pid: int) -> set[int]:
    """Loopback TCP ports a process listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        match = re.match(r"socket:\[(\d+)\]", target)
        if match:
            inodes.add(match.group(1))
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def _is_demo(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"watchdeck" in command and b"demo" in command


def _listening_or_empty(pid: int) -> set[int]:
    try:
        return listening_ports(pid)
    except OSError:  # gone, or not ours to read
        return set()


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def tmux(tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.support.prometheus import require_binary

    require_binary("tmux")
    session = Tmux(f"watchdeck-demo-{os.getpid()}")
    yield session
    session("kill-server")


def test_watchdeck_demo_fills_the_panels_and_quits_clean(tmux: Tmux, tmp_path: Path) -> None:
    exit_file = tmp_path / "exit-code"
    command = " ".join([
        "env", f"WATCHDECK_CONFIG_DIR={shlex.quote(str(tmp_path))}", "TERM=xterm-256color",
        shlex.quote(installed_command()), "demo", "--seed", "7",
        "--log-file", shlex.quote(str(tmp_path / "requests.jsonl")),
    ])
    tmux("new-session", "-d", "-s", "wd", "-x", "120", "-y", "40",
         f"{command}; echo $? > {shlex.quote(str(exit_file))}; sleep 30")
    started = time.monotonic()
    tmux.wait_for("LLM serving — overview", "● demo 5/5", timeout=15)
    # The status bar can say 5/5 a moment before the panels are first painted: wait for
    # the panels' own text, then for every one of them to have its data.
    tmux.wait_for("p99", "tok/s", "gpu0", timeout=12)
    tmux.wait_gone("loading", timeout=10)
    tmux.wait_gone("no data", timeout=max(1.0, 10 - (time.monotonic() - started)))
    assert time.monotonic() - started < 12
    shell = int(tmux("display", "-p", "-t", "wd", "#{pane_pid}").strip())
    (console,) = children(shell)
    ports = listening_ports(console)
    assert len(ports) >= 5  # 3 replicas, the DCGM exporter, the gateway
    tmux.keys("q")
    deadline = time.monotonic() + 20
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exit_file.read_text().strip() == "0"
    assert not Path(f"/proc/{console}").exists() and children(shell) == [
        p for p in children(shell) if "sleep" in Path(f"/proc/{p}/cmdline").read_text()]
    # The fleet and the OTLP receiver live in the console's process: with it gone and no
    # child left, none of its ports can still be held. (Probing the ports themselves is
    # not a test: a busy machine hands a freed ephemeral port to someone else at once.)
    leftovers = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                 if _is_demo(pid) and ports & _listening_or_empty(pid)]
    assert leftovers == [], f"still listening on the console's ports: {leftovers}"
    assert (tmp_path / "requests.jsonl").stat().st_size > 0


def layout_queries(name: str) -> list[tuple[str, str]]:
    """(panel id, expr) of a shipped layout, variables at their defaults, 1m windows."""
    entry = load_layout(shipped_layouts_dir() / f"{name}.yaml")
    variables = {v.name: v for v in entry.layout.variables}
    states = {name: VariableState(is_all=True) for name in variables}
    builtins = {"__rate_interval": "1m", "__interval": "15s", "__range": "30m"}
    out = []
    for panel in entry.layout.panels:
        for query in panel.queries:
            expr = substitute(query.expr, variables, states, builtins)
            assert not variable_references(expr) - set(variables), expr
            out.append((panel.id or "?", expr))
    return out


@pytest.mark.prometheus
async def test_llm_overview_agrees_between_prometheus_and_the_engine(tmp_path: Path) -> None:
    """The same fleet, scraped at once by Debian's Prometheus and by the engine: every
    query of llm-overview gives the same series, and each value agrees within 10 % (rates:
    the two scrape at slightly different moments). The fleet is frozen a few seconds
    before the moment compared, so what each scraped last is the same state."""
    fleet = Fleet(FleetConfig(seed=5, incident_kinds=(), warmup=0.0))
    await fleet.start()
    targets = [t.url.removeprefix("http://").removesuffix("/metrics")
               for t in fleet.described_targets]
    prometheus = PrometheusServer(tmp_path / "prom", targets)
    engine = EmbeddedEngine([Target(t.url, job="app") for t in fleet.described_targets],
                            interval=1.0)
    try:
        await asyncio.to_thread(prometheus.start)
        engine.start()
        await asyncio.sleep(70)  # a full 1m rate window on both sides
        # Frozen, the fleet serves one state to both: each has scraped it a few times by
        # the moment compared, so instantaneous gauges must agree exactly.
        fleet.freeze()
        await asyncio.sleep(4)
        at = time.time() - 0.5

        def ask(query: str, when: float = at):  # type: ignore[no-untyped-def]
            url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode(
                {"query": query, "time": f"{when:.3f}"})
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
                result = parse_result(json.loads(response.read())["data"])
            return {tuple(sorted(s.labels.items())): s.values[0] for s in result.series}

        problems = []
        for panel_id, expr in layout_queries("llm-overview"):
            want = ask(expr)
            actual = to_query_result(engine.evaluator.instant(expr, int(at * 1000)))
            got = {tuple(sorted(s.labels.items())): s.values[0] for s in actual.series}
            if set(want) != set(got):
                problems.append(f"{panel_id}: series differ: {sorted(want)} vs {sorted(got)}")
                continue
            if not want:
                problems.append(f"{panel_id}: no data on either side for {expr}")
            # No range vector: read from the frozen state alone, so exactly equal.
            tolerance = 0.10 if re.search(r"\[[^\]]+\]", expr) else 1e-9
            for labels, value in want.items():
                other = got[labels]
                if value != value and other != other:
                    continue
                if abs(value - other) > tolerance * max(abs(value), abs(other)) + 1e-9:
                    problems.append(f"{panel_id} {dict(labels)}: Prometheus {value}, "
                                    f"engine {other}")
        assert not problems, "\n".join(problems)
    finally:
        await engine.stop()
        await asyncio.to_thread(prometheus.stop)
        await fleet.stop()


def test_fleet_only_prints_targets_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "watchdeck", "demo", "--fleet-only", "--seed", "1",
         "--log-file", str(tmp_path / "r.jsonl")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len([x for x in lines if "/metrics" in x]) < 5:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
        urls = re.findall(r"http://127\.0\.0\.1:\d+/metrics", "".join(lines))
        assert len(urls) >= 5
        import urllib.request

        with urllib.request.urlopen(urls[0], timeout=5) as response:  # noqa: S310
            assert b"vllm:" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0
