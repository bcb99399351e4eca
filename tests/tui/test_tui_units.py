"""The TUI's pure parts, table-driven: completion, the --print view, formatting, the keymap file;
and the import rule (the TUI reaches the daemon only through the client)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from heyhi.wire.protocol import FieldDoc, FieldList, JobInfo
from heyhi_tui.completion import Schema, complete, describe, suggestion
from heyhi_tui.format import duration, runtime, short_path
from heyhi_tui.printview import print_text

FIELDS = FieldList(
    task="train",
    fields=[
        FieldDoc("launcher", "Launcher", is_message=True),
        FieldDoc("launcher.local", "Local", oneof="launcher", is_message=True),
        FieldDoc("launcher.local.use_local", "bool"),
        FieldDoc("launcher.slurm", "Slurm", oneof="launcher", is_message=True),
        FieldDoc("launcher.slurm.num_gpus", "int32", default="0", doc="GPUs."),
        FieldDoc("data", "DataCfg", is_message=True),
        FieldDoc("data.n_samples", "int32", default="2000"),
        FieldDoc("data.noise", "float", default="0.05", doc="Label noise."),
        FieldDoc("lr", "float", default="0.5", doc="Learning rate."),
        FieldDoc("optimizer", "Optimizer", default="SGD", enum_values=["SGD", "MOMENTUM"]),
        FieldDoc("lr_schedule", "repeated LrStep"),
        FieldDoc("tags", "repeated string"),
        FieldDoc("notes", "map<string, string>", doc="Free-form notes."),
        FieldDoc("name", "string"),
    ],
    includes={"launcher": ["local", "slurm_8gpus", "slurm_cpu"], "data": ["small"]},
)


def texts(line: str) -> list[str]:
    return [c.text for c in complete(line, FIELDS)]


@pytest.mark.parametrize("line, first, contains, absent", [
    pytest.param("", "launcher.", ["data.", "lr=", "Ilauncher=", "Idata="], ["data.noise="], id="empty-top-level"),
    pytest.param("l", "lr=", ["launcher.", "lr_schedule="], [], id="shortest-first"),
    pytest.param("launcher.", "launcher.local.", ["launcher.slurm.", "launcher.slurm.num_gpus="], [],
                 id="children-then-deeper"),
    pytest.param("data.n", "data.noise=", ["data.n_samples="], ["lr="], id="dotted-prefix"),
    pytest.param("data.n_", "data.n_samples=", [], ["data.noise="], id="dotted-prefix-narrower"),
    pytest.param("--lr", "--lr=", [], [], id="dashes-kept"),
    pytest.param("I", "Ilauncher=", ["Idata="], [], id="include-mounts"),
    pytest.param("gpus", "launcher.slurm.num_gpus=", [], [], id="substring-fallback"),
    pytest.param("notes", "notes.", [], [], id="map-field"),
    pytest.param("optimizer=", "optimizer=SGD", ["optimizer=MOMENTUM", "optimizer=NULL"], [], id="enum-values"),
    pytest.param("optimizer=m", "optimizer=MOMENTUM", [], ["optimizer=SGD"], id="enum-case-insensitive"),
    pytest.param("launcher.local.use_local=", "launcher.local.use_local=true", ["launcher.local.use_local=false"],
                 [], id="bool-values"),
    pytest.param("launcher.slurm=", "launcher.slurm=SELECT", ["launcher.slurm=NULL"], [], id="oneof-select"),
    pytest.param("Ilauncher=slurm", "Ilauncher=slurm_8gpus", ["Ilauncher=slurm_cpu"], ["Ilauncher=local"],
                 id="include-names"),
    pytest.param("Idata=", "Idata=small", [], [], id="include-names-of-mount"),
    pytest.param("lr=", "lr=NULL", [], [], id="float-only-null"),
    pytest.param("zzz=", None, [], [], id="unknown-key-no-values"),
])
def test_complete(line, first, contains, absent):
    got = texts(line)
    assert (got[0] if got else None) == first, got
    for c in contains:
        assert c in got, (c, got)
    for a in absent:
        assert a not in got, (a, got)


@pytest.mark.parametrize("line, expected", [
    pytest.param("l", "lr=", id="key"),
    pytest.param("optimizer=M", "optimizer=MOMENTUM", id="enum"),
    pytest.param("lr=", None, id="no-ghost-for-NULL"),
    pytest.param("", None, id="nothing-typed"),
])
def test_suggestion(line, expected):
    assert suggestion(line, complete(line, FIELDS)) == expected


@pytest.mark.parametrize("line, expected", [
    pytest.param("lr=0.1", "lr: float = 0.5 - Learning rate.", id="leaf"),
    pytest.param("notes.a=b", "notes.a: map<string, string> - Free-form notes.", id="map-entry"),
    pytest.param("lr_schedule.0.step=3", "", id="unknown-nested"),
    pytest.param("Ilauncher=x", "Ilauncher: include one of local, slurm_8gpus, slurm_cpu", id="include"),
    pytest.param("Inope=x", "Inope: no includes fit mount 'nope'", id="include-unknown"),
    pytest.param("launcher.slurm.", "launcher.slurm: Slurm [oneof launcher]", id="message-with-dot"),
])
def test_describe(line, expected):
    assert describe(line, FIELDS) == expected


def test_schema_lookup_list_index_and_map():
    s = Schema(FIELDS)
    assert s.lookup("notes.some.key")[0].key == "notes"
    assert s.lookup("lr")[0].key == "lr"
    assert s.lookup("nope")[0] is None


DEMO_FLAT = [
    ("batch_size", "64", "file"), ("data.n_samples", "2000", "include"), ("data.noise", "0.05", "include"),
    ("launcher.local.use_local", "True", "include"), ("lr", "0.1", "override lr=0.1"),
    ("lr_schedule", "[{'step': 200, 'factor': 0.2}]", "file"), ("name", "'a b'", "file"),
    ("notes.a", "b", "override notes.a=b"), ("optimizer", "MOMENTUM", "file"), ("tags", "['demo', 'x']", "file"),
]


@pytest.mark.parametrize("fields, expected", [
    pytest.param(FIELDS, """\
