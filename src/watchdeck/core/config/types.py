"""Field types shared by the config and layout models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, BaseModel, WithJsonSchema

from watchdeck.core.durations import parse_duration


def _duration(value: Any) -> float:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return parse_duration(value)
    raise ValueError(f"bad duration {value!r} (expected e.g. 30s, 5m, 1h30m)")


Duration = Annotated[
    float,
    BeforeValidator(_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d|w|y))+$"},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: 30s, 5m, 1h30m, 250ms, or a number of seconds.",
        }
    ),
]


class StrictModel(BaseModel):
    """Base for every file model: unknown keys are errors, values are not coerced oddly."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
