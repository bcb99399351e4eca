""""Did you mean" for unknown override keys comes from a key index built once per schema: the same
suggestions as a full edit-distance ranking, bounded for recursive and deep schemas, capped work."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import heyhi
from heyhi.config.compose import composer_for
from heyhi.config.keyindex import MAX_DEPTH, key_index, key_index_under
from heyhi.errors import ConfigError
from heyhi.config.overrides import all_keys
from heyhi.config.suggest import closest

from conftest import run_cli

HEAD = 'syntax = "proto2";\npackage sg;\n\nmessage Include { optional string path = 1; optional string mount = 2; }\n'
META = "message MetaCfg {\n  repeated Include includes = 1;\n  oneof task { %s t = 2; }\n}\n"

# A wide, repetitive schema (like Cicero's agents): 3 agents of one type, each with nested configs.
WIDE = HEAD + """
message Plausible { optional uint32 n_plausible_orders = 1; optional float min_prob = 2; optional bool batch = 3; }
message Search {
  optional Plausible plausible_orders_cfg = 1; optional int32 n_rollouts = 2; optional float temperature = 3;
  optional string model_path = 4; optional Plausible fallback_cfg = 5;
}
message Agent { optional Search searchbot = 1; optional Search br_search = 2; optional string name = 3; }
message Task { optional Agent agent_one = 1; optional Agent agent_six = 2; optional Agent cf_agent = 3;
  optional int32 seed = 4; optional string out = 5; }
