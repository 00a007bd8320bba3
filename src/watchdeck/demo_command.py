"""``watchdeck demo``: the synthetic fleet, the embedded engine on it, and the console.

One command, offline: the fleet's endpoints listen on loopback ports, the engine scrapes
them and evaluates the fleet's alerting rules, and the console opens on llm-overview.
Quitting stops all of it (no process, no open port left behind). ``--fleet-only`` runs the
fleet alone, for a real Prometheus to scrape.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchdeck.demo import Fleet
    from watchdeck.ui.app import WatchdeckApp

DEMO_SCRAPE_INTERVAL = "2s"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    from watchdeck.demo.cli import add_fleet_arguments

    add_fleet_arguments(parser)
    parser.add_argument("--fleet-only", action="store_true",
                        help="run the fleet alone and print its /metrics URLs")


def _log_path(args: argparse.Namespace) -> Path:
    if args.log_file is not None:
        return Path(args.log_file)
    from platformdirs import user_cache_dir

    directory = Path(user_cache_dir("watchdeck", appauthor=False)) / "demo"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "requests.jsonl"
    # A new demo, a new log: the last run's requests have no traces in this run's receiver.
    for old in (path, path.with_name(path.name + ".1")):
        old.unlink(missing_ok=True)
    return path


def run_demo(args: argparse.Namespace, layouts: list[Path]) -> int:
    from dataclasses import replace

    from watchdeck.demo.cli import config_from_arguments, serve_fleet

    fleet_config = replace(config_from_arguments(args), log_path=_log_path(args))
    if args.fleet_only:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_fleet(fleet_config))
        return 0

    from watchdeck.cli import _forget_stale_terminal_size
    from watchdeck.demo import Fleet

    _forget_stale_terminal_size()
    app = demo_app(Fleet(fleet_config), layouts, layout=args.layout, theme=args.theme)
    from watchdeck.cli import tune_gc

    tune_gc()
    app.run()
    if app.return_code:
        print("watchdeck demo ended with an error", file=sys.stderr)
    return app.return_code or 0


def demo_app(fleet: Fleet, layouts: list[Path], *, layout: str | None = None,
             theme: str | None = None, rules: Path | None = None,
             scrape_interval: str = DEMO_SCRAPE_INTERVAL) -> WatchdeckApp:
    """The console on the embedded engine scraping ``fleet`` (started by the engine's first
    discovery, stopped when the console closes), evaluating the fleet's rules."""
    from watchdeck.core.config.files import LoadedConfig
    from watchdeck.core.config.models import Config
    from watchdeck.core.config.types import convert
    from watchdeck.core.engine.scrape import Target
    from watchdeck.core.layouts import LayoutCatalog
    from watchdeck.core.paths import shipped_layouts_dir
    from watchdeck.core.sources import build_source
    from watchdeck.core.sources.scrape import ScrapeSource
    from watchdeck.ui.app import WatchdeckApp

    sources: dict[str, dict[str, object]] = {
        "demo": {"type": "scrape", "interval": scrape_interval,
                 "rules": [str(rules or fleet.rules_path)], "job": "demo"}}
    roles = {"metrics": "demo"}
    if fleet.config.log_path is not None:
        # The fleet's request log, followed like any log file.
        sources["demo-logs"] = {"type": "file", "path": str(fleet.config.log_path),
                                "backlog": 2000}
        roles["logs"] = "demo-logs"
    if fleet.config.span_exporter is None and not fleet.config.otlp_endpoint:
        # The embedded OTLP receiver on a free loopback port; the fleet's SDK exports each
        # request's trace to it (the endpoint is set once the port is known).
        sources["demo-traces"] = {"type": "otlp", "listen": "127.0.0.1:0"}
        roles["traces"] = "demo-traces"
    config = convert(Config, {"sources": sources, "roles": roles,
                              "default_layout": "llm-overview"})
    loaded = LoadedConfig(config=config, base_dir=Path.cwd())
    built = {name: build_source(name, spec, Path.cwd())
             for name, spec in config.sources.items() if name != "demo"}

    async def discover() -> list[Target]:
        receiver = built.get("demo-traces")
        if receiver is not None:
            problem = await receiver.listen()  # type: ignore[attr-defined]
            address = receiver.address  # type: ignore[attr-defined]
            if problem is None and address:
                fleet.config.otlp_endpoint = f"http://{address}"
        await fleet.start()
        return [Target(target.url, job=target.kind) for target in fleet.described_targets]

    source = ScrapeSource("demo", config.sources["demo"], Path.cwd(),  # type: ignore[arg-type]
                          discover=discover, on_close=fleet.stop)
    catalog = LayoutCatalog([shipped_layouts_dir(), *layouts], loaded.known_source_names(),
                            builtin_directory=shipped_layouts_dir())
    catalog.load()
    return WatchdeckApp(loaded, catalog, layout=layout, theme=theme,
                        sources={"demo": source, **built})
