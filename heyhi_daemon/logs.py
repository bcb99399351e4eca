"""Live logs: stream a run's stdout.log / stderr.log from an offset, following appends.

Following is driven by watchfiles (inotify), not a sleep loop. Every chunk carries its byte
offset (and the file's size then, so a client knows how far behind it is), so a client that
reconnects resumes with no gap and no duplicate. A file that shrank
(truncated, or the folder was wiped and the run restarted) is read again from 0; a file that
does not exist yet is waited for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import AsyncIterator, Callable

from heyhi.runs.view import last_lines_offset  # noqa: F401 - the one rule, shared with heyhi ctl logs
from heyhi.wire.protocol import LogChunk

CHUNK = 256 * 1024


def read_from(path: Path, offset: int, limit: int = CHUNK) -> tuple[int, bytes, int]:
    """(offset actually read from, data, the file's size): restarts at 0 when the file is now
    shorter than ``offset``."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < offset:
                offset = 0
            fh.seek(offset)
            data = fh.read(limit)
            return offset, data, max(size, offset + len(data))
    except FileNotFoundError:
        return offset, b"", 0


async def follow(job_id: str, path: Path, stream: str, offset: int, follow: bool,
                 is_final: Callable[[], bool]) -> AsyncIterator[LogChunk]:
    """Chunks of ``path`` from ``offset``; with ``follow``, keep going until the job is final and
    everything written has been sent."""
    watcher = None
    try:
        while True:
            start, data, size = read_from(path, offset)
            if data:
                yield LogChunk(job=job_id, stream=stream, offset=start, data=data, size=size)
                offset = start + len(data)
                continue
            if start != offset:
                offset = start
                continue
            if not follow:
                yield LogChunk(job=job_id, stream=stream, offset=offset, data=b"", eof=True, size=size)
                return
            if is_final():
                start, data, size = read_from(path, offset)
                if not data:
                    yield LogChunk(job=job_id, stream=stream, offset=offset, data=b"", eof=True, size=size)
                    return
                continue
            if watcher is None:
                watcher = _watch(path)
            await watcher.__anext__()
    finally:
        if watcher is not None:
            await watcher.aclose()


async def _watch(path: Path, timeout_ms: int = 150):
    """Yields when the run folder changes, or every ``timeout_ms`` (to recheck the job's state,
    and to catch a write made before the watch was in place)."""
    from watchfiles import awatch  # lean: keeps the start-up of the daemon from loading it

    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    async for _ in awatch(folder, debounce=50, step=10, rust_timeout=timeout_ms, yield_on_timeout=True,
                          recursive=False):
        yield None
