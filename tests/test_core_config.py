"""The config file, command-line source flags and key bindings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from watchdeck.core.config.files import (
    FlagError,
    LoadedConfig,
    config_from_flags,
    load_config,
    resolve_source,
)
from watchdeck.core.config.loader import FileError, FileIssue
from watchdeck.core.config.models import Config
from watchdeck.core.config.types import convert, to_data
from watchdeck.core.keys import KEY_IDS


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def issues_of(path: Path) -> list[FileIssue]:
    with pytest.raises(FileError) as caught:
        load_config(path)
    for issue in caught.value.issues:
        assert issue.path.endswith(path.name)
    return sorted(caught.value.issues, key=lambda i: i.line or 0)


def only_issue(path: Path) -> FileIssue:
    issues = issues_of(path)
    assert len(issues) == 1, issues
    return issues[0]


# --------------------------------------------------------------------------- good files


def test_design_example_config_loads(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        sources:
          prom:
            type: prometheus
            url: https://prometheus.example:9090/
            headers: {X-Scope-OrgID: team-a}
            auth: {bearer_token_env: PROM_TOKEN}
            tls: {ca_file: /etc/ssl/internal-ca.pem}
        roles:
          metrics: prom
        layouts: [~/ops/layouts]
        theme: watchdeck-dark
        keymap: {zoom: "f"}
        """)
    loaded = load_config(path)
    config = loaded.config
    assert loaded.path == path
    assert loaded.base_dir == tmp_path.resolve()
    prom = config.sources["prom"]
    assert prom.url == "https://prometheus.example:9090"  # trailing slash dropped
    assert prom.headers == {"X-Scope-OrgID": "team-a"}
    assert prom.auth is not None and prom.auth.bearer_token_env == "PROM_TOKEN"
    assert prom.tls is not None and not prom.tls.insecure_skip_verify
    assert prom.timeout == 10 and prom.scrape_interval == 15
    assert config.roles == {"metrics": "prom"}
    assert config.keymap == {"zoom": "f"}
    assert loaded.resolve_source("metrics") == "prom"
    assert loaded.resolve_source("prom") == "prom"
    assert loaded.known_source_names() == {"metrics", "alerts", "logs", "traces", "prom"}


def test_durations_in_source_settings(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        sources:
          prom: {type: prometheus, url: "http://p:9090", timeout: 2500ms, scrape_interval: 30s}
        """)
    prom = load_config(path).config.sources["prom"]
    assert prom.timeout == 2.5
    assert prom.scrape_interval == 30


def test_empty_mapping_config_is_valid(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "theme: watchdeck-light\n")).config
    assert config.sources == {}
    assert config.max_series == 50


# --------------------------------------------------------------------------- roles


def test_role_pointing_to_unknown_source(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        sources:
          prom: {type: prometheus, url: "http://p:9090"}
        roles:
          metrics: promm
        """)
    issue = only_issue(path)
    assert issue.line == 4
    assert issue.key == "roles.metrics"
    assert "unknown source 'promm'" in issue.message
    assert "prom" in issue.message


def test_role_that_the_source_cannot_serve(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        sources:
          prom: {type: prometheus, url: "http://p:9090"}
          am: {type: alertmanager, url: "http://am:9093"}
        roles:
          metrics: am
          alerts: prom
        """)
    issue = only_issue(path)
    assert issue.line == 5
    assert issue.key == "roles.metrics"
    assert "alertmanager source" in issue.message and "metrics" in issue.message


def test_unknown_role(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        sources:
          prom: {type: prometheus, url: "http://p:9090"}
        roles:
          metric: prom
        """)
    issue = only_issue(path)
    assert issue.line == 4


def test_roles_default_to_the_first_fitting_source() -> None:
    config = convert(Config, {"sources": {
        "a": {"type": "prometheus", "url": "http://a"},
        "b": {"type": "prometheus", "url": "http://b"},
    }})
    assert resolve_source(config, "metrics") == "a"
    assert resolve_source(config, "alerts") == "a"  # Prometheus's rule alerts
    assert resolve_source(config, "logs") is None  # nothing fits
    assert resolve_source(config, "b") == "b"
    assert resolve_source(config, "nope") is None
    chosen = convert(Config, {**to_data(config), "roles": {"metrics": "b"}})
    assert resolve_source(chosen, "metrics") == "b"


