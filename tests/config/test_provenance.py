"""Where each composed value came from (``heyhi.config.origins``): the file and line that set it,
the include (relative to conf/), the include override, the override; on a small project written
here (one row per rule) and on every config of the Cicero tree (each cited line sets the key)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from heyhi.config import Composer, Project, describe_origins, flat_items, value_origins
from heyhi.config.origins import Origin

PROTO = """\
syntax = "proto2";
package prov;

message Include { optional string path = 1; optional string mount = 2; }
message Opt { optional float lr = 1; optional int32 warmup = 2; optional string name = 3; }
message Data {
  optional int32 n = 1; optional float noise = 2; repeated string files = 3; repeated Include includes = 4;
}
message Step { optional int32 at = 1; optional float factor = 2; }
message Local { optional bool use_local = 1; optional int32 cpus = 2; }
message Slurm { optional int32 gpus = 1; optional int32 minutes = 2; }
message Launcher { oneof launcher { Local local = 1; Slurm slurm = 2; } }
message Train {
  optional Opt opt = 1;
  optional Data data = 2;
  optional int32 seed = 3;
  repeated string tags = 4;
  repeated Step steps = 5;
  map<string, string> notes = 6;
  map<string, Opt> opts = 7;
  optional Launcher launcher = 8;
}
message MetaCfg {
  repeated Include includes = 1;
  oneof task { Train train = 2; }
}
"""

FILES = {
    "conf/conf.proto": PROTO,
    # the top-level config: two includes (one with an include of its own), its own values
    "conf/exp/main.prototxt": """\
includes { path: "opt/adam"; mount: "opt" }
includes { path: "data/big"; mount: "data" }
train {
  seed: 7
  opt { warmup: 100 }
  tags: "mine"
  notes { key: "who" value: "me" }
  data { files: "c.bin" }
}
""",
    "conf/common/opt/adam.prototxt": """\
lr: 0.001
warmup: 10
name: "adam"
""",
    "conf/common/data/big.prototxt": """\
includes { path: "data/base"; mount: "" }
n: 1000
files: "b.bin"
""",
    "conf/common/data/base.prototxt": """\
n: 10
noise: 0.5
files: "a.bin"
""",
    "conf/common/launcher/slurm.prototxt": """\
slurm {
  gpus: 8
  minutes: 60
}
""",
    # YAML, with a mapping-style map and a repeated message
    "conf/exp/other.yaml": """\
train:
  seed: 3
  opts:
    fast:
      lr: 0.5
  steps:
    - at: 10
    - at: 20
  tags: [a, b]
