"""Layout files: validation errors with file:line:key, and the hot-reloading catalog."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from watchdeck.core.config.loader import FileError, FileIssue
from watchdeck.core.config.models import PANEL_TYPES
from watchdeck.core.layouts import LayoutCatalog, load_layout

GOOD = """\
name: {name}
title: {title}
panels:
  - id: up
    type: stat
    queries:
      - expr: up
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def rewrite(path: Path, text: str) -> None:
    """Edit a file so that its mtime certainly changes (filesystem clocks are coarse)."""
    before = path.stat().st_mtime_ns
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def issues_of(path: Path, known_sources: set[str] | None = None) -> list[FileIssue]:
    with pytest.raises(FileError) as caught:
        load_layout(path, known_sources)
    error = caught.value
    for issue in error.issues:
        assert issue.path.endswith(path.name)
        assert path.name in str(error)
    return error.issues


def only_issue(path: Path, known_sources: set[str] | None = None) -> FileIssue:
    issues = issues_of(path, known_sources)
    assert len(issues) == 1, issues
    return issues[0]


# --------------------------------------------------------------------------- a good file


def test_good_layout_loads_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "my-board.yaml", """\
        title: My board
        panels:
          - type: timeseries
            queries:
              - expr: rate(x[$__rate_interval])
          - id: named
            type: text
            content: hello
        """)
    entry = load_layout(path)
    assert entry.name == "my-board"  # from the file name
    assert entry.title == "My board"
    assert entry.path == path
    assert entry.layout.range == 3600 and entry.layout.refresh == 10 and entry.layout.columns == 12
    assert [p.id for p in entry.layout.panels] == ["panel-1", "named"]
    assert not entry.builtin


def test_title_defaults_to_name(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", GOOD.format(name="board", title="null"))
    assert load_layout(path).title == "board"


DESIGN_EXPR = (
    "histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket"
    '{model_name=~"$model"}[$__rate_interval])))'
)


def test_design_example_layout_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "llm.yaml", f"""\
        name: llm-overview
        title: LLM serving — overview
        key: "1"
        range: 30m
        refresh: 5s
        variables:
          - name: model
            query: label_values(vllm:num_requests_running, model_name)
            multi: true
            default: all
        columns: 12
        panels:
          - id: latency
            title: Request latency
            type: timeseries
            source: metrics
            width: 6
            height: 12
            unit: s
            queries:
              - expr: {DESIGN_EXPR}
                legend: p99
            thresholds: {{warning: 2, critical: 5}}
            drill:
              traces: {{source: traces, query: '{{ resource.service.name = "vllm" }}'}}
              logs: {{source: logs, query: '{{app="vllm"}}'}}
        """)
    entry = load_layout(path, known_sources={"metrics", "alerts", "logs", "traces"})
    layout = entry.layout
    assert entry.name == "llm-overview"
    assert layout.key == "1"
    assert layout.range == 1800 and layout.refresh == 5
    assert layout.variables[0].multi
    panel = layout.panels[0]
    assert panel.width == 6 and panel.height == 12
    assert panel.thresholds is not None and panel.thresholds.critical == 5
    assert panel.drill is not None and panel.drill.logs is not None
    assert panel.drill.logs.query == '{app="vllm"}'
    assert panel.queries[0].expr == DESIGN_EXPR


# --------------------------------------------------------------------------- broken files


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "syntax.yaml", """\
        name: broken
        panels:
          - id: a
            title: one: two
            type: stat
        """)
    issue = only_issue(path)
    assert issue.line == 4
    assert "YAML syntax error" in issue.message


def test_unknown_panel_type(tmp_path: Path) -> None:
    path = write(tmp_path, "type.yaml", """\
        panels:
          - id: a
            type: stat
            queries: [{expr: up}]
          - id: b
            type: gauge
            queries: [{expr: up}]
        """)
    issue = only_issue(path)
    assert issue.line == 6
    assert issue.key == "panels[1].type"
    assert "unknown panel type 'gauge'" in issue.message
    for kind in PANEL_TYPES:
        assert kind in issue.message


