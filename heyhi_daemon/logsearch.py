"""Search a job's stdout/stderr by byte offset, in bounded steps (``SearchLog`` -> ``LogMatches``).

A request scans at most ``SCAN_BYTES`` of the file (read in ``BLOCK`` pieces, in a thread, never
on the event loop) and answers the line starts of the matching lines it found (at most
``max_hits``), where it stopped (``next``) and whether it reached the end of the file (forward) or
its start (``backwards``); the client sends another request from ``next`` to go on. So a search
over a 10 GB log never holds the daemon for long, and the client can show progress and stop.

Lines are what ``\\n`` separates. A hit is a line in which the pattern matches (a regex with
``regex``; ``ignore_case`` folds ASCII letters, as the file's bytes are searched, not decoded text);
one hit per line whatever the number of matches in it. Forward, the lines that start at or after
``offset`` are searched (an offset inside a line starts at the next line); backwards, the lines
that start before ``offset``, nearest first. A bad regex is answered ``Error(invalid)`` on one line.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from heyhi.runs import records as R
from heyhi.wire import protocol as P
from heyhi.wire.protocol import Error, LogMatches, SearchLog

SCAN_BYTES = 64 * 1024 * 1024  # bytes one request scans at most
BLOCK = 4 * 1024 * 1024  # bytes read at a time
MAX_HITS = 1000  # SearchLog.max_hits, at most
MAX_PATTERN = 1024  # characters of SearchLog.pattern


def compile_pattern(pattern: str, regex: bool, ignore_case: bool) -> re.Pattern[bytes]:
    """The bytes pattern a search runs (``re.error`` for a bad regex). ``re.M``: ``^``/``$`` are
    line starts and ends."""
    raw = pattern.encode("utf-8", "surrogateescape")
    if not regex:
        raw = re.escape(raw)
    return re.compile(raw, re.M | (re.I if ignore_case else 0))


async def search(core, req: SearchLog) -> LogMatches | Error:
    """Answer ``req`` for the job ``core`` knows by that id (or run folder)."""
    if not req.pattern:
        return Error(P.BAD_REQUEST, "bad search_log request: pattern: empty")
    if len(req.pattern) > MAX_PATTERN:
        return Error(P.BAD_REQUEST, f"bad search_log request: pattern: {len(req.pattern)} characters, "
                                    f"at most {MAX_PATTERN}")
    if not 1 <= req.max_hits <= MAX_HITS:
        return Error(P.BAD_REQUEST, f"bad search_log request: max_hits: {req.max_hits} is out of range "
                                    f"(1 to {MAX_HITS})")
    try:
        rx = compile_pattern(req.pattern, req.regex, req.ignore_case)
    except (re.error, OverflowError, RecursionError) as e:
        return Error(P.INVALID, f"bad regex {_short(req.pattern)}: {str(e).splitlines()[0]}")
    job = core._resolve(req.job)
    if isinstance(job, Error):
        return job
    path = Path(job.run_dir) / (R.STDOUT if req.stream == "stdout" else R.STDERR)
    scan = scan_backwards if req.backwards else scan_forward
    try:
        offsets, nxt, done, size = await asyncio.to_thread(scan, path, rx, req.offset, req.max_hits)
    except OSError as e:  # not readable (a missing file is an empty log)
        return Error(P.NOT_FOUND, f"{path}: {e.strerror or e}")
    return LogMatches(job=job.job_id, stream=req.stream, offsets=offsets, next=nxt, done=done, size=size)


def _short(text: str, most: int = 60) -> str:
    return repr(text if len(text) <= most else text[: most - 3] + "...")


def _size(fh) -> int:
    fh.seek(0, 2)
    return fh.tell()


def scan_forward(path: Path, rx: re.Pattern[bytes], offset: int, max_hits: int,
                 budget: int = SCAN_BYTES) -> tuple[list[int], int, bool, int]:
    """(line starts of hits, where to go on, reached the end?, file size), lines from ``offset``."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return [], 0, True, 0
    with fh:
        size = _size(fh)
        pos = min(offset, size)
        if 0 < pos < size:  # inside a line: start at the next one
            fh.seek(pos - 1)
            if fh.read(1) != b"\n":
                pos = _next_line(fh, pos, size)
        hits: list[int] = []
        scanned = 0
        while pos < size and scanned < budget and len(hits) < max_hits:
            fh.seek(pos)
            block = fh.read(min(BLOCK, size - pos))
            if not block:
                break
            end = block.rfind(b"\n") + 1  # the complete lines of the block
            if end == 0:  # no line end: the last line of the file, or a line longer than BLOCK
                end = len(block)
            stop = _hits_in(block, 0, end, rx, pos, hits, max_hits)
            scanned += end
            if stop is not None:
                return hits, stop, stop >= size, size
            pos += end
        return hits, pos, pos >= size, size


def _next_line(fh, pos: int, size: int) -> int:
    """The offset after the ``\\n`` that ends the line holding ``pos`` (``size`` if none)."""
    while pos < size:
        fh.seek(pos)
        block = fh.read(min(BLOCK, size - pos))
        i = block.find(b"\n")
        if i >= 0:
            return pos + i + 1
        pos += len(block)
    return size


def _hits_in(block: bytes, start: int, end: int, rx: re.Pattern[bytes], base: int, hits: list[int],
             max_hits: int) -> int | None:
    """Append to ``hits`` the line starts (``base`` + index) of ``block[start:end]``'s lines that
    match, in order; when ``max_hits`` is reached, the offset after that line, else None."""
    pos = start
    while pos < end:
        m = rx.search(block, pos, end)
        if m is None:
            return None
        s = m.start()
        ls = max(start, block.rfind(b"\n", start, s) + 1)
        le = block.find(b"\n", s, end)
        le = end if le < 0 else le
        if m.end() > le and not rx.search(block, ls, le):  # it matched only across a line end
            pos = le + 1
            continue
        hits.append(base + ls)
        pos = le + 1
        if len(hits) >= max_hits:
            return base + min(pos, end)
    return None


def scan_backwards(path: Path, rx: re.Pattern[bytes], offset: int, max_hits: int,
                   budget: int = SCAN_BYTES) -> tuple[list[int], int, bool, int]:
    """(line starts of hits, nearest first; where to go on; reached the start?; file size): the
    lines that start before ``offset``."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return [], 0, True, 0
    with fh:
        size = _size(fh)
        pos = min(offset, size)
        hits: list[int] = []
        scanned = 0
        while pos > 0 and scanned < budget and len(hits) < max_hits:
            start = max(0, pos - BLOCK)
            fh.seek(start)
            block = fh.read(pos - start)
            # The block's first line may have started before it: leave it to the next block,
            # unless the block starts the file or holds no line start at all (a line longer than BLOCK).
            first = 0 if start == 0 else block.find(b"\n") + 1
            if first >= len(block):  # no line starts in the block: a line longer than BLOCK
                first = 0
            found: list[int] = []
            _hits_in(block, first, len(block), rx, start, found, 1 << 62)
            scanned += len(block) - first
            need = max_hits - len(hits)
            if len(found) > need:
                taken = found[-need:]
                hits.extend(reversed(taken))
                return hits, taken[0], False, size
            hits.extend(reversed(found))
            pos = start + first
        return hits, pos, pos <= 0, size
