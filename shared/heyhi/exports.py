"""A package's public names, listed once and imported on first use (PEP 562).

Each wing's ``__init__`` calls ``public(__name__, {name: module})``: ``__all__`` is that list, and
``from heyhi.<wing> import name`` imports only the module that defines ``name``, so importing a wing
costs nothing until a name is read (``heyhi ctl`` and shell completion stay lean). A name that is a
module of the wing (``{"protocol": "heyhi.wire.protocol"}``) makes the whole module public.
``heyhi_daemon`` and ``heyhi_tui`` import only these names (tests/test_import_contracts.py).
"""

from __future__ import annotations

import importlib


def public(package: str, exports: dict[str, str]) -> tuple[list[str], object, object]:
    """``(__all__, __getattr__, __dir__)`` for ``package``, serving ``exports`` (name -> defining module)."""
    names = sorted(exports)

    def __getattr__(name: str):
        where = exports.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(where)
        value = module if where == f"{package}.{name}" else getattr(module, name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return names

    return names, __getattr__, __dir__
