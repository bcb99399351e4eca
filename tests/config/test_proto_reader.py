"""Tests of heyhi.config.schema.proto_reader: .proto files -> compiled Schema, without protoc."""

from __future__ import annotations

import math
import pickle
import textwrap
import time
from pathlib import Path

import pytest

from heyhi.errors import ConfigError
from heyhi.config.schema.proto_reader import read_project_schema, read_protos

CORPUS_CONF = Path("/work/shared/corpus/heyhi_cicero/conf")


def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    out = {}
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        out[name] = p
    return out


def _schema(tmp_path: Path, text: str, root: str = "MetaCfg"):
    paths = _write(tmp_path, {"a.proto": text})
    return read_protos([paths["a.proto"]], root=root)


def _error(tmp_path: Path, text: str, **files: str) -> ConfigError:
    paths = _write(tmp_path, {"a.proto": text, **{k.replace("__", "/") + ".proto": v for k, v in files.items()}})
    with pytest.raises(ConfigError) as ei:
        read_protos([paths["a.proto"]], import_roots=[tmp_path])
    return ei.value


# ---------------------------------------------------------------------------------------------
# The real corpus
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS_CONF.is_dir(), reason="corpus not available")
def test_corpus_project_schema():
    t0 = time.perf_counter()
    s = read_project_schema(CORPUS_CONF)
    elapsed = time.perf_counter() - t0

    meta = s.root
    assert meta.full_name == "fairdiplomacy.MetaCfg"
    assert "compare_agents" in meta.oneofs["task"]
    assert meta.fields["compare_agents"].oneof == "task"
    assert meta.fields["compare_agents"].type_name == "fairdiplomacy.CompareAgentsTask"
    assert meta.fields["compare_agents"].message is s.messages["fairdiplomacy.CompareAgentsTask"]
    assert meta.has_includes()
    assert list(meta.fields)[:2] == ["includes", "compare_agents"]

    slurm = s.messages["fairdiplomacy.Launcher.Slurm"]
    part = slurm.fields["partition"]
    assert (part.kind, part.has_default, part.default) == ("string", True, "learnaccel")
    assert slurm.fields["hours"].has_default is False
    assert slurm.fields["single_task_per_node"].default is False
    assert slurm.fields["mem_per_gpu"].doc == "Memory per GPU in GB."
    assert slurm.fields["single_task_per_node"].doc == (
        "By default starting one task per GPU. But if this flag is set, then\nwill use one task per machine."
    )
    assert s.messages["fairdiplomacy.Launcher"].oneofs == {"launcher": ["local", "slurm"]}

    # Enum default stored as its number; nested enum resolved to its full name.
    tt = s.messages["fairdiplomacy.TestTask"]
    ev = tt.fields["enum_value"]
    assert (ev.kind, ev.type_name, ev.default) == ("enum", "fairdiplomacy.TestTask.SomeEnum", 0)
    strat = s.messages["fairdiplomacy.SearchBotAgent.MessageSearch"].fields["strategy"]
    assert strat.kind == "enum" and strat.default == 1  # BEST
    assert strat.enum.by_number[1] == "BEST"
    # Map field.
    mp = tt.fields["some_map"]
    assert (mp.kind, mp.map_key, mp.map_value_kind, mp.repeated) == ("map", "string", "int32", False)
    assert mp.type_label() == "map<string, int32>"
    # Type from an imported file (conf.proto -> agents.proto -> common.proto).
    inc = tt.fields["complex_sub"].message.fields["includes"]
    assert inc.type_name == "fairdiplomacy.Include" and inc.repeated
    power = s.messages["fairdiplomacy.GameSituation"].fields["pov_power"]
    assert power.enum is s.enums["fairdiplomacy.Power"]
    assert s.enums["fairdiplomacy.Power"].values["TURKEY"] == 6

    # Docs: leading block, trailing comment on a wrapped field, message and enum docs.
    cat = s.messages["fairdiplomacy.CompareAgentsTask"]
    assert cat.fields["num_processes"].doc == "for data collection only!"
    assert cat.fields["num_trials"].doc == "for data collection only!"
    assert cat.fields["agent_six"].doc == "Ignored if use_shared_agent."
    assert cat.doc == "Root config to compare agents."
    assert s.messages["fairdiplomacy.Include"].doc.startswith("Every config is parsed as Cfg")
    assert s.enums["fairdiplomacy.Power"].doc == "The order here is expected to match fairdiplomacy.models.consts.POWERS"
    # A comment separated by a blank line is not a doc.
    assert s.messages["fairdiplomacy.RandomAgent"].doc == ""

    # Negative and float defaults.
    assert cat.fields["seed"].default == -1
    mb = s.messages["fairdiplomacy.SearchBotAgent.MessageSearch"]
    assert mb.fields["max_score_diff_threshold"].default == pytest.approx(0.007)

    assert sorted(Path(f).name for f in s.source_files) == ["agents.proto", "common.proto", "conf.proto", "misc.proto"]
    pickle.loads(pickle.dumps(s))  # the loader caches it

    assert elapsed < 1.0  # usually ~15 ms; generous for slow CI machines


