"""Refresh ``requirements.lock`` to the newest versions the registry serves (``make lock``).

The lock pins every package ``make install`` installs (the project's dependencies and its ``dev``,
``sweeps``, ``bench`` and ``build`` extras) to an exact version with hashes, for every Python the
project supports. It is resolved by uv (``uv pip compile --universal``); this script runs it and
writes a header that lists the versions of the direct dependencies, so a reader sees at a glance
what the suite was last run against. ``make lock`` then runs the tests on the new lock.
"""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
EXTRAS = ("dev", "sweeps", "bench", "build")


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")


def main() -> int:
    uv = Path(sys.executable).with_name("uv")
    cmd = [str(uv), "pip", "compile", "pyproject.toml", "--universal", "--generate-hashes", "--upgrade",
           "--no-header", "-q"] + [a for e in EXTRAS for a in ("--extra", e)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        return out.returncode
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = [_name(r) for r in project["dependencies"]]
    for extra in EXTRAS:
        direct += [_name(r) for r in project["optional-dependencies"][extra]]
    pins: dict[str, list[str]] = {}
    for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", out.stdout, re.M):
        pins.setdefault(m.group(1).lower(), []).append(m.group(2))
    listed = ", ".join(f"{n} {'/'.join(pins.get(n, ['?']))}" for n in dict.fromkeys(direct))
    header = [
        "# requirements.lock: every package `make install` installs, exact versions with hashes.",
        f"# Refreshed {datetime.date.today().isoformat()} by `make lock` (scripts/relock.py: uv pip compile "
        "--universal --upgrade), then `make test` passed.",
        "# Direct dependencies: " + listed + ".",
        "# Install: pip install --require-hashes -r requirements.lock; then pip install --no-deps -e .",
    ]
    LOCK.write_text("\n".join(_wrap(header)) + "\n" + out.stdout)
    print(f"wrote {LOCK.name}: {len(pins)} packages")
    return 0


def _wrap(lines: list[str], width: int = 100) -> list[str]:
    res = []
    for line in lines:
        while len(line) > width:
            cut = line.rfind(" ", 0, width)
            res.append(line[:cut])
            line = "#  " + line[cut + 1:]
        res.append(line)
    return res


if __name__ == "__main__":
    sys.exit(main())
