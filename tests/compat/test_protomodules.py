"""``import conf.<file>_pb2`` / ``conf.<file>_cfgs`` without protoc (``heyhi.compat.protomodules``).

Each behaviour runs in a real Python process whose working folder is a copy of the reference conf tree
(the original HeyHi's users' ``conf/``), with ``conf`` importable both as a namespace package and as a
regular one (``conf/__init__.py``). The processes print what they saw as JSON; the asserts read it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from heyhi.compat.protomodules import EnumTypeWrapper, find_spec
from heyhi.config.schema.proto_reader import read_project_schema

# ``import heyhi`` installs the finder (first in sys.meta_path).
PRELUDE = (
    "import json, sys\n"
    "import heyhi\n"
)
HEAVY = ("heyhi.config", "typing", "heyhi.config.schema.loader", "heyhi.config.schema.proto_reader", "heyhi.config.compose",
         "heyhi.config.values", "heyhi.config.frozen", "pydantic")


@pytest.fixture(params=["namespace", "regular"])
def project(request, corpus, tmp_path) -> Path:
    """A writable copy of the reference project; ``conf`` a namespace or a regular package."""
    dst = tmp_path / "proj"
    shutil.copytree(corpus, dst)
    for d, _, files in os.walk(dst):  # the corpus is read-only, and copytree copies modes
        os.chmod(d, os.stat(d).st_mode | stat.S_IWUSR)
        for f in files:
            p = os.path.join(d, f)
            os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
    if request.param == "regular":
        (dst / "conf" / "__init__.py").write_text("")
    return dst


def run(project: Path, body: str, prelude: str = PRELUDE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", prelude + body], cwd=project, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def seen(project: Path, body: str) -> dict:
    p = run(project, body)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---- the finder, in this process (nothing installed) -------------------------------------------------

@pytest.mark.parametrize(
    "name, path, answers",
    [
        pytest.param("conf.conf_pb2", "conf", True, id="pb2"),
        pytest.param("conf.agents_cfgs", "conf", True, id="cfgs"),
        pytest.param("conf.nothere_pb2", "conf", False, id="no-such-proto"),
        pytest.param("conf.conf", "conf", False, id="not-generated"),
        pytest.param("conf._pb2", "conf", False, id="empty-stem"),
        pytest.param("conf_pb2", None, False, id="top-level-name"),
        pytest.param("other.conf_pb2", "conf/common", False, id="folder-not-conf"),
    ],
)
def test_find_spec_answers_only_for_a_proto_of_a_conf_folder(project, name, path, answers):
    spec = find_spec(name, [str(project / path)] if path else None)
    if not answers:
        assert spec is None
        return
    stem = name.rpartition(".")[2].rsplit("_", 1)[0]
    assert spec.name == name and spec.origin == str(project / "conf" / f"{stem}.proto") and spec.has_location


def test_the_schema_says_which_file_defines_each_type(corpus):
    schema = read_project_schema(corpus / "conf")
    assert schema.messages["fairdiplomacy.TestTask"].file == "conf.proto"
    assert schema.messages["fairdiplomacy.TestTask.SubMessage"].file == "conf.proto"
    assert schema.messages["fairdiplomacy.Agent"].file == "agents.proto"
    assert schema.enums["fairdiplomacy.Power"].file == "common.proto"
    assert schema.enums["fairdiplomacy.TestTask.SomeEnum"].file == "conf.proto"
    assert sorted(schema.files) == ["agents.proto", "common.proto", "conf.proto", "misc.proto"]
    conf = schema.files["conf.proto"]
    assert (conf.package, conf.public_imports) == ("fairdiplomacy", ("agents.proto", "misc.proto", "common.proto"))


def test_enum_wrapper_has_protobufs_api(corpus):
    w = EnumTypeWrapper(read_project_schema(corpus / "conf").enums["fairdiplomacy.Power"])
    assert (w.Name(2), w.Value("FRANCE"), w.FRANCE) == ("FRANCE", 2, 2)
    assert w.keys()[:2] == ["AUSTRIA", "ENGLAND"] and w.values()[:2] == [0, 1] and w.items()[0] == ("AUSTRIA", 0)
    with pytest.raises(ValueError, match=r"^Enum Power has no name defined for value 9$"):
        w.Name(9)
    with pytest.raises(ValueError, match=r"^Enum Power has no value defined for name 'SPAIN'$"):
        w.Value("SPAIN")
    with pytest.raises(AttributeError, match=r"^Enum Power has no value defined for name 'SPAIN'$"):
        w.SPAIN


# ---- the modules, in real processes -----------------------------------------------------------------

def test_messages_are_heyhis_classes_with_keyword_constructors(project):
    got = seen(project, """
import conf.conf_pb2, conf.conf_cfgs, conf.agents_pb2
pb2, cfgs = conf.conf_pb2, conf.conf_cfgs
cfg = pb2.TestTask(scalar_no_default=42, oneof_value1=11, sub=pb2.TestTask.SubMessage(subscalar=9),
                   complex_sub=dict(includes=[{"path": "p1", "mount": "m1"}]))
