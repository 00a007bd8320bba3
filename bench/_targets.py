"""Scrape targets for bench/engine.py: N ports, each serving M series that change on
every scrape. Runs as its own process so its CPU is not counted as the engine's.

    python bench/_targets.py PORT [PORT ...] --series 2000
"""

from __future__ import annotations

import argparse
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ports", type=int, nargs="+")
    parser.add_argument("--series", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(1)
    counters = {port: [rng.uniform(0, 1e6) for _ in range(args.series)] for port in args.ports}

    def handler_for(port: int) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                values = counters[port]
                lines = ["# HELP bench_requests_total Requests.",
                         "# TYPE bench_requests_total counter"]
                for i in range(len(values)):
                    values[i] += rng.uniform(0, 10)
                    lines.append(f'bench_requests_total{{path="/p{i % 50}",code="{200 + i % 5}",'
                                 f'shard="s{i}"}} {values[i]:.3f}')
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        return Handler

    servers = [ThreadingHTTPServer(("127.0.0.1", port), handler_for(port))
               for port in args.ports]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
