"""The original HeyHi's own test scenarios (facebookresearch/diplomacy_cicero, ``heyhi/tests/test_conf.py``),
run through ``heyhi.conf`` on the original's test data and schema.

The data (``../shared/corpus/heyhi_cicero/heyhi_tests_data``, 9 configs) and the schema (the corpus's
``conf/``, whose ``TestTask`` and ``MetaCfg`` these configs use) are copied into a project laid out as
the original's repository: ``conf/`` at the root, the data in ``heyhi/tests/data/``. Scenarios that name
the generated modules (``conf.conf_pb2``, ``conf.conf_cfgs``) import them inside the test, from the
copy (``heyhi.compat.protomodules``).
"""

from __future__ import annotations

import importlib
import os
import pickle
import shutil
import stat
import sys
from pathlib import Path

import pytest

import heyhi.conf

TO_DICT_ALL = {
    "includes": [],
    "test": {
        "complex_sub": {"includes": [], "sub": {"subscalar": -1}},
        "enum_value": "ZERO",
        "enum_value_no_default": None,
        "scalar": -1.0,
        "scalar_no_default": None,
        "some_map": {},
        "sub": {"subscalar": -1},
        "sub2": {"subscalar": -1},
        "bool_field_no_default": False,
        "bool_field_with_default_false": False,
        "bool_field_with_default_true": True,
        "launcher": {},
    },
}

WITH_DEFAULTS_TEXT = """\
test {
  scalar: %s
  sub {
    subscalar: -1
  }
  sub2 {
    subscalar: %d
  }
  enum_value: ZERO
  complex_sub {
    sub {
      subscalar: -1
    }
  }
  bool_field_with_default_false: false
  bool_field_with_default_true: true
}"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    corpus = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "heyhi_cicero"
    if not corpus.is_dir():
        pytest.skip(f"reference corpus not found at {corpus}")
    root = tmp_path_factory.mktemp("cicero")
    shutil.copytree(corpus / "conf", root / "conf")
    shutil.copytree(corpus / "heyhi_tests_data", root / "heyhi" / "tests" / "data")
    for d, _, files in os.walk(root):  # the corpus may be read-only and copytree keeps modes
        os.chmod(d, os.stat(d).st_mode | stat.S_IWUSR)
        for f in files:
            os.chmod(os.path.join(d, f), os.stat(os.path.join(d, f)).st_mode | stat.S_IWUSR)
    return root


@pytest.fixture
def data(project) -> Path:
    return project / "heyhi" / "tests" / "data"


def task_cfg(data: Path, name: str, overrides=()):
    """The editable task config of a top-level test config, as the original's tests took it."""
    task, meta = heyhi.conf.load_root_proto_message(data / name, list(overrides))
    assert task == "test"
    return getattr(meta, task)


@pytest.fixture
def protos(project, monkeypatch):
    """``(conf.conf_pb2, conf.conf_cfgs)`` of the copied project, imported fresh and forgotten after."""

    def forget():
        for name in [m for m in sys.modules if m == "conf" or m.startswith("conf.")]:
            del sys.modules[name]

    forget()
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.chdir(project)
    try:
        yield importlib.import_module("conf.conf_pb2"), importlib.import_module("conf.conf_cfgs")
    finally:
        forget()


# ---- root.prototxt: overrides and includes ------------------------------------------------------

@pytest.mark.parametrize("overrides, scalar, subscalar, sub2", [
    pytest.param([], -1, -1, -1, id="plain"),
    pytest.param(["scalar=20"], 20, -1, -1, id="scalar"),
    pytest.param(["scalar=20.5"], 20.5, -1, -1, id="float"),
    pytest.param(["sub.subscalar=20"], -1, 20, -1, id="sub-message-scalar"),
    pytest.param(["I=redefine_scalar"], 1.0, -1, -1, id="include-at-the-task"),
    pytest.param(["I=redefine_message"], -1, 22, -1, id="include-a-message"),
    pytest.param(["I.sub=redefine_subscalar_22"], -1, 22, -1, id="include-inside"),
    pytest.param(["I.sub=redefine_subscalar_22", "I.sub2=redefine_subscalar_22"], -1, 22, 22, id="include-inside-twice"),
])
def test_root_config_with_overrides(data, overrides, scalar, subscalar, sub2):
    cfg = task_cfg(data, "root.prototxt", overrides)
    assert (cfg.scalar, cfg.sub.subscalar, cfg.sub2.subscalar) == (scalar, subscalar, sub2)
    assert not cfg.is_frozen()


