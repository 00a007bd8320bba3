"""The embedded engine served over Prometheus's HTTP API (aiohttp).

``/api/v1/query``, ``query_range``, ``query_exemplars``, ``labels``,
``label/<name>/values``, ``series``, ``alerts``, ``rules``, ``targets`` and
``status/buildinfo``, by GET or form POST, with
Prometheus's envelope and error JSON, so Grafana, promtool or another watchdeck can read
it. Evaluation runs in worker threads.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import Any

from aiohttp import web

from watchdeck import __version__
from watchdeck.core.durations import DurationError, parse_duration
from watchdeck.core.engine.runtime import EmbeddedEngine
from watchdeck.core.engine.selector import SelectorError, parse_selector

_STATUS = {"bad_data": 400, "execution": 422, "timeout": 503, "canceled": 499,
           "internal": 500, "unavailable": 503, "not_found": 404}


class APIError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _success(data: Any) -> web.Response:
    return web.json_response({"status": "success", "data": data})


def _failure(error_type: str, message: str) -> web.Response:
    return web.json_response({"status": "error", "errorType": error_type, "error": message},
                             status=_STATUS.get(error_type, 500))


def parse_time(text: str, name: str) -> float:
    """Unix seconds (with decimals) or RFC 3339, as Prometheus accepts."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise APIError("bad_data", f'invalid parameter "{name}": cannot parse "{text}" to a '
                                   "valid timestamp") from None


def parse_step(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text)
    except DurationError:
        raise APIError("bad_data", f'invalid parameter "step": cannot parse "{text}" to a '
                                   "valid duration") from None


def _unescape_label_name(name: str) -> str:
    """Undo Prometheus's ``U__`` value-encoding escaping of a label name."""
    if not name.startswith("U__"):
        return name
    body = name[3:]
    out = []
    i = 0
    while i < len(body):
        if body.startswith("__", i):
            out.append("_")
            i += 2
        elif body[i] == "_":
            end = body.find("_", i + 1)
            if end < 0:
                return name
            try:
                out.append(chr(int(body[i + 1:end], 16)))
            except ValueError:
                return name
            i = end + 1
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


