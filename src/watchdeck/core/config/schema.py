"""JSON Schema for layout and config files, generated from the models.

``python -m watchdeck.core.config.schema`` rewrites the committed copies in ``schema/``;
``tests/test_schema.py`` fails when they drift from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from watchdeck.core.config.models import Config, Layout
from watchdeck.core.config.types import DURATION_SCHEMA, Duration

SCHEMAS = {"layout.schema.json": Layout, "config.schema.json": Config}


def _hook(kind: type) -> dict[str, Any]:
    if kind is Duration:
        return dict(DURATION_SCHEMA)
    raise NotImplementedError(kind)


def render(model: type) -> str:
    schema = msgspec.json.schema(model, schema_hook=_hook)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://watchdeck.dev/schema/{model.__name__.lower()}.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, model in SCHEMAS.items():
        path = directory / filename
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("schema")
    for path in write(target):
        print(f"wrote {path}")
