"""A config's task keys, for shell completion and for the hints about flags, fast.

``task_keys(cfg)`` answers what ``heyhi.config.task_fields`` answers for the config ``-c cfg`` (the
task, every dotted key with its type, default, doc, enum values and oneof, the include names that
fit each mount), plus the include files that fit a mount by their content: a file whose top-level
fields are all fields of the mount's message (``Iagent_one=agents/cicero`` on Cicero).

Promises:
- A warm answer reads one file of the cache (``$XDG_CACHE_HOME/heyhi/complete/``, ``marshal``) and
  stats the files it was built from: the schema's files (``conf/*.proto`` and what they import, or
  the pydantic schema's module folder), pyproject.toml, the config, every folder under ``conf/``
  (a file added or removed changes its folder) and every include file read. Any of them changed, or
  another HeyHi or Python wrote the entry: it is rebuilt. The warm path imports the standard
  library's ``os`` and ``marshal`` only (no pathlib, re, json, pydantic, asyncio or Textual).
- A cold answer comes from the daemon when one is up (its ``Fields`` request: the daemon holds the
  schema already), else from composing locally; either way the entry is written (atomically, 0600).
- After a ``.proto`` edit (an entry of a ``.proto`` schema whose other sources are all unchanged),
  the entry is refreshed here, with or without a daemon, and without composing: the schema is read
  again through the per-file parse cache (``proto_reader``: only the edited file is parsed), the
  task is the one branch of the root's ``task`` oneof that the config sets at its top level (kept
  in the entry; none or several, or the config unreadable: a full build as above), and the keys and
  the include names by place come from ``heyhi.config.keyindex`` (the walk ``task_fields`` uses), so
  the keys are the ones a full build lists: a new field at once, a removed one gone. (One
  difference: a config the edited schema no longer accepts still completes; ``heyhi run`` says why.)
- Bounded: the entry file (``MAX_ENTRY_BYTES``), the folders stamped (``MAX_DIRS``), the include
  files read (``MAX_INCLUDE_FILES``, each through ``heyhi.config.source``'s bounded read). The
  top-level fields of each include file are kept by the file's stamp (``scan-*.marshal``), so a
  schema change reads no include file again.
- Never raises for a config it cannot read: the answer is None (completion offers no keys).
"""

from __future__ import annotations

import marshal
import os
import sys

FORMAT = 1  # bumped when an entry's shape changes
MAX_ENTRY_BYTES = 64 << 20
MAX_DIRS = 2000  # folders under conf/ whose stamps an entry keeps
MAX_INCLUDE_FILES = 2000  # include files read for their top-level fields
MAX_DEPTH = 8  # folder levels walked under conf/ and the include folders
MAX_DOC = 80  # characters of a field's doc kept (the first line)
CONFIG_EXTS = (".prototxt", ".yaml", ".yml", ".json")  # as heyhi.config.compose.EXTS (a test checks)
DAEMON_TIMEOUT_S = 5.0
TASK_ONEOF = "task"  # as heyhi.config.compose.TASK_ONEOF (a test checks)


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "heyhi", "complete")


class TaskKeys:
    """The keys of one config's task: ``fields`` maps a dotted key (``list.N.x`` below a repeated
    message) to (type, default, doc, enum values, oneof, is a singular message); ``includes`` maps a
    mount ("" for the task) to the include names that fit it."""

    __slots__ = ("task", "config", "project_root", "fields", "includes", "_lists")

    def __init__(self, data: dict):
        self.task: str = data["task"]
        self.config: str = data["config"]
        self.project_root: str = data["root"]
        self.fields: dict[str, tuple] = data["fields"]
        self.includes: dict[str, list[str]] = data["includes"]
        self._lists: set[str] | None = None

    def is_message_list(self, key: str) -> bool:
        """Whether ``key`` (normal) is a repeated message: its elements' fields are ``key.N.x``."""
        if self._lists is None:
            self._lists = {k.rpartition(".N.")[0] for k in self.fields if ".N." in k}
        return key in self._lists

    def children(self, parent: str) -> list[str]:
        """The keys one level below ``parent`` ("" for the task), in schema order."""
        prefix = parent + "." if parent else ""
        cut = len(prefix)
        return [k for k in self.fields if k.startswith(prefix) and "." not in k[cut:]]

    def normal(self, key: str) -> str:
        """``key`` as the fields name it: list indices (``layers.3.size``, ``layers.-1.size``) as ``N``."""
        parts = key.split(".")
        for i in range(1, len(parts)):
            if parts[i].lstrip("-").isdigit() and self.is_message_list(".".join(parts[:i])):
                parts[i] = "N"
        return ".".join(parts)

    def field(self, key: str) -> tuple | None:
        return self.fields.get(self.normal(key.lstrip("-")))


