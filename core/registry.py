"""One name, one place (after BasicSR's `Registry`): models, classical baselines, degradations, training
objectives and studies register themselves by name, and params name them. Importing a package registers
everything in it (models/__init__.py, baselines/__init__.py, ...)."""
from __future__ import annotations

from typing import Any, Callable, Iterator


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