# --------------------------------------------------------------------------- keymap


def test_keymap_with_unknown_binding_id(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        keymap:
          zoom: f
          zooom: g
        """)
    issue = only_issue(path)
    assert issue.line == 3
    assert issue.key == "keymap.zooom"
    assert "unknown binding id 'zooom'" in issue.message


def test_every_key_id_is_accepted_in_a_keymap(tmp_path: Path) -> None:
    lines = "".join(f"  {key_id}: x\n" for key_id in sorted(KEY_IDS))
    load_config(write(tmp_path, "keymap:\n" + lines))


# --------------------------------------------------------------------------- auth and tls


def source_with(tmp_path: Path, extra: str) -> Path:
    body = textwrap.indent(textwrap.dedent(extra), "    ")
    return write(tmp_path, "sources:\n  prom:\n    type: prometheus\n    url: http://p:9090\n"
                 + body)


@pytest.mark.parametrize(
    ("auth", "words"),
    [
        ("auth:\n  bearer_token_env: T\n  username: u\n  password_env: P\n", "not both"),
        ("auth:\n  bearer_token_env: T\n  bearer_token_file: /t\n", "not both"),
        ("auth:\n  username: u\n  password_env: P\n  password_file: /p\n", "not both"),
        ("auth:\n  username: u\n", "password"),
        ("auth:\n  password_env: P\n", "username"),
    ],
)
def test_bad_auth(tmp_path: Path, auth: str, words: str) -> None:
    issue = only_issue(source_with(tmp_path, auth))
    assert issue.line == 5  # the auth: key
    assert issue.key == "sources.prom.auth"
    assert words in issue.message


@pytest.mark.parametrize(
    "auth",
    [
        "auth: {bearer_token_env: T}\n",
        "auth: {bearer_token_file: /run/secrets/t}\n",
        "auth: {username: u, password_env: P}\n",
        "auth: {username: u, password_file: /p}\n",
    ],
)
def test_good_auth(tmp_path: Path, auth: str) -> None:
    assert load_config(source_with(tmp_path, auth)).config.sources["prom"].auth is not None


def test_secrets_cannot_be_written_in_the_file(tmp_path: Path) -> None:
    issue = only_issue(source_with(tmp_path, "auth:\n  username: u\n  password: hunter2\n"))
    assert issue.line == 7
    assert "unknown key 'password'" in issue.message
    assert "hunter2" not in issue.message


def test_tls_key_without_cert(tmp_path: Path) -> None:
    issue = only_issue(source_with(tmp_path, "tls:\n  key_file: /k.pem\n"))
    assert issue.line == 6  # the key_file line
    assert issue.key == "sources.prom.tls.key_file"
    assert "cert_file" in issue.message


# --------------------------------------------------------------------------- sources


def test_bad_url(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        sources:
          prom:
            type: prometheus
            url: prometheus:9090
        """)
    issue = only_issue(path)
    assert issue.line == 4
    assert issue.key == "sources.prom.url"
    assert "http" in issue.message


def test_unknown_source_type(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        sources:
          prom: {type: prometheus, url: "http://p"}
          other:
            type: graphite
            url: http://g
        """)
    issue = only_issue(path)
    assert issue.line == 4
    assert issue.key == "sources.other.type"
    assert "unknown source type 'graphite'" in issue.message
    assert "prometheus" in issue.message


def test_missing_source_type_lists_the_types(tmp_path: Path) -> None:
    path = write(tmp_path, "sources:\n  prom:\n    url: http://p\n")
    issue = only_issue(path)
    assert issue.line == 2
    assert "missing 'type'" in issue.message
    assert "prometheus" in issue.message


def test_source_named_like_a_role_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "sources:\n  metrics: {type: prometheus, url: http://p}\n")
    issue = only_issue(path)
    assert issue.line == 2 and issue.key == "sources.metrics"
    assert "reserved" in issue.message


def test_bad_duration_and_unknown_key_in_a_source(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        sources:
          prom:
            type: prometheus
            url: http://p
            timeout: 10x
            scrape_intreval: 15s
        """)
    # One source, one message: the first problem in it (fix it and check again).
    (issue,) = issues_of(path)
    assert (issue.line, issue.key) in [(5, "sources.prom.timeout"),
                                       (6, "sources.prom.scrape_intreval")]
    assert "bad duration" in issue.message or "did you mean 'scrape_interval'" in issue.message


