"""The YAML reader: positions, duplicates, YAML 1.2 booleans."""

from __future__ import annotations

import pytest

from watchdeck.core.config.yamlfile import YamlMap, YamlSeq, YamlSyntaxError, load


def test_positions_of_keys_and_items() -> None:
    data = load("a: 1\nlist:\n  - x\n  -   y\nnested:\n  deep: {k: v}\n")
    assert isinstance(data, YamlMap) and isinstance(data["list"], YamlSeq)
    assert data.key_positions == {"a": (1, 1), "list": (2, 1), "nested": (5, 1)}
    assert data["list"].item_positions == [(3, 5), (4, 7)]
    assert data["nested"]["deep"].key_positions["k"] == (6, 10)


def test_duplicate_keys_are_an_error_on_the_second_line() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        load("title: a\nrange: 1h\ntitle: b\n")
    assert caught.value.line == 3
    assert "duplicate key 'title'" in caught.value.message and "line 1" in caught.value.message


def test_only_true_and_false_are_booleans() -> None:
    data = load("countries: [no, se, yes, on, off]\nflag: true\nother: False\n")
    assert data["countries"] == ["no", "se", "yes", "on", "off"]
    assert data["flag"] is True and data["other"] is False


def test_numbers_nulls_anchors_and_merges() -> None:
    data = load("base: &b {width: 6, height: 10}\npanel:\n  <<: *b\n  width: 12\nn: ~\nf: 1.5\n")
    assert data["panel"] == {"width": 12, "height": 10}
    assert data["n"] is None and data["f"] == 1.5


def test_syntax_error_has_a_position() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        load("a: [1, 2\nb: 3\n")
    assert caught.value.line is not None and caught.value.line >= 2