# ---------------------------------------------------------------------------------------------
# Grammar items
# ---------------------------------------------------------------------------------------------


def _check_package(s):
    m = s.messages["a.b.MetaCfg"]
    assert m.name == "MetaCfg" and s.root is m
    assert m.fields["x"].kind == "int32"


def _check_no_package(s):
    assert set(s.messages) == {"MetaCfg", "MetaCfg.Sub"}
    assert s.messages["MetaCfg"].fields["sub"].type_name == "MetaCfg.Sub"


def _check_nested(s):
    c = s.messages["p.A.B.C"]
    assert c.fields["e"].type_name == "p.A.B.C.E"
    assert s.enums["p.A.B.C.E"].values == {"E0": 0, "E1": 1}
    a = s.messages["p.A"]
    assert a.fields["c"].type_name == "p.A.B.C"
    assert a.fields["e"].type_name == "p.A.B.C.E"
    assert list(s.messages) == ["p.A", "p.A.B", "p.A.B.C", "p.MetaCfg"]


def _check_enum(s):
    e = s.enums["p.Color"]
    assert e.values == {"RED": 0, "CRIMSON": 0, "GREEN": 1, "NEG": -2, "HEX": 16}
    assert e.by_number[0] == "RED"
    f = s.messages["p.MetaCfg"].fields["c"]
    assert (f.kind, f.has_default, f.default) == ("enum", True, -2)


def _check_oneof(s):
    m = s.messages["p.MetaCfg"]
    assert m.oneofs == {"task": ["a", "b"], "other": ["c"]}
    assert [f.oneof for f in m.fields.values()] == ["task", "task", None, "other"]
    assert list(m.fields) == ["a", "b", "plain", "c"]
    assert m.fields["b"].type_name == "p.Sub"


def _check_labels(s):
    f = s.messages["p.MetaCfg"].fields
    assert (f["o"].repeated, f["r"].repeated, f["q"].repeated) == (False, False, True)
    assert f["q"].type_label() == "repeated string"


def _check_proto3(s):
    f = s.messages["p.MetaCfg"].fields
    assert f["x"].kind == "int32" and not f["x"].repeated and not f["x"].has_default
    assert f["opt"].kind == "string" and f["opt"].oneof is None
    assert f["subs"].repeated and f["subs"].type_name == "p.Sub"
    assert s.messages["p.MetaCfg"].oneofs == {}
    assert s.enums["p.Mode"].values == {"MODE_UNSPECIFIED": 0, "FAST": 1}


def _check_maps(s):
    f = s.messages["p.MetaCfg"].fields
    a, b, c = f["by_name"], f["by_id"], f["modes"]
    assert (a.kind, a.map_key, a.map_value_kind, a.type_name) == ("map", "string", "float", "")
    assert (b.kind, b.map_key, b.map_value_kind, b.type_name) == ("map", "int64", "message", "p.Sub")
    assert b.message is s.messages["p.Sub"]
    assert (c.map_key, c.map_value_kind, c.type_name) == ("bool", "enum", "p.Mode")
    assert c.enum is s.enums["p.Mode"]
    assert not a.repeated and a.type_label() == "map<string, float>"
    assert b.type_label() == "map<int64, Sub>"


def _check_field_options(s):
    f = s.messages["p.MetaCfg"].fields
    assert (f["a"].has_default, f["a"].default) == (True, 3)
    assert f["b"].has_default is False
    assert f["c"].default == "x"
    assert f["d"].default == 2.5


def _check_ignored(s):
    m = s.messages["p.MetaCfg"]
    assert list(m.fields) == ["a", "b"]
    assert set(s.messages) == {"p.MetaCfg", "p.Req"}


def _check_defaults(s):
    f = s.messages["p.MetaCfg"].fields
    d = {k: v.default for k, v in f.items()}
    assert d["i"] == -7 and d["h"] == 255 and d["o"] == 8 and d["big"] == 2**64 - 1
    assert d["f1"] == 1.0 and d["f2"] == 0.5 and d["f3"] == 1000.0 and d["f4"] == -2.0 and d["f5"] == 5.0
    assert math.isinf(d["pinf"]) and d["pinf"] > 0
    assert math.isinf(d["ninf"]) and d["ninf"] < 0
    assert math.isnan(d["nan"])
    assert d["t"] is True and d["fa"] is False
    assert d["s1"] == 'tab\there "q" \'s\' \\ \u00e9 \u00e9 A nl\n'
    assert d["s2"] == "concatenated string"
    assert d["s3"] == "single"
    assert d["s4"] == ""
    assert d["by"] == b"\x00\xffab"
    assert d["e"] == 2 and f["e"].kind == "enum"
    assert isinstance(d["f1"], float) and isinstance(d["i"], int)
    assert all(v.has_default for v in f.values())


