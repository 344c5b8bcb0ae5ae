"""Backends by name from one printable table, imported only when chosen.

    WRITERS = Registry("script writer", {"template": "nightcast.generators.script.template_writer:TemplateWriter"})
    writer = WRITERS.create("template")

Heavy libraries (torch, llama_cpp, ...) are imported inside the backend module, so choosing the
embedded default never loads them.
"""

from __future__ import annotations

import importlib
from typing import Any

from nightcast.errors import UnknownNameError


class Registry:
    def __init__(self, kind: str, table: dict[str, str]):
        self.kind = kind
        self._table = dict(table)

    def names(self) -> list[str]:
        return list(self._table)

    def target(self, name: str) -> str:
        if name not in self._table:
            raise UnknownNameError(self.kind, name, self.names())
        return self._table[name]

    def load(self, name: str) -> type:
        module_name, _, attr = self.target(name).partition(":")
        return getattr(importlib.import_module(module_name), attr)

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.load(name)(*args, **kwargs)

    def register(self, name: str, target: str) -> None:
        """Add a backend from outside the package (a plugin): `"mypkg.tts:MyEngine"`."""
        self._table[name] = target

    def __repr__(self) -> str:
        rows = ", ".join(f"{k}={v}" for k, v in self._table.items())
        return f"Registry({self.kind}: {rows})"
