"""YAML and JSON config files -> the untyped tree of ``heyhi.config.tree``; ``parse_file`` picks the format.

Both go through PyYAML's composer (``yaml.compose``), which keeps a mark on every node, so each
``Entry`` and ``Scalar`` knows its line:col. JSON is first checked with ``json.loads`` so that
invalid JSON is reported the way JSON tools report it; its scalars are then typed by JSON's rules
(not YAML 1.1's: ``1e5`` is a number, ``"yes"`` is a string).

Mappings become ``Node`` (a duplicate key is an error), sequences ``ListValue``, scalars
``Scalar`` of kind ``string`` / ``int`` / ``float`` / ``bool`` / ``null`` holding the Python value.
PyYAML and json are imported on first use: a ``.prototxt`` launch never pays for them.
"""

from __future__ import annotations

import re
from pathlib import Path

from heyhi.errors import ConfigError
from heyhi.config.tree import Entry, ListValue, Loc, Node, Scalar
from heyhi.config import textformat
from heyhi.config.source import read_text

__all__ = ["parse_yaml", "parse_json", "parse_file"]

# .prototxt / .pbtxt / .txt and any other suffix: protobuf text format.
_YAML_SUFFIXES = {".yaml", ".yml"}
_JSON_SUFFIXES = {".json"}

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE, _TIMESTAMP, _VALUE = (
    _TAG + t for t in ("map", "seq", "merge", "timestamp", "value")
)

# YAML 1.1 (PyYAML) reads ``1e-3`` as a string; configs mean a float (as in YAML 1.2 and JSON).
_EXP_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+\Z")
_JSON_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_JSON_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB]")
_SURROGATE = re.compile("[\ud800-\udfff]")

_MAX_VALUES = 1_000_000  # alias expansion guard ("billion laughs")
_MAX_DEPTH = 100


def parse_file(path: str | Path) -> Node:
    """Read and parse a config file, choosing the format by its suffix (unknown: text format).

    The file is read by ``heyhi.config.source``: a regular file of at most 4 MiB of UTF-8 text."""
    path = Path(path)
    text = read_text(path)  # regular files only, bounded, never blocks; UTF-8 errors at file:line:col
    where = str(path)
    suffix = path.suffix.lower()
    if suffix in _YAML_SUFFIXES:
        return parse_yaml(text, where)
    if suffix in _JSON_SUFFIXES:
        return parse_json(text, where)

    return textformat.parse(text, where)


def parse_yaml(text: str, file: str = "<string>") -> Node:
    """Parse a YAML config (one document whose top level is a mapping) into a ``Node``."""
    root = _compose(text, file, "YAML")
    if root is None:  # empty file, or only comments: an empty config
        return Node([], Loc(file, 1, 1))
    return _Converter(file, text, json_mode=False).top(root)


def parse_json(text: str, file: str = "<string>") -> Node:
    """Parse a JSON config (whose top level is an object) into a ``Node``."""
    import json  # lean: a .prototxt never loads the json module (tests/config/test_yamljson.py)

    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        msg = e.msg
        if text[e.pos : e.pos + 1] in ("]", "}") and text[: e.pos].rstrip().endswith(","):
            msg += " (a trailing comma?)"
        raise ConfigError(f"invalid JSON: {msg}", where=f"{file}:{e.lineno}:{e.colno}") from None
    except RecursionError:
        raise ConfigError("invalid JSON: nested too deep", where=f"{file}:1:1") from None
    # Valid JSON has tabs only as whitespace between tokens (never raw inside a string): make them
    # spaces, one for one, since YAML refuses tabs in some places where JSON allows them.
    text = text.replace("\t", " ")
    # libyaml refuses \uD83D\uDE00-style surrogate pairs that JSON allows; pure-Python PyYAML
    # takes them (and they are recombined below).
    pure = _JSON_SURROGATE_ESCAPE.search(text) is not None
    try:
        root = _compose(text, file, "JSON", pure_python=pure)
    except ConfigError as e:  # json.loads took it: a limit of the YAML reader, not bad JSON
        detail = e.message.removeprefix("invalid JSON: ")
        raise ConfigError(
            f"valid JSON that HeyHi cannot read: {detail} (keys longer than 1024 characters?)",
            where=e.where,
        ) from None
    return _Converter(file, text, json_mode=True).top(root)


