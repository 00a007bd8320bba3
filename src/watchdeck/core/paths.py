"""Where watchdeck finds its files: the user's config, shipped layouts and themes."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def config_dir() -> Path:
    """The platform's config directory for watchdeck (``~/.config/watchdeck`` on Linux)."""
    override = os.environ.get("WATCHDECK_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("watchdeck", appauthor=False))


def default_config_path() -> Path:
    return config_dir() / "config.yaml"


def _shipped(name: str) -> Path:
    """A directory shipped with watchdeck: inside the wheel, else the source checkout's."""
    packaged = _PACKAGE / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent.parent / name


def shipped_layouts_dir() -> Path:
    return _shipped("layouts")


def shipped_themes_dir() -> Path:
    return _shipped("themes")


def shipped_schema_dir() -> Path:
    return _shipped("schema")


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def expand(path: str, base: Path | None = None) -> Path:
    """Expand ``~`` and env vars; a relative path is taken from ``base`` (the config's dir)."""
    expanded = Path(os.path.expandvars(os.path.expanduser(path)))
    if not expanded.is_absolute() and base is not None:
        expanded = base / expanded
    return expanded
