"""One name, one place: models register themselves and params name them (after BasicSR's registry)."""
from __future__ import annotations

from typing import Callable

import torch.nn as nn

MODELS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    def add(cls):
        if name in MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        MODELS[name] = cls
        cls.arch = name
        return cls

    return add


def build(arch: str, **kwargs) -> nn.Module:
    """Build a registered model; an unknown name lists the known ones."""
    if arch not in MODELS:
        raise KeyError(f"unknown model {arch!r}; registered models: {', '.join(sorted(MODELS))}")
    return MODELS[arch](**kwargs)