def test_missing_panel_type_lists_the_types(tmp_path: Path) -> None:
    path = write(tmp_path, "notype.yaml", """\
        panels:
          - id: a
            queries: [{expr: up}]
        """)
    issue = only_issue(path)
    assert issue.line == 2
    assert issue.key == "panels[0]"
    assert "missing 'type'" in issue.message
    for kind in PANEL_TYPES:
        assert kind in issue.message


def test_unknown_key_with_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path, "key.yaml", """\
        name: k
        panels:
          - id: a
            type: timeseries
            queries:
              - expr: up
                legnd: "{{job}}"
        """)
    issue = only_issue(path)
    assert issue.line == 7
    assert issue.key == "panels[0].queries[0].legnd"
    assert "unknown key 'legnd'" in issue.message
    assert "did you mean 'legend'" in issue.message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "top.yaml", """\
        name: k
        titel: oops
        panels:
          - {type: text, content: hi}
        """)
    issue = only_issue(path)
    assert issue.line == 2
    assert issue.key == "titel"
    assert "did you mean 'title'" in issue.message


def test_unknown_key_without_a_close_match_has_no_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "far.yaml", """\
        panels:
          - type: text
            content: hi
            zzzzqqq: 1
        """)
    issue = only_issue(path)
    assert issue.line == 4
    assert "unknown key 'zzzzqqq'" in issue.message
    assert "did you mean" not in issue.message


def test_unknown_source_name(tmp_path: Path) -> None:
    path = write(tmp_path, "source.yaml", """\
        panels:
          - id: a
            type: stat
            source: promx
            queries: [{expr: up}]
        """)
    issue = only_issue(path, known_sources={"metrics", "prom"})
    assert issue.line == 4
    assert issue.key == "panels[0].source"
    assert "unknown source 'promx'" in issue.message
    assert "prom" in issue.message.split("known:")[1]
    # without a list of known sources the name is not checked
    assert load_layout(path).layout.panels[0].source == "promx"


def test_unknown_drill_source(tmp_path: Path) -> None:
    path = write(tmp_path, "drill.yaml", """\
        panels:
          - id: a
            type: stat
            queries: [{expr: up}]
            drill:
              logs: {source: lokki, query: '{app="x"}'}
        """)
    issue = only_issue(path, known_sources={"metrics", "logs"})
    assert issue.line == 6
    assert issue.key == "panels[0].drill.logs.source"
    assert "lokki" in issue.message


def test_unknown_variable_source(tmp_path: Path) -> None:
    path = write(tmp_path, "varsource.yaml", """\
        variables:
          - name: job
            source: elsewhere
            values: [a]
        panels:
          - {type: text, content: hi}
        """)
    issue = only_issue(path, known_sources={"metrics"})
    assert issue.line == 3
    assert issue.key == "variables[0].source"


@pytest.mark.parametrize(
    ("where", "text", "line", "key"),
    [
        ("layout refresh", "refresh: 5x\npanels:\n  - {type: text, content: hi}\n", 1, "refresh"),
        ("layout range", "range: soon\npanels:\n  - {type: text, content: hi}\n", 1, "range"),
        ("panel refresh",
         "panels:\n  - type: stat\n    refresh: 1h3\n    queries: [{expr: up}]\n", 3,
         "panels[0].refresh"),
    ],
)
def test_bad_duration(tmp_path: Path, where: str, text: str, line: int, key: str) -> None:
    path = write(tmp_path, "duration.yaml", text)
    issue = only_issue(path)
    assert issue.line == line, where
    assert issue.key == key
    assert "bad duration" in issue.message


def test_too_short_range_and_refresh(tmp_path: Path) -> None:
    path = write(tmp_path, "short.yaml", """\
        range: 30s
        refresh: 500ms
        panels:
          - {type: text, content: hi}
        """)
    issues = issues_of(path)
    assert [(i.line, i.key) for i in issues] == [(1, "range"), (2, "refresh")]


def test_width_wider_than_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "width.yaml", """\
        columns: 12
        panels:
          - id: a
            type: stat
            width: 6
            queries: [{expr: up}]
          - id: b
            type: stat
            width: 16
            queries: [{expr: up}]
        """)
    issue = only_issue(path)
    assert issue.line == 9
    assert issue.key == "panels[1].width"
    assert "16" in issue.message and "12" in issue.message


