"""Widgets by feature: they take attributes and post messages, and never reach into siblings."""
