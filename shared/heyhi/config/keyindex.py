"""An index of a schema's dotted key paths, built once per message type, for "did you mean".

Promises:
- ``key_index(mtype)`` builds the index the first time a message type asks and returns the same
  object afterwards (it lives on the type, as a runtime cache that is never pickled);
  ``key_index_under`` indexes only the subtree an override can name (e.g. the task's message).
- The index holds exactly the keys that ``overrides.all_keys`` lists, in the same order: a message
  type met again on its own path is listed but not entered (recursion), and nothing deeper than
  ``MAX_DEPTH`` levels is listed, so a recursive or very wide schema gives a bounded index
  (``MAX_PATHS`` at most).
- ``KeyIndex.closest`` answers what ``suggest.closest`` would answer over those keys (the ``n``
  nearest by edit distance, ties alphabetical), but walks the keys as a tree that shares prefixes,
  cheapest branch first, and drops any branch already farther than the answer needs, so a typo
  costs thousands of edit-distance cells instead of one full edit distance per key. The work is
  capped (``MAX_CELLS``): a name far from every key gets the exact head of the ranking, shorter.

- ``task_field_infos(tmsg)`` lists a task's keys for completion (type, default, doc, enum values,
  oneof, whether a singular message: an include mount; ``task_field_rows`` as dicts, for
  ``heyhi.config.task_fields``), and
  ``include_names`` the include files that fit each mount by their place: the one walk both the
  composer's answer (and the daemon's ``Fields``) and the completion cache's refresh after a
  ``.proto`` edit use (``heyhi.cli.fieldcache``), with no composer. ``file_id`` is how both tell
  the config being run from an include file, however either is spelled (one ``stat``, no realpath).

Imports only the schema model (and, to write defaults, the leaf ``heyhi.config.flattext``): no
composition, no pathlib, no pydantic, no Textual.
"""

from __future__ import annotations

import bisect
import heapq
import os

from heyhi.config.schema.model import FieldSpec, MessageType

MAX_DEPTH = 10  # levels below the indexed type (as ``all_keys``: deeper types are not entered)
MAX_PATHS = 200_000  # a guard for pathological schemas; the Cicero tree has ~3,200 keys per task
MAX_CELLS = 150_000  # edit-distance cells one search may compute (~tens of ms in CPython)

_ATTR = "_key_index"


class _Node:
    """One key: its last segment, its full dotted path, and the keys below it."""

    __slots__ = ("name", "path", "children", "below")

    def __init__(self, name: str, path: str):
        self.name = name
        self.path = path
        self.children: list[_Node] = []
        self.below = 0  # characters of the longest key below this one, past this key's end