def _check_docs(s):
    m = s.messages["p.MetaCfg"]
    f = m.fields
    assert m.doc == "The root.\nSecond line.\ntrailing of message"
    assert f["a"].doc == "Leading of a."
    assert f["b"].doc == "  Leading of b,\n  indented line.\ntrailing of b"  # one space stripped
    assert f["c"].doc == ""  # detached by a blank line; b's trailing comment is not c's
    assert f["d"].doc == "Block doc\nof d."
    assert f["e"].doc == "javadoc style"
    assert f["g"].doc == "inline block"
    assert f["h"].doc == "trailing block"
    assert f["k"].doc == "in oneof"
    assert f["i"].doc == "trailing of i"
    assert f["j"].doc == "leading of j"
    assert s.enums["p.MetaCfg.E"].doc == "An enum."
    assert s.messages["p.Empty"].doc == ""


def _check_semicolons(s):
    assert set(s.enums) == {"p.MetaCfg.E"}
    assert list(s.messages["p.MetaCfg"].fields) == ["x"]


def _check_keyword_names(s):
    f = s.messages["p.MetaCfg"].fields
    assert list(f) == ["message", "enum", "option", "map", "reserved", "default"]
    assert f["map"].kind == "int32"


def _check_editions(s):
    f = s.messages["p.MetaCfg"].fields
    assert f["x"].kind == "int32" and f["x"].default == 4


