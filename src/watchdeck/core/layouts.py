"""The layout catalog: every layout file from the shipped and user directories.

Broken files are reported, never fatal: the other layouts still load, and a file that
breaks on a later edit keeps its last good version (``poll`` reports the error).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdeck.core.config.loader import (
    FileError,
    FileIssue,
    display_path,
    issue_at,
    read_yaml_mapping,
    validate,
    variable_references,
)
from watchdeck.core.config.models import Layout
from watchdeck.core.config.types import replace
from watchdeck.core.templating import parse_variable_query

BUILTIN_VARIABLES = {"__interval", "__rate_interval", "__range", "__interval_ms", "__range_s"}


@dataclass(frozen=True)
class LayoutEntry:
    name: str
    layout: Layout
    path: Path
    shown: str
    stamp: tuple[int, int]
    builtin: bool = False

    @property
    def title(self) -> str:
        return self.layout.title or self.name


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _semantic_issues(
    layout: Layout, data: Any, shown: str, known_sources: set[str] | None
) -> list[FileIssue]:
    issues: list[FileIssue] = []
    variables = {variable.name for variable in layout.variables}
    seen_vars: set[str] = set()
    for index, variable in enumerate(layout.variables):
        if variable.name in seen_vars:
            issues.append(issue_at(data, ["variables", index, "name"], shown,
                                   f"duplicate variable '{variable.name}'"))
        seen_vars.add(variable.name)
        if variable.query is not None:
            try:
                parse_variable_query(variable.query)
            except ValueError as error:
                issues.append(issue_at(data, ["variables", index, "query"], shown, str(error)))
        if known_sources is not None and variable.source not in known_sources:
            issues.append(issue_at(data, ["variables", index, "source"], shown,
                                   _unknown_source(variable.source, known_sources)))
    seen_ids: set[str] = set()
    for index, panel in enumerate(layout.panels):
        where = ["panels", index]
        if panel.width > layout.columns:
            issues.append(issue_at(data, [*where, "width"], shown,
                                   f"width {panel.width} is wider than the layout's "
                                   f"{layout.columns} columns"))
        if panel.id is not None:
            if panel.id in seen_ids:
                issues.append(issue_at(data, [*where, "id"], shown,
                                       f"duplicate panel id '{panel.id}'"))
            seen_ids.add(panel.id)
        if known_sources is not None and panel.source not in known_sources:
            issues.append(issue_at(data, [*where, "source"], shown,
                                   _unknown_source(panel.source, known_sources)))
        for s, name in enumerate(getattr(panel, "sources", ())):
            if known_sources is not None and name not in known_sources:
                issues.append(issue_at(data, [*where, "sources", s], shown,
                                       _unknown_source(name, known_sources)))
        texts: list[tuple[list[str | int], str]] = [([*where, "title"], panel.title)]
        texts += [([*where, "queries", q, "expr"], query.expr)
                  for q, query in enumerate(panel.queries)]
        for loc, text in texts:
            for name in sorted(variable_references(text) - variables - BUILTIN_VARIABLES):
                issues.append(issue_at(data, loc, shown, f"unknown variable '${name}'"))
        if panel.drill is not None and known_sources is not None:
            for kind in ("traces", "logs"):
                target = getattr(panel.drill, kind)
                if target is not None and target.source not in known_sources:
                    issues.append(issue_at(data, [*where, "drill", kind, "source"], shown,
                                           _unknown_source(target.source, known_sources)))
    return issues


def _unknown_source(name: str, known: set[str]) -> str:
    return f"unknown source '{name}' (known: {', '.join(sorted(known))})"


def load_layout(
    path: Path, known_sources: set[str] | None = None, builtin: bool = False
) -> LayoutEntry:
    """Read, validate and check one layout file."""
    stamp = _stamp(path) if path.exists() else (0, 0)
    data, shown = read_yaml_mapping(path)
    layout = validate(Layout, data, shown)
    issues = _semantic_issues(layout, data, shown, known_sources)
    if issues:
        raise FileError(issues)
    name = layout.name or path.stem
    panels = [
        panel if panel.id else replace(panel, id=f"panel-{index + 1}")
        for index, panel in enumerate(layout.panels)
    ]
    layout = replace(layout, name=name, panels=panels)
    return LayoutEntry(name, layout, path, shown, stamp, builtin)


@dataclass
class CatalogChanges:
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[FileError] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed or self.failed)


class LayoutCatalog:
    """All layouts by name. A later directory overrides an earlier one's layout of the
    same name (a user's copy of a shipped layout wins; delete it and the shipped one
    returns). Two files of one directory with the same name: the second is an error."""

    def __init__(
        self,
        directories: Iterable[Path],
        known_sources: set[str] | None = None,
        builtin_directory: Path | None = None,
    ) -> None:
        self.directories = [Path(d) for d in directories]
        self.builtin_directory = builtin_directory
        self.known_sources = known_sources
        self.entries: dict[str, LayoutEntry] = {}
        self.errors: dict[Path, FileError] = {}
        self._by_path: dict[Path, LayoutEntry] = {}
        self._stamps: dict[Path, tuple[int, int]] = {}

    def _files(self) -> list[Path]:
        files: list[Path] = []
        for directory in self.directories:
            if directory.is_dir():
                files += sorted(
                    p for p in directory.iterdir()
                    if p.suffix in (".yaml", ".yml") and p.is_file() and p not in files
                )
        return files

    def _is_builtin(self, path: Path) -> bool:
        return self.builtin_directory is not None and path.parent == self.builtin_directory

    def load(self) -> None:
        self.errors.clear()
        self._by_path.clear()
        self._stamps.clear()
        for path in self._files():
            self._read(path)
        self._rebuild()

    def _read(self, path: Path) -> None:
        try:
            self._stamps[path] = _stamp(path)
            entry = load_layout(path, self.known_sources, self._is_builtin(path))
        except FileError as error:
            self.errors[path] = error  # the last good version, if any, stays in _by_path
            return
        except OSError as error:
            self.errors[path] = FileError([FileIssue(display_path(path), str(error))])
            return
        self.errors.pop(path, None)
        self._by_path[path] = entry

    def _rebuild(self) -> None:
        """Merge the per-file entries: directory order decides who wins a name."""
        entries: dict[str, LayoutEntry] = {}
        for path in self._files():
            entry = self._by_path.get(path)
            if entry is None:
                continue
            other = entries.get(entry.name)
            if other is not None and other.path.parent == path.parent:
                self.errors[path] = FileError([FileIssue(
                    entry.shown, f"layout name '{entry.name}' is already used by {other.shown}",
                    line=1)])
                continue
            entries[entry.name] = entry
        self.entries = entries

    def poll(self) -> CatalogChanges:
        """Re-read files whose size or mtime changed; report what happened."""
        changes = CatalogChanges()
        before = dict(self.entries)
        current = self._files()
        reread: list[Path] = []
        for path in current:
            try:
                stamp = _stamp(path)
            except OSError:
                continue
            if self._stamps.get(path) != stamp:
                self._read(path)
                reread.append(path)
        for path in set(self._stamps) - set(current):
            del self._stamps[path]
            self.errors.pop(path, None)
            self._by_path.pop(path, None)
        self._rebuild()
        for path in reread:
            if path in self.errors:
                changes.failed.append(self.errors[path])
        for name, entry in self.entries.items():
            if before.get(name) is not entry:
                changes.changed.append(name)
        changes.removed = [name for name in before if name not in self.entries]
        return changes

    def ordered(self) -> list[LayoutEntry]:
        """Layouts with a hotkey first (by key), then the rest by name."""
        return sorted(
            self.entries.values(),
            key=lambda e: (e.layout.key is None, e.layout.key or "", e.name),
        )

    def hotkeys(self) -> dict[str, str]:
        """Digit -> layout name: declared keys first (the user's layouts before shipped
        ones when two claim a key), then free digits to the rest in order."""
        keys: dict[str, str] = {}
        for entry in sorted(self.ordered(), key=lambda e: e.builtin):
            if entry.layout.key and entry.layout.key not in keys:
                keys[entry.layout.key] = entry.name
        free = [d for d in "123456789" if d not in keys]
        for entry in self.ordered():
            if entry.name not in keys.values() and free:
                keys[free.pop(0)] = entry.name
        return dict(sorted(keys.items()))
