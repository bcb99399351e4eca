"""Composition, in HeyHi's order.

For a config file of message type T:
  1. an empty T; the file's ``includes`` merged into it, in order, at their mounts;
  2. the file's own content merged (protobuf merge: scalars replace, messages merge, repeated
     fields concatenate, a oneof switches); ``includes`` cleared;
  3. include overrides ``I<mount>=<path>`` merged;
  4. scalar overrides applied.
Overrides are ``heyhi.config.grammar.Override`` objects (strings are parsed by the grammar); an
error at an override carries it (``ConfigError.override``).
For the top-level message (``MetaCfg``) mounts and keys are relative to the task: the set branch
of the ``task`` oneof.

A plain Python script (``train.py``) is a config too (a script task): its schema is derived from the
script (``heyhi.config.schema.scripts``, never in this process) and its own content is an empty
task; the overrides give every value. ``Composer.for_config`` hands such a config to the script's
composer (``ScriptComposer``); every path (compose, task_of, field help, sweeps) goes through it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from heyhi.config.source import read_text
from heyhi.errors import ConfigError
from heyhi.config.grammar import Override, OverrideKind, blame
from heyhi.config.overrides import apply_scalar, effective, parse_overrides
from heyhi.config.project import Project
from heyhi.config.schema.model import MessageType, Schema
from heyhi.config.tree import ListValue, Loc, Node, Scalar
from heyhi.config.typed import node_to_msg
from heyhi.config.values import Msg
from heyhi.config.textformat import parse

EXTS = (".prototxt", ".yaml", ".yml", ".json")
SCRIPT_EXT = ".py"  # a plain Python script: a script task
INCLUDES_FIELD = "includes"
TASK_ONEOF = "task"
MAX_INCLUDE_DEPTH = 100  # files deep, counting the top-level config
_ROOT_DIR_RE = re.compile(r"\{\{ *ROOT_DIR *\}\}")


@dataclass
class Include:
    path: str
    mount: str
    where: str


@dataclass
class Composed:
    """A composed top-level config: the task's name, the root message and the task's message."""

    config: Path
    task: str
    meta: Msg
    overrides: list[Override]
    project: Project
    provenance: dict[str, str] = field(default_factory=dict)
    script: Any = None  # a script task: its ``heyhi.config.schema.scripts.ScriptTask``

    @property
    def task_msg(self) -> Msg:
        return self.meta._v[self.task]

    @property
    def raw_overrides(self) -> list[str]:
        return [o.raw for o in self.overrides]


class Composer:
    """Composes configs of one project; parsed files are cached by (path, mtime, size)."""

    def __init__(self, project: Project, schema: Schema | None = None):
        self.project = project
        self._schema = schema
        self._files: dict[str, tuple[tuple, Node]] = {}
        self._typed: dict[tuple[str, str], tuple[tuple, Msg, list[Include]]] = {}
        self._includes: dict[tuple, Path] = {}
        self._scripts: dict[str, tuple[str, "ScriptComposer"]] = {}

    def for_config(self, config: Path | str) -> "Composer":
        """The composer of ``config``: this one, or for a script (``*.py``) the script's own, its
        schema derived from the script (cached on disk by the script's hash; derived again only
        when the script or a module it imports changed)."""
        if not is_script(config):
            return self
        from heyhi.config.schema.scripts import derive  # lean: only a script task needs it

        path = Path(config)
        task = derive(path, self.project.root, settings=self.project.settings.get("scripts") or {})
        key = task.to_json()
        hit = self._scripts.get(str(path))
        if hit is not None and hit[0] == key:
            return hit[1]
        comp = ScriptComposer(self.project, task)
        self._scripts[str(path)] = (key, comp)
        return comp

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            self._schema = self.project.schema
        return self._schema

    # ---- files -----------------------------------------------------------------------------
    def parse_file(self, path: Path) -> Node:
        """The file's untyped tree (``{{ ROOT_DIR }}`` substituted), cached."""
        key = str(path)
        try:
            st = os.stat(path)
        except OSError:
            raise ConfigError("config file not found", str(path)) from None
        stamp = (st.st_mtime_ns, st.st_size)
        hit = self._files.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        text = read_text(path)  # a regular file, bounded, never blocks (heyhi.config.source)
        if "{{" in text:
            text = _ROOT_DIR_RE.sub(str(self.project.root), text)
        node = _parse_text(text, path)
        self._files[key] = (stamp, node)
        return node

    def file_msg(self, path: Path, mtype: MessageType) -> tuple[Msg, list[Include]]:
        """The file's own content typed as ``mtype`` (without its includes) and its includes.

        Cached per (file, type) while the file is unchanged: callers must not mutate the Msg."""
        node = self.parse_file(path)
        key = (str(path), mtype.full_name)
        stamp = self._files[str(path)][0]
        hit = self._typed.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1], hit[2]
        msg, includes = self._type_file(node, mtype)
        self._typed[key] = (stamp, msg, includes)
        return msg, includes

    def _type_file(self, node: Node, mtype: MessageType) -> tuple[Msg, list[Include]]:
        includes: list[Include] = []
        if mtype.has_includes():
            rest = []
            for e in node.entries:
                if e.name == INCLUDES_FIELD:
                    includes.extend(_includes_of(e.value))
                else:
                    rest.append(e)
            node = Node(rest, node.loc)
        return node_to_msg(node, mtype), includes

    # ---- includes --------------------------------------------------------------------------
    def include_dirs(self, config: Path, extra: Sequence[Path] = ()) -> list[Path]:
        return [config.absolute().parent, self.project.conf_dir / "common", *map(Path, extra)]

    def resolve_include(self, path: str, include_dirs: Sequence[Path], mount: str, where: str,
                        chain: tuple = ()) -> Path:
        """Absolute path; a path with '/' relative to the project root; else the name (extension
        optional) in each include folder, then in each include folder plus the mount path. The
        files of ``chain`` (those being composed) are never suggested for a missing include."""
        if path.startswith("/"):
            p = Path(path)
            if p.is_file():
                return p
            raise ConfigError(f"include {path!r} not found", where)
        ckey = (path, tuple(map(str, include_dirs)), mount)
        hit = self._includes.get(ckey)
        if hit is not None and hit.is_file():
            return hit
        found = self._resolve_include(path, include_dirs, mount, where, {r for r, _ in chain})
        self._includes[ckey] = found
        return found

    def _resolve_include(self, path: str, include_dirs: Sequence[Path], mount: str, where: str,
                         composing: set = frozenset()) -> Path:
        if "/" in path and (self.project.root / path).is_file():
            return self.project.root / path
        name = path
        for ext in EXTS:
            if name.endswith(ext):
                name = name[: -len(ext)]
                break
        dirs = list(include_dirs)
        mount = mount.strip(".")
        if mount:
            dirs += [d / mount.replace(".", "/") for d in include_dirs]
        for d in dirs:
            for ext in EXTS:
                cand = d / (name + ext)
                if cand.is_file():
                    return cand
        known: list[str] = []
        for d in dirs:
            parent = (d / name).parent
            if parent.is_dir():
                for p in sorted(parent.iterdir()):
                    if p.suffix in EXTS and p.is_file() and os.path.realpath(p) not in composing:
                        rel = os.path.relpath(p.with_suffix(""), d)
                        if rel not in known:
                            known.append(rel)
        msg = f"include {path!r} not found"
        if mount:
            msg += f" for mount {mount!r}"
        if known:
            from heyhi.config.suggest import closest  # lean: only an error needs it (keeps difflib off the start-up of heyhi run --print)

            msg += "; known includes: " + ", ".join(closest(name, known, 12))
        raise ConfigError(msg, where)

    def _apply_include(self, msg: Msg, mount: str, inc_path: str, dirs: Sequence[Path], where: str, display_mount: str,
                       chain: tuple = ()):
        sub = _sub_config(msg, mount, where, display_mount)
        resolved = self.resolve_include(inc_path, dirs, display_mount, where, chain)
        chain = self._chain(chain, resolved, where)
        sub._merge(self.load_message(resolved, sub._type, chain=chain))

    def _chain(self, chain: tuple, path: Path, where: str) -> tuple:
        """``chain`` (the files being composed, outermost first, as (real path, path)) plus
        ``path``; a file already in it is an include cycle, named in one line."""
        real = os.path.realpath(path)
        for i, (r, _) in enumerate(chain):
            if r == real:
                cycle = " -> ".join(_shown_path(p, self.project) for _, p in (*chain[i:], (real, path)))
                raise ConfigError(f"include cycle: {cycle}", where)
        if len(chain) >= MAX_INCLUDE_DEPTH:
            shown = _shown_path(path, self.project)
            raise ConfigError(f"includes nested more than {MAX_INCLUDE_DEPTH} files deep (at {shown})", where)
        return (*chain, (real, path))

    # ---- composition -----------------------------------------------------------------------
    def load_message(
        self,
        config: Path,
        mtype: MessageType,
        overrides: Sequence[Override] = (),
        extra_include_dirs: Sequence[Path] = (),
        task: str | None = None,
        chain: tuple = (),
    ) -> Msg:
        """``config`` composed as ``mtype`` with ``overrides`` (see the module docstring).

        ``chain`` is internal: the files whose includes led here (an include cycle is an error)."""
        config = Path(config)
        if not chain:
            chain = self._chain((), config, str(config))
        dirs = self.include_dirs(config, extra_include_dirs)
        own, includes = self.file_msg(config, mtype)
        prefix = f"{task}." if task else ""

        def mount_of(m: str) -> str:
            return (prefix + m).strip(".")

        msg = Msg(mtype)
        for inc in includes:
            self._apply_include(msg, mount_of(inc.mount), inc.path, dirs, inc.where, inc.mount, chain)
        msg._merge(own)
        if INCLUDES_FIELD in mtype.fields:
            msg._clear(INCLUDES_FIELD)
        eff = effective(overrides)
        for o in eff:
            if o.kind == OverrideKind.INCLUDE:
                try:
                    self._apply_include(msg, mount_of(o.key), o.value, dirs, o.where, o.key, chain)
                except ConfigError as e:
                    blame(e, o)  # an error at the override (not inside the included file) carries it
                    raise
        for o in eff:
            if o.kind != OverrideKind.INCLUDE:
                apply_scalar(msg, mount_of(o.key), o, prefix)
        return msg

    def task_of(self, config: Path) -> str:
        """The set branch of the root's ``task`` oneof, from the file's own content."""
        if is_script(config) and not isinstance(self, ScriptComposer):
            return self.for_config(config).task_of(config)
        root = self.schema.root
        own, _ = self.file_msg(Path(config), root)
        if TASK_ONEOF not in root.oneofs:
            raise ConfigError(f"the root message {root.name} has no oneof 'task'")
        task = own._which(TASK_ONEOF)
        if task is None:
            raise ConfigError(
                f"no task set: the config must set one of {', '.join(root.oneofs[TASK_ONEOF])}", str(config)
            )
        return task

    def compose(self, config: Path | str, overrides: Sequence[str | Override] = (), *, checked: bool = True) -> Composed:
        """Compose a top-level config (a ``MetaCfg`` with a task) with command-line overrides.

        ``checked=False``: a script task's launch checks (a required flag unset) are skipped, for
        what only reads the config (``--help-fields``, ``--print``)."""
        config = Path(config)
        if is_script(config) and not isinstance(self, ScriptComposer):
            return self.for_config(config).compose(config, overrides, checked=checked)
        ovs = [o if isinstance(o, Override) else None for o in overrides]
        if any(o is None for o in ovs):
            ovs = parse_overrides(str(o) if not isinstance(o, Override) else o.token for o in overrides)
        task = self.task_of(config)
        meta = self.load_message(config, self.schema.root, ovs, task=task)
        if meta._which(TASK_ONEOF) != task:
            raise ConfigError(f"the overrides switched the task away from {task!r}", str(config))
        return Composed(config=config, task=task, meta=meta, overrides=list(ovs), project=self.project)

    def guess_type(self, config: Path) -> MessageType:
        """The root type if the file parses as it, else the first message type that accepts it."""
        try:
            self.file_msg(config, self.schema.root)
            return self.schema.root
        except ConfigError as first:
            for m in self.schema.messages.values():
                try:
                    self.file_msg(config, m)
                    return m
                except ConfigError:
                    continue
            raise first