# ---------------------------------------------------------------------------------------------


_FLOW_TOKEN = re.compile(
    r"""(?:(?<=[\s\[{,:])|^)(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|#[^\n]*)|[\[\]{}]""", re.M
)
_BLOCK_LINE = re.compile(r"( *)((?:[-?:] +)*)(.*)")
_BLOCK_SCALAR = re.compile(r"(?:^|[\s:-])[|>][-+0-9]*\s*(?:#.*)?\Z")


def _check_depth(text: str, file: str, what: str) -> None:
    """HeyHi's own nesting limit, applied before the YAML reader (whose own limits differ between
    versions): block nesting (indentation, ``- - -``) and flow collections (``[[[...]]]``) deeper
    than ``_MAX_DEPTH`` are refused, naming the place where the limit is crossed. Block scalars'
    text (after ``|`` or ``>``) and quoted strings are not counted."""
    flow = text.count("[") + text.count("{") > _MAX_DEPTH
    if not flow and len(text) < 2 * _MAX_DEPTH:
        return
    stack: list[int] = []
    kept: list[str] = []  # the text with block scalars' lines blanked, for the flow pass
    scalar_indent = -1  # inside a block scalar: lines indented deeper than this are its text
    pos = 0
    for line in text.split("\n"):
        start, pos = pos, pos + len(line) + 1
        body = line.strip()
        m = _BLOCK_LINE.match(line)
        indent = len(m.group(1))
        if scalar_indent >= 0 and (not body or indent > scalar_indent):
            kept.append(" " * len(line))
            continue
        kept.append(line)
        scalar_indent = -1
        if not body or body.startswith("#"):
            continue
        while stack and stack[-1] >= indent:
            stack.pop()
        stack.append(indent)
        if len(stack) + len(m.group(2).split()) > _MAX_DEPTH:
            _depth_error(text, start + indent, file)
        if _BLOCK_SCALAR.search(m.group(3)):
            scalar_indent = indent
    if flow:
        depth = 0
        for m in _FLOW_TOKEN.finditer("\n".join(kept)):
            tok = m.group()
            if tok in "[{":
                depth += 1
                if depth > _MAX_DEPTH:
                    _depth_error(text, m.start(), file)
            elif tok in "]}":
                depth = max(0, depth - 1)


def _depth_error(text: str, index: int, file: str) -> None:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    raise ConfigError(f"values nested more than {_MAX_DEPTH} deep", where=f"{file}:{line}:{col}")


def _compose(text: str, file: str, what: str, pure_python: bool = False):
    import yaml  # lean: yaml loads only when this runs

    _check_depth(text, file, what)

    loader = yaml.SafeLoader if pure_python else getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as e:
        raise _yaml_error(e, text, file, what) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        col = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise ConfigError(
            f"invalid {what}: character #x{e.character:04x} is not allowed", where=f"{file}:{line}:{col}"
        ) from None
    except yaml.YAMLError as e:
        msg = " ".join(str(e).split())
        raise ConfigError(f"invalid {what}: {msg}", where=f"{file}:1:1") from None
    except RecursionError:
        raise ConfigError(f"invalid {what}: nested too deep", where=f"{file}:1:1") from None


