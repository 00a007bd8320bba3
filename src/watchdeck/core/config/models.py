"""The config file and layout file models (the contract in DESIGN.md)."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from watchdeck.core.config.types import Duration, StrictModel

ROLES = ("metrics", "alerts", "logs", "traces")
Role = Literal["metrics", "alerts", "logs", "traces"]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_FR = re.compile(r"^(\d+(?:\.\d+)?)fr$")


# --------------------------------------------------------------------------- sources


class AuthConfig(StrictModel):
    """Credentials. Secrets are never in the file: only where to read them."""

    bearer_token_env: str | None = Field(None, description="Env var holding a bearer token.")
    bearer_token_file: str | None = Field(None, description="File holding a bearer token.")
    username: str | None = Field(None, description="User for HTTP basic auth.")
    password_env: str | None = Field(None, description="Env var holding the basic-auth password.")
    password_file: str | None = Field(None, description="File holding the basic-auth password.")

    @model_validator(mode="after")
    def _one_scheme(self) -> AuthConfig:
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
        return self


class TLSConfig(StrictModel):
    ca_file: str | None = Field(None, description="PEM bundle of CAs to trust.")
    cert_file: str | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    key_file: str | None = Field(None, description="Key of the client certificate.")
    server_name: str | None = Field(None, description="Expected server name, if not the URL host.")
    insecure_skip_verify: bool = Field(
        False, description="Do not verify the server certificate. Only when you must."
    )

    @model_validator(mode="after")
    def _pair(self) -> TLSConfig:
        if self.key_file and not self.cert_file:
            raise ValueError("key_file needs cert_file")
        return self


class HTTPSourceConfig(StrictModel):
    url: str = Field(description="Base URL, e.g. http://prometheus:9090 or https://mimir/prometheus")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers, e.g. X-Scope-OrgID."
    )
    auth: AuthConfig | None = None
    tls: TLSConfig | None = None
    timeout: Duration = Field(10.0, description="Per-request timeout.")
    max_response_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Responses larger than this are refused."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.rstrip("/")


class PrometheusSourceConfig(HTTPSourceConfig):
    type: Literal["prometheus"]
    scrape_interval: Duration = Field(
        15.0, description="The scrape interval behind the data: the finest step a query uses."
    )


SourceConfig = Annotated[Union[PrometheusSourceConfig], Field(discriminator="type")]
SOURCE_TYPES = ("prometheus",)
SOURCE_ROLE_TYPES: dict[str, tuple[str, ...]] = {
    "metrics": ("prometheus",),
    "alerts": (),
    "logs": (),
    "traces": (),
}


class Config(StrictModel):
    """``config.yaml``: where data comes from, and personal preferences."""

    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    roles: dict[Role, str] = Field(
        default_factory=dict,
        description="Which source each role names; by default the first source that fits.",
    )
    layouts: list[str] = Field(default_factory=list, description="Extra layout directories.")
    default_layout: str | None = Field(None, description="Layout shown at start.")
    theme: str | None = Field(None, description="Theme name (a themes/ file or a Textual theme).")
    keymap: dict[str, str] = Field(
        default_factory=dict, description="Binding id -> keys, e.g. {zoom: f}."
    )
    max_series: int = Field(50, ge=1, le=10_000, description="Series drawn per panel at most.")

    @field_validator("sources")
    @classmethod
    def _names(cls, sources: dict[str, object]) -> dict[str, object]:
        for name in sources:
            if not re.match(_NAME, name):
                raise ValueError(f"bad source name {name!r} (letters, digits, _ . -)")
            if name in ROLES:
                raise ValueError(f"source name {name!r} is reserved for the role of that name")
        return sources


# --------------------------------------------------------------------------- layouts


class Query(StrictModel):
    expr: str = Field(min_length=1, description="PromQL; $variables and $__interval allowed.")
    legend: str | None = Field(None, description="Grafana legendFormat, e.g. '{{model_name}} p99'.")
    instant: bool | None = Field(
        None, description="Instant query (default for table and bars) or range (others)."
    )


class Thresholds(StrictModel):
    warning: float | None = None
    critical: float | None = None
    mode: Literal["above", "below"] = Field(
        "above", description="'above': high values are bad; 'below': low values are bad."
    )


class DrillTarget(StrictModel):
    source: str = Field(description="Source or role name.")
    query: str = Field(description="Query in the backend's language.")


class Drill(StrictModel):
    traces: DrillTarget | None = None
    logs: DrillTarget | None = None


Height = Union[int, str]


class PanelBase(StrictModel):
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]+$")
    title: str = ""
    description: str | None = None
    source: str = Field("metrics", description="Role (metrics, ...) or source name.")
    width: int = Field(6, ge=1, le=48, description="Grid columns spanned.")
    height: Height = Field(10, description="Terminal rows, or a share of free rows like '1fr'.")
    unit: str | None = Field(None, description="s, ms, bytes, percent, percentunit, reqps, ...")
    decimals: int | None = Field(None, ge=0, le=10)
    queries: list[Query] = Field(default_factory=list)
    thresholds: Thresholds | None = None
    max_series: int | None = Field(None, ge=1, le=10_000)
    refresh: Duration | None = Field(None, description="Overrides the layout's refresh.")
    drill: Drill | None = None

    @field_validator("height")
    @classmethod
    def _height(cls, value: Height) -> Height:
        if isinstance(value, bool):
            raise ValueError("height must be rows (an integer) or a share like '1fr'")
        if isinstance(value, int):
            if value < 3:
                raise ValueError("height must be at least 3 rows")
            return value
        if not _FR.match(value.strip()):
            raise ValueError(f"bad height {value!r}: rows (e.g. 12) or a share (e.g. 1fr)")
        return value.strip()

    @property
    def needs_queries(self) -> bool:
        return True

    @model_validator(mode="after")
    def _queries_present(self) -> PanelBase:
        if self.needs_queries and not self.queries:
            raise ValueError(
                f"a {getattr(self, 'type', '')} panel needs at least one query under 'queries'"
            )
        return self


class TimeseriesPanel(PanelBase):
    type: Literal["timeseries"]
    min: float | None = Field(None, description="Y axis minimum (default: from the data).")
    max: float | None = Field(None, description="Y axis maximum (default: from the data).")
    legend: bool = Field(True, description="Show the legend with current/min/max.")


class StatPanel(PanelBase):
    type: Literal["stat"]
    reduce: Literal["last", "mean", "min", "max", "sum"] = "last"
    sparkline: bool = True


class BarsPanel(PanelBase):
    type: Literal["bars"]
    min: float = 0.0
    max: float | None = Field(None, description="Value of a full bar (default: the largest).")
    sort: Literal["name", "value", "none"] = "name"


class TableSort(StrictModel):
    by: str = Field(description="A label column, or a query's legend / 'value'.")
    desc: bool = True


class TablePanel(PanelBase):
    type: Literal["table"]
    columns: list[str] | None = Field(
        None, description="Label columns (default: the labels whose values differ)."
    )
    sort: TableSort | None = None


class TextPanel(PanelBase):
    type: Literal["text"]
    content: str = Field(description="Markdown.")

    @property
    def needs_queries(self) -> bool:
        return False


Panel = Annotated[
    Union[TimeseriesPanel, StatPanel, BarsPanel, TablePanel, TextPanel],
    Field(discriminator="type"),
]
PANEL_TYPES = ("timeseries", "stat", "bars", "table", "text")


class Variable(StrictModel):
    name: str = Field(pattern=_VAR_NAME)
    label: str | None = Field(None, description="Shown in the picker (default: name).")
    query: str | None = Field(
        None, description="label_values(metric, label) or label_values(label)."
    )
    values: list[str] | None = Field(None, description="Fixed choices instead of a query.")
    source: str = "metrics"
    multi: bool = False
    include_all: bool = True
    all_value: str = Field(".*", description="What 'all' stands for in queries.")
    default: str | list[str] | None = Field(None, description="'all', a value, or a list.")

    @model_validator(mode="after")
    def _choices(self) -> Variable:
        if (self.query is None) == (self.values is None):
            raise ValueError("a variable needs exactly one of query or values")
        if isinstance(self.default, list) and not self.multi:
            raise ValueError("a list default needs multi: true")
        return self


class Layout(StrictModel):
    """A layout file: a named dashboard of panels on a grid."""

    name: str | None = Field(None, pattern=_NAME, description="Id; defaults to the file name.")
    title: str | None = None
    description: str | None = None
    key: str | None = Field(None, pattern=r"^[1-9]$", description="Hotkey 1-9.")
    range: Duration = Field(3600.0, description="Default window.")
    refresh: Duration = Field(10.0, description="How often panels poll.")
    columns: int = Field(12, ge=1, le=48)
    variables: list[Variable] = Field(default_factory=list)
    panels: list[Panel] = Field(min_length=1)

    @field_validator("refresh")
    @classmethod
    def _refresh(cls, value: float) -> float:
        if value < 1:
            raise ValueError("refresh must be at least 1s")
        return value

    @field_validator("range")
    @classmethod
    def _range(cls, value: float) -> float:
        if value < 60:
            raise ValueError("range must be at least 1m")
        return value
