"""Theme files: a validated, headless description of a theme (the UI makes it a Theme)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from watchdeck.core.config.loader import read_yaml_mapping, validate
from watchdeck.core.config.types import StrictModel

_COLOUR = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|[a-z_]+|"
                     r"(rgb|hsl)a?\([^)]*\))$")


def _check_colour(value: str) -> str:
    if not _COLOUR.match(value.strip()):
        raise ValueError(f"not a colour: {value!r} (use #rrggbb, rgb(...) or a colour name)")
    return value.strip()


class Severity(StrictModel):
    critical: str | None = None
    warning: str | None = None
    info: str | None = None

    @field_validator("critical", "warning", "info")
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        return None if value is None else _check_colour(value)


class ThemeFile(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    dark: bool = True
    primary: str
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
    series: list[str] = Field(default_factory=list, max_length=16,
                              description="Colours of chart series, in order.")
    severity: Severity = Field(default_factory=Severity)
    variables: dict[str, str] = Field(default_factory=dict,
                                      description="Extra Textual CSS variables.")

    @field_validator("primary", "secondary", "accent", "warning", "error", "success",
                     "foreground", "background", "surface", "panel", "boost")
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        return None if value is None else _check_colour(value)

    @field_validator("series")
    @classmethod
    def _series(cls, values: list[str]) -> list[str]:
        return [_check_colour(value) for value in values]


def load_theme_file(path: Path) -> ThemeFile:
    data, shown = read_yaml_mapping(path)
    return validate(ThemeFile, data, shown)
