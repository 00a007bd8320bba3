"""The wheel carries the shipped layouts, themes and schema, and they load from it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("watchdeck-*.whl")
    return built


def test_wheel_contains_layouts_themes_and_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for layout in (ROOT / "layouts").glob("*.yaml"):
        assert f"watchdeck/layouts/{layout.name}" in names
    for theme in (ROOT / "themes").glob("*.yaml"):
        assert f"watchdeck/themes/{theme.name}" in names
    assert "watchdeck/schema/layout.schema.json" in names
    assert "watchdeck/ui/app.tcss" in names
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "watchdeck = watchdeck.cli:main" in entry_points


def test_layouts_load_from_the_unpacked_wheel(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = (
        "from watchdeck.core.paths import shipped_layouts_dir, shipped_themes_dir;"
        "from watchdeck.core.layouts import LayoutCatalog;"
        "d = shipped_layouts_dir(); c = LayoutCatalog([d]); c.load();"
        "assert not c.errors, c.errors;"
        "print(d); print(sorted(c.entries));"
        "print(sorted(p.name for p in shipped_themes_dir().iterdir()))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert result.returncode == 0, result.stderr
    where, layouts, themes = result.stdout.splitlines()
    assert where.startswith(str(tmp_path))  # from the wheel, not the source checkout
    assert "prometheus" in layouts and "node" in layouts
    assert "watchdeck-dark.yaml" in themes
