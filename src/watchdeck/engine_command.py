"""``watchdeck engine``: the embedded engine on its own, over Prometheus's HTTP API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from watchdeck.core.config.loader import FileError
from watchdeck.core.durations import DurationError, parse_duration


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9090")
    return host.strip("[]"), int(port)


async def _serve(args: argparse.Namespace) -> int:
    from watchdeck.core.engine.runtime import EmbeddedEngine
    from watchdeck.core.engine.scrape import Target
    from watchdeck.core.engine.server import serve

    host, port = _address(args.listen)
    engine = EmbeddedEngine(
        [Target(url) for url in args.scrape],
        interval=parse_duration(args.interval), retention=parse_duration(args.retention),
        rule_files=args.rules,
    )
    for path in args.load:
        count = await asyncio.to_thread(engine.load_openmetrics, path)
        print(f"loaded {count:,} samples from {path}", flush=True)
    engine.start()
    try:
        runner = await serve(engine, host, port)
    except OSError as error:
        await engine.stop()
        print(f"watchdeck engine: cannot listen on {args.listen}: {error.strerror}",
              file=sys.stderr)
        return 1
    print(f"watchdeck engine listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await engine.stop()
    return 0


def run_engine(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve(args))
    except (ValueError, DurationError, OSError) as error:
        print(f"watchdeck engine: {error}", file=sys.stderr)
        return 1
    except FileError as error:
        print(f"watchdeck engine: rules not loaded:\n{error}", file=sys.stderr)
        return 1
