"""Screens: the dashboard, and the dialogs pushed over it."""
