"""`heyhi` command-line entry point: dispatches to `run`, `ctl`, `stubs`, `sweep`."""

from __future__ import annotations

import sys

USAGE = """usage: heyhi run -c CFG [flags] [overrides...]
       heyhi ctl [--remote HOST] status|list|show|restart|cancel|wipe|logs|stop ...
       heyhi stubs [--project DIR] [--out FILE]
       heyhi sweep FILE.yaml|report|best|status|list|cancel|clean ..."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "run":
        from .run import main as run_main

        return run_main(rest)
    if cmd == "ctl":
        from .ctl import main as ctl_main

        return ctl_main(rest)
    if cmd == "sweep":
        from .sweep import main as sweep_main

        return sweep_main(rest)
    if cmd == "stubs":
        from .stubs import main as stubs_main

        return stubs_main(rest)
    print(f"heyhi: unknown command {cmd!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
