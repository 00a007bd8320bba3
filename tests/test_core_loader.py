"""YAML loading whose errors name the file, the line and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from watchdeck.core.config.loader import (
    FileError,
    FileIssue,
    display_path,
    format_key,
    locate,
    parse_yaml,
    read_yaml_mapping,
    variable_references,
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_file_issue_reads_as_file_line_column_key_message() -> None:
    issue = FileIssue("layouts/x.yaml", "bad thing", line=7, column=3, key="panels[0].width")
    assert str(issue) == "layouts/x.yaml:7:3: panels[0].width: bad thing"
    assert str(FileIssue("x.yaml", "empty", line=1)) == "x.yaml:1: empty"
    assert str(FileIssue("x.yaml", "gone")) == "x.yaml: gone"


def test_file_error_lists_every_issue() -> None:
    error = FileError([FileIssue("a.yaml", "one", line=1), FileIssue("a.yaml", "two", line=2)])
    assert str(error) == "a.yaml:1: one\na.yaml:2: two"
    assert error.first.message == "one"


def test_yaml_syntax_error_names_the_line() -> None:
    text = "name: x\npanels:\n  - id: a\n    title: a: b\n"
    with pytest.raises(FileError) as caught:
        parse_yaml(text, "shown.yaml")
    issue = caught.value.first
    assert issue.path == "shown.yaml"
    assert issue.line == 4
    assert "YAML syntax error" in issue.message
    assert str(caught.value).startswith("shown.yaml:4:")


def test_unclosed_flow_sequence_is_a_syntax_error() -> None:
    with pytest.raises(FileError, match="YAML syntax error"):
        parse_yaml("a: [1, 2\nb: 3\n", "x.yaml")


def test_duplicate_keys_are_errors_at_the_second_key() -> None:
    text = "name: x\ntitle: one\ncolumns: 12\ntitle: two\n"
    with pytest.raises(FileError) as caught:
        parse_yaml(text, "x.yaml")
    assert caught.value.first.line == 4
    assert "duplicate" in caught.value.first.message


def test_tabs_for_indentation_are_a_syntax_error_with_a_line() -> None:
    with pytest.raises(FileError) as caught:
        parse_yaml("a:\n  b: 1\n\tc: 2\n", "x.yaml")
    assert caught.value.first.line == 3


def test_read_yaml_mapping_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="file not found") as caught:
        read_yaml_mapping(tmp_path / "nope.yaml")
    assert "nope.yaml" in caught.value.first.path


def test_read_yaml_mapping_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.yaml", "# only a comment\n")
    with pytest.raises(FileError, match="empty") as caught:
        read_yaml_mapping(path)
    assert caught.value.first.line == 1


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_read_yaml_mapping_needs_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "list.yaml", text)
    with pytest.raises(FileError, match="mapping"):
        read_yaml_mapping(path)


def test_read_yaml_mapping_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(FileError, match="cannot read") as caught:
        read_yaml_mapping(path)
    assert "binary.yaml" in caught.value.first.path


def test_read_yaml_mapping_returns_data_and_shown_path(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", "a: 1\nb: [x, y]\n")
    data, shown = read_yaml_mapping(path)
    assert data == {"a": 1, "b": ["x", "y"]}
    assert shown.endswith("ok.yaml")


def test_display_path_is_relative_below_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "f.yaml"
    monkeypatch.chdir(tmp_path)
    assert display_path(target) == str(Path("sub") / "f.yaml")
    outside = tmp_path.parent / "elsewhere.yaml"
    assert display_path(outside) == str(outside)


def test_locate_walks_keys_and_items_to_lines() -> None:
    data = parse_yaml(
        textwrap.dedent(
            """\
            name: x
            panels:
              - id: a
                queries:
                  - expr: up
                  - expr: down
                    legend: d
            """
        ),
        "x.yaml",
    )
    path, line, column = locate(data, ["panels", 0, "queries", 1, "legend"])
    assert path == ["panels", 0, "queries", 1, "legend"]
    assert line == 7
    assert column == 9
    # a missing key keeps its parent's position, and is not part of the path
    path, line, _ = locate(data, ["panels", 0, "queries", 1, "nope"])
    assert path == ["panels", 0, "queries", 1]
    assert line == 6
    # pydantic's union tags and other parts absent from the file are skipped
    path, line, _ = locate(data, ["panels", 0, "timeseries", "id"])
    assert path == ["panels", 0, "id"]
    assert line == 3


def test_format_key() -> None:
    assert format_key(["panels", 0, "queries", 1, "expr"]) == "panels[0].queries[1].expr"
    assert format_key(["sources", "prom", "url"]) == "sources.prom.url"
    assert format_key([]) == ""


def test_variable_references() -> None:
    text = 'x{a=~"$model", b="${node}", c="${gpu:regex}"}[$__rate_interval] "$1" $2'
    assert variable_references(text) == {"model", "node", "gpu", "__rate_interval"}
    assert variable_references("no refs $ here 5$") == set()