GRAMMAR = [
    pytest.param(
        """
        syntax = "proto2";
        package a.b;
        message MetaCfg { optional int32 x = 1; }
        """,
        _check_package,
        id="syntax-and-package",
    ),
    pytest.param(
        """
        message MetaCfg {
          message Sub {}
          optional Sub sub = 1;
        }
        """,
        _check_no_package,
        id="no-package-no-syntax",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message A {
          message B {
            message C {
              enum E { E0 = 0; E1 = 1; }
              optional E e = 1;
            }
          }
          optional B.C c = 1;
          optional B.C.E e = 2;
        }
        message MetaCfg {}
        """,
        _check_nested,
        id="nested-messages-and-enums",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        enum Color {
          option allow_alias = true;
          RED = 0;
          CRIMSON = 0 [deprecated = true];
          GREEN = 1 [(my.opt) = "x", deprecated=false];
          NEG = -2;
          HEX = 0x10;
          reserved 5, 7 to 9;
          reserved "OLD";
        }
        message MetaCfg { optional Color c = 1 [default = NEG]; }
        """,
        _check_enum,
        id="enum-values-alias-options",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message Sub {}
        message MetaCfg {
          oneof task {
            option (my.oneof_opt) = 1;
            int32 a = 1;
            Sub b = 2 [deprecated = true];
          }
          optional int32 plain = 3;
          oneof other { string c = 4; };
        }
        """,
        _check_oneof,
        id="oneof",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message MetaCfg {
          optional int32 o = 1;
          required int32 r = 2;
          repeated string q = 3;
        }
        """,
        _check_labels,
        id="labels",
    ),
    pytest.param(
        """
        syntax = "proto3";
        package p;
        enum Mode { MODE_UNSPECIFIED = 0; FAST = 1; }
        message Sub {}
        message MetaCfg {
          int32 x = 1;
          optional string opt = 2;
          repeated Sub subs = 3;
          Mode mode = 4;
        }
        """,
        _check_proto3,
        id="proto3",
    ),
    pytest.param(
        """
        syntax = "proto3";
        package p;
        enum Mode { MODE_UNSPECIFIED = 0; }
        message Sub {}
        message MetaCfg {
          map<string, float> by_name = 1;
          map<int64, Sub> by_id = 2;
          map < bool , .p.Mode > modes = 3;
        }
        """,
        _check_maps,
        id="maps",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message MetaCfg {
          optional int32 a = 1 [deprecated = true, default = 3, (my.ext).sub = {a: 1 b: "x;"}];
          repeated int32 b = 2 [packed = true, json_name = "bee"];
          optional string c = 3 [ default = "x", (x.y) = -1 ];
          optional double d = 4 [default=2.5,deprecated=true];
        }
        """,
        _check_field_options,
        id="field-options",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        import "google/protobuf/descriptor.proto" ;
        option java_package = "com.example";
        option (my.file_opt) = { name: "x" list: [1, 2] nested { a: true } };
        option optimize_for = SPEED;
        extend google.protobuf.FieldOptions { optional string hint = 50000; }
        service Svc {
          option (svc_opt) = true;
          rpc Get (Req) returns (stream Req) { option deprecated = true; }
          rpc Put (Req) returns (Req);
        }
        message Req {}
        message MetaCfg {
          option (my.msg_opt) = { a: 1 };
          option deprecated = true;
          reserved 2, 15, 9 to 11, 100 to max;
          reserved "foo", "bar";
          extensions 1000 to max;
          extensions 500 to 599 [declaration = {number: 500 full_name: ".x" type: "int32"}];
          extend Req { optional int32 ext = 100; }
          optional int32 a = 1;
          optional int32 b = 3;
        }
        """,
        _check_ignored,
        id="options-reserved-extensions-extend-service",
    ),
    pytest.param(
        r"""
        syntax = "proto2";
        package p;
        enum E { Z = 0; ONE = 1; TWO = 2; }
        message MetaCfg {
          optional int32 i = 1 [default = -7];
          optional uint32 h = 2 [default = 0xFF];
          optional int32 o = 3 [default = 010];
          optional uint64 big = 4 [default = 18446744073709551615];
          optional float f1 = 5 [default = 1];
          optional float f2 = 6 [default = .5];
          optional double f3 = 7 [default = 1e3];
          optional double f4 = 8 [default = -2.];
          optional double f5 = 9 [default = 5.0];
          optional float pinf = 10 [default = inf];
          optional double ninf = 11 [default = -inf];
          optional double nan = 12 [default = nan];
          optional bool t = 13 [default = true];
          optional bool fa = 14 [default = false];
          optional string s1 = 15 [default = "tab\there \"q\" \'s\' \\ \u00e9 \303\251 \x41 nl\n"];
          optional string s2 = 16 [default = "concatenated" " "
                                             'string'];
          optional string s3 = 17 [default = 'single'];
          optional string s4 = 18 [default = ""];
          optional bytes by = 19 [default = "\000\377ab"];
          optional E e = 20 [default = TWO];
        }
        """,
        _check_defaults,
        id="defaults",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        // Detached: a blank line follows.

        // The root.
        // Second line.
        message MetaCfg { // trailing of message
          // Leading of a.
          optional int32 a = 1;
          //   Leading of b,
          //   indented line.
          optional int32 b = 2;  // trailing of b
          // detached from c

          optional int32 c = 3;
          /* Block doc
           * of d. */
          optional int32 d = 4;
          /**
           * javadoc style
           */
          optional int32 e = 5;
          /* inline block */ optional int32 g = 6;
          optional int32 h = 7; /* trailing block */
          optional int32 i = 9; // trailing of i
          // leading of j
          optional int32 j = 10;
          oneof o {
            // in oneof
            int32 k = 8;
          }
          // An enum.
          enum E { X = 0; }
          // comment before the closing brace is nobody's doc
        }
        message Empty {}
        """,
        _check_docs,
        id="doc-comments",
    ),
    pytest.param(
        """
        syntax = "proto2";;
        package p;
        message MetaCfg {
          enum E { A = 0; ; };
          ;
          optional int32 x = 1;;
        };
        """,
        _check_semicolons,
        id="empty-statements",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message MetaCfg {
          optional int32 message = 1;
          optional int32 enum = 2;
          optional int32 option = 3;
          optional int32 map = 4;
          optional int32 reserved = 5;
          optional int32 default = 6;
        }
        """,
        _check_keyword_names,
        id="keywords-as-field-names",
    ),
    pytest.param(
        """
        edition = "2023";
        package p;
        message MetaCfg { int32 x = 1 [default = 4]; }
        """,
        _check_editions,
        id="editions",
    ),
]


@pytest.mark.parametrize("text, check", GRAMMAR)
def test_grammar(tmp_path, text, check):
    check(_schema(tmp_path, text))


# ---------------------------------------------------------------------------------------------
# Type resolution (protobuf scoping)
# ---------------------------------------------------------------------------------------------

SCOPING_SRC = """
syntax = "proto2";
package fairdiplomacy;
message Foo {}
message Bar {}
message Agent {
  message Foo {}
  message Inner {
    message Foo {}
    optional Foo innermost = 1;
    optional Bar outer = 2;
    optional .fairdiplomacy.Foo absolute = 3;
    optional Agent.Foo partial = 4;
    optional fairdiplomacy.Bar package_qualified = 5;
    optional Inner.Foo self_qualified = 6;
    optional Baz.Qux other = 7;
  }
  optional Foo agent_foo = 1;
  optional Inner.Foo inner_foo = 2;
}
message Baz { message Qux {} }
message MetaCfg { optional Foo foo = 1; optional Agent.Inner inner = 2; }
"""


