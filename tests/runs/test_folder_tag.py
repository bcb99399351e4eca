"""The config's folder tag in the run folder (``p/<tag>/<cfg>/...``) is the original HeyHi's, bit for bit:
its ``util._get_config_folder_tag`` is restated below from its source and compared on a table of paths.

The original's ``CONF_ROOT`` is the folder of its ``conf`` package; HeyHi's is the project's ``conf/``
(the project found from the config's path, symlinks kept). The original tests the config's absolute
parent folder with ``str.startswith`` (no ``/`` boundary), so a sibling ``conf_old/`` gives ``_old``.
Where the original crashed (a path that is not UTF-8, outside ``conf/``), HeyHi hashes its bytes.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from pathlib import Path

import pytest

from conftest import run_cli
from heyhi.runs.outdir import config_folder_tag


def original_folder_tag(path: pathlib.Path, conf_root: pathlib.Path) -> str:
    """The original's ``_get_config_folder_tag`` (heyhi/util.py), with ``conf.CONF_ROOT`` passed in."""
    config_path = str(path.parent.absolute())
    if config_path.startswith(str(conf_root)):
        components = config_path[len(str(conf_root)) :].strip("/").split("/")
        if components:
            folder = "_".join(components)
        else:
            folder = "root"
    else:
        folder = hashlib.md5(config_path.encode("utf8")).hexdigest()[:8]
    return folder


# (config path, relative to the project root unless absolute; the tag the original gives)
PATHS = [
    pytest.param("conf/x.prototxt", "", id="in-conf"),
    pytest.param("conf/a/x.prototxt", "a", id="one-level"),
    pytest.param("conf/a/b/c/x.prototxt", "a_b_c", id="three-levels"),
    pytest.param("conf_old/x.prototxt", "_old", id="sibling-conf_old"),
    pytest.param("conf_old/sub/x.prototxt", "_old_sub", id="sibling-conf_old-sub"),
    pytest.param("conference/x.prototxt", "erence", id="sibling-conference"),
    pytest.param("conf2/a/x.prototxt", "2_a", id="sibling-conf2"),
    pytest.param("conf.bak/x.prototxt", ".bak", id="sibling-conf.bak"),
    pytest.param("conf/a/conf/b/x.prototxt", "a_conf_b", id="conf-inside-conf"),
    pytest.param("conf/../conf/a/x.prototxt", ".._conf_a", id="dotdot-kept"),
    pytest.param("conf_x/../conf/a/x.prototxt", "_x_.._conf_a", id="dotdot-through-a-sibling"),
    pytest.param("conf/./a//x.prototxt", "a", id="dot-and-double-slash"),
    pytest.param("x.prototxt", None, id="project-root"),
    pytest.param("other/conf/a/x.prototxt", None, id="conf-deeper-in-another-folder"),
    pytest.param("co/x.prototxt", None, id="a-prefix-of-conf"),
    pytest.param("/outside/of/it/x.prototxt", None, id="absolute-outside"),
    pytest.param("/outside/conf/x.prototxt", None, id="absolute-outside-named-conf"),
]


@pytest.mark.parametrize("config, tag", PATHS)
def test_folder_tag_is_the_originals(config, tag, tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.chdir(root)  # relative config paths are relative to the working folder, as for the original
    conf = root / "conf"
    got = config_folder_tag(Path(config), conf)
    assert got == original_folder_tag(pathlib.Path(config), conf)
    if tag is not None:
        assert got == tag
    else:
        assert len(got) == 8 and int(got, 16) >= 0
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")  # the same file named from elsewhere: the same tag
    if not config.startswith("/"):
        assert config_folder_tag(Path("..") / config, conf) == original_folder_tag(Path("..") / config, conf)


def test_a_symlinked_folder_in_conf_keeps_its_name(tmp_path, monkeypatch):
    """Neither resolves symlinks: ``conf/link/x`` is tagged ``link`` wherever the link points."""
    root = tmp_path / "proj"
    (root / "conf").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "conf" / "link")
    monkeypatch.chdir(root)
    cfg = Path("conf/link/x.prototxt")
    assert config_folder_tag(cfg, root / "conf") == original_folder_tag(cfg, root / "conf") == "link"


def test_a_path_that_is_not_utf8_is_hashed_by_its_bytes(tmp_path):
    """The original crashed (UnicodeEncodeError) on it; HeyHi hashes the path's bytes."""
    folder = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9")
    got = config_folder_tag(Path(folder) / "x.prototxt", tmp_path / "proj" / "conf")
    assert got == hashlib.md5(os.fsencode(folder)).hexdigest()[:8]
    with pytest.raises(UnicodeEncodeError):
        original_folder_tag(Path(folder) / "x.prototxt", tmp_path / "proj" / "conf")


def test_print_out_dir_of_a_config_in_a_sibling_conf_folder(proj, tmp_path):
    """``<root>/conf_old/x.prototxt`` runs in ``p/_old/x/...``, as the original put it."""
    (proj / "conf_old").mkdir()
    (proj / "conf_old" / "x.prototxt").write_text((proj / "conf" / "probe" / "probe.prototxt").read_text())
    r = run_cli(["run", "-c", "conf_old/x.prototxt", "--print-out-dir"], cwd=proj,
                env={"HH_EXP_DIR": str(tmp_path / "r")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{tmp_path}/r/p/_old/x/default_d7517139"
