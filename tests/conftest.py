"""Shared fixtures: paths, the CLI in a subprocess, isolated results roots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "heyhi_cicero"
PYTHON = sys.executable
BIN = Path(sys.executable).parent


def heyhi_cmd() -> list[str]:
    exe = BIN / "heyhi"
    return [str(exe)] if exe.exists() else [PYTHON, "-m", "heyhi.cli.main"]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Every test gets its own results root, daemon socket and cache; no daemon is reached by accident."""
    base = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("HH_EXP_DIR", str(base / "results"))
    monkeypatch.setenv("HEYHI_SOCKET", str(base / "sock" / "daemon.sock"))
    monkeypatch.setenv("HEYHI_STATE_DIR", str(base / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(REPO / ".pytest_cache" / "xdg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "xdg-state"))  # the TUI's launch history, not yours
    yield


@pytest.fixture
def sock(monkeypatch):
    """A short socket path for this test's own daemon (unix socket paths have a length limit)."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    s = d / "sock" / "d.sock"
    monkeypatch.setenv("HEYHI_SOCKET", str(s))
    yield s
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemon(sock, tmp_path):
    """A real daemon on this test's own socket, stopped after the test."""
    from daemon_util import DaemonProcess

    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    yield d
    d.stop()


def run_cli(args: list[str], cwd: Path | str = REPO, env: dict | None = None, timeout: float = 120, **kw):
    """Run `heyhi ...` in a subprocess; returns CompletedProcess (text)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run(heyhi_cmd() + args, cwd=str(cwd), env=e, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kw)


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"reference corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def demo_project(tmp_path) -> Path:
    """A copy of the demo project (conf/, run.py) in a fresh folder, outside git."""
    dst = tmp_path / "proj"
    dst.mkdir()
    shutil.copytree(REPO / "conf", dst / "conf", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "run.py", dst / "run.py")
    return dst


@pytest.fixture
def proj(tmp_path) -> Path:
    """A copy of HeyHi's test project (tests/project: the `probe` task), outside git."""
    dst = tmp_path / "proj"
    shutil.copytree(REPO / "tests" / "project", dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst
