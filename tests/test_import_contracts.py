"""Import contracts, read from the source and checked in real processes.

- no import cycle among the modules of ``heyhi`` (shared/heyhi), ``heyhi_daemon`` and ``heyhi_tui``,
  counting imports inside functions (where cycles hide) and re-exports; only ``if TYPE_CHECKING:``
  blocks are left out (they never run), as ``../shared/tools/import_cycles.py --all-imports`` does;
- the core (shared/heyhi) imports neither Textual nor the daemon nor the TUI, not even inside a function;
- ``heyhi ctl status`` loads no pydantic, asyncio or Textual (with and without a daemon to answer).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from daemon_util import DaemonProcess

REPO = Path(__file__).resolve().parent.parent
ROOTS = {"heyhi": REPO / "shared" / "heyhi", "heyhi_daemon": REPO / "heyhi_daemon", "heyhi_tui": REPO / "heyhi_tui"}
CORE_MUST_NOT_IMPORT = ("textual", "heyhi_daemon", "heyhi_tui")
CTL_MUST_NOT_LOAD = ("pydantic", "asyncio", "textual", "heyhi_daemon", "rich")


# ---- reading imports with ast -------------------------------------------------------------------

def module_files(roots: dict[str, Path]) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under each package root."""
    mods: dict[str, Path] = {}
    for name, base in roots.items():
        for f in sorted(base.rglob("*.py")):
            parts = [name, *f.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = f
    return mods


def imported_names(mod: str, path: Path, *, type_checking: bool = False) -> set[str]:
    """Every dotted name ``mod`` imports, at any depth (functions included), relative ones resolved;
    ``from a import b`` gives both ``a`` and ``a.b``. ``if TYPE_CHECKING:`` blocks only on request."""
    tree = ast.parse(path.read_text(), str(path))
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test) and not type_checking:
                continue
            if isinstance(child, ast.Import):
                out.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    pkg = package
                    for _ in range(child.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}" if base else pkg
                out.add(base)
                out.update(f"{base}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return out


def import_graph(roots: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a name resolves to its longest known module prefix)."""
    files = module_files(roots)

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        targets = {resolve(n) for n in imported_names(mod, path)}
        graph[mod] = {t for t in targets if t and t != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def describe(graph: dict[str, set[str]], group: list[str]) -> str:
    members = set(group)
    edges = [f"  {a} -> {b}" for a in group for b in sorted(graph[a] & members)]
    return f"cycle of {len(group)} modules:\n" + "\n".join(edges)


# ---- the contracts ------------------------------------------------------------------------------

def test_no_import_cycle_anywhere():
    graph = import_graph(ROOTS)
    assert "heyhi.config.values" in graph and "heyhi_daemon" in graph and "heyhi_tui" in graph  # the roots were read
    found = cycles(graph)
    assert not found, "\n".join(describe(graph, g) for g in found)


def test_the_cycle_check_sees_a_cycle_hidden_in_a_function(tmp_path):
    """The checker itself: a cycle closed only by an import inside a function, and by a re-export."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import g\n\ndef f():\n    return g()\n")
    (pkg / "b.py").write_text("def g():\n    from .sub import h  # a re-export of .sub.c's\n    return h()\n")
    (pkg / "sub" / "__init__.py").write_text("from .c import h\n")
    (pkg / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..d import x\n"
                                      "def h():\n    from .. import a\n    return 1\n")
    (pkg / "d.py").write_text("from .sub import h\n")
    graph = import_graph({"pkg": pkg})
    assert graph["pkg.b"] == {"pkg.sub"} and graph["pkg.sub.c"] == {"pkg", "pkg.a"}  # TYPE_CHECKING: left out
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c"]]
    (pkg / "b.py").write_text("def g():\n    return 1\n")
    assert cycles(import_graph({"pkg": pkg})) == []


def test_core_imports_no_textual_daemon_or_tui():
    files = module_files({"heyhi": ROOTS["heyhi"]})
    assert len(files) > 30
    bad = sorted(
        f"{mod} imports {name}"
        for mod, path in files.items()
        for name in imported_names(mod, path, type_checking=True)
        if name.split(".")[0] in CORE_MUST_NOT_IMPORT
    )
    assert not bad, "\n".join(bad)