def _one_line(s) -> str:
    return " ".join(str(s).split())


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _yaml_error(e, text: str, file: str, what: str) -> ConfigError:
    mark = e.problem_mark or e.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    message = _one_line(e.problem or e.context or "syntax error")
    if e.context and "single document" in e.context:
        message = "found a second document ('---'): a config file holds one"
    elif e.context and e.problem:
        context = _one_line(e.context)
        cm = e.context_mark
        if cm is not None and (cm.line, cm.column) != (line - 1, col - 1):
            context += f" started at {cm.line + 1}:{cm.column + 1}"
        message += f" ({context})"
    if mark is not None:
        index = getattr(mark, "index", None)
        if not isinstance(index, int) or not 0 <= index <= len(text):
            index = None
            starts = [0] + [m.end() for m in re.finditer("\n", text)]
            if line - 1 < len(starts):
                index = starts[line - 1] + col - 1
        if index is not None and text[index : index + 1] == "\t" and "tab" not in message:
            message += "; it is a tab: YAML indentation must use spaces"
    return ConfigError(f"invalid {what}: {message}", where=f"{file}:{line}:{col}")


def _expanded_size(node, memo: dict) -> int:
    """How many values ``node`` becomes once every alias is copied out (memoized per node)."""
    size = memo.get(id(node))
    if size is None:
        memo[id(node)] = 1  # a recursive alias counts once (PyYAML composes those as cycles)
        if isinstance(node.value, list):
            size = 1
            for item in node.value:
                if isinstance(item, tuple):
                    size += _expanded_size(item[0], memo) + _expanded_size(item[1], memo)
                else:
                    size += _expanded_size(item, memo)
        else:
            size = 1
        memo[id(node)] = size
    return size


