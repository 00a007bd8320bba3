"""Grafana Tempo (port 3200): TraceQL and tag search, traces by id, tag completion.

Searches go to ``/api/search``: with TraceQL (``q``, built from the query's fields by
:func:`watchdeck.core.traces.traceql.to_traceql`), or with Tempo's logfmt ``tags`` when the
query's raw text is tags rather than TraceQL (no ``{``). Results carry hex trace ids with
their leading zeros stripped (padded back here), ``startTimeUnixNano`` as a string and
``durationMs`` (absent under 1 ms); ``span_count``/``error_count``/``services`` come from
``serviceStats`` when Tempo sends it (else 0 and the root service: unknown).

Traces come from ``/api/v2/traces/{id}`` (``{"trace": ...}``) or, on a Tempo without it,
``/api/traces/{id}`` (``{"batches": [...]}``), always asking for JSON (Tempo answers
protobuf to clients that do not). Both are gogo-jsonpb, not OTLP JSON: base64 ids, enum
names, zero fields left out. Tag names and values come from the v2 endpoints (scoped names,
typed values), else from v1. Which versions a server has is found out once and remembered.
Tenancy is the ``X-Scope-OrgID`` header, set in the source's ``headers``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from watchdeck.core.config.models import TempoSourceConfig
from watchdeck.core.errors import BadResponseError, QueryError, SourceError
from watchdeck.core.logs.model import cut
from watchdeck.core.otlp.decode import json_int
from watchdeck.core.otlp.spans import Span, TraceSummary
from watchdeck.core.safe import sanitize
from watchdeck.core.sources.http import HTTPClient, HTTPResponse
from watchdeck.core.traces import traceql, wire
from watchdeck.core.traces.source import (
    TraceNotFoundError,
    TraceQuery,
    duration_fits,
    normalize_trace_id,
    slowest_first,
    split_scope,
)

MAX_NAME_CHARS = 4096
# What Tempo names a trace's root service while the root span has not arrived.
NO_ROOT = "<root span not yet received>"
# The tag-search names Tempo gives a span's own fields.
_TAG_SERVICE = "service.name"
_TAG_NAME = "name"
_TAG_STATUS = "status.code"


def summary_from_search(item: dict[str, Any]) -> TraceSummary | None:
    """One ``traces[]`` item of a search answer; None without a usable trace id."""
    trace_id = normalize_trace_id(item.get("traceID"))
    if trace_id is None:
        return None
    root_service = str(item.get("rootServiceName") or "")
    has_root = bool(root_service) and root_service != NO_ROOT
    service = root_service if has_root else ""
    stats = item.get("serviceStats")
    span_count = error_count = 0
    services: list[str] = []
    if isinstance(stats, dict):
        for name, counts in stats.items():
            services.append(str(name))
            if isinstance(counts, dict):
                span_count += json_int(counts.get("spanCount"))
                error_count += json_int(counts.get("errorCount"))
    elif service:
        services.append(service)
    duration_ms = item.get("durationMs")
    duration_ns = round(duration_ms * 1_000_000) if isinstance(
        duration_ms, (int, float)) and not isinstance(duration_ms, bool) else 0
    return TraceSummary(
        trace_id=trace_id, service=cut(service, MAX_NAME_CHARS),
        operation=cut(str(item.get("rootTraceName") or ""), MAX_NAME_CHARS),
        start_ns=json_int(item.get("startTimeUnixNano")), duration_ns=max(0, duration_ns),
        span_count=span_count, error_count=error_count,
        services=tuple(sorted(services)), has_root=has_root)


def _scoped_name(scope: str, tag: str) -> str:
    """A tag of a v2 tag-names scope as a TraceQL identifier."""
    if scope == "intrinsic":
        return tag
    if scope in ("span", "resource"):
        return traceql.traceql_attribute(f"{scope}.{tag}")
    name = traceql.traceql_attribute(tag)  # ".tag" or '."a b"'
    return f"{scope}{name}"


def _bare_name(tag: str) -> str:
    """A TraceQL identifier as a v1 tag name (``resource.service.name`` → ``service.name``)."""
    scope, name = split_scope(tag)
    if not scope:
        for other in ("event.", "link.", "instrumentation."):
            if name.startswith(other):
                name = name[len(other):]
    if len(name) > 1 and name.startswith('"') and name.endswith('"'):
        name = name[1:-1]
    return name


class TempoSource:
    """An async client for one Tempo (query-frontend) HTTP API."""

    type = "tempo"

    def __init__(self, name: str, config: TempoSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self.http = HTTPClient(name, config, base_dir)
        # Whether the server has /api/v2/traces and the v2 tag endpoints; None: not known.
        self.v2_traces: bool | None = None
        self.v2_tags: bool | None = None

    @property
    def url(self) -> str:
        return self.config.url

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ transport

    def _error(self, response: HTTPResponse) -> SourceError:
        """Tempo's errors are plain text: a 400's text is the reason the query was refused."""
        text = response.body.decode("utf-8", "replace").strip()
        if response.status == 400 and text and not text.startswith("<"):
            return QueryError(f"HTTP {response.status}", sanitize(text, 300),
                              status=response.status, source=self.name)
        return self.http.status_error(response)

    async def _get(self, path: str, params: Any = None) -> Any:
        response = await self.http.request("GET", path, params=params)
        if not wire.is_success(response):
            raise self._error(response)
        return self._object(response)

    def _object(self, response: HTTPResponse) -> dict[str, Any]:
        data = wire.read_json(response, self.http)
        if not isinstance(data, dict):
            raise BadResponseError("answer is JSON but not an object", source=self.name)
        return data

    async def _versioned(self, v2_path: str, v1_path: str, params: Any, flag: str
                         ) -> tuple[bool, dict[str, Any]]:
        """(whether v2 answered, the answer) from the v2 path, or from v1 when the server
        has no v2 (a 404 there while v1 answers); remembered in ``self.<flag>``."""
        if getattr(self, flag) is not False:
            response = await self.http.request("GET", v2_path, params=params)
            if wire.is_success(response):
                setattr(self, flag, True)
                return True, self._object(response)
            if response.status != 404 or getattr(self, flag):
                raise self._error(response)
            fallback = await self.http.request("GET", v1_path, params=params)
            if wire.is_success(fallback):
                setattr(self, flag, False)
                return False, self._object(fallback)
            raise self._error(fallback if fallback.status != 404 else response)
        return False, await self._get(v1_path, params)

    # ------------------------------------------------------------------ tags

    async def tag_names(self) -> list[str]:
        """Attribute names as TraceQL identifiers (``resource.service.name``,
        ``span.http.route``, intrinsics like ``duration``; v1 names as ``.name``)."""
        v2, data = await self._versioned("/api/v2/search/tags", "/api/search/tags", None,
                                         "v2_tags")
        names: set[str] = set()
        if v2:
            scopes = data.get("scopes")
            if not isinstance(scopes, (list, type(None))):
                raise BadResponseError("tag names answer without a scopes list",
                                       source=self.name)
            for scope in scopes or ():
                tags = scope.get("tags") if isinstance(scope, dict) else None
                for tag in tags if isinstance(tags, list) else ():
                    if isinstance(tag, str) and tag:
                        names.add(_scoped_name(str(scope.get("name") or ""), tag))
        else:
            for tag in self._list(data, "tagNames"):
                names.add(traceql.traceql_attribute(str(tag)))
        return sorted(names)

    async def tag_values(self, tag: str) -> list[str]:
        """Values of one attribute (a TraceQL identifier, as :meth:`tag_names` gives)."""
        return await self._tag_values(tag, None)

    async def _tag_values(self, tag: str, where: str | None) -> list[str]:
        params = {"q": where} if where is not None else None
        v2_path = f"/api/v2/search/tag/{quote(tag, safe='')}/values"
        v1_path = f"/api/search/tag/{quote(_bare_name(tag), safe='')}/values"
        v2, data = await self._versioned(v2_path, v1_path, params, "v2_tags")
        values: set[str] = set()
        for item in self._list(data, "tagValues"):
            value = item.get("value") if v2 and isinstance(item, dict) else item
            if value is not None and not isinstance(value, (dict, list)):
                values.add(value if isinstance(value, str) else str(value))
        return sorted(values)

    def _list(self, data: dict[str, Any], key: str) -> list[Any]:
        found = data.get(key)
        if found is None:
            return []
        if not isinstance(found, list):
            raise BadResponseError(f"{key} is not a list", source=self.name)
        return found

    async def services(self) -> list[str]:
        return await self._tag_values(traceql.SERVICE_ATTRIBUTE, None)

    async def operations(self, service: str) -> list[str]:
        """Span names of ``service`` (of every service on a Tempo without v2 tags)."""
        where = f"{{ {traceql.SERVICE_ATTRIBUTE} = {traceql.traceql_string(service)} }}"
        return await self._tag_values("name", where)

    # ------------------------------------------------------------------ search

    def search_params(self, query: TraceQuery) -> dict[str, str]:
        """The ``/api/search`` parameters for ``query``."""
        params = {"limit": str(query.limit)}
        raw = query.query
        if raw is not None and "{" not in raw:
            try:
                tags = traceql.parse_logfmt(raw)
            except ValueError as error:
                raise QueryError("tags", str(error), source=self.name) from None
            if query.service is not None:
                tags[_TAG_SERVICE] = query.service
            if query.operation is not None:
                tags[_TAG_NAME] = query.operation
            if query.status != "any":
                tags[_TAG_STATUS] = query.status
            for key, value in query.attributes.items():
                tags[split_scope(key)[1]] = value
            params["tags"] = traceql.logfmt(tags)
            if query.min_duration_ns is not None:
                params["minDuration"] = traceql.go_duration(query.min_duration_ns)
            if query.max_duration_ns is not None:
                params["maxDuration"] = traceql.go_duration(query.max_duration_ns)
        else:
            params["q"] = traceql.to_traceql(query)
        if query.start is not None or query.end is not None:
            start, end = query.window(wire.now())
            # Tempo reads whole seconds only; the window is widened to them.
            params["start"] = str(int(start))
            params["end"] = str(-int(-end // 1))
        return params

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        data = await self._get("/api/search", self.search_params(query))
        found = []
        for item in self._list(data, "traces"):
            if not isinstance(item, dict):
                continue
            summary = summary_from_search(item)
            if summary is not None and duration_fits(summary.duration_ns, query):
                found.append(summary)
        return slowest_first(found, query.limit)

    # ------------------------------------------------------------------ traces

    async def trace(self, trace_id: str) -> list[Span]:
        wanted = normalize_trace_id(trace_id)
        if wanted is None:
            raise TraceNotFoundError(trace_id, f"not a trace id: {sanitize(trace_id, 80)!r}",
                                     source=self.name)
        try:
            v2, data = await self._versioned(f"/api/v2/traces/{wanted}",
                                             f"/api/traces/{wanted}", None, "v2_traces")
        except SourceError as error:
            if getattr(error, "status", None) == 404:
                raise TraceNotFoundError(wanted, source=self.name) from None
            raise
        body = data.get("trace") if v2 else data
        if v2 and body is None:
            body = {}
        if not isinstance(body, dict):
            raise BadResponseError("trace answer without a trace object", source=self.name)
        resource_spans = body.get("resourceSpans", body.get("batches"))
        spans = wire.spans_from_otlp(resource_spans, source=self.name, what="trace")
        spans = [span for span in spans if span.trace_id == wanted]
        if not spans:
            raise TraceNotFoundError(wanted, source=self.name)
        return spans
