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
    loki: str | None = None, logs: list[str] | None = None, tempo: str | None = None,
    jaeger: str | None = None, otlp: str | None = None,
) -> LoadedConfig | None:
    """Add the config-less source flags to ``base`` (or start from nothing). Each flag adds
    a source named after it and gives it its role (``--prometheus`` keeps the metrics role
    over ``--scrape``; ``--tempo`` the traces role over ``--jaeger`` over ``--otlp``;
    ``--loki`` the logs role over ``--logs``)."""
    given = (prometheus, scrape, alertmanager, loki, logs, tempo, jaeger, otlp)
    if base is None and not any(given):
        return None
    data: dict[str, Any] = to_data(base.config) if base is not None else {}
    sources: dict[str, Any] = dict(data.get("sources", {}))
    roles: dict[str, Any] = dict(data.get("roles", {}))
    if prometheus:
        sources["prometheus"] = {"type": "prometheus", "url": prometheus}
        roles["metrics"] = "prometheus"
        if base is None:  # a bare Prometheus: start on its own health, which always has data
            data.setdefault("default_layout", "prometheus")
    if alertmanager:
        sources["alertmanager"] = {"type": "alertmanager", "url": alertmanager}
        roles["alerts"] = "alertmanager"
    if scrape:
        sources["scrape"] = {"type": "scrape", "targets": list(scrape)}
        if not prometheus:  # with both flags, the Prometheus keeps the metrics role
            roles["metrics"] = "scrape"
    if otlp:
        sources["otlp"] = {"type": "otlp", "listen": otlp}
        roles["traces"] = "otlp"
        roles.setdefault("logs", "otlp")
    if jaeger:
        sources["jaeger"] = {"type": "jaeger", "url": jaeger}
        roles["traces"] = "jaeger"
    if tempo:
        sources["tempo"] = {"type": "tempo", "url": tempo}
        roles["traces"] = "tempo"
    if logs:
        sources["logfile"] = {"type": "file", "path": list(logs)}
        roles["logs"] = "logfile"
    if loki:
        sources["loki"] = {"type": "loki", "url": loki}
        roles["logs"] = "loki"
    if roles:
        data["roles"] = roles
    data["sources"] = sources
    # Each flag's source alone first, so a bad value names its flag.
    flags = {"prometheus": prometheus, "alertmanager": alertmanager, "scrape": scrape,
             "otlp": otlp, "jaeger": jaeger, "tempo": tempo, "logfile": logs, "loki": loki}
    for name, value in flags.items():
        if not value:
            continue
        try:
            convert(Config, {"sources": {name: sources[name]}})
        except ModelError as error:
            flag = "--logs" if name == "logfile" else f"--{name}"
            raise FlagError(f"{flag}: {error.reason.split(': ', 1)[-1]}") from None
    try:
        config = convert(Config, data)
    except ModelError as error:
        raise FlagError(error.reason) from None
    if base is not None:
        return LoadedConfig(config=config, path=base.path, base_dir=base.base_dir)
    return LoadedConfig(config=config)
