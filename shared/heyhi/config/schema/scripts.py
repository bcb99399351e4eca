"""A plain Python script as a task: its flags derived into a typed HeyHi schema, and the script run with them.

Three styles (``ScriptTask.style``), detected from the source or stated per script in
``[tool.heyhi.scripts]`` of pyproject.toml (``"train.py" = {flags-dest = "globals"}``):
- ``argparse``: the parser is captured in a subprocess (``script_capture.py``, run with a timeout of
  ``derive-timeout-s`` (30 s), an address-space limit of ``derive-memory-mb`` (4096 MB), stdin closed,
  output bounded, in its own session, every process of which is killed at the end) that runs the script
  as ``__main__`` up to its first ``parse_args``/``parse_known_args`` call and ends there: nothing after
  that call ever runs during derivation. The result is cached under ``$XDG_CACHE_HOME/heyhi/scripts/``
  (JSON, written atomically), valid while the script, every project-local module imported before the
  capture point and the interpreter are unchanged (by content hash): what runs before ``parse_args``
  runs once per change of the source. At run time the values set in the config become the script's argv.
- ``globals``: the module's top-level literal assignments; ``dict``: the entries of a dict literal
  (``hypers = {...}`` at module level, ``main.params``: dict ``params`` in function ``main``). Both are
  read with ``ast`` only, never executed. At run time the first literal assignment of each flag that is
  set (or the dict entry) is replaced by its value in the parsed source, which is compiled under the
  script's own file name (tracebacks name its real lines) and run as ``__main__``.
Detection: argparse if the source imports argparse (or ``HfArgumentParser``) or calls ``parse_args`` /
``parse_known_args``; else a module-level dict literal named one of ``DICT_NAMES``; else globals.

Flags become fields: ints ``int64``, floats ``double``, bools ``bool``, strings ``string``, string
``choices`` that are names an ``enum`` (other choices are checked by ``ScriptTask.check``), lists
(``nargs``, ``append``, ``extend``, list literals) ``repeated``, argparse sub-commands a oneof of
messages named by the sub-command. A literal ``None`` becomes a string field with no default (unset:
the script keeps its ``None``); an empty list a repeated string. A field's doc is the flag's help;
``ScriptTask.where(key)`` (and ``ScriptFlag.where``) names the ``file:line`` that defines it.

Every error from a script is one line (``ConfigError``) naming the script or the flag's ``file:line``.
Imports only the config wing's values, frozen configs, schema model and bounded reads (never
runs/cli/sweep/wire, never ``heyhi.config.compose``, which imports this module).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import zlib
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heyhi.config.frozen import FrozenConfig
from heyhi.config.schema.model import INT_RANGES, EnumType, FieldSpec, MessageType, Schema
from heyhi.config.source import read_text
from heyhi.config.values import Msg
from heyhi.errors import ConfigError

__all__ = ["ScriptFlag", "ScriptCommand", "ScriptTask", "derive", "run_script", "DICT_NAMES"]

DICT_NAMES = ("hypers", "params", "config", "hparams", "args", "flags")
PARSE_CALLS = frozenset({"parse_args", "parse_known_args", "parse_intermixed_args", "parse_known_intermixed_args",
                         "parse_args_into_dataclasses"})
CAPTURE = Path(__file__).with_name("script_capture.py")
FORMAT_VERSION = 1  # of ScriptTask.to_json and of the cache entries
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 4096
MAX_REPORT = 4 * 1024 * 1024  # bytes of the parser's description the capture may write
MAX_TAIL = 64 * 1024  # bytes of the script's output kept (for an error's last line)
MAX_COUNT = 1000  # the largest value of a `count` flag passed as argv
SWITCHES = frozenset({"store_true", "store_false", "store_const", "append_const", "boolean_optional"})
_INT64 = INT_RANGES["int64"]


@dataclass
class ScriptCommand:
    """One argparse sub-command: ``name`` as typed, ``key`` its field name, its own flags."""

    name: str
    key: str
    doc: str = ""
    where: str = ""
    aliases: list[str] = field(default_factory=list)
    flags: list["ScriptFlag"] = field(default_factory=list)


@dataclass
class ScriptFlag:
    """One flag of a script: a field of its task.

    ``kind``: ``int64``, ``double``, ``bool``, ``string``, ``enum`` (``choices`` are its values) or
    ``command`` (argparse sub-commands: ``key`` is the oneof, ``commands`` its members). ``default`` is
    in the field's terms (an enum by name) when ``has_default``. ``action`` is argparse's action
    (``store``, ``store_true``, ``append``, ``count``, ``boolean_optional``, ``custom:Class``...),
    ``global`` or ``dict`` for the other styles. ``true_opts``/``false_opts``: the options that turn a
    switch on/off (a ``--x``/``--no-x`` pair included). ``type_name``: argparse's ``type=`` by name, or
    the literal's type for globals and dict entries (``tuple`` keeps a tuple a tuple). ``mutex``: the
    index of its mutually exclusive group in its parser (``mutex_required``: one of them must be set).
    """

    key: str
    kind: str
    repeated: bool = False
    default: Any = None
    has_default: bool = False
    doc: str = ""
    where: str = ""
    option_strings: list[str] = field(default_factory=list)
    action: str = "store"
    nargs: Any = None
    const: Any = None
    choices: list | None = None
    required: bool = False
    positional: bool = False
    type_name: str = ""
    group: str = ""
    mutex: int | None = None
    mutex_required: bool = False
    true_opts: list[str] = field(default_factory=list)
    false_opts: list[str] = field(default_factory=list)
    commands: list[ScriptCommand] | None = None

    @property
    def shown(self) -> str:
        """How an error names the flag: ``lr (--lr)``, or the key alone (a positional)."""
        opt = _long_option(self.option_strings)
        return f"{self.key} ({opt})" if opt else self.key


@dataclass
class ScriptTask:
    """A script's derived task: ``schema()`` for composition, ``run_script`` to run it."""

    script: str
    style: str
    dest: str | None
    task: str
    flags: list[ScriptFlag]
    description: str = ""

    # ---- the schema ----------------------------------------------------------------------------
    def schema(self) -> Schema:
        """A HeyHi schema: root ``MetaCfg`` with a oneof ``task`` whose one member, ``self.task``, is a
        message of one field per flag (sub-commands: a oneof of one message per sub-command)."""
        cached = self.__dict__.get("_schema")
        if cached is not None:
            return cached
        messages: dict[str, MessageType] = {}
        enums: dict[str, EnumType] = {}
        tname = _camel(self.task) + "Task"
        doc = self.description or f"The flags of {Path(self.script).name} ({self.style})."
        _build_message(tname, tname, self.flags, doc, messages, enums)
        root_field = FieldSpec(self.task, 1, "message", type_name=tname, oneof="task", doc=doc)
        messages["MetaCfg"] = MessageType("MetaCfg", "MetaCfg", {self.task: root_field}, {"task": [self.task]},
                                          doc=f"The script task {self.task}.")
        schema = Schema(messages, enums, root="MetaCfg")
        self.__dict__["_schema"] = schema
        return schema

    def where(self, key: str) -> str:
        """The ``file:line`` defining the flag at dotted ``key`` (``lr``, ``fit.epochs``), or ``""``."""
        flags = self.flags
        parts = key.split(".")
        for i, part in enumerate(parts):
            hit = None
            for f in flags:
                if f.key == part:
                    hit = f
                    break
                if f.kind == "command":
                    cmd = next((c for c in f.commands or () if c.key == part), None)
                    if cmd is not None:
                        if i == len(parts) - 1:
                            return cmd.where
                        flags = cmd.flags
                        hit = cmd
                        break
            if hit is None:
                return ""
            if isinstance(hit, ScriptFlag):
                return hit.where if i == len(parts) - 1 else ""
        return ""

    # ---- stored in the run folder ----------------------------------------------------------------
    def to_json(self) -> str:
        """The task as JSON (``from_json`` reads it back)."""
        d = {"version": FORMAT_VERSION, "script": self.script, "style": self.style, "dest": self.dest,
             "task": self.task, "description": self.description,
             "flags": [dataclasses.asdict(f) for f in self.flags]}
        return json.dumps(d, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ScriptTask":
        """The task ``to_json`` wrote; anything else is a one-line ``ConfigError``."""
        try:
            d = json.loads(text)
            if not isinstance(d, dict) or d.get("version") != FORMAT_VERSION:
                raise ValueError(f"version {d.get('version') if isinstance(d, dict) else None!r}, "
                                 f"expected {FORMAT_VERSION}")
            return cls(script=str(d["script"]), style=str(d["style"]), dest=d.get("dest"), task=str(d["task"]),
                       flags=[_flag_from_dict(f) for f in d["flags"]], description=str(d.get("description", "")))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"not a script task's description: {type(e).__name__}: {e}") from None

    # ---- after composition ---------------------------------------------------------------------
    def check(self, task_msg) -> None:
        """A required flag left unset, a value outside the script's ``choices``, two flags of a
        mutually exclusive group, or a value the script's argv cannot express: a one-line
        ``ConfigError`` naming the flag and its ``file:line``."""
        msg = _msg_of(task_msg)
        _check(self.flags, msg, "")
        if self.style == "argparse":
            self.argv(msg)

    def argv(self, task_msg) -> list[str]:
        """The argv (without the program) the script gets for ``task_msg`` (argparse style): only the
        fields that are set, so unset flags keep the script's own defaults."""
        return _argv(self.flags, _msg_of(task_msg), "")