""",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prov")
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def origins(project: Path, config: str, overrides=()) -> dict[str, tuple[str, str]]:
    comp = Composer(Project(project))
    composed = comp.compose(project / config, list(overrides))
    keys = [k for k, _ in flat_items(composed.task_msg)]
    found = value_origins(comp, composed, keys)
    assert set(found) == set(keys), "every set value has a writer"
    return {k: describe_origins(v) for k, v in found.items()}


@pytest.mark.parametrize("config, overrides, key, source, where", [
    pytest.param("conf/exp/main.prototxt", [], "seed", "file", "exp/main.prototxt:4", id="the-file-itself"),
    pytest.param("conf/exp/main.prototxt", [], "opt.lr", "include", "common/opt/adam.prototxt:1",
                 id="an-include-at-its-mount"),
    pytest.param("conf/exp/main.prototxt", [], "opt.warmup", "file", "exp/main.prototxt:5",
                 id="the-file-wins-over-its-include"),
    pytest.param("conf/exp/main.prototxt", [], "data.noise", "include", "common/data/base.prototxt:2",
                 id="an-include-of-an-include"),
    pytest.param("conf/exp/main.prototxt", [], "data.n", "include", "common/data/big.prototxt:2",
                 id="an-include-wins-over-its-own-include"),
    pytest.param("conf/exp/main.prototxt", [], "data.files", "file",
                 "common/data/base.prototxt:3 + common/data/big.prototxt:3 + exp/main.prototxt:8",
                 id="a-repeated-field-names-every-file-that-added"),
    pytest.param("conf/exp/main.prototxt", [], "notes.who", "file", "exp/main.prototxt:7", id="a-map-entry"),
    pytest.param("conf/exp/main.prototxt", ["seed=9"], "seed", "override seed=9", "seed=9", id="an-override"),
    pytest.param("conf/exp/main.prototxt", ["--opt.lr=0.1"], "opt.lr", "override opt.lr=0.1", "opt.lr=0.1",
                 id="an-override-without-its-dashes"),
    pytest.param("conf/exp/main.prototxt", ["tags.-1=x"], "tags", "override tags.-1=x",
                 "exp/main.prototxt:6 + tags.-1=x", id="an-appended-list-element"),
    pytest.param("conf/exp/main.prototxt", ["tags=[p,q]"], "tags", "override tags=[p,q]", "tags=[p,q]",
                 id="a-whole-list-replaced"),
    pytest.param("conf/exp/main.prototxt", ["Iopt=adam", "opt.name=x"], "opt.warmup",
                 "include override Iopt=adam", "common/opt/adam.prototxt:2",
                 id="an-include-override-wins-over-the-file"),
    pytest.param("conf/exp/main.prototxt", ["Ilauncher=slurm"], "launcher.slurm.gpus",
                 "include override Ilauncher=slurm", "common/launcher/slurm.prototxt:2",
                 id="an-include-override-at-a-new-mount"),
    pytest.param("conf/exp/main.prototxt", ["Iopt=adam", "opt.name=x"], "opt.name", "override opt.name=x",
                 "opt.name=x", id="an-override-wins-over-an-include-override"),
    pytest.param("conf/exp/main.prototxt", ["launcher.local.cpus=4"], "launcher.local.cpus",
                 "override launcher.local.cpus=4", "launcher.local.cpus=4", id="an-override-selecting-a-oneof"),
    pytest.param("conf/exp/other.yaml", [], "opts.fast.lr", "file", "exp/other.yaml:5",
                 id="yaml-a-mapping-style-map-of-messages"),
    pytest.param("conf/exp/other.yaml", [], "steps", "file", "exp/other.yaml:6", id="yaml-a-repeated-message"),
    pytest.param("conf/exp/other.yaml", ["steps.0.factor=2"], "steps", "override steps.0.factor=2",
                 "exp/other.yaml:6 + steps.0.factor=2", id="an-override-inside-a-list-element"),
])
def test_origin(project, config, overrides, key, source, where):
    assert origins(project, config, overrides)[key] == (source, where)


def test_origin_texts():
    assert str(Origin("include", "common/a.prototxt:3")) == "common/a.prototxt:3"
    assert str(Origin("override", "", "lr=1")) == "override lr=1"
    assert str(Origin("include override", "common/l.prototxt:2", "Il=x")) == "Il=x @ common/l.prototxt:2"
    many = tuple(Origin("include", f"common/f{i}.prototxt:1") for i in range(6))
    assert describe_origins(many)[1].startswith("2 more + common/f2.prototxt:1")


def test_replay_leaves_composition_alone(project):
    """Asking for the origins changes nothing composition produced (the message, the overrides)."""
    comp = Composer(Project(project))
    composed = comp.compose(project / "conf/exp/main.prototxt", ["Iopt=adam", "tags.-1=x"])
    before = flat_items(composed.task_msg)
    value_origins(comp, composed)
    assert flat_items(composed.task_msg) == before
    assert flat_items(comp.compose(project / "conf/exp/main.prototxt", ["Iopt=adam", "tags.-1=x"]).task_msg) == before


def test_cicero_every_value_points_at_the_line_that_sets_it(corpus, tmp_path):
    """On every top-level config of the Cicero tree: every set value has a writer, and the line a
    file writer names holds the key's last part (the field, or the map entry's key)."""
    root = tmp_path / "cicero"
    shutil.copytree(corpus / "conf", root / "conf")
    comp = Composer(Project(root))
    checked = 0
    includes_seen = set()
    for cfg in sorted((root / "conf").rglob("*.prototxt")):
        rel = cfg.relative_to(root / "conf")
        try:
            composed = comp.compose(cfg)
        except Exception:  # noqa: BLE001 - chunks of other types: not top-level configs
            continue
        keys = [k for k, _ in flat_items(composed.task_msg)]
        found = value_origins(comp, composed, keys)
        assert set(found) == set(keys), rel
        for key, writers in found.items():
            last = writers[-1]
            assert last.kind in ("file", "include"), (rel, key, last)
            path, line = last.where.rsplit(":", 1)
            text = (root / "conf" / path).read_text().splitlines()[int(line) - 1]
            leaf = key.rsplit(".", 1)[-1]
            assert leaf in text, f"{rel}: {key} <- {last.where}: {text!r}"
            if last.kind == "include":
                includes_seen.add(path)
            else:
                assert path == str(rel)
        checked += 1
    assert checked >= 10 and len(includes_seen) >= 10
