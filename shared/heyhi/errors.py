"""Error types. Every error HeyHi shows a user is one line naming where and what."""

from __future__ import annotations


class HeyHiError(Exception):
    """Base class of errors shown to the user as one line (exit code in ``exit_code``)."""

    exit_code = 2


class ConfigError(HeyHiError, ValueError):
    """A bad config file, schema, include or override. ``where`` is file:line:col or the override.

    Also a ``ValueError``, as the original HeyHi raised for a bad override or value: code written
    for it (``except ValueError``) still catches it.

    An override's error carries it: ``override`` (the ``heyhi.config.grammar.Override`` that
    failed to apply, else None) and ``token`` (its text, also for a token that did not parse)."""

    def __init__(self, message: str, where: str | None = None, *, override=None, token: str | None = None):
        self.where = where
        self.message = message
        self.override = override
        self.token = token if token is not None or override is None else override.token
        super().__init__(f"{where}: {message}" if where else message)


class ConfigTypeError(ConfigError, TypeError):
    """A Python value of the wrong type assigned to a config field (a float to an int field, an int
    to a string field): also a ``TypeError``, as protobuf raises for it."""


class SweepError(HeyHiError):
    """A bad sweep: one line naming the token or point and what is wrong (exit code 2).
    ``token``: the override token whose sweep value is bad, when one is."""

    def __init__(self, message: str, *, token: str | None = None):
        self.token = token
        super().__init__(message)


class UsageError(HeyHiError):
    """Bad command-line usage (flags)."""


class FolderTaken(HeyHiError):
    """The run folder is locked by another launch."""

    exit_code = 3


class Busy(FolderTaken):
    """A lock is held (by another launch, or another user in a group-shared results root): never awaited."""


class NothingStarted(HeyHiError):
    """A launch that started nothing (sbatch failed, no cluster, disk full before the job began):
    the folder is left "not started" (or removed) and ``heyhi run`` exits 69 (EX_UNAVAILABLE)."""

    exit_code = 69


class Refused(HeyHiError):
    """A write or wipe the safety rules refuse (the message names the folder and the rule)."""

    exit_code = 2
