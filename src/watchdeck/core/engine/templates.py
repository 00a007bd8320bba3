"""The part of Prometheus's alert templating that rule files use in practice.

Supported inside ``{{ }}``: ``$labels.name`` / ``.Labels.name``, ``$value`` / ``.Value``,
and the pipelines ``| humanize``, ``| humanizePercentage``, ``| humanizeDuration``,
``| printf "%.2f"``, also written ``humanize $value`` or ``printf "%.2f" $value``.
Anything else is left as written, so a template never silently becomes wrong text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_PRINTF = re.compile(r'^printf\s+"([^"]*)"$')


def humanize(value: float) -> str:
    """Prometheus's ``humanize``: SI prefixes, four significant digits."""
    if value == 0 or not math.isfinite(value):
        return f"{value:.4g}"
    magnitude = abs(value)
    if magnitude >= 1:
        for prefix in ("", "k", "M", "G", "T", "P", "E", "Z", "Y"):
            if magnitude < 1000 or prefix == "Y":
                return f"{value:.4g}{prefix}"
            value /= 1000
            magnitude /= 1000
    for prefix in ("m", "u", "n", "p", "f", "a", "z", "y"):
        value *= 1000
        if abs(value) >= 1 or prefix == "y":
            return f"{value:.4g}{prefix}"
    return f"{value:.4g}"


def humanize_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return f"{seconds:.4g}"
    if abs(seconds) < 1:
        return humanize(seconds) + "s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes else []
    parts += [f"{secs}s"] if secs or not parts else []
    return sign + " ".join(parts)


def _pipe(value: float, name: str) -> str | None:
    if name == "humanize":
        return humanize(value)
    if name == "humanizePercentage":
        return humanize(value * 100) + "%"
    if name == "humanizeDuration":
        return humanize_duration(value)
    printf = _PRINTF.match(name)
    if printf:
        try:
            return printf.group(1) % value
        except (TypeError, ValueError):
            return None
    return None


def expand(template: str, labels: Mapping[str, str], value: float) -> str:
    """Expand the supported actions in ``template``; leave anything else verbatim."""

    def action(match: re.Match[str]) -> str:
        body = match.group(1)
        label = re.fullmatch(r"(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*)", body)
        if label:
            return labels.get(label.group(1), "")
        parts = [p.strip() for p in body.split("|")]
        head = parts[0]
        if head in ("$value", ".Value"):
            text: str | None = _format_value(value)
            current = value
            for pipe in parts[1:]:
                text = _pipe(current, pipe)
                if text is None:
                    return match.group(0)
            return text or ""
        prefix = re.fullmatch(r'(humanize\w*|printf\s+"[^"]*")\s+(\$value|\.Value)', head)
        if prefix and len(parts) == 1:
            return _pipe(value, prefix.group(1)) or match.group(0)
        return match.group(0)

    return _ACTION.sub(action, template)


def _format_value(value: float) -> str:
    """Go's default formatting of a float64 (``%v``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if text.endswith(".0"):
        text = text[:-2]
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text
