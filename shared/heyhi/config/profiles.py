"""Profiles: named sets of flag files and overrides, each with a description, declared once per project.

Declared in ``pyproject.toml``::

    [tool.heyhi.profiles.fast]
    description = "a quick smoke run"
    flags = ["conf/flags/fast.yaml"]      # flag files (heyhi.config.flagfiles), relative to the project root
    overrides = ["num_steps=10"]
    [tool.heyhi]
    default-profile = "fast"              # optional

or in ``conf/profiles.yaml`` (``profiles: {fast: {description, flags, overrides}}``, ``default: fast``).
A name declared in both places, or a default set in both, is an error naming both places.

``Profiles.expand(name)`` is the override strings a profile stands for: each flag file as an ``@path``
token (absolute), then the overrides. ``None`` is the default profile (or nothing when there is
none), ``"none"`` is nothing. The CLI puts the expansion before the command line's own overrides
(the command line wins) and hashes the run folder from the expanded strings, as if typed by hand.

Promises: every error is one line naming ``file:line`` (``pyproject.toml`` lines are found by the
profile's table header) and what is wrong; an unknown name says "did you mean" and lists the
profiles. Bounded: ``conf/profiles.yaml`` is read by ``heyhi.config.source`` (4 MiB), at most
``MAX_PROFILES`` profiles of at most ``MAX_ITEMS`` flag files and overrides each. A config module:
imports only the standard library and ``heyhi.config``/``heyhi.errors`` (PyYAML only when
``conf/profiles.yaml`` exists).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from heyhi.errors import ConfigError

__all__ = ["Profile", "Profiles", "load_profiles", "NO_PROFILE", "PROFILES_FILE", "MAX_PROFILES", "MAX_ITEMS"]

NO_PROFILE = "none"  # --profile none: no profile, not even the default
PROFILES_FILE = "profiles.yaml"  # in conf/
MAX_PROFILES = 1000
MAX_ITEMS = 1000  # flag files, and overrides, of one profile
_FIELDS = ("description", "flags", "overrides")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


@dataclass(frozen=True)
class Profile:
    """One profile: its flag files (absolute paths) and overrides, and where it is declared."""

    name: str
    description: str = ""
    flags: tuple[Path, ...] = ()
    overrides: tuple[str, ...] = ()
    where: str = ""  # file:line of its declaration

    def expand(self) -> list[str]:
        """The override strings: ``@flagfile`` tokens (checked to exist), then the overrides."""
        for f in self.flags:
            if not f.is_file():
                raise ConfigError(f"profile {self.name!r}: flag file {f} not found", self.where)
        return [f"@{f}" for f in self.flags] + list(self.overrides)


@dataclass
class Profiles:
    """The profiles of a project, by name, and its default (a name, or None)."""

    by_name: dict[str, Profile] = field(default_factory=dict)
    default: str | None = None
    default_where: str = ""

    def names(self) -> list[str]:
        return sorted(self.by_name)

    def get(self, name: str) -> Profile:
        """The profile ``name``; an unknown one is a one-line error with "did you mean" and the list."""
        p = self.by_name.get(name)
        if p is not None:
            return p
        if not self.by_name:
            raise ConfigError(f"--profile {name}: no profiles are declared ([tool.heyhi.profiles.NAME] in "
                              f"pyproject.toml, or conf/{PROFILES_FILE})")
        from heyhi.config.suggest import did_you_mean  # lean: only an error needs it

        raise ConfigError(f"--profile {name}: unknown profile{did_you_mean(name, self.names(), 3)} "
                          f"(profiles: {', '.join(self.names())}; {NO_PROFILE}: no profile)")

    def expand(self, name: str | None) -> list[str]:
        """The override strings of profile ``name`` (None: the default, else nothing; ``"none"``: nothing)."""
        if name == NO_PROFILE:
            return []
        if name is None:
            if self.default is None:
                return []
            name = self.default
        return self.get(name).expand()


def load_profiles(project_root: Path, settings: dict) -> Profiles:
    """The profiles declared in ``settings`` (``[tool.heyhi]`` of pyproject.toml) and in
    ``conf/profiles.yaml`` under ``project_root``; a bad declaration is a one-line ``ConfigError``."""
    root = Path(project_root)
    out = Profiles()
    places: dict[str, str] = {}
    declared = settings.get("profiles") if isinstance(settings, dict) else None
    default = settings.get("default-profile") if isinstance(settings, dict) else None
    if declared is not None or default is not None:
        _from_pyproject(root, declared, default, out, places)
    yaml_path = root / "conf" / PROFILES_FILE
    if yaml_path.exists():
        _from_yaml(root, yaml_path, out, places)
    if out.default is not None and out.default not in out.by_name and out.default != NO_PROFILE:
        from heyhi.config.suggest import did_you_mean  # lean: only an error needs it

        raise ConfigError(f"default profile {out.default!r} is not declared"
                          f"{did_you_mean(out.default, out.names(), 3)}", out.default_where)
    if out.default == NO_PROFILE:
        out.default = None
    return out


# ---- pyproject.toml ------------------------------------------------------------------------------


def _from_pyproject(root: Path, declared, default, out: Profiles, places: dict[str, str]) -> None:
    pp = root / "pyproject.toml"
    try:
        text = pp.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""

    def at(pattern: str) -> str:
        m = re.search(pattern, text, re.M)
        return f"{pp}:{text.count(chr(10), 0, m.start()) + 1}" if m else str(pp)

    def at_profile(name: str) -> str:
        n = re.escape(name)
        found = at(rf"^[ \t]*\[\s*tool\s*\.\s*heyhi\s*\.\s*profiles\s*\.\s*[\"']?{n}[\"']?\s*\]")
        return found if found != str(pp) else at(rf"^[ \t]*[\"']?{n}[\"']?\s*=")

    if default is not None:
        where = at(r"^[ \t]*[\"']?default-profile[\"']?\s*=")
        if not isinstance(default, str) or not default:
            raise ConfigError("default-profile is the name of a profile (a string)", where)
        out.default, out.default_where = default, where
    if declared is None:
        return
    if not isinstance(declared, dict):
        raise ConfigError("[tool.heyhi.profiles] is a table of profiles ([tool.heyhi.profiles.NAME])",
                          at(r"^[ \t]*[\"']?profiles[\"']?\s*=|^[ \t]*\[\s*tool\s*\.\s*heyhi\s*\.\s*profiles"))
    for name, body in declared.items():
        _add(out, places, name, body, at_profile(str(name)), {k: at_profile(str(name)) for k in _FIELDS}, root)


# ---- conf/profiles.yaml --------------------------------------------------------------------------


def _from_yaml(root: Path, path: Path, out: Profiles, places: dict[str, str]) -> None:
    import yaml  # lean: only a project with conf/profiles.yaml needs it

    from heyhi.config.source import read_text  # lean: only a project with conf/profiles.yaml needs it
    from heyhi.config.yamljson import _compose  # lean: only a project with conf/profiles.yaml needs it

    where = str(path)
    node = _compose(read_text(path, "profiles file"), where, "YAML")
    if node is None:
        return

    def at(n) -> str:
        return f"{where}:{n.start_mark.line + 1}"

    if not isinstance(node, yaml.MappingNode):
        raise ConfigError("a profiles file is a mapping: profiles: {NAME: {description, flags, overrides}}, "
                          "default: NAME",
                          at(node))
    for k, v in node.value:
        key = str(k.value)
        if key == "default":
            if out.default is not None:
                raise ConfigError(f"the default profile is set twice: {out.default_where} and {at(k)}")
            if not isinstance(v, yaml.ScalarNode) or not v.value:
                raise ConfigError("default is the name of a profile", at(v))
            out.default, out.default_where = str(v.value), at(k)
        elif key == "profiles":
            if isinstance(v, yaml.ScalarNode) and v.value in ("", "~", "null"):
                continue
            if not isinstance(v, yaml.MappingNode):
                raise ConfigError("profiles is a mapping of NAME: {description, flags, overrides}", at(v))
            for nk, body in v.value:
                fields = {}
                if isinstance(body, yaml.MappingNode):
                    fields = {str(fk.value): at(fk) for fk, _ in body.value}
                _add(out, places, str(nk.value), _plain(body, where), at(nk), fields, root)
        else:
            from heyhi.config.suggest import did_you_mean  # lean: only an error needs it

            raise ConfigError(f"unknown key {key!r}{did_you_mean(key, ['profiles', 'default'], 2)}", at(k))


def _plain(node, where: str):
    """A YAML node as plain Python (strings kept as written; nesting is bounded by ``_compose``)."""
    import yaml  # lean: only a project with conf/profiles.yaml needs it

    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _plain(v, where) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(x, where) for x in node.value]
    if node.tag.endswith(":null") or (not node.style and node.value in ("", "~", "null", "Null", "NULL")):
        return None
    return str(node.value)


# ---- one profile ---------------------------------------------------------------------------------


def _add(out: Profiles, places: dict[str, str], name, body, where: str, fields: dict[str, str], root: Path) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"profile {name!r}: a profile's name is letters, digits, '_', '-' and '.'", where)
    if name == NO_PROFILE:
        raise ConfigError(f"profile {name!r}: the name is taken (--profile {NO_PROFILE} selects no profile)", where)
    if name in places:
        raise ConfigError(f"profile {name!r} is declared twice: {places[name]} and {where}")
    if len(places) >= MAX_PROFILES:
        raise ConfigError(f"more than {MAX_PROFILES} profiles", where)
    places[name] = where
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ConfigError(f"profile {name!r}: expected a table of description, flags, overrides", where)
    for key in body:
        if key not in _FIELDS:
            from heyhi.config.suggest import did_you_mean  # lean: only an error needs it

            raise ConfigError(f"profile {name!r}: unknown key {key!r}{did_you_mean(str(key), list(_FIELDS), 2)}",
                              fields.get(key, where))
    desc = body.get("description") or ""
    if not isinstance(desc, str):
        raise ConfigError(f"profile {name!r}: description is a string", fields.get("description", where))
    lists = {}
    for key in ("flags", "overrides"):
        items = body.get(key) or []
        if isinstance(items, str):
            items = [items]
        kw = fields.get(key, where)
        if not isinstance(items, list) or not all(isinstance(x, str) and x.strip() for x in items):
            raise ConfigError(f"profile {name!r}: {key} is a list of non-empty strings", kw)
        if len(items) > MAX_ITEMS:
            raise ConfigError(f"profile {name!r}: more than {MAX_ITEMS} {key}", kw)
        lists[key] = [x.strip() for x in items]
    for o in lists["overrides"]:
        if o.startswith("@"):
            raise ConfigError(f"profile {name!r}: override {o!r}: name flag files in flags",
                              fields.get("overrides", where))
        if "=" not in o:
            raise ConfigError(f"profile {name!r}: override {o!r}: expected key=value", fields.get("overrides", where))
    flags = []
    for f in lists["flags"]:
        p = Path(f.removeprefix("@")).expanduser()
        flags.append(p if p.is_absolute() else (root / p).absolute())
    out.by_name[name] = Profile(name, desc, tuple(flags), tuple(lists["overrides"]), where)