def task_keys(cfg: str, project: str | None = None, cwd: str | None = None, *, daemon: bool = True,
              includes: bool = True) -> TaskKeys | None:
    """The task keys of the config ``-c cfg`` (as ``heyhi run`` finds it from ``cwd``), or None.
    ``includes=False``: the caller reads no include names (a key's TAB); after a ``.proto`` edit the
    entry's include names are then worked out, and the entry written, after the answer."""
    cwd = cwd or os.getcwd()
    key = "\0".join((str(FORMAT), _heyhi_version(), sys.version, cwd, cfg, project or ""))
    path = os.path.join(cache_dir(), f"{_hash(key)}.marshal")
    data = _read(path)
    if data is not None and data.get("key") == key:
        if _fresh(data.get("deps", ())):
            return TaskKeys(data)
        refreshed = _refresh(data)
        if refreshed is not None:
            data, mounts = refreshed
            if not includes:
                _finish_later(path, data, mounts)
                return TaskKeys(data)
            data = _with_includes(data, mounts)
            if data is not None:
                _write(path, data)
                return TaskKeys(data)
    try:
        data = _build(cfg, project, cwd, daemon)
    except Exception as e:  # noqa: BLE001 - a config completion cannot read: no keys, never a traceback
        if os.environ.get("HEYHI_COMPLETE_DEBUG"):
            print(f"heyhi: completion: {cfg}: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    if data is None:
        return None
    data["key"] = key
    _write(path, data)
    return TaskKeys(data)


def is_task_key(cfg: str, project: str | None, name: str) -> bool:
    """Whether ``name`` (dashes dropped) is a dotted key of the config's task."""
    keys = task_keys(cfg, project)
    return keys is not None and keys.field(name) is not None


def _heyhi_version() -> str:
    from heyhi import __version__  # lean: the package is imported already; keeps the name local

    return __version__


def _hash(text: str) -> str:
    import zlib  # lean: a builtin-sized module, only to name the entry

    data = text.encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


# ---- the entry on disk ---------------------------------------------------------------------------


def _read(path: str) -> dict | None:
    data = read_marshal(path, MAX_ENTRY_BYTES)
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def read_marshal(path: str, limit: int):
    """What the cache file ``path`` holds (``marshal``), or None: a file that is not regular (never
    opened blocking: a FIFO is not waited on), larger than ``limit``, or that does not load."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not (st.st_mode & 0o170000 == 0o100000) or st.st_size > limit:
            return None
        chunks = []
        left = st.st_size + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return marshal.loads(b"".join(chunks))
    except (OSError, EOFError, ValueError, TypeError):
        return None
    finally:
        os.close(fd)


def _write(path: str, data: dict) -> None:
    from heyhi.config.source import write_cache  # lean: os only; only a cold cache or a refresh writes

    try:
        write_cache(path, marshal.dumps(data))
    except (OSError, ValueError):
        pass  # a read-only cache still completes, only slower


def _stamp(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}" if st.st_mode & 0o170000 == 0o100000 else f"d:{st.st_mtime_ns}"


def _fresh(deps) -> bool:
    return all(_stamp(p) == s for p, s in deps)


# ---- building an entry ---------------------------------------------------------------------------


def _build(cfg: str, project: str | None, cwd: str, daemon: bool) -> dict | None:
    from heyhi.config.project import Project, find_project_root, resolve_config  # lean: only a cold cache builds an entry

    here = os.getcwd()
    os.chdir(cwd)
    try:
        config, _note = resolve_config(cfg, project)
        root = find_project_root(config, project)
    finally:
        os.chdir(here)
    proj = Project(root)
    answer = _from_daemon(root, config) if daemon else None
    deps: list[str] = []
    if answer is None:
        answer, deps = _from_composer(proj, config)
    task, fields, includes = answer
    table = _table(_dict_rows(fields))
    fit, read = _fitting_includes(str(proj.root), proj.conf_dir, config, table, includes)
    protos = [str(p) for p in sorted(proj.conf_dir.glob("*.proto"))]
    schema_files = list(dict.fromkeys(deps + protos))
    deps += protos
    deps += [str(proj.root / "pyproject.toml"), str(config), str(config.parent)]
    deps += _folders(str(proj.conf_dir)) + read
    spec = proj.settings.get("schema")
    if spec:  # a pydantic schema: its module's folder (and its files) name its state
        mod = os.path.join(str(proj.root), *spec.partition(":")[0].split("."))
        folder = mod if os.path.isdir(mod) else os.path.dirname(mod)
        deps += [folder] + [os.path.join(folder, n) for n in sorted(_listdir(folder)) if n.endswith(".py")]
    data = {"format": FORMAT, "task": task, "config": str(config), "root": str(proj.root), "fields": table,
            "includes": fit, "deps": [(p, _stamp(p)) for p in dict.fromkeys(deps)]}
    if not spec and config.suffix in CONFIG_EXTS and protos:  # a .proto schema: refreshed after an edit
        data.update(conf_dir=str(proj.conf_dir), schema_files=schema_files,
                    top=sorted(_top_level_fields(str(config))))
    return data


def _table(rows) -> dict[str, tuple]:
    """key -> (type, default, doc's first line, enum values, oneof, is a singular message), from
    ``(key, info)`` rows of ``heyhi.config.keyindex.task_field_infos``' shape. Equal values are one
    tuple, which the entry's ``marshal`` writes once (a field reached by many keys)."""
    table: dict[str, tuple] = {}
    by_id: dict[int, tuple] = {}  # id(info) -> (info, value): the info kept alive, so no id is reused
    by_value: dict[tuple, tuple] = {}
    for key, info in rows:
        hit = by_id.get(id(info))
        if hit is None:
            type_, default, doc, enums, oneof, is_message = info
            value = (type_, default, (doc or "").strip().split("\n", 1)[0][:MAX_DOC], tuple(enums), oneof,
                     bool(is_message))
            hit = by_id[id(info)] = (info, by_value.setdefault(value, value))
        table[key] = hit[1]
    return table


def _dict_rows(fields: list[dict]):
    """``(key, info)`` rows of the dicts ``heyhi.config.task_fields`` (and the daemon's ``Fields``) give."""
    return ((f["key"], (f["type"], f["default"], f["doc"], f["enum_values"], f["oneof"], f["is_message"]))
            for f in fields)


def _refresh(old: dict) -> tuple[dict, dict] | None:
    """``old`` rebuilt after only its schema's ``.proto`` files changed (see the module docstring),
    but for its include names (``_with_includes`` adds them), with the mounts they need; or None when
    it cannot be (another source changed, not a ``.proto`` schema, the task unclear)."""
    try:
        conf_dir, config, root, top = old["conf_dir"], old["config"], old["root"], old["top"]
        schema_files = set(old["schema_files"])
        if not all(_stamp(p) == s for p, s in old["deps"] if p not in schema_files):
            return None
        from heyhi.config.keyindex import task_field_infos  # lean: only a refresh after a .proto edit
        from heyhi.config.schema.proto_reader import parse_cache_dir, read_project_schema  # lean: as keyindex

        schema = read_project_schema(conf_dir, parse_cache_dir())
        meta = schema.root
        chosen = set(meta.oneofs.get(TASK_ONEOF, ())) & set(top)
        if len(chosen) != 1:
            return None
        task = chosen.pop()
        tf = meta.fields[task]
        if tf.kind != "message" or tf.repeated:
            return None
        rows, mounts = task_field_infos(tf.message)
    except Exception as e:  # noqa: BLE001 - a schema that does not read (or an odd entry): a full build says why
        if os.environ.get("HEYHI_COMPLETE_DEBUG"):
            print(f"heyhi: completion: refresh after a .proto edit: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    files = list(dict.fromkeys(schema.source_files))  # every conf/*.proto and what they import
    deps = [(p, _stamp(p)) for p in files] + [(p, s) for p, s in old["deps"] if p not in schema_files]
    return {**old, "task": task, "fields": _table(rows), "includes": {}, "deps": deps, "schema_files": files}, mounts


def _with_includes(data: dict, mounts: dict) -> dict | None:
    """A refreshed entry with its include names (see ``_refresh``), or None when they cannot be read."""
    conf_dir, config, root = data["conf_dir"], data["config"], data["root"]
    try:
        from heyhi.config.keyindex import include_names  # lean: only a refresh after a .proto edit

        includes = include_names(include_dirs(config, conf_dir), mounts, config, CONFIG_EXTS)
        fit, _read_files = _fitting_includes(root, conf_dir, config, data["fields"], includes)
    except Exception as e:  # noqa: BLE001 - an include folder that does not read: a full build says why
        if os.environ.get("HEYHI_COMPLETE_DEBUG"):
            print(f"heyhi: completion: include names after a .proto edit: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    return {**data, "includes": fit}


def _finish_later(path: str, data: dict, mounts: dict) -> None:
    """Add the include names to a refreshed entry and write it, in a child process that the answer
    (and the shell waiting for it) does not wait for: a key's TAB after a ``.proto`` edit pays only
    for the keys. Where there is no ``fork``, here and now. Until the child has written, a TAB
    refreshes the entry again: never a stale answer, only a slower one."""
    try:
        pid = os.fork()
    except (AttributeError, OSError):
        pid = -1
    if pid > 0:
        return
    if pid == 0:  # the child: its own session, the shell's pipes closed, never back in the caller
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            done = _with_includes(data, mounts)
            if done is not None:
                _write(path, done)
        finally:
            os._exit(0)
    done = _with_includes(data, mounts)
    if done is not None:
        _write(path, done)


def _from_daemon(root, config) -> tuple | None:
    """(task, fields, includes) from the daemon's ``Fields``, or None when no daemon answers."""
    from heyhi.wire.paths import socket_path  # lean: stdlib only

    if not os.path.exists(socket_path()):  # no daemon: not even the client's imports are paid
        return None
    try:
        from heyhi.wire.client import connect_or_none  # lean: only a cold cache asks the daemon
        from heyhi.wire.protocol import Fields  # lean: only a cold cache asks the daemon

        client = connect_or_none(timeout=DAEMON_TIMEOUT_S)
        if client is None:
            return None
        with client:
            r = client.request(Fields(project_root=str(root), config=str(config)))
    except Exception as e:  # noqa: BLE001 - any trouble with the daemon: compose here instead
        if os.environ.get("HEYHI_COMPLETE_DEBUG"):
            print(f"heyhi: completion: the daemon did not answer Fields: {e}", file=sys.stderr)
        return None
    fields = [{"key": f.key, "type": f.type, "default": f.default, "doc": f.doc, "enum_values": f.enum_values,
               "oneof": f.oneof, "is_message": f.is_message} for f in r.fields]
    return r.task, fields, dict(r.includes)


def _from_composer(proj, config) -> tuple[tuple, list[str]]:
    from heyhi.config import task_fields  # lean: only a cold cache with no daemon composes
    from heyhi.config.compose import composer_for  # lean: only a cold cache with no daemon composes

    composer = composer_for(proj).for_config(config)  # a script task: the script's derived schema
    answer = task_fields(composer, config)
    return answer, list(getattr(composer.schema, "source_files", []))


def include_dirs(config, conf_dir) -> list[str]:
    """Where an include name is looked for (``heyhi.config.compose.Composer.include_dirs``, which a
    test holds this to): the config's folder, then ``conf/common``."""
    return [os.path.dirname(os.path.abspath(config)), os.path.join(conf_dir, "common")]


def _fitting_includes(root: str, conf_dir, config, table: dict, includes: dict) -> tuple[dict, list[str]]:
    """mount -> include names: ``task_fields``' (files under ``<include folder>/<mount>``), then every
    config file under the include folders whose top-level fields all belong to the mount's message;
    and the files read."""
    from heyhi.config.keyindex import file_id  # lean: only a cold cache or a refresh looks for include files

    fields_of: dict[str, set[str]] = {}
    for key in table:
        parent, _, name = key.rpartition(".")
        fields_of.setdefault(parent, set()).add(name)
    mounts = [""] + [k for k, v in table.items() if v[5]]
    files: list[tuple[str, frozenset]] = []
    read: list[str] = []
    me = file_id(config)
    scan_path = os.path.join(cache_dir(), f"scan-{_hash(root)}.marshal")
    scan = _read(scan_path) or {"format": FORMAT, "files": {}}
    known, fresh = scan["files"], {}
    for base in include_dirs(config, conf_dir):
        for path in _config_files(str(base)):
            if len(read) >= MAX_INCLUDE_FILES:
                break
            if me is not None and file_id(path) == me:
                continue
            read.append(path)
            stamp = _stamp(path)
            hit = known.get(path)
            keys = frozenset(hit[1]) if hit is not None and hit[0] == stamp else _top_level_fields(path)
            fresh[path] = (stamp, tuple(sorted(keys)))
            if keys:
                files.append((os.path.splitext(os.path.relpath(path, base))[0], keys))
    if any(known.get(k) != v for k, v in fresh.items()):  # the top-level fields of each file, by its stamp
        _write(scan_path, {"format": FORMAT, "files": {**known, **fresh}})
    by_least: dict[str, list[int]] = {}  # a name -> the files (by index) whose least top-level name it is
    for i, (_n, keys) in enumerate(files):
        by_least.setdefault(min(keys), []).append(i)
    out: dict[str, list[str]] = {}
    for mount in mounts:
        names = list(includes.get(mount, ()))
        allowed = fields_of.get(mount, set())  # a file fits when all its names are here: its least one too
        fit = sorted(i for k in allowed for i in by_least.get(k, ()) if files[i][1] <= allowed)
        names += [files[i][0] for i in fit]
        if names:
            out[mount] = list(dict.fromkeys(names))
    return out, read


def _top_level_fields(path: str) -> frozenset:
    """The names at the top of a config file (``includes`` left out); empty if it does not parse."""
    from heyhi.errors import HeyHiError  # lean: only a cold cache reads include files

    try:
        if path.endswith((".yaml", ".yml", ".json")):
            from heyhi.config.source import read_text  # lean: only a cold cache reads include files
            from heyhi.config.yamljson import parse_json, parse_yaml  # lean: only a cold cache reads include files

            text = read_text(path)
            node = parse_json(text, path) if path.endswith(".json") else parse_yaml(text, path)
        else:
            from heyhi.config.source import read_text  # lean: only a cold cache reads include files
            from heyhi.config.textformat import parse  # lean: only a cold cache reads include files

            node = parse(read_text(path), path)
    except (HeyHiError, OSError, ValueError):
        return frozenset()
    return frozenset(e.name for e in node.entries if e.name != "includes")


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _walk(top: str):
    """(folder, its entries) under ``top``, hidden ones and ``__pycache__`` left out, bounded."""
    stack = [(top, 0)]
    seen = 0
    while stack and seen < MAX_DIRS:
        folder, depth = stack.pop()
        seen += 1
        try:
            with os.scandir(folder) as it:
                entries = sorted((e for e in it if not e.name.startswith(".") and e.name != "__pycache__"),
                                 key=lambda e: e.name)
        except OSError:
            continue
        yield folder, entries
        if depth < MAX_DEPTH:
            stack.extend((e.path, depth + 1) for e in reversed(entries) if e.is_dir())


def _folders(top: str) -> list[str]:
    return [folder for folder, _ in _walk(top)]


def _config_files(top: str) -> list[str]:
    return [e.path for _, entries in _walk(top) for e in entries
            if e.name.endswith(CONFIG_EXTS) and e.is_file()]
