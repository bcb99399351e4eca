"""`heyhi` command-line entry point: dispatches to `run`, `ctl`, `sweep`, `diff`, `compare`, `stubs`,
`profiles`, `completion` and `help`.

One help for each command, in one style (``heyhi.cli.helptext``): ``heyhi help CMD`` and ``heyhi CMD
--help`` (``-h`` anywhere in a command's arguments) print the same text; ``heyhi --version`` prints
the version. ``heyhi __complete ...`` (hidden) answers the completion scripts (``heyhi.cli.completion``)
and imports nothing else of the CLI.

Promises, for every command: an argument that is not UTF-8 text is a one-line error (exit 2)
naming it; a reader that goes away (``heyhi ctl status | head -1``) ends the command quietly,
with no traceback and the exit code of a command killed by SIGPIPE (141), as ``yes | head`` does.
"""

from __future__ import annotations

import os
import sys

EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE: what the shell shows for a writer whose reader left


def main(argv: list[str] | None = None) -> int:
    """Run ``heyhi ARGV`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    bad = undecodable(argv)
    if bad is not None:
        print(f"heyhi: {bad}", file=sys.stderr)
        return 2
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # inside the try: a reader gone shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        quiet_stdout()
        return EXIT_BROKEN_PIPE


def undecodable(argv: list[str]) -> str | None:
    """The one-line complaint about the first argument that is not UTF-8 text, or None.

    Python hands such bytes over as lone surrogates (``surrogateescape``); HeyHi would otherwise
    fail on them much later (printing, hashing the run folder's name, sending to the daemon)."""
    for i, arg in enumerate(argv, 1):
        if any("\ud800" <= c <= "\udfff" for c in arg):
            try:  # the bytes as given, undecodable ones shown as \xNN
                shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:
                shown = ascii(arg)[1:-1]
            byte = next((f" (byte 0x{ord(c) - 0xDC00:02x})" for c in arg if "\udc80" <= c <= "\udcff"), "")
            return f"argument {i} is not UTF-8 text{byte}: {shown}"
    return None


def quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so Python's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _dispatch(argv: list[str]) -> int:
    if argv and argv[0] == "__complete":  # first: the shell waits on it at every TAB
        from heyhi.cli.completion import main as complete_main  # lean: keeps the start-up of every other command from loading it

        return complete_main(argv[1:])
    if not argv or argv[0] in ("-h", "--help"):
        return _help(None, to_stderr=not argv)
    if argv[0] == "--version":
        from heyhi import __version__  # lean: the package is loaded already; only its version is read

        print(f"heyhi {__version__}")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "help":
        if len(rest) > 1 or rest[:1] in (["-h"], ["--help"]):
            return _help("help", to_stderr=len(rest) > 1)
        return _help(rest[0] if rest else None)
    if cmd != "run" and ("-h" in rest or "--help" in rest):  # run's parser reads its own -h (python run.py too)
        return _help(cmd)
    if cmd == "completion":
        from heyhi.cli.completion import script_main  # lean: keeps the start-up of every other command from loading it

        return script_main(rest)
    if cmd == "run":
        from heyhi.cli.run import main as run_main  # lean: keeps the start-up of heyhi ctl, heyhi sweep, heyhi stubs, heyhi run --remote from loading it

        return run_main(rest)
    if cmd == "ctl":
        from heyhi.cli.ctl import main as ctl_main  # lean: keeps the start-up of heyhi run, heyhi run --print, heyhi sweep, heyhi stubs, heyhi run --remote from loading it

        return ctl_main(rest)
    if cmd == "sweep":
        from heyhi.cli.sweep import main as sweep_main  # lean: keeps the start-up of heyhi ctl, heyhi run, heyhi run --print, heyhi stubs, heyhi run --remote from loading it

        return sweep_main(rest)
    if cmd == "stubs":
        from heyhi.cli.stubs import main as stubs_main  # lean: keeps the start-up of heyhi ctl, heyhi run, heyhi run --print, heyhi sweep, heyhi run --remote from loading it

        return stubs_main(rest)
    if cmd == "profiles":
        from heyhi.cli.profiles import main as profiles_main  # lean: keeps the start-up of every other command from loading it

        return profiles_main(rest)
    if cmd in ("diff", "compare"):
        from heyhi.cli import compare, diff  # lean: keeps the start-up of heyhi ctl, heyhi run, heyhi sweep from loading them

        return (diff.main if cmd == "diff" else compare.main)(rest)
    return _unknown_command(cmd)


def _help(command: str | None, to_stderr: bool = False) -> int:
    """Print the help of ``command`` (None: heyhi's own); exit 2 when it was not asked for
    (``heyhi`` alone) or names no command."""
    from heyhi.cli.helptext import help_text  # lean: only a help needs the texts

    text = help_text(command or "heyhi")
    if text is None:
        return _unknown_command(command)
    print(text, file=sys.stderr if to_stderr else sys.stdout)
    return 2 if to_stderr else 0


def _unknown_command(cmd: str) -> int:
    from heyhi.cli.helptext import COMMANDS  # lean: only an error needs the list
    from heyhi.config.suggest import closest, edit_distance  # lean: only an error needs it

    best = closest(cmd, list(COMMANDS), 1) if not cmd.startswith("-") else []
    near = best and edit_distance(cmd, best[0]) <= min(max(2, len(cmd) // 2), len(cmd) - 1)
    hint = f"; did you mean {best[0]}?" if near else ""
    print(f"heyhi: unknown command {cmd!r}{hint} (heyhi --help lists the commands)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
