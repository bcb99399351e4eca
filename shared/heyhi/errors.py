"""Error types. Every error HeyHi shows a user is one line naming where and what."""

from __future__ import annotations


class HeyHiError(Exception):
    """Base class of errors shown to the user as one line (exit code in ``exit_code``)."""

    exit_code = 2


class ConfigError(HeyHiError):
    """A bad config file, schema, include or override. ``where`` is file:line:col or the override."""

    def __init__(self, message: str, where: str | None = None):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


class UsageError(HeyHiError):
    """Bad command-line usage (flags)."""


class FolderTaken(HeyHiError):
    """The run folder is locked by another launch."""

    exit_code = 3