def is_script(config: Path | str) -> bool:
    """Is ``config`` a plain Python script (a script task)?"""
    return str(config).endswith(SCRIPT_EXT)


class ScriptComposer(Composer):
    """Composes the script task ``script`` (a ``ScriptTask``): the script's own content is an empty
    task of its derived schema; includes and overrides apply as to any config."""

    def __init__(self, project: Project, script: Any):
        from heyhi.config.schema.builtin import with_launcher  # lean: only a script task needs it

        super().__init__(project, schema=with_launcher(script.schema(), script.task))
        self.script = script

    def file_msg(self, path: Path, mtype: MessageType) -> tuple[Msg, list[Include]]:
        if not is_script(path):
            return super().file_msg(path, mtype)
        msg = Msg(mtype)
        if mtype is self.schema.root:
            msg._sub(self.script.task)  # the task chosen: its fields are the script's flags
        return msg, []

    def _at_flag(self, e: ConfigError) -> ConfigError:
        """``e`` naming where the script defines the flag its override sets (``lr`` at train.py:6)."""
        o = e.override
        key = o.key if o is not None and o.kind != OverrideKind.INCLUDE else None
        defined = self.script.where(key) if key else ""
        if not defined or "unknown key" in e.message:
            return e
        return ConfigError(f"{e.message} (the flag {key} is defined at {defined})", e.where,
                           override=e.override, token=e.token)

    def include_dirs(self, config: Path, extra: Sequence[Path] = ()) -> list[Path]:
        if not is_script(config):
            return super().include_dirs(config, extra)
        conf = self.project.conf_dir  # a script's includes (Ilauncher=slurm) come from the project's conf/
        return [conf / "common", conf, *map(Path, extra)]

    def task_of(self, config: Path) -> str:
        return self.script.task if is_script(config) else super().task_of(config)

    def compose(self, config: Path | str, overrides: Sequence[str | Override] = (), *, checked: bool = True) -> Composed:
        try:
            composed = super().compose(config, overrides)
        except ConfigError as e:
            raise self._at_flag(e) from None
        if checked:
            self.script.check(composed.task_msg)  # a required flag left unset: one line naming it
        composed.script = self.script
        return composed


