"""Apps on the synthetic source (no network), for key, state and snapshot tests."""

from __future__ import annotations

from pathlib import Path

from tests.support.fakes import Clock, SyntheticSource
from watchdeck.core.config.files import LoadedConfig
from watchdeck.core.config.models import Config
from watchdeck.core.config.types import convert
from watchdeck.core.layouts import LayoutCatalog
from watchdeck.core.sources import build_source
from watchdeck.ui.app import WatchdeckApp

SYNTHETIC_LAYOUTS = Path(__file__).resolve().parent.parent / "data" / "synthetic"


def synthetic_app(
    layouts: Path = SYNTHETIC_LAYOUTS,
    *,
    source: SyntheticSource | None = None,
    clock: Clock | None = None,
    config: dict[str, object] | None = None,
    **kwargs: object,
) -> tuple[WatchdeckApp, SyntheticSource, Clock]:
    data: dict[str, object] = {
        "sources": {"prom": {"type": "prometheus", "url": "http://127.0.0.1:9",
                             "scrape_interval": "15s"}},
        **(config or {}),
    }
    loaded = LoadedConfig(convert(Config, data), base_dir=layouts)
    catalog = LayoutCatalog([layouts], loaded.known_source_names())
    catalog.load()
    source = source or SyntheticSource()
    clock = clock or Clock()
    sources: dict[str, object] = {"prom": source}
    for name, settings in loaded.config.sources.items():  # real clients for the others
        if name != "prom":
            sources[name] = build_source(name, settings, layouts)
    app = WatchdeckApp(loaded, catalog, sources=sources, clock=clock,  # type: ignore[arg-type]
                       **kwargs)  # type: ignore[arg-type]
    return app, source, clock
