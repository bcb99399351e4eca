"""The one rule about a ``--name`` that is not a flag, for every command that reads flags.

With no ``=`` it is refused in one line: ``write --name=VALUE`` when ``name`` is a field of the
config's task (``heyhi.cli.fieldcache``: the keys completion uses), else naming the closest flag
(``--wiat``: did you mean ``--wait``?). With ``=`` it stays an override (the original HeyHi took
``--key=value``), with a note on stderr when ``name`` is a near miss of a flag (``--wiat=1``).
"""

from __future__ import annotations


def _long(flags: list[str]) -> list[str]:
    return [f for f in flags if f.startswith("--")]


def unknown_flag_message(tok: str, following: str | None, flags: list[str], cfg: str | None = None,
                         project: str | None = None, command: str = "run") -> str:
    """The one line refusing ``tok``, a ``--name`` with no ``=`` that is none of ``flags``: when
    ``name`` is a field of the config's task, ``write --name=VALUE`` (with the value that followed
    it); else the closest flag."""
    from heyhi.config.suggest import closest  # lean: only a refused flag needs it

    name = tok.lstrip("-")
    if cfg is not None and name:
        from heyhi.cli.fieldcache import is_task_key  # lean: only a refused flag reads the config's keys

        if is_task_key(cfg, project, name):
            value = following if following is not None and not following.startswith("-") else "VALUE"
            return f"{tok} is not a flag: to set the field {name} write {tok}={value}"
    best = closest(tok, _long(flags) if tok.startswith("--") else flags, 1)
    hint = f"; did you mean {best[0]}?" if best else ""
    tail = f"; a field is set with {tok}=VALUE" if command == "run" else ""
    return f"unknown flag {tok}{hint} (heyhi {command} --help lists the flags{tail})"


def near_flag(name: str, flags: list[str]) -> str | None:
    """The flag that ``--name`` (given as ``--name=value``, an override) is a near miss of: edit
    distance 1 or 2, and at most half the name's length; None when there is none."""
    from heyhi.config.suggest import edit_distance  # lean: only a --name=value override needs it

    bare = name.lstrip("-")
    best: tuple[int, str] = (3, "")
    for flag in _long(flags):
        d = edit_distance(bare, flag[2:])
        if 0 < d <= 2 and d * 2 <= len(bare) and d < best[0]:
            best = (d, flag)
    return best[1] or None


def note_near_flag(tok: str, flags: list[str]) -> None:
    """On stderr: ``--wiat=1`` is read as an override, though it looks like the flag ``--wait``."""
    name = tok.partition("=")[0]
    flag = near_flag(name, flags)
    if flag is not None:
        import sys  # lean: only a note needs it

        print(f"heyhi: note: {tok} is read as an override of the field {name.lstrip('-')!r}, not as the "
              f"flag {flag}", file=sys.stderr)
