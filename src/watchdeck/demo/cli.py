"""``python -m watchdeck.demo --fleet-only``: the fleet alone, for a real Prometheus.

The console's ``watchdeck demo --fleet-only`` can reuse :func:`add_fleet_arguments`,
:func:`config_from_arguments` and :func:`serve_fleet`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TextIO

from watchdeck.demo.config import INCIDENT_KINDS, FleetConfig


def add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0,
                        help="same seed, same requests and incidents (default 0)")
    parser.add_argument("--replicas", type=int, default=3, help="vLLM replicas (default 3)")
    parser.add_argument("--gpus", type=int, default=4, help="GPUs, 1 to 8 (default 4)")
    parser.add_argument("--incident-every", type=float, default=180.0, metavar="SECONDS",
                        help="a scripted incident starts this often (default 180)")
    parser.add_argument("--incidents", default=",".join(INCIDENT_KINDS), metavar="KINDS",
                        help="comma-separated incident kinds, or 'none' "
                             f"(default: all of {', '.join(INCIDENT_KINDS)})")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="run the day curve and the incident script this many times "
                             "faster (default 1)")
    parser.add_argument("--log-file", type=Path, metavar="PATH",
                        help="write one JSON line per request here")


def config_from_arguments(args: argparse.Namespace) -> FleetConfig:
    kinds = () if args.incidents.strip() in ("", "none") else tuple(
        k.strip() for k in args.incidents.split(",") if k.strip())
    return FleetConfig(replicas=args.replicas, gpus=args.gpus, seed=args.seed,
                       log_path=args.log_file, incident_every=args.incident_every,
                       speed=args.speed, incident_kinds=kinds)


async def serve_fleet(config: FleetConfig, out: TextIO = sys.stdout) -> None:
    """Start the fleet, say where it is, run until SIGINT or SIGTERM, stop cleanly."""
    from watchdeck.demo.fleet import Fleet

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    fleet = Fleet(config)
    try:
        await fleet.start()
        print(f"watchdeck demo fleet (seed {config.seed}): {len(fleet.targets)} targets",
              file=out)
        for target in fleet.described_targets:
            print(f"  {target.url}  {target.kind}: {target.detail}", file=out)
        print(f"rules: {fleet.rules_path}", file=out)
        if config.log_path is not None:
            print(f"logs: {config.log_path}", file=out)
        print("Ctrl-C to stop", file=out, flush=True)
        await stop.wait()
    finally:
        await fleet.stop()
        for signum in handled:
            loop.remove_signal_handler(signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m watchdeck.demo",
        description="A synthetic LLM-serving fleet: vLLM replicas, a dcgm-exporter and a "
                    "gateway on loopback ports, with scripted incidents.")
    parser.add_argument("--fleet-only", action="store_true",
                        help="run the fleet alone (the console on it is `watchdeck demo`)")
    add_fleet_arguments(parser)
    args = parser.parse_args(argv)
    if not args.fleet_only:
        parser.error("the console on the fleet is `watchdeck demo`; "
                     "add --fleet-only to run the fleet alone")
    try:
        config = config_from_arguments(args)
    except ValueError as error:
        parser.error(str(error))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_fleet(config))
    return 0