class KeyIndex:
    """Every dotted key path under one message type, as a tree of segments (schema order)."""

    def __init__(self, mtype: MessageType, max_depth: int = MAX_DEPTH, max_paths: int = MAX_PATHS,
                 depth: int = 0, seen: tuple[str, ...] = ()):
        self.type_name = mtype.full_name
        self.root = _Node("", "")
        self.paths: list[str] = []
        self.truncated = False
        self._by_path: dict[str, _Node] = {"": self.root}
        self._build(mtype, self.root, depth, seen, max_depth, max_paths)
        self.visited = 0  # edit-distance cells the last search computed (bounded by its budget)

    def _build(self, mtype: MessageType, node: _Node, depth: int, seen: tuple, max_depth: int, max_paths: int):
        # The same walk as ``overrides.all_keys``: depth counted from the indexed type, a type
        # already on the path is listed but not entered.
        if depth > max_depth or mtype.full_name in seen:
            return
        seen = seen + (mtype.full_name,)
        prefix = node.path + "." if node.path else ""
        for f in mtype.fields.values():
            if len(self.paths) >= max_paths:
                self.truncated = True
                return
            child = _Node(f.name, prefix + f.name)
            node.children.append(child)
            self.paths.append(child.path)
            self._by_path[child.path] = child
            if f.kind == "message" and not f.repeated:
                self._build(f.message, child, depth + 1, seen, max_depth, max_paths)
            extra = (1 if node.path else 0) + len(f.name) + child.below
            if extra > node.below:
                node.below = extra

    def __len__(self) -> int:
        return len(self.paths)

    def under(self, prefix: str) -> list[str]:
        """The keys below ``prefix`` (a dotted key, "" for all), relative to it, in schema order."""
        origin = self._by_path.get(prefix.rstrip("."))
        if origin is None:
            return []
        cut = len(origin.path) + 1 if origin.path else 0
        out: list[str] = []
        stack = list(reversed(origin.children))
        while stack:
            nd = stack.pop()
            out.append(nd.path[cut:])
            stack.extend(reversed(nd.children))
        return out

    def closest(self, name: str, n: int = 5, prefix: str = "", budget: int = MAX_CELLS) -> list[str]:
        """Up to ``n`` keys below ``prefix`` (relative to it) nearest to ``name`` by edit distance,
        ties alphabetical: the same answer as ``suggest.closest(name, self.under(prefix), n)``
        whenever the search fits in ``budget`` edit-distance cells. Beyond it (a name far from
        every key) the answer is the exact head of that ranking, shorter than ``n``, maybe empty."""
        origin = self._by_path.get(prefix.rstrip("."))
        self.visited = 0
        if origin is None or n <= 0 or not origin.children:
            return []
        worst = max(len(name), origin.below)  # no distance exceeds the longer string
        limit = 2
        while True:  # radius 2, 4, 8, ...: small radii are cheap and most typos are near a key
            found, done = self._search(origin, name, n, min(limit, worst), budget - self.visited)
            if done is not None or len(found) >= n or limit >= worst:
                break
            limit *= 2
        found.sort()
        # Over budget, a key not reached costs at least ``done``: only keys below it are sure.
        return [p for d, p in found[:n] if done is None or d < done]

    def _search(self, origin: _Node, q: str, n: int, limit: int, budget: int) -> tuple[list[tuple[int, str]], int | None]:
        """Best-first walk of the keys below ``origin``, cheapest lower bound first, one
        edit-distance row per character (cells past ``limit`` hold ``limit + 1``). ``limit`` is the
        ``n``-th best distance found so far (at first the given radius); a branch whose lower bound
        passes it is dropped.
        Returns every (distance, key) found within the final limit, and None, or (over budget)
        the lower bound every key not reached has."""
        m = len(q)
        cut = len(origin.path) + 1 if origin.path else 0
        big = limit + 1
        first = list(range(m + 1))
        found: list[tuple[int, str]] = []
        best: list[int] = []  # the n smallest distances found, sorted
        cells = 0
        seq = 0
        heap: list = []

        def push(node: _Node, row: list[int], lo: int, hi: int, sep: str) -> None:
            # A key below has between ``short`` and ``long`` more characters, so from a cell j
            # (cost row[j], m - j query characters left) it costs at least
            # row[j] + max(0, short - (m - j), (m - j) - long).
            nonlocal seq, cells
            short = len(sep) + len(node.name)
            long = short + node.below
            lb = big
            for j in range(lo, hi + 1):
                rest = m - j
                v = row[j] + (short - rest if short > rest else (rest - long if rest > long else 0))
                if v < lb:
                    lb = v
            cells += hi - lo + 1
            if lb <= limit:
                seq += 1
                heapq.heappush(heap, (lb, seq, node, row, lo, hi, sep))

        for c in origin.children:
            push(c, first, 0, min(m, limit), "")
        while heap:
            lb, _, node, row, lo, hi, sep = heapq.heappop(heap)
            if lb > limit:
                break
            if cells > budget:
                self.visited += cells
                return found, lb
            alive = True
            for c in sep + node.name:
                new = [big] * (m + 1)
                v0 = row[0] + 1
                nlo = nhi = -1
                if v0 <= limit:
                    new[0] = v0
                    nlo = nhi = 0
                j = j0 = lo if lo > 1 else 1
                while j <= m:
                    if j > hi + 1 and new[j - 1] >= limit:
                        break
                    v = row[j - 1] + (q[j - 1] != c)
                    a = row[j] + 1
                    if a < v:
                        v = a
                    a = new[j - 1] + 1
                    if a < v:
                        v = a
                    if v <= limit:
                        new[j] = v
                        if nlo < 0:
                            nlo = j
                        nhi = j
                    j += 1
                cells += j - j0 + 1
                if nlo < 0:  # every cell is past the limit: nothing below can come back
                    alive = False
                    break
                row, lo, hi = new, nlo, nhi
            if not alive:
                continue
            d = row[m]
            if d <= limit:
                found.append((d, node.path[cut:]))
                bisect.insort(best, d)
                if len(best) > n:
                    best.pop()
                if len(best) == n and best[-1] < limit:
                    limit = best[-1]  # ties at the n-th distance still count (alphabetical order)
                    big = limit + 1
            for ch in node.children:
                push(ch, row, lo, hi, ".")
        self.visited += cells
        return [f for f in found if f[0] <= limit], None


def key_index(mtype: MessageType, depth: int = 0, seen: tuple[str, ...] = ()) -> KeyIndex:
    """The index of ``mtype``'s key paths, built on first use and kept on the type. ``depth`` and
    ``seen`` say where the type sits when it is reached from an outer type (its level, the types
    on the path to it), so that its index lists what the outer type's index lists below it."""
    cache = mtype.__dict__.get(_ATTR)
    if cache is None:
        cache = {}
        setattr(mtype, _ATTR, cache)
    idx = cache.get((depth, seen))
    if idx is None:
        idx = cache[(depth, seen)] = KeyIndex(mtype, depth=depth, seen=seen)
    return idx


