"""A run's folder outside the app: opened in ``$EDITOR`` or a shell with the app suspended (over
``--remote``: ``ssh -t`` into the folder on the daemon's host, with the SSH settings the link uses),
or its path copied to the clipboard.

``folder_command`` says what would run (an argv and the local folder to run it in, or None for a
remote one); ``open_folder`` runs it with the terminal handed over (``App.suspend``) and says in one
line what it could not do (a terminal that cannot be handed over names the command to run instead).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any

ASK_SHELL = 'exec "${SHELL:-/bin/sh}" -l'
ASK_EDITOR = 'exec "${VISUAL:-${EDITOR:-vi}}" .'


def split_host(spec: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` (``[v6addr]:port``) as (user, host, port)."""
    user, _, rest = spec.rpartition("@")
    port = None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":") and tail[1:].isdigit():
            port = int(tail[1:])
    elif rest.count(":") == 1 and rest.split(":")[1].isdigit():
        host, port = rest.split(":")[0], int(rest.split(":")[1])
    else:
        host = rest
    return user or None, host, port


def _paths(value: Any) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [os.path.expanduser(str(v)) for v in items]


def ssh_argv(spec: str, settings: Any, remote_command: str, tty: bool = True) -> list[str]:
    """The OpenSSH client's argv running ``remote_command`` on ``spec`` with the link's settings
    (its keys, known_hosts and ssh_config; the host key is checked as the link checks it)."""
    user, host, port = split_host(spec)
    argv = ["ssh"] + (["-t"] if tty else [])
    if port:
        argv += ["-p", str(port)]
    for key in _paths(getattr(settings, "client_keys", None)):
        argv += ["-i", key]
    known = _paths(getattr(settings, "known_hosts", None))
    if known:
        argv += ["-o", "UserKnownHostsFile=" + " ".join(known), "-o", "StrictHostKeyChecking=yes"]
    for config in _paths(getattr(settings, "ssh_config", None))[:1]:
        argv += ["-F", config]
    argv.append(f"{user}@{host}" if user else host)
    argv.append(remote_command)
    return argv


def folder_command(app: Any, folder: str, what: str) -> tuple[list[str], str | None]:
    """What opens ``folder`` (``what``: "shell" or "editor"): (argv, local folder to run it in;
    None when it runs on the remote host)."""
    if app.remote:
        ask = ASK_SHELL if what == "shell" else ASK_EDITOR
        settings = getattr(app.link.connector, "settings", lambda: None)()
        return ssh_argv(app.remote, settings, f"cd {shlex.quote(folder)} && {ask}"), None
    if what == "shell":
        return [os.environ.get("SHELL") or "/bin/sh"], folder
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    return shlex.split(editor) + ["."], folder


def open_folder(app: Any, folder: str, what: str) -> int | None:
    """Run ``folder_command`` with the terminal handed over; its exit status, or None (said why)."""
    from textual.app import SuspendNotSupported  # lean: only when a folder is opened

    argv, cwd = folder_command(app, folder, what)
    if cwd is not None and not os.path.isdir(cwd):
        app.notify(f"{folder}: no such folder here (wiped?)", severity="error", timeout=8)
        return None
    try:
        with app.suspend():
            status = subprocess.call(argv, cwd=cwd)
    except SuspendNotSupported:
        where = f"cd {shlex.quote(cwd)} && " if cwd else ""
        app.notify(f"this terminal cannot be handed over; run: {where}{shlex.join(argv)}", severity="warning",
                   timeout=12)
        return None
    except OSError as e:
        app.notify(f"{argv[0]}: {e.strerror}", severity="error", timeout=8)
        return None
    if status:
        app.notify(f"{shlex.join(argv[:1])} ended with status {status}", severity="warning")
    return status


def copy_path(app: Any, path: str) -> None:
    """Put ``path`` on the clipboard (the terminal's, through OSC 52) and say so."""
    app.copy_to_clipboard(path)
    where = f" (a path on {app.remote})" if app.remote else ""
    app.notify(f"copied to the clipboard: {path}{where}", title="path copied")
