"""The daemon's side of profiles in the launch editor: ``ListProfiles`` -> ``ProfileList``.

Each profile of the project (``heyhi.config.profiles``, the one loader: pyproject.toml's
``[tool.heyhi.profiles.NAME]`` and ``conf/profiles.yaml``) is sent with its expansion as editor
lines: each flag file's entries as ``key=value`` (``heyhi.config.flagfiles``, the one reader; the
same strings ``--profile NAME`` expands them to, so the editor names the same run folder), then the
profile's overrides.

Promises:
- a profile that cannot go into the editor is still listed, with ``problem`` (one line) and no
  lines: a flag file that is missing or does not read (its error names file:line), a file of one run
  per row (CSV, TSV, a list of mappings), lines too long or too many for one editor; the others stay
  usable;
- a project whose profiles do not load (a bad declaration, bad TOML, no such folder) is the daemon's
  usual one-line ``Error`` (``invalid``, ``not_found``), never a traceback;
- bounded: pyproject.toml is read only as a regular file of at most 4 MiB, every flag file by
  ``heyhi.config.source`` (the same bound); at most ``MAX_READ_BYTES`` of flag files per request
  (each file read once), at most ``MAX_PROFILE_BYTES`` of lines per profile (what one ``Validate``
  frame can carry) and ``MAX_LINES`` lines, at most ``MAX_ANSWER_BYTES`` of lines in the answer;
  descriptions are cut to ``MAX_DESCRIPTION`` characters. Everything runs in a worker thread, never
  on the event loop.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

from heyhi.errors import ConfigError, HeyHiError
from heyhi.wire import limits as L
from heyhi.wire import protocol as P

MAX_LINES = L.MAX_OVERRIDES  # lines of one profile (the editor sends them as one Validate)
MAX_PROFILE_BYTES = L.MAX_REQUEST_FRAME // 2  # UTF-8 bytes of one profile's lines: room left for typed ones
MAX_ANSWER_BYTES = 8 * 1024 * 1024  # UTF-8 bytes of lines in one ProfileList (a frame holds 16 MiB)
MAX_READ_BYTES = 64 * 1024 * 1024  # bytes of flag files one request reads
MAX_DESCRIPTION = 1000  # characters of a description sent
MAX_PROBLEM = 500  # characters of a problem sent
MAX_PYPROJECT_BYTES = 4 * 1024 * 1024  # pyproject.toml, as a config file (heyhi.config.source)
ROWS_REFUSED = "a profile with a one-run-per-row file cannot be put in the editor"


async def list_profiles(core: Any, req: P.ListProfiles) -> P.ProfileList | P.Error:
    """The project's profiles with their editor lines (see the module docstring)."""
    return await asyncio.to_thread(profile_list, req.project_root)


def profile_list(project_root: str) -> P.ProfileList | P.Error:
    """``ListProfiles``' answer, computed here (blocking: file reads)."""
    from heyhi.config.profiles import load_profiles  # lean: keeps the start-up of the daemon from loading it

    root = Path(project_root).expanduser()
    if not root.is_dir():
        return P.Error(P.NOT_FOUND, f"{root}: no such project folder")
    try:
        profiles = load_profiles(root.absolute(), _settings(root.absolute()))
    except HeyHiError as e:
        return P.Error(P.INVALID, _one_line(str(e), MAX_PROBLEM * 4))
    reader = _Reader()
    out: list[P.ProfileInfo] = []
    sent = 0
    for name in profiles.names():
        p = profiles.by_name[name]
        lines, problem = reader.lines_of(p)
        size = sum(len(x.encode("utf-8", "surrogatepass")) + 1 for x in lines)
        if not problem and sent + size > MAX_ANSWER_BYTES:
            lines, problem = [], (f"profile {name!r}: not sent: the profiles' lines come to more than "
                                  f"{MAX_ANSWER_BYTES // (1024 * 1024)} MiB in all")
        sent += size if not problem else 0
        desc = p.description if len(p.description) <= MAX_DESCRIPTION else p.description[:MAX_DESCRIPTION - 1] + "…"
        out.append(P.ProfileInfo(name=name, description=desc, is_default=name == profiles.default,
                                 lines=lines if not problem else [], where=p.where,
                                 problem=_one_line(problem, MAX_PROBLEM) if problem else ""))
    return P.ProfileList(profiles=out)


def _settings(root: Path) -> dict:
    """``[tool.heyhi]`` of ``root/pyproject.toml`` (``Project.settings``, as the CLI reads it), once
    it is known to be a regular file of at most ``MAX_PYPROJECT_BYTES``."""
    from heyhi.config import Project  # lean: keeps the start-up of the daemon from loading it

    pp = root / "pyproject.toml"
    try:
        st = os.stat(pp)
    except OSError:
        return {}  # none: no profiles there (Project.settings says the same)
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError("not a regular file", str(pp))
    if st.st_size > MAX_PYPROJECT_BYTES:
        raise ConfigError(f"{st.st_size} bytes, at most {MAX_PYPROJECT_BYTES // (1024 * 1024)} MiB", str(pp))
    return Project(root).settings


class _Reader:
    """Reads each flag file once per request, within ``MAX_READ_BYTES`` in all."""

    def __init__(self) -> None:
        self.read = 0
        self.files: dict[Path, Any] = {}  # path -> FlagFile, or the ConfigError it raised

    def load(self, path: Path) -> Any:
        from heyhi.config import flagfiles  # lean: keeps the start-up of the daemon from loading it

        got = self.files.get(path)
        if got is None:
            try:
                size = os.stat(path).st_size
            except OSError:
                size = 0  # the reader says what is wrong with it
            if self.read + size > MAX_READ_BYTES:
                raise ConfigError(f"not read: the profiles' flag files come to more than "
                                  f"{MAX_READ_BYTES // (1024 * 1024)} MiB in all", str(path))
            self.read += size
            try:
                got = flagfiles.load(path)
            except ConfigError as e:
                got = e
            self.files[path] = got
        if isinstance(got, ConfigError):
            raise got
        return got

    def lines_of(self, p: Any) -> tuple[list[str], str]:
        """(the profile's editor lines, "") or ([], why it cannot go into the editor)."""
        lines: list[str] = []
        size = 0
        try:
            p.expand()  # every flag file there (the core's own check and message)
            for f in p.flags:
                ff = self.load(f)
                if ff.rows is not None:
                    return [], f"profile {p.name!r}: {f}: {ROWS_REFUSED} (use --profile {p.name} on the command line)"
                lines.extend(e.token for e in ff.entries)
                if len(lines) > MAX_LINES:
                    break
        except ConfigError as e:
            return [], f"profile {p.name!r}: {e}" if not str(e).startswith(f"{p.where}: profile ") else str(e)
        lines.extend(p.overrides)
        if len(lines) > MAX_LINES:
            return [], f"profile {p.name!r}: more than {MAX_LINES} lines: too many for the editor"
        for x in lines:
            size += len(x.encode("utf-8", "surrogatepass")) + 1
            if len(x) > L.MAX_STRING:
                return [], f"profile {p.name!r}: a line of {len(x)} characters (at most {L.MAX_STRING}): {x[:40]}..."
        if size > MAX_PROFILE_BYTES:
            return [], (f"profile {p.name!r}: its lines come to more than {MAX_PROFILE_BYTES // 1024} KiB: "
                        f"too large for the editor")
        return lines, ""


def _one_line(text: str, most: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= most else line[: most - 1] + "…"
