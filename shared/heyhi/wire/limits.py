"""Request limits: every size, length, offset and count a request may carry, defined once.

The daemon checks each decoded frame against these before any work starts (``heyhi_daemon.validate``):
counts and string sizes before pydantic sees the frame, so a huge junk list is refused without
building one error per element; integer ranges right after. A request beyond a limit is answered
``Error(bad_request)`` naming the field and the limit; the connection stays open. The clients read
``CONNECT_RETRY_S``. docs/protocol.md ("Limits") lists them all. Plain constants, no imports: the
blocking client imports this module.
"""

from __future__ import annotations

# Frames
MAX_FRAME = 16 * 1024 * 1024  # any frame, either way (a FileData of MAX_READ_LENGTH fits)
MAX_REQUEST_FRAME = 1024 * 1024  # a frame the daemon reads from a client (bounds decoding memory)

# Counts and sizes inside a request (checked before pydantic)
MAX_FIELDS = 32  # keys in a request map
MAX_STRING = 64 * 1024  # characters in any string field (paths, job ids, overrides)
MAX_OVERRIDES = 10_000  # items in Validate.overrides / Launch.overrides
MAX_ITEMS = 256  # items in any other list or map field (Subscribe.filters)

# Integer fields (checked after the types are known): name -> (lowest, highest), inclusive
MAX_READ_LENGTH = 8 * 1024 * 1024  # ReadFile.length: bytes one FileData carries
MAX_OFFSET = (1 << 63) - 1  # a file offset (off_t)
MAX_LAST_LINES = 1_000_000  # Logs.last_lines
MAX_PARALLEL = 100_000  # LaunchSweep.max_parallel
INT_RANGES: dict[str, tuple[int, int]] = {
    "offset": (0, MAX_OFFSET),
    "length": (0, MAX_READ_LENGTH),
    "last_lines": (0, MAX_LAST_LINES),
    "max_parallel": (1, MAX_PARALLEL),
}

# What the daemon answers
MAX_DIR_ENTRIES = 10_000  # ListDir lists at most this many entries (the first, by name, of those read)

# Connections
IDLE_TIMEOUT_S = 30.0  # a connection with no request in flight and no stream is closed after this
# The Error code that closes it is heyhi.wire.protocol.IDLE_TIMEOUT (every code is listed there).
CONNECT_RETRY_S = 5.0  # clients retry a connect refused with EAGAIN (full backlog) for at most this

# The daemon's log
MAX_LOG_TEXT = 300  # characters of any client-supplied text (or exception message) in a log line
MAX_LOG_RECORD = 8 * 1024  # characters of one log record, traceback included
