"""The committed JSON Schemas match the models, and shipped layouts are valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchdeck.core.config.models import ROLES
from watchdeck.core.config.schema import SCHEMAS, render, write
from watchdeck.core.layouts import load_layout

REPO = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO / "schema"
LAYOUTS = sorted((REPO / "layouts").glob("*.y*ml"))


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("filename", sorted(SCHEMAS))
def test_committed_schema_matches_the_models(filename: str) -> None:
    committed = (SCHEMA_DIR / filename).read_text(encoding="utf-8")
    assert committed == render(SCHEMAS[filename]), (
        f"schema/{filename} is out of date: run `python -m watchdeck.core.config.schema`"
    )


def _root(schema: dict) -> dict:
    """The top object of a schema, following a $ref into $defs."""
    ref = schema.get("$ref")
    return schema["$defs"][ref.rsplit("/", 1)[-1]] if ref else schema


def test_schemas_describe_the_contract() -> None:
    layout = _root(json.loads(render(SCHEMAS["layout.schema.json"])))
    assert {"panels", "variables", "columns", "range", "refresh", "key"} <= set(
        layout["properties"])
    assert layout["required"] == ["panels"]
    assert layout["additionalProperties"] is False
    config = _root(json.loads(render(SCHEMAS["config.schema.json"])))
    assert {"sources", "roles", "layouts", "theme", "keymap"} <= set(config["properties"])


def test_write_produces_the_rendered_files(tmp_path: Path) -> None:
    written = write(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(SCHEMAS)
    for path in written:
        assert path.read_text(encoding="utf-8") == render(SCHEMAS[path.name])


def test_there_are_shipped_layouts() -> None:
    assert LAYOUTS, "no layouts/*.yaml found"


@pytest.mark.parametrize("path", LAYOUTS, ids=lambda p: p.name)
def test_shipped_layout_loads(path: Path) -> None:
    entry = load_layout(path, known_sources=set(ROLES))
    assert entry.layout.panels
    assert entry.name == (entry.layout.name or path.stem)


def test_shipped_layouts_have_distinct_names_and_keys() -> None:
    entries = [load_layout(path) for path in LAYOUTS]
    names = [e.name for e in entries]
    keys = [e.layout.key for e in entries if e.layout.key]
    assert len(names) == len(set(names))
    assert len(keys) == len(set(keys))


@pytest.fixture(scope="module")
def layout_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMA_DIR / "layout.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", LAYOUTS, ids=lambda p: p.name)
def test_shipped_layout_validates_against_the_json_schema(path: Path, layout_validator: Any
                                                          ) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in layout_validator.iter_errors(read_yaml(path))]
    assert errors == []


@pytest.mark.parametrize(
    "layout",
    [
        {"panels": [{"type": "gauge", "queries": [{"expr": "up"}]}]},
        {"panels": [{"type": "stat", "queries": [{"expr": "up"}], "colour": "red"}]},
        {"panels": [{"type": "stat", "queries": [{"expr": "up"}]}], "refresh": "5x"},
        {"panels": []},
        {"title": "no panels"},
    ],
)
def test_the_json_schema_rejects_broken_layouts(layout: dict[str, Any],
                                                layout_validator: Any) -> None:
    assert list(layout_validator.iter_errors(layout))
