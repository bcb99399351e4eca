"""Config objects (editable and frozen) with the original HeyHi's API and protobuf's read semantics.

On a planted project whose schema names fields like the helpers (``sub``, ``has``, ``which``,
``clear``, ``copy``, ``to_dict``, ``type``, ``v``, ``set``...): fields always win; reads never set;
a write through a nested read sets its parents; errors are the original's types.
"""

from __future__ import annotations

import copy
import pickle
import textwrap
from pathlib import Path

import pytest

import heyhi
from heyhi.config.compose import Composer
from heyhi.config.frozen import frozen_class
from heyhi.config.project import Project
from heyhi.config.values import Msg, editable_class
from heyhi.errors import ConfigError

PROTO = """
syntax = "proto2";
package p;

message Inner {
  optional int32 x = 1 [default = 7];
  optional string name = 2;
  repeated int32 xs = 3;
}

message Clashing {
  optional Inner sub = 1;
  optional int32 has = 2;
  optional string which = 3;
  optional bool clear = 4;
  optional int32 copy = 5;
  optional string to_dict = 6;
  optional string type = 7;
  optional int32 v = 8;
  optional int32 set = 9;
  optional Inner merge_from = 10;
  repeated Inner items = 11;
  map<string, int32> counts = 12;
  oneof pick {
    Inner left = 13;
    int32 right = 14;
  }
  optional Inner deep = 15;
  optional string is_frozen = 16;
}

message MetaCfg {
  oneof task { Clashing clashing = 1; }
}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("clash")
    (root / "conf").mkdir()
    (root / "conf" / "conf.proto").write_text(PROTO)
    (root / "conf" / "c.prototxt").write_text("clashing { has: 3 type: \"adam\" sub { x: 1 } }\n")
    return Project(root)


@pytest.fixture()
def composed(project):
    return Composer(project).compose(project.conf_dir / "c.prototxt", [])


def cls(project, name):
    return editable_class(project.schema.find_message(name))


def test_fields_win_over_helpers_editable_and_frozen(composed):
    t = composed.task_msg
    assert isinstance(t, Msg) and type(t).__name__ == "Clashing"
    assert t.has == 3 and t.type == "adam" and t.sub.x == 1
    assert t.which == "" and t.clear is False and t.copy == 0 and t.to_dict == "" and t.v == 0 and t.set == 0
    assert t.is_frozen == ""
    assert t.merge_from.x == 7  # a message field named like a helper reads as the message
    t.has = 5
    t.type = "sgd"
    assert t.HasField("has") and t.has == 5 and t.type == "sgd"
    f = t.to_frozen() if False else heyhi.config.frozen.freeze(t)  # t.to_frozen is not hidden: no field
    assert f.has == 5 and f.type == "sgd" and f.sub.x == 1 and f.to_dict is None and f.is_frozen is None
    assert f.HasField("sub") and f.WhichOneof("pick") is None
    assert f.ListFields()[0][0].name == "sub"


def test_helpers_answer_where_no_field_takes_the_name(project):
    inner = cls(project, "Inner")(x=3)
    assert inner.has("x") and not inner.has("name")
    assert inner.to_dict() == {"x": 3} and inner.copy() == inner and inner.copy() is not inner
    assert inner.type.name == "Inner" and inner.v == {"x": 3}


def test_reads_never_set(composed):
    t = composed.task_msg
    before = str(t)
    assert t.deep.x == 7 and t.deep.name == "" and list(t.deep.xs) == []
    assert t.left.x == 7  # a oneof member read: not selected
    assert list(t.items) == [] and dict(t.counts) == {}
    assert t.WhichOneof("pick") is None and not t.HasField("deep") and not t.HasField("left")
    assert str(t) == before
    assert t == Composer(Project(t._type and composed.project.root)).compose(composed.config, []).task_msg


def test_a_write_through_a_nested_read_sets_its_parents(composed):
    t = composed.task_msg
    t.deep.name = "n"
    assert t.HasField("deep") and t.deep.name == "n"
    t.left.x = 2  # selects the oneof member
    assert t.WhichOneof("pick") == "left" and t.left.x == 2
    t.right = 4
    assert t.WhichOneof("pick") == "right" and not t.HasField("left")
    held = t.items
    held.append(cls(composed.project, "Inner")(x=9))
    assert [i.x for i in t.items] == [9]
    t.counts["a"] = 1
    assert t.counts == {"a": 1} and "counts {" in str(t)
    new = t.items.add(x=4)
    assert new.x == 4 and len(t.items) == 2
    two = t.sub
    t.ClearField("sub")
    two.x = 99  # a reference read before the clear is detached, as in protobuf
    assert not t.HasField("sub")


def test_the_same_read_twice_is_the_same_object_until_written(composed):
    t = composed.task_msg
    a, b = t.deep, t.deep
    assert a is b
    a.x = 1
    b.name = "z"
    assert t.deep.x == 1 and t.deep.name == "z"


def test_oneof_name_on_an_editable_config_is_an_attribute_error(composed):
    t = composed.task_msg
    with pytest.raises(AttributeError):
        t.pick  # noqa: B018 (the original: no magic fields before to_frozen)
    assert t.which_pick is None  # HeyHi's own spelling keeps working
    t.right = 1
    assert heyhi.config.frozen.freeze(t).pick == 1


def test_protobuf_errors_are_protobuf_types(composed):
    t = composed.task_msg
    for call in (lambda: t.HasField("nope"), lambda: t.WhichOneof("nope"), lambda: t.ClearField("nope"),
                 lambda: t.HasField("items")):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(TypeError):
        t.MergeFrom(t.deep)
    with pytest.raises(AttributeError):
        t.nope = 1
    with pytest.raises(ConfigError):
        t.has = "many"
    with pytest.raises(ValueError):  # a ConfigError is also a ValueError, as the original's errors were
        t.has = "many"


def test_frozen_configs_are_read_only_with_runtime_error(composed):
    f = heyhi.config.frozen.freeze(composed.task_msg)
    for name in ("has", "sub", "nope"):
        with pytest.raises(RuntimeError, match="read-only"):
            setattr(f, name, 1)
    with pytest.raises(RuntimeError, match="read-only"):
        del f.has


def test_repr_and_equality_match_between_frozen_and_editable(composed):
    t = composed.task_msg
    f = heyhi.config.frozen.freeze(t)
    assert repr(f) == repr(t) and str(f) == str(t) and f == t and t == f
    assert pickle.loads(pickle.dumps(f)) == f and pickle.loads(pickle.dumps(t)) == t
    assert copy.deepcopy(t) == t and copy.deepcopy(t) is not t


def test_merge_copy_list_fields(project):
    Inner, Clashing = cls(project, "Inner"), cls(project, "Clashing")
    a = Clashing(has=1, sub=Inner(x=1, xs=[1]), items=[{"x": 1}])
    b = Clashing(has=2, sub={"xs": [2], "name": "b"}, items=[Inner(x=2)], right=3)
    a.MergeFrom(b)
    assert a.has == 2 and a.sub.x == 1 and list(a.sub.xs) == [1, 2] and a.sub.name == "b"
    assert [i.x for i in a.items] == [1, 2] and a.right == 3
    a.MergeFrom(heyhi.config.frozen.freeze(Clashing(has=8)))  # a frozen config merges as its value
    assert a.has == 8
    c = Clashing(type="t")
    c.CopyFrom(b)
    assert c == b and not c.HasField("type")
    assert [f.name for f, _ in b.ListFields()] == ["sub", "has", "items", "right"]  # by field number
    b.Clear()
    assert b.ListFields() == [] and b == Clashing()


def test_keyword_constructors_and_frozen_classes(project):
    mtype = project.schema.find_message("Clashing")
    F = frozen_class(mtype)
    f = F(has=1, sub=editable_class(project.schema.find_message("Inner"))(x=2), counts={"a": 1})
    assert f.is_frozen is None and type(f).__name__ == "FrozenClashing"
    assert f.has == 1 and f.sub.x == 2 and f.counts == {"a": 1}
    assert F.get_proto_class() is editable_class(mtype)
    assert isinstance(f.to_editable(), F.get_proto_class())
    with pytest.raises(ValueError):
        F(nope=1)


def test_to_str_with_defaults(project):
    Clashing = cls(project, "Clashing")
    text = Clashing(has=1).to_str_with_defaults()
    assert text == "sub {\n  x: 7\n}\nhas: 1\nmerge_from {\n  x: 7\n}\ndeep {\n  x: 7\n}\n"


def test_a_field_name_starting_with_underscore_is_refused(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "conf.proto").write_text(
        'syntax = "proto2";\nmessage MetaCfg {\n  optional int32 _v = 1;\n}\n')
    with pytest.raises(ConfigError, match=r"field name `_v` .* starts with `_`: HeyHi reserves"):
        Project(tmp_path).schema


def test_composition_keeps_user_references_alive(composed):
    t = composed.task_msg
    held = t.deep
    t.sub.x = 5
    t.deep.x = 6
    assert held.x == 6 and t.HasField("deep")
    assert Path(composed.config).name == "c.prototxt"


# ---- overrides that behave as the original's --------------------------------------------------

def test_null_inside_an_unset_message_creates_its_parents():
    """The original cleared through protobuf's nested reads, which create the parents: the
    oneof switches to the message named on the way."""
    from conftest import REPO

    meta = Composer(Project(REPO)).compose(REPO / "conf/c02_sup_train/sl.prototxt",
                                           ["Ilauncher=local", "launcher.slurm.partition=NULL"]).task_msg
    assert meta.launcher.WhichOneof("launcher") == "slurm"
    assert not meta.launcher.slurm.HasField("partition")


def test_select_on_a_string_field_stores_the_text_and_on_a_number_is_an_error():
    from conftest import REPO

    comp = Composer(Project(REPO))
    ev = comp.compose(REPO / "conf/c03_eval/eval.prototxt", ["checkpoint=SELECT"]).task_msg
    assert ev.checkpoint == "SELECT"
    with pytest.raises(ConfigError, match="SELECT only applies to a message in a oneof; 'data.seed' is int32"):
        comp.compose(REPO / "conf/c03_eval/eval.prototxt", ["data.seed=SELECT"])


def test_configs_answer_heyhi_patched_as_the_originals_did(composed):
    """Cicero's ``main`` refuses a config without ``heyhi_patched`` (the original's patched classes)."""
    t = composed.task_msg
    assert t.heyhi_patched is True and heyhi.config.frozen.freeze(t).heyhi_patched is True
