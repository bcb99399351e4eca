"""Edge behaviours that must match the original HeyHi (facebookresearch/diplomacy_cicero, ``heyhi/``),
each written from the original's source:

- a bad override is a ``ValueError`` there (``conf._apply_scalar_override``): HeyHi's ``ConfigError`` is one;
- ``--print`` is protobuf's ``text_format.MessageToString``: strings as their UTF-8 bytes, every byte
  outside printable ASCII as a 3-digit octal escape (``text_encoding.CEscape(..., as_utf8=False)``),
  and HeyHi's text-format parser reads that back to the same string; ``--print-flat`` is ``repr()``-based
  and shows strings as they are;
- override values go through Python's ``int()`` / ``float()`` (``010`` is 10, ``1e39`` on a float32
  field is inf) and bools through ``value.lower() in ("true", "false", "0", "1")``;
- Python values assigned to a config pass protobuf's checks (a float for an int field is a TypeError).

Where the original crashed (an assertion, a ``KeyError`` traceback) HeyHi gives its one-line error.
"""

from __future__ import annotations

import math
import random

import pytest

import heyhi
from conftest import run_cli
from heyhi.config.textformat import parse, quote_bytes, quote_string
from heyhi.errors import ConfigError, ConfigTypeError, HeyHiError

SCHEMA = """\
syntax = "proto2";
package edges;
message Include { optional string path = 1; optional string mount = 2; }
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Sub { optional int32 subscalar = 1; }
message EdgeTask {
  optional int32 seed = 1;
  optional uint32 count = 2;
  optional float lr = 3;
  optional double eps = 4;
  optional bool flag = 5;
  optional string name = 6;
  optional bytes blob = 7;
  optional Color color = 8;
  optional Sub sub = 9;
  repeated string names = 10;
  map<string, string> notes = 11;
  optional int64 big = 12;
}
message MetaCfg { repeated Include includes = 1; oneof task { EdgeTask edge = 2; } }
"""

CFG = "conf/t/t.prototxt"


@pytest.fixture(scope="module")
def edge_proj(tmp_path_factory):
    root = tmp_path_factory.mktemp("edges") / "proj"
    (root / "conf" / "t").mkdir(parents=True)
    (root / "conf" / "conf.proto").write_text(SCHEMA)
    (root / CFG).write_text("edge {\n  seed: 1\n  sub { subscalar: 7 }\n}\n")
    return root


def _print(proj, *overrides, flag="--print"):
    return run_cli(["run", "-c", CFG, flag, *overrides], cwd=proj, timeout=60)


def _one_line_error(r) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# ---- ConfigError is a ValueError -------------------------------------------------------------


def test_config_error_is_a_value_error_and_a_heyhi_error():
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, HeyHiError)
    assert issubclass(ConfigTypeError, ConfigError) and issubclass(ConfigTypeError, TypeError)
    e = ConfigError("bad", "here")
    assert str(e) == "here: bad" and e.where == "here" and e.message == "bad"


def test_a_bad_override_is_caught_as_value_error(edge_proj):
    """The original: ``sub.subscalar=20.5`` on an int32 field raised ValueError ("Value for ... should
    be of type int"); users wrote ``except ValueError`` around ``load_config``."""
    with pytest.raises(ValueError) as e:
        heyhi.load_config(edge_proj / CFG, ["sub.subscalar=20.5"])
    assert isinstance(e.value, ConfigError)
    assert "'sub.subscalar' expects int32 (an integer), got '20.5'" in str(e.value)


@pytest.mark.parametrize("override, words", [
    pytest.param("sub.subscalar=20.5", "'sub.subscalar' expects int32 (an integer), got '20.5'", id="float-on-int"),
    pytest.param("seed=1_000", "'seed' expects int32, got '1_000': numbers are ASCII digits without '_' separators",
                 id="underscore-int"),
    pytest.param("lr=1_0.5", "'lr' expects float, got '1_0.5': numbers are ASCII digits without '_' separators",
                 id="underscore-float"),
    pytest.param("seed=abc_def", "'seed' expects int32 (an integer), got 'abc_def'", id="not-a-number"),
])
def test_bad_number_overrides_keep_their_own_message(edge_proj, override, words):
    """The '_' rule raises ConfigError from inside code that catches ValueError: it must get through."""
    line = _one_line_error(_print(edge_proj, override))
    assert line.startswith("heyhi: ") and line.endswith(words)