# ---------------------------------------------------------------------------------------------
# Deriving.

def derive(script: Path, project_root: Path, *, settings: dict | None = None, python: str | None = None) -> ScriptTask:
    """The ``ScriptTask`` of ``script`` (see the module docstring). ``settings`` is ``[tool.heyhi.scripts]``:
    per-script tables keyed by the path relative to ``project_root`` (``flags-dest``,
    ``derive-timeout-s``, ``derive-memory-mb``), and those last two also as defaults for every script.
    ``python``: the interpreter that captures an argparse parser (default: this one)."""
    script = Path(os.path.normpath(Path(script).expanduser().absolute()))
    root = Path(project_root).expanduser().absolute()
    rel = _rel(script, root)
    if not script.is_file():
        raise ConfigError("script not found", rel)
    source = read_text(script, "script")
    tree = _parse(source, rel)
    opts = _settings_for(settings or {}, rel)
    style, dest = _style(opts.get("flags-dest"), tree, rel)
    task = _task_name(script.stem)
    if style == "argparse":
        return _derive_argparse(script, root, rel, task, opts, python or sys.executable)
    if style == "globals":
        flags = _global_flags(tree, rel)
    else:
        node = _find_dict(tree, dest)
        if node is None:
            raise ConfigError(f"no dict literal {dest!r} to read flags from (flags-dest = {dest!r})", rel)
        flags = _dict_flags(node, rel, dest)
    return ScriptTask(str(script), style, dest if style == "dict" else None, task, flags, ast.get_docstring(tree) or "")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _parse(source: str, rel: str) -> ast.Module:
    try:
        return ast.parse(source, rel)
    except SyntaxError as e:
        raise ConfigError(f"syntax error: {e.msg}", f"{rel}:{e.lineno or 0}:{e.offset or 0}") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ConfigError(f"cannot parse the script: {type(e).__name__}", rel) from None


def _settings_for(settings: dict, rel: str) -> dict:
    """The settings of the script at ``rel``: the scalar defaults, then its own table."""
    if not isinstance(settings, dict):
        raise ConfigError("[tool.heyhi.scripts] must be a table", "pyproject.toml")
    out = {k: v for k, v in settings.items() if not isinstance(v, dict)}
    for key, table in settings.items():
        if isinstance(table, dict) and os.path.normpath(key) == os.path.normpath(rel):
            out.update(table)
    for key in ("derive-timeout-s", "derive-memory-mb"):
        v = out.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            raise ConfigError(f"[tool.heyhi.scripts] {key} = {v!r}: expected a positive number", "pyproject.toml")
    return out


def _style(flags_dest: Any, tree: ast.Module, rel: str) -> tuple[str, str | None]:
    """(style, the dict's name for style "dict")."""
    if flags_dest is not None:
        d = str(flags_dest).strip()
        if d in ("args", "argparse"):
            return "argparse", None
        if d == "globals":
            return "globals", None
        if d.startswith("global:"):
            d = d[len("global:"):]
        parts = d.split(".")
        if 1 <= len(parts) <= 2 and all(p.isidentifier() for p in parts):
            return "dict", d
        raise ConfigError(f"[tool.heyhi.scripts] {rel!r}: flags-dest = {flags_dest!r}: expected args, globals, "
                          "a dict's name (hypers), global:NAME or FUNCTION.NAME (main.params)", "pyproject.toml")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "argparse" for a in node.names):
            return "argparse", None
        if isinstance(node, ast.ImportFrom) and (
                node.module == "argparse" or any(a.name == "HfArgumentParser" for a in node.names)):
            return "argparse", None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in PARSE_CALLS:
            return "argparse", None
    for node in tree.body:
        name, value = _assignment(node)
        if name in DICT_NAMES and _is_dict(value):
            return "dict", name
    return "globals", None


def _task_name(stem: str) -> str:
    name = re.sub(r"[^0-9A-Za-z_]", "_", stem).strip("_")
    if not name or name[0].isdigit():
        name = "script_" + name
    return name


# ---- globals and dicts (ast only) ------------------------------------------------------------

def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """(name, value) of ``name = value`` / ``name: T = value``; else (None, None)."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id, node.value
    return None, None


def _is_dict(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Dict) or (
        isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict"
        and not value.args)


def _literal(node: ast.expr) -> tuple[bool, Any]:
    """(is a literal HeyHi can type, its value): numbers, strings, bools, None, flat lists/tuples."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    return _kind_of_value(value) is not None, value


def _kind_of_value(value: Any) -> tuple[str, bool] | None:
    """(kind, repeated) of a literal, or None when no field can hold it."""
    if isinstance(value, (list, tuple)):
        kinds = {_scalar_kind(x) for x in value}
        if not kinds:
            return "string", True
        if None in kinds or "none" in kinds:
            return None
        if len(kinds) == 1:
            return kinds.pop(), True
        if kinds == {"int64", "double"}:
            return "double", True
        return None
    kind = _scalar_kind(value)
    return None if kind is None else ("string" if kind == "none" else kind, False)


def _scalar_kind(value: Any) -> str | None:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64" if _INT64[0] <= value <= _INT64[1] else None
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    return None


def _value_flag(key: str, value: Any, where: str, action: str, annotation: ast.expr | None = None) -> ScriptFlag:
    kind, repeated = _kind_of_value(value)
    if kind == "int64" and isinstance(annotation, ast.Name) and annotation.id == "float":
        kind = "double"
    flag = ScriptFlag(key=key, kind=kind, repeated=repeated, where=where, action=action,
                      type_name="NoneType" if value is None else type(value).__name__)
    if value is None:
        flag.doc = "None in the script: unset, the script keeps None"
    else:
        flag.has_default = True
        flag.default = [float(x) if kind == "double" else x for x in value] if repeated else (
            float(value) if kind == "double" else value)
    return flag


def _check_key(key: str, seen: dict, where: str, what: str, of: str = "") -> None:
    if not key.isidentifier() or key.startswith("_"):
        raise ConfigError(f"{what} {key!r}{of} is not a name HeyHi can use as a field (an identifier not starting "
                          "with '_'): give it one (dest=...)" if of else f"{what} {key!r} is not a name HeyHi can use "
                          "as a field (an identifier not starting with '_')", where)
    if key in seen:
        raise ConfigError(f"{what} {key!r}{of} is defined twice (also at {seen[key]}): HeyHi needs one field per name",
                          where)
    seen[key] = where


def _global_flags(tree: ast.Module, rel: str) -> list[ScriptFlag]:
    flags: list[ScriptFlag] = []
    seen: set[str] = set()
    for node in tree.body:
        name, value = _assignment(node)
        if name is None or name.startswith("_") or name in seen:
            continue
        ok, lit = _literal(value)
        if not ok:
            continue
        seen.add(name)
        flags.append(_value_flag(name, lit, f"{rel}:{node.lineno}", "global", getattr(node, "annotation", None)))
    return flags


def _find_dict(tree: ast.Module, dest: str) -> ast.expr | None:
    """The dict literal ``dest`` names: ``NAME`` at module level, ``FUNC.NAME`` inside a top-level function."""
    body: list = tree.body
    name = dest
    if "." in dest:
        func, name = dest.split(".")
        fn = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == func),
                  None)
        if fn is None:
            return None
        body = fn.body
    for node in body:
        target, value = _assignment(node)
        if target == name and _is_dict(value):
            return value
    return None


def _dict_entries(node: ast.expr) -> list[tuple[str | None, ast.expr, int]]:
    """(key or None when not a string, value node, line) of a dict literal or ``dict(k=v)``."""
    if isinstance(node, ast.Dict):
        return [(k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None, v,
                 (k or v).lineno) for k, v in zip(node.keys, node.values)]
    return [(kw.arg, kw.value, kw.value.lineno) for kw in node.keywords]


