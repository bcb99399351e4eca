"""Frozen configs: immutable pydantic objects built lazily from the schema (``heyhi.config.frozen``).

The names stay importable from here; ``_unpickle`` stays for frozen configs pickled by an earlier
HeyHi (they name ``heyhi.frozen._unpickle``).
"""

from __future__ import annotations

from .config.frozen import FrozenConfig, freeze, frozen_class  # noqa: F401 (re-exported)
from .schema.model import MessageType
from .values import Msg


def _unpickle(mtype: MessageType, values: dict) -> FrozenConfig:
    return freeze(Msg(mtype, values))
