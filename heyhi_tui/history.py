"""The launch editor's memory, per config: the override sets launched (newest last) and the draft left
when the editor was closed without launching.

Promises:
- kept in one JSON file, ``$XDG_STATE_HOME/heyhi/tui-history.json`` (default ``~/.local/state``),
  written atomically (a temporary file in the same folder, then ``os.replace``), so a crash never
  leaves half a file;
- bounded: at most ``MAX_SETS`` sets per config (the oldest dropped), ``MAX_CONFIGS`` configs (the
  least recently used dropped), ``MAX_LINES`` lines of ``MAX_LINE`` characters per set; a file is
  read only up to ``MAX_BYTES`` (a larger one is not read);
- a missing file is an empty history; one that cannot be read or parsed (or is too large, or not
  the shape written here) is ignored with one line (``History.problem``), never an exception, and
  is not written over until something new is saved;
- plain functions and the standard library: no Textual here (the screens call it from a worker
  thread).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FILE = "tui-history.json"
FORMAT = 1
MAX_SETS = 50  # override sets kept per config
MAX_CONFIGS = 200  # configs with a history or a draft
MAX_LINES = 200  # lines of one set
MAX_LINE = 4096  # characters of one line
MAX_BYTES = 4 * 1024 * 1024  # the file is not read beyond this


def default_path() -> Path:
    """``$XDG_STATE_HOME/heyhi/tui-history.json``, else ``~/.local/state/heyhi/tui-history.json``."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "heyhi" / FILE


def _clean(lines: object) -> list[str] | None:
    """A set as stored: strings, bounded; None when ``lines`` is not a list of strings."""
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        return None
    return [x[:MAX_LINE] for x in lines[:MAX_LINES]]


@dataclass
class _Entry:
    sets: list[list[str]] = field(default_factory=list)
    draft: list[str] | None = None


class History:
    """What the file holds, by config key (``key(config, where)``); load with ``History.load``."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.entries: dict[str, _Entry] = {}
        self.problem = ""  # one line when the file was there but could not be used

    @staticmethod
    def key(config: str, where: str | None = None) -> str:
        """A config's key: its path, and the host for a remote one (``host:/path``)."""
        return f"{where}:{config}" if where else config

    @classmethod
    def load(cls, path: Path | None = None) -> History:
        """The history in ``path`` (default ``default_path()``); never raises."""
        h = cls(path)
        try:
            with open(h.path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return h
        except OSError as e:
            h.problem = f"launch history {h.path} not read: {e.strerror or e}"
            return h
        if len(data) > MAX_BYTES:
            h.problem = f"launch history {h.path} not read: larger than {MAX_BYTES // (1024 * 1024)} MiB"
            return h
        try:
            doc = json.loads(data)
            configs = doc["configs"] if isinstance(doc, dict) else None
            if not isinstance(configs, dict):
                raise ValueError("no 'configs' map")
        except (ValueError, KeyError, TypeError) as e:  # UnicodeDecodeError is a ValueError
            h.problem = f"launch history {h.path} ignored: not a history file ({str(e).splitlines()[0][:80]})"
            return h
        for k, v in list(configs.items())[-MAX_CONFIGS:]:
            if not isinstance(v, dict):
                continue
            sets = [s for s in (_clean(x) for x in (v.get("sets") or [])[-MAX_SETS:]) if s is not None]
            h.entries[str(k)] = _Entry(sets, _clean(v.get("draft")) if v.get("draft") is not None else None)
        return h

    # ---- reading ----------------------------------------------------------------------------------
    def sets(self, key: str) -> list[list[str]]:
        """The override sets launched with the config, oldest first."""
        e = self.entries.get(key)
        return [list(s) for s in e.sets] if e else []

    def draft(self, key: str) -> list[str] | None:
        """The lines left in the editor when it was closed without launching, if any."""
        e = self.entries.get(key)
        return list(e.draft) if e and e.draft is not None else None

    # ---- changing (then ``save``) -------------------------------------------------------------------
    def _touch(self, key: str) -> _Entry:
        e = self.entries.pop(key, None) or _Entry()
        self.entries[key] = e  # the most recently used last
        while len(self.entries) > MAX_CONFIGS:
            del self.entries[next(iter(self.entries))]
        return e

    def add(self, key: str, lines: list[str]) -> None:
        """Record a launched set (blank lines dropped; the same set again moves to the end); the
        draft is cleared: it was launched."""
        s = _clean([x.strip() for x in lines if x.strip()]) or []
        e = self._touch(key)
        e.draft = None
        if not s:
            return
        e.sets = [x for x in e.sets if x != s][-(MAX_SETS - 1):] + [s]

    def set_draft(self, key: str, lines: list[str] | None) -> None:
        """Keep ``lines`` as the config's draft (None or no text: no draft)."""
        if lines is not None and not any(x.strip() for x in lines):
            lines = None
        e = self.entries.get(key)
        if e is None and lines is None:
            return
        e = self._touch(key)
        e.draft = _clean(list(lines)) if lines is not None else None

    def dumps(self) -> str:
        """The file's text for what is held now (take it where the history changes, write it anywhere)."""
        return json.dumps({"format": FORMAT, "configs": {k: {"sets": e.sets, **({"draft": e.draft} if e.draft else {})}
                                                         for k, e in self.entries.items()}}, indent=0)

    def save(self) -> str:
        """Write the file atomically; "" when done, else the one-line reason it was not."""
        return self.write(self.dumps())

    def write(self, text: str) -> str:
        """Write ``text`` (from ``dumps``) as the file, atomically; "" or the one-line reason it was not."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{FILE}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as e:
            return f"launch history not saved to {self.path}: {e.strerror or e}"
        self.problem = ""
        return ""