def _dict_flags(node: ast.expr, rel: str, dest: str) -> list[ScriptFlag]:
    flags: list[ScriptFlag] = []
    seen: dict[str, str] = {}
    for key, value, line in _dict_entries(node):
        if key is None:
            continue  # ``**other`` or a non-string key: not a flag
        ok, lit = _literal(value)
        if not ok:
            continue
        where = f"{rel}:{line}"
        _check_key(key, seen, where, f"key of dict {dest!r}")
        flags.append(_value_flag(key, lit, where, "dict"))
    return flags


# ---- argparse (captured in a subprocess, cached) ---------------------------------------------

def _derive_argparse(script: Path, root: Path, rel: str, task: str, opts: dict, python: str) -> ScriptTask:
    timeout = float(opts.get("derive-timeout-s") or DEFAULT_TIMEOUT_S)
    memory = int(opts.get("derive-memory-mb") or DEFAULT_MEMORY_MB)
    name, key = _cache_key(script, python)
    entry = _cache_dir() / f"{name}.json"
    hit = _cache_read(entry, key)
    if hit is not None:
        return hit
    report = _capture(script, root, rel, python, timeout, memory)
    parser = report["parser"]
    flags = _parser_flags(parser, root, 0)
    t = ScriptTask(str(script), "argparse", None, task, flags, str(parser.get("description") or ""))
    deps = [str(script)] + [m for m in report.get("modules", []) if isinstance(m, str)]
    _cache_write(entry, key, t, deps, python)
    return t


def _capture(script: Path, root: Path, rel: str, python: str, timeout: float, memory_mb: int) -> dict:
    """Run ``script_capture.py`` on ``script`` and return its report (see there); any failure is a
    one-line ``ConfigError``. Every process of its session is killed before this returns."""
    import subprocess  # lean: only a derivation (a cache miss) starts the capture process

    rfd, wfd = os.pipe()
    cmd = [python, str(CAPTURE), "--fd", str(wfd), "--root", str(root), "--memory-mb", str(memory_mb), "--",
           str(script)]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                pass_fds=(wfd,), cwd=str(root), start_new_session=True)
    except OSError as e:
        os.close(rfd)
        raise ConfigError(f"cannot start {python} to read the script's flags: {e.strerror or e}", rel) from None
    finally:
        os.close(wfd)
    try:
        report, tail, timed_out, too_big = _collect(proc, rfd, timeout)
    finally:
        _kill_session(proc)
        os.close(rfd)
        proc.stdout.close()
        status = proc.wait()  # at once: every process of its session was just killed
    if timed_out:
        raise ConfigError(f"did not reach parse_args within {timeout:g} s: stopped (set derive-timeout-s in "
                          "[tool.heyhi.scripts] to wait longer)", rel)
    if too_big:
        raise ConfigError(f"the description of its parser is over {MAX_REPORT // (1024 * 1024)} MB", rel)
    if not report:
        last = _last_line(tail)
        how = f"was killed by signal {-status}" if status < 0 else f"exited with code {status}"
        raise ConfigError(f"never called parse_args: it {how} while its flags were read (memory limit "
                          f"{memory_mb} MB: derive-memory-mb in [tool.heyhi.scripts]){last}", rel)
    try:
        data = json.loads(bytes(report))
    except ValueError:
        raise ConfigError("never called parse_args: its flags could not be read (a broken report)", rel) from None
    if "parser" in data:
        return data
    return _capture_error(data, rel, root, tail, memory_mb)


def _capture_error(data: dict, rel: str, root: Path, tail: bytearray, memory_mb: int):
    where = _where(str(data.get("where") or ""), root) or rel
    error = str(data.get("error") or "failed")
    if data.get("ended"):
        raise ConfigError(f"never called parse_args: it ran to its end (for flags in globals or a dict, set "
                          f"flags-dest for {rel!r} in [tool.heyhi.scripts] of pyproject.toml)", rel)
    if data.get("exited"):
        raise ConfigError(f"never called parse_args: it {error} first{_last_line(tail)}", where)
    if data.get("crashed"):
        hint = f" (memory limit {memory_mb} MB: derive-memory-mb in [tool.heyhi.scripts])" if (
            error.startswith("MemoryError") or "cannot allocate" in error or "failed to map" in error) else ""
        raise ConfigError(f"{rel} crashed before calling parse_args: {error}{hint}", where)
    raise ConfigError(f"{rel}: {error}", where)


def _collect(proc: subprocess.Popen, rfd: int, timeout: float) -> tuple[bytearray, bytearray, bool, bool]:
    """Read the report and the output (its last ``MAX_TAIL`` bytes) until the capture process ends or
    ``timeout``; never reaps the process (so its process group cannot be reused before it is killed)."""
    import selectors  # lean: only a derivation (a cache miss) reads the capture process

    report, tail = bytearray(), bytearray()
    sel = selectors.DefaultSelector()
    out = proc.stdout.fileno()
    os.set_blocking(out, False)
    os.set_blocking(rfd, False)
    sel.register(out, selectors.EVENT_READ, "out")
    sel.register(rfd, selectors.EVENT_READ, "report")
    pidfd = None
    try:
        pidfd = os.pidfd_open(proc.pid)
        sel.register(pidfd, selectors.EVENT_READ, "exit")
    except (AttributeError, OSError):
        pidfd = None  # no pidfd: poll with waitid(WNOWAIT) below
    deadline = time.monotonic() + timeout
    open_ = {"out", "report"}
    exited = False
    try:
        while open_ and not exited:
            left = deadline - time.monotonic()
            if left <= 0:
                return report, tail, True, False
            for key, _ in sel.select(min(left, 0.05 if pidfd is None else left)):
                if key.data == "exit":
                    exited = True
                    continue
                if not _drain(key.fd, key.data, report, tail, sel, open_):
                    return report, tail, False, True
            if pidfd is None and _has_exited(proc.pid):
                exited = True
        for name, fd in (("out", out), ("report", rfd)):  # whatever the process wrote before it ended
            while name in open_:
                try:
                    if not _drain(fd, name, report, tail, sel, open_):
                        return report, tail, False, True
                except BlockingIOError:
                    break
    finally:
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
    return report, tail, False, False


