"""Where each value of a composed config came from: the file and line that set it, or the override.

Composition (``heyhi.config.compose``) merges typed messages, which keep no locations. This module
replays the same order on the parsed trees (``heyhi.config.tree``: every entry has its ``Loc``),
which the composer has cached, so no file is read or typed again: the includes of a file (depth
first, at their mounts), the file's own content, the include overrides (``I<mount>=<path>``), then
the scalar overrides. As in composition, the last writer of a key wins; a repeated field keeps every
file that added to it (composition concatenates them), unless an override set the whole list. It
runs only when asked, after composing, so composition itself is no slower, and it changes nothing
that composition produces.

Keys are those of ``heyhi.config.printing.flat_items`` of the task's message (``--print-flat``):
dotted field paths, a map entry's key as a part, a repeated field as one key.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from heyhi.config.compose import INCLUDES_FIELD, MAX_INCLUDE_DEPTH
from heyhi.config.overrides import effective
from heyhi.config.tree import ListValue, Node, Scalar
from heyhi.config.typed import _map_key
from heyhi.errors import ConfigError

if TYPE_CHECKING:
    from heyhi.config.compose import Composed, Composer
    from heyhi.config.schema.model import FieldSpec, MessageType

FILE = "file"  # the config's own content
INCLUDE = "include"  # a file its includes (or theirs) merged
INCLUDE_OVERRIDE = "include override"  # a file an ``I<mount>=<path>`` override merged (or its includes)
OVERRIDE = "override"  # a scalar, null or select override
MAX_CONTRIBUTORS = 4  # files named for one repeated field; more are counted


@dataclass(frozen=True, slots=True)
class Origin:
    """One writer of a value: ``kind`` (``file``, ``include``, ``include override``, ``override``),
    ``where`` (``path:line``, the path relative to the project's conf/ folder when inside it; "" for
    an override) and ``token`` (the override's token, without leading dashes; "" for files)."""

    kind: str
    where: str = ""
    token: str = ""

    @property
    def source(self) -> str:
        """The kind and the override's token: ``ValidateResult.flat``'s source text."""
        return f"{self.kind} {self.token}" if self.token else self.kind

    def __str__(self) -> str:
        if self.kind == OVERRIDE:
            return self.source
        if self.kind == INCLUDE_OVERRIDE:
            return f"{self.token} @ {self.where}"
        return self.where


def describe_origins(origins: tuple[Origin, ...]) -> tuple[str, str]:
    """(source, where) for one key: the last writer's source text, and every writer's place joined
    with " + " (more than one only for a repeated field), at most ``MAX_CONTRIBUTORS`` named."""
    if not origins:
        return "", ""
    places = [o.where if o.kind != OVERRIDE else o.token for o in origins]
    shown = places[-MAX_CONTRIBUTORS:]
    more = len(places) - len(shown)
    return origins[-1].source, (f"{more} more + " if more else "") + " + ".join(p for p in shown if p)


def value_origins(comp: Composer, composed: Composed,
                  keys: Iterable[str] | None = None) -> dict[str, tuple[Origin, ...]]:
    """For each key of ``composed``'s flat view (``keys``, or every set key), its writers in
    composition order (the last one set it). A key no writer is found for is left out.

    Raises ``ConfigError`` if a file changed since composing so that it no longer composes."""
    if keys is None:
        from heyhi.config.printing import flat_items  # lean: only when the caller has no keys

        keys = [k for k, _ in flat_items(composed.task_msg)]
    r = _Replay(comp)
    task = composed.task
    root = comp.schema.root
    config = Path(composed.config)
    chain = (os.path.realpath(config),)
    r.file(config, root, "", FILE, "", task=task, chain=chain)
    eff = effective(composed.overrides)
    dirs = comp.include_dirs(config)
    task_type = root.fields[task].message
    for o in eff:
        if o.kind == "include":
            mount = o.key.strip(".")
            mtype, prefix = _at(task_type, mount, f"{task}.")
            path = comp.resolve_include(o.value, dirs, o.key, o.where)
            r.file(path, mtype, prefix, INCLUDE_OVERRIDE, o.raw, chain=chain)
    wanted = set(keys)
    out: dict[str, list[Origin]] = {}
    head = f"{task}."
    for k, found in r.found.items():
        if k.startswith(head) and k[len(head):] in wanted:
            out[k[len(head):]] = found
    ordered = sorted(wanted)
    for o in eff:
        if o.kind == "include":
            continue
        origin = Origin(OVERRIDE, "", o.raw)
        key = o.key.strip(".")
        if key in wanted:  # the key itself: set (a whole list too)
            out[key] = [origin]
        if o.kind != "select":  # under it: a message's fields set one by one, or cleared
            i = bisect.bisect_left(ordered, key + ".")
            while i < len(ordered) and ordered[i].startswith(key + "."):
                out[ordered[i]] = [origin]
                i += 1
        parts = key.split(".")
        for n in range(len(parts) - 1, 0, -1):  # above it: an element of a list (``tags.0=x``, ``tags.-1=y``)
            above = ".".join(parts[:n])
            if above in wanted:
                out.setdefault(above, []).append(origin)
                break
    return {k: tuple(v) for k, v in out.items()}


def _file_of(o: Origin) -> tuple[str, str, str]:
    return o.kind, o.where.rpartition(":")[0], o.token


def _at(mtype: MessageType, mount: str, prefix: str) -> tuple[MessageType, str]:
    """The type at dotted ``mount`` under ``mtype`` and the key prefix there (as ``_sub_config``)."""
    for part in mount.split(".") if mount else ():
        f = mtype.fields.get(part)
        if f is None or f.kind != "message" or f.repeated:
            raise ConfigError(f"cannot mount an include at {mount!r}: no message field {part!r}")
        mtype = f.message
        prefix += part + "."
    return mtype, prefix


class _Replay:
    """Walks the parsed trees in composition order, recording each key's writers in ``found``."""

    def __init__(self, comp: Composer):
        self.comp = comp
        self.found: dict[str, list[Origin]] = {}
        self._shown: dict[str, str] = {}
        conf = comp.project.conf_dir
        self._conf = str(conf.absolute())
        self._root = str(comp.project.root.absolute())

    def shown(self, path: Path) -> str:
        """``path`` relative to conf/ (or the project root, when outside conf/)."""
        key = str(path)
        hit = self._shown.get(key)
        if hit is None:
            p = os.path.abspath(key)
            for base in (self._conf, self._root):
                if p.startswith(base + os.sep):
                    hit = p[len(base) + 1:]
                    break
            else:
                hit = p
            self._shown[key] = hit
        return hit

    def file(self, path: Path, mtype: MessageType, prefix: str, kind: str, token: str, *, task: str | None = None,
             chain: tuple = ()) -> None:
        """Mirrors ``Composer.load_message`` (without overrides): includes, then the file's content."""
        comp = self.comp
        node = comp.parse_file(path)
        _, includes = comp.file_msg(path, mtype)
        dirs = comp.include_dirs(path)
        base = f"{task}." if task else ""
        for inc in includes:
            mount = (base + inc.mount).strip(".")
            sub_type, sub_prefix = _at(mtype, mount, prefix)
            resolved = comp.resolve_include(inc.path, dirs, inc.mount, inc.where)
            real = os.path.realpath(resolved)
            if real in chain or len(chain) >= MAX_INCLUDE_DEPTH:
                raise ConfigError(f"include cycle at {self.shown(resolved)}", inc.where)
            self.file(resolved, sub_type, sub_prefix, INCLUDE if kind == FILE else kind, token,
                      chain=(*chain, real))
        shown = self.shown(path)
        self.node(node, mtype, prefix, lambda line: Origin(kind, f"{shown}:{line}", token))

    def node(self, node: Node, mtype: MessageType, prefix: str, at) -> None:
        """Mirrors ``heyhi.config.typed.node_to_msg``: each entry's key gets ``at(line)``."""
        skip_includes = mtype.has_includes()
        for e in node.entries:
            if skip_includes and e.name == INCLUDES_FIELD:
                continue
            f = mtype.fields.get(e.name)
            if f is None:
                continue  # typing refused it, so composition did too: not reached after a success
            key = prefix + e.name
            val = e.value
            if f.kind == "map":
                self.map(f, val, key + ".", at)
            elif f.repeated:
                if isinstance(val, ListValue) and not val.items:
                    continue
                found = self.found.setdefault(key, [])
                origin = at(e.loc.line)
                if not found or _file_of(found[-1]) != _file_of(origin):  # one file: named once
                    found.append(origin)
            elif f.kind == "message":
                if isinstance(val, Node):
                    self.node(val, f.message, key + ".", at)
            elif not (isinstance(val, Scalar) and val.kind == "null"):
                self.found[key] = [at(e.loc.line)]

    def map(self, f: FieldSpec, val, prefix: str, at) -> None:
        """Mirrors ``typed._merge_map``: an entry replaces the key's value whole."""
        def entry(mkey, value, line: int) -> None:
            key = prefix + str(mkey)
            if f.map_value_kind == "message":
                if isinstance(value, Node):
                    self.node(value, f.message, key + ".", at)
            elif value is not None:
                self.found[key] = [at(line)]

        if isinstance(val, Node) and val.entries and not any(e.name in ("key", "value") for e in val.entries):
            for e in val.entries:  # YAML/JSON style: a mapping of key -> value
                entry(_map_key(f, Scalar("string", e.name, e.loc)), e.value, e.loc.line)
            return
        for item in val.items if isinstance(val, ListValue) else [val]:
            if not isinstance(item, Node):
                continue
            mkey: object = "" if f.map_key == "string" else 0
            value = None
            for e in item.entries:
                if e.name == "key":
                    mkey = _map_key(f, e.value)
                elif e.name == "value":
                    value = e.value
            entry(mkey, value, item.loc.line if item.loc else 0)
