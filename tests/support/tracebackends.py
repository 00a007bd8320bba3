"""Fake Jaeger and Tempo query services on loopback (aiohttp), answering in the documented
shapes of ``shared/fixtures/{jaeger,tempo}`` (inline in :mod:`tests.support.trace_fixtures`).

Both keep :class:`FakeSpan` traces and answer from them:

* :class:`FakeJaeger` speaks ``/api/v3`` (``api="v3"``; ``summaries=False`` for a server
  before 2.19 without ``/api/v3/trace-summaries``) and always the internal ``/api`` (as
  Jaeger 1.x and 2.0-2.20 do); ``api="internal"`` is an older Jaeger without v3 (its v3
  paths are Go's plain-text 404). Searches filter like Jaeger: service, operation, tags
  and span durations on one span, span start in the window, newest traces first. v3
  errors are ``{"error": {"httpCode", "message"}}`` (404 "No traces found" for no
  match), internal ones ``{data, errors}`` envelopes, both with a ``text/plain`` type.
* :class:`FakeTempo` answers ``/api/search`` (every kept trace in the window, newest
  first: it does not evaluate TraceQL, tests read the ``q`` it got), traces by id in
  gogo-jsonpb (base64 ids, enum names) under ``trace`` (v2) or ``batches`` (v1), protobuf
  to a client that does not ask for JSON, tag names and values (v2 scoped and typed, v1
  plain), ``X-Scope-OrgID`` when a ``tenant`` is set; ``v2=False`` is a Tempo before the
  v2 endpoints. Errors are plain text, as Tempo's are.

Tests script either with :meth:`reply` (a literal answer for one path: a fixture, a 500
with a body, a proxy's HTML 502, JSON cut short) and read ``requests`` (path, parameters,
headers of every request).
"""

from __future__ import annotations

import base64
import calendar
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.net import LOOPBACK

_KINDS = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4,
          "consumer": 5}
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
             "h": 3600 * 10**9}
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z")


@dataclass
class FakeSpan:
    trace_id: str   # hex, as the backend keeps it (16 digits for a 64-bit Jaeger id)
    span_id: str
    name: str
    service: str
    start_ns: int
    duration_ns: int
    parent: str | None = None
    kind: str = "server"
    error: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ns

    def tag(self, key: str) -> str | None:
        """A tag as Jaeger's search compares it (text)."""
        if key == "error":
            return "true" if self.error else None
        if key == "otel.status_code":
            return "ERROR" if self.error else None
        value = self.attributes.get(key, self.resource.get(key))
        if value is None:
            return None
        return ("true" if value else "false") if isinstance(value, bool) else str(value)