def _drain(fd: int, name: str, report: bytearray, tail: bytearray, sel, open_: set) -> bool:
    """Read what ``fd`` holds; False when the report grew past ``MAX_REPORT``. BlockingIOError when empty."""
    chunk = os.read(fd, 1 << 16)
    if not chunk:
        open_.discard(name)
        try:
            sel.unregister(fd)
        except (KeyError, ValueError):
            pass
        return True
    if name == "report":
        report += chunk
        return len(report) <= MAX_REPORT
    tail += chunk
    if len(tail) > MAX_TAIL:
        del tail[:-MAX_TAIL]
    return True


def _has_exited(pid: int) -> bool:
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL every process of the capture's session (its leader is not reaped yet: the id is still ours)."""
    import signal  # lean: only a derivation (a cache miss) has a capture process to stop

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _last_line(tail: bytearray) -> str:
    lines = [ln.strip() for ln in bytes(tail).decode("utf-8", "replace").splitlines() if ln.strip()]
    return f"; its last output: {lines[-1][:200]}" if lines else ""


def _where(where: str, root: Path) -> str:
    """A capture's ``/abs/file.py:12`` as ``file.py:12`` relative to the project root."""
    path, sep, line = where.rpartition(":")
    if not sep or not path:
        return where
    return f"{_rel(Path(path), root)}:{line}"


def _parser_flags(parser: dict, root: Path, depth: int) -> list[ScriptFlag]:
    """The flags of a captured parser (sub-commands recursively)."""
    flags: list[ScriptFlag] = []
    seen: dict[str, str] = {}
    by_key: dict[str, ScriptFlag] = {}
    mutex = parser.get("mutex") or []
    for a in parser.get("actions") or []:
        where = _where(str(a.get("where") or ""), root)
        opts = [str(o) for o in a.get("option_strings") or []]
        if a.get("action") == "parsers":
            dest = str(a.get("dest") or "")
            key = "command" if dest in ("", "==SUPPRESS==") else dest
            _check_key(key, seen, where, "the sub-commands' dest")
            commands = []
            cmd_seen: dict[str, str] = dict(seen)
            for c in a.get("commands") or []:
                ckey = str(c["name"]).replace("-", "_")
                cwhere = _where(str(c.get("where") or ""), root) or where
                _check_key(ckey, cmd_seen, cwhere, "sub-command")
                commands.append(ScriptCommand(name=str(c["name"]), key=ckey, doc=str(c.get("help") or ""),
                                              where=cwhere, aliases=[str(x) for x in c.get("aliases") or []],
                                              flags=_parser_flags(c["parser"], root, depth + 1)))
            for c in commands:
                seen[c.key] = c.where
            flags.append(ScriptFlag(key=key, kind="command", doc=str(a.get("help") or ""), where=where,
                                    action="parsers", required=bool(a.get("required")), commands=commands))
            continue
        flag = _action_flag(a, opts, where, mutex)
        other = by_key.get(flag.key)
        if other is not None and _merge_switch(other, flag):
            continue
        _check_key(flag.key, seen, where, "dest" if opts else "positional",
                   f" (of {_long_option(opts)})" if opts else "")
        by_key[flag.key] = flag
        flags.append(flag)
    return flags


def _merge_switch(first: ScriptFlag, second: ScriptFlag) -> bool:
    """``--x`` and ``--no-x`` writing one dest (store_true + store_false, or HfArgumentParser's bool
    with its ``--no_x``): one bool field; True when merged."""
    if first.kind != "bool" or second.kind != "bool" or first.repeated or second.repeated:
        return False
    if second.action not in ("store_true", "store_false") or first.mutex is not None:
        return False
    if second.action == "store_false" and not first.false_opts:
        first.false_opts = list(second.option_strings)
    elif second.action == "store_true" and not first.true_opts:
        first.true_opts = list(second.option_strings)
    else:
        return False
    return True


def _action_flag(a: dict, opts: list[str], where: str, mutex: list) -> ScriptFlag:
    action = str(a.get("action") or "store")
    nargs = a.get("nargs")
    positional = not opts
    flag = ScriptFlag(key=str(a.get("dest")), kind="string", where=where, option_strings=opts, action=action,
                      nargs=nargs, const=a.get("const"), required=bool(a.get("required")), positional=positional,
                      type_name=str(a.get("type") or ""), group=str(a.get("group") or ""),
                      doc=str(a.get("help") or ""))
    m = a.get("mutex")
    if isinstance(m, int) and 0 <= m < len(mutex):
        flag.mutex, flag.mutex_required = m, bool(mutex[m].get("required"))
    default = a.get("default")
    if action in SWITCHES or (action.startswith("custom:") and nargs == 0):
        flag.kind = "bool"
        if action == "boolean_optional":
            flag.true_opts = [o for o in opts if not o.lstrip(o[0]).startswith("no-")]
            flag.false_opts = [o for o in opts if o not in flag.true_opts]
        elif action == "store_false":
            flag.false_opts = list(opts)
        else:
            flag.true_opts = list(opts)
        if action in ("store_true", "store_false", "boolean_optional") and isinstance(default, bool):
            flag.default, flag.has_default = default, True
        elif action != "boolean_optional":
            flag.default, flag.has_default = action == "store_false", True
        if action in ("store_const", "append_const"):
            flag.doc = (flag.doc + f" (true: {action} {flag.const!r})").strip()
        _note_default(flag, default)
        return flag
    if action == "count":
        flag.kind = "int64"
        if isinstance(default, int) and not isinstance(default, bool):
            flag.default, flag.has_default = default, True
        _note_default(flag, default)
        return flag
    if action == "append" and nargs not in (None, "?"):
        raise ConfigError(f"{flag.shown}: action 'append' with nargs={nargs!r} makes a list of lists, which a "
                          "HeyHi field cannot hold", where)
    flag.repeated = action in ("append", "extend") or nargs in ("*", "+", "...", "A...") or (
        isinstance(nargs, int) and not isinstance(nargs, bool))
    choices = a.get("choices")
    if not isinstance(choices, list):
        choices = None
    flag.kind = _value_kind(flag.type_name, choices, default)
    flag.choices = choices
    if flag.repeated:
        if isinstance(default, list):
            ok, values = _coerce_all(flag, default)
            if ok:
                flag.default, flag.has_default = values, True
    else:
        ok, value = _coerce(flag, default)
        if ok:
            flag.default, flag.has_default = value, True
    _note_default(flag, default)
    return flag