@pytest.mark.parametrize(
    "message, field, expected",
    [
        pytest.param("Agent.Inner", "innermost", "fairdiplomacy.Agent.Inner.Foo", id="innermost-first"),
        pytest.param("Agent.Inner", "outer", "fairdiplomacy.Bar", id="walks-outward"),
        pytest.param("Agent.Inner", "absolute", "fairdiplomacy.Foo", id="leading-dot"),
        pytest.param("Agent.Inner", "partial", "fairdiplomacy.Agent.Foo", id="partially-qualified"),
        pytest.param("Agent.Inner", "package_qualified", "fairdiplomacy.Bar", id="package-qualified"),
        pytest.param("Agent.Inner", "self_qualified", "fairdiplomacy.Agent.Inner.Foo", id="self-qualified"),
        pytest.param("Agent.Inner", "other", "fairdiplomacy.Baz.Qux", id="sibling-nested"),
        pytest.param("Agent", "agent_foo", "fairdiplomacy.Agent.Foo", id="message-scope"),
        pytest.param("Agent", "inner_foo", "fairdiplomacy.Agent.Inner.Foo", id="nested-path"),
        pytest.param("MetaCfg", "foo", "fairdiplomacy.Foo", id="package-scope"),
    ],
)
def test_scoping(tmp_path, message, field, expected):
    s = _schema(tmp_path, SCOPING_SRC)
    f = s.messages["fairdiplomacy." + message].fields[field]
    assert f.type_name == expected
    assert f.message is s.messages[expected]


def test_scoping_first_component_binds(tmp_path):
    # protoc: `Inner.Foo` binds `Inner` to the innermost scope that has it; if `Foo` is not in
    # that `Inner`, it is an error even when an outer `Inner.Foo` exists.
    err = _error(
        tmp_path,
        """
        syntax = "proto2";
        package p;
        message Inner { message Foo {} }
        message A {
          message Inner {}
          optional Inner.Foo f = 1;
        }
        """,
    )
    assert err.message == "unknown type `Inner.Foo` in field `f` of message `p.A`; did you mean `p.Inner.Foo`?"
    assert err.where == f"{tmp_path / 'a.proto'}:6:12"


def test_non_public_import_is_not_transitive(tmp_path):
    paths = _write(
        tmp_path,
        {
            "a.proto": 'syntax = "proto2"; package x.y; import "b.proto"; message MetaCfg { optional Top t = 1; optional x.Mid m = 2; }',
            "b.proto": 'syntax = "proto2"; import "c.proto"; message Top {}',
            "c.proto": 'syntax = "proto2"; package x; message Mid {}',
        },
    )
    # Top (no package) resolves from inside x.y; Mid lives in c.proto, which b.proto imports
    # without `public`, so a.proto cannot use it (as protoc says).
    with pytest.raises(ConfigError) as ei:
        read_protos([paths["a.proto"]])
    assert ei.value.message == (
        f"type `x.Mid` in field `m` of message `x.y.MetaCfg` is defined in {paths['c.proto']}, "
        f"which is not imported by {paths['a.proto']} (imports are not transitive unless `import public`)"
    )
    assert ei.value.where == f"{paths['a.proto']}:1:98"


# ---------------------------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------------------------


def test_imports_roots_then_own_folder_each_file_once(tmp_path):
    paths = _write(
        tmp_path,
        {
            "conf/main.proto": """
                syntax = "proto2";
                package p;
                import "conf/agents.proto";      // via import root tmp_path
                import "local.proto";            // via the importing file's folder
                import weak "conf/common.proto";
                message MetaCfg { optional Agent a = 1; optional Local l = 2; optional Common c = 3; }
            """,
            "conf/agents.proto": """
                syntax = "proto2";
                package p;
                import public "conf/common.proto";
                message Agent { optional Common c = 1; }
            """,
            "conf/local.proto": 'syntax = "proto2"; package p; message Local {}',
            "conf/common.proto": 'syntax = "proto2"; package p; message Common {}',
        },
    )
    # Passing an imported file again must not define its messages twice.
    s = read_protos([paths["conf/main.proto"], paths["conf/common.proto"]], import_roots=[tmp_path])
    assert set(s.messages) == {"p.MetaCfg", "p.Agent", "p.Local", "p.Common"}
    assert sorted(Path(f).resolve() for f in s.source_files) == sorted(p.resolve() for p in paths.values())
    assert s.root.fields["c"].type_name == "p.Common"


def test_import_root_order(tmp_path):
    paths = _write(
        tmp_path,
        {
            "main.proto": 'syntax = "proto2"; package p; import "dep.proto"; message MetaCfg { optional Dep d = 1; }',
            "r1/dep.proto": 'syntax = "proto2"; package p; message Dep { optional int32 first = 1; }',
            "r2/dep.proto": 'syntax = "proto2"; package p; message Dep { optional int32 second = 1; }',
            "dep.proto": 'syntax = "proto2"; package p; message Dep { optional int32 own = 1; }',
        },
    )
    s = read_protos([paths["main.proto"]], import_roots=[tmp_path / "r2", tmp_path / "r1"])
    assert list(s.messages["p.Dep"].fields) == ["second"]
    s = read_protos([paths["main.proto"]])
    assert list(s.messages["p.Dep"].fields) == ["own"]