def test_max_response_bytes_has_a_floor(tmp_path: Path) -> None:
    issue = only_issue(source_with(tmp_path, "max_response_bytes: 10\n"))
    assert issue.line == 5


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="not found"):
        load_config(tmp_path / "absent.yaml")


# --------------------------------------------------------------------------- flags


def test_no_config_and_no_flags_gives_nothing() -> None:
    assert config_from_flags(None) is None
    assert config_from_flags(None, prometheus="") is None


def test_prometheus_flag_makes_a_config() -> None:
    loaded = config_from_flags(None, prometheus="http://prom:9090/")
    assert loaded is not None
    assert loaded.path is None
    source = loaded.config.sources["prometheus"]
    assert source.type == "prometheus"
    assert source.url == "http://prom:9090"
    assert loaded.config.roles == {"metrics": "prometheus"}
    assert loaded.resolve_source("metrics") == "prometheus"


@pytest.mark.parametrize("url", ["prom:9090", "ftp://prom", "http://", "  "])
def test_bad_prometheus_flag(url: str) -> None:
    with pytest.raises(FlagError, match="--prometheus"):
        config_from_flags(None, prometheus=url)


def test_prometheus_flag_adds_to_a_loaded_config(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        sources:
          prom: {type: prometheus, url: "http://p:9090", scrape_interval: 30s}
        roles: {metrics: prom}
        theme: watchdeck-light
        keymap: {zoom: f}
        """)
    base = load_config(path)
    loaded = config_from_flags(base, prometheus="https://other:9090")
    assert loaded is not None
    assert loaded.path == path and loaded.base_dir == base.base_dir
    assert set(loaded.config.sources) == {"prom", "prometheus"}
    assert loaded.config.sources["prom"].scrape_interval == 30
    assert loaded.config.roles["metrics"] == "prometheus"  # the flag wins
    assert loaded.config.theme == "watchdeck-light"
    assert loaded.config.keymap == {"zoom": "f"}


def test_without_flags_the_loaded_config_is_kept(tmp_path: Path) -> None:
    base = load_config(write(tmp_path, "sources:\n  p: {type: prometheus, url: 'http://p'}\n"))
    loaded = config_from_flags(base)
    assert isinstance(loaded, LoadedConfig)
    assert loaded.config == base.config


def test_log_and_trace_flags_make_sources_with_their_roles() -> None:
    loaded = config_from_flags(None, logs=["/var/log/llm/*.jsonl"], otlp="127.0.0.1:4318",
                               jaeger="http://jaeger:16686")
    assert loaded is not None
    sources = loaded.config.sources
    assert sources["logfile"].type == "file" and sources["logfile"].paths == [
        "/var/log/llm/*.jsonl"]
    assert sources["otlp"].listen == "127.0.0.1:4318"
    assert sources["jaeger"].url == "http://jaeger:16686"
    # Jaeger wins the traces role over the receiver, the file the logs role.
    assert loaded.config.roles == {"traces": "jaeger", "logs": "logfile"}
    both = config_from_flags(None, loki="http://loki:3100", tempo="http://tempo:3200",
                             logs=["x.log"], jaeger="http://j:16686")
    assert both is not None and both.config.roles == {"traces": "tempo", "logs": "loki"}


@pytest.mark.parametrize(("flag", "value"), [
    ("loki", "loki:3100"), ("tempo", "ftp://tempo"), ("jaeger", "http://"),
    ("otlp", "4318"), ("logs", [" "]), ("scrape", ["nope"]), ("alertmanager", "am"),
])
def test_a_bad_flag_is_named(flag: str, value: object) -> None:
    with pytest.raises(FlagError, match=f"^--{flag}: "):
        config_from_flags(None, **{flag: value})  # type: ignore[arg-type]


def test_every_source_type_has_a_client() -> None:
    import importlib

    from watchdeck.core.config.models import SOURCE_TYPES
    from watchdeck.core.sources import _CLIENTS

    assert set(_CLIENTS) == set(SOURCE_TYPES)
    for module, cls in _CLIENTS.values():
        assert callable(getattr(importlib.import_module(module), cls))
