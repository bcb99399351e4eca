"""Find and compile a project's schema, cached on disk.

A project's schema is every ``conf/*.proto`` (top-level message ``MetaCfg``), or pydantic models
named by ``[tool.heyhi] schema = "module:MetaCfg"`` in its pyproject.toml. The compiled schema of
``.proto`` files is pickled under the user's cache folder, keyed by the files' paths, sizes and
mtimes, so a CLI start does not re-read them; when it is stale, each file's parse is still kept
(``proto_reader.parse_cache_dir()``), so an edit re-parses only the edited file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from heyhi.errors import ConfigError
from heyhi.config.schema.model import Schema
from heyhi import __version__
from heyhi.config.schema.proto_reader import parse_cache_dir, read_project_schema

CACHE_VERSION = "4"  # bumped when the pickled classes move or change shape


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "heyhi" / "schema"


def load_project_schema(project) -> Schema:
    """The compiled schema of ``project`` (a ``heyhi.config.project.Project``)."""
    spec = project.settings.get("schema")
    if spec:
        from heyhi.config.schema.pydantic_front import schema_from_spec  # lean: only a pydantic schema needs it

        return schema_from_spec(spec, project.root)
    protos = sorted(project.conf_dir.glob("*.proto"))
    if not protos:
        raise ConfigError("no schema: no conf/*.proto and no [tool.heyhi] schema in pyproject.toml", str(project.conf_dir))
    return load_proto_schema(project.conf_dir, protos)


def load_proto_schema(conf_dir: Path, protos: list[Path]) -> Schema:
    """``read_project_schema`` with an on-disk cache keyed by (path, size, mtime) of every file read."""
    key_src = [CACHE_VERSION, __version__, str(conf_dir)]
    for p in protos:
        st = p.stat()
        key_src.append(f"{p}:{st.st_size}:{st.st_mtime_ns}")
    key = hashlib.md5("\n".join(key_src).encode()).hexdigest()
    path = cache_dir() / f"{key}.pickle"
    try:
        with open(path, "rb") as fh:
            deps, schema = pickle.load(fh)
        if all(_stamp(Path(d)) == s for d, s in deps):
            return schema
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError, TypeError, ImportError):
        pass  # any unreadable cache (another HeyHi's classes included) is a miss

    schema = read_project_schema(conf_dir, parse_cache_dir())
    deps = [(str(f), _stamp(Path(f))) for f in getattr(schema, "source_files", [str(p) for p in protos])]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump((deps, schema), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home still works, only slower
    return schema


def _stamp(p: Path) -> str:
    try:
        st = p.stat()
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"
