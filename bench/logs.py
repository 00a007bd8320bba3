"""Logs: a file growing at a fixed rate, followed by watchdeck, lnav and toolong.

    python bench/logs.py [--rates 50000,100000,200000] [--seconds 8] [--toolong PATH]

For each tool and rate, a writer process appends JSON lines (like a serving fleet's
request log, ~190 bytes each) to a new file for ``--seconds``, then one end marker line.
Each tool runs in its own pseudo-terminal (120x40), following the file from the start of
the run. Reported per run:

- lines/s: lines written / (writing time + the lag until the end marker is on screen);
  "kept up" when that lag is under 2 s;
- CPU: the tool's user+system CPU over that time, in % of one core; RSS at the end;
- for watchdeck, key press to updated frame while the file grows: ``space`` is pressed
  every 0.25 s and the time until the status bar's PAUSED / LIVE is written is taken
  (p50, p99, worst; target p99 < 100 ms).

watchdeck runs as ``watchdeck --logs FILE --layout logs`` (the shipped full-screen logs
layout, 100,000-line buffer). lnav is Debian's (``apt-get install lnav``); toolong comes
from PyPI in a venv of its own (it pins an old Textual):
``python -m venv /tmp/tl && /tmp/tl/bin/pip install toolong``, then ``--toolong
/tmp/tl/bin/tl``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import Console  # noqa: E402

WRITER = textwrap.dedent("""
    import json, os, sys, time
    path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    levels = ["info"] * 17 + ["warning", "error", "debug"]
    def line(n):
        now = time.time()
        return json.dumps({
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
                    + ".%03dZ" % (int(now * 1000) % 1000),
            "level": levels[n % 20], "msg": "request finished", "replica": f"vllm-{n % 3}",
            "request_id": f"chatcmpl-{n:012d}", "trace_id": f"{n * 2654435761 % 16**32:032x}",
            "latency": round((n % 977) / 97.0, 3)}) + "\\n"
    batch = 500
    with open(path, "a", buffering=1 << 20) as out:
        began = time.monotonic()
        sent = 0
        while time.monotonic() - began < seconds:
            due = int((time.monotonic() - began) * rate)
            while sent + batch <= due:
                out.write("".join(line(n) for n in range(sent, sent + batch)))
                sent += batch
            out.flush()
            time.sleep(0.002)
        out.write(json.dumps({"level": "info", "msg": "END-OF-BENCH-RUN"}) + "\\n")
        out.flush()
    print(sent, time.monotonic() - began)
""")
END = b"END-OF-BENCH-RUN"


def run_one(tool: str, command: list[str], args: list[str], rate: int, seconds: float,
            probe_keys: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="watchdeck-logbench-") as tmp:
        path = Path(tmp) / "requests.jsonl"
        path.write_text('{"level": "info", "msg": "bench starting"}\n')
        env = {"WATCHDECK_CONFIG_DIR": tmp} if tool == "watchdeck" else {}
        console = Console([*args, str(path)] if tool != "watchdeck" else
                          ["--logs", str(path), "--layout", "logs"],
                          command=command if tool != "watchdeck" else None, env=env)
        try:
            console.wait_for(b"bench starting", timeout=30)
            time.sleep(1.0)
            cpu_before = console.cpu_seconds()
            began = time.perf_counter()
            writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(rate),
                                       str(seconds)], stdout=subprocess.PIPE, text=True)
            latencies: list[float] = []
            missed = 0
            paused = False
            while writer.poll() is None:
                if probe_keys:
                    offset = console.mark()
                    console.send(b" ")
                    paused = not paused
                    took = console.wait_after(b"PAUSED" if paused else b"LIVE", offset,
                                              timeout=2.0)
                    if took is None:
                        missed += 1
                    else:
                        latencies.append(took)
                time.sleep(0.25)
            if paused:  # live again, so the end marker is drawn
                console.send(b" ")
            out, _ = writer.communicate()
            sent, wrote_for = out.split()
            written_at = time.perf_counter()
            offset = console.mark()
            lag = console.wait_after(END, max(0, offset - 400_000), timeout=60)
            ended = time.perf_counter()
            cpu = console.cpu_seconds() - cpu_before
            rss = console.rss_mib()
            total = int(sent)
            wall = (written_at - began) + (lag if lag is not None else 60)
            return {
                "tool": tool, "rate": rate, "lines": total, "lag": lag,
                "rate_kept": total / wall, "cpu": cpu / (ended - began) * 100, "rss": rss,
                "keys": latencies, "missed": missed, "written_for": float(wrote_for),
            }
        finally:
            console.quit() if tool == "watchdeck" else _stop(console, tool)


def _stop(console: Console, tool: str) -> None:
    try:
        console.send(b"q" if tool == "lnav" else b"\x11")  # toolong quits on ctrl+q
        console.process.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        console.process.kill()
        console.process.wait(timeout=5)
    finally:
        console._stop = True  # noqa: SLF001
        console.thread.join(timeout=2)
        os.close(console.master)


def report(result: dict[str, object]) -> None:
    lag = result["lag"]
    kept = lag is not None and lag < 2.0  # type: ignore[operator]
    line = (f"  {result['tool']:9} {result['rate']:>8,}/s: {result['lines']:>9,} lines, "
            f"end on screen after {'—' if lag is None else f'{lag:.2f} s'}"
            f" ({'kept up' if kept else 'fell behind'}; {result['rate_kept']:,.0f} lines/s), "
            f"CPU {result['cpu']:.0f} %, RSS {result['rss']:.0f} MiB")
    keys = result["keys"]
    if keys:
        ordered = sorted(keys)  # type: ignore[arg-type]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        line += (f"\n            key → frame: p50 {statistics.median(ordered) * 1000:.0f} ms, "
                 f"p99 {p99 * 1000:.0f} ms, worst {ordered[-1] * 1000:.0f} ms "
                 f"({len(ordered)} presses, {result['missed']} not answered within 2 s)")
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="50000,100000,200000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--toolong", default=shutil.which("tl"),
                        help="the toolong command (tl), from a venv of its own")
    parser.add_argument("--only", help="watchdeck, lnav or toolong")
    args = parser.parse_args()
    rates = [int(rate) for rate in args.rates.split(",")]
    tools: list[tuple[str, list[str], list[str]]] = [("watchdeck", [], [])]
    if shutil.which("lnav"):
        tools.append(("lnav", ["lnav"], []))
    else:
        print("lnav not found (apt-get install lnav): skipped")
    if args.toolong:
        tools.append(("toolong", [args.toolong], []))
    else:
        print("toolong not found (--toolong PATH): skipped")
    if args.only:
        tools = [tool for tool in tools if tool[0] == args.only]
    for rate in rates:
        print(f"{rate:,} lines/s for {args.seconds:.0f} s:", flush=True)
        for tool, command, extra in tools:
            report(run_one(tool, command, extra, rate, args.seconds,
                           probe_keys=tool == "watchdeck"))


if __name__ == "__main__":
    main()
