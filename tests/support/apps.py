"""Building the app for tests and waiting on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from watchdeck.core.config.files import load_config
from watchdeck.core.layouts import LayoutCatalog
from watchdeck.core.paths import shipped_layouts_dir
from watchdeck.ui.app import WatchdeckApp


def write_config(directory: Path, prometheus_url: str, extra: str = "",
                 scrape_interval: str = "1s") -> Path:
    path = directory / "config.yaml"
    path.write_text(
        f"""sources:
  prom:
    type: prometheus
    url: {prometheus_url}
    scrape_interval: {scrape_interval}
    timeout: 3s
{extra}""",
        encoding="utf-8",
    )
    return path


def make_app(config_path: Path, layouts: Path | None = None, *, shipped: bool = False,
             **kwargs: object) -> WatchdeckApp:
    loaded = load_config(config_path)
    directories = ([shipped_layouts_dir()] if shipped else []) + ([layouts] if layouts else [])
    catalog = LayoutCatalog(directories, loaded.known_source_names())
    catalog.load()
    return WatchdeckApp(loaded, catalog, **kwargs)  # type: ignore[arg-type]


async def wait_until(pilot: Pilot[object], predicate: Callable[[], bool],
                     timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def settle() -> None:
    await asyncio.sleep(0)


def type_in_one_burst(app: WatchdeckApp, first: str, text: str, enter: bool = True) -> None:
    """Queue key ``first`` (a key name: ``slash``), each character of ``text`` and enter
    before the app handles any of them: a fast typist, or an SSH link that batches keys."""
    post_keys(app, first, *typed(text), *(["enter"] if enter else []))


def typed(text: str) -> list[tuple[str, str]]:
    """The keys of typing ``text``, as (key name, character)."""
    from textual.keys import _character_to_key

    return [(_character_to_key(character), character) for character in text]


_CHARACTERS = {"slash": "/", "enter": "\r", "escape": "\x1b", "tab": "\t", "space": " "}


def post_keys(app: WatchdeckApp, *keys: str | tuple[str, str]) -> None:
    """Queue these keys (names, ``slash`` ``ctrl+u`` ``w``, or pairs from :func:`typed`)
    before any of them is handled."""
    from textual import events

    for key in keys:
        if isinstance(key, tuple):
            app.post_message(events.Key(*key))
        else:
            app.post_message(events.Key(key, _CHARACTERS.get(key, key if len(key) == 1
                                                               else None)))
