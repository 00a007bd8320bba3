"""The config file and layout file models (the contract in DESIGN.md).

Validation that a type cannot express lives in ``__post_init__``; whatever it raises
is reported with the file, line and key by :mod:`watchdeck.core.config.loader`.
"""

from __future__ import annotations

import re
import shlex
from typing import Annotated, ClassVar, Literal, Union

from msgspec import Meta, field
from msgspec.structs import force_setattr

from watchdeck.core.config.types import Duration, StrictModel

ROLES = ("metrics", "alerts", "logs", "traces")
Role = Literal["metrics", "alerts", "logs", "traces"]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_FR = re.compile(r"^(\d+(?:\.\d+)?)fr$")


def _text(description: str) -> Meta:
    return Meta(description=description)


def field_error(name: str, message: str) -> ValueError:
    """An error about one field, raised from ``__post_init__``: the loader points the
    message at that key's line instead of the object's."""
    return field_errors([(name, message)])


def field_errors(problems: list[tuple[str, str]]) -> ValueError:
    """Several field errors at once (each reported at its own line)."""
    return ValueError("\n".join(f"@{name}: {message}" for name, message in problems))


# --------------------------------------------------------------------------- sources


class AuthConfig(StrictModel):
    """Credentials. Secrets are never in the file: only where to read them."""

    bearer_token_env: Annotated[str | None, _text("Env var holding a bearer token.")] = None
    bearer_token_file: Annotated[str | None, _text("File holding a bearer token.")] = None
    username: Annotated[str | None, _text("User for HTTP basic auth.")] = None
    password_env: Annotated[str | None, _text("Env var holding the basic-auth password.")] = None
    password_file: Annotated[str | None, _text("File holding the basic-auth password.")] = None

    def __post_init__(self) -> None:
        bearer = [self.bearer_token_env, self.bearer_token_file]
        basic = [self.password_env, self.password_file]
        if all(bearer):
            raise ValueError("give bearer_token_env or bearer_token_file, not both")
        if all(basic):
            raise ValueError("give password_env or password_file, not both")
        if any(bearer) and (self.username or any(basic)):
            raise ValueError("choose bearer-token auth or basic auth, not both")
        if self.username and not any(basic):
            raise ValueError("basic auth needs password_env or password_file")
        if any(basic) and not self.username:
            raise ValueError("basic auth needs a username")


class TLSConfig(StrictModel):
    ca_file: Annotated[str | None, _text("PEM bundle of CAs to trust.")] = None
    cert_file: Annotated[str | None, _text("Client certificate (PEM) for mutual TLS.")] = None
    key_file: Annotated[str | None, _text("Key of the client certificate.")] = None
    insecure_skip_verify: Annotated[
        bool, _text("Do not verify the server certificate. Only when you must.")
    ] = False

    def __post_init__(self) -> None:
        if self.key_file and not self.cert_file:
            raise field_error("key_file", "key_file needs cert_file")


class SourceBase(StrictModel, tag_field="type"):
    """Every source: the ``type`` key picks the kind."""

    @property
    def type(self) -> str:
        return str(self.__struct_config__.tag)


class HTTPSourceConfig(SourceBase):
    url: Annotated[str, _text("Base URL, e.g. http://prometheus:9090 or https://mimir/prometheus")]
    headers: Annotated[dict[str, str], _text("Extra request headers, e.g. X-Scope-OrgID.")] = field(
        default_factory=dict
    )
    auth: AuthConfig | None = None
    tls: TLSConfig | None = None
    timeout: Annotated[Duration, _text("Per-request timeout.")] = 10.0  # type: ignore[assignment]
    max_response_bytes: Annotated[
        int, Meta(ge=1024, description="Responses larger than this are refused.")
    ] = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if not re.match(r"^https?://[^/\s]+", self.url):
            raise field_error("url", f"not an http(s) URL: {self.url!r}")
        force_setattr(self, "url", self.url.rstrip("/"))


class PrometheusSourceConfig(HTTPSourceConfig, tag="prometheus"):
    scrape_interval: Annotated[
        Duration, _text("The scrape interval behind the data: the finest step a query uses.")
    ] = 15.0  # type: ignore[assignment]


class AlertmanagerSourceConfig(HTTPSourceConfig, tag="alertmanager"):
    """Alertmanager API v2 (also Mimir's, under /alertmanager)."""


