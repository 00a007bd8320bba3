"""Themes: files become Textual themes; series stay distinct on 256 and 16 colours."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.color import Color, ColorSystem

from watchdeck.core.config.loader import FileError
from watchdeck.core.paths import shipped_themes_dir
from watchdeck.core.themes import load_theme_file
from watchdeck.ui.themes import DEFAULT_SERIES_DARK, DEFAULT_SERIES_LIGHT, load_theme_dirs

THEMES = sorted(shipped_themes_dir().glob("*.yaml"))


def test_at_least_dark_light_and_high_contrast_ship() -> None:
    names = {load_theme_file(path).name for path in THEMES}
    assert {"watchdeck-dark", "watchdeck-light", "watchdeck-high-contrast"} <= names
    assert any(not load_theme_file(path).dark for path in THEMES)


def palettes() -> list[tuple[str, list[str]]]:
    found = [(load_theme_file(p).name, load_theme_file(p).series) for p in THEMES]
    return found + [("default-dark", list(DEFAULT_SERIES_DARK)),
                    ("default-light", list(DEFAULT_SERIES_LIGHT))]


@pytest.mark.parametrize(("name", "series"), palettes())
@pytest.mark.parametrize(("system", "distinct"), [(ColorSystem.EIGHT_BIT, 8),
                                                  (ColorSystem.STANDARD, 6)])
def test_series_colours_stay_distinct_when_downgraded(name: str, series: list[str],
                                                      system: ColorSystem, distinct: int) -> None:
    """The first series must not merge into one colour on a 256- or 16-colour terminal."""
    downgraded = [Color.parse(colour).downgrade(system) for colour in series[:distinct]]
    numbers = [colour.number for colour in downgraded]
    assert len(set(numbers)) == len(numbers), f"{name}: {series[:distinct]} -> {numbers}"


def test_severity_colours_differ_on_16_colours() -> None:
    for path in THEMES:
        severity = load_theme_file(path).severity
        colours = [severity.critical, severity.warning, severity.info]
        assert all(colours)
        numbers = {Color.parse(c).downgrade(ColorSystem.STANDARD).number for c in colours}
        assert len(numbers) == 3, path.name


def test_a_broken_theme_file_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("name: good\nprimary: '#336699'\n")
    (tmp_path / "bad.yaml").write_text("name: bad\nprimary: '#33669'\nseries: [red, nope!]\n")
    themes, errors = load_theme_dirs([tmp_path])
    assert [theme.name for theme in themes] == ["good"]
    (error,) = errors
    assert isinstance(error, FileError)
    assert "bad.yaml:2" in str(error) and "not a colour" in str(error)