class _Converter:
    def __init__(self, file: str, text: str, json_mode: bool):
        self.file = file
        self.text = text
        self.json_mode = json_mode
        self.what = "JSON" if json_mode else "YAML"
        self.open: set[int] = set()  # ids of the collections being converted (alias cycles)
        import yaml  # lean: yaml loads only when this runs
        from yaml.constructor import SafeConstructor  # lean: yaml loads only when this runs

        self.MappingNode, self.SequenceNode, self.ScalarNode = (
            yaml.MappingNode, yaml.SequenceNode, yaml.ScalarNode,
        )
        self.constructor = SafeConstructor()

    def loc(self, node) -> Loc:
        m = node.start_mark
        return Loc(self.file, m.line + 1, m.column + 1)

    def error(self, message: str, node) -> ConfigError:
        return ConfigError(message, where=str(self.loc(node)))

    def top(self, root) -> Node:
        if not isinstance(root, self.MappingNode):
            kind = "a list" if isinstance(root, self.SequenceNode) else "a single value"
            raise ConfigError(
                f"the top level of a config must be a mapping of field names, got {kind}",
                where=f"{self.file}:1:1",
            )
        try:
            if "*" in self.text and _expanded_size(root, {}) > _MAX_VALUES:  # aliases may blow up
                raise ConfigError(
                    f"more than {_MAX_VALUES} values once aliases are expanded", where=f"{self.file}:1:1"
                )
            return self.value(root, 0)
        except RecursionError:  # the depth limit below should come first; this is the backstop
            raise ConfigError(f"invalid {self.what}: nested too deep", where=f"{self.file}:1:1") from None

    def value(self, node, depth: int):
        if isinstance(node, self.ScalarNode):
            return self.scalar(node)
        if depth > _MAX_DEPTH:
            raise self.error(f"values nested more than {_MAX_DEPTH} deep", node)
        key = id(node)
        if key in self.open:
            raise self.error("recursive alias: this value contains itself", node)
        self.open.add(key)
        try:
            if isinstance(node, self.MappingNode):
                if node.tag != _MAP:
                    raise self.error(f"unsupported YAML tag '{_short_tag(node.tag)}' on a mapping", node)
                return self.mapping(node, depth)
            if node.tag != _SEQ:
                raise self.error(f"unsupported YAML tag '{_short_tag(node.tag)}' on a list", node)
            return ListValue([self.value(item, depth + 1) for item in node.value], self.loc(node))
        finally:
            self.open.discard(key)

    def mapping(self, node, depth: int) -> Node:
        entries: list[Entry] = []
        merged: list[Entry] = []
        seen: dict[str, object] = {}
        for key, value in node.value:
            if key.tag == _MERGE and not self.json_mode:
                merged.extend(self.merge_entries(value, depth))
                continue
            if not isinstance(key, self.ScalarNode):
                raise self.error("keys must be strings, got a list or mapping", key)
            if key.tag != _STR or (self.json_mode and not key.style):
                raise self.error(
                    f"keys must be strings, got '{_one_line(key.value)}' "
                    f"(read as {key.tag.rsplit(':', 1)[-1]}; quote it)",
                    key,
                )
            name = key.value
            if _SURROGATE.search(name):
                name = self.surrogates(name, key)
            first = seen.get(name)
            if first is not None:
                raise self.error(
                    f"duplicate key '{name}' (first at line {first.start_mark.line + 1}, "
                    f"again at line {key.start_mark.line + 1})",
                    key,
                )
            seen[name] = key
            entries.append(Entry(name, self.value(value, depth + 1), self.loc(key)))
        if merged:  # '<<: *base' keys come first; keys written here win
            entries = [e for e in merged if e.name not in seen] + entries
        return Node(entries, self.loc(node))

    def merge_entries(self, value, depth: int) -> list[Entry]:
        sources = value.value if isinstance(value, self.SequenceNode) else [value]
        out: list[Entry] = []
        names: set[str] = set()
        for src in sources:  # earlier sources win, as in PyYAML
            if not isinstance(src, self.MappingNode):
                raise self.error("'<<' merges only mappings", src)
            merged = self.value(src, depth)
            for e in merged.entries:
                if e.name not in names:
                    names.add(e.name)
                    out.append(e)
        return out

    def surrogates(self, text: str, node) -> str:
        """``text`` with its surrogate pairs made characters; a lone surrogate is an error."""
        try:
            return text.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            c = _SURROGATE.search(text).group()
            raise self.error(f"string holds a lone surrogate \\u{ord(c):04x}: not Unicode text", node) from None

    def explicit_tag(self, node) -> bool:
        index = node.start_mark.index
        return isinstance(index, int) and self.text[index : index + 1] == "!"

    def scalar(self, node) -> Scalar:
        loc = self.loc(node)
        tag, text = node.tag, node.value
        if self.json_mode:
            if node.style:  # quoted: a string
                if _SURROGATE.search(text):  # pairs become characters; a lone one is refused
                    text = self.surrogates(text, node)
                return Scalar("string", text, loc)
            if text == "true" or text == "false":
                return Scalar("bool", text == "true", loc)
            if text == "null":
                return Scalar("null", None, loc)
            if _JSON_INT.match(text):
                return Scalar("int", int(text), loc)
            return Scalar("float", float(text), loc)  # json.loads accepted it: a number/NaN/Infinity
        c = self.constructor
        try:
            if tag == _STR:
                if not node.style and _EXP_FLOAT.match(text) and not self.explicit_tag(node):
                    return Scalar("float", float(text), loc)
                if _SURROGATE.search(text):  # "\ud800" in a double-quoted YAML string
                    text = self.surrogates(text, node)
                return Scalar("string", text, loc)
            if tag == _INT:
                return Scalar("int", c.construct_yaml_int(node), loc)
            if tag == _FLOAT:
                return Scalar("float", float(c.construct_yaml_float(node)), loc)
            if tag == _BOOL:
                return Scalar("bool", c.construct_yaml_bool(node), loc)
            if tag == _NULL:
                return Scalar("null", None, loc)
            if (tag == _TIMESTAMP or tag == _VALUE) and not node.style:
                return Scalar("string", text, loc)  # a date stays the text it was written as
        except ConfigError:  # a ConfigError is also a ValueError: it keeps its own message
            raise
        except (ValueError, TypeError, ArithmeticError):
            raise self.error(f"invalid {tag.rsplit(':', 1)[-1]} value '{_one_line(text)}'", node) from None
        raise self.error(f"unsupported YAML tag '{_short_tag(tag)}'", node)
