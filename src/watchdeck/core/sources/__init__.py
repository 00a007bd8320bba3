"""Backend clients. Each returns model types and raises :mod:`watchdeck.core.errors`."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchdeck.core.config.files import LoadedConfig
    from watchdeck.core.sources.base import Source


# Source type -> (module, class); imported only when configured, so a console that reads
# one Prometheus never loads the websocket, OTLP or Loki clients.
_CLIENTS: dict[str, tuple[str, str]] = {
    "prometheus": ("watchdeck.core.sources.prometheus", "PrometheusSource"),
    "alertmanager": ("watchdeck.core.sources.alertmanager", "AlertmanagerSource"),
    "scrape": ("watchdeck.core.sources.scrape", "ScrapeSource"),
    "loki": ("watchdeck.core.sources.loki", "LokiSource"),
    "file": ("watchdeck.core.sources.logfile", "FileLogSource"),
    "command": ("watchdeck.core.sources.command", "CommandLogSource"),
    "websocket": ("watchdeck.core.sources.websocket", "WebSocketLogSource"),
    "otlp": ("watchdeck.core.sources.otlp", "OTLPSource"),
    "jaeger": ("watchdeck.core.sources.jaeger", "JaegerSource"),
    "tempo": ("watchdeck.core.sources.tempo", "TempoSource"),
}


def build_source(name: str, config: object, base_dir: Path) -> Source:
    """A client for one configured source."""
    kind = getattr(config, "type", None)
    found = _CLIENTS.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise ValueError(f"source type {kind!r} is not supported")
    module, cls = found
    return getattr(importlib.import_module(module), cls)(name, config, base_dir)  # type: ignore[no-any-return]


def build_sources(loaded: LoadedConfig) -> dict[str, Source]:
    return {
        name: build_source(name, config, loaded.base_dir)
        for name, config in loaded.config.sources.items()
    }
