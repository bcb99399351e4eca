"""The wire wing: what crosses the daemon's socket. ``protocol`` (every message, once), ``limits`` (every
size a request may carry), ``framing`` (length-prefixed msgpack), ``paths`` (where the socket, pid file,
log and state live), the blocking ``client`` (the CLI's), the asyncio ``aclient`` (the TUI's) and
``remote`` (a login node's daemon over SSH). It imports only ``heyhi.config``'s types and the leaves.
"""

from __future__ import annotations

from heyhi.exports import public

_EXPORTS = {
    **{m: f"heyhi.wire.{m}" for m in ("protocol", "limits", "framing", "paths")},
    **dict.fromkeys(("Client", "connect_or_none"), "heyhi.wire.client"),
    "AsyncClient": "heyhi.wire.aclient",
    "connect_remote": "heyhi.wire.remote",
}

__all__, __getattr__, __dir__ = public(__name__, _EXPORTS)
