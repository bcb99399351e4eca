"""Protobuf text format (``.prototxt``) -> the untyped tree of ``heyhi.config.tree``.

Accepts what Google's ``text_format.Merge`` accepts, without needing the schema:

- ``#`` comments to end of line;
- fields ``name: value``, ``name { ... }``, ``name: { ... }``, ``name < ... >``, ``name: < ... >``,
  each optionally followed by one ``;`` or ``,``;
- repeated fields written several times (several entries with the same name) or as a list
  ``name: [a, b]`` / ``name: [{...}, {...}]`` / ``name: []`` (the ``:`` may be left out only before
  a list of messages, as for message fields);
- strings in single or double quotes with C escapes, adjacent strings concatenated;
- numbers (kept as their raw text) and identifiers (enum names, ``true``, ``inf``, ``-inf`` ...).

Values are not converted here: ``parse_int``, ``parse_float`` and ``parse_bool`` do that later,
when the tree is typed against a schema. ``quote_string``, ``quote_bytes`` and ``format_float`` are
the printing counterparts used by the text-format writer: strings print as protobuf prints them
(ASCII only, other bytes as octal escapes), and every Unicode string ``quote_string`` prints
parses back to itself.

Speed matters (this runs on every CLI start): one compiled regex splits the whole text into
tokens, positions are kept as offsets and turned into line:col only when a ``Loc`` is built.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from heyhi.errors import ConfigError
from heyhi.config.tree import Entry, ListValue, Loc, Node, Scalar

__all__ = ["parse", "parse_int", "parse_float", "parse_bool", "quote_string", "quote_bytes", "format_float"]

# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

# Token kinds = the index of the capturing group that matched.
_IDENT, _NUMBER, _NEG_IDENT, _STRING, _PUNCT, _OTHER, _EOF = 1, 2, 3, 4, 5, 6, 7

_TOKEN = re.compile(
    r"""
    (?:\s+|\#[^\n]*)*                                         # whitespace and comments: skipped
    (?:
        ([A-Za-z_][A-Za-z0-9_]*)                              # 1 identifier
      | (-?(?:[0-9]|\.[0-9])(?:[0-9A-Za-z_.]|(?<=[eE])[+-])*)  # 2 number (validated below)
      | (-[A-Za-z_][A-Za-z0-9_]*)                             # 3 negative identifier: -inf
      | ("[^"\n\\]*(?:\\.[^"\n\\]*)*"|'[^'\n\\]*(?:\\.[^'\n\\]*)*')  # 4 string, one line
      | ([{}<>\[\]:;,])                                       # 5 punctuation
      | (.)                                                   # 6 anything else: an error
      | (\Z)                                                  # 7 end of file
    )
    """,
    re.VERBOSE,
)

# What a number token must look like: decimal/hex/octal int, or a float with optional f suffix.
_NUMBER_OK = re.compile(
    r"-?(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?)\Z"
)

_ESCAPE_PATTERN = r"""\\(?:
        ([0-7]{1,3})                                             # 1 octal byte
      | x([0-9a-fA-F]{1,2})                                      # 2 hex byte
      | u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})  # 3,4 surrogate pair
      | u([0-9a-fA-F]{4})                                        # 5 code point
      | U([0-9a-fA-F]{8})                                        # 6 code point
      | (.?)                                                     # 7 one-char escape (or bad)
    )"""
_escape_re: re.Pattern | None = None  # compiled on the first string holding a backslash

_SIMPLE_ESCAPES = {
    "n": b"\n", "t": b"\t", "r": b"\r", "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v",
    "\\": b"\\", "'": b"'", '"': b'"', "?": b"?",
}

_MAX_DEPTH = 100


def _describe(kind: int, text: str) -> str:
    if kind == _EOF:
        return "end of file"
    if len(text) > 40:
        text = text[:37] + "..."
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    if kind == _STRING:
        return f"string {text}"
    return f"'{text}'"


class _Parser:
    __slots__ = ("toks", "i", "file", "line_starts")

    def __init__(self, text: str, file: str):
        self.file = file
        start = 1 if text.startswith("\ufeff") else 0
        self.line_starts = [start]
        self.line_starts += [m.end() for m in re.finditer("\n", text)]
        self.toks = [
            (m.lastindex, m.group(m.lastindex), m.start(m.lastindex))
            for m in _TOKEN.finditer(text, start)
        ]
        self.i = 0

    # -- positions and errors -------------------------------------------------------------------

    def loc(self, pos: int) -> Loc:
        ls = self.line_starts
        line = bisect_right(ls, pos)
        return Loc(self.file, line, pos - ls[line - 1] + 1)

    def linecol(self, pos: int) -> str:
        loc = self.loc(pos)
        return f"{loc.line}:{loc.col}"

    def error(self, message: str, pos: int) -> ConfigError:
        return ConfigError(message, where=str(self.loc(pos)))

    def unexpected(self, expected: str, tok: tuple) -> ConfigError:
        kind, text, pos = tok
        if kind == _OTHER and text in "\"'":
            return self.error(f"unterminated string: no closing {text} before the end of the line", pos)
        if kind == _NUMBER and not _NUMBER_OK.match(text):
            return self.error(f"invalid number '{text}'", pos)
        return self.error(f"{expected}, got {_describe(kind, text)}", pos)

    # -- grammar --------------------------------------------------------------------------------

    def parse(self) -> Node:
        entries: list[Entry] = []
        self.fields(entries, None, "", 0, 0)
        return Node(entries, Loc(self.file, 1, 1))

    def fields(self, entries: list, close: str | None, name: str, opened_at: int, depth: int) -> None:
        """Parse fields into ``entries`` up to and including ``close`` (None: end of file)."""
        toks = self.toks
        while True:
            tok = toks[self.i]
            kind, text, pos = tok
            if kind == _IDENT:
                self.i += 1
                self.field(entries, text, pos, depth)
                kind, text, _ = toks[self.i]
                if kind == _PUNCT and (text == ";" or text == ","):
                    self.i += 1
                continue
            if kind == _PUNCT:
                if text == close:
                    self.i += 1
                    return
                if text == "}" or text == ">" or (text == "]" and close is not None):
                    if close is None:
                        raise self.error(f"unexpected '{text}': no message is open here", pos)
                    raise self.error(
                        f"expected '{close}' to close '{name}' opened at {self.linecol(opened_at)}, "
                        f"got '{text}'",
                        pos,
                    )
                if text == "[":
                    raise self.error(
                        "extension and Any field names ('[type.name]') are not supported", pos
                    )
            if kind == _EOF:
                if close is None:
                    return
                raise self.error(
                    f"expected '{close}' to close '{name}' opened at {self.linecol(opened_at)}, "
                    "got end of file",
                    pos,
                )
            if kind == _NEG_IDENT:
                raise self.error(f"expected a field name, got '{text}'", pos)
            raise self.unexpected("expected a field name", tok)

    def field(self, entries: list, name: str, name_pos: int, depth: int) -> None:
        toks = self.toks
        tok = toks[self.i]
        kind, text, pos = tok
        colon = kind == _PUNCT and text == ":"
        if colon:
            self.i += 1
            tok = toks[self.i]
            kind, text, pos = tok
        if kind == _PUNCT and (text == "{" or text == "<"):
            value = self.message(name, name_pos, depth)
        elif kind == _PUNCT and text == "[":
            value = self.list_value(name, colon, depth)
        elif not colon:
            raise self.unexpected(f"expected ':' or '{{' after field name '{name}'", tok)
        else:
            value = self.scalar(f"expected a value for '{name}'")
        entries.append(Entry(name, value, self.loc(name_pos)))

    def message(self, name: str, opened_at: int, depth: int) -> Node:
        _, text, pos = self.toks[self.i]
        if depth >= _MAX_DEPTH:
            raise self.error(f"messages nested more than {_MAX_DEPTH} deep", pos)
        self.i += 1
        entries: list[Entry] = []
        self.fields(entries, "}" if text == "{" else ">", name, opened_at, depth + 1)
        return Node(entries, self.loc(pos))

    def list_value(self, name: str, colon: bool, depth: int) -> ListValue:
        toks = self.toks
        open_pos = toks[self.i][2]
        self.i += 1
        items: list = []
        kind, text, pos = toks[self.i]
        if kind == _PUNCT and text == "]":
            self.i += 1
            return ListValue(items, self.loc(open_pos))
        while True:
            tok = toks[self.i]
            kind, text, pos = tok
            if kind == _PUNCT and (text == "{" or text == "<"):
                items.append(self.message(name, pos, depth))
            else:
                if not colon:
                    raise self.error(
                        f"expected ':' before '[' in field '{name}' "
                        "(only a list of messages may leave it out)",
                        open_pos,
                    )
                if kind == _EOF:
                    raise self.error(
                        f"expected ']' to close list '{name}' opened at {self.linecol(open_pos)}, "
                        "got end of file",
                        pos,
                    )
                items.append(self.scalar(f"expected a value in list '{name}'"))
            tok = toks[self.i]
            kind, text, pos = tok
            if kind == _PUNCT:
                if text == "]":
                    self.i += 1
                    return ListValue(items, self.loc(open_pos))
                if text == ",":
                    self.i += 1
                    continue
            raise self.unexpected(
                f"expected ',' or ']' in list '{name}' opened at {self.linecol(open_pos)}"
                if kind != _EOF
                else f"expected ']' to close list '{name}' opened at {self.linecol(open_pos)}",
                tok,
            )

    def scalar(self, expected: str) -> Scalar:
        toks = self.toks
        tok = toks[self.i]
        kind, text, pos = tok
        if kind == _STRING:
            self.i += 1
            value = self.decode(text, pos)
            kind2, text2, pos2 = toks[self.i]
            if kind2 == _STRING:  # adjacent strings concatenate
                parts = [value]
                while kind2 == _STRING:
                    self.i += 1
                    parts.append(self.decode(text2, pos2))
                    kind2, text2, pos2 = toks[self.i]
                value = "".join(parts)
            return Scalar("string", value, self.loc(pos))
        if kind == _NUMBER:
            if not _NUMBER_OK.match(text):
                raise self.error(f"invalid number '{text}'", pos)
            self.i += 1
            return Scalar("number", text, self.loc(pos))
        if kind == _IDENT or kind == _NEG_IDENT:
            self.i += 1
            return Scalar("ident", text, self.loc(pos))
        raise self.unexpected(expected, tok)

    def decode(self, token: str, pos: int) -> str:
        body = token[1:-1]
        if "\\" not in body:
            return body
        global _escape_re
        if _escape_re is None:
            _escape_re = re.compile(_ESCAPE_PATTERN, re.VERBOSE | re.DOTALL)
        out = bytearray()
        last = 0
        for m in _escape_re.finditer(body):
            if m.start() > last:
                out += body[last : m.start()].encode("utf-8", "surrogatepass")
            last = m.end()
            g = m.lastindex
            if g == 1:
                code = int(m.group(1), 8)
                if code > 0o377:
                    raise self.error(f"invalid octal escape '{m.group(0)}' (above \\377)", pos + 1 + m.start())
                out.append(code)
            elif g == 2:
                out.append(int(m.group(2), 16))
            elif g == 4:
                hi, lo = int(m.group(3), 16), int(m.group(4), 16)
                out += chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).encode("utf-8")
            elif g == 5 or g == 6:
                code = int(m.group(g), 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise self.error(f"invalid unicode escape '{m.group(0)}'", pos + 1 + m.start())
                out += chr(code).encode("utf-8")
            else:
                b = _SIMPLE_ESCAPES.get(m.group(7))
                if b is None:
                    raise self.error(f"invalid escape '{m.group(0)}' in string", pos + 1 + m.start())
                out += b
        if last < len(body):
            out += body[last:].encode("utf-8", "surrogatepass")
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("string is not valid UTF-8 once its escapes are decoded", pos) from None


def parse(text: str, file: str = "<string>") -> Node:
    """Parse protobuf text format into a ``Node``; raises ``ConfigError`` (file:line:col) on errors."""
    return _Parser(text, file).parse()


# ---------------------------------------------------------------------------------------------
# Value converters (used when typing the tree against a schema)
# ---------------------------------------------------------------------------------------------

_INT = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|0([0-7]+)|([1-9][0-9]*|0))\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?\Z")
_FLOAT_HEX = re.compile(r"([+-]?)0[xX]([0-9a-fA-F]+)\Z")
_FLOAT_SPECIAL = re.compile(r"([+-]?)(?:(inf(?:inity)?)|nan)f?\Z", re.IGNORECASE)
_FLOAT_OCTAL_PREFIX = re.compile(r"[+-]?0[0-9]")


def parse_int(text: str) -> int:
    """Decimal, hex (``0x1F``) or C octal (``017``) integer with an optional sign."""
    m = _INT.match(text)
    if m is None:
        raise ValueError(f"invalid integer {text!r}")
    sign, hexd, octd, dec = m.groups()
    if hexd is not None:
        value = int(hexd, 16)
    elif octd is not None:
        value = int(octd, 8)
    else:
        value = int(dec)
    return -value if sign == "-" else value


def parse_float(text: str) -> float:
    """A float as the text-format grammar allows: ``1``, ``1.5``, ``.5``, ``1e-3``, ``1.0f``,
    ``inf``/``-inf``/``infinity``/``nan`` (any case). Hex (``0x10``) and octal-looking (``017``)
    values are refused, as protobuf's own parser refuses them for float fields ("Expect a decimal number")."""
    if _FLOAT.match(text):
        if _FLOAT_OCTAL_PREFIX.match(text):
            raise ValueError(f"invalid float {text!r} (a leading 0 reads as octal)")
        if text[-1] in "fF":
            text = text[:-1]
        return float(text)
    m = _FLOAT_SPECIAL.match(text)
    if m is not None:
        if m.group(2) is None:
            return float("nan")
        return float("-inf") if m.group(1) == "-" else float("inf")
    if _FLOAT_HEX.match(text):
        raise ValueError(f"invalid float {text!r} (hex is for integer fields)")
    raise ValueError(f"invalid float {text!r}")


def parse_bool(text: str) -> bool:
    """``true``/``t``/``True``/``1`` or ``false``/``f``/``False``/``0``, as protobuf text format."""
    if text in ("true", "t", "True", "1"):
        return True
    if text in ("false", "f", "False", "0"):
        return False
    raise ValueError(f"invalid bool {text!r} (expected true or false)")


# ---------------------------------------------------------------------------------------------
# Printing helpers (used by the text-format writer)
# ---------------------------------------------------------------------------------------------


def _make_byte_escapes() -> dict[int, str]:
    # protobuf's text_encoding._cescape_byte_to_str (CEscape with as_utf8=False), indexed by the
    # latin-1 character that stands for each byte: bytes below 32 and from 127 as 3-digit octal,
    # but \t \n \r \" \' \\ as those escapes; printable ASCII as itself.
    table = {i: "\\%03o" % i for i in range(256) if not 32 <= i < 127}
    table.update({ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"})
    table.update({ord('"'): '\\"', ord("'"): "\\'", ord("\\"): "\\\\"})
    return table


_BYTE_ESCAPES = _make_byte_escapes()


def quote_bytes(data: bytes) -> str:
    """Double-quoted text-format string of ``data``, escaped as protobuf's ``text_format`` prints
    it: pure ASCII, every byte outside printable ASCII as a 3-digit octal escape (``\\303``)."""
    return '"' + data.decode("latin-1").translate(_BYTE_ESCAPES) + '"'


def quote_string(s: str) -> str:
    """Double-quoted text-format string of ``s``, as protobuf's ``text_format`` prints a string
    field (``as_utf8=False``, what the original HeyHi's ``--print`` and saved configs show): its
    UTF-8 bytes through ``quote_bytes`` (``é`` is ``\\303\\251``). ``parse`` reads it back to ``s``."""
    if s.isascii():
        return '"' + s.translate(_BYTE_ESCAPES) + '"'
    return quote_bytes(s.encode("utf-8", "surrogatepass"))  # a lone surrogate prints, but never reads back


def format_float(x: float, float32: bool) -> str:
    """Shortest text that reads back as ``x`` (for ``float32``: as the same float32 value)."""
    x = float(x)
    if x != x:
        return "nan"
    if x == float("inf"):
        return "inf"
    if x == float("-inf"):
        return "-inf"
    if float32:
        from struct import pack, unpack  # lean: only the writer needs it

        def to32(v: float) -> float:
            return unpack("<f", pack("<f", v))[0]

        try:
            target = to32(x)
        except OverflowError:  # beyond float32's range: nothing to round to
            return repr(x)
        for digits in range(1, 10):  # 9 significant digits always round-trip a float32
            candidate = float("%.*g" % (digits, target))
            try:
                if to32(candidate) == target:
                    return repr(candidate)
            except OverflowError:
                continue
        return repr(target)
    return repr(x)
