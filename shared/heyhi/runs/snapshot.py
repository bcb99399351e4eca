"""Code snapshots: a copy of the project's code, stored once per content hash, that runs use,
so editing the code after a launch does not change a queued or running job.

Snapshots are private to the user (0700 folders, files with only the owner's bits), or shared with
the group of ``$HEYHI_SHARED_GROUP`` (``heyhi.perms``), whatever the umask."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from heyhi import perms

MAX_FILE = 20 * 1024 * 1024
SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", "node_modules", ".mypy_cache", ".heyhi_cache"}


def project_files(root: Path, exclude: list[Path]) -> list[str]:
    """Relative paths to snapshot: git's tracked and untracked-not-ignored files when the root
    is in git, else every ``*.py`` and everything under ``conf/``; never the results folder."""
    root = Path(root)
    files: list[str] | None = None
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, timeout=60,
        )
        if out.returncode == 0:
            files = [f for f in out.stdout.decode("utf-8", "surrogateescape").split("\0") if f]
    except (OSError, subprocess.TimeoutExpired):
        files = None
    if files is None:
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            rel = os.path.relpath(dirpath, root)
            in_conf = rel == "conf" or rel.startswith("conf" + os.sep)
            for f in filenames:
                if f.endswith(".py") or in_conf:
                    files.append(os.path.normpath(os.path.join(rel, f)))
    ex = [str(Path(os.path.realpath(e))) for e in exclude]
    keep = []
    for f in sorted(set(files)):
        full = root / f
        real = os.path.realpath(full)
        if any(real == e or real.startswith(e + os.sep) for e in ex):
            continue
        if not full.is_file() or full.stat().st_size > MAX_FILE:
            continue
        keep.append(f)
    return keep


def git_info(root: Path) -> dict:
    """The code's git commit and dirty flag (None when not in git)."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=30)
        if rev.returncode != 0:
            return {"git_commit": None, "git_dirty": None}
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=60)
        return {"git_commit": rev.stdout.strip(), "git_dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {"git_commit": None, "git_dirty": None}


def _remove_stale_tmp(store: Path) -> None:
    """Remove half-copied snapshots (``.<hash>.<pid>.tmp``) whose copying process is gone (killed)."""
    try:
        entries = list(os.scandir(store))
    except OSError:
        return
    for e in entries:
        parts = e.name.split(".")
        if len(parts) == 4 and parts[0] == "" and parts[3] == "tmp" and parts[2].isdigit() \
                and e.is_dir(follow_symlinks=False) and not os.path.exists(f"/proc/{parts[2]}"):
            shutil.rmtree(e.path, ignore_errors=True)


def take_snapshot(root: Path, store: Path, exclude: list[Path]) -> tuple[Path, str]:
    """Copy the project's code into ``store/<hash>`` (once per content hash); returns (dir, hash)."""
    root = Path(root)
    files = project_files(root, exclude)
    h = hashlib.sha256()
    contents = []
    for f in files:
        data = (root / f).read_bytes()
        h.update(f.encode("utf-8", "surrogateescape") + b"\0" + len(data).to_bytes(8, "big") + data)
        contents.append((f, data, (root / f).stat().st_mode))
    digest = h.hexdigest()[:16]
    dest = Path(store) / digest
    if (dest / ".heyhi_snapshot_complete").exists():
        return dest, digest
    perms.make_dir(store)
    _remove_stale_tmp(Path(store))
    tmp = Path(store) / f".{digest}.{os.getpid()}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    # Private like the runs that use it (0700 folders; files keep only the owner's bits of the
    # original, so scripts stay executable), or group-shared with $HEYHI_SHARED_GROUP.
    keep = perms.dir_mode() & 0o777
    perms.make_dir(tmp)
    for f, data, mode in contents:
        p = tmp / f
        perms.make_dir(p.parent)
        fd = perms.open_file(p, os.O_WRONLY | os.O_TRUNC)
        with open(fd, "wb") as fh:
            fh.write(data)
        os.chmod(p, mode & keep | perms.file_mode())
    perms.write_file(tmp / ".heyhi_snapshot_complete", digest + "\n")
    try:
        os.rename(tmp, dest)
    except OSError:
        # Another launch stored the same snapshot first.
        shutil.rmtree(tmp, ignore_errors=True)
    return dest, digest
