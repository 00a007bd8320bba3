"""Loading ``config.yaml`` and building a config from command-line flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdeck.core.config.loader import FileError, issue_at, read_yaml_mapping, validate
from watchdeck.core.config.models import ROLES, SOURCE_ROLE_TYPES, Config
from watchdeck.core.config.types import ModelError, convert, to_data
from watchdeck.core.keys import KEY_IDS


class FlagError(ValueError):
    """A command-line source flag that cannot be used."""


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from (relative paths are read from ``base_dir``)."""

    config: Config
    path: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)

    def resolve_source(self, name: str) -> str | None:
        """The source a layout's ``source:`` means: a role, or a source's own name."""
        return resolve_source(self.config, name)

    def known_source_names(self) -> set[str]:
        return set(ROLES) | set(self.config.sources)


def resolve_source(config: Config, name: str) -> str | None:
    if name in ROLES:
        chosen = config.roles.get(name)  # type: ignore[call-overload]
        if chosen is not None:
            return chosen
        # By preference of type (Alertmanager before Prometheus for alerts), then in order.
        for kind in SOURCE_ROLE_TYPES[name]:
            for source_name, source in config.sources.items():
                if source.type == kind:
                    return source_name
        return None
    return name if name in config.sources else None


def _check_roles(config: Config, data: Any, shown: str) -> None:
    issues = [
        issue_at(data, ["keymap", binding], shown,
                 f"unknown binding id '{binding}' (see watchdeck's help screen, ?)")
        for binding in config.keymap
        if binding not in KEY_IDS
    ]
    for role, source_name in config.roles.items():
        source = config.sources.get(source_name)
        if source is None:
            known = ", ".join(sorted(config.sources)) or "none"
            issues.append(
                issue_at(data, ["roles", role], shown,
                         f"unknown source '{source_name}' (sources: {known})")
            )
        elif source.type not in SOURCE_ROLE_TYPES[role]:
            issues.append(
                issue_at(data, ["roles", role], shown,
                         f"source '{source_name}' is a {source.type} source; "
                         f"it cannot serve the {role} role")
            )
    if issues:
        raise FileError(issues)


def load_config(path: Path) -> LoadedConfig:
    """Read and validate a config file; raises :class:`FileError` with file:line issues."""
    data, shown = read_yaml_mapping(path)
    config = validate(Config, data, shown)
    _check_roles(config, data, shown)
    return LoadedConfig(config=config, path=path, base_dir=path.resolve().parent)


def config_from_flags(
    base: LoadedConfig | None, *, prometheus: str | None = None,
    scrape: list[str] | None = None, alertmanager: str | None = None,
) -> LoadedConfig | None:
    """Add the config-less source flags to ``base`` (or start from nothing)."""
    if base is None and not prometheus and not scrape and not alertmanager:
        return None
    data: dict[str, Any] = to_data(base.config) if base is not None else {}
    sources: dict[str, Any] = dict(data.get("sources", {}))
    if prometheus:
        sources["prometheus"] = {"type": "prometheus", "url": prometheus}
        roles = dict(data.get("roles", {}))
        roles["metrics"] = "prometheus"
        data["roles"] = roles
        if base is None:  # a bare Prometheus: start on its own health, which always has data
            data.setdefault("default_layout", "prometheus")
    if alertmanager:
        sources["alertmanager"] = {"type": "alertmanager", "url": alertmanager}
        data["roles"] = {**data.get("roles", {}), "alerts": "alertmanager"}
    if scrape:
        sources["scrape"] = {"type": "scrape", "targets": list(scrape)}
        if not prometheus:  # with both flags, the Prometheus keeps the metrics role
            data["roles"] = {**data.get("roles", {}), "metrics": "scrape"}
    data["sources"] = sources
    try:
        config = convert(Config, data)
    except ModelError as error:
        flag = ("--scrape" if "scrape" in error.path else
                "--alertmanager" if "alertmanager" in error.path else "--prometheus")
        raise FlagError(f"{flag}: {error.reason.split(': ', 1)[-1]}") from None
    if base is not None:
        return LoadedConfig(config=config, path=base.path, base_dir=base.base_dir)
    return LoadedConfig(config=config)
