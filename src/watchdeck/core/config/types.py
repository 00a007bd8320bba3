"""What the file models are built on: strict msgspec structs and durations.

msgspec is used rather than pydantic for start-up time: the console validates its config
and every layout before the first frame, and msgspec's models cost microseconds to define
where pydantic's cost a tenth of a second.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from watchdeck.core.durations import parse_duration

T = TypeVar("T")


class Duration(float):
    """Seconds, written in files as ``30s``, ``5m``, ``1h30m``, ``250ms`` or a number."""


DURATION_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d|w|y))+$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "A duration: 30s, 5m, 1h30m, 250ms, or a number of seconds.",
}


class StrictModel(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Base of every file model: unknown keys are errors; instances are immutable."""


class ModelError(ValueError):
    """Validation failed. ``path`` is where (``$.panels[0].width``), ``reason`` is why."""

    def __init__(self, reason: str, path: str) -> None:
        super().__init__(f"{reason} - at `{path}`" if path else reason)
        self.reason = reason
        self.path = path


def _decode_hook(kind: type, value: Any) -> Any:
    if kind is Duration:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"bad duration {value!r} (expected e.g. 30s, 5m, 1h30m)")
        return Duration(parse_duration(value))
    raise NotImplementedError(kind)


def _encode_hook(value: Any) -> Any:
    if isinstance(value, Duration):
        return float(value)
    raise NotImplementedError(type(value))


def convert(model: type[T], data: Any) -> T:
    """Validate plain data (parsed YAML, a dict) into ``model``; raises :class:`ModelError`."""
    try:
        return msgspec.convert(data, model, dec_hook=_decode_hook)
    except msgspec.ValidationError as error:
        text = str(error)
        reason, _, path = text.rpartition(" - at `")
        if not reason:
            raise ModelError(text, "") from None
        raise ModelError(reason, path.rstrip("`")) from None


def to_data(value: Any) -> Any:
    """A model as plain data (the inverse of :func:`convert`)."""
    return msgspec.to_builtins(value, enc_hook=_encode_hook)


def replace(value: T, **changes: Any) -> T:
    """A copy of a (frozen) model with some fields changed."""
    return msgspec.structs.replace(value, **changes)  # type: ignore[type-var]
