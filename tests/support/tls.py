"""Certificates for TLS tests: a CA, a server certificate for 127.0.0.1 and a client
certificate, made with ``openssl``; and the server side's TLS context."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path


def make_certificates(directory: Path) -> dict[str, Path] | None:
    """A CA (``ca.pem``), a server certificate for 127.0.0.1 (``server.pem``/``.key``) and
    a client certificate (``client.pem``/``.key``), made with ``openssl``; None without it."""
    if shutil.which("openssl") is None:
        return None

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=watchdeck test CA")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", "san.ext")
    return {name: directory / name for name in
            ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def server_tls(certificates: dict[str, Path], client_certificate: bool = True
               ) -> ssl.SSLContext:
    """A server-side TLS context; with ``client_certificate``, mutual TLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates["server.pem"], certificates["server.key"])
    if client_certificate:
        context.load_verify_locations(certificates["ca.pem"])
        context.verify_mode = ssl.CERT_REQUIRED
    return context
