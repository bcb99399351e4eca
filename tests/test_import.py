"""The core library stays free of the TUI framework and the daemon."""

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        check=True, capture_output=True, text=True,
    ).stdout
    return set(out.split())


def test_import_heyhi_does_not_import_textual_or_daemon():
    mods = _modules_after("import heyhi")
    assert "heyhi" in mods
    assert "textual" not in mods
    assert not any(m.startswith("heyhi_daemon") for m in mods)
    assert "pydantic" not in mods


def test_public_api_is_listed():
    import heyhi

    assert "load_config" in heyhi.__all__
    assert heyhi.__version__