class ScrapeSourceConfig(SourceBase, tag="scrape"):
    """The embedded engine: scrapes /metrics endpoints itself, answers PromQL."""

    targets: Annotated[list[str], _text("URLs of /metrics endpoints.")] = field(
        default_factory=list)
    targets_file: Annotated[str | None, _text("A file listing target URLs, one a line.")] = None
    job: Annotated[str, _text("The job label of the targets.")] = "scrape"
    interval: Annotated[Duration, _text("Scrape interval.")] = 15.0  # type: ignore[assignment]
    timeout: Annotated[Duration | None, _text("Scrape timeout (default: interval, max 10s).")] = (
        None
    )
    retention: Annotated[Duration, _text("How long samples are kept.")] = (
        3 * 3600.0  # type: ignore[assignment]
    )
    max_series: Annotated[int, Meta(ge=1, description="Most series kept.")] = 200_000
    max_exemplars: Annotated[int, Meta(ge=1, description=(
        "Most exemplars kept (OpenMetrics trace ids; oldest overwritten)."))] = 100_000
    exemplars_per_series: Annotated[int, Meta(ge=1, description=(
        "Most exemplars kept per series (rare slow buckets are not pushed out)."))] = 500
    max_body_bytes: Annotated[int, Meta(ge=1024, description="Largest scrape answer.")] = (
        16 * 1024 * 1024
    )
    rules: Annotated[list[str], _text("Prometheus rule files to evaluate.")] = field(
        default_factory=list)
    rule_interval: Annotated[Duration | None, _text("Rule evaluation interval.")] = None

    def __post_init__(self) -> None:
        problems = []
        for index, url in enumerate(self.targets):
            if not re.match(r"^https?://[^/\s]+", url):
                problems.append((f"targets.{index}", f"not an http(s) URL: {url!r}"))
        if self.interval < 0.5:
            problems.append(("interval", "interval must be at least 500ms"))
        if problems:
            raise field_errors(problems)


class LokiSourceConfig(HTTPSourceConfig, tag="loki"):
    """Grafana Loki: query_range for history, the WebSocket tail for live lines."""

    query: Annotated[str | None, _text('Default LogQL stream selector, e.g. {app="vllm"}.')] = (
        None
    )


class JaegerSourceConfig(HTTPSourceConfig, tag="jaeger"):
    """Jaeger query (port 16686): /api/v3 first, the internal /api for older servers."""


class TempoSourceConfig(HTTPSourceConfig, tag="tempo"):
    """Grafana Tempo (port 3200): TraceQL search, traces by id, tag completion."""


class FileSourceConfig(SourceBase, tag="file"):
    """Files followed like tail -F: rotation, truncation, files that appear later."""

    path: Annotated[
        str | list[str], _text("A path or glob (/var/log/llm/*.jsonl), or a list of them.")
    ]
    backlog: Annotated[int, Meta(ge=0, description=(
        "Most lines from the end to start with, per file (caps the panel's backlog)."))] = 1000
    poll_interval: Annotated[
        Duration, _text("How often to look for new lines, rotation and new files.")
    ] = 0.25  # type: ignore[assignment]

    @property
    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)

    def __post_init__(self) -> None:
        if not self.paths or not all(p.strip() for p in self.paths):
            raise field_error("path", "path must name at least one file or glob")
        if not 0.01 <= self.poll_interval <= 60:
            raise field_error("poll_interval", "poll_interval must be between 10ms and 60s")


class CommandSourceConfig(SourceBase, tag="command"):
    """Lines from a command's stdout and stderr (kubectl logs -f, journalctl -f -o json)."""

    command: Annotated[
        str | list[str],
        _text("The command: a list of arguments, or a string split like a shell would "
              "(no shell unless shell: true)."),
    ]
    shell: Annotated[bool, _text("Run the string through /bin/sh -c.")] = False
    cwd: Annotated[str | None, _text("Working directory (relative to the config file; default: "
                                     "the console's working directory).")] = None
    env: Annotated[dict[str, str], _text("Extra environment variables.")] = field(
        default_factory=dict)
    restart: Annotated[bool, _text("Restart it, with backoff, when it exits.")] = True

    def __post_init__(self) -> None:
        if isinstance(self.command, list) and not self.command or not self.command:
            raise field_error("command", "command must not be empty")
        if self.shell and not isinstance(self.command, str):
            raise field_error("shell", "shell: true needs command as a string")
        if isinstance(self.command, str) and not self.shell:
            try:
                shlex.split(self.command)
            except ValueError as error:
                raise field_error("command", f"cannot split the command: {error}") from None


