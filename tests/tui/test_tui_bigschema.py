"""Big schemas (issue 14, item 7) on the Cicero tree against a real daemon: the preview's "from"
column names the include file and line of each value and fits 80 and 160 columns, the tree pane
widens and narrows by keys (kept for the session) and cuts names with a mark, configs that do not
compose are marked (why: on hover and in the preview); the same preview over --remote through the
test sshd; snapshots at 80x24 and 160x48."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import CORPUS, REPO
from daemon_util import DaemonProcess
from remote_util import Remote, sshd  # noqa: F401  (fixtures)
from tui_util import screen_text, until

from heyhi_tui.screens.configs import ConfigsScreen
from heyhi_tui.widgets.flat import FlatTable

pytestmark = pytest.mark.timeout(120)

CMP = "conf/c01_ag_cmp/cmp.prototxt"
BROKEN = "conf/c01_ag_cmp/broken.prototxt"
# A value of CMP set by an include (common/agents/searchbot.prototxt, line 2), and by CMP itself.
FROM_INCLUDE = ("agent_one.searchbot.max_batch_size", "700", "include", "common/agents/searchbot.prototxt:2")
FROM_FILE = ("power_one", "AUSTRIA", "file", "c01_ag_cmp/cmp.prototxt:4")


@dataclass
class World:
    cicero: Path
    results: Path
    sock: Path

    def app(self):
        from heyhi_tui.app import HeyHiApp

        return HeyHiApp(str(self.cicero), socket_path=str(self.sock), results_root=str(self.results),
                        autostart=False, watch_files=False)


def _cicero(dst: Path) -> Path:
    """A copy of the Cicero tree, plus one config that does not compose (its include is missing)."""
    if not CORPUS.is_dir():
        pytest.skip(f"reference corpus not found at {CORPUS}")
    shutil.copytree(CORPUS / "conf", dst / "conf")
    (dst / BROKEN).write_text('includes { path: "agents/nope"; mount: "agent_one" }\ncompare_agents { seed: 1 }\n')
    return dst


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The Cicero copy and one real daemon (on a short socket path), shared by this module's tests:
    none of them changes the tree."""
    tmp = tmp_path_factory.mktemp("bigschema")
    base = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    w = World(cicero=_cicero(tmp / "cicero"), results=tmp / "results", sock=base / "s" / "d.sock")
    with pytest.MonkeyPatch.context() as mp:  # the daemon's own environment: nothing outside tmp
        mp.setenv("HH_EXP_DIR", str(w.results))
        mp.setenv("XDG_CACHE_HOME", str(REPO / ".pytest_cache" / "xdg"))
        d = DaemonProcess.start(w.sock, hello_timeout=5, stderr_dir=tmp)
    try:
        yield w
    finally:
        d.stop()
        shutil.rmtree(base, ignore_errors=True)


async def _checked(pilot, app) -> ConfigsScreen:
    """The configs screen once conf/ is listed and the daemon said which configs compose."""
    screen = await until(pilot, lambda: isinstance(app.screen, ConfigsScreen) and app.screen, 30, "the configs")
    broken = str(Path(app.project_root) / BROKEN)
    await until(pilot, lambda: broken in screen.checks and screen.tree is not None, 30, "the checks")
    return screen


async def _flat_of(pilot, screen: ConfigsScreen, config: str) -> FlatTable:
    """``config`` selected in the tree, its flat view shown and filled."""
    path = str(Path(screen.app.project_root) / config)
    assert screen.tree.show_file(path)
    await until(pilot, lambda: screen.preview.conf is not None and screen.preview.conf.path == path
                and screen.preview.result is not None and not screen.preview.loading, 30, "the preview")
    await pilot.press("f")
    table = await until(pilot, lambda: screen.query_one(FlatTable), 10, "the flat table")
    await until(pilot, lambda: table.row_count == len(screen.preview.result.flat) > 0, 10, "the flat rows")
    await pilot.pause()
    return table