def test_public_import_is_transitive(tmp_path):
    paths = _write(
        tmp_path,
        {
            "a.proto": 'syntax = "proto2"; package p; import "b.proto"; message MetaCfg { optional C c = 1; }',
            "b.proto": 'syntax = "proto2"; package p; import public "c.proto";',
            "c.proto": 'syntax = "proto2"; package p; message C {}',
        },
    )
    assert read_protos([paths["a.proto"]]).root.fields["c"].type_name == "p.C"


def test_read_project_schema(tmp_path):
    _write(
        tmp_path,
        {
            "conf/conf.proto": 'syntax = "proto2"; package q; import "conf/common.proto"; message MetaCfg { optional Inc i = 1; }',
            "conf/common.proto": 'syntax = "proto2"; package q; message Inc { optional string path = 1; }',
            "conf/sub/ignored.proto": "this is not parsed",
        },
    )
    s = read_project_schema(tmp_path / "conf")
    assert s.root.full_name == "q.MetaCfg"
    assert s.root.fields["i"].message is s.messages["q.Inc"]


def test_read_project_schema_empty_dir(tmp_path):
    with pytest.raises(ConfigError, match="no .proto files"):
        read_project_schema(tmp_path)


# ---------------------------------------------------------------------------------------------
# Errors: one-line message and file:line:col
# ---------------------------------------------------------------------------------------------

