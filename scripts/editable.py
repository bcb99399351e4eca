"""Make the venv's editable install a plain path entry: no import hook on every Python start.

``pip install -e .`` with setuptools puts a finder module in site-packages (HeyHi maps ``heyhi`` to
``shared/heyhi``, which a plain ``.pth`` path cannot express), and every Python process of the venv
imports it at start-up: ~15 ms of pathlib and importlib.util before ``python -c pass`` even runs.
This script replaces it by a folder of three symlinks (``heyhi``, ``heyhi_daemon``, ``heyhi_tui``)
and a ``.pth`` naming that folder: the same sources, live (new modules appear without a reinstall),
and nothing else of the repository (``run.py``, ``conf/``, ``tests/``) on ``sys.path``.

Run by ``make install`` after ``pip install -e .`` (which still writes the entry points and metadata).
"""

from __future__ import annotations

import site
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"heyhi": REPO / "shared" / "heyhi", "heyhi_daemon": REPO / "heyhi_daemon", "heyhi_tui": REPO / "heyhi_tui"}


def main() -> int:
    sp = Path(site.getsitepackages()[0])
    finders = sorted(sp.glob("__editable__.heyhi-*.pth"))
    links = Path(sys.prefix) / "heyhi-editable"
    links.mkdir(exist_ok=True)
    for name, src in PACKAGES.items():
        link = links / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(src, target_is_directory=True)
    (sp / "heyhi-editable.pth").write_text(f"{links}\n")
    for f in finders:  # the hook's .pth; its module stays (pip uninstall removes it)
        f.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
