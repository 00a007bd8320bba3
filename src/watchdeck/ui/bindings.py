"""Textual bindings built from the key registry in :mod:`watchdeck.core.keys`."""

from __future__ import annotations

from textual.binding import Binding

from watchdeck.core.keys import by_scope


def bindings_for(scope: str) -> list[Binding]:
    return [
        Binding(spec.keys, spec.action, spec.description, show=spec.show, id=spec.id)
        for spec in by_scope(scope)
    ]