@dataclass
class Seen:
    """One request as the fake got it (header names lower-cased)."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


def pad(trace_id: str) -> str:
    return trace_id.lower().rjust(32, "0")


def go_duration_ns(text: str) -> int:
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"time: invalid duration {text!r}")
    return sum(round(float(number) * _GO_UNITS[unit]) for number, unit in parts)


def rfc3339_ns(text: str) -> int:
    found = _RFC3339.fullmatch(text)
    if found is None:
        raise ValueError(f"cannot parse {text!r} as RFC3339Nano")
    seconds = calendar.timegm(time.strptime(found[1], "%Y-%m-%dT%H:%M:%S"))
    return seconds * 10**9 + int((found[2] or "0").ljust(9, "0"))


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    return {"stringValue": str(value)}


def _key_values(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in attributes.items()]


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def otlp_resource_spans(spans: list[FakeSpan], *, jsonpb: bool = False) -> list[dict[str, Any]]:
    """``resourceSpans`` (one per service) as the collector's pdata writes them (hex ids,
    enum numbers), or with ``jsonpb`` as gogo-jsonpb does (base64 ids, enum names, zero
    fields left out)."""
    by_service: dict[str, list[FakeSpan]] = {}
    for span in spans:
        by_service.setdefault(span.service, []).append(span)
    out = []
    for service, members in by_service.items():
        resource = {"service.name": service, **members[0].resource}
        items = []
        for span in members:
            kind = _KINDS[span.kind]
            entry: dict[str, Any] = {
                "traceId": _b64(pad(span.trace_id)) if jsonpb else pad(span.trace_id),
                "spanId": _b64(span.span_id) if jsonpb else span.span_id,
                "name": span.name,
                "startTimeUnixNano": str(span.start_ns),
                "endTimeUnixNano": str(span.end_ns),
                "attributes": _key_values(span.attributes),
                "status": ({"code": "STATUS_CODE_ERROR" if jsonpb else 2}
                           if span.error else {}),
            }
            if kind or not jsonpb:
                entry["kind"] = f"SPAN_KIND_{span.kind.upper()}" if jsonpb else kind
            if span.parent:
                entry["parentSpanId"] = _b64(span.parent) if jsonpb else span.parent
            if span.events:
                entry["events"] = [{"timeUnixNano": str(at), "name": name,
                                    "attributes": _key_values(attrs)}
                                   for at, name, attrs in span.events]
            items.append(entry)
        out.append({"resource": {"attributes": _key_values(resource)},
                    "scopeSpans": [{"scope": {"name": "fake"}, "spans": items}]})
    return out


def _jaeger_tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    return {"key": key, "type": "string", "value": str(value)}


def jaeger_trace(spans: list[FakeSpan]) -> dict[str, Any]:
    """One trace in Jaeger's internal (UI) model, as ``/api/traces`` serves it."""
    processes: dict[str, dict[str, Any]] = {}
    process_of: dict[str, str] = {}
    out = []
    for span in spans:
        if span.service not in process_of:
            key = process_of[span.service] = f"p{len(process_of) + 1}"
            processes[key] = {"serviceName": span.service,
                              "tags": [_jaeger_tag(k, v) for k, v in span.resource.items()]}
        tags = [_jaeger_tag(k, v) for k, v in span.attributes.items()]
        tags.append({"key": "span.kind", "type": "string", "value": span.kind})
        if span.error:
            tags.append({"key": "error", "type": "bool", "value": True})
            tags.append({"key": "otel.status_code", "type": "string", "value": "ERROR"})
        out.append({
            "traceID": span.trace_id, "spanID": span.span_id, "flags": 1,
            "operationName": span.name,
            "references": ([{"refType": "CHILD_OF", "traceID": span.trace_id,
                             "spanID": span.parent}] if span.parent else []),
            "startTime": span.start_ns // 1000, "duration": span.duration_ns // 1000,
            "tags": tags,
            "logs": [{"timestamp": at // 1000,
                      "fields": [_jaeger_tag("event", name),
                                 *(_jaeger_tag(k, v) for k, v in attrs.items())]}
                     for at, name, attrs in span.events],
            "processID": process_of[span.service], "warnings": None,
        })
    return {"traceID": spans[0].trace_id, "spans": out, "processes": processes,
            "warnings": None}


