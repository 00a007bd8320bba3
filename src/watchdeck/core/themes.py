"""Theme files: a validated, headless description of a theme (the UI makes it a Theme)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from msgspec import Meta, field

from watchdeck.core.config.loader import read_yaml_mapping, validate
from watchdeck.core.config.models import field_error
from watchdeck.core.config.types import StrictModel

_COLOUR = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|[a-z_]+|"
                     r"(rgb|hsl)a?\([^)]*\))$")


def _check_colour(name: str, value: str | None) -> None:
    if value is not None and not _COLOUR.match(value.strip()):
        raise field_error(name, f"not a colour: {value!r} (use #rrggbb, rgb(...) or a name)")


class Severity(StrictModel):
    critical: str | None = None
    warning: str | None = None
    info: str | None = None

    def __post_init__(self) -> None:
        for name in ("critical", "warning", "info"):
            _check_colour(name, getattr(self, name))


class ThemeFile(StrictModel):
    name: Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    primary: str
    dark: bool = True
    secondary: str | None = None
    accent: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None
    series: Annotated[list[str], Meta(max_length=16,
                                      description="Colours of chart series, in order.")] = field(
        default_factory=list)
    severity: Severity = field(default_factory=Severity)
    variables: Annotated[dict[str, str], Meta(description="Extra Textual CSS variables.")] = field(
        default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("primary", "secondary", "accent", "warning", "error", "success",
                     "foreground", "background", "surface", "panel", "boost"):
            _check_colour(name, getattr(self, name))
        for index, colour in enumerate(self.series):
            _check_colour(f"series.{index}", colour)


def load_theme_file(path: Path) -> ThemeFile:
    data, shown = read_yaml_mapping(path)
    return validate(ThemeFile, data, shown)