def test_duplicate_panel_id(tmp_path: Path) -> None:
    path = write(tmp_path, "dupid.yaml", """\
        panels:
          - id: latency
            type: stat
            queries: [{expr: up}]
          - id: errors
            type: stat
            queries: [{expr: up}]
          - id: latency
            type: stat
            queries: [{expr: up}]
        """)
    issue = only_issue(path)
    assert issue.line == 8
    assert issue.key == "panels[2].id"
    assert "duplicate panel id 'latency'" in issue.message


def test_unknown_variable_in_expr(tmp_path: Path) -> None:
    path = write(tmp_path, "var.yaml", """\
        variables:
          - name: model
            values: [a, b]
        panels:
          - id: a
            type: timeseries
            queries:
              - expr: up{model=~"$model"}
              - expr: rate(x{node=~"$node"}[$__rate_interval])
        """)
    issue = only_issue(path)
    assert issue.line == 9
    assert issue.key == "panels[0].queries[1].expr"
    assert "unknown variable '$node'" in issue.message


def test_unknown_variable_in_title(tmp_path: Path) -> None:
    path = write(tmp_path, "title.yaml", """\
        panels:
          - id: a
            title: Latency of ${model}
            type: stat
            queries: [{expr: up}]
        """)
    issue = only_issue(path)
    assert issue.line == 3
    assert issue.key == "panels[0].title"
    assert "$model" in issue.message


def test_builtins_and_label_replace_refs_are_not_unknown_variables(tmp_path: Path) -> None:
    path = write(tmp_path, "builtins.yaml", """\
        panels:
          - type: stat
            queries:
              - expr: 'label_replace(rate(x[$__rate_interval]), "a", "$1", "b", "(.*)")'
              - expr: sum_over_time(x[$__range]) / $__range_s + $__interval_ms + ${__interval}
        """)
    load_layout(path)


def test_missing_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, "missing.yaml", """\
        panels:
          - id: a
            type: timeseries
            queries:
              - legend: p99
        """)
    issue = only_issue(path)
    assert issue.line == 5
    assert issue.key == "panels[0].queries[0].expr"
    assert "missing" in issue.message


def test_panel_without_queries(tmp_path: Path) -> None:
    path = write(tmp_path, "noq.yaml", """\
        panels:
          - id: a
            type: stat
        """)
    issue = only_issue(path)
    assert issue.line == 2  # the panel: the queries key is not in the file
    assert issue.key == "panels[0].queries"
    assert "query" in issue.message


def test_text_panel_needs_content(tmp_path: Path) -> None:
    path = write(tmp_path, "text.yaml", "panels:\n  - type: text\n")
    issue = only_issue(path)
    assert issue.key == "panels[0].content"
    assert issue.line == 2


def test_no_panels(tmp_path: Path) -> None:
    path = write(tmp_path, "empty-panels.yaml", "name: x\npanels: []\n")
    issue = only_issue(path)
    assert issue.line == 2
    assert issue.key == "panels"


def test_bad_variable_query(tmp_path: Path) -> None:
    path = write(tmp_path, "varq.yaml", """\
        variables:
          - name: ok
            query: label_values(up, job)
          - name: bad
            query: query_result(up)
        panels:
          - {type: text, content: hi}
        """)
    issue = only_issue(path)
    assert issue.line == 5
    assert issue.key == "variables[1].query"
    assert "label_values" in issue.message


def test_variable_needs_query_or_values(tmp_path: Path) -> None:
    path = write(tmp_path, "varnone.yaml", """\
        variables:
          - name: v
            multi: true
        panels:
          - {type: text, content: hi}
        """)
    issue = only_issue(path)
    assert issue.line == 2
    assert issue.key == "variables[0]"


def test_duplicate_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "dupvar.yaml", """\
        variables:
          - name: v
            values: [a]
          - name: v
            values: [b]
        panels:
          - {type: text, content: hi}
        """)
    issue = only_issue(path)
    assert issue.line == 4
    assert "duplicate variable 'v'" in issue.message


