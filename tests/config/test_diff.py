"""heyhi.config.diff: the flat changes and the text diff of two composed configs (the one
implementation behind the daemon's DiffRuns, the TUI's diff screen and ``heyhi diff``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO

from heyhi.config import Change, Composer, Project, diff_configs, flat_changes, unified
from heyhi.config.printer import to_text

DEMO = REPO / "conf" / "c02_sup_train" / "sl.prototxt"


@pytest.fixture(scope="module")
def compose():
    comp = Composer(Project(str(REPO)))
    return lambda *overrides: comp.compose(Path(DEMO), list(overrides)).meta


@pytest.mark.parametrize("a, b, changes", [
    pytest.param([], [], [], id="same"),
    pytest.param([], ["lr=0.1"], [Change("train.lr", "0.5", "0.1")], id="changed"),
    # weight_decay's default is 0: written out or left unset, the effective value is the same.
    pytest.param(["weight_decay=0.0"], [], [], id="unset-equals-its-default"),
    pytest.param([], ["optimizer=MOMENTUM", "seed=3"],
                 [Change("train.optimizer", "SGD", "MOMENTUM"), Change("train.seed", "0", "3")], id="sorted-by-key"),
    pytest.param([], ["tags=[a,b]"], [Change("train.tags", "[demo]", "[a, b]")], id="list"),
    pytest.param([], ["Ilauncher=slurm_cpu"], None, id="include-switches-a-oneof"),
])
def test_flat_changes(compose, a, b, changes):
    got = flat_changes(compose(*a), compose(*b))
    if changes is not None:
        assert got == changes
        return
    kinds = {c.key: c.kind for c in got}
    assert kinds["train.launcher.local.use_local"] == "removed"
    assert kinds["train.launcher.slurm.minutes"] == "added"
    assert all(c.a is None for c in got if c.kind == "added") and all(c.b is None for c in got if c.kind == "removed")


def test_text_diff_is_unified_over_the_printed_configs(compose):
    a, b = compose(), compose("lr=0.1", "num_steps=7")
    d = diff_configs(a, b, "run/a", "run/b")
    lines = d.text.splitlines()
    assert lines[:2] == ["--- run/a", "+++ run/b"]
    assert "-  lr: 0.5" in lines and "+  lr: 0.1" in lines
    assert "-  num_steps: 300" in lines and "+  num_steps: 7" in lines
    assert not d.same and [c.key for c in d.changes] == ["train.lr", "train.num_steps"]
    same = diff_configs(a, compose())
    assert same.same and same.text == "" and same.changes == []
    # unified is plain difflib over the texts: what the printed configs hold, line by line.
    assert unified(to_text(a), to_text(b), "run/a", "run/b") == d.text


def test_a_text_without_final_newline_still_ends_each_line():
    text = unified("x: 1", "x: 2")
    assert text.endswith("+x: 2\n") and "\\ No newline" not in text


def test_composed_configs_compare_task_relative_keys_when_the_task_is_the_same(compose):
    from heyhi.config import diff_composed

    comp = Composer(Project(str(REPO)))
    a = comp.compose(Path(DEMO), [])
    b = comp.compose(Path(DEMO), ["lr=0.1"])
    d = diff_composed(a, b, "a", "b")
    assert d.changes == [Change("lr", "0.5", "0.1")]  # as overrides spell it
    assert "+  lr: 0.1" in d.text.splitlines()  # the text diff is of the whole config


def test_composed_configs_of_two_tasks_compare_top_level_keys():
    from heyhi.config import diff_composed

    proj = REPO / "tests" / "project"
    comp = Composer(Project(str(proj)))
    d = diff_composed(comp.compose(proj / "conf/probe/probe.prototxt"),
                      comp.compose(proj / "conf/probe/other.prototxt"))
    kinds = {c.key: c.kind for c in d.changes}
    assert kinds["probe.tag"] == "removed" and kinds["other.x"] == "added"