def key_index_under(mtype: MessageType, prefix: str) -> tuple[KeyIndex, str]:
    """(index, prefix within it) for the keys under ``prefix`` of ``mtype``: the index of the
    message type at ``prefix`` when the prefix names nested singular messages (a smaller index),
    else ``mtype``'s own."""
    cur, depth, seen = mtype, 0, ()
    for part in prefix.strip(".").split(".") if prefix.strip(".") else ():
        f = cur.fields.get(part)
        if f is None or f.kind != "message" or f.repeated or cur.full_name in seen:
            return key_index(mtype), prefix
        seen = seen + (cur.full_name,)
        cur, depth = f.message, depth + 1
    return key_index(cur, depth, seen), ""


def task_field_infos(tmsg: MessageType) -> tuple[list[tuple[str, tuple]], list[str]]:
    """(rows, mounts) of a task's message: for every dotted key (``list.N.x`` below a repeated
    message; a type already on the path or more than 8 levels down is not entered) a row
    ``(key, info)``, info = (type, default (as ``--print-flat`` writes it; "" when none), doc
    (whitespace folded), enum values (a tuple), oneof ("" when none), whether a singular message);
    and the keys of the singular messages (the mounts). A field's info is made once and shared by
    every key that reaches the field (the widest Cicero task lists ~4,600 keys of ~1,000 fields)."""
    from heyhi.config.flattext import flat_value_text  # lean: the defaults' text; only a listing of keys needs it

    rows: list[tuple[str, tuple]] = []
    mounts: list[str] = []
    infos: dict[FieldSpec, tuple] = {}  # by identity

    def info_of(f: FieldSpec) -> tuple:
        enums = tuple(f.enum.values) if f.kind == "enum" or (f.kind == "map" and f.map_value_kind == "enum") else ()
        default = ""
        if f.has_default and f.kind == "enum":
            default = f.enum.by_number.get(f.default, str(f.default))
        elif f.has_default:
            default = flat_value_text(f.default)
        info = infos[f] = (f.type_label(), default, " ".join(f.doc.split()), enums, f.oneof or "",
                           f.kind == "message" and not f.repeated)
        return info

    def walk(mtype: MessageType, path: str, seen: tuple) -> None:
        if mtype.full_name in seen or len(seen) > 8:
            return
        seen = seen + (mtype.full_name,)
        for f in mtype.fields.values():
            info = infos.get(f) or info_of(f)
            key = path + f.name
            rows.append((key, info))
            if info[5]:
                mounts.append(key)
                walk(f.message, key + ".", seen)
            elif f.kind == "message" and f.repeated:
                walk(f.message, key + ".N.", seen)  # list.N.field=v

    walk(tmsg, "", ())
    return rows, mounts


def task_field_rows(tmsg: MessageType) -> tuple[list[dict], list[str]]:
    """``task_field_infos`` with each row a dict (``heyhi.config.task_fields``, the daemon's
    ``Fields``): key, type, doc, oneof, is_message, enum_values (a list) and default."""
    rows, mounts = task_field_infos(tmsg)
    return [{"key": key, "type": type_, "doc": doc, "oneof": oneof, "is_message": is_message,
             "enum_values": list(enums), "default": default}
            for key, (type_, default, doc, enums, oneof, is_message) in rows], mounts


def include_names(dirs: list, mounts: list[str], config, exts: tuple[str, ...]) -> dict[str, list[str]]:
    """mount -> the include names that fit it by place: the config files (``exts``) directly under
    ``<dir>/<mount as a path>`` for each include folder in ``dirs`` (paths or str), first found first,
    sorted by name, the config itself left out (however either is spelled); mounts with none left out.
    ``mounts`` lists a mount before the mounts below it (as ``task_field_rows`` does), so a folder
    that does not exist is looked for once, not once per mount below it."""
    me = file_id(config)
    dirs = [os.fspath(d) for d in dirs]
    missing: list[set[str]] = [set() for _ in dirs]  # mounts with no folder in dirs[i]: none below either
    includes: dict[str, list[str]] = {}
    for mount in mounts:
        names: list[str] = []
        for d, gone in zip(dirs, missing):
            if gone and _below(mount, gone):
                continue
            sub = os.path.join(d, *mount.split("."))
            try:
                entries = sorted(os.listdir(sub))
            except (FileNotFoundError, NotADirectoryError):
                gone.add(mount)
                continue
            except OSError:  # not readable: nothing fits here
                continue
            for name in entries:
                stem, ext = os.path.splitext(name)
                if not stem or ext not in exts or stem in names:
                    continue
                fid = file_id(os.path.join(sub, name))
                if fid is not None and fid != me:
                    names.append(stem)
        if names:
            includes[mount] = names
    return includes


def _below(mount: str, mounts: set[str]) -> bool:
    """Whether a mount above ``mount`` (``a`` or ``a.b`` for ``a.b.c``) is in ``mounts``."""
    while "." in mount:
        mount = mount.rpartition(".")[0]
        if mount in mounts:
            return True
    return False


def file_id(path) -> tuple[int, int] | None:
    """(device, inode) of the regular file at ``path`` (links followed), or None (not one): how the
    config being run is told from an include file however either is spelled, one ``stat`` each."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if st.st_mode & 0o170000 == 0o100000 else None