def _value_kind(type_name: str, choices: list | None, default: Any) -> str:
    if type_name == "int":
        return "int64"
    if type_name == "float":
        return "double"
    if type_name == "bool":
        return "bool"
    if type_name in ("", "str"):
        names = choices and all(isinstance(c, str) and c.isidentifier() for c in choices)
        if names and len(set(choices)) == len(choices):
            return "enum"
        return "string"
    # A function as type= (str2bool, a Path, positive_int...): its default or choices tell the kind.
    sample = default[0] if isinstance(default, list) and default else default
    if sample is None and choices:
        sample = choices[0]
    kind = _scalar_kind(sample)
    return kind if kind in ("bool", "int64", "double") else "string"


def _coerce(flag: ScriptFlag, v: Any) -> tuple[bool, Any]:
    """(fits, value) of a script default for the flag's field (argparse applies type= to string defaults)."""
    kind = flag.kind
    if v is None or isinstance(v, dict):
        return False, None
    if kind == "enum":
        return (True, v) if isinstance(v, str) and v in (flag.choices or ()) else (False, None)
    if kind == "bool":
        return (True, v) if isinstance(v, bool) else (False, None)
    if kind == "string":
        return (True, v) if isinstance(v, str) else (False, None)
    if kind == "int64":
        if isinstance(v, str) and flag.type_name == "int":
            try:
                v = int(v)
            except ValueError:
                return False, None
        ok = isinstance(v, int) and not isinstance(v, bool) and _INT64[0] <= v <= _INT64[1]
        return (True, v) if ok else (False, None)
    if kind == "double":
        if isinstance(v, str) and flag.type_name == "float":
            try:
                v = float(v)
            except ValueError:
                return False, None
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        return (True, float(v)) if ok else (False, None)
    return False, None


def _coerce_all(flag: ScriptFlag, values: list) -> tuple[bool, list]:
    out = []
    for v in values:
        ok, x = _coerce(flag, v)
        if not ok:
            return False, []
        out.append(x)
    return True, out


def _note_default(flag: ScriptFlag, default: Any) -> None:
    """A script default no field value can show: said in the doc."""
    if flag.has_default or default is None:
        return
    shown = default["repr"] if isinstance(default, dict) and "repr" in default else repr(default)
    flag.doc = (flag.doc + f" (script default: {shown})").strip()


# ---- the cache ---------------------------------------------------------------------------------

def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "heyhi" / "scripts"


def _cache_key(script: Path, python: str) -> tuple[str, str]:
    """(the entry's file name, the key it must hold): the format, this HeyHi's capture code (by
    its files' stamps), the script's path and the interpreter. The name is a cheap checksum of the
    key (no hashlib on the warm path); the entry keeps the whole key, so two keys never share one."""
    code = "|".join(f"{a}:{b}" for a, b in (_stamp(str(CAPTURE)), _stamp(__file__)))
    text = "\0".join([str(FORMAT_VERSION), code, str(script), _interpreter(python)])
    raw = text.encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}{len(raw):x}", text


def _interpreter(python: str) -> str:
    """Who the interpreter is: its path, the file it resolves to (size, mtime) and, for this one, its version."""
    real = os.path.realpath(python)
    try:
        st = os.stat(real)
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    version = sys.version if python == sys.executable else ""
    return f"{python}|{real}|{stamp}|{version}"


def _file_hash(path: str) -> str:
    import hashlib  # lean: the warm path compares stamps; only a changed stamp hashes the file

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return "missing"
    return h.hexdigest()


def _stamp(path: str) -> list:
    try:
        st = os.stat(path)
    except OSError:
        return [-1, -1]
    return [st.st_size, st.st_mtime_ns]


def _cache_read(entry: Path, key: str) -> ScriptTask | None:
    """The cached task, while every file it depends on hashes the same (a file whose size and mtime are
    unchanged is not hashed again)."""
    try:
        data = json.loads(entry.read_text())
        if data.get("version") != FORMAT_VERSION or data.get("key") != key:
            return None
        for path, stamp, digest in data["deps"]:
            if _stamp(path) != stamp and _file_hash(path) != digest:
                return None
        return ScriptTask.from_json(json.dumps(data["task"]))
    except (OSError, ValueError, KeyError, TypeError, ConfigError):
        return None  # no entry, or one this HeyHi cannot read: a miss


def _cache_write(entry: Path, key: str, task: ScriptTask, deps: list[str], python: str) -> None:
    data = {"version": FORMAT_VERSION, "key": key, "python": python,
            "deps": [[p, _stamp(p), _file_hash(p)] for p in dict.fromkeys(deps)],
            "task": json.loads(task.to_json())}
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, entry)
    except OSError:
        pass  # a read-only cache still works, only slower


# ---------------------------------------------------------------------------------------------
# The schema.

def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_") if p) or "Script"


