"""Building a model from its params entry, and the model file format (data/models/<name>/model.pt).

A model file holds the spec (registered arch, constructor arguments, precision and layout) and the weights,
nothing else: the same params give the same bytes. Training time and losses live beside it (dvclive's metrics.json).
"""
from __future__ import annotations

from pathlib import Path

import torch

from core.config import InputError, atomic_write
from core.registry import MODELS
from core.seeds import seed_everything
from core.spec import ModelEntry, Train
from models.compute import device, resolve

# Settings of the `train` section a model receives when its class names them in `train_settings` (params may
# override them per model under `args`): the width of the U-Net and of the weight network, the offsets' reach,
# the U-Net's last full-resolution block. This order is the order of a model file's arguments.
SHARED_ARGS = ("width", "weight_width", "max_offset", "unet_top")


def model_spec(name: str, entry: ModelEntry, train: Train) -> dict:
    """{"arch", "args", "precision", "channels_last"} of the entry `models.<name>`: its args over the train
    settings its class takes, and the arithmetic it trains and runs in (models/compute.py)."""
    if entry.arch not in MODELS:
        raise InputError(f"models.{name}.arch is {entry.arch!r}, not a registered model; registered: "
                         f"{', '.join(sorted(MODELS))}; fix `arch` in params.yaml")
    cls = MODELS.get(entry.arch)
    shared = {k: getattr(train, k) for k in SHARED_ARGS if k in cls.train_settings}
    precision = resolve(train.precision, device(train.device))
    if train.precision == "auto" and not cls.bf16_pays:
        precision = "fp32"  # auto: bf16 where it is native and pays
    return {"arch": entry.arch, "args": {**shared, **entry.args}, "precision": precision,
            "channels_last": train.channels_last}


def build_model(spec: dict) -> torch.nn.Module:
    """The model of a spec; an argument its constructor does not take is a one-line error naming it."""
    try:
        model = MODELS.build(spec["arch"], **spec["args"])
    except (TypeError, ValueError) as e:
        raise InputError(f"model {spec['arch']} cannot be built from {spec['args']}: {e}; fix its params entry") \
            from None
    return model.compute_as(spec.get("precision", "fp32"), spec.get("channels_last", False))


def save_model(path: str | Path, spec: dict, model: torch.nn.Module) -> None:
    """Written whole or not at all (core.config.atomic_write): an interrupted run never leaves half a model."""
    atomic_write(path, lambda tmp: torch.save({"spec": spec, "model": model.state_dict()}, tmp))


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


def seeded_model(spec: dict, seed: int, on: str | torch.device = "cpu") -> torch.nn.Module:
    """The model of a spec with its weights drawn from `seed`: where every training run starts."""
    seed_everything(seed)
    return build_model(spec).to(on)


def start_model(path: str | Path, seed: int, on: str | torch.device = "cpu") -> torch.nn.Module:
    """The network of a model file at the seeded start its training began from (engine.train.fresh_start),
    untrained, in eval mode: what training changed is measured against it."""
    return seeded_model(load_state(path, on)["spec"], seed, on).eval()


def load_model(path: str | Path, on: str | torch.device = "cpu") -> torch.nn.Module:
    """A trained model from its model file, on device `on`, in eval mode."""
    state = load_state(path, on)
    model = build_model(state["spec"]).to(on)
    model.load_state_dict(state["model"])
    return model.eval()