def _ctl_status_modules(env: dict[str, str]) -> tuple[list[str], str, str]:
    """Run ``heyhi ctl status`` in a fresh interpreter: the modules it loaded, what it printed, its exit code."""
    code = (
        "import sys\nimport heyhi.cli.main as m\n"
        "try:\n    rc = m.main(['ctl', 'status'])\nexcept SystemExit as e:\n    rc = e.code\n"
        "sys.stdout.flush()\nprint('\\nRC', rc)\nprint('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    said, rest = p.stdout.rsplit("\nRC ", 1)
    rc, mods = rest.split("\nMODULES ", 1)
    return mods.split(), said + p.stderr, rc


def test_ctl_status_without_a_daemon_loads_no_pydantic_asyncio_or_textual():
    mods, said, rc = _ctl_status_modules(dict(os.environ))  # HEYHI_SOCKET: this test's own, nobody on it
    assert "heyhi.cli.ctl" in mods and "no heyhi daemon is running" in said and rc != "0"
    assert [m for m in mods if m.split(".")[0] in CTL_MUST_NOT_LOAD] == []


def test_ctl_status_with_a_daemon_loads_no_pydantic_asyncio_or_textual(sock):
    daemon = DaemonProcess.start(sock)
    try:
        env = dict(os.environ, HEYHI_SOCKET=str(sock))
        mods, said, rc = _ctl_status_modules(env)
    finally:
        daemon.stop()
    assert "heyhi.cli.ctl" in mods and "heyhi.wire.client" in mods
    assert rc == "0" and "heyhi daemon" in said and "no heyhi daemon" not in said, said
    assert [m for m in mods if m.split(".")[0] in CTL_MUST_NOT_LOAD] == []


def _complete_modules(env: dict[str, str], cwd: Path) -> tuple[list[str], str]:
    """Complete a Cicero key in a fresh interpreter (``heyhi __complete``): the modules it loaded, what it printed."""
    code = ("import sys\nimport heyhi.cli.main as m\n"
            "m.main(['__complete', 'fish', '4', 'heyhi', 'run', '-c', 'conf/c01_ag_cmp/cmp.prototxt', 'agent_one.sea'])\n"
            "sys.stdout.flush()\nprint('\\nMODULES', ' '.join(sorted(sys.modules)))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, cwd=cwd,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    said, mods = p.stdout.rsplit("\nMODULES ", 1)
    return mods.split(), said


def test_shell_completion_loads_no_pydantic_asyncio_or_textual(sock, tmp_path):
    """Cold (composing here), warm (the cache answers: nothing of composition loads) and with a daemon
    up and a cold cache (the daemon answers: composition does not load here either)."""
    corpus = REPO.parent / "shared" / "corpus" / "heyhi_cicero"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cold"), HEYHI_COMPLETE_DEBUG="1")
    for round_ in ("cold", "warm"):
        mods, said = _complete_modules(env, corpus)
        assert said.startswith("agent_one.searchbot.\t"), said
        assert [m for m in mods if m.split(".")[0] in CTL_MUST_NOT_LOAD] == [], round_
        assert ("heyhi.config.compose" in mods) == (round_ == "cold"), round_
    daemon = DaemonProcess.start(sock)
    try:
        mods, said = _complete_modules(dict(env, HEYHI_SOCKET=str(sock), XDG_CACHE_HOME=str(tmp_path / "d")), corpus)
    finally:
        daemon.stop()
    assert said.startswith("agent_one.searchbot.\t") and "heyhi.wire.client" in mods
    assert "heyhi.config.compose" not in mods
    assert [m for m in mods if m.split(".")[0] in CTL_MUST_NOT_LOAD] == []


# ---- wings: one direction, and the programs use only what a wing lists ----------------------------

# A module may import its own wing and the wings ranked below it (wire: config's types only). The
# leaves every wing may use: the package root (lazy names only), errors, states, perms, exports.
RANK = {"config": 1, "slurm": 2, "wire": 2, "launchers": 3, "runs": 4, "sweep": 5, "cli": 6, "compat": 7}
LEAVES = {"heyhi", "heyhi.errors", "heyhi.states", "heyhi.perms", "heyhi.exports"}
ENTRY_POINTS = {"heyhi.job",  # ``python -m heyhi.job``: a shim over heyhi.runs.runner
                "heyhi.conf", "heyhi.run", "heyhi.util"}  # the original HeyHi's modules: shims over heyhi.compat


def wing_of(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "heyhi" and parts[1] in RANK else None


def forbidden_between_wings(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for a, targets in sorted(graph.items()):
        wa = wing_of(a)
        if a in ENTRY_POINTS or a == "heyhi":
            continue
        if a in LEAVES:
            bad += [f"{a} -> {b} (a leaf imports no wing)" for b in sorted(targets) if wing_of(b)]
            continue
        if wa is None:
            bad.append(f"{a} is in no wing (add it to one, or to LEAVES)")
            continue
        for b in sorted(targets):
            wb = wing_of(b)
            if b in LEAVES or wb == wa:
                continue
            if wb is None or RANK[wb] >= RANK[wa] or (wa == "wire" and wb != "config"):
                bad.append(f"{a} -> {b}")
    return bad


def test_wings_import_one_way():
    graph = import_graph({"heyhi": ROOTS["heyhi"]})
    assert {wing_of(m) for m in graph} >= set(RANK)  # every wing was read
    bad = forbidden_between_wings(graph)
    assert not bad, "imports against the data flow (cli -> sweep -> runs -> launchers -> slurm/wire -> config):\n" \
        + "\n".join(bad)


def test_the_wing_check_sees_an_upward_import():
    graph = {"heyhi.config.a": {"heyhi.runs.b"}, "heyhi.runs.b": {"heyhi.config.a", "heyhi.errors"},
             "heyhi.wire.c": {"heyhi.runs.b"}, "heyhi.errors": {"heyhi.config.a"}}
    assert forbidden_between_wings(graph) == [
        "heyhi.config.a -> heyhi.runs.b", "heyhi.errors -> heyhi.config.a (a leaf imports no wing)",
        "heyhi.wire.c -> heyhi.runs.b"]


def _program_imports() -> list[tuple[str, str, str]]:
    """(file:line, module, name) of every ``heyhi`` import in heyhi_daemon and heyhi_tui."""
    out = []
    for root in ("heyhi_daemon", "heyhi_tui"):
        for f in sorted(ROOTS[root].rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text(), str(f))):
                where = f"{f.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "heyhi":
                    out += [(where, node.module, a.name) for a in node.names]
                elif isinstance(node, ast.Import):
                    out += [(where, a.name, "") for a in node.names if a.name.split(".")[0] == "heyhi"]
    return out


def test_daemon_and_tui_import_only_what_a_wing_lists():
    import importlib

    bad = []
    for where, module, name in _program_imports():
        parts = module.split(".")
        if module in LEAVES - {"heyhi"} and not name.startswith("_"):
            continue
        if module == "heyhi" and (not name or name in importlib.import_module("heyhi").__all__):
            continue  # the package's own public API (``heyhi.__version__``, ``heyhi.load_config``)
        if len(parts) < 2 or parts[1] not in RANK:
            bad.append(f"{where}: {module} is not a wing")
            continue
        wing = importlib.import_module(".".join(parts[:2]))
        listed = set(getattr(wing, "__all__", ()))
        if len(parts) == 2 and name in listed:
            continue
        if len(parts) == 3 and parts[2] in listed and not name.startswith("_"):
            continue  # a module the wing lists whole (e.g. heyhi.wire.protocol)
        bad.append(f"{where}: {module}{'.' + name if name else ''} is not in {'.'.join(parts[:2])}.__all__")
    assert len(_program_imports()) > 50
    assert not bad, "\n".join(bad)


def test_every_name_a_wing_lists_resolves_and_importing_a_wing_loads_nothing_else():
    code = ("import sys, importlib\nwings = %r\nbefore = set(sys.modules)\n"
            "for w in wings: importlib.import_module('heyhi.' + w)\n"
            "print(' '.join(sorted(m for m in set(sys.modules) - before if m.startswith('heyhi.'))))\n"
            "for w in wings:\n    m = sys.modules['heyhi.' + w]\n"
            "    for n in m.__all__: getattr(m, n)\n") % (sorted(set(RANK) - {"launchers"}),)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    loaded = set(p.stdout.split())
    assert loaded == {f"heyhi.{w}" for w in set(RANK) - {"launchers"}} | {"heyhi.exports"}, loaded


def test_imports_inside_functions_say_which_start_up_they_keep_lean():
    """An import inside a function is allowed only where its comment says so (``# lean: ...``): which
    program's start-up would otherwise load it. Every other import sits at the top of its module."""
    bad = []
    for root in ROOTS.values():
        for f in sorted(root.rglob("*.py")):
            src = f.read_text()
            lines = src.splitlines()

            def visit(node: ast.AST, in_function: bool) -> None:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test):
                        continue
                    inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                    if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                        if "# lean:" not in lines[child.end_lineno - 1]:
                            bad.append(f"{f.relative_to(REPO)}:{child.lineno}: {lines[child.lineno - 1].strip()}")
                    visit(child, inner)

            visit(ast.parse(src, str(f)), False)
    assert not bad, "imports inside functions without a '# lean: <why>' comment:\n" + "\n".join(bad)