class WebSocketSourceConfig(SourceBase, tag="websocket"):
    """A ws:// or wss:// endpoint sending JSON lines or text."""

    url: Annotated[str, _text("ws:// or wss:// URL.")]
    headers: Annotated[dict[str, str], _text("Extra headers on the upgrade request.")] = field(
        default_factory=dict)
    auth: AuthConfig | None = None
    tls: TLSConfig | None = None
    subscribe: Annotated[
        str | None, _text("A message to send after connecting (e.g. a JSON subscription).")
    ] = None
    max_message_bytes: Annotated[
        int, Meta(ge=1024, description="Larger messages close the connection.")
    ] = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if not re.match(r"^wss?://[^/\s]+", self.url):
            raise field_error("url", f"not a ws(s) URL: {self.url!r}")


class OTLPSourceConfig(SourceBase, tag="otlp"):
    """The embedded OTLP/HTTP receiver: applications send logs (and traces) to it."""

    listen: Annotated[str, _text("host:port to listen on (loopback unless you say so).")] = (
        "127.0.0.1:4318"
    )
    max_logs: Annotated[int, Meta(ge=100, description="Most log records kept.")] = 100_000
    max_spans: Annotated[int, Meta(ge=100, description="Most spans kept.")] = 200_000
    max_body_bytes: Annotated[int, Meta(ge=1024, description="Larger requests are refused "
                                                            "(413).")] = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise field_error("listen", f"expected host:port, got {self.listen!r}")


SourceConfig = Union[PrometheusSourceConfig, ScrapeSourceConfig, AlertmanagerSourceConfig,
                     LokiSourceConfig, FileSourceConfig, CommandSourceConfig,
                     WebSocketSourceConfig, OTLPSourceConfig, JaegerSourceConfig,
                     TempoSourceConfig]
SOURCE_TYPES = ("prometheus", "scrape", "alertmanager", "loki", "file", "command", "websocket",
                "otlp", "jaeger", "tempo")
SOURCE_ROLE_TYPES: dict[str, tuple[str, ...]] = {
    "metrics": ("prometheus", "scrape"),
    "alerts": ("alertmanager", "prometheus", "scrape"),
    "logs": ("loki", "file", "command", "websocket", "otlp"),
    "traces": ("tempo", "jaeger", "otlp"),
}


class AlertNotify(StrictModel):
    """What happens when a new critical alert starts firing (nothing, by default)."""

    bell: Annotated[bool, _text("Ring the terminal bell.")] = False
    command: Annotated[
        list[str] | None,
        _text("Run this command with the alert's summary as its last argument "
              "(e.g. [notify-send, watchdeck])."),
    ] = None
    severities: Annotated[list[str], _text("Severities that notify.")] = field(
        default_factory=lambda: ["critical"])


class Config(StrictModel):
    """``config.yaml``: where data comes from, and personal preferences."""

    sources: dict[str, SourceConfig] = field(default_factory=dict)
    roles: Annotated[
        dict[Role, str],
        _text("Which source each role names; by default the first source that fits."),
    ] = field(default_factory=dict)
    layouts: Annotated[list[str], _text("Extra layout directories.")] = field(default_factory=list)
    default_layout: Annotated[str | None, _text("Layout shown at start.")] = None
    theme: Annotated[str | None, _text("Theme name (a themes/ file or a Textual theme).")] = None
    keymap: Annotated[dict[str, str], _text("Binding id -> keys, e.g. {zoom: f}.")] = field(
        default_factory=dict
    )
    max_series: Annotated[
        int, Meta(ge=1, le=10_000, description="Series drawn per panel at most.")
    ] = 50
    author: Annotated[str | None, _text("Author of silences (default: $USER).")] = None
    notify: AlertNotify = field(default_factory=AlertNotify)

    def __post_init__(self) -> None:
        for name in self.sources:
            if not re.match(_NAME, name):
                raise field_error(f"sources.{name}",
                                  f"bad source name {name!r} (letters, digits, _ . -)")
            if name in ROLES:
                raise field_error(f"sources.{name}",
                                  f"source name {name!r} is reserved for the role of that name")


