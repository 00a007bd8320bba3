"""Theme files (``themes/*.yaml``) as Textual themes, and the colours panels draw with."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from rich.style import Style
from textual.app import App
from textual.theme import Theme

from watchdeck.core.config.loader import FileError
from watchdeck.core.config.types import to_data
from watchdeck.core.themes import ThemeFile, load_theme_file

# Used when a theme (e.g. one of Textual's own) brings no series colours. Picked so that
# each one lands on a different colour when a terminal has only 16 or 256 colours.
DEFAULT_SERIES_DARK = (
    "#5fafff", "#ffaf00", "#5fd75f", "#ff5f87", "#af87ff", "#00d7d7", "#d7d75f", "#ff8700",
)
DEFAULT_SERIES_LIGHT = (
    "#005fd7", "#af5f00", "#008700", "#d70000", "#8700af", "#008787", "#5f5f00", "#d75f00",
)
SERIES_VARIABLES = 8


def to_textual_theme(spec: ThemeFile) -> Theme:
    variables = dict(spec.variables)
    for index, colour in enumerate(spec.series):
        variables[f"series-{index + 1}"] = colour
    for name, colour in to_data(spec.severity).items():
        if colour:
            variables[f"severity-{name}"] = colour
    return Theme(
        name=spec.name,
        primary=spec.primary,
        secondary=spec.secondary,
        accent=spec.accent,
        warning=spec.warning,
        error=spec.error,
        success=spec.success,
        foreground=spec.foreground,
        background=spec.background,
        surface=spec.surface,
        panel=spec.panel,
        boost=spec.boost,
        dark=spec.dark,
        variables=variables,
    )


def load_theme_dirs(directories: Iterable[Path]) -> tuple[list[Theme], list[FileError]]:
    """Every theme file in ``directories``; broken ones are returned as errors."""
    themes: list[Theme] = []
    errors: list[FileError] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.y*ml")):
            try:
                themes.append(to_textual_theme(load_theme_file(path)))
            except FileError as error:
                errors.append(error)
    return themes, errors


def series_palette(app: App[object]) -> tuple[str, ...]:
    variables = app.theme_variables
    colours = tuple(
        variables[f"series-{index}"]
        for index in range(1, SERIES_VARIABLES + 1)
        if f"series-{index}" in variables
    )
    if colours:
        return colours
    return DEFAULT_SERIES_DARK if app.current_theme.dark else DEFAULT_SERIES_LIGHT


def severity_colour(app: App[object], severity: str) -> str:
    variables = app.theme_variables
    fallback = {"critical": "error", "warning": "warning", "info": "primary"}.get(
        severity, "foreground"
    )
    return variables.get(f"severity-{severity}") or variables.get(fallback, "red")


@lru_cache(maxsize=256)
def colour_style(colour: str, bold: bool = False) -> Style:
    return Style(color=colour, bold=bold or None)


def theme_colour(app: App[object], name: str, fallback: str) -> str:
    """Theme variable ``name`` as a colour Rich can draw: variables with an alpha channel
    (``foreground-muted`` is ``#D0D0D099``) are blended over the theme's background."""
    from textual.color import Color

    variables = app.theme_variables
    value = variables.get(name)
    if not value:
        return fallback
    try:
        colour = Color.parse(value)
    except Exception:  # a theme file's odd value must not break drawing
        return fallback
    if colour.a < 1.0:
        try:
            background = Color.parse(variables.get("background", "#000000"))
        except Exception:
            background = Color(0, 0, 0)
        colour = background.blend(colour.with_alpha(1.0), colour.a)
    return colour.hex6


def cursor_background(app: App[object]) -> str:
    """The background of a selected row in the Line-API views (logs, waterfall)."""
    return theme_colour(app, "block-cursor-blurred-background",
                        theme_colour(app, "panel", "grey23"))
