"""The headless core never imports Textual (DESIGN.md: core/ "never imports textual")."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import watchdeck.core

# Runs in a fresh interpreter: any attempt to import textual (even one guarded by
# try/except) is recorded and refused, then every core module is imported.
_PROBE = textwrap.dedent(
    """
    import importlib, json, sys

    attempts = []

    class BlockTextual:
        def find_spec(self, name, path=None, target=None):
            if name == "textual" or name.startswith("textual."):
                attempts.append(name)
                raise ModuleNotFoundError(f"textual is hidden from the core: {name}")
            return None

    sys.meta_path.insert(0, BlockTextual())
    blocked = False
    try:
        import textual  # noqa: F401  (proves the blocker works)
    except ModuleNotFoundError:
        blocked = True
    attempts.clear()

    failures = {}
    culprits = {}
    for name in json.loads(sys.argv[1]):
        before = len(attempts)
        try:
            importlib.import_module(name)
        except Exception as error:
            failures[name] = f"{type(error).__name__}: {error}"
        if len(attempts) > before:
            culprits[name] = attempts[before:]
    print(json.dumps({
        "blocked": blocked,
        "failures": failures,
        "culprits": culprits,
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("textual",)),
    }))
    """
)


def core_modules() -> list[str]:
    names = ["watchdeck.core"]
    for info in pkgutil.walk_packages(watchdeck.core.__path__, prefix="watchdeck.core."):
        names.append(info.name)
    return sorted(names)


def test_core_module_list_is_complete() -> None:
    names = core_modules()
    root = Path(watchdeck.core.__file__).parent
    files = {
        ".".join(("watchdeck", "core", *p.relative_to(root).with_suffix("").parts))
        for p in root.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    files = {name.removesuffix(".__init__") for name in files}
    assert set(names) == files
    for expected in ("watchdeck.core.config.loader", "watchdeck.core.sources.prometheus",
                     "watchdeck.core.timewin", "watchdeck.core.feeds"):
        assert expected in names


def test_no_core_module_imports_textual() -> None:
    modules = core_modules()
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(modules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["blocked"], "the probe failed to hide textual"
    assert report["culprits"] == {}, f"core modules that reach for textual: {report['culprits']}"
    assert report["failures"] == {}, f"core modules that fail without textual: {report['failures']}"
    assert report["loaded"] == []
