"""``Ping`` -> ``Pong(time)``: the daemon's clock, to measure a round trip."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from heyhi.wire.protocol import Ping, Pong

if TYPE_CHECKING:
    from heyhi_daemon.server import DaemonState


def handle(state: DaemonState, req: Ping) -> Pong:
    return Pong(time=time.time())
