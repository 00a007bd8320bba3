"""The command line: ``watchdeck``, ``watchdeck check``, ``watchdeck snapshot``.

Kept light: Textual is imported only when a console is actually started, so
``--version`` and ``check`` answer quickly.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from watchdeck import __version__

START_HELP = """\
watchdeck needs something to watch. Try the demo fleet first:
  watchdeck demo
or watch your own:
  watchdeck --prometheus http://localhost:9090     (no config needed)
  watchdeck --scrape http://localhost:8000/metrics (scrapes it itself)
  watchdeck -c config.yaml                         (see README: "Config file")
or write {path}.
"""


def _add_common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Source options every command takes. Sub-commands suppress defaults so the
    values given before the sub-command survive."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("-c", "--config", metavar="FILE", type=Path, default=default,
                        help="config file (default: the platform's config dir)")
    parser.add_argument("--layouts", metavar="DIR", type=Path, action="append",
                        default=argparse.SUPPRESS if suppress else [],
                        help="extra layout directory (repeatable)")
    parser.add_argument("--prometheus", metavar="URL", default=default,
                        help="use this Prometheus (no config needed)")
    parser.add_argument("--alertmanager", metavar="URL", default=default,
                        help="use this Alertmanager for alerts and silences")
    parser.add_argument("--scrape", metavar="URL", action="append",
                        default=argparse.SUPPRESS if suppress else [],
                        help="scrape this /metrics endpoint with the embedded engine "
                             "(repeatable; no Prometheus needed)")
    parser.add_argument("--loki", metavar="URL", default=default, help="use this Loki for logs")
    parser.add_argument("--logs", metavar="FILE", action="append",
                        default=argparse.SUPPRESS if suppress else [],
                        help="follow this log file or glob (repeatable)")
    parser.add_argument("--tempo", metavar="URL", default=default,
                        help="use this Tempo for traces")
    parser.add_argument("--jaeger", metavar="URL", default=default,
                        help="use this Jaeger query service for traces")
    parser.add_argument("--otlp", metavar="HOST:PORT", default=default,
                        help="receive OTLP/HTTP traces and logs here (e.g. 127.0.0.1:4318)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watchdeck",
        description="A terminal console for live production systems.",
    )
    parser.add_argument("--version", action="version", version=f"watchdeck {__version__}")
    _add_common(parser, suppress=False)
    parser.add_argument("--layout", metavar="NAME", help="layout to show first")
    parser.add_argument("--theme", metavar="NAME", help="theme (a themes/ file or Textual's)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="validate config and layouts, run every query once")
    _add_common(check, suppress=True)

    snapshot = commands.add_parser("snapshot", help="render one layout headless to SVG or text")
    _add_common(snapshot, suppress=True)
    snapshot.add_argument("--layout", metavar="NAME", default=argparse.SUPPRESS)
    snapshot.add_argument("--theme", metavar="NAME", default=argparse.SUPPRESS)
    snapshot.add_argument("--size", default="120x40", metavar="WxH", help="terminal size")
    snapshot.add_argument("--wait", type=float, default=15.0, metavar="SECONDS",
                          help="longest wait for panel data (default 15)")
    snapshot.add_argument("--out", type=Path, required=True, metavar="FILE.svg|FILE.txt")

    demo = commands.add_parser(
        "demo", help="a synthetic LLM-serving fleet and the console on it, offline")
    demo.add_argument("--layout", metavar="NAME", default=argparse.SUPPRESS)
    demo.add_argument("--theme", metavar="NAME", default=argparse.SUPPRESS)
    demo.add_argument("--layouts", metavar="DIR", type=Path, action="append",
                      default=argparse.SUPPRESS, help="extra layout directory (repeatable)")
    from watchdeck.demo_command import add_demo_arguments

    add_demo_arguments(demo)

    engine = commands.add_parser(
        "engine", help="the embedded engine served over Prometheus's HTTP API")
    engine.add_argument("--listen", default="127.0.0.1:9090", metavar="ADDR",
                        help="host:port to listen on (default 127.0.0.1:9090)")
    engine.add_argument("--scrape", metavar="URL", action="append", default=[],
                        help="a /metrics endpoint to scrape (repeatable)")
    engine.add_argument("--load", metavar="FILE.om", type=Path, action="append", default=[],
                        help="OpenMetrics file with timestamps to load (repeatable)")
    engine.add_argument("--rules", metavar="FILE", type=Path, action="append", default=[],
                        help="Prometheus rule file (repeatable)")
    engine.add_argument("--interval", default="15s", help="scrape and rule interval")
    engine.add_argument("--retention", default="3h", help="how long samples are kept")
    return parser


def _error(message: str) -> int:
    print(f"watchdeck: {message}", file=sys.stderr)
    return 1


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Config (from -c, the default path, or flags) and the layout catalog."""
    from watchdeck.core.config.files import config_from_flags, load_config
    from watchdeck.core.layouts import LayoutCatalog
    from watchdeck.core.paths import default_config_path, expand, shipped_layouts_dir

    loaded = None
    if args.config is not None:
        loaded = load_config(args.config)
    elif default_config_path().is_file():
        loaded = load_config(default_config_path())
    loaded = config_from_flags(loaded, prometheus=args.prometheus, scrape=args.scrape,
                               alertmanager=args.alertmanager, loki=args.loki,
                               logs=args.logs, tempo=args.tempo, jaeger=args.jaeger,
                               otlp=args.otlp)
    directories = [shipped_layouts_dir()]
    if loaded is not None:
        directories += [expand(d, loaded.base_dir) for d in loaded.config.layouts]
    directories += list(args.layouts or [])
    known = loaded.known_source_names() if loaded is not None else None
    catalog = LayoutCatalog(directories, known, builtin_directory=shipped_layouts_dir())
    catalog.load()
    return loaded, catalog