def _build_message(full: str, name: str, flags: list[ScriptFlag], doc: str, messages: dict, enums: dict) -> None:
    fields: dict[str, FieldSpec] = {}
    oneofs: dict[str, list[str]] = {}
    number = 0

    def unique(base: str) -> str:
        n, out = 1, base
        while out in messages or out in enums:
            n += 1
            out = f"{base}{n}"
        return out

    messages[full] = None  # reserved while its parts are named
    for f in flags:
        if f.kind == "command":
            oneofs[f.key] = []
            for c in f.commands or ():
                number += 1
                sub = unique(f"{full}.{_camel(c.key)}")
                _build_message(sub, sub.rsplit(".", 1)[-1], c.flags, c.doc, messages, enums)
                fields[c.key] = FieldSpec(c.key, number, "message", type_name=sub, oneof=f.key, doc=c.doc)
                oneofs[f.key].append(c.key)
            continue
        number += 1
        spec = FieldSpec(f.key, number, f.kind, repeated=f.repeated, doc=f.doc, has_default=f.has_default,
                         default=list(f.default) if f.repeated and f.has_default else f.default)
        if f.kind == "enum":
            ename = unique(f"{full}.{_camel(f.key)}")
            values = {c: i for i, c in enumerate(f.choices or ())}
            enums[ename] = EnumType(ename.rsplit(".", 1)[-1], ename, values, doc=f.doc)
            spec.type_name = ename
            if f.has_default:
                spec.default = [values[x] for x in f.default] if f.repeated else values[f.default]
        fields[f.key] = spec
    messages[full] = MessageType(name, full, fields, oneofs, doc)


# ---------------------------------------------------------------------------------------------
# Checking and running.

def _msg_of(task_msg) -> Msg:
    if isinstance(task_msg, FrozenConfig):
        return task_msg.__dict__["_msg"]
    if isinstance(task_msg, Msg):
        return task_msg
    raise TypeError(f"expected a config message, got {type(task_msg).__name__}")


def _value(msg: Msg, key: str) -> Any:
    """A set field's value, enums by name."""
    v = msg._v[key]
    f = msg._type.fields[key]
    if f.kind == "enum":
        return [f.enum.by_number.get(x, x) for x in v] if f.repeated else f.enum.by_number.get(v, v)
    return v


def _check(flags: list[ScriptFlag], msg: Msg, prefix: str) -> None:
    groups: dict[int, list[ScriptFlag]] = {}
    for f in flags:
        key = prefix + f.key
        if f.kind == "command":
            chosen = msg._which(f.key)
            if chosen is None:
                if f.required:
                    names = ", ".join(prefix + c.key for c in f.commands or ())
                    raise ConfigError(f"the script needs a sub-command {key!r}: select one of {names} "
                                      f"(e.g. {prefix}{(f.commands or [ScriptCommand('x', 'x')])[0].key}=SELECT)",
                                      f.where)
                continue
            cmd = next(c for c in f.commands or () if c.key == chosen)
            _check(cmd.flags, msg._v[chosen], f"{prefix}{chosen}.")
            continue
        if f.mutex is not None:
            groups.setdefault(f.mutex, [])
        if not msg._has(f.key):
            if f.required:
                raise ConfigError(f"flag {prefix}{f.shown} is required by the script: set it ({key}=...)", f.where)
            continue
        if f.mutex is not None:
            groups[f.mutex].append(f)
        v = _value(msg, f.key)
        if f.choices is not None and f.kind != "enum":
            for x in v if f.repeated else [v]:
                if x not in f.choices:
                    raise ConfigError(f"flag {prefix}{f.shown}: {x!r} is not one of the script's choices: "
                                      f"{', '.join(map(str, f.choices[:20]))}", f.where)
        if isinstance(f.nargs, int) and not isinstance(f.nargs, bool) and f.repeated and len(v) != f.nargs:
            raise ConfigError(f"flag {prefix}{f.shown} takes exactly {f.nargs} values, got {len(v)}", f.where)
    for i, members in groups.items():
        if len(members) > 1:
            names = " and ".join(prefix + m.shown for m in members)
            raise ConfigError(f"flags {names} are mutually exclusive: set only one", members[1].where)
        if not members:
            group = [f for f in flags if f.mutex == i]
            if group and group[0].mutex_required:
                names = ", ".join(prefix + m.shown for m in group)
                raise ConfigError(f"the script needs one of {names} set", group[0].where)


def _long_option(opts: list[str]) -> str:
    return next((o for o in opts if len(o) > 2 and o[1] == o[0]), opts[0] if opts else "")


def _text(f: ScriptFlag, x: Any) -> str:
    if isinstance(x, bool):
        if f.type_name == "bool":  # type=bool: bool(text), so False is the empty string
            return "1" if x else ""
        return "True" if x else "False"
    if isinstance(x, float):
        return repr(x)
    return str(x)


