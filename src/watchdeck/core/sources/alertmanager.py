"""Alertmanager API v2 client: alerts, alert groups, silences, status.

Reads are polled by the hub like any feed. Writes (creating, extending, expiring a
silence) are sent once and never retried: a retried POST could create a second silence.
A write that gets no answer says so plainly, because the silence may exist anyway.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from watchdeck.core.alerts import Alert, LabelMatcher, Silence, format_time, parse_time
from watchdeck.core.config.models import AlertmanagerSourceConfig
from watchdeck.core.errors import (
    BadResponseError,
    ConnectionLostError,
    HTTPStatusError,
    SourceError,
    TimeoutError,
)
from watchdeck.core.safe import sanitize
from watchdeck.core.sources.http import HTTPClient, HTTPResponse, body_excerpt


class AlertmanagerError(SourceError):
    """Alertmanager refused a request and said why."""

    kind = "alertmanager"

    def __init__(self, status: int, message: str, *, source: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}", source=source)
        self.status = status


def _matcher(raw: Any) -> LabelMatcher:
    return LabelMatcher(str(raw["name"]), str(raw["value"]), bool(raw.get("isRegex", False)),
                        bool(raw.get("isEqual", True)))


def parse_alert(raw: dict[str, Any], source: str) -> Alert:
    status = raw.get("status") or {}
    silenced = tuple(str(s) for s in status.get("silencedBy") or ())
    inhibited = tuple(str(s) for s in status.get("inhibitedBy") or ())
    state = status.get("state", "active")
    if state == "suppressed":
        state = "silenced" if silenced else "inhibited" if inhibited else "silenced"
    elif state in ("active", "unprocessed"):
        state = "firing"
    return Alert(
        labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
        state=state,
        active_at=parse_time(raw.get("startsAt")),
        ends_at=parse_time(raw.get("endsAt")),
        fingerprint=raw.get("fingerprint"),
        generator_url=raw.get("generatorURL") or None,
        silenced_by=silenced,
        inhibited_by=inhibited,
        receivers=tuple(str(r.get("name", "")) for r in raw.get("receivers") or ()),
        source=source,
        origin="alertmanager",
    )


def parse_silence(raw: dict[str, Any]) -> Silence:
    return Silence(
        id=str(raw["id"]),
        matchers=tuple(_matcher(m) for m in raw.get("matchers") or ()),
        starts_at=parse_time(raw.get("startsAt")) or 0.0,
        ends_at=parse_time(raw.get("endsAt")) or 0.0,
        created_by=str(raw.get("createdBy", "")),
        comment=str(raw.get("comment", "")),
        state=str((raw.get("status") or {}).get("state", "active")),
        updated_at=parse_time(raw.get("updatedAt")),
    )


class AlertmanagerSource:
    type = "alertmanager"

    def __init__(self, name: str, config: AlertmanagerSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self.http = HTTPClient(name, config, base_dir)

    def _decode(self, response: HTTPResponse) -> Any:
        body = response.body
        if not 200 <= response.status < 300:
            message = self._error_text(body)
            if message is not None:
                raise AlertmanagerError(response.status, message, source=self.name)
            raise self.http.status_error(response)
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            kind = "truncated JSON" if isinstance(error, json.JSONDecodeError) and (
                error.pos >= len(body.rstrip()) - 1 or error.msg.startswith("Unterminated")
            ) else f"not JSON ({response.content_type or 'no content type'}): " + body_excerpt(
                body)
            raise BadResponseError(f"Alertmanager answered {kind}", source=self.name) from None

    @staticmethod
    def _error_text(body: bytes) -> str | None:
        """Alertmanager's errors: a JSON string, or go-swagger's {"code","message"}."""
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        if isinstance(value, str):
            return sanitize(value, 500)
        if isinstance(value, dict) and "message" in value:
            return sanitize(str(value["message"]), 500)
        return None

    async def _get(self, path: str, params: Any = None) -> Any:
        return self._decode(await self.http.request("GET", f"/api/v2/{path}", params=params))

    def _list(self, value: Any, what: str) -> list[Any]:
        if not isinstance(value, list):
            raise BadResponseError(f"Alertmanager's {what} answer is not a list",
                                   source=self.name)
        return value

    # ------------------------------------------------------------------ reads

    async def alerts(self, *, active: bool = True, silenced: bool = True,
                     inhibited: bool = True, unprocessed: bool = True,
                     receiver: str | None = None, filters: list[str] | None = None
                     ) -> list[Alert]:
        params: dict[str, Any] = {
            "active": str(active).lower(), "silenced": str(silenced).lower(),
            "inhibited": str(inhibited).lower(), "unprocessed": str(unprocessed).lower(),
        }
        if receiver:
            params["receiver"] = receiver
        if filters:
            params["filter"] = list(filters)
        raw = self._list(await self._get("alerts", params), "alerts")
        try:
            return [parse_alert(item, self.name) for item in raw]
        except (KeyError, TypeError, AttributeError) as error:
            raise BadResponseError(f"malformed alert: {sanitize(str(error), 120)}",
                                   source=self.name) from None

    async def alert_groups(self, filters: list[str] | None = None) -> list[dict[str, Any]]:
        params = {"filter": list(filters)} if filters else None
        groups = self._list(await self._get("alerts/groups", params), "alert groups")
        try:
            return [
                {"labels": g.get("labels") or {},
                 "receiver": (g.get("receiver") or {}).get("name"),
                 "alerts": [parse_alert(a, self.name) for a in g.get("alerts") or ()]}
                for g in groups
            ]
        except (KeyError, TypeError, AttributeError) as error:
            raise BadResponseError(f"malformed alert group: {sanitize(str(error), 120)}",
                                   source=self.name) from None

    async def silences(self, filters: list[str] | None = None) -> list[Silence]:
        params = {"filter": list(filters)} if filters else None
        raw = self._list(await self._get("silences", params), "silences")
        try:
            return [parse_silence(item) for item in raw]
        except (KeyError, TypeError, AttributeError) as error:
            raise BadResponseError(f"malformed silence: {sanitize(str(error), 120)}",
                                   source=self.name) from None

    async def silence(self, silence_id: str) -> Silence:
        try:
            raw = await self._get(f"silence/{silence_id}")
        except HTTPStatusError as error:
            if error.status == 404:  # Alertmanager answers an unknown id with an empty 404
                raise AlertmanagerError(404, f"silence {sanitize(silence_id, 80)} not found",
                                        source=self.name) from None
            raise
        if not isinstance(raw, dict):
            raise BadResponseError("Alertmanager's silence answer is not an object",
                                   source=self.name)
        try:
            return parse_silence(raw)
        except (KeyError, TypeError, AttributeError) as error:
            raise BadResponseError(f"malformed silence: {sanitize(str(error), 120)}",
                                   source=self.name) from None

    async def status(self) -> dict[str, Any]:
        raw = await self._get("status")
        if not isinstance(raw, dict):
            raise BadResponseError("Alertmanager's status answer is not an object",
                                   source=self.name)
        return raw

    async def buildinfo(self) -> dict[str, str]:
        info = (await self.status()).get("versionInfo") or {}
        return {str(k): sanitize(v) for k, v in info.items()}

    # ------------------------------------------------------------------ writes (never retried)

    async def _write(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = await self.http.request(method, f"/api/v2/{path}", json=body)
        except TimeoutError:
            raise TimeoutError(
                f"no answer from Alertmanager to {method} {path}: the change may or may not "
                "have been made; look at the silences view before trying again",
                source=self.name) from None
        except ConnectionLostError as error:
            raise ConnectionLostError(
                f"{error.message}: the change may or may not have been made; look at the "
                "silences view before trying again", source=self.name) from None
        return self._decode(response)

    async def create_silence(self, matchers: list[LabelMatcher], starts_at: float,
                             ends_at: float, created_by: str, comment: str,
                             silence_id: str | None = None) -> str:
        """POST a silence (with ``silence_id``: update that one). Returns the id, which
        Alertmanager may change on an update."""
        body: dict[str, Any] = {
            "matchers": [{"name": m.name, "value": m.value, "isRegex": m.is_regex,
                          "isEqual": m.is_equal} for m in matchers],
            "startsAt": format_time(starts_at), "endsAt": format_time(ends_at),
            "createdBy": created_by, "comment": comment,
        }
        if silence_id:
            body["id"] = silence_id
        answer = await self._write("POST", "silences", body)
        if not isinstance(answer, dict) or "silenceID" not in answer:
            raise BadResponseError("Alertmanager did not say which silence it made",
                                   source=self.name)
        return str(answer["silenceID"])

    async def expire_silence(self, silence_id: str) -> None:
        await self._write("DELETE", f"silence/{silence_id}")

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["AlertmanagerSource", "AlertmanagerError", "HTTPStatusError", "parse_alert",
           "parse_silence"]
