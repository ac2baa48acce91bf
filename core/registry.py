"""One name, one place (after BasicSR's `Registry`): models, classical baselines, degradations, training
objectives and studies register themselves by name, and params name them. Importing a package imports every
module of its folder (`import_all`, as BasicSR scans its arch folder), so a new file registers itself."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any, Callable, Iterator


def import_all(package: str, init_file: str) -> None:
    """Import every module of the package whose __init__.py is init_file (core/imports.py follows this call, so
    a stage's dvc.yaml deps and a run key cover every module it registers)."""
    for info in pkgutil.iter_modules([str(Path(init_file).parent)]):
        importlib.import_module(f"{package}.{info.name}")


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: add a class or function under `name`; a class also learns its name (`.registered_name`)."""

        def add(obj):
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            if isinstance(obj, type):
                obj.registered_name = name
            return obj

        return add

    def get(self, name: str) -> Any:
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {', '.join(sorted(self._items))}")
        return self._items[name]

    def build(self, name: str, **kwargs) -> Any:
        return self.get(name)(**kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


MODELS = Registry("model")
BASELINES = Registry("baseline")
DEGRADATIONS = Registry("degradation")
OBJECTIVES = Registry("objective")
STUDIES = Registry("study")
