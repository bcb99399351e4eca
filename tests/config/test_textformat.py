"""heyhi.config.textformat: protobuf text format -> untyped tree, value converters, printing helpers."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from heyhi.errors import ConfigError
from heyhi.config.textformat import format_float, parse, parse_bool, parse_float, parse_int, quote_string
from heyhi.config.tree import Entry, ListValue, Loc, Node, Scalar

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpus/heyhi_cicero"


def dump(value):
    """The tree as plain Python data: Node -> list of (name, value); ListValue -> ("list", [...])."""
    if isinstance(value, Node):
        return [(e.name, dump(e.value)) for e in value.entries]
    if isinstance(value, ListValue):
        return ("list", [dump(v) for v in value.items])
    assert isinstance(value, Scalar)
    return (value.kind, value.value)


def N(v):
    return ("number", v)


def I(v):
    return ("ident", v)


def S(v):
    return ("string", v)


# ---------------------------------------------------------------------------------------------
# Grammar
# ---------------------------------------------------------------------------------------------

GRAMMAR = [
    pytest.param("", [], id="empty"),
    pytest.param("  # only a comment\n\n", [], id="only-comment"),
    pytest.param("a: 1", [("a", N("1"))], id="scalar-field"),
    pytest.param("a:1", [("a", N("1"))], id="no-space-after-colon"),
    pytest.param("a: 1 # trailing comment\nb: 2", [("a", N("1")), ("b", N("2"))], id="comment-eol"),
    pytest.param('a: "x # not a comment"', [("a", S("x # not a comment"))], id="hash-in-string"),
    pytest.param("m { a: 1 }", [("m", [("a", N("1"))])], id="message-brace"),
    pytest.param("m: { a: 1 }", [("m", [("a", N("1"))])], id="message-colon-brace"),
    pytest.param("m < a: 1 >", [("m", [("a", N("1"))])], id="message-angle"),
    pytest.param("m: < a: 1 >", [("m", [("a", N("1"))])], id="message-colon-angle"),
    pytest.param("m {}", [("m", [])], id="empty-message"),
    pytest.param("m { n { o { a: 1 } } }", [("m", [("n", [("o", [("a", N("1"))])])])], id="nested"),
    pytest.param("a: 1; b: 2, c: 3", [("a", N("1")), ("b", N("2")), ("c", N("3"))], id="separators"),
    pytest.param("m { a: 1; }; n { b: 2, },", [("m", [("a", N("1"))]), ("n", [("b", N("2"))])], id="sep-after-messages"),
    pytest.param("a: 1 b: 2", [("a", N("1")), ("b", N("2"))], id="same-line-no-separator"),
    pytest.param("a: [1]; b: {c: 1},", [("a", ("list", [N("1")])), ("b", [("c", N("1"))])], id="sep-after-list"),
    pytest.param("m{a:1}n<b:'x'>", [("m", [("a", N("1"))]), ("n", [("b", S("x"))])], id="no-spaces"),
    pytest.param("a: 1\na: 2\na: 3", [("a", N("1")), ("a", N("2")), ("a", N("3"))], id="repeated-scalar"),
    pytest.param("m { a: 1 } m { a: 2 }", [("m", [("a", N("1"))]), ("m", [("a", N("2"))])], id="repeated-message"),
    pytest.param("a: [1, 2, 3]", [("a", ("list", [N("1"), N("2"), N("3")]))], id="list-numbers"),
    pytest.param("a: []", [("a", ("list", []))], id="empty-list"),
    pytest.param("a: [ ]\n", [("a", ("list", []))], id="empty-list-spaces"),
    pytest.param('a: ["x", \'y\', Z]', [("a", ("list", [S("x"), S("y"), I("Z")]))], id="list-mixed-scalars"),
    pytest.param("a: [{b: 1}, {b: 2}]", [("a", ("list", [[("b", N("1"))], [("b", N("2"))]]))], id="list-messages"),
    pytest.param("a [{b: 1}, <b: 2>]", [("a", ("list", [[("b", N("1"))], [("b", N("2"))]]))], id="list-messages-no-colon"),
    pytest.param("a: [\n  1,  # one\n  2\n]", [("a", ("list", [N("1"), N("2")]))], id="list-multiline-comments"),
    pytest.param("a: ['x' \"y\", 'z']", [("a", ("list", [S("xy"), S("z")]))], id="list-concat-strings"),
    # strings
    pytest.param('a: "double"', [("a", S("double"))], id="string-double"),
    pytest.param("a: 'single'", [("a", S("single"))], id="string-single"),
    pytest.param('a: ""', [("a", S(""))], id="string-empty"),
    pytest.param("""a: "it's" b: 'say "hi"'""", [("a", S("it's")), ("b", S('say "hi"'))], id="other-quote-inside"),
    pytest.param(r'a: "\n\t\r\\\'\""', [("a", S("\n\t\r\\'\""))], id="escapes-simple"),
    pytest.param(r'a: "\a\b\f\v\?"', [("a", S("\a\b\f\v?"))], id="escapes-c"),
    pytest.param(r'a: "\x41\x4a\xa"', [("a", S("AJ\n"))], id="escape-hex"),
    pytest.param(r'a: "\101\60\0"', [("a", S("A0\0"))], id="escape-octal"),
    pytest.param(r'a: "\1011"', [("a", S("A1"))], id="escape-octal-max-3-digits"),
    pytest.param(r'a: "\303\251"', [("a", S("é"))], id="escape-octal-utf8-bytes"),
    pytest.param(r'a: "\u00e9\u4e2d"', [("a", S("é中"))], id="escape-u"),
    pytest.param(r'a: "\U0001F600"', [("a", S("\U0001f600"))], id="escape-U"),
    pytest.param(r'a: "\ud83d\ude00"', [("a", S("\U0001f600"))], id="escape-surrogate-pair"),
    pytest.param('a: "é中 ünïcode"', [("a", S("é中 ünïcode"))], id="utf8-literal"),
    pytest.param("a: \"a\" 'b'", [("a", S("ab"))], id="concat-adjacent"),
    pytest.param('a: "a"\n  # comment\n  "b" "c"\nd: 1', [("a", S("abc")), ("d", N("1"))], id="concat-multiline"),
    # numbers
    pytest.param("a: 0", [("a", N("0"))], id="zero"),
    pytest.param("a: 42", [("a", N("42"))], id="int"),
    pytest.param("a: -5", [("a", N("-5"))], id="negative-int"),
    pytest.param("a: 0x1F", [("a", N("0x1F"))], id="hex"),
    pytest.param("a: -0x1F", [("a", N("-0x1F"))], id="negative-hex"),
    pytest.param("a: 017", [("a", N("017"))], id="octal"),
    pytest.param("a: 1.5", [("a", N("1.5"))], id="float"),
    pytest.param("a: .5", [("a", N(".5"))], id="float-leading-dot"),
    pytest.param("a: 1.", [("a", N("1."))], id="float-trailing-dot"),
    pytest.param("a: 1e-3", [("a", N("1e-3"))], id="float-exp"),
    pytest.param("a: 2.5E+10", [("a", N("2.5E+10"))], id="float-exp-upper"),
    pytest.param("a: 1.0f", [("a", N("1.0f"))], id="float-f-suffix"),
    pytest.param("a: 1.0F", [("a", N("1.0F"))], id="float-F-suffix"),
    pytest.param("a: -1.5", [("a", N("-1.5"))], id="negative-float"),
    pytest.param("a: -.5e2f", [("a", N("-.5e2f"))], id="negative-dot-exp-f"),
    pytest.param("a: [1,-2,3.5]", [("a", ("list", [N("1"), N("-2"), N("3.5")]))], id="numbers-tight-list"),
    # identifiers
    pytest.param("a: AUSTRIA", [("a", I("AUSTRIA"))], id="enum"),
    pytest.param("a: true b: false c: t d: f", [("a", I("true")), ("b", I("false")), ("c", I("t")), ("d", I("f"))], id="bools"),
    pytest.param("a: True b: False", [("a", I("True")), ("b", I("False"))], id="bools-capital"),
    pytest.param("a: inf b: -inf c: infinity d: nan", [("a", I("inf")), ("b", I("-inf")), ("c", I("infinity")), ("d", I("nan"))], id="float-idents"),
    pytest.param("a: -Infinity", [("a", I("-Infinity"))], id="negative-ident"),
    pytest.param("_a1: x_2", [("_a1", I("x_2"))], id="underscore-names"),
    pytest.param("includes { path: \"x\"; mount: \"y\" }", [("includes", [("path", S("x")), ("mount", S("y"))])], id="include"),
    pytest.param("\ufeffa: 1", [("a", N("1"))], id="utf8-bom"),
    pytest.param("a: 1\r\nb: 'x'\r\n", [("a", N("1")), ("b", S("x"))], id="crlf"),
    pytest.param("a:\t1\n\tb:\t2", [("a", N("1")), ("b", N("2"))], id="tabs"),
]


@pytest.mark.parametrize("text, expected", GRAMMAR)
def test_grammar(text, expected):
    assert dump(parse(text, "f.prototxt")) == expected


def test_locations():
    text = 'a: 1\nm {\n  b: "x"\n  "y"\n  c: [7, {d: -inf}]\n}\n'
    root = parse(text, "conf/x.prototxt")
    assert root.loc == Loc("conf/x.prototxt", 1, 1)
    a, m = root.entries
    assert a == Entry("a", Scalar("number", "1", Loc("conf/x.prototxt", 1, 4)), Loc("conf/x.prototxt", 1, 1))
    assert m.loc == Loc("conf/x.prototxt", 2, 1)
    assert m.value.loc == Loc("conf/x.prototxt", 2, 3)  # the '{'
    b, c = m.value.entries
    assert (b.loc.line, b.loc.col) == (3, 3)
    assert (b.value.loc.line, b.value.loc.col) == (3, 6)  # the first of the concatenated strings
    assert b.value.value == "xy"
    assert (c.loc.line, c.loc.col) == (5, 3)
    assert (c.value.loc.line, c.value.loc.col) == (5, 6)  # the '['
    seven, msg = c.value.items
    assert (seven.loc.line, seven.loc.col) == (5, 7)
    assert (msg.loc.line, msg.loc.col) == (5, 10)
    d = msg.entries[0]
    assert (d.loc.line, d.loc.col, d.value.loc.col, d.value.value) == (5, 11, 14, "-inf")
    assert str(d.loc) == "conf/x.prototxt:5:11"


def test_default_file_name():
    assert str(parse("a: 1").entries[0].loc) == "<string>:1:1"


def test_locations_after_bom_and_crlf():
    root = parse("\ufeffa: 1\r\n  b: 2\r\n", "f")
    assert [(e.loc.line, e.loc.col) for e in root.entries] == [(1, 1), (2, 3)]


# ---------------------------------------------------------------------------------------------
# Errors: one line, ConfigError, file:line:col
# ---------------------------------------------------------------------------------------------

ERRORS = [
    pytest.param("a {\n  rollouts_cfg {\n    x: 1\n", "expected '}' to close 'rollouts_cfg' opened at 2:3, got end of file", "4:1", id="missing-close-brace"),
    pytest.param("m { a: 1", "expected '}' to close 'm' opened at 1:1, got end of file", "1:9", id="missing-close-same-line"),
    pytest.param("m < a: 1 }", "expected '>' to close 'm' opened at 1:1, got '}'", "1:10", id="angle-closed-by-brace"),
    pytest.param("m { a: 1 >", "expected '}' to close 'm' opened at 1:1, got '>'", "1:10", id="brace-closed-by-angle"),
    pytest.param("a: 1\n}", "unexpected '}': no message is open here", "2:1", id="stray-close"),
    pytest.param('a: "abc\nb: 1', 'unterminated string: no closing " before the end of the line', "1:4", id="unterminated-double"),
    pytest.param("a: 1\nb: 'abc", "unterminated string: no closing ' before the end of the line", "2:4", id="unterminated-single-eof"),
    pytest.param('a: "ab\\', 'unterminated string: no closing " before the end of the line', "1:4", id="unterminated-backslash-eof"),
    pytest.param('a: "x" "y', 'unterminated string: no closing " before the end of the line', "1:8", id="unterminated-second-part"),
    pytest.param('a: "ok \\q"', "invalid escape '\\q' in string", "1:8", id="bad-escape"),
    pytest.param('a: "\\x"', "invalid escape '\\x' in string", "1:5", id="bad-hex-escape"),
    pytest.param('a: "\\u12"', "invalid escape '\\u' in string", "1:5", id="short-u-escape"),
    pytest.param('a: "\\400"', "invalid octal escape '\\400' (above \\377)", "1:5", id="octal-too-big"),
    pytest.param('a: "\\U00110000"', "invalid unicode escape '\\U00110000'", "1:5", id="U-too-big"),
    pytest.param('a: "\\ud800"', "invalid unicode escape '\\ud800'", "1:5", id="lone-surrogate"),
    pytest.param('a: "\\377"', "string is not valid UTF-8 once its escapes are decoded", "1:4", id="not-utf8"),
    pytest.param("a: [1, 2\n", "expected ']' to close list 'a' opened at 1:4, got end of file", "2:1", id="list-not-closed"),
    pytest.param("a: [", "expected ']' to close list 'a' opened at 1:4, got end of file", "1:5", id="list-open-eof"),
    pytest.param("a: [1, 2\nb: 3", "expected ',' or ']' in list 'a' opened at 1:4, got 'b'", "2:1", id="list-not-closed-next-field"),
    pytest.param("a: [1 2]", "expected ',' or ']' in list 'a' opened at 1:4, got '2'", "1:7", id="list-missing-comma"),
    pytest.param("a: [1,]", "expected a value in list 'a', got ']'", "1:7", id="list-trailing-comma"),
    pytest.param("a: [,]", "expected a value in list 'a', got ','", "1:5", id="list-leading-comma"),
    pytest.param("a: ]", "expected a value for 'a', got ']'", "1:4", id="stray-close-bracket-value"),
    pytest.param("a: 1 ]", "expected a field name, got ']'", "1:6", id="stray-close-bracket-top"),
    pytest.param("a [1]", "expected ':' before '[' in field 'a' (only a list of messages may leave it out)", "1:3", id="scalar-list-without-colon"),
    pytest.param("a: [{b: 1}", "expected ']' to close list 'a' opened at 1:4, got end of file", "1:11", id="message-list-not-closed"),
    pytest.param("a: [{b: 1]", "expected '}' to close 'a' opened at 1:5, got ']'", "1:10", id="message-in-list-not-closed"),
    pytest.param("a 1", "expected ':' or '{' after field name 'a', got '1'", "1:3", id="missing-colon"),
    pytest.param("a", "expected ':' or '{' after field name 'a', got end of file", "1:2", id="name-only"),
    pytest.param("a: ", "expected a value for 'a', got end of file", "1:4", id="missing-value-eof"),
    pytest.param("m { a: }", "expected a value for 'a', got '}'", "1:8", id="missing-value-close"),
    pytest.param("a: :", "expected a value for 'a', got ':'", "1:4", id="double-colon"),
    pytest.param("a: - 5", "expected a value for 'a', got '-'", "1:4", id="detached-minus"),
    pytest.param("a: 1.2.3", "invalid number '1.2.3'", "1:4", id="bad-number-dots"),
    pytest.param("a: 12abc", "invalid number '12abc'", "1:4", id="bad-number-letters"),
    pytest.param("a: 0x", "invalid number '0x'", "1:4", id="bad-hex"),
    pytest.param("a: 1e", "invalid number '1e'", "1:4", id="bad-exponent"),
    pytest.param("1: 2", "expected a field name, got '1'", "1:1", id="number-as-name"),
    pytest.param("-a: 1", "expected a field name, got '-a'", "1:1", id="negative-name"),
    pytest.param('"a": 1', 'expected a field name, got string "a"', "1:1", id="string-as-name"),
    pytest.param("a: 1;; b: 2", "expected a field name, got ';'", "1:6", id="double-separator"),
    pytest.param("a: 1\n  @b: 2", "expected a field name, got '@'", "2:3", id="unexpected-char"),
    pytest.param("é: 1", "expected a field name, got 'é'", "1:1", id="non-ascii-name"),
    pytest.param("a: 1\n\x00", "expected a field name, got '\\x00'", "2:1", id="nul-shown-escaped"),
    pytest.param("[foo.bar]: 1", "extension and Any field names ('[type.name]') are not supported", "1:1", id="extension"),
    pytest.param("m { [type.googleapis.com/x.Y] { } }", "extension and Any field names ('[type.name]') are not supported", "1:5", id="any"),
    pytest.param("a: " + "x" * 60 + "1 1", "expected a field name, got '1'", "1:66", id="long-line-col"),
    pytest.param("a: 'x' " + '"' + "y" * 50 + '" 2', "expected a field name, got '2'", "1:61", id="after-long-string"),
    pytest.param("a: 1 " + '"' + "y" * 50 + '"', 'expected a field name, got string "' + "y" * 36 + "...", "1:6", id="long-token-truncated"),
]


@pytest.mark.parametrize("text, message, linecol", ERRORS)
def test_errors(text, message, linecol):
    with pytest.raises(ConfigError) as info:
        parse(text, "conf/f.prototxt")
    err = info.value
    assert err.message == message
    assert err.where == f"conf/f.prototxt:{linecol}"
    assert "\n" not in str(err)
    assert str(err) == f"conf/f.prototxt:{linecol}: {message}"


def test_deep_nesting_is_a_config_error():
    depth = 5000
    with pytest.raises(ConfigError) as info:
        parse("m { " * depth + "}" * depth, "f")
    assert info.value.message == "messages nested more than 100 deep"
    assert info.value.where == "f:1:403"  # the 101st '{'  
    # 100 levels are fine
    root = parse("m { " * 100 + "}" * 100, "f")
    assert root.entries[0].name == "m"


SAMPLE = """# sample
includes { path: "a/b.prototxt"; mount: "x.y" }
m: < a: -0x1F, b: 1.5e-3f; c: 'q\\'' "\\303\\251" >
l: [1, -inf, "s", E]
ms [{k: 1}, <k: 2>]
e: []
"""


@pytest.mark.parametrize("cut", range(len(SAMPLE) + 1))
def test_every_prefix_parses_or_raises_config_error(cut):
    """No input makes the parser fail with anything but a one-line ConfigError."""
    try:
        parse(SAMPLE[:cut], "f")
    except ConfigError as e:
        assert "\n" not in str(e)
        assert e.where.startswith("f:")


def test_sample_parses_fully():
    assert dump(parse(SAMPLE)) == [
        ("includes", [("path", S("a/b.prototxt")), ("mount", S("x.y"))]),
        ("m", [("a", N("-0x1F")), ("b", N("1.5e-3f")), ("c", S("q'é"))]),
        ("l", ("list", [N("1"), I("-inf"), S("s"), I("E")])),
        ("ms", ("list", [[("k", N("1"))], [("k", N("2"))]])),
        ("e", ("list", [])),
    ]


# ---------------------------------------------------------------------------------------------
# The corpus: every .prototxt of the original project must parse
# ---------------------------------------------------------------------------------------------

CORPUS_FILES = sorted(CORPUS.rglob("*.prototxt")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} is missing")
def test_corpus_is_there():
    rel = {p.relative_to(CORPUS).parts[0] for p in CORPUS_FILES}
    assert rel == {"conf", "heyhi_tests_data"}
    assert len(CORPUS_FILES) >= 40


@pytest.mark.parametrize(
    "path", CORPUS_FILES or [None], ids=[str(p.relative_to(CORPUS)) for p in CORPUS_FILES] or ["no-corpus"]
)
def test_corpus_file_parses(path):
    if path is None:
        pytest.skip(f"corpus folder {CORPUS} is missing")
    root = parse(path.read_text(encoding="utf-8"), str(path))
    assert root.entries, "every corpus config sets at least one field"

    def walk(node):
        for e in node.entries:
            assert e.loc.file == str(path) and e.loc.line >= 1 and e.loc.col >= 1
            values = e.value.items if isinstance(e.value, ListValue) else [e.value]
            for v in values:
                if isinstance(v, Node):
                    walk(v)
                else:
                    assert isinstance(v, Scalar) and v.kind in ("string", "number", "ident")
                    if v.kind == "number":
                        (parse_int if v.value.lstrip("-").isdigit() else parse_float)(v.value)

    walk(root)


def _corpus_file(rel: str) -> Path:
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def test_corpus_includes_and_separators():
    path = _corpus_file("heyhi_tests_data/root_with_includes_redefined.prototxt")
    assert dump(parse(path.read_text(), "f")) == [
        ("includes", [("mount", S("sub")), ("path", S("redefine_subscalar_22"))]),
        ("includes", [("mount", S("sub2")), ("path", S("redefine_subscalar_22"))]),
        ("test", [("sub2", [("subscalar", N("99"))])]),
    ]
    path = _corpus_file("heyhi_tests_data/redefine_message_with_include.prototxt")  # ';' before '}'
    assert dump(parse(path.read_text(), "f")) == [
        ("includes", [("mount", S("sub")), ("path", S("redefine_subscalar_37"))]),
    ]


def test_corpus_list_of_strings():
    path = _corpus_file("conf/ag_pop_cmp/mappings/example_agent_mapping.prototxt")
    agents = [e.value for e in parse(path.read_text(), "f").entries if e.name == "agent"]
    assert dump(agents[2])[-1] == (
        "overrides",
        ("list", [S("searchbot.rollouts_cfg.max_rollout_length=0"), S("searchbot.cache_rollout_results=True")]),
    )


def test_corpus_largest_file_is_fast():
    if not CORPUS_FILES:
        pytest.skip(f"corpus folder {CORPUS} is missing")
    largest = max(CORPUS_FILES, key=lambda p: p.stat().st_size)
    text = largest.read_text()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(10):
            parse(text, str(largest))
        best = min(best, (time.perf_counter() - t0) / 10)
    ms_per_kb = best * 1000 / (len(text) / 1024)
    assert ms_per_kb < 1.0, f"{largest.name}: {ms_per_kb:.3f} ms/KB"


def test_import_stays_light():
    code = (
        "import sys; before = set(sys.modules); import heyhi.config.textformat; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    new = set(out.split())
    for heavy in ("yaml", "json", "struct", "google", "pydantic", "decimal"):
        assert heavy not in new


# ---------------------------------------------------------------------------------------------
# Converters
# ---------------------------------------------------------------------------------------------

INTS = [
    ("0", 0), ("-0", 0), ("42", 42), ("-5", -5), ("+7", 7), ("0x1F", 31), ("0X1f", 31), ("-0x1F", -31),
    ("017", 15), ("-017", -15), ("00", 0), ("9223372036854775808", 2**63),
]
BAD_INTS = ["", "1.0", "1e3", "08", "0x", "abc", " 1", "1 ", "1_000", "0o17", "0b1", "--1", "1f", "inf", "true"]


@pytest.mark.parametrize("text, value", [pytest.param(t, v, id=t) for t, v in INTS])
def test_parse_int(text, value):
    assert parse_int(text) == value


@pytest.mark.parametrize("text", [pytest.param(t, id=repr(t)) for t in BAD_INTS])
def test_parse_int_rejects(text):
    with pytest.raises(ValueError, match="invalid integer"):
        parse_int(text)


FLOATS = [
    ("0", 0.0), ("1", 1.0), ("-5", -5.0), ("1.5", 1.5), (".5", 0.5), ("-.5", -0.5), ("1.", 1.0),
    ("1e-3", 0.001), ("2.5E+2", 250.0), ("1.0f", 1.0), ("1.5F", 1.5), ("3f", 3.0), ("-1.5", -1.5),
    ("0.1", 0.1), ("0e5", 0.0),
    ("inf", math.inf), ("-inf", -math.inf), ("Inf", math.inf), ("INFINITY", math.inf),
    ("-Infinity", -math.inf), ("inff", math.inf), ("+inf", math.inf),
]
BAD_FLOATS = ["", "abc", "1.2.3", "1e", "e5", "01.5", "017", "1_0", " 1", "1ff", "--1", "0x", "true", "infinit",
              "0x10", "-0x10"]  # hex: protobuf's parser refuses it for float fields


@pytest.mark.parametrize("text, value", [pytest.param(t, v, id=t) for t, v in FLOATS])
def test_parse_float(text, value):
    assert parse_float(text) == value


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan", "NAN", "nanf"])
def test_parse_float_nan(text):
    assert math.isnan(parse_float(text))


@pytest.mark.parametrize("text", [pytest.param(t, id=repr(t)) for t in BAD_FLOATS])
def test_parse_float_rejects(text):
    with pytest.raises(ValueError, match="invalid float"):
        parse_float(text)


@pytest.mark.parametrize(
    "text, value",
    [pytest.param(t, v, id=t) for t, v in [("true", True), ("t", True), ("True", True), ("1", True),
                                           ("false", False), ("f", False), ("False", False), ("0", False)]],
)
def test_parse_bool(text, value):
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["", "TRUE", "yes", "no", "2", "on", "tru", " true", "-1"])
def test_parse_bool_rejects(text):
    with pytest.raises(ValueError, match="invalid bool"):
        parse_bool(text)


# ---------------------------------------------------------------------------------------------
# Printing helpers
# ---------------------------------------------------------------------------------------------

QUOTES = [
    ("", '""'),
    ("plain", '"plain"'),
    ("a\nb\tc\rd", r'"a\nb\tc\rd"'),
    ('say "hi"', r'"say \"hi\""'),
    ("it's", r'"it\'s"'),
    ("back\\slash", r'"back\\slash"'),
    ("\x00\x01\x7f\x1b", r'"\000\001\177\033"'),
    ("é中\U0001f600", r'"\303\251\344\270\255\360\237\230\200"'),  # UTF-8 bytes in octal, as protobuf prints
    ("#not comment", '"#not comment"'),
]


@pytest.mark.parametrize("s, quoted", [pytest.param(s, q, id=repr(s)) for s, q in QUOTES])
def test_quote_string(s, quoted):
    assert quote_string(s) == quoted
    assert parse(f"a: {quoted}").entries[0].value.value == s  # reads back


FLOAT_FORMATS = [
    (0.1, False, "0.1"),
    (3, False, "3.0"),  # an int is printed as the float it stands for
    (0.1, True, "0.1"),
    (0.10000000149011612, True, "0.1"),  # 0.1 widened from float32
    (0.10000000149011612, False, "0.10000000149011612"),
    (3.0, False, "3.0"),
    (3.0, True, "3.0"),
    (-2.0, True, "-2.0"),
    (0.0, False, "0.0"),
    (-0.0, False, "-0.0"),
    (1e-05, False, "1e-05"),
    (1e20, False, "1e+20"),
    (1 / 3, False, "0.3333333333333333"),
    (1 / 3, True, "0.33333334"),
    (16777217.0, True, "16777216.0"),  # not representable in float32
    (3.4028234663852886e38, True, "3.4028235e+38"),
    (1e39, True, "1e+39"),  # beyond float32: printed as is
    (math.inf, False, "inf"),
    (-math.inf, False, "-inf"),
    (math.nan, False, "nan"),
    (math.inf, True, "inf"),
    (-math.inf, True, "-inf"),
    (math.nan, True, "nan"),
]


@pytest.mark.parametrize(
    "x, float32, text", [pytest.param(x, f, t, id=f"{x!r}-{'f32' if f else 'f64'}") for x, f, t in FLOAT_FORMATS]
)
def test_format_float(x, float32, text):
    assert format_float(x, float32) == text


@pytest.mark.parametrize("x", [0.1, 0.7, 1e-7, 123456.789, 2.5e-38, 3.14159274, 1e30, -7.25])
def test_format_float32_round_trips_and_is_short(x):
    import struct

    def f32(v):
        return struct.unpack("<f", struct.pack("<f", v))[0]

    text = format_float(x, True)
    assert f32(parse_float(text)) == f32(x)
    assert len(text.replace("-", "")) <= len(repr(f32(x)).replace("-", ""))
    assert format_float(x, False) == repr(x)
    assert parse_float(format_float(x, False)) == x