def _parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match:
        raise ValueError(f"bad --size {text!r} (expected WxH, e.g. 120x40)")
    width, height = int(match.group(1)), int(match.group(2))
    if not (20 <= width <= 1000 and 6 <= height <= 500):
        raise ValueError(f"--size {text} is out of range (20x6 to 1000x500)")
    return width, height


def _forget_stale_terminal_size() -> None:
    """Drop exported ``COLUMNS``/``LINES`` when we have a real terminal.

    Textual sizes itself with ``shutil.get_terminal_size()``, which prefers these
    variables to the terminal: a shell profile or a parent tool that exports them makes
    the console draw at the wrong size and ignore resizes.
    """
    if sys.stdout.isatty() or sys.stderr.isatty():
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "engine":
        from watchdeck.engine_command import run_engine

        return run_engine(args)
    if args.command == "demo":
        from watchdeck.demo_command import run_demo

        return run_demo(args, list(args.layouts or []))
    from watchdeck.core.config.files import FlagError
    from watchdeck.core.config.loader import FileError
    from watchdeck.core.paths import default_config_path

    try:
        loaded, catalog = _load(args)
    except FileError as error:
        return _error(f"config not loaded:\n{error}")
    except FlagError as error:
        return _error(str(error))

    if args.command == "check":
        from watchdeck.core.check import check

        return check(loaded, catalog)

    if loaded is None:
        print(START_HELP.format(path=default_config_path()), file=sys.stderr)
        return 2

    if args.command == "snapshot":
        try:
            size = _parse_size(args.size)
        except ValueError as error:
            return _error(str(error))
        if args.out.suffix.lower() not in (".svg", ".txt"):
            return _error("--out must end in .svg or .txt")
        layout = getattr(args, "layout", None)
        if layout is not None and layout not in catalog.entries:
            return _error(f"no layout named '{layout}' (have: {', '.join(catalog.entries)})")
        from watchdeck.ui.app import SnapshotRequest, WatchdeckApp

        app = WatchdeckApp(loaded, catalog, layout=layout, theme=getattr(args, "theme", None),
                           snapshot=SnapshotRequest(args.out, args.wait), poll_layouts=False)
        app.run(headless=True, size=size)
        if app.return_code == 0:
            print(f"wrote {args.out}")
        return app.return_code if app.return_code is not None else 1

    from watchdeck.ui.app import WatchdeckApp

    _forget_stale_terminal_size()
    app = WatchdeckApp(loaded, catalog, layout=args.layout, theme=args.theme)
    tune_gc()
    app.run()
    return app.return_code or 0


def tune_gc() -> None:
    """Garbage collection for a console that holds 100,000 log lines and 200,000 spans:
    what is loaded by now (Textual, the clients) is frozen out of every collection, and the
    young generation is collected less often, so the full collections that walk every
    buffered line come rarely (each one is a pause the user can feel)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


if __name__ == "__main__":
    raise SystemExit(main())
