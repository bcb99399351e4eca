"""heyhi.config.yamljson: YAML / JSON config files -> untyped tree, and parse_file's dispatch on suffix."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from heyhi.errors import ConfigError
from heyhi.config.tree import ListValue, Loc, Node, Scalar
from heyhi.config.yamljson import parse_file, parse_json, parse_yaml


def dump(value):
    """The tree as plain Python data: Node -> list of (name, value); ListValue -> ("list", [...])."""
    if isinstance(value, Node):
        return [(e.name, dump(e.value)) for e in value.entries]
    if isinstance(value, ListValue):
        return ("list", [dump(v) for v in value.items])
    assert isinstance(value, Scalar)
    return (value.kind, value.value)


# ---------------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------------

YAML_OK = [
    pytest.param("", [], id="empty-file"),
    pytest.param("# just a comment\n", [], id="only-comment"),
    pytest.param("a: hello", [("a", ("string", "hello"))], id="plain-string"),
    pytest.param("a: 'single'\nb: \"dq\\n\"", [("a", ("string", "single")), ("b", ("string", "dq\n"))], id="quoted-strings"),
    pytest.param("a: '1'\nb: \"true\"", [("a", ("string", "1")), ("b", ("string", "true"))], id="quoted-numbers-stay-strings"),
    pytest.param("a: 42\nb: -7\nc: 0x1f\nd: 0\ne: +3", [("a", ("int", 42)), ("b", ("int", -7)), ("c", ("int", 31)), ("d", ("int", 0)), ("e", ("int", 3))], id="ints"),
    pytest.param("a: 1.5\nb: -0.25\nc: 1.0e-3\nd: .5", [("a", ("float", 1.5)), ("b", ("float", -0.25)), ("c", ("float", 0.001)), ("d", ("float", 0.5))], id="floats"),
    pytest.param("a: 1e-3\nb: 2E5\nc: -1.5e+2", [("a", ("float", 0.001)), ("b", ("float", 200000.0)), ("c", ("float", -150.0))], id="exponent-floats"),
    pytest.param("a: .inf\nb: -.inf\nc: .Inf", [("a", ("float", math.inf)), ("b", ("float", -math.inf)), ("c", ("float", math.inf))], id="inf"),
    pytest.param("a: true\nb: false\nc: True", [("a", ("bool", True)), ("b", ("bool", False)), ("c", ("bool", True))], id="bools"),
    pytest.param("a: null\nb: ~\nc:", [("a", ("null", None)), ("b", ("null", None)), ("c", ("null", None))], id="nulls"),
    pytest.param("a: !!str 12\nb: !!str 1e5\nc: !!float 3\nd: !!int '7'", [("a", ("string", "12")), ("b", ("string", "1e5")), ("c", ("float", 3.0)), ("d", ("int", 7))], id="explicit-tags"),
    pytest.param("d: 2022-07-28", [("d", ("string", "2022-07-28"))], id="date-stays-text"),
    pytest.param("e: =", [("e", ("string", "="))], id="yaml11-value-tag"),
    pytest.param("m:\n  a: 1\n  n:\n    b: x", [("m", [("a", ("int", 1)), ("n", [("b", ("string", "x"))])])], id="nested-block"),
    pytest.param("m: {a: 1, b: [2, 3]}", [("m", [("a", ("int", 1)), ("b", ("list", [("int", 2), ("int", 3)]))])], id="flow"),
    pytest.param("m: {}\nl: []", [("m", []), ("l", ("list", []))], id="empty-collections"),
    pytest.param("l:\n  - 1\n  - x\n  - {a: 2}\n  - [3]", [("l", ("list", [("int", 1), ("string", "x"), [("a", ("int", 2))], ("list", [("int", 3)])]))], id="block-list"),
    pytest.param("includes:\n  - {path: \"a/b.yaml\", mount: \"x.y\"}\n  - path: c.prototxt\n", [("includes", ("list", [[("path", ("string", "a/b.yaml")), ("mount", ("string", "x.y"))], [("path", ("string", "c.prototxt"))]]))], id="includes"),
    pytest.param("b: 2\na: 1\nc: 3", [("b", ("int", 2)), ("a", ("int", 1)), ("c", ("int", 3))], id="order-kept"),
    pytest.param("a: &x {k: 1}\nb: *x", [("a", [("k", ("int", 1))]), ("b", [("k", ("int", 1))])], id="alias"),
    pytest.param("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n  z: 4", [("base", [("x", ("int", 1)), ("y", ("int", 2))]), ("m", [("x", ("int", 1)), ("y", ("int", 3)), ("z", ("int", 4))])], id="merge-key"),
    pytest.param("s: |\n  line1\n  line2\n", [("s", ("string", "line1\nline2\n"))], id="block-scalar"),
    pytest.param("a: é中", [("a", ("string", "é中"))], id="unicode"),
    pytest.param("---\na: 1\n...\n", [("a", ("int", 1))], id="explicit-document"),
]


@pytest.mark.parametrize("text, expected", YAML_OK)
def test_yaml(text, expected):
    assert dump(parse_yaml(text, "f.yaml")) == expected


def test_yaml_locations():
    text = "# head\na: 1\nm:\n  b: [x, {c: 2.5}]\n  d: 'q'\n"
    root = parse_yaml(text, "conf/f.yaml")
    a, m = root.entries
    assert a.loc == Loc("conf/f.yaml", 2, 1)
    assert a.value.loc == Loc("conf/f.yaml", 2, 4)
    assert m.loc == Loc("conf/f.yaml", 3, 1)
    assert m.value.loc == Loc("conf/f.yaml", 4, 3)  # the mapping starts at its first key
    b, d = m.value.entries
    assert (b.loc.line, b.loc.col) == (4, 3)
    assert (b.value.loc.line, b.value.loc.col) == (4, 6)  # '['
    x, inner = b.value.items
    assert (x.loc.line, x.loc.col) == (4, 7)
    assert (inner.loc.line, inner.loc.col) == (4, 10)
    c = inner.entries[0]
    assert (c.loc.line, c.loc.col, c.value.loc.col, c.value.value) == (4, 11, 14, 2.5)
    assert (d.value.loc.line, d.value.loc.col) == (5, 6)
    assert str(d.loc) == "conf/f.yaml:5:3"


def test_yaml_nan():
    (entry,) = parse_yaml("a: .nan", "f").entries
    assert entry.value.kind == "float" and math.isnan(entry.value.value)


# (text, message or its start, None or a part of the rest, line:col). Where the rest is the YAML
# reader's own wording, only HeyHi's part is asserted: the prefix, the place, one line.
YAML_ERRORS = [
    pytest.param("a: 1\n\tb: 2\n", "invalid YAML: ", "tab", "2:1", id="tab-indentation"),
    pytest.param("a:\n\tb: 2\n", "invalid YAML: ", "tab", "2:1", id="tab-indentation-nested"),
    pytest.param("a: [1, 2\nb: 3", "invalid YAML: ", "", "2:2", id="list-not-closed"),
    pytest.param("a: \"abc\n", "invalid YAML: ", "", "2:1", id="unterminated-string"),
    pytest.param("a: b: c", "invalid YAML: ", "", "1:5", id="nested-colon"),
    pytest.param("a: 1\n---\nb: 2", "invalid YAML: found a second document ('---'): a config file holds one", None, "2:1", id="two-documents"),
    pytest.param("a: *nope", "invalid YAML: ", "", "1:4", id="undefined-alias"),
    pytest.param("a: 1\nb: x\x07", "invalid YAML: character #x0007 is not allowed", None, "2:5", id="control-char"),
    pytest.param("a: 1\nb: 2\na: 3", "duplicate key 'a' (first at line 1, again at line 3)", None, "3:1", id="duplicate-key"),
    pytest.param("m:\n  k: 1\n  k: 2", "duplicate key 'k' (first at line 2, again at line 3)", None, "3:3", id="duplicate-nested-key"),
    pytest.param("m: {k: 1, k: 2}", "duplicate key 'k' (first at line 1, again at line 1)", None, "1:11", id="duplicate-flow-key"),
    pytest.param("- 1\n- 2", "the top level of a config must be a mapping of field names, got a list", None, "1:1", id="top-level-list"),
    pytest.param("# c\n\njust text", "the top level of a config must be a mapping of field names, got a single value", None, "1:1", id="top-level-scalar"),
    pytest.param("a: 1\n1: x", "keys must be strings, got '1' (read as int; quote it)", None, "2:1", id="int-key"),
    pytest.param("on: push", "keys must be strings, got 'on' (read as bool; quote it)", None, "1:1", id="yaml11-bool-key"),
    pytest.param("~: 1", "keys must be strings, got '~' (read as null; quote it)", None, "1:1", id="null-key"),
    pytest.param("? [1]\n: 2", "keys must be strings, got a list or mapping", None, "1:3", id="list-key"),
    pytest.param("a: !foo 3", "unsupported YAML tag '!foo'", None, "1:4", id="custom-tag"),
    pytest.param("a: !!binary aGk=", "unsupported YAML tag '!!binary'", None, "1:4", id="binary-tag"),
    pytest.param("a: !!set {x}", "unsupported YAML tag '!!set' on a mapping", None, "1:4", id="set-tag"),
    pytest.param("a: !!int x", "invalid int value 'x'", None, "1:4", id="bad-explicit-int"),
]


@pytest.mark.parametrize("text, starts, contains, linecol", YAML_ERRORS)
def test_yaml_errors(text, starts, contains, linecol):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "conf/f.yaml")
    err = info.value
    if contains is None:  # a message of our own: exact
        assert err.message == starts
    else:  # HeyHi's prefix (and any hint of its own), then the YAML reader's wording, not asserted
        assert err.message.startswith(starts)
        assert contains in err.message
    assert err.where == f"conf/f.yaml:{linecol}"
    assert "\n" not in str(err)


def test_yaml_error_messages_exact():
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: 1\nb: 2\na: 3", "f.yaml")
    assert str(info.value) == "f.yaml:3:1: duplicate key 'a' (first at line 1, again at line 3)"


def test_yaml_depth_check_skips_strings_and_block_scalars():
    text = "a: |\n  " + "[" * 300 + "\nb: '" + "{" * 300 + "'\nc: \"" + "[" * 300 + "\"  # " + "[" * 300 + "\n"
    assert len(parse_yaml(text, "f").entries) == 3


def test_yaml_alias_bomb_is_stopped():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(ConfigError) as info:
        parse_yaml("\n".join(lines), "f")
    assert info.value.message == "more than 1000000 values once aliases are expanded"
    assert info.value.where == "f:1:1"


YAML_LIMITS = [
    pytest.param("a: &a [1, *a]", "recursive alias: this value contains itself", "1:4", id="recursive-list"),
    pytest.param("a: &a {b: *a}", "recursive alias: this value contains itself", "1:4", id="recursive-mapping"),
    pytest.param("a: &a {<<: *a}", "recursive alias: this value contains itself", "1:4", id="recursive-merge"),
    pytest.param("a: " + "[" * 101 + "]" * 101, "values nested more than 100 deep", "1:104", id="too-deep"),
    pytest.param("a: " + "[" * 5000 + "]" * 5000, "values nested more than 100 deep", "1:104", id="far-too-deep"),
    pytest.param("a:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(1500)), "values nested more than 100 deep",
                 "101:101", id="block-far-too-deep"),
    pytest.param("a:\n" + "  - " * 1500 + "x", "values nested more than 100 deep", "2:3", id="dashes-far-too-deep"),
]


@pytest.mark.parametrize("text, message, linecol", YAML_LIMITS)
def test_yaml_limits(text, message, linecol):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "f")
    assert info.value.message == message
    assert info.value.where == f"f:{linecol}"


def test_yaml_100_levels_are_fine():
    root = parse_yaml("a: " + "[" * 100 + "]" * 100, "f")
    value, depth = root.entries[0].value, 0
    while value.items:
        value, depth = value.items[0], depth + 1
    assert depth == 99


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------

JSON_OK = [
    pytest.param("{}", [], id="empty-object"),
    pytest.param('{"a": "x", "b": 1, "c": -2.5, "d": true, "e": false, "f": null}', [("a", ("string", "x")), ("b", ("int", 1)), ("c", ("float", -2.5)), ("d", ("bool", True)), ("e", ("bool", False)), ("f", ("null", None))], id="scalars"),
    pytest.param('{"a": 1e5, "b": 1E-3, "c": 2.0, "d": -0, "e": 12345678901234567890}', [("a", ("float", 100000.0)), ("b", ("float", 0.001)), ("c", ("float", 2.0)), ("d", ("int", 0)), ("e", ("int", 12345678901234567890))], id="numbers"),
    pytest.param('{"a": "1", "b": "true", "c": "null", "d": "yes", "e": "on"}', [("a", ("string", "1")), ("b", ("string", "true")), ("c", ("string", "null")), ("d", ("string", "yes")), ("e", ("string", "on"))], id="strings-stay-strings"),
    pytest.param('{"on": 1, "yes": 2, "1": 3, "null": 4}', [("on", ("int", 1)), ("yes", ("int", 2)), ("1", ("int", 3)), ("null", ("int", 4))], id="keys-any-string"),
    pytest.param('{"m": {"n": {"k": [1, "x", {"z": []}]}}}', [("m", [("n", [("k", ("list", [("int", 1), ("string", "x"), [("z", ("list", []))]]))])])], id="nested"),
    pytest.param('{"s": "a\\"b\\\\c\\/d\\n\\u00e9"}', [("s", ("string", 'a"b\\c/d\né'))], id="escapes"),
    pytest.param('{"s": "\\ud83d\\ude00!"}', [("s", ("string", "\U0001f600!"))], id="surrogate-pair"),
    pytest.param('{\n\t"a": 1,\n\t"b": [\n\t\t2\n\t]\n}', [("a", ("int", 1)), ("b", ("list", [("int", 2)]))], id="tab-indented"),
    pytest.param('{"a":1,"b":[2,3]}', [("a", ("int", 1)), ("b", ("list", [("int", 2), ("int", 3)]))], id="compact"),
    pytest.param('{"includes": [{"path": "x", "mount": "y"}]}', [("includes", ("list", [[("path", ("string", "x")), ("mount", ("string", "y"))]]))], id="includes"),
    pytest.param('{"a": Infinity, "b": -Infinity}', [("a", ("float", math.inf)), ("b", ("float", -math.inf))], id="infinity"),
]


@pytest.mark.parametrize("text, expected", JSON_OK)
def test_json(text, expected):
    assert dump(parse_json(text, "f.json")) == expected


def test_json_locations():
    text = '{\n  "a": 1,\n  "m": {"b": [true, "s"]}\n}'
    root = parse_json(text, "f.json")
    a, m = root.entries
    assert a.loc == Loc("f.json", 2, 3)
    assert a.value.loc == Loc("f.json", 2, 8)
    assert (m.loc.line, m.loc.col) == (3, 3)
    assert (m.value.loc.line, m.value.loc.col) == (3, 8)
    b = m.value.entries[0]
    assert (b.loc.line, b.loc.col) == (3, 9)
    true, s = b.value.items
    assert (true.loc.col, s.loc.col) == (15, 21)


def test_json_tab_locations_kept():
    root = parse_json('{\n\t"a": 1}', "f.json")
    assert root.entries[0].loc == Loc("f.json", 2, 2)


JSON_ERRORS = [
    pytest.param('{"a": [1, 2,]}', "invalid JSON: Expecting value (a trailing comma?)", "1:13", id="trailing-comma-list"),
    pytest.param('{\n  "a": 1,\n}', "invalid JSON: Expecting property name enclosed in double quotes (a trailing comma?)", "3:1", id="trailing-comma-object"),
    pytest.param('{"a": 1', "invalid JSON: Expecting ',' delimiter", "1:8", id="unclosed-object"),
    pytest.param("{'a': 1}", "invalid JSON: Expecting property name enclosed in double quotes", "1:2", id="single-quotes"),
    pytest.param('{"a": 1} x', "invalid JSON: Extra data", "1:10", id="extra-data"),
    pytest.param("", "invalid JSON: Expecting value", "1:1", id="empty"),
    pytest.param('{"a": tru}', "invalid JSON: Expecting value", "1:7", id="bad-literal"),
    pytest.param('{"a": "x\ty"}', "invalid JSON: Invalid control character at", "1:9", id="raw-tab-in-string"),
    pytest.param("[1, 2]", "the top level of a config must be a mapping of field names, got a list", "1:1", id="top-level-list"),
    pytest.param('"s"', "the top level of a config must be a mapping of field names, got a single value", "1:1", id="top-level-string"),
    pytest.param('{"a": 1,\n "a": 2}', "duplicate key 'a' (first at line 1, again at line 2)", "2:2", id="duplicate-key"),
]


@pytest.mark.parametrize("text, message, linecol", JSON_ERRORS)
def test_json_errors(text, message, linecol):
    with pytest.raises(ConfigError) as info:
        parse_json(text, "f.json")
    assert info.value.message == message
    assert info.value.where == f"f.json:{linecol}"
    assert "\n" not in str(info.value)


def test_json_key_too_long_for_the_yaml_reader():
    with pytest.raises(ConfigError) as info:
        parse_json('{"' + "k" * 2000 + '": 1}', "f.json")
    assert info.value.message.startswith("valid JSON that HeyHi cannot read: ")
    assert info.value.message.endswith("(keys longer than 1024 characters?)")
    assert info.value.where.startswith("f.json:1:")


def test_json_deep_nesting_is_a_config_error():
    text = '{"a": ' + "[" * 100000 + "]" * 100000 + "}"
    with pytest.raises(ConfigError) as info:
        parse_json(text, "f.json")
    assert "nested too deep" in info.value.message


# ---------------------------------------------------------------------------------------------
# parse_file: dispatch on the suffix
# ---------------------------------------------------------------------------------------------

SAME_CONFIG = {
    ".prototxt": 'includes { path: "base.yaml"; mount: "m" }\nm { a: 1 b: "x" }\n',
    ".pbtxt": 'includes { path: "base.yaml"; mount: "m" }\nm { a: 1 b: "x" }\n',
    ".txt": 'includes { path: "base.yaml"; mount: "m" }\nm { a: 1 b: "x" }\n',
    ".cfg": 'includes { path: "base.yaml"; mount: "m" }\nm { a: 1 b: "x" }\n',
    ".yaml": "includes:\n  - {path: base.yaml, mount: m}\nm:\n  a: 1\n  b: x\n",
    ".yml": "includes:\n  - {path: base.yaml, mount: m}\nm:\n  a: 1\n  b: x\n",
    ".YAML": "includes:\n  - {path: base.yaml, mount: m}\nm:\n  a: 1\n  b: x\n",
    ".json": '{"includes": [{"path": "base.yaml", "mount": "m"}], "m": {"a": 1, "b": "x"}}',
}


@pytest.mark.parametrize("suffix", [pytest.param(s, id=s) for s in SAME_CONFIG])
def test_parse_file_dispatch(tmp_path, suffix):
    path = tmp_path / f"conf{suffix}"
    path.write_text(SAME_CONFIG[suffix], encoding="utf-8")
    root = parse_file(path)
    assert root.entries[0].loc.file == str(path)
    kinds = {".yaml": "yaml", ".yml": "yaml", ".YAML": "yaml", ".json": "json"}.get(suffix, "text")
    if kinds == "text":
        assert dump(root) == [
            ("includes", [("path", ("string", "base.yaml")), ("mount", ("string", "m"))]),
            ("m", [("a", ("number", "1")), ("b", ("string", "x"))]),
        ]
    else:
        assert dump(root) == [
            ("includes", ("list", [[("path", ("string", "base.yaml")), ("mount", ("string", "m"))]])),
            ("m", [("a", ("int", 1)), ("b", ("string", "x"))]),
        ]


def test_parse_file_accepts_str_path(tmp_path):
    path = tmp_path / "c.prototxt"
    path.write_text("a: 1")
    assert parse_file(str(path)).entries[0].loc == Loc(str(path), 1, 1)


def test_parse_file_error_names_the_file(tmp_path):
    path = tmp_path / "bad.prototxt"
    path.write_text("m {\n  a: 1\n")
    with pytest.raises(ConfigError) as info:
        parse_file(path)
    assert str(info.value) == f"{path}:3:1: expected '}}' to close 'm' opened at 1:1, got end of file"


def test_parse_file_missing(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        parse_file(path)
    assert info.value.where == str(path)
    assert info.value.message == "cannot read config file: No such file or directory"


def test_parse_file_directory(tmp_path):
    with pytest.raises(ConfigError) as info:
        parse_file(tmp_path)
    assert info.value.where == str(tmp_path)
    assert info.value.message.startswith("cannot read config file: ")


def test_parse_file_not_utf8(tmp_path):
    path = tmp_path / "latin1.prototxt"
    path.write_bytes(b'a: 1\nb: "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        parse_file(path)
    assert str(info.value) == f"{path}:2:8: file is not UTF-8 text (byte 0xe9)"


def test_yaml_and_json_stay_unimported_for_prototxt(tmp_path):
    path = tmp_path / "c.prototxt"
    path.write_text("a: 1")
    code = (
        "import sys; from heyhi.config.yamljson import parse_file; "
        f"parse_file({str(path)!r}); print('yaml' in sys.modules, 'json' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]
