"""Structured JSON log lines, one per finished request (and per preemption).

The file is capped: past ``max_bytes`` it is renamed to ``<name>.1`` (replacing an older
one) and a new file starts, so a demo left running never fills the disk. Writes happen
once per simulation step; the lines are small and the file is buffered.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from watchdeck.demo.workload import SERVER, Request

_LEVELS = {"stop": "info", "length": "info", "repetition": "warning", "abort": "warning",
           "error": "error"}
_MESSAGES = {"stop": "request finished", "length": "request finished",
             "repetition": "request stopped: repetition detected",
             "abort": "request aborted by client", "error": "request failed"}


def rfc3339(epoch: float) -> str:
    """``2026-05-09T07:35:25.123Z``: UTC with milliseconds."""
    stamp = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def request_record(request: Request, replica: str, instance: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "time": rfc3339(request.finished_at),
        "level": _LEVELS[request.reason],
        "msg": _MESSAGES[request.reason],
        "service": "vllm",
        "replica": replica,
        "instance": instance,
        "model": request.model,
        "request_id": request.request_id,
        "trace_id": request.trace_hex,
        "span_id": request.span_hex(SERVER),
        "latency": round(request.e2e, 4),
        "ttft": None if request.ttft is None else round(request.ttft, 4),
        "queue_time": round(request.queue_time, 4),
        "prompt_tokens": request.prompt_tokens,
        "generation_tokens": request.generated,
        "finished_reason": request.reason,
    }
    if request.error:
        record["error"] = request.error
    return record


def preemption_record(request: Request, at: float, replica: str, instance: str
                      ) -> dict[str, Any]:
    return {
        "time": rfc3339(at),
        "level": "warning",
        "msg": "request preempted: not enough KV cache space, will recompute",
        "service": "vllm",
        "replica": replica,
        "instance": instance,
        "model": request.model,
        "request_id": request.request_id,
        "trace_id": request.trace_hex,
        "span_id": request.span_hex(SERVER),
        "preemptions": request.preemptions,
    }


class JsonLogWriter:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._file: IO[str] | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def flush(self) -> None:
        if self._file is None:
            return
        self._file.flush()
        if self._file.tell() >= self.max_bytes:
            self._file.close()
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            self._file = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
