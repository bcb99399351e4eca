"""``heyhi-tui [--project DIR] [--remote HOST]``: browse configs, launch, follow jobs and logs."""

from __future__ import annotations

import argparse
import os
import sys
from heyhi_tui.app import HeyHiApp
from heyhi_tui.link import RemoteConnector

PROG = "heyhi-tui"


def keymap_path() -> str:
    """``$HEYHI_TUI_KEYMAP``, else ``$XDG_CONFIG_HOME/heyhi/tui-keymap.toml`` (``~/.config``)."""
    explicit = os.environ.get("HEYHI_TUI_KEYMAP")
    if explicit:
        return os.path.expanduser(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "heyhi", "tui-keymap.toml")


def load_keymap(path: str) -> dict[str, str]:
    """Binding id -> keys (``"jobs.logs" = "o"``, at the top or under ``[keymap]``); {} if missing."""
    import tomllib  # lean: keeps the start-up of heyhi-tui from loading it

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    table = data.get("keymap", data)
    return {str(k): str(v) for k, v in table.items() if isinstance(v, str)}


def build_app(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(prog=PROG, description="HeyHi's terminal UI: configs, launches, jobs, logs.")
    parser.add_argument("--project", default=None, metavar="DIR",
                        help="the project root, holding conf/ (default: the current folder; with --remote, "
                             "a path on HOST)")
    parser.add_argument("--remote", default=None, metavar="HOST", help="use the daemon on HOST (over SSH)")
    parser.add_argument("--socket", default=None, metavar="PATH", help="the local daemon's socket "
                        "(default: $HEYHI_SOCKET, $XDG_RUNTIME_DIR/heyhi/daemon.sock or ~/.heyhi/daemon.sock)")
    parser.add_argument("--no-start", action="store_true",
                        help="do not start a daemon when none is up, nor again when it goes away (the "
                             "banner then says how to start one)")
    from heyhi import __version__  # lean: the package is loaded already; only its version is read

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    args = parser.parse_args(argv)

    kpath = keymap_path()
    try:
        keymap = load_keymap(kpath)
    except (OSError, ValueError) as e:
        raise SystemExit(f"{PROG}: cannot read the keymap {kpath}: {e}")
    if args.remote:
        try:
            from heyhi.wire import connect_remote  # lean: keeps the start-up of heyhi-tui from loading it
        except ImportError as e:
            raise SystemExit(f"{PROG}: --remote {args.remote}: this heyhi has no remote support yet "
                             f"(heyhi.wire.remote.connect_remote is missing: {e})")

        # The project is a path on HOST: resolved there once connected (default: the host's
        # `project` setting in ~/.heyhi/remote.toml, else the remote home).
        return HeyHiApp(args.project or "", connect=RemoteConnector(args.remote, connect_remote),
                        remote=args.remote, results_root=None, keymap=keymap, keymap_path=kpath)
    from heyhi.config import Project  # lean: keeps the start-up of heyhi-tui --remote from loading it
    from heyhi.errors import HeyHiError  # lean: keeps the start-up of heyhi-tui --remote from loading it

    try:  # as every HeyHi program: --project, else the folder holding conf/ upward from here
        project = str(Project.find(None, args.project).root)
    except HeyHiError as e:
        try:  # a project of script tasks only (no conf/): found as `heyhi run x.py` finds it
            root = Project.find(os.path.join(os.path.abspath(args.project or "."), "_.py"), args.project).root
        except HeyHiError:
            root = None
        if root is None or not any((root / m).exists() for m in ("pyproject.toml", ".git")):
            raise SystemExit(f"{PROG}: {e} (use --project DIR)")
        project = str(root)
    return HeyHiApp(project, socket_path=os.path.abspath(args.socket) if args.socket else None,
                    results_root=os.environ.get("HH_EXP_DIR") or None, autostart=not args.no_start,
                    keymap=keymap, keymap_path=kpath)


def main(argv: list[str] | None = None) -> int:
    app = build_app(argv)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