def _parse_text(text: str, path: Path) -> Node:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        from heyhi.config.yamljson import parse_yaml  # lean: keeps the start-up of heyhi run --print from loading it

        return parse_yaml(text, str(path))
    if suffix == ".json":
        from heyhi.config.yamljson import parse_json  # lean: keeps the start-up of heyhi run --print from loading it

        return parse_json(text, str(path))

    return parse(text, str(path))


def _shown_path(path: Path, project: Project) -> str:
    """``path`` as an include cycle names it: relative to the project's conf folder when inside."""
    try:
        return str(Path(path).absolute().relative_to(project.conf_dir.absolute()))
    except ValueError:
        return str(path)


def _includes_of(value: Any) -> list[Include]:
    items = value.items if isinstance(value, ListValue) else [value]
    out = []
    for it in items:
        if not isinstance(it, Node):
            raise ConfigError("an include is '{ path: \"...\" mount: \"...\" }'", str(it.loc))
        path = mount = None
        for e in it.entries:
            if e.name in ("path", "mount") and isinstance(e.value, Scalar) and e.value.kind == "string":
                if e.name == "path":
                    path = e.value.value
                else:
                    mount = e.value.value
            else:
                raise ConfigError(f"an include has string fields 'path' and 'mount', got {e.name!r}", str(e.loc))
        if path is None:
            raise ConfigError("an include needs a 'path'", str(it.loc))
        out.append(Include(path, mount or "", str(it.loc)))
    return out