# ---- strings in --print as protobuf's text_format prints them ---------------------------------

# protobuf's text_encoding._cescape_byte_to_str, restated from its source (CEscape, as_utf8=False).
_PB_BYTE = ([r"\%03o" % i for i in range(32)] + [chr(i) for i in range(32, 127)]
            + [r"\%03o" % i for i in range(127, 256)])
for _b, _s in {9: r"\t", 10: r"\n", 13: r"\r", 34: r"\"", 39: r"\'", 92: r"\\"}.items():
    _PB_BYTE[_b] = _s


def protobuf_quoted(value: str | bytes) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return '"' + "".join(_PB_BYTE[b] for b in data) + '"'


HOSTILE = [
    "", "plain", "é", "naïve café", "中文", "\U0001f600", "e\u0301", "\ufeffbom", "line\u2028sep\u2029",
    "a\nb\tc\rd", "\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f", "\x80\x9f\xa0\xff", 'say "hi"', "it's", "back\\slash",
    "\\303\\251", "\\", '"', "'", "\\n", "#not a comment", "{ }", "a: b", "\U0010ffff", "\ufffd", "tab\t\ttab",
    "\\x41\\u00e9", "?\\?", "0", "-inf", "NULL", " lead and trail ",
]


def _random_strings(n: int, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    pools = [range(0, 128), range(128, 0x800), range(0x800, 0xD800), range(0xE000, 0x10000), range(0x10000, 0x110000)]
    out = []
    for _ in range(n):
        out.append("".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randrange(0, 16))))
    return out


@pytest.mark.parametrize("s", HOSTILE + _random_strings(300))
def test_quote_string_is_protobufs_and_reads_back(s):
    quoted = quote_string(s)
    assert quoted == protobuf_quoted(s)
    assert quoted.isascii() and "\n" not in quoted
    (entry,) = parse(f"a: {quoted}\n").entries
    assert entry.value.value == s


@pytest.mark.parametrize("data", [b"", b"abc", b"\x00\xff\x80", "é".encode(), bytes(range(256))])
def test_quote_bytes_is_protobufs(data):
    assert quote_bytes(data) == protobuf_quoted(data)


def test_print_escapes_non_ascii_and_control_characters(edge_proj):
    r = _print(edge_proj, "name=é中", 'names.-1=a"b\'c\\d\te\nf', "notes.clé=v\x7f", "blob=é")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert r'name: "\303\251\344\270\255"' in out
    assert r'names: "a\"b\'c\\d\te\nf"' in out
    assert r'  key: "cl\303\251"' in out and r'  value: "v\177"' in out
    assert r'blob: "\303\251"' in out
    assert r.stdout.isascii()


def test_print_flat_shows_strings_as_they_are(edge_proj):
    """The original's --print-flat prints ``"%s=%s" % (k, v)``, ``repr(v)`` for a string with a space."""
    r = _print(edge_proj, "name=é中", "notes.k=a é", flag="--print-flat")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert "name=é中" in out and "notes.k='a é'" in out


@pytest.mark.parametrize("s", HOSTILE)
def test_a_printed_config_loads_back_the_same(edge_proj, tmp_path, s):
    """str(config) -> file -> load_config: the same string (and the same bytes in a bytes field)."""
    ed = heyhi.load_config(edge_proj / CFG).to_editable()
    ed.edge.name = s
    ed.edge.names = [s, "x"]
    ed.edge.blob = s.encode("utf-8")
    text = str(ed)
    assert text.isascii()
    path = edge_proj / "conf" / "t" / f"again_{abs(hash(s))}.prototxt"
    path.write_text(text)
    again = heyhi.load_config(path)
    assert again.edge.name == s and tuple(again.edge.names) == (s, "x") and again.edge.blob == s.encode("utf-8")
    assert str(again) == text


