"""One receiver per listen address, shared by every ``otlp`` source configured with it,
and words for why a receiver cannot listen."""

from __future__ import annotations

import errno
import socket

from watchdeck.core.otlp.receiver import OTLPReceiver


def describe_bind_error(error: OSError, listen: str) -> str:
    """What a failure to listen on ``listen`` means, in words for a panel's state line."""
    if isinstance(error, socket.gaierror):
        why = f"unknown host ({error.strerror})"
    elif error.errno == errno.EADDRINUSE:
        why = "the port is in use (another OTLP receiver or collector?)"
    elif error.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need privileges)"
    elif error.errno == errno.EADDRNOTAVAIL:
        why = "no such address on this machine"
    else:
        why = error.strerror or str(error) or type(error).__name__
    return f"cannot listen on {listen}: {why}"


class ReceiverPool:
    """One receiver per listen address, shared by every source configured with it.
    Port 0 (any free port) is never shared."""

    def __init__(self) -> None:
        self._receivers: dict[tuple[str, int], OTLPReceiver] = {}
        self._users: dict[int, int] = {}

    def acquire(self, host: str, port: int, *, max_logs: int = 100_000,
                max_spans: int = 200_000, max_body_bytes: int = 16 * 1024 * 1024,
                source: str = "") -> OTLPReceiver:
        """The receiver for ``host:port`` (created, not started, when there is none), its
        bounds raised to at least these. Give it back with :meth:`release`."""
        key = (host.lower(), port)
        receiver = self._receivers.get(key) if port else None
        if receiver is None:
            receiver = OTLPReceiver(host, port, max_logs=max_logs, max_spans=max_spans,
                                    max_body_bytes=max_body_bytes, source=source)
            if port:
                self._receivers[key] = receiver
        else:
            receiver.grow(max_logs=max_logs, max_spans=max_spans,
                          max_body_bytes=max_body_bytes)
        self._users[id(receiver)] = self._users.get(id(receiver), 0) + 1
        return receiver

    async def release(self, receiver: OTLPReceiver) -> None:
        """One user fewer; the last one stops the receiver and forgets it."""
        users = self._users.get(id(receiver), 0) - 1
        if users > 0:
            self._users[id(receiver)] = users
            return
        self._users.pop(id(receiver), None)
        key = (receiver.host.lower(), receiver.port)
        if self._receivers.get(key) is receiver:
            del self._receivers[key]
        await receiver.stop()

    def get(self, host: str, port: int) -> OTLPReceiver | None:
        """The shared receiver for ``host:port``, if a source holds one."""
        return self._receivers.get((host.lower(), port))


RECEIVERS = ReceiverPool()
