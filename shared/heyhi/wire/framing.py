"""Frames: a 4-byte big-endian body length, then a msgpack body. Used by both sides.

``encode_frame`` / ``decode_header`` / ``decode_body`` are the whole format; ``send_frame`` /
``recv_frame`` (blocking sockets) and ``write_frame`` / ``read_frame`` (asyncio streams) only move
bytes. A header announcing more than ``MAX_FRAME`` bytes (or the reader's smaller ``limit``: the daemon
reads requests up to ``MAX_REQUEST_FRAME``) is refused before any of the body is read.
A clean end of stream between frames reads as ``None``; anything else wrong is a ``FrameError``.
No asyncio import here: the blocking client must not pay for it.
"""

from __future__ import annotations

import struct
TYPE_CHECKING = False  # not typing's: importing typing costs `heyhi ctl` ~5 ms
if TYPE_CHECKING:  # annotations only (strings here)
    from typing import Any

import msgpack

from heyhi.errors import HeyHiError
from heyhi.wire.limits import MAX_FRAME, MAX_REQUEST_FRAME

__all__ = ["MAX_FRAME", "MAX_REQUEST_FRAME", "FrameError", "encode_frame", "decode_header", "decode_body",
           "send_frame", "recv_frame", "write_frame", "read_frame"]
HEADER_SIZE = 4
_HEADER = struct.Struct(">I")


class FrameError(HeyHiError):
    """Bytes that are not a frame: oversized, truncated, or a body that is not msgpack."""


def encode_frame(obj: Any) -> bytes:
    """Header and body for ``obj`` (plain data: dicts, lists, str, bytes, numbers, bool, None)."""
    try:
        body = msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as e:
        raise FrameError(f"cannot encode {type(obj).__name__}: {e}") from None
    if len(body) > MAX_FRAME:
        raise FrameError(f"frame of {len(body)} bytes exceeds the maximum of {MAX_FRAME}")
    return _HEADER.pack(len(body)) + body


def decode_header(header: bytes, limit: int = MAX_FRAME) -> int:
    """The body length a 4-byte header announces; ``FrameError`` if it exceeds ``limit``."""
    if len(header) != HEADER_SIZE:
        raise FrameError(f"frame header of {len(header)} bytes, expected {HEADER_SIZE}")
    (length,) = _HEADER.unpack(header)
    if length > limit:
        raise FrameError(f"frame of {length} bytes exceeds the maximum of {limit}")
    return length


def decode_body(body: bytes) -> Any:
    """The object a frame body holds; ``FrameError`` if it is not exactly one msgpack object."""
    try:
        return msgpack.unpackb(body, raw=False)
    except Exception as e:  # msgpack raises ValueError subclasses, TypeError, ...
        raise FrameError(f"frame body is not msgpack ({type(e).__name__}: {e})") from None


# ---------------------------------------------------------------------------------------------
# Blocking sockets


def send_frame(sock: Any, obj: Any) -> None:
    sock.sendall(encode_frame(obj))


def recv_frame(sock: Any, limit: int = MAX_FRAME) -> Any:
    """The next object from ``sock``, or ``None`` if the peer closed the connection between frames."""
    header = _recv_exact(sock, HEADER_SIZE, eof_ok=True)
    if header is None:
        return None
    return decode_body(_recv_exact(sock, decode_header(header, limit)))


def _recv_exact(sock: Any, n: int, eof_ok: bool = False) -> Any:
    data = sock.recv(n)
    if len(data) == n:
        return data
    if not data and eof_ok:
        return None
    buf = bytearray(data)
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise FrameError(f"connection closed inside a frame ({len(buf)} of {n} bytes)")
        buf += chunk
    return bytes(buf)


# ---------------------------------------------------------------------------------------------
# asyncio streams


async def write_frame(writer: Any, obj: Any) -> None:
    writer.write(encode_frame(obj))
    await writer.drain()


async def read_frame(reader: Any, limit: int = MAX_FRAME) -> Any:
    """Like ``recv_frame``, on an ``asyncio.StreamReader``."""
    try:
        header = await reader.readexactly(HEADER_SIZE)
    except EOFError as e:  # asyncio.IncompleteReadError
        if not e.partial:
            return None
        raise FrameError(f"connection closed inside a frame header ({len(e.partial)} bytes)") from None
    length = decode_header(header, limit)
    try:
        body = await reader.readexactly(length)
    except EOFError as e:
        raise FrameError(
            f"connection closed inside a frame ({len(e.partial)} of {length} bytes)"
        ) from None
    return decode_body(body)
