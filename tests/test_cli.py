"""The command line as users run it: a real process, real files, a real Prometheus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.apps import write_config
from tests.support.prometheus import PrometheusServer

LAYOUTS = Path(__file__).parent / "data" / "layouts"


def run(*args: str, cwd: Path | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "watchdeck", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def test_version() -> None:
    from watchdeck import __version__

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"watchdeck {__version__}"


def test_without_config_or_flags_it_says_how_to_start() -> None:
    result = run()
    assert result.returncode == 2
    assert "--prometheus" in result.stderr and "config.yaml" in result.stderr


BAD_FILES = {
    "syntax": ("panels:\n  - {type: stat, queries: [{expr: up}]\n", 3, "YAML syntax error"),
    "panel-type": ("panels:\n  - type: gauge\n    queries: [{expr: up}]\n", 2,
                   "unknown panel type 'gauge'"),
    "unknown-key": ("panels:\n  - type: stat\n    colour: red\n    queries: [{expr: up}]\n",
                    3, "unknown key 'colour'"),
    "unknown-source": ("panels:\n  - type: stat\n    source: loki-prod\n"
                       "    queries: [{expr: up}]\n", 3, "unknown source 'loki-prod'"),
    "bad-duration": ("refresh: 10x\npanels:\n  - type: stat\n    queries: [{expr: up}]\n", 1,
                     "bad duration '10x'"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_check_reports_bad_layout_files_with_file_and_line(name: str, tmp_path: Path) -> None:
    text, line, message = BAD_FILES[name]
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    (layouts / f"{name}.yaml").write_text(text)
    config = write_config(tmp_path, "http://127.0.0.1:9")
    result = run("check", "-c", str(config), "--layouts", str(layouts), cwd=tmp_path)
    assert result.returncode == 1
    assert f"layouts/{name}.yaml:{line}:" in result.stdout
    assert message in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(("text", "line", "message"), [
    ("sources:\n  prom:\n    type: prometheus\n    url: http://x\n    timeout: 5q\n", 5,
     "bad duration '5q'"),
    ("sources:\n  l: {type: nvml, url: http://x}\n", 2, "unknown source type 'nvml'"),
    ("sources: {}\nroles:\n  metrics: nope\n", 3, "unknown source 'nope'"),
    ("sources: {}\nkeymap:\n  zooom: f\n", 3, "unknown binding id 'zooom'"),
    ("sources: {}\nthemes: dark\n", 2, "unknown key 'themes'"),
])
def test_bad_config_files_name_file_and_line(text: str, line: int, message: str,
                                             tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    for command in (["check"], []):
        result = run(*command, "-c", str(config), cwd=tmp_path)
        assert result.returncode == 1
        assert f"config.yaml:{line}:" in result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.prometheus
def test_check_against_prometheus_reports_each_panel(prometheus: PrometheusServer,
                                                     tmp_path: Path) -> None:
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    (layouts / "mixed.yaml").write_text("""name: mixed
range: 5m
panels:
  - {id: fine, type: stat, queries: [{expr: sum(wd_queue_length)}]}
  - {id: broken, type: stat, queries: [{expr: "sum(wd_queue_length"}]}
  - {id: nothing, type: stat, queries: [{expr: no_such_metric}]}
  - {id: crowded, type: timeseries, max_series: 2, queries: [{expr: wd_gpu_utilization_ratio}]}
""")
    config = write_config(tmp_path, prometheus.url)
    result = run("check", "-c", str(config), "--layouts", str(layouts), cwd=tmp_path)
    out = result.stdout
    assert result.returncode == 1, out
    def line_of(panel_id: str) -> str:
        return next(line for line in out.splitlines() if f" {panel_id} " in line)

    lines = {pid: line_of(pid) for pid in ("fine", "broken", "nothing", "crowded")}
    assert lines["fine"].split()[0] == "ok"
    assert "error" in lines["broken"] and "parse error" in out
    assert lines["nothing"].split()[0] == "empty"
    assert "too many series" in lines["crowded"] and "4 series" in lines["crowded"]
    assert "source   prom: ok (prometheus 2." in out


@pytest.mark.prometheus
def test_check_passes_on_the_shipped_and_test_layouts(prometheus: PrometheusServer,
                                                      tmp_path: Path) -> None:
    config = write_config(tmp_path, prometheus.url)
    result = run("check", "-c", str(config), "--layouts", str(LAYOUTS), cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "layout   prometheus" in result.stdout and "layout   known" in result.stdout


@pytest.mark.prometheus
def test_shipped_layouts_have_data_on_prometheus_and_node_exporter(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    """The generic layouts work on any Prometheus: here Debian's, scraping itself and
    Debian's node_exporter."""
    prometheus.wait_for("rate(node_cpu_seconds_total[5s])", timeout=30)
    result = run("check", "--prometheus", prometheus.url, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    status = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()
              if line.startswith("  ") and line.split()[0] in ("ok", "empty", "error")}
    for panel in ("targets-up", "head-series", "ingest-rate", "targets", "scrape-duration",
                  "samples-appended", "memory", "cpu-busy", "memory-used", "load", "uptime",
                  "cpu-modes", "network", "filesystem-used", "filesystems"):
        assert status.get(panel) == "ok", (panel, result.stdout)


@pytest.mark.prometheus
@pytest.mark.parametrize("suffix", [".svg", ".txt"])
def test_snapshot_writes_the_layout_once_it_has_data(prometheus: PrometheusServer,
                                                     tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"shot{suffix}"
    result = run("snapshot", "--prometheus", prometheus.url, "--layouts", str(LAYOUTS),
                 "--layout", "known", "--size", "100x30", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    text = out.read_text()
    if suffix == ".txt":
        lines = text.splitlines()
        assert len(lines) == 30 and max(len(line) for line in lines) <= 100
        assert "\x1b" not in text
        assert "Latency percentiles" in text and "gpu3" in text
        assert "loading" not in text
    else:
        assert text.startswith("<svg") and "Latency" in text


def test_snapshot_rejects_bad_arguments(tmp_path: Path) -> None:
    result = run("snapshot", "--prometheus", "http://127.0.0.1:9", "--size", "10x2",
                 "--out", str(tmp_path / "x.svg"))
    assert result.returncode == 1 and "out of range" in result.stderr
    result = run("snapshot", "--prometheus", "http://127.0.0.1:9", "--out",
                 str(tmp_path / "x.png"))
    assert result.returncode == 1 and ".svg or .txt" in result.stderr
    result = run("--prometheus", "ftp://example")
    assert result.returncode == 1 and "not an http(s) URL" in result.stderr