def _sub_config(msg: Msg, mount: str, where: str, display: str) -> Msg:
    if not mount:
        return msg
    cur = msg
    for part in mount.split("."):
        f = cur._type.fields.get(part)
        if f is None or f.kind != "message" or f.repeated:
            from heyhi.config.suggest import did_you_mean  # lean: only an error needs it (keeps difflib off the start-up of heyhi run --print)

            cands = [n for n, x in cur._type.fields.items() if x.kind == "message" and not x.repeated]
            raise ConfigError(f"cannot mount an include at {display!r}: no message field {part!r}{did_you_mean(part, cands)}", where)
        cur = cur._sub(part)
    return cur


# ---- the public API ------------------------------------------------------------------------

_COMPOSERS: dict[str, Composer] = {}


_PROJECT_OF_DIR: dict[tuple[str, str | None], Project] = {}


def _find_project(config: Path, explicit) -> Project:
    key = (os.path.dirname(os.path.abspath(config)), None if explicit is None else str(explicit))
    p = _PROJECT_OF_DIR.get(key)
    if p is None:
        p = _PROJECT_OF_DIR[key] = Project.find(config, explicit)
    return p


def composer_for(project: Project | Path | str) -> Composer:
    """A cached ``Composer`` for the project (a ``Project`` or its root folder)."""
    if not isinstance(project, Project):
        project = Project(project)
    c = _COMPOSERS.get(str(project.root))
    if c is None:
        c = _COMPOSERS[str(project.root)] = Composer(project)
    return c