launcher {
  local {
    use_local: true
  }
}
data {
  n_samples: 2000
  noise: 0.05
}
lr: 0.1
optimizer: MOMENTUM
lr_schedule {
  step: 200
  factor: 0.2
}
tags: "demo"
tags: "x"
notes {
  key: "a"
  value: "b"
}
name: "a b"
batch_size: 64
""", id="with-schema-order-and-types"),
    pytest.param(None, """\
batch_size: 64
data {
  n_samples: 2000
  noise: 0.05
}
launcher {
  local {
    use_local: true
  }
}
lr: 0.1
lr_schedule {
  step: 200
  factor: 0.2
}
name: a b
notes {
  a: b
}
optimizer: MOMENTUM
tags: "demo"
tags: "x"
""", id="without-schema"),
])
def test_print_text(fields, expected):
    assert print_text(DEMO_FLAT, fields) == expected


@pytest.mark.parametrize("seconds, text", [
    pytest.param(None, "", id="none"), pytest.param(0.4, "0s", id="zero"), pytest.param(59, "59s", id="secs"),
    pytest.param(61, "1m01s", id="mins"), pytest.param(3 * 3600 + 240, "3h04m", id="hours"),
    pytest.param(50 * 3600, "2d02h", id="days"),
])
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_runtime_live_and_final():
    running = JobInfo(job_id="a", run_dir="/r", config="c", state="running", started=100.0)
    done = JobInfo(job_id="a", run_dir="/r", config="c", state="completed", started=100.0, ended=112.0)
    queued = JobInfo(job_id="a", run_dir="/r", config="c", state="queued")
    assert runtime(running, 130.0) == "30s"
    assert runtime(done, 999.0) == "12s"
    assert runtime(queued, 999.0) == ""


@pytest.mark.parametrize("path, expected", [
    pytest.param("/x/res/p/c/sl/lr@1_ab", "$HH_EXP_DIR/p/c/sl/lr@1_ab", id="results-root"),
    pytest.param("/x/res", "$HH_EXP_DIR", id="the-root-itself"),
    pytest.param("/x/resother/a", "/x/resother/a", id="prefix-is-not-a-parent"),
    pytest.param("/p/proj/conf/a.prototxt", "proj/conf/a.prototxt", id="project"),
])
def test_short_path(path, expected):
    assert short_path(path, {"/x/res": "$HH_EXP_DIR", "/p/proj": "proj"}) == expected


@pytest.mark.parametrize("needle, hay, hit", [
    pytest.param("sup_train", "c02_sup_train/sl.prototxt", True, id="substring"),
    pytest.param("c02sl", "c02_sup_train/sl.prototxt", True, id="letters-in-order"),
    pytest.param("slc02", "c02_sup_train/sl.prototxt", False, id="letters-out-of-order"),
    pytest.param("", "anything", True, id="empty"),
])
def test_tree_filter(needle, hay, hit):
    from heyhi_tui.widgets.configs import _fuzzy

    assert _fuzzy(needle, hay) is hit


def test_configs_first_then_sweeps_then_chunks():
    from heyhi_tui.widgets.configs import ConfFile, sort_files

    rels = ["common/data/small.prototxt", "sweeps/lr.yaml", "c03_eval/eval.prototxt", "top.prototxt",
            "c02_sup_train/sl.prototxt", "common/launcher/local.prototxt"]
    got = [f.rel for f in sort_files([ConfFile(path="/p/conf/" + r, rel=r) for r in rels])]
    assert got == ["top.prototxt", "c02_sup_train/sl.prototxt", "c03_eval/eval.prototxt", "sweeps/lr.yaml",
                   "common/data/small.prototxt", "common/launcher/local.prototxt"]


@pytest.mark.parametrize("path, width, expected", [
    pytest.param("$HH_EXP_DIR/p/c02/sl/lr@0.1_ab12", 80, "$HH_EXP_DIR/p/c02/sl/lr@0.1_ab12", id="fits"),
    pytest.param("$HH_EXP_DIR/p/c02/sl/lr@0.1_ab12", 28, "$HH_EXP_DIR/…/sl/lr@0.1_ab12", id="middle-elided"),
    pytest.param("$HH_EXP_DIR/p/c02/sl/lr@0.1_ab12", 10, "…@0.1_ab12", id="tail-only"),
])
def test_fit_path(path, width, expected):
    from heyhi_tui.format import fit_path

    assert fit_path(path, width) == expected


def test_keymap_file(tmp_path):
    from heyhi_tui.main import load_keymap

    p = tmp_path / "k.toml"
    p.write_text('"jobs.logs" = "o"\n[keymap]\n"app.jobs" = "ctrl+j"\n')
    assert load_keymap(str(p)) == {"app.jobs": "ctrl+j"}
    p.write_text('"jobs.logs" = "o"\n')
    assert load_keymap(str(p)) == {"jobs.logs": "o"}
    assert load_keymap(str(tmp_path / "missing.toml")) == {}


def test_tui_never_imports_the_daemon():
    code = ("import heyhi_tui.app, heyhi_tui.main, heyhi_tui.commands, sys; "
            "print([m for m in sys.modules if m.startswith('heyhi_daemon')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_remote_without_remote_support_is_a_clear_error(monkeypatch):
    from heyhi_tui.main import build_app

    monkeypatch.setitem(sys.modules, "heyhi.wire.remote", None)  # as if heyhi had no remote module

    with pytest.raises(SystemExit) as e:
        build_app(["--remote", "gpu1", "--project", "/home/me/proj"])
    assert "heyhi.wire.remote.connect_remote is missing" in str(e.value)
    assert "--remote gpu1" in str(e.value)
