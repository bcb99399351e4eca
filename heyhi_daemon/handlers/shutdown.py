"""``Shutdown`` -> ``Ok``, then the daemon stops.

Setting ``state.stop`` only wakes the server once this reply is on its way: the server sends it
before it looks at ``stop`` again, and lets busy connections finish (``Server._drain``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from heyhi.wire.protocol import Ok, Shutdown

if TYPE_CHECKING:
    from heyhi_daemon.server import DaemonState


def handle(state: DaemonState, req: Shutdown) -> Ok:
    state.stop.set()
    return Ok(f"daemon pid {state.pid} is shutting down")
