"""Jaeger query (port 16686): the stable ``/api/v3`` JSON API first, the internal ``/api``
of older servers when a server has no v3.

Which API a server speaks is found out once, on the first request: a v3 path that is not
there (a 404 or 405 that is not v3's own JSON error, or the UI's HTML page) means an older
Jaeger, and every later call goes to the internal API. Searches use
``/api/v3/trace-summaries`` (Jaeger 2.19+) where the server has it, else
``/api/v3/traces`` (whole traces, summarised here); that too is remembered.

v3 answers are OTLP JSON under ``result`` (hex ids from current servers, base64 ids and
enum names from older grpc-gateways, possibly several streamed objects); the internal API
answers ``{data, errors}`` envelopes of Jaeger's UI model
(:mod:`watchdeck.core.traces.jaeger_model` reads it).

Jaeger searches need a service. A query's raw text may be Jaeger UI's logfmt tags
(``error=true http.status_code=500``) or plain TraceQL (``{ resource.service.name = "api"
&& duration > 1s }``, see :func:`watchdeck.core.traces.traceql.parse`), so that a layout's
TraceQL drill query also works against Jaeger. Jaeger's duration filter is on spans; the
trace's own duration is checked here too, as are conditions an older server ignores.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from watchdeck.core.config.models import JaegerSourceConfig
from watchdeck.core.errors import BadResponseError, QueryError
from watchdeck.core.logs.model import cut
from watchdeck.core.otlp.decode import json_int
from watchdeck.core.otlp.spans import Span, TraceSummary
from watchdeck.core.safe import sanitize
from watchdeck.core.sources.http import HTTPClient, HTTPResponse, body_excerpt
from watchdeck.core.traces import traceql, wire
from watchdeck.core.traces.jaeger_model import FIELD_TAGS, STATUS_TAG, spans_from_jaeger
from watchdeck.core.traces.source import (
    TraceNotFoundError,
    TraceQuery,
    duration_fits,
    group_by_trace,
    normalize_trace_id,
    slowest_first,
    span_matches,
    split_scope,
    summarize,
)

MAX_NAME_CHARS = 4096
# Keys the server matches on a span's fields: not checked again against attributes here.
_SERVER_ONLY_KEYS = FIELD_TAGS | {"error"}


def _v3_error_info(data: object) -> tuple[int | None, str] | None:
    """(HTTP code, message) of a v3 error body: ``{"error": {"httpCode", "message"}}``, or
    a grpc-gateway status ``{"code", "message"}``; None when it is neither."""
    if not isinstance(data, dict):
        return None
    inner = data.get("error")
    if isinstance(inner, dict) and "message" in inner:
        code = inner.get("httpCode")
        return (code if isinstance(code, int) else None), str(inner.get("message"))
    if "message" in data and "code" in data and "result" not in data:
        return None, str(data["message"])
    return None


class JaegerSource:
    """An async client for one Jaeger query service."""

    type = "jaeger"

    def __init__(self, name: str, config: JaegerSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self.http = HTTPClient(name, config, base_dir)
        # "v3" or "internal" once known; whether /api/v3/trace-summaries exists.
        self.api: str | None = None
        self.summaries: bool | None = None

    @property
    def url(self) -> str:
        return self.config.url

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ transport

    def _v3_missing(self, response: HTTPResponse) -> bool:
        if response.status in (404, 405):
            if not wire.looks_like_json(response):
                return True
            try:
                return _v3_error_info(json.loads(response.body)) is None
            except ValueError:
                return True
        return wire.is_success(response) and response.body.lstrip()[:1] == b"<"

    async def _v3(self, path: str, params: Any = None, *, decides: bool = True
                  ) -> HTTPResponse | None:
        """The v3 answer, or None when this server has no v3 (known, or learnt now when
        ``decides``: a missing trace-summaries says nothing about the rest of v3)."""
        if self.api == "internal":
            return None
        response = await self.http.request("GET", path, params=params)
        if self.api is None and decides:
            if self._v3_missing(response):
                self.api = "internal"
                return None
            if response.status < 500 and wire.looks_like_json(response):
                self.api = "v3"
        return response

    def _v3_data(self, response: HTTPResponse, *, stream: bool = False) -> Any:
        """The body of a v3 answer; its error raised as a :class:`QueryError` whose
        ``status`` is the HTTP code."""
        data = wire.read_json(response, self.http, stream=stream)
        first = data[0] if stream and isinstance(data, list) and data else data
        info = _v3_error_info(first)
        if info is not None and (not wire.is_success(response) or "result" not in first):
            code, message = info
            status = response.status if not wire.is_success(response) else (code or 500)
            raise QueryError(f"HTTP {status}", sanitize(message, 300), status=status,
                             source=self.name)
        if not wire.is_success(response):
            raise self.http.status_error(response)
        return data

    async def _internal(self, path: str, params: Any = None) -> Any:
        """``data`` of an internal-API envelope; its ``errors`` raised as a
        :class:`QueryError` whose ``status`` is the error's code."""
        response = await self.http.request("GET", path, params=params)
        envelope = wire.read_json(response, self.http)
        if not isinstance(envelope, dict) or not ({"data", "errors"} & envelope.keys()):
            if not wire.is_success(response):
                raise self.http.status_error(response)
            raise BadResponseError(
                f"answer is JSON but not a Jaeger API response: {body_excerpt(response.body)}",
                source=self.name)
        errors = envelope.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            code = first.get("code")
            status = code if isinstance(code, int) and code else response.status
            raise QueryError(f"HTTP {status}", sanitize(str(first.get("msg") or errors[0]), 300),
                             status=status, source=self.name)
        if not wire.is_success(response):
            raise self.http.status_error(response)
        return envelope.get("data")

    def _names(self, data: object, key: str | None = None) -> list[str]:
        """The sorted distinct names in ``data[key]`` (or ``data``): strings, or objects
        with a ``name`` (v3 operations)."""
        if key is not None:
            if not isinstance(data, dict):
                raise BadResponseError(f"expected an object with {key!r}", source=self.name)
            data = data.get(key)
        if data is None:
            return []
        if not isinstance(data, list):
            raise BadResponseError(f"expected a list of {key or 'names'}", source=self.name)
        names = set()
        for item in data:
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str) and name:
                names.add(name)
        return sorted(names)

    # ------------------------------------------------------------------ API

    async def services(self) -> list[str]:
        response = await self._v3("/api/v3/services")
        if response is not None:
            return self._names(self._v3_data(response), "services")
        return self._names(await self._internal("/api/services"))

    async def operations(self, service: str) -> list[str]:
        response = await self._v3("/api/v3/operations", {"service": service})
        if response is not None:
            return self._names(self._v3_data(response), "operations")
        path = f"/api/services/{quote(service, safe='')}/operations"
        return self._names(await self._internal(path))

    async def trace(self, trace_id: str) -> list[Span]:
        wanted = normalize_trace_id(trace_id)
        if wanted is None:
            raise TraceNotFoundError(trace_id, f"not a trace id: {sanitize(trace_id, 80)!r}",
                                     source=self.name)
        try:
            response = await self._v3(f"/api/v3/traces/{wanted}")
            if response is not None:
                spans = self._otlp_spans(self._v3_data(response, stream=True), "trace")
            else:
                data = await self._internal(f"/api/traces/{wanted}")
                spans = self._jaeger_spans(data)
        except QueryError as error:
            if error.status == 404:
                raise TraceNotFoundError(wanted, source=self.name) from None
            raise
        spans = [span for span in spans if span.trace_id == wanted]
        if not spans:
            raise TraceNotFoundError(wanted, source=self.name)
        return spans

    def _otlp_spans(self, chunks: list[Any], what: str) -> list[Span]:
        resource_spans: list[Any] = []
        for chunk in chunks:
            result = chunk.get("result") if isinstance(chunk, dict) else None
            if not isinstance(result, dict):
                info = _v3_error_info(chunk)
                if info is not None:  # a grpc-gateway stream that failed part way
                    raise QueryError("", sanitize(info[1], 300), status=info[0],
                                     source=self.name)
                raise BadResponseError(f"{what} answer without a result object",
                                       source=self.name)
            found = result.get("resourceSpans")
            if found is not None and not isinstance(found, list):
                raise BadResponseError(f"{what}: resourceSpans is not a list", source=self.name)
            resource_spans.extend(found or ())
        return wire.spans_from_otlp(resource_spans, source=self.name, what=what)

    def _jaeger_spans(self, data: object) -> list[Span]:
        if data is None:
            return []
        if not isinstance(data, list):
            raise BadResponseError("expected a list of traces", source=self.name)
        spans: list[Span] = []
        for trace in data:
            if not isinstance(trace, dict):
                raise BadResponseError("a trace is not an object", source=self.name)
            try:
                spans.extend(spans_from_jaeger(trace))
            except BadResponseError as error:
                error.source = self.name
                raise
        for seq, span in enumerate(spans, 1):
            span.seq = seq
        return spans

    # ------------------------------------------------------------------ search

    def _resolve(self, query: TraceQuery) -> TraceQuery | None:
        """The query with its raw text read into fields; None when nothing can match."""
        raw = query.query
        resolved: TraceQuery | None = query
        if raw is not None:
            try:
                if "{" in raw:
                    parsed = traceql.parse(raw)
                else:
                    parsed = TraceQuery(attributes=traceql.parse_logfmt(raw))
            except ValueError as error:
                what = "TraceQL" if "{" in raw else "tags"
                raise QueryError(what, f"Jaeger cannot read this query: {error}",
                                 source=self.name) from None
            resolved = traceql.combine(parsed, replace(query, query=None))
        if resolved is not None and resolved.attributes.get("error") == "true":
            attributes = {k: v for k, v in resolved.attributes.items() if k != "error"}
            if resolved.status == "ok":
                return None
            resolved = replace(resolved, attributes=attributes, status="error")
        if resolved is not None and resolved.service is None:
            raise QueryError("", "Jaeger searches need a service: pick one", source=self.name)
        return resolved

    @staticmethod
    def _tags(query: TraceQuery) -> dict[str, str]:
        tags = {split_scope(key)[1]: value for key, value in query.attributes.items()}
        if query.status == "error":
            tags["error"] = "true"
        elif query.status == "ok":
            tags[STATUS_TAG] = "OK"
        return tags

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        resolved = self._resolve(query)
        if resolved is None:
            return []
        service = resolved.service
        assert service is not None  # _resolve saw to it
        start, end = resolved.window(wire.now())
        tags = self._tags(resolved)
        if self.api != "internal":
            params = {"query.service_name": service,
                      "query.start_time_min": wire.rfc3339(start),
                      "query.start_time_max": wire.rfc3339(end),
                      "query.num_traces": str(resolved.limit)}
            if resolved.operation is not None:
                params["query.operation_name"] = resolved.operation
            if resolved.min_duration_ns is not None:
                params["query.duration_min"] = traceql.go_duration(resolved.min_duration_ns)
            if resolved.max_duration_ns is not None:
                params["query.duration_max"] = traceql.go_duration(resolved.max_duration_ns)
            if tags:
                params["query.attributes"] = json.dumps(tags, ensure_ascii=False)
            found = await self._search_v3(params, resolved)
            if found is not None:
                return found
        params = {"service": service, "start": str(int(start * 1e6)),
                  "end": str(int(end * 1e6)), "limit": str(resolved.limit)}
        if resolved.operation is not None:
            params["operation"] = resolved.operation
        if resolved.min_duration_ns is not None:
            params["minDuration"] = traceql.go_duration(resolved.min_duration_ns)
        if resolved.max_duration_ns is not None:
            params["maxDuration"] = traceql.go_duration(resolved.max_duration_ns)
        if tags:
            params["tags"] = json.dumps(tags, ensure_ascii=False)
        try:
            data = await self._internal("/api/traces", params)
        except QueryError as error:
            if error.status == 404:
                return []
            raise
        return self._summaries(self._jaeger_spans(data), resolved, check_attributes=False)

    async def _search_v3(self, params: dict[str, str], query: TraceQuery
                         ) -> list[TraceSummary] | None:
        """v3 search: summaries where the server has them, else whole traces; None when
        the server has no v3."""
        try:
            if self.summaries is not False:
                response = await self._v3("/api/v3/trace-summaries", params, decides=False)
                if response is not None and not self._v3_missing(response):
                    self.summaries = True
                    self.api = "v3"
                    return self._from_summaries(self._v3_data(response), query)
                if response is not None:
                    self.summaries = False
            response = await self._v3("/api/v3/traces", params)
            if response is None:
                return None
            spans = self._otlp_spans(self._v3_data(response, stream=True), "search")
        except QueryError as error:
            if error.status == 404:  # v3's "No traces found"
                return []
            raise
        return self._summaries(spans, query, check_attributes=True)

    def _summaries(self, spans: list[Span], query: TraceQuery, *, check_attributes: bool
                   ) -> list[TraceSummary]:
        # Checked again here: the trace's duration (Jaeger's is per span), the status
        # and what an older server ignores (v3 attributes before 2.19), except tags the
        # server matches on a span's own fields. Service and operation it always honours.
        attributes = {key: value for key, value in query.attributes.items()
                      if check_attributes and split_scope(key)[1] not in _SERVER_ONLY_KEYS}
        check = replace(query, service=None, operation=None, attributes=attributes,
                        query=None)
        found = []
        for trace_id, trace_spans in group_by_trace(spans).items():
            summary = summarize(trace_id, trace_spans)
            if summary is None or not duration_fits(summary.duration_ns, check):
                continue
            if any(span_matches(span, check) for span in trace_spans):
                found.append(summary)
        return slowest_first(found, query.limit)

    def _from_summaries(self, data: object, query: TraceQuery) -> list[TraceSummary]:
        items = data.get("summaries") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(items, (list, type(None))):
            raise BadResponseError("trace-summaries answer without a summaries list",
                                   source=self.name)
        found = []
        for item in items or ():
            if not isinstance(item, dict):
                continue
            trace_id = normalize_trace_id(item.get("traceId"))
            if trace_id is None:
                continue
            start = json_int(item.get("minStartTimeUnixNano"))
            end = json_int(item.get("maxEndTimeUnixNano"))
            services = item.get("services")
            names = sorted({str(entry.get("name")) for entry in services or ()
                            if isinstance(entry, dict) and entry.get("name")}
                           ) if isinstance(services, list) else []
            root_service = str(item.get("rootServiceName") or "")
            root_name = str(item.get("rootOperationName") or "")
            summary = TraceSummary(
                trace_id=trace_id, service=cut(root_service, MAX_NAME_CHARS),
                operation=cut(root_name, MAX_NAME_CHARS), start_ns=start,
                duration_ns=max(0, end - start), span_count=json_int(item.get("spanCount")),
                error_count=json_int(item.get("errorSpanCount")), services=tuple(names),
                has_root=bool(root_service or root_name))
            if not duration_fits(summary.duration_ns, query):
                continue
            if query.status == "error" and summary.error_count == 0:
                continue
            found.append(summary)
        return slowest_first(found, query.limit)

