"""The Textual user interface: app, hub, screens and panels."""