def _line_of(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")


async def test_configs_on_cicero_at_80x24(world):
    cicero = world.cicero
    app = world.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _checked(pilot, app)
        tree = screen.tree
        broken = str(cicero / BROKEN)

        # A config that does not compose is marked, and says why on hover.
        assert screen.checks[broken].state == "error"
        assert "✗ broken.prototxt" in screen_text(app)
        conf = next(f for f in screen.files if f.path == broken)
        assert "does not compose: c01_ag_cmp/broken.prototxt:1:10: include 'agents/nope' not found" in tree.tip(conf)
        # ... and in the preview.
        assert tree.show_file(broken)
        await until(pilot, lambda: "✗ does not compose" in screen_text(app) and screen.preview.result is not None
                    and screen.preview.conf.path == broken, 15, "the mark in the preview")
        text = screen_text(app)
        assert "c01_ag_cmp/broken.prototxt:1:10: include" in text and "'agents/nope' not found" in text, text
        # Files that are not top-level configs (chunks of the research configs) are not called broken.
        rollouter = str(cicero / "conf/c04_exploit/rollouters/best_agent_20220405_rl_rollouts.prototxt")
        assert screen.checks[rollouter].state == "chunk" and screen.checks[rollouter].detail == "Agent"
        assert all(c.state == "ok" for p, c in screen.checks.items() if p not in (broken,)
                   and "/opponents/" not in p and "/rollouters/" not in p and "/mappings/" not in p)

        # The flat view: each value's include file and line, and the "from" column on screen.
        table = await _flat_of(pilot, screen, CMP)
        rows = screen.query_one("ConfigPreview").flat_rows
        assert FROM_INCLUDE in rows and FROM_FILE in rows
        text = screen_text(app)
        header = _line_of(text, "value")
        assert "key" in header and "from" in header, text
        row = _line_of(text, "stalemate_years")  # the file itself and the line, its folder cut to fit
        assert " 5 " in row and "…/cmp.prototxt:7" in row, text
        row = _line_of(text, "max_batch_size")  # an include: the file (folders cut, then its extension) and line
        assert " 700 " in row and "…/searchbot:2" in row, text
        # The whole place of the highlighted value is in the docs line (the table cuts it at 80 columns).
        assert "c01_ag_cmp/cmp.prototxt:4" not in text
        table.move_cursor(row=[r[0] for r in rows].index(FROM_FILE[0]))
        await until(pilot, lambda: "c01_ag_cmp/cmp.prototxt:4" in screen_text(app), 10,
                    "the whole place of the highlighted value in the docs line")

        # Names too long for the pane are cut with a mark, never silently.
        assert "research_" in screen_text(app) and "…" in _line_of(screen_text(app), "research_")

        # The tree pane: wider with ">", narrower with "<", kept when coming back to the screen.
        side = screen.query_one("#configs-side")
        start = side.outer_size.width
        tree.focus()
        await pilot.press("greater_than_sign")
        await until(pilot, lambda: side.outer_size.width == start + 4, 5, "a wider tree")
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign")
        await until(pilot, lambda: side.outer_size.width == start - 8, 5, "a narrower tree")
        await pilot.press("2")
        await until(pilot, lambda: getattr(app.screen, "id", "") == "jobs", 10, "the jobs")
        await pilot.press("1")
        await until(pilot, lambda: app.screen is screen, 10, "the configs again")
        await pilot.pause()
        assert side.outer_size.width == start - 8
        assert "< > Tree width" in _line_of(screen_text(app), "Filter")  # the keys are in the footer


@pytest.fixture
def remote(sshd, tmp_path, monkeypatch):  # noqa: F811
    r = Remote(sshd, tmp_path)
    for k, v in r.env.items():
        monkeypatch.setenv(k, v)
    yield r
    r.stop()


async def test_cicero_preview_over_ssh(remote, tmp_path):
    from heyhi.wire.remote import connect_remote
    from heyhi_tui.app import HeyHiApp
    from heyhi_tui.link import RemoteConnector

    cicero = _cicero(tmp_path / "cicero")
    app = HeyHiApp(str(cicero), connect=RemoteConnector(remote.spec, connect_remote), remote=remote.spec,
                   results_root=None, autostart=False, watch_files=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _checked(pilot, app)
        assert screen.checks[str(cicero / BROKEN)].state == "error"
        await _flat_of(pilot, screen, CMP)
        rows = screen.query_one("ConfigPreview").flat_rows
        assert FROM_INCLUDE in rows and FROM_FILE in rows
        assert f"@ {remote.spec}" in app.sub_title


def test_checks_follow_the_files(world, tmp_path):
    """The daemon's answers are cached by the files' stamps: a config fixed on disk (or an include
    that appears) is checked again; a folder that is no project has no configs."""
    from heyhi.wire import protocol as P
    from heyhi.wire.client import Client

    proj = _cicero(tmp_path / "proj")
    broken = str(proj / BROKEN)
    with Client(str(world.sock)) as c:
        def check() -> P.ConfigCheck:
            answer = c.request(P.CheckConfigs(project_root=str(proj)))
            assert answer.total == len(answer.checks) >= 15
            return {x.config: x for x in answer.checks}[broken]

        assert check().state == "error" and check().state == "error"  # the second from the cache
        nope = proj / "conf/common/agents/nope.prototxt"
        nope.write_text((proj / "conf/common/agents/searchbot.prototxt").read_text())
        assert check().state == "ok"  # a new file: every config is checked again
        (proj / BROKEN).write_text("compare_agents { seed: oops }\n")
        assert "seed" in check().detail and check().state == "error"
        assert c.request(P.CheckConfigs(project_root=str(tmp_path / "none"))) == P.ConfigChecks(checks=[], total=0)


SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_configs_on_cicero(snap_compare, world, size):
    """The flat view of CMP; at 160 columns the "from" column whole, at 80 cut with its marks."""
    app = world.app()

    async def ready(pilot):
        screen = await _checked(pilot, app)
        await _flat_of(pilot, screen, CMP)
        await pilot.wait_for_scheduled_animations()
        if size == (160, 48):
            text = screen_text(app)
            assert "common/agents/searchbot.prototxt:2" in _line_of(text, FROM_INCLUDE[0]), text
            assert "c01_ag_cmp/cmp.prototxt:4" in _line_of(text, "power_one"), text

    assert snap_compare(app, terminal_size=size, run_before=ready)


def test_cuts_keep_a_mark():
    """What the flat table cuts, and how it shares the width out (units, no app)."""
    from heyhi_tui.widgets.flat import cut_key, cut_middle, cut_where, fit_widths

    assert cut_middle("research_20221001_paper_cicero.prototxt", 20) == "research…ro.prototxt"
    assert cut_where("common/agents/searchbot.prototxt:2", 40) == "common/agents/searchbot.prototxt:2"
    assert cut_where("common/agents/searchbot.prototxt:2", 30) == "…/agents/searchbot.prototxt:2"
    assert cut_where("common/agents/searchbot.prototxt:2", 20) == "…/agents/searchbot:2"
    assert cut_where("common/agents/searchbot.prototxt:2", 12) == "…searchbot:2"
    assert cut_where("common/agents/searchbot.prototxt:2", 8) == "com…ot:2"
    assert cut_where("cmp.prototxt:7", 12) == "cmp.p…otxt:7"
    assert cut_key("agent_one.searchbot.max_batch_size", 20) == "…max_batch_size"
    assert cut_key("agent_one.searchbot.max_batch_size", 10) == "…atch_size"
    # each column gets what most of its cells need, then what is left up to its widest cell ...
    assert fit_widths([68, 40, 44], [14, 6, 12], 108, [51, 7, 35]) == [51, 22, 35]
    assert fit_widths([25, 500, 26], [14, 6, 12], 140, [25, 20, 26]) == [25, 89, 26]
    # ... or, when that does not fit, the widest give way first, none below its minimum
    assert fit_widths([68, 40, 44], [14, 6, 12], 42, [51, 7, 35]) == [18, 7, 17]
    assert fit_widths([25, 29, 26], [14, 6, 12], 20, [20, 10, 20]) == [14, 6, 12]  # then it scrolls