def compose(config: Path | str, overrides: Sequence[str] = (), *, project: Path | str | None = None) -> Composed:
    """Compose a top-level config with overrides; the project is found from the config's path."""
    return composer_for(_find_project(Path(config), project)).compose(config, overrides)


def message_type(schema: Schema, msg_class: Any) -> MessageType | None:
    """The type of ``schema`` that ``msg_class`` names: a ``MessageType`` (this schema's type of that full
    name, when it has one), a message name (``"Launcher"``, ``"TestTask.SubMessage"``), or a config class
    (an editable or a frozen per-type class); None for None (guess)."""
    if msg_class is None:
        return None
    if hasattr(msg_class, "get_proto_class"):  # a frozen config class: its editable class names the type
        msg_class = msg_class.get_proto_class()
    carried = msg_class if isinstance(msg_class, MessageType) else getattr(msg_class, "_heyhi_type", None)
    if isinstance(carried, MessageType):
        return schema.messages.get(carried.full_name, carried)
    if isinstance(msg_class, str):
        names = [msg_class]
    else:
        names = [getattr(msg_class, a, None) for a in ("__qualname__", "__name__")]
    for name in dict.fromkeys(n for n in names if isinstance(n, str)):
        mtype = schema.find_message(name)
        if mtype is not None:
            return mtype
    raise ConfigError(f"unknown message type {next((n for n in names if n), str(msg_class))!r}")


def load_message(
    config_path: Path | str,
    overrides: Sequence[str] = (),
    *,
    msg_class: Any = None,
    extra_include_dirs: Sequence[Path] = (),
    project: Path | str | None = None,
) -> Msg:
    """Load ``config_path`` with ``overrides`` as an editable config (see ``load_config``)."""
    path = Path(config_path)
    comp = composer_for(_find_project(path, project))
    schema = comp.schema
    mtype = message_type(schema, msg_class) or comp.guess_type(path)
    ovs = parse_overrides(overrides)
    task = comp.task_of(path) if mtype is schema.root else None
    return comp.load_message(path, mtype, ovs, extra_include_dirs, task=task)


def load_config(
    config_path: Path | str,
    overrides: Sequence[str] = (),
    *,
    msg_class: Any = None,
    extra_include_dirs: Sequence[Path] = (),
    project: Path | str | None = None,
):
    """Load ``config_path`` with ``overrides`` and return a frozen config.

    ``msg_class`` is a message name (``"Launcher"``), a schema ``MessageType``, a config class, or None
    to guess (the root ``MetaCfg`` if the file parses as one). For the root, keys and mounts in
    overrides are relative to the task.
    """
    msg = load_message(config_path, overrides, msg_class=msg_class, extra_include_dirs=extra_include_dirs,
                       project=project)
    from heyhi.config.frozen import freeze  # lean: keeps the start-up of heyhi run --print from loading it

    return freeze(msg, copy=False)  # a fresh message: no need to copy it


def load_root_config(
    config_path: Path | str,
    overrides: Sequence[str] = (),
    *,
    extra_include_dirs: Sequence[Path] = (),
    project: Path | str | None = None,
):
    """``load_config`` for the top-level ``MetaCfg``."""
    comp = composer_for(_find_project(Path(config_path), project))
    return load_config(config_path, overrides, msg_class=comp.schema.root, extra_include_dirs=extra_include_dirs,
                       project=project)
