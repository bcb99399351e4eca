"""The program that captures a script's argparse parser: run in a subprocess, never imported by HeyHi.

    python script_capture.py --fd N --root ROOT [--memory-mb M] [--] SCRIPT

(also ``python -m heyhi.config.schema.script_capture ...``). ``heyhi.config.schema.scripts.derive``
runs it by path, so it works under any interpreter and imports nothing but the standard library.

What it promises:
- the script runs as ``__main__`` (``sys.argv == [SCRIPT]``, ``sys.path[0]`` its folder, the project
  root ``ROOT`` on ``sys.path``, ``HEYHI_DERIVING=1`` in the environment) under an address-space
  limit of ``M`` MB, until the first call of ``ArgumentParser.parse_known_args`` (``parse_args`` and
  ``parse_known_intermixed_args`` go through it, and so do subclasses such as HuggingFace's
  ``HfArgumentParser``); at that call the parser's description is written as one JSON object to file
  descriptor ``N`` and the process ends with ``os._exit(0)`` at once: nothing after ``parse_args``
  runs, not even ``finally`` blocks or an ``except BaseException`` of the script;
- the description holds every action (dest, option strings, action kind, nargs, const, default,
  type's name, choices, required, help with ``%(default)s`` expanded, argument group, mutually
  exclusive group) with the ``file:line`` of its ``add_argument`` call, sub-commands recursively
  (bounded: ``MAX_DEPTH`` levels, ``MAX_ACTIONS`` actions), and the project-local files imported so
  far (``modules``: files under ``ROOT`` outside the interpreter's own folders);
- a script that crashes, exits or ends before that call writes ``{"error": ...}`` instead (the
  exception's last line and the ``file:line`` where it was raised), and also ends with ``os._exit``.
Values that are not JSON literals are written as ``{"repr": "..."}`` (at most ``MAX_REPR`` characters).
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import traceback

MAX_DEPTH = 8
MAX_ACTIONS = 5000
MAX_MODULES = 5000
MAX_REPR = 200
MAX_LIST = 1000

_WHERE: dict[int, str] = {}  # id(action or parser) -> "file:line" of the call that made it
_KEEP: list = []  # keeps those objects alive so that their ids stay theirs
_STATE: dict = {}


def _abs(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _excluded_dirs() -> list[str]:
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(argparse.__file__)}
    return sorted({_abs(d) + os.sep for d in dirs if d})


def _local(path: str | None) -> bool:
    """Is ``path`` a project-local file (under the root, not in the interpreter's folders)?"""
    if not path:
        return False
    real = _abs(path)
    root = _STATE["root"]
    if not real.startswith(root):
        return False
    parts = real.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not any(real.startswith(d) for d in _STATE["excluded"])


def _caller() -> str:
    """``file:line`` of the call being recorded: the innermost project-local frame outside argparse and
    this file, else the innermost frame outside them."""
    frame = sys._getframe(2)
    first = None
    depth = 0
    while frame is not None and depth < 100:
        fname = frame.f_code.co_filename
        if fname not in (argparse.__file__, __file__) and not fname.endswith(os.sep + "runpy.py"):
            where = f"{fname}:{frame.f_lineno}"
            if first is None:
                first = where
            if _local(fname):
                return where
        frame = frame.f_back
        depth += 1
    return first or "?"


def _record(obj) -> None:
    _WHERE[id(obj)] = _caller()
    _KEEP.append(obj)


def _jsonable(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, range) and len(v) <= MAX_LIST:
        return list(v)
    if isinstance(v, (list, tuple)) and len(v) <= MAX_LIST and all(
            x is None or isinstance(x, (bool, int, float, str)) for x in v):
        return list(v)
    try:
        text = repr(v)
    except Exception:  # the script's object: any repr failure is only a missing detail
        text = f"<{type(v).__name__}>"
    return {"repr": text[:MAX_REPR]}


def _kind(a: argparse.Action) -> str:
    checks = (
        (argparse._SubParsersAction, "parsers"),
        ((argparse._HelpAction, argparse._VersionAction), "skip"),
        (argparse.BooleanOptionalAction, "boolean_optional"),
        (argparse._StoreTrueAction, "store_true"),
        (argparse._StoreFalseAction, "store_false"),
        (argparse._StoreConstAction, "store_const"),
        (argparse._AppendConstAction, "append_const"),
        (getattr(argparse, "_ExtendAction", ()), "extend"),
        (argparse._AppendAction, "append"),
        (argparse._CountAction, "count"),
    )
    for cls, name in checks:
        if cls and isinstance(a, cls):
            return name
    return "store" if type(a) is argparse._StoreAction else "custom:" + type(a).__name__


def _type_name(t) -> str | None:
    if t is None:
        return None
    if t in (int, float, str, bool):
        return t.__name__
    if isinstance(t, argparse.FileType):
        return "FileType"
    return str(getattr(t, "__name__", type(t).__name__))[:MAX_REPR]


def _help(parser: argparse.ArgumentParser, a: argparse.Action) -> tuple[str, bool]:
    """(the help text with ``%(default)s`` and the like expanded, hidden?)."""
    if a.help == argparse.SUPPRESS:
        return "", True
    if not a.help:
        return "", False
    try:
        return str(parser._get_formatter()._expand_help(a)), False
    except Exception:  # a help string argparse itself could not format: keep it as written
        return str(a.help), False


def _describe(parser: argparse.ArgumentParser, depth: int) -> dict:
    if depth > MAX_DEPTH:
        raise RuntimeError(f"sub-commands nested more than {MAX_DEPTH} deep")
    titles = {}
    for g in parser._action_groups:
        if g is parser._positionals or g is parser._optionals:
            continue
        for a in g._group_actions:
            titles[id(a)] = g.title or ""
    mutex = {}
    groups = []
    for i, g in enumerate(parser._mutually_exclusive_groups):
        groups.append({"required": bool(g.required)})
        for a in g._group_actions:
            mutex[id(a)] = i
    actions = []
    for a in parser._actions:
        _STATE["count"] += 1
        if _STATE["count"] > MAX_ACTIONS:
            raise RuntimeError(f"more than {MAX_ACTIONS} arguments")
        kind = _kind(a)
        if kind == "skip":
            continue
        text, hidden = _help(parser, a)
        d = {"dest": a.dest, "option_strings": list(a.option_strings), "action": kind, "help": text,
             "hidden": hidden, "required": bool(a.required), "where": _WHERE.get(id(a), "?"),
             "group": titles.get(id(a), ""), "mutex": mutex.get(id(a))}
        if kind == "parsers":
            helps = {c.dest: (c.help if c.help != argparse.SUPPRESS else "") or "" for c in a._choices_actions}
            commands: dict[int, dict] = {}
            for name, sub in a._name_parser_map.items():
                hit = commands.get(id(sub))
                if hit is not None:
                    hit["aliases"].append(name)
                    continue
                commands[id(sub)] = {"name": name, "aliases": [], "help": str(helps.get(name, "")),
                                     "where": _WHERE.get(id(sub), "?"), "parser": _describe(sub, depth + 1)}
            d["commands"] = list(commands.values())
        else:
            d.update(nargs=_jsonable(a.nargs), const=_jsonable(a.const), type=_type_name(a.type),
                     choices=None if a.choices is None else _jsonable(
                         list(a.choices) if isinstance(a.choices, (set, frozenset, dict)) else a.choices),
                     default=None if a.default == argparse.SUPPRESS else _jsonable(a.default),
                     suppressed_default=a.default == argparse.SUPPRESS)
        actions.append(d)
    return {"prog": str(parser.prog), "description": str(parser.description or ""),
            "where": _WHERE.get(id(parser), "?"), "actions": actions, "mutex": groups}


def _modules() -> list[str]:
    out = {_abs(_STATE["script"])}
    for m in list(sys.modules.values()):
        f = getattr(m, "__file__", None)
        if isinstance(f, str) and _local(f) and _abs(f) != _abs(__file__):
            out.add(_abs(f))
            if len(out) >= MAX_MODULES:
                break
    return sorted(out)


def _report(obj: dict) -> None:
    """Write ``obj`` as JSON to the report descriptor, then end the process at once."""
    try:
        data = json.dumps(obj).encode()
    except (TypeError, ValueError) as e:
        data = json.dumps({"error": f"cannot describe the parser: {e}", "where": ""}).encode()
    fd = _STATE["fd"]
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass  # the reader went away (it stopped waiting): nothing more to do
    os._exit(0)


def _captured(self, args=None, namespace=None):
    try:
        _report({"parser": _describe(self, 0), "modules": _modules()})
    except BaseException as e:  # anything at all: never return into the script
        _report({"error": f"cannot describe the parser: {type(e).__name__}: {e}"[:500], "where": _caller()})


def _patch() -> None:
    add_argument = argparse._ActionsContainer.add_argument
    add_subparsers = argparse.ArgumentParser.add_subparsers
    add_parser = argparse._SubParsersAction.add_parser

    def add_argument_(self, *args, **kwargs):
        action = add_argument(self, *args, **kwargs)
        _record(action)
        return action

    def add_subparsers_(self, *args, **kwargs):
        action = add_subparsers(self, *args, **kwargs)
        _record(action)
        return action

    def add_parser_(self, *args, **kwargs):
        parser = add_parser(self, *args, **kwargs)
        _record(parser)
        return parser

    argparse._ActionsContainer.add_argument = add_argument_
    argparse.ArgumentParser.add_subparsers = add_subparsers_
    argparse._SubParsersAction.add_parser = add_parser_
    argparse.ArgumentParser.parse_known_args = _captured
    argparse.ArgumentParser.parse_known_intermixed_args = _captured


def _crash_where(tb) -> str:
    frames = traceback.extract_tb(tb)
    for fr in reversed(frames):
        if _local(fr.filename) and fr.filename != __file__:
            return f"{fr.filename}:{fr.lineno}"
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def main(argv: list[str]) -> None:
    opts = {"--fd": None, "--root": None, "--memory-mb": "0"}
    script = None
    i = 0
    while i < len(argv):
        if argv[i] == "--":
            script = argv[i + 1] if i + 1 < len(argv) else None
            break
        if argv[i] in opts and i + 1 < len(argv):
            opts[argv[i]] = argv[i + 1]
            i += 2
            continue
        script = argv[i]
        break
    if opts["--fd"] is None or opts["--root"] is None or script is None:
        sys.stderr.write("usage: script_capture.py --fd N --root ROOT [--memory-mb M] [--] SCRIPT\n")
        os._exit(2)
    _STATE.update(fd=int(opts["--fd"]), root=_abs(opts["--root"]) + os.sep, script=script, count=0,
                  excluded=_excluded_dirs())
    mb = int(opts["--memory-mb"])
    if mb > 0:
        import resource  # lean: the capture imports nothing it does not need before the script runs

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = mb * 1024 * 1024
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    folder = os.path.dirname(_abs(script))
    sys.path[0:1] = [folder]  # as `python SCRIPT` has it (not this file's folder)
    if _STATE["root"].rstrip(os.sep) not in sys.path:
        sys.path.insert(1, _STATE["root"].rstrip(os.sep))
    sys.argv = [script]
    os.environ["HEYHI_DERIVING"] = "1"
    _patch()
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) or e.code is None else 1
        _report({"error": f"exited with code {code or 0}", "exited": True, "where": _crash_where(e.__traceback__)})
    except BaseException as e:  # the script's own failure, reported in one line
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        _report({"error": last[:500], "crashed": True, "where": _crash_where(e.__traceback__)})
    _report({"error": "ran to its end", "ended": True, "where": ""})


if __name__ == "__main__":
    main(sys.argv[1:])