def _argv(flags: list[ScriptFlag], msg: Msg, prefix: str) -> list[str]:
    options: list[str] = []
    positionals: list[str] = []
    tail: list[str] = []
    gap = dashed = None
    for f in flags:
        if f.kind == "command":
            chosen = msg._which(f.key)
            if chosen is not None:
                cmd = next(c for c in f.commands or () if c.key == chosen)
                tail = [cmd.name] + _argv(cmd.flags, msg._v[chosen], f"{prefix}{chosen}.")
            continue
        if not msg._has(f.key):
            if f.positional and gap is None:
                gap = f
            continue
        v = _value(msg, f.key)
        if f.positional:
            if gap is not None:
                raise ConfigError(f"positional {prefix}{f.key} is set but {prefix}{gap.key}, before it, is not: "
                                  "argparse reads positionals in order", f.where)
            texts = [_text(f, x) for x in (v if f.repeated else [v])]
            if dashed is None and any(t.startswith("-") and not _is_number(t) for t in texts):
                dashed = f
            positionals.extend(texts)
            continue
        opt = _long_option(f.option_strings)
        if f.kind == "bool" and (f.true_opts or f.false_opts):
            opts = f.true_opts if v else f.false_opts
            if opts:
                options.append(_long_option(opts))
                continue
            if f.action in SWITCHES or f.nargs == 0:  # no option says it
                if f.has_default and v != f.default:
                    raise ConfigError(f"flag {prefix}{f.shown} can only be turned {'off' if f.false_opts else 'on'} "
                                      f"(action {f.action}): {v} is not possible", f.where)
                continue
        if f.action == "count":
            if not 0 <= v <= MAX_COUNT:
                raise ConfigError(f"flag {prefix}{f.shown} counts how often it is given: 0 to {MAX_COUNT}, got {v}",
                                  f.where)
            options.extend([opt] * v)
            continue
        if f.action == "append":
            for x in v:
                options.extend(_option_value(opt, _text(f, x)))
            continue
        if f.repeated:
            items = [_text(f, x) for x in v]
            bad = next((x for x in items if x.startswith("-") and not _is_number(x)), None)
            if bad is not None:
                raise ConfigError(f"flag {prefix}{f.shown}: the value {bad!r} starts with '-': argparse would read "
                                  "it as an option", f.where)
            options.extend([opt, *items])
            continue
        options.extend(_option_value(opt, _text(f, v)))
    if dashed is not None:
        if tail:
            raise ConfigError(f"positional {prefix}{dashed.key}: a value starting with '-' cannot come before a "
                              "sub-command (argparse would read it as an option)", dashed.where)
        return options + ["--"] + positionals  # after "--" everything is positional
    return positionals + options + tail  # positionals first: an option's list (nargs="+") cannot eat them


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _option_value(opt: str, text: str) -> list[str]:
    if len(opt) > 2 and opt[1] == opt[0]:
        return [f"{opt}={text}"]  # --name=value: also a value starting with '-'
    return [opt + text] if text.startswith("-") else [opt, text]


def run_script(task: ScriptTask, script_path: Path, task_msg) -> None:
    """Run the script in this process as ``__main__`` with the composed values (see the module
    docstring); ``sys.argv``, ``sys.path[0]`` and ``sys.modules["__main__"]`` are restored after.
    ``SystemExit`` propagates."""
    msg = _msg_of(task_msg)
    path = Path(script_path).absolute()
    source = read_text(path, "script")
    where = str(path)
    if task.style == "argparse":
        argv = task.argv(msg)
        code = compile(source, str(path), "exec")
    else:
        argv = []
        tree = _parse(source, where)
        _rewrite(task, tree, msg, where)
        code = compile(tree, str(path), "exec")
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=str(path), __builtins__=__builtins__, __cached__=None, __spec__=None,
                           __package__=None, __loader__=None)
    saved = (sys.argv, sys.path[0] if sys.path else None, sys.modules.get("__main__"))
    sys.argv = [str(path), *argv]
    if sys.path:
        sys.path[0] = str(path.parent)
    else:
        sys.path.append(str(path.parent))
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    finally:
        sys.argv = saved[0]
        if saved[1] is not None and sys.path:
            sys.path[0] = saved[1]
        if saved[2] is not None:
            sys.modules["__main__"] = saved[2]


def _rewrite(task: ScriptTask, tree: ast.Module, msg: Msg, where: str) -> None:
    """Replace, in ``tree``, the first literal assignment of each set flag (or its dict entry) by its value."""
    flags = {f.key: f for f in task.flags if msg._has(f.key)}
    if not flags:
        return
    done: set[str] = set()
    if task.style == "globals":
        for node in tree.body:
            name, value = _assignment(node)
            if name in flags and name not in done and _literal(value)[0]:
                node.value = _node(flags[name], _value(msg, name), value)
                done.add(name)
    else:
        d = _find_dict(tree, task.dest or "")
        if d is None:
            raise ConfigError(f"no dict literal {task.dest!r} in the script any more", where)
        if isinstance(d, ast.Dict):
            for i, (k, v) in enumerate(zip(d.keys, d.values)):
                key = k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None
                if key in flags and key not in done and _literal(v)[0]:
                    d.values[i] = _node(flags[key], _value(msg, key), v)
                    done.add(key)
        else:
            for kw in d.keywords:
                if kw.arg in flags and kw.arg not in done and _literal(kw.value)[0]:
                    kw.value = _node(flags[kw.arg], _value(msg, kw.arg), kw.value)
                    done.add(kw.arg)
    missing = [k for k in flags if k not in done]
    if missing:
        raise ConfigError(f"flag {missing[0]!r} has no literal assignment in the script any more "
                          f"(derived at {flags[missing[0]].where})", where)


def _node(f: ScriptFlag, value: Any, old: ast.expr) -> ast.expr:
    if f.repeated:
        elts = [ast.Constant(x) for x in value]
        new: ast.expr = ast.Tuple(elts, ast.Load()) if f.type_name == "tuple" else ast.List(elts, ast.Load())
    else:
        new = ast.Constant(value)
    for n in ast.walk(new):
        ast.copy_location(n, old)  # tracebacks keep naming the script's own lines
    return new


def _flag_from_dict(d: dict) -> ScriptFlag:
    d = dict(d)
    cmds = d.pop("commands", None)
    names = {f.name for f in dataclasses.fields(ScriptFlag)}
    flag = ScriptFlag(**{k: v for k, v in d.items() if k in names})
    if cmds is not None:
        flag.commands = [ScriptCommand(name=c["name"], key=c["key"], doc=c.get("doc", ""), where=c.get("where", ""),
                                       aliases=list(c.get("aliases", [])),
                                       flags=[_flag_from_dict(x) for x in c.get("flags", [])]) for c in cmds]
    return flag