# ---- numbers and bools as the original read them -------------------------------------------------


@pytest.mark.parametrize("override, line", [
    pytest.param("seed=010", "seed: 10", id="leading-zero-is-decimal"),
    pytest.param("seed=-0", "seed: 0", id="minus-zero"),
    pytest.param("seed=+5", "seed: 5", id="plus-sign"),
    pytest.param("seed= 5 ", "seed: 5", id="spaces"),
    pytest.param("big=-9223372036854775808", "big: -9223372036854775808", id="int64-min"),
    pytest.param("seed=0x10", "seed: 16", id="hex-heyhi-extension"),  # the original: ValueError
    pytest.param("lr=1e39", "lr: inf", id="float32-overflow-is-inf"),
    pytest.param("lr=-1e39", "lr: -inf", id="float32-overflow-is-minus-inf"),
    pytest.param("eps=1e39", "eps: 1e+39", id="double-keeps-1e39"),
    pytest.param("eps=1e309", "eps: inf", id="double-overflow-is-inf"),
    pytest.param("lr=nan", "lr: nan", id="nan"),
    pytest.param("lr=inf", "lr: inf", id="inf"),
    pytest.param("eps=-inf", "eps: -inf", id="minus-inf"),
    pytest.param("eps=-Infinity", "eps: -inf", id="minus-infinity"),
    pytest.param("lr=0.1", "lr: 0.1", id="float32-shortest"),
    pytest.param("flag=True", "flag: true", id="True"),
    pytest.param("flag=TRUE", "flag: true", id="TRUE"),
    pytest.param("flag=0", "flag: false", id="bool-0"),
    pytest.param("color=1", "color: GREEN", id="enum-by-number"),
    pytest.param("color=BLUE", "color: BLUE", id="enum-by-name"),
])
def test_override_values_read_as_the_original(edge_proj, override, line):
    r = _print(edge_proj, override)
    assert r.returncode == 0, r.stderr
    assert line in r.stdout.splitlines()


@pytest.mark.parametrize("override, words", [
    pytest.param("flag=yes", "'flag' expects bool (true/false/1/0), got 'yes'", id="bool-yes"),  # the original: assert
    pytest.param("color=PURPLE", "'color' expects enum Color: 'PURPLE' is not one of RED, GREEN, BLUE",
                 id="enum-unknown"),  # the original: KeyError traceback
    pytest.param("color=7", "'color' expects enum Color: '7' is not one of RED, GREEN, BLUE", id="enum-bad-number"),
    pytest.param("count=-1", "'count' expects uint32: -1 is out of range [0, 4294967295]", id="uint-negative"),
    pytest.param("seed=2147483648", "'seed' expects int32: 2147483648 is out of range", id="int32-overflow"),
    pytest.param("seed=1e3", "'seed' expects int32 (an integer), got '1e3'", id="exponent-on-int"),
    pytest.param("lr=0x10", "'lr' expects float (a number), got '0x10'", id="hex-on-float"),
    pytest.param("lr=2.5ff", "'lr' expects float (a number), got '2.5ff'", id="two-f-suffixes"),
])
def test_override_values_the_original_refused_are_one_line(edge_proj, override, words):
    line = _one_line_error(_print(edge_proj, override))
    assert words in line


def test_float32_overflow_warns_once(edge_proj):
    r = _print(edge_proj, "lr=1e39")
    assert r.returncode == 0
    assert r.stderr.strip() == ("heyhi: warning: override 'lr=1e39': 'lr' is a float (float32): 1e39 is beyond "
                                "its range and becomes inf")


def test_numbers_through_composition(edge_proj):
    composed = heyhi.compose(edge_proj / CFG, ["seed=010", "lr=1e39", "eps=1e39", "color=2", "flag=TRUE"])
    t = composed.task_msg
    assert t.seed == 10 and t.lr == math.inf and t.eps == 1e39 and t.flag is True
    assert heyhi.load_config(edge_proj / CFG, ["color=2"]).edge.color == "BLUE"