ERRORS = [
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message Slurm {}
        message Baz { optional Slrm bar = 1; }
        """,
        "unknown type `Slrm` in field `bar` of message `p.Baz`; did you mean `p.Slurm`?",
        4, 24,
        id="unknown-type-suggests",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional Zzzzzz bar = 1; }
        """,
        "unknown type `Zzzzzz` in field `bar` of message `Baz`",
        2, 24,
        id="unknown-type-no-suggestion",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz {
          optional int32 a = 1
          optional int32 b = 2;
        }
        """,
        "syntax error: expected `;`, got `optional`",
        4, 3,
        id="missing-semicolon",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz {
          optional int32 a = 1;
        """,
        "syntax error: expected a field or `}`, got end of file",
        3, 24,
        id="unclosed-message",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional int32 a = x; }
        """,
        "syntax error: expected a field number, got `x`",
        2, 34,
        id="bad-field-number",
    ),
    pytest.param(
        """
        syntax = "proto2";
        foo Bar {}
        """,
        "syntax error: expected a declaration (message, enum, import...), got `foo`",
        2, 1,
        id="unknown-top-level",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz {
          optional int32 a = 1;
          optional int32 b = 1;
        }
        """,
        "duplicate field number 1 in message `Baz`: `b` and `a`",
        4, 22,
        id="duplicate-field-number",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message Baz {
          optional int32 a = 1;
          optional string a = 2;
        }
        """,
        "duplicate name `a` in `p.Baz` (already defined at {a}:4:18)",
        5, 19,
        id="duplicate-field-name",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message Baz {}
        enum Baz { X = 0; }
        """,
        "duplicate name `Baz` in `p` (already defined at {a}:3:9)",
        4, 6,
        id="duplicate-type-name",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz {
          message Sub {}
          optional int32 Sub = 1;
        }
        """,
        "duplicate name `Sub` in `Baz` (already defined at {a}:3:11)",
        4, 18,
        id="field-clashes-with-nested-type",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message Baz {
          enum A { NONE = 0; }
          enum B { NONE = 0; }
        }
        """,
        "duplicate name `NONE` in `p.Baz` (already defined at {a}:4:12); "
        "enum values share the scope that encloses their enum",
        5, 12,
        id="enum-values-share-scope",
    ),
    pytest.param(
        """
        syntax = "proto2";
        enum E { A = 0; A = 1; }
        """,
        "duplicate name `A` in enum `E` (already defined at {a}:2:10)",
        2, 17,
        id="duplicate-enum-value",
    ),
    pytest.param(
        """
        syntax = "proto2";
        enum E { A = 0; B = 0; }
        """,
        "duplicate number 0 in enum `E`: `B` and `A` (add `option allow_alias = true;` to allow this)",
        2, 17,
        id="duplicate-enum-number",
    ),
    pytest.param(
        """
        syntax = "proto2";
        enum E {}
        """,
        "enum `E` has no values",
        2, 6,
        id="empty-enum",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz {
          optional group Result = 1 { optional int32 x = 2; }
        }
        """,
        "groups are not supported; use a nested message instead",
        3, 12,
        id="group",
    ),
    pytest.param(
        """
        syntax = "proto2";
        /* never closed
        message Baz {}
        """,
        "syntax error: unterminated /* comment",
        2, 1,
        id="unterminated-comment",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional string s = 1 [default = "abc]; }
        """,
        "syntax error: unterminated string",
        2, 48,
        id="unterminated-string",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional int32 a = 1; } # comment
        """,
        "syntax error: unexpected character '#'",
        2, 39,
        id="unexpected-character",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional int32 a = 1 [default = "x"]; }
        """,
        "expected an integer as default of field `a` of message `Baz`, got `\"x\"`",
        2, 47,
        id="default-string-for-int",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional int32 a = 1 [default = 1.5]; }
        """,
        "expected an integer as default of field `a` of message `Baz`, got `1.5`",
        2, 47,
        id="default-float-for-int",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional uint32 a = 1 [default = -1]; }
        """,
        "default -1 of field `a` of message `Baz` is out of the uint32 range",
        2, 48,
        id="default-out-of-range",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional bool a = 1 [default = 1]; }
        """,
        "expected true or false as default of field `a` of message `Baz`, got `1`",
        2, 46,
        id="default-bool",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz {
          enum Mode { FAST = 0; SLOW = 1; }
          optional Mode m = 1 [default = FASTT];
        }
        """,
        "`FASTT` is not a value of enum `Baz.Mode` (default of field `m` of message `Baz`); did you mean `FAST`?",
        4, 34,
        id="default-unknown-enum-value",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz {
          enum Mode { FAST = 0; }
          optional Mode m = 1 [default = "FAST"];
        }
        """,
        "`\"FAST\"` is not a value of enum `Baz.Mode` (default of field `m` of message `Baz`); did you mean `FAST`?",
        4, 34,
        id="default-string-for-enum",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional float x = 1 [default = "1.5"]; }
        """,
        "expected a number as default of field `x` of message `Baz`, got `\"1.5\"`",
        2, 47,
        id="default-string-for-float",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional string x = 1 [default = 15]; }
        """,
        "expected a string as default of field `x` of message `Baz`, got `15`",
        2, 48,
        id="default-number-for-string",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Sub {}
        message Baz { optional Sub s = 1 [default = 1]; }
        """,
        "message fields cannot have a default (field `s` of message `Baz`)",
        3, 45,
        id="default-on-message",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { repeated int32 a = 1 [default = 1]; }
        """,
        "repeated fields cannot have a default (field `a` of message `Baz`)",
        2, 47,
        id="default-on-repeated",
    ),
    pytest.param(
        r"""
        syntax = "proto2";
        message Baz { optional string a = 1 [default = "\q"]; }
        """,
        "invalid escape `\\q` in string",
        2, 48,
        id="invalid-escape",
    ),
    pytest.param(
        """
        syntax = "proto3";
        message Baz { int32 a = 1 [default = 1]; }
        """,
        "explicit default values are not allowed in proto3",
        2, 38,
        id="proto3-default",
    ),
    pytest.param(
        """
        syntax = "proto3";
        message Baz { required int32 a = 1; }
        """,
        "required fields are not allowed in proto3",
        2, 15,
        id="proto3-required",
    ),
    pytest.param(
        """
        syntax = "proto3";
        enum E { A = 1; }
        """,
        "the first value of a proto3 enum must be 0 (`A` = 1)",
        2, 14,
        id="proto3-enum-first-zero",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { int32 a = 1; }
        """,
        "syntax error: expected a label (optional, required or repeated) before `int32` in proto2",
        2, 15,
        id="proto2-missing-label",
    ),
    pytest.param(
        """
        syntax = "proto4";
        """,
        'unknown syntax "proto4" (expected "proto2" or "proto3")',
        1, 10,
        id="unknown-syntax",
    ),
    pytest.param(
        """
        syntax = "proto3";
        message Baz { map<float, int32> m = 1; }
        """,
        "invalid map key type `float` (use an integer type, bool or string)",
        2, 19,
        id="map-float-key",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { repeated map<string, int32> m = 1; }
        """,
        "map fields cannot have a label",
        2, 15,
        id="map-with-label",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { oneof o { optional int32 a = 1; } }
        """,
        "fields in oneof `o` must not have a label (`optional`)",
        2, 25,
        id="label-in-oneof",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { oneof o { map<string, int32> a = 1; } }
        """,
        "map fields are not allowed in oneof `o`",
        2, 25,
        id="map-in-oneof",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { oneof o { } }
        """,
        "oneof `o` has no fields",
        2, 21,
        id="empty-oneof",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional int32 a = 0; }
        """,
        "field number 0 of `a` is out of range (1 to 536870911)",
        2, 34,
        id="field-number-zero",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional int32 a = 19001; }
        """,
        "field number 19001 of `a` is reserved by protobuf (19000 to 19999)",
        2, 34,
        id="field-number-protobuf-reserved",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz {
          reserved 2, 9 to 11;
          optional int32 a = 10;
        }
        """,
        "field number 10 of `a` is reserved in message `Baz`",
        4, 22,
        id="reserved-number",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz {
          reserved "a";
          optional int32 a = 1;
        }
        """,
        "field name `a` is reserved in message `Baz`",
        4, 18,
        id="reserved-name",
    ),
    pytest.param(
        """
        syntax = "proto2";
        import "missing.proto";
        """,
        "cannot find imported file `missing.proto` (looked in {root}, {root})",
        2, 8,
        id="import-not-found",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        import "b.proto";
        message Baz { optional C c = 1; }
        """,
        "type `C` in field `c` of message `p.Baz` is defined in {root}/c.proto, which is not imported by {a}"
        " (imports are not transitive unless `import public`)",
        4, 24,
        id="not-visible-transitive-import",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        message Baz { optional Other o = 1; }
        """,
        "type `Other` in field `o` of message `p.Baz` is defined in {root}/other.proto, which is not imported by {a}",
        3, 24,
        id="not-imported-at-all",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional int32 a = 1 [default = 1, default = 2]; }
        """,
        "duplicate `default` option",
        2, 50,
        id="duplicate-default",
    ),
    pytest.param(
        """
        syntax = "proto2";
        message Baz { optional int32 a = 1 [default = 1; }
        """,
        "syntax error: expected `,` or `]`, got `;`",
        2, 48,
        id="unclosed-field-options",
    ),
    pytest.param(
        """
        syntax = "proto2";
        option (x) = { a: 1 ;
        """,
        "syntax error: `{` is never closed",
        2, 14,
        id="unclosed-aggregate-option",
    ),
    pytest.param(
        """
        syntax = "proto2";
        package p;
        package q;
        """,
        "a file may declare only one package",
        3, 1,
        id="two-packages",
    ),
]


@pytest.mark.parametrize("text, message, line, col", ERRORS)
def test_errors(tmp_path, text, message, line, col):
    a = tmp_path / "a.proto"
    extra = {
        "b.proto": 'syntax = "proto2"; package p; import "c.proto";',
        "c.proto": 'syntax = "proto2"; package p; message C {}',
        "other.proto": 'syntax = "proto2"; package p; message Other {}',
    }
    _write(tmp_path, {"a.proto": text, **extra})
    with pytest.raises(ConfigError) as ei:
        read_protos([a, tmp_path / "other.proto"], import_roots=[tmp_path])
    err = ei.value
    assert err.message == message.replace("{a}", str(a)).replace("{root}", str(tmp_path))
    assert err.where == f"{a}:{line}:{col}"
    assert "\n" not in str(err)


def test_missing_input_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read proto file .*nope.proto: no such file"):
        read_protos([tmp_path / "nope.proto"])


def test_error_in_imported_file_names_that_file(tmp_path):
    paths = _write(
        tmp_path,
        {
            "a.proto": 'syntax = "proto2";\nimport "b.proto";\nmessage MetaCfg {}',
            "b.proto": 'syntax = "proto2";\n\nmessage B { optional int32 x = 1 }',
        },
    )
    with pytest.raises(ConfigError) as ei:
        read_protos([paths["a.proto"]])
    assert ei.value.where == f"{tmp_path / 'b.proto'}:3:34"
    assert ei.value.message == "syntax error: expected `;`, got `}`"


def test_crlf_and_bom(tmp_path):
    p = tmp_path / "a.proto"
    text = '\ufeffsyntax = "proto2";\r\n// Doc of x.\r\nmessage MetaCfg {\r\n  optional int32 x = 1; // t\r\n  optional Bad y = 2;\r\n}\r\n'
    p.write_bytes(text.encode("utf-8"))
    with pytest.raises(ConfigError) as ei:
        read_protos([p])
    assert ei.value.where == f"{p}:5:12"
    p.write_bytes(text.replace("Bad", "int32").encode("utf-8"))
    s = read_protos([p])
    assert s.root.doc == "Doc of x."
    assert s.root.fields["x"].doc == "t"


def test_well_known_import_missing_is_tolerated(tmp_path):
    s = _schema(
        tmp_path,
        """
        syntax = "proto2";
        import "google/protobuf/descriptor.proto";
        extend google.protobuf.FieldOptions { optional string hint = 50001; }
        message MetaCfg { optional int32 x = 1 [(hint) = "h"]; }
        """,
    )
    assert list(s.root.fields) == ["x"]


def test_empty_and_comment_only_files(tmp_path):
    paths = _write(
        tmp_path,
        {
            "a.proto": 'syntax = "proto2"; package p; message MetaCfg {}',
            "empty.proto": "",
            "comments.proto": "// nothing here\n/* at all */\n",
        },
    )
    s = read_protos([paths["a.proto"], paths["empty.proto"], paths["comments.proto"]])
    assert set(s.messages) == {"p.MetaCfg"}


def test_schema_root_name(tmp_path):
    s = _schema(tmp_path, 'syntax = "proto2"; package p; message Cfg { optional int32 a = 1; }', root="Cfg")
    assert s.root.full_name == "p.Cfg"