def test_an_enum_override_reads_as_its_number_and_frozen_as_its_name(data):
    cfg = task_cfg(data, "root.prototxt", ["enum_value=ONE"])
    assert cfg.enum_value == 1 and cfg.to_frozen().enum_value == "ONE"


def test_a_float_for_an_int_field_is_a_value_error(data):
    with pytest.raises(ValueError):
        task_cfg(data, "root.prototxt", ["sub.subscalar=20.5"])


def test_an_include_whose_name_matches_the_mount_path(data):
    cfg = task_cfg(data, "root.prototxt", ["Ilauncher=local"])
    assert cfg.launcher.WhichOneof("launcher") == "local"


# ---- includes in the config file ------------------------------------------------------------------

def test_includes_in_the_file_and_overriding_one(data):
    cfg = task_cfg(data, "root_with_includes.prototxt")
    assert (cfg.scalar, cfg.sub.subscalar, cfg.sub2.subscalar) == (-1, -1, 22)
    cfg = task_cfg(data, "root_with_includes.prototxt", ["I.sub2=redefine_subscalar_37"])
    assert (cfg.scalar, cfg.sub.subscalar, cfg.sub2.subscalar) == (-1, -1, 37)


def test_the_files_own_content_wins_over_its_includes(data, protos):
    pb2, _ = protos
    meta = heyhi.conf.load_proto_message(data / "root_with_includes_redefined.prototxt", overrides=[],
                                         msg_class=pb2.MetaCfg)
    assert meta.WhichOneof("task") == "test"
    assert (meta.test.scalar, meta.test.sub.subscalar, meta.test.sub2.subscalar) == (-1, 22, 99)


def test_an_included_message_brings_its_own_includes(data):
    cfg = task_cfg(data, "root_with_includes.prototxt", ["I.complex_sub=redefine_message_with_include"])
    assert len(cfg.complex_sub.includes) == 0 and cfg.complex_sub.sub.subscalar == 37


# ---- NULL and SELECT ------------------------------------------------------------------------------

def test_null_clears_a_scalar_but_keeps_its_message(data):
    cfg = task_cfg(data, "root_densely_filled.prototxt", ["sub.subscalar=NULL"])
    assert not cfg.sub.HasField("subscalar") and cfg.HasField("sub")


def test_null_clears_a_message(data):
    cfg = task_cfg(data, "root_densely_filled.prototxt", ["sub=NULL"])
    assert not cfg.sub.HasField("subscalar") and not cfg.HasField("sub")


def test_null_on_the_chosen_oneof_member_clears_the_oneof(data):
    cfg = task_cfg(data, "root_densely_filled.prototxt", ["oneof_value1=NULL"])
    assert not cfg.HasField("oneof_value1") and not cfg.HasField("oneof_field")


def test_null_on_another_oneof_member_changes_nothing(data):
    cfg = task_cfg(data, "root_densely_filled.prototxt", ["oneof_value2=NULL"])
    assert cfg.HasField("oneof_value1") and cfg.HasField("oneof_field")


def test_select_chooses_an_empty_message_of_a_oneof(data):
    cfg = task_cfg(data, "root_densely_filled.prototxt", ["oneof_value3=SELECT"])
    assert not cfg.HasField("oneof_value1") and cfg.HasField("oneof_value3")
    assert not cfg.oneof_value3.HasField("subscalar")


# ---- the conf_* path helpers ------------------------------------------------------------------------

def test_conf_is_set_reads_without_changing_the_config(data):
    cfg = task_cfg(data, "root.prototxt", ["sub.subscalar=1", "oneof_value1=1"])
    before = str(cfg)
    assert heyhi.conf.conf_is_set(cfg, "sub.subscalar") and not heyhi.conf.conf_is_set(cfg, "scalar")
    assert not heyhi.conf.conf_is_set(cfg, "sub2.subscalar")
    with pytest.raises(AssertionError):
        heyhi.conf.conf_is_set(cfg, "bad_scalar")
    for _ in range(2):  # asked twice: the answers stay
        assert heyhi.conf.conf_is_set(cfg, "oneof_value1")
        assert not heyhi.conf.conf_is_set(cfg, "oneof_value2")
        assert not heyhi.conf.conf_is_set(cfg, "oneof_value3.subscalar")
    assert str(cfg) == before