""" + META % "Task"

# Recursive (Node -> Node, Node -> Wrap -> Node) and a chain of distinct types deeper than MAX_DEPTH.
CHAIN = 14
DEEP = HEAD + """
message Wrap { optional Node node = 1; optional int32 weight = 2; }
message Node { optional Node child = 1; optional string label = 2; optional Wrap wrap = 3; }
""" + "".join(
    f"message L{i} {{ optional {'L%d' % (i + 1) if i + 1 < CHAIN else 'Node'} down = 1; optional int32 x{i} = 2; }}\n"
    for i in range(CHAIN)
) + "message Task { optional Node tree = 1; optional L0 chain = 2; }\n" + META % "Task"


def project(tmp_path: Path, proto: str, body: str = "seed: 1") -> Path:
    """A project with ``proto`` as its schema and one config ``conf/t/cfg.prototxt``."""
    conf = tmp_path / "conf"
    (conf / "t").mkdir(parents=True)
    (conf / "conf.proto").write_text(proto)
    cfg = conf / "t" / "cfg.prototxt"
    cfg.write_text(f"t {{\n  {body}\n}}\n")
    return cfg


def error_of(cfg: Path, override: str) -> str:
    with pytest.raises(ConfigError) as e:
        heyhi.load_config(cfg, [override])
    return str(e.value)


@pytest.fixture
def wide(tmp_path) -> Path:
    return project(tmp_path, WIDE)


@pytest.mark.parametrize("override, words", [
    pytest.param("agent_one.searchbot.plausible_orders_cfg.n_plausibel_orders=1",
                 "unknown key 'agent_one.searchbot.plausible_orders_cfg.n_plausibel_orders'; did you mean: "
                 "agent_one.searchbot.plausible_orders_cfg.n_plausible_orders, "
                 "agent_six.searchbot.plausible_orders_cfg.n_plausible_orders, "
                 "agent_one.br_search.plausible_orders_cfg.n_plausible_orders, "
                 "cf_agent.searchbot.plausible_orders_cfg.n_plausible_orders, "
                 "agent_six.br_search.plausible_orders_cfg.n_plausible_orders", id="typo-in-last-segment"),
    pytest.param("seeed=3", "unknown key 'seeed'; did you mean: seed, out, ", id="top-level"),
    pytest.param("t.seed=3", "unknown key 't.seed'; did you mean: seed, ", id="task-name-given"),
    pytest.param("agent_one.serchbot.n_rollouts=3",
                 "unknown key 'agent_one.serchbot.n_rollouts'; did you mean: agent_one.searchbot.n_rollouts, ",
                 id="typo-in-middle-segment"),
])
def test_unknown_key_suggestions_in_heyhis_words(wide, override, words):
    msg = error_of(wide, override)
    assert msg.startswith(f"override '{override}': ")
    assert words in msg


def test_suggestions_are_the_full_ranking(wide):
    """On keys of the schema, one-character typos get exactly what a full edit-distance ranking
    over every key gives (the behaviour before the index), ties included."""
    root = composer_for(wide.parents[2]).schema.root
    keys = [k[2:] for k in all_keys(root) if k.startswith("t.")]
    idx, within = key_index_under(root, "t.")
    assert idx.under(within) == keys
    rng = random.Random(11)
    names = ["", "x", "zzzzzzzzzzzzzzzzzzzz", "t.agent_one.name", "agent_one.searchbot.plausible_orders_cfg.x"]
    for k in rng.sample(keys, 20):
        i = rng.randrange(len(k))
        names.append(k[:i] + rng.choice("aez._") + k[i + 1:])
        names.append(k[:i] + k[i + 1:])
    for name in names:
        assert idx.closest(name, 5, within) == closest(name, keys, 5), name


def test_index_is_built_once_per_schema_and_reused(wide):
    error_of(wide, "agent_one.searchbot.temprature=1")
    root = composer_for(wide.parents[2]).schema.root
    task = root.fields["t"].message
    first, _ = key_index_under(root, "t.")
    assert key_index(task, 1, (root.full_name,)) is first
    assert len(task.__dict__["_key_index"]) == 1
    msg = error_of(wide, "cf_agent.br_search.modle_path=x")
    assert "did you mean: cf_agent.br_search.model_path" in msg
    assert key_index_under(root, "t.")[0] is first  # the second error reused it
    assert len(task.__dict__["_key_index"]) == 1
    assert "_key_index" not in task.__getstate__()  # a runtime cache: never pickled with the schema


def test_recursive_schema_index_is_bounded_by_depth(tmp_path):
    cfg = project(tmp_path, DEEP, body="tree { label: \"a\" }")
    root = composer_for(tmp_path).schema.root
    idx, within = key_index_under(root, "t.")
    keys = idx.under(within)
    assert keys == [k[2:] for k in all_keys(root) if k.startswith("t.")]
    # Recursion is listed once, not entered again; the chain of distinct types stops at MAX_DEPTH.
    assert "tree.child" in keys and "tree.wrap.node" in keys and "tree.child.label" not in keys
    assert max(k.count(".") for k in keys) == MAX_DEPTH - 1  # the task itself is level 1
    assert "chain" + ".down" * (MAX_DEPTH - 1) in keys and "chain" + ".down" * MAX_DEPTH not in keys
    assert len(keys) < 50
    assert "did you mean: tree.wrap.weight" in error_of(cfg, "tree.wrap.wieght=2")
    assert "did you mean: chain.down.down.x2" in error_of(cfg, "chain.down.down.x3=2")


def test_far_name_work_is_capped(wide):
    """A name far from every key stops at the budget and offers only the sure head of the ranking."""
    root = composer_for(wide.parents[2]).schema.root
    idx, within = key_index_under(root, "t.")
    keys = idx.under(within)
    far = "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
    assert idx.closest(far, 5, within) == closest(far, keys, 5)
    unbounded = idx.visited
    got = idx.closest(far, 5, within, budget=unbounded // 10)
    assert idx.visited < unbounded // 2
    assert got == closest(far, keys, 5)[: len(got)]


def test_cicero_typo_through_the_cli(corpus, tmp_path):
    r = run_cli(["run", "-c", "conf/c01_ag_cmp/cmp.prototxt", "--print",
                 "agent_one.searchbot.plausible_orders_cfg.n_plausibel_orders=1"],
                cwd=corpus, env={"HH_EXP_DIR": str(tmp_path)})
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert ("unknown key 'agent_one.searchbot.plausible_orders_cfg.n_plausibel_orders'; did you mean: "
            "agent_one.searchbot.plausible_orders_cfg.n_plausible_orders, "
            "agent_six.searchbot.plausible_orders_cfg.n_plausible_orders, ") in r.stderr
