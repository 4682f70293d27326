"""Lazy re-exports for subpackages whose modules pull heavy optional dependencies (torch)."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, list[str]]):
    """Return ``(__getattr__, __dir__, __all__)`` re-exporting ``exports`` of ``package``.

    ``exports`` maps a submodule name to the public names it provides; a name is
    imported from its submodule on first access (PEP 562).
    """
    where = {name: module for module, names in exports.items() for name in names}
    names = sorted(where)

    def __getattr__(name):
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return names

    return __getattr__, __dir__, names