# --------------------------------------------------------------------------- layouts


class Query(StrictModel):
    expr: Annotated[str, Meta(min_length=1,
                              description="PromQL; $variables and $__interval allowed.")]
    legend: Annotated[str | None, _text("Grafana legendFormat, e.g. '{{model_name}} p99'.")] = None
    instant: Annotated[
        bool | None, _text("Instant query (default for table and bars) or range (others).")
    ] = None


class Thresholds(StrictModel):
    warning: float | None = None
    critical: float | None = None
    mode: Annotated[
        Literal["above", "below"],
        _text("'above': high values are bad; 'below': low values are bad."),
    ] = "above"


class DrillTarget(StrictModel):
    source: Annotated[str, _text("Source or role name.")]
    query: Annotated[str, _text("Query in the backend's language.")]


class Drill(StrictModel):
    traces: DrillTarget | None = None
    logs: DrillTarget | None = None


class PanelBase(StrictModel, tag_field="type"):
    id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    title: str = ""
    description: str | None = None
    source: Annotated[str, _text("Role (metrics, ...) or source name.")] = "metrics"
    width: Annotated[int, Meta(ge=1, le=48, description="Grid columns spanned.")] = 6
    height: Annotated[
        int | str, _text("Terminal rows, or a share of free rows like '1fr'.")
    ] = 10
    unit: Annotated[str | None, _text("s, ms, bytes, percent, percentunit, reqps, ...")] = None
    decimals: Annotated[int, Meta(ge=0, le=10)] | None = None
    queries: list[Query] = field(default_factory=list)
    thresholds: Thresholds | None = None
    max_series: Annotated[int, Meta(ge=1, le=10_000)] | None = None
    refresh: Annotated[Duration | None, _text("Overrides the layout's refresh.")] = None
    drill: Drill | None = None
    alerts: Annotated[
        list[str], _text("Alert names this panel is about: it is marked while they fire.")
    ] = field(default_factory=list)

    needs_queries: ClassVar[bool] = True

    @property
    def type(self) -> str:
        return str(self.__struct_config__.tag)

    def __post_init__(self) -> None:
        height = self.height
        if isinstance(height, int):
            if height < 3:
                raise field_error("height", "height must be at least 3 rows")
        elif not _FR.match(height.strip()):
            raise field_error("height",
                              f"bad height {height!r}: rows (e.g. 12) or a share (e.g. 1fr)")
        else:
            force_setattr(self, "height", height.strip())
        if self.needs_queries and not self.queries:
            raise field_error("queries",
                              f"a {self.type} panel needs at least one query under 'queries'")


class TimeseriesPanel(PanelBase, tag="timeseries"):
    min: Annotated[float | None, _text("Y axis minimum (default: from the data).")] = None
    max: Annotated[float | None, _text("Y axis maximum (default: from the data).")] = None
    legend: Annotated[bool, _text("Show the legend with current/min/max.")] = True


class StatPanel(PanelBase, tag="stat"):
    reduce: Literal["last", "mean", "min", "max", "sum"] = "last"
    sparkline: bool = True


class BarsPanel(PanelBase, tag="bars"):
    min: float = 0.0
    max: Annotated[float | None, _text("Value of a full bar (default: the largest).")] = None
    sort: Literal["name", "value", "none"] = "name"


class TableSort(StrictModel):
    by: Annotated[str, _text("A label column, or a query's legend / 'value'.")]
    desc: bool = True


class TablePanel(PanelBase, tag="table"):
    columns: Annotated[
        list[str] | None, _text("Label columns (default: the labels whose values differ).")
    ] = None
    sort: TableSort | None = None


class TextPanel(PanelBase, tag="text", kw_only=True):
    content: Annotated[str, _text("Markdown.")]
    needs_queries: ClassVar[bool] = False


AlertState = Literal["firing", "pending", "silenced", "inhibited"]