frozen = cfgs.TestTask(scalar=10, sub=pb2.TestTask.SubMessage(subscalar=11))
print(json.dumps(dict(
    editable=[cfg.is_frozen(), cfg.WhichOneof("oneof_field"), cfg.sub.subscalar, cfg.complex_sub.includes[0].path],
    frozen=[frozen.is_frozen(), frozen.to_dict(), type(frozen).get_proto_class() is pb2.TestTask],
    proto_alias=cfgs.Proto_TestTask is pb2.TestTask,
    nested=[pb2.TestTask.SubMessage.__qualname__, cfgs.TestTask.SubMessage is type(frozen.sub)],
    file=pb2.__file__,
    public_import=[pb2.Agent is conf.agents_pb2.Agent, cfgs.Agent is type(cfgs.Agent().to_frozen())],
    field_number=pb2.TestTask.SCALAR_FIELD_NUMBER,
)))
""")
    assert got["editable"] == [False, "oneof_value1", 9, "p1"]
    assert got["frozen"] == [True, {"scalar": 10.0, "sub": {"subscalar": 11}}, True]
    assert got["proto_alias"] is True
    assert got["nested"] == ["TestTask.SubMessage", True]
    assert got["file"] == str(project / "conf" / "conf.proto")
    assert got["public_import"] == [True, True]  # conf.proto has `import public "conf/agents.proto"`
    assert got["field_number"] == 1


def test_enums_as_protoc_shows_them(project):
    got = seen(project, """
import conf.conf_pb2, conf.conf_cfgs
pb2, cfgs = conf.conf_pb2, conf.conf_cfgs
print(json.dumps(dict(
    top=[pb2.Power.Name(2), pb2.Power.Value("ITALY"), pb2.FRANCE, cfgs.FRANCE, pb2.Power is cfgs.Power],
    nested=[pb2.TestTask.ZERO, pb2.TestTask.ONE, pb2.TestTask.SomeEnum.keys(), cfgs.TestTask.ONE,
            pb2.TestTask.SomeEnum is cfgs.TestTask.SomeEnum],
    frozen_value=pb2.TestTask(enum_value=pb2.TestTask.ONE).to_frozen().enum_value,
)))
""")
    assert got["top"] == ["FRANCE", 4, 2, 2, True]
    assert got["nested"] == [0, 1, ["ZERO", "ONE"], 1, True]
    assert got["frozen_value"] == "ONE"


def test_a_loaded_config_is_an_instance_of_the_modules_classes(project):
    got = seen(project, """
import conf.conf_pb2, conf.conf_cfgs
cfg = heyhi.load_config("heyhi_tests_data/root.prototxt")
print(json.dumps([isinstance(cfg, conf.conf_cfgs.MetaCfg), isinstance(cfg.test, conf.conf_cfgs.TestTask),
                  isinstance(cfg.to_editable(), conf.conf_pb2.MetaCfg)]))
""")
    assert got == [True, True, True]


def test_load_config_takes_the_modules_classes_as_msg_class(project):
    """As the original's users wrote: ``load_config(path, msg_class=conf.conf_cfgs.MetaCfg)`` (or ``conf_pb2``'s)."""
    got = seen(project, """
import conf.conf_pb2, conf.conf_cfgs
path = "heyhi_tests_data/redefine_subscalar_22.prototxt"
print(json.dumps([type(heyhi.load_config(path, msg_class=cls)).__name__ for cls in
                  (conf.conf_cfgs.TestTask.SubMessage, conf.conf_pb2.TestTask.SubMessage)]))
""")
    assert got == ["FrozenSubMessage", "FrozenSubMessage"]


def test_stale_protoc_output_does_not_win(project):
    (project / "conf" / "conf_pb2.py").write_text("STALE = True\nraise RuntimeError('stale protoc output imported')\n")
    (project / "conf" / "conf_cfgs.py").write_text("STALE = True\n")
    got = seen(project, """
import conf.conf_pb2, conf.conf_cfgs
print(json.dumps([hasattr(conf.conf_pb2, "STALE"), hasattr(conf.conf_cfgs, "STALE"), conf.conf_pb2.__file__,
                  conf.conf_cfgs.TestTask().is_frozen()]))
""")
    assert got == [False, False, str(project / "conf" / "conf.proto"), True]


def test_a_broken_proto_is_a_one_line_import_error(project):
    misc = project / "conf" / "misc.proto"
    text = misc.read_text().rstrip("\n") + "\nmessage Broken {\n  optional int32 = 1;\n}\n"
    misc.write_text(text)
    line = len(text.splitlines()) - 1
    got = seen(project, """
try:
    import conf.conf_pb2
except ImportError as e:
    from heyhi.errors import ConfigError
    print(json.dumps([str(e), e.name, isinstance(e, ConfigError)]))
""")
    where = f"{project / 'conf' / 'misc.proto'}:{line}:18"
    assert got == [f"{where}: syntax error: expected a field name, got `=`", "conf.conf_pb2", True]


def test_a_name_without_a_proto_is_the_normal_module_not_found(project):
    p = run(project, "import conf.nothere_pb2\n")
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1] == "ModuleNotFoundError: No module named 'conf.nothere_pb2'"


def test_importing_heyhi_loads_no_schema(project):
    got = seen(project, f"""
import email.mime.text
try:
    import nothere_pb2
except ModuleNotFoundError:
    pass
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
""")
    assert got == []


def test_a_class_attribute_never_hides_a_field(tmp_path):
    """Nested names that collide with fields, oneofs or helpers are skipped, and nothing fails."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "clash.proto").write_text(
        'syntax = "proto2";\npackage clash;\n'
        "message MetaCfg {\n"
        "  enum Mode { set = 0; Clear = 1; which_choice = 2; COPY_FIELD_NUMBER = 3; }\n"
        "  oneof choice { int32 a = 1; int32 b = 2; }\n"
        "  optional int32 copy = 3;\n"
        "  optional Mode mode = 4;\n"
        "}\n"
    )
    got = seen(tmp_path, """
import conf.clash_pb2
M = conf.clash_pb2.MetaCfg
m = M(a=1, copy=7)
print(json.dumps([m.set.__name__, M.Clear.__name__, m.which_choice, m.copy, M.COPY_FIELD_NUMBER, M.Mode.Value("set"),
                  M.A_FIELD_NUMBER]))
""")
    assert got == ["set", "Clear", "a", 7, 3, 0, 1]
