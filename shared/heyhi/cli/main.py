"""`heyhi` command-line entry point: dispatches to `run`, `ctl`, `stubs`, `sweep`.

Promises, for every command: an argument that is not UTF-8 text is a one-line error (exit 2)
naming it; a reader that goes away (``heyhi ctl status | head -1``) ends the command quietly,
with no traceback and the exit code of a command killed by SIGPIPE (141), as ``yes | head`` does.
"""

from __future__ import annotations

import os
import sys

EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE: what the shell shows for a writer whose reader left

USAGE = """usage: heyhi run -c CFG [flags] [overrides...]
       heyhi ctl [--remote HOST] status|list|show|restart|cancel|wipe|logs|stop ...
       heyhi stubs [--project DIR] [--out FILE]
       heyhi sweep FILE.yaml|report|best|status|list|cancel|clean ..."""


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
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
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
    print(f"heyhi: unknown command {cmd!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
