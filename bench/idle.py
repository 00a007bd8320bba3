"""Idle cost: CPU and terminal bytes of the console over 60 s, 12 panels refreshing every
2 s against a real Prometheus.

    python bench/idle.py [--seconds 60] [--range 1h] [--warmup 10]

The console runs in a 120x40 pseudo-terminal, everything it writes is counted. Figures:
CPU time of the process as a share of one core, bytes written to the terminal per
minute, resident memory at the end. Run it with --range 5m too: a short window means new
points on every poll, the busy case.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _harness import Backend, Console

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--range", default="1h")
    args = parser.parse_args()

    template = (HERE / "layouts" / "idle.yaml.in").read_text()
    with tempfile.TemporaryDirectory() as layouts, Backend() as backend:
        Path(layouts, "idle.yaml").write_text(template.replace("RANGE", args.range))
        console = Console(["--prometheus", backend.url, "--layouts", layouts,
                           "--layout", "bench-idle"])
        try:
            console.wait_for("● live".encode())
            time.sleep(args.warmup)
            cpu_before, bytes_before = console.cpu_seconds(), console.bytes_total
            started = time.perf_counter()
            time.sleep(args.seconds)
            elapsed = time.perf_counter() - started
            cpu = console.cpu_seconds() - cpu_before
            written = console.bytes_total - bytes_before
            rss = console.rss_mib()
            screen = bytes(console.output[-200_000:]).decode("utf-8", "replace")
        finally:
            code = console.quit()
    panels_live = screen.count("● live")
    print(f"12 panels, refresh 2 s, range {args.range}, 120x40, measured over {elapsed:.0f} s "
          f"after {args.warmup:.0f} s of warm-up")
    print(f"  CPU:              {100 * cpu / elapsed:.2f} % of one core ({cpu:.2f} s)")
    print(f"  terminal output:  {written * 60 / elapsed / 1024:.1f} KiB per minute")
    print(f"  resident memory:  {rss:.1f} MiB")
    print(f"  (live badges in the last frames: {panels_live}; exit code {code})")


if __name__ == "__main__":
    main()
