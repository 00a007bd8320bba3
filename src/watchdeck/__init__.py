"""watchdeck: a full-screen terminal console for live production systems."""

__version__ = "0.1.0"
