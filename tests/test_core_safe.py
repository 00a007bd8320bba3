"""Untrusted text is made inert before it reaches the terminal."""

from __future__ import annotations

import pytest

from watchdeck.core.safe import sanitize, sanitize_multiline

# Characters that must never reach the terminal raw: C0 controls, DEL and C1 controls,
# bidi embeddings/overrides/isolates, BOM.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_FORBIDDEN = (
    {chr(c) for c in range(0x00, 0x20)}
    | {chr(c) for c in range(0x7F, 0xA0)}
    | set(_BIDI)
    | {"\ufeff", "\u2028", "\u2029"}
)


def _raw_controls(text: str, allowed: str = "") -> list[str]:
    return [f"U+{ord(ch):04X}" for ch in text if ch in _FORBIDDEN and ch not in allowed]


PAYLOADS = {
    "csi colour": "\x1b[31mred\x1b[0m",
    "csi clear screen": "\x1b[2J\x1b[H",
    "csi cursor move": "a\x1b[10;20Hb",
    "osc title": "\x1b]0;pwned\x07",
    "osc 52 clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "osc 52 st terminator": "\x1b]52;c;cm0gLXJmIH4=\x1b\\",
    "osc 8 hyperlink": "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
    "dcs": "\x1bP1$r\x1b\\",
    "8-bit csi": "\x9b31m8-bit\x9b0m",
    "8-bit osc": "\x9d0;title\x9c",
    "bell backspace": "ok\x07\x08\x08x",
    "carriage return overwrite": "safe\rEVIL",
    "nul": "a\x00b",
    "tab": "a\tb",
    "vertical tab form feed": "a\x0bb\x0cc",
    "del": "a\x7fb",
    "rlo": "invoice\u202eexe.pdf",
    "isolates": "\u2066a\u2067b\u2068c\u2069",
    "lre rle pdf": "\u202aa\u202bb\u202c",
    "lrm rlm alm": "\u200ea\u200fb\u061c",
    "bom": "\ufeffstart",
    "line separator": "a\u2028b\u2029c",
    "every c0": "".join(chr(c) for c in range(0x20)),
    "every c1": "".join(chr(c) for c in range(0x7F, 0xA0)),
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_sanitize_leaves_no_raw_control_character(payload: str) -> None:
    out = sanitize(payload)
    assert _raw_controls(out) == []
    assert "\n" not in out


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_sanitize_multiline_leaves_no_raw_control_character(payload: str) -> None:
    out = sanitize_multiline(payload)
    assert _raw_controls(out, allowed="\n") == []


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_sanitize_bytes_payloads(payload: str) -> None:
    out = sanitize(payload.encode("utf-8"))
    assert _raw_controls(out) == []


def test_escapes_are_visible_not_silently_dropped() -> None:
    assert sanitize("\x1b[31mred") == "\\x1b[31mred"
    assert sanitize("a\x00b") == "a\\x00b"
    assert sanitize("a\x7fb") == "a\\x7fb"
    assert sanitize("\x9b") == "\\x9b"
    assert sanitize("x\u202ey") == "x\\u202ey"
    assert sanitize("\ufeffhi") == "\\ufeffhi"


def test_osc52_cannot_set_the_clipboard() -> None:
    out = sanitize("\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07")
    assert "\x1b" not in out and "\x07" not in out
    assert out.startswith("\\x1b]52;")


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii",
        "vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\"}",
        "日本語のラベル",
        "emoji 🔥📈 and accents é ñ ü",
        "Ελληνικά, русский, עברית, العربية",
        "math ≤ ≥ → ← µs °C",
        "[bold]not markup[/bold]",
        "back\\slash",
        "",
    ],
)
def test_normal_text_is_unchanged(text: str) -> None:
    assert sanitize(text) == text
    assert sanitize_multiline(text) == text


def test_invalid_utf8_bytes_become_visible_escapes() -> None:
    out = sanitize(b"ok \xff\xfe bad \xc3")
    assert out == "ok \\xff\\xfe bad \\xc3"
    # a C1 control sent as a lone raw byte (not valid UTF-8) is made visible too
    assert sanitize(b"\x9b2J") == "\\x9b2J"


def test_valid_utf8_bytes_decode() -> None:
    assert sanitize("héllo → 世界".encode()) == "héllo → 世界"


def test_non_strings_are_converted() -> None:
    assert sanitize(42) == "42"
    assert sanitize(None) == "None"
    assert sanitize(ValueError("bad\x1bthing")) == "bad\\x1bthing"


def test_max_length_truncates_with_an_ellipsis() -> None:
    assert sanitize("abcdefghij", max_length=4) == "abcd…"
    assert sanitize("abcd", max_length=4) == "abcd"
    assert sanitize("abc", max_length=4) == "abc"


def test_max_length_truncation_never_leaves_raw_controls() -> None:
    out = sanitize("\x1b[31m" * 100, max_length=7)
    assert _raw_controls(out) == []
    assert out.endswith("…")


def test_sanitize_makes_one_line() -> None:
    out = sanitize("first\nsecond\r\nthird")
    assert "\n" not in out and "\r" not in out
    assert "first" in out and "second" in out and "third" in out


def test_sanitize_multiline_keeps_line_breaks_and_escapes_the_rest() -> None:
    out = sanitize_multiline("line one\nline \x1b[2Jtwo\r\nline three")
    assert out.split("\n") == ["line one", "line \\x1b[2Jtwo", "line three"]


def test_sanitize_multiline_truncates() -> None:
    out = sanitize_multiline("aaaa\nbbbb\ncccc", max_length=7)
    assert out == "aaaa\nbb…"
    assert sanitize_multiline("short\ntext", max_length=100) == "short\ntext"


def test_sanitize_multiline_bytes() -> None:
    assert sanitize_multiline(b"a\nb\xff") == "a\nb\\xff"