@pytest.mark.parametrize(
    ("height", "ok"),
    [("12", True), ("1fr", True), ("2.5fr", True), ("2", False), ("fr", False),
     ("'12 rows'", False), ("true", False)],
)
def test_panel_heights(tmp_path: Path, height: str, ok: bool) -> None:
    text = f"panels:\n  - type: text\n    content: x\n    height: {height}\n"
    path = write(tmp_path, "h.yaml", text)
    if ok:
        load_layout(path)
    else:
        issue = only_issue(path)
        assert issue.line == 4
        assert issue.key == "panels[0].height"


def test_bad_hotkey(tmp_path: Path) -> None:
    path = write(tmp_path, "key.yaml", 'key: "0"\npanels:\n  - {type: text, content: x}\n')
    issue = only_issue(path)
    assert issue.line == 1 and issue.key == "key"


def test_every_problem_is_reported_in_line_order(tmp_path: Path) -> None:
    path = write(tmp_path, "many.yaml", """\
        refresh: 5x
        panels:
          - id: a
            type: gauge
            queries: [{expr: up}]
          - id: b
            type: stat
            colour: red
            queries: [{expr: up}]
        """)
    issues = issues_of(path)
    assert [i.line for i in issues] == [1, 4, 8]


# --------------------------------------------------------------------------- the catalog


def test_catalog_loads_good_files_and_records_broken_ones(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD.format(name="good", title="Good"))
    bad = write(tmp_path, "bad.yaml", "panels:\n  - type: gauge\n")
    write(tmp_path, "notes.txt", "not a layout")
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    assert list(catalog.entries) == ["good"]
    assert list(catalog.errors) == [bad]
    assert catalog.errors[bad].first.line == 2
    assert "bad.yaml" in str(catalog.errors[bad])


def test_catalog_reads_yml_and_skips_missing_directories(tmp_path: Path) -> None:
    write(tmp_path, "other.yml", GOOD.format(name="other", title="O"))
    catalog = LayoutCatalog([tmp_path / "missing", tmp_path])
    catalog.load()
    assert list(catalog.entries) == ["other"]


def test_poll_with_no_change_reports_nothing(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD.format(name="a", title="A"))
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    changes = catalog.poll()
    assert not changes
    assert changes.changed == [] and changes.removed == [] and changes.failed == []