def test_conf_get_and_conf_set(data):
    cfg = task_cfg(data, "root.prototxt", ["sub.subscalar=1", "oneof_value1=1"])
    assert [heyhi.conf.conf_get(cfg, p) for p in ("scalar", "sub.subscalar", "sub2.subscalar")] == [-1, 1, -1]
    for path, value in (("scalar", 10), ("sub.subscalar", 11), ("sub2.subscalar", 12)):
        heyhi.conf.conf_set(cfg, path, value)
        assert heyhi.conf.conf_get(cfg, path) == value


def test_conf_with_overrides_returns_a_changed_frozen_copy(data):
    cfg = heyhi.conf.load_proto_message(data / "root.prototxt").to_frozen()
    changed = heyhi.conf.conf_with_overrides(cfg, overrides=["test.scalar=3.0", "test.sub2.subscalar=5"])
    assert changed.to_str_with_defaults().strip() == WITH_DEFAULTS_TEXT % ("3.0", 5)
    assert cfg.test.scalar == -1


# ---- loading one message -------------------------------------------------------------------------

def test_a_partial_message_resolves_its_includes(data, protos):
    pb2, _ = protos
    cfg = heyhi.conf.load_proto_message(data / "redefine_message_with_include.prototxt",
                                        msg_class=pb2.TestTask.ComplexSubmessageWithIncludes)
    assert len(cfg.includes) == 0 and cfg.sub.subscalar == 37


def test_a_partial_message_named_by_its_type_without_the_generated_modules(data):
    cfg = heyhi.conf.load_proto_message(data / "redefine_message_with_include.prototxt",
                                        msg_class="TestTask.ComplexSubmessageWithIncludes")
    assert len(cfg.includes) == 0 and cfg.sub.subscalar == 37


def test_a_guessed_root_message_takes_task_relative_overrides(data):
    cfg = heyhi.conf.load_proto_message(data / "root.prototxt", overrides=["scalar=10"])
    assert cfg.test.scalar == 10 and not cfg.is_frozen()
    cfg = heyhi.conf.load_proto_message(data / "root_with_includes_redefined.prototxt")
    assert (cfg.test.sub.subscalar, cfg.test.sub2.subscalar) == (22, 99)


def test_load_config_is_frozen_whatever_class_names_the_type(data, protos):
    pb2, cfgs = protos
    for msg_class in (None, pb2.MetaCfg, cfgs.MetaCfg):
        cfg = heyhi.conf.load_config(data / "root.prototxt", overrides=["scalar=10"], msg_class=msg_class)
        assert cfg.is_frozen() and cfg.test.scalar == 10


def test_load_config_without_the_generated_modules(data):
    cfg = heyhi.conf.load_config(data / "root.prototxt", overrides=["scalar=10"])
    assert cfg.is_frozen() and cfg.test.scalar == 10
    assert heyhi.conf.load_root_config(data / "root.prototxt", ["scalar=11"]).test.scalar == 11


# ---- to_dict and to_str_with_defaults ---------------------------------------------------------------

def test_to_dict_set_fields_defaults_and_all(data):
    cfg = heyhi.conf.load_proto_message(data / "root.prototxt")
    assert cfg.to_dict() == {"test": {"enum_value": "ZERO"}}
    assert cfg.to_dict(with_defaults=True) == {"test": {
        "complex_sub": {"sub": {"subscalar": -1}}, "enum_value": "ZERO", "scalar": -1.0, "sub": {"subscalar": -1},
        "sub2": {"subscalar": -1}, "bool_field_with_default_false": False, "bool_field_with_default_true": True,
    }}
    assert cfg.to_dict(with_all=True) == TO_DICT_ALL


def test_to_dict_of_a_cleared_enum(data):
    cfg = heyhi.conf.load_proto_message(data / "root.prototxt")
    cfg.test.ClearField("enum_value")
    assert cfg.to_dict() == {"test": {}}
    assert cfg.to_dict(with_all=True) == TO_DICT_ALL  # an unset enum with a default shows its default


def test_to_dict_of_a_map(data):
    cfg = heyhi.conf.load_proto_message(data / "root.prototxt")
    cfg.test.some_map["field1"] = 1
    cfg.test.some_map["field2"] = 2
    assert cfg.to_dict() == {"test": {"enum_value": "ZERO", "some_map": {"field1": 1, "field2": 2}}}
    want = {**TO_DICT_ALL, "test": {**TO_DICT_ALL["test"], "some_map": {"field1": 1, "field2": 2}}}
    assert cfg.to_dict(with_all=True) == want