class AlertsPanel(PanelBase, tag="alerts", kw_only=True):
    """Active alerts of an Alertmanager, a Prometheus or the embedded engine."""

    source: Annotated[str, _text("Role or source name (default: the alerts role).")] = "alerts"
    group_by: Annotated[str, _text("Label the alerts are grouped by.")] = "alertname"
    sort: Literal["severity", "age", "name"] = "severity"
    filter: Annotated[
        str | None, _text('Label matchers, e.g. severity="critical",model=~"llama.*".')
    ] = None
    states: Annotated[list[AlertState], _text("Which alerts to show (default: all).")] = field(
        default_factory=lambda: ["firing", "pending", "silenced", "inhibited"])
    needs_queries: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.filter:
            from watchdeck.core.alerts import parse_matchers

            try:
                parse_matchers(self.filter)
            except ValueError as error:
                raise field_error("filter", str(error)) from None


class LogsPanel(PanelBase, tag="logs", kw_only=True):
    """Live log lines of one or more log sources, merged in time order."""

    source: Annotated[str, _text("Role or source name (default: the logs role).")] = "logs"
    sources: Annotated[
        list[str], _text("Several log sources merged in time order (instead of source).")
    ] = field(default_factory=list)
    query: Annotated[
        str | None, _text('The source\'s own query: LogQL for Loki, e.g. {app="vllm"}.')
    ] = None
    filter: Annotated[
        str | None, _text("Initial filter, e.g. level>=warn -healthz replica=b.")
    ] = None
    columns: Annotated[
        list[str], _text("Fields shown as columns (the others as key=value after the message).")
    ] = field(default_factory=list)
    wrap: Annotated[bool, _text("Wrap long lines.")] = False
    buffer: Annotated[int, Meta(ge=100, le=2_000_000, description="Most lines kept.")] = (
        100_000
    )
    backlog: Annotated[int, Meta(ge=0, le=100_000, description="Lines of history at start.")] = (
        1000
    )
    needs_queries: ClassVar[bool] = False

    @property
    def source_names(self) -> list[str]:
        return list(self.sources) or [self.source]

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.filter:
            from watchdeck.core.logs.filter import parse_filter

            try:
                parse_filter(self.filter)
            except ValueError as error:
                raise field_error("filter", str(error)) from None


Panel = Union[TimeseriesPanel, StatPanel, BarsPanel, TablePanel, TextPanel, AlertsPanel,
              LogsPanel]
PANEL_TYPES = ("timeseries", "stat", "bars", "table", "text", "alerts", "logs")


class Variable(StrictModel):
    name: Annotated[str, Meta(pattern=_VAR_NAME)]
    label: Annotated[str | None, _text("Shown in the picker (default: name).")] = None
    query: Annotated[
        str | None, _text("label_values(metric, label) or label_values(label).")
    ] = None
    values: Annotated[list[str] | None, _text("Fixed choices instead of a query.")] = None
    source: str = "metrics"
    multi: bool = False
    include_all: bool = True
    all_value: Annotated[str, _text("What 'all' stands for in queries.")] = ".*"
    default: Annotated[
        str | list[str] | None, _text("'all', a value, or a list.")
    ] = None

    def __post_init__(self) -> None:
        if (self.query is None) == (self.values is None):
            raise ValueError("a variable needs exactly one of query or values")
        if isinstance(self.default, list) and not self.multi:
            raise field_error("default", "a list default needs multi: true")


class Layout(StrictModel):
    """A layout file: a named dashboard of panels on a grid."""

    panels: Annotated[list[Panel], Meta(min_length=1)]
    name: (
        Annotated[str, Meta(pattern=_NAME, description="Id; defaults to the file name.")] | None
    ) = None
    title: str | None = None
    description: str | None = None
    key: Annotated[str | int | None, _text("Hotkey 1-9.")] = None
    range: Annotated[Duration, _text("Default window.")] = 3600.0  # type: ignore[assignment]
    refresh: Annotated[Duration, _text("How often panels poll.")] = 10.0  # type: ignore[assignment]
    columns: Annotated[int, Meta(ge=1, le=48)] = 12
    variables: list[Variable] = field(default_factory=list)

    def __post_init__(self) -> None:
        problems = []
        if self.key is not None:
            key = str(self.key)
            if re.match(r"^[1-9]$", key):
                force_setattr(self, "key", key)
            else:
                problems.append(("key", f"key must be one digit 1-9, not {self.key!r}"))
        if self.range < 60:
            problems.append(("range", "range must be at least 1m"))
        if self.refresh < 1:
            problems.append(("refresh", "refresh must be at least 1s"))
        if problems:
            raise field_errors(problems)
