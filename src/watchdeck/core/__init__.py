"""Headless core of watchdeck: data model, config, sources and time logic.

Nothing under this package may import :mod:`textual`; ``tests/test_architecture.py``
enforces it.
"""