def test_to_str_with_defaults(data):
    cfg = heyhi.conf.load_proto_message(data / "root.prototxt")
    assert cfg.to_str_with_defaults().strip() == WITH_DEFAULTS_TEXT % ("-1.0", -1)


# ---- frozen configs -------------------------------------------------------------------------------

def test_oneof_getters_exist_on_frozen_configs_only_and_reads_select_nothing(data):
    cfg = heyhi.conf.load_proto_message(data / "root.prototxt")
    with pytest.raises(AttributeError):
        cfg.test.oneof_field  # no oneof getters on an editable config, as protobuf
    frozen = cfg.to_frozen()
    for _ in range(2):
        assert frozen.test.oneof_field is None and frozen.test.which_oneof_field is None
        assert frozen.test.WhichOneof("oneof_field") is None and frozen.test.oneof_value1 is None
    with pytest.raises(RuntimeError):
        frozen.test.oneof_value1 = 11
    edited = frozen.to_editable()
    edited.test.oneof_value1 = 11
    frozen = edited.to_frozen()
    assert (frozen.test.oneof_field, frozen.test.which_oneof_field) == (11, "oneof_value1")
    assert frozen.test.WhichOneof("oneof_field") == "oneof_value1"


def _check_wrapped(cfg) -> None:
    assert cfg.is_frozen() and cfg.scalar_no_default == 42 and cfg.enum_value_no_default is None
    assert set(cfg.to_dict()) == {"complex_sub", "scalar_no_default", "oneof_value1", "sub"}
    assert cfg.WhichOneof("oneof_field") == cfg.which_oneof_field == "oneof_value1"
    assert cfg.oneof_field == cfg.oneof_value1 == 11
    assert cfg.oneof_value2 is None and cfg.oneof_value3 is None  # unset members of a oneof
    assert cfg.sub2 is not None and cfg.sub2.subscalar == -1  # an unset message outside one
    with pytest.raises(RuntimeError):
        cfg.scalar = 5
    assert isinstance(cfg.complex_sub.includes, tuple)
    assert [i.path for i in cfg.complex_sub.includes] == ["p1", "p2"]
    assert cfg.enum_value == "ZERO"


def _wrapped_fields(sub_class):
    return dict(scalar_no_default=42, oneof_value1=11, sub=sub_class(subscalar=9),
                complex_sub=dict(includes=[{"path": "p1", "mount": "m1"}, {"path": "p2", "mount": "m2"}]))


def test_a_config_built_by_keyword_and_frozen(protos):
    pb2, _ = protos
    _check_wrapped(pb2.TestTask(**_wrapped_fields(pb2.TestTask.SubMessage)).to_frozen())


def test_a_config_built_by_keyword_from_heyhis_classes(data):
    from heyhi.config.compose import composer_for
    from heyhi.config.frozen import frozen_class
    from heyhi.config.values import editable_class

    schema = composer_for(data.parents[2]).schema
    task, sub = schema.find_message("TestTask"), schema.find_message("TestTask.SubMessage")
    _check_wrapped(editable_class(task)(**_wrapped_fields(editable_class(sub))).to_frozen())
    frozen = frozen_class(task)(scalar=10, sub=editable_class(sub)(subscalar=11))
    assert frozen.is_frozen() and frozen.scalar == 10 and frozen.to_dict() == {"scalar": 10, "sub": {"subscalar": 11}}
    assert frozen_class(task).get_proto_class() is editable_class(task)


def test_the_frozen_class_constructor(protos):
    pb2, cfgs = protos
    msg = cfgs.TestTask(scalar=10, sub=pb2.TestTask.SubMessage(subscalar=11))
    assert msg.is_frozen() and msg.scalar == 10
    assert msg.to_dict() == {"scalar": 10, "sub": {"subscalar": 11}}


def test_a_frozen_config_pickles_and_reprs_as_its_editable_one(data):
    cfg = heyhi.conf.load_proto_message(data / "root.prototxt")
    assert str(pickle.loads(pickle.dumps(cfg.to_frozen()))) == str(cfg)
    assert repr(cfg) == repr(cfg.to_frozen())
