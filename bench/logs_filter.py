"""Logs: a new filter over a full 100,000-line buffer, and the console's answer to keys
while it filters.

    python bench/logs_filter.py [--lines 100000] [--presses-every 0.05]

watchdeck follows a JSON log (``--logs FILE --layout logs``, the 100,000-line buffer) in a
pseudo-terminal (120x40); the writer of ``bench/logs.py`` fills it with ``--lines`` lines
(~190 bytes each). Then, for each filter below, ``/``, the filter and enter are typed, and
``space`` is pressed every ``--presses-every`` seconds until the panel's border shows the
filter's count of lines (counted here from the file). The filter is typed a character every
20 ms. Reported per filter:

- the time from enter to the count on screen;
- key press to updated frame while it filters (the time until the status bar's PAUSED /
  LIVE is written): median and worst.

The filters: a level (read when the line arrived), a regex over the line, and two field
filters, which read each JSON line again.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import Console  # noqa: E402
from bench.logs import END, WRITER  # noqa: E402

LEVELS = {"debug": 2, "info": 3, "warning": 4, "error": 5}
FILTERS = [
    ("level>=warn", lambda row: LEVELS.get(row.get("level"), 0) >= 4),
    ("/vllm-[12]/", lambda row: re.search("vllm-[12]", json.dumps(row)) is not None),
    ("replica=vllm-1", lambda row: row.get("replica") == "vllm-1"),
    ("-replica=vllm-1", lambda row: row.get("replica") != "vllm-1"),
]


def fill(path: Path, lines: int) -> None:
    """The writer of bench/logs.py, as fast as the console keeps up (half a second)."""
    subprocess.run([sys.executable, "-c", WRITER, str(path), str(lines // 3), "3"],
                   check=True, stdout=subprocess.DEVNULL)


def expected(path: Path, test, capacity: int) -> int:  # type: ignore[no-untyped-def]
    rows = [json.loads(line) for line in path.read_text().splitlines()][-capacity:]
    return sum(1 for row in rows if test(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--presses-every", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="watchdeck-filterbench-") as tmp:
        path = Path(tmp) / "requests.jsonl"
        path.write_text('{"level": "info", "msg": "bench starting"}\n')
        console = Console(["--logs", str(path), "--layout", "logs"],
                          env={"WATCHDECK_CONFIG_DIR": tmp})
        try:
            console.wait_for(b"bench starting", timeout=30)
            offset = console.mark()
            fill(path, args.lines)
            if console.wait_after(END, offset, timeout=60) is None:
                raise SystemExit("the console never showed the end of the log")
            time.sleep(1.0)
            total = len(path.read_text().splitlines())
            capacity = min(total, 100_000)
            print(f"{total:,} lines written, {capacity:,} in the buffer; "
                  f"RSS {console.rss_mib():.0f} MiB", flush=True)
            for text, test in FILTERS:
                count = expected(path, test, capacity)
                marker = f"/{count:,} of {capacity:,}".encode()
                console.send(b"/")
                time.sleep(0.3)
                for character in text:  # typed, replacing the old filter (selected)
                    console.send(character.encode())
                    time.sleep(0.02)
                time.sleep(0.3)
                offset = console.mark()
                began = time.perf_counter()
                console.send(b"\r")
                took: float | None = None
                keys: list[float] = []
                paused = False
                while time.perf_counter() - began < 30:
                    if console.wait_after(marker, offset, timeout=0.001) is not None:
                        took = time.perf_counter() - began
                        break
                    mark = console.mark()
                    console.send(b" ")
                    paused = not paused
                    answer = console.wait_after(b"PAUSED" if paused else b"LIVE", mark,
                                                timeout=2.0)
                    if answer is not None:
                        keys.append(answer)
                    time.sleep(args.presses_every)
                if took is None:
                    took = console.wait_after(marker, offset, timeout=0.001)
                if paused:
                    console.send(b" ")
                    time.sleep(0.3)
                shown = "never (30 s)" if took is None else f"{took * 1000:.0f} ms"
                line = f"  {text:16} {count:>7,} lines: on screen after {shown}"
                if keys:
                    line += (f"; key → frame meanwhile: median "
                             f"{statistics.median(keys) * 1000:.0f} ms, worst "
                             f"{max(keys) * 1000:.0f} ms ({len(keys)} presses)")
                else:
                    line += "; no key press fitted in"
                print(line, flush=True)
        finally:
            console.quit()


if __name__ == "__main__":
    main()
