"""Start-up: process start to the first painted frame of ``watchdeck --prometheus URL``.

    python bench/startup.py [--runs N]

The console runs in a 120x40 pseudo-terminal against a real Prometheus. Figures:
  * first frame: the first panel title written to the terminal (the dashboard drawn,
    panels still loading),
  * data: the first "live" badge (a panel drawn with data),
  * for scale: ``watchdeck --version`` (interpreter and command-line start only).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from _harness import Backend, Console, watchdeck_command


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    versions = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([*watchdeck_command(), "--version"], check=True, capture_output=True)
        versions.append(time.perf_counter() - start)

    firsts, lives = [], []
    with Backend() as backend:
        for _ in range(args.runs + 1):
            console = Console(["--prometheus", backend.url, "--layout", "prometheus"])
            try:
                firsts.append(console.wait_for(b"Targets up"))
                lives.append(console.wait_for("● live".encode()))
            finally:
                console.quit()
    firsts, lives = firsts[1:], lives[1:]  # the first run warms the disk cache

    def line(name: str, values: list[float]) -> str:
        return (f"{name:<34} median {statistics.median(values):.3f} s   "
                f"min {min(values):.3f} s   max {max(values):.3f} s")

    print(f"{args.runs} runs each, 120x40 pseudo-terminal")
    print(line("watchdeck --version", versions))
    print(line("first painted frame (panels)", firsts))
    print(line("first panel with data", lives))


if __name__ == "__main__":
    main()