# ---- Python values assigned to an editable config -------------------------------------------------


def _editable(proj):
    return heyhi.load_config(proj / CFG).to_editable().edge


@pytest.mark.parametrize("field, value, stored", [
    pytest.param("name", "é x", "é x", id="str-to-string"),
    pytest.param("name", "", "", id="empty-str-to-string"),
    pytest.param("name", "é".encode(), "é", id="utf8-bytes-to-string"),  # protobuf decodes them
    pytest.param("blob", b"\x00\xff", b"\x00\xff", id="bytes-to-bytes"),
    pytest.param("blob", "é", "é".encode(), id="str-to-bytes-heyhi"),  # HeyHi reads a str as an override value
    pytest.param("eps", 2, 2.0, id="int-to-double"),
    pytest.param("lr", 0.1, 0.1, id="float-to-float32"),
    pytest.param("lr", 1e39, math.inf, id="float32-overflow"),
    pytest.param("seed", True, 1, id="bool-to-int"),  # protobuf takes anything with __index__
    pytest.param("seed", "010", 10, id="str-to-int-as-override"),
    pytest.param("flag", 1, True, id="int-to-bool"),
    pytest.param("color", "GREEN", 1, id="enum-by-name"),
    pytest.param("color", 2, 2, id="enum-by-number"),
    pytest.param("names", ["a", "é"], ["a", "é"], id="list-of-str"),
])
def test_assignment_stores(edge_proj, field, value, stored):
    t = _editable(edge_proj)
    setattr(t, field, value)
    got = getattr(t, field)
    assert (list(got) if field == "names" else got) == stored
    assert type(got if field != "names" else got[0]) is type(stored if field != "names" else stored[0])


@pytest.mark.parametrize("field, value, words", [
    pytest.param("name", 5, "'name' expects string, got int 5", id="int-to-string"),
    pytest.param("name", 2.5, "'name' expects string, got float 2.5", id="float-to-string"),
    pytest.param("name", True, "'name' expects string, got bool True", id="bool-to-string"),
    pytest.param("seed", 2.0, "'seed' expects int32, got float 2.0", id="float-to-int"),
    pytest.param("flag", 0.0, "'flag' expects bool, got float 0.0", id="float-to-bool"),
    pytest.param("blob", bytearray(b"x"), "'blob' expects bytes, got bytearray", id="bytearray-to-bytes"),
    pytest.param("eps", [1.0], "'eps' expects double, got list [1.0]", id="list-to-double"),
])
def test_assignment_of_a_wrong_type_is_a_type_error(edge_proj, field, value, words):
    t = _editable(edge_proj)
    with pytest.raises(TypeError) as e:
        setattr(t, field, value)
    assert isinstance(e.value, ConfigTypeError) and isinstance(e.value, ValueError)
    assert words in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("field, value, words", [
    pytest.param("seed", 2**31, "'seed' expects int32: 2147483648 is out of range", id="int32-range"),
    pytest.param("count", -1, "'count' expects uint32: -1 is out of range", id="uint32-range"),
    pytest.param("color", 7, "'color' expects enum Color: 7 is not one of its numbers", id="enum-number"),
    pytest.param("color", "PURPLE", "'color' expects enum Color: 'PURPLE' is not one of", id="enum-name"),
    pytest.param("name", b"\xff", "'name' expects string: b'\\xff' is not UTF-8", id="bytes-not-utf8"),
    pytest.param("name", "a\udcff", "'name' expects string: 'a\\udcff' holds '\\udcff', which is not Unicode text",
                 id="lone-surrogate"),
    pytest.param("eps", 10**400, "'eps' expects double: ", id="int-beyond-float"),
])
def test_assignment_of_a_bad_value_is_a_value_error(edge_proj, field, value, words):
    t = _editable(edge_proj)
    with pytest.raises(ValueError) as e:
        setattr(t, field, value)
    assert isinstance(e.value, ConfigError) and not isinstance(e.value, TypeError)
    assert words in str(e.value) and "\n" not in str(e.value)
