"""The key binding registry: ids a keymap can name, scopes, and how keys are shown."""

from __future__ import annotations

import re

import pytest

from watchdeck.core.keys import KEY_IDS, KEYS, by_scope, display_keys


def test_ids_are_unique() -> None:
    ids = [spec.id for spec in KEYS]
    assert len(ids) == len(set(ids))
    assert frozenset(ids) == KEY_IDS


def test_ids_are_stable_kebab_case() -> None:
    for spec in KEYS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", spec.id), spec.id


@pytest.mark.parametrize(
    ("key_id", "key"),
    [
        ("help", "question_mark"),
        ("quit", "q"),
        ("refresh", "r"),
        ("pause", "space"),
        ("live", "0"),
        ("shift-back", "left_square_bracket"),
        ("shift-forward", "right_square_bracket"),
        ("zoom-out", "minus"),
        ("zoom-in", "plus"),
        ("zoom", "enter"),
        ("zoom", "z"),
        ("unzoom", "escape"),
        ("focus-left", "h"),
        ("focus-right", "l"),
        ("focus-up", "k"),
        ("focus-down", "j"),
        ("focus-next", "tab"),
    ],
)
def test_design_keys_are_bound(key_id: str, key: str) -> None:
    spec = next(spec for spec in KEYS if spec.id == key_id)
    assert key in [k.strip() for k in spec.keys.split(",")]


def test_every_digit_switches_layout() -> None:
    layout_keys = {spec.keys: spec.id for spec in by_scope("app") if spec.id.startswith("layout-")}
    assert layout_keys == {d: f"layout-{d}" for d in "123456789"}


def test_no_key_is_bound_twice_in_one_scope_chain() -> None:
    # app keys are active everywhere, so a dashboard key must not shadow one of them
    for scope in ("dashboard", "table"):
        seen: dict[str, str] = {}
        for spec in [*by_scope("app"), *by_scope(scope)]:
            for key in spec.keys.split(","):
                assert key not in seen, f"{key} bound to {seen.get(key)} and {spec.id}"
                seen[key] = spec.id


def test_by_scope() -> None:
    assert {spec.scope for spec in by_scope("dashboard")} == {"dashboard"}
    assert by_scope("nonexistent") == []
    total = sum(len(by_scope(scope)) for scope in {spec.scope for spec in KEYS})
    assert total == len(KEYS)


@pytest.mark.parametrize(
    ("keys", "shown"),
    [
        ("left_square_bracket,h", "[ h"),
        ("question_mark", "?"),
        ("plus,equals_sign", "+ ="),
        ("left, h", "← h"),
        ("escape", "esc"),
        ("q", "q"),
    ],
)
def test_display_keys(keys: str, shown: str) -> None:
    assert display_keys(keys) == shown
