"""Building a model from its params entry, and the model file format (data/models/<name>/model.pt).

A model file holds the spec (registered arch and constructor arguments) and the weights, nothing else: the same
params give the same bytes. Training time and losses live beside it (dvclive's metrics.json).
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path

import torch

from core.config import InputError
from core.registry import MODELS

# Settings of the `train` section that every model taking an argument of that name receives (params may override
# them per model under `args`): the width of the offset U-Net and of the weight network, the offsets' reach, the
# U-Net's last full-resolution block.
SHARED_ARGS = ("width", "weight_width", "max_offset", "unet_top")


def accepted_args(cls: type) -> set[str]:
    """Constructor arguments of a model class, following **kwargs up to the parents that take them."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def model_spec(params: dict, name: str) -> dict:
    """{"arch", "args"} of the entry `models.<name>`; an unknown arch or argument is an error naming it."""
    if name not in params["models"]:
        raise InputError(f"model {name!r} is not in params.yaml `models`; known: {', '.join(params['models'])}")
    entry = params["models"][name]
    if entry.get("arch") not in MODELS:
        raise InputError(f"models.{name}.arch is {entry.get('arch')!r}, not a registered model; registered: "
                         f"{', '.join(sorted(MODELS))}; fix `arch` in params.yaml")
    accepted = accepted_args(MODELS.get(entry["arch"]))
    args = entry.get("args") or {}
    unknown = sorted(set(args) - accepted)
    if unknown:
        raise InputError(f"models.{name}.args has {', '.join(unknown)}, which {entry['arch']} does not take; "
                         f"it takes {', '.join(sorted(accepted))}")
    shared = {k: params["train"][k] for k in SHARED_ARGS if k in accepted and k in params["train"]}
    return {"arch": entry["arch"], "args": {**shared, **args}}


def build_model(spec: dict) -> torch.nn.Module:
    try:
        return MODELS.build(spec["arch"], **spec["args"])
    except (TypeError, ValueError) as e:
        raise InputError(f"model {spec['arch']} cannot be built from {spec['args']}: {e}; fix its params entry") \
            from None


def save_model(path: str | Path, spec: dict, model: torch.nn.Module) -> None:
    """Written to a temporary file, then renamed: an interrupted run never leaves half a model."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"spec": spec, "model": model.state_dict()}, tmp)
    os.replace(tmp, path)


def load_state(path: str | Path, device="cpu") -> dict:
    """torch.load with a one-line error for a missing or damaged file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is missing; run `dvc repro` to produce it")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated zip, bad pickle, ...: all mean a damaged file
        raise InputError(f"{path} cannot be read ({type(e).__name__}); it is damaged or truncated: delete it and "
                         "run `dvc repro` again") from None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """A trained model from its model file, in eval mode."""
    state = load_state(path, device)
    model = build_model(state["spec"]).to(device)
    model.load_state_dict(state["model"])
    return model.eval()
