"""No copied code in the programs: pylint's duplicate-code check over shared/heyhi, heyhi_daemon and
heyhi_tui finds nothing (one implementation of each rule, called from every path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK = [sys.executable, "-m", "pylint", "--disable=all", "--enable=duplicate-code", "--score=n"]


def _similar(paths: list[str], cwd: Path) -> str:
    p = subprocess.run(CHECK + paths, cwd=cwd, capture_output=True, text=True, timeout=240)
    return p.stdout + p.stderr


def test_no_duplicate_code_in_the_programs():
    said = _similar(["shared/heyhi", "heyhi_daemon", "heyhi_tui"], REPO)
    assert "R0801" not in said, said
    assert "Traceback" not in said


def test_the_check_sees_a_copied_block(tmp_path):
    body = "".join(f"    total = total * {i} + {i}\n" for i in range(8))
    for name in ("a", "b"):
        (tmp_path / f"{name}.py").write_text(f"def {name}(total):\n{body}    return total\n")
    assert "R0801" in _similar(["a.py", "b.py"], tmp_path)