class _FakeServer:
    def __init__(self) -> None:
        self.traces: dict[str, list[FakeSpan]] = {}
        self.requests: list[Seen] = []
        self.replies: dict[str, Reply] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> _FakeServer:
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        app.router.add_route("*", "/{path:.*}", self._not_found)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def add(self, *spans: FakeSpan) -> None:
        for span in spans:
            self.traces.setdefault(pad(span.trace_id), []).append(span)

    def reply(self, path: str, status: int = 200, body: Any = b"",
              content_type: str = "application/json") -> None:
        """Answer ``path`` with this, literally, until :meth:`clear_replies` (a dict or list
        body as JSON)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.replies[path] = Reply(status, body, content_type)

    def clear_replies(self) -> None:
        self.replies.clear()

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]

    def seen(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == path]

    def refusal(self, request: web.Request) -> web.Response | None:
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(Seen(request.path, dict(request.query),
                                  {k.lower(): v for k, v in request.headers.items()}))
        refused = self.refusal(request)
        if refused is not None:
            return refused
        scripted = self.replies.get(request.path)
        if scripted is not None:
            return web.Response(status=scripted.status, body=scripted.body,
                                headers={"Content-Type": scripted.content_type})
        return await handler(request)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=404, text="404 page not found\n")


def _text_json(data: Any, status: int = 200) -> web.Response:
    # Jaeger writes its JSON errors (and some answers) with http.Error: text/plain.
    return web.Response(status=status, text=json.dumps(data), content_type="text/plain")


class FakeJaeger(_FakeServer):
    def __init__(self, api: str = "v3", *, summaries: bool = True) -> None:
        super().__init__()
        self.api = api
        self.summaries = summaries

    def routes(self, app: web.Application) -> None:
        if self.api == "v3":
            app.router.add_get("/api/v3/services", self._v3_services)
            app.router.add_get("/api/v3/operations", self._v3_operations)
            app.router.add_get("/api/v3/traces", self._v3_search)
            app.router.add_get("/api/v3/traces/{id}", self._v3_trace)
            if self.summaries:
                app.router.add_get("/api/v3/trace-summaries", self._v3_summaries)
        app.router.add_get("/api/services", self._services)
        app.router.add_get("/api/services/{service}/operations", self._operations)
        app.router.add_get("/api/traces", self._search)
        app.router.add_get("/api/traces/{id}", self._trace)

    # --------------------------------------------------------------- the store

    def _service_names(self) -> list[str]:
        return sorted({span.service for spans in self.traces.values() for span in spans})

    def _operation_names(self, service: str) -> list[str]:
        return sorted({span.name for spans in self.traces.values() for span in spans
                       if span.service == service})

    def find(self, service: str, operation: str | None, tags: dict[str, str],
             min_ns: int | None, max_ns: int | None, start_ns: int, end_ns: int,
             limit: int) -> list[list[FakeSpan]]:
        def fits(span: FakeSpan) -> bool:
            return (span.service == service
                    and (operation is None or span.name == operation)
                    and all(span.tag(key) == value for key, value in tags.items())
                    and (min_ns is None or span.duration_ns >= min_ns)
                    and (max_ns is None or span.duration_ns <= max_ns)
                    and start_ns <= span.start_ns <= end_ns)
        found = [spans for spans in self.traces.values() if any(fits(s) for s in spans)]
        found.sort(key=lambda spans: min(s.start_ns for s in spans), reverse=True)
        return found[:limit]

    # --------------------------------------------------------------- v3

    @staticmethod
    def _v3_error(status: int, message: str) -> web.Response:
        return _text_json({"error": {"httpCode": status, "message": message}}, status)

    async def _v3_services(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"services": self._service_names()})

    async def _v3_operations(self, request: web.Request) -> web.StreamResponse:
        service = request.query.get("service", "")
        return web.json_response({"operations": [
            {"name": name, "spanKind": "server"} for name in self._operation_names(service)]})

    def _v3_found(self, request: web.Request) -> list[list[FakeSpan]] | web.Response:
        query = request.query

        def param(*names: str) -> str | None:
            return next((query[n] for n in names if n in query), None)
        try:
            low = param("query.start_time_min", "query.startTimeMin")
            high = param("query.start_time_max", "query.startTimeMax")
            if low is None or high is None:
                raise ValueError("start time min and max are required parameters")
            start_ns, end_ns = rfc3339_ns(low), rfc3339_ns(high)
            minimum = param("query.duration_min", "query.durationMin")
            maximum = param("query.duration_max", "query.durationMax")
            attributes = param("query.attributes")
            tags = json.loads(attributes) if attributes else {}
            limit = int(param("query.search_depth", "query.searchDepth",
                              "query.num_traces") or 100)
        except ValueError as error:
            return self._v3_error(400, f"malformed parameter: {error}")
        found = self.find(param("query.service_name", "query.serviceName") or "",
                          param("query.operation_name", "query.operationName"), tags,
                          go_duration_ns(minimum) if minimum else None,
                          go_duration_ns(maximum) if maximum else None,
                          start_ns, end_ns, limit)
        if not found:
            return self._v3_error(404, "No traces found")
        return found

    async def _v3_search(self, request: web.Request) -> web.StreamResponse:
        found = self._v3_found(request)
        if isinstance(found, web.Response):
            return found
        spans = [span for trace in found for span in trace]
        return web.json_response({"result": {"resourceSpans": otlp_resource_spans(spans)}})

    async def _v3_summaries(self, request: web.Request) -> web.StreamResponse:
        found = self._v3_found(request)
        if isinstance(found, web.Response):
            return found
        summaries = []
        for spans in found:
            root = min(spans, key=lambda s: (s.parent is not None, s.start_ns))
            services: dict[str, list[int]] = {}
            for span in spans:
                counts = services.setdefault(span.service, [0, 0])
                counts[0] += 1
                counts[1] += span.error
            summaries.append({
                "traceId": pad(spans[0].trace_id), "rootServiceName": root.service,
                "rootOperationName": root.name,
                "minStartTimeUnixNano": str(min(s.start_ns for s in spans)),
                "maxEndTimeUnixNano": str(max(s.end_ns for s in spans)),
                "spanCount": len(spans), "errorSpanCount": sum(s.error for s in spans),
                "services": [{"name": name, "spanCount": c[0], "errorSpanCount": c[1]}
                             for name, c in services.items()]})
        return web.json_response({"summaries": summaries})

    async def _v3_trace(self, request: web.Request) -> web.StreamResponse:
        spans = self.traces.get(pad(request.match_info["id"]))
        if not spans:
            return self._v3_error(404, "trace not found")
        return web.json_response({"result": {"resourceSpans": otlp_resource_spans(spans)}})

    # --------------------------------------------------------------- internal

    @staticmethod
    def _envelope(data: Any, status: int = 200, error: str | None = None) -> web.Response:
        errors = [{"code": status, "msg": error}] if error else None
        return _text_json({"data": data, "total": len(data) if isinstance(data, list) else 0,
                           "limit": 0, "offset": 0, "errors": errors}, status)

    async def _services(self, request: web.Request) -> web.StreamResponse:
        return self._envelope(self._service_names())

    async def _operations(self, request: web.Request) -> web.StreamResponse:
        return self._envelope(self._operation_names(request.match_info["service"]))

    async def _search(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        if not query.get("service"):
            return self._envelope(None, 400, "parameter 'service' is required")
        try:
            now_us = time.time_ns() // 1000
            start_us = int(query.get("start", now_us - 2 * 86400 * 10**6))
            end_us = int(query.get("end", now_us))
            tags: dict[str, str] = {}
            for raw in query.getall("tags", []):
                tags.update(json.loads(raw))
            minimum, maximum = query.get("minDuration"), query.get("maxDuration")
            found = self.find(query["service"], query.get("operation"), tags,
                              go_duration_ns(minimum) if minimum else None,
                              go_duration_ns(maximum) if maximum else None,
                              start_us * 1000, end_us * 1000, int(query.get("limit", 100)))
        except ValueError as error:
            return self._envelope(None, 400, f"unable to parse param: {error}")
        return self._envelope([jaeger_trace(spans) for spans in found])

    async def _trace(self, request: web.Request) -> web.StreamResponse:
        spans = self.traces.get(pad(request.match_info["id"]))
        if not spans:
            return self._envelope(None, 404, "trace not found")
        return self._envelope([jaeger_trace(spans)])


class FakeTempo(_FakeServer):
    def __init__(self, *, v2: bool = True, tenant: str | None = None) -> None:
        super().__init__()
        self.v2 = v2
        self.tenant = tenant

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/search", self._search)
        app.router.add_get("/api/traces/{id}", self._trace_v1)
        app.router.add_get("/api/search/tags", self._tags_v1)
        app.router.add_get("/api/search/tag/{tag}/values", self._values_v1)
        if self.v2:
            app.router.add_get("/api/v2/traces/{id}", self._trace_v2)
            app.router.add_get("/api/v2/search/tags", self._tags_v2)
            app.router.add_get("/api/v2/search/tag/{tag}/values", self._values_v2)

    def refusal(self, request: web.Request) -> web.Response | None:
        if self.tenant is not None and request.headers.get("X-Scope-OrgID") != self.tenant:
            return web.Response(status=401, text="no org id\n")
        return None

    @staticmethod
    def _bad(text: str) -> web.Response:
        return web.Response(status=400, text=text + "\n")

    async def _search(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        if "q" in query and "tags" in query:
            return self._bad("invalid request: can't specify tags and q in the same query")
        try:
            start = int(query["start"]) if "start" in query else None
            end = int(query["end"]) if "end" in query else None
        except ValueError as error:
            return self._bad(f"invalid start or end: {error}")
        for name in ("minDuration", "maxDuration"):
            if name in query:
                try:
                    go_duration_ns(query[name])
                except ValueError as error:
                    return self._bad(f"invalid {name}: {error}")
        limit = int(query.get("limit", 20))
        found = []
        for spans in self.traces.values():
            first = min(s.start_ns for s in spans)
            if (start is not None and first < start * 10**9) or (
                    end is not None and first > end * 10**9):
                continue
            found.append(spans)
        found.sort(key=lambda spans: min(s.start_ns for s in spans), reverse=True)
        return web.json_response({"traces": [self._summary(s) for s in found[:limit]],
                                  "metrics": {"inspectedTraces": len(self.traces)}})

    @staticmethod
    def _summary(spans: list[FakeSpan]) -> dict[str, Any]:
        root = next((s for s in spans if s.parent is None), None)
        start = min(s.start_ns for s in spans)
        duration_ms = (max(s.end_ns for s in spans) - start) // 10**6
        stats: dict[str, dict[str, int]] = {}
        for span in spans:
            entry = stats.setdefault(span.service, {"spanCount": 0})
            entry["spanCount"] += 1
            if span.error:
                entry["errorCount"] = entry.get("errorCount", 0) + 1
        item: dict[str, Any] = {
            "traceID": pad(spans[0].trace_id).lstrip("0"),
            "rootServiceName": root.service if root else "<root span not yet received>",
            "startTimeUnixNano": str(start), "serviceStats": stats}
        if root is not None:
            item["rootTraceName"] = root.name
        if duration_ms:  # gogo-jsonpb leaves zero values out
            item["durationMs"] = duration_ms
        return item

    def _trace_spans(self, request: web.Request) -> list[FakeSpan] | web.Response:
        if "application/json" not in request.headers.get("Accept", ""):
            # Tempo's default answer is protobuf.
            return web.Response(body=b"\x0a\x02\x08\x01", content_type="application/protobuf")
        spans = self.traces.get(pad(request.match_info["id"]))
        if not spans:
            return web.Response(status=404)
        return spans

    async def _trace_v2(self, request: web.Request) -> web.StreamResponse:
        spans = self._trace_spans(request)
        if isinstance(spans, web.Response):
            return spans
        return web.json_response(
            {"trace": {"resourceSpans": otlp_resource_spans(spans, jsonpb=True)}})

    async def _trace_v1(self, request: web.Request) -> web.StreamResponse:
        spans = self._trace_spans(request)
        if isinstance(spans, web.Response):
            return spans
        return web.json_response({"batches": otlp_resource_spans(spans, jsonpb=True)})

    def _all_spans(self) -> list[FakeSpan]:
        return [span for spans in self.traces.values() for span in spans]

    async def _tags_v2(self, request: web.Request) -> web.StreamResponse:
        spans = self._all_spans()
        resource = sorted({"service.name", *(k for s in spans for k in s.resource)})
        span_tags = sorted({k for s in spans for k in s.attributes})
        return web.json_response({"scopes": [
            {"name": "resource", "tags": resource}, {"name": "span", "tags": span_tags},
            {"name": "intrinsic", "tags": ["duration", "kind", "name", "status"]}],
            "metrics": {"inspectedBytes": "1"}})

    async def _tags_v1(self, request: web.Request) -> web.StreamResponse:
        spans = self._all_spans()
        names = sorted({"service.name", *(k for s in spans for k in s.resource),
                        *(k for s in spans for k in s.attributes)})
        return web.json_response({"tagNames": names, "metrics": {"inspectedBytes": "1"}})

    def _values(self, tag: str, where: str | None) -> list[Any]:
        service = None
        if where:
            found = re.search(r'resource\.service\.name = "([^"]*)"', where)
            service = found[1] if found else None
        values: dict[str, Any] = {}
        for span in self._all_spans():
            if service is not None and span.service != service:
                continue
            if tag in ("service.name", "resource.service.name", ".service.name"):
                value: Any = span.service
            elif tag == "name":
                value = span.name
            else:
                bare = tag.split(".", 1)[1] if tag.startswith(("span.", "resource.", ".")
                                                              ) else tag
                value = span.attributes.get(bare, span.resource.get(bare))
            if value is not None:
                values[str(value)] = value
        return list(values.values())

    async def _values_v2(self, request: web.Request) -> web.StreamResponse:
        values = self._values(request.match_info["tag"], request.query.get("q"))
        typed = [{"type": "int" if isinstance(v, int) and not isinstance(v, bool)
                  else "string", "value": str(v)} for v in values]
        return web.json_response({"tagValues": typed, "metrics": {"inspectedBytes": "1"}})

    async def _values_v1(self, request: web.Request) -> web.StreamResponse:
        values = self._values(request.match_info["tag"], None)
        return web.json_response({"tagValues": [str(v) for v in values],
                                  "metrics": {"inspectedBytes": "1"}})