def test_poll_picks_up_an_edit(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", GOOD.format(name="a", title="Before"))
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    rewrite(path, GOOD.format(name="a", title="After"))
    changes = catalog.poll()
    assert changes.changed == ["a"]
    assert catalog.entries["a"].title == "After"
    assert not catalog.poll()  # the same edit is not reported twice


def test_poll_broken_edit_keeps_the_last_good_version(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", GOOD.format(name="a", title="Good"))
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    rewrite(path, "name: a\ntitle: Broken\npanels:\n  - type: stat\n    width: 99\n")
    changes = catalog.poll()
    assert changes.changed == []
    assert len(changes.failed) == 1
    error = changes.failed[0]
    assert "a.yaml" in str(error)
    assert error.first.line == 5
    assert catalog.entries["a"].title == "Good"  # still on screen
    assert path in catalog.errors
    # fixing the file clears the error
    rewrite(path, GOOD.format(name="a", title="Fixed"))
    changes = catalog.poll()
    assert changes.changed == ["a"]
    assert catalog.entries["a"].title == "Fixed"
    assert path not in catalog.errors


def test_poll_removes_a_deleted_file(tmp_path: Path) -> None:
    keep = write(tmp_path, "keep.yaml", GOOD.format(name="keep", title="K"))
    gone = write(tmp_path, "gone.yaml", GOOD.format(name="gone", title="G"))
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    assert set(catalog.entries) == {"keep", "gone"}
    gone.unlink()
    changes = catalog.poll()
    assert changes.removed == ["gone"]
    assert set(catalog.entries) == {"keep"}
    assert catalog.entries["keep"].path == keep


def test_poll_forgets_the_error_of_a_deleted_broken_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "panels: [\n")
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    assert bad in catalog.errors
    bad.unlink()
    catalog.poll()
    assert catalog.errors == {}


def test_poll_picks_up_a_new_file(tmp_path: Path) -> None:
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    assert catalog.entries == {}
    write(tmp_path, "new.yaml", GOOD.format(name="new", title="N"))
    assert catalog.poll().changed == ["new"]
    assert "new" in catalog.entries


def test_renaming_a_layout_inside_its_file_drops_the_old_name(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", GOOD.format(name="old", title="T"))
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    rewrite(path, GOOD.format(name="renamed", title="T"))
    catalog.poll()
    assert list(catalog.entries) == ["renamed"]


def test_later_directories_override_earlier_ones(tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    user = tmp_path / "user"
    shipped.mkdir()
    user.mkdir()
    write(shipped, "node.yaml", GOOD.format(name="node", title="Shipped"))
    write(shipped, "other.yaml", GOOD.format(name="other", title="Other"))
    write(user, "my-node.yaml", GOOD.format(name="node", title="Mine"))
    catalog = LayoutCatalog([shipped, user], builtin_directory=shipped)
    catalog.load()
    assert catalog.entries["node"].title == "Mine"
    assert not catalog.entries["node"].builtin
    assert catalog.entries["other"].builtin


def test_catalog_checks_sources(tmp_path: Path) -> None:
    text = GOOD.format(name="s", title="S").replace("type: stat", "type: stat\n    source: nope")
    write(tmp_path, "s.yaml", text)
    catalog = LayoutCatalog([tmp_path], known_sources={"metrics"})
    catalog.load()
    assert catalog.entries == {}
    assert "unknown source 'nope'" in str(next(iter(catalog.errors.values())))


def test_hotkeys_declared_keys_first_then_free_digits(tmp_path: Path) -> None:
    def layout(name: str, key: str | None) -> None:
        head = f'key: "{key}"\n' if key else ""
        write(tmp_path, f"{name}.yaml", head + GOOD.format(name=name, title=name))

    layout("alpha", None)
    layout("beta", None)
    layout("gpu", "3")
    layout("node", "1")
    layout("zeta", None)
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    keys = catalog.hotkeys()
    assert keys["1"] == "node"
    assert keys["3"] == "gpu"
    # the others take the free digits in name order
    assert keys["2"] == "alpha"
    assert keys["4"] == "beta"
    assert keys["5"] == "zeta"
    assert list(keys) == sorted(keys)
    assert [e.name for e in catalog.ordered()] == ["node", "gpu", "alpha", "beta", "zeta"]


def test_hotkeys_conflicting_declarations_and_more_than_nine(tmp_path: Path) -> None:
    for index in range(12):
        key = 'key: "1"\n' if index in (4, 7) else ""
        name = f"l{index:02d}"
        write(tmp_path, f"{name}.yaml", key + GOOD.format(name=name, title=name))
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    keys = catalog.hotkeys()
    assert keys["1"] == "l04"  # first declared (by name) wins the digit
    assert len(keys) == 9  # only nine digits
    assert set(keys) == set("123456789")
    assert len(set(keys.values())) == 9  # no layout gets two digits
    assert "l07" in keys.values()  # the loser still gets a free digit


def test_unknown_bracket_variable_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "brackets.yaml", """\
        panels:
          - id: a
            type: stat
            queries:
              - expr: up{job="[[nope]]"}
        """)
    issue = only_issue(path)
    assert issue.line == 5
    assert "unknown variable '$nope'" in issue.message


def _layout(name: str, title: str) -> str:
    return f"name: {name}\ntitle: {title}\npanels:\n  - {{type: stat, queries: [{{expr: up}}]}}\n"


def test_a_later_directory_overrides_and_the_shipped_layout_returns(tmp_path: Path) -> None:
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    shipped.mkdir()
    user.mkdir()
    (shipped / "node.yaml").write_text(_layout("node", "Shipped"))
    mine = user / "my-node.yaml"
    mine.write_text(_layout("node", "Mine"))
    catalog = LayoutCatalog([shipped, user])
    catalog.load()
    assert catalog.entries["node"].title == "Mine"
    mine.unlink()
    changes = catalog.poll()
    assert catalog.entries["node"].title == "Shipped"
    assert changes.changed == ["node"] and changes.removed == []


def test_two_files_of_one_directory_with_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(_layout("same", "A"))
    (tmp_path / "b.yaml").write_text(_layout("same", "B"))
    catalog = LayoutCatalog([tmp_path])
    catalog.load()
    assert catalog.entries["same"].title == "A"
    (error,) = catalog.errors.values()
    assert "already used by" in str(error) and "b.yaml" in str(error)