class EngineAPI:
    def __init__(self, engine: EmbeddedEngine) -> None:
        self.engine = engine

    async def params(self, request: web.Request) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for key, value in request.query.items():
            values.setdefault(key, []).append(value)
        if request.method == "POST":
            form = await request.post()
            for key, value in form.items():
                values.setdefault(key, []).append(str(value))
        return values

    @staticmethod
    def one(params: dict[str, list[str]], name: str, required: bool = True) -> str | None:
        found = params.get(name)
        if not found:
            if required:
                raise APIError("bad_data", f'invalid parameter "{name}": missing')
            return None
        return found[0]

    def handler(self, method):  # type: ignore[no-untyped-def]
        async def handle(request: web.Request) -> web.Response:
            from watchdeck.core.engine.promql import PromQLError

            try:
                params = await self.params(request)
                data = await method(request, params)
                if isinstance(data, web.StreamResponse):
                    return data
                return _success(data)
            except APIError as error:
                return _failure(error.error_type, error.message)
            except PromQLError as error:
                return _failure(error.error_type, str(error))
        return handle

    async def query(self, request: web.Request, params: dict[str, list[str]]) -> Any:
        from watchdeck.core.engine.promql import PromQLError, to_api_data

        expr = self.one(params, "query")
        at = self.one(params, "time", required=False)
        t = parse_time(at, "time") if at else self.engine.clock()
        try:
            result = await asyncio.to_thread(self.engine.evaluator.instant, expr,
                                             int(round(t * 1000)))
        except PromQLError as error:
            if error.error_type == "bad_data":  # Prometheus words it as a bad parameter here
                raise APIError("bad_data", f'invalid parameter "query": {error}') from None
            raise
        return to_api_data(result)

    async def query_range(self, request: web.Request, params: dict[str, list[str]]) -> Any:
        from watchdeck.core.engine.promql import to_api_data

        expr = self.one(params, "query")
        start = parse_time(self.one(params, "start") or "", "start")
        end = parse_time(self.one(params, "end") or "", "end")
        step = parse_step(self.one(params, "step") or "")
        if not math.isfinite(step):
            raise APIError("bad_data", 'invalid parameter "step": not a finite duration')
        # The evaluator checks end >= start, step > 0 and 11,000 points, in Prometheus's words.
        result = await asyncio.to_thread(self.engine.evaluator.range, expr,
                                         int(round(start * 1000)), int(round(end * 1000)),
                                         int(round(step * 1000)))
        return to_api_data(result)

    async def query_exemplars(self, request: web.Request, params: dict[str, list[str]]
                              ) -> Any:
        from watchdeck.core.engine.exemplars import to_api_data

        bounds = []
        for name in ("start", "end"):
            text = self.one(params, name, required=False)
            if text is None:
                bounds.append(None)
                continue
            try:
                bounds.append(round(parse_time(text, name) * 1000))
            except APIError:  # Prometheus's parseTimeParam words it so
                raise APIError("bad_data", f'invalid parameter "{name}": Invalid time value '
                               f"for '{name}': cannot parse \"{text}\" to a valid timestamp"
                               ) from None
        found = await asyncio.to_thread(self.engine.query_exemplars,
                                        self.one(params, "query", required=False) or "",
                                        bounds[0], bounds[1])
        if found is None:  # no selector in the query: Prometheus answers 204, no body
            return web.Response(status=204)
        return to_api_data(found)

    def _window(self, params: dict[str, list[str]]) -> tuple[Any, int | None, int | None]:
        try:
            sets = [parse_selector(m) for m in params.get("match[]", [])] or None
        except SelectorError as error:
            raise APIError("bad_data", str(error)) from None
        start = self.one(params, "start", required=False)
        end = self.one(params, "end", required=False)
        return (sets, int(parse_time(start, "start") * 1000) if start else None,
                int(parse_time(end, "end") * 1000) if end else None)

    async def labels(self, request: web.Request, params: dict[str, list[str]]) -> Any:
        sets, start, end = self._window(params)
        return await asyncio.to_thread(self.engine.storage.label_names, sets, start, end)

    async def label_values(self, request: web.Request, params: dict[str, list[str]]) -> Any:
        name = _unescape_label_name(request.match_info["name"])
        if not name:
            raise APIError("bad_data", 'invalid label name: ""')
        sets, start, end = self._window(params)
        return await asyncio.to_thread(self.engine.storage.label_values, name, sets, start, end)

    async def series(self, request: web.Request, params: dict[str, list[str]]) -> Any:
        if not params.get("match[]"):
            raise APIError("bad_data", "no match[] parameter provided")
        sets, start, end = self._window(params)
        return await asyncio.to_thread(self.engine.storage.series_labels, sets, start, end)

    async def alerts(self, request: web.Request, params: dict[str, list[str]]) -> Any:
        return self.engine.rules.api_alerts()

    async def rules(self, request: web.Request, params: dict[str, list[str]]) -> Any:
        return self.engine.rules.api_rules(self.one(params, "type", required=False))

    async def targets(self, request: web.Request, params: dict[str, list[str]]) -> Any:
        from watchdeck.core.engine.rules import rfc3339

        active = []
        for health in self.engine.scraper.health.values():
            target = health.target
            active.append({
                "discoveredLabels": {"__address__": target.instance, "job": target.job},
                "labels": {"instance": target.instance, "job": target.job},
                "scrapePool": target.job, "scrapeUrl": target.url,
                "lastError": health.last_error,
                "lastScrape": rfc3339(health.last_scrape or 0.0),
                "lastScrapeDuration": health.last_duration, "health": health.health,
                "scrapeInterval": f"{self.engine.interval:g}s",
            })
        return {"activeTargets": active, "droppedTargets": []}

    async def buildinfo(self, request: web.Request, params: dict[str, list[str]]) -> Any:
        return {"version": __version__, "revision": "", "branch": "watchdeck-engine",
                "buildUser": "", "buildDate": "", "goVersion": ""}


def create_app(engine: EmbeddedEngine) -> web.Application:
    api = EngineAPI(engine)
    app = web.Application()
    routes = [
        ("query", api.query), ("query_range", api.query_range),
        ("query_exemplars", api.query_exemplars), ("labels", api.labels),
        ("label/{name}/values", api.label_values), ("series", api.series),
        ("alerts", api.alerts), ("rules", api.rules), ("targets", api.targets),
        ("status/buildinfo", api.buildinfo),
    ]
    for path, method in routes:
        handler = api.handler(method)
        app.router.add_get(f"/api/v1/{path}", handler)
        if path != "label/{name}/values":
            app.router.add_post(f"/api/v1/{path}", handler)

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="watchdeck engine is Ready.\n")

    app.router.add_get("/-/ready", ready)
    app.router.add_get("/-/healthy", ready)
    return app


async def serve(engine: EmbeddedEngine, host: str, port: int) -> web.AppRunner:
    """Start serving on ``host:port``; returns the runner (``await runner.cleanup()``)."""
    runner = web.AppRunner(create_app(engine), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner
